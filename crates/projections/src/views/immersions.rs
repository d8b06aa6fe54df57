//! `immersions`: each immersion with its convention's state (who still has
//! to sign, validation, renewal), its dates, and the feedback and outcomes
//! recorded. Also the source of a person's history with a host, which the
//! PMSMP rules read.

use async_trait::async_trait;
use passerelle_domain::immersion::{
    Convention, ImmersionEvent, Objective, PriorConvention, Respondent,
};
use passerelle_domain::values::{DateRange, ImmersionId, PersonId, Siret, Text};
use passerelle_store::RecordedEvent;
use passerelle_store::projection::{Mode, Projection, ProjectionError};
use sqlx::{PgConnection, PgExecutor};
use time::Date;
use uuid::Uuid;

use super::{of_category, stream_uuid, tag};

#[derive(Debug, Clone, Copy)]
pub struct Immersions;

#[async_trait]
impl Projection for Immersions {
    fn name(&self) -> &'static str {
        "immersions"
    }

    fn mode(&self) -> Mode {
        Mode::Inline
    }

    fn handles(&self, event: &RecordedEvent) -> bool {
        super::in_category(event, "immersion")
    }

    fn schema_sql(&self) -> &'static str {
        "create table immersions (
             immersion_id uuid primary key,
             person_id uuid not null,
             employer_id uuid not null,
             need_id uuid,
             structure uuid not null,
             mediator uuid not null,
             objective text not null,
             stage text not null,
             accepted_by_person boolean not null default false,
             accepted_by_employer boolean not null default false,
             declined_by text,
             host_siret text,
             goals text,
             period_start date,
             period_end date,
             days int not null default 0,
             required_signatories text[] not null default '{}',
             signatures text[] not null default '{}',
             prevalidated boolean not null default false,
             renewal text,
             renewal_start date,
             renewal_end date,
             renewal_required text[] not null default '{}',
             renewal_signatures text[] not null default '{}',
             proposed_on date not null,
             validated_on date,
             started_on date,
             ended_on date,
             feedback_authors text[] not null default '{}',
             outcomes text[] not null default '{}'
         );
         create index immersions_person_host on immersions (person_id, host_siret);
         create index immersions_employer on immersions (employer_id);"
    }

    async fn apply(
        &self,
        conn: &mut PgConnection,
        events: &[RecordedEvent],
    ) -> Result<(), ProjectionError> {
        for item in of_category::<ImmersionEvent>(events, "immersion") {
            let (recorded, event) = item?;
            let id = stream_uuid(recorded);
            let set = |sql: &'static str| sqlx::query(sql).bind(id);
            match event {
                ImmersionEvent::ImmersionProposed(e) => {
                    sqlx::query(
                        "insert into immersions (immersion_id, person_id, employer_id, need_id,
                             structure, mediator, objective, stage, proposed_on)
                         values ($1, $2, $3, $4, $5, $6, $7, 'proposed', $8)",
                    )
                    .bind(e.immersion_id.0)
                    .bind(e.person_id.0)
                    .bind(e.employer_id.0)
                    .bind(e.need_id.map(|n| n.0))
                    .bind(e.structure.0)
                    .bind(e.mediator.0)
                    .bind(tag(&e.objective))
                    .bind(e.proposed_on)
                    .execute(&mut *conn)
                    .await?;
                }
                ImmersionEvent::ProposalAcceptedByPerson(_) => {
                    set("update immersions set accepted_by_person = true where immersion_id = $1")
                        .execute(&mut *conn)
                        .await?;
                }
                ImmersionEvent::ProposalAcceptedByEmployer(_) => {
                    set(
                        "update immersions set accepted_by_employer = true where immersion_id = $1",
                    )
                    .execute(&mut *conn)
                    .await?;
                }
                ImmersionEvent::ProposalDeclined(e) => {
                    set("update immersions set stage = 'declined', declined_by = $2 where immersion_id = $1")
                        .bind(match e.by {
                            Respondent::Person => "person",
                            Respondent::Employer => "employer",
                        })
                        .execute(&mut *conn)
                        .await?;
                }
                ImmersionEvent::ConventionDrafted(e) => {
                    convention(conn, id, &e.convention).await?;
                }
                ImmersionEvent::ConventionModified(e) => {
                    convention(conn, id, &e.convention).await?;
                }
                ImmersionEvent::ConventionSigned(e) => {
                    let sql = if e.renewal {
                        "update immersions set renewal_signatures = array_append(renewal_signatures, $2) where immersion_id = $1"
                    } else {
                        "update immersions set signatures = array_append(signatures, $2) where immersion_id = $1"
                    };
                    set(sql).bind(tag(&e.signatory)).execute(&mut *conn).await?;
                }
                ImmersionEvent::ConventionPrevalidated(e) => {
                    if !e.renewal {
                        set("update immersions set prevalidated = true where immersion_id = $1")
                            .execute(&mut *conn)
                            .await?;
                    }
                }
                ImmersionEvent::ConventionValidated(e) => {
                    if e.renewal {
                        set("update immersions set renewal = 'validated',
                                 days = days + (renewal_end - renewal_start + 1)
                             where immersion_id = $1")
                        .execute(&mut *conn)
                        .await?;
                    } else {
                        set("update immersions set stage = 'validated', validated_on = $2 where immersion_id = $1")
                            .bind(e.validated_on)
                            .execute(&mut *conn)
                            .await?;
                    }
                }
                ImmersionEvent::ConventionRejected(_) => stage(conn, id, "rejected").await?,
                ImmersionEvent::ConventionDeprecated(_) => stage(conn, id, "deprecated").await?,
                ImmersionEvent::ConventionCancelled(_) => stage(conn, id, "cancelled").await?,
                ImmersionEvent::ConventionRenewed(e) => {
                    set(
                        "update immersions set renewal = 'pending', renewal_start = $2,
                             renewal_end = $3, renewal_required = required_signatories,
                             renewal_signatures = '{}'
                         where immersion_id = $1",
                    )
                    .bind(e.terms.period.start())
                    .bind(e.terms.period.end())
                    .execute(&mut *conn)
                    .await?;
                }
                ImmersionEvent::ImmersionStarted(e) => {
                    set("update immersions set stage = 'started', started_on = $2 where immersion_id = $1")
                        .bind(e.started_on)
                        .execute(&mut *conn)
                        .await?;
                }
                ImmersionEvent::ImmersionInterrupted(e) => {
                    set("update immersions set stage = 'interrupted', ended_on = $2 where immersion_id = $1")
                        .bind(e.interrupted_on)
                        .execute(&mut *conn)
                        .await?;
                }
                ImmersionEvent::ImmersionCompleted(e) => {
                    set("update immersions set stage = 'completed', ended_on = $2 where immersion_id = $1")
                        .bind(e.completed_on)
                        .execute(&mut *conn)
                        .await?;
                }
                ImmersionEvent::FeedbackRecorded(e) => {
                    set("update immersions set feedback_authors = array_append(feedback_authors, $2) where immersion_id = $1")
                        .bind(tag(&e.feedback))
                        .execute(&mut *conn)
                        .await?;
                }
                ImmersionEvent::OutcomeRecorded(e) => {
                    set("update immersions set outcomes = array_append(outcomes, $2) where immersion_id = $1")
                        .bind(tag(&e.milestone))
                        .execute(&mut *conn)
                        .await?;
                }
                // The accident clocks belong to the inbox (dashboards issue).
                ImmersionEvent::AccidentReported(_)
                | ImmersionEvent::AccidentDeclarationFiled(_) => {}
            }
        }
        Ok(())
    }
}

