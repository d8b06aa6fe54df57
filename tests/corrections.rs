//! Corrections and duplicate warnings over HTTP against the real binary: a
//! person's identity, an establishment's file, a visit and a need corrected
//! as facts with their reason (the list and the search follow, the record
//! says who, when and why), each refused in French on its field when there
//! is nothing to correct or no reason, and out of reach of other
//! structures; an enrolment or a convention that looks like one already
//! there asks for a confirmation, then goes through with it.

mod common;

use common::*;
use passerelle_store::testkit::TestDb;
use serde_json::{Value, json};

const CORRECT_PERSON: &str = "mutation($p: ID!, $c: IdentityChangesInput!, $r: String!) {
    personCorrect(input: { personId: $p, changes: $c, reason: $r }) {
        person { id firstName lastName
                 identityCorrections { fields lastName birthDate email reason correctedOn
                                       recorded { by role } } } } }";

const FIND: &str = "query($n: String!) { people(filter: { name: $n }) {
    edges { node { id lastName } } } }";

fn found(answer: &Value) -> Vec<String> {
    answer["data"]["people"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{answer}"))
        .iter()
        .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Asserts a refusal's code and field, with a French message.
fn refused(answer: &Value, code: &str, field: &str) {
    let (c, f, message) = error(answer);
    assert_eq!((c.as_str(), f.as_str()), (code, field), "{answer}");
    assert!(
        !message.is_empty() && !message.contains("Invalid") && !message.contains("expected"),
        "a French message: {message}"
    );
}

#[tokio::test]
async fn a_person_corrected_is_found_by_the_new_name_and_the_record_says_who_and_why() {
    let (db, dir) = (TestDb::new().await, data_dir());
    let (server, token) = started(&db, &dir).await;
    let t = Some(token.as_str());
    let person = enroll(&server, &token, Some("awa@exemple.fr")).await;

    let corrected = gql(
        &server,
        t,
        CORRECT_PERSON,
        json!({ "p": person, "c": { "lastName": "Diallo-Sow", "birthDate": "2001-05-21" },
                "r": "Nom d'usage et date mal recopiés à l'inscription" }),
    )
    .await;
    assert!(corrected["errors"].is_null(), "{corrected}");
    let answer = &corrected["data"]["personCorrect"]["person"];
    assert_eq!(answer["lastName"], "Diallo-Sow");
    let record = &answer["identityCorrections"][0];
    assert_eq!(record["fields"], json!(["LAST_NAME", "BIRTH_DATE"]));
    assert_eq!(record["lastName"], "Diallo-Sow");
    assert_eq!(record["birthDate"], "2001-05-21");
    assert_eq!(record["email"], Value::Null, "a field left alone");
    assert_eq!(
        record["reason"],
        "Nom d'usage et date mal recopiés à l'inscription"
    );
    assert!(
        record["recorded"]["by"]
            .as_str()
            .unwrap()
            .starts_with("user:"),
        "{record}"
    );
    assert_eq!(record["recorded"]["role"], "mediator");

    // The list and its folded search follow the correction.
    for name in ["diallo sow", "SOW", "Awa Diallo-Sow"] {
        let list = gql(&server, t, FIND, json!({ "n": name })).await;
        assert_eq!(found(&list), [person.as_str().unwrap()], "{name}: {list}");
    }

    // Refusals, each on its field, nothing appended.
    let before = events(&db).await;
    let cases = [
        (json!({}), "Une raison", "BAD_USER_INPUT", "changes"),
        (
            json!({ "lastName": "Diallo-Sow" }),
            "Même valeur",
            "RULE_VIOLATED",
            "changes",
        ),
        (
            json!({ "firstName": "Aïssatou" }),
            "",
            "BAD_USER_INPUT",
            "reason",
        ),
        (
            json!({ "email": "pas-une-adresse" }),
            "Coquille",
            "BAD_USER_INPUT",
            "changes.email",
        ),
        (
            json!({ "birthDate": "2150-01-01" }),
            "Coquille",
            "RULE_VIOLATED",
            "changes.birthDate",
        ),
    ];
    for (changes, reason, code, field) in cases {
        let answer = gql(
            &server,
            t,
            CORRECT_PERSON,
            json!({ "p": person, "c": changes, "r": reason }),
        )
        .await;
        refused(&answer, code, field);
    }

    // Another structure's mediator does not reach her.
    create_user(&db, &dir, "PLIE Nord", "lea@plie-nord.fr");
    let other = login(&server, "lea@plie-nord.fr").await;
    let answer = gql(
        &server,
        Some(&other),
        CORRECT_PERSON,
        json!({ "p": person, "c": { "firstName": "Intruse" }, "r": "Essai" }),
    )
    .await;
    assert_eq!(error(&answer).0, "NOT_FOUND", "{answer}");
    assert_eq!(events(&db).await, before, "no refused correction appends");
}

#[tokio::test]
async fn a_person_corrects_their_own_contact_and_address_but_not_their_name() {
    let (db, dir) = (TestDb::new().await, data_dir());
    let (server, token) = started_with_links(&db, &dir).await;
    let person = enroll(&server, &token, Some("awa@exemple.fr")).await;
    let session = link_session(&server, "awa@exemple.fr", 0).await;
    let own = gql(
        &server,
        Some(&session),
        CORRECT_PERSON,
        json!({ "p": person, "c": { "phone": "06 12 34 56 78" }, "r": "Nouveau numéro" }),
    )
    .await;
    assert!(own["errors"].is_null(), "{own}");
    assert_eq!(
        own["data"]["personCorrect"]["person"]["identityCorrections"][0]["recorded"]["role"],
        "person"
    );

    // She moved: her postal address is hers to correct too, read back as
    // her identity and as the correction's record.
    let moved = gql(
        &server,
        Some(&session),
        CORRECT_PERSON,
        json!({ "p": person, "c": { "address": "8 allée des Tilleuls\n44300 Nantes" },
                "r": "J'ai déménagé" }),
    )
    .await;
    assert!(moved["errors"].is_null(), "{moved}");
    let read = gql(
        &server,
        Some(&token),
        "query($p: ID!) { person(id: $p) { identity { address phone }
            identityCorrections { fields address } } }",
        json!({ "p": person }),
    )
    .await;
    let read = &read["data"]["person"];
    assert_eq!(
        read["identity"]["address"], "8 allée des Tilleuls\n44300 Nantes",
        "{read}"
    );
    assert_eq!(read["identity"]["phone"], "+33612345678", "{read}");
    assert_eq!(
        read["identityCorrections"][1],
        json!({ "fields": ["ADDRESS"], "address": "8 allée des Tilleuls\n44300 Nantes" })
    );
    let before = events(&db).await;
    let same = gql(
        &server,
        Some(&session),
        CORRECT_PERSON,
        json!({ "p": person, "c": { "address": "8 allée des Tilleuls\n44300 Nantes" },
                "r": "Encore" }),
    )
    .await;
    refused(&same, "RULE_VIOLATED", "changes");
    let long = gql(
        &server,
        Some(&session),
        CORRECT_PERSON,
        json!({ "p": person, "c": { "address": "a".repeat(10_001) }, "r": "Trop long" }),
    )
    .await;
    refused(&long, "BAD_USER_INPUT", "changes.address");
    assert_eq!(events(&db).await, before, "no refused correction appends");
    let name = gql(
        &server,
        Some(&session),
        CORRECT_PERSON,
        json!({ "p": person, "c": { "firstName": "Aïssatou" }, "r": "Mon vrai prénom" }),
    )
    .await;
    assert_eq!(error(&name).0, "FORBIDDEN", "{name}");
}

