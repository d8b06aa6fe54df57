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
use crate::page::{FormState, Nav, PAGE_SIZE, Page, STALE_PAGE, given, message, parse_date};

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
/// narrowed by a search of their name or SIRET. The search and the pages
/// are the form's own submit buttons (`liste`), so what was typed in the
/// rest of the form comes back with them; the list's search and cursors
/// travel in hidden fields, never in a URL.
pub(crate) struct EmployerChoice {
    /// Id, name.
    pub chosen: Option<(String, String)>,
    /// Id, label.
    pub employers: Vec<(String, String)>,
    /// The search's field, as typed.
    pub search: FormState,
    /// The search the list shows (a hidden field).
    pub listed: String,
    /// Where the page shown starts (a hidden field), empty on the first.
    pub after: String,
    /// Where the next page starts, when there is one (a hidden field).
    pub next: Option<String>,
    pub searched: bool,
}

/// What one of a form's search or page buttons asks (the `liste` field):
/// the form comes back with every field as sent, and the list asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ListAction {
    /// Search the lists with their fields as typed (also what the Enter
    /// key does, the form's first, hidden, button).
    Search,
    /// The establishments' next page, or their first.
    Next,
    First,
    /// Another establishment than the one chosen.
    Other,
    /// The people's next page, their first, another person than the one
    /// chosen (the proposal's form).
    PeopleNext,
    PeopleFirst,
    OtherPerson,
}

impl ListAction {
    /// The button's value, none for the form's own submit button; an
    /// unknown one searches (nothing sent is lost either way).
    pub(crate) fn of(value: &str) -> Option<Self> {
        Some(match value {
            "" => return None,
            "suivants" => Self::Next,
            "debut" => Self::First,
            "autre" => Self::Other,
            "personnes_suivantes" => Self::PeopleNext,
            "personnes_debut" => Self::PeopleFirst,
            "autre_personne" => Self::OtherPerson,
            _ => Self::Search,
        })
    }
}

/// The establishments' list as a form posted it: the search typed
/// (`nom`), the one its list shows (`nom_liste`), the page shown
/// (`apres`) and the next (`suivant`).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct PostedChoice {
    #[serde(default)]
    pub nom: String,
    #[serde(default)]
    pub nom_liste: String,
    #[serde(default)]
    pub apres: String,
    #[serde(default)]
    pub suivant: String,
}

impl PostedChoice {
    /// The page of establishments `action` asks for; none, the page shown.
    pub(crate) fn asked(&self, action: Option<ListAction>) -> ChoiceQuery {
        let (nom, apres) = match action {
            Some(ListAction::Search | ListAction::Other) => (&self.nom, ""),
            Some(ListAction::First) => (&self.nom_liste, ""),
            Some(ListAction::Next) => (&self.nom_liste, self.suivant.as_str()),
            _ => (&self.nom_liste, self.apres.as_str()),
        };
        ChoiceQuery {
            nom: nom.clone(),
            apres: apres.to_owned(),
        }
    }
}

impl Page {
    /// The establishment chosen (`chosen`, an id), else the page of
    /// establishments `choice` asks for, the search's field showing
    /// `typed`. A cursor no longer valid gives the first page, and
    /// `notice` says so.
    pub(crate) async fn employer_choice(
        &self,
        chosen: &str,
        mut choice: ChoiceQuery,
        typed: &str,
        notice: &mut Option<String>,
    ) -> Result<EmployerChoice, Box<Response>> {
        if let Some(id) = given(chosen)
            && let Some(name) = self.employer_name(id).await?
        {
            return Ok(EmployerChoice {
                chosen: Some((id.to_owned(), name)),
                employers: Vec::new(),
                search: FormState::with(&[("nom", typed)]),
                listed: String::new(),
                after: String::new(),
                next: None,
                searched: false,
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
        Ok(EmployerChoice {
            chosen: None,
            employers,
            search: FormState::with(&[("nom", typed)]),
            searched: given(&choice.nom).is_some(),
            listed: passerelle_domain::shown_again(&choice.nom),
            after: choice.apres,
            next,
        })
    }

    /// The visit's form with `form`'s values; the establishment chosen
    /// is `chosen` (an id), else the page of them `choice` asks for.
    async fn visit_page(
        self,
        status: StatusCode,
        form: FormState,
        chosen: &str,
        mut notice: Option<String>,
        choice: ChoiceQuery,
    ) -> Response {
        let choice = match self
            .employer_choice(chosen, choice, form.value("nom"), &mut notice)
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
        return page.sign_in_first();
    }
    let employer = q.employeur.clone().unwrap_or_default();
    let form = FormState::with(&[("employer", &employer), ("nom", &choice.nom)]);
    page.visit_page(StatusCode::OK, form, &employer, notice(&q), choice)
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
    /// What comes next, if said.
    #[serde(default)]
    next_step: String,
    /// The search or page button pressed, if any (`ListAction`).
    #[serde(default)]
    liste: String,
    /// The establishments' search and pages.
    #[serde(flatten)]
    choice: PostedChoice,
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
        ("next_step", &form.next_step),
        ("nom", &form.choice.nom),
    ]);
    // A search or a page asked: the form again, as typed, nothing sent.
    if let Some(action) = ListAction::of(&form.liste) {
        if action == ListAction::Other {
            state = FormState::with(&[
                ("visited_on", &form.visited_on),
                ("purpose", &form.purpose),
                ("observations", &form.observations),
                ("next_step", &form.next_step),
                ("nom", &form.choice.nom),
            ]);
        }
        // The establishment chosen stays so (the Enter key in the date
        // searches nothing), but for its list asked for or searched anew,
        // which ticks it again when its page holds it.
        let listed = matches!(
            action,
            ListAction::Next | ListAction::First | ListAction::Other
        ) || given(&form.choice.nom).is_some();
        let chosen = if listed { "" } else { form.employer.as_str() };
        let choice = form.choice.asked(Some(action));
        return page
            .visit_page(StatusCode::OK, state, chosen, None, choice)
            .await;
    }
    let choice = form.choice.asked(None);
    // Every field refused at once: the establishment, the day, the purpose.
    if given(&form.employer).is_none() {
        state.errors.insert(
            "employer".into(),
            "Choisissez l'établissement visité.".into(),
        );
    }
    let visited_on = parse_date(&form.visited_on);
    if visited_on.is_none() {
        state
            .errors
            .insert("visited_on".into(), "Indiquez la date de la visite.".into());
    }
    state.offered(
        "purpose",
        &form.purpose,
        &PURPOSES,
        "Choisissez l'objet de la visite dans la liste.",
    );
    let Some(visited_on) = visited_on.filter(|_| state.errors.is_empty()) else {
        return page
            .visit_page(
                StatusCode::UNPROCESSABLE_ENTITY,
                state,
                &form.employer,
                None,
                choice,
            )
            .await;
    };
    let out = page
        .run(
            "mutation($e: ID!, $d: Date, $p: VisitPurpose!, $o: String!, $n: String) {
                employerVisitLog(input: { employerId: $e, visitedOn: $d, purpose: $p,
                    observations: $o, nextStep: $n }) { visitId }
            }",
            json!({
                "e": form.employer,
                "d": visited_on.to_string(),
                "p": form.purpose,
                "o": form.observations,
                "n": given(&form.next_step),
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
            ("nextStep", "next_step"),
            ("visitedOn", "visited_on"),
            ("employerId", "employer"),
        ],
    );
    page.visit_page(
        StatusCode::UNPROCESSABLE_ENTITY,
        state,
        &form.employer,
        None,
        choice,
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
        return page.sign_in_first();
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
