//! A person's data, as a printable French page and as the JSON document
//! (`/people/{id}/donnees` and `/people/{id}/donnees.json`): what is kept
//! about them and why, their path fact by fact, the mails sent, and who
//! read their health data. For the staff of their structure and for the
//! person themself from their own session; the API decides who reaches it.

use askama::Template;
use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::answer::{Day, PersonName};
use crate::page::{Nav, Page, message};

#[derive(Template)]
#[template(path = "data_export.html")]
struct DataExportTemplate {
    nav: Nav,
    id: String,
    name: String,
    generated_on: String,
    /// When, what, recorded by whom.
    facts: Vec<(String, String, &'static str)>,
    /// When, what, to whom, where it stands.
    mails: Vec<(String, String, &'static str, &'static str)>,
    /// When, who, through what.
    health_reads: Vec<(String, &'static str, &'static str)>,
    /// Facts left out because they hold health data.
    withheld: u64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Answer {
    person_data_export: Option<Export>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Export {
    generated_at: Day,
    document: Value,
}

/// Who recorded a fact or read the data, by the role they acted in.
fn role_label(role: &str) -> &'static str {
    match role {
        "mediator" => "un médiateur",
        "manager" => "un responsable",
        "admin" => "un administrateur",
        "person" => "la personne",
        "employer" => "l'entreprise",
        _ => "le service",
    }
}

/// To whom a mail went, by their role.
fn recipient_label(recipient: &str) -> &'static str {
    match recipient {
        "person" => "la personne",
        "staff" => "l'équipe",
        "employer" => "l'entreprise",
        _ => "un signataire de la convention",
    }
}

/// Where a mail stands.
fn state_label(state: &str) -> &'static str {
    match state.to_ascii_lowercase().as_str() {
        "sent" => "envoyé",
        "queued" | "sending" => "en cours d'envoi",
        "failed" => "échec de l'envoi",
        _ => "non envoyé",
    }
}

/// How the health data was read.
fn through_label(through: &str) -> &'static str {
    match through {
        "data_export" => "par un export de vos données",
        _ => "en consultant votre fiche",
    }
}

fn text<'a>(value: &'a Value, key: &str) -> &'a str {
    value.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// The day of an instant the document gives, in French.
fn day(value: &Value, key: &str) -> String {
    serde_json::from_value::<Day>(value.get(key).cloned().unwrap_or(Value::Null))
        .map(Day::french)
        .unwrap_or_default()
}

impl Page {
    /// The export, or the page to answer instead: a French 404 when the
    /// person is out of reach.
    async fn export(&self, id: &str) -> Result<Export, Box<Response>> {
        let out = self
            .run(
                "query($p: ID!) { personDataExport(personId: $p) { format generatedAt document } }",
                json!({ "p": id }),
            )
            .await;
        // The field is not nullable: out of reach, the whole answer is null.
        let answer: Option<Answer> = out.read()?;
        answer.and_then(|a| a.person_data_export).ok_or_else(|| {
            Box::new(message(
                StatusCode::NOT_FOUND,
                "Introuvable",
                "Cette personne n'existe pas ou ses données ne vous sont pas accessibles.",
            ))
        })
    }
}

pub(crate) async fn page(page: Page, Path(id): Path<String>) -> Response {
    if page.viewer.user.is_none() && page.viewer.principal.is_none() {
        return page.sign_in_first();
    }
    let export = match page.export(&id).await {
        Ok(e) => e,
        Err(r) => return *r,
    };
    let doc = &export.document;
    let person: PersonName =
        serde_json::from_value(doc.get("person").cloned().unwrap_or(Value::Null))
            .unwrap_or_default();
    let list = |key: &str| {
        doc.get(key)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let facts = list("facts")
        .iter()
        .map(|f| {
            (
                day(f, "recordedAt"),
                text(f, "label").to_owned(),
                role_label(text(f, "role")),
            )
        })
        .collect();
    let mails = list("mails")
        .iter()
        .map(|m| {
            let when = match day(m, "sentAt") {
                sent if !sent.is_empty() => sent,
                _ => day(m, "createdAt"),
            };
            (
                when,
                text(m, "label").to_owned(),
                recipient_label(text(m, "recipient")),
                state_label(text(m, "state")),
            )
        })
        .collect();
    let health_reads = list("healthDataReads")
        .iter()
        .map(|r| {
            (
                day(r, "readAt"),
                role_label(text(r, "readerRole")),
                through_label(text(r, "through")),
            )
        })
        .collect();
    let body = DataExportTemplate {
        nav: page.nav(None),
        id: id.clone(),
        name: person.full(),
        generated_on: export.generated_at.french(),
        facts,
        mails,
        health_reads,
        withheld: doc
            .get("healthFactsWithheld")
            .and_then(Value::as_u64)
            .unwrap_or(0),
    }
    .render();
    page.render(StatusCode::OK, body)
}

/// The document as a file to save; its name does not name the person.
pub(crate) async fn download(page: Page, Path(id): Path<String>) -> Response {
    if page.viewer.user.is_none() && page.viewer.principal.is_none() {
        return page.sign_in_first();
    }
    let export = match page.export(&id).await {
        Ok(e) => e,
        Err(r) => return *r,
    };
    let body = serde_json::to_string_pretty(&export.document).unwrap_or_default();
    (
        [
            (
                header::CONTENT_TYPE,
                "application/json; charset=utf-8".to_owned(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"donnees-{id}.json\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        body,
    )
        .into_response()
}
