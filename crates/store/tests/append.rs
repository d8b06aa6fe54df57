//! Appending: expected versions, conflicts, idempotent retries, immutability.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{append, event, metadata};
use passerelle_store::testkit::TestDb;
use passerelle_store::{ExpectedVersion, StoreError};
use tokio::sync::Barrier;

#[tokio::test]
async fn appends_and_reads_a_stream_in_order_with_its_metadata() {
    let db = TestDb::new().await;
    let store = db.store();
    let meta = metadata();
    let first = store
        .append(&append(
            "person-1",
            ExpectedVersion::NoStream,
            &[event(1), event(2)],
            &meta,
        ))
        .await
        .unwrap();
    assert_eq!(first.stream_version, 2);
    assert!(!first.replayed);
    let meta2 = metadata();
    let second = store
        .append(&append(
            "person-1",
            ExpectedVersion::Exact(2),
            &[event(3)],
            &meta2,
        ))
        .await
        .unwrap();
    assert_eq!(second.stream_version, 3);
    assert!(second.positions[0] > first.positions[1]);

    let mut conn = db.pool.acquire().await.unwrap();
    let events = store.read_stream(&mut conn, "person-1", 1).await.unwrap();
    let ns: Vec<i64> = events
        .iter()
        .map(|e| e.value()["n"].as_i64().unwrap())
        .collect();
    assert_eq!(ns, [1, 2, 3]);
    assert_eq!(
        events.iter().map(|e| e.version).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert_eq!(events[0].metadata, meta);
    assert_eq!(events[2].metadata, meta2);
    assert_eq!(events[0].tenant, meta.structure);
    assert_eq!(
        events[0].event_id,
        passerelle_store::event_id(meta.command_id, 0)
    );
    let from_two = store.read_stream(&mut conn, "person-1", 2).await.unwrap();
    assert_eq!(from_two.len(), 2);
}

#[tokio::test]
async fn a_wrong_expected_version_is_a_conflict_carrying_the_actual_version() {
    let db = TestDb::new().await;
    let store = db.store();
    store
        .append(&append(
            "s",
            ExpectedVersion::NoStream,
            &[event(1), event(2)],
            &metadata(),
        ))
        .await
        .unwrap();
    for (stream, expected, actual) in [
        ("s", ExpectedVersion::Exact(1), Some(2)),
        ("s", ExpectedVersion::NoStream, Some(2)),
        ("absent", ExpectedVersion::Exact(4), None),
    ] {
        let err = store
            .append(&append(stream, expected, &[event(3)], &metadata()))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, StoreError::Conflict { actual: a, .. } if *a == actual),
            "{expected:?} on {stream}: {err:?}"
        );
    }
    let any = store
        .append(&append("s", ExpectedVersion::Any, &[event(3)], &metadata()))
        .await
        .unwrap();
    assert_eq!(any.stream_version, 3);
    let count: i64 = sqlx::query_scalar("select count(*) from events")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(count, 3, "refused appends wrote nothing");
}

#[tokio::test]
async fn appending_the_same_command_twice_returns_the_first_result_and_writes_nothing() {
    let db = TestDb::new().await;
    let store = db.store();
    let meta = metadata();
    let events = [event(1), event(2)];
    let first = store
        .append(&append("s", ExpectedVersion::NoStream, &events, &meta))
        .await
        .unwrap();
    for expected in [
        ExpectedVersion::NoStream,
        ExpectedVersion::Any,
        ExpectedVersion::Exact(0),
    ] {
        let again = store
            .append(&append("s", expected, &events, &meta))
            .await
            .unwrap();
        assert!(again.replayed, "{expected:?}");
        assert_eq!(again.positions, first.positions);
        assert_eq!(again.stream_version, first.stream_version);
    }
    let count: i64 = sqlx::query_scalar("select count(*) from events")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(count, 2);
    let version: i64 = sqlx::query_scalar("select version from streams where stream_id = 's'")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(version, 2, "the stream row was not advanced by the retries");

    let err = store
        .append(&append("other", ExpectedVersion::Any, &events, &meta))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::CommandReused { .. }), "{err:?}");
}

