//! What is recorded about an immersion reads back through the API, end to
//! end over HTTP against the real binary: the convention's whole content
//! and its signatures, each party's feedback, the accidents, who declined,
//! cancelled, interrupted, rejected or abandoned and why; each to whoever
//! the policy lets read it (the mediator's notes to staff only), and
//! nothing to another structure.

mod common;

use common::*;
use passerelle_store::testkit::TestDb;
use serde_json::{Value, json};

/// Every recorded fact of an immersion, as a client asks for them.
const RECORD: &str = "query($i: ID!) { immersion(id: $i) {
    convention {
        prescriber { ...Organisation }
        supportStructure { ...Organisation }
        person {
            identity { firstName lastName birthDate address email phone }
            situation { kind currentEmployer { ...Organisation } description }
            legalRepresentative { ...Signer }
        }
        host { siret name activity collectiveAgreement signatory { ...Signer }
               tutor { name jobTitle email phone } }
        period { start end days }
        schedule weeklyHours place { address commune } objective goals evaluation tasks
        safety forbiddenUsesExcluded
        signatures { signatory method paperSignedOn signedAt recorded { by role at } }
        renewal { period { start end days } schedule weeklyHours objective goals
                  whyGoalsNotReached status
                  signatures { signatory method paperSignedOn recorded { by role at } }
                  recorded { by role at } }
        recorded { by role at }
    }
    assessment { attendance lastDayPresent missedHours goalsReached
                 skills { skill level comment } advice appraisal contractOffered
                 receivedByOtherMeans recordedOn recorded { by role at } }
    personFeedback { words countersigns disagreement recordedOn recorded { by role at } }
    mediatorFeedback { notes goalsReached nextSteps recordedOn recorded { by role at } }
    outcomeRecords { milestone outcome contract recordedOn recorded { by role at } }
    decline { by reason answeredOn recorded { by role at } }
    cancellation { by reason cancelledOn recorded { by role at } }
    interruption { by reason interruptedOn recorded { by role at } }
    rejection { justification recorded { by role at } }
    deprecation { justification recorded { by role at } }
    accidents { id occurredAt structureInformedAt description informedInTime declarationDueAt
                declarationFiledAt declarationFiledInTime recorded { by role at } }
} }
fragment Signer on ConventionSigner { name jobTitle email phone }
fragment Organisation on ConventionOrganisation { name siret signatory { ...Signer } }";

/// The immersion as `token` reads it: its recorded facts, or null.
async fn record(server: &Server, token: &str, immersion: &Value) -> Value {
    let answer = gql(server, Some(token), RECORD, json!({ "i": immersion })).await;
    assert!(answer["errors"].is_null(), "{answer}");
    answer["data"]["immersion"].clone()
}

/// Runs a mutation that must succeed; its answer.
async fn step(server: &Server, token: &str, query: &str, variables: Value) -> Value {
    let answer = gql(server, Some(token), query, variables).await;
    assert!(answer["errors"].is_null(), "{query}: {answer}");
    answer
}

/// A session opened with the magic link asked for `email`, of `kind`.
async fn session(server: &Server, email: &str, kind: &str) -> String {
    let seen = logged_links(server).len();
    let asked = gql(
        server,
        None,
        "mutation($m: String!) { magicLinkRequest(input: { email: $m }) { sent } }",
        json!({ "m": email }),
    )
    .await;
    assert_eq!(asked["data"]["magicLinkRequest"]["sent"], true, "{asked}");
    let redeemed = redeem(server, &next_link(server, seen).await).await;
    assert_eq!(
        redeemed["data"]["magicLinkRedeem"]["kind"], kind,
        "{redeemed}"
    );
    redeemed["data"]["magicLinkRedeem"]["token"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Who recorded a fact, as a read gives it besides when.
fn recording(by: String, role: &str) -> Value {
    json!({ "by": by, "role": role })
}

/// The staff member, as a fact records them.
async fn mediator_of(server: &Server, token: &str) -> Value {
    let me = gql(server, Some(token), "{ me { id } }", json!({})).await;
    let id = me["data"]["me"]["id"].as_str().unwrap();
    recording(format!("user:{id}"), "mediator")
}

/// A convention with every field filled: the person is employed (their
/// employer signs), supported by a structure other than the prescriber.
fn whole_convention(today: &str) -> Value {
    json!({
        "prescriber": { "name": "Mission locale de Nantes", "siret": "13000548100002",
            "signatory": { "name": "Camille Durand", "jobTitle": "Conseillère",
                           "email": "camille@ml-nantes.fr", "phone": "+33240000001" } },
        "supportStructure": { "name": "PLIE de Nantes", "siret": "18002002600001",
            "signatory": { "name": "Nadia Benali", "jobTitle": "Référente",
                           "email": "nadia@plie-nantes.fr", "phone": "+33240000002" } },
        "person": {
            "identity": { "firstName": "Awa", "lastName": "Diallo", "birthDate": "2001-05-12",
                          "address": "3 rue des Lilas, 44000 Nantes",
                          "email": "awa@exemple.fr", "phone": "+33612345678" },
            "situation": { "kind": "EMPLOYED", "description": null,
                "currentEmployer": { "name": "Régie de quartier Malakoff", "siret": "77567135600001",
                    "signatory": { "name": "Paul Leroy", "jobTitle": "Directeur",
                                   "email": "paul@regie-malakoff.fr", "phone": "+33240000003" } } },
            "legalRepresentative": null
        },
        "host": { "siret": "73282932000074", "name": "Boulangerie du Port",
                  "activity": "Boulangerie artisanale", "collectiveAgreement": "IDCC 843",
                  "signatory": { "name": "Jean Martin", "jobTitle": "Gérant",
                                 "email": "jean@boulangerie-du-port.fr", "phone": "+33240000004" },
                  "tutor": { "name": "Lucie Bernard", "jobTitle": "Cheffe boulangère",
                             "email": "lucie@boulangerie-du-port.fr", "phone": "+33699887766" } },
        "period": { "start": today, "end": today },
        "schedule": "Du lundi au vendredi, de 6 h à 13 h",
        "weeklyHours": 35.5,
        "place": { "address": "12 quai de la Fosse", "commune": "44109" },
        "objective": "CONFIRM_PROJECT",
        "goals": "Confirmer le goût du fournil et des horaires de nuit",
        "evaluation": "Grille remplie avec la tutrice le dernier jour",
        "tasks": "Peser, pétrir, façonner, enfourner",
        "safety": "Chaussures de sécurité fournies ; four à 250 °C",
        "forbiddenUsesExcluded": true
    })
}

const ACCEPT: &str = "mutation($i: ID!, $by: Party!) {
    immersionAccept(input: { immersionId: $i, by: $by }) { immersion { id } } }";
// The test's immersions share a person, a host and their dates: confirmed
// past the duplicate warning, which `tests/corrections.rs` checks.
const DRAFT: &str = "mutation($i: ID!, $c: ConventionInput!) {
    conventionDraft(input: { immersionId: $i, convention: $c, confirmDuplicate: true }) {
        immersion { id } } }";
