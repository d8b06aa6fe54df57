//! Erasing a person, checked on the raw tables: nothing of them left in
//! clear anywhere in the database, nothing left that can be decrypted, no
//! session, no mail, while every dashboard answers the same before and
//! after, and after every projection is rebuilt from the log.

mod common;
#[path = "support/pages.rs"]
mod pages;

use std::time::Duration;

use common::*;
use passerelle_store::testkit::TestDb;
use serde_json::{Value, json};
use uuid::Uuid;

const ERASE: &str = "mutation($p: ID!, $c: Boolean!, $r: ErasureReason!, $x: String) {
    personErase(input: { personId: $p, reason: $r, explanation: $x, confirm: $c }) {
        personId erasedOn reason } }";

const DASHBOARDS: &str = "{
    immersionFunnel { steps { count rateFromPrevious medianDaysFromPrevious } }
    immersionOutcomes { cells { count } }
    needsConversion { visits bySource { needs ledToHire } }
    projectReadjustments { projects byIterations { people } }
    employerEngagement { visits proposals waitingOverSevenDays } }";

/// The dashboards once their projection has read the whole log (its
/// checkpoint at the last event), then the same answer twice in a row: a
/// loaded machine may hold the projection back longer than any fixed wait.
/// (The views written in the command's own transaction keep no checkpoint.)
async fn dashboards(db: &TestDb, server: &Server, token: &str) -> Value {
    let behind = "select count(*) from projection_checkpoints
                  where status = 'live' and projection = 'dashboards'
                    and global_position < (select coalesce(max(global_position), 0) from events)";
    for waited in 0.. {
        let n: i64 = sqlx::query_scalar(behind)
            .fetch_one(&db.pool)
            .await
            .unwrap();
        if n == 0 {
            break;
        }
        assert!(waited < 600, "the dashboards never caught up with the log");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut last = gql(server, Some(token), DASHBOARDS, json!({})).await;
    assert!(last["errors"].is_null(), "{last}");
    for _ in 0..30 {
        let answer = gql(server, Some(token), DASHBOARDS, json!({})).await;
        assert!(answer["errors"].is_null(), "{answer}");
        if answer == last {
            return answer;
        }
        last = answer;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("the dashboards kept changing: {last}")
}

/// Every place in the database where `needle` is written in clear: each
/// text, text array and JSON column of every table outside PostgreSQL's own.
async fn plaintext(db: &TestDb, needle: &str) -> Vec<String> {
    let columns: Vec<(String, String, String)> = sqlx::query_as(
        "select table_schema::text, table_name::text, column_name::text
         from information_schema.columns c
         join information_schema.tables t using (table_schema, table_name)
         where t.table_type = 'BASE TABLE'
           and table_schema not in ('pg_catalog', 'information_schema')
           and (data_type in ('text', 'character varying', 'json', 'jsonb', 'bytea')
                or udt_name in ('_text', '_varchar'))",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert!(columns.len() > 20, "{columns:?}");
    let mut found = Vec::new();
    for (schema, table, column) in columns {
        // Names read from the catalogue, quoted: no input of the test's.
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "select count(*) from \"{schema}\".\"{table}\"
             where position(lower($1) in lower(\"{column}\"::text)) > 0"
        )))
        .bind(needle)
        .fetch_one(&db.pool)
        .await
        .unwrap();
        if n > 0 {
            found.push(format!("{schema}.{table}.{column} ({n})"));
        }
    }
    found
}

/// Where `needle` is still in clear once the asynchronous projections have
/// had their time to purge it (the mails' parties), up to 15 s: what an
/// event holds in clear stays there however long one waits.
async fn left_in_clear(db: &TestDb, needle: &str) -> Vec<String> {
    for _ in 0..30 {
        let found = plaintext(db, needle).await;
        if found.is_empty() {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    plaintext(db, needle).await
}

async fn scalar(db: &TestDb, sql: &'static str, person: Uuid) -> i64 {
    sqlx::query_scalar(sql)
        .bind(person)
        .fetch_one(&db.pool)
        .await
        .unwrap()
}

/// What identifies Awa Diallo in clear, in her file and her convention.
const HERS: [&str; 4] = [
    "Diallo",
    "awa.diallo@exemple.fr",
    "rue des Lilas",
    "Lucie Bernard",
];

/// What she or her mediator wrote about her path in their own words: what
/// a readjustment of her project changed, why she left the accompaniment, a
/// proposal's message and why she declined it.
const HER_WORDS: [&str; 4] = [
    "Quignonnerie de Tréméven",
    "Mirabelle-sur-Odet",
    "Kerlouan-Plouguerneau",
    "Locmariaquer-Belz",
];

#[tokio::test]
async fn an_erased_person_leaves_no_trace_and_the_figures_stay() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, mediator) = started_with_links(&db, &dir).await;
    create_staff(
        &db,
        &dir,
        "Mission locale de Nantes",
        "manager",
        "dominique@ml-nantes.fr",
    );
    let manager = login(&server, "dominique@ml-nantes.fr").await;
    create_staff(
        &db,
        &dir,
        "Cap emploi Rennes",
        "manager",
        "sacha@cap-rennes.fr",
    );
    let elsewhere = login(&server, "sacha@cap-rennes.fr").await;

    let employer =
        register_employer(&server, &mediator, "73282932000074", "Boulangerie du Port").await;
    let person = enroll(&server, &mediator, Some("awa.diallo@exemple.fr")).await;
    let awa: Uuid = person.as_str().unwrap().parse().unwrap();
    // Someone else, who stays: the search below does find names in clear.
    let kept = gql(
        &server,
        Some(&mediator),
        "mutation { personEnroll(input: { firstName: \"Yanis\", lastName: \"Kerbrat\",
            birthDate: \"1990-02-03\", email: \"yanis.kerbrat@exemple.fr\" }) { person { id } } }",
        json!({}),
    )
    .await;
    assert!(kept["errors"].is_null(), "{kept}");
    let immersion = propose(&server, &mediator, &person, &employer).await;
    for by in ["PERSON", "EMPLOYER"] {
        let accepted = gql(
            &server,
            Some(&mediator),
            "mutation($i: ID!, $by: Party!) { immersionAccept(input: { immersionId: $i, by: $by }) { immersion { stage } } }",
            json!({ "i": immersion, "by": by }),
        )
        .await;
        assert!(accepted["errors"].is_null(), "{accepted}");
    }
    let today = paris_today().to_string();
    let mut c = convention(&today, 35.0);
    c["person"]["identity"]["email"] = json!("awa.diallo@exemple.fr");
    let drafted = gql(
        &server,
        Some(&mediator),
        "mutation($i: ID!, $c: ConventionInput!) {
            conventionDraft(input: { immersionId: $i, convention: $c }) { immersion { stage } } }",
        json!({ "i": immersion, "c": c }),
    )
    .await;
    assert!(drafted["errors"].is_null(), "{drafted}");

    // Her own session, by a link to her address.
    let her = link_session(&server, "awa.diallo@exemple.fr", 0).await;
    let own = "query($i: ID!) { immersion(id: $i) { id } }";
    let seen = gql(&server, Some(&her), own, json!({ "i": immersion })).await;
    assert_eq!(seen["data"]["immersion"]["id"], immersion, "{seen}");

    // Her path in words that may name her: a readjustment of her project
    // after a job inquiry, then her exit for another reason.
    let path = |q: &'static str| {
        let (server, mediator, person) = (&server, &mediator, &person);
        async move {
            let answer = gql(server, Some(mediator), q, json!({ "p": person })).await;
            assert!(answer["errors"].is_null(), "{answer}");
            answer
        }
    };
    path(
        "mutation($p: ID!) { projectState(input: { personId: $p,
            project: { targetRomeCodes: [\"D1102\"] } }) { person { id } } }",
    )
    .await;
    let inquiry = path(
        "mutation($p: ID!) { jobInquiryLog(input: { personId: $p, romeCode: \"D1104\",
            withWhom: \"Pâtisserie du centre\" }) { inquiryId } }",
    )
    .await;
    let inquiry = inquiry["data"]["jobInquiryLog"]["inquiryId"].clone();
    let readjusted = gql(
        &server,
        Some(&mediator),
        "mutation($p: ID!, $i: ID!, $w: String!) { projectReadjust(input: { personId: $p,
            cause: { kind: JOB_INQUIRY, id: $i }, project: { targetRomeCodes: [\"D1104\"] },
            whatChanged: $w }) { person { projectVersions { whatChanged } } } }",
        json!({ "p": person, "i": inquiry,
                "w": format!("Après son enquête à la {}", HER_WORDS[0]) }),
    )
    .await;
    assert!(readjusted["errors"].is_null(), "{readjusted}");
    let declined = gql(
        &server,
        Some(&mediator),
        "mutation($p: ID!, $e: ID!, $m: String!) { immersionPropose(input: { personId: $p,
            employerId: $e, objective: DISCOVER_JOB_OR_SECTOR, message: $m }) { immersion { id } } }",
        json!({ "p": person, "e": employer,
                "m": format!("Awa, une semaine à {} ?", HER_WORDS[2]) }),
    )
    .await;
    assert!(declined["errors"].is_null(), "{declined}");
    let declined = gql(
        &server,
        Some(&mediator),
        "mutation($i: ID!, $r: String!) { immersionDecline(input: { immersionId: $i, by: PERSON,
            reason: $r }) { immersion { stage } } }",
        json!({ "i": declined["data"]["immersionPropose"]["immersion"]["id"],
                "r": format!("Trop loin de {}", HER_WORDS[3]) }),
    )
    .await;
    assert!(declined["errors"].is_null(), "{declined}");
    let exited = gql(
        &server,
        Some(&mediator),
        "mutation($p: ID!, $x: String!) { personExit(input: { personId: $p, reason: OTHER,
            explanation: $x }) { person { exit { explanation } } } }",
        json!({ "p": person, "x": format!("Part vivre chez sa tante à {}", HER_WORDS[1]) }),
    )
    .await;
    assert!(exited["errors"].is_null(), "{exited}");
    assert!(
        exited["data"]["personExit"]["person"]["exit"]["explanation"]
            .as_str()
            .is_some_and(|x| x.contains(HER_WORDS[1])),
        "read back while she is not erased: {exited}"
    );

    let before = dashboards(&db, &server, &manager).await;
    let found = plaintext(&db, "Diallo").await;
    assert!(!found.is_empty(), "her name is in the people view before");

    // A mediator, even her referent, may not; another structure's manager
    // does not even see her; a manager must confirm.
    let vars = |confirm: bool| json!({ "p": person, "c": confirm, "r": "PERSON_REQUEST" });
    let refused = gql(&server, Some(&mediator), ERASE, vars(true)).await;
    assert_eq!(error(&refused).0, "FORBIDDEN", "{refused}");
    let refused = gql(&server, Some(&elsewhere), ERASE, vars(true)).await;
    assert_eq!(error(&refused).0, "NOT_FOUND", "{refused}");
    let refused = gql(&server, Some(&manager), ERASE, vars(false)).await;
    let (code, field, message) = error(&refused);
    assert_eq!(
        (code.as_str(), field.as_str()),
        ("BAD_USER_INPUT", "confirm"),
        "{refused}"
    );
    assert!(message.contains("Confirmez"), "{message}");
    let refused = gql(
        &server,
        Some(&manager),
        ERASE,
        json!({ "p": person, "c": true, "r": "OTHER" }),
    )
    .await;
    assert_eq!(error(&refused).1, "explanation", "{refused}");
    assert_eq!(
        scalar(
            &db,
            "select count(*) from subject_keys where subject_id = $1",
            awa
        )
        .await,
        1,
        "nothing erased by a refusal"
    );

    let erased = gql(
        &server,
        Some(&manager),
        ERASE,
        json!({ "p": person, "c": true, "r": "PERSON_REQUEST",
                "x": "Demande écrite de Mme Diallo du 3 mars" }),
    )
    .await;
    assert!(erased["errors"].is_null(), "{erased}");
    assert_eq!(erased["data"]["personErase"]["reason"], "PERSON_REQUEST");

    // Her session is over.
    let after = gql(&server, Some(&her), own, json!({ "i": immersion })).await;
    assert_eq!(error(&after).0, "UNAUTHENTICATED", "{after}");

    let check = |label: &'static str| {
        let (db, server, manager, before) = (&db, &server, &manager, &before);
        async move {
            for needle in HERS.into_iter().chain(HER_WORDS) {
                let found = left_in_clear(db, needle).await;
                assert!(found.is_empty(), "{label}: {needle} in clear in {found:?}");
            }
            let found = plaintext(db, "Kerbrat").await;
            assert!(!found.is_empty(), "{label}: the search finds what is there");
            // Her key is gone: what is sealed with it cannot be opened.
            assert_eq!(
                scalar(
                    db,
                    "select count(*) from subject_keys where subject_id = $1",
                    awa
                )
                .await,
                0,
                "{label}"
            );
            assert!(
                scalar(
                    db,
                    "select count(*) from events where data::text like '%' || $1::text || '%'
                     and data::text like '%$sealed%'",
                    awa
                )
                .await
                    > 0,
                "{label}: her events are still there, sealed"
            );
            // No row of hers with personal data in the views, no mail.
            assert_eq!(
                scalar(
                    db,
                    "select count(*) from people.people where person_id = $1
                     and (first_name is not null or last_name is not null or email is not null
                          or not erased)",
                    awa
                )
                .await,
                0,
                "{label}"
            );
            assert_eq!(
                scalar(
                    db,
                    "select count(*) from notifications.parties where person_id = $1
                     and (contacts ? 'person' or contacts ? 'legal_representative'
                          or contacts ? 'tutor')",
                    awa
                )
                .await,
                0,
                "{label}"
            );
            assert_eq!(
                scalar(
                    db,
                    "select count(*) from outbox where recipient ->> 'person_id' = $1::text
                     or (immersion_id in (select immersion_id from immersions.immersions
                                          where person_id = $1)
                         and state in ('queued', 'sending', 'failed'))",
                    awa
                )
                .await,
                0,
                "{label}"
            );
            assert_eq!(
                scalar(
                    db,
                    "select count(*) from principal_sessions where principal_id = $1
                     and revoked_at is null",
                    awa
                )
                .await
                    + scalar(
                        db,
                        "select count(*) from magic_links where principal_id = $1",
                        awa
                    )
                    .await,
                0,
                "{label}"
            );
            let now = dashboards(db, server, manager).await;
            assert_eq!(&now, before, "{label}: the figures stay");
        }
    };
    check("after the erasure").await;

    // Erasing again: refused in French, the log still folds.
    let again = gql(&server, Some(&manager), ERASE, vars(true)).await;
    let (code, field, message) = error(&again);
    assert_eq!(
        (code.as_str(), field.as_str()),
        ("RULE_VIOLATED", "personId"),
        "{again}"
    );
    assert!(message.contains("effacées"), "{message}");

    // Every projection rebuilt from the log, with her values unreadable.
    let status = passerelle(&db, &dir, &["projections", "status"]);
    let text = String::from_utf8_lossy(&status.stdout).to_string();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let names: Vec<String> = text
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|w| w.chars().all(|c| c.is_ascii_lowercase() || c == '_') && !w.is_empty())
        // The header.
        .filter(|w| *w != "projection")
        .map(str::to_owned)
        .collect();
    assert!(names.iter().any(|n| n == "people"), "{text}");
    for name in &names {
        let out = passerelle(&db, &dir, &["projections", "rebuild", name]);
        assert!(
            out.status.success(),
            "rebuild {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    check("after rebuilding every projection").await;
}

#[tokio::test]
async fn an_operator_erases_at_a_managers_request_from_the_command_line() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, mediator) = started_with_links(&db, &dir).await;
    create_staff(
        &db,
        &dir,
        "Mission locale de Nantes",
        "manager",
        "dominique@ml-nantes.fr",
    );
    create_staff(
        &db,
        &dir,
        "Cap emploi Rennes",
        "manager",
        "sacha@cap-rennes.fr",
    );
    let person = enroll(&server, &mediator, Some("awa.diallo@exemple.fr")).await;
    let id = person.as_str().unwrap().to_owned();
    let awa: Uuid = id.parse().unwrap();
    let key = "select count(*) from subject_keys where subject_id = $1";
    let erase = |by: &'static str, yes: bool| {
        let mut args = vec![
            "people",
            "erase",
            id.as_str(),
            "--reason",
            "end-of-retention",
            "--by",
            by,
        ];
        if yes {
            args.push("--yes");
        }
        passerelle(&db, &dir, &args)
    };

    // Without confirmation, at a mediator's or another structure's
    // manager's request: nothing done.
    for (by, yes) in [
        ("dominique@ml-nantes.fr", false),
        ("camille@ml-nantes.fr", true),
        ("sacha@cap-rennes.fr", true),
    ] {
        let out = erase(by, yes);
        assert!(!out.status.success(), "{by}");
        assert_eq!(scalar(&db, key, awa).await, 1, "{by}");
    }

    let out = erase("dominique@ml-nantes.fr", true);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("erased"));
    assert_eq!(scalar(&db, key, awa).await, 0);
    let found = plaintext(&db, "Diallo").await;
    assert!(found.is_empty(), "{found:?}");
    let recorded: (String, String) = sqlx::query_as(
        "select data::jsonb ->> 'reason', actor from events where event_type = 'person_erased'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        recorded,
        ("end_of_retention".to_owned(), "system:cli".to_owned())
    );

    // Again: nothing more to do, said so.
    let out = erase("dominique@ml-nantes.fr", true);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("already erased"));
}

