//! Checks several aggregates share: dates of facts, unknown aggregates,
//! lists of codes.

use time::Date;

use crate::error::{DomainError, Rule};
use crate::fr::dates as fr;
use crate::values::RomeCode;

/// Refuses a date after today: facts are logged once they happened.
pub(crate) fn not_in_future(
    date: Date,
    today: Date,
    field: &'static str,
) -> Result<(), DomainError> {
    if date > today {
        return Err(DomainError::rule(
            Rule::DateInFuture,
            field,
            format!(
                "La date du {} est dans le futur : on enregistre ce qui a eu lieu, au plus tard aujourd'hui ({}).",
                fr::date(date),
                fr::date(today)
            ),
        ));
    }
    Ok(())
}

/// Refuses a date before the beginning of what it belongs to.
pub(crate) fn not_before(
    date: Date,
    start: Date,
    what_started: &str,
    field: &'static str,
) -> Result<(), DomainError> {
    if date < start {
        return Err(DomainError::rule(
            Rule::DateBeforeStart,
            field,
            format!(
                "La date du {} précède {what_started} (le {}).",
                fr::date(date),
                fr::date(start)
            ),
        ));
    }
    Ok(())
}

/// The command would create what already exists, or record a fact twice.
pub(crate) fn already_exists(field: &'static str, message: &str) -> DomainError {
    DomainError::conflict(Rule::AlreadyExists, field, message)
}

/// The command targets an aggregate that does not exist yet.
pub(crate) fn not_found(field: &'static str, message: &str) -> DomainError {
    DomainError::not_found(Rule::UnknownAggregate, field, message)
}

/// Each ROME code once, in the order given.
pub(crate) fn distinct(codes: &[RomeCode]) -> Vec<RomeCode> {
    let mut unique: Vec<RomeCode> = Vec::with_capacity(codes.len());
    for code in codes {
        if !unique.contains(code) {
            unique.push(code.clone());
        }
    }
    unique
}

/// At least one ROME code, each once, in the order given.
pub(crate) fn rome_codes(
    codes: &[RomeCode],
    field: &'static str,
) -> Result<Vec<RomeCode>, DomainError> {
    let unique = distinct(codes);
    if unique.is_empty() {
        return Err(DomainError::invalid(
            Rule::Required,
            field,
            "Indiquez au moins un métier (code ROME).",
        ));
    }
    Ok(unique)
}
