//! What a person or an employer keeps up themself from their own space
//! (their magic-link session): a person's email, phone and postal address
//! (`/mon-espace/coordonnees`, `personCorrect`, which lets them change
//! those three only), and the contacts of an establishment, added and
//! removed by its own contacts (`/mon-espace/contacts`).

use askama::Template;
use axum::extract::{Form, Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use crate::answer::read_or_return;
use crate::home::{Notice, notice, own_employer, own_person};
use crate::page::{FormState, Nav, Page, given, message};

/// The reason kept with a person's correction of how to reach them: they
/// make it themself, from their space.
const OWN_REASON: &str = "Coordonnées mises à jour par la personne depuis son espace.";

#[derive(Template)]
#[template(path = "own_contact.html")]
struct OwnContactTemplate {
    nav: Nav,
    form: FormState,
    /// Her email, number and postal address as recorded, as the fields'
    /// hints.
    email_now: String,
    phone_now: String,
    address_now: String,
}

impl Page {
    async fn own_contact_page(self, me: &str, status: StatusCode, form: FormState) -> Response {
        #[derive(Deserialize)]
        struct Answer {
            person: Option<Me>,
        }
        #[derive(Deserialize)]
        struct Me {
            identity: Option<Reach>,
        }
        #[derive(Deserialize)]
        struct Reach {
            email: Option<String>,
            phone: Option<String>,
            address: Option<String>,
        }
        let out = self
            .run(
                "query($p: ID!) { person(id: $p) { identity { email phone address } } }",
                json!({ "p": me }),
            )
            .await;
        let answer: Answer = read_or_return!(out);
        let reach = answer.person.and_then(|p| p.identity);
        let (email, phone, address) =
            reach.map_or((None, None, None), |r| (r.email, r.phone, r.address));
        let body = OwnContactTemplate {
            nav: self.nav(None),
            form,
            email_now: crate::answer::recorded_hint(email),
            phone_now: crate::answer::recorded_hint(phone.as_deref().map(crate::answer::phone)),
            address_now: crate::answer::recorded_hint(address),
        }
        .render();
        self.render(status, body)
    }
}

pub(crate) async fn contact_form(page: Page) -> Response {
    let Some(me) = own_person(&page.viewer) else {
        return page.sign_in_first();
    };
    page.own_contact_page(&me, StatusCode::OK, FormState::default())
        .await
}

#[derive(Debug, Deserialize)]
pub(crate) struct ContactForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    address: String,
}

pub(crate) async fn correct_contact(page: Page, Form(f): Form<ContactForm>) -> Response {
    let Some(me) = own_person(&page.viewer) else {
        return page.redirect("/", Vec::new());
    };
    if let Err(r) = page.checked(&f.csrf) {
        return *r;
    }
    let mut state = FormState::with(&[
        ("email", &f.email),
        ("phone", &f.phone),
        ("address", &f.address),
    ]);
    let out = page
        .run(
            "mutation($p: ID!, $c: IdentityChangesInput!, $r: String!) {
                personCorrect(input: { personId: $p, changes: $c, reason: $r }) {
                    person { id } } }",
            json!({ "p": me, "r": OWN_REASON, "c": {
                "email": given(&f.email),
                "phone": given(&f.phone),
                "address": given(&f.address),
            } }),
        )
        .await;
    if out.errors.is_empty() {
        return page.redirect("/?fait=coordonnees", Vec::new());
    }
    // Nothing to change is said above the form.
    state.absorb(
        &out.errors,
        &[
            ("email", "email"),
            ("phone", "phone"),
            ("address", "address"),
        ],
    );
    page.own_contact_page(&me, StatusCode::UNPROCESSABLE_ENTITY, state)
        .await
}

#[derive(Template)]
#[template(path = "own_contacts.html")]
struct OwnContactsTemplate {
    nav: Nav,
    name: String,
    /// Id, address.
    contacts: Vec<(String, String)>,
    form: FormState,
}

