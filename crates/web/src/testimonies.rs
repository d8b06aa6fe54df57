//! Testimonies (parcours vécu) in the pages. From her own space
//! (`/mon-espace/temoignages`), the person reads hers with who may read
//! each, changes that audience (`testimonyAudienceChange`) and withdraws
//! one after confirming (`testimonyWithdraw`), as the consent text
//! promises; a withdrawn one leaves the peers' lists at once (they read
//! its stream). Her accompaniment ended, she still does both there, and the
//! page says since when. From her file (`/people/{id}/temoignage`), her
//! structure's staff record the account she gives, with the audience she
//! chose (`testimonyRecord`, which her consent to share it conditions), and,
//! as she asks them, change who reads each one
//! (`/people/{id}/temoignages/{t}/public`) or withdraw it after confirming
//! (`/people/{id}/temoignages/{t}/retirer`); the API records who did.

use askama::Template;
use axum::extract::{Form, Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use passerelle_domain::fr::{self, Labelled};
use passerelle_domain::testimony::Audience;
use serde::Deserialize;
use serde_json::json;

use crate::answer::{Code, Day, PersonName, read_or_return};
use crate::home::own_person;
use crate::page::{FormState, Nav, Page, message};

/// A testimony as the pages show it.
pub(crate) struct Shown {
    pub id: String,
    /// The account, in her words; "(effacé)" once erased.
    pub account: String,
    /// The jobs it goes through, with their labels.
    pub jobs: String,
    pub recorded_on: String,
    /// The audience as the API names it, and its label.
    pub audience: (String, &'static str),
    /// "Retiré le …", once withdrawn.
    pub withdrawn: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Testimony {
    id: String,
    account: Option<String>,
    rome_codes: Vec<String>,
    audience: Code<Audience>,
    recorded_on: Day,
    withdrawn_on: Option<Day>,
}

#[derive(Deserialize)]
struct Answer {
    person: Option<Testified>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Testified {
    #[serde(flatten)]
    name: PersonName,
    exited_on: Option<Day>,
    testimonies: Vec<Testimony>,
}

/// A person's testimonies as a page shows them.
struct Testimonies {
    /// Her full name.
    name: String,
    /// "5 décembre 2026" once her accompaniment ended.
    ended: Option<String>,
    shown: Vec<Shown>,
}

/// Each audience as the API names it, with its label, in the order the
/// forms offer them.
fn audiences() -> Vec<(String, &'static str)> {
    Audience::ALL
        .iter()
        .map(|a| (a.code().to_uppercase(), a.french()))
        .collect()
}

fn shown(t: Testimony) -> Shown {
    Shown {
        id: t.id,
        account: t.account.unwrap_or_else(|| "(effacé)".to_owned()),
        jobs: t
            .rome_codes
            .iter()
            .map(|c| fr::rome(c))
            .collect::<Vec<_>>()
            .join(" ; "),
        recorded_on: t.recorded_on.french(),
        audience: (t.audience.0.code().to_uppercase(), t.audience.french()),
        withdrawn: t.withdrawn_on.map(|d| format!("Retiré le {}", d.french())),
    }
}

impl Page {
    /// The person's name and testimonies, or the page to answer instead.
    async fn testimonies_of(&self, person: &str) -> Result<Testimonies, Box<Response>> {
        let out = self
            .run(
                "query($p: ID!) { person(id: $p) { firstName lastName exitedOn
                    testimonies { id account romeCodes audience recordedOn withdrawnOn } } }",
                json!({ "p": person }),
            )
            .await;
        let answer: Answer = out.read()?;
        let Some(p) = answer.person else {
            return Err(Box::new(message(
                StatusCode::NOT_FOUND,
                "Introuvable",
                "Cette personne n'existe pas ou ne vous est pas accessible.",
            )));
        };
        Ok(Testimonies {
            name: p.name.full(),
            ended: p.exited_on.map(Day::french),
            shown: p.testimonies.into_iter().map(shown).collect(),
        })
    }

    /// The person's name and one of her testimonies still standing, to
    /// withdraw; else the page to answer instead.
    async fn standing_testimony(
        &self,
        person: &str,
        testimony: &str,
    ) -> Result<(String, Shown), Box<Response>> {
        let found = self.testimonies_of(person).await?;
        let shown = found
            .shown
            .into_iter()
            .find(|t| t.id == testimony && t.withdrawn.is_none())
            .ok_or_else(|| {
                Box::new(message(
                    StatusCode::NOT_FOUND,
                    "Introuvable",
                    "Ce témoignage n'existe pas, est déjà retiré, ou ne vous est pas accessible.",
                ))
            })?;
        Ok((found.name, shown))
    }
}

#[derive(Template)]
#[template(path = "own_testimonies.html")]
struct OwnTestimoniesTemplate {
    nav: Nav,
    /// "5 décembre 2026" once her accompaniment ended.
    ended: Option<String>,
    testimonies: Vec<Shown>,
    audiences: Vec<(String, &'static str)>,
    /// The testimony a change was refused for, and why.
    refused: Option<(String, String)>,
}

/// The refusal of a change of testimony `id`, shown beside its form.
fn refusal<'a>(refused: &'a Option<(String, String)>, id: &str) -> Option<&'a str> {
    refused
        .as_ref()
        .filter(|(t, _)| t == id)
        .map(|(_, m)| m.as_str())
}

impl OwnTestimoniesTemplate {
    fn refusal(&self, id: &str) -> Option<&str> {
        refusal(&self.refused, id)
    }
}

impl Page {
    async fn own_testimonies_page(
        self,
        me: &str,
        status: StatusCode,
        notice: Option<String>,
        refused: Option<(String, String)>,
    ) -> Response {
        let found = match self.testimonies_of(me).await {
            Ok(found) => found,
            Err(page) => return *page,
        };
        let body = OwnTestimoniesTemplate {
            nav: self.nav(notice),
            ended: found.ended,
            testimonies: found.shown,
            audiences: audiences(),
            refused,
        }
        .render();
        self.render(status, body)
    }
}

/// What the person's pages of testimonies say after a change.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Done {
    #[serde(default)]
    fait: Option<String>,
}

