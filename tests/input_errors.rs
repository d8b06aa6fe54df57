//! What a careless client or an attacker sends, over HTTP to the binary:
//! every input error answers `BAD_USER_INPUT` in French on the field the
//! client wrote, appends nothing, and never `INTERNAL`; a fragment bomb
//! costs the server no memory; and an independent client (graphql-core)
//! reads the schema by the standard introspection query and finds the
//! committed SDL and the pages' operations valid.

mod common;

use common::*;
use passerelle_store::testkit::TestDb;
use serde_json::{Value, json};

/// Asserts the answer is a refusal of `field` with a French sentence, and
/// returns its message and rule.
fn refused_on(answer: &Value, field: &str) -> (String, String) {
    let e = &answer["errors"][0];
    assert_eq!(e["extensions"]["code"], "BAD_USER_INPUT", "{answer}");
    assert_eq!(e["extensions"]["field"], field, "{answer}");
    let message = e["message"].as_str().unwrap().to_owned();
    assert!(
        message.chars().next().is_some_and(char::is_uppercase) && message.ends_with('.'),
        "a whole sentence: {message}"
    );
    for english in [
        "Failed to parse",
        "Invalid value",
        "occurred while",
        "expected",
        "Expected",
        "component",
        "is required",
        "unknown field",
    ] {
        assert!(!message.contains(english), "French only: {message}");
    }
    (
        message,
        e["extensions"]["rule"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

const ENROLL: &str = "mutation($input: PersonEnrollInput!) {
    personEnroll(input: $input) { person { id } } }";

const FUNNEL: &str = "query($filter: DashboardFilter, $asOf: Date) {
    immersionFunnel(filter: $filter, asOf: $asOf) { steps { count } } }";

fn awa() -> Value {
    json!({ "firstName": "Awa", "lastName": "Diallo", "birthDate": "2001-05-12" })
}

fn with(key: &str, value: Value) -> Value {
    let mut input = awa();
    input[key] = value;
    json!({ "input": input })
}

#[tokio::test]
async fn bad_input_is_refused_in_french_on_the_field_the_client_wrote() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, token) = started(&db, &dir).await;
    let t = Some(token.as_str());
    let person = enroll(&server, &token, None).await;
    let before = events(&db).await;

    // Text: NUL in a name (which PostgreSQL cannot store), other control
    // characters, a line break where one line is expected.
    let answer = gql(&server, t, ENROLL, with("firstName", json!("Awa\u{0}"))).await;
    let (message, rule) = refused_on(&answer, "firstName");
    assert!(message.contains("U+0000"), "{message}");
    assert_eq!(rule, "value.control_character");
    let answer = gql(&server, t, ENROLL, with("lastName", json!("Dia\u{7}llo"))).await;
    assert_eq!(refused_on(&answer, "lastName").1, "value.control_character");
    let answer = gql(
        &server,
        t,
        ENROLL,
        with("lastName", json!("Dia\u{1b}[2Jllo")),
    )
    .await;
    assert_eq!(refused_on(&answer, "lastName").1, "value.control_character");
    let answer = gql(&server, t, ENROLL, with("firstName", json!("Awa\nDiallo"))).await;
    assert_eq!(
        refused_on(&answer, "firstName").1,
        "value.control_character"
    );
    let literal = gql(
        &server,
        t,
        "mutation { personEnroll(input: { firstName: \"A\\u0000\", lastName: \"D\", birthDate: \"2001-05-12\" }) { person { id } } }",
        json!({}),
    )
    .await;
    refused_on(&literal, "firstName");
    let words = gql(
        &server,
        t,
        "mutation($p: ID!, $w: String!) { situationState(input: { personId: $p, words: $w }) { person { id } } }",
        json!({ "p": person, "w": "Je cherche\u{0} un emploi" }),
    )
    .await;
    refused_on(&words, "words");
    // Strings that are no value object (a login's email) are checked too.
    let login = gql(
        &server,
        None,
        "mutation($e: String!) { login(input: { email: $e, password: \"x\" }) { token } }",
        json!({ "e": "camille@ml-nantes.fr\u{0}" }),
    )
    .await;
    refused_on(&login, "email");

    // Dates outside what PostgreSQL stores, or the product plans, or the
    // calendar has: in a command, a dashboard's filter, `asOf`.
    let answer = gql(&server, t, ENROLL, with("birthDate", json!("-9999-01-01"))).await;
    let (message, rule) = refused_on(&answer, "birthDate");
    assert_eq!(rule, "date.out_of_range");
    assert!(
        message.contains("1900") && message.contains("2200"),
        "{message}"
    );
    let answer = gql(&server, t, ENROLL, with("enrolledOn", json!("-9999-01-01"))).await;
    refused_on(&answer, "enrolledOn");
    let answer = gql(&server, t, ENROLL, with("birthDate", json!("1998-13-45"))).await;
    assert_eq!(refused_on(&answer, "birthDate").1, "date.format");
    let answer = gql(&server, t, ENROLL, with("birthDate", json!("12/05/2001"))).await;
    assert_eq!(refused_on(&answer, "birthDate").1, "date.format");
    let answer = gql(
        &server,
        t,
        FUNNEL,
        json!({ "filter": { "from": "-9999-01-01" } }),
    )
    .await;
    assert_eq!(refused_on(&answer, "filter.from").1, "date.out_of_range");
    let answer = gql(&server, t, FUNNEL, json!({ "asOf": "-9999-01-01" })).await;
    assert_eq!(refused_on(&answer, "asOf").1, "date.out_of_range");
    let answer = gql(
        &server,
        t,
        "{ immersionFunnel(asOf: \"0001-01-01\") { steps { count } } }",
        json!({}),
    )
    .await;
    refused_on(&answer, "asOf");

    // A malformed UUID; a malformed id answers as an unknown one.
    let answer = gql(&server, t, ENROLL, with("commandId", json!("not-a-uuid"))).await;
    refused_on(&answer, "commandId");
    let answer = gql(
        &server,
        t,
        "mutation($p: ID!) { situationState(input: { personId: $p, words: \"Bonjour\" }) { person { id } } }",
        json!({ "p": "not-a-uuid" }),
    )
    .await;
    assert_eq!(
        answer["errors"][0]["extensions"]["code"], "NOT_FOUND",
        "{answer}"
    );

    // Missing and unknown input fields, in variables and in the query.
    let mut missing = awa();
    missing.as_object_mut().unwrap().remove("lastName");
    let answer = gql(&server, t, ENROLL, json!({ "input": missing })).await;
    let (message, rule) = refused_on(&answer, "lastName");
    assert_eq!(message, "Ce champ est obligatoire.");
    assert_eq!(rule, "value.required");
    let answer = gql(
        &server,
        t,
        "mutation { personEnroll(input: { firstName: \"Awa\", birthDate: \"2001-05-12\" }) { person { id } } }",
        json!({}),
    )
    .await;
    refused_on(&answer, "lastName");
    let answer = gql(&server, t, ENROLL, with("nickname", json!("Awa"))).await;
    let (message, _) = refused_on(&answer, "nickname");
    assert!(message.contains("« nickname »"), "{message}");
    let answer = gql(
        &server,
        t,
        FUNNEL,
        json!({ "filter": { "form": "2026-01-01" } }),
    )
    .await;
    refused_on(&answer, "filter.form");
    let answer = gql(&server, t, ENROLL, json!({})).await;
    refused_on(&answer, "input");
    let answer = gql(&server, t, ENROLL, json!({ "input": "Awa" })).await;
    refused_on(&answer, "input");
    // Other scalars and enums.
    let answer = gql(&server, t, ENROLL, with("firstName", json!(12))).await;
    refused_on(&answer, "firstName");
    let answer = gql(
        &server,
        t,
        FUNNEL,
        json!({ "filter": { "objective": "GET_RICH" } }),
    )
    .await;
    refused_on(&answer, "filter.objective");
    let answer = gql(
        &server,
        t,
        "query($n: Int) { people(first: $n) { edges { cursor } } }",
        json!({ "n": 1e12 }),
    )
    .await;
    refused_on(&answer, "first");

    // A rule of the command is reported on the input's own field:
    // `birthDate`, not the command's `identity.birthDate`.
    let answer = gql(&server, t, ENROLL, with("birthDate", json!("2199-01-01"))).await;
    let e = &answer["errors"][0]["extensions"];
    assert_eq!(e["code"], "RULE_VIOLATED", "{answer}");
    assert_eq!(e["field"], "birthDate", "{answer}");

    assert_eq!(events(&db).await, before, "nothing appended");
    assert!(
        server.logged("\"level\":\"ERROR\"").is_empty(),
        "no internal error: {:?}",
        server.logged("\"level\":\"ERROR\"")
    );

    // The CSV export reads its filters the same way: a refusal, not a 500.
    let response = reqwest::Client::new()
        .get(format!(
            "{}/exports/immersion-funnel.csv?asOf=-9999-01-01",
            server.base
        ))
        .header("authorization", format!("Bearer {token}"))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body = response.text().await.unwrap();
    assert_eq!(status, 400, "{body}");
}

