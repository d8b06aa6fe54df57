//! `inbox`: what each mediator has to do, kept by the runner from the log:
//! conventions to sign or validate before the start, immersions starting,
//! accident declarations due within 48 hours, assessments due and overdue,
//! follow-ups due at 1, 3 and 6 months, needs left without follow-up and
//! employers waiting. The rows hold the facts; [`tasks`] turns them into
//! dated tasks for a given day, in business days where the law counts so.

use async_trait::async_trait;
use passerelle_domain::calendar::add_business_days;
use passerelle_domain::employer::EmployerEvent;
use passerelle_domain::fr;
use passerelle_domain::immersion::{Feedback, ImmersionEvent, Milestone, Respondent};
use passerelle_domain::need::{NeedEvent, NeedSource};
use passerelle_domain::values::add_months;
use passerelle_store::RecordedEvent;
use passerelle_store::projection::{Projection, ProjectionError};
use serde::Serialize;
use sqlx::PgConnection;
use time::{Date, Duration, OffsetDateTime};
use uuid::Uuid;

use crate::rows::{Rows, keyed};
use crate::views::{decode_one, in_category, required_signatories, staff_actor, stream_uuid, tag};

/// A signature still missing this many business days before the start is
/// a task.
pub const SIGNATURE_NOTICE_BUSINESS_DAYS: i64 = 2;
/// A validated immersion starting within this many business days is a task.
pub const START_NOTICE_BUSINESS_DAYS: i64 = 2;
/// An assessment not given this many business days after the end is
/// overdue, then late.
pub const ASSESSMENT_OVERDUE_BUSINESS_DAYS: i64 = 3;
pub const ASSESSMENT_LATE_BUSINESS_DAYS: i64 = 10;
/// An open need with nothing done for this many days needs a follow-up.
pub const NEED_IDLE_DAYS: i64 = 14;
/// A proposal the employer has not answered after this many days.
pub const PROPOSAL_UNANSWERED_DAYS: i64 = 7;

#[derive(Debug, Clone, Copy)]
pub struct Inbox;

