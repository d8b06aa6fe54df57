//! The GraphQL API end to end: the binary serving `/graphql` over HTTP
//! against a real PostgreSQL, staff accounts created by `passerelle users
//! create`, sessions by bearer token.

mod common;

use common::*;
use passerelle_store::testkit::TestDb;
use serde_json::{Value, json};

#[tokio::test]
async fn a_mediator_works_through_the_api_and_another_structure_learns_nothing() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let server = Server::start(|cmd| {
        cmd.env("DATABASE_URL", db.url())
            .env("PASSERELLE_DATA_DIR", dir.path())
            .env("PASSERELLE_API__MAX_DEPTH", "4")
            .env("PASSERELLE_API__MAX_COMPLEXITY", "60");
    });
    wait_for_status(&server, "/ready", 200).await;
    create_user(
        &db,
        &dir,
        "Mission locale de Nantes",
        "camille@ml-nantes.fr",
    );
    create_user(&db, &dir, "PLIE Nord", "lea@plie-nord.fr");

    // Nothing without a session.
    let answer = gql(
        &server,
        None,
        "{ employers { edges { cursor } } }",
        json!({}),
    )
    .await;
    assert_eq!(error(&answer).0, "UNAUTHENTICATED", "{answer}");
    let wrong = gql(
        &server,
        None,
        r#"mutation { login(input: { email: "camille@ml-nantes.fr", password: "nope, wrong" }) { token } }"#,
        json!({}),
    )
    .await;
    assert_eq!(error(&wrong).0, "UNAUTHENTICATED", "{wrong}");
    let token = login(&server, "camille@ml-nantes.fr").await;
    let me = gql(
        &server,
        Some(&token),
        "{ me { role structureName } }",
        json!({}),
    )
    .await;
    assert_eq!(
        me["data"]["me"]["structureName"],
        "Mission locale de Nantes"
    );
    assert_eq!(me["data"]["me"]["role"], "MEDIATOR");

    // A SIRET that fails its check: a clear error on the field, nothing appended.
    let register = "mutation($input: EmployerRegisterInput!) {
        employerRegister(input: $input) { employer { id siret name communeName nafLabel } }
    }";
    let bad = gql(
        &server,
        Some(&token),
        register,
        json!({ "input": { "siret": "732 829 320 00075", "name": "Boulangerie du Port",
                           "naf": "10.71C", "commune": "44109" } }),
    )
    .await;
    let (code, field, message) = error(&bad);
    assert_eq!(
        (code.as_str(), field.as_str()),
        ("BAD_USER_INPUT", "siret"),
        "{bad}"
    );
    assert!(message.contains("732 829 320 00075"), "{message}");
    assert_eq!(events(&db).await, 0);

    // The same commandId twice: one employer, one event.
    let command_id = "0190c7a4-8f1e-7c2a-9d3b-4e5f6a7b8c9d";
    let input = json!({ "input": { "commandId": command_id, "siret": "732 829 320 00074",
                                   "name": "Boulangerie du Port", "naf": "10.71C",
                                   "commune": "44109" } });
    let first = gql(&server, Some(&token), register, input.clone()).await;
    let again = gql(&server, Some(&token), register, input).await;
    assert_eq!(first["data"], again["data"], "{again}");
    let employer = &first["data"]["employerRegister"]["employer"];
    assert_eq!(employer["communeName"], "Nantes");
    let employer_id = employer["id"].as_str().unwrap().to_owned();
    assert_eq!(events(&db).await, 1);

    let visit = gql(
        &server,
        Some(&token),
        "mutation($id: ID!) {
            employerVisitLog(input: { employerId: $id, purpose: PROSPECTION,
                                      observations: \"Deux départs en retraite\" }) {
                employer { visitCount visits { id purpose } }
            }
        }",
        json!({ "id": employer_id }),
    )
    .await;
    let logged = &visit["data"]["employerVisitLog"]["employer"];
    assert_eq!(logged["visitCount"], 1, "{visit}");
    let visit_id = logged["visits"][0]["id"].as_str().unwrap().to_owned();
    let need = gql(
        &server,
        Some(&token),
        "mutation($employer: ID!, $visit: ID!) {
            needSurface(input: { employerId: $employer, source: { kind: VISIT, visitId: $visit },
                description: { activities: \"Aider au fournil\", horizon: WITHIN_SIX_MONTHS,
                               hiringIntent: POSSIBLE } }) {
                need { status source qualified }
            }
        }",
        json!({ "employer": employer_id, "visit": visit_id }),
    )
    .await;
    assert_eq!(
        need["data"]["needSurface"]["need"]["source"], "visit",
        "{need}"
    );

    // A person, a project, an inquiry, and a readjustment that names it.
    let enrolled = gql(
        &server,
        Some(&token),
        "mutation { personEnroll(input: { firstName: \"Awa\", lastName: \"Diallo\",
                                          birthDate: \"2001-05-12\" }) { person { id ageBand } } }",
        json!({}),
    )
    .await;
    let person = enrolled["data"]["personEnroll"]["person"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{enrolled}"))
        .to_owned();
    let project = "mutation($person: ID!) {
        projectState(input: { personId: $person,
                              project: { targetRomeCodes: [\"D1104\"], mobilityRadiusKm: 20 } }) {
            person { targetRomeCodes }
        }
    }";
    gql(&server, Some(&token), project, json!({ "person": person })).await;
    let inquiry = gql(
        &server,
        Some(&token),
        "mutation($person: ID!) {
            jobInquiryLog(input: { personId: $person, romeCode: \"D1102\",
                                   withWhom: \"Boulangerie du Port\" }) { inquiryId }
        }",
        json!({ "person": person }),
    )
    .await;
    let inquiry_id = inquiry["data"]["jobInquiryLog"]["inquiryId"]
        .as_str()
        .unwrap_or_else(|| panic!("{inquiry}"))
        .to_owned();
    let readjust = "mutation($person: ID!, $cause: ID!, $codes: [String!]!) {
        projectReadjust(input: { personId: $person,
            project: { targetRomeCodes: $codes, mobilityRadiusKm: 20 },
            cause: { kind: JOB_INQUIRY, id: $cause }, whatChanged: \"Le pain plutôt\" }) {
            person { projectVersions { version causeKind causeId }
                     timeline { eventType role } }
        }
    }";
    // The same project again is a rule error on the field, and appends nothing.
    let before = events(&db).await;
    let unchanged = gql(
        &server,
        Some(&token),
        readjust,
        json!({ "person": person, "cause": inquiry_id, "codes": ["D1104"] }),
    )
    .await;
    let (code, field, _) = error(&unchanged);
    assert_eq!(
        (code.as_str(), field.as_str()),
        ("RULE_VIOLATED", "project"),
        "{unchanged}"
    );
    assert_eq!(events(&db).await, before);
    let readjusted = gql(
        &server,
        Some(&token),
        readjust,
        json!({ "person": person, "cause": inquiry_id, "codes": ["D1102", "D1104"] }),
    )
    .await;
    let path = &readjusted["data"]["projectReadjust"]["person"];
    assert_eq!(
        path["projectVersions"][1]["causeKind"], "job_inquiry",
        "{readjusted}"
    );
    assert_eq!(path["projectVersions"][1]["causeId"], inquiry_id.as_str());
    let timeline: Vec<&str> = path["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["eventType"].as_str().unwrap())
        .collect();
    assert_eq!(
        timeline,
        [
            "person_enrolled",
            "project_stated",
            "job_inquiry_held",
            "project_readjusted"
        ]
    );

    // Another structure sees the shared employer but not the person.
    let other = login(&server, "lea@plie-nord.fr").await;
    let shared = gql(
        &server,
        Some(&other),
        "{ employers { edges { node { name visitCount } } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        shared["data"]["employers"]["edges"][0]["node"]["visitCount"], 1,
        "{shared}"
    );
    let hidden = gql(
        &server,
        Some(&other),
        "query($id: ID!) { person(id: $id) { firstName } people { edges { cursor } } }",
        json!({ "id": person }),
    )
    .await;
    assert_eq!(hidden["data"]["person"], Value::Null, "{hidden}");
    assert_eq!(hidden["data"]["people"]["edges"], json!([]));
    let before = events(&db).await;
    let refused = gql(&server, Some(&other), project, json!({ "person": person })).await;
    assert_eq!(error(&refused).0, "NOT_FOUND", "{refused}");
    let absent = gql(
        &server,
        Some(&other),
        project,
        json!({ "person": "0190c7a4-0000-7000-8000-000000000000" }),
    )
    .await;
    assert_eq!(
        error(&absent).2,
        error(&refused).2,
        "same answer as for nobody"
    );
    assert_eq!(events(&db).await, before);

    // Too deep for this server's limit of 4.
    let deep = gql(
        &server,
        Some(&token),
        "{ employers { edges { node { visits { id } } } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        deep["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{deep}"
    );
    assert_eq!(deep["errors"][0]["extensions"]["limit"], "depth", "{deep}");
    assert!(
        deep["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("4 au plus"),
        "{deep}"
    );

    // Too complex for this server's limit of 60.
    let wide: String = (0..40).map(|i| format!("m{i}: me {{ email }} ")).collect();
    let complex = gql(&server, Some(&token), &format!("{{ {wide} }}"), json!({})).await;
    assert_eq!(
        complex["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{complex}"
    );
    assert_eq!(
        complex["errors"][0]["extensions"]["limit"], "complexity",
        "{complex}"
    );
    assert!(
        complex["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("trop complexe"),
        "{complex}"
    );

    // Logged out, the token opens nothing.
    let out = gql(
        &server,
        Some(&token),
        "mutation { logout { loggedOut } }",
        json!({}),
    )
    .await;
    assert_eq!(
        out["data"]["logout"]["loggedOut"],
        true,
        "{out} {:?}",
        server.logged("ERROR")
    );
    let me = gql(&server, Some(&token), "{ me { email } }", json!({})).await;
    assert_eq!(me["data"]["me"], Value::Null);

    assert!(server.terminate().success());
}

/// A convention for a one-day immersion today: the server's clock is the
/// real one, and a convention is validated no later than its first day and
/// completed no earlier than its last.

#[tokio::test]
async fn the_immersion_journey_through_the_api() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let server = Server::start(|cmd| {
        cmd.env("DATABASE_URL", db.url())
            .env("PASSERELLE_DATA_DIR", dir.path());
    });
    wait_for_status(&server, "/ready", 200).await;
    create_user(
        &db,
        &dir,
        "Mission locale de Nantes",
        "camille@ml-nantes.fr",
    );
    let token = login(&server, "camille@ml-nantes.fr").await;
    let t = Some(token.as_str());
    let employer = gql(
        &server,
        t,
        "mutation { employerRegister(input: { siret: \"73282932000074\", name: \"Boulangerie du Port\",
                                              naf: \"10\", commune: \"44109\" }) { employer { id } } }",
        json!({}),
    )
    .await["data"]["employerRegister"]["employer"]["id"]
        .clone();
    let person = gql(
        &server,
        t,
        "mutation { personEnroll(input: { firstName: \"Awa\", lastName: \"Diallo\",
                                          birthDate: \"2001-05-12\" }) { person { id enrolledOn } } }",
        json!({}),
    )
    .await["data"]["personEnroll"]["person"]
        .clone();
    let today = person["enrolledOn"].as_str().unwrap().to_owned();
    let person = person["id"].clone();
    gql(
        &server,
        t,
        "mutation($p: ID!) { projectState(input: { personId: $p,
            project: { targetRomeCodes: [\"D1104\"] } }) { person { id } } }",
        json!({ "p": person }),
    )
    .await;
    let proposed = gql(
        &server,
        t,
        "mutation($p: ID!, $e: ID!) { immersionPropose(input: { personId: $p, employerId: $e,
            objective: DISCOVER_JOB_OR_SECTOR }) { immersion { id stage } } }",
        json!({ "p": person, "e": employer }),
    )
    .await;
    let immersion = proposed["data"]["immersionPropose"]["immersion"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{proposed}"))
        .to_owned();
    let step = |query: &'static str, variables: Value| {
        let (server, t) = (&server, t);
        async move {
            let answer = gql(server, t, query, variables).await;
            assert!(answer["errors"].is_null(), "{query}: {answer}");
            answer
        }
    };
    for by in ["PERSON", "EMPLOYER"] {
        step(
            "mutation($i: ID!, $by: Party!) { immersionAccept(input: { immersionId: $i, by: $by }) { immersion { stage } } }",
            json!({ "i": immersion, "by": by }),
        )
        .await;
    }
    let draft = "mutation($i: ID!, $c: ConventionInput!) {
        conventionDraft(input: { immersionId: $i, convention: $c }) {
            immersion { stage missingSignatures days }
        }
    }";
    // 49 hours a week: refused on the field, with the law's words.
    let refused = gql(
        &server,
        t,
        draft,
        json!({ "i": immersion, "c": convention(&today, 49.0) }),
    )
    .await;
    let (code, field, message) = error(&refused);
    assert_eq!(
        (code.as_str(), field.as_str()),
        ("RULE_VIOLATED", "convention.weeklyHours"),
        "{refused}"
    );
    assert!(message.contains("48 heures"), "{message}");
    let drafted = step(
        draft,
        json!({ "i": immersion, "c": convention(&today, 35.0) }),
    )
    .await;
    assert_eq!(
        drafted["data"]["conventionDraft"]["immersion"]["missingSignatures"],
        json!(["PERSON", "HOST", "PRESCRIBER"])
    );
    let validate = "mutation($i: ID!) { conventionValidate(input: { immersionId: $i }) { immersion { stage } } }";
    let early = gql(&server, t, validate, json!({ "i": immersion })).await;
    assert_eq!(error(&early).0, "RULE_VIOLATED", "{early}");
    assert_eq!(error(&early).1, "signatures");
    for signatory in ["PERSON", "HOST", "PRESCRIBER"] {
        step(
            "mutation($i: ID!, $s: Signatory!) { conventionSign(input: { immersionId: $i, signatory: $s }) { immersion { stage } } }",
            json!({ "i": immersion, "s": signatory }),
        )
        .await;
    }
    step(validate, json!({ "i": immersion })).await;
    step(
        "mutation($i: ID!) { immersionStart(input: { immersionId: $i }) { immersion { stage } } }",
        json!({ "i": immersion }),
    )
    .await;
    step(
        "mutation($i: ID!) { immersionComplete(input: { immersionId: $i }) { immersion { stage } } }",
        json!({ "i": immersion }),
    )
    .await;
    step(
        "mutation($i: ID!) { feedbackRecord(input: { immersionId: $i, host: {
            attendance: COMPLETED, goalsReached: true, hiring: ALTERNANCE,
            receivedByOtherMeans: true } }) { immersion { feedbackFrom } } }",
        json!({ "i": immersion }),
    )
    .await;
    step(
        "mutation($i: ID!) { feedbackRecord(input: { immersionId: $i, person: {
            words: \"J'ai aimé le fournil\", countersigns: true } }) { immersion { feedbackFrom } } }",
        json!({ "i": immersion }),
    )
    .await;
    let outcome = step(
        "mutation($i: ID!) { outcomeRecord(input: { immersionId: $i, milestone: END,
            outcome: HIRED, contract: ALTERNANCE }) { immersion { stage days feedbackFrom outcomes } } }",
        json!({ "i": immersion }),
    )
    .await;
    assert_eq!(
        outcome["data"]["outcomeRecord"]["immersion"],
        json!({ "stage": "completed", "days": 1, "feedbackFrom": ["HOST", "PERSON"], "outcomes": ["END"] })
    );
    let readjusted = step(
        "mutation($p: ID!, $i: ID!) { projectReadjust(input: { personId: $p,
            project: { targetRomeCodes: [\"D1102\"] },
            cause: { kind: IMMERSION_FEEDBACK, id: $i }, whatChanged: \"Le pain, en alternance\" }) {
            person { projectVersions { causeKind } timeline { eventType role } } } }",
        json!({ "p": person, "i": immersion }),
    )
    .await;
    let path = &readjusted["data"]["projectReadjust"]["person"];
    assert_eq!(
        path["projectVersions"][1]["causeKind"],
        "immersion_feedback"
    );
    let timeline: Vec<&str> = path["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["eventType"].as_str().unwrap())
        .collect();
    assert_eq!(
        timeline,
        [
            "person_enrolled",
            "project_stated",
            "immersion_proposed",
            "proposal_accepted_by_person",
            "proposal_accepted_by_employer",
            "convention_drafted",
            "convention_signed",
            "convention_signed",
            "convention_signed",
            "convention_validated",
            "immersion_started",
            "immersion_completed",
            "feedback_recorded",
            "feedback_recorded",
            "outcome_recorded",
            "project_readjusted",
        ]
    );
    let listed = step(
        "{ immersions(filter: { stage: \"completed\" }) { edges { node { id } } pageInfo { hasNextPage } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        listed["data"]["immersions"]["edges"][0]["node"]["id"],
        immersion.as_str()
    );
    assert!(server.terminate().success());
}

