//! The HTTP layer as an attacker and a careless client try it: login
//! guessing, oversized and malformed bodies, cross-site requests, foreign
//! WebSocket origins, GraphiQL, and what `/ready` tells.

mod common;
#[path = "support/pages.rs"]
mod pages;

use std::time::Duration;

use common::*;
use futures::{SinkExt as _, StreamExt as _};
use pages::{Form, get_with, no_redirects, signed_in};
use passerelle_store::testkit::TestDb;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;

const LOGIN: &str = "mutation($e: String!, $p: String!) {
    login(input: { email: $e, password: $p }) { token } }";

/// A POST over a plain socket, its body chunked (no declared length) or
/// with its length; the status and the whole answer. The server may answer
/// and close before the whole body is sent, which a client library reports
/// as a broken pipe.
async fn raw_post(
    server: &Server,
    path: &str,
    head: &[(&str, &str)],
    body: &[u8],
    chunked: bool,
) -> (u16, String) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let address = server.base.trim_start_matches("http://");
    let mut socket = tokio::net::TcpStream::connect(address).await.unwrap();
    let mut request = format!("POST {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n");
    for (name, value) in head {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    if chunked {
        request.push_str("Transfer-Encoding: chunked\r\n\r\n");
    } else {
        request.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    }
    socket.write_all(request.as_bytes()).await.unwrap();
    for chunk in body.chunks(64 * 1024) {
        let framed = if chunked {
            [format!("{:x}\r\n", chunk.len()).as_bytes(), chunk, b"\r\n"].concat()
        } else {
            chunk.to_vec()
        };
        if socket.write_all(&framed).await.is_err() {
            break;
        }
    }
    if chunked {
        let _ = socket.write_all(b"0\r\n\r\n").await;
    }
    let mut answer = Vec::new();
    let _ = socket.read_to_end(&mut answer).await;
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

#[tokio::test]
async fn login_guessing_is_locked_out_per_address_and_per_client() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let server = Server::start(|cmd| {
        cmd.env("DATABASE_URL", db.url())
            .env("PASSERELLE_DATA_DIR", dir.path())
            .env("PASSERELLE_API__MAX_ATTEMPTS_PER_CLIENT", "14");
    });
    wait_for_status(&server, "/ready", 200).await;
    create_user(
        &db,
        &dir,
        "Mission locale de Nantes",
        "camille@ml-nantes.fr",
    );

    // Fifty wrong passwords as fast as they go, then the right one.
    let started = std::time::Instant::now();
    let mut codes = Vec::new();
    for n in 0..50 {
        let wrong = json!({ "e": "camille@ml-nantes.fr", "p": format!("wrong password {n}") });
        codes.push(error(&gql(&server, None, LOGIN, wrong).await).0);
    }
    let elapsed = started.elapsed();
    assert_eq!(
        codes.iter().filter(|c| *c == "UNAUTHENTICATED").count(),
        5,
        "{codes:?}"
    );
    assert!(codes[5..].iter().all(|c| c == "RATE_LIMITED"), "{codes:?}");
    let right = json!({ "e": "camille@ml-nantes.fr", "p": PASSWORD });
    let refused = gql(&server, None, LOGIN, right.clone()).await;
    assert_eq!(error(&refused).0, "RATE_LIMITED", "{refused}");
    assert!(refused["data"]["login"].is_null(), "{refused}");
    let message = refused["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.starts_with("Trop de tentatives : réessayez dans "),
        "{message}"
    );
    let retry = refused["errors"][0]["extensions"]["retryAfter"]
        .as_u64()
        .unwrap();
    assert!((1..=60).contains(&retry), "{refused}");
    eprintln!("50 wrong passwords took {elapsed:?}");

    // An unknown address is locked out alike: same answers, same count.
    let mut unknown = Vec::new();
    for n in 0..7 {
        let wrong = json!({ "e": "personne@ml-nantes.fr", "p": format!("wrong {n}") });
        let answer = gql(&server, None, LOGIN, wrong).await;
        unknown.push(error(&answer).0);
        if n == 6 {
            assert_eq!(
                answer["errors"][0]["message"],
                refused["errors"][0]["message"]
            );
        }
    }
    assert_eq!(
        unknown,
        ["UNAUTHENTICATED"; 5]
            .iter()
            .chain(["RATE_LIMITED"; 2].iter())
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
    );

    // The lockouts are logged, without the address.
    let lockouts = server.logged("locked out");
    assert!(!lockouts.is_empty());
    assert!(
        lockouts
            .iter()
            .all(|l| !l.contains("ml-nantes.fr") && !l.contains("camille")),
        "{lockouts:?}"
    );

    // The web form counts against the same client: ten attempts so far
    // reached the password check, four more lock the client out whatever
    // the address, and the form says so in French.
    let form = Form::fetch(&server, &[]).await;
    let mut last = String::new();
    for n in 0..5 {
        let page = form
            .post(
                &server,
                "/connexion",
                &format!("email=autre{n}%40ml-nantes.fr&password=faux{n}"),
            )
            .await;
        last = page.text().await.unwrap();
    }
    assert!(last.contains("Trop de tentatives"), "{last}");
    let other = json!({ "e": "nouvelle@ml-nantes.fr", "p": "whatever it is" });
    assert_eq!(
        error(&gql(&server, None, LOGIN, other).await).0,
        "RATE_LIMITED"
    );
}

/// Past `api.max_connections` open at once, the next connection is served
/// only once one closes: clients holding connections cannot take every
/// descriptor of the process. A WebSocket keeps its connection's place
/// while it is open, after hyper has handed it over.
#[tokio::test]
async fn connections_past_the_bound_wait_for_one_to_close() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, _) = started_with(&db, &dir, |cmd| {
        cmd.env("PASSERELLE_API__MAX_CONNECTIONS", "2")
            .env("PASSERELLE_API__REQUEST_READ_SECONDS", "3");
    })
    .await;
    let address = server.base.trim_start_matches("http://").to_owned();
    // The start's own connections, kept alive by the test's client, are
    // closed by the server once idle past the deadline.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let first = tokio::net::TcpStream::connect(&address).await.unwrap();
    let mut socket = format!("ws://{address}/graphql/ws")
        .into_client_request()
        .unwrap();
    socket.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (mut second, _) = tokio_tungstenite::connect_async(socket)
        .await
        .expect("a WebSocket within the bound");
    let mut third = tokio::net::TcpStream::connect(&address).await.unwrap();
    third
        .write_all(b"GET /live HTTP/1.1\r\nHost: passerelle\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let early = tokio::time::timeout(Duration::from_secs(1), third.read_to_end(&mut answer)).await;
    assert!(
        early.is_err() && answer.is_empty(),
        "answered while a connection and a WebSocket were open: {}",
        String::from_utf8_lossy(&answer)
    );
    // One closes: the third is served at once (well before the other's
    // deadline would have freed it).
    let closed = std::time::Instant::now();
    drop(first);
    tokio::time::timeout(Duration::from_millis(1500), third.read_to_end(&mut answer))
        .await
        .expect("served once a connection closed")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(closed.elapsed() < Duration::from_millis(1500), "{answer}");
    // A socket that never says who it is gives its place back at the
    // deadline, closed as graphql-transport-ws names it.
    let said = tokio::time::timeout(Duration::from_secs(5), second.next())
        .await
        .expect("closed at the deadline");
    match said {
        Some(Ok(Message::Close(Some(frame)))) => assert_eq!(u16::from(frame.code), 4408),
        other => panic!("not closed for its missing connection_init: {other:?}"),
    }
    assert!(server.terminate().success());
}

/// A client that asks for answers and takes none of them no longer holds
/// its connection: once writing to it has made no progress for
/// `api.answer_write_seconds`, the connection is closed. Before, it stayed
/// open for as long as the client liked, every answer served once it read.
#[tokio::test]
async fn a_client_taking_none_of_its_answers_is_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, _) = started_with(&db, &dir, |cmd| {
        cmd.env("PASSERELLE_API__ANSWER_WRITE_SECONDS", "1");
    })
    .await;
    let address: std::net::SocketAddr = server.base.trim_start_matches("http://").parse().unwrap();
    // Little room on the client's side, and answers (about 5 KB each) worth
    // far more than the buffers between the two: the server's writes wait.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let (mut reader, mut writer) = socket.connect(address).await.unwrap().into_split();
    const ASKED: usize = 5000;
    let asking = tokio::spawn(async move {
        let request = b"GET /static/app.css HTTP/1.1\r\nHost: passerelle\r\n\r\n";
        for _ in 0..ASKED {
            if writer.write_all(request).await.is_err() {
                break;
            }
        }
        // The writing half stays open: the client has not said it is done.
        std::future::pending::<()>().await;
    });
    tokio::time::sleep(Duration::from_secs(4)).await;
    let mut answers = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(6), reader.read_to_end(&mut answers)).await;
    let served = String::from_utf8_lossy(&answers)
        .matches("HTTP/1.1 200")
        .count();
    match read {
        Ok(Ok(_)) => {}
        // Closed with requests still unread on the server's side.
        Ok(Err(e)) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}"),
        Err(_) => {
            panic!("still open 10 s after the client stopped reading ({served} answers read)")
        }
    }
    assert!(
        served < ASKED,
        "{served} answers of {ASKED}: the client was waited for"
    );
    asking.abort();
    // The server goes on serving others.
    let live = reqwest::get(format!("{}/live", server.base)).await.unwrap();
    assert_eq!(live.status(), 200);
    assert!(server.terminate().success());
}

/// A WebSocket holds its place among the connections open at once only
/// for what it may receive: one whose `connection_init` carries no session
/// is closed at `api.request_read_seconds` (4403), after the refusal of
/// what it asked for; a signed-in one that starts more subscriptions at
/// once than a socket may is closed (4429), and one that ends its
/// subscriptions may start others. Before, the anonymous socket stayed
/// open, and a socket ran as many subscriptions as it liked, each reading
/// the database again after every command.
#[tokio::test]
async fn a_websocket_without_a_session_or_with_too_many_subscriptions_is_closed() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, token) = started_with(&db, &dir, |cmd| {
        cmd.env("PASSERELLE_API__REQUEST_READ_SECONDS", "2");
    })
    .await;
    let open = |bearer: Option<String>| {
        let url = format!("{}/graphql/ws", server.base.replace("http://", "ws://"));
        async move {
            let mut request = url.into_client_request().unwrap();
            request.headers_mut().insert(
                "sec-websocket-protocol",
                "graphql-transport-ws".parse().unwrap(),
            );
            let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
            let payload = match bearer {
                Some(t) => json!({ "authorization": format!("Bearer {t}") }),
                None => json!({}),
            };
            ws.send(Message::text(
                json!({ "type": "connection_init", "payload": payload }).to_string(),
            ))
            .await
            .unwrap();
            ws
        }
    };
    let subscribe = |id: usize| {
        Message::text(
            json!({ "id": id.to_string(), "type": "subscribe",
                    "payload": { "query": "subscription { inboxChanged { overdue } }" } })
            .to_string(),
        )
    };
    // How the socket ends, within `limit`: its close frame's code.
    async fn closed_with(
        ws: &mut tokio_tungstenite::WebSocketStream<
            tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
        >,
        limit: Duration,
    ) -> Option<u16> {
        tokio::time::timeout(limit, async {
            loop {
                match ws.next().await {
                    Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                    None | Some(Err(_)) => return None,
                    Some(Ok(_)) => {}
                }
            }
        })
        .await
        .expect("closed in time")
    }

    let started = std::time::Instant::now();
    let mut anonymous = open(None).await;
    anonymous.send(subscribe(1)).await.unwrap();
    assert_eq!(
        closed_with(&mut anonymous, Duration::from_secs(5)).await,
        Some(4403)
    );
    assert!(started.elapsed() >= Duration::from_millis(1900));

    let mut signed_in = open(Some(token.clone())).await;
    for id in 0..16 {
        signed_in.send(subscribe(id)).await.unwrap();
    }
    // Ended by the client: its place is free again.
    signed_in
        .send(Message::text(
            json!({ "id": "0", "type": "complete" }).to_string(),
        ))
        .await
        .unwrap();
    signed_in.send(subscribe(16)).await.unwrap();
    // Past the deadline of an unintroduced socket, a signed-in one stays.
    assert!(
        tokio::time::timeout(Duration::from_secs(3), async {
            loop {
                match signed_in.next().await {
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                    Some(Ok(_)) => {}
                }
            }
        })
        .await
        .is_err(),
        "a signed-in socket with 16 subscriptions was closed"
    );
    signed_in.send(subscribe(17)).await.unwrap();
    assert_eq!(
        closed_with(&mut signed_in, Duration::from_secs(5)).await,
        Some(4429)
    );
    // The server goes on.
    let mut again = open(Some(token)).await;
    again.send(subscribe(1)).await.unwrap();
    let first = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if let Some(Ok(Message::Text(text))) = again.next().await
                && text.contains("\"next\"")
            {
                return text.to_string();
            }
        }
    })
    .await
    .expect("an inbox within 5 s");
    assert!(first.contains("overdue"), "{first}");
}

