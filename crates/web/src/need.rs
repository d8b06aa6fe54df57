//! The need form: an employer's own, from its portal, and a mediator's, for
//! a need heard during a visit (`/employers/{id}/visites/{visit}/besoin`)
//! or on the phone (`/employers/{id}/besoin`). One form, one mutation; only
//! the need's source and where it goes differ.

use askama::Template;
use axum::extract::{Form, Path};
use axum::http::StatusCode;
use axum::response::Response;
use passerelle_domain::values::Text;
use serde::Deserialize;
use serde_json::json;

use crate::answer::read_or_return;
use crate::home::own_employer;
use crate::labels::{HORIZONS, INTENTS, offers};
use crate::page::{FormState, Nav, Page, message};

#[derive(Template)]
#[template(path = "need_form.html")]
struct NeedTemplate {
    nav: Nav,
    form: FormState,
    /// Where the form posts, and whose words it asks for.
    action: String,
    title: &'static str,
    /// Noted by staff (a visit, a call), not the employer's own words.
    heard_by_staff: bool,
    horizons: &'static [(&'static str, &'static str)],
    intents: &'static [(&'static str, &'static str)],
}

pub(crate) async fn need_form(page: Page) -> Response {
    if page.viewer.user.is_none() && page.viewer.principal.is_none() {
        return page.sign_in_first();
    }
    if own_employer(&page.viewer).is_none() {
        return message(
            StatusCode::FORBIDDEN,
            "Espace employeur",
            "Ouvrez le lien reçu par e-mail pour décrire un besoin.",
        );
    }
    need_page(page, StatusCode::OK, FormState::default(), Heard::Portal)
}

/// Where a need comes from, as the form knows it.
enum Heard {
    /// The employer's own words, from its portal.
    Portal,
    /// Heard by a mediator during this visit to this establishment.
    Visit { employer: String, visit: String },
    /// Heard by a mediator on the phone with this establishment.
    Phone { employer: String },
}

impl Heard {
    fn action(&self) -> String {
        match self {
            Heard::Portal => "/portail/besoin".to_owned(),
            Heard::Visit { employer, visit } => {
                format!("/employers/{employer}/visites/{visit}/besoin")
            }
            Heard::Phone { employer } => format!("/employers/{employer}/besoin"),
        }
    }

    fn title(&self) -> &'static str {
        match self {
            Heard::Portal => "Décrire un besoin",
            Heard::Visit { .. } => "Noter un besoin repéré pendant la visite",
            Heard::Phone { .. } => "Noter un besoin entendu au téléphone",
        }
    }
}

/// A mediator's form for a need heard on the phone.
pub(crate) async fn phone_need_form(page: Page, Path(employer): Path<String>) -> Response {
    if page.viewer.user.is_none() {
        return page.sign_in_first();
    }
    need_page(
        page,
        StatusCode::OK,
        FormState::default(),
        Heard::Phone { employer },
    )
}

pub(crate) async fn phone_need_submit(
    page: Page,
    Path(employer): Path<String>,
    Form(form): Form<NeedForm>,
) -> Response {
    if page.viewer.user.is_none() {
        return page.sign_in_first();
    }
    surface(page, form, Heard::Phone { employer }).await
}

/// A mediator's form for a need heard during a visit.
pub(crate) async fn visit_need_form(
    page: Page,
    Path((employer, visit)): Path<(String, String)>,
) -> Response {
    if page.viewer.user.is_none() {
        return page.sign_in_first();
    }
    need_page(
        page,
        StatusCode::OK,
        FormState::default(),
        Heard::Visit { employer, visit },
    )
}

pub(crate) async fn visit_need_submit(
    page: Page,
    Path((employer, visit)): Path<(String, String)>,
    Form(form): Form<NeedForm>,
) -> Response {
    if page.viewer.user.is_none() {
        return page.sign_in_first();
    }
    surface(page, form, Heard::Visit { employer, visit }).await
}

#[derive(Debug, Deserialize)]
pub(crate) struct NeedForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    activities: String,
    #[serde(default)]
    horizon: String,
    #[serde(default)]
    conditions: String,
    #[serde(default)]
    headcount: String,
    #[serde(default)]
    hiring_intent: String,
}

