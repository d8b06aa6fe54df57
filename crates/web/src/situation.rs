//! The person's situation in her own words, recorded by staff from her
//! file (`/people/{id}/situation`, `situationState`): a text as long as
//! the API takes, prefilled with the one last stated, on the day given.
//! Her file shows it with when and by whom it was noted, and her own space
//! shows it to her.

use askama::Template;
use axum::extract::{Form, Path};
use axum::http::StatusCode;
use axum::response::Response;
use passerelle_domain::values::Text;
use serde::Deserialize;
use serde_json::json;

use crate::answer::{Day, PersonName, person_not_found, read_or_return};
use crate::page::{BAD_DAY, FormState, Nav, Page, typed_day};

/// Longest situation the form sends on: the API's bound on a text.
const WORDS_MAX: usize = Text::MAX_CHARS;

#[derive(Template)]
#[template(path = "situation.html")]
struct SituationTemplate {
    nav: Nav,
    id: String,
    name: String,
    /// When it was last stated, if it was.
    stated_on: Option<String>,
    words_max: usize,
    form: FormState,
}

/// Her situation as the API gives it: her words, null once erased, and who
/// noted them when the page asks (her file does).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Situation {
    pub stated_on: Day,
    pub words: Option<String>,
    #[serde(default)]
    pub recorded: Option<Recorded>,
}

impl Situation {
    /// Her words, or that they were erased.
    pub(crate) fn said(&self) -> String {
        self.words
            .clone()
            .unwrap_or_else(|| passerelle_domain::fr::ERASED_SITUATION.to_owned())
    }
}

#[derive(Deserialize)]
struct Answer {
    person: Option<Stated>,
}

#[derive(Deserialize)]
struct Stated {
    #[serde(flatten)]
    name: PersonName,
    situation: Option<Situation>,
}

impl Page {
    /// The form, prefilled with her words as last stated when `form` is
    /// none.
    async fn situation_page(
        self,
        id: &str,
        status: StatusCode,
        form: Option<FormState>,
    ) -> Response {
        let out = self
            .run(
                "query($p: ID!) { person(id: $p) { firstName lastName
                    situation { statedOn words } } }",
                json!({ "p": id }),
            )
            .await;
        let answer: Answer = read_or_return!(out);
        let Some(person) = answer.person else {
            return person_not_found();
        };
        let form = form.unwrap_or_else(|| {
            let today = self.api.gateway.handler.clock().today().to_string();
            let words = person
                .situation
                .as_ref()
                .and_then(|s| s.words.as_deref())
                .unwrap_or_default();
            FormState::with(&[("words", words), ("stated_on", &today)])
        });
        let body = SituationTemplate {
            nav: self.nav(None),
            id: id.to_owned(),
            name: person.name.full(),
            stated_on: person.situation.map(|s| s.stated_on.french()),
            words_max: WORDS_MAX,
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
    page.situation_page(&id, StatusCode::OK, None).await
}

#[derive(Debug, Deserialize)]
pub(crate) struct SituationForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    words: String,
    #[serde(default)]
    stated_on: String,
}

pub(crate) async fn state(
    page: Page,
    Path(id): Path<String>,
    Form(f): Form<SituationForm>,
) -> Response {
    if page.viewer.user.is_none() {
        return page.sign_in_first();
    }
    if let Err(r) = page.checked(&f.csrf) {
        return *r;
    }
    let mut state = FormState::with(&[("words", &f.words), ("stated_on", &f.stated_on)]);
    let stated_on = typed_day(&f.stated_on).unwrap_or_else(|()| {
        state.errors.insert("stated_on".into(), BAD_DAY.into());
        None
    });
    if f.words.trim().is_empty() {
        state.errors.insert(
            "words".into(),
            "Écrivez sa situation, comme elle ou il la dit.".into(),
        );
    } else if f.words.chars().count() > WORDS_MAX {
        state.errors.insert(
            "words".into(),
            format!("Dites-la en {WORDS_MAX} caractères au plus."),
        );
    }
    if !state.errors.is_empty() {
        return page
            .situation_page(&id, StatusCode::UNPROCESSABLE_ENTITY, Some(state))
            .await;
    }
    let out = page
        .run(
            "mutation($p: ID!, $w: String!, $d: Date) {
                situationState(input: { personId: $p, words: $w, statedOn: $d }) {
                    person { id } } }",
            json!({ "p": id, "w": f.words, "d": stated_on }),
        )
        .await;
    if out.errors.is_empty() {
        return page.redirect(
            &format!("/people/{id}?fait=situation#situation"),
            Vec::new(),
        );
    }
    state.absorb(
        &out.errors,
        &[("words", "words"), ("statedOn", "stated_on")],
    );
    page.situation_page(&id, StatusCode::UNPROCESSABLE_ENTITY, Some(state))
        .await
}

/// Who recorded a fact, as the API gives it.
#[derive(Default, Deserialize)]
pub(crate) struct Recorded {
    /// `user:<id>` for staff, `person:<id>` for the person herself.
    pub by: String,
}

impl Recorded {
    /// Who noted it, for the viewer whose user id is `me`, as the end of
    /// « notée par … ».
    pub(crate) fn by_whom(&self, me: Option<&str>) -> &'static str {
        match self.by.split_once(':') {
            Some(("user", id)) if Some(id) == me => "vous",
            Some(("person", _)) => "elle ou lui, depuis son espace",
            _ => "un membre de l'équipe",
        }
    }
}