/// A request with a method of the client's own making is counted under
/// `OTHER`: a label kept for each one would grow `/metrics` without end.
#[tokio::test]
async fn a_made_up_method_adds_no_label_to_the_metrics() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, _) = started(&db, &dir).await;
    let address = server.base.trim_start_matches("http://").to_owned();
    for method in ["FROBNICATE1", "FROBNICATE2"] {
        let mut socket = tokio::net::TcpStream::connect(&address).await.unwrap();
        socket
            .write_all(
                format!("{method} /live HTTP/1.1\r\nHost: p\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            )
            .await
            .unwrap();
        let mut answer = Vec::new();
        socket.read_to_end(&mut answer).await.unwrap();
        assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 405"));
    }
    let metrics = reqwest::get(format!("{}/metrics", server.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!metrics.contains("FROBNICATE"), "{metrics}");
    assert!(metrics.contains("method=\"OTHER\""), "{metrics}");
}

/// The whole lists kept for older clients (`Employer.visits`,
/// `Person.timeline`) give their first hundred rows, as a page of their
/// paged field at its largest: before, a list that had grown without end
/// was read whole into one answer, as often as a request named it.
#[tokio::test]
async fn the_whole_lists_of_older_clients_stop_at_a_page() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, token) = started(&db, &dir).await;
    let registered = gql(
        &server,
        Some(&token),
        "mutation { employerRegister(input: { siret: \"732 829 320 00074\",
            name: \"Boulangerie du Port\", naf: \"10.71C\", commune: \"44109\" }) {
            employer { id } } }",
        json!({}),
    )
    .await;
    let employer = registered["data"]["employerRegister"]["employer"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{registered}"))
        .to_owned();
    let enrolled = gql(
        &server,
        Some(&token),
        "mutation { personEnroll(input: { firstName: \"Awa\", lastName: \"Diallo\",
            birthDate: \"2001-05-12\" }) { person { id } } }",
        json!({}),
    )
    .await;
    let person = enrolled["data"]["personEnroll"]["person"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{enrolled}"))
        .to_owned();
    for _ in 0..101 {
        let visit = gql(
            &server,
            Some(&token),
            "mutation($id: ID!) { employerVisitLog(input: { employerId: $id,
                purpose: PROSPECTION, observations: \"Un départ en retraite\" }) {
                employer { visitCount } } }",
            json!({ "id": employer }),
        )
        .await;
        assert!(visit["errors"].is_null(), "{visit}");
        let inquiry = gql(
            &server,
            Some(&token),
            "mutation($p: ID!) { jobInquiryLog(input: { personId: $p, romeCode: \"D1102\",
                withWhom: \"Boulangerie du Port\" }) { inquiryId } }",
            json!({ "p": person }),
        )
        .await;
        assert!(inquiry["errors"].is_null(), "{inquiry}");
    }
    let read = gql(
        &server,
        Some(&token),
        "query($e: ID!, $p: ID!) {
            employer(id: $e) { visitCount visits { id }
                loggedVisits(first: 100) { edges { node { id } } pageInfo { hasNextPage } } }
            person(id: $p) { timeline { eventType }
                timelineEvents(first: 100) { edges { node { eventType } }
                                             pageInfo { hasNextPage } } } }",
        json!({ "e": employer, "p": person }),
    )
    .await;
    let employer = &read["data"]["employer"];
    assert_eq!(employer["visitCount"], 101, "{read}");
    let visits = employer["visits"].as_array().unwrap();
    assert_eq!(visits.len(), 100);
    let page: Vec<&Value> = employer["loggedVisits"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["node"])
        .collect();
    assert_eq!(visits.iter().collect::<Vec<_>>(), page);
    assert_eq!(employer["loggedVisits"]["pageInfo"]["hasNextPage"], true);
    let person = &read["data"]["person"];
    let timeline = person["timeline"].as_array().unwrap();
    assert_eq!(timeline.len(), 100, "{read}");
    let page: Vec<&Value> = person["timelineEvents"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["node"])
        .collect();
    assert_eq!(timeline.iter().collect::<Vec<_>>(), page);
    assert_eq!(person["timelineEvents"]["pageInfo"]["hasNextPage"], true);
}

/// A client sending a request's first bytes and no more, or a body a byte
/// now and then, no longer holds its connection for as long as it likes:
/// the head is closed on after `api.request_read_seconds`, a body that has
/// not arrived by then is refused with a French 408. Before, both
/// connections stayed open (40 s and more, measured): enough of them
/// exhaust the process's descriptors.
#[tokio::test]
async fn a_request_sent_too_slowly_is_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, token) = started_with(&db, &dir, |cmd| {
        cmd.env("PASSERELLE_API__REQUEST_READ_SECONDS", "1");
    })
    .await;
    let address = server.base.trim_start_matches("http://").to_owned();
    // What the server sends before closing, within `limit`, once its
    // deadline of 1 s has passed (not before: refused for that reason).
    async fn answered(stream: &mut tokio::net::TcpStream, limit: u64) -> String {
        let (mut answer, sent) = (Vec::new(), std::time::Instant::now());
        tokio::time::timeout(Duration::from_secs(limit), stream.read_to_end(&mut answer))
            .await
            .expect("the server closed the connection in time")
            .expect("read the server's answer");
        let answer = String::from_utf8_lossy(&answer).into_owned();
        assert!(sent.elapsed() >= Duration::from_millis(900), "{answer}");
        answer
    }

    // A head that never ends: closed on, nothing answered.
    let mut head = tokio::net::TcpStream::connect(&address).await.unwrap();
    head.write_all(b"GET /live HTTP/1.1\r\nHost: passerelle\r\n")
        .await
        .unwrap();
    let answer = answered(&mut head, 5).await;
    assert!(answer.is_empty(), "{answer}");

    // A body that stops half-way: refused, in French, as the API's error.
    let mut body = tokio::net::TcpStream::connect(&address).await.unwrap();
    body.write_all(
        format!(
            "POST /graphql HTTP/1.1\r\nHost: passerelle\r\nContent-Type: application/json\r\n\
             Authorization: Bearer {token}\r\nContent-Length: 100\r\n\r\n{{\"query\""
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let answer = answered(&mut body, 5).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("BAD_USER_INPUT"), "{answer}");
    assert!(answer.contains("trop lentement"), "{answer}");

    // A page's form too, with a French page.
    let mut form = tokio::net::TcpStream::connect(&address).await.unwrap();
    form.write_all(
        b"POST /connexion HTTP/1.1\r\nHost: passerelle\r\n\
          Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nemail=",
    )
    .await
    .unwrap();
    let answer = answered(&mut form, 5).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("trop lentement"), "{answer}");

    // Requests sent at once are served as before, on the same server.
    let me = gql(&server, Some(&token), "{ me { name } }", json!({})).await;
    assert!(me["errors"].is_null(), "{me}");
}

#[tokio::test]
async fn bodies_over_the_limit_are_refused_on_every_route_with_a_french_error() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, token) = started_with(&db, &dir, |cmd| {
        cmd.env("PASSERELLE_API__MAX_BODY_BYTES", "65536");
    })
    .await;
    let padding = "x".repeat(10 * 1024 * 1024);
    let big = json!({ "query": "{ me { name } }", "variables": { "pad": padding } }).to_string();

    // Declared too large: refused before reading.
    let (status, answer) = raw_post(
        &server,
        "/graphql",
        &[
            ("Content-Type", "application/json"),
            ("Authorization", &format!("Bearer {token}")),
        ],
        big.as_bytes(),
        false,
    )
    .await;
    assert_eq!(status, 413, "{answer}");
    let body: Value = serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(error(&body).0, "BAD_USER_INPUT", "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("taille maximale"),
        "{body}"
    );

    // Streamed with no declared length: stopped at the limit all the same.
    let (status, answer) = raw_post(
        &server,
        "/graphql",
        &[("Content-Type", "application/json")],
        big.as_bytes(),
        true,
    )
    .await;
    assert_eq!(status, 413, "{answer}");
    assert!(answer.contains("BAD_USER_INPUT"), "{answer}");

    // A page's form too, declared or streamed, answered with a French page.
    let form = Form::fetch(&server, &[]).await;
    let cookies = form.cookies.join("; ");
    let body = format!("email={padding}&password=x&csrf={}", form.csrf);
    for chunked in [false, true] {
        let (status, html) = raw_post(
            &server,
            "/connexion",
            &[
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("Cookie", &cookies),
            ],
            body.as_bytes(),
            chunked,
        )
        .await;
        assert_eq!(status, 413, "{html}");
        assert!(html.contains("<html lang=\"fr\">"), "{html}");
        assert!(html.contains("taille maximale"), "{html}");
    }
}

#[tokio::test]
async fn graphql_takes_json_only_and_refusals_carry_no_framework_text() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, token) = started(&db, &dir).await;
    let client = reqwest::Client::new();
    let url = format!("{}/graphql", server.base);
    let mutation = r#"{"query":"mutation { logout { loggedOut } }"}"#;

    // A cross-site form or text/plain request carrying the session cookie
    // runs nothing.
    for kind in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ] {
        let answer = client
            .post(&url)
            .header("content-type", kind)
            .header(
                "cookie",
                format!("{}={token}", passerelle_graphql::SESSION_COOKIE),
            )
            .body(mutation)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 415, "{kind}");
        let body: Value = serde_json::from_str(&answer.text().await.unwrap()).unwrap();
        assert_eq!(error(&body).0, "BAD_USER_INPUT", "{body}");
    }
    let me = gql(&server, Some(&token), "{ me { name } }", json!({})).await;
    assert_eq!(
        me["data"]["me"]["name"], "Camille Durand",
        "the session survived: {me}"
    );

    // Malformed JSON: a French message, nothing of the parser's.
    for body in ["{not json", r#"{"query": 12}"#, "[]"] {
        let answer = client
            .post(&url)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 400, "{body}");
        let text = answer.text().await.unwrap();
        let parsed: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(error(&parsed).0, "BAD_USER_INPUT", "{text}");
        for english in ["line", "column", "expected", "invalid type", "Error("] {
            assert!(!text.contains(english), "{english} in {text}");
        }
    }

    // A page's form sent as JSON: a French page.
    let answer = client
        .post(format!("{}/connexion", server.base))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 415);
    let html = answer.text().await.unwrap();
    assert!(
        html.contains("<html lang=\"fr\">") && html.contains("type de contenu"),
        "{html}"
    );
}

#[tokio::test]
async fn a_form_token_is_bound_to_the_session_and_its_cookies_to_this_host() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, _) = started(&db, &dir).await;

    let page = reqwest::get(format!("{}/", server.base)).await.unwrap();
    let set: Vec<String> = page
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|c| c.to_str().unwrap().to_owned())
        .collect();
    assert!(
        set.iter().any(|c| c.starts_with("__Host-passerelle_csrf=")
            && c.contains("Secure")
            && c.contains("Path=/")
            && !c.contains("Domain")),
        "{set:?}"
    );

    // Logged in through the form: the session cookie is __Host- too.
    let before = Form::fetch(&server, &[]).await;
    let answer = before
        .post(
            &server,
            "/connexion",
            &format!(
                "email=camille%40ml-nantes.fr&password={}",
                PASSWORD.replace(' ', "+")
            ),
        )
        .await;
    assert_eq!(answer.status(), 303);
    let session = answer
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|c| c.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("__Host-passerelle_session="))
        .expect("a session cookie");
    assert!(session.contains("HttpOnly") && session.contains("Secure"));
    let mut cookies = before.cookies.clone();
    cookies.push(session.split(';').next().unwrap().to_owned());

    // The token shown before the login is worthless with the session.
    let stale = Form {
        cookies: cookies.clone(),
        csrf: before.csrf.clone(),
    };
    assert_eq!(stale.post(&server, "/deconnexion", "").await.status(), 403);
    // The page's new token works.
    let fresh = Form::fetch(&server, &cookies).await;
    assert_ne!(fresh.csrf, before.csrf);
    assert_eq!(fresh.post(&server, "/deconnexion", "").await.status(), 303);
}

/// A page's address whose id is not one (edited by hand, cut short) is a
/// page that does not exist: a French 404, never the error page of a
/// failure, whichever page it is.
#[tokio::test]
async fn a_page_asked_with_an_id_that_is_not_one_is_not_found() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, _) = started(&db, &dir).await;
    let cookies = signed_in(&server, "camille@ml-nantes.fr").await;
    for path in [
        "/people/abc",
        "/people/%27",
        "/people/abc/corriger",
        "/people/abc/sortie",
        "/people/abc/conservation",
        "/people/abc/complements",
        "/courriels?immersion=abc",
        "/immersions/abc",
        "/immersions/abc/convention/imprimer",
        "/employers/abc",
        "/employers/abc/corriger",
        "/employers/abc/visites/abc",
        "/needs/abc",
        "/needs/abc/corriger",
        "/visites/nouvelle?employeur=abc",
        "/immersions/nouvelle?employeur=abc",
    ] {
        let page = get_with(&server, path, &cookies).await;
        assert_eq!(page.status(), 404, "{path}");
        let html = page.text().await.unwrap();
        assert!(html.contains("Introuvable"), "{path}: {html}");
    }
}

/// A link asked for an address that is not one: the home page again, the
/// address kept and the reason beside its field, not a page of its own.
#[tokio::test]
async fn a_link_asked_for_a_wrong_address_is_refused_beside_its_field() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, _) = started(&db, &dir).await;
    let form = Form::fetch(&server, &[]).await;
    let answer = form.post(&server, "/lien", "email=pas+une+adresse").await;
    assert_eq!(answer.status(), 422);
    let html = answer.text().await.unwrap();
    assert!(html.contains("id=\"lien-email-erreur\""), "{html}");
    assert!(html.contains("adresse e-mail"), "{html}");
    assert!(html.contains("value=\"pas une adresse\""), "{html}");
}

