//! Work accidents during an immersion: the structure records the accident
//! it was told of, then that it filed the declaration (within 48 hours,
//! which the inbox counts down). Each answers with the immersion.

use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use passerelle_domain::immersion::ImmersionCommand;
use passerelle_domain::values::AccidentId;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::context::new_id;
use crate::immersions::{Immersion, ImmersionMutation};
use crate::input::{parse_id, text};
use crate::primitives::payloads;

#[derive(InputObject, Debug)]
pub struct AccidentReportInput {
    pub command_id: Option<Uuid>,
    pub immersion_id: ID,
    /// When the accident happened.
    pub occurred_at: OffsetDateTime,
    /// When the structure was told of it.
    pub structure_informed_at: OffsetDateTime,
    /// What happened, as reported.
    pub description: String,
}

#[derive(InputObject, Debug)]
pub struct AccidentDeclarationRecordInput {
    pub command_id: Option<Uuid>,
    pub immersion_id: ID,
    pub accident_id: ID,
    /// When the declaration was filed with the health insurance (CPAM).
    pub filed_at: OffsetDateTime,
}

#[derive(SimpleObject, Debug)]
pub struct AccidentReportPayload {
    pub immersion: Immersion,
    /// The accident, for its declaration to name.
    pub accident_id: ID,
}

payloads!(immersion: Immersion => AccidentDeclarationRecordPayload);

#[derive(Default, Debug)]
pub struct AccidentMutation;

#[Object]
impl AccidentMutation {
    /// Records a work accident during the immersion: staff of the
    /// structure.
    async fn accident_report(
        &self,
        ctx: &Context<'_>,
        input: AccidentReportInput,
    ) -> Result<AccidentReportPayload> {
        let accident = AccidentId(new_id(input.command_id, "accident"));
        ImmersionMutation::on_immersion(ctx, &input.immersion_id, input.command_id, |_, _| {
            Ok(ImmersionCommand::ReportAccident {
                accident_id: accident,
                occurred_at: input.occurred_at,
                structure_informed_at: input.structure_informed_at,
                description: text("description", &input.description)?,
            })
        })
        .await
        .map(|immersion| AccidentReportPayload {
            immersion,
            accident_id: ID(accident.to_string()),
        })
    }

    /// Records that the accident's declaration was filed: staff of the
    /// structure.
    async fn accident_declaration_record(
        &self,
        ctx: &Context<'_>,
        input: AccidentDeclarationRecordInput,
    ) -> Result<AccidentDeclarationRecordPayload> {
        ImmersionMutation::on_immersion(ctx, &input.immersion_id, input.command_id, |_, _| {
            Ok(ImmersionCommand::RecordAccidentDeclaration {
                accident_id: AccidentId(parse_id(&input.accident_id, "Accident")?),
                filed_at: input.filed_at,
            })
        })
        .await
        .map(|immersion| AccidentDeclarationRecordPayload { immersion })
    }
}
