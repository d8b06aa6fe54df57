//! The home page: the login form, a mediator's inbox, an employer's portal,
//! a person's immersions.

use askama::Template;
use axum::extract::{Form, Query};
use axum::http::StatusCode;
use axum::response::Response;
use passerelle_graphql::Viewer;
use serde::Deserialize;
use serde_json::json;

use passerelle_domain::fr;
use passerelle_domain::immersion::Stage;
use passerelle_domain::values::RomeCode;

use crate::answer::{Code, Day, Paged, PersonName, read_or_return};
use crate::page::{
    FormState, Nav, PAGE_SIZE, Page, Pager, STALE_PAGE, given, list_href, list_pager,
};
use crate::path_steps::Line;

#[derive(Template)]
#[template(path = "home.html")]
pub(crate) struct HomeTemplate {
    pub nav: Nav,
    /// The staff's sign-in form.
    pub form: FormState,
    /// The request for a mailed link.
    pub link: FormState,
    /// The page to go back to once signed in ([`crate::page::return_path`]).
    pub suite: Option<String>,
}

#[derive(Template)]
#[template(path = "inbox.html")]
struct InboxTemplate {
    nav: Nav,
    name: String,
    structure: String,
    /// Whose tasks (« de Camille Durand »), when a manager reads a
    /// colleague's.
    whose: Option<String>,
    /// The team a manager may read the tasks of: id, name, and which is
    /// shown.
    team: Vec<(String, String, bool)>,
    overdue: i64,
    tasks: Vec<TaskView>,
    /// The search's field, and its errors.
    form: FormState,
    /// What a search found, when one was made.
    found: Option<Found>,
}

/// One thing found: its link, its label, details.
type FoundRow = (String, String, String);

/// What the staff's search found, by kind.
pub(crate) struct Found {
    people: Vec<FoundRow>,
    employers: Vec<FoundRow>,
    needs: Vec<FoundRow>,
    /// Where the rest of each kind is, when it found more than it shows.
    more: [Option<More>; 3],
}

/// Where the rest of what a search found is: the search shows the first
/// ones of each kind, and says so when there are more.
pub(crate) enum More {
    /// A list searched by the same text, posted (the text typed may be a
    /// person's name, which never travels in a URL): the list's search
    /// address, its button's words, and the text.
    Posted(&'static str, &'static str, String),
    /// A list's page with the same search (no personal data in it).
    Link(String),
    /// No list takes the same search: narrow it.
    Narrow,
}

impl Found {
    fn is_empty(&self) -> bool {
        self.people.is_empty() && self.employers.is_empty() && self.needs.is_empty()
    }

    /// Each kind found: its heading's id, its French heading, its rows,
    /// where the rest is.
    fn groups(&self) -> [(&'static str, &'static str, &[FoundRow], &Option<More>); 3] {
        [
            (
                "trouve-personnes",
                "Personnes accompagnées",
                &self.people,
                &self.more[0],
            ),
            (
                "trouve-employeurs",
                "Établissements",
                &self.employers,
                &self.more[1],
            ),
            (
                "trouve-besoins",
                "Besoins ouverts",
                &self.needs,
                &self.more[2],
            ),
        ]
    }
}

struct TaskView {
    title: String,
    link: String,
    late: bool,
    /// When it is due, or how late it is, in words.
    due: String,
    /// Who an immersion's task is about.
    person: Option<String>,
}

#[derive(Template)]
#[template(path = "portal.html")]
struct PortalTemplate {
    nav: Nav,
    name: String,
    /// What, then where it stands when no longer open.
    needs: Vec<(String, Option<String>)>,
    needs_pager: Pager,
    /// Id, what.
    immersions: Vec<(String, String)>,
    immersions_pager: Pager,
    visits: Vec<String>,
    visits_pager: Pager,
}

