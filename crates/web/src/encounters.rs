//! What a person learned about a job by doing, logged from their file: a
//! job inquiry (`/people/{id}/enquete`, `jobInquiryLog`: a ROME code, with
//! whom, what they learned) and a meeting with a peer
//! (`/people/{id}/rencontre`, `peerMeetingLog`: who the peer is without
//! naming them, the jobs talked about, what they take away). Both on the
//! day given, today when left out; the file lists them.
//!
//! A meeting is logged once held (the API refuses a day to come), so a
//! peer the file suggests leads to its form to note it afterwards:
//! `?pair=2` (its rank on the list's page, `&apres=` that page's cursor,
//! never a name in the address) prefills it with them and the testimony it
//! comes from, which the meeting then names.

use askama::Template;
use axum::extract::{Form, Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use crate::answer::{PersonName, person_not_found};
use crate::page::{FormState, Nav, PAGE_SIZE, Page, STALE_CHOICE, given, parse_date};

/// Which of the two is logged.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encounter {
    Inquiry,
    Meeting,
}

impl Encounter {
    fn slug(self) -> &'static str {
        match self {
            Self::Inquiry => "enquete",
            Self::Meeting => "rencontre",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Self::Inquiry => "Noter une enquête métier",
            Self::Meeting => "Noter une rencontre avec un pair",
        }
    }

    fn section(self) -> &'static str {
        match self {
            Self::Inquiry => "enquetes",
            Self::Meeting => "pairs",
        }
    }
}

#[derive(Template)]
#[template(path = "encounter.html")]
struct EncounterTemplate {
    nav: Nav,
    id: String,
    name: String,
    inquiry: bool,
    slug: &'static str,
    title: &'static str,
    /// The peer suggested, when the form comes from one.
    peer: Option<PeerChoice>,
    /// Where the peer was suggested, carried by the form so that a refusal
    /// shows them again.
    pick: PeerPick,
    form: FormState,
}

/// A peer as the form shows them: their first name (staff read it on the
/// file; it is never recorded) and their testimonies, by id and account.
struct PeerChoice {
    first_name: String,
    testimonies: Vec<(String, String)>,
}

/// A peer the file or its list suggested: their rank on the list's page,
/// from 1, and that page's cursor (a place in the list, nobody's name).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct PeerPick {
    #[serde(default)]
    pair: String,
    #[serde(default)]
    apres: String,
}

impl PeerPick {
    fn rank(&self) -> Option<usize> {
        self.pair
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|r| (1..=PAGE_SIZE as usize).contains(r))
    }
}

#[derive(Deserialize)]
struct Answer {
    person: Option<Person>,
}

#[derive(Deserialize)]
struct Person {
    #[serde(flatten)]
    name: PersonName,
    #[serde(default)]
    peers: Option<Edges>,
}

#[derive(Deserialize)]
struct Edges {
    edges: Vec<Edge>,
}

