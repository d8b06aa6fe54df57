//! Value objects: parsed once at the edge, they cannot hold a bad value, so
//! deciders never check a SIRET or a ROME code again.

/// What every value kept as a string shares: it is stored as that string and
/// read back through `parse` (or, for codes whose referential changes, a
/// shape check), and it shows as the string unless it says otherwise.
macro_rules! string_value {
    ($name:ident, $error:ty, $read:expr) => {
        impl TryFrom<String> for $name {
            type Error = $error;
            fn try_from(value: String) -> Result<Self, $error> {
                let read: fn(String) -> Result<Self, $error> = $read;
                read(value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }
    };
    ($name:ident, $error:ty, $read:expr, display) => {
        string_value!($name, $error, $read);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

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
    AgeBand, DateRange, PLAUSIBLE_YEARS, WeeklyHours, add_months, age_on, one_month_after,
    parse_date, plausible_date, twelve_months_after,
};
pub use referential::{Commune, CommuneCode, NafDivision, RomeCode, departement_name, region_name};
pub use siret::Siret;
pub use text::{ECHOED_CHARS, Label, Text, echoed, search_key, shown_again};
