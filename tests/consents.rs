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
