//! Employers' contacts end to end, over HTTP against the real binary: a
//! contact reaches the immersions of the structure that added it and of no
//! other, the establishment's other contacts are told of an addition, a
//! removed contact's links and sessions end, an establishment's contacts add
//! and remove those of their own structure from their space, and an
//! employer's session reads no staff notes.

mod common;

use std::time::{Duration, Instant};

use common::*;
use passerelle_store::testkit::TestDb;
use serde_json::{Value, json};

/// A server with magic links written to its log and mail sent at once,
/// the "Mission locale de Nantes" (A) and "PLIE Nord" (B) each with a
/// mediator logged in: their tokens.
async fn two_structures(db: &TestDb, dir: &tempdir::Dir) -> (Server, String, String) {
    let (server, a) = started_with(db, dir, |cmd| {
        cmd.env("PASSERELLE_API__MAGIC_LINKS_IN_LOG", "true")
            .env("PASSERELLE_MAIL__POLL_INTERVAL_MS", "100");
    })
    .await;
    create_user(db, dir, "PLIE Nord", "lea@plie-nord.fr");
    let b = login(&server, "lea@plie-nord.fr").await;
    (server, a, b)
}

/// Asks for a link for `email`; the links logged for it (the log is read by
/// another thread, so they may come just after the answer).
async fn request_links(server: &Server, email: &str) -> Vec<String> {
    let seen = logged_links(server).len();
    let asked = gql(
        server,
        None,
        "mutation($m: String!) { magicLinkRequest(input: { email: $m }) { sent } }",
        json!({ "m": email }),
    )
    .await;
    assert_eq!(asked["data"]["magicLinkRequest"]["sent"], true, "{asked}");
    // The links are logged before the answer is sent; the reader thread
    // may take a moment.
    tokio::time::sleep(Duration::from_millis(300)).await;
    logged_links(server)[seen..].to_vec()
}

