//! What was recorded about an immersion, read back from its stream: the
//! convention's whole content with its signatures and renewal, each
//! party's feedback, who declined, cancelled or interrupted and why, the
//! structure's justifications, the work accidents. The view keeps where the
//! immersion stands; these are the facts themselves, with who recorded
//! them and when.
//!
//! The stream is read once per immersion and request (`Histories`), and
//! each field answers null to whoever the policy does not let read it
//! ([`policy::may_read`]), as if it had not been recorded.

use std::sync::Arc;

use async_graphql::dataloader::DataLoader;
use async_graphql::{Context, ID, Result, SimpleObject};
use passerelle_app::Recorded;
use passerelle_app::policy::{self, Field};
use passerelle_domain::Personal;
use passerelle_domain::immersion::{
    self as domain, AssessmentResponse, Attendance, AttendanceKind, Hiring, ImmersionEvent,
    Initiator, Level, Milestone, Objective, OutcomeKind, RenewalStatus, Respondent, Signatory,
    SignatureMethod, SignatureMethodKind, SituationKind, Skill,
};
use passerelle_domain::values::{
    AccidentId, ContractType, DateRange, ImmersionId, Text, WeeklyHours,
};
use time::{Date, OffsetDateTime};

use crate::context::actor;
use crate::error;
use crate::loaders::{Histories, HistoryOf};
use crate::primitives::Recording;

type History = Arc<[Recorded<ImmersionEvent>]>;

/// The immersion's facts, when the viewer may read `field` (the caller
/// reaches the immersion); read once per request.
pub(crate) async fn readable(
    ctx: &Context<'_>,
    immersion: uuid::Uuid,
    field: Field,
) -> Result<Option<History>> {
    if !policy::may_read(&actor(ctx)?, field) {
        return Ok(None);
    }
    crate::context::read_stream(ctx, format!("immersion-{immersion}"))?;
    let loader = ctx.data::<DataLoader<Histories>>()?;
    let history = loader
        .load_one(HistoryOf(ImmersionId(immersion)))
        .await
        .map_err(|e| error::internal(&*e))?;
    Ok(Some(history.unwrap_or_else(|| Arc::from([]))))
}

/// A command changed the immersion: what the request reads of it next is
/// read again.
pub(crate) fn forget(ctx: &Context<'_>) {
    if let Ok(loader) = ctx.data::<DataLoader<Histories>>() {
        loader.clear::<HistoryOf>();
    }
}

fn texts(value: &Text) -> String {
    value.as_str().to_owned()
}

/// An erased person's values read as absent.
fn known<'a, T, U>(value: &'a Personal<T>, f: impl FnOnce(&'a T) -> U) -> Option<U> {
    value.known().map(f)
}

/// A text the schema always gives: an erased person's reads as empty.
fn known_text(value: &Personal<Text>) -> String {
    known(value, texts).unwrap_or_default()
}

fn hours(value: WeeklyHours) -> f64 {
    f64::from(value.minutes()) / 60.0
}

