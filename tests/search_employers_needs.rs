//! Searching the territory's employers and open needs over HTTP against the
//! real binary: each criterion of `employers(filter:)` and `needs(filter:)`,
//! keyset pages walked to the end with no row twice and none missed, the
//! refusals of what a search cannot take (in French, on their field), and
//! who may search (staff of any structure; no employer or person by magic
//! link). Also the municipal arrondissements of Paris, Lyon and Marseille,
//! registered as communes and found under their city.

mod common;

use std::collections::BTreeSet;

use common::*;
use passerelle_store::testkit::TestDb;
use serde_json::{Value, json};

/// A SIRET whose Luhn check holds, from a SIREN-like prefix of 13 digits.
fn siret(prefix: &str) -> String {
    assert_eq!(prefix.len(), 13);
    (0..10)
        .map(|d| format!("{prefix}{d}"))
        .find(|s| {
            let sum: u32 = s
                .bytes()
                .rev()
                .enumerate()
                .map(|(i, b)| {
                    let d = u32::from(b - b'0');
                    if i % 2 == 1 {
                        let d = d * 2;
                        if d > 9 { d - 9 } else { d }
                    } else {
                        d
                    }
                })
                .sum();
            sum.is_multiple_of(10)
        })
        .unwrap()
}

/// Registers an establishment; its id, or the whole answer on refusal.
async fn register(
    server: &Server,
    token: &str,
    siret: &str,
    name: &str,
    naf: &str,
    commune: &str,
) -> Result<String, Value> {
    let answer = gql(
        server,
        Some(token),
        "mutation($s: String!, $n: String!, $naf: String!, $c: String!) {
            employerRegister(input: { siret: $s, name: $n, naf: $naf, commune: $c }) {
                employer { id } } }",
        json!({ "s": siret, "n": name, "naf": naf, "c": commune }),
    )
    .await;
    answer["data"]["employerRegister"]["employer"]["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or(answer)
}

/// Surfaces a need heard by phone on `day` for these ROME codes; its id.
async fn surface(
    server: &Server,
    token: &str,
    employer: &str,
    codes: &[&str],
    day: &str,
    source: &str,
) -> String {
    let answer = gql(
        server,
        Some(token),
        "mutation($e: ID!, $codes: [String!]!, $d: Date!, $src: NeedSourceKind!) {
            needSurface(input: { employerId: $e, source: { kind: $src }, surfacedOn: $d,
                description: { activities: \"Renfort en cuisine\", romeCodes: $codes,
                               horizon: NOW, hiringIntent: POSSIBLE } }) { need { id } } }",
        json!({ "e": employer, "codes": codes, "d": day, "src": source }),
    )
    .await;
    answer["data"]["needSurface"]["need"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{answer}"))
        .to_owned()
}

/// The names of the employers a filter finds (first page of 100).
async fn employers(server: &Server, token: &str, filter: Value) -> Vec<String> {
    let answer = gql(
        server,
        Some(token),
        "query($f: EmployerFilter) { employers(first: 100, filter: $f) {
            edges { node { name } } } }",
        json!({ "f": filter }),
    )
    .await;
    let edges = answer["data"]["employers"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{answer}"));
    edges
        .iter()
        .map(|e| e["node"]["name"].as_str().unwrap().to_owned())
        .collect()
}

/// The ids of the needs a filter finds (first page of 100), newest first.
async fn needs(server: &Server, token: &str, filter: Value) -> Vec<String> {
    let answer = gql(
        server,
        Some(token),
        "query($f: NeedFilterInput) { needs(first: 100, filter: $f) {
            edges { node { id } } } }",
        json!({ "f": filter }),
    )
    .await;
    let edges = answer["data"]["needs"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{answer}"));
    edges
        .iter()
        .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
        .collect()
}

/// The day `days` before today in Paris, as the service counts days and the
/// API writes dates.
fn days_ago(days: i64) -> String {
    (paris_today() - time::Duration::days(days)).to_string()
}

