//! A visit to an employer, logged from a phone, and a visit's page
//! (`/employers/{id}/visites/{visit}`): what was recorded, with its
//! corrections (staff only: they may carry internal notes) and the way to
//! correct it.

use askama::Template;
use axum::extract::{Form, Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use passerelle_domain::employer::{VisitField, VisitPurpose};

use crate::answer::{Code, Connection, Day, read_or_return};
use crate::correction::Corrected;
use crate::home::{Notice, notice};
use crate::labels::PURPOSES;
use crate::page::{FormState, Nav, Page, message, parse_date};

#[derive(Template)]
#[template(path = "visit_form.html")]
struct VisitTemplate {
    nav: Nav,
    form: FormState,
    employers: Vec<(String, String)>,
    purposes: &'static [(&'static str, &'static str)],
    today: String,
}

impl Page {
    async fn visit_page(
        self,
        status: StatusCode,
        form: FormState,
        notice: Option<String>,
    ) -> Response {
        let out = self
            .run(
                "{ employers(first: 100) { edges { node { id name communeName } } } }",
                json!({}),
            )
            .await;
        #[derive(Deserialize)]
        struct Answer {
            employers: Connection<Choice>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Choice {
            id: String,
            name: String,
            commune_name: Option<String>,
        }
        let answer: Answer = read_or_return!(out);
        let employers = answer
            .employers
            .nodes()
            .map(|n| {
                let label = match n.commune_name {
                    Some(c) => format!("{} ({c})", n.name),
                    None => n.name,
                };
                (n.id, label)
            })
            .collect();
        let today = self.api.gateway.handler.clock().today().to_string();
        let body = VisitTemplate {
            nav: self.nav(notice),
            form,
            employers,
            purposes: &PURPOSES,
            today,
        }
        .render();
        self.render(status, body)
    }
}

pub(crate) async fn visit_form(page: Page, Query(q): Query<Notice>) -> Response {
    if page.viewer.user.is_none() {
        return page.redirect("/", Vec::new());
    }
    let form = FormState::with(&[("employer", q.employeur.as_deref().unwrap_or_default())]);
    page.visit_page(StatusCode::OK, form, notice(&q)).await
}

#[derive(Debug, Deserialize)]
pub(crate) struct VisitForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    employer: String,
    #[serde(default)]
    visited_on: String,
    #[serde(default)]
    purpose: String,
    #[serde(default)]
    observations: String,
}

pub(crate) async fn visit_submit(page: Page, Form(form): Form<VisitForm>) -> Response {
    if let Err(r) = page.checked(&form.csrf) {
        return *r;
    }
    let mut state = FormState::with(&[
        ("employer", &form.employer),
        ("visited_on", &form.visited_on),
        ("purpose", &form.purpose),
        ("observations", &form.observations),
    ]);
    let visited_on = match parse_date(&form.visited_on) {
        Some(d) => d,
        None => {
            state
                .errors
                .insert("visited_on".into(), "Indiquez la date de la visite.".into());
            return page
                .visit_page(StatusCode::UNPROCESSABLE_ENTITY, state, None)
                .await;
        }
    };
    let out = page
        .run(
            "mutation($e: ID!, $d: Date, $p: VisitPurpose!, $o: String!) {
                employerVisitLog(input: { employerId: $e, visitedOn: $d, purpose: $p, observations: $o }) { visitId }
            }",
            json!({
                "e": form.employer,
                "d": visited_on.to_string(),
                "p": form.purpose,
                "o": form.observations,
            }),
        )
        .await;
    if out.errors.is_empty() {
        // To the visit's page: a need heard there is noted from it.
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Answer {
            employer_visit_log: Logged,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Logged {
            visit_id: String,
        }
        let answer: Answer = read_or_return!(out);
        let to = format!(
            "/employers/{}/visites/{}?fait=visite",
            form.employer, answer.employer_visit_log.visit_id
        );
        return page.redirect(&to, Vec::new());
    }
    state.absorb(
        &out.errors,
        &[
            ("observations", "observations"),
            ("visitedOn", "visited_on"),
            ("employerId", "employer"),
        ],
    );
    page.visit_page(StatusCode::UNPROCESSABLE_ENTITY, state, None)
        .await
}

#[derive(Template)]
#[template(path = "visit.html")]
struct VisitPageTemplate {
    nav: Nav,
    employer_id: String,
    visit_id: String,
    employer: String,
    visited_on: String,
    purpose: &'static str,
    observations: Option<String>,
    next_step: Option<String>,
    /// Whether the viewer's structure logged it, and so corrects it and
    /// notes the needs heard during it.
    answered_for: bool,
    /// Date, by whom, the fields in French, why; newest first.
    corrections: Vec<(String, String, String, String)>,
}

const VISIT_PAGE: &str = "query($e: ID!, $v: ID!) { employer(id: $e) { name
    visit(id: $v) { visitedOn purpose observations nextStep answeredForByMe
        corrections { fields reason correctedOn recorded { role } } } } }";

#[derive(Deserialize)]
struct VisitPageAnswer {
    employer: Option<VisitsOf>,
}

#[derive(Deserialize)]
struct VisitsOf {
    name: String,
    visit: Option<VisitShown>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct VisitShown {
    visited_on: Day,
    purpose: Code<VisitPurpose>,
    observations: Option<String>,
    next_step: Option<String>,
    answered_for_by_me: bool,
    /// Null to whoever does not read the visit's internal notes.
    corrections: Option<Vec<VisitCorrectionLine>>,
}

#[derive(Deserialize)]
struct VisitCorrectionLine {
    fields: Vec<Code<VisitField>>,
    #[serde(flatten)]
    corrected: Corrected,
}

/// A visit's page, from the establishment's file.
pub(crate) async fn visit_page(
    page: Page,
    Path((employer_id, visit_id)): Path<(String, String)>,
    Query(q): Query<Notice>,
) -> Response {
    if page.viewer.user.is_none() {
        return page.redirect("/", Vec::new());
    }
    let out = page
        .run(VISIT_PAGE, json!({ "e": employer_id, "v": visit_id }))
        .await;
    let answer: VisitPageAnswer = read_or_return!(out);
    let Some((employer, visit)) = answer.employer.and_then(|e| e.visit.map(|v| (e.name, v))) else {
        return message(
            StatusCode::NOT_FOUND,
            "Introuvable",
            "Cette visite n'existe pas ou ne vous est pas accessible.",
        );
    };
    let corrections = visit
        .corrections
        .unwrap_or_default()
        .into_iter()
        .rev()
        .map(|c| {
            let fields: Vec<&str> = c.fields.into_iter().map(Code::french).collect();
            c.corrected.shown(fields.join(", "))
        })
        .collect();
    let body = VisitPageTemplate {
        nav: page.nav(notice(&q)),
        employer_id,
        visit_id,
        employer,
        visited_on: visit.visited_on.french(),
        purpose: visit.purpose.french(),
        observations: visit.observations,
        next_step: visit.next_step,
        answered_for: visit.answered_for_by_me,
        corrections,
    }
    .render();
    page.render(StatusCode::OK, body)
}
