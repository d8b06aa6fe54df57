//! The erasures to come (`/people/effacements-a-venir`): the people of the
//! structure whose referent was warned that their data will be erased for
//! inactivity, the soonest first, a page at a time (`retentionWarnings`):
//! every one for a manager or an admin, her own people for a mediator. Each
//! leads to the person's retention page, where it is extended with a
//! reason.

use askama::Template;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use crate::answer::{Day, Paged, PersonName, read_or_return};
use crate::page::{Nav, PAGE_SIZE, Page, Pager, given};

/// Where the page starts, as its URL gives it.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct WarningsQuery {
    /// The cursor the page starts after (a day and an id: no name).
    #[serde(default)]
    apres: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Warning {
    person: Listed,
    last_activity: Day,
    warned_on: Day,
    erased_on: Day,
    due: bool,
}

#[derive(Deserialize)]
struct Listed {
    id: String,
    #[serde(flatten)]
    name: PersonName,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Answer {
    retention_warnings: Paged<Warning>,
}

#[derive(Template)]
#[template(path = "retention_warnings.html")]
struct WarningsTemplate {
    nav: Nav,
    /// The person's retention page, her name, when she is erased, the day
    /// of her last fact, the day her referent was warned.
    warnings: Vec<(String, String, String, String, String)>,
    pager: Pager,
}

const PATH: &str = "/people/effacements-a-venir";

pub(crate) async fn list(page: Page, Query(mut q): Query<WarningsQuery>) -> Response {
    if page.viewer.user.is_none() {
        return page.sign_in_first();
    }
    let (out, notice) = page
        .run_listed(
            "query($first: Int!, $after: String) {
                retentionWarnings(first: $first, after: $after) {
                    edges { node { person { id firstName lastName } lastActivity warnedOn
                        erasedOn due } }
                    pageInfo { endCursor hasNextPage } } }",
            |after| json!({ "first": PAGE_SIZE, "after": after }),
            &mut q.apres,
        )
        .await;
    let answer: Answer = read_or_return!(out);
    let (rows, next) = answer.retention_warnings.split();
    let warnings = rows
        .into_iter()
        .map(|w| {
            (
                format!("/people/{}/conservation", w.person.id),
                w.person.name.full(),
                if w.due {
                    format!(
                        "effacement au prochain passage de la conservation des données (prévu le {})",
                        w.erased_on.french()
                    )
                } else {
                    format!("effacement le {}", w.erased_on.french())
                },
                w.last_activity.french(),
                w.warned_on.french(),
            )
        })
        .collect();
    let pager = Pager::at(PATH, &[], next, given(&q.apres));
    let body = WarningsTemplate {
        nav: page.nav(notice),
        warnings,
        pager,
    }
    .render();
    page.render(StatusCode::OK, body)
}