/// The token of the session a magic link opens for `email`.
async fn link_session(server: &Server, email: &str) -> String {
    let seen = logged_links(server).len();
    let asked = gql(
        server,
        None,
        "mutation($m: String!) { magicLinkRequest(input: { email: $m }) { sent } }",
        json!({ "m": email }),
    )
    .await;
    assert_eq!(asked["data"]["magicLinkRequest"]["sent"], true, "{asked}");
    let link = next_link(server, seen).await;
    let session = redeem(server, &link).await;
    session["data"]["magicLinkRedeem"]["token"]
        .as_str()
        .unwrap_or_else(|| panic!("{session}"))
        .to_owned()
}

#[tokio::test]
async fn an_arrondissement_is_a_commune_counted_under_its_city() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, token) = started(&db, &dir).await;

    // La Poste's head office, as Sirene gives it: Paris 15e.
    let poste = register(&server, &token, "35600000000048", "La Poste", "53", "75115")
        .await
        .unwrap_or_else(|a| panic!("{a}"));
    let answer = gql(
        &server,
        Some(&token),
        "query($e: ID!) { employer(id: $e) { commune communeName municipality departement region } }",
        json!({ "e": poste }),
    )
    .await;
    assert_eq!(
        answer["data"]["employer"],
        json!({ "commune": "75115", "communeName": "Paris 15e Arrondissement",
                "municipality": "75056", "departement": "75", "region": "11" }),
        "{answer}"
    );
    let lyon = register(
        &server,
        &token,
        &siret("4000000000001"),
        "Bouchon Lyonnais",
        "56",
        "69383",
    )
    .await
    .unwrap_or_else(|a| panic!("{a}"));
    let marseille = register(
        &server,
        &token,
        &siret("4000000000002"),
        "Savonnerie du Vieux-Port",
        "20",
        "13201",
    )
    .await
    .unwrap_or_else(|a| panic!("{a}"));
    register(
        &server,
        &token,
        &siret("4000000000003"),
        "Boulangerie de Nantes",
        "10",
        "44109",
    )
    .await
    .unwrap_or_else(|a| panic!("{a}"));

    // A postal code is refused, and the answer names the INSEE codes.
    let refused = register(
        &server,
        &token,
        &siret("4000000000004"),
        "Café du 15e",
        "56",
        "75015",
    )
    .await
    .unwrap_err();
    let (code, field, message) = error(&refused);
    assert_eq!(
        (code.as_str(), field.as_str()),
        ("BAD_USER_INPUT", "commune"),
        "{refused}"
    );
    assert!(message.contains("est un code postal"), "{message}");
    assert!(
        message.contains("75115 (Paris 15e Arrondissement)"),
        "{message}"
    );

    // The city finds its arrondissements; an arrondissement, itself only.
    assert_eq!(
        employers(&server, &token, json!({ "commune": "75056" })).await,
        ["La Poste"]
    );
    assert_eq!(
        employers(&server, &token, json!({ "commune": "75115" })).await,
        ["La Poste"]
    );
    assert!(
        employers(&server, &token, json!({ "commune": "75114" }))
            .await
            .is_empty()
    );
    assert_eq!(
        employers(&server, &token, json!({ "commune": "69123" })).await,
        ["Bouchon Lyonnais"]
    );
    assert_eq!(
        employers(&server, &token, json!({ "departement": "13" })).await,
        ["Savonnerie du Vieux-Port"]
    );

    // Needs too are found under the city of their employer.
    let at_poste = surface(&server, &token, &poste, &["N1103"], &days_ago(3), "PHONE").await;
    let at_lyon = surface(&server, &token, &lyon, &["G1602"], &days_ago(3), "PHONE").await;
    surface(
        &server,
        &token,
        &marseille,
        &["N1103"],
        &days_ago(3),
        "PHONE",
    )
    .await;
    assert_eq!(
        needs(&server, &token, json!({ "commune": "75056" })).await,
        [at_poste]
    );
    assert_eq!(
        needs(&server, &token, json!({ "commune": "69123" })).await,
        [at_lyon.as_str()]
    );
    assert_eq!(
        needs(&server, &token, json!({ "commune": "69383" })).await,
        [at_lyon]
    );
    assert!(
        needs(&server, &token, json!({ "commune": "69381" }))
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn employers_are_searched_by_each_criterion() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, a) = started(&db, &dir).await;
    create_user(&db, &dir, "PLIE Nord", "lea@plie-nord.fr");
    let b = login(&server, "lea@plie-nord.fr").await;

    let creche = register(
        &server,
        &a,
        &siret("5000000000001"),
        "Crèche Œuvre d'Éveil",
        "88.91A",
        "44109",
    )
    .await
    .unwrap();
    let boulangerie = register(
        &server,
        &a,
        &siret("5000000000002"),
        "Boulangerie du Port",
        "10",
        "44184",
    )
    .await
    .unwrap();
    let restaurant = register(
        &server,
        &a,
        &siret("6000000000001"),
        "Restaurant L'Escale",
        "56",
        "44184",
    )
    .await
    .unwrap();
    register(
        &server,
        &a,
        &siret("6000000000002"),
        "Épicerie Solidaire",
        "47",
        "49007",
    )
    .await
    .unwrap();

    // Name, whatever its case and accents, and SIRET prefixes.
    assert_eq!(
        employers(&server, &a, json!({ "nameOrSiret": "OEUVRE D'EVEIL" })).await,
        ["Crèche Œuvre d'Éveil"]
    );
    assert_eq!(
        employers(&server, &a, json!({ "nameOrSiret": "epicerie" })).await,
        ["Épicerie Solidaire"]
    );
    assert_eq!(
        employers(&server, &a, json!({ "nameContains": "crèche" })).await,
        ["Crèche Œuvre d'Éveil"]
    );
    assert_eq!(
        employers(&server, &a, json!({ "nameOrSiret": "500 000 000" })).await,
        ["Boulangerie du Port", "Crèche Œuvre d'Éveil"]
    );
    assert_eq!(
        employers(
            &server,
            &a,
            json!({ "nameOrSiret": siret("5000000000002") })
        )
        .await,
        ["Boulangerie du Port"]
    );
    // Commune, département, NAF division (an APE code stands for its own).
    assert_eq!(
        employers(&server, &a, json!({ "commune": "44184" })).await,
        ["Boulangerie du Port", "Restaurant L'Escale"]
    );
    assert_eq!(
        employers(&server, &a, json!({ "departement": "49" })).await,
        ["Épicerie Solidaire"]
    );
    assert_eq!(
        employers(&server, &a, json!({ "naf": "88" })).await,
        ["Crèche Œuvre d'Éveil"]
    );
    assert_eq!(
        employers(&server, &a, json!({ "naf": "56.10A", "departement": "44" })).await,
        ["Restaurant L'Escale"]
    );

    // ROME codes of their open needs: a closed need no longer counts.
    surface(&server, &a, &restaurant, &["G1602"], &days_ago(2), "PHONE").await;
    let closed = surface(
        &server,
        &a,
        &creche,
        &["G1602", "K2204"],
        &days_ago(2),
        "PHONE",
    )
    .await;
    let answer = gql(
        &server,
        Some(&a),
        "mutation($n: ID!) { needClose(input: { needId: $n, reason: MET }) { need { id } } }",
        json!({ "n": closed }),
    )
    .await;
    assert!(answer["errors"].is_null(), "{answer}");
    assert_eq!(
        employers(&server, &a, json!({ "romeCodes": ["g1602", "M1607"] })).await,
        ["Restaurant L'Escale"]
    );
    assert!(
        employers(&server, &a, json!({ "romeCodes": ["K2204"] }))
            .await
            .is_empty()
    );

    // Visited by my structure: B's visit counts for B, not for A.
    let answer = gql(
        &server,
        Some(&b),
        "mutation($e: ID!) { employerVisitLog(input: { employerId: $e, purpose: PROSPECTION,
            observations: \"Accueil chaleureux\" }) { employer { id } } }",
        json!({ "e": boulangerie }),
    )
    .await;
    assert!(answer["errors"].is_null(), "{answer}");
    assert_eq!(
        employers(&server, &b, json!({ "visitedByMyStructure": true })).await,
        ["Boulangerie du Port"]
    );
    assert!(
        employers(&server, &a, json!({ "visitedByMyStructure": true }))
            .await
            .is_empty()
    );
    assert_eq!(
        employers(&server, &a, json!({ "visitedByMyStructure": false }))
            .await
            .len(),
        4
    );
    // Criteria add up.
    assert_eq!(
        employers(
            &server,
            &b,
            json!({ "visitedByMyStructure": true, "naf": "56" })
        )
        .await,
        Vec::<String>::new()
    );
    // No filter at all, as before: every one, by name.
    assert_eq!(
        employers(&server, &a, Value::Null).await,
        [
            "Boulangerie du Port",
            "Crèche Œuvre d'Éveil",
            "Restaurant L'Escale",
            "Épicerie Solidaire"
        ]
    );
}

