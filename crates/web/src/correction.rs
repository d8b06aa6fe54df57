//! Correcting a person's identity from their file (`/people/{id}/corriger`):
//! the name as recorded to start from, the fields to change, the reason,
//! then `personCorrect`. A field left blank stays as recorded; the gateway
//! refuses a correction that changes nothing or has no reason, each beside
//! its field, and what was typed stays. An establishment's file
//! (`employerCorrect`), a visit (`employerVisitCorrect`) and a need's
//! description (`needCorrect`) are corrected alike; `Corrected` reads
//! back a correction as every file lists it.

use askama::Template;
use axum::extract::{Form, Path};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use passerelle_domain::employer::VisitPurpose;

use crate::answer::{Code, Day, PersonName, read_or_return};
use crate::labels::{HORIZONS, INTENTS, PURPOSES};
use crate::page::{FormState, Nav, Page, given, message, parse_date};

/// A correction as the files list it, whatever it corrected: when, who
/// recorded it (their role), why. What it changed is the file's own.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Corrected {
    /// Null once the person it is about was erased (an identity's).
    reason: Option<String>,
    corrected_on: Day,
    recorded: RecordedBy,
}

#[derive(Deserialize)]
struct RecordedBy {
    role: String,
}

impl Corrected {
    /// The date in French, who (their role in French), `what` it changed,
    /// why.
    pub(crate) fn shown(self, what: String) -> (String, String, String, String) {
        (
            self.corrected_on.french(),
            crate::answer::recorder(&self.recorded.role).to_owned(),
            what,
            self.reason.unwrap_or_else(|| "(effacée)".to_owned()),
        )
    }
}

#[derive(Template)]
#[template(path = "correct.html")]
struct CorrectTemplate {
    nav: Nav,
    id: String,
    name: String,
    /// What each field holds now, as its hint.
    now: Recorded,
    form: FormState,
}

#[derive(Deserialize)]
struct Answer {
    person: Option<PersonFound>,
}

