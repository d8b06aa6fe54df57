//! Mail end to end: the binary sends through a real SMTP server on
//! loopback (aiosmtpd), and the links in its mails work when followed over
//! HTTP: a magic link opens a session by a button press (the cookie it
//! sets is the session), a preferences link turns optional mails off.

mod common;
#[path = "../crates/notify/tests/support/mod.rs"]
mod smtp;

use std::time::{Duration, Instant};

use common::*;
use passerelle_store::testkit::TestDb;
use serde_json::json;
use smtp::{Mail, SmtpSink};

async fn wait_for_mail(sink: &SmtpSink, subject: &str) -> Mail {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(m) = sink.mails().into_iter().find(|m| m.subject == subject) {
            return m;
        }
        assert!(
            Instant::now() < deadline,
            "no mail {subject:?}; got {:?}",
            sink.mails().iter().map(|m| &m.subject).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A page's form token and the cookie it must come back with.
struct Form {
    cookie: String,
    csrf: String,
}

impl Form {
    fn of(set_cookie: &str, html: &str) -> Self {
        let cookie = set_cookie.split(';').next().unwrap().to_owned();
        let needle = "name=\"csrf\" value=\"";
        let at = html.find(needle).expect("a form token") + needle.len();
        let csrf = html[at..at + html[at..].find('"').unwrap()].to_owned();
        Self { cookie, csrf }
    }

    async fn post(
        &self,
        client: &reqwest::Client,
        url: &str,
        body: &str,
    ) -> reqwest::Result<reqwest::Response> {
        client
            .post(url)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("cookie", &self.cookie)
            .body(format!("{body}&csrf={}", self.csrf))
            .send()
            .await
    }
}

/// The path of a link (the server's public address is not known in advance).
fn path_of(link: &str) -> String {
    let rest = link.split_once("://").map_or(link, |(_, r)| r);
    rest[rest.find('/').unwrap()..].to_owned()
}

#[tokio::test]
async fn mailed_links_open_a_session_and_turn_optional_mail_off() {
    let sink = SmtpSink::start().await;
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, staff) = started_with(&db, &dir, |cmd| {
        cmd.env("PASSERELLE_MAIL__SMTP_URL", sink.url())
            .env("PASSERELLE_MAIL__POLL_INTERVAL_MS", "100")
            .env("PASSERELLE_API__MAGIC_LINKS_IN_LOG", "false");
    })
    .await;
    let s = Some(staff.as_str());
    let person = enroll(&server, &staff, Some("awa@exemple.fr")).await;

    // An immersion proposed to her (its mail comes back below).
    let employer =
        register_employer(&server, &staff, "73282932000074", "Boulangerie du Port").await;
    let immersion = propose(&server, &staff, &person, &employer).await;

    // A link asked for arrives by mail.
    let asked = gql(
        &server,
        None,
        "mutation { magicLinkRequest(input: { email: \"awa@exemple.fr\" }) { sent } }",
        json!({}),
    )
    .await;
    assert_eq!(asked["data"]["magicLinkRequest"]["sent"], true, "{asked}");
    let mail = wait_for_mail(&sink, "Votre lien de connexion à Passerelle").await;
    assert_eq!(mail.rcpt_to, ["awa@exemple.fr"]);
    assert!(
        mail.link("/preferences/").is_none(),
        "a requested link is essential"
    );
    let link = path_of(&mail.link("/acces/").expect("a link"));

    // Following it shows a page and uses nothing: a mail scanner's visit
    // leaves the link working.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut form = None;
    for _ in 0..2 {
        let page = client
            .get(format!("{}{link}", server.base))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200);
        let csrf_cookie = page.headers()["set-cookie"].to_str().unwrap().to_owned();
        assert!(
            page.headers()["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("default-src 'none'")
        );
        assert_eq!(page.headers()["referrer-policy"], "no-referrer");
        let html = page.text().await.unwrap();
        assert!(html.contains("<html lang=\"fr\">"));
        assert!(html.contains("Ouvrir mon espace"), "{html}");
        form = Some(Form::of(&csrf_cookie, &html));
    }
    let form = form.unwrap();
    // The button opens the session: a cookie, then home. Without the
    // form's token, nothing.
    let token = link.rsplit('/').next().unwrap();
    let forged = client
        .post(format!("{}/acces", server.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    let (access, body) = (format!("{}/acces", server.base), format!("token={token}"));
    let open = || form.post(&client, &access, &body);
    let opened = open().await.unwrap();
    assert_eq!(opened.status(), 303);
    assert_eq!(opened.headers()["location"], "/");
    let cookie = opened.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("Secure") && cookie.contains("SameSite=Lax")
    );
    let session = cookie
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_owned();
    let seen = gql(
        &server,
        Some(&session),
        "query($i: ID!) { immersion(id: $i) { id } }",
        json!({ "i": immersion }),
    )
    .await;
    assert_eq!(seen["data"]["immersion"]["id"], immersion, "{seen}");
    let again = open().await.unwrap();
    assert_eq!(again.status(), 400, "a link opens once");
    assert!(again.text().await.unwrap().contains("plus valable"));

    // The proposal's mail is optional, with a way to turn such mails off.
    let mail = wait_for_mail(
        &sink,
        "Une immersion chez Boulangerie du Port vous est proposée",
    )
    .await;
    let preferences = path_of(&mail.link("/preferences/").expect("an opt-out link"));
    let (status, html) = server.get(&preferences).await;
    assert_eq!(status, 200);
    assert!(html.contains("Ne plus recevoir ces messages"), "{html}");
    let off = form
        .post(
            &client,
            &format!("{}{preferences}", server.base),
            "choix=ne-plus-recevoir",
        )
        .await
        .unwrap();
    assert_eq!(off.status(), 200);
    assert!(off.text().await.unwrap().contains("Vous ne recevez plus"));
    let (status, _) = server.get("/preferences/inconnu").await;
    assert_eq!(status, 404);
    let (status, page) = server.get("/nulle-part").await;
    assert_eq!(status, 404);
    assert!(page.contains("Page introuvable"), "{page}");

    // The mediator sees what was sent, by role, never by address.
    let deliveries = gql(
        &server,
        s,
        "{ deliveries { template label recipient state attempts } }",
        json!({}),
    )
    .await;
    let list = deliveries["data"]["deliveries"].as_array().unwrap().clone();
    assert!(
        list.contains(
            &json!({ "template": "magic_link", "label": "Lien de connexion",
            "recipient": "Personne accompagnée", "state": "SENT", "attempts": 1 })
        ),
        "{deliveries}"
    );
    assert!(!deliveries.to_string().contains("exemple.fr"));
    let runs = gql(&server, s, "{ jobRuns { job } }", json!({})).await;
    assert_eq!(
        runs["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{runs}"
    );
    assert!(server.terminate().success());
}

/// A GraphQL step that must succeed; its answer.
async fn step(server: &Server, token: &str, query: &str, variables: serde_json::Value) {
    let answer = gql(server, Some(token), query, variables).await;
    assert!(answer["errors"].is_null(), "{query}: {answer}");
}

/// The addresses the signature requests went to so far, sorted.
fn signature_requests(sink: &SmtpSink) -> Vec<String> {
    let mut to: Vec<String> = sink
        .mails()
        .into_iter()
        .filter(|m| m.subject.starts_with("Convention d'immersion à signer"))
        .flat_map(|m| m.rcpt_to)
        .collect();
    to.sort();
    to
}

/// Waits until `count` signature requests went out; then a little more,
/// so that one too many would show.
async fn wait_for_requests(sink: &SmtpSink, count: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while signature_requests(sink).len() < count {
        assert!(
            Instant::now() < deadline,
            "{count} signature requests expected; got {:?}",
            signature_requests(sink)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    signature_requests(sink)
}

#[tokio::test]
async fn a_renewal_asks_every_signatory_to_sign_again_once() {
    let sink = SmtpSink::start().await;
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, staff) = started_with(&db, &dir, |cmd| {
        cmd.env("PASSERELLE_MAIL__SMTP_URL", sink.url())
            .env("PASSERELLE_MAIL__POLL_INTERVAL_MS", "100");
    })
    .await;
    let enrolled = gql(
        &server,
        Some(&staff),
        "mutation { personEnroll(input: { firstName: \"Awa\", lastName: \"Diallo\",
            birthDate: \"2001-05-12\" }) { person { id enrolledOn } } }",
        json!({}),
    )
    .await;
    let person = enrolled["data"]["personEnroll"]["person"]["id"].clone();
    let today = enrolled["data"]["personEnroll"]["person"]["enrolledOn"]
        .as_str()
        .unwrap_or_else(|| panic!("{enrolled}"))
        .to_owned();
    let tomorrow = (time::Date::parse(
        &today,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .unwrap()
        + time::Duration::days(1))
    .to_string();
    let employer =
        register_employer(&server, &staff, "73282932000074", "Boulangerie du Port").await;
    let immersion = propose(&server, &staff, &person, &employer).await;
    for by in ["PERSON", "EMPLOYER"] {
        step(
            &server,
            &staff,
            "mutation($i: ID!, $by: Party!) {
                immersionAccept(input: { immersionId: $i, by: $by }) { immersion { id } } }",
            json!({ "i": immersion, "by": by }),
        )
        .await;
    }
    // Each signatory with an address of their own.
    let mut terms = convention(&today, 35.0);
    terms["person"]["identity"]["email"] = json!("awa@exemple.fr");
    terms["host"]["signatory"]["email"] = json!("jean.martin@boulangerie-du-port.fr");
    terms["prescriber"]["signatory"]["email"] = json!("camille.durand@ml-nantes.fr");
    step(
        &server,
        &staff,
        "mutation($i: ID!, $c: ConventionInput!) {
            conventionDraft(input: { immersionId: $i, convention: $c }) { immersion { id } } }",
        json!({ "i": immersion, "c": terms }),
    )
    .await;
    let signatories = [
        "awa@exemple.fr",
        "camille.durand@ml-nantes.fr",
        "jean.martin@boulangerie-du-port.fr",
    ];
    assert_eq!(wait_for_requests(&sink, 3).await, signatories);

    // Signed on paper, validated, started.
    for (signatory, paper) in [
        ("PERSON", json!(today)),
        ("HOST", json!(today)),
        ("PRESCRIBER", serde_json::Value::Null),
    ] {
        step(
            &server,
            &staff,
            "mutation($i: ID!, $s: Signatory!, $p: Date) { conventionSign(input: {
                immersionId: $i, signatory: $s, onPaperOn: $p }) { immersion { id } } }",
            json!({ "i": immersion, "s": signatory, "p": paper }),
        )
        .await;
    }
    for mutation in [
        "mutation($i: ID!) { conventionValidate(input: { immersionId: $i }) { immersion { id } } }",
        "mutation($i: ID!) { immersionStart(input: { immersionId: $i }) { immersion { id } } }",
    ] {
        step(&server, &staff, mutation, json!({ "i": immersion })).await;
    }

    // The renewal: every signatory of the convention is asked again, once.
    step(
        &server,
        &staff,
        "mutation($i: ID!, $d: Date!) { conventionRenew(input: { immersionId: $i,
            period: { start: $d, end: $d }, schedule: \"De 6 h à 13 h\", weeklyHours: 35,
            objective: DISCOVER_JOB_OR_SECTOR, goals: \"Découvrir le façonnage du pain\",
            whyGoalsNotReached: \"Une journée n'a pas suffi pour façonner seule\" }) {
            immersion { id } } }",
        json!({ "i": immersion, "d": tomorrow }),
    )
    .await;
    let twice: Vec<String> = signatories
        .iter()
        .flat_map(|s| [s.to_string(), s.to_string()])
        .collect();
    assert_eq!(wait_for_requests(&sink, 6).await, twice);
    let renewal = sink
        .mails()
        .into_iter()
        .rfind(|m| {
            m.subject.starts_with("Convention d'immersion à signer")
                && m.rcpt_to == ["awa@exemple.fr"]
        })
        .unwrap();
    assert!(renewal.link("/acces/").is_some(), "a link to sign");
    // The renewal's day, not the first period's.
    let day = passerelle_domain::fr::date(
        time::Date::parse(
            &tomorrow,
            time::macros::format_description!("[year]-[month]-[day]"),
        )
        .unwrap(),
    );
    assert!(renewal.text.contains(&day), "{day}: {}", renewal.text);

    // The log replayed: nothing mailed again.
    let out = passerelle(&db, &dir, &["projections", "rebuild", "notifications"]);
    assert!(out.status.success(), "{out:?}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(signature_requests(&sink), twice);
    assert!(server.terminate().success());
}

/// Mail sent through SMTP with links that open only on this machine is
/// warned about at start; an address recipients reach is not, nor mail
/// written to files.
#[tokio::test]
async fn a_loopback_public_address_with_smtp_is_warned_about_at_start() {
    const WARNING: &str = "mail.public_url is a loopback address";
    for (smtp, public_url, warned) in [
        (true, None, true),
        (true, Some("http://[::1]:8080"), true),
        (true, Some("http://passerelle.localhost"), true),
        (true, Some("https://passerelle.example.org"), false),
        (false, None, false),
    ] {
        let db = TestDb::new().await;
        let dir = data_dir();
        let (server, _) = started_with(&db, &dir, |cmd| {
            if smtp {
                cmd.env("PASSERELLE_MAIL__SMTP_URL", "smtp://127.0.0.1:9");
            }
            if let Some(url) = public_url {
                cmd.env("PASSERELLE_MAIL__PUBLIC_URL", url);
            }
        })
        .await;
        assert_eq!(
            !server.logged(WARNING).is_empty(),
            warned,
            "smtp {smtp}, {public_url:?}"
        );
    }
}
