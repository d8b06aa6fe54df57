//! The pages in a real browser: headless Chromium driven over WebDriver
//! (chromedriver, fantoccini) against the running binary, on a 375 px wide
//! window; each main page passes axe-core's audit (WCAG 2.1 A and AA) with
//! no serious or critical violation, at that width and at a desktop's;
//! screenshots are kept under `target/tmp/screenshots/`.
//!
//! Needs `chromium`, `chromedriver` and axe-core (`AXE_CORE_JS`, or
//! `target/axe/node_modules/axe-core/axe.min.js`); `scripts/test` provides
//! them and sets `REQUIRE_BROWSER_TESTS=1`, which makes their absence an
//! error. Without it, a machine lacking them skips these tests, saying so.

mod common;
#[path = "support/browser.rs"]
mod support;

use common::*;
use fantoccini::Locator;
use passerelle_store::testkit::TestDb;
use serde_json::{Value, json};
use support::*;

#[tokio::test]
async fn an_employer_describes_a_need_on_a_phone_and_the_mediator_logs_a_visit() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, staff) = started_with_links(&db, &dir).await;
    // Another establishment first, so that the visit form must pick the
    // right one.
    register_employer(&server, &staff, "44306184100047", "Atelier Central").await;
    let employer = boulangerie_with_lucie(&server, &staff).await;
    let base = &server.base;

    // The employer asks for a link on the home page and follows it.
    browser.goto(&format!("{base}/")).await;
    browser.audit("accueil").await;
    browser.screenshot("accueil").await;
    // An address that is not one: refused beside its field, kept.
    browser.fill("#lien-email", "lucie boulangerie").await;
    browser.click("form[action='/lien'] button").await;
    browser.refused("lien-email", "adresse e-mail").await;
    assert_eq!(browser.value("#lien-email").await, "lucie boulangerie");
    browser.audit("accueil, lien refusé").await;
    browser
        .fill("#lien-email", "lucie@boulangerie-du-port.fr")
        .await;
    browser.click("form[action='/lien'] button").await;
    assert!(
        browser
            .body()
            .await
            .contains("un lien vient de vous être envoyé")
    );
    let token = logged_link(&server, 0).await;
    browser.goto(&format!("{base}/acces/{token}")).await;
    browser.click("form[action='/acces'] button").await;
    assert!(browser.body().await.contains("Boulangerie du Port"));
    browser.audit("portail").await;
    browser.screenshot("portail").await;

    // The guided form: an error beside its field, then the need sent.
    browser.click("a[href='/portail/besoin']").await;
    browser.audit("besoin").await;
    browser.click("form[action='/portail/besoin'] button").await;
    let activities = browser
        .client
        .find(Locator::Css("#activities"))
        .await
        .unwrap();
    assert_eq!(
        activities.attr("aria-invalid").await.unwrap().as_deref(),
        Some("true")
    );
    assert!(!browser.text("#activities-erreur").await.is_empty());
    browser.audit("besoin, erreur").await;
    browser.screenshot("besoin-erreur").await;
    browser
        .fill(
            "#activities",
            "Préparer les commandes le matin, accueillir les clients",
        )
        .await;
    browser
        .client
        .find(Locator::Css("#horizon"))
        .await
        .unwrap()
        .select_by_value("WITHIN_THREE_MONTHS")
        .await
        .unwrap();
    browser.click("form[action='/portail/besoin'] button").await;
    let portal = browser.body().await;
    assert!(portal.contains("Votre besoin est envoyé"), "{portal}");
    assert!(
        portal.contains("Préparer les commandes le matin"),
        "{portal}"
    );
    browser.screenshot("besoin-envoye").await;

    // The mediator logs in and finds the employer waiting in the inbox.
    browser.click("form[action='/deconnexion'] button").await;
    browser.fill("#email", "camille@ml-nantes.fr").await;
    browser.fill("#password", "mauvais mot de passe").await;
    browser.click("form[action='/connexion'] button").await;
    assert!(
        browser.body().await.contains("incorrect"),
        "{}",
        browser.body().await
    );
    browser.fill("#password", PASSWORD).await;
    browser.click("form[action='/connexion'] button").await;
    let inbox = browser
        .until(&format!("{base}/"), "a exprimé un besoin")
        .await;
    assert!(inbox.contains("Boulangerie du Port"), "{inbox}");
    browser.audit("tâches").await;
    browser.screenshot("taches").await;

    // The task leads to the need, the need to the employer's file.
    browser.click(".tasks a").await;
    let need = browser.body().await;
    assert!(need.contains("Préparer les commandes le matin"), "{need}");
    assert!(need.contains("sur le portail employeur"), "{need}");
    browser.audit("besoin, fiche").await;
    browser.click("a[href^='/employers/']").await;
    assert!(browser.body().await.contains("Aucune visite."));
    browser.audit("employeur").await;
    browser.screenshot("employeur").await;

    // A visit from the phone, from the file: the employer and today's date
    // already there, one error, done.
    browser.click("main a[href^='/visites/nouvelle?']").await;
    browser.audit("visite").await;
    let chosen = browser
        .client
        .find(Locator::Css("#employer"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap();
    assert_eq!(chosen.as_deref(), employer.as_str());
    let today = browser
        .client
        .find(Locator::Css("#visited_on"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap();
    // Today in France, as the service counts days.
    assert_eq!(today, Some(paris_today().to_string()));
    browser
        .click("form[action='/visites'] button:not([name])")
        .await;
    assert!(!browser.text("#observations-erreur").await.is_empty());
    browser
        .fill("#observations", "Le gérant cherche quelqu'un pour l'été")
        .await;
    browser
        .click("form[action='/visites'] button:not([name])")
        .await;
    assert!(browser.body().await.contains("Visite enregistrée"));
    browser.screenshot("visite-enregistree").await;
    browser
        .goto(&format!("{base}/employers/{}", employer.as_str().unwrap()))
        .await;
    assert!(
        browser
            .body()
            .await
            .contains("Le gérant cherche quelqu'un pour l'été")
    );
    let seen = gql(
        &server,
        Some(&staff),
        "query($e: ID!) { employer(id: $e) { visitCount visits { observations } } }",
        json!({ "e": employer }),
    )
    .await;
    assert_eq!(seen["data"]["employer"]["visitCount"], 1, "{seen}");
    browser.close().await;
    assert!(server.terminate().success());
}

/// Boulangerie du Port registered, with Lucie Bernard as its contact (who
/// signs in by mailed link): the employer's id.
async fn boulangerie_with_lucie(server: &Server, staff: &str) -> Value {
    let employer = register_employer(server, staff, "73282932000074", "Boulangerie du Port").await;
    let added = gql(
        server,
        Some(staff),
        "mutation($e: ID!) { employerContactAdd(input: { employerId: $e, name: \"Lucie Bernard\",
            email: \"lucie@boulangerie-du-port.fr\" }) { employer { id } } }",
        json!({ "e": employer }),
    )
    .await;
    assert!(added["errors"].is_null(), "{added}");
    employer
}

/// An employer opens a page of her space signed out (a link kept from a
/// mail): the home page says why, her mailed link is asked for there, and
/// opened in the same browser it leads to the page she asked for.
#[tokio::test]
async fn a_page_of_her_space_asked_signed_out_opens_after_her_link() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, staff) = started_with_links(&db, &dir).await;
    boulangerie_with_lucie(&server, &staff).await;
    let base = &server.base;
    browser.goto(&format!("{base}/mon-espace/contacts")).await;
    let home = browser.body().await;
    assert!(
        home.contains("Connectez-vous pour ouvrir la page demandée."),
        "{home}"
    );
    browser.audit("accueil, page demandée").await;
    browser.screenshot("accueil-page-demandee").await;
    browser
        .fill("#lien-email", "lucie@boulangerie-du-port.fr")
        .await;
    browser.click("form[action='/lien'] button").await;
    let said = browser.body().await;
    assert!(said.contains("il vous mène à la page demandée"), "{said}");
    browser
        .audit("accueil, lien envoyé vers la page demandée")
        .await;
    let token = logged_link(&server, 0).await;
    browser.goto(&format!("{base}/acces/{token}")).await;
    browser.click("form[action='/acces'] button").await;
    let contacts = browser.body().await;
    assert!(
        contacts.contains("Les contacts de Boulangerie du Port"),
        "{contacts}"
    );
    browser.close().await;
}

/// From a person's file, her referent keeps her data longer, saying why:
/// the extension is read back on the page, at 375 px as on a desktop.
#[tokio::test]
async fn a_referent_keeps_a_persons_data_longer_from_her_file() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, staff) = started(&db, &dir).await;
    let person = enroll(&server, &staff, None).await;
    let base = &server.base;
    browser.sign_in(base).await;
    browser
        .goto(&format!("{base}/people/{}", person.as_str().unwrap()))
        .await;
    browser.click("a[href$='/conservation']").await;
    assert!(browser.body().await.contains("Aucune prolongation."));
    browser.audit("conservation des données").await;
    browser.click("form[action$='/conservation'] button").await;
    assert!(!browser.text("#reason-erreur").await.is_empty());
    browser
        .audit("conservation des données, motif manquant")
        .await;
    browser
        .fill("#reason", "Une formation commence en septembre")
        .await;
    browser.click("form[action$='/conservation'] button").await;
    let page = browser.body().await;
    assert!(
        page.contains("Conservation prolongée, avec son motif."),
        "{page}"
    );
    assert!(
        page.contains("Motif : Une formation commence en septembre"),
        "{page}"
    );
    browser.audit("conservation des données, prolongée").await;
    browser.screenshot("conservation-prolongee").await;
    browser.close().await;
}

