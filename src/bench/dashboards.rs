//! `passerelle bench dashboards`: each dashboard query's p50/p95 (plain,
//! filtered, as of a past day), the rate of a rebuild of every projection in
//! one pass (with each one's share of the time) and the rebuild rate of
//! every projection alone, on a seeded store, beside a raw sequential read
//! of the same events in the same run.
//!
//! The store is seeded as [`super::seeding`] says: demo histories through
//! the command path, then copies of them for a larger store. `--reuse`
//! keeps a store seeded by an earlier run, with its key, and grows it to
//! `--events`: the cost curve is measured on one store, grown from size to
//! size.

use std::time::{Duration, Instant};

use passerelle_projections::dashboards::{self, Filter};
use passerelle_store::projection::Projections;
use serde::Serialize;
use time::{Duration as Days, OffsetDateTime};
use uuid::Uuid;

use crate::config::Config;
use crate::database::Database;

/// The store's database, which `bench pages` reads too.
pub(super) const NAME: &str = "passerelle_bench_dashboards";
pub(super) const KEY_FILE: &str = "bench-dashboards.key";
/// Each figure's p95, plain or filtered, and "as of" a past day; the log's
/// events per second through the one-pass rebuild of every projection.
pub const QUERY_TARGET_MS: f64 = 25.0;
pub const AS_OF_TARGET_MS: f64 = 100.0;
pub const REBUILD_TARGET: f64 = 100_000.0;

#[derive(Debug, Serialize)]
pub struct QueryFigure {
    pub query: String,
    pub as_of: bool,
    pub p50_ms: f64,
    pub p95_ms: f64,
}

#[derive(Debug, Serialize)]
pub struct RebuildFigure {
    pub projection: String,
    pub events: i64,
    pub events_per_s: f64,
}

/// One projection's part of the one-pass rebuild.
#[derive(Debug, Serialize)]
pub struct PassShareFigure {
    pub projection: String,
    /// Events it handles, of those read.
    pub handled: i64,
    /// Time in its batches' transactions, summed (beside the others').
    pub apply_s: f64,
    /// Its part of every projection's apply time.
    pub apply_share: f64,
    /// Batches it was the last to commit, holding up the pass.
    pub slowest_batches: usize,
    pub swap_s: f64,
}

/// Every projection rebuilt together, the log read once.
#[derive(Debug, Serialize)]
pub struct OnePassFigure {
    pub events: i64,
    /// Until every version is live, swaps included.
    pub seconds: f64,
    /// The pass over the log alone.
    pub pass_seconds: f64,
    /// The log's events over `seconds`.
    pub events_per_s: f64,
    /// Of the raw sequential read's rate.
    pub of_raw: f64,
    /// The log's events times the projections over `seconds`: comparable
    /// with `rebuild_all_events_per_s`.
    pub projection_events_per_s: f64,
    /// Time the pass waited for reads its applies did not hide.
    pub read_wait_s: f64,
    pub shares: Vec<PassShareFigure>,
    /// The projection with the most apply time.
    pub slowest: String,
}

#[derive(Debug, Serialize)]
pub struct DashboardsReport {
    pub events: i64,
    pub seeded_now: bool,
    pub raw_read_events_per_s: f64,
    pub rebuilds: Vec<RebuildFigure>,
    /// Every projection rebuilt one after the other: the log's events times
    /// the projections, over the total time (0 with `--no-rebuild-each`).
    pub rebuild_all_events_per_s: f64,
    pub one_pass: OnePassFigure,
    pub queries: Vec<QueryFigure>,
    pub targets_met: bool,
}

/// Runs `query` `samples` times; its p50 and p95.
async fn measure<F, Fut>(
    name: &str,
    as_of: bool,
    samples: usize,
    query: F,
) -> anyhow::Result<QueryFigure>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    query().await?; // warm-up: plans and caches
    let mut times = Vec::with_capacity(samples);
    for _ in 0..samples {
        let started = Instant::now();
        query().await?;
        times.push(started.elapsed());
    }
    times.sort_unstable();
    let figure = QueryFigure {
        query: name.to_owned(),
        as_of,
        p50_ms: super::percentile(&times, 0.5),
        p95_ms: super::percentile(&times, 0.95),
    };
    println!(
        "{:<48} p50 {:>7.2} ms  p95 {:>7.2} ms",
        figure.query, figure.p50_ms, figure.p95_ms
    );
    Ok(figure)
}

