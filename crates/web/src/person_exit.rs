//! Two staff actions on a person's file: the end of their accompaniment
//! (`/people/{id}/sortie`, `personExit`: why, the contract signed when it
//! is for a job, an explanation for another reason, on the day given) and
//! the hand-over of their follow-up to another staff member of the
//! structure (`/people/{id}/referent`, `personReferentChange`: the
//! structure's managers' decision, chosen among its active staff). The
//! file then shows the exit and the referent.

use askama::Template;
use axum::extract::{Form, Path};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use crate::answer::{Paged, PersonName, person_not_found, read_or_return};
use crate::labels::{CONTRACTS, EXIT_REASONS};
use crate::page::{BAD_DAY, FormState, Nav, Page, given, message, typed_day};

/// Longest explanation the form sends on; the API bounds it too.
const EXPLANATION_MAX: usize = 2000;

#[derive(Template)]
#[template(path = "person_exit.html")]
struct ExitTemplate {
    nav: Nav,
    id: String,
    name: String,
    reasons: &'static [(&'static str, &'static str)],
    contracts: &'static [(&'static str, &'static str)],
    form: FormState,
}

impl Page {
    async fn exit_page(self, id: &str, status: StatusCode, form: FormState) -> Response {
        let name = match self.person_name(id).await {
            Ok(name) => name,
            Err(page) => return *page,
        };
        let body = ExitTemplate {
            nav: self.nav(None),
            id: id.to_owned(),
            name,
            reasons: &EXIT_REASONS,
            contracts: &CONTRACTS,
            form,
        }
        .render();
        self.render(status, body)
    }
}

pub(crate) async fn exit_form(page: Page, Path(id): Path<String>) -> Response {
    if page.viewer.user.is_none() {
        return page.sign_in_first();
    }
    let today = page.api.gateway.handler.clock().today().to_string();
    page.exit_page(
        &id,
        StatusCode::OK,
        FormState::with(&[("exited_on", &today)]),
    )
    .await
}

#[derive(Debug, Deserialize)]
pub(crate) struct ExitForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    exited_on: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    contract: String,
    #[serde(default)]
    explanation: String,
}

pub(crate) async fn exit(page: Page, Path(id): Path<String>, Form(f): Form<ExitForm>) -> Response {
    if let Err(r) = page.checked(&f.csrf) {
        return *r;
    }
    let mut state = FormState::with(&[
        ("exited_on", &f.exited_on),
        ("reason", &f.reason),
        ("contract", &f.contract),
        ("explanation", &f.explanation),
    ]);
    let exited_on = typed_day(&f.exited_on).unwrap_or_else(|()| {
        state.errors.insert("exited_on".into(), BAD_DAY.into());
        None
    });
    let reason = EXIT_REASONS
        .iter()
        .find(|(code, _)| *code == f.reason)
        .map(|(code, _)| *code);
    if reason.is_none() {
        state
            .errors
            .insert("reason".into(), "Choisissez la raison de sa sortie.".into());
    }
    let contract = match given(&f.contract) {
        None => None,
        Some(typed) => match CONTRACTS.iter().find(|(code, _)| *code == typed) {
            Some((code, _)) => Some(*code),
            None => {
                state.errors.insert(
                    "contract".into(),
                    "Choisissez un contrat de la liste.".into(),
                );
                None
            }
        },
    };
    if f.explanation.chars().count() > EXPLANATION_MAX {
        state.errors.insert(
            "explanation".into(),
            format!("Dites-le en {EXPLANATION_MAX} caractères au plus."),
        );
    }
    if !state.errors.is_empty() {
        return page
            .exit_page(&id, StatusCode::UNPROCESSABLE_ENTITY, state)
            .await;
    }
    // The contract goes with a job, the explanation with another reason.
    let employment = reason == Some("EMPLOYMENT");
    let other = reason == Some("OTHER");
    let out = page
        .run(
            "mutation($p: ID!, $r: ExitReasonKind!, $c: Contract, $e: String, $d: Date) {
                personExit(input: { personId: $p, reason: $r, contract: $c,
                    explanation: $e, exitedOn: $d }) { person { id } } }",
            json!({
                "p": id, "r": reason, "d": exited_on,
                "c": if employment { contract } else { None },
                "e": if other { given(&f.explanation) } else { None },
            }),
        )
        .await;
    if out.errors.is_empty() {
        return page.redirect(&format!("/people/{id}?fait=sortie#sortie"), Vec::new());
    }
    state.absorb(
        &out.errors,
        &[
            ("reason", "reason"),
            ("contract", "contract"),
            ("explanation", "explanation"),
            ("exitedOn", "exited_on"),
        ],
    );
    page.exit_page(&id, StatusCode::UNPROCESSABLE_ENTITY, state)
        .await
}

/// A member of the structure's staff, as the API lists them.
#[derive(Deserialize)]
pub(crate) struct Member {
    pub id: String,
    pub name: String,
    pub active: bool,
}

