//! The links in mails: `/acces/<token>` opens an employer's or a person's
//! space from a magic link, `/preferences/<token>` turns optional mails off
//! or on. Following a link only shows a page; the action takes a button
//! press (a form POST), so a mail scanner that fetches links uses nothing up.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use passerelle_notify::templates::escape;
use serde::Deserialize;

use crate::server::AppState;

/// A small French page: no script, nothing fetched from elsewhere.
fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"fr\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} – Passerelle</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:36rem;margin:2rem auto;\
         padding:0 1rem;line-height:1.5;color:#1e1e1e}}button{{font-size:1rem;padding:.75rem 1.25rem;\
         background:#000091;color:#fff;border:0;border-radius:4px}}button:focus{{outline:3px solid #0a76f6;\
         outline-offset:2px}}</style></head><body><main><h1>{title}</h1>{body}</main></body></html>",
        title = escape(title)
    );
    let mut response = (status, html).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    // The token is in the path: never send it on to another site.
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn form(action: &str, fields: &[(&str, &str)], button: &str) -> String {
    let hidden: String = fields
        .iter()
        .map(|(name, value)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                escape(name),
                escape(value)
            )
        })
        .collect();
    format!(
        "<form method=\"post\" action=\"{}\">{hidden}<button type=\"submit\">{}</button></form>",
        escape(action),
        escape(button)
    )
}

pub async fn access_page(Path(token): Path<String>) -> Response {
    page(
        StatusCode::OK,
        "Ouvrir votre espace",
        &format!(
            "<p>Ce lien ouvre votre espace Passerelle sur cet appareil. Il ne sert qu'une fois.</p>{}",
            form("/acces", &[("token", &token)], "Ouvrir mon espace")
        ),
    )
}

#[derive(Debug, Deserialize)]
pub struct AccessForm {
    token: String,
}

pub async fn access(State(state): State<AppState>, Form(input): Form<AccessForm>) -> Response {
    let Some(api) = state.api.get() else {
        return page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Service en cours de démarrage",
            "<p>Réessayez dans un instant.</p>",
        );
    };
    let gw = &api.gateway;
    let now = gw.handler.clock().now();
    match passerelle_accounts::redeem_magic_link(&state.pool, &input.token, now, gw.session_ttl)
        .await
    {
        Ok(Some((session, _))) => {
            let mut response = Redirect::to("/").into_response();
            let cookie = format!(
                "{}={}; Path=/; Max-Age={}; HttpOnly; Secure; SameSite=Lax",
                passerelle_graphql::SESSION_COOKIE,
                session.0,
                gw.session_ttl.whole_seconds()
            );
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                response.headers_mut().insert(header::SET_COOKIE, value);
            }
            response
        }
        Ok(None) => page(
            StatusCode::BAD_REQUEST,
            "Lien expiré",
            "<p>Ce lien n'est plus valable : il a déjà servi ou il a expiré. \
             Demandez-en un nouveau à votre médiateur ou depuis la page de connexion.</p>",
        ),
        Err(e) => {
            tracing::error!("magic link: {e}");
            page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Service indisponible",
                "<p>Votre lien n'a pas été utilisé : réessayez dans un instant.</p>",
            )
        }
    }
}

fn preferences_body(token: &str, muted: bool) -> String {
    let path = format!("/preferences/{token}");
    if muted {
        format!(
            "<p>Vous ne recevez plus les messages facultatifs (rappels, récapitulatifs). \
             Les messages nécessaires, comme les demandes de signature d'une convention, \
             continuent de vous parvenir.</p>{}",
            form(
                &path,
                &[("choix", "recevoir")],
                "Recevoir à nouveau ces messages"
            )
        )
    } else {
        format!(
            "<p>Vous recevez les messages facultatifs de Passerelle (rappels, récapitulatifs). \
             Les messages nécessaires, comme les demandes de signature d'une convention, \
             vous parviendront dans tous les cas.</p>{}",
            form(
                &path,
                &[("choix", "ne-plus-recevoir")],
                "Ne plus recevoir ces messages"
            )
        )
    }
}

fn unknown_link() -> Response {
    page(
        StatusCode::NOT_FOUND,
        "Lien inconnu",
        "<p>Ce lien ne correspond à aucun destinataire : utilisez celui du dernier message reçu.</p>",
    )
}

fn unavailable(e: sqlx::Error) -> Response {
    tracing::error!("preferences: {e}");
    page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Service indisponible",
        "<p>Rien n'a changé : réessayez dans un instant.</p>",
    )
}

pub async fn preferences_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Response {
    match passerelle_notify::preferences::state_of_link(&state.pool, &token).await {
        Ok(Some(muted)) => page(
            StatusCode::OK,
            "Vos messages",
            &preferences_body(&token, muted),
        ),
        Ok(None) => unknown_link(),
        Err(e) => unavailable(e),
    }
}

#[derive(Debug, Deserialize)]
pub struct PreferencesForm {
    choix: String,
}

pub async fn set_preferences(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Form(input): Form<PreferencesForm>,
) -> Response {
    let muted = match input.choix.as_str() {
        "ne-plus-recevoir" => true,
        "recevoir" => false,
        _ => {
            return page(
                StatusCode::BAD_REQUEST,
                "Choix inconnu",
                "<p>Choisissez « Ne plus recevoir ces messages » ou « Recevoir à nouveau ces messages ».</p>",
            );
        }
    };
    let now = time::OffsetDateTime::now_utc();
    match passerelle_notify::preferences::set_by_link(&state.pool, &token, muted, now).await {
        Ok(true) => page(
            StatusCode::OK,
            "C'est noté",
            &preferences_body(&token, muted),
        ),
        Ok(false) => unknown_link(),
        Err(e) => unavailable(e),
    }
}
