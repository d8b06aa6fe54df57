//! The one authorization policy: what an actor may reach. Every front door
//! asks it; none decides on its own.
//!
//! Employers, their visits and their needs are shared across the territory,
//! so that structures stop soliciting the same company blindly: any staff
//! member reads them. People belong to one structure: only its staff reach
//! them, and a person reaches only themself and their immersions; an
//! employer reaches its immersions. What is out of reach answers as
//! if it did not exist, so nothing leaks about who is accompanied elsewhere.

use passerelle_domain::fr::Labelled;
use passerelle_domain::immersion::{
    Feedback, FeedbackAuthor, ImmersionCommand, Respondent, Signatory, SignatureMethod,
};
use passerelle_domain::values::{EmployerId, ImmersionId, PersonId};
use passerelle_projections::views::employers::{self, ContactRow};
use passerelle_projections::views::immersions::{self, ImmersionFilter, ImmersionRow};
use passerelle_projections::views::people;
use sqlx::PgExecutor;

use crate::actor::{Actor, Role};
use crate::error::AppError;

/// Staff of a structure: they mediate.
pub fn is_staff(actor: &Actor) -> bool {
    matches!(actor.role, Role::Admin | Role::Manager | Role::Mediator)
}

/// The structure whose mails the actor sees and may send again: its own,
/// whatever its role (an admin administers a structure, not the
/// territory); none for anyone but staff.
pub fn mail_structure(actor: &Actor) -> Option<passerelle_domain::values::StructureId> {
    is_staff(actor).then_some(actor.structure)
}

/// Whether the actor may open the inbox of a colleague of its structure
/// (a manager or an admin), besides its own.
pub fn reads_colleagues_inbox(actor: &Actor) -> bool {
    matches!(actor.role, Role::Manager | Role::Admin)
}

/// Whether the actor reaches a staff member of `structure` by name (to read
/// their inbox, to hand them a caseload): staff reach their own structure's
/// members only; another structure's answer as unknown, so that no one
/// learns who works elsewhere.
pub fn reaches_colleague(actor: &Actor, structure: passerelle_domain::values::StructureId) -> bool {
    is_staff(actor) && actor.structure == structure
}

/// Whether the actor reads the dashboards' figures of `structure` in full,
/// small counts included: its own structure's, which it follows person by
/// person anyway. Beyond it (another structure, or the whole territory) a
/// small count could point at someone, so the dashboards hide it.
pub fn reads_figures_in_full(actor: &Actor, structure: Option<uuid::Uuid>) -> bool {
    is_staff(actor) && structure == Some(actor.structure.as_uuid())
}

/// Whether the actor may read and act on this person's path.
pub async fn reaches_person(
    db: impl PgExecutor<'_>,
    actor: &Actor,
    person: PersonId,
) -> Result<bool, AppError> {
    Ok(match actor.role {
        Role::Admin | Role::Manager | Role::Mediator => people::get(db, person)
            .await?
            .is_some_and(|p| reaches_person_row(actor, &p)),
        Role::Person(own) => own == person,
        Role::System => true,
        Role::Employer(_) => false,
    })
}

/// [`reaches_person`] on the person's row as the view has it (the one a
/// command's own statement returned, for one): no read.
pub fn reaches_person_row(actor: &Actor, person: &people::PersonRow) -> bool {
    match actor.role {
        Role::Admin | Role::Manager | Role::Mediator => {
            person.structure == actor.structure.as_uuid()
        }
        Role::Person(own) => own.0 == person.person_id,
        Role::System => true,
        Role::Employer(_) => false,
    }
}

/// The structure whose people the actor reads by name in a list made for
/// her (her tasks): a staff member's own, as [`reaches_person_row`] lets
/// her read each of them; nobody else's.
pub fn names_people_of(actor: &Actor) -> Option<passerelle_domain::values::StructureId> {
    match actor.role {
        Role::Admin | Role::Manager | Role::Mediator => Some(actor.structure),
        Role::Person(_) | Role::Employer(_) | Role::System => None,
    }
}

/// Whether the actor reads the matching of a person of `structure` (open
/// needs, employers, peers): that structure's staff only. Peers are other
/// people of the structure, so an employer or a person by magic link reads
/// none of it.
pub fn reads_matching(actor: &Actor, structure: uuid::Uuid) -> bool {
    is_staff(actor) && actor.structure.as_uuid() == structure
}

