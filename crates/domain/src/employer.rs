//! The employer: a host establishment identified by its SIRET, shared by
//! every structure of the territory with its visit history, so that
//! structures stop soliciting the same company blindly.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::Date;

use crate::checks::{already_exists, not_found, not_in_future};
use crate::decider::{Decider, events};
use crate::error::{DomainError, Rule};
use crate::personal::Personal;
use crate::values::{
    CommuneCode, ContactId, Email, EmployerId, Label, NafDivision, PhoneNumber, Siret, StructureId,
    Text, UserId, VisitId,
};

/// Why a mediator visited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
pub enum VisitPurpose {
    /// A first visit, to understand the company and its needs.
    Prospection,
    /// A visit after a first contact, a need or an immersion.
    FollowUp,
    /// Supporting someone recently hired, and their employer (médiation
    /// dans l'emploi).
    InEmploymentMediation,
}

/// What a correction of an establishment's file changes: only the fields
/// given. Not the SIRET: it is the establishment's identity, unique across
/// the territory and what every structure finds it by; a wrong SIRET is
/// another establishment, to register as such.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmployerChanges {
    pub name: Option<Label>,
    pub naf: Option<NafDivision>,
    pub commune: Option<CommuneCode>,
    pub address: Option<Label>,
}

impl EmployerChanges {
    fn against(&self, current: &EmployerRegistered) -> EmployerChanges {
        EmployerChanges {
            name: self.name.clone().filter(|n| *n != current.name),
            naf: self.naf.clone().filter(|n| *n != current.naf),
            commune: self.commune.clone().filter(|c| *c != current.commune),
            address: self
                .address
                .clone()
                .filter(|a| Some(a) != current.address.as_ref()),
        }
    }

    fn is_empty(&self) -> bool {
        self == &EmployerChanges::default()
    }
}

/// A field of an establishment's file a correction changed, named in clear
/// so the record says which.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
pub enum EmployerField {
    Name,
    Naf,
    Commune,
    Address,
}

impl EmployerChanges {
    /// The fields given, in the file's order.
    pub fn fields(&self) -> Vec<EmployerField> {
        [
            (self.name.is_some(), EmployerField::Name),
            (self.naf.is_some(), EmployerField::Naf),
            (self.commune.is_some(), EmployerField::Commune),
            (self.address.is_some(), EmployerField::Address),
        ]
        .into_iter()
        .filter_map(|(given, field)| given.then_some(field))
        .collect()
    }
}

/// A field of a visit's record a correction changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
pub enum VisitField {
    VisitedOn,
    Purpose,
    Observations,
    NextStep,
}

impl VisitChanges {
    /// The fields given, in the record's order.
    pub fn fields(&self) -> Vec<VisitField> {
        [
            (self.visited_on.is_some(), VisitField::VisitedOn),
            (self.purpose.is_some(), VisitField::Purpose),
            (self.observations.is_some(), VisitField::Observations),
            (self.next_step.is_some(), VisitField::NextStep),
        ]
        .into_iter()
        .filter_map(|(given, field)| given.then_some(field))
        .collect()
    }
}

/// What a correction of a visit changes: only the fields given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisitChanges {
    pub visited_on: Option<Date>,
    pub purpose: Option<VisitPurpose>,
    pub observations: Option<Text>,
    pub next_step: Option<Text>,
}

impl VisitChanges {
    fn against(&self, current: &EmployerVisitLogged) -> VisitChanges {
        VisitChanges {
            visited_on: self.visited_on.filter(|d| *d != current.visited_on),
            purpose: self.purpose.filter(|p| *p != current.purpose),
            observations: self
                .observations
                .clone()
                .filter(|o| *o != current.observations),
            next_step: self
                .next_step
                .clone()
                .filter(|n| Some(n) != current.next_step.as_ref()),
        }
    }

