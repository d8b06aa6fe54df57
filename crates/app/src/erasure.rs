//! Erasing a person: the `PersonErased` fact first, then their key.
//!
//! The fact is appended by the command path like any command; once it is
//! durable, one transaction destroys the person's key (every value ever
//! sealed with it reads as erased from then on), records the store's
//! erasure on `subject-<id>`, purges the inline views in it, writes over
//! what their path's events recorded in clear before it was sealed
//! (`Store::erase_clear_in`) and runs what the caller adds (sessions,
//! links, queued mail). A crash between the two
//! leaves the fact without the destruction: erasing the person again finds
//! the fact, is refused in the domain, and finishes the destruction first,
//! so a retry always completes the job and never does it twice.

use async_trait::async_trait;
use passerelle_domain::Rule;
use passerelle_domain::person::{Person, PersonCommand};
use passerelle_domain::values::PersonId;
use passerelle_store::Metadata;
use sqlx::PgConnection;

use crate::error::AppError;
use crate::handler::{CommandMeta, ContextSource, Handler, Outcome};

/// What else holds the person's data outside the event store and the
/// views: run in the transaction that destroys their key.
#[async_trait]
pub trait Forget: Send + Sync {
    async fn forget(&self, conn: &mut PgConnection, person: PersonId) -> Result<(), AppError>;
}

/// What else holds an employer's contact's data: run in the transaction
/// that destroys their key.
#[async_trait]
pub trait ForgetContact: Send + Sync {
    async fn forget(&self, conn: &mut PgConnection, contact: uuid::Uuid) -> Result<(), AppError>;
}

/// Nothing else to forget (tests of the command path alone).
#[derive(Debug)]
pub struct NothingElse;

#[async_trait]
impl Forget for NothingElse {
    async fn forget(&self, _: &mut PgConnection, _: PersonId) -> Result<(), AppError> {
        Ok(())
    }
}

impl Handler {
    /// Erases a person: `command` must be `PersonCommand::Erase`. On a
    /// person already erased, finishes what an interrupted erasure left
    /// undone, then answers the domain's refusal.
    pub async fn erase_person(
        &self,
        person: PersonId,
        command: &PersonCommand,
        meta: &CommandMeta,
        source: &dyn ContextSource<Person>,
        forget: &dyn Forget,
    ) -> Result<Outcome, AppError> {
        debug_assert!(matches!(command, PersonCommand::Erase { .. }));
        let outcome = self.execute::<Person>(person, command, meta, source).await;
        match &outcome {
            Ok(_) => {}
            Err(AppError::Domain(e)) if e.rule == Rule::PersonErased => {}
            Err(_) => return outcome,
        }
        self.destroy_personal_data(person, meta, forget).await?;
        outcome
    }

    /// The second step of an erasure, idempotent: the key, the store's
    /// erasure event (once), the inline views, and the caller's own.
    pub async fn destroy_personal_data(
        &self,
        person: PersonId,
        meta: &CommandMeta,
        forget: &dyn Forget,
    ) -> Result<(), AppError> {
        let subject = person.as_uuid();
        let (mut tx, done) = self.destroy_key(subject, meta).await?;
        // What their path recorded in clear before it was sealed goes too,
        // on an erasure asked again as well (one made before this did it).
        let streams = passerelle_projections::views::people::streams_of(&mut *tx, person).await?;
        self.store().erase_clear_in(&mut tx, &streams).await?;
        forget.forget(&mut tx, person).await?;
        tx.commit().await?;
        // The states of their path kept in this replica's memory hold their
        // values as read before: dropped now (whatever its type, `take`
        // removes the entry), not within the minute they would expire in.
        for stream in &streams {
            let _ = self.states.take::<()>(stream);
        }
        if !done {
            self.store().notify_appended();
            self.announce(format!("subject-{subject}"));
            self.announce(format!("person-{subject}"));
        }
        Ok(())
    }

    /// Erases an employer's contact's personal data (their name, email and
    /// phone, sealed with their own key): the key, the store's erasure
    /// event on `subject-<contact>` (the fact, with who and when in its
    /// metadata, and no personal data), the inline views (the contact's
    /// row), and the caller's own, in one transaction. Idempotent; the
    /// caller removes the contact from the establishment first.
    pub async fn destroy_contact_data(
        &self,
        contact: uuid::Uuid,
        meta: &CommandMeta,
        forget: &dyn ForgetContact,
    ) -> Result<(), AppError> {
        let (mut tx, done) = self.destroy_key(contact, meta).await?;
        forget.forget(&mut tx, contact).await?;
        tx.commit().await?;
        if !done {
            self.store().notify_appended();
            self.announce(format!("subject-{contact}"));
        }
        Ok(())
    }

    /// Opens the erasure's transaction, holding the subject's lock (which
    /// the mails projection also takes): destroys the key, records the
    /// store's erasure event and applies it to the inline views, unless
    /// done before. Returns the transaction and whether it was done before.
    async fn destroy_key(
        &self,
        subject: uuid::Uuid,
        meta: &CommandMeta,
    ) -> Result<(sqlx::Transaction<'static, sqlx::Postgres>, bool), AppError> {
        let metadata = Metadata {
            actor: meta.actor.id.clone(),
            role: meta.actor.role.as_str().to_owned(),
            structure: meta.actor.structure.as_uuid(),
            correlation_id: meta.correlation_id,
            causation_id: Some(meta.command_id),
            // Its own id: the erasure's command id names the fact.
            command_id: uuid::Uuid::new_v5(&meta.command_id, b"erase-subject"),
        };
        let mut tx = self.store().pool().begin().await?;
        // Serialises two erasures of the same person.
        sqlx::query("select pg_advisory_xact_lock(hashtextextended($1::text, 0))")
            .bind(subject)
            .execute(&mut *tx)
            .await?;
        let done: bool = sqlx::query_scalar(
            "select exists (select 1 from erased_subjects where subject_id = $1)",
        )
        .bind(subject)
        .fetch_one(&mut *tx)
        .await?;
        let stream = format!("subject-{subject}");
        if !done {
            let (result, event) = self
                .store()
                .erase_subject_in(&mut tx, subject, &metadata)
                .await?;
            let recorded = result.recorded(std::slice::from_ref(&event), &metadata, &stream);
            self.projections().apply_inline(&mut tx, &recorded).await?;
        }
        Ok((tx, done))
    }
}
