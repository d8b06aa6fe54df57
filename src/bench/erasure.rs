//! `passerelle bench erasure`: erasing people of a seeded demo store
//! through the mutation's path, the time it takes, and the proof that every
//! dashboard reads the same figures afterwards (an erasure destroys the
//! person's data, never what they count for).
//!
//! The store is seeded like `bench dashboards` does, in a database of its
//! own (the erasures change it); `--reuse` keeps a store seeded by an
//! earlier run, with its key, and erases people not erased yet.

use std::sync::Arc;
use std::time::{Duration, Instant};

use passerelle_app::{Actor, CommandMeta, Handler, Role, SystemClock};
use passerelle_domain::person::ErasureReason;
use passerelle_domain::values::{PersonId, StructureId, UserId};
use passerelle_projections::dashboards::{self, Filter};
use passerelle_store::projection::Projections;
use serde::Serialize;
use time::{Duration as Days, OffsetDateTime};
use uuid::Uuid;

use crate::config::Config;
use crate::database::Database;

const NAME: &str = "passerelle_bench_erasure";
const KEY_FILE: &str = "bench-erasure.key";
/// Erasures carried out at once, each by a task of its own.
pub const CONCURRENT: usize = 4;

#[derive(Debug, Serialize)]
pub struct ErasureReport {
    /// Events in the store once the erasures are done.
    pub events: i64,
    pub seeded_now: bool,
    pub people: usize,
    pub concurrent: usize,
    /// The erasures alone, from the first to the last.
    pub erasures_s: f64,
    pub erasures_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// The projections caught up after the erasures.
    pub catch_up_s: f64,
    /// The dashboards' figures compared before and after.
    pub figures_compared: usize,
    /// The figures that differ (none when the erasures kept every count).
    pub differing: Vec<String>,
    /// Every dashboard equal, and the erasures under 30 s.
    pub targets_met: bool,
}

/// One dashboard figure: its name (query, filter, date) and its value.
type Figures = Vec<(String, String)>;

/// Every dashboard's figures, read by the queries the dashboards page uses,
/// plain, filtered and as of a year before `now`. Values are compared as
/// their debug text: the rows' types all print every field.
async fn figures(pool: &sqlx::PgPool, now: OffsetDateTime) -> anyhow::Result<Figures> {
    let past = Some(now - Days::days(365));
    let departement = Filter {
        departement: Some("44".into()),
        ..Filter::default()
    };
    let objective = Filter {
        departement: Some("44".into()),
        objective: Some(passerelle_domain::immersion::Objective::DiscoverJobOrSector),
        ..Filter::default()
    };
    let young = Filter {
        departement: Some("44".into()),
        age_band: Some(passerelle_domain::values::AgeBand::Under26),
        ..Filter::default()
    };
    let mut all = Figures::new();
    let mut put = |name: String, value: String| all.push((name, value));
    for (label, f, as_of) in [
        ("", Filter::default(), None),
        (" filtered", objective.clone(), None),
        (" as of a year ago", Filter::default(), past),
        (" filtered, as of a year ago", objective.clone(), past),
    ] {
        let v = dashboards::funnel(pool, &f, as_of).await?;
        put(format!("immersionFunnel{label}"), format!("{v:?}"));
        let v = dashboards::outcomes(pool, &f, as_of).await?;
        put(format!("immersionOutcomes{label}"), format!("{v:?}"));
    }
    for (label, f, as_of) in [
        ("", Filter::default(), None),
        (" filtered", departement.clone(), None),
        (" as of a year ago", Filter::default(), past),
    ] {
        let v = dashboards::needs_conversion(pool, &f, as_of).await?;
        put(format!("needsConversion{label}"), format!("{v:?}"));
        let v = dashboards::employer_engagement(pool, &f, as_of, now).await?;
        put(format!("employerEngagement{label}"), format!("{v:?}"));
    }
    for (label, f, as_of) in [
        ("", Filter::default(), None),
        (" filtered", young.clone(), None),
        (" filtered, as of a year ago", young.clone(), past),
        (" as of a year ago", Filter::default(), past),
    ] {
        let v = dashboards::project_readjustments(pool, &f, as_of).await?;
        put(format!("projectReadjustments{label}"), format!("{v:?}"));
    }
    Ok(all)
}