const SIGN: &str = "mutation($i: ID!, $s: Signatory!, $p: Date) {
    conventionSign(input: { immersionId: $i, signatory: $s, onPaperOn: $p }) { immersion { id } } }";
const VALIDATE: &str = "mutation($i: ID!) {
    conventionValidate(input: { immersionId: $i }) { immersion { id } } }";
const START: &str = "mutation($i: ID!) {
    immersionStart(input: { immersionId: $i }) { immersion { id } } }";

/// A read without the instants facts were recorded at (`at`, `signedAt`),
/// once checked given.
fn without_instants(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for key in ["at", "signedAt"] {
                if let Some(at) = map.remove(key) {
                    assert!(at.as_str().is_some_and(|s| s.len() >= 20), "{key}: {at}");
                }
            }
            map.values_mut().for_each(without_instants);
        }
        Value::Array(items) => items.iter_mut().for_each(without_instants),
        _ => {}
    }
}

/// An instant as RFC 3339 text, whatever its offset.
fn instant(value: &Value) -> time::OffsetDateTime {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("not an instant: {value}"));
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).unwrap()
}

#[tokio::test]
async fn an_immersions_recorded_facts_read_back_to_whoever_may_read_them() {
    let (db, dir) = (TestDb::new().await, data_dir());
    let (server, staff) = started_with_links(&db, &dir).await;
    create_user(&db, &dir, "PLIE Nord", "lea@plie-nord.fr");
    let elsewhere = login(&server, "lea@plie-nord.fr").await;
    let mediator = mediator_of(&server, &staff).await;
    let employer =
        register_employer(&server, &staff, "73282932000074", "Boulangerie du Port").await;
    step(
        &server,
        &staff,
        "mutation($e: ID!) { employerContactAdd(input: { employerId: $e, name: \"Jean Martin\",
            email: \"jean@boulangerie-du-port.fr\" }) { employer { id } } }",
        json!({ "e": employer }),
    )
    .await;
    let enrolled = step(
        &server,
        &staff,
        "mutation { personEnroll(input: { firstName: \"Awa\", lastName: \"Diallo\",
            birthDate: \"2001-05-12\", email: \"awa@exemple.fr\" }) { person { id enrolledOn } } }",
        json!({}),
    )
    .await;
    let person = enrolled["data"]["personEnroll"]["person"]["id"].clone();
    // The server's today, in France.
    let today = enrolled["data"]["personEnroll"]["person"]["enrolledOn"]
        .as_str()
        .unwrap()
        .to_owned();
    let immersion = propose(&server, &staff, &person, &employer).await;
    let host = session(&server, "jean@boulangerie-du-port.fr", "EMPLOYER").await;
    let awa = session(&server, "awa@exemple.fr", "PERSON").await;
    let as_host = recording(
        format!("employer:{}", employer.as_str().unwrap()),
        "employer",
    );
    let as_awa = recording(format!("person:{}", person.as_str().unwrap()), "person");
    let i = &immersion;

    // Each party answers and signs for itself; the mediator drafts, signs
    // for the prescriber and records the paper signatures.
    step(&server, &awa, ACCEPT, json!({ "i": i, "by": "PERSON" })).await;
    step(&server, &host, ACCEPT, json!({ "i": i, "by": "EMPLOYER" })).await;
    let convention = whole_convention(&today);
    step(&server, &staff, DRAFT, json!({ "i": i, "c": convention })).await;
    step(&server, &awa, SIGN, json!({ "i": i, "s": "PERSON" })).await;
    step(&server, &host, SIGN, json!({ "i": i, "s": "HOST" })).await;
    step(&server, &staff, SIGN, json!({ "i": i, "s": "PRESCRIBER" })).await;
    for paper in ["SUPPORT_STRUCTURE", "CURRENT_EMPLOYER"] {
        step(
            &server,
            &staff,
            SIGN,
            json!({ "i": i, "s": paper, "p": today }),
        )
        .await;
    }
    step(&server, &staff, VALIDATE, json!({ "i": i })).await;
    step(&server, &staff, START, json!({ "i": i })).await;

    // An accident on the first day, in the past and on that day in Paris
    // whatever the hour, told a second later, declared two seconds after it
    // happened; sent at UTC+14, a day ahead of Paris at most hours.
    let accident = common::earlier_today(time::Duration::hours(1));
    let at = |seconds: i64| {
        (accident + time::Duration::seconds(seconds))
            .to_offset(time::macros::offset!(+14))
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    };
    let (occurred_at, informed_at, filed_at) = (at(0), at(1), at(2));
    let reported = step(
        &server,
        &staff,
        "mutation($i: ID!, $o: DateTime!, $s: DateTime!) { accidentReport(input: {
            immersionId: $i, occurredAt: $o, structureInformedAt: $s,
            description: \"Brûlure légère à l'avant-bras en sortant une plaque du four\" }) {
            accidentId } }",
        json!({ "i": i, "o": occurred_at, "s": informed_at }),
    )
    .await;
    let accident = reported["data"]["accidentReport"]["accidentId"].clone();
    step(
        &server,
        &staff,
        "mutation($i: ID!, $a: ID!, $f: DateTime!) { accidentDeclarationRecord(input: {
            immersionId: $i, accidentId: $a, filedAt: $f }) { immersion { id } } }",
        json!({ "i": i, "a": accident, "f": filed_at }),
    )
    .await;
    step(
        &server,
        &staff,
        "mutation($i: ID!) { immersionComplete(input: { immersionId: $i }) { immersion { id } } }",
        json!({ "i": i }),
    )
    .await;

    // Each party's feedback: the host's assessment from its own session,
    // the person's words from hers, the mediator's notes.
    let host_feedback = json!({
        "attendance": "PARTIALLY", "lastDayPresent": today, "missedHours": 3,
        "goalsReached": true,
        "skills": [
            { "skill": "PUNCTUALITY", "level": "STRONG", "comment": "Toujours à l'heure à 6 h" },
            { "skill": "JOB_TASKS", "level": "TO_IMPROVE", "comment": null }
        ],
        "advice": "Passer le CAP boulanger en alternance",
        "appraisal": "Une semaine utile pour l'équipe aussi",
        "hiring": "ALTERNANCE",
        "receivedByOtherMeans": false
    });
    let feedback = "mutation($i: ID!, $h: HostAssessmentInput, $p: PersonFeedbackInput,
        $m: MediatorFeedbackInput) { feedbackRecord(input: { immersionId: $i, host: $h,
        person: $p, mediator: $m }) { immersion { id } } }";
    step(
        &server,
        &host,
        feedback,
        json!({ "i": i, "h": host_feedback }),
    )
    .await;
    let person_feedback = json!({
        "words": "J'ai aimé le fournil, moins les horaires",
        "countersigns": false,
        "disagreement": "Je n'ai manqué que deux heures, pas trois"
    });
    step(
        &server,
        &awa,
        feedback,
        json!({ "i": i, "p": person_feedback }),
    )
    .await;
    let mediator_feedback = json!({
        "notes": "Projet confirmé ; fatigue liée aux horaires à surveiller",
        "goalsReached": true,
        "nextSteps": "Chercher un CFA pour la rentrée"
    });
    step(
        &server,
        &staff,
        feedback,
        json!({ "i": i, "m": mediator_feedback }),
    )
    .await;

    step(
        &server,
        &staff,
        "mutation($i: ID!) { outcomeRecord(input: { immersionId: $i, milestone: END,
            outcome: HIRED, contract: CDI }) { immersion { id } } }",
        json!({ "i": i }),
    )
    .await;

    // What was sent, as it reads back.
    let expected_outcomes = json!([{ "milestone": "END", "outcome": "HIRED", "contract": "CDI",
        "recordedOn": today, "recorded": mediator }]);
    let mut expected_convention = convention.clone();
    expected_convention["period"]["days"] = json!(1);
    let signature = |signatory: &str, method: &str, on: Value, by: &Value| json!({ "signatory": signatory, "method": method, "paperSignedOn": on, "recorded": by });
    expected_convention["signatures"] = json!([
        signature("PERSON", "ONLINE", Value::Null, &as_awa),
        signature("HOST", "ONLINE", Value::Null, &as_host),
        signature("PRESCRIBER", "ONLINE", Value::Null, &mediator),
        signature("SUPPORT_STRUCTURE", "PAPER", json!(today), &mediator),
        signature("CURRENT_EMPLOYER", "PAPER", json!(today), &mediator),
    ]);
    expected_convention["renewal"] = Value::Null;
    expected_convention["recorded"] = mediator.clone();
    let mut assessment = host_feedback.clone();
    let offered = assessment
        .as_object_mut()
        .unwrap()
        .remove("hiring")
        .unwrap();
    assessment["contractOffered"] = offered;
    assessment["recordedOn"] = json!(today);
    assessment["recorded"] = as_host.clone();
    let expected_person = json!({
        "words": person_feedback["words"], "countersigns": false,
        "disagreement": person_feedback["disagreement"],
        "recordedOn": today, "recorded": as_awa
    });
    let mut expected_mediator = mediator_feedback.clone();
    expected_mediator["recordedOn"] = json!(today);
    expected_mediator["recorded"] = mediator.clone();

    // The mediator reads everything, as it was sent.
    let mut read = record(&server, &staff, i).await;
    let accidents = read["accidents"].clone();
    assert_eq!(accidents.as_array().map(Vec::len), Some(1), "{read}");
    let a = &accidents[0];
    assert_eq!(a["id"], accident);
    assert_eq!(instant(&a["occurredAt"]), instant(&json!(occurred_at)));
    assert_eq!(
        instant(&a["structureInformedAt"]),
        instant(&json!(informed_at))
    );
    assert_eq!(
        instant(&a["declarationDueAt"]),
        instant(&json!(occurred_at)) + time::Duration::hours(48)
    );
    assert_eq!(instant(&a["declarationFiledAt"]), instant(&json!(filed_at)));
    assert_eq!(
        a["description"],
        "Brûlure légère à l'avant-bras en sortant une plaque du four"
    );
    assert_eq!(a["informedInTime"], true);
    assert_eq!(a["declarationFiledInTime"], true);
    assert_eq!(a["recorded"]["by"], mediator["by"]);
    assert_eq!(a["recorded"]["role"], "mediator");
    without_instants(&mut read);
    assert_eq!(read["convention"], expected_convention);
    assert_eq!(read["assessment"], assessment);
    assert_eq!(read["personFeedback"], expected_person);
    assert_eq!(read["mediatorFeedback"], expected_mediator);
    assert_eq!(read["outcomeRecords"], expected_outcomes);
    for ending in [
        "decline",
        "cancellation",
        "interruption",
        "rejection",
        "deprecation",
    ] {
        assert_eq!(read[ending], Value::Null, "nothing {ending}: {read}");
    }

    // The host reads the convention, the assessment and the accidents; not
    // the person's own words on it, nor the mediator's notes.
    let mut by_host = record(&server, &host, i).await;
    assert_eq!(by_host["accidents"], accidents);
    without_instants(&mut by_host);
    assert_eq!(by_host["convention"], expected_convention);
    assert_eq!(by_host["assessment"], assessment);
    assert_eq!(by_host["personFeedback"], Value::Null, "{by_host}");
    assert_eq!(by_host["mediatorFeedback"], Value::Null, "{by_host}");
    assert_eq!(by_host["outcomeRecords"], Value::Null, "{by_host}");

    // The person reads her convention, the assessment and her own
    // feedback; not the mediator's notes, nor the accidents' file.
    let mut by_awa = record(&server, &awa, i).await;
    without_instants(&mut by_awa);
    assert_eq!(by_awa["convention"], expected_convention);
    assert_eq!(by_awa["assessment"], assessment);
    assert_eq!(by_awa["personFeedback"], expected_person);
    assert_eq!(by_awa["mediatorFeedback"], Value::Null, "{by_awa}");
    assert_eq!(by_awa["outcomeRecords"], expected_outcomes);
    assert_eq!(by_awa["accidents"], Value::Null, "{by_awa}");

    // Another structure's mediator reaches no such immersion.
    assert_eq!(record(&server, &elsewhere, i).await, Value::Null);

    // Once the person's data is erased, what the convention, her feedback
    // and the accident said of her reads as null; the rest stays.
    create_staff(
        &db,
        &dir,
        "Mission locale de Nantes",
        "manager",
        "chef@ml-nantes.fr",
    );
    let manager = login(&server, "chef@ml-nantes.fr").await;
    step(
        &server,
        &manager,
        "mutation($p: ID!) { personErase(input: { personId: $p, reason: PERSON_REQUEST,
            confirm: true }) { erasedOn } }",
        json!({ "p": person }),
    )
    .await;
    let erased = record(&server, &staff, i).await;
    let c = &erased["convention"];
    assert_eq!(c["person"]["identity"], Value::Null, "{erased}");
    assert_eq!(c["host"]["tutor"], Value::Null, "{erased}");
    assert_eq!(c["host"]["name"], "Boulangerie du Port");
    assert_eq!(c["goals"], convention["goals"]);
    assert_eq!(erased["personFeedback"]["words"], Value::Null);
    assert_eq!(erased["personFeedback"]["disagreement"], Value::Null);
    assert_eq!(erased["personFeedback"]["countersigns"], false);
    assert_eq!(erased["accidents"][0]["description"], Value::Null);
    // The host's words about her go with her; what it assessed stays.
    assert_eq!(erased["assessment"]["advice"], Value::Null, "{erased}");
    assert_eq!(
        erased["assessment"]["goalsReached"], assessment["goalsReached"],
        "{erased}"
    );
    assert!(server.terminate().success());
}

