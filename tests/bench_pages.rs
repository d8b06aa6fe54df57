//! `passerelle bench pages` run at a tiny size: it seeds its store, signs
//! in through the login page, asks every page it measures (each must
//! answer 200) and prints its table and JSON, so that it cannot rot between
//! the runs at a million events.

mod common;

use passerelle_store::testkit::TestDb;
use serde_json::Value;

#[tokio::test]
async fn bench_pages_measures_every_page_beside_a_raw_read() {
    let db = TestDb::new().await;
    let dir = common::data_dir();
    let out = common::passerelle(
        &db,
        &dir,
        &["bench", "pages", "--events", "1000", "--samples", "3"],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "bench pages failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{stdout}");
    for route in [
        "`GET /`",
        "`POST /people/recherche`",
        "`GET /people/<id>`",
        "`GET /employers/<id>`",
        "`GET /besoins`",
        "`GET /tableaux/entonnoir`",
    ] {
        assert!(stdout.contains(route), "no row for {route}: {stdout}");
    }
    let report: Value = serde_json::from_str(stdout.lines().last().expect("a last line"))
        .expect("the last line is JSON");
    let pages = report["pages"].as_array().expect("pages");
    assert_eq!(pages.len(), 6, "{report}");
    for page in pages {
        assert!(
            page["times"]["p95_ms"].as_f64().expect("a p95") > 0.0,
            "{page}"
        );
        assert!(
            page["raw_times"]["p95_ms"].as_f64().expect("a raw p95") > 0.0,
            "{page}"
        );
        assert!(page["bytes"].as_u64().expect("a size") > 1_000, "{page}");
    }
    assert!(
        report["search_matches"].as_i64().expect("matches") > 0,
        "{report}"
    );
    assert!(
        report["timeline_entries"].as_i64().expect("entries") > 0,
        "{report}"
    );
    assert!(
        report["events"].as_i64().expect("events") >= 1_000,
        "{report}"
    );
}