#[derive(Template)]
#[template(path = "person_home.html")]
struct PersonTemplate {
    nav: Nav,
    immersions: Vec<(String, String)>,
    immersions_pager: Pager,
    /// The person's id, for the page of their own data.
    me: Option<String>,
    /// The texts they may agree to, and whether they have.
    consents: Vec<ConsentView>,
    /// "5 décembre 2026" once their accompaniment ended: their space then
    /// keeps their rights on their data only (read, withdraw).
    ended: Option<String>,
    /// Their situation in their own words, as last stated: when, what.
    situation: Option<(String, String)>,
    /// Their project, version after version: when, the jobs, what changed
    /// and why, its contracts, mobility and constraints.
    versions: Vec<(String, String, String, Vec<String>)>,
    /// Their job inquiries, meetings with peers and mentorships, oldest
    /// first.
    inquiries: Vec<Line>,
    meetings: Vec<Line>,
    mentorships: Vec<Line>,
    /// Whether they give a consent, and withdraw one, from here: the
    /// policy's to say (`Person.viewerMay`).
    may_give: bool,
    may_withdraw: bool,
}

/// What the person's space shows of her record, besides her immersions.
#[derive(Default)]
struct OwnRecord {
    consents: Vec<ConsentView>,
    exited_on: Option<Day>,
    situation: Option<(String, String)>,
    versions: Vec<(String, String, String, Vec<String>)>,
    /// Inquiries, meetings, mentorships.
    steps: (Vec<Line>, Vec<Line>, Vec<Line>),
    may_give: bool,
    may_withdraw: bool,
}

/// What the viewer may do with a person's consents, as the API says it
/// (`Person.viewerMay`): her space and her file's consents page offer only
/// that.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ViewerMay {
    pub give_consent: bool,
    pub withdraw_consent: bool,
}

/// A consent text's paragraphs, separated by blank lines.
pub(crate) fn paragraphs(body: &str) -> Vec<String> {
    body.split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A consent text's version as people read it: « version 1 » for `v1`.
pub(crate) fn version_shown(version: &str) -> String {
    match version.strip_prefix('v') {
        Some(n) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => format!("version {n}"),
        _ => format!("version « {version} »"),
    }
}

/// A consent text as the person reads it, with their answer so far.
struct ConsentView {
    /// The API's name of the purpose (`TESTIMONY`).
    purpose: String,
    title: String,
    paragraphs: Vec<String>,
    version: String,
    given: bool,
}

impl ConsentView {
    fn version_shown(&self) -> String {
        version_shown(&self.version)
    }
}

impl Page {
    /// The current consent texts, each with whether the person gave it
    /// (their last answer for its purpose), what she may do with them, the
    /// day their accompaniment ended, if it did, and their situation.
    async fn own_record(&self, me: &str) -> Result<OwnRecord, Box<Response>> {
        let out = self
            .run(
                &[
                    "query($p: ID!) { consentTexts { purpose title body version }
                    person(id: $p) { exitedOn consentRecords { purpose given }
                        viewerMay { giveConsent withdrawConsent }
                        situation { statedOn words } projectVersions { ...Version } ...Steps } }",
                    crate::project::VERSION_FRAGMENT,
                    crate::path_steps::STEPS_FRAGMENT,
                ]
                .concat(),
                json!({ "p": me }),
            )
            .await;
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Answer {
            consent_texts: Vec<Text>,
            person: Option<Own>,
        }
        #[derive(Deserialize)]
        struct Text {
            purpose: String,
            title: String,
            body: String,
            version: String,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Own {
            exited_on: Option<Day>,
            consent_records: Vec<Record>,
            viewer_may: ViewerMay,
            situation: Option<crate::situation::Situation>,
            project_versions: Vec<crate::project::ProjectVersion>,
            #[serde(flatten)]
            steps: crate::path_steps::Steps,
        }
        #[derive(Deserialize)]
        struct Record {
            purpose: String,
            given: bool,
        }
        let answer: Answer = out.read()?;
        let Some(own) = answer.person else {
            return Ok(OwnRecord::default());
        };
        let records = own.consent_records;
        let consents = answer
            .consent_texts
            .into_iter()
            .map(|t| ConsentView {
                given: records
                    .iter()
                    .rev()
                    .find(|r| r.purpose == t.purpose)
                    .is_some_and(|r| r.given),
                paragraphs: paragraphs(&t.body),
                purpose: t.purpose,
                title: t.title,
                version: t.version,
            })
            .collect();
        Ok(OwnRecord {
            consents,
            exited_on: own.exited_on,
            situation: own.situation.map(|s| (s.stated_on.french(), s.said())),
            versions: own
                .project_versions
                .into_iter()
                .map(crate::project::ProjectVersion::shown)
                .collect(),
            steps: own.steps.lines(),
            may_give: own.viewer_may.give_consent,
            may_withdraw: own.viewer_may.withdraw_consent,
        })
    }
}

impl Page {
    /// The page of the viewer's own immersions the URL asks for, as links
    /// (what stage, since when), and the cursor of the next page; a cursor
    /// no longer valid gives the first page, and says so.
    async fn own_immersions(
        &self,
        at: &mut SpacePages,
        said: &mut Option<String>,
    ) -> Result<(Vec<(String, String)>, Option<String>), Box<Response>> {
        let read = |after: Option<&str>| {
            self.run(
                "query($first: Int!, $after: String) { immersions(first: $first, after: $after) {
                    edges { node { id currentStage employerName acceptedByPerson
                        acceptedByEmployer periodStart periodEnd proposedOn } }
                    pageInfo { endCursor hasNextPage } } }",
                json!({ "first": PAGE_SIZE, "after": after }),
            )
        };
        let mut out = read(given(&at.immersions)).await;
        if out.bad_cursor() {
            at.immersions.clear();
            *said = Some(STALE_PAGE.to_owned());
            out = read(None).await;
        }
        #[derive(Deserialize)]
        struct Answer {
            immersions: Paged<Own>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Own {
            id: String,
            current_stage: Code<Stage>,
            employer_name: Option<String>,
            accepted_by_person: bool,
            accepted_by_employer: bool,
            period_start: Option<Day>,
            period_end: Option<Day>,
            proposed_on: Day,
        }
        let answer: Answer = out.read()?;
        let (rows, next) = answer.immersions.split();
        let rows = rows
            .into_iter()
            .map(|n| {
                let name = n.employer_name.as_deref().unwrap_or("Immersion");
                // Its dates tell two immersions with one host apart.
                let when = crate::answer::when(n.period_start, n.period_end, n.proposed_on);
                let what = match n.current_stage.0 {
                    Stage::Proposed if n.accepted_by_person && n.accepted_by_employer => {
                        "acceptée, la convention se prépare"
                    }
                    Stage::Proposed => "proposée, en attente de réponse",
                    Stage::Drafted => "convention à signer",
                    Stage::Validated => "convention validée",
                    Stage::Started => "en cours",
                    Stage::Completed => "terminée",
                    Stage::NotProposed
                    | Stage::Declined
                    | Stage::Rejected
                    | Stage::Deprecated
                    | Stage::Cancelled
                    | Stage::Interrupted => "close",
                };
                (n.id, format!("{name}, {when} : {what}"))
            })
            .collect();
        Ok((rows, next))
    }
}