#[tokio::test]
async fn who_ended_an_immersion_and_why_reads_back_to_staff_and_the_host() {
    let (db, dir) = (TestDb::new().await, data_dir());
    let (server, staff) = started_with_links(&db, &dir).await;
    let mediator = mediator_of(&server, &staff).await;
    let employer =
        register_employer(&server, &staff, "73282932000074", "Boulangerie du Port").await;
    step(
        &server,
        &staff,
        "mutation($e: ID!) { employerContactAdd(input: { employerId: $e, name: \"Jean Martin\",
            email: \"jean@boulangerie-du-port.fr\" }) { employer { id } } }",
        json!({ "e": employer }),
    )
    .await;
    let enrolled = step(
        &server,
        &staff,
        "mutation { personEnroll(input: { firstName: \"Awa\", lastName: \"Diallo\",
            birthDate: \"2001-05-12\", email: \"awa@exemple.fr\" }) { person { id enrolledOn } } }",
        json!({}),
    )
    .await;
    let person = enrolled["data"]["personEnroll"]["person"]["id"].clone();
    let today = enrolled["data"]["personEnroll"]["person"]["enrolledOn"]
        .as_str()
        .unwrap()
        .to_owned();
    let host = session(&server, "jean@boulangerie-du-port.fr", "EMPLOYER").await;
    let awa = session(&server, "awa@exemple.fr", "PERSON").await;
    let as_host = recording(
        format!("employer:{}", employer.as_str().unwrap()),
        "employer",
    );

    // Declined by the host, from its own session.
    let declined = propose(&server, &staff, &person, &employer).await;
    step(
        &server,
        &host,
        "mutation($i: ID!) { immersionDecline(input: { immersionId: $i, by: EMPLOYER,
            reason: \"Pas de tuteur disponible en décembre\" }) { immersion { id } } }",
        json!({ "i": declined }),
    )
    .await;

    // Drafted, then each one ended its own way; with goals of their own,
    // as a new convention with the same host must have.
    let drafted = async |goals: &str| {
        let immersion = propose(&server, &staff, &person, &employer).await;
        for by in ["PERSON", "EMPLOYER"] {
            step(&server, &staff, ACCEPT, json!({ "i": immersion, "by": by })).await;
        }
        let mut convention = convention(&today, 35.0);
        convention["goals"] = json!(goals);
        step(
            &server,
            &staff,
            DRAFT,
            json!({ "i": immersion, "c": convention }),
        )
        .await;
        immersion
    };
    let validated = async |goals: &str| {
        let immersion = drafted(goals).await;
        for (signatory, paper) in [
            ("PERSON", json!(today)),
            ("HOST", json!(today)),
            ("PRESCRIBER", Value::Null),
        ] {
            step(
                &server,
                &staff,
                SIGN,
                json!({ "i": immersion, "s": signatory, "p": paper }),
            )
            .await;
        }
        step(&server, &staff, VALIDATE, json!({ "i": immersion })).await;
        immersion
    };
    let cancelled = validated("Découvrir le fournil").await;
    step(
        &server,
        &staff,
        "mutation($i: ID!) { conventionCancel(input: { immersionId: $i, by: PERSON,
            reason: \"Un CDD signé ailleurs\" }) { immersion { id } } }",
        json!({ "i": cancelled }),
    )
    .await;
    // Interrupted during its renewal, which every party signed again and
    // the structure validated.
    let interrupted = validated("Découvrir la vente en boutique").await;
    step(&server, &staff, START, json!({ "i": interrupted })).await;
    let tomorrow = (time::Date::parse(
        &today,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .unwrap()
        + time::Duration::days(1))
    .to_string();
    step(
        &server,
        &staff,
        "mutation($i: ID!, $d: Date!) { conventionRenew(input: { immersionId: $i,
            period: { start: $d, end: $d }, schedule: \"De 14 h à 19 h\", weeklyHours: 30,
            objective: DISCOVER_JOB_OR_SECTOR, goals: \"Découvrir la vente en boutique\",
            whyGoalsNotReached: \"Une journée n'a pas suffi pour tenir la caisse\" }) {
            immersion { id } } }",
        json!({ "i": interrupted, "d": tomorrow }),
    )
    .await;
    for (signatory, paper) in [
        ("PERSON", json!(today)),
        ("HOST", json!(today)),
        ("PRESCRIBER", Value::Null),
    ] {
        step(
            &server,
            &staff,
            SIGN,
            json!({ "i": interrupted, "s": signatory, "p": paper }),
        )
        .await;
    }
    step(&server, &staff, VALIDATE, json!({ "i": interrupted })).await;
    step(
        &server,
        &staff,
        "mutation($i: ID!) { immersionInterrupt(input: { immersionId: $i, by: EMPLOYER,
            reason: \"Fermeture du magasin pour travaux\" }) { immersion { id } } }",
        json!({ "i": interrupted }),
    )
    .await;
    let rejected = drafted("Découvrir le travail de nuit").await;
    step(
        &server,
        &staff,
        "mutation($i: ID!) { conventionReject(input: { immersionId: $i,
            justification: \"Les horaires de nuit ne conviennent pas\" }) { immersion { id } } }",
        json!({ "i": rejected }),
    )
    .await;
    let deprecated = drafted("Découvrir la pâtisserie").await;
    step(
        &server,
        &staff,
        "mutation($i: ID!) { conventionDeprecate(input: { immersionId: $i,
            justification: \"Les dates sont passées\" }) { immersion { id } } }",
        json!({ "i": deprecated }),
    )
    .await;

    let cases = [
        (
            &declined,
            "decline",
            json!({ "by": "EMPLOYER", "reason": "Pas de tuteur disponible en décembre",
                    "answeredOn": today, "recorded": as_host }),
        ),
        (
            &cancelled,
            "cancellation",
            json!({ "by": "PERSON", "reason": "Un CDD signé ailleurs",
                    "cancelledOn": today, "recorded": mediator }),
        ),
        (
            &interrupted,
            "interruption",
            json!({ "by": "EMPLOYER", "reason": "Fermeture du magasin pour travaux",
                    "interruptedOn": today, "recorded": mediator }),
        ),
        (
            &rejected,
            "rejection",
            json!({ "justification": "Les horaires de nuit ne conviennent pas",
                    "recorded": mediator }),
        ),
        (
            &deprecated,
            "deprecation",
            json!({ "justification": "Les dates sont passées", "recorded": mediator }),
        ),
    ];
    let mut renewed = record(&server, &staff, &interrupted).await;
    without_instants(&mut renewed);
    let signed = |signatory: &str, paper: Value| {
        json!({ "signatory": signatory, "method": if paper.is_null() { "ONLINE" } else { "PAPER" },
                "paperSignedOn": paper, "recorded": mediator })
    };
    assert_eq!(
        renewed["convention"]["renewal"],
        json!({
            "period": { "start": tomorrow, "end": tomorrow, "days": 1 },
            "schedule": "De 14 h à 19 h", "weeklyHours": 30.0,
            "objective": "DISCOVER_JOB_OR_SECTOR", "goals": "Découvrir la vente en boutique",
            "whyGoalsNotReached": "Une journée n'a pas suffi pour tenir la caisse",
            "status": "VALIDATED",
            "signatures": [
                signed("PERSON", json!(today)),
                signed("HOST", json!(today)),
                signed("PRESCRIBER", Value::Null),
            ],
            "recorded": mediator
        })
    );
    assert_eq!(
        renewed["convention"]["signatures"].as_array().map(Vec::len),
        Some(3),
        "the first period's signatures stay its own: {renewed}"
    );
    for (immersion, field, expected) in cases {
        // Staff and the host read who ended it and why.
        for (who, token) in [("the mediator", &staff), ("the host", &host)] {
            let mut read = record(&server, token, immersion).await;
            without_instants(&mut read);
            assert_eq!(read[field], expected, "{field}, read by {who}: {read}");
        }
        // The person reads her immersion, not this.
        let by_awa = record(&server, &awa, immersion).await;
        assert!(by_awa.is_object(), "{by_awa}");
        assert_eq!(by_awa[field], Value::Null, "{field}, read by the person");
    }
    assert!(server.terminate().success());
}