#[derive(Deserialize)]
struct Edge {
    node: Peer,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Peer {
    first_name: String,
    testimonies: Vec<Testimony>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Testimony {
    id: String,
    account: String,
    rome_codes: Vec<String>,
}

impl Page {
    /// The person's name, and the peer picked when there is one (none when
    /// the list moved and the rank or cursor no longer leads anywhere).
    async fn encounter_lookup(
        &self,
        id: &str,
        pick: &PeerPick,
    ) -> Result<(String, Option<Peer>), Box<Response>> {
        let read = |rank: Option<usize>| {
            self.run(
                "query($p: ID!, $n: Int!, $a: String, $peer: Boolean!) {
                    person(id: $p) { firstName lastName
                    peers(first: $n, after: $a) @include(if: $peer) {
                        edges { node { firstName testimonies { id account romeCodes } } } } } }",
                // The cursor goes with the list only: read again without
                // it, a cursor the API refused is not sent again.
                json!({ "p": id, "n": rank.unwrap_or(1),
                    "a": rank.and(given(&pick.apres)), "peer": rank.is_some() }),
            )
        };
        let mut rank = pick.rank();
        let mut out = read(rank).await;
        if out.bad_cursor() {
            // A list's page no longer valid: nobody prefilled rather than
            // someone else.
            rank = None;
            out = read(None).await;
        }
        let Some(person) = out.read::<Answer>()?.person else {
            return Err(Box::new(person_not_found()));
        };
        let peer = rank.and_then(|rank| {
            person
                .peers
                .and_then(|p| p.edges.into_iter().nth(rank - 1))
                .map(|e| e.node)
        });
        Ok((person.name.full(), peer))
    }

    #[expect(clippy::too_many_arguments, reason = "one page's parts")]
    fn encounter_render(
        self,
        id: &str,
        kind: Encounter,
        status: StatusCode,
        form: FormState,
        name: String,
        peer: Option<Peer>,
        pick: PeerPick,
    ) -> Response {
        let mut form = form;
        // Without a peer's testimonies on the page there is no field for
        // the testimony's error to stand beside: the form says it.
        if peer.as_ref().is_none_or(|p| p.testimonies.is_empty())
            && let Some(error) = form.errors.remove("testimony")
        {
            form.general.get_or_insert(error);
        }
        // A peer picked who can no longer be found (the page's link no
        // longer valid, or the list moved) says so above the empty form.
        let stale = given(&pick.pair).is_some() && peer.is_none();
        let body = EncounterTemplate {
            nav: self.nav(stale.then(|| STALE_CHOICE.to_owned())),
            id: id.to_owned(),
            name,
            inquiry: kind == Encounter::Inquiry,
            slug: kind.slug(),
            title: kind.title(),
            peer: peer.map(|p| PeerChoice {
                first_name: p.first_name,
                testimonies: p
                    .testimonies
                    .into_iter()
                    .map(|t| (t.id, t.account))
                    .collect(),
            }),
            pick,
            form,
        }
        .render();
        self.render(status, body)
    }

    async fn encounter_page(
        self,
        id: &str,
        kind: Encounter,
        status: StatusCode,
        form: FormState,
        pick: PeerPick,
    ) -> Response {
        let (name, peer) = match self.encounter_lookup(id, &pick).await {
            Ok(found) => found,
            Err(page) => return *page,
        };
        self.encounter_render(id, kind, status, form, name, peer, pick)
    }
}

pub(crate) async fn inquiry_form(page: Page, Path(id): Path<String>) -> Response {
    if page.viewer.user.is_none() {
        return page.sign_in_first();
    }
    let today = page.api.gateway.handler.clock().today().to_string();
    page.encounter_page(
        &id,
        Encounter::Inquiry,
        StatusCode::OK,
        FormState::with(&[("held_on", &today)]),
        PeerPick::default(),
    )
    .await
}

/// The meeting's form, prefilled from the peer picked: who they are
/// without naming them, the jobs of the testimony it comes from (its
/// first, else of them all), that testimony chosen.
pub(crate) async fn meeting_form(
    page: Page,
    Path(id): Path<String>,
    Query(pick): Query<PeerPick>,
) -> Response {
    if page.viewer.user.is_none() {
        return page.sign_in_first();
    }
    let today = page.api.gateway.handler.clock().today().to_string();
    let (name, peer) = match page.encounter_lookup(&id, &pick).await {
        Ok(found) => found,
        Err(page) => return *page,
    };
    let mut values = vec![("held_on", today)];
    if let Some(peer) = &peer {
        let codes: Vec<&str> = match peer.testimonies.first() {
            Some(t) if !t.rome_codes.is_empty() => {
                t.rome_codes.iter().map(String::as_str).collect()
            }
            _ => {
                let mut all: Vec<&str> = Vec::new();
                for c in peer.testimonies.iter().flat_map(|t| &t.rome_codes) {
                    if !all.contains(&c.as_str()) {
                        all.push(c);
                    }
                }
                all
            }
        };
        values.push(("peer", "Une personne qui a fait ce chemin".to_owned()));
        values.push(("rome", codes.join(" ")));
        if let Some(t) = peer.testimonies.first() {
            values.push(("testimony", t.id.clone()));
        }
    }
    let values: Vec<(&str, &str)> = values.iter().map(|(k, v)| (*k, v.as_str())).collect();
    page.encounter_render(
        &id,
        Encounter::Meeting,
        StatusCode::OK,
        FormState::with(&values),
        name,
        peer,
        pick,
    )
}

#[derive(Debug, Deserialize)]
pub(crate) struct EncounterForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    held_on: String,
    /// The inquiry's job, or the jobs talked about with the peer.
    #[serde(default)]
    rome: String,
    #[serde(default)]
    with_whom: String,
    #[serde(default)]
    peer: String,
    /// What the person learned, or takes away.
    #[serde(default)]
    learned: String,
    /// The testimony the meeting comes from: its id, none when left out.
    #[serde(default)]
    testimony: String,
    #[serde(default)]
    pair: String,
    #[serde(default)]
    apres: String,
}