#[tokio::test]
async fn concurrent_retries_of_one_command_append_once() {
    let db = TestDb::new().await;
    let store = db.store();
    let meta = metadata();
    let barrier = Arc::new(Barrier::new(8));
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (store, meta, barrier) = (store.clone(), meta.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            store
                .append(&append("s", ExpectedVersion::Any, &[event(1)], &meta))
                .await
        }));
    }
    let mut fresh = 0;
    for t in tasks {
        let r = t.await.unwrap().unwrap();
        fresh += usize::from(!r.replayed);
    }
    assert_eq!(fresh, 1);
    let count: i64 = sqlx::query_scalar("select count(*) from events")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(count, 1);
}

/// Rounds of 8 writers racing on one stream, each expecting the same
/// version: one wins per round, the others get a conflict with the winner's
/// version, and no loser consumes a position.
#[tokio::test]
async fn concurrent_writers_on_one_stream_keep_versions_and_positions_contiguous() {
    const WRITERS: usize = 8;
    const ROUNDS: i64 = 25;
    let db = TestDb::new().await;
    let store = db.store();
    store
        .append(&append(
            "hot",
            ExpectedVersion::NoStream,
            &[event(0)],
            &metadata(),
        ))
        .await
        .unwrap();
    for round in 1..=ROUNDS {
        let barrier = Arc::new(Barrier::new(WRITERS));
        let mut tasks = Vec::new();
        for w in 0..WRITERS {
            let (store, barrier) = (store.clone(), barrier.clone());
            tasks.push(tokio::spawn(async move {
                let meta = metadata();
                let events = [event(round * 100 + w as i64), event(round * 100 + w as i64)];
                barrier.wait().await;
                store
                    .append(&append(
                        "hot",
                        ExpectedVersion::Exact(1 + (round - 1) * 2),
                        &events,
                        &meta,
                    ))
                    .await
            }));
        }
        let mut winners = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(r) => {
                    winners += 1;
                    assert_eq!(r.stream_version, 1 + round * 2);
                }
                Err(StoreError::Conflict { actual, .. }) => assert_eq!(actual, Some(1 + round * 2)),
                Err(e) => panic!("unexpected error {e:?}"),
            }
        }
        assert_eq!(winners, 1, "round {round}");
    }
    let rows: Vec<(i64, i64)> =
        sqlx::query_as("select version, global_position from events order by version")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    let total = 1 + ROUNDS * 2;
    assert_eq!(rows.len() as i64, total);
    for (i, (version, position)) in rows.iter().enumerate() {
        assert_eq!(*version, i as i64 + 1, "versions are contiguous");
        assert_eq!(*position, i as i64 + 1, "losers drew no position");
    }
}

#[tokio::test]
async fn stored_events_cannot_be_updated_deleted_or_truncated() {
    let db = TestDb::new().await;
    let store = db.store();
    store
        .append(&append(
            "s",
            ExpectedVersion::NoStream,
            &[event(1)],
            &metadata(),
        ))
        .await
        .unwrap();
    for sql in [
        "update events set data = '{}'",
        "delete from events",
        "truncate events",
    ] {
        let err = sqlx::query(sql).execute(&db.pool).await.unwrap_err();
        let db_err = err.as_database_error().expect("a database error");
        assert_eq!(db_err.code().as_deref(), Some("23001"), "{sql}: {db_err}");
        assert!(
            db_err.message().contains("events are immutable"),
            "{}",
            db_err.message()
        );
    }
    let data: serde_json::Value = sqlx::query_scalar("select data from events")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(data, serde_json::json!({"n": 1}));
}

#[tokio::test]
async fn an_empty_append_is_refused() {
    let db = TestDb::new().await;
    let err = db
        .store()
        .append(&append("s", ExpectedVersion::Any, &[], &metadata()))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NothingToAppend));
}

/// The command path runs on connections of its own, each statement on its
/// generic plan, while the readers' pool keeps plans made for each run's
/// parameters; readers holding every connection of theirs do not hold an
/// append back.
#[tokio::test]
async fn the_command_path_has_connections_of_its_own_with_generic_plans() {
    let db = TestDb::new().await;
    let store = db.store();
    let mut readers = Vec::new();
    for _ in 0..store.pool().options().get_max_connections() {
        readers.push(store.pool().acquire().await.unwrap());
    }
    let mode: String = sqlx::query_scalar("show plan_cache_mode")
        .fetch_one(&mut *readers[0])
        .await
        .unwrap();
    assert_eq!(mode, "auto");

    let mut conn = tokio::time::timeout(Duration::from_secs(5), store.acquire_warm())
        .await
        .expect("a command's connection while readers hold all of theirs")
        .unwrap();
    let mode: String = sqlx::query_scalar("show plan_cache_mode")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    assert_eq!(mode, "force_generic_plan");
    conn.finished();
    drop(conn);

    let meta = metadata();
    let appended = tokio::time::timeout(
        Duration::from_secs(5),
        store.append(&append(
            "person-1",
            ExpectedVersion::NoStream,
            &[event(1)],
            &meta,
        )),
    )
    .await
    .expect("an append while readers hold all of their connections")
    .unwrap();
    assert_eq!(appended.stream_version, 1);
}

