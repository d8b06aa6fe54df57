//! A person's consents, as staff record them from her file
//! (`/people/{id}/accords`): each purpose's, given or withdrawn, when and
//! how, and their history. Staff record a consent she gave on a signed
//! form or orally (`/people/{id}/accords/{purpose}`, `consentGive`, on the
//! version of the text she read, shown there) and its withdrawal after a
//! confirmation (`/people/{id}/accords/{purpose}/retirer`,
//! `consentWithdraw`). What the viewer may do comes from the policy
//! (`Person.viewerMay`): no consent is recorded once her accompaniment
//! ended, a withdrawal always is.

use askama::Template;
use axum::extract::{Form, Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use passerelle_domain::fr::{Labelled, in_sentence};
use passerelle_domain::person::{ConsentProofKind, ConsentPurpose};
use serde::Deserialize;
use serde_json::json;

use crate::answer::{Code, Day, PersonName, person_not_found, read_or_return};
use crate::home::{Notice, ViewerMay, notice, paragraphs, version_shown};
use crate::page::{BAD_DAY, FormState, Nav, Page, message, typed_day};

/// A purpose's part of an address: a number, `/accords/1`, never its name.
/// Addresses end in logs (a reverse proxy's), where a word would tie this
/// person to what she consents to, health data among it (a disability
/// recognition). One number per purpose, kept once given: a new purpose
/// takes the next.
fn slug(purpose: ConsentPurpose) -> &'static str {
    match purpose {
        ConsentPurpose::Testimony => "1",
        ConsentPurpose::Mentoring => "2",
        ConsentPurpose::PeerContact => "3",
        ConsentPurpose::DisabilityRecognition => "4",
    }
}

/// The purpose an address names; `None` for any other.
fn purpose_of(part: &str) -> Option<ConsentPurpose> {
    ConsentPurpose::ALL
        .iter()
        .copied()
        .find(|p| slug(*p) == part)
}

/// The purpose as the API names it (`PEER_CONTACT`).
fn api_name(purpose: ConsentPurpose) -> String {
    purpose.code().to_ascii_uppercase()
}

fn unknown_purpose() -> Response {
    message(
        StatusCode::NOT_FOUND,
        "Introuvable",
        "Cet accord n'existe pas : repartez des accords de sa fiche.",
    )
}

/// A consent given or withdrawn, as the API records it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ConsentRecord {
    pub purpose: Code<ConsentPurpose>,
    pub given: bool,
    pub on: Day,
    pub text_version: Option<String>,
    pub signed_form: Option<bool>,
    /// How she gave it, as the API says; none for a withdrawal.
    pub proof: Option<Code<ConsentProofKind>>,
}

impl ConsentRecord {
    /// « Donné sur un formulaire signé (texte en version 1) » ; « Retiré ».
    pub(crate) fn said(&self) -> String {
        self.said_when(None)
    }

    /// « Donné le 4 mai 2026 sur un formulaire signé (texte en version 1) » ;
    /// « Retiré le 4 mai 2026 ».
    pub(crate) fn said_on(&self) -> String {
        self.said_when(Some(self.on.french()))
    }

    fn said_when(&self, on: Option<String>) -> String {
        let mut said = String::from(if self.given { "Donné" } else { "Retiré" });
        if let Some(on) = on {
            said.push_str(" le ");
            said.push_str(&on);
        }
        if !self.given {
            return said;
        }
        if let Some(how) = self.proof {
            said.push(' ');
            said.push_str(&in_sentence(how.french()));
        }
        if let Some(version) = &self.text_version {
            said.push_str(&format!(" (texte en {})", version_shown(version)));
        }
        said
    }
}

