//! Several replicas of the service on one PostgreSQL: live updates heard
//! across replicas, graceful shutdown, a replica killed mid-load, and a
//! replica of an older release fenced.

mod common;
#[path = "../crates/notify/tests/support/mod.rs"]
mod smtp;

use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use futures::{SinkExt as _, StreamExt as _};
use passerelle_store::testkit::TestDb;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Another replica on the same database and master key.
async fn replica(db: &TestDb, dir: &tempdir::Dir, configure: impl FnOnce(&mut Command)) -> Server {
    let server = Server::start(|cmd| {
        cmd.env("DATABASE_URL", db.url())
            .env("PASSERELLE_DATA_DIR", dir.path());
        configure(cmd);
    });
    wait_for_status(&server, "/ready", 200).await;
    server
}

/// A graphql-transport-ws connection to `server` running `query`.
async fn subscribe(server: &Server, token: &str, query: &str, variables: Value) -> Socket {
    let url = format!("{}/graphql/ws", server.base.replace("http://", "ws://"));
    let mut request = url.into_client_request().unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let init = json!({ "type": "connection_init",
                       "payload": { "authorization": format!("Bearer {token}") } });
    ws.send(Message::Text(init.to_string().into()))
        .await
        .unwrap();
    let start = json!({ "id": "1", "type": "subscribe",
                        "payload": { "query": query, "variables": variables } });
    ws.send(Message::Text(start.to_string().into()))
        .await
        .unwrap();
    ws
}

/// The next message that is not an acknowledgement or a ping, within `wait`;
/// `None` when the socket closed (with its close frame, if any).
async fn next(ws: &mut Socket, wait: Duration) -> Result<Value, Option<(u16, String)>> {
    loop {
        let message = tokio::time::timeout(wait, ws.next())
            .await
            .expect("a message in time");
        match message {
            Some(Ok(Message::Text(text))) => {
                let value: Value = serde_json::from_str(&text).unwrap();
                if !matches!(
                    value["type"].as_str(),
                    Some("connection_ack" | "ping" | "pong")
                ) {
                    return Ok(value);
                }
            }
            Some(Ok(Message::Close(frame))) => {
                return Err(frame.map(|f| (u16::from(f.code), f.reason.to_string())));
            }
            Some(Ok(_)) => {}
            Some(Err(_)) | None => return Err(None),
        }
    }
}

const FIRST_NAMES: [&str; 8] = [
    "Léa", "Inès", "Jules", "Hugo", "Chloé", "Nathan", "Manon", "Yanis",
];

/// The exit status of a replica already told to stop, within 20 s.
fn exited(mut server: Server) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "the replica did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
}

const IMMERSION_CHANGED: &str =
    "subscription($i: ID!) { immersionChanged(id: $i) { stage acceptedByPerson } }";

/// A mediator following an immersion on replica B sees the change made
/// through replica A within a second.
#[tokio::test]
async fn a_subscriber_on_one_replica_hears_a_change_made_through_another() {
    let (db, dir) = (TestDb::new().await, data_dir());
    let (a, token) = started(&db, &dir).await;
    let b = replica(&db, &dir, |_| {}).await;
    let employer = register_employer(&a, &token, "73282932000074", "Boulangerie").await;
    let person = enroll(&a, &token, None).await;
    let immersion = propose(&a, &token, &person, &employer).await;

    let mut live = subscribe(&b, &token, IMMERSION_CHANGED, json!({ "i": immersion })).await;
    // Let the subscription start before the change.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let changed_at = Instant::now();
    let accepted = gql(
        &a,
        Some(&token),
        "mutation($i: ID!) { immersionAccept(input: { immersionId: $i, by: PERSON }) { immersion { id } } }",
        json!({ "i": immersion }),
    )
    .await;
    assert!(accepted["errors"].is_null(), "{accepted}");
    let update = next(&mut live, Duration::from_secs(5)).await.unwrap();
    let heard_after = changed_at.elapsed();
    assert_eq!(update["type"], "next", "{update}");
    assert_eq!(
        update["payload"]["data"]["immersionChanged"],
        json!({ "stage": "proposed", "acceptedByPerson": true })
    );
    assert!(
        heard_after < Duration::from_secs(1),
        "heard after {heard_after:?}"
    );
    assert!(a.terminate().success());
    assert!(b.terminate().success());
}

