//! A whole working day in the pages, in headless Chromium on a phone's
//! screen: a mediator's day from her home page to the need formalised as an
//! offer (a host's signature collected on paper, a work accident reported
//! and declared, the project readjusted after the immersion), the parties'
//! part by their mailed links, then a manager's reading of the dashboards.
//! Every page passes axe-core's audit at 375 px and at a desktop's width
//! (see `tests/support/browser.rs`).
//!
//! With `WORKDAY_SCREENSHOTS=docs/screenshots` set, the main screens are
//! saved there at 375 px (the viewport only), and three of them at 1280 px
//! too (`-bureau`), as `docs/guide.md` shows them; without it, nothing is
//! written.
//!
//! The person gives her consent to share her path from her space; her
//! testimony and its audience are recorded from her file, which
//! `tests/browser.rs` walks.

mod common;
#[path = "support/browser.rs"]
mod support;

use std::path::PathBuf;

use common::*;
use fantoccini::Locator;
use passerelle_store::testkit::TestDb;
use serde_json::json;
use support::*;

impl Browser {
    /// Saves the viewport as `<name>.png` under `WORKDAY_SCREENSHOTS`,
    /// when it is set (relative to the repository): the top of the page, or
    /// from the element `from` when it is given.
    async fn keep(&self, name: &str, from: Option<&str>) {
        let Some(dir) = std::env::var_os("WORKDAY_SCREENSHOTS") else {
            return;
        };
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(dir);
        std::fs::create_dir_all(&dir).unwrap();
        self.client
            .execute(
                "const from = arguments[0] && document.querySelector(arguments[0]);
                 if (from) { from.scrollIntoView({ block: 'start' }); } else { window.scrollTo(0, 0); }",
                vec![json!(from)],
            )
            .await
            .unwrap();
        let png = self.client.screenshot().await.unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }

    /// The same, on a desktop's screen (1280 px wide), then back to the
    /// phone's.
    async fn keep_wide(&self, name: &str, from: Option<&str>) {
        if std::env::var_os("WORKDAY_SCREENSHOTS").is_none() {
            return;
        }
        self.screen(DESKTOP).await;
        self.keep(name, from).await;
        self.screen(PHONE).await;
    }

    /// Picks `value` in the list `css`.
    async fn pick(&self, css: &str, value: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap()
            .select_by_value(value)
            .await
            .unwrap();
    }

    /// Asks for a link on the home page as an employer's contact or a
    /// person would, follows the link the mail carries (logged here) and
    /// opens the session; `links` counts the links sent so far.
    async fn by_link(&self, server: &Server, email: &str, links: &mut usize) {
        let base = &server.base;
        self.goto(&format!("{base}/")).await;
        self.fill("#lien-email", email).await;
        self.click("form[action='/lien'] button").await;
        assert!(
            self.body()
                .await
                .contains("un lien vient de vous être envoyé"),
            "{email}"
        );
        let token = logged_link(server, *links).await;
        *links += 1;
        self.goto(&format!("{base}/acces/{token}")).await;
        self.click("form[action='/acces'] button").await;
    }

    async fn sign_out(&self) {
        self.click("form[action='/deconnexion'] button").await;
    }

    /// The path of the page shown, and its last segment (an id).
    async fn path(&self) -> (String, String) {
        let url = self.client.current_url().await.unwrap();
        let path = url.path().to_owned();
        let last = path.rsplit('/').next().unwrap().to_owned();
        (path, last)
    }
}