/// Whether the actor reads a testimony its author, of `author_structure`,
/// shares with `audience`: the mediators of the author's structure read
/// every audience, its people from `OwnStructurePeople` on, other
/// structures' staff and people only `Territory`; an employer none.
pub fn reads_testimony(
    actor: &Actor,
    author_structure: uuid::Uuid,
    audience: passerelle_domain::testimony::Audience,
) -> bool {
    use passerelle_domain::testimony::Audience;
    let own = actor.structure.as_uuid() == author_structure;
    match actor.role {
        Role::Admin | Role::Manager | Role::Mediator => own || audience == Audience::Territory,
        Role::Person(_) => {
            audience == Audience::Territory || (own && audience == Audience::OwnStructurePeople)
        }
        Role::Employer(_) | Role::System => false,
    }
}

/// Whether the actor may issue this command on a testimony whose author
/// it reaches ([`reaches_person`]): her structure's staff record it, with
/// her consent, and change its audience or withdraw it as she asks; she
/// herself, from her own space, changes who reads it and withdraws it
/// (withdrawing is as easy as giving, DOMAIN.md), but records none there:
/// her structure takes her account down.
pub fn may_issue_on_testimony(
    actor: &Actor,
    command: &passerelle_domain::testimony::TestimonyCommand,
) -> bool {
    use passerelle_domain::testimony::TestimonyCommand as C;
    match actor.role {
        Role::Admin | Role::Manager | Role::Mediator | Role::System => true,
        Role::Person(_) => matches!(command, C::ChangeAudience { .. } | C::Withdraw { .. }),
        Role::Employer(_) => false,
    }
}

/// The structure whose people a need's matching lists for the actor: its
/// own, for staff; none for anyone else.
pub fn matching_structure(actor: &Actor) -> Option<uuid::Uuid> {
    is_staff(actor).then(|| actor.structure.as_uuid())
}

/// Whether the actor reaches this immersion: its structure's staff; its
/// person, and its host employer, by a session of that same structure.
pub fn reaches_immersion(actor: &Actor, row: &ImmersionRow) -> bool {
    let same_structure = row.structure == actor.structure.as_uuid();
    match actor.role {
        Role::Admin | Role::Manager | Role::Mediator => same_structure,
        Role::Person(own) => same_structure && row.person_id == own.as_uuid(),
        Role::Employer(own) => same_structure && row.employer_id == own.as_uuid(),
        Role::System => true,
    }
}

/// The immersion, when the actor reaches it ([`reaches_immersion`]).
pub async fn reachable_immersion(
    db: impl PgExecutor<'_>,
    actor: &Actor,
    immersion: ImmersionId,
) -> Result<Option<ImmersionRow>, AppError> {
    let Some(row) = immersions::get(db, immersion).await? else {
        return Ok(None);
    };
    Ok(reaches_immersion(actor, &row).then_some(row))
}

/// Narrows a list of immersions to what the actor reaches, and gives the
/// structure to list: the actor's own (for a person or an employer by magic
/// link, the structure of their session), and only their own immersions.
pub fn immersion_list_scope(actor: &Actor, filter: &mut ImmersionFilter) -> uuid::Uuid {
    match actor.role {
        Role::Person(own) => filter.person = Some(own.as_uuid()),
        Role::Employer(own) => filter.employer = Some(own.as_uuid()),
        Role::Admin | Role::Manager | Role::Mediator | Role::System => {}
    }
    actor.structure.as_uuid()
}

/// Whether the actor reads employers' files at all: staff do (they are
/// shared across the territory), an employer by magic link does (its own
/// only, [`reaches_employer`]); a person accompanied does not, and is
/// refused (`FORBIDDEN`) rather than shown nothing.
pub fn reads_employers(actor: &Actor) -> bool {
    !matches!(actor.role, Role::Person(_))
}

/// Whether the actor searches the territory's employers and open needs
/// (`employers`, `needs`): staff of any structure, as these are shared; an
/// employer or a person by magic link searches nothing (`FORBIDDEN`), as
/// a list would show them other establishments.
pub fn searches_territory(actor: &Actor) -> bool {
    matches!(
        actor.role,
        Role::Admin | Role::Manager | Role::Mediator | Role::System
    )
}

