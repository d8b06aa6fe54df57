//! The lists that were plain lists, as connections over HTTP against the
//! real binary: an employer's visits (`loggedVisits`) and needs
//! (`surfacedNeeds`), a person's timeline (`timelineEvents`), the mails
//! (`mailDeliveries`) and the scheduled jobs' runs (`scheduledJobRuns`).
//! Each is walked in pages of two: the pages together give every row once,
//! in the order the deprecated list gives them; a page's `endCursor` gives
//! the next page; a cursor this service did not make, or a page size out
//! of bounds, is refused in French on its argument.

mod common;

use common::*;
use passerelle_store::testkit::TestDb;
use serde_json::{Value, json};

/// Every page of a connection, `first: 2` at a time: the edges of each
/// page, checked to chain by their cursors.
async fn walk(
    server: &Server,
    token: &str,
    query: &str,
    variables: Value,
    connection: impl Fn(&Value) -> Value,
) -> Vec<Vec<Value>> {
    let mut pages = Vec::new();
    let mut after = Value::Null;
    loop {
        let mut vars = variables.clone();
        vars["after"] = after.clone();
        let answer = gql(server, Some(token), query, vars).await;
        assert!(answer["errors"].is_null(), "{answer}");
        let page = connection(&answer);
        let edges = page["edges"]
            .as_array()
            .unwrap_or_else(|| panic!("{answer}"));
        assert!(
            edges.len() <= 2,
            "a page holds `first` rows at most: {answer}"
        );
        let info = &page["pageInfo"];
        match edges.last() {
            Some(last) => assert_eq!(info["endCursor"], last["cursor"], "{answer}"),
            None => assert!(info["endCursor"].is_null(), "{answer}"),
        }
        pages.push(edges.clone());
        if info["hasNextPage"] != true {
            return pages;
        }
        after = info["endCursor"].clone();
        assert!(pages.len() < 50, "the pages never end: {answer}");
    }
}

/// The ids of the nodes of every page, in order.
fn ids(pages: &[Vec<Value>], id: &str) -> Vec<Value> {
    pages
        .iter()
        .flatten()
        .map(|e| e["node"][id].clone())
        .collect()
}

/// What a cursor this service did not make, and a page size out of
/// bounds, get: a French refusal on the argument.
async fn refuses_bad_paging(server: &Server, token: &str, query: &str, variables: Value) {
    for (after, first, field, message) in [
        (
            json!("pas-un-curseur"),
            json!(2),
            "after",
            "Curseur de pagination invalide.",
        ),
        // Well encoded, but not the key of this list.
        (
            json!("YWJj"),
            json!(2),
            "after",
            "Curseur de pagination invalide.",
        ),
        (Value::Null, json!(0), "first", "« first » va de 1 à 100."),
        (Value::Null, json!(101), "first", "« first » va de 1 à 100."),
    ] {
        let mut vars = variables.clone();
        vars["after"] = after;
        vars["first"] = first;
        let answer = gql(server, Some(token), query, vars).await;
        assert_eq!(
            error(&answer),
            (
                "BAD_USER_INPUT".to_owned(),
                field.to_owned(),
                message.to_owned()
            ),
            "{query}: {answer}"
        );
    }
}