#[tokio::test]
async fn an_employer_its_visit_and_a_need_are_corrected_with_a_reason() {
    let (db, dir) = (TestDb::new().await, data_dir());
    let (server, token) = started(&db, &dir).await;
    let t = Some(token.as_str());
    let employer = register_employer(&server, &token, &siret(1), "Boulangerie du Port").await;

    let corrected = gql(
        &server,
        t,
        "mutation($e: ID!) { employerCorrect(input: { employerId: $e,
            changes: { name: \"Boulangerie du Quai\", commune: \"44162\" },
            reason: \"Enseigne changée, établissement à Saint-Herblain\" }) {
            employer { name commune siret } } }",
        json!({ "e": employer }),
    )
    .await;
    assert!(corrected["errors"].is_null(), "{corrected}");
    let answer = &corrected["data"]["employerCorrect"]["employer"];
    assert_eq!(answer["name"], "Boulangerie du Quai");
    assert_eq!(answer["commune"], "44162");
    assert_eq!(answer["siret"], siret(1), "the SIRET stays");
    let search = gql(
        &server,
        t,
        "{ employers(filter: { nameOrSiret: \"quai\" }) { edges { node { id } } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        search["data"]["employers"]["edges"][0]["node"]["id"], employer,
        "{search}"
    );
    // The SIRET is not among what a correction changes.
    let siret_changed = gql(
        &server,
        t,
        "mutation($e: ID!) { employerCorrect(input: { employerId: $e,
            changes: { siret: \"73282932000074\" }, reason: \"Erreur\" }) { employer { id } } }",
        json!({ "e": employer }),
    )
    .await;
    assert_eq!(error(&siret_changed).0, "BAD_USER_INPUT", "{siret_changed}");
    let nothing = gql(
        &server,
        t,
        "mutation($e: ID!) { employerCorrect(input: { employerId: $e,
            changes: { name: \"Boulangerie du Quai\" }, reason: \"Erreur\" }) { employer { id } } }",
        json!({ "e": employer }),
    )
    .await;
    refused(&nothing, "RULE_VIOLATED", "changes");

    // A visit, corrected by the structure that logged it only.
    let logged = gql(
        &server,
        t,
        "mutation($e: ID!) { employerVisitLog(input: { employerId: $e, purpose: PROSPECTION,
            observations: \"Deux départs\" }) { employer { visits { id } } } }",
        json!({ "e": employer }),
    )
    .await;
    let visit = logged["data"]["employerVisitLog"]["employer"]["visits"][0]["id"].clone();
    const CORRECT_VISIT: &str = "mutation($e: ID!, $v: ID!, $c: VisitChangesInput!) {
        employerVisitCorrect(input: { employerId: $e, visitId: $v, changes: $c,
            reason: \"Observations d'une autre visite\" }) {
            employer { visits { id observations purpose } } } }";
    let visit_corrected = gql(
        &server,
        t,
        CORRECT_VISIT,
        json!({ "e": employer, "v": visit,
                "c": { "observations": "Trois départs en retraite", "purpose": "FOLLOW_UP" } }),
    )
    .await;
    assert!(visit_corrected["errors"].is_null(), "{visit_corrected}");
    let shown = &visit_corrected["data"]["employerVisitCorrect"]["employer"]["visits"][0];
    assert_eq!(shown["observations"], "Trois départs en retraite");
    assert_eq!(shown["purpose"], "FOLLOW_UP");
    let future = gql(
        &server,
        t,
        CORRECT_VISIT,
        json!({ "e": employer, "v": visit, "c": { "visitedOn": "2150-01-01" } }),
    )
    .await;
    refused(&future, "RULE_VIOLATED", "changes.visitedOn");
    create_user(&db, &dir, "PLIE Nord", "lea@plie-nord.fr");
    let other = login(&server, "lea@plie-nord.fr").await;
    let before = events(&db).await;
    let elsewhere = gql(
        &server,
        Some(&other),
        CORRECT_VISIT,
        json!({ "e": employer, "v": visit, "c": { "observations": "Réécrit" } }),
    )
    .await;
    assert_eq!(error(&elsewhere).0, "FORBIDDEN", "{elsewhere}");
    assert_eq!(events(&db).await, before);

    // A need's description, corrected whole.
    let surfaced = gql(
        &server,
        t,
        "mutation($e: ID!) { needSurface(input: { employerId: $e, source: { kind: PHONE },
            description: { activities: \"Vente\", horizon: NOW, hiringIntent: POSSIBLE } }) {
            need { id } } }",
        json!({ "e": employer }),
    )
    .await;
    let need = surfaced["data"]["needSurface"]["need"]["id"].clone();
    const CORRECT_NEED: &str = "mutation($n: ID!, $d: NeedDescriptionInput!, $r: String!) {
        needCorrect(input: { needId: $n, description: $d, reason: $r }) {
            need { activities romeCodes headcount } } }";
    let description = json!({ "activities": "Façonnage du pain", "romeCodes": ["D1102"],
                               "headcount": 2, "horizon": "NOW", "hiringIntent": "POSSIBLE" });
    let need_corrected = gql(
        &server,
        t,
        CORRECT_NEED,
        json!({ "n": need, "d": description, "r": "Confusion avec un autre besoin" }),
    )
    .await;
    assert!(need_corrected["errors"].is_null(), "{need_corrected}");
    let shown = &need_corrected["data"]["needCorrect"]["need"];
    assert_eq!(shown["activities"], "Façonnage du pain");
    assert_eq!(shown["romeCodes"], json!(["D1102"]));
    assert_eq!(shown["headcount"], 2);
    let again = gql(
        &server,
        t,
        CORRECT_NEED,
        json!({ "n": need, "d": description, "r": "Encore" }),
    )
    .await;
    refused(&again, "RULE_VIOLATED", "description");
    let no_reason = gql(
        &server,
        t,
        CORRECT_NEED,
        json!({ "n": need, "d": description, "r": " " }),
    )
    .await;
    refused(&no_reason, "BAD_USER_INPUT", "reason");
}

