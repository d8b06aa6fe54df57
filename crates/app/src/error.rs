//! What a command can end in besides success.

use passerelle_domain::DomainError;
use passerelle_store::StoreError;
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The domain refused the command: shown to the user as is.
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// Other writers kept changing the stream: every retry lost the race.
    #[error("{stream_id} kept changing while the command was decided; try again")]
    Busy { stream_id: String },
    /// The command id was already used for another command: on another
    /// stream, with other content or by another actor.
    #[error("command {command_id} was already used for another command")]
    CommandReused { command_id: Uuid },
    /// The check the caller asked for in the command's first statement
    /// ([`crate::Handler::checking`]) did not hold: nothing was done.
    #[error("the command's check did not hold")]
    CheckFailed,
    /// The command's context source stopped it before it was decided,
    /// for a reason it keeps for its caller: nothing was done.
    #[error("the command's context stopped it")]
    Stopped,
    #[error("stored event {event_type} could not be read")]
    Decode {
        event_type: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("store")]
    Store(#[from] StoreError),
    #[error("database")]
    Database(#[from] sqlx::Error),
}

impl AppError {
    /// Whether the command had a fact to seal with the key of a subject
    /// whose personal data was erased: the request names an erased person.
    pub fn names_erased_subject(&self) -> bool {
        matches!(self, AppError::Store(StoreError::SubjectErased(_)))
    }
}