impl Page {
    /// The structure's whole staff, a page after another so the choice is
    /// never cut short; for its managers and admins (the API lists the team
    /// to them alone, and answers nobody to anyone else). A page the API
    /// fails to give is the error page, never a team cut short.
    pub(crate) async fn team(&self) -> Result<Vec<Member>, Box<Response>> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Team {
            staff_members: Paged<Member>,
        }
        if !self.nav(None).administers {
            return Ok(Vec::new());
        }
        let mut all = Vec::new();
        let mut after: Option<String> = None;
        // A structure's team is a few dozen; the bound only stops a
        // runaway loop.
        for _ in 0..20 {
            let team = self
                .run(
                    "query($after: String) { staffMembers(first: 100, after: $after) {
                        edges { node { id name active } } pageInfo { endCursor hasNextPage } } }",
                    json!({ "after": after }),
                )
                .await
                .read::<Team>()?;
            let (members, next) = team.staff_members.split();
            all.extend(members);
            match next {
                Some(cursor) => after = Some(cursor),
                None => break,
            }
        }
        Ok(all)
    }

    /// How the page names the members of the staff `named`: the viewer,
    /// and, for the managers, who read the team, each by name (the team is
    /// read only when one of them is not the viewer).
    pub(crate) async fn colleagues(&self, named: &[&str]) -> Result<Colleagues, Box<Response>> {
        let me = self.viewer.user.as_ref().map(|u| u.user_id.to_string());
        let team = if named.iter().all(|id| me.as_deref() == Some(*id)) {
            Vec::new()
        } else {
            self.team().await?
        };
        Ok(Colleagues { me, team })
    }
}

/// The staff members a page can name (see [`Page::colleagues`]).
pub(crate) struct Colleagues {
    me: Option<String>,
    team: Vec<Member>,
}

impl Colleagues {
    /// The viewer, a member of the team by name, or a colleague whose name
    /// the viewer does not read.
    fn named(&self, id: &str) -> Option<Option<&str>> {
        if self.me.as_deref() == Some(id) {
            return None;
        }
        Some(
            self.team
                .iter()
                .find(|m| m.id == id)
                .map(|m| m.name.as_str()),
        )
    }

    /// As a line of its own: « Vous », a name, « Un autre membre de
    /// l'équipe ».
    pub(crate) fn name(&self, id: &str) -> String {
        match self.named(id) {
            None => "Vous".to_owned(),
            Some(Some(name)) => name.to_owned(),
            Some(None) => "Un autre membre de l'équipe".to_owned(),
        }
    }

    /// Within a sentence, after « par » : « vous », a name, « un autre
    /// membre de l'équipe ».
    pub(crate) fn by(&self, id: &str) -> String {
        match self.named(id) {
            None => "vous".to_owned(),
            Some(Some(name)) => name.to_owned(),
            Some(None) => "un autre membre de l'équipe".to_owned(),
        }
    }
}

#[derive(Template)]
#[template(path = "person_referent.html")]
struct ReferentTemplate {
    nav: Nav,
    id: String,
    name: String,
    /// Each active member: id, name.
    members: Vec<(String, String)>,
    form: FormState,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Followed {
    #[serde(flatten)]
    name: PersonName,
    referent_id: String,
}

#[derive(Deserialize)]
struct FollowedAnswer {
    person: Option<Followed>,
}

impl Page {
    async fn referent_page(
        self,
        id: &str,
        status: StatusCode,
        mut form: Option<FormState>,
    ) -> Response {
        if !self.nav(None).reassigns {
            return message(
                StatusCode::FORBIDDEN,
                "Réservé aux responsables",
                "Seuls les responsables de la structure confient le suivi d'une personne à un autre membre de l'équipe.",
            );
        }
        let out = self
            .run(
                "query($p: ID!) { person(id: $p) { firstName lastName referentId } }",
                json!({ "p": id }),
            )
            .await;
        let answer: FollowedAnswer = read_or_return!(out);
        let Some(person) = answer.person else {
            return person_not_found();
        };
        let form = form
            .take()
            .unwrap_or_else(|| FormState::with(&[("referent", &person.referent_id)]));
        let team = match self.team().await {
            Ok(team) => team,
            Err(page) => return *page,
        };
        let members = team
            .into_iter()
            .filter(|m| m.active)
            .map(|m| (m.id, m.name))
            .collect();
        let body = ReferentTemplate {
            nav: self.nav(None),
            id: id.to_owned(),
            name: person.name.full(),
            members,
            form,
        }
        .render();
        self.render(status, body)
    }
}

pub(crate) async fn referent_form(page: Page, Path(id): Path<String>) -> Response {
    if page.viewer.user.is_none() {
        return page.sign_in_first();
    }
    page.referent_page(&id, StatusCode::OK, None).await
}

#[derive(Debug, Deserialize)]
pub(crate) struct ReferentForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    referent: String,
}

pub(crate) async fn referent_change(
    page: Page,
    Path(id): Path<String>,
    Form(f): Form<ReferentForm>,
) -> Response {
    if let Err(r) = page.checked(&f.csrf) {
        return *r;
    }
    let mut state = FormState::with(&[("referent", &f.referent)]);
    // An id is a UUID: anything else is no member of the team.
    let Some(referent) = given(&f.referent)
        .filter(|r| r.len() <= 36 && r.chars().all(|c| c.is_ascii_hexdigit() || c == '-'))
    else {
        state.errors.insert(
            "referent".into(),
            "Choisissez un membre de l'équipe.".into(),
        );
        return page
            .referent_page(&id, StatusCode::UNPROCESSABLE_ENTITY, Some(state))
            .await;
    };
    let out = page
        .run(
            "mutation($p: ID!, $r: ID!) {
                personReferentChange(input: { personId: $p, referentId: $r }) { person { id } } }",
            json!({ "p": id, "r": referent }),
        )
        .await;
    if out.errors.is_empty() {
        return page.redirect(&format!("/people/{id}?fait=referent#referent"), Vec::new());
    }
    state.absorb(&out.errors, &[("referentId", "referent")]);
    page.referent_page(&id, StatusCode::UNPROCESSABLE_ENTITY, Some(state))
        .await
}
