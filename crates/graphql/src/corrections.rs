//! Corrections: a mistake in what was recorded (a misspelt name, a wrong
//! commune, a visit's date, a need's jobs) is fixed by a fact of its own,
//! saying who corrected what and why; the value corrected stays in the log.
//! On a person (`personCorrect`), an establishment (`employerCorrect`), a
//! visit (`employerVisitCorrect`) and a need (`needCorrect`), each as
//! `app::policy` allows; each answers with the object corrected, so this
//! module imports the features that own them.

use async_graphql::{Context, ID, InputObject, Object, Result};
use passerelle_app::policy;
use passerelle_domain::employer::{EmployerChanges, EmployerCommand, VisitChanges, VisitPurpose};
use passerelle_domain::need::NeedCommand;
use passerelle_domain::person::{IdentityChanges, PersonCommand};
use passerelle_domain::values::{
    CommuneCode, Email, EmployerId, NafDivision, NeedId, PhoneNumber, Text, VisitId,
};
use passerelle_domain::{DomainError, Rule};
use passerelle_projections::views::employers as employer_view;
use time::Date;
use uuid::Uuid;

use crate::context::{actor, gateway, staff};
use crate::employers::{Employer, Need, NeedDescriptionInput, on_employer, on_need};
use crate::error::{self, on_field};
use crate::input::{label, optional_text, parse_id, text};
use crate::people::{Person, on_person_as};
use crate::primitives::payloads;

/// A field left blank is a field not corrected.
fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|v| !v.trim().is_empty())
}

/// Refused before anything is read: a correction that names no field.
fn nothing_given(field: &'static str, what: &str) -> async_graphql::Error {
    on_field(
        field,
        DomainError::invalid(
            Rule::NothingToCorrect,
            field,
            format!("Indiquez au moins une valeur à corriger ({what})."),
        ),
    )
}

/// Why, required: a correction without its reason would be a silent
/// rewrite.
fn reason(value: &str) -> Result<Text> {
    text("reason", value)
}

/// The identity's fields to correct; a field left out (or blank) stays as
/// recorded.
#[derive(InputObject, Debug, Default)]
pub struct IdentityChangesInput {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub birth_date: Option<Date>,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// Postal address, as written on letters.
    pub address: Option<String>,
}

impl IdentityChangesInput {
    fn parse(&self) -> Result<IdentityChanges> {
        let changes = IdentityChanges {
            first_name: given(&self.first_name)
                .map(|v| label("changes.firstName", v))
                .transpose()?,
            last_name: given(&self.last_name)
                .map(|v| label("changes.lastName", v))
                .transpose()?,
            birth_date: self.birth_date,
            email: given(&self.email)
                .map(|v| Email::parse(v).map_err(|e| on_field("changes.email", e)))
                .transpose()?,
            phone: given(&self.phone)
                .map(|v| PhoneNumber::parse(v).map_err(|e| on_field("changes.phone", e)))
                .transpose()?,
            address: optional_text("changes.address", self.address.as_deref())?,
        };
        if changes.fields().is_empty() {
            return Err(nothing_given(
                "changes",
                "prénom, nom, date de naissance, courriel, téléphone ou adresse",
            ));
        }
        Ok(changes)
    }
}

#[derive(InputObject, Debug)]
pub struct PersonCorrectInput {
    pub command_id: Option<Uuid>,
    pub person_id: ID,
    pub changes: IdentityChangesInput,
    /// Why the record was wrong (required).
    pub reason: String,
    /// Today when left out.
    pub corrected_on: Option<Date>,
}

/// The establishment's fields to correct; its SIRET is not among them.
#[derive(InputObject, Debug, Default)]
pub struct EmployerChangesInput {
    pub name: Option<String>,
    /// The APE code (56.10A) or its division (56).
    pub naf: Option<String>,
    /// INSEE code of the commune (not the postal code).
    pub commune: Option<String>,
    pub address: Option<String>,
}

impl EmployerChangesInput {
    fn parse(&self) -> Result<EmployerChanges> {
        let changes = EmployerChanges {
            name: given(&self.name)
                .map(|v| label("changes.name", v))
                .transpose()?,
            naf: given(&self.naf)
                .map(|v| NafDivision::parse(v).map_err(|e| on_field("changes.naf", e)))
                .transpose()?,
            commune: given(&self.commune)
                .map(|v| CommuneCode::parse(v).map_err(|e| on_field("changes.commune", e)))
                .transpose()?,
            address: given(&self.address)
                .map(|v| label("changes.address", v))
                .transpose()?,
        };
        if changes == EmployerChanges::default() {
            return Err(nothing_given("changes", "nom, secteur, commune ou adresse"));
        }
        Ok(changes)
    }
}

#[derive(InputObject, Debug)]
pub struct EmployerCorrectInput {
    pub command_id: Option<Uuid>,
    pub employer_id: ID,
    pub changes: EmployerChangesInput,
    /// Why the file was wrong (required).
    pub reason: String,
    pub corrected_on: Option<Date>,
}

/// A visit's fields to correct.
#[derive(InputObject, Debug, Default)]
pub struct VisitChangesInput {
    pub visited_on: Option<Date>,
    pub purpose: Option<VisitPurpose>,
    pub observations: Option<String>,
    pub next_step: Option<String>,
}

impl VisitChangesInput {
    fn parse(&self) -> Result<VisitChanges> {
        let changes = VisitChanges {
            visited_on: self.visited_on,
            purpose: self.purpose,
            observations: given(&self.observations)
                .map(|v| text("changes.observations", v))
                .transpose()?,
            next_step: optional_text("changes.nextStep", given(&self.next_step))?,
        };
        if changes == VisitChanges::default() {
            return Err(nothing_given(
                "changes",
                "date, objet, observations ou suite prévue",
            ));
        }
        Ok(changes)
    }
}

