//! The dashboards read from a streaming standby (`database.read_url`), made
//! here by `pg_basebackup -R` from a primary of the test's own: served from
//! it once it has caught up, the same figures as the primary's; from the
//! primary when it stops, without an error; and from the primary for a
//! viewer who has just written (read-your-writes).

mod common;
mod pg_cluster;

use std::time::{Duration, Instant};

use common::{Server, create_staff_at, gql, login, wait_for_status};
use pg_cluster::{Scratch, Server as Postgres};
use serde_json::{Value, json};
use sqlx::Connection as _;

const FUNNEL: &str = "query($s: ID!) { immersionFunnel(filter: { structureId: $s }) {
    masked steps { step count } } }";

const PEOPLE: &str = "{ people(first: 10) { edges { node { id } } } }";
const IMMERSIONS: &str = "{ immersions(first: 10) { edges { node { id } } } }";

/// The sum of `passerelle_lagging_reads_total` over the lines with `labels`.
async fn reads(server: &Server, labels: &[&str]) -> f64 {
    let (_, metrics) = server.get("/metrics").await;
    metrics
        .lines()
        .filter(|l| l.starts_with("passerelle_lagging_reads_total{"))
        .filter(|l| labels.iter().all(|label| l.contains(label)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

async fn funnel(server: &Server, token: &str, structure: &Value) -> Value {
    let answer = gql(server, Some(token), FUNNEL, json!({ "s": structure })).await;
    assert!(answer["errors"].is_null(), "{answer}");
    answer["data"]["immersionFunnel"].clone()
}

fn proposed(funnel: &Value) -> i64 {
    funnel["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["step"] == "PROPOSED")
        .and_then(|s| s["count"].as_i64())
        .unwrap_or(0)
}

fn wait_logged(server: &Server, needle: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while server.logged(needle).is_empty() {
        assert!(Instant::now() < deadline, "never logged « {needle} »");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboards_read_from_a_streaming_standby_and_fall_back_to_the_primary() {
    let scratch = Scratch::new("replica");
    let mut primary = Postgres::init(
        &scratch,
        "primary",
        "host all all 127.0.0.1/32 trust\nhost replication all 127.0.0.1/32 trust\n",
        "wal_level = replica\nmax_wal_senders = 4\n",
    );
    primary.start();
    primary.create_database("passerelle").await;
    let mut standby = Postgres::standby_of(&primary, &scratch, "standby");
    standby.start();

    let dir = common::data_dir();
    let url = primary.url("passerelle", "");
    let server = Server::start(|cmd| {
        cmd.env("DATABASE_URL", &url)
            .env(
                "PASSERELLE_DATABASE__READ_URL",
                standby.url("passerelle", ""),
            )
            .env("PASSERELLE_DATABASE__READ_MAX_LAG_MS", "3000")
            .env("PASSERELLE_PROJECTIONS__POLL_INTERVAL_MS", "50")
            .env("PASSERELLE_DATA_DIR", dir.path());
    });
    wait_for_status(&server, "/ready", 200).await;
    create_staff_at(
        &url,
        &dir,
        "Mission locale de Nantes",
        "mediator",
        "camille@ml-nantes.fr",
    );
    create_staff_at(
        &url,
        &dir,
        "Mission locale de Nantes",
        "manager",
        "dominique@ml-nantes.fr",
    );
    let writer = login(&server, "camille@ml-nantes.fr").await;
    let reader = login(&server, "dominique@ml-nantes.fr").await;
    let me = gql(&server, Some(&reader), "{ me { structureId } }", json!({})).await;
    let structure = me["data"]["me"]["structureId"].clone();
    wait_logged(&server, "the standby serves the reads that may lag");

    // A command's result is read at once by whoever issued it, and their
    // dashboards come from the primary for a while.
    let employer =
        common::register_employer(&server, &writer, "73282932000074", "Boulangerie du Port").await;
    let person = common::enroll(&server, &writer, None).await;
    let immersion = common::propose(&server, &writer, &person, &employer).await;
    assert!(immersion.is_string(), "{immersion}");
    let read = gql(
        &server,
        Some(&writer),
        "query($i: ID!) { immersion(id: $i) { id } }",
        json!({ "i": immersion }),
    )
    .await;
    assert_eq!(read["data"]["immersion"]["id"], immersion, "{read}");
    let own_before = reads(&server, &["served_by=\"primary\"", "reason=\"own_writes\""]).await;
    funnel(&server, &writer, &structure).await;
    assert_eq!(
        reads(&server, &["served_by=\"primary\"", "reason=\"own_writes\""]).await,
        own_before + 1.0,
        "a viewer who just wrote read from the standby"
    );

    // Another viewer reads from the standby, which catches up.
    let deadline = Instant::now() + Duration::from_secs(20);
    let from_standby = loop {
        let before = reads(&server, &["served_by=\"standby\""]).await;
        let figures = funnel(&server, &reader, &structure).await;
        let served = reads(&server, &["served_by=\"standby\""]).await > before;
        if served && proposed(&figures) == 1 {
            break figures;
        }
        assert!(
            Instant::now() < deadline,
            "the standby never served the figures: {figures}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // Long lists too.
    let before = reads(&server, &["served_by=\"standby\""]).await;
    let people = gql(&server, Some(&reader), PEOPLE, json!({})).await;
    assert_eq!(
        people["data"]["people"]["edges"][0]["node"]["id"], person,
        "{people}"
    );
    assert!(reads(&server, &["served_by=\"standby\""]).await > before);

    // The same figures as the primary's: read there from the same server
    // once the standby is gone.
    standby.stop();
    let failed_before = reads(&server, &["served_by=\"primary\""]).await;
    let from_primary = funnel(&server, &reader, &structure).await;
    assert_eq!(from_primary, from_standby);
    assert!(reads(&server, &["served_by=\"primary\""]).await > failed_before);
    wait_logged(&server, "the standby does not answer");
    for _ in 0..3 {
        assert_eq!(funnel(&server, &reader, &structure).await, from_standby);
    }
    let list = gql(&server, Some(&reader), IMMERSIONS, json!({})).await;
    assert_eq!(
        list["data"]["immersions"]["edges"][0]["node"]["id"], immersion,
        "{list}"
    );
    // Nothing in the log about who read or what.
    for line in server.logged("standby") {
        assert!(!line.contains("ml-nantes.fr"), "{line}");
    }
    let status = server.terminate();
    assert!(status.success(), "{status:?}");
    primary.stop();
}

/// Forwards every connection to `backend` until `hung` is set, then holds
/// what either side sends: a standby that no longer answers; returns its
/// port.
fn hang_after(backend: u16, hung: std::sync::Arc<std::sync::atomic::AtomicBool>) -> u16 {
    use std::io::{Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { return };
            let Ok(server) = std::net::TcpStream::connect(("127.0.0.1", backend)) else {
                continue;
            };
            for (mut from, mut to) in [
                (client.try_clone().unwrap(), server.try_clone().unwrap()),
                (server, client),
            ] {
                let hung = hung.clone();
                std::thread::spawn(move || {
                    let mut buf = [0u8; 8192];
                    while let Ok(n @ 1..) = from.read(&mut buf) {
                        while hung.load(std::sync::atomic::Ordering::Relaxed) {
                            std::thread::sleep(Duration::from_millis(50));
                        }
                        if to.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = to.shutdown(std::net::Shutdown::Both);
                });
            }
        }
    });
    port
}

/// A standby that stops answering while it serves: the reads sent there
/// are answered from the primary within seconds, not held.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_standby_does_not_hold_the_reads() {
    let scratch = Scratch::new("replica-hung");
    let mut primary = Postgres::init(
        &scratch,
        "primary",
        "host all all 127.0.0.1/32 trust\nhost replication all 127.0.0.1/32 trust\n",
        "wal_level = replica\nmax_wal_senders = 4\n",
    );
    primary.start();
    primary.create_database("passerelle").await;
    let mut standby = Postgres::standby_of(&primary, &scratch, "standby");
    standby.start();
    let hung = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let service = hang_after(standby.port, hung.clone());

    let dir = common::data_dir();
    let url = primary.url("passerelle", "");
    let server = Server::start(|cmd| {
        cmd.env("DATABASE_URL", &url)
            .env(
                "PASSERELLE_DATABASE__READ_URL",
                format!("postgres://postgres@127.0.0.1:{service}/passerelle"),
            )
            .env("PASSERELLE_DATABASE__READ_MAX_LAG_MS", "3000")
            .env("PASSERELLE_DATA_DIR", dir.path());
    });
    wait_for_status(&server, "/ready", 200).await;
    create_staff_at(
        &url,
        &dir,
        "Mission locale de Nantes",
        "manager",
        "dominique@ml-nantes.fr",
    );
    let reader = login(&server, "dominique@ml-nantes.fr").await;
    wait_logged(&server, "the standby serves the reads that may lag");
    let people = gql(&server, Some(&reader), PEOPLE, json!({})).await;
    assert!(people["errors"].is_null(), "{people}");

    hung.store(true, std::sync::atomic::Ordering::Relaxed);
    let started = Instant::now();
    let people = tokio::time::timeout(
        Duration::from_secs(20),
        gql(&server, Some(&reader), PEOPLE, json!({})),
    )
    .await
    .expect("a read held by the hung standby");
    assert!(people["errors"].is_null(), "{people}");
    assert!(started.elapsed() < Duration::from_secs(15));
    wait_logged(&server, "the standby does not answer");
    let started = Instant::now();
    gql(&server, Some(&reader), PEOPLE, json!({})).await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    hung.store(false, std::sync::atomic::Ordering::Relaxed);
    let status = server.terminate();
    assert!(status.success(), "{status:?}");
    standby.stop();
    primary.stop();
}

/// A read the standby refuses for its own reasons (here a role without
/// rights on the tables, as a statement timeout from a heavy filter would)
/// is read again on the primary, and the standby goes on serving the
/// others: no viewer can switch it off for everyone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_failing_on_the_standby_does_not_switch_it_off() {
    let scratch = Scratch::new("replica-refused");
    let mut primary = Postgres::init(
        &scratch,
        "primary",
        "host all all 127.0.0.1/32 trust\nhost replication all 127.0.0.1/32 trust\n",
        "wal_level = replica\nmax_wal_senders = 4\n",
    );
    primary.start();
    let mut conn = sqlx::PgConnection::connect(&primary.url("postgres", ""))
        .await
        .unwrap();
    for statement in ["create database passerelle", "create role reader login"] {
        sqlx::raw_sql(statement).execute(&mut conn).await.unwrap();
    }
    conn.close().await.unwrap();
    let mut standby = Postgres::standby_of(&primary, &scratch, "standby");
    standby.start();

    let dir = common::data_dir();
    let url = primary.url("passerelle", "");
    // Reader may measure the standby's replay but read no table there.
    let read_url = standby
        .url("passerelle", "")
        .replace("postgres@", "reader@");
    let server = Server::start(|cmd| {
        cmd.env("DATABASE_URL", &url)
            .env("PASSERELLE_DATABASE__READ_URL", &read_url)
            .env("PASSERELLE_DATABASE__READ_MAX_LAG_MS", "3000")
            .env("PASSERELLE_DATA_DIR", dir.path());
    });
    wait_for_status(&server, "/ready", 200).await;
    create_staff_at(
        &url,
        &dir,
        "Mission locale de Nantes",
        "manager",
        "dominique@ml-nantes.fr",
    );
    let reader = login(&server, "dominique@ml-nantes.fr").await;
    let me = gql(&server, Some(&reader), "{ me { structureId } }", json!({})).await;
    let structure = me["data"]["me"]["structureId"].clone();
    wait_logged(&server, "the standby serves the reads that may lag");

    for round in 1..=3 {
        // Answered, from the primary, after an attempt on the standby each
        // time: the standby was not switched off by the one before.
        funnel(&server, &reader, &structure).await;
        let people = gql(&server, Some(&reader), PEOPLE, json!({})).await;
        assert!(people["errors"].is_null(), "{people}");
        assert_eq!(
            reads(&server, &["reason=\"standby_read_failed\""]).await,
            f64::from(round * 2),
            "round {round}: a read went elsewhere than the standby first"
        );
    }
    assert_eq!(reads(&server, &["reason=\"standby_failed\""]).await, 0.0);
    assert_eq!(reads(&server, &["reason=\"standby_behind\""]).await, 0.0);
    assert!(server.logged("the standby does not answer").is_empty());
    let status = server.terminate();
    assert!(status.success(), "{status:?}");
    primary.stop();
}

/// Forwards each connection to the next of `backends` in turn, as a
/// Kubernetes Service balances over the standbys; returns its port.
fn balance(backends: [u16; 2]) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for (n, client) in listener.incoming().enumerate() {
            let Ok(client) = client else { return };
            let Ok(server) = std::net::TcpStream::connect(("127.0.0.1", backends[n % 2])) else {
                continue;
            };
            for (mut from, mut to) in [
                (client.try_clone().unwrap(), server.try_clone().unwrap()),
                (server, client),
            ] {
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut from, &mut to);
                    let _ = to.shutdown(std::net::Shutdown::Both);
                });
            }
        }
    });
    port
}

