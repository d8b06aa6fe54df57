//! The viewer's structure and the settings its managers keep: whether its
//! conventions are pre-validated before their validation.

use async_graphql::{Context, ID, InputObject, Object, Result};
use passerelle_accounts::StructureSettings;
use passerelle_app::policy;

use crate::context::{gateway, staff};
use crate::error;
use crate::primitives::payloads;

/// A structure, as its staff see it.
#[derive(Debug)]
pub struct Structure(StructureSettings);

#[Object]
impl Structure {
    async fn id(&self) -> ID {
        ID(self.0.structure.to_string())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Whether its conventions are pre-validated by a mediator before they
    /// are validated.
    async fn prevalidation_required(&self) -> bool {
        self.0.prevalidation_required
    }
}

#[derive(InputObject, Debug)]
pub struct StructureSettingsUpdateInput {
    pub prevalidation_required: bool,
}

payloads!(structure: Structure => StructureSettingsUpdatePayload);

#[derive(Default, Debug)]
pub struct StructureQuery;

#[Object]
impl StructureQuery {
    /// The viewer's own structure: staff only.
    async fn structure(&self, ctx: &Context<'_>) -> Result<Option<Structure>> {
        let actor = staff(ctx)?;
        Ok(
            passerelle_accounts::structure_settings(&gateway(ctx).pool, actor.structure)
                .await
                .map_err(|e| error::internal(&e))?
                .map(Structure),
        )
    }
}

#[derive(Default, Debug)]
pub struct StructureMutation;

#[Object]
impl StructureMutation {
    /// Changes the viewer's structure's settings: its managers and admins
    /// only. Pre-validation applies to the conventions validated from now.
    async fn structure_settings_update(
        &self,
        ctx: &Context<'_>,
        input: StructureSettingsUpdateInput,
    ) -> Result<StructureSettingsUpdatePayload> {
        let actor = staff(ctx)?;
        if !policy::sets_structure_settings(&actor) {
            return Err(error::forbidden());
        }
        let structure = passerelle_accounts::set_prevalidation_required(
            &gateway(ctx).pool,
            actor.structure,
            input.prevalidation_required,
        )
        .await
        .map_err(|e| error::internal(&e))?
        .map(Structure)
        .ok_or_else(|| error::not_found("Structure"))?;
        Ok(StructureSettingsUpdatePayload { structure })
    }
}
