//! `passerelle demo seed` and the CSV downloads, end to end: the same seed
//! gives the same history; each CSV holds the numbers GraphQL gives for the
//! same filters, in the shape French-locale spreadsheets open.

mod common;

use common::*;
use passerelle_store::testkit::TestDb;
use serde_json::{Value, json};

const MANAGER: &str = "camille.durand@ml-nantes.example.org";
const DEMO_PASSWORD: &str = "passerelle-demo";

fn seed(db: &TestDb, dir: &tempdir::Dir, seed: &str) -> String {
    let out = passerelle(
        db,
        dir,
        &[
            "demo",
            "seed",
            "--seed",
            seed,
            "--people",
            "60",
            "--employers",
            "25",
            "--months",
            "14",
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The data of a GraphQL request that must succeed.
async fn data(server: &Server, token: &str, query: &str, variables: Value) -> Value {
    let answer = gql(server, Some(token), query, variables).await;
    assert!(answer["errors"].is_null(), "{answer}");
    answer["data"].clone()
}

async fn login(server: &Server) -> String {
    let answer = gql(
        server,
        None,
        "mutation($e: String!, $p: String!) { login(input: { email: $e, password: $p }) { token } }",
        json!({ "e": MANAGER, "p": DEMO_PASSWORD }),
    )
    .await;
    answer["data"]["login"]["token"]
        .as_str()
        .unwrap_or_else(|| panic!("{answer}"))
        .to_owned()
}

/// The body's rows and fields, after checking the spreadsheet shape.
async fn csv(server: &Server, token: Option<&str>, path: &str) -> (u16, Vec<Vec<String>>) {
    let mut request = reqwest::Client::new().get(format!("{}{path}", server.base));
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    if status != 200 {
        return (status, Vec::new());
    }
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    assert!(
        response.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=")
    );
    let body = response.text().await.unwrap();
    let body = body
        .strip_prefix('\u{feff}')
        .expect("a byte-order mark, for Excel");
    assert!(body.ends_with("\r\n"), "CRLF line ends");
    let rows = body
        .split("\r\n")
        .filter(|l| !l.is_empty())
        .map(|l| l.split(';').map(str::to_owned).collect())
        .collect();
    (200, rows)
}

/// A CSV number (decimal comma) as a float; none when empty.
fn number(field: &str) -> Option<f64> {
    (!field.is_empty()).then(|| field.replace(',', ".").parse().unwrap())
}

fn close(csv: Option<f64>, api: Option<f64>, digits: i32) -> bool {
    match (csv, api) {
        (None, None) => true,
        (Some(c), Some(a)) => (c - a).abs() <= 0.5 * 10f64.powi(-digits) + 1e-9,
        _ => false,
    }
}

#[tokio::test]
async fn the_same_seed_gives_the_same_history_and_csv_equals_graphql() {
    let (db, dir) = (TestDb::new().await, data_dir());
    let said = seed(&db, &dir, "5");
    assert!(said.contains(MANAGER), "{said}");
    let (again_db, again_dir) = (TestDb::new().await, data_dir());
    let said_again = seed(&again_db, &again_dir, "5");
    let summary = |s: &str| {
        s.lines()
            .last()
            .unwrap()
            .split(" en ")
            .next()
            .unwrap()
            .to_owned()
    };
    assert_eq!(
        summary(&said),
        summary(&said_again),
        "same seed, same history"
    );
    let refused = passerelle(&db, &dir, &["demo", "seed"]);
    assert!(!refused.status.success(), "seeding twice is refused");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("already holds"));

    let server = Server::start(|cmd| {
        cmd.env("DATABASE_URL", db.url())
            .env("PASSERELLE_DATA_DIR", dir.path());
    });
    wait_for_status(&server, "/ready", 200).await;
    let token = login(&server).await;

    for (query_string, filter) in [
        ("", json!({})),
        (
            "?departement=44&objective=INITIATE_RECRUITMENT",
            json!({ "departement": "44", "objective": "INITIATE_RECRUITMENT" }),
        ),
        ("?asOf=2026-01-31", json!({})),
    ] {
        let as_of = query_string
            .strip_prefix("?asOf=")
            .map_or(Value::Null, |d| json!(d));
        let variables = json!({ "filter": filter, "asOf": as_of });
        let api = data(
            &server,
            &token,
            "query($filter: DashboardFilter, $asOf: Date) { immersionFunnel(filter: $filter, asOf: $asOf) {
                steps { count rateFromPrevious medianDaysFromPrevious } } }",
            variables.clone(),
        )
        .await;
        let (status, rows) = csv(
            &server,
            Some(&token),
            &format!("/exports/immersion-funnel.csv{query_string}"),
        )
        .await;
        assert_eq!(status, 200);
        let steps = api["immersionFunnel"]["steps"].as_array().unwrap();
        assert_eq!(rows.len(), steps.len() + 1, "a header and a row per step");
        assert!(steps[0]["count"].as_i64().unwrap_or(0) > 0 || query_string.contains("asOf"));
        for (row, step) in rows[1..].iter().zip(steps) {
            match step["count"].as_i64() {
                Some(n) => assert_eq!(row[1], n.to_string()),
                None => assert_eq!(row[1], "s", "masked"),
            }
            assert!(
                close(
                    number(&row[2]),
                    step["rateFromPrevious"].as_f64().map(|r| r * 100.0),
                    1
                ),
                "{row:?} {step}"
            );
            assert!(
                close(number(&row[3]), step["medianDaysFromPrevious"].as_f64(), 1),
                "{row:?} {step}"
            );
        }

        let api = data(
            &server,
            &token,
            "query($filter: DashboardFilter, $asOf: Date) { immersionOutcomes(filter: $filter, asOf: $asOf) {
                cells { count } } }",
            variables,
        )
        .await;
        let (_, rows) = csv(
            &server,
            Some(&token),
            &format!("/exports/immersion-outcomes.csv{query_string}"),
        )
        .await;
        let cells = api["immersionOutcomes"]["cells"].as_array().unwrap();
        assert_eq!(rows.len(), cells.len() + 1);
        for (row, cell) in rows[1..].iter().zip(cells) {
            let expected = cell["count"]
                .as_i64()
                .map_or_else(|| "s".to_owned(), |n| n.to_string());
            assert_eq!(row[4], expected);
        }
    }

    // The other dashboards: each figure of the CSV is GraphQL's.
    let api = data(
        &server,
        &token,
        "{ needsConversion { visits bySource { needs ledToHire } }
           projectReadjustments { projects byIterations { people } }
           employerEngagement { visits proposals waitingOverSevenDays } }",
        json!({}),
    )
    .await;
    let shown = |v: &Value| v.as_i64().map_or_else(|| "s".to_owned(), |n| n.to_string());
    let (_, rows) = csv(&server, Some(&token), "/exports/needs-conversion.csv").await;
    let sources = api["needsConversion"]["bySource"].as_array().unwrap();
    assert_eq!(rows.len(), sources.len() + 3, "{rows:?}");
    for (row, source) in rows[1..].iter().zip(sources) {
        assert_eq!(row[1], shown(&source["needs"]));
        assert_eq!(row[4], shown(&source["ledToHire"]));
    }
    assert_eq!(
        rows[sources.len() + 1][1],
        shown(&api["needsConversion"]["visits"])
    );
    let (_, rows) = csv(&server, Some(&token), "/exports/project-readjustments.csv").await;
    assert_eq!(rows[1][1], shown(&api["projectReadjustments"]["projects"]));
    let iterations = api["projectReadjustments"]["byIterations"]
        .as_array()
        .unwrap();
    for (row, bucket) in rows[2..6].iter().zip(iterations) {
        assert_eq!(row[1], shown(&bucket["people"]));
    }
    let (_, rows) = csv(&server, Some(&token), "/exports/employer-engagement.csv").await;
    let value = |what: &str| {
        rows.iter()
            .find(|r| r[0] == what)
            .unwrap_or_else(|| panic!("{what} in {rows:?}"))[1]
            .clone()
    };
    let e = &api["employerEngagement"];
    assert_eq!(value("Visites"), shown(&e["visits"]));
    assert_eq!(value("Propositions d'immersion"), shown(&e["proposals"]));
    assert_eq!(
        value("Propositions sans réponse après 7 jours"),
        shown(&e["waitingOverSevenDays"])
    );

    // The immersion list: every immersion of the structure, one row each.
    let mut total = 0;
    let mut after = Value::Null;
    loop {
        let page = data(
            &server,
            &token,
            "query($after: String) { immersions(first: 100, after: $after) {
                edges { node { id } } pageInfo { hasNextPage endCursor } } }",
            json!({ "after": after }),
        )
        .await;
        total += page["immersions"]["edges"].as_array().unwrap().len();
        if page["immersions"]["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = page["immersions"]["pageInfo"]["endCursor"].clone();
    }
    let (_, rows) = csv(&server, Some(&token), "/exports/immersions.csv").await;
    assert!(total > 0);
    assert_eq!(rows.len(), total + 1);
    // Values in words, as a mediator reads them: no API name such as
    // `discover_job_or_sector`, `proposed` or `ONE_MONTH` in any cell.
    let api_name = |part: &str| {
        part.chars().all(|c| c.is_ascii_lowercase() || c == '_')
            || part.chars().all(|c| c.is_ascii_uppercase() || c == '_')
    };
    for row in &rows[1..] {
        for (header, cell) in rows[0].iter().zip(row).skip(1) {
            assert!(
                cell.is_empty() || !cell.split(", ").any(api_name),
                "{header} : {cell} in {row:?}"
            );
        }
    }
    assert!(
        rows[1..]
            .iter()
            .any(|r| r[11].contains("Entreprise") && !r[12].is_empty()),
        "some immersion has an assessment and an outcome: {rows:?}"
    );
    // Each immersion with its employer's name, its days as French
    // spreadsheets read them (01/04/2026).
    let french_day = |cell: &str| {
        let parts: Vec<&str> = cell.split('/').collect();
        parts.len() == 3
            && [2, 2, 4]
                .iter()
                .zip(&parts)
                .all(|(n, p)| p.len() == *n && p.bytes().all(|b| b.is_ascii_digit()))
    };
    for row in &rows[1..] {
        assert!(!row[1].is_empty(), "{row:?}");
        assert!(french_day(&row[4]), "{row:?}");
        for cell in [&row[5], &row[6], &row[8], &row[9], &row[10]] {
            assert!(cell.is_empty() || french_day(cell), "{row:?}");
        }
    }

    // No session, no figures; an unknown filter is named.
    let (status, _) = csv(&server, None, "/exports/immersion-funnel.csv").await;
    assert_eq!(status, 401);
    let response = reqwest::Client::new()
        .get(format!(
            "{}/exports/immersion-funnel.csv?secteur=56",
            server.base
        ))
        .header("authorization", format!("Bearer {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    assert!(response.text().await.unwrap().contains("« secteur »"));
}
