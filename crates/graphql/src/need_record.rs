//! A need's steps read back from its stream, with the day each was given
//! and who recorded it (which the view does not keep): its last
//! qualification, its formalisation as an offer, and its closing with the
//! reason and the explanation given for another reason. Whoever reaches
//! its establishment reads them, as the need itself; the closing's
//! explanation, staff's words, staff only (`Field::NeedCloseExplanation`).

use async_graphql::{Context, Result, SimpleObject};
use passerelle_app::Recorded;
use passerelle_app::policy::{self, Field};
use passerelle_domain::need::{NeedCloseReason, NeedCloseReasonKind, NeedEvent};
use passerelle_domain::values::EmployerId;
use time::Date;
use uuid::Uuid;

use crate::context::actor;
use crate::correction_record::need_facts;
use crate::primitives::Recording;

/// A need's closing (`needClose`).
#[derive(SimpleObject, Debug)]
pub struct NeedClosure {
    pub reason: NeedCloseReasonKind,
    /// Said for another reason than the list's; null for an employer by
    /// magic link (staff's words).
    pub explanation: Option<String>,
    pub closed_on: Date,
    pub recorded: Recording,
}

/// A need's qualification (`needQualify`): the last, when it was
/// qualified again.
#[derive(SimpleObject, Debug)]
pub struct NeedQualification {
    pub qualified_on: Date,
    pub recorded: Recording,
}

/// A need formalised as a job offer (`needFormalise`).
#[derive(SimpleObject, Debug)]
pub struct NeedFormalisation {
    pub offer_reference: Option<String>,
    pub formalised_on: Date,
    pub recorded: Recording,
}

/// The last fact of the need's stream `pick` finds; none for a viewer who
/// does not reach its establishment.
async fn last<T>(
    ctx: &Context<'_>,
    employer: Uuid,
    need: Uuid,
    pick: impl Fn(&Recorded<NeedEvent>) -> Option<T>,
) -> Result<Option<T>> {
    if !policy::reaches_employer(&actor(ctx)?, EmployerId(employer)) {
        return Ok(None);
    }
    let facts = need_facts(ctx, need).await?;
    Ok(facts.iter().rev().find_map(pick))
}

/// The need's last qualification; null while it has none.
pub(crate) async fn qualification(
    ctx: &Context<'_>,
    employer: Uuid,
    need: Uuid,
) -> Result<Option<NeedQualification>> {
    last(ctx, employer, need, |r| match &r.event {
        NeedEvent::NeedQualified(e) => Some(NeedQualification {
            qualified_on: e.qualified_on,
            recorded: r.into(),
        }),
        _ => None,
    })
    .await
}

/// The need's formalisation as an offer; null while it has none.
pub(crate) async fn formalisation(
    ctx: &Context<'_>,
    employer: Uuid,
    need: Uuid,
) -> Result<Option<NeedFormalisation>> {
    last(ctx, employer, need, |r| match &r.event {
        NeedEvent::NeedFormalisedAsOffer(e) => Some(NeedFormalisation {
            offer_reference: e.offer_reference.as_ref().map(|o| o.as_str().to_owned()),
            formalised_on: e.formalised_on,
            recorded: r.into(),
        }),
        _ => None,
    })
    .await
}

/// The need's closing; null while it is not closed, and for a viewer who
/// does not reach its establishment.
pub(crate) async fn closure(
    ctx: &Context<'_>,
    employer: Uuid,
    need: Uuid,
) -> Result<Option<NeedClosure>> {
    let explained = policy::may_read(&actor(ctx)?, Field::NeedCloseExplanation);
    last(ctx, employer, need, |r| match &r.event {
        NeedEvent::NeedClosed(e) => Some(NeedClosure {
            reason: e.reason.kind(),
            explanation: match &e.reason {
                NeedCloseReason::Other { explanation } if explained => {
                    Some(explanation.as_str().to_owned())
                }
                _ => None,
            },
            closed_on: e.closed_on,
            recorded: r.into(),
        }),
        _ => None,
    })
    .await
}