/// Signed out, a staff page sends to the sign-in form, whichever it is,
/// and signing in leads back to it; never to another site.
#[tokio::test]
async fn signed_out_staff_pages_send_to_the_sign_in_form_and_back() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, _) = started(&db, &dir).await;
    for (path, suite) in [
        ("/administration", "%2Fadministration"),
        ("/compte", "%2Fcompte"),
        ("/people", "%2Fpeople"),
        ("/besoins?etape=ouverts", "%2Fbesoins%3Fetape%3Douverts"),
        // A name typed into a list's address is not carried on.
        (
            "/people?nom=Diallo&etape=IMMERSION",
            "%2Fpeople%3Fetape%3DIMMERSION",
        ),
        ("/people?nom=Diallo", "%2Fpeople"),
        (
            "/people?%6Eom=Diallo&etape=IMMERSION",
            "%2Fpeople%3Fetape%3DIMMERSION",
        ),
        // An establishment's search stays: a business's name.
        (
            "/employers?nom=Boulangerie",
            "%2Femployers%3Fnom%3DBoulangerie",
        ),
    ] {
        let answer = get_with(&server, path, &[]).await;
        assert_eq!(answer.status(), 303, "{path}");
        assert_eq!(
            answer.headers()["location"],
            format!("/?suite={suite}"),
            "{path}"
        );
    }
    // The sign-in form says why and carries the page asked.
    let html = get_with(&server, "/?suite=%2Fpeople", &[])
        .await
        .text()
        .await
        .unwrap()
        .replace("&#x2f;", "/");
    assert!(
        html.contains("Connectez-vous pour ouvrir la page demandée."),
        "{html}"
    );
    assert!(html.contains("name=\"suite\" value=\"/people\""), "{html}");
    let form = Form::fetch(&server, &[]).await;
    let login = |suite: &'static str| {
        let (form, server) = (&form, &server);
        async move {
            let answer = form
                .post(
                    server,
                    "/connexion",
                    &format!(
                        "email=camille%40ml-nantes.fr&password={}&suite={suite}",
                        PASSWORD.replace(' ', "+")
                    ),
                )
                .await;
            assert_eq!(answer.status(), 303, "{suite}");
            answer.headers()["location"].to_str().unwrap().to_owned()
        }
    };
    assert_eq!(
        login("%2Fpeople%3Fetape%3DIMMERSION").await,
        "/people?etape=IMMERSION"
    );
    // Another site's address, however written, is no way back: home.
    for foreign in [
        "%2Facces%2Fun-lien-de-quelqu-un",
        "%2Fmot-de-passe%2Fun-autre",
        "%2F.%2Facces%2Fun-lien",
        "%2Fpeople%2F..%2Facces%2Fun-lien",
        "%2F%252e%2Facces%2Fun-lien",
        "%2FACCES%2Fun-lien",
        "https%3A%2F%2Fevil.example%2F",
        "%2F%2Fevil.example%2F",
        "%2F%5Cevil.example",
        "%2F%09%2Fevil.example",
        "people",
    ] {
        assert_eq!(login(foreign).await, "/", "{foreign}");
        let html = get_with(&server, &format!("/?suite={foreign}"), &[])
            .await
            .text()
            .await
            .unwrap();
        assert!(!html.contains("name=\"suite\""), "{foreign}: {html}");
    }
    // Signed in already (another tab), the sign-in link leads on at once.
    let cookies = signed_in(&server, "camille@ml-nantes.fr").await;
    let answer = get_with(&server, "/?suite=%2Fbesoins", &cookies).await;
    assert_eq!(answer.status(), 303);
    assert_eq!(answer.headers()["location"], "/besoins");
}

/// The cookies a browser keeps from an answer (name and value), added to
/// those it had.
fn kept(mut cookies: Vec<String>, answer: &reqwest::Response) -> Vec<String> {
    for c in answer.headers().get_all("set-cookie") {
        let pair = c.to_str().unwrap().split(';').next().unwrap().to_owned();
        let name = pair.split('=').next().unwrap().to_owned();
        cookies.retain(|c| !c.starts_with(&format!("{name}=")));
        cookies.push(pair);
    }
    cookies
}

/// Signed out, a person's page sends to the home page, whose mailed link,
/// asked for there and opened in the same browser, leads back to it; opened
/// elsewhere, or with a way back that is not one, to her space's first page.
#[tokio::test]
async fn a_mailed_link_opened_in_the_same_browser_leads_back_to_the_page_asked() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, token) = started_with_links(&db, &dir).await;
    enroll(&server, &token, Some("awa.diallo@exemple.fr")).await;
    for (path, suite) in [
        ("/mon-espace/temoignages", "%2Fmon-espace%2Ftemoignages"),
        (
            "/mon-espace/temoignages/un-temoignage/retirer",
            "%2Fmon-espace%2Ftemoignages%2Fun-temoignage%2Fretirer",
        ),
        ("/mon-espace/coordonnees", "%2Fmon-espace%2Fcoordonnees"),
        ("/mon-espace/contacts", "%2Fmon-espace%2Fcontacts"),
        ("/portail/besoin", "%2Fportail%2Fbesoin"),
    ] {
        let answer = get_with(&server, path, &[]).await;
        assert_eq!(answer.status(), 303, "{path}");
        assert_eq!(answer.headers()["location"], format!("/?suite={suite}"));
    }
    // Both of the home page's forms carry the page asked.
    let html = get_with(&server, "/?suite=%2Fmon-espace%2Ftemoignages", &[])
        .await
        .text()
        .await
        .unwrap()
        .replace("&#x2f;", "/");
    assert_eq!(
        html.matches("name=\"suite\" value=\"/mon-espace/temoignages\"")
            .count(),
        2,
        "{html}"
    );
    let form = Form::fetch(&server, &[]).await;
    let asked = form
        .post(
            &server,
            "/lien",
            "email=awa.diallo%40exemple.fr&suite=%2Fmon-espace%2Ftemoignages",
        )
        .await;
    assert_eq!(asked.status(), 303);
    let sent = "/?fait=lien-suite&suite=%2Fmon-espace%2Ftemoignages";
    assert_eq!(asked.headers()["location"], sent);
    let kept_cookie = asked.headers()["set-cookie"].to_str().unwrap().to_owned();
    for attribute in ["Path=/acces", "HttpOnly", "Secure", "SameSite=Strict"] {
        assert!(kept_cookie.contains(attribute), "{kept_cookie}");
    }
    // The link's 30 minutes, and a day for a mail sent late.
    assert!(kept_cookie.contains("Max-Age=88200"), "{kept_cookie}");
    assert!(!kept_cookie.contains("temoignages"), "{kept_cookie}");
    let browser = kept(form.cookies.clone(), &asked);
    let said = get_with(&server, sent, &browser)
        .await
        .text()
        .await
        .unwrap()
        .replace("&#x2f;", "/");
    assert!(said.contains("il vous mène à la page demandée"), "{said}");
    // Asked again from that page (the mail slow to come): the way back stays.
    assert_eq!(
        said.matches("name=\"suite\" value=\"/mon-espace/temoignages\"")
            .count(),
        2,
        "{said}"
    );
    let again = form
        .post(
            &server,
            "/lien",
            "email=awa.diallo%40exemple.fr&suite=%2Fmon-espace%2Ftemoignages",
        )
        .await;
    assert_eq!(again.headers()["location"], sent);
    let browser = kept(browser, &again);
    // The last link, opened in this browser: back to the page asked, once.
    let link = next_link(&server, 1).await;
    let redeemed = no_redirects()
        .post(format!("{}/acces", server.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cookie", browser.join("; "))
        .body(format!("token={link}&csrf={}", form.csrf))
        .send()
        .await
        .unwrap();
    assert_eq!(redeemed.status(), 303);
    assert_eq!(redeemed.headers()["location"], "/mon-espace/temoignages");
    let signed_in = kept(browser.clone(), &redeemed);
    assert!(
        !signed_in
            .iter()
            .any(|c| c.starts_with("__Secure-passerelle_suite=") && c.len() > 26),
        "the way back is forgotten once used: {signed_in:?}"
    );
    let page = get_with(&server, "/mon-espace/temoignages", &signed_in).await;
    assert_eq!(page.status(), 200);
    // A link asked with a way back and opened in another browser, one asked
    // without, and ways back this service did not seal for the browser (a
    // path of ours planted unsealed, a foreign address): her space's first
    // page.
    let unsealed = format!(
        "__Secure-passerelle_suite={}",
        base64_url("/mon-espace/contacts")
    );
    let forged = format!(
        "__Secure-passerelle_suite={}.{}",
        base64_url("//evil.example/"),
        base64_url("not the seal")
    );
    for (n, suite, extra) in [
        (2, "&suite=%2Fmon-espace%2Ftemoignages", None),
        (3, "", Some(unsealed)),
        (4, "", Some(forged)),
    ] {
        let asking = Form::fetch(&server, &[]).await;
        asking
            .post(
                &server,
                "/lien",
                &format!("email=awa.diallo%40exemple.fr{suite}"),
            )
            .await;
        // Opened in a browser of its own, which asked for nothing.
        let elsewhere = Form::fetch(&server, &[]).await;
        let mut cookies = elsewhere.cookies.clone();
        cookies.extend(extra);
        let link = next_link(&server, n).await;
        let redeemed = no_redirects()
            .post(format!("{}/acces", server.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("cookie", cookies.join("; "))
            .body(format!("token={link}&csrf={}", elsewhere.csrf))
            .send()
            .await
            .unwrap();
        assert_eq!(redeemed.status(), 303, "link {n}");
        assert_eq!(redeemed.headers()["location"], "/", "link {n}");
    }
}

/// `text` as the service keeps a way back in its cookie.
fn base64_url(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

/// A refusal is shown on the page that comes back, whatever its form: a
/// first project for a person whose accompaniment ended, a need closed
/// while its page was open, a proposal's message, and a person's own
/// testimony withdrawn by her structure meanwhile.
#[tokio::test]
async fn refusals_are_shown_where_the_page_no_longer_offers_the_form() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, token) = started_with_links(&db, &dir).await;
    let staff = Form::fetch(&server, &signed_in(&server, "camille@ml-nantes.fr").await).await;
    let ok = |answer: &Value| assert!(answer["errors"].is_null(), "{answer}");
    // Her accompaniment ended: the first project's form says why it is refused.
    let person = enroll(&server, &token, Some("awa.diallo@exemple.fr")).await;
    ok(&gql(
        &server,
        Some(&token),
        "mutation($p: ID!) { personExit(input: { personId: $p, reason: MOVED }) { person { id } } }",
        json!({ "p": person }),
    )
    .await);
    let answer = staff
        .post(
            &server,
            &format!("/people/{}/premier-projet", person.as_str().unwrap()),
            "project_rome=D1102",
        )
        .await;
    assert_eq!(answer.status(), 422);
    let html = answer.text().await.unwrap().replace("&#39;", "'");
    assert!(
        html.contains("role=\"alert\">Cette personne est sortie de l'accompagnement le"),
        "{html}"
    );
    // A need closed by someone else while its page was open.
    let employer =
        register_employer(&server, &token, "73282932000074", "Boulangerie du Port").await;
    let visit = gql(
        &server,
        Some(&token),
        "mutation($e: ID!) { employerVisitLog(input: { employerId: $e, purpose: PROSPECTION,
            observations: \"Passage\" }) { visitId } }",
        json!({ "e": employer }),
    )
    .await;
    let need = gql(
        &server,
        Some(&token),
        "mutation($e: ID!, $v: ID!) { needSurface(input: { employerId: $e,
            source: { kind: VISIT, visitId: $v }, description: { activities: \"Mise en rayon\",
            horizon: WITHIN_THREE_MONTHS, hiringIntent: POSSIBLE } }) { need { id } } }",
        json!({ "e": employer, "v": visit["data"]["employerVisitLog"]["visitId"] }),
    )
    .await;
    let need = need["data"]["needSurface"]["need"]["id"].clone();
    ok(&gql(
        &server,
        Some(&token),
        "mutation($n: ID!) { needClose(input: { needId: $n, reason: MET }) { need { id } } }",
        json!({ "n": need }),
    )
    .await);
    let answer = staff
        .post(
            &server,
            &format!("/needs/{}/qualifier", need.as_str().unwrap()),
            "activities=Mise+en+rayon&rome_codes=D1507&horizon=WITHIN_THREE_MONTHS\
             &hiring_intent=POSSIBLE&headcount=1&conditions=",
        )
        .await;
    assert_eq!(answer.status(), 422);
    let html = answer.text().await.unwrap();
    assert!(
        html.contains("role=\"alert\">Ce besoin est clos : enregistrez un nouveau besoin."),
        "{html}"
    );
    // A proposal's message the text rules refuse: beside it.
    let answer = staff
        .post(
            &server,
            "/immersions",
            &format!(
                "person={}&employer={}&objective=DISCOVER_JOB_OR_SECTOR&message=Bonjour%07",
                enroll(&server, &token, None).await.as_str().unwrap(),
                employer.as_str().unwrap()
            ),
        )
        .await;
    assert_eq!(answer.status(), 422);
    let html = answer.text().await.unwrap();
    assert!(html.contains("id=\"message-erreur\""), "{html}");
    assert!(
        html.contains("aria-describedby=\"message-erreur\""),
        "{html}"
    );
    // Her own testimony, withdrawn by her structure while her page was open.
    let person = enroll(&server, &token, Some("noe.bertin@exemple.fr")).await;
    ok(&gql(
        &server,
        Some(&token),
        "mutation($p: ID!) { consentGive(input: { personId: $p, purpose: TESTIMONY,
            textVersion: \"v1\", signedForm: true }) { person { id } } }",
        json!({ "p": person }),
    )
    .await);
    let testimony = gql(
        &server,
        Some(&token),
        "mutation($p: ID!) { testimonyRecord(input: { personId: $p, account: \"Mon parcours\",
            romeCodes: [\"D1102\"], audience: OWN_STRUCTURE_MEDIATORS }) { testimonyId } }",
        json!({ "p": person }),
    )
    .await;
    let testimony = testimony["data"]["testimonyRecord"]["testimonyId"]
        .as_str()
        .unwrap_or_else(|| panic!("{testimony}"))
        .to_owned();
    let her = link_session(&server, "noe.bertin@exemple.fr", 0).await;
    let hers = Form::fetch(&server, &[format!("__Host-passerelle_session={her}")]).await;
    ok(&gql(
        &server,
        Some(&token),
        "mutation($t: ID!) { testimonyWithdraw(input: { testimonyId: $t }) { testimonyId } }",
        json!({ "t": testimony }),
    )
    .await);
    let answer = hers
        .post(
            &server,
            &format!("/mon-espace/temoignages/{testimony}/public"),
            "audience=OWN_STRUCTURE_PEOPLE",
        )
        .await;
    assert_eq!(answer.status(), 422);
    let html = answer.text().await.unwrap();
    assert!(
        html.contains("role=\"alert\">Ce témoignage a été retiré : il ne se partage plus."),
        "{html}"
    );
}

