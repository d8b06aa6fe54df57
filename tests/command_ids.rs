//! A client's `commandId` over HTTP: a retry is answered as the first time
//! was, even after the object changed; another command under a used id is
//! refused with `CONFLICT` and nothing is lost or appended.

mod common;

use common::*;
use passerelle_store::testkit::TestDb;
use serde_json::{Value, json};

const ACCEPT: &str = "mutation($i: ID!, $by: Party!, $c: UUID) {
    immersionAccept(input: { immersionId: $i, by: $by, commandId: $c }) {
        immersion { id acceptedByPerson acceptedByEmployer } } }";

fn answer_of(answer: &Value) -> &Value {
    &answer["data"]["immersionAccept"]["immersion"]
}

#[tokio::test]
async fn a_retry_gets_the_first_answer_and_another_command_under_its_id_a_conflict() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, staff) = started(&db, &dir).await;
    let s = Some(staff.as_str());
    let employer =
        register_employer(&server, &staff, "73282932000074", "Boulangerie du Port").await;
    let person = enroll(&server, &staff, None).await;
    let immersion = propose(&server, &staff, &person, &employer).await;
    let x = uuid::Uuid::new_v4().to_string();

    let first = gql(
        &server,
        s,
        ACCEPT,
        json!({ "i": immersion, "by": "PERSON", "c": x }),
    )
    .await;
    assert_eq!(answer_of(&first)["acceptedByPerson"], true, "{first}");
    assert_eq!(answer_of(&first)["acceptedByEmployer"], false, "{first}");
    let after_first = events(&db).await;

    // The same id with another command: refused, and nothing of it lost
    // silently nor appended.
    let other = gql(
        &server,
        s,
        ACCEPT,
        json!({ "i": immersion, "by": "EMPLOYER", "c": x }),
    )
    .await;
    assert_eq!(
        other["errors"][0]["extensions"]["code"], "CONFLICT",
        "{other}"
    );
    let message = other["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("commandId"), "{message}");
    assert_eq!(events(&db).await, after_first);

    // The employer's acceptance under its own id changes the immersion…
    let y = uuid::Uuid::new_v4().to_string();
    let second = gql(
        &server,
        s,
        ACCEPT,
        json!({ "i": immersion, "by": "EMPLOYER", "c": y }),
    )
    .await;
    assert_eq!(answer_of(&second)["acceptedByEmployer"], true, "{second}");
    let after_second = events(&db).await;
    assert!(after_second > after_first);

    // …and a retry of the first request still gets the first answer,
    // appending nothing.
    let retried = gql(
        &server,
        s,
        ACCEPT,
        json!({ "i": immersion, "by": "PERSON", "c": x }),
    )
    .await;
    assert_eq!(retried, first, "answered as the first time");
    assert_eq!(events(&db).await, after_second);

    // Another staff member sending the same request under that id gets
    // neither the answer nor a second effect.
    create_user(&db, &dir, "Mission locale de Nantes", "lea@ml-nantes.fr");
    let colleague = login(&server, "lea@ml-nantes.fr").await;
    let theirs = gql(
        &server,
        Some(&colleague),
        ACCEPT,
        json!({ "i": immersion, "by": "PERSON", "c": x }),
    )
    .await;
    assert_eq!(
        theirs["errors"][0]["extensions"]["code"], "CONFLICT",
        "{theirs}"
    );
    assert_eq!(events(&db).await, after_second);

    // What is kept is sealed: no name nor value of the answer in clear.
    let kept: Vec<Vec<u8>> = sqlx::query_scalar("select answer from command_answers")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    assert!(!kept.is_empty());
    for sealed in kept {
        let text = String::from_utf8_lossy(&sealed);
        assert!(!text.contains("acceptedBy"), "{text}");
    }
}

/// A retry's answer is the first answer's very text: its fields in the
/// order the request asked for them, as GraphQL answers, not sorted.
#[tokio::test]
async fn a_retry_gets_the_fields_in_the_order_asked() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, staff) = started(&db, &dir).await;
    let employer =
        register_employer(&server, &staff, "73282932000074", "Boulangerie du Port").await;
    let person = enroll(&server, &staff, None).await;
    let immersion = propose(&server, &staff, &person, &employer).await;
    let body = json!({ "query": ACCEPT, "variables": {
        "i": immersion, "by": "PERSON", "c": uuid::Uuid::new_v4().to_string() } })
    .to_string();
    let send = || async {
        reqwest::Client::new()
            .post(format!("{}/graphql", server.base))
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {staff}"))
            .body(body.clone())
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let first = send().await;
    let retried = send().await;
    let asked = ["\"id\"", "\"acceptedByPerson\"", "\"acceptedByEmployer\""];
    for answer in [&first, &retried] {
        let at: Vec<usize> = asked
            .iter()
            .map(|f| answer.find(f).unwrap_or_else(|| panic!("{f} in {answer}")))
            .collect();
        assert!(at.is_sorted(), "fields in the order asked: {answer}");
    }
    assert_eq!(retried, first);
}