async fn stage(conn: &mut PgConnection, id: Option<Uuid>, stage: &str) -> Result<(), sqlx::Error> {
    sqlx::query("update immersions set stage = $2 where immersion_id = $1")
        .bind(id)
        .bind(stage)
        .execute(conn)
        .await?;
    Ok(())
}

/// A drafted or modified convention: its content, who must sign, and no
/// signature yet (a modification clears them).
async fn convention(
    conn: &mut PgConnection,
    id: Option<Uuid>,
    convention: &Convention,
) -> Result<(), sqlx::Error> {
    let required = super::required_signatories(convention);
    sqlx::query(
        "update immersions set stage = 'drafted', objective = $2, host_siret = $3, goals = $4,
             period_start = $5, period_end = $6, days = $7, required_signatories = $8,
             signatures = '{}', prevalidated = false
         where immersion_id = $1",
    )
    .bind(id)
    .bind(tag(&convention.objective))
    .bind(convention.host.siret.as_str())
    .bind(convention.goals.as_str())
    .bind(convention.period.start())
    .bind(convention.period.end())
    .bind(convention.period.days() as i32)
    .bind(&required)
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct PriorRow {
    immersion_id: Uuid,
    objective: String,
    goals: String,
    period_start: Date,
    last_day: Date,
    days: i32,
}

/// The person's other conventions with the host of this SIRET that still
/// count: drafted or further, neither declined, rejected, deprecated nor
/// cancelled. What the 12-month rules of the PMSMP read.
pub async fn history_with_host(
    db: impl PgExecutor<'_>,
    person: PersonId,
    host: &Siret,
    except: ImmersionId,
) -> Result<Vec<PriorConvention>, sqlx::Error> {
    let rows: Vec<PriorRow> = sqlx::query_as(
        "select immersion_id, objective, goals, period_start,
                case when renewal = 'validated' then renewal_end else period_end end as last_day,
                days
         from immersions.immersions
         where person_id = $1 and host_siret = $2 and immersion_id <> $3
           and stage in ('drafted', 'validated', 'started', 'interrupted', 'completed')",
    )
    .bind(person.0)
    .bind(host.as_str())
    .bind(except.0)
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            Some(PriorConvention {
                immersion_id: ImmersionId(r.immersion_id),
                objective: serde_json::from_value::<Objective>(serde_json::Value::String(
                    r.objective,
                ))
                .ok()?,
                goals: Text::parse(&r.goals).ok()?,
                span: DateRange::new(r.period_start, r.last_day).ok()?,
                days: i64::from(r.days),
            })
        })
        .collect())
}

