//! A request reads back a bounded number of streams: fields that read a
//! person's or an immersion's record multiply in a list, so past 500
//! streams the request is refused in French and asked for smaller pages.

mod common;

use common::*;
use passerelle_store::testkit::TestDb;
use serde_json::{Value, json};

const PEOPLE: usize = 520;

#[tokio::test]
async fn a_request_reading_too_many_records_is_refused_in_french() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, mediator) = started(&db, &dir).await;
    for n in 0..PEOPLE {
        let answer = gql(
            &server,
            Some(&mediator),
            "mutation($l: String!) { personEnroll(input: { firstName: \"Awa\", lastName: $l,
                birthDate: \"2001-05-12\" }) { person { id } } }",
            json!({ "l": format!("Diallo {n:04}") }),
        )
        .await;
        assert!(answer["errors"].is_null(), "{answer}");
    }
    // The cursors of the six pages of 100.
    let mut cursors: Vec<Value> = vec![Value::Null];
    for _ in 0..5 {
        let page = gql(
            &server,
            Some(&mediator),
            "query($a: String) { people(first: 100, after: $a) { pageInfo { endCursor } } }",
            json!({ "a": cursors.last().unwrap() }),
        )
        .await;
        cursors.push(page["data"]["people"]["pageInfo"]["endCursor"].clone());
    }
    // A page's cursor, which the pages put in their URLs, is the last
    // person's id (36 characters, 48 once encoded), never their name.
    for cursor in &cursors[1..] {
        assert_eq!(cursor.as_str().unwrap().len(), 48, "{cursor}");
    }
    let pages = |n: usize| {
        (0..n)
            .map(|k| {
                format!(
                    "p{k}: people(first: 100, after: $a{k}) {{ edges {{ node {{ situation {{ words }} }} }} }}"
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let variables = |n: usize| {
        let declared = (0..n)
            .map(|k| format!("$a{k}: String"))
            .collect::<Vec<_>>()
            .join(", ");
        let values: serde_json::Map<String, Value> = (0..n)
            .map(|k| (format!("a{k}"), cursors[k].clone()))
            .collect();
        (declared, Value::Object(values))
    };

    // 500 records in one request: answered.
    let (declared, values) = variables(5);
    let five = gql(
        &server,
        Some(&mediator),
        &format!("query({declared}) {{ {} }}", pages(5)),
        values,
    )
    .await;
    assert!(five["errors"].is_null(), "{}", five["errors"]);
    assert_eq!(five["data"]["p4"]["edges"].as_array().unwrap().len(), 100);

    // 520: refused, in French, as the client's to mend.
    let (declared, values) = variables(6);
    let six = gql(
        &server,
        Some(&mediator),
        &format!("query({declared}) {{ {} }}", pages(6)),
        values,
    )
    .await;
    let (code, _, message) = error(&six);
    assert_eq!(code, "BAD_USER_INPUT", "{}", six["errors"]);
    assert!(
        message.starts_with("Cette requête lit trop de dossiers"),
        "{message}"
    );
    assert!(!six.to_string().contains("INTERNAL"));
}
