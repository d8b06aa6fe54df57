//! A mediator's establishments: the list, searched by name or SIRET,
//! commune and sector, and paged, and
//! an establishment registered (its SIRET, sector and commune checked by
//! the API).

use askama::Template;
use axum::extract::{Form, Query};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use crate::answer::{Paged, read_or_return};
use crate::page::{FormState, ListQuery, Nav, PAGE_SIZE, Page, Pager, STALE_PAGE, given};

#[derive(Template)]
#[template(path = "employers.html")]
struct ListTemplate {
    nav: Nav,
    form: FormState,
    searched: bool,
    /// Id, name, then where and in what sector.
    employers: Vec<(String, String, String)>,
    pager: Pager,
}

pub(crate) async fn list(page: Page, Query(mut q): Query<ListQuery>) -> Response {
    if page.viewer.user.is_none() {
        return page.redirect("/", Vec::new());
    }
    #[derive(Deserialize)]
    struct Answer {
        employers: Paged<Listed>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Listed {
        id: String,
        name: String,
        commune_name: Option<String>,
        naf_label: Option<String>,
    }
    let read = |q: &ListQuery| {
        page.run(
            "query($first: Int!, $after: String, $filter: EmployerFilter) {
                employers(first: $first, after: $after, filter: $filter) {
                    edges { node { id name communeName nafLabel } }
                    pageInfo { endCursor hasNextPage } } }",
            json!({
                "first": PAGE_SIZE,
                "after": q.after(),
                "filter": {
                    "nameOrSiret": given(&q.nom),
                    "commune": given(&q.commune),
                    "naf": given(&q.secteur),
                },
            }),
        )
    };
    let mut out = read(&q).await;
    // A page's link no longer valid: the list from its start, saying so.
    let mut notice = None;
    if out.bad_cursor() {
        q.apres.clear();
        notice = Some(STALE_PAGE.to_owned());
        out = read(&q).await;
    }
    let mut form = q.form();
    let (employers, next) = if out.errors.is_empty() {
        let answer: Answer = read_or_return!(out);
        let (rows, next) = answer.employers.split();
        let rows = rows
            .into_iter()
            .map(|e| {
                let about = [e.commune_name, e.naf_label]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" – ");
                (e.id, e.name, about)
            })
            .collect();
        (rows, next)
    } else {
        form.absorb(
            &out.errors,
            &[
                ("nameOrSiret", "nom"),
                ("commune", "commune"),
                ("naf", "secteur"),
            ],
        );
        (Vec::new(), None)
    };
    let status = if out.errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let body = ListTemplate {
        nav: page.nav(notice),
        form,
        searched: q.searched(),
        employers,
        pager: Pager::of("/employers", &q, next),
    }
    .render();
    page.render(status, body)
}

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
    let out = page
        .run(
            "mutation($i: EmployerRegisterInput!) { employerRegister(input: $i) { employer { id } } }",
            json!({ "i": {
                "name": form.name,
                "siret": form.siret,
                "naf": form.naf,
                "commune": form.commune,
                "address": given(&form.address),
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
