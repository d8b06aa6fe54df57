//! A person's disability recognition (RQTH, `/people/{id}/complements`): what
//! was last recorded, and for her referent, a manager or an admin of her
//! structure (`mayRecordDisabilityRecognition`), the form that records it
//! (`disabilityRecognitionRecord`). Health data: the domain records it
//! only with her consent to it, and says so when it is missing.
//!
//! Its address, and the notice's code after it, name no health purpose
//! (`complements`, `fait=complement`): a proxy's log of addresses must not
//! tie a person to a disability, as the consents' numbered purposes do
//! not. The section's fragment (`#handicap`) never leaves the browser.

use askama::Template;
use axum::extract::{Form, Path};
use axum::http::StatusCode;
use axum::response::Response;
use passerelle_domain::fr::Labelled as _;
use passerelle_domain::person::ConsentPurpose;
use serde::Deserialize;
use serde_json::json;

use crate::answer::{Day, PersonName, person_not_found, read_or_return};
use crate::page::{BAD_DAY, FormState, Nav, Page, typed_day};

#[derive(Template)]
#[template(path = "disability.html")]
struct DisabilityTemplate {
    nav: Nav,
    id: String,
    name: String,
    /// What was last recorded, in words; none when nothing was.
    recorded: Option<String>,
    may_record: bool,
    /// The consent it asks for, as her consents' page names it.
    consent: &'static str,
    form: FormState,
}

/// The recognition as last recorded, as the API gives it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Recognition {
    recognised: Option<bool>,
    recorded_on: Day,
}

impl Recognition {
    /// In words, as her file and this page say it.
    pub(crate) fn said(&self) -> String {
        let what = match self.recognised {
            Some(true) => "Reconnaissance (RQTH) en cours de validité",
            Some(false) => "Pas de reconnaissance (RQTH)",
            // Erased with her personal data: the day alone would say nothing.
            None => return "(effacé)".to_owned(),
        };
        format!("{what} au {}", self.recorded_on.french())
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Person {
    #[serde(flatten)]
    name: PersonName,
    may_record_disability_recognition: bool,
    disability_recognition: Option<Recognition>,
}

#[derive(Deserialize)]
struct Answer {
    person: Option<Person>,
}

impl Page {
    async fn disability_page(self, id: &str, status: StatusCode, form: FormState) -> Response {
        let out = self
            .run(
                "query($p: ID!) { person(id: $p) { firstName lastName
                    mayRecordDisabilityRecognition
                    disabilityRecognition { recognised recordedOn } } }",
                json!({ "p": id }),
            )
            .await;
        let answer: Answer = read_or_return!(out);
        let Some(person) = answer.person else {
            return person_not_found();
        };
        let body = DisabilityTemplate {
            nav: self.nav(None),
            id: id.to_owned(),
            name: person.name.full(),
            recorded: person
                .disability_recognition
                .as_ref()
                .map(Recognition::said),
            may_record: person.may_record_disability_recognition,
            consent: ConsentPurpose::DisabilityRecognition.french(),
            form,
        }
        .render();
        self.render(status, body)
    }
}

pub(crate) async fn page(page: Page, Path(id): Path<String>) -> Response {
    if page.viewer.user.is_none() {
        return page.sign_in_first();
    }
    let today = page.api.gateway.handler.clock().today().to_string();
    let form = FormState::with(&[("le", &today)]);
    page.disability_page(&id, StatusCode::OK, form).await
}

#[derive(Debug, Deserialize)]
pub(crate) struct RecordForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reconnue: String,
    #[serde(default)]
    le: String,
}

pub(crate) async fn record(
    page: Page,
    Path(id): Path<String>,
    Form(f): Form<RecordForm>,
) -> Response {
    if let Err(r) = page.checked(&f.csrf) {
        return *r;
    }
    if page.viewer.user.is_none() {
        return page.sign_in_first();
    }
    let mut state = FormState::with(&[("reconnue", &f.reconnue), ("le", &f.le)]);
    let recognised = match f.reconnue.as_str() {
        "oui" => Some(true),
        "non" => Some(false),
        _ => {
            state.errors.insert(
                "reconnue".into(),
                "Dites si elle a une reconnaissance en cours de validité.".into(),
            );
            None
        }
    };
    let recorded_on = typed_day(&f.le).unwrap_or_else(|()| {
        state.errors.insert("le".into(), BAD_DAY.into());
        None
    });
    let Some(recognised) = recognised.filter(|_| state.errors.is_empty()) else {
        return page
            .disability_page(&id, StatusCode::UNPROCESSABLE_ENTITY, state)
            .await;
    };
    let out = page
        .run(
            "mutation($p: ID!, $r: Boolean!, $d: Date) {
                disabilityRecognitionRecord(input: { personId: $p, recognised: $r,
                    recordedOn: $d }) { person { id } } }",
            json!({ "p": id, "r": recognised, "d": recorded_on }),
        )
        .await;
    if out.errors.is_empty() {
        return page.redirect(
            &format!("/people/{id}?fait=complement#handicap"),
            out.cookies,
        );
    }
    // Her consent missing is said above the form: no field of it is wrong.
    state.absorb(&out.errors, &[("recordedOn", "le")]);
    page.disability_page(&id, out.refusal_status(), state).await
}
