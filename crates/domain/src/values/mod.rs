//! Value objects: parsed once at the edge, they cannot hold a bad value, so
//! deciders never check a SIRET or a ROME code again.

mod contact;
mod contract;
mod ids;
mod period;
mod referential;
mod siret;
mod text;

pub use contact::{Email, PhoneNumber};
pub use contract::ContractType;
pub use ids::{
    AccidentId, ContactId, EmployerId, ImmersionId, InquiryId, MeetingId, MentorshipId, NeedId,
    PersonId, StructureId, TestimonyId, UserId, VisitId,
};
pub use period::{
    AgeBand, DateRange, WeeklyHours, add_months, age_on, one_month_after, twelve_months_after,
};
pub use referential::{Commune, CommuneCode, NafDivision, RomeCode};
pub use siret::Siret;
pub use text::{Label, Text};
