//! The retention of people's data: a person with no fact recorded on their
//! path for a period is announced to their referent, then erased after a
//! grace period unless a referent or a manager extended their retention.
//! The plan is read alone for the dry run; the scheduled job queues the
//! warnings, records them and has the erasures done by an [`Eraser`] (the
//! erasure's command path sits above this crate).

use std::sync::Arc;

use async_trait::async_trait;
use passerelle_domain::values::add_months;
use sqlx::{PgConnection, PgExecutor, PgPool};
use time::{Date, Duration, OffsetDateTime};
use uuid::Uuid;

use crate::outbox::{Entry, Params, Recipient};
use crate::templates::Template;

/// The periods, from the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Months without a recorded fact after which a person is inactive.
    pub inactive_months: u32,
    /// Days between the warning and the erasure.
    pub grace_days: i64,
    /// Months a signed convention is kept from its validation: its person
    /// is not erased for inactivity before.
    pub signed_convention_months: u32,
    /// Months a mail is kept in the outbox once sent, failed or
    /// cancelled (its parameters and the server's answer).
    pub mail_months: u32,
    /// Days an ended session or a used or expired magic link is kept.
    pub session_days: u32,
    /// Months a read of health data stays in the access log.
    pub health_log_months: u32,
    /// Months a job's run stays in `jobRuns`.
    pub job_run_months: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            inactive_months: 24,
            grace_days: 30,
            signed_convention_months: 60,
            mail_months: 6,
            session_days: 30,
            health_log_months: 12,
            job_run_months: 12,
        }
    }
}

/// What the retention job prunes past its period, by kind: counts only.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    pub mails: u64,
    pub sessions: u64,
    pub links: u64,
    pub health_reads: u64,
    pub job_runs: u64,
}

impl Pruned {
    pub fn total(&self) -> u64 {
        self.mails + self.sessions + self.links + self.health_reads + self.job_runs
    }
}

/// Each kind pruned: what is past its period, given `$1` the instant of
/// the run and `$2` the period (months, or days for sessions and links).
const PAST: [&str; 6] = [
    // Mails done with: sent, failed for good or cancelled.
    "from public.outbox where state in ('sent', 'failed', 'cancelled')
       and created_at < $1 - make_interval(months => $2)",
    "from public.sessions where coalesce(revoked_at, expires_at) < $1 - make_interval(days => $2)",
    "from public.principal_sessions
       where coalesce(revoked_at, expires_at) < $1 - make_interval(days => $2)",
    "from public.magic_links
       where coalesce(used_at, expires_at) < $1 - make_interval(days => $2)",
    "from public.health_data_reads where read_at < $1 - make_interval(months => $2)",
    "from public.job_runs where finished_at < $1 - make_interval(months => $2)",
];

fn periods(settings: Settings) -> [u32; 6] {
    [
        settings.mail_months,
        settings.session_days,
        settings.session_days,
        settings.session_days,
        settings.health_log_months,
        settings.job_run_months,
    ]
}

fn pruned(counts: [u64; 6]) -> Pruned {
    Pruned {
        mails: counts[0],
        sessions: counts[1] + counts[2],
        links: counts[3],
        health_reads: counts[4],
        job_runs: counts[5],
    }
}

/// What a run at `now` would prune; changes nothing.
pub async fn prunable(
    conn: &mut PgConnection,
    now: OffsetDateTime,
    settings: Settings,
) -> Result<Pruned, sqlx::Error> {
    let mut counts = [0u64; 6];
    for ((past, period), count) in PAST.iter().zip(periods(settings)).zip(&mut counts) {
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("select count(*) {past}")))
            .bind(now)
            .bind(i32::try_from(period).unwrap_or(i32::MAX))
            .fetch_one(&mut *conn)
            .await?;
        *count = u64::try_from(n).unwrap_or_default();
    }
    Ok(pruned(counts))
}

/// Deletes what is past its period (mails, sessions and links, health
/// data reads, job runs), in the run's transaction.
pub async fn prune(
    conn: &mut PgConnection,
    now: OffsetDateTime,
    settings: Settings,
) -> Result<Pruned, sqlx::Error> {
    let mut counts = [0u64; 6];
    for ((past, period), count) in PAST.iter().zip(periods(settings)).zip(&mut counts) {
        *count = sqlx::query(sqlx::AssertSqlSafe(format!("delete {past}")))
            .bind(now)
            .bind(i32::try_from(period).unwrap_or(i32::MAX))
            .execute(&mut *conn)
            .await?
            .rows_affected();
    }
    Ok(pruned(counts))
}