fn done(q: &Done) -> Option<String> {
    Some(
        match q.fait.as_deref()? {
            "public" => "Votre choix est enregistré : seules ces personnes peuvent désormais lire ce témoignage.",
            "retrait" => "Votre témoignage est retiré : plus personne ne peut le lire.",
            "temoignage" => "Témoignage enregistré, avec le public qu'elle ou il a choisi.",
            "son-public" => "Enregistré : seules ces personnes peuvent désormais lire ce témoignage.",
            "son-retrait" => "Témoignage retiré : plus personne ne peut le lire.",
            _ => return None,
        }
        .to_owned(),
    )
}

/// `/mon-espace/temoignages`: her testimonies, each with who reads it.
pub(crate) async fn own_list(page: Page, Query(q): Query<Done>) -> Response {
    let Some(me) = own_person(&page.viewer) else {
        return page.sign_in_first();
    };
    page.own_testimonies_page(&me, StatusCode::OK, done(&q), None)
        .await
}

#[derive(Debug, Deserialize)]
pub(crate) struct AudienceForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    audience: String,
}

/// Who may read one of her testimonies, as she now chooses.
pub(crate) async fn own_audience(
    page: Page,
    Path(testimony): Path<String>,
    Form(f): Form<AudienceForm>,
) -> Response {
    let Some(me) = own_person(&page.viewer) else {
        return page.redirect("/", Vec::new());
    };
    if let Err(r) = page.checked(&f.csrf) {
        return *r;
    }
    let out = page
        .run(
            "mutation($t: ID!, $a: Audience!) { testimonyAudienceChange(input: {
                testimonyId: $t, audience: $a }) { testimonyId } }",
            json!({ "t": testimony, "a": f.audience }),
        )
        .await;
    match out.errors.first() {
        None => page.redirect("/mon-espace/temoignages?fait=public", Vec::new()),
        Some(e) => {
            let why = audience_refused(&f.audience, &e.message);
            page.own_testimonies_page(
                &me,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                Some((testimony, why)),
            )
            .await
        }
    }
}

/// Why a change of audience was refused: an audience the form does not
/// offer is refused by the API's own parsing, in English, which the page
/// says in French; else the API's own words.
fn audience_refused(audience: &str, message: &str) -> String {
    if Audience::ALL
        .iter()
        .any(|a| a.code().to_uppercase() == audience)
    {
        message.to_owned()
    } else {
        "Choisissez qui peut lire ce témoignage.".to_owned()
    }
}

#[derive(Template)]
#[template(path = "testimony_withdraw.html")]
struct WithdrawTemplate {
    nav: Nav,
    testimony: Shown,
    error: Option<String>,
}

impl Page {
    async fn withdraw_page(
        self,
        me: &str,
        testimony: &str,
        status: StatusCode,
        error: Option<String>,
    ) -> Response {
        let found = match self.standing_testimony(me, testimony).await {
            Ok((_, found)) => found,
            Err(page) => return *page,
        };
        let body = WithdrawTemplate {
            nav: self.nav(None),
            testimony: found,
            error,
        }
        .render();
        self.render(status, body)
    }
}

/// `/mon-espace/temoignages/{id}/retirer`: what withdrawing does, and the
/// button that confirms it.
pub(crate) async fn withdraw_form(page: Page, Path(testimony): Path<String>) -> Response {
    let Some(me) = own_person(&page.viewer) else {
        return page.sign_in_first();
    };
    page.withdraw_page(&me, &testimony, StatusCode::OK, None)
        .await
}

