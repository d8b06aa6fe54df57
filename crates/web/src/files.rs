//! A mediator's files: an employer (its needs, and the visits of every
//! structure) and a need, as the inbox links to them.

use askama::Template;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use passerelle_domain::employer::VisitPurpose;
use passerelle_domain::need::{HiringIntent, Horizon, NeedSource};
use serde::Deserialize;
use serde_json::json;

use crate::answer::{Code, Day, read_or_return};
use crate::home::{Notice, notice};
use crate::page::{Nav, Page, message};

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

/// Where a need was heard, as the end of a sentence.
fn origin(source: Code<NeedSource>) -> &'static str {
    match source.0 {
        NeedSource::Portal => "sur le portail employeur",
        NeedSource::Phone => "au téléphone",
        NeedSource::Visit { .. } => "lors d'une visite",
    }
}

#[derive(Deserialize)]
struct EmployerAnswer {
    employer: Option<EmployerFile>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EmployerFile {
    id: String,
    name: String,
    commune_name: Option<String>,
    naf_label: Option<String>,
    needs: Vec<Listed>,
    visits: Vec<VisitLine>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Listed {
    id: String,
    activities: String,
    #[serde(rename = "neededWithin")]
    horizon: Code<Horizon>,
    #[serde(rename = "sourceKind")]
    source: Code<NeedSource>,
    surfaced_on: Day,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct VisitLine {
    visited_on: Day,
    purpose: Code<VisitPurpose>,
    observations: Option<String>,
}

#[derive(Deserialize)]
struct NeedAnswer {
    need: Option<NeedFile>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NeedFile {
    employer_id: String,
    activities: String,
    conditions: Option<String>,
    headcount: i64,
    #[serde(rename = "neededWithin")]
    horizon: Code<Horizon>,
    #[serde(rename = "wouldHire")]
    hiring_intent: Code<HiringIntent>,
    #[serde(rename = "sourceKind")]
    source: Code<NeedSource>,
    surfaced_on: Day,
}

#[derive(Deserialize)]
struct HostAnswer {
    employer: Option<Host>,
}

#[derive(Deserialize)]
struct Host {
    name: String,
}

fn not_found() -> Response {
    message(
        StatusCode::NOT_FOUND,
        "Introuvable",
        "Cette fiche n'existe pas ou ne vous est pas accessible.",
    )
}

pub(crate) async fn employer(
    page: Page,
    Path(id): Path<String>,
    Query(q): Query<Notice>,
) -> Response {
    if page.viewer.user.is_none() {
        return page.redirect("/", Vec::new());
    }
    let out = page
        .run(
            "query($e: ID!) { employer(id: $e) { id name communeName nafLabel
                needs { id activities neededWithin sourceKind surfacedOn }
                visits { visitedOn purpose observations } } }",
            json!({ "e": id }),
        )
        .await;
    let answer: EmployerAnswer = read_or_return!(out);
    let Some(e) = answer.employer else {
        return not_found();
    };
    let needs = e
        .needs
        .into_iter()
        .map(|n| {
            (
                n.id,
                n.activities,
                format!(
                    "{}, exprimé le {} {}",
                    n.horizon.french(),
                    n.surfaced_on.french(),
                    origin(n.source)
                ),
            )
        })
        .collect();
    let visits = e
        .visits
        .into_iter()
        .map(|v| {
            (
                v.visited_on.french(),
                v.purpose.french().to_lowercase(),
                v.observations.unwrap_or_default(),
            )
        })
        .collect();
    let place = [e.commune_name, e.naf_label]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" – ");
    let body = EmployerTemplate {
        nav: page.nav(notice(&q)),
        id: e.id,
        name: e.name,
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
            "query($n: ID!) { need(id: $n) { employerId activities conditions headcount neededWithin
                wouldHire sourceKind surfacedOn } }",
            json!({ "n": id }),
        )
        .await;
    let answer: NeedAnswer = read_or_return!(out);
    let Some(n) = answer.need else {
        return not_found();
    };
    let employer = page
        .run(
            "query($e: ID!) { employer(id: $e) { name } }",
            json!({ "e": n.employer_id }),
        )
        .await;
    let host: HostAnswer = read_or_return!(employer);
    let body = NeedTemplate {
        nav: page.nav(None),
        employer: host
            .employer
            .map_or_else(|| "l'employeur".to_owned(), |h| h.name),
        employer_id: n.employer_id,
        activities: n.activities,
        conditions: n.conditions,
        horizon: n.horizon.french().to_owned(),
        intent: n.hiring_intent.french().to_owned(),
        headcount: n.headcount,
        origin: format!("Le {}, {}", n.surfaced_on.french(), origin(n.source)),
    }
    .render();
    page.render(StatusCode::OK, body)
}