/// Whether the actor reaches this employer's file: any staff member, an
/// employer by magic link its own establishment.
pub fn reaches_employer(actor: &Actor, employer: EmployerId) -> bool {
    match actor.role {
        Role::Admin | Role::Manager | Role::Mediator | Role::System => true,
        Role::Employer(own) => own == employer,
        Role::Person(_) => false,
    }
}

/// Whether the actor may record a need of this establishment (`None`: an
/// id that names none) from this source: staff from any source, an
/// employer by magic link for its own establishment from the portal only.
pub fn may_surface_need(actor: &Actor, employer: Option<EmployerId>, from_portal: bool) -> bool {
    match actor.role {
        Role::Admin | Role::Manager | Role::Mediator | Role::System => true,
        Role::Employer(own) => from_portal && employer == Some(own),
        Role::Person(_) => false,
    }
}

/// A field whose reading the policy decides on its own, inside an object
/// the actor reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// What a mediator noted of a visit, for staff.
    VisitObservations,
    /// What a mediator plans after a visit, for staff.
    VisitNextStep,
    /// An immersion's convention as drafted, its signatures and its
    /// renewal: what its parties sign, so for them and staff.
    ImmersionConvention,
    /// The host's assessment of an immersion, for its parties and staff.
    ImmersionAssessment,
    /// The person's own feedback on an immersion, for its parties and
    /// staff.
    ImmersionPersonFeedback,
    /// The mediator's notes after an immersion, for staff.
    ImmersionMediatorFeedback,
    /// Where the person stood after an immersion (hired, in training…),
    /// for her and staff.
    ImmersionOutcomes,
    /// Who declined, cancelled or interrupted an immersion, and why; why
    /// the structure rejected or abandoned its convention: for staff and
    /// the host.
    ImmersionEnding,
    /// Work accidents during an immersion, for staff and the host.
    ImmersionAccidents,
    /// The corrections of an immersion's first and last days, and why: for
    /// staff and the host, who know when it started and ended.
    ImmersionDayCorrections,
    /// The mediator's word with a proposal, written to the person and the
    /// host: for them and staff.
    ImmersionProposalMessage,
    /// Why staff closed a need for a reason off the list, in their words:
    /// for staff; the establishment reads the reason and the day.
    NeedCloseExplanation,
    /// What staff noted with an establishment's hosting capacity (a
    /// closing in August, a tutor away): for staff.
    HostingCapacityNotes,
}

/// Whether the actor may read this field of an object it reaches. Staff
/// notes are for staff of every structure, like the visits they describe;
/// an employer or a person by magic link reads them as absent (null), as
/// everything out of reach answers.
///
/// Checked and left to every reader: a need's description (activities,
/// conditions) is the employer's own words (why staff closed it is
/// [`Field::NeedCloseExplanation`]), and an immersion's fields say
/// where its convention stands, which its parties read; neither holds a
/// staff note. A hosting capacity's notes are staff's
/// ([`Field::HostingCapacityNotes`]).
pub fn may_read(actor: &Actor, field: Field) -> bool {
    match field {
        Field::VisitObservations
        | Field::VisitNextStep
        | Field::ImmersionMediatorFeedback
        | Field::NeedCloseExplanation
        | Field::HostingCapacityNotes => {
            matches!(
                actor.role,
                Role::Admin | Role::Manager | Role::Mediator | Role::System
            )
        }
        // Whoever reaches the immersion: its structure's staff, its person,
        // its host.
        Field::ImmersionConvention
        | Field::ImmersionAssessment
        | Field::ImmersionProposalMessage => true,
        // The person's own words on their immersion (and their disagreement
        // with the host's assessment): for them and the staff who follow
        // them, not for the host they judge. Where she went next is hers
        // too: a host does not learn of her training or her next employer.
        Field::ImmersionPersonFeedback | Field::ImmersionOutcomes => {
            !matches!(actor.role, Role::Employer(_))
        }
        Field::ImmersionEnding | Field::ImmersionAccidents | Field::ImmersionDayCorrections => {
            matches!(
                actor.role,
                Role::Admin | Role::Manager | Role::Mediator | Role::System | Role::Employer(_)
            )
        }
    }
}

