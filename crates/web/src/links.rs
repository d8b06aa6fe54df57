//! The links in mails: `/acces/<token>` opens an employer's or a person's
//! space from a magic link, `/preferences/<token>` turns optional mails off
//! or on. Following a link only shows a page; the action takes a button
//! press (a form POST), so a mail scanner that fetches links uses nothing
//! up. The token is the authority, passed to the gateway's operations.

use askama::Template;
use axum::extract::{Form, Path};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use crate::answer::read_or_return;
use crate::page::{MessageTemplate, Nav, Page, message};

#[derive(Template)]
#[template(path = "access.html")]
struct AccessTemplate {
    nav: Nav,
    token: String,
}

/// The token is in the path: never send it on to another site.
fn no_referrer(mut response: Response) -> Response {
    response.headers_mut().insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

pub(crate) async fn access_page(page: Page, Path(token): Path<String>) -> Response {
    let body = AccessTemplate {
        nav: page.nav(None),
        token,
    }
    .render();
    no_referrer(page.render(StatusCode::OK, body))
}

#[derive(Debug, Deserialize)]
pub(crate) struct AccessForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    token: String,
}

pub(crate) async fn access(page: Page, Form(form): Form<AccessForm>) -> Response {
    if let Err(r) = page.checked(&form.csrf) {
        return *r;
    }
    let out = page
        .run(
            "mutation($t: String!) { magicLinkRedeem(input: { token: $t }) { kind } }",
            json!({ "t": form.token }),
        )
        .await;
    if out.errors.is_empty() {
        // Back to the page asked for before the link was requested, in
        // this browser; the way back is used once.
        let mut cookies = out.cookies;
        let to = match page.mailed_return() {
            Some(path) => {
                cookies.push(page.keep_for_link(None));
                path.to_owned()
            }
            None => "/".to_owned(),
        };
        return page.redirect(&to, cookies);
    }
    let body = MessageTemplate {
        nav: page.nav(None),
        title: "Lien expiré",
        message: "Ce lien n'est plus valable : il a déjà servi ou il a expiré. \
                  Demandez-en un nouveau depuis la page d'accueil.",
    }
    .render();
    page.render(StatusCode::BAD_REQUEST, body)
}

#[derive(Template)]
#[template(path = "preferences.html")]
struct PreferencesTemplate {
    nav: Nav,
    token: String,
    muted: bool,
}

fn unknown_link() -> Response {
    message(
        StatusCode::NOT_FOUND,
        "Lien inconnu",
        "Ce lien ne correspond à aucun destinataire : utilisez celui du dernier message reçu.",
    )
}

pub(crate) async fn preferences_page(page: Page, Path(token): Path<String>) -> Response {
    let out = page
        .run(
            "query($t: String!) { notificationPreferences(token: $t) }",
            json!({ "t": token }),
        )
        .await;
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Answer {
        /// Null for a token no recipient has.
        notification_preferences: Option<bool>,
    }
    let answer: Answer = read_or_return!(out);
    let Some(muted) = answer.notification_preferences else {
        return unknown_link();
    };
    let body = PreferencesTemplate {
        nav: page.nav(None),
        token,
        muted,
    }
    .render();
    no_referrer(page.render(StatusCode::OK, body))
}

#[derive(Debug, Deserialize)]
pub(crate) struct PreferencesForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    choix: String,
}

pub(crate) async fn set_preferences(
    page: Page,
    Path(token): Path<String>,
    Form(form): Form<PreferencesForm>,
) -> Response {
    if let Err(r) = page.checked(&form.csrf) {
        return *r;
    }
    let muted = match form.choix.as_str() {
        "ne-plus-recevoir" => true,
        "recevoir" => false,
        _ => {
            return message(
                StatusCode::BAD_REQUEST,
                "Choix inconnu",
                "Choisissez « Ne plus recevoir ces messages » ou « Recevoir à nouveau ces messages ».",
            );
        }
    };
    let out = page
        .run(
            "mutation($t: String!, $m: Boolean!) {
                notificationPreferencesSet(input: { token: $t, muted: $m }) { muted }
            }",
            json!({ "t": token, "m": muted }),
        )
        .await;
    if !out.errors.is_empty() {
        return unknown_link();
    }
    let body = PreferencesTemplate {
        nav: page.nav(Some("C'est noté.".into())),
        token,
        muted,
    }
    .render();
    no_referrer(page.render(StatusCode::OK, body))
}
