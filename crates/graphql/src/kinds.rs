//! The enums several features share with the dashboards that count by
//! them, as clients send and filter with them.

use async_graphql::Enum;
use passerelle_domain::immersion::{Milestone as DomainMilestone, Objective as DomainObjective};
use passerelle_domain::values::ContractType;

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum NeedSourceKind {
    Visit,
    Portal,
    Phone,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum Objective {
    DiscoverJobOrSector,
    ConfirmProject,
    InitiateRecruitment,
}

impl From<Objective> for DomainObjective {
    fn from(o: Objective) -> Self {
        match o {
            Objective::DiscoverJobOrSector => DomainObjective::DiscoverJobOrSector,
            Objective::ConfirmProject => DomainObjective::ConfirmProject,
            Objective::InitiateRecruitment => DomainObjective::InitiateRecruitment,
        }
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum Milestone {
    End,
    OneMonth,
    ThreeMonths,
    SixMonths,
}

impl From<Milestone> for DomainMilestone {
    fn from(m: Milestone) -> Self {
        match m {
            Milestone::End => DomainMilestone::End,
            Milestone::OneMonth => DomainMilestone::OneMonth,
            Milestone::ThreeMonths => DomainMilestone::ThreeMonths,
            Milestone::SixMonths => DomainMilestone::SixMonths,
        }
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum OutcomeKind {
    Hired,
    Training,
    NewImmersion,
    ProjectReadjusted,
    Nothing,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum Contract {
    Cdi,
    CddSixMonthsOrMore,
    CddUnderSixMonths,
    Alternance,
    ContratAide,
    ContratInsertion,
    Interim,
    Other,
}

impl From<Contract> for ContractType {
    fn from(c: Contract) -> Self {
        match c {
            Contract::Cdi => ContractType::Cdi,
            Contract::CddSixMonthsOrMore => ContractType::CddSixMonthsOrMore,
            Contract::CddUnderSixMonths => ContractType::CddUnderSixMonths,
            Contract::Alternance => ContractType::Alternance,
            Contract::ContratAide => ContractType::ContratAide,
            Contract::ContratInsertion => ContractType::ContratInsertion,
            Contract::Interim => ContractType::Interim,
            Contract::Other => ContractType::Other,
        }
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum CauseKind {
    ImmersionFeedback,
    JobInquiry,
    PeerMeeting,
    Mentorship,
}