#[tokio::test]
async fn the_funnel_page_draws_seeded_data_and_its_csv_downloads() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let db = TestDb::new().await;
    let dir = data_dir();
    let out = passerelle(
        &db,
        &dir,
        &[
            "demo",
            "seed",
            "--seed",
            "11",
            "--people",
            "40",
            "--employers",
            "15",
            "--months",
            "8",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let server = Server::start(|cmd| {
        cmd.env("DATABASE_URL", db.url())
            .env("PASSERELLE_DATA_DIR", dir.path());
    });
    wait_for_status(&server, "/ready", 200).await;
    let base = &server.base;
    browser.goto(&format!("{base}/")).await;
    browser
        .fill("#email", "camille.durand@ml-nantes.example.org")
        .await;
    browser.fill("#password", "passerelle-demo").await;
    browser.click("form[action='/connexion'] button").await;
    browser.click("a[href='/tableaux/entonnoir']").await;
    let page = browser.body().await;
    assert!(page.contains("Entonnoir des immersions"), "{page}");
    // The chart says in text what it draws; the table gives the same.
    let described = browser.text("svg desc").await;
    let proposed = browser
        .text("tbody tr:first-child td")
        .await
        .parse::<i64>()
        .expect("a count of proposals");
    assert!(proposed > 0);
    assert!(
        described.contains(&format!("Proposées : {proposed}")),
        "{described}"
    );
    browser.audit("entonnoir").await;
    browser.screenshot("entonnoir").await;

    // Filtered to one département, the figure narrows and the CSV follows.
    browser
        .client
        .find(Locator::Css("summary"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser.fill("#departement", "44").await;
    browser
        .click("form[action='/tableaux/entonnoir'] button")
        .await;
    let proposed = browser
        .text("tbody tr:first-child td")
        .await
        .parse::<i64>()
        .expect("a count of proposals in 44");
    assert!(proposed > 0);

    // The CSV link, with the browser's session: the same figure.
    let href = browser
        .client
        .find(Locator::Css("a[download]"))
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap()
        .unwrap();
    let session = browser
        .client
        .get_named_cookie(passerelle_graphql::SESSION_COOKIE)
        .await
        .unwrap();
    let csv = reqwest::Client::new()
        .get(format!("{base}{href}"))
        .header(
            "cookie",
            format!("{}={}", passerelle_graphql::SESSION_COOKIE, session.value()),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 200);
    assert!(
        csv.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = csv.text().await.unwrap();
    let line = text
        .lines()
        .find(|l| l.to_lowercase().contains("propos"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(line.contains(&format!(";{proposed}")), "{line}");
    assert!(href.contains("departement=44"), "{href}");

    // The other dashboards, each audited.
    for (tab, heading) in [
        ("suites", "Suites des immersions"),
        ("besoins", "Des besoins aux embauches"),
        ("reajustements", "Réajustements des projets"),
    ] {
        browser.click(&format!("a[href='/tableaux/{tab}']")).await;
        let page = browser.body().await;
        assert!(page.contains(heading), "{page}");
        assert!(!browser.text("svg desc").await.is_empty());
        browser.audit(tab).await;
        browser.screenshot(&format!("tableau-{tab}")).await;
    }
    browser.close().await;
    assert!(server.terminate().success());
}

#[tokio::test]
async fn a_mediator_proposes_an_immersion_and_walks_the_convention_to_validation() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, staff) = started(&db, &dir).await;
    register_employer(&server, &staff, "73282932000074", "Boulangerie du Port").await;
    enroll(&server, &staff, Some("leo@exemple.fr")).await;
    let awa = enroll(&server, &staff, Some("awa@exemple.fr")).await;
    let base = &server.base;
    browser.goto(&format!("{base}/")).await;
    browser.fill("#email", "camille@ml-nantes.fr").await;
    browser.fill("#password", PASSWORD).await;
    browser.click("form[action='/connexion'] button").await;

    // The proposal from Awa's file, then both answers as the mediator
    // heard them.
    browser
        .goto(&format!("{base}/people/{}", awa.as_str().unwrap()))
        .await;
    browser.click("main a[href^='/immersions/nouvelle?']").await;
    let chosen = browser
        .client
        .find(Locator::Css("#person"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap();
    assert_eq!(chosen.as_deref(), awa.as_str());
    browser.audit("proposition").await;
    // The employer chosen among the establishments (one here).
    browser.tick("#employer-0").await;
    browser
        .click("form[action='/immersions'] button:not([name])")
        .await;
    let page = browser.body().await;
    assert!(
        page.contains("Immersion chez Boulangerie du Port"),
        "{page}"
    );
    assert!(page.contains("Awa Diallo"), "{page}");
    browser.audit("immersion").await;
    browser.click("form[action$='/reponse'] button").await;
    browser.click("form[action$='/reponse'] button").await;

    // The convention: most fields come from the files; 49 hours a week is
    // refused beside its field, and nothing is recorded.
    browser.click("a[href$='/convention']").await;
    let start = paris_today() + time::Duration::days(14);
    let end = start + time::Duration::days(4);
    for (field, value) in [
        ("start", start.to_string()),
        ("end", end.to_string()),
        ("birth_date", "1998-05-12".to_owned()),
    ] {
        browser
            .client
            .execute(
                "document.getElementById(arguments[0]).value = arguments[1];",
                vec![json!(field), json!(value)],
            )
            .await
            .unwrap();
    }
    for (field, value) in [
        ("#address", "3 rue des Lilas, 44000 Nantes"),
        ("#place_address", "12 quai de la Fosse"),
        ("#host_agreement", "IDCC 843"),
        ("#host_signatory", "Jean Martin"),
        ("#tutor_name", "Lucie Bernard"),
        ("#tutor_job", "Cheffe boulangère"),
        ("#goals", "Découvrir le façonnage du pain"),
        ("#tasks", "Peser, pétrir, façonner"),
        ("#evaluation", "Grille remplie avec la tutrice"),
        ("#weekly_hours", "49"),
    ] {
        browser.fill(field, value).await;
    }
    browser
        .client
        .find(Locator::Css("input[name='attestation']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser.click("form[action$='/convention'] button").await;
    let hours = browser
        .client
        .find(Locator::Css("#weekly_hours"))
        .await
        .unwrap();
    assert_eq!(
        hours.attr("aria-invalid").await.unwrap().as_deref(),
        Some("true")
    );
    let said = browser.text("#weekly_hours-erreur").await;
    assert!(said.contains("48"), "{said}");
    browser.audit("convention, erreur").await;
    browser.screenshot("convention-erreur").await;
    let stage = |db: &TestDb| {
        let pool = db.pool.clone();
        async move {
            sqlx::query_scalar::<_, String>("select stage from immersions.immersions")
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    assert_eq!(stage(&db).await, "proposed", "nothing recorded");
    browser.fill("#weekly_hours", "35").await;
    browser.click("form[action$='/convention'] button").await;
    let page = browser.body().await;
    assert!(page.contains("Convention rédigée"), "{page}");
    // Until it is validated, it is changed from its own values; sent
    // unchanged, nothing changes: the signature given stays.
    browser.click("form[action$='/signature'] button").await;
    browser.click("a[href$='/convention']").await;
    let tutor = browser
        .client
        .find(Locator::Css("#tutor_name"))
        .await
        .unwrap();
    assert_eq!(
        tutor.prop("value").await.unwrap().as_deref(),
        Some("Lucie Bernard")
    );
    browser.audit("convention à modifier").await;
    browser.screenshot("convention-a-modifier").await;
    browser.click("form[action$='/convention'] button").await;
    let url = browser.client.current_url().await.unwrap();
    assert!(url.path().starts_with("/immersions/"), "{url}");
    assert!(!url.path().ends_with("/convention"), "{url}");
    assert_eq!(stage(&db).await, "drafted");
    let modified: i64 =
        sqlx::query_scalar("select count(*) from events where event_type = 'convention_modified'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(modified, 0);

    // The two other signatures (on paper, then the prescriber's online),
    // then the validation.
    for _ in 0..2 {
        browser.click("form[action$='/signature'] button").await;
    }
    browser.audit("immersion signée").await;
    // Signed by all, it waits on the mediator's tasks, named by its person.
    let tasks = browser.until(&format!("{base}/"), "signée par tous").await;
    assert!(
        tasks.contains("Awa Diallo — Convention chez Boulangerie du Port signée par tous"),
        "{tasks}"
    );
    browser.audit("tâches, une immersion").await;
    browser.screenshot("taches-immersion").await;
    browser.click(".tasks a[href^='/immersions/']").await;
    browser.click("form[action$='/validation'] button").await;
    let page = browser.body().await;
    assert!(page.contains("Convention validée"), "{page}");
    browser.screenshot("convention-validee").await;
    assert_eq!(stage(&db).await, "validated");
    browser.close().await;
    assert!(server.terminate().success());
}

#[tokio::test]
async fn the_host_and_the_person_give_their_feedback_and_the_mediator_the_outcome() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, staff) = started_with_links(&db, &dir).await;
    let s = Some(staff.as_str());
    let employer =
        register_employer(&server, &staff, "73282932000074", "Boulangerie du Port").await;
    gql(
        &server,
        s,
        "mutation($e: ID!) { employerContactAdd(input: { employerId: $e, name: \"Lucie Bernard\",
            email: \"lucie@boulangerie-du-port.fr\" }) { employer { id } } }",
        json!({ "e": employer }),
    )
    .await;
    let person = enroll(&server, &staff, Some("awa@exemple.fr")).await;
    let stated = gql(
        &server,
        s,
        "mutation($p: ID!) { projectState(input: { personId: $p,
            project: { targetRomeCodes: [\"D1102\"] } }) { person { id } } }",
        json!({ "p": person }),
    )
    .await;
    assert!(stated["errors"].is_null(), "{stated}");
    let immersion = propose(&server, &staff, &person, &employer).await;
    let today = paris_today().to_string();
    let i = json!({ "i": immersion, "c": convention(&today, 35.0) });
    let steps = |list: &'static [&'static str]| {
        let (server, i) = (&server, i.clone());
        async move {
            for step in list {
                let done = gql(server, s, step, i.clone()).await;
                assert!(done["errors"].is_null(), "{step}: {done}");
            }
        }
    };
    steps(&[
        "mutation($i: ID!) { immersionAccept(input: { immersionId: $i, by: EMPLOYER }) { immersion { id } } }",
    ])
    .await;
    let base = &server.base;
    let request = "mutation($m: String!) { magicLinkRequest(input: { email: $m }) { sent } }";
    let mut links = 0;
    let mut open = |email: &'static str| {
        let server = &server;
        let browser = &browser;
        links += 1;
        let seen = links - 1;
        async move {
            gql(server, None, request, json!({ "m": email })).await;
            let token = logged_link(server, seen).await;
            browser
                .goto(&format!("{}/acces/{token}", server.base))
                .await;
            browser.click("form[action='/acces'] button").await;
            let home = browser.body().await;
            assert!(home.contains("Vos immersions"), "{email}: {home}");
            browser.click(".tasks a[href^='/immersions/']").await;
        }
    };

    // The person accepts the proposal from her own space.
    open("awa@exemple.fr").await;
    let page = browser.body().await;
    assert!(page.contains("sans être salarié"), "{page}");
    browser.audit("proposition, personne").await;
    browser.click("form[action$='/reponse'] button").await;
    assert!(!browser.body().await.contains("J'accepte cette immersion"));
    browser.click("form[action='/deconnexion'] button").await;
    steps(&[
        "mutation($i: ID!, $c: ConventionInput!) { conventionDraft(input: { immersionId: $i, convention: $c }) { immersion { id } } }",
    ])
    .await;

    // Each signs online from their own space, after reading what it is
    // and the whole convention: the signature is at its foot.
    for (who, email) in [
        ("hôte", "lucie@boulangerie-du-port.fr"),
        ("personne", "awa@exemple.fr"),
    ] {
        open(email).await;
        let page = browser.body().await;
        assert!(page.contains("sans être salarié"), "{who}: {page}");
        assert!(
            !page.contains("Signer la convention en ligne"),
            "{who} signs after reading: {page}"
        );
        browser.audit(&format!("signature, {who}")).await;
        browser.click("a[href$='/convention/imprimer']").await;
        let convention = browser.body().await;
        let day = passerelle_domain::fr::date(
            time::Date::parse(&today, &time::format_description::well_known::Iso8601::DATE)
                .unwrap(),
        );
        for mention in [
            // The period, the schedule and hours, the place.
            &*format!("le {day} (1 jour)"),
            "35 heures par semaine",
            "De 6 h à 13 h",
            "12 quai de la Fosse, Nantes",
            // The tasks, the tutor, the objective and goals, the evaluation.
            "Peser, pétrir, façonner",
            "Lucie Bernard, Cheffe boulangère",
            "Découvrir un métier ou un secteur d'activité",
            "Découvrir le façonnage du pain",
            "Grille remplie avec la tutrice",
            // The parties.
            "Mission locale de Nantes",
            "Diallo",
            "Boulangerie du Port",
            "Une immersion n'est pas un emploi",
        ] {
            assert!(
                convention.contains(mention),
                "{who}: {mention:?} missing:\n{convention}"
            );
        }
        assert!(
            !convention.contains("DISCOVER_JOB_OR_SECTOR"),
            "{convention}"
        );
        browser
            .audit(&format!("convention à lire avant de signer, {who}"))
            .await;
        browser.click("form[action$='/signature'] button").await;
        let after = browser.body().await;
        assert!(
            after.contains("Immersion chez Boulangerie du Port"),
            "{who}: {after}"
        );
        assert!(
            !after.contains("Signer la convention en ligne"),
            "{who}: {after}"
        );
        browser.click("form[action='/deconnexion'] button").await;
    }
    let signed = gql(
        &server,
        s,
        "query($i: ID!) { immersion(id: $i) { missingSignatures } }",
        json!({ "i": immersion }),
    )
    .await;
    assert_eq!(
        signed["data"]["immersion"]["missingSignatures"],
        json!(["PRESCRIBER"]),
        "{signed}"
    );
    steps(&[
        "mutation($i: ID!) { conventionSign(input: { immersionId: $i, signatory: PRESCRIBER }) { immersion { id } } }",
        "mutation($i: ID!) { conventionValidate(input: { immersionId: $i }) { immersion { id } } }",
        "mutation($i: ID!) { immersionStart(input: { immersionId: $i }) { immersion { id } } }",
        "mutation($i: ID!) { immersionComplete(input: { immersionId: $i }) { immersion { id } } }",
    ])
    .await;

    // The host, by its link: the assessment, a grid of skills and words.
    open("lucie@boulangerie-du-port.fr").await;
    browser.audit("bilan").await;
    browser
        .client
        .find(Locator::Css("#skill-JOB_TASKS"))
        .await
        .unwrap()
        .select_by_value("ACQUIRED")
        .await
        .unwrap();
    browser
        .fill("#advice", "La pâtisserie lui irait bien")
        .await;
    browser
        .client
        .execute(
            "document.querySelector(\"form[action$='/bilan']\").scrollIntoView();",
            vec![],
        )
        .await
        .unwrap();
    browser.screenshot("bilan").await;
    browser.click("form[action$='/bilan'] button").await;
    let page = browser.body().await;
    assert!(page.contains("le bilan de l'entreprise"), "{page}");
    browser.screenshot("bilan-envoye").await;
    browser.click("form[action='/deconnexion'] button").await;

    // The person, by hers: the host's assessment read back, her own words,
    // and the assessment contested, which takes a reason.
    open("awa@exemple.fr").await;
    let page = browser.body().await;
    for part in [
        "Le bilan de l'entreprise",
        "Présente tout du long",
        "Gestes du métier",
        "Acquise",
        "La pâtisserie lui irait bien",
    ] {
        assert!(page.contains(part), "{part:?} missing:\n{page}");
    }
    assert!(
        !page.contains("JOB_TASKS") && !page.contains("ACQUIRED"),
        "{page}"
    );
    browser
        .fill("#words", "J'ai aimé le fournil, moins les horaires")
        .await;
    browser
        .tick("input[name='countersigns'][value='non']")
        .await;
    browser.click("form[action$='/retour'] button").await;
    browser.refused("disagreement", "obligatoire").await;
    assert_eq!(
        browser.value("#words").await,
        "J'ai aimé le fournil, moins les horaires",
        "what she typed stays"
    );
    let checked = browser
        .client
        .find(Locator::Css("input[name='countersigns'][value='non']"))
        .await
        .unwrap()
        .prop("checked")
        .await
        .unwrap();
    assert_eq!(checked.as_deref(), Some("true"), "her choice stays");
    browser.audit("retour refusé, personne").await;
    browser
        .fill(
            "#disagreement",
            "Je suis venue tous les jours, même le samedi",
        )
        .await;
    browser.click("form[action$='/retour'] button").await;
    let page = browser.body().await;
    assert!(page.contains("le retour de la personne"), "{page}");
    assert!(
        page.contains("Bilan contesté par la personne")
            && page.contains("Je suis venue tous les jours, même le samedi"),
        "{page}"
    );
    // The assessment to print, with her answer.
    browser.click("a[href$='/bilan/imprimer']").await;
    let printed = browser.body().await;
    for part in [
        "Bilan de l'immersion chez Boulangerie du Port",
        "Présence",
        "Présente tout du long",
        "Objectifs atteints",
        "Gestes du métier",
        "Acquise",
        "La pâtisserie lui irait bien",
        "Contrat proposé",
        "en ligne par l'entreprise",
        "J'ai aimé le fournil, moins les horaires",
        "Bilan contesté par la personne",
        "Je suis venue tous les jours, même le samedi",
    ] {
        assert!(printed.contains(part), "{part:?} missing:\n{printed}");
    }
    browser.audit("bilan à imprimer, personne").await;
    browser.screenshot("bilan-imprimable").await;
    browser.click("form[action='/deconnexion'] button").await;

    // The host prints its assessment, without the person's words on it.
    open("lucie@boulangerie-du-port.fr").await;
    browser.click("a[href$='/bilan/imprimer']").await;
    let printed = browser.body().await;
    assert!(
        printed.contains("La pâtisserie lui irait bien"),
        "{printed}"
    );
    assert!(
        printed.contains("Aucun retour de la personne à lire ici"),
        "{printed}"
    );
    assert!(!printed.contains("même le samedi"), "{printed}");
    browser.audit("bilan à imprimer, hôte").await;
    browser.click("form[action='/deconnexion'] button").await;

    // The mediator records where she stands.
    browser.fill("#email", "camille@ml-nantes.fr").await;
    browser.fill("#password", PASSWORD).await;
    browser.click("form[action='/connexion'] button").await;
    browser
        .goto(&format!(
            "{base}/immersions/{}",
            immersion.as_str().unwrap()
        ))
        .await;
    browser.audit("suite").await;
    // The assessment to print, from the immersion's page.
    browser.click("a[href$='/bilan/imprimer']").await;
    let printed = browser.body().await;
    assert!(
        printed.contains("Je suis venue tous les jours, même le samedi"),
        "{printed}"
    );
    browser.audit("bilan à imprimer, médiateur").await;
    browser
        .goto(&format!(
            "{base}/immersions/{}",
            immersion.as_str().unwrap()
        ))
        .await;
    browser
        .fill(
            "#notes",
            "Très à l'aise avec l'équipe, le rythme du matin est dur",
        )
        .await;
    browser.click("form[action$='/observation'] button").await;
    browser
        .client
        .find(Locator::Css("#outcome"))
        .await
        .unwrap()
        .select_by_value("HIRED")
        .await
        .unwrap();
    browser
        .client
        .find(Locator::Css("#contract"))
        .await
        .unwrap()
        .select_by_value("CDI")
        .await
        .unwrap();
    browser.click("form[action$='/suite'] button").await;

    // Her project, readjusted from the immersion's feedback, from her file.
    browser.click("a[href='/people']").await;
    browser.click(".tasks a[href^='/people/']").await;
    browser.audit("fiche personne").await;
    browser.fill("#rome", "D1104 D1102").await;
    browser
        .fill(
            "#what_changed",
            "La pâtisserie d'abord, la boulangerie ensuite",
        )
        .await;
    browser.click("form[action$='/projet'] button").await;
    let file = browser.body().await;
    assert!(file.contains("Version 2"), "{file}");
    assert!(file.contains("après les retours d'une immersion"), "{file}");
    assert!(file.contains("Projet réajusté"), "{file}");
    // Each job by its code and its name in the ROME.
    assert!(file.contains("D1104 — Pâtissier / Pâtissière"), "{file}");
    browser.screenshot("fiche-personne").await;
    let seen = gql(
        &server,
        s,
        "query($i: ID!) { immersion(id: $i) { feedbackFrom outcomes } }",
        json!({ "i": immersion }),
    )
    .await;
    assert_eq!(
        seen["data"]["immersion"],
        json!({ "feedbackFrom": ["HOST", "PERSON", "MEDIATOR"], "outcomes": ["END"] }),
        "{seen}"
    );
    browser.close().await;
    assert!(server.terminate().success());
}

#[tokio::test]
async fn a_mediator_enrols_a_person_through_the_form() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, _staff) = started(&db, &dir).await;
    let base = &server.base;
    browser.sign_in(base).await;

    // A person, from the home page: a postal code where the INSEE code
    // goes is refused beside its field, and what was typed stays.
    browser.click("main a[href='/people/nouvelle']").await;
    browser.audit("inscription").await;
    browser.fill("#first_name", "Awa").await;
    browser.fill("#last_name", "Diallo").await;
    browser.set_date("birth_date", "2001-05-12").await;
    browser.fill("#email", "awa@exemple.fr").await;
    browser.fill("#phone", "06 12 34 56 78").await;
    browser.fill("#commune", "44000").await;
    browser.click("form[action='/people'] button").await;
    browser.refused("commune", "code INSEE").await;
    for (field, typed) in [
        ("#first_name", "Awa"),
        ("#last_name", "Diallo"),
        ("#birth_date", "2001-05-12"),
        ("#email", "awa@exemple.fr"),
        ("#phone", "06 12 34 56 78"),
        ("#commune", "44000"),
    ] {
        assert_eq!(browser.value(field).await, typed, "{field}");
    }
    browser.audit("inscription, erreur").await;
    browser.screenshot("inscription-erreur").await;
    let enrolled = || {
        let pool = db.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>("select count(*) from people.people")
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    assert_eq!(enrolled().await, 0, "nothing recorded");
    browser.fill("#commune", "44109").await;
    browser.click("form[action='/people'] button").await;
    let file = browser.body().await;
    assert!(file.contains("Personne inscrite"), "{file}");
    assert!(file.contains("Awa Diallo"), "{file}");
    let url = browser.client.current_url().await.unwrap();
    assert!(url.path().starts_with("/people/"), "{url}");
    assert_eq!(enrolled().await, 1);
    browser.audit("fiche, inscrite").await;

    // The people list leads there too.
    browser.click("nav a[href='/people']").await;
    browser.click("main a[href='/people/nouvelle']").await;
    assert!(browser.body().await.contains("Inscrire une personne"));

    // The same name and birth date again: a warning beside a box to tick,
    // what was typed kept, nothing recorded until it is ticked.
    browser.fill("#first_name", "awa").await;
    browser.fill("#last_name", "DIALLO").await;
    browser.set_date("birth_date", "2001-05-12").await;
    browser.click("form[action='/people'] button").await;
    browser.refused("confirm_duplicate", "déjà suivi").await;
    assert_eq!(browser.value("#last_name").await, "DIALLO");
    assert!(
        browser
            .body()
            .await
            .contains("Je confirme qu'il s'agit d'une autre personne")
    );
    browser.audit("inscription, homonyme").await;
    assert_eq!(
        enrolled().await,
        1,
        "nothing recorded before the confirmation"
    );
    browser.tick("#confirm_duplicate").await;
    browser.click("form[action='/people'] button").await;
    assert!(browser.body().await.contains("Personne inscrite"));
    assert_eq!(enrolled().await, 2);
    browser.close().await;
    assert!(server.terminate().success());
}

#[tokio::test]
async fn a_mediator_corrects_a_persons_name_from_her_file() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, staff) = started(&db, &dir).await;
    let base = &server.base;
    let person = enroll(&server, &staff, None).await;
    let person = person.as_str().unwrap();
    browser.sign_in(base).await;
    browser.goto(&format!("{base}/people/{person}")).await;
    browser
        .click(&format!("main a[href='/people/{person}/corriger']"))
        .await;
    browser.audit("correction").await;

    // No reason: refused beside the reason, what was typed kept.
    browser.fill("#last_name", "Diallo-Sow").await;
    browser
        .click(&format!("form[action='/people/{person}/corriger'] button"))
        .await;
    browser.refused("reason", "").await;
    assert_eq!(browser.value("#last_name").await, "Diallo-Sow");
    browser.audit("correction, erreur").await;

    browser
        .fill("#reason", "Nom d'usage oublié à l'inscription")
        .await;
    browser
        .click(&format!("form[action='/people/{person}/corriger'] button"))
        .await;
    let file = browser.body().await;
    assert!(file.contains("Identité corrigée"), "{file}");
    assert!(file.contains("Awa Diallo-Sow"), "{file}");
    browser.audit("fiche, corrigée").await;
    browser.close().await;
    assert!(server.terminate().success());
}

#[tokio::test]
async fn a_mediator_corrects_an_employers_file() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, staff) = started(&db, &dir).await;
    let base = &server.base;
    let employer = register_employer(&server, &staff, &siret(7), "Boulangerie du Port").await;
    let employer = employer.as_str().unwrap();
    browser.sign_in(base).await;
    browser.goto(&format!("{base}/employers/{employer}")).await;
    browser
        .click(&format!("main a[href='/employers/{employer}/corriger']"))
        .await;
    browser.audit("correction d'un établissement").await;
    let submit = format!("form[action='/employers/{employer}/corriger'] button");
    // A postal code where the INSEE code goes: refused beside it, what was
    // typed kept.
    browser.fill("#name", "Boulangerie du Quai").await;
    browser.fill("#commune", "44000").await;
    browser.fill("#reason", "Enseigne changée").await;
    browser.click(&submit).await;
    browser.refused("commune", "code INSEE").await;
    assert_eq!(browser.value("#name").await, "Boulangerie du Quai");
    browser.audit("correction d'un établissement, erreur").await;
    browser.fill("#commune", "").await;
    browser.click(&submit).await;
    let file = browser.body().await;
    assert!(file.contains("Fiche corrigée"), "{file}");
    assert!(file.contains("Boulangerie du Quai"), "{file}");
    // The file lists its corrections: when, by whom, which fields in
    // French, and why.
    assert!(file.contains("Corrections de la fiche"), "{file}");
    assert!(file.contains(", Médiateur : Nom"), "{file}");
    assert!(file.contains("Motif : Enseigne changée"), "{file}");
    browser.audit("fiche d'un établissement corrigée").await;
    browser.close().await;
    assert!(server.terminate().success());
}

#[tokio::test]
async fn a_mediator_registers_an_employer_through_the_form() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, _staff) = started(&db, &dir).await;
    let base = &server.base;
    browser.sign_in(base).await;

    // From the home page: a SIRET whose check digit is wrong is refused
    // beside its field, and what was typed stays.
    browser.click("main a[href='/employers/nouvelle']").await;
    browser.audit("établissement").await;
    browser.fill("#name", "Boulangerie du Port").await;
    browser.fill("#siret", "73282932000075").await;
    browser.fill("#naf", "10.71C").await;
    browser.fill("#commune", "44109").await;
    browser.fill("#address", "12 quai de la Fosse").await;
    browser.click("form[action='/employers'] button").await;
    browser.refused("siret", "SIRET").await;
    for (field, typed) in [
        ("#name", "Boulangerie du Port"),
        ("#siret", "73282932000075"),
        ("#naf", "10.71C"),
        ("#commune", "44109"),
        ("#address", "12 quai de la Fosse"),
    ] {
        assert_eq!(browser.value(field).await, typed, "{field}");
    }
    browser.audit("établissement, erreur").await;
    browser.screenshot("etablissement-erreur").await;
    browser.fill("#siret", "73282932000074").await;
    browser.click("form[action='/employers'] button").await;
    let file = browser.body().await;
    assert!(file.contains("Établissement enregistré"), "{file}");
    assert!(file.contains("Boulangerie du Port"), "{file}");
    // The commune and the sector by their names.
    assert!(file.contains("Nantes"), "{file}");
    assert!(file.contains("alimentaires"), "{file}");
    let url = browser.client.current_url().await.unwrap();
    assert!(url.path().starts_with("/employers/"), "{url}");
    browser.audit("employeur, enregistré").await;
    browser.close().await;
    assert!(server.terminate().success());
}

#[tokio::test]
async fn the_employers_list_searches_and_pages() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, staff) = started(&db, &dir).await;
    // 22 bakeries and a workshop: more than a page.
    for n in 1..=22 {
        let id =
            register_employer(&server, &staff, &siret(n), &format!("Boulangerie {n:02}")).await;
        assert!(id.is_string(), "{n}");
    }
    register_employer(&server, &staff, &siret(23), "Atelier Central").await;
    let base = &server.base;
    browser.sign_in(base).await;
    browser.click("nav a[href='/employers']").await;
    browser.audit("établissements").await;
    browser.screenshot("etablissements").await;
    let rows = browser
        .client
        .find_all(Locator::Css(".tasks li"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 20);
    let first = browser.text(".tasks li").await;
    assert!(first.contains("Atelier Central"), "{first}");
    // Each row says where and in what sector.
    assert!(
        first.contains("Nantes – Industries alimentaires"),
        "{first}"
    );
    browser.click("a[rel='next']").await;
    let second = browser.body().await;
    assert!(second.contains("Boulangerie 22"), "{second}");
    assert!(!second.contains("Atelier Central"), "{second}");
    let rows = browser
        .client
        .find_all(Locator::Css(".tasks li"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 3);
    assert!(
        browser
            .client
            .find(Locator::Css("a[rel='next']"))
            .await
            .is_err(),
        "the last page has no next"
    );
    browser.audit("établissements, page 2").await;

    // The search, kept in its field, and its rows lead to the file.
    browser
        .click("nav[aria-label='Pages de la liste'] a:not([rel])")
        .await;
    browser.fill("#nom", "atelier").await;
    browser.click("form[role='search'] button").await;
    assert_eq!(browser.value("#nom").await, "atelier");
    let rows = browser
        .client
        .find_all(Locator::Css(".tasks li"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    browser.audit("établissements, recherche").await;

    // By SIRET, in a sector, in a commune; a postal code is refused
    // beside its field with the search kept.
    browser.fill("#nom", &siret(5)).await;
    browser.fill("#secteur", "10.71C").await;
    browser.fill("#commune", "44000").await;
    browser.click("form[role='search'] button").await;
    browser.refused("commune", "code postal").await;
    assert_eq!(browser.value("#nom").await, siret(5));
    assert_eq!(browser.value("#secteur").await, "10.71C");
    browser.audit("établissements, recherche refusée").await;
    browser.fill("#commune", "44109").await;
    browser.click("form[role='search'] button").await;
    let rows = browser
        .client
        .find_all(Locator::Css(".tasks li"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert!(browser.text(".tasks li").await.contains("Boulangerie 05"));
    // Another sector finds nobody.
    browser.fill("#secteur", "56").await;
    browser.click("form[role='search'] button").await;
    assert!(
        browser
            .body()
            .await
            .contains("Aucun établissement ne correspond")
    );
    browser.fill("#secteur", "").await;
    browser.fill("#commune", "").await;
    browser.fill("#nom", "atelier").await;
    browser.click("form[role='search'] button").await;
    browser.click(".tasks a").await;
    assert!(browser.body().await.contains("Atelier Central"));
    browser.close().await;
    assert!(server.terminate().success());
}

#[tokio::test]
async fn the_people_list_searches_by_name_and_job_and_pages() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, staff) = started(&db, &dir).await;
    let awa = enroll(&server, &staff, None).await;
    let stated = gql(
        &server,
        Some(&staff),
        "mutation($p: ID!) { projectState(input: { personId: $p,
            project: { targetRomeCodes: [\"D1102\"] } }) { person { id } } }",
        json!({ "p": awa }),
    )
    .await;
    assert!(stated["errors"].is_null(), "{stated}");
    // 21 Martins after her: more than a page.
    let firsts = [
        "Adam", "Alice", "Bruno", "Chloé", "David", "Emma", "Félix", "Gabriel", "Hugo", "Inès",
        "Jade", "Karim", "Léa", "Louis", "Manon", "Nathan", "Océane", "Paul", "Rose", "Sacha",
        "Zoé",
    ];
    for first in firsts {
        let done = gql(
            &server,
            Some(&staff),
            "mutation($f: String!) { personEnroll(input: { firstName: $f, lastName: \"Martin\",
                birthDate: \"1999-01-02\" }) { person { id } } }",
            json!({ "f": first }),
        )
        .await;
        assert!(done["errors"].is_null(), "{done}");
    }
    // One a colleague follows.
    create_user(&db, &dir, "Mission locale de Nantes", "hugo@ml-nantes.fr");
    let colleague = login(&server, "hugo@ml-nantes.fr").await;
    let done = gql(
        &server,
        Some(&colleague),
        "mutation { personEnroll(input: { firstName: \"Bob\", lastName: \"Leroy\",
            birthDate: \"1990-03-04\" }) { person { id } } }",
        json!({}),
    )
    .await;
    assert!(done["errors"].is_null(), "{done}");
    let base = &server.base;
    browser.sign_in(base).await;
    browser.click("nav a[href='/people']").await;
    browser.audit("personnes").await;
    browser.screenshot("personnes").await;
    let rows = browser
        .client
        .find_all(Locator::Css(".tasks li"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 20);
    let first = browser.text(".tasks li").await;
    assert!(first.contains("Awa Diallo"), "{first}");
    // Her project by its ROME name; who follows her.
    assert!(first.contains("D1102 — Boulanger / Boulangère"), "{first}");
    assert!(first.contains("Référent : vous"), "{first}");
    browser.click("a[rel='next']").await;
    let second = browser.body().await;
    assert!(second.contains("Zoé Martin"), "{second}");
    assert!(!second.contains("Awa Diallo"), "{second}");
    assert!(second.contains("Projet pas encore formulé"), "{second}");
    let rows = browser
        .client
        .find_all(Locator::Css(".tasks li"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 3);
    assert!(
        browser
            .client
            .find(Locator::Css("a[rel='next']"))
            .await
            .is_err(),
        "the last page has no next"
    );
    browser.audit("personnes, page 2").await;
    browser
        .click("nav[aria-label='Pages de la liste'] a:not([rel])")
        .await;
    assert!(browser.body().await.contains("Awa Diallo"));

    assert!(
        browser
            .body()
            .await
            .contains("Référent : un autre membre de l'équipe"),
        "Bob Leroy's"
    );

    // Only those Camille follows, the choice kept on the next page.
    browser
        .client
        .find(Locator::Css("#referent"))
        .await
        .unwrap()
        .select_by_label("Vous")
        .await
        .unwrap();
    browser.click("form[role='search'] button").await;
    assert!(!browser.body().await.contains("Bob Leroy"));
    // A search is posted: its next page too, the search carried along.
    browser.click("button.next").await;
    let rows = browser
        .client
        .find_all(Locator::Css(".tasks li"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    assert!(!browser.body().await.contains("Bob Leroy"));
    browser.audit("personnes, les miennes, page 2").await;
    browser
        .click("nav[aria-label='Pages de la liste'] a:not([rel])")
        .await;

    // By name, without its accent; by the job of a project. The name is in
    // no URL: not the page's, not a link's.
    browser.fill("#nom", "zoe").await;
    browser.click("form[role='search'] button").await;
    assert_eq!(browser.value("#nom").await, "zoe");
    let url = browser.client.current_url().await.unwrap();
    assert_eq!(url.path(), "/people/recherche", "{url}");
    assert_eq!(url.query(), None, "{url}");
    let hrefs = browser
        .client
        .execute(
            "return Array.from(document.querySelectorAll('[href], [action]'))
                .map(e => e.getAttribute('href') || e.getAttribute('action'));",
            vec![],
        )
        .await
        .unwrap();
    assert!(!hrefs.to_string().to_lowercase().contains("zoe"), "{hrefs}");
    let rows = browser
        .client
        .find_all(Locator::Css(".tasks li"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert!(browser.text(".tasks li").await.contains("Zoé Martin"));
    browser.audit("personnes, recherche").await;
    browser.fill("#nom", "").await;
    browser.fill("#metier", "D11").await;
    browser.click("form[role='search'] button").await;
    browser.refused("metier", "ROME").await;
    assert_eq!(browser.value("#metier").await, "D11");
    browser.fill("#metier", "d1102").await;
    browser.click("form[role='search'] button").await;
    let rows = browser
        .client
        .find_all(Locator::Css(".tasks li"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert!(browser.text(".tasks li").await.contains("Awa Diallo"));
    browser.click(".tasks a").await;
    assert!(browser.body().await.contains("Son parcours"));
    browser.close().await;
    assert!(server.terminate().success());
}

#[tokio::test]
async fn the_mailed_links_and_a_missing_page_pass_the_audit() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, staff) = started_with_links(&db, &dir).await;
    boulangerie_with_lucie(&server, &staff).await;
    let base = &server.base;

    // A magic link, before its button is pressed.
    gql(
        &server,
        None,
        "mutation($m: String!) { magicLinkRequest(input: { email: $m }) { sent } }",
        json!({ "m": "lucie@boulangerie-du-port.fr" }),
    )
    .await;
    let token = logged_link(&server, 0).await;
    browser.goto(&format!("{base}/acces/{token}")).await;
    assert!(
        browser
            .client
            .find(Locator::Css("form[action='/acces'] button"))
            .await
            .is_ok()
    );
    browser.audit("lien d'accès").await;
    browser.screenshot("lien-acces").await;

    // A mail's preferences link, as the mail projection keeps it (only its
    // hash), both ways.
    let preferences = "jeton-des-preferences-de-lucie";
    sqlx::query(
        "insert into public.preference_links (token_hash, address_hash, created_at)
         values (sha256(convert_to($1, 'UTF8')), sha256(convert_to($2, 'UTF8')), now())",
    )
    .bind(preferences)
    .bind("lucie@boulangerie-du-port.fr")
    .execute(&db.pool)
    .await
    .unwrap();
    browser
        .goto(&format!("{base}/preferences/{preferences}"))
        .await;
    assert!(
        browser
            .body()
            .await
            .contains("Ne plus recevoir ces messages")
    );
    browser.audit("préférences").await;
    browser.click("form[action^='/preferences/'] button").await;
    assert!(browser.body().await.contains("Vous ne recevez plus"));
    browser.audit("préférences, coupées").await;
    browser.screenshot("preferences").await;

    // An address that leads nowhere.
    browser.goto(&format!("{base}/nulle-part")).await;
    assert!(browser.body().await.contains("Page introuvable"));
    browser.audit("page introuvable").await;
    browser.screenshot("introuvable").await;
    browser.close().await;
    assert!(server.terminate().success());
}

#[tokio::test]
async fn the_convention_prints_with_every_mention_and_a_block_per_signatory() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, staff) = started_with_links(&db, &dir).await;
    let s = Some(staff.as_str());
    let employer =
        register_employer(&server, &staff, "73282932000074", "Boulangerie du Port").await;
    gql(
        &server,
        s,
        "mutation($e: ID!) { employerContactAdd(input: { employerId: $e, name: \"Lucie Bernard\",
            email: \"lucie@boulangerie-du-port.fr\" }) { employer { id } } }",
        json!({ "e": employer }),
    )
    .await;
    let person = enroll(&server, &staff, None).await;
    let immersion = propose(&server, &staff, &person, &employer).await;
    let today = paris_today();
    let mut terms = convention(&today.to_string(), 35.5);
    terms["host"]["tutor"]["phone"] = json!("06 99 88 77 66");
    let i = json!({ "i": immersion, "c": terms });
    for step in [
        "mutation($i: ID!) { immersionAccept(input: { immersionId: $i, by: PERSON }) { immersion { id } } }",
        "mutation($i: ID!) { immersionAccept(input: { immersionId: $i, by: EMPLOYER }) { immersion { id } } }",
        "mutation($i: ID!, $c: ConventionInput!) { conventionDraft(input: { immersionId: $i, convention: $c }) { immersion { id } } }",
        // The host signed on paper, recorded by the mediator.
        "mutation($i: ID!) { conventionSign(input: { immersionId: $i, signatory: HOST, onPaperOn: \"2026-01-05\" }) { immersion { id } } }",
    ] {
        let done = gql(&server, s, step, i.clone()).await;
        assert!(done["errors"].is_null(), "{step}: {done}");
    }
    let base = &server.base;
    let id = immersion.as_str().unwrap();

    // From the immersion's page, the mediator opens the printable convention.
    browser.sign_in(base).await;
    browser.goto(&format!("{base}/immersions/{id}")).await;
    browser.click("a[href$='/convention/imprimer']").await;
    let page = browser.body().await;
    let day = passerelle_domain::fr::date(today);
    for mention in [
        "Convention de période de mise en situation en milieu professionnel",
        "Mission locale de Nantes",
        "Awa",
        "Diallo",
        "12 mai 2001",
        "3 rue des Lilas, 44000 Nantes",
        "Demandeur ou demandeuse d'emploi",
        "Boulangerie du Port",
        "73282932000074",
        "IDCC 843",
        "Jean Martin",
        "Lucie Bernard, Cheffe boulangère",
        "06 99 88 77 66",
        &format!("le {day} (1 jour)"),
        "35,5 heures par semaine",
        "De 6 h à 13 h",
        "12 quai de la Fosse",
        "Découvrir un métier ou un secteur d'activité",
        "Découvrir le façonnage du pain",
        "Peser, pétrir, façonner",
        "Grille remplie avec la tutrice",
        "Une immersion n'est pas un emploi",
        "Aucun objectif de production",
        "remplacer un salarié absent",
        "pic saisonnier",
        "dans les 24 heures",
        "dans les 48 heures",
        "Signée sur papier le 5 janvier 2026",
    ] {
        assert!(page.contains(mention), "{mention:?} missing:\n{page}");
    }
    assert!(!page.contains("DISCOVER_JOB_OR_SECTOR"), "{page}");
    // One block per signatory: the person, the host, the prescriber; the
    // two still to sign with a line for the signature and the date.
    let blocks = browser
        .client
        .find_all(Locator::Css(".signature h3"))
        .await
        .unwrap();
    let mut roles = Vec::new();
    for block in blocks {
        roles.push(block.text().await.unwrap());
    }
    assert_eq!(
        roles,
        ["Personne", "Structure d'accueil", "Prescripteur"],
        "{page}"
    );
    let lines = browser
        .client
        .find_all(Locator::Css(".signature .line"))
        .await
        .unwrap();
    assert_eq!(lines.len(), 4, "{page}");
    browser.audit("convention à imprimer").await;
    browser.screenshot("convention-imprimable").await;
    browser.click("form[action='/deconnexion'] button").await;

    // The host reads it too, from its mailed link.
    gql(
        &server,
        None,
        "mutation($m: String!) { magicLinkRequest(input: { email: $m }) { sent } }",
        json!({ "m": "lucie@boulangerie-du-port.fr" }),
    )
    .await;
    let token = logged_link(&server, 0).await;
    browser.goto(&format!("{base}/acces/{token}")).await;
    browser.click("form[action='/acces'] button").await;
    browser
        .goto(&format!("{base}/immersions/{id}/convention/imprimer"))
        .await;
    let host = browser.body().await;
    assert!(
        host.contains("Signée sur papier le 5 janvier 2026"),
        "{host}"
    );
    assert!(host.contains("Lucie Bernard, Cheffe boulangère"), "{host}");
    browser.click("form[action='/deconnexion'] button").await;

    // A mediator of another structure does not read it.
    create_user(&db, &dir, "Mission locale d'Angers", "leo@ml-angers.fr");
    browser.goto(&format!("{base}/")).await;
    browser.fill("#email", "leo@ml-angers.fr").await;
    browser.fill("#password", PASSWORD).await;
    browser.click("form[action='/connexion'] button").await;
    browser
        .goto(&format!("{base}/immersions/{id}/convention/imprimer"))
        .await;
    let refused = browser.body().await;
    assert!(refused.contains("Introuvable"), "{refused}");
    assert!(!refused.contains("Diallo"), "{refused}");
    browser.audit("convention d'une autre structure").await;
    browser.goto(&format!("{base}/")).await;
    browser.click("form[action='/deconnexion'] button").await;

    // Renewed, the renewal's terms print with blocks of their own.
    let tomorrow = today.next_day().unwrap();
    let i = json!({ "i": immersion, "t": tomorrow.to_string() });
    for step in [
        "mutation($i: ID!) { conventionSign(input: { immersionId: $i, signatory: PERSON, onPaperOn: \"2026-01-06\" }) { immersion { id } } }",
        "mutation($i: ID!) { conventionSign(input: { immersionId: $i, signatory: PRESCRIBER }) { immersion { id } } }",
        "mutation($i: ID!) { conventionValidate(input: { immersionId: $i }) { immersion { id } } }",
        "mutation($i: ID!) { immersionStart(input: { immersionId: $i }) { immersion { id } } }",
        "mutation($i: ID!, $t: Date!) { conventionRenew(input: { immersionId: $i,
            period: { start: $t, end: $t }, schedule: \"De 7 h à 12 h\", weeklyHours: 30,
            objective: DISCOVER_JOB_OR_SECTOR, goals: \"Découvrir le façonnage du pain\",
            whyGoalsNotReached: \"Une journée n'a pas suffi\" }) { immersion { id } } }",
    ] {
        let done = gql(&server, s, step, i.clone()).await;
        assert!(done["errors"].is_null(), "{step}: {done}");
    }
    browser.sign_in(base).await;
    browser
        .goto(&format!("{base}/immersions/{id}/convention/imprimer"))
        .await;
    let renewed = browser.body().await;
    let next = passerelle_domain::fr::date(tomorrow);
    for mention in [
        "Renouvellement",
        &format!("le {next} (1 jour)"),
        "30 heures par semaine",
        "Une journée n'a pas suffi",
        "Signée sur papier le 6 janvier 2026",
    ] {
        assert!(renewed.contains(mention), "{mention:?} missing:\n{renewed}");
    }
    let blocks = browser
        .client
        .find_all(Locator::Css(".signature"))
        .await
        .unwrap();
    assert_eq!(blocks.len(), 6, "{renewed}");
    browser.audit("convention renouvelée").await;
    browser.close().await;
    assert!(server.terminate().success());
}

/// A page or file of the web as a staff member by their session (its cookie):
/// status, headers and body.
async fn web_get(
    server: &Server,
    token: &str,
    path: &str,
) -> (u16, reqwest::header::HeaderMap, String) {
    let response = reqwest::Client::new()
        .get(format!("{}{path}", server.base))
        .header(
            "cookie",
            format!("{}={token}", passerelle_graphql::SESSION_COOKIE),
        )
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.text().await.unwrap())
}

#[tokio::test]
async fn the_persons_file_shows_their_words_inquiries_and_consents_and_their_data_prints() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, staff) = started(&db, &dir).await;
    let awa = enroll(&server, &staff, Some("awa.diallo@example.fr")).await;
    let employer =
        register_employer(&server, &staff, "73282932000074", "Boulangerie du Port").await;
    let immersion = propose(&server, &staff, &awa, &employer).await;
    assert!(immersion.is_string(), "{immersion}");
    for (what, query) in [
        (
            "situation",
            "mutation($p: ID!) { situationState(input: { personId: $p,
                words: \"Je cherche un métier où l'on travaille tôt le matin.\" }) { person { id } } }",
        ),
        (
            "inquiry",
            "mutation($p: ID!) { jobInquiryLog(input: { personId: $p, romeCode: \"D1102\",
                withWhom: \"Boulangerie du Port\", learned: \"Le levain se prépare la veille.\" }) { inquiryId } }",
        ),
        (
            "consent",
            "mutation($p: ID!) { consentGive(input: { personId: $p, purpose: TESTIMONY,
                textVersion: \"v1\", signedForm: true }) { person { id } } }",
        ),
    ] {
        let done = gql(&server, Some(&staff), query, json!({ "p": awa })).await;
        assert!(done["errors"].is_null(), "{what}: {done}");
    }
    let id = awa.as_str().unwrap();
    let base = &server.base;
    browser.sign_in(base).await;
    let file = browser
        .until(&format!("{base}/people/{id}"), "Enquêtes métier")
        .await;
    assert!(file.contains("Sa situation, dans ses mots"), "{file}");
    assert!(file.contains("travaille tôt le matin"), "{file}");
    assert!(file.contains("D1102 — Boulanger / Boulangère"), "{file}");
    assert!(file.contains("Avec : Boulangerie du Port"), "{file}");
    assert!(file.contains("Le levain se prépare la veille."), "{file}");
    assert!(
        file.contains("Partager son parcours (témoignage) : donné"),
        "{file}"
    );
    assert!(file.contains("Texte en version 1"), "{file}");
    assert!(file.contains("Sur un formulaire signé"), "{file}");
    assert!(file.contains("Rencontres avec des pairs"), "{file}");
    assert!(file.contains("Parrainages"), "{file}");
    assert!(file.contains("Son parcours"), "{file}");
    // No disability recognition recorded: her referent is offered to.
    assert!(
        file.contains("Enregistrer sa reconnaissance (RQTH), avec son accord"),
        "{file}"
    );
    assert!(!file.contains("RQTH) en cours de validité"), "{file}");
    browser.audit("fiche de la personne").await;
    browser.screenshot("fiche-personne-sections").await;

    browser
        .click(&format!("a[href='/people/{id}/donnees']"))
        .await;
    // The mails follow the facts within moments.
    let page = browser
        .until(
            &format!("{base}/people/{id}/donnees"),
            "Proposition d'immersion (personne)",
        )
        .await;
    assert!(page.contains("Destinataire : la personne"), "{page}");
    assert!(page.contains("Données de Awa Diallo"), "{page}");
    assert!(page.contains("mission d'intérêt public"), "{page}");
    assert!(page.contains("Votre parcours, fait par fait"), "{page}");
    assert!(page.contains("Début de l'accompagnement"), "{page}");
    assert!(page.contains("un médiateur"), "{page}");
    assert!(page.contains("Courriels envoyés"), "{page}");
    assert!(page.contains("Télécharger (JSON)"), "{page}");
    browser.audit("données de la personne").await;
    browser.screenshot("donnees-personne").await;

    // The document, as a file that does not name her.
    let (status, headers, body) =
        web_get(&server, &staff, &format!("/people/{id}/donnees.json")).await;
    assert_eq!(status, 200, "{body}");
    let kind = headers["content-type"].to_str().unwrap();
    assert!(kind.starts_with("application/json"), "{kind}: {body}");
    let disposition = headers["content-disposition"].to_str().unwrap();
    assert!(disposition.starts_with("attachment"), "{disposition}");
    assert!(!disposition.contains("Diallo"), "{disposition}");
    let document: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(document["format"], "passerelle/export-personne/1");
    assert!(
        !document["facts"].as_array().unwrap().is_empty(),
        "{document}"
    );

    // A mediator of another structure: as if she did not exist.
    create_user(&db, &dir, "Mission locale de Rennes", "yann@ml-rennes.fr");
    let other = login(&server, "yann@ml-rennes.fr").await;
    let (status, _, body) = web_get(&server, &other, &format!("/people/{id}/donnees")).await;
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("Introuvable"), "{body}");
    let (status, _, _) = web_get(&server, &other, &format!("/people/{id}/donnees.json")).await;
    assert_eq!(status, 404);
    browser.close().await;
    assert!(server.terminate().success());
}

#[tokio::test]
async fn the_person_reads_her_own_data_from_her_space_with_who_read_her_health_data() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, staff) = started_with_links(&db, &dir).await;
    let awa = enroll(&server, &staff, Some("awa@exemple.fr")).await;
    for query in [
        "mutation($p: ID!) { consentGive(input: { personId: $p, purpose: DISABILITY_RECOGNITION,
            textVersion: \"v1\", signedForm: true }) { person { id } } }",
        "mutation($p: ID!) { disabilityRecognitionRecord(input: { personId: $p,
            recognised: true }) { person { id } } }",
    ] {
        let done = gql(&server, Some(&staff), query, json!({ "p": awa })).await;
        assert!(done["errors"].is_null(), "{done}");
    }
    let id = awa.as_str().unwrap();
    let base = &server.base;

    // Her referent sees the recognition on her file.
    browser.sign_in(base).await;
    let file = browser
        .until(&format!("{base}/people/{id}"), "Reconnaissance du handicap")
        .await;
    assert!(
        file.contains("Reconnaissance (RQTH) en cours de validité"),
        "{file}"
    );
    assert!(
        file.contains("Enregistrer la RQTH (donnée de santé) : donné"),
        "{file}"
    );
    browser.audit("fiche de la personne, RQTH").await;
    browser.click("form[action='/deconnexion'] button").await;

    // She signs in by her mailed link and opens « Mes données ».
    gql(
        &server,
        None,
        "mutation($m: String!) { magicLinkRequest(input: { email: $m }) { sent } }",
        json!({ "m": "awa@exemple.fr" }),
    )
    .await;
    let token = logged_link(&server, 0).await;
    browser.goto(&format!("{base}/acces/{token}")).await;
    browser.click("form[action='/acces'] button").await;
    assert!(browser.body().await.contains("Mes données"));
    browser.audit("espace de la personne").await;
    browser
        .click(&format!("a[href='/people/{id}/donnees']"))
        .await;
    let page = browser.body().await;
    assert!(page.contains("Données de Awa Diallo"), "{page}");
    assert!(page.contains("Début de l'accompagnement"), "{page}");
    assert!(
        page.contains("Qui a consulté vos données de santé"),
        "{page}"
    );
    assert!(page.contains("en consultant votre fiche"), "{page}");
    assert!(
        page.contains("la personne, par un export de vos données"),
        "{page}"
    );
    browser.audit("mes données").await;
    browser.screenshot("mes-donnees").await;
    browser.close().await;
    assert!(server.terminate().success());
}

#[tokio::test]
async fn the_persons_file_shows_the_needs_that_fit_and_the_peers_who_walked_the_path() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, staff) = started(&db, &dir).await;
    let ok = |query: &'static str, variables: Value| {
        let (server, staff) = (&server, &staff);
        async move {
            let answer = gql(server, Some(staff), query, variables).await;
            assert!(answer["errors"].is_null(), "{query}: {answer}");
            answer["data"].clone()
        }
    };
    let employer = ok(
        "mutation($s: String!) { employerRegister(input: { siret: $s,
            name: \"Boulangerie du Port\", naf: \"10\", commune: \"44109\" }) { employer { id } } }",
        json!({ "s": siret(21) }),
    )
    .await["employerRegister"]["employer"]["id"]
        .clone();
    let need = ok(
        "mutation($e: ID!) { needSurface(input: { employerId: $e, source: { kind: PHONE },
            description: { activities: \"Fournée du matin\", romeCodes: [\"D1102\"],
            horizon: NOW, hiringIntent: POSSIBLE } }) { need { id } } }",
        json!({ "e": employer }),
    )
    .await["needSurface"]["need"]["id"]
        .clone();
    // Awa in Nantes aims at the bakery; Inès, of the same structure, walked
    // a path of the same domain, consents to share it and testified.
    let mut people = Vec::new();
    for (first, code) in [("Awa", "D1102"), ("Inès", "D1101")] {
        let person = ok(
            "mutation($f: String!) { personEnroll(input: { firstName: $f, lastName: \"Lefèvre\",
                birthDate: \"1990-03-04\", commune: \"44109\" }) { person { id } } }",
            json!({ "f": first }),
        )
        .await["personEnroll"]["person"]["id"]
            .clone();
        ok(
            "mutation($p: ID!, $r: String!) { projectState(input: { personId: $p,
                project: { targetRomeCodes: [$r] } }) { person { id } } }",
            json!({ "p": person, "r": code }),
        )
        .await;
        people.push(person);
    }
    let (awa, ines) = (&people[0], &people[1]);
    for purpose in ["TESTIMONY", "PEER_CONTACT"] {
        ok(
            "mutation($p: ID!, $c: ConsentPurpose!) { consentGive(input: { personId: $p,
                purpose: $c, textVersion: \"v1\", signedForm: true }) { person { id } } }",
            json!({ "p": ines, "c": purpose }),
        )
        .await;
    }
    ok(
        "mutation($p: ID!) { testimonyRecord(input: { personId: $p,
            account: \"De la caisse à la boulangerie\", romeCodes: [\"D1101\"],
            audience: OWN_STRUCTURE_MEDIATORS }) { testimonyId } }",
        json!({ "p": ines }),
    )
    .await;
    ok(
        "mutation($p: ID!) { personExit(input: { personId: $p, reason: TRAINING }) {
            person { id } } }",
        json!({ "p": ines }),
    )
    .await;

    let id = awa.as_str().unwrap();
    let base = &server.base;
    browser.sign_in(base).await;
    let file = browser
        .until(
            &format!("{base}/people/{id}"),
            "Besoins ouverts qui correspondent",
        )
        .await;
    assert!(file.contains("Fournée du matin"), "{file}");
    assert!(file.contains("D1102 — Boulanger / Boulangère"), "{file}");
    assert!(file.contains("Chez Boulangerie du Port"), "{file}");
    assert!(file.contains("À Nantes (44109)"), "{file}");
    assert!(
        file.contains("Pourquoi : le même métier, dans sa commune"),
        "{file}"
    );
    assert!(file.contains("Employeurs qui correspondent"), "{file}");
    assert!(
        file.contains("Pourquoi : un besoin ouvert pour le même métier, dans sa commune"),
        "{file}"
    );
    assert!(
        file.contains("Des personnes qui ont fait ce chemin"),
        "{file}"
    );
    assert!(file.contains("Inès"), "{file}");
    assert!(file.contains("Visait un métier du même domaine"), "{file}");
    assert!(file.contains("De la caisse à la boulangerie"), "{file}");
    // No mentor yet: no such section.
    assert!(!file.contains("Parrains ou marraines possibles"), "{file}");
    browser
        .audit("fiche de la personne, ce qui correspond")
        .await;
    browser.screenshot("fiche-personne-correspondances").await;
    // The need's link leads to its file.
    let need = need.as_str().unwrap();
    browser.click(&format!("a[href='/needs/{need}']")).await;
    let page = browser
        .until(&format!("{base}/needs/{need}"), "Fournée du matin")
        .await;
    assert!(page.contains("Boulangerie du Port"), "{page}");
    browser.close().await;
    assert!(server.terminate().success());
}