#[async_trait]
impl Projection for Inbox {
    fn name(&self) -> &'static str {
        "inbox"
    }

    /// The streams `apply` reads.
    fn handles(&self, event: &RecordedEvent) -> bool {
        ["employer", "need", "immersion"]
            .iter()
            .any(|c| in_category(event, c))
    }

    fn schema_sql(&self) -> &'static str {
        "create table immersions (
             immersion_id uuid primary key,
             structure uuid not null,
             mediator uuid not null,
             employer_id uuid not null,
             proposed_on date not null,
             employer_answered boolean not null default false,
             -- Declined, rejected, deprecated, cancelled or interrupted.
             closed boolean not null default false,
             period_start date,
             period_end date,
             required_signatories text[] not null default '{}',
             signatures text[] not null default '{}',
             validated boolean not null default false,
             started boolean not null default false,
             completed_on date,
             host_assessed boolean not null default false,
             outcomes text[] not null default '{}'
         );
         create index immersions_mediator on immersions (mediator) where not closed;
         create table accidents (
             accident_id uuid primary key,
             immersion_id uuid not null,
             occurred_at timestamptz not null,
             structure_informed_at timestamptz not null,
             declare_by timestamptz not null,
             filed_at timestamptz
         );
         -- The name as last corrected (`employer_corrected`).
         create table employers (
             employer_id uuid primary key,
             name text not null
         );
         create table needs (
             need_id uuid primary key,
             employer_id uuid not null,
             structure uuid,
             mediator uuid,
             source text not null,
             qualified boolean not null default false,
             open boolean not null default true,
             used boolean not null default false,
             last_activity date not null
         );"
    }

    async fn apply(
        &self,
        conn: &mut PgConnection,
        events: &[RecordedEvent],
    ) -> Result<(), ProjectionError> {
        let mut facts = Vec::new();
        let (mut immersions, mut needs, mut accidents) = (Vec::new(), Vec::new(), Vec::new());
        let mut renamed = Vec::new();
        for event in events {
            if in_category(event, "employer") {
                let e: EmployerEvent = decode_one(event, "employer")?;
                if let EmployerEvent::EmployerCorrected(c) = &e
                    && c.changes.name.is_some()
                {
                    renamed.extend(stream_uuid(event));
                }
                facts.push(Fact::Employer(event, e));
            } else if in_category(event, "need") {
                let e: NeedEvent = decode_one(event, "need")?;
                needs.extend(stream_uuid(event));
                if let NeedEvent::NeedSurfaced(e) = &e {
                    needs.push(e.need_id.0);
                }
                facts.push(Fact::Need(event, e));
            } else if in_category(event, "immersion") {
                let e: ImmersionEvent = decode_one(event, "immersion")?;
                immersions.extend(stream_uuid(event));
                match &e {
                    ImmersionEvent::ImmersionProposed(e) => {
                        immersions.push(e.immersion_id.0);
                        needs.extend(e.need_id.map(|n| n.0));
                    }
                    ImmersionEvent::AccidentReported(e) => accidents.push(e.accident_id.0),
                    ImmersionEvent::AccidentDeclarationFiled(e) => accidents.push(e.accident_id.0),
                    _ => {}
                }
                facts.push(Fact::Immersion(event, Box::new(e)));
            }
        }
        let mut rows = Tables {
            immersions: Rows::load(conn, immersions).await?,
            accidents: Rows::load(conn, accidents).await?,
            needs: Rows::load(conn, needs).await?,
            employers: Rows::load(conn, renamed).await?,
        };
        for fact in facts {
            match fact {
                Fact::Employer(_, EmployerEvent::EmployerRegistered(e)) => {
                    rows.employers.insert(EmployerRow {
                        employer_id: e.employer_id.0,
                        name: e.name.as_str().to_owned(),
                    });
                }
                // The tasks name the establishment as corrected.
                Fact::Employer(event, EmployerEvent::EmployerCorrected(e)) => {
                    if let (Some(name), Some(employer)) =
                        (&e.changes.name, rows.employers.get_mut(stream_uuid(event)))
                    {
                        employer.name = name.as_str().to_owned();
                    }
                }
                Fact::Employer(..) => {}
                Fact::Need(event, e) => rows.need(event, e),
                Fact::Immersion(event, e) => rows.immersion(event, *e),
            }
        }
        rows.immersions.save(conn).await?;
        rows.accidents.save(conn).await?;
        rows.needs.save(conn).await?;
        rows.employers.save(conn).await?;
        Ok(())
    }
}

