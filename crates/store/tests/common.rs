//! Helpers shared by the store's integration tests.
#![allow(dead_code, reason = "each test binary uses a different part")]

use passerelle_store::{Append, ExpectedVersion, Metadata, NewEvent};
use serde_json::json;

pub use passerelle_store::testkit::metadata;

pub fn event(n: i64) -> NewEvent {
    NewEvent::new("Tested", 1, json!({ "n": n }))
}

pub fn append<'a>(
    stream: &'a str,
    expected: ExpectedVersion,
    events: &'a [NewEvent],
    metadata: &'a Metadata,
) -> Append<'a> {
    Append {
        stream_id: stream,
        expected,
        events,
        metadata,
        recorded_at: None,
    }
}

/// Every committed event, read through `read_all`. Transaction ids are
/// cluster-wide, so transactions of other tests' databases can hold the
/// commit-safe horizon back for a moment: wait until it passes.
pub async fn read_everything(
    store: &passerelle_store::Store,
) -> Vec<passerelle_store::RecordedEvent> {
    let mut conn = store.pool().acquire().await.unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let committed: i64 = sqlx::query_scalar("select count(*) from events")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        let events = store
            .read_all(&mut conn, passerelle_store::LogPosition::START, 1_000_000)
            .await
            .unwrap();
        if events.len() as i64 == committed {
            return events;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "read_all stayed behind the committed events"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}
