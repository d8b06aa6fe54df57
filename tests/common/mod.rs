//! What the end-to-end tests share: the binary started as a server or run
//! as a command, against a real PostgreSQL.

#![allow(dead_code, reason = "each test binary uses part of the helpers")]

use std::io::{BufRead, BufReader, Write as _};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use passerelle_store::testkit::TestDb;
use serde_json::{Value, json};

pub const BIN: &str = env!("CARGO_BIN_EXE_passerelle");

/// Today in Paris, as the service counts days: from 23:00 or 22:00 UTC it
/// is already the next day there, and a date taken in UTC is then the day
/// before the service's.
pub fn paris_today() -> time::Date {
    passerelle_app::Clock::today(&passerelle_app::SystemClock)
}

/// The instant `ago` before now, but not before today began in Paris: an
/// instant on the first day of something that started today (an accident on
/// an immersion's first day), in the past unless the day is younger than
/// the seconds added to it.
pub fn earlier_today(ago: time::Duration) -> time::OffsetDateTime {
    let midnight = paris_today().midnight();
    let midnight = midnight.assume_offset(passerelle_app::paris_offset(midnight.assume_utc()));
    (time::OffsetDateTime::now_utc() - ago).max(midnight)
}

/// A running `passerelle serve` and the address it listens on.
pub struct Server {
    pub child: Child,
    pub base: String,
    /// Every line the server logged so far.
    pub log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

/// A server a test leaves behind stops with it, as a deployment stops one
/// (SIGTERM: its own cluster, if it runs one, stops too), killed if it has
/// not within 10 s. Each holds connections to the shared test cluster (its
/// command path opens them all at start): left running until their test
/// binary exits, a binary's servers together would run the cluster out of
/// connections and fail the tests after them.
impl Drop for Server {
    fn drop(&mut self) {
        if !matches!(self.child.try_wait(), Ok(None)) {
            return;
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    pub fn start(configure: impl FnOnce(&mut Command)) -> Self {
        let mut cmd = Command::new(BIN);
        cmd.arg("serve")
            .env_remove("DATABASE_URL")
            .env("PASSERELLE_BIND", "127.0.0.1:0")
            .env("PASSERELLE_LOG_FORMAT", "json")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        configure(&mut cmd);
        let mut child = cmd.spawn().expect("passerelle starts");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let kept = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                kept.lock().unwrap().push(line.clone());
                let address = serde_json::from_str::<serde_json::Value>(&line)
                    .ok()
                    .and_then(|v| v["address"].as_str().map(str::to_owned));
                let _ = tx.send((line, address));
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut log = String::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok((_, Some(address))) => {
                    return Self {
                        child,
                        base: format!("http://{address}"),
                        log: lines,
                    };
                }
                Ok((line, None)) => {
                    log.push_str(&line);
                    log.push('\n');
                }
                Err(_) => {
                    let _ = child.kill();
                    panic!("passerelle did not start listening:\n{log}");
                }
            }
        }
    }

    /// The log lines that contain `needle`.
    pub fn logged(&self, needle: &str) -> Vec<String> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains(needle))
            .cloned()
            .collect()
    }

    pub async fn get(&self, path: &str) -> (u16, String) {
        let response = reqwest::get(format!("{}{path}", self.base))
            .await
            .expect("request");
        (response.status().as_u16(), response.text().await.unwrap())
    }

    /// SIGTERM, then the exit status within 20 s.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "passerelle did not stop on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// A GraphQL request over HTTP, with a bearer token when given; the whole answer.
pub async fn gql(server: &Server, token: Option<&str>, query: &str, variables: Value) -> Value {
    let mut request = reqwest::Client::new()
        .post(format!("{}/graphql", server.base))
        .header("content-type", "application/json")
        .body(json!({ "query": query, "variables": variables }).to_string());
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let response = request.send().await.unwrap();
    serde_json::from_str(&response.text().await.unwrap()).unwrap()
}

pub async fn wait_for_status(server: &Server, path: &str, status: u16) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (got, body) = server.get(path).await;
        if got == status {
            return body;
        }
        assert!(Instant::now() < deadline, "{path} stayed {got}: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub fn passerelle(db: &TestDb, dir: &tempdir::Dir, args: &[&str]) -> std::process::Output {
    passerelle_with(db, dir, args, &[])
}

