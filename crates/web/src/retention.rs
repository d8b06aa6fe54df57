//! How long a person's data is kept (`/people/{id}/conservation`): the
//! extensions of its retention, until when and why, and, for her referent
//! or a manager or an admin of her structure (`mayExtendRetention`), the
//! form that keeps it some more months (`personRetentionExtend`). The
//! retention job's warning mail leads here.

use askama::Template;
use axum::extract::{Form, Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use passerelle_domain::values::Text;
use passerelle_graphql::retention::{MAX_EXTENSION_MONTHS, REASON_REQUIRED};
use serde::Deserialize;
use serde_json::json;

use crate::answer::{Day, PersonName, person_not_found, read_or_return};
use crate::home::{Notice, notice};
use crate::page::{FormState, Nav, Page};

/// The duration the form starts with, in months.
const DEFAULT_MONTHS: &str = "12";

#[derive(Template)]
#[template(path = "retention.html")]
struct RetentionTemplate {
    nav: Nav,
    id: String,
    name: String,
    /// Until when, why, the day it was decided and by whom; the newest
    /// first.
    extensions: Vec<(String, String, String, String)>,
    /// The form, for those who may keep the data longer.
    may_extend: bool,
    months: Vec<(String, String)>,
    form: FormState,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Extension {
    until: Day,
    reason: String,
    extended_by: String,
    extended_at: Day,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Retention {
    #[serde(flatten)]
    name: PersonName,
    may_extend_retention: bool,
    retention_extensions: Vec<Extension>,
}

#[derive(Deserialize)]
struct Answer {
    person: Option<Retention>,
}

impl Page {
    async fn retention_page(
        self,
        id: &str,
        status: StatusCode,
        form: FormState,
        notice: Option<String>,
    ) -> Response {
        let out = self
            .run(
                "query($p: ID!) { person(id: $p) { firstName lastName mayExtendRetention
                    retentionExtensions { until reason extendedBy extendedAt } } }",
                json!({ "p": id }),
            )
            .await;
        let answer: Answer = read_or_return!(out);
        let Some(person) = answer.person else {
            return person_not_found();
        };
        let authors: Vec<&str> = person
            .retention_extensions
            .iter()
            .map(|e| e.extended_by.as_str())
            .collect();
        let colleagues = match self.colleagues(&authors).await {
            Ok(colleagues) => colleagues,
            Err(page) => return *page,
        };
        let body = RetentionTemplate {
            nav: self.nav(notice),
            id: id.to_owned(),
            name: person.name.full(),
            extensions: person
                .retention_extensions
                .into_iter()
                .map(|e| {
                    let by = colleagues.by(&e.extended_by);
                    (e.until.french(), e.reason, e.extended_at.french(), by)
                })
                .collect(),
            may_extend: person.may_extend_retention,
            months: (1..=MAX_EXTENSION_MONTHS)
                .map(|n| (n.to_string(), format!("{n} mois")))
                .collect(),
            form,
        }
        .render();
        self.render(status, body)
    }
}

pub(crate) async fn page(page: Page, Path(id): Path<String>, Query(q): Query<Notice>) -> Response {
    if page.viewer.user.is_none() {
        return page.sign_in_first();
    }
    let notice = notice(&q);
    let form = FormState::with(&[("months", DEFAULT_MONTHS)]);
    page.retention_page(&id, StatusCode::OK, form, notice).await
}

#[derive(Debug, Deserialize)]
pub(crate) struct ExtendForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    months: String,
    #[serde(default)]
    reason: String,
}

pub(crate) async fn extend(
    page: Page,
    Path(id): Path<String>,
    Form(f): Form<ExtendForm>,
) -> Response {
    if let Err(r) = page.checked(&f.csrf) {
        return *r;
    }
    let mut state = FormState::with(&[("months", &f.months), ("reason", &f.reason)]);
    // One of the durations the list offers; anything else is refused here,
    // beside the list.
    let months = f
        .months
        .trim()
        .parse::<i32>()
        .ok()
        .filter(|n| (1..=MAX_EXTENSION_MONTHS).contains(n));
    let Some(months) = months else {
        state
            .errors
            .insert("months".into(), "Choisissez une durée de la liste.".into());
        // The reason too, as the API would: both refusals at once.
        if f.reason.trim().is_empty() {
            state.errors.insert("reason".into(), REASON_REQUIRED.into());
        } else if let Err(e) = Text::parse(&f.reason) {
            state.errors.insert("reason".into(), e.message);
        }
        return page
            .retention_page(&id, StatusCode::UNPROCESSABLE_ENTITY, state, None)
            .await;
    };
    let out = page
        .run(
            "mutation($p: ID!, $m: Int!, $r: String!) {
                personRetentionExtend(input: { personId: $p, months: $m, reason: $r }) {
                    retainedUntil } }",
            json!({ "p": id, "m": months, "r": f.reason }),
        )
        .await;
    if out.errors.is_empty() {
        return page.redirect(
            &format!(
                "/people/{}/conservation?fait=conservation",
                crate::page::encode(&id)
            ),
            Vec::new(),
        );
    }
    if out
        .errors
        .iter()
        .any(|e| e.code.as_deref() == Some("NOT_FOUND"))
    {
        return person_not_found();
    }
    state.absorb(&out.errors, &[("months", "months"), ("reason", "reason")]);
    page.retention_page(&id, StatusCode::UNPROCESSABLE_ENTITY, state, None)
        .await
}
