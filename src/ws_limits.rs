//! What one WebSocket may hold: its operations (subscriptions, and the
//! queries and mutations sent over it) running at once.
//!
//! async-graphql starts every `subscribe` a client sends and keeps it until
//! it ends; each one reads the database again whenever a command is
//! committed anywhere. Without a bound, one client with one socket could
//! start thousands. [`Subscriptions`] follows which are running, from the
//! client's `subscribe` and `complete` and the server's `error` and
//! `complete` (graphql-transport-ws; the older graphql-ws protocol's
//! `start`, `stop` and `complete` likewise), and refuses the socket past
//! [`MOST_SUBSCRIPTIONS`].

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use axum::extract::ws::Message;

/// Subscriptions one socket may run at once: a page runs one or two, an
/// application a handful.
pub const MOST_SUBSCRIPTIONS: usize = 16;

/// The ids of a socket's operations running, shared by its two
/// directions.
#[derive(Clone, Default)]
pub struct Subscriptions {
    ids: Arc<Mutex<Ids>>,
}

#[derive(Default)]
struct Ids {
    running: HashSet<String>,
    /// Ended by the client, the server's `complete` for them still to
    /// come: that answer must not end a new operation the client started
    /// under the same id meanwhile.
    ending: HashSet<String>,
}

/// A protocol message's type and id, when it has them: text and binary
/// frames alike, as async-graphql reads both.
fn kind_and_id(message: &Message) -> Option<(String, Option<String>)> {
    #[derive(serde::Deserialize)]
    struct Envelope {
        #[serde(rename = "type")]
        kind: String,
        id: Option<String>,
    }
    let bytes: &[u8] = match message {
        Message::Text(text) => text.as_bytes(),
        Message::Binary(bytes) => bytes,
        _ => return None,
    };
    serde_json::from_slice::<Envelope>(bytes)
        .ok()
        .map(|e| (e.kind, e.id))
}

impl Subscriptions {
    fn ids(&self) -> std::sync::MutexGuard<'_, Ids> {
        self.ids.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the socket may go on after the client's `message`: false
    /// once it starts one operation more than [`MOST_SUBSCRIPTIONS`].
    pub fn admit(&self, message: &Message) -> bool {
        let Some((kind, Some(id))) = kind_and_id(message) else {
            return true;
        };
        let mut ids = self.ids();
        match kind.as_str() {
            "subscribe" | "start" => {
                ids.running.insert(id);
                ids.running.len() <= MOST_SUBSCRIPTIONS
            }
            "complete" | "stop" => {
                if ids.running.remove(&id) {
                    ids.ending.insert(id);
                }
                true
            }
            _ => true,
        }
    }

    /// Notes an operation the server ended (`message` to the client).
    pub fn answered(&self, message: &Message) {
        // Every `next` goes through here: only an end is worth parsing.
        let end = match message {
            Message::Text(text) => text.contains("\"complete\"") || text.contains("\"error\""),
            _ => false,
        };
        if !end {
            return;
        }
        if let Some((kind, Some(id))) = kind_and_id(message)
            && matches!(kind.as_str(), "complete" | "error")
        {
            let mut ids = self.ids();
            // The answer to the client's own end, or the end of one the
            // server ran to its close.
            if !ids.ending.remove(&id) {
                ids.running.remove(&id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(value: serde_json::Value) -> Message {
        Message::Text(value.to_string().into())
    }

    #[test]
    fn a_socket_runs_so_many_subscriptions_at_once_and_ended_ones_give_their_place() {
        let s = Subscriptions::default();
        let subscribe = |id: usize| {
            text(serde_json::json!({ "id": id.to_string(), "type": "subscribe", "payload": {} }))
        };
        for id in 0..MOST_SUBSCRIPTIONS {
            assert!(s.admit(&subscribe(id)));
        }
        // The same id again is still one subscription.
        assert!(s.admit(&subscribe(0)));
        // Ended by the client, by the server's error, by the server's end.
        assert!(s.admit(&text(serde_json::json!({ "id": "0", "type": "complete" }))));
        s.answered(&text(
            serde_json::json!({ "id": "1", "type": "error", "payload": [] }),
        ));
        s.answered(&text(serde_json::json!({ "type": "complete", "id": "2" })));
        // A `next` ends nothing.
        s.answered(&text(serde_json::json!({ "id": "3", "type": "next", "payload": { "data": { "complete": true } } })));
        for id in [100, 101, 102] {
            assert!(s.admit(&subscribe(id)));
        }
        assert!(!s.admit(&subscribe(103)), "one more than the bound");

        // Binary frames count as text ones do.
        let s = Subscriptions::default();
        let binary = |id: usize| {
            Message::Binary(
                serde_json::json!({ "id": id.to_string(), "type": "subscribe", "payload": {} })
                    .to_string()
                    .into_bytes()
                    .into(),
            )
        };
        for id in 0..MOST_SUBSCRIPTIONS {
            assert!(s.admit(&binary(id)));
        }
        assert!(!s.admit(&binary(MOST_SUBSCRIPTIONS)));

        // An id ended by the client and started again: the server's answer
        // to the end, arriving after, does not end the new one.
        let s = Subscriptions::default();
        for id in 0..MOST_SUBSCRIPTIONS {
            assert!(s.admit(&subscribe(id)));
        }
        for id in 0..MOST_SUBSCRIPTIONS {
            assert!(s.admit(&text(
                serde_json::json!({ "id": id.to_string(), "type": "complete" })
            )));
            assert!(s.admit(&subscribe(id)));
            s.answered(&text(
                serde_json::json!({ "id": id.to_string(), "type": "complete" }),
            ));
        }
        assert!(!s.admit(&subscribe(200)), "the reused ids still run");
        // Other messages pass.
        assert!(s.admit(&text(serde_json::json!({ "type": "ping" }))));
        assert!(s.admit(&Message::Binary(vec![1, 2].into())));
    }
}