/// [`passerelle`] with more environment variables.
pub fn passerelle_with(
    db: &TestDb,
    dir: &tempdir::Dir,
    args: &[&str],
    env: &[(&str, &str)],
) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .env("DATABASE_URL", db.url())
        .env("PASSERELLE_DATA_DIR", dir.path())
        .envs(env.iter().copied())
        .output()
        .expect("passerelle runs")
}

pub fn data_dir() -> tempdir::Dir {
    tempdir::Dir::new()
}

/// A private temporary directory, removed on drop.
pub mod tempdir {
    use std::path::{Path, PathBuf};

    pub struct Dir(PathBuf);

    impl Dir {
        pub fn new() -> Self {
            let path = std::env::temp_dir()
                .join(format!("passerelle-e2e-{}", uuid::Uuid::new_v4().simple()));
            std::fs::create_dir_all(&path).unwrap();
            Self(path)
        }
        pub fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

// The staff and the first facts most end-to-end tests start from.

pub const PASSWORD: &str = "correct horse battery";

pub fn create_user(db: &TestDb, dir: &tempdir::Dir, structure: &str, email: &str) {
    create_staff(db, dir, structure, "mediator", email);
}

/// A staff account of `role` (`admin`, `manager`, `mediator`) made by
/// `passerelle users create`, with [`PASSWORD`].
pub fn create_staff(db: &TestDb, dir: &tempdir::Dir, structure: &str, role: &str, email: &str) {
    create_staff_at(&db.url(), dir, structure, role, email);
}

/// [`create_staff`] in the database at `url`, for tests that run their
/// own cluster.
pub fn create_staff_at(url: &str, dir: &tempdir::Dir, structure: &str, role: &str, email: &str) {
    let mut child = Command::new(BIN)
        .args([
            "users",
            "create",
            "--structure",
            structure,
            "--role",
            role,
            "--email",
            email,
            "--name",
            "Camille Durand",
            "--password-stdin",
        ])
        .env("DATABASE_URL", url)
        .env("PASSERELLE_DATA_DIR", dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{PASSWORD}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(email));
}

pub async fn login(server: &Server, email: &str) -> String {
    let answer = gql(
        server,
        None,
        "mutation($email: String!, $password: String!) {
            login(input: { email: $email, password: $password }) { token me { structureName } }
        }",
        json!({ "email": email, "password": PASSWORD }),
    )
    .await;
    answer["data"]["login"]["token"]
        .as_str()
        .unwrap_or_else(|| panic!("{answer}"))
        .to_owned()
}

/// A server on a database of its own, ready, with a mediator of the
/// "Mission locale de Nantes" logged in; returns the server and their token.
pub async fn started(db: &TestDb, dir: &tempdir::Dir) -> (Server, String) {
    started_with(db, dir, |_| {}).await
}

/// As [`started`], with magic links also written to the log (a development
/// setting), for tests that follow them without a mail server.
pub async fn started_with_links(db: &TestDb, dir: &tempdir::Dir) -> (Server, String) {
    started_with(db, dir, |cmd| {
        cmd.env("PASSERELLE_API__MAGIC_LINKS_IN_LOG", "true");
    })
    .await
}

/// As [`started`], with more configuration.
pub async fn started_with(
    db: &TestDb,
    dir: &tempdir::Dir,
    configure: impl FnOnce(&mut Command),
) -> (Server, String) {
    let server = Server::start(|cmd| {
        cmd.env("DATABASE_URL", db.url())
            .env("PASSERELLE_DATA_DIR", dir.path());
        configure(cmd);
    });
    wait_for_status(&server, "/ready", 200).await;
    create_user(db, dir, "Mission locale de Nantes", "camille@ml-nantes.fr");
    let token = login(&server, "camille@ml-nantes.fr").await;
    (server, token)
}

/// A server's mail sent to a port nothing listens on, once, looked for
/// every 100 ms: every mail fails at once, as with an SMTP server down.
pub fn mail_refused(cmd: &mut Command) {
    cmd.env("PASSERELLE_MAIL__SMTP_URL", "smtp://127.0.0.1:9")
        .env("PASSERELLE_MAIL__MAX_ATTEMPTS", "1")
        .env("PASSERELLE_MAIL__POLL_INTERVAL_MS", "100");
}

/// A server's scheduled reminders every second (looked for every second),
/// the other jobs off: runs to read without waiting for a day.
pub fn reminders_every_second(cmd: &mut Command) {
    cmd.env("PASSERELLE_SCHEDULES__REMINDERS", "* * * * * *")
        .env("PASSERELLE_SCHEDULES__POLL_INTERVAL_SECS", "1")
        .env("PASSERELLE_SCHEDULES__WEEKLY_DIGEST", "")
        .env("PASSERELLE_SCHEDULES__RETENTION", "");
}

/// Registers an employer in Nantes; its id.
pub async fn register_employer(server: &Server, token: &str, siret: &str, name: &str) -> Value {
    let answer = gql(
        server,
        Some(token),
        "mutation($s: String!, $n: String!) { employerRegister(input: { siret: $s, name: $n,
            naf: \"10\", commune: \"44109\" }) { employer { id } } }",
        json!({ "s": siret, "n": name }),
    )
    .await;
    answer["data"]["employerRegister"]["employer"]["id"].clone()
}

/// Enrolls Awa Diallo, with an email when given; her id. Tests enrol several
/// people through it, all alike, so it confirms past the duplicate warning
/// (which `tests/corrections.rs` checks).
pub async fn enroll(server: &Server, token: &str, email: Option<&str>) -> Value {
    let answer = gql(
        server,
        Some(token),
        "mutation($m: String) { personEnroll(input: { firstName: \"Awa\", lastName: \"Diallo\",
            birthDate: \"2001-05-12\", email: $m, confirmDuplicate: true }) { person { id } } }",
        json!({ "m": email }),
    )
    .await;
    answer["data"]["personEnroll"]["person"]["id"].clone()
}

/// Proposes an immersion to confirm the project; its id.
pub async fn propose(server: &Server, token: &str, person: &Value, employer: &Value) -> Value {
    let answer = gql(
        server,
        Some(token),
        "mutation($p: ID!, $e: ID!) { immersionPropose(input: { personId: $p, employerId: $e,
            objective: CONFIRM_PROJECT }) { immersion { id } } }",
        json!({ "p": person, "e": employer }),
    )
    .await;
    answer["data"]["immersionPropose"]["immersion"]["id"].clone()
}

