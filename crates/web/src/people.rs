//! A mediator's people: the list, and a person's file — the path as it
//! happened, the project's versions with what caused each change, and the
//! project readjusted from an immersion's feedback.

use askama::Template;
use axum::extract::{Form, Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use passerelle_domain::fr;
use serde::Deserialize;
use serde_json::json;

use passerelle_domain::immersion::{FeedbackAuthor, Stage};

use passerelle_domain::fr::{Labelled as _, event_label};

use crate::answer::{
    Code, Day, Paged, PersonName, Proximity, RomeMatch, commune_name, read_or_return,
};
use crate::home::{Notice, notice};
use crate::labels::{CONTRACTS, PERSON_STAGES, offers};
use crate::page::{
    Fields, FormState, ListQuery, Nav, PAGE_SIZE, Page, Pager, STALE_PAGE, encode, given,
    list_href, message, parse_date,
};
use crate::path_steps::{Line, STEPS_FRAGMENT, Steps};
use crate::person_exit::Member;
use crate::project::{ProjectVersion, VERSION_FRAGMENT};

#[derive(Template)]
#[template(path = "people.html")]
struct PeopleTemplate {
    nav: Nav,
    form: FormState,
    searched: bool,
    people: Vec<Row>,
    pager: Pager,
    /// A search by name goes by POST, so the name stays out of URLs: its
    /// next page is a POST too, carrying the search and the cursor.
    posted_next: Option<String>,
    /// A later page of a posted search: a link back to the whole list.
    posted_later: bool,
    /// Where a person stands, to filter on.
    stages: &'static [(&'static str, &'static str)],
    /// The referents to filter on: id, name.
    referents: Vec<(String, String)>,
}

/// A person in the list: who, who follows them, what they aim at.
struct Row {
    id: String,
    name: String,
    referent: String,
    project: String,
}

/// The list, by GET: paged by ids, searched by job or referent; a name is
/// never read from a URL (proxies and histories keep them), it is searched
/// by [`search`].
pub(crate) async fn list(page: Page, Query(mut q): Query<ListQuery>) -> Response {
    if page.viewer.user.is_none() {
        return page.sign_in_first();
    }
    q.nom.clear();
    people_list(page, q, false).await
}

#[derive(Debug, Deserialize)]
pub(crate) struct SearchForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    nom: String,
    #[serde(default)]
    metier: String,
    #[serde(default)]
    referent: String,
    #[serde(default)]
    etape: String,
    #[serde(default)]
    apres: String,
}

/// The list searched by POST (`/people/recherche`), a page at a time.
pub(crate) async fn search(page: Page, Form(f): Form<SearchForm>) -> Response {
    if let Err(r) = page.checked(&f.csrf) {
        return *r;
    }
    if page.viewer.user.is_none() {
        return page.sign_in_first();
    }
    let q = ListQuery {
        nom: f.nom,
        metier: f.metier,
        referent: f.referent,
        etape: f.etape,
        apres: f.apres,
        ..ListQuery::default()
    };
    people_list(page, q, true).await
}

async fn people_list(page: Page, mut q: ListQuery, posted: bool) -> Response {
    #[derive(Deserialize)]
    struct Answer {
        people: Paged<Listed>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Listed {
        id: String,
        #[serde(flatten)]
        name: PersonName,
        referent_id: String,
        target_rome_codes: Vec<String>,
    }
    // Who signed in, as the API names staff members.
    let me = page
        .viewer
        .user
        .as_ref()
        .map(|u| u.user_id.to_string())
        .unwrap_or_default();
    // Who may be chosen as the referent: the viewer, and the team by name
    // for the managers, who read it (anyone else, the viewer alone).
    let team = match page.team().await {
        Ok(team) => team,
        Err(r) => return *r,
    };
    let referents = referent_options(&me, team);
    let read = |q: &ListQuery| {
        page.run(
            "query($first: Int!, $after: String, $filter: PeopleFilterInput) {
                people(first: $first, after: $after, filter: $filter) {
                    edges { node { id firstName lastName referentId targetRomeCodes } }
                    pageInfo { endCursor hasNextPage } } }",
            json!({
                "first": PAGE_SIZE,
                "after": q.after(),
                "filter": {
                    "name": given(&q.nom),
                    "romeCode": given(&q.metier),
                    "referentId": given(&q.referent),
                    "stage": given(&q.etape),
                },
            }),
        )
    };
    // A stage or a referent not on the list is refused beside its field,
    // unasked.
    let mut form = q.form();
    if let Some(error) = stage_error(&q.etape) {
        form.errors.insert("etape".into(), error.into());
    }
    if let Some(error) = referent_error(&q.referent, &referents) {
        form.errors.insert("referent".into(), error.into());
    }
    if !form.errors.is_empty() {
        let body = PeopleTemplate {
            nav: page.nav(None),
            form,
            searched: q.searched(),
            people: Vec::new(),
            posted_next: None,
            posted_later: false,
            stages: &PERSON_STAGES,
            referents,
            pager: Pager::none(),
        }
        .render();
        return page.render(StatusCode::UNPROCESSABLE_ENTITY, body);
    }
    let mut out = read(&q).await;
    // A page's link no longer valid: the list from its start, saying so.
    let mut notice = None;
    if out.bad_cursor() {
        q.apres.clear();
        notice = Some(STALE_PAGE.to_owned());
        out = read(&q).await;
    }
    let mut form = q.form();
    let (people, next) = if out.errors.is_empty() {
        let answer: Answer = read_or_return!(out);
        let (rows, next) = answer.people.split();
        let rows = rows
            .into_iter()
            .map(|p| Row {
                id: p.id,
                name: p.name.full(),
                referent: if p.referent_id == me {
                    "vous".to_owned()
                } else {
                    referents
                        .iter()
                        .find(|(id, _)| *id == p.referent_id)
                        .map_or_else(|| "un autre membre de l'équipe".to_owned(), |r| r.1.clone())
                },
                project: p
                    .target_rome_codes
                    .iter()
                    .map(|c| fr::rome(c))
                    .collect::<Vec<_>>()
                    .join(" ; "),
            })
            .collect();
        (rows, next)
    } else {
        form.absorb(
            &out.errors,
            &[
                ("name", "nom"),
                ("romeCode", "metier"),
                ("referentId", "referent"),
                ("stage", "etape"),
            ],
        );
        (Vec::new(), None)
    };
    let status = if out.errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let body = PeopleTemplate {
        nav: page.nav(notice),
        form,
        searched: q.searched(),
        people,
        posted_next: if posted { next.clone() } else { None },
        posted_later: posted && q.after().is_some(),
        stages: &PERSON_STAGES,
        referents,
        pager: if posted {
            Pager::none()
        } else {
            Pager::of("/people", &q, next)
        },
    }
    .render();
    page.render(status, body)
}