#[tokio::test]
async fn a_command_on_an_erased_persons_data_is_refused_in_french() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, mediator) = started(&db, &dir).await;
    create_staff(
        &db,
        &dir,
        "Mission locale de Nantes",
        "manager",
        "dominique@ml-nantes.fr",
    );
    let manager = login(&server, "dominique@ml-nantes.fr").await;
    let person = enroll(&server, &mediator, None).await;
    let consent = gql(
        &server,
        Some(&mediator),
        "mutation($p: ID!) { consentGive(input: { personId: $p, purpose: TESTIMONY,
            textVersion: \"v1\", signedForm: true }) { person { id } } }",
        json!({ "p": person }),
    )
    .await;
    assert!(consent["errors"].is_null(), "{consent}");
    let erased = gql(
        &server,
        Some(&manager),
        ERASE,
        json!({ "p": person, "c": true, "r": "PERSON_REQUEST" }),
    )
    .await;
    assert!(erased["errors"].is_null(), "{erased}");

    // A testimony is sealed with her key, which is gone: a client's
    // request, refused as such, not an internal error.
    let recorded = gql(
        &server,
        Some(&mediator),
        "mutation($p: ID!) { testimonyRecord(input: { personId: $p,
            account: \"De la logistique à la boulangerie\", romeCodes: [\"D1102\"],
            audience: OWN_STRUCTURE_MEDIATORS }) { testimonyId } }",
        json!({ "p": person }),
    )
    .await;
    let (code, _, message) = error(&recorded);
    assert_ne!(code, "INTERNAL", "{recorded}");
    assert!(message.contains("effacées"), "{message}");
}

