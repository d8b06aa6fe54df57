//! Every domain command has its way in: each variant of the domain's
//! `…Command` enums, read from their source, is issued by a mutation of the
//! committed SDL. A command added to the domain without a mutation fails
//! here, and so does a mutation named here that the schema lost.

use std::collections::BTreeSet;
use std::path::Path;

/// Each command variant (`Enum::Variant`) and the mutation that issues it.
/// Several variants may share a mutation (accepting and declining a
/// proposal for either party, a host's or a person's feedback).
const WAYS_IN: &[(&str, &str)] = &[
    ("EmployerCommand::Register", "employerRegister"),
    ("EmployerCommand::AddContact", "employerContactAdd"),
    ("EmployerCommand::RemoveContact", "employerContactRemove"),
    ("EmployerCommand::LogVisit", "employerVisitLog"),
    (
        "EmployerCommand::SetHostingCapacity",
        "employerHostingCapacitySet",
    ),
    ("NeedCommand::Surface", "needSurface"),
    ("NeedCommand::Qualify", "needQualify"),
    ("NeedCommand::FormaliseAsOffer", "needFormalise"),
    ("NeedCommand::Close", "needClose"),
    ("NeedCommand::Correct", "needCorrect"),
    ("EmployerCommand::Correct", "employerCorrect"),
    ("EmployerCommand::CorrectVisit", "employerVisitCorrect"),
    ("PersonCommand::CorrectIdentity", "personCorrect"),
    ("PersonCommand::Enroll", "personEnroll"),
    ("PersonCommand::ChangeReferent", "personReferentChange"),
    ("PersonCommand::StateSituation", "situationState"),
    ("PersonCommand::StateProject", "projectState"),
    ("PersonCommand::ReadjustProject", "projectReadjust"),
    ("PersonCommand::LogJobInquiry", "jobInquiryLog"),
    ("PersonCommand::LogPeerMeeting", "peerMeetingLog"),
    ("PersonCommand::StartMentorship", "mentorshipStart"),
    ("PersonCommand::EndMentorship", "mentorshipEnd"),
    ("PersonCommand::GiveConsent", "consentGive"),
    ("PersonCommand::WithdrawConsent", "consentWithdraw"),
    (
        "PersonCommand::RecordDisabilityRecognition",
        "disabilityRecognitionRecord",
    ),
    ("PersonCommand::Exit", "personExit"),
    ("PersonCommand::Erase", "personErase"),
    ("TestimonyCommand::Record", "testimonyRecord"),
    (
        "TestimonyCommand::ChangeAudience",
        "testimonyAudienceChange",
    ),
    ("TestimonyCommand::Withdraw", "testimonyWithdraw"),
    ("ImmersionCommand::Propose", "immersionPropose"),
    ("ImmersionCommand::Accept", "immersionAccept"),
    ("ImmersionCommand::Decline", "immersionDecline"),
    ("ImmersionCommand::DraftConvention", "conventionDraft"),
    ("ImmersionCommand::Sign", "conventionSign"),
    ("ImmersionCommand::Prevalidate", "conventionPrevalidate"),
    ("ImmersionCommand::Validate", "conventionValidate"),
    ("ImmersionCommand::Reject", "conventionReject"),
    ("ImmersionCommand::Deprecate", "conventionDeprecate"),
    ("ImmersionCommand::Cancel", "conventionCancel"),
    ("ImmersionCommand::Renew", "conventionRenew"),
    ("ImmersionCommand::Start", "immersionStart"),
    ("ImmersionCommand::CorrectStart", "immersionStartCorrect"),
    ("ImmersionCommand::Interrupt", "immersionInterrupt"),
    ("ImmersionCommand::Complete", "immersionComplete"),
    ("ImmersionCommand::CorrectEnd", "immersionEndCorrect"),
    ("ImmersionCommand::ReportAccident", "accidentReport"),
    (
        "ImmersionCommand::RecordAccidentDeclaration",
        "accidentDeclarationRecord",
    ),
    ("ImmersionCommand::RecordFeedback", "feedbackRecord"),
    ("ImmersionCommand::RecordOutcome", "outcomeRecord"),
    ("ImmersionCommand::AnswerAssessment", "assessmentAnswer"),
    ("ImmersionCommand::CorrectFeedback", "feedbackCorrect"),
];

/// The source without comments, strings and character literals, so that a
/// brace or a capitalised word in them is not read as code.
fn code_of(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut last = ' ';
                for c in chars.by_ref() {
                    if last == '*' && c == '/' {
                        break;
                    }
                    last = c;
                }
                out.push(' ');
            }
            '"' => {
                let mut escaped = false;
                for c in chars.by_ref() {
                    if escaped {
                        escaped = false;
                    } else if c == '\\' {
                        escaped = true;
                    } else if c == '"' {
                        break;
                    }
                }
                out.push_str("\"\"");
            }
            _ => out.push(c),
        }
    }
    out
}

