//! How each decider of the domain is stored: its stream, whose key seals
//! the personal values of its events, and how events stored under an older
//! schema version read.

use std::fmt::Display;

use passerelle_domain::employer::{Employer, EmployerEvent};
use passerelle_domain::immersion::{Immersion, ImmersionEvent};
use passerelle_domain::need::Need;
use passerelle_domain::person::{Person, PersonEvent};
use passerelle_domain::testimony::{Testimony, TestimonyEvent};
use passerelle_domain::values::{EmployerId, ImmersionId, NeedId, PersonId, TestimonyId};
use passerelle_domain::{Decider, EventType, upcast};
use passerelle_store::Upcasters;
use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

/// The domain's upcasting steps, for the store to apply on read: every
/// store that reads the domain's events is made with them.
pub fn upcasters() -> Upcasters {
    upcast::STEPS.iter().fold(
        Upcasters::default(),
        |upcasters, &(event_type, from, step)| upcasters.with(event_type, from, step),
    )
}

pub trait Aggregate:
    Decider<
        Event: EventType + Serialize + DeserializeOwned + Send + Sync,
        State: Send + Sync + 'static,
        // Debug writes every field: the command's fingerprint is made of it.
        Command: std::fmt::Debug + Send + Sync,
        Context: Send,
    >
{
    /// The stream category: streams are named `<category>-<id>`.
    const CATEGORY: &'static str;
    /// Whether a command on a stream whose state is kept is decided before
    /// the stream is read (`Handler::execute`): only where an event of an
    /// existing stream may be sealed with no key, the one kind appended
    /// without that read, and where every context source reads views
    /// without effect, since a context read first is read before the
    /// read's checks (the session, the command id).
    const DECIDED_BEFORE_READ: bool = false;
    type Id: Copy + Display + Send + Sync;

    fn stream_id(id: Self::Id) -> String {
        format!("{}-{id}", Self::CATEGORY)
    }

    /// The data subject whose key seals the personal values of `event`,
    /// given the state before it: the person for their own events, their
    /// immersions and their testimonies; the contact for an employer's
    /// contact.
    fn subject(state: &Self::State, event: &Self::Event) -> Option<Uuid>;
}

impl Aggregate for Employer {
    const CATEGORY: &'static str = "employer";
    const DECIDED_BEFORE_READ: bool = true;
    type Id = EmployerId;

    fn subject(_: &Self::State, event: &EmployerEvent) -> Option<Uuid> {
        match event {
            EmployerEvent::ContactAdded(e) => Some(e.contact_id.as_uuid()),
            _ => None,
        }
    }
}

impl Aggregate for Need {
    const CATEGORY: &'static str = "need";
    const DECIDED_BEFORE_READ: bool = true;
    type Id = NeedId;

    fn subject(_: &Self::State, _: &Self::Event) -> Option<Uuid> {
        None
    }
}

impl Aggregate for Person {
    const CATEGORY: &'static str = "person";
    type Id = PersonId;

    fn subject(state: &Self::State, event: &PersonEvent) -> Option<Uuid> {
        match event {
            PersonEvent::PersonEnrolled(e) => Some(e.person_id.as_uuid()),
            _ => state.enrolment.as_ref().map(|e| e.person_id.as_uuid()),
        }
    }
}

impl Aggregate for Immersion {
    const CATEGORY: &'static str = "immersion";
    type Id = ImmersionId;

    fn subject(state: &Self::State, event: &ImmersionEvent) -> Option<Uuid> {
        match event {
            ImmersionEvent::ImmersionProposed(e) => Some(e.person_id.as_uuid()),
            _ => state.person().map(|p| p.as_uuid()),
        }
    }
}

impl Aggregate for Testimony {
    const CATEGORY: &'static str = "testimony";
    type Id = TestimonyId;

    fn subject(state: &Self::State, event: &TestimonyEvent) -> Option<Uuid> {
        match event {
            TestimonyEvent::TestimonyRecorded(e) => Some(e.author.as_uuid()),
            _ => state.author.map(|p| p.as_uuid()),
        }
    }
}
