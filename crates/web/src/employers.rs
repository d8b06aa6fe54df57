//! A mediator's establishments: the list, searched by name or SIRET,
//! commune, sector and the job of an open need, and paged, and
//! an establishment registered (its SIRET, sector and commune checked by
//! the API).

use askama::Template;
use axum::extract::{Form, Query};
use axum::http::StatusCode;
use axum::response::Response;
use passerelle_domain::fr;
use passerelle_domain::values::RomeCode;
use serde::Deserialize;
use serde_json::json;

use crate::answer::{Paged, read_or_return};
use crate::page::{
    FormState, ListQuery, Nav, PAGE_SIZE, Page, Pager, STALE_PAGE, given, list_href,
};

#[derive(Template)]
#[template(path = "employers.html")]
struct ListTemplate {
    nav: Nav,
    form: FormState,
    searched: bool,
    /// Id, name, then where and in what sector.
    employers: Vec<(String, String, String)>,
    /// The jobs of the referential the « Métier » field was read as.
    jobs: Vec<String>,
    pager: Pager,
    /// A search posted (from the home's, whose text may be a person's
    /// name): searched again by POST too, so that the text stays out of
    /// the URL.
    posted: bool,
    /// A posted search's next page, a POST too, carrying the search and
    /// the cursor.
    posted_next: Option<String>,
    /// A later page of a posted search: a link back to the whole list.
    posted_later: bool,
}

/// The jobs of the referential a typed text names, as the API takes them
/// (`romeCodes`): a code, or words of a job's label (« boulanger »),
/// whatever their case and accents. Blank, no filter; `Err` what to say
/// beside the field when the text names no job, or too many to search.
fn searched_jobs(typed: &str) -> Result<Vec<RomeCode>, String> {
    let Some(text) = given(typed) else {
        return Ok(Vec::new());
    };
    let found = RomeCode::matching(text, RomeCode::MAX_SEARCHED + 1);
    if found.is_empty() {
        return Err(format!(
            "Aucun métier du référentiel ROME ne correspond à « {} » : indiquez un code (par exemple D1102) ou un mot du métier (par exemple boulanger).",
            passerelle_domain::echoed(text)
        ));
    }
    if found.len() > RomeCode::MAX_SEARCHED {
        return Err(format!(
            "Plus de {} métiers correspondent à « {text} » : précisez le métier ou indiquez son code ROME.",
            RomeCode::MAX_SEARCHED
        ));
    }
    Ok(found)
}

pub(crate) async fn list(page: Page, Query(q): Query<ListQuery>) -> Response {
    if page.viewer.user.is_none() {
        return page.sign_in_first();
    }
    employers_list(page, q, false).await
}

#[derive(Debug, Deserialize)]
pub(crate) struct SearchForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    nom: String,
    #[serde(default)]
    commune: String,
    #[serde(default)]
    secteur: String,
    #[serde(default)]
    metier: String,
    #[serde(default)]
    apres: String,
}

/// The list searched by POST (`/employers/recherche`), a page at a time:
/// the home's search leads here with the text typed, which may be a
/// person's name and so stays out of URLs.
pub(crate) async fn search(page: Page, Form(f): Form<SearchForm>) -> Response {
    if let Err(r) = page.checked(&f.csrf) {
        return *r;
    }
    if page.viewer.user.is_none() {
        return page.sign_in_first();
    }
    let q = ListQuery {
        nom: f.nom,
        commune: f.commune,
        secteur: f.secteur,
        metier: f.metier,
        apres: f.apres,
        ..ListQuery::default()
    };
    employers_list(page, q, true).await
}

async fn employers_list(page: Page, mut q: ListQuery, posted: bool) -> Response {
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
    // The job is read against the referential here: the API takes codes.
    let jobs = searched_jobs(&q.metier);
    let codes: Vec<String> = jobs
        .as_ref()
        .map(|found| found.iter().map(|c| c.as_str().to_owned()).collect())
        .unwrap_or_default();
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
                    "romeCodes": (!codes.is_empty()).then_some(&codes),
                },
            }),
        )
    };
    if let Err(error) = &jobs {
        let mut form = q.form();
        form.errors.insert("metier".into(), error.clone());
        let body = ListTemplate {
            nav: page.nav(None),
            form,
            searched: true,
            employers: Vec::new(),
            jobs: Vec::new(),
            pager: Pager::none(),
            posted,
            posted_next: None,
            posted_later: false,
        }
        .render();
        return page.render(StatusCode::UNPROCESSABLE_ENTITY, body);
    }
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
                ("romeCodes", "metier"),
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
        jobs: codes.iter().map(|c| fr::rome(c)).collect(),
        posted,
        posted_next: if posted { next.clone() } else { None },
        posted_later: posted && q.after().is_some(),
        pager: if posted {
            Pager::none()
        } else {
            Pager::of("/employers", &q, next)
        },
    }
    .render();
    page.render(status, body)
}

#[derive(Template)]
#[template(path = "employer_form.html")]
struct RegisterTemplate {
    nav: Nav,
    form: FormState,
    /// The list that finds the establishment already registered under the
    /// SIRET typed, when that is why the form was refused.
    registered: Option<String>,
}

impl Page {
    fn register_page(
        self,
        status: StatusCode,
        form: FormState,
        registered: Option<String>,
    ) -> Response {
        let body = RegisterTemplate {
            nav: self.nav(None),
            form,
            registered,
        }
        .render();
        self.render(status, body)
    }
}

pub(crate) async fn register_form(page: Page) -> Response {
    if page.viewer.user.is_none() {
        return page.sign_in_first();
    }
    page.register_page(StatusCode::OK, FormState::default(), None)
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
    // Registered already: the list, searched by its SIRET, leads to it.
    let registered = out
        .errors
        .iter()
        .any(|e| e.field.as_deref() == Some("siret") && e.code.as_deref() == Some("CONFLICT"))
        .then(|| list_href("/employers", &[("nom", form.siret.trim())]));
    state.absorb(&out.errors, &REGISTER_FIELDS);
    page.register_page(StatusCode::UNPROCESSABLE_ENTITY, state, registered)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_is_found_by_its_code_or_its_words_and_refused_when_unknown_or_vague() {
        assert!(searched_jobs("  ").unwrap().is_empty());
        let codes = |typed: &str| -> Vec<String> {
            searched_jobs(typed)
                .unwrap()
                .iter()
                .map(|c| c.as_str().to_owned())
                .collect()
        };
        assert_eq!(codes("d1102"), ["D1102"]);
        assert!(codes("boulangere").contains(&"D1102".to_owned()));
        let unknown = searched_jobs("Z9999").unwrap_err();
        assert!(unknown.contains("« Z9999 »"), "{unknown}");
        let vague = searched_jobs("D").unwrap_err();
        assert!(vague.contains("précisez"), "{vague}");
    }
}
