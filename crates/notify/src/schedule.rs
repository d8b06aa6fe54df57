//! Scheduled jobs: cron expressions from the configuration, read in
//! Europe/Paris time. Each job has a row holding the last schedule instant
//! it ran for; a run locks that row (`for update skip locked`), so with
//! several replicas one runs it and the others skip. After downtime the
//! latest missed instant runs once, not once per missed tick. Each run is
//! recorded with its outcome and the mails it queued.

use std::str::FromStr;
use std::sync::Arc;

use chrono::TimeZone;
use chrono_tz::Europe::Paris;
use passerelle_app::Clock;
use sqlx::{PgPool, Postgres, Transaction};
use time::{Date, OffsetDateTime};
use tokio::sync::watch;

use crate::jobs;
use crate::outbox;
use crate::retention::{self, Retention};

/// What a job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Job {
    /// Signature, start-day, assessment, feedback and follow-up reminders,
    /// and proposals left unanswered.
    Reminders,
    /// Each mediator's inbox by mail.
    WeeklyDigest,
    /// People inactive past the retention period: warned to their
    /// referent, then erased after the grace period.
    Retention,
}

impl Job {
    pub const ALL: [Job; 3] = [Job::Reminders, Job::WeeklyDigest, Job::Retention];

    pub fn name(self) -> &'static str {
        match self {
            Job::Reminders => "reminders",
            Job::WeeklyDigest => "weekly_digest",
            Job::Retention => "retention",
        }
    }

    /// The job of this name, as runs record it.
    pub fn parse(name: &str) -> Option<Self> {
        Job::ALL.into_iter().find(|j| j.name() == name)
    }

    /// What a run that did `items` things did, in French: the mails it
    /// queued, or for the retention, its warnings, erasures and purges
    /// together (what `JobRun::items` counts for it).
    pub fn did(self, items: i32) -> String {
        match (self, items) {
            (Job::Retention, 0) => "rien à faire".to_owned(),
            (Job::Retention, 1) => "1 opération (avertissement, effacement ou purge)".to_owned(),
            (Job::Retention, n) => {
                format!("{n} opérations (avertissements, effacements et purges)")
            }
            (_, 0) => "aucun courriel préparé".to_owned(),
            (_, 1) => "1 courriel préparé".to_owned(),
            (_, n) => format!("{n} courriels préparés"),
        }
    }
}

/// In French, for the administration's page of runs.
impl passerelle_domain::fr::Labelled for Job {
    const ALL: &'static [Self] = &Job::ALL;

    fn code(self) -> &'static str {
        self.name()
    }

    fn french(self) -> &'static str {
        match self {
            Job::Reminders => {
                "Rappels (signatures, débuts, bilans, retours, suivis, propositions sans réponse)"
            }
            Job::WeeklyDigest => "Récapitulatif hebdomadaire des tâches des médiateurs",
            Job::Retention => "Conservation des données (avertissements, puis effacements)",
        }
    }
}

/// A cron expression that does not parse.
#[derive(Debug, thiserror::Error)]
#[error("invalid schedule for job {job}: {expression:?} ({error})")]
pub struct BadSchedule {
    pub job: &'static str,
    pub expression: String,
    pub error: String,
}

/// A job's run, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct JobRun {
    pub id: i64,
    pub job: String,
    pub tick: OffsetDateTime,
    pub started_at: OffsetDateTime,
    pub finished_at: OffsetDateTime,
    pub outcome: String,
    pub items: i32,
    pub error: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Scheduler {
    pool: PgPool,
    clock: Arc<dyn Clock>,
    jobs: Vec<(Job, cron::Schedule)>,
    poll: std::time::Duration,
    retention: Option<Retention>,
}

fn to_chrono(t: OffsetDateTime) -> chrono::DateTime<chrono_tz::Tz> {
    Paris
        .timestamp_opt(t.unix_timestamp(), t.nanosecond())
        .single()
        .expect("a UTC instant maps to one Paris time")
}

fn to_time(t: chrono::DateTime<chrono_tz::Tz>) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(t.timestamp()).expect("a schedule instant is in range")
        + time::Duration::nanoseconds(i64::from(t.timestamp_subsec_nanos()))
}

