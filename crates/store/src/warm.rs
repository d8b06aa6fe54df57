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
//!
//! A connection finished while callers wait for one goes straight to the
//! first of them, also without the ping: kept instead, it would serve only
//! the callers coming after them, and returned to the pool it would pay the
//! ping.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use sqlx::pool::{CloseEvent, PoolConnection};
use sqlx::{PgConnection, PgPool, Postgres};
use tokio::sync::oneshot;

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
    /// first one finished or the pool's (which pings one idle too long
    /// before handing it out), whichever comes first.
    pub async fn acquire(&self) -> Result<WarmConnection, sqlx::Error> {
        let mut stale = Vec::new();
        let found = {
            let mut stash = lock(&self.kept);
            loop {
                match stash.conns.pop() {
                    Some((conn, since)) if since.elapsed() > KEPT_FOR => stale.push(conn),
                    Some((conn, _)) => break Ok(conn),
                    None => {
                        // In line under the lock that found the stash
                        // empty: a connection finished from now on comes
                        // here, if it is this caller's turn.
                        let (sender, handed) = oneshot::channel();
                        stash.next_waiter += 1;
                        let id = stash.next_waiter;
                        stash.waiting.push_back((id, sender));
                        break Err(Waiting {
                            warm: self,
                            id,
                            handed,
                        });
                    }
                }
            }
        };
        // Dropped outside the lock, through the pool's own check.
        drop(stale);
        let mut waiting = match found {
            Ok(conn) => return Ok(self.wrap(conn)),
            Err(waiting) => waiting,
        };
        let conn = tokio::select! {
            Ok(conn) = &mut waiting.handed => conn,
            conn = self.pool.acquire() => conn?,
        };
        drop(waiting);
        Ok(self.wrap(conn))
    }

    /// Hands a connection whose statements all completed to the first
    /// caller waiting, else keeps it, else gives it back to the pool.
    fn give(&self, mut conn: PoolConnection<Postgres>) {
        let mut stash = lock(&self.kept);
        // A closed pool's connections close as they come back.
        if !self.pool.is_closed() {
            while let Some((_, sender)) = stash.waiting.pop_front() {
                match sender.send(conn) {
                    Ok(()) => return,
                    // That caller had a connection meanwhile, or gave up.
                    Err(back) => conn = back,
                }
            }
            if stash.conns.len() < self.cap {
                stash.conns.push((conn, Instant::now()));
                return;
            }
        }
        drop(stash);
        drop(conn);
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
    /// Callers waiting for a connection, first come first: each is handed
    /// the next one finished, unless the pool gives it one first.
    waiting: VecDeque<(u64, oneshot::Sender<PoolConnection<Postgres>>)>,
    next_waiter: u64,
}

/// The stash, even if a thread panicked while holding it: its connections
/// and callers stay consistent (each change is one push or pop).
fn lock(kept: &Kept) -> MutexGuard<'_, Stash> {
    kept.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A caller in line for a finished connection, until it has one or gives
/// up (an error, or its future dropped). Leaving the line, it hands on a
/// connection handed to it meanwhile.
struct Waiting<'a> {
    warm: &'a Warm,
    id: u64,
    handed: oneshot::Receiver<PoolConnection<Postgres>>,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        // Out of the line under the lock connections are handed under:
        // after it, none comes to this caller, and one that did is here.
        lock(&self.warm.kept)
            .waiting
            .retain(|(id, _)| *id != self.id);
        if let Ok(conn) = self.handed.try_recv() {
            self.warm.give(conn);
        }
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

/// Closes `pool`, gives every kept connection back and sends the callers
/// waiting to the pool (which refuses them now), then waits for the
/// connections in use. The pool is marked closed before the stash is
/// emptied, and a connection is kept or handed on only while it is not
/// (checked under the stash's lock): none is kept after that.
async fn close(kept: &Kept, pool: &PgPool) {
    let closing = pool.close();
    let (conns, waiting) = {
        let mut stash = lock(kept);
        (
            std::mem::take(&mut stash.conns),
            std::mem::take(&mut stash.waiting),
        )
    };
    drop((conns, waiting));
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
        self.warm.give(conn);
    }
}
