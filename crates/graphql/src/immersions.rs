//! Immersions (PMSMP): proposal, answers, the convention's workflow, the
//! immersion itself, feedback and outcomes.

use async_graphql::dataloader::DataLoader;
use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use passerelle_app::policy::{self, Field};
use passerelle_app::{Actor, Views};
use passerelle_domain::Personal;
use passerelle_domain::immersion::{
    AssessmentResponse, Attendance, AttendanceKind, Convention, ConventionIdentity,
    ConventionPerson, Feedback, FeedbackAuthor, Hiring, Host, HostAssessment,
    Immersion as ImmersionAggregate, ImmersionCommand, Initiator, Level, MediatorFeedback,
    Milestone, Objective, Organisation, Outcome as DomainOutcome, OutcomeKind, PersonFeedback,
    Place, RenewalStatus, RenewalTerms, Respondent, Signatory, SignatureMethod, Signer, Situation,
    SituationKind, Skill, SkillObserved, Stage, Tutor,
};
use passerelle_domain::values::{
    CommuneCode, ContractType, DateRange, Email, EmployerId, ImmersionId, NeedId, PersonId,
    PhoneNumber, Siret, UserId, WeeklyHours,
};
use passerelle_projections::views::immersions::{self, ImmersionFilter, ImmersionRow};
use time::Date;
use uuid::Uuid;

use crate::context::{actor, gateway, meta, new_id, staff, user_of};
use crate::error::{self, on_field};
use crate::immersion_record as record;
use crate::input::{after as after_key, cursor, label, optional_text, page_size, parse_id, text};
use crate::kinds::stored;
use crate::loaders::{Lists, NameOf};
use crate::primitives::{PageInfo, page, payloads};

/// An immersion and where its convention stands.
#[derive(Debug)]
pub struct Immersion(pub ImmersionRow);

/// Stored values as the deprecated string fields give them (`PERSON`).
fn ids(values: &[String]) -> Vec<String> {
    values.iter().map(|v| v.to_uppercase()).collect()
}

/// A signatory as the deprecated string fields give it (`PERSON`).
fn upper(signatory: &Signatory) -> String {
    passerelle_projections::views::tag(signatory).to_uppercase()
}

