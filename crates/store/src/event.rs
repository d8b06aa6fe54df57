//! The shapes that cross the store's boundary: events to append, events read
//! back, their metadata and the expected version of a stream.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

/// Who did what, on whose behalf, and why: stored with every event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    /// The user or system component that issued the command (`user:<id>`,
    /// `system:scheduler`…).
    pub actor: String,
    /// The actor's role when it acted (`mediator`, `employer`…).
    pub role: String,
    /// The structure (tenant) the command was issued for.
    pub structure: Uuid,
    /// Groups every event caused by one request or job run.
    pub correlation_id: Uuid,
    /// The event or command that caused this one, when there is one.
    pub causation_id: Option<Uuid>,
    /// The command whose handling appended the event; event ids derive from it.
    pub command_id: Uuid,
}

/// An event to append. `data` may hold personal values as `{"$personal": v}`;
/// they are sealed with the key of `subject` before they reach the database.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub event_type: String,
    pub schema_version: i32,
    pub data: Value,
    /// The person the personal values in `data` belong to.
    pub subject: Option<Uuid>,
}

impl NewEvent {
    pub fn new(event_type: impl Into<String>, schema_version: i32, data: Value) -> Self {
        Self {
            event_type: event_type.into(),
            schema_version,
            data,
            subject: None,
        }
    }

    #[must_use]
    pub fn about(mut self, subject: Uuid) -> Self {
        self.subject = Some(subject);
        self
    }
}

/// What the writer believes the stream's version is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectedVersion {
    /// Append whatever the stream holds.
    Any,
    /// The stream must not exist yet.
    NoStream,
    /// The stream must be exactly at this version (0 means it must not exist).
    Exact(i64),
}

/// A position in the commit-safe order of the whole log. Readers and
/// checkpoints hold both numbers: positions alone are drawn in one order and
/// committed in another.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct LogPosition {
    pub transaction_id: i64,
    pub global_position: i64,
}

impl LogPosition {
    pub const START: LogPosition = LogPosition {
        transaction_id: 0,
        global_position: 0,
    };
}

/// An event as stored, after upcasting and unsealing.
#[derive(Debug, Clone)]
pub struct RecordedEvent {
    pub position: LogPosition,
    pub tenant: Uuid,
    pub stream_id: String,
    pub version: i64,
    pub event_id: Uuid,
    pub event_type: String,
    /// The schema version of `data` after upcasting.
    pub schema_version: i32,
    /// The event's JSON, kept as text: readers decode it straight into their
    /// own types with [`RecordedEvent::decode`], without an intermediate tree.
    pub data: EventData,
    pub metadata: Metadata,
    pub recorded_at: OffsetDateTime,
}

impl RecordedEvent {
    /// The data as the reader's own type.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(self.data.get())
    }

    /// The data as a JSON tree.
    pub fn value(&self) -> Value {
        // The data is always valid JSON.
        serde_json::from_str(self.data.get()).unwrap_or(Value::Null)
    }
}

impl PartialEq for RecordedEvent {
    fn eq(&self, other: &Self) -> bool {
        self.position == other.position
            && self.tenant == other.tenant
            && self.stream_id == other.stream_id
            && self.version == other.version
            && self.event_id == other.event_id
            && self.event_type == other.event_type
            && self.schema_version == other.schema_version
            && self.value() == other.value()
            && self.metadata == other.metadata
            && self.recorded_at == other.recorded_at
    }
}

/// An event's JSON as text. Read from the log it is taken as PostgreSQL's
/// `json` type checked it on the way in, rather than parsed again to check
/// it (a whole parse per event read); readers parse it once, into their
/// own types.
#[derive(Clone, PartialEq, Eq)]
pub struct EventData(Box<str>);

impl EventData {
    /// The JSON text.
    pub fn get(&self) -> &str {
        &self.0
    }

    /// A JSON tree, written out.
    pub fn of(value: &Value) -> Self {
        Self(value.to_string().into_boxed_str())
    }

    /// Text that is JSON already: a `json` column as PostgreSQL sends it.
    pub(crate) fn from_json_text(text: &str) -> Self {
        Self(text.into())
    }

    /// Placeholder for an event whose data is not read yet: empty, so
    /// that making it allocates nothing (read-all makes one per row, for
    /// its reader to see the event before the data is taken).
    pub(crate) fn unread() -> Self {
        Self(Box::default())
    }
}

impl std::fmt::Debug for EventData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What an append wrote, or what the first attempt of the same command wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendResult {
    /// The stream's version after the append.
    pub stream_version: i64,
    /// Positions of the appended events, in stream order.
    pub positions: Vec<LogPosition>,
    pub recorded_at: OffsetDateTime,
    /// True when the command had already been appended and nothing was written.
    pub replayed: bool,
}

impl AppendResult {
    /// The appended events as readers will see them, for inline projections
    /// that run in the append's own transaction.
    pub fn recorded(
        &self,
        events: &[NewEvent],
        metadata: &Metadata,
        stream_id: &str,
    ) -> Vec<RecordedEvent> {
        let first = self.stream_version - events.len() as i64 + 1;
        events
            .iter()
            .zip(&self.positions)
            .enumerate()
            .map(|(i, (event, position))| RecordedEvent {
                position: *position,
                tenant: metadata.structure,
                stream_id: stream_id.to_owned(),
                version: first + i as i64,
                event_id: event_id(metadata.command_id, i),
                event_type: event.event_type.clone(),
                schema_version: event.schema_version,
                data: EventData::of(&event.data),
                metadata: metadata.clone(),
                recorded_at: self.recorded_at,
            })
            .collect()
    }
}

/// Event ids derive from the command id, so a retried command hits the unique
/// index instead of appending twice.
pub fn event_id(command_id: Uuid, index: usize) -> Uuid {
    Uuid::new_v5(&command_id, &(index as u64).to_be_bytes())
}

/// One data-modifying statement of an inline projection, run as a part of
/// the append's statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InlineWrite {
    /// The statement, with `{schema}.` before each of the projection's
    /// tables (the live version's schema goes there), `{rows}` where its
    /// one parameter goes (JSON) and `{appended}` in its condition (true
    /// once the events are appended: a refused append writes nothing).
    pub sql: &'static str,
    /// The parameter: rows as a JSON array.
    pub rows: String,
    /// Whether the statement ends with `returning`: the rows it returns
    /// come back to the command as JSON, under the projection's name.
    pub returning: bool,
}