async fn log(page: Page, id: String, kind: Encounter, f: EncounterForm) -> Response {
    if let Err(r) = page.checked(&f.csrf) {
        return *r;
    }
    let mut state = FormState::with(&[
        ("held_on", &f.held_on),
        ("rome", &f.rome),
        ("with_whom", &f.with_whom),
        ("peer", &f.peer),
        ("learned", &f.learned),
        ("testimony", &f.testimony),
    ]);
    let pick = PeerPick {
        pair: f.pair.clone(),
        apres: f.apres.clone(),
    };
    let held_on = match given(&f.held_on) {
        None => None,
        Some(typed) => match parse_date(typed) {
            Some(day) => Some(day.to_string()),
            None => {
                state.errors.insert(
                    "held_on".into(),
                    "Indiquez la date (jour, mois, année), ou laissez vide pour aujourd'hui."
                        .into(),
                );
                return page
                    .encounter_page(&id, kind, StatusCode::UNPROCESSABLE_ENTITY, state, pick)
                    .await;
            }
        },
    };
    let codes = crate::page::typed_rome_codes(&f.rome);
    let out = match kind {
        Encounter::Inquiry => {
            page.run(
                "mutation($p: ID!, $d: Date, $r: String!, $w: String!, $l: String) {
                    jobInquiryLog(input: { personId: $p, heldOn: $d, romeCode: $r,
                        withWhom: $w, learned: $l }) { inquiryId } }",
                json!({ "p": id, "d": held_on, "r": f.rome.trim().to_uppercase(),
                    "w": f.with_whom, "l": given(&f.learned) }),
            )
            .await
        }
        Encounter::Meeting => {
            page.run(
                "mutation($p: ID!, $d: Date, $r: [String!]!, $w: String!, $l: String,
                    $t: ID) {
                    peerMeetingLog(input: { personId: $p, heldOn: $d, romeCodes: $r,
                        peer: $w, takeaways: $l, testimonyId: $t }) { meetingId } }",
                json!({ "p": id, "d": held_on, "r": codes, "w": f.peer,
                    "l": given(&f.learned), "t": given(&f.testimony) }),
            )
            .await
        }
    };
    if out.errors.is_empty() {
        return page.redirect(&format!("/people/{id}#{}", kind.section()), Vec::new());
    }
    state.absorb(
        &out.errors,
        &[
            ("heldOn", "held_on"),
            ("romeCode", "rome"),
            ("romeCodes", "rome"),
            ("withWhom", "with_whom"),
            ("peer", "peer"),
            ("learned", "learned"),
            ("takeaways", "learned"),
            ("testimonyId", "testimony"),
        ],
    );
    page.encounter_page(&id, kind, StatusCode::UNPROCESSABLE_ENTITY, state, pick)
        .await
}

pub(crate) async fn inquiry_log(
    page: Page,
    Path(id): Path<String>,
    Form(f): Form<EncounterForm>,
) -> Response {
    log(page, id, Encounter::Inquiry, f).await
}

pub(crate) async fn meeting_log(
    page: Page,
    Path(id): Path<String>,
    Form(f): Form<EncounterForm>,
) -> Response {
    log(page, id, Encounter::Meeting, f).await
}
