//! What a person learned about a job by doing, logged from their file: a
//! job inquiry (`/people/{id}/enquete`, `jobInquiryLog`: a ROME code, with
//! whom, what they learned) and a meeting with a peer
//! (`/people/{id}/rencontre`, `peerMeetingLog`: who the peer is without
//! naming them, the jobs talked about, what they take away). Both on the
//! day given, today when left out; the file lists them.

use askama::Template;
use axum::extract::{Form, Path};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use crate::answer::{PersonName, read_or_return};
use crate::page::{FormState, Nav, Page, given, message, parse_date};

/// Which of the two is logged.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encounter {
    Inquiry,
    Meeting,
}

impl Encounter {
    fn slug(self) -> &'static str {
        match self {
            Self::Inquiry => "enquete",
            Self::Meeting => "rencontre",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Self::Inquiry => "Noter une enquête métier",
            Self::Meeting => "Noter une rencontre avec un pair",
        }
    }

    fn section(self) -> &'static str {
        match self {
            Self::Inquiry => "enquetes",
            Self::Meeting => "pairs",
        }
    }
}

#[derive(Template)]
#[template(path = "encounter.html")]
struct EncounterTemplate {
    nav: Nav,
    id: String,
    name: String,
    inquiry: bool,
    slug: &'static str,
    title: &'static str,
    form: FormState,
}

#[derive(Deserialize)]
struct Answer {
    person: Option<PersonName>,
}

impl Page {
    async fn encounter_page(
        self,
        id: &str,
        kind: Encounter,
        status: StatusCode,
        form: FormState,
    ) -> Response {
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
        let body = EncounterTemplate {
            nav: self.nav(None),
            id: id.to_owned(),
            name: person.full(),
            inquiry: kind == Encounter::Inquiry,
            slug: kind.slug(),
            title: kind.title(),
            form,
        }
        .render();
        self.render(status, body)
    }
}

async fn form(page: Page, id: String, kind: Encounter) -> Response {
    if page.viewer.user.is_none() {
        return page.redirect("/", Vec::new());
    }
    let today = page.api.gateway.handler.clock().today().to_string();
    page.encounter_page(
        &id,
        kind,
        StatusCode::OK,
        FormState::with(&[("held_on", &today)]),
    )
    .await
}

pub(crate) async fn inquiry_form(page: Page, Path(id): Path<String>) -> Response {
    form(page, id, Encounter::Inquiry).await
}

pub(crate) async fn meeting_form(page: Page, Path(id): Path<String>) -> Response {
    form(page, id, Encounter::Meeting).await
}

#[derive(Debug, Deserialize)]
pub(crate) struct EncounterForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    held_on: String,
    /// The inquiry's job, or the jobs talked about with the peer.
    #[serde(default)]
    rome: String,
    #[serde(default)]
    with_whom: String,
    #[serde(default)]
    peer: String,
    /// What the person learned, or takes away.
    #[serde(default)]
    learned: String,
}

async fn log(page: Page, id: String, kind: Encounter, f: EncounterForm) -> Response {
    if let Err(r) = page.checked(&f.csrf) {
        return *r;
    }
    let mut state = FormState::with(&[
        ("held_on", &f.held_on),
        ("rome", &f.rome),
        ("with_whom", &f.with_whom),
        ("peer", &f.peer),
        ("learned", &f.learned),
    ]);
    let held_on = match given(&f.held_on) {
        None => None,
        Some(typed) => match parse_date(typed) {
            Some(day) => Some(day.to_string()),
            None => {
                state.errors.insert(
                    "held_on".into(),
                    "Indiquez la date (jour, mois, année), ou laissez vide pour aujourd'hui."
                        .into(),
                );
                return page
                    .encounter_page(&id, kind, StatusCode::UNPROCESSABLE_ENTITY, state)
                    .await;
            }
        },
    };
    let codes = crate::page::typed_rome_codes(&f.rome);
    let out = match kind {
        Encounter::Inquiry => {
            page.run(
                "mutation($p: ID!, $d: Date, $r: String!, $w: String!, $l: String) {
                    jobInquiryLog(input: { personId: $p, heldOn: $d, romeCode: $r,
                        withWhom: $w, learned: $l }) { inquiryId } }",
                json!({ "p": id, "d": held_on, "r": f.rome.trim().to_uppercase(),
                    "w": f.with_whom, "l": given(&f.learned) }),
            )
            .await
        }
        Encounter::Meeting => {
            page.run(
                "mutation($p: ID!, $d: Date, $r: [String!]!, $w: String!, $l: String) {
                    peerMeetingLog(input: { personId: $p, heldOn: $d, romeCodes: $r,
                        peer: $w, takeaways: $l }) { meetingId } }",
                json!({ "p": id, "d": held_on, "r": codes, "w": f.peer,
                    "l": given(&f.learned) }),
            )
            .await
        }
    };
    if out.errors.is_empty() {
        return page.redirect(&format!("/people/{id}#{}", kind.section()), Vec::new());
    }
    state.absorb(
        &out.errors,
        &[
            ("heldOn", "held_on"),
            ("romeCode", "rome"),
            ("romeCodes", "rome"),
            ("withWhom", "with_whom"),
            ("peer", "peer"),
            ("learned", "learned"),
            ("takeaways", "learned"),
        ],
    );
    page.encounter_page(&id, kind, StatusCode::UNPROCESSABLE_ENTITY, state)
        .await
}

pub(crate) async fn inquiry_log(
    page: Page,
    Path(id): Path<String>,
    Form(f): Form<EncounterForm>,
) -> Response {
    log(page, id, Encounter::Inquiry, f).await
}

pub(crate) async fn meeting_log(
    page: Page,
    Path(id): Path<String>,
    Form(f): Form<EncounterForm>,
) -> Response {
    log(page, id, Encounter::Meeting, f).await
}
