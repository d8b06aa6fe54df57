//! The convention's review by the structure besides its validation: the
//! pre-validation some structures require, a rejection with its
//! justification, and a convention made obsolete (caduque). Each answers
//! with the immersion, as `immersions` shows it.

use async_graphql::{Context, ID, InputObject, Object, Result};
use passerelle_domain::immersion::ImmersionCommand;
use passerelle_domain::values::UserId;
use uuid::Uuid;

use crate::context::user_of;
use crate::immersions::{Immersion, ImmersionMutation};
use crate::input::text;
use crate::primitives::payloads;

#[derive(InputObject, Debug)]
pub struct ConventionPrevalidateInput {
    pub command_id: Option<Uuid>,
    pub immersion_id: ID,
}

#[derive(InputObject, Debug)]
pub struct ConventionRejectInput {
    pub command_id: Option<Uuid>,
    pub immersion_id: ID,
    /// Why the convention cannot be validated, for its parties.
    pub justification: String,
}

#[derive(InputObject, Debug)]
pub struct ConventionDeprecateInput {
    pub command_id: Option<Uuid>,
    pub immersion_id: ID,
    /// Why the convention no longer stands (dates passed, need gone…).
    pub justification: String,
}

payloads!(immersion: Immersion =>
    ConventionPrevalidatePayload,
    ConventionRejectPayload,
    ConventionDeprecatePayload,
);

#[derive(Default, Debug)]
pub struct ConventionMutation;

#[Object]
impl ConventionMutation {
    /// Pre-validates a convention signed by all its parties, where the
    /// structure requires it before validation: staff of the structure.
    async fn convention_prevalidate(
        &self,
        ctx: &Context<'_>,
        input: ConventionPrevalidateInput,
    ) -> Result<ConventionPrevalidatePayload> {
        ImmersionMutation::on_immersion(ctx, &input.immersion_id, input.command_id, |actor, _| {
            Ok(ImmersionCommand::Prevalidate {
                by: UserId(user_of(actor)),
            })
        })
        .await
        .map(|immersion| ConventionPrevalidatePayload { immersion })
    }

    /// Rejects a convention before its validation, with a justification:
    /// staff of the structure.
    async fn convention_reject(
        &self,
        ctx: &Context<'_>,
        input: ConventionRejectInput,
    ) -> Result<ConventionRejectPayload> {
        ImmersionMutation::on_immersion(ctx, &input.immersion_id, input.command_id, |actor, _| {
            Ok(ImmersionCommand::Reject {
                by: UserId(user_of(actor)),
                justification: text("justification", &input.justification)?,
            })
        })
        .await
        .map(|immersion| ConventionRejectPayload { immersion })
    }

    /// Declares a convention not validated obsolete (caduque), with a
    /// justification: staff of the structure.
    async fn convention_deprecate(
        &self,
        ctx: &Context<'_>,
        input: ConventionDeprecateInput,
    ) -> Result<ConventionDeprecatePayload> {
        ImmersionMutation::on_immersion(ctx, &input.immersion_id, input.command_id, |_, _| {
            Ok(ImmersionCommand::Deprecate {
                justification: text("justification", &input.justification)?,
            })
        })
        .await
        .map(|immersion| ConventionDeprecatePayload { immersion })
    }
}