#[Object]
impl Immersion {
    async fn id(&self) -> ID {
        ID(self.0.immersion_id.to_string())
    }
    async fn person_id(&self) -> ID {
        ID(self.0.person_id.to_string())
    }
    async fn employer_id(&self) -> ID {
        ID(self.0.employer_id.to_string())
    }
    /// The host's name: whoever reaches the immersion may know where it
    /// takes place, the person accompanied included.
    async fn employer_name(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        let loader = ctx.data_unchecked::<DataLoader<Lists>>();
        loader
            .load_one(NameOf(self.0.employer_id))
            .await
            .map_err(|e| error::internal(&*e))
    }
    async fn need_id(&self) -> Option<ID> {
        self.0.need_id.map(|n| ID(n.to_string()))
    }
    async fn mediator_id(&self) -> ID {
        ID(self.0.mediator.to_string())
    }
    /// `discover_job_or_sector`, `confirm_project` or `initiate_recruitment`.
    #[graphql(deprecation = "Use `pmsmpObjective`, the same value as an enum.")]
    async fn objective(&self) -> &str {
        &self.0.objective
    }
    /// The objective of the PMSMP (L5135-1).
    async fn pmsmp_objective(&self) -> Result<Objective> {
        stored(self.0.objective())
    }
    /// `proposed`, `declined`, `drafted`, `validated`, `rejected`,
    /// `deprecated`, `cancelled`, `started`, `interrupted` or `completed`.
    #[graphql(deprecation = "Use `currentStage`, the same value as an enum.")]
    async fn stage(&self) -> &str {
        &self.0.stage
    }
    /// Where the immersion stands.
    async fn current_stage(&self) -> Result<Stage> {
        stored(self.0.stage())
    }
    /// Whether the convention is signed by every party it requires and
    /// awaits the structure's validation.
    async fn awaits_validation(&self) -> Result<bool> {
        stored(self.0.awaits_validation())
    }
    /// Whether feedback may be recorded today: once the immersion ended,
    /// or from its last planned day on while it runs.
    async fn takes_feedback(&self, ctx: &Context<'_>) -> Result<bool> {
        let today = gateway(ctx).handler.clock().today();
        stored(self.0.takes_feedback(today))
    }
    async fn accepted_by_person(&self) -> bool {
        self.0.accepted_by_person
    }
    async fn accepted_by_employer(&self) -> bool {
        self.0.accepted_by_employer
    }
    #[graphql(deprecation = "Use `declinedByParty`, the same value as an enum.")]
    async fn declined_by(&self) -> Option<&str> {
        self.0.declined_by.as_deref()
    }
    /// Who declined the proposal, when declined.
    async fn declined_by_party(&self) -> Result<Option<Respondent>> {
        stored(self.0.declined_by())
    }
    async fn goals(&self) -> Option<&str> {
        self.0.goals.as_deref()
    }
    async fn period_start(&self) -> Option<Date> {
        self.0.period_start
    }
    async fn period_end(&self) -> Option<Date> {
        self.0.period_end
    }
    /// Calendar days of the convention and its validated renewal.
    async fn days(&self) -> i32 {
        self.0.days
    }
    /// Who must sign (`PERSON`, `HOST`, `PRESCRIBER`…).
    #[graphql(deprecation = "Use `signatories`, the same values as enums.")]
    async fn required_signatories(&self) -> Vec<String> {
        ids(&self.0.required_signatories)
    }
    /// Who must sign the convention.
    async fn signatories(&self) -> Result<Vec<Signatory>> {
        stored(self.0.required_signatories())
    }
    #[graphql(deprecation = "Use `signedBy`, the same values as enums.")]
    async fn signatures(&self) -> Vec<String> {
        ids(&self.0.signatures)
    }
    /// Who signed the convention.
    async fn signed_by(&self) -> Result<Vec<Signatory>> {
        stored(self.0.signatures())
    }
    /// Who still has to sign what awaits signatures now (the convention,
    /// or a renewal).
    #[graphql(deprecation = "Use `awaitedSignatories`, the same values as enums.")]
    async fn missing_signatures(&self) -> Result<Vec<String>> {
        let missing = stored(self.0.missing_signatures())?;
        Ok(missing.iter().map(upper).collect())
    }
    /// Who still has to sign what awaits signatures now (the convention,
    /// or a renewal).
    async fn awaited_signatories(&self) -> Result<Vec<Signatory>> {
        stored(self.0.missing_signatures())
    }
    async fn prevalidated(&self) -> bool {
        self.0.prevalidated
    }
    /// `pending` or `validated`, when renewed.
    #[graphql(deprecation = "Use `renewalStatus`, the same value as an enum.")]
    async fn renewal(&self) -> Option<&str> {
        self.0.renewal.as_deref()
    }
    /// Where the renewal stands, when renewed.
    async fn renewal_status(&self) -> Result<Option<RenewalStatus>> {
        stored(self.0.renewal())
    }
    async fn renewal_end(&self) -> Option<Date> {
        self.0.renewal_end
    }
    async fn proposed_on(&self) -> Date {
        self.0.proposed_on
    }
    async fn validated_on(&self) -> Option<Date> {
        self.0.validated_on
    }
    async fn started_on(&self) -> Option<Date> {
        self.0.started_on
    }
    async fn ended_on(&self) -> Option<Date> {
        self.0.ended_on
    }
    /// Who gave feedback (`HOST`, `PERSON`, `MEDIATOR`).
    #[graphql(deprecation = "Use `feedbackAuthors`, the same values as enums.")]
    async fn feedback_from(&self) -> Vec<String> {
        ids(&self.0.feedback_authors)
    }
    /// Who gave feedback.
    async fn feedback_authors(&self) -> Result<Vec<FeedbackAuthor>> {
        stored(self.0.feedback_authors())
    }
    /// The milestones with an outcome recorded (`END`, `ONE_MONTH`…).
    #[graphql(deprecation = "Use `outcomeMilestones`, the same values as enums.")]
    async fn outcomes(&self) -> Vec<String> {
        ids(&self.0.outcomes)
    }
    /// The milestones with an outcome recorded.
    async fn outcome_milestones(&self) -> Result<Vec<Milestone>> {
        stored(self.0.outcomes())
    }
    /// What the viewer may do on this immersion as a party, as the policy
    /// allows it (`policy::party_acts`), so that pages offer only that:
    /// whether its stage calls for an answer, a signature or a feedback is
    /// told by the other fields. A person whose accompaniment ended may do
    /// none of it.
    async fn viewer_may(&self, ctx: &Context<'_>) -> Result<ImmersionViewerMay> {
        let acts = policy::party_acts(&gateway(ctx).pool, &actor(ctx)?)
            .await
            .map_err(error::app)?;
        Ok(ImmersionViewerMay {
            answer_for: acts.answer_for,
            sign_online_as: acts.sign_online_as,
            give_feedback_as: acts.feedback_as,
            answer_assessment: acts.answer_assessment,
        })
    }
    /// The convention's whole content as last drafted or modified, with
    /// the signatures given to it and its renewal: what its parties sign.
    async fn convention(&self, ctx: &Context<'_>) -> Result<Option<record::Convention>> {
        self.read(ctx, Field::ImmersionConvention, record::convention)
            .await
    }
    /// The host's assessment.
    async fn assessment(&self, ctx: &Context<'_>) -> Result<Option<record::ImmersionAssessment>> {
        self.read(ctx, Field::ImmersionAssessment, record::assessment)
            .await
    }
    /// The person's own feedback, and their answer to the assessment.
    async fn person_feedback(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Option<record::ImmersionPersonFeedback>> {
        self.read(ctx, Field::ImmersionPersonFeedback, record::person_feedback)
            .await
    }
    /// The mediator's notes: staff only.
    async fn mediator_feedback(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Option<record::ImmersionMediatorFeedback>> {
        self.read(
            ctx,
            Field::ImmersionMediatorFeedback,
            record::mediator_feedback,
        )
        .await
    }
    /// Where the person stood at each milestone recorded (null to her
    /// host): the outcome and, for a hire, its contract.
    async fn outcome_records(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Option<Vec<record::ImmersionOutcomeRecord>>> {
        self.read(ctx, Field::ImmersionOutcomes, record::outcomes)
            .await
    }
    /// The mediator's word to the person and the host with the proposal;
    /// null when none was written, or once the person's data was erased.
    async fn proposal_message(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        self.read(
            ctx,
            Field::ImmersionProposalMessage,
            record::proposal_message,
        )
        .await
    }
    /// Who declined the proposal, and why.
    async fn decline(&self, ctx: &Context<'_>) -> Result<Option<record::ImmersionDecline>> {
        self.read(ctx, Field::ImmersionEnding, record::decline)
            .await
    }
    /// Who cancelled the convention, and why.
    async fn cancellation(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Option<record::ImmersionCancellation>> {
        self.read(ctx, Field::ImmersionEnding, record::cancellation)
            .await
    }
    /// The corrections of its first day, oldest first (null to the
    /// person, who is told the day itself).
    async fn start_corrections(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Option<Vec<record::ImmersionStartCorrection>>> {
        self.read(
            ctx,
            Field::ImmersionDayCorrections,
            record::start_corrections,
        )
        .await
    }
    /// The corrections of the day it ended, oldest first (null to the
    /// person, who is told the day itself).
    async fn end_corrections(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Option<Vec<record::ImmersionEndCorrection>>> {
        self.read(ctx, Field::ImmersionDayCorrections, record::end_corrections)
            .await
    }
    /// Who interrupted the immersion, and why.
    async fn interruption(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Option<record::ImmersionInterruption>> {
        self.read(ctx, Field::ImmersionEnding, record::interruption)
            .await
    }
    /// Why the structure rejected the convention.
    async fn rejection(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Option<record::ConventionJustification>> {
        self.read(ctx, Field::ImmersionEnding, record::rejection)
            .await
    }
    /// Why the convention was abandoned.
    async fn deprecation(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Option<record::ConventionJustification>> {
        self.read(ctx, Field::ImmersionEnding, record::deprecation)
            .await
    }
    /// Who prevalidated the convention (and its renewal) and when, oldest
    /// first; for its parties and staff.
    async fn prevalidations(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Option<Vec<record::ConventionApproval>>> {
        self.read(ctx, Field::ImmersionConvention, |h| {
            Some(record::approvals(h, false))
        })
        .await
    }
    /// Who validated the convention (and its renewal) and when, oldest
    /// first; for its parties and staff.
    async fn validations(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Option<Vec<record::ConventionApproval>>> {
        self.read(ctx, Field::ImmersionConvention, |h| {
            Some(record::approvals(h, true))
        })
        .await
    }
    /// The work accidents reported, oldest first; null to the person.
    async fn accidents(&self, ctx: &Context<'_>) -> Result<Option<Vec<record::ImmersionAccident>>> {
        self.read(ctx, Field::ImmersionAccidents, |h| {
            Some(record::accidents(h))
        })
        .await
    }
}

impl Immersion {
    /// What `fact` finds in the immersion's stream, when the viewer may
    /// read `field`.
    async fn read<T>(
        &self,
        ctx: &Context<'_>,
        field: Field,
        fact: impl FnOnce(
            &[passerelle_app::Recorded<passerelle_domain::immersion::ImmersionEvent>],
        ) -> Option<T>,
    ) -> Result<Option<T>> {
        let history = record::readable(ctx, self.0.immersion_id, field).await?;
        Ok(history.and_then(|h| fact(&h)))
    }
}

/// What the viewer may do on an immersion as a party, as the policy allows
/// it.
#[derive(SimpleObject, Debug)]
pub struct ImmersionViewerMay {
    /// Whose answer to the proposal the viewer gives or records.
    pub answer_for: Vec<Respondent>,
    /// As whom the viewer signs online.
    pub sign_online_as: Vec<Signatory>,
    /// Whose feedback the viewer gives or records.
    pub give_feedback_as: Vec<FeedbackAuthor>,
    /// Whether the viewer countersigns or contests the host's assessment
    /// that came in after the person's feedback (or records that answer).
    pub answer_assessment: bool,
}

#[derive(SimpleObject, Debug)]
pub struct ImmersionEdge {
    pub cursor: String,
    pub node: Immersion,
}

#[derive(SimpleObject, Debug)]
pub struct ImmersionConnection {
    pub edges: Vec<ImmersionEdge>,
    pub page_info: PageInfo,
}

#[derive(InputObject, Default, Debug)]
pub struct ImmersionFilterInput {
    pub person_id: Option<ID>,
    pub employer_id: Option<ID>,
    /// A stage, as `stage` gives it.
    pub stage: Option<String>,
}

#[derive(Default, Debug)]
pub struct ImmersionQuery;

#[Object]
impl ImmersionQuery {
    async fn immersion(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Immersion>> {
        let actor = actor(ctx)?;
        let id = ImmersionId(parse_id(&id, "Immersion")?);
        Ok(policy::reachable_immersion(&gateway(ctx).pool, &actor, id)
            .await
            .map_err(error::app)?
            .map(Immersion))
    }

    /// The viewer's structure's immersions, newest proposal first; for a
    /// person or an employer by magic link, their own.
    async fn immersions(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<ImmersionFilterInput>,
    ) -> Result<ImmersionConnection> {
        let actor = actor(ctx)?;
        let limit = page_size(first)?;
        let after = after_key(after, 2, |key| {
            // Within the dates the product holds, as PostgreSQL's are.
            let day = passerelle_domain::values::parse_date(&key[0]).ok()?;
            Some((day, key[1].parse().ok()?))
        })?;
        let filter = filter.unwrap_or_default();
        let mut filter = ImmersionFilter {
            person: filter
                .person_id
                .map(|p| parse_id(&p, "Personne"))
                .transpose()?,
            employer: filter
                .employer_id
                .map(|e| parse_id(&e, "Employeur"))
                .transpose()?,
            stage: filter.stage,
        };
        // A person or an employer by magic link lists their own only, of
        // their session's structure.
        let structure = policy::immersion_list_scope(&actor, &mut filter);
        // A list may lag: from the standby when it serves (`reads`).
        let filter = &filter;
        let rows = crate::reads::lagging(ctx, |pool| async move {
            immersions::page(&pool, structure, filter, after, limit + 1).await
        })
        .await
        .map_err(error::db)?;
        let (edges, page_info) = page(
            rows,
            limit,
            |r| cursor(&[&r.proposed_on.to_string(), &r.immersion_id.to_string()]),
            |cursor, r| ImmersionEdge {
                cursor,
                node: Immersion(r),
            },
        );
        Ok(ImmersionConnection { edges, page_info })
    }
}

// Inputs mirror the domain's convention, so that a rule's field
// (`convention.period.end`) is the input's path.

#[derive(InputObject, Debug)]
pub struct SignerInput {
    pub name: String,
    pub job_title: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

#[derive(InputObject, Debug)]
pub struct OrganisationInput {
    pub name: String,
    pub siret: Option<String>,
    pub signatory: SignerInput,
}

#[derive(InputObject, Debug)]
pub struct ConventionIdentityInput {
    pub first_name: String,
    pub last_name: String,
    pub birth_date: Date,
    pub address: String,
    pub email: Option<String>,
    pub phone: Option<String>,
}

#[derive(InputObject, Debug)]
pub struct SituationInput {
    pub kind: SituationKind,
    /// With `EMPLOYED`: the current employer, who signs too.
    pub current_employer: Option<OrganisationInput>,
    /// With `OTHER`.
    pub description: Option<String>,
}

#[derive(InputObject, Debug)]
pub struct ConventionPersonInput {
    pub identity: ConventionIdentityInput,
    pub situation: SituationInput,
    /// Required when the person is under 18 on the first day.
    pub legal_representative: Option<SignerInput>,
}

#[derive(InputObject, Debug)]
pub struct TutorInput {
    pub name: String,
    pub job_title: String,
    pub email: Option<String>,
    pub phone: Option<String>,
}

#[derive(InputObject, Debug)]
pub struct HostInput {
    pub siret: String,
    pub name: String,
    pub activity: String,
    pub collective_agreement: String,
    pub signatory: SignerInput,
    pub tutor: TutorInput,
}

#[derive(InputObject, Debug)]
pub struct PeriodInput {
    pub start: Date,
    pub end: Date,
}

#[derive(InputObject, Debug)]
pub struct PlaceInput {
    pub address: String,
    /// INSEE code of the commune.
    pub commune: String,
}

#[derive(InputObject, Debug)]
pub struct ConventionInput {
    pub prescriber: OrganisationInput,
    pub support_structure: Option<OrganisationInput>,
    pub person: ConventionPersonInput,
    pub host: HostInput,
    pub period: PeriodInput,
    pub schedule: String,
    /// Hours of presence a week (35, 35.5…).
    pub weekly_hours: f64,
    pub place: PlaceInput,
    pub objective: Objective,
    pub goals: String,
    pub evaluation: String,
    pub tasks: String,
    pub safety: Option<String>,
    /// The host attests the immersion fills no permanent post, no temporary
    /// increase of activity, no seasonal job and replaces no absent employee.
    pub forbidden_uses_excluded: bool,
}

fn email(field: &'static str, value: Option<&str>) -> Result<Option<Email>> {
    value
        .filter(|v| !v.trim().is_empty())
        .map(|v| Email::parse(v).map_err(|e| on_field(field, e)))
        .transpose()
}

fn phone(field: &'static str, value: Option<&str>) -> Result<Option<PhoneNumber>> {
    value
        .filter(|v| !v.trim().is_empty())
        .map(|v| PhoneNumber::parse(v).map_err(|e| on_field(field, e)))
        .transpose()
}

fn siret(field: &'static str, value: &str) -> Result<Siret> {
    Siret::parse(value).map_err(|e| on_field(field, e))
}

fn period(field: &'static str, p: &PeriodInput) -> Result<DateRange> {
    DateRange::new(p.start, p.end).map_err(|e| on_field(field, e))
}

fn weekly_hours(field: &'static str, hours: f64) -> Result<WeeklyHours> {
    let minutes = (hours * 60.0).round();
    let minutes = if minutes.is_finite() && minutes >= 0.0 && minutes <= f64::from(u32::MAX) {
        minutes as u32
    } else {
        0
    };
    WeeklyHours::from_minutes(minutes).map_err(|e| on_field(field, e))
}

macro_rules! signer {
    ($input:expr, $path:expr) => {
        Signer {
            name: label(concat!($path, ".name"), &$input.name)?,
            job_title: optional_label(concat!($path, ".jobTitle"), $input.job_title.as_deref())?,
            email: email(concat!($path, ".email"), $input.email.as_deref())?,
            phone: phone(concat!($path, ".phone"), $input.phone.as_deref())?,
        }
    };
}

macro_rules! organisation {
    ($input:expr, $path:literal) => {
        Organisation {
            name: label(concat!($path, ".name"), &$input.name)?,
            siret: $input
                .siret
                .as_deref()
                .filter(|s| !s.trim().is_empty())
                .map(|s| siret(concat!($path, ".siret"), s))
                .transpose()?,
            // Its own path, so a refusal names the signatory's field, not
            // the organisation's.
            signatory: signer!($input.signatory, concat!($path, ".signatory")),
        }
    };
}

fn optional_label(
    field: &'static str,
    value: Option<&str>,
) -> Result<Option<passerelle_domain::values::Label>> {
    value
        .filter(|v| !v.trim().is_empty())
        .map(|v| label(field, v))
        .transpose()
}

impl ConventionInput {
    fn parse(&self) -> Result<Convention> {
        let p = &self.person;
        let situation = match p.situation.kind {
            SituationKind::JobSeeker => Situation::JobSeeker,
            SituationKind::Student => Situation::Student,
            SituationKind::Other => Situation::Other {
                description: label(
                    "convention.person.situation.description",
                    p.situation.description.as_deref().unwrap_or(""),
                )?
                .into(),
            },
            SituationKind::Employed => {
                let Some(employer) = &p.situation.current_employer else {
                    return Err(on_field(
                        "convention.person.situation.currentEmployer",
                        passerelle_domain::DomainError::invalid(
                            passerelle_domain::Rule::Required,
                            "convention.person.situation.currentEmployer",
                            "Indiquez l'employeur actuel de la personne : il signe aussi la convention.",
                        ),
                    ));
                };
                Situation::Employed {
                    current_employer: organisation!(
                        employer,
                        "convention.person.situation.currentEmployer"
                    ),
                }
            }
        };
        let legal_representative = match &p.legal_representative {
            Some(r) => Some(Personal::Known(signer!(
                r,
                "convention.person.legalRepresentative"
            ))),
            None => None,
        };
        let h = &self.host;
        Ok(Convention {
            prescriber: organisation!(self.prescriber, "convention.prescriber"),
            support_structure: match &self.support_structure {
                Some(s) => Some(organisation!(s, "convention.supportStructure")),
                None => None,
            },
            person: ConventionPerson {
                identity: Personal::Known(ConventionIdentity {
                    first_name: label(
                        "convention.person.identity.firstName",
                        &p.identity.first_name,
                    )?,
                    last_name: label("convention.person.identity.lastName", &p.identity.last_name)?,
                    birth_date: p.identity.birth_date,
                    address: text("convention.person.identity.address", &p.identity.address)?,
                    email: email(
                        "convention.person.identity.email",
                        p.identity.email.as_deref(),
                    )?,
                    phone: phone(
                        "convention.person.identity.phone",
                        p.identity.phone.as_deref(),
                    )?,
                }),
                situation,
                legal_representative,
            },
            host: Host {
                siret: siret("convention.host.siret", &h.siret)?,
                name: label("convention.host.name", &h.name)?,
                activity: text("convention.host.activity", &h.activity)?,
                collective_agreement: label(
                    "convention.host.collectiveAgreement",
                    &h.collective_agreement,
                )?,
                signatory: signer!(h.signatory, "convention.host.signatory"),
                tutor: Personal::Known(Tutor {
                    name: label("convention.host.tutor.name", &h.tutor.name)?,
                    job_title: label("convention.host.tutor.jobTitle", &h.tutor.job_title)?,
                    email: email("convention.host.tutor.email", h.tutor.email.as_deref())?,
                    phone: phone("convention.host.tutor.phone", h.tutor.phone.as_deref())?,
                }),
            },
            period: period("convention.period.end", &self.period)?,
            schedule: text("convention.schedule", &self.schedule)?,
            weekly_hours: weekly_hours("convention.weeklyHours", self.weekly_hours)?,
            place: Place {
                address: text("convention.place.address", &self.place.address)?,
                commune: CommuneCode::parse(&self.place.commune)
                    .map_err(|e| on_field("convention.place.commune", e))?,
            },
            objective: self.objective,
            goals: text("convention.goals", &self.goals)?,
            evaluation: text("convention.evaluation", &self.evaluation)?,
            tasks: text("convention.tasks", &self.tasks)?,
            safety: optional_text("convention.safety", self.safety.as_deref())?,
            forbidden_uses_excluded: self.forbidden_uses_excluded,
        })
    }
}

#[derive(InputObject, Debug)]
pub struct ImmersionProposeInput {
    pub command_id: Option<Uuid>,
    pub person_id: ID,
    pub employer_id: ID,
    pub need_id: Option<ID>,
    pub objective: Objective,
    pub message: Option<String>,
}

#[derive(InputObject, Debug)]
pub struct ImmersionAnswerInput {
    pub command_id: Option<Uuid>,
    pub immersion_id: ID,
    /// Who answers.
    pub by: Respondent,
    /// Required to decline.
    pub reason: Option<String>,
    pub answered_on: Option<Date>,
}

#[derive(InputObject, Debug)]
pub struct ConventionDraftInput {
    pub command_id: Option<Uuid>,
    pub immersion_id: ID,
    pub convention: ConventionInput,
    /// Drafts it even though another convention of the person with the
    /// same host covers some of its dates (else `CONFIRMATION_REQUIRED`);
    /// false when left out.
    pub confirm_duplicate: Option<bool>,
}

#[derive(InputObject, Debug)]
pub struct ConventionSignInput {
    pub command_id: Option<Uuid>,
    pub immersion_id: ID,
    pub signatory: Signatory,
    /// For a signature on paper recorded by a mediator: the day it was
    /// given (today when left out).
    pub on_paper_on: Option<Date>,
}

#[derive(InputObject, Debug)]
pub struct ImmersionCommandInput {
    pub command_id: Option<Uuid>,
    pub immersion_id: ID,
}

#[derive(InputObject, Debug)]
pub struct ConventionCancelInput {
    pub command_id: Option<Uuid>,
    pub immersion_id: ID,
    pub by: Initiator,
    pub reason: String,
}

#[derive(InputObject, Debug)]
pub struct ConventionRenewInput {
    pub command_id: Option<Uuid>,
    pub immersion_id: ID,
    pub period: PeriodInput,
    pub schedule: String,
    pub weekly_hours: f64,
    pub objective: Objective,
    pub goals: String,
    pub why_goals_not_reached: String,
}

#[derive(InputObject, Debug)]
pub struct ImmersionDateInput {
    pub command_id: Option<Uuid>,
    pub immersion_id: ID,
    /// Today when left out.
    pub on: Option<Date>,
}

#[derive(InputObject, Debug)]
pub struct ImmersionInterruptInput {
    pub command_id: Option<Uuid>,
    pub immersion_id: ID,
    pub by: Initiator,
    pub reason: String,
    pub on: Option<Date>,
}

#[derive(InputObject, Debug)]
pub struct SkillInput {
    pub skill: Skill,
    pub level: Level,
    pub comment: Option<String>,
}

#[derive(InputObject, Debug)]
pub struct HostAssessmentInput {
    pub attendance: AttendanceKind,
    /// With `PARTIALLY`.
    pub last_day_present: Option<Date>,
    /// With `PARTIALLY`: 0 when left out.
    pub missed_hours: Option<i32>,
    pub goals_reached: bool,
    #[graphql(default)]
    pub skills: Vec<SkillInput>,
    pub advice: Option<String>,
    pub appraisal: Option<String>,
    /// The contract offered, when the host hires.
    pub hiring: Option<ContractType>,
    /// Given on paper or by phone, entered by the mediator.
    #[graphql(default)]
    pub received_by_other_means: bool,
}

#[derive(InputObject, Debug)]
pub struct PersonFeedbackInput {
    pub words: String,
    /// True to countersign the host's assessment, false to contest it.
    pub countersigns: Option<bool>,
    /// With `countersigns: false`.
    pub disagreement: Option<String>,
}

#[derive(InputObject, Debug)]
pub struct MediatorFeedbackInput {
    pub notes: String,
    pub goals_reached: bool,
    pub next_steps: Option<String>,
}

#[derive(InputObject, Debug)]
pub struct FeedbackRecordInput {
    pub command_id: Option<Uuid>,
    pub immersion_id: ID,
    /// One of the three, for the author who speaks.
    pub host: Option<HostAssessmentInput>,
    pub person: Option<PersonFeedbackInput>,
    pub mediator: Option<MediatorFeedbackInput>,
    pub recorded_on: Option<Date>,
}

/// The first day corrected once the immersion started, and why.
#[derive(InputObject, Debug)]
pub struct ImmersionStartCorrectInput {
    pub command_id: Option<Uuid>,
    pub immersion_id: ID,
    /// The first day, as it should have been recorded.
    pub on: Date,
    /// Why it is corrected: required.
    pub reason: String,
    /// Today when left out.
    pub corrected_on: Option<Date>,
}

/// The day an immersion ended (completed or interrupted) corrected.
#[derive(InputObject, Debug)]
pub struct ImmersionEndCorrectInput {
    pub command_id: Option<Uuid>,
    pub immersion_id: ID,
    /// The last day, as it should have been recorded: from the last planned
    /// day on for a completion, from the first to the last planned day for
    /// an interruption.
    pub on: Date,
    /// Why it is corrected: required.
    pub reason: String,
    /// Today when left out.
    pub corrected_on: Option<Date>,
}

/// A party's feedback corrected: the whole of it as it reads from now on
/// (one of the three, for the author whose feedback it corrects), and why.
#[derive(InputObject, Debug)]
pub struct FeedbackCorrectInput {
    pub command_id: Option<Uuid>,
    pub immersion_id: ID,
    pub host: Option<HostAssessmentInput>,
    pub person: Option<PersonFeedbackInput>,
    pub mediator: Option<MediatorFeedbackInput>,
    /// Why it is corrected: required.
    pub reason: String,
    /// The day staff date the correction; today when left out, and always
    /// today for a party correcting their own.
    pub corrected_on: Option<Date>,
}

/// The person's answer to the host's assessment, when it came in after
/// their feedback (which then had none).
#[derive(InputObject, Debug)]
pub struct AssessmentAnswerInput {
    pub command_id: Option<Uuid>,
    pub immersion_id: ID,
    /// True to countersign the host's assessment, false to contest it:
    /// required (null is refused beside this field).
    pub countersigns: Option<bool>,
    /// Why they contest it: required with `countersigns: false`.
    pub disagreement: Option<String>,
    /// The day staff entering an answer given on paper date it; today when
    /// left out, and always today for the person from her own session.
    pub answered_on: Option<Date>,
}

#[derive(InputObject, Debug)]
pub struct OutcomeRecordInput {
    pub command_id: Option<Uuid>,
    pub immersion_id: ID,
    pub milestone: Milestone,
    pub outcome: OutcomeKind,
    /// With `HIRED`, and only then.
    pub contract: Option<ContractType>,
    pub recorded_on: Option<Date>,
}

payloads!(immersion: Immersion =>
    ImmersionProposePayload,
    ImmersionAcceptPayload,
    ImmersionDeclinePayload,
    ConventionDraftPayload,
    ConventionSignPayload,
    ConventionValidatePayload,
    ConventionCancelPayload,
    ConventionRenewPayload,
    ImmersionStartPayload,
    ImmersionStartCorrectPayload,
    ImmersionInterruptPayload,
    ImmersionCompletePayload,
    ImmersionEndCorrectPayload,
    FeedbackRecordPayload,
    FeedbackCorrectPayload,
    AssessmentAnswerPayload,
    OutcomeRecordPayload,
);

/// The one party's feedback an input gives: the host's assessment, the
/// person's own words or the mediator's notes, as recorded or corrected.
fn given_feedback(
    host: &Option<HostAssessmentInput>,
    person: &Option<PersonFeedbackInput>,
    mediator: &Option<MediatorFeedbackInput>,
) -> Result<Feedback> {
    Ok(match (host, person, mediator) {
        (Some(h), None, None) => Feedback::Host(HostAssessment {
            attendance: attendance(h)?,
            goals_reached: h.goals_reached,
            skills: h
                .skills
                .iter()
                .map(|s| {
                    Ok(SkillObserved {
                        skill: s.skill,
                        level: s.level,
                        comment: optional_text("host.skills.comment", s.comment.as_deref())?
                            .map(Personal::Known),
                    })
                })
                .collect::<Result<_>>()?,
            advice: optional_text("host.advice", h.advice.as_deref())?.map(Personal::Known),
            appraisal: optional_text("host.appraisal", h.appraisal.as_deref())?
                .map(Personal::Known),
            hiring: match h.hiring {
                Some(contract) => Hiring::Yes { contract },
                None => Hiring::No,
            },
            received_by_other_means: h.received_by_other_means,
        }),
        (None, Some(p), None) => Feedback::Person(PersonFeedback {
            words: Personal::Known(text("person.words", &p.words)?),
            on_assessment: match p.countersigns {
                Some(true) => Some(AssessmentResponse::Countersigned),
                Some(false) => Some(AssessmentResponse::Disagreed {
                    comment: Personal::Known(text(
                        "person.disagreement",
                        p.disagreement.as_deref().unwrap_or(""),
                    )?),
                }),
                None => None,
            },
        }),
        (None, None, Some(m)) => Feedback::Mediator(MediatorFeedback {
            notes: Personal::Known(text("mediator.notes", &m.notes)?),
            goals_reached: m.goals_reached,
            next_steps: optional_text("mediator.nextSteps", m.next_steps.as_deref())?
                .map(Personal::Known),
        }),
        _ => {
            return Err(required(
                "host",
                "Donnez un seul retour : celui de la structure d'accueil, de la personne ou du médiateur.",
            ));
        }
    })
}

/// A host's attendance: the last day present and the hours missed (0 when
/// left out) with a partial one only, never dropped silently.
fn attendance(h: &HostAssessmentInput) -> Result<Attendance> {
    let invalid = |rule: passerelle_domain::Rule, field: &'static str, message: &str| {
        on_field(
            field,
            passerelle_domain::DomainError::invalid(rule, field, message),
        )
    };
    Ok(match h.attendance {
        AttendanceKind::Partially => Attendance::Partially {
            last_day_present: h.last_day_present.ok_or_else(|| {
                required(
                    "host.lastDayPresent",
                    "Indiquez le dernier jour de présence.",
                )
            })?,
            missed_hours: u16::try_from(h.missed_hours.unwrap_or(0)).map_err(|_| {
                invalid(
                    passerelle_domain::Rule::MissedHoursRange,
                    "host.missedHours",
                    "Les heures manquées se comptent en heures entières, à partir de 0.",
                )
            })?,
        },
        kind => {
            let given = [
                ("host.lastDayPresent", h.last_day_present.is_some()),
                ("host.missedHours", h.missed_hours.is_some()),
            ];
            if let Some((field, _)) = given.into_iter().find(|(_, given)| *given) {
                return Err(invalid(
                    passerelle_domain::Rule::PresenceDetailsWithoutPartial,
                    field,
                    "Le dernier jour de présence et les heures manquées se donnent avec une présence en partie.",
                ));
            }
            match kind {
                AttendanceKind::DidNotShow => Attendance::DidNotShow,
                _ => Attendance::Completed,
            }
        }
    })
}

fn required(field: &'static str, message: &str) -> async_graphql::Error {
    on_field(
        field,
        passerelle_domain::DomainError::invalid(passerelle_domain::Rule::Required, field, message),
    )
}

#[derive(Default, Debug)]
pub struct ImmersionMutation;

impl ImmersionMutation {
    /// Runs a command on an immersion the viewer reaches, if the policy
    /// lets the viewer issue it, and answers with the immersion.
    pub(crate) async fn on_immersion(
        ctx: &Context<'_>,
        immersion: &ID,
        command_id: Option<Uuid>,
        command: impl FnOnce(&Actor, Date) -> Result<ImmersionCommand>,
    ) -> Result<Immersion> {
        let mut actor = actor(ctx)?;
        let gw = gateway(ctx);
        let id = ImmersionId(parse_id(immersion, "Immersion")?);
        let Some(row) = policy::reachable_immersion(&gw.pool, &actor, id)
            .await
            .map_err(error::app)?
        else {
            return Err(error::not_found("Immersion"));
        };
        let command = command(&actor, gw.handler.clock().today())?;
        if !policy::may_issue(&gw.pool, &actor, &command)
            .await
            .map_err(error::app)?
        {
            return Err(error::forbidden());
        }
        // An employer or a person acts within the immersion's structure.
        actor.structure = passerelle_domain::values::StructureId(row.structure);
        gw.handler
            .execute::<ImmersionAggregate>(id, &command, &meta(actor.clone(), command_id), &Views)
            .await
            .map_err(|e| error::app_renamed(e, input_path))?;
        record::forget(ctx);
        policy::reachable_immersion(&gw.pool, &actor, id)
            .await
            .map_err(error::app)?
            .map(Immersion)
            .ok_or_else(|| error::not_found("Immersion"))
    }
}

/// Where an immersion command's field is in the mutation's input: the
/// inputs name a day `on` and a paper signature's day `onPaperOn`, and lay a
/// renewal's terms out flat.
fn input_path(field: &'static str) -> &'static str {
    match field {
        "startedOn" | "interruptedOn" | "completedOn" | "endedOn" => "on",
        "method.signedOn" => "onPaperOn",
        "response" => "countersigns",
        // A partial attendance, in the host's assessment.
        "feedback.lastDayPresent" => "host.lastDayPresent",
        "feedback.missedHours" => "host.missedHours",
        "feedback.receivedByOtherMeans" => "host.receivedByOtherMeans",
        f => f.strip_prefix("terms.").unwrap_or(f),
    }
}

/// Refuses with `CONFIRMATION_REQUIRED` a convention whose dates overlap
/// another convention of the same person with the same host (by SIRET)
/// that still counts: most likely the same immersion drafted twice. The
/// ids given are those the viewer reaches; an immersion the viewer does not
/// reach, or a draft the viewer may not make, is left to `on_immersion` to
/// answer (unknown, forbidden) before anything of the person's other
/// conventions is looked at: a party could otherwise learn, from this
/// refusal, where else and when the person was hosted.
async fn overlapping_conventions(
    ctx: &Context<'_>,
    immersion: &ID,
    convention: &Convention,
) -> Result<()> {
    let actor = actor(ctx)?;
    let gw = gateway(ctx);
    let id = ImmersionId(parse_id(immersion, "Immersion")?);
    let Some(row) = policy::reachable_immersion(&gw.pool, &actor, id)
        .await
        .map_err(error::app)?
    else {
        return Ok(());
    };
    let draft = ImmersionCommand::DraftConvention {
        convention: Box::new(convention.clone()),
    };
    if !policy::may_issue(&gw.pool, &actor, &draft)
        .await
        .map_err(error::app)?
    {
        return Ok(());
    }
    let period = &convention.period;
    let overlapping: Vec<_> = immersions::history_with_host(
        &gw.pool,
        PersonId(row.person_id),
        &convention.host.siret,
        id,
    )
    .await
    .map_err(error::db)?
    .into_iter()
    .filter(|prior| prior.span.start() <= period.end() && period.start() <= prior.span.end())
    .collect();
    if overlapping.is_empty() {
        return Ok(());
    }
    let mut readable = Vec::new();
    for prior in &overlapping {
        if policy::reachable_immersion(&gw.pool, &actor, prior.immersion_id)
            .await
            .map_err(error::app)?
            .is_some()
        {
            readable.push(prior);
        }
    }
    // The dates are those of a convention the viewer may read; of one they
    // may not, only that it exists.
    let dates = readable
        .first()
        .map(|p| {
            format!(
                " ({})",
                passerelle_domain::fr::range(p.span.start(), p.span.end())
            )
        })
        .unwrap_or_default();
    Err(error::confirmation_required(
        "confirmDuplicate",
        format!(
            "Une autre convention de cette personne avec le même établissement couvre déjà une partie de ces dates{dates} : vérifiez qu'il ne s'agit pas de la même immersion, ou confirmez pour la rédiger quand même.",
        ),
        readable
            .iter()
            .map(|p| p.immersion_id.to_string())
            .collect(),
    ))
}

#[Object]
impl ImmersionMutation {
    /// Proposes an immersion to a person of the viewer's structure, with an
    /// employer, optionally for one of its needs.
    async fn immersion_propose(
        &self,
        ctx: &Context<'_>,
        input: ImmersionProposeInput,
    ) -> Result<ImmersionProposePayload> {
        let actor = staff(ctx)?;
        let gw = gateway(ctx);
        let person = PersonId(parse_id(&input.person_id, "Personne")?);
        if !policy::reaches_person(&gw.pool, &actor, person)
            .await
            .map_err(error::app)?
        {
            return Err(error::not_found("Personne"));
        }
        let id = ImmersionId(new_id(input.command_id, "immersion"));
        let command = ImmersionCommand::Propose {
            immersion_id: id,
            person_id: person,
            employer_id: EmployerId(parse_id(&input.employer_id, "Employeur")?),
            need_id: input
                .need_id
                .as_ref()
                .map(|n| parse_id(n, "Besoin").map(NeedId))
                .transpose()?,
            objective: input.objective,
            structure: actor.structure,
            mediator: UserId(user_of(&actor)),
            message: optional_text("message", input.message.as_deref())?,
            proposed_on: gw.handler.clock().today(),
        };
        gw.handler
            .execute::<ImmersionAggregate>(
                id,
                &command,
                &meta(actor.clone(), input.command_id),
                &Views,
            )
            .await
            .map_err(error::app)?;
        let immersion = policy::reachable_immersion(&gw.pool, &actor, id)
            .await
            .map_err(error::app)?
            .map(Immersion)
            .ok_or_else(|| error::not_found("Immersion"))?;
        Ok(ImmersionProposePayload { immersion })
    }

    /// Records the person's or the employer's acceptance.
    async fn immersion_accept(
        &self,
        ctx: &Context<'_>,
        input: ImmersionAnswerInput,
    ) -> Result<ImmersionAcceptPayload> {
        ImmersionMutation::on_immersion(ctx, &input.immersion_id, input.command_id, |_, today| {
            Ok(ImmersionCommand::Accept {
                by: input.by,
                answered_on: input.answered_on.unwrap_or(today),
            })
        })
        .await
        .map(|immersion| ImmersionAcceptPayload { immersion })
    }

    /// Records who declined and why.
    async fn immersion_decline(
        &self,
        ctx: &Context<'_>,
        input: ImmersionAnswerInput,
    ) -> Result<ImmersionDeclinePayload> {
        ImmersionMutation::on_immersion(ctx, &input.immersion_id, input.command_id, |_, today| {
            Ok(ImmersionCommand::Decline {
                by: input.by,
                reason: text("reason", input.reason.as_deref().unwrap_or(""))?,
                answered_on: input.answered_on.unwrap_or(today),
            })
        })
        .await
        .map(|immersion| ImmersionDeclinePayload { immersion })
    }

    /// Drafts the convention, or modifies it before validation (which
    /// clears the signatures given).
    async fn convention_draft(
        &self,
        ctx: &Context<'_>,
        input: ConventionDraftInput,
    ) -> Result<ConventionDraftPayload> {
        let convention = input.convention.parse()?;
        if !input.confirm_duplicate.unwrap_or(false) {
            overlapping_conventions(ctx, &input.immersion_id, &convention).await?;
        }
        ImmersionMutation::on_immersion(ctx, &input.immersion_id, input.command_id, |_, _| {
            Ok(ImmersionCommand::DraftConvention {
                convention: Box::new(convention),
            })
        })
        .await
        .map(|immersion| ConventionDraftPayload { immersion })
    }

    /// Signs the convention: a person or an employer by magic link for
    /// themself, online; a staff member online for the prescriber, or
    /// recording another signatory's signature given on paper.
    async fn convention_sign(
        &self,
        ctx: &Context<'_>,
        input: ConventionSignInput,
    ) -> Result<ConventionSignPayload> {
        ImmersionMutation::on_immersion(
            ctx,
            &input.immersion_id,
            input.command_id,
            |actor, today| {
                let signatory = input.signatory;
                // A person or an employer signs for themself, online; a
                // mediator signs online for the prescriber, and records the
                // others' signatures on paper.
                let online = !policy::is_staff(actor)
                    || (signatory == Signatory::Prescriber && input.on_paper_on.is_none());
                let method = if online {
                    SignatureMethod::Online
                } else {
                    SignatureMethod::Paper {
                        recorded_by: UserId(user_of(actor)),
                        signed_on: input.on_paper_on.unwrap_or(today),
                    }
                };
                Ok(ImmersionCommand::Sign { signatory, method })
            },
        )
        .await
        .map(|immersion| ConventionSignPayload { immersion })
    }

    /// Validates the convention, or the renewal awaiting validation.
    async fn convention_validate(
        &self,
        ctx: &Context<'_>,
        input: ImmersionCommandInput,
    ) -> Result<ConventionValidatePayload> {
        ImmersionMutation::on_immersion(ctx, &input.immersion_id, input.command_id, |actor, _| {
            Ok(ImmersionCommand::Validate {
                by: UserId(user_of(actor)),
            })
        })
        .await
        .map(|immersion| ConventionValidatePayload { immersion })
    }

    /// Cancels a validated convention before the immersion starts.
    async fn convention_cancel(
        &self,
        ctx: &Context<'_>,
        input: ConventionCancelInput,
    ) -> Result<ConventionCancelPayload> {
        ImmersionMutation::on_immersion(ctx, &input.immersion_id, input.command_id, |_, _| {
            Ok(ImmersionCommand::Cancel {
                by: input.by,
                reason: text("reason", &input.reason)?,
            })
        })
        .await
        .map(|immersion| ConventionCancelPayload { immersion })
    }

    /// Renews the immersion once, the goals not being reached.
    async fn convention_renew(
        &self,
        ctx: &Context<'_>,
        input: ConventionRenewInput,
    ) -> Result<ConventionRenewPayload> {
        ImmersionMutation::on_immersion(ctx, &input.immersion_id, input.command_id, |_, _| {
            Ok(ImmersionCommand::Renew {
                terms: RenewalTerms {
                    period: period("period.end", &input.period)?,
                    schedule: text("schedule", &input.schedule)?,
                    weekly_hours: weekly_hours("weeklyHours", input.weekly_hours)?,
                    objective: input.objective,
                    goals: text("goals", &input.goals)?,
                    why_goals_not_reached: text(
                        "whyGoalsNotReached",
                        &input.why_goals_not_reached,
                    )?
                    .into(),
                },
            })
        })
        .await
        .map(|immersion| ConventionRenewPayload { immersion })
    }

    async fn immersion_start(
        &self,
        ctx: &Context<'_>,
        input: ImmersionDateInput,
    ) -> Result<ImmersionStartPayload> {
        ImmersionMutation::on_immersion(ctx, &input.immersion_id, input.command_id, |_, today| {
            Ok(ImmersionCommand::Start {
                started_on: input.on.unwrap_or(today),
            })
        })
        .await
        .map(|immersion| ImmersionStartPayload { immersion })
    }

    /// Corrects the first day recorded, once the immersion started (never
    /// after its last day): staff, saying why; the day recorded before
    /// stays in the log (`Immersion.startCorrections`).
    async fn immersion_start_correct(
        &self,
        ctx: &Context<'_>,
        input: ImmersionStartCorrectInput,
    ) -> Result<ImmersionStartCorrectPayload> {
        ImmersionMutation::on_immersion(ctx, &input.immersion_id, input.command_id, |_, today| {
            Ok(ImmersionCommand::CorrectStart {
                started_on: input.on,
                reason: text("reason", &input.reason)?,
                corrected_on: input.corrected_on.unwrap_or(today),
            })
        })
        .await
        .map(|immersion| ImmersionStartCorrectPayload { immersion })
    }

    async fn immersion_interrupt(
        &self,
        ctx: &Context<'_>,
        input: ImmersionInterruptInput,
    ) -> Result<ImmersionInterruptPayload> {
        ImmersionMutation::on_immersion(ctx, &input.immersion_id, input.command_id, |_, today| {
            Ok(ImmersionCommand::Interrupt {
                by: input.by,
                reason: text("reason", &input.reason)?,
                interrupted_on: input.on.unwrap_or(today),
            })
        })
        .await
        .map(|immersion| ImmersionInterruptPayload { immersion })
    }

    async fn immersion_complete(
        &self,
        ctx: &Context<'_>,
        input: ImmersionDateInput,
    ) -> Result<ImmersionCompletePayload> {
        ImmersionMutation::on_immersion(ctx, &input.immersion_id, input.command_id, |_, today| {
            Ok(ImmersionCommand::Complete {
                completed_on: input.on.unwrap_or(today),
            })
        })
        .await
        .map(|immersion| ImmersionCompletePayload { immersion })
    }

    /// Corrects the day an immersion ended, completed or interrupted:
    /// staff, saying why; the day recorded before stays in the log
    /// (`Immersion.endCorrections`).
    async fn immersion_end_correct(
        &self,
        ctx: &Context<'_>,
        input: ImmersionEndCorrectInput,
    ) -> Result<ImmersionEndCorrectPayload> {
        ImmersionMutation::on_immersion(ctx, &input.immersion_id, input.command_id, |_, today| {
            Ok(ImmersionCommand::CorrectEnd {
                ended_on: input.on,
                reason: text("reason", &input.reason)?,
                corrected_on: input.corrected_on.unwrap_or(today),
            })
        })
        .await
        .map(|immersion| ImmersionEndCorrectPayload { immersion })
    }

    /// Records one party's feedback: the host's assessment, the person's
    /// own words, or the mediator's notes.
    async fn feedback_record(
        &self,
        ctx: &Context<'_>,
        input: FeedbackRecordInput,
    ) -> Result<FeedbackRecordPayload> {
        ImmersionMutation::on_immersion(ctx, &input.immersion_id, input.command_id, |_, today| {
            let feedback = given_feedback(&input.host, &input.person, &input.mediator)?;
            Ok(ImmersionCommand::RecordFeedback {
                feedback,
                recorded_on: input.recorded_on.unwrap_or(today),
            })
        })
        .await
        .map(|immersion| FeedbackRecordPayload { immersion })
    }

    /// Corrects one party's feedback already recorded, by the party who
    /// may record it: the whole feedback as it reads from now on, and why;
    /// the feedback before stays in the log. The host's assessment is
    /// corrected as it was given (`receivedByOtherMeans` as recorded): the
    /// host the one it gave online, staff the one they entered from paper
    /// or a call. Correcting it clears the person's answer to it: she
    /// countersigns or contests it again (`assessmentAnswer`). A party
    /// correcting their own feedback corrects it today; staff may date it.
    async fn feedback_correct(
        &self,
        ctx: &Context<'_>,
        input: FeedbackCorrectInput,
    ) -> Result<FeedbackCorrectPayload> {
        ImmersionMutation::on_immersion(
            ctx,
            &input.immersion_id,
            input.command_id,
            |actor, today| {
                let feedback = given_feedback(&input.host, &input.person, &input.mediator)?;
                let corrected_on = match input.corrected_on {
                    Some(day) if policy::is_staff(actor) => day,
                    _ => today,
                };
                Ok(ImmersionCommand::CorrectFeedback {
                    feedback,
                    reason: text("reason", &input.reason)?,
                    corrected_on,
                })
            },
        )
        .await
        .map(|immersion| FeedbackCorrectPayload { immersion })
    }

    /// Records the person's answer to the host's assessment (countersigned,
    /// or contested with why) when the assessment came in after their
    /// feedback: the person from their own session, or staff for them; once.
    async fn assessment_answer(
        &self,
        ctx: &Context<'_>,
        input: AssessmentAnswerInput,
    ) -> Result<AssessmentAnswerPayload> {
        ImmersionMutation::on_immersion(
            ctx,
            &input.immersion_id,
            input.command_id,
            |actor, today| {
                let response = match input.countersigns {
                    Some(true) => AssessmentResponse::Countersigned,
                    Some(false) => AssessmentResponse::Disagreed {
                        comment: Personal::Known(text(
                            "disagreement",
                            input.disagreement.as_deref().unwrap_or(""),
                        )?),
                    },
                    None => {
                        return Err(required(
                            "countersigns",
                            "Dites si vous contresignez le bilan ou si vous le contestez.",
                        ));
                    }
                };
                // The person answering from her own session answers today: only
                // staff entering an answer given on paper date it otherwise.
                let answered_on = match input.answered_on {
                    Some(day) if policy::is_staff(actor) => day,
                    _ => today,
                };
                Ok(ImmersionCommand::AnswerAssessment {
                    response,
                    answered_on,
                })
            },
        )
        .await
        .map(|immersion| AssessmentAnswerPayload { immersion })
    }

    /// Records where the person stands at a milestone.
    async fn outcome_record(
        &self,
        ctx: &Context<'_>,
        input: OutcomeRecordInput,
    ) -> Result<OutcomeRecordPayload> {
        ImmersionMutation::on_immersion(ctx, &input.immersion_id, input.command_id, |_, today| {
            // A contract goes with a hire only: never dropped silently.
            if input.contract.is_some() && input.outcome != OutcomeKind::Hired {
                return Err(on_field(
                    "contract",
                    passerelle_domain::DomainError::invalid(
                        passerelle_domain::Rule::ContractWithoutHiring,
                        "contract",
                        "Un contrat se donne avec une embauche seulement : choisissez « Embauche », ou laissez le contrat vide.",
                    ),
                ));
            }
            let outcome = match input.outcome {
                OutcomeKind::Hired => DomainOutcome::Hired {
                    contract: input
                        .contract
                        .ok_or_else(|| required("contract", "Indiquez le contrat signé."))?,
                },
                OutcomeKind::Training => DomainOutcome::Training,
                OutcomeKind::NewImmersion => DomainOutcome::NewImmersion,
                OutcomeKind::ProjectReadjusted => DomainOutcome::ProjectReadjusted,
                OutcomeKind::Nothing => DomainOutcome::Nothing,
            };
            Ok(ImmersionCommand::RecordOutcome {
                milestone: input.milestone,
                outcome,
                recorded_on: input.recorded_on.unwrap_or(today),
            })
        })
        .await
        .map(|immersion| OutcomeRecordPayload { immersion })
    }
}

#[derive(Default, Debug)]
pub struct ImmersionSubscription;

#[async_graphql::Subscription]
impl ImmersionSubscription {
    /// The immersion, each time a command changes it, through whichever
    /// replica carried it. A client that reconnects reads `immersion` again:
    /// what changed while it was away is not replayed.
    async fn immersion_changed(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> Result<impl futures::Stream<Item = Result<Immersion>> + use<>> {
        let actor = actor(ctx)?;
        let gw = gateway(ctx).clone();
        let id = ImmersionId(parse_id(&id, "Immersion")?);
        if policy::reachable_immersion(&gw.pool, &actor, id)
            .await
            .map_err(error::app)?
            .is_none()
        {
            return Err(error::not_found("Immersion"));
        }
        let stream_id = format!("immersion-{id}");
        let changes = gw.handler.changes();
        Ok(futures::stream::unfold(
            (changes, gw, actor),
            move |(mut changes, gw, actor)| {
                let stream_id = stream_id.clone();
                async move {
                    loop {
                        match changes.recv().await {
                            // Another replica's changes may have been
                            // missed: read the view again.
                            Ok(changed)
                                if changed != stream_id && changed != passerelle_app::RESYNC =>
                            {
                                continue;
                            }
                            // Missed some: read the view anyway.
                            Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                            Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                        }
                        let row = policy::reachable_immersion(&gw.pool, &actor, id)
                            .await
                            .map_err(error::app);
                        let item = match row {
                            Ok(Some(row)) => Ok(Immersion(row)),
                            Ok(None) => Err(error::not_found("Immersion")),
                            Err(e) => Err(e),
                        };
                        return Some((item, (changes, gw, actor)));
                    }
                }
            },
        ))
    }
}
