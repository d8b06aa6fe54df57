//! The benchmarks' seeded store: demo histories carried out through the
//! command path, so the domain's rules hold for every event, up to a
//! template of [`TEMPLATE_EVENTS`] (or `--template-events`); beyond it, copies of that template under
//! fresh identities, appended through the store in large transactions.
//!
//! A copy is the template's events in their order, every id (aggregate,
//! structure, user, command, correlation) moved by a mask of its own and
//! every SIRET drawn anew, still valid and unique in the log; dates and
//! personal values are the template's, sealed again with the copy's
//! subjects' own keys. Each copy is thus a history the command path could
//! have written, of other structures in the same départements: a store of
//! ten million events is written in minutes instead of hours. The copies
//! skip the inline views, so every projection is rebuilt once they are
//! written, and the whole funnel is checked to have grown by exactly as
//! many templates.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use passerelle_app::{Aggregate, Clock as _, FixedClock, Handler, SystemClock};
use passerelle_demo::{Options, Staff};
use passerelle_domain::Decider;
use passerelle_domain::employer::Employer;
use passerelle_domain::immersion::Immersion;
use passerelle_domain::need::Need;
use passerelle_domain::person::Person;
use passerelle_domain::testimony::Testimony;
use passerelle_domain::values::{Siret, StructureId, UserId};
use passerelle_projections::dashboards::{self, Filter};
use passerelle_store::projection::Projections;
use passerelle_store::{
    Append, ExpectedVersion, Keyring, LogPosition, MIGRATOR, MasterKey, Metadata, NewEvent,
    RecordedEvent, Store,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::Connection as _;
use uuid::Uuid;

use crate::config::Config;
use crate::database::{self, Database};

/// Events seeded through the command path at most, unless told otherwise:
/// a larger store is this template and copies of it.
pub const TEMPLATE_EVENTS: i64 = 250_000;
/// Events a copy appends per transaction.
const COPY_TRANSACTION_EVENTS: usize = 2_000;
/// Copies written at once, each on its own connection.
const COPY_WRITERS: u64 = 4;
/// Events read from the log at a time.
const READ_BATCH: i64 = 10_000;
/// Histories carried out at once.
const CONCURRENT: usize = 4;
/// Départements the territories are drawn in, in turn.
const DEPARTEMENTS: [&str; 8] = ["44", "35", "49", "29", "56", "22", "85", "72"];
/// A benchmark's own database `name`, and the key its personal data is
/// sealed with, kept beside the service's data in `key_file` so `--reuse`
/// can read it again.
pub(super) async fn open(
    config: &Config,
    db: &Database,
    name: &str,
    key_file: &str,
    reuse: bool,
) -> anyhow::Result<(sqlx::PgPool, Store)> {
    let key_path = config.data_dir.join(key_file);
    let mut admin =
        sqlx::PgConnection::connect_with(&db.server.clone().database("postgres")).await?;
    let exists: bool =
        sqlx::query_scalar("select exists (select 1 from pg_database where datname = $1)")
            .bind(name)
            .fetch_one(&mut admin)
            .await?;
    let fresh = !(reuse && exists && key_path.exists());
    if fresh {
        super::drop_database(&mut admin, name).await?;
        database::create_database_if_missing(&db.server, name).await?;
        // The key of a store just dropped seals nothing any more.
        if key_path.exists() {
            std::fs::remove_file(&key_path)?;
        }
        database::write_secret(&key_path, &MasterKey::generate().to_base64())?;
    }
    let key = MasterKey::from_base64(std::fs::read_to_string(&key_path)?.trim())
        .context("the benchmark's key")?;
    let pool = passerelle_store::connect(db.server.clone().database(name), 20).await?;
    MIGRATOR.run(&pool).await?;
    let store = Store::new(
        pool.clone(),
        Keyring::new(&key),
        passerelle_app::upcasters(),
    );
    Ok((pool, store))
}

pub(super) async fn count_events(pool: &sqlx::PgPool) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar("select count(*) from events")
        .fetch_one(pool)
        .await?)
}

/// A seeded store, its projections caught up.
pub(super) struct Seeded {
    pub pool: sqlx::PgPool,
    pub projections: Arc<Projections>,
    /// Events in the log.
    pub events: i64,
    /// Whether this run seeded any.
    pub seeded_now: bool,
}

