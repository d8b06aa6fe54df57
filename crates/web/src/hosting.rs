//! What staff keep up to date on an establishment's file: how many
//! immersions it hosts at once (`/employers/{id}/capacite`,
//! `employerHostingCapacitySet`), and its contacts, one taken off the list
//! after a confirmation (`/employers/{id}/contacts/{contact}/retirer`,
//! `employerContactRemove`: those the viewer manages, which the file lists;
//! the contact's links to the establishment's space stop working); on the
//! same page, for the structure that added it (`mayErase`), its personal
//! data erased for good at its request
//! (`/employers/{id}/contacts/{contact}/effacer`, `employerContactErase`),
//! also once it was taken off the list (`removedContacts`).

use askama::Template;
use axum::extract::{Form, Path};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use crate::page::{FormState, Nav, Page, given, message};

const NO_EMPLOYER: &str = "Cet établissement n'existe pas ou ne vous est pas accessible.";

#[derive(Template)]
#[template(path = "hosting_capacity.html")]
struct CapacityTemplate {
    nav: Nav,
    id: String,
    name: String,
    form: FormState,
}

#[derive(Template)]
#[template(path = "contact_remove.html")]
struct RemoveTemplate {
    nav: Nav,
    id: String,
    name: String,
    contact: String,
    /// Its name and address, or that its data was erased.
    who: String,
    /// Already taken off the list: only its erasure is left to offer.
    removed: bool,
    general: Option<String>,
    /// Whether the viewer may erase its data, and the erasure's form.
    may_erase: bool,
    erase: FormState,
}

#[derive(Deserialize)]
struct Answer {
    employer: Option<Employer>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Employer {
    name: String,
    simultaneous_immersions: Option<i64>,
    hosting_capacity: Option<CapacityNotes>,
    contacts: Vec<Contact>,
    removed_contacts: Vec<Contact>,
}

/// Staff's notes with the capacity as last set.
#[derive(Deserialize)]
struct CapacityNotes {
    notes: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Contact {
    id: String,
    email: Option<String>,
    may_erase: bool,
    name: Option<String>,
}

impl Contact {
    /// How the page names it: its name and address, what is left of them.
    fn who(&self) -> String {
        match (&self.name, &self.email) {
            (Some(name), Some(email)) => format!("{name} ({email})"),
            (Some(one), None) | (None, Some(one)) => one.clone(),
            (None, None) => "dont les données sont effacées".to_owned(),
        }
    }
}

impl Page {
    async fn employer_for_hosting(&self, id: &str) -> Result<Option<Employer>, Box<Response>> {
        let out = self
            .run(
                "query($e: ID!) { employer(id: $e) { name simultaneousImmersions
                    hostingCapacity { notes }
                    contacts { id email mayErase name }
                    removedContacts { id email mayErase name } } }",
                json!({ "e": id }),
            )
            .await;
        Ok(out.read::<Answer>()?.employer)
    }

    async fn capacity_page(
        self,
        id: &str,
        status: StatusCode,
        form: Option<FormState>,
    ) -> Response {
        let employer = match self.employer_for_hosting(id).await {
            Ok(Some(e)) => e,
            Ok(None) => return message(StatusCode::NOT_FOUND, "Introuvable", NO_EMPLOYER),
            Err(page) => return *page,
        };
        // The form starts from the capacity and its notes as they stand.
        let form = form.unwrap_or_else(|| {
            let now = employer
                .simultaneous_immersions
                .map(|n| n.to_string())
                .unwrap_or_default();
            let notes = employer
                .hosting_capacity
                .and_then(|c| c.notes)
                .unwrap_or_default();
            FormState::with(&[("simultaneous", &now), ("notes", &notes)])
        });
        let body = CapacityTemplate {
            nav: self.nav(None),
            id: id.to_owned(),
            name: employer.name,
            form,
        }
        .render();
        self.render(status, body)
    }

    async fn remove_page(
        self,
        id: &str,
        contact: &str,
        status: StatusCode,
        general: Option<String>,
        erase: FormState,
    ) -> Response {
        let employer = match self.employer_for_hosting(id).await {
            Ok(Some(e)) => e,
            Ok(None) => return message(StatusCode::NOT_FOUND, "Introuvable", NO_EMPLOYER),
            Err(page) => return *page,
        };
        // A contact taken off the list is still offered to be erased, to
        // those who may.
        let kept = employer.contacts.into_iter().map(|c| (c, false));
        let removed = employer.removed_contacts.into_iter().map(|c| (c, true));
        let Some((found, removed)) = kept.chain(removed).find(|(c, _)| c.id == contact) else {
            return message(
                StatusCode::NOT_FOUND,
                "Introuvable",
                "Ce contact n'est pas, ou plus, sur la liste de cet établissement.",
            );
        };
        let body = RemoveTemplate {
            nav: self.nav(None),
            id: id.to_owned(),
            name: employer.name,
            who: found.who(),
            contact: found.id,
            removed,
            general,
            may_erase: found.may_erase,
            erase,
        }
        .render();
        self.render(status, body)
    }
}