const ENROLL: &str = "mutation($f: String!, $l: String!, $b: Date!, $c: Boolean) {
    personEnroll(input: { firstName: $f, lastName: $l, birthDate: $b, confirmDuplicate: $c }) {
        person { id } } }";

#[tokio::test]
async fn an_enrolment_like_a_person_followed_asks_for_a_confirmation() {
    let (db, dir) = (TestDb::new().await, data_dir());
    let (server, token) = started(&db, &dir).await;
    let t = Some(token.as_str());
    let awa = enroll(&server, &token, None).await;

    let before = events(&db).await;
    let twice = gql(
        &server,
        t,
        ENROLL,
        json!({ "f": "awa", "l": "DIALLO", "b": "2001-05-12" }),
    )
    .await;
    let (code, field, message) = error(&twice);
    assert_eq!(
        (code.as_str(), field.as_str()),
        ("CONFIRMATION_REQUIRED", "confirmDuplicate"),
        "{twice}"
    );
    assert!(message.contains("déjà suivi"), "{message}");
    assert_eq!(twice["errors"][0]["extensions"]["duplicates"], json!([awa]));
    assert_eq!(
        events(&db).await,
        before,
        "nothing appended without confirmation"
    );

    // Another birth date is another person.
    let other_day = gql(
        &server,
        t,
        ENROLL,
        json!({ "f": "Awa", "l": "Diallo", "b": "2003-01-02" }),
    )
    .await;
    assert!(other_day["errors"].is_null(), "{other_day}");
    // Confirmed, it goes through.
    let confirmed = gql(
        &server,
        t,
        ENROLL,
        json!({ "f": "Awa", "l": "Diallo", "b": "2001-05-12", "c": true }),
    )
    .await;
    assert!(confirmed["errors"].is_null(), "{confirmed}");
    // Another structure is told nothing of who A follows.
    create_user(&db, &dir, "PLIE Nord", "lea@plie-nord.fr");
    let other = login(&server, "lea@plie-nord.fr").await;
    let elsewhere = gql(
        &server,
        Some(&other),
        ENROLL,
        json!({ "f": "Awa", "l": "Diallo", "b": "2001-05-12" }),
    )
    .await;
    assert!(elsewhere["errors"].is_null(), "{elsewhere}");
}

