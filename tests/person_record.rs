//! What is recorded about a person, read back over HTTP by whoever the
//! policy lets read it: each fact recorded through its mutation, then read
//! as the referent, another mediator of the structure, a manager, the
//! person by magic link and a mediator of another structure. Health data
//! (the disability recognition) is for the referent and the managers only.

mod common;

use common::*;
use passerelle_store::testkit::TestDb;
use serde_json::{Value, json};

const RECORD: &str = "query($p: ID!) { person(id: $p) {
    id
    situation { words statedOn recorded { by role at } }
    jobInquiries { id romeCode job withWhom learned heldOn recorded { by role at } }
    peerMeetings { id peer romeCodes testimonyId takeaways heldOn recorded { by } }
    mentorships { id mentor mentorJob startedOn endedOn endReason recorded { by } }
    consentRecords { purpose given textVersion signedForm proof on recorded { by role } }
    referentChanges { referentId recorded { by role } }
    exit { reason contract explanation exitedOn recorded { by } }
    disabilityRecognition { recognised recordedOn recorded { by role } }
} }";

/// The day facts are recorded on: the enrolment's (a fact may not precede
/// it, nor come after today).
static TODAY: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// A mutation's data, its `DAY` the enrolment's; panics on any error.
async fn ok(server: &Server, token: &str, query: &str, variables: Value) -> Value {
    let query = match TODAY.get() {
        Some(day) => query.replace("DAY", day),
        None => query.to_owned(),
    };
    let answer = gql(server, Some(token), &query, variables).await;
    assert!(answer["errors"].is_null(), "{answer}");
    answer["data"].clone()
}

async fn record_of(server: &Server, token: &str, person: &Value) -> Value {
    let answer = gql(server, Some(token), RECORD, json!({ "p": person })).await;
    assert!(answer["errors"].is_null(), "{answer}");
    answer["data"]["person"].clone()
}

