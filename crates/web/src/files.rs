//! A mediator's files: an employer (its needs, the visits of every
//! structure and the immersions it hosted for the viewer's structure) and
//! a need, as the inbox links to them.

use askama::Template;
use std::collections::HashMap;

use axum::extract::{Form, Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use passerelle_domain::employer::{EmployerField, VisitPurpose};
use passerelle_domain::immersion::{Milestone, Stage};
use passerelle_domain::need::{HiringIntent, Horizon, NeedCloseReasonKind, NeedSource};
use serde::Deserialize;
use serde_json::json;

use passerelle_domain::fr;

use crate::answer::{Code, Day, Paged, PersonName, RomeMatch, read_or_return};
use crate::correction::Corrected;
use crate::home::{Notice, notice};
use crate::labels::{CLOSE_REASONS, HORIZONS, INTENTS, offer_published};
use crate::page::{
    FormState, Nav, PAGE_SIZE, Page, Pager, STALE_PAGE, encode, given, list_pager, message,
};

#[derive(Template)]
#[template(path = "employer.html")]
struct EmployerTemplate {
    nav: Nav,
    id: String,
    name: String,
    place: String,
    /// Id, what, then its details.
    needs: Vec<(String, String, String)>,
    /// The needs' next and first pages, when there are.
    needs_pager: Pager,
    /// Id, date, purpose, observations.
    visits: Vec<(String, String, String, String)>,
    /// The visits' next and first pages, when there are.
    visits_pager: Pager,
    /// The immersions it hosted: a page of them.
    hosted: Vec<Hosted>,
    /// The hosted immersions' next and first pages, when there are.
    hosted_pager: Pager,
    /// Date, by whom, the fields in French, why.
    corrections: Vec<(String, String, String, String)>,
    /// How many immersions it hosts at once, in words.
    capacity: String,
    /// When it was set, and staff's notes with it.
    capacity_set: Option<(String, Option<String>)>,
    /// Its contacts the viewer manages.
    contacts: Vec<ContactShown>,
    /// Its contacts taken off the list that the viewer may still erase.
    removed_contacts: Vec<ContactShown>,
}

/// A contact as the establishment's file shows it.
struct ContactShown {
    id: String,
    /// Its name, else its address, else that its data was erased.
    who: String,
    /// Its job title, address and phone, those given, in one line.
    details: String,
    may_erase: bool,
    /// When it was taken off the list, in French; empty while on it.
    removed_on: String,
}

/// An immersion the establishment hosted, as its file lists it.
struct Hosted {
    id: String,
    /// The person's name, as the viewer may read it.
    person: String,
    /// Its dates, or that they are to be set and when it was proposed.
    when: String,
    /// Where it stands, in French.
    stage: &'static str,
    /// When its outcome was noted, in French.
    outcomes: String,
}

#[derive(Template)]
#[template(path = "need.html")]
struct NeedTemplate {
    nav: Nav,
    id: String,
    employer: String,
    employer_id: String,
    activities: String,
    jobs: Vec<String>,
    conditions: Option<String>,
    horizon: String,
    intent: String,
    headcount: i64,
    origin: String,
    /// Where it stands, in French; open, its actions are offered.
    status: &'static str,
    /// When and why it was closed, once it was.
    closure: Option<String>,
    /// Formalised as an offer: « Offre publiée : <reference>, le <day> ».
    offer: Option<String>,
    open: bool,
    /// « qualifié le <day> », once it was.
    qualified: Option<String>,
    /// Id, name, why their project fits: a page of them.
    matching: Vec<(String, String, String)>,
    matching_pager: Pager,
    /// Date, by whom, the description it gave, why; newest first.
    corrections: Vec<(String, String, String, String)>,
    /// The actions' fields (the qualification's start from the need).
    form: FormState,
    /// The action refused, and why.
    refused: Option<(String, String)>,
    horizons: &'static [(&'static str, &'static str)],
    intents: &'static [(&'static str, &'static str)],
    reasons: &'static [(&'static str, &'static str)],
}

/// Where a need was heard, as the end of a sentence.
fn origin(source: Code<NeedSource>) -> &'static str {
    match source.0 {
        NeedSource::Portal => "sur le portail employeur",
        NeedSource::Phone => "au téléphone",
        NeedSource::Visit { .. } => "lors d'une visite",
    }
}

