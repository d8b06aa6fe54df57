//! Database round trips, counted on the wire: the benchmark's pools connect
//! through a relay in this process that passes every byte on unchanged and
//! counts the server's `ReadyForQuery` messages. The server sends one at
//! the end of each exchange the client waits for (a statement, `BEGIN`,
//! `COMMIT`, a pool's ping), so their number is the number of round trips,
//! whatever the code that caused them.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::postgres::{PgConnectOptions, PgSslMode};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The count so far, shared with the relay's connections.
#[derive(Debug, Clone, Default)]
pub struct RoundTrips(Arc<AtomicU64>);

impl RoundTrips {
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A relay to the server `options` reach: the options to reach it through
/// the relay instead, and its count. `None` for a server reached over the
/// network: the relay only stands in for a local socket, where the traffic
/// is in clear without asking for TLS.
pub async fn relay(
    options: &PgConnectOptions,
) -> anyhow::Result<Option<(PgConnectOptions, RoundTrips)>> {
    let count = RoundTrips::default();
    // No TLS through the relay: the bytes must be readable to be counted.
    let through = options.clone().ssl_mode(PgSslMode::Disable);
    if let Some(dir) = options.get_socket() {
        let name = format!(".s.PGSQL.{}", options.get_port());
        let server = dir.join(&name);
        let own = std::env::temp_dir().join(format!("passerelle-bench-{}", std::process::id()));
        std::fs::create_dir_all(&own)?;
        let path = own.join(&name);
        let _ = std::fs::remove_file(&path);
        let listener = tokio::net::UnixListener::bind(&path)?;
        let relayed = count.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (server, count) = (server.clone(), relayed.clone());
                tokio::spawn(async move {
                    if let Ok(upstream) = tokio::net::UnixStream::connect(&server).await {
                        pass(client, upstream, count).await;
                    }
                });
            }
        });
        return Ok(Some((through.socket(own), count)));
    }
    let host = options.get_host().to_owned();
    let loopback = host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if !loopback {
        return Ok(None);
    }
    let server = (host, options.get_port());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let relayed = count.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let (server, count) = (server.clone(), relayed.clone());
            tokio::spawn(async move {
                if let Ok(upstream) = tokio::net::TcpStream::connect(server).await {
                    let _ = upstream.set_nodelay(true);
                    let _ = client.set_nodelay(true);
                    pass(client, upstream, count).await;
                }
            });
        }
    });
    Ok(Some((through.host("127.0.0.1").port(port), count)))
}

/// The relay's socket directory, removed when the benchmark ends.
pub fn cleanup() {
    let own: PathBuf =
        std::env::temp_dir().join(format!("passerelle-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(own);
}

async fn pass<C, S>(client: C, server: S, count: RoundTrips)
where
    C: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut client_read, mut client_write) = tokio::io::split(client);
    let (mut server_read, mut server_write) = tokio::io::split(server);
    let up = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
        let _ = server_write.shutdown().await;
    });
    let mut buffer = vec![0u8; 64 * 1024];
    // Where the next message starts in the server's stream, as bytes still
    // to skip of the current one; and a header split across two reads.
    let (mut skip, mut header) = (0usize, Vec::with_capacity(5));
    loop {
        let n = match server_read.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let mut at = 0;
        while at < n {
            if skip > 0 {
                let step = skip.min(n - at);
                skip -= step;
                at += step;
                continue;
            }
            let take = (5 - header.len()).min(n - at);
            header.extend_from_slice(&buffer[at..at + take]);
            at += take;
            if header.len() == 5 {
                if header[0] == b'Z' {
                    count.0.fetch_add(1, Ordering::Relaxed);
                }
                let length = u32::from_be_bytes([header[1], header[2], header[3], header[4]]);
                // The length counts itself, not the type byte.
                skip = (length as usize).saturating_sub(4);
                header.clear();
            }
        }
        if client_write.write_all(&buffer[..n]).await.is_err() {
            break;
        }
    }
    let _ = client_write.shutdown().await;
    up.abort();
}