#[tokio::test]
async fn employers_and_people_act_on_their_own_immersions_by_magic_link() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, staff) = started_with_links(&db, &dir).await;
    let s = Some(staff.as_str());
    let employer =
        register_employer(&server, &staff, "73282932000074", "Boulangerie du Port").await;
    let other = register_employer(&server, &staff, "44306184100047", "Garage Central").await;
    let contact = gql(
        &server,
        s,
        "mutation($e: ID!) { employerContactAdd(input: { employerId: $e, name: \"Lucie Bernard\",
            email: \"Lucie@Boulangerie-du-port.fr\" }) { employer { id } } }",
        json!({ "e": employer }),
    )
    .await;
    assert!(contact["errors"].is_null(), "{contact}");
    let person = enroll(&server, &staff, Some("awa@exemple.fr")).await;
    let immersion = propose(&server, &staff, &person, &employer).await;

    // The employer asks for a link; an unknown address gets the same answer
    // and no link.
    let request = "mutation($m: String!) { magicLinkRequest(input: { email: $m }) { sent } }";
    let asked = gql(
        &server,
        None,
        request,
        json!({ "m": "lucie@boulangerie-du-port.fr" }),
    )
    .await;
    assert_eq!(asked["data"]["magicLinkRequest"]["sent"], true, "{asked}");
    let link = next_link(&server, 0).await;
    let unknown = gql(
        &server,
        None,
        request,
        json!({ "m": "personne@nulle-part.fr" }),
    )
    .await;
    assert_eq!(unknown, asked);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(
        logged_links(&server).len(),
        1,
        "no link for an unknown address"
    );
    assert!(
        server.logged("boulangerie-du-port.fr").is_empty(),
        "the address is not logged"
    );
    let session = redeem(&server, &link).await;
    assert_eq!(
        session["data"]["magicLinkRedeem"]["kind"], "EMPLOYER",
        "{session}"
    );
    assert_eq!(session["data"]["magicLinkRedeem"]["id"], employer);
    let again = redeem(&server, &link).await;
    assert_eq!(
        error(&again).0,
        "UNAUTHENTICATED",
        "a link opens once: {again}"
    );
    let boss = session["data"]["magicLinkRedeem"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let b = Some(boss.as_str());

    // The employer reaches its own immersion and establishment, nothing else.
    let seen = gql(
        &server,
        b,
        "query($i: ID!, $e: ID!, $o: ID!) { immersion(id: $i) { stage }
            mine: employer(id: $e) { name } theirs: employer(id: $o) { name } }",
        json!({ "i": immersion, "e": employer, "o": other }),
    )
    .await;
    assert_eq!(seen["data"]["immersion"]["stage"], "proposed", "{seen}");
    assert_eq!(seen["data"]["mine"]["name"], "Boulangerie du Port");
    assert_eq!(seen["data"]["theirs"], Value::Null);
    let answer = gql(&server, b, "{ employers { edges { cursor } } }", json!({})).await;
    assert_eq!(error(&answer).0, "FORBIDDEN", "{answer}");
    // The person proposed to it is out of its reach: answered as absent.
    let answer = gql(
        &server,
        b,
        "query($p: ID!) { person(id: $p) { firstName } }",
        json!({ "p": person }),
    )
    .await;
    assert!(
        answer["errors"].is_null() && answer["data"]["person"].is_null(),
        "{answer}"
    );
    // From the portal, the employer describes a need of its own, and only
    // that: not for another establishment, not as if heard on a visit.
    let surface = "mutation($e: ID!, $k: NeedSourceKind!) { needSurface(input: { employerId: $e,
        source: { kind: $k }, description: { activities: \"Préparer les commandes\",
        horizon: NOW, hiringIntent: POSSIBLE } }) { need { source } } }";
    let before = events(&db).await;
    for (whose, kind) in [
        (&other, "PORTAL"),
        (&employer, "VISIT"),
        (&employer, "PHONE"),
    ] {
        let refused = gql(&server, b, surface, json!({ "e": whose, "k": kind })).await;
        assert_eq!(error(&refused).0, "FORBIDDEN", "{kind}: {refused}");
    }
    assert_eq!(events(&db).await, before, "nothing appended");
    let own = gql(&server, b, surface, json!({ "e": employer, "k": "PORTAL" })).await;
    assert_eq!(
        own["data"]["needSurface"]["need"]["source"], "portal",
        "{own}"
    );

    let answer =
        "mutation($i: ID!, $by: Party!) { immersionAccept(input: { immersionId: $i, by: $by }) {
        immersion { acceptedByPerson acceptedByEmployer } } }";
    let before = events(&db).await;
    let as_person = gql(
        &server,
        b,
        answer,
        json!({ "i": immersion, "by": "PERSON" }),
    )
    .await;
    assert_eq!(error(&as_person).0, "FORBIDDEN", "{as_person}");
    let validate = gql(
        &server,
        b,
        "mutation($i: ID!) { conventionValidate(input: { immersionId: $i }) { immersion { stage } } }",
        json!({ "i": immersion }),
    )
    .await;
    assert_eq!(error(&validate).0, "FORBIDDEN", "{validate}");
    assert_eq!(events(&db).await, before, "refusals append nothing");
    let accepted = gql(
        &server,
        b,
        answer,
        json!({ "i": immersion, "by": "EMPLOYER" }),
    )
    .await;
    assert_eq!(
        accepted["data"]["immersionAccept"]["immersion"]["acceptedByEmployer"], true,
        "{accepted}"
    );

    // The person, by their own link.
    gql(&server, None, request, json!({ "m": "awa@exemple.fr" })).await;
    let awa = redeem(&server, &next_link(&server, 1).await).await;
    assert_eq!(awa["data"]["magicLinkRedeem"]["kind"], "PERSON", "{awa}");
    let awa = awa["data"]["magicLinkRedeem"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let accepted = gql(
        &server,
        Some(&awa),
        answer,
        json!({ "i": immersion, "by": "PERSON" }),
    )
    .await;
    assert_eq!(
        accepted["data"]["immersionAccept"]["immersion"]["acceptedByPerson"], true,
        "{accepted}"
    );
    let mine = gql(
        &server,
        Some(&awa),
        "{ employer(id: \"x\") { name } }",
        json!({}),
    )
    .await;
    assert_eq!(error(&mine).0, "FORBIDDEN", "{mine}");

    // Requests for links are limited per address.
    for _ in 0..5 {
        gql(&server, None, request, json!({ "m": "curieux@exemple.fr" })).await;
    }
    let limited = gql(&server, None, request, json!({ "m": "curieux@exemple.fr" })).await;
    assert_eq!(error(&limited).0, "RATE_LIMITED", "{limited}");
    assert!(server.terminate().success());
}

