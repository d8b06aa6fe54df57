//! What each party says after an immersion, and what came of it: the
//! assessment (bilan) by the host's tutor, the person's own words, the
//! mediator's notes; outcomes at the end and at 1, 3 and 6 months.

use serde::{Deserialize, Serialize};
use time::Date;

use crate::personal::Personal;
use crate::values::{ContractType, Text};

/// Whether the person was there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Attendance {
    Completed,
    /// Partially completed: the last day present and the hours missed.
    Partially {
        last_day_present: Date,
        missed_hours: u16,
    },
    DidNotShow,
}

/// Whether the person was there, without the details of a partial
/// attendance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
pub enum AttendanceKind {
    Completed,
    Partially,
    DidNotShow,
}

impl Attendance {
    pub fn kind(self) -> AttendanceKind {
        match self {
            Attendance::Completed => AttendanceKind::Completed,
            Attendance::Partially { .. } => AttendanceKind::Partially,
            Attendance::DidNotShow => AttendanceKind::DidNotShow,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(
    feature = "graphql",
    derive(async_graphql::Enum),
    graphql(name = "SkillName")
)]
pub enum Skill {
    Punctuality,
    Teamwork,
    Communication,
    Initiative,
    Autonomy,
    SafetyRules,
    /// The tasks of the job itself.
    JobTasks,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(
    feature = "graphql",
    derive(async_graphql::Enum),
    graphql(name = "SkillLevel")
)]
pub enum Level {
    ToImprove,
    Acquired,
    Strong,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkillObserved {
    pub skill: Skill,
    pub level: Level,
    /// The host's words about the person: sealed with their key.
    pub comment: Option<Personal<Text>>,
}

/// Whether the host hires at the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Hiring {
    No,
    Yes { contract: ContractType },
}

/// The host's assessment, by the tutor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostAssessment {
    pub attendance: Attendance,
    pub goals_reached: bool,
    pub skills: Vec<SkillObserved>,
    /// The host's advice to the person: sealed with their key.
    pub advice: Option<Personal<Text>>,
    /// The employer's appraisal of the immersion itself, which may speak of
    /// the person: sealed with their key.
    pub appraisal: Option<Personal<Text>>,
    pub hiring: Hiring,
    /// Given on paper or by phone and entered by the mediator.
    pub received_by_other_means: bool,
}

/// The person's answer to the host's assessment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AssessmentResponse {
    Countersigned,
    Disagreed { comment: Personal<Text> },
}

/// The person's own feedback, in their own words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonFeedback {
    pub words: Personal<Text>,
    /// Their answer to the host's assessment, once there is one.
    pub on_assessment: Option<AssessmentResponse>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediatorFeedback {
    /// The mediator's notes about the person: sealed with their key.
    pub notes: Personal<Text>,
    pub goals_reached: bool,
    pub next_steps: Option<Personal<Text>>,
}

/// One party's feedback: each party gives its own, once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "author", rename_all = "snake_case")]
pub enum Feedback {
    Host(HostAssessment),
    Person(PersonFeedback),
    Mediator(MediatorFeedback),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
pub enum FeedbackAuthor {
    Host,
    Person,
    Mediator,
}

impl Feedback {
    pub fn author(&self) -> FeedbackAuthor {
        match self {
            Feedback::Host(_) => FeedbackAuthor::Host,
            Feedback::Person(_) => FeedbackAuthor::Person,
            Feedback::Mediator(_) => FeedbackAuthor::Mediator,
        }
    }

    /// Whether this feedback says the goals were reached.
    pub fn goals_reached(&self) -> bool {
        match self {
            Feedback::Host(a) => a.goals_reached,
            Feedback::Mediator(m) => m.goals_reached,
            Feedback::Person(_) => false,
        }
    }
}

/// When an outcome is looked at, counted from the immersion's last day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
pub enum Milestone {
    End,
    OneMonth,
    ThreeMonths,
    SixMonths,
}

impl Milestone {
    pub fn months(self) -> u32 {
        match self {
            Milestone::End => 0,
            Milestone::OneMonth => 1,
            Milestone::ThreeMonths => 3,
            Milestone::SixMonths => 6,
        }
    }

    /// The first day its outcome may be recorded, for an immersion ended
    /// on `ended_on`.
    pub fn due(self, ended_on: Date) -> Date {
        crate::values::add_months(ended_on, self.months())
    }

    pub fn label(self) -> &'static str {
        match self {
            Milestone::End => "à la fin de l'immersion",
            Milestone::OneMonth => "à 1 mois",
            Milestone::ThreeMonths => "à 3 mois",
            Milestone::SixMonths => "à 6 mois",
        }
    }
}

/// Where the person stands at a milestone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Outcome {
    Hired { contract: ContractType },
    Training,
    NewImmersion,
    ProjectReadjusted,
    Nothing,
}

/// An outcome without its details (a hire's contract), as the dashboards
/// count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
pub enum OutcomeKind {
    Hired,
    Training,
    NewImmersion,
    ProjectReadjusted,
    Nothing,
}

impl Outcome {
    pub fn kind(self) -> OutcomeKind {
        match self {
            Outcome::Hired { .. } => OutcomeKind::Hired,
            Outcome::Training => OutcomeKind::Training,
            Outcome::NewImmersion => OutcomeKind::NewImmersion,
            Outcome::ProjectReadjusted => OutcomeKind::ProjectReadjusted,
            Outcome::Nothing => OutcomeKind::Nothing,
        }
    }
}
