//! Staff accounts and the structure's settings administered from the API,
//! end to end over HTTP with a real SMTP server: a manager invites a
//! member (who chooses their password from the mailed link), changes
//! roles and deactivates within their structure only; passwords changed
//! and reset through single-use links that expire; the same answer to a
//! reset asked for a known or an unknown address; every change read back.

mod common;
#[path = "../crates/notify/tests/support/mod.rs"]
mod smtp;

use std::time::{Duration, Instant};

use common::*;
use passerelle_store::testkit::TestDb;
use serde_json::{Value, json};
use smtp::{Mail, SmtpSink};

const INVITATION: &str = "Votre compte Passerelle est prêt";
const RESET: &str = "Réinitialisation de votre mot de passe Passerelle";
const NEW_PASSWORD: &str = "un tout nouveau mot de passe";

async fn wait_for_mails(sink: &SmtpSink, subject: &str, count: usize) -> Vec<Mail> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mails: Vec<Mail> = sink
            .mails()
            .into_iter()
            .filter(|m| m.subject == subject)
            .collect();
        if mails.len() >= count {
            return mails;
        }
        assert!(
            Instant::now() < deadline,
            "no mail {subject:?}; got {:?}",
            sink.mails().iter().map(|m| &m.subject).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The token at the end of a mailed `/mot-de-passe/<token>` link.
fn token_of(mail: &Mail) -> String {
    let link = mail
        .link("/mot-de-passe/")
        .expect("a link to set a password");
    link.rsplit('/').next().unwrap().to_owned()
}

async fn with_mail(db: &TestDb, dir: &common::tempdir::Dir, sink: &SmtpSink) -> (Server, String) {
    started_with(db, dir, |cmd| {
        cmd.env("PASSERELLE_MAIL__SMTP_URL", sink.url())
            .env("PASSERELLE_MAIL__POLL_INTERVAL_MS", "100");
    })
    .await
}

async fn login_with(server: &Server, email: &str, password: &str) -> Value {
    gql(
        server,
        None,
        "mutation($e: String!, $p: String!) { login(input: { email: $e, password: $p }) { token } }",
        json!({ "e": email, "p": password }),
    )
    .await
}

async fn me(server: &Server, token: &str) -> Value {
    gql(server, Some(token), "{ me { email } }", json!({})).await["data"]["me"].clone()
}

async fn complete(server: &Server, token: &str, password: &str) -> Value {
    gql(
        server,
        None,
        "mutation($t: String!, $p: String!) {
            passwordResetComplete(input: { token: $t, newPassword: $p }) { passwordSet } }",
        json!({ "t": token, "p": password }),
    )
    .await
}

async fn create(server: &Server, token: &str, name: &str, email: &str, role: &str) -> Value {
    gql(
        server,
        Some(token),
        &format!(
            "mutation($n: String!, $e: String!) {{ staffCreate(input: {{ name: $n, email: $e,
                role: {role} }}) {{ member {{ id name email role active passwordSet }} }} }}"
        ),
        json!({ "n": name, "e": email }),
    )
    .await
}

async fn deactivate(server: &Server, token: &str, user: &Value) -> Value {
    gql(
        server,
        Some(token),
        "mutation($u: ID!) { staffDeactivate(input: { userId: $u }) { member { id active } } }",
        json!({ "u": user }),
    )
    .await
}

async fn change_role(server: &Server, token: &str, user: &Value, role: &str) -> Value {
    gql(
        server,
        Some(token),
        &format!(
            "mutation($u: ID!) {{ staffRoleChange(input: {{ userId: $u, role: {role} }}) {{
                member {{ id role }} }} }}"
        ),
        json!({ "u": user }),
    )
    .await
}

async fn members(server: &Server, token: &str, after: Option<&str>) -> Value {
    gql(
        server,
        Some(token),
        "query($a: String) { staffMembers(first: 2, after: $a) {
            edges { node { id name email role active passwordSet lastLoginAt } }
            pageInfo { hasNextPage endCursor } } }",
        json!({ "a": after }),
    )
    .await
}

async fn changes(server: &Server, token: &str) -> Value {
    gql(
        server,
        Some(token),
        "{ accountChanges { edges { node { action actorName actorRole subjectName role
            previousRole settings at } } } }",
        json!({}),
    )
    .await
}