#[derive(InputObject, Debug)]
pub struct EmployerVisitCorrectInput {
    pub command_id: Option<Uuid>,
    pub employer_id: ID,
    pub visit_id: ID,
    pub changes: VisitChangesInput,
    /// Why the visit's record was wrong (required).
    pub reason: String,
    pub corrected_on: Option<Date>,
}

#[derive(InputObject, Debug)]
pub struct NeedCorrectInput {
    pub command_id: Option<Uuid>,
    pub need_id: ID,
    /// The whole description as it should read.
    pub description: NeedDescriptionInput,
    /// Why the description was wrong (required).
    pub reason: String,
    pub corrected_on: Option<Date>,
}

payloads!(person: Person => PersonCorrectPayload);
payloads!(employer: Employer => EmployerCorrectPayload, EmployerVisitCorrectPayload);
payloads!(need: Need => NeedCorrectPayload);

#[derive(Default, Debug)]
pub struct CorrectionMutation;

#[Object]
impl CorrectionMutation {
    /// Corrects the person's identity or contact: staff of their
    /// structure any field; the person, from their own session, their
    /// email and phone only (`policy::corrects_identity`).
    async fn person_correct(
        &self,
        ctx: &Context<'_>,
        input: PersonCorrectInput,
    ) -> Result<PersonCorrectPayload> {
        let actor = actor(ctx)?;
        let changes = input.changes.parse()?;
        let reason = reason(&input.reason)?;
        let fields = changes.fields();
        on_person_as(
            ctx,
            actor,
            &input.person_id,
            input.command_id,
            |actor, _| policy::corrects_identity(actor, &fields),
            |today| {
                Ok(PersonCommand::CorrectIdentity {
                    changes,
                    reason,
                    corrected_on: input.corrected_on.unwrap_or(today),
                })
            },
        )
        .await
        .map(|person| PersonCorrectPayload { person })
    }

    /// Corrects an establishment's name, sector, commune or address: any
    /// staff member, the file being shared across the territory.
    async fn employer_correct(
        &self,
        ctx: &Context<'_>,
        input: EmployerCorrectInput,
    ) -> Result<EmployerCorrectPayload> {
        let actor = staff(ctx)?;
        if !policy::corrects_shared_records(&actor) {
            return Err(error::forbidden());
        }
        let id = EmployerId(parse_id(&input.employer_id, "Employeur")?);
        let command = EmployerCommand::Correct {
            changes: input.changes.parse()?,
            reason: reason(&input.reason)?,
            corrected_on: input
                .corrected_on
                .unwrap_or_else(|| gateway(ctx).handler.clock().today()),
        };
        let employer = on_employer(ctx, actor, id, &command, input.command_id).await?;
        crate::correction_record::forget(ctx);
        Ok(EmployerCorrectPayload { employer })
    }

    /// Corrects a visit's date, purpose, observations or next step: staff
    /// of the structure that logged it, who answer for what it says.
    async fn employer_visit_correct(
        &self,
        ctx: &Context<'_>,
        input: EmployerVisitCorrectInput,
    ) -> Result<EmployerVisitCorrectPayload> {
        let actor = staff(ctx)?;
        let id = EmployerId(parse_id(&input.employer_id, "Employeur")?);
        let unknown = || {
            on_field(
                "visitId",
                DomainError::not_found(
                    Rule::VisitUnknown,
                    "visitId",
                    "Cette visite n'existe pas chez cet employeur.",
                ),
            )
        };
        let visit = input.visit_id.parse::<Uuid>().map_err(|_| unknown())?;
        let found = employer_view::visit(&gateway(ctx).pool, VisitId(visit))
            .await
            .map_err(error::db)?
            .filter(|v| v.employer_id == id.as_uuid())
            .ok_or_else(unknown)?;
        // Visits are read by every structure: another's is known, and
        // refused as such.
        if !policy::answers_for_visit(&actor, found.structure) {
            return Err(error::forbidden());
        }
        let command = EmployerCommand::CorrectVisit {
            visit_id: VisitId(visit),
            changes: input.changes.parse()?,
            reason: reason(&input.reason)?,
            corrected_on: input
                .corrected_on
                .unwrap_or_else(|| gateway(ctx).handler.clock().today()),
        };
        let employer = on_employer(ctx, actor, id, &command, input.command_id).await?;
        crate::correction_record::forget(ctx);
        Ok(EmployerVisitCorrectPayload { employer })
    }

    /// Corrects a need's description (activities, jobs, conditions,
    /// headcount, horizon, hiring intent), whatever its status: any staff
    /// member, needs being shared across the territory.
    async fn need_correct(
        &self,
        ctx: &Context<'_>,
        input: NeedCorrectInput,
    ) -> Result<NeedCorrectPayload> {
        let actor = staff(ctx)?;
        if !policy::corrects_shared_records(&actor) {
            return Err(error::forbidden());
        }
        let id = NeedId(parse_id(&input.need_id, "Besoin")?);
        let command = NeedCommand::Correct {
            description: input.description.parse()?,
            reason: reason(&input.reason)?,
            corrected_on: input
                .corrected_on
                .unwrap_or_else(|| gateway(ctx).handler.clock().today()),
        };
        let need = on_need(ctx, actor, id, &command, input.command_id).await?;
        crate::correction_record::forget(ctx);
        Ok(NeedCorrectPayload { need })
    }
}