#[derive(Debug, Deserialize)]
pub(crate) struct WithdrawForm {
    #[serde(default)]
    csrf: String,
}

/// Her testimony withdrawn, once confirmed: no one reads it since.
pub(crate) async fn withdraw(
    page: Page,
    Path(testimony): Path<String>,
    Form(f): Form<WithdrawForm>,
) -> Response {
    let Some(me) = own_person(&page.viewer) else {
        return page.redirect("/", Vec::new());
    };
    if let Err(r) = page.checked(&f.csrf) {
        return *r;
    }
    let out = page
        .run(
            "mutation($t: ID!) { testimonyWithdraw(input: { testimonyId: $t }) { testimonyId } }",
            json!({ "t": testimony }),
        )
        .await;
    match out.errors.first() {
        None => page.redirect("/mon-espace/temoignages?fait=retrait", Vec::new()),
        Some(e) => {
            let why = e.message.clone();
            page.withdraw_page(&me, &testimony, StatusCode::UNPROCESSABLE_ENTITY, Some(why))
                .await
        }
    }
}

#[derive(Template)]
#[template(path = "testimony_record.html")]
struct RecordTemplate {
    nav: Nav,
    id: String,
    name: String,
    testimonies: Vec<Shown>,
    audiences: Vec<(String, &'static str)>,
    form: FormState,
    /// The testimony a change of audience was refused for, and why.
    refused: Option<(String, String)>,
}

impl RecordTemplate {
    fn refusal(&self, id: &str) -> Option<&str> {
        refusal(&self.refused, id)
    }
}

impl Page {
    async fn record_page(
        self,
        person: &str,
        status: StatusCode,
        form: FormState,
        notice: Option<String>,
    ) -> Response {
        self.testimonies_page(person, status, form, notice, None)
            .await
    }

    async fn testimonies_page(
        self,
        person: &str,
        status: StatusCode,
        form: FormState,
        notice: Option<String>,
        refused: Option<(String, String)>,
    ) -> Response {
        let found = match self.testimonies_of(person).await {
            Ok(found) => found,
            Err(page) => return *page,
        };
        let body = RecordTemplate {
            nav: self.nav(notice),
            id: person.to_owned(),
            name: found.name,
            testimonies: found.shown,
            audiences: audiences(),
            form,
            refused,
        }
        .render();
        self.render(status, body)
    }
}

/// `/people/{id}/temoignage`: her testimonies, and the form to record the
/// one she gives.
pub(crate) async fn record_form(
    page: Page,
    Path(id): Path<String>,
    Query(q): Query<Done>,
) -> Response {
    if page.viewer.user.is_none() {
        return page.sign_in_first();
    }
    page.record_page(&id, StatusCode::OK, FormState::default(), done(&q))
        .await
}

#[derive(Debug, Deserialize)]
pub(crate) struct RecordForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    account: String,
    #[serde(default)]
    rome: String,
    #[serde(default)]
    audience: String,
}

pub(crate) async fn record(
    page: Page,
    Path(id): Path<String>,
    Form(f): Form<RecordForm>,
) -> Response {
    if let Err(r) = page.checked(&f.csrf) {
        return *r;
    }
    if page.viewer.user.is_none() {
        return page.sign_in_first();
    }
    let mut state = FormState::with(&[
        ("account", &f.account),
        ("rome", &f.rome),
        ("audience", &f.audience),
    ]);
    if !Audience::ALL
        .iter()
        .any(|a| a.code().to_uppercase() == f.audience)
    {
        state.errors.insert(
            "audience".into(),
            "Indiquez qui peut lire ce témoignage, comme elle ou il l'a choisi.".into(),
        );
        return page
            .record_page(&id, StatusCode::UNPROCESSABLE_ENTITY, state, None)
            .await;
    }
    let codes = crate::page::typed_rome_codes(&f.rome);
    let out = page
        .run(
            "mutation($p: ID!, $t: String!, $r: [String!]!, $a: Audience!) {
                testimonyRecord(input: { personId: $p, account: $t, romeCodes: $r,
                    audience: $a }) { testimonyId } }",
            json!({ "p": id, "t": f.account, "r": codes, "a": f.audience }),
        )
        .await;
    if out.errors.is_empty() {
        return page.redirect(
            &format!("/people/{id}/temoignage?fait=temoignage"),
            Vec::new(),
        );
    }
    state.absorb(
        &out.errors,
        &[
            ("account", "account"),
            ("romeCodes", "rome"),
            ("audience", "audience"),
        ],
    );
    page.record_page(&id, StatusCode::UNPROCESSABLE_ENTITY, state, None)
        .await
}

/// A change's answer: the testimony's author, whose page it goes back to
/// (her id as the API gives it, not as the URL had it).
#[derive(Deserialize)]
struct Changed {
    person: Author,
}