#[derive(Deserialize)]
struct PersonFound {
    #[serde(flatten)]
    name: PersonName,
    identity: Option<IdentityNow>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IdentityNow {
    first_name: String,
    last_name: String,
    birth_date: Day,
    email: Option<String>,
    phone: Option<String>,
    address: Option<String>,
}

/// Each field's value as recorded, said as the form's hint.
#[derive(Default)]
struct Recorded {
    first_name: String,
    last_name: String,
    birth_date: String,
    email: String,
    phone: String,
    address: String,
}

impl Recorded {
    fn of(identity: Option<IdentityNow>) -> Self {
        let Some(i) = identity else {
            return Self::default();
        };
        let now = crate::answer::recorded_hint;
        Self {
            first_name: now(Some(i.first_name)),
            last_name: now(Some(i.last_name)),
            birth_date: now(Some(i.birth_date.french())),
            email: now(i.email),
            phone: now(i.phone.as_deref().map(crate::answer::phone)),
            address: now(i.address),
        }
    }
}

impl Page {
    async fn correct_page(self, id: &str, status: StatusCode, form: FormState) -> Response {
        let out = self
            .run(
                "query($p: ID!) { person(id: $p) { firstName lastName
                    identity { firstName lastName birthDate email phone address } } }",
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
            name: person.name.full(),
            now: Recorded::of(person.identity),
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
    address: String,
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
        ("address", &f.address),
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
                "address": given(&f.address),
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
            ("address", "address"),
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

impl Page {
    async fn correct_employer_page(
        self,
        id: &str,
        status: StatusCode,
        form: FormState,
    ) -> Response {
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
        let body = CorrectEmployerTemplate {
            nav: self.nav(None),
            id: id.to_owned(),
            name,
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
        return page.sign_in_first();
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

#[derive(Template)]
#[template(path = "correct_visit.html")]
struct CorrectVisitTemplate {
    nav: Nav,
    employer_id: String,
    visit_id: String,
    employer: String,
    /// The visit as recorded: its date and purpose, in French.
    visit: String,
    form: FormState,
    purposes: &'static [(&'static str, &'static str)],
}

const VISIT: &str =
    "query($e: ID!, $v: ID!) { employer(id: $e) { name visit(id: $v) { visitedOn purpose } } }";

#[derive(Deserialize)]
struct VisitAnswer {
    employer: Option<VisitsOf>,
}

#[derive(Deserialize)]
struct VisitsOf {
    name: String,
    visit: Option<VisitListed>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct VisitListed {
    visited_on: Day,
    purpose: Code<VisitPurpose>,
}

impl Page {
    async fn correct_visit_page(
        self,
        employer_id: &str,
        visit_id: &str,
        status: StatusCode,
        form: FormState,
    ) -> Response {
        let out = self
            .run(VISIT, json!({ "e": employer_id, "v": visit_id }))
            .await;
        let answer: VisitAnswer = read_or_return!(out);
        let Some((employer, visit)) = answer.employer.and_then(|e| e.visit.map(|v| (e.name, v)))
        else {
            return message(
                StatusCode::NOT_FOUND,
                "Introuvable",
                "Cette visite n'existe pas ou ne vous est pas accessible.",
            );
        };
        let body = CorrectVisitTemplate {
            nav: self.nav(None),
            employer_id: employer_id.to_owned(),
            visit_id: visit_id.to_owned(),
            employer,
            visit: format!(
                "{}, {}",
                visit.visited_on.french(),
                visit.purpose.french().to_lowercase()
            ),
            form,
            purposes: &PURPOSES,
        }
        .render();
        self.render(status, body)
    }
}

/// A visit's record corrected (`/employers/{id}/visites/{visit}/corriger`):
/// its date, purpose, observations or next step, with why.
pub(crate) async fn visit_form(
    page: Page,
    Path((employer, visit)): Path<(String, String)>,
) -> Response {
    if page.viewer.user.is_none() {
        return page.sign_in_first();
    }
    page.correct_visit_page(&employer, &visit, StatusCode::OK, FormState::default())
        .await
}

#[derive(Debug, Deserialize)]
pub(crate) struct CorrectVisitForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    visited_on: String,
    #[serde(default)]
    purpose: String,
    #[serde(default)]
    observations: String,
    #[serde(default)]
    next_step: String,
    #[serde(default)]
    reason: String,
}

pub(crate) async fn correct_visit(
    page: Page,
    Path((employer, visit)): Path<(String, String)>,
    Form(f): Form<CorrectVisitForm>,
) -> Response {
    if let Err(r) = page.checked(&f.csrf) {
        return *r;
    }
    let mut state = FormState::with(&[
        ("visited_on", &f.visited_on),
        ("purpose", &f.purpose),
        ("observations", &f.observations),
        ("next_step", &f.next_step),
        ("reason", &f.reason),
    ]);
    // The day and the purpose refused together, each beside its field.
    let visited_on = match given(&f.visited_on) {
        None => None,
        Some(typed) => {
            let day = parse_date(typed).map(|day| day.to_string());
            if day.is_none() {
                state.errors.insert(
                    "visited_on".into(),
                    "Indiquez la date de la visite (jour, mois, année), ou laissez vide.".into(),
                );
            }
            day
        }
    };
    if let Some(purpose) = given(&f.purpose) {
        state.offered(
            "purpose",
            purpose,
            &PURPOSES,
            "Choisissez l'objet de la visite dans la liste, ou laissez-le inchangé.",
        );
    }
    if !state.errors.is_empty() {
        return page
            .correct_visit_page(&employer, &visit, StatusCode::UNPROCESSABLE_ENTITY, state)
            .await;
    }
    let out = page
        .run(
            "mutation($e: ID!, $v: ID!, $c: VisitChangesInput!, $r: String!) {
                employerVisitCorrect(input: { employerId: $e, visitId: $v, changes: $c, reason: $r }) {
                    employer { id } } }",
            json!({ "e": employer, "v": visit, "r": f.reason, "c": {
                "visitedOn": visited_on,
                "purpose": given(&f.purpose),
                "observations": given(&f.observations),
                "nextStep": given(&f.next_step),
            } }),
        )
        .await;
    if out.errors.is_empty() {
        return page.redirect(
            &format!("/employers/{employer}/visites/{visit}?fait=correction-visite"),
            Vec::new(),
        );
    }
    state.absorb(
        &out.errors,
        &[
            ("visitedOn", "visited_on"),
            ("purpose", "purpose"),
            ("observations", "observations"),
            ("nextStep", "next_step"),
            ("reason", "reason"),
        ],
    );
    page.correct_visit_page(&employer, &visit, StatusCode::UNPROCESSABLE_ENTITY, state)
        .await
}

#[derive(Template)]
#[template(path = "correct_need.html")]
struct CorrectNeedTemplate {
    nav: Nav,
    id: String,
    employer: String,
    form: FormState,
    horizons: &'static [(&'static str, &'static str)],
    intents: &'static [(&'static str, &'static str)],
}

const NEED: &str = "query($n: ID!) { need(id: $n) { employerId activities romeCodes conditions
    headcount neededWithin wouldHire } }";

#[derive(Deserialize)]
struct NeedAnswer {
    need: Option<NeedDescribed>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NeedDescribed {
    employer_id: String,
    activities: String,
    rome_codes: Vec<String>,
    conditions: Option<String>,
    headcount: i64,
    #[serde(rename = "neededWithin")]
    horizon: Code<passerelle_domain::need::Horizon>,
    #[serde(rename = "wouldHire")]
    hiring_intent: Code<passerelle_domain::need::HiringIntent>,
}

impl Page {
    /// The need's correction form; `form` holds what a refused correction
    /// was given, else the description as it reads.
    async fn correct_need_page(
        self,
        id: &str,
        status: StatusCode,
        form: Option<FormState>,
    ) -> Response {
        let out = self.run(NEED, json!({ "n": id })).await;
        let answer: NeedAnswer = read_or_return!(out);
        let Some(n) = answer.need else {
            return message(
                StatusCode::NOT_FOUND,
                "Introuvable",
                "Ce besoin n'existe pas ou ne vous est pas accessible.",
            );
        };
        let host = match self.employer_name(&n.employer_id).await {
            Ok(name) => name,
            Err(page) => return *page,
        };
        let form = form.unwrap_or_else(|| {
            let headcount = n.headcount.to_string();
            FormState::with(&[
                ("activities", &n.activities),
                ("rome_codes", &n.rome_codes.join(" ")),
                ("conditions", n.conditions.as_deref().unwrap_or_default()),
                ("headcount", &headcount),
                ("horizon", &n.horizon.name()),
                ("hiring_intent", &n.hiring_intent.name()),
            ])
        });
        let body = CorrectNeedTemplate {
            nav: self.nav(None),
            id: id.to_owned(),
            employer: host.unwrap_or_else(|| "l'employeur".to_owned()),
            form,
            horizons: &HORIZONS,
            intents: &INTENTS,
        }
        .render();
        self.render(status, body)
    }
}

/// A need's description corrected (`/needs/{id}/corriger`): the whole
/// description as it should read, from the one recorded, with why.
pub(crate) async fn need_form(page: Page, Path(id): Path<String>) -> Response {
    if page.viewer.user.is_none() {
        return page.sign_in_first();
    }
    page.correct_need_page(&id, StatusCode::OK, None).await
}

#[derive(Debug, Deserialize)]
pub(crate) struct CorrectNeedForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    activities: String,
    #[serde(default)]
    rome_codes: String,
    #[serde(default)]
    conditions: String,
    #[serde(default)]
    headcount: String,
    #[serde(default)]
    horizon: String,
    #[serde(default)]
    hiring_intent: String,
    #[serde(default)]
    reason: String,
}

pub(crate) async fn correct_need(
    page: Page,
    Path(id): Path<String>,
    Form(f): Form<CorrectNeedForm>,
) -> Response {
    if let Err(r) = page.checked(&f.csrf) {
        return *r;
    }
    let mut state = FormState::with(&[
        ("activities", &f.activities),
        ("rome_codes", &f.rome_codes),
        ("conditions", &f.conditions),
        ("headcount", &f.headcount),
        ("horizon", &f.horizon),
        ("hiring_intent", &f.hiring_intent),
        ("reason", &f.reason),
    ]);
    let headcount = f.headcount.trim().parse::<i64>().ok();
    if headcount.is_none() {
        state.errors.insert(
            "headcount".into(),
            "Indiquez un nombre de personnes, par exemple 2.".into(),
        );
    }
    state.offered(
        "horizon",
        &f.horizon,
        &HORIZONS,
        "Choisissez l'une des échéances de la liste.",
    );
    state.offered(
        "hiring_intent",
        &f.hiring_intent,
        &INTENTS,
        "Choisissez l'une des réponses proposées.",
    );
    let Some(headcount) = headcount.filter(|_| state.errors.is_empty()) else {
        return page
            .correct_need_page(&id, StatusCode::UNPROCESSABLE_ENTITY, Some(state))
            .await;
    };
    let out = page
        .run(
            "mutation($n: ID!, $d: NeedDescriptionInput!, $r: String!) {
                needCorrect(input: { needId: $n, description: $d, reason: $r }) { need { id } } }",
            json!({ "n": id, "r": f.reason, "d": {
                "activities": f.activities,
                "conditions": given(&f.conditions),
                "headcount": headcount,
                "horizon": f.horizon,
                "hiringIntent": f.hiring_intent,
                "romeCodes": f.rome_codes
                    .split(|c: char| c == ',' || c == ';' || c.is_whitespace())
                    .filter(|c| !c.is_empty())
                    .take(21)
                    .map(str::to_ascii_uppercase)
                    .collect::<Vec<_>>(),
            } }),
        )
        .await;
    if out.errors.is_empty() {
        return page.redirect(&format!("/needs/{id}?fait=correction-besoin"), Vec::new());
    }
    state.absorb(
        &out.errors,
        &[
            ("activities", "activities"),
            ("conditions", "conditions"),
            ("headcount", "headcount"),
            ("horizon", "horizon"),
            ("hiringIntent", "hiring_intent"),
            ("romeCodes", "rome_codes"),
            ("reason", "reason"),
        ],
    );
    page.correct_need_page(&id, StatusCode::UNPROCESSABLE_ENTITY, Some(state))
        .await
}