/// Whether the actor sees and may remove this contact of an establishment
/// registered by `registered_by`: staff of the structure that added the
/// contact (it vouches for the contact, so it withdraws it), and staff of
/// the structure that registered the establishment (it keeps the shared
/// file, and is who the establishment's other contacts turn to when told
/// of an addition they do not recognise). No other structure: a structure
/// does not learn whom another vouches for.
///
/// An employer by magic link, the contacts of its own establishment that
/// the structure of its session added: an establishment knows best who
/// works there, and expects to take off the list a tutor who left, whose
/// address would otherwise still get links to its immersions. Those are
/// the contacts whose sessions reach the same immersions as its own; the
/// contacts other structures added are theirs to keep, and are not shown.
/// A person by magic link manages none.
pub fn manages_contact(actor: &Actor, contact: &ContactRow, registered_by: uuid::Uuid) -> bool {
    match actor.role {
        Role::Admin | Role::Manager | Role::Mediator => {
            contact.structure == actor.structure.as_uuid()
                || registered_by == actor.structure.as_uuid()
        }
        Role::Employer(own) => {
            own.as_uuid() == contact.employer_id && contact.structure == actor.structure.as_uuid()
        }
        Role::Person(_) | Role::System => false,
    }
}

/// Whether the actor may add a contact to this establishment: any staff
/// member; an employer by magic link to its own establishment, for the
/// structure of its session (a colleague, the tutor of an immersion to
/// come), as the establishment would expect to do without calling its
/// mediator. The contact added reaches what the adder's session reaches,
/// no more: that structure's immersions with the establishment. The
/// establishment's other contacts are told of it by mail, as of any
/// addition, and the structure's staff see it and may remove it. A person
/// by magic link adds none.
pub fn adds_contact(actor: &Actor, employer: EmployerId) -> bool {
    match actor.role {
        Role::Admin | Role::Manager | Role::Mediator => true,
        Role::Employer(own) => own == employer,
        Role::Person(_) | Role::System => false,
    }
}

/// Whether the actor may erase this contact's personal data (their name,
/// email and phone): staff of the structure that added the contact, which
/// vouches for them and answers their requests. Not the structure that
/// registered the establishment, which may only remove them: erasing is
/// irreversible and the contact is not its to answer for. The caller has
/// found the contact with [`managed_contact`].
pub fn erases_contact(actor: &Actor, contact: &ContactRow) -> bool {
    is_staff(actor) && contact.structure == actor.structure.as_uuid()
}

/// Whether the actor reads back a contact taken off the establishment's
/// list and not erased (its name, job title and phone stay in the log
/// until then): those who answer for it and may erase it at its request
/// ([`erases_contact`]). Nobody else needs it any more: it gets no link,
/// and the establishment's space no longer lists it.
pub fn reads_removed_contact(actor: &Actor, contact: &ContactRow) -> bool {
    contact.removed && erases_contact(actor, contact)
}

/// The contact, when it is one of this establishment's and the actor
/// manages it ([`manages_contact`]); else none, as if it did not exist.
pub async fn managed_contact(
    conn: &mut sqlx::PgConnection,
    actor: &Actor,
    employer: EmployerId,
    contact: uuid::Uuid,
) -> Result<Option<ContactRow>, AppError> {
    if !is_staff(actor) && actor.role != Role::Employer(employer) {
        return Ok(None);
    }
    let Some(found) = employers::contact(&mut *conn, contact).await? else {
        return Ok(None);
    };
    if found.employer_id != employer.as_uuid() {
        return Ok(None);
    }
    let Some(row) = employers::get(&mut *conn, employer).await? else {
        return Ok(None);
    };
    Ok(manages_contact(actor, &found, row.registered_by_structure).then_some(found))
}

/// What a party does for itself on an immersion it reaches, as the policy
/// allows it to the actor: whose answer to the proposal it gives, as whom
/// it signs online, whose feedback it gives, and whether it answers the
/// host's assessment that came in after the person's feedback. Whether the
/// immersion's stage calls for it is the domain's to say, not this.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartyActs {
    pub answer_for: Vec<Respondent>,
    pub sign_online_as: Vec<Signatory>,
    pub feedback_as: Vec<FeedbackAuthor>,
    pub answer_assessment: bool,
}