pub(crate) async fn capacity_form(page: Page, Path(id): Path<String>) -> Response {
    if page.viewer.user.is_none() {
        return page.sign_in_first();
    }
    page.capacity_page(&id, StatusCode::OK, None).await
}

#[derive(Debug, Deserialize)]
pub(crate) struct CapacityForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    simultaneous: String,
    #[serde(default)]
    notes: String,
}

pub(crate) async fn capacity_set(
    page: Page,
    Path(id): Path<String>,
    Form(f): Form<CapacityForm>,
) -> Response {
    if page.viewer.user.is_none() {
        return page.sign_in_first();
    }
    if let Err(r) = page.checked(&f.csrf) {
        return *r;
    }
    let mut state = FormState::with(&[("simultaneous", &f.simultaneous), ("notes", &f.notes)]);
    let Ok(simultaneous) = f.simultaneous.trim().parse::<i32>() else {
        state.errors.insert(
            "simultaneous".into(),
            "Indiquez un nombre de 0 à 50 immersions accueillies en même temps.".into(),
        );
        return page
            .capacity_page(&id, StatusCode::UNPROCESSABLE_ENTITY, Some(state))
            .await;
    };
    let out = page
        .run(
            "mutation($e: ID!, $n: Int!, $t: String) {
                employerHostingCapacitySet(input: { employerId: $e,
                    simultaneousImmersions: $n, notes: $t }) { employer { id } } }",
            json!({ "e": id, "n": simultaneous, "t": given(&f.notes) }),
        )
        .await;
    if out.errors.is_empty() {
        return page.redirect(&format!("/employers/{id}#accueil"), Vec::new());
    }
    state.absorb(
        &out.errors,
        &[
            ("simultaneousImmersions", "simultaneous"),
            ("notes", "notes"),
        ],
    );
    page.capacity_page(&id, StatusCode::UNPROCESSABLE_ENTITY, Some(state))
        .await
}

/// The page that removes a contact or erases its data; the same page for
/// a contact already removed, whose erasure alone it offers
/// (`/effacer`).
pub(crate) async fn remove_form(
    page: Page,
    Path((id, contact)): Path<(String, String)>,
) -> Response {
    if page.viewer.user.is_none() {
        return page.sign_in_first();
    }
    page.remove_page(&id, &contact, StatusCode::OK, None, FormState::default())
        .await
}

#[derive(Debug, Deserialize)]
pub(crate) struct RemoveForm {
    #[serde(default)]
    csrf: String,
}

pub(crate) async fn remove(
    page: Page,
    Path((id, contact)): Path<(String, String)>,
    Form(f): Form<RemoveForm>,
) -> Response {
    if page.viewer.user.is_none() {
        return page.sign_in_first();
    }
    if let Err(r) = page.checked(&f.csrf) {
        return *r;
    }
    let out = page
        .run(
            "mutation($e: ID!, $c: ID!) { employerContactRemove(input: { employerId: $e,
                contactId: $c }) { employer { id } } }",
            json!({ "e": id, "c": contact }),
        )
        .await;
    if out.errors.is_empty() {
        return page.redirect(&format!("/employers/{id}#accueil"), Vec::new());
    }
    let general = out.errors.first().map(|e| e.message.clone());
    page.remove_page(
        &id,
        &contact,
        StatusCode::UNPROCESSABLE_ENTITY,
        general,
        FormState::default(),
    )
    .await
}

#[derive(Debug, Deserialize)]
pub(crate) struct EraseForm {
    #[serde(default)]
    csrf: String,
    /// The box that confirms the erasure cannot be undone.
    #[serde(default)]
    confirme: String,
}

pub(crate) async fn erase(
    page: Page,
    Path((id, contact)): Path<(String, String)>,
    Form(f): Form<EraseForm>,
) -> Response {
    if page.viewer.user.is_none() {
        return page.sign_in_first();
    }
    if let Err(r) = page.checked(&f.csrf) {
        return *r;
    }
    // Unticked, the API refuses it beside the box, in its words.
    let out = page
        .run(
            "mutation($e: ID!, $c: ID!, $ok: Boolean!) { employerContactErase(input: {
                employerId: $e, contactId: $c, confirm: $ok }) { contactId } }",
            json!({ "e": id, "c": contact, "ok": f.confirme == "oui" }),
        )
        .await;
    if out.errors.is_empty() {
        return page.redirect(
            &format!("/employers/{id}?fait=contact-efface#accueil"),
            Vec::new(),
        );
    }
    let mut state = FormState::with(&[("confirme", &f.confirme)]);
    state.absorb(&out.errors, &[("confirm", "confirme")]);
    page.remove_page(&id, &contact, out.refusal_status(), None, state)
        .await
}
