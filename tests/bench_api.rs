//! `passerelle bench api` run briefly: the service it measures has the
//! pool it is configured with, apart from the baseline's, and the run
//! prints its table and JSON, so that it cannot rot between the long runs.

mod common;

use std::process::Command;

use passerelle_store::testkit::TestDb;
use serde_json::Value;

#[tokio::test]
async fn bench_api_measures_the_service_on_its_configured_pool() {
    let db = TestDb::new().await;
    let dir = common::data_dir();
    let out = Command::new(common::BIN)
        .args(["bench", "api", "--rounds", "1", "--seconds", "1"])
        .env("DATABASE_URL", db.url())
        .env("PASSERELLE_DATA_DIR", dir.path())
        .env("PASSERELLE_DATABASE_MAX_CONNECTIONS", "6")
        .output()
        .expect("passerelle runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "bench api failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{stdout}");
    assert!(
        stdout.contains(
            "connections: the service's pool 6 (half of them for commands), the baseline's 40"
        ),
        "{stdout}"
    );
    let report: Value = serde_json::from_str(stdout.lines().last().expect("a last line"))
        .expect("the last line is JSON");
    assert_eq!(report["service_connections"], 6, "{report}");
    assert_eq!(report["baseline_connections"], 40, "{report}");
    assert!(
        report["mutations"].as_u64().expect("mutations") > 0,
        "{report}"
    );
    assert!(
        report["store_appends_per_s"].as_f64().expect("a baseline") > 0.0,
        "{report}"
    );
    assert!(report["p99_ms"].as_f64().expect("a p99") > 0.0, "{report}");
}