/// What the actor may do as a party on an immersion it reaches. Staff do
/// all of it for anyone (and more: `may_issue`); an employer answers for
/// itself, signs online as the host and gives the host's assessment; a
/// person answers for herself, signs online as the person, gives her
/// feedback and answers the host's assessment, while her accompaniment
/// runs.
///
/// A person whose accompaniment ended (or who was erased) does none of it:
/// answering a proposal, signing a convention, giving feedback belong to
/// an accompaniment that runs. Her own space stays open for her rights on
/// her data (reading it, withdrawing a consent or a testimony), and her
/// structure's staff still record what she says on paper.
pub async fn party_acts(db: impl PgExecutor<'_>, actor: &Actor) -> Result<PartyActs, AppError> {
    Ok(match actor.role {
        Role::Admin | Role::Manager | Role::Mediator | Role::System => PartyActs {
            answer_for: vec![Respondent::Person, Respondent::Employer],
            sign_online_as: Signatory::ALL.to_vec(),
            feedback_as: FeedbackAuthor::ALL.to_vec(),
            answer_assessment: true,
        },
        Role::Employer(_) => PartyActs {
            answer_for: vec![Respondent::Employer],
            sign_online_as: vec![Signatory::Host],
            feedback_as: vec![FeedbackAuthor::Host],
            answer_assessment: false,
        },
        Role::Person(own) if people::accompanied_by(db, own, actor.structure).await? => PartyActs {
            answer_for: vec![Respondent::Person],
            sign_online_as: vec![Signatory::Person],
            feedback_as: vec![FeedbackAuthor::Person],
            // Her answer to the host's assessment, when it came after her
            // feedback: hers alone, as her feedback is (staff may record
            // it for her, as they record her feedback).
            answer_assessment: true,
        },
        Role::Person(_) => PartyActs::default(),
    })
}

/// Whether the actor may issue this command on an immersion it reaches.
/// Staff issue every command; an employer and a person only do what
/// `party_acts` allows them: answer for themselves, sign online for
/// themselves and give their own feedback (the person's answer to the
/// host's assessment included, given later when the assessment came after
/// her feedback) and correct it, a person only while her accompaniment
/// runs.
pub async fn may_issue(
    db: impl PgExecutor<'_>,
    actor: &Actor,
    command: &ImmersionCommand,
) -> Result<bool, AppError> {
    use ImmersionCommand as C;
    if matches!(
        actor.role,
        Role::Admin | Role::Manager | Role::Mediator | Role::System
    ) {
        return Ok(true);
    }
    let acts = party_acts(db, actor).await?;
    Ok(match command {
        C::Accept { by, .. } | C::Decline { by, .. } => acts.answer_for.contains(by),
        C::Sign {
            signatory,
            method: SignatureMethod::Online,
        } => acts.sign_online_as.contains(signatory),
        // An assessment received on paper or by phone is the staff's to
        // enter, and to correct; a party corrects what it gives.
        C::RecordFeedback {
            feedback: Feedback::Host(assessment),
            ..
        }
        | C::CorrectFeedback {
            feedback: Feedback::Host(assessment),
            ..
        } if assessment.received_by_other_means => false,
        C::RecordFeedback { feedback, .. } | C::CorrectFeedback { feedback, .. } => {
            acts.feedback_as.contains(&feedback.author())
        }
        C::AnswerAssessment { .. } => acts.answer_assessment,
        _ => false,
    })
}

/// Whether the actor reassigns a person's follow-up to another referent: a
/// manager or an admin of the person's structure, who shares out the
/// caseloads (when a mediator leaves, for one); a mediator does not hand
/// their people over, nor take a colleague's.
pub fn reassigns_referents(actor: &Actor) -> bool {
    matches!(actor.role, Role::Manager | Role::Admin)
}

/// Whether the actor may record the disability recognition (RQTH) of a
/// person followed by `referent`: health data, known to the person's
/// referent and the structure's managers only, so only they record it. The
/// caller has checked that the actor reaches the person.
pub fn records_health_data(actor: &Actor, referent: uuid::Uuid) -> bool {
    match actor.role {
        Role::Manager | Role::Admin => true,
        Role::Mediator => actor.id == format!("user:{referent}"),
        Role::Employer(_) | Role::Person(_) | Role::System => false,
    }
}