#[derive(Deserialize)]
struct EmployerAnswer {
    employer: Option<EmployerFile>,
    immersions: Paged<HostedLine>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HostedLine {
    id: String,
    person_id: String,
    current_stage: Code<Stage>,
    period_start: Option<Day>,
    period_end: Option<Day>,
    proposed_on: Day,
    outcome_milestones: Vec<Code<Milestone>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EmployerFile {
    id: String,
    name: String,
    commune_name: Option<String>,
    naf_label: Option<String>,
    surfaced_needs: Paged<Listed>,
    logged_visits: Paged<VisitLine>,
    /// Null only for a viewer who does not reach the file.
    corrections: Option<Vec<CorrectionLine>>,
    simultaneous_immersions: Option<i64>,
    hosting_capacity: Option<CapacitySet>,
    contacts: Vec<ContactLine>,
    removed_contacts: Vec<ContactLine>,
}

/// The hosting capacity as last set: staff's notes, and when.
#[derive(Deserialize)]
struct CapacitySet {
    notes: Option<String>,
    recorded: At,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ContactLine {
    id: String,
    /// Null once the contact's data was erased, or once removed.
    email: Option<String>,
    may_erase: bool,
    /// Null once the contact's data was erased.
    name: Option<String>,
    job_title: Option<String>,
    phone: Option<String>,
    removal: Option<At>,
}

/// When something was recorded.
#[derive(Deserialize)]
struct At {
    at: String,
}

impl ContactLine {
    fn shown(self) -> ContactShown {
        let who = self
            .name
            .clone()
            .or_else(|| self.email.clone())
            .unwrap_or_else(|| "Contact dont les données sont effacées".to_owned());
        let details = [
            self.job_title,
            self.email.filter(|e| self.name.is_some() && !e.is_empty()),
            self.phone.as_deref().map(crate::answer::phone),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" · ");
        ContactShown {
            id: self.id,
            who,
            details,
            may_erase: self.may_erase,
            removed_on: self
                .removal
                .map(|r| crate::answer::moment(&r.at))
                .unwrap_or_default(),
        }
    }
}

/// An establishment's hosting capacity as its file says it.
fn capacity(simultaneous: Option<i64>) -> String {
    match simultaneous {
        None => "Pas encore renseignée.".to_owned(),
        Some(0) => "N'accueille pas d'immersion pour le moment.".to_owned(),
        Some(1) => "Une immersion à la fois.".to_owned(),
        Some(n) => format!("Jusqu'à {n} immersions en même temps."),
    }
}

/// Where the employer's file starts each of its lists: after a cursor of
/// the API's (a day and an id, nobody's name), else at the beginning.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct FilePages {
    #[serde(default)]
    besoins: String,
    #[serde(default)]
    visites: String,
    #[serde(default)]
    accueils: String,
}

impl FilePages {
    /// The links of one list's pages: the next one (`next`, its cursor),
    /// the first one when this is not it; the other lists stay on their
    /// pages, and the link leads back to the list's section.
    fn pager(&self, id: &str, list: &str, next: Option<String>) -> Pager {
        list_pager(
            &format!("/employers/{}", encode(id)),
            &[
                ("besoins", &self.besoins),
                ("visites", &self.visites),
                ("accueils", &self.accueils),
            ],
            list,
            next,
        )
    }
}

#[derive(Deserialize)]
struct CorrectionLine {
    fields: Vec<Code<EmployerField>>,
    #[serde(flatten)]
    corrected: Corrected,
}

/// A need's correction: the whole description as it reads since.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NeedCorrectionLine {
    activities: String,
    rome_codes: Vec<String>,
    conditions: Option<String>,
    headcount: i64,
    needed_within: Code<Horizon>,
    would_hire: Code<HiringIntent>,
    #[serde(flatten)]
    corrected: Corrected,
}

impl NeedCorrectionLine {
    /// The description it gave, each field with its French name.
    fn described(&self) -> String {
        let mut parts = vec![format!("Tâches : {}", self.activities)];
        if !self.rome_codes.is_empty() {
            let jobs: Vec<String> = self.rome_codes.iter().map(|c| fr::rome(c)).collect();
            parts.push(format!("Métiers : {}", jobs.join(" ; ")));
        }
        if let Some(c) = &self.conditions {
            parts.push(format!("Conditions : {c}"));
        }
        parts.push(format!("Personnes : {}", self.headcount));
        parts.push(format!("Pour quand : {}", self.needed_within.french()));
        parts.push(format!("Embauche envisagée : {}", self.would_hire.french()));
        parts.join(" ; ")
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Listed {
    id: String,
    activities: String,
    #[serde(rename = "neededWithin")]
    horizon: Code<Horizon>,
    #[serde(rename = "sourceKind")]
    source: Code<NeedSource>,
    surfaced_on: Day,
    current_status: NeedStatus,
    offer_reference: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct VisitLine {
    id: String,
    visited_on: Day,
    purpose: Code<VisitPurpose>,
    observations: Option<String>,
}

#[derive(Deserialize)]
struct NeedAnswer {
    need: Option<NeedFile>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NeedFile {
    employer_id: String,
    current_status: NeedStatus,
    qualified: bool,
    rome_codes: Vec<String>,
    matching_people: Paged<Matching>,
    activities: String,
    conditions: Option<String>,
    headcount: i64,
    #[serde(rename = "neededWithin")]
    horizon: Code<Horizon>,
    #[serde(rename = "wouldHire")]
    hiring_intent: Code<HiringIntent>,
    #[serde(rename = "sourceKind")]
    source: Code<NeedSource>,
    surfaced_on: Day,
    /// Null only for a viewer who does not reach the establishment.
    corrections: Option<Vec<NeedCorrectionLine>>,
    offer_reference: Option<String>,
    qualification: Option<Qualification>,
    formalisation: Option<Formalisation>,
    closure: Option<Closure>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Qualification {
    qualified_on: Day,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Formalisation {
    formalised_on: Day,
}

/// How a need was closed.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Closure {
    reason: Code<NeedCloseReasonKind>,
    explanation: Option<String>,
    closed_on: Day,
}

impl Closure {
    /// « Le 4 mai 2026 : besoin pourvu » (with the explanation).
    fn said(&self) -> String {
        let mut said = format!(
            "Le {} : {}",
            self.closed_on.french(),
            self.reason.french().to_lowercase()
        );
        if let Some(why) = &self.explanation {
            said.push_str(&format!(" ({why})"));
        }
        said
    }
}

#[derive(Deserialize, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
enum NeedStatus {
    Open,
    FormalisedAsOffer,
    Closed,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Matching {
    person_id: String,
    #[serde(flatten)]
    name: PersonName,
    rome_match: RomeMatch,
    target_rome_codes: Vec<String>,
}

fn not_found() -> Response {
    message(
        StatusCode::NOT_FOUND,
        "Introuvable",
        "Cette fiche n'existe pas ou ne vous est pas accessible.",
    )
}

/// The employer's file: its lists a page at a time, and the immersions it
/// hosted as the viewer may list them (their structure's, by the policy).
const EMPLOYER_FILE: &str = "query($e: ID!, $first: Int!, $needsAfter: String,
    $visitsAfter: String, $hostedAfter: String) {
    employer(id: $e) { id name communeName nafLabel
    surfacedNeeds(first: $first, after: $needsAfter) {
        edges { node { id activities neededWithin sourceKind surfacedOn
            currentStatus offerReference } }
        pageInfo { endCursor hasNextPage } }
    loggedVisits(first: $first, after: $visitsAfter) {
        edges { node { id visitedOn purpose observations } }
        pageInfo { endCursor hasNextPage } }
    corrections { fields reason correctedOn recorded { role } }
    simultaneousImmersions hostingCapacity { notes recorded { at } }
    contacts { ...Contact } removedContacts { ...Contact } }
    immersions(first: $first, after: $hostedAfter, filter: { employerId: $e }) {
        edges { node { id personId currentStage periodStart periodEnd proposedOn
            outcomeMilestones } }
        pageInfo { endCursor hasNextPage } } }
fragment Contact on EmployerContact { id email mayErase name jobTitle phone removal { at } }";

/// The employer file's variables: its id and where each list starts.
fn file_variables(id: &str, at: &FilePages) -> serde_json::Value {
    json!({
        "e": id,
        "first": PAGE_SIZE,
        "needsAfter": given(&at.besoins),
        "visitsAfter": given(&at.visites),
        "hostedAfter": given(&at.accueils),
    })
}

pub(crate) async fn employer(
    page: Page,
    Path(id): Path<String>,
    Query(q): Query<Notice>,
    Query(at): Query<FilePages>,
) -> Response {
    if page.viewer.user.is_none() {
        return page.sign_in_first();
    }
    let mut notice = notice(&q);
    let mut at = at;
    let mut out = page.run(EMPLOYER_FILE, file_variables(&id, &at)).await;
    if out.bad_cursor() {
        // A page's link no longer valid: every list (needs, visits,
        // immersions) from its start.
        at = FilePages::default();
        notice = Some(STALE_PAGE.to_owned());
        out = page.run(EMPLOYER_FILE, file_variables(&id, &at)).await;
    }
    let answer: EmployerAnswer = read_or_return!(out);
    let Some(e) = answer.employer else {
        return not_found();
    };
    let (needs, next_needs) = e.surfaced_needs.split();
    let (visits, next_visits) = e.logged_visits.split();
    let needs_pager = at.pager(&e.id, "besoins", next_needs);
    let visits_pager = at.pager(&e.id, "visites", next_visits);
    let (hosted, next_hosted) = answer.immersions.split();
    let hosted_pager = at.pager(&e.id, "accueils", next_hosted);
    let names = match page
        .person_names(hosted.iter().map(|h| h.person_id.as_str()))
        .await
    {
        Ok(names) => names,
        Err(r) => return *r,
    };
    let hosted = hosted
        .into_iter()
        .map(|h| Hosted {
            person: named(&names, &h.person_id),
            when: immersion_dates(h.period_start, h.period_end, h.proposed_on),
            stage: h.current_stage.french(),
            outcomes: h
                .outcome_milestones
                .into_iter()
                .map(|m| m.french().to_owned())
                .collect::<Vec<_>>()
                .join(", "),
            id: h.id,
        })
        .collect();
    let needs = needs
        .into_iter()
        .map(|n| {
            let mut details = format!(
                "{}, exprimé le {} {}",
                n.horizon.french(),
                n.surfaced_on.french(),
                origin(n.source)
            );
            match n.current_status {
                NeedStatus::Open => {}
                NeedStatus::FormalisedAsOffer => details.push_str(&format!(
                    " ; {}",
                    offer_published(n.offer_reference.as_deref())
                )),
                NeedStatus::Closed => details.push_str(" ; clos"),
            }
            (n.id, n.activities, details)
        })
        .collect();
    let visits = visits
        .into_iter()
        .map(|v| {
            (
                v.id,
                v.visited_on.french(),
                v.purpose.french().to_lowercase(),
                v.observations.unwrap_or_default(),
            )
        })
        .collect();
    // Newest first, as the visits.
    let corrections = e
        .corrections
        .unwrap_or_default()
        .into_iter()
        .rev()
        .map(|c| {
            let fields: Vec<&str> = c.fields.into_iter().map(Code::french).collect();
            c.corrected.shown(fields.join(", "))
        })
        .collect();
    let place = [e.commune_name, e.naf_label]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" – ");
    let body = EmployerTemplate {
        nav: page.nav(notice),
        id: e.id,
        name: e.name,
        place,
        needs,
        needs_pager,
        visits,
        visits_pager,
        hosted,
        hosted_pager,
        corrections,
        capacity: capacity(e.simultaneous_immersions),
        capacity_set: e
            .hosting_capacity
            .map(|c| (crate::answer::moment(&c.recorded.at), c.notes)),
        contacts: e.contacts.into_iter().map(ContactLine::shown).collect(),
        removed_contacts: e
            .removed_contacts
            .into_iter()
            .map(ContactLine::shown)
            .collect(),
    }
    .render();
    page.render(StatusCode::OK, body)
}

impl Page {
    /// The full names of the people of a page's list, by id ([`named`]): those the
    /// viewer reads (a person out of reach is left out, an erased one named
    /// so).
    pub(crate) async fn person_names(
        &self,
        ids: impl Iterator<Item = &str>,
    ) -> Result<HashMap<String, String>, Box<Response>> {
        let mut ids: Vec<&str> = ids.collect();
        ids.sort_unstable();
        ids.dedup();
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        // One operation per person, written out whole so that the pages'
        // operations are checked against the schema: 20 at most, in the
        // process.
        let mut names = HashMap::new();
        for id in ids {
            if let Some(name) = self.readable_person_name(id).await? {
                names.insert(id.to_owned(), name);
            }
        }
        Ok(names)
    }
}

/// A person of a list by the name [`Page::person_names`] read, else as
/// someone the viewer does not read.
pub(crate) fn named(names: &HashMap<String, String>, id: &str) -> String {
    names
        .get(id)
        .cloned()
        .unwrap_or_else(|| "Une personne accompagnée".to_owned())
}

/// An immersion's dates as a list says them, or that they are to be set
/// and when it was proposed.
pub(crate) fn immersion_dates(start: Option<Day>, end: Option<Day>, proposed_on: Day) -> String {
    match (start, end) {
        (Some(start), Some(end)) => fr::range(start.0, end.0),
        _ => format!("dates à fixer (proposée le {})", proposed_on.french()),
    }
}

/// Where a need's page starts the people whose project fits: after a
/// cursor of the API's (nobody's name), else at the beginning.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct NeedPages {
    #[serde(default)]
    personnes: String,
}

pub(crate) async fn need(
    page: Page,
    Path(id): Path<String>,
    Query(q): Query<Notice>,
    Query(at): Query<NeedPages>,
) -> Response {
    if page.viewer.user.is_none() {
        return page.sign_in_first();
    }
    let done = notice(&q);
    page.need_page_at(&id, StatusCode::OK, None, None, done, given(&at.personnes))
        .await
}

impl Page {
    /// A need's file; `form` holds what an action refused was given.
    async fn need_page(
        self,
        id: &str,
        status: StatusCode,
        form: Option<FormState>,
        refused: Option<(String, String)>,
        done: Option<String>,
    ) -> Response {
        self.need_page_at(id, status, form, refused, done, None)
            .await
    }

    /// A need's file, the people whose project fits from after
    /// `people_after` (a cursor), else from the start.
    async fn need_page_at(
        self,
        id: &str,
        status: StatusCode,
        form: Option<FormState>,
        refused: Option<(String, String)>,
        mut done: Option<String>,
        mut people_after: Option<&str>,
    ) -> Response {
        let read = |after: Option<&str>| {
            self.run(
                "query($n: ID!, $first: Int!, $after: String) { need(id: $n) {
                    employerId currentStatus offerReference qualified romeCodes
                    activities conditions headcount neededWithin wouldHire sourceKind surfacedOn
                    corrections { activities romeCodes conditions headcount neededWithin wouldHire
                        reason correctedOn recorded { role } }
                    qualification { qualifiedOn } formalisation { formalisedOn }
                    closure { reason explanation closedOn }
                    matchingPeople(first: $first, after: $after) {
                        edges { node { personId firstName lastName romeMatch targetRomeCodes } }
                        pageInfo { endCursor hasNextPage } } } }",
                json!({ "n": id, "first": PAGE_SIZE, "after": after }),
            )
        };
        let mut out = read(people_after).await;
        if out.bad_cursor() && people_after.is_some() {
            people_after = None;
            done = Some(STALE_PAGE.to_owned());
            out = read(None).await;
        }
        let answer: NeedAnswer = read_or_return!(out);
        let Some(n) = answer.need else {
            return not_found();
        };
        let host = match self.employer_name(&n.employer_id).await {
            Ok(name) => name,
            Err(page) => return *page,
        };
        let form = form.unwrap_or_else(|| {
            let headcount = n.headcount.to_string();
            FormState::with(&[
                ("activities", &n.activities),
                ("conditions", n.conditions.as_deref().unwrap_or_default()),
                ("headcount", &headcount),
                ("horizon", &n.horizon.name()),
                ("hiring_intent", &n.hiring_intent.name()),
                ("rome_codes", &n.rome_codes.join(" ")),
            ])
        });
        let (matching, next) = n.matching_people.split();
        let matching_pager = list_pager(
            &format!("/needs/{}", encode(id)),
            &[("personnes", people_after.unwrap_or_default())],
            "personnes",
            next,
        );
        let matching = matching
            .into_iter()
            .map(|m| {
                let jobs = m
                    .target_rome_codes
                    .iter()
                    .map(|c| fr::rome(c))
                    .collect::<Vec<_>>()
                    .join(" ; ");
                (
                    m.person_id,
                    m.name.full(),
                    format!("Vise {} : {jobs}", m.rome_match.french()),
                )
            })
            .collect();
        let corrections = n
            .corrections
            .unwrap_or_default()
            .into_iter()
            .rev()
            .map(|c| {
                let described = c.described();
                c.corrected.shown(described)
            })
            .collect();
        let body = NeedTemplate {
            nav: self.nav(done),
            id: id.to_owned(),
            employer: host.unwrap_or_else(|| "l'employeur".to_owned()),
            employer_id: n.employer_id,
            jobs: n.rome_codes.iter().map(|c| fr::rome(c)).collect(),
            activities: n.activities,
            conditions: n.conditions,
            horizon: n.horizon.french().to_owned(),
            intent: n.hiring_intent.french().to_owned(),
            headcount: n.headcount,
            origin: format!("Le {}, {}", n.surfaced_on.french(), origin(n.source)),
            status: match n.current_status {
                NeedStatus::Open => "Ouvert",
                NeedStatus::FormalisedAsOffer => "Formalisé en offre d'emploi",
                NeedStatus::Closed => "Clos",
            },
            closure: n.closure.as_ref().map(Closure::said),
            offer: (n.current_status == NeedStatus::FormalisedAsOffer).then(|| {
                let offer = offer_published(n.offer_reference.as_deref());
                match &n.formalisation {
                    Some(f) => format!("{offer}, le {}", f.formalised_on.french()),
                    None => offer,
                }
            }),
            open: n.current_status == NeedStatus::Open,
            qualified: n.qualified.then(|| match &n.qualification {
                Some(q) => format!("qualifié le {}", q.qualified_on.french()),
                None => "qualifié".to_owned(),
            }),
            matching,
            matching_pager,
            corrections,
            form,
            refused,
            horizons: &HORIZONS,
            intents: &INTENTS,
            reasons: &CLOSE_REASONS,
        }
        .render();
        self.render(status, body)
    }
}

/// A need's actions, posted from its file: qualified (its description
/// made precise, with its jobs), closed (with why), formalised as an offer.
pub(crate) async fn need_action(
    page: Page,
    Path((id, action)): Path<(String, String)>,
    Form(fields): Form<HashMap<String, String>>,
) -> Response {
    if page.viewer.user.is_none() {
        return page.sign_in_first();
    }
    let get = |k: &str| fields.get(k).map_or("", String::as_str);
    if let Err(r) = page.checked(get("csrf")) {
        return *r;
    }
    let optional = |k: &str| given(get(k)).map(str::to_owned);
    // Each action's day, today when left blank; one typed that is not a
    // date is said beside its field before the API reads it.
    let day_field = match action.as_str() {
        "qualifier" => "qualified_on",
        "clore" => "closed_on",
        "offre" => "formalised_on",
        _ => return not_found(),
    };
    let day = crate::page::typed_day(get(day_field));
    let (query, variables, names): (&str, _, &[(&str, &str)]) = match action.as_str() {
        "qualifier" => (
            "mutation($i: NeedQualifyInput!) { needQualify(input: $i) { need { id } } }",
            json!({ "i": {
                "needId": id,
                "description": {
                    "activities": get("activities"),
                    "conditions": optional("conditions"),
                    "headcount": get("headcount").trim().parse::<i64>().unwrap_or(0),
                    "horizon": get("horizon"),
                    "hiringIntent": get("hiring_intent"),
                    "romeCodes": get("rome_codes")
                        .split(|c: char| c == ',' || c == ';' || c.is_whitespace())
                        .filter(|c| !c.is_empty())
                        .take(21)
                        .map(str::to_ascii_uppercase)
                        .collect::<Vec<_>>(),
                },
                "qualifiedOn": day.clone().ok().flatten(),
            } }),
            &[
                ("qualifiedOn", "qualified_on"),
                ("activities", "activities"),
                ("conditions", "conditions"),
                ("headcount", "headcount"),
                ("horizon", "horizon"),
                ("hiringIntent", "hiring_intent"),
                ("romeCodes", "rome_codes"),
            ],
        ),
        "clore" => (
            "mutation($i: NeedCloseInput!) { needClose(input: $i) { need { id } } }",
            json!({ "i": {
                "needId": id,
                "reason": get("reason"),
                "explanation": optional("explanation"),
                "closedOn": day.clone().ok().flatten(),
            } }),
            &[
                ("reason", "reason"),
                ("explanation", "explanation"),
                ("closedOn", "closed_on"),
            ],
        ),
        "offre" => (
            "mutation($i: NeedFormaliseInput!) { needFormalise(input: $i) { need { id } } }",
            json!({ "i": { "needId": id, "offerReference": optional("offer_reference"),
                "formalisedOn": day.clone().ok().flatten() } }),
            &[
                ("offerReference", "offer_reference"),
                ("formalisedOn", "formalised_on"),
            ],
        ),
        _ => return not_found(),
    };
    let values: Vec<(&str, &str)> = fields
        .iter()
        .filter(|(k, _)| k.as_str() != "csrf")
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut form = FormState::with(&values);
    if day.is_err() {
        form.errors
            .insert(day_field.into(), crate::page::BAD_DAY.into());
    }
    // A list's value that the page did not offer is refused beside it, in
    // the list's words, before the API reads it.
    match action.as_str() {
        "qualifier" => {
            form.offered(
                "horizon",
                get("horizon"),
                &HORIZONS,
                "Choisissez l'une des échéances de la liste.",
            );
            form.offered(
                "hiring_intent",
                get("hiring_intent"),
                &INTENTS,
                "Choisissez l'une des réponses proposées.",
            );
        }
        "clore" => {
            form.offered(
                "reason",
                get("reason"),
                &CLOSE_REASONS,
                "Choisissez le motif de la clôture dans la liste.",
            );
        }
        _ => {}
    }
    if form.errors.is_empty() {
        let errors = page.run(query, variables).await.errors;
        if errors.is_empty() {
            return page.redirect(&format!("/needs/{id}"), Vec::new());
        }
        form.absorb(&errors, names);
    }
    let refused = form.general.take().map(|m| (action.clone(), m));
    page.need_page(
        &id,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some(form),
        refused,
        None,
    )
    .await
}