/// Erases a person at the end of their retention, through the erasure's
/// one path; given to the scheduler by the binary.
#[async_trait]
pub trait Eraser: Send + Sync + std::fmt::Debug {
    async fn erase(&self, person: Uuid, structure: Uuid) -> Result<(), String>;

    /// Finishes an erasure whose fact was recorded but whose key was not
    /// destroyed (a crash between the two): the same second step as the
    /// erasure's, idempotent.
    async fn finish(&self, person: Uuid, structure: Uuid) -> Result<(), String>;
}

/// The people whose erasure was recorded (`person_erased`) but not carried
/// out: their key not destroyed, so their data still readable. Each with
/// their structure (the tenant of their stream). Reads every erasure fact:
/// a nightly job's work, bounded by the number of erasures ever made.
pub async fn interrupted_erasures(
    db: impl PgExecutor<'_>,
) -> Result<Vec<(Uuid, Uuid)>, sqlx::Error> {
    sqlx::query_as(
        "select substr(e.stream_id, 8)::uuid, e.tenant from events e
         where e.event_type = 'person_erased' and e.stream_id like 'person-%'
           and not exists (select 1 from erased_subjects s
                           where s.subject_id = substr(e.stream_id, 8)::uuid)
         order by e.global_position",
    )
    .fetch_all(db)
    .await
}

/// The retention job's settings and its eraser.
#[derive(Debug, Clone)]
pub struct Retention {
    pub settings: Settings,
    pub eraser: Arc<dyn Eraser>,
}

/// A person the next run warns about or erases: ids and dates only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub person_id: Uuid,
    pub structure: Uuid,
    pub referent: Uuid,
    /// The day of the newest fact of their path (UTC).
    pub last_activity: Date,
    /// That fact's instant: a warning is given for it.
    pub last_fact_at: OffsetDateTime,
    /// When their referent was warned, for this period of inactivity.
    pub warned_on: Option<Date>,
}

/// What a run on `today` does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub warn: Vec<Candidate>,
    pub erase: Vec<Candidate>,
}

#[derive(sqlx::FromRow)]
struct Row {
    person_id: Uuid,
    structure: Uuid,
    referent: Uuid,
    last_activity: OffsetDateTime,
    warned_on: Option<Date>,
    extended_until: Option<Date>,
    /// The newest validation of a convention of theirs (all signatures).
    last_signed: Option<Date>,
}

/// Each person not erased with what the retention job weighs: their last
/// fact, the warning given for it, their latest extension, their newest
/// signed convention. `$1` narrows to a structure, `$2` to the people ever
/// warned (a warning is forgotten with the person).
///
/// A warning counts for the period of inactivity it was given in (the
/// same newest fact) and only when given after the latest extension:
/// once an extension lapses, the referent is warned again.
const STANDINGS: &str = "select p.person_id, p.structure, p.referent, t.last_activity,
        (select max(n.warned_on) from public.retention_notices n
          where n.person_id = p.person_id and n.last_activity = t.last_activity
            and n.warned_on > coalesce(x.extended_at::date, '-infinity'::date))
            as warned_on,
        x.until as extended_until,
        (select max(i.validated_on) from immersions.immersions i
          where i.person_id = p.person_id) as last_signed
 from people.people p
 cross join lateral (
     select coalesce(max(recorded_at), p.enrolled_on::timestamptz) as last_activity
     from people.timeline t where t.person_id = p.person_id) t
 left join lateral (
     select until, extended_at from public.retention_extensions e
     where e.person_id = p.person_id
     order by until desc, extended_at desc limit 1) x on true
 where not p.erased
   and ($1::uuid is null or p.structure = $1)
   and (not $2 or exists (select 1 from public.retention_notices w
                          where w.person_id = p.person_id))
 order by p.structure, p.person_id";

/// Where a person stands with the retention job on a day.
enum Standing {
    /// Kept: active, extended, or named in a convention still kept.
    Kept,
    /// Inactive and not yet warned: the run warns their referent.
    Warn,
    /// Warned on that day, within the grace period.
    Warned(Date),
    /// Warned on that day, the grace period over: the run erases them.
    Due(Date),
}

