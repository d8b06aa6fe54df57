//! The export of everything held about a person (RGPD art. 15 and 20),
//! through HTTP: what it holds, in clear, and who may make it (health data
//! only for their referent, a manager and the person themself).

mod common;

use std::time::Duration;

use common::*;
use passerelle_store::testkit::TestDb;
use serde_json::{Value, json};

const EXPORT: &str =
    "query($p: ID!) { personDataExport(personId: $p) { format generatedAt document } }";

async fn ok(server: &Server, token: &str, query: &str, variables: Value) -> Value {
    let answer = gql(server, Some(token), query, variables).await;
    assert!(answer["errors"].is_null(), "{answer}");
    answer
}

/// The export's document as `token` makes it.
async fn export(server: &Server, token: &str, person: &Value) -> Value {
    let answer = ok(server, token, EXPORT, json!({ "p": person })).await;
    let export = &answer["data"]["personDataExport"];
    assert_eq!(export["format"], "passerelle/export-personne/1", "{answer}");
    assert_eq!(export["document"]["format"], export["format"]);
    export["document"].clone()
}

fn types(document: &Value) -> Vec<&str> {
    document["facts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["type"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn a_person_export_holds_their_whole_path_in_clear_for_whoever_may_read_it() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, referent) = started_with_links(&db, &dir).await;
    let structure = "Mission locale de Nantes";
    create_staff(&db, &dir, structure, "manager", "dominique@ml-nantes.fr");
    create_staff(&db, &dir, structure, "mediator", "lou@ml-nantes.fr");
    create_staff(
        &db,
        &dir,
        "Cap emploi Rennes",
        "manager",
        "sacha@cap-rennes.fr",
    );
    let manager = login(&server, "dominique@ml-nantes.fr").await;
    let colleague = login(&server, "lou@ml-nantes.fr").await;
    let elsewhere = login(&server, "sacha@cap-rennes.fr").await;

    let employer =
        register_employer(&server, &referent, "73282932000074", "Boulangerie du Port").await;
    let person = enroll(&server, &referent, Some("awa.diallo@exemple.fr")).await;
    ok(
        &server,
        &referent,
        "mutation($p: ID!) { consentGive(input: { personId: $p, purpose: DISABILITY_RECOGNITION,
            textVersion: \"v1\", signedForm: true }) { person { id } } }",
        json!({ "p": person }),
    )
    .await;
    ok(
        &server,
        &referent,
        "mutation($p: ID!) { disabilityRecognitionRecord(input: { personId: $p,
            recognised: true }) { person { id } } }",
        json!({ "p": person }),
    )
    .await;
    let immersion = propose(&server, &referent, &person, &employer).await;
    assert!(immersion.is_string(), "{immersion}");

    // The referent's export: every fact of her own stream and of her
    // immersion, her names in clear, the mails about her once queued.
    let mut document = Value::Null;
    for _ in 0..60 {
        document = export(&server, &referent, &person).await;
        if !document["mails"].as_array().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(document["person"]["firstName"], "Awa", "{document}");
    assert_eq!(document["person"]["lastName"], "Diallo");
    let facts = types(&document);
    for expected in [
        "person_enrolled",
        "consent_given",
        "disability_recognition_recorded",
        "immersion_proposed",
    ] {
        assert!(
            facts.contains(&expected),
            "{expected} missing from {facts:?}"
        );
    }
    assert_eq!(document["healthFactsWithheld"], 0);
    let enrolled = &document["facts"][0];
    assert_eq!(enrolled["label"], "Début de l'accompagnement");
    assert!(
        enrolled["recordedBy"]
            .as_str()
            .unwrap()
            .starts_with("user:")
    );
    assert_eq!(enrolled["role"], "mediator");
    let text = document.to_string();
    assert!(text.contains("Diallo"), "names in clear in the facts");
    assert!(
        !text.contains("$personal") && !text.contains("$erased"),
        "no storage marker left: {text}"
    );
    let mail = &document["mails"][0];
    assert!(mail["label"].is_string(), "{mail}");
    assert!(mail["state"].is_string(), "{mail}");
    for mail in document["mails"].as_array().unwrap() {
        let to = mail["recipient"].as_str().unwrap();
        assert!(
            !to.contains('@'),
            "a mail's recipient is a role, not an address: {mail}"
        );
    }

    // A manager reads it all; a colleague who is not her referent gets it
    // without the health data, and told so.
    let managers = export(&server, &manager, &person).await;
    assert!(types(&managers).contains(&"disability_recognition_recorded"));
    let colleagues = export(&server, &colleague, &person).await;
    assert!(!types(&colleagues).contains(&"disability_recognition_recorded"));
    assert_eq!(colleagues["healthFactsWithheld"], 1);
    assert!(!colleagues.to_string().contains("recognised"));

    // Each export that gave her health data is in the access log, which
    // her structure's managers consult and a mediator does not.
    let log = ok(
        &server,
        &manager,
        "query($p: ID!) { healthDataReads(personId: $p) { edges { node {
            personId reader readerUserId readerName readerRole through readAt } } } }",
        json!({ "p": person }),
    )
    .await;
    let reads = log["data"]["healthDataReads"]["edges"].as_array().unwrap();
    // Newest first: the manager's, then the referent's (as many as she
    // made while the mails were queued); the colleague's gave none.
    assert_eq!(reads[0]["node"]["readerRole"], "manager", "{log}");
    let mediators: std::collections::BTreeSet<&str> = reads[1..]
        .iter()
        .map(|e| {
            assert_eq!(e["node"]["readerRole"], "mediator", "{log}");
            // Staff are named as their accounts are.
            assert_eq!(e["node"]["readerName"], "Camille Durand", "{log}");
            e["node"]["readerUserId"].as_str().unwrap()
        })
        .collect();
    assert_eq!(mediators.len(), 1, "the referent only: {log}");
    assert!(
        reads
            .iter()
            .all(|e| e["node"]["through"] == "DATA_EXPORT" && e["node"]["personId"] == person)
    );
    let refused = gql(
        &server,
        Some(&colleague),
        "{ healthDataReads { edges { node { reader } } } }",
        json!({}),
    )
    .await;
    assert_eq!(error(&refused).0, "FORBIDDEN", "{refused}");

    // Read on her file, it is recorded too; read by whoever may not, it is
    // neither given nor recorded.
    let file = "query($p: ID!) { person(id: $p) { disabilityRecognition { recognised } } }";
    let read = ok(&server, &referent, file, json!({ "p": person })).await;
    assert_eq!(
        read["data"]["person"]["disabilityRecognition"]["recognised"], true,
        "{read}"
    );
    let hidden = ok(&server, &colleague, file, json!({ "p": person })).await;
    assert!(
        hidden["data"]["person"]["disabilityRecognition"].is_null(),
        "{hidden}"
    );
    let newest = "{ healthDataReads(first: 1) { edges { node { readerRole through } } } }";
    let log = ok(&server, &manager, newest, json!({})).await;
    assert_eq!(
        log["data"]["healthDataReads"]["edges"][0]["node"],
        json!({ "readerRole": "mediator", "through": "PERSON_FILE" }),
        "{log}"
    );

    // Herself, from her own space: her health data included.
    let her = link_session(&server, "awa.diallo@exemple.fr", 0).await;
    let own = export(&server, &her, &person).await;
    assert!(types(&own).contains(&"disability_recognition_recorded"));
    assert_eq!(own["person"]["firstName"], "Awa");
    let reads = own["healthDataReads"].as_array().unwrap();
    assert!(
        reads.len() >= 3,
        "who read her health data, herself included: {reads:?}"
    );
    assert_eq!(reads[0]["readerRole"], "person");
    assert_eq!(colleagues["healthDataReads"], json!([]));
    let log = ok(
        &server,
        &manager,
        "{ healthDataReads(first: 1) { edges { node { readerRole readerName } } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        log["data"]["healthDataReads"]["edges"][0]["node"],
        json!({ "readerRole": "person", "readerName": null })
    );

    // Another structure does not even see her; a careless id is an error
    // of its own kind, never an internal one.
    let refused = gql(&server, Some(&elsewhere), EXPORT, json!({ "p": person })).await;
    assert_eq!(error(&refused).0, "NOT_FOUND", "{refused}");
    assert!(refused["data"].is_null() || refused["data"]["personDataExport"].is_null());
    let careless = gql(
        &server,
        Some(&referent),
        EXPORT,
        json!({ "p": "pas-un-id" }),
    )
    .await;
    let code = error(&careless).0;
    assert!(
        code == "NOT_FOUND" || code == "BAD_USER_INPUT",
        "{careless}"
    );
    let anonymous = gql(&server, None, EXPORT, json!({ "p": person })).await;
    assert_eq!(error(&anonymous).0, "UNAUTHENTICATED", "{anonymous}");
}