/// What an operation should give a viewer.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    Ok,
    /// Null data, no error: out of reach reads as absent.
    Absent,
    Code(&'static str),
}

#[tokio::test]
async fn each_role_is_refused_what_it_must_not_do_and_learns_nothing() {
    use Expect::*;
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, staff) = started_with_links(&db, &dir).await;
    create_user(&db, &dir, "PLIE Nord", "lea@plie-nord.fr");
    let elsewhere = login(&server, "lea@plie-nord.fr").await;
    let s = Some(staff.as_str());
    let employer = register_employer(&server, &staff, "73282932000074", "Boulangerie").await;
    gql(
        &server,
        s,
        "mutation($e: ID!) { employerContactAdd(input: { employerId: $e, name: \"Lucie\",
            email: \"lucie@boulangerie.fr\" }) { employer { id } } }",
        json!({ "e": employer }),
    )
    .await;
    let person = enroll(&server, &staff, Some("awa@exemple.fr")).await;
    let immersion = propose(&server, &staff, &person, &employer).await;
    let mut tokens = Vec::new();
    for (n, email) in ["lucie@boulangerie.fr", "awa@exemple.fr"]
        .into_iter()
        .enumerate()
    {
        gql(
            &server,
            None,
            "mutation($m: String!) { magicLinkRequest(input: { email: $m }) { sent } }",
            json!({ "m": email }),
        )
        .await;
        let session = redeem(&server, &next_link(&server, n).await).await;
        tokens.push(
            session["data"]["magicLinkRedeem"]["token"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let (boss, awa) = (tokens[0].clone(), tokens[1].clone());
    let vars = json!({ "e": employer, "p": person, "i": immersion });

    // (operation, for: anonymous, other structure, employer by link, person by link)
    let matrix: Vec<(&str, [Expect; 4])> = vec![
        (
            "{ employers { edges { cursor } } }",
            [
                Code("UNAUTHENTICATED"),
                Ok,
                Code("FORBIDDEN"),
                Code("FORBIDDEN"),
            ],
        ),
        (
            // Out of an employer's reach as of another structure's; the
            // person reads herself.
            "query($p: ID!) { person(id: $p) { firstName } }",
            [Code("UNAUTHENTICATED"), Absent, Absent, Ok],
        ),
        (
            "query($i: ID!) { immersion(id: $i) { stage } }",
            [Code("UNAUTHENTICATED"), Absent, Ok, Ok],
        ),
        (
            "mutation { employerRegister(input: { siret: \"44306184100047\", name: \"Garage\",
                naf: \"45\", commune: \"44109\" }) { employer { id } } }",
            [
                Code("UNAUTHENTICATED"),
                Code("SKIP"),
                Code("FORBIDDEN"),
                Code("FORBIDDEN"),
            ],
        ),
        (
            "mutation($e: ID!) { employerVisitLog(input: { employerId: $e, purpose: PROSPECTION,
                observations: \"Passage\" }) { employer { id } } }",
            [
                Code("UNAUTHENTICATED"),
                Code("SKIP"),
                Code("FORBIDDEN"),
                Code("FORBIDDEN"),
            ],
        ),
        (
            "mutation($p: ID!) { projectState(input: { personId: $p,
                project: { targetRomeCodes: [\"D1102\"] } }) { person { id } } }",
            [
                Code("UNAUTHENTICATED"),
                Code("NOT_FOUND"),
                Code("FORBIDDEN"),
                Code("FORBIDDEN"),
            ],
        ),
        (
            "mutation($p: ID!, $e: ID!) { immersionPropose(input: { personId: $p, employerId: $e,
                objective: DISCOVER_JOB_OR_SECTOR }) { immersion { id } } }",
            [
                Code("UNAUTHENTICATED"),
                Code("NOT_FOUND"),
                Code("FORBIDDEN"),
                Code("FORBIDDEN"),
            ],
        ),
        (
            "mutation($i: ID!) { immersionAccept(input: { immersionId: $i, by: PERSON }) { immersion { id } } }",
            [
                Code("UNAUTHENTICATED"),
                Code("NOT_FOUND"),
                Code("FORBIDDEN"),
                Code("SKIP"),
            ],
        ),
        (
            "mutation($i: ID!) { immersionAccept(input: { immersionId: $i, by: EMPLOYER }) { immersion { id } } }",
            [
                Code("UNAUTHENTICATED"),
                Code("NOT_FOUND"),
                Code("SKIP"),
                Code("FORBIDDEN"),
            ],
        ),
        (
            "mutation($i: ID!) { conventionValidate(input: { immersionId: $i }) { immersion { id } } }",
            [
                Code("UNAUTHENTICATED"),
                Code("NOT_FOUND"),
                Code("FORBIDDEN"),
                Code("FORBIDDEN"),
            ],
        ),
        (
            "mutation($i: ID!) { immersionStart(input: { immersionId: $i }) { immersion { id } } }",
            [
                Code("UNAUTHENTICATED"),
                Code("NOT_FOUND"),
                Code("FORBIDDEN"),
                Code("FORBIDDEN"),
            ],
        ),
        (
            "mutation($i: ID!) { conventionSign(input: { immersionId: $i, signatory: PRESCRIBER }) { immersion { id } } }",
            [
                Code("UNAUTHENTICATED"),
                Code("NOT_FOUND"),
                Code("FORBIDDEN"),
                Code("FORBIDDEN"),
            ],
        ),
        (
            "mutation($i: ID!) { feedbackRecord(input: { immersionId: $i,
                mediator: { notes: \"Bien\", goalsReached: true } }) { immersion { id } } }",
            [
                Code("UNAUTHENTICATED"),
                Code("NOT_FOUND"),
                Code("FORBIDDEN"),
                Code("FORBIDDEN"),
            ],
        ),
        (
            "mutation($i: ID!) { outcomeRecord(input: { immersionId: $i, milestone: END,
                outcome: TRAINING }) { immersion { id } } }",
            [
                Code("UNAUTHENTICATED"),
                Code("NOT_FOUND"),
                Code("FORBIDDEN"),
                Code("FORBIDDEN"),
            ],
        ),
    ];
    let viewers = [
        None,
        Some(elsewhere.as_str()),
        Some(boss.as_str()),
        Some(awa.as_str()),
    ];
    let names = ["anonymous", "other structure", "employer", "person"];
    let before = events(&db).await;
    for (query, expected) in &matrix {
        for ((viewer, name), expect) in viewers.iter().zip(names).zip(expected) {
            if *expect == Code("SKIP") {
                continue;
            }
            let answer = gql(&server, *viewer, query, vars.clone()).await;
            let code = answer["errors"][0]["extensions"]["code"].as_str();
            let all_null = answer["data"]
                .as_object()
                .is_some_and(|d| d.values().all(Value::is_null));
            let as_expected = match expect {
                Ok => code.is_none() && !all_null,
                Absent => code.is_none() && all_null,
                Code(c) => code == Some(*c),
            };
            assert!(
                as_expected,
                "{name}: {query}\nexpected {expect:?}, got {answer}"
            );
            // A refusal names no one and nothing of another structure.
            if *expect != Ok {
                let text = answer.to_string();
                assert!(!text.contains("Awa") && !text.contains("Diallo"), "{text}");
            }
        }
    }
    assert_eq!(events(&db).await, before, "no refusal appended anything");
    assert!(server.terminate().success());
}

