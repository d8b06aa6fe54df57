//! The employer portal's need form.

use askama::Template;
use axum::extract::Form;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use crate::home::own_employer;
use crate::labels::{HORIZONS, INTENTS};
use crate::page::{FormState, Nav, Page, message};

#[derive(Template)]
#[template(path = "need_form.html")]
struct NeedTemplate {
    nav: Nav,
    form: FormState,
    horizons: &'static [(&'static str, &'static str)],
    intents: &'static [(&'static str, &'static str)],
}

pub(crate) async fn need_form(page: Page) -> Response {
    if own_employer(&page.viewer).is_none() {
        return message(
            StatusCode::FORBIDDEN,
            "Espace employeur",
            "Ouvrez le lien reçu par e-mail pour décrire un besoin.",
        );
    }
    let body = NeedTemplate {
        nav: page.nav(None),
        form: FormState::default(),
        horizons: &HORIZONS,
        intents: &INTENTS,
    }
    .render();
    page.render(StatusCode::OK, body)
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
    if let Err(r) = page.checked(&form.csrf) {
        return *r;
    }
    let Some(employer) = own_employer(&page.viewer) else {
        return message(
            StatusCode::FORBIDDEN,
            "Espace employeur",
            "Ouvrez le lien reçu par e-mail pour décrire un besoin.",
        );
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
    let Some(headcount) = headcount else {
        state.errors.insert(
            "headcount".into(),
            "Indiquez un nombre de personnes entre 1 et 50.".into(),
        );
        return need_again(page, state);
    };
    let out = page
        .run(
            "mutation($e: ID!, $d: NeedDescriptionInput!) {
                needSurface(input: { employerId: $e, source: { kind: PORTAL }, description: $d }) { need { id } }
            }",
            json!({
                "e": employer,
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
        return page.redirect("/?fait=besoin", Vec::new());
    }
    state.absorb(
        &out.errors,
        &[
            ("activities", "activities"),
            ("conditions", "conditions"),
            ("headcount", "headcount"),
        ],
    );
    need_again(page, state)
}

fn need_again(page: Page, form: FormState) -> Response {
    let body = NeedTemplate {
        nav: page.nav(None),
        form,
        horizons: &HORIZONS,
        intents: &INTENTS,
    }
    .render();
    page.render(StatusCode::UNPROCESSABLE_ENTITY, body)
}
