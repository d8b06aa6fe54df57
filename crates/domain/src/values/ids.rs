//! Identifiers. The caller draws them (UUIDv7 or v4): the domain does not
//! generate randomness, so a decision replays identically.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! ids {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    )*};
}

ids! {
    /// A host establishment (one SIRET).
    EmployerId,
    /// A contact person at an employer.
    ContactId,
    /// One visit to an employer.
    VisitId,
    /// An emerging need (besoin émergent).
    NeedId,
    /// A person accompanied.
    PersonId,
    /// A PMSMP immersion, from proposal to its last follow-up.
    ImmersionId,
    /// A testimony (parcours vécu).
    TestimonyId,
    /// A support structure: the tenant.
    StructureId,
    /// A user account (mediator, manager, admin).
    UserId,
    /// A job inquiry (enquête métier) a person held.
    InquiryId,
    /// A meeting with a peer.
    MeetingId,
    /// A mentorship (parrainage).
    MentorshipId,
    /// A work accident during an immersion.
    AccidentId,
}
