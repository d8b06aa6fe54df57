//! The immersion (PMSMP, période de mise en situation en milieu
//! professionnel): proposed by a mediator to a person and an employer,
//! accepted or declined by each, framed by a convention that every party
//! signs and the structure validates, renewed at most once, started, ended,
//! then assessed by each party and followed up at 1, 3 and 6 months.
//!
//! Every rule of DOMAIN.md's PMSMP section is enforced here; the rules that
//! need the person's history with the host read it from the context.

mod convention;
mod feedback;
mod rules;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use time::{Date, Duration, OffsetDateTime};

pub use convention::{
    AGE_OF_MAJORITY, Convention, ConventionIdentity, ConventionPerson, Host, MAX_WEEKLY_HOURS,
    MINIMUM_AGE, Objective, Organisation, Place, Signatory, Signer, Situation, SituationKind,
    Tutor,
};
pub use feedback::{
    AssessmentResponse, Attendance, AttendanceKind, Feedback, FeedbackAuthor, Hiring,
    HostAssessment, Level, MediatorFeedback, Milestone, Outcome, OutcomeKind, PersonFeedback,
    Skill, SkillObserved,
};
pub use rules::{MAX_CONVENTIONS_WITH_HOST, MAX_DAYS_WITH_HOST, PriorConvention};

use self::convention::{check_period, check_weekly_hours};
use self::rules::{Candidate, check_history};
use crate::checks::{already_exists, not_before, not_found, not_in_future};
use crate::decider::{Decider, events};
use crate::error::{DomainError, Rule};
use crate::fr::dates as fr;
use crate::personal::Personal;
use crate::values::{
    AccidentId, DateRange, EmployerId, ImmersionId, NeedId, PersonId, StructureId, Text, UserId,
    WeeklyHours,
};

/// The host tells the support structure of an accident within 24 hours…
pub const ACCIDENT_INFORM_WITHIN: Duration = Duration::hours(24);
/// …and the declaration is filed within 48 hours (D5135-5).
pub const ACCIDENT_DECLARE_WITHIN: Duration = Duration::hours(48);

/// Who answers a proposal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(
    feature = "graphql",
    derive(async_graphql::Enum),
    graphql(name = "Party")
)]
pub enum Respondent {
    Person,
    Employer,
}

/// Who took the initiative of a cancellation or an interruption: platform
/// users ask to know it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(
    feature = "graphql",
    derive(async_graphql::Enum),
    graphql(name = "Initiative")
)]
pub enum Initiator {
    Person,
    Employer,
    Mediator,
}

/// How a signature was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SignatureMethod {
    /// By the signatory, through their own link.
    Online,
    /// On paper, recorded by a mediator.
    Paper {
        recorded_by: UserId,
        signed_on: Date,
    },
}

/// How a signature was given, without a paper signature's details.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
pub enum SignatureMethodKind {
    Online,
    Paper,
}

impl SignatureMethod {
    pub fn kind(self) -> SignatureMethodKind {
        match self {
            SignatureMethod::Online => SignatureMethodKind::Online,
            SignatureMethod::Paper { .. } => SignatureMethodKind::Paper,
        }
    }
}