impl Scheduler {
    /// Jobs with their cron expressions (6 fields, seconds first); an empty
    /// expression disables the job.
    pub fn new(
        pool: PgPool,
        clock: Arc<dyn Clock>,
        schedules: &[(Job, String)],
        poll: std::time::Duration,
    ) -> Result<Self, BadSchedule> {
        let mut jobs = Vec::new();
        for (job, expression) in schedules {
            if expression.trim().is_empty() {
                tracing::info!(job = job.name(), "job disabled (empty schedule)");
                continue;
            }
            let schedule =
                cron::Schedule::from_str(expression.trim()).map_err(|e| BadSchedule {
                    job: job.name(),
                    expression: expression.clone(),
                    error: e.to_string(),
                })?;
            jobs.push((*job, schedule));
        }
        Ok(Self {
            pool,
            clock,
            jobs,
            poll,
            retention: None,
        })
    }

    /// The retention job's periods and eraser; without them a scheduled
    /// retention run fails, recorded as such.
    pub fn with_retention(mut self, retention: Retention) -> Self {
        self.retention = Some(retention);
        self
    }

    /// The latest schedule instant after `after` and no later than `now`.
    fn latest_tick(
        schedule: &cron::Schedule,
        after: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Option<OffsetDateTime> {
        let now = to_chrono(now);
        let mut latest = None;
        for tick in schedule.after(&to_chrono(after)) {
            if tick > now {
                break;
            }
            latest = Some(tick);
        }
        latest.map(to_time)
    }

    /// Runs each job whose schedule came due since its last run, once.
    /// Returns the runs this instance made.
    pub async fn tick(&self) -> Result<Vec<JobRun>, sqlx::Error> {
        let mut runs = Vec::new();
        for (job, schedule) in &self.jobs {
            if let Some(run) = self.tick_job(*job, schedule).await? {
                runs.push(run);
            }
        }
        Ok(runs)
    }

    async fn tick_job(
        &self,
        job: Job,
        schedule: &cron::Schedule,
    ) -> Result<Option<JobRun>, sqlx::Error> {
        let now = self.clock.now();
        // A job seen for the first time starts from now: no history to
        // catch up.
        sqlx::query(
            "insert into public.scheduled_jobs (name, last_tick) values ($1, $2)
             on conflict do nothing",
        )
        .bind(job.name())
        .bind(now)
        .execute(&self.pool)
        .await?;
        let mut tx = self.pool.begin().await?;
        let last: Option<OffsetDateTime> = sqlx::query_scalar(
            "select last_tick from public.scheduled_jobs where name = $1
             for update skip locked",
        )
        .bind(job.name())
        .fetch_optional(&mut *tx)
        .await?;
        // Locked: another replica is running it. The transaction ends
        // here, explicitly: a dropped one is rolled back only when its
        // connection is next used, and would hold the row lock till then.
        let Some(last) = last else {
            tx.rollback().await?;
            return Ok(None);
        };
        let Some(tick) = Self::latest_tick(schedule, last, now) else {
            tx.rollback().await?;
            return Ok(None);
        };
        let day = to_chrono(tick).date_naive();
        let today = Date::from_calendar_date(
            chrono::Datelike::year(&day),
            time::Month::try_from(chrono::Datelike::month(&day) as u8).expect("1..=12"),
            chrono::Datelike::day(&day) as u8,
        )
        .expect("a calendar date");
        let started_at = now;
        let result = self.run_job(&mut tx, job, today, now).await;
        let finished_at = self.clock.now();
        let run = match result {
            Ok(items) => {
                let run = record(&mut tx, job, tick, started_at, finished_at, Ok(items)).await?;
                advance(&mut tx, job, tick).await?;
                tx.commit().await?;
                run
            }
            Err(e) => {
                // What the job queued is rolled back; the failure is
                // recorded and the next tick tries again (jobs look back).
                tx.rollback().await?;
                tracing::error!(job = job.name(), "scheduled job failed: {e}");
                let mut tx = self.pool.begin().await?;
                let run = record(
                    &mut tx,
                    job,
                    tick,
                    started_at,
                    finished_at,
                    Err(e.to_string()),
                )
                .await?;
                advance(&mut tx, job, tick).await?;
                tx.commit().await?;
                run
            }
        };
        metrics::counter!("passerelle_job_runs_total", "job" => job.name(), "outcome" => run.outcome.clone())
            .increment(1);
        tracing::info!(job = job.name(), tick = %tick, items = run.items, outcome = %run.outcome, "scheduled job ran");
        Ok(Some(run))
    }

    async fn run_job(
        &self,
        tx: &mut Transaction<'_, Postgres>,
        job: Job,
        today: Date,
        now: OffsetDateTime,
    ) -> Result<i32, sqlx::Error> {
        let entries = match job {
            Job::Reminders => jobs::reminders(&self.pool, today).await?,
            Job::WeeklyDigest => jobs::weekly_digests(&self.pool, today).await?,
            Job::Retention => {
                let Some(retention) = &self.retention else {
                    return Err(sqlx::Error::Configuration(
                        "the retention job has no eraser".into(),
                    ));
                };
                let done = retention::run(&self.pool, tx, retention, today, now).await?;
                return Ok(i32::try_from(done).unwrap_or(i32::MAX));
            }
        };
        let queued = outbox::enqueue(tx, &entries, now).await?;
        Ok(i32::try_from(queued).unwrap_or(i32::MAX))
    }

    /// Ticks every `poll` until `shutdown`.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        loop {
            if let Err(e) = self.tick().await {
                tracing::error!("scheduler: {e}");
            }
            tokio::select! {
                _ = tokio::time::sleep(self.poll) => {}
                _ = shutdown.changed() => return,
            }
        }
    }
}

