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
mod pool;
pub mod projection;
mod store;
// For the workspace's tests only: the service never carries it.
#[cfg(feature = "testkit")]
pub mod testkit;
mod upcast;
mod warm;

use sqlx::PgPool;

pub use answers::KeptAnswer;
pub use error::{Result, StoreError};
pub use event::{
    AppendResult, EventData, ExpectedVersion, InlineWrite, LogPosition, Metadata, NewEvent,
    RecordedEvent, event_id,
};
pub use personal::{Keyring, MasterKey};
pub use pool::connect;
pub use store::{Append, AppendedCommand, ERASED_EVENT, Guard, Store};
pub use upcast::{Upcaster, Upcasters};
pub use warm::WarmConnection;

/// The schema migrations, embedded in the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

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
