//! A mediator's people: the list, and a person's file — the path as it
//! happened, the project's versions with what caused each change, and the
//! project readjusted from an immersion's feedback.

use askama::Template;
use axum::extract::{Form, Path};
use axum::http::StatusCode;
use axum::response::Response;
use passerelle_domain::fr;
use serde_json::{Value, json};

use crate::page::{FormState, Nav, Page, french_date, message};

/// What happened, in the words of a mediator.
fn event_label(event_type: &str) -> &'static str {
    match event_type {
        "person_enrolled" => "Début de l'accompagnement",
        "person_exited" => "Fin de l'accompagnement",
        "person_referent_changed" => "Changement de référent",
        "situation_stated" => "Situation décrite",
        "project_stated" => "Projet formulé",
        "project_readjusted" => "Projet réajusté",
        "consent_given" => "Consentement donné",
        "consent_withdrawn" => "Consentement retiré",
        "disability_recognition_recorded" => "Reconnaissance du handicap enregistrée",
        "job_inquiry_held" => "Enquête métier",
        "peer_meeting_held" => "Rencontre avec un pair",
        "mentorship_started" => "Début d'un parrainage",
        "mentorship_ended" => "Fin d'un parrainage",
        "immersion_proposed" => "Immersion proposée",
        "proposal_accepted_by_person" => "Immersion acceptée par la personne",
        "proposal_accepted_by_employer" => "Immersion acceptée par l'employeur",
        "proposal_declined" => "Immersion déclinée",
        "convention_drafted" => "Convention rédigée",
        "convention_modified" => "Convention modifiée",
        "convention_signed" => "Convention signée",
        "convention_prevalidated" => "Convention prévalidée",
        "convention_validated" => "Convention validée",
        "convention_rejected" => "Convention rejetée",
        "convention_deprecated" => "Convention abandonnée",
        "convention_cancelled" => "Convention annulée",
        "convention_renewed" => "Renouvellement rédigé",
        "immersion_started" => "Début de l'immersion",
        "immersion_interrupted" => "Immersion interrompue",
        "immersion_completed" => "Fin de l'immersion",
        "accident_reported" => "Accident signalé",
        "accident_declaration_filed" => "Déclaration d'accident faite",
        "feedback_recorded" => "Retour enregistré",
        "outcome_recorded" => "Situation après l'immersion",
        "testimony_recorded" => "Témoignage recueilli",
        _ => "Autre fait",
    }
}

fn cause_label(kind: &str) -> &'static str {
    match kind {
        "immersion_feedback" => "après les retours d'une immersion",
        "job_inquiry" => "après une enquête métier",
        "peer_meeting" => "après une rencontre avec un pair",
        "mentorship" => "au fil d'un parrainage",
        _ => "",
    }
}

#[derive(Template)]
#[template(path = "people.html")]
struct PeopleTemplate {
    nav: Nav,
    people: Vec<(String, String)>,
}

pub(crate) async fn list(page: Page) -> Response {
    if page.viewer.user.is_none() {
        return page.redirect("/", Vec::new());
    }
    let out = page
        .run(
            "{ people(first: 100) { edges { node { id firstName lastName } } } }",
            json!({}),
        )
        .await;
    let people = out.data["people"]["edges"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|e| {
            let n = &e["node"];
            (
                n["id"].as_str().unwrap_or_default().to_owned(),
                format!(
                    "{} {}",
                    n["firstName"].as_str().unwrap_or("(effacé)"),
                    n["lastName"].as_str().unwrap_or_default()
                ),
            )
        })
        .collect();
    let body = PeopleTemplate {
        nav: page.nav(None),
        people,
    }
    .render();
    page.render(StatusCode::OK, body)
}