/// The error a mutation is refused with: its code and field.
async fn refused(server: &Server, token: &str, query: &str, variables: Value) -> (Value, Value) {
    let answer = gql(server, Some(token), query, variables).await;
    let e = &answer["errors"][0];
    assert!(
        e["message"].as_str().is_some_and(|m| m.ends_with('.')),
        "a French sentence: {answer}"
    );
    (
        e["extensions"]["code"].clone(),
        e["extensions"]["field"].clone(),
    )
}

/// An immersion of Awa at the Boulangerie du Port, completed today, with
/// the sessions of its host and of Awa.
struct Completed {
    i: Value,
    host: String,
    awa: String,
    as_host: Value,
    as_awa: Value,
    today: String,
}

async fn completed(server: &Server, staff: &str) -> Completed {
    let employer = register_employer(server, staff, "73282932000074", "Boulangerie du Port").await;
    step(
        server,
        staff,
        "mutation($e: ID!) { employerContactAdd(input: { employerId: $e, name: \"Jean Martin\",
            email: \"jean@boulangerie-du-port.fr\" }) { employer { id } } }",
        json!({ "e": employer }),
    )
    .await;
    let enrolled = step(
        server,
        staff,
        "mutation { personEnroll(input: { firstName: \"Awa\", lastName: \"Diallo\",
            birthDate: \"2001-05-12\", email: \"awa@exemple.fr\" }) { person { id enrolledOn } } }",
        json!({}),
    )
    .await;
    let person = enrolled["data"]["personEnroll"]["person"]["id"].clone();
    let today = enrolled["data"]["personEnroll"]["person"]["enrolledOn"]
        .as_str()
        .unwrap()
        .to_owned();
    let host = session(server, "jean@boulangerie-du-port.fr", "EMPLOYER").await;
    let awa = session(server, "awa@exemple.fr", "PERSON").await;
    let as_awa = recording(format!("person:{}", person.as_str().unwrap()), "person");
    let i = &propose(server, staff, &person, &employer).await;
    for by in ["PERSON", "EMPLOYER"] {
        step(server, staff, ACCEPT, json!({ "i": i, "by": by })).await;
    }
    step(
        server,
        staff,
        DRAFT,
        json!({ "i": i, "c": convention(&today, 35.0) }),
    )
    .await;
    for (signatory, paper) in [
        ("PERSON", json!(today)),
        ("HOST", json!(today)),
        ("PRESCRIBER", Value::Null),
    ] {
        step(
            server,
            staff,
            SIGN,
            json!({ "i": i, "s": signatory, "p": paper }),
        )
        .await;
    }
    step(server, staff, VALIDATE, json!({ "i": i })).await;
    step(server, staff, START, json!({ "i": i })).await;
    step(
        server,
        staff,
        "mutation($i: ID!) { immersionComplete(input: { immersionId: $i }) { immersion { id } } }",
        json!({ "i": i }),
    )
    .await;
    Completed {
        i: i.clone(),
        host,
        awa,
        as_host: recording(
            format!("employer:{}", employer.as_str().unwrap()),
            "employer",
        ),
        as_awa,
        today,
    }
}

