//! Erasing a person's data (RGPD art. 17, and the end of its retention): a
//! manager's or an admin's decision, with a reason and a confirmation.
//! The command path records who, when and why, then destroys the person's
//! key; here, what else holds their data is forgotten in the same
//! transaction: their sessions and links, the mails about them, their
//! retention's warnings and extensions, and the mutations' answers kept
//! for their structure (which may quote them).

use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use async_trait::async_trait;
use passerelle_app::{AppError, CommandMeta, Forget, Handler, Views, policy};
use passerelle_domain::employer::{Employer, EmployerCommand};
use passerelle_domain::person::{ErasureReason, PersonCommand};
use passerelle_domain::values::{ContactId, EmployerId, PersonId, StructureId, UserId};
use passerelle_domain::{DomainError, Rule};
use sqlx::PgConnection;
use time::Date;
use uuid::Uuid;

use crate::context::{gateway, meta, staff, user_of};
use crate::error::{self, on_field};
use crate::input::{optional_text, parse_id};

/// What else than the event store and the views holds a person's data:
/// forgotten in the transaction that destroys their key.
#[derive(Debug, Clone, Copy)]
pub struct SessionsAndMail {
    pub now: time::OffsetDateTime,
}

#[async_trait]
impl Forget for SessionsAndMail {
    async fn forget(&self, conn: &mut PgConnection, person: PersonId) -> Result<(), AppError> {
        passerelle_accounts::revoke_person_access(&mut *conn, person, self.now)
            .await
            .map_err(|e| match e {
                passerelle_accounts::AccountError::Database(e) => AppError::Database(e),
                other => AppError::Database(sqlx::Error::Protocol(other.to_string())),
            })?;
        passerelle_notify::outbox::forget_person(&mut *conn, person.as_uuid()).await?;
        passerelle_notify::retention::forget_person(&mut *conn, person.as_uuid()).await?;
        crate::replays::forget_answers_about(&mut *conn, person.as_uuid()).await?;
        Ok(())
    }
}

/// Erases a person through the command path, then forgets their sessions
/// and mail: the mutation's and the command line's one way.
pub async fn erase_person(
    handler: &Handler,
    person: PersonId,
    by: UserId,
    reason: ErasureReason,
    explanation: Option<passerelle_domain::values::Text>,
    meta: &CommandMeta,
) -> Result<Date, AppError> {
    let erased_on = handler.clock().today();
    let command = PersonCommand::Erase {
        by,
        reason,
        explanation,
        erased_on,
    };
    let forget = SessionsAndMail {
        now: handler.clock().now(),
    };
    handler
        .erase_person(person, &command, meta, &Views, &forget)
        .await?;
    Ok(erased_on)
}

#[derive(InputObject, Debug)]
pub struct PersonEraseInput {
    person_id: ID,
    reason: ErasureReason,
    /// Why, in a few words: required when the reason is `OTHER`. Erased
    /// with the person, since it may name them.
    explanation: Option<String>,
    /// Must be true: the erasure cannot be undone.
    confirm: bool,
    command_id: Option<Uuid>,
}

/// The erasure, as recorded: no personal data.
#[derive(SimpleObject, Debug)]
pub struct PersonErasePayload {
    person_id: ID,
    erased_on: Date,
    reason: ErasureReason,
}

#[derive(Default, Debug)]
pub struct ErasureMutation;

#[Object]
impl ErasureMutation {
    /// Erases a person's data for good: their identity, their words and
    /// everything sealed with their key, their sessions and the mails about
    /// them. The figures stay (age band, counts, outcomes). A manager's or
    /// an admin's of the person's structure.
    async fn person_erase(
        &self,
        ctx: &Context<'_>,
        input: PersonEraseInput,
    ) -> Result<PersonErasePayload> {
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
        if !policy::erases_people(&actor) {
            return Err(error::forbidden());
        }
        if !input.confirm {
            return Err(on_field(
                "confirm",
                DomainError::invalid(
                    Rule::Required,
                    "confirm",
                    "Confirmez l'effacement : il est définitif, les données de la personne ne pourront plus être lues.",
                ),
            ));
        }
        let explanation = optional_text("explanation", input.explanation.as_deref())?;
        if input.reason == ErasureReason::Other && explanation.is_none() {
            return Err(on_field(
                "explanation",
                DomainError::invalid(
                    Rule::Required,
                    "explanation",
                    "Précisez le motif de l'effacement.",
                ),
            ));
        }
        let by = UserId(user_of(&actor));
        let erased_on = erase_person(
            &gw.handler,
            id,
            by,
            input.reason,
            explanation,
            &meta(actor, input.command_id),
        )
        .await
        .map_err(error::app)?;
        Ok(PersonErasePayload {
            person_id: input.person_id,
            erased_on,
            reason: input.reason,
        })
    }