#[tokio::test]
async fn open_needs_are_searched_by_each_criterion() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, a) = started(&db, &dir).await;

    let nantes = register(
        &server,
        &a,
        &siret("7000000000001"),
        "Cantine de Nantes",
        "56",
        "44109",
    )
    .await
    .unwrap();
    let angers = register(
        &server,
        &a,
        &siret("7000000000002"),
        "Entrepôt d'Angers",
        "52",
        "49007",
    )
    .await
    .unwrap();
    let old_cook = surface(&server, &a, &nantes, &["G1602"], &days_ago(40), "PHONE").await;
    let new_cook = surface(&server, &a, &nantes, &["G1602"], &days_ago(2), "PORTAL").await;
    let picker = surface(&server, &a, &angers, &["N1103"], &days_ago(20), "PHONE").await;
    let formalised = surface(&server, &a, &angers, &["N1103"], &days_ago(10), "PHONE").await;
    let answer = gql(
        &server,
        Some(&a),
        "mutation($n: ID!) { needQualify(input: { needId: $n, description: {
            activities: \"Préparation de commandes\", romeCodes: [\"N1103\"], headcount: 2,
            horizon: NOW, hiringIntent: PLANNED } }) { need { id } } }",
        json!({ "n": formalised }),
    )
    .await;
    assert!(answer["errors"].is_null(), "{answer}");
    let answer = gql(
        &server,
        Some(&a),
        "mutation($n: ID!) { needFormalise(input: { needId: $n, offerReference: \"FT-123\" }) {
            need { id } } }",
        json!({ "n": formalised }),
    )
    .await;
    assert!(answer["errors"].is_null(), "{answer}");

    // Open ones only, newest first.
    assert_eq!(
        needs(&server, &a, Value::Null).await,
        [new_cook.as_str(), picker.as_str(), old_cook.as_str()]
    );
    assert_eq!(
        needs(&server, &a, json!({ "romeCodes": ["G1602"] })).await,
        [new_cook.as_str(), old_cook.as_str()]
    );
    assert_eq!(
        needs(&server, &a, json!({ "romeCodes": ["n1103", "M1607"] })).await,
        [picker.as_str()]
    );
    assert_eq!(
        needs(&server, &a, json!({ "commune": "49007" })).await,
        [picker.as_str()]
    );
    assert_eq!(
        needs(&server, &a, json!({ "departement": "44" })).await,
        [new_cook.as_str(), old_cook.as_str()]
    );
    assert_eq!(
        needs(&server, &a, json!({ "source": "PORTAL" })).await,
        [new_cook.as_str()]
    );
    // Their age: older than a number of days, or surfaced within dates.
    assert_eq!(
        needs(&server, &a, json!({ "olderThanDays": 30 })).await,
        [old_cook.as_str()]
    );
    assert_eq!(
        needs(&server, &a, json!({ "olderThanDays": 5 })).await,
        [picker.as_str(), old_cook.as_str()]
    );
    assert_eq!(
        needs(
            &server,
            &a,
            json!({ "surfacedFrom": days_ago(25), "surfacedTo": days_ago(5) })
        )
        .await,
        [picker.as_str()]
    );
    assert_eq!(
        needs(&server, &a, json!({ "surfacedFrom": days_ago(25) })).await,
        [new_cook.as_str(), picker.as_str()]
    );
    assert_eq!(
        needs(
            &server,
            &a,
            json!({ "surfacedTo": days_ago(25), "romeCodes": ["G1602"] })
        )
        .await,
        [old_cook]
    );
}