#[tokio::test]
async fn a_persons_file_links_to_the_whole_list_of_needs_that_fit_when_it_shows_only_some() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, staff) = started(&db, &dir).await;
    let ok = |query: &'static str, variables: Value| {
        let (server, staff) = (&server, &staff);
        async move {
            let answer = gql(server, Some(staff), query, variables).await;
            assert!(answer["errors"].is_null(), "{query}: {answer}");
            answer["data"].clone()
        }
    };
    let employer = ok(
        "mutation($s: String!) { employerRegister(input: { siret: $s,
            name: \"Boulangerie du Port\", naf: \"10\", commune: \"44109\" }) { employer { id } } }",
        json!({ "s": siret(22) }),
    )
    .await["employerRegister"]["employer"]["id"]
        .clone();
    // Six open needs fit Awa's project: the file shows five.
    for n in 1..=6 {
        ok(
            "mutation($e: ID!, $a: String!) { needSurface(input: { employerId: $e,
                source: { kind: PHONE }, description: { activities: $a, romeCodes: [\"D1102\"],
                horizon: NOW, hiringIntent: POSSIBLE } }) { need { id } } }",
            json!({ "e": employer, "a": format!("Fournée numéro {n}") }),
        )
        .await;
    }
    let awa = ok(
        "mutation { personEnroll(input: { firstName: \"Awa\", lastName: \"Diallo\",
            birthDate: \"1990-03-04\", commune: \"44109\" }) { person { id } } }",
        json!({}),
    )
    .await["personEnroll"]["person"]["id"]
        .clone();
    ok(
        "mutation($p: ID!) { projectState(input: { personId: $p,
            project: { targetRomeCodes: [\"D1102\"] } }) { person { id } } }",
        json!({ "p": awa }),
    )
    .await;

    let id = awa.as_str().unwrap();
    let base = &server.base;
    browser.sign_in(base).await;
    let file = browser
        .until(
            &format!("{base}/people/{id}"),
            "Besoins ouverts qui correspondent",
        )
        .await;
    assert_eq!(file.matches("Fournée numéro").count(), 5, "{file}");
    assert!(
        file.contains("Voir toute la liste : besoins ouverts qui correspondent"),
        "{file}"
    );
    // Employers: one, no link to more.
    assert!(
        !file.contains("Voir toute la liste : employeurs qui correspondent"),
        "{file}"
    );
    browser
        .click(&format!("a[href='/people/{id}/pistes/besoins']"))
        .await;
    let list = browser
        .until(
            &format!("{base}/people/{id}/pistes/besoins"),
            "Pour Awa Diallo",
        )
        .await;
    for n in 1..=6 {
        assert!(list.contains(&format!("Fournée numéro {n}")), "{list}");
    }
    assert!(list.contains("Chez Boulangerie du Port"), "{list}");
    assert!(list.contains("Proposer une immersion"), "{list}");
    assert!(!list.contains("Suivants"), "{list}");
    browser
        .audit("fiche de la personne, tous les besoins qui correspondent")
        .await;
    // A cursor no longer valid: the list from its start, said so.
    browser
        .goto(&format!("{base}/people/{id}/pistes/besoins?apres=perime"))
        .await;
    let stale = browser.body().await;
    assert!(
        stale.contains("Ce lien de page n'est plus valable"),
        "{stale}"
    );
    assert_eq!(stale.matches("Fournée numéro").count(), 6, "{stale}");
    // No such list.
    browser
        .goto(&format!("{base}/people/{id}/pistes/autres"))
        .await;
    assert!(browser.body().await.contains("Cette liste n'existe pas."));
    browser.close().await;
    assert!(server.terminate().success());
}

#[tokio::test]
async fn each_list_of_leads_has_its_page_and_the_needs_go_on_to_a_next_page() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, staff) = started(&db, &dir).await;
    let ok = |query: &'static str, variables: Value| {
        let (server, staff) = (&server, &staff);
        async move {
            let answer = gql(server, Some(staff), query, variables).await;
            assert!(answer["errors"].is_null(), "{query}: {answer}");
            answer["data"].clone()
        }
    };
    let employer = ok(
        "mutation($s: String!) { employerRegister(input: { siret: $s,
            name: \"Boulangerie du Port\", naf: \"10\", commune: \"44109\" }) { employer { id } } }",
        json!({ "s": siret(23) }),
    )
    .await["employerRegister"]["employer"]["id"]
        .clone();
    // 21 open needs fit Awa's project: a page of 20, then the 21st.
    for n in 1..=21 {
        ok(
            "mutation($e: ID!, $a: String!) { needSurface(input: { employerId: $e,
                source: { kind: PHONE }, description: { activities: $a, romeCodes: [\"D1102\"],
                horizon: NOW, hiringIntent: POSSIBLE } }) { need { id } } }",
            json!({ "e": employer, "a": format!("Fournée numéro {n:02}") }),
        )
        .await;
    }
    // Awa aims at the bakery; Inès, of the same structure, walked a path of
    // the same domain, testified and was mentored, and consents to share
    // all three.
    let mut people = Vec::new();
    for (first, code) in [("Awa", "D1102"), ("Inès", "D1101")] {
        let person = ok(
            "mutation($f: String!) { personEnroll(input: { firstName: $f, lastName: \"Lefèvre\",
                birthDate: \"1990-03-04\", commune: \"44109\" }) { person { id } } }",
            json!({ "f": first }),
        )
        .await["personEnroll"]["person"]["id"]
            .clone();
        ok(
            "mutation($p: ID!, $r: String!) { projectState(input: { personId: $p,
                project: { targetRomeCodes: [$r] } }) { person { id } } }",
            json!({ "p": person, "r": code }),
        )
        .await;
        people.push(person);
    }
    let (awa, ines) = (&people[0], &people[1]);
    for purpose in ["TESTIMONY", "PEER_CONTACT", "MENTORING"] {
        ok(
            "mutation($p: ID!, $c: ConsentPurpose!) { consentGive(input: { personId: $p,
                purpose: $c, textVersion: \"v1\", signedForm: true }) { person { id } } }",
            json!({ "p": ines, "c": purpose }),
        )
        .await;
    }
    ok(
        "mutation($p: ID!) { testimonyRecord(input: { personId: $p,
            account: \"De la caisse à la boulangerie\", romeCodes: [\"D1101\"],
            audience: OWN_STRUCTURE_MEDIATORS }) { testimonyId } }",
        json!({ "p": ines }),
    )
    .await;
    ok(
        "mutation($p: ID!) { mentorshipStart(input: { personId: $p,
            mentor: \"Un boulanger retraité\", mentorJob: \"D1102\" }) { mentorshipId } }",
        json!({ "p": ines }),
    )
    .await;
    ok(
        "mutation($p: ID!) { personExit(input: { personId: $p, reason: TRAINING }) {
            person { id } } }",
        json!({ "p": ines }),
    )
    .await;
    // The needs in the API's order: the page's must be the same.
    let order = ok(
        "query($p: ID!) { person(id: $p) { matchingNeeds(first: 21) {
            edges { node { activities } } } } }",
        json!({ "p": awa }),
    )
    .await;
    let needs: Vec<String> = order["person"]["matchingNeeds"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["activities"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(needs.len(), 21, "{order}");

    let id = awa.as_str().unwrap();
    let base = &server.base;
    browser.sign_in(base).await;
    let list = |slug: &str| format!("{base}/people/{id}/pistes/{slug}");
    // The needs: 20, then « Suivants » to the 21st alone.
    let first = browser
        .until(&list("besoins"), "Besoins ouverts qui correspondent")
        .await;
    assert_eq!(first.matches("Fournée numéro").count(), 20, "{first}");
    for need in &needs[..20] {
        assert!(first.contains(need.as_str()), "{need}: {first}");
    }
    assert!(!first.contains(needs[20].as_str()), "{first}");
    assert!(!first.contains("Début de la liste"), "{first}");
    browser.audit("pistes, besoins, première page").await;
    browser
        .click("nav[aria-label='Pages de la liste'] a[rel='next']")
        .await;
    let url = browser.client.current_url().await.unwrap();
    assert_eq!(url.path(), format!("/people/{id}/pistes/besoins"), "{url}");
    assert!(
        url.query().unwrap_or_default().starts_with("apres="),
        "{url}"
    );
    let second = browser.body().await;
    assert_eq!(second.matches("Fournée numéro").count(), 1, "{second}");
    assert!(second.contains(needs[20].as_str()), "{second}");
    for need in &needs[..20] {
        assert!(!second.contains(need.as_str()), "{need}: {second}");
    }
    assert!(!second.contains("Suivants"), "{second}");
    browser.audit("pistes, besoins, page suivante").await;
    // Back to its start.
    browser.click("nav[aria-label='Pages de la liste'] a").await;
    let again = browser.body().await;
    assert_eq!(again.matches("Fournée numéro").count(), 20, "{again}");
    assert!(again.contains(needs[0].as_str()), "{again}");
    // The employers that fit.
    let employers = browser
        .until(&list("employeurs"), "Boulangerie du Port")
        .await;
    assert!(
        employers.contains("Employeurs qui correspondent"),
        "{employers}"
    );
    assert!(!employers.contains("Suivants"), "{employers}");
    browser.audit("pistes, employeurs").await;
    // The people who walked the path, with their testimony.
    let peers = browser
        .until(&list("chemin"), "De la caisse à la boulangerie")
        .await;
    assert!(
        peers.contains("Des personnes qui ont fait ce chemin"),
        "{peers}"
    );
    assert!(peers.contains("Inès"), "{peers}");
    browser.audit("pistes, chemin").await;
    // The possible mentors.
    let mentors = browser
        .until(&list("parrains"), "Un boulanger retraité")
        .await;
    assert!(
        mentors.contains("Parrains ou marraines possibles"),
        "{mentors}"
    );
    browser.audit("pistes, parrains").await;
    browser.close().await;
    assert!(server.terminate().success());
}

#[tokio::test]
async fn a_mediator_reports_an_accident_records_its_declaration_and_interrupts_the_immersion() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, staff) = started(&db, &dir).await;
    let s = Some(staff.as_str());
    let employer =
        register_employer(&server, &staff, "73282932000074", "Boulangerie du Port").await;
    let person = enroll(&server, &staff, Some("awa@exemple.fr")).await;
    let immersion = propose(&server, &staff, &person, &employer).await;
    let today = paris_today().to_string();
    let i = json!({ "i": immersion, "c": convention(&today, 35.0), "d": today });
    for step in [
        "mutation($i: ID!) { immersionAccept(input: { immersionId: $i, by: PERSON }) { immersion { id } } }",
        "mutation($i: ID!) { immersionAccept(input: { immersionId: $i, by: EMPLOYER }) { immersion { id } } }",
        "mutation($i: ID!, $c: ConventionInput!) { conventionDraft(input: { immersionId: $i, convention: $c }) { immersion { id } } }",
        "mutation($i: ID!, $d: Date) { conventionSign(input: { immersionId: $i, signatory: PERSON, onPaperOn: $d }) { immersion { id } } }",
        "mutation($i: ID!, $d: Date) { conventionSign(input: { immersionId: $i, signatory: HOST, onPaperOn: $d }) { immersion { id } } }",
        "mutation($i: ID!) { conventionSign(input: { immersionId: $i, signatory: PRESCRIBER }) { immersion { id } } }",
        "mutation($i: ID!) { conventionValidate(input: { immersionId: $i }) { immersion { id } } }",
        "mutation($i: ID!) { immersionStart(input: { immersionId: $i }) { immersion { id } } }",
    ] {
        let done = gql(&server, s, step, i.clone()).await;
        assert!(done["errors"].is_null(), "{step}: {done}");
    }
    let base = &server.base;
    browser.sign_in(base).await;
    browser
        .goto(&format!(
            "{base}/immersions/{}",
            immersion.as_str().unwrap()
        ))
        .await;
    assert!(browser.body().await.contains("En cours"));
    browser.audit("immersion en cours").await;

    // An accident this morning, the structure told at once; its
    // declaration to the CPAM is then due within 48 hours.
    let minute =
        |t: time::OffsetDateTime| format!("{}T{:02}:{:02}", t.date(), t.hour(), t.minute());
    // Not before the period, which starts today; in Paris time, as the
    // form's fields are read.
    let at = earlier_today(time::Duration::minutes(2));
    let at = minute(at.to_offset(passerelle_app::paris_offset(at)));
    browser.set_date("accident_at", &at).await;
    browser.set_date("accident_informed", &at).await;
    browser
        .fill("#accident_description", "Coupure à la main au façonnage")
        .await;
    browser.click("form[action$='/accident'] button").await;
    let page = browser.body().await;
    assert!(page.contains("Coupure à la main au façonnage"), "{page}");
    assert!(page.contains("à déposer avant le"), "{page}");
    browser
        .set_date(
            &browser
                .client
                .find(Locator::Css("input[name='filed_at']"))
                .await
                .unwrap()
                .attr("id")
                .await
                .unwrap()
                .unwrap(),
            &at,
        )
        .await;
    browser.click("form[action$='/declaration'] button").await;
    let page = browser.body().await;
    assert!(page.contains("déposée le"), "{page}");
    assert!(!page.contains("à déposer avant le"), "{page}");

    // An interruption without its reason is refused beside the field, and
    // nothing is recorded; with it, read back in French.
    browser.click("form[action$='/interruption'] button").await;
    browser.refused("interrupt_reason", "obligatoire").await;
    browser.audit("interruption refusée").await;
    assert!(browser.body().await.contains("En cours"));
    browser
        .client
        .find(Locator::Css("#interrupt_by"))
        .await
        .unwrap()
        .select_by_value("EMPLOYER")
        .await
        .unwrap();
    browser
        .fill("#interrupt_reason", "Le fournil ferme pour travaux")
        .await;
    browser.click("form[action$='/interruption'] button").await;
    let page = browser.body().await;
    assert!(page.contains("Interrompue"), "{page}");
    assert!(
        page.contains("à l'initiative de : l'employeur. Motif : Le fournil ferme pour travaux"),
        "{page}"
    );
    assert!(page.contains("Coupure à la main au façonnage"), "{page}");
    browser.audit("immersion interrompue").await;
    browser.screenshot("immersion-interrompue").await;
    browser.close().await;
    assert!(server.terminate().success());
}

#[tokio::test]
async fn a_manager_erases_a_persons_data_from_her_file_after_confirming() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, staff) = started(&db, &dir).await;
    let awa = enroll(&server, &staff, Some("awa.diallo@example.fr")).await;
    let id = awa.as_str().unwrap();
    let base = &server.base;
    create_staff(
        &db,
        &dir,
        "Mission locale de Nantes",
        "manager",
        "dominique@ml-nantes.fr",
    );

    // Her referent, a mediator: no link, and the page refuses.
    browser.sign_in(base).await;
    let file = browser
        .until(&format!("{base}/people/{id}"), "Awa Diallo")
        .await;
    assert!(!file.contains("Effacer ses données"), "{file}");
    let (status, _, body) = web_get(&server, &staff, &format!("/people/{id}/effacer")).await;
    assert_eq!(status, 403, "{body}");
    assert!(!body.contains("Diallo"), "{body}");
    browser.click("form[action='/deconnexion'] button").await;

    // A manager of her structure: the link, the page, refusals beside
    // their fields and what was typed kept.
    browser.sign_in_as(base, "dominique@ml-nantes.fr").await;
    browser.goto(&format!("{base}/people/{id}")).await;
    browser
        .click(&format!("a[href='/people/{id}/effacer']"))
        .await;
    let page = browser.body().await;
    assert!(page.contains("Effacer les données de Awa Diallo"), "{page}");
    assert!(page.contains("ne peut pas être annulé"), "{page}");
    assert!(page.contains("Fin de la durée de conservation"), "{page}");
    assert!(page.contains("Autre motif"), "{page}");
    browser.audit("effacement").await;
    browser.tick("input[name='motif'][value='OTHER']").await;
    browser.fill("#saisie", "effacer").await;
    browser.click("form[action$='/effacer'] button").await;
    browser.refused("confirme", "définitif").await;
    browser.refused("saisie", "EFFACER").await;
    assert!(
        browser
            .client
            .find(Locator::Css("input[name='motif'][value='OTHER']:checked"))
            .await
            .is_ok()
    );
    // Another reason needs its explanation, said by the API beside it.
    browser.tick("#confirme").await;
    browser.fill("#saisie", "EFFACER").await;
    browser.click("form[action$='/effacer'] button").await;
    browser.refused("explication", "motif").await;
    browser.audit("effacement, erreurs").await;
    browser.screenshot("effacement-erreurs").await;
    let erased = || {
        let pool = db.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>("select count(*) from erased_subjects")
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    assert_eq!(erased().await, 0, "nothing erased yet");

    browser
        .tick("input[name='motif'][value='PERSON_REQUEST']")
        .await;
    // The box stays ticked from the form sent before.
    browser.fill("#saisie", "EFFACER").await;
    browser.click("form[action$='/effacer'] button").await;
    let after = browser.body().await;
    assert!(after.contains("Ses données sont effacées"), "{after}");
    assert!(!after.contains("Awa"), "{after}");
    assert!(!after.contains("Diallo"), "{after}");
    assert!(after.contains("(effacé)"), "{after}");
    assert!(!after.contains("Effacer ses données"), "{after}");
    assert_eq!(erased().await, 1);
    browser.audit("fiche effacée").await;
    // Not twice.
    let (status, _, _) = web_get(
        &server,
        &login(&server, "dominique@ml-nantes.fr").await,
        &format!("/people/{id}/effacer"),
    )
    .await;
    assert_eq!(status, 403);
    browser.close().await;
    assert!(server.terminate().success());
}

#[tokio::test]
async fn a_manager_hands_a_persons_follow_up_to_a_colleague_and_records_her_exit() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, staff) = started(&db, &dir).await;
    let awa = enroll(&server, &staff, Some("awa.diallo@example.fr")).await;
    let id = awa.as_str().unwrap();
    let base = &server.base;
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
        "Mission locale de Nantes",
        "mediator",
        "ines@ml-nantes.fr",
    );
    sqlx::query("update users set name = 'Inès Martin' where email = 'ines@ml-nantes.fr'")
        .execute(&db.pool)
        .await
        .unwrap();

    // Her referent, a mediator: she follows her, and may not hand her over.
    browser.sign_in(base).await;
    let file = browser
        .until(&format!("{base}/people/{id}"), "Awa Diallo")
        .await;
    assert!(file.contains("Son référent"), "{file}");
    assert!(file.contains("Accompagnement en cours"), "{file}");
    assert!(!file.contains("Changer de référent"), "{file}");
    let (status, _, body) = web_get(&server, &staff, &format!("/people/{id}/referent")).await;
    assert_eq!(status, 403, "{body}");
    browser.click("form[action='/deconnexion'] button").await;

    // A manager hands her follow-up to Inès, chosen from the team.
    browser.sign_in_as(base, "dominique@ml-nantes.fr").await;
    browser.goto(&format!("{base}/people/{id}")).await;
    browser
        .click(&format!("a[href='/people/{id}/referent']"))
        .await;
    let page = browser.body().await;
    assert!(page.contains("Changer le référent de Awa Diallo"), "{page}");
    assert!(page.contains("Inès Martin"), "{page}");
    browser.audit("changement de référent").await;
    let ines = sqlx::query_scalar::<_, uuid::Uuid>(
        "select user_id from users where email = 'ines@ml-nantes.fr'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    browser
        .client
        .find(Locator::Css("#referent"))
        .await
        .unwrap()
        .select_by_value(&ines.to_string())
        .await
        .unwrap();
    browser.click("form[action$='/referent'] button").await;
    let file = browser.body().await;
    assert!(file.contains("Référent changé"), "{file}");
    assert!(file.contains("Inès Martin"), "{file}");

    // Her exit: each reason in French, refusals beside their fields, then
    // the file says when and why.
    browser
        .click(&format!("a[href='/people/{id}/sortie']"))
        .await;
    let page = browser.body().await;
    assert!(
        page.contains("Fin de l'accompagnement de Awa Diallo"),
        "{page}"
    );
    for label in [
        "Emploi",
        "Formation",
        "Déménagement",
        "Plus de nouvelles",
        "Autre raison",
        "CDD de 6 mois ou plus",
    ] {
        assert!(page.contains(label), "{label}: {page}");
    }
    assert!(!page.contains(">EMPLOYMENT<"), "{page}");
    browser.audit("sortie").await;
    browser.click("form[action$='/sortie'] button").await;
    browser.refused("reason", "raison").await;
    browser
        .client
        .find(Locator::Css("#reason"))
        .await
        .unwrap()
        .select_by_value("EMPLOYMENT")
        .await
        .unwrap();
    browser.click("form[action$='/sortie'] button").await;
    browser.refused("contract", "contrat").await;
    browser.audit("sortie, erreurs").await;
    browser
        .client
        .find(Locator::Css("#contract"))
        .await
        .unwrap()
        .select_by_value("CDI")
        .await
        .unwrap();
    browser.click("form[action$='/sortie'] button").await;
    let file = browser.body().await;
    assert!(file.contains("Sortie enregistrée"), "{file}");
    assert!(file.contains("Sortie le"), "{file}");
    assert!(file.contains("Emploi"), "{file}");
    assert!(file.contains("Contrat : CDI"), "{file}");
    assert!(!file.contains("Enregistrer sa sortie"), "{file}");
    browser.audit("fiche après la sortie").await;
    browser.close().await;
    assert!(server.terminate().success());
}

#[tokio::test]
async fn a_manager_administers_the_team_and_settings_and_staff_set_their_passwords() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, staff) = started(&db, &dir).await;
    let base = &server.base;
    create_staff(
        &db,
        &dir,
        "Mission locale de Nantes",
        "manager",
        "dominique@ml-nantes.fr",
    );
    let user_id = |email: &'static str| {
        let pool = db.pool.clone();
        async move {
            sqlx::query_scalar::<_, uuid::Uuid>("select user_id from users where email = $1")
                .bind(email)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };

    // A mediator has no administration.
    let (status, _, _) = web_get(&server, &staff, "/administration").await;
    assert_eq!(status, 403);

    // The manager: the link, the team, an account created after a refusal
    // beside its field with what was typed kept.
    browser.sign_in_as(base, "dominique@ml-nantes.fr").await;
    browser.click("nav a[href='/administration']").await;
    let page = browser.body().await;
    assert!(page.contains("Équipe"), "{page}");
    assert!(page.contains("camille@ml-nantes.fr"), "{page}");
    assert!(page.contains("Médiateur"), "{page}");
    browser.audit("administration").await;
    browser.fill("#nom", "Inès Martin").await;
    browser.fill("#email", "pas-une-adresse").await;
    browser
        .click("form[action='/administration/personnel'] button")
        .await;
    browser.refused("email", "").await;
    assert_eq!(browser.value("#nom").await, "Inès Martin");
    browser.audit("administration, erreur").await;
    browser.fill("#email", "ines@ml-nantes.fr").await;
    browser
        .click("form[action='/administration/personnel'] button")
        .await;
    let page = browser.body().await;
    assert!(page.contains("une invitation a été envoyée"), "{page}");
    assert!(page.contains("Invitation en attente"), "{page}");

    // The structure's settings: a département that does not exist refused
    // beside its field, then saved and recorded.
    browser.fill("#departements", "44, 99").await;
    browser
        .click("form[action='/administration/structure'] button")
        .await;
    browser.refused("departements", "n'existe pas").await;
    assert_eq!(browser.value("#departements").await, "44, 99");
    browser.fill("#departements", "44, 85").await;
    browser
        .click("form[action='/administration/structure'] button")
        .await;
    let page = browser.body().await;
    assert!(
        page.contains("Paramètres de la structure enregistrés"),
        "{page}"
    );
    assert!(page.contains("départements couverts"), "{page}");

    // The mediator deactivated: her session ends.
    let camille = user_id("camille@ml-nantes.fr").await;
    browser
        .click(&format!(
            "form[action='/administration/personnel/{camille}/desactiver'] button"
        ))
        .await;
    let page = browser.body().await;
    assert!(page.contains("Compte désactivé"), "{page}");
    assert!(page.contains("Désactivé"), "{page}");
    assert!(
        page.contains("Compte créé (invitation envoyée) : Inès Martin (Médiateur)"),
        "{page}"
    );
    browser.audit("administration, historique").await;
    // Her session is closed: her account's page sends to the sign-in form.
    let (status, _, body) = web_get(&server, &staff, "/compte").await;
    assert_eq!(status, 200);
    assert!(body.contains("action=\"/connexion\""), "{body}");

    // One's own password: the current one required, beside its field.
    browser.goto(&format!("{base}/compte")).await;
    browser.audit("compte").await;
    browser.fill("#actuel", "pas le bon mot de passe").await;
    browser.fill("#nouveau", "un nouveau mot de passe").await;
    browser.click("form[action='/compte'] button").await;
    browser.refused("actuel", "incorrect").await;
    browser.audit("compte, erreur").await;
    browser.click("form[action='/deconnexion'] button").await;

    // Forgotten: the same answer for any address.
    browser.click("a[href='/mot-de-passe-oublie']").await;
    browser.audit("mot de passe oublié").await;
    browser.fill("#email", "inconnu@ml-nantes.fr").await;
    browser
        .click("form[action='/mot-de-passe-oublie'] button")
        .await;
    let page = browser.body().await;
    assert!(
        page.contains("Si cette adresse est celle d'un compte"),
        "{page}"
    );

    // The mailed link's page (its token made here: the mail is tested
    // elsewhere): no referrer, a short password refused beside its field,
    // then the password set and used to log in.
    let ines = user_id("ines@ml-nantes.fr").await;
    let token = "jeton-de-test-pour-choisir-un-mot-de-passe";
    sqlx::query(
        "insert into password_tokens (token_hash, user_id, purpose, created_at, expires_at)
         values (sha256(convert_to($1, 'UTF8')), $2, 'invitation', now(), now() + interval '1 hour')",
    )
    .bind(token)
    .bind(ines)
    .execute(&db.pool)
    .await
    .unwrap();
    let response = reqwest::get(format!("{base}/mot-de-passe/{token}"))
        .await
        .unwrap();
    assert_eq!(response.headers()["referrer-policy"], "no-referrer");
    browser.goto(&format!("{base}/mot-de-passe/{token}")).await;
    browser.audit("choisir un mot de passe").await;
    browser.fill("#nouveau", "court").await;
    browser.click("form[action='/mot-de-passe'] button").await;
    browser.refused("nouveau", "au moins 12 caractères").await;
    browser.fill("#nouveau", "le mot de passe d'Inès").await;
    browser.click("form[action='/mot-de-passe'] button").await;
    assert!(browser.body().await.contains("Mot de passe enregistré"));
    browser.goto(&format!("{base}/")).await;
    browser.fill("#email", "ines@ml-nantes.fr").await;
    browser.fill("#password", "le mot de passe d'Inès").await;
    browser.click("form[action='/connexion'] button").await;
    assert!(browser.body().await.contains("Mon compte"));
    browser.close().await;
    assert!(server.terminate().success());
}

