//! The service's connection pools: the readers' and projections' one, and
//! the command path's own (see [`crate::warm`]).

use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::error::Result;

/// How long a pooled connection may sit idle and still be used without a
/// ping first.
const UNCHECKED_IDLE: Duration = Duration::from_secs(10);

/// Opens a pool whose sessions cannot sit idle inside a transaction: a
/// forgotten open transaction would hold every projection back.
pub async fn connect(options: PgConnectOptions, max_connections: u32) -> Result<PgPool> {
    // No JIT: the dashboards' scans cross its cost threshold and paid more
    // to compile (7 ms of a 40 ms query, measured) than they gained.
    let options = options.options([
        ("idle_in_transaction_session_timeout", "60s"),
        ("jit", "off"),
    ]);
    Ok(options_for(max_connections).connect_with(options).await?)
}

/// The command path's pool beside `pool`, with half as many connections,
/// opened as they are first needed, or all at once by
/// [`crate::Store::open_command_path`].
///
/// Its statements (a session by its token, a stream and a command by their
/// keys, inline writes of one record) read a few rows by key whatever their
/// parameters, so they run on their generic plan: PostgreSQL otherwise plans
/// some of them again on every run, measured at 0.45 ms of planning for
/// 0.04 ms of execution of a stream's read. The readers' pool keeps plans
/// made for each run's parameters: the pages' lists and files, planned
/// generically, were up to ten times slower (the open needs 6 → 70 ms p95).
pub(crate) fn command_pool(pool: &PgPool) -> PgPool {
    let max = (pool.options().get_max_connections() / 2).max(1);
    let options = pool
        .connect_options()
        .as_ref()
        .clone()
        .options([("plan_cache_mode", "force_generic_plan")]);
    options_for(max).connect_lazy_with(options)
}

fn options_for(max_connections: u32) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(10))
        // A ping before every use was a round trip of each statement run on
        // the pool, the most of a command's. A connection used within the
        // last seconds is known alive; one idle longer (the server or a
        // proxy may have closed it) is still pinged, and replaced if dead.
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for > UNCHECKED_IDLE {
                    sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
        })
}