/// A lawful convention for Awa Diallo at the Boulangerie du Port, one day long.
pub fn convention(today: &str, weekly_hours: f64) -> Value {
    json!({
        "prescriber": { "name": "Mission locale de Nantes",
                        "signatory": { "name": "Camille Durand" } },
        "person": {
            "identity": { "firstName": "Awa", "lastName": "Diallo", "birthDate": "2001-05-12",
                          "address": "3 rue des Lilas, 44000 Nantes" },
            "situation": { "kind": "JOB_SEEKER" }
        },
        "host": { "siret": "73282932000074", "name": "Boulangerie du Port",
                  "activity": "Boulangerie", "collectiveAgreement": "IDCC 843",
                  "signatory": { "name": "Jean Martin" },
                  "tutor": { "name": "Lucie Bernard", "jobTitle": "Cheffe boulangère" } },
        "period": { "start": today, "end": today },
        "schedule": "De 6 h à 13 h",
        "weeklyHours": weekly_hours,
        "place": { "address": "12 quai de la Fosse", "commune": "44109" },
        "objective": "DISCOVER_JOB_OR_SECTOR",
        "goals": "Découvrir le façonnage du pain",
        "evaluation": "Grille remplie avec la tutrice",
        "tasks": "Peser, pétrir, façonner",
        "forbiddenUsesExcluded": true
    })
}

/// The day a person was enrolled (today, as the server counts it): the
/// day a test's facts are recorded on.
pub async fn enrolled_on(server: &Server, token: &str, person: &Value) -> String {
    done(
        server,
        token,
        "query($p: ID!) { person(id: $p) { enrolledOn } }",
        json!({ "p": person }),
    )
    .await["person"]["enrolledOn"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A mutation's data, for a step of a test's setting up; panics on any
/// error.
async fn done(server: &Server, token: &str, query: &str, variables: Value) -> Value {
    let answer = gql(server, Some(token), query, variables).await;
    assert!(answer["errors"].is_null(), "{query}: {answer}");
    answer["data"].clone()
}

/// An immersion proposed, accepted by both and its convention drafted for
/// today: its id.
pub async fn drafted(
    server: &Server,
    token: &str,
    person: &Value,
    employer: &Value,
    today: &str,
) -> Value {
    let immersion = propose(server, token, person, employer).await;
    for by in ["PERSON", "EMPLOYER"] {
        done(
            server,
            token,
            "mutation($i: ID!, $by: Party!) { immersionAccept(input: { immersionId: $i,
                by: $by }) { immersion { id } } }",
            json!({ "i": immersion, "by": by }),
        )
        .await;
    }
    done(
        server,
        token,
        "mutation($i: ID!, $c: ConventionInput!) { conventionDraft(input: {
            immersionId: $i, convention: $c }) { immersion { id } } }",
        json!({ "i": immersion, "c": convention(today, 35.0) }),
    )
    .await;
    immersion
}