#[tokio::test]
async fn a_mediator_searches_from_home_walks_the_open_needs_and_acts_on_a_need() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, staff) = started(&db, &dir).await;
    let ok = |query: &'static str, variables: Value| {
        let (server, staff) = (&server, &staff);
        async move {
            let answer = gql(server, Some(staff), query, variables).await;
            assert!(answer["errors"].is_null(), "{query}: {answer}");
            answer["data"].clone()
        }
    };
    let employer = ok(
        "mutation($s: String!) { employerRegister(input: { siret: $s,
            name: \"Boulangerie du Quai\", naf: \"10\", commune: \"44109\" }) { employer { id } } }",
        json!({ "s": siret(31) }),
    )
    .await["employerRegister"]["employer"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let need = ok(
        "mutation($e: ID!) { needSurface(input: { employerId: $e, source: { kind: PHONE },
            description: { activities: \"Fournée de l'aube\", romeCodes: [\"D1102\"],
            horizon: NOW, hiringIntent: POSSIBLE } }) { need { id } } }",
        json!({ "e": employer }),
    )
    .await["needSurface"]["need"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let person = ok(
        "mutation { personEnroll(input: { firstName: \"Maëlle\", lastName: \"Guérin\",
            birthDate: \"1991-02-03\", commune: \"44109\" }) { person { id } } }",
        json!({}),
    )
    .await["personEnroll"]["person"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    ok(
        "mutation($p: ID!) { projectState(input: { personId: $p,
            project: { targetRomeCodes: [\"D1102\"] } }) { person { id } } }",
        json!({ "p": person }),
    )
    .await;

    let base = &server.base;
    browser.sign_in(base).await;
    // One field finds a person by name, without accents, in a POST: the
    // typed name is in no URL.
    browser.until(&format!("{base}/"), "Rechercher").await;
    browser.fill("#q", "maelle").await;
    browser.click("form[action='/recherche'] button").await;
    let url = browser.client.current_url().await.unwrap();
    assert_eq!(url.path(), "/recherche");
    assert!(url.query().is_none(), "{url}");
    let found = browser.body().await;
    assert!(found.contains("Personnes accompagnées"), "{found}");
    assert!(found.contains("Maëlle Guérin"), "{found}");
    assert!(found.contains("D1102 — Boulanger / Boulangère"), "{found}");
    browser.audit("accueil, recherche d'une personne").await;
    // A job's word finds the open need; a name the establishment.
    browser.fill("#q", "boulanger").await;
    browser.click("form[action='/recherche'] button").await;
    let found = browser.body().await;
    assert!(found.contains("Besoins ouverts"), "{found}");
    assert!(found.contains("Fournée de l'aube"), "{found}");
    browser.fill("#q", "quai").await;
    browser.click("form[action='/recherche'] button").await;
    let found = browser.body().await;
    assert!(found.contains("Établissements"), "{found}");
    assert!(found.contains("Boulangerie du Quai"), "{found}");
    // Empty: said beside the field.
    browser.fill("#q", " ").await;
    browser.click("form[action='/recherche'] button").await;
    assert!(
        browser.text("#q-erreur").await.contains("Indiquez un nom"),
        "{}",
        browser.body().await
    );

    // The open needs, with their job's label, employer and age.
    let list = browser
        .until(&format!("{base}/besoins"), "Fournée de l'aube")
        .await;
    assert!(list.contains("D1102 — Boulanger / Boulangère"), "{list}");
    assert!(list.contains("Chez Boulangerie du Quai"), "{list}");
    assert!(list.contains("Exprimé aujourd'hui"), "{list}");
    assert!(list.contains("téléphone"), "{list}");
    browser.audit("besoins ouverts").await;
    browser.fill("#metier", "D1102").await;
    browser.fill("#departement", "44").await;
    browser.click("form[action='/besoins'] button").await;
    assert!(browser.body().await.contains("Fournée de l'aube"));
    browser.fill("#metier", "A1101").await;
    browser.click("form[action='/besoins'] button").await;
    assert!(
        browser
            .body()
            .await
            .contains("Aucun besoin ouvert ne correspond")
    );
    browser.fill("#metier", "").await;
    browser.fill("#anciennete", "beaucoup").await;
    browser.click("form[action='/besoins'] button").await;
    assert!(
        browser
            .text("#anciennete-erreur")
            .await
            .contains("entre 0 et 3650")
    );

    // The need's file: the people whose project fits, a proposal that
    // starts with its employer, its qualification and closing.
    let file = browser
        .until(&format!("{base}/needs/{need}"), "Maëlle Guérin")
        .await;
    assert!(
        file.contains("Personnes dont le projet correspond"),
        "{file}"
    );
    assert!(file.contains("Ouvert"), "{file}");
    browser.audit("besoin, ses actions").await;
    browser
        .click(&format!(
            "a[href='/immersions/nouvelle?personne={person}&employeur={employer}&besoin={need}']"
        ))
        .await;
    // The person, the employer and the need it answers, all chosen.
    let chosen = browser
        .client
        .execute(
            "return [document.getElementById('person').value, document.getElementById('employer').value,
                document.querySelector('input[name=need]').value];",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(chosen, json!([person, employer, need]));
    browser.goto(&format!("{base}/needs/{need}")).await;
    browser.fill("#rome_codes", "ZZZ").await;
    browser
        .click(&format!("form[action='/needs/{need}/qualifier'] button"))
        .await;
    let refused = browser.body().await;
    assert!(refused.contains("ZZZ"), "{refused}");
    browser.fill("#rome_codes", "D1102 D1104").await;
    browser
        .click(&format!("form[action='/needs/{need}/qualifier'] button"))
        .await;
    let file = browser
        .until(&format!("{base}/needs/{need}"), "qualifié")
        .await;
    assert!(file.contains("D1104"), "{file}");
    browser
        .click(&format!("form[action='/needs/{need}/clore'] button"))
        .await;
    let file = browser.until(&format!("{base}/needs/{need}"), "Clos").await;
    assert!(!file.contains("Clore le besoin"), "{file}");
    browser.close().await;
    assert!(server.terminate().success());
}

#[tokio::test]
async fn the_person_gives_and_withdraws_a_consent_online_from_her_space() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, staff) = started_with_links(&db, &dir).await;
    let awa = enroll(&server, &staff, Some("awa@exemple.fr")).await;
    let base = &server.base;
    gql(
        &server,
        None,
        "mutation($m: String!) { magicLinkRequest(input: { email: $m }) { sent } }",
        json!({ "m": "awa@exemple.fr" }),
    )
    .await;
    let token = logged_link(&server, 0).await;
    browser.goto(&format!("{base}/acces/{token}")).await;
    browser.click("form[action='/acces'] button").await;
    let space = browser.body().await;
    assert!(space.contains("Vos accords"), "{space}");
    assert!(
        space.contains("Partager mon parcours sous forme de témoignage"),
        "{space}"
    );
    assert!(space.contains("Texte en version 1"), "{space}");
    browser.audit("espace de la personne, ses accords").await;
    browser
        .click("#accord-TESTIMONY ~ form button[value='donner']")
        .await;
    let space = browser.body().await;
    assert!(space.contains("Votre choix est enregistré"), "{space}");
    // Her referent reads it as given online.
    let read = |p: Value| {
        let (server, staff) = (&server, &staff);
        async move {
            gql(
                server,
                Some(staff),
                "query($p: ID!) { person(id: $p) { consentRecords { purpose given } } }",
                json!({ "p": p }),
            )
            .await["data"]["person"]["consentRecords"]
                .clone()
        }
    };
    let records = read(awa.clone()).await;
    assert_eq!(records, json!([{ "purpose": "TESTIMONY", "given": true }]));
    browser
        .click("#accord-TESTIMONY ~ form button[value='retirer']")
        .await;
    assert!(
        browser
            .body()
            .await
            .contains("Donner mon accord : Partager mon parcours")
    );
    let records = read(awa).await;
    assert_eq!(
        records,
        json!([{ "purpose": "TESTIMONY", "given": true }, { "purpose": "TESTIMONY", "given": false }])
    );
    browser.close().await;
    assert!(server.terminate().success());
}

#[tokio::test]
async fn the_person_reads_her_project_and_corrects_her_details_from_her_space() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, staff) = started_with_links(&db, &dir).await;
    let awa = enroll(&server, &staff, Some("awa@exemple.fr")).await;
    let stated = gql(
        &server,
        Some(&staff),
        "mutation($p: ID!) { projectState(input: { personId: $p,
            project: { targetRomeCodes: [\"D1104\"], contractWishes: [CDI],
                mobilityRadiusKm: 15 } }) { person { id } } }",
        json!({ "p": awa }),
    )
    .await;
    assert!(stated["errors"].is_null(), "{stated}");
    let steps = gql(
        &server,
        Some(&staff),
        "mutation($p: ID!) {
            consentGive(input: { personId: $p, purpose: MENTORING, textVersion: \"v1\",
                signedForm: true }) { person { id } }
            jobInquiryLog(input: { personId: $p, romeCode: \"D1102\",
                withWhom: \"Boulangerie du Port\", learned: \"Les horaires de nuit\" }) {
                inquiryId }
            peerMeetingLog(input: { personId: $p, peer: \"Une ancienne apprentie\",
                romeCodes: [\"D1104\"], takeaways: \"Le CAP en un an\" }) { person { id } }
            mentorshipStart(input: { personId: $p, mentor: \"Jeanne Martin\",
                mentorJob: \"D1104\" }) { person { id } } }",
        json!({ "p": awa }),
    )
    .await;
    assert!(steps["errors"].is_null(), "{steps}");
    let base = &server.base;
    gql(
        &server,
        None,
        "mutation($m: String!) { magicLinkRequest(input: { email: $m }) { sent } }",
        json!({ "m": "awa@exemple.fr" }),
    )
    .await;
    let token = logged_link(&server, 0).await;
    browser.goto(&format!("{base}/acces/{token}")).await;
    browser.click("form[action='/acces'] button").await;
    // Her project, as her referent and she formulated it.
    let space = browser.body().await;
    assert!(space.contains("Votre projet"), "{space}");
    assert!(space.contains("Version 1, le "), "{space}");
    assert!(space.contains("D1104 — Pâtissier / Pâtissière"), "{space}");
    assert!(space.contains("Contrats souhaités : CDI"), "{space}");
    assert!(space.contains("Mobilité : jusqu'à 15 km"), "{space}");
    // The steps she took to build it, as recorded.
    assert!(space.contains("Vos enquêtes métier"), "{space}");
    assert!(space.contains("D1102 — Boulanger / Boulangère"), "{space}");
    assert!(space.contains("Avec : Boulangerie du Port"), "{space}");
    assert!(
        space.contains("Ce qui en ressort : Les horaires de nuit"),
        "{space}"
    );
    assert!(space.contains("Une ancienne apprentie"), "{space}");
    assert!(
        space.contains("Ce qui en ressort : Le CAP en un an"),
        "{space}"
    );
    assert!(space.contains("Jeanne Martin"), "{space}");
    assert!(
        space.contains("Métier : D1104 — Pâtissier / Pâtissière"),
        "{space}"
    );
    browser.audit("mon espace, mon projet").await;
    browser.click("a[href='/mon-espace/coordonnees']").await;
    browser.audit("mes coordonnées").await;

    // A phone number that is not one: said beside it, what she typed kept.
    browser.fill("#email", "awa.diallo@exemple.fr").await;
    browser.fill("#phone", "12").await;
    browser
        .click("form[action='/mon-espace/coordonnees'] button")
        .await;
    browser.refused("phone", "").await;
    assert_eq!(browser.value("#email").await, "awa.diallo@exemple.fr");
    assert_eq!(browser.value("#phone").await, "12");
    browser.audit("mes coordonnées refusées").await;
    browser.fill("#phone", "06 12 34 56 78").await;
    browser
        .fill("#address", "8 allée des Tilleuls, 44300 Nantes")
        .await;
    browser
        .click("form[action='/mon-espace/coordonnees'] button")
        .await;
    let space = browser.body().await;
    assert!(
        space.contains("Vos coordonnées sont enregistrées"),
        "{space}"
    );
    let corrected = gql(
        &server,
        Some(&staff),
        "query($p: ID!) { person(id: $p) { identityCorrections { fields email phone address } } }",
        json!({ "p": awa }),
    )
    .await;
    assert_eq!(
        corrected["data"]["person"]["identityCorrections"],
        json!([{ "fields": ["EMAIL", "PHONE", "ADDRESS"], "email": "awa.diallo@exemple.fr",
            "phone": "06 12 34 56 78", "address": "8 allée des Tilleuls, 44300 Nantes" }]),
        "{corrected}"
    );
    browser.close().await;
    assert!(server.terminate().success());
}

#[tokio::test]
async fn an_establishments_contact_adds_and_removes_a_colleague_from_its_space() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, staff) = started_with_links(&db, &dir).await;
    let employer =
        register_employer(&server, &staff, "73282932000074", "Boulangerie du Port").await;
    gql(
        &server,
        Some(&staff),
        "mutation($e: ID!) { employerContactAdd(input: { employerId: $e, name: \"Lucie Bernard\",
            email: \"lucie@boulangerie-du-port.fr\" }) { employer { id } } }",
        json!({ "e": employer }),
    )
    .await;
    let base = &server.base;
    gql(
        &server,
        None,
        "mutation($m: String!) { magicLinkRequest(input: { email: $m }) { sent } }",
        json!({ "m": "lucie@boulangerie-du-port.fr" }),
    )
    .await;
    let token = logged_link(&server, 0).await;
    browser.goto(&format!("{base}/acces/{token}")).await;
    browser.click("form[action='/acces'] button").await;
    browser.audit("espace employeur").await;
    browser.click("a[href='/mon-espace/contacts']").await;
    let page = browser.body().await;
    assert!(page.contains("lucie@boulangerie-du-port.fr"), "{page}");
    browser.audit("contacts de l'établissement").await;

    // An address that is not one: said beside it, what was typed kept.
    browser.fill("#name", "Marc Le Goff").await;
    browser.fill("#job_title", "Tuteur").await;
    browser.fill("#email", "marc@").await;
    browser
        .click("form[action='/mon-espace/contacts'] button")
        .await;
    browser.refused("email", "").await;
    assert_eq!(browser.value("#name").await, "Marc Le Goff");
    assert_eq!(browser.value("#job_title").await, "Tuteur");
    browser.audit("contact refusé").await;
    browser.fill("#email", "marc@boulangerie-du-port.fr").await;
    browser
        .click("form[action='/mon-espace/contacts'] button")
        .await;
    let page = browser.body().await;
    assert!(page.contains("Contact ajouté"), "{page}");
    assert!(page.contains("marc@boulangerie-du-port.fr"), "{page}");

    // He leaves: removed, and every session of the establishment closes.
    browser
        .click(
            "button[aria-label='Retirer le contact Marc Le Goff, Tuteur (marc@boulangerie-du-port.fr)']",
        )
        .await;
    let page = browser.body().await;
    assert!(page.contains("Contact retiré"), "{page}");
    assert!(page.contains("demandez un nouveau lien"), "{page}");
    browser.audit("contact retiré").await;
    let left = gql(
        &server,
        Some(&staff),
        "query($e: ID!) { employer(id: $e) { contacts { email } } }",
        json!({ "e": employer }),
    )
    .await;
    assert_eq!(
        left["data"]["employer"]["contacts"],
        json!([{ "email": "lucie@boulangerie-du-port.fr" }]),
        "{left}"
    );
    browser.close().await;
    assert!(server.terminate().success());
}

#[tokio::test]
async fn a_mediator_prevalidates_rejects_abandons_and_cancels_conventions_from_their_pages() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, staff) = started(&db, &dir).await;
    let s = Some(staff.as_str());
    let employer =
        register_employer(&server, &staff, "73282932000074", "Boulangerie du Port").await;
    let today = paris_today().to_string();
    // A period ahead whatever the hour in Paris: validated before it starts.
    let start = (paris_today() + time::Duration::days(3)).to_string();
    // Three conventions signed by all, waiting for their validation; the
    // third validated.
    let mut immersions = Vec::new();
    for n in 0..3 {
        // Three people, not one enrolled thrice (a homonym asks to confirm).
        let person = gql(
            &server,
            s,
            "mutation($f: String!) { personEnroll(input: { firstName: $f, lastName: \"Diallo\",
                birthDate: \"2001-05-12\" }) { person { id } } }",
            json!({ "f": (["Awa", "Inès", "Léo"][n]) }),
        )
        .await["data"]["personEnroll"]["person"]["id"]
            .clone();
        let immersion = propose(&server, &staff, &person, &employer).await;
        let i = json!({ "i": immersion, "c": convention(&start, 35.0), "d": today });
        let mut steps = vec![
            "mutation($i: ID!) { immersionAccept(input: { immersionId: $i, by: PERSON }) { immersion { id } } }",
            "mutation($i: ID!) { immersionAccept(input: { immersionId: $i, by: EMPLOYER }) { immersion { id } } }",
            "mutation($i: ID!, $c: ConventionInput!) { conventionDraft(input: { immersionId: $i, convention: $c }) { immersion { id } } }",
            "mutation($i: ID!, $d: Date) { conventionSign(input: { immersionId: $i, signatory: PERSON, onPaperOn: $d }) { immersion { id } } }",
            "mutation($i: ID!, $d: Date) { conventionSign(input: { immersionId: $i, signatory: HOST, onPaperOn: $d }) { immersion { id } } }",
            "mutation($i: ID!) { conventionSign(input: { immersionId: $i, signatory: PRESCRIBER }) { immersion { id } } }",
        ];
        if n == 2 {
            steps.push(
                "mutation($i: ID!) { conventionValidate(input: { immersionId: $i }) { immersion { id } } }",
            );
        }
        for step in steps {
            let done = gql(&server, s, step, i.clone()).await;
            assert!(done["errors"].is_null(), "{step}: {done}");
        }
        immersions.push(immersion.as_str().unwrap().to_owned());
    }
    let base = &server.base;
    browser.sign_in(base).await;

    // Pre-validated, then rejected (a reason is required, said beside it).
    let first = &immersions[0];
    let page = browser
        .until(
            &format!("{base}/immersions/{first}"),
            "Pré-valider la convention",
        )
        .await;
    assert!(page.contains("Rejeter la convention"), "{page}");
    browser.audit("convention à valider").await;
    browser.click("form[action$='/prevalidation'] button").await;
    let page = browser.body().await;
    assert!(!page.contains("Pré-valider la convention"), "{page}");
    let read = gql(
        &server,
        s,
        "query($i: ID!) { immersion(id: $i) { prevalidated } }",
        json!({ "i": first }),
    )
    .await;
    assert_eq!(read["data"]["immersion"]["prevalidated"], true, "{read}");
    browser.click("form[action$='/rejet'] button").await;
    assert!(
        browser
            .client
            .find(Locator::Css("#reject_justification-erreur"))
            .await
            .is_ok(),
        "{}",
        browser.body().await
    );
    browser.audit("rejet, erreur").await;
    browser
        .fill(
            "#reject_justification",
            "Horaires incompatibles avec la loi",
        )
        .await;
    browser.click("form[action$='/rejet'] button").await;
    let page = browser.body().await;
    assert!(page.contains("Convention rejetée"), "{page}");
    assert!(page.contains("Rejet de la convention"), "{page}");
    assert!(
        page.contains("Horaires incompatibles avec la loi"),
        "{page}"
    );

    // Abandoned.
    let second = &immersions[1];
    browser.goto(&format!("{base}/immersions/{second}")).await;
    browser
        .fill("#deprecate_justification", "Besoin disparu")
        .await;
    browser.click("form[action$='/abandon'] button").await;
    let page = browser.body().await;
    assert!(page.contains("Convention abandonnée"), "{page}");
    assert!(page.contains("Besoin disparu"), "{page}");
    browser.audit("convention abandonnée").await;

    // Cancelled once validated.
    let third = &immersions[2];
    browser.goto(&format!("{base}/immersions/{third}")).await;
    browser
        .fill("#cancel_reason", "L'employeur ferme en août")
        .await;
    browser.click("form[action$='/annulation'] button").await;
    let page = browser.body().await;
    assert!(page.contains("Convention annulée"), "{page}");
    assert!(page.contains("L'employeur ferme en août"), "{page}");
    browser.audit("convention annulée").await;
    browser.close().await;
    assert!(server.terminate().success());
}

#[tokio::test]
async fn the_employer_engagement_dashboard_has_its_page_and_the_structure_filter_a_field() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, staff) = started(&db, &dir).await;
    register_employer(&server, &staff, "73282932000074", "Boulangerie du Port").await;
    let base = &server.base;
    browser.sign_in(base).await;
    browser.goto(&format!("{base}/tableaux/employeurs")).await;
    let page = browser.body().await;
    assert!(page.contains("Engagement des employeurs"), "{page}");
    assert!(page.contains("Employeurs visités"), "{page}");
    assert!(page.contains("Sans réponse à 7 jours"), "{page}");
    // The structure as a choice; the team is listed to managers alone.
    let options = browser
        .client
        .find_all(Locator::Css("#structureId option"))
        .await
        .unwrap();
    assert_eq!(options.len(), 2, "{page}");
    assert!(
        browser
            .client
            .find(Locator::Css("#mediatorId"))
            .await
            .is_err()
    );
    browser.audit("engagement des employeurs").await;
    browser.close().await;
    assert!(server.terminate().success());
}

/// A visit's id, logged by API at the establishment.
async fn visit_logged(server: &Server, staff: &str, employer: &Value) -> String {
    let answer = gql(
        server,
        Some(staff),
        "mutation($e: ID!) { employerVisitLog(input: { employerId: $e, purpose: PROSPECTION,
            observations: \"Four à sole, trois apprentis\" }) { employer { visits { id } } } }",
        json!({ "e": employer }),
    )
    .await;
    answer["data"]["employerVisitLog"]["employer"]["visits"][0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{answer}"))
        .to_owned()
}

#[tokio::test]
async fn a_mediator_corrects_a_visit_and_a_need_from_their_pages() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, staff) = started(&db, &dir).await;
    let base = &server.base;
    let employer = register_employer(&server, &staff, &siret(8), "Boulangerie du Port").await;
    let visit = visit_logged(&server, &staff, &employer).await;
    let need = gql(
        &server,
        Some(&staff),
        "mutation($e: ID!) { needSurface(input: { employerId: $e, source: { kind: PHONE },
            description: { activities: \"Fournée du matin\", romeCodes: [\"D1102\"],
            horizon: NOW, hiringIntent: POSSIBLE } }) { need { id } } }",
        json!({ "e": employer }),
    )
    .await["data"]["needSurface"]["need"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let employer = employer.as_str().unwrap();
    browser.sign_in(base).await;

    // The visit, from the establishment's file, then its correction.
    browser.goto(&format!("{base}/employers/{employer}")).await;
    let visit_page = format!("/employers/{employer}/visites/{visit}");
    browser.click(&format!("main a[href='{visit_page}']")).await;
    let page = browser.body().await;
    assert!(page.contains("Four à sole, trois apprentis"), "{page}");
    assert!(page.contains("Aucune correction."), "{page}");
    browser.audit("visite").await;
    browser
        .click(&format!("main a[href='{visit_page}/corriger']"))
        .await;
    browser.audit("correction d'une visite").await;
    let submit = format!("form[action='{visit_page}/corriger'] button");
    // No reason: refused beside it, what was typed kept.
    browser
        .fill("#observations", "Four à sole, deux apprentis")
        .await;
    browser.click(&submit).await;
    browser.refused("reason", "").await;
    assert_eq!(
        browser.value("#observations").await,
        "Four à sole, deux apprentis"
    );
    browser.audit("correction d'une visite, erreur").await;
    browser.fill("#reason", "Apprentis mal comptés").await;
    browser.click(&submit).await;
    let page = browser.body().await;
    assert!(page.contains("Visite corrigée"), "{page}");
    assert!(page.contains("Four à sole, deux apprentis"), "{page}");
    // Who, when, which fields in French, why.
    assert!(page.contains("Corrections de la visite"), "{page}");
    assert!(page.contains(", Médiateur : Observations"), "{page}");
    assert!(page.contains("Motif : Apprentis mal comptés"), "{page}");
    browser.audit("visite corrigée").await;

    // The need's description, corrected whole from the one recorded.
    browser.goto(&format!("{base}/needs/{need}")).await;
    browser
        .click(&format!("main a[href='/needs/{need}/corriger']"))
        .await;
    assert_eq!(browser.value("#activities").await, "Fournée du matin");
    browser.audit("correction d'un besoin").await;
    let submit = format!("form[action='/needs/{need}/corriger'] button");
    browser.fill("#activities", "Fournée du soir").await;
    browser.fill("#headcount", "2").await;
    browser.click(&submit).await;
    browser.refused("reason", "").await;
    assert_eq!(browser.value("#activities").await, "Fournée du soir");
    browser.audit("correction d'un besoin, erreur").await;
    browser.fill("#reason", "Mal noté au téléphone").await;
    browser.click(&submit).await;
    let page = browser.body().await;
    assert!(page.contains("Besoin corrigé"), "{page}");
    assert!(page.contains("Corrections du besoin"), "{page}");
    assert!(page.contains("Tâches : Fournée du soir"), "{page}");
    assert!(page.contains("Personnes : 2"), "{page}");
    assert!(page.contains("Pour quand : "), "{page}");
    assert!(!page.contains("NOW"), "{page}");
    assert!(page.contains("Motif : Mal noté au téléphone"), "{page}");
    browser.audit("besoin corrigé").await;
    browser.close().await;
    assert!(server.terminate().success());
}

#[tokio::test]
async fn a_mediator_renews_a_running_immersion_and_sees_the_signatures_it_asks_for() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, staff) = started(&db, &dir).await;
    let s = Some(staff.as_str());
    let employer =
        register_employer(&server, &staff, "73282932000074", "Boulangerie du Port").await;
    let person = enroll(&server, &staff, Some("awa@exemple.fr")).await;
    let immersion = propose(&server, &staff, &person, &employer).await;
    let today = paris_today();
    let i = json!({ "i": immersion, "c": convention(&today.to_string(), 35.0), "d": today.to_string() });
    for step in [
        "mutation($i: ID!) { immersionAccept(input: { immersionId: $i, by: PERSON }) { immersion { id } } }",
        "mutation($i: ID!) { immersionAccept(input: { immersionId: $i, by: EMPLOYER }) { immersion { id } } }",
        "mutation($i: ID!, $c: ConventionInput!) { conventionDraft(input: { immersionId: $i, convention: $c }) { immersion { id } } }",
        "mutation($i: ID!, $d: Date) { conventionSign(input: { immersionId: $i, signatory: PERSON, onPaperOn: $d }) { immersion { id } } }",
        "mutation($i: ID!, $d: Date) { conventionSign(input: { immersionId: $i, signatory: HOST, onPaperOn: $d }) { immersion { id } } }",
        "mutation($i: ID!) { conventionSign(input: { immersionId: $i, signatory: PRESCRIBER }) { immersion { id } } }",
        "mutation($i: ID!) { conventionValidate(input: { immersionId: $i }) { immersion { id } } }",
        "mutation($i: ID!) { immersionStart(input: { immersionId: $i }) { immersion { id } } }",
    ] {
        let done = gql(&server, s, step, i.clone()).await;
        assert!(done["errors"].is_null(), "{step}: {done}");
    }
    let base = &server.base;
    let id = immersion.as_str().unwrap();
    browser.sign_in(base).await;
    browser.goto(&format!("{base}/immersions/{id}")).await;
    let page = browser.body().await;
    assert!(page.contains("Demandeur ou demandeuse d'emploi"), "{page}");
    browser
        .click(&format!("main a[href='/immersions/{id}/renouvellement']"))
        .await;
    // The objective, goals, schedule and hours come from the convention.
    assert_eq!(
        browser.value("#goals").await,
        "Découvrir le façonnage du pain"
    );
    browser.audit("renouvellement").await;
    // Longer than the first period (one day): refused beside the last
    // day, what was typed kept.
    let tomorrow = today + time::Duration::days(1);
    browser.set_date("start", &tomorrow.to_string()).await;
    browser
        .set_date("end", &(tomorrow + time::Duration::days(1)).to_string())
        .await;
    browser
        .fill("#why", "Le façonnage n'est pas encore acquis")
        .await;
    let submit = format!("form[action='/immersions/{id}/renouvellement'] button");
    browser.click(&submit).await;
    browser.refused("end", "première période").await;
    assert_eq!(
        browser.value("#why").await,
        "Le façonnage n'est pas encore acquis"
    );
    browser.audit("renouvellement, erreur").await;
    browser.set_date("end", &tomorrow.to_string()).await;
    browser.click(&submit).await;
    // The renewal on the immersion's page, with the signatures it asked
    // for, each party named in French.
    let page = browser.body().await;
    assert!(page.contains("Renouvellement"), "{page}");
    assert!(
        page.contains("En attente des signatures et de la validation"),
        "{page}"
    );
    assert!(page.contains("Signatures demandées"), "{page}");
    assert!(
        page.contains("Personne : demande de signature envoyée, en attente"),
        "{page}"
    );
    assert!(page.contains("Structure d'accueil : demande"), "{page}");
    assert!(
        page.contains("Le façonnage n'est pas encore acquis"),
        "{page}"
    );
    assert!(!page.contains("PENDING"), "{page}");
    browser.audit("immersion renouvelée").await;
    browser.close().await;
    assert!(server.terminate().success());
}

#[tokio::test]
async fn a_convention_for_a_minor_in_employment_names_her_legal_representative_and_employer() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, staff) = started(&db, &dir).await;
    let employer =
        register_employer(&server, &staff, "73282932000074", "Boulangerie du Port").await;
    let person = enroll(&server, &staff, Some("awa@exemple.fr")).await;
    let immersion = propose(&server, &staff, &person, &employer).await;
    accepted_by_both(&server, &staff, &immersion).await;
    let base = &server.base;
    let id = immersion.as_str().unwrap();
    browser.sign_in(base).await;
    browser
        .goto(&format!("{base}/immersions/{id}/convention"))
        .await;
    // The current employer's fields show once the person is said to be
    // employed, without a script.
    let employer_fields = || async {
        browser
            .client
            .find(Locator::Css("#employer_name"))
            .await
            .unwrap()
            .is_displayed()
            .await
            .unwrap()
    };
    assert!(!employer_fields().await);
    say_employed(&browser).await;
    assert!(employer_fields().await);
    browser.audit("convention, personne salariée").await;
    // Sixteen on the first day: a minor.
    let start = paris_today() + time::Duration::days(14);
    let birth = start.replace_year(start.year() - 16).unwrap() - time::Duration::days(30);
    fill_minors_convention(&browser, start, birth).await;
    browser
        .fill("#goals", "Découvrir le façonnage du pain")
        .await;
    let submit = format!("form[action='/immersions/{id}/convention'] button");
    // The current employer's signatory left out: refused beside that
    // field, not beside the employer's name.
    browser.click(&submit).await;
    browser.refused("employer_signatory", "").await;
    assert_eq!(
        browser
            .client
            .find(Locator::Css("#employer_name"))
            .await
            .unwrap()
            .attr("aria-invalid")
            .await
            .unwrap(),
        None
    );
    browser.fill("#employer_signatory", "Paul Girard").await;
    // No legal representative for a minor: refused beside the field, what
    // was typed kept.
    browser.click(&submit).await;
    browser.refused("legal_name", "représentant légal").await;
    assert_eq!(
        browser.value("#employer_name").await,
        "Supermarché des Dervallières"
    );
    assert_eq!(browser.value("#situation").await, "EMPLOYED");
    assert!(employer_fields().await);
    browser.audit("convention d'une mineure, erreur").await;
    browser.fill("#legal_name", "Mariam Diallo").await;
    browser.fill("#legal_email", "mariam@exemple.fr").await;
    browser.click(&submit).await;
    let page = browser.body().await;
    assert!(page.contains("Convention rédigée"), "{page}");
    assert!(page.contains("Salarié ou salariée"), "{page}");
    assert!(page.contains("Mariam Diallo, mariam@exemple.fr"), "{page}");
    assert!(page.contains("Supermarché des Dervallières"), "{page}");
    assert!(page.contains("Représentant légal"), "{page}");
    assert!(page.contains("Employeur actuel"), "{page}");
    assert!(!page.contains("EMPLOYED"), "{page}");
    browser.audit("immersion d'une mineure salariée").await;
    browser
        .goto(&format!("{base}/immersions/{id}/convention/imprimer"))
        .await;
    let page = browser.body().await;
    assert!(page.contains("Mariam Diallo"), "{page}");
    assert!(page.contains("Supermarché des Dervallières"), "{page}");
    assert!(page.contains("Paul Girard"), "{page}");
    browser
        .audit("convention imprimable d'une mineure salariée")
        .await;

    // Another immersion with the same host over the same day: the page
    // asks to confirm it is another one, and drafts it once confirmed.
    let other = propose(&server, &staff, &person, &employer).await;
    accepted_by_both(&server, &staff, &other).await;
    let other = other.as_str().unwrap();
    browser
        .goto(&format!("{base}/immersions/{other}/convention"))
        .await;
    say_employed(&browser).await;
    fill_minors_convention(&browser, start, birth).await;
    for (field, value) in [
        ("#goals", "Confirmer le projet en boulangerie"),
        ("#employer_signatory", "Paul Girard"),
        ("#legal_name", "Mariam Diallo"),
        ("#legal_email", "mariam@exemple.fr"),
    ] {
        browser.fill(field, value).await;
    }
    browser
        .tick("input[name='objective'][value='CONFIRM_PROJECT']")
        .await;
    let submit = format!("form[action='/immersions/{other}/convention'] button");
    browser.click(&submit).await;
    browser
        .refused("confirm_duplicate", "couvre déjà une partie de ces dates")
        .await;
    assert_eq!(browser.value("#tutor_name").await, "Lucie Bernard");
    browser
        .audit("convention aux mêmes dates, à confirmer")
        .await;
    browser.tick("#confirm_duplicate").await;
    browser.click(&submit).await;
    let page = browser.body().await;
    assert!(page.contains("Convention rédigée"), "{page}");
    browser.close().await;
    assert!(server.terminate().success());
}

