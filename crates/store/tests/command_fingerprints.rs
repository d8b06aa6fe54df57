//! A command's fingerprint kept with its events: the same id appended again
//! with another fingerprint is refused, with the same one it is replayed,
//! and a command appended without one (before fingerprints were kept) is
//! replayed as before.

mod common;

use common::{append, event, metadata};
use passerelle_store::testkit::TestDb;
use passerelle_store::{ExpectedVersion, StoreError};

#[tokio::test]
async fn the_fingerprint_tells_a_retry_from_another_command_under_the_same_id() {
    let db = TestDb::new().await;
    let store = db.store();
    let meta = metadata();
    let events = [event(1), event(2)];
    let first_print = store.command_fingerprint(b"first");
    let other_print = store.command_fingerprint(b"other");
    assert_ne!(first_print, other_print);
    assert_eq!(first_print, store.command_fingerprint(b"first"));

    let mut conn = db.pool.acquire().await.unwrap();
    let first = store
        .append_command_in(
            &mut conn,
            &append("s", ExpectedVersion::NoStream, &events, &meta),
            Some(&first_print),
        )
        .await
        .unwrap();
    // Kept on the first event only.
    let stored: Vec<Option<Vec<u8>>> =
        sqlx::query_scalar("select command_fingerprint from events order by version")
            .fetch_all(&mut *conn)
            .await
            .unwrap();
    assert_eq!(stored, vec![Some(first_print.to_vec()), None]);
    let found = store
        .command_appended(&mut conn, meta.command_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.version, 2);
    assert!(found.is_same("s", &first_print));
    assert!(!found.is_same("s", &other_print));
    assert!(!found.is_same("t", &first_print));

    for expected in [ExpectedVersion::Exact(0), ExpectedVersion::Any] {
        let again = store
            .append_command_in(
                &mut conn,
                &append("s", expected, &events, &meta),
                Some(&first_print),
            )
            .await
            .unwrap();
        assert!(again.replayed);
        assert_eq!(again.positions, first.positions);
        let err = store
            .append_command_in(
                &mut conn,
                &append("s", expected, &events, &meta),
                Some(&other_print),
            )
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::CommandReused { .. }), "{err:?}");
    }
    let count: i64 = sqlx::query_scalar("select count(*) from events")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    assert_eq!(count, 2);
}

#[tokio::test]
async fn a_command_appended_without_a_fingerprint_is_replayed_as_before() {
    let db = TestDb::new().await;
    let store = db.store();
    let meta = metadata();
    let events = [event(1)];
    store
        .append(&append("s", ExpectedVersion::NoStream, &events, &meta))
        .await
        .unwrap();
    let mut conn = db.pool.acquire().await.unwrap();
    let print = store.command_fingerprint(b"any");
    let found = store
        .command_appended(&mut conn, meta.command_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.fingerprint, None);
    assert!(found.is_same("s", &print));
    let again = store
        .append_command_in(
            &mut conn,
            &append("s", ExpectedVersion::Exact(0), &events, &meta),
            Some(&print),
        )
        .await
        .unwrap();
    assert!(again.replayed);
}
