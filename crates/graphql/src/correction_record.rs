//! The corrections of an establishment's file, of its visits and of its
//! needs, read back from their streams with who recorded each and when (as
//! `person_record` reads a person's identity corrections): the values
//! before stay in the log, and each correction says why.
//! Who reads them follows who reads what they correct (`app::policy`): the
//! file's and a need's, whoever reaches the establishment; a visit's, those
//! who read its internal notes, which a correction may carry. Anyone else
//! reads them as null.

use std::sync::Arc;

use async_graphql::dataloader::DataLoader;
use async_graphql::{Context, Result, SimpleObject};
use passerelle_app::policy::{self, Field};
use passerelle_app::{Aggregate, Recorded};
use passerelle_domain::employer::{
    Employer as EmployerAggregate, EmployerEvent, EmployerField, VisitField, VisitPurpose,
};
use passerelle_domain::need::{HiringIntent, Horizon, Need as NeedAggregate, NeedEvent};
use passerelle_domain::values::{EmployerId, NeedId};
use time::Date;
use uuid::Uuid;

use crate::context::actor;
use crate::error;
use crate::loaders::{EmployerHistoryOf, Histories, NeedHistoryOf};
use crate::primitives::Recording;

/// A correction of an establishment's file: which fields, their new
/// values, and why.
#[derive(SimpleObject, Debug)]
pub struct EmployerCorrection {
    /// The fields it changed.
    pub fields: Vec<EmployerField>,
    /// The new values, null for a field it left alone.
    pub name: Option<String>,
    /// NAF division (2 digits).
    pub naf: Option<String>,
    /// INSEE code of the commune.
    pub commune: Option<String>,
    pub address: Option<String>,
    pub reason: String,
    pub corrected_on: Date,
    pub recorded: Recording,
}

/// A correction of a visit's record: which fields, their new values, and
/// why.
#[derive(SimpleObject, Debug)]
pub struct VisitCorrection {
    /// The fields it changed.
    pub fields: Vec<VisitField>,
    /// The new values, null for a field it left alone.
    pub visited_on: Option<Date>,
    pub purpose: Option<VisitPurpose>,
    pub observations: Option<String>,
    pub next_step: Option<String>,
    pub reason: String,
    pub corrected_on: Date,
    pub recorded: Recording,
}

/// A correction of a need's description: the whole description as it
/// reads since, and why.
#[derive(SimpleObject, Debug)]
pub struct NeedCorrection {
    pub activities: String,
    pub rome_codes: Vec<String>,
    pub conditions: Option<String>,
    pub headcount: i32,
    pub needed_within: Horizon,
    pub would_hire: HiringIntent,
    pub reason: String,
    pub corrected_on: Date,
    pub recorded: Recording,
}

/// The establishment's facts, read once per request (and counted in its
/// stream-read budget).
pub(crate) async fn employer_facts(
    ctx: &Context<'_>,
    employer: Uuid,
) -> Result<Arc<[Recorded<EmployerEvent>]>> {
    let id = EmployerId(employer);
    crate::context::read_stream(ctx, EmployerAggregate::stream_id(id))?;
    Ok(ctx
        .data::<DataLoader<Histories>>()?
        .load_one(EmployerHistoryOf(id))
        .await
        .map_err(|e| error::internal(&*e))?
        .unwrap_or_else(|| Arc::from([])))
}

/// The corrections of the establishment's file, oldest first; null for a
/// viewer who does not reach it.
pub(crate) async fn of_employer(
    ctx: &Context<'_>,
    employer: Uuid,
) -> Result<Option<Vec<EmployerCorrection>>> {
    if !policy::reaches_employer(&actor(ctx)?, EmployerId(employer)) {
        return Ok(None);
    }
    let facts = employer_facts(ctx, employer).await?;
    Ok(Some(
        facts
            .iter()
            .filter_map(|r| match &r.event {
                EmployerEvent::EmployerCorrected(e) => Some(EmployerCorrection {
                    fields: e.changes.fields(),
                    name: e.changes.name.as_ref().map(|v| v.as_str().to_owned()),
                    naf: e.changes.naf.as_ref().map(|v| v.as_str().to_owned()),
                    commune: e.changes.commune.as_ref().map(|v| v.as_str().to_owned()),
                    address: e.changes.address.as_ref().map(|v| v.as_str().to_owned()),
                    reason: e.reason.as_str().to_owned(),
                    corrected_on: e.corrected_on,
                    recorded: r.into(),
                }),
                _ => None,
            })
            .collect(),
    ))
}