/// A dashboard's filter that does not apply to its tab is named as the form
/// names it, not by the API's name.
#[tokio::test]
async fn a_filter_that_does_not_apply_is_named_as_the_form_names_it() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, _) = started(&db, &dir).await;
    let cookies = signed_in(&server, "camille@ml-nantes.fr").await;
    for (path, label, name) in [
        (
            "/tableaux/employeurs?ageBand=FROM_26_TO_49",
            "Âge",
            "ageBand",
        ),
        (
            "/tableaux/besoins?objective=DISCOVER_JOB_OR_SECTOR",
            "Objectif",
            "objective",
        ),
        (
            "/tableaux/reajustements?naf=10",
            "Secteur (division NAF)",
            "naf",
        ),
    ] {
        let html = get_with(&server, path, &cookies)
            .await
            .text()
            .await
            .unwrap()
            .replace("&#39;", "'");
        assert!(
            html.contains(&format!(
                "Le filtre « {label} » ne s'applique pas à ce tableau : retirez-le."
            )),
            "{path}: {html}"
        );
        assert!(!html.contains(&format!("« {name} »")), "{path}: {html}");
    }
}

/// An establishment registered again under its SIRET: refused beside the
/// field, with no id in the words, and a link to the one registered.
#[tokio::test]
async fn an_establishment_registered_twice_leads_to_the_first() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, token) = started(&db, &dir).await;
    let employer =
        register_employer(&server, &token, "73282932000074", "Boulangerie du Port").await;
    let cookies = signed_in(&server, "camille@ml-nantes.fr").await;
    let session = Form::fetch(&server, &cookies).await;
    let answer = session
        .post(
            &server,
            "/employers",
            "name=Boulangerie+du+Quai&siret=732+829+320+00074&naf=10&commune=44109&address=",
        )
        .await;
    assert_eq!(answer.status(), 422);
    let html = answer.text().await.unwrap().replace("&#39;", "'");
    assert!(
        html.contains("L'établissement 732 829 320 00074 est déjà enregistré : ouvrez sa fiche"),
        "{html}"
    );
    assert!(!html.contains(employer.as_str().unwrap()), "{html}");
    let needle = "<a href=\"";
    let at = html
        .find("Voir l'établissement déjà enregistré")
        .expect("a link");
    let start = html[..at].rfind(needle).unwrap() + needle.len();
    let href = html[start..start + html[start..].find('"').unwrap()].replace("&#x2f;", "/");
    assert_eq!(href, "/employers?nom=732%20829%20320%2000074");
    let list = get_with(&server, &href, &cookies)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        list.contains(&format!(
            "href=\"/employers/{}\"",
            employer.as_str().unwrap()
        )),
        "{list}"
    );
}

/// A person's data kept longer from her file, as the retention warning's
/// mail asks: by her referent, with a reason, read back with it; another
/// mediator reads the extensions without the form.
#[tokio::test]
async fn a_referent_keeps_a_persons_data_longer_from_her_file() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, token) = started(&db, &dir).await;
    create_user(&db, &dir, "Mission locale de Nantes", "nadia@ml-nantes.fr");
    let person = enroll(&server, &token, None).await;
    let id = person.as_str().unwrap();
    let cookies = signed_in(&server, "camille@ml-nantes.fr").await;
    let file = get_with(&server, &format!("/people/{id}"), &cookies)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        file.contains(&format!("href=\"/people/{id}/conservation\"")),
        "{file}"
    );
    let path = format!("/people/{id}/conservation");
    let html = get_with(&server, &path, &cookies)
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("Aucune prolongation."), "{html}");
    assert!(
        html.contains("<option value=\"12\" selected>12 mois</option>"),
        "{html}"
    );
    let session = Form::fetch(&server, &cookies).await;
    // Refused beside its field: no reason, a duration the list does not offer.
    let answer = session.post(&server, &path, "months=6&reason=+").await;
    assert_eq!(answer.status(), 422);
    let html = answer.text().await.unwrap();
    assert!(
        html.contains("id=\"reason-erreur\">Précisez pourquoi"),
        "{html}"
    );
    let answer = session
        .post(&server, &path, "months=99&reason=Formation")
        .await;
    assert_eq!(answer.status(), 422);
    let html = answer.text().await.unwrap();
    assert!(
        html.contains("id=\"months-erreur\">Choisissez une durée de la liste."),
        "{html}"
    );
    assert!(html.contains(">Formation</textarea>"), "{html}");
    assert!(!html.contains("id=\"reason-erreur\""), "{html}");
    // A duration the list does not offer and no reason: both said at once.
    let answer = session.post(&server, &path, "months=99&reason=").await;
    assert_eq!(answer.status(), 422);
    let html = answer.text().await.unwrap();
    assert!(html.contains("id=\"months-erreur\">"), "{html}");
    assert!(
        html.contains("id=\"reason-erreur\">Précisez pourquoi"),
        "{html}"
    );
    let answer = session
        .post(
            &server,
            &path,
            "months=6&reason=Une+formation+commence+en+septembre",
        )
        .await;
    assert_eq!(answer.status(), 303);
    assert_eq!(
        answer.headers()["location"],
        format!("{path}?fait=conservation")
    );
    let until =
        passerelle_domain::fr::date(passerelle_domain::values::add_months(paris_today(), 6));
    let html = get_with(&server, &format!("{path}?fait=conservation"), &cookies)
        .await
        .text()
        .await
        .unwrap()
        .replace("&#39;", "'");
    assert!(
        html.contains("Conservation prolongée, avec son motif."),
        "{html}"
    );
    assert!(html.contains(&format!("Jusqu'au {until}")), "{html}");
    assert!(html.contains("par vous<br>"), "{html}");
    assert!(
        html.contains("Motif : Une formation commence en septembre"),
        "{html}"
    );
    // Who decided it is read back.
    let read = gql(
        &server,
        Some(&token),
        "query($p: ID!) { me { id } person(id: $p) { retentionExtensions { extendedBy } } }",
        json!({ "p": id }),
    )
    .await;
    assert_eq!(
        read["data"]["person"]["retentionExtensions"][0]["extendedBy"], read["data"]["me"]["id"],
        "{read}"
    );
    // Another mediator of the structure reads it, without the form.
    let other = signed_in(&server, "nadia@ml-nantes.fr").await;
    let html = get_with(&server, &path, &other)
        .await
        .text()
        .await
        .unwrap()
        .replace("&#39;", "'");
    assert!(
        html.contains("Une formation commence en septembre"),
        "{html}"
    );
    assert!(
        html.contains("par un autre membre de l'équipe<br>"),
        "{html}"
    );
    assert!(
        !html.contains("<form method=\"post\" action=\"/people/"),
        "{html}"
    );
    let answer = Form::fetch(&server, &other)
        .await
        .post(&server, &path, "months=6&reason=Encore")
        .await;
    assert_eq!(answer.status(), 422);
    let html = answer.text().await.unwrap().replace("&#39;", "'");
    assert!(
        html.contains("role=\"alert\">Cette opération n'est pas ouverte à votre accès."),
        "{html}"
    );
}

/// An enrolment sent blank names every missing field beside itself at once.
#[tokio::test]
async fn an_enrolment_sent_blank_names_every_missing_field() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, _) = started(&db, &dir).await;
    let session = Form::fetch(&server, &signed_in(&server, "camille@ml-nantes.fr").await).await;
    let answer = session
        .post(&server, "/people", "first_name=&last_name=+&birth_date=")
        .await;
    assert_eq!(answer.status(), 422);
    let html = answer.text().await.unwrap();
    for field in ["first_name", "last_name", "birth_date"] {
        assert!(
            html.contains(&format!("id=\"{field}-erreur\"")),
            "{field}: {html}"
        );
    }
}

/// A role the administration's form does not offer (a page edited by
/// hand) is refused beside the field, never read as another role.
#[tokio::test]
async fn a_role_the_form_does_not_offer_is_refused() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, _) = started(&db, &dir).await;
    create_staff(
        &db,
        &dir,
        "Mission locale de Nantes",
        "manager",
        "manon@ml-nantes.fr",
    );
    let session = Form::fetch(&server, &signed_in(&server, "manon@ml-nantes.fr").await).await;
    for role in ["zzz", "ADMIN", ""] {
        let answer = session
            .post(
                &server,
                "/administration/personnel",
                &format!("nom=Lina+Morel&email=lina%40ml-nantes.fr&role={role}"),
            )
            .await;
        assert_eq!(answer.status(), 422, "{role:?}");
        let html = answer.text().await.unwrap();
        // The apostrophe may come escaped.
        assert!(html.contains("un des rôles proposés."), "{role:?}: {html}");
    }
    let staff: i64 = sqlx::query_scalar("select count(*) from users")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(staff, 2, "no account made");
}

#[tokio::test]
async fn websockets_refuse_foreign_origins_and_oversized_messages() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, token) = started_with(&db, &dir, |cmd| {
        cmd.env("PASSERELLE_API__MAX_BODY_BYTES", "65536");
    })
    .await;
    let ws_url = format!("{}/graphql/ws", server.base.replace("http://", "ws://"));
    let request = |origin: Option<&str>| {
        let mut r = ws_url.as_str().into_client_request().unwrap();
        r.headers_mut().insert(
            "sec-websocket-protocol",
            "graphql-transport-ws".parse().unwrap(),
        );
        if let Some(o) = origin {
            r.headers_mut().insert("origin", o.parse().unwrap());
        }
        r
    };
    let refused = tokio_tungstenite::connect_async(request(Some("https://evil.example"))).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => assert_eq!(r.status(), 403),
        other => panic!("a foreign origin was let in: {other:?}"),
    }
    let host = server.base.clone();
    let (mut ws, _) = tokio_tungstenite::connect_async(request(Some(&host)))
        .await
        .expect("the service's own origin is let in");
    ws.send(Message::text(
        json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {token}") } })
            .to_string(),
    ))
    .await
    .unwrap();
    let ack = ws.next().await.unwrap().unwrap();
    assert!(ack.to_text().unwrap().contains("connection_ack"), "{ack:?}");
    // A message over the limit closes the connection.
    let huge = "x".repeat(1024 * 1024);
    let _ = ws
        .send(Message::text(
            json!({ "id": "1", "type": "subscribe", "payload": { "query": huge } }).to_string(),
        ))
        .await;
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match ws.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return true,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert_eq!(closed, Ok(true), "an oversized message was read");
}

#[tokio::test]
async fn graphiql_is_off_by_default_and_served_from_the_binary_when_on() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, _) = started(&db, &dir).await;
    let (status, body) = server.get("/graphql").await;
    assert_eq!(status, 405, "{body}");
    assert_eq!(server.get("/graphiql/graphiql.min.js").await.0, 404);
    drop(server);

    let dir = data_dir();
    let db = TestDb::new().await;
    let (server, _) = started_with(&db, &dir, |cmd| {
        cmd.env("PASSERELLE_API__GRAPHIQL", "true");
    })
    .await;
    let page = reqwest::get(format!("{}/graphql", server.base))
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("connect-src 'self'"),
        "{csp}"
    );
    let html = page.text().await.unwrap();
    assert!(
        !html.contains("http"),
        "nothing loaded from elsewhere: {html}"
    );
    for asset in [
        "graphiql.min.js",
        "graphiql.min.css",
        "react.production.min.js",
        "init.js",
    ] {
        let answer = reqwest::get(format!("{}/graphiql/{asset}", server.base))
            .await
            .unwrap();
        assert_eq!(answer.status(), 200, "{asset}");
        assert!(answer.bytes().await.unwrap().len() > 100, "{asset}");
    }
}