/// An event this projection reads, decoded.
enum Fact<'a> {
    Employer(&'a RecordedEvent, EmployerEvent),
    Need(&'a RecordedEvent, NeedEvent),
    Immersion(&'a RecordedEvent, Box<ImmersionEvent>),
}

#[derive(Serialize, sqlx::FromRow)]
struct ImmersionRow {
    immersion_id: Uuid,
    structure: Uuid,
    mediator: Uuid,
    employer_id: Uuid,
    proposed_on: Date,
    employer_answered: bool,
    closed: bool,
    period_start: Option<Date>,
    period_end: Option<Date>,
    required_signatories: Vec<String>,
    signatures: Vec<String>,
    validated: bool,
    started: bool,
    completed_on: Option<Date>,
    host_assessed: bool,
    outcomes: Vec<String>,
}
keyed!(ImmersionRow, "immersions", immersion_id);

#[derive(Serialize, sqlx::FromRow)]
struct AccidentRow {
    accident_id: Uuid,
    immersion_id: Uuid,
    #[serde(with = "time::serde::rfc3339")]
    occurred_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    structure_informed_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    declare_by: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    filed_at: Option<OffsetDateTime>,
}
keyed!(AccidentRow, "accidents", accident_id);

#[derive(Serialize, sqlx::FromRow)]
struct EmployerRow {
    employer_id: Uuid,
    name: String,
}
keyed!(EmployerRow, "employers", employer_id);

#[derive(Serialize, sqlx::FromRow)]
struct NeedRow {
    need_id: Uuid,
    employer_id: Uuid,
    structure: Option<Uuid>,
    mediator: Option<Uuid>,
    source: String,
    qualified: bool,
    open: bool,
    used: bool,
    last_activity: Date,
}
keyed!(NeedRow, "needs", need_id);

impl NeedRow {
    fn touch(&mut self, day: Date) {
        self.last_activity = self.last_activity.max(day);
    }
}

/// The rows one batch reads and writes.
struct Tables {
    immersions: Rows<ImmersionRow>,
    accidents: Rows<AccidentRow>,
    needs: Rows<NeedRow>,
    employers: Rows<EmployerRow>,
}

impl Tables {
    fn need(&mut self, event: &RecordedEvent, e: NeedEvent) {
        if let NeedEvent::NeedSurfaced(e) = e {
            self.needs.insert(NeedRow {
                need_id: e.need_id.0,
                employer_id: e.employer_id.0,
                structure: Some(event.tenant),
                mediator: staff_actor(event),
                source: match e.source {
                    NeedSource::Visit { .. } => "visit",
                    NeedSource::Portal => "portal",
                    NeedSource::Phone => "phone",
                }
                .to_owned(),
                qualified: false,
                open: true,
                used: false,
                last_activity: e.surfaced_on,
            });
            return;
        }
        let Some(need) = self.needs.get_mut(stream_uuid(event)) else {
            return;
        };
        match e {
            NeedEvent::NeedQualified(e) => {
                need.qualified = true;
                need.touch(e.qualified_on);
            }
            NeedEvent::NeedFormalisedAsOffer(e) => {
                need.open = false;
                need.touch(e.formalised_on);
            }
            NeedEvent::NeedClosed(e) => {
                need.open = false;
                need.touch(e.closed_on);
            }
            // A correction fixes the record; it is not activity on the need.
            NeedEvent::NeedSurfaced(_) | NeedEvent::NeedCorrected(_) => {}
        }
    }

    fn immersion(&mut self, event: &RecordedEvent, e: ImmersionEvent) {
        let id = stream_uuid(event);
        match e {
            ImmersionEvent::ImmersionProposed(e) => {
                self.immersions.insert(ImmersionRow {
                    immersion_id: e.immersion_id.0,
                    structure: e.structure.0,
                    mediator: e.mediator.0,
                    employer_id: e.employer_id.0,
                    proposed_on: e.proposed_on,
                    employer_answered: false,
                    closed: false,
                    period_start: None,
                    period_end: None,
                    required_signatories: Vec::new(),
                    signatures: Vec::new(),
                    validated: false,
                    started: false,
                    completed_on: None,
                    host_assessed: false,
                    outcomes: Vec::new(),
                });
                if let Some(need) = self.needs.get_mut(e.need_id.map(|n| n.0)) {
                    need.used = true;
                    need.touch(e.proposed_on);
                }
                return;
            }
            ImmersionEvent::AccidentReported(e) => {
                if let Some(immersion_id) = id {
                    self.accidents.insert(AccidentRow {
                        accident_id: e.accident_id.0,
                        immersion_id,
                        occurred_at: e.occurred_at,
                        structure_informed_at: e.structure_informed_at,
                        declare_by: e.declaration_due_at,
                        filed_at: None,
                    });
                }
                return;
            }
            ImmersionEvent::AccidentDeclarationFiled(e) => {
                if let Some(accident) = self.accidents.get_mut(Some(e.accident_id.0)) {
                    accident.filed_at = Some(e.filed_at);
                }
                return;
            }
            _ => {}
        }
        let Some(row) = self.immersions.get_mut(id) else {
            return;
        };
        match e {
            ImmersionEvent::ProposalAcceptedByEmployer(_) => row.employer_answered = true,
            ImmersionEvent::ProposalDeclined(e) => {
                row.closed = true;
                if e.by == Respondent::Employer {
                    row.employer_answered = true;
                }
            }
            ImmersionEvent::ConventionDrafted(e) => row.signatories(&e.convention),
            ImmersionEvent::ConventionModified(e) => row.signatories(&e.convention),
            ImmersionEvent::ConventionSigned(e) if !e.renewal => {
                row.signatures.push(tag(&e.signatory));
            }
            ImmersionEvent::ConventionValidated(e) if !e.renewal => row.validated = true,
            ImmersionEvent::ConventionRejected(_)
            | ImmersionEvent::ConventionDeprecated(_)
            | ImmersionEvent::ConventionCancelled(_)
            | ImmersionEvent::ImmersionInterrupted(_) => row.closed = true,
            ImmersionEvent::ConventionRenewed(e) => row.period_end = Some(e.terms.period.end()),
            ImmersionEvent::ImmersionStarted(_) => row.started = true,
            ImmersionEvent::ImmersionCompleted(e) => row.completed_on = Some(e.completed_on),
            // An interrupted immersion is closed: only a completion's day
            // sets the assessment and follow-ups due.
            ImmersionEvent::EndCorrected(e) if row.completed_on.is_some() => {
                row.completed_on = Some(e.ended_on);
            }
            ImmersionEvent::FeedbackRecorded(e) if matches!(e.feedback, Feedback::Host(_)) => {
                row.host_assessed = true;
            }
            ImmersionEvent::OutcomeRecorded(e) => row.outcomes.push(tag(&e.milestone)),
            _ => {}
        }
    }
}

impl ImmersionRow {
    /// A drafted or modified convention: who must sign, no signature yet.
    fn signatories(&mut self, convention: &passerelle_domain::immersion::Convention) {
        self.required_signatories = required_signatories(convention);
        self.signatures.clear();
        self.period_start = Some(convention.period.start());
        self.period_end = Some(convention.period.end());
    }
}

/// An immersion as the inbox knows it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ImmersionFacts {
    pub immersion_id: Uuid,
    pub employer_id: Uuid,
    pub employer_name: Option<String>,
    pub proposed_on: Date,
    pub employer_answered: bool,
    pub period_start: Option<Date>,
    pub period_end: Option<Date>,
    pub required_signatories: Vec<String>,
    pub signatures: Vec<String>,
    pub validated: bool,
    pub started: bool,
    pub completed_on: Option<Date>,
    pub host_assessed: bool,
    pub outcomes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AccidentFacts {
    pub accident_id: Uuid,
    pub immersion_id: Uuid,
    pub employer_id: Uuid,
    pub employer_name: Option<String>,
    pub occurred_at: OffsetDateTime,
    pub structure_informed_at: OffsetDateTime,
    pub declare_by: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct NeedFacts {
    pub need_id: Uuid,
    pub employer_id: Uuid,
    pub employer_name: Option<String>,
    pub source: String,
    pub qualified: bool,
    pub last_activity: Date,
}

/// What a mediator's tasks are made from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    pub immersions: Vec<ImmersionFacts>,
    pub accidents: Vec<AccidentFacts>,
    pub needs: Vec<NeedFacts>,
}

/// The immersions still followed (not closed, and not done with: the
/// assessment in and the 6-month outcome recorded), with every column of
/// [`OpenImmersion`]; callers add conditions and an order.
const OPEN_IMMERSIONS: &str = "select i.structure, i.mediator, i.immersion_id, i.employer_id,
        e.name as employer_name, i.proposed_on, i.employer_answered, i.period_start,
        i.period_end, i.required_signatories, i.signatures, i.validated, i.started,
        i.completed_on, i.host_assessed, i.outcomes
    from inbox.immersions i left join inbox.employers e using (employer_id)
    where not i.closed and not (i.host_assessed and i.outcomes @> array['six_months'])";

/// The facts behind `mediator`'s tasks: their immersions still open, the
/// undeclared accidents of those, and the open needs they surfaced or that
/// came to their structure from the portal or by phone.
pub async fn facts(
    db: &sqlx::PgPool,
    mediator: Uuid,
    structure: Uuid,
) -> Result<Facts, sqlx::Error> {
    let immersions = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{OPEN_IMMERSIONS} and i.mediator = $1 order by i.proposed_on, i.immersion_id"
    )))
    .bind(mediator)
    .fetch_all(db);
    let accidents = sqlx::query_as(
        "select a.accident_id, a.immersion_id, i.employer_id, e.name as employer_name, a.occurred_at,
                a.structure_informed_at, a.declare_by
         from inbox.accidents a join inbox.immersions i using (immersion_id)
              left join inbox.employers e on e.employer_id = i.employer_id
         where i.mediator = $1 and a.filed_at is null
         order by a.declare_by",
    )
    .bind(mediator)
    .fetch_all(db);
    let needs = sqlx::query_as(
        "select n.need_id, n.employer_id, e.name as employer_name, n.source, n.qualified,
                n.last_activity
         from inbox.needs n left join inbox.employers e using (employer_id)
         where n.open and not n.used
           and (n.mediator = $1 or (n.mediator is null and n.structure = $2))
         order by n.last_activity, n.need_id",
    )
    .bind(mediator)
    .bind(structure)
    .fetch_all(db);
    Ok(Facts {
        immersions: immersions.await?,
        accidents: accidents.await?,
        needs: needs.await?,
    })
}

