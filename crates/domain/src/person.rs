//! The person accompanied: enrolled in a structure with a referent mediator,
//! they state their situation in their own words, then a project that their
//! experiences readjust (immersions, job inquiries, peer meetings, mentors),
//! each readjustment naming the experience that caused it.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use time::Date;

use crate::checks::{already_exists, not_before, not_found, not_in_future, rome_codes};
use crate::decider::{Decider, events};
use crate::error::{DomainError, Rule};
use crate::personal::Personal;
use crate::values::{
    AgeBand, CommuneCode, ContractType, Email, ImmersionId, InquiryId, Label, MeetingId,
    MentorshipId, PersonId, PhoneNumber, RomeCode, StructureId, TestimonyId, Text, UserId,
};

/// Who the person is. Personal as a whole: erased together.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub first_name: Label,
    pub last_name: Label,
    pub birth_date: Date,
    pub email: Option<Email>,
    pub phone: Option<PhoneNumber>,
    /// Postal address, as written on letters.
    pub address: Option<Text>,
}

/// What a correction of the identity changes: only the fields given, each
/// replacing the value recorded (the enrolment keeps the old one in the
/// log).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityChanges {
    pub first_name: Option<Label>,
    pub last_name: Option<Label>,
    pub birth_date: Option<Date>,
    pub email: Option<Email>,
    pub phone: Option<PhoneNumber>,
    /// Left out of the sealed JSON when not corrected, so that corrections
    /// of the other fields keep the shape they were stored with before the
    /// address could be corrected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Text>,
}

/// A field of the identity a correction changed, named in clear so the
/// record says which without the values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
pub enum IdentityField {
    FirstName,
    LastName,
    BirthDate,
    Email,
    Phone,
    Address,
}

impl IdentityChanges {
    /// The fields given, in the identity's order.
    pub fn fields(&self) -> Vec<IdentityField> {
        [
            (self.first_name.is_some(), IdentityField::FirstName),
            (self.last_name.is_some(), IdentityField::LastName),
            (self.birth_date.is_some(), IdentityField::BirthDate),
            (self.email.is_some(), IdentityField::Email),
            (self.phone.is_some(), IdentityField::Phone),
            (self.address.is_some(), IdentityField::Address),
        ]
        .into_iter()
        .filter_map(|(given, field)| given.then_some(field))
        .collect()
    }

    /// Only the changes that differ from `current`.
    fn against(&self, current: &Identity) -> IdentityChanges {
        fn changed<T: PartialEq + Clone>(new: &Option<T>, old: Option<&T>) -> Option<T> {
            new.as_ref().filter(|n| Some(*n) != old).cloned()
        }
        IdentityChanges {
            first_name: changed(&self.first_name, Some(&current.first_name)),
            last_name: changed(&self.last_name, Some(&current.last_name)),
            birth_date: changed(&self.birth_date, Some(&current.birth_date)),
            email: changed(&self.email, current.email.as_ref()),
            phone: changed(&self.phone, current.phone.as_ref()),
            address: changed(&self.address, current.address.as_ref()),
        }
    }

    /// `identity` with these changes applied.
    pub fn applied_to(&self, identity: &Identity) -> Identity {
        Identity {
            first_name: self
                .first_name
                .clone()
                .unwrap_or_else(|| identity.first_name.clone()),
            last_name: self
                .last_name
                .clone()
                .unwrap_or_else(|| identity.last_name.clone()),
            birth_date: self.birth_date.unwrap_or(identity.birth_date),
            email: self.email.clone().or_else(|| identity.email.clone()),
            phone: self.phone.clone().or_else(|| identity.phone.clone()),
            address: self.address.clone().or_else(|| identity.address.clone()),
        }
    }
}

/// The legal ground for processing the person's data (RGPD art. 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LegalBasis {
    /// Art. 6-1 e: the structure's public-interest mission.
    PublicInterestMission,
    /// Art. 6-1 b: a support contract the person signed.
    Contract,
}

/// What a person's project aims at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Project {
    /// Target jobs, most wanted first.
    pub target_rome_codes: Vec<RomeCode>,
    pub contract_wishes: Vec<ContractType>,
    /// How far the person can travel to work, in kilometres.
    pub mobility_radius_km: u16,
    /// Hours, childcare, transport… in the person's words: read by every
    /// staff member of the structure, so no health data (a disability
    /// recognition has its own fact, read by fewer).
    pub constraints: Option<Personal<Text>>,
}

/// The experience a readjustment comes from: causation is the point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ReadjustmentCause {
    ImmersionFeedback { immersion_id: ImmersionId },
    JobInquiry { inquiry_id: InquiryId },
    PeerMeeting { meeting_id: MeetingId },
    Mentorship { mentorship_id: MentorshipId },
}

