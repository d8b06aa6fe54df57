//! The binary end to end: zero-config start on a private cluster, health,
//! readiness, metrics, migrations, projections commands, graceful shutdown.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use passerelle_store::testkit::TestDb;

#[tokio::test]
async fn with_no_configuration_it_runs_its_own_postgres_and_stops_it_on_sigterm() {
    let dir = data_dir();
    let server = Server::start(|cmd| {
        cmd.env("PASSERELLE_DATA_DIR", dir.path());
    });
    assert_eq!(server.get("/live").await.0, 200);
    let body = wait_for_status(&server, "/ready", 200).await;
    assert!(body.contains("\"ready\""), "{body}");
    let pgdata = dir.path().join("postgres");
    assert!(
        pgdata.join("postmaster.pid").exists(),
        "the private cluster runs"
    );
    assert!(dir.path().join("master.key").exists());
    let socket_only = std::fs::read_to_string(pgdata.join("postmaster.pid")).unwrap();
    assert!(
        !socket_only.contains("127.0.0.1"),
        "no TCP listener: {socket_only}"
    );

    let status = server.terminate();
    assert!(status.success(), "clean exit: {status}");
    assert!(
        !pgdata.join("postmaster.pid").exists(),
        "the private cluster was stopped"
    );
}

#[tokio::test]
async fn health_readiness_and_metrics_over_http() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let server = Server::start(|cmd| {
        cmd.env("DATABASE_URL", db.url())
            .env("PASSERELLE_DATA_DIR", dir.path());
    });
    assert_eq!(
        server.get("/live").await,
        (200, r#"{"status":"live"}"#.into())
    );
    assert_eq!(
        server.get("/ready").await,
        (200, r#"{"status":"ready"}"#.into())
    );
    let (status, home) = server.get("/").await;
    assert_eq!(status, 200);
    assert!(home.contains("médiation active"), "{home}");
    let (status, metrics) = server.get("/metrics").await;
    assert_eq!(status, 200);
    assert!(
        metrics.contains(
            r#"passerelle_http_requests_total{method="GET",route="/ready",status="200"} 1"#
        ),
        "{metrics}"
    );
    let metrics = wait_for_metric(
        &server,
        "passerelle_projection_lag_events{projection=\"event_activity\"",
    )
    .await;
    assert!(
        metrics.contains("passerelle_projection_paused"),
        "{metrics}"
    );
    assert!(server.terminate().success());
}

async fn wait_for_metric(server: &Server, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, metrics) = server.get("/metrics").await;
        if metrics.contains(needle) {
            return metrics;
        }
        assert!(Instant::now() < deadline, "no {needle} in:\n{metrics}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn an_unmigrated_database_is_not_ready_until_passerelle_migrate_runs() {
    let db = TestDb::empty().await;
    let dir = data_dir();
    let server = Server::start(|cmd| {
        cmd.env("DATABASE_URL", db.url())
            .env("PASSERELLE_DATA_DIR", dir.path())
            .env("PASSERELLE_MIGRATE_ON_START", "false");
    });
    let (status, body) = server.get("/ready").await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body.contains("passerelle migrate"),
        "the reason says what to do: {body}"
    );

    let out = passerelle(&db, &dir, &["migrate"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_for_status(&server, "/ready", 200).await;
    wait_for_metric(&server, "passerelle_projection_lag_events").await;
    assert!(server.terminate().success());
}

#[tokio::test]
async fn projections_status_and_rebuild_from_the_command_line() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let out = passerelle(&db, &dir, &["projections", "status"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("event_activity") && text.contains("live"),
        "{text}"
    );

    let out = passerelle(&db, &dir, &["projections", "rebuild", "event_activity"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("event_activity: version 2 is live"), "{text}");

    let out = passerelle(&db, &dir, &["projections", "rebuild", "no_such_view"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("projection no_such_view is not registered"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_misspelt_setting_stops_the_start_with_its_name() {
    let out = Command::new(BIN)
        .arg("migrate")
        .env("PASSERELLE_BNID", "127.0.0.1:1")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bnid"), "{err}");
}

#[test]
fn a_bad_database_url_is_named_without_its_password() {
    let out = Command::new(BIN)
        .arg("migrate")
        .env(
            "DATABASE_URL",
            "postgres://app:hunter2@127.0.0.1:1/passerelle",
        )
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot connect to the database at"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
}