#[tokio::test]
async fn the_person_answers_the_assessment_that_came_after_her_feedback_once() {
    let (db, dir) = (TestDb::new().await, data_dir());
    let (server, staff) = started_with_links(&db, &dir).await;
    let Completed {
        i,
        host,
        awa,
        as_awa,
        today,
        ..
    } = completed(&server, &staff).await;
    let i = &i;
    let feedback = "mutation($i: ID!, $h: HostAssessmentInput, $p: PersonFeedbackInput) {
        feedbackRecord(input: { immersionId: $i, host: $h, person: $p }) { immersion { id } } }";
    let answer = "mutation($i: ID!, $c: Boolean, $d: String) {
        assessmentAnswer(input: { immersionId: $i, countersigns: $c, disagreement: $d }) {
            immersion { personFeedback { countersigns disagreement answeredOn
                answerRecorded { by role } } } } }";

    // Her words first, before the host's assessment: nothing to answer yet.
    step(
        &server,
        &awa,
        feedback,
        json!({ "i": i, "p": { "words": "J'ai aimé le fournil, moins les horaires" } }),
    )
    .await;
    assert_eq!(
        refused(&server, &awa, answer, json!({ "i": i, "c": true })).await,
        (json!("RULE_VIOLATED"), json!("countersigns"))
    );
    step(
        &server,
        &host,
        feedback,
        json!({ "i": i, "h": { "attendance": "COMPLETED", "goalsReached": true } }),
    )
    .await;
    let read = record(&server, &awa, i).await;
    assert_eq!(
        read["personFeedback"]["countersigns"],
        Value::Null,
        "{read}"
    );

    // The host does not answer for her; she says which, and why she
    // contests.
    let (code, _) = refused(&server, &host, answer, json!({ "i": i, "c": true })).await;
    assert_eq!(code, "FORBIDDEN");
    assert_eq!(
        refused(&server, &awa, answer, json!({ "i": i })).await,
        (json!("BAD_USER_INPUT"), json!("countersigns"))
    );
    assert_eq!(
        refused(&server, &awa, answer, json!({ "i": i, "c": false })).await,
        (json!("BAD_USER_INPUT"), json!("disagreement"))
    );
    let answered = step(
        &server,
        &awa,
        answer,
        json!({ "i": i, "c": false, "d": "Je n'ai pas fait que de la plonge" }),
    )
    .await;
    assert_eq!(
        answered["data"]["assessmentAnswer"]["immersion"]["personFeedback"],
        json!({ "countersigns": false, "disagreement": "Je n'ai pas fait que de la plonge",
                "answeredOn": today, "answerRecorded": as_awa }),
        "{answered}"
    );

    // It reads back with her feedback, to staff as to her; once only.
    let mut read = record(&server, &staff, i).await;
    without_instants(&mut read);
    assert_eq!(
        read["personFeedback"],
        json!({ "words": "J'ai aimé le fournil, moins les horaires", "countersigns": false,
                "disagreement": "Je n'ai pas fait que de la plonge", "recordedOn": today,
                "recorded": as_awa }),
        "{read}"
    );
    for token in [&awa, &staff] {
        assert_eq!(
            refused(&server, token, answer, json!({ "i": i, "c": true })).await,
            (json!("CONFLICT"), json!("countersigns"))
        );
    }
    assert!(server.terminate().success());
}