/// On SIGTERM a replica closes its subscriptions with 1012 ("service
/// restart") and a French reason, so clients reconnect to another replica,
/// answers the requests it had taken, and exits cleanly.
#[tokio::test]
async fn a_stopping_replica_closes_subscriptions_with_a_reconnect_hint() {
    let (db, dir) = (TestDb::new().await, data_dir());
    let (a, token) = started(&db, &dir).await;
    let employer = register_employer(&a, &token, "73282932000074", "Boulangerie").await;
    let person = enroll(&a, &token, None).await;
    let immersion = propose(&a, &token, &person, &employer).await;
    let mut live = subscribe(&a, &token, IMMERSION_CHANGED, json!({ "i": immersion })).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Requests under way when the signal comes are answered in full.
    let before = events(&db).await;
    let base = a.base.clone();
    let pid = a.child.id().to_string();
    let load = (0..8).map(|i| {
        let (base, token) = (base.clone(), token.clone());
        tokio::spawn(async move {
            let body = json!({ "query": "mutation($n: String!) { personEnroll(input: { firstName: $n,
                lastName: \"Martin\", birthDate: \"2000-01-01\" }) { person { id } } }",
                "variables": { "n": FIRST_NAMES[i] } });
            let sent = reqwest::Client::new()
                .post(format!("{base}/graphql"))
                .header("content-type", "application/json")
                .header("authorization", format!("Bearer {token}"))
                .body(body.to_string())
                .send()
                .await;
            match sent {
                Ok(response) => {
                    let text = response.text().await.expect("a whole answer");
                    let answer: Value = serde_json::from_str(&text).expect("JSON");
                    assert!(answer["errors"].is_null(), "{answer}");
                    1
                }
                // Not taken: the replica had stopped accepting.
                Err(_) => 0,
            }
        })
    });
    let load: Vec<_> = load.collect();
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let closed = next(&mut live, Duration::from_secs(10)).await;
    assert_eq!(
        closed,
        Err(Some((
            1012,
            "Le service redémarre : reconnectez-vous.".to_owned()
        )))
    );
    let mut answered = 0;
    for request in load {
        answered += request.await.unwrap();
    }
    let status = exited(a);
    assert!(status.success(), "{status:?}");
    assert_eq!(
        events(&db).await - before,
        answered,
        "every answered command appended, no other"
    );
}