#[tokio::test]
async fn ready_does_not_tell_the_database_error() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, _) = started(&db, &dir).await;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "drop database \"{}\" with (force)",
        db.name
    )))
    .execute(&TestDb::new().await.pool)
    .await
    .unwrap();
    let body = wait_for_status(&server, "/ready", 503).await;
    assert!(body.contains("database unreachable"), "{body}");
    assert!(!body.contains(&db.name), "{body}");
    assert!(!body.contains("does not exist"), "{body}");
}

#[tokio::test]
async fn a_magic_link_request_keys_nothing_on_an_invalid_address() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, _) = started(&db, &dir).await;
    let request = "mutation($m: String!) { magicLinkRequest(input: { email: $m }) { sent } }";
    let huge = format!("{}@example.org", "a".repeat(1024 * 100));
    let answer = gql(&server, None, request, json!({ "m": huge })).await;
    assert_eq!(error(&answer).0, "BAD_USER_INPUT", "{answer}");
    let message = answer["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.len() < 300,
        "the address is not repeated back: {message}"
    );
    // The default keeps links out of the log.
    let answer = gql(
        &server,
        None,
        request,
        json!({ "m": "quelqu.un@example.org" }),
    )
    .await;
    assert_eq!(answer["data"]["magicLinkRequest"]["sent"], true, "{answer}");
    assert!(server.logged("magic_link_token").is_empty());
}

#[tokio::test]
async fn a_websocket_ends_with_its_session() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, token) = started(&db, &dir).await;
    let employer =
        register_employer(&server, &token, "73282932000074", "Boulangerie du Port").await;
    let person = enroll(&server, &token, None).await;
    let immersion = propose(&server, &token, &person, &employer).await;

    let ws_url = format!("{}/graphql/ws", server.base.replace("http://", "ws://"));
    let mut request = ws_url.as_str().into_client_request().unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let send = |v: Value| Message::text(v.to_string());
    ws.send(send(json!({ "type": "connection_init",
        "payload": { "authorization": format!("Bearer {token}") } })))
        .await
        .unwrap();
    let ack = ws.next().await.unwrap().unwrap();
    assert!(ack.to_text().unwrap().contains("connection_ack"), "{ack:?}");
    ws.send(send(json!({ "id": "1", "type": "subscribe", "payload": {
        "query": "subscription($i: ID!) { immersionChanged(id: $i) { stage acceptedByPerson } }",
        "variables": { "i": immersion } } })))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    // The session ends over HTTP; a colleague's change follows.
    let out = gql(
        &server,
        Some(&token),
        "mutation { logout { loggedOut } }",
        json!({}),
    )
    .await;
    assert_eq!(out["data"]["logout"]["loggedOut"], true, "{out}");
    let again = login(&server, "camille@ml-nantes.fr").await;
    let accepted = gql(
        &server,
        Some(&again),
        "mutation($i: ID!) { immersionAccept(input: { immersionId: $i, by: PERSON }) {
            immersion { acceptedByPerson } } }",
        json!({ "i": immersion }),
    )
    .await;
    assert_eq!(
        accepted["data"]["immersionAccept"]["immersion"]["acceptedByPerson"], true,
        "{accepted}"
    );

    // The open subscription gives no data past the end of its session.
    let mut seen = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(Ok(message)) = ws.next().await {
            let text = message.to_text().unwrap_or_default().to_owned();
            let done = text.contains("\"complete\"");
            seen.push(text);
            if done {
                break;
            }
        }
    })
    .await;
    assert!(
        seen.iter().all(|m| !m.contains("acceptedByPerson\":true")),
        "data after the session ended: {seen:?}"
    );
    assert!(
        seen.iter().any(|m| m.contains("Votre session a pris fin")),
        "told why: {seen:?}"
    );

    // Nor does a new operation on the same connection.
    ws.send(send(json!({ "id": "2", "type": "subscribe",
        "payload": { "query": "{ me { name } }" } })))
        .await
        .unwrap();
    let answer = tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .expect("an answer")
        .unwrap()
        .unwrap();
    let text = answer.to_text().unwrap().to_owned();
    assert!(!text.contains("Camille"), "{text}");
    assert!(text.contains("UNAUTHENTICATED"), "{text}");
}

/// An error page keeps the navigation of whoever is signed in (her menu, a
/// way to sign out); signed out, it has none to keep.
#[tokio::test]
async fn an_error_page_keeps_the_signed_in_navigation() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, _) = started(&db, &dir).await;
    let cookies = signed_in(&server, "camille@ml-nantes.fr").await;
    for path in ["/people/abc", "/immersions/abc", "/pas-une-page"] {
        let page = get_with(&server, path, &cookies).await;
        assert_eq!(page.status(), 404, "{path}");
        let html = page.text().await.unwrap();
        assert!(
            html.contains("Se déconnecter") && html.contains("href=\"/people\""),
            "{path}: {html}"
        );
    }
    let (status, html) = server.get("/pas-une-page").await;
    assert_eq!(status, 404);
    assert!(!html.contains("Se déconnecter"), "{html}");
}

/// A refused form shows what was typed again, but never the control
/// characters a client slipped in.
#[tokio::test]
async fn a_refused_value_comes_back_without_control_characters() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, _) = started(&db, &dir).await;
    let form = Form::fetch(&server, &[]).await;
    let answer = form
        .post(&server, "/lien", "email=pas%01une%1Badresse%7F")
        .await;
    assert_eq!(answer.status(), 422);
    let html = answer.text().await.unwrap();
    assert!(html.contains("value=\"pasuneadresse\""), "{html}");
    assert!(
        !html.chars().any(|c| c.is_control() && c != '\n'),
        "{html:?}"
    );
}

/// The feedback forms of an immersion appear from its last planned day
/// on, as the domain takes feedback; refused, each keeps what was typed
/// and says why beside the field.
#[tokio::test]
async fn the_feedback_forms_wait_for_the_last_day_and_keep_what_was_typed() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, token) = started(&db, &dir).await;
    let t = Some(token.as_str());
    let employer =
        register_employer(&server, &token, "73282932000074", "Boulangerie du Port").await;
    let today = paris_today();
    let immersion = running(&server, &token, &employer, today + time::Duration::days(3)).await;
    let id = immersion.as_str().unwrap();
    let cookies = signed_in(&server, "camille@ml-nantes.fr").await;
    let read = |cookies: Vec<String>| {
        let server = &server;
        async move {
            get_with(server, &format!("/immersions/{id}"), &cookies)
                .await
                .text()
                .await
                .unwrap()
                .replace("&#39;", "'")
        }
    };
    // It runs until its last day: no feedback yet, here or in the API;
    // once it stopped, feedback is taken.
    let page = read(cookies.clone()).await;
    assert!(page.contains("Enregistrer la fin de l'immersion"), "{page}");
    for form in ["/observation\"", "/bilan\""] {
        assert!(!page.contains(form), "{form} offered too early: {page}");
    }
    let answer = gql(
        &server,
        t,
        "query($i: ID!) { immersion(id: $i) { takesFeedback } }",
        json!({ "i": immersion }),
    )
    .await;
    assert_eq!(
        answer["data"]["immersion"]["takesFeedback"], false,
        "{answer}"
    );
    let answer = gql(
        &server,
        t,
        "mutation($i: ID!) { immersionInterrupt(input: { immersionId: $i, by: PERSON,
            reason: \"Un déménagement\" }) { immersion { takesFeedback } } }",
        json!({ "i": immersion }),
    )
    .await;
    assert_eq!(
        answer["data"]["immersionInterrupt"]["immersion"]["takesFeedback"], true,
        "{answer}"
    );
    let page = read(cookies.clone()).await;
    assert!(
        page.contains("/observation\"") && page.contains("/bilan\""),
        "{page}"
    );

    let session = Form::fetch(&server, &cookies).await;
    let refused = |path: &'static str, body: String| {
        let (session, server) = (&session, &server);
        async move {
            let answer = session
                .post(server, &format!("/immersions/{id}/{path}"), &body)
                .await;
            assert_eq!(answer.status(), 422, "{path}");
            answer.text().await.unwrap().replace("&#39;", "'")
        }
    };
    // The mediator's feedback without its notes.
    let html = refused(
        "observation",
        "goals_observed=non&notes=+&next_steps=Une+autre+boulangerie".into(),
    )
    .await;
    assert!(html.contains("id=\"notes-erreur\""), "{html}");
    assert!(
        html.contains("name=\"goals_observed\" value=\"non\" checked"),
        "{html}"
    );
    assert!(html.contains(">Une autre boulangerie</textarea>"), "{html}");
    // The host's assessment, present in part, without the last day.
    let html = refused(
        "bilan",
        "attendance=PARTIALLY&goals_reached=non&skill-TEAMWORK=STRONG&advice=Revenir+en+mai&hiring=CDI".into(),
    )
    .await;
    assert!(html.contains("id=\"last_day_present-erreur\""), "{html}");
    assert!(html.contains("value=\"PARTIALLY\" checked"), "{html}");
    assert!(
        within(&html, "<select id=\"skill-TEAMWORK\"", "</select>")
            .contains("value=\"STRONG\" selected"),
        "{html}"
    );
    assert!(
        within(&html, "<select id=\"hiring\"", "</select>").contains("value=\"CDI\" selected"),
        "{html}"
    );
    assert!(html.contains(">Revenir en mai</textarea>"), "{html}");
    // A last day outside the immersion, and hours that cannot be.
    let html = refused(
        "bilan",
        format!(
            "attendance=PARTIALLY&goals_reached=oui&last_day_present={}",
            today - time::Duration::days(1)
        ),
    )
    .await;
    assert!(html.contains("id=\"last_day_present-erreur\""), "{html}");
    assert!(html.contains("pendant l'immersion"), "{html}");
    let html = refused(
        "bilan",
        format!("attendance=PARTIALLY&goals_reached=oui&last_day_present={today}&missed_hours=-3"),
    )
    .await;
    assert!(html.contains("id=\"missed_hours-erreur\""), "{html}");
    assert!(html.contains("value=\"-3\""), "{html}");
    // Hours given with a full attendance: refused, not dropped.
    let html = refused(
        "bilan",
        "attendance=COMPLETED&goals_reached=oui&missed_hours=4".into(),
    )
    .await;
    assert!(html.contains("id=\"missed_hours-erreur\""), "{html}");
    assert!(html.contains("présence en partie"), "{html}");
    // An outcome of a hiring without its contract.
    let html = refused("suite", "milestone=END&outcome=HIRED&contract=".into()).await;
    assert!(html.contains("id=\"contract-erreur\""), "{html}");
    assert!(html.contains("value=\"HIRED\" selected"), "{html}");
    // Nothing of it was recorded.
    let answer = gql(
        &server,
        t,
        "query($i: ID!) { immersion(id: $i) { feedbackAuthors outcomes } }",
        json!({ "i": immersion }),
    )
    .await;
    assert_eq!(
        answer["data"]["immersion"]["feedbackAuthors"],
        json!([]),
        "{answer}"
    );
    assert_eq!(
        answer["data"]["immersion"]["outcomes"],
        json!([]),
        "{answer}"
    );

    // Sent whole, each is read back on the page and in the API, and a
    // milestone recorded is no longer offered.
    for (path, body) in [
        (
            "observation",
            "goals_observed=non&notes=Le+rythme+du+matin+est+dur&next_steps=",
        ),
        ("suite", "milestone=END&outcome=TRAINING&contract="),
    ] {
        let answer = session
            .post(&server, &format!("/immersions/{id}/{path}"), body)
            .await;
        assert_eq!(answer.status(), 303, "{path}");
    }
    let page = read(cookies.clone()).await;
    assert!(page.contains("Le retour du médiateur"), "{page}");
    assert!(page.contains("Le rythme du matin est dur"), "{page}");
    assert!(
        page.contains("À la fin de l'immersion : Formation, noté le"),
        "{page}"
    );
    // The next milestone is not due before a month: said, not offered.
    assert!(!page.contains("<option value=\"END\""), "{page}");
    assert!(!page.contains("<option value=\"ONE_MONTH\""), "{page}");
    assert!(
        page.contains(&format!(
            "Le suivi à 1 mois se note à partir du {}.",
            passerelle_domain::fr::date(
                passerelle_domain::immersion::Milestone::OneMonth.due(today)
            )
        )),
        "{page}"
    );
    // Sent again from a page left open, the feedback given meanwhile is
    // refused above the page, its form gone and the form that corrects it
    // in its place.
    let html = refused("observation", "goals_observed=oui&notes=Encore".into()).await;
    assert!(!html.contains("/observation\""), "{html}");
    assert!(html.contains("/observation-corrigee\""), "{html}");
    assert!(
        html.contains(
            "<p class=\"alert\" role=\"alert\">Le retour du médiateur est déjà enregistré : \
             corrigez-le s'il contient une erreur."
        ),
        "{html}"
    );
    let answer = gql(
        &server,
        t,
        "query($i: ID!) { immersion(id: $i) { mediatorFeedback { notes goalsReached }
            outcomeRecords { milestone outcome contract recordedOn } } }",
        json!({ "i": immersion }),
    )
    .await;
    assert_eq!(
        answer["data"]["immersion"]["outcomeRecords"],
        json!([{ "milestone": "END", "outcome": "TRAINING", "contract": null,
            "recordedOn": today.to_string() }]),
        "{answer}"
    );
    assert_eq!(
        answer["data"]["immersion"]["mediatorFeedback"],
        json!({ "notes": "Le rythme du matin est dur", "goalsReached": false }),
        "{answer}"
    );
}

