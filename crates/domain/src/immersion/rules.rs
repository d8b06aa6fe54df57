//! The rules that need a person's history with a host (D5135-3): at most
//! two conventions with the same host in 12 consecutive months, with
//! different objectives or goals, and 60 days in total, renewals included.
//! The national platform enforces none of these; Passerelle does.

use serde::{Deserialize, Serialize};

use super::convention::Objective;
use crate::error::{DomainError, Rule};
use crate::fr::dates as fr;
use crate::values::{DateRange, ImmersionId, Text, twelve_months_after};

/// Most conventions for one person with one host in 12 consecutive months.
pub const MAX_CONVENTIONS_WITH_HOST: usize = 2;
/// Most days of immersion for one person with one host in 12 consecutive
/// months, renewals included.
pub const MAX_DAYS_WITH_HOST: i64 = 60;

/// Another convention of the same person with the same host (same SIRET),
/// as the immersions view knows it: drafted or further, neither cancelled,
/// rejected nor deprecated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriorConvention {
    pub immersion_id: ImmersionId,
    pub objective: Objective,
    pub goals: Text,
    /// From its first day to the last day of its renewal, if any.
    pub span: DateRange,
    /// Calendar days of the convention and its renewal.
    pub days: i64,
}

/// The convention (or renewal) being decided, as the history rules see it.
pub(crate) struct Candidate<'a> {
    pub span: DateRange,
    pub days: i64,
    pub objective: Objective,
    pub goals: &'a Text,
    /// False for a renewal: it adds days, not a convention.
    pub is_new_convention: bool,
}

fn same_goals(a: &Text, b: &Text) -> bool {
    let words = |t: &Text| {
        t.as_str()
            .to_lowercase()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    words(a) == words(b)
}

fn periods(conventions: &[&PriorConvention]) -> String {
    conventions
        .iter()
        .map(|p| p.span.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) fn check_history(
    candidate: &Candidate<'_>,
    history: &[PriorConvention],
    field: &'static str,
) -> Result<(), DomainError> {
    if candidate.is_new_convention {
        let repeated = history.iter().find(|p| {
            p.span.within_twelve_months_of(&candidate.span)
                && p.objective == candidate.objective
                && same_goals(&p.goals, candidate.goals)
        });
        if let Some(prior) = repeated {
            return Err(DomainError::rule(
                Rule::SameObjectiveWithHost,
                "convention.goals",
                format!(
                    "La personne a déjà eu une convention avec cette structure d'accueil ({}) avec le même objectif ({}) et les mêmes objectifs précis : une nouvelle convention dans les 12 mois doit viser un autre objectif.",
                    prior.span,
                    candidate.objective.label()
                ),
            ));
        }
    }
    // Every window of 12 consecutive months that holds the candidate: the
    // rules must hold in each. Windows are scanned day by day over the year
    // before the candidate's start, which is exact and cheap (≤ 366 × the
    // few conventions one person has with one host).
    let start = candidate.span.start();
    let mut first = start;
    for _ in 0..366 {
        match first.previous_day() {
            Some(day) => first = day,
            None => break,
        }
    }
    let mut window_start = first;
    while window_start <= start {
        let window_end = twelve_months_after(window_start);
        if window_end >= candidate.span.end() {
            let inside: Vec<&PriorConvention> = history
                .iter()
                .filter(|p| p.span.start() >= window_start && p.span.end() <= window_end)
                .collect();
            if candidate.is_new_convention && inside.len() + 1 > MAX_CONVENTIONS_WITH_HOST {
                return Err(DomainError::rule(
                    Rule::TwoConventionsPerHostIn12Months,
                    field,
                    format!(
                        "La personne a déjà {} conventions avec cette structure d'accueil sur 12 mois consécutifs ({}) : {MAX_CONVENTIONS_WITH_HOST} au plus. Choisissez une autre structure d'accueil ou des dates plus éloignées.",
                        inside.len(),
                        periods(&inside)
                    ),
                ));
            }
            let before: i64 = inside.iter().map(|p| p.days).sum();
            let total = before + candidate.days;
            if total > MAX_DAYS_WITH_HOST {
                let remedy = match MAX_DAYS_WITH_HOST - before {
                    left if left > 0 => {
                        format!("Raccourcissez la période à {} au plus.", fr::days(left))
                    }
                    _ => "Choisissez une autre structure d'accueil ou des dates plus éloignées."
                        .to_owned(),
                };
                return Err(DomainError::rule(
                    Rule::SixtyDaysWithHost,
                    field,
                    format!(
                        "Avec cette structure d'accueil, la personne a déjà {} d'immersion sur 12 mois consécutifs ({}) ; cette période en ajoute {} : {} au total, {MAX_DAYS_WITH_HOST} au plus, renouvellements compris. {remedy}",
                        fr::days(before),
                        periods(&inside),
                        fr::days(candidate.days),
                        fr::days(total),
                    ),
                ));
            }
        }
        match window_start.next_day() {
            Some(day) => window_start = day,
            None => break,
        }
    }
    Ok(())
}
