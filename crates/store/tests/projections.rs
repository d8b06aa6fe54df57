//! The projection runner: atomic batches, retries then pause, one runner per
//! batch across replicas, inline mode, blue/green rebuild, lag.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use common::{append, event, metadata};
use passerelle_store::projection::{
    Batch, Mode, Projection, ProjectionError, Projections, RunnerConfig,
};
use passerelle_store::testkit::TestDb;
use passerelle_store::{ExpectedVersion, InlineWrite, NewEvent, RecordedEvent, Store, StoreError};
use serde_json::json;
use sqlx::PgConnection;

/// Counts events per stream, one statement per event so that a failure
/// midway through a batch has already written something.
struct StreamCounts {
    mode: Mode,
    /// While set, a `Poison` event makes the batch fail.
    poisoned: Arc<AtomicBool>,
    schema: &'static str,
}

const SCHEMA: &str = "create table counts (stream_id text primary key, events bigint not null);
     create table applied (event_id uuid primary key)";

impl StreamCounts {
    /// Fails on `Poison` events until cured.
    fn new(mode: Mode) -> Arc<Self> {
        Arc::new(Self {
            mode,
            poisoned: Arc::new(AtomicBool::new(true)),
            schema: SCHEMA,
        })
    }

    fn healthy(mode: Mode) -> Arc<Self> {
        let p = Self::new(mode);
        p.poisoned.store(false, Ordering::SeqCst);
        p
    }

    /// A later release of the projection: the same counts, other tables.
    fn with_schema(mode: Mode, schema: &'static str) -> Arc<Self> {
        Arc::new(Self {
            mode,
            poisoned: Arc::new(AtomicBool::new(false)),
            schema,
        })
    }
}

#[async_trait]
impl Projection for StreamCounts {
    fn name(&self) -> &'static str {
        "stream_counts"
    }
    fn schema_sql(&self) -> &'static str {
        self.schema
    }
    fn mode(&self) -> Mode {
        self.mode
    }
    async fn apply(
        &self,
        conn: &mut PgConnection,
        events: &[RecordedEvent],
    ) -> Result<(), ProjectionError> {
        for e in events {
            if e.event_type == "Poison" && self.poisoned.load(Ordering::SeqCst) {
                return Err("poisoned event".into());
            }
            sqlx::query(
                "insert into counts (stream_id, events) values ($1, 1)
                 on conflict (stream_id) do update set events = counts.events + 1",
            )
            .bind(&e.stream_id)
            .execute(&mut *conn)
            .await?;
            // A primary key: applying an event twice fails loudly.
            sqlx::query("insert into applied (event_id) values ($1)")
                .bind(e.event_id)
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }
}

fn config() -> RunnerConfig {
    RunnerConfig {
        batch_size: 7,
        rebuild_batch_size: 11,
        poll_interval: Duration::from_millis(20),
        max_failures: 3,
        backoff_base: Duration::from_millis(1),
        backoff_max: Duration::from_millis(5),
    }
}

fn registry(store: &Store, p: Arc<StreamCounts>) -> Projections {
    Projections::new(store.clone(), vec![p as Arc<dyn Projection>], config())
}

async fn counts(db: &TestDb) -> Vec<(String, i64)> {
    sqlx::query_as("select stream_id, events from stream_counts.counts order by stream_id")
        .fetch_all(&db.pool)
        .await
        .unwrap()
}

async fn counts_in(db: &TestDb, schema: &str) -> Vec<(String, i64)> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select stream_id, events from {schema}.counts order by stream_id"
    )))
    .fetch_all(&db.pool)
    .await
    .unwrap()
}

