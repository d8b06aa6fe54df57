//! The PostgreSQL event store and projection runner.
//!
//! Owns the `events`, `streams`, `subject_keys` and `projection_checkpoints`
//! tables and every query on them. Knows events only as envelopes (type,
//! schema version, JSON data, metadata): nothing of the mediation domain.

mod answers;
pub mod changes;
pub mod cluster;
mod error;
mod event;
pub mod fence;
pub mod listener;
pub mod personal;
pub mod projection;
mod store;
// For the workspace's tests only: the service never carries it.
#[cfg(feature = "testkit")]
pub mod testkit;
mod upcast;
mod warm;

use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

pub use answers::KeptAnswer;
pub use error::{Result, StoreError};
pub use event::{
    AppendResult, EventData, ExpectedVersion, InlineWrite, LogPosition, Metadata, NewEvent,
    RecordedEvent, event_id,
};
pub use personal::{Keyring, MasterKey};
pub use store::{Append, AppendedCommand, ERASED_EVENT, Guard, Store};
pub use upcast::{Upcaster, Upcasters};
pub use warm::WarmConnection;

/// The schema migrations, embedded in the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

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
    Ok(PgPoolOptions::new()
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
        .connect_with(options)
        .await?)
}

/// Versions of embedded migrations not yet applied to the database.
pub async fn pending_migrations(pool: &PgPool) -> Result<Vec<i64>> {
    let table: bool = sqlx::query_scalar("select to_regclass('_sqlx_migrations') is not null")
        .fetch_one(pool)
        .await?;
    let applied: Vec<i64> = if table {
        sqlx::query_scalar("select version from _sqlx_migrations where success")
            .fetch_all(pool)
            .await?
    } else {
        Vec::new()
    };
    Ok(MIGRATOR
        .iter()
        .filter(|m| m.migration_type.is_up_migration() && !applied.contains(&m.version))
        .map(|m| m.version)
        .collect())
}
