//! Whether this code is older than the database it runs on: during a
//! rolling upgrade, replicas of the previous release keep serving while the
//! new release has migrated the schema or built new projection versions.
//! Such a replica must not apply projections or run jobs with its older
//! code; it says why here.

use sqlx::PgPool;

use crate::MIGRATOR;
use crate::error::Result;
use crate::projection::Projections;

/// Migrations the database has applied that this code does not know.
pub async fn unknown_migrations(pool: &PgPool) -> Result<Vec<i64>> {
    let table: bool = sqlx::query_scalar("select to_regclass('_sqlx_migrations') is not null")
        .fetch_one(pool)
        .await?;
    if !table {
        return Ok(Vec::new());
    }
    let applied: Vec<i64> =
        sqlx::query_scalar("select version from _sqlx_migrations where success order by version")
            .fetch_all(pool)
            .await?;
    Ok(applied
        .into_iter()
        .filter(|v| !MIGRATOR.iter().any(|m| m.version == *v))
        .collect())
}

/// Why this replica is fenced, if it is: migrations it does not know, or
/// projections a newer release rebuilt with another DDL.
pub async fn fenced(pool: &PgPool, projections: Option<&Projections>) -> Result<Option<String>> {
    let unknown = unknown_migrations(pool).await?;
    if !unknown.is_empty() {
        return Ok(Some(format!(
            "the database has migrations this release does not know: {unknown:?}"
        )));
    }
    if let Some(projections) = projections {
        let newer = projections.newer_release().await?;
        if !newer.is_empty() {
            return Ok(Some(format!(
                "a newer release rebuilt projections: {}",
                newer.join(", ")
            )));
        }
    }
    Ok(None)
}