/// The benchmark's store `name` ([`open`]), seeded until it holds `events`
/// events at least, every projection caught up: through the command path up
/// to `template` events, by copies of those beyond.
pub(super) async fn seeded(
    config: &Config,
    db: &Database,
    name: &str,
    key_file: &str,
    events: i64,
    template: i64,
    reuse: bool,
) -> anyhow::Result<Seeded> {
    let (pool, store) = open(config, db, name, key_file, reuse).await?;
    let projections = Arc::new(Projections::new(
        store,
        passerelle_projections::all(),
        config.projections.runner(),
    ));
    projections.setup().await?;
    let before = count_events(&pool).await?;
    let template_path = config.data_dir.join(format!("{key_file}.template.json"));
    let template_events = template;
    let mut template = match before {
        // A store seeded anew has no template yet: one left by an earlier
        // store of the same name describes nothing here.
        0 => {
            if template_path.exists() {
                std::fs::remove_file(&template_path)?;
            }
            None
        }
        _ => Template::load(&template_path)?,
    };
    if let Some(template) = &template {
        template.check(before)?;
    }
    // Only an empty log is seeded through the command path: the demo's
    // territories are drawn from their numbers, and those of a log that
    // holds some already would be carried out again. A log that holds some
    // and no template is the template itself.
    if before == 0 {
        seed_commands(&projections, events.min(template_events)).await?;
        projections.catch_up().await?;
    }
    if count_events(&pool).await? < events {
        let template = match template.take() {
            Some(template) => template,
            None => Template::of_log(&pool).await?,
        };
        grow(&projections, template, &template_path, events).await?;
    }
    projections.catch_up().await?;
    let total = count_events(&pool).await?;
    println!("{total} events in the log");
    Ok(Seeded {
        pool,
        projections,
        events: total,
        seeded_now: total > before,
    })
}

/// Seeds territories through the command path until the log holds
/// `target` events: of 2,000 people and 700 employers each, smaller for a
/// target below a few waves' worth (a template, a test's store), so that it
/// is not overshot by far.
async fn seed_commands(projections: &Arc<Projections>, target: i64) -> anyhow::Result<()> {
    let people = usize::try_from(target / (CONCURRENT as i64 * 125))
        .unwrap_or(0)
        .clamp(30, 2_000);
    let today = SystemClock.today();
    let mut index = 0u64;
    let mut events = count_events(projections.store().pool()).await?;
    while events < target {
        let mut wave = tokio::task::JoinSet::new();
        for _ in 0..CONCURRENT {
            index += 1;
            let n = index;
            let staff: Vec<Staff> = (0..3u64)
                .map(|s| Staff {
                    structure: StructureId(Uuid::from_u64_pair(n, s)),
                    departement: DEPARTEMENTS[((n * 3 + s) % DEPARTEMENTS.len() as u64) as usize],
                    mediators: (0..4)
                        .map(|m| UserId(Uuid::from_u64_pair(n, 100 + s * 10 + m)))
                        .collect(),
                })
                .collect();
            let clock = Arc::new(FixedClock::new(SystemClock.now()));
            let handler = Handler::new(projections.clone(), clock.clone());
            wave.spawn(async move {
                let options = Options {
                    seed: n,
                    people,
                    employers: people * 7 / 20,
                    months: 36,
                    end: today,
                };
                passerelle_demo::seed(&handler, &clock, &staff, &options).await
            });
        }
        while let Some(done) = wave.join_next().await {
            done??;
        }
        events = count_events(projections.store().pool()).await?;
        println!("seeded {events} events");
    }
    Ok(())
}

/// The events seeded through the command path, which copies repeat, and
/// how many copies the log holds: kept beside the benchmark's key, so that
/// `--reuse` goes on with the next copy.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Template {
    events: i64,
    /// Its last event's position: the copies' come after it.
    end: LogPosition,
    copies: u64,
}

