//! `passerelle bench store`: the store's appends and read-all beside raw
//! PostgreSQL doing the same work on the same server in the same run.
//!
//! The append baseline inserts rows of the same shape, into a table with the
//! same columns and indexes as `events`, with the same number of rows per
//! statement and the same number of concurrent connections (each writer's
//! own), writing each event's JSON out per insert and taking back where the
//! rows went, as an append does: what remains is the cost of the store
//! itself (the compare-and-set on the stream row, idempotency, metadata).
//! The read baseline streams the same rows with a plain sequential scan and
//! hands them over as owned values, in batches as read-all does.

use std::time::{Duration, Instant};

use futures::TryStreamExt;
use serde::Serialize;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use passerelle_store::{
    Append, ExpectedVersion, LogPosition, Metadata, NewEvent, Result, Store, StoreError, event_id,
};

#[derive(Debug, Clone)]
pub struct BenchConfig {
    pub writers: Vec<usize>,
    pub events_per_append: Vec<usize>,
    /// How long each measured run lasts.
    pub run_time: Duration,
    /// Runs per side and case, alternating store and raw so that the
    /// machine's drift (fsync latency, table growth) weighs on both alike.
    pub rounds: usize,
    /// Events in the log for the read-all measure.
    pub read_events: i64,
}

impl Default for BenchConfig {
    fn default() -> Self {
        Self {
            writers: vec![1, 8, 32],
            events_per_append: vec![1, 10],
            run_time: Duration::from_millis(1500),
            rounds: 4,
            read_events: 1_000_000,
        }
    }
}

impl BenchConfig {
    /// The pool the store's database needs: its command path has half of
    /// it, as many connections as the most writers, which is what the raw
    /// baseline has (each writer its own). Fewer would measure the pool's
    /// wait, not the store.
    pub fn pool_size(&self) -> u32 {
        let writers = self.writers.iter().copied().max().unwrap_or(1);
        u32::try_from(writers.saturating_mul(2)).unwrap_or(u32::MAX)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct AppendFigure {
    pub writers: usize,
    pub events_per_append: usize,
    pub store_events_per_s: f64,
    pub raw_events_per_s: f64,
    pub ratio: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReadFigure {
    pub events: i64,
    pub store_events_per_s: f64,
    pub raw_events_per_s: f64,
    pub ratio: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub appends: Vec<AppendFigure>,
    pub read_all: ReadFigure,
    /// Appends at least 0.85 × raw in every shape, read-all ≥ 300,000 events/s.
    pub targets_met: bool,
}

pub const APPEND_RATIO_TARGET: f64 = 0.85;
/// Events per read-all call, as a projection rebuild reads them.
const READ_BATCH: i64 = 10_000;
pub const READ_TARGET: f64 = 300_000.0;

fn payload(n: usize) -> Value {
    json!({
        "employer_id": "5b0c7a1e-3c1f-4c55-9d7e-0a4f1d2b9e11",
        "activities": "accueil des clients, mise en rayon, inventaire",
        "rome_codes": ["D1507", "D1106"],
        "headcount": 2,
        "n": n
    })
}

fn bench_metadata(command_id: Uuid) -> Metadata {
    Metadata {
        actor: "system:bench".into(),
        role: "admin".into(),
        structure: Uuid::from_u128(0xbe7c),
        correlation_id: command_id,
        causation_id: None,
        command_id,
    }
}

/// Runs every measure on the store's database, which must be freshly migrated
/// and used by nothing else. `progress` receives one line per finished measure.
pub async fn run(
    store: &Store,
    config: &BenchConfig,
    mut progress: impl FnMut(&str),
) -> Result<BenchReport> {
    let pool = store.pool();
    sqlx::query("create table bench_raw (like events including all)")
        .execute(pool)
        .await?;
    let mut appends = Vec::new();
    for &writers in &config.writers {
        for &per_append in &config.events_per_append {
            let mut raw = 0u64;
            let mut ours = 0u64;
            let mut elapsed_raw = Duration::ZERO;
            let mut elapsed_ours = Duration::ZERO;
            for round in 0..config.rounds {
                let (n, t) = raw_inserts(pool, writers, per_append, config.run_time).await?;
                raw += n;
                elapsed_raw += t;
                let (n, t) =
                    store_appends(store, writers, per_append, config.run_time, round).await?;
                ours += n;
                elapsed_ours += t;
            }
            let figure = AppendFigure {
                writers,
                events_per_append: per_append,
                store_events_per_s: ours as f64 / elapsed_ours.as_secs_f64(),
                raw_events_per_s: raw as f64 / elapsed_raw.as_secs_f64(),
                ratio: 0.0,
            };
            let figure = AppendFigure {
                ratio: figure.store_events_per_s / figure.raw_events_per_s,
                ..figure
            };
            progress(&format!(
                "appends {writers:>2} writers x {per_append:>2} events: store {:>9.0}/s raw {:>9.0}/s ratio {:.2}",
                figure.store_events_per_s, figure.raw_events_per_s, figure.ratio
            ));
            appends.push(figure);
        }
    }
    let read_all = read_measure(store, config.read_events, &mut progress).await?;
    let targets_met = appends.iter().all(|a| a.ratio >= APPEND_RATIO_TARGET)
        && read_all.store_events_per_s >= READ_TARGET;
    Ok(BenchReport {
        appends,
        read_all,
        targets_met,
    })
}

/// Events appended through the store by `writers` concurrent writers, each
/// on a stream of its own, for `run_time`: the store's own rate, the
/// baseline other benchmarks compare against.
pub async fn store_appends(
    store: &Store,
    writers: usize,
    per_append: usize,
    run_time: Duration,
    round: usize,
) -> Result<(u64, Duration)> {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let stream = format!("bench-{writers}-{per_append}-{round}-{w}");
            let events: Vec<NewEvent> = (0..per_append)
                .map(|i| NewEvent::new("NeedSurfaced", 1, payload(i)))
                .collect();
            let mut version = 0i64;
            let mut written = 0u64;
            while started.elapsed() < run_time {
                let metadata = bench_metadata(Uuid::new_v4());
                let result = store
                    .append(&Append {
                        stream_id: &stream,
                        expected: ExpectedVersion::Exact(version),
                        events: &events,
                        metadata: &metadata,
                        recorded_at: None,
                    })
                    .await?;
                version = result.stream_version;
                written += per_append as u64;
            }
            Ok::<u64, StoreError>(written)
        }));
    }
    Ok((join_writers(tasks).await?, started.elapsed()))
}

