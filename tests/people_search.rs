//! The people list over HTTP: a name found whatever its case and accents,
//! the list narrowed by referent, project ROME code and stage, pages that
//! follow each other with no one twice and no one left out, and filters
//! refused on their field in French.

mod common;

use std::collections::BTreeSet;

use common::*;
use passerelle_store::testkit::TestDb;
use serde_json::{Value, json};

const PEOPLE: &str = "query($f: PeopleFilterInput, $first: Int, $after: String) {
    people(filter: $f, first: $first, after: $after) {
        edges { cursor node { id firstName lastName } }
        pageInfo { hasNextPage endCursor } } }";

async fn ok(server: &Server, token: &str, query: &str, variables: Value) -> Value {
    let answer = gql(server, Some(token), query, variables).await;
    assert!(answer["errors"].is_null(), "{query}: {answer}");
    answer["data"].clone()
}

/// Enrolls someone, the viewer as referent; their id.
async fn enrol(server: &Server, token: &str, first: &str, last: &str) -> String {
    ok(
        server,
        token,
        "mutation($f: String!, $l: String!) { personEnroll(input: { firstName: $f, lastName: $l,
            birthDate: \"1995-06-01\" }) { person { id } } }",
        json!({ "f": first, "l": last }),
    )
    .await["personEnroll"]["person"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The whole list for `filter`, page after page of `first`: the names in
/// order ("First Last"), checking that the pages chain.
async fn names(server: &Server, token: &str, filter: Value, first: i64) -> Vec<String> {
    let mut names = Vec::new();
    let mut ids = BTreeSet::new();
    let mut after = Value::Null;
    loop {
        let page = ok(
            server,
            token,
            PEOPLE,
            json!({ "f": filter, "first": first, "after": after }),
        )
        .await;
        let people = &page["people"];
        let edges = people["edges"].as_array().unwrap();
        assert!(edges.len() as i64 <= first, "{page}");
        for edge in edges {
            let node = &edge["node"];
            assert!(
                ids.insert(node["id"].as_str().unwrap().to_owned()),
                "no one twice: {page}"
            );
            names.push(format!(
                "{} {}",
                node["firstName"].as_str().unwrap(),
                node["lastName"].as_str().unwrap()
            ));
        }
        if people["pageInfo"]["hasNextPage"] != true {
            return names;
        }
        assert_eq!(
            people["pageInfo"]["endCursor"],
            edges.last().unwrap()["cursor"]
        );
        after = people["pageInfo"]["endCursor"].clone();
    }
}

#[tokio::test]
async fn people_are_found_by_name_referent_project_and_stage_page_after_page() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, camille) = started(&db, &dir).await;
    create_user(&db, &dir, "Mission locale de Nantes", "yanis@ml-nantes.fr");
    create_user(&db, &dir, "PLIE Nord", "lea@plie-nord.fr");
    let yanis = login(&server, "yanis@ml-nantes.fr").await;
    let lea = login(&server, "lea@plie-nord.fr").await;
    let yanis_id = ok(&server, &yanis, "{ me { id } }", json!({})).await["me"]["id"].clone();

    let dupont = enrol(&server, &camille, "Hélène", "Dupont").await;
    enrol(&server, &yanis, "HELENE", "Martin").await;
    let ndiaye = enrol(&server, &camille, "Jean-François", "N'Diaye").await;
    let leroy = enrol(&server, &yanis, "Zoé", "Leroy").await;
    enrol(&server, &camille, "Noël", "Bernard").await;
    let awa = enroll(&server, &camille, None).await;
    let awa = awa.as_str().unwrap().to_owned();
    // Another structure's Hélène is not in this structure's list.
    enrol(&server, &lea, "Hélène", "Rivière").await;

    // The whole list, by last name, across pages of two: no one twice,
    // no one left out, the same as in one page.
    let all = names(&server, &camille, Value::Null, 100).await;
    assert_eq!(
        all,
        [
            "Noël Bernard",
            "Awa Diallo",
            "Hélène Dupont",
            "Zoé Leroy",
            "HELENE Martin",
            "Jean-François N'Diaye",
        ]
    );
    for first in [1, 2, 4] {
        assert_eq!(names(&server, &camille, Value::Null, first).await, all);
        assert_eq!(names(&server, &camille, json!({}), first).await, all);
    }

    // A name, whatever its case and accents, part of the first or last
    // name, several words each found.
    let helenes = ["Hélène Dupont", "HELENE Martin"];
    for name in ["helene", "Hélène", "HÉLÈNE", " hel ", "ELEN"] {
        assert_eq!(
            names(&server, &camille, json!({ "name": name }), 1).await,
            helenes,
            "{name}"
        );
    }
    assert_eq!(
        names(&server, &camille, json!({ "name": "dupont hélène" }), 20).await,
        ["Hélène Dupont"]
    );
    assert_eq!(
        names(&server, &camille, json!({ "name": "francois ndiaye" }), 20).await,
        Vec::<String>::new(),
        "every word must be found"
    );
    for name in ["françois", "n'diaye", "jean-francois", "N’Diaye"] {
        assert_eq!(
            names(&server, &camille, json!({ "name": name }), 20).await,
            ["Jean-François N'Diaye"],
            "{name}"
        );
    }
    assert_eq!(
        names(&server, &camille, json!({ "name": "noel" }), 20).await,
        ["Noël Bernard"]
    );
    assert_eq!(
        names(&server, &camille, json!({ "name": "%" }), 20).await,
        Vec::<String>::new(),
        "a wildcard is searched as itself"
    );
    assert_eq!(
        names(&server, &camille, json!({ "name": "  " }), 20).await,
        all,
        "a blank name narrows nothing"
    );
    assert!(
        server.logged("Dupont").is_empty() && server.logged("hélène").is_empty(),
        "names are not logged"
    );

    // By referent.
    assert_eq!(
        names(&server, &camille, json!({ "referentId": yanis_id }), 1).await,
        ["Zoé Leroy", "HELENE Martin"]
    );
    assert_eq!(
        names(
            &server,
            &camille,
            json!({ "referentId": yanis_id, "name": "helene" }),
            20
        )
        .await,
        ["HELENE Martin"]
    );

    // By a ROME code of the current project.
    let project = "mutation($p: ID!, $r: [String!]!) { projectState(input: { personId: $p,
        project: { targetRomeCodes: $r } }) { person { id } } }";
    ok(
        &server,
        &camille,
        project,
        json!({ "p": dupont, "r": ["D1102", "G1602"] }),
    )
    .await;
    ok(
        &server,
        &camille,
        project,
        json!({ "p": ndiaye, "r": ["G1602"] }),
    )
    .await;
    assert_eq!(
        names(&server, &camille, json!({ "romeCode": "d1102" }), 20).await,
        ["Hélène Dupont"]
    );
    assert_eq!(
        names(&server, &camille, json!({ "romeCode": "G1602" }), 1).await,
        ["Hélène Dupont", "Jean-François N'Diaye"]
    );

    // By stage: an immersion under way, a hire, another exit.
    let employer =
        register_employer(&server, &camille, "73282932000074", "Boulangerie du Port").await;
    let today = ok(
        &server,
        &camille,
        "query($p: ID!) { person(id: $p) { enrolledOn } }",
        json!({ "p": awa }),
    )
    .await["person"]["enrolledOn"]
        .as_str()
        .unwrap()
        .to_owned();
    let immersion = propose(&server, &camille, &json!(awa), &employer).await;
    for by in ["PERSON", "EMPLOYER"] {
        ok(
            &server,
            &camille,
            "mutation($i: ID!, $by: Party!) { immersionAccept(input: { immersionId: $i, by: $by }) { immersion { id } } }",
            json!({ "i": immersion, "by": by }),
        )
        .await;
    }
    ok(
        &server,
        &camille,
        "mutation($i: ID!, $c: ConventionInput!) {
            conventionDraft(input: { immersionId: $i, convention: $c }) { immersion { id } } }",
        json!({ "i": immersion, "c": convention(&today, 35.0) }),
    )
    .await;
    for signatory in ["PERSON", "HOST", "PRESCRIBER"] {
        ok(
            &server,
            &camille,
            "mutation($i: ID!, $s: Signatory!) { conventionSign(input: { immersionId: $i, signatory: $s }) { immersion { id } } }",
            json!({ "i": immersion, "s": signatory }),
        )
        .await;
    }
    for step in ["conventionValidate", "immersionStart"] {
        ok(
            &server,
            &camille,
            &format!("mutation($i: ID!) {{ {step}(input: {{ immersionId: $i }}) {{ immersion {{ id }} }} }}"),
            json!({ "i": immersion }),
        )
        .await;
    }
    let exit = "mutation($p: ID!, $r: ExitReasonKind!, $c: Contract) { personExit(input: {
        personId: $p, reason: $r, contract: $c }) { person { id } } }";
    ok(
        &server,
        &yanis,
        exit,
        json!({ "p": leroy, "r": "EMPLOYMENT", "c": "CDI" }),
    )
    .await;
    ok(
        &server,
        &camille,
        exit,
        json!({ "p": ndiaye, "r": "MOVED" }),
    )
    .await;
    for (stage, expected) in [
        ("IMMERSION_IN_PROGRESS", vec!["Awa Diallo"]),
        ("HIRED", vec!["Zoé Leroy"]),
        ("EXITED", vec!["Jean-François N'Diaye"]),
        ("NO_PROJECT_YET", vec!["Noël Bernard", "HELENE Martin"]),
        ("PROJECT_STATED", vec!["Hélène Dupont"]),
    ] {
        assert_eq!(
            names(&server, &camille, json!({ "stage": stage }), 1).await,
            expected,
            "{stage}"
        );
    }
    // Every part of the filter holds.
    assert_eq!(
        names(
            &server,
            &camille,
            json!({ "stage": "EXITED", "romeCode": "G1602", "name": "diaye" }),
            20
        )
        .await,
        ["Jean-François N'Diaye"]
    );
    assert_eq!(
        names(
            &server,
            &camille,
            json!({ "stage": "HIRED", "referentId": yanis_id, "name": "helene" }),
            20
        )
        .await,
        Vec::<String>::new()
    );

    // Another structure's staff see their own only.
    assert_eq!(
        names(&server, &lea, json!({ "name": "helene" }), 20).await,
        ["Hélène Rivière"]
    );

    // Filters that cannot be used are refused on their field, in French.
    for (filter, field) in [
        (json!({ "name": "a".repeat(201) }), "filter.name"),
        (
            json!({ "name": "un deux trois quatre cinq six" }),
            "filter.name",
        ),
        (json!({ "name": "Hélène\u{7}" }), "filter.name"),
        (
            json!({ "referentId": "pas-un-identifiant" }),
            "filter.referentId",
        ),
        (json!({ "romeCode": "boulanger" }), "filter.romeCode"),
    ] {
        let refused = gql(&server, Some(&camille), PEOPLE, json!({ "f": filter })).await;
        let (code, at, message) = error(&refused);
        assert_eq!(
            (code.as_str(), at.as_str()),
            ("BAD_USER_INPUT", field),
            "{filter}: {refused}"
        );
        assert!(
            message.chars().any(|c| "éèàêç«".contains(c)),
            "a French message: {message}"
        );
    }
    let refused = gql(
        &server,
        Some(&camille),
        PEOPLE,
        json!({ "f": { "stage": "SOMEWHERE" } }),
    )
    .await;
    assert_eq!(error(&refused).0, "BAD_USER_INPUT", "{refused}");
    let refused = gql(
        &server,
        Some(&camille),
        PEOPLE,
        json!({ "after": "pas un curseur" }),
    )
    .await;
    assert_eq!(error(&refused).1, "after", "{refused}");
}