/// `n` people not erased yet, each with their structure: the same ones
/// for the same store (ordered by a hash of their id, which spreads them
/// over territories and years rather than taking the first enrolled).
async fn pick(pool: &sqlx::PgPool, n: usize) -> anyhow::Result<Vec<(Uuid, Uuid)>> {
    Ok(sqlx::query_as(
        "select person_id, structure from people.people where not erased
         order by md5(person_id::text) limit $1",
    )
    .bind(i64::try_from(n)?)
    .fetch_all(pool)
    .await?)
}

/// A manager of `structure`: the demo seeds mediators only, and the
/// command path records the actor without looking them up.
fn manager_of(structure: Uuid) -> UserId {
    UserId(Uuid::new_v5(&structure, b"bench-erasure-manager"))
}

/// Erases `people` through `personErase`'s path, `CONCURRENT` at a time;
/// each erasure's latency.
async fn erase_all(
    projections: &Arc<Projections>,
    people: Vec<(Uuid, Uuid)>,
) -> anyhow::Result<Vec<Duration>> {
    let people = Arc::new(people);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..CONCURRENT {
        let (people, next) = (people.clone(), next.clone());
        let handler = Handler::new(projections.clone(), Arc::new(SystemClock));
        tasks.spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(&(person, structure)) = people.get(i) else {
                    return Ok::<_, anyhow::Error>(latencies);
                };
                let by = manager_of(structure);
                let meta = CommandMeta {
                    command_id: Uuid::now_v7(),
                    correlation_id: Uuid::now_v7(),
                    causation_id: None,
                    actor: Actor::user(by, Role::Manager, StructureId(structure)),
                };
                let started = Instant::now();
                passerelle_graphql::erasure::erase_person(
                    &handler,
                    PersonId(person),
                    by,
                    ErasureReason::PersonRequest,
                    None,
                    &meta,
                )
                .await?;
                latencies.push(started.elapsed());
            }
        });
    }
    let mut all = Vec::with_capacity(people.len());
    while let Some(done) = tasks.join_next().await {
        all.extend(done??);
    }
    Ok(all)
}

pub async fn run(
    config: &Config,
    db: &Database,
    people: usize,
    events: i64,
    reuse: bool,
) -> anyhow::Result<ErasureReport> {
    let super::seeding::Seeded {
        pool,
        projections,
        seeded_now,
        ..
    } = super::seeding::seeded(
        config,
        db,
        NAME,
        KEY_FILE,
        events,
        super::seeding::TEMPLATE_EVENTS,
        reuse,
    )
    .await?;

    // One instant for both readings: the figures counted up to "now"
    // (employers' answer times) must not move with the clock.
    let now = OffsetDateTime::now_utc();
    let before = figures(&pool, now).await?;
    let chosen = pick(&pool, people).await?;
    anyhow::ensure!(
        chosen.len() == people,
        "the store holds {} people not erased, fewer than {people}: seed more --events",
        chosen.len()
    );
    println!("erasing {people} people, {CONCURRENT} at a time");
    let started = Instant::now();
    let mut latencies = erase_all(&projections, chosen).await?;
    let erasures = started.elapsed();
    let started = Instant::now();
    projections.catch_up().await?;
    let catch_up = started.elapsed();
    let after = figures(&pool, now).await?;
    let total = super::seeding::count_events(&pool).await?;
    pool.close().await;

    let differing: Vec<String> = before
        .iter()
        .zip(&after)
        .filter(|(b, a)| b != a)
        .map(|((name, b), (_, a))| format!("{name}: before {b}, after {a}"))
        .collect();
    latencies.sort_unstable();
    let erasures_s = erasures.as_secs_f64();
    Ok(ErasureReport {
        events: total,
        seeded_now,
        people,
        concurrent: CONCURRENT,
        erasures_s,
        erasures_per_s: people as f64 / erasures_s,
        p50_ms: super::percentile(&latencies, 0.5),
        p99_ms: super::percentile(&latencies, 0.99),
        catch_up_s: catch_up.as_secs_f64(),
        figures_compared: before.len(),
        targets_met: differing.is_empty() && erasures_s < 30.0,
        differing,
    })
}
