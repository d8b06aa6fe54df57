//! Erasing a person's data from their file (`/people/{id}/effacer`): what
//! the erasure does, its reason, an explicit confirmation (a box ticked and
//! a word typed that names no one), then `personErase`. Offered and
//! answered to whom the policy lets erase (the API's `mayErase`): a
//! manager or an admin of the person's structure.

use askama::Template;
use axum::extract::{Form, Path};
use axum::http::StatusCode;
use axum::response::Response;
use passerelle_domain::fr::Labelled;
use passerelle_domain::person::ErasureReason;
use serde::Deserialize;
use serde_json::json;

use crate::answer::{PersonName, read_or_return};
use crate::page::{FormState, Nav, Page, given, message};

/// What the confirmation field must hold: a word, not the person's name,
/// so the form asks nothing personal.
const CONFIRMATION: &str = "EFFACER";

#[derive(Template)]
#[template(path = "erase.html")]
struct EraseTemplate {
    nav: Nav,
    id: String,
    name: String,
    /// Each reason as the API names it, with its French label.
    reasons: Vec<(String, &'static str)>,
    form: FormState,
}

#[derive(Deserialize)]
struct Answer {
    person: Option<Erasable>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Erasable {
    #[serde(flatten)]
    name: PersonName,
    may_erase: bool,
}

impl Page {
    async fn erase_page(self, id: &str, status: StatusCode, form: FormState) -> Response {
        let out = self
            .run(
                "query($p: ID!) { person(id: $p) { firstName lastName mayErase } }",
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
        if !person.may_erase {
            return message(
                StatusCode::FORBIDDEN,
                "Effacement impossible",
                "Seuls un responsable ou un administrateur de la structure effacent les données d'une personne, et une seule fois.",
            );
        }
        let body = EraseTemplate {
            nav: self.nav(None),
            id: id.to_owned(),
            name: person.name.full(),
            reasons: ErasureReason::ALL
                .iter()
                .map(|r| (r.code().to_uppercase(), r.french()))
                .collect(),
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
    page.erase_page(&id, StatusCode::OK, FormState::default())
        .await
}

#[derive(Debug, Deserialize)]
pub(crate) struct EraseForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    motif: String,
    #[serde(default)]
    explication: String,
    #[serde(default)]
    confirme: String,
    #[serde(default)]
    saisie: String,
}

pub(crate) async fn erase(
    page: Page,
    Path(id): Path<String>,
    Form(f): Form<EraseForm>,
) -> Response {
    if let Err(r) = page.checked(&f.csrf) {
        return *r;
    }
    let mut state = FormState::with(&[
        ("motif", &f.motif),
        ("explication", &f.explication),
        ("confirme", &f.confirme),
        ("saisie", &f.saisie),
    ]);
    let reason = ErasureReason::ALL
        .iter()
        .find(|r| r.code().eq_ignore_ascii_case(&f.motif));
    if reason.is_none() {
        state.errors.insert(
            "motif".into(),
            "Choisissez le motif de l'effacement.".into(),
        );
    }
    if f.confirme != "oui" {
        state.errors.insert(
            "confirme".into(),
            "Cochez la case : l'effacement est définitif.".into(),
        );
    }
    if f.saisie.trim() != CONFIRMATION {
        state.errors.insert(
            "saisie".into(),
            format!("Tapez {CONFIRMATION} pour confirmer l'effacement."),
        );
    }
    let Some(reason) = reason.filter(|_| state.errors.is_empty()) else {
        return page
            .erase_page(&id, StatusCode::UNPROCESSABLE_ENTITY, state)
            .await;
    };
    let out = page
        .run(
            "mutation($p: ID!, $r: ErasureReason!, $e: String) {
                personErase(input: { personId: $p, reason: $r, explanation: $e, confirm: true }) {
                    erasedOn } }",
            json!({ "p": id, "r": reason.code().to_uppercase(), "e": given(&f.explication) }),
        )
        .await;
    if out.errors.is_empty() {
        return page.redirect(&format!("/people/{id}?fait=effacement"), Vec::new());
    }
    state.absorb(
        &out.errors,
        &[
            ("reason", "motif"),
            ("explanation", "explication"),
            ("confirm", "confirme"),
        ],
    );
    page.erase_page(&id, StatusCode::UNPROCESSABLE_ENTITY, state)
        .await
}