    /// Erases an employer's contact's personal data for good (their name,
    /// email and phone, sealed with their own key): the contact is removed
    /// from the establishment if it was not, their key destroyed, the mails
    /// to them deleted and the establishment's sessions through their
    /// structure ended. The staff of the structure that added the contact.
    async fn employer_contact_erase(
        &self,
        ctx: &Context<'_>,
        input: EmployerContactEraseInput,
    ) -> Result<EmployerContactErasePayload> {
        let actor = staff(ctx)?;
        let gw = gateway(ctx);
        let employer = EmployerId(parse_id(&input.employer_id, "Employeur")?);
        let unknown = || {
            on_field(
                "contactId",
                DomainError::not_found(
                    Rule::ContactUnknown,
                    "contactId",
                    "Ce contact n'existe pas chez cet employeur.",
                ),
            )
        };
        let contact = input.contact_id.parse::<Uuid>().map_err(|_| unknown())?;
        let mut conn = gw.pool.acquire().await.map_err(error::db)?;
        // Out of reach (or erased already: its row is gone) answers as if
        // the contact did not exist.
        let contact = policy::managed_contact(&mut conn, &actor, employer, contact)
            .await
            .map_err(error::app)?
            .ok_or_else(unknown)?;
        drop(conn);
        if !policy::erases_contact(&actor, &contact) {
            return Err(error::forbidden());
        }
        if !input.confirm {
            return Err(on_field(
                "confirm",
                DomainError::invalid(
                    Rule::Required,
                    "confirm",
                    "Confirmez l'effacement : il est définitif, les coordonnées du contact ne pourront plus être lues.",
                ),
            ));
        }
        let meta = meta(actor, input.command_id);
        if !contact.removed {
            // Removed first, under an id of its own derived from the
            // erasure's: a retry removes it once.
            let remove = CommandMeta {
                command_id: Uuid::new_v5(&meta.command_id, b"remove-contact"),
                ..meta.clone()
            };
            gw.handler
                .execute::<Employer>(
                    employer,
                    &EmployerCommand::RemoveContact {
                        contact_id: ContactId(contact.contact_id),
                    },
                    &remove,
                    &Views,
                )
                .await
                .map_err(error::app)?;
        }
        gw.handler
            .destroy_contact_data(contact.contact_id, &meta, &ContactMail)
            .await
            .map_err(error::app)?;
        passerelle_accounts::revoke_employer_access(
            &gw.pool,
            employer,
            StructureId(contact.structure),
            gw.handler.clock().now(),
        )
        .await
        .map_err(|e| error::internal(&e))?;
        Ok(EmployerContactErasePayload {
            employer_id: input.employer_id,
            contact_id: input.contact_id,
            erased_on: gw.handler.clock().today(),
        })
    }
}

/// What else than the event store and the views holds an employer's
/// contact's data: the mails to them and the answers kept under command
/// ids, forgotten in the transaction that destroys their key.
#[derive(Debug, Clone, Copy)]
pub struct ContactMail;

#[async_trait]
impl passerelle_app::ForgetContact for ContactMail {
    async fn forget(&self, conn: &mut PgConnection, contact: Uuid) -> Result<(), AppError> {
        passerelle_notify::outbox::forget_contact(&mut *conn, contact).await?;
        crate::replays::forget_all_answers(&mut *conn).await?;
        Ok(())
    }
}

#[derive(InputObject, Debug)]
pub struct EmployerContactEraseInput {
    employer_id: ID,
    contact_id: ID,
    /// Must be true: the erasure cannot be undone.
    confirm: bool,
    command_id: Option<Uuid>,
}

/// The erasure, as recorded: no personal data.
#[derive(SimpleObject, Debug)]
pub struct EmployerContactErasePayload {
    employer_id: ID,
    contact_id: ID,
    erased_on: Date,
}
