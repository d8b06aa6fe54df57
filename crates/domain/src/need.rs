//! The emerging need (besoin émergent): what an employer needs before it is
//! written as a job offer. Surfaced during a visit, from the portal or on the
//! phone, qualified with the mediator, then formalised as an offer or closed.

use serde::{Deserialize, Serialize};
use time::Date;

use crate::checks::{already_exists, distinct, not_before, not_found, not_in_future, rome_codes};
use crate::decider::{Decider, events};
use crate::error::{DomainError, Rule};
use crate::values::{EmployerId, Label, NeedId, RomeCode, Text, VisitId};

/// Where the need was first heard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NeedSource {
    Visit { visit_id: VisitId },
    Portal,
    Phone,
}

/// Where a need was first heard, without the visit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
pub enum NeedSourceKind {
    Visit,
    Portal,
    Phone,
}

impl NeedSource {
    pub fn kind(self) -> NeedSourceKind {
        match self {
            NeedSource::Visit { .. } => NeedSourceKind::Visit,
            NeedSource::Portal => NeedSourceKind::Portal,
            NeedSource::Phone => NeedSourceKind::Phone,
        }
    }
}

/// When the employer would need someone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
pub enum Horizon {
    Now,
    WithinThreeMonths,
    WithinSixMonths,
    WithinAYear,
    NotKnownYet,
}

/// Whether the employer would hire at the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
pub enum HiringIntent {
    None,
    Possible,
    Planned,
}

/// The need as described: in plain words first, job codes when known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NeedDescription {
    /// The activities and tasks, in the employer's words.
    pub activities: Text,
    /// Candidate jobs; may be empty when the employer describes it alone.
    pub rome_codes: Vec<RomeCode>,
    /// Hours, place, physical demands, equipment…
    pub conditions: Option<Text>,
    pub headcount: u16,
    pub horizon: Horizon,
    pub hiring_intent: HiringIntent,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NeedCloseReason {
    /// Someone met the need (through an immersion or otherwise).
    Met,
    NoLongerNeeded,
    NoSuitableCandidate,
    Other {
        explanation: Text,
    },
}

/// Why a need was closed, without the explanation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
pub enum NeedCloseReasonKind {
    Met,
    NoLongerNeeded,
    NoSuitableCandidate,
    Other,
}

