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
//! A connection kept while callers wait on the pool wakes one of them,
//! which takes it unless a caller already running took it first: the
//! connection serves whoever can use it soonest, and the waiting callers
//! see every connection kept, not only the pool's (which would otherwise
//! wake them only when a kept connection had sat idle 200 ms).

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use sqlx::pool::{CloseEvent, PoolConnection};
use sqlx::{PgConnection, PgPool, Postgres};
use tokio::sync::Notify;

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
    /// Told of each connection kept while callers wait.
    kept_one: Arc<Notify>,
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
                    kept_one: Arc::new(Notify::new()),
                    cap,
                }
            }
            Err(_) => Self {
                pool: pool.clone(),
                kept,
                kept_one: Arc::new(Notify::new()),
                cap: 0,
            },
        }
    }

    /// Closes the command path's pool once its connections are back, the
    /// kept ones first.
    pub async fn close(&self) {
        close(&self.kept, &self.pool).await;
    }

    /// Opens every connection of the command path at once, before the
    /// first command (connections in use would hold it up to the pool's
    /// timeout), and keeps them. Once idle they go back to the pool, which
    /// closes them after its idle timeout (10 minutes): this spares the
    /// first commands after a start from each waiting for a connection to
    /// be opened, several at once, not those after a long idle time.
    pub async fn open_all(&self) -> Result<(), sqlx::Error> {
        let opened =
            futures::future::try_join_all((0..self.cap).map(|_| self.pool.acquire())).await?;
        for conn in opened {
            self.give(conn);
        }
        Ok(())
    }

    /// A connection: a kept one used within the last seconds, else one
    /// kept meanwhile or the pool's (which pings one idle too long before
    /// handing it out), whichever comes first.
    pub async fn acquire(&self) -> Result<WarmConnection, sqlx::Error> {
        let mut waiting = None;
        // One wait on the pool for the whole call, started only once the
        // stash is found empty: woken and passed over, the caller keeps its
        // place in the pool's line, its timeout and any connection the pool
        // is opening for it.
        let mut from_pool = None;
        loop {
            // Listening before looking: a connection kept after the look
            // wakes this caller.
            let kept_one = self.kept_one.notified();
            let mut kept_one = std::pin::pin!(kept_one);
            kept_one.as_mut().enable();
            let mut stale = Vec::new();
            let found = {
                let mut stash = lock(&self.kept);
                let found = loop {
                    match stash.conns.pop() {
                        Some((conn, since)) if since.elapsed() > KEPT_FOR => stale.push(conn),
                        found => break found.map(|(conn, _)| conn),
                    }
                };
                if found.is_none() && waiting.is_none() {
                    stash.waiting += 1;
                    waiting = Some(Waiting(&self.kept));
                }
                found
            };
            // Dropped outside the lock, through the pool's own check.
            drop(stale);
            if let Some(conn) = found {
                drop(waiting);
                return Ok(self.wrap(conn));
            }
            let from_pool = from_pool.get_or_insert_with(|| self.pool_wait());
            tokio::select! {
                // The pool's connection first when both are there: the kept
                // one stays for the next caller, where the pool's, dropped
                // here, would go back through the pool's ping.
                biased;
                conn = from_pool => {
                    drop(waiting);
                    return Ok(self.wrap(conn?));
                }
                () = kept_one => {}
            }
        }
    }

    /// The pool's wait for one caller. While the pool is not full, that
    /// wait opens a connection, and a caller served meanwhile by a kept one
    /// would drop it half-way: the server forks a backend for each such
    /// attempt, then finds its client gone. Under a steady load that was
    /// thousands of attempts a second, enough to fill the server's listen
    /// queue, after which every new connection, of any pool or process,
    /// failed at once (`EAGAIN` on its socket) and sessions' lookups with
    /// them. So the wait then runs on a task of its own, which opens the
    /// connection to the end and keeps it for the next caller if this one
    /// has gone.
    ///
    /// Once the pool is full the wait stays the caller's, dropped with it:
    /// a task for each caller served by a kept connection would stand in
    /// the pool's line up to its timeout. Such a wait still opens a
    /// connection now and then (the idle one it was given failed its ping,
    /// or the pool lost one meanwhile), and may drop it half-way; the pool
    /// is then no longer full, and the next callers' waits run on tasks.
    fn pool_wait(&self) -> PoolWait {
        if self.pool.size() >= self.pool.options().get_max_connections() {
            let pool = self.pool.clone();
            return Box::pin(async move { pool.acquire().await });
        }
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let warm = self.clone();
        tokio::spawn(async move {
            let acquired = warm.pool.acquire().await;
            if let Err(Ok(conn)) = sender.send(acquired) {
                warm.give(conn);
            }
        });
        // No answer: the task panicked, or the runtime is shutting down.
        Box::pin(async move { receiver.await.unwrap_or(Err(sqlx::Error::WorkerCrashed)) })
    }

    /// Keeps a connection whose statements all completed, and wakes a
    /// caller waiting, if any; gives it back to the pool when the pool is
    /// closed or enough are kept.
    fn give(&self, conn: PoolConnection<Postgres>) {
        let mut stash = lock(&self.kept);
        if !self.pool.is_closed() && stash.conns.len() < self.cap {
            stash.conns.push((conn, Instant::now()));
            let wake = stash.waiting > 0;
            drop(stash);
            if wake {
                self.kept_one.notify_one();
            }
            return;
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

/// A caller's wait on the pool ([`Warm::pool_wait`]).
type PoolWait = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<PoolConnection<Postgres>, sqlx::Error>> + Send>,
>;

#[derive(Debug, Default)]
struct Stash {
    conns: Vec<(PoolConnection<Postgres>, Instant)>,
    /// Callers waiting for a connection, woken one at a time as
    /// connections are kept.
    waiting: usize,
}

/// The stash, even if a thread panicked while holding it: its connections
/// and count stay consistent (each change is one push, pop or count).
fn lock(kept: &Kept) -> MutexGuard<'_, Stash> {
    kept.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One caller waiting, counted until it has a connection or gives up (an
/// error, or its future dropped).
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
/// the stash's lock): none is kept after that. Callers waiting are woken
/// by the pool's refusal.
async fn close(kept: &Kept, pool: &PgPool) {
    let closing = pool.close();
    let conns = std::mem::take(&mut lock(kept).conns);
    drop(conns);
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