#[derive(Deserialize)]
struct PersonAnswer {
    person: Option<Consents>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Consents {
    #[serde(flatten)]
    name: PersonName,
    exited_on: Option<Day>,
    viewer_may: ViewerMay,
    consent_records: Vec<ConsentRecord>,
}

impl Consents {
    /// The last record of `purpose`: where it stands now.
    fn last(&self, purpose: ConsentPurpose) -> Option<&ConsentRecord> {
        self.consent_records
            .iter()
            .rev()
            .find(|r| r.purpose.0 == purpose)
    }
}

const PERSON_CONSENTS: &str = "query($p: ID!) { person(id: $p) { firstName lastName exitedOn
    viewerMay { giveConsent withdrawConsent }
    consentRecords { purpose given on textVersion signedForm proof } } }";

/// One purpose on the page: its label, where it stands, what to do.
struct PurposeView {
    slug: &'static str,
    label: &'static str,
    /// « Donné le 4 mai 2026 sur un formulaire signé (texte en version 1) ».
    stands: String,
    /// A withdrawal to record (it stands given), or a consent to record.
    withdraw: bool,
    give: bool,
}

#[derive(Template)]
#[template(path = "consents.html")]
struct ConsentsTemplate {
    nav: Nav,
    id: String,
    name: String,
    purposes: Vec<PurposeView>,
    /// When, what: every record, oldest first.
    history: Vec<(String, String)>,
    /// Why nothing is given from here any more, when it is so.
    no_more: Option<String>,
}

impl Page {
    async fn person_consents(&self, id: &str) -> Result<Consents, Box<Response>> {
        let out = self.run(PERSON_CONSENTS, json!({ "p": id })).await;
        out.read::<PersonAnswer>()?
            .person
            .ok_or_else(|| Box::new(person_not_found()))
    }
}

pub(crate) async fn list(page: Page, Path(id): Path<String>, Query(q): Query<Notice>) -> Response {
    if page.viewer.user.is_none() {
        return page.sign_in_first();
    }
    let person = match page.person_consents(&id).await {
        Ok(person) => person,
        Err(r) => return *r,
    };
    let may = &person.viewer_may;
    let purposes = ConsentPurpose::ALL
        .iter()
        .map(|&purpose| {
            let last = person.last(purpose);
            let given = last.is_some_and(|r| r.given);
            PurposeView {
                slug: slug(purpose),
                label: purpose.french(),
                stands: match last {
                    Some(r) => r.said_on(),
                    None => "Jamais donné".to_owned(),
                },
                withdraw: given && may.withdraw_consent,
                give: !given && may.give_consent,
            }
        })
        .collect();
    let history = person
        .consent_records
        .iter()
        .map(|r| {
            (
                r.on.french(),
                format!("{} : {}", r.purpose.french(), r.said().to_lowercase()),
            )
        })
        .collect();
    let no_more = no_more(may, person.exited_on);
    let body = ConsentsTemplate {
        nav: page.nav(notice(&q)),
        id: id.clone(),
        name: person.name.full(),
        purposes,
        history,
        no_more,
    }
    .render();
    page.render(StatusCode::OK, body)
}

/// Why the viewer records no new consent for her, when the policy says so
/// (`viewerMay.giveConsent`): the consents' page and the give page say it
/// in the same words.
fn no_more(may: &ViewerMay, exited_on: Option<Day>) -> Option<String> {
    (!may.give_consent).then(|| match exited_on {
        Some(on) => format!(
            "Son accompagnement a pris fin le {} : un nouvel accord ne s'enregistre plus, un retrait toujours.",
            on.french()
        ),
        None => "Vous n'enregistrez pas de nouvel accord pour elle.".to_owned(),
    })
}

#[derive(Template)]
#[template(path = "consent_give.html")]
struct GiveTemplate {
    nav: Nav,
    id: String,
    name: String,
    slug: &'static str,
    label: &'static str,
    title: String,
    paragraphs: Vec<String>,
    version: String,
    proofs: &'static [(&'static str, &'static str)],
    form: FormState,
    /// Why no form is offered, when the viewer may not record a consent.
    no_more: Option<String>,
}