/// Who recorded a fact and when.
macro_rules! recorded {
    ($name:ident { $($(#[$doc:meta])* $field:ident: $ty:ty,)* }) => {
        #[derive(SimpleObject, Debug)]
        pub struct $name {
            $($(#[$doc])* pub $field: $ty,)*
            /// Who recorded it, and when.
            pub recorded: Recording,
        }
    };
}

// The convention, as its input gives it (`ConventionInput`).

#[derive(SimpleObject, Debug)]
pub struct ConventionSigner {
    pub name: String,
    pub job_title: Option<String>,
    pub email: Option<String>,
    /// In international form (`+33612345678`).
    pub phone: Option<String>,
}

impl From<&domain::Signer> for ConventionSigner {
    fn from(s: &domain::Signer) -> Self {
        Self {
            name: s.name.as_str().to_owned(),
            job_title: s.job_title.as_ref().map(|j| j.as_str().to_owned()),
            email: s.email.as_ref().map(|e| e.as_str().to_owned()),
            phone: s.phone.as_ref().map(|p| p.international().to_owned()),
        }
    }
}

#[derive(SimpleObject, Debug)]
pub struct ConventionOrganisation {
    pub name: String,
    pub siret: Option<String>,
    pub signatory: ConventionSigner,
}

impl From<&domain::Organisation> for ConventionOrganisation {
    fn from(o: &domain::Organisation) -> Self {
        Self {
            name: o.name.as_str().to_owned(),
            siret: o.siret.as_ref().map(|s| s.as_str().to_owned()),
            signatory: (&o.signatory).into(),
        }
    }
}

#[derive(SimpleObject, Debug)]
pub struct ConventionIdentity {
    pub first_name: String,
    pub last_name: String,
    pub birth_date: Date,
    pub address: String,
    pub email: Option<String>,
    /// In international form (`+33612345678`).
    pub phone: Option<String>,
}

#[derive(SimpleObject, Debug)]
pub struct ConventionSituation {
    pub kind: SituationKind,
    /// With `EMPLOYED`: the current employer, who signs too.
    pub current_employer: Option<ConventionOrganisation>,
    /// With `OTHER` (null too once the person's data is erased).
    pub description: Option<String>,
}

#[derive(SimpleObject, Debug)]
pub struct ConventionPerson {
    /// Null once the person's data is erased.
    pub identity: Option<ConventionIdentity>,
    pub situation: ConventionSituation,
    /// When the person is under 18 on the first day (null too once the
    /// person's data is erased).
    pub legal_representative: Option<ConventionSigner>,
}

#[derive(SimpleObject, Debug)]
pub struct ConventionTutor {
    pub name: String,
    pub job_title: String,
    pub email: Option<String>,
    /// In international form (`+33612345678`).
    pub phone: Option<String>,
}

#[derive(SimpleObject, Debug)]
pub struct ConventionHost {
    pub siret: String,
    pub name: String,
    pub activity: String,
    pub collective_agreement: String,
    pub signatory: ConventionSigner,
    /// Null once the person's data is erased (sealed with their key).
    pub tutor: Option<ConventionTutor>,
}

#[derive(SimpleObject, Debug)]
pub struct ConventionPeriod {
    pub start: Date,
    pub end: Date,
    /// Calendar days, both ends included.
    pub days: i32,
}

impl From<&DateRange> for ConventionPeriod {
    fn from(p: &DateRange) -> Self {
        Self {
            start: p.start(),
            end: p.end(),
            days: i32::try_from(p.days()).unwrap_or(i32::MAX),
        }
    }
}

#[derive(SimpleObject, Debug)]
pub struct ConventionPlace {
    pub address: String,
    /// INSEE code of the commune.
    pub commune: String,
}

recorded!(ConventionSignature {
    signatory: Signatory,
    method: SignatureMethodKind,
    /// When it was recorded as given.
    signed_at: OffsetDateTime,
    /// On paper: the day it was given.
    paper_signed_on: Option<Date>,
});

impl ConventionSignature {
    fn of(e: &domain::ConventionSigned, r: &Recorded<ImmersionEvent>) -> Self {
        Self {
            signatory: e.signatory,
            method: e.method.kind(),
            signed_at: e.signed_at,
            paper_signed_on: match e.method {
                SignatureMethod::Paper { signed_on, .. } => Some(signed_on),
                SignatureMethod::Online => None,
            },
            recorded: r.into(),
        }
    }
}

recorded!(ConventionRenewal {
    period: ConventionPeriod,
    schedule: String,
    /// Hours of presence a week (35, 35.5…).
    weekly_hours: f64,
    objective: Objective,
    goals: String,
    /// Empty once the person's data is erased.
    why_goals_not_reached: String,
    status: RenewalStatus,
    /// The signatures the renewal has collected.
    signatures: Vec<ConventionSignature>,
});

recorded!(Convention {
    prescriber: ConventionOrganisation,
    support_structure: Option<ConventionOrganisation>,
    person: ConventionPerson,
    host: ConventionHost,
    period: ConventionPeriod,
    /// Days and hours of presence, in words.
    schedule: String,
    /// Hours of presence a week (35, 35.5…).
    weekly_hours: f64,
    place: ConventionPlace,
    objective: Objective,
    goals: String,
    /// How the goals will be evaluated.
    evaluation: String,
    tasks: String,
    /// Risks of the post and protective equipment.
    safety: Option<String>,
    /// The host attests the immersion fills no permanent post, no temporary
    /// increase of activity, no seasonal job and replaces no absent
    /// employee.
    forbidden_uses_excluded: bool,
    /// The signatures given to this content (a modification voids those
    /// given before it).
    signatures: Vec<ConventionSignature>,
    /// The renewal, when one was drawn up.
    renewal: Option<ConventionRenewal>,
});

impl Convention {
    fn of(c: &domain::Convention, r: &Recorded<ImmersionEvent>) -> Self {
        let situation = match &c.person.situation {
            domain::Situation::Employed { current_employer } => ConventionSituation {
                kind: SituationKind::Employed,
                current_employer: Some(current_employer.into()),
                description: None,
            },
            domain::Situation::Other { description } => ConventionSituation {
                kind: SituationKind::Other,
                current_employer: None,
                description: known(description, |d| d.as_str().to_owned()),
            },
            other => ConventionSituation {
                kind: other.kind(),
                current_employer: None,
                description: None,
            },
        };
        Self {
            prescriber: (&c.prescriber).into(),
            support_structure: c.support_structure.as_ref().map(Into::into),
            person: ConventionPerson {
                identity: known(&c.person.identity, |i| ConventionIdentity {
                    first_name: i.first_name.as_str().to_owned(),
                    last_name: i.last_name.as_str().to_owned(),
                    birth_date: i.birth_date,
                    address: texts(&i.address),
                    email: i.email.as_ref().map(|e| e.as_str().to_owned()),
                    phone: i.phone.as_ref().map(|p| p.international().to_owned()),
                }),
                situation,
                legal_representative: c
                    .person
                    .legal_representative
                    .as_ref()
                    .and_then(|r| known(r, ConventionSigner::from)),
            },
            host: ConventionHost {
                siret: c.host.siret.as_str().to_owned(),
                name: c.host.name.as_str().to_owned(),
                activity: texts(&c.host.activity),
                collective_agreement: c.host.collective_agreement.as_str().to_owned(),
                signatory: (&c.host.signatory).into(),
                tutor: known(&c.host.tutor, |t| ConventionTutor {
                    name: t.name.as_str().to_owned(),
                    job_title: t.job_title.as_str().to_owned(),
                    email: t.email.as_ref().map(|e| e.as_str().to_owned()),
                    phone: t.phone.as_ref().map(|p| p.international().to_owned()),
                }),
            },
            period: (&c.period).into(),
            schedule: texts(&c.schedule),
            weekly_hours: hours(c.weekly_hours),
            place: ConventionPlace {
                address: texts(&c.place.address),
                commune: c.place.commune.as_str().to_owned(),
            },
            objective: c.objective,
            goals: texts(&c.goals),
            evaluation: texts(&c.evaluation),
            tasks: texts(&c.tasks),
            safety: c.safety.as_ref().map(texts),
            forbidden_uses_excluded: c.forbidden_uses_excluded,
            signatures: Vec::new(),
            renewal: None,
            recorded: r.into(),
        }
    }
}

/// The convention as last drafted or modified, with the signatures given
/// to it since, and its renewal.
pub(crate) fn convention(history: &[Recorded<ImmersionEvent>]) -> Option<Convention> {
    use ImmersionEvent as E;
    let mut current: Option<Convention> = None;
    let mut renewal: Option<ConventionRenewal> = None;
    for r in history {
        match &r.event {
            E::ConventionDrafted(e) => current = Some(Convention::of(&e.convention, r)),
            E::ConventionModified(e) => {
                let signatures = current.take().map(|c| c.signatures).unwrap_or_default();
                let mut modified = Convention::of(&e.convention, r);
                modified.signatures = signatures
                    .into_iter()
                    .filter(|s| !e.signatures_cleared.contains(&s.signatory))
                    .collect();
                current = Some(modified);
            }
            E::ConventionSigned(e) if e.renewal => {
                if let Some(renewal) = &mut renewal {
                    renewal.signatures.push(ConventionSignature::of(e, r));
                }
            }
            E::ConventionSigned(e) => {
                if let Some(current) = &mut current {
                    current.signatures.push(ConventionSignature::of(e, r));
                }
            }
            // A second renewal before validation replaces the first, and
            // its signatures.
            E::ConventionRenewed(e) => {
                let t = &e.terms;
                renewal = Some(ConventionRenewal {
                    period: (&t.period).into(),
                    schedule: texts(&t.schedule),
                    weekly_hours: hours(t.weekly_hours),
                    objective: t.objective,
                    goals: texts(&t.goals),
                    why_goals_not_reached: known_text(&t.why_goals_not_reached),
                    status: RenewalStatus::Pending,
                    signatures: Vec::new(),
                    recorded: r.into(),
                });
            }
            E::ConventionValidated(e) if e.renewal => {
                if let Some(renewal) = &mut renewal {
                    renewal.status = RenewalStatus::Validated;
                }
            }
            _ => {}
        }
    }
    current.map(|c| Convention { renewal, ..c })
}

// Feedback, as its input gives it (`FeedbackRecordInput`).

#[derive(SimpleObject, Debug)]
pub struct AssessedSkill {
    pub skill: Skill,
    pub level: Level,
    pub comment: Option<String>,
}

recorded!(ImmersionAssessment {
    attendance: AttendanceKind,
    /// With `PARTIALLY`: the last day present.
    last_day_present: Option<Date>,
    /// With `PARTIALLY`: the hours missed.
    missed_hours: Option<i32>,
    goals_reached: bool,
    /// The skills grid.
    skills: Vec<AssessedSkill>,
    advice: Option<String>,
    /// The host's appraisal of the immersion itself.
    appraisal: Option<String>,
    /// The contract the host offers, when it hires.
    contract_offered: Option<ContractType>,
    /// Given on paper or by phone and entered by the mediator.
    received_by_other_means: bool,
    /// The day the assessment was given.
    recorded_on: Date,
    /// Its corrections (`feedbackCorrect`), oldest first: the values
    /// above are the last one's.
    corrections: Vec<FeedbackCorrection>,
});

recorded!(ImmersionPersonFeedback {
    /// The person's own words (null once their data is erased).
    words: Option<String>,
    /// True when they countersigned the host's assessment, false when
    /// they contest it; null when they did not answer it.
    countersigns: Option<bool>,
    /// Why they contest the host's assessment.
    disagreement: Option<String>,
    recorded_on: Date,
    /// The day they countersigned or contested the host's assessment: their
    /// feedback's, or a later one when the assessment came in after it;
    /// null when they did not answer it.
    answered_on: Option<Date>,
    /// Who recorded their answer to the assessment, and when (their
    /// feedback's recording, or its correction's, when they answered with
    /// it).
    answer_recorded: Option<Recording>,
    /// Its corrections (`feedbackCorrect`), oldest first: the values
    /// above are the last one's.
    corrections: Vec<FeedbackCorrection>,
});

recorded!(ImmersionMediatorFeedback {
    notes: String,
    goals_reached: bool,
    next_steps: Option<String>,
    recorded_on: Date,
    /// Its corrections (`feedbackCorrect`), oldest first: the values
    /// above are the last one's.
    corrections: Vec<FeedbackCorrection>,
});

/// A correction of a party's feedback: why, and on which day. The
/// feedback reads as the last correction left it; what it said before
/// stays in the log.
#[derive(SimpleObject, Debug)]
pub struct FeedbackCorrection {
    /// Null once the person's data is erased.
    pub reason: Option<String>,
    pub corrected_on: Date,
    pub recorded: Recording,
}

/// The feedback of `author`, as its last correction left it, read by
/// `pick` with the day it was first given, who recorded it and when, and
/// its corrections.
fn feedback<T>(
    history: &[Recorded<ImmersionEvent>],
    author: domain::FeedbackAuthor,
    pick: impl FnOnce(
        &domain::Feedback,
        Date,
        &Recorded<ImmersionEvent>,
        Vec<FeedbackCorrection>,
    ) -> Option<T>,
) -> Option<T> {
    let mut found: Option<(&domain::Feedback, Date, &Recorded<ImmersionEvent>)> = None;
    let mut corrections = Vec::new();
    for r in history {
        match &r.event {
            ImmersionEvent::FeedbackRecorded(e) if e.feedback.author() == author => {
                found.get_or_insert((&e.feedback, e.recorded_on, r));
            }
            ImmersionEvent::FeedbackCorrected(e) if e.feedback.author() == author => {
                if let Some((feedback, ..)) = &mut found {
                    *feedback = &e.feedback;
                    corrections.push(FeedbackCorrection {
                        reason: known(&e.reason, texts),
                        corrected_on: e.corrected_on,
                        recorded: r.into(),
                    });
                }
            }
            _ => {}
        }
    }
    let (feedback, recorded_on, r) = found?;
    pick(feedback, recorded_on, r, corrections)
}

pub(crate) fn assessment(history: &[Recorded<ImmersionEvent>]) -> Option<ImmersionAssessment> {
    feedback(
        history,
        domain::FeedbackAuthor::Host,
        |f, recorded_on, r, corrections| {
            let domain::Feedback::Host(a) = f else {
                return None;
            };
            let (last_day_present, missed_hours) = match a.attendance {
                Attendance::Partially {
                    last_day_present,
                    missed_hours,
                } => (Some(last_day_present), Some(i32::from(missed_hours))),
                Attendance::Completed | Attendance::DidNotShow => (None, None),
            };
            Some(ImmersionAssessment {
                attendance: a.attendance.kind(),
                last_day_present,
                missed_hours,
                goals_reached: a.goals_reached,
                skills: a
                    .skills
                    .iter()
                    .map(|s| AssessedSkill {
                        skill: s.skill,
                        level: s.level,
                        comment: s.comment.as_ref().and_then(|c| known(c, texts)),
                    })
                    .collect(),
                advice: a.advice.as_ref().and_then(|t| known(t, texts)),
                appraisal: a.appraisal.as_ref().and_then(|t| known(t, texts)),
                contract_offered: match a.hiring {
                    Hiring::Yes { contract } => Some(contract),
                    Hiring::No => None,
                },
                received_by_other_means: a.received_by_other_means,
                recorded_on,
                corrections,
                recorded: r.into(),
            })
        },
    )
}

/// The person's answer to the host's assessment as it stands, with its day
/// and the fact that gave it: with her feedback (recorded or corrected),
/// or on its own once the assessment came in after it. A correction of the
/// assessment clears it, as the domain does; a correction of her feedback
/// that keeps her answer keeps its day.
type Answer<'a> = (&'a AssessmentResponse, Date, &'a Recorded<ImmersionEvent>);

fn answer(history: &[Recorded<ImmersionEvent>]) -> Option<Answer<'_>> {
    let mut answer: Option<Answer<'_>> = None;
    for r in history {
        match &r.event {
            ImmersionEvent::FeedbackRecorded(e) => {
                if let domain::Feedback::Person(p) = &e.feedback {
                    answer = p.on_assessment.as_ref().map(|a| (a, e.recorded_on, r));
                }
            }
            ImmersionEvent::FeedbackCorrected(e) => match &e.feedback {
                domain::Feedback::Host(_) => answer = None,
                domain::Feedback::Person(p) => {
                    answer = match (&p.on_assessment, answer) {
                        (Some(new), Some(kept)) if kept.0 == new => Some(kept),
                        (new, _) => new.as_ref().map(|a| (a, e.corrected_on, r)),
                    };
                }
                domain::Feedback::Mediator(_) => {}
            },
            ImmersionEvent::AssessmentAnswered(e) => answer = Some((&e.response, e.answered_on, r)),
            _ => {}
        }
    }
    answer
}

pub(crate) fn person_feedback(
    history: &[Recorded<ImmersionEvent>],
) -> Option<ImmersionPersonFeedback> {
    feedback(
        history,
        domain::FeedbackAuthor::Person,
        |f, recorded_on, r, corrections| {
            let domain::Feedback::Person(p) = f else {
                return None;
            };
            let answer = answer(history);
            let (countersigns, disagreement) = match answer.map(|(response, ..)| response) {
                Some(AssessmentResponse::Countersigned) => (Some(true), None),
                Some(AssessmentResponse::Disagreed { comment }) => {
                    (Some(false), known(comment, texts))
                }
                None => (None, None),
            };
            Some(ImmersionPersonFeedback {
                words: known(&p.words, texts),
                countersigns,
                disagreement,
                recorded_on,
                answered_on: answer.map(|(_, on, _)| on),
                answer_recorded: answer.map(|(.., a)| a.into()),
                corrections,
                recorded: r.into(),
            })
        },
    )
}

pub(crate) fn mediator_feedback(
    history: &[Recorded<ImmersionEvent>],
) -> Option<ImmersionMediatorFeedback> {
    feedback(
        history,
        domain::FeedbackAuthor::Mediator,
        |f, recorded_on, r, corrections| {
            let domain::Feedback::Mediator(m) = f else {
                return None;
            };
            Some(ImmersionMediatorFeedback {
                notes: known_text(&m.notes),
                goals_reached: m.goals_reached,
                next_steps: m.next_steps.as_ref().and_then(|t| known(t, texts)),
                recorded_on,
                corrections,
                recorded: r.into(),
            })
        },
    )
}

// Outcomes, as their input gives them (`OutcomeRecordInput`).

recorded!(ImmersionOutcomeRecord {
    /// When: at its end, or 1, 3 or 6 months after.
    milestone: Milestone,
    outcome: OutcomeKind,
    /// The contract signed, with `HIRED`.
    contract: Option<ContractType>,
    recorded_on: Date,
});

/// Every outcome recorded, in the order recorded.
pub(crate) fn outcomes(
    history: &[Recorded<ImmersionEvent>],
) -> Option<Vec<ImmersionOutcomeRecord>> {
    Some(
        history
            .iter()
            .filter_map(|r| match &r.event {
                ImmersionEvent::OutcomeRecorded(e) => Some(ImmersionOutcomeRecord {
                    milestone: e.milestone,
                    outcome: e.outcome.kind(),
                    contract: match e.outcome {
                        domain::Outcome::Hired { contract } => Some(contract),
                        _ => None,
                    },
                    recorded_on: e.recorded_on,
                    recorded: r.into(),
                }),
                _ => None,
            })
            .collect(),
    )
}

// How an immersion ended early, and why.

recorded!(ImmersionDecline {
    /// Who declined the proposal.
    by: Respondent,
    reason: String,
    answered_on: Date,
});

recorded!(ImmersionCancellation {
    /// Who took the initiative.
    by: Initiator,
    reason: String,
    cancelled_on: Date,
});

recorded!(ImmersionInterruption {
    /// Who took the initiative.
    by: Initiator,
    reason: String,
    /// The day it stopped, as last corrected (`Immersion.endCorrections`).
    interrupted_on: Date,
});

recorded!(ConventionJustification {
    justification: String,
});

recorded!(ImmersionStartCorrection {
    /// The first day as recorded before.
    previous: Date,
    /// The first day since.
    started_on: Date,
    /// Null once the person's data is erased.
    reason: Option<String>,
    corrected_on: Date,
});

recorded!(ImmersionEndCorrection {
    /// The last day as recorded before.
    previous: Date,
    /// The last day since.
    ended_on: Date,
    /// Null once the person's data is erased.
    reason: Option<String>,
    corrected_on: Date,
});

/// The one fact `pick` finds (each is recorded once: a final stage, or an
/// end).
fn fact<T>(
    history: &[Recorded<ImmersionEvent>],
    pick: impl Fn(&ImmersionEvent, &Recorded<ImmersionEvent>) -> Option<T>,
) -> Option<T> {
    history.iter().find_map(|r| pick(&r.event, r))
}

pub(crate) fn proposal_message(history: &[Recorded<ImmersionEvent>]) -> Option<String> {
    fact(history, |event, _| match event {
        ImmersionEvent::ImmersionProposed(e) => {
            Some(e.message.as_ref()?.known()?.as_str().to_owned())
        }
        _ => None,
    })
}

pub(crate) fn decline(history: &[Recorded<ImmersionEvent>]) -> Option<ImmersionDecline> {
    fact(history, |event, r| match event {
        ImmersionEvent::ProposalDeclined(e) => Some(ImmersionDecline {
            by: e.by,
            reason: known_text(&e.reason),
            answered_on: e.answered_on,
            recorded: r.into(),
        }),
        _ => None,
    })
}

pub(crate) fn cancellation(history: &[Recorded<ImmersionEvent>]) -> Option<ImmersionCancellation> {
    fact(history, |event, r| match event {
        ImmersionEvent::ConventionCancelled(e) => Some(ImmersionCancellation {
            by: e.by,
            reason: known_text(&e.reason),
            cancelled_on: e.cancelled_on,
            recorded: r.into(),
        }),
        _ => None,
    })
}

/// The interruption, on its day as last corrected (`end_corrections`).
pub(crate) fn interruption(history: &[Recorded<ImmersionEvent>]) -> Option<ImmersionInterruption> {
    let mut interruption = fact(history, |event, r| match event {
        ImmersionEvent::ImmersionInterrupted(e) => Some(ImmersionInterruption {
            by: e.by,
            reason: known_text(&e.reason),
            interrupted_on: e.interrupted_on,
            recorded: r.into(),
        }),
        _ => None,
    })?;
    if let Some(last) = end_corrections(history).into_iter().flatten().last() {
        interruption.interrupted_on = last.ended_on;
    }
    Some(interruption)
}

/// A day recorded once and corrected since: each correction, oldest first,
/// with the day it replaced, made by `make` from (the day before, the day
/// since, why, when corrected, the fact).
fn day_corrections<T>(
    history: &[Recorded<ImmersionEvent>],
    recorded: impl Fn(&ImmersionEvent) -> Option<Date>,
    corrected: impl Fn(&ImmersionEvent) -> Option<(Date, &Personal<Text>, Date)>,
    make: impl Fn(Date, Date, Option<String>, Date, &Recorded<ImmersionEvent>) -> T,
) -> Vec<T> {
    let mut day = None;
    let mut corrections = Vec::new();
    for r in history {
        if let Some(first) = recorded(&r.event) {
            day = Some(first);
        } else if let Some((since, reason, corrected_on)) = corrected(&r.event)
            && let Some(previous) = day.replace(since)
        {
            corrections.push(make(previous, since, known(reason, texts), corrected_on, r));
        }
    }
    corrections
}

/// The corrections of the first day, oldest first, each with the day it
/// replaced.
pub(crate) fn start_corrections(
    history: &[Recorded<ImmersionEvent>],
) -> Option<Vec<ImmersionStartCorrection>> {
    Some(day_corrections(
        history,
        |event| match event {
            ImmersionEvent::ImmersionStarted(e) => Some(e.started_on),
            _ => None,
        },
        |event| match event {
            ImmersionEvent::StartCorrected(e) => Some((e.started_on, &e.reason, e.corrected_on)),
            _ => None,
        },
        |previous, started_on, reason, corrected_on, r| ImmersionStartCorrection {
            previous,
            started_on,
            reason,
            corrected_on,
            recorded: r.into(),
        },
    ))
}

/// The corrections of the last day, completed or interrupted, oldest
/// first, each with the day it replaced.
pub(crate) fn end_corrections(
    history: &[Recorded<ImmersionEvent>],
) -> Option<Vec<ImmersionEndCorrection>> {
    Some(day_corrections(
        history,
        |event| match event {
            ImmersionEvent::ImmersionCompleted(e) => Some(e.completed_on),
            ImmersionEvent::ImmersionInterrupted(e) => Some(e.interrupted_on),
            _ => None,
        },
        |event| match event {
            ImmersionEvent::EndCorrected(e) => Some((e.ended_on, &e.reason, e.corrected_on)),
            _ => None,
        },
        |previous, ended_on, reason, corrected_on, r| ImmersionEndCorrection {
            previous,
            ended_on,
            reason,
            corrected_on,
            recorded: r.into(),
        },
    ))
}

pub(crate) fn rejection(history: &[Recorded<ImmersionEvent>]) -> Option<ConventionJustification> {
    fact(history, |event, r| match event {
        ImmersionEvent::ConventionRejected(e) => Some(ConventionJustification {
            justification: known_text(&e.justification),
            recorded: r.into(),
        }),
        _ => None,
    })
}

pub(crate) fn deprecation(history: &[Recorded<ImmersionEvent>]) -> Option<ConventionJustification> {
    fact(history, |event, r| match event {
        ImmersionEvent::ConventionDeprecated(e) => Some(ConventionJustification {
            justification: known_text(&e.justification),
            recorded: r.into(),
        }),
        _ => None,
    })
}

recorded!(ConventionApproval {
    /// Whether it approved the convention's renewal rather than the
    /// convention itself.
    renewal: bool,
});

/// The convention's prevalidations (`validated` false) or validations, the
/// renewal's included, oldest first: who gave them and when.
pub(crate) fn approvals(
    history: &[Recorded<ImmersionEvent>],
    validated: bool,
) -> Vec<ConventionApproval> {
    history
        .iter()
        .filter_map(|r| {
            let renewal = match (&r.event, validated) {
                (ImmersionEvent::ConventionPrevalidated(e), false) => e.renewal,
                (ImmersionEvent::ConventionValidated(e), true) => e.renewal,
                _ => return None,
            };
            Some(ConventionApproval {
                renewal,
                recorded: r.into(),
            })
        })
        .collect()
}

recorded!(ImmersionAccident {
    id: ID,
    occurred_at: OffsetDateTime,
    /// When the host told the structure.
    structure_informed_at: OffsetDateTime,
    /// What happened, as reported (null once the person's data is erased).
    description: Option<String>,
    /// Whether the host told the structure within 24 hours.
    informed_in_time: bool,
    /// When the declaration must be filed: 48 hours after the accident.
    declaration_due_at: OffsetDateTime,
    /// When the declaration was filed, once it is.
    declaration_filed_at: Option<OffsetDateTime>,
    /// Whether it was filed within 48 hours, once it is.
    declaration_filed_in_time: Option<bool>,
});

/// The accidents reported, oldest first, with their declarations.
pub(crate) fn accidents(history: &[Recorded<ImmersionEvent>]) -> Vec<ImmersionAccident> {
    let mut out: Vec<(AccidentId, ImmersionAccident)> = Vec::new();
    for r in history {
        match &r.event {
            ImmersionEvent::AccidentReported(e) => out.push((
                e.accident_id,
                ImmersionAccident {
                    id: ID(e.accident_id.to_string()),
                    occurred_at: e.occurred_at,
                    structure_informed_at: e.structure_informed_at,
                    description: known(&e.description, texts),
                    informed_in_time: e.informed_in_time,
                    declaration_due_at: e.declaration_due_at,
                    declaration_filed_at: None,
                    declaration_filed_in_time: None,
                    recorded: r.into(),
                },
            )),
            ImmersionEvent::AccidentDeclarationFiled(e) => {
                if let Some((_, accident)) = out.iter_mut().find(|(id, _)| *id == e.accident_id) {
                    accident.declaration_filed_at = Some(e.filed_at);
                    accident.declaration_filed_in_time = Some(e.filed_in_time);
                }
            }
            _ => {}
        }
    }
    out.into_iter().map(|(_, accident)| accident).collect()
}
