//! The answers given under client command ids, kept sealed for an hour so
//! that a retried request is answered as the first time was.

use sqlx::PgExecutor;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::error::{Result, StoreError};
use crate::store::Store;

/// How long an answer is kept: a client's retries come within it.
pub const ANSWER_TTL: Duration = Duration::hours(1);

/// An answer kept for a command id.
#[derive(Debug, Clone)]
pub struct KeptAnswer {
    pub actor: String,
    pub request_digest: Vec<u8>,
    /// The answer's JSON text, as kept: its fields in the order they were
    /// given (a JSON value read into a map would sort them).
    pub answer: Vec<u8>,
}

impl Store {
    /// A keyed digest of a request: comparable, and telling nothing of the
    /// values in it to whoever reads the database.
    pub fn request_digest(&self, request: &[u8]) -> Vec<u8> {
        self.keyring().fingerprint(request).to_vec()
    }

    /// The answer kept under `command_id`, if given less than an hour
    /// before `now`.
    pub async fn kept_answer(
        &self,
        db: impl PgExecutor<'_>,
        command_id: Uuid,
        now: OffsetDateTime,
    ) -> Result<Option<KeptAnswer>> {
        let row: Option<(String, Vec<u8>, Vec<u8>)> = sqlx::query_as(
            "select actor, request_digest, answer from command_answers
             where command_id = $1 and recorded_at > $2",
        )
        .bind(command_id)
        .bind(now - ANSWER_TTL)
        .fetch_optional(db)
        .await?;
        let Some((actor, request_digest, sealed)) = row else {
            return Ok(None);
        };
        let answer = self.keyring().open_transient(&sealed, command_id)?;
        Ok(Some(KeptAnswer {
            actor,
            request_digest,
            answer,
        }))
    }

    /// Keeps the first answer given under `command_id`; a later one is
    /// not kept. Answers past their hour go in the same statement, a few at
    /// a time, so the table stays as small as an hour of commands.
    pub async fn keep_answer(
        &self,
        db: impl PgExecutor<'_>,
        command_id: Uuid,
        actor: &str,
        request_digest: &[u8],
        answer: &impl serde::Serialize,
        now: OffsetDateTime,
    ) -> Result<()> {
        let plain = serde_json::to_vec(answer).map_err(StoreError::Data)?;
        let sealed = self.keyring().seal_transient(&plain, command_id)?;
        sqlx::query(
            "with expired as (
                 delete from command_answers where command_id in (
                     select command_id from command_answers where recorded_at <= $6 limit 100)
             )
             insert into command_answers (command_id, actor, request_digest, answer, recorded_at)
             values ($1, $2, $3, $4, $5) on conflict (command_id) do nothing",
        )
        .bind(command_id)
        .bind(actor)
        .bind(request_digest)
        .bind(sealed)
        .bind(now)
        .bind(now - ANSWER_TTL)
        .execute(db)
        .await?;
        Ok(())
    }
}
