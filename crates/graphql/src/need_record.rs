//! How a need was closed, read back from its stream: the reason, the
//! explanation given for another reason (which the view does not keep),
//! the day, and who recorded it. Whoever reaches its establishment reads
//! it, as the need itself; the explanation, staff's words, staff only
//! (`Field::NeedCloseExplanation`).

use async_graphql::{Context, Result, SimpleObject};
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

/// The need's closing; null while it is not closed, and for a viewer who
/// does not reach its establishment.
pub(crate) async fn closure(
    ctx: &Context<'_>,
    employer: Uuid,
    need: Uuid,
) -> Result<Option<NeedClosure>> {
    let viewer = actor(ctx)?;
    if !policy::reaches_employer(&viewer, EmployerId(employer)) {
        return Ok(None);
    }
    let explained = policy::may_read(&viewer, Field::NeedCloseExplanation);
    let facts = need_facts(ctx, need).await?;
    Ok(facts.iter().rev().find_map(|r| match &r.event {
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
    }))
}