/// The kind of experience a readjustment comes from, without which one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
pub enum CauseKind {
    ImmersionFeedback,
    JobInquiry,
    PeerMeeting,
    Mentorship,
}

impl ReadjustmentCause {
    pub fn kind(self) -> CauseKind {
        match self {
            ReadjustmentCause::ImmersionFeedback { .. } => CauseKind::ImmersionFeedback,
            ReadjustmentCause::JobInquiry { .. } => CauseKind::JobInquiry,
            ReadjustmentCause::PeerMeeting { .. } => CauseKind::PeerMeeting,
            ReadjustmentCause::Mentorship { .. } => CauseKind::Mentorship,
        }
    }
}

/// What a consent is given for (RGPD art. 7): each is given and withdrawn
/// on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
pub enum ConsentPurpose {
    /// Sharing their own path as a testimony (parcours vécu).
    Testimony,
    /// Being put in touch with a mentor.
    Mentoring,
    /// Meeting people who are accompanied now, as a peer.
    PeerContact,
    /// Recording a disability recognition (RQTH): health data.
    DisabilityRecognition,
}

/// How a consent was obtained, without who noted it: what the API and the
/// pages say of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
pub enum ConsentProofKind {
    SignedForm,
    Online,
    Oral,
}

impl ConsentProof {
    pub fn kind(self) -> ConsentProofKind {
        match self {
            ConsentProof::SignedForm => ConsentProofKind::SignedForm,
            ConsentProof::Online => ConsentProofKind::Online,
            ConsentProof::Oral { .. } => ConsentProofKind::Oral,
        }
    }
}

