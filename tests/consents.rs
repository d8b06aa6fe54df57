//! Consent with its text: the versioned texts read by whoever gives it, a
//! consent given and withdrawn online by the person themself on the version
//! they read, and a version no text has refused in French on its field.

mod common;

use common::*;
use passerelle_store::testkit::TestDb;
use serde_json::{Value, json};

const TEXTS: &str = "query($p: ConsentPurpose) { consentTexts(purpose: $p) {
    purpose version title body current } }";
const GIVE: &str = "mutation($p: ID!, $c: ConsentPurpose!, $v: String!) {
    consentGiveOnline(input: { personId: $p, purpose: $c, textVersion: $v }) {
        person { consentsGiven } } }";
const WITHDRAW: &str = "mutation($p: ID!, $c: ConsentPurpose!) {
    consentWithdrawOnline(input: { personId: $p, purpose: $c }) { person { consentsGiven } } }";

async fn events(db: &TestDb) -> Vec<(String, Value)> {
    sqlx::query_as("select event_type, data from events order by global_position")
        .fetch_all(&db.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_person_reads_the_text_and_gives_and_withdraws_consent_online() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, mediator) = started_with_links(&db, &dir).await;
    let awa = enroll(&server, &mediator, Some("awa.diallo@exemple.fr")).await;
    let other = gql(
        &server,
        Some(&mediator),
        "mutation { personEnroll(input: { firstName: \"Yanis\", lastName: \"Kerbrat\",
            birthDate: \"1990-02-03\" }) { person { id } } }",
        json!({}),
    )
    .await["data"]["personEnroll"]["person"]["id"]
        .clone();
    let her = link_session(&server, "awa.diallo@exemple.fr", 0).await;

    // The current text of every purpose, in French, from her own space.
    let texts = gql(&server, Some(&her), TEXTS, json!({})).await;
    let texts = texts["data"]["consentTexts"]
        .as_array()
        .unwrap_or_else(|| panic!("{texts}"))
        .clone();
    assert_eq!(texts.len(), 4, "{texts:?}");
    for text in &texts {
        assert_eq!(text["current"], true);
        assert!(text["title"].as_str().unwrap().len() > 20, "{text}");
        assert!(text["body"].as_str().unwrap().contains("retirer"), "{text}");
    }
    let testimony = texts.iter().find(|t| t["purpose"] == "TESTIMONY").unwrap();
    let version = testimony["version"].as_str().unwrap();

    // Given online on the version she read, then withdrawn as easily.
    let given = gql(
        &server,
        Some(&her),
        GIVE,
        json!({ "p": awa, "c": "TESTIMONY", "v": version }),
    )
    .await;
    assert_eq!(
        given["data"]["consentGiveOnline"]["person"]["consentsGiven"],
        json!(["TESTIMONY"]),
        "{given}"
    );
    let (kind, data) = events(&db).await.pop().unwrap();
    assert_eq!(kind, "consent_given");
    assert_eq!(data["proof"]["kind"], "online", "{data}");
    assert_eq!(data["text_version"], version, "{data}");
    let withdrawn = gql(
        &server,
        Some(&her),
        WITHDRAW,
        json!({ "p": awa, "c": "TESTIMONY" }),
    )
    .await;
    assert_eq!(
        withdrawn["data"]["consentWithdrawOnline"]["person"]["consentsGiven"],
        json!([]),
        "{withdrawn}"
    );

    // A version no text has: her error, in French, on its field; nothing
    // recorded.
    let before = events(&db).await.len();
    let unknown = gql(
        &server,
        Some(&her),
        GIVE,
        json!({ "p": awa, "c": "MENTORING", "v": "v9" }),
    )
    .await;
    let (code, field, message) = error(&unknown);
    assert_eq!(
        (code.as_str(), field.as_str()),
        ("BAD_USER_INPUT", "textVersion"),
        "{unknown}"
    );
    assert!(
        message.starts_with("Version de texte inconnue"),
        "{message}"
    );
    assert!(message.contains("v1"), "{message}");
    assert_eq!(events(&db).await.len(), before);

    // Only for herself: another person is out of her reach, staff record
    // consents on a form or orally instead, and nobody anonymous reads.
    let elsewhere = gql(
        &server,
        Some(&her),
        GIVE,
        json!({ "p": other, "c": "TESTIMONY", "v": version }),
    )
    .await;
    assert_eq!(error(&elsewhere).0, "NOT_FOUND", "{elsewhere}");
    let staff = gql(
        &server,
        Some(&mediator),
        GIVE,
        json!({ "p": awa, "c": "TESTIMONY", "v": version }),
    )
    .await;
    assert_eq!(error(&staff).0, "FORBIDDEN", "{staff}");
    assert_eq!(events(&db).await.len(), before);
    let anonymous = gql(&server, None, TEXTS, json!({})).await;
    assert_eq!(error(&anonymous).0, "UNAUTHENTICATED", "{anonymous}");

    // Every version of one purpose's text, for a consent given long ago.
    let versions = gql(&server, Some(&mediator), TEXTS, json!({ "p": "MENTORING" })).await;
    let versions = versions["data"]["consentTexts"].as_array().unwrap();
    assert!(versions.iter().all(|t| t["purpose"] == "MENTORING"));
    assert_eq!(versions.iter().filter(|t| t["current"] == true).count(), 1);
}