#[tokio::test]
async fn a_manager_invites_changes_roles_and_deactivates_within_their_structure_only() {
    let sink = SmtpSink::start().await;
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, mediator) = with_mail(&db, &dir, &sink).await;
    create_staff(
        &db,
        &dir,
        "Mission locale de Nantes",
        "manager",
        "direction@ml-nantes.fr",
    );
    create_staff(
        &db,
        &dir,
        "Mission locale de Nantes",
        "admin",
        "admin@ml-nantes.fr",
    );
    create_staff(&db, &dir, "PLIE Nord", "manager", "direction@plie-nord.fr");
    let manager = login(&server, "direction@ml-nantes.fr").await;
    let admin = login(&server, "admin@ml-nantes.fr").await;
    let other = login(&server, "direction@plie-nord.fr").await;

    // The invitation: an account without a password, a link mailed.
    let created = create(
        &server,
        &manager,
        "Inès Martin",
        "Ines@ML-Nantes.fr",
        "MEDIATOR",
    )
    .await;
    let ines = &created["data"]["staffCreate"]["member"];
    assert_eq!(ines["email"], "ines@ml-nantes.fr", "{created}");
    assert_eq!(ines["active"], true);
    assert_eq!(ines["passwordSet"], false);
    let ines_id = ines["id"].clone();
    let mail = &wait_for_mails(&sink, INVITATION, 1).await[0];
    assert_eq!(mail.rcpt_to, ["ines@ml-nantes.fr"]);
    assert!(
        mail.link("/preferences/").is_none(),
        "an invitation is essential"
    );
    let invitation = token_of(mail);
    // Before she chose one, no password opens her account.
    let (code, _, _) = error(&login_with(&server, "ines@ml-nantes.fr", "").await);
    assert_eq!(code, "UNAUTHENTICATED");
    let done = complete(&server, &invitation, NEW_PASSWORD).await;
    assert_eq!(
        done["data"]["passwordResetComplete"]["passwordSet"], true,
        "{done}"
    );
    let again = complete(&server, &invitation, NEW_PASSWORD).await;
    let (code, field, message) = error(&again);
    assert_eq!(
        (code.as_str(), field.as_str()),
        ("UNAUTHENTICATED", "token"),
        "{again}"
    );
    assert!(message.contains("n'est plus valable"), "{message}");
    let ines_session =
        login_with(&server, "ines@ml-nantes.fr", NEW_PASSWORD).await["data"]["login"]["token"]
            .as_str()
            .expect("she logs in with the password she chose")
            .to_owned();

    // Refusals, each on its field, in French.
    let (code, field, message) =
        error(&create(&server, &manager, "Chef", "chef@ml-nantes.fr", "ADMIN").await);
    assert_eq!((code.as_str(), field.as_str()), ("FORBIDDEN", "role"));
    assert_eq!(
        message,
        "Seul un administrateur peut donner le rôle d'administrateur."
    );
    let (code, field, message) =
        error(&create(&server, &manager, "Double", "ines@ml-nantes.fr", "MEDIATOR").await);
    assert_eq!((code.as_str(), field.as_str()), ("CONFLICT", "email"));
    assert_eq!(message, "Un compte utilise déjà cette adresse.");
    let (code, field, _) =
        error(&create(&server, &manager, "Sans", "pas-une-adresse", "MEDIATOR").await);
    assert_eq!((code.as_str(), field.as_str()), ("BAD_USER_INPUT", "email"));
    let (code, field, _) =
        error(&create(&server, &manager, "", "vide@ml-nantes.fr", "MEDIATOR").await);
    assert_eq!((code.as_str(), field.as_str()), ("BAD_USER_INPUT", "name"));
    let long = "x".repeat(5000);
    let (code, field, _) =
        error(&create(&server, &manager, &long, "long@ml-nantes.fr", "MEDIATOR").await);
    assert_eq!((code.as_str(), field.as_str()), ("BAD_USER_INPUT", "name"));

    // The list, by name, in pages whose cursors name no one.
    let first = members(&server, &manager, None).await;
    let page = &first["data"]["staffMembers"];
    assert_eq!(page["edges"].as_array().unwrap().len(), 2, "{first}");
    assert_eq!(page["pageInfo"]["hasNextPage"], true);
    let cursor = page["pageInfo"]["endCursor"].as_str().unwrap().to_owned();
    assert!(!cursor.contains("ml-nantes") && !cursor.contains("Camille"));
    let second = members(&server, &manager, Some(&cursor)).await;
    let mut emails: Vec<String> = [&first, &second]
        .iter()
        .flat_map(|p| {
            p["data"]["staffMembers"]["edges"]
                .as_array()
                .unwrap()
                .clone()
        })
        .map(|e| e["node"]["email"].as_str().unwrap().to_owned())
        .collect();
    let ines_row = [&first, &second]
        .iter()
        .flat_map(|p| {
            p["data"]["staffMembers"]["edges"]
                .as_array()
                .unwrap()
                .clone()
        })
        .find(|e| e["node"]["email"] == "ines@ml-nantes.fr")
        .unwrap();
    assert_eq!(ines_row["node"]["passwordSet"], true);
    assert!(ines_row["node"]["lastLoginAt"].is_string(), "{ines_row}");
    emails.sort();
    assert_eq!(
        emails,
        [
            "admin@ml-nantes.fr",
            "camille@ml-nantes.fr",
            "direction@ml-nantes.fr",
            "ines@ml-nantes.fr"
        ]
    );

    // Roles: a manager makes a manager, not an admin, and leaves an admin's
    // alone; nobody changes their own.
    let promoted = change_role(&server, &manager, &ines_id, "MANAGER").await;
    assert_eq!(
        promoted["data"]["staffRoleChange"]["member"]["role"], "MANAGER",
        "{promoted}"
    );
    let (code, field, _) = error(&change_role(&server, &manager, &ines_id, "ADMIN").await);
    assert_eq!((code.as_str(), field.as_str()), ("FORBIDDEN", "role"));
    let admin_id =
        gql(&server, Some(&admin), "{ me { id } }", json!({})).await["data"]["me"]["id"].clone();
    let (code, field, message) = error(&deactivate(&server, &manager, &admin_id).await);
    assert_eq!(
        (code.as_str(), field.as_str()),
        ("FORBIDDEN", "userId"),
        "{message}"
    );
    let manager_id =
        gql(&server, Some(&manager), "{ me { id } }", json!({})).await["data"]["me"]["id"].clone();
    let (code, field, message) = error(&deactivate(&server, &manager, &manager_id).await);
    assert_eq!((code.as_str(), field.as_str()), ("RULE_VIOLATED", "userId"));
    assert!(message.contains("votre propre compte"), "{message}");
    let (code, field, _) = error(&change_role(&server, &manager, &manager_id, "MEDIATOR").await);
    assert_eq!((code.as_str(), field.as_str()), ("RULE_VIOLATED", "userId"));

    // A mediator administers nothing; another structure's manager finds no
    // one of this structure.
    for (answer, what) in [
        (members(&server, &mediator, None).await, "list"),
        (
            create(&server, &mediator, "Moi", "moi@ml-nantes.fr", "MEDIATOR").await,
            "create",
        ),
        (deactivate(&server, &mediator, &ines_id).await, "deactivate"),
        (changes(&server, &mediator).await, "changes"),
    ] {
        assert_eq!(error(&answer).0, "FORBIDDEN", "{what}: {answer}");
    }
    assert_eq!(
        error(&deactivate(&server, &other, &ines_id).await).0,
        "NOT_FOUND"
    );
    assert_eq!(
        error(&change_role(&server, &other, &ines_id, "MEDIATOR").await).0,
        "NOT_FOUND"
    );
    let theirs = members(&server, &other, None).await;
    assert!(!theirs.to_string().contains("ml-nantes"), "{theirs}");
    assert!(!changes(&server, &other).await.to_string().contains("Inès"));

    // Deactivated: her session ends at once, she can no longer log in.
    assert_eq!(
        me(&server, &ines_session).await["email"],
        "ines@ml-nantes.fr"
    );
    let gone = deactivate(&server, &admin, &ines_id).await;
    assert_eq!(
        gone["data"]["staffDeactivate"]["member"]["active"], false,
        "{gone}"
    );
    assert!(me(&server, &ines_session).await.is_null());
    let (code, _, _) = error(&login_with(&server, "ines@ml-nantes.fr", NEW_PASSWORD).await);
    assert_eq!(code, "UNAUTHENTICATED");

    // Every change, who made it and when, newest first.
    let log = changes(&server, &manager).await;
    let actions: Vec<(String, String, String)> = log["data"]["accountChanges"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{log}"))
        .iter()
        .map(|e| {
            let n = &e["node"];
            (
                n["action"].as_str().unwrap().to_owned(),
                n["actorRole"].as_str().unwrap_or_default().to_owned(),
                n["role"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let want = |a: &str, r: &str, role: &str| (a.to_owned(), r.to_owned(), role.to_owned());
    assert_eq!(
        actions,
        [
            want("STAFF_DEACTIVATED", "ADMIN", ""),
            want("STAFF_ROLE_CHANGED", "MANAGER", "MANAGER"),
            want("INVITATION_ACCEPTED", "MEDIATOR", ""),
            want("STAFF_CREATED", "MANAGER", "MEDIATOR"),
        ]
    );
    let node = &log["data"]["accountChanges"]["edges"][1]["node"];
    assert_eq!(node["subjectName"], "Inès Martin");
    assert_eq!(node["previousRole"], "MEDIATOR");
    assert_eq!(node["actorName"], "Camille Durand");
}

#[tokio::test]
async fn a_reset_answers_alike_for_any_address_and_its_link_serves_once_within_the_hour() {
    let sink = SmtpSink::start().await;
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, before) = with_mail(&db, &dir, &sink).await;
    let ask = |email: &'static str| {
        let server = &server;
        async move {
            gql(
                server,
                None,
                "mutation($e: String!) { passwordResetRequest(input: { email: $e }) { sent } }",
                json!({ "e": email }),
            )
            .await
        }
    };

    // Known or unknown, the same answer; only the known one gets a mail.
    let known = ask("camille@ml-nantes.fr").await;
    let unknown = ask("personne@ml-nantes.fr").await;
    assert_eq!(
        known,
        json!({ "data": { "passwordResetRequest": { "sent": true } } })
    );
    assert_eq!(known, unknown);
    let mail = wait_for_mails(&sink, RESET, 1).await.remove(0);
    assert_eq!(mail.rcpt_to, ["camille@ml-nantes.fr"]);
    assert!(mail.text.contains("une heure"), "{}", mail.text);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sink.mails().len(), 1, "no mail for an unknown address");
    let (code, field, _) = error(&ask("pas une adresse").await);
    assert_eq!((code.as_str(), field.as_str()), ("BAD_USER_INPUT", "email"));

    // Only the token's hash is kept.
    let token = token_of(&mail);
    let stored: i64 = sqlx::query_scalar(
        "select count(*) from password_tokens where token_hash = sha256(convert_to($1, 'UTF8'))",
    )
    .bind(&token)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(stored, 1);
    let leaked: i64 = sqlx::query_scalar(
        "select count(*) from outbox where (params::text || recipient::text || key) like '%' || $1 || '%'",
    )
    .bind(&token)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(leaked, 0);

    // A password too short uses nothing; the link then sets one, once,
    // and every session of the account ends.
    let (code, field, message) = error(&complete(&server, &token, "court").await);
    assert_eq!(
        (code.as_str(), field.as_str()),
        ("BAD_USER_INPUT", "newPassword")
    );
    assert_eq!(
        message,
        "Le mot de passe doit compter au moins 12 caractères."
    );
    let (_, field, _) = error(&complete(&server, &token, &"x".repeat(129)).await);
    assert_eq!(field, "newPassword");
    let done = complete(&server, &token, NEW_PASSWORD).await;
    assert_eq!(
        done["data"]["passwordResetComplete"]["passwordSet"], true,
        "{done}"
    );
    assert!(
        me(&server, &before).await.is_null(),
        "the sessions before the reset end"
    );
    assert_eq!(
        error(&complete(&server, &token, NEW_PASSWORD).await).1,
        "token"
    );
    assert_eq!(
        error(&login_with(&server, "camille@ml-nantes.fr", PASSWORD).await).0,
        "UNAUTHENTICATED"
    );
    assert!(
        login_with(&server, "camille@ml-nantes.fr", NEW_PASSWORD).await["data"]["login"]["token"]
            .is_string()
    );

    // A link past its hour serves no more.
    ask("camille@ml-nantes.fr").await;
    let late = token_of(&wait_for_mails(&sink, RESET, 2).await[1]);
    sqlx::query(
        "update password_tokens set expires_at = now() - interval '1 second' where used_at is null",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let (code, field, _) = error(&complete(&server, &late, "encore un autre mot de passe").await);
    assert_eq!(
        (code.as_str(), field.as_str()),
        ("UNAUTHENTICATED", "token")
    );

    // Throttled as logins are, alike for a known and an unknown address.
    for email in ["camille@ml-nantes.fr", "inconnu@ml-nantes.fr"] {
        let mut last = Value::Null;
        for _ in 0..8 {
            last = ask(email).await;
        }
        assert_eq!(error(&last).0, "RATE_LIMITED", "{email}: {last}");
    }
}

#[tokio::test]
async fn a_password_change_needs_the_current_one_and_ends_the_other_sessions() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, here) = started(&db, &dir).await;
    let elsewhere = login(&server, "camille@ml-nantes.fr").await;
    let change = |current: &'static str, new: String| {
        let (server, here) = (&server, here.clone());
        async move {
            gql(
                server,
                Some(&here),
                "mutation($c: String!, $n: String!) { passwordChange(input: {
                    currentPassword: $c, newPassword: $n }) { me { email } } }",
                json!({ "c": current, "n": new }),
            )
            .await
        }
    };
    let (code, field, message) = error(&change("pas le bon", NEW_PASSWORD.into()).await);
    assert_eq!(
        (code.as_str(), field.as_str()),
        ("BAD_USER_INPUT", "currentPassword")
    );
    assert_eq!(message, "Mot de passe actuel incorrect.");
    let (_, field, _) = error(&change(PASSWORD, "court".into()).await);
    assert_eq!(field, "newPassword");
    let (_, field, message) = error(&change(PASSWORD, "y".repeat(200)).await);
    assert_eq!(field, "newPassword");
    assert!(message.contains("au plus 128"), "{message}");
    let changed = change(PASSWORD, NEW_PASSWORD.into()).await;
    assert_eq!(
        changed["data"]["passwordChange"]["me"]["email"], "camille@ml-nantes.fr",
        "{changed}"
    );
    assert_eq!(me(&server, &here).await["email"], "camille@ml-nantes.fr");
    assert!(me(&server, &elsewhere).await.is_null());
    assert!(
        login_with(&server, "camille@ml-nantes.fr", NEW_PASSWORD).await["data"]["login"]["token"]
            .is_string()
    );
    // Someone without a session changes nothing.
    let anonymous = gql(
        &server,
        None,
        "mutation { passwordChange(input: { currentPassword: \"a\", newPassword: \"b\" }) { me { email } } }",
        json!({}),
    )
    .await;
    assert_eq!(error(&anonymous).0, "UNAUTHENTICATED");
}

