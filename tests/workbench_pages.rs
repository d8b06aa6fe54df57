//! What a mediator reads and records from the pages, over HTTP against the
//! real binary: a person's identity and whole project on her file, the
//! project's forms with their contracts, mobility and constraints (the
//! readjustment starting from the project as it stands), the values a
//! correction starts from, a need heard on the phone, a need's closing,
//! an immersion proposed from a need, a proposal's refusal, and the day an
//! immersion started.

mod common;
#[path = "support/pages.rs"]
mod pages;

use common::*;
use pages::{Form, get_with, signed_in};
use passerelle_store::testkit::TestDb;
use serde_json::{Value, json};

/// A page's HTML, its apostrophes as written.
async fn html(server: &Server, path: &str, cookies: &[String]) -> String {
    let answer = get_with(server, path, cookies).await;
    assert_eq!(answer.status(), 200, "{path}");
    answer.text().await.unwrap().replace("&#39;", "'")
}

/// A mutation's data; panics on any error.
async fn ok(server: &Server, token: &str, query: &str, variables: Value) -> Value {
    let answer = gql(server, Some(token), query, variables).await;
    assert!(answer["errors"].is_null(), "{query}: {answer}");
    answer["data"].clone()
}

#[tokio::test]
async fn a_persons_file_shows_her_identity_and_her_whole_project() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, token) = started(&db, &dir).await;
    let person = ok(
        &server,
        &token,
        "mutation { personEnroll(input: { firstName: \"Awa\", lastName: \"Diallo\",
            birthDate: \"2001-05-12\", email: \"awa.diallo@exemple.fr\", phone: \"+33612345678\",
            address: \"3 rue des Lilas, 44000 Nantes\", commune: \"44109\" }) { person { id } } }",
        json!({}),
    )
    .await["personEnroll"]["person"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let cookies = signed_in(&server, "camille@ml-nantes.fr").await;
    let file = format!("/people/{person}");
    let shown = html(&server, &file, &cookies).await;
    for line in [
        "<h2 id=\"identite\">Identité et coordonnées</h2>",
        "<li>Date de naissance : 12 mai 2001</li>",
        "<li>E-mail : awa.diallo@exemple.fr</li>",
        "<li>Téléphone : 06 12 34 56 78</li>",
        "<li>Adresse : 3 rue des Lilas, 44000 Nantes</li>",
        "<li>Commune : Nantes</li>",
    ] {
        assert!(shown.contains(line), "{line} in {shown}");
    }
    // The correction starts from what is recorded.
    let correct = html(&server, &format!("{file}/corriger"), &cookies).await;
    assert!(
        correct.contains("Enregistré : 06 12 34 56 78")
            && correct.contains("Enregistré : 12 mai 2001"),
        "{correct}"
    );

    // The first project, with its contracts, mobility and constraints; a
    // distance that is not a number is refused beside it, what was typed
    // kept, and a contract the list does not offer is left out.
    let form = Form::fetch(&server, &cookies).await;
    let first = format!("{file}/premier-projet");
    let refused = form
        .post(
            &server,
            &first,
            "project_rome=D1102&contrat=CDI&mobilite=loin&contraintes=Pas+avant+9+h",
        )
        .await;
    assert_eq!(refused.status(), 422);
    let page = refused.text().await.unwrap().replace("&#39;", "'");
    assert!(
        page.contains("id=\"mobilite-erreur\">Indiquez une distance en kilomètres"),
        "{page}"
    );
    assert!(page.contains("value=\"loin\""), "{page}");
    assert!(
        page.contains("name=\"contrat\" value=\"CDI\" checked"),
        "{page}"
    );
    let stated = form
        .post(
            &server,
            &first,
            "project_rome=D1102&contrat=CDI&contrat=INTERIM&contrat=PAS_UN_CONTRAT&mobilite=25\
             &contraintes=Pas+avant+9+h",
        )
        .await;
    assert_eq!(stated.status(), 303);
    let shown = html(&server, &file, &cookies).await;
    for line in [
        "Contrats souhaités : CDI, Intérim",
        "Mobilité : jusqu'à 25 km",
        "Contraintes : Pas avant 9 h",
    ] {
        assert!(shown.contains(line), "{line} in {shown}");
    }
    let versions = ok(
        &server,
        &token,
        "query($p: ID!) { person(id: $p) { projectVersions { contractWishes mobilityRadiusKm constraints } } }",
        json!({ "p": person }),
    )
    .await;
    assert_eq!(
        versions["person"]["projectVersions"],
        json!([{ "contractWishes": ["CDI", "INTERIM"], "mobilityRadiusKm": 25,
            "constraints": "Pas avant 9 h" }])
    );

    // The readjustment starts from the project as it stands, so that
    // changing the jobs keeps the rest.
    let held = ok(
        &server,
        &token,
        "mutation($p: ID!) { jobInquiryLog(input: { personId: $p, romeCode: \"D1104\",
            withWhom: \"Pâtisserie Lebrun\" }) { person { jobInquiries { id } } } }",
        json!({ "p": person }),
    )
    .await;
    let inquiry = held["jobInquiryLog"]["person"]["jobInquiries"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let shown = html(&server, &file, &cookies).await;
    assert!(
        shown.contains("id=\"rome\" name=\"rome\" value=\"D1102\""),
        "{shown}"
    );
    assert!(
        shown.contains("name=\"contrat\" value=\"INTERIM\" checked"),
        "{shown}"
    );
    assert!(
        shown.contains("id=\"mobilite\" name=\"mobilite\" value=\"25\""),
        "{shown}"
    );
    let readjusted = form
        .post(
            &server,
            &format!("{file}/projet"),
            &format!(
                "cause=JOB_INQUIRY%3A{inquiry}&rome=D1104&contrat=CDI&contrat=INTERIM&mobilite=25\
                 &contraintes=Pas+avant+9+h&what_changed=La+p%C3%A2tisserie+lui+pla%C3%AEt"
            ),
        )
        .await;
    assert_eq!(readjusted.status(), 303);
    let versions = ok(
        &server,
        &token,
        "query($p: ID!) { person(id: $p) { projectVersions { targetRomeCodes contractWishes
            mobilityRadiusKm } } }",
        json!({ "p": person }),
    )
    .await;
    assert_eq!(
        versions["person"]["projectVersions"][1],
        json!({ "targetRomeCodes": ["D1104"], "contractWishes": ["CDI", "INTERIM"],
            "mobilityRadiusKm": 25 })
    );
    assert!(server.terminate().success());
}

