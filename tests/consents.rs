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

/// Her rights on her data outlast her accompaniment: a person who exited
/// asks for her link as before, signs in, reads what is held about her, and
/// withdraws her testimony and a consent herself; what belongs to an
/// accompaniment that runs (answering a proposal) is refused to her, and
/// giving a new consent too. An erased person gets no link at all.
#[tokio::test]
async fn an_exited_person_signs_in_and_withdraws_her_testimony_and_consent_but_an_erased_one_gets_no_link()
 {
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, mediator) = started_with_links(&db, &dir).await;
    create_staff(
        &db,
        &dir,
        "Mission locale de Nantes",
        "manager",
        "dominique@ml-nantes.fr",
    );
    let manager = login(&server, "dominique@ml-nantes.fr").await;
    let s = Some(mediator.as_str());
    let ok = |query: &'static str, variables: Value| {
        let server = &server;
        async move {
            let answer = gql(server, s, query, variables).await;
            assert!(answer["errors"].is_null(), "{query}: {answer}");
            answer["data"].clone()
        }
    };
    let ines = enroll(&server, &mediator, Some("ines@exemple.fr")).await;
    for purpose in ["TESTIMONY", "PEER_CONTACT"] {
        ok(
            "mutation($p: ID!, $c: ConsentPurpose!) { consentGive(input: { personId: $p,
                purpose: $c, textVersion: \"v1\", signedForm: true }) { person { id } } }",
            json!({ "p": ines, "c": purpose }),
        )
        .await;
    }
    let testimony = ok(
        "mutation($p: ID!) { testimonyRecord(input: { personId: $p,
            account: \"De la caisse à la boulangerie\", romeCodes: [\"D1101\"],
            audience: TERRITORY }) { testimonyId } }",
        json!({ "p": ines }),
    )
    .await["testimonyRecord"]["testimonyId"]
        .clone();
    let employer = register_employer(&server, &mediator, &siret(1), "Boulangerie du Port").await;
    let immersion = propose(&server, &mediator, &ines, &employer).await;
    let exited = ok(
        "mutation($p: ID!) { personExit(input: { personId: $p, reason: TRAINING }) {
            person { exitedOn } } }",
        json!({ "p": ines }),
    )
    .await;
    let exited_on = exited["personExit"]["person"]["exitedOn"].clone();
    assert!(exited_on.is_string(), "{exited}");

    // She asks for her link as before, and signs in.
    let her = link_session(&server, "ines@exemple.fr", 0).await;
    let h = Some(her.as_str());
    // What she reads of herself answers whole, with the day her
    // accompaniment ended.
    let own = gql(
        &server,
        h,
        "query($p: ID!) { me { name } person(id: $p) { id exitedOn firstName consentsGiven
            consentRecords { purpose given } testimonies { id audience withdrawnOn }
            timeline { eventType } identityCorrections { reason } jobInquiries { learned }
            peerMeetings { peer } mentorships { mentor } situation { words } exit { reason }
            peers { edges { cursor } } matchingNeeds { edges { cursor } } }
            immersions(first: 10) { edges { node { id currentStage } } }
            personDataExport(personId: $p) { document } }",
        json!({ "p": ines }),
    )
    .await;
    assert!(own["errors"].is_null(), "{own}");
    assert_eq!(own["data"]["me"], Value::Null, "{own}");
    assert_eq!(own["data"]["person"]["exitedOn"], exited_on, "{own}");
    assert_eq!(
        own["data"]["immersions"]["edges"][0]["node"]["id"], immersion,
        "{own}"
    );
    assert!(
        own["data"]["personDataExport"]["document"].is_object(),
        "{own}"
    );

    // Answering the proposal belongs to an accompaniment that runs: refused,
    // nothing appended; giving a new consent too, in French.
    let before = common::events(&db).await;
    let accepted = gql(
        &server,
        h,
        "mutation($i: ID!) { immersionAccept(input: { immersionId: $i, by: PERSON }) {
            immersion { id } } }",
        json!({ "i": immersion }),
    )
    .await;
    assert_eq!(error(&accepted).0, "FORBIDDEN", "{accepted}");
    let given = gql(
        &server,
        h,
        GIVE,
        json!({ "p": ines, "c": "MENTORING", "v": "v1" }),
    )
    .await;
    let (code, _, message) = error(&given);
    assert_ne!(code, "INTERNAL", "{given}");
    assert!(message.contains("sortie de l'accompagnement"), "{given}");
    assert_eq!(
        common::events(&db).await,
        before,
        "a refused command appended"
    );

    // She withdraws her testimony and her consent to share it.
    let withdrawn = gql(
        &server,
        h,
        "mutation($t: ID!) { testimonyWithdraw(input: { testimonyId: $t }) { testimonyId } }",
        json!({ "t": testimony }),
    )
    .await;
    assert!(withdrawn["errors"].is_null(), "{withdrawn}");
    let withdrawn = gql(&server, h, WITHDRAW, json!({ "p": ines, "c": "TESTIMONY" })).await;
    assert_eq!(
        withdrawn["data"]["consentWithdrawOnline"]["person"]["consentsGiven"],
        json!(["PEER_CONTACT"]),
        "{withdrawn}"
    );
    let hers = gql(
        &server,
        s,
        "query($p: ID!) { person(id: $p) { testimonies { withdrawnOn } } }",
        json!({ "p": ines }),
    )
    .await;
    assert!(
        hers["data"]["person"]["testimonies"][0]["withdrawnOn"].is_string(),
        "{hers}"
    );
    // Recorded as hers.
    let (actor, role): (String, String) =
        sqlx::query_as("select actor, role from events where event_type = 'testimony_withdrawn'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(
        (actor.as_str(), role.as_str()),
        (
            format!("person:{}", ines.as_str().unwrap()).as_str(),
            "person"
        )
    );

    // Erased, she gets no link, and her session ends.
    let erased = gql(
        &server,
        Some(&manager),
        "mutation($p: ID!) { personErase(input: { personId: $p, reason: PERSON_REQUEST,
            confirm: true }) { personId } }",
        json!({ "p": ines }),
    )
    .await;
    assert!(erased["errors"].is_null(), "{erased}");
    let ended = gql(
        &server,
        h,
        "query($p: ID!) { person(id: $p) { id } }",
        json!({ "p": ines }),
    )
    .await;
    assert_eq!(error(&ended).0, "UNAUTHENTICATED", "{ended}");
    let asked = gql(
        &server,
        None,
        "mutation { magicLinkRequest(input: { email: \"ines@exemple.fr\" }) { sent } }",
        json!({}),
    )
    .await;
    assert_eq!(asked["data"]["magicLinkRequest"]["sent"], true, "{asked}");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(
        logged_links(&server).len(),
        1,
        "no link for an erased person"
    );
    assert!(server.terminate().success());
}
