//! A projection version built from the log keeps its tables unlogged until
//! it goes live. A server crash empties unlogged tables while the version's
//! checkpoint, logged, survives: the build must then start again from the
//! start of the log, not carry on past rows that are gone. Runs against a
//! PostgreSQL server of the test's own, since it crashes it.

mod pg_cluster;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use passerelle_store::projection::{Batch, Projection, ProjectionError, Projections, RunnerConfig};
use passerelle_store::{
    Append, ExpectedVersion, Keyring, MasterKey, NewEvent, RecordedEvent, Store, Upcasters,
};
use pg_cluster::{Scratch, Server};
use serde_json::json;
use sqlx::postgres::PgPoolOptions;
use sqlx::{PgConnection, PgPool};

/// Counts the events of each stream.
struct Counts;

#[async_trait]
impl Projection for Counts {
    fn name(&self) -> &'static str {
        "stream_counts"
    }
    fn schema_sql(&self) -> &'static str {
        "create table counts (stream_id text primary key, events bigint not null)"
    }
    async fn apply(
        &self,
        conn: &mut PgConnection,
        events: &[RecordedEvent],
    ) -> Result<(), ProjectionError> {
        for e in events {
            sqlx::query(
                "insert into counts (stream_id, events) values ($1, 1)
                 on conflict (stream_id) do update set events = counts.events + 1",
            )
            .bind(&e.stream_id)
            .execute(&mut *conn)
            .await?;
        }
        Ok(())
    }
}

fn projections(store: &Store) -> Projections {
    Projections::new(
        store.clone(),
        vec![Arc::new(Counts) as Arc<dyn Projection>],
        RunnerConfig {
            batch_size: 7,
            rebuild_batch_size: 7,
            poll_interval: Duration::from_millis(20),
            max_failures: 3,
            backoff_base: Duration::from_millis(1),
            backoff_max: Duration::from_millis(5),
        },
    )
}

async fn pool(server: &Server) -> PgPool {
    PgPoolOptions::new()
        .max_connections(4)
        .connect(&server.url("passerelle", ""))
        .await
        .unwrap()
}

/// `p` (logged) or `u` (unlogged).
async fn persistence(pool: &PgPool, table: &str) -> String {
    sqlx::query_scalar("select relpersistence::text from pg_class where oid = $1::regclass")
        .bind(table)
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn counted(pool: &PgPool, table: &str) -> Vec<(String, i64)> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select stream_id, events from {table} order by stream_id"
    )))
    .fetch_all(pool)
    .await
    .unwrap()
}

/// A server of the test's own with a migrated `passerelle` database whose
/// log holds three streams of ten events, logged before the projection
/// exists: its first version is built from the log.
async fn logged_thirty(scratch: &Scratch) -> (Server, MasterKey) {
    let mut server = Server::init(scratch, "pg", "host all all 127.0.0.1/32 trust\n", "");
    server.start();
    server.create_database("passerelle").await;
    let key = MasterKey::generate();
    let db = pool(&server).await;
    passerelle_store::MIGRATOR.run(&db).await.unwrap();
    let store = Store::new(db.clone(), Keyring::new(&key), Upcasters::default());
    for n in 0..10 {
        for stream in ["a", "b", "c"] {
            store
                .append(&Append {
                    stream_id: stream,
                    expected: ExpectedVersion::Any,
                    events: &[NewEvent::new("Counted", 1, json!({ "n": n }))],
                    metadata: &passerelle_store::testkit::metadata(),
                    recorded_at: None,
                })
                .await
                .unwrap();
        }
    }
    db.close().await;
    (server, key)
}

/// Crashes the server under `db` and starts it again, which empties the
/// unlogged tables: a pool on the restarted server.
async fn crash_and_reconnect(server: &mut Server, db: PgPool) -> PgPool {
    db.close().await;
    server.crash();
    server.start();
    pool(server).await
}

/// The events counted in `table`, all streams together.
async fn total(pool: &PgPool, table: &str) -> i64 {
    counted(pool, table).await.iter().map(|(_, n)| n).sum()
}

/// Every event counted once, in the live version, whose tables are logged.
async fn counted_once_and_durable(db: &PgPool) {
    assert_eq!(
        counted(db, "stream_counts.counts").await,
        vec![("a".into(), 10), ("b".into(), 10), ("c".into(), 10)],
        "every event counted once, from the start of the log"
    );
    assert_eq!(
        persistence(db, "stream_counts_v1.counts").await,
        "p",
        "a live version's tables are logged"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_build_whose_unlogged_tables_a_crash_emptied_starts_again_from_the_start() {
    let scratch = Scratch::new("unlogged-build");
    let (mut server, key) = logged_thirty(&scratch).await;
    let db = pool(&server).await;
    let store = Store::new(db.clone(), Keyring::new(&key), Upcasters::default());
    let runner = projections(&store);
    runner.setup().await.unwrap();
    assert_eq!(
        persistence(&db, "stream_counts_v1.counts").await,
        "u",
        "a version being built writes without the write-ahead log"
    );
    // Three batches of seven: 21 of the 30 events.
    for _ in 0..3 {
        assert!(matches!(
            runner.process_batch(&Counts, 1, 7).await.unwrap(),
            Batch::Applied(_)
        ));
    }
    assert_eq!(total(&db, "stream_counts_v1.counts").await, 21);
    let db = crash_and_reconnect(&mut server, db).await;
    assert!(
        counted(&db, "stream_counts_v1.counts").await.is_empty(),
        "the crash emptied the unlogged table, while the checkpoint kept its 21 events"
    );
    let store = Store::new(db.clone(), Keyring::new(&key), Upcasters::default());
    let runner = projections(&store);
    for _ in 0..100 {
        runner.run_once().await.unwrap();
        let status = runner.status().await.unwrap();
        if status.iter().all(|s| s.lag == 0 && s.status == "live") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let status = runner.status().await.unwrap();
    assert!(
        status.iter().all(|s| s.lag == 0 && s.status == "live"),
        "{status:?}"
    );
    counted_once_and_durable(&db).await;
    db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_build_emptied_after_its_last_batch_is_not_swapped_in_but_built_again_in_one_pass() {
    let scratch = Scratch::new("unlogged-swap");
    let (mut server, key) = logged_thirty(&scratch).await;
    let db = pool(&server).await;
    let store = Store::new(db.clone(), Keyring::new(&key), Upcasters::default());
    let runner = projections(&store);
    runner.setup().await.unwrap();
    // Every event applied, not yet swapped in.
    while let Batch::Applied(_) = runner.process_batch(&Counts, 1, 7).await.unwrap() {}
    assert_eq!(total(&db, "stream_counts_v1.counts").await, 30);
    let db = crash_and_reconnect(&mut server, db).await;
    assert_eq!(total(&db, "stream_counts_v1.counts").await, 0);
    let store = Store::new(db.clone(), Keyring::new(&key), Upcasters::default());
    let runner = projections(&store);
    // The pass over the log builds it again, from the start, then swaps.
    let report = runner.rebuild_all(&[], false).await.unwrap();
    assert_eq!(report.projections[0].handled, 30, "{report:?}");
    counted_once_and_durable(&db).await;
    db.close().await;
}