#[tokio::test]
async fn an_immersion_is_followed_live_over_a_websocket() {
    use futures::{SinkExt as _, StreamExt as _};
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;

    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, staff) = started(&db, &dir).await;
    let s = Some(staff.as_str());
    let employer = register_employer(&server, &staff, "73282932000074", "Boulangerie").await;
    let person = enroll(&server, &staff, None).await;
    let immersion = propose(&server, &staff, &person, &employer).await;

    let connect = |token: Option<String>| {
        let url = format!("{}/graphql/ws", server.base.replace("http://", "ws://"));
        let immersion = immersion.clone();
        async move {
            let mut request = url.into_client_request().unwrap();
            request.headers_mut().insert(
                "sec-websocket-protocol",
                "graphql-transport-ws".parse().unwrap(),
            );
            let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
            let payload = match token {
                Some(t) => json!({ "authorization": format!("Bearer {t}") }),
                None => json!({}),
            };
            ws.send(Message::Text(
                json!({ "type": "connection_init", "payload": payload })
                    .to_string()
                    .into(),
            ))
            .await
            .unwrap();
            ws.send(Message::Text(
                json!({ "id": "1", "type": "subscribe", "payload": {
                    "query": "subscription($i: ID!) { immersionChanged(id: $i) { stage acceptedByPerson } }",
                    "variables": { "i": immersion } } })
                .to_string()
                .into(),
            ))
            .await
            .unwrap();
            ws
        }
    };
    /// The next message that is not an acknowledgement or a ping.
    async fn next(
        ws: &mut tokio_tungstenite::WebSocketStream<
            tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
        >,
    ) -> Value {
        loop {
            let message = tokio::time::timeout(std::time::Duration::from_secs(10), ws.next())
                .await
                .expect("a message within 10 s")
                .unwrap()
                .unwrap();
            if let Message::Text(text) = message {
                let value: Value = serde_json::from_str(&text).unwrap();
                if !matches!(
                    value["type"].as_str(),
                    Some("connection_ack" | "ping" | "pong")
                ) {
                    return value;
                }
            }
        }
    }

    let mut anonymous = connect(None).await;
    let refused = next(&mut anonymous).await;
    assert_eq!(
        refused["payload"]["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{refused}"
    );

    let mut live = connect(Some(staff.clone())).await;
    // Let the subscription start before the change.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let accepted = gql(
        &server,
        s,
        "mutation($i: ID!) { immersionAccept(input: { immersionId: $i, by: PERSON }) { immersion { id } } }",
        json!({ "i": immersion }),
    )
    .await;
    assert!(accepted["errors"].is_null(), "{accepted}");
    let update = next(&mut live).await;
    assert_eq!(update["type"], "next", "{update}");
    assert_eq!(
        update["payload"]["data"]["immersionChanged"],
        json!({ "stage": "proposed", "acceptedByPerson": true })
    );
    assert!(server.terminate().success());
}