/// Every projection rebuilt in one pass over the log, with its progress
/// bar as `projections rebuild --all` draws it (on a terminal only).
async fn one_pass(projections: &Projections, raw_rate: f64) -> anyhow::Result<OnePassFigure> {
    let report = projections.rebuild_all(&[], true).await?;
    let seconds = report.elapsed.as_secs_f64();
    let rate = report.events as f64 / seconds;
    let applying: f64 = report
        .projections
        .iter()
        .map(|s| s.apply.as_secs_f64())
        .sum();
    println!(
        "rebuild of every projection in one pass: {} events in {seconds:.1} s (pass {:.1} s, read wait {:.1} s): {rate:.0} events/s, {:.2} of raw, {:.0} projection-events/s",
        report.events,
        report.pass.as_secs_f64(),
        report.read_wait.as_secs_f64(),
        rate / raw_rate,
        rate * report.projections.len() as f64,
    );
    let shares: Vec<PassShareFigure> = report
        .projections
        .iter()
        .map(|s| PassShareFigure {
            projection: s.projection.to_owned(),
            handled: s.handled,
            apply_s: s.apply.as_secs_f64(),
            apply_share: s.apply.as_secs_f64() / applying.max(f64::EPSILON),
            slowest_batches: s.slowest_batches,
            swap_s: s.swap.as_secs_f64(),
        })
        .collect();
    for s in &shares {
        println!(
            "  {:<16} {:>8} events handled, applying {:>6.1} s ({:>4.1} %), last of {:>3} batches, swap {:.1} s",
            s.projection,
            s.handled,
            s.apply_s,
            s.apply_share * 100.0,
            s.slowest_batches,
            s.swap_s
        );
    }
    let slowest = shares
        .iter()
        .max_by(|a, b| a.apply_s.total_cmp(&b.apply_s))
        .map(|s| s.projection.clone())
        .unwrap_or_default();
    println!("slowest to apply: {slowest}");
    Ok(OnePassFigure {
        events: report.events,
        seconds,
        pass_seconds: report.pass.as_secs_f64(),
        events_per_s: rate,
        of_raw: rate / raw_rate,
        projection_events_per_s: rate * report.projections.len() as f64,
        read_wait_s: report.read_wait.as_secs_f64(),
        shares,
        slowest,
    })
}