#[tokio::test]
async fn a_need_heard_on_the_phone_proposed_closed_and_read_back_from_the_pages() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, token) = started(&db, &dir).await;
    let employer = register_employer(&server, &token, &siret(7), "Boulangerie du Port").await;
    let e = employer.as_str().unwrap();
    let person = enroll(&server, &token, None).await;
    let cookies = signed_in(&server, "camille@ml-nantes.fr").await;
    // The hosting capacity's notes, on the file and in the form that
    // changes it.
    ok(
        &server,
        &token,
        "mutation($e: ID!) { employerHostingCapacitySet(input: { employerId: $e,
            simultaneousImmersions: 2, notes: \"Fermé en août\" }) { employer { id } } }",
        json!({ "e": e }),
    )
    .await;
    let file = html(&server, &format!("/employers/{e}"), &cookies).await;
    assert!(file.contains(". Notes : Fermé en août</span>"), "{file}");
    let form = html(&server, &format!("/employers/{e}/capacite"), &cookies).await;
    assert!(form.contains("Fermé en août</textarea>"), "{form}");
    let phone = format!("/employers/{e}/besoin");
    assert!(file.contains(&format!("href=\"{phone}\"")), "{file}");
    let page = html(&server, &phone, &cookies).await;
    assert!(
        page.contains("<h1>Noter un besoin entendu au téléphone</h1>"),
        "{page}"
    );
    let form = Form::fetch(&server, &cookies).await;
    let heard = form
        .post(
            &server,
            &phone,
            "activities=Livraisons+du+matin&horizon=NOW&headcount=1&hiring_intent=POSSIBLE",
        )
        .await;
    assert_eq!(heard.status(), 303);
    let to = heard.headers()["location"].to_str().unwrap().to_owned();
    let need = to
        .trim_start_matches("/needs/")
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    let source = ok(
        &server,
        &token,
        "query($n: ID!) { need(id: $n) { sourceKind } }",
        json!({ "n": need }),
    )
    .await;
    assert_eq!(source["need"]["sourceKind"], "PHONE");

    // Proposed from the need: the immersion keeps the link.
    let shown = html(&server, &format!("/needs/{need}"), &cookies).await;
    let propose = format!("/immersions/nouvelle?employeur={e}&amp;besoin={need}");
    assert!(shown.contains(&propose), "{shown}");
    let page = html(&server, &propose.replace("&amp;", "&"), &cookies).await;
    assert!(
        page.contains(&format!("name=\"need\" value=\"{need}\"")),
        "{page}"
    );
    // A need that is not an id, edited by hand into the address: the
    // proposal goes on without it.
    let by_hand = html(
        &server,
        &format!("/immersions/nouvelle?employeur={e}&besoin=pas-un-id"),
        &cookies,
    )
    .await;
    assert!(!by_hand.contains("name=\"need\""), "{by_hand}");
    let proposed = form
        .post(
            &server,
            "/immersions",
            &format!(
                "person={}&employer={e}&need={need}&objective=DISCOVER_JOB_OR_SECTOR",
                person.as_str().unwrap()
            ),
        )
        .await;
    assert_eq!(proposed.status(), 303);
    let immersion = proposed.headers()["location"]
        .to_str()
        .unwrap()
        .trim_start_matches("/immersions/")
        .to_owned();
    let linked = ok(
        &server,
        &token,
        "query($i: ID!) { immersion(id: $i) { needId } }",
        json!({ "i": immersion }),
    )
    .await;
    assert_eq!(linked["immersion"]["needId"], need.as_str());

    // Closed for another reason: the page says why and when.
    ok(
        &server,
        &token,
        "mutation($n: ID!) { needClose(input: { needId: $n, reason: OTHER,
            explanation: \"Tournée supprimée\" }) { need { id } } }",
        json!({ "n": need }),
    )
    .await;
    let shown = html(&server, &format!("/needs/{need}"), &cookies).await;
    assert!(shown.contains("<dd>Clos</dd>"), "{shown}");
    assert!(
        shown.contains("<dt>Clôture</dt><dd>Le ")
            && shown.contains(" : autre raison (Tournée supprimée)</dd>"),
        "{shown}"
    );
    assert!(server.terminate().success());
}

#[tokio::test]
async fn an_immersion_says_its_refusal_and_starts_on_the_day_given() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, token) = started(&db, &dir).await;
    let employer =
        register_employer(&server, &token, "73282932000074", "Boulangerie du Port").await;
    let person = enroll(&server, &token, None).await;
    let today = enrolled_on(&server, &token, &person).await;
    let cookies = signed_in(&server, "camille@ml-nantes.fr").await;

    // A proposal declined: by whom, when, why.
    let declined = propose(&server, &token, &person, &employer).await;
    ok(
        &server,
        &token,
        "mutation($i: ID!) { immersionDecline(input: { immersionId: $i, by: PERSON,
            reason: \"Trop loin de chez elle\" }) { immersion { id } } }",
        json!({ "i": declined }),
    )
    .await;
    let shown = html(
        &server,
        &format!("/immersions/{}", declined.as_str().unwrap()),
        &cookies,
    )
    .await;
    assert!(shown.contains("Proposition refusée"), "{shown}");
    assert!(
        shown.contains("par : la personne. Motif : Trop loin de chez elle"),
        "{shown}"
    );

    // Its start recorded with a day: one to come is refused beside it.
    let immersion = validated(&server, &token, &person, &employer, &today).await;
    let i = immersion.as_str().unwrap();
    let page = html(&server, &format!("/immersions/{i}"), &cookies).await;
    assert!(page.contains("<label for=\"on\">Premier jour"), "{page}");
    let form = Form::fetch(&server, &cookies).await;
    let tomorrow = time::Date::parse(&today, &time::format_description::well_known::Iso8601::DATE)
        .unwrap()
        .next_day()
        .unwrap();
    let refused = form
        .post(
            &server,
            &format!("/immersions/{i}/debut"),
            &format!("on={tomorrow}"),
        )
        .await;
    assert_eq!(refused.status(), 422);
    let page = refused.text().await.unwrap();
    assert!(page.contains("id=\"on-erreur\""), "{page}");
    let started = form
        .post(
            &server,
            &format!("/immersions/{i}/debut"),
            &format!("on={today}"),
        )
        .await;
    assert_eq!(started.status(), 303);
    let stage = ok(
        &server,
        &token,
        "query($i: ID!) { immersion(id: $i) { currentStage } }",
        json!({ "i": immersion }),
    )
    .await;
    assert_eq!(stage["immersion"]["currentStage"], "STARTED");
    assert!(server.terminate().success());
}