#[tokio::test]
async fn a_working_day_from_the_home_page_to_the_dashboards() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, staff) = started_with_links(&db, &dir).await;
    create_staff(
        &db,
        &dir,
        "Mission locale de Nantes",
        "manager",
        "direction@ml-nantes.fr",
    );
    // Already followed before the day: Awa Diallo, born on 12 May 2001.
    enroll(&server, &staff, Some("awa@exemple.fr")).await;
    let base = &server.base;
    let mut links = 0;
    let host = "lucie@boulangerie-du-port.fr";
    let awa = "awa.diallo@exemple.fr";

    // Morning: Camille logs in; her home page has her tasks and the search.
    browser.sign_in(base).await;
    browser.until(&format!("{base}/"), "Rechercher").await;
    browser.audit("accueil du médiateur").await;
    browser.keep("01-accueil", None).await;
    browser.keep_wide("01-accueil-bureau", None).await;
    browser.fill("#q", "diallo").await;
    browser.click("form[action='/recherche'] button").await;
    let found = browser.body().await;
    assert!(found.contains("Personnes accompagnées"), "{found}");
    assert!(found.contains("Awa Diallo"), "{found}");
    browser.audit("recherche depuis l'accueil").await;
    browser.keep("02-recherche", None).await;

    // She enrols another Awa Diallo, born the same day: the warning, then
    // the confirmation.
    browser.goto(&format!("{base}/")).await;
    browser.click("main a[href='/people/nouvelle']").await;
    browser.audit("inscription").await;
    browser.fill("#first_name", "Awa").await;
    browser.fill("#last_name", "Diallo").await;
    browser.set_date("birth_date", "2001-05-12").await;
    browser.fill("#email", awa).await;
    browser.fill("#phone", "06 12 34 56 78").await;
    browser.fill("#commune", "44109").await;
    browser.click("form[action='/people'] button").await;
    browser.refused("confirm_duplicate", "déjà suivi").await;
    browser.audit("inscription, homonyme").await;
    browser
        .keep("03-inscription-homonyme", Some("#confirm_duplicate-erreur"))
        .await;
    browser.tick("#confirm_duplicate").await;
    browser.click("form[action='/people'] button").await;
    assert!(browser.body().await.contains("Personne inscrite"));
    browser.audit("fiche, inscrite").await;
    let (_, person) = browser.path().await;
    // Her first project, from her file: a code that is not a job's is
    // refused beside its field.
    browser.fill("#project_rome", "ZZZ").await;
    browser
        .click("form[action$='/premier-projet'] button")
        .await;
    browser.refused("project_rome", "ZZZ").await;
    browser.audit("fiche, projet refusé").await;
    browser.fill("#project_rome", "D1102").await;
    browser
        .click("form[action$='/premier-projet'] button")
        .await;
    assert!(
        browser
            .body()
            .await
            .contains("D1102 — Boulanger / Boulangère")
    );

    // An establishment registered from her phone.
    browser.goto(&format!("{base}/")).await;
    browser.click("main a[href='/employers/nouvelle']").await;
    browser.audit("établissement").await;
    browser.fill("#name", "Boulangerie du Port").await;
    browser.fill("#siret", "73282932000074").await;
    browser.fill("#naf", "10.71C").await;
    browser.fill("#commune", "44109").await;
    browser.fill("#address", "12 quai de la Fosse").await;
    browser.click("form[action='/employers'] button").await;
    assert!(browser.body().await.contains("Établissement enregistré"));
    let (_, employer) = browser.path().await;
    browser.audit("fiche de l'établissement").await;
    browser.keep("04-etablissement", None).await;
    // Its first contact, who will get the establishment's link.
    browser.click("a[href$='/contact']").await;
    browser.fill("#name", "Lucie Bernard").await;
    browser.fill("#job_title", "Gérante").await;
    browser.fill("#email", "pas une adresse").await;
    browser.click("form[action$='/contact'] button").await;
    browser.refused("email", "").await;
    assert_eq!(browser.value("#name").await, "Lucie Bernard");
    browser.audit("contact, erreur").await;
    browser.fill("#email", host).await;
    browser.click("form[action$='/contact'] button").await;
    let (path, _) = browser.path().await;
    assert_eq!(path, format!("/employers/{employer}"));

    // The visit, from the establishment's file.
    browser.click("main a[href^='/visites/nouvelle?']").await;
    browser
        .fill(
            "#observations",
            "La gérante cherche quelqu'un pour le fournil à la rentrée",
        )
        .await;
    browser.audit("visite").await;
    browser.keep("05-visite", None).await;
    browser
        .click("form[action='/visites'] button:not([name])")
        .await;
    assert!(browser.body().await.contains("Visite enregistrée"));

    // From the visit's page, a need heard there, noted in the employer's
    // words: nothing typed is refused beside its field, then the need's page.
    let (visit_page, _) = browser.path().await;
    assert!(
        visit_page.starts_with(&format!("/employers/{employer}/visites/")),
        "{visit_page}"
    );
    browser.click("main a[href$='/besoin']").await;
    browser.audit("besoin repéré en visite").await;
    let heard = format!("form[action='{visit_page}/besoin'] button");
    browser.click(&heard).await;
    browser.refused("activities", "").await;
    browser
        .fill("#activities", "Livrer les commandes du samedi matin")
        .await;
    browser.fill("#headcount", "0").await;
    browser.click(&heard).await;
    browser.refused("headcount", "").await;
    assert_eq!(
        browser.value("#activities").await,
        "Livrer les commandes du samedi matin"
    );
    browser.fill("#headcount", "1").await;
    browser.click(&heard).await;
    let noted = browser.body().await;
    assert!(noted.contains("Besoin enregistré"), "{noted}");
    assert!(
        noted.contains("Livrer les commandes du samedi matin"),
        "{noted}"
    );
    assert!(noted.contains("visite"), "{noted}");
    browser.audit("besoin repéré, sa fiche").await;
    browser.sign_out().await;

    // Another need, in the establishment's own words, from its space, by
    // its link.
    browser.by_link(&server, host, &mut links).await;
    assert!(browser.body().await.contains("Boulangerie du Port"));
    browser.audit("portail de l'employeur").await;
    browser.click("a[href='/portail/besoin']").await;
    browser
        .fill(
            "#activities",
            "Peser, pétrir et façonner la pâte avec l'équipe du matin",
        )
        .await;
    browser.pick("#horizon", "WITHIN_THREE_MONTHS").await;
    browser.audit("besoin, portail").await;
    browser.keep("06-portail-besoin", None).await;
    browser.click("form[action='/portail/besoin'] button").await;
    assert!(browser.body().await.contains("Votre besoin est envoyé"));
    browser.sign_out().await;

    // Camille finds it in her tasks and qualifies it: the people whose
    // project fits come up.
    browser.sign_in(base).await;
    browser
        .until(&format!("{base}/"), "a exprimé un besoin")
        .await;
    browser.click(".tasks a[href^='/needs/']").await;
    let (_, need) = browser.path().await;
    browser.audit("besoin").await;
    browser.fill("#rome_codes", "D1102").await;
    browser.pick("#hiring_intent", "PLANNED").await;
    browser
        .click(&format!("form[action='/needs/{need}/qualifier'] button"))
        .await;
    let file = browser
        .until(&format!("{base}/needs/{need}"), "qualifié")
        .await;
    assert!(
        file.contains("Personnes dont le projet correspond"),
        "{file}"
    );
    let proposal = format!(
        "a[href='/immersions/nouvelle?personne={person}&employeur={employer}&besoin={need}']"
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while browser.client.find(Locator::Css(&proposal)).await.is_err() {
        assert!(std::time::Instant::now() < deadline, "{person} never fits");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        browser.goto(&format!("{base}/needs/{need}")).await;
    }
    browser.audit("besoin qualifié").await;
    browser.keep("07-besoin-qualifie", Some("#personnes")).await;

    // The immersion proposed from there; both parties' yes, as heard.
    browser.click(&proposal).await;
    browser.audit("proposition").await;
    browser
        .click("form[action='/immersions'] button:not([name])")
        .await;
    let page = browser.body().await;
    assert!(
        page.contains("Immersion chez Boulangerie du Port"),
        "{page}"
    );
    let (_, immersion) = browser.path().await;
    browser.audit("immersion proposée").await;
    browser.keep("08-immersion", None).await;
    browser.click("form[action$='/reponse'] button").await;
    browser.click("form[action$='/reponse'] button").await;

    // The convention drafted, for today.
    browser.click("a[href$='/convention']").await;
    let today = passerelle_app::Clock::today(&passerelle_app::SystemClock).to_string();
    for (field, value) in [
        ("start", today.as_str()),
        ("end", today.as_str()),
        ("birth_date", "2001-05-12"),
    ] {
        browser.set_date(field, value).await;
    }
    for (field, value) in [
        ("#address", "3 rue des Lilas, 44000 Nantes"),
        ("#place_address", "12 quai de la Fosse"),
        ("#host_agreement", "IDCC 843"),
        ("#host_signatory", "Lucie Bernard"),
        ("#tutor_name", "Lucie Bernard"),
        ("#tutor_job", "Gérante"),
        ("#goals", "Découvrir le façonnage du pain"),
        ("#tasks", "Peser, pétrir, façonner"),
        ("#evaluation", "Grille remplie avec la tutrice"),
        ("#weekly_hours", "35"),
    ] {
        browser.fill(field, value).await;
    }
    browser.tick("input[name='attestation']").await;
    browser.audit("convention").await;
    browser.click("form[action$='/convention'] button").await;
    let page = browser.body().await;
    assert!(page.contains("Convention rédigée"), "{page}");

    // The host signs on paper: Camille prints the convention, takes it to
    // the bakery, and records the signature it came back with.
    browser.click("a[href$='/convention/imprimer']").await;
    let printed = browser.body().await;
    assert!(printed.contains("Lucie Bernard"), "{printed}");
    browser.audit("convention imprimée").await;
    browser
        .goto(&format!("{base}/immersions/{immersion}"))
        .await;
    let on_paper = "form[action$='/signature']:has(input[name='signatory'][value='HOST']):has(input[name='paper'][value='true']) button";
    assert_eq!(
        browser.text(on_paper).await,
        "Enregistrer la signature sur papier de la structure d'accueil"
    );
    browser.click(on_paper).await;
    let page = browser.body().await;
    assert!(
        !page.contains("signature sur papier de la structure d'accueil"),
        "{page}"
    );
    assert!(browser.text("dl").await.contains("la personne"), "{page}");
    assert!(!browser.text("dl").await.contains("la structure d'accueil"));
    browser.audit("signature sur papier enregistrée").await;
    browser.sign_out().await;

    // Awa reads it whole and signs at its foot, from her link.
    browser.by_link(&server, awa, &mut links).await;
    browser.click(".tasks a[href^='/immersions/']").await;
    browser.click("a[href$='/convention/imprimer']").await;
    browser.audit("convention à signer, personne").await;
    browser.keep("09-convention-a-signer", None).await;
    browser.click("form[action$='/signature'] button").await;
    assert!(
        !browser
            .body()
            .await
            .contains("Signer la convention en ligne")
    );
    browser.sign_out().await;

    // Camille signs as prescriber, validates, and the immersion runs.
    browser.sign_in(base).await;
    browser
        .goto(&format!("{base}/immersions/{immersion}"))
        .await;
    browser
        .click("form[action$='/signature']:has(input[name='signatory'][value='PRESCRIBER']) button")
        .await;
    browser.click("form[action$='/validation'] button").await;
    assert!(browser.body().await.contains("Convention validée"));
    browser.click("form[action$='/debut'] button").await;
    browser.audit("immersion en cours").await;

    // A work accident during the immersion, as the host told it minutes
    // later, reported from the immersion's page; then its declaration to
    // the health insurance, filed.
    let now = passerelle_app::Clock::now(&passerelle_app::SystemClock);
    let paris = now.to_offset(passerelle_app::paris_offset(now));
    let minute = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]");
    let ago = |m: i64| (paris - time::Duration::minutes(m)).format(minute).unwrap();
    browser.set_date("accident_at", &ago(3)).await;
    browser.set_date("accident_informed", &ago(2)).await;
    browser
        .fill(
            "#accident_description",
            "Coupure légère à la main en façonnant, soignée sur place",
        )
        .await;
    browser.click("form[action$='/accident'] button").await;
    let page = browser
        .until(
            &format!("{base}/immersions/{immersion}"),
            "Coupure légère à la main",
        )
        .await;
    assert!(page.contains("Accidents du travail"), "{page}");
    assert!(page.contains("à déposer avant le"), "{page}");
    browser.audit("accident signalé").await;
    browser
        .keep_wide("08-immersion-accident-bureau", Some("#accidents"))
        .await;
    browser
        .client
        .execute(
            "document.querySelector(\"input[name='filed_at']\").value = arguments[0];",
            vec![json!(ago(1))],
        )
        .await
        .unwrap();
    browser.click("form[action$='/declaration'] button").await;
    let page = browser
        .until(&format!("{base}/immersions/{immersion}"), "déposée le")
        .await;
    assert!(!page.contains("Enregistrer la déclaration"), "{page}");
    browser.audit("déclaration d'accident déposée").await;
    browser.click("form[action$='/fin'] button").await;
    browser.sign_out().await;

    // The host's assessment, by its link.
    browser.by_link(&server, host, &mut links).await;
    browser.click(".tasks a[href^='/immersions/']").await;
    browser.pick("#skill-JOB_TASKS", "ACQUIRED").await;
    browser
        .fill("#advice", "La pâtisserie lui irait bien")
        .await;
    browser.audit("bilan de l'hôte").await;
    browser.keep("10-bilan", Some("#bilan")).await;
    browser.click("form[action$='/bilan'] button").await;
    assert!(browser.body().await.contains("le bilan de l'entreprise"));
    browser.sign_out().await;

    // The person reads it and countersigns it, with her own words.
    browser.by_link(&server, awa, &mut links).await;
    browser.click(".tasks a[href^='/immersions/']").await;
    let page = browser.body().await;
    assert!(page.contains("La pâtisserie lui irait bien"), "{page}");
    browser
        .fill("#words", "J'ai aimé le fournil, moins les horaires")
        .await;
    browser
        .tick("input[name='countersigns'][value='oui']")
        .await;
    browser.audit("retour de la personne").await;
    browser.click("form[action$='/retour'] button").await;
    assert!(browser.body().await.contains("le retour de la personne"));
    // From her space, she agrees to share her path as a testimony.
    browser.goto(&format!("{base}/")).await;
    browser
        .click("form[action='/mon-espace/accords']:has(input[name='purpose'][value='TESTIMONY']) button")
        .await;
    let space = browser.body().await;
    assert!(space.contains("Votre choix est enregistré"), "{space}");
    assert!(
        space.contains("Retirer mon accord : Partager mon parcours"),
        "{space}"
    );
    browser.audit("accord pour témoigner").await;
    browser.sign_out().await;

    // Afternoon: her project readjusted from her file.
    browser.sign_in(base).await;
    browser.goto(&format!("{base}/people/{person}")).await;
    // The readjustment cites the immersion that caused it.
    browser
        .pick("#cause", &format!("IMMERSION_FEEDBACK:{immersion}"))
        .await;
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
    assert!(file.contains("D1104 — Pâtissier / Pâtissière"), "{file}");
    assert!(file.contains("après les retours d'une immersion"), "{file}");
    assert!(
        file.contains("Partager son parcours (témoignage) : donné"),
        "{file}"
    );

    // A peer meeting and a job inquiry, from her file: a job's code that
    // is not one is refused beside its field.
    browser.click("a[href$='/rencontre']").await;
    browser.audit("rencontre avec un pair").await;
    browser
        .fill("#peer", "Une pâtissière en reconversion")
        .await;
    browser.fill("#rome", "D1104").await;
    browser
        .fill("#learned", "Commencer par un CAP en alternance")
        .await;
    browser.click("form[action$='/rencontre'] button").await;
    assert!(
        browser
            .body()
            .await
            .contains("Une pâtissière en reconversion")
    );
    browser.click("a[href$='/enquete']").await;
    browser.fill("#rome", "ZZZ").await;
    browser
        .fill("#with_whom", "Pâtisserie Roux, rue Crébillon")
        .await;
    browser
        .fill("#learned", "Les horaires commencent à 5 h")
        .await;
    browser.click("form[action$='/enquete'] button").await;
    browser.refused("rome", "ROME").await;
    assert_eq!(
        browser.value("#with_whom").await,
        "Pâtisserie Roux, rue Crébillon"
    );
    browser.audit("enquête métier, erreur").await;
    browser.fill("#rome", "D1104").await;
    browser.click("form[action$='/enquete'] button").await;
    let file = browser
        .until(
            &format!("{base}/people/{person}"),
            "Pâtisserie Roux, rue Crébillon",
        )
        .await;
    assert!(file.contains("Une pâtissière en reconversion"), "{file}");
    browser.audit("fiche de la personne").await;
    browser.keep("11-fiche-personne", Some("#projet")).await;
    browser
        .keep_wide("11-fiche-personne-bureau", Some("#projet"))
        .await;

    // The need became an offer.
    browser.goto(&format!("{base}/needs/{need}")).await;
    browser.fill("#offer_reference", "FT-2026-0042").await;
    browser
        .click(&format!("form[action='/needs/{need}/offre'] button"))
        .await;
    browser
        .until(
            &format!("{base}/needs/{need}"),
            "Formalisé en offre d'emploi",
        )
        .await;
    browser.audit("besoin formalisé").await;
    browser.sign_out().await;

    // Evening: the manager reads the dashboards.
    browser.sign_in_as(base, "direction@ml-nantes.fr").await;
    for (board, title) in [
        ("entonnoir", "Entonnoir des immersions"),
        ("suites", "Suites des immersions"),
        ("besoins", "Des besoins aux embauches"),
        ("reajustements", "Réajustements des projets"),
        ("employeurs", "Engagement des employeurs"),
    ] {
        browser.goto(&format!("{base}/tableaux/{board}")).await;
        let page = browser.body().await;
        assert!(page.contains(title), "{board}: {page}");
        browser.audit(title).await;
    }
    browser.keep("12-engagement-employeurs", None).await;
    browser.close().await;
    assert!(server.terminate().success());
}