impl GiveTemplate {
    fn version_shown(&self) -> String {
        version_shown(&self.version)
    }
}

/// How she gave it, as the form offers it.
const PROOFS: [(&str, &str); 2] = [
    ("formulaire", "Sur un formulaire signé, à conserver"),
    ("oral", "À l'oral, devant vous"),
];

impl Page {
    async fn consent_give_page(
        self,
        id: &str,
        purpose: ConsentPurpose,
        status: StatusCode,
        form: FormState,
    ) -> Response {
        let out = self
            .run(
                "query($p: ID!, $c: ConsentPurpose!) {
                    person(id: $p) { firstName lastName exitedOn
                        viewerMay { giveConsent withdrawConsent } }
                    consentTexts(purpose: $c) { version title body current } }",
                json!({ "p": id, "c": api_name(purpose) }),
            )
            .await;
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Answer {
            person: Option<Person>,
            consent_texts: Vec<Text>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Person {
            #[serde(flatten)]
            name: PersonName,
            exited_on: Option<Day>,
            viewer_may: ViewerMay,
        }
        #[derive(Deserialize)]
        struct Text {
            version: String,
            title: String,
            body: String,
            current: bool,
        }
        let answer: Answer = read_or_return!(out);
        let Some(person) = answer.person else {
            return person_not_found();
        };
        let Some(text) = answer.consent_texts.into_iter().find(|t| t.current) else {
            return unknown_purpose();
        };
        let body = GiveTemplate {
            nav: self.nav(None),
            id: id.to_owned(),
            name: person.name.full(),
            slug: slug(purpose),
            label: purpose.french(),
            title: text.title,
            paragraphs: paragraphs(&text.body),
            version: text.version,
            proofs: &PROOFS,
            form,
            no_more: no_more(&person.viewer_may, person.exited_on),
        }
        .render();
        self.render(status, body)
    }
}

pub(crate) async fn give_form(page: Page, Path((id, purpose)): Path<(String, String)>) -> Response {
    if page.viewer.user.is_none() {
        return page.sign_in_first();
    }
    let Some(purpose) = purpose_of(&purpose) else {
        return unknown_purpose();
    };
    let today = page.api.gateway.handler.clock().today().to_string();
    page.consent_give_page(
        &id,
        purpose,
        StatusCode::OK,
        FormState::with(&[("given_on", &today)]),
    )
    .await
}

#[derive(Debug, Deserialize)]
pub(crate) struct GiveForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    version: String,
    #[serde(default)]
    proof: String,
    #[serde(default)]
    given_on: String,
}

pub(crate) async fn give(
    page: Page,
    Path((id, purpose)): Path<(String, String)>,
    Form(f): Form<GiveForm>,
) -> Response {
    if page.viewer.user.is_none() {
        return page.sign_in_first();
    }
    if let Err(r) = page.checked(&f.csrf) {
        return *r;
    }
    let Some(purpose) = purpose_of(&purpose) else {
        return unknown_purpose();
    };
    let mut state = FormState::with(&[("proof", &f.proof), ("given_on", &f.given_on)]);
    let given_on = typed_day(&f.given_on).unwrap_or_else(|()| {
        state.errors.insert("given_on".into(), BAD_DAY.into());
        None
    });
    let signed = match f.proof.as_str() {
        "formulaire" => Some(true),
        "oral" => Some(false),
        _ => {
            state.errors.insert(
                "proof".into(),
                "Dites comment elle a donné son accord.".into(),
            );
            None
        }
    };
    if !state.errors.is_empty() {
        return page
            .consent_give_page(&id, purpose, StatusCode::UNPROCESSABLE_ENTITY, state)
            .await;
    }
    let out = page
        .run(
            "mutation($p: ID!, $c: ConsentPurpose!, $v: String!, $s: Boolean!, $d: Date) {
                consentGive(input: { personId: $p, purpose: $c, textVersion: $v,
                    signedForm: $s, givenOn: $d }) { person { id } } }",
            json!({ "p": id, "c": api_name(purpose), "v": f.version, "s": signed,
                "d": given_on }),
        )
        .await;
    if out.errors.is_empty() {
        return page.redirect(
            &format!("/people/{id}/accords?fait=accord-enregistre"),
            Vec::new(),
        );
    }
    state.absorb(&out.errors, &[("givenOn", "given_on")]);
    page.consent_give_page(&id, purpose, StatusCode::UNPROCESSABLE_ENTITY, state)
        .await
}