#[tokio::test]
async fn the_workbench_lists_immersions_and_shows_what_each_record_holds() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, token) = started(&db, &dir).await;
    create_staff(
        &db,
        &dir,
        "Mission locale de Nantes",
        "manager",
        "direction@ml-nantes.fr",
    );
    let employer = register_employer(&server, &token, &siret(8), "Boulangerie du Port").await;
    let e = employer.as_str().unwrap();
    let person = enroll(&server, &token, None).await;
    let p = person.as_str().unwrap();
    let today = enrolled_on(&server, &token, &person).await;
    let cookies = signed_in(&server, "camille@ml-nantes.fr").await;
    let form = Form::fetch(&server, &cookies).await;

    // A visit with what comes next.
    let logged = form
        .post(
            &server,
            "/visites",
            &format!(
                "employer={e}&visited_on={today}&purpose=PROSPECTION\
                 &observations=Deux+fourn%C3%A9es&next_step=Rappeler+lundi"
            ),
        )
        .await;
    assert_eq!(logged.status(), 303);
    let visits = ok(
        &server,
        &token,
        "query($e: ID!) { employer(id: $e) { loggedVisits(first: 5) { edges { node { nextStep } } } } }",
        json!({ "e": e }),
    )
    .await;
    assert_eq!(
        visits["employer"]["loggedVisits"]["edges"][0]["node"]["nextStep"],
        "Rappeler lundi"
    );

    // A proposal with a word for the person and the host: on its page.
    let proposed = form
        .post(
            &server,
            "/immersions",
            &format!(
                "person={p}&employer={e}&objective=DISCOVER_JOB_OR_SECTOR\
                 &message=Rendez-vous+%C3%A0+6+h+devant+la+boutique"
            ),
        )
        .await;
    assert_eq!(proposed.status(), 303);
    let immersion = proposed.headers()["location"].to_str().unwrap().to_owned();
    let shown = html(&server, &immersion, &cookies).await;
    assert!(
        shown.contains("<dt>Le mot du médiateur</dt><dd>Rendez-vous à 6 h devant la boutique</dd>"),
        "{shown}"
    );

    // The structure's immersions, searched by stage.
    let list = html(&server, "/immersions", &cookies).await;
    assert!(
        list.contains("<strong>Awa Diallo</strong> chez Boulangerie du Port"),
        "{list}"
    );
    assert!(
        list.contains("Proposée · dates à fixer (proposée le "),
        "{list}"
    );
    let started_only = html(&server, "/immersions?etat=STARTED", &cookies).await;
    assert!(
        started_only.contains("Aucune immersion n'en est là."),
        "{started_only}"
    );
    let by_hand = get_with(&server, "/immersions?etat=PAS_UN_ETAT", &cookies).await;
    assert_eq!(by_hand.status(), 422);
    let by_hand = by_hand.text().await.unwrap();
    assert!(
        by_hand.contains("id=\"etat-erreur\">Choisissez un état de la liste."),
        "{by_hand}"
    );

    // An identity corrected: the file lists the correction.
    ok(
        &server,
        &token,
        "mutation($p: ID!) { personCorrect(input: { personId: $p, changes: { lastName: \"Diallo-Sy\" },
            reason: \"Nom d'usage\" }) { person { id } } }",
        json!({ "p": p }),
    )
    .await;
    let file = html(&server, &format!("/people/{p}"), &cookies).await;
    assert!(
        file.contains("Nom<br><span class=\"hint\">Motif : Nom d'usage</span>"),
        "{file}"
    );

    // The inbox says when each task is due (a convention to sign before
    // its start, today); a manager reads a colleague's.
    drafted(&server, &token, &person, &employer, &today).await;
    let mut inbox = String::new();
    for _ in 0..50 {
        inbox = html(&server, "/", &cookies).await;
        if !inbox.contains("Rien à faire pour l'instant.") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(
        inbox.contains("<span class=\"hint\">À faire pour le ")
            || inbox.contains("de retard</span>"),
        "{inbox}"
    );
    let camille = ok(&server, &token, "{ me { id } }", json!({})).await["me"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let manager = signed_in(&server, "direction@ml-nantes.fr").await;
    let theirs = html(&server, &format!("/?mediateur={camille}"), &manager).await;
    assert!(
        theirs.contains("<h2 id=\"taches\">Les tâches de "),
        "{theirs}"
    );
    assert!(theirs.contains("Awa Diallo"), "{theirs}");
    let unknown = html(&server, "/?mediateur=pas-un-id", &manager).await;
    assert!(
        unknown.contains("Ce membre de l'équipe n'existe pas ou plus"),
        "{unknown}"
    );
    assert!(
        unknown.contains("<h2 id=\"taches\">Mes tâches</h2>"),
        "{unknown}"
    );
    // A mediator is offered no colleague's.
    assert!(!inbox.contains("Voir les tâches de"), "{inbox}");
    // Her account deactivated, her tasks are still there to hand over.
    let direction = login(&server, "direction@ml-nantes.fr").await;
    ok(
        &server,
        &direction,
        "mutation($u: ID!) { staffDeactivate(input: { userId: $u }) { member { active } } }",
        json!({ "u": camille }),
    )
    .await;
    let left = html(&server, &format!("/?mediateur={camille}"), &manager).await;
    assert!(left.contains("Awa Diallo"), "{left}");
    assert!(left.contains("(compte désactivé)</option>"), "{left}");
    assert!(server.terminate().success());
}

/// The day a step was taken, given on the page, is the one recorded and
/// read back: a need qualified, formalised or closed on an earlier day, a
/// proposal's answer recorded by staff on its day; a day that is not one,
/// or one to come, is refused beside its own form. Who validated a
/// convention, and when, is on the immersion's page.
#[tokio::test]
async fn the_pages_record_each_step_on_the_day_given() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, token) = started(&db, &dir).await;
    let employer =
        register_employer(&server, &token, "73282932000074", "Boulangerie du Port").await;
    let person = enroll(&server, &token, None).await;
    let today = enrolled_on(&server, &token, &person).await;
    let day = |back: i64| {
        (time::Date::parse(&today, &time::format_description::well_known::Iso8601::DATE).unwrap()
            + time::Duration::days(back))
        .to_string()
    };
    let french = |iso: &str| {
        passerelle_domain::fr::date(
            time::Date::parse(iso, &time::format_description::well_known::Iso8601::DATE).unwrap(),
        )
    };
    let cookies = signed_in(&server, "camille@ml-nantes.fr").await;
    let form = Form::fetch(&server, &cookies).await;
    let surface = |on: String| {
        let (server, token, employer) = (&server, &token, &employer);
        async move {
            ok(
                server,
                token,
                "mutation($e: ID!, $on: Date!) { needSurface(input: { employerId: $e,
                    source: { kind: PHONE }, surfacedOn: $on,
                    description: { activities: \"Livraisons du matin\", romeCodes: [],
                        headcount: 1, horizon: NOW, hiringIntent: POSSIBLE } }) { need { id } } }",
                json!({ "e": employer, "on": on }),
            )
            .await["needSurface"]["need"]["id"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let need = surface(day(-10)).await;
    let qualify = |on: &str| {
        format!(
            "activities=Livraisons+du+matin&rome_codes=D1102&horizon=NOW&hiring_intent=POSSIBLE\
             &headcount=1&qualified_on={on}"
        )
    };
    let before = events(&db).await;
    let refused = form
        .post(
            &server,
            &format!("/needs/{need}/qualifier"),
            &qualify("pas-une-date"),
        )
        .await;
    assert_eq!(refused.status(), 422);
    let page = refused.text().await.unwrap();
    assert!(
        page.contains("<span class=\"error\" id=\"qualified_on-erreur\">Indiquez la date"),
        "{page}"
    );
    assert!(page.contains("value=\"pas-une-date\""), "{page}");
    assert_eq!(events(&db).await, before, "nothing recorded");
    let refused = form
        .post(
            &server,
            &format!("/needs/{need}/qualifier"),
            &qualify(&day(1)),
        )
        .await;
    assert_eq!(refused.status(), 422);
    let page = refused.text().await.unwrap();
    assert!(page.contains("id=\"qualified_on-erreur\""), "{page}");
    let qualified = form
        .post(
            &server,
            &format!("/needs/{need}/qualifier"),
            &qualify(&day(-5)),
        )
        .await;
    assert_eq!(qualified.status(), 303);
    let formalised = form
        .post(
            &server,
            &format!("/needs/{need}/offre"),
            &format!("offer_reference=FT-123&formalised_on={}", day(-3)),
        )
        .await;
    assert_eq!(formalised.status(), 303);
    let read = ok(
        &server,
        &token,
        "query($n: ID!) { need(id: $n) { qualification { qualifiedOn recorded { role } }
            formalisation { offerReference formalisedOn } } }",
        json!({ "n": need }),
    )
    .await;
    assert_eq!(
        read["need"]["qualification"]["qualifiedOn"],
        day(-5).as_str()
    );
    assert_eq!(
        read["need"]["formalisation"],
        json!({ "offerReference": "FT-123", "formalisedOn": day(-3) })
    );
    let shown = html(&server, &format!("/needs/{need}"), &cookies).await;
    assert!(
        shown.contains(&format!(", qualifié le {}</dd>", french(&day(-5)))),
        "{shown}"
    );
    assert!(
        shown.contains(&format!(
            "<dd>Offre publiée : FT-123, le {}</dd>",
            french(&day(-3))
        )),
        "{shown}"
    );
    let other = surface(day(-10)).await;
    let closed = form
        .post(
            &server,
            &format!("/needs/{other}/clore"),
            &format!("reason=MET&closed_on={}", day(-2)),
        )
        .await;
    assert_eq!(closed.status(), 303);
    let shown = html(&server, &format!("/needs/{other}"), &cookies).await;
    assert!(
        shown.contains(&format!("<dt>Clôture</dt><dd>Le {} : ", french(&day(-2)))),
        "{shown}"
    );

    // A proposal's answer recorded by staff: its day beside each of its
    // forms, refused there when it is not one or still to come (that the
    // API refuses tomorrow shows the day goes to it; the proposal was made
    // today, so today is the one day it then takes).
    let proposed = propose(&server, &token, &person, &employer).await;
    let i = proposed.as_str().unwrap();
    let page = html(&server, &format!("/immersions/{i}"), &cookies).await;
    assert!(
        page.contains("<label for=\"reponse-PERSON-refuser\">Le jour de sa réponse"),
        "{page}"
    );
    for (typed, said) in [("hier", "Indiquez la date"), (day(1).as_str(), "")] {
        let refused = form
            .post(
                &server,
                &format!("/immersions/{i}/reponse"),
                &format!("by=PERSON&choix=refuser&reason=Trop+loin&answered_on={typed}"),
            )
            .await;
        assert_eq!(refused.status(), 422, "{typed}");
        let page = refused.text().await.unwrap();
        assert!(
            page.contains(&format!(
                "<p class=\"error\" id=\"reponse-PERSON-refuser-erreur\" role=\"alert\">{said}"
            )),
            "{typed}: {page}"
        );
        assert!(page.contains("Trop loin</textarea>"), "{page}");
    }
    let declined = form
        .post(
            &server,
            &format!("/immersions/{i}/reponse"),
            &format!("by=PERSON&choix=refuser&reason=Trop+loin&answered_on={today}"),
        )
        .await;
    assert_eq!(declined.status(), 303);
    let read = ok(
        &server,
        &token,
        "query($i: ID!) { immersion(id: $i) { decline { by answeredOn } } }",
        json!({ "i": i }),
    )
    .await;
    assert_eq!(
        read["immersion"]["decline"],
        json!({ "by": "PERSON", "answeredOn": today })
    );

    // Who validated a convention, and when.
    let immersion = validated(&server, &token, &person, &employer, &today).await;
    let read = ok(
        &server,
        &token,
        "query($i: ID!) { immersion(id: $i) { validations { renewal recorded { role } }
            prevalidations { renewal } } }",
        json!({ "i": immersion }),
    )
    .await;
    assert_eq!(
        read["immersion"],
        json!({ "validations": [{ "renewal": false, "recorded": { "role": "mediator" } }],
                "prevalidations": [] })
    );
    let page = html(
        &server,
        &format!("/immersions/{}", immersion.as_str().unwrap()),
        &cookies,
    )
    .await;
    assert!(
        page.contains(&format!(
            "<dt>Validation</dt><dd>le {}, par : Médiateur</dd>",
            french(&today)
        )),
        "{page}"
    );
    assert!(server.terminate().success());
}

