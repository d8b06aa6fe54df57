//! The active-mediation domain: events, aggregates as pure deciders,
//! commands, value objects, PMSMP rules and reference data.
//!
//! Pure Rust: no I/O, no async, no clock of its own (time is passed in), and
//! no dependency on the database, HTTP or GraphQL crates. A test over
//! `cargo metadata` keeps it so.
//!
//! Each aggregate is a [`Decider`]: `decide(&command, &state, &context)`
//! returns the events to append or a [`DomainError`] naming the rule, the
//! field and what to change, in French; `evolve(state, &event)` folds them.
//! Values that reach a command are already parsed ([`values`]), so a
//! decider never sees a malformed SIRET or an unknown ROME code.
//!
//! Personal values are typed [`Personal`]: the store seals them with the key
//! of the person they belong to (the person accompanied for their own
//! events, testimonies and conventions; the contact for an employer's
//! contacts), and they read back as erased once that key is deleted.

pub mod calendar;
mod checks;
pub mod consent_texts;
pub mod decider;
pub mod employer;
pub mod error;
pub mod fr;
pub mod immersion;
pub mod need;
pub mod person;
mod personal;
pub mod testimony;
pub mod upcast;
pub mod values;

pub use decider::{Decider, EventType};
pub use error::{DomainError, ErrorKind, Rule};
pub use personal::{ERASED_KEY, PERSONAL_KEY, Personal};
pub use values::{echoed, shown_again};