/// A session for the one contact with this address.
async fn session_of(server: &Server, email: &str) -> String {
    let links = request_links(server, email).await;
    assert_eq!(links.len(), 1, "one link for {email}");
    let session = redeem(server, &links[0]).await;
    assert_eq!(
        session["data"]["magicLinkRedeem"]["kind"], "EMPLOYER",
        "{session}"
    );
    session["data"]["magicLinkRedeem"]["token"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Adds a contact with this address; the answer.
async fn add_contact(server: &Server, token: &str, employer: &Value, email: &str) -> Value {
    let added = gql(
        server,
        Some(token),
        "mutation($e: ID!, $m: String!) { employerContactAdd(input: { employerId: $e,
            name: \"Lucie Bernard\", email: $m }) { employer { id } } }",
        json!({ "e": employer, "m": email }),
    )
    .await;
    assert!(added["errors"].is_null(), "{added}");
    added
}

/// The contacts the staff member manages: address → (id, structure).
async fn contacts(server: &Server, token: &str, employer: &Value) -> Vec<(String, String)> {
    let answer = gql(
        server,
        Some(token),
        "query($e: ID!) { employer(id: $e) { contacts { id email structureId } } }",
        json!({ "e": employer }),
    )
    .await;
    let mut out: Vec<(String, String)> = answer["data"]["employer"]["contacts"]
        .as_array()
        .unwrap_or_else(|| panic!("{answer}"))
        .iter()
        .map(|c| {
            (
                c["email"].as_str().unwrap().to_owned(),
                c["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

/// The outbox's mails of a template (about one immersion, when given):
/// (recipient's contact id, structure, key), once the notifications
/// projection queued at least `at_least`. An event's mails are queued
/// together.
async fn queued(
    db: &TestDb,
    template: &str,
    immersion: Option<&Value>,
    at_least: usize,
) -> Vec<(String, String, String)> {
    let immersion: Option<uuid::Uuid> = immersion.map(|i| i.as_str().unwrap().parse().unwrap());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let rows: Vec<(Option<String>, Option<uuid::Uuid>, String)> = sqlx::query_as(
            "select recipient->>'contact_id', structure_id, key from outbox
             where template = $1 and ($2::uuid is null or immersion_id = $2) order by key",
        )
        .bind(template)
        .bind(immersion)
        .fetch_all(&db.pool)
        .await
        .unwrap();
        if rows.len() >= at_least || Instant::now() > deadline {
            return rows
                .into_iter()
                .map(|(c, s, k)| {
                    (
                        c.unwrap_or_default(),
                        s.map(|s| s.to_string()).unwrap_or_default(),
                        k,
                    )
                })
                .collect();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn structure_of(db: &TestDb, name: &str) -> String {
    let id: uuid::Uuid = sqlx::query_scalar("select structure_id from structures where name = $1")
        .bind(name)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    id.to_string()
}

/// The state of the mail queued under `key`, once it is no longer waiting.
async fn delivered(db: &TestDb, key: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let state: String = sqlx::query_scalar("select state from outbox where key = $1")
            .bind(key)
            .fetch_one(&db.pool)
            .await
            .unwrap();
        if !matches!(state.as_str(), "queued" | "sending") || Instant::now() > deadline {
            return state;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

const ACCEPT: &str = "mutation($i: ID!) { immersionAccept(input: { immersionId: $i,
    by: EMPLOYER }) { immersion { acceptedByEmployer } } }";

#[tokio::test]
async fn a_contact_added_by_another_structure_reaches_only_that_structures_immersions() {
    let (db, dir) = (TestDb::new().await, data_dir());
    let (server, a, b) = two_structures(&db, &dir).await;
    let structure_a = structure_of(&db, "Mission locale de Nantes").await;
    let structure_b = structure_of(&db, "PLIE Nord").await;
    let employer = register_employer(&server, &a, "73282932000074", "Boulangerie du Port").await;
    add_contact(&server, &a, &employer, "lucie@boulangerie-du-port.fr").await;
    let awa = enroll(&server, &a, Some("awa@exemple.fr")).await;
    let theirs = propose(&server, &a, &awa, &employer).await;
    let hugo = gql(
        &server,
        Some(&b),
        "mutation { personEnroll(input: { firstName: \"Hugo\", lastName: \"Martin\",
            birthDate: \"1999-02-03\" }) { person { id } } }",
        json!({}),
    )
    .await["data"]["personEnroll"]["person"]["id"]
        .clone();
    let ours = propose(&server, &b, &hugo, &employer).await;
    assert!(theirs.is_string() && ours.is_string());

    // Structure B vouches for a contact of its own at A's establishment.
    add_contact(&server, &b, &employer, "intrus@exemple.fr").await;
    let seen_by_b = contacts(&server, &b, &employer).await;
    assert_eq!(
        seen_by_b.len(),
        1,
        "B sees only its own contact: {seen_by_b:?}"
    );
    assert_eq!(seen_by_b[0].0, "intrus@exemple.fr");
    let seen_by_a = contacts(&server, &a, &employer).await;
    assert_eq!(
        seen_by_a.iter().map(|c| c.0.as_str()).collect::<Vec<_>>(),
        ["intrus@exemple.fr", "lucie@boulangerie-du-port.fr"],
        "the registering structure sees every contact"
    );
    let lucie = seen_by_a[1].1.clone();
    let intruder = seen_by_a[0].1.clone();

    // The establishment's existing contact is told, at its own structure;
    // the new contact is not.
    let told = queued(&db, "employer_contact_added", None, 1).await;
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0].0, lucie);
    assert_eq!(told[0].1, structure_a);
    assert_eq!(
        delivered(&db, &told[0].2).await,
        "sent",
        "the notice is sent"
    );

    // The contact's session reaches B's immersion, none of A's.
    let session = session_of(&server, "intrus@exemple.fr").await;
    let s = Some(session.as_str());
    let seen = gql(
        &server,
        s,
        "query($t: ID!, $o: ID!) { theirs: immersion(id: $t) { id } ours: immersion(id: $o) { id }
            immersions { edges { node { id } } } }",
        json!({ "t": theirs, "o": ours }),
    )
    .await;
    assert!(seen["errors"].is_null(), "{seen}");
    assert_eq!(seen["data"]["theirs"], Value::Null, "{seen}");
    assert_eq!(seen["data"]["ours"]["id"], ours, "{seen}");
    assert_eq!(
        seen["data"]["immersions"]["edges"],
        json!([{ "node": { "id": ours } }]),
        "{seen}"
    );
    let before = events(&db).await;
    let refused = gql(&server, s, ACCEPT, json!({ "i": theirs })).await;
    assert_eq!(error(&refused).0, "NOT_FOUND", "{refused}");
    assert_eq!(events(&db).await, before, "nothing appended");
    let accepted = gql(&server, s, ACCEPT, json!({ "i": ours })).await;
    assert_eq!(
        accepted["data"]["immersionAccept"]["immersion"]["acceptedByEmployer"], true,
        "{accepted}"
    );
    assert_eq!(
        subscription_error(&server, &session, &theirs).await,
        "NOT_FOUND",
        "no live updates of A's immersion either"
    );

    // A's next proposal mails A's contact only, with a link scoped to A.
    let again = propose(&server, &a, &awa, &employer).await;
    assert!(again.is_string());
    let proposals = queued(&db, "proposal_to_employer", Some(&again), 1).await;
    let recipients: Vec<_> = proposals
        .iter()
        .map(|(c, s, _)| (c.as_str(), s.as_str()))
        .collect();
    assert_eq!(
        recipients,
        [(lucie.as_str(), structure_a.as_str())],
        "B's contact gets no mail about A's immersions (intruder {intruder}, B {structure_b})"
    );
    assert!(server.terminate().success());
}

/// The first error code of a subscription to the immersion.
async fn subscription_error(server: &Server, token: &str, immersion: &Value) -> String {
    use futures::{SinkExt as _, StreamExt as _};
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;

    let url = format!("{}/graphql/ws", server.base.replace("http://", "ws://"));
    let mut request = url.into_client_request().unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    for message in [
        json!({ "type": "connection_init",
                "payload": { "authorization": format!("Bearer {token}") } }),
        json!({ "id": "1", "type": "subscribe", "payload": {
            "query": "subscription($i: ID!) { immersionChanged(id: $i) { stage } }",
            "variables": { "i": immersion } } }),
    ] {
        ws.send(Message::Text(message.to_string().into()))
            .await
            .unwrap();
    }
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a message within 10 s")
            .unwrap()
            .unwrap();
        if let Message::Text(text) = message {
            let value: Value = serde_json::from_str(&text).unwrap();
            if matches!(
                value["type"].as_str(),
                Some("connection_ack" | "ping" | "pong")
            ) {
                continue;
            }
            return value["payload"]["errors"][0]["extensions"]["code"]
                .as_str()
                .or(value["payload"][0]["extensions"]["code"].as_str())
                .unwrap_or_else(|| panic!("{value}"))
                .to_owned();
        }
    }
}

const REMOVE: &str = "mutation($e: ID!, $c: ID!, $k: UUID) { employerContactRemove(input: {
    employerId: $e, contactId: $c, commandId: $k }) { employer { contacts { email } } } }";

#[tokio::test]
async fn a_removed_contact_gets_no_link_and_its_sessions_end() {
    let (db, dir) = (TestDb::new().await, data_dir());
    let (server, a, b) = two_structures(&db, &dir).await;
    let employer = register_employer(&server, &a, "73282932000074", "Boulangerie du Port").await;
    add_contact(&server, &a, &employer, "lucie@boulangerie-du-port.fr").await;
    add_contact(&server, &b, &employer, "paul@boulangerie-du-port.fr").await;
    let all = contacts(&server, &a, &employer).await;
    let (lucie, paul) = (all[0].1.clone(), all[1].1.clone());
    let awa = enroll(&server, &a, None).await;
    let immersion = propose(&server, &a, &awa, &employer).await;

    // An open session, and a link not used yet.
    let session = session_of(&server, "lucie@boulangerie-du-port.fr").await;
    let unused = request_links(&server, "lucie@boulangerie-du-port.fr").await;
    assert_eq!(unused.len(), 1);
    let mine = "query($i: ID!) { immersion(id: $i) { id } }";
    let seen = gql(&server, Some(&session), mine, json!({ "i": immersion })).await;
    assert_eq!(seen["data"]["immersion"]["id"], immersion, "{seen}");

    // Who may not remove it: another structure (to which it does not
    // exist), nobody for a contact unknown; nor may the establishment's
    // own contact remove one another structure added.
    let before = events(&db).await;
    let by_b = gql(
        &server,
        Some(&b),
        REMOVE,
        json!({ "e": employer, "c": lucie }),
    )
    .await;
    assert_eq!(
        (error(&by_b).0, error(&by_b).1),
        ("NOT_FOUND".into(), "contactId".into()),
        "{by_b}"
    );
    assert!(
        by_b["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("Ce contact") && m.ends_with('.')),
        "{by_b}"
    );
    let by_employer = gql(
        &server,
        Some(&session),
        REMOVE,
        json!({ "e": employer, "c": paul }),
    )
    .await;
    assert_eq!(
        (error(&by_employer).0, error(&by_employer).1),
        ("NOT_FOUND".into(), "contactId".into()),
        "{by_employer}"
    );
    for bad in [json!("pas-un-id"), json!(uuid::Uuid::new_v4().to_string())] {
        let unknown = gql(
            &server,
            Some(&a),
            REMOVE,
            json!({ "e": employer, "c": bad }),
        )
        .await;
        assert_eq!(
            (error(&unknown).0, error(&unknown).1),
            ("NOT_FOUND".into(), "contactId".into()),
            "{unknown}"
        );
    }
    assert_eq!(events(&db).await, before, "refusals append nothing");

    // Removed by the structure that added it: no link any more, and
    // neither the open session nor the unused link works.
    let command = uuid::Uuid::new_v4().to_string();
    let vars = json!({ "e": employer, "c": lucie, "k": command });
    let removed = gql(&server, Some(&a), REMOVE, vars.clone()).await;
    assert_eq!(
        removed["data"]["employerContactRemove"]["employer"]["contacts"],
        json!([{ "email": "paul@boulangerie-du-port.fr" }]),
        "{removed}"
    );
    let retried = gql(&server, Some(&a), REMOVE, vars).await;
    assert_eq!(retried, removed, "a retry answers as the first time");
    let twice = gql(
        &server,
        Some(&a),
        REMOVE,
        json!({ "e": employer, "c": lucie }),
    )
    .await;
    assert_eq!(error(&twice).0, "NOT_FOUND", "{twice}");
    let after = gql(&server, Some(&session), mine, json!({ "i": immersion })).await;
    assert_eq!(error(&after).0, "UNAUTHENTICATED", "{after}");
    let late = redeem(&server, &unused[0]).await;
    assert_eq!(error(&late).0, "UNAUTHENTICATED", "{late}");
    assert!(
        request_links(&server, "lucie@boulangerie-du-port.fr")
            .await
            .is_empty(),
        "no link for a removed contact"
    );

    // The structure that registered the establishment removes a contact
    // another structure added.
    let removed = gql(
        &server,
        Some(&a),
        REMOVE,
        json!({ "e": employer, "c": paul }),
    )
    .await;
    assert_eq!(
        removed["data"]["employerContactRemove"]["employer"]["contacts"],
        json!([]),
        "{removed}"
    );
    assert!(
        request_links(&server, "paul@boulangerie-du-port.fr")
            .await
            .is_empty()
    );
    assert!(server.terminate().success());
}

#[tokio::test]
async fn an_establishments_contact_adds_and_removes_colleagues_for_its_own_structure() {
    let (db, dir) = (TestDb::new().await, data_dir());
    let (server, a, b) = two_structures(&db, &dir).await;
    let employer = register_employer(&server, &a, "73282932000074", "Boulangerie du Port").await;
    let other = register_employer(&server, &a, &siret(7), "Fournil de l'Erdre").await;
    add_contact(&server, &a, &employer, "lucie@boulangerie-du-port.fr").await;
    add_contact(&server, &b, &employer, "paul@boulangerie-du-port.fr").await;
    let awa = enroll(&server, &a, Some("awa@exemple.fr")).await;
    let immersion = propose(&server, &a, &awa, &employer).await;
    let session = session_of(&server, "lucie@boulangerie-du-port.fr").await;
    let s = Some(session.as_str());

    // Lucie sees the contacts of her structure's scope: herself, not the
    // one PLIE Nord vouches for.
    let own = contacts(&server, &session, &employer).await;
    assert_eq!(
        own.iter().map(|c| c.0.as_str()).collect::<Vec<_>>(),
        ["lucie@boulangerie-du-port.fr"]
    );

    // She adds a colleague: the establishment's contacts are told, and the
    // colleague's link reaches what hers does, for the same structure.
    let told = queued(&db, "employer_contact_added", None, 0).await.len();
    let added = gql(
        &server,
        s,
        "mutation($e: ID!) { employerContactAdd(input: { employerId: $e, name: \"Marc Le Goff\",
            jobTitle: \"Tuteur\", email: \"marc@boulangerie-du-port.fr\" }) {
            employer { contacts { email structureId } } } }",
        json!({ "e": employer }),
    )
    .await;
    assert!(added["errors"].is_null(), "{added}");
    let structure_a = structure_of(&db, "Mission locale de Nantes").await;
    assert_eq!(
        added["data"]["employerContactAdd"]["employer"]["contacts"],
        json!([
            { "email": "lucie@boulangerie-du-port.fr", "structureId": structure_a },
            { "email": "marc@boulangerie-du-port.fr", "structureId": structure_a },
        ]),
        "{added}"
    );
    assert!(
        queued(&db, "employer_contact_added", None, told + 1)
            .await
            .len()
            > told
    );
    let by_staff = contacts(&server, &a, &employer).await;
    assert!(
        by_staff
            .iter()
            .any(|c| c.0 == "marc@boulangerie-du-port.fr"),
        "the structure's staff see the addition: {by_staff:?}"
    );
    let marc = session_of(&server, "marc@boulangerie-du-port.fr").await;
    let seen = gql(
        &server,
        Some(&marc),
        "query($i: ID!) { immersion(id: $i) { id } }",
        json!({ "i": immersion }),
    )
    .await;
    assert_eq!(seen["data"]["immersion"]["id"], immersion, "{seen}");

    // Not at another establishment, not a contact of another structure,
    // not by a person: nothing appended.
    let before = events(&db).await;
    let elsewhere = gql(
        &server,
        s,
        "mutation($e: ID!) { employerContactAdd(input: { employerId: $e, name: \"Marc Le Goff\",
            email: \"marc@exemple.fr\" }) { employer { id } } }",
        json!({ "e": other }),
    )
    .await;
    assert_eq!(error(&elsewhere).0, "FORBIDDEN", "{elsewhere}");
    let paul = by_staff
        .iter()
        .find(|c| c.0 == "paul@boulangerie-du-port.fr")
        .unwrap()
        .1
        .clone();
    let theirs = gql(&server, s, REMOVE, json!({ "e": employer, "c": paul })).await;
    assert_eq!(
        (error(&theirs).0, error(&theirs).1),
        ("NOT_FOUND".into(), "contactId".into()),
        "{theirs}"
    );
    let links = request_links(&server, "awa@exemple.fr").await;
    let person = redeem(&server, &links[0]).await["data"]["magicLinkRedeem"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let by_person = gql(
        &server,
        Some(&person),
        "mutation($e: ID!) { employerContactAdd(input: { employerId: $e, name: \"Awa\",
            email: \"awa@exemple.fr\" }) { employer { id } } }",
        json!({ "e": employer }),
    )
    .await;
    assert_eq!(error(&by_person).0, "FORBIDDEN", "{by_person}");
    assert_eq!(events(&db).await, before, "refusals append nothing");

    // She removes him when he leaves: no link for him any more, and the
    // establishment's sessions for the structure end, hers with his.
    let marc_id = contacts(&server, &session, &employer)
        .await
        .into_iter()
        .find(|c| c.0 == "marc@boulangerie-du-port.fr")
        .unwrap()
        .1;
    let removed = gql(&server, s, REMOVE, json!({ "e": employer, "c": marc_id })).await;
    assert_eq!(
        removed["data"]["employerContactRemove"]["employer"]["contacts"],
        json!([{ "email": "lucie@boulangerie-du-port.fr" }]),
        "{removed}"
    );
    assert!(
        request_links(&server, "marc@boulangerie-du-port.fr")
            .await
            .is_empty(),
        "no link for a removed contact"
    );
    let after = gql(
        &server,
        Some(&marc),
        "query($i: ID!) { immersion(id: $i) { id } }",
        json!({ "i": immersion }),
    )
    .await;
    assert_eq!(error(&after).0, "UNAUTHENTICATED", "{after}");
    assert!(server.terminate().success());
}

#[tokio::test]
async fn an_employers_session_reads_the_visits_without_the_staff_notes() {
    let (db, dir) = (TestDb::new().await, data_dir());
    let (server, a, b) = two_structures(&db, &dir).await;
    let employer = register_employer(&server, &a, "73282932000074", "Boulangerie du Port").await;
    let logged = gql(
        &server,
        Some(&a),
        "mutation($e: ID!) { employerVisitLog(input: { employerId: $e, purpose: PROSPECTION,
            observations: \"Gérant réticent, à relancer\", nextStep: \"Rappeler en mars\" }) {
            employer { id } } }",
        json!({ "e": employer }),
    )
    .await;
    assert!(logged["errors"].is_null(), "{logged}");
    add_contact(&server, &a, &employer, "lucie@boulangerie-du-port.fr").await;
    let session = session_of(&server, "lucie@boulangerie-du-port.fr").await;
    let visits = "query($e: ID!) { employer(id: $e) { visits { purpose observations nextStep }
        contacts { id } } }";

    let seen = gql(&server, Some(&session), visits, json!({ "e": employer })).await;
    assert!(seen["errors"].is_null(), "{seen}");
    // The contacts it reads are its own establishment's, of its structure.
    let lucie = seen["data"]["employer"]["contacts"][0]["id"].clone();
    assert!(lucie.is_string(), "{seen}");
    assert_eq!(
        seen["data"]["employer"],
        json!({ "visits": [{ "purpose": "PROSPECTION", "observations": null, "nextStep": null }],
                "contacts": [{ "id": lucie }] }),
        "{seen}"
    );
    assert!(!seen.to_string().contains("réticent"));
    // Staff of every structure read them.
    for staff in [&a, &b] {
        let seen = gql(&server, Some(staff), visits, json!({ "e": employer })).await;
        assert_eq!(
            seen["data"]["employer"]["visits"][0]["observations"], "Gérant réticent, à relancer",
            "{seen}"
        );
        assert_eq!(
            seen["data"]["employer"]["visits"][0]["nextStep"], "Rappeler en mars",
            "{seen}"
        );
    }
    assert!(server.terminate().success());
}