/// A list's value that no form offers (a form edited by hand, or a page
/// older than its list) is refused beside its field, in the list's words,
/// before anything is sent: never in the API's codes, and nothing is
/// recorded.
#[tokio::test]
async fn a_list_value_edited_by_hand_is_refused_beside_its_field_in_french() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, token) = started(&db, &dir).await;
    let employer = register_employer(&server, &token, &siret(8), "Boulangerie du Quai").await;
    let e = employer.as_str().unwrap();
    let person = enroll(&server, &token, None).await;
    let p = person.as_str().unwrap();
    let visit = ok(
        &server,
        &token,
        "mutation($e: ID!) { employerVisitLog(input: { employerId: $e, purpose: PROSPECTION,
            observations: \"Première visite\" }) { visitId } }",
        json!({ "e": e }),
    )
    .await["employerVisitLog"]["visitId"]
        .as_str()
        .unwrap()
        .to_owned();
    let need = ok(
        &server,
        &token,
        "mutation($e: ID!) { needSurface(input: { employerId: $e, source: { kind: PHONE },
            description: { activities: \"Livraisons\", headcount: 1, horizon: NOW,
            hiringIntent: POSSIBLE } }) { need { id } } }",
        json!({ "e": e }),
    )
    .await["needSurface"]["need"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let cookies = signed_in(&server, "camille@ml-nantes.fr").await;
    let form = Form::fetch(&server, &cookies).await;
    let before = events(&db).await;
    for (path, body, field, said) in [
        (
            "/visites".to_owned(),
            format!("employer={e}&visited_on=2026-12-01&purpose=DEMARCHAGE&observations=Vu"),
            "purpose",
            "Choisissez l'objet de la visite dans la liste.",
        ),
        (
            format!("/employers/{e}/visites/{visit}/corriger"),
            "purpose=prospection&reason=Erreur".to_owned(),
            "purpose",
            "Choisissez l'objet de la visite dans la liste, ou laissez-le inchangé.",
        ),
        (
            "/immersions".to_owned(),
            format!("person={p}&employer={e}&objective=DECOUVRIR"),
            "objective",
            "Choisissez l'objectif de l'immersion parmi ceux proposés.",
        ),
        (
            format!("/needs/{need}/qualifier"),
            "activities=Livraisons&headcount=1&horizon=DEMAIN&hiring_intent=POSSIBLE&rome_codes=D1102"
                .to_owned(),
            "horizon",
            "Choisissez l'une des échéances de la liste.",
        ),
        (
            format!("/needs/{need}/clore"),
            "reason=PLUS_BESOIN".to_owned(),
            "reason",
            "Choisissez le motif de la clôture dans la liste.",
        ),
        (
            format!("/needs/{need}/corriger"),
            "activities=Livraisons&headcount=1&horizon=NOW&hiring_intent=PEUT_ETRE&reason=Erreur"
                .to_owned(),
            "hiring_intent",
            "Choisissez l'une des réponses proposées.",
        ),
    ] {
        let answer = form.post(&server, &path, &body).await;
        assert_eq!(answer.status(), 422, "{path}");
        let page = answer.text().await.unwrap().replace("&#39;", "'");
        assert!(
            page.contains(&format!(
                "<span class=\"error\" id=\"{field}-erreur\">{said}</span>"
            )),
            "{path}: {page}"
        );
        assert!(
            page.contains(&format!("aria-describedby=\"{field}-erreur\"")),
            "{path}: {page}"
        );
        assert!(!page.contains("n'est pas admise"), "{path}: {page}");
    }
    // Every field refused at once: no establishment, no day, a purpose
    // edited by hand.
    let answer = form
        .post(&server, "/visites", "purpose=DEMARCHAGE&observations=Vu")
        .await;
    assert_eq!(answer.status(), 422);
    let page = answer.text().await.unwrap().replace("&#39;", "'");
    for field in ["employer", "visited_on", "purpose"] {
        assert!(
            page.contains(&format!("<span class=\"error\" id=\"{field}-erreur\">")),
            "{field}: {page}"
        );
    }
    assert_eq!(events(&db).await, before, "nothing recorded");
    // The lists read by address say it in French too.
    let needs = get_with(&server, "/besoins?source=RUE", &cookies)
        .await
        .text()
        .await
        .unwrap()
        .replace("&#39;", "'");
    assert!(
        needs.contains("<span class=\"error\" id=\"source-erreur\">Choisissez l'origine du besoin dans la liste.</span>"),
        "{needs}"
    );
    // The dashboards' filters, refused beside their field, whether the
    // page or the API refuses them; one the form does not show (the team,
    // to a mediator), above the figures.
    let board = html(&server, "/tableaux/entonnoir?objective=TOUT", &cookies).await;
    assert!(
        board.contains(
            "<span class=\"error\" id=\"objective-erreur\">« TOUT » n'est pas un objectif de la liste : choisissez l'un de ceux proposés.</span>"
        ),
        "{board}"
    );
    assert!(!board.contains("n'est pas admise"), "{board}");
    assert!(
        board.contains(
            "Un filtre n'a pas pu être appliqué : corrigez-le dans les filtres ci-dessous."
        ),
        "{board}"
    );
    let board = html(&server, "/tableaux/entonnoir?from=demain", &cookies).await;
    assert!(
        board.contains("aria-describedby=\"from-erreur\"")
            && !board.contains("Invalid")
            && board.contains("<span class=\"error\" id=\"from-erreur\">"),
        "{board}"
    );
    // A code no referential knows would narrow the figures to nothing
    // without a word.
    for (query, field, said) in [
        (
            "departement=ZZZ",
            "departement",
            "Le département « ZZZ » n'existe pas",
        ),
        ("region=99", "region", "La région « 99 » n'existe pas"),
        ("naf=00", "naf", "Le code NAF « 00 » n'existe pas"),
        ("rome=Z9999", "rome", "Le code ROME « Z9999 » n'existe pas"),
    ] {
        let board = html(&server, &format!("/tableaux/entonnoir?{query}"), &cookies).await;
        assert!(
            board.contains(&format!(
                "<span class=\"error\" id=\"{field}-erreur\">{said}"
            )),
            "{query}: {board}"
        );
    }
    let board = html(&server, "/tableaux/entonnoir?mediatorId=zz", &cookies).await;
    assert!(
        board.contains("<p class=\"alert\" role=\"alert\">"),
        "{board}"
    );
    assert!(server.terminate().success());
}

