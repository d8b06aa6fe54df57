//! The register of erasures (`/administration/effacements`), newest first,
//! a page at a time, for a structure's managers and admins
//! (`personErasures`): each erased file's day, reason and who erased it,
//! with a link to the file, which says its data is erased. The register
//! names no one: the names are gone with the data.

use askama::Template;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::Response;
use passerelle_domain::person::ErasureReason;
use serde::Deserialize;
use serde_json::json;

use crate::answer::{Code, Day, Paged, moment, read_or_return, recorder};
use crate::page::{Nav, PAGE_SIZE, Page, Pager, given, message};

/// Where the page starts, as its URL gives it.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ErasuresQuery {
    /// The cursor the page starts after.
    #[serde(default)]
    apres: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Erasure {
    person_id: String,
    reason: Code<ErasureReason>,
    erased_on: Day,
    recorded: Role,
}

#[derive(Deserialize)]
struct Role {
    role: String,
    at: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Answer {
    person_erasures: Paged<Erasure>,
}

#[derive(Template)]
#[template(path = "erasures.html")]
struct ErasuresTemplate {
    nav: Nav,
    /// The file's address, the day, the moment it was recorded (which
    /// tells two links apart), why, by whom.
    erasures: Vec<(String, String, String, &'static str, &'static str)>,
    pager: Pager,
}

const PATH: &str = "/administration/effacements";

pub(crate) async fn list(page: Page, Query(mut q): Query<ErasuresQuery>) -> Response {
    if page.viewer.user.is_none() {
        return page.sign_in_first();
    }
    let (out, notice) = page
        .run_listed(
            "query($first: Int!, $after: String) {
                personErasures(first: $first, after: $after) {
                    edges { node { personId reason erasedOn recorded { role at } } }
                    pageInfo { endCursor hasNextPage } } }",
            |after| json!({ "first": PAGE_SIZE, "after": after }),
            &mut q.apres,
        )
        .await;
    // Who may read it is the policy's: a mediator is refused.
    if out.forbidden() {
        return message(
            StatusCode::FORBIDDEN,
            "Accès réservé",
            "Le registre des effacements est réservé aux responsables et administrateurs de la structure.",
        );
    }
    let answer: Answer = read_or_return!(out);
    let (rows, next) = answer.person_erasures.split();
    let erasures = rows
        .into_iter()
        .map(|e| {
            (
                format!("/people/{}", e.person_id),
                e.erased_on.french(),
                moment(&e.recorded.at),
                e.reason.french(),
                recorder(&e.recorded.role),
            )
        })
        .collect();
    let pager = Pager::at(PATH, &[], next, given(&q.apres));
    let body = ErasuresTemplate {
        nav: page.nav(notice),
        erasures,
        pager,
    }
    .render();
    page.render(StatusCode::OK, body)
}