#[tokio::test]
async fn an_employers_visits_and_needs_a_persons_timeline_page_by_cursor() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, token) = started(&db, &dir).await;
    let employer = register_employer(&server, &token, &siret(1), "Boulangerie du Port").await;
    // Two visits on the same day: the id orders them, and a page boundary
    // falls between days and within one.
    for (day, purpose) in [
        ("2026-01-12", "PROSPECTION"),
        ("2026-02-03", "FOLLOW_UP"),
        ("2026-02-03", "FOLLOW_UP"),
        ("2026-03-20", "IN_EMPLOYMENT_MEDIATION"),
        ("2026-04-01", "FOLLOW_UP"),
    ] {
        let logged = gql(
            &server,
            Some(&token),
            "mutation($e: ID!, $d: Date!, $p: VisitPurpose!) { employerVisitLog(input: {
                employerId: $e, visitedOn: $d, purpose: $p,
                observations: \"Échange avec la gérante\" }) { employer { id } } }",
            json!({ "e": employer, "d": day, "p": purpose }),
        )
        .await;
        assert!(logged["errors"].is_null(), "{logged}");
    }
    for day in ["2026-01-12", "2026-02-03", "2026-02-03"] {
        let surfaced = gql(
            &server,
            Some(&token),
            "mutation($e: ID!, $d: Date!) { needSurface(input: { employerId: $e,
                source: { kind: PHONE }, surfacedOn: $d,
                description: { activities: \"Renfort au fournil\", romeCodes: [\"D1102\"],
                               horizon: NOW, hiringIntent: POSSIBLE } }) { need { id } } }",
            json!({ "e": employer, "d": day }),
        )
        .await;
        assert!(surfaced["errors"].is_null(), "{surfaced}");
    }

    let lists = gql(
        &server,
        Some(&token),
        "query($e: ID!) { employer(id: $e) { visits { id } needs { id } } }",
        json!({ "e": employer }),
    )
    .await;
    let visits_query = "query($e: ID!, $first: Int, $after: String) { employer(id: $e) {
        loggedVisits(first: $first, after: $after) {
            edges { cursor node { id visitedOn } } pageInfo { hasNextPage endCursor } } } }";
    let pages = walk(
        &server,
        &token,
        visits_query,
        json!({ "e": employer, "first": 2 }),
        |a| a["data"]["employer"]["loggedVisits"].clone(),
    )
    .await;
    assert_eq!(
        pages.iter().map(Vec::len).collect::<Vec<_>>(),
        [2, 2, 1],
        "{pages:?}"
    );
    let listed: Vec<Value> = lists["data"]["employer"]["visits"]
        .as_array()
        .unwrap_or_else(|| panic!("{lists}"))
        .iter()
        .map(|v| v["id"].clone())
        .collect();
    assert_eq!(ids(&pages, "id"), listed, "newest first, as the list");
    let days: Vec<&str> = pages
        .iter()
        .flatten()
        .map(|e| e["node"]["visitedOn"].as_str().unwrap())
        .collect();
    assert_eq!(
        days,
        [
            "2026-04-01",
            "2026-03-20",
            "2026-02-03",
            "2026-02-03",
            "2026-01-12"
        ]
    );
    refuses_bad_paging(&server, &token, visits_query, json!({ "e": employer })).await;

    let needs_query = "query($e: ID!, $first: Int, $after: String) { employer(id: $e) {
        surfacedNeeds(first: $first, after: $after) {
            edges { cursor node { id surfacedOn } } pageInfo { hasNextPage endCursor } } } }";
    let pages = walk(
        &server,
        &token,
        needs_query,
        json!({ "e": employer, "first": 2 }),
        |a| a["data"]["employer"]["surfacedNeeds"].clone(),
    )
    .await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [2, 1]);
    let listed: Vec<Value> = lists["data"]["employer"]["needs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].clone())
        .collect();
    assert_eq!(ids(&pages, "id"), listed, "newest first, as the list");
    refuses_bad_paging(&server, &token, needs_query, json!({ "e": employer })).await;

    // A person's path: enrolled, their situation and project stated, two
    // job inquiries.
    let person = enroll(&server, &token, None).await;
    for mutation in [
        "mutation($p: ID!) { situationState(input: { personId: $p,
            words: \"Je cherche un emploi près de chez moi\" }) { person { id } } }",
        "mutation($p: ID!) { projectState(input: { personId: $p, project: {
            targetRomeCodes: [\"D1102\"], contractWishes: [CDI], mobilityRadiusKm: 15 } }) {
            person { id } } }",
        "mutation($p: ID!) { jobInquiryLog(input: { personId: $p, romeCode: \"D1102\",
            withWhom: \"Boulangerie du Port\" }) { person { id } } }",
        "mutation($p: ID!) { jobInquiryLog(input: { personId: $p, romeCode: \"D1102\",
            withWhom: \"Salon de l'artisanat\" }) { person { id } } }",
    ] {
        let done = gql(&server, Some(&token), mutation, json!({ "p": person })).await;
        assert!(done["errors"].is_null(), "{done}");
    }
    let timeline_query = "query($p: ID!, $first: Int, $after: String) { person(id: $p) {
        timelineEvents(first: $first, after: $after) {
            edges { cursor node { eventType recordedAt actor } }
            pageInfo { hasNextPage endCursor } } } }";
    let listed = gql(
        &server,
        Some(&token),
        "query($p: ID!) { person(id: $p) { timeline { eventType recordedAt actor } } }",
        json!({ "p": person }),
    )
    .await;
    let listed = listed["data"]["person"]["timeline"]
        .as_array()
        .unwrap_or_else(|| panic!("{listed}"))
        .clone();
    assert_eq!(listed.len(), 5, "{listed:?}");
    let pages = walk(
        &server,
        &token,
        timeline_query,
        json!({ "p": person, "first": 2 }),
        |a| a["data"]["person"]["timelineEvents"].clone(),
    )
    .await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [2, 2, 1]);
    let paged: Vec<Value> = pages.iter().flatten().map(|e| e["node"].clone()).collect();
    assert_eq!(paged, listed, "in the order recorded, as the list");
    assert_eq!(paged[0]["eventType"], "person_enrolled");
    for edge in pages.iter().flatten() {
        let cursor = edge["cursor"].as_str().unwrap();
        assert!(
            !cursor.contains(person.as_str().unwrap()),
            "a cursor names no one"
        );
    }
    refuses_bad_paging(&server, &token, timeline_query, json!({ "p": person })).await;
}