#[tokio::test]
async fn a_structure_update_checks_departements_and_is_recorded() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, mediator) = started(&db, &dir).await;
    create_staff(
        &db,
        &dir,
        "Mission locale de Nantes",
        "manager",
        "direction@ml-nantes.fr",
    );
    create_staff(&db, &dir, "PLIE Nord", "manager", "direction@plie-nord.fr");
    let manager = login(&server, "direction@ml-nantes.fr").await;
    let update = |token: String, input: Value| {
        let server = &server;
        async move {
            gql(
                server,
                Some(&token),
                "mutation($i: StructureUpdateInput!) { structureUpdate(input: $i) {
                    structure { name prevalidationRequired departements { code name } } } }",
                json!({ "i": input }),
            )
            .await
        }
    };
    let done = update(
        manager.clone(),
        json!({ "name": "Mission locale Nantes Métropole", "departements": ["44", "2a", "44"],
                "prevalidationRequired": true }),
    )
    .await;
    assert_eq!(
        done["data"]["structureUpdate"]["structure"],
        json!({ "name": "Mission locale Nantes Métropole", "prevalidationRequired": true,
                "departements": [{ "code": "2A", "name": "Corse-du-Sud" },
                                 { "code": "44", "name": "Loire-Atlantique" }] }),
        "{done}"
    );
    let (code, field, message) =
        error(&update(manager.clone(), json!({ "departements": ["44", "99"] })).await);
    assert_eq!(
        (code.as_str(), field.as_str()),
        ("BAD_USER_INPUT", "departements")
    );
    assert!(message.contains("« 99 » n'existe pas"), "{message}");
    let (code, field, message) =
        error(&update(manager.clone(), json!({ "name": "PLIE Nord" })).await);
    assert_eq!((code.as_str(), field.as_str()), ("CONFLICT", "name"));
    assert_eq!(message, "Une autre structure porte déjà ce nom.");
    let (code, field, _) = error(&update(manager.clone(), json!({ "name": "  " })).await);
    assert_eq!((code.as_str(), field.as_str()), ("BAD_USER_INPUT", "name"));
    let many: Vec<String> = (0..200).map(|_| "44".to_owned()).collect();
    let (_, field, _) = error(&update(manager.clone(), json!({ "departements": many })).await);
    assert_eq!(field, "departements");
    assert_eq!(
        error(&update(mediator, json!({ "name": "Prise" })).await).0,
        "FORBIDDEN"
    );

    let log = changes(&server, &manager).await;
    let edges = log["data"]["accountChanges"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 1, "{log}");
    assert_eq!(edges[0]["node"]["action"], "STRUCTURE_UPDATED");
    assert_eq!(
        edges[0]["node"]["settings"],
        json!(["NAME", "PREVALIDATION_REQUIRED", "DEPARTEMENTS"])
    );
    assert_eq!(edges[0]["node"]["actorRole"], "MANAGER");
}