impl Template {
    fn load(path: &Path) -> anyhow::Result<Option<Self>> {
        match std::fs::read_to_string(path) {
            Ok(text) => Ok(Some(
                serde_json::from_str(&text).context("the template's file")?,
            )),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn save(&self, path: &Path) -> anyhow::Result<()> {
        std::fs::write(path, serde_json::to_string(self)?)?;
        Ok(())
    }

    /// Refuses a log that is not the template and whole copies of it (a
    /// run stopped in the middle of a copy): growing it would write again a
    /// copy partly written, under the same identities.
    fn check(&self, events: i64) -> anyhow::Result<()> {
        let copies = i64::try_from(self.copies)?;
        anyhow::ensure!(
            events == self.events * (copies + 1),
            "the log holds {events} events, not the template's {} and {copies} copies of it: a copy was stopped halfway; seed the store anew (without --reuse)",
            self.events
        );
        Ok(())
    }

    /// The whole log as it stands.
    async fn of_log(pool: &sqlx::PgPool) -> anyhow::Result<Self> {
        let (events, transaction_id, global_position): (i64, i64, i64) = sqlx::query_as(
            "select count(*) over (), transaction_id, global_position from events
             order by transaction_id desc, global_position desc limit 1",
        )
        .fetch_one(pool)
        .await?;
        Ok(Self {
            events,
            end: LogPosition {
                transaction_id,
                global_position,
            },
            copies: 0,
        })
    }
}

/// Appends copies of `template` until the log holds `target` events, then
/// rebuilds every projection and checks the funnel grew by as many
/// templates.
async fn grow(
    projections: &Arc<Projections>,
    mut template: Template,
    path: &Path,
    target: i64,
) -> anyhow::Result<()> {
    let store = projections.store().clone();
    let pool = store.pool().clone();
    let scan = Arc::new(scan(&store, template.end).await?);
    anyhow::ensure!(
        scan.subjects.len() as i64 == template.events,
        "the template's {} events read back as {}",
        template.events,
        scan.subjects.len()
    );
    projections.catch_up().await?;
    let before = whole_funnel(&pool).await?;
    let copies_before = template.copies;
    let started = Instant::now();
    let mut written = 0i64;
    let mut events = count_events(&pool).await?;
    while events < target {
        let wanted = u64::try_from((target - events + template.events - 1) / template.events)?;
        let wave: Vec<u64> =
            (template.copies + 1..=template.copies + wanted.min(COPY_WRITERS)).collect();
        let sirets = Arc::new(siret_maps(&scan.sirets, *wave.last().unwrap_or(&0)));
        let mut writers = tokio::task::JoinSet::new();
        for &copy in &wave {
            let (store, scan, sirets) = (store.clone(), scan.clone(), sirets.clone());
            let end = template.end;
            writers.spawn(async move {
                let moved = Moved::new(copy, &sirets[usize::try_from(copy - 1)?]);
                write_copy(&store, end, &scan, &moved).await
            });
        }
        while let Some(done) = writers.join_next().await {
            written += done??;
        }
        template.copies += wave.len() as u64;
        template.save(path)?;
        events = count_events(&pool).await?;
        println!(
            "copied the template {} times: {events} events ({:.0} events/s)",
            template.copies,
            written as f64 / started.elapsed().as_secs_f64()
        );
    }
    // The copies did not go through the inline views.
    projections.rebuild_all(&[], true).await?;
    let after = whole_funnel(&pool).await?;
    let (was, now) = (copies_before + 1, template.copies + 1);
    for (b, a) in before.iter().zip(&after) {
        anyhow::ensure!(
            u64::try_from(a.count)? * was == u64::try_from(b.count)? * now,
            "the funnel's step {:?} went from {} with {was} templates to {} with {now}",
            b.step,
            b.count,
            a.count
        );
        // Copies repeat every delay as many times: each middle value is
        // one of the same delays, so each median is unchanged.
        anyhow::ensure!(
            a.median_days == b.median_days,
            "the funnel's median at step {:?} went from {:?} with {was} templates to {:?} with {now}",
            b.step,
            b.median_days,
            a.median_days
        );
    }
    println!(
        "checked: every step of the funnel counts {now} times the template's, with the same medians ({} copies, {written} events in {:.1} s)",
        template.copies,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

async fn whole_funnel(pool: &sqlx::PgPool) -> anyhow::Result<Vec<dashboards::FunnelStep>> {
    Ok(dashboards::funnel(pool, &Filter::default(), None).await?)
}

/// What copying the template needs beyond its events: each event's subject
/// (whose key seals its personal values), as the command path found it
/// from the state before it, and the SIRETs it names, in order.
struct Scan {
    subjects: Vec<Option<Uuid>>,
    sirets: Vec<String>,
}

/// The states of the template's aggregates, folded as its events are read.
#[derive(Default)]
struct States {
    employers: HashMap<String, <Employer as Decider>::State>,
    needs: HashMap<String, <Need as Decider>::State>,
    people: HashMap<String, <Person as Decider>::State>,
    immersions: HashMap<String, <Immersion as Decider>::State>,
    testimonies: HashMap<String, <Testimony as Decider>::State>,
}

impl States {
    fn subject(&mut self, event: &RecordedEvent) -> anyhow::Result<Option<Uuid>> {
        let category = event.stream_id.split_once('-').map_or("", |(c, _)| c);
        match category {
            Employer::CATEGORY => next::<Employer>(&mut self.employers, event),
            Need::CATEGORY => next::<Need>(&mut self.needs, event),
            Person::CATEGORY => next::<Person>(&mut self.people, event),
            Immersion::CATEGORY => next::<Immersion>(&mut self.immersions, event),
            Testimony::CATEGORY => next::<Testimony>(&mut self.testimonies, event),
            _ => anyhow::bail!("no aggregate of the stream {}", event.stream_id),
        }
    }
}

fn next<A: Aggregate>(
    states: &mut HashMap<String, A::State>,
    event: &RecordedEvent,
) -> anyhow::Result<Option<Uuid>> {
    let decoded: A::Event = event
        .decode()
        .with_context(|| format!("an event {} of the template", event.event_type))?;
    let state = states.remove(&event.stream_id).unwrap_or_default();
    let subject = A::subject(&state, &decoded);
    states.insert(event.stream_id.clone(), A::evolve(state, &decoded));
    Ok(subject)
}

async fn scan(store: &Store, end: LogPosition) -> anyhow::Result<Scan> {
    let mut conn = store.pool().acquire().await?;
    let mut states = States::default();
    let mut scan = Scan {
        subjects: Vec::new(),
        sirets: Vec::new(),
    };
    let mut seen = HashSet::new();
    let mut after = LogPosition::START;
    'read: loop {
        let batch = store.read_all(&mut conn, after, READ_BATCH).await?;
        let Some(last) = batch.last() else { break };
        after = last.position;
        for event in &batch {
            if event.position > end {
                break 'read;
            }
            scan.subjects.push(states.subject(event)?);
            sirets_in(&event.value(), &mut |siret| {
                if seen.insert(siret.to_owned()) {
                    scan.sirets.push(siret.to_owned());
                }
            });
        }
    }
    Ok(scan)
}

/// Every SIRET in `value`: the string under each `siret` key.
fn sirets_in(value: &Value, found: &mut impl FnMut(&str)) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                match v {
                    Value::String(s) if key == "siret" => found(s),
                    _ => sirets_in(v, found),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| sirets_in(v, found)),
        _ => {}
    }
}

/// For copies 1 to `copies`, the SIRET each of the template's takes: valid,
/// drawn from the template's and the copy's numbers alone, and unique
/// across the template and every copy (a SIRET registers one establishment).
/// The same for every run, so a copy added later draws none of the
/// earlier ones'.
fn siret_maps(template: &[String], copies: u64) -> Vec<HashMap<String, String>> {
    let mut used: HashSet<String> = template.iter().cloned().collect();
    (1..=copies)
        .map(|copy| {
            template
                .iter()
                .map(|siret| {
                    let number: u64 = siret.parse().unwrap_or(0);
                    let drawn = (0u64..)
                        .map(|attempt| drawn_siret(number, copy, attempt))
                        .find(|s| used.insert(s.clone()))
                        .expect("an unused SIRET");
                    (siret.clone(), drawn)
                })
                .collect()
        })
        .collect()
}

/// A valid SIRET drawn from the three numbers: a twelve-digit prefix, then
/// the first two digits that make the check hold.
fn drawn_siret(number: u64, copy: u64, attempt: u64) -> String {
    let mut n = number ^ copy.rotate_left(40) ^ attempt.rotate_left(20);
    loop {
        n = splitmix64(n);
        let prefix = 100_000_000_000 + n % 900_000_000_000;
        if let Some(siret) = Siret::completing(prefix) {
            return siret.as_str().to_owned();
        }
    }
}

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// How copy `n` moves the template's identities: each id by a mask of the
/// copy's own (a bijection: two ids of one copy never meet; ids of two
/// copies meet only if two of the template's differ by the two masks'
/// difference, a chance of about 2^-128 per pair, and would be refused by
/// the log's unique keys rather than mixed), each SIRET by its map.
struct Moved<'a> {
    mask: u128,
    sirets: &'a HashMap<String, String>,
}