/// The variants of every `pub enum …Command` in this source, as
/// `Enum::Variant`: the capitalised names at the enum's own brace depth
/// that open a variant (followed by `{`, `(`, `,` or the enum's end).
fn command_variants(source: &str) -> Vec<String> {
    let code = code_of(source);
    let mut found = Vec::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find("pub enum ") {
        rest = &rest[at + "pub enum ".len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let Some(open) = rest.find('{') else { break };
        if !name.ends_with("Command") {
            continue;
        }
        let body = &rest[open + 1..];
        let mut depth = 0usize;
        let mut word = String::new();
        let mut expecting = true;
        for c in body.chars() {
            if depth == 0 && expecting && (c.is_alphanumeric() || c == '_') {
                word.push(c);
                continue;
            }
            if !word.is_empty() {
                if word.starts_with(|c: char| c.is_ascii_uppercase()) {
                    found.push(format!("{name}::{word}"));
                }
                word.clear();
                expecting = false;
            }
            match c {
                '{' | '(' | '[' => depth += 1,
                '}' | ')' | ']' if depth > 0 => depth -= 1,
                '}' => break,
                ',' if depth == 0 => expecting = true,
                // Attributes (`#[…]`) sit before a variant at depth 0.
                '#' if depth == 0 => expecting = true,
                _ => {}
            }
            if depth == 0 && matches!(c, ']' | '}' | ')') {
                expecting = true;
            }
        }
    }
    found
}

fn rust_files(dir: &Path, into: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, into);
        } else if path.extension().is_some_and(|e| e == "rs") {
            into.push(path);
        }
    }
}

/// Every command variant of the domain, read from its source.
fn domain_commands() -> BTreeSet<String> {
    let mut files = Vec::new();
    rust_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/domain/src"),
        &mut files,
    );
    files
        .iter()
        .flat_map(|f| command_variants(&std::fs::read_to_string(f).unwrap()))
        .collect()
}

/// The fields of the committed SDL's `type Mutation`.
fn mutations() -> BTreeSet<String> {
    let sdl = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("graphql-schema/schema.graphql"),
    )
    .unwrap();
    let start = sdl
        .find("type Mutation {")
        .expect("a Mutation type in the SDL");
    let body = &sdl[start + "type Mutation {".len()..];
    let body = &body[..body.find("\n}").unwrap()];
    let mut fields = BTreeSet::new();
    let mut depth = 0usize;
    for line in body.lines() {
        let line = line.trim();
        // Fields sit at depth 0; arguments and descriptions inside them.
        if depth == 0 && !line.starts_with('"') && !line.starts_with('@') {
            let name: String = line
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                fields.insert(name);
            }
        }
        depth += line.matches('(').count();
        depth -= line.matches(')').count().min(depth);
    }
    fields
}

#[test]
fn every_domain_command_is_issued_by_a_mutation() {
    let commands = domain_commands();
    assert!(
        commands.len() > 30 && commands.contains("ImmersionCommand::Propose"),
        "the domain's commands read from its source: {commands:?}"
    );
    let mutations = mutations();
    assert!(mutations.contains("employerRegister"), "{mutations:?}");
    let mapped: BTreeSet<String> = WAYS_IN.iter().map(|(c, _)| (*c).to_owned()).collect();
    let unmapped: Vec<&String> = commands.difference(&mapped).collect();
    let stale: Vec<&String> = mapped.difference(&commands).collect();
    let missing: Vec<String> = WAYS_IN
        .iter()
        .filter(|(_, m)| !mutations.contains(*m))
        .map(|(c, m)| format!("{c} → {m}"))
        .collect();
    assert!(
        unmapped.is_empty() && stale.is_empty() && missing.is_empty(),
        "commands with no mutation named here: {unmapped:?}\n\
         commands named here that the domain no longer has: {stale:?}\n\
         mutations named here that the schema lacks: {missing:#?}"
    );
}

#[test]
fn the_reading_of_commands_sees_every_variant_shape() {
    let source = "/// Doc { with braces }\n\
        #[derive(Debug)]\n\
        pub enum ThingCommand {\n\
            Unit,\n\
            /// A \"quoted } brace\".\n\
            Named { a: Vec<Option<u8>>, b: (u8, u8) },\n\
            #[allow(dead_code)]\n\
            Tuple(Box<u8>),\n\
            Last\n\
        }\n\
        pub enum NotACommandKind { Other }\n";
    assert_eq!(
        command_variants(source),
        [
            "ThingCommand::Unit",
            "ThingCommand::Named",
            "ThingCommand::Tuple",
            "ThingCommand::Last"
        ]
    );
}

// The new ways in, over HTTP against the real binary: each mutation's event
// appended, a refusal on its field in French, and who is refused.

mod common;

use common::*;
use passerelle_store::testkit::TestDb;
use serde_json::{Value, json};

/// Runs an operation that must succeed; its data.
async fn ok(server: &Server, token: &str, query: &str, variables: Value) -> Value {
    let answer = gql(server, Some(token), query, variables).await;
    assert!(answer["errors"].is_null(), "{query}: {answer}");
    answer["data"].clone()
}

/// Runs an operation that must be refused: its code, field and message,
/// and nothing appended.
async fn refused(
    db: &TestDb,
    server: &Server,
    token: Option<&str>,
    query: &str,
    variables: Value,
) -> (String, String, String) {
    let before = events(db).await;
    let answer = gql(server, token, query, variables).await;
    assert!(!answer["errors"].is_null(), "{query}: {answer}");
    assert_eq!(
        events(db).await,
        before,
        "a refusal appends nothing: {answer}"
    );
    error(&answer)
}

/// Runs an operation that must append exactly one event; its data.
async fn appends_one(db: &TestDb, server: &Server, token: &str, query: &str, vars: Value) -> Value {
    let before = events(db).await;
    let data = ok(server, token, query, vars).await;
    assert_eq!(events(db).await, before + 1, "{query}: one event");
    data
}

/// The type of the last event appended.
async fn last_event(db: &TestDb) -> String {
    sqlx::query_scalar("select event_type from events order by global_position desc limit 1")
        .fetch_one(&db.pool)
        .await
        .unwrap()
}

