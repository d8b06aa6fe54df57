//! The structure's immersions (`/immersions`), newest proposal first, 20 a
//! page, searched by where they stand: each with the person, the host, its
//! dates and its stage in French, linked to its page. A stage typed by hand
//! that the list does not offer is refused beside it; a page's link that is
//! no longer valid starts the list again, saying so.

use askama::Template;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::Response;
use passerelle_domain::fr::Labelled as _;
use passerelle_domain::immersion::Stage;
use serde::Deserialize;
use serde_json::json;

use crate::answer::{Code, Day, Paged, read_or_return};
use crate::files::{immersion_dates, named};
use crate::labels::{STAGES, offers};
use crate::page::{FormState, Nav, PAGE_SIZE, Page, Pager, STALE_PAGE, given};

/// The list's search and page, as its address carries them.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ListQuery {
    #[serde(default)]
    etat: String,
    #[serde(default)]
    apres: String,
}

#[derive(Deserialize)]
struct Answer {
    immersions: Paged<Line>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Line {
    id: String,
    person_id: String,
    employer_name: Option<String>,
    current_stage: Code<Stage>,
    period_start: Option<Day>,
    period_end: Option<Day>,
    proposed_on: Day,
}

/// An immersion as the list shows it.
struct Row {
    id: String,
    person: String,
    employer: String,
    stage: &'static str,
    when: String,
}

#[derive(Template)]
#[template(path = "immersion_list.html")]
struct ListTemplate {
    nav: Nav,
    form: FormState,
    stages: &'static [(&'static str, &'static str)],
    rows: Vec<Row>,
    searched: bool,
    pager: Pager,
}

pub(crate) async fn list(page: Page, Query(mut q): Query<ListQuery>) -> Response {
    if page.viewer.user.is_none() {
        return page.sign_in_first();
    }
    let mut form = FormState::with(&[("etat", &q.etat)]);
    let stage = given(&q.etat).map(str::to_owned);
    if stage.as_deref().is_some_and(|s| !offers(&STAGES, s)) {
        form.errors
            .insert("etat".into(), "Choisissez un état de la liste.".into());
    }
    let mut notice = None;
    let (mut rows, mut next, mut status) = (Vec::new(), None, StatusCode::OK);
    if form.errors.is_empty() {
        // The API's filter names a stage as `stage` gives it.
        let code = stage.as_deref().map(str::to_ascii_lowercase);
        let read = |after: Option<&str>| {
            page.run(
                "query($first: Int!, $after: String, $stage: String) {
                    immersions(first: $first, after: $after, filter: { stage: $stage }) {
                        edges { node { id personId employerName currentStage periodStart
                            periodEnd proposedOn } }
                        pageInfo { endCursor hasNextPage } } }",
                json!({ "first": PAGE_SIZE, "after": after, "stage": code }),
            )
        };
        let mut out = read(given(&q.apres)).await;
        if out.bad_cursor() && given(&q.apres).is_some() {
            q.apres.clear();
            notice = Some(STALE_PAGE.to_owned());
            out = read(None).await;
        }
        let answer: Answer = read_or_return!(out);
        let (lines, after) = answer.immersions.split();
        let names = match page
            .person_names(lines.iter().map(|l| l.person_id.as_str()))
            .await
        {
            Ok(names) => names,
            Err(r) => return *r,
        };
        rows = lines
            .into_iter()
            .map(|l| Row {
                person: named(&names, &l.person_id),
                employer: l
                    .employer_name
                    .unwrap_or_else(|| "Un établissement".to_owned()),
                stage: l.current_stage.0.french(),
                when: immersion_dates(l.period_start, l.period_end, l.proposed_on),
                id: l.id,
            })
            .collect();
        next = after;
    } else {
        status = StatusCode::UNPROCESSABLE_ENTITY;
    }
    let search: Vec<(&str, &str)> = given(&q.etat).map(|e| ("etat", e)).into_iter().collect();
    let pager = Pager::at("/immersions", &search, next, given(&q.apres));
    let body = ListTemplate {
        nav: page.nav(notice),
        form,
        stages: &STAGES,
        rows,
        searched: !search.is_empty(),
        pager,
    }
    .render();
    page.render(status, body)
}
