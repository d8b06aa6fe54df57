//! A person's mentorship (parrainage), started and ended by staff from
//! their file: `/people/{id}/parrainage` (`mentorshipStart`: who the mentor
//! is, their job, since when), prefilled from one of the possible mentors
//! the file or their whole list suggests (`?suggestion=1` to `20`, its rank
//! on the list's page, `&apres=` that page's cursor; never a name in the
//! address), and `/people/{id}/parrainages/{mentorship}/terminer`
//! (`mentorshipEnd`: when and why, after a confirmation). The file then
//! lists it, with its dates.

use askama::Template;
use axum::extract::{Form, Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use crate::answer::{Day, PersonName, person_not_found, read_or_return};
use crate::page::{
    BAD_DAY, FormState, Nav, PAGE_SIZE, Page, STALE_CHOICE, given, message, typed_day,
};

#[derive(Template)]
#[template(path = "mentorship_start.html")]
struct StartTemplate {
    nav: Nav,
    id: String,
    name: String,
    form: FormState,
}

#[derive(Template)]
#[template(path = "mentorship_end.html")]
struct EndTemplate {
    nav: Nav,
    id: String,
    name: String,
    mentorship: String,
    mentor: String,
    since: String,
    form: FormState,
}

#[derive(Deserialize)]
struct SuggestionsAnswer {
    person: Option<Suggestions>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Suggestions {
    possible_mentors: Edges<PossibleMentor>,
}

#[derive(Deserialize)]
struct Edges<T> {
    edges: Vec<Edge<T>>,
}

#[derive(Deserialize)]
struct Edge<T> {
    node: T,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PossibleMentor {
    name: String,
    mentor_job: Option<String>,
}

#[derive(Deserialize)]
struct MentorshipsAnswer {
    person: Option<Mentorships>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Mentorships {
    #[serde(flatten)]
    name: PersonName,
    mentorships: Vec<Mentorship>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Mentorship {
    id: String,
    started_on: Day,
    ended_on: Option<Day>,
    mentor: Option<String>,
}

fn not_found(what: &str) -> Response {
    message(StatusCode::NOT_FOUND, "Introuvable", what)
}

impl Page {
    /// The form, with `notice` above it when there is one.
    async fn start_page(
        self,
        id: &str,
        status: StatusCode,
        form: FormState,
        notice: Option<String>,
    ) -> Response {
        let name = match self.person_name(id).await {
            Ok(name) => name,
            Err(page) => return *page,
        };
        let body = StartTemplate {
            nav: self.nav(notice),
            id: id.to_owned(),
            name,
            form,
        }
        .render();
        self.render(status, body)
    }

    async fn end_page(
        self,
        id: &str,
        mentorship: &str,
        status: StatusCode,
        form: FormState,
    ) -> Response {
        let out = self
            .run(
                "query($p: ID!) { person(id: $p) { firstName lastName
                    mentorships { id startedOn endedOn mentor } } }",
                json!({ "p": id }),
            )
            .await;
        let answer: MentorshipsAnswer = read_or_return!(out);
        let Some(person) = answer.person else {
            return person_not_found();
        };
        let Some(m) = person
            .mentorships
            .into_iter()
            .find(|m| m.id == mentorship && m.ended_on.is_none())
        else {
            return not_found("Ce parrainage n'existe pas ou a déjà pris fin.");
        };
        let body = EndTemplate {
            nav: self.nav(None),
            id: id.to_owned(),
            name: person.name.full(),
            mentorship: m.id,
            mentor: m.mentor.unwrap_or_else(|| "(effacé)".to_owned()),
            since: m.started_on.french(),
            form,
        }
        .render();
        self.render(status, body)
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct StartQuery {
    /// The rank of the possible mentor suggested, from 1, on the list's
    /// page that starts after `apres` (the API's cursor, a place in the
    /// list), else on its first (the file's).
    #[serde(default)]
    suggestion: String,
    #[serde(default)]
    apres: String,
}

pub(crate) async fn start_form(
    page: Page,
    Path(id): Path<String>,
    Query(q): Query<StartQuery>,
) -> Response {
    if page.viewer.user.is_none() {
        return page.sign_in_first();
    }
    let today = page.api.gateway.handler.clock().today().to_string();
    let rank = q
        .suggestion
        .trim()
        .parse::<usize>()
        .ok()
        .filter(|r| (1..=PAGE_SIZE as usize).contains(r));
    let (mut mentor, mut job) = (String::new(), String::new());
    if let Some(rank) = rank {
        let out = page
            .run(
                "query($p: ID!, $n: Int!, $a: String) { person(id: $p) {
                    possibleMentors(first: $n, after: $a) { edges { node { name mentorJob } } } } }",
                json!({ "p": id, "n": rank, "a": given(&q.apres) }),
            )
            .await;
        // A list's page no longer valid: nobody prefilled rather than
        // someone else.
        if !out.bad_cursor() {
            let answer: SuggestionsAnswer = read_or_return!(out);
            let Some(person) = answer.person else {
                return person_not_found();
            };
            if let Some(edge) = person.possible_mentors.edges.into_iter().nth(rank - 1) {
                mentor = edge.node.name;
                job = edge.node.mentor_job.unwrap_or_default();
            }
        }
    }
    // A suggestion that no longer leads to anyone (its page's link no
    // longer valid, or the list moved) says so rather than leave the form
    // empty without a word.
    let stale = given(&q.suggestion).is_some() && mentor.is_empty();
    page.start_page(
        &id,
        StatusCode::OK,
        FormState::with(&[
            ("mentor", &mentor),
            ("mentor_job", &job),
            ("started_on", &today),
        ]),
        stale.then(|| STALE_CHOICE.to_owned()),
    )
    .await
}

#[derive(Debug, Deserialize)]
pub(crate) struct StartForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    mentor: String,
    #[serde(default)]
    mentor_job: String,
    #[serde(default)]
    started_on: String,
}

pub(crate) async fn start(
    page: Page,
    Path(id): Path<String>,
    Form(f): Form<StartForm>,
) -> Response {
    if page.viewer.user.is_none() {
        return page.sign_in_first();
    }
    if let Err(r) = page.checked(&f.csrf) {
        return *r;
    }
    let mut state = FormState::with(&[
        ("mentor", &f.mentor),
        ("mentor_job", &f.mentor_job),
        ("started_on", &f.started_on),
    ]);
    let Ok(started_on) = typed_day(&f.started_on) else {
        state.errors.insert("started_on".into(), BAD_DAY.into());
        return page
            .start_page(&id, StatusCode::UNPROCESSABLE_ENTITY, state, None)
            .await;
    };
    let out = page
        .run(
            "mutation($p: ID!, $m: String!, $j: String, $d: Date) {
                mentorshipStart(input: { personId: $p, mentor: $m, mentorJob: $j,
                    startedOn: $d }) { mentorshipId } }",
            json!({ "p": id, "m": f.mentor,
                "j": given(&f.mentor_job).map(str::to_uppercase), "d": started_on }),
        )
        .await;
    if out.errors.is_empty() {
        return page.redirect(&format!("/people/{id}#parrainages"), Vec::new());
    }
    state.absorb(
        &out.errors,
        &[
            ("mentor", "mentor"),
            ("mentorJob", "mentor_job"),
            ("startedOn", "started_on"),
        ],
    );
    page.start_page(&id, StatusCode::UNPROCESSABLE_ENTITY, state, None)
        .await
}

pub(crate) async fn end_form(
    page: Page,
    Path((id, mentorship)): Path<(String, String)>,
) -> Response {
    if page.viewer.user.is_none() {
        return page.sign_in_first();
    }
    let today = page.api.gateway.handler.clock().today().to_string();
    page.end_page(
        &id,
        &mentorship,
        StatusCode::OK,
        FormState::with(&[("ended_on", &today)]),
    )
    .await
}

#[derive(Debug, Deserialize)]
pub(crate) struct EndForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    ended_on: String,
    #[serde(default)]
    reason: String,
}