/// The referents the list filters on, as its field offers them: the
/// viewer first, then the team (as far as the viewer reads it) by name, a
/// deactivated account said so (they may still follow people).
fn referent_options(me: &str, team: Vec<Member>) -> Vec<(String, String)> {
    let mut others: Vec<(String, String)> = team
        .into_iter()
        .filter(|m| m.id != me)
        .map(|m| {
            let name = if m.active {
                m.name
            } else {
                format!("{} (compte désactivé)", m.name)
            };
            (m.id, name)
        })
        .collect();
    others.sort_by(|a, b| a.1.cmp(&b.1));
    let mut all = vec![(me.to_owned(), "Vous".to_owned())];
    all.extend(others);
    all
}

/// Why a referent asked for is refused: one not on the list. A blank one
/// is no filter.
fn referent_error(referent: &str, referents: &[(String, String)]) -> Option<&'static str> {
    let referent = referent.trim();
    (!referent.is_empty() && !referents.iter().any(|(id, _)| id == referent))
        .then_some("Choisissez un membre de l'équipe dans la liste.")
}

/// Why a stage asked for is refused: one not on the list. A blank one is
/// no filter.
fn stage_error(etape: &str) -> Option<&'static str> {
    let etape = etape.trim();
    (!etape.is_empty() && !PERSON_STAGES.iter().any(|(value, _)| *value == etape))
        .then_some("Choisissez une étape de la liste.")
}