/// The immersion accepted by the person and by the employer.
async fn accepted_by_both(server: &Server, staff: &str, immersion: &Value) {
    for by in ["PERSON", "EMPLOYER"] {
        let done = gql(
            server,
            Some(staff),
            "mutation($i: ID!, $by: Party!) { immersionAccept(input: { immersionId: $i,
                by: $by }) { immersion { id } } }",
            json!({ "i": immersion, "by": by }),
        )
        .await;
        assert!(done["errors"].is_null(), "{by}: {done}");
    }
}

/// The convention form's person said employed.
async fn say_employed(browser: &Browser) {
    browser
        .client
        .find(Locator::Css("#situation"))
        .await
        .unwrap()
        .select_by_value("EMPLOYED")
        .await
        .unwrap();
}

/// The convention form of a minor in employment at the Boulangerie du Port
/// on the one day `start`, born on `birth`: all but its goals, her
/// employer's signatory and her legal representative.
async fn fill_minors_convention(browser: &Browser, start: time::Date, birth: time::Date) {
    browser.set_date("start", &start.to_string()).await;
    browser.set_date("end", &start.to_string()).await;
    browser.set_date("birth_date", &birth.to_string()).await;
    for (field, value) in [
        ("#address", "3 rue des Lilas, 44000 Nantes"),
        ("#place_address", "12 quai de la Fosse"),
        ("#host_agreement", "IDCC 843"),
        ("#host_signatory", "Jean Martin"),
        ("#tutor_name", "Lucie Bernard"),
        ("#tutor_job", "Cheffe boulangère"),
        ("#tasks", "Peser, pétrir, façonner"),
        ("#evaluation", "Grille remplie avec la tutrice"),
        ("#employer_name", "Supermarché des Dervallières"),
    ] {
        browser.fill(field, value).await;
    }
    browser.tick("input[name='attestation']").await;
}

/// The rows of the list under the section headed `id`, its pages' links
/// left out.
async fn rows_under(browser: &Browser, id: &str) -> Vec<String> {
    let mut texts = Vec::new();
    for row in browser
        .client
        .find_all(Locator::Css(&format!(
            "section[aria-labelledby='{id}'] :is(ul.tasks, ul.dated, ol) > li"
        )))
        .await
        .unwrap()
    {
        texts.push(row.text().await.unwrap());
    }
    texts
}

#[tokio::test]
async fn the_employers_file_and_the_persons_path_go_a_page_at_a_time() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, staff) = started(&db, &dir).await;
    let employer = register_employer(&server, &staff, &siret(1), "Boulangerie du Port").await;
    // 22 visits and 22 needs: more than a page of each.
    let mut needs = Vec::new();
    for n in 1..=22 {
        let done = gql(
            &server,
            Some(&staff),
            "mutation($e: ID!, $o: String!) { employerVisitLog(input: { employerId: $e,
                purpose: PROSPECTION, observations: $o }) { employer { id } } }",
            json!({ "e": employer, "o": format!("Visite numéro {n:02}") }),
        )
        .await;
        assert!(done["errors"].is_null(), "{done}");
        let done = gql(
            &server,
            Some(&staff),
            "mutation($e: ID!, $a: String!) { needSurface(input: { employerId: $e,
                source: { kind: PHONE }, description: { activities: $a, romeCodes: [\"D1102\"],
                horizon: NOW, hiringIntent: POSSIBLE } }) { need { id } } }",
            json!({ "e": employer, "a": format!("Besoin numéro {n:02}") }),
        )
        .await;
        assert!(done["errors"].is_null(), "{done}");
        needs.push(done["data"]["needSurface"]["need"]["id"].clone());
    }
    // One of them, qualified, became an offer with its reference.
    let offer = &needs[21];
    for mutation in [
        "mutation($n: ID!) { needQualify(input: { needId: $n, description: {
            activities: \"Besoin numéro 22\", romeCodes: [\"D1102\"], horizon: NOW,
            hiringIntent: POSSIBLE } }) { need { id } } }",
        "mutation($n: ID!) { needFormalise(input: { needId: $n,
            offerReference: \"FT-192XKLM\" }) { need { id } } }",
    ] {
        let done = gql(&server, Some(&staff), mutation, json!({ "n": offer })).await;
        assert!(done["errors"].is_null(), "{done}");
    }
    let base = &server.base;
    browser.sign_in(base).await;
    let id = employer.as_str().unwrap();
    browser.goto(&format!("{base}/employers/{id}")).await;
    let first_visits = rows_under(&browser, "visites").await;
    assert_eq!(first_visits.len(), 20, "{first_visits:?}");
    let first_needs = rows_under(&browser, "besoins").await;
    assert_eq!(first_needs.len(), 20);
    browser.audit("fiche établissement, premières pages").await;
    // The visits' next page; the needs stay on theirs.
    browser
        .click("nav[aria-label='Pages des visites'] a[rel='next']")
        .await;
    let url = browser.client.current_url().await.unwrap();
    assert_eq!(url.path(), format!("/employers/{id}"), "{url}");
    let query = url.query().unwrap_or_default();
    assert!(
        query.starts_with("visites=") && !query.contains('&'),
        "{url}"
    );
    let more_visits = rows_under(&browser, "visites").await;
    assert_eq!(more_visits.len(), 2, "{more_visits:?}");
    let mut seen: Vec<&String> = first_visits.iter().chain(&more_visits).collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 22, "each visit once");
    assert_eq!(rows_under(&browser, "besoins").await.len(), 20);
    assert!(
        browser
            .client
            .find(Locator::Css(
                "nav[aria-label='Pages des visites'] a[rel='next']"
            ))
            .await
            .is_err(),
        "the last page has no next"
    );
    browser.audit("fiche établissement, visites page 2").await;
    // The needs' next page keeps the visits' page.
    browser
        .click("nav[aria-label='Pages des besoins'] a[rel='next']")
        .await;
    let more_needs = rows_under(&browser, "besoins").await;
    assert_eq!(more_needs.len(), 2);
    assert_eq!(rows_under(&browser, "visites").await.len(), 2);
    // The formalised need says so in the list, with its offer's reference.
    let formalised: Vec<&String> = first_needs
        .iter()
        .chain(&more_needs)
        .filter(|n| n.contains("Offre publiée"))
        .collect();
    assert_eq!(formalised.len(), 1, "{first_needs:?} {more_needs:?}");
    assert!(
        formalised[0].contains("Besoin numéro 22")
            && formalised[0].contains("Offre publiée : FT-192XKLM"),
        "{formalised:?}"
    );
    browser
        .click("nav[aria-label='Pages des visites'] a:not([rel])")
        .await;
    assert_eq!(rows_under(&browser, "visites").await.len(), 20);
    assert_eq!(rows_under(&browser, "besoins").await.len(), 2);

    // The need's page says the offer and its reference.
    browser
        .goto(&format!("{base}/needs/{}", offer.as_str().unwrap()))
        .await;
    let need = browser.body().await;
    assert!(need.contains("Offre publiée : FT-192XKLM"), "{need}");
    browser.audit("besoin devenu offre").await;

    // A page's link no longer valid (a cursor made up or cut short): the
    // file from the start of its lists, saying so; never « Introuvable ».
    for garbage in ["visites=n%27importe-quoi", "besoins=AAAA&visites=zz"] {
        browser
            .goto(&format!("{base}/employers/{id}?{garbage}"))
            .await;
        let page = browser.body().await;
        assert!(!page.contains("Introuvable"), "{garbage}: {page}");
        assert!(
            page.contains("Ce lien de page n'est plus valable"),
            "{page}"
        );
        assert_eq!(rows_under(&browser, "visites").await, first_visits);
        assert_eq!(rows_under(&browser, "besoins").await.len(), 20);
    }
    let (status, _, _) = web_get(&server, &staff, &format!("/employers/{id}?visites=zz")).await;
    assert_eq!(status, 200);
    browser
        .audit("fiche établissement, lien de page périmé")
        .await;

    // A person's path: enrolled, then 21 job inquiries.
    let awa = enroll(&server, &staff, None).await;
    for n in 1..=21 {
        let done = gql(
            &server,
            Some(&staff),
            "mutation($p: ID!, $l: String!) { jobInquiryLog(input: { personId: $p,
                romeCode: \"D1102\", withWhom: \"Boulangerie du Port\", learned: $l }) { inquiryId } }",
            json!({ "p": awa, "l": format!("Leçon numéro {n:02}") }),
        )
        .await;
        assert!(done["errors"].is_null(), "{done}");
    }
    let person = awa.as_str().unwrap();
    browser.goto(&format!("{base}/people/{person}")).await;
    let first_facts = rows_under(&browser, "parcours").await;
    assert_eq!(first_facts.len(), 20, "{first_facts:?}");
    browser
        .click("nav[aria-label='Pages de son parcours'] a[rel='next']")
        .await;
    let url = browser.client.current_url().await.unwrap();
    assert_eq!(url.path(), format!("/people/{person}"), "{url}");
    assert!(
        url.query().unwrap_or_default().starts_with("parcours="),
        "{url}"
    );
    assert!(
        !url.as_str().to_lowercase().contains("diallo"),
        "no name in the URL: {url}"
    );
    assert_eq!(rows_under(&browser, "parcours").await.len(), 2);
    // Dated, the path is not numbered: a second page does not count from
    // 1 again.
    assert!(
        browser
            .client
            .find_all(Locator::Css(
                "section[aria-labelledby='parcours'] ol:not([start])"
            ))
            .await
            .unwrap()
            .is_empty(),
        "the path's second page numbers its entries from 1 again"
    );
    browser.audit("dossier, parcours page 2").await;
    browser
        .click("nav[aria-label='Pages de son parcours'] a:not([rel])")
        .await;
    assert_eq!(rows_under(&browser, "parcours").await, first_facts);
    // A path's link no longer valid: her file from the start of her path.
    browser
        .goto(&format!("{base}/people/{person}?parcours=pas-un-curseur"))
        .await;
    let page = browser.body().await;
    assert!(!page.contains("Introuvable"), "{page}");
    assert!(
        page.contains("Ce lien de page n'est plus valable"),
        "{page}"
    );
    assert_eq!(rows_under(&browser, "parcours").await, first_facts);
    browser.audit("dossier, lien de page périmé").await;
    browser.close().await;
    assert!(server.terminate().success());
}

#[tokio::test]
async fn the_person_answers_the_assessment_that_came_after_her_feedback() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, staff) = started_with_links(&db, &dir).await;
    let s = Some(staff.as_str());
    let employer =
        register_employer(&server, &staff, "73282932000074", "Boulangerie du Port").await;
    let person = enroll(&server, &staff, Some("awa@exemple.fr")).await;
    let immersion = propose(&server, &staff, &person, &employer).await;
    let today = paris_today().to_string();
    let i = json!({ "i": immersion, "c": convention(&today, 35.0), "d": today });
    let steps = |list: &'static [&'static str]| {
        let (server, i) = (&server, i.clone());
        async move {
            for step in list {
                let done = gql(server, s, step, i.clone()).await;
                assert!(done["errors"].is_null(), "{step}: {done}");
            }
        }
    };
    steps(&[
        "mutation($i: ID!) { immersionAccept(input: { immersionId: $i, by: EMPLOYER }) { immersion { id } } }",
        "mutation($i: ID!) { immersionAccept(input: { immersionId: $i, by: PERSON }) { immersion { id } } }",
        "mutation($i: ID!, $c: ConventionInput!) { conventionDraft(input: { immersionId: $i, convention: $c }) { immersion { id } } }",
        "mutation($i: ID!, $d: Date) { conventionSign(input: { immersionId: $i, signatory: PERSON, onPaperOn: $d }) { immersion { id } } }",
        "mutation($i: ID!, $d: Date) { conventionSign(input: { immersionId: $i, signatory: HOST, onPaperOn: $d }) { immersion { id } } }",
        "mutation($i: ID!) { conventionSign(input: { immersionId: $i, signatory: PRESCRIBER }) { immersion { id } } }",
        "mutation($i: ID!) { conventionValidate(input: { immersionId: $i }) { immersion { id } } }",
        "mutation($i: ID!) { immersionStart(input: { immersionId: $i }) { immersion { id } } }",
        "mutation($i: ID!) { immersionComplete(input: { immersionId: $i }) { immersion { id } } }",
    ])
    .await;
    let request = "mutation($m: String!) { magicLinkRequest(input: { email: $m }) { sent } }";
    let open = |seen: usize| {
        let (server, browser) = (&server, &browser);
        async move {
            gql(server, None, request, json!({ "m": "awa@exemple.fr" })).await;
            let token = logged_link(server, seen).await;
            browser
                .goto(&format!("{}/acces/{token}", server.base))
                .await;
            browser.click("form[action='/acces'] button").await;
            browser.click(".tasks a[href^='/immersions/']").await;
        }
    };

    // Her words before the host's assessment: she is told she will answer
    // it when it comes.
    open(0).await;
    let page = browser.body().await;
    assert!(
        page.contains("quand le bilan arrivera, vous pourrez le contresigner ou le contester ici"),
        "{page}"
    );
    assert!(!page.contains("name=\"countersigns\""), "{page}");
    browser
        .fill("#words", "J'ai aimé le fournil, moins les horaires")
        .await;
    browser.click("form[action$='/retour'] button").await;
    assert!(!browser.body().await.contains("Votre réponse au bilan"));
    browser.click("form[action='/deconnexion'] button").await;

    // The assessment comes in on paper, entered by the mediator.
    steps(&[
        "mutation($i: ID!) { feedbackRecord(input: { immersionId: $i, host: {
            attendance: COMPLETED, goalsReached: true, advice: \"La pâtisserie lui irait bien\",
            receivedByOtherMeans: true } }) { immersion { id } } }",
    ])
    .await;

    // She reads it and contests it, which takes a reason; once.
    open(1).await;
    let page = browser.body().await;
    assert!(page.contains("La pâtisserie lui irait bien"), "{page}");
    assert!(page.contains("Votre réponse au bilan"), "{page}");
    assert!(
        page.contains("La personne n'a ni contresigné ni contesté le bilan."),
        "{page}"
    );
    browser.audit("réponse au bilan, personne").await;
    browser
        .tick("input[name='countersigns'][value='non']")
        .await;
    browser
        .click("form[action$='/reponse-au-bilan'] button")
        .await;
    browser.refused("disagreement", "obligatoire").await;
    browser.audit("réponse au bilan refusée, personne").await;
    browser
        .fill(
            "#disagreement",
            "Je suis venue tous les jours, même le samedi",
        )
        .await;
    browser
        .click("form[action$='/reponse-au-bilan'] button")
        .await;
    let page = browser.body().await;
    assert!(
        page.contains("Bilan contesté par la personne")
            && page.contains("Je suis venue tous les jours, même le samedi"),
        "{page}"
    );
    assert!(!page.contains("Votre réponse au bilan"), "{page}");
    browser.click("a[href$='/bilan/imprimer']").await;
    let printed = browser.body().await;
    for part in [
        "J'ai aimé le fournil, moins les horaires",
        "Bilan contesté par la personne",
        "Je suis venue tous les jours, même le samedi",
    ] {
        assert!(printed.contains(part), "{part:?} missing:\n{printed}");
    }
    browser.close().await;
    assert!(server.terminate().success());
}

/// Opens the person's space by a magic link sent to `email`, the
/// `seen`-th link the server logged.
async fn person_space(browser: &Browser, server: &Server, email: &str, seen: usize) {
    gql(
        server,
        None,
        "mutation($m: String!) { magicLinkRequest(input: { email: $m }) { sent } }",
        json!({ "m": email }),
    )
    .await;
    let token = logged_link(server, seen).await;
    browser
        .goto(&format!("{}/acces/{token}", server.base))
        .await;
    browser.click("form[action='/acces'] button").await;
}

#[tokio::test]
async fn a_testimony_is_recorded_from_her_file_and_she_changes_its_audience_and_withdraws_it() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, staff) = started_with_links(&db, &dir).await;
    let ok = |query: &'static str, variables: Value| {
        let (server, staff) = (&server, &staff);
        async move {
            let answer = gql(server, Some(staff), query, variables).await;
            assert!(answer["errors"].is_null(), "{query}: {answer}");
            answer["data"].clone()
        }
    };
    // Awa aims at the bakery; Inès, of the same structure, walked a path
    // of the same domain and will tell it.
    let mut people = Vec::new();
    for (first, code, email) in [
        ("Awa", "D1102", "awa@exemple.fr"),
        ("Inès", "D1101", "ines@exemple.fr"),
    ] {
        let person = ok(
            "mutation($f: String!, $m: String!) { personEnroll(input: { firstName: $f,
                lastName: \"Lefèvre\", birthDate: \"1990-03-04\", commune: \"44109\", email: $m }) {
                person { id } } }",
            json!({ "f": first, "m": email }),
        )
        .await["personEnroll"]["person"]["id"]
            .clone();
        ok(
            "mutation($p: ID!, $r: String!) { projectState(input: { personId: $p,
                project: { targetRomeCodes: [$r] } }) { person { id } } }",
            json!({ "p": person, "r": code }),
        )
        .await;
        people.push(person);
    }
    let awa = people[0].as_str().unwrap().to_owned();
    let ines = people[1].as_str().unwrap().to_owned();
    let base = &server.base;

    // Her testimonies' page on her file: nothing yet; recorded without
    // her consent, it is refused beside the audience.
    browser.sign_in(base).await;
    browser.goto(&format!("{base}/people/{ines}")).await;
    browser
        .click(&format!("a[href='/people/{ines}/temoignage']"))
        .await;
    let page = browser.body().await;
    assert!(page.contains("Témoignages de Inès Lefèvre"), "{page}");
    assert!(page.contains("Aucun témoignage pour l'instant."), "{page}");
    browser.audit("témoignages d'une personne, fiche").await;
    browser.click("form[action$='/temoignage'] button").await;
    assert!(
        browser
            .text("#audience-erreur")
            .await
            .contains("Indiquez qui peut lire"),
        "{}",
        browser.body().await
    );
    browser
        .fill("#account", "De la caisse à la boulangerie")
        .await;
    browser
        .tick("input[name='audience'][value='OWN_STRUCTURE_MEDIATORS']")
        .await;
    browser.click("form[action$='/temoignage'] button").await;
    assert!(
        browser.text("#audience-erreur").await.contains("consenti"),
        "{}",
        browser.body().await
    );
    // What was typed stays.
    assert_eq!(
        browser.value("#account").await,
        "De la caisse à la boulangerie"
    );
    browser.audit("témoignage refusé sans accord").await;
    for purpose in ["TESTIMONY", "PEER_CONTACT"] {
        ok(
            "mutation($p: ID!, $c: ConsentPurpose!) { consentGive(input: { personId: $p,
                purpose: $c, textVersion: \"v1\", signedForm: true }) { person { id } } }",
            json!({ "p": ines, "c": purpose }),
        )
        .await;
    }
    browser.fill("#rome", "d1101").await;
    browser
        .tick("input[name='audience'][value='OWN_STRUCTURE_MEDIATORS']")
        .await;
    browser.click("form[action$='/temoignage'] button").await;
    let page = browser.body().await;
    assert!(page.contains("Témoignage enregistré"), "{page}");
    assert!(page.contains("De la caisse à la boulangerie"), "{page}");
    assert!(
        page.contains("Qui peut le lire : Les médiateurs de la structure seulement."),
        "{page}"
    );
    assert!(page.contains("D1101 — "), "{page}");
    // Inès completed an immersion: she walked the path.
    let employer =
        register_employer(&server, &staff, "73282932000074", "Boulangerie du Port").await;
    let immersion = propose(&server, &staff, &people[1], &employer).await;
    let today = paris_today().to_string();
    let i = json!({ "i": immersion, "c": convention(&today, 35.0), "d": today });
    for step in [
        "mutation($i: ID!) { immersionAccept(input: { immersionId: $i, by: EMPLOYER }) { immersion { id } } }",
        "mutation($i: ID!) { immersionAccept(input: { immersionId: $i, by: PERSON }) { immersion { id } } }",
        "mutation($i: ID!, $c: ConventionInput!) { conventionDraft(input: { immersionId: $i, convention: $c }) { immersion { id } } }",
        "mutation($i: ID!, $d: Date) { conventionSign(input: { immersionId: $i, signatory: PERSON, onPaperOn: $d }) { immersion { id } } }",
        "mutation($i: ID!, $d: Date) { conventionSign(input: { immersionId: $i, signatory: HOST, onPaperOn: $d }) { immersion { id } } }",
        "mutation($i: ID!) { conventionSign(input: { immersionId: $i, signatory: PRESCRIBER }) { immersion { id } } }",
        "mutation($i: ID!) { conventionValidate(input: { immersionId: $i }) { immersion { id } } }",
        "mutation($i: ID!) { immersionStart(input: { immersionId: $i }) { immersion { id } } }",
        "mutation($i: ID!) { immersionComplete(input: { immersionId: $i }) { immersion { id } } }",
    ] {
        ok(step, i.clone()).await;
    }
    // Awa's file shows it among the people who walked her path.
    let file = browser
        .until(
            &format!("{base}/people/{awa}"),
            "De la caisse à la boulangerie",
        )
        .await;
    assert!(
        file.contains("Des personnes qui ont fait ce chemin"),
        "{file}"
    );
    browser.click("form[action='/deconnexion'] button").await;

    // From her space, Inès reads it with who may read it, opens it to the
    // territory, then withdraws it after confirming.
    person_space(&browser, &server, "ines@exemple.fr", 0).await;
    browser.click("a[href='/mon-espace/temoignages']").await;
    let page = browser.body().await;
    assert!(page.contains("Mes témoignages"), "{page}");
    assert!(page.contains("De la caisse à la boulangerie"), "{page}");
    assert!(
        page.contains("Qui peut le lire : Les médiateurs de la structure seulement."),
        "{page}"
    );
    browser
        .audit("mes témoignages, espace de la personne")
        .await;
    browser
        .tick("input[name='audience'][value='TERRITORY']")
        .await;
    browser.click("form[action$='/public'] button").await;
    let page = browser.body().await;
    assert!(page.contains("Votre choix est enregistré"), "{page}");
    assert!(
        page.contains(
            "Qui peut le lire : Toutes les structures du territoire et les personnes qu'elles accompagnent."
        ),
        "{page}"
    );
    browser.click("a[href$='/retirer']").await;
    let page = browser.body().await;
    assert!(page.contains("Retirer mon témoignage"), "{page}");
    assert!(page.contains("plus personne ne peut le lire"), "{page}");
    browser.audit("retrait d'un témoignage, confirmation").await;
    browser.click("form[action$='/retirer'] button").await;
    let page = browser.body().await;
    assert!(page.contains("Votre témoignage est retiré"), "{page}");
    assert!(page.contains("Retiré le"), "{page}");
    assert!(!page.contains("Retirer ce témoignage"), "{page}");
    browser.audit("mes témoignages, après un retrait").await;
    // Her session records none itself: her structure does.
    browser.click("form[action='/deconnexion'] button").await;

    // At once, Awa's file no longer shows it: no wait, no reload loop.
    browser.sign_in(base).await;
    browser.goto(&format!("{base}/people/{awa}")).await;
    let file = browser.body().await;
    assert!(!file.contains("De la caisse à la boulangerie"), "{file}");
    // Her own file says it was withdrawn.
    browser
        .goto(&format!("{base}/people/{ines}/temoignage"))
        .await;
    let page = browser.body().await;
    assert!(page.contains("Retiré le"), "{page}");
    browser.close().await;
    assert!(server.terminate().success());
}

#[tokio::test]
async fn the_readjustment_cites_an_inquiry_a_meeting_or_a_mentorship_with_its_date() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, staff) = started(&db, &dir).await;
    let ok = |query: &'static str, variables: Value| {
        let (server, staff) = (&server, &staff);
        async move {
            let answer = gql(server, Some(staff), query, variables).await;
            assert!(answer["errors"].is_null(), "{query}: {answer}");
            answer["data"].clone()
        }
    };
    let person = enroll(&server, &staff, None).await;
    let p = person.as_str().unwrap();
    ok(
        "mutation($p: ID!) { projectState(input: { personId: $p,
            project: { targetRomeCodes: [\"D1102\"] } }) { person { id } } }",
        json!({ "p": p }),
    )
    .await;
    let inquiry = ok(
        "mutation($p: ID!) { jobInquiryLog(input: { personId: $p, romeCode: \"D1104\",
            withWhom: \"Pâtisserie Rivière\" }) { inquiryId } }",
        json!({ "p": p }),
    )
    .await["jobInquiryLog"]["inquiryId"]
        .clone();
    ok(
        "mutation($p: ID!) { peerMeetingLog(input: { personId: $p,
            peer: \"Une pâtissière en reconversion\", romeCodes: [\"D1104\"],
            }) { meetingId } }",
        json!({ "p": p }),
    )
    .await;
    ok(
        "mutation($p: ID!) { consentGive(input: { personId: $p, purpose: MENTORING,
            textVersion: \"v1\", signedForm: true }) { person { id } } }",
        json!({ "p": p }),
    )
    .await;
    ok(
        "mutation($p: ID!) { mentorshipStart(input: { personId: $p, mentor: \"Un boulanger retraité\" }) {
            mentorshipId } }",
        json!({ "p": p }),
    )
    .await;
    let base = &server.base;
    browser.sign_in(base).await;
    browser.goto(&format!("{base}/people/{p}")).await;
    let options = browser.text("#cause").await;
    let today = passerelle_domain::fr::date(paris_today());
    for label in [
        format!(
            "Enquête métier du {today} : D1104 — Pâtissier / Pâtissière (avec : Pâtisserie Rivière)"
        ),
        format!("Rencontre avec un pair du {today} : Une pâtissière en reconversion"),
        format!("Parrainage depuis le {today} : Un boulanger retraité"),
    ] {
        assert!(options.contains(&label), "{label:?} missing:\n{options}");
    }
    browser.audit("réajustement, les causes possibles").await;
    // No cause chosen: said beside the field, what was typed kept.
    browser.fill("#rome", "D1104").await;
    browser
        .fill("#what_changed", "La pâtisserie plutôt que le pain")
        .await;
    browser.click("form[action$='/projet'] button").await;
    browser
        .refused("cause", "Choisissez ce qui a fait évoluer le projet")
        .await;
    assert_eq!(
        browser.value("#what_changed").await,
        "La pâtisserie plutôt que le pain"
    );
    browser.audit("réajustement refusé, sans cause").await;
    // The inquiry chosen, a job the referential lacks: refused beside the
    // jobs, the cause still chosen.
    browser
        .client
        .find(Locator::Css("#cause"))
        .await
        .unwrap()
        .select_by_value(&format!("JOB_INQUIRY:{}", inquiry.as_str().unwrap()))
        .await
        .unwrap();
    browser.fill("#rome", "Z9999").await;
    browser.click("form[action$='/projet'] button").await;
    let rome_error = browser.text("#rome-erreur").await;
    assert!(!rome_error.is_empty(), "{}", browser.body().await);
    assert_eq!(
        browser.value("#cause").await,
        format!("JOB_INQUIRY:{}", inquiry.as_str().unwrap())
    );
    browser.fill("#rome", "D1104").await;
    browser.click("form[action$='/projet'] button").await;
    let file = browser.body().await;
    assert!(file.contains("Version 2"), "{file}");
    assert!(
        file.contains("La pâtisserie plutôt que le pain (après une enquête métier)"),
        "{file}"
    );
    let seen = gql(
        &server,
        Some(&staff),
        "query($p: ID!) { person(id: $p) { projectVersions { version cause } } }",
        json!({ "p": p }),
    )
    .await;
    assert_eq!(
        seen["data"]["person"]["projectVersions"][1]["cause"], "JOB_INQUIRY",
        "{seen}"
    );
    browser.close().await;
    assert!(server.terminate().success());
}

#[tokio::test]
async fn a_mediator_enters_the_answer_she_gave_on_paper_to_the_assessment() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, staff) = started(&db, &dir).await;
    let s = Some(staff.as_str());
    let employer =
        register_employer(&server, &staff, "73282932000074", "Boulangerie du Port").await;
    let person = enroll(&server, &staff, None).await;
    let immersion = propose(&server, &staff, &person, &employer).await;
    let today = paris_today();
    let i = json!({ "i": immersion, "c": convention(&today.to_string(), 35.0), "d": today.to_string() });
    for step in [
        "mutation($i: ID!) { immersionAccept(input: { immersionId: $i, by: EMPLOYER }) { immersion { id } } }",
        "mutation($i: ID!) { immersionAccept(input: { immersionId: $i, by: PERSON }) { immersion { id } } }",
        "mutation($i: ID!, $c: ConventionInput!) { conventionDraft(input: { immersionId: $i, convention: $c }) { immersion { id } } }",
        "mutation($i: ID!, $d: Date) { conventionSign(input: { immersionId: $i, signatory: PERSON, onPaperOn: $d }) { immersion { id } } }",
        "mutation($i: ID!, $d: Date) { conventionSign(input: { immersionId: $i, signatory: HOST, onPaperOn: $d }) { immersion { id } } }",
        "mutation($i: ID!) { conventionSign(input: { immersionId: $i, signatory: PRESCRIBER }) { immersion { id } } }",
        "mutation($i: ID!) { conventionValidate(input: { immersionId: $i }) { immersion { id } } }",
        "mutation($i: ID!) { immersionStart(input: { immersionId: $i }) { immersion { id } } }",
        "mutation($i: ID!) { immersionComplete(input: { immersionId: $i }) { immersion { id } } }",
        // Her words first, then the host's assessment, on paper.
        "mutation($i: ID!) { feedbackRecord(input: { immersionId: $i,
            person: { words: \"J'ai aimé le fournil\" } }) { immersion { id } } }",
        "mutation($i: ID!) { feedbackRecord(input: { immersionId: $i, host: {
            attendance: COMPLETED, goalsReached: true, advice: \"La pâtisserie lui irait bien\",
            receivedByOtherMeans: true } }) { immersion { id } } }",
    ] {
        let done = gql(&server, s, step, i.clone()).await;
        assert!(done["errors"].is_null(), "{step}: {done}");
    }
    let id = immersion.as_str().unwrap();
    let base = &server.base;
    browser.sign_in(base).await;
    browser.goto(&format!("{base}/immersions/{id}")).await;
    let page = browser.body().await;
    assert!(
        page.contains("Sa réponse au bilan, donnée sur papier"),
        "{page}"
    );
    browser
        .audit("réponse au bilan saisie par le médiateur")
        .await;
    // Contested without a reason: refused beside the reason.
    browser
        .tick("input[name='countersigns'][value='non']")
        .await;
    browser
        .click("form[action$='/reponse-au-bilan'] button")
        .await;
    browser.refused("disagreement", "obligatoire").await;
    browser.audit("réponse au bilan refusée, médiateur").await;
    let yesterday = (today - time::Duration::days(1)).to_string();
    browser
        .fill(
            "#disagreement",
            "Elle est venue tous les jours, même le samedi",
        )
        .await;
    browser.set_date("answered_on", &yesterday).await;
    browser
        .click("form[action$='/reponse-au-bilan'] button")
        .await;
    let page = browser.body().await;
    assert!(
        page.contains(&format!(
            "Bilan contesté par la personne le {}",
            passerelle_domain::fr::date(today - time::Duration::days(1))
        )),
        "{page}"
    );
    assert!(
        page.contains("Réponse donnée sur papier, saisie par son médiateur."),
        "{page}"
    );
    assert!(
        !page.contains("Sa réponse au bilan, donnée sur papier"),
        "{page}"
    );
    let seen = gql(
        &server,
        s,
        "query($i: ID!) { immersion(id: $i) { personFeedback { countersigns answeredOn
            answerRecorded { role } } } }",
        json!({ "i": id }),
    )
    .await;
    assert_eq!(
        seen["data"]["immersion"]["personFeedback"],
        json!({ "countersigns": false, "answeredOn": yesterday,
            "answerRecorded": { "role": "mediator" } }),
        "{seen}"
    );
    browser.close().await;
    assert!(server.terminate().success());
}

