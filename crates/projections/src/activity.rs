//! `event_activity`: how many events of each type each structure recorded
//! per day. The operators' first view of what the service is used for, and
//! the dashboards' sanity check against the log.

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
        let mut structures = Vec::with_capacity(events.len());
        let mut days = Vec::with_capacity(events.len());
        let mut types = Vec::with_capacity(events.len());
        for e in events {
            structures.push(e.tenant);
            days.push(e.recorded_at.date());
            types.push(e.event_type.as_str());
        }
        // One statement per batch: the rows are grouped before the upsert so
        // that no row is touched twice by it.
        sqlx::query(
            "insert into daily (structure, day, event_type, events)
             select s, d, t, count(*) from unnest($1::uuid[], $2::date[], $3::text[]) as e(s, d, t)
             group by s, d, t
             on conflict (structure, day, event_type) do update set events = daily.events + excluded.events",
        )
        .bind(&structures)
        .bind(&days)
        .bind(&types)
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