#[tokio::test]
async fn pages_are_walked_to_the_end_with_no_row_twice_or_missed() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, a) = started(&db, &dir).await;

    // Some names alike, to show the id breaks ties in the key.
    let mut registered = BTreeSet::new();
    let mut first = None;
    for i in 0..23 {
        let name = if i % 3 == 0 {
            "Atelier".to_owned()
        } else {
            format!("Atelier {i:02}")
        };
        let id = register(
            &server,
            &a,
            &siret(&format!("80000000000{i:02}")),
            &name,
            "10",
            "44109",
        )
        .await
        .unwrap();
        first.get_or_insert(id.clone());
        registered.insert(id);
    }
    // Needs on the same day, so that the id breaks ties there too.
    let employer = first.unwrap();
    let mut surfaced = BTreeSet::new();
    for i in 0..23 {
        let day = days_ago(if i % 2 == 0 { 3 } else { 4 });
        surfaced.insert(surface(&server, &a, &employer, &["G1602"], &day, "PHONE").await);
    }

    for (field, filter_type, expected) in [
        ("employers", "EmployerFilter", &registered),
        ("needs", "NeedFilterInput", &surfaced),
    ] {
        let document = format!(
            "query($after: String, $f: {filter_type}) {{ {field}(first: 10, after: $after, filter: $f) {{
                edges {{ cursor node {{ id }} }} pageInfo {{ hasNextPage endCursor }} }} }}"
        );
        let (mut seen, mut after, mut pages) = (Vec::new(), Value::Null, 0);
        loop {
            let answer = gql(
                &server,
                Some(&a),
                &document,
                json!({ "after": after, "f": { "romeCodes": [] } }),
            )
            .await;
            let page = &answer["data"][field];
            let edges = page["edges"]
                .as_array()
                .unwrap_or_else(|| panic!("{answer}"));
            seen.extend(
                edges
                    .iter()
                    .map(|e| e["node"]["id"].as_str().unwrap().to_owned()),
            );
            pages += 1;
            assert_eq!(
                page["pageInfo"]["endCursor"],
                edges.last().unwrap()["cursor"]
            );
            if page["pageInfo"]["hasNextPage"] == false {
                break;
            }
            assert_eq!(edges.len(), 10, "{field}: a page before the last is full");
            after = page["pageInfo"]["endCursor"].clone();
        }
        assert_eq!(pages, 3, "{field}");
        assert_eq!(seen.len(), 23, "{field}: no row twice");
        assert_eq!(
            &seen.into_iter().collect::<BTreeSet<_>>(),
            expected,
            "{field}: none missed"
        );
    }
}