/// The person's immersions with at least one feedback recorded: the ones a
/// project readjustment may name as its cause.
pub async fn with_feedback(
    db: impl PgExecutor<'_>,
    person: PersonId,
) -> Result<Vec<ImmersionId>, sqlx::Error> {
    let ids: Vec<Uuid> = sqlx::query_scalar(
        "select immersion_id from immersions.immersions
         where person_id = $1 and cardinality(feedback_authors) > 0",
    )
    .bind(person.0)
    .fetch_all(db)
    .await?;
    Ok(ids.into_iter().map(ImmersionId).collect())
}

/// An immersion as the views know it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ImmersionRow {
    pub immersion_id: Uuid,
    pub person_id: Uuid,
    pub employer_id: Uuid,
    pub need_id: Option<Uuid>,
    pub structure: Uuid,
    pub mediator: Uuid,
    pub objective: String,
    pub stage: String,
    pub accepted_by_person: bool,
    pub accepted_by_employer: bool,
    pub declined_by: Option<String>,
    pub host_siret: Option<String>,
    pub goals: Option<String>,
    pub period_start: Option<Date>,
    pub period_end: Option<Date>,
    pub days: i32,
    pub required_signatories: Vec<String>,
    pub signatures: Vec<String>,
    pub prevalidated: bool,
    pub renewal: Option<String>,
    pub renewal_start: Option<Date>,
    pub renewal_end: Option<Date>,
    pub renewal_required: Vec<String>,
    pub renewal_signatures: Vec<String>,
    pub proposed_on: Date,
    pub validated_on: Option<Date>,
    pub started_on: Option<Date>,
    pub ended_on: Option<Date>,
    pub feedback_authors: Vec<String>,
    pub outcomes: Vec<String>,
}

const IMMERSION_COLUMNS: &str = "immersion_id, person_id, employer_id, need_id, structure,
    mediator, objective, stage, accepted_by_person, accepted_by_employer, declined_by, host_siret,
    goals, period_start, period_end, days, required_signatories, signatures, prevalidated, renewal,
    renewal_start, renewal_end, renewal_required, renewal_signatures, proposed_on, validated_on,
    started_on, ended_on, feedback_authors, outcomes";

pub async fn get(
    db: impl PgExecutor<'_>,
    immersion: ImmersionId,
) -> Result<Option<ImmersionRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {IMMERSION_COLUMNS} from immersions.immersions where immersion_id = $1"
    )))
    .bind(immersion.0)
    .fetch_optional(db)
    .await
}

/// What to list immersions by.
#[derive(Debug, Clone, Default)]
pub struct ImmersionFilter {
    pub person: Option<Uuid>,
    pub employer: Option<Uuid>,
    pub stage: Option<String>,
}

/// A structure's immersions, newest proposal first, `limit` after the
/// (proposed on, id) key given.
pub async fn page(
    db: impl PgExecutor<'_>,
    structure: Uuid,
    filter: &ImmersionFilter,
    after: Option<(Date, Uuid)>,
    limit: i64,
) -> Result<Vec<ImmersionRow>, sqlx::Error> {
    let (after_day, after_id) = after.unzip();
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {IMMERSION_COLUMNS} from immersions.immersions
         where structure = $1
           and ($2::uuid is null or person_id = $2)
           and ($3::uuid is null or employer_id = $3)
           and ($4::text is null or stage = $4)
           and ($5::date is null or (proposed_on, immersion_id) < ($5, $6))
         order by proposed_on desc, immersion_id desc limit $7"
    )))
    .bind(structure)
    .bind(filter.person)
    .bind(filter.employer)
    .bind(filter.stage.as_deref())
    .bind(after_day)
    .bind(after_id)
    .bind(limit)
    .fetch_all(db)
    .await
}