#[tokio::test]
async fn a_feedback_is_corrected_by_who_gave_it_and_reads_back_with_why() {
    let (db, dir) = (TestDb::new().await, data_dir());
    let (server, staff) = started_with_links(&db, &dir).await;
    let Completed {
        i,
        host,
        awa,
        as_host,
        today,
        ..
    } = completed(&server, &staff).await;
    let i = &i;
    let feedback = "mutation($i: ID!, $h: HostAssessmentInput, $p: PersonFeedbackInput,
        $m: MediatorFeedbackInput) {
        feedbackRecord(input: { immersionId: $i, host: $h, person: $p, mediator: $m }) {
            immersion { id } } }";
    let correct = "mutation($i: ID!, $h: HostAssessmentInput, $p: PersonFeedbackInput,
        $m: MediatorFeedbackInput, $r: String!) {
        feedbackCorrect(input: { immersionId: $i, host: $h, person: $p, mediator: $m,
            reason: $r }) { immersion { id } } }";
    let notes = json!({ "notes": "Projet confirmé", "goalsReached": true });

    // Nothing recorded yet: nothing to correct.
    assert_eq!(
        refused(
            &server,
            &staff,
            correct,
            json!({ "i": i, "m": notes, "r": "Erreur" })
        )
        .await,
        (json!("RULE_VIOLATED"), json!("feedback"))
    );
    step(&server, &staff, feedback, json!({ "i": i, "m": notes })).await;
    step(
        &server,
        &host,
        feedback,
        json!({ "i": i, "h": { "attendance": "COMPLETED", "goalsReached": true,
            "skills": [{ "skill": "PUNCTUALITY", "level": "STRONG" }] } }),
    )
    .await;
    step(
        &server,
        &awa,
        feedback,
        json!({ "i": i, "p": { "words": "Très bien", "countersigns": true } }),
    )
    .await;

    // The same again changes nothing; a reason is required; the person
    // corrects no one's feedback but hers.
    assert_eq!(
        refused(
            &server,
            &staff,
            correct,
            json!({ "i": i, "m": notes, "r": "Erreur" })
        )
        .await,
        (json!("RULE_VIOLATED"), json!("feedback"))
    );
    let fixed = json!({ "notes": "Projet à confirmer", "goalsReached": false,
        "nextSteps": "Une enquête métier" });
    assert_eq!(
        refused(
            &server,
            &staff,
            correct,
            json!({ "i": i, "m": fixed, "r": " " })
        )
        .await,
        (json!("BAD_USER_INPUT"), json!("reason"))
    );
    let (code, _) = refused(
        &server,
        &awa,
        correct,
        json!({ "i": i, "m": fixed, "r": "Erreur" }),
    )
    .await;
    assert_eq!(code, "FORBIDDEN");
    step(
        &server,
        &staff,
        correct,
        json!({ "i": i, "m": fixed, "r": "Objectifs cochés par erreur" }),
    )
    .await;

    // The assessment is corrected as it was given: online, by the host.
    assert_eq!(
        refused(
            &server,
            &host,
            correct,
            json!({ "i": i, "r": "Erreur", "h": { "attendance": "COMPLETED",
                "goalsReached": false, "receivedByOtherMeans": true } }),
        )
        .await,
        (json!("FORBIDDEN"), Value::Null)
    );
    assert_eq!(
        refused(
            &server,
            &staff,
            correct,
            json!({ "i": i, "r": "Erreur", "h": { "attendance": "COMPLETED",
                "goalsReached": false, "receivedByOtherMeans": true } }),
        )
        .await,
        (json!("RULE_VIOLATED"), json!("host.receivedByOtherMeans"))
    );

    // The host corrects its assessment: her countersignature of what it
    // said before is cleared, and she answers again.
    step(
        &server,
        &host,
        correct,
        json!({ "i": i, "r": "Niveau mal reporté", "h": { "attendance": "COMPLETED",
            "goalsReached": true, "skills": [{ "skill": "PUNCTUALITY", "level": "ACQUIRED" }] } }),
    )
    .await;
    let mediator = mediator_of(&server, &staff).await;
    let mut read = record(&server, &staff, i).await;
    without_instants(&mut read);
    assert_eq!(
        read["mediatorFeedback"],
        json!({ "notes": "Projet à confirmer", "goalsReached": false,
                "nextSteps": "Une enquête métier", "recordedOn": today,
                "recorded": mediator.clone() }),
        "{read}"
    );
    assert_eq!(
        read["assessment"]["skills"],
        json!([{ "skill": "PUNCTUALITY", "level": "ACQUIRED", "comment": null }])
    );
    assert_eq!(
        read["personFeedback"]["countersigns"],
        Value::Null,
        "{read}"
    );
    assert_eq!(read["personFeedback"]["words"], "Très bien");
    let corrections = gql(
        &server,
        Some(&staff),
        "query($i: ID!) { immersion(id: $i) {
            assessment { corrections { reason correctedOn recorded { by role } } }
            mediatorFeedback { corrections { reason correctedOn recorded { by role } } }
            personFeedback { corrections { reason } } } }",
        json!({ "i": i }),
    )
    .await;
    assert_eq!(
        corrections["data"]["immersion"],
        json!({
            "assessment": { "corrections": [{ "reason": "Niveau mal reporté",
                "correctedOn": today, "recorded": as_host }] },
            "mediatorFeedback": { "corrections": [{ "reason": "Objectifs cochés par erreur",
                "correctedOn": today, "recorded": mediator }] },
            "personFeedback": { "corrections": [] },
        }),
        "{corrections}"
    );
    step(
        &server,
        &awa,
        "mutation($i: ID!) { assessmentAnswer(input: { immersionId: $i, countersigns: true }) {
            immersion { id } } }",
        json!({ "i": i }),
    )
    .await;
    // She corrects her words and keeps her answer, with its day and who
    // gave it.
    step(
        &server,
        &awa,
        correct,
        json!({ "i": i, "r": "Faute de frappe", "p": { "words": "Très bien, merci",
            "countersigns": true } }),
    )
    .await;
    let read = record(&server, &awa, i).await;
    assert_eq!(
        read["personFeedback"]["words"], "Très bien, merci",
        "{read}"
    );
    assert_eq!(read["personFeedback"]["countersigns"], true, "{read}");
    assert!(server.terminate().success());
}

