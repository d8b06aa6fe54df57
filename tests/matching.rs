//! Matching over HTTP: a person's open needs and employers nearest first
//! with why each fits, their peers of the same structure with their
//! testimonies as they stand now, and a need's people of the viewer's
//! structure only.

mod common;

use common::*;
use passerelle_store::testkit::TestDb;
use serde_json::{Value, json};

async fn ok(server: &Server, token: &str, query: &str, variables: Value) -> Value {
    let answer = gql(server, Some(token), query, variables).await;
    assert!(answer["errors"].is_null(), "{query}: {answer}");
    answer["data"].clone()
}

/// An employer in `commune` with one open need for `code`: (employer, need).
async fn need_at(
    server: &Server,
    token: &str,
    n: u32,
    commune: &str,
    code: &str,
) -> (Value, Value) {
    let employer = ok(
        server,
        token,
        "mutation($s: String!, $n: String!, $c: String!) { employerRegister(input: {
            siret: $s, name: $n, naf: \"47\", commune: $c }) { employer { id } } }",
        json!({ "s": siret(n), "n": format!("Commerce {n}"), "c": commune }),
    )
    .await["employerRegister"]["employer"]["id"]
        .clone();
    let need = ok(
        server,
        token,
        "mutation($e: ID!, $r: String!) { needSurface(input: { employerId: $e,
            source: { kind: PHONE }, description: { activities: \"Vente\", romeCodes: [$r],
            horizon: NOW, hiringIntent: POSSIBLE } }) { need { id } } }",
        json!({ "e": employer, "r": code }),
    )
    .await["needSurface"]["need"]["id"]
        .clone();
    (employer, need)
}

/// Someone enrolled in Nantes with a project for `code`: their id.
async fn with_project(
    server: &Server,
    token: &str,
    first: &str,
    email: Option<&str>,
    code: &str,
) -> Value {
    let person = ok(
        server,
        token,
        "mutation($f: String!, $m: String) { personEnroll(input: { firstName: $f,
            lastName: \"Lefèvre\", birthDate: \"1990-03-04\", commune: \"44109\", email: $m }) {
            person { id } } }",
        json!({ "f": first, "m": email }),
    )
    .await["personEnroll"]["person"]["id"]
        .clone();
    ok(
        server,
        token,
        "mutation($p: ID!, $r: String!) { projectState(input: { personId: $p,
            project: { targetRomeCodes: [$r] } }) { person { id } } }",
        json!({ "p": person, "r": code }),
    )
    .await;
    person
}

async fn consent(server: &Server, token: &str, person: &Value, purpose: &str, give: bool) {
    let query = if give {
        "mutation($p: ID!, $c: ConsentPurpose!) { consentGive(input: { personId: $p,
            purpose: $c, textVersion: \"v1\", signedForm: true }) { person { id } } }"
    } else {
        "mutation($p: ID!, $c: ConsentPurpose!) { consentWithdraw(input: { personId: $p,
            purpose: $c }) { person { id } } }"
    };
    ok(server, token, query, json!({ "p": person, "c": purpose })).await;
}

async fn exit(server: &Server, token: &str, person: &Value) {
    ok(
        server,
        token,
        "mutation($p: ID!) { personExit(input: { personId: $p, reason: TRAINING }) {
            person { id } } }",
        json!({ "p": person }),
    )
    .await;
}

/// Every edge of a person's connection `field`, page after page of `first`,
/// checking that the pages chain.
async fn all(server: &Server, token: &str, person: &Value, field: &str, node: &str) -> Vec<Value> {
    let query = format!(
        "query($p: ID!, $after: String) {{ person(id: $p) {{
            {field}(first: 2, after: $after) {{ edges {{ cursor node {{ {node} }} }}
            pageInfo {{ hasNextPage endCursor }} }} }} }}"
    );
    let mut nodes = Vec::new();
    let mut after = Value::Null;
    loop {
        let page = ok(
            server,
            token,
            &query,
            json!({ "p": person, "after": after }),
        )
        .await;
        let list = &page["person"][field];
        let edges = list["edges"].as_array().unwrap_or_else(|| panic!("{page}"));
        assert!(edges.len() <= 2, "{page}");
        // A list of people's cursor holds ids or a position, no name: at
        // most a level and an id (51 characters once encoded).
        if field == "peers" || field == "possibleMentors" {
            for edge in edges {
                let cursor = edge["cursor"].as_str().unwrap();
                assert!(cursor.len() <= 51, "{field}: {cursor}");
            }
        }
        nodes.extend(edges.iter().map(|e| e["node"].clone()));
        if list["pageInfo"]["hasNextPage"] != true {
            return nodes;
        }
        assert_eq!(
            list["pageInfo"]["endCursor"],
            edges.last().unwrap()["cursor"]
        );
        after = list["pageInfo"]["endCursor"].clone();
    }
}

