//! Signing in and out: the staff's password, the mailed link's request.

use askama::Template;
use axum::extract::Form;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use crate::home::HomeTemplate;
use crate::page::{FormState, Page};

/// The link request's address field, apart from the sign-in form's.
const LINK_EMAIL: &str = "lien-email";

#[derive(Debug, Deserialize)]
pub(crate) struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    /// The page asked for before signing in.
    #[serde(default)]
    suite: String,
}

pub(crate) async fn login(page: Page, Form(form): Form<LoginForm>) -> Response {
    if let Err(r) = page.checked(&form.csrf) {
        return *r;
    }
    let out = page
        .run(
            "mutation($e: String!, $p: String!) { login(input: { email: $e, password: $p }) { token } }",
            json!({ "e": form.email, "p": form.password }),
        )
        .await;
    let suite = crate::page::return_path(&form.suite);
    if out.errors.is_empty() {
        return page.redirect(suite.unwrap_or("/"), out.cookies);
    }
    let mut state = FormState::with(&[("email", &form.email)]);
    state.absorb(&out.errors, &[]);
    let nav = page.nav(None);
    let body = HomeTemplate {
        nav,
        form: state,
        link: FormState::default(),
        suite: suite.map(str::to_owned),
    }
    .render();
    page.render(StatusCode::UNAUTHORIZED, body)
}

#[derive(Debug, Deserialize)]
pub(crate) struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

pub(crate) async fn logout(page: Page, Form(form): Form<CsrfOnly>) -> Response {
    if let Err(r) = page.checked(&form.csrf) {
        return *r;
    }
    let out = page
        .run("mutation { logout { loggedOut } }", json!({}))
        .await;
    page.redirect("/", out.cookies)
}

#[derive(Debug, Deserialize)]
pub(crate) struct LinkForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    /// The page asked for before signing in, to come back to from the link.
    #[serde(default)]
    suite: String,
}

pub(crate) async fn link_request(page: Page, Form(form): Form<LinkForm>) -> Response {
    if let Err(r) = page.checked(&form.csrf) {
        return *r;
    }
    let out = page
        .run(
            "mutation($m: String!) { magicLinkRequest(input: { email: $m }) { sent } }",
            json!({ "m": form.email }),
        )
        .await;
    let suite = crate::page::return_path(&form.suite);
    // Refused (an address that is not one, too many requests): the home
    // page again, the address kept and the reason beside it.
    if let Some(e) = out.errors.first() {
        let status = out.refusal_status();
        let mut link = FormState::with(&[(LINK_EMAIL, &form.email)]);
        link.errors.insert(LINK_EMAIL.to_owned(), e.message.clone());
        let body = HomeTemplate {
            nav: page.nav(None),
            form: FormState::default(),
            link,
            suite: suite.map(str::to_owned),
        }
        .render();
        return page.render(status, body);
    }
    let kept = page.keep_for_link(suite);
    // The page saying it is sent keeps the way back in its forms: a link
    // asked again from it (the mail slow to come) keeps leading there.
    let to = match suite {
        Some(path) => crate::page::list_href("/", &[("fait", "lien-suite"), ("suite", path)]),
        None => "/?fait=lien".to_owned(),
    };
    page.redirect(&to, vec![kept])
}