/// An immersion still open, with whose inbox it is in.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OpenImmersion {
    pub structure: Uuid,
    pub mediator: Uuid,
    #[sqlx(flatten)]
    pub facts: ImmersionFacts,
}

/// Every immersion still open, for the reminders that follow them.
pub async fn open_immersions(db: &sqlx::PgPool) -> Result<Vec<OpenImmersion>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{OPEN_IMMERSIONS} order by i.immersion_id"
    )))
    .fetch_all(db)
    .await
}

// The doc comments are the API's descriptions; the plain comments say when
// the task is due.
/// What kind of task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(
    feature = "graphql",
    derive(async_graphql::Enum),
    graphql(name = "InboxTaskKind")
)]
pub enum TaskKind {
    // The declaration (48 h) not filed.
    /// An accident at work: the declaration is due 48 hours after it.
    AccidentDeclaration,
    /// Signatures still missing, the start within 2 business days.
    SignaturesMissing,
    // Every signature given: the structure validates.
    /// Every party signed: the convention is to validate.
    ConventionToValidate,
    /// Validated and starting within 2 business days.
    StartingSoon,
    // Overdue at D+3, late at D+10 (business days).
    /// The tutor's assessment, due from the last day.
    AssessmentDue,
    // Once its date has come.
    /// A follow-up at 1, 3 or 6 months.
    FollowUpDue,
    /// The employer has not answered a proposal for 7 days.
    ProposalUnanswered,
    // From the portal or by phone, not yet taken up.
    /// An employer sent a need and waits for an answer.
    EmployerWaiting,
    // An open one.
    /// A need with nothing done for 14 days.
    NeedWithoutFollowUp,
}