/// Whether the actor may correct these fields of the identity of a person
/// it reaches: staff of their structure any of them; the person, from their
/// own session, only how to reach them (email, phone, postal address),
/// which they know best, not their name or birth date, which their structure checked on
/// enrolment. The caller has checked that the actor reaches the person.
pub fn corrects_identity(
    actor: &Actor,
    fields: &[passerelle_domain::person::IdentityField],
) -> bool {
    use passerelle_domain::person::IdentityField;
    match actor.role {
        Role::Admin | Role::Manager | Role::Mediator => true,
        Role::Person(_) => fields.iter().all(|f| {
            matches!(
                f,
                IdentityField::Email | IdentityField::Phone | IdentityField::Address
            )
        }),
        Role::Employer(_) | Role::System => false,
    }
}

/// Whether the actor may correct an establishment's file or a need: any
/// staff member, as they are shared across the territory and kept by all;
/// not an employer by magic link, whose file the structures keep.
pub fn corrects_shared_records(actor: &Actor) -> bool {
    is_staff(actor)
}

/// Whether the actor answers for a visit logged by `visit_structure`: staff
/// of that structure, who may correct what their visit says and note the
/// needs heard during it (a need from a visit counts in the figures of the
/// visit's structure). Other structures read it but neither rewrite it nor
/// add to it.
pub fn answers_for_visit(actor: &Actor, visit_structure: uuid::Uuid) -> bool {
    is_staff(actor) && actor.structure.as_uuid() == visit_structure
}

/// A part of what is recorded about a person, as the policy sorts it for
/// reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PersonRecord {
    /// Their situation in their own words, job inquiries, peer meetings,
    /// mentorships and consents: their own path, which they read too.
    Path,
    /// Who followed them and how their accompaniment ended: the
    /// structure's follow-up, for its staff.
    FollowUp,
    /// Their disability recognition (RQTH): health data.
    Health,
    /// The corrections of their identity: who they are, which whoever
    /// reaches them reads.
    Identity,
}

/// Whether the actor may read this part of what is recorded about a person
/// followed by `referent`: staff of their structure read all but health
/// data, which only those who may record it read ([`records_health_data`]:
/// their referent and the structure's managers); the person reads their
/// own path. The caller has checked that the actor reaches the person
/// ([`reaches_person`]); anyone else reads it as absent.
pub fn reads_person_record(actor: &Actor, record: PersonRecord, referent: uuid::Uuid) -> bool {
    match record {
        PersonRecord::Health => records_health_data(actor, referent),
        PersonRecord::Path | PersonRecord::Identity => matches!(
            actor.role,
            Role::Admin | Role::Manager | Role::Mediator | Role::Person(_) | Role::System
        ),
        PersonRecord::FollowUp => matches!(
            actor.role,
            Role::Admin | Role::Manager | Role::Mediator | Role::System
        ),
    }
}

/// Whether the actor may change whether its structure's conventions need a
/// pre-validation before validation: a structure's setting, its managers'.
pub fn sets_structure_settings(actor: &Actor) -> bool {
    matches!(actor.role, Role::Manager | Role::Admin)
}

/// Whether the actor may erase a person's data: a manager or an admin of
/// the person's structure (the caller has checked that the actor reaches
/// the person), or an operator from the command line. Irreversible, so not
/// a mediator, even the referent.
pub fn erases_people(actor: &Actor) -> bool {
    matches!(actor.role, Role::Manager | Role::Admin | Role::System)
}

/// Whether the actor may extend the retention of a person's data past
/// their inactivity: the person's referent, or a manager or an admin of
/// their structure (the caller has checked that the actor reaches the
/// person).
pub fn extends_retention(actor: &Actor, referent: passerelle_domain::values::UserId) -> bool {
    match actor.role {
        Role::Manager | Role::Admin => true,
        Role::Mediator => actor.id == format!("user:{referent}"),
        _ => false,
    }
}
/// Whether the actor may produce the export of everything held about a
/// person (RGPD art. 15 and 20): staff of the person's structure, for the
/// person who asks them, and the person themself from their own space. The
/// caller has checked that the actor reaches the person ([`reaches_person`]).
///
/// The export is the right of access: it holds every fact recorded about
/// the person, staff notes about them included (a mediator's notes on their
/// immersion, why a host declined), which the API's fields keep to staff in
/// day-to-day reading ([`may_read`]). Only health data is left out, for a
/// maker who may not read it ([`exports_health_data`]).
pub fn exports_person_data(actor: &Actor) -> bool {
    matches!(
        actor.role,
        Role::Admin | Role::Manager | Role::Mediator | Role::Person(_) | Role::System
    )
}