/// Two standbys behind one address, one of them stopped replaying: the
/// lag bound holds for every connection the reads use, not only for the
/// one the lag is measured on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_balancing_service_no_read_comes_from_a_standby_too_far_behind() {
    let scratch = Scratch::new("replica-balanced");
    let mut primary = Postgres::init(
        &scratch,
        "primary",
        "host all all 127.0.0.1/32 trust\nhost replication all 127.0.0.1/32 trust\n",
        "wal_level = replica\nmax_wal_senders = 4\n",
    );
    primary.start();
    primary.create_database("passerelle").await;
    let mut stuck = Postgres::standby_of(&primary, &scratch, "stuck");
    stuck.start();
    let mut live = Postgres::standby_of(&primary, &scratch, "live");
    live.start();
    let service = balance([stuck.port, live.port]);

    let dir = common::data_dir();
    let url = primary.url("passerelle", "");
    let server = Server::start(|cmd| {
        cmd.env("DATABASE_URL", &url)
            .env(
                "PASSERELLE_DATABASE__READ_URL",
                format!("postgres://postgres@127.0.0.1:{service}/passerelle"),
            )
            .env("PASSERELLE_DATABASE__READ_MAX_LAG_MS", "1000")
            .env("PASSERELLE_DATABASE_MAX_CONNECTIONS", "8")
            .env("PASSERELLE_PROJECTIONS__POLL_INTERVAL_MS", "50")
            .env("PASSERELLE_DATA_DIR", dir.path());
    });
    wait_for_status(&server, "/ready", 200).await;
    create_staff_at(
        &url,
        &dir,
        "Mission locale de Nantes",
        "mediator",
        "camille@ml-nantes.fr",
    );
    create_staff_at(
        &url,
        &dir,
        "Mission locale de Nantes",
        "manager",
        "dominique@ml-nantes.fr",
    );
    let writer = login(&server, "camille@ml-nantes.fr").await;
    let reader = login(&server, "dominique@ml-nantes.fr").await;
    wait_logged(&server, "the standby serves the reads that may lag");

    let mut conn = sqlx::PgConnection::connect(&stuck.url("passerelle", ""))
        .await
        .unwrap();
    sqlx::raw_sql("select pg_wal_replay_pause()")
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    let person = common::enroll(&server, &writer, None).await;
    // Past the bound and a few measures: the stuck standby is too far
    // behind, and the one measured is the live one.
    tokio::time::sleep(Duration::from_millis(4000)).await;

    let before = reads(&server, &["served_by=\"standby\""]).await;
    for _ in 0..4 {
        let answers = futures::future::join_all(
            (0..6).map(|_| gql(&server, Some(&reader), PEOPLE, json!({}))),
        )
        .await;
        for people in answers {
            assert_eq!(
                people["data"]["people"]["edges"][0]["node"]["id"], person,
                "read from the standby that stopped replaying: {people}"
            );
        }
    }
    let (_, metrics) = server.get("/metrics").await;
    let served: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("passerelle_lagging_reads_total{"))
        .collect();
    assert!(
        reads(&server, &["served_by=\"standby\""]).await > before,
        "{served:?} {:?}",
        server.logged("standby")
    );
    let status = server.terminate();
    assert!(status.success(), "{status:?}");
    stuck.stop();
    live.stop();
    primary.stop();
}
