//! `immersions`: each immersion with its convention's state (who still has
//! to sign, validation, renewal), its dates, and the feedback and outcomes
//! recorded. Also the source of a person's history with a host, which the
//! PMSMP rules read.

use async_trait::async_trait;
use passerelle_domain::immersion::{
    Convention, FeedbackAuthor, ImmersionEvent, ImmersionProposed, Milestone, Objective,
    PriorConvention, RenewalStatus, Respondent, Signatory, Stage, last_planned_day,
};
use passerelle_domain::values::{DateRange, ImmersionId, PersonId, Siret, Text};
use passerelle_store::RecordedEvent;
use passerelle_store::projection::{Mode, Projection, ProjectionError};
use serde::Serialize;
use sqlx::{PgConnection, PgExecutor};
use time::Date;
use uuid::Uuid;

use super::{UnknownTag, of_category, stream_uuid, tag, untag, untag_all};
use crate::rows::{Rows, keyed};

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
         create index immersions_employer on immersions (employer_id);
         -- The immersions of a need, for the employers whose hosting fits
         -- a project: most immersions have no need.
         create index immersions_need on immersions (need_id) where need_id is not null;"
    }

    async fn apply(
        &self,
        conn: &mut PgConnection,
        events: &[RecordedEvent],
    ) -> Result<(), ProjectionError> {
        let events: Vec<(&RecordedEvent, ImmersionEvent)> =
            of_category(events, "immersion").collect::<Result<_, _>>()?;
        let mut rows = Rows::<ImmersionRow>::load(
            conn,
            events
                .iter()
                .filter_map(|(recorded, _)| stream_uuid(recorded)),
        )
        .await?;
        for (recorded, event) in events {
            if let ImmersionEvent::ImmersionProposed(e) = event {
                rows.insert(ImmersionRow::proposed(e));
            } else if let Some(row) = rows.get_mut(stream_uuid(recorded)) {
                row.apply(event);
            }
        }
        rows.save(conn).await?;
        Ok(())
    }
}

keyed!(ImmersionRow, "immersions", immersion_id);

impl ImmersionRow {
    fn proposed(e: ImmersionProposed) -> Self {
        Self {
            immersion_id: e.immersion_id.0,
            person_id: e.person_id.0,
            employer_id: e.employer_id.0,
            need_id: e.need_id.map(|n| n.0),
            structure: e.structure.0,
            mediator: e.mediator.0,
            objective: tag(&e.objective),
            stage: "proposed".to_owned(),
            accepted_by_person: false,
            accepted_by_employer: false,
            declined_by: None,
            host_siret: None,
            goals: None,
            period_start: None,
            period_end: None,
            days: 0,
            required_signatories: Vec::new(),
            signatures: Vec::new(),
            prevalidated: false,
            renewal: None,
            renewal_start: None,
            renewal_end: None,
            renewal_required: Vec::new(),
            renewal_signatures: Vec::new(),
            proposed_on: e.proposed_on,
            validated_on: None,
            started_on: None,
            ended_on: None,
            feedback_authors: Vec::new(),
            outcomes: Vec::new(),
        }
    }

    fn set_stage(&mut self, stage: &str) {
        stage.clone_into(&mut self.stage);
    }

    fn apply(&mut self, event: ImmersionEvent) {
        match event {
            ImmersionEvent::ImmersionProposed(_) => {}
            ImmersionEvent::ProposalAcceptedByPerson(_) => self.accepted_by_person = true,
            ImmersionEvent::ProposalAcceptedByEmployer(_) => self.accepted_by_employer = true,
            ImmersionEvent::ProposalDeclined(e) => {
                self.set_stage("declined");
                self.declined_by = Some(
                    match e.by {
                        Respondent::Person => "person",
                        Respondent::Employer => "employer",
                    }
                    .to_owned(),
                );
            }
            ImmersionEvent::ConventionDrafted(e) => self.convention(&e.convention),
            ImmersionEvent::ConventionModified(e) => self.convention(&e.convention),
            ImmersionEvent::ConventionSigned(e) => {
                let signatures = if e.renewal {
                    &mut self.renewal_signatures
                } else {
                    &mut self.signatures
                };
                signatures.push(tag(&e.signatory));
            }
            ImmersionEvent::ConventionPrevalidated(e) => {
                if !e.renewal {
                    self.prevalidated = true;
                }
            }
            ImmersionEvent::ConventionValidated(e) => {
                if e.renewal {
                    self.renewal = Some("validated".to_owned());
                    if let (Some(start), Some(end)) = (self.renewal_start, self.renewal_end) {
                        self.days += (end - start).whole_days() as i32 + 1;
                    }
                } else {
                    self.set_stage("validated");
                    self.validated_on = Some(e.validated_on);
                }
            }
            ImmersionEvent::ConventionRejected(_) => self.set_stage("rejected"),
            ImmersionEvent::ConventionDeprecated(_) => self.set_stage("deprecated"),
            ImmersionEvent::ConventionCancelled(_) => self.set_stage("cancelled"),
            ImmersionEvent::ConventionRenewed(e) => {
                self.renewal = Some("pending".to_owned());
                self.renewal_start = Some(e.terms.period.start());
                self.renewal_end = Some(e.terms.period.end());
                self.renewal_required = self.required_signatories.clone();
                self.renewal_signatures.clear();
            }
            ImmersionEvent::ImmersionStarted(e) => {
                self.set_stage("started");
                self.started_on = Some(e.started_on);
            }
            ImmersionEvent::StartCorrected(e) => self.started_on = Some(e.started_on),
            ImmersionEvent::ImmersionInterrupted(e) => {
                self.set_stage("interrupted");
                self.ended_on = Some(e.interrupted_on);
            }
            ImmersionEvent::ImmersionCompleted(e) => {
                self.set_stage("completed");
                self.ended_on = Some(e.completed_on);
            }
            ImmersionEvent::EndCorrected(e) => self.ended_on = Some(e.ended_on),
            ImmersionEvent::FeedbackRecorded(e) => self.feedback_authors.push(tag(&e.feedback)),
            ImmersionEvent::OutcomeRecorded(e) => self.outcomes.push(tag(&e.milestone)),
            // The accident clocks belong to the inbox; the person's answer
            // to the assessment, and a feedback's corrections (its author
            // gave it already), are read back from the stream.
            ImmersionEvent::AccidentReported(_)
            | ImmersionEvent::AccidentDeclarationFiled(_)
            | ImmersionEvent::AssessmentAnswered(_)
            | ImmersionEvent::FeedbackCorrected(_) => {}
        }
    }

