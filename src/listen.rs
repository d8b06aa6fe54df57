//! Accepting HTTP connections: the router served by hyper's HTTP/1 on each
//! connection, with a deadline for each request's head, and a graceful
//! shutdown.
//!
//! `axum::serve` installs no timer on hyper's connections, and without one
//! hyper's deadline for a request's head does not apply: a client sending a
//! request's first bytes and nothing more held a connection (a task, a file
//! descriptor) for as long as it liked, and enough of them exhaust the
//! process's descriptors. The body's deadline is the router's
//! (`server::limit_body`).

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;

/// Serves `app` on `listener`, each request's head to arrive within
/// `head_within` (which is also how long a connection may stay idle between
/// two requests: hyper counts from the end of the last answer), until
/// `shutdown` resolves: then no connection is accepted, and the requests
/// under way finish (a connection idle between requests is closed; an
/// upgraded one, a WebSocket, is left to its own end), for `drain_within`
/// at most, before this returns.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    head_within: Duration,
    drain_within: Duration,
    shutdown: impl Future<Output = ()> + Send,
) {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(head_within);
    // Told to every connection when the process stops; each holds a
    // receiver of `open` until it ends, so that the last one's end is seen.
    let (stopping, stop) = tokio::sync::watch::channel(());
    let (open, opened) = tokio::sync::watch::channel(());
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    tokio::select! {
                        () = refused(&e) => continue,
                        () = &mut shutdown => break,
                    }
                }
            },
            () = &mut shutdown => break,
        };
        // Handlers read the peer as `axum::serve` gave it
        // (`into_make_service_with_connect_info`).
        let service = axum::Extension(ConnectInfo::<SocketAddr>(peer));
        let service = tower_layer::Layer::layer(&service, app.clone());
        let connection = http
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
            .with_upgrades();
        let (mut stop, opened) = (stop.clone(), opened.clone());
        tokio::spawn(async move {
            let mut connection = std::pin::pin!(connection);
            let ended = tokio::select! {
                ended = connection.as_mut() => ended,
                _ = stop.changed() => {
                    // The request under way is answered, then the
                    // connection closes; an idle one closes at once.
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            // A client gone, too slow with its request's head, or idle
            // past the deadline: nothing to answer, nothing of the
            // service's to report.
            if let Err(e) = ended {
                tracing::debug!(error = %e, "HTTP connection closed on an error");
            }
            drop(opened);
        });
    }
    drop((listener, stop, opened));
    let _ = stopping.send(());
    if tokio::time::timeout(drain_within, open.closed())
        .await
        .is_err()
    {
        tracing::warn!(
            "HTTP connections still open at the shutdown's deadline (a client reading its answer slowly): closed with the process"
        );
    }
}

/// A connection that could not be accepted. One reset or aborted before it
/// was is the client's affair; anything else (descriptors exhausted, for
/// one) is logged and waited out a moment, rather than retried in a loop
/// that would keep a core busy.
async fn refused(e: &std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "cannot accept a connection");
    tokio::time::sleep(Duration::from_secs(1)).await;
}