/// One thing to do, with when it is due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    pub kind: TaskKind,
    pub due: Date,
    /// 0 when not yet late; for assessments 3 or 10 past the business-day
    /// marks; otherwise days past due.
    pub overdue_days: i64,
    pub immersion_id: Option<Uuid>,
    pub need_id: Option<Uuid>,
    pub accident_id: Option<Uuid>,
    pub employer_id: Uuid,
    pub employer_name: Option<String>,
    /// The milestone a follow-up is for; the signatories still missing.
    pub detail: Vec<String>,
}

fn signatory(tag: &str) -> &'static str {
    match tag {
        "person" => "la personne",
        "legal_representative" => "son représentant légal",
        "host" => "l'employeur",
        "prescriber" => "le prescripteur",
        "support_structure" => "la structure d'accompagnement",
        _ => "l'employeur actuel",
    }
}

impl Task {
    /// What to do, in French, for the inbox and the weekly digest.
    pub fn title(&self) -> String {
        let task = self;
        let employer = task.employer_name.as_deref().unwrap_or("l'employeur");
        let due = fr::date(task.due);
        match task.kind {
            TaskKind::AccidentDeclaration => format!(
                "Accident du travail chez {employer} : déclaration à faire au plus tard le {due} \
             (structure informée en {} h).",
                task.detail.first().map_or("?", String::as_str)
            ),
            TaskKind::SignaturesMissing => format!(
                "Signature{} manquante{} ({}) : l'immersion chez {employer} commence le {due}.",
                if task.detail.len() > 1 { "s" } else { "" },
                if task.detail.len() > 1 { "s" } else { "" },
                task.detail
                    .iter()
                    .map(|s| signatory(s))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            TaskKind::ConventionToValidate => {
                format!("Convention chez {employer} signée par tous : à valider avant le {due}.")
            }
            TaskKind::StartingSoon => format!(
                "L'immersion chez {employer} commence le {due} : confirmez l'arrivée avec la personne et le tuteur."
            ),
            TaskKind::AssessmentDue => match task.overdue_days {
                0 => format!("Bilan du tuteur de {employer} à recueillir (fin le {due})."),
                n => format!(
                    "Bilan du tuteur de {employer} en retard : {n} jours ouvrés après la fin du {due}."
                ),
            },
            TaskKind::FollowUpDue => {
                let when = match task.detail.first().map(String::as_str) {
                    Some("one_month") => "1 mois",
                    Some("three_months") => "3 mois",
                    _ => "6 mois",
                };
                format!(
                    "Suivi à {when} de l'immersion chez {employer} à enregistrer (depuis le {due})."
                )
            }
            TaskKind::ProposalUnanswered => format!(
                "{employer} n'a pas répondu à la proposition d'immersion : relancez (sans réponse depuis le {due})."
            ),
            TaskKind::EmployerWaiting => {
                format!("{employer} a exprimé un besoin et attend votre réponse (avant le {due}).")
            }
            TaskKind::NeedWithoutFollowUp => {
                format!(
                    "Besoin de {employer} sans suite depuis le {due} : proposez quelqu'un ou clôturez-le."
                )
            }
        }
    }

    /// The page where the task is done.
    pub fn link(&self) -> String {
        match (self.immersion_id, self.need_id) {
            (Some(i), _) => format!("/immersions/{i}"),
            (None, Some(n)) => format!("/needs/{n}"),
            (None, None) => format!("/employers/{}", self.employer_id),
        }
    }
}

/// The tasks the facts make on `today` (Paris) at `now`, most pressing
/// first: overdue before due, then by due date.
pub fn tasks(facts: &Facts, today: Date, now: OffsetDateTime) -> Vec<Task> {
    let mut tasks = Vec::new();
    let task = |kind, due: Date, immersion: &ImmersionFacts| Task {
        kind,
        due,
        overdue_days: (today - due).whole_days().max(0),
        immersion_id: Some(immersion.immersion_id),
        need_id: None,
        accident_id: None,
        employer_id: immersion.employer_id,
        employer_name: immersion.employer_name.clone(),
        detail: Vec::new(),
    };
    for a in &facts.accidents {
        let due = passerelle_domain::calendar::paris_date(a.declare_by);
        tasks.push(Task {
            kind: TaskKind::AccidentDeclaration,
            due,
            overdue_days: if now > a.declare_by {
                (now - a.declare_by).whole_days().max(1)
            } else {
                0
            },
            immersion_id: Some(a.immersion_id),
            need_id: None,
            accident_id: Some(a.accident_id),
            employer_id: a.employer_id,
            employer_name: a.employer_name.clone(),
            detail: vec![format!(
                "{}",
                (a.structure_informed_at - a.occurred_at).whole_hours()
            )],
        });
    }
    for i in &facts.immersions {
        if !i.employer_answered
            && i.period_start.is_none()
            && today - i.proposed_on >= Duration::days(PROPOSAL_UNANSWERED_DAYS)
        {
            let due = i.proposed_on + Duration::days(PROPOSAL_UNANSWERED_DAYS);
            tasks.push(task(TaskKind::ProposalUnanswered, due, i));
        }
        if let Some(start) = i.period_start
            && !i.validated
        {
            let missing: Vec<String> = i
                .required_signatories
                .iter()
                .filter(|s| !i.signatures.contains(s))
                .cloned()
                .collect();
            if missing.is_empty() {
                tasks.push(task(TaskKind::ConventionToValidate, start, i));
            } else if add_business_days(today, SIGNATURE_NOTICE_BUSINESS_DAYS) >= start {
                let mut t = task(TaskKind::SignaturesMissing, start, i);
                t.detail = missing;
                tasks.push(t);
            }
        }
        if let Some(start) = i.period_start
            && i.validated
            && !i.started
            && start >= today
            && add_business_days(today, START_NOTICE_BUSINESS_DAYS) >= start
        {
            tasks.push(task(TaskKind::StartingSoon, start, i));
        }
        let Some(end) = i.completed_on else {
            continue;
        };
        if !i.host_assessed && today >= end {
            let mut t = task(TaskKind::AssessmentDue, end, i);
            t.overdue_days = if today >= add_business_days(end, ASSESSMENT_LATE_BUSINESS_DAYS) {
                ASSESSMENT_LATE_BUSINESS_DAYS
            } else if today >= add_business_days(end, ASSESSMENT_OVERDUE_BUSINESS_DAYS) {
                ASSESSMENT_OVERDUE_BUSINESS_DAYS
            } else {
                0
            };
            tasks.push(t);
        }
        // The earliest follow-up due and not recorded: one task at a time.
        let follow_up = [
            Milestone::OneMonth,
            Milestone::ThreeMonths,
            Milestone::SixMonths,
        ]
        .into_iter()
        .map(|m| (tag(&m), add_months(end, m.months())))
        .find(|(m, due)| today >= *due && !i.outcomes.contains(m));
        if let Some((milestone, due)) = follow_up {
            let mut t = task(TaskKind::FollowUpDue, due, i);
            t.detail = vec![milestone];
            tasks.push(t);
        }
    }
    for n in &facts.needs {
        let waiting = n.source != "visit" && !n.qualified;
        let idle_since = today - n.last_activity;
        let (kind, due) = if waiting {
            (
                TaskKind::EmployerWaiting,
                add_business_days(n.last_activity, 2),
            )
        } else if idle_since >= Duration::days(NEED_IDLE_DAYS) {
            (
                TaskKind::NeedWithoutFollowUp,
                n.last_activity + Duration::days(NEED_IDLE_DAYS),
            )
        } else {
            continue;
        };
        tasks.push(Task {
            kind,
            due,
            overdue_days: (today - due).whole_days().max(0),
            immersion_id: None,
            need_id: Some(n.need_id),
            accident_id: None,
            employer_id: n.employer_id,
            employer_name: n.employer_name.clone(),
            detail: Vec::new(),
        });
    }
    tasks.sort_by(|a, b| {
        (b.overdue_days > 0)
            .cmp(&(a.overdue_days > 0))
            .then(a.due.cmp(&b.due))
            .then(a.kind.cmp(&b.kind))
    });
    tasks
}

#[cfg(test)]
mod tests {
    use time::macros::{date, datetime};