impl Row {
    fn standing(&self, today: Date, settings: Settings) -> Standing {
        if self.extended_until.is_some_and(|until| until >= today) {
            return Standing::Kept;
        }
        // A signed convention is kept for its period from its signature
        // (proof of the parties' commitments, accidents included), and
        // with it the person it names: not before does inactivity erase
        // them.
        if self
            .last_signed
            .is_some_and(|signed| add_months(signed, settings.signed_convention_months) > today)
        {
            return Standing::Kept;
        }
        let last_activity = passerelle_domain::calendar::paris_date(self.last_activity);
        if add_months(last_activity, settings.inactive_months) > today {
            return Standing::Kept;
        }
        match self.warned_on {
            None => Standing::Warn,
            Some(on) if erasure_day(on, settings) <= today => Standing::Due(on),
            Some(on) => Standing::Warned(on),
        }
    }

    fn candidate(&self) -> Candidate {
        Candidate {
            person_id: self.person_id,
            structure: self.structure,
            referent: self.referent,
            last_activity: passerelle_domain::calendar::paris_date(self.last_activity),
            last_fact_at: self.last_activity,
            warned_on: self.warned_on,
        }
    }
}

async fn standings(
    db: impl PgExecutor<'_>,
    structure: Option<Uuid>,
    warned_only: bool,
) -> Result<Vec<Row>, sqlx::Error> {
    sqlx::query_as(STANDINGS)
        .bind(structure)
        .bind(warned_only)
        .fetch_all(db)
        .await
}

/// Who a run on `today` would warn and erase; changes nothing.
pub async fn plan(
    db: impl PgExecutor<'_>,
    today: Date,
    settings: Settings,
) -> Result<Plan, sqlx::Error> {
    let mut plan = Plan::default();
    for row in standings(db, None, false).await? {
        match row.standing(today, settings) {
            Standing::Warn => plan.warn.push(row.candidate()),
            Standing::Due(_) => plan.erase.push(row.candidate()),
            Standing::Kept | Standing::Warned(_) => {}
        }
    }
    Ok(plan)
}

/// A person of the structure whose referent was warned and whose data is
/// erased on `erased_on` unless their retention is extended or a fact is
/// recorded on their path (a day past: at the job's next run).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warned {
    pub person_id: Uuid,
    pub referent: Uuid,
    pub last_activity: Date,
    pub warned_on: Date,
    pub erased_on: Date,
}

/// The people of `structure` warned about on `today` and not kept since,
/// the soonest erased first (then by id): what the retention job erases
/// unless someone acts. Only the people ever warned are weighed.
pub async fn warned(
    db: impl PgExecutor<'_>,
    structure: Uuid,
    today: Date,
    settings: Settings,
) -> Result<Vec<Warned>, sqlx::Error> {
    let mut warned: Vec<Warned> = standings(db, Some(structure), true)
        .await?
        .into_iter()
        .filter_map(|row| match row.standing(today, settings) {
            Standing::Warned(on) | Standing::Due(on) => {
                let c = row.candidate();
                Some(Warned {
                    person_id: c.person_id,
                    referent: c.referent,
                    last_activity: c.last_activity,
                    warned_on: on,
                    erased_on: erasure_day(on, settings),
                })
            }
            Standing::Kept | Standing::Warn => None,
        })
        .collect();
    warned.sort_by_key(|w| (w.erased_on, w.person_id));
    Ok(warned)
}

/// The day a person warned on `warned_on` is erased, if nothing changes.
pub fn erasure_day(warned_on: Date, settings: Settings) -> Date {
    warned_on + Duration::days(settings.grace_days)
}

/// The warning to a person's referent: the person by id only, the day of
/// the erasure to come.
pub fn warning(candidate: &Candidate, today: Date, settings: Settings) -> Entry {
    Entry {
        key: format!("job:retention_warning:{}:{today}", candidate.person_id),
        template: Template::RetentionWarning,
        recipient: Recipient::Staff {
            user_id: candidate.referent,
        },
        params: Params {
            person_id: Some(candidate.person_id),
            due_on: Some(erasure_day(today, settings)),
            ..Params::default()
        },
        structure: Some(candidate.structure),
    }
}