#[derive(Deserialize)]
struct Author {
    id: String,
}

/// Who may read one of her testimonies, changed by her structure's staff
/// as she asks.
pub(crate) async fn audience(
    page: Page,
    Path((person, testimony)): Path<(String, String)>,
    Form(f): Form<AudienceForm>,
) -> Response {
    if let Err(r) = page.checked(&f.csrf) {
        return *r;
    }
    if page.viewer.user.is_none() {
        return page.sign_in_first();
    }
    let out = page
        .run(
            "mutation($t: ID!, $a: Audience!) { testimonyAudienceChange(input: {
                testimonyId: $t, audience: $a }) { person { id } } }",
            json!({ "t": testimony, "a": f.audience }),
        )
        .await;
    match out.errors.first() {
        None => {
            #[derive(Deserialize)]
            #[serde(rename_all = "camelCase")]
            struct Answer {
                testimony_audience_change: Changed,
            }
            let answer: Answer = read_or_return!(out);
            let author = answer.testimony_audience_change.person.id;
            page.redirect(
                &format!("/people/{author}/temoignage?fait=son-public"),
                Vec::new(),
            )
        }
        Some(e) => {
            let why = audience_refused(&f.audience, &e.message);
            page.testimonies_page(
                &person,
                StatusCode::UNPROCESSABLE_ENTITY,
                FormState::default(),
                None,
                Some((testimony, why)),
            )
            .await
        }
    }
}

#[derive(Template)]
#[template(path = "testimony_withdraw_for.html")]
struct WithdrawForTemplate {
    nav: Nav,
    id: String,
    name: String,
    testimony: Shown,
    error: Option<String>,
}

impl Page {
    async fn withdraw_for_page(
        self,
        person: &str,
        testimony: &str,
        status: StatusCode,
        error: Option<String>,
    ) -> Response {
        let (name, shown) = match self.standing_testimony(person, testimony).await {
            Ok(found) => found,
            Err(page) => return *page,
        };
        let body = WithdrawForTemplate {
            nav: self.nav(None),
            id: person.to_owned(),
            name,
            testimony: shown,
            error,
        }
        .render();
        self.render(status, body)
    }
}

/// `/people/{id}/temoignages/{t}/retirer`: what withdrawing her testimony
/// does, and the button that confirms it, for her structure's staff.
pub(crate) async fn withdraw_for_form(
    page: Page,
    Path((person, testimony)): Path<(String, String)>,
) -> Response {
    if page.viewer.user.is_none() {
        return page.sign_in_first();
    }
    page.withdraw_for_page(&person, &testimony, StatusCode::OK, None)
        .await
}

/// Her testimony withdrawn by her structure's staff as she asks, once
/// confirmed: no one reads it since.
pub(crate) async fn withdraw_for(
    page: Page,
    Path((person, testimony)): Path<(String, String)>,
    Form(f): Form<WithdrawForm>,
) -> Response {
    if let Err(r) = page.checked(&f.csrf) {
        return *r;
    }
    if page.viewer.user.is_none() {
        return page.sign_in_first();
    }
    let out = page
        .run(
            "mutation($t: ID!) { testimonyWithdraw(input: { testimonyId: $t }) {
                person { id } } }",
            json!({ "t": testimony }),
        )
        .await;
    match out.errors.first() {
        None => {
            #[derive(Deserialize)]
            #[serde(rename_all = "camelCase")]
            struct Answer {
                testimony_withdraw: Changed,
            }
            let answer: Answer = read_or_return!(out);
            let author = answer.testimony_withdraw.person.id;
            page.redirect(
                &format!("/people/{author}/temoignage?fait=son-retrait"),
                Vec::new(),
            )
        }
        Some(e) => {
            let why = e.message.clone();
            page.withdraw_for_page(
                &person,
                &testimony,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(why),
            )
            .await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_audience_the_form_does_not_offer_is_refused_in_french() {
        assert_eq!(
            audience_refused("TOUT_LE_MONDE", "Invalid value for argument"),
            "Choisissez qui peut lire ce témoignage."
        );
        // The API takes its names as written: another case is not offered.
        assert_eq!(
            audience_refused("territory", "Cette valeur n'est pas admise ici"),
            "Choisissez qui peut lire ce témoignage."
        );
        let said = "Ce témoignage a été retiré : il ne se partage plus.";
        assert_eq!(audience_refused("TERRITORY", said), said);
    }

    #[test]
    fn every_audience_has_a_french_label_and_the_api_name() {
        let all = audiences();
        assert_eq!(all.len(), 3);
        assert!(all.iter().all(|(code, label)| {
            code.chars().all(|c| c.is_ascii_uppercase() || c == '_') && !label.is_empty()
        }));
    }
}
