//! The retention of people's data: a referent or a manager keeps a person
//! inactive for long (whose erasure is announced) for some more months,
//! with a reason; and the retention job's erasures, through the erasure's
//! one path as the system actor `system:retention`.

use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use async_trait::async_trait;
use passerelle_app::{Actor, CommandMeta, Handler, policy};
use passerelle_domain::person::ErasureReason;
use passerelle_domain::values::{PersonId, StructureId, UserId, add_months};
use passerelle_domain::{DomainError, Rule};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::context::{gateway, staff, user_of};
use crate::error::{self, on_field};
use crate::input::{parse_id, text};

/// The longest extension at once, in months.
pub const MAX_EXTENSION_MONTHS: i32 = 24;

/// Beside a reason left blank.
pub const REASON_REQUIRED: &str = "Précisez pourquoi les données sont conservées plus longtemps.";

/// The retention job's erasures: each through [`crate::erasure::erase_person`]
/// with the reason `END_OF_RETENTION`, by the system actor `system:retention`.
#[derive(Clone)]
pub struct RetentionEraser {
    pub handler: Handler,
}

impl std::fmt::Debug for RetentionEraser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RetentionEraser")
    }
}

#[async_trait]
impl passerelle_notify::retention::Eraser for RetentionEraser {
    async fn erase(&self, person: Uuid, structure: Uuid) -> Result<(), String> {
        let meta = CommandMeta {
            command_id: Uuid::now_v7(),
            correlation_id: Uuid::now_v7(),
            causation_id: None,
            actor: Actor::system("retention", StructureId(structure)),
        };
        // No one decided it: the period did. The nil user stands for the
        // service in the erasure's `by`.
        match crate::erasure::erase_person(
            &self.handler,
            PersonId(person),
            UserId(Uuid::nil()),
            ErasureReason::EndOfRetention,
            None,
            &meta,
        )
        .await
        {
            Ok(_) => Ok(()),
            // Erased meanwhile (by a manager): nothing left to do.
            Err(passerelle_app::AppError::Domain(e)) if e.rule == Rule::PersonErased => Ok(()),
            Err(e) => Err(e.to_string()),
        }
    }

    async fn finish(&self, person: Uuid, structure: Uuid) -> Result<(), String> {
        let meta = CommandMeta {
            command_id: Uuid::now_v7(),
            correlation_id: Uuid::now_v7(),
            causation_id: None,
            actor: Actor::system("retention", StructureId(structure)),
        };
        let forget = crate::erasure::SessionsAndMail {
            now: self.handler.clock().now(),
        };
        self.handler
            .destroy_personal_data(PersonId(person), &meta, &forget)
            .await
            .map_err(|e| e.to_string())
    }
}

#[derive(InputObject, Debug)]
pub struct PersonRetentionExtendInput {
    person_id: ID,
    /// Why the data is kept longer (the accompaniment goes on…): required.
    /// Erased with the person, since it may name them.
    reason: String,
    /// For how many months from today, 1 to 24.
    months: i32,
}

/// The extension, as recorded.
#[derive(SimpleObject, Debug)]
pub struct PersonRetentionExtendPayload {
    person_id: ID,
    /// The person's data is kept at least until this day, inclusive.
    retained_until: Date,
}

/// An extension of a person's retention: until when her data is kept, and
/// why.
#[derive(SimpleObject, Debug)]
pub struct RetentionExtension {
    /// Kept at least until this day, inclusive.
    pub until: Date,
    /// Why, as the staff member wrote it.
    pub reason: String,
    /// The staff member who decided it (a `StaffMember`'s id).
    pub extended_by: ID,
    pub extended_at: OffsetDateTime,
}

/// A person's extensions, the newest first.
pub(crate) async fn extensions_of(
    pool: &sqlx::PgPool,
    person: Uuid,
) -> Result<Vec<RetentionExtension>> {
    Ok(passerelle_notify::retention::extensions(pool, person)
        .await
        .map_err(error::db)?
        .into_iter()
        .map(|e| RetentionExtension {
            until: e.until,
            reason: e.reason,
            extended_by: ID(e.extended_by.to_string()),
            extended_at: e.extended_at,
        })
        .collect())
}

#[derive(Default, Debug)]
pub struct RetentionMutation;

#[Object]
impl RetentionMutation {
    /// Keeps a person's data for some more months whatever their
    /// inactivity: the retention job neither warns about nor erases them
    /// until then. Their referent's, or a manager's or an admin's of their
    /// structure.
    async fn person_retention_extend(
        &self,
        ctx: &Context<'_>,
        input: PersonRetentionExtendInput,
    ) -> Result<PersonRetentionExtendPayload> {
        let actor = staff(ctx)?;
        let gw = gateway(ctx);
        let id = PersonId(parse_id(&input.person_id, "Personne")?);
        // Out of reach answers as if the person did not exist.
        if !policy::reaches_person(&gw.pool, &actor, id)
            .await
            .map_err(error::app)?
        {
            return Err(error::not_found("Personne"));
        }
        let Some(person) = passerelle_projections::views::people::get(&gw.pool, id)
            .await
            .map_err(error::db)?
        else {
            return Err(error::not_found("Personne"));
        };
        if !policy::extends_retention(&actor, UserId(person.referent)) {
            return Err(error::forbidden());
        }
        if !(1..=MAX_EXTENSION_MONTHS).contains(&input.months) {
            return Err(on_field(
                "months",
                DomainError::invalid(
                    Rule::DateOutOfRange,
                    "months",
                    format!("Prolongez de 1 à {MAX_EXTENSION_MONTHS} mois."),
                ),
            ));
        }
        if input.reason.trim().is_empty() {
            return Err(on_field(
                "reason",
                DomainError::invalid(Rule::Required, "reason", REASON_REQUIRED),
            ));
        }
        let reason = text("reason", &input.reason)?;
        let clock = gw.handler.clock();
        let until: Date = add_months(clock.today(), input.months as u32);
        passerelle_notify::retention::extend(
            &gw.pool,
            id.0,
            person.structure,
            until,
            reason.as_str(),
            user_of(&actor),
            clock.now(),
        )
        .await
        .map_err(error::db)?;
        Ok(PersonRetentionExtendPayload {
            person_id: input.person_id,
            retained_until: until,
        })
    }
}