#[tokio::test]
async fn an_immersion_command_names_the_field_of_its_input() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, token) = started(&db, &dir).await;
    let t = Some(token.as_str());
    let person = enroll(&server, &token, None).await;
    let employer =
        register_employer(&server, &token, "73282932000074", "Boulangerie du Port").await;
    let immersion = propose(&server, &token, &person, &employer).await;
    let today = gql(
        &server,
        t,
        "query($p: ID!) { person(id: $p) { enrolledOn } }",
        json!({ "p": person }),
    )
    .await["data"]["person"]["enrolledOn"]
        .as_str()
        .unwrap()
        .to_owned();
    for by in ["PERSON", "EMPLOYER"] {
        let answer = gql(
            &server,
            t,
            "mutation($i: ID!, $by: Party!) { immersionAccept(input: { immersionId: $i, by: $by }) { immersion { id } } }",
            json!({ "i": immersion, "by": by }),
        )
        .await;
        assert!(answer["errors"].is_null(), "{answer}");
    }
    let drafted = gql(
        &server,
        t,
        "mutation($i: ID!, $c: ConventionInput!) { conventionDraft(input: { immersionId: $i, convention: $c }) { immersion { id } } }",
        json!({ "i": immersion, "c": convention(&today, 35.0) }),
    )
    .await;
    assert!(drafted["errors"].is_null(), "{drafted}");
    // A signature on paper dated in the future: the command's
    // `method.signedOn` is the input's `onPaperOn`.
    let answer = gql(
        &server,
        t,
        "mutation($i: ID!) { conventionSign(input: { immersionId: $i, signatory: PERSON, onPaperOn: \"2199-01-01\" }) { immersion { id } } }",
        json!({ "i": immersion }),
    )
    .await;
    let e = &answer["errors"][0]["extensions"];
    assert_eq!(e["code"], "RULE_VIOLATED", "{answer}");
    assert_eq!(e["field"], "onPaperOn", "{answer}");
    // A day the product does not plan for is refused before the command.
    let answer = gql(
        &server,
        t,
        "mutation($i: ID!) { immersionStart(input: { immersionId: $i, on: \"2201-01-01\" }) { immersion { id } } }",
        json!({ "i": immersion }),
    )
    .await;
    assert_eq!(refused_on(&answer, "on").1, "date.out_of_range");
}

