//! `event_activity`: how many events of each type each structure recorded
//! per day. The operators' first view of what the service is used for, and
//! the dashboards' sanity check against the log.

use std::collections::BTreeMap;

use async_trait::async_trait;
use passerelle_store::RecordedEvent;
use passerelle_store::projection::{Projection, ProjectionError};
use sqlx::{PgConnection, PgExecutor};
use time::Date;

#[derive(Debug, Clone, Copy)]
pub struct EventActivity;

#[async_trait]
impl Projection for EventActivity {
    fn name(&self) -> &'static str {
        "event_activity"
    }

    fn schema_sql(&self) -> &'static str {
        "create table daily (
             structure uuid not null,
             day date not null,
             event_type text not null,
             events bigint not null,
             primary key (structure, day, event_type)
         )"
    }

    async fn apply(
        &self,
        conn: &mut PgConnection,
        events: &[RecordedEvent],
    ) -> Result<(), ProjectionError> {
        // Counted here, one row per structure, day and type: the statement
        // carries only those, not a row per event for the server to group.
        // A map's keys are unique, so no row is upserted twice.
        let mut counts: BTreeMap<(uuid::Uuid, Date, &str), i64> = BTreeMap::new();
        for e in events {
            *counts
                .entry((e.tenant, e.recorded_at.date(), e.event_type.as_str()))
                .or_default() += 1;
        }
        let mut structures = Vec::with_capacity(counts.len());
        let mut days = Vec::with_capacity(counts.len());
        let mut types = Vec::with_capacity(counts.len());
        let mut numbers = Vec::with_capacity(counts.len());
        for ((structure, day, event_type), n) in counts {
            structures.push(structure);
            days.push(day);
            types.push(event_type);
            numbers.push(n);
        }
        // One statement per batch, no row touched twice by it.
        sqlx::query(
            "insert into daily (structure, day, event_type, events)
             select * from unnest($1::uuid[], $2::date[], $3::text[], $4::int8[])
             on conflict (structure, day, event_type) do update set events = daily.events + excluded.events",
        )
        .bind(&structures)
        .bind(&days)
        .bind(&types)
        .bind(&numbers)
        .execute(conn)
        .await?;
        Ok(())
    }
}

/// One line of the activity view.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ActivityRow {
    pub structure: uuid::Uuid,
    pub day: Date,
    pub event_type: String,
    pub events: i64,
}

impl EventActivity {
    /// Activity between two days (inclusive), oldest first.
    pub async fn between(
        db: impl PgExecutor<'_>,
        from: Date,
        to: Date,
    ) -> Result<Vec<ActivityRow>, sqlx::Error> {
        sqlx::query_as(
            "select structure, day, event_type, events from event_activity.daily
             where day between $1 and $2 order by day, structure, event_type",
        )
        .bind(from)
        .bind(to)
        .fetch_all(db)
        .await
    }
}