/// A mediator signed in on the pages, and an immersion of one of her people
/// validated today, for today.
struct OnItsPage {
    db: TestDb,
    _dir: tempdir::Dir,
    server: Server,
    token: String,
    today: String,
    cookies: Vec<String>,
    form: Form,
    immersion: Value,
}

impl OnItsPage {
    /// The immersion's page, as its mediator reads it.
    async fn shown(&self) -> String {
        let i = self.immersion.as_str().unwrap();
        html(&self.server, &format!("/immersions/{i}"), &self.cookies).await
    }

    /// Starts the immersion today, through the API.
    async fn start(&self) {
        ok(
            &self.server,
            &self.token,
            "mutation($i: ID!) { immersionStart(input: { immersionId: $i }) { immersion { id } } }",
            json!({ "i": self.immersion }),
        )
        .await;
    }

    /// Posts each body to the page's `action`: each is refused with 422
    /// beside its field, the message there beginning with `said`, and
    /// nothing is recorded.
    async fn refused_beside(&self, action: &str, cases: &[(String, &str, &str)]) {
        let i = self.immersion.as_str().unwrap();
        let before = events(&self.db).await;
        for (body, field, said) in cases {
            let answer = self
                .form
                .post(&self.server, &format!("/immersions/{i}/{action}"), body)
                .await;
            assert_eq!(answer.status(), 422, "{body}");
            let refused = answer.text().await.unwrap().replace("&#39;", "'");
            assert!(
                refused.contains(&format!(
                    "<span class=\"error\" id=\"{field}-erreur\">{said}"
                )),
                "{body}: {refused}"
            );
        }
        assert_eq!(events(&self.db).await, before, "nothing recorded");
    }