/// The release that keeps each contact's structure changes the employers
/// view's tables: started on a database whose view has the previous
/// release's tables, it builds a new version from the log, swaps it in,
/// and the contacts added before the upgrade are scoped to the structure
/// that added them.
#[tokio::test]
async fn the_upgrade_rebuilds_the_contacts_with_the_structure_that_added_them() {
    let (db, dir) = (TestDb::new().await, data_dir());
    let (server, a, b) = two_structures(&db, &dir).await;
    let employer = register_employer(&server, &a, "73282932000074", "Boulangerie du Port").await;
    let awa = enroll(&server, &a, None).await;
    let theirs = propose(&server, &a, &awa, &employer).await;
    add_contact(&server, &b, &employer, "intrus@exemple.fr").await;
    assert!(server.terminate().success());

    // The previous release's contacts: no structure, removed ones deleted,
    // and the hash of that release's DDL.
    let version: i32 = sqlx::query_scalar(
        "select version from projection_checkpoints
         where projection = 'employers' and status = 'live'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "begin;
         drop view employers.contacts;
         drop index employers_v{version}.contacts_employer;
         alter table employers_v{version}.contacts drop column structure, drop column removed;
         create view employers.contacts as select * from employers_v{version}.contacts;
         update projection_checkpoints set schema_hash = '0123456789abcdef'
         where projection = 'employers' and version = {version};
         commit;"
    )))
    .execute(&db.pool)
    .await
    .unwrap();

    let server = Server::start(|cmd| {
        cmd.env("DATABASE_URL", db.url())
            .env("PASSERELLE_DATA_DIR", dir.path())
            .env("PASSERELLE_API__MAGIC_LINKS_IN_LOG", "true");
    });
    wait_for_status(&server, "/ready", 200).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let live: Vec<(i32, Option<String>)> = sqlx::query_as(
            "select version, schema_hash from projection_checkpoints
             where projection = 'employers' and status = 'live'",
        )
        .fetch_all(&db.pool)
        .await
        .unwrap();
        if live.len() == 1 && live[0].0 > version {
            assert_ne!(live[0].1.as_deref(), Some("0123456789abcdef"));
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no new version swapped in: {live:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let kept: Vec<(String, uuid::Uuid)> =
        sqlx::query_as("select email, structure from employers.contacts")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    let structure_b = structure_of(&db, "PLIE Nord").await;
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].0, "intrus@exemple.fr");
    assert_eq!(kept[0].1.to_string(), structure_b);
    let session = session_of(&server, "intrus@exemple.fr").await;
    let seen = gql(
        &server,
        Some(&session),
        "query($t: ID!) { immersion(id: $t) { id } immersions { edges { node { id } } } }",
        json!({ "t": theirs }),
    )
    .await;
    assert_eq!(
        seen["data"],
        json!({ "immersion": null, "immersions": { "edges": [] } }),
        "{seen}"
    );
    assert!(server.terminate().success());
}