/// What the consent text promises: the person changes who reads her
/// testimony and withdraws it from her own session; she records none
/// there (her structure does), and another's testimony does not exist for
/// her. Nothing refused appends anything.
#[tokio::test]
async fn a_person_changes_and_withdraws_her_own_testimony_and_no_one_elses() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, mediator) = started_with_links(&db, &dir).await;
    let s = Some(mediator.as_str());
    let mut testimonies = Vec::new();
    let mut people = Vec::new();
    for email in ["awa@exemple.fr", "ines@exemple.fr"] {
        let person = enroll(&server, &mediator, Some(email)).await;
        let given = gql(
            &server,
            s,
            "mutation($p: ID!) { consentGive(input: { personId: $p, purpose: TESTIMONY,
                textVersion: \"v1\", signedForm: true }) { person { id } } }",
            json!({ "p": person }),
        )
        .await;
        assert!(given["errors"].is_null(), "{given}");
        let recorded = gql(
            &server,
            s,
            "mutation($p: ID!) { testimonyRecord(input: { personId: $p,
                account: \"De la caisse à la boulangerie\", romeCodes: [\"D1101\"],
                audience: OWN_STRUCTURE_MEDIATORS }) {
                testimonyId } }",
            json!({ "p": person }),
        )
        .await;
        assert!(recorded["errors"].is_null(), "{recorded}");
        testimonies.push(recorded["data"]["testimonyRecord"]["testimonyId"].clone());
        people.push(person);
    }
    let awa = link_session(&server, "awa@exemple.fr", 0).await;
    let a = Some(awa.as_str());
    let count = || async {
        sqlx::query_scalar::<_, i64>("select count(*) from events")
            .fetch_one(&db.pool)
            .await
            .unwrap()
    };
    let before = count().await;
    // She records none from her session.
    let refused = gql(
        &server,
        a,
        "mutation($p: ID!) { testimonyRecord(input: { personId: $p, account: \"Mon parcours\",
            audience: TERRITORY }) { testimonyId } }",
        json!({ "p": people[0] }),
    )
    .await;
    assert_eq!(error(&refused).0, "FORBIDDEN", "{refused}");
    // Inès's testimony does not exist for her.
    for document in [
        "mutation($t: ID!) { testimonyAudienceChange(input: { testimonyId: $t,
            audience: TERRITORY }) { testimonyId } }",
        "mutation($t: ID!) { testimonyWithdraw(input: { testimonyId: $t }) { testimonyId } }",
    ] {
        let refused = gql(&server, a, document, json!({ "t": testimonies[1] })).await;
        assert_eq!(error(&refused).0, "NOT_FOUND", "{refused}");
    }
    assert_eq!(count().await, before, "a refused command appended");
    // Her own: opened to the territory, then withdrawn.
    let changed = gql(
        &server,
        a,
        "mutation($t: ID!) { testimonyAudienceChange(input: { testimonyId: $t,
            audience: TERRITORY }) { testimonyId } }",
        json!({ "t": testimonies[0] }),
    )
    .await;
    assert!(changed["errors"].is_null(), "{changed}");
    let withdrawn = gql(
        &server,
        a,
        "mutation($t: ID!) { testimonyWithdraw(input: { testimonyId: $t }) { testimonyId } }",
        json!({ "t": testimonies[0] }),
    )
    .await;
    assert!(withdrawn["errors"].is_null(), "{withdrawn}");
    let hers = gql(
        &server,
        a,
        "query($p: ID!) { person(id: $p) { testimonies { account audience withdrawnOn } } }",
        json!({ "p": people[0] }),
    )
    .await;
    let hers = &hers["data"]["person"]["testimonies"];
    assert_eq!(hers[0]["audience"], "TERRITORY", "{hers}");
    assert!(hers[0]["withdrawnOn"].is_string(), "{hers}");
    assert_eq!(
        hers[0]["account"], "De la caisse à la boulangerie",
        "{hers}"
    );
    // Inès's stands, as her structure's staff read it.
    let theirs = gql(
        &server,
        s,
        "query($p: ID!) { person(id: $p) { testimonies { audience withdrawnOn } } }",
        json!({ "p": people[1] }),
    )
    .await;
    assert_eq!(
        theirs["data"]["person"]["testimonies"],
        json!([{ "audience": "OWN_STRUCTURE_MEDIATORS", "withdrawnOn": null }]),
        "{theirs}"
    );
    assert!(server.terminate().success());
}