/// A mutation's answer kept under its command id may quote the person:
/// the erasure forgets the answers kept for her structure, so the request
/// sent again within the hour no longer gives her name back.
#[tokio::test]
async fn an_erasure_forgets_the_answers_kept_under_command_ids() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, mediator) = started(&db, &dir).await;
    create_staff(
        &db,
        &dir,
        "Mission locale de Nantes",
        "manager",
        "dominique@ml-nantes.fr",
    );
    let manager = login(&server, "dominique@ml-nantes.fr").await;
    let command = Uuid::new_v4();
    let enrol = "mutation($c: UUID) { personEnroll(input: { firstName: \"Awa\",
        lastName: \"Diallo\", birthDate: \"2001-05-12\", commandId: $c }) {
        person { id firstName lastName } } }";
    let first = gql(&server, Some(&mediator), enrol, json!({ "c": command })).await;
    assert!(first["errors"].is_null(), "{first}");
    let person = first["data"]["personEnroll"]["person"]["id"].clone();
    let again = gql(&server, Some(&mediator), enrol, json!({ "c": command })).await;
    assert_eq!(again, first, "the kept answer");
    let kept = || async {
        sqlx::query_scalar::<_, i64>("select count(*) from command_answers where command_id = $1")
            .bind(command)
            .fetch_one(&db.pool)
            .await
            .unwrap()
    };
    assert_eq!(kept().await, 1);

    let erased = gql(
        &server,
        Some(&manager),
        ERASE,
        json!({ "p": person, "c": true, "r": "PERSON_REQUEST" }),
    )
    .await;
    assert!(erased["errors"].is_null(), "{erased}");
    assert_eq!(kept().await, 0, "her structure's kept answers are gone");
    let after = gql(&server, Some(&mediator), enrol, json!({ "c": command })).await;
    let text = after.to_string();
    assert!(!text.contains("Awa") && !text.contains("Diallo"), "{after}");
    assert!(server.terminate().success());
}