/// The part of `html` from `start` to the next `end`.
fn within<'a>(html: &'a str, start: &str, end: &str) -> &'a str {
    let from = html
        .find(start)
        .unwrap_or_else(|| panic!("{start} in {html}"));
    let to = html[from..].find(end).map_or(html.len(), |e| from + e);
    &html[from..to]
}

/// An immersion of a newly enrolled person at `employer`, from today to
/// `last`, started today.
async fn running(server: &Server, token: &str, employer: &Value, last: time::Date) -> Value {
    let person = enroll(server, token, None).await;
    let immersion = propose(server, token, &person, employer).await;
    let mut terms = convention(&paris_today().to_string(), 35.0);
    terms["period"]["end"] = json!(last.to_string());
    let one =
        |mutation: &str| format!("mutation($i: ID!) {{ {mutation} {{ immersion {{ id }} }} }}");
    let steps = [
        one("immersionAccept(input: { immersionId: $i, by: PERSON })"),
        one("immersionAccept(input: { immersionId: $i, by: EMPLOYER })"),
        "mutation($i: ID!, $c: ConventionInput!) { conventionDraft(input: { immersionId: $i,
            convention: $c }) { immersion { id } } }"
            .to_owned(),
        one("conventionSign(input: { immersionId: $i, signatory: PERSON })"),
        one("conventionSign(input: { immersionId: $i, signatory: HOST })"),
        one("conventionSign(input: { immersionId: $i, signatory: PRESCRIBER })"),
        one("conventionValidate(input: { immersionId: $i })"),
        one("immersionStart(input: { immersionId: $i })"),
    ];
    for query in steps {
        let answer = gql(
            server,
            Some(token),
            &query,
            json!({ "i": immersion, "c": terms }),
        )
        .await;
        assert!(answer["errors"].is_null(), "{query}: {answer}");
    }
    immersion
}

/// On its last planned day, while it runs, an immersion takes feedback:
/// the page offers its forms.
#[tokio::test]
async fn the_feedback_forms_open_on_the_last_planned_day_while_it_runs() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, token) = started(&db, &dir).await;
    let employer =
        register_employer(&server, &token, "73282932000074", "Boulangerie du Port").await;
    let immersion = running(&server, &token, &employer, paris_today()).await;
    let answer = gql(
        &server,
        Some(&token),
        "query($i: ID!) { immersion(id: $i) { currentStage takesFeedback } }",
        json!({ "i": immersion }),
    )
    .await;
    assert_eq!(
        answer["data"]["immersion"],
        json!({ "currentStage": "STARTED", "takesFeedback": true }),
        "{answer}"
    );
    let cookies = signed_in(&server, "camille@ml-nantes.fr").await;
    let path = format!("/immersions/{}", immersion.as_str().unwrap());
    let page = get_with(&server, &path, &cookies)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("/observation\"") && page.contains("/bilan\""),
        "{page}"
    );
    // The page leads to her file, which lists her immersions, the newest
    // first.
    let answer = gql(
        &server,
        Some(&token),
        "query($i: ID!) { immersion(id: $i) { personId } }",
        json!({ "i": immersion }),
    )
    .await;
    let person = answer["data"]["immersion"]["personId"].clone();
    let file = format!("/people/{}", person.as_str().unwrap());
    assert!(page.contains(&format!("href=\"{file}\"")), "{page}");
    let newer = propose(&server, &token, &person, &employer).await;
    let html = get_with(&server, &file, &cookies)
        .await
        .text()
        .await
        .unwrap();
    let listed = |id: &Value| {
        html.find(&format!("href=\"/immersions/{}\"", id.as_str().unwrap()))
            .unwrap_or_else(|| panic!("{id} in {html}"))
    };
    assert!(listed(&newer) < listed(&immersion), "{html}");
    assert!(html.contains(": en cours"), "{html}");
    // Renewed from tomorrow: today stays its last planned day until the
    // renewal is validated; then the renewal's last day is.
    let renewed = running(&server, &token, &employer, paris_today()).await;
    let tomorrow = (paris_today() + time::Duration::days(1)).to_string();
    let takes = || async {
        let answer = gql(
            &server,
            Some(&token),
            "query($i: ID!) { immersion(id: $i) { takesFeedback } }",
            json!({ "i": renewed }),
        )
        .await;
        answer["data"]["immersion"]["takesFeedback"].clone()
    };
    let renewal = [
        "mutation($i: ID!, $d: Date!) { conventionRenew(input: { immersionId: $i,
            period: { start: $d, end: $d }, schedule: \"De 9 h à 12 h\", weeklyHours: 15,
            objective: DISCOVER_JOB_OR_SECTOR, goals: \"Découvrir le façonnage du pain\",
            whyGoalsNotReached: \"Une semaine n'a pas suffi\" }) { immersion { id } } }",
        "mutation($i: ID!) { conventionSign(input: { immersionId: $i, signatory: PERSON }) {
            immersion { id } } }",
        "mutation($i: ID!) { conventionSign(input: { immersionId: $i, signatory: HOST }) {
            immersion { id } } }",
        "mutation($i: ID!) { conventionSign(input: { immersionId: $i, signatory: PRESCRIBER }) {
            immersion { id } } }",
    ];
    for query in renewal {
        let answer = gql(
            &server,
            Some(&token),
            query,
            json!({ "i": renewed, "d": tomorrow }),
        )
        .await;
        assert!(answer["errors"].is_null(), "{query}: {answer}");
    }
    assert_eq!(takes().await, json!(true));
    let answer = gql(
        &server,
        Some(&token),
        "mutation($i: ID!) { conventionValidate(input: { immersionId: $i }) { immersion { id } } }",
        json!({ "i": renewed }),
    )
    .await;
    assert!(answer["errors"].is_null(), "{answer}");
    assert_eq!(takes().await, json!(false));
    let page = get_with(
        &server,
        &format!("/immersions/{}", renewed.as_str().unwrap()),
        &cookies,
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(!page.contains("/observation\""), "{page}");
}

/// A peer's link whose cursor holds a character no text may hold (a link
/// edited by hand) is a link gone stale, as any refused cursor: the form
/// empty and said so, not a page that does not exist.
#[tokio::test]
async fn a_peers_link_with_a_cursor_no_text_may_hold_is_said_stale() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, token) = started(&db, &dir).await;
    let person = enroll(&server, &token, None).await;
    let cookies = signed_in(&server, "camille@ml-nantes.fr").await;
    for stale in ["pair=1&apres=perime", "pair=1&apres=%00"] {
        let answer = get_with(
            &server,
            &format!("/people/{}/rencontre?{stale}", person.as_str().unwrap()),
            &cookies,
        )
        .await;
        assert_eq!(answer.status(), 200, "{stale}");
        let html = answer.text().await.unwrap().replace("&#39;", "'");
        assert!(
            html.contains("La personne choisie n'est plus à cette place"),
            "{stale}: {html}"
        );
    }
}

/// What a page's forms never send, and addresses only forms post to, are
/// answered as a user would expect: a French refusal, the page again, never
/// an error of the service; and a contract sent with an outcome that is not
/// a hire is refused, not dropped.
#[tokio::test]
async fn stray_requests_on_an_immersion_are_answered_in_french() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, token) = started_with_links(&db, &dir).await;
    let employer =
        register_employer(&server, &token, "73282932000074", "Boulangerie du Port").await;
    let immersion = running(&server, &token, &employer, paris_today()).await;
    let id = immersion.as_str().unwrap();
    let cookies = signed_in(&server, "camille@ml-nantes.fr").await;
    // A form's address opened: the immersion's page.
    for action in ["bilan", "observation", "suite", "interruption"] {
        let answer = get_with(&server, &format!("/immersions/{id}/{action}"), &cookies).await;
        assert_eq!(answer.status(), 303, "{action}");
        assert_eq!(answer.headers()["location"], format!("/immersions/{id}"));
    }
    // A method an address does not take: refused in French, the menu kept.
    let answer = get_with(&server, "/deconnexion", &cookies).await;
    assert_eq!(answer.status(), 405);
    let html = answer.text().await.unwrap();
    assert!(html.contains("Se déconnecter"), "{html}");
    // A choice no form offers. A hidden value no button sends has no field
    // to be refused beside: a page of its own.
    let session = Form::fetch(&server, &cookies).await;
    for (action, body) in [
        ("reponse", "choix=peutetre&by=PERSON"),
        ("reponse", "choix=accepter&by=ADMIN"),
        ("signature", "signatory=KING&paper=true"),
    ] {
        let answer = session
            .post(&server, &format!("/immersions/{id}/{action}"), body)
            .await;
        assert_eq!(answer.status(), 400, "{action}");
        let html = answer.text().await.unwrap();
        assert!(html.contains("Ce choix n"), "{action}: {html}");
        assert!(!html.contains("EMPLOYER ou"), "{action}: {html}");
    }
    // A list's value or a radio's answer: refused in French, beside its
    // field when the page shows the form (above the page when it does not,
    // as the outcome's before the immersion ended), never in the API's
    // codes.
    for (action, body, said) in [
        (
            "observation",
            "goals_observed=peutetre&notes=Bien",
            "Répondez par oui ou par non.",
        ),
        (
            "bilan",
            "attendance=COMPLETED&goals_reached=peutetre",
            "Répondez par oui ou par non.",
        ),
        (
            "bilan",
            "attendance=SOMETIMES&goals_reached=oui",
            "Choisissez l'une des présences proposées.",
        ),
        (
            "bilan",
            "attendance=COMPLETED&goals_reached=oui&hiring=CDD_PLUS",
            "Choisissez « Non » ou l'un des contrats de la liste.",
        ),
        (
            "bilan",
            "attendance=COMPLETED&goals_reached=oui&skill-TEAMWORK=GENIUS",
            "Choisissez l'un des niveaux de la liste, ou « Non observée ».",
        ),
        (
            "suite",
            "milestone=SOON&outcome=TRAINING",
            "Choisissez l'une des échéances de la liste.",
        ),
        (
            "suite",
            "milestone=END&outcome=LOTTERY",
            "Choisissez l'une des situations de la liste.",
        ),
        (
            "interruption",
            "interrupt_by=NOBODY&interrupt_reason=Rien",
            "Choisissez dans la liste qui est à l'initiative de l'interruption.",
        ),
    ] {
        let before = events(&db).await;
        let answer = session
            .post(&server, &format!("/immersions/{id}/{action}"), body)
            .await;
        assert_eq!(answer.status(), 422, "{action} {body}");
        let html = answer.text().await.unwrap().replace("&#39;", "'");
        assert!(html.contains(said), "{action} {body}: {html}");
        assert!(!html.contains("Ce choix n"), "{action}: {html}");
        assert!(!html.contains("n'est pas admise"), "{action}: {html}");
        assert!(!html.contains("EMPLOYER ou"), "{action}: {html}");
        assert_eq!(
            events(&db).await,
            before,
            "{action} {body}: nothing recorded"
        );
    }
    // An accident sent blank: every missing field named at once.
    let answer = session
        .post(
            &server,
            &format!("/immersions/{id}/accident"),
            "accident_at=&accident_informed=&accident_description=+",
        )
        .await;
    assert_eq!(answer.status(), 422);
    let html = answer.text().await.unwrap();
    for field in ["accident_at", "accident_informed", "accident_description"] {
        assert!(
            html.contains(&format!("id=\"{field}-erreur\"")),
            "{field}: {html}"
        );
    }
    // A need heard in a visit, its lists edited by hand: refused beside
    // each, in French, the other values kept.
    let visit = gql(
        &server,
        Some(&token),
        "mutation($e: ID!) { employerVisitLog(input: { employerId: $e, purpose: PROSPECTION,
            observations: \"Passage\" }) { visitId } }",
        json!({ "e": employer }),
    )
    .await;
    let visit = visit["data"]["employerVisitLog"]["visitId"]
        .as_str()
        .unwrap()
        .to_owned();
    let answer = session
        .post(
            &server,
            &format!(
                "/employers/{}/visites/{visit}/besoin",
                employer.as_str().unwrap()
            ),
            "activities=Mise+en+rayon&horizon=DEMAIN&headcount=2&hiring_intent=PEUT-ETRE",
        )
        .await;
    assert_eq!(answer.status(), 422);
    let html = answer.text().await.unwrap().replace("&#39;", "'");
    assert!(html.contains("id=\"horizon-erreur\""), "{html}");
    assert!(html.contains("id=\"hiring_intent-erreur\""), "{html}");
    assert!(html.contains("Choisissez l'une des échéances"), "{html}");
    assert!(html.contains(">Mise en rayon</textarea>"), "{html}");
    // Blank words with a wrong list: both named at once, not one after the other.
    let answer = session
        .post(
            &server,
            &format!(
                "/employers/{}/visites/{visit}/besoin",
                employer.as_str().unwrap()
            ),
            "activities=+&horizon=DEMAIN&headcount=2&hiring_intent=YES&conditions=%07",
        )
        .await;
    assert_eq!(answer.status(), 422);
    let html = answer.text().await.unwrap();
    assert!(html.contains("id=\"horizon-erreur\""), "{html}");
    assert!(html.contains("id=\"activities-erreur\""), "{html}");
    assert!(html.contains("id=\"conditions-erreur\""), "{html}");
    // A contract with an outcome that is no hire.
    let answer = gql(
        &server,
        Some(&token),
        "mutation($i: ID!) { immersionInterrupt(input: { immersionId: $i, by: PERSON,
            reason: \"Un déménagement\" }) { immersion { id } } }",
        json!({ "i": immersion }),
    )
    .await;
    assert!(answer["errors"].is_null(), "{answer}");
    let answer = gql(
        &server,
        Some(&token),
        "mutation($i: ID!) { outcomeRecord(input: { immersionId: $i, milestone: END,
            outcome: NOTHING, contract: CDI }) { immersion { id } } }",
        json!({ "i": immersion }),
    )
    .await;
    let (code, field, _) = error(&answer);
    assert_eq!(
        (code.as_str(), field.as_str()),
        ("BAD_USER_INPUT", "contract"),
        "{answer}"
    );

    // The person, from her own space, posting to the convention form staff
    // use: not found, not an error of the service.
    let person = enroll(&server, &token, Some("awa@exemple.fr")).await;
    let hers = propose(&server, &token, &person, &employer).await;
    let own = link_session(&server, "awa@exemple.fr", 0).await;
    let own = vec![format!("__Host-passerelle_session={own}")];
    let session = Form::fetch(&server, &own).await;
    let answer = session
        .post(
            &server,
            &format!("/immersions/{}/convention", hers.as_str().unwrap()),
            "start=2026-12-07",
        )
        .await;
    assert_eq!(answer.status(), 404);
}

