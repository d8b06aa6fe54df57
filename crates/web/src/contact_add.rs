//! An establishment's contact added by staff from its file
//! (`/employers/{id}/contact`, `employerContactAdd`): its first one above
//! all, who then gets a link to the establishment's space and adds
//! colleagues from there.

use askama::Template;
use axum::extract::{Form, Path};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use crate::page::{FormState, Nav, Page, given, message};

#[derive(Template)]
#[template(path = "contact_add.html")]
struct ContactTemplate {
    nav: Nav,
    id: String,
    name: String,
    form: FormState,
}

impl Page {
    async fn contact_page(self, id: &str, status: StatusCode, form: FormState) -> Response {
        let name = match self.employer_name(id).await {
            Ok(Some(name)) => name,
            Ok(None) => {
                return message(
                    StatusCode::NOT_FOUND,
                    "Introuvable",
                    "Cet établissement n'existe pas ou ne vous est pas accessible.",
                );
            }
            Err(page) => return *page,
        };
        let body = ContactTemplate {
            nav: self.nav(None),
            id: id.to_owned(),
            name,
            form,
        }
        .render();
        self.render(status, body)
    }
}

pub(crate) async fn form(page: Page, Path(id): Path<String>) -> Response {
    if page.viewer.user.is_none() {
        return page.sign_in_first();
    }
    page.contact_page(&id, StatusCode::OK, FormState::default())
        .await
}

#[derive(Debug, Deserialize)]
pub(crate) struct ContactForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    job_title: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    phone: String,
}

pub(crate) async fn add(
    page: Page,
    Path(id): Path<String>,
    Form(f): Form<ContactForm>,
) -> Response {
    if page.viewer.user.is_none() {
        return page.sign_in_first();
    }
    if let Err(r) = page.checked(&f.csrf) {
        return *r;
    }
    let out = page
        .run(
            "mutation($e: ID!, $n: String!, $j: String, $m: String, $p: String) {
                employerContactAdd(input: { employerId: $e, name: $n, jobTitle: $j,
                    email: $m, phone: $p }) { employer { id } } }",
            json!({ "e": id, "n": f.name, "j": given(&f.job_title),
                "m": given(&f.email), "p": given(&f.phone) }),
        )
        .await;
    if out.errors.is_empty() {
        return page.redirect(&format!("/employers/{id}"), Vec::new());
    }
    let mut state = FormState::with(&[
        ("name", &f.name),
        ("job_title", &f.job_title),
        ("email", &f.email),
        ("phone", &f.phone),
    ]);
    state.absorb(
        &out.errors,
        &[
            ("name", "name"),
            ("jobTitle", "job_title"),
            ("email", "email"),
            ("phone", "phone"),
        ],
    );
    page.contact_page(&id, StatusCode::UNPROCESSABLE_ENTITY, state)
        .await
}