#[tokio::test]
async fn a_persons_record_reads_back_for_whoever_may_read_it() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, referent) = started_with_links(&db, &dir).await;
    create_user(&db, &dir, "Mission locale de Nantes", "yanis@ml-nantes.fr");
    create_staff(
        &db,
        &dir,
        "Mission locale de Nantes",
        "manager",
        "direction@ml-nantes.fr",
    );
    create_user(&db, &dir, "PLIE Nord", "lea@plie-nord.fr");
    let colleague = login(&server, "yanis@ml-nantes.fr").await;
    let manager = login(&server, "direction@ml-nantes.fr").await;
    let elsewhere = login(&server, "lea@plie-nord.fr").await;
    let me = |token: String| {
        let server = &server;
        async move { ok(server, &token, "{ me { id } }", json!({})).await["me"]["id"].clone() }
    };
    let referent_id = me(referent.clone()).await;
    let colleague_id = me(colleague.clone()).await;
    let manager_id = me(manager.clone()).await;
    let person = enroll(&server, &referent, Some("awa.diallo@exemple.fr")).await;
    let p = json!({ "p": person });
    let enrolled = ok(
        &server,
        &referent,
        "query($p: ID!) { person(id: $p) { enrolledOn } }",
        p.clone(),
    )
    .await;
    let today = enrolled["person"]["enrolledOn"]
        .as_str()
        .unwrap()
        .to_owned();
    TODAY.set(today.clone()).unwrap();

    // Nothing recorded yet: empty lists and nulls, for the referent too.
    let empty = record_of(&server, &referent, &person).await;
    assert!(empty["situation"].is_null(), "{empty}");
    for list in [
        "jobInquiries",
        "peerMeetings",
        "mentorships",
        "consentRecords",
        "referentChanges",
    ] {
        assert_eq!(empty[list], json!([]), "{list}: {empty}");
    }
    assert!(empty["exit"].is_null() && empty["disabilityRecognition"].is_null());

    // Each fact through its mutation.
    for words in [
        "Je cherche du travail",
        "Je cherche un emploi en boulangerie",
    ] {
        ok(
            &server,
            &referent,
            "mutation($p: ID!, $w: String!) { situationState(input: { personId: $p, words: $w,
                statedOn: \"DAY\" }) { person { id } } }",
            json!({ "p": person, "w": words }),
        )
        .await;
    }
    let inquiry = ok(
        &server,
        &colleague,
        "mutation($p: ID!) { jobInquiryLog(input: { personId: $p, romeCode: \"D1102\",
            withWhom: \"Boulangerie du Port\", learned: \"Les horaires commencent à 4 h\",
            heldOn: \"DAY\" }) { inquiryId } }",
        p.clone(),
    )
    .await["jobInquiryLog"]["inquiryId"]
        .clone();
    let meeting = ok(
        &server,
        &referent,
        "mutation($p: ID!) { peerMeetingLog(input: { personId: $p,
            peer: \"Ancienne apprentie en boulangerie\", romeCodes: [\"D1102\"],
            takeaways: \"Le CAP en un an, c'est possible\", heldOn: \"DAY\" }) { meetingId } }",
        p.clone(),
    )
    .await["peerMeetingLog"]["meetingId"]
        .clone();
    let consent = "mutation($p: ID!, $c: ConsentPurpose!, $s: Boolean!) { consentGive(input: {
        personId: $p, purpose: $c, textVersion: \"v1\", signedForm: $s, givenOn: \"DAY\" })
        { person { id } } }";
    ok(
        &server,
        &referent,
        consent,
        json!({ "p": person, "c": "MENTORING", "s": false }),
    )
    .await;
    ok(
        &server,
        &referent,
        consent,
        json!({ "p": person, "c": "DISABILITY_RECOGNITION", "s": true }),
    )
    .await;
    let mentorship = ok(
        &server,
        &referent,
        "mutation($p: ID!) { mentorshipStart(input: { personId: $p, mentor: \"Jean Moreau\",
            mentorJob: \"D1102\", startedOn: \"DAY\" }) { mentorshipId } }",
        p.clone(),
    )
    .await["mentorshipStart"]["mentorshipId"]
        .clone();
    ok(
        &server,
        &referent,
        "mutation($p: ID!, $m: ID!) { mentorshipEnd(input: { personId: $p, mentorshipId: $m,
            reason: \"Objectif atteint\", endedOn: \"DAY\" }) { person { id } } }",
        json!({ "p": person, "m": mentorship }),
    )
    .await;
    ok(
        &server,
        &referent,
        "mutation($p: ID!) { consentWithdraw(input: { personId: $p, purpose: MENTORING,
            withdrawnOn: \"DAY\" }) { person { id } } }",
        p.clone(),
    )
    .await;
    ok(
        &server,
        &referent,
        "mutation($p: ID!) { disabilityRecognitionRecord(input: { personId: $p,
            recognised: true, recordedOn: \"DAY\" }) { person { id } } }",
        p.clone(),
    )
    .await;

    // The referent reads it all, with who recorded each fact.
    let read = record_of(&server, &referent, &person).await;
    let by_referent = format!("user:{}", referent_id.as_str().unwrap());
    let by_colleague = format!("user:{}", colleague_id.as_str().unwrap());
    assert_eq!(
        read["situation"]["words"], "Je cherche un emploi en boulangerie",
        "the latest statement: {read}"
    );
    assert_eq!(read["situation"]["statedOn"], today);
    assert_eq!(read["situation"]["recorded"]["by"], by_referent.as_str());
    assert_eq!(read["situation"]["recorded"]["role"], "mediator");
    assert!(read["situation"]["recorded"]["at"].is_string());
    assert_eq!(
        read["jobInquiries"],
        json!([{ "id": inquiry, "romeCode": "D1102", "job": read["jobInquiries"][0]["job"],
                 "withWhom": "Boulangerie du Port", "learned": "Les horaires commencent à 4 h",
                 "heldOn": today,
                 "recorded": { "by": by_colleague, "role": "mediator",
                               "at": read["jobInquiries"][0]["recorded"]["at"] } }]),
        "{read}"
    );
    assert!(
        read["jobInquiries"][0]["job"]
            .as_str()
            .is_some_and(|j| j.to_lowercase().contains("boulang")),
        "the job's label: {read}"
    );
    assert_eq!(
        read["peerMeetings"],
        json!([{ "id": meeting, "peer": "Ancienne apprentie en boulangerie",
                 "romeCodes": ["D1102"], "testimonyId": null,
                 "takeaways": "Le CAP en un an, c'est possible", "heldOn": today,
                 "recorded": { "by": by_referent } }])
    );
    assert_eq!(
        read["mentorships"],
        json!([{ "id": mentorship, "mentor": "Jean Moreau", "mentorJob": "D1102",
                 "startedOn": today, "endedOn": today,
                 "endReason": "Objectif atteint", "recorded": { "by": by_referent } }])
    );
    let staff = json!({ "by": by_referent, "role": "mediator" });
    assert_eq!(
        read["consentRecords"],
        json!([
            { "purpose": "MENTORING", "given": true, "textVersion": "v1", "signedForm": false,
              "proof": "ORAL", "on": today, "recorded": staff },
            { "purpose": "DISABILITY_RECOGNITION", "given": true, "textVersion": "v1",
              "signedForm": true, "proof": "SIGNED_FORM", "on": today, "recorded": staff },
            { "purpose": "MENTORING", "given": false, "textVersion": null, "signedForm": null,
              "proof": null, "on": today, "recorded": staff },
        ]),
        "the history, not only what stands: {read}"
    );
    assert_eq!(read["referentChanges"], json!([]));
    assert!(read["exit"].is_null());
    assert_eq!(
        read["disabilityRecognition"],
        json!({ "recognised": true, "recordedOn": today, "recorded": staff })
    );

    // Another mediator of the structure: all but health data.
    let colleague_reads = record_of(&server, &colleague, &person).await;
    assert!(
        colleague_reads["disabilityRecognition"].is_null(),
        "{colleague_reads}"
    );
    for part in [
        "situation",
        "jobInquiries",
        "peerMeetings",
        "mentorships",
        "consentRecords",
        "referentChanges",
    ] {
        assert_eq!(colleague_reads[part], read[part], "{part}");
    }

    // A manager: all of it, health data included.
    assert_eq!(record_of(&server, &manager, &person).await, read);

    // The timeline says a recognition was recorded only to those who read
    // it, a page at a time and whole.
    let timeline = async |token: &str| -> (Vec<String>, Vec<String>) {
        let answer = ok(
            &server,
            token,
            "query($p: ID!) { person(id: $p) {
                timelineEvents(first: 100) { edges { node { eventType } } }
                timeline { eventType } } }",
            json!({ "p": person }),
        )
        .await;
        let types = |list: &Value| -> Vec<String> {
            list.as_array()
                .unwrap()
                .iter()
                .map(|i| i["eventType"].as_str().unwrap().to_owned())
                .collect()
        };
        let paged: Vec<Value> = answer["person"]["timelineEvents"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"].clone())
            .collect();
        (
            types(&Value::Array(paged)),
            types(&answer["person"]["timeline"]),
        )
    };
    let health = "disability_recognition_recorded".to_owned();
    for token in [&referent, &manager] {
        let (paged, whole) = timeline(token).await;
        assert!(
            paged.contains(&health) && whole.contains(&health),
            "{paged:?}"
        );
    }
    let (paged, whole) = timeline(&colleague).await;
    assert!(
        !paged.contains(&health) && !whole.contains(&health),
        "{paged:?}"
    );
    assert!(paged.len() > 3 && paged == whole, "{paged:?}");

    // The person, by a link to her address: her own path, no health data,
    // not the structure's follow-up.
    let her = link_session(&server, "awa.diallo@exemple.fr", 0).await;
    let own = record_of(&server, &her, &person).await;
    for part in [
        "situation",
        "jobInquiries",
        "peerMeetings",
        "mentorships",
        "consentRecords",
    ] {
        assert_eq!(own[part], read[part], "{part}: {own}");
    }
    assert!(own["disabilityRecognition"].is_null(), "{own}");
    assert_eq!(own["referentChanges"], json!([]));
    // Someone else's file is not hers to read.
    let other = enroll(&server, &referent, None).await;
    let not_hers = gql(&server, Some(&her), RECORD, json!({ "p": other })).await;
    assert!(not_hers["data"]["person"].is_null(), "{not_hers}");

    // A mediator of another structure: nothing at all.
    let outside = gql(&server, Some(&elsewhere), RECORD, p.clone()).await;
    assert!(outside["data"]["person"].is_null(), "{outside}");

    // The follow-up handed over: the new referent reads the health data,
    // the former one no longer does.
    ok(
        &server,
        &manager,
        "mutation($p: ID!, $r: ID!) { personReferentChange(input: { personId: $p,
            referentId: $r }) { person { id } } }",
        json!({ "p": person, "r": colleague_id }),
    )
    .await;
    let now_theirs = record_of(&server, &colleague, &person).await;
    assert_eq!(
        now_theirs["disabilityRecognition"]["recognised"], true,
        "{now_theirs}"
    );
    assert_eq!(
        now_theirs["referentChanges"],
        json!([{ "referentId": colleague_id,
                 "recorded": { "by": format!("user:{}", manager_id.as_str().unwrap()),
                               "role": "manager" } }])
    );
    let former = record_of(&server, &referent, &person).await;
    assert!(former["disabilityRecognition"].is_null(), "{former}");
    assert_eq!(former["referentChanges"], now_theirs["referentChanges"]);

    // The exit, with its reason; her session outlives it, for her rights on
    // her data (only an erasure ends it).
    ok(
        &server,
        &colleague,
        "mutation($p: ID!) { personExit(input: { personId: $p, reason: EMPLOYMENT,
            contract: CDI, exitedOn: \"DAY\" }) { person { id } } }",
        p.clone(),
    )
    .await;
    let exited = record_of(&server, &manager, &person).await;
    assert_eq!(
        exited["exit"],
        json!({ "reason": "EMPLOYMENT", "contract": "CDI", "explanation": null,
                "exitedOn": today, "recorded": { "by": by_colleague } })
    );
    let after = gql(&server, Some(&her), RECORD, p.clone()).await;
    assert!(after.get("errors").is_none(), "{after}");
    assert!(after["data"]["person"]["id"].is_string(), "{after}");
    let outside = gql(&server, Some(&elsewhere), RECORD, p).await;
    assert!(outside["data"]["person"].is_null(), "{outside}");
}

