//! The active-mediation domain: events, aggregates as pure deciders,
//! commands, value objects, PMSMP rules and reference data.
//!
//! Pure Rust: no I/O, no async, no clock of its own (time is passed in), and
//! no dependency on the database, HTTP or GraphQL crates. A test over
//! `cargo metadata` keeps it so.

mod personal;

pub use personal::Personal;