/// The mails projection's batch and an erasure of the person it mails
/// about are serialised: a batch that read the person as not erased cannot
/// commit its mail after the erasure deleted theirs. Here the erasure's
/// lock is held by hand while an immersion is proposed to her; the batch
/// waits for it, then sees her erased and queues nothing.
#[tokio::test]
async fn a_mail_queued_while_the_person_is_being_erased_does_not_stay() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, mediator) = started(&db, &dir).await;
    let employer =
        register_employer(&server, &mediator, "73282932000074", "Boulangerie du Port").await;
    let person = enroll(&server, &mediator, Some("awa.diallo@exemple.fr")).await;
    let awa: Uuid = person.as_str().unwrap().parse().unwrap();
    let theirs = "select count(*) from outbox where recipient ->> 'person_id' = $1::text";
    // Her enrolment mails nothing; a proposal mails her.
    assert_eq!(scalar(&db, theirs, awa).await, 0);

    // An erasure under way: its lock taken, its mark not yet committed.
    let mut erasure = db.pool.begin().await.unwrap();
    sqlx::query("select pg_advisory_xact_lock(hashtextextended($1::text, 0))")
        .bind(awa)
        .execute(&mut *erasure)
        .await
        .unwrap();
    let immersion = propose(&server, &mediator, &person, &employer).await;
    assert!(immersion.is_string(), "{immersion}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        scalar(&db, theirs, awa).await,
        0,
        "the batch waits for the erasure"
    );
    sqlx::query("insert into erased_subjects (subject_id) values ($1)")
        .bind(awa)
        .execute(&mut *erasure)
        .await
        .unwrap();
    erasure.commit().await.unwrap();
    // The batch goes on, and queues nothing about her.
    let caught_up = "select count(*) from notifications.parties where person_id = $1";
    for _ in 0..50 {
        if scalar(&db, caught_up, awa).await > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(scalar(&db, caught_up, awa).await, 1, "the batch committed");
    assert_eq!(scalar(&db, theirs, awa).await, 0, "no mail about her stays");
    assert!(server.terminate().success());
}