impl<'a> Moved<'a> {
    fn new(copy: u64, sirets: &'a HashMap<String, String>) -> Self {
        let high = splitmix64(copy);
        let low = splitmix64(high ^ copy);
        Self {
            mask: (u128::from(high) << 64) | u128::from(low),
            sirets,
        }
    }

    fn uuid(&self, id: Uuid) -> Uuid {
        // The nil id stands for no one: it stays so.
        if id.is_nil() {
            id
        } else {
            Uuid::from_u128(id.as_u128() ^ self.mask)
        }
    }

    /// `text` when it is an id, or ends with one after `:` or `-` (an
    /// actor `user:<id>`, a stream `person-<id>`), the id moved.
    fn text(&self, text: &str) -> Option<String> {
        let cut = text.len().checked_sub(36)?;
        let (head, tail) = (text.get(..cut)?, text.get(cut..)?);
        if !(head.is_empty() || head.ends_with(':') || head.ends_with('-')) {
            return None;
        }
        let id = Uuid::try_parse(tail).ok()?;
        Some(format!("{head}{}", self.uuid(id).hyphenated()))
    }

    fn value(&self, value: &mut Value) {
        match value {
            Value::String(s) => {
                if let Some(moved) = self.text(s) {
                    *s = moved;
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.value(v)),
            Value::Object(map) => {
                for (key, mut v) in std::mem::take(map) {
                    match &mut v {
                        Value::String(s) if key == "siret" => {
                            if let Some(drawn) = self.sirets.get(s.as_str()) {
                                s.clone_from(drawn);
                            }
                        }
                        _ => self.value(&mut v),
                    }
                    map.insert(self.text(&key).unwrap_or(key), v);
                }
            }
            _ => {}
        }
    }

    fn metadata(&self, metadata: &Metadata) -> Metadata {
        Metadata {
            actor: self
                .text(&metadata.actor)
                .unwrap_or_else(|| metadata.actor.clone()),
            role: metadata.role.clone(),
            structure: self.uuid(metadata.structure),
            correlation_id: self.uuid(metadata.correlation_id),
            causation_id: metadata.causation_id.map(|id| self.uuid(id)),
            command_id: self.uuid(metadata.command_id),
        }
    }
}

/// Appends one copy of the template, a command at a time as the template
/// holds them (its events of one stream and one command id), in
/// transactions of [`COPY_TRANSACTION_EVENTS`] events. Returns the events
/// appended.
async fn write_copy(
    store: &Store,
    end: LogPosition,
    scan: &Scan,
    moved: &Moved<'_>,
) -> anyhow::Result<i64> {
    let pool = store.pool();
    let mut read = pool.acquire().await?;
    let mut tx = pool.begin().await?;
    let mut pending = 0usize;
    let mut written = 0i64;
    let mut command: Vec<(RecordedEvent, Option<Uuid>)> = Vec::new();
    let mut ordinal = 0usize;
    let mut after = LogPosition::START;
    'read: loop {
        let batch = store.read_all(&mut read, after, READ_BATCH).await?;
        let Some(last) = batch.last() else { break };
        after = last.position;
        for event in batch {
            if event.position > end {
                break 'read;
            }
            let subject = scan.subjects.get(ordinal).copied().flatten();
            ordinal += 1;
            if command.first().is_some_and(|(first, _)| {
                first.stream_id != event.stream_id
                    || first.metadata.command_id != event.metadata.command_id
            }) {
                pending += append_moved(store, &mut tx, &command, moved).await?;
                command.clear();
            }
            command.push((event, subject));
            if pending >= COPY_TRANSACTION_EVENTS {
                tx.commit().await?;
                written += pending as i64;
                pending = 0;
                tx = pool.begin().await?;
            }
        }
    }
    if !command.is_empty() {
        pending += append_moved(store, &mut tx, &command, moved).await?;
    }
    tx.commit().await?;
    Ok(written + pending as i64)
}

/// One command's events of the template, moved, appended on `conn`.
async fn append_moved(
    store: &Store,
    conn: &mut sqlx::PgConnection,
    command: &[(RecordedEvent, Option<Uuid>)],
    moved: &Moved<'_>,
) -> anyhow::Result<usize> {
    let Some((first, _)) = command.first() else {
        return Ok(0);
    };
    let events: Vec<NewEvent> = command
        .iter()
        .map(|(event, subject)| {
            let mut data = event.value();
            moved.value(&mut data);
            NewEvent {
                event_type: event.event_type.clone(),
                schema_version: event.schema_version,
                data,
                subject: subject.map(|s| moved.uuid(s)),
            }
        })
        .collect();
    let stream_id = moved
        .text(&first.stream_id)
        .with_context(|| format!("the stream {} names no id", first.stream_id))?;
    let metadata = moved.metadata(&first.metadata);
    store
        .append_in(
            conn,
            &Append {
                stream_id: &stream_id,
                expected: ExpectedVersion::Exact(first.version - 1),
                events: &events,
                metadata: &metadata,
                recorded_at: Some(first.recorded_at),
            },
        )
        .await?;
    Ok(events.len())
}