/// An immersion of today, its convention signed by all and validated.
pub async fn validated(
    server: &Server,
    token: &str,
    person: &Value,
    employer: &Value,
    today: &str,
) -> Value {
    let immersion = drafted(server, token, person, employer, today).await;
    for signatory in ["PERSON", "HOST", "PRESCRIBER"] {
        done(
            server,
            token,
            "mutation($i: ID!, $s: Signatory!) { conventionSign(input: { immersionId: $i,
                signatory: $s }) { immersion { id } } }",
            json!({ "i": immersion, "s": signatory }),
        )
        .await;
    }
    done(
        server,
        token,
        "mutation($i: ID!) { conventionValidate(input: { immersionId: $i }) { immersion { id } } }",
        json!({ "i": immersion }),
    )
    .await;
    immersion
}

/// Events appended so far on the test's database.
pub async fn events(db: &TestDb) -> i64 {
    sqlx::query_scalar("select count(*) from events")
        .fetch_one(&db.pool)
        .await
        .unwrap()
}

/// Magic-link tokens the server logged so far, oldest first (with
/// `api.magic_links_in_log`, see [`started_with_links`]).
pub fn logged_links(server: &Server) -> Vec<String> {
    server
        .logged("magic_link_token")
        .iter()
        .filter_map(|line| {
            let entry: Value = serde_json::from_str(line).ok()?;
            entry["magic_link_token"].as_str().map(str::to_owned)
        })
        .collect()
}

/// The next link logged after the `seen` first ones (the log is read by
/// another thread, so it may arrive just after the answer).
pub async fn next_link(server: &Server, seen: usize) -> String {
    for _ in 0..250 {
        if let Some(link) = logged_links(server).get(seen) {
            return link.clone();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no magic link logged")
}

/// Opens a session with a magic link's token: the whole answer.
pub async fn redeem(server: &Server, link: &str) -> Value {
    gql(
        server,
        None,
        "mutation($t: String!) { magicLinkRedeem(input: { token: $t }) { token kind id } }",
        json!({ "t": link }),
    )
    .await
}

/// A session by magic link for the person or contact at `email`: asks for
/// the link, follows the one logged after the `seen` first ones, and gives
/// the session's token (with [`started_with_links`]).
pub async fn link_session(server: &Server, email: &str, seen: usize) -> String {
    let asked = gql(
        server,
        None,
        "mutation($m: String!) { magicLinkRequest(input: { email: $m }) { sent } }",
        json!({ "m": email }),
    )
    .await;
    assert_eq!(asked["data"]["magicLinkRequest"]["sent"], true, "{asked}");
    let session = redeem(server, &next_link(server, seen).await).await;
    session["data"]["magicLinkRedeem"]["token"]
        .as_str()
        .unwrap_or_else(|| panic!("{session}"))
        .to_owned()
}

/// The first error's code, field and message (empty when absent).
pub fn error(answer: &Value) -> (String, String, String) {
    let e = &answer["errors"][0];
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    (
        text(&e["extensions"]["code"]),
        text(&e["extensions"]["field"]),
        text(&e["message"]),
    )
}

/// The `n`th SIRET of a made-up company, its check digit right (Luhn).
pub fn siret(n: u32) -> String {
    let base = format!("4430618410{n:03}");
    let sum: u32 = base
        .chars()
        .rev()
        .enumerate()
        .map(|(i, c)| {
            let d = c.to_digit(10).unwrap();
            // The check digit goes last: from the right, every first digit
            // of base is doubled.
            if i % 2 == 0 {
                let twice = d * 2;
                if twice > 9 { twice - 9 } else { twice }
            } else {
                d
            }
        })
        .sum();
    format!("{base}{}", (10 - sum % 10) % 10)
}