/// How the consent was obtained: the proof kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ConsentProof {
    SignedForm,
    Online,
    /// Given orally, recorded by the mediator present.
    Oral {
        recorded_by: UserId,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ExitReason {
    Employment {
        contract: ContractType,
    },
    Training,
    Moved,
    NoLongerInTouch,
    EndOfSupport,
    /// The explanation may name the person or what they live through:
    /// sealed with their key, so erased with them.
    Other {
        explanation: Personal<Text>,
    },
}

/// Why a person left the accompaniment, without the contract or the
/// explanation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
pub enum ExitReasonKind {
    Employment,
    Training,
    Moved,
    NoLongerInTouch,
    EndOfSupport,
    Other,
}

impl ExitReason {
    pub fn kind(&self) -> ExitReasonKind {
        match self {
            ExitReason::Employment { .. } => ExitReasonKind::Employment,
            ExitReason::Training => ExitReasonKind::Training,
            ExitReason::Moved => ExitReasonKind::Moved,
            ExitReason::NoLongerInTouch => ExitReasonKind::NoLongerInTouch,
            ExitReason::EndOfSupport => ExitReasonKind::EndOfSupport,
            ExitReason::Other { .. } => ExitReasonKind::Other,
        }
    }
}

/// Where a person stands in their accompaniment, as the people list sorts
/// them out: each person is at exactly one stage, the first that holds in
/// this order (a person who left is `Hired` or `Exited` whatever came
/// before).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
pub enum PersonStage {
    /// Left the accompaniment for a job.
    Hired,
    /// Left the accompaniment for any other reason.
    Exited,
    /// Accompanied, with an immersion started and not ended.
    ImmersionInProgress,
    /// Accompanied, no project stated yet.
    NoProjectYet,
    /// Accompanied, with a project, no immersion under way.
    ProjectStated,
}

/// Why a person's data is erased: kept in clear with the erasure, so the
/// register of erasures says why without saying about whom.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
pub enum ErasureReason {
    /// The person asked for it (RGPD art. 17).
    PersonRequest,
    /// Their data reached the end of its retention period.
    EndOfRetention,
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PersonCommand {
    Enroll {
        person_id: PersonId,
        structure: StructureId,
        referent: UserId,
        identity: Identity,
        /// Where the person lives, for territory figures.
        commune: Option<CommuneCode>,
        legal_basis: LegalBasis,
        enrolled_on: Date,
    },
    ChangeReferent {
        referent: UserId,
    },
    StateSituation {
        words: Text,
        stated_on: Date,
    },
    StateProject {
        project: Project,
        stated_on: Date,
    },
    ReadjustProject {
        project: Project,
        cause: ReadjustmentCause,
        what_changed: Text,
        readjusted_on: Date,
    },
    LogJobInquiry {
        inquiry_id: InquiryId,
        held_on: Date,
        rome_code: RomeCode,
        /// Where, or with whom (a company, a trade fair…).
        with_whom: Label,
        learned: Option<Text>,
    },
    LogPeerMeeting {
        meeting_id: MeetingId,
        held_on: Date,
        /// The testimony the meeting came from, if any.
        testimony_id: Option<TestimonyId>,
        /// Who the peer is, without naming them ("ancienne apprentie en
        /// boulangerie").
        peer: Label,
        rome_codes: Vec<RomeCode>,
        takeaways: Option<Text>,
    },
    StartMentorship {
        mentorship_id: MentorshipId,
        mentor: Label,
        mentor_job: Option<RomeCode>,
        started_on: Date,
    },
    EndMentorship {
        mentorship_id: MentorshipId,
        ended_on: Date,
        reason: Option<Text>,
    },
    GiveConsent {
        purpose: ConsentPurpose,
        /// The version of the text the person agreed to.
        text_version: Label,
        proof: ConsentProof,
        given_on: Date,
    },
    WithdrawConsent {
        purpose: ConsentPurpose,
        withdrawn_on: Date,
    },
    RecordDisabilityRecognition {
        recognised: bool,
        recorded_on: Date,
    },
    Exit {
        reason: ExitReason,
        exited_on: Date,
    },
    /// Corrects a mistake in who the person is (a misspelt name, a wrong
    /// birth date or contact): recorded as a fact with its reason, the
    /// enrolment kept as it was.
    CorrectIdentity {
        changes: IdentityChanges,
        /// Why: bounded text, may name the person, so sealed.
        reason: Text,
        corrected_on: Date,
    },
    /// Erases the person's data: recorded first, then the caller destroys
    /// their key, which blanks every personal value ever sealed with it.
    Erase {
        by: UserId,
        reason: ErasureReason,
        /// May name the person: sealed with their key, so erased with them.
        explanation: Option<Text>,
        erased_on: Date,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonEnrolled {
    pub person_id: PersonId,
    pub structure: StructureId,
    pub referent: UserId,
    pub identity: Personal<Identity>,
    /// The age band at enrolment, kept in clear so figures by public survive
    /// the erasure of the birth date.
    pub age_band: AgeBand,
    pub commune: Option<CommuneCode>,
    pub legal_basis: LegalBasis,
    pub enrolled_on: Date,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferentChanged {
    pub referent: UserId,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SituationStated {
    /// In the person's own words.
    pub words: Personal<Text>,
    pub stated_on: Date,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectStated {
    /// 1 for the first statement; each readjustment adds one.
    pub version: u32,
    pub project: Project,
    pub stated_on: Date,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectReadjusted {
    pub version: u32,
    pub project: Project,
    pub cause: ReadjustmentCause,
    /// What the experience changed, in the mediator's or the person's words:
    /// may name them, so sealed with their key (in clear in version 1).
    pub what_changed: Personal<Text>,
    pub readjusted_on: Date,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobInquiryHeld {
    pub inquiry_id: InquiryId,
    pub held_on: Date,
    pub rome_code: RomeCode,
    pub with_whom: Label,
    pub learned: Option<Personal<Text>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerMeetingHeld {
    pub meeting_id: MeetingId,
    pub held_on: Date,
    pub testimony_id: Option<TestimonyId>,
    pub peer: Label,
    pub rome_codes: Vec<RomeCode>,
    pub takeaways: Option<Personal<Text>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MentorshipStarted {
    pub mentorship_id: MentorshipId,
    /// The mentor's name reveals who the person is seeing: personal.
    pub mentor: Personal<Label>,
    pub mentor_job: Option<RomeCode>,
    pub started_on: Date,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MentorshipEnded {
    pub mentorship_id: MentorshipId,
    pub ended_on: Date,
    pub reason: Option<Personal<Text>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentGiven {
    pub purpose: ConsentPurpose,
    pub text_version: Label,
    pub proof: ConsentProof,
    pub given_on: Date,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentWithdrawn {
    pub purpose: ConsentPurpose,
    pub withdrawn_on: Date,
}

/// Health data: recorded only with the person's consent for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisabilityRecognitionRecorded {
    pub recognised: Personal<bool>,
    pub recorded_on: Date,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonExited {
    pub reason: ExitReason,
    pub exited_on: Date,
}

/// A mistake in the person's identity corrected. The values and the reason
/// are sealed with the person's key; which fields changed, and the age band
/// at enrolment a corrected birth date gives, stay in clear (the figures by
/// public survive the erasure, as with the enrolment).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityCorrected {
    pub fields: Vec<IdentityField>,
    pub changes: Personal<IdentityChanges>,
    pub age_band: Option<AgeBand>,
    pub reason: Personal<Text>,
    pub corrected_on: Date,
}

/// The person's data was erased. Who, when and why (its kind) stay in
/// clear; the explanation is sealed with the person's key, which is
/// destroyed right after, so it is gone with the rest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonErased {
    pub by: UserId,
    pub reason: ErasureReason,
    pub explanation: Option<Personal<Text>>,
    pub erased_on: Date,
}

events! {
    /// What happened on a person's path.
    pub enum PersonEvent {
        PersonEnrolled = ("person_enrolled", 1),
        ReferentChanged = ("person_referent_changed", 1),
        SituationStated = ("situation_stated", 1),
        ProjectStated = ("project_stated", 1),
        ProjectReadjusted = ("project_readjusted", 2),
        JobInquiryHeld = ("job_inquiry_held", 1),
        PeerMeetingHeld = ("peer_meeting_held", 1),
        MentorshipStarted = ("mentorship_started", 1),
        MentorshipEnded = ("mentorship_ended", 1),
        ConsentGiven = ("consent_given", 1),
        ConsentWithdrawn = ("consent_withdrawn", 1),
        DisabilityRecognitionRecorded = ("disability_recognition_recorded", 1),
        PersonExited = ("person_exited", 2),
        PersonErased = ("person_erased", 1),
        IdentityCorrected = ("person_identity_corrected", 1),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrolment {
    pub person_id: PersonId,
    pub structure: StructureId,
    pub referent: UserId,
    pub enrolled_on: Date,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PersonState {
    pub enrolment: Option<Enrolment>,
    /// Who the person is now, corrections applied: what a correction is
    /// compared with. Personal, so kept only while the state is.
    pub identity: Option<Identity>,
    pub project: Option<Project>,
    pub project_version: u32,
    pub inquiries: BTreeSet<InquiryId>,
    pub meetings: BTreeSet<MeetingId>,
    /// Each mentorship's start, and its end once ended.
    pub mentorships: BTreeMap<MentorshipId, (Date, Option<Date>)>,
    pub consents: BTreeSet<ConsentPurpose>,
    pub exited_on: Option<Date>,
    /// Once erased, nothing more is recorded about the person.
    pub erased_on: Option<Date>,
}

impl PersonState {
    pub fn has_consented(&self, purpose: ConsentPurpose) -> bool {
        self.consents.contains(&purpose)
    }

    fn knows(&self, cause: &ReadjustmentCause, context: &PersonContext) -> bool {
        match cause {
            ReadjustmentCause::ImmersionFeedback { immersion_id } => {
                context.immersions_with_feedback.contains(immersion_id)
            }
            ReadjustmentCause::JobInquiry { inquiry_id } => self.inquiries.contains(inquiry_id),
            ReadjustmentCause::PeerMeeting { meeting_id } => self.meetings.contains(meeting_id),
            ReadjustmentCause::Mentorship { mentorship_id } => {
                self.mentorships.contains_key(mentorship_id)
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonContext {
    pub today: Date,
    /// The person's immersions that have at least one feedback recorded
    /// (from the immersions view): the ones a readjustment may name.
    pub immersions_with_feedback: Vec<ImmersionId>,
}

#[derive(Debug, Clone, Copy)]
pub struct Person;

/// Beyond this, a radius stops meaning anything for a job search.
const MAX_MOBILITY_RADIUS_KM: u16 = 300;

fn checked_project(project: &Project) -> Result<Project, DomainError> {
    if project.mobility_radius_km > MAX_MOBILITY_RADIUS_KM {
        return Err(DomainError::invalid(
            Rule::MobilityRadiusRange,
            "project.mobilityRadiusKm",
            format!("Indiquez une distance de 0 à {MAX_MOBILITY_RADIUS_KM} km autour du domicile."),
        ));
    }
    let mut contract_wishes = project.contract_wishes.clone();
    contract_wishes.sort();
    contract_wishes.dedup();
    Ok(Project {
        target_rome_codes: rome_codes(&project.target_rome_codes, "project.targetRomeCodes")?,
        contract_wishes,
        ..project.clone()
    })
}

fn consent_missing(purpose: ConsentPurpose, field: &'static str) -> DomainError {
    let what = match purpose {
        ConsentPurpose::Testimony => "au partage de son témoignage",
        ConsentPurpose::Mentoring => "à la mise en relation avec un parrain ou une marraine",
        ConsentPurpose::PeerContact => "aux rencontres avec des pairs",
        ConsentPurpose::DisabilityRecognition => {
            "à l'enregistrement de sa reconnaissance de handicap (RQTH)"
        }
    };
    DomainError::rule(
        Rule::ConsentNotGiven,
        field,
        format!("La personne n'a pas consenti {what} : recueillez d'abord son consentement."),
    )
}

/// What every command but the enrolment acts on: a person enrolled, with
/// the context their rules read.
#[derive(Clone, Copy)]
struct Enrolled<'a> {
    enrolled_on: Date,
    state: &'a PersonState,
    context: &'a PersonContext,
}

impl<'a> Enrolled<'a> {
    fn new(state: &'a PersonState, context: &'a PersonContext) -> Result<Self, DomainError> {
        let Some(enrolment) = &state.enrolment else {
            return Err(not_found("personId", "Cette personne n'est pas inscrite."));
        };
        if let Some(erased_on) = state.erased_on {
            return Err(DomainError::rule(
                Rule::PersonErased,
                "personId",
                format!(
                    "Les données de cette personne ont été effacées le {} : plus rien ne peut être enregistré à son sujet.",
                    crate::fr::dates::date(erased_on)
                ),
            ));
        }
        Ok(Self {
            enrolled_on: enrolment.enrolled_on,
            state,
            context,
        })
    }

    /// The person has not exited: after the exit, the path stops growing.
    fn accompanied(self) -> Result<Self, DomainError> {
        match self.state.exited_on {
            Some(exited_on) => Err(DomainError::rule(
                Rule::PersonExited,
                "personId",
                format!(
                    "Cette personne est sortie de l'accompagnement le {} : son parcours ne s'enrichit plus.",
                    crate::fr::dates::date(exited_on)
                ),
            )),
            None => Ok(self),
        }
    }

    /// A fact of the path: not in the future, not before the enrolment.
    fn happened(&self, date: Date, field: &'static str) -> Result<(), DomainError> {
        not_in_future(date, self.context.today, field)?;
        not_before(date, self.enrolled_on, "l'inscription", field)
    }
}

impl Decider for Person {
    type Command = PersonCommand;
    type Event = PersonEvent;
    type State = PersonState;
    type Context = PersonContext;

    fn decide(
        command: &PersonCommand,
        state: &PersonState,
        context: &PersonContext,
    ) -> Result<Vec<PersonEvent>, DomainError> {
        use PersonCommand as C;
        let enrolled = || Enrolled::new(state, context);
        let accompanied = || enrolled()?.accompanied();
        let event = match command {
            C::Enroll {
                person_id,
                structure,
                referent,
                identity,
                commune,
                legal_basis,
                enrolled_on,
            } => {
                let enrolment = Enrolment {
                    person_id: *person_id,
                    structure: *structure,
                    referent: *referent,
                    enrolled_on: *enrolled_on,
                };
                enroll(
                    enrolment,
                    identity,
                    commune.as_ref(),
                    *legal_basis,
                    state,
                    context,
                )?
            }
            C::ChangeReferent { referent } => {
                accompanied()?;
                ReferentChanged {
                    referent: *referent,
                }
                .into()
            }
            C::StateSituation { words, stated_on } => {
                state_situation(words, *stated_on, accompanied()?)?
            }
            C::StateProject { project, stated_on } => {
                state_project(project, *stated_on, accompanied()?)?
            }
            C::ReadjustProject {
                project,
                cause,
                what_changed,
                readjusted_on,
            } => readjust_project(project, cause, what_changed, *readjusted_on, accompanied()?)?,
            C::LogJobInquiry {
                inquiry_id,
                held_on,
                rome_code,
                with_whom,
                learned,
            } => log_job_inquiry(
                *inquiry_id,
                *held_on,
                rome_code,
                with_whom,
                learned.as_ref(),
                accompanied()?,
            )?,
            C::LogPeerMeeting {
                meeting_id,
                held_on,
                testimony_id,
                peer,
                rome_codes: codes,
                takeaways,
            } => log_peer_meeting(
                *meeting_id,
                *held_on,
                *testimony_id,
                peer,
                codes,
                takeaways.as_ref(),
                accompanied()?,
            )?,
            C::StartMentorship {
                mentorship_id,
                mentor,
                mentor_job,
                started_on,
            } => start_mentorship(
                *mentorship_id,
                mentor,
                mentor_job.as_ref(),
                *started_on,
                accompanied()?,
            )?,
            C::EndMentorship {
                mentorship_id,
                ended_on,
                reason,
            } => end_mentorship(*mentorship_id, *ended_on, reason.as_ref(), accompanied()?)?,
            C::GiveConsent {
                purpose,
                text_version,
                proof,
                given_on,
            } => give_consent(*purpose, text_version, *proof, *given_on, accompanied()?)?,
            // Withdrawing a consent stays possible after the exit: it must be
            // as easy as giving it.
            C::WithdrawConsent {
                purpose,
                withdrawn_on,
            } => withdraw_consent(*purpose, *withdrawn_on, enrolled()?)?,
            C::RecordDisabilityRecognition {
                recognised,
                recorded_on,
            } => record_disability_recognition(*recognised, *recorded_on, accompanied()?)?,
            C::Exit { reason, exited_on } => exit(reason, *exited_on, accompanied()?)?,
            // Erasure stays possible after the exit: retention ends after it.
            C::Erase {
                by,
                reason,
                explanation,
                erased_on,
            } => erase(*by, *reason, explanation.as_ref(), *erased_on, enrolled()?)?,
            // A mistake is corrected after the exit too: the record stays
            // true as long as it is kept.
            C::CorrectIdentity {
                changes,
                reason,
                corrected_on,
            } => correct_identity(changes, reason, *corrected_on, enrolled()?)?,
        };
        Ok(vec![event])
    }

    fn evolve(mut state: PersonState, event: &PersonEvent) -> PersonState {
        match event {
            PersonEvent::PersonEnrolled(e) => {
                state.enrolment = Some(Enrolment {
                    person_id: e.person_id,
                    structure: e.structure,
                    referent: e.referent,
                    enrolled_on: e.enrolled_on,
                });
                state.identity = e.identity.known().cloned();
            }
            PersonEvent::IdentityCorrected(e) => {
                if let (Some(identity), Some(changes)) = (&state.identity, e.changes.known()) {
                    state.identity = Some(changes.applied_to(identity));
                }
            }
            PersonEvent::ReferentChanged(e) => {
                if let Some(enrolment) = &mut state.enrolment {
                    enrolment.referent = e.referent;
                }
            }
            PersonEvent::SituationStated(_) | PersonEvent::DisabilityRecognitionRecorded(_) => {}
            PersonEvent::ProjectStated(e) => {
                state.project = Some(e.project.clone());
                state.project_version = e.version;
            }
            PersonEvent::ProjectReadjusted(e) => {
                state.project = Some(e.project.clone());
                state.project_version = e.version;
            }
            PersonEvent::JobInquiryHeld(e) => {
                state.inquiries.insert(e.inquiry_id);
            }
            PersonEvent::PeerMeetingHeld(e) => {
                state.meetings.insert(e.meeting_id);
            }
            PersonEvent::MentorshipStarted(e) => {
                state
                    .mentorships
                    .insert(e.mentorship_id, (e.started_on, None));
            }
            PersonEvent::MentorshipEnded(e) => {
                if let Some(m) = state.mentorships.get_mut(&e.mentorship_id) {
                    m.1 = Some(e.ended_on);
                }
            }
            PersonEvent::ConsentGiven(e) => {
                state.consents.insert(e.purpose);
            }
            PersonEvent::ConsentWithdrawn(e) => {
                state.consents.remove(&e.purpose);
            }
            PersonEvent::PersonExited(e) => state.exited_on = Some(e.exited_on),
            PersonEvent::PersonErased(e) => state.erased_on = Some(e.erased_on),
        }
        state
    }
}

/// The ages at enrolment a birth date may give: people accompanied
/// towards employment, from the end of middle school on.
const ENROLMENT_AGES: std::ops::RangeInclusive<i32> = 14..=100;

/// A birth date before the enrolment, giving an age at it within
/// [`ENROLMENT_AGES`]: anything else is a slip of the keyboard.
fn plausible_birth(birth: Date, enrolled_on: Date, field: &'static str) -> Result<(), DomainError> {
    let message = if birth > enrolled_on {
        format!(
            "La date de naissance ({}) est après l'inscription ({}) : vérifiez-la.",
            crate::fr::dates::date(birth),
            crate::fr::dates::date(enrolled_on)
        )
    } else {
        let age = crate::values::age_on(birth, enrolled_on);
        if ENROLMENT_AGES.contains(&age) {
            return Ok(());
        }
        format!(
            "Avec cette date de naissance ({}), la personne aurait eu {age} ans à son inscription ({}) : vérifiez-la (de {} à {} ans).",
            crate::fr::dates::date(birth),
            crate::fr::dates::date(enrolled_on),
            ENROLMENT_AGES.start(),
            ENROLMENT_AGES.end()
        )
    };
    Err(DomainError::invalid(Rule::BirthDateRange, field, message))
}

fn enroll(
    enrolment: Enrolment,
    identity: &Identity,
    commune: Option<&CommuneCode>,
    legal_basis: LegalBasis,
    state: &PersonState,
    context: &PersonContext,
) -> Result<PersonEvent, DomainError> {
    if state.enrolment.is_some() {
        return Err(already_exists(
            "personId",
            "Cette personne est déjà inscrite.",
        ));
    }
    not_in_future(enrolment.enrolled_on, context.today, "enrolledOn")?;
    not_in_future(identity.birth_date, context.today, "identity.birthDate")?;
    plausible_birth(
        identity.birth_date,
        enrolment.enrolled_on,
        "identity.birthDate",
    )?;
    Ok(PersonEnrolled {
        person_id: enrolment.person_id,
        structure: enrolment.structure,
        referent: enrolment.referent,
        identity: Personal::Known(identity.clone()),
        age_band: AgeBand::of(identity.birth_date, enrolment.enrolled_on),
        commune: commune.cloned(),
        legal_basis,
        enrolled_on: enrolment.enrolled_on,
    }
    .into())
}

fn state_situation(
    words: &Text,
    stated_on: Date,
    person: Enrolled<'_>,
) -> Result<PersonEvent, DomainError> {
    person.happened(stated_on, "statedOn")?;
    Ok(SituationStated {
        words: Personal::Known(words.clone()),
        stated_on,
    }
    .into())
}

fn state_project(
    project: &Project,
    stated_on: Date,
    person: Enrolled<'_>,
) -> Result<PersonEvent, DomainError> {
    if person.state.project.is_some() {
        return Err(DomainError::rule(
            Rule::ProjectAlreadyStated,
            "project",
            "Le projet est déjà formulé : réajustez-le en indiquant l'expérience qui l'a fait évoluer.",
        ));
    }
    person.happened(stated_on, "statedOn")?;
    Ok(ProjectStated {
        version: 1,
        project: checked_project(project)?,
        stated_on,
    }
    .into())
}

fn readjust_project(
    project: &Project,
    cause: &ReadjustmentCause,
    what_changed: &Text,
    readjusted_on: Date,
    person: Enrolled<'_>,
) -> Result<PersonEvent, DomainError> {
    let Enrolled { state, context, .. } = person;
    let Some(current) = &state.project else {
        return Err(DomainError::rule(
            Rule::ProjectNotStated,
            "project",
            "Aucun projet n'est encore formulé : formulez-le d'abord.",
        ));
    };
    if !state.knows(cause, context) {
        return Err(DomainError::rule(
            Rule::ReadjustmentCauseUnknown,
            "cause",
            "Cette expérience n'est pas dans le parcours de la personne (ou l'immersion n'a pas encore de retour) : enregistrez-la d'abord.",
        ));
    }
    person.happened(readjusted_on, "readjustedOn")?;
    let project = checked_project(project)?;
    if &project == current {
        return Err(DomainError::rule(
            Rule::ProjectUnchanged,
            "project",
            "Le projet réajusté est identique au projet actuel : indiquez ce qui change (métiers, contrats, mobilité, contraintes).",
        ));
    }
    Ok(ProjectReadjusted {
        version: state.project_version + 1,
        project,
        cause: *cause,
        what_changed: Personal::Known(what_changed.clone()),
        readjusted_on,
    }
    .into())
}

fn log_job_inquiry(
    inquiry_id: InquiryId,
    held_on: Date,
    rome_code: &RomeCode,
    with_whom: &Label,
    learned: Option<&Text>,
    person: Enrolled<'_>,
) -> Result<PersonEvent, DomainError> {
    if person.state.inquiries.contains(&inquiry_id) {
        return Err(already_exists(
            "inquiryId",
            "Cette enquête métier est déjà enregistrée.",
        ));
    }
    person.happened(held_on, "heldOn")?;
    Ok(JobInquiryHeld {
        inquiry_id,
        held_on,
        rome_code: rome_code.clone(),
        with_whom: with_whom.clone(),
        learned: learned.cloned().map(Personal::Known),
    }
    .into())
}

fn log_peer_meeting(
    meeting_id: MeetingId,
    held_on: Date,
    testimony_id: Option<TestimonyId>,
    peer: &Label,
    codes: &[RomeCode],
    takeaways: Option<&Text>,
    person: Enrolled<'_>,
) -> Result<PersonEvent, DomainError> {
    if person.state.meetings.contains(&meeting_id) {
        return Err(already_exists(
            "meetingId",
            "Cette rencontre est déjà enregistrée.",
        ));
    }
    person.happened(held_on, "heldOn")?;
    Ok(PeerMeetingHeld {
        meeting_id,
        held_on,
        testimony_id,
        peer: peer.clone(),
        rome_codes: rome_codes(codes, "romeCodes")?,
        takeaways: takeaways.cloned().map(Personal::Known),
    }
    .into())
}

fn start_mentorship(
    mentorship_id: MentorshipId,
    mentor: &Label,
    mentor_job: Option<&RomeCode>,
    started_on: Date,
    person: Enrolled<'_>,
) -> Result<PersonEvent, DomainError> {
    let state = person.state;
    if state.mentorships.contains_key(&mentorship_id) {
        return Err(already_exists(
            "mentorshipId",
            "Ce parrainage est déjà enregistré.",
        ));
    }
    if !state.has_consented(ConsentPurpose::Mentoring) {
        return Err(consent_missing(ConsentPurpose::Mentoring, "mentorshipId"));
    }
    person.happened(started_on, "startedOn")?;
    Ok(MentorshipStarted {
        mentorship_id,
        mentor: Personal::Known(mentor.clone()),
        mentor_job: mentor_job.cloned(),
        started_on,
    }
    .into())
}

fn end_mentorship(
    mentorship_id: MentorshipId,
    ended_on: Date,
    reason: Option<&Text>,
    person: Enrolled<'_>,
) -> Result<PersonEvent, DomainError> {
    let Some((started_on, ended)) = person.state.mentorships.get(&mentorship_id) else {
        return Err(DomainError::not_found(
            Rule::ExperienceUnknown,
            "mentorshipId",
            "Ce parrainage n'existe pas dans le parcours de la personne.",
        ));
    };
    if ended.is_some() {
        return Err(DomainError::rule(
            Rule::MentorshipEnded,
            "mentorshipId",
            "Ce parrainage est déjà terminé.",
        ));
    }
    not_in_future(ended_on, person.context.today, "endedOn")?;
    not_before(ended_on, *started_on, "le début du parrainage", "endedOn")?;
    Ok(MentorshipEnded {
        mentorship_id,
        ended_on,
        reason: reason.cloned().map(Personal::Known),
    }
    .into())
}

fn give_consent(
    purpose: ConsentPurpose,
    text_version: &Label,
    proof: ConsentProof,
    given_on: Date,
    person: Enrolled<'_>,
) -> Result<PersonEvent, DomainError> {
    if person.state.has_consented(purpose) {
        return Err(DomainError::conflict(
            Rule::ConsentAlreadyGiven,
            "purpose",
            "Ce consentement est déjà donné.",
        ));
    }
    person.happened(given_on, "givenOn")?;
    Ok(ConsentGiven {
        purpose,
        text_version: text_version.clone(),
        proof,
        given_on,
    }
    .into())
}

fn withdraw_consent(
    purpose: ConsentPurpose,
    withdrawn_on: Date,
    person: Enrolled<'_>,
) -> Result<PersonEvent, DomainError> {
    if !person.state.has_consented(purpose) {
        return Err(DomainError::rule(
            Rule::ConsentNotGiven,
            "purpose",
            "Ce consentement n'est pas donné : il n'y a rien à retirer.",
        ));
    }
    person.happened(withdrawn_on, "withdrawnOn")?;
    Ok(ConsentWithdrawn {
        purpose,
        withdrawn_on,
    }
    .into())
}

fn record_disability_recognition(
    recognised: bool,
    recorded_on: Date,
    person: Enrolled<'_>,
) -> Result<PersonEvent, DomainError> {
    if !person
        .state
        .has_consented(ConsentPurpose::DisabilityRecognition)
    {
        return Err(consent_missing(
            ConsentPurpose::DisabilityRecognition,
            "recognised",
        ));
    }
    person.happened(recorded_on, "recordedOn")?;
    Ok(DisabilityRecognitionRecorded {
        recognised: Personal::Known(recognised),
        recorded_on,
    }
    .into())
}

fn exit(
    reason: &ExitReason,
    exited_on: Date,
    person: Enrolled<'_>,
) -> Result<PersonEvent, DomainError> {
    person.happened(exited_on, "exitedOn")?;
    Ok(PersonExited {
        reason: reason.clone(),
        exited_on,
    }
    .into())
}

fn erase(
    by: UserId,
    reason: ErasureReason,
    explanation: Option<&Text>,
    erased_on: Date,
    person: Enrolled<'_>,
) -> Result<PersonEvent, DomainError> {
    not_in_future(erased_on, person.context.today, "erasedOn")?;
    Ok(PersonErased {
        by,
        reason,
        explanation: explanation.cloned().map(Personal::Known),
        erased_on,
    }
    .into())
}

fn correct_identity(
    changes: &IdentityChanges,
    reason: &Text,
    corrected_on: Date,
    person: Enrolled<'_>,
) -> Result<PersonEvent, DomainError> {
    not_in_future(corrected_on, person.context.today, "correctedOn")?;
    let changes = match &person.state.identity {
        Some(current) => changes.against(current),
        None => changes.clone(),
    };
    let fields = changes.fields();
    if fields.is_empty() {
        // Well-formed values that change nothing: a rule on what is
        // recorded, as for a project readjusted to itself.
        return Err(DomainError::rule(
            Rule::NothingToCorrect,
            "changes",
            "Rien ne change : indiquez au moins une valeur différente de celle enregistrée (prénom, nom, date de naissance, courriel, téléphone ou adresse).",
        ));
    }
    if let Some(birth_date) = changes.birth_date {
        not_in_future(birth_date, person.context.today, "changes.birthDate")?;
        plausible_birth(birth_date, person.enrolled_on, "changes.birthDate")?;
    }
    Ok(IdentityCorrected {
        fields,
        age_band: changes
            .birth_date
            .map(|b| AgeBand::of(b, person.enrolled_on)),
        changes: Personal::Known(changes),
        reason: Personal::Known(reason.clone()),
        corrected_on,
    }
    .into())
}