#[tokio::test]
async fn what_a_search_cannot_take_is_refused_on_its_field_and_only_staff_search() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, a) = started_with_links(&db, &dir).await;
    let employer = register(
        &server,
        &a,
        &siret("9000000000001"),
        "Garage Central",
        "45",
        "44109",
    )
    .await
    .unwrap();

    let long = "a".repeat(201);
    for (field, filter, expected_field, words) in [
        (
            "employers",
            json!({ "naf": "04" }),
            "filter.naf",
            "n'existe pas",
        ),
        (
            "employers",
            json!({ "naf": "cuisine" }),
            "filter.naf",
            "n'existe pas",
        ),
        (
            "employers",
            json!({ "romeCodes": ["Z9999"] }),
            "filter.romeCodes",
            "Le code ROME",
        ),
        (
            "needs",
            json!({ "romeCodes": ["cuisine"] }),
            "filter.romeCodes",
            "Le code ROME",
        ),
        (
            "needs",
            json!({ "romeCodes": vec!["G1602"; 21] }),
            "filter.romeCodes",
            "20 au plus",
        ),
        (
            "employers",
            json!({ "nameOrSiret": long }),
            "filter.nameOrSiret",
            "200 au plus",
        ),
        (
            "employers",
            json!({ "nameContains": long }),
            "filter.nameContains",
            "200 au plus",
        ),
        (
            "employers",
            json!({ "nameOrSiret": "356 000 000 000 480" }),
            "filter.nameOrSiret",
            "un SIRET en a 14",
        ),
        (
            "employers",
            json!({ "commune": "44000" }),
            "filter.commune",
            "est un code postal",
        ),
        (
            "needs",
            json!({ "commune": "99999" }),
            "filter.commune",
            "code INSEE",
        ),
        (
            "employers",
            json!({ "departement": "20" }),
            "filter.departement",
            "n'existe pas",
        ),
        (
            "needs",
            json!({ "departement": "4" }),
            "filter.departement",
            "n'existe pas",
        ),
        (
            "needs",
            json!({ "olderThanDays": -1 }),
            "filter.olderThanDays",
            "va de 0 à 3650",
        ),
        (
            "needs",
            json!({ "olderThanDays": 3651 }),
            "filter.olderThanDays",
            "va de 0 à 3650",
        ),
        (
            "needs",
            json!({ "surfacedFrom": "2026-03-02", "surfacedTo": "2026-03-01" }),
            "filter.surfacedTo",
            "précède son début",
        ),
    ] {
        let filter_type = if field == "employers" {
            "EmployerFilter"
        } else {
            "NeedFilterInput"
        };
        let answer = gql(
            &server,
            Some(&a),
            &format!("query($f: {filter_type}) {{ {field}(filter: $f) {{ edges {{ cursor }} }} }}"),
            json!({ "f": filter }),
        )
        .await;
        let (code, at, message) = error(&answer);
        assert_eq!(code, "BAD_USER_INPUT", "{filter}: {answer}");
        assert_eq!(at, expected_field, "{filter}: {answer}");
        assert!(message.contains(words), "{filter}: {message}");
        assert!(answer["data"].is_null(), "{answer}");
    }
    // A cursor made elsewhere, and a page size out of bounds.
    let answer = gql(
        &server,
        Some(&a),
        "{ needs(after: \"pas-un-curseur\") { edges { cursor } } }",
        Value::Null,
    )
    .await;
    assert_eq!(error(&answer).0, "BAD_USER_INPUT", "{answer}");
    assert_eq!(error(&answer).1, "after", "{answer}");
    let answer = gql(
        &server,
        Some(&a),
        "{ employers(first: 101) { edges { cursor } } }",
        Value::Null,
    )
    .await;
    assert_eq!(error(&answer).1, "first", "{answer}");

    // Staff of any structure search; anonymous, an employer's and a
    // person's sessions search nothing.
    surface(&server, &a, &employer, &["G1602"], &days_ago(1), "PHONE").await;
    create_staff(&db, &dir, "PLIE Nord", "manager", "nora@plie-nord.fr");
    let b = login(&server, "nora@plie-nord.fr").await;
    assert_eq!(
        employers(&server, &b, json!({ "romeCodes": ["G1602"] })).await,
        ["Garage Central"]
    );
    assert_eq!(needs(&server, &b, Value::Null).await.len(), 1);

    let added = gql(
        &server,
        Some(&a),
        "mutation($e: ID!) { employerContactAdd(input: { employerId: $e, name: \"Lucie Bernard\",
            email: \"lucie@garage-central.fr\" }) { employer { id } } }",
        json!({ "e": employer }),
    )
    .await;
    assert!(added["errors"].is_null(), "{added}");
    let contact = link_session(&server, "lucie@garage-central.fr").await;
    enroll(&server, &a, Some("awa@example.org")).await;
    let person = link_session(&server, "awa@example.org").await;

    for (who, token, code) in [
        ("anonymous", None, "UNAUTHENTICATED"),
        ("employer", Some(contact.as_str()), "FORBIDDEN"),
        ("person", Some(person.as_str()), "FORBIDDEN"),
    ] {
        for document in [
            "{ employers(filter: { romeCodes: [\"G1602\"] }) { edges { node { id name } } } }",
            "{ needs { edges { node { id activities } } } }",
        ] {
            let answer = gql(&server, token, document, Value::Null).await;
            assert_eq!(error(&answer).0, code, "{who}: {answer}");
            assert!(answer["data"].is_null(), "{who}: {answer}");
        }
    }
}