/// The sessions open on the test's database.
async fn client_backends(conn: &mut sqlx::PgConnection) -> i64 {
    sqlx::query_scalar(
        "select count(*) from pg_stat_activity
         where datname = current_database() and backend_type = 'client backend'",
    )
    .fetch_one(conn)
    .await
    .unwrap()
}

/// A service about to take commands opens every connection of its command
/// path first, so that its first commands do not each wait for one.
#[tokio::test]
async fn the_command_path_opens_its_connections_ahead() {
    let db = TestDb::new().await;
    let store = db.store();
    // Counted on one connection held throughout, so that the count's own
    // connection does not change it.
    let mut counting = db.pool.acquire().await.unwrap();
    let before = client_backends(&mut counting).await;
    store.open_command_path().await.unwrap();
    let opened = client_backends(&mut counting).await - before;
    assert_eq!(
        opened,
        i64::from(store.pool().options().get_max_connections() / 2),
        "every connection of the command path's pool, half the readers' one"
    );
    // Open, they serve an append.
    let meta = metadata();
    let appended = store
        .append(&append(
            "person-ahead",
            ExpectedVersion::NoStream,
            &[event(1)],
            &meta,
        ))
        .await
        .unwrap();
    assert_eq!(appended.stream_version, 1);
    assert_eq!(client_backends(&mut counting).await - before, opened);
}