/// How many establishments a visit form offers to choose from.
async fn employer_choices(browser: &Browser) -> usize {
    browser
        .client
        .find_all(Locator::Css(
            "form[action='/visites'] input[name='employer'][type='radio']",
        ))
        .await
        .unwrap()
        .len()
}

#[tokio::test]
async fn the_visit_and_proposal_forms_find_the_establishment_among_more_than_a_hundred() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, staff) = started(&db, &dir).await;
    // A hundred establishments before it by name: the one visited comes
    // 101st.
    for n in 1..=100 {
        let id = register_employer(&server, &staff, &siret(n), &format!("Atelier {n:03}")).await;
        assert!(id.is_string(), "{id}");
    }
    let visited = register_employer(&server, &staff, &siret(101), "Zinguerie du Quai").await;
    let base = &server.base;
    browser.sign_in(base).await;
    browser.goto(&format!("{base}/visites/nouvelle")).await;
    // A page of them at a time, never a list cut short.
    assert_eq!(employer_choices(&browser).await, 20);
    browser.audit("visite, choix de l'établissement").await;
    browser.click(NEXT_EMPLOYERS).await;
    // Posted: the cursor travels in the form, not in the URL.
    let url = browser.client.current_url().await.unwrap();
    assert_eq!(url.path(), "/visites", "{url}");
    assert_eq!(url.query(), None, "{url}");
    assert_eq!(employer_choices(&browser).await, 20);
    // A made-up page's link: the first page, saying so.
    browser
        .goto(&format!("{base}/visites/nouvelle?apres=pas-un-curseur"))
        .await;
    assert!(
        browser
            .body()
            .await
            .contains("Ce lien de page n'est plus valable")
    );
    assert_eq!(employer_choices(&browser).await, 20);
    // The search narrows the choice to the one visited.
    browser.fill("#nom", "zinguerie").await;
    browser.click(SEARCH).await;
    assert_eq!(employer_choices(&browser).await, 1);
    browser.audit("visite, établissement cherché").await;
    // Sent without a choice: refused beside the choice, what was typed
    // kept, the search's result offered again.
    browser
        .fill("#observations", "Le gérant cherche un apprenti couvreur")
        .await;
    browser
        .click("form[action='/visites'] button:not([name])")
        .await;
    assert!(
        browser
            .text("#employer-erreur")
            .await
            .contains("Choisissez l'établissement")
    );
    assert_eq!(
        browser.value("#observations").await,
        "Le gérant cherche un apprenti couvreur"
    );
    assert_eq!(employer_choices(&browser).await, 1);
    browser.audit("visite, établissement à choisir").await;
    browser.tick("#employer-0").await;
    browser
        .click("form[action='/visites'] button:not([name])")
        .await;
    let page = browser.body().await;
    assert!(page.contains("Visite enregistrée"), "{page}");
    assert!(page.contains("Zinguerie du Quai"), "{page}");
    let seen = gql(
        &server,
        Some(&staff),
        "query($e: ID!) { employer(id: $e) { visitCount } }",
        json!({ "e": visited }),
    )
    .await;
    assert_eq!(seen["data"]["employer"]["visitCount"], 1, "{seen}");

    // An immersion proposed from the menu: the person found by her name
    // (posted, never in the URL), the employer among the hundred and one.
    let awa = enroll(&server, &staff, None).await;
    browser.goto(&format!("{base}/immersions/nouvelle")).await;
    browser.audit("proposition, choix de la personne").await;
    browser.fill("#nom_personne", "diallo").await;
    browser.click(SEARCH).await;
    let url = browser.client.current_url().await.unwrap();
    assert!(!url.as_str().to_lowercase().contains("diallo"), "{url}");
    browser.audit("proposition, personne cherchée").await;
    assert_eq!(
        browser.value("#person-0").await,
        awa.as_str().unwrap().to_owned()
    );
    browser.tick("#person-0").await;
    assert_eq!(employer_choices_in(&browser, "/immersions").await, 20);
    browser.audit("proposition, choix de l'employeur").await;
    browser.fill("#nom", "zinguerie").await;
    browser.click(SEARCH).await;
    assert_eq!(employer_choices_in(&browser, "/immersions").await, 1);
    browser
        .click("form[action='/immersions'] button:not([name])")
        .await;
    assert!(
        browser
            .text("#employer-erreur")
            .await
            .contains("Choisissez")
    );
    assert_eq!(employer_choices_in(&browser, "/immersions").await, 1);
    browser.audit("proposition, employeur à choisir").await;
    browser.tick("#employer-0").await;
    browser
        .click("form[action='/immersions'] button:not([name])")
        .await;
    let page = browser.body().await;
    assert!(page.contains("Immersion chez Zinguerie du Quai"), "{page}");
    assert!(page.contains("Awa Diallo"), "{page}");
    browser.close().await;
    assert!(server.terminate().success());
}

/// The search button of a form whose lists are its own buttons.
const SEARCH: &str = "button[name='liste'][value='chercher']:not([hidden])";
/// The establishments' next page, their first; the people's.
const NEXT_EMPLOYERS: &str = "button[name='liste'][value='suivants']";
const FIRST_EMPLOYERS: &str = "button[name='liste'][value='debut']";
const NEXT_PEOPLE: &str = "button[name='liste'][value='personnes_suivantes']";
const FIRST_PEOPLE: &str = "button[name='liste'][value='personnes_debut']";

/// Presses Enter in a field, then waits for the next page to load.
async fn press_enter(browser: &Browser, css: &str) {
    browser
        .client
        .execute("window.__leaving = true;", vec![])
        .await
        .unwrap();
    browser
        .client
        .find(Locator::Css(css))
        .await
        .unwrap()
        .send_keys("\u{E007}")
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let loaded = browser
            .client
            .execute(
                "return window.__leaving === undefined && document.readyState === 'complete';",
                vec![],
            )
            .await
            .unwrap_or(json!(false));
        if loaded == json!(true) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no page after Enter in {css}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    }
}

/// What the visit form holds besides its establishment: date, purpose,
/// observations.
async fn visit_fields(browser: &Browser) -> [String; 3] {
    [
        browser.value("#visited_on").await,
        browser.value("#purpose").await,
        browser.value("#observations").await,
    ]
}

#[tokio::test]
async fn the_visit_forms_search_and_pages_keep_what_was_typed() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, staff) = started(&db, &dir).await;
    for n in 1..=25 {
        let id = register_employer(&server, &staff, &siret(n), &format!("Atelier {n:03}")).await;
        assert!(id.is_string(), "{id}");
    }
    let visited = register_employer(&server, &staff, &siret(26), "Zinguerie du Quai").await;
    let base = &server.base;
    browser.sign_in(base).await;
    browser.goto(&format!("{base}/visites/nouvelle")).await;
    // Typed first, the establishment looked for after.
    browser.set_date("visited_on", "2026-01-15").await;
    browser
        .client
        .execute(
            "document.getElementById('purpose').value = 'FOLLOW_UP';",
            vec![],
        )
        .await
        .unwrap();
    browser
        .fill("#observations", "Le gérant cherche un apprenti couvreur")
        .await;
    let typed = visit_fields(&browser).await;
    assert_eq!(typed[0], "2026-01-15");
    assert_eq!(typed[1], "FOLLOW_UP");
    // The next page of establishments: what was typed is still there.
    browser.click(NEXT_EMPLOYERS).await;
    assert_eq!(employer_choices(&browser).await, 6);
    assert_eq!(visit_fields(&browser).await, typed);
    let url = browser.client.current_url().await.unwrap();
    assert_eq!(url.query(), None, "{url}");
    browser
        .audit("visite, deuxième page d'établissements")
        .await;
    // Back to the first page: still there.
    browser.click(FIRST_EMPLOYERS).await;
    assert_eq!(employer_choices(&browser).await, 20);
    assert_eq!(visit_fields(&browser).await, typed);
    // The search, by its button then by the Enter key.
    browser.fill("#nom", "atelier 02").await;
    browser.click(SEARCH).await;
    assert_eq!(employer_choices(&browser).await, 6);
    assert_eq!(visit_fields(&browser).await, typed);
    browser.fill("#nom", "zinguerie").await;
    press_enter(&browser, "#nom").await;
    assert_eq!(employer_choices(&browser).await, 1);
    assert_eq!(browser.value("#nom").await, "zinguerie");
    assert_eq!(visit_fields(&browser).await, typed);
    browser
        .audit("visite, établissement cherché, saisie gardée")
        .await;
    // Chosen, then the Enter key in the date: it stays chosen, nothing lost.
    browser.tick("#employer-0").await;
    browser.fill("#nom", "").await;
    press_enter(&browser, "#visited_on").await;
    assert_eq!(browser.value("#employer").await, visited.as_str().unwrap());
    assert_eq!(visit_fields(&browser).await, typed);
    // Sent: the visit as typed before the search.
    browser
        .click("form[action='/visites'] button:not([name])")
        .await;
    let page = browser.body().await;
    assert!(page.contains("Visite enregistrée"), "{page}");
    let seen = gql(
        &server,
        Some(&staff),
        "query($e: ID!) { employer(id: $e) { visits { observations purpose visitedOn } } }",
        json!({ "e": visited }),
    )
    .await;
    assert_eq!(
        seen["data"]["employer"]["visits"],
        json!([{ "observations": "Le gérant cherche un apprenti couvreur",
            "purpose": "FOLLOW_UP", "visitedOn": "2026-01-15" }]),
        "{seen}"
    );
    browser.close().await;
    assert!(server.terminate().success());
}

/// How many people the proposal's form offers to choose from.
async fn person_choices(browser: &Browser) -> usize {
    browser
        .client
        .find_all(Locator::Css(
            "form[action='/immersions'] input[name='person'][type='radio']",
        ))
        .await
        .unwrap()
        .len()
}

/// What the proposal's form holds besides its person and employer: the
/// objective ticked, the message.
async fn proposal_fields(browser: &Browser) -> (String, String) {
    (
        browser.value("input[name='objective']:checked").await,
        browser.value("#message").await,
    )
}

#[tokio::test]
async fn the_proposal_form_pages_the_people_found_and_keeps_what_was_typed() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, staff) = started(&db, &dir).await;
    for n in 1..=25 {
        let id = register_employer(&server, &staff, &siret(n), &format!("Atelier {n:03}")).await;
        assert!(id.is_string(), "{id}");
    }
    // 21 people of the same name: a page of 20, then the 21st.
    for _ in 0..21 {
        assert!(enroll(&server, &staff, None).await.is_string());
    }
    let listed = gql(
        &server,
        Some(&staff),
        "query { people(first: 21, filter: { name: \"diallo\" }) { edges { node { id } } } }",
        json!({}),
    )
    .await;
    let ids: Vec<String> = listed["data"]["people"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 21, "{listed}");
    let base = &server.base;
    browser.sign_in(base).await;
    browser.goto(&format!("{base}/immersions/nouvelle")).await;
    browser
        .tick("input[name='objective'][value='CONFIRM_PROJECT']")
        .await;
    browser
        .fill("#message", "Une semaine au fournil pour voir")
        .await;
    let typed = proposal_fields(&browser).await;
    assert_eq!(typed.0, "CONFIRM_PROJECT");
    browser.fill("#nom_personne", "diallo").await;
    browser.click(SEARCH).await;
    assert_eq!(person_choices(&browser).await, 20);
    assert_eq!(proposal_fields(&browser).await, typed);
    // The people's next page: the 21st, none of the first 20 again.
    browser.click(NEXT_PEOPLE).await;
    let url = browser.client.current_url().await.unwrap();
    assert!(!url.as_str().to_lowercase().contains("diallo"), "{url}");
    assert_eq!(url.query(), None, "{url}");
    assert_eq!(person_choices(&browser).await, 1);
    assert_eq!(browser.value("#person-0").await, ids[20]);
    assert_eq!(browser.value("#nom_personne").await, "diallo");
    assert_eq!(proposal_fields(&browser).await, typed);
    browser
        .audit("proposition, deuxième page de personnes")
        .await;
    browser.click(FIRST_PEOPLE).await;
    assert_eq!(person_choices(&browser).await, 20);
    assert_eq!(browser.value("#person-0").await, ids[0]);
    assert_eq!(proposal_fields(&browser).await, typed);
    browser.click(NEXT_PEOPLE).await;
    assert_eq!(browser.value("#person-0").await, ids[20]);
    // Sent with no one chosen: refused beside the choice, nothing lost.
    browser
        .click("form[action='/immersions'] button:not([name])")
        .await;
    assert!(
        browser
            .text("#person-erreur")
            .await
            .contains("Choisissez la personne")
    );
    assert!(
        browser
            .text("#employer-erreur")
            .await
            .contains("Choisissez l'employeur")
    );
    assert_eq!(browser.value("#person-0").await, ids[20]);
    assert_eq!(proposal_fields(&browser).await, typed);
    browser
        .audit("proposition, personne et employeur à choisir")
        .await;
    // The 21st chosen, then the employers' next page: she stays chosen.
    browser.tick("#person-0").await;
    browser.click(NEXT_EMPLOYERS).await;
    assert_eq!(browser.value("#person").await, ids[20]);
    assert_eq!(employer_choices_in(&browser, "/immersions").await, 5);
    assert_eq!(proposal_fields(&browser).await, typed);
    browser
        .audit("proposition, deuxième page d'employeurs")
        .await;
    // Another person asked for, then found again: the employer ticked
    // stays chosen, and the rest of the form as typed.
    browser.tick("#employer-0").await;
    let employer = browser.value("#employer-0").await;
    browser
        .click("button[name='liste'][value='autre_personne']")
        .await;
    assert_eq!(person_choices(&browser).await, 0);
    assert_eq!(browser.value("#nom_personne").await, "");
    assert_eq!(browser.value("#employer").await, employer);
    assert_eq!(proposal_fields(&browser).await, typed);
    browser.fill("#nom_personne", "diallo").await;
    browser.click(SEARCH).await;
    browser.click(NEXT_PEOPLE).await;
    browser.tick("#person-0").await;
    assert_eq!(browser.value("#employer").await, employer);
    assert_eq!(proposal_fields(&browser).await, typed);
    browser
        .click("form[action='/immersions'] button:not([name])")
        .await;
    let url = browser.client.current_url().await.unwrap();
    let immersion = url
        .path()
        .strip_prefix("/immersions/")
        .unwrap_or_else(|| panic!("{url}"))
        .to_owned();
    let page = browser.body().await;
    assert!(page.contains("Immersion chez Atelier 021"), "{page}");
    let seen = gql(
        &server,
        Some(&staff),
        "query($i: ID!) { immersion(id: $i) { personId pmsmpObjective } }",
        json!({ "i": immersion }),
    )
    .await;
    assert_eq!(
        seen["data"]["immersion"],
        json!({ "personId": ids[20], "pmsmpObjective": "CONFIRM_PROJECT" }),
        "{seen}"
    );
    browser.close().await;
    assert!(server.terminate().success());
}

/// How many establishments the form posted to `action` offers.
async fn employer_choices_in(browser: &Browser, action: &str) -> usize {
    browser
        .client
        .find_all(Locator::Css(&format!(
            "form[action='{action}'] input[name='employer'][type='radio']"
        )))
        .await
        .unwrap()
        .len()
}

#[tokio::test]
async fn the_employers_and_the_persons_spaces_go_a_page_at_a_time() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, staff) = started_with_links(&db, &dir).await;
    let employer = register_employer(&server, &staff, &siret(1), "Boulangerie du Port").await;
    let added = gql(
        &server,
        Some(&staff),
        "mutation($e: ID!) { employerContactAdd(input: { employerId: $e, name: \"Lucie Bernard\",
            email: \"lucie@boulangerie-du-port.fr\" }) { employer { id } } }",
        json!({ "e": employer }),
    )
    .await;
    assert!(added["errors"].is_null(), "{added}");
    let mut needs = Vec::new();
    for n in 1..=22 {
        let done = gql(
            &server,
            Some(&staff),
            "mutation($e: ID!, $o: String!) { employerVisitLog(input: { employerId: $e,
                purpose: PROSPECTION, observations: $o }) { employer { id } } }",
            json!({ "e": employer, "o": format!("Visite numéro {n:02}") }),
        )
        .await;
        assert!(done["errors"].is_null(), "{done}");
        let done = gql(
            &server,
            Some(&staff),
            "mutation($e: ID!, $a: String!) { needSurface(input: { employerId: $e,
                source: { kind: PHONE }, description: { activities: $a, romeCodes: [\"D1102\"],
                horizon: NOW, hiringIntent: POSSIBLE } }) { need { id } } }",
            json!({ "e": employer, "a": format!("Besoin numéro {n:02}") }),
        )
        .await;
        assert!(done["errors"].is_null(), "{done}");
        needs.push(done["data"]["needSurface"]["need"]["id"].clone());
    }
    for mutation in [
        "mutation($n: ID!) { needQualify(input: { needId: $n, description: {
            activities: \"Besoin numéro 01\", romeCodes: [\"D1102\"], horizon: NOW,
            hiringIntent: POSSIBLE } }) { need { id } } }",
        "mutation($n: ID!) { needFormalise(input: { needId: $n,
            offerReference: \"FT-192XKLM\" }) { need { id } } }",
    ] {
        let done = gql(&server, Some(&staff), mutation, json!({ "n": needs[0] })).await;
        assert!(done["errors"].is_null(), "{done}");
    }
    let awa = enroll(&server, &staff, Some("awa.diallo@example.org")).await;
    for _ in 1..=21 {
        let id = propose(&server, &staff, &awa, &employer).await;
        assert!(id.is_string(), "{id}");
    }
    let base = &server.base;

    // The establishment's space: each list a page at a time.
    browser.goto(&format!("{base}/")).await;
    browser
        .fill("#lien-email", "lucie@boulangerie-du-port.fr")
        .await;
    browser.click("form[action='/lien'] button").await;
    let token = logged_link(&server, 0).await;
    browser.goto(&format!("{base}/acces/{token}")).await;
    browser.click("form[action='/acces'] button").await;
    let first_needs = rows_under(&browser, "besoins").await;
    assert_eq!(first_needs.len(), 20, "{first_needs:?}");
    assert_eq!(rows_under(&browser, "visites").await.len(), 20);
    assert_eq!(rows_under(&browser, "immersions").await.len(), 20);
    browser.audit("portail, premières pages").await;
    browser
        .click("nav[aria-label='Pages de vos besoins'] a[rel='next']")
        .await;
    let url = browser.client.current_url().await.unwrap();
    assert!(
        url.query().unwrap_or_default().starts_with("besoins="),
        "{url}"
    );
    let more_needs = rows_under(&browser, "besoins").await;
    assert_eq!(more_needs.len(), 2, "{more_needs:?}");
    assert_eq!(rows_under(&browser, "visites").await.len(), 20);
    let mut seen: Vec<&String> = first_needs.iter().chain(&more_needs).collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 22, "each need once");
    // The need that became an offer says so, with its reference.
    let offers: Vec<&&String> = seen
        .iter()
        .filter(|n| n.contains("Offre publiée"))
        .collect();
    assert_eq!(offers.len(), 1, "{seen:?}");
    assert!(offers[0].contains("Besoin numéro 01"), "{offers:?}");
    assert!(
        offers[0].contains("Offre publiée : FT-192XKLM"),
        "{offers:?}"
    );
    browser.audit("portail, besoins page 2").await;
    browser
        .click("nav[aria-label='Pages des visites'] a[rel='next']")
        .await;
    assert_eq!(rows_under(&browser, "visites").await.len(), 2);
    assert_eq!(rows_under(&browser, "besoins").await.len(), 2);
    browser
        .click("nav[aria-label='Pages de vos immersions'] a[rel='next']")
        .await;
    assert_eq!(rows_under(&browser, "immersions").await.len(), 1);
    // A page's link no longer valid: every list from its start, saying so.
    browser
        .goto(&format!("{base}/?besoins=zz&immersions=AAAA"))
        .await;
    let page = browser.body().await;
    assert!(
        page.contains("Ce lien de page n'est plus valable"),
        "{page}"
    );
    assert_eq!(rows_under(&browser, "besoins").await, first_needs);
    assert_eq!(rows_under(&browser, "immersions").await.len(), 20);
    browser.audit("portail, lien de page périmé").await;

    // The person's space: her immersions a page at a time.
    browser.click("form[action='/deconnexion'] button").await;
    browser.fill("#lien-email", "awa.diallo@example.org").await;
    browser.click("form[action='/lien'] button").await;
    let token = logged_link(&server, 1).await;
    browser.goto(&format!("{base}/acces/{token}")).await;
    browser.click("form[action='/acces'] button").await;
    assert_eq!(rows_under(&browser, "immersions").await.len(), 20);
    browser.audit("espace de la personne, immersions").await;
    browser
        .click("nav[aria-label='Pages de vos immersions'] a[rel='next']")
        .await;
    assert_eq!(rows_under(&browser, "immersions").await.len(), 1);
    browser
        .audit("espace de la personne, immersions page 2")
        .await;
    browser.close().await;
    assert!(server.terminate().success());
}

#[tokio::test]
async fn the_home_search_the_needs_people_and_the_team_filter_are_never_cut_short() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, staff) = started(&db, &dir).await;
    // A team of more than a hundred: the dashboards' filter lists them all.
    create_staff(
        &db,
        &dir,
        "Mission locale de Nantes",
        "manager",
        "lea@ml-nantes.fr",
    );
    let manager = login(&server, "lea@ml-nantes.fr").await;
    for n in 1..=100 {
        let done = gql(
            &server,
            Some(&manager),
            "mutation($n: String!, $e: String!) { staffCreate(input: { name: $n, email: $e,
                role: MEDIATOR }) { member { id } } }",
            json!({ "n": format!("Médiateur {n:03}"), "e": format!("m{n:03}@ml-nantes.fr") }),
        )
        .await;
        assert!(done["errors"].is_null(), "{done}");
    }
    let done = gql(
        &server,
        Some(&manager),
        "mutation { staffCreate(input: { name: \"Zoé Martin\", email: \"zoe@ml-nantes.fr\",
            role: MEDIATOR }) { member { id } } }",
        json!({}),
    )
    .await;
    assert!(done["errors"].is_null(), "{done}");
    let (status, _, page) = web_get(&server, &manager, "/tableaux/employeurs").await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("Zoé Martin"),
        "the team's 103rd member is offered"
    );

    // 21 people whose project is the need's job, 11 establishments alike.
    for _ in 1..=21 {
        let person = enroll(&server, &staff, None).await;
        let done = gql(
            &server,
            Some(&staff),
            "mutation($p: ID!) { projectState(input: { personId: $p,
                project: { targetRomeCodes: [\"D1102\"] } }) { person { id } } }",
            json!({ "p": person }),
        )
        .await;
        assert!(done["errors"].is_null(), "{done}");
    }
    let mut employer = Value::Null;
    for n in 1..=11 {
        employer =
            register_employer(&server, &staff, &siret(n), &format!("Boulangerie {n:02}")).await;
    }
    let done = gql(
        &server,
        Some(&staff),
        "mutation($e: ID!) { needSurface(input: { employerId: $e, source: { kind: PHONE },
            description: { activities: \"Pétrir et façonner\", romeCodes: [\"D1102\"],
            horizon: NOW, hiringIntent: POSSIBLE } }) { need { id } } }",
        json!({ "e": employer }),
    )
    .await;
    let need = done["data"]["needSurface"]["need"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let base = &server.base;
    browser.sign_in(base).await;

    // The home search shows ten of each kind, and leads to the rest.
    browser.fill("#q", "diallo").await;
    browser.click("form[action='/recherche'] button").await;
    let people = browser
        .client
        .find_all(Locator::Css("ul[aria-labelledby='trouve-personnes'] > li"))
        .await
        .unwrap();
    assert_eq!(people.len(), 10);
    browser.audit("recherche, plus de résultats").await;
    browser
        .click("form[action='/people/recherche'] input[name='nom'][value='diallo'] ~ button")
        .await;
    assert_eq!(
        browser
            .client
            .find_all(Locator::Css("main ul.tasks > li"))
            .await
            .unwrap()
            .len(),
        20
    );
    browser.goto(&format!("{base}/")).await;
    browser.fill("#q", "boulangerie").await;
    browser.click("form[action='/recherche'] button").await;
    browser
        .click(
            "form[action='/employers/recherche'] input[name='nom'][value='boulangerie'] ~ button",
        )
        .await;
    assert!(
        !browser
            .client
            .current_url()
            .await
            .unwrap()
            .as_str()
            .contains("boulangerie")
    );
    assert_eq!(
        browser
            .client
            .find_all(Locator::Css("main ul.tasks > li"))
            .await
            .unwrap()
            .len(),
        11
    );

    // The need's page: the people whose project fits, a page at a time.
    let url = format!("{base}/needs/{need}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        browser.goto(&url).await;
        if rows_in(&browser, "personnes").await == 20 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{}",
            browser.body().await
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    browser.audit("besoin, personnes page 1").await;
    browser
        .click("nav[aria-label='Pages des personnes dont le projet correspond'] a[rel='next']")
        .await;
    assert_eq!(rows_in(&browser, "personnes").await, 1);
    browser.audit("besoin, personnes page 2").await;
    browser.goto(&format!("{url}?personnes=zz")).await;
    assert!(
        browser
            .body()
            .await
            .contains("Ce lien de page n'est plus valable")
    );
    assert_eq!(rows_in(&browser, "personnes").await, 20);
    // Every list's page link no longer valid: its start, saying so.
    for (token, path) in [
        (&staff, "/people?apres=zz"),
        (&staff, "/employers?nom=boulangerie&apres=AAAA"),
        (&staff, "/besoins?apres=n%27importe-quoi"),
        (&manager, "/administration?journal=zz"),
    ] {
        let (status, _, page) = web_get(&server, token, path).await;
        assert_eq!(status, 200, "{path}: {page}");
        assert!(
            page.contains("Ce lien de page n&#39;est plus valable")
                || page.contains("Ce lien de page n'est plus valable"),
            "{path}: {page}"
        );
    }
    browser.close().await;
    assert!(server.terminate().success());
}

/// How many rows the leads' list of the section headed `id` has.
async fn rows_in(browser: &Browser, id: &str) -> usize {
    browser
        .client
        .find_all(Locator::Css(&format!(
            "section[aria-labelledby='{id}'] ul.leads > li"
        )))
        .await
        .unwrap()
        .len()
}

/// The staff of her structure, as she asks them, change who reads one of
/// her testimonies and withdraw another after confirming, from her file;
/// a change on a testimony withdrawn meanwhile is refused beside it. The
/// log records who did each.
#[tokio::test]
async fn staff_change_who_reads_her_testimony_and_withdraw_it_from_her_file() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, staff) = started(&db, &dir).await;
    let ok = |query: &'static str, variables: Value| {
        let (server, staff) = (&server, &staff);
        async move {
            let answer = gql(server, Some(staff), query, variables).await;
            assert!(answer["errors"].is_null(), "{query}: {answer}");
            answer["data"].clone()
        }
    };
    let person = enroll(&server, &staff, None).await;
    let p = person.as_str().unwrap().to_owned();
    ok(
        "mutation($p: ID!) { consentGive(input: { personId: $p, purpose: TESTIMONY,
            textVersion: \"v1\", signedForm: true }) { person { id } } }",
        json!({ "p": p }),
    )
    .await;
    let mut testimonies = Vec::new();
    for account in ["De la caisse à la boulangerie", "Du quai au fournil"] {
        let t = ok(
            "mutation($p: ID!, $t: String!) { testimonyRecord(input: { personId: $p,
                account: $t, romeCodes: [\"D1101\"], audience: OWN_STRUCTURE_MEDIATORS }) {
                testimonyId } }",
            json!({ "p": p, "t": account }),
        )
        .await["testimonyRecord"]["testimonyId"]
            .as_str()
            .unwrap()
            .to_owned();
        testimonies.push(t);
    }
    let (first, second) = (&testimonies[0], &testimonies[1]);
    let base = &server.base;

    // From her file, her testimonies, each with who reads it in French.
    browser.sign_in(base).await;
    browser.goto(&format!("{base}/people/{p}")).await;
    browser
        .click(&format!("a[href='/people/{p}/temoignage']"))
        .await;
    let page = browser.body().await;
    assert!(page.contains("Témoignages de Awa Diallo"), "{page}");
    assert!(
        page.contains("Qui peut le lire : Les médiateurs de la structure seulement."),
        "{page}"
    );
    browser
        .audit("témoignages d'une personne, à changer ou retirer")
        .await;

    // She asks that the territory read the first one.
    let form = format!("form[action='/people/{p}/temoignages/{first}/public']");
    browser
        .tick(&format!("{form} input[value='TERRITORY']"))
        .await;
    browser.click(&format!("{form} button")).await;
    let page = browser.body().await;
    assert!(
        page.contains("Enregistré : seules ces personnes peuvent désormais lire ce témoignage."),
        "{page}"
    );
    assert!(
        page.contains(
            "Qui peut le lire : Toutes les structures du territoire et les personnes qu'elles accompagnent."
        ),
        "{page}"
    );

    // The second, withdrawn meanwhile by a colleague: the change is refused
    // beside it, in French.
    ok(
        "mutation($t: ID!) { testimonyWithdraw(input: { testimonyId: $t }) { testimonyId } }",
        json!({ "t": second }),
    )
    .await;
    let form = format!("form[action='/people/{p}/temoignages/{second}/public']");
    browser
        .tick(&format!("{form} input[value='TERRITORY']"))
        .await;
    browser.click(&format!("{form} button")).await;
    let refused = browser
        .text(&format!(
            "section[aria-labelledby='temoignage-{second}'] .alert"
        ))
        .await;
    assert!(refused.contains("a été retiré"), "{refused}");
    browser.audit("changement refusé, témoignage retiré").await;

    // The first withdrawn, after confirming.
    browser
        .click(&format!(
            "a[href='/people/{p}/temoignages/{first}/retirer']"
        ))
        .await;
    let page = browser.body().await;
    assert!(
        page.contains("Retirer le témoignage de Awa Diallo"),
        "{page}"
    );
    assert!(page.contains("De la caisse à la boulangerie"), "{page}");
    browser
        .audit("retrait d'un témoignage par le personnel")
        .await;
    browser.click("form[action$='/retirer'] button").await;
    let page = browser.body().await;
    assert!(
        page.contains("Témoignage retiré : plus personne ne peut le lire."),
        "{page}"
    );
    assert!(
        !page.contains("Retirer ce témoignage à sa demande"),
        "{page}"
    );
    assert_eq!(page.matches("Retiré le").count(), 2, "{page}");
    browser.audit("témoignages d'une personne, retirés").await;

    // Each recorded as the staff member's, as the API records it.
    let by: Vec<(String, String, String)> = sqlx::query_as(
        "select event_type, actor, role from events
         where event_type in ('testimony_audience_changed', 'testimony_withdrawn')
         order by global_position",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(by.len(), 3, "{by:?}");
    assert!(
        by.iter()
            .all(|(_, actor, role)| actor.starts_with("user:") && role == "mediator"),
        "{by:?}"
    );
    browser.close().await;
    assert!(server.terminate().success());
}

