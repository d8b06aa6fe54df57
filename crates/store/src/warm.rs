//! The command path's connections: a pool of its own, and connections kept
//! warm off the pool's release.
//!
//! The command path's pool runs every statement on its generic plan (see
//! [`crate::pool::command_pool`]), and leaves the readers' pool to the pages,
//! the dashboards and the projections, which a burst of commands can no
//! longer take whole.
//!
//! sqlx pings every connection it takes back (a `Sync` and its answer: one
//! round trip, as many as a command's own statements). A connection whose
//! statements all completed needs no such check, so the command path hands
//! it back here instead, and sqlx sees it again only when it is dropped
//! unfinished (an error, a cancelled future, an open transaction): then
//! sqlx's ping runs as before, and flushes a pending rollback.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqlx::pool::{CloseEvent, PoolConnection};
use sqlx::{PgConnection, PgPool, Postgres};

use crate::pool::command_pool;

/// A kept connection idle longer than this goes back to the pool, where
/// the pool's own idle timeout may close it.
const KEPT_FOR: Duration = Duration::from_millis(200);

/// The command path's pool, and connections taken from it and kept between
/// commands.
#[derive(Debug, Clone)]
pub struct Warm {
    pool: PgPool,
    kept: Arc<Kept>,
    cap: usize,
}

impl Warm {
    /// The command path beside the readers' `pool`; closing the readers'
    /// pool closes it too.
    pub fn new(pool: &PgPool) -> Self {
        let kept = Arc::new(Mutex::new(Vec::new()));
        // Without a runtime (a synchronous caller) nothing is kept, and the
        // commands share the readers' pool: a pool of their own would need
        // a runtime for its upkeep.
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                let command = command_pool(pool);
                runtime.spawn(give_back(
                    Arc::downgrade(&kept),
                    pool.close_event(),
                    command.clone(),
                ));
                let cap = command.options().get_max_connections() as usize;
                Self {
                    pool: command,
                    kept,
                    cap,
                }
            }
            Err(_) => Self {
                pool: pool.clone(),
                kept,
                cap: 0,
            },
        }
    }

    /// Closes the command path's pool once its connections are back, the
    /// kept ones first.
    pub async fn close(&self) {
        close(&self.kept, &self.pool).await;
    }

    /// A connection: a kept one used within the last seconds, else the
    /// pool's (which pings one idle too long before handing it out).
    pub async fn acquire(&self) -> Result<WarmConnection, sqlx::Error> {
        loop {
            let kept = self.kept.lock().map(|mut k| k.pop()).unwrap_or(None);
            match kept {
                // Dropped, it goes through the pool's own check.
                Some((_, since)) if since.elapsed() > KEPT_FOR => continue,
                Some((conn, _)) => return Ok(self.wrap(conn)),
                None => break,
            }
        }
        let conn = self.pool.acquire().await?;
        Ok(self.wrap(conn))
    }

    fn wrap(&self, conn: PoolConnection<Postgres>) -> WarmConnection {
        WarmConnection {
            conn: Some(conn),
            finished: false,
            warm: self.clone(),
        }
    }
}

type Kept = Mutex<Vec<(PoolConnection<Postgres>, Instant)>>;

/// Returns connections kept past [`KEPT_FOR`] to the pool, until the
/// [`Warm`] is dropped; closes the command path's pool when the readers'
/// pool closes (`readers_closed`), so that whoever closes the one closes
/// both.
async fn give_back(kept: std::sync::Weak<Kept>, readers_closed: CloseEvent, command: PgPool) {
    let mut readers_closed = std::pin::pin!(readers_closed);
    loop {
        tokio::select! {
            () = &mut readers_closed => {
                if let Some(kept) = kept.upgrade() {
                    close(&kept, &command).await;
                }
                return;
            }
            () = tokio::time::sleep(KEPT_FOR / 2) => {}
        }
        let Some(kept) = kept.upgrade() else {
            return;
        };
        // Dropped outside the lock: the pool's release runs then.
        let old: Vec<_> = match kept.lock() {
            Ok(mut kept) => {
                let (old, fresh) = kept
                    .drain(..)
                    .partition(|(_, since)| since.elapsed() > KEPT_FOR);
                *kept = fresh;
                old
            }
            Err(_) => Vec::new(),
        };
        drop(old);
    }
}

/// Gives every kept connection back, then closes `pool`, which waits for
/// the connections in use.
async fn close(kept: &Kept, pool: &PgPool) {
    let all: Vec<_> = kept
        .lock()
        .map(|mut k| k.drain(..).collect())
        .unwrap_or_default();
    drop(all);
    pool.close().await;
}

/// A connection of the command path. [`WarmConnection::finished`] says its
/// last statement completed; dropped without it, the pool takes it back and
/// checks it.
#[derive(Debug)]
pub struct WarmConnection {
    conn: Option<PoolConnection<Postgres>>,
    finished: bool,
    warm: Warm,
}

impl WarmConnection {
    /// Every statement sent on it was answered, and no transaction is open.
    pub fn finished(&mut self) {
        self.finished = true;
    }
}

impl std::ops::Deref for WarmConnection {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        self.conn.as_ref().expect("a connection until dropped")
    }
}

impl std::ops::DerefMut for WarmConnection {
    fn deref_mut(&mut self) -> &mut PgConnection {
        // Used again: unfinished until said otherwise.
        self.finished = false;
        self.conn.as_mut().expect("a connection until dropped")
    }
}

impl Drop for WarmConnection {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else {
            return;
        };
        if !self.finished {
            return;
        }
        // A closed pool's connections close as they come back.
        if !self.warm.pool.is_closed()
            && let Ok(mut kept) = self.warm.kept.lock()
            && kept.len() < self.warm.cap
        {
            kept.push((conn, Instant::now()));
            return;
        }
        drop(conn);
    }
}