async fn record(
    tx: &mut Transaction<'_, Postgres>,
    job: Job,
    tick: OffsetDateTime,
    started_at: OffsetDateTime,
    finished_at: OffsetDateTime,
    result: Result<i32, String>,
) -> Result<JobRun, sqlx::Error> {
    let (outcome, items, error) = match result {
        Ok(items) => ("succeeded", items, None),
        Err(e) => ("failed", 0, Some(e)),
    };
    sqlx::query_as(
        "insert into public.job_runs (job, tick, started_at, finished_at, outcome, items, error)
         values ($1, $2, $3, $4, $5, $6, $7)
         returning id, job, tick, started_at, finished_at, outcome, items, error",
    )
    .bind(job.name())
    .bind(tick)
    .bind(started_at)
    .bind(finished_at)
    .bind(outcome)
    .bind(items)
    .bind(error)
    .fetch_one(&mut **tx)
    .await
}

async fn advance(
    tx: &mut Transaction<'_, Postgres>,
    job: Job,
    tick: OffsetDateTime,
) -> Result<(), sqlx::Error> {
    sqlx::query("update public.scheduled_jobs set last_tick = $2 where name = $1")
        .bind(job.name())
        .bind(tick)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The latest runs, newest first.
pub async fn runs(
    db: impl sqlx::PgExecutor<'_>,
    job: Option<&str>,
    limit: i64,
) -> Result<Vec<JobRun>, sqlx::Error> {
    sqlx::query_as(
        "select id, job, tick, started_at, finished_at, outcome, items, error
         from public.job_runs where ($1::text is null or job = $1)
         order by started_at desc, id desc limit $2",
    )
    .bind(job)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// A page of runs, newest first, after the run at `(started_at, id)` when
/// given.
pub async fn runs_page(
    db: impl sqlx::PgExecutor<'_>,
    job: Option<&str>,
    after: Option<(OffsetDateTime, i64)>,
    limit: i64,
) -> Result<Vec<JobRun>, sqlx::Error> {
    sqlx::query_as(
        "select id, job, tick, started_at, finished_at, outcome, items, error
         from public.job_runs where ($1::text is null or job = $1)
           and ($2::timestamptz is null or (started_at, id) < ($2, $3))
         order by started_at desc, id desc limit $4",
    )
    .bind(job)
    .bind(after.map(|a| a.0))
    .bind(after.map(|a| a.1))
    .bind(limit)
    .fetch_all(db)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn the_latest_missed_tick_is_the_one_to_run_in_paris_time() {
        let daily = cron::Schedule::from_str("0 0 8 * * *").unwrap();
        // Down from Monday 09:00 to Thursday 10:00 (Paris, summer time):
        // one tick to run, Thursday 08:00 Paris = 06:00 UTC.
        let tick = Scheduler::latest_tick(
            &daily,
            datetime!(2026-05-04 07:00 UTC),
            datetime!(2026-05-07 08:00 UTC),
        );
        assert_eq!(tick, Some(datetime!(2026-05-07 06:00 UTC)));
        // In winter 08:00 Paris is 07:00 UTC.
        let tick = Scheduler::latest_tick(
            &daily,
            datetime!(2026-01-05 12:00 UTC),
            datetime!(2026-01-06 07:30 UTC),
        );
        assert_eq!(tick, Some(datetime!(2026-01-06 07:00 UTC)));
        // Nothing due yet.
        let tick = Scheduler::latest_tick(
            &daily,
            datetime!(2026-01-06 07:00 UTC),
            datetime!(2026-01-06 20:00 UTC),
        );
        assert_eq!(tick, None);
    }
}