impl NeedCloseReason {
    pub fn kind(&self) -> NeedCloseReasonKind {
        match self {
            NeedCloseReason::Met => NeedCloseReasonKind::Met,
            NeedCloseReason::NoLongerNeeded => NeedCloseReasonKind::NoLongerNeeded,
            NeedCloseReason::NoSuitableCandidate => NeedCloseReasonKind::NoSuitableCandidate,
            NeedCloseReason::Other { .. } => NeedCloseReasonKind::Other,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NeedCommand {
    Surface {
        need_id: NeedId,
        employer_id: EmployerId,
        source: NeedSource,
        description: NeedDescription,
        surfaced_on: Date,
    },
    /// The mediator and the employer put the need into shape: jobs named,
    /// conditions and headcount agreed.
    Qualify {
        description: NeedDescription,
        qualified_on: Date,
    },
    FormaliseAsOffer {
        offer_reference: Option<Label>,
        formalised_on: Date,
    },
    Close {
        reason: NeedCloseReason,
        closed_on: Date,
    },
    /// Corrects a mistake in the need's description, with why: the whole
    /// description as it should read, as `Qualify` gives it, without
    /// qualifying the need.
    Correct {
        description: NeedDescription,
        reason: Text,
        corrected_on: Date,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NeedSurfaced {
    pub need_id: NeedId,
    pub employer_id: EmployerId,
    pub source: NeedSource,
    pub description: NeedDescription,
    pub surfaced_on: Date,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NeedQualified {
    pub description: NeedDescription,
    pub qualified_on: Date,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NeedFormalisedAsOffer {
    pub offer_reference: Option<Label>,
    pub formalised_on: Date,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NeedClosed {
    pub reason: NeedCloseReason,
    pub closed_on: Date,
}

/// A mistake in a need's description corrected; the description before
/// stays in the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NeedCorrected {
    pub description: NeedDescription,
    pub reason: Text,
    pub corrected_on: Date,
}

events! {
    /// What happened to a need.
    pub enum NeedEvent {
        NeedSurfaced = ("need_surfaced", 1),
        NeedQualified = ("need_qualified", 1),
        NeedFormalisedAsOffer = ("need_formalised_as_offer", 1),
        NeedClosed = ("need_closed", 1),
        NeedCorrected = ("need_corrected", 1),
    }
}

// The views keep it by its JSON name (`formalised_as_offer`).
/// Where a need stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
pub enum NeedStatus {
    #[default]
    Open,
    FormalisedAsOffer,
    Closed,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NeedState {
    pub surfaced: Option<NeedSurfaced>,
    pub description: Option<NeedDescription>,
    pub qualified: bool,
    pub status: NeedStatus,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeedContext {
    pub today: Date,
    /// The visits logged at the employer the command names, or `None` when
    /// no such employer is registered (from the employers view).
    pub employer_visits: Option<Vec<VisitId>>,
}

#[derive(Debug, Clone, Copy)]
pub struct Need;

/// Headcounts beyond this are a recruitment campaign, not an emerging need.
const MAX_HEADCOUNT: u16 = 50;

fn checked(
    description: &NeedDescription,
    rome_required: bool,
) -> Result<NeedDescription, DomainError> {
    if !(1..=MAX_HEADCOUNT).contains(&description.headcount) {
        return Err(DomainError::invalid(
            Rule::HeadcountRange,
            "description.headcount",
            format!("Indiquez combien de personnes, de 1 à {MAX_HEADCOUNT}."),
        ));
    }
    let codes = if rome_required {
        rome_codes(&description.rome_codes, "description.romeCodes")?
    } else {
        distinct(&description.rome_codes)
    };
    Ok(NeedDescription {
        rome_codes: codes,
        ..description.clone()
    })
}

/// What every command but the first acts on: a need surfaced and not
/// closed, with the context its rules read.
#[derive(Clone, Copy)]
struct Existing<'a> {
    surfaced_on: Date,
    state: &'a NeedState,
    context: &'a NeedContext,
}

impl<'a> Existing<'a> {
    fn new(state: &'a NeedState, context: &'a NeedContext) -> Result<Self, DomainError> {
        let Some(surfaced) = &state.surfaced else {
            return Err(not_found("needId", "Ce besoin n'existe pas."));
        };
        if state.status == NeedStatus::Closed {
            return Err(DomainError::rule(
                Rule::NeedClosed,
                "needId",
                "Ce besoin est clos : enregistrez un nouveau besoin.",
            ));
        }
        Ok(Self {
            surfaced_on: surfaced.surfaced_on,
            state,
            context,
        })
    }
}

impl Decider for Need {
    type Command = NeedCommand;
    type Event = NeedEvent;
    type State = NeedState;
    type Context = NeedContext;

    fn decide(
        command: &NeedCommand,
        state: &NeedState,
        context: &NeedContext,
    ) -> Result<Vec<NeedEvent>, DomainError> {
        let existing = || Existing::new(state, context);
        let event = match command {
            NeedCommand::Surface {
                need_id,
                employer_id,
                source,
                description,
                surfaced_on,
            } => surface(
                *need_id,
                *employer_id,
                *source,
                description,
                *surfaced_on,
                state,
                context,
            )?,
            NeedCommand::Qualify {
                description,
                qualified_on,
            } => qualify(description, *qualified_on, existing()?)?,
            NeedCommand::FormaliseAsOffer {
                offer_reference,
                formalised_on,
            } => formalise_as_offer(offer_reference.as_ref(), *formalised_on, existing()?)?,
            NeedCommand::Close { reason, closed_on } => close(reason, *closed_on, existing()?)?,
            // A closed need's record is corrected too: it stays in the
            // employer's history and the figures.
            NeedCommand::Correct {
                description,
                reason,
                corrected_on,
            } => correct(description, reason, *corrected_on, state, context)?,
        };
        Ok(vec![event])
    }

    fn evolve(mut state: NeedState, event: &NeedEvent) -> NeedState {
        match event {
            NeedEvent::NeedSurfaced(e) => {
                state.description = Some(e.description.clone());
                state.surfaced = Some(e.clone());
            }
            NeedEvent::NeedQualified(e) => {
                state.description = Some(e.description.clone());
                state.qualified = true;
            }
            NeedEvent::NeedFormalisedAsOffer(_) => state.status = NeedStatus::FormalisedAsOffer,
            NeedEvent::NeedClosed(_) => state.status = NeedStatus::Closed,
            NeedEvent::NeedCorrected(e) => state.description = Some(e.description.clone()),
        }
        state
    }
}

fn surface(
    need_id: NeedId,
    employer_id: EmployerId,
    source: NeedSource,
    description: &NeedDescription,
    surfaced_on: Date,
    state: &NeedState,
    context: &NeedContext,
) -> Result<NeedEvent, DomainError> {
    if state.surfaced.is_some() {
        return Err(already_exists("needId", "Ce besoin est déjà enregistré."));
    }
    let Some(visits) = &context.employer_visits else {
        return Err(not_found(
            "employerId",
            "Cet employeur n'est pas enregistré.",
        ));
    };
    if let NeedSource::Visit { visit_id } = source
        && !visits.contains(&visit_id)
    {
        return Err(DomainError::rule(
            Rule::VisitOfAnotherEmployer,
            "source.visitId",
            "Cette visite n'a pas eu lieu chez cet employeur : choisissez une de ses visites.",
        ));
    }
    not_in_future(surfaced_on, context.today, "surfacedOn")?;
    Ok(NeedSurfaced {
        need_id,
        employer_id,
        source,
        description: checked(description, false)?,
        surfaced_on,
    }
    .into())
}

fn qualify(
    description: &NeedDescription,
    qualified_on: Date,
    need: Existing<'_>,
) -> Result<NeedEvent, DomainError> {
    if need.state.status == NeedStatus::FormalisedAsOffer {
        return Err(DomainError::rule(
            Rule::NeedClosed,
            "needId",
            "Ce besoin est déjà devenu une offre d'emploi : il ne se requalifie plus.",
        ));
    }
    not_in_future(qualified_on, need.context.today, "qualifiedOn")?;
    not_before(
        qualified_on,
        need.surfaced_on,
        "l'expression du besoin",
        "qualifiedOn",
    )?;
    Ok(NeedQualified {
        description: checked(description, true)?,
        qualified_on,
    }
    .into())
}

fn formalise_as_offer(
    offer_reference: Option<&Label>,
    formalised_on: Date,
    need: Existing<'_>,
) -> Result<NeedEvent, DomainError> {
    if !need.state.qualified {
        return Err(DomainError::rule(
            Rule::NeedNotQualified,
            "needId",
            "Qualifiez d'abord le besoin avec l'employeur (métiers, conditions, nombre de personnes) avant d'en faire une offre.",
        ));
    }
    if need.state.status == NeedStatus::FormalisedAsOffer {
        return Err(already_exists(
            "needId",
            "Ce besoin est déjà devenu une offre d'emploi.",
        ));
    }
    not_in_future(formalised_on, need.context.today, "formalisedOn")?;
    Ok(NeedFormalisedAsOffer {
        offer_reference: offer_reference.cloned(),
        formalised_on,
    }
    .into())
}

fn close(
    reason: &NeedCloseReason,
    closed_on: Date,
    need: Existing<'_>,
) -> Result<NeedEvent, DomainError> {
    not_in_future(closed_on, need.context.today, "closedOn")?;
    not_before(
        closed_on,
        need.surfaced_on,
        "l'expression du besoin",
        "closedOn",
    )?;
    Ok(NeedClosed {
        reason: reason.clone(),
        closed_on,
    }
    .into())
}

fn correct(
    description: &NeedDescription,
    reason: &Text,
    corrected_on: Date,
    state: &NeedState,
    context: &NeedContext,
) -> Result<NeedEvent, DomainError> {
    if state.surfaced.is_none() {
        return Err(not_found("needId", "Ce besoin n'existe pas."));
    }
    not_in_future(corrected_on, context.today, "correctedOn")?;
    // A qualified need keeps its jobs named.
    let description = checked(description, state.qualified)?;
    if state.description.as_ref() == Some(&description) {
        return Err(DomainError::rule(
            Rule::NothingToCorrect,
            "description",
            "Rien ne change : la description corrigée est identique à celle enregistrée.",
        ));
    }
    Ok(NeedCorrected {
        description,
        reason: reason.clone(),
        corrected_on,
    }
    .into())
}