const PEER: &str = "firstName romeMatch testimonies { account romeCodes audience }";

#[tokio::test]
async fn matching_needs_employers_peers_and_people() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, a) = started_with_links(&db, &dir).await;
    create_user(&db, &dir, "PLIE Nord", "lea@plie-nord.fr");
    let b = login(&server, "lea@plie-nord.fr").await;

    // Open needs around Nantes, and one of another job.
    let (e_nantes, n_nantes) = need_at(&server, &a, 1, "44109", "D1102").await;
    let (e_herblain, n_herblain) = need_at(&server, &a, 2, "44162", "D1101").await;
    let (e_angers, n_angers) = need_at(&server, &a, 3, "49007", "D1102").await;
    let (e_rennes, n_rennes) = need_at(&server, &a, 4, "35238", "D1102").await;
    let (e_other, n_other) = need_at(&server, &a, 5, "44109", "A1101").await;

    let awa = with_project(&server, &a, "Awa", Some("awa@exemple.fr"), "D1102").await;

    // Nearest first, then exact codes, then newest; each with why.
    let needs = all(
        &server,
        &a,
        &awa,
        "matchingNeeds",
        "needId employerId romeMatch proximity",
    )
    .await;
    let seen: Vec<(Value, &str, &str)> = needs
        .iter()
        .map(|n| {
            (
                n["needId"].clone(),
                n["romeMatch"].as_str().unwrap(),
                n["proximity"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            (n_nantes.clone(), "EXACT", "SAME_COMMUNE"),
            (n_herblain.clone(), "SAME_DOMAIN", "SAME_DEPARTEMENT"),
            (n_angers.clone(), "EXACT", "SAME_REGION"),
            (n_rennes.clone(), "EXACT", "FARTHER"),
        ]
    );
    assert!(!needs.iter().any(|n| n["needId"] == n_other));

    let employers = all(
        &server,
        &a,
        &awa,
        "matchingEmployers",
        "employerId byOpenNeed byHosting romeMatch proximity",
    )
    .await;
    let ids: Vec<&Value> = employers.iter().map(|e| &e["employerId"]).collect();
    assert_eq!(ids, vec![&e_nantes, &e_herblain, &e_angers, &e_rennes]);
    assert!(!ids.contains(&&e_other));
    assert_eq!(employers[1]["romeMatch"], "SAME_DOMAIN");
    assert_eq!(employers[0]["byOpenNeed"], true);
    assert_eq!(employers[0]["byHosting"], false);

    // Peers: a former participant of the structure who consents and
    // testified…
    let ines = with_project(&server, &a, "Inès", None, "D1101").await;
    consent(&server, &a, &ines, "TESTIMONY", true).await;
    consent(&server, &a, &ines, "PEER_CONTACT", true).await;
    let testimony = ok(
        &server,
        &a,
        "mutation($p: ID!) { testimonyRecord(input: { personId: $p,
            account: \"De la caisse à la boulangerie\", romeCodes: [\"D1101\"],
            audience: OWN_STRUCTURE_MEDIATORS }) { testimonyId } }",
        json!({ "p": ines }),
    )
    .await["testimonyRecord"]["testimonyId"]
        .clone();
    exit(&server, &a, &ines).await;
    // …one of the structure who did not consent…
    let silent = with_project(&server, &a, "Karim", None, "D1102").await;
    exit(&server, &a, &silent).await;
    // …and one of another structure with the same path, who consents.
    let elsewhere = with_project(&server, &b, "Zoé", None, "D1102").await;
    consent(&server, &b, &elsewhere, "TESTIMONY", true).await;
    consent(&server, &b, &elsewhere, "PEER_CONTACT", true).await;
    exit(&server, &b, &elsewhere).await;

    let peers = all(&server, &a, &awa, "peers", PEER).await;
    assert_eq!(
        peers,
        vec![
            json!({ "firstName": "Inès", "romeMatch": "SAME_DOMAIN", "testimonies": [
            { "account": "De la caisse à la boulangerie", "romeCodes": ["D1101"],
              "audience": "OWN_STRUCTURE_MEDIATORS" }] })
        ]
    );
    // No last name or contact on a peer.
    let asked = gql(
        &server,
        Some(&a),
        "query($p: ID!) { person(id: $p) { peers { edges { node { lastName } } } } }",
        json!({ "p": awa }),
    )
    .await;
    assert!(asked["errors"].is_array(), "{asked}");

    // A withdrawn testimony is gone at once; the peer stays while their
    // consent to meet peers holds; a withdrawn consent takes them out.
    ok(
        &server,
        &a,
        "mutation($t: ID!) { testimonyWithdraw(input: { testimonyId: $t }) { testimonyId } }",
        json!({ "t": testimony }),
    )
    .await;
    let peers = all(&server, &a, &awa, "peers", PEER).await;
    assert_eq!(peers.len(), 1, "{peers:?}");
    assert_eq!(peers[0]["testimonies"], json!([]));
    consent(&server, &a, &ines, "TESTIMONY", false).await;
    consent(&server, &a, &ines, "PEER_CONTACT", false).await;
    assert_eq!(
        all(&server, &a, &awa, "peers", PEER).await,
        Vec::<Value>::new()
    );

    // A need's people: the viewer's structure's, exact codes first.
    let tom = with_project(&server, &a, "Tom", None, "D1101").await;
    let yann = with_project(&server, &b, "Yann", None, "D1102").await;
    let people_of = "query($n: ID!) { need(id: $n) { matchingPeople(first: 10) {
        edges { node { personId firstName romeMatch } } } } }";
    let ours = ok(&server, &a, people_of, json!({ "n": n_nantes })).await;
    let ours: Vec<(Value, Value)> = ours["need"]["matchingPeople"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["node"]["personId"].clone(),
                e["node"]["romeMatch"].clone(),
            )
        })
        .collect();
    assert_eq!(
        ours,
        vec![
            (awa.clone(), json!("EXACT")),
            (tom.clone(), json!("SAME_DOMAIN"))
        ]
    );
    let theirs = ok(&server, &b, people_of, json!({ "n": n_nantes })).await;
    let theirs: Vec<&Value> = theirs["need"]["matchingPeople"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["node"]["personId"])
        .collect();
    assert_eq!(theirs, vec![&yann]);

    // Possible mentors: those who mentored someone of the structure whose
    // project fits, by the name recorded; not another structure's, nor a
    // mentor of another job.
    let mentor = "mutation($p: ID!, $m: String!, $j: String) { mentorshipStart(input: {
        personId: $p, mentor: $m, mentorJob: $j }) { person { id } } }";
    let mentee = with_project(&server, &a, "Léa", None, "D1101").await;
    consent(&server, &a, &mentee, "MENTORING", true).await;
    ok(
        &server,
        &a,
        mentor,
        json!({ "p": mentee, "m": "Sophie Marchand", "j": "D1106" }),
    )
    .await;
    let off_path = with_project(&server, &a, "Hugo", None, "A1101").await;
    consent(&server, &a, &off_path, "MENTORING", true).await;
    ok(
        &server,
        &a,
        mentor,
        json!({ "p": off_path, "m": "Marc Ferme", "j": null }),
    )
    .await;
    let theirs = with_project(&server, &b, "Noé", None, "D1102").await;
    consent(&server, &b, &theirs, "MENTORING", true).await;
    ok(
        &server,
        &b,
        mentor,
        json!({ "p": theirs, "m": "Paul Autre", "j": null }),
    )
    .await;
    assert_eq!(
        all(
            &server,
            &a,
            &awa,
            "possibleMentors",
            "name mentorJob romeMatch"
        )
        .await,
        vec![
            json!({ "name": "Sophie Marchand", "mentorJob": "D1106", "romeMatch": "SAME_DOMAIN" })
        ]
    );
    // Léa withdraws her consent to mentoring: her mentor is no longer
    // proposed from her record, at once; given again, she is.
    consent(&server, &a, &mentee, "MENTORING", false).await;
    assert_eq!(
        all(&server, &a, &awa, "possibleMentors", "name").await,
        Vec::<Value>::new(),
        "withdrawn"
    );
    consent(&server, &a, &mentee, "MENTORING", true).await;
    assert_eq!(
        all(&server, &a, &awa, "possibleMentors", "name").await,
        vec![json!({ "name": "Sophie Marchand" })]
    );

    // The person herself, by a link: her matching is for her mediators.
    let asked = gql(
        &server,
        None,
        "mutation { magicLinkRequest(input: { email: \"awa@exemple.fr\" }) { sent } }",
        json!({}),
    )
    .await;
    assert_eq!(asked["data"]["magicLinkRequest"]["sent"], true, "{asked}");
    let session = redeem(&server, &next_link(&server, 0).await).await;
    let her = session["data"]["magicLinkRedeem"]["token"]
        .as_str()
        .unwrap_or_else(|| panic!("{session}"))
        .to_owned();
    let own = ok(
        &server,
        &her,
        "query($p: ID!) { person(id: $p) { id matchingNeeds { edges { cursor } }
            matchingEmployers { edges { cursor } } peers { edges { cursor } }
            possibleMentors { edges { cursor } } } }",
        json!({ "p": awa }),
    )
    .await;
    assert_eq!(own["person"]["id"], awa, "{own}");
    for field in [
        "matchingNeeds",
        "matchingEmployers",
        "peers",
        "possibleMentors",
    ] {
        assert_eq!(own["person"][field]["edges"], json!([]), "{field}");
    }

    // Bounded inputs, refused on their field.
    for (args, field) in [("first: 0", "first"), ("after: \"%%\"", "after")] {
        let answer = gql(
            &server,
            Some(&a),
            &format!("query($p: ID!) {{ person(id: $p) {{ matchingNeeds({args}) {{ edges {{ cursor }} }} }} }}"),
            json!({ "p": awa }),
        )
        .await;
        let (code, on, message) = error(&answer);
        assert_eq!(
            (code.as_str(), on.as_str()),
            ("BAD_USER_INPUT", field),
            "{message}"
        );
    }
}

