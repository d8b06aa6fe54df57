//! A mediator's establishments: the list, searched by name and paged, and
//! an establishment registered (its SIRET, sector and commune checked by
//! the API).

use askama::Template;
use axum::extract::Form;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use crate::answer::read_or_return;
use crate::page::{FormState, Nav, Page};

#[derive(Template)]
#[template(path = "employer_form.html")]
struct RegisterTemplate {
    nav: Nav,
    form: FormState,
}

impl Page {
    fn register_page(self, status: StatusCode, form: FormState) -> Response {
        let body = RegisterTemplate {
            nav: self.nav(None),
            form,
        }
        .render();
        self.render(status, body)
    }
}

pub(crate) async fn register_form(page: Page) -> Response {
    if page.viewer.user.is_none() {
        return page.redirect("/", Vec::new());
    }
    page.register_page(StatusCode::OK, FormState::default())
}

#[derive(Debug, Deserialize)]
pub(crate) struct RegisterForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    siret: String,
    #[serde(default)]
    naf: String,
    #[serde(default)]
    commune: String,
    #[serde(default)]
    address: String,
}

/// The registration form's fields, with where the gateway names them.
const REGISTER_FIELDS: [(&str, &str); 5] = [
    ("name", "name"),
    ("siret", "siret"),
    ("naf", "naf"),
    ("commune", "commune"),
    ("address", "address"),
];

pub(crate) async fn register(page: Page, Form(form): Form<RegisterForm>) -> Response {
    if let Err(r) = page.checked(&form.csrf) {
        return *r;
    }
    let address = form.address.trim();
    let out = page
        .run(
            "mutation($i: EmployerRegisterInput!) { employerRegister(input: $i) { employer { id } } }",
            json!({ "i": {
                "name": form.name,
                "siret": form.siret,
                "naf": form.naf,
                "commune": form.commune,
                "address": (!address.is_empty()).then_some(address),
            } }),
        )
        .await;
    if out.errors.is_empty() {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Answer {
            employer_register: Registered,
        }
        #[derive(Deserialize)]
        struct Registered {
            employer: Id,
        }
        #[derive(Deserialize)]
        struct Id {
            id: String,
        }
        let answer: Answer = read_or_return!(out);
        let to = format!(
            "/employers/{}?fait=etablissement",
            answer.employer_register.employer.id
        );
        return page.redirect(&to, Vec::new());
    }
    let mut state = FormState::with(&[
        ("name", &form.name),
        ("siret", &form.siret),
        ("naf", &form.naf),
        ("commune", &form.commune),
        ("address", &form.address),
    ]);
    state.absorb(&out.errors, &REGISTER_FIELDS);
    page.register_page(StatusCode::UNPROCESSABLE_ENTITY, state)
}