async fn raw_inserts(
    pool: &PgPool,
    writers: usize,
    per_append: usize,
    run_time: Duration,
) -> Result<(u64, Duration)> {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let pool = pool.clone();
        tasks.push(tokio::spawn(async move {
            // A connection of its own for the run, as the store's appends
            // keep theirs warm: no pool's check between two inserts.
            let mut conn = pool.acquire().await?;
            let stream = format!("raw-{}-{w}", Uuid::new_v4());
            // The events as the writer has them, written out for each
            // insert as the store writes them out for each append.
            let payloads: Vec<Value> = (0..per_append).map(payload).collect();
            let types = vec!["NeedSurfaced"; per_append];
            let schema_versions = vec![1i32; per_append];
            let mut version = 0i64;
            let mut written = 0u64;
            while started.elapsed() < run_time {
                let command_id = Uuid::new_v4();
                let ids: Vec<Uuid> = (0..per_append).map(|i| event_id(command_id, i)).collect();
                let metadata = bench_metadata(command_id);
                let datas: Vec<String> = payloads.iter().map(Value::to_string).collect();
                // Where the events went, as an append tells its caller.
                let appended: Vec<(i64, i64, time::OffsetDateTime)> = sqlx::query_as(
                    "insert into bench_raw (tenant, stream_id, version, event_id, event_type, schema_version, data,
                                            actor, role, correlation_id, causation_id, command_id)
                     select $1, $2, $3 + e.ord, e.event_id, e.event_type, e.schema_version, e.data::json,
                            $8, $9, $10, $11, $12
                     from unnest($4::uuid[], $5::text[], $6::int4[], $7::text[])
                         with ordinality as e(event_id, event_type, schema_version, data, ord)
                     returning global_position, transaction_id, recorded_at",
                )
                .bind(Uuid::from_u128(0xbe7c))
                .bind(&stream)
                .bind(version)
                .bind(&ids)
                .bind(&types)
                .bind(&schema_versions)
                .bind(&datas)
                .bind(&metadata.actor)
                .bind(&metadata.role)
                .bind(metadata.correlation_id)
                .bind(metadata.causation_id)
                .bind(metadata.command_id)
                .fetch_all(&mut *conn)
                .await?;
                std::hint::black_box(&appended);
                version += per_append as i64;
                written += per_append as u64;
            }
            Ok::<u64, StoreError>(written)
        }));
    }
    Ok((join_writers(tasks).await?, started.elapsed()))
}

/// Events written by all writers of one run.
async fn join_writers(tasks: Vec<tokio::task::JoinHandle<Result<u64>>>) -> Result<u64> {
    let mut total = 0;
    for t in tasks {
        total += t.await.expect("bench writer panicked")?;
    }
    Ok(total)
}