#[tokio::test]
async fn a_convention_overlapping_another_with_the_same_host_asks_for_a_confirmation() {
    let (db, dir) = (TestDb::new().await, data_dir());
    let (server, token) = started_with_links(&db, &dir).await;
    let t = Some(token.as_str());
    let employer = register_employer(&server, &token, "73282932000074", "Boulangerie").await;
    let person = enroll(&server, &token, Some("awa@exemple.fr")).await;
    let today = gql(
        &server,
        t,
        "query($p: ID!) { person(id: $p) { enrolledOn } }",
        json!({ "p": person }),
    )
    .await["data"]["person"]["enrolledOn"]
        .as_str()
        .unwrap()
        .to_owned();
    let draft = "mutation($i: ID!, $c: ConventionInput!, $d: Boolean) {
        conventionDraft(input: { immersionId: $i, convention: $c, confirmDuplicate: $d }) {
            immersion { id stage } } }";
    let mut immersions = Vec::new();
    for _ in 0..2 {
        let immersion = propose(&server, &token, &person, &employer).await;
        for by in ["PERSON", "EMPLOYER"] {
            let accepted = gql(
                &server,
                t,
                "mutation($i: ID!, $by: Party!) { immersionAccept(input: { immersionId: $i,
                    by: $by }) { immersion { id } } }",
                json!({ "i": immersion, "by": by }),
            )
            .await;
            assert!(accepted["errors"].is_null(), "{accepted}");
        }
        immersions.push(immersion);
    }
    let first = gql(
        &server,
        t,
        draft,
        json!({ "i": immersions[0], "c": convention(&today, 35.0) }),
    )
    .await;
    assert!(first["errors"].is_null(), "{first}");

    let mut second = convention(&today, 35.0);
    second["goals"] = json!("Apprendre la vente au comptoir");
    let before = events(&db).await;
    let warned = gql(
        &server,
        t,
        draft,
        json!({ "i": immersions[1], "c": second }),
    )
    .await;
    let (code, field, message) = error(&warned);
    assert_eq!(
        (code.as_str(), field.as_str()),
        ("CONFIRMATION_REQUIRED", "confirmDuplicate"),
        "{warned}"
    );
    assert!(message.contains("même établissement"), "{message}");
    assert_eq!(
        warned["errors"][0]["extensions"]["duplicates"],
        json!([immersions[0]])
    );
    assert_eq!(events(&db).await, before);
    // The person, by her link, may not draft: she is told so before
    // anything of her other conventions is looked at (the confirmation's
    // refusal would tell a party where else and when she was hosted).
    let session = link_session(&server, "awa@exemple.fr", 0).await;
    let probing = gql(
        &server,
        Some(&session),
        draft,
        json!({ "i": immersions[1], "c": second }),
    )
    .await;
    assert_eq!(error(&probing).0, "FORBIDDEN", "{probing}");
    let confirmed = gql(
        &server,
        t,
        draft,
        json!({ "i": immersions[1], "c": second, "d": true }),
    )
    .await;
    assert!(confirmed["errors"].is_null(), "{confirmed}");
    assert_eq!(
        confirmed["data"]["conventionDraft"]["immersion"]["stage"],
        "drafted"
    );
}