/// An employer's contact's personal data erased: their name, email and
/// phone (sealed with their own key) unreadable, in clear nowhere in the
/// database, the contact removed, no mail to them kept; the structure that
/// added them only, after a confirmation.
#[tokio::test]
async fn an_erased_employer_contact_leaves_no_trace() {
    const ADDED_UNDER: &str = "5f0c2d1e-8a47-4b6e-9d3a-2c7e1b9f4a60";
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, mediator) = started(&db, &dir).await;
    create_user(&db, &dir, "Cap emploi Rennes", "yann@cap-rennes.fr");
    let elsewhere = login(&server, "yann@cap-rennes.fr").await;
    let employer =
        register_employer(&server, &mediator, "73282932000074", "Boulangerie du Port").await;
    let added = gql(
        &server,
        Some(&mediator),
        "mutation($e: ID!, $k: UUID) { employerContactAdd(input: { employerId: $e,
            name: \"Maëlle Quéré\", jobTitle: \"Gérante\", email: \"maelle.quere@exemple.fr\",
            phone: \"06 11 22 33 44\", commandId: $k }) {
            employer { contacts { id email } } } }",
        json!({ "e": employer, "k": ADDED_UNDER }),
    )
    .await;
    assert!(added["errors"].is_null(), "{added}");
    // Its answer, which names her, is kept under its command id (sealed).
    let kept = "select count(*) from command_answers where command_id = $1";
    let added_under: Uuid = ADDED_UNDER.parse().unwrap();
    assert_eq!(scalar(&db, kept, added_under).await, 1, "kept before");
    let contact = added["data"]["employerContactAdd"]["employer"]["contacts"][0]["id"].clone();
    let id: Uuid = contact.as_str().unwrap().parse().unwrap();
    assert!(
        !plaintext(&db, "maelle.quere").await.is_empty(),
        "in the view before"
    );
    let erase = "mutation($e: ID!, $ct: ID!, $c: Boolean!) { employerContactErase(input: {
        employerId: $e, contactId: $ct, confirm: $c }) { employerId contactId erasedOn } }";
    let vars = |c: bool| json!({ "e": employer, "ct": contact, "c": c });

    let refused = gql(&server, Some(&elsewhere), erase, vars(true)).await;
    assert_eq!(error(&refused).0, "NOT_FOUND", "{refused}");
    let refused = gql(&server, Some(&mediator), erase, vars(false)).await;
    assert_eq!(
        (error(&refused).0.as_str(), error(&refused).1.as_str()),
        ("BAD_USER_INPUT", "confirm"),
        "{refused}"
    );
    assert_eq!(
        scalar(
            &db,
            "select count(*) from subject_keys where subject_id = $1",
            id
        )
        .await,
        1,
        "nothing erased by a refusal"
    );

    let erased = gql(&server, Some(&mediator), erase, vars(true)).await;
    assert!(erased["errors"].is_null(), "{erased}");
    assert_eq!(erased["data"]["employerContactErase"]["contactId"], contact);
    for needle in ["maelle.quere", "Quéré", "06 11 22 33 44", "0611223344"] {
        let found = plaintext(&db, needle).await;
        assert!(found.is_empty(), "{needle} in clear in {found:?}");
    }
    assert_eq!(
        scalar(&db, kept, added_under).await,
        0,
        "the answer naming her forgotten"
    );
    for (sql, expected) in [
        ("select count(*) from subject_keys where subject_id = $1", 0),
        (
            "select count(*) from erased_subjects where subject_id = $1",
            1,
        ),
        (
            "select count(*) from employers.contacts where contact_id = $1",
            0,
        ),
        (
            "select count(*) from outbox where recipient ->> 'contact_id' = $1::text",
            0,
        ),
        (
            "select count(*) from events where stream_id = 'subject-' || $1::text",
            1,
        ),
    ] {
        assert_eq!(scalar(&db, sql, id).await, expected, "{sql}");
    }
    let file = gql(
        &server,
        Some(&mediator),
        "query($e: ID!) { employer(id: $e) { contacts { id } } }",
        json!({ "e": employer }),
    )
    .await;
    assert_eq!(file["data"]["employer"]["contacts"], json!([]), "{file}");
    // Once erased, the contact is gone: as if it never was.
    let again = gql(&server, Some(&mediator), erase, vars(true)).await;
    assert_eq!(error(&again).0, "NOT_FOUND", "{again}");
    assert!(server.terminate().success());
}

