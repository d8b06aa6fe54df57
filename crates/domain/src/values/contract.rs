//! Kinds of employment contract, as the national PMSMP platform and the
//! dashboards count them.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(
    feature = "graphql",
    derive(async_graphql::Enum),
    graphql(name = "Contract")
)]
pub enum ContractType {
    /// Contrat à durée indéterminée.
    Cdi,
    /// Contrat à durée déterminée of six months or more.
    CddSixMonthsOrMore,
    /// Contrat à durée déterminée of less than six months.
    CddUnderSixMonths,
    /// Apprenticeship or professionalisation contract.
    Alternance,
    /// A state-subsidised contract (PEC…).
    ContratAide,
    /// A contract in an integration structure (SIAE: chantier, entreprise
    /// d'insertion…).
    ContratInsertion,
    /// Temporary agency work.
    Interim,
    Other,
}