const CARDS: &str = "query($e: ID!) { employer(id: $e) {
    contacts { id name jobTitle email phone removed added { role } removal { at } mayErase }
    removedContacts { id name jobTitle email phone removed added { role } removal { at } mayErase } } }";

#[tokio::test]
async fn a_contacts_card_reads_back_and_a_removed_one_stays_erasable_by_its_structure() {
    let (db, dir) = (TestDb::new().await, data_dir());
    let (server, a, b) = two_structures(&db, &dir).await;
    let employer = register_employer(&server, &a, "73282932000074", "Boulangerie du Port").await;
    let added = gql(
        &server,
        Some(&a),
        "mutation($e: ID!) { employerContactAdd(input: { employerId: $e,
            name: \"Lucie Bernard\", jobTitle: \"Responsable RH\",
            email: \"lucie@boulangerie-du-port.fr\", phone: \"06 12 34 56 78\" }) { employer { id } } }",
        json!({ "e": employer }),
    )
    .await;
    assert!(added["errors"].is_null(), "{added}");
    add_contact(&server, &b, &employer, "paul@boulangerie-du-port.fr").await;
    add_contact(&server, &a, &employer, "marc@boulangerie-du-port.fr").await;
    let all = contacts(&server, &a, &employer).await;
    let (lucie, paul) = (all[0].1.clone(), all[2].1.clone());

    // Everything the contact was added with reads back, with who added it.
    let cards = gql(&server, Some(&a), CARDS, json!({ "e": employer })).await;
    let card = cards["data"]["employer"]["contacts"]
        .as_array()
        .unwrap_or_else(|| panic!("{cards}"))
        .iter()
        .find(|c| c["id"] == lucie.as_str())
        .unwrap_or_else(|| panic!("{cards}"))
        .clone();
    assert_eq!(
        card,
        json!({ "id": lucie, "name": "Lucie Bernard", "jobTitle": "Responsable RH",
            "email": "lucie@boulangerie-du-port.fr", "phone": "+33612345678",
            "removed": false, "added": { "role": "mediator" }, "removal": null,
            "mayErase": true }),
        "{cards}"
    );
    assert_eq!(cards["data"]["employer"]["removedContacts"], json!([]));

    // Removed: off the list, still read back (without its address) by the
    // structure that added it, which alone may erase it; not by another.
    for (contact, by) in [(&lucie, &a), (&paul, &a)] {
        let removed = gql(
            &server,
            Some(by),
            REMOVE,
            json!({ "e": employer, "c": contact }),
        )
        .await;
        assert!(removed["errors"].is_null(), "{removed}");
    }
    let cards = gql(&server, Some(&a), CARDS, json!({ "e": employer })).await;
    let kept: Vec<&Value> = cards["data"]["employer"]["contacts"]
        .as_array()
        .unwrap_or_else(|| panic!("{cards}"))
        .iter()
        .map(|c| &c["email"])
        .collect();
    assert_eq!(kept, [&json!("marc@boulangerie-du-port.fr")], "{cards}");
    let removed = &cards["data"]["employer"]["removedContacts"];
    assert_eq!(removed.as_array().map(Vec::len), Some(1), "{cards}");
    assert_eq!(removed[0]["id"], lucie.as_str());
    assert_eq!(removed[0]["name"], "Lucie Bernard");
    assert_eq!(removed[0]["phone"], "+33612345678");
    assert_eq!(
        removed[0]["email"],
        Value::Null,
        "a removed contact has no address"
    );
    assert_eq!(removed[0]["removed"], true);
    assert_eq!(removed[0]["mayErase"], true);
    assert!(removed[0]["removal"]["at"].is_string(), "{cards}");
    // Paul was added by B and removed by A, which registered the
    // establishment: B reads him back, A does not (it may not erase him).
    let of_b = gql(&server, Some(&b), CARDS, json!({ "e": employer })).await;
    let names: Vec<&Value> = of_b["data"]["employer"]["removedContacts"]
        .as_array()
        .unwrap_or_else(|| panic!("{of_b}"))
        .iter()
        .map(|c| &c["id"])
        .collect();
    assert_eq!(names, [&json!(paul)], "{of_b}");
    // The establishment's own contact reads no removed colleague, and its
    // hosting capacity without staff's notes.
    let set = gql(
        &server,
        Some(&a),
        "mutation($e: ID!) { employerHostingCapacitySet(input: { employerId: $e,
            simultaneousImmersions: 2, notes: \"Fermé en août\" }) { employer { id } } }",
        json!({ "e": employer }),
    )
    .await;
    assert!(set["errors"].is_null(), "{set}");
    let capacity = "query($e: ID!) { employer(id: $e) { hostingCapacity {
        simultaneousImmersions notes recorded { role } } } }";
    let staff_reads = gql(&server, Some(&a), capacity, json!({ "e": employer })).await;
    assert_eq!(
        staff_reads["data"]["employer"]["hostingCapacity"],
        json!({ "simultaneousImmersions": 2, "notes": "Fermé en août",
            "recorded": { "role": "mediator" } }),
        "{staff_reads}"
    );
    let marc = session_of(&server, "marc@boulangerie-du-port.fr").await;
    let own_reads = gql(&server, Some(&marc), capacity, json!({ "e": employer })).await;
    assert_eq!(
        own_reads["data"]["employer"]["hostingCapacity"]["notes"],
        Value::Null,
        "{own_reads}"
    );
    let own = gql(&server, Some(&marc), CARDS, json!({ "e": employer })).await;
    assert_eq!(
        own["data"]["employer"]["removedContacts"],
        json!([]),
        "{own}"
    );

    // Erased at its request: nothing of it is read back any more.
    let erased = gql(
        &server,
        Some(&a),
        "mutation($e: ID!, $c: ID!) { employerContactErase(input: {
            employerId: $e, contactId: $c, confirm: true }) { contactId } }",
        json!({ "e": employer, "c": lucie }),
    )
    .await;
    assert!(erased["errors"].is_null(), "{erased}");
    let cards = gql(&server, Some(&a), CARDS, json!({ "e": employer })).await;
    assert_eq!(
        cards["data"]["employer"]["removedContacts"],
        json!([]),
        "{cards}"
    );
    assert!(!cards.to_string().contains(&lucie), "{cards}");
    assert!(server.terminate().success());
}
