//! Every projection gives the same tables whatever its batches: applied one
//! event at a time, in the runner's live batches (and inline, command by
//! command), or in the large batches of a rebuild. A projection reads the
//! rows a batch touches once and applies the batch's events to them in
//! memory; this checks that doing so changes nothing.

mod support;

use std::sync::Arc;

use passerelle_app::{FixedClock, Handler};
use passerelle_demo::Options;
use passerelle_store::projection::{Projections, RunnerConfig};
use passerelle_store::testkit::TestDb;
use time::macros::{date, datetime};

/// Every row of every table of the projection's stable schema, as JSON in
/// a fixed order.
async fn tables(db: &TestDb, projection: &str) -> Vec<(String, String)> {
    let names: Vec<String> = sqlx::query_scalar(
        "select table_name::text from information_schema.tables
         where table_schema = $1 order by table_name",
    )
    .bind(projection)
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let mut out = Vec::new();
    for name in names {
        let rows: String = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "select coalesce(json_agg(r order by r::text), '[]')::text
             from (select to_jsonb(t) as r from {projection}.{name} t) rows"
        )))
        .fetch_one(&db.pool)
        .await
        .unwrap();
        out.push((name, rows));
    }
    out
}

#[tokio::test]
async fn every_projection_gives_the_same_tables_one_event_at_a_time_or_in_batches() {
    let db = TestDb::new().await;
    let live = Arc::new(Projections::new(
        db.store(),
        passerelle_projections::all(),
        RunnerConfig::default(),
    ));
    live.setup().await.unwrap();
    let clock = Arc::new(FixedClock::new(datetime!(2025-06-01 08:00 UTC)));
    let handler = Handler::new(live.clone(), clock.clone());
    let staff = support::staff(&[("44", 1), ("35", 2)], 2);
    let options = Options {
        seed: 11,
        people: 100,
        employers: 30,
        months: 12,
        end: date!(2026 - 01 - 31),
    };
    let report = passerelle_demo::seed(&handler, &clock, &staff, &options)
        .await
        .unwrap();
    assert!(report.immersions > 10, "{report:?}");
    live.catch_up().await.unwrap();

    // The same store (and key) as the live projections, rebuilding in
    // batches of `size` events.
    let rebuilding_by = |size| {
        Projections::new(
            live.store().clone(),
            passerelle_projections::all(),
            RunnerConfig {
                rebuild_batch_size: size,
                ..RunnerConfig::default()
            },
        )
    };
    let (one_by_one, whole) = (rebuilding_by(1), rebuilding_by(100_000));
    for projection in passerelle_projections::all() {
        let name = projection.name();
        let kept = tables(&db, name).await;
        assert!(kept.iter().any(|(_, rows)| rows != "[]"), "{name} has rows");
        let report = one_by_one.rebuild(name, false).await.unwrap();
        assert!(report.events > 1_000, "{report:?}");
        assert_eq!(tables(&db, name).await, kept, "{name}, one event a batch");
        whole.rebuild(name, false).await.unwrap();
        assert_eq!(tables(&db, name).await, kept, "{name}, in one batch");
    }
}