fn french(message: &str) {
    assert!(
        message.chars().next().is_some_and(char::is_uppercase) && message.ends_with('.'),
        "a French sentence: {message}"
    );
}

#[tokio::test]
async fn an_employers_capacity_and_a_need_become_an_offer() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, a) = started(&db, &dir).await;
    create_user(&db, &dir, "PLIE Nord", "lea@plie-nord.fr");
    let b = login(&server, "lea@plie-nord.fr").await;
    let employer = register_employer(&server, &a, "73282932000074", "Boulangerie du Port").await;

    let capacity = "mutation($e: ID!, $n: Int!) { employerHostingCapacitySet(input: {
        employerId: $e, simultaneousImmersions: $n, notes: \"Un atelier à la fois\" }) {
        employer { id simultaneousImmersions } } }";
    let set = appends_one(&db, &server, &a, capacity, json!({ "e": employer, "n": 2 })).await;
    assert_eq!(
        set["employerHostingCapacitySet"]["employer"]["simultaneousImmersions"],
        2
    );
    assert_eq!(last_event(&db).await, "employer_hosting_capacity_set");
    let (code, field, message) = refused(
        &db,
        &server,
        Some(&a),
        capacity,
        json!({ "e": employer, "n": -1 }),
    )
    .await;
    assert_eq!(
        (code.as_str(), field.as_str()),
        ("BAD_USER_INPUT", "simultaneousImmersions")
    );
    assert!(message.contains("immersions"), "{message}");
    french(&message);
    // Employers are shared: another structure's staff records it too; no
    // one without a staff session does.
    appends_one(&db, &server, &b, capacity, json!({ "e": employer, "n": 1 })).await;
    let (code, ..) = refused(
        &db,
        &server,
        None,
        capacity,
        json!({ "e": employer, "n": 1 }),
    )
    .await;
    assert_eq!(code, "UNAUTHENTICATED");

    let need = ok(
        &server,
        &a,
        "mutation($e: ID!) { needSurface(input: { employerId: $e, source: { kind: PHONE },
            description: { activities: \"Façonnage\", horizon: NOW, hiringIntent: POSSIBLE } }) {
            need { id } } }",
        json!({ "e": employer }),
    )
    .await["needSurface"]["need"]["id"]
        .clone();
    let formalise = "mutation($n: ID!) { needFormalise(input: { needId: $n,
        offerReference: \"FT-123456\" }) { need { id currentStatus } } }";
    let (code, field, message) =
        refused(&db, &server, Some(&a), formalise, json!({ "n": need })).await;
    assert_eq!((code.as_str(), field.as_str()), ("RULE_VIOLATED", "needId"));
    assert!(message.contains("Qualifiez"), "{message}");
    ok(
        &server,
        &a,
        "mutation($n: ID!) { needQualify(input: { needId: $n, description: {
            activities: \"Façonnage\", romeCodes: [\"D1102\"], horizon: NOW,
            hiringIntent: POSSIBLE } }) { need { id } } }",
        json!({ "n": need }),
    )
    .await;
    let (code, ..) = refused(&db, &server, None, formalise, json!({ "n": need })).await;
    assert_eq!(code, "UNAUTHENTICATED");
    let formalised = appends_one(&db, &server, &b, formalise, json!({ "n": need })).await;
    assert_eq!(
        formalised["needFormalise"]["need"]["currentStatus"],
        "FORMALISED_AS_OFFER"
    );
    assert_eq!(last_event(&db).await, "need_formalised_as_offer");
}

