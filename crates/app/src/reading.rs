//! Reading back what was recorded: an aggregate's facts with who recorded
//! them and when, and the state they fold into. Views keep what lists and
//! rules need; the whole content of a fact (a convention, an assessment, a
//! job inquiry) is read from its stream, opened with its subject's key (an
//! erased subject's values read as erased).
//!
//! The caller authorizes: these read whatever stream they are given.

use passerelle_store::RecordedEvent;
use serde::de::DeserializeOwned;
use time::OffsetDateTime;

use crate::aggregate::Aggregate;
use crate::error::AppError;
use crate::handler::Handler;

/// A fact of a stream, decoded, with who recorded it and when.
#[derive(Debug, Clone)]
pub struct Recorded<E> {
    pub event: E,
    /// The stored event type (`convention_signed`…).
    pub event_type: String,
    pub version: i64,
    pub recorded_at: OffsetDateTime,
    /// `user:<id>`, `contact:<id>`, `person:<id>`, `system:<component>`.
    pub actor: String,
    /// The actor's role when it acted (`mediator`, `employer`…).
    pub role: String,
}

impl Handler {
    /// Every fact of the aggregate `id`, oldest first; empty when the stream
    /// does not exist.
    pub async fn history<A: Aggregate>(
        &self,
        id: A::Id,
    ) -> Result<Vec<Recorded<A::Event>>, AppError> {
        self.history_of(&A::stream_id(id)).await
    }

    /// Every fact of the stream `stream_id`, oldest first, as `E` (an
    /// aggregate's events, or `serde_json::Value` for any stream's facts as
    /// stored, personal values opened).
    pub async fn history_of<E: DeserializeOwned>(
        &self,
        stream_id: &str,
    ) -> Result<Vec<Recorded<E>>, AppError> {
        let mut conn = self.store().acquire_warm().await?;
        let events = self.store().read_stream(&mut conn, stream_id, 1).await?;
        conn.finished();
        events.iter().map(decoded).collect()
    }

    /// The aggregate's state now, folded from its whole stream (the default
    /// state when the stream does not exist).
    pub async fn state<A: Aggregate>(&self, id: A::Id) -> Result<A::State, AppError> {
        Ok(self
            .history::<A>(id)
            .await?
            .iter()
            .fold(A::State::default(), |state, recorded| {
                A::evolve(state, &recorded.event)
            }))
    }
}

fn decoded<E: DeserializeOwned>(recorded: &RecordedEvent) -> Result<Recorded<E>, AppError> {
    let event = recorded.decode().map_err(|source| AppError::Decode {
        event_type: recorded.event_type.clone(),
        source,
    })?;
    Ok(Recorded {
        event,
        event_type: recorded.event_type.clone(),
        version: recorded.version,
        recorded_at: recorded.recorded_at,
        actor: recorded.metadata.actor.clone(),
        role: recorded.metadata.role.clone(),
    })
}