#[derive(Template)]
#[template(path = "consent_withdraw.html")]
struct WithdrawTemplate {
    nav: Nav,
    id: String,
    name: String,
    slug: &'static str,
    label: &'static str,
    /// « Donné le 4 mai 2026 sur un formulaire signé… ».
    stands: String,
    form: FormState,
}

impl Page {
    async fn consent_withdraw_page(
        self,
        id: &str,
        purpose: ConsentPurpose,
        status: StatusCode,
        form: FormState,
    ) -> Response {
        let person = match self.person_consents(id).await {
            Ok(person) => person,
            Err(r) => return *r,
        };
        let Some(last) = person.last(purpose).filter(|r| r.given) else {
            return message(
                StatusCode::NOT_FOUND,
                "Introuvable",
                "Cet accord n'est pas donné : il n'y a rien à retirer.",
            );
        };
        let body = WithdrawTemplate {
            nav: self.nav(None),
            id: id.to_owned(),
            name: person.name.full(),
            slug: slug(purpose),
            label: purpose.french(),
            stands: last.said_on(),
            form,
        }
        .render();
        self.render(status, body)
    }
}

pub(crate) async fn withdraw_form(
    page: Page,
    Path((id, purpose)): Path<(String, String)>,
) -> Response {
    if page.viewer.user.is_none() {
        return page.sign_in_first();
    }
    let Some(purpose) = purpose_of(&purpose) else {
        return unknown_purpose();
    };
    let today = page.api.gateway.handler.clock().today().to_string();
    page.consent_withdraw_page(
        &id,
        purpose,
        StatusCode::OK,
        FormState::with(&[("withdrawn_on", &today)]),
    )
    .await
}

#[derive(Debug, Deserialize)]
pub(crate) struct WithdrawForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    withdrawn_on: String,
}

pub(crate) async fn withdraw(
    page: Page,
    Path((id, purpose)): Path<(String, String)>,
    Form(f): Form<WithdrawForm>,
) -> Response {
    if page.viewer.user.is_none() {
        return page.sign_in_first();
    }
    if let Err(r) = page.checked(&f.csrf) {
        return *r;
    }
    let Some(purpose) = purpose_of(&purpose) else {
        return unknown_purpose();
    };
    let mut state = FormState::with(&[("withdrawn_on", &f.withdrawn_on)]);
    let Ok(withdrawn_on) = typed_day(&f.withdrawn_on) else {
        state.errors.insert("withdrawn_on".into(), BAD_DAY.into());
        return page
            .consent_withdraw_page(&id, purpose, StatusCode::UNPROCESSABLE_ENTITY, state)
            .await;
    };
    let out = page
        .run(
            "mutation($p: ID!, $c: ConsentPurpose!, $d: Date) {
                consentWithdraw(input: { personId: $p, purpose: $c, withdrawnOn: $d }) {
                    person { id } } }",
            json!({ "p": id, "c": api_name(purpose), "d": withdrawn_on }),
        )
        .await;
    if out.errors.is_empty() {
        return page.redirect(
            &format!("/people/{id}/accords?fait=accord-retire"),
            Vec::new(),
        );
    }
    state.absorb(&out.errors, &[("withdrawnOn", "withdrawn_on")]);
    page.consent_withdraw_page(&id, purpose, StatusCode::UNPROCESSABLE_ENTITY, state)
        .await
}