/// Words recorded before free texts were sealed, as an older version wrote
/// them: in clear in the events (schema version 1 of their types): what a
/// readjustment changed, why she left, why she declined a proposal, her
/// other situation in a convention and why a renewal's goals were not
/// reached.
const OLD_WORDS: [&str; 5] = [
    "Plouzané-Lanildut",
    "Landévennec-Crozon",
    "Trégunc-Névez",
    "Pouldreuzic-Penhors",
    "Douarnenez-Tréboul",
];

/// The store the server runs with: its master key, the domain's upcasters.
fn servers_store(db: &TestDb, dir: &tempdir::Dir) -> passerelle_store::Store {
    let key = std::fs::read_to_string(dir.path().join("master.key")).unwrap();
    passerelle_store::Store::new(
        db.pool.clone(),
        passerelle_store::Keyring::new(&passerelle_store::MasterKey::from_base64(&key).unwrap()),
        passerelle_app::upcasters(),
    )
}

/// `data` of `event_type` at schema version 1, from its committed snapshot.
fn old_event(event_type: &str, change: impl FnOnce(&mut Value)) -> Value {
    let path = format!(
        "{}/crates/domain/tests/snapshots/events/{event_type}.v1.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut data: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    change(&mut data);
    data
}

#[tokio::test]
async fn an_erasure_writes_over_the_words_recorded_in_clear_before_they_were_sealed() {
    use passerelle_store::{Append, ExpectedVersion, Metadata, NewEvent};

    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, mediator) = started_with_links(&db, &dir).await;
    create_staff(
        &db,
        &dir,
        "Mission locale de Nantes",
        "manager",
        "dominique@ml-nantes.fr",
    );
    let manager = login(&server, "dominique@ml-nantes.fr").await;
    let employer =
        register_employer(&server, &mediator, "73282932000074", "Boulangerie du Port").await;
    let person = enroll(&server, &mediator, None).await;
    let awa: Uuid = person.as_str().unwrap().parse().unwrap();
    let declined = propose(&server, &mediator, &person, &employer).await;
    let renewed = propose(&server, &mediator, &person, &employer).await;

    // Her path as an older version recorded it: each free text in clear,
    // beside what was sealed with her key from the start.
    let store = servers_store(&db, &dir);
    let old = |event_type: &str, change: &dyn Fn(&mut Value)| {
        NewEvent::new(event_type, 1, old_event(event_type, change)).about(awa)
    };
    let stream = |id: &Value| format!("immersion-{}", id.as_str().unwrap());
    let histories = [
        (
            format!("person-{awa}"),
            vec![
                old("project_readjusted", &|d| {
                    d["what_changed"] = json!(OLD_WORDS[0])
                }),
                old("person_exited", &|d| {
                    d["reason"] = json!({"kind": "other", "explanation": OLD_WORDS[1]})
                }),
            ],
        ),
        (
            stream(&declined),
            vec![old("proposal_declined", &|d| {
                d["reason"] = json!(OLD_WORDS[2])
            })],
        ),
        (
            stream(&renewed),
            vec![
                old("convention_drafted", &|d| {
                    d["convention"]["person"]["situation"] =
                        json!({"kind": "other", "description": OLD_WORDS[3]})
                }),
                old("convention_renewed", &|d| {
                    d["terms"]["why_goals_not_reached"] = json!(OLD_WORDS[4])
                }),
            ],
        ),
    ];
    let metadata = Metadata {
        actor: "user:old-version".into(),
        role: "mediator".into(),
        structure: Uuid::new_v4(),
        correlation_id: Uuid::new_v4(),
        causation_id: None,
        command_id: Uuid::new_v4(),
    };
    for (i, (stream_id, events)) in histories.iter().enumerate() {
        let metadata = Metadata {
            command_id: Uuid::new_v4(),
            ..metadata.clone()
        };
        store
            .append(&Append {
                stream_id,
                expected: ExpectedVersion::Any,
                events,
                metadata: &metadata,
                recorded_at: None,
            })
            .await
            .unwrap_or_else(|e| panic!("history {i}: {e}"));
    }
    for needle in OLD_WORDS {
        assert!(
            !plaintext(&db, needle).await.is_empty(),
            "{needle} is in clear in the events before"
        );
    }

    // Read back through the API while she is not erased: her export holds
    // every one, her immersions the ones about them.
    let export = gql(
        &server,
        Some(&manager),
        "query($p: ID!) { personDataExport(personId: $p) { document } }",
        json!({ "p": person }),
    )
    .await;
    assert!(export["errors"].is_null(), "{export}");
    let export = export.to_string();
    for needle in OLD_WORDS {
        assert!(
            export.contains(needle),
            "{needle} not in the export: {export}"
        );
    }
    let immersions = |token: &str| {
        let (server, token) = (&server, token.to_owned());
        let ids = json!([declined, renewed]);
        async move {
            let mut texts = String::new();
            for id in ids.as_array().unwrap() {
                let answer = gql(
                    server,
                    Some(&token),
                    "query($i: ID!) { immersion(id: $i) { decline { reason }
                        convention { person { situation { kind description } }
                                     renewal { whyGoalsNotReached } } } }",
                    json!({ "i": id }),
                )
                .await;
                assert!(answer["errors"].is_null(), "{answer}");
                texts.push_str(&answer.to_string());
            }
            texts
        }
    };
    let before = immersions(&manager).await;
    for needle in &OLD_WORDS[2..] {
        assert!(before.contains(needle), "{needle} not read back: {before}");
    }

    let erased = gql(
        &server,
        Some(&manager),
        ERASE,
        json!({ "p": person, "c": true, "r": "PERSON_REQUEST" }),
    )
    .await;
    assert!(erased["errors"].is_null(), "{erased}");

    let check = |label: &'static str| {
        let (db, store, immersions) = (&db, &store, &immersions);
        let manager = manager.clone();
        let streams: Vec<String> = histories.iter().map(|(s, _)| s.clone()).collect();
        async move {
            for needle in OLD_WORDS {
                let found = left_in_clear(db, needle).await;
                assert!(found.is_empty(), "{label}: {needle} in clear in {found:?}");
            }
            let read = immersions(&manager).await;
            for needle in OLD_WORDS {
                assert!(
                    !read.contains(needle),
                    "{label}: {needle} read back: {read}"
                );
            }
            assert!(
                read.contains("\"OTHER\""),
                "{label}: the figures' part stays: {read}"
            );
            // Replayed by the store, each reads as erased, the rest as it was.
            let mut conn = db.pool.acquire().await.unwrap();
            for stream in &streams {
                for event in store.read_stream(&mut conn, stream, 1).await.unwrap() {
                    let text = event.data.get();
                    assert!(
                        OLD_WORDS.iter().all(|w| !text.contains(w)),
                        "{label}: {stream}: {text}"
                    );
                }
            }
            let exited = store
                .read_stream(&mut conn, &streams[0], 1)
                .await
                .unwrap()
                .into_iter()
                .find(|e| e.event_type == "person_exited")
                .unwrap();
            assert_eq!(exited.schema_version, 2, "{label}");
            assert_eq!(
                exited.value()["reason"],
                json!({"kind": "other", "explanation": {"$erased": true}}),
                "{label}"
            );
        }
    };
    check("after the erasure").await;

    // Asked again, as for someone erased before this was done: nothing
    // left to write over, refused as before.
    let again = gql(
        &server,
        Some(&manager),
        ERASE,
        json!({ "p": person, "c": true, "r": "PERSON_REQUEST" }),
    )
    .await;
    assert_eq!(error(&again).0, "RULE_VIOLATED", "{again}");

    // The views that read these events, rebuilt from the log.
    for name in [
        "people",
        "immersions",
        "dashboards",
        "inbox",
        "notifications",
    ] {
        let out = passerelle(&db, &dir, &["projections", "rebuild", name]);
        assert!(
            out.status.success(),
            "rebuild {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    check("after rebuilding the views").await;
}

/// The register of erasures: the structure's managers read which files
/// were erased, when, why and by whom, newest first and a page at a time,
/// on a page of the administration; the people list no longer shows the
/// erased; a mediator and another structure's manager read no register of
/// this structure.
#[tokio::test]
async fn the_erasures_are_kept_in_a_register_and_leave_the_people_list() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, mediator) = started(&db, &dir).await;
    create_staff(
        &db,
        &dir,
        "Mission locale de Nantes",
        "manager",
        "dominique@ml-nantes.fr",
    );
    let manager = login(&server, "dominique@ml-nantes.fr").await;
    create_staff(
        &db,
        &dir,
        "Cap emploi Rennes",
        "manager",
        "sacha@cap-rennes.fr",
    );
    let elsewhere = login(&server, "sacha@cap-rennes.fr").await;
    let awa = enroll(&server, &mediator, None).await;
    let yanis = gql(
        &server,
        Some(&mediator),
        "mutation { personEnroll(input: { firstName: \"Yanis\", lastName: \"Kerbrat\",
            birthDate: \"1990-02-03\" }) { person { id } } }",
        json!({}),
    )
    .await["data"]["personEnroll"]["person"]["id"]
        .clone();
    let kept = gql(
        &server,
        Some(&mediator),
        "mutation { personEnroll(input: { firstName: \"Lina\", lastName: \"Morel\",
            birthDate: \"1995-06-07\" }) { person { id } } }",
        json!({}),
    )
    .await["data"]["personEnroll"]["person"]["id"]
        .clone();
    for (person, reason) in [(&awa, "PERSON_REQUEST"), (&yanis, "END_OF_RETENTION")] {
        let erased = gql(
            &server,
            Some(&manager),
            ERASE,
            json!({ "p": person, "c": true, "r": reason }),
        )
        .await;
        assert!(erased["errors"].is_null(), "{erased}");
    }

    // The list shows who is left.
    let list = gql(
        &server,
        Some(&mediator),
        "{ people { edges { node { id } } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        list["data"]["people"]["edges"],
        json!([{ "node": { "id": kept } }]),
        "{list}"
    );

    // The register, newest first, a page at a time.
    const REGISTER: &str = "query($after: String) { personErasures(first: 1, after: $after) {
        edges { node { personId reason erasedOn recorded { role } } }
        pageInfo { endCursor hasNextPage } } }";
    let first = gql(&server, Some(&manager), REGISTER, json!({})).await;
    let page = &first["data"]["personErasures"];
    assert_eq!(page["edges"][0]["node"]["personId"], yanis, "{first}");
    assert_eq!(page["edges"][0]["node"]["reason"], "END_OF_RETENTION");
    assert_eq!(page["edges"][0]["node"]["recorded"]["role"], "manager");
    assert_eq!(page["pageInfo"]["hasNextPage"], true);
    let second = gql(
        &server,
        Some(&manager),
        REGISTER,
        json!({ "after": page["pageInfo"]["endCursor"] }),
    )
    .await;
    let page = &second["data"]["personErasures"];
    assert_eq!(page["edges"][0]["node"]["personId"], awa, "{second}");
    assert_eq!(page["edges"][0]["node"]["reason"], "PERSON_REQUEST");
    assert_eq!(page["pageInfo"]["hasNextPage"], false);
    let forged = gql(
        &server,
        Some(&manager),
        REGISTER,
        json!({ "after": "bm9uLXVuLWN1cnNldXI" }),
    )
    .await;
    assert_eq!(error(&forged).0, "BAD_USER_INPUT", "{forged}");
    let refused = gql(&server, Some(&mediator), REGISTER, json!({})).await;
    assert_eq!(error(&refused).0, "FORBIDDEN", "{refused}");
    let other = gql(&server, Some(&elsewhere), REGISTER, json!({})).await;
    assert_eq!(
        other["data"]["personErasures"]["edges"],
        json!([]),
        "{other}"
    );

    // The page.
    let cookies = pages::signed_in(&server, "dominique@ml-nantes.fr").await;
    let answer = pages::get_with(&server, "/administration/effacements", &cookies).await;
    assert_eq!(answer.status(), 200);
    let body = answer.text().await.unwrap().replace("&#39;", "'");
    assert!(body.contains("Registre des effacements"), "{body}");
    assert!(
        body.contains("Fin de la durée de conservation")
            && body.contains("À la demande de la personne"),
        "{body}"
    );
    assert!(
        body.contains(&format!("href=\"/people/{}\"", awa.as_str().unwrap())),
        "{body}"
    );
    assert!(!body.contains("Awa") && !body.contains("Kerbrat"), "{body}");
    let cookies = pages::signed_in(&server, "camille@ml-nantes.fr").await;
    let answer = pages::get_with(&server, "/administration/effacements", &cookies).await;
    assert_eq!(answer.status(), 403);
}

