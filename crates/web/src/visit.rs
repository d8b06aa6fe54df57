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

use crate::answer::{Code, Day, Paged, read_or_return};
use crate::correction::Corrected;
use crate::home::{Notice, notice};
use crate::labels::PURPOSES;
use crate::page::{
    FormState, Nav, PAGE_SIZE, Page, Pager, STALE_PAGE, given, list_href, message, parse_date,
};

#[derive(Template)]
#[template(path = "visit_form.html")]
struct VisitTemplate {
    nav: Nav,
    form: FormState,
    /// The establishment visited, or a page of them to choose from.
    choice: EmployerChoice,
    purposes: &'static [(&'static str, &'static str)],
    today: String,
}

/// The establishments a visit form offers: the search's name or SIRET,
/// and where its page starts. The territory's establishments number in
/// thousands: the form offers a page of them at a time, narrowed by the
/// search, never a list cut short.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ChoiceQuery {
    #[serde(default)]
    pub nom: String,
    #[serde(default)]
    pub apres: String,
}

/// The establishment a form is about: the one chosen (from its file, or
/// after a refusal), else a page of establishments to choose from,
/// narrowed by a search of their name or SIRET, with its pages' links.
pub(crate) struct EmployerChoice {
    /// Id, name.
    pub chosen: Option<(String, String)>,
    /// Id, label.
    pub employers: Vec<(String, String)>,
    /// The search's field, as typed.
    pub search: FormState,
    pub searched: bool,
    pub pager: Pager,
}

impl Page {
    /// The establishment chosen (`chosen`, an id), else the page of
    /// establishments `choice` asks for; the pages' links lead to `path`
    /// with `keep` (ids only) in their URL. A cursor no longer valid gives
    /// the first page, and `notice` says so.
    pub(crate) async fn employer_choice(
        &self,
        chosen: &str,
        mut choice: ChoiceQuery,
        path: &str,
        keep: &[(&str, &str)],
        notice: &mut Option<String>,
    ) -> Result<EmployerChoice, Box<Response>> {
        if let Some(id) = given(chosen)
            && let Some(name) = self.employer_name(id).await?
        {
            return Ok(EmployerChoice {
                chosen: Some((id.to_owned(), name)),
                employers: Vec::new(),
                search: FormState::default(),
                searched: false,
                pager: Pager {
                    next: None,
                    first: None,
                },
            });
        }
        let read = |choice: &ChoiceQuery| {
            self.run(
                "query($first: Int!, $after: String, $filter: EmployerFilter) {
                    employers(first: $first, after: $after, filter: $filter) {
                        edges { node { id name communeName } }
                        pageInfo { endCursor hasNextPage } } }",
                json!({
                    "first": PAGE_SIZE,
                    "after": given(&choice.apres),
                    "filter": { "nameOrSiret": given(&choice.nom) },
                }),
            )
        };
        let mut out = read(&choice).await;
        if out.bad_cursor() {
            choice.apres.clear();
            *notice = Some(STALE_PAGE.to_owned());
            out = read(&choice).await;
        }
        #[derive(Deserialize)]
        struct Answer {
            employers: Paged<Choice>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Choice {
            id: String,
            name: String,
            commune_name: Option<String>,
        }
        let answer: Answer = out.read()?;
        let (rows, next) = answer.employers.split();
        let employers = rows
            .into_iter()
            .map(|n| {
                let label = match n.commune_name {
                    Some(c) => format!("{} ({c})", n.name),
                    None => n.name,
                };
                (n.id, label)
            })
            .collect();
        let mut query: Vec<(&str, &str)> = keep.to_vec();
        query.push(("nom", &choice.nom));
        let pager = Pager {
            next: next.map(|cursor| {
                let mut query = query.clone();
                query.push(("apres", &cursor));
                list_href(path, &query)
            }),
            first: given(&choice.apres).map(|_| list_href(path, &query)),
        };
        Ok(EmployerChoice {
            chosen: None,
            employers,
            search: FormState::with(&[("nom", &choice.nom)]),
            searched: given(&choice.nom).is_some(),
            pager,
        })
    }

    async fn visit_page(
        self,
        status: StatusCode,
        form: FormState,
        mut notice: Option<String>,
        choice: ChoiceQuery,
    ) -> Response {
        let choice = match self
            .employer_choice(
                form.value("employer"),
                choice,
                "/visites/nouvelle",
                &[],
                &mut notice,
            )
            .await
        {
            Ok(choice) => choice,
            Err(page) => return *page,
        };
        let today = self.api.gateway.handler.clock().today().to_string();
        let body = VisitTemplate {
            nav: self.nav(notice),
            form,
            choice,
            purposes: &PURPOSES,
            today,
        }
        .render();
        self.render(status, body)
    }
}

pub(crate) async fn visit_form(
    page: Page,
    Query(q): Query<Notice>,
    Query(choice): Query<ChoiceQuery>,
) -> Response {
    if page.viewer.user.is_none() {
        return page.redirect("/", Vec::new());
    }
    let form = FormState::with(&[("employer", q.employeur.as_deref().unwrap_or_default())]);
    page.visit_page(StatusCode::OK, form, notice(&q), choice)
        .await
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
    /// The search the establishments were chosen from, to offer them
    /// again after a refusal.
    #[serde(default)]
    nom: String,
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
    if given(&form.employer).is_none() {
        state.errors.insert(
            "employer".into(),
            "Choisissez l'établissement visité.".into(),
        );
        return page
            .visit_page(
                StatusCode::UNPROCESSABLE_ENTITY,
                state,
                None,
                ChoiceQuery {
                    nom: form.nom.clone(),
                    apres: String::new(),
                },
            )
            .await;
    }
    let visited_on = match parse_date(&form.visited_on) {
        Some(d) => d,
        None => {
            state
                .errors
                .insert("visited_on".into(), "Indiquez la date de la visite.".into());
            return page
                .visit_page(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    state,
                    None,
                    ChoiceQuery::default(),
                )
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
    page.visit_page(
        StatusCode::UNPROCESSABLE_ENTITY,
        state,
        None,
        ChoiceQuery {
            nom: form.nom,
            apres: String::new(),
        },
    )
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
