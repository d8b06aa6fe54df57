//! The French labels of the API's enum values, for every page: the
//! domain's ([`passerelle_domain::fr::Labelled`]), listed as the API names
//! each value.

use std::sync::LazyLock;

use passerelle_domain::employer::VisitPurpose;
use passerelle_domain::fr::Labelled;
use passerelle_domain::immersion::{
    AttendanceKind, Initiator, Level, Milestone, Objective, Outcome, Signatory, SituationKind,
    Skill, Stage,
};
use passerelle_domain::need::{HiringIntent, Horizon, NeedCloseReasonKind, NeedSource};
use passerelle_domain::person::{ExitReasonKind, PersonStage};
use passerelle_domain::values::{AgeBand, ContractType};
use passerelle_graphql::{DeliveryState, ScheduledJob};

/// Each value as the API names it (`DISCOVER_JOB_OR_SECTOR`), with its label.
fn options<T: Labelled>() -> Vec<(&'static str, &'static str)> {
    T::ALL
        .iter()
        .map(|v| {
            // Built once per list for the life of the process.
            let name: &'static str = Box::leak(v.code().to_ascii_uppercase().into_boxed_str());
            (name, v.french())
        })
        .collect()
}

type Options = LazyLock<Vec<(&'static str, &'static str)>>;

/// Whether a list of the page offers `value`: a value sent by hand is
/// neither read as one of its options nor refused in the API's names.
pub(crate) fn offers(options: &[(&str, &str)], value: &str) -> bool {
    options.iter().any(|(option, _)| *option == value)
}

pub(crate) static OBJECTIVES: Options = LazyLock::new(options::<Objective>);
pub(crate) static SITUATIONS: Options = LazyLock::new(options::<SituationKind>);
pub(crate) static HORIZONS: Options = LazyLock::new(options::<Horizon>);
pub(crate) static INTENTS: Options = LazyLock::new(options::<HiringIntent>);
pub(crate) static PURPOSES: Options = LazyLock::new(options::<VisitPurpose>);
pub(crate) static SKILLS: Options = LazyLock::new(options::<Skill>);
pub(crate) static LEVELS: Options = LazyLock::new(options::<Level>);
pub(crate) static ATTENDANCES: Options = LazyLock::new(options::<AttendanceKind>);
pub(crate) static CONTRACTS: Options = LazyLock::new(options::<ContractType>);
pub(crate) static MILESTONES: Options = LazyLock::new(options::<Milestone>);
pub(crate) static INITIATORS: Options = LazyLock::new(options::<Initiator>);
pub(crate) static SIGNATORIES: Options = LazyLock::new(options::<Signatory>);
pub(crate) static OUTCOMES: Options = LazyLock::new(options::<Outcome>);
pub(crate) static AGE_BANDS: Options = LazyLock::new(options::<AgeBand>);
pub(crate) static CLOSE_REASONS: Options = LazyLock::new(options::<NeedCloseReasonKind>);
pub(crate) static SOURCES: Options = LazyLock::new(options::<NeedSource>);
pub(crate) static EXIT_REASONS: Options = LazyLock::new(options::<ExitReasonKind>);
pub(crate) static DELIVERY_STATES: Options = LazyLock::new(options::<DeliveryState>);
pub(crate) static JOBS: Options = LazyLock::new(options::<ScheduledJob>);
/// Where an immersion stands, as the immersions' list filters it.
pub(crate) static STAGES: Options = LazyLock::new(options::<Stage>);

/// Where a person stands in their accompaniment, as the people list's
/// filter offers it, in the order of a path.
pub(crate) static PERSON_STAGES: Options = LazyLock::new(options::<PersonStage>);

/// A need formalised as an offer, as its lists and its page say it: with
/// the offer's reference when one was given.
pub(crate) fn offer_published(reference: Option<&str>) -> String {
    match reference {
        Some(r) => format!("Offre publiée : {r}"),
        None => "Offre publiée, sans référence".to_owned(),
    }
}