    fn is_empty(&self) -> bool {
        self == &VisitChanges::default()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmployerCommand {
    Register {
        employer_id: EmployerId,
        siret: Siret,
        name: Label,
        naf: NafDivision,
        commune: CommuneCode,
        address: Option<Label>,
    },
    AddContact {
        contact_id: ContactId,
        name: Personal<Label>,
        job_title: Option<Label>,
        email: Option<Personal<Email>>,
        phone: Option<Personal<PhoneNumber>>,
    },
    RemoveContact {
        contact_id: ContactId,
    },
    LogVisit {
        visit_id: VisitId,
        visited_on: Date,
        mediator: UserId,
        structure: StructureId,
        purpose: VisitPurpose,
        observations: Text,
        next_step: Option<Text>,
    },
    SetHostingCapacity {
        /// How many immersions the establishment can host at once; 0 when it
        /// cannot host for now.
        simultaneous_immersions: u8,
        notes: Option<Text>,
    },
    /// Corrects a mistake in the establishment's file, with why.
    Correct {
        changes: EmployerChanges,
        reason: Text,
        corrected_on: Date,
    },
    /// Corrects a mistake in a visit's record, with why.
    CorrectVisit {
        visit_id: VisitId,
        changes: VisitChanges,
        reason: Text,
        corrected_on: Date,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmployerRegistered {
    pub employer_id: EmployerId,
    pub siret: Siret,
    pub name: Label,
    pub naf: NafDivision,
    pub commune: CommuneCode,
    pub address: Option<Label>,
}

/// A contact person at the employer. Their name and details are personal:
/// the store seals them under the contact's own id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactAdded {
    pub contact_id: ContactId,
    pub name: Personal<Label>,
    pub job_title: Option<Label>,
    pub email: Option<Personal<Email>>,
    pub phone: Option<Personal<PhoneNumber>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactRemoved {
    pub contact_id: ContactId,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmployerVisitLogged {
    pub visit_id: VisitId,
    pub visited_on: Date,
    pub mediator: UserId,
    /// The mediator's structure: other structures see who visited.
    pub structure: StructureId,
    pub purpose: VisitPurpose,
    pub observations: Text,
    pub next_step: Option<Text>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostingCapacitySet {
    pub simultaneous_immersions: u8,
    pub notes: Option<Text>,
}

/// A mistake in the establishment's file corrected: the fields that change
/// and why; the registration keeps the old values in the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmployerCorrected {
    pub changes: EmployerChanges,
    pub reason: Text,
    pub corrected_on: Date,
}

/// A mistake in a visit's record corrected, by the structure that logged
/// it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmployerVisitCorrected {
    pub visit_id: VisitId,
    pub changes: VisitChanges,
    pub reason: Text,
    pub corrected_on: Date,
}

events! {
    /// What happened to an employer.
    pub enum EmployerEvent {
        EmployerRegistered = ("employer_registered", 1),
        ContactAdded = ("employer_contact_added", 1),
        ContactRemoved = ("employer_contact_removed", 1),
        EmployerVisitLogged = ("employer_visit_logged", 1),
        HostingCapacitySet = ("employer_hosting_capacity_set", 1),
        EmployerCorrected = ("employer_corrected", 1),
        EmployerVisitCorrected = ("employer_visit_corrected", 1),
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EmployerState {
    pub registered: Option<EmployerRegistered>,
    pub contacts: BTreeMap<ContactId, ContactAdded>,
    /// Each visit as recorded now, corrections applied.
    pub visits: BTreeMap<VisitId, EmployerVisitLogged>,
    pub last_visit: Option<Date>,
    pub simultaneous_immersions: Option<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmployerContext {
    pub today: Date,
    /// The employer already registered with the command's SIRET, if any
    /// (from the employers view).
    pub siret_registered_as: Option<EmployerId>,
}

#[derive(Debug, Clone, Copy)]
pub struct Employer;

impl Decider for Employer {
    type Command = EmployerCommand;
    type Event = EmployerEvent;
    type State = EmployerState;
    type Context = EmployerContext;

    fn decide(
        command: &EmployerCommand,
        state: &EmployerState,
        context: &EmployerContext,
    ) -> Result<Vec<EmployerEvent>, DomainError> {
        use EmployerCommand as C;
        let event = match command {
            C::Register {
                employer_id,
                siret,
                name,
                naf,
                commune,
                address,
            } => {
                let registration = EmployerRegistered {
                    employer_id: *employer_id,
                    siret: siret.clone(),
                    name: name.clone(),
                    naf: naf.clone(),
                    commune: commune.clone(),
                    address: address.clone(),
                };
                register(registration, state, context)?
            }
            _ if state.registered.is_none() => {
                return Err(not_found(
                    "employerId",
                    "Cet employeur n'est pas enregistré.",
                ));
            }
            C::AddContact {
                contact_id,
                name,
                job_title,
                email,
                phone,
            } => add_contact(
                *contact_id,
                name,
                job_title.as_ref(),
                email.as_ref(),
                phone.as_ref(),
                state,
            )?,
            C::RemoveContact { contact_id } => remove_contact(*contact_id, state)?,
            C::LogVisit {
                visit_id,
                visited_on,
                mediator,
                structure,
                purpose,
                observations,
                next_step,
            } => {
                let visit = EmployerVisitLogged {
                    visit_id: *visit_id,
                    visited_on: *visited_on,
                    mediator: *mediator,
                    structure: *structure,
                    purpose: *purpose,
                    observations: observations.clone(),
                    next_step: next_step.clone(),
                };
                log_visit(visit, state, context)?
            }
            C::SetHostingCapacity {
                simultaneous_immersions,
                notes,
            } => HostingCapacitySet {
                simultaneous_immersions: *simultaneous_immersions,
                notes: notes.clone(),
            }
            .into(),
            C::Correct {
                changes,
                reason,
                corrected_on,
            } => correct(changes, reason, *corrected_on, state, context)?,
            C::CorrectVisit {
                visit_id,
                changes,
                reason,
                corrected_on,
            } => correct_visit(*visit_id, changes, reason, *corrected_on, state, context)?,
        };
        Ok(vec![event])
    }

    fn evolve(mut state: EmployerState, event: &EmployerEvent) -> EmployerState {
        match event {
            EmployerEvent::EmployerRegistered(e) => state.registered = Some(e.clone()),
            EmployerEvent::ContactAdded(e) => {
                state.contacts.insert(e.contact_id, e.clone());
            }
            EmployerEvent::ContactRemoved(e) => {
                state.contacts.remove(&e.contact_id);
            }
            EmployerEvent::EmployerVisitLogged(e) => {
                state.visits.insert(e.visit_id, e.clone());
                state.last_visit = state.last_visit.max(Some(e.visited_on));
            }
            EmployerEvent::EmployerCorrected(e) => {
                if let Some(registered) = &mut state.registered {
                    let c = &e.changes;
                    if let Some(name) = &c.name {
                        registered.name = name.clone();
                    }
                    if let Some(naf) = &c.naf {
                        registered.naf = naf.clone();
                    }
                    if let Some(commune) = &c.commune {
                        registered.commune = commune.clone();
                    }
                    if let Some(address) = &c.address {
                        registered.address = Some(address.clone());
                    }
                }
            }
            EmployerEvent::EmployerVisitCorrected(e) => {
                if let Some(visit) = state.visits.get_mut(&e.visit_id) {
                    let c = &e.changes;
                    if let Some(day) = c.visited_on {
                        visit.visited_on = day;
                    }
                    if let Some(purpose) = c.purpose {
                        visit.purpose = purpose;
                    }
                    if let Some(observations) = &c.observations {
                        visit.observations = observations.clone();
                    }
                    if let Some(next_step) = &c.next_step {
                        visit.next_step = Some(next_step.clone());
                    }
                }
                state.last_visit = state.visits.values().map(|v| v.visited_on).max();
            }
            EmployerEvent::HostingCapacitySet(e) => {
                state.simultaneous_immersions = Some(e.simultaneous_immersions);
            }
        }
        state
    }
}

fn register(
    registration: EmployerRegistered,
    state: &EmployerState,
    context: &EmployerContext,
) -> Result<EmployerEvent, DomainError> {
    if state.registered.is_some() {
        return Err(already_exists(
            "employerId",
            "Cet employeur est déjà enregistré.",
        ));
    }
    if context.siret_registered_as.is_some() {
        let siret = &registration.siret;
        return Err(DomainError::conflict(
            Rule::SiretAlreadyRegistered,
            "siret",
            format!(
                "L'établissement {siret} est déjà enregistré : ouvrez sa fiche pour voir ses visites et ses besoins."
            ),
        ));
    }
    Ok(registration.into())
}

fn add_contact(
    contact_id: ContactId,
    name: &Personal<Label>,
    job_title: Option<&Label>,
    email: Option<&Personal<Email>>,
    phone: Option<&Personal<PhoneNumber>>,
    state: &EmployerState,
) -> Result<EmployerEvent, DomainError> {
    if state.contacts.contains_key(&contact_id) {
        return Err(already_exists(
            "contactId",
            "Ce contact est déjà enregistré.",
        ));
    }
    Ok(ContactAdded {
        contact_id,
        name: name.clone(),
        job_title: job_title.cloned(),
        email: email.cloned(),
        phone: phone.cloned(),
    }
    .into())
}

fn remove_contact(
    contact_id: ContactId,
    state: &EmployerState,
) -> Result<EmployerEvent, DomainError> {
    if !state.contacts.contains_key(&contact_id) {
        return Err(DomainError::not_found(
            Rule::ContactUnknown,
            "contactId",
            "Ce contact n'existe pas chez cet employeur.",
        ));
    }
    Ok(ContactRemoved { contact_id }.into())
}

fn log_visit(
    visit: EmployerVisitLogged,
    state: &EmployerState,
    context: &EmployerContext,
) -> Result<EmployerEvent, DomainError> {
    if state.visits.contains_key(&visit.visit_id) {
        return Err(already_exists(
            "visitId",
            "Cette visite est déjà enregistrée.",
        ));
    }
    not_in_future(visit.visited_on, context.today, "visitedOn")?;
    Ok(visit.into())
}

fn nothing_to_correct(field: &'static str, what: &str) -> DomainError {
    DomainError::rule(
        Rule::NothingToCorrect,
        field,
        format!(
            "Rien ne change : indiquez au moins une valeur différente de celle enregistrée ({what})."
        ),
    )
}

fn correct(
    changes: &EmployerChanges,
    reason: &Text,
    corrected_on: Date,
    state: &EmployerState,
    context: &EmployerContext,
) -> Result<EmployerEvent, DomainError> {
    let Some(registered) = &state.registered else {
        return Err(not_found(
            "employerId",
            "Cet employeur n'est pas enregistré.",
        ));
    };
    not_in_future(corrected_on, context.today, "correctedOn")?;
    let changes = changes.against(registered);
    if changes.is_empty() {
        return Err(nothing_to_correct(
            "changes",
            "nom, secteur, commune ou adresse",
        ));
    }
    Ok(EmployerCorrected {
        changes,
        reason: reason.clone(),
        corrected_on,
    }
    .into())
}

fn correct_visit(
    visit_id: VisitId,
    changes: &VisitChanges,
    reason: &Text,
    corrected_on: Date,
    state: &EmployerState,
    context: &EmployerContext,
) -> Result<EmployerEvent, DomainError> {
    let Some(visit) = state.visits.get(&visit_id) else {
        return Err(DomainError::not_found(
            Rule::VisitUnknown,
            "visitId",
            "Cette visite n'existe pas chez cet employeur.",
        ));
    };
    not_in_future(corrected_on, context.today, "correctedOn")?;
    let changes = changes.against(visit);
    if changes.is_empty() {
        return Err(nothing_to_correct(
            "changes",
            "date, objet, observations ou suite prévue",
        ));
    }
    if let Some(day) = changes.visited_on {
        not_in_future(day, context.today, "changes.visitedOn")?;
    }
    Ok(EmployerVisitCorrected {
        visit_id,
        changes,
        reason: reason.clone(),
        corrected_on,
    }
    .into())
}