/// Her accompaniment ended, she asks for her link as before and signs in:
/// her space says since when, offers no consent to give any more, and she
/// withdraws a consent and her testimony herself.
#[tokio::test]
async fn a_person_whose_accompaniment_ended_withdraws_her_consent_and_testimony_from_her_space() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, staff) = started_with_links(&db, &dir).await;
    let ok = |query: &'static str, variables: Value| {
        let (server, staff) = (&server, &staff);
        async move {
            let answer = gql(server, Some(staff), query, variables).await;
            assert!(answer["errors"].is_null(), "{query}: {answer}");
            answer["data"].clone()
        }
    };
    let person = enroll(&server, &staff, Some("ines@exemple.fr")).await;
    for purpose in ["TESTIMONY", "PEER_CONTACT"] {
        ok(
            "mutation($p: ID!, $c: ConsentPurpose!) { consentGive(input: { personId: $p,
                purpose: $c, textVersion: \"v1\", signedForm: true }) { person { id } } }",
            json!({ "p": person, "c": purpose }),
        )
        .await;
    }
    ok(
        "mutation($p: ID!) { testimonyRecord(input: { personId: $p,
            account: \"De la caisse à la boulangerie\", romeCodes: [\"D1101\"],
            audience: TERRITORY }) { testimonyId } }",
        json!({ "p": person }),
    )
    .await;
    ok(
        "mutation($p: ID!) { personExit(input: { personId: $p, reason: TRAINING }) {
            person { id } } }",
        json!({ "p": person }),
    )
    .await;

    person_space(&browser, &server, "ines@exemple.fr", 0).await;
    let page = browser.body().await;
    assert!(page.contains("Votre espace"), "{page}");
    let year = time::OffsetDateTime::now_utc().year();
    assert!(
        page.contains("Votre accompagnement a pris fin le ") && page.contains(&year.to_string()),
        "{page}"
    );
    assert!(!page.contains("Donner mon accord"), "{page}");
    browser
        .audit("espace d'une personne dont l'accompagnement a pris fin")
        .await;
    browser
        .click("form:has(input[value='TESTIMONY']) button[value='retirer']")
        .await;
    let page = browser.body().await;
    assert!(
        page.contains("Votre accompagnement a pris fin le "),
        "{page}"
    );
    assert_eq!(
        browser
            .client
            .find_all(Locator::Css("button[value='retirer']"))
            .await
            .unwrap()
            .len(),
        1,
        "{page}"
    );

    browser.click("a[href='/mon-espace/temoignages']").await;
    let page = browser.body().await;
    assert!(
        page.contains("Votre accompagnement a pris fin le "),
        "{page}"
    );
    assert!(page.contains("De la caisse à la boulangerie"), "{page}");
    browser
        .audit("mes témoignages, accompagnement terminé")
        .await;
    browser.click("a[href$='/retirer']").await;
    browser.click("form[action$='/retirer'] button").await;
    let page = browser.body().await;
    assert!(page.contains("Votre témoignage est retiré"), "{page}");
    browser.close().await;
    assert!(server.terminate().success());
}

/// The forms and links a party acts on an immersion with, on its page and
/// on its convention's: answering, reading to sign, signing, feedback.
async fn party_actions(browser: &Browser) -> usize {
    browser
        .client
        .find_all(Locator::Css(
            "form[action$='/reponse'], form[action$='/signature'], form[action$='/retour'], \
             form[action$='/reponse-au-bilan'], a.button[href$='/convention/imprimer']",
        ))
        .await
        .unwrap()
        .len()
}

#[tokio::test]
async fn a_person_whose_accompaniment_ended_reads_her_immersions_with_nothing_to_answer_or_sign() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, staff) = started_with_links(&db, &dir).await;
    let ok = |query: &'static str, variables: Value| {
        let (server, staff) = (&server, &staff);
        async move {
            let answer = gql(server, Some(staff), query, variables).await;
            assert!(answer["errors"].is_null(), "{query}: {answer}");
        }
    };
    let today = paris_today().to_string();
    let person = enroll(&server, &staff, Some("nora@exemple.fr")).await;
    let accept = "mutation($i: ID!, $b: Party!) { immersionAccept(input: { immersionId: $i,
        by: $b }) { immersion { id } } }";
    let draft = "mutation($i: ID!, $c: ConventionInput!) { conventionDraft(input: {
        immersionId: $i, convention: $c }) { immersion { id } } }";
    // Proposed: her answer awaited.
    let atelier = register_employer(&server, &staff, "51208345000019", "Atelier des Lilas").await;
    let proposed = propose(&server, &staff, &person, &atelier).await;
    ok(accept, json!({ "i": proposed, "b": "EMPLOYER" })).await;
    // Drafted: her signature awaited.
    let bakery = register_employer(&server, &staff, "73282932000074", "Boulangerie du Port").await;
    let drafted = propose(&server, &staff, &person, &bakery).await;
    for by in ["EMPLOYER", "PERSON"] {
        ok(accept, json!({ "i": drafted, "b": by })).await;
    }
    ok(
        draft,
        json!({ "i": drafted, "c": convention(&today, 35.0) }),
    )
    .await;
    // Completed: her feedback awaited.
    let garage = register_employer(&server, &staff, "44306184100047", "Garage Central").await;
    let completed = propose(&server, &staff, &person, &garage).await;
    let mut terms = convention(&today, 35.0);
    terms["host"]["siret"] = json!("44306184100047");
    terms["host"]["name"] = json!("Garage Central");
    for by in ["EMPLOYER", "PERSON"] {
        ok(accept, json!({ "i": completed, "b": by })).await;
    }
    ok(draft, json!({ "i": completed, "c": terms })).await;
    for step in [
        "mutation($i: ID!, $d: Date) { conventionSign(input: { immersionId: $i, signatory: PERSON, onPaperOn: $d }) { immersion { id } } }",
        "mutation($i: ID!, $d: Date) { conventionSign(input: { immersionId: $i, signatory: HOST, onPaperOn: $d }) { immersion { id } } }",
        "mutation($i: ID!) { conventionSign(input: { immersionId: $i, signatory: PRESCRIBER }) { immersion { id } } }",
        "mutation($i: ID!) { conventionValidate(input: { immersionId: $i }) { immersion { id } } }",
        "mutation($i: ID!) { immersionStart(input: { immersionId: $i }) { immersion { id } } }",
        "mutation($i: ID!) { immersionComplete(input: { immersionId: $i }) { immersion { id } } }",
    ] {
        ok(step, json!({ "i": completed, "d": today })).await;
    }
    let page_of = |id: &Value| format!("{}/immersions/{}", server.base, id.as_str().unwrap());

    // While her accompaniment runs, each awaits something of her.
    person_space(&browser, &server, "nora@exemple.fr", 0).await;
    browser.goto(&page_of(&proposed)).await;
    assert!(browser.body().await.contains("J'accepte cette immersion"));
    browser.goto(&page_of(&drafted)).await;
    assert!(
        browser
            .body()
            .await
            .contains("Lire la convention pour la signer")
    );
    browser
        .click("a.button[href$='/convention/imprimer']")
        .await;
    assert_eq!(party_actions(&browser).await, 1, "{}", browser.body().await);
    browser.goto(&page_of(&completed)).await;
    assert!(browser.body().await.contains("Votre retour"));

    ok(
        "mutation($p: ID!) { personExit(input: { personId: $p, reason: TRAINING }) {
            person { id } } }",
        json!({ "p": person }),
    )
    .await;

    // Once it ended, her session still open, she reads each of them with
    // nothing left to answer, sign or give.
    browser.goto(&format!("{}/", server.base)).await;
    assert!(
        browser
            .body()
            .await
            .contains("Votre accompagnement a pris fin le ")
    );
    for (id, host, stage) in [
        (&proposed, "Atelier des Lilas", "Proposée"),
        (&drafted, "Boulangerie du Port", "Convention rédigée"),
        (&completed, "Garage Central", "Terminée"),
    ] {
        browser.goto(&page_of(id)).await;
        let page = browser.body().await;
        assert!(page.contains(host) && page.contains(stage), "{page}");
        assert!(
            page.contains("mais plus y répondre, la signer ni donner votre retour ici"),
            "{page}"
        );
        for offered in [
            "J'accepte cette immersion",
            "Je décline",
            "Lire la convention pour la signer",
            "Votre retour",
            "Envoyer mon retour",
        ] {
            assert!(!page.contains(offered), "{offered:?} offered:\n{page}");
        }
        assert_eq!(party_actions(&browser).await, 0, "{page}");
    }
    browser
        .audit("immersion terminée, accompagnement terminé")
        .await;
    // The convention she can no longer sign, read whole.
    browser.goto(&page_of(&drafted)).await;
    browser.click("a[href$='/convention/imprimer']").await;
    let page = browser.body().await;
    assert!(
        page.contains("Boulangerie du Port") && page.contains("Peser, pétrir, façonner"),
        "{page}"
    );
    assert!(!page.contains("Signer la convention en ligne"), "{page}");
    assert_eq!(party_actions(&browser).await, 0, "{page}");
    browser
        .audit("convention à lire, accompagnement terminé")
        .await;
    browser.goto(&page_of(&proposed)).await;
    browser
        .audit("immersion proposée, accompagnement terminé")
        .await;
    browser.close().await;
    assert!(server.terminate().success());
}

/// Whether the page links to the person's file.
async fn lists_person(browser: &Browser, person: &Value) -> bool {
    !browser
        .client
        .find_all(Locator::Css(&format!(
            "ul.tasks a[href='/people/{}']",
            person.as_str().unwrap()
        )))
        .await
        .unwrap()
        .is_empty()
}

#[tokio::test]
async fn the_people_list_filters_by_where_each_person_stands() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, staff) = started(&db, &dir).await;
    let newcomer = enroll(&server, &staff, None).await;
    let stated = enroll(&server, &staff, None).await;
    let answer = gql(
        &server,
        Some(&staff),
        "mutation($p: ID!) { projectState(input: { personId: $p,
            project: { targetRomeCodes: [\"D1102\"] } }) { person { id } } }",
        json!({ "p": stated }),
    )
    .await;
    assert!(answer["errors"].is_null(), "{answer}");
    browser.sign_in(&server.base).await;
    browser.goto(&format!("{}/people", server.base)).await;
    assert!(lists_person(&browser, &newcomer).await && lists_person(&browser, &stated).await);
    let page = browser.body().await;
    for label in [
        "Où en est la personne",
        "Toutes les étapes",
        "Projet pas encore formulé",
        "Projet formulé, sans immersion en cours",
        "Immersion en cours",
        "Sortie vers l'emploi",
        "Sortie pour une autre raison",
    ] {
        assert!(page.contains(label), "{label:?} missing:\n{page}");
    }
    browser.audit("personnes, filtre par étape").await;

    // Searched by stage: the one whose project is stated, the choice kept.
    browser.tick("#etape option[value='PROJECT_STATED']").await;
    browser.click("form[role='search'] button").await;
    assert!(
        lists_person(&browser, &stated).await,
        "{}",
        browser.body().await
    );
    assert!(
        !lists_person(&browser, &newcomer).await,
        "{}",
        browser.body().await
    );
    assert_eq!(browser.value("#etape").await, "PROJECT_STATED");
    browser.audit("personnes filtrées par étape").await;

    // The list's own link (its pages carry it): the one without a project.
    browser
        .goto(&format!("{}/people?etape=NO_PROJECT_YET", server.base))
        .await;
    assert!(
        lists_person(&browser, &newcomer).await,
        "{}",
        browser.body().await
    );
    assert!(
        !lists_person(&browser, &stated).await,
        "{}",
        browser.body().await
    );
    assert_eq!(browser.value("#etape").await, "NO_PROJECT_YET");
    browser.close().await;
    assert!(server.terminate().success());
}

#[tokio::test]
async fn the_employers_file_says_its_hosting_capacity_and_lists_its_contacts() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, staff) = started(&db, &dir).await;
    let employer =
        register_employer(&server, &staff, "73282932000074", "Boulangerie du Port").await;
    let id = employer.as_str().unwrap().to_owned();
    browser.sign_in(&server.base).await;
    browser
        .goto(&format!("{}/employers/{id}", server.base))
        .await;
    let page = browser.body().await;
    assert!(
        page.contains("Capacité d'accueil : Pas encore renseignée.")
            && page.contains("Aucun contact enregistré par votre structure."),
        "{page}"
    );
    for (query, variables) in [
        (
            "mutation($e: ID!) { employerContactAdd(input: { employerId: $e,
                name: \"Jean Martin\", email: \"jean.martin@boulangerie.fr\" }) {
                employer { id } } }",
            json!({ "e": id }),
        ),
        (
            "mutation($e: ID!) { employerHostingCapacitySet(input: { employerId: $e,
                simultaneousImmersions: 2 }) { employer { id } } }",
            json!({ "e": id }),
        ),
    ] {
        let answer = gql(&server, Some(&staff), query, variables).await;
        assert!(answer["errors"].is_null(), "{answer}");
    }
    browser
        .goto(&format!("{}/employers/{id}", server.base))
        .await;
    let page = browser.body().await;
    assert!(
        page.contains("Accueil et contacts")
            && page.contains("Capacité d'accueil : Jusqu'à 2 immersions en même temps.")
            && page.contains("jean.martin@boulangerie.fr"),
        "{page}"
    );
    browser
        .audit("fiche de l'établissement, accueil et contacts")
        .await;
    browser.close().await;
    assert!(server.terminate().success());
}

#[tokio::test]
async fn a_manager_changes_a_role_and_reads_who_read_health_data_from_the_administration() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, staff) = started(&db, &dir).await;
    let base = &server.base;
    create_staff(
        &db,
        &dir,
        "Mission locale de Nantes",
        "manager",
        "dominique@ml-nantes.fr",
    );
    // Camille reads a person's recognition of disability: a read logged.
    let awa = enroll(&server, &staff, None).await;
    for query in [
        "mutation($p: ID!) { consentGive(input: { personId: $p, purpose: DISABILITY_RECOGNITION,
            textVersion: \"v1\", signedForm: true }) { person { id } } }",
        "mutation($p: ID!) { disabilityRecognitionRecord(input: { personId: $p,
            recognised: true }) { person { id } } }",
        "query($p: ID!) { person(id: $p) { disabilityRecognition { recognised } } }",
    ] {
        let done = gql(&server, Some(&staff), query, json!({ "p": awa })).await;
        assert!(done["errors"].is_null(), "{done}");
    }
    let camille: uuid::Uuid =
        sqlx::query_scalar("select user_id from users where email = 'camille@ml-nantes.fr'")
            .fetch_one(&db.pool)
            .await
            .unwrap();

    browser.sign_in_as(base, "dominique@ml-nantes.fr").await;
    browser.goto(&format!("{base}/administration")).await;
    let page = browser.body().await;
    assert!(
        page.contains("Consultations des données de santé")
            && !page.contains("Aucune consultation enregistrée."),
        "{page}"
    );
    // Who read it, by name.
    let reads = browser
        .client
        .find(Locator::Css("section[aria-labelledby='lectures']"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(reads.contains("Camille Durand (Médiateur)"), "{reads}");
    assert_eq!(
        browser
            .client
            .find_all(Locator::Css(&format!(
                "section[aria-labelledby='lectures'] a[href='/people/{}']",
                awa.as_str().unwrap()
            )))
            .await
            .unwrap()
            .len(),
        1,
        "{page}"
    );

    // Camille made a manager, from her line of the team.
    browser
        .tick(&format!("#role-{camille} option[value='manager']"))
        .await;
    browser
        .click(&format!(
            "form[action='/administration/personnel/{camille}/role'] button"
        ))
        .await;
    let page = browser.body().await;
    assert!(page.contains("Rôle modifié."), "{page}");
    assert_eq!(
        browser.value(&format!("#role-{camille}")).await,
        "manager",
        "{page}"
    );
    browser
        .audit("administration, rôle changé et consultations")
        .await;
    let role: String =
        sqlx::query_scalar("select role from users where email = 'camille@ml-nantes.fr'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(role, "manager");
    browser.close().await;
    assert!(server.terminate().success());
}

#[tokio::test]
async fn a_mediator_starts_a_mentorship_from_a_possible_mentor_and_ends_it_from_her_file() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, staff) = started(&db, &dir).await;
    let ok = |query: &'static str, variables: Value| {
        let (server, staff) = (&server, &staff);
        async move {
            let answer = gql(server, Some(staff), query, variables).await;
            assert!(answer["errors"].is_null(), "{query}: {answer}");
            answer["data"].clone()
        }
    };
    // Awa aims at the bakery; Inès, of the same structure, was mentored by
    // a retired baker and consents to it.
    let mut people = Vec::new();
    for (first, code) in [("Awa", "D1102"), ("Inès", "D1101")] {
        let person = ok(
            "mutation($f: String!) { personEnroll(input: { firstName: $f, lastName: \"Lefèvre\",
                birthDate: \"1990-03-04\", commune: \"44109\" }) { person { id } } }",
            json!({ "f": first }),
        )
        .await["personEnroll"]["person"]["id"]
            .clone();
        ok(
            "mutation($p: ID!, $r: String!) { projectState(input: { personId: $p,
                project: { targetRomeCodes: [$r] } }) { person { id } } }",
            json!({ "p": person, "r": code }),
        )
        .await;
        ok(
            "mutation($p: ID!) { consentGive(input: { personId: $p, purpose: MENTORING,
                textVersion: \"v1\", signedForm: true }) { person { id } } }",
            json!({ "p": person }),
        )
        .await;
        people.push(person);
    }
    let (awa, ines) = (people[0].as_str().unwrap(), &people[1]);
    ok(
        "mutation($p: ID!) { mentorshipStart(input: { personId: $p,
            mentor: \"Un boulanger retraité\", mentorJob: \"D1102\" }) { mentorshipId } }",
        json!({ "p": ines }),
    )
    .await;
    let base = &server.base;
    browser.sign_in(base).await;
    let file = format!("{base}/people/{awa}");
    browser.until(&file, "Un boulanger retraité").await;
    // From the possible mentor, the form comes prefilled.
    browser.click("a[href$='/parrainage?suggestion=1']").await;
    assert_eq!(browser.value("#mentor").await, "Un boulanger retraité");
    assert_eq!(browser.value("#mentor_job").await, "D1102");
    browser.audit("parrainage, commencer").await;
    // A mentor left out is refused beside the field.
    browser.fill("#mentor", " ").await;
    browser.click("form[action$='/parrainage'] button").await;
    browser.refused("mentor", "").await;
    browser.audit("parrainage, commencer, refusé").await;
    browser.fill("#mentor", "Un boulanger retraité").await;
    browser.click("form[action$='/parrainage'] button").await;
    let today = passerelle_domain::fr::date(paris_today());
    let started = browser.body().await;
    assert!(
        started.contains(&format!("Depuis le {today} : Un boulanger retraité")),
        "{started}"
    );
    // Ended after a confirmation, with its reason.
    browser
        .click("a[href*='/parrainages/'][href$='/terminer']")
        .await;
    let confirm = browser.body().await;
    assert!(
        confirm.contains(&format!(
            "Le parrainage avec Un boulanger retraité, depuis le {today}"
        )),
        "{confirm}"
    );
    browser.audit("parrainage, terminer").await;
    browser
        .fill("#reason", "Elle a trouvé un apprentissage")
        .await;
    browser.click("form[action$='/terminer'] button").await;
    let ended = browser.body().await;
    assert!(
        ended.contains(&format!("Du {today} au {today} : Un boulanger retraité")),
        "{ended}"
    );
    assert!(
        ended.contains("Fin : Elle a trouvé un apprentissage"),
        "{ended}"
    );
    assert!(!ended.contains("Terminer le parrainage"), "{ended}");
    browser.close().await;
    assert!(server.terminate().success());
}

#[tokio::test]
async fn a_mediator_sets_the_hosting_capacity_and_removes_a_contact_from_the_employers_file() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, staff) = started(&db, &dir).await;
    let employer =
        register_employer(&server, &staff, "73282932000074", "Boulangerie du Port").await;
    let id = employer.as_str().unwrap().to_owned();
    let answer = gql(
        &server,
        Some(&staff),
        "mutation($e: ID!) { employerContactAdd(input: { employerId: $e,
            name: \"Jean Martin\", email: \"jean.martin@boulangerie.fr\" }) {
            employer { id } } }",
        json!({ "e": id }),
    )
    .await;
    assert!(answer["errors"].is_null(), "{answer}");
    let file = format!("{}/employers/{id}", server.base);
    browser.sign_in(&server.base).await;
    browser.goto(&file).await;
    // The hosting capacity, refused beyond 50 beside its field.
    browser.click("a[href$='/capacite']").await;
    browser.audit("capacité d'accueil").await;
    browser.fill("#simultaneous", "60").await;
    browser.click("form[action$='/capacite'] button").await;
    browser.refused("simultaneous", "de 0 à 50").await;
    browser.audit("capacité d'accueil, refusée").await;
    browser.fill("#simultaneous", "3").await;
    browser
        .fill("#notes", "Pas d'accueil en août, la boutique ferme")
        .await;
    browser.click("form[action$='/capacite'] button").await;
    let page = browser.body().await;
    assert!(
        page.contains("Capacité d'accueil : Jusqu'à 3 immersions en même temps."),
        "{page}"
    );
    // The contact, removed after a confirmation.
    browser
        .click("a[href*='/contacts/'][href$='/retirer']")
        .await;
    let confirm = browser.body().await;
    assert!(
        confirm.contains(
            "Le contact Jean Martin (jean.martin@boulangerie.fr) ne sera plus sur la liste"
        ),
        "{confirm}"
    );
    browser.audit("retirer un contact").await;
    browser.click("form[action$='/retirer'] button").await;
    let page = browser.body().await;
    assert!(
        page.contains("Aucun contact enregistré par votre structure.")
            && !page.contains("jean.martin@boulangerie.fr"),
        "{page}"
    );
    // Still read back, without its address, until erased at its request.
    assert!(
        page.contains("Contacts retirés de la liste")
            && page.contains("Retiré de la liste le ")
            && page.contains("Effacer les coordonnées de Jean Martin"),
        "{page}"
    );
    browser.audit("contact retiré").await;
    browser.click("a[href$='/effacer']").await;
    let erase = browser.body().await;
    assert!(
        erase.contains("Effacer un contact retiré de") && !erase.contains("Retirer le contact"),
        "{erase}"
    );
    browser.audit("effacer un contact retiré").await;
    browser.close().await;
    assert!(server.terminate().success());
}

/// The rows of a list's page.
async fn list_rows(browser: &Browser) -> Vec<String> {
    let mut texts = Vec::new();
    for row in browser
        .client
        .find_all(Locator::Css(".tasks li"))
        .await
        .unwrap()
    {
        texts.push(row.text().await.unwrap());
    }
    texts
}

#[tokio::test]
async fn the_employers_list_finds_those_with_an_open_need_for_a_job() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, staff) = started(&db, &dir).await;
    // 21 bakeries looking for a baker, more than a page, and a garage
    // looking for a mechanic.
    let mut hiring = Vec::new();
    for n in 1..=21 {
        hiring.push((
            register_employer(&server, &staff, &siret(n), &format!("Boulangerie {n:02}")).await,
            "D1102",
        ));
    }
    hiring.push((
        register_employer(&server, &staff, &siret(22), "Garage du Port").await,
        "I1604",
    ));
    for (employer, job) in &hiring {
        let done = gql(
            &server,
            Some(&staff),
            "mutation($e: ID!, $j: String!) { needSurface(input: { employerId: $e,
                source: { kind: PHONE }, description: { activities: \"Renfort\",
                romeCodes: [$j], horizon: NOW, hiringIntent: POSSIBLE } }) { need { id } } }",
            json!({ "e": employer, "j": job }),
        )
        .await;
        assert!(done["errors"].is_null(), "{done}");
    }
    let base = &server.base;
    browser.sign_in(base).await;
    browser.click("nav a[href='/employers']").await;
    // By a word of the job's label, as the referential names it.
    browser.fill("#metier", "boulanger").await;
    browser.click("form[role='search'] button").await;
    assert_eq!(browser.value("#metier").await, "boulanger");
    let body = browser.body().await;
    assert!(body.contains("D1102 — Boulanger / Boulangère"), "{body}");
    let rows = list_rows(&browser).await;
    assert_eq!(rows.len(), 20, "{rows:?}");
    assert!(rows.iter().all(|r| r.contains("Boulangerie")), "{rows:?}");
    browser.audit("établissements, par métier").await;
    // The job kept on the next page.
    browser.click("a[rel='next']").await;
    assert_eq!(browser.value("#metier").await, "boulanger");
    let rows = list_rows(&browser).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(rows[0].contains("Boulangerie 21"), "{rows:?}");
    browser.audit("établissements, par métier, page 2").await;
    // By its code: the garage only.
    browser.fill("#metier", "i1604").await;
    browser.click("form[role='search'] button").await;
    let rows = list_rows(&browser).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(rows[0].contains("Garage du Port"), "{rows:?}");
    // A code the referential does not know is refused beside the field,
    // what was typed kept.
    browser.fill("#metier", "Z9999").await;
    browser.click("form[role='search'] button").await;
    browser.refused("metier", "Z9999").await;
    assert_eq!(browser.value("#metier").await, "Z9999");
    browser.audit("établissements, métier inconnu").await;
    browser.close().await;
    assert!(server.terminate().success());
}

/// A mediator records, from Awa's file, the consent she signed on a paper
/// form, reading its text first, then its withdrawal after a
/// confirmation; her consents page and her file read both back in French.
/// Once her accompaniment ended, the page offers a withdrawal only, as the
/// policy says (`Person.viewerMay`).
#[tokio::test]
async fn a_mediator_records_a_paper_consent_and_its_withdrawal_from_her_file() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, staff) = started(&db, &dir).await;
    let person = enroll(&server, &staff, None).await;
    let p = person.as_str().unwrap().to_owned();
    let base = &server.base;
    let today = paris_today();
    let french_today = passerelle_domain::fr::date(today);

    browser.sign_in(base).await;
    browser.goto(&format!("{base}/people/{p}")).await;
    browser
        .click(&format!("a[href='/people/{p}/accords']"))
        .await;
    let page = browser.body().await;
    assert!(page.contains("Accords de Awa Diallo"), "{page}");
    assert!(page.contains("Jamais donné"), "{page}");
    browser.audit("accords d'une personne").await;

    // The text she signed, in the version recorded.
    browser
        .click(&format!("a[href='/people/{p}/accords/1']"))
        .await;
    let page = browser.body().await;
    assert!(
        page.contains("Partager mon parcours sous forme de témoignage"),
        "{page}"
    );
    assert!(page.contains("Texte en version 1."), "{page}");
    browser.audit("accord à enregistrer, avec son texte").await;
    // How she gave it left out: refused beside the field.
    let form = format!("form[action='/people/{p}/accords/1']");
    browser.click(&format!("{form} button")).await;
    browser
        .refused("proof", "Dites comment elle a donné son accord.")
        .await;
    browser.audit("accord à enregistrer, refusé").await;
    // A day before her enrolment: the API's refusal beside the date, the
    // choice kept.
    browser.tick("#proof option[value='formulaire']").await;
    let yesterday = today.previous_day().unwrap().to_string();
    browser.set_date("given_on", &yesterday).await;
    browser.click(&format!("{form} button")).await;
    browser.refused("given_on", "précède").await;
    assert_eq!(browser.value("#proof").await, "formulaire");
    browser.set_date("given_on", &today.to_string()).await;
    browser.click(&format!("{form} button")).await;
    let page = browser.body().await;
    assert!(page.contains("Accord enregistré"), "{page}");
    assert!(
        page.contains(&format!(
            "Donné le {french_today} sur un formulaire signé (texte en version 1)."
        )),
        "{page}"
    );
    browser
        .audit("accords d'une personne, un accord donné")
        .await;

    // Its withdrawal, after a confirmation.
    browser
        .click(&format!("a[href='/people/{p}/accords/1/retirer']"))
        .await;
    let page = browser.body().await;
    assert!(page.contains("Retirer l'accord de Awa Diallo"), "{page}");
    assert!(
        page.contains("Pour : Partager son parcours (témoignage)."),
        "{page}"
    );
    browser.audit("retrait d'un accord, confirmation").await;
    browser
        .click(&format!(
            "form[action='/people/{p}/accords/1/retirer'] button"
        ))
        .await;
    let page = browser.body().await;
    assert!(page.contains("Retrait enregistré"), "{page}");
    assert!(
        page.contains(&format!("Retiré le {french_today}.")),
        "{page}"
    );
    assert!(
        page.contains("Partager son parcours (témoignage) : retiré"),
        "{page}"
    );
    browser
        .click(&format!("a[href='/people/{p}#consentements']"))
        .await;
    let file = browser.body().await;
    assert!(
        file.contains("Partager son parcours (témoignage) : donné"),
        "{file}"
    );
    assert!(
        file.contains("Partager son parcours (témoignage) : retiré"),
        "{file}"
    );

    // Both recorded as the mediator's, the consent on a signed form.
    let recorded: Vec<(String, String, String)> = sqlx::query_as(
        "select event_type, actor, role from events
         where event_type in ('consent_given', 'consent_withdrawn')
         order by global_position",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(recorded.len(), 2, "{recorded:?}");
    assert!(
        recorded
            .iter()
            .all(|(_, actor, role)| actor.starts_with("user:") && role == "mediator"),
        "{recorded:?}"
    );

    // Her accompaniment ended: a consent still given may be withdrawn, no
    // new one recorded.
    for query in [
        "mutation($p: ID!) { consentGive(input: { personId: $p, purpose: MENTORING,
            textVersion: \"v1\" }) { person { id } } }",
        "mutation($p: ID!) { personExit(input: { personId: $p, reason: TRAINING }) {
            person { id } } }",
    ] {
        let answer = gql(&server, Some(&staff), query, json!({ "p": p })).await;
        assert!(answer["errors"].is_null(), "{answer}");
    }
    browser.goto(&format!("{base}/people/{p}/accords")).await;
    let page = browser.body().await;
    assert!(
        page.contains("à l'oral, noté par l'équipe (texte en version 1)"),
        "{page}"
    );
    assert!(page.contains("Son accompagnement a pris fin le"), "{page}");
    assert!(!page.contains("Enregistrer son accord"), "{page}");
    assert!(
        page.contains(
            "Enregistrer son retrait : être mis en relation avec un parrain ou une marraine"
        ),
        "{page}"
    );
    browser
        .audit("accords d'une personne dont l'accompagnement a pris fin")
        .await;
    // The give page itself, opened by its address, offers no form either.
    browser.goto(&format!("{base}/people/{p}/accords/1")).await;
    let page = browser.body().await;
    assert!(page.contains("Son accompagnement a pris fin le"), "{page}");
    assert!(!page.contains("Enregistrer son accord"), "{page}");
    assert!(!page.contains("Comment elle ou il l'a donné"), "{page}");
    browser
        .audit("accord à enregistrer, accompagnement terminé")
        .await;
    browser.close().await;
    assert!(server.terminate().success());
}

