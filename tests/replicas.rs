//! Several replicas of the service on one PostgreSQL: live updates heard
//! across replicas, graceful shutdown, a replica killed mid-load, and a
//! replica of an older release fenced.

mod common;

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