/// An immersion's first and last days are corrected by staff only: its
/// host and the person are refused on their own immersion; the host reads
/// the days' corrections, the person the days alone (null).
#[tokio::test]
async fn the_days_are_corrected_by_staff_only_and_their_corrections_read_by_the_host() {
    let (db, dir) = (TestDb::new().await, data_dir());
    let (server, staff) = started_with_links(&db, &dir).await;
    let Completed {
        i,
        host,
        awa,
        today,
        ..
    } = completed(&server, &staff).await;
    for mutation in ["immersionStartCorrect", "immersionEndCorrect"] {
        let query = format!(
            "mutation($i: ID!, $on: Date!) {{ {mutation}(input: {{ immersionId: $i, on: $on,
                reason: \"Erreur\" }}) {{ immersion {{ id }} }} }}"
        );
        for (who, token) in [("host", &host), ("person", &awa)] {
            assert_eq!(
                refused(&server, token, &query, json!({ "i": i, "on": today })).await,
                (json!("FORBIDDEN"), Value::Null),
                "{mutation} by the {who}"
            );
        }
    }
    let read = "query($i: ID!) { immersion(id: $i) { endedOn
        startCorrections { previous } endCorrections { previous } } }";
    assert_eq!(
        step(&server, &host, read, json!({ "i": i })).await["data"]["immersion"],
        json!({ "endedOn": today, "startCorrections": [], "endCorrections": [] })
    );
    assert_eq!(
        step(&server, &awa, read, json!({ "i": i })).await["data"]["immersion"],
        json!({ "endedOn": today, "startCorrections": null, "endCorrections": null })
    );
}