/// Each PMSMP rule on a convention's content, broken through the API: the
/// rule's code, the field to fix and a French message, and nothing appended.
#[tokio::test]
async fn convention_rules_broken_through_the_api_name_the_field_and_append_nothing() {
    let (db, dir) = (TestDb::new().await, data_dir());
    let (server, token) = started(&db, &dir).await;
    let employer =
        register_employer(&server, &token, "73282932000074", "Boulangerie du Port").await;
    let person = enroll(&server, &token, None).await;
    let immersion = propose(&server, &token, &person, &employer).await;
    for by in ["PERSON", "EMPLOYER"] {
        let accepted = gql(
            &server,
            Some(&token),
            "mutation($i: ID!, $by: Party!) { immersionAccept(input: { immersionId: $i, by: $by }) { immersion { stage } } }",
            json!({ "i": immersion, "by": by }),
        )
        .await;
        assert!(accepted["errors"].is_null(), "{accepted}");
    }
    let today = paris_today();
    let start = today + time::Duration::days(10);
    let day = |d: time::Date| d.to_string();
    let base = || {
        let mut c = convention(&day(start), 35.0);
        c["period"]["end"] = json!(day(start + time::Duration::days(4)));
        c
    };
    let years_before = |years: i32| {
        day(start.replace_year(start.year() - years).unwrap() + time::Duration::days(1))
    };
    let broken: Vec<(&str, &str, Value)> = vec![
        ("more than 48 hours a week", "convention.weeklyHours", {
            let mut c = base();
            c["weeklyHours"] = json!(49.0);
            c
        }),
        (
            "more than a month from date to date",
            "convention.period.end",
            {
                let mut c = base();
                c["period"]["end"] = json!(day(start + time::Duration::days(35)));
                c
            },
        ),
        (
            "under 16 on the first day",
            "convention.person.identity.birthDate",
            {
                let mut c = base();
                c["person"]["identity"]["birthDate"] = json!(years_before(16));
                c
            },
        ),
        (
            "a minor without a legal representative",
            "convention.person.legalRepresentative",
            {
                let mut c = base();
                c["person"]["identity"]["birthDate"] = json!(years_before(17));
                c
            },
        ),
        ("the person as their own tutor", "convention.host.tutor", {
            let mut c = base();
            c["host"]["tutor"]["name"] = json!("Diallo Awa");
            c
        }),
        (
            "no attestation that the immersion fills no post",
            "convention.forbiddenUsesExcluded",
            {
                let mut c = base();
                c["forbiddenUsesExcluded"] = json!(false);
                c
            },
        ),
    ];
    let draft = "mutation($i: ID!, $c: ConventionInput!) {
        conventionDraft(input: { immersionId: $i, convention: $c }) { immersion { stage } }
    }";
    let before = events(&db).await;
    for (what, expected, c) in broken {
        let refused = gql(
            &server,
            Some(&token),
            draft,
            json!({ "i": immersion, "c": c }),
        )
        .await;
        let (code, field, message) = error(&refused);
        assert_eq!(code, "RULE_VIOLATED", "{what}: {refused}");
        assert_eq!(field, expected, "{what}");
        assert!(!message.is_empty(), "{what}");
        assert!(
            refused["errors"][0]["extensions"]["rule"]
                .as_str()
                .is_some(),
            "{what}: {refused}"
        );
    }
    assert_eq!(events(&db).await, before, "a refusal appends nothing");
    let drafted = gql(
        &server,
        Some(&token),
        draft,
        json!({ "i": immersion, "c": base() }),
    )
    .await;
    assert!(
        drafted["errors"].is_null(),
        "the same convention, lawful: {drafted}"
    );
}