#[tokio::test]
async fn a_persons_referent_mentorships_disability_recognition_and_exit() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, a) = started(&db, &dir).await;
    create_staff(
        &db,
        &dir,
        "Mission locale de Nantes",
        "manager",
        "direction@ml-nantes.fr",
    );
    create_user(&db, &dir, "Mission locale de Nantes", "yanis@ml-nantes.fr");
    create_user(&db, &dir, "PLIE Nord", "lea@plie-nord.fr");
    let manager = login(&server, "direction@ml-nantes.fr").await;
    let colleague = login(&server, "yanis@ml-nantes.fr").await;
    let b = login(&server, "lea@plie-nord.fr").await;
    let id_of = |token: String| {
        let server = &server;
        async move { ok(server, &token, "{ me { id } }", json!({})).await["me"]["id"].clone() }
    };
    let colleague_id = id_of(colleague.clone()).await;
    let b_id = id_of(b.clone()).await;
    let person = enroll(&server, &a, None).await;

    // The referent changes by a manager's decision, within the structure.
    let change = "mutation($p: ID!, $r: ID!) { personReferentChange(input: { personId: $p,
        referentId: $r }) { person { id referentId } } }";
    let (code, ..) = refused(
        &db,
        &server,
        Some(&a),
        change,
        json!({ "p": person, "r": colleague_id }),
    )
    .await;
    assert_eq!(code, "FORBIDDEN", "a mediator does not hand a person over");
    let (code, ..) = refused(
        &db,
        &server,
        Some(&b),
        change,
        json!({ "p": person, "r": b_id }),
    )
    .await;
    assert!(code == "FORBIDDEN" || code == "NOT_FOUND", "{code}");
    let (code, field, message) = refused(
        &db,
        &server,
        Some(&manager),
        change,
        json!({ "p": person, "r": b_id }),
    )
    .await;
    assert_eq!((code.as_str(), field.as_str()), ("NOT_FOUND", "referentId"));
    assert!(message.contains("structure"), "{message}");
    french(&message);
    let changed = appends_one(
        &db,
        &server,
        &manager,
        change,
        json!({ "p": person, "r": colleague_id }),
    )
    .await;
    assert_eq!(
        changed["personReferentChange"]["person"]["referentId"],
        colleague_id
    );
    assert_eq!(last_event(&db).await, "person_referent_changed");

    // Health data: the referent (now the colleague) or a manager only, and
    // with the person's consent.
    let rqth = "mutation($p: ID!) { disabilityRecognitionRecord(input: { personId: $p,
        recognised: true }) { person { id } } }";
    let (code, field, message) =
        refused(&db, &server, Some(&colleague), rqth, json!({ "p": person })).await;
    assert_eq!(
        (code.as_str(), field.as_str()),
        ("RULE_VIOLATED", "recognised")
    );
    assert!(message.contains("RQTH"), "{message}");
    let consent = "mutation($p: ID!, $c: ConsentPurpose!) { consentGive(input: { personId: $p,
        purpose: $c, textVersion: \"v1\", signedForm: true }) { person { id } } }";
    for purpose in ["DISABILITY_RECOGNITION", "MENTORING"] {
        ok(&server, &a, consent, json!({ "p": person, "c": purpose })).await;
    }
    let (code, ..) = refused(&db, &server, Some(&a), rqth, json!({ "p": person })).await;
    assert_eq!(code, "FORBIDDEN", "no longer the referent");
    let (code, ..) = refused(&db, &server, Some(&b), rqth, json!({ "p": person })).await;
    assert_eq!(code, "NOT_FOUND");
    appends_one(&db, &server, &colleague, rqth, json!({ "p": person })).await;
    assert_eq!(last_event(&db).await, "disability_recognition_recorded");
    appends_one(&db, &server, &manager, rqth, json!({ "p": person })).await;

    // Mentorships, by the structure's staff.
    let start = "mutation($p: ID!, $m: String!) { mentorshipStart(input: { personId: $p,
        mentor: $m, mentorJob: \"D1102\" }) { person { id } mentorshipId } }";
    let (code, field, message) = refused(
        &db,
        &server,
        Some(&a),
        start,
        json!({ "p": person, "m": " " }),
    )
    .await;
    assert_eq!(
        (code.as_str(), field.as_str()),
        ("BAD_USER_INPUT", "mentor")
    );
    french(&message);
    let (code, ..) = refused(
        &db,
        &server,
        Some(&b),
        start,
        json!({ "p": person, "m": "Un boulanger" }),
    )
    .await;
    assert_eq!(code, "NOT_FOUND");
    let started = appends_one(
        &db,
        &server,
        &a,
        start,
        json!({ "p": person, "m": "Un boulanger retraité" }),
    )
    .await;
    assert_eq!(last_event(&db).await, "mentorship_started");
    let mentorship = started["mentorshipStart"]["mentorshipId"].clone();
    let end = "mutation($p: ID!, $m: ID!) { mentorshipEnd(input: { personId: $p,
        mentorshipId: $m, reason: \"Objectif atteint\" }) { person { id } } }";
    let (code, ..) = refused(
        &db,
        &server,
        Some(&b),
        end,
        json!({ "p": person, "m": mentorship }),
    )
    .await;
    assert_eq!(code, "NOT_FOUND");
    appends_one(
        &db,
        &server,
        &a,
        end,
        json!({ "p": person, "m": mentorship }),
    )
    .await;
    assert_eq!(last_event(&db).await, "mentorship_ended");
    let (code, field, message) = refused(
        &db,
        &server,
        Some(&a),
        end,
        json!({ "p": person, "m": mentorship }),
    )
    .await;
    assert_eq!(field, "mentorshipId", "{code}");
    french(&message);

    // The exit, with its reason.
    let exit = "mutation($p: ID!, $r: ExitReasonKind!, $c: Contract, $x: String) {
        personExit(input: { personId: $p, reason: $r, contract: $c, explanation: $x }) {
        person { id exitedOn } } }";
    let (code, field, message) = refused(
        &db,
        &server,
        Some(&a),
        exit,
        json!({ "p": person, "r": "EMPLOYMENT" }),
    )
    .await;
    assert_eq!(
        (code.as_str(), field.as_str()),
        ("BAD_USER_INPUT", "contract")
    );
    french(&message);
    let (_, field, _) = refused(
        &db,
        &server,
        Some(&a),
        exit,
        json!({ "p": person, "r": "OTHER" }),
    )
    .await;
    assert_eq!(field, "explanation");
    let (code, ..) = refused(
        &db,
        &server,
        Some(&b),
        exit,
        json!({ "p": person, "r": "MOVED" }),
    )
    .await;
    assert_eq!(code, "NOT_FOUND");
    let exited = appends_one(
        &db,
        &server,
        &a,
        exit,
        json!({ "p": person, "r": "EMPLOYMENT", "c": "CDI" }),
    )
    .await;
    assert!(
        exited["personExit"]["person"]["exitedOn"].is_string(),
        "{exited}"
    );
    assert_eq!(last_event(&db).await, "person_exited");
    let (code, field, message) = refused(
        &db,
        &server,
        Some(&a),
        exit,
        json!({ "p": person, "r": "MOVED" }),
    )
    .await;
    assert_eq!(
        (code.as_str(), field.as_str()),
        ("RULE_VIOLATED", "personId"),
        "{message}"
    );
}

