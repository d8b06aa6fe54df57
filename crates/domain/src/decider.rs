//! The shape every aggregate shares: a pure `decide` that turns a command
//! into events or refuses it, and a pure `evolve` that folds events into
//! state. Nothing here reads a clock or a database: time and the facts a
//! rule needs from other aggregates come in the `Context`.

use crate::error::DomainError;

pub trait Decider {
    type Command;
    type Event;
    type State: Default;
    /// What the caller knows beyond the stream: today's date and facts read
    /// from views (a person's previous conventions with a host…).
    type Context;

    /// Validates the command against the state and the context, and returns
    /// the events to append. An error changes nothing.
    fn decide(
        command: &Self::Command,
        state: &Self::State,
        context: &Self::Context,
    ) -> Result<Vec<Self::Event>, DomainError>;

    /// Applies one event. Total: events are facts, so it never fails.
    fn evolve(state: Self::State, event: &Self::Event) -> Self::State;

    /// The state after a stream of events.
    fn fold<'a, I>(events: I) -> Self::State
    where
        I: IntoIterator<Item = &'a Self::Event>,
        Self::Event: 'a,
    {
        events
            .into_iter()
            .fold(Self::State::default(), Self::evolve)
    }
}

/// How an event is stored: its type name and the version of its JSON shape.
/// A change to an event's fields gets a new version and an upcaster in the
/// store, so older events keep reading.
pub trait EventType {
    fn event_type(&self) -> &'static str;
    fn schema_version(&self) -> i32;
}

/// Declares an aggregate's event enum: each variant wraps the struct of the
/// same name, is tagged `"type": "<name>"` in JSON, and carries its schema
/// version. `TYPES` lists every (type, version), for the snapshot test.
macro_rules! events {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $variant:ident = ($tag:literal, $version:literal) ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(tag = "type")]
        pub enum $name {
            $( #[serde(rename = $tag)] $variant($variant), )*
        }

        impl $name {
            /// Every event type of this aggregate with its schema version.
            pub const TYPES: &'static [(&'static str, i32)] = &[$( ($tag, $version) ),*];
        }

        impl $crate::decider::EventType for $name {
            fn event_type(&self) -> &'static str {
                match self { $( $name::$variant(_) => $tag, )* }
            }

            fn schema_version(&self) -> i32 {
                match self { $( $name::$variant(_) => $version, )* }
            }
        }

        $(
            impl $variant {
                /// The type name this event is stored under.
                pub const TYPE: &'static str = $tag;
            }

            impl From<$variant> for $name {
                fn from(event: $variant) -> Self {
                    $name::$variant(event)
                }
            }
        )*
    };
}

pub(crate) use events;