async fn truth(db: &TestDb) -> Vec<(String, i64)> {
    sqlx::query_as(
        "select stream_id, max(version) from events group by stream_id order by stream_id",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap()
}

/// Runs batches until every committed event is applied.
async fn catch_up(projections: &Projections) {
    for _ in 0..2_000 {
        projections.run_once().await.unwrap();
        let status = projections.status().await.unwrap();
        if status.iter().all(|s| s.lag == 0 && s.status == "live") {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!(
        "projections did not catch up: {:?}",
        projections.status().await.unwrap()
    );
}

async fn write(store: &Store, streams: usize, per_stream: i64) {
    for s in 0..streams {
        for n in 0..per_stream {
            store
                .append(&append(
                    &format!("s{s}"),
                    ExpectedVersion::Any,
                    &[event(n)],
                    &metadata(),
                ))
                .await
                .unwrap();
        }
    }
}

#[tokio::test]
async fn a_failing_batch_leaves_nothing_then_retries_pauses_and_resumes_to_the_rebuilt_state() {
    let db = TestDb::new().await;
    let store = db.store();
    let p = StreamCounts::new(Mode::Async);
    let projections = registry(&store, p.clone());
    projections.setup().await.unwrap();
    write(&store, 2, 2).await;
    store
        .append(&append(
            "s9",
            ExpectedVersion::Any,
            &[NewEvent::new("Poison", 1, json!({}))],
            &metadata(),
        ))
        .await
        .unwrap();
    write(&store, 3, 1).await;
    common::read_everything(&store).await;

    // The first batch holds 4 good events then the poison: nothing of it stays.
    let err = projections
        .process_batch(p.as_ref(), 1, 100)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("poisoned event"), "{err}");
    assert!(counts(&db).await.is_empty(), "no partial effect");
    let status = &projections.status().await.unwrap()[0];
    assert_eq!(
        (status.failures, status.paused, status.events_applied),
        (1, false, 0)
    );
    assert_eq!(status.last_error.as_deref(), Some("poisoned event"));
    assert_eq!(status.lag, 8);

    // Retries with backoff until the projection pauses.
    for _ in 0..200 {
        projections.run_once().await.unwrap();
        if projections.status().await.unwrap()[0].paused {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let status = &projections.status().await.unwrap()[0];
    assert!(status.paused, "{status:?}");
    assert_eq!(status.failures, 3);
    assert_eq!(
        projections.process_batch(p.as_ref(), 1, 100).await.unwrap(),
        Batch::Skipped
    );

    // The fix ships and the service restarts (a new runner over the same
    // database); the operator resumes the projection: it catches up.
    drop(projections);
    let fixed = StreamCounts::healthy(Mode::Async);
    let projections = registry(&store, fixed);
    projections.setup().await.unwrap();
    projections.resume("stream_counts").await.unwrap();
    catch_up(&projections).await;
    let live = counts(&db).await;
    assert_eq!(live, truth(&db).await);

    let report = projections.rebuild("stream_counts", false).await.unwrap();
    assert_eq!(report.version, 2);
    assert_eq!(report.events, 8);
    assert_eq!(
        counts(&db).await,
        live,
        "the rebuilt read model equals the live one"
    );
}

#[tokio::test]
async fn a_retry_waits_for_its_backoff() {
    let db = TestDb::new().await;
    let store = db.store();
    let p = StreamCounts::new(Mode::Async);
    let projections = Projections::new(
        store.clone(),
        vec![p.clone() as Arc<dyn Projection>],
        RunnerConfig {
            backoff_base: Duration::from_secs(60),
            backoff_max: Duration::from_secs(60),
            ..config()
        },
    );
    projections.setup().await.unwrap();
    store
        .append(&append(
            "s",
            ExpectedVersion::Any,
            &[NewEvent::new("Poison", 1, json!({}))],
            &metadata(),
        ))
        .await
        .unwrap();
    common::read_everything(&store).await;
    assert!(projections.process_batch(p.as_ref(), 1, 10).await.is_err());
    assert_eq!(
        projections.process_batch(p.as_ref(), 1, 10).await.unwrap(),
        Batch::Skipped
    );
}

/// Two runners (two server replicas) on one projection while writers append:
/// every event is applied exactly once (the `applied` primary key would
/// refuse a second application and the counts would exceed the truth).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_runners_of_one_projection_never_apply_an_event_twice() {
    let db = TestDb::new().await;
    let store = db.store();
    let p = StreamCounts::healthy(Mode::Async);
    let replica_a = registry(&store, p.clone());
    let replica_b = registry(&store, p.clone());
    replica_a.setup().await.unwrap();
    replica_b.setup().await.unwrap();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let runners = [
        tokio::spawn(replica_a.clone().run(stopped.clone())),
        tokio::spawn(replica_b.clone().run(stopped)),
    ];
    let mut writers = Vec::new();
    for w in 0..4 {
        let store = store.clone();
        writers.push(tokio::spawn(async move {
            for n in 0..60 {
                store
                    .append(&append(
                        &format!("w{w}-{}", n % 5),
                        ExpectedVersion::Any,
                        &[event(n)],
                        &metadata(),
                    ))
                    .await
                    .unwrap();
            }
        }));
    }
    for w in writers {
        w.await.unwrap();
    }
    for _ in 0..1_000 {
        if replica_a.status().await.unwrap()[0].lag == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.send(true).unwrap();
    for r in runners {
        r.await.unwrap();
    }
    let status = &replica_a.status().await.unwrap()[0];
    assert_eq!(
        (status.lag, status.failures, status.events_applied),
        (0, 0, 240),
        "{status:?}"
    );
    assert_eq!(counts(&db).await, truth(&db).await);
}

#[tokio::test]
async fn an_inline_projection_is_readable_in_the_append_transaction() {
    let db = TestDb::new().await;
    let store = db.store();
    let p = StreamCounts::new(Mode::Inline);
    let projections = registry(&store, p);
    projections.setup().await.unwrap();
    let mut tx = db.pool.begin().await.unwrap();
    let meta = metadata();
    let events = [event(1), event(2)];
    let result = store
        .append_in(
            &mut tx,
            &append("s", ExpectedVersion::NoStream, &events, &meta),
        )
        .await
        .unwrap();
    projections
        .apply_inline(&mut tx, &result.recorded(&events, &meta, "s"))
        .await
        .unwrap();
    let inside: i64 =
        sqlx::query_scalar("select events from stream_counts.counts where stream_id = 's'")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
    assert_eq!(inside, 2, "read-your-writes inside the transaction");
    assert!(
        counts(&db).await.is_empty(),
        "nothing visible outside before commit"
    );
    tx.commit().await.unwrap();
    assert_eq!(counts(&db).await, [("s".to_owned(), 2)]);
    // The runner leaves a live inline projection alone.
    assert_eq!(projections.run_once().await.unwrap(), 0);
}

/// Appends that apply the inline projection keep coming while a new version
/// is built and swapped in: the new version ends with every event, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_inline_projection_is_rebuilt_blue_green_under_write_load() {
    let db = TestDb::new().await;
    let store = db.store();
    let p = StreamCounts::healthy(Mode::Inline);
    let projections = registry(&store, p);
    projections.setup().await.unwrap();
    let writer = {
        let (store, projections) = (store.clone(), projections.clone());
        tokio::spawn(async move {
            for n in 0..300 {
                let meta = metadata();
                let events = [event(n)];
                let stream = format!("s{}", n % 7);
                let mut tx = store.pool().begin().await.unwrap();
                let r = store
                    .append_in(
                        &mut tx,
                        &append(&stream, ExpectedVersion::Any, &events, &meta),
                    )
                    .await
                    .unwrap();
                projections
                    .apply_inline(&mut tx, &r.recorded(&events, &meta, &stream))
                    .await
                    .unwrap();
                tx.commit().await.unwrap();
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let report = projections.rebuild("stream_counts", false).await.unwrap();
    writer.await.unwrap();
    assert_eq!(report.version, 2);
    assert_eq!(counts(&db).await, truth(&db).await);
    assert_eq!(counts_in(&db, "stream_counts_v2").await, truth(&db).await);
    let old_schema: bool = sqlx::query_scalar(
        "select exists (select 1 from pg_namespace where nspname = 'stream_counts_v1')",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert!(!old_schema, "the retired version's tables are dropped");
}

#[tokio::test]
async fn the_old_version_serves_while_the_new_one_builds() {
    let db = TestDb::new().await;
    let store = db.store();
    let p = StreamCounts::healthy(Mode::Async);
    let projections = registry(&store, p.clone());
    projections.setup().await.unwrap();
    write(&store, 3, 4).await;
    catch_up(&projections).await;
    let before = counts(&db).await;

    // A rebuild has begun and applied one batch of version 2.
    assert_eq!(projections.begin_rebuild("stream_counts").await.unwrap(), 2);
    assert_eq!(
        projections.process_batch(p.as_ref(), 2, 5).await.unwrap(),
        Batch::Applied(5)
    );
    let status = projections.status().await.unwrap();
    assert!(
        status.iter().any(|s| s.status == "live" && s.version == 1),
        "{status:?}"
    );
    assert!(
        status
            .iter()
            .any(|s| s.status == "building" && s.version == 2 && s.lag == 7),
        "{status:?}"
    );
    assert_eq!(
        counts(&db).await,
        before,
        "readers see the complete old version meanwhile"
    );
    assert_eq!(
        counts_in(&db, "stream_counts_v2")
            .await
            .iter()
            .map(|c| c.1)
            .sum::<i64>(),
        5
    );

    // The rebuild resumes the version under construction and swaps it in.
    let report = projections.rebuild("stream_counts", false).await.unwrap();
    assert_eq!((report.version, report.events), (2, 7));
    let status = projections.status().await.unwrap();
    assert_eq!(status.len(), 1);
    assert_eq!((status[0].version, status[0].status.as_str()), (2, "live"));
    assert_eq!(counts(&db).await, before);
}

#[tokio::test]
async fn a_projection_added_to_an_existing_log_is_built_before_it_goes_live() {
    let db = TestDb::new().await;
    let store = db.store();
    write(&store, 2, 3).await;
    let p = StreamCounts::healthy(Mode::Inline);
    let projections = registry(&store, p);
    projections.setup().await.unwrap();
    let status = projections.status().await.unwrap();
    assert_eq!((status[0].status.as_str(), status[0].lag), ("building", 6));
    catch_up(&projections).await;
    assert_eq!(counts(&db).await, truth(&db).await);
}

#[tokio::test]
async fn lag_counts_the_events_not_yet_applied() {
    let db = TestDb::new().await;
    let store = db.store();
    let p = StreamCounts::healthy(Mode::Async);
    let projections = registry(&store, p.clone());
    projections.setup().await.unwrap();
    write(&store, 1, 10).await;
    common::read_everything(&store).await;
    assert_eq!(projections.status().await.unwrap()[0].lag, 10);
    assert_eq!(
        projections.process_batch(p.as_ref(), 1, 7).await.unwrap(),
        Batch::Applied(7)
    );
    assert_eq!(projections.status().await.unwrap()[0].lag, 3);
}

/// Appends one event to `stream` and applies the inline projections with it.
/// The same counts, written inside the append's statement.
struct FusedCounts;

#[async_trait]
impl Projection for FusedCounts {
    fn name(&self) -> &'static str {
        "stream_counts"
    }
    fn schema_sql(&self) -> &'static str {
        SCHEMA
    }
    fn mode(&self) -> Mode {
        Mode::Inline
    }
    async fn apply(
        &self,
        conn: &mut PgConnection,
        events: &[RecordedEvent],
    ) -> Result<(), ProjectionError> {
        StreamCounts::healthy(Mode::Inline)
            .apply(conn, events)
            .await
    }
    fn inline_writes(&self, events: &[RecordedEvent]) -> Option<Vec<InlineWrite>> {
        let rows: Vec<serde_json::Value> = events
            .iter()
            .map(|e| json!({ "stream_id": e.stream_id, "event_id": e.event_id }))
            .collect();
        let rows = serde_json::to_string(&rows).ok()?;
        Some(vec![
            InlineWrite {
                sql: "insert into {schema}.counts as c (stream_id, events)
                      select stream_id, count(*) from json_to_recordset({rows})
                          as r(stream_id text, event_id uuid)
                      where {appended} group by stream_id
                      on conflict (stream_id) do update set events = c.events + excluded.events
                      returning c.events",
                rows: rows.clone(),
                returning: true,
            },
            InlineWrite {
                sql: "insert into {schema}.applied (event_id)
                      select event_id from json_to_recordset({rows})
                          as r(stream_id text, event_id uuid)
                      where {appended}",
                rows,
                returning: false,
            },
        ])
    }
}

/// Appends that write the inline projection in their own statement keep
/// coming while a new version is built and swapped in: each lands in the
/// version its statement found live, or goes again after the swap; the new
/// version ends with every event, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_inline_projection_written_in_the_append_statement_is_rebuilt_under_write_load() {
    let db = TestDb::new().await;
    let store = db.store();
    let projections = Projections::new(
        store.clone(),
        vec![Arc::new(FusedCounts) as Arc<dyn Projection>],
        config(),
    );
    projections.setup().await.unwrap();
    let writer = {
        let (store, projections) = (store.clone(), projections.clone());
        tokio::spawn(async move {
            let mut fused = 0;
            for n in 0..400 {
                let meta = metadata();
                let events = [event(n)];
                let stream = format!("s{}", n % 7);
                let append = append(&stream, ExpectedVersion::Any, &events, &meta);
                let preview = passerelle_store::AppendResult {
                    stream_version: 0,
                    positions: vec![passerelle_store::LogPosition::START],
                    recorded_at: time::OffsetDateTime::now_utc(),
                    replayed: false,
                }
                .recorded(&events, &meta, &stream);
                loop {
                    let mut conn = store.pool().acquire().await.unwrap();
                    match projections
                        .append_inline(&mut conn, &append, None, &preview, None)
                        .await
                    {
                        Ok(Some((_, written))) => {
                            assert_eq!(written.len(), 1, "the count comes back");
                            fused += 1;
                            break;
                        }
                        Ok(None) => {
                            drop(conn);
                            write_inline(&store, &projections, &stream, n).await;
                            break;
                        }
                        Err(StoreError::Conflict { .. }) => continue,
                        Err(e) => panic!("{e}"),
                    }
                }
            }
            fused
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    let report = projections.rebuild("stream_counts", false).await.unwrap();
    let fused = writer.await.unwrap();
    assert!(fused > 0, "appends went through the statement's own writes");
    assert_eq!(report.version, 2);
    assert_eq!(counts(&db).await, truth(&db).await);
    assert_eq!(counts_in(&db, "stream_counts_v2").await, truth(&db).await);
}

/// An append that writes its views in its own statement keeps the stream's
/// compare-and-set: a writer that lost the race writes neither events nor
/// views.
#[tokio::test]
async fn an_append_writing_its_views_in_its_statement_checks_the_version() {
    let db = TestDb::new().await;
    let store = db.store();
    let projections = Projections::new(
        store.clone(),
        vec![Arc::new(FusedCounts) as Arc<dyn Projection>],
        config(),
    );
    projections.setup().await.unwrap();
    let mut conn = store.pool().acquire().await.unwrap();
    let mut outcomes = Vec::new();
    for expected in [
        ExpectedVersion::NoStream,
        ExpectedVersion::NoStream,
        ExpectedVersion::Exact(1),
        ExpectedVersion::Exact(1),
        ExpectedVersion::Exact(2),
        ExpectedVersion::Any,
    ] {
        let meta = metadata();
        let events = [event(1)];
        let append = append("s", expected, &events, &meta);
        let preview = passerelle_store::AppendResult {
            stream_version: 0,
            positions: vec![passerelle_store::LogPosition::START],
            recorded_at: time::OffsetDateTime::now_utc(),
            replayed: false,
        }
        .recorded(&events, &meta, "s");
        outcomes.push(
            match projections
                .append_inline(&mut conn, &append, None, &preview, None)
                .await
            {
                Ok(Some((result, written))) => {
                    assert_eq!(written[0].1, json!([{ "events": result.stream_version }]));
                    Some(result.stream_version)
                }
                Ok(None) => panic!("the projection writes in the statement"),
                Err(StoreError::Conflict { .. }) => None,
                Err(e) => panic!("{e}"),
            },
        );
    }
    assert_eq!(outcomes, [Some(1), None, Some(2), None, Some(3), Some(4)]);
    assert_eq!(counts(&db).await, truth(&db).await);
}

async fn write_inline(store: &Store, projections: &Projections, stream: &str, n: i64) {
    let meta = metadata();
    let events = [event(n)];
    let mut tx = store.pool().begin().await.unwrap();
    let r = store
        .append_in(
            &mut tx,
            &append(stream, ExpectedVersion::Any, &events, &meta),
        )
        .await
        .unwrap();
    projections
        .apply_inline(&mut tx, &r.recorded(&events, &meta, stream))
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

/// A release that changes a projection's tables: the version made with the
/// old DDL keeps serving, no longer applied, while one with the new DDL is
/// built from the log; that one replaces it once caught up.
#[tokio::test]
async fn a_changed_schema_is_built_beside_the_stale_version_then_replaces_it() {
    const WIDER: &str = "create table counts (stream_id text primary key, events bigint not null,
                                               note text);
         create table applied (event_id uuid primary key)";
    for mode in [Mode::Async, Mode::Inline] {
        let db = TestDb::new().await;
        let store = db.store();
        let old = registry(&store, StreamCounts::healthy(mode));
        old.setup().await.unwrap();
        for n in 0..4 {
            write_inline(&store, &old, "s0", n).await;
        }
        catch_up(&old).await;
        let before = counts(&db).await;
        assert_eq!(before, truth(&db).await);

        // The same code again changes nothing.
        old.setup().await.unwrap();
        assert_eq!(old.status().await.unwrap().len(), 1, "{mode:?}");

        let new = registry(&store, StreamCounts::with_schema(mode, WIDER));
        new.setup().await.unwrap();
        let status = new.status().await.unwrap();
        let summary: Vec<_> = status
            .iter()
            .map(|s| (s.version, s.status.as_str(), s.current))
            .collect();
        assert_eq!(
            summary,
            [(1, "live", false), (2, "building", true)],
            "{mode:?}"
        );

        // Writes meanwhile do not reach the stale version (its tables are
        // not the code's), neither inline nor through the runner, which
        // builds the new one: more events than one batch holds.
        for n in 0..10 {
            write_inline(&store, &new, "s1", n).await;
        }
        assert_eq!(counts(&db).await, before, "{mode:?}: inline writes");
        // Batch by batch until the swap, the stale version serves as it was.
        // (A transaction open elsewhere on the server may hold the batches
        // back; the swap may then come at the first one.)
        let mut batches = 0;
        while new.status().await.unwrap()[0].version == 1 {
            assert_eq!(
                counts(&db).await,
                before,
                "{mode:?}: the stale version serves as it was"
            );
            assert!(batches < 10, "{mode:?}: no swap after {batches} batches");
            new.run_once().await.unwrap();
            batches += 1;
        }

        catch_up(&new).await;
        let status = new.status().await.unwrap();
        assert_eq!(status.len(), 1, "{mode:?}: {status:?}");
        assert_eq!((status[0].version, status[0].current), (2, true));
        assert_eq!(counts(&db).await, truth(&db).await, "{mode:?}");
        let widened: bool = sqlx::query_scalar(
            "select exists (select 1 from information_schema.columns
                            where table_schema = 'stream_counts' and table_name = 'counts'
                              and column_name = 'note')",
        )
        .fetch_one(&db.pool)
        .await
        .unwrap();
        assert!(widened, "{mode:?}: readers see the new tables");

        // Going back to the old release builds its DDL again.
        old.setup().await.unwrap();
        catch_up(&old).await;
        let status = old.status().await.unwrap();
        assert_eq!((status.len(), status[0].version), (1, 3), "{mode:?}");
        assert_eq!(counts(&db).await, truth(&db).await, "{mode:?}");
    }
}

/// A version under construction that another release began (another DDL)
/// is dropped, not finished, when a rebuild starts.
#[tokio::test]
async fn a_rebuild_drops_a_version_begun_with_another_schema() {
    let db = TestDb::new().await;
    let store = db.store();
    let old = registry(&store, StreamCounts::healthy(Mode::Async));
    old.setup().await.unwrap();
    write(&store, 2, 2).await;
    catch_up(&old).await;
    assert_eq!(old.begin_rebuild("stream_counts").await.unwrap(), 2);

    let new = registry(
        &store,
        StreamCounts::with_schema(
            Mode::Async,
            "create table counts (stream_id text primary key, events bigint not null, note text);
         create table applied (event_id uuid primary key)",
        ),
    );
    let report = new.rebuild("stream_counts", false).await.unwrap();
    assert_eq!((report.version, report.events), (3, 4));
    let versions: Vec<(i32, String)> =
        sqlx::query_as("select version, status from projection_checkpoints order by version")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(
        versions,
        [
            (1, "retired".into()),
            (2, "retired".into()),
            (3, "live".into())
        ]
    );
    let stale_schema: bool = sqlx::query_scalar(
        "select exists (select 1 from pg_namespace where nspname = 'stream_counts_v2')",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert!(!stale_schema);
    assert_eq!(counts(&db).await, truth(&db).await);
}

/// Versions made before their DDL's hash was recorded: one whose tables are
/// what the code's DDL makes is kept, another is rebuilt.
#[tokio::test]
async fn a_version_without_a_hash_is_kept_when_its_tables_match_the_code() {
    let db = TestDb::new().await;
    let store = db.store();
    let p = StreamCounts::healthy(Mode::Async);
    let projections = registry(&store, p.clone());
    projections.setup().await.unwrap();
    write(&store, 2, 2).await;
    catch_up(&projections).await;
    let forget = "update projection_checkpoints set schema_hash = null";
    sqlx::query(forget).execute(&db.pool).await.unwrap();
    assert!(!projections.status().await.unwrap()[0].current);

    projections.setup().await.unwrap();
    let status = projections.status().await.unwrap();
    assert_eq!(status.len(), 1, "{status:?}");
    assert!(status[0].current, "same tables: kept, {status:?}");
    let probe: bool = sqlx::query_scalar(
        "select exists (select 1 from pg_namespace where nspname = 'passerelle_ddl_probe')",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert!(!probe, "the comparison leaves nothing behind");

    sqlx::query(forget).execute(&db.pool).await.unwrap();
    let wider = registry(
        &store,
        StreamCounts::with_schema(
            Mode::Async,
            "create table counts (stream_id text primary key, events bigint not null);
             create table applied (event_id uuid primary key, note text)",
        ),
    );
    wider.setup().await.unwrap();
    let summary: Vec<_> = wider
        .status()
        .await
        .unwrap()
        .iter()
        .map(|s| (s.version, s.status.clone(), s.current))
        .collect();
    assert_eq!(
        summary,
        [
            (1, "live".to_owned(), false),
            (2, "building".to_owned(), true)
        ]
    );
}

/// A release whose projection a newer release rebuilt with other tables is
/// told so (and its replicas fenced), before and after the swap; once it
/// sets up its own version again (a rollback), the other is the older one.
#[tokio::test]
async fn a_release_is_told_when_a_newer_one_rebuilt_its_projection() {
    const WIDER: &str = "create table counts (stream_id text primary key, events bigint not null,
                                               note text);
         create table applied (event_id uuid primary key)";
    let db = TestDb::new().await;
    let store = db.store();
    let old = registry(&store, StreamCounts::healthy(Mode::Async));
    old.setup().await.unwrap();
    write(&store, 2, 3).await;
    catch_up(&old).await;
    assert!(old.newer_release().await.unwrap().is_empty());

    let new = registry(&store, StreamCounts::with_schema(Mode::Async, WIDER));
    // A release that changed the DDL and has not set up yet is not older.
    assert!(new.newer_release().await.unwrap().is_empty());
    new.setup().await.unwrap();
    assert_eq!(old.newer_release().await.unwrap(), ["stream_counts"]);
    assert!(new.newer_release().await.unwrap().is_empty());
    catch_up(&new).await;
    assert_eq!(
        old.newer_release().await.unwrap(),
        ["stream_counts"],
        "after the swap too"
    );

    old.setup().await.unwrap();
    assert!(old.newer_release().await.unwrap().is_empty());
    assert_eq!(new.newer_release().await.unwrap(), ["stream_counts"]);
}

/// Counts the events of the streams `keep` picks, under its own name: the
/// runner gives it only those.
struct Picky {
    name: &'static str,
    mode: Mode,
    keep: fn(&str) -> bool,
}

#[async_trait]
impl Projection for Picky {
    fn name(&self) -> &'static str {
        self.name
    }
    fn schema_sql(&self) -> &'static str {
        SCHEMA
    }
    fn mode(&self) -> Mode {
        self.mode
    }
    fn handles(&self, event: &RecordedEvent) -> bool {
        (self.keep)(&event.stream_id)
    }
    async fn apply(
        &self,
        conn: &mut PgConnection,
        events: &[RecordedEvent],
    ) -> Result<(), ProjectionError> {
        if let Some(e) = events.iter().find(|e| !self.handles(e)) {
            return Err(format!("{} was given {}", self.name, e.stream_id).into());
        }
        StreamCounts::healthy(self.mode).apply(conn, events).await
    }
}

fn odd(stream: &str) -> bool {
    stream.ends_with(['1', '3', '5'])
}

fn low(stream: &str) -> bool {
    ["s0", "s1", "s2"].contains(&stream)
}

/// Every stream's count, and the log's truth, of the streams `keep` picks.
async fn truth_of(db: &TestDb, keep: fn(&str) -> bool) -> Vec<(String, i64)> {
    truth(db)
        .await
        .into_iter()
        .filter(|(s, _)| keep(s))
        .collect()
}

/// Projections reading all the events, some, and none: inline and async.
fn several(store: &Store, config: RunnerConfig) -> Projections {
    Projections::new(
        store.clone(),
        vec![
            StreamCounts::healthy(Mode::Inline) as Arc<dyn Projection>,
            Arc::new(Picky {
                name: "odd_counts",
                mode: Mode::Async,
                keep: odd,
            }),
            Arc::new(Picky {
                name: "low_counts",
                mode: Mode::Inline,
                keep: low,
            }),
            Arc::new(Picky {
                name: "no_counts",
                mode: Mode::Async,
                keep: |_| false,
            }),
        ],
        config,
    )
}

/// Each projection's rows, read from its stable schema or one of its versions.
async fn every_count(db: &TestDb, version: Option<i32>) -> Vec<Vec<(String, i64)>> {
    let mut all = Vec::new();
    for name in ["stream_counts", "odd_counts", "low_counts", "no_counts"] {
        let schema = version.map_or(name.to_owned(), |v| format!("{name}_v{v}"));
        all.push(counts_in(db, &schema).await);
    }
    all
}

async fn every_truth(db: &TestDb) -> Vec<Vec<(String, i64)>> {
    vec![
        truth(db).await,
        truth_of(db, odd).await,
        truth_of(db, low).await,
        Vec::new(),
    ]
}

/// Appends that apply the inline projections keep coming while every
/// projection is rebuilt in one pass over the log: each new version ends
/// with every event it handles, once, the same rows as the live versions
/// kept event by event.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_projection_is_rebuilt_in_one_pass_under_write_load() {
    let db = TestDb::new().await;
    let store = db.store();
    let projections = several(&store, config());
    projections.setup().await.unwrap();
    for n in 0..40 {
        write_inline(&store, &projections, &format!("s{}", n % 7), n).await;
    }
    catch_up(&projections).await;
    let live = every_count(&db, None).await;
    assert_eq!(live, every_truth(&db).await);
    let writer = {
        let (store, projections) = (store.clone(), projections.clone());
        tokio::spawn(async move {
            for n in 0..300 {
                write_inline(&store, &projections, &format!("s{}", n % 7), n).await;
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let report = projections.rebuild_all(&[], false).await.unwrap();
    writer.await.unwrap();
    catch_up(&projections).await;
    assert_eq!(
        report
            .projections
            .iter()
            .map(|s| (s.projection, s.version))
            .collect::<Vec<_>>(),
        [
            ("stream_counts", 2),
            ("odd_counts", 2),
            ("low_counts", 2),
            ("no_counts", 2)
        ]
    );
    assert!(report.events >= 40, "{report:?}");
    assert!(
        report.projections.iter().all(|s| s.events == report.events),
        "each went past every event read: {report:?}"
    );
    assert_eq!(report.projections[3].handled, 0);
    assert_eq!(every_count(&db, None).await, every_truth(&db).await);
    assert_eq!(every_count(&db, Some(2)).await, every_truth(&db).await);
    let old_schemas: i64 = sqlx::query_scalar(
        "select count(*) from pg_namespace where nspname like '%\\_counts\\_v1'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(old_schemas, 0, "the retired versions' tables are dropped");
}

/// A one-pass rebuild resumes versions already begun, each from its own
/// checkpoint, and one event per batch builds what one batch does.
#[tokio::test]
async fn a_one_pass_rebuild_resumes_versions_begun_and_reads_any_batch_size() {
    let db = TestDb::new().await;
    let store = db.store();
    let projections = several(&store, config());
    projections.setup().await.unwrap();
    for n in 0..30 {
        write_inline(&store, &projections, &format!("s{}", n % 7), n).await;
    }
    catch_up(&projections).await;
    assert_eq!(projections.begin_rebuild("odd_counts").await.unwrap(), 2);
    let odd_counts = Picky {
        name: "odd_counts",
        mode: Mode::Async,
        keep: odd,
    };
    assert_eq!(
        projections.process_batch(&odd_counts, 2, 5).await.unwrap(),
        Batch::Applied(5)
    );
    let report = projections
        .rebuild_all(&["stream_counts", "odd_counts"], false)
        .await
        .unwrap();
    assert_eq!(report.events, 30);
    assert_eq!(
        report
            .projections
            .iter()
            .map(|s| (s.projection, s.version, s.events))
            .collect::<Vec<_>>(),
        [("stream_counts", 2, 30), ("odd_counts", 2, 25)]
    );
    assert_eq!(every_count(&db, None).await, every_truth(&db).await);

    for batch in [1, 1_000] {
        let projections = several(
            &store,
            RunnerConfig {
                rebuild_batch_size: batch,
                ..config()
            },
        );
        projections.rebuild_all(&[], false).await.unwrap();
        assert_eq!(
            every_count(&db, None).await,
            every_truth(&db).await,
            "{batch} events a batch"
        );
    }
}