#[tokio::test]
async fn a_testimony_is_recorded_shared_and_withdrawn_with_consent() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, a) = started(&db, &dir).await;
    create_user(&db, &dir, "PLIE Nord", "lea@plie-nord.fr");
    let b = login(&server, "lea@plie-nord.fr").await;
    let person = enroll(&server, &a, None).await;
    let record = "mutation($p: ID!) { testimonyRecord(input: { personId: $p,
        account: \"De la logistique à la boulangerie\", romeCodes: [\"D1102\"],
        audience: OWN_STRUCTURE_MEDIATORS }) { person { id } testimonyId } }";
    let (code, field, message) =
        refused(&db, &server, Some(&a), record, json!({ "p": person })).await;
    assert_eq!(
        (code.as_str(), field.as_str()),
        ("RULE_VIOLATED", "audience")
    );
    assert!(message.contains("consenti"), "{message}");
    ok(
        &server,
        &a,
        "mutation($p: ID!) { consentGive(input: { personId: $p, purpose: TESTIMONY,
            textVersion: \"v1\", signedForm: true }) { person { id } } }",
        json!({ "p": person }),
    )
    .await;
    let (code, ..) = refused(&db, &server, Some(&b), record, json!({ "p": person })).await;
    assert_eq!(code, "NOT_FOUND");
    let recorded = appends_one(&db, &server, &a, record, json!({ "p": person })).await;
    assert_eq!(last_event(&db).await, "testimony_recorded");
    let testimony = recorded["testimonyRecord"]["testimonyId"].clone();
    assert_eq!(recorded["testimonyRecord"]["person"]["id"], person);

    let audience = "mutation($t: ID!) { testimonyAudienceChange(input: { testimonyId: $t,
        audience: TERRITORY }) { person { id } testimonyId } }";
    let (code, ..) = refused(&db, &server, Some(&b), audience, json!({ "t": testimony })).await;
    assert_eq!(code, "NOT_FOUND", "another structure does not learn of it");
    appends_one(&db, &server, &a, audience, json!({ "t": testimony })).await;
    assert_eq!(last_event(&db).await, "testimony_audience_changed");

    let withdraw = "mutation($t: ID!) { testimonyWithdraw(input: { testimonyId: $t }) {
        person { id } testimonyId } }";
    let (code, ..) = refused(&db, &server, Some(&b), withdraw, json!({ "t": testimony })).await;
    assert_eq!(code, "NOT_FOUND");
    appends_one(&db, &server, &a, withdraw, json!({ "t": testimony })).await;
    assert_eq!(last_event(&db).await, "testimony_withdrawn");
    let (_, field, message) =
        refused(&db, &server, Some(&a), audience, json!({ "t": testimony })).await;
    assert!(!field.is_empty(), "on a field: {message}");
    french(&message);
}