pub(crate) async fn end(
    page: Page,
    Path((id, mentorship)): Path<(String, String)>,
    Form(f): Form<EndForm>,
) -> Response {
    if page.viewer.user.is_none() {
        return page.sign_in_first();
    }
    if let Err(r) = page.checked(&f.csrf) {
        return *r;
    }
    let mut state = FormState::with(&[("ended_on", &f.ended_on), ("reason", &f.reason)]);
    let Ok(ended_on) = typed_day(&f.ended_on) else {
        state.errors.insert("ended_on".into(), BAD_DAY.into());
        return page
            .end_page(&id, &mentorship, StatusCode::UNPROCESSABLE_ENTITY, state)
            .await;
    };
    let out = page
        .run(
            "mutation($p: ID!, $m: ID!, $d: Date, $r: String) {
                mentorshipEnd(input: { personId: $p, mentorshipId: $m, endedOn: $d,
                    reason: $r }) { person { id } } }",
            json!({ "p": id, "m": mentorship, "d": ended_on, "r": given(&f.reason) }),
        )
        .await;
    if out.errors.is_empty() {
        return page.redirect(&format!("/people/{id}#parrainages"), Vec::new());
    }
    state.absorb(
        &out.errors,
        &[("endedOn", "ended_on"), ("reason", "reason")],
    );
    page.end_page(&id, &mentorship, StatusCode::UNPROCESSABLE_ENTITY, state)
        .await
}