/// A peer meeting names only a testimony the viewer reads now: a made-up
/// id, another structure's testimony or a withdrawn one are refused on
/// `testimonyId` with the same words, so the answer tells none apart.
#[tokio::test]
async fn a_peer_meeting_names_only_a_testimony_the_viewer_reads() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, a) = started_with_links(&db, &dir).await;
    create_user(&db, &dir, "PLIE Nord", "lea@plie-nord.fr");
    let b = login(&server, "lea@plie-nord.fr").await;
    let record = "mutation($p: ID!) { testimonyRecord(input: { personId: $p,
        account: \"De la caisse à la boulangerie\", romeCodes: [\"D1101\"],
        audience: OWN_STRUCTURE_MEDIATORS }) { testimonyId } }";

    let awa = with_project(&server, &a, "Awa", None, "D1102").await;
    let ines = with_project(&server, &a, "Inès", None, "D1101").await;
    consent(&server, &a, &ines, "TESTIMONY", true).await;
    let ours =
        ok(&server, &a, record, json!({ "p": ines })).await["testimonyRecord"]["testimonyId"]
            .clone();
    let zoe = with_project(&server, &b, "Zoé", None, "D1101").await;
    consent(&server, &b, &zoe, "TESTIMONY", true).await;
    let theirs =
        ok(&server, &b, record, json!({ "p": zoe })).await["testimonyRecord"]["testimonyId"]
            .clone();
    let withdrawn =
        ok(&server, &a, record, json!({ "p": ines })).await["testimonyRecord"]["testimonyId"]
            .clone();
    ok(
        &server,
        &a,
        "mutation($t: ID!) { testimonyWithdraw(input: { testimonyId: $t }) { testimonyId } }",
        json!({ "t": withdrawn }),
    )
    .await;

    let meeting = "mutation($p: ID!, $t: ID) { peerMeetingLog(input: { personId: $p,
        peer: \"Une boulangère\", romeCodes: [\"D1101\"], testimonyId: $t }) { meetingId } }";
    for refused in [
        json!("0b9f3a52-5d1c-4c52-9d55-2f6f1c0a7e41"),
        json!("pas-un-identifiant"),
        theirs,
        withdrawn,
    ] {
        let answer = gql(
            &server,
            Some(&a),
            meeting,
            json!({ "p": awa, "t": refused }),
        )
        .await;
        let error = &answer["errors"][0];
        assert_eq!(
            error["extensions"]["code"], "BAD_USER_INPUT",
            "{refused}: {answer}"
        );
        assert_eq!(error["extensions"]["field"], "testimonyId", "{answer}");
        assert_eq!(
            error["message"], "Ce témoignage n'existe pas ou n'est plus lisible.",
            "{answer}"
        );
    }
    // The structure's own testimony, current, is named.
    ok(&server, &a, meeting, json!({ "p": awa, "t": ours })).await;
    ok(&server, &a, meeting, json!({ "p": awa, "t": null })).await;
}