    async fn new() -> Self {
        let db = TestDb::new().await;
        let dir = data_dir();
        let (server, token) = started(&db, &dir).await;
        let employer =
            register_employer(&server, &token, "73282932000074", "Boulangerie du Port").await;
        let person = enroll(&server, &token, None).await;
        let today = enrolled_on(&server, &token, &person).await;
        let cookies = signed_in(&server, "camille@ml-nantes.fr").await;
        let form = Form::fetch(&server, &cookies).await;
        let immersion = validated(&server, &token, &person, &employer, &today).await;
        Self {
            db,
            _dir: dir,
            server,
            token,
            today,
            cookies,
            form,
            immersion,
        }
    }
}

/// The immersion's own forms refuse a list's value or a radio's answer
/// that none of them offers (a form edited by hand) beside its field, in
/// French, as the other forms do: not on a page of its own, and nothing is
/// recorded.
#[tokio::test]
async fn an_immersions_forms_refuse_a_value_edited_by_hand_beside_its_field() {
    let OnItsPage {
        db,
        _dir,
        server,
        token,
        today,
        form,
        immersion,
        ..
    } = OnItsPage::new().await;
    let i = immersion.as_str().unwrap();
    let refused_beside = |path: String, body: String, fields: Vec<(&'static str, &'static str)>| {
        let (server, form, db) = (&server, &form, &db);
        async move {
            let before = events(db).await;
            let answer = form.post(server, &path, &body).await;
            assert_eq!(answer.status(), 422, "{path} {body}");
            let page = answer.text().await.unwrap().replace("&#39;", "'");
            for (field, said) in fields {
                assert!(
                    page.contains(&format!(
                        "<span class=\"error\" id=\"{field}-erreur\">{said}</span>"
                    )),
                    "{path} {field}: {page}"
                );
                assert!(
                    page.contains(&format!("aria-describedby=\"{field}-erreur\"")),
                    "{path} {field}: {page}"
                );
            }
            assert!(!page.contains("n'est pas admise"), "{path}: {page}");
            assert_eq!(events(db).await, before, "{path}: nothing recorded");
        }
    };
    refused_beside(
        format!("/immersions/{i}/annulation"),
        "cancel_by=LE_CHEF&cancel_reason=Fermeture".to_owned(),
        vec![(
            "cancel_by",
            "Choisissez dans la liste qui est à l'initiative de l'annulation.",
        )],
    )
    .await;
    ok(
        &server,
        &token,
        "mutation($i: ID!) { immersionStart(input: { immersionId: $i }) { immersion { id } } }",
        json!({ "i": immersion }),
    )
    .await;
    refused_beside(
        format!("/immersions/{i}/interruption"),
        format!("interrupt_by=LE_CHEF&interrupt_reason=Malade&interrupt_on={today}"),
        vec![(
            "interrupt_by",
            "Choisissez dans la liste qui est à l'initiative de l'interruption.",
        )],
    )
    .await;
    refused_beside(
        format!("/immersions/{i}/observation"),
        "goals_observed=peut-etre&notes=Bien".to_owned(),
        vec![("goals_observed", "Répondez par oui ou par non.")],
    )
    .await;
    // Every field refused at once: the attendance, a skill's level and the
    // contract edited by hand.
    refused_beside(
        format!("/immersions/{i}/bilan"),
        "attendance=ABSENTE&goals_reached=oui&skill-PUNCTUALITY=PARFAIT&hiring=CDI_A_VIE"
            .to_owned(),
        vec![
            ("attendance", "Choisissez l'une des présences proposées."),
            (
                "skill-PUNCTUALITY",
                "Choisissez l'un des niveaux de la liste, ou « Non observée ».",
            ),
            (
                "hiring",
                "Choisissez « Non » ou l'un des contrats de la liste.",
            ),
        ],
    )
    .await;
    // A hidden value no button sends has no field to be refused beside.
    let answer = form
        .post(
            &server,
            &format!("/immersions/{i}/signature"),
            "paper=peut-etre&signatory=PERSON",
        )
        .await;
    assert_eq!(answer.status(), 400);
    assert!(server.terminate().success());
}

