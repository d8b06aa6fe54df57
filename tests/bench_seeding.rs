//! `passerelle bench dashboards` grows its store past the template it seeds
//! through the command path by copies of that template under fresh
//! identities: each copy adds as many events and streams as the template
//! holds, no stream, command or SIRET meets another's, and the whole funnel
//! counts exactly as many templates. `--reuse` goes on from the last copy.

mod common;

use passerelle_store::testkit::TestDb;
use serde_json::Value;

const STORE: &str = "passerelle_bench_dashboards";

/// Runs `bench dashboards` with `args` after the common ones; its stdout
/// and its JSON report (the last line).
fn bench(db: &TestDb, dir: &common::tempdir::Dir, args: &[&str]) -> (String, Value) {
    let mut all = vec![
        "bench",
        "dashboards",
        "--samples",
        "1",
        "--no-rebuild-each",
        "--template-events",
        "1000",
    ];
    all.extend_from_slice(args);
    let out = common::passerelle(db, dir, &all);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "bench dashboards {args:?} failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = serde_json::from_str(stdout.lines().last().expect("a last line"))
        .expect("the last line is JSON");
    (stdout, report)
}

/// Distinct streams, commands and registered SIRETs in the benchmark's log.
async fn identities(db: &TestDb) -> (i64, i64, i64) {
    // The benchmark makes its store on the test database's server.
    let url = db.url().replacen(&db.name, STORE, 1);
    let pool = sqlx::PgPool::connect(&url)
        .await
        .expect("the bench's store");
    let counts = sqlx::query_as(
        "select count(distinct stream_id), count(distinct command_id),
                count(distinct data::jsonb ->> 'siret') filter (where event_type = 'employer_registered')
         from events",
    )
    .fetch_one(&pool)
    .await
    .expect("counts");
    pool.close().await;
    counts
}

#[tokio::test]
async fn a_store_grows_by_copies_of_its_template_that_meet_nowhere() {
    let db = TestDb::new().await;
    let dir = common::data_dir();

    let (stdout, report) = bench(&db, &dir, &["--events", "1000"]);
    assert!(!stdout.contains("copied the template"), "{stdout}");
    let template = report["events"].as_i64().expect("events");
    assert!(template >= 1_000, "{report}");
    let (streams, commands, sirets) = identities(&db).await;
    assert!(
        streams > 0 && commands > 0 && sirets > 0,
        "{streams} streams, {commands} commands, {sirets} SIRETs"
    );

    // The whole log so far is the template: two copies reach the target.
    let target = (2 * template + 1).to_string();
    let (stdout, report) = bench(&db, &dir, &["--reuse", "--events", &target]);
    assert_eq!(report["events"].as_i64(), Some(3 * template), "{stdout}");
    assert!(
        stdout.contains("checked: every step of the funnel counts 3 times the template's"),
        "{stdout}"
    );
    assert_eq!(
        identities(&db).await,
        (3 * streams, 3 * commands, 3 * sirets)
    );

    // Reused, the store goes on from the second copy: the third's
    // identities meet none of the earlier ones'.
    let target = (3 * template + 1).to_string();
    let (stdout, report) = bench(&db, &dir, &["--reuse", "--events", &target]);
    assert_eq!(report["events"].as_i64(), Some(4 * template), "{stdout}");
    assert!(
        stdout.contains("checked: every step of the funnel counts 4 times the template's"),
        "{stdout}"
    );
    assert_eq!(
        identities(&db).await,
        (4 * streams, 4 * commands, 4 * sirets)
    );
    let steps = report["queries"].as_array().expect("queries");
    assert!(!steps.is_empty(), "{report}");
}
