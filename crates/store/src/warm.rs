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

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
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
        let kept = Arc::new(Mutex::new(Stash::default()));
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
            let mut stash = lock(&self.kept);
            match stash.conns.pop() {
                Some((conn, since)) if since.elapsed() > KEPT_FOR => {
                    // Dropped outside the lock, through the pool's own check.
                    drop(stash);
                    drop(conn);
                }
                Some((conn, _)) => return Ok(self.wrap(conn)),
                None => {
                    // Counted under the lock that found the stash empty: a
                    // connection finished from now on goes back to the
                    // pool, which hands it to the first caller waiting.
                    stash.waiting += 1;
                    break;
                }
            }
        }
        let waiting = Waiting(&self.kept);
        let conn = self.pool.acquire().await;
        drop(waiting);
        Ok(self.wrap(conn?))
    }

    fn wrap(&self, conn: PoolConnection<Postgres>) -> WarmConnection {
        WarmConnection {
            conn: Some(conn),
            finished: false,
            warm: self.clone(),
        }
    }
}

type Kept = Mutex<Stash>;

#[derive(Debug, Default)]
struct Stash {
    conns: Vec<(PoolConnection<Postgres>, Instant)>,
    /// Callers waiting on the pool. While there are any, a connection whose
    /// statements completed goes back to the pool, which wakes the first of
    /// them: kept here, it would be handed only to the callers coming after
    /// them, and they would wait until the pool's timeout.
    waiting: usize,
}

/// The stash, even if a thread panicked while holding it: its connections
/// and count stay consistent (each change is one push, pop or count).
fn lock(kept: &Kept) -> MutexGuard<'_, Stash> {
    kept.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One caller waiting on the pool, counted until it has a connection or
/// gives up (an error, or its future dropped).
struct Waiting<'a>(&'a Kept);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        lock(self.0).waiting -= 1;
    }
}

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
        let old: Vec<_> = {
            let mut stash = lock(&kept);
            let (old, fresh) = stash
                .conns
                .drain(..)
                .partition(|(_, since)| since.elapsed() > KEPT_FOR);
            stash.conns = fresh;
            old
        };
        drop(old);
    }
}

/// Closes `pool`, gives every kept connection back, then waits for the
/// connections in use. The pool is marked closed before the stash is
/// emptied, and a connection is kept only while it is not (checked under
/// the stash's lock): none is kept after the stash was emptied.
async fn close(kept: &Kept, pool: &PgPool) {
    let closing = pool.close();
    let all = std::mem::take(&mut lock(kept).conns);
    drop(all);
    closing.await;
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
        let mut stash = lock(&self.warm.kept);
        // A closed pool's connections close as they come back, and one
        // that someone waits for goes to them through the pool.
        if !self.warm.pool.is_closed() && stash.waiting == 0 && stash.conns.len() < self.warm.cap {
            stash.conns.push((conn, Instant::now()));
            return;
        }
        drop(stash);
        drop(conn);
    }
}