/// The establishments the home search found, listed by a posted search and
/// paged by posted forms: the text typed, which may be a person's name, is
/// in no address, and searching again from that list posts too.
#[tokio::test]
async fn the_establishments_found_from_the_home_are_paged_by_posted_forms() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, token) = started(&db, &dir).await;
    for n in 0..21 {
        register_employer(
            &server,
            &token,
            &siret(100 + n),
            &format!("Martin et fils {n:02}"),
        )
        .await;
    }
    let cookies = signed_in(&server, "camille@ml-nantes.fr").await;
    let form = Form::fetch(&server, &cookies).await;
    let home = form.post(&server, "/recherche", "q=martin").await;
    assert_eq!(home.status(), 200);
    let home = home.text().await.unwrap();
    assert!(
        home.contains("<form method=\"post\" action=\"/employers/recherche\">"),
        "{home}"
    );
    assert!(!home.contains("/employers?nom="), "{home}");
    let first = form
        .post(&server, "/employers/recherche", "nom=martin")
        .await;
    assert_eq!(first.status(), 200);
    let first = first.text().await.unwrap();
    assert_eq!(
        first.matches("<li><a href=\"/employers/").count(),
        20,
        "{first}"
    );
    assert!(
        first.contains("<form method=\"post\" action=\"/employers/recherche\" role=\"search\""),
        "{first}"
    );
    assert!(!first.contains("?nom=martin"), "{first}");
    let needle = "name=\"apres\" value=\"";
    let at = first.find(needle).expect("a next page") + needle.len();
    let cursor = &first[at..at + first[at..].find('"').unwrap()];
    let second = form
        .post(
            &server,
            "/employers/recherche",
            &format!("nom=martin&apres={cursor}"),
        )
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(
        second.matches("<li><a href=\"/employers/").count(),
        1,
        "{second}"
    );
    assert!(
        second.contains("Toute la liste, depuis le début"),
        "{second}"
    );
    assert!(server.terminate().success());
}

/// The mediator's notes and an assessment received on paper, recorded from
/// the immersion's page, are corrected there: each form starts from what
/// was recorded, asks why, refuses without it beside its field, and the
/// page then reads the correction and why.
#[tokio::test]
async fn a_feedback_recorded_from_the_page_is_corrected_there_with_why() {
    let OnItsPage {
        db,
        _dir,
        server,
        token,
        cookies,
        form,
        immersion,
        ..
    } = OnItsPage::new().await;
    let i = immersion.as_str().unwrap();
    for step in ["immersionStart", "immersionComplete"] {
        ok(
            &server,
            &token,
            &format!(
                "mutation($i: ID!) {{ {step}(input: {{ immersionId: $i }}) {{ immersion {{ id }} }} }}"
            ),
            json!({ "i": immersion }),
        )
        .await;
    }
    let page = format!("/immersions/{i}");
    let answer = form
        .post(
            &server,
            &format!("{page}/observation"),
            "goals_observed=oui&notes=Bonne+immersion",
        )
        .await;
    assert_eq!(answer.status(), 303);
    // An assessment received on paper, with what the page's form does not
    // show: an appraisal, a skill's comment.
    ok(
        &server,
        &token,
        "mutation($i: ID!) { feedbackRecord(input: { immersionId: $i, host: {
            attendance: COMPLETED, goalsReached: true, receivedByOtherMeans: true,
            skills: [{ skill: PUNCTUALITY, level: STRONG, comment: \"Toujours à l'heure\" }],
            advice: \"Passer le CAP\", appraisal: \"Une bonne semaine\" } }) { immersion { id } } }",
        json!({ "i": immersion }),
    )
    .await;
    let shown = html(&server, &page, &cookies).await;
    for expected in [
        format!("action=\"/immersions/{i}/observation-corrigee\""),
        format!("action=\"/immersions/{i}/bilan-corrige\""),
        ">Bonne immersion</textarea>".to_owned(),
        ">Passer le CAP</textarea>".to_owned(),
        "<option value=\"STRONG\" selected>".to_owned(),
        // Carried by the form as they are, the form not showing them.
        "<input type=\"hidden\" name=\"appraisal\" value=\"Une bonne semaine\">".to_owned(),
        "<input type=\"hidden\" name=\"comment-PUNCTUALITY\" value=\"Toujours à l'heure\">"
            .to_owned(),
    ] {
        assert!(shown.contains(&expected), "{expected}: {shown}");
    }
    assert!(!shown.contains(&format!("action=\"/immersions/{i}/observation\"")));

    // Without why: refused beside the field, the values sent kept.
    let before = events(&db).await;
    let answer = form
        .post(
            &server,
            &format!("{page}/observation-corrigee"),
            "goals_observed=non&notes=Projet+%C3%A0+confirmer&next_steps=&observation_reason=",
        )
        .await;
    assert_eq!(answer.status(), 422);
    let refused = answer.text().await.unwrap().replace("&#39;", "'");
    assert!(
        refused.contains("<span class=\"error\" id=\"observation_reason-erreur\">"),
        "{refused}"
    );
    assert!(
        refused.contains(">Projet à confirmer</textarea>"),
        "{refused}"
    );
    assert_eq!(events(&db).await, before, "nothing recorded");

    for (action, body) in [
        (
            "observation-corrigee",
            "goals_observed=non&notes=Projet+%C3%A0+confirmer&next_steps=&observation_reason=Objectifs+coch%C3%A9s+par+erreur",
        ),
        (
            "bilan-corrige",
            "attendance=COMPLETED&goals_reached=oui&skill-PUNCTUALITY=ACQUIRED&advice=Passer+le+CAP&hiring=\
             &appraisal=Une+bonne+semaine&comment-PUNCTUALITY=Toujours+%C3%A0+l%27heure\
             &bilan_reason=Niveau+mal+report%C3%A9",
        ),
    ] {
        let answer = form.post(&server, &format!("{page}/{action}"), body).await;
        assert_eq!(answer.status(), 303, "{action}");
    }
    let shown = html(&server, &page, &cookies).await;
    for expected in [
        "Pourquoi : Objectifs cochés par erreur",
        "Pourquoi : Niveau mal reporté",
        ">Projet à confirmer</textarea>",
        "<option value=\"ACQUIRED\" selected>",
    ] {
        assert!(shown.contains(expected), "{expected}: {shown}");
    }
    // What the form did not show is kept as it was.
    let read = ok(
        &server,
        &token,
        "query($i: ID!) { immersion(id: $i) { assessment { appraisal
            skills { skill level comment } corrections { reason } } } }",
        json!({ "i": immersion }),
    )
    .await;
    assert_eq!(
        read["immersion"]["assessment"],
        json!({ "appraisal": "Une bonne semaine",
            "skills": [{ "skill": "PUNCTUALITY", "level": "ACQUIRED", "comment": "Toujours à l'heure" }],
            "corrections": [{ "reason": "Niveau mal reporté" }] })
    );
    // The person's words, given on paper and corrected: the page reads the
    // correction beside them.
    ok(
        &server,
        &token,
        "mutation($i: ID!) { feedbackRecord(input: { immersionId: $i,
            person: { words: \"Très bien\" } }) { immersion { id } } }",
        json!({ "i": immersion }),
    )
    .await;
    ok(
        &server,
        &token,
        "mutation($i: ID!) { feedbackCorrect(input: { immersionId: $i,
            person: { words: \"Très bien, merci\" }, reason: \"Mot oublié\" }) {
            immersion { id } } }",
        json!({ "i": immersion }),
    )
    .await;
    let shown = html(&server, &page, &cookies).await;
    assert!(
        shown.contains("<dd>Très bien, merci</dd>\n<dt>Retour corrigé</dt><dd>le "),
        "{shown}"
    );
    assert!(shown.contains("Pourquoi : Mot oublié</dd>"), "{shown}");
    assert!(server.terminate().success());
}