/// The corrections of one visit, oldest first; null for a viewer who may
/// not read the visit's internal notes (an employer by magic link), as a
/// correction may carry them.
pub(crate) async fn of_visit(
    ctx: &Context<'_>,
    employer: Uuid,
    visit: Uuid,
) -> Result<Option<Vec<VisitCorrection>>> {
    let viewer = actor(ctx)?;
    if !(policy::may_read(&viewer, Field::VisitObservations)
        && policy::may_read(&viewer, Field::VisitNextStep)
        && policy::reaches_employer(&viewer, EmployerId(employer)))
    {
        return Ok(None);
    }
    let facts = employer_facts(ctx, employer).await?;
    Ok(Some(
        facts
            .iter()
            .filter_map(|r| match &r.event {
                EmployerEvent::EmployerVisitCorrected(e) if e.visit_id.as_uuid() == visit => {
                    Some(VisitCorrection {
                        fields: e.changes.fields(),
                        visited_on: e.changes.visited_on,
                        purpose: e.changes.purpose,
                        observations: e
                            .changes
                            .observations
                            .as_ref()
                            .map(|v| v.as_str().to_owned()),
                        next_step: e.changes.next_step.as_ref().map(|v| v.as_str().to_owned()),
                        reason: e.reason.as_str().to_owned(),
                        corrected_on: e.corrected_on,
                        recorded: r.into(),
                    })
                }
                _ => None,
            })
            .collect(),
    ))
}

/// The need's facts, read once per request (and counted in its
/// stream-read budget).
pub(crate) async fn need_facts(
    ctx: &Context<'_>,
    need: Uuid,
) -> Result<Arc<[Recorded<NeedEvent>]>> {
    let id = NeedId(need);
    crate::context::read_stream(ctx, NeedAggregate::stream_id(id))?;
    Ok(ctx
        .data::<DataLoader<Histories>>()?
        .load_one(NeedHistoryOf(id))
        .await
        .map_err(|e| error::internal(&*e))?
        .unwrap_or_else(|| Arc::from([])))
}

/// The corrections of a need of `employer`, oldest first; null for a
/// viewer who does not reach the establishment.
pub(crate) async fn of_need(
    ctx: &Context<'_>,
    employer: Uuid,
    need: Uuid,
) -> Result<Option<Vec<NeedCorrection>>> {
    if !policy::reaches_employer(&actor(ctx)?, EmployerId(employer)) {
        return Ok(None);
    }
    let facts = need_facts(ctx, need).await?;
    Ok(Some(
        facts
            .iter()
            .filter_map(|r| match &r.event {
                NeedEvent::NeedCorrected(e) => {
                    let d = &e.description;
                    Some(NeedCorrection {
                        activities: d.activities.as_str().to_owned(),
                        rome_codes: d.rome_codes.iter().map(|c| c.as_str().to_owned()).collect(),
                        conditions: d.conditions.as_ref().map(|v| v.as_str().to_owned()),
                        headcount: i32::from(d.headcount),
                        needed_within: d.horizon,
                        would_hire: d.hiring_intent,
                        reason: e.reason.as_str().to_owned(),
                        corrected_on: e.corrected_on,
                        recorded: r.into(),
                    })
                }
                _ => None,
            })
            .collect(),
    ))
}

/// A correction was recorded: what the request reads of the streams next
/// is read again.
pub(crate) fn forget(ctx: &Context<'_>) {
    if let Ok(loader) = ctx.data::<DataLoader<Histories>>() {
        loader.clear::<EmployerHistoryOf>();
        loader.clear::<NeedHistoryOf>();
    }
}