#[tokio::test]
async fn mails_and_job_runs_page_by_cursor() {
    let db = TestDb::new().await;
    let dir = data_dir();
    // No job runs by itself: the runs listed are the test's.
    let (server, token) = started_with(&db, &dir, |cmd| {
        cmd.env("PASSERELLE_SCHEDULES__REMINDERS", "")
            .env("PASSERELLE_SCHEDULES__WEEKLY_DIGEST", "")
            .env("PASSERELLE_SCHEDULES__RETENTION", "");
    })
    .await;
    create_staff(
        &db,
        &dir,
        "Mission locale de Nantes",
        "manager",
        "jeanne@ml-nantes.fr",
    );
    let manager = login(&server, "jeanne@ml-nantes.fr").await;
    let me = gql(&server, Some(&token), "{ me { structureId } }", json!({})).await;
    let structure: uuid::Uuid = me["data"]["me"]["structureId"]
        .as_str()
        .unwrap_or_else(|| panic!("{me}"))
        .parse()
        .unwrap();

    // Five mails of the structure, one of another's, recorded as the
    // outbox records them; a mail long past, so that no sender takes them.
    for (n, of) in [
        structure,
        structure,
        uuid::Uuid::from_u128(7),
        structure,
        structure,
        structure,
    ]
    .into_iter()
    .enumerate()
    {
        sqlx::query(
            "insert into public.outbox (key, template, recipient, essential, structure_id,
                 state, next_attempt_at, created_at)
             values ($1, 'signature_request', $2, true, $3, 'cancelled', now(), now())",
        )
        .bind(format!("test:{n}"))
        .bind(json!({ "kind": "staff", "user_id": uuid::Uuid::from_u128(n as u128) }))
        .bind(of)
        .execute(&db.pool)
        .await
        .unwrap();
    }
    let deliveries_query = "query($first: Int, $after: String) {
        mailDeliveries(first: $first, after: $after) {
            edges { cursor node { id label state } } pageInfo { hasNextPage endCursor } } }";
    let pages = walk(
        &server,
        &token,
        deliveries_query,
        json!({ "first": 2 }),
        |a| a["data"]["mailDeliveries"].clone(),
    )
    .await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [2, 2, 1]);
    let listed = gql(
        &server,
        Some(&token),
        "{ deliveries(first: 100) { id } }",
        json!({}),
    )
    .await;
    let listed: Vec<Value> = listed["data"]["deliveries"]
        .as_array()
        .unwrap_or_else(|| panic!("{listed}"))
        .iter()
        .map(|d| d["id"].clone())
        .collect();
    assert_eq!(listed.len(), 5, "the structure's own mails only");
    assert_eq!(ids(&pages, "id"), listed, "newest first, as the list");
    refuses_bad_paging(&server, &token, deliveries_query, json!({})).await;

    // Runs of two jobs, two of them started at the same instant.
    for (n, (job, started)) in [
        ("reminders", "2026-03-01 07:00:00+00"),
        ("retention", "2026-03-01 07:00:00+00"),
        ("reminders", "2026-03-02 07:00:00+00"),
        ("weekly_digest", "2026-03-02 06:00:00+00"),
        ("reminders", "2026-03-03 07:00:00+00"),
    ]
    .into_iter()
    .enumerate()
    {
        sqlx::query(
            "insert into public.job_runs (job, tick, started_at, finished_at, outcome, items)
             values ($1, $2::timestamptz, $2::timestamptz,
                     $2::timestamptz + interval '1 second', 'succeeded', $3)",
        )
        .bind(job)
        .bind(started)
        .bind(n as i32)
        .execute(&db.pool)
        .await
        .unwrap();
    }
    let runs_query = "query($first: Int, $after: String, $job: String) {
        scheduledJobRuns(first: $first, after: $after, job: $job) {
            edges { cursor node { job startedAt items } } pageInfo { hasNextPage endCursor } } }";
    let pages = walk(&server, &manager, runs_query, json!({ "first": 2 }), |a| {
        a["data"]["scheduledJobRuns"].clone()
    })
    .await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [2, 2, 1]);
    let listed = gql(
        &server,
        Some(&manager),
        "{ jobRuns(first: 100) { job startedAt items } }",
        json!({}),
    )
    .await;
    let paged: Vec<Value> = pages.iter().flatten().map(|e| e["node"].clone()).collect();
    assert_eq!(
        Value::Array(paged.clone()),
        listed["data"]["jobRuns"],
        "newest first, as the list"
    );
    let items: Vec<i64> = paged.iter().map(|r| r["items"].as_i64().unwrap()).collect();
    assert_eq!(items, [4, 2, 3, 1, 0]);
    let reminders = walk(
        &server,
        &manager,
        runs_query,
        json!({ "first": 2, "job": "reminders" }),
        |a| a["data"]["scheduledJobRuns"].clone(),
    )
    .await;
    let items: Vec<i64> = reminders
        .iter()
        .flatten()
        .map(|e| e["node"]["items"].as_i64().unwrap())
        .collect();
    assert_eq!(items, [4, 2, 0]);
    refuses_bad_paging(&server, &manager, runs_query, json!({})).await;
    let unknown = gql(
        &server,
        Some(&manager),
        "{ scheduledJobRuns(job: \"nettoyage\") { edges { cursor } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        error(&unknown),
        (
            "BAD_USER_INPUT".to_owned(),
            "job".to_owned(),
            "Tâche inconnue : indiquez reminders, weekly_digest ou retention.".to_owned()
        ),
        "{unknown}"
    );
    // A mediator sees no run.
    let denied = gql(
        &server,
        Some(&token),
        "{ scheduledJobRuns { edges { cursor } } }",
        json!({}),
    )
    .await;
    assert_eq!(error(&denied).0, "FORBIDDEN", "{denied}");
}