/// A page of the people list names its last person in its cursor: once she
/// is erased, her place in the order is gone with her name, and the next
/// page is refused as a cursor no longer valid (the list's page says so
/// and starts again) instead of starting the list again unannounced.
#[tokio::test]
async fn the_people_lists_cursor_on_an_erased_person_is_said_to_be_no_longer_valid() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, mediator) = started(&db, &dir).await;
    create_staff(
        &db,
        &dir,
        "Mission locale de Nantes",
        "manager",
        "dominique@ml-nantes.fr",
    );
    let manager = login(&server, "dominique@ml-nantes.fr").await;
    for _ in 0..3 {
        enroll(&server, &mediator, None).await;
    }
    let list = "query($a: String) { people(first: 2, after: $a) {
        edges { node { id } } pageInfo { endCursor hasNextPage } } }";
    let first = gql(&server, Some(&mediator), list, json!({ "a": null })).await;
    let page = &first["data"]["people"];
    assert_eq!(page["pageInfo"]["hasNextPage"], true, "{first}");
    let last = page["edges"][1]["node"]["id"].clone();
    let cursor = page["pageInfo"]["endCursor"].clone();
    let erased = gql(
        &server,
        Some(&manager),
        ERASE,
        json!({ "p": last, "c": true, "r": "PERSON_REQUEST" }),
    )
    .await;
    assert!(erased["errors"].is_null(), "{erased}");
    let next = gql(&server, Some(&mediator), list, json!({ "a": cursor })).await;
    assert_eq!(
        error(&next),
        (
            "BAD_USER_INPUT".to_owned(),
            "after".to_owned(),
            "Curseur de pagination invalide.".to_owned()
        ),
        "{next}"
    );
    // The list itself goes on from its start: the two people left.
    let again = gql(&server, Some(&mediator), list, json!({ "a": null })).await;
    assert_eq!(
        again["data"]["people"]["edges"].as_array().unwrap().len(),
        2,
        "{again}"
    );
    // The page says so and lists them from the start.
    let cookies = pages::signed_in(&server, "camille@ml-nantes.fr").await;
    let form = pages::Form::fetch(&server, &cookies).await;
    let html = form
        .post(
            &server,
            "/people/recherche",
            &format!("apres={}", cursor.as_str().unwrap()),
        )
        .await
        .text()
        .await
        .unwrap()
        .replace("&#39;", "'");
    assert!(
        html.contains("Ce lien de page n'est plus valable"),
        "{html}"
    );
    assert_eq!(html.matches("<li><a href=\"/people/").count(), 2, "{html}");
}
