//! Accepting HTTP connections: the router served by hyper's HTTP/1 on each
//! connection, with a deadline for each request's head and for the client
//! to take its answer (`crate::stall`), and a graceful shutdown.
//!
//! `axum::serve` installs no timer on hyper's connections, and without one
//! hyper's deadline for a request's head does not apply: a client sending a
//! request's first bytes and nothing more held a connection (a task, a file
//! descriptor) for as long as it liked, and enough of them exhaust the
//! process's descriptors. The body's deadline is the router's
//! (`server::limit_body`).
//!
//! The deadlines bound how long a connection is held, not how many are:
//! past `api.max_connections` open at once, the next is accepted only when
//! one closes (it waits in the system's queue), so that a crowd of clients,
//! slow or not, cannot take the descriptors the database's connections
//! need. A connection upgraded to a WebSocket keeps its place until the
//! socket closes ([`ConnectionSlot`]).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;

use crate::stall::WriteDeadline;

/// A connection's place among the `api.max_connections` open at once,
/// given to its requests: a WebSocket keeps a clone for as long as it is
/// open, since hyper's connection ends when it hands the socket over.
#[derive(Clone)]
pub struct ConnectionSlot {
    _held: Arc<Slot>,
}

/// The permit, given back (and the gauge lowered) when the connection and
/// the socket it became are both gone.
struct Slot {
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl Slot {
    fn taken(permit: tokio::sync::OwnedSemaphorePermit) -> Self {
        metrics::gauge!("passerelle_http_connections_open").increment(1.0);
        Self { _permit: permit }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        metrics::gauge!("passerelle_http_connections_open").decrement(1.0);
    }
}

/// How connections are served.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// How long a request's head may take to arrive, which is also how long
    /// a connection may stay idle between two requests (hyper counts from
    /// the end of the last answer).
    pub head_within: Duration,
    /// How long an answer may wait for its client to take any of it
    /// ([`WriteDeadline`]).
    pub write_within: Duration,
    /// How long the requests under way may take to finish at a shutdown.
    pub drain_within: Duration,
    /// Most connections open at once.
    pub most_connections: usize,
}

/// Serves `app` on `listener` within `limits`, until `shutdown` resolves:
/// then no connection is accepted, and the requests under way finish (a
/// connection idle between requests is closed; an upgraded one, a
/// WebSocket, is left to its own end), for `limits.drain_within` at most,
/// before this returns.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send,
) {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.head_within);
    // Told to every connection when the process stops; each holds a
    // receiver of `open` until it ends, so that the last one's end is seen.
    let (stopping, stop) = tokio::sync::watch::channel(());
    let (open, opened) = tokio::sync::watch::channel(());
    // A permit per connection open, given back when it ends.
    let most = limits.most_connections.max(1);
    let permits = Arc::new(tokio::sync::Semaphore::new(most));
    let mut full_since: Option<Instant> = None;
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let permit = match permits.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                // Said once a minute at most while it lasts.
                if full_since.is_none_or(|since| since.elapsed() >= Duration::from_secs(60)) {
                    tracing::warn!(
                        most,
                        "HTTP connections at api.max_connections: the next wait until one closes"
                    );
                    full_since = Some(Instant::now());
                }
                tokio::select! {
                    permit = permits.clone().acquire_owned() => {
                        permit.expect("the connections' semaphore is never closed")
                    }
                    () = &mut shutdown => break,
                }
            }
        };
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
        // (`into_make_service_with_connect_info`), and the connection's slot.
        let slot = ConnectionSlot {
            _held: Arc::new(Slot::taken(permit)),
        };
        let service = tower_layer::Layer::layer(
            &axum::Extension(ConnectInfo::<SocketAddr>(peer)),
            tower_layer::Layer::layer(&axum::Extension(slot.clone()), app.clone()),
        );
        let connection = http
            .serve_connection(
                TokioIo::new(WriteDeadline::new(stream, limits.write_within)),
                TowerToHyperService::new(service),
            )
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
            // A client gone, too slow with its request's head, idle past
            // the deadline or not taking its answer: nothing to answer,
            // nothing of the service's to report.
            if let Err(e) = ended {
                tracing::debug!(error = %e, "HTTP connection closed on an error");
            }
            drop((opened, slot));
        });
    }
    drop((listener, stop, opened));
    let _ = stopping.send(());
    if tokio::time::timeout(limits.drain_within, open.closed())
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

/// The connections that may be open at once: `configured`, lowered so that
/// `reserved` descriptors (the database's connections, the log, files) stay
/// free under the process's limit of open files, when the system tells it
/// (`/proc/self/limits`); past the limit, accepting fails and every new
/// connection, the database's too, with it.
pub fn most_connections(configured: usize, reserved: usize) -> usize {
    let Some(limit) = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|limits| open_files_limit(&limits))
    else {
        return configured;
    };
    let most = configured.min(limit.saturating_sub(reserved).max(1));
    if most < configured.min(FEW) {
        tracing::warn!(
            configured,
            most,
            open_files_limit = limit,
            "api.max_connections lowered to a few connections by the limit of open files: raise it (ulimit -n, or LimitNOFILE= under systemd)"
        );
    } else if most < configured {
        tracing::info!(
            configured,
            most,
            open_files_limit = limit,
            "api.max_connections lowered to what the limit of open files leaves (raise it with ulimit -n, or LimitNOFILE= under systemd)"
        );
    }
    most
}

/// Fewer connections than this at once is worth a warning: probes, pages
/// and subscriptions would wait on each other.
const FEW: usize = 64;

/// The soft limit of open files in `/proc/self/limits`' text; none when
/// unlimited or unreadable.
fn open_files_limit(limits: &str) -> Option<usize> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.trim_start_matches("Max open files")
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::open_files_limit;

    #[test]
    fn the_soft_limit_of_open_files_is_read() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
                      Max processes             95063                95063                processes \n\
                      Max open files            1024                 524288               files     \n\
                      Max locked memory         8388608              8388608              bytes     \n";
        assert_eq!(open_files_limit(limits), Some(1024));
        let unlimited =
            "Max open files            unlimited            unlimited            files\n";
        assert_eq!(open_files_limit(unlimited), None);
        assert_eq!(open_files_limit(""), None);
    }
}