/// The process's peak resident memory, in kB.
fn peak_rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[tokio::test]
async fn a_fragment_bomb_costs_the_server_no_memory() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let server = Server::start(|cmd| {
        cmd.env("DATABASE_URL", db.url())
            .env("PASSERELLE_DATA_DIR", dir.path());
    });
    wait_for_status(&server, "/ready", 200).await;
    // Twenty fragments, each spreading the next twice: 2^20 fields once
    // expanded, in under 1 KB.
    let mut bomb = String::from("query { ...F0 }\n");
    for i in 0..20 {
        bomb.push_str(&format!(
            "fragment F{i} on Query {{ ...F{n} ...F{n} }}\n",
            n = i + 1
        ));
    }
    bomb.push_str("fragment F20 on Query { __typename }\n");
    assert!(bomb.len() < 1024);
    let warm = gql(&server, None, "{ __typename }", json!({})).await;
    assert_eq!(warm["data"]["__typename"], "Query");
    let pid = server.child.id();
    let before = peak_rss_kb(pid);
    let started = std::time::Instant::now();
    let answer = gql(&server, None, &bomb, json!({})).await;
    let took = started.elapsed();
    let after = peak_rss_kb(pid);
    eprintln!(
        "fragment bomb: peak RSS {before} kB before, {after} kB after (+{} kB), answered in {took:?}",
        after - before
    );
    assert_eq!(
        answer["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{answer:.300}"
    );
    assert_eq!(answer["errors"][0]["extensions"]["limit"], "fields");
    assert!(after - before < 16 * 1024, "+{} kB", after - before);
}

#[tokio::test]
async fn an_independent_client_reads_the_committed_schema_and_validates_the_pages_operations() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let server = Server::start(|cmd| {
        cmd.env("DATABASE_URL", db.url())
            .env("PASSERELLE_DATA_DIR", dir.path());
    });
    wait_for_status(&server, "/ready", 200).await;
    let root = env!("CARGO_MANIFEST_DIR");
    let output = std::process::Command::new("python3")
        .current_dir(root)
        .args([
            "tests/support/graphql_client.py",
            &format!("{}/graphql", server.base),
            "graphql-schema/schema.graphql",
            "crates/web/src",
        ])
        .output()
        .expect("python3 runs (the test needs graphql-core: pip install graphql-core)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !stderr.contains("No module named 'graphql'"),
        "the test needs graphql-core (scripts/test installs it): pip install graphql-core"
    );
    assert!(output.status.success(), "{stdout}\n{stderr}");
    let summary: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(summary["ok"], true);
    assert!(summary["operations"].as_u64().unwrap() > 30, "{summary}");
}

#[tokio::test]
async fn introspection_can_be_turned_off() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let server = Server::start(|cmd| {
        cmd.env("DATABASE_URL", db.url())
            .env("PASSERELLE_DATA_DIR", dir.path())
            .env("PASSERELLE_API__INTROSPECTION", "false");
    });
    wait_for_status(&server, "/ready", 200).await;
    let answer = gql(
        &server,
        None,
        "{ __schema { queryType { name } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        answer["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{answer}"
    );
    assert!(
        answer["errors"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("L'introspection")
    );
    let answer = gql(&server, None, "{ __typename }", json!({})).await;
    assert_eq!(answer["data"]["__typename"], "Query");
}