#[tokio::test]
async fn a_convention_is_prevalidated_rejected_or_made_obsolete_and_an_accident_declared() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, a) = started(&db, &dir).await;
    create_user(&db, &dir, "PLIE Nord", "lea@plie-nord.fr");
    let b = login(&server, "lea@plie-nord.fr").await;
    let employer = register_employer(&server, &a, "73282932000074", "Boulangerie du Port").await;
    let person = enroll(&server, &a, None).await;
    let today = ok(
        &server,
        &a,
        "query($p: ID!) { person(id: $p) { enrolledOn } }",
        json!({ "p": person }),
    )
    .await["person"]["enrolledOn"]
        .as_str()
        .unwrap()
        .to_owned();
    // Rejected before validation, with a justification.
    let first = drafted(&server, &a, &person, &employer, &today).await;
    let reject = "mutation($i: ID!, $j: String!) { conventionReject(input: { immersionId: $i,
        justification: $j }) { immersion { id currentStage } } }";
    let (code, field, message) = refused(
        &db,
        &server,
        Some(&a),
        reject,
        json!({ "i": first, "j": "" }),
    )
    .await;
    assert_eq!(
        (code.as_str(), field.as_str()),
        ("BAD_USER_INPUT", "justification")
    );
    french(&message);
    let (code, ..) = refused(
        &db,
        &server,
        Some(&b),
        reject,
        json!({ "i": first, "j": "Incomplète" }),
    )
    .await;
    assert_eq!(code, "NOT_FOUND");
    appends_one(
        &db,
        &server,
        &a,
        reject,
        json!({ "i": first, "j": "Tâches imprécises" }),
    )
    .await;
    assert_eq!(last_event(&db).await, "convention_rejected");

    // Made obsolete.
    let second = drafted(&server, &a, &person, &employer, &today).await;
    let deprecate = "mutation($i: ID!, $j: String!) { conventionDeprecate(input: {
        immersionId: $i, justification: $j }) { immersion { id currentStage } } }";
    let (_, field, _) = refused(
        &db,
        &server,
        Some(&a),
        deprecate,
        json!({ "i": second, "j": " " }),
    )
    .await;
    assert_eq!(field, "justification");
    let (code, ..) = refused(
        &db,
        &server,
        Some(&b),
        deprecate,
        json!({ "i": second, "j": "Dates passées" }),
    )
    .await;
    assert_eq!(code, "NOT_FOUND");
    appends_one(
        &db,
        &server,
        &a,
        deprecate,
        json!({ "i": second, "j": "Dates passées" }),
    )
    .await;
    assert_eq!(last_event(&db).await, "convention_deprecated");

    // Pre-validated once signed, validated, started; an accident reported
    // and its declaration recorded.
    let third = drafted(&server, &a, &person, &employer, &today).await;
    let prevalidate = "mutation($i: ID!) { conventionPrevalidate(input: { immersionId: $i }) {
        immersion { id prevalidated } } }";
    let (code, field, message) =
        refused(&db, &server, Some(&a), prevalidate, json!({ "i": third })).await;
    assert_eq!(
        (code.as_str(), field.as_str()),
        ("RULE_VIOLATED", "signatures")
    );
    french(&message);
    for signatory in ["PERSON", "HOST", "PRESCRIBER"] {
        ok(
            &server,
            &a,
            "mutation($i: ID!, $s: Signatory!) { conventionSign(input: { immersionId: $i,
                signatory: $s }) { immersion { id } } }",
            json!({ "i": third, "s": signatory }),
        )
        .await;
    }
    let (code, ..) = refused(&db, &server, Some(&b), prevalidate, json!({ "i": third })).await;
    assert_eq!(code, "NOT_FOUND");
    let prevalidated = appends_one(&db, &server, &a, prevalidate, json!({ "i": third })).await;
    assert_eq!(
        prevalidated["conventionPrevalidate"]["immersion"]["prevalidated"],
        true
    );
    assert_eq!(last_event(&db).await, "convention_prevalidated");
    for op in [
        "mutation($i: ID!) { conventionValidate(input: { immersionId: $i }) { immersion { id } } }",
        "mutation($i: ID!) { immersionStart(input: { immersionId: $i }) { immersion { id } } }",
    ] {
        ok(&server, &a, op, json!({ "i": third })).await;
    }
    // Within the immersion's first day in Paris, and past.
    let base = common::earlier_today(time::Duration::minutes(10));
    let now = time::OffsetDateTime::now_utc();
    let at = |t: time::OffsetDateTime| {
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    };
    let report = "mutation($i: ID!, $o: DateTime!, $s: DateTime!) { accidentReport(input: {
        immersionId: $i, occurredAt: $o, structureInformedAt: $s,
        description: \"Coupure à la main\" }) { immersion { id } accidentId } }";
    let (code, field, message) = refused(
        &db,
        &server,
        Some(&a),
        report,
        json!({ "i": third,
        "o": at(base + time::Duration::seconds(2)), "s": at(base + time::Duration::seconds(1)) }),
    )
    .await;
    assert_eq!(
        (code.as_str(), field.as_str()),
        ("RULE_VIOLATED", "structureInformedAt")
    );
    french(&message);
    let vars = json!({ "i": third, "o": at(base + time::Duration::seconds(1)),
        "s": at(base + time::Duration::seconds(2)) });
    let (code, ..) = refused(&db, &server, Some(&b), report, vars.clone()).await;
    assert_eq!(code, "NOT_FOUND");
    let reported = appends_one(&db, &server, &a, report, vars).await;
    assert_eq!(last_event(&db).await, "accident_reported");
    let accident = reported["accidentReport"]["accidentId"].clone();
    let declare = "mutation($i: ID!, $ac: ID!, $f: DateTime!) { accidentDeclarationRecord(input: {
        immersionId: $i, accidentId: $ac, filedAt: $f }) { immersion { id } } }";
    let (code, field, message) = refused(
        &db,
        &server,
        Some(&a),
        declare,
        json!({ "i": third, "ac": third, "f": at(now) }),
    )
    .await;
    assert_eq!((code.as_str(), field.as_str()), ("NOT_FOUND", "accidentId"));
    french(&message);
    let (code, ..) = refused(
        &db,
        &server,
        Some(&b),
        declare,
        json!({ "i": third, "ac": accident, "f": at(now) }),
    )
    .await;
    assert_eq!(code, "NOT_FOUND");
    appends_one(
        &db,
        &server,
        &a,
        declare,
        json!({ "i": third, "ac": accident, "f": at(now) }),
    )
    .await;
    assert_eq!(last_event(&db).await, "accident_declaration_filed");
}

#[tokio::test]
async fn a_structure_requires_prevalidation_by_its_managers_setting() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, a) = started(&db, &dir).await;
    create_staff(
        &db,
        &dir,
        "Mission locale de Nantes",
        "manager",
        "direction@ml-nantes.fr",
    );
    let manager = login(&server, "direction@ml-nantes.fr").await;
    let read = "{ structure { name prevalidationRequired } }";
    let setting = ok(&server, &a, read, json!({})).await;
    assert_eq!(setting["structure"]["prevalidationRequired"], false);
    assert_eq!(setting["structure"]["name"], "Mission locale de Nantes");
    let update = "mutation($r: Boolean!) { structureSettingsUpdate(input: {
        prevalidationRequired: $r }) { structure { prevalidationRequired } } }";
    let (code, ..) = refused(&db, &server, Some(&a), update, json!({ "r": true })).await;
    assert_eq!(
        code, "FORBIDDEN",
        "a mediator does not change the structure's rules"
    );
    let (code, ..) = refused(&db, &server, None, update, json!({ "r": true })).await;
    assert_eq!(code, "UNAUTHENTICATED");
    let set = ok(&server, &manager, update, json!({ "r": true })).await;
    assert_eq!(
        set["structureSettingsUpdate"]["structure"]["prevalidationRequired"],
        true
    );
    assert_eq!(
        ok(&server, &a, read, json!({})).await["structure"]["prevalidationRequired"],
        true
    );

    // The convention's validation now waits for its pre-validation.
    let employer = register_employer(&server, &a, "73282932000074", "Boulangerie du Port").await;
    let person = enroll(&server, &a, None).await;
    let today = ok(
        &server,
        &a,
        "query($p: ID!) { person(id: $p) { enrolledOn } }",
        json!({ "p": person }),
    )
    .await["person"]["enrolledOn"]
        .as_str()
        .unwrap()
        .to_owned();
    let immersion = drafted(&server, &a, &person, &employer, &today).await;
    for signatory in ["PERSON", "HOST", "PRESCRIBER"] {
        ok(
            &server,
            &a,
            "mutation($i: ID!, $s: Signatory!) { conventionSign(input: { immersionId: $i,
                signatory: $s }) { immersion { id } } }",
            json!({ "i": immersion, "s": signatory }),
        )
        .await;
    }
    let validate =
        "mutation($i: ID!) { conventionValidate(input: { immersionId: $i }) { immersion { id } } }";
    let (code, field, message) =
        refused(&db, &server, Some(&a), validate, json!({ "i": immersion })).await;
    assert_eq!(
        (code.as_str(), field.as_str()),
        ("RULE_VIOLATED", "immersionId")
    );
    assert!(message.contains("pré-valider"), "{message}");
    ok(
        &server,
        &a,
        "mutation($i: ID!) { conventionPrevalidate(input: { immersionId: $i }) {
            immersion { id } } }",
        json!({ "i": immersion }),
    )
    .await;
    appends_one(&db, &server, &a, validate, json!({ "i": immersion })).await;
    assert_eq!(last_event(&db).await, "convention_validated");
}