/// The first day of an immersion that runs is corrected from its page: the
/// form starts from the day recorded, and refuses beside its fields a day
/// left out, one that is not a day, the same day, a reason missing. The
/// immersion here runs from today only, so no other day is one it may have
/// started on: a correction that goes through, and its reading back, are in
/// `crates/graphql/tests/immersion_corrections.rs`, whose clock moves.
#[tokio::test]
async fn the_first_day_is_corrected_from_the_page_while_the_immersion_runs() {
    let p = OnItsPage::new().await;
    let shown = p.shown().await;
    assert!(!shown.contains("debut-corrige"), "not started: {shown}");
    p.start().await;
    let (shown, today) = (p.shown().await, &p.today);
    assert!(
        shown.contains(&format!(
            "<input type=\"date\" id=\"start_on\" name=\"start_on\" value=\"{today}\">"
        )),
        "{shown}"
    );
    assert!(shown.contains("<dt>Premier jour</dt>"), "{shown}");
    p.refused_beside(
        "debut-corrige",
        &[
            ("start_on=&start_reason=Erreur".to_owned(), "start_on", ""),
            (
                format!("start_on={today}&start_reason="),
                "start_reason",
                "",
            ),
            (
                "start_on=31%2F02%2F2026&start_reason=Erreur".to_owned(),
                "start_on",
                "",
            ),
            // The same day, typed with a space before it: read as the day,
            // and nothing to correct, said beside it.
            (
                format!("start_on=+{today}&start_reason=Erreur"),
                "start_on",
                "Rien ne change",
            ),
        ],
    )
    .await;
    assert!(p.server.terminate().success());
}

/// Once the immersion ended, staff correct its last day from its page: the
/// form filled with the day recorded; a day left out, one that is not a
/// day, the same day, a day before it started, a reason missing, each
/// refused beside its field and nothing recorded. The immersion here ran
/// today only, so no other day is one it may have ended on: a correction
/// that goes through, and the inbox following it, are in
/// `crates/graphql/tests/immersion_corrections.rs`, whose clock moves.
#[tokio::test]
async fn the_last_day_is_corrected_from_the_page_once_the_immersion_ended() {
    let p = OnItsPage::new().await;
    p.start().await;
    let shown = p.shown().await;
    assert!(!shown.contains("fin-corrigee"), "running: {shown}");
    ok(
        &p.server,
        &p.token,
        "mutation($i: ID!) { immersionInterrupt(input: { immersionId: $i, by: PERSON,
            reason: \"Horaires incompatibles\" }) { immersion { id } } }",
        json!({ "i": p.immersion }),
    )
    .await;
    let (shown, today) = (p.shown().await, &p.today);
    assert!(
        shown.contains(&format!(
            "<input type=\"date\" id=\"end_on\" name=\"end_on\" value=\"{today}\">"
        )),
        "{shown}"
    );
    assert!(shown.contains("<dt>Dernier jour</dt>"), "{shown}");
    let yesterday =
        (time::Date::parse(today, &time::format_description::well_known::Iso8601::DATE).unwrap()
            - time::Duration::days(1))
        .to_string();
    p.refused_beside(
        "fin-corrigee",
        &[
            ("end_on=&end_reason=Erreur".to_owned(), "end_on", "Indiquez"),
            (format!("end_on={today}&end_reason="), "end_reason", ""),
            (
                "end_on=31%2F02%2F2026&end_reason=Erreur".to_owned(),
                "end_on",
                "",
            ),
            (
                format!("end_on=+{today}&end_reason=Erreur"),
                "end_on",
                "Rien ne change",
            ),
            (
                format!("end_on={yesterday}&end_reason=Erreur"),
                "end_on",
                "La date du",
            ),
        ],
    )
    .await;
    assert!(p.server.terminate().success());
}