/// Whether the export made by the actor holds the person's health data:
/// made by those who read it ([`reads_person_record`]), or by the person,
/// whose own data it is.
pub fn exports_health_data(actor: &Actor, referent: uuid::Uuid) -> bool {
    matches!(actor.role, Role::Person(_))
        || reads_person_record(actor, PersonRecord::Health, referent)
}

/// Whether the actor gives and withdraws consents online, for themself:
/// the person, from their own space (the caller has checked that the actor
/// reaches the person, which for a person is only themself). Staff record a
/// consent given on a form or orally with `consentGive` instead.
pub fn consents_online(actor: &Actor) -> bool {
    matches!(actor.role, Role::Person(_))
}

/// What the actor does with the consents of a person it reaches: give one
/// (the person online, her structure's staff recording one she gave on a
/// form or orally) and withdraw one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConsentActs {
    pub give: bool,
    pub withdraw: bool,
}

/// What the actor may do with the consents of `person`: the person herself
/// and her structure's staff give one while her accompaniment runs, and
/// withdraw one at any time, after her exit too, as easily as it was
/// given; anyone else nothing, even where a caller forgot to check that
/// the actor reaches her. Pages offer only that (`Person.viewerMay`); the
/// domain refuses a consent after the exit too.
pub async fn consent_acts(
    db: impl PgExecutor<'_> + Copy,
    actor: &Actor,
    person: PersonId,
) -> Result<ConsentActs, AppError> {
    let hers = match actor.role {
        Role::Admin | Role::Manager | Role::Mediator => true,
        Role::Person(own) => own == person,
        Role::Employer(_) | Role::System => false,
    };
    if !hers || !people::enrolled_in(db, person, actor.structure).await? {
        return Ok(ConsentActs::default());
    }
    Ok(ConsentActs {
        give: people::accompanied_by(db, person, actor.structure).await?,
        withdraw: true,
    })
}

/// Whether the actor consults who read its structure's people's health
/// data: its managers and admins, who answer for it.
pub fn reads_health_log(actor: &Actor) -> bool {
    matches!(actor.role, Role::Manager | Role::Admin)
}

/// Whether the actor reads the scheduled jobs' runs (when, how long, what
/// they did): managers and admins, who answer for the structure's mail and
/// retention. The runs name no person.
pub fn reads_job_runs(actor: &Actor) -> bool {
    matches!(actor.role, Role::Manager | Role::Admin)
}

/// Whether the actor administers its structure's staff: lists them with
/// their addresses and last logins, invites, deactivates, changes roles,
/// reads the record of those changes. Its managers and admins, for their
/// own structure only (the caller reads members within
/// `actor.structure`).
pub fn administers_staff(actor: &Actor) -> bool {
    matches!(actor.role, Role::Manager | Role::Admin)
}

/// Whether the actor may give `role` (to a new member or to a colleague):
/// an admin any staff role; a manager a manager's or a mediator's, never
/// an admin's, so that no one raises anyone above themself.
pub fn grants_role(actor: &Actor, role: Role) -> bool {
    match actor.role {
        Role::Admin => matches!(role, Role::Admin | Role::Manager | Role::Mediator),
        Role::Manager => matches!(role, Role::Manager | Role::Mediator),
        _ => false,
    }
}

/// Whether the actor may deactivate a colleague of `role`, or change their
/// role: a manager or an admin, but a manager not an admin (whom it could
/// not have made). Never themself: an account is closed or demoted by
/// someone else, so the structure always keeps the one acting; the caller
/// also checks, under the structure's lock, that another active manager or
/// admin remains when the colleague was one.
pub fn manages_colleague(
    actor: &Actor,
    colleague: passerelle_domain::values::UserId,
    role: Role,
) -> bool {
    let other = actor.id != format!("user:{colleague}");
    other
        && match actor.role {
            Role::Admin => true,
            Role::Manager => role != Role::Admin,
            _ => false,
        }
}