#[derive(Template)]
#[template(path = "person.html")]
struct PersonTemplate {
    nav: Nav,
    id: String,
    name: String,
    /// When, targets, what changed and why.
    versions: Vec<(String, String, String)>,
    /// When, what.
    timeline: Vec<(String, &'static str)>,
    /// Immersions with feedback: id, label.
    immersions: Vec<(String, String)>,
    form: FormState,
}

impl Page {
    async fn person_page(self, id: &str, status: StatusCode, form: FormState) -> Response {
        let out = self
            .run(
                "query($p: ID!) { person(id: $p) { firstName lastName
                    projectVersions { version changedOn targetRomeCodes whatChanged causeKind }
                    timeline { eventType recordedAt } }
                  immersions(first: 50, filter: { personId: $p }) { edges { node { id stage employerName feedbackFrom } } } }",
                json!({ "p": id }),
            )
            .await;
        let p = &out.data["person"];
        if p.is_null() {
            return message(
                StatusCode::NOT_FOUND,
                "Introuvable",
                "Cette personne n'existe pas ou ne vous est pas accessible.",
            );
        }
        let versions = p["projectVersions"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|v| {
                let codes: Vec<String> = v["targetRomeCodes"]
                    .as_array()
                    .map(|c| c.iter().filter_map(Value::as_str).map(fr::rome).collect())
                    .unwrap_or_default();
                let why = match (v["whatChanged"].as_str(), v["causeKind"].as_str()) {
                    (Some(what), Some(cause)) => format!("{what} ({})", cause_label(cause)),
                    (Some(what), None) => what.to_owned(),
                    _ => String::new(),
                };
                (
                    format!(
                        "Version {}, le {}",
                        v["version"],
                        french_date(&v["changedOn"])
                    ),
                    codes.join(" ; "),
                    why,
                )
            })
            .collect();
        let timeline = p["timeline"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|t| {
                (
                    french_date(&t["recordedAt"]),
                    event_label(t["eventType"].as_str().unwrap_or_default()),
                )
            })
            .collect();
        let mut immersions = Vec::new();
        for edge in out.data["immersions"]["edges"]
            .as_array()
            .cloned()
            .unwrap_or_default()
        {
            let n = &edge["node"];
            if n["feedbackFrom"].as_array().is_none_or(|f| f.is_empty()) {
                continue;
            }
            immersions.push((
                n["id"].as_str().unwrap_or_default().to_owned(),
                format!(
                    "Chez {}",
                    n["employerName"].as_str().unwrap_or("l'employeur")
                ),
            ));
        }
        let body = PersonTemplate {
            nav: self.nav(None),
            id: id.to_owned(),
            name: format!(
                "{} {}",
                p["firstName"].as_str().unwrap_or("(effacé)"),
                p["lastName"].as_str().unwrap_or_default()
            ),
            versions,
            timeline,
            immersions,
            form,
        }
        .render();
        self.render(status, body)
    }
}

pub(crate) async fn file(page: Page, Path(id): Path<String>) -> Response {
    if page.viewer.user.is_none() {
        return page.redirect("/", Vec::new());
    }
    page.person_page(&id, StatusCode::OK, FormState::default())
        .await
}

#[derive(Debug, serde::Deserialize)]
pub(crate) struct ReadjustForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    immersion: String,
    #[serde(default)]
    rome: String,
    #[serde(default)]
    what_changed: String,
}

pub(crate) async fn readjust(
    page: Page,
    Path(id): Path<String>,
    Form(form): Form<ReadjustForm>,
) -> Response {
    if let Err(r) = page.checked(&form.csrf) {
        return *r;
    }
    let codes: Vec<String> = form
        .rome
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|c| !c.is_empty())
        .map(|c| c.to_uppercase())
        .collect();
    let out = page
        .run(
            "mutation($p: ID!, $i: ID!, $r: [String!]!, $w: String!) {
                projectReadjust(input: { personId: $p, cause: { kind: IMMERSION_FEEDBACK, id: $i },
                    project: { targetRomeCodes: $r }, whatChanged: $w }) { person { id } } }",
            json!({ "p": id, "i": form.immersion, "r": codes, "w": form.what_changed }),
        )
        .await;
    if out.errors.is_empty() {
        return page.redirect(&format!("/people/{id}"), Vec::new());
    }
    let mut state = FormState::with(&[("rome", &form.rome), ("what_changed", &form.what_changed)]);
    state.absorb(
        &out.errors,
        &[("targetRomeCodes", "rome"), ("whatChanged", "what_changed")],
    );
    page.person_page(&id, StatusCode::UNPROCESSABLE_ENTITY, state)
        .await
}