/// A convention drafted and not yet validated is changed from its page,
/// the form starting from its values; the signatures given before are to
/// be given again. Once it ended, the person reads on her page what became
/// of her, as the mediator recorded it.
#[tokio::test]
async fn a_drafted_convention_is_changed_and_the_person_reads_her_outcomes() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, token) = started_with_links(&db, &dir).await;
    let t = Some(token.as_str());
    let employer =
        register_employer(&server, &token, "73282932000074", "Boulangerie du Port").await;
    let person = enroll(&server, &token, Some("awa@exemple.fr")).await;
    let immersion = propose(&server, &token, &person, &employer).await;
    let id = immersion.as_str().unwrap();
    let today = paris_today().to_string();
    let mut terms = convention(&today, 35.0);
    // Given through the API, not shown by the form: kept by a change.
    terms["safety"] = json!("Gants contre les brûlures");
    terms["host"]["tutor"]["phone"] = json!("0601020304");
    terms["prescriber"]["signatory"]["email"] = json!("camille@ml-nantes.fr");
    let step = |query: String| {
        let (server, immersion, terms) = (&server, &immersion, &terms);
        async move {
            let answer = gql(server, t, &query, json!({ "i": immersion, "c": terms })).await;
            assert!(answer["errors"].is_null(), "{query}: {answer}");
        }
    };
    let one =
        |mutation: &str| format!("mutation($i: ID!) {{ {mutation} {{ immersion {{ id }} }} }}");
    for query in [
        one("immersionAccept(input: { immersionId: $i, by: PERSON })"),
        one("immersionAccept(input: { immersionId: $i, by: EMPLOYER })"),
        "mutation($i: ID!, $c: ConventionInput!) { conventionDraft(input: { immersionId: $i,
            convention: $c }) { immersion { id } } }"
            .to_owned(),
        one("conventionSign(input: { immersionId: $i, signatory: PERSON })"),
    ] {
        step(query).await;
    }
    let cookies = signed_in(&server, "camille@ml-nantes.fr").await;
    let read = |path: String, cookies: Vec<String>| {
        let server = &server;
        async move {
            get_with(server, &path, &cookies)
                .await
                .text()
                .await
                .unwrap()
                .replace("&#39;", "'")
        }
    };
    let page = read(format!("/immersions/{id}"), cookies.clone()).await;
    assert!(
        page.contains(&format!(
            "href=\"/immersions/{id}/convention\">Modifier la convention</a>"
        )),
        "{page}"
    );
    // The form starts from the convention as drafted.
    let form = read(format!("/immersions/{id}/convention"), cookies.clone()).await;
    assert!(form.contains("<h1>Modifier la convention</h1>"), "{form}");
    assert!(form.contains("les signatures déjà données"), "{form}");
    for value in [
        "value=\"Lucie Bernard\"",
        "value=\"Cheffe boulangère\"",
        "value=\"De 6 h à 13 h\"",
        "value=\"35\"",
        "value=\"IDCC 843\"",
        "value=\"2001-05-12\"",
        ">Peser, pétrir, façonner</textarea>",
    ] {
        assert!(form.contains(value), "{value}: {form}");
    }
    assert!(
        within(&form, "name=\"attestation\"", ">").contains("checked"),
        "{form}"
    );
    // Changed: the new schedule holds, the person's signature is void.
    let session = Form::fetch(&server, &cookies).await;
    let body = [
        ("start", today.as_str()),
        ("end", today.as_str()),
        ("schedule", "De 7 h à 14 h"),
        ("weekly_hours", "35"),
        ("objective", "DISCOVER_JOB_OR_SECTOR"),
        ("goals", "Découvrir le façonnage du pain"),
        ("tasks", "Peser, pétrir, façonner"),
        ("evaluation", "Grille remplie avec la tutrice"),
        ("place_address", "12 quai de la Fosse"),
        ("place_commune", "44109"),
        ("prescriber_name", "Mission locale de Nantes"),
        ("prescriber_signatory", "Camille Durand"),
        ("first_name", "Awa"),
        ("last_name", "Diallo"),
        ("birth_date", "2001-05-12"),
        ("address", "3 rue des Lilas, 44000 Nantes"),
        ("situation", "JOB_SEEKER"),
        ("host_name", "Boulangerie du Port"),
        ("host_siret", "73282932000074"),
        ("host_activity", "Boulangerie"),
        ("host_agreement", "IDCC 843"),
        ("host_signatory", "Jean Martin"),
        // Another tutor: her predecessor's phone does not follow.
        ("tutor_name", "Marc Petit"),
        ("tutor_job", "Boulanger"),
        ("attestation", "oui"),
    ]
    .iter()
    .map(|(k, v)| format!("{k}={}", v.replace(' ', "+").replace(',', "%2C")))
    .collect::<Vec<_>>()
    .join("&");
    let answer = session
        .post(&server, &format!("/immersions/{id}/convention"), &body)
        .await;
    assert_eq!(answer.status(), 303, "{}", answer.text().await.unwrap());
    let answer = gql(
        &server,
        t,
        "query($i: ID!) { immersion(id: $i) { currentStage awaitedSignatories
            convention { schedule safety prescriber { signatory { email } }
                host { tutor { name phone } } signatures { signatory } } } }",
        json!({ "i": immersion }),
    )
    .await;
    assert_eq!(
        answer["data"]["immersion"]["currentStage"], "DRAFTED",
        "{answer}"
    );
    assert_eq!(
        answer["data"]["immersion"]["convention"],
        json!({ "schedule": "De 7 h à 14 h", "safety": "Gants contre les brûlures",
            "prescriber": { "signatory": { "email": "camille@ml-nantes.fr" } },
            "host": { "tutor": { "name": "Marc Petit", "phone": null } }, "signatures": [] }),
        "{answer}"
    );

    // Signed, validated, started, ended; the mediator notes its outcome.
    for query in [
        one("conventionSign(input: { immersionId: $i, signatory: PERSON })"),
        one("conventionSign(input: { immersionId: $i, signatory: HOST })"),
        one("conventionSign(input: { immersionId: $i, signatory: PRESCRIBER })"),
        one("conventionValidate(input: { immersionId: $i })"),
        one("immersionStart(input: { immersionId: $i })"),
        one(
            "immersionInterrupt(input: { immersionId: $i, by: PERSON, reason: \"Un déménagement\" })",
        ),
        one("outcomeRecord(input: { immersionId: $i, milestone: END, outcome: TRAINING })"),
    ] {
        step(query).await;
    }
    let own = link_session(&server, "awa@exemple.fr", 0).await;
    let own = vec![format!("__Host-passerelle_session={own}")];
    let page = read(format!("/immersions/{id}"), own).await;
    assert!(page.contains("Et après ?"), "{page}");
    assert!(
        page.contains("À la fin de l'immersion : Formation, noté le"),
        "{page}"
    );
    assert!(!page.contains("/suite\""), "{page}");
}

/// The structure's mails are listed in French, searched by state and by
/// immersion, and one that failed (its SMTP server refused the connection)
/// is sent again from the list.
#[tokio::test]
async fn a_failed_mail_is_listed_and_sent_again_from_the_mails_page() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, token) = started_with(&db, &dir, mail_refused).await;
    let person = enroll(&server, &token, Some("awa@exemple.fr")).await;
    let employer = register_employer(&server, &token, &siret(1), "Boulangerie du Port").await;
    let immersion = propose(&server, &token, &person, &employer).await;
    let immersion = immersion.as_str().unwrap();
    let cookies = signed_in(&server, "camille@ml-nantes.fr").await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let html = loop {
        let html = get_with(&server, "/courriels?etat=FAILED", &cookies)
            .await
            .text()
            .await
            .unwrap()
            .replace("&#39;", "'");
        if html.contains("Renvoyer ce courriel") {
            break html;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no failed mail listed: {html}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        html.contains("<option value=\"FAILED\" selected>En échec</option>"),
        "{html}"
    );
    assert!(html.contains("En échec · Préparé le "), "{html}");
    assert!(html.contains("Détail technique : "), "{html}");
    assert!(
        html.contains(&format!("href=\"/immersions/{immersion}\"")),
        "{html}"
    );
    // The immersion's page leads to its mails; they are listed by it.
    let page = get_with(&server, &format!("/immersions/{immersion}"), &cookies)
        .await
        .text()
        .await
        .unwrap();
    let own = format!("/courriels?immersion={immersion}");
    assert!(page.contains(&format!("href=\"{own}\"")), "{page}");
    let listed = get_with(&server, &own, &cookies)
        .await
        .text()
        .await
        .unwrap();
    assert!(listed.contains("Renvoyer ce courriel"), "{listed}");
    assert!(listed.contains("cette immersion</a> seulement"), "{listed}");
    // Sent again: back to the same list, saying so.
    let at = html.find("action=\"/courriels/").unwrap() + "action=\"/courriels/".len();
    let mail = &html[at..at + html[at..].find('/').unwrap()];
    let session = Form::fetch(&server, &cookies).await;
    // Without the form's token, nothing.
    let forged = no_redirects()
        .post(format!("{}/courriels/{mail}/renvoyer", server.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cookie", session.cookies.join("; "))
        .body("etat=FAILED")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    // Back to the same list, on the same page.
    let answer = session
        .post(
            &server,
            &format!("/courriels/{mail}/renvoyer"),
            &format!("etat=FAILED&immersion=&apres={}", u64::MAX),
        )
        .await;
    assert_eq!(answer.status(), 303);
    assert_eq!(
        answer.headers()["location"],
        format!("/courriels?etat=FAILED&apres={}&fait=renvoye", u64::MAX)
    );
    let html = get_with(&server, "/courriels?fait=renvoye", &cookies)
        .await
        .text()
        .await
        .unwrap()
        .replace("&#39;", "'");
    assert!(
        html.contains("Le courriel est de nouveau à envoyer"),
        "{html}"
    );
    // A mail that is not one, a state the list does not offer: in French,
    // beside the list or above it.
    let answer = session
        .post(&server, "/courriels/999999/renvoyer", "etat=&immersion=")
        .await;
    assert_eq!(answer.status(), 404);
    let html = answer.text().await.unwrap().replace("&#39;", "'");
    assert!(
        html.contains("role=\"alert\">Ce courriel n'existe pas, ou pas pour votre structure."),
        "{html}"
    );
    // A state as the list does not write it: refused beside the list.
    for etat in ["PERDU", "failed"] {
        let answer = get_with(&server, &format!("/courriels?etat={etat}"), &cookies).await;
        assert_eq!(answer.status(), 422, "{etat}");
        let html = answer.text().await.unwrap();
        assert!(
            html.contains("id=\"etat-erreur\">Choisissez un état de la liste."),
            "{html}"
        );
    }
    // A page's link made by hand: the list from its start, saying so.
    let html = get_with(&server, "/courriels?apres=-1", &cookies)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("Ce lien de page n&#39;est plus valable"),
        "{html}"
    );
    // Signed out: to the sign-in form.
    let answer = get_with(&server, "/courriels", &[]).await;
    assert_eq!(answer.status(), 303);
}

/// Her referent records a person's disability recognition from her file,
/// once she consented to it; another mediator neither reads nor records it.
#[tokio::test]
async fn a_referent_records_a_disability_recognition_from_her_file() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, token) = started(&db, &dir).await;
    create_user(&db, &dir, "Mission locale de Nantes", "nadia@ml-nantes.fr");
    let person = enroll(&server, &token, None).await;
    let id = person.as_str().unwrap();
    let cookies = signed_in(&server, "camille@ml-nantes.fr").await;
    let file = get_with(&server, &format!("/people/{id}"), &cookies)
        .await
        .text()
        .await
        .unwrap()
        .replace("&#39;", "'");
    assert!(
        file.contains(&format!("href=\"/people/{id}/complements\"")),
        "{file}"
    );
    assert!(file.contains("Rien n'est enregistré."), "{file}");
    let path = format!("/people/{id}/complements");
    let html = get_with(&server, &path, &cookies)
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("Rien n'est enregistré."), "{html}");
    let session = Form::fetch(&server, &cookies).await;
    // Nothing chosen, a day that is not one: both beside their fields.
    let answer = session.post(&server, &path, "le=hier").await;
    assert_eq!(answer.status(), 422);
    let html = answer.text().await.unwrap().replace("&#39;", "'");
    assert!(
        html.contains("id=\"reconnue-erreur\">Dites si elle a"),
        "{html}"
    );
    assert!(html.contains("id=\"le-erreur\">Indiquez la date"), "{html}");
    // Without her consent: refused above the form, the choice kept.
    let answer = session.post(&server, &path, "reconnue=oui&le=").await;
    assert_eq!(answer.status(), 422);
    let html = answer.text().await.unwrap().replace("&#39;", "'");
    assert!(
        html.contains("role=\"alert\">La personne n'a pas consenti à l'enregistrement"),
        "{html}"
    );
    assert!(html.contains("value=\"oui\" checked"), "{html}");
    let given = gql(
        &server,
        Some(&token),
        "mutation($p: ID!) { consentGive(input: { personId: $p, purpose: DISABILITY_RECOGNITION,
            textVersion: \"v1\", signedForm: true }) { person { id } } }",
        json!({ "p": id }),
    )
    .await;
    assert!(given["errors"].is_null(), "{given}");
    let answer = session.post(&server, &path, "reconnue=oui&le=").await;
    assert_eq!(answer.status(), 303);
    assert_eq!(
        answer.headers()["location"],
        format!("/people/{id}?fait=complement#handicap")
    );
    let file = get_with(&server, &format!("/people/{id}?fait=complement"), &cookies)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        file.contains("Reconnaissance du handicap enregistrée."),
        "{file}"
    );
    let today = passerelle_domain::fr::date(paris_today());
    assert!(
        file.contains(&format!(
            "Reconnaissance (RQTH) en cours de validité au {today}"
        )),
        "{file}"
    );
    // Another mediator: no link on the file, nothing read, no form.
    let other = signed_in(&server, "nadia@ml-nantes.fr").await;
    let file = get_with(&server, &format!("/people/{id}"), &other)
        .await
        .text()
        .await
        .unwrap();
    assert!(!file.contains("/complements"), "{file}");
    let html = get_with(&server, &path, &other).await.text().await.unwrap();
    assert!(!html.contains("RQTH) en cours"), "{html}");
    assert!(
        !html.contains("<form method=\"post\" action=\"/people/"),
        "{html}"
    );
    let answer = Form::fetch(&server, &other)
        .await
        .post(&server, &path, "reconnue=non&le=")
        .await;
    assert_eq!(answer.status(), 403);
}