#[derive(Template)]
#[template(path = "person.html")]
struct PersonTemplate {
    nav: Nav,
    id: String,
    name: String,
    /// Whether the viewer may erase their data: the link is theirs only.
    may_erase: bool,
    /// Who follows them, as the viewer may know it.
    referent: String,
    /// When they left and why, with the contract or the explanation.
    exit: Option<(String, &'static str, Vec<String>)>,
    /// When, targets, what changed and why, its contracts, mobility and
    /// constraints.
    versions: Vec<(String, String, String, Vec<String>)>,
    /// Their identity and contact details, label and value; none once
    /// erased.
    identity: Option<Vec<(&'static str, String)>>,
    /// Date, by whom, the fields in French, why.
    identity_corrections: Vec<(String, String, String, String)>,
    /// The contracts the project's forms offer.
    contracts: &'static [(&'static str, &'static str)],
    /// When, what: a page of their path.
    timeline: Vec<(String, &'static str)>,
    /// The next page of their path, and the first when this is not it.
    timeline_pager: Pager,
    /// What a readjustment may name as its cause: `KIND:id`, label.
    causes: Vec<(String, String)>,
    /// Her immersions: id, what (`immersions_listed`).
    immersions: Vec<(String, String)>,
    /// When stated, in their words, and who noted it.
    situation: Option<(String, String, &'static str)>,
    /// When, job, with whom, what they learned.
    inquiries: Vec<Line>,
    /// When, jobs, who the peer is, what they took away.
    meetings: Vec<Line>,
    /// Since (and until) when, the mentor and their job, why it ended.
    mentorships: Vec<Line>,
    /// The mentorships still running, to end: id, mentor.
    running: Vec<(String, String)>,
    /// When, purpose, given or withdrawn, how.
    consents: Vec<Line>,
    /// Their disability recognition, when the viewer may read it.
    disability: Option<String>,
    /// Whether the viewer may record it (her referent, a manager).
    may_record_disability: bool,
    /// What fits their project, for their structure's staff (empty lists
    /// to anyone else).
    leads: Leads,
    form: FormState,
}

/// What fits the person's project: open needs, employers, peers and
/// possible mentors.
#[derive(Default)]
struct Leads {
    needs: Vec<Lead>,
    employers: Vec<Lead>,
    peers: Vec<Lead>,
    mentors: Vec<Lead>,
    /// Whether each list has more than the file shows.
    needs_more: bool,
    employers_more: bool,
    peers_more: bool,
    mentors_more: bool,
}

/// One thing that fits: what it is, where it leads, facts about it, and
/// words quoted.
struct Lead {
    title: String,
    link: Option<String>,
    details: Vec<String>,
    quotes: Vec<String>,
    /// The employer an immersion proposed from here starts with.
    host: Option<String>,
    /// A possible mentor's link to the mentorship form, which starts with
    /// them (their rank on the list's page, never their name).
    mentorship: Option<String>,
    /// A peer's link to the form noting a meeting with them, which starts
    /// with them and their testimony (their rank, never their name).
    meeting: Option<String>,
}

/// A lead's link to a form of the person's file (`/people/{id}/{form}`)
/// that starts from the lead: its rank on the list's page, from 1, under
/// `key`, and the page's cursor when it is not the first (a place in the
/// list, nobody's name).
fn ranked_href(id: &str, form: &str, key: &str, rank: usize, after: Option<&str>) -> String {
    list_href(
        &format!("/people/{}/{form}", encode(id)),
        &[
            (key, &rank.to_string()),
            ("apres", after.unwrap_or_default()),
        ],
    )
}

#[derive(Deserialize)]
struct PersonAnswer {
    person: Option<PersonFile>,
}

#[derive(Deserialize)]
struct ImmersionsAnswer {
    immersions: Paged<PersonImmersion>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PersonFile {
    #[serde(flatten)]
    name: PersonName,
    may_erase: bool,
    may_record_disability_recognition: bool,
    referent_id: String,
    identity: Option<Identity>,
    identity_corrections: Vec<IdentityCorrectionLine>,
    exit: Option<PersonExit>,
    project_versions: Vec<ProjectVersion>,
    timeline_events: Paged<Fact>,
    situation: Option<crate::situation::Situation>,
    #[serde(flatten)]
    steps: Steps,
    consent_records: Vec<crate::consents::ConsentRecord>,
    disability_recognition: Option<crate::disability::Recognition>,
    matching_needs: Paged<NeedMatch>,
    matching_employers: Paged<EmployerMatch>,
    peers: Paged<Peer>,
    possible_mentors: Paged<PossibleMentor>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NeedMatch {
    need_id: String,
    employer_id: String,
    employer_name: String,
    activities: String,
    rome_codes: Vec<String>,
    commune: String,
    rome_match: RomeMatch,
    proximity: Proximity,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EmployerMatch {
    employer_id: String,
    name: String,
    commune: String,
    by_open_need: bool,
    by_hosting: bool,
    rome_match: RomeMatch,
    proximity: Proximity,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Peer {
    first_name: String,
    rome_match: RomeMatch,
    testimonies: Vec<PeerTestimony>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PeerTestimony {
    account: String,
    rome_codes: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PossibleMentor {
    name: String,
    mentor_job: Option<String>,
    rome_match: RomeMatch,
}

/// Jobs by their labels, in one line.
fn jobs(codes: &[String]) -> String {
    codes
        .iter()
        .map(|c| fr::rome(c))
        .collect::<Vec<_>>()
        .join(" ; ")
}

/// What fits the person's project, from the file's answer: each list's
/// first leads, and whether it has more (then the file links to the list's
/// own pages).
fn leads(id: &str, p: &mut PersonFile) -> Leads {
    let (needs, needs_more) = std::mem::take(&mut p.matching_needs).split();
    let (employers, employers_more) = std::mem::take(&mut p.matching_employers).split();
    let (peers, peers_more) = std::mem::take(&mut p.peers).split();
    let (mentors, mentors_more) = std::mem::take(&mut p.possible_mentors).split();
    Leads {
        needs: need_leads(needs),
        employers: employer_leads(employers),
        peers: peer_leads(id, peers, None),
        mentors: mentor_leads(id, mentors, None),
        needs_more: needs_more.is_some(),
        employers_more: employers_more.is_some(),
        peers_more: peers_more.is_some(),
        mentors_more: mentors_more.is_some(),
    }
}

/// Open needs that fit, as leads.
fn need_leads(needs: Vec<NeedMatch>) -> Vec<Lead> {
    needs
        .into_iter()
        .map(|n| Lead {
            title: n.activities,
            link: Some(format!("/needs/{}", n.need_id)),
            details: [
                Some(jobs(&n.rome_codes)),
                (!n.employer_name.trim().is_empty()).then(|| format!("Chez {}", n.employer_name)),
                Some(format!("À {}", commune_name(&n.commune))),
                Some(format!(
                    "Pourquoi : {}, {}",
                    n.rome_match.french(),
                    n.proximity.french()
                )),
            ]
            .into_iter()
            .flatten()
            .collect(),
            quotes: Vec::new(),
            host: Some(n.employer_id),
            mentorship: None,
            meeting: None,
        })
        .collect()
}

/// Employers that fit, as leads.
fn employer_leads(employers: Vec<EmployerMatch>) -> Vec<Lead> {
    employers
        .into_iter()
        .map(|e| {
            let by = match (e.by_open_need, e.by_hosting) {
                (true, true) => "un besoin ouvert et une immersion déjà accueillie",
                (true, false) => "un besoin ouvert",
                (false, _) => "une immersion déjà accueillie",
            };
            Lead {
                title: e.name,
                link: Some(format!("/employers/{}", e.employer_id)),
                host: Some(e.employer_id.clone()),
                mentorship: None,
                meeting: None,
                details: vec![
                    format!("À {}", commune_name(&e.commune)),
                    format!(
                        "Pourquoi : {by} pour {}, {}",
                        e.rome_match.french(),
                        e.proximity.french()
                    ),
                ],
                quotes: Vec::new(),
            }
        })
        .collect()
}

/// People who walked the path, as leads, each leading to the form noting
/// a meeting with them.
fn peer_leads(id: &str, peers: Vec<Peer>, after: Option<&str>) -> Vec<Lead> {
    peers
        .into_iter()
        .enumerate()
        .map(|(i, peer)| {
            let mut codes: Vec<String> = Vec::new();
            for t in &peer.testimonies {
                for c in &t.rome_codes {
                    if !codes.contains(c) {
                        codes.push(c.clone());
                    }
                }
            }
            let mut details = vec![format!("Visait {}", peer.rome_match.french())];
            if !codes.is_empty() {
                details.push(jobs(&codes));
            }
            Lead {
                title: peer.first_name,
                link: None,
                details,
                quotes: peer.testimonies.into_iter().map(|t| t.account).collect(),
                host: None,
                mentorship: None,
                meeting: Some(ranked_href(id, "rencontre", "pair", i + 1, after)),
            }
        })
        .collect()
}

/// Possible mentors, as leads, each leading to the mentorship form.
fn mentor_leads(id: &str, mentors: Vec<PossibleMentor>, after: Option<&str>) -> Vec<Lead> {
    mentors
        .into_iter()
        .enumerate()
        .map(|(i, m)| Lead {
            title: m.name,
            link: None,
            details: m
                .mentor_job
                .map(|j| format!("Métier : {}", fr::rome(&j)))
                .into_iter()
                .chain(Some(format!(
                    "A parrainé des personnes visant {}",
                    m.rome_match.french()
                )))
                .collect(),
            quotes: Vec::new(),
            host: None,
            mentorship: Some(ranked_href(id, "parrainage", "suggestion", i + 1, after)),
            meeting: None,
        })
        .collect()
}

/// The file's consents, from the API's answer.
fn consents(p: &mut PersonFile) -> Vec<Line> {
    std::mem::take(&mut p.consent_records)
        .into_iter()
        .map(|c| Line {
            when: c.on.french(),
            what: format!(
                "{} : {}",
                c.purpose.french(),
                if c.given { "donné" } else { "retiré" }
            ),
            details: c
                .text_version
                .map(|v| format!("Texte en {}", crate::home::version_shown(&v)))
                .into_iter()
                .chain(c.signed_form.map(|signed| {
                    if signed {
                        "Sur un formulaire signé".to_owned()
                    } else {
                        "À l'oral ou en ligne, sans formulaire signé".to_owned()
                    }
                }))
                .collect(),
        })
        .collect()
}

/// The end of their accompaniment, as the API gives it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PersonExit {
    exited_on: Day,
    reason: Code<passerelle_domain::person::ExitReasonKind>,
    contract: Option<Code<passerelle_domain::values::ContractType>>,
    explanation: Option<String>,
}

/// A correction of the identity: the fields it changed, when, by whom, why.
#[derive(Deserialize)]
struct IdentityCorrectionLine {
    fields: Vec<Code<passerelle_domain::person::IdentityField>>,
    #[serde(flatten)]
    corrected: crate::correction::Corrected,
}

/// Who the person is and how to reach them, as their file shows it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Identity {
    birth_date: Day,
    email: Option<String>,
    phone: Option<String>,
    address: Option<String>,
    commune_name: Option<String>,
    enrolled_on: Day,
}

impl Identity {
    /// Each value given, with its French label.
    fn lines(self) -> Vec<(&'static str, String)> {
        let mut lines = vec![("Date de naissance", self.birth_date.french())];
        lines.extend(self.email.map(|e| ("E-mail", e)));
        lines.extend(
            self.phone
                .as_deref()
                .map(|p| ("Téléphone", crate::answer::phone(p))),
        );
        lines.extend(self.address.map(|a| ("Adresse", a)));
        lines.extend(self.commune_name.map(|c| ("Commune", c)));
        lines.push(("Inscription", self.enrolled_on.french()));
        lines
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Fact {
    event_type: String,
    recorded_at: Day,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PersonImmersion {
    id: String,
    current_stage: Code<Stage>,
    employer_name: Option<String>,
    feedback_authors: Vec<Code<FeedbackAuthor>>,
    period_start: Option<Day>,
    period_end: Option<Day>,
    proposed_on: Day,
}

/// Each immersion of the person, to open from her file: where, when, where
/// it stands; the newest first, as the API lists them.
fn immersions_listed(immersions: &[PersonImmersion]) -> Vec<(String, String)> {
    immersions
        .iter()
        .map(|n| {
            let host = n.employer_name.as_deref().unwrap_or("l'employeur");
            (
                n.id.clone(),
                format!(
                    "Chez {host}, {} : {}",
                    crate::answer::when(n.period_start, n.period_end, n.proposed_on),
                    fr::in_sentence(n.current_stage.french())
                ),
            )
        })
        .collect()
}

/// What a readjustment may name as its cause, as the form offers it: each
/// job inquiry, peer meeting and mentorship recorded, and each immersion
/// with feedback, as `KIND:id` with a French label and its dates.
fn causes(p: &PersonFile, immersions: &[PersonImmersion]) -> Vec<(String, String)> {
    let inquiries = p.steps.job_inquiries.iter().map(|i| {
        (
            format!("JOB_INQUIRY:{}", i.id),
            format!(
                "Enquête métier du {} : {} (avec : {})",
                i.held_on.french(),
                fr::rome(&i.rome_code),
                i.with_whom
            ),
        )
    });
    let meetings = p.steps.peer_meetings.iter().map(|m| {
        (
            format!("PEER_MEETING:{}", m.id),
            format!(
                "Rencontre avec un pair du {} : {}",
                m.held_on.french(),
                m.peer
            ),
        )
    });
    let mentorships = p.steps.mentorships.iter().map(|m| {
        let when = match m.ended_on {
            Some(end) => passerelle_domain::fr::range(m.started_on.0, end.0),
            None => format!("depuis le {}", m.started_on.french()),
        };
        let mentor = m.mentor.as_deref().unwrap_or("(effacé)");
        (
            format!("MENTORSHIP:{}", m.id),
            format!("Parrainage {when} : {mentor}"),
        )
    });
    let immersions = immersions
        .iter()
        .filter(|n| !n.feedback_authors.is_empty())
        .map(|n| {
            let host = n.employer_name.as_deref().unwrap_or("l'employeur");
            // With feedback, it has its convention's dates.
            let when = crate::answer::when(n.period_start, n.period_end, n.proposed_on);
            (
                format!("IMMERSION_FEEDBACK:{}", n.id),
                format!("Immersion chez {host}, {when}"),
            )
        });
    inquiries
        .chain(meetings)
        .chain(mentorships)
        .chain(immersions)
        .collect()
}

/// Where the person's file starts their path: after a cursor of the API's
/// (a place in the log, nobody's name), else at the beginning.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct PathPage {
    #[serde(default)]
    parcours: String,
}

impl Page {
    async fn person_page(
        self,
        id: &str,
        status: StatusCode,
        form: FormState,
        mut notice: Option<String>,
        mut path_after: Option<&str>,
    ) -> Response {
        let query = [
                    "query($p: ID!, $pathFirst: Int!, $pathAfter: String) {
                  person(id: $p) { firstName lastName mayErase referentId
                    mayRecordDisabilityRecognition
                    identity { birthDate email phone address communeName enrolledOn }
                    identityCorrections { fields reason correctedOn recorded { role } }
                    exit { exitedOn reason contract explanation }
                    projectVersions { ...Version }
                    timelineEvents(first: $pathFirst, after: $pathAfter) {
                        edges { node { eventType recordedAt } } pageInfo { endCursor hasNextPage } }
                    situation { statedOn words recorded { by } }
                    ...Steps
                    consentRecords { purpose given on textVersion signedForm proof }
                    disabilityRecognition { recognised recordedOn }
                    matchingNeeds(first: 5) { edges { node { needId employerId employerName activities
                        romeCodes commune romeMatch proximity } } pageInfo { endCursor hasNextPage } }
                    matchingEmployers(first: 5) { edges { node { employerId name commune
                        byOpenNeed byHosting romeMatch proximity } } pageInfo { endCursor hasNextPage } }
                    peers(first: 5) { edges { node { firstName romeMatch
                        testimonies { account romeCodes } } } pageInfo { endCursor hasNextPage } }
                    possibleMentors(first: 5) { edges { node { name mentorJob romeMatch } }
                        pageInfo { endCursor hasNextPage } } } }",
                    VERSION_FRAGMENT,
                    STEPS_FRAGMENT,
                ]
                .concat();
        let read = |path_after: Option<&str>| {
            self.run(
                &query,
                json!({ "p": id, "pathFirst": PAGE_SIZE, "pathAfter": path_after }),
            )
        };
        let mut out = read(path_after).await;
        if out.bad_cursor() && path_after.is_some() {
            // A page's link no longer valid: the path from its start.
            path_after = None;
            notice = Some(STALE_PAGE.to_owned());
            out = read(None).await;
        }
        let answer: PersonAnswer = read_or_return!(out);
        let Some(mut p) = answer.person else {
            return message(
                StatusCode::NOT_FOUND,
                "Introuvable",
                "Cette personne n'existe pas ou ne vous est pas accessible.",
            );
        };
        let immersions = match self.person_immersions(id).await {
            Ok(immersions) => immersions,
            Err(page) => return *page,
        };
        let causes = causes(&p, &immersions);
        let immersions = immersions_listed(&immersions);
        let running = p
            .steps
            .mentorships
            .iter()
            .filter(|m| m.ended_on.is_none())
            .map(|m| {
                let mentor = m.mentor.as_deref().unwrap_or("(effacé)");
                (m.id.clone(), mentor.to_owned())
            })
            .collect();
        let (inquiries, meetings, mentorships) = p.steps.lines();
        let consents = consents(&mut p);
        let leads = leads(id, &mut p);
        let situation = p.situation.map(|s| {
            let me = self.viewer.user.as_ref().map(|u| u.user_id.to_string());
            (
                s.stated_on.french(),
                s.said(),
                s.recorded.unwrap_or_default().by_whom(me.as_deref()),
            )
        });
        let disability = p
            .disability_recognition
            .as_ref()
            .map(crate::disability::Recognition::said);
        // The readjustment starts from the project as it stands.
        let form = match p.project_versions.last() {
            Some(last) if form.is_fresh() => last.as_form(),
            _ => form,
        };
        let identity = p.identity.map(Identity::lines);
        // Newest first, as every file's corrections.
        let identity_corrections = p
            .identity_corrections
            .into_iter()
            .rev()
            .map(|c| {
                let fields: Vec<&str> = c.fields.iter().map(|f| f.0.french()).collect();
                c.corrected.shown(fields.join(", "))
            })
            .collect();
        let versions = p
            .project_versions
            .into_iter()
            .map(ProjectVersion::shown)
            .collect();
        let (timeline, next) = p.timeline_events.split();
        let timeline = timeline
            .into_iter()
            .map(|t| (t.recorded_at.french(), event_label(&t.event_type)))
            .collect();
        let exit = p.exit.map(|e| {
            let details = e
                .contract
                .map(|c| format!("Contrat : {}", c.french()))
                .into_iter()
                .chain(e.explanation.map(|x| format!("Explication : {x}")))
                .collect();
            (e.exited_on.french(), e.reason.french(), details)
        });
        let referent = match self.colleagues(&[&p.referent_id]).await {
            Ok(colleagues) => colleagues.name(&p.referent_id),
            Err(page) => return *page,
        };
        let file = format!("/people/{}", encode(id));
        let timeline_pager = Pager {
            next: next
                .map(|cursor| format!("{}#parcours", list_href(&file, &[("parcours", &cursor)]))),
            first: path_after.map(|_| format!("{file}#parcours")),
        };
        let body = PersonTemplate {
            nav: self.nav(notice),
            id: id.to_owned(),
            name: p.name.full(),
            may_erase: p.may_erase,
            referent,
            exit,
            versions,
            identity,
            identity_corrections,
            contracts: &CONTRACTS,
            timeline,
            timeline_pager,
            causes,
            immersions,
            situation,
            inquiries,
            meetings,
            mentorships,
            running,
            consents,
            disability,
            may_record_disability: p.may_record_disability_recognition,
            leads,
            form,
        }
        .render();
        self.render(status, body)
    }
}

impl Page {
    /// Every immersion of the person, for the readjustment's causes: read
    /// page by page so none is cut. A person has a handful; the bound (500,
    /// five pages of the API's largest) only stops a runaway loop, never a
    /// real path.
    async fn person_immersions(&self, id: &str) -> Result<Vec<PersonImmersion>, Box<Response>> {
        const PAGES: usize = 5;
        let mut all = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..PAGES {
            let out = self
                .run(
                    "query($p: ID!, $after: String) {
                      immersions(first: 100, after: $after, filter: { personId: $p }) {
                        edges { node { id currentStage employerName feedbackAuthors periodStart periodEnd proposedOn } }
                        pageInfo { endCursor hasNextPage } } }",
                    json!({ "p": id, "after": after }),
                )
                .await;
            let (nodes, next) = out.read::<ImmersionsAnswer>()?.immersions.split();
            all.extend(nodes);
            match next {
                Some(cursor) => after = Some(cursor),
                None => break,
            }
        }
        Ok(all)
    }
}

/// One of the file's lists of leads, on pages of its own
/// (`/people/{id}/pistes/{liste}`).
#[derive(Clone, Copy)]
enum LeadList {
    Needs,
    Employers,
    Peers,
    Mentors,
}

impl LeadList {
    fn parse(slug: &str) -> Option<Self> {
        match slug {
            "besoins" => Some(Self::Needs),
            "employeurs" => Some(Self::Employers),
            "chemin" => Some(Self::Peers),
            "parrains" => Some(Self::Mentors),
            _ => None,
        }
    }

    fn title(self) -> &'static str {
        match self {
            Self::Needs => "Besoins ouverts qui correspondent",
            Self::Employers => "Employeurs qui correspondent",
            Self::Peers => "Des personnes qui ont fait ce chemin",
            Self::Mentors => "Parrains ou marraines possibles",
        }
    }
}

#[derive(Template)]
#[template(path = "person_leads.html")]
struct PersonLeadsTemplate {
    nav: Nav,
    id: String,
    name: String,
    title: &'static str,
    leads: Vec<Lead>,
    pager: Pager,
}

/// Where a list of leads starts: after a cursor of the API's (a place in
/// the list, nobody's name), else at the beginning.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct LeadsPage {
    #[serde(default)]
    apres: String,
}

#[derive(Deserialize)]
struct LeadsAnswer {
    person: Option<LeadsFile>,
}

/// The one list asked for, the others left out by `@include`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LeadsFile {
    #[serde(flatten)]
    name: PersonName,
    matching_needs: Option<Paged<NeedMatch>>,
    matching_employers: Option<Paged<EmployerMatch>>,
    peers: Option<Paged<Peer>>,
    possible_mentors: Option<Paged<PossibleMentor>>,
}

/// One list of what fits the person's project, 20 at a time, the next
/// page's link carrying only the API's cursor; for their structure's staff
/// (the API answers empty lists to anyone else).
pub(crate) async fn leads_list(
    page: Page,
    Path((id, slug)): Path<(String, String)>,
    Query(at): Query<LeadsPage>,
) -> Response {
    if page.viewer.user.is_none() {
        return page.sign_in_first();
    }
    let Some(list) = LeadList::parse(&slug) else {
        return message(
            StatusCode::NOT_FOUND,
            "Introuvable",
            "Cette liste n'existe pas.",
        );
    };
    let read = |after: Option<&str>| {
        page.run(
            "query($p: ID!, $first: Int!, $after: String, $needs: Boolean!,
                $employers: Boolean!, $peers: Boolean!, $mentors: Boolean!) {
              person(id: $p) { firstName lastName
                matchingNeeds(first: $first, after: $after) @include(if: $needs) {
                    edges { node { needId employerId employerName activities
                    romeCodes commune romeMatch proximity } } pageInfo { endCursor hasNextPage } }
                matchingEmployers(first: $first, after: $after) @include(if: $employers) {
                    edges { node { employerId name commune
                    byOpenNeed byHosting romeMatch proximity } } pageInfo { endCursor hasNextPage } }
                peers(first: $first, after: $after) @include(if: $peers) {
                    edges { node { firstName romeMatch testimonies { account romeCodes } } }
                    pageInfo { endCursor hasNextPage } }
                possibleMentors(first: $first, after: $after) @include(if: $mentors) {
                    edges { node { name mentorJob romeMatch } } pageInfo { endCursor hasNextPage } } } }",
            json!({
                "p": id, "first": PAGE_SIZE, "after": after,
                "needs": matches!(list, LeadList::Needs),
                "employers": matches!(list, LeadList::Employers),
                "peers": matches!(list, LeadList::Peers),
                "mentors": matches!(list, LeadList::Mentors),
            }),
        )
    };
    let mut after = given(&at.apres);
    let mut notice = None;
    let mut out = read(after).await;
    if out.bad_cursor() && after.is_some() {
        // A page's link no longer valid: the list from its start.
        after = None;
        notice = Some(STALE_PAGE.to_owned());
        out = read(None).await;
    }
    let answer: LeadsAnswer = read_or_return!(out);
    let Some(p) = answer.person else {
        return message(
            StatusCode::NOT_FOUND,
            "Introuvable",
            "Cette personne n'existe pas ou ne vous est pas accessible.",
        );
    };
    let (leads, next) = match list {
        LeadList::Needs => {
            let (nodes, next) = p.matching_needs.unwrap_or_default().split();
            (need_leads(nodes), next)
        }
        LeadList::Employers => {
            let (nodes, next) = p.matching_employers.unwrap_or_default().split();
            (employer_leads(nodes), next)
        }
        LeadList::Peers => {
            let (nodes, next) = p.peers.unwrap_or_default().split();
            (peer_leads(&id, nodes, after), next)
        }
        LeadList::Mentors => {
            let (nodes, next) = p.possible_mentors.unwrap_or_default().split();
            (mentor_leads(&id, nodes, after), next)
        }
    };
    let path = format!("/people/{}/pistes/{slug}", encode(&id));
    let pager = Pager::at(&path, &[], next, after);
    let body = PersonLeadsTemplate {
        nav: page.nav(notice),
        id: id.clone(),
        name: p.name.full(),
        title: list.title(),
        leads,
        pager,
    }
    .render();
    page.render(StatusCode::OK, body)
}

pub(crate) async fn file(
    page: Page,
    Path(id): Path<String>,
    Query(q): Query<Notice>,
    Query(at): Query<PathPage>,
) -> Response {
    if page.viewer.user.is_none() {
        return page.sign_in_first();
    }
    let after = given(&at.parcours);
    page.person_page(&id, StatusCode::OK, FormState::default(), notice(&q), after)
        .await
}

/// The project as a form sends it: the jobs aimed at (under `rome`), the
/// contracts wished for (`contrat`, one box each), how far they can travel
/// (`mobilite`, in km) and their constraints (`contraintes`); the API's
/// input and the form's state to show again. A distance that is not a
/// whole number is refused beside it here.
fn project_sent(fields: &Fields, rome: &str) -> (serde_json::Value, FormState) {
    let mut state = FormState::with(&[
        (rome, fields.get(rome)),
        ("mobilite", fields.get("mobilite")),
        ("contraintes", fields.get("contraintes")),
    ]);
    // Only the list's contracts: a value sent by hand is left out.
    let wishes: Vec<&str> = fields
        .all("contrat")
        .into_iter()
        .filter(|c| offers(&CONTRACTS, c))
        .collect();
    for wish in &wishes {
        state.tick("contrat", wish);
    }
    let km = fields.get("mobilite").trim();
    let km = if km.is_empty() {
        Some(0)
    } else {
        km.parse::<i32>().ok()
    };
    if km.is_none() {
        state.errors.insert(
            "mobilite".into(),
            "Indiquez une distance en kilomètres, en chiffres (par exemple 20), ou laissez vide."
                .into(),
        );
    }
    let project = json!({
        "targetRomeCodes": crate::page::typed_rome_codes(fields.get(rome)),
        "contractWishes": wishes,
        "mobilityRadiusKm": km.unwrap_or(0),
        "constraints": fields.optional("contraintes"),
    });
    (project, state)
}

/// The API's fields of a project, by the form's.
const PROJECT_FIELDS: [(&str, &str); 3] = [
    ("mobilityRadiusKm", "mobilite"),
    ("constraints", "contraintes"),
    ("contractWishes", "contrat"),
];

/// A person's first project, from their file while they have none
/// (`/people/{id}/premier-projet`, `projectState`): the jobs aimed at, the
/// contracts wished for, how far they can travel, their constraints.
pub(crate) async fn state(
    page: Page,
    Path(id): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let fields = Fields(fields);
    if let Err(r) = page.checked(fields.get("csrf")) {
        return *r;
    }
    let (project, mut state) = project_sent(&fields, "project_rome");
    if !state.errors.is_empty() {
        return page
            .person_page(&id, StatusCode::UNPROCESSABLE_ENTITY, state, None, None)
            .await;
    }
    let out = page
        .run(
            "mutation($p: ID!, $project: ProjectInput!) {
                projectState(input: { personId: $p, project: $project }) { person { id } } }",
            json!({ "p": id, "project": project }),
        )
        .await;
    if out.errors.is_empty() {
        return page.redirect(&format!("/people/{id}#projet"), Vec::new());
    }
    let mut names = vec![("targetRomeCodes", "project_rome")];
    names.extend(PROJECT_FIELDS);
    state.absorb(&out.errors, &names);
    page.person_page(&id, StatusCode::UNPROCESSABLE_ENTITY, state, None, None)
        .await
}

pub(crate) async fn readjust(
    page: Page,
    Path(id): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let fields = Fields(fields);
    if let Err(r) = page.checked(fields.get("csrf")) {
        return *r;
    }
    let (project, mut state) = project_sent(&fields, "rome");
    let (cause, what_changed) = (fields.get("cause"), fields.get("what_changed"));
    for (name, value) in [("cause", cause), ("what_changed", what_changed)] {
        state.keep(name, value);
    }
    let kinds = [
        "JOB_INQUIRY",
        "PEER_MEETING",
        "MENTORSHIP",
        "IMMERSION_FEEDBACK",
    ];
    let Some((kind, cause)) = cause
        .split_once(':')
        .filter(|(kind, cause)| kinds.contains(kind) && !cause.is_empty())
    else {
        state.errors.insert(
            "cause".into(),
            "Choisissez ce qui a fait évoluer le projet : une enquête, une rencontre, un parrainage ou une immersion.".into(),
        );
        return page
            .person_page(&id, StatusCode::UNPROCESSABLE_ENTITY, state, None, None)
            .await;
    };
    if !state.errors.is_empty() {
        return page
            .person_page(&id, StatusCode::UNPROCESSABLE_ENTITY, state, None, None)
            .await;
    }
    let out = page
        .run(
            "mutation($p: ID!, $k: CauseKind!, $i: ID!, $project: ProjectInput!, $w: String!) {
                projectReadjust(input: { personId: $p, cause: { kind: $k, id: $i },
                    project: $project, whatChanged: $w }) { person { id } } }",
            json!({ "p": id, "k": kind, "i": cause, "project": project, "w": what_changed }),
        )
        .await;
    if out.errors.is_empty() {
        return page.redirect(&format!("/people/{id}#projet"), Vec::new());
    }
    let mut names = vec![
        ("cause", "cause"),
        ("id", "cause"),
        ("targetRomeCodes", "rome"),
        ("whatChanged", "what_changed"),
    ];
    names.extend(PROJECT_FIELDS);
    state.absorb(&out.errors, &names);
    page.person_page(&id, StatusCode::UNPROCESSABLE_ENTITY, state, None, None)
        .await
}

#[derive(Template)]
#[template(path = "enrol.html")]
struct EnrolTemplate {
    nav: Nav,
    form: FormState,
}

impl Page {
    fn enrol_page(self, status: StatusCode, form: FormState) -> Response {
        let body = EnrolTemplate {
            nav: self.nav(None),
            form,
        }
        .render();
        self.render(status, body)
    }
}

pub(crate) async fn enrol_form(page: Page) -> Response {
    if page.viewer.user.is_none() {
        return page.sign_in_first();
    }
    page.enrol_page(StatusCode::OK, FormState::default())
}

#[derive(Debug, Deserialize)]
pub(crate) struct EnrolForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    last_name: String,
    #[serde(default)]
    birth_date: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    commune: String,
    /// "oui" once the mediator confirmed, past the duplicate warning, that
    /// this is another person.
    #[serde(default)]
    confirm_duplicate: String,
}

/// The enrolment form's fields, with where the gateway names them; the
/// duplicate warning (`CONFIRMATION_REQUIRED` on `confirmDuplicate`) goes
/// beside the box that confirms past it.
const ENROL_FIELDS: [(&str, &str); 8] = [
    ("confirmDuplicate", "confirm_duplicate"),
    ("firstName", "first_name"),
    ("lastName", "last_name"),
    ("birthDate", "birth_date"),
    ("email", "email"),
    ("phone", "phone"),
    ("address", "address"),
    ("commune", "commune"),
];

pub(crate) async fn enrol(page: Page, Form(form): Form<EnrolForm>) -> Response {
    if let Err(r) = page.checked(&form.csrf) {
        return *r;
    }
    let mut state = FormState::with(&[
        ("first_name", &form.first_name),
        ("last_name", &form.last_name),
        ("birth_date", &form.birth_date),
        ("email", &form.email),
        ("phone", &form.phone),
        ("address", &form.address),
        ("commune", &form.commune),
        ("confirm_duplicate", &form.confirm_duplicate),
    ]);
    // Every field left blank is named at once, beside itself, rather than
    // one after the other as the API refuses them.
    for (field, value) in [
        ("first_name", &form.first_name),
        ("last_name", &form.last_name),
    ] {
        if value.trim().is_empty() {
            state
                .errors
                .insert(field.into(), "Ce champ est obligatoire.".into());
        }
    }
    let birth_date = parse_date(&form.birth_date);
    if birth_date.is_none() {
        state.errors.insert(
            "birth_date".into(),
            "Indiquez la date de naissance (jour, mois, année).".into(),
        );
    }
    let (Some(birth_date), true) = (birth_date, state.errors.is_empty()) else {
        return page.enrol_page(StatusCode::UNPROCESSABLE_ENTITY, state);
    };
    let out = page
        .run(
            "mutation($i: PersonEnrollInput!) { personEnroll(input: $i) { person { id } } }",
            json!({ "i": {
                "firstName": form.first_name,
                "lastName": form.last_name,
                "birthDate": birth_date.to_string(),
                "email": given(&form.email),
                "phone": given(&form.phone),
                "address": given(&form.address),
                "commune": given(&form.commune),
                "confirmDuplicate": form.confirm_duplicate == "oui",
            } }),
        )
        .await;
    if out.errors.is_empty() {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Answer {
            person_enroll: Enrolled,
        }
        #[derive(Deserialize)]
        struct Enrolled {
            person: Id,
        }
        #[derive(Deserialize)]
        struct Id {
            id: String,
        }
        let answer: Answer = read_or_return!(out);
        let to = format!(
            "/people/{}?fait=inscription",
            answer.person_enroll.person.id
        );
        return page.redirect(&to, Vec::new());
    }
    state.absorb(&out.errors, &ENROL_FIELDS);
    page.enrol_page(StatusCode::UNPROCESSABLE_ENTITY, state)
}

#[cfg(test)]
mod tests {
    use super::stage_error;

    #[test]
    fn a_stage_off_the_list_is_refused_a_known_or_blank_one_is_not() {
        assert_eq!(
            stage_error("SOMEWHERE"),
            Some("Choisissez une étape de la liste.")
        );
        assert_eq!(
            stage_error("hired"),
            Some("Choisissez une étape de la liste.")
        );
        assert_eq!(stage_error("HIRED"), None);
        assert_eq!(stage_error(" EXITED "), None);
        assert_eq!(stage_error(""), None);
    }
}
