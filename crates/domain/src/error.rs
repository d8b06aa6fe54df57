//! Domain errors: which rule was broken, on which field, and a French message
//! a mediator can act on. They reach the user through the API and the pages,
//! so the message says what to change, not what went wrong inside.

use std::fmt;

/// What kind of refusal this is; the gateway maps it to an error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// A value that cannot be used as given (a SIRET that fails its check,
    /// an unknown ROME code, an empty text).
    InvalidInput,
    /// A rule of the domain or of the law (PMSMP) forbids the command.
    RuleViolated,
    /// The thing already exists or the command was already carried out.
    Conflict,
    /// The command refers to something that does not exist.
    NotFound,
}

/// The rule a command broke. Codes are stable: clients and tests match on
/// them, never on the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rule {
    // Values.
    Required,
    TextTooLong,
    TextControlCharacter,
    DateFormat,
    DateOutOfRange,
    SiretFormat,
    SiretChecksum,
    RomeCodeUnknown,
    NafDivisionUnknown,
    CommuneUnknown,
    EmailFormat,
    PhoneFormat,
    DateRangeOrder,
    WeeklyHoursRange,
    HeadcountRange,
    MobilityRadiusRange,
    BirthDateRange,
    // Lifecycle of any aggregate.
    AlreadyExists,
    UnknownAggregate,
    DateInFuture,
    DateBeforeStart,
    // Employer.
    SiretAlreadyRegistered,
    ContactUnknown,
    // Need.
    NeedClosed,
    NeedNotQualified,
    NeedOfAnotherEmployer,
    VisitOfAnotherEmployer,
    // Person.
    PersonExited,
    PersonErased,
    ProjectNotStated,
    ProjectAlreadyStated,
    ProjectUnchanged,
    ReadjustmentCauseUnknown,
    ExperienceUnknown,
    MentorshipEnded,
    ConsentNotGiven,
    ConsentAlreadyGiven,
    ConsentTextUnknown,
    // Immersion (PMSMP).
    ProposalAlreadyAnswered,
    ProposalDeclined,
    ProposalNotAccepted,
    ConventionNotDrafted,
    ConventionLocked,
    ConventionStage,
    MaxOneMonth,
    MaxWeeklyHours,
    MinimumAge,
    LegalRepresentativeRequired,
    TutorIsPerson,
    ForbiddenUseNotAttested,
    SignatoryNotRequired,
    AlreadySigned,
    SignaturesMissing,
    PrevalidationRequired,
    ValidationAfterStart,
    CancelOnlyBeforeStart,
    StartOutsidePeriod,
    CompletionBeforeEnd,
    /// An interruption after the last planned day: the immersion went to
    /// its end, which is a completion.
    InterruptionAfterEnd,
    NotStarted,
    AlreadyEnded,
    RenewalOnlyOnce,
    RenewalGoalsReached,
    RenewalSameObjective,
    RenewalMaxDuration,
    RenewalMustFollow,
    TwoConventionsPerHostIn12Months,
    SameObjectiveWithHost,
    SixtyDaysWithHost,
    FeedbackTooEarly,
    FeedbackAlreadyRecorded,
    FeedbackNotRecorded,
    FeedbackGivenOtherwise,
    PresenceOutsideImmersion,
    MissedHoursRange,
    PresenceDetailsWithoutPartial,
    ContractWithoutHiring,
    CountersignWithoutAssessment,
    AnswerWithoutFeedback,
    AssessmentAlreadyAnswered,
    OutcomeTooEarly,
    OutcomeAlreadyRecorded,
    AccidentOutsideImmersion,
    AccidentAlreadyDeclared,
    AccidentUnknown,
    // Testimony.
    TestimonyWithdrawn,
    // Corrections.
    NothingToCorrect,
    VisitUnknown,
}