/// A caller waiting for one of the command path's connections gets one
/// soon after one is given back, even while another caller keeps taking and
/// finishing connections: each connection kept warm wakes a caller waiting,
/// instead of serving only the callers that come after.
#[tokio::test]
async fn a_caller_waiting_for_a_command_connection_is_not_passed_over() {
    let db = TestDb::new().await;
    let store = db.store();
    // Every connection of the command path's pool, half the readers' one.
    let mut held = Vec::new();
    for _ in 0..store.pool().options().get_max_connections() / 2 {
        held.push(store.acquire_warm().await.unwrap());
    }
    let waiter = tokio::spawn({
        let store = store.clone();
        async move { store.acquire_warm().await.map(drop) }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut given_back = held.pop().unwrap();
    given_back.finished();
    drop(given_back);
    let busy = tokio::spawn({
        let store = store.clone();
        async move {
            loop {
                let mut conn = store.acquire_warm().await.unwrap();
                sqlx::query("select 1").execute(&mut *conn).await.unwrap();
                conn.finished();
                drop(conn);
                tokio::task::yield_now().await;
            }
        }
    });
    let waited = tokio::time::timeout(Duration::from_secs(2), waiter).await;
    busy.abort();
    waited
        .expect("the waiting caller had a connection within 2 s")
        .unwrap()
        .unwrap();
}

/// A directory removed when dropped, the test passed or not.
struct Scratch(std::path::PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Relays connections to the test's PostgreSQL through a Unix socket in
/// `dir`, counting those opened: what a pool attempted, where the server
/// counts only those that got through. Past `most` it relays no more, so
/// that a pool opening connections without end does not flood the server
/// the other tests share.
async fn counting_relay(
    dir: &std::path::Path,
    options: &sqlx::postgres::PgConnectOptions,
    most: usize,
) -> Arc<std::sync::atomic::AtomicUsize> {
    let listener =
        tokio::net::UnixListener::bind(dir.join(format!(".s.PGSQL.{}", options.get_port())))
            .unwrap();
    let opened = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = opened.clone();
    let (socket, host, port) = (
        options.get_socket().cloned(),
        options.get_host().to_owned(),
        options.get_port(),
    );
    tokio::spawn(async move {
        loop {
            let (mut client, _) = listener.accept().await.unwrap();
            if counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst) >= most {
                continue;
            }
            let (socket, host) = (socket.clone(), host.clone());
            // A server that refuses (its listen queue full) closes the
            // client's connection: the pool sees the error it would see.
            tokio::spawn(async move {
                let _ = match socket {
                    Some(dir) => {
                        let path = dir.join(format!(".s.PGSQL.{port}"));
                        match tokio::net::UnixStream::connect(path).await {
                            Ok(mut server) => {
                                tokio::io::copy_bidirectional(&mut client, &mut server).await
                            }
                            Err(e) => Err(e),
                        }
                    }
                    None => match tokio::net::TcpStream::connect((host, port)).await {
                        Ok(mut server) => {
                            tokio::io::copy_bidirectional(&mut client, &mut server).await
                        }
                        Err(e) => Err(e),
                    },
                };
            });
        }
    });
    opened
}

/// Under a steady load on a command path whose pool is not full yet (a
/// start, or connections closed by the server), every connection the pool
/// begins to open is opened to the end: a caller served meanwhile by a
/// connection kept warm no longer drops the one being opened for it.
/// Dropped half-way, each costs the server a backend forked for a client
/// already gone; thousands a second filled its listen queue, and every new
/// connection then failed at once (`EAGAIN`), sessions' lookups with them.
#[tokio::test]
async fn the_command_path_abandons_no_connection_it_opens() {
    let db = TestDb::new().await;
    // Short: a socket's path has at most 107 bytes.
    let dir = Scratch(std::env::temp_dir().join(format!(
        "pg-relay-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    )));
    std::fs::create_dir_all(&dir.0).unwrap();
    let options = db.pool.connect_options().as_ref().clone();
    let attempted = counting_relay(&dir.0, &options, 100).await;
    // The readers' pool, through the relay: the command path's is made from
    // it, and opens nothing before it is used.
    let readers = sqlx::postgres::PgPoolOptions::new()
        .max_connections(20)
        .connect_lazy_with(options.socket(&dir.0));
    let store = passerelle_store::Store::new(
        readers,
        passerelle_store::Keyring::new(&passerelle_store::MasterKey::generate()),
        passerelle_store::Upcasters::default(),
    );
    let mut counting = db.pool.acquire().await.unwrap();
    let before = client_backends(&mut counting).await;
    // Sixteen callers, more than the command path has connections, each
    // taking a connection, running a statement and giving it back: two
    // first, whose connections are kept and taken again while the other
    // fourteen come, and find the pool opening connections.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut callers = Vec::new();
    for n in 0..16 {
        if n == 2 {
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        let (store, stop) = (store.clone(), stop.clone());
        callers.push(tokio::spawn(async move {
            let mut served = 0u32;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let mut conn = store.acquire_warm().await?;
                sqlx::query("select 1").execute(&mut *conn).await?;
                conn.finished();
                drop(conn);
                served += 1;
                // What a request does besides: the connection meanwhile is
                // kept, and wakes a caller waiting.
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            Ok::<_, sqlx::Error>(served)
        }));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut served = 0;
    for caller in callers {
        served += caller.await.unwrap().expect("every caller served");
    }
    // A connection still being opened for the pool is counted opened.
    tokio::time::sleep(Duration::from_millis(250)).await;
    let opened = client_backends(&mut counting).await - before;
    let attempted = attempted.load(std::sync::atomic::Ordering::SeqCst);
    assert!(served > 100, "the callers were served: {served}");
    assert_eq!(
        i64::try_from(attempted).unwrap(),
        opened,
        "every connection attempted was opened and kept ({served} statements)"
    );
    assert!(
        opened <= i64::from(store.pool().options().get_max_connections() / 2),
        "no more than the command path's pool holds: {opened}"
    );
}

/// Closing the readers' pool closes the command path's too, its kept
/// connections with it; closing the store waits for neither of them.
#[tokio::test]
async fn closing_the_readers_pool_closes_the_command_path() {
    let db = TestDb::new().await;
    let store = db.store();
    let mut kept = store.acquire_warm().await.unwrap();
    sqlx::query("select 1").execute(&mut *kept).await.unwrap();
    kept.finished();
    drop(kept);
    store.pool().close().await;
    let refused = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match store.acquire_warm().await {
                Err(e) => break e,
                Ok(conn) => {
                    drop(conn);
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
    })
    .await
    .expect("the command path's pool closed within 5 s");
    assert!(matches!(refused, sqlx::Error::PoolClosed), "{refused}");

    let other = TestDb::new().await.store();
    let mut kept = other.acquire_warm().await.unwrap();
    kept.finished();
    drop(kept);
    tokio::time::timeout(Duration::from_secs(5), other.close())
        .await
        .expect("the store closed with a connection kept warm");
}
