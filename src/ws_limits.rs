//! What one WebSocket may hold: its subscriptions running at once.
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

/// The ids of a socket's subscriptions running, shared by its two
/// directions.
#[derive(Clone, Default)]
pub struct Subscriptions {
    running: Arc<Mutex<HashSet<String>>>,
}

/// A protocol message's type and id, when it has them.
fn kind_and_id(text: &str) -> Option<(String, Option<String>)> {
    #[derive(serde::Deserialize)]
    struct Envelope {
        #[serde(rename = "type")]
        kind: String,
        id: Option<String>,
    }
    serde_json::from_str::<Envelope>(text)
        .ok()
        .map(|e| (e.kind, e.id))
}

impl Subscriptions {
    /// Whether the socket may go on after the client's `message`: false
    /// once it starts one subscription more than [`MOST_SUBSCRIPTIONS`].
    pub fn admit(&self, message: &Message) -> bool {
        let Message::Text(text) = message else {
            return true;
        };
        let Some((kind, Some(id))) = kind_and_id(text) else {
            return true;
        };
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        match kind.as_str() {
            "subscribe" | "start" => {
                running.insert(id);
                running.len() <= MOST_SUBSCRIPTIONS
            }
            "complete" | "stop" => {
                running.remove(&id);
                true
            }
            _ => true,
        }
    }

    /// Notes a subscription the server ended (`message` to the client).
    pub fn answered(&self, message: &Message) {
        let Message::Text(text) = message else {
            return;
        };
        // Every `next` goes through here: only an end is worth parsing.
        if !(text.contains("\"complete\"") || text.contains("\"error\"")) {
            return;
        }
        if let Some((kind, Some(id))) = kind_and_id(text)
            && matches!(kind.as_str(), "complete" | "error")
        {
            self.running
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&id);
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
        // Other messages pass.
        assert!(s.admit(&text(serde_json::json!({ "type": "ping" }))));
        assert!(s.admit(&Message::Binary(vec![1, 2].into())));
    }
}