impl Rule {
    /// The stable code of the rule, as the API and the logs show it.
    pub fn code(self) -> &'static str {
        use Rule::*;
        match self {
            Required => "value.required",
            TextTooLong => "value.text_too_long",
            TextControlCharacter => "value.control_character",
            DateFormat => "date.format",
            DateOutOfRange => "date.out_of_range",
            SiretFormat => "siret.format",
            SiretChecksum => "siret.checksum",
            RomeCodeUnknown => "rome.unknown",
            NafDivisionUnknown => "naf.unknown",
            CommuneUnknown => "commune.unknown",
            EmailFormat => "email.format",
            PhoneFormat => "phone.format",
            DateRangeOrder => "date_range.order",
            WeeklyHoursRange => "weekly_hours.range",
            HeadcountRange => "need.headcount_range",
            MobilityRadiusRange => "project.mobility_radius_range",
            BirthDateRange => "person.birth_date_range",
            AlreadyExists => "aggregate.already_exists",
            UnknownAggregate => "aggregate.unknown",
            DateInFuture => "date.in_future",
            DateBeforeStart => "date.before_start",
            SiretAlreadyRegistered => "employer.siret_already_registered",
            ContactUnknown => "employer.contact_unknown",
            NeedClosed => "need.closed",
            NeedNotQualified => "need.not_qualified",
            NeedOfAnotherEmployer => "need.of_another_employer",
            VisitOfAnotherEmployer => "need.visit_of_another_employer",
            PersonExited => "person.exited",
            PersonErased => "person.erased",
            ProjectNotStated => "project.not_stated",
            ProjectAlreadyStated => "project.already_stated",
            ProjectUnchanged => "project.unchanged",
            ReadjustmentCauseUnknown => "project.readjustment_cause_unknown",
            ExperienceUnknown => "person.experience_unknown",
            MentorshipEnded => "person.mentorship_ended",
            ConsentNotGiven => "consent.not_given",
            ConsentAlreadyGiven => "consent.already_given",
            ConsentTextUnknown => "consent.text_unknown",
            ProposalAlreadyAnswered => "immersion.proposal_already_answered",
            ProposalDeclined => "immersion.proposal_declined",
            ProposalNotAccepted => "immersion.proposal_not_accepted",
            ConventionNotDrafted => "pmsmp.convention_not_drafted",
            ConventionLocked => "pmsmp.convention_locked",
            ConventionStage => "pmsmp.convention_stage",
            MaxOneMonth => "pmsmp.max_one_month",
            MaxWeeklyHours => "pmsmp.max_48_hours_a_week",
            MinimumAge => "pmsmp.minimum_age_16",
            LegalRepresentativeRequired => "pmsmp.minor_needs_legal_representative",
            TutorIsPerson => "pmsmp.tutor_is_person",
            ForbiddenUseNotAttested => "pmsmp.forbidden_use_not_attested",
            SignatoryNotRequired => "pmsmp.signatory_not_required",
            AlreadySigned => "pmsmp.already_signed",
            SignaturesMissing => "pmsmp.signatures_missing",
            PrevalidationRequired => "pmsmp.prevalidation_required",
            ValidationAfterStart => "pmsmp.validation_after_start",
            CancelOnlyBeforeStart => "pmsmp.cancel_only_validated_before_start",
            StartOutsidePeriod => "pmsmp.start_outside_period",
            CompletionBeforeEnd => "pmsmp.completion_before_end",
            InterruptionAfterEnd => "pmsmp.interruption_after_end",
            NotStarted => "pmsmp.not_started",
            AlreadyEnded => "pmsmp.already_ended",
            RenewalOnlyOnce => "pmsmp.renewal_only_once",
            RenewalGoalsReached => "pmsmp.renewal_goals_reached",
            RenewalSameObjective => "pmsmp.renewal_same_objective",
            RenewalMaxDuration => "pmsmp.renewal_max_duration",
            RenewalMustFollow => "pmsmp.renewal_must_follow",
            TwoConventionsPerHostIn12Months => "pmsmp.two_conventions_per_host_in_12_months",
            SameObjectiveWithHost => "pmsmp.same_objective_with_host",
            SixtyDaysWithHost => "pmsmp.sixty_days_with_host_in_12_months",
            FeedbackTooEarly => "immersion.feedback_too_early",
            FeedbackAlreadyRecorded => "immersion.feedback_already_recorded",
            FeedbackNotRecorded => "immersion.feedback_not_recorded",
            FeedbackGivenOtherwise => "immersion.feedback_given_otherwise",
            PresenceOutsideImmersion => "immersion.presence_outside_immersion",
            MissedHoursRange => "immersion.missed_hours_range",
            PresenceDetailsWithoutPartial => "immersion.presence_details_without_partial",
            ContractWithoutHiring => "immersion.contract_without_hiring",
            CountersignWithoutAssessment => "immersion.countersign_without_assessment",
            AnswerWithoutFeedback => "immersion.answer_without_feedback",
            AssessmentAlreadyAnswered => "immersion.assessment_already_answered",
            OutcomeTooEarly => "immersion.outcome_too_early",
            OutcomeAlreadyRecorded => "immersion.outcome_already_recorded",
            AccidentOutsideImmersion => "pmsmp.accident_outside_immersion",
            AccidentAlreadyDeclared => "pmsmp.accident_already_declared",
            AccidentUnknown => "pmsmp.accident_unknown",
            TestimonyWithdrawn => "testimony.withdrawn",
            NothingToCorrect => "correction.nothing_changes",
            VisitUnknown => "employer.visit_unknown",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A refused command or value. `message` is French and complete: it is shown
/// as is, next to `field`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct DomainError {
    pub kind: ErrorKind,
    pub rule: Rule,
    /// The input field to fix, as a dotted path in the command
    /// (`convention.period.end`).
    pub field: &'static str,
    pub message: String,
}

impl DomainError {
    pub fn invalid(rule: Rule, field: &'static str, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidInput, rule, field, message)
    }

    pub fn rule(rule: Rule, field: &'static str, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::RuleViolated, rule, field, message)
    }

    pub fn conflict(rule: Rule, field: &'static str, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, rule, field, message)
    }

    pub fn not_found(rule: Rule, field: &'static str, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, rule, field, message)
    }

    fn new(kind: ErrorKind, rule: Rule, field: &'static str, message: impl Into<String>) -> Self {
        Self {
            kind,
            rule,
            field,
            message: message.into(),
        }
    }

    /// The same error reported on the command's own field name (a value
    /// parsed on its own knows itself as `email`; in a convention it is
    /// `convention.tutor.email`).
    #[must_use]
    pub fn at(mut self, field: &'static str) -> Self {
        self.field = field;
        self
    }
}