/// The async projections' positions, by name.
async fn positions(db: &TestDb) -> Vec<(String, i64)> {
    sqlx::query_as(
        "select projection || '_v' || version, global_position from projection_checkpoints
         where status = 'live' order by 1",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap()
}

/// During a rolling upgrade the database has a migration the running
/// release does not know: its replicas keep serving reads and commands,
/// say `fenced` in `/ready` (still 200) and the log, and apply no
/// projection; a replica of that release started now does the same
/// instead of failing on the migration it does not know.
#[tokio::test]
async fn a_replica_older_than_the_database_is_fenced_but_serves() {
    let (db, dir) = (TestDb::new().await, data_dir());
    let (a, token) = started(&db, &dir).await;
    let (_, body) = a.get("/ready").await;
    assert!(body.contains("\"ready\""), "{body}");

    sqlx::query(
        "insert into _sqlx_migrations (version, description, success, checksum, execution_time)
         values (99990101000000, 'from a newer release', true, '\\x00', 0)",
    )
    .execute(&db.pool)
    .await
    .unwrap();

    // Started now, with migrations on start (the default).
    let b = replica(&db, &dir, |_| {}).await;
    let (status, body) = b.get("/ready").await;
    assert_eq!(status, 200);
    let ready: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(ready["status"], "fenced", "{body}");
    assert!(
        ready["reason"].as_str().unwrap().contains("99990101000000"),
        "{body}"
    );
    assert!(!b.logged("fenced").is_empty());

    // The running one finds out within its next check.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (status, body) = a.get("/ready").await;
        assert_eq!(status, 200);
        if body.contains("fenced") {
            break;
        }
        assert!(Instant::now() < deadline, "A never fenced: {body}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Reads and commands still go, through either.
    let before = positions(&db).await;
    let employer = register_employer(&b, &token, "73282932000074", "Boulangerie").await;
    assert!(employer.is_string(), "{employer}");
    let person = enroll(&a, &token, None).await;
    assert!(person.is_string(), "{person}");
    let read = gql(&b, Some(&token), "{ me { structureName } }", json!({})).await;
    assert_eq!(
        read["data"]["me"]["structureName"], "Mission locale de Nantes",
        "{read}"
    );
    // No projection moves on a fenced replica.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = positions(&db).await;
    let moved: Vec<_> = before
        .iter()
        .zip(&after)
        .filter(|(x, y)| x != y)
        .map(|(x, _)| x.0.clone())
        .collect();
    // Inline views are kept by the commands themselves; async ones wait.
    for name in &moved {
        assert!(
            !name.starts_with("inbox")
                && !name.starts_with("dashboards")
                && !name.starts_with("notifications")
                && !name.starts_with("event_activity"),
            "{name} moved on a fenced replica"
        );
    }
    assert!(a.terminate().success());
    assert!(b.terminate().success());
}

/// Sends a command to the replica `to` (by its place in `bases`), and on a
/// connection failure (that replica killed) sends it again with the same
/// `commandId` to whichever replica answers: the answer of the first time
/// if it was carried out, otherwise it is carried out now.
async fn command(
    bases: &std::sync::RwLock<Vec<String>>,
    to: usize,
    token: &str,
    body: &Value,
) -> Value {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    for attempt in 0.. {
        let base = {
            let bases = bases.read().unwrap();
            bases[(to + attempt) % bases.len()].clone()
        };
        let sent = client
            .post(format!("{base}/graphql"))
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {token}"))
            .body(body.to_string())
            .timeout(Duration::from_secs(20))
            .send()
            .await;
        if let Ok(response) = sent
            && let Ok(text) = response.text().await
        {
            let answer: Value = serde_json::from_str(&text).unwrap();
            assert!(answer["errors"].is_null(), "{answer}");
            return answer["data"].clone();
        }
        assert!(Instant::now() < deadline, "no replica answered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    unreachable!()
}

/// Commands alternate between two replicas from four clients at once; one
/// replica is killed (SIGKILL) mid-load and started again. Every command is
/// carried out once (its events counted by command id), and every mail its
/// events call for goes once, whichever replica queued and sent it.
#[tokio::test]
async fn a_replica_killed_mid_load_loses_and_doubles_nothing() {
    const CLIENTS: usize = 4;
    const ROUNDS: usize = 12;
    let sink = smtp::SmtpSink::start().await;
    let (db, dir) = (TestDb::new().await, data_dir());
    let mail = |cmd: &mut Command| {
        cmd.env("PASSERELLE_MAIL__SMTP_URL", sink.url())
            .env("PASSERELLE_MAIL__POLL_INTERVAL_MS", "100")
            .env("PASSERELLE_MAIL__TIMEOUT_SECS", "2")
            .env("PASSERELLE_MAIL__LEASE_SECS", "12");
    };
    let (a, token) = started_with(&db, &dir, mail).await;
    let b = replica(&db, &dir, mail).await;
    let employer = register_employer(&a, &token, "73282932000074", "Boulangerie").await;
    let bases = std::sync::Arc::new(std::sync::RwLock::new(vec![a.base.clone(), b.base.clone()]));
    let done = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));

    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let (bases, token, employer, done) =
                (bases.clone(), token.clone(), employer.clone(), done.clone());
            tokio::spawn(async move {
                let mut sent = Vec::new();
                for r in 0..ROUNDS {
                    let enroll_id = uuid::Uuid::new_v4();
                    let email = format!("personne-{c}-{r}@exemple.fr");
                    let enrolled = command(
                        &bases,
                        r % 2,
                        &token,
                        &json!({ "query": "mutation($m: String!, $c: UUID!, $n: String!) {
                            personEnroll(input: { firstName: $n, lastName: \"Diallo\",
                              birthDate: \"2001-05-12\", email: $m, commandId: $c,
                              confirmDuplicate: true }) { person { id } } }",
                          "variables": { "m": email, "c": enroll_id, "n": FIRST_NAMES[(c + r) % 8] } }),
                    )
                    .await;
                    let person = enrolled["personEnroll"]["person"]["id"].clone();
                    let propose_id = uuid::Uuid::new_v4();
                    command(
                        &bases,
                        (r + 1) % 2,
                        &token,
                        &json!({ "query": "mutation($p: ID!, $e: ID!, $c: UUID!) {
                            immersionPropose(input: { personId: $p, employerId: $e,
                              objective: CONFIRM_PROJECT, commandId: $c }) { immersion { id } } }",
                          "variables": { "p": person, "e": employer, "c": propose_id } }),
                    )
                    .await;
                    sent.push((enroll_id, propose_id, email));
                    done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
                sent
            })
        })
        .collect();

    // A third of the way, B dies without a word, then comes back.
    while done.load(std::sync::atomic::Ordering::SeqCst) < CLIENTS * ROUNDS / 3 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut b = b;
    b.child.kill().unwrap();
    b.child.wait().unwrap();
    let b = replica(&db, &dir, mail).await;
    bases.write().unwrap()[1] = b.base.clone();

    let mut sent = Vec::new();
    for client in clients {
        sent.extend(client.await.unwrap());
    }
    assert_eq!(sent.len(), CLIENTS * ROUNDS);

    // Every command carried out, once: one person enrolled and one
    // immersion proposed per round, nothing twice.
    let commands: Vec<uuid::Uuid> = sent.iter().flat_map(|(e, p, _)| [*e, *p]).collect();
    let (ids, events, streams): (i64, i64, i64) = sqlx::query_as(
        "select count(distinct command_id), count(*), count(distinct stream_id)
         from events where command_id = any($1)",
    )
    .bind(&commands)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(ids, commands.len() as i64, "no command lost");
    assert_eq!(streams, commands.len() as i64, "one new stream per command");
    let per_command: Vec<(i64,)> = sqlx::query_as(
        "select count(*) from events where command_id = any($1) group by command_id, stream_id
         having count(*) > 1",
    )
    .bind(&commands)
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert!(
        per_command.is_empty(),
        "a command appended twice: {per_command:?}"
    );
    assert_eq!(events, commands.len() as i64);

    // Each person gets the proposal's mail once.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mails = loop {
        let mails = sink.mails();
        let reached = sent
            .iter()
            .all(|(_, _, email)| mails.iter().any(|m| m.rcpt_to.contains(email)));
        if reached {
            // Anything sent twice would come now.
            tokio::time::sleep(Duration::from_secs(2)).await;
            break sink.mails();
        }
        assert!(Instant::now() < deadline, "{} mails only", mails.len());
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // A mail goes twice only if its sender died between the server's
    // acceptance and the record of it (the window the outbox documents),
    // and then under the same Message-ID, which mail clients fold into one.
    let mut by_mail = std::collections::HashMap::new();
    for m in &mails {
        by_mail
            .entry((m.rcpt_to.clone(), m.subject.clone()))
            .or_insert_with(std::collections::HashSet::new)
            .insert(m.message_id.clone());
    }
    for (mail, ids) in &by_mail {
        assert_eq!(ids.len(), 1, "{mail:?} sent as different mails: {ids:?}");
    }
    let again = mails.len() - by_mail.len();
    assert!(again <= 1, "{again} mails went again");
    assert!(a.terminate().success());
    assert!(b.terminate().success());
}