async fn read_measure(
    store: &Store,
    target: i64,
    progress: &mut impl FnMut(&str),
) -> Result<ReadFigure> {
    let pool = store.pool();
    let present: i64 = sqlx::query_scalar("select count(*) from events")
        .fetch_one(pool)
        .await?;
    let missing = (target - present).max(0);
    let started = Instant::now();
    let chunk = 100_000i64;
    let mut made = 0;
    while made < missing {
        let n = chunk.min(missing - made);
        sqlx::query(
            "insert into events (tenant, stream_id, version, event_id, event_type, schema_version, data,
                                 actor, role, correlation_id, command_id)
             select $1, 'fill-' || ((i - 1) / 10), ((i - 1) % 10) + 1, gen_random_uuid(), 'NeedSurfaced', 1,
                    json_build_object('employer_id', gen_random_uuid(), 'activities', 'accueil des clients, mise en rayon',
                                       'rome_codes', json_build_array('D1507', 'D1106'), 'headcount', 2, 'n', i),
                    'system:bench', 'admin', $2, gen_random_uuid()
             from generate_series($3::bigint + 1, $3::bigint + $4) i",
        )
        .bind(Uuid::from_u128(0xbe7c))
        .bind(Uuid::new_v4())
        .bind(made)
        .bind(n)
        .execute(pool)
        .await?;
        made += n;
    }
    if missing > 0 {
        sqlx::query("vacuum analyze events").execute(pool).await?;
        progress(&format!(
            "filled {missing} events in {:.1} s",
            started.elapsed().as_secs_f64()
        ));
    }
    let total: i64 = sqlx::query_scalar("select count(*) from events")
        .fetch_one(pool)
        .await?;

    let (raw_count, raw_elapsed) = raw_scan(pool).await?;

    let mut conn = pool.acquire().await?;
    let started = Instant::now();
    let mut after = LogPosition::START;
    let mut read = 0i64;
    loop {
        let batch = store.read_all(&mut conn, after, READ_BATCH).await?;
        let Some(last) = batch.last() else { break };
        after = last.position;
        read += batch.len() as i64;
    }
    let elapsed = started.elapsed();
    let store_rate = read as f64 / elapsed.as_secs_f64();
    let raw_rate = raw_count as f64 / raw_elapsed.as_secs_f64();
    progress(&format!(
        "read-all {read} of {total} events: store {store_rate:>9.0}/s raw {raw_rate:>9.0}/s ratio {:.2}",
        store_rate / raw_rate
    ));
    Ok(ReadFigure {
        events: read,
        store_events_per_s: store_rate,
        raw_events_per_s: raw_rate,
        ratio: store_rate / raw_rate,
    })
}

/// The baseline of reading the log: one sequential scan of the events'
/// columns, each row decoded into owned values of the same Rust types and
/// handed over in batches of [`READ_BATCH`] rows, as read-all hands its
/// events over: the same rows and columns, the data as its text (as the
/// store takes it), without order, guard, upcasting or unsealing. Returns
/// the rows read and the time taken.
pub async fn raw_scan(pool: &PgPool) -> Result<(i64, Duration)> {
    type Head = (i64, i64, Uuid, String, i64, Uuid, String, i32);
    type Tail = (
        String,
        String,
        String,
        Uuid,
        Option<Uuid>,
        Uuid,
        time::OffsetDateTime,
    );
    let started = Instant::now();
    let mut raw_count = 0i64;
    let per_batch = usize::try_from(READ_BATCH).unwrap_or(1);
    let mut batch: Vec<(Head, Tail)> = Vec::with_capacity(per_batch);
    {
        let mut rows = sqlx::query(
            "select global_position, transaction_id, tenant, stream_id, version, event_id, event_type,
                    schema_version, data, actor, role, correlation_id, causation_id, command_id, recorded_at
             from events",
        )
        .fetch(pool);
        while let Some(row) = rows.try_next().await? {
            use sqlx::Row as _;
            let head: Head = (
                row.try_get(0)?,
                row.try_get(1)?,
                row.try_get(2)?,
                row.try_get(3)?,
                row.try_get(4)?,
                row.try_get(5)?,
                row.try_get(6)?,
                row.try_get(7)?,
            );
            // A `json` column is sent as its text.
            let data: &str = row.try_get_unchecked(8)?;
            let tail: Tail = (
                data.to_owned(),
                row.try_get(9)?,
                row.try_get(10)?,
                row.try_get(11)?,
                row.try_get(12)?,
                row.try_get(13)?,
                row.try_get(14)?,
            );
            batch.push((head, tail));
            raw_count += 1;
            if batch.len() == per_batch {
                std::hint::black_box(&batch);
                batch.clear();
            }
        }
    }
    std::hint::black_box(&batch);
    Ok((raw_count, started.elapsed()))
}
