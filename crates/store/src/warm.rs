//! Connections kept warm for the command path, off the pool's release.
//!
//! sqlx pings every connection it takes back (a `Sync` and its answer: one
//! round trip, as many as a command's own statements). A connection whose
//! statements all completed needs no such check, so the command path hands
//! it back here instead, and sqlx sees it again only when it is dropped
//! unfinished (an error, a cancelled future, an open transaction): then
//! sqlx's ping runs as before, and flushes a pending rollback.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, PgPool, Postgres};

/// A kept connection idle longer than this goes back to the pool: the
/// pool's other users (readers, projections, a batch taking every
/// connection) would otherwise wait on connections nobody uses.
const KEPT_FOR: Duration = Duration::from_millis(200);

/// Connections taken from the pool and kept between commands, at most half
/// of the pool so readers and projections always have the other half.
#[derive(Debug, Clone)]
pub struct Warm {
    pool: PgPool,
    kept: Arc<Kept>,
    cap: usize,
}

impl Warm {
    pub fn new(pool: PgPool) -> Self {
        let cap = (pool.options().get_max_connections() as usize / 2).max(1);
        let kept = Arc::new(Mutex::new(Vec::new()));
        // Without a runtime (a synchronous caller) nothing is kept.
        let cap = match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(give_back(Arc::downgrade(&kept)));
                cap
            }
            Err(_) => 0,
        };
        Self { pool, kept, cap }
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
/// [`Warm`] is dropped.
async fn give_back(kept: std::sync::Weak<Kept>) {
    loop {
        tokio::time::sleep(KEPT_FOR / 2).await;
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
        if let Ok(mut kept) = self.warm.kept.lock()
            && kept.len() < self.warm.cap
        {
            kept.push((conn, Instant::now()));
            return;
        }
        drop(conn);
    }
}