/// A mediator given another role keeps working: her next command, whose
/// session the server kept as it was, is run again with the session looked
/// up afresh instead of being refused as if she were logged out.
#[tokio::test]
async fn a_role_changed_does_not_log_its_member_out() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, mediator) = started(&db, &dir).await;
    create_staff(
        &db,
        &dir,
        "Mission locale de Nantes",
        "manager",
        "direction@ml-nantes.fr",
    );
    let manager = login(&server, "direction@ml-nantes.fr").await;
    // A first command: the server keeps her session as it is.
    let first = register_employer(&server, &mediator, &siret(1), "Boulangerie du Port").await;
    assert!(first.is_string(), "registered");
    let listed = members(&server, &manager, None).await;
    let mut after: Option<String> = None;
    let mut camille = Value::Null;
    for _ in 0..10 {
        let page = match &after {
            None => listed.clone(),
            Some(a) => members(&server, &manager, Some(a)).await,
        };
        let edges = page["data"]["staffMembers"]["edges"]
            .as_array()
            .unwrap()
            .clone();
        if let Some(e) = edges
            .iter()
            .find(|e| e["node"]["email"] == "camille@ml-nantes.fr")
        {
            camille = e["node"]["id"].clone();
            break;
        }
        after = page["data"]["staffMembers"]["pageInfo"]["endCursor"]
            .as_str()
            .map(str::to_owned);
    }
    assert!(camille.is_string(), "the mediator is listed: {listed}");
    let promoted = change_role(&server, &manager, &camille, "MANAGER").await;
    assert_eq!(
        promoted["data"]["staffRoleChange"]["member"]["role"], "MANAGER",
        "{promoted}"
    );

    let answer = gql(
        &server,
        Some(&mediator),
        "mutation($s: String!) { employerRegister(input: { siret: $s,
            name: \"Garage du Centre\", naf: \"45\", commune: \"44109\" }) { employer { id } } }",
        json!({ "s": siret(2) }),
    )
    .await;
    assert!(
        answer["data"]["employerRegister"]["employer"]["id"].is_string(),
        "her command goes through under her new role: {answer}"
    );
    assert_eq!(
        me(&server, &mediator).await["email"],
        "camille@ml-nantes.fr"
    );

    // Logged out, the kept session is refused all the same.
    gql(
        &server,
        Some(&mediator),
        "mutation { logout { loggedOut } }",
        json!({}),
    )
    .await;
    let refused = gql(
        &server,
        Some(&mediator),
        "mutation($s: String!) { employerRegister(input: { siret: $s,
            name: \"Café de la Gare\", naf: \"56\", commune: \"44109\" }) { employer { id } } }",
        json!({ "s": siret(3) }),
    )
    .await;
    assert_eq!(error(&refused).0, "UNAUTHENTICATED", "{refused}");
}