/// Lucie Bernard added as a contact of the establishment `employer` by
/// the structure of `token`'s session: her id as a contact.
async fn lucie_added(server: &Server, token: &str, employer: &str) -> String {
    let added = gql(
        server,
        Some(token),
        "mutation($e: ID!) { employerContactAdd(input: { employerId: $e, name: \"Lucie Bernard\",
            email: \"lucie@boulangerie-du-port.fr\" }) { employer { contacts { id } } } }",
        json!({ "e": employer }),
    )
    .await;
    added["data"]["employerContactAdd"]["employer"]["contacts"][0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{added}"))
        .to_owned()
}

/// The structure that added a contact erases its details at its request
/// from the establishment's file, after ticking the confirmation.
#[tokio::test]
async fn a_contact_is_erased_at_its_request_from_the_establishments_file() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, token) = started(&db, &dir).await;
    let employer = register_employer(&server, &token, &siret(2), "Boulangerie du Port").await;
    let e = employer.as_str().unwrap();
    let contact = lucie_added(&server, &token, e).await;
    let cookies = signed_in(&server, "camille@ml-nantes.fr").await;
    let file = get_with(&server, &format!("/employers/{e}"), &cookies)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        file.contains("ou effacer ses coordonnées à sa demande"),
        "{file}"
    );
    let page = format!("/employers/{e}/contacts/{contact}/retirer");
    let html = get_with(&server, &page, &cookies)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("Effacer ses coordonnées, à sa demande"),
        "{html}"
    );
    let path = format!("/employers/{e}/contacts/{contact}/effacer");
    let session = Form::fetch(&server, &cookies).await;
    // Not confirmed: the API's refusal beside the box, nothing erased.
    let answer = session.post(&server, &path, "x=").await;
    assert_eq!(answer.status(), 422);
    let html = answer.text().await.unwrap().replace("&#39;", "'");
    assert!(
        html.contains("id=\"confirme-erreur\">Confirmez l'effacement"),
        "{html}"
    );
    assert!(html.contains("lucie@boulangerie-du-port.fr"), "{html}");
    let answer = session.post(&server, &path, "confirme=oui").await;
    assert_eq!(answer.status(), 303);
    assert_eq!(
        answer.headers()["location"],
        format!("/employers/{e}?fait=contact-efface#accueil")
    );
    let file = get_with(
        &server,
        &format!("/employers/{e}?fait=contact-efface"),
        &cookies,
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(file.contains("Coordonnées du contact effacées"), "{file}");
    assert!(!file.contains("lucie@boulangerie-du-port.fr"), "{file}");
    // Gone: erasing it again finds no contact.
    let answer = session.post(&server, &path, "confirme=oui").await;
    assert_eq!(answer.status(), 404);
}

/// A contact taken off the list stays on the establishment's file, for the
/// structure that added it, with what it was added with and when it was
/// removed, until that structure erases it at its request.
#[tokio::test]
async fn a_removed_contact_is_read_back_and_erased_from_the_establishments_file() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, token) = started(&db, &dir).await;
    let employer = register_employer(&server, &token, &siret(4), "Boulangerie du Port").await;
    let e = employer.as_str().unwrap();
    let added = gql(
        &server,
        Some(&token),
        "mutation($e: ID!) { employerContactAdd(input: { employerId: $e, name: \"Lucie Bernard\",
            jobTitle: \"Responsable RH\", email: \"lucie@boulangerie-du-port.fr\",
            phone: \"+33612345678\" }) { employer { contacts { id } } } }",
        json!({ "e": e }),
    )
    .await;
    let contact = added["data"]["employerContactAdd"]["employer"]["contacts"][0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{added}"))
        .to_owned();
    let cookies = signed_in(&server, "camille@ml-nantes.fr").await;
    let file = |cookies: Vec<String>| {
        let server = &server;
        async move {
            get_with(server, &format!("/employers/{e}"), &cookies)
                .await
                .text()
                .await
                .unwrap()
        }
    };
    let shown = file(cookies.clone()).await;
    assert!(
        shown.contains(
            "<strong>Lucie Bernard</strong><br>Responsable RH · lucie@boulangerie-du-port.fr · 06 12 34 56 78"
        ),
        "{shown}"
    );
    assert!(!shown.contains("Contacts retirés"), "{shown}");

    let session = Form::fetch(&server, &cookies).await;
    let removed = session
        .post(
            &server,
            &format!("/employers/{e}/contacts/{contact}/retirer"),
            "",
        )
        .await;
    assert_eq!(removed.status(), 303);
    let shown = file(cookies.clone()).await;
    assert!(shown.contains("Aucun contact enregistré"), "{shown}");
    assert!(shown.contains("Contacts retirés de la liste"), "{shown}");
    assert!(
        shown.contains("<strong>Lucie Bernard</strong><br>Responsable RH · 06 12 34 56 78<br>Retiré de la liste le "),
        "{shown}"
    );
    assert!(!shown.contains("lucie@boulangerie-du-port.fr"), "{shown}");
    let path = format!("/employers/{e}/contacts/{contact}/effacer");
    assert!(shown.contains(&format!("href=\"{path}\"")), "{shown}");
    let html = get_with(&server, &path, &cookies)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("<h1>Effacer un contact retiré de Boulangerie du Port</h1>"),
        "{html}"
    );
    assert!(!html.contains("Retirer le contact</button>"), "{html}");
    assert!(html.contains("Effacer ses coordonnées</button>"), "{html}");

    let erased = session.post(&server, &path, "confirme=oui").await;
    assert_eq!(erased.status(), 303);
    let shown = file(cookies.clone()).await;
    assert!(!shown.contains("Lucie"), "{shown}");
    assert!(!shown.contains("Contacts retirés"), "{shown}");
    let gone = get_with(&server, &path, &cookies).await;
    assert_eq!(gone.status(), 404);
}

/// The structure that registered an establishment removes a contact
/// another structure added, but may not erase its details: the page does
/// not offer it, and a request made by hand is refused where it shows.
#[tokio::test]
async fn only_the_structure_that_added_a_contact_erases_it() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, token) = started(&db, &dir).await;
    create_user(&db, &dir, "Cap emploi Nantes", "yanis@capemploi-nantes.fr");
    let other = login(&server, "yanis@capemploi-nantes.fr").await;
    let employer = register_employer(&server, &token, &siret(3), "Boulangerie du Port").await;
    let e = employer.as_str().unwrap();
    let contact = lucie_added(&server, &other, e).await;
    let cookies = signed_in(&server, "camille@ml-nantes.fr").await;
    let file = get_with(&server, &format!("/employers/{e}"), &cookies)
        .await
        .text()
        .await
        .unwrap();
    assert!(file.contains("Retirer Lucie Bernard de la liste"), "{file}");
    assert!(!file.contains("effacer ses coordonnées"), "{file}");
    let page = format!("/employers/{e}/contacts/{contact}/retirer");
    let html = get_with(&server, &page, &cookies)
        .await
        .text()
        .await
        .unwrap();
    assert!(!html.contains("/effacer"), "{html}");
    let session = Form::fetch(&server, &cookies).await;
    let path = format!("/employers/{e}/contacts/{contact}/effacer");
    let answer = session.post(&server, &path, "confirme=oui").await;
    assert_eq!(answer.status(), 403);
    let html = answer.text().await.unwrap();
    assert!(html.contains("class=\"alert\" role=\"alert\">"), "{html}");
    assert!(html.contains("lucie@boulangerie-du-port.fr"), "{html}");
    // Without the form's token, nothing either.
    let forged = no_redirects()
        .post(format!("{}{path}", server.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cookie", session.cookies.join("; "))
        .body("confirme=oui")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
}

/// A manager reads the scheduled jobs' runs in French, searched by job,
/// from the administration; a mediator is refused.
#[tokio::test]
async fn a_manager_reads_the_scheduled_jobs_runs() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, _) = started_with(&db, &dir, reminders_every_second).await;
    create_staff(
        &db,
        &dir,
        "Mission locale de Nantes",
        "manager",
        "sophie@ml-nantes.fr",
    );
    let cookies = signed_in(&server, "sophie@ml-nantes.fr").await;
    let admin = get_with(&server, "/administration", &cookies)
        .await
        .text()
        .await
        .unwrap();
    assert!(admin.contains("href=\"/administration/taches\""), "{admin}");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let html = loop {
        let html = get_with(&server, "/administration/taches", &cookies)
            .await
            .text()
            .await
            .unwrap();
        if html.contains("<strong>Rappels") {
            break html;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no run listed: {html}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert!(html.contains("Réussi : aucun courriel préparé"), "{html}");
    assert!(html.contains("Prévu le "), "{html}");
    assert!(!html.contains("reminders</"), "no bare job name: {html}");
    let html = get_with(&server, "/administration/taches?tache=RETENTION", &cookies)
        .await
        .text()
        .await
        .unwrap()
        .replace("&#39;", "'");
    assert!(
        html.contains("Aucun passage de cette tâche pour l'instant."),
        "{html}"
    );
    let answer = get_with(&server, "/administration/taches?tache=menage", &cookies).await;
    assert_eq!(answer.status(), 422);
    let html = answer.text().await.unwrap().replace("&#39;", "'");
    assert!(
        html.contains("id=\"tache-erreur\">Choisissez une tâche de la liste."),
        "{html}"
    );
    // A page's link made by hand, out of any date's range: the list from
    // its start, saying so.
    let cursor = base64_url(&format!("{}\u{1f}1", -250_000_000_000_000_000_000i128));
    let html = get_with(
        &server,
        &format!("/administration/taches?apres={cursor}"),
        &cookies,
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(
        html.contains("Ce lien de page n&#39;est plus valable"),
        "{html}"
    );
    // A mediator is refused, whatever the job asked for.
    let mediator = signed_in(&server, "camille@ml-nantes.fr").await;
    for path in [
        "/administration/taches",
        "/administration/taches?tache=menage",
    ] {
        let answer = get_with(&server, path, &mediator).await;
        assert_eq!(answer.status(), 403, "{path}");
    }
}