impl Page {
    /// The establishment's contacts its session manages, and the form to
    /// add one.
    async fn own_contacts_page(
        self,
        employer: &str,
        status: StatusCode,
        form: FormState,
        notice: Option<String>,
    ) -> Response {
        let out = self
            .run(
                "query($e: ID!) { employer(id: $e) { name contacts { id email name jobTitle } } }",
                json!({ "e": employer }),
            )
            .await;
        #[derive(Deserialize)]
        struct Answer {
            employer: Option<Establishment>,
        }
        #[derive(Deserialize)]
        struct Establishment {
            name: String,
            contacts: Vec<Contact>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Contact {
            id: String,
            email: Option<String>,
            name: Option<String>,
            job_title: Option<String>,
        }
        let answer: Answer = read_or_return!(out);
        let Some(establishment) = answer.employer else {
            return page_not_found();
        };
        let body = OwnContactsTemplate {
            nav: self.nav(notice),
            name: establishment.name,
            contacts: establishment
                .contacts
                .into_iter()
                .map(|c| {
                    let address = c.email.unwrap_or_else(|| "sans adresse e-mail".to_owned());
                    let who = match (c.name, c.job_title) {
                        (Some(name), Some(title)) => format!("{name}, {title} ({address})"),
                        (Some(name), None) => format!("{name} ({address})"),
                        (None, _) => address,
                    };
                    (c.id, who)
                })
                .collect(),
            form,
        }
        .render();
        self.render(status, body)
    }
}

fn page_not_found() -> Response {
    message(
        StatusCode::NOT_FOUND,
        "Introuvable",
        "Cet établissement n'existe pas ou ne vous est pas accessible.",
    )
}

pub(crate) async fn contacts(page: Page, Query(q): Query<Notice>) -> Response {
    let Some(employer) = own_employer(&page.viewer) else {
        return page.sign_in_first();
    };
    page.own_contacts_page(&employer, StatusCode::OK, FormState::default(), notice(&q))
        .await
}

#[derive(Debug, Deserialize)]
pub(crate) struct AddContactForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    job_title: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    phone: String,
}

pub(crate) async fn add_contact(page: Page, Form(f): Form<AddContactForm>) -> Response {
    let Some(employer) = own_employer(&page.viewer) else {
        return page.redirect("/", Vec::new());
    };
    if let Err(r) = page.checked(&f.csrf) {
        return *r;
    }
    let out = page
        .run(
            "mutation($e: ID!, $n: String!, $j: String, $m: String, $p: String) {
                employerContactAdd(input: { employerId: $e, name: $n, jobTitle: $j,
                    email: $m, phone: $p }) { employer { id } } }",
            json!({ "e": employer, "n": f.name, "j": given(&f.job_title),
                "m": given(&f.email), "p": given(&f.phone) }),
        )
        .await;
    if out.errors.is_empty() {
        return page.redirect("/mon-espace/contacts?fait=contact", Vec::new());
    }
    let mut state = FormState::with(&[
        ("name", &f.name),
        ("job_title", &f.job_title),
        ("email", &f.email),
        ("phone", &f.phone),
    ]);
    state.absorb(
        &out.errors,
        &[
            ("name", "name"),
            ("jobTitle", "job_title"),
            ("email", "email"),
            ("phone", "phone"),
        ],
    );
    page.own_contacts_page(&employer, StatusCode::UNPROCESSABLE_ENTITY, state, None)
        .await
}

#[derive(Debug, Deserialize)]
pub(crate) struct RemoveContactForm {
    #[serde(default)]
    csrf: String,
}

/// A contact removed: the establishment's sessions through this structure
/// end with it, the viewer's own too, so the page says how to come back.
pub(crate) async fn remove_contact(
    page: Page,
    Path(contact): Path<String>,
    Form(f): Form<RemoveContactForm>,
) -> Response {
    let Some(employer) = own_employer(&page.viewer) else {
        return page.redirect("/", Vec::new());
    };
    if let Err(r) = page.checked(&f.csrf) {
        return *r;
    }
    let out = page
        .run(
            "mutation($e: ID!, $c: ID!) { employerContactRemove(input: { employerId: $e,
                contactId: $c }) { employer { id } } }",
            json!({ "e": employer, "c": contact }),
        )
        .await;
    if let Some(e) = out.errors.first() {
        let mut state = FormState::default();
        state.general = Some(e.message.clone());
        return page
            .own_contacts_page(&employer, StatusCode::UNPROCESSABLE_ENTITY, state, None)
            .await;
    }
    message(
        StatusCode::OK,
        "Contact retiré",
        "Ce contact ne reçoit plus de lien. Pour la sécurité de votre établissement, \
         toutes ses sessions ouvertes sont fermées, la vôtre aussi : demandez un nouveau \
         lien depuis la page d'accueil pour revenir.",
    )
}