const WHOLE: &str = "query($p: ID!) { person(id: $p) {
    identity { firstName lastName birthDate email phone address commune communeName enrolledOn }
    projectVersions { version targetRomeCodes contractWishes mobilityRadiusKm constraints } } }";

/// Who a person is and how to reach them, and their whole project, read
/// back as recorded (the identity with its corrections folded in), by
/// whoever reaches them; nothing once erased.
#[tokio::test]
async fn a_persons_identity_and_whole_project_read_back() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, referent) = started(&db, &dir).await;
    create_staff(
        &db,
        &dir,
        "Mission locale de Nantes",
        "manager",
        "direction@ml-nantes.fr",
    );
    create_user(&db, &dir, "PLIE Nord", "lea@plie-nord.fr");
    let manager = login(&server, "direction@ml-nantes.fr").await;
    let elsewhere = login(&server, "lea@plie-nord.fr").await;
    let enrolled = ok(
        &server,
        &referent,
        "mutation { personEnroll(input: { firstName: \"Awa\", lastName: \"Diallo\",
            birthDate: \"2001-05-12\", email: \"awa.diallo@exemple.fr\", phone: \"06 12 34 56 78\",
            address: \"3 rue des Lilas, 44000 Nantes\", commune: \"44109\" }) { person { id } } }",
        json!({}),
    )
    .await;
    let person = enrolled["personEnroll"]["person"]["id"].clone();
    let p = json!({ "p": person });
    let whole = ok(&server, &referent, WHOLE, p.clone()).await;
    let identity = &whole["person"]["identity"];
    assert_eq!(identity["firstName"], "Awa", "{whole}");
    assert_eq!(identity["birthDate"], "2001-05-12");
    assert_eq!(identity["email"], "awa.diallo@exemple.fr");
    assert_eq!(identity["phone"], "+33612345678");
    assert_eq!(identity["address"], "3 rue des Lilas, 44000 Nantes");
    assert_eq!(identity["commune"], "44109");
    assert_eq!(identity["communeName"], "Nantes");
    assert!(identity["enrolledOn"].is_string(), "{whole}");

    // Corrected: the identity reads as it stands.
    ok(
        &server,
        &referent,
        "mutation($p: ID!) { personCorrect(input: { personId: $p,
            changes: { phone: \"07 00 00 00 01\", lastName: \"Diallo-Sy\" },
            reason: \"Numéro changé\" }) { person { id } } }",
        p.clone(),
    )
    .await;
    let whole = ok(&server, &manager, WHOLE, p.clone()).await;
    let identity = &whole["person"]["identity"];
    assert_eq!(identity["phone"], "+33700000001", "{whole}");
    assert_eq!(identity["lastName"], "Diallo-Sy");
    assert_eq!(identity["email"], "awa.diallo@exemple.fr", "left alone");

    // The project with its contracts, mobility and constraints.
    ok(
        &server,
        &referent,
        "mutation($p: ID!) { projectState(input: { personId: $p, project: {
            targetRomeCodes: [\"D1102\"], contractWishes: [CDI, INTERIM], mobilityRadiusKm: 25,
            constraints: \"Pas avant 9 h (école)\" } }) { person { id } } }",
        p.clone(),
    )
    .await;
    let whole = ok(&server, &referent, WHOLE, p.clone()).await;
    assert_eq!(
        whole["person"]["projectVersions"],
        json!([{ "version": 1, "targetRomeCodes": ["D1102"], "contractWishes": ["CDI", "INTERIM"],
            "mobilityRadiusKm": 25, "constraints": "Pas avant 9 h (école)" }]),
        "{whole}"
    );
    // A distance out of range is refused in French, beside its field.
    for km in [-1, 1001, 70000] {
        let refused = gql(
            &server,
            Some(&referent),
            "mutation($p: ID!, $km: Int!) { projectState(input: { personId: $p, project: {
                targetRomeCodes: [\"D1102\"], mobilityRadiusKm: $km } }) { person { id } } }",
            json!({ "p": person, "km": km }),
        )
        .await;
        assert_eq!(
            error(&refused),
            (
                "BAD_USER_INPUT".into(),
                "project.mobilityRadiusKm".into(),
                "La mobilité se dit en kilomètres, de 0 à 1000.".into()
            ),
            "{refused}"
        );
    }

    // Another structure does not reach her; once erased, nothing is read.
    let outside = gql(&server, Some(&elsewhere), WHOLE, p.clone()).await;
    assert!(outside["data"]["person"].is_null(), "{outside}");
    ok(
        &server,
        &manager,
        "mutation($p: ID!) { personErase(input: { personId: $p, reason: PERSON_REQUEST,
            confirm: true }) { personId } }",
        p.clone(),
    )
    .await;
    let gone = gql(&server, Some(&manager), WHOLE, p).await;
    let text = gone.to_string();
    assert!(
        !text.contains("awa.diallo") && !text.contains("+33") && !text.contains("Lilas"),
        "{gone}"
    );
    assert!(server.terminate().success());
}
