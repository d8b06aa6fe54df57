//! The viewer's structure and the settings its managers keep: its name,
//! whether its conventions are pre-validated before their validation, the
//! départements it covers. Each change is recorded (`accountChanges`).

use async_graphql::{Context, ErrorExtensions as _, ID, InputObject, Object, Result, SimpleObject};
use passerelle_accounts::staff::{AccountChange, Change};
use passerelle_accounts::{AccountError, SettingsChange, StructureSettings};
use passerelle_app::{Actor, policy};
use passerelle_domain::values::{UserId, departement_name};

use crate::context::{gateway, staff, user_of};
use crate::error::{self, Code};
use crate::input::label;
use crate::primitives::payloads;

/// A département, by its INSEE code and name.
#[derive(SimpleObject, Debug)]
pub struct Departement {
    pub code: String,
    pub name: String,
}

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
    /// The départements it covers, by code.
    async fn departements(&self) -> Vec<Departement> {
        self.0
            .departements
            .iter()
            .map(|code| Departement {
                code: code.clone(),
                name: departement_name(code).unwrap_or_default().to_owned(),
            })
            .collect()
    }
}

/// The structure's settings to change; a field left out stays as it is.
#[derive(InputObject, Debug)]
pub struct StructureUpdateInput {
    pub name: Option<String>,
    pub prevalidation_required: Option<bool>,
    /// Every département it covers, by INSEE code (`44`, `2A`, `974`):
    /// replaces the list.
    pub departements: Option<Vec<String>>,
}

payloads!(structure: Structure => StructureUpdatePayload);

/// At most this many départements in a list: there are 101.
const MAX_DEPARTEMENTS: usize = 101;

fn on(field: &'static str, code: Code, message: String) -> async_graphql::Error {
    error::error(code, message).extend_with(|_, e| e.set("field", field))
}

/// The départements given, checked against the referential.
fn departements(codes: &[String]) -> Result<Vec<String>> {
    if codes.len() > MAX_DEPARTEMENTS {
        return Err(on(
            "departements",
            Code::BadUserInput,
            format!("{MAX_DEPARTEMENTS} départements au plus."),
        ));
    }
    codes
        .iter()
        .map(|c| {
            let code = c.trim().to_ascii_uppercase();
            if departement_name(&code).is_some() {
                Ok(code)
            } else {
                Err(on(
                    "departements",
                    Code::BadUserInput,
                    crate::input::unknown_departement(c),
                ))
            }
        })
        .collect()
}

/// Applies a change to the actor's structure and records it, in one
/// transaction.
async fn update(ctx: &Context<'_>, actor: &Actor, change: SettingsChange) -> Result<Structure> {
    let gw = gateway(ctx);
    let now = gw.handler.clock().now();
    let mut tx = gw.pool.begin().await.map_err(error::db)?;
    let (settings, fields) =
        match passerelle_accounts::update_structure(&mut tx, actor.structure, change).await {
            Ok(Some(updated)) => updated,
            Ok(None) => return Err(error::not_found("Structure")),
            Err(AccountError::StructureNameTaken) => {
                return Err(on(
                    "name",
                    Code::Conflict,
                    "Une autre structure porte déjà ce nom.".to_owned(),
                ));
            }
            Err(e) => return Err(error::internal(&e)),
        };
    if !fields.is_empty() {
        passerelle_accounts::staff::record(
            &mut *tx,
            &Change {
                structure: actor.structure,
                actor: Some(UserId(user_of(actor))),
                actor_role: actor.role.as_str(),
                action: AccountChange::StructureUpdated,
                subject: None,
                role: None,
                previous_role: None,
                fields: &fields,
            },
            now,
        )
        .await
        .map_err(|e| error::internal(&e))?;
    }
    tx.commit().await.map_err(error::db)?;
    Ok(Structure(settings))
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
    #[graphql(
        deprecation = "Use `structureUpdate`, which sets the same setting and the structure's other fields."
    )]
    async fn structure_settings_update(
        &self,
        ctx: &Context<'_>,
        input: StructureSettingsUpdateInput,
    ) -> Result<StructureSettingsUpdatePayload> {
        let actor = staff(ctx)?;
        if !policy::sets_structure_settings(&actor) {
            return Err(error::forbidden());
        }
        let structure = update(
            ctx,
            &actor,
            SettingsChange {
                prevalidation_required: Some(input.prevalidation_required),
                ..SettingsChange::default()
            },
        )
        .await?;
        Ok(StructureSettingsUpdatePayload { structure })
    }

    /// Changes the viewer's structure's settings (its name, pre-validation,
    /// the départements it covers): its managers and admins only. Each
    /// change is recorded with who made it.
    async fn structure_update(
        &self,
        ctx: &Context<'_>,
        input: StructureUpdateInput,
    ) -> Result<StructureUpdatePayload> {
        let actor = staff(ctx)?;
        if !policy::sets_structure_settings(&actor) {
            return Err(error::forbidden());
        }
        let change = SettingsChange {
            name: input
                .name
                .as_deref()
                .map(|n| label("name", n))
                .transpose()?,
            prevalidation_required: input.prevalidation_required,
            departements: input
                .departements
                .as_deref()
                .map(departements)
                .transpose()?,
        };
        let structure = update(ctx, &actor, change).await?;
        Ok(StructureUpdatePayload { structure })
    }
}