    /// A drafted or modified convention: its content, who must sign, and no
    /// signature yet (a modification clears them).
    fn convention(&mut self, convention: &Convention) {
        self.set_stage("drafted");
        self.objective = tag(&convention.objective);
        self.host_siret = Some(convention.host.siret.as_str().to_owned());
        self.goals = Some(convention.goals.as_str().to_owned());
        self.period_start = Some(convention.period.start());
        self.period_end = Some(convention.period.end());
        self.days = convention.period.days() as i32;
        self.required_signatories = super::required_signatories(convention);
        self.signatures.clear();
        self.prevalidated = false;
    }
}

#[derive(sqlx::FromRow)]
struct PriorRow {
    immersion_id: Uuid,
    objective: String,
    goals: String,
    period_start: Date,
    period_end: Option<Date>,
    renewal: Option<String>,
    renewal_end: Option<Date>,
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
        "select immersion_id, objective, goals, period_start, period_end, renewal, renewal_end,
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
                span: DateRange::new(
                    r.period_start,
                    last_planned_day(
                        r.period_end,
                        r.renewal_end.filter(|_| {
                            r.renewal.as_deref() == Some(tag(&RenewalStatus::Validated).as_str())
                        }),
                    )?,
                )
                .ok()?,
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
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

/// The row's values read back into the domain's enums: an unknown stored
/// value is an error, never a default.
impl ImmersionRow {
    pub fn objective(&self) -> Result<Objective, UnknownTag> {
        untag(&self.objective)
    }

    pub fn stage(&self) -> Result<Stage, UnknownTag> {
        untag(&self.stage)
    }

    pub fn declined_by(&self) -> Result<Option<Respondent>, UnknownTag> {
        self.declined_by.as_deref().map(untag).transpose()
    }

    pub fn required_signatories(&self) -> Result<Vec<Signatory>, UnknownTag> {
        untag_all(&self.required_signatories)
    }

    pub fn signatures(&self) -> Result<Vec<Signatory>, UnknownTag> {
        untag_all(&self.signatures)
    }

    pub fn renewal(&self) -> Result<Option<RenewalStatus>, UnknownTag> {
        self.renewal.as_deref().map(untag).transpose()
    }

    /// Who still has to sign what awaits signatures now: a pending renewal,
    /// else the drafted convention (as `ImmersionState::missing_signatures`).
    pub fn missing_signatures(&self) -> Result<Vec<Signatory>, UnknownTag> {
        let (required, given) = if self.renewal()? == Some(RenewalStatus::Pending) {
            (&self.renewal_required, &self.renewal_signatures)
        } else if self.stage()? == Stage::Drafted {
            (&self.required_signatories, &self.signatures)
        } else {
            return Ok(Vec::new());
        };
        required
            .iter()
            .filter(|r| !given.contains(r))
            .map(|r| untag(r))
            .collect()
    }

    /// Whether the convention awaits the structure's validation (the
    /// domain's rule).
    pub fn awaits_validation(&self) -> Result<bool, UnknownTag> {
        Ok(self.stage()?.awaits_validation(&self.missing_signatures()?))
    }

    /// The last planned day ([`last_planned_day`]).
    pub fn planned_end(&self) -> Result<Option<Date>, UnknownTag> {
        let validated = matches!(self.renewal()?, Some(RenewalStatus::Validated));
        Ok(last_planned_day(
            self.period_end,
            self.renewal_end.filter(|_| validated),
        ))
    }

    /// Whether feedback is recorded on `today` (the domain's rule).
    pub fn takes_feedback(&self, today: Date) -> Result<bool, UnknownTag> {
        Ok(self.stage()?.takes_feedback(self.planned_end()?, today))
    }

    pub fn feedback_authors(&self) -> Result<Vec<FeedbackAuthor>, UnknownTag> {
        untag_all(&self.feedback_authors)
    }

    /// The milestones with an outcome recorded.
    pub fn outcomes(&self) -> Result<Vec<Milestone>, UnknownTag> {
        untag_all(&self.outcomes)
    }
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

/// Whether the structure has its conventions pre-validated before their
/// validation (its managers' setting, kept with the structure).
pub async fn prevalidation_required(
    db: impl PgExecutor<'_>,
    structure: passerelle_domain::values::StructureId,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "select coalesce((select prevalidation_required from public.structures
                          where structure_id = $1), false)",
    )
    .bind(structure.0)
    .fetch_one(db)
    .await
}