/// Replicas keep the staff sessions they looked up for a few seconds: a
/// logout through replica A is refused by replica B at once, for a command
/// as for a read.
#[tokio::test]
async fn a_logout_on_one_replica_is_refused_by_another_at_once() {
    let (db, dir) = (TestDb::new().await, data_dir());
    let (a, token) = started(&db, &dir).await;
    let b = replica(&db, &dir, |_| {}).await;
    // B looks the session up and keeps it.
    let employer = register_employer(&b, &token, "73282932000074", "Boulangerie").await;
    assert!(!employer.is_null(), "the command is taken on B");
    let me = gql(&b, Some(&token), "{ me { structureName } }", json!({})).await;
    assert!(!me["data"]["me"].is_null(), "{me}");

    let out = gql(
        &a,
        Some(&token),
        "mutation { logout { loggedOut } }",
        json!({}),
    )
    .await;
    assert_eq!(out["data"]["logout"]["loggedOut"], true, "{out}");
    let visit = gql(
        &b,
        Some(&token),
        "mutation($e: ID!) { employerVisitLog(input: { employerId: $e, purpose: FOLLOW_UP,
            observations: \"Point sur les besoins\" }) { employer { visitCount } } }",
        json!({ "e": employer["id"] }),
    )
    .await;
    assert!(
        visit["data"].is_null() || visit["data"]["employerVisitLog"].is_null(),
        "{visit}"
    );
    assert!(!visit["errors"].is_null(), "{visit}");
    let me = gql(&b, Some(&token), "{ me { structureName } }", json!({})).await;
    assert!(me["data"]["me"].is_null(), "{me}");
    assert!(a.terminate().success());
    assert!(b.terminate().success());
}
