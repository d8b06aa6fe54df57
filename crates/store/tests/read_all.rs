//! Reading the whole log in commit-safe order while writers commit out of order.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::{append, event, metadata, read_everything};
use passerelle_store::testkit::TestDb;
use passerelle_store::{ExpectedVersion, LogPosition};
use rand::Rng;
use uuid::Uuid;

/// 16 writers on many streams hold their transaction open for a random time
/// before committing (some roll back), so positions are committed out of
/// order; a reader following `read_all` meanwhile must receive every
/// committed event exactly once and no rolled-back one.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_follower_receives_every_committed_event_exactly_once() {
    const WRITERS: usize = 16;
    const APPENDS_PER_WRITER: usize = 40;
    let db = TestDb::new().await;
    let store = db.store();

    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let store = store.clone();
        writers.push(tokio::spawn(async move {
            let mut committed = Vec::new();
            for a in 0..APPENDS_PER_WRITER {
                let (pause, roll_back, stream) = {
                    let mut rng = rand::rng();
                    (
                        rng.random_range(0..15u64),
                        rng.random_bool(0.1),
                        format!("stream-{}", rng.random_range(0..64)),
                    )
                };
                let meta = metadata();
                let events = [event((w * 1000 + a) as i64), event((w * 1000 + a) as i64)];
                let mut tx = store.pool().begin().await.unwrap();
                let result = store
                    .append_in(
                        &mut tx,
                        &append(&stream, ExpectedVersion::Any, &events, &meta),
                    )
                    .await;
                result.unwrap();
                tokio::time::sleep(Duration::from_millis(pause)).await;
                if roll_back {
                    tx.rollback().await.unwrap();
                } else {
                    tx.commit().await.unwrap();
                    committed.extend(
                        (0..events.len()).map(|i| passerelle_store::event_id(meta.command_id, i)),
                    );
                }
            }
            committed
        }));
    }

    let reader_store = store.clone();
    let (done_tx, mut done_rx) = tokio::sync::watch::channel(false);
    let reader = tokio::spawn(async move {
        let mut seen: Vec<Uuid> = Vec::new();
        let mut after = LogPosition::START;
        let mut deadline: Option<std::time::Instant> = None;
        let mut conn = reader_store.pool().acquire().await.unwrap();
        loop {
            let batch = reader_store.read_all(&mut conn, after, 37).await.unwrap();
            if let Some(last) = batch.last() {
                assert!(last.position > after, "the reader moves forward");
                after = last.position;
                seen.extend(batch.iter().map(|e| e.event_id));
                continue;
            }
            if *done_rx.borrow_and_update() {
                // Writers are done: read on until the horizon passes the last commit.
                let committed: i64 = sqlx::query_scalar("select count(*) from events")
                    .fetch_one(&mut *conn)
                    .await
                    .unwrap();
                if seen.len() as i64 >= committed {
                    return seen;
                }
                let deadline = *deadline
                    .get_or_insert_with(|| std::time::Instant::now() + Duration::from_secs(20));
                assert!(
                    std::time::Instant::now() < deadline,
                    "the follower stopped at {} of {committed} committed events: some were skipped",
                    seen.len()
                );
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    });

    let mut committed = HashSet::new();
    for w in writers {
        committed.extend(w.await.unwrap());
    }
    done_tx.send(true).unwrap();
    let seen = reader.await.unwrap();
    let unique: HashSet<Uuid> = seen.iter().copied().collect();
    assert_eq!(unique.len(), seen.len(), "no event was delivered twice");
    assert_eq!(
        unique, committed,
        "every committed event was delivered, and only those"
    );
    assert!(
        committed.len() > WRITERS * APPENDS_PER_WRITER,
        "enough events were written"
    );
}

#[tokio::test]
async fn read_all_pages_through_the_log_in_commit_order() {
    let db = TestDb::new().await;
    let store = db.store();
    for i in 0..10 {
        store
            .append(&append(
                &format!("s{}", i % 3),
                ExpectedVersion::Any,
                &[event(i)],
                &metadata(),
            ))
            .await
            .unwrap();
    }
    let everything = read_everything(&store).await;
    let mut conn = db.pool.acquire().await.unwrap();
    let first = store
        .read_all(&mut conn, LogPosition::START, 4)
        .await
        .unwrap();
    let rest = store
        .read_all(&mut conn, first[3].position, 100)
        .await
        .unwrap();
    assert_eq!(
        first.iter().chain(&rest).cloned().collect::<Vec<_>>(),
        everything
    );
    let ns: Vec<i64> = first
        .iter()
        .chain(&rest)
        .map(|e| e.value()["n"].as_i64().unwrap())
        .collect();
    assert_eq!(ns, (0..10).collect::<Vec<_>>());
}

#[tokio::test]
async fn an_open_transaction_holds_later_commits_back_instead_of_letting_them_be_skipped() {
    let db = TestDb::new().await;
    let store = db.store();
    // A slow writer draws its position first and stays open.
    let mut slow = db.pool.begin().await.unwrap();
    let slow_meta = metadata();
    store
        .append_in(
            &mut slow,
            &append("slow", ExpectedVersion::Any, &[event(1)], &slow_meta),
        )
        .await
        .unwrap();
    // A fast writer draws a later position and commits.
    store
        .append(&append(
            "fast",
            ExpectedVersion::Any,
            &[event(2)],
            &metadata(),
        ))
        .await
        .unwrap();
    let mut conn = db.pool.acquire().await.unwrap();
    let visible = store
        .read_all(&mut conn, LogPosition::START, 100)
        .await
        .unwrap();
    assert!(
        visible.is_empty(),
        "the fast event waits behind the open transaction"
    );
    slow.commit().await.unwrap();
    let visible = read_everything(&store).await;
    let ns: Vec<i64> = visible
        .iter()
        .map(|e| e.value()["n"].as_i64().unwrap())
        .collect();
    assert_eq!(ns, [1, 2]);
}

/// Read-all decodes each column by its position in the row, without
/// checking the column's type first: every field of an event read back must
/// be the one appended, in its own place (two columns of one type swapped,
/// or one read at the wrong position, would be caught here).
#[tokio::test]
async fn read_all_gives_back_every_field_as_appended() {
    let db = TestDb::new().await;
    let store = db.store();
    let mut meta = metadata();
    meta.causation_id = Some(Uuid::new_v4());
    // Another stream first, so that no event's position equals its
    // version and reading one column for the other shows.
    store
        .append(&append(
            "fields-0",
            ExpectedVersion::NoStream,
            &[event(0), event(0), event(0)],
            &metadata(),
        ))
        .await
        .unwrap();
    let events = [event(1), event(2)];
    let at = time::OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_123_456_000).unwrap();
    let appended = store
        .append(&passerelle_store::Append {
            recorded_at: Some(at),
            ..append("fields-1", ExpectedVersion::NoStream, &events, &meta)
        })
        .await
        .unwrap();
    let expected = appended.recorded(&events, &meta, "fields-1");
    let read: Vec<_> = read_everything(&store)
        .await
        .into_iter()
        .filter(|e| e.stream_id == "fields-1")
        .collect();
    assert_eq!(read.len(), expected.len());
    for (read, expected) in read.iter().zip(&expected) {
        assert_ne!(read.position.global_position, read.version);
        assert_eq!(read.position, expected.position);
        assert_eq!(read.tenant, expected.tenant);
        assert_eq!(read.stream_id, expected.stream_id);
        assert_eq!(read.version, expected.version);
        assert_eq!(read.event_id, expected.event_id);
        assert_eq!(read.event_type, expected.event_type);
        assert_eq!(read.schema_version, expected.schema_version);
        assert_eq!(read.value(), expected.value());
        assert_eq!(read.metadata, expected.metadata);
        assert_eq!(read.recorded_at, at);
    }
}