pub async fn run(
    config: &Config,
    db: &Database,
    events: i64,
    template: i64,
    reuse: bool,
    samples: usize,
    rebuild_each: bool,
) -> anyhow::Result<DashboardsReport> {
    let super::seeding::Seeded {
        pool,
        projections,
        events: total,
        seeded_now,
    } = super::seeding::seeded(config, db, NAME, KEY_FILE, events, template, reuse).await?;

    let (read, elapsed) = super::store::raw_scan(&pool).await?;
    let raw_rate = read as f64 / elapsed.as_secs_f64();
    println!("raw sequential read: {raw_rate:.0} events/s");

    let one_pass = one_pass(&projections, raw_rate).await?;

    let mut rebuilds = Vec::new();
    let (mut all_events, mut all_time) = (0i64, Duration::ZERO);
    let each = passerelle_projections::all();
    for name in each.iter().map(|p| p.name()).filter(|_| rebuild_each) {
        // With its progress bar, as `projections rebuild` runs it (drawn
        // on a terminal only).
        let report = projections.rebuild(name, true).await?;
        let rate = report.events as f64 / report.elapsed.as_secs_f64();
        println!(
            "rebuild {name:<16} {} events, {rate:.0} events/s",
            report.events
        );
        all_events += report.events;
        all_time += report.elapsed;
        rebuilds.push(RebuildFigure {
            projection: name.to_owned(),
            events: report.events,
            events_per_s: rate,
        });
    }
    let rebuild_all = all_events as f64 / all_time.as_secs_f64().max(f64::EPSILON);

    let now = OffsetDateTime::now_utc();
    let past = now - Days::days(365);
    let filtered = Filter {
        departement: Some("44".into()),
        objective: Some(passerelle_domain::immersion::Objective::DiscoverJobOrSector),
        ..Filter::default()
    };
    let territorial = Filter {
        departement: Some("44".into()),
        ..Filter::default()
    };
    let people = Filter {
        departement: Some("44".into()),
        age_band: Some(passerelle_domain::values::AgeBand::Under26),
        ..Filter::default()
    };
    let mut queries = Vec::new();
    for (label, filter, as_of) in [
        ("", Filter::default(), None),
        (" filtered", filtered.clone(), None),
        (" as of a year ago", Filter::default(), Some(past)),
        (" filtered, as of a year ago", filtered.clone(), Some(past)),
    ] {
        let (pool, f) = (&pool, &filter);
        queries.push(
            measure(
                &format!("immersionFunnel{label}"),
                as_of.is_some(),
                samples,
                || async move {
                    dashboards::funnel(pool, f, as_of).await?;
                    Ok(())
                },
            )
            .await?,
        );
        queries.push(
            measure(
                &format!("immersionOutcomes{label}"),
                as_of.is_some(),
                samples,
                || async move {
                    dashboards::outcomes(pool, f, as_of).await?;
                    Ok(())
                },
            )
            .await?,
        );
    }
    for (label, filter, as_of) in [
        ("", Filter::default(), None),
        (" filtered", territorial.clone(), None),
        (" as of a year ago", Filter::default(), Some(past)),
    ] {
        let (pool, f) = (&pool, &filter);
        queries.push(
            measure(
                &format!("needsConversion{label}"),
                as_of.is_some(),
                samples,
                || async move {
                    dashboards::needs_conversion(pool, f, as_of).await?;
                    Ok(())
                },
            )
            .await?,
        );
        queries.push(
            measure(
                &format!("employerEngagement{label}"),
                as_of.is_some(),
                samples,
                || async move {
                    dashboards::employer_engagement(pool, f, as_of, now).await?;
                    Ok(())
                },
            )
            .await?,
        );
    }
    for (label, filter, as_of) in [
        ("", Filter::default(), None),
        (" filtered", people.clone(), None),
        (" as of a year ago", Filter::default(), Some(past)),
    ] {
        let (pool, f) = (&pool, &filter);
        queries.push(
            measure(
                &format!("projectReadjustments{label}"),
                as_of.is_some(),
                samples,
                || async move {
                    dashboards::project_readjustments(pool, f, as_of).await?;
                    Ok(())
                },
            )
            .await?,
        );
    }
    // The mediator with the most immersions (the first by id among equals):
    // the same inbox at every size of the cost curve, where an arbitrary
    // row picked a different one from run to run.
    let (mediator, structure): (Uuid, Uuid) = sqlx::query_as(
        "select mediator, structure from inbox.immersions where mediator is not null
         group by mediator, structure order by count(*) desc, mediator limit 1",
    )
    .fetch_one(&pool)
    .await?;
    {
        let pool = &pool;
        queries.push(
            measure("inbox of one mediator", false, samples, || async move {
                let facts = passerelle_projections::inbox::facts(pool, mediator, structure).await?;
                passerelle_projections::inbox::tasks(&facts, now.date(), now);
                Ok(())
            })
            .await?,
        );
    }
    pool.close().await;
    let targets_met = one_pass.events_per_s >= REBUILD_TARGET
        && queries.iter().all(|q| {
            q.p95_ms
                < if q.as_of {
                    AS_OF_TARGET_MS
                } else {
                    QUERY_TARGET_MS
                }
        });
    Ok(DashboardsReport {
        events: total,
        seeded_now,
        raw_read_events_per_s: raw_rate,
        rebuilds,
        rebuild_all_events_per_s: rebuild_all,
        one_pass,
        queries,
        targets_met,
    })
}