    use super::*;

    fn immersion(start: Date, end: Date) -> ImmersionFacts {
        ImmersionFacts {
            immersion_id: Uuid::from_u128(1),
            employer_id: Uuid::from_u128(2),
            employer_name: Some("Boulangerie du Port".into()),
            proposed_on: start - Duration::days(20),
            employer_answered: true,
            period_start: Some(start),
            period_end: Some(end),
            required_signatories: vec!["person".into(), "host".into(), "prescriber".into()],
            signatures: vec!["person".into()],
            validated: false,
            started: false,
            completed_on: None,
            host_assessed: false,
            outcomes: vec![],
        }
    }

    fn kinds(facts: &Facts, today: Date) -> Vec<TaskKind> {
        tasks(facts, today, today.midnight().assume_utc())
            .iter()
            .map(|t| t.kind)
            .collect()
    }

    #[test]
    fn missing_signatures_show_two_business_days_before_the_start() {
        // Starts Monday 18 May 2026; Thursday 14 is Ascension: the task
        // shows from Wednesday 13, not before.
        let facts = Facts {
            immersions: vec![immersion(date!(2026 - 05 - 18), date!(2026 - 05 - 29))],
            ..Facts::default()
        };
        assert!(kinds(&facts, date!(2026 - 05 - 12)).is_empty());
        assert_eq!(
            kinds(&facts, date!(2026 - 05 - 13)),
            [TaskKind::SignaturesMissing]
        );
        let t = &tasks(
            &facts,
            date!(2026 - 05 - 13),
            datetime!(2026-05-13 08:00 UTC),
        )[0];
        assert_eq!(t.detail, ["host", "prescriber"]);
    }

