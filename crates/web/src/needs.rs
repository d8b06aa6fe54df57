//! The territory's open needs (`/besoins`): searched by job, commune,
//! département, where they were heard and how long they have waited, 20 a
//! page, each with its jobs' labels, its employer and its age.

use std::collections::HashMap;

use askama::Template;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::Response;
use passerelle_domain::fr;
use passerelle_domain::need::NeedSource;
use serde::Deserialize;
use serde_json::json;

use crate::answer::{Code, Day, Paged, read_or_return};
use crate::labels::SOURCES;
use crate::page::{FormState, ListQuery, Nav, PAGE_SIZE, Page, Pager, STALE_PAGE, given};

#[derive(Template)]
#[template(path = "needs.html")]
struct ListTemplate {
    nav: Nav,
    form: FormState,
    searched: bool,
    sources: &'static [(&'static str, &'static str)],
    needs: Vec<Row>,
    pager: Pager,
}

struct Row {
    id: String,
    activities: String,
    jobs: String,
    employer: String,
    employer_id: String,
    /// Its age and where it was heard.
    about: String,
}

/// How long ago a day was, in French.
pub(crate) fn age(day: Day, today: time::Date) -> String {
    match (today - day.0).whole_days() {
        ..=0 => "aujourd'hui".to_owned(),
        1 => "hier".to_owned(),
        n @ 2..=59 => format!("il y a {n} jours"),
        n => format!("il y a {} mois", n / 30),
    }
}

/// The names of these employers, in one operation (each an aliased
/// field), by id; an employer the viewer may not read is left out.
pub(crate) async fn employer_names(page: &Page, ids: &[String]) -> HashMap<String, String> {
    let mut unique: Vec<&String> = Vec::new();
    for id in ids {
        if !unique.contains(&id) {
            unique.push(id);
        }
    }
    if unique.is_empty() {
        return HashMap::new();
    }
    #[derive(Deserialize)]
    struct Host {
        id: String,
        name: String,
    }
    // One fixed operation per establishment (at most a page's worth, run
    // in-process), so that every operation of the pages is a constant the
    // schema's checks validate.
    let mut names = HashMap::new();
    for id in unique {
        let out = page
            .run(
                "query($e: ID!) { employer(id: $e) { id name } }",
                json!({ "e": id }),
            )
            .await;
        #[derive(Deserialize)]
        struct Answer {
            employer: Option<Host>,
        }
        if let Ok(Answer {
            employer: Some(host),
        }) = out.read::<Answer>()
        {
            names.insert(host.id, host.name);
        }
    }
    names
}

pub(crate) async fn list(page: Page, Query(mut q): Query<ListQuery>) -> Response {
    if page.viewer.user.is_none() {
        return page.sign_in_first();
    }
    #[derive(Deserialize)]
    struct Answer {
        needs: Paged<Listed>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Listed {
        id: String,
        employer_id: String,
        activities: String,
        rome_codes: Vec<String>,
        #[serde(rename = "sourceKind")]
        source: Code<NeedSource>,
        surfaced_on: Day,
    }
    let mut form = q.form();
    let older = match given(&q.anciennete).map(str::parse::<i64>) {
        None => None,
        Some(Ok(days)) if (0..=3650).contains(&days) => Some(days),
        Some(_) => {
            form.errors.insert(
                "anciennete".to_owned(),
                "Indiquez un nombre de jours entre 0 et 3650.".to_owned(),
            );
            None
        }
    };
    if let Some(source) = given(&q.source) {
        form.offered(
            "source",
            source,
            &SOURCES,
            "Choisissez l'origine du besoin dans la liste.",
        );
    }
    let mut notice = None;
    let (needs, next, status) = if form.errors.is_empty() {
        let read = |q: &ListQuery| {
            page.run(
                "query($first: Int!, $after: String, $filter: NeedFilterInput) {
                    needs(first: $first, after: $after, filter: $filter) {
                        edges { node { id employerId activities romeCodes sourceKind surfacedOn } }
                        pageInfo { endCursor hasNextPage } } }",
                json!({
                    "first": PAGE_SIZE,
                    "after": q.after(),
                    "filter": {
                        "romeCodes": given(&q.metier).map(|c| vec![c.to_ascii_uppercase()]),
                        "commune": given(&q.commune),
                        "departement": given(&q.departement),
                        "source": given(&q.source),
                        "olderThanDays": older,
                    },
                }),
            )
        };
        let mut out = read(&q).await;
        // A page's link no longer valid: the list from its start, saying so.
        if out.bad_cursor() {
            q.apres.clear();
            notice = Some(STALE_PAGE.to_owned());
            out = read(&q).await;
        }
        if out.errors.is_empty() {
            let answer: Answer = read_or_return!(out);
            let (rows, next) = answer.needs.split();
            let ids: Vec<String> = rows.iter().map(|n| n.employer_id.clone()).collect();
            let names = employer_names(&page, &ids).await;
            // The service's day (Paris), as the need's was recorded.
            let today = page.api.gateway.handler.clock().today();
            let rows = rows
                .into_iter()
                .map(|n| Row {
                    employer: names
                        .get(&n.employer_id)
                        .cloned()
                        .unwrap_or_else(|| "Établissement".to_owned()),
                    jobs: n
                        .rome_codes
                        .iter()
                        .map(|c| fr::rome(c))
                        .collect::<Vec<_>>()
                        .join(" ; "),
                    about: format!(
                        "Exprimé {} ({}), {}",
                        age(n.surfaced_on, today),
                        n.surfaced_on.french(),
                        n.source.french().to_lowercase()
                    ),
                    id: n.id,
                    activities: n.activities,
                    employer_id: n.employer_id,
                })
                .collect();
            (rows, next, StatusCode::OK)
        } else {
            form.absorb(
                &out.errors,
                &[
                    ("romeCodes", "metier"),
                    ("commune", "commune"),
                    ("departement", "departement"),
                    ("source", "source"),
                    ("olderThanDays", "anciennete"),
                ],
            );
            (Vec::new(), None, StatusCode::UNPROCESSABLE_ENTITY)
        }
    } else {
        (Vec::new(), None, StatusCode::UNPROCESSABLE_ENTITY)
    };
    let body = ListTemplate {
        nav: page.nav(notice),
        form,
        searched: q.searched(),
        sources: &SOURCES,
        needs,
        pager: Pager::of("/besoins", &q, next),
    }
    .render();
    page.render(status, body)
}
