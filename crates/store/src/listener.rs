//! Hears the changes other replicas publish (see `changes`) on a dedicated
//! connection. Notifications sent while that connection is down are lost,
//! so after every reconnection the listener says [`Heard::Resync`]: whoever
//! follows changes reads what it shows again.

use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::watch;
use uuid::Uuid;

use crate::changes::{CHANNEL, EVERYTHING, parse};

/// What the listener reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Heard {
    /// `origin` committed a change to `stream`.
    Change { origin: Uuid, stream: String },
    /// Changes may have been missed (the connection was lost, or a
    /// publisher could not keep up): read everything again.
    Resync,
}

/// The longest wait between two connection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Listens until `stop` turns true, reconnecting with backoff. `on` is
/// called for every notification, and with [`Heard::Resync`] once the
/// listener is back after a lost connection (not at the first start:
/// nothing was heard before it).
pub async fn listen(pool: PgPool, mut on: impl FnMut(Heard), mut stop: watch::Receiver<bool>) {
    let mut backoff = Duration::from_millis(100);
    let mut reconnecting = false;
    loop {
        if *stop.borrow() {
            return;
        }
        let connected = async {
            let mut listener = PgListener::connect_with(&pool).await?;
            // A lost connection is reported (`try_recv` answers `None`)
            // rather than mended silently, so a resync follows it.
            listener.eager_reconnect(false);
            listener.listen(CHANNEL).await?;
            Ok::<_, sqlx::Error>(listener)
        };
        let mut listener = tokio::select! {
            connected = connected => match connected {
                Ok(listener) => listener,
                Err(e) => {
                    tracing::warn!(error = %e, retry_in = ?backoff, "cannot listen for other replicas' changes");
                    tokio::select! {
                        () = tokio::time::sleep(backoff) => {}
                        _ = stop.changed() => return,
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    continue;
                }
            },
            _ = stop.changed() => return,
        };
        if reconnecting {
            tracing::info!("listening for other replicas' changes again");
            on(Heard::Resync);
        }
        backoff = Duration::from_millis(100);
        reconnecting = true;
        loop {
            let received = tokio::select! {
                received = listener.try_recv() => received,
                _ = stop.changed() => return,
            };
            match received {
                Ok(Some(notification)) => match parse(notification.payload()) {
                    Some((_, EVERYTHING)) => on(Heard::Resync),
                    Some((origin, stream)) => on(Heard::Change {
                        origin,
                        stream: stream.to_owned(),
                    }),
                    None => tracing::warn!("ignored a change notification of unknown form"),
                },
                Ok(None) => {
                    tracing::warn!("lost the connection that listens for other replicas' changes");
                    break;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "listening for other replicas' changes failed");
                    break;
                }
            }
        }
    }
}