pub(crate) async fn need_submit(page: Page, Form(form): Form<NeedForm>) -> Response {
    if own_employer(&page.viewer).is_none() {
        return message(
            StatusCode::FORBIDDEN,
            "Espace employeur",
            "Ouvrez le lien reçu par e-mail pour décrire un besoin.",
        );
    }
    surface(page, form, Heard::Portal).await
}

async fn surface(page: Page, form: NeedForm, heard: Heard) -> Response {
    if let Err(r) = page.checked(&form.csrf) {
        return *r;
    }
    let employer = match &heard {
        Heard::Portal => own_employer(&page.viewer).unwrap_or_default(),
        Heard::Visit { employer, .. } | Heard::Phone { employer } => employer.clone(),
    };
    let source = match &heard {
        Heard::Portal => json!({ "kind": "PORTAL" }),
        Heard::Visit { visit, .. } => json!({ "kind": "VISIT", "visitId": visit }),
        Heard::Phone { .. } => json!({ "kind": "PHONE" }),
    };
    let mut state = FormState::with(&[
        ("activities", &form.activities),
        ("horizon", &form.horizon),
        ("conditions", &form.conditions),
        ("headcount", &form.headcount),
        ("hiring_intent", &form.hiring_intent),
    ]);
    let headcount = form
        .headcount
        .trim()
        .parse::<i32>()
        .ok()
        .filter(|n| (1..=50).contains(n));
    if headcount.is_none() {
        state.errors.insert(
            "headcount".into(),
            "Indiquez un nombre de personnes entre 1 et 50.".into(),
        );
    }
    if !offers(&HORIZONS, &form.horizon) {
        state.errors.insert(
            "horizon".into(),
            "Choisissez l'une des échéances de la liste.".into(),
        );
    }
    if !offers(&INTENTS, &form.hiring_intent) {
        state.errors.insert(
            "hiring_intent".into(),
            "Choisissez l'une des réponses proposées.".into(),
        );
    }
    // The words too, by the rules the API applies to them, so that a form
    // refused for a list or the headcount names every field to mend at once.
    for (field, words, optional) in [
        ("activities", &form.activities, false),
        ("conditions", &form.conditions, true),
    ] {
        if optional && words.trim().is_empty() {
            continue;
        }
        if let Err(e) = Text::parse(words) {
            state.errors.insert(field.into(), e.message);
        }
    }
    let Some(headcount) = headcount.filter(|_| state.errors.is_empty()) else {
        return need_page(page, StatusCode::UNPROCESSABLE_ENTITY, state, heard);
    };
    let out = page
        .run(
            "mutation($e: ID!, $s: NeedSourceInput!, $d: NeedDescriptionInput!) {
                needSurface(input: { employerId: $e, source: $s, description: $d }) { need { id } }
            }",
            json!({
                "e": employer,
                "s": source,
                "d": {
                    "activities": form.activities,
                    "conditions": (!form.conditions.trim().is_empty()).then_some(&form.conditions),
                    "headcount": headcount,
                    "horizon": form.horizon,
                    "hiringIntent": form.hiring_intent,
                },
            }),
        )
        .await;
    if out.errors.is_empty() {
        return match heard {
            Heard::Portal => page.redirect("/?fait=besoin", Vec::new()),
            Heard::Visit { .. } | Heard::Phone { .. } => {
                #[derive(Deserialize)]
                #[serde(rename_all = "camelCase")]
                struct Answer {
                    need_surface: Surfaced,
                }
                #[derive(Deserialize)]
                struct Surfaced {
                    need: Id,
                }
                #[derive(Deserialize)]
                struct Id {
                    id: String,
                }
                let answer: Answer = read_or_return!(out);
                let to = format!("/needs/{}?fait=besoin-repere", answer.need_surface.need.id);
                page.redirect(&to, Vec::new())
            }
        };
    }
    state.absorb(
        &out.errors,
        &[
            ("activities", "activities"),
            ("conditions", "conditions"),
            ("headcount", "headcount"),
        ],
    );
    need_page(page, StatusCode::UNPROCESSABLE_ENTITY, state, heard)
}

fn need_page(page: Page, status: StatusCode, form: FormState, heard: Heard) -> Response {
    let body = NeedTemplate {
        nav: page.nav(None),
        form,
        action: heard.action(),
        title: heard.title(),
        heard_by_staff: !matches!(heard, Heard::Portal),
        horizons: &HORIZONS,
        intents: &INTENTS,
    }
    .render();
    page.render(status, body)
}
