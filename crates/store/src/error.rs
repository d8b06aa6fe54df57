use uuid::Uuid;

use crate::event::ExpectedVersion;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("stream {stream_id} is at version {actual:?}, expected {expected:?}")]
    Conflict {
        stream_id: String,
        expected: ExpectedVersion,
        /// `None` when the stream does not exist.
        actual: Option<i64>,
    },
    #[error("command {command_id} was already appended with other events")]
    CommandReused { command_id: Uuid },
    #[error("an append needs at least one event")]
    NothingToAppend,
    #[error("event {event_type} holds personal values but names no subject")]
    MissingSubject { event_type: String },
    /// An append with its inline views in one statement could not be
    /// made so (personal values of a subject whose key exists already, or
    /// of several subjects): nothing was written, the caller appends in a
    /// transaction instead.
    #[error("the append cannot be written in one statement")]
    NotFused,
    #[error("subject {0} was erased: no personal data can be stored for them")]
    SubjectErased(Uuid),
    #[error(
        "the master key is not the one this database's personal data was sealed with: restore PASSERELLE_MASTER_KEY (or the data directory's master.key)"
    )]
    WrongMasterKey,
    #[error("personal data could not be sealed or opened")]
    Crypto,
    #[error("projection {projection} failed: {message}")]
    Projection { projection: String, message: String },
    #[error("projection {0} is not registered")]
    UnknownProjection(String),
    #[error("database error")]
    Database(#[from] sqlx::Error),
    #[error("migration failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored event data could not be read")]
    Data(#[source] serde_json::Error),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;
