//! `passerelle bench api` run briefly: the service it measures serves on a
//! pool of the configured size, apart from the baseline's, its round trips
//! counted, after a warm-up of each side; the run prints its table and
//! JSON, so that it cannot rot between the long runs.

mod common;

use passerelle_store::testkit::TestDb;
use serde_json::Value;

#[tokio::test]
async fn bench_api_measures_the_service_on_its_configured_pool() {
    let db = TestDb::new().await;
    let dir = common::data_dir();
    let out = common::passerelle_with(
        &db,
        &dir,
        &[
            "bench",
            "api",
            "--rounds",
            "1",
            "--seconds",
            "1",
            "--warm-up",
            "0.5",
        ],
        &[("PASSERELLE_DATABASE_MAX_CONNECTIONS", "6")],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "bench api failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{stdout}");
    let report: Value = serde_json::from_str(stdout.lines().last().expect("a last line"))
        .expect("the last line is JSON");
    // Read from the pools the two sides ran on.
    assert_eq!(report["service_connections"], 6, "{report}");
    assert_eq!(report["baseline_connections"], 40, "{report}");
    assert!(
        stdout.contains("connections: the service's pool 6"),
        "{stdout}"
    );
    assert_eq!(report["warm_up_s"], 0.5, "{report}");
    assert!(
        stdout.contains("each side ran 0.5 s first, not counted"),
        "{stdout}"
    );
    assert!(
        report["mutations"].as_u64().expect("mutations") > 0,
        "{report}"
    );
    assert!(
        report["store_appends_per_s"].as_f64().expect("a baseline") > 0.0,
        "{report}"
    );
    assert!(report["p99_ms"].as_f64().expect("a p99") > 0.0, "{report}");
    // The service's pool goes through the counting relay too.
    assert!(
        report["round_trips_per_mutation"]
            .as_f64()
            .expect("counted")
            >= 1.0,
        "{report}"
    );
}

/// Durations and counts a benchmark cannot run with are refused before
/// anything is made, with the option's name; a negative or unparsable
/// duration used to panic once the benchmark's database existed.
#[tokio::test]
async fn bench_durations_out_of_range_are_refused() {
    let db = TestDb::new().await;
    let dir = common::data_dir();
    for args in [
        &["bench", "api", "--seconds=-1"][..],
        &["bench", "api", "--seconds", "0"],
        &["bench", "api", "--warm-up", "NaN"],
        &["bench", "api", "--warm-up", "1e20"],
        &["bench", "api", "--rounds", "0"],
        &["bench", "store", "--seconds", "inf"],
    ] {
        let out = common::passerelle(&db, &dir, args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        let option = args[2].split('=').next().unwrap_or_default();
        assert!(stderr.contains(option), "{args:?}: {stderr}");
    }
}