impl Page {
    /// A mediator's home: their tasks, the search's field, and what a
    /// search found.
    async fn inbox(self, nav: Nav, form: FormState, found: Option<Found>) -> Response {
        self.inbox_of(nav, form, found, None).await
    }

    /// The tasks of `colleague` (a manager's choice among the team), else
    /// the viewer's own.
    async fn inbox_of(
        self,
        mut nav: Nav,
        form: FormState,
        found: Option<Found>,
        colleague: Option<&str>,
    ) -> Response {
        let form_failed = !form.errors.is_empty() || form.general.is_some();
        // A manager reads a colleague's tasks; the team is read for the
        // choice (empty for anyone else).
        let team = match self.team().await {
            Ok(team) => team,
            Err(page) => return *page,
        };
        let me = self.viewer.user.as_ref().map(|u| u.user_id.to_string());
        let whose = colleague.filter(|c| Some(*c) != me.as_deref());
        let whose = match whose {
            // A deactivated member's tasks stay to be done: a manager reads
            // them to hand them over.
            Some(id) => match team.iter().find(|m| m.id == id) {
                Some(member) => Some(member),
                None => {
                    nav.notice = Some(
                        "Ce membre de l'équipe n'existe pas ou plus : voici vos tâches.".to_owned(),
                    );
                    None
                }
            },
            None => None,
        };
        let out = self
            .run(
                "query($m: ID) { me { name structureName }
                    inbox(mediatorId: $m) { overdue tasks { title link dueOn overdueDays
                        personName } } }",
                json!({ "m": whose.map(|m| &m.id) }),
            )
            .await;
        #[derive(Deserialize)]
        struct Answer {
            me: Me,
            inbox: Inbox,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Me {
            name: String,
            structure_name: String,
        }
        #[derive(Deserialize)]
        struct Inbox {
            overdue: i64,
            tasks: Vec<Task>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Task {
            title: String,
            link: String,
            due_on: crate::answer::Day,
            overdue_days: i64,
            person_name: Option<String>,
        }
        let answer: Answer = read_or_return!(out);
        let shown = whose.map(|m| m.id.as_str()).or(me.as_deref());
        let body = InboxTemplate {
            nav,
            name: answer.me.name,
            structure: answer.me.structure_name,
            whose: whose.map(|m| passerelle_domain::fr::of(&m.name)),
            team: team
                .iter()
                .map(|m| {
                    let name = if m.active {
                        m.name.clone()
                    } else {
                        format!("{} (compte désactivé)", m.name)
                    };
                    (m.id.clone(), name, Some(m.id.as_str()) == shown)
                })
                .collect(),
            overdue: answer.inbox.overdue,
            tasks: answer
                .inbox
                .tasks
                .into_iter()
                .map(|t| TaskView {
                    title: t.title,
                    link: t.link,
                    late: t.overdue_days > 0,
                    due: match t.overdue_days {
                        0 => format!("À faire pour le {}", t.due_on.french()),
                        1 => "Un jour de retard".to_owned(),
                        n => format!("{n} jours de retard"),
                    },
                    person: t.person_name,
                })
                .collect(),
            form,
            found,
        }
        .render();
        let status = if form_failed {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::OK
        };
        self.render(status, body)
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct Notice {
    /// What was just done, to say so.
    #[serde(default)]
    fait: Option<String>,
    /// The employer a visit form starts with.
    #[serde(default)]
    pub employeur: Option<String>,
    /// The page asked for before signing in ([`Page::sign_in_first`]).
    #[serde(default)]
    suite: Option<String>,
}

/// Where the spaces start each of their lists: after a cursor of the
/// API's (nobody's name), else at the beginning.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct SpacePages {
    #[serde(default)]
    immersions: String,
    #[serde(default)]
    besoins: String,
    #[serde(default)]
    visites: String,
}

impl SpacePages {
    fn lists(&self) -> [(&'static str, &str); 3] {
        [
            ("immersions", &self.immersions),
            ("besoins", &self.besoins),
            ("visites", &self.visites),
        ]
    }

    fn pager(&self, list: &str, next: Option<String>) -> Pager {
        list_pager("/", &self.lists(), list, next)
    }
}

pub(crate) fn notice(q: &Notice) -> Option<String> {
    Some(
        match q.fait.as_deref()? {
            "besoin" => "Votre besoin est envoyé : votre médiateur vous recontacte.",
            "visite" => "Visite enregistrée.",
            "besoin-repere" => "Besoin enregistré : il reste à le qualifier.",
            "inscription" => "Personne inscrite : vous êtes son référent.",
            "effacement" => "Ses données sont effacées : seuls les chiffres restent.",
            "correction" => "Identité corrigée : la correction est conservée avec sa raison.",
            "correction-etablissement" => {
                "Fiche corrigée : la correction est conservée avec sa raison."
            }
            "correction-visite" => "Visite corrigée : la correction est conservée avec sa raison.",
            "correction-besoin" => "Besoin corrigé : la correction est conservée avec sa raison.",
            "etablissement" => "Établissement enregistré.",
            "lien" => "Si cette adresse est connue, un lien vient de vous être envoyé par e-mail.",
            "lien-suite" => {
                "Si cette adresse est connue, un lien vient de vous être envoyé par e-mail : \
                 ouvert sur cet appareil, dans ce navigateur, il vous mène à la page demandée."
            }
            "accord" => "Votre choix est enregistré. Vous pouvez le changer à tout moment.",
            "coordonnees" => "Vos coordonnées sont enregistrées.",
            "contact" => "Contact ajouté : vos autres contacts en sont informés par e-mail.",
            "sortie" => "Sortie enregistrée : son accompagnement a pris fin.",
            "referent" => "Référent changé : son suivi est confié au membre de l'équipe choisi.",
            "accord-enregistre" => "Accord enregistré, avec la façon dont elle l'a donné.",
            "accord-retire" => {
                "Retrait enregistré : cet accord ne vaut plus, à compter de la date indiquée."
            }
            "situation" => "Sa situation est enregistrée, dans ses mots.",
            "conservation" => "Conservation prolongée, avec son motif.",
            "contact-efface" => {
                "Coordonnées du contact effacées pour de bon : il n'est plus sur la liste, les \
                 courriels qui lui étaient adressés sont supprimés, et les accès ouverts à \
                 l'établissement par votre structure sont fermés."
            }
            "complement" => "Reconnaissance du handicap enregistrée.",
            _ => return None,
        }
        .to_owned(),
    )
}

/// Whose tasks a manager reads on the home page.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Whose {
    #[serde(default)]
    mediateur: String,
}

pub(crate) async fn home(
    page: Page,
    Query(q): Query<Notice>,
    Query(at): Query<SpacePages>,
    Query(whose): Query<Whose>,
) -> Response {
    let suite = q
        .suite
        .as_deref()
        .and_then(crate::page::return_path)
        .map(str::to_owned);
    if page.viewer.user.is_some() {
        // Signed in meanwhile (another tab): straight to the page asked.
        if let Some(suite) = &suite {
            return page.redirect(suite, Vec::new());
        }
        let nav = page.nav(notice(&q));
        return page
            .inbox_of(nav, FormState::default(), None, given(&whose.mediateur))
            .await;
    }
    let mut at = at;
    let mut said = notice(&q);
    if let Some(employer) = own_employer(&page.viewer) {
        let read = |at: &SpacePages| {
            page.run(
                "query($e: ID!, $first: Int!, $needsAfter: String, $visitsAfter: String) {
                    employer(id: $e) { name
                    surfacedNeeds(first: $first, after: $needsAfter) {
                        edges { node { activities currentStatus offerReference } }
                        pageInfo { endCursor hasNextPage } }
                    loggedVisits(first: $first, after: $visitsAfter) {
                        edges { node { visitedOn } }
                        pageInfo { endCursor hasNextPage } } } }",
                json!({
                    "e": employer,
                    "first": PAGE_SIZE,
                    "needsAfter": given(&at.besoins),
                    "visitsAfter": given(&at.visites),
                }),
            )
        };
        let mut out = read(&at).await;
        if out.bad_cursor() {
            // A page's link no longer valid: every list from its start.
            at = SpacePages::default();
            said = Some(STALE_PAGE.to_owned());
            out = read(&at).await;
        }
        #[derive(Deserialize)]
        struct Answer {
            employer: Option<Portal>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Portal {
            name: String,
            /// The latest ones first.
            surfaced_needs: Paged<PortalNeed>,
            logged_visits: Paged<PortalVisit>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct PortalNeed {
            activities: String,
            current_status: String,
            offer_reference: Option<String>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct PortalVisit {
            visited_on: Day,
        }
        let answer: Answer = read_or_return!(out);
        let (immersions, next_immersions) = match page.own_immersions(&mut at, &mut said).await {
            Ok(list) => list,
            Err(r) => return *r,
        };
        let (name, needs, next_needs, visits, next_visits) = match answer.employer {
            Some(p) => {
                let (needs, next_needs) = p.surfaced_needs.split();
                let (visits, next_visits) = p.logged_visits.split();
                let needs = needs
                    .into_iter()
                    .map(|n| {
                        let status = match n.current_status.as_str() {
                            "FORMALISED_AS_OFFER" => {
                                Some(crate::labels::offer_published(n.offer_reference.as_deref()))
                            }
                            "CLOSED" => Some("Clos".to_owned()),
                            _ => None,
                        };
                        (n.activities, status)
                    })
                    .collect();
                let visits = visits
                    .into_iter()
                    .map(|v| format!("Visite le {}", v.visited_on.french()))
                    .collect();
                (p.name, needs, next_needs, visits, next_visits)
            }
            None => (
                "Votre établissement".to_owned(),
                Vec::new(),
                None,
                Vec::new(),
                None,
            ),
        };
        let body = PortalTemplate {
            nav: page.nav(said),
            name,
            needs,
            needs_pager: at.pager("besoins", next_needs),
            immersions,
            immersions_pager: at.pager("immersions", next_immersions),
            visits,
            visits_pager: at.pager("visites", next_visits),
        }
        .render();
        return page.render(StatusCode::OK, body);
    }
    if page.viewer.principal.is_some() {
        let (immersions, next_immersions) = match page.own_immersions(&mut at, &mut said).await {
            Ok(list) => list,
            Err(r) => return *r,
        };
        let me = own_person(&page.viewer);
        let own = match &me {
            Some(me) => match page.own_record(me).await {
                Ok(found) => found,
                Err(r) => return *r,
            },
            None => OwnRecord::default(),
        };
        let body = PersonTemplate {
            nav: page.nav(said),
            immersions,
            immersions_pager: at.pager("immersions", next_immersions),
            me,
            consents: own.consents,
            ended: own.exited_on.map(Day::french),
            situation: own.situation,
            versions: own.versions,
            inquiries: own.steps.0,
            meetings: own.steps.1,
            mentorships: own.steps.2,
            may_give: own.may_give,
            may_withdraw: own.may_withdraw,
        }
        .render();
        return page.render(StatusCode::OK, body);
    }
    if suite.is_some() && said.is_none() {
        said = Some("Connectez-vous pour ouvrir la page demandée.".to_owned());
    }
    let body = HomeTemplate {
        nav: page.nav(said),
        form: FormState::default(),
        link: FormState::default(),
        suite,
    }
    .render();
    page.render(StatusCode::OK, body)
}

/// The person signed in by their own link, if that is who views.
pub(crate) fn own_person(viewer: &Viewer) -> Option<String> {
    match viewer.principal?.principal {
        passerelle_graphql::Principal::Person(p) => Some(p.0.to_string()),
        passerelle_graphql::Principal::Employer(_) => None,
    }
}

pub(crate) fn own_employer(viewer: &Viewer) -> Option<String> {
    match viewer.principal?.principal {
        passerelle_graphql::Principal::Employer(e) => Some(e.0.to_string()),
        passerelle_graphql::Principal::Person(_) => None,
    }
}

/// The staff's search, posted: the typed text is personal data (a name),
/// so it never travels in a URL a proxy would log.
#[derive(Debug, Deserialize)]
pub(crate) struct SearchForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    q: String,
}

/// How long a search may be, in characters.
const SEARCH_MAX: usize = 100;
/// How many of each kind a search shows.
const SEARCH_ROWS: i64 = 10;

/// People, establishments and open needs found by one text, on the home
/// page: the people by name, the establishments by name or SIRET, the
/// needs by the jobs the text names.
pub(crate) async fn search(page: Page, Form(form): Form<SearchForm>) -> Response {
    if page.viewer.user.is_none() {
        return page.sign_in_first();
    }
    if let Err(r) = page.checked(&form.csrf) {
        return *r;
    }
    let nav = page.nav(None);
    let text = form.q.trim();
    let mut state = FormState::with(&[("q", &form.q)]);
    if text.is_empty() {
        state.errors.insert(
            "q".to_owned(),
            "Indiquez un nom, un SIRET ou un métier.".to_owned(),
        );
        return page.inbox(nav, state, None).await;
    }
    if text.chars().count() > SEARCH_MAX {
        state.errors.insert(
            "q".to_owned(),
            format!("La recherche tient en {SEARCH_MAX} caractères au plus."),
        );
        return page.inbox(nav, state, None).await;
    }
    let jobs: Vec<String> = RomeCode::matching(text, 20)
        .into_iter()
        .map(|c| c.as_str().to_owned())
        .collect();
    let out = page
        .run(
            "query($q: String!, $n: Int!, $jobs: [String!], $withNeeds: Boolean!) {
                people(first: $n, filter: { name: $q }) {
                    edges { node { id firstName lastName targetRomeCodes } }
                    pageInfo { endCursor hasNextPage } }
                employers(first: $n, filter: { nameOrSiret: $q }) {
                    edges { node { id name communeName } }
                    pageInfo { endCursor hasNextPage } }
                needs(first: $n, filter: { romeCodes: $jobs }) @include(if: $withNeeds) {
                    edges { node { id activities romeCodes } }
                    pageInfo { endCursor hasNextPage } } }",
            json!({ "q": text, "n": SEARCH_ROWS, "jobs": jobs, "withNeeds": !jobs.is_empty() }),
        )
        .await;
    if !out.errors.is_empty() {
        state.absorb(&out.errors, &[("name", "q"), ("nameOrSiret", "q")]);
        return page.inbox(nav, state, None).await;
    }
    #[derive(Deserialize)]
    struct Answer {
        people: Paged<Person>,
        employers: Paged<Employer>,
        #[serde(default)]
        needs: Option<Paged<Need>>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Person {
        id: String,
        #[serde(flatten)]
        name: PersonName,
        target_rome_codes: Vec<String>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Employer {
        id: String,
        name: String,
        commune_name: Option<String>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Need {
        id: String,
        activities: String,
        rome_codes: Vec<String>,
    }
    let answer: Answer = read_or_return!(out);
    let labels = |codes: &[String]| {
        codes
            .iter()
            .map(|c| fr::rome(c))
            .collect::<Vec<_>>()
            .join(" ; ")
    };
    let (people, more_people) = answer.people.split();
    let (employers, more_employers) = answer.employers.split();
    let (needs, more_needs) = answer.needs.map(Paged::split).unwrap_or_default();
    let more = [
        more_people.map(|_| {
            More::Posted(
                "/people/recherche",
                "Voir toutes les personnes trouvées",
                text.to_owned(),
            )
        }),
        more_employers.map(|_| {
            More::Posted(
                "/employers/recherche",
                "Voir tous les établissements trouvés",
                text.to_owned(),
            )
        }),
        more_needs.map(|_| match jobs.as_slice() {
            [job] => More::Link(list_href("/besoins", &[("metier", job.as_str())])),
            _ => More::Narrow,
        }),
    ];
    let found = Found {
        more,
        people: people
            .into_iter()
            .map(|p| {
                (
                    format!("/people/{}", p.id),
                    p.name.full(),
                    labels(&p.target_rome_codes),
                )
            })
            .collect(),
        employers: employers
            .into_iter()
            .map(|e| {
                (
                    format!("/employers/{}", e.id),
                    e.name,
                    e.commune_name.unwrap_or_default(),
                )
            })
            .collect(),
        needs: needs
            .into_iter()
            .map(|n| {
                (
                    format!("/needs/{}", n.id),
                    n.activities,
                    labels(&n.rome_codes),
                )
            })
            .collect(),
    };
    page.inbox(nav, state, Some(found)).await
}

/// A consent given or withdrawn by the person, from their space.
#[derive(Debug, Deserialize)]
pub(crate) struct ConsentForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    purpose: String,
    #[serde(default)]
    version: String,
    /// `donner` or `retirer`.
    #[serde(default)]
    choix: String,
}

pub(crate) async fn consent(page: Page, Form(form): Form<ConsentForm>) -> Response {
    let Some(me) = own_person(&page.viewer) else {
        return page.redirect("/", Vec::new());
    };
    if let Err(r) = page.checked(&form.csrf) {
        return *r;
    }
    // A purpose her space did not offer (the form edited by hand) is
    // refused in its words, not in the API's codes.
    if !<passerelle_domain::person::ConsentPurpose as fr::Labelled>::ALL
        .iter()
        .any(|p| fr::Labelled::code(*p).to_ascii_uppercase() == form.purpose)
    {
        return crate::page::message(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Accord non enregistré",
            "Cet accord n'existe pas : revenez à votre espace pour choisir parmi ceux qu'il propose.",
        );
    }
    let out = match form.choix.as_str() {
        "donner" => {
            page.run(
                "mutation($p: ID!, $c: ConsentPurpose!, $v: String!) { consentGiveOnline(input: {
                    personId: $p, purpose: $c, textVersion: $v }) { person { id } } }",
                json!({ "p": me, "c": form.purpose, "v": form.version }),
            )
            .await
        }
        "retirer" => {
            page.run(
                "mutation($p: ID!, $c: ConsentPurpose!) { consentWithdrawOnline(input: {
                    personId: $p, purpose: $c }) { person { id } } }",
                json!({ "p": me, "c": form.purpose }),
            )
            .await
        }
        _ => return page.redirect("/", Vec::new()),
    };
    if let Some(e) = out.errors.first() {
        return crate::page::message(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Accord non enregistré",
            &e.message,
        );
    }
    page.redirect("/?fait=accord", Vec::new())
}