#[tokio::test]
async fn commands_reachable_before_are_tried_over_http_too() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, a) = started(&db, &dir).await;
    create_user(&db, &dir, "PLIE Nord", "lea@plie-nord.fr");
    let b = login(&server, "lea@plie-nord.fr").await;
    let employer = register_employer(&server, &a, "73282932000074", "Boulangerie du Port").await;
    let person = enroll(&server, &a, None).await;

    // A person's situation, consents and a peer meeting.
    let situation = "mutation($p: ID!, $w: String!) { situationState(input: { personId: $p,
        words: $w }) { person { id } } }";
    let (code, field, message) = refused(
        &db,
        &server,
        Some(&a),
        situation,
        json!({ "p": person, "w": "" }),
    )
    .await;
    assert_eq!((code.as_str(), field.as_str()), ("BAD_USER_INPUT", "words"));
    french(&message);
    let (code, ..) = refused(
        &db,
        &server,
        Some(&b),
        situation,
        json!({ "p": person, "w": "Je cherche" }),
    )
    .await;
    assert_eq!(code, "NOT_FOUND");
    appends_one(
        &db,
        &server,
        &a,
        situation,
        json!({ "p": person, "w": "Je cherche un métier" }),
    )
    .await;
    assert_eq!(last_event(&db).await, "situation_stated");
    let give = "mutation($p: ID!) { consentGive(input: { personId: $p, purpose: PEER_CONTACT,
        textVersion: \"v1\" }) { person { consentsGiven } } }";
    let (code, ..) = refused(&db, &server, Some(&b), give, json!({ "p": person })).await;
    assert_eq!(code, "NOT_FOUND");
    let given = appends_one(&db, &server, &a, give, json!({ "p": person })).await;
    assert_eq!(
        given["consentGive"]["person"]["consentsGiven"],
        json!(["PEER_CONTACT"])
    );
    assert_eq!(last_event(&db).await, "consent_given");
    let (_, field, message) = refused(&db, &server, Some(&a), give, json!({ "p": person })).await;
    assert_eq!(field, "purpose", "{message}");
    french(&message);
    let meeting = "mutation($p: ID!, $r: [String!]!) { peerMeetingLog(input: { personId: $p,
        peer: \"Ancienne apprentie boulangère\", romeCodes: $r }) { person { id } meetingId } }";
    let (_, field, message) = refused(
        &db,
        &server,
        Some(&a),
        meeting,
        json!({ "p": person, "r": ["Z9999"] }),
    )
    .await;
    assert!(field.starts_with("romeCodes"), "{field}: {message}");
    let (code, ..) = refused(
        &db,
        &server,
        Some(&b),
        meeting,
        json!({ "p": person, "r": ["D1102"] }),
    )
    .await;
    assert_eq!(code, "NOT_FOUND");
    appends_one(
        &db,
        &server,
        &a,
        meeting,
        json!({ "p": person, "r": ["D1102"] }),
    )
    .await;
    assert_eq!(last_event(&db).await, "peer_meeting_held");
    let withdraw = "mutation($p: ID!) { consentWithdraw(input: { personId: $p,
        purpose: PEER_CONTACT }) { person { consentsGiven } } }";
    let (code, ..) = refused(&db, &server, Some(&b), withdraw, json!({ "p": person })).await;
    assert_eq!(code, "NOT_FOUND");
    appends_one(&db, &server, &a, withdraw, json!({ "p": person })).await;
    assert_eq!(last_event(&db).await, "consent_withdrawn");

    // A need closed; any staff member, the need being shared.
    let need = ok(
        &server,
        &a,
        "mutation($e: ID!) { needSurface(input: { employerId: $e, source: { kind: PHONE },
            description: { activities: \"Livraisons\", horizon: NOW, hiringIntent: POSSIBLE } }) {
            need { id } } }",
        json!({ "e": employer }),
    )
    .await["needSurface"]["need"]["id"]
        .clone();
    let close = "mutation($n: ID!, $r: NeedCloseReasonKind!) { needClose(input: { needId: $n,
        reason: $r }) { need { id currentStatus } } }";
    let (_, field, message) = refused(
        &db,
        &server,
        Some(&a),
        close,
        json!({ "n": need, "r": "OTHER" }),
    )
    .await;
    assert_eq!(field, "explanation");
    french(&message);
    let (code, ..) = refused(&db, &server, None, close, json!({ "n": need, "r": "MET" })).await;
    assert_eq!(code, "UNAUTHENTICATED");
    appends_one(
        &db,
        &server,
        &b,
        close,
        json!({ "n": need, "r": "NO_LONGER_NEEDED" }),
    )
    .await;
    assert_eq!(last_event(&db).await, "need_closed");
    // Read back: why, when, by whom; the explanation of another reason too.
    let closure = "query($n: ID!) { need(id: $n) { closure { reason explanation closedOn
        recorded { role } } } }";
    let read = ok(&server, &a, closure, json!({ "n": need })).await;
    let c = &read["need"]["closure"];
    assert_eq!(c["reason"], "NO_LONGER_NEEDED", "{read}");
    assert_eq!(c["explanation"], Value::Null);
    assert!(
        c["closedOn"].is_string() && c["recorded"]["role"] == "mediator",
        "{read}"
    );
    let other = ok(
        &server,
        &a,
        "mutation($e: ID!) { needSurface(input: { employerId: $e, source: { kind: PHONE },
            description: { activities: \"Accueil\", horizon: NOW, hiringIntent: POSSIBLE } }) {
            need { id closure { reason } } } }",
        json!({ "e": employer }),
    )
    .await["needSurface"]["need"]
        .clone();
    assert_eq!(other["closure"], Value::Null, "open: no closure");
    ok(
        &server,
        &a,
        "mutation($n: ID!) { needClose(input: { needId: $n, reason: OTHER,
            explanation: \"Poste supprimé\" }) { need { id } } }",
        json!({ "n": other["id"] }),
    )
    .await;
    let read = ok(&server, &b, closure, json!({ "n": other["id"] })).await;
    assert_eq!(read["need"]["closure"]["reason"], "OTHER", "{read}");
    assert_eq!(read["need"]["closure"]["explanation"], "Poste supprimé");

    // A proposal declined; a convention cancelled; an immersion interrupted.
    let declined = propose(&server, &a, &person, &employer).await;
    let decline = "mutation($i: ID!, $r: String!) { immersionDecline(input: { immersionId: $i,
        by: PERSON, reason: $r }) { immersion { id } } }";
    let (_, field, _) = refused(
        &db,
        &server,
        Some(&a),
        decline,
        json!({ "i": declined, "r": "" }),
    )
    .await;
    assert_eq!(field, "reason");
    let (code, ..) = refused(
        &db,
        &server,
        Some(&b),
        decline,
        json!({ "i": declined, "r": "Trop loin" }),
    )
    .await;
    assert_eq!(code, "NOT_FOUND");
    appends_one(
        &db,
        &server,
        &a,
        decline,
        json!({ "i": declined, "r": "Trop loin" }),
    )
    .await;
    assert_eq!(last_event(&db).await, "proposal_declined");
}