/// Records the warnings given on `today`.
pub async fn record_warnings(
    conn: &mut PgConnection,
    warned: &[Candidate],
    today: Date,
) -> Result<(), sqlx::Error> {
    for c in warned {
        sqlx::query(
            "insert into public.retention_notices
                 (person_id, structure_id, last_activity, warned_on, referent)
             values ($1, $2, $3, $4, $5)
             on conflict do nothing",
        )
        .bind(c.person_id)
        .bind(c.structure)
        .bind(c.last_fact_at)
        .bind(today)
        .bind(c.referent)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// A run of the retention job on `today`: the erasures left half done
/// finished, the erasures due, then the warnings queued and recorded and
/// what is past its period pruned ([`prune`]) in `tx`. Returns the mails
/// queued plus the people erased plus the rows pruned; an erasure that fails fails the run (the others are
/// done) and the run's warnings are rolled back, to be given again.
pub async fn run(
    pool: &PgPool,
    tx: &mut PgConnection,
    retention: &Retention,
    today: Date,
    now: OffsetDateTime,
) -> Result<u64, sqlx::Error> {
    let mut erased = 0u64;
    let mut failures = Vec::new();
    // Erasures left half done first: their people's data is readable
    // although their erasure was decided.
    for (person, structure) in interrupted_erasures(pool).await? {
        match retention.eraser.finish(person, structure).await {
            Ok(()) => erased += 1,
            Err(e) => {
                tracing::error!(person = %person, "retention: finishing an erasure failed: {e}");
                failures.push(person);
            }
        }
    }
    let plan = plan(pool, today, retention.settings).await?;
    for c in &plan.erase {
        match retention.eraser.erase(c.person_id, c.structure).await {
            Ok(()) => erased += 1,
            Err(e) => {
                tracing::error!(person = %c.person_id, "retention: erasure failed: {e}");
                failures.push(c.person_id);
            }
        }
    }
    if !failures.is_empty() {
        // Recorded in the job's run, which every structure's managers read:
        // no person named (each failure is logged above, with its id).
        return Err(sqlx::Error::Protocol(format!(
            "{} erasure(s) failed out of {}",
            failures.len(),
            erased + failures.len() as u64,
        )));
    }
    let entries: Vec<Entry> = plan
        .warn
        .iter()
        .map(|c| warning(c, today, retention.settings))
        .collect();
    let queued = crate::outbox::enqueue(&mut *tx, &entries, now).await?;
    record_warnings(&mut *tx, &plan.warn, today).await?;
    let pruned = prune(&mut *tx, now, retention.settings).await?;
    tracing::info!(
        mails = pruned.mails,
        sessions = pruned.sessions,
        links = pruned.links,
        health_reads = pruned.health_reads,
        job_runs = pruned.job_runs,
        "retention: pruned past their period"
    );
    Ok(queued + erased + pruned.total())
}

/// Extends a person's retention until `until`, for `reason`.
pub async fn extend(
    db: impl PgExecutor<'_>,
    person: Uuid,
    structure: Uuid,
    until: Date,
    reason: &str,
    by: Uuid,
    at: OffsetDateTime,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into public.retention_extensions
             (person_id, structure_id, until, reason, extended_by, extended_at)
         values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(person)
    .bind(structure)
    .bind(until)
    .bind(reason)
    .bind(by)
    .bind(at)
    .execute(db)
    .await?;
    Ok(())
}

/// An extension of a person's retention, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Extension {
    /// Kept until this day, inclusive.
    pub until: Date,
    pub reason: String,
    /// The staff member who decided it.
    pub extended_by: Uuid,
    pub extended_at: OffsetDateTime,
}

/// The most extensions of one person [`extensions`] reads: a person kept
/// for 24 months at a time for decades has fewer.
const EXTENSIONS_READ: i64 = 100;

/// A person's extensions, the newest first.
pub async fn extensions(
    db: impl PgExecutor<'_>,
    person: Uuid,
) -> Result<Vec<Extension>, sqlx::Error> {
    sqlx::query_as(
        "select until, reason, extended_by, extended_at from public.retention_extensions
         where person_id = $1 order by extended_at desc, id desc limit $2",
    )
    .bind(person)
    .bind(EXTENSIONS_READ)
    .fetch_all(db)
    .await
}

/// Forgets a person's warnings and extensions (an extension's reason may
/// name them): part of their erasure.
pub async fn forget_person(conn: &mut PgConnection, person: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("delete from public.retention_notices where person_id = $1")
        .bind(person)
        .execute(&mut *conn)
        .await?;
    sqlx::query("delete from public.retention_extensions where person_id = $1")
        .bind(person)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