/// A renewal: same objective and goals, at most as long as the first
/// period, because the goals were not reached (D5135-3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenewalTerms {
    pub period: DateRange,
    pub schedule: Text,
    pub weekly_hours: WeeklyHours,
    pub objective: Objective,
    pub goals: Text,
    /// Personal: why the person has not reached them yet, sealed with
    /// their key.
    pub why_goals_not_reached: Personal<Text>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImmersionCommand {
    Propose {
        immersion_id: ImmersionId,
        person_id: PersonId,
        employer_id: EmployerId,
        need_id: Option<NeedId>,
        objective: Objective,
        structure: StructureId,
        mediator: UserId,
        message: Option<Text>,
        proposed_on: Date,
    },
    Accept {
        by: Respondent,
        answered_on: Date,
    },
    Decline {
        by: Respondent,
        reason: Text,
        answered_on: Date,
    },
    /// Drafts the convention, or modifies it until it is validated (which
    /// clears the signatures given).
    DraftConvention {
        convention: Box<Convention>,
    },
    /// Signs the convention, or the renewal while one awaits signatures.
    Sign {
        signatory: Signatory,
        method: SignatureMethod,
    },
    Prevalidate {
        by: UserId,
    },
    Validate {
        by: UserId,
    },
    Reject {
        by: UserId,
        justification: Text,
    },
    Deprecate {
        justification: Text,
    },
    Cancel {
        by: Initiator,
        reason: Text,
    },
    Renew {
        terms: RenewalTerms,
    },
    Start {
        started_on: Date,
    },
    /// Corrects the first day recorded, once the immersion started, and
    /// says why; the day recorded before stays in the log.
    CorrectStart {
        started_on: Date,
        reason: Text,
        corrected_on: Date,
    },
    Interrupt {
        by: Initiator,
        reason: Text,
        interrupted_on: Date,
    },
    Complete {
        completed_on: Date,
    },
    /// Corrects the day an immersion ended, completed or interrupted, and
    /// says why; the day recorded before stays in the log.
    CorrectEnd {
        ended_on: Date,
        reason: Text,
        corrected_on: Date,
    },
    ReportAccident {
        accident_id: AccidentId,
        occurred_at: OffsetDateTime,
        structure_informed_at: OffsetDateTime,
        description: Text,
    },
    RecordAccidentDeclaration {
        accident_id: AccidentId,
        filed_at: OffsetDateTime,
    },
    RecordFeedback {
        feedback: Feedback,
        recorded_on: Date,
    },
    RecordOutcome {
        milestone: Milestone,
        outcome: Outcome,
        recorded_on: Date,
    },
    /// Corrects a party's feedback already recorded: the whole of it as it
    /// reads from now on, and why. The feedback before stays in the log.
    CorrectFeedback {
        feedback: Feedback,
        reason: Text,
        corrected_on: Date,
    },
    /// The person countersigns or contests the host's assessment after
    /// giving their feedback without an answer to it (the assessment came
    /// in after their feedback).
    AnswerAssessment {
        response: AssessmentResponse,
        answered_on: Date,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImmersionProposed {
    pub immersion_id: ImmersionId,
    pub person_id: PersonId,
    pub employer_id: EmployerId,
    pub need_id: Option<NeedId>,
    pub objective: Objective,
    pub structure: StructureId,
    pub mediator: UserId,
    /// The mediator's word to the person and the host: may name the
    /// person, so sealed with their key (in clear in version 1).
    pub message: Option<Personal<Text>>,
    pub proposed_on: Date,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProposalAcceptedByPerson {
    pub answered_on: Date,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProposalAcceptedByEmployer {
    pub answered_on: Date,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProposalDeclined {
    pub by: Respondent,
    /// Why, in the words of whoever declined: may say what the person lives
    /// through, so sealed with their key (in clear in version 1).
    pub reason: Personal<Text>,
    pub answered_on: Date,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConventionDrafted {
    pub convention: Convention,
}

/// The convention changed before validation: every signature given is void
/// and must be given again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConventionModified {
    pub convention: Convention,
    pub signatures_cleared: Vec<Signatory>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConventionSigned {
    pub signatory: Signatory,
    pub method: SignatureMethod,
    #[serde(with = "time::serde::rfc3339")]
    pub signed_at: OffsetDateTime,
    /// A signature of the renewal rather than of the first convention.
    pub renewal: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConventionPrevalidated {
    pub by: UserId,
    pub renewal: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConventionValidated {
    pub by: UserId,
    pub validated_on: Date,
    pub renewal: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConventionRejected {
    pub by: UserId,
    /// Sealed with the person's key (in clear in version 1).
    pub justification: Personal<Text>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConventionDeprecated {
    /// Sealed with the person's key (in clear in version 1).
    pub justification: Personal<Text>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConventionCancelled {
    pub by: Initiator,
    /// Sealed with the person's key (in clear in version 1).
    pub reason: Personal<Text>,
    pub cancelled_on: Date,
}

/// A renewal was drawn up; it awaits every signature and validation. A
/// second one before validation replaces its terms (and clears its
/// signatures): only a validated renewal counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConventionRenewed {
    pub terms: RenewalTerms,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImmersionStarted {
    pub started_on: Date,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImmersionInterrupted {
    pub by: Initiator,
    /// Sealed with the person's key (in clear in version 1).
    pub reason: Personal<Text>,
    pub interrupted_on: Date,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImmersionCompleted {
    pub completed_on: Date,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccidentReported {
    pub accident_id: AccidentId,
    #[serde(with = "time::serde::rfc3339")]
    pub occurred_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub structure_informed_at: OffsetDateTime,
    pub description: Personal<Text>,
    /// Whether the host told the structure within 24 hours.
    pub informed_in_time: bool,
    /// When the declaration must be filed: 48 hours after the accident.
    #[serde(with = "time::serde::rfc3339")]
    pub declaration_due_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccidentDeclarationFiled {
    pub accident_id: AccidentId,
    #[serde(with = "time::serde::rfc3339")]
    pub filed_at: OffsetDateTime,
    pub filed_in_time: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedbackRecorded {
    pub feedback: Feedback,
    pub recorded_on: Date,
}

/// The person's answer to the host's assessment, given after their own
/// feedback, which had none: the assessment came in after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssessmentAnswered {
    pub response: AssessmentResponse,
    pub answered_on: Date,
}

/// The first day recorded corrected, once the immersion started, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartCorrected {
    pub started_on: Date,
    /// Why, which may speak of the person: sealed with their key.
    pub reason: Personal<Text>,
    pub corrected_on: Date,
}

/// The day an immersion ended (its completion or its interruption)
/// corrected, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndCorrected {
    pub ended_on: Date,
    /// Why, which may speak of the person: sealed with their key.
    pub reason: Personal<Text>,
    pub corrected_on: Date,
}

/// A mistake in a party's feedback corrected: the feedback as it reads
/// since, whole, and why. A correction of the host's assessment clears the
/// person's answer to it: she countersigned or contested what it said
/// before, and answers what it says now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedbackCorrected {
    pub feedback: Feedback,
    /// Why, which may speak of the person: sealed with their key.
    pub reason: Personal<Text>,
    pub corrected_on: Date,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutcomeRecorded {
    pub milestone: Milestone,
    pub outcome: Outcome,
    pub recorded_on: Date,
}

events! {
    /// What happened to an immersion.
    pub enum ImmersionEvent {
        ImmersionProposed = ("immersion_proposed", 2),
        ProposalAcceptedByPerson = ("proposal_accepted_by_person", 1),
        ProposalAcceptedByEmployer = ("proposal_accepted_by_employer", 1),
        ProposalDeclined = ("proposal_declined", 2),
        ConventionDrafted = ("convention_drafted", 2),
        ConventionModified = ("convention_modified", 2),
        ConventionSigned = ("convention_signed", 1),
        ConventionPrevalidated = ("convention_prevalidated", 1),
        ConventionValidated = ("convention_validated", 1),
        ConventionRejected = ("convention_rejected", 2),
        ConventionDeprecated = ("convention_deprecated", 2),
        ConventionCancelled = ("convention_cancelled", 2),
        ConventionRenewed = ("convention_renewed", 2),
        ImmersionStarted = ("immersion_started", 1),
        ImmersionInterrupted = ("immersion_interrupted", 2),
        ImmersionCompleted = ("immersion_completed", 1),
        AccidentReported = ("accident_reported", 1),
        AccidentDeclarationFiled = ("accident_declaration_filed", 1),
        FeedbackRecorded = ("feedback_recorded", 2),
        OutcomeRecorded = ("outcome_recorded", 1),
        AssessmentAnswered = ("assessment_answered", 1),
        FeedbackCorrected = ("feedback_corrected", 1),
        StartCorrected = ("start_corrected", 1),
        EndCorrected = ("end_corrected", 1),
    }
}

// Derived from events; the views keep it by its JSON name (`drafted`).
/// Where the immersion stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(
    feature = "graphql",
    derive(async_graphql::Enum),
    graphql(name = "ImmersionStage")
)]
pub enum Stage {
    #[default]
    NotProposed,
    /// Awaiting the person's and the employer's answers.
    Proposed,
    Declined,
    /// The convention is drafted and collects signatures.
    Drafted,
    Validated,
    Rejected,
    Deprecated,
    Cancelled,
    Started,
    Interrupted,
    Completed,
}

impl Stage {
    /// Stages nothing follows.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Stage::Declined | Stage::Rejected | Stage::Deprecated | Stage::Cancelled
        )
    }

    pub fn has_ended(self) -> bool {
        matches!(self, Stage::Interrupted | Stage::Completed)
    }

    /// Whether feedback is taken on `today`: once the immersion ended, or
    /// from its last planned day (`planned_end`) on while it runs, the day
    /// the tutor is asked for the assessment.
    pub fn takes_feedback(self, planned_end: Option<Date>, today: Date) -> bool {
        self.has_ended() || (self == Stage::Started && planned_end.is_some_and(|end| today >= end))
    }

    /// Whether the convention awaits the structure's validation: drafted,
    /// and no signature it requires is missing (`missing`, as
    /// [`ImmersionState::missing_signatures`] gives them).
    pub fn awaits_validation(self, missing: &[Signatory]) -> bool {
        self == Stage::Drafted && missing.is_empty()
    }
}

/// Where a renewal stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
pub enum RenewalStatus {
    /// Its terms are set and collect signatures.
    Pending,
    Validated,
}

impl Renewal {
    pub fn status(&self) -> RenewalStatus {
        if self.validated {
            RenewalStatus::Validated
        } else {
            RenewalStatus::Pending
        }
    }
}

/// A renewal on its way: terms, signatures, validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Renewal {
    pub terms: RenewalTerms,
    pub signatures: BTreeMap<Signatory, SignatureMethod>,
    pub prevalidated: bool,
    pub validated: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Accident {
    pub occurred_at: Option<OffsetDateTime>,
    pub declared: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImmersionState {
    pub stage: Stage,
    pub proposal: Option<ImmersionProposed>,
    pub accepted_by_person: bool,
    pub accepted_by_employer: bool,
    pub convention: Option<Convention>,
    pub signatures: BTreeMap<Signatory, SignatureMethod>,
    pub prevalidated: bool,
    pub validated_on: Option<Date>,
    pub renewal: Option<Renewal>,
    pub started_on: Option<Date>,
    pub ended_on: Option<Date>,
    pub feedback: BTreeMap<FeedbackAuthor, Feedback>,
    /// Each milestone's outcome recorded, by the day it was recorded on.
    pub outcomes: BTreeMap<Milestone, Date>,
    pub accidents: BTreeMap<AccidentId, Accident>,
}

impl ImmersionState {
    /// The person, whose key seals the personal values of every event of
    /// this immersion.
    pub fn person(&self) -> Option<PersonId> {
        self.proposal.as_ref().map(|p| p.person_id)
    }

    /// The validated renewal, if any.
    pub fn validated_renewal(&self) -> Option<&RenewalTerms> {
        self.renewal
            .as_ref()
            .filter(|r| r.validated)
            .map(|r| &r.terms)
    }

    /// The last planned day ([`last_planned_day`]).
    pub fn planned_end(&self) -> Option<Date> {
        last_planned_day(
            self.convention.as_ref().map(|c| c.period.end()),
            self.validated_renewal().map(|t| t.period.end()),
        )
    }

    /// Calendar days of the convention and its validated renewal.
    pub fn planned_days(&self) -> i64 {
        self.convention.as_ref().map_or(0, |c| c.period.days())
            + self.validated_renewal().map_or(0, |t| t.period.days())
    }

    /// The signatures still missing from what awaits signing.
    pub fn missing_signatures(&self) -> Vec<Signatory> {
        match self.signing() {
            Some(signing) => signing
                .required
                .iter()
                .filter(|s| !signing.given.contains_key(s))
                .copied()
                .collect(),
            None => Vec::new(),
        }
    }

    /// What awaits signatures: the drafted convention, or a renewal not yet
    /// validated while the immersion runs.
    fn signing(&self) -> Option<Signing<'_>> {
        let convention = self.convention.as_ref()?;
        match self.stage {
            Stage::Drafted => Some(Signing {
                required: convention.required_signatories(&convention.period),
                given: &self.signatures,
                prevalidated: self.prevalidated,
                start: convention.period.start(),
                renewal: false,
            }),
            Stage::Started => {
                let renewal = self.renewal.as_ref().filter(|r| !r.validated)?;
                Some(Signing {
                    required: convention.required_signatories(&renewal.terms.period),
                    given: &renewal.signatures,
                    prevalidated: renewal.prevalidated,
                    start: renewal.terms.period.start(),
                    renewal: true,
                })
            }
            _ => None,
        }
    }
}

struct Signing<'a> {
    required: BTreeSet<Signatory>,
    given: &'a BTreeMap<Signatory, SignatureMethod>,
    prevalidated: bool,
    start: Date,
    renewal: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImmersionContext {
    /// Today in France (Europe/Paris).
    pub today: Date,
    pub now: OffsetDateTime,
    /// For a proposal: the person is enrolled and has not exited.
    pub person_accompanied: bool,
    /// For a proposal: the employer is registered.
    pub employer_registered: bool,
    /// For a proposal naming a need: that need's employer, while the need
    /// is open; `None` when it is unknown or closed.
    pub need_employer: Option<EmployerId>,
    /// The person's other conventions with the same host (same SIRET as the
    /// convention drafted, or as the one renewed).
    pub history_with_host: Vec<PriorConvention>,
    /// Whether the structure has conventions pre-validated by a counsellor
    /// before validation.
    pub prevalidation_required: bool,
}

#[derive(Debug, Clone, Copy)]
pub struct Immersion;

fn stage_error(field: &'static str, message: impl Into<String>) -> DomainError {
    DomainError::rule(Rule::ConventionStage, field, message)
}

/// Why nothing more can happen to an immersion in a final stage.
fn final_stage(stage: Stage) -> DomainError {
    let message = match stage {
        Stage::Declined => {
            return DomainError::rule(
                Rule::ProposalDeclined,
                "immersionId",
                "La proposition a été déclinée : proposez une nouvelle immersion.",
            );
        }
        Stage::Rejected => "La convention a été rejetée : proposez une nouvelle immersion.",
        Stage::Deprecated => "La convention a été abandonnée : proposez une nouvelle immersion.",
        _ => "La convention a été annulée : proposez une nouvelle immersion.",
    };
    stage_error("immersionId", message)
}

/// What every command but the proposal acts on: an immersion proposed and
/// not in a final stage, with the context its rules read.
#[derive(Clone, Copy)]
struct Existing<'a> {
    proposal: &'a ImmersionProposed,
    state: &'a ImmersionState,
    context: &'a ImmersionContext,
}

impl<'a> Existing<'a> {
    fn new(state: &'a ImmersionState, context: &'a ImmersionContext) -> Result<Self, DomainError> {
        let Some(proposal) = &state.proposal else {
            return Err(not_found("immersionId", "Cette immersion n'existe pas."));
        };
        if state.stage.is_final() {
            return Err(final_stage(state.stage));
        }
        Ok(Self {
            proposal,
            state,
            context,
        })
    }
}

fn list(signatories: &[Signatory]) -> String {
    signatories
        .iter()
        .map(|s| s.label())
        .collect::<Vec<_>>()
        .join(", ")
}

impl Decider for Immersion {
    type Command = ImmersionCommand;
    type Event = ImmersionEvent;
    type State = ImmersionState;
    type Context = ImmersionContext;

    fn decide(
        command: &ImmersionCommand,
        state: &ImmersionState,
        context: &ImmersionContext,
    ) -> Result<Vec<ImmersionEvent>, DomainError> {
        use ImmersionCommand as C;
        let existing = || Existing::new(state, context);
        let event = match command {
            C::Propose {
                immersion_id,
                person_id,
                employer_id,
                need_id,
                objective,
                structure,
                mediator,
                message,
                proposed_on,
            } => {
                let proposal = ImmersionProposed {
                    immersion_id: *immersion_id,
                    person_id: *person_id,
                    employer_id: *employer_id,
                    need_id: *need_id,
                    objective: *objective,
                    structure: *structure,
                    mediator: *mediator,
                    message: message.clone().map(Personal::Known),
                    proposed_on: *proposed_on,
                };
                return propose(proposal, state, context);
            }
            C::Accept { by, answered_on } => accept(*by, *answered_on, existing()?)?,
            C::Decline {
                by,
                reason,
                answered_on,
            } => decline(*by, reason, *answered_on, existing()?)?,
            C::DraftConvention { convention } => return draft(convention, existing()?),
            C::Sign { signatory, method } => sign(*signatory, *method, existing()?)?,
            C::Prevalidate { by } => prevalidate(*by, existing()?)?,
            C::Validate { by } => validate(*by, existing()?)?,
            C::Reject { by, justification } => reject(*by, justification, existing()?)?,
            C::Deprecate { justification } => deprecate(justification, existing()?)?,
            C::Cancel { by, reason } => cancel(*by, reason, existing()?)?,
            C::Renew { terms } => renew(terms, existing()?)?,
            C::Start { started_on } => start(*started_on, existing()?)?,
            C::CorrectStart {
                started_on,
                reason,
                corrected_on,
            } => correct_start(*started_on, reason, *corrected_on, existing()?)?,
            C::Interrupt {
                by,
                reason,
                interrupted_on,
            } => interrupt(*by, reason, *interrupted_on, existing()?)?,
            C::Complete { completed_on } => complete(*completed_on, existing()?)?,
            C::CorrectEnd {
                ended_on,
                reason,
                corrected_on,
            } => correct_end(*ended_on, reason, *corrected_on, existing()?)?,
            C::ReportAccident {
                accident_id,
                occurred_at,
                structure_informed_at,
                description,
            } => report_accident(
                *accident_id,
                *occurred_at,
                *structure_informed_at,
                description,
                existing()?,
            )?,
            C::RecordAccidentDeclaration {
                accident_id,
                filed_at,
            } => record_accident_declaration(*accident_id, *filed_at, existing()?)?,
            C::RecordFeedback {
                feedback,
                recorded_on,
            } => record_feedback(feedback, *recorded_on, existing()?)?,
            C::RecordOutcome {
                milestone,
                outcome,
                recorded_on,
            } => record_outcome(*milestone, *outcome, *recorded_on, existing()?)?,
            C::AnswerAssessment {
                response,
                answered_on,
            } => answer_assessment(response, *answered_on, existing()?)?,
            C::CorrectFeedback {
                feedback,
                reason,
                corrected_on,
            } => correct_feedback(feedback, reason, *corrected_on, existing()?)?,
        };
        Ok(vec![event])
    }

    fn evolve(mut state: ImmersionState, event: &ImmersionEvent) -> ImmersionState {
        use ImmersionEvent as E;
        match event {
            E::ImmersionProposed(e) => {
                state.proposal = Some(e.clone());
                state.stage = Stage::Proposed;
            }
            E::ProposalAcceptedByPerson(_) => state.accepted_by_person = true,
            E::ProposalAcceptedByEmployer(_) => state.accepted_by_employer = true,
            E::ProposalDeclined(_) => state.stage = Stage::Declined,
            E::ConventionDrafted(e) => {
                state.convention = Some(e.convention.clone());
                state.stage = Stage::Drafted;
            }
            E::ConventionModified(e) => {
                state.convention = Some(e.convention.clone());
                state.signatures.clear();
                state.prevalidated = false;
            }
            E::ConventionSigned(e) => match (&mut state.renewal, e.renewal) {
                (Some(renewal), true) => {
                    renewal.signatures.insert(e.signatory, e.method);
                }
                _ => {
                    state.signatures.insert(e.signatory, e.method);
                }
            },
            E::ConventionPrevalidated(e) => match (&mut state.renewal, e.renewal) {
                (Some(renewal), true) => renewal.prevalidated = true,
                _ => state.prevalidated = true,
            },
            E::ConventionValidated(e) => match (&mut state.renewal, e.renewal) {
                (Some(renewal), true) => renewal.validated = true,
                _ => {
                    state.validated_on = Some(e.validated_on);
                    state.stage = Stage::Validated;
                }
            },
            E::ConventionRejected(_) => state.stage = Stage::Rejected,
            E::ConventionDeprecated(_) => state.stage = Stage::Deprecated,
            E::ConventionCancelled(_) => state.stage = Stage::Cancelled,
            E::ConventionRenewed(e) => {
                state.renewal = Some(Renewal {
                    terms: e.terms.clone(),
                    signatures: BTreeMap::new(),
                    prevalidated: false,
                    validated: false,
                });
            }
            E::ImmersionStarted(e) => {
                state.started_on = Some(e.started_on);
                state.stage = Stage::Started;
            }
            E::StartCorrected(e) => state.started_on = Some(e.started_on),
            E::ImmersionInterrupted(e) => {
                state.ended_on = Some(e.interrupted_on);
                state.stage = Stage::Interrupted;
            }
            E::ImmersionCompleted(e) => {
                state.ended_on = Some(e.completed_on);
                state.stage = Stage::Completed;
            }
            E::EndCorrected(e) => state.ended_on = Some(e.ended_on),
            E::AccidentReported(e) => {
                state.accidents.insert(
                    e.accident_id,
                    Accident {
                        occurred_at: Some(e.occurred_at),
                        declared: false,
                    },
                );
            }
            E::AccidentDeclarationFiled(e) => {
                if let Some(accident) = state.accidents.get_mut(&e.accident_id) {
                    accident.declared = true;
                }
            }
            E::FeedbackRecorded(e) => {
                state
                    .feedback
                    .insert(e.feedback.author(), e.feedback.clone());
            }
            E::OutcomeRecorded(e) => {
                state.outcomes.insert(e.milestone, e.recorded_on);
            }
            E::AssessmentAnswered(e) => {
                if let Some(Feedback::Person(p)) = state.feedback.get_mut(&FeedbackAuthor::Person) {
                    p.on_assessment = Some(e.response.clone());
                }
            }
            E::FeedbackCorrected(e) => {
                if let Feedback::Host(_) = e.feedback
                    && let Some(Feedback::Person(p)) =
                        state.feedback.get_mut(&FeedbackAuthor::Person)
                {
                    p.on_assessment = None;
                }
                state
                    .feedback
                    .insert(e.feedback.author(), e.feedback.clone());
            }
        }
        state
    }
}

/// The last planned day of an immersion: its validated renewal's, else its
/// convention's. One definition for the decisions and the views, which
/// keep the two ends apart.
pub fn last_planned_day(
    convention_end: Option<Date>,
    validated_renewal_end: Option<Date>,
) -> Option<Date> {
    validated_renewal_end.or(convention_end)
}

fn propose(
    proposal: ImmersionProposed,
    state: &ImmersionState,
    context: &ImmersionContext,
) -> Result<Vec<ImmersionEvent>, DomainError> {
    if state.stage != Stage::NotProposed {
        return Err(already_exists(
            "immersionId",
            "Cette immersion est déjà proposée.",
        ));
    }
    if !context.person_accompanied {
        return Err(not_found(
            "personId",
            "Cette personne n'est pas accompagnée par votre structure (ou est sortie de l'accompagnement).",
        ));
    }
    if !context.employer_registered {
        return Err(not_found(
            "employerId",
            "Cet employeur n'est pas enregistré.",
        ));
    }
    if proposal.need_id.is_some() && context.need_employer != Some(proposal.employer_id) {
        return Err(DomainError::rule(
            Rule::NeedOfAnotherEmployer,
            "needId",
            "Ce besoin n'est pas un besoin ouvert de cet employeur : choisissez un de ses besoins en cours, ou aucun.",
        ));
    }
    not_in_future(proposal.proposed_on, context.today, "proposedOn")?;
    Ok(vec![proposal.into()])
}

/// What an acceptance and a refusal both check.
fn answer(by: Respondent, answered_on: Date, immersion: Existing<'_>) -> Result<(), DomainError> {
    let Existing {
        proposal,
        state,
        context,
    } = immersion;
    if state.stage != Stage::Proposed {
        return Err(DomainError::conflict(
            Rule::ProposalAlreadyAnswered,
            "by",
            "La proposition a déjà reçu ses réponses.",
        ));
    }
    let answered = match by {
        Respondent::Person => state.accepted_by_person,
        Respondent::Employer => state.accepted_by_employer,
    };
    if answered {
        return Err(DomainError::conflict(
            Rule::ProposalAlreadyAnswered,
            "by",
            "Cette réponse est déjà enregistrée.",
        ));
    }
    not_in_future(answered_on, context.today, "answeredOn")?;
    not_before(
        answered_on,
        proposal.proposed_on,
        "la proposition",
        "answeredOn",
    )
}

fn accept(
    by: Respondent,
    answered_on: Date,
    immersion: Existing<'_>,
) -> Result<ImmersionEvent, DomainError> {
    answer(by, answered_on, immersion)?;
    Ok(match by {
        Respondent::Person => ProposalAcceptedByPerson { answered_on }.into(),
        Respondent::Employer => ProposalAcceptedByEmployer { answered_on }.into(),
    })
}

fn decline(
    by: Respondent,
    reason: &Text,
    answered_on: Date,
    immersion: Existing<'_>,
) -> Result<ImmersionEvent, DomainError> {
    answer(by, answered_on, immersion)?;
    Ok(ProposalDeclined {
        by,
        reason: Personal::Known(reason.clone()),
        answered_on,
    }
    .into())
}

fn draft(
    convention: &Convention,
    immersion: Existing<'_>,
) -> Result<Vec<ImmersionEvent>, DomainError> {
    let Existing { state, context, .. } = immersion;
    match state.stage {
        Stage::Proposed if state.accepted_by_person && state.accepted_by_employer => {}
        Stage::Proposed => {
            let waiting = match (state.accepted_by_person, state.accepted_by_employer) {
                (false, false) => "de la personne et de l'employeur",
                (false, true) => "de la personne",
                _ => "de l'employeur",
            };
            return Err(DomainError::rule(
                Rule::ProposalNotAccepted,
                "immersionId",
                format!(
                    "La convention se rédige une fois la proposition acceptée : il manque l'accord {waiting}."
                ),
            ));
        }
        Stage::Drafted => {}
        _ => {
            return Err(DomainError::rule(
                Rule::ConventionLocked,
                "convention",
                "La convention est validée : elle ne se modifie plus. Pour changer les dates ou le contenu, annulez-la et proposez une nouvelle immersion.",
            ));
        }
    }
    if state.convention.as_ref() == Some(convention) {
        // The same content again: nothing changes, no signature is lost.
        return Ok(Vec::new());
    }
    convention.check()?;
    check_history(
        &Candidate {
            span: convention.period,
            days: convention.period.days(),
            objective: convention.objective,
            goals: &convention.goals,
            is_new_convention: true,
        },
        &context.history_with_host,
        "convention.period",
    )?;
    Ok(vec![match state.stage {
        Stage::Drafted => ConventionModified {
            convention: convention.clone(),
            signatures_cleared: state.signatures.keys().copied().collect(),
        }
        .into(),
        _ => ConventionDrafted {
            convention: convention.clone(),
        }
        .into(),
    }])
}

fn awaiting_signatures(state: &ImmersionState) -> Result<Signing<'_>, DomainError> {
    state.signing().ok_or_else(|| match state.stage {
        Stage::Proposed => DomainError::rule(
            Rule::ConventionNotDrafted,
            "immersionId",
            "La convention n'est pas encore rédigée.",
        ),
        Stage::Validated => DomainError::conflict(
            Rule::ConventionStage,
            "immersionId",
            "La convention est déjà validée.",
        ),
        _ => stage_error(
            "immersionId",
            "Aucune convention ni aucun renouvellement n'attend de signature.",
        ),
    })
}

fn all_signed(state: &ImmersionState) -> Result<(), DomainError> {
    let missing = state.missing_signatures();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(DomainError::rule(
            Rule::SignaturesMissing,
            "signatures",
            format!("Il manque la signature de : {}.", list(&missing)),
        ))
    }
}

fn prevalidate(by: UserId, immersion: Existing<'_>) -> Result<ImmersionEvent, DomainError> {
    let state = immersion.state;
    let signing = awaiting_signatures(state)?;
    all_signed(state)?;
    if signing.prevalidated {
        return Err(DomainError::conflict(
            Rule::ConventionStage,
            "immersionId",
            "La convention est déjà pré-validée.",
        ));
    }
    Ok(ConventionPrevalidated {
        by,
        renewal: signing.renewal,
    }
    .into())
}

fn validate(by: UserId, immersion: Existing<'_>) -> Result<ImmersionEvent, DomainError> {
    let Existing { state, context, .. } = immersion;
    let today = context.today;
    let signing = awaiting_signatures(state)?;
    all_signed(state)?;
    if context.prevalidation_required && !signing.prevalidated {
        return Err(DomainError::rule(
            Rule::PrevalidationRequired,
            "immersionId",
            "Votre structure fait pré-valider les conventions par un conseiller avant la validation : demandez la pré-validation.",
        ));
    }
    if today > signing.start {
        return Err(DomainError::rule(
            Rule::ValidationAfterStart,
            "convention.period.start",
            format!(
                "La période commence le {}, avant aujourd'hui : modifiez les dates (les signatures seront à redonner) avant de valider.",
                fr::date(signing.start)
            ),
        ));
    }
    Ok(ConventionValidated {
        by,
        validated_on: today,
        renewal: signing.renewal,
    }
    .into())
}

fn sign(
    signatory: Signatory,
    method: SignatureMethod,
    immersion: Existing<'_>,
) -> Result<ImmersionEvent, DomainError> {
    let Existing { state, context, .. } = immersion;
    let signing = awaiting_signatures(state)?;
    if !signing.required.contains(&signatory) {
        let required: Vec<_> = signing.required.iter().copied().collect();
        return Err(DomainError::rule(
            Rule::SignatoryNotRequired,
            "signatory",
            format!(
                "{} ne signe pas cette convention ; signent : {}.",
                capitalise(signatory.label()),
                list(&required)
            ),
        ));
    }
    if signing.given.contains_key(&signatory) {
        return Err(DomainError::conflict(
            Rule::AlreadySigned,
            "signatory",
            format!("{} a déjà signé.", capitalise(signatory.label())),
        ));
    }
    if let SignatureMethod::Paper { signed_on, .. } = method {
        not_in_future(signed_on, context.today, "method.signedOn")?;
    }
    Ok(ConventionSigned {
        signatory,
        method,
        signed_at: context.now,
        renewal: signing.renewal,
    }
    .into())
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn before_validation(state: &ImmersionState) -> Result<(), DomainError> {
    match state.stage {
        Stage::Drafted => Ok(()),
        Stage::Proposed => Err(DomainError::rule(
            Rule::ConventionNotDrafted,
            "immersionId",
            "La convention n'est pas encore rédigée.",
        )),
        _ => Err(stage_error(
            "immersionId",
            "La convention est validée : elle ne se rejette plus, elle s'annule (avant le début) ou l'immersion s'interrompt.",
        )),
    }
}

fn reject(
    by: UserId,
    justification: &Text,
    immersion: Existing<'_>,
) -> Result<ImmersionEvent, DomainError> {
    before_validation(immersion.state)?;
    Ok(ConventionRejected {
        by,
        justification: Personal::Known(justification.clone()),
    }
    .into())
}

fn deprecate(justification: &Text, immersion: Existing<'_>) -> Result<ImmersionEvent, DomainError> {
    before_validation(immersion.state)?;
    Ok(ConventionDeprecated {
        justification: Personal::Known(justification.clone()),
    }
    .into())
}

fn cancel(
    by: Initiator,
    reason: &Text,
    immersion: Existing<'_>,
) -> Result<ImmersionEvent, DomainError> {
    let Existing { state, context, .. } = immersion;
    let message = match state.stage {
        Stage::Validated => None,
        Stage::Started | Stage::Interrupted | Stage::Completed => Some(format!(
            "L'immersion a commencé le {} : elle ne s'annule plus, elle s'interrompt.",
            state.started_on.map(fr::date).unwrap_or_default()
        )),
        _ => Some(
            "La convention n'est pas encore validée : rejetez-la ou abandonnez-la plutôt que de l'annuler."
                .to_owned(),
        ),
    };
    if let Some(message) = message {
        return Err(DomainError::rule(
            Rule::CancelOnlyBeforeStart,
            "immersionId",
            message,
        ));
    }
    Ok(ConventionCancelled {
        by,
        reason: Personal::Known(reason.clone()),
        cancelled_on: context.today,
    }
    .into())
}

fn start(started_on: Date, immersion: Existing<'_>) -> Result<ImmersionEvent, DomainError> {
    let Existing { state, context, .. } = immersion;
    let convention = match (state.stage, &state.convention) {
        (Stage::Validated, Some(convention)) => convention,
        (Stage::Started | Stage::Interrupted | Stage::Completed, _) => {
            return Err(DomainError::conflict(
                Rule::ConventionStage,
                "startedOn",
                "L'immersion a déjà commencé.",
            ));
        }
        _ => {
            return Err(stage_error(
                "immersionId",
                "La convention n'est pas encore validée : l'immersion ne peut pas commencer.",
            ));
        }
    };
    first_day(started_on, convention, context)?;
    Ok(ImmersionStarted { started_on }.into())
}

/// A first day, recorded or corrected: within the convention's period, and
/// come.
fn first_day(
    started_on: Date,
    convention: &Convention,
    context: &ImmersionContext,
) -> Result<(), DomainError> {
    if !convention.period.contains(started_on) {
        return Err(DomainError::rule(
            Rule::StartOutsidePeriod,
            "startedOn",
            format!(
                "L'immersion commence dans la période de la convention ({}).",
                convention.period
            ),
        ));
    }
    not_in_future(started_on, context.today, "startedOn")
}

/// Refuses the correction of a day (`which`: « premier jour », « dernier
/// jour ») to the day recorded.
fn another_day(
    day: Date,
    recorded: Date,
    which: &str,
    field: &'static str,
) -> Result<(), DomainError> {
    if day == recorded {
        return Err(DomainError::rule(
            Rule::NothingToCorrect,
            field,
            format!(
                "Rien ne change : le {which} enregistré est déjà le {}.",
                fr::date(recorded)
            ),
        ));
    }
    Ok(())
}

/// The first day corrected once the immersion started, running or ended:
/// another day, within the convention's period, come, and on or before
/// every day the immersion already holds (an accident, a last day present,
/// the day it ended).
fn correct_start(
    started_on: Date,
    reason: &Text,
    corrected_on: Date,
    immersion: Existing<'_>,
) -> Result<ImmersionEvent, DomainError> {
    let Existing { state, context, .. } = immersion;
    let (recorded, convention) = match (state.stage, state.started_on, &state.convention) {
        (
            Stage::Started | Stage::Interrupted | Stage::Completed,
            Some(recorded),
            Some(convention),
        ) => (recorded, convention),
        _ => {
            return Err(stage_error(
                "startedOn",
                "L'immersion n'a pas encore commencé : enregistrez son début.",
            ));
        }
    };
    another_day(started_on, recorded, "premier jour", "startedOn")?;
    first_day(started_on, convention, context)?;
    // Corrected once it started, on either day.
    not_before(
        corrected_on,
        recorded.max(started_on),
        "le début de l'immersion",
        "correctedOn",
    )?;
    let accident = state
        .accidents
        .values()
        .filter_map(|a| a.occurred_at.map(crate::calendar::paris_date))
        .min();
    let present = match state.feedback.get(&FeedbackAuthor::Host) {
        Some(Feedback::Host(HostAssessment {
            attendance: Attendance::Partially {
                last_day_present, ..
            },
            ..
        })) => Some(*last_day_present),
        _ => None,
    };
    if let Some(held) = accident.into_iter().chain(present).min()
        && held < started_on
    {
        return Err(DomainError::rule(
            Rule::StartOutsidePeriod,
            "startedOn",
            format!(
                "L'immersion tient déjà le {} (un accident ou le dernier jour de présence) : elle a commencé ce jour-là au plus tard.",
                fr::date(held)
            ),
        ));
    }
    if let Some(ended_on) = state.ended_on.filter(|day| *day < started_on) {
        return Err(DomainError::rule(
            Rule::StartOutsidePeriod,
            "startedOn",
            format!(
                "L'immersion s'est terminée le {} : elle a commencé ce jour-là au plus tard.",
                fr::date(ended_on)
            ),
        ));
    }
    not_in_future(corrected_on, context.today, "correctedOn")?;
    Ok(StartCorrected {
        started_on,
        reason: Personal::Known(reason.clone()),
        corrected_on,
    }
    .into())
}

/// The immersion runs: started, not yet ended. Returns its first day.
fn running(state: &ImmersionState) -> Result<Date, DomainError> {
    match (state.stage, state.started_on) {
        (Stage::Started, Some(started_on)) => Ok(started_on),
        (Stage::Interrupted | Stage::Completed, _) => Err(DomainError::rule(
            Rule::AlreadyEnded,
            "immersionId",
            format!(
                "L'immersion est terminée depuis le {}.",
                state.ended_on.map(fr::date).unwrap_or_default()
            ),
        )),
        _ => Err(DomainError::rule(
            Rule::NotStarted,
            "immersionId",
            "L'immersion n'a pas commencé.",
        )),
    }
}

fn renew(terms: &RenewalTerms, immersion: Existing<'_>) -> Result<ImmersionEvent, DomainError> {
    let Existing { state, context, .. } = immersion;
    running(state)?;
    let convention = state
        .convention
        .as_ref()
        .expect("a running immersion has a convention");
    if state.validated_renewal().is_some() {
        return Err(DomainError::rule(
            Rule::RenewalOnlyOnce,
            "immersionId",
            "Cette immersion a déjà été renouvelée : une PMSMP ne se renouvelle qu'une fois. Proposez une nouvelle immersion, avec un autre objectif.",
        ));
    }
    if state.feedback.values().any(Feedback::goals_reached) {
        return Err(DomainError::rule(
            Rule::RenewalGoalsReached,
            "whyGoalsNotReached",
            "Le bilan indique que les objectifs sont atteints : le renouvellement n'est possible que s'ils ne le sont pas.",
        ));
    }
    if terms.objective != convention.objective {
        return Err(DomainError::rule(
            Rule::RenewalSameObjective,
            "terms.objective",
            format!(
                "Un renouvellement garde l'objectif de la convention ({}) ; pour un autre objectif, proposez une nouvelle immersion.",
                convention.objective.label()
            ),
        ));
    }
    if terms.goals != convention.goals {
        return Err(DomainError::rule(
            Rule::RenewalSameObjective,
            "terms.goals",
            "Un renouvellement garde les objectifs précis de la convention ; pour d'autres objectifs, proposez une nouvelle immersion.",
        ));
    }
    if terms.period.start() <= convention.period.end() {
        return Err(DomainError::rule(
            Rule::RenewalMustFollow,
            "terms.period.start",
            format!(
                "Le renouvellement commence après la première période, qui finit le {}.",
                fr::date(convention.period.end())
            ),
        ));
    }
    check_period(&terms.period, "terms.period.end")?;
    if terms.period.days() > convention.period.days() {
        return Err(DomainError::rule(
            Rule::RenewalMaxDuration,
            "terms.period.end",
            format!(
                "Le renouvellement ne peut pas durer plus que la première période ({}) : {} indiqués.",
                fr::days(convention.period.days()),
                fr::days(terms.period.days())
            ),
        ));
    }
    check_weekly_hours(terms.weekly_hours, "terms.weeklyHours")?;
    check_history(
        &Candidate {
            span: DateRange::new(convention.period.start(), terms.period.end())?,
            days: convention.period.days() + terms.period.days(),
            objective: convention.objective,
            goals: &convention.goals,
            is_new_convention: false,
        },
        &context.history_with_host,
        "terms.period",
    )?;
    Ok(ConventionRenewed {
        terms: terms.clone(),
    }
    .into())
}

fn interrupt(
    by: Initiator,
    reason: &Text,
    interrupted_on: Date,
    immersion: Existing<'_>,
) -> Result<ImmersionEvent, DomainError> {
    let Existing { state, context, .. } = immersion;
    let started_on = running(state)?;
    interruption_day(interrupted_on, started_on, state, context, "interruptedOn")?;
    Ok(ImmersionInterrupted {
        by,
        reason: Personal::Known(reason.clone()),
        interrupted_on,
    }
    .into())
}

fn complete(completed_on: Date, immersion: Existing<'_>) -> Result<ImmersionEvent, DomainError> {
    let Existing { state, context, .. } = immersion;
    running(state)?;
    completion_day(completed_on, state, context, "completedOn")?;
    Ok(ImmersionCompleted { completed_on }.into())
}

/// The day an interruption stopped the immersion, recorded or corrected:
/// from its first day to its last planned day (the renewal's when
/// validated: after it, the immersion went to its end, a completion), and
/// come.
fn interruption_day(
    interrupted_on: Date,
    started_on: Date,
    state: &ImmersionState,
    context: &ImmersionContext,
    field: &'static str,
) -> Result<(), DomainError> {
    let end = state
        .planned_end()
        .expect("a started immersion has a convention");
    if interrupted_on > end {
        return Err(DomainError::rule(
            Rule::InterruptionAfterEnd,
            field,
            format!(
                "L'immersion devait finir le {} : une interruption tombe au plus tard ce jour-là ; au-delà, elle est allée à son terme.",
                fr::date(end)
            ),
        ));
    }
    not_in_future(interrupted_on, context.today, field)?;
    not_before(interrupted_on, started_on, "le début de l'immersion", field)
}

/// The day an immersion was completed, recorded or corrected: from its
/// last planned day on (an earlier end is an interruption), and come.
fn completion_day(
    completed_on: Date,
    state: &ImmersionState,
    context: &ImmersionContext,
    field: &'static str,
) -> Result<(), DomainError> {
    let end = state
        .planned_end()
        .expect("a started immersion has a convention");
    if completed_on < end {
        return Err(DomainError::rule(
            Rule::CompletionBeforeEnd,
            field,
            format!(
                "L'immersion va jusqu'au {} : si elle s'arrête avant, enregistrez une interruption.",
                fr::date(end)
            ),
        ));
    }
    not_in_future(completed_on, context.today, field)
}

/// The day an immersion ended corrected, once it ended: another day of the
/// same kind of end (a completion from its last planned day on, an
/// interruption from its first day to its last planned day), come, on or
/// after every day the immersion holds (an accident, the last day present
/// the assessment gives), and no later than the outcomes recorded since
/// allow (each on or after its milestone's day).
fn correct_end(
    ended_on: Date,
    reason: &Text,
    corrected_on: Date,
    immersion: Existing<'_>,
) -> Result<ImmersionEvent, DomainError> {
    let Existing { state, context, .. } = immersion;
    let (recorded, started_on) = match (state.stage, state.ended_on, state.started_on) {
        (Stage::Completed | Stage::Interrupted, Some(recorded), Some(started_on)) => {
            (recorded, started_on)
        }
        (Stage::Started, ..) => {
            return Err(stage_error(
                "endedOn",
                "L'immersion se déroule : enregistrez sa fin ou son interruption.",
            ));
        }
        _ => {
            return Err(stage_error(
                "endedOn",
                "L'immersion n'a pas commencé : elle n'a pas de dernier jour à corriger.",
            ));
        }
    };
    another_day(ended_on, recorded, "dernier jour", "endedOn")?;
    let planned_end = state
        .planned_end()
        .expect("a started immersion has a convention");
    if state.stage == Stage::Completed && ended_on < planned_end {
        return Err(DomainError::rule(
            Rule::CompletionBeforeEnd,
            "endedOn",
            format!(
                "L'immersion a été enregistrée comme menée à son terme, qui était le {} : son dernier jour ne se corrige pas avant.",
                fr::date(planned_end)
            ),
        ));
    }
    if state.stage == Stage::Completed {
        completion_day(ended_on, state, context, "endedOn")?;
    } else {
        interruption_day(ended_on, started_on, state, context, "endedOn")?;
    }
    let accident = state
        .accidents
        .values()
        .filter_map(|a| a.occurred_at.map(crate::calendar::paris_date))
        .max();
    if let Some(day) = accident.filter(|day| *day > ended_on) {
        return Err(DomainError::rule(
            Rule::AccidentOutsideImmersion,
            "endedOn",
            format!(
                "Un accident du travail est enregistré le {} : l'immersion durait encore ce jour-là.",
                fr::date(day)
            ),
        ));
    }
    if let Some(Feedback::Host(HostAssessment {
        attendance: Attendance::Partially {
            last_day_present, ..
        },
        ..
    })) = state.feedback.get(&FeedbackAuthor::Host)
        && *last_day_present > ended_on
    {
        return Err(DomainError::rule(
            Rule::PresenceOutsideImmersion,
            "endedOn",
            format!(
                "Le bilan donne le {} comme dernier jour de présence : l'immersion durait encore ce jour-là.",
                fr::date(*last_day_present)
            ),
        ));
    }
    for (milestone, noted_on) in &state.outcomes {
        let due = milestone.due(ended_on);
        if *noted_on < due {
            return Err(DomainError::rule(
                Rule::OutcomeTooEarly,
                "endedOn",
                format!(
                    "La suite {} a été notée le {} : avec une fin le {}, elle ne se notait qu'à partir du {}.",
                    milestone.label(),
                    fr::date(*noted_on),
                    fr::date(ended_on),
                    fr::date(due)
                ),
            ));
        }
    }
    // Corrected once it ended, on either day.
    not_before(
        corrected_on,
        recorded.max(ended_on),
        "la fin de l'immersion",
        "correctedOn",
    )?;
    not_in_future(corrected_on, context.today, "correctedOn")?;
    Ok(EndCorrected {
        ended_on,
        reason: Personal::Known(reason.clone()),
        corrected_on,
    }
    .into())
}

fn report_accident(
    accident_id: AccidentId,
    occurred_at: OffsetDateTime,
    structure_informed_at: OffsetDateTime,
    description: &Text,
    immersion: Existing<'_>,
) -> Result<ImmersionEvent, DomainError> {
    let Existing { state, context, .. } = immersion;
    if state.accidents.contains_key(&accident_id) {
        return Err(already_exists(
            "accidentId",
            "Cet accident est déjà enregistré.",
        ));
    }
    let during = match (state.stage, state.started_on) {
        (Stage::Started | Stage::Interrupted | Stage::Completed, Some(start)) => {
            let last = state.ended_on.unwrap_or(context.today);
            // The immersion's days are days in Paris, whatever offset the
            // client sent the instant with.
            let day = crate::calendar::paris_date(occurred_at);
            start <= day && day <= last
        }
        _ => false,
    };
    if !during {
        return Err(DomainError::rule(
            Rule::AccidentOutsideImmersion,
            "occurredAt",
            "Un accident du travail en PMSMP se déclare s'il survient pendant l'immersion (ou sur le trajet) : la date n'est pas dans l'immersion.",
        ));
    }
    if occurred_at > context.now || structure_informed_at > context.now {
        return Err(DomainError::rule(
            Rule::DateInFuture,
            "occurredAt",
            "L'accident et l'information de la structure s'enregistrent une fois survenus.",
        ));
    }
    if structure_informed_at < occurred_at {
        return Err(DomainError::rule(
            Rule::DateBeforeStart,
            "structureInformedAt",
            "La structure ne peut pas avoir été informée avant l'accident.",
        ));
    }
    Ok(AccidentReported {
        accident_id,
        occurred_at,
        structure_informed_at,
        description: Personal::Known(description.clone()),
        informed_in_time: structure_informed_at - occurred_at <= ACCIDENT_INFORM_WITHIN,
        declaration_due_at: occurred_at + ACCIDENT_DECLARE_WITHIN,
    }
    .into())
}

fn record_accident_declaration(
    accident_id: AccidentId,
    filed_at: OffsetDateTime,
    immersion: Existing<'_>,
) -> Result<ImmersionEvent, DomainError> {
    let Existing { state, context, .. } = immersion;
    let Some(accident) = state.accidents.get(&accident_id) else {
        return Err(DomainError::not_found(
            Rule::AccidentUnknown,
            "accidentId",
            "Aucun accident n'est enregistré sous cette référence pour cette immersion.",
        ));
    };
    if accident.declared {
        return Err(DomainError::conflict(
            Rule::AccidentAlreadyDeclared,
            "accidentId",
            "La déclaration de cet accident est déjà enregistrée.",
        ));
    }
    let occurred_at = accident
        .occurred_at
        .expect("reported accidents have a time");
    if filed_at < occurred_at {
        return Err(DomainError::rule(
            Rule::DateBeforeStart,
            "filedAt",
            "La déclaration ne peut pas précéder l'accident.",
        ));
    }
    if filed_at > context.now {
        return Err(DomainError::rule(
            Rule::DateInFuture,
            "filedAt",
            "La déclaration s'enregistre une fois faite.",
        ));
    }
    Ok(AccidentDeclarationFiled {
        accident_id,
        filed_at,
        filed_in_time: filed_at - occurred_at <= ACCIDENT_DECLARE_WITHIN,
    }
    .into())
}

fn record_feedback(
    feedback: &Feedback,
    recorded_on: Date,
    immersion: Existing<'_>,
) -> Result<ImmersionEvent, DomainError> {
    let Existing { state, context, .. } = immersion;
    let today = context.today;
    if !state.stage.takes_feedback(state.planned_end(), today) {
        return Err(DomainError::rule(
            Rule::FeedbackTooEarly,
            "feedback",
            match state.planned_end() {
                Some(end) if state.stage == Stage::Started => format!(
                    "Les retours s'enregistrent à partir du dernier jour de l'immersion, le {}.",
                    fr::date(end)
                ),
                _ => "Les retours s'enregistrent une fois l'immersion commencée, à partir de son dernier jour.".to_owned(),
            },
        ));
    }
    let author = feedback.author();
    if state.feedback.contains_key(&author) {
        return Err(DomainError::conflict(
            Rule::FeedbackAlreadyRecorded,
            "feedback",
            format!(
                "{} est déjà enregistré : corrigez-le s'il contient une erreur.",
                whose(author)
            ),
        ));
    }
    check_feedback(feedback, state)?;
    not_in_future(recorded_on, today, "recordedOn")?;
    Ok(FeedbackRecorded {
        feedback: feedback.clone(),
        recorded_on,
    }
    .into())
}

/// Whose feedback it is, as a sentence begins.
fn whose(author: FeedbackAuthor) -> &'static str {
    match author {
        FeedbackAuthor::Host => "Le bilan de la structure d'accueil",
        FeedbackAuthor::Person => "Le retour de la personne",
        FeedbackAuthor::Mediator => "Le retour du médiateur",
    }
}

/// What a feedback says, checked against the immersion, when recorded and
/// when corrected alike: a partial attendance within the immersion, and
/// the person's answer to an assessment that exists.
fn check_feedback(feedback: &Feedback, state: &ImmersionState) -> Result<(), DomainError> {
    if let Feedback::Host(HostAssessment {
        attendance:
            Attendance::Partially {
                last_day_present,
                missed_hours,
            },
        ..
    }) = feedback
    {
        check_presence(state, *last_day_present, *missed_hours)?;
    }
    if let Feedback::Person(PersonFeedback {
        on_assessment: Some(_),
        ..
    }) = feedback
        && !state.feedback.contains_key(&FeedbackAuthor::Host)
    {
        return Err(DomainError::rule(
            Rule::CountersignWithoutAssessment,
            "feedback.onAssessment",
            "Le bilan de la structure d'accueil n'est pas encore enregistré : la personne ne peut pas encore le contresigner ni le contester.",
        ));
    }
    Ok(())
}

/// A party's feedback corrected: one already recorded, by a feedback of the
/// same party that says something else, under the same rules as when it
/// was recorded.
fn correct_feedback(
    feedback: &Feedback,
    reason: &Text,
    corrected_on: Date,
    immersion: Existing<'_>,
) -> Result<ImmersionEvent, DomainError> {
    let Existing { state, context, .. } = immersion;
    let author = feedback.author();
    let Some(recorded) = state.feedback.get(&author) else {
        return Err(DomainError::rule(
            Rule::FeedbackNotRecorded,
            "feedback",
            format!(
                "{} n'est pas encore enregistré : il n'y a rien à corriger.",
                whose(author)
            ),
        ));
    };
    // A correction fixes what the assessment says, not how it was given:
    // who may correct it follows how (`policy::may_issue`).
    if let (Feedback::Host(new), Feedback::Host(old)) = (feedback, recorded)
        && new.received_by_other_means != old.received_by_other_means
    {
        return Err(DomainError::rule(
            Rule::FeedbackGivenOtherwise,
            "feedback.receivedByOtherMeans",
            if old.received_by_other_means {
                "Ce bilan a été donné sur papier ou par téléphone et saisi par la structure : c'est elle qui le corrige."
            } else {
                "Ce bilan a été donné en ligne par l'entreprise : sa correction le dit donné en ligne."
            },
        ));
    }
    if recorded == feedback {
        return Err(DomainError::rule(
            Rule::NothingToCorrect,
            "feedback",
            "Rien ne change : modifiez au moins une réponse avant d'enregistrer la correction.",
        ));
    }
    check_feedback(feedback, state)?;
    not_in_future(corrected_on, context.today, "correctedOn")?;
    Ok(FeedbackCorrected {
        feedback: feedback.clone(),
        reason: Personal::Known(reason.clone()),
        corrected_on,
    }
    .into())
}

/// A partial attendance: the last day present falls within the immersion,
/// from its first day to its last (the day it was interrupted, else its
/// last planned day: a completion recorded late adds no day), and the
/// hours missed are no more than the hours its convention and validated
/// renewal plan.
fn check_presence(
    state: &ImmersionState,
    last_day_present: Date,
    missed_hours: u16,
) -> Result<(), DomainError> {
    let last = match state.stage {
        Stage::Interrupted => state.ended_on,
        _ => state.planned_end(),
    };
    let (Some(first), Some(last), Some(convention)) = (state.started_on, last, &state.convention)
    else {
        return Ok(());
    };
    if last_day_present < first || last_day_present > last {
        return Err(DomainError::rule(
            Rule::PresenceOutsideImmersion,
            "feedback.lastDayPresent",
            format!(
                "Le dernier jour de présence doit tomber pendant l'immersion, {}.",
                fr::range(first, last)
            ),
        ));
    }
    // Minutes a week over the weeks of each period, rounded up.
    let minutes =
        |period: &DateRange, weekly: WeeklyHours| period.days() * i64::from(weekly.minutes());
    let planned = minutes(&convention.period, convention.weekly_hours)
        + state
            .validated_renewal()
            .map_or(0, |t| minutes(&t.period, t.weekly_hours));
    let most = (planned + 7 * 60 - 1) / (7 * 60);
    if i64::from(missed_hours) > most {
        return Err(DomainError::rule(
            Rule::PresenceOutsideImmersion,
            "feedback.missedHours",
            format!(
                "{missed_hours} heures manquées, c'est plus que les {most} heures que l'immersion prévoit."
            ),
        ));
    }
    Ok(())
}

/// The person's answer to the host's assessment, once both the assessment
/// and their own feedback (without an answer) are recorded: once only.
fn answer_assessment(
    response: &AssessmentResponse,
    answered_on: Date,
    immersion: Existing<'_>,
) -> Result<ImmersionEvent, DomainError> {
    let Existing { state, context, .. } = immersion;
    if !state.feedback.contains_key(&FeedbackAuthor::Host) {
        return Err(DomainError::rule(
            Rule::CountersignWithoutAssessment,
            "response",
            "Le bilan de la structure d'accueil n'est pas encore enregistré : la personne ne peut pas encore le contresigner ni le contester.",
        ));
    }
    let Some(Feedback::Person(feedback)) = state.feedback.get(&FeedbackAuthor::Person) else {
        return Err(DomainError::rule(
            Rule::AnswerWithoutFeedback,
            "response",
            "Le retour de la personne n'est pas encore enregistré : contresignez ou contestez le bilan en donnant ce retour.",
        ));
    };
    if feedback.on_assessment.is_some() {
        return Err(DomainError::conflict(
            Rule::AssessmentAlreadyAnswered,
            "response",
            "La personne a déjà contresigné ou contesté le bilan de la structure d'accueil.",
        ));
    }
    not_in_future(answered_on, context.today, "answeredOn")?;
    Ok(AssessmentAnswered {
        response: response.clone(),
        answered_on,
    }
    .into())
}

fn record_outcome(
    milestone: Milestone,
    outcome: Outcome,
    recorded_on: Date,
    immersion: Existing<'_>,
) -> Result<ImmersionEvent, DomainError> {
    let Existing { state, context, .. } = immersion;
    let Some(ended_on) = state.ended_on.filter(|_| state.stage.has_ended()) else {
        return Err(DomainError::rule(
            Rule::OutcomeTooEarly,
            "milestone",
            "Les suites s'enregistrent une fois l'immersion terminée ou interrompue.",
        ));
    };
    if state.outcomes.contains_key(&milestone) {
        return Err(DomainError::conflict(
            Rule::OutcomeAlreadyRecorded,
            "milestone",
            format!("La suite {} est déjà enregistrée.", milestone.label()),
        ));
    }
    let due = milestone.due(ended_on);
    if recorded_on < due {
        return Err(DomainError::rule(
            Rule::OutcomeTooEarly,
            "recordedOn",
            format!(
                "Le suivi {} se fait à partir du {} (l'immersion s'est terminée le {}).",
                milestone.label(),
                fr::date(due),
                fr::date(ended_on)
            ),
        ));
    }
    not_in_future(recorded_on, context.today, "recordedOn")?;
    Ok(OutcomeRecorded {
        milestone,
        outcome,
        recorded_on,
    }
    .into())
}
