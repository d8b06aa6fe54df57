//! The binary end to end: zero-config start on a private cluster, health,
//! readiness, metrics, migrations, projections commands, graceful shutdown.

use std::io::{BufRead, BufReader};

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use passerelle_store::testkit::TestDb;

const BIN: &str = env!("CARGO_BIN_EXE_passerelle");

/// A running `passerelle serve` and the address it listens on.
struct Server {
    child: Child,
    base: String,
}

impl Server {
    fn start(configure: impl FnOnce(&mut Command)) -> Self {
        let mut cmd = Command::new(BIN);
        cmd.arg("serve")
            .env_remove("DATABASE_URL")
            .env("PASSERELLE_BIND", "127.0.0.1:0")
            .env("PASSERELLE_LOG_FORMAT", "json")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        configure(&mut cmd);
        let mut child = cmd.spawn().expect("passerelle starts");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let address = serde_json::from_str::<serde_json::Value>(&line)
                    .ok()
                    .and_then(|v| v["address"].as_str().map(str::to_owned));
                let _ = tx.send((line, address));
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut log = String::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok((_, Some(address))) => {
                    return Self {
                        child,
                        base: format!("http://{address}"),
                    };
                }
                Ok((line, None)) => {
                    log.push_str(&line);
                    log.push('\n');
                }
                Err(_) => {
                    let _ = child.kill();
                    panic!("passerelle did not start listening:\n{log}");
                }
            }
        }
    }

    async fn get(&self, path: &str) -> (u16, String) {
        let response = reqwest::get(format!("{}{path}", self.base))
            .await
            .expect("request");
        (response.status().as_u16(), response.text().await.unwrap())
    }

    /// SIGTERM, then the exit status within 20 s.
    fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "passerelle did not stop on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

async fn wait_for_status(server: &Server, path: &str, status: u16) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (got, body) = server.get(path).await;
        if got == status {
            return body;
        }
        assert!(Instant::now() < deadline, "{path} stayed {got}: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn passerelle(db: &TestDb, dir: &tempdir::Dir, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .env("DATABASE_URL", db.url())
        .env("PASSERELLE_DATA_DIR", dir.path())
        .output()
        .expect("passerelle runs")
}

fn data_dir() -> tempdir::Dir {
    tempdir::Dir::new()
}

/// A private temporary directory, removed on drop.
mod tempdir {
    use std::path::{Path, PathBuf};

    pub struct Dir(PathBuf);

    impl Dir {
        pub fn new() -> Self {
            let path = std::env::temp_dir()
                .join(format!("passerelle-e2e-{}", uuid::Uuid::new_v4().simple()));
            std::fs::create_dir_all(&path).unwrap();
            Self(path)
        }
        pub fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

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