#[tokio::test]
async fn a_convention_cancelled_and_an_immersion_interrupted_over_http() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, a) = started(&db, &dir).await;
    create_user(&db, &dir, "PLIE Nord", "lea@plie-nord.fr");
    let b = login(&server, "lea@plie-nord.fr").await;
    let employer = register_employer(&server, &a, "73282932000074", "Boulangerie du Port").await;
    let person = enroll(&server, &a, None).await;
    let today = ok(
        &server,
        &a,
        "query($p: ID!) { person(id: $p) { enrolledOn } }",
        json!({ "p": person }),
    )
    .await["person"]["enrolledOn"]
        .as_str()
        .unwrap()
        .to_owned();

    let first = validated(&server, &a, &person, &employer, &today).await;
    let cancel = "mutation($i: ID!, $r: String!) { conventionCancel(input: { immersionId: $i,
        by: EMPLOYER, reason: $r }) { immersion { id } } }";
    let (_, field, message) = refused(
        &db,
        &server,
        Some(&a),
        cancel,
        json!({ "i": first, "r": "" }),
    )
    .await;
    assert_eq!(field, "reason");
    french(&message);
    let (code, ..) = refused(
        &db,
        &server,
        Some(&b),
        cancel,
        json!({ "i": first, "r": "Fermeture" }),
    )
    .await;
    assert_eq!(code, "NOT_FOUND");
    appends_one(
        &db,
        &server,
        &a,
        cancel,
        json!({ "i": first, "r": "Fermeture" }),
    )
    .await;
    assert_eq!(last_event(&db).await, "convention_cancelled");

    let second = validated(&server, &a, &person, &employer, &today).await;
    let interrupt = "mutation($i: ID!, $r: String!) { immersionInterrupt(input: {
        immersionId: $i, by: PERSON, reason: $r }) { immersion { id } } }";
    let (_, field, message) = refused(
        &db,
        &server,
        Some(&a),
        interrupt,
        json!({ "i": second, "r": "Malade" }),
    )
    .await;
    assert!(!field.is_empty(), "not started: {message}");
    french(&message);
    ok(
        &server,
        &a,
        "mutation($i: ID!) { immersionStart(input: { immersionId: $i }) { immersion { id } } }",
        json!({ "i": second }),
    )
    .await;
    let (code, ..) = refused(
        &db,
        &server,
        Some(&b),
        interrupt,
        json!({ "i": second, "r": "Malade" }),
    )
    .await;
    assert_eq!(code, "NOT_FOUND");
    appends_one(
        &db,
        &server,
        &a,
        interrupt,
        json!({ "i": second, "r": "Malade" }),
    )
    .await;
    assert_eq!(last_event(&db).await, "immersion_interrupted");
}
