//! The employer: a host establishment identified by its SIRET, shared by
//! every structure of the territory with its visit history, so that
//! structures stop soliciting the same company blindly.

use std::collections::{BTreeMap, BTreeSet};

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

events! {
    /// What happened to an employer.
    pub enum EmployerEvent {
        EmployerRegistered = ("employer_registered", 1),
        ContactAdded = ("employer_contact_added", 1),
        ContactRemoved = ("employer_contact_removed", 1),
        EmployerVisitLogged = ("employer_visit_logged", 1),
        HostingCapacitySet = ("employer_hosting_capacity_set", 1),
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EmployerState {
    pub registered: Option<EmployerRegistered>,
    pub contacts: BTreeMap<ContactId, ContactAdded>,
    pub visits: BTreeSet<VisitId>,
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
                state.visits.insert(e.visit_id);
                state.last_visit = state.last_visit.max(Some(e.visited_on));
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
    if let Some(existing) = context.siret_registered_as {
        let siret = &registration.siret;
        return Err(DomainError::conflict(
            Rule::SiretAlreadyRegistered,
            "siret",
            format!(
                "L'établissement {siret} est déjà enregistré (fiche {existing}) : ouvrez sa fiche pour voir ses visites et ses besoins."
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
    if state.visits.contains(&visit.visit_id) {
        return Err(already_exists(
            "visitId",
            "Cette visite est déjà enregistrée.",
        ));
    }
    not_in_future(visit.visited_on, context.today, "visitedOn")?;
    Ok(visit.into())
}