    #[test]
    fn assessments_turn_overdue_at_three_then_ten_business_days() {
        let mut i = immersion(date!(2026 - 04 - 20), date!(2026 - 04 - 30));
        i.signatures = i.required_signatories.clone();
        i.validated = true;
        i.started = true;
        i.completed_on = Some(date!(2026 - 04 - 30));
        let facts = Facts {
            immersions: vec![i.clone()],
            ..Facts::default()
        };
        let level = |today| {
            tasks(&facts, today, datetime!(2026-01-01 00:00 UTC))
                .iter()
                .find(|t| t.kind == TaskKind::AssessmentDue)
                .map(|t| t.overdue_days)
        };
        // Thursday 30 April; 1 May and the weekend are not business days.
        assert_eq!(level(date!(2026 - 04 - 29)), None);
        assert_eq!(level(date!(2026 - 04 - 30)), Some(0));
        assert_eq!(level(date!(2026 - 05 - 05)), Some(0));
        assert_eq!(level(date!(2026 - 05 - 06)), Some(3));
        // 8 May and Ascension Thursday 14 May are holidays too.
        assert_eq!(level(date!(2026 - 05 - 18)), Some(3));
        assert_eq!(level(date!(2026 - 05 - 19)), Some(10));
        let mut assessed = i;
        assessed.host_assessed = true;
        let facts = Facts {
            immersions: vec![assessed],
            ..Facts::default()
        };
        assert!(
            !kinds(&facts, date!(2026 - 05 - 19)).contains(&TaskKind::AssessmentDue),
            "stops once given"
        );
    }