#[tokio::test]
async fn the_corrections_of_an_employer_a_visit_and_a_need_are_read_back_with_who_and_why() {
    let (db, dir) = (TestDb::new().await, data_dir());
    let (server, token) = started_with_links(&db, &dir).await;
    let t = Some(token.as_str());
    let employer = register_employer(&server, &token, &siret(1), "Boulangerie du Port").await;
    let corrected = gql(
        &server,
        t,
        "mutation($e: ID!) { employerCorrect(input: { employerId: $e,
            changes: { name: \"Boulangerie du Quai\" }, reason: \"Enseigne changée\" }) {
            employer { corrections { fields name commune reason recorded { by role } } } } }",
        json!({ "e": employer }),
    )
    .await;
    let read = &corrected["data"]["employerCorrect"]["employer"]["corrections"];
    assert_eq!(read[0]["fields"], json!(["NAME"]), "{corrected}");
    assert_eq!(read[0]["name"], "Boulangerie du Quai");
    assert!(read[0]["commune"].is_null(), "a field left alone: {read}");
    assert_eq!(read[0]["reason"], "Enseigne changée");
    assert_eq!(read[0]["recorded"]["role"], "mediator");
    assert!(
        read[0]["recorded"]["by"]
            .as_str()
            .is_some_and(|by| by.starts_with("user:")),
        "{read}"
    );

    gql(
        &server,
        t,
        "mutation($e: ID!) { employerVisitLog(input: { employerId: $e, purpose: PROSPECTION,
            observations: \"Deux départs\" }) { employer { id } } }",
        json!({ "e": employer }),
    )
    .await;
    let visits = gql(
        &server,
        t,
        "query($e: ID!) { employer(id: $e) { visits { id } } }",
        json!({ "e": employer }),
    )
    .await;
    let visit = visits["data"]["employer"]["visits"][0]["id"].clone();
    let visit_corrected = gql(
        &server,
        t,
        "mutation($e: ID!, $v: ID!) { employerVisitCorrect(input: { employerId: $e, visitId: $v,
            changes: { observations: \"Trois départs en retraite\" },
            reason: \"Observations d'une autre visite\" }) { employer { id } } }",
        json!({ "e": employer, "v": visit }),
    )
    .await;
    assert!(visit_corrected["errors"].is_null(), "{visit_corrected}");
    let surfaced = gql(
        &server,
        t,
        "mutation($e: ID!) { needSurface(input: { employerId: $e, source: { kind: PHONE },
            description: { activities: \"Vente\", horizon: NOW, hiringIntent: POSSIBLE } }) {
            need { id } } }",
        json!({ "e": employer }),
    )
    .await;
    let need = surfaced["data"]["needSurface"]["need"]["id"].clone();
    let need_corrected = gql(
        &server,
        t,
        "mutation($n: ID!) { needCorrect(input: { needId: $n, reason: \"Confusion\",
            description: { activities: \"Façonnage du pain\", romeCodes: [\"D1102\"],
                           horizon: NOW, hiringIntent: POSSIBLE } }) { need { id } } }",
        json!({ "n": need }),
    )
    .await;
    assert!(need_corrected["errors"].is_null(), "{need_corrected}");

    const READ: &str = "query($e: ID!) { employer(id: $e) {
        corrections { reason }
        visits { corrections { fields observations reason recorded { role } } }
        surfacedNeeds { edges { node { corrections { activities romeCodes reason
                                                     recorded { role } } } } } } }";
    let staff_read = gql(&server, t, READ, json!({ "e": employer })).await;
    assert!(staff_read["errors"].is_null(), "{staff_read}");
    let e = &staff_read["data"]["employer"];
    assert_eq!(e["corrections"][0]["reason"], "Enseigne changée");
    let v = &e["visits"][0]["corrections"][0];
    assert_eq!(v["fields"], json!(["OBSERVATIONS"]), "{staff_read}");
    assert_eq!(v["observations"], "Trois départs en retraite");
    assert_eq!(v["reason"], "Observations d'une autre visite");
    assert_eq!(v["recorded"]["role"], "mediator");
    let n = &e["surfacedNeeds"]["edges"][0]["node"]["corrections"][0];
    assert_eq!(n["activities"], "Façonnage du pain", "{staff_read}");
    assert_eq!(n["romeCodes"], json!(["D1102"]));
    assert_eq!(n["reason"], "Confusion");
    assert_eq!(n["recorded"]["role"], "mediator");

    // The employer by magic link reads its file's and its needs'
    // corrections, not its visits' (they may carry internal notes).
    gql(
        &server,
        t,
        "mutation($e: ID!) { employerContactAdd(input: { employerId: $e, name: \"Lucie\",
            email: \"lucie@boulangerie.fr\" }) { employer { id } } }",
        json!({ "e": employer }),
    )
    .await;
    let boss = link_session(&server, "lucie@boulangerie.fr", 0).await;
    let boss_read = gql(&server, Some(&boss), READ, json!({ "e": employer })).await;
    assert!(boss_read["errors"].is_null(), "{boss_read}");
    let e = &boss_read["data"]["employer"];
    assert_eq!(e["corrections"][0]["reason"], "Enseigne changée");
    assert!(
        e["visits"][0]["corrections"].is_null(),
        "a visit's corrections are staff-only: {boss_read}"
    );
    assert!(
        !e["visits"][0].is_null(),
        "the visit itself is read: {boss_read}"
    );

    // Another establishment's contact reaches neither.
    let other = register_employer(&server, &token, &siret(2), "Garage").await;
    let elsewhere = gql(&server, Some(&boss), READ, json!({ "e": other })).await;
    assert!(
        elsewhere["data"]["employer"].is_null(),
        "another establishment: {elsewhere}"
    );
    // A person by magic link reads no employer at all.
    enroll(&server, &token, Some("awa@exemple.fr")).await;
    let awa = link_session(&server, "awa@exemple.fr", 1).await;
    let person_read = gql(&server, Some(&awa), READ, json!({ "e": employer })).await;
    assert_eq!(error(&person_read).0, "FORBIDDEN", "{person_read}");
}
