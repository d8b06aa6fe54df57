//! A mediator's files: an employer (its needs, and the visits of every
//! structure) and a need, as the inbox links to them.

use askama::Template;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use crate::labels::{HORIZONS, INTENTS, PURPOSES, label};
use crate::page::{Nav, Page, french_date, message};

#[derive(Template)]
#[template(path = "employer.html")]
struct EmployerTemplate {
    nav: Nav,
    id: String,
    name: String,
    place: String,
    /// Id, what, then its details.
    needs: Vec<(String, String, String)>,
    /// Date, purpose, observations.
    visits: Vec<(String, String, String)>,
}

#[derive(Template)]
#[template(path = "need.html")]
struct NeedTemplate {
    nav: Nav,
    employer: String,
    employer_id: String,
    activities: String,
    conditions: Option<String>,
    horizon: String,
    intent: String,
    headcount: i64,
    origin: String,
}

fn origin(source: &Value) -> &'static str {
    match source.as_str() {
        Some("portal") => "sur le portail employeur",
        Some("phone") => "au téléphone",
        _ => "lors d'une visite",
    }
}

fn not_found() -> Response {
    message(
        StatusCode::NOT_FOUND,
        "Introuvable",
        "Cette fiche n'existe pas ou ne vous est pas accessible.",
    )
}

pub(crate) async fn employer(page: Page, Path(id): Path<String>) -> Response {
    if page.viewer.user.is_none() {
        return page.redirect("/", Vec::new());
    }
    let out = page
        .run(
            "query($e: ID!) { employer(id: $e) { id name communeName nafLabel
                needs { id activities horizon source status surfacedOn }
                visits { visitedOn purpose observations } } }",
            json!({ "e": id }),
        )
        .await;
    let e = &out.data["employer"];
    if e.is_null() {
        return not_found();
    }
    let list = |key: &str| e[key].as_array().cloned().unwrap_or_default();
    let needs = list("needs")
        .iter()
        .map(|n| {
            (
                n["id"].as_str().unwrap_or_default().to_owned(),
                n["activities"].as_str().unwrap_or_default().to_owned(),
                format!(
                    "{}, exprimé le {} {}",
                    label(&HORIZONS, &n["horizon"]),
                    french_date(&n["surfacedOn"]),
                    origin(&n["source"])
                ),
            )
        })
        .collect();
    let visits = list("visits")
        .iter()
        .map(|v| {
            (
                french_date(&v["visitedOn"]),
                label(&PURPOSES, &v["purpose"]).to_lowercase(),
                v["observations"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let place = [e["communeName"].as_str(), e["nafLabel"].as_str()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" – ");
    let body = EmployerTemplate {
        nav: page.nav(None),
        id: e["id"].as_str().unwrap_or_default().to_owned(),
        name: e["name"].as_str().unwrap_or_default().to_owned(),
        place,
        needs,
        visits,
    }
    .render();
    page.render(StatusCode::OK, body)
}

pub(crate) async fn need(page: Page, Path(id): Path<String>) -> Response {
    if page.viewer.user.is_none() {
        return page.redirect("/", Vec::new());
    }
    let out = page
        .run(
            "query($n: ID!) { need(id: $n) { employerId activities conditions headcount horizon
                hiringIntent source surfacedOn } }",
            json!({ "n": id }),
        )
        .await;
    let n = &out.data["need"];
    if n.is_null() {
        return not_found();
    }
    let employer_id = n["employerId"].as_str().unwrap_or_default().to_owned();
    let employer = page
        .run(
            "query($e: ID!) { employer(id: $e) { name } }",
            json!({ "e": employer_id }),
        )
        .await;
    let body = NeedTemplate {
        nav: page.nav(None),
        employer: employer.data["employer"]["name"]
            .as_str()
            .unwrap_or("l'employeur")
            .to_owned(),
        employer_id,
        activities: n["activities"].as_str().unwrap_or_default().to_owned(),
        conditions: n["conditions"].as_str().map(str::to_owned),
        horizon: label(&HORIZONS, &n["horizon"]),
        intent: label(&INTENTS, &n["hiringIntent"]),
        headcount: n["headcount"].as_i64().unwrap_or(1),
        origin: format!(
            "Le {}, {}",
            french_date(&n["surfacedOn"]),
            origin(&n["source"])
        ),
    }
    .render();
    page.render(StatusCode::OK, body)
}