    #[test]
    fn follow_ups_come_one_at_a_time_when_due() {
        let mut i = immersion(date!(2026 - 01 - 05), date!(2026 - 01 - 30));
        i.validated = true;
        i.started = true;
        i.host_assessed = true;
        i.completed_on = Some(date!(2026 - 01 - 30));
        let facts = Facts {
            immersions: vec![i.clone()],
            ..Facts::default()
        };
        assert!(kinds(&facts, date!(2026 - 02 - 27)).is_empty());
        let due = tasks(
            &facts,
            date!(2026 - 05 - 02),
            datetime!(2026-05-02 08:00 UTC),
        );
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].detail, ["one_month"]);
        assert_eq!(due[0].due, date!(2026 - 02 - 28));
        i.outcomes = vec!["one_month".into()];
        let facts = Facts {
            immersions: vec![i],
            ..Facts::default()
        };
        let due = tasks(
            &facts,
            date!(2026 - 05 - 02),
            datetime!(2026-05-02 08:00 UTC),
        );
        assert_eq!(due[0].detail, ["three_months"]);
    }

    #[test]
    fn an_accident_declaration_is_due_48_hours_after() {
        let facts = Facts {
            accidents: vec![AccidentFacts {
                accident_id: Uuid::from_u128(9),
                immersion_id: Uuid::from_u128(1),
                employer_id: Uuid::from_u128(2),
                employer_name: None,
                occurred_at: datetime!(2026-03-02 10:00 UTC),
                structure_informed_at: datetime!(2026-03-02 16:00 UTC),
                declare_by: datetime!(2026-03-04 10:00 UTC),
            }],
            ..Facts::default()
        };
        let before = tasks(
            &facts,
            date!(2026 - 03 - 03),
            datetime!(2026-03-03 09:00 UTC),
        );
        assert_eq!(before[0].kind, TaskKind::AccidentDeclaration);
        assert_eq!(before[0].overdue_days, 0);
        let after = tasks(
            &facts,
            date!(2026 - 03 - 04),
            datetime!(2026-03-04 10:01 UTC),
        );
        assert_eq!(after[0].overdue_days, 1);
    }

    #[test]
    fn needs_wait_for_an_answer_or_a_follow_up() {
        let need = |source: &str, qualified| NeedFacts {
            need_id: Uuid::from_u128(5),
            employer_id: Uuid::from_u128(2),
            employer_name: None,
            source: source.into(),
            qualified,
            last_activity: date!(2026 - 03 - 02),
        };
        let facts = Facts {
            needs: vec![need("portal", false), need("visit", true)],
            ..Facts::default()
        };
        assert_eq!(
            kinds(&facts, date!(2026 - 03 - 03)),
            [TaskKind::EmployerWaiting]
        );
        assert_eq!(
            kinds(&facts, date!(2026 - 03 - 16)),
            [TaskKind::EmployerWaiting, TaskKind::NeedWithoutFollowUp]
        );
    }
}