/// A mediator notes Awa's situation in her words from her file (refused
/// when left empty, prefilled with it the next time); the file says when
/// and by whom, and Awa reads it in her own space.
#[tokio::test]
async fn a_mediator_records_her_situation_and_she_reads_it_in_her_space() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, staff) = started_with_links(&db, &dir).await;
    let person = enroll(&server, &staff, Some("awa@exemple.fr")).await;
    let p = person.as_str().unwrap().to_owned();
    let base = &server.base;
    let today = passerelle_domain::fr::date(paris_today());
    let words = "Je cherche un travail près de chez moi, en journée : je garde ma fille le soir.";

    browser.sign_in(base).await;
    browser.goto(&format!("{base}/people/{p}")).await;
    let file = browser.body().await;
    assert!(file.contains("Pas encore exprimée."), "{file}");
    browser
        .click(&format!("a[href='/people/{p}/situation']"))
        .await;
    let page = browser.body().await;
    assert!(page.contains("Situation de Awa Diallo"), "{page}");
    browser.audit("situation, dans ses mots").await;
    let form = format!("form[action='/people/{p}/situation']");
    browser.click(&format!("{form} button")).await;
    browser
        .refused("words", "Écrivez sa situation, comme elle ou il la dit.")
        .await;
    browser.audit("situation, refusée").await;
    browser.fill("#words", words).await;
    browser.click(&format!("{form} button")).await;
    let file = browser.body().await;
    assert!(file.contains("Sa situation est enregistrée"), "{file}");
    assert!(file.contains(words), "{file}");
    assert!(
        file.contains(&format!("Dite le {today}, notée par vous.")),
        "{file}"
    );
    // The next time, the form starts from her words.
    browser
        .click(&format!("a[href='/people/{p}/situation']"))
        .await;
    assert_eq!(browser.value("#words").await, words);
    browser.click("form[action='/deconnexion'] button").await;

    // In her space, in her words.
    person_space(&browser, &server, "awa@exemple.fr", 0).await;
    let page = browser.body().await;
    assert!(page.contains("Votre situation, dans vos mots"), "{page}");
    assert!(page.contains(words), "{page}");
    assert!(page.contains(&format!("Notée le {today}")), "{page}");
    assert!(page.contains("Donner mon accord"), "{page}");
    browser.audit("espace d'une personne, sa situation").await;
    browser.close().await;
    assert!(server.terminate().success());
}

#[tokio::test]
async fn a_mediator_notes_a_meeting_with_a_peer_from_her_file_prefilled_with_the_testimony() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, staff) = started(&db, &dir).await;
    let ok = |query: &'static str, variables: Value| {
        let (server, staff) = (&server, &staff);
        async move {
            let answer = gql(server, Some(staff), query, variables).await;
            assert!(answer["errors"].is_null(), "{query}: {answer}");
            answer["data"].clone()
        }
    };
    // Awa aims at the bakery; Inès, of the same structure, walked a path of
    // the same domain, consents to share it, testified and left.
    let mut people = Vec::new();
    for (first, code) in [("Awa", "D1102"), ("Inès", "D1101")] {
        let person = ok(
            "mutation($f: String!) { personEnroll(input: { firstName: $f, lastName: \"Lefèvre\",
                birthDate: \"1990-03-04\", commune: \"44109\" }) { person { id } } }",
            json!({ "f": first }),
        )
        .await["personEnroll"]["person"]["id"]
            .clone();
        ok(
            "mutation($p: ID!, $r: String!) { projectState(input: { personId: $p,
                project: { targetRomeCodes: [$r] } }) { person { id } } }",
            json!({ "p": person, "r": code }),
        )
        .await;
        people.push(person);
    }
    let (awa, ines) = (people[0].as_str().unwrap(), &people[1]);
    for purpose in ["TESTIMONY", "PEER_CONTACT"] {
        ok(
            "mutation($p: ID!, $c: ConsentPurpose!) { consentGive(input: { personId: $p,
                purpose: $c, textVersion: \"v1\", signedForm: true }) { person { id } } }",
            json!({ "p": ines, "c": purpose }),
        )
        .await;
    }
    let testimony = ok(
        "mutation($p: ID!) { testimonyRecord(input: { personId: $p,
            account: \"De la caisse à la boulangerie\", romeCodes: [\"D1101\"],
            audience: OWN_STRUCTURE_MEDIATORS }) { testimonyId } }",
        json!({ "p": ines }),
    )
    .await["testimonyRecord"]["testimonyId"]
        .clone();
    ok(
        "mutation($p: ID!) { personExit(input: { personId: $p, reason: TRAINING }) {
            person { id } } }",
        json!({ "p": ines }),
    )
    .await;

    let base = &server.base;
    browser.sign_in(base).await;
    browser
        .until(
            &format!("{base}/people/{awa}"),
            "De la caisse à la boulangerie",
        )
        .await;
    // One click from the peer: the form starts with her, without her name,
    // and with the testimony it comes from.
    browser.click("a[href$='/rencontre?pair=1']").await;
    let form = browser.body().await;
    assert!(form.contains("Avec Inès, qui a fait ce chemin"), "{form}");
    assert!(
        form.contains("Enregistrez la rencontre une fois qu'elle a eu lieu"),
        "{form}"
    );
    assert_eq!(
        browser.value("#peer").await,
        "Une personne qui a fait ce chemin"
    );
    assert_eq!(browser.value("#rome").await, "D1101");
    assert_eq!(
        browser.value("input[name='testimony']:checked").await,
        testimony.as_str().unwrap()
    );
    browser
        .audit("rencontre avec un pair, depuis sa fiche")
        .await;
    // A day to come is refused beside the date, the peer still shown.
    let tomorrow = paris_today().next_day().unwrap();
    browser.set_date("held_on", &tomorrow.to_string()).await;
    browser.click("form[action$='/rencontre'] button").await;
    browser.refused("held_on", "dans le futur").await;
    assert_eq!(
        browser.value("input[name='testimony']:checked").await,
        testimony.as_str().unwrap()
    );
    browser.audit("rencontre avec un pair, refusée").await;
    let today = paris_today();
    browser.set_date("held_on", &today.to_string()).await;
    browser
        .fill("#peer", "Une ancienne caissière devenue boulangère")
        .await;
    browser
        .fill("#learned", "Se lever tôt s'apprend vite")
        .await;
    browser.click("form[action$='/rencontre'] button").await;
    let file = browser.body().await;
    let day = passerelle_domain::fr::date(today);
    assert!(
        file.contains(&format!(
            "{day} : Une ancienne caissière devenue boulangère"
        )),
        "{file}"
    );
    assert!(
        file.contains("Venue d'un témoignage de son parcours"),
        "{file}"
    );
    assert!(
        file.contains("Ce qui en ressort : Se lever tôt s'apprend vite"),
        "{file}"
    );
    let meetings = ok(
        "query($p: ID!) { person(id: $p) { peerMeetings { peer testimonyId heldOn } } }",
        json!({ "p": awa }),
    )
    .await["person"]["peerMeetings"]
        .clone();
    assert_eq!(meetings[0]["testimonyId"], testimony, "{meetings}");
    assert_eq!(
        meetings[0]["heldOn"],
        json!(today.to_string()),
        "{meetings}"
    );
    // The whole list of peers leads to the same form.
    browser
        .goto(&format!("{base}/people/{awa}/pistes/chemin"))
        .await;
    browser.click("a[href$='/rencontre?pair=1']").await;
    assert_eq!(browser.value("#rome").await, "D1101");
    // Her testimony withdrawn while the form is open: the meeting is
    // refused, said above the form since the testimony is no longer there
    // to choose.
    ok(
        "mutation($t: ID!) { testimonyWithdraw(input: { testimonyId: $t }) { testimonyId } }",
        json!({ "t": testimony }),
    )
    .await;
    browser.click("form[action$='/rencontre'] button").await;
    let refused = browser.body().await;
    assert!(
        refused.contains("Ce témoignage n'existe pas ou n'est plus lisible."),
        "{refused}"
    );
    browser
        .audit("rencontre avec un pair, témoignage retiré")
        .await;
    // A peer's link gone stale (its page's cursor refused, or a rank past
    // the list): the form empty, and said so.
    for stale in ["pair=1&apres=perime", "pair=9"] {
        browser
            .goto(&format!("{base}/people/{awa}/rencontre?{stale}"))
            .await;
        let form = browser.body().await;
        assert!(
            form.contains("La personne choisie n'est plus à cette place"),
            "{stale}: {form}"
        );
        assert!(!form.contains("Avec Inès"), "{stale}: {form}");
        assert_eq!(browser.value("#peer").await, "", "{stale}");
    }
    browser.audit("rencontre avec un pair, lien périmé").await;
    browser.close().await;
    assert!(server.terminate().success());
}

#[tokio::test]
async fn a_mediator_starts_a_mentorship_from_the_whole_list_of_possible_mentors() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, staff) = started(&db, &dir).await;
    let ok = |query: &'static str, variables: Value| {
        let (server, staff) = (&server, &staff);
        async move {
            let answer = gql(server, Some(staff), query, variables).await;
            assert!(answer["errors"].is_null(), "{query}: {answer}");
            answer["data"].clone()
        }
    };
    // Awa aims at the bakery; Inès, of the same structure, was mentored by
    // a retired baker and consents to it.
    let mut people = Vec::new();
    for (first, code) in [("Awa", "D1102"), ("Inès", "D1101")] {
        let person = ok(
            "mutation($f: String!) { personEnroll(input: { firstName: $f, lastName: \"Lefèvre\",
                birthDate: \"1990-03-04\", commune: \"44109\" }) { person { id } } }",
            json!({ "f": first }),
        )
        .await["personEnroll"]["person"]["id"]
            .clone();
        ok(
            "mutation($p: ID!, $r: String!) { projectState(input: { personId: $p,
                project: { targetRomeCodes: [$r] } }) { person { id } } }",
            json!({ "p": person, "r": code }),
        )
        .await;
        ok(
            "mutation($p: ID!) { consentGive(input: { personId: $p, purpose: MENTORING,
                textVersion: \"v1\", signedForm: true }) { person { id } } }",
            json!({ "p": person }),
        )
        .await;
        people.push(person);
    }
    let (awa, ines) = (people[0].as_str().unwrap(), &people[1]);
    ok(
        "mutation($p: ID!) { mentorshipStart(input: { personId: $p,
            mentor: \"Un boulanger retraité\", mentorJob: \"D1102\" }) { mentorshipId } }",
        json!({ "p": ines }),
    )
    .await;
    let base = &server.base;
    browser.sign_in(base).await;
    let list = browser
        .until(
            &format!("{base}/people/{awa}/pistes/parrains"),
            "Un boulanger retraité",
        )
        .await;
    // A mentor is no peer: no meeting offered from this list.
    assert!(!list.contains("Organiser une rencontre"), "{list}");
    // The mentor's job by its title, not its code alone.
    assert!(
        list.contains("Métier : D1102 — Boulanger / Boulangère"),
        "{list}"
    );
    browser
        .audit("fiche de la personne, tous les parrains possibles")
        .await;
    browser.click("a[href$='/parrainage?suggestion=1']").await;
    assert_eq!(browser.value("#mentor").await, "Un boulanger retraité");
    assert_eq!(browser.value("#mentor_job").await, "D1102");
    browser.click("form[action$='/parrainage'] button").await;
    let today = passerelle_domain::fr::date(paris_today());
    let started = browser.body().await;
    assert!(
        started.contains(&format!("Depuis le {today} : Un boulanger retraité")),
        "{started}"
    );
    // A suggestion's link gone stale (its page's cursor refused, or a rank
    // past the list): the form empty, and said so.
    for stale in ["suggestion=1&apres=perime", "suggestion=9"] {
        browser
            .goto(&format!("{base}/people/{awa}/parrainage?{stale}"))
            .await;
        let form = browser.body().await;
        assert!(
            form.contains("La personne choisie n'est plus à cette place"),
            "{stale}: {form}"
        );
        assert_eq!(browser.value("#mentor").await, "", "{stale}");
    }
    browser
        .audit("parrainage à enregistrer, suggestion périmée")
        .await;
    browser.close().await;
    assert!(server.terminate().success());
}

#[tokio::test]
async fn a_manager_lists_the_people_another_referent_follows() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, staff) = started(&db, &dir).await;
    for (role, email, name) in [
        ("manager", "lea@ml-nantes.fr", "Léa Petit"),
        ("mediator", "hugo@ml-nantes.fr", "Hugo Bernard"),
    ] {
        create_staff(&db, &dir, "Mission locale de Nantes", role, email);
        sqlx::query("update users set name = $1 where email = $2")
            .bind(name)
            .bind(email)
            .execute(&db.pool)
            .await
            .unwrap();
    }
    // Camille follows Awa, Hugo follows Bob.
    let awa = enroll(&server, &staff, None).await;
    let hugo = login(&server, "hugo@ml-nantes.fr").await;
    let bob = gql(
        &server,
        Some(&hugo),
        "mutation { personEnroll(input: { firstName: \"Bob\", lastName: \"Leroy\",
            birthDate: \"1990-03-04\" }) { person { id } } }",
        json!({}),
    )
    .await["data"]["personEnroll"]["person"]["id"]
        .clone();
    assert!(bob.is_string(), "{bob}");
    browser.sign_in_as(&server.base, "lea@ml-nantes.fr").await;
    browser.goto(&format!("{}/people", server.base)).await;
    assert!(lists_person(&browser, &awa).await && lists_person(&browser, &bob).await);
    // Each referent by name: the team is the managers' to read.
    let page = browser.body().await;
    assert!(page.contains("Référent : Hugo Bernard"), "{page}");
    assert!(page.contains("Référent : Camille Durand"), "{page}");
    browser
        .client
        .find(Locator::Css("#referent"))
        .await
        .unwrap()
        .select_by_label("Hugo Bernard")
        .await
        .unwrap();
    browser.click("form[role='search'] button").await;
    assert!(
        lists_person(&browser, &bob).await,
        "{}",
        browser.body().await
    );
    assert!(!lists_person(&browser, &awa).await);
    let chosen = browser.value("#referent").await;
    let hugo_id: (uuid::Uuid,) =
        sqlx::query_as("select user_id from users where email = 'hugo@ml-nantes.fr'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(chosen, hugo_id.0.to_string());
    browser.audit("personnes d'un autre référent").await;
    // Another's, from the list's link.
    browser
        .client
        .find(Locator::Css("#referent"))
        .await
        .unwrap()
        .select_by_label("Camille Durand")
        .await
        .unwrap();
    browser.click("form[role='search'] button").await;
    assert!(lists_person(&browser, &awa).await);
    assert!(!lists_person(&browser, &bob).await);
    // Someone not of the team is refused beside the field, never asked.
    browser
        .goto(&format!(
            "{}/people?referent=00000000-0000-0000-0000-000000000000",
            server.base
        ))
        .await;
    browser
        .refused("referent", "Choisissez un membre de l'équipe")
        .await;
    assert!(!lists_person(&browser, &awa).await);
    browser.audit("personnes, référent refusé").await;
    browser.close().await;
    assert!(server.terminate().success());
}

#[tokio::test]
async fn the_employers_file_lists_the_immersions_it_hosted_a_page_at_a_time() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, staff) = started(&db, &dir).await;
    let employer = register_employer(&server, &staff, &siret(1), "Boulangerie du Port").await;
    let elsewhere = register_employer(&server, &staff, &siret(2), "Garage du Port").await;
    // 21 people each proposed an immersion there: more than a page; one
    // more elsewhere, which its file does not list.
    let mut immersions = Vec::new();
    for n in 1..=22 {
        let person = gql(
            &server,
            Some(&staff),
            "mutation($f: String!) { personEnroll(input: { firstName: $f, lastName: \"Martin\",
                birthDate: \"1999-01-02\", confirmDuplicate: true }) { person { id } } }",
            json!({ "f": format!("Personne{n:02}") }),
        )
        .await["data"]["personEnroll"]["person"]["id"]
            .clone();
        assert!(person.is_string(), "{person}");
        let host = if n == 22 { &elsewhere } else { &employer };
        let immersion = propose(&server, &staff, &person, host).await;
        assert!(immersion.is_string(), "{immersion}");
        immersions.push(immersion);
    }
    let base = &server.base;
    browser.sign_in(base).await;
    let file = format!("{base}/employers/{}", employer.as_str().unwrap());
    browser.until(&file, "Immersions accueillies").await;
    let first = rows_under(&browser, "accueils").await;
    assert_eq!(first.len(), 20, "{first:?}");
    assert!(
        first
            .iter()
            .all(|r| r.contains("Martin") && r.contains("Proposée")),
        "{first:?}"
    );
    assert!(!first.iter().any(|r| r.contains("Personne22")), "{first:?}");
    browser
        .audit("fiche établissement, immersions accueillies")
        .await;
    // The next page holds the last one, none of the first's.
    browser
        .click("nav[aria-label='Pages des immersions accueillies'] a[rel='next']")
        .await;
    let second = rows_under(&browser, "accueils").await;
    assert_eq!(second.len(), 1, "{second:?}");
    assert!(!first.contains(&second[0]), "{second:?}");
    browser
        .audit("fiche établissement, immersions accueillies, page 2")
        .await;
    // Each leads to its immersion.
    let name = second[0].lines().next().unwrap().to_owned();
    browser
        .click("section[aria-labelledby='accueils'] ul.tasks a")
        .await;
    let url = browser.client.current_url().await.unwrap();
    assert!(url.path().starts_with("/immersions/"), "{url}");
    let id = url.path().trim_start_matches("/immersions/").to_owned();
    assert!(
        immersions[..21]
            .iter()
            .any(|i| i.as_str() == Some(id.as_str())),
        "{id}"
    );
    let page = browser.body().await;
    assert!(page.contains(&name), "{name}: {page}");
    browser.close().await;
    assert!(server.terminate().success());
}

/// A mail whose SMTP server refused it is listed as failed on the mails'
/// page and sent again from there, at 375 px as on a desktop.
#[tokio::test]
async fn a_failed_mail_is_sent_again_from_the_mails_page() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, staff) = started_with(&db, &dir, mail_refused).await;
    let person = enroll(&server, &staff, Some("awa@exemple.fr")).await;
    let employer = boulangerie_with_lucie(&server, &staff).await;
    propose(&server, &staff, &person, &employer).await;
    let base = &server.base;
    browser.sign_in(base).await;
    browser
        .until(&format!("{base}/courriels"), "Renvoyer ce courriel")
        .await;
    browser.audit("courriels").await;
    browser.screenshot("courriels").await;
    browser.click("form[action$='/renvoyer'] button").await;
    let page = browser.body().await;
    assert!(
        page.contains("Le courriel est de nouveau à envoyer"),
        "{page}"
    );
    browser.audit("courriels, un courriel renvoyé").await;
    browser.close().await;
    assert!(server.terminate().success());
}

/// Her referent records a person's disability recognition from her file,
/// once she consented: refused beside the question left unanswered, then
/// read back on the file.
#[tokio::test]
async fn a_referent_records_a_disability_recognition_from_her_file() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, staff) = started(&db, &dir).await;
    let person = enroll(&server, &staff, None).await;
    let given = gql(
        &server,
        Some(&staff),
        "mutation($p: ID!) { consentGive(input: { personId: $p, purpose: DISABILITY_RECOGNITION,
            textVersion: \"v1\", signedForm: true }) { person { id } } }",
        json!({ "p": person }),
    )
    .await;
    assert!(given["errors"].is_null(), "{given}");
    let base = &server.base;
    browser.sign_in(base).await;
    browser
        .goto(&format!("{base}/people/{}", person.as_str().unwrap()))
        .await;
    browser.click("a[href$='/complements']").await;
    browser.audit("reconnaissance du handicap").await;
    browser.click("form[action$='/complements'] button").await;
    assert!(!browser.text("#reconnue-erreur").await.is_empty());
    browser
        .audit("reconnaissance du handicap, réponse manquante")
        .await;
    browser.tick("#reconnue-oui").await;
    browser.click("form[action$='/complements'] button").await;
    let file = browser.body().await;
    assert!(
        file.contains("Reconnaissance (RQTH) en cours de validité"),
        "{file}"
    );
    browser.audit("fiche, reconnaissance enregistrée").await;
    browser.screenshot("handicap-enregistre").await;
    browser.close().await;
    assert!(server.terminate().success());
}

/// The structure that added a contact erases its details at its request,
/// after ticking the confirmation the page asks for.
#[tokio::test]
async fn a_contact_is_erased_at_its_request_from_the_establishments_file() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, staff) = started(&db, &dir).await;
    let employer = boulangerie_with_lucie(&server, &staff).await;
    let base = &server.base;
    browser.sign_in(base).await;
    browser
        .goto(&format!("{base}/employers/{}", employer.as_str().unwrap()))
        .await;
    browser.click("a[href$='/retirer']").await;
    browser.audit("retirer ou effacer un contact").await;
    browser.click("form[action$='/effacer'] button").await;
    assert!(!browser.text("#confirme-erreur").await.is_empty());
    browser
        .audit("effacer un contact, confirmation manquante")
        .await;
    browser.screenshot("contact-effacement").await;
    browser.tick("#confirme").await;
    browser.click("form[action$='/effacer'] button").await;
    let file = browser.body().await;
    assert!(file.contains("Coordonnées du contact effacées"), "{file}");
    assert!(!file.contains("lucie@boulangerie-du-port.fr"), "{file}");
    browser.audit("fiche après l'effacement d'un contact").await;
    browser.close().await;
    assert!(server.terminate().success());
}

/// A manager reads the scheduled jobs' runs from the administration, at
/// 375 px as on a desktop.
#[tokio::test]
async fn a_manager_reads_the_scheduled_jobs_runs() {
    let Some(browser) = Browser::start().await else {
        return;
    };
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
    let base = &server.base;
    browser.sign_in_as(base, "sophie@ml-nantes.fr").await;
    browser.goto(&format!("{base}/administration")).await;
    browser.click("a[href='/administration/taches']").await;
    let page = browser
        .until(&format!("{base}/administration/taches"), "Réussi :")
        .await;
    assert!(page.contains("Rappels"), "{page}");
    browser.audit("tâches planifiées").await;
    browser.screenshot("taches-planifiees").await;
    browser.close().await;
    assert!(server.terminate().success());
}

/// The workbench's pages that read back what is recorded, and their forms,
/// on a phone and a desktop, audited: a person's identity and project with
/// its contracts, mobility and constraints, the immersions' list, a need
/// heard on the phone then closed, the day an immersion starts, and a
/// manager reading a colleague's tasks.
#[tokio::test]
async fn the_workbench_reads_back_what_is_recorded_on_its_pages() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, staff) = started(&db, &dir).await;
    create_staff(
        &db,
        &dir,
        "Mission locale de Nantes",
        "manager",
        "direction@ml-nantes.fr",
    );
    let base = server.base.clone();
    let employer =
        register_employer(&server, &staff, "73282932000074", "Boulangerie du Port").await;
    let e = employer.as_str().unwrap().to_owned();
    let enrolled = gql(
        &server,
        Some(&staff),
        "mutation { personEnroll(input: { firstName: \"Awa\", lastName: \"Diallo\",
            birthDate: \"2001-05-12\", email: \"awa.diallo@exemple.fr\", phone: \"0612345678\",
            address: \"3 rue des Lilas, 44000 Nantes\", commune: \"44109\" }) { person { id } } }",
        json!({}),
    )
    .await;
    let person = enrolled["data"]["personEnroll"]["person"]["id"].clone();
    let p = person.as_str().unwrap().to_owned();
    browser.sign_in(&base).await;

    // Her file: who she is, and her first project with a distance refused.
    browser.goto(&format!("{base}/people/{p}")).await;
    let file = browser.body().await;
    assert!(file.contains("Téléphone : 06 12 34 56 78"), "{file}");
    browser.audit("fiche, identité et premier projet").await;
    browser.fill("#project_rome", "D1102").await;
    browser.tick("#contrat-project_rome-CDI").await;
    browser.fill("#mobilite", "-3").await;
    browser
        .click("form[action$='/premier-projet'] button")
        .await;
    browser.refused("mobilite", "kilomètres").await;
    browser.audit("premier projet, distance refusée").await;
    browser.fill("#mobilite", "25").await;
    browser
        .click("form[action$='/premier-projet'] button")
        .await;
    let file = browser.body().await;
    assert!(
        file.contains("Contrats souhaités : CDI") && file.contains("Mobilité : jusqu'à 25 km"),
        "{file}"
    );

    // A need heard on the phone, then closed: its page says why.
    browser.goto(&format!("{base}/employers/{e}")).await;
    browser
        .click(&format!("a[href='/employers/{e}/besoin']"))
        .await;
    browser.audit("besoin entendu au téléphone").await;
    browser.fill("#activities", "Livraisons du matin").await;
    browser
        .click(&format!("form[action='/employers/{e}/besoin'] button"))
        .await;
    let need_page = browser.body().await;
    assert!(need_page.contains("Livraisons du matin"), "{need_page}");
    let need = browser
        .client
        .current_url()
        .await
        .unwrap()
        .path()
        .trim_start_matches("/needs/")
        .to_owned();
    let closed = gql(
        &server,
        Some(&staff),
        "mutation($n: ID!) { needClose(input: { needId: $n, reason: NO_LONGER_NEEDED }) { need { id } } }",
        json!({ "n": need }),
    )
    .await;
    assert!(closed["errors"].is_null(), "{closed}");
    browser.goto(&format!("{base}/needs/{need}")).await;
    assert!(browser.body().await.contains("plus d'actualité"));
    browser.audit("besoin clos").await;

    // An immersion to start: a day to come is refused beside the field.
    let today = enrolled_on(&server, &staff, &person).await;
    let immersion = validated(&server, &staff, &person, &employer, &today).await;
    let i = immersion.as_str().unwrap();
    browser.goto(&format!("{base}/immersions/{i}")).await;
    browser.audit("immersion, début à noter").await;
    browser.fill("#on", "2200-01-01").await;
    browser
        .click(&format!("form[action='/immersions/{i}/debut'] button"))
        .await;
    browser.refused("on", "").await;
    browser.audit("immersion, début refusé").await;

    // The structure's immersions.
    browser.goto(&format!("{base}/immersions")).await;
    assert!(
        browser
            .body()
            .await
            .contains("Awa Diallo chez Boulangerie du Port")
    );
    browser.audit("immersions de la structure").await;

    // A manager reads a colleague's tasks.
    let camille = gql(&server, Some(&staff), "{ me { id } }", json!({})).await["data"]["me"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    browser.click("form[action='/deconnexion'] button").await;
    browser.sign_in_as(&base, "direction@ml-nantes.fr").await;
    browser.goto(&format!("{base}/?mediateur={camille}")).await;
    let theirs = browser.body().await;
    assert!(theirs.contains("Les tâches de "), "{theirs}");
    browser.audit("tâches d'un collègue").await;
    browser.close().await;
    assert!(server.terminate().success());
}

/// The forms that take the day a step was taken, and the register of
/// erasures, as a mediator and a manager use them, audited with axe-core
/// at 375 and 1280 px: a need qualified and closed with their days, a
/// proposal's answer refused beside its own form, then recorded with its
/// day; a file erased, then read in the register.
#[tokio::test]
async fn the_days_of_each_step_and_the_register_of_erasures_on_their_pages() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, staff) = started(&db, &dir).await;
    create_staff(
        &db,
        &dir,
        "Mission locale de Nantes",
        "manager",
        "direction@ml-nantes.fr",
    );
    let base = server.base.clone();
    let employer =
        register_employer(&server, &staff, "73282932000074", "Boulangerie du Port").await;
    let person = enroll(&server, &staff, None).await;
    let today = enrolled_on(&server, &staff, &person).await;
    let surfaced = gql(
        &server,
        Some(&staff),
        "mutation($e: ID!) { needSurface(input: { employerId: $e, source: { kind: PHONE },
            description: { activities: \"Livraisons du matin\", romeCodes: [], headcount: 1,
                horizon: NOW, hiringIntent: POSSIBLE } }) { need { id } } }",
        json!({ "e": employer }),
    )
    .await;
    let need = surfaced["data"]["needSurface"]["need"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    browser.sign_in(&base).await;

    // The need's steps, each with its day.
    browser.goto(&format!("{base}/needs/{need}")).await;
    browser.audit("besoin, les jours de chaque geste").await;
    browser.fill("#rome_codes", "D1102").await;
    browser.set_date("qualified_on", &today).await;
    browser
        .click(&format!("form[action='/needs/{need}/qualifier'] button"))
        .await;
    let page = browser.body().await;
    assert!(page.contains("qualifié le "), "{page}");
    browser.audit("besoin qualifié, son jour dit").await;
    browser.screenshot("besoin-qualifie-le").await;

    // A proposal's answer: a decline without its reason is refused beside
    // its own form, then recorded with its day.
    let proposed = propose(&server, &staff, &person, &employer).await;
    let i = proposed.as_str().unwrap();
    browser.goto(&format!("{base}/immersions/{i}")).await;
    browser.audit("immersion proposée, réponses datées").await;
    browser
        .click("form[action$='/reponse']:has(input[name='by'][value='PERSON']):has(input[name='choix'][value='refuser']) button")
        .await;
    let alert = browser.text("#reponse-PERSON-refuser-erreur").await;
    assert!(alert.contains("Dites pourquoi"), "{alert}");
    browser
        .audit("réponse refusée à côté de son formulaire")
        .await;
    browser.screenshot("reponse-refusee").await;
    browser
        .fill("#raison-PERSON", "Trop loin de chez elle")
        .await;
    browser.set_date("reponse-PERSON-refuser", &today).await;
    browser
        .click("form[action$='/reponse']:has(input[name='by'][value='PERSON']):has(input[name='choix'][value='refuser']) button")
        .await;
    let page = browser.body().await;
    assert!(page.contains("Proposition refusée"), "{page}");

    // The file erased, then read in the register.
    let manager = login(&server, "direction@ml-nantes.fr").await;
    let erased = gql(
        &server,
        Some(&manager),
        "mutation($p: ID!) { personErase(input: { personId: $p, reason: PERSON_REQUEST,
            confirm: true }) { personId } }",
        json!({ "p": person }),
    )
    .await;
    assert!(erased["errors"].is_null(), "{erased}");
    browser.click("form[action='/deconnexion'] button").await;
    browser.sign_in_as(&base, "direction@ml-nantes.fr").await;
    browser.goto(&format!("{base}/administration")).await;
    browser.click("a[href='/administration/effacements']").await;
    let page = browser.body().await;
    assert!(page.contains("Registre des effacements"), "{page}");
    assert!(page.contains("À la demande de la personne"), "{page}");
    browser.audit("registre des effacements").await;
    browser.screenshot("registre-des-effacements").await;

    // Another person silent for 25 months, her referent warned 5 days ago:
    // listed among the erasures to come, whence her retention is extended.
    let silent = enroll(&server, &staff, None).await;
    let silent = silent.as_str().unwrap();
    sqlx::query(
        "update people.timeline set recorded_at = recorded_at - interval '25 months'
         where person_id = $1::uuid",
    )
    .bind(silent)
    .execute(&db.pool)
    .await
    .unwrap();
    sqlx::query(
        "insert into retention_notices (person_id, structure_id, last_activity, warned_on, referent)
         select p.person_id, p.structure, max(t.recorded_at), current_date - 5, p.referent
         from people.people p join people.timeline t using (person_id)
         where p.person_id = $1::uuid group by p.person_id, p.structure, p.referent",
    )
    .bind(silent)
    .execute(&db.pool)
    .await
    .unwrap();
    browser.goto(&format!("{base}/administration")).await;
    browser.click("a[href='/people/effacements-a-venir']").await;
    let page = browser.body().await;
    assert!(page.contains("Effacements à venir"), "{page}");
    assert!(page.contains("effacement le "), "{page}");
    browser.audit("effacements à venir").await;
    browser.screenshot("effacements-a-venir").await;
    browser
        .click(&format!("a[href='/people/{silent}/conservation']"))
        .await;
    browser
        .fill("#reason", "Une formation commence en septembre")
        .await;
    browser
        .click(&format!(
            "form[action='/people/{silent}/conservation'] button"
        ))
        .await;
    let page = browser.body().await;
    assert!(page.contains("par vous"), "{page}");
    browser.audit("conservation prolongée, par qui").await;
    browser
        .goto(&format!("{base}/people/effacements-a-venir"))
        .await;
    let page = browser.body().await;
    assert!(page.contains("Aucun effacement à venir."), "{page}");
    browser.close().await;
    assert!(server.terminate().success());
}
