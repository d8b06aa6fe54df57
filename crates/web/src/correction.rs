//! Correcting a person's identity from their file (`/people/{id}/corriger`):
//! the name as recorded to start from, the fields to change, the reason,
//! then `personCorrect`. A field left blank stays as recorded; the gateway
//! refuses a correction that changes nothing or has no reason, each beside
//! its field, and what was typed stays.

use askama::Template;
use axum::extract::{Form, Path};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use crate::answer::{PersonName, read_or_return};
use crate::page::{FormState, Nav, Page, given, message, parse_date};

#[derive(Template)]
#[template(path = "correct.html")]
struct CorrectTemplate {
    nav: Nav,
    id: String,
    name: String,
    form: FormState,
}

#[derive(Deserialize)]
struct Answer {
    person: Option<PersonName>,
}

impl Page {
    async fn correct_page(self, id: &str, status: StatusCode, form: FormState) -> Response {
        let out = self
            .run(
                "query($p: ID!) { person(id: $p) { firstName lastName } }",
                json!({ "p": id }),
            )
            .await;
        let answer: Answer = read_or_return!(out);
        let Some(person) = answer.person else {
            return message(
                StatusCode::NOT_FOUND,
                "Introuvable",
                "Cette personne n'existe pas ou ne vous est pas accessible.",
            );
        };
        let body = CorrectTemplate {
            nav: self.nav(None),
            id: id.to_owned(),
            name: person.full(),
            form,
        }
        .render();
        self.render(status, body)
    }
}

pub(crate) async fn form(page: Page, Path(id): Path<String>) -> Response {
    if page.viewer.user.is_none() {
        return page.redirect("/", Vec::new());
    }
    page.correct_page(&id, StatusCode::OK, FormState::default())
        .await
}

#[derive(Debug, Deserialize)]
pub(crate) struct CorrectForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    last_name: String,
    #[serde(default)]
    birth_date: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    reason: String,
}

pub(crate) async fn correct(
    page: Page,
    Path(id): Path<String>,
    Form(f): Form<CorrectForm>,
) -> Response {
    if let Err(r) = page.checked(&f.csrf) {
        return *r;
    }
    let mut state = FormState::with(&[
        ("first_name", &f.first_name),
        ("last_name", &f.last_name),
        ("birth_date", &f.birth_date),
        ("email", &f.email),
        ("phone", &f.phone),
        ("reason", &f.reason),
    ]);
    let birth_date = match given(&f.birth_date) {
        None => None,
        Some(typed) => match parse_date(typed) {
            Some(day) => Some(day.to_string()),
            None => {
                state.errors.insert(
                    "birth_date".into(),
                    "Indiquez la date de naissance (jour, mois, année), ou laissez vide.".into(),
                );
                return page
                    .correct_page(&id, StatusCode::UNPROCESSABLE_ENTITY, state)
                    .await;
            }
        },
    };
    let out = page
        .run(
            "mutation($p: ID!, $c: IdentityChangesInput!, $r: String!) {
                personCorrect(input: { personId: $p, changes: $c, reason: $r }) {
                    person { id } } }",
            json!({ "p": id, "r": f.reason, "c": {
                "firstName": given(&f.first_name),
                "lastName": given(&f.last_name),
                "birthDate": birth_date,
                "email": given(&f.email),
                "phone": given(&f.phone),
            } }),
        )
        .await;
    if out.errors.is_empty() {
        return page.redirect(&format!("/people/{id}?fait=correction"), Vec::new());
    }
    // "changes" itself (nothing to correct) has no field of its own: it is
    // said above the form.
    state.absorb(
        &out.errors,
        &[
            ("firstName", "first_name"),
            ("lastName", "last_name"),
            ("birthDate", "birth_date"),
            ("email", "email"),
            ("phone", "phone"),
            ("reason", "reason"),
        ],
    );
    page.correct_page(&id, StatusCode::UNPROCESSABLE_ENTITY, state)
        .await
}

#[derive(Template)]
#[template(path = "correct_employer.html")]
struct CorrectEmployerTemplate {
    nav: Nav,
    id: String,
    name: String,
    form: FormState,
}

#[derive(Deserialize)]
struct EmployerAnswer {
    employer: Option<EmployerName>,
}

#[derive(Deserialize)]
struct EmployerName {
    name: String,
}

impl Page {
    async fn correct_employer_page(
        self,
        id: &str,
        status: StatusCode,
        form: FormState,
    ) -> Response {
        let out = self
            .run(
                "query($e: ID!) { employer(id: $e) { name } }",
                json!({ "e": id }),
            )
            .await;
        let answer: EmployerAnswer = read_or_return!(out);
        let Some(employer) = answer.employer else {
            return message(
                StatusCode::NOT_FOUND,
                "Introuvable",
                "Cet établissement n'existe pas ou ne vous est pas accessible.",
            );
        };
        let body = CorrectEmployerTemplate {
            nav: self.nav(None),
            id: id.to_owned(),
            name: employer.name,
            form,
        }
        .render();
        self.render(status, body)
    }
}

/// An establishment's file corrected (`/employers/{id}/corriger`): its
/// name, sector, commune or address, never its SIRET.
pub(crate) async fn employer_form(page: Page, Path(id): Path<String>) -> Response {
    if page.viewer.user.is_none() {
        return page.redirect("/", Vec::new());
    }
    page.correct_employer_page(&id, StatusCode::OK, FormState::default())
        .await
}

#[derive(Debug, Deserialize)]
pub(crate) struct CorrectEmployerForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    naf: String,
    #[serde(default)]
    commune: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    reason: String,
}

pub(crate) async fn correct_employer(
    page: Page,
    Path(id): Path<String>,
    Form(f): Form<CorrectEmployerForm>,
) -> Response {
    if let Err(r) = page.checked(&f.csrf) {
        return *r;
    }
    let mut state = FormState::with(&[
        ("name", &f.name),
        ("naf", &f.naf),
        ("commune", &f.commune),
        ("address", &f.address),
        ("reason", &f.reason),
    ]);
    let out = page
        .run(
            "mutation($e: ID!, $c: EmployerChangesInput!, $r: String!) {
                employerCorrect(input: { employerId: $e, changes: $c, reason: $r }) {
                    employer { id } } }",
            json!({ "e": id, "r": f.reason, "c": {
                "name": given(&f.name),
                "naf": given(&f.naf),
                "commune": given(&f.commune),
                "address": given(&f.address),
            } }),
        )
        .await;
    if out.errors.is_empty() {
        return page.redirect(
            &format!("/employers/{id}?fait=correction-etablissement"),
            Vec::new(),
        );
    }
    state.absorb(
        &out.errors,
        &[
            ("name", "name"),
            ("naf", "naf"),
            ("commune", "commune"),
            ("address", "address"),
            ("reason", "reason"),
        ],
    );
    page.correct_employer_page(&id, StatusCode::UNPROCESSABLE_ENTITY, state)
        .await
}
