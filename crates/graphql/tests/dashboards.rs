//! The dashboards against the event log, on seeded random histories carried
//! out through the command path on a real PostgreSQL: each figure equals an
//! independent fold over the log written here; `asOf` a past day equals what
//! the live dashboard reported that day; a rebuild equals the live
//! projection; small cells are masked beyond one's own structure.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use passerelle_accounts::{StaffRole, User};
use passerelle_app::{Actor, Clock as _, CommandMeta, FixedClock, Handler, Role, Views};
use passerelle_demo::{History, Options, Staff};
use passerelle_domain::employer::{
    Employer, EmployerChanges, EmployerCommand, EmployerEvent, VisitChanges,
};
use passerelle_domain::immersion::{ImmersionEvent, Outcome, Signatory};
use passerelle_domain::need::{Need, NeedCommand, NeedDescription, NeedEvent};
use passerelle_domain::person::{IdentityChanges, Person, PersonCommand, PersonEvent};
use passerelle_domain::values::{
    AgeBand, CommuneCode, EmployerId, NafDivision, NeedId, PersonId, RomeCode, StructureId, Text,
    UserId,
};
use passerelle_graphql::{Gateway, PasserelleSchema, Viewer, prepare};
use passerelle_store::projection::Projections;
use passerelle_store::testkit::TestDb;
use passerelle_store::{LogPosition, RecordedEvent};
use serde_json::{Value, json};
use time::macros::{date, datetime};
use time::{Date, Duration, OffsetDateTime};
use uuid::Uuid;

const FUNNEL: &str = "query($filter: DashboardFilter, $asOf: Date) {
    immersionFunnel(filter: $filter, asOf: $asOf) {
        masked steps { step count rateFromPrevious medianDaysFromPrevious }
    }
}";
const OUTCOMES: &str = "query($filter: DashboardFilter, $asOf: Date) {
    immersionOutcomes(filter: $filter, asOf: $asOf) {
        masked cells { milestone objective outcome contract count }
    }
}";
const NEEDS: &str = "query($filter: DashboardFilter, $asOf: Date) {
    needsConversion(filter: $filter, asOf: $asOf) {
        masked visits needsPerVisit
        bySource { source needs becameImmersion becameOffer ledToHire }
    }
}";
const READJUSTMENTS: &str = "query($filter: DashboardFilter, $asOf: Date) {
    projectReadjustments(filter: $filter, asOf: $asOf) {
        masked projects byIterations { readjustments people } byCause { cause readjustments }
    }
}";
const ENGAGEMENT: &str = "query($filter: DashboardFilter, $asOf: Date) {
    employerEngagement(filter: $filter, asOf: $asOf) {
        masked employersVisited visits employersWithNeeds needs employersHosting immersionsHosted
        proposals proposalsAnswered medianDaysToAnswer waitingOverSevenDays
    }
}";
const DASHBOARDS: [&str; 5] = [FUNNEL, OUTCOMES, NEEDS, READJUSTMENTS, ENGAGEMENT];

struct Fixture {
    db: TestDb,
    projections: Arc<Projections>,
    handler: Handler,
    clock: Arc<FixedClock>,
    schema: PasserelleSchema,
    gateway: Gateway,
    staff: Vec<Staff>,
}

impl Fixture {
    async fn new() -> Self {
        let db = TestDb::new().await;
        let projections = support::projections(&db).await;
        let clock = Arc::new(FixedClock::new(datetime!(2025-01-01 08:00 UTC)));
        let handler = Handler::new(projections.clone(), clock.clone());
        let (gateway, schema) = support::gateway(handler.clone(), &db);
        let staff = support::staff(&[("44", 1), ("35", 2), ("49", 3)], 3);
        Self {
            db,
            projections,
            handler,
            clock,
            schema,
            gateway,
            staff,
        }
    }

    /// A manager of the `n`th structure.
    fn viewer(&self, n: usize) -> Viewer {
        let s = &self.staff[n];
        Viewer {
            user: Some(User {
                user_id: s.mediators[0],
                structure: s.structure,
                structure_name: format!("Structure {n}"),
                role: StaffRole::Manager,
                email: format!("direction@structure{n}.example.org"),
                name: "Direction".into(),
            }),
            principal: None,
            token: None,
            client: None,
        }
    }

    async fn query(&self, viewer: &Viewer, query: &str, variables: Value) -> Value {
        let request = async_graphql::Request::new(query)
            .variables(async_graphql::Variables::from_json(variables));
        let response = self
            .schema
            .execute(prepare(request, &self.gateway, viewer.clone()))
            .await;
        assert!(response.errors.is_empty(), "{:?}", response.errors);
        response.data.into_json().unwrap()
    }

    /// The asynchronous projections brought up to date.
    async fn catch_up(&self) {
        self.projections.catch_up().await.unwrap();
    }

    async fn log(&self) -> Vec<RecordedEvent> {
        let mut conn = self.db.pool.acquire().await.unwrap();
        let mut all = Vec::new();
        let mut after = LogPosition {
            transaction_id: 0,
            global_position: 0,
        };
        loop {
            let batch = self
                .projections
                .store()
                .read_all(&mut conn, after, 5_000)
                .await
                .unwrap();
            let Some(last) = batch.last() else {
                return all;
            };
            after = last.position;
            all.extend(batch);
        }
    }

    /// Every figure each structure's manager sees of their own structure,
    /// and what a manager sees of the whole territory, live or `as_of`.
    async fn figures(&self, as_of: Option<Date>) -> Vec<Value> {
        let mut all = Vec::new();
        for n in 0..self.staff.len() {
            let own = json!({ "filter": { "structureId": self.staff[n].structure.to_string() },
                              "asOf": as_of });
            for dashboard in DASHBOARDS {
                all.push(self.query(&self.viewer(n), dashboard, own.clone()).await);
            }
        }
        let territory = json!({ "asOf": as_of });
        for dashboard in DASHBOARDS {
            all.push(
                self.query(&self.viewer(0), dashboard, territory.clone())
                    .await,
            );
        }
        all
    }
}

/// The last instant of `day` in Paris.
fn end_of_day(day: Date) -> OffsetDateTime {
    let next = day.next_day().unwrap().midnight();
    next.assume_offset(passerelle_app::paris_offset(next.assume_utc())) - Duration::microseconds(1)
}

/// One immersion as folded from its events here, independently of the
/// projection's SQL.
#[derive(Default)]
struct Folded {
    structure: Uuid,
    objective: String,
    person_accepted: bool,
    employer_accepted: bool,
    required: BTreeSet<Signatory>,
    signatures: BTreeSet<Signatory>,
    /// When each step was first reached.
    reached: BTreeMap<usize, OffsetDateTime>,
    /// The last outcome recorded at each milestone: (outcome, contract).
    outcomes: BTreeMap<String, (String, Option<String>)>,
}

fn json_tag<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value).unwrap() {
        Value::String(s) => s,
        Value::Object(map) => map["kind"].as_str().unwrap().to_owned(),
        other => panic!("{other}"),
    }
}

/// Folds the immersions of the log up to `cutoff`.
fn fold(log: &[RecordedEvent], cutoff: OffsetDateTime) -> BTreeMap<String, Folded> {
    let mut immersions: BTreeMap<String, Folded> = BTreeMap::new();
    for event in log.iter().filter(|e| e.recorded_at <= cutoff) {
        if !event.stream_id.starts_with("immersion-") {
            continue;
        }
        let decoded: ImmersionEvent = event.decode().unwrap();
        let at = event.recorded_at;
        let i = immersions.entry(event.stream_id.clone()).or_default();
        let reach = |step: usize, i: &mut Folded| {
            i.reached.entry(step).or_insert(at);
        };
        match decoded {
            ImmersionEvent::ImmersionProposed(e) => {
                i.structure = e.structure.as_uuid();
                i.objective = json_tag(&e.objective);
                reach(0, i);
            }
            ImmersionEvent::ProposalAcceptedByPerson(_)
            | ImmersionEvent::ProposalAcceptedByEmployer(_) => {
                if matches!(decoded, ImmersionEvent::ProposalAcceptedByPerson(_)) {
                    i.person_accepted = true;
                } else {
                    i.employer_accepted = true;
                }
                if i.person_accepted && i.employer_accepted {
                    reach(1, i);
                }
            }
            ImmersionEvent::ConventionDrafted(e) => {
                i.required = e.convention.required_signatories(&e.convention.period);
                i.signatures.clear();
            }
            ImmersionEvent::ConventionModified(e) => {
                i.required = e.convention.required_signatories(&e.convention.period);
                i.signatures.clear();
            }
            ImmersionEvent::ConventionSigned(e) if !e.renewal => {
                i.signatures.insert(e.signatory);
                if i.required.is_subset(&i.signatures) {
                    reach(2, i);
                }
            }
            ImmersionEvent::ConventionValidated(e) if !e.renewal => reach(3, i),
            ImmersionEvent::ImmersionStarted(_) => reach(4, i),
            ImmersionEvent::ImmersionCompleted(_) => reach(5, i),
            ImmersionEvent::OutcomeRecorded(e) => {
                let contract = match &e.outcome {
                    Outcome::Hired { contract } => Some(json_tag(contract)),
                    _ => None,
                };
                if matches!(e.outcome, Outcome::Hired { .. } | Outcome::Training) {
                    reach(6, i);
                }
                i.outcomes
                    .insert(json_tag(&e.milestone), (json_tag(&e.outcome), contract));
            }
            _ => {}
        }
    }
    immersions
}

/// `percentile_cont(0.5)`: the middle value, or the mean of the two middle ones.
fn median(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    })
}

/// The funnel of the folded immersions of `structure` (all when `None`):
/// (count, median days from the previous step) per step.
fn funnel_of(
    folded: &BTreeMap<String, Folded>,
    structure: Option<Uuid>,
) -> Vec<(i64, Option<f64>)> {
    let mine: Vec<&Folded> = folded
        .values()
        .filter(|i| structure.is_none_or(|s| i.structure == s))
        .collect();
    (0..7)
        .map(|step| {
            let reached: Vec<&&Folded> = mine
                .iter()
                .filter(|i| i.reached.contains_key(&step))
                .collect();
            let delays = if step == 0 {
                Vec::new()
            } else {
                reached
                    .iter()
                    .filter_map(|i| {
                        Some(
                            (i.reached[&step] - *i.reached.get(&(step - 1))?).as_seconds_f64()
                                / 86_400.0,
                        )
                    })
                    .collect()
            };
            (reached.len() as i64, median(delays))
        })
        .collect()
}

/// Outcome counts of the folded immersions of `structure` (all when `None`),
/// keyed by (milestone, objective, outcome, contract), as the API names them.
fn outcomes_of(
    folded: &BTreeMap<String, Folded>,
    structure: Option<Uuid>,
) -> BTreeMap<(String, String, String, String), i64> {
    let mut counts = BTreeMap::new();
    for i in folded
        .values()
        .filter(|i| structure.is_none_or(|s| i.structure == s))
    {
        for (milestone, (outcome, contract)) in &i.outcomes {
            *counts
                .entry((
                    milestone.to_uppercase(),
                    i.objective.to_uppercase(),
                    outcome.to_uppercase(),
                    contract.clone().unwrap_or_default().to_uppercase(),
                ))
                .or_insert(0) += 1;
        }
    }
    counts
}

fn api_funnel(answer: &Value) -> Vec<(i64, Option<f64>)> {
    answer["immersionFunnel"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["count"].as_i64().expect("unmasked"),
                s["medianDaysFromPrevious"].as_f64(),
            )
        })
        .collect()
}

fn api_outcomes(answer: &Value) -> BTreeMap<(String, String, String, String), i64> {
    answer["immersionOutcomes"]["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                (
                    c["milestone"].as_str().unwrap().to_owned(),
                    c["objective"].as_str().unwrap().to_owned(),
                    c["outcome"].as_str().unwrap().to_owned(),
                    c["contract"].as_str().unwrap_or_default().to_owned(),
                ),
                c["count"].as_i64().expect("unmasked"),
            )
        })
        .collect()
}

fn assert_funnel_eq(api: &[(i64, Option<f64>)], folded: &[(i64, Option<f64>)], context: &str) {
    assert_eq!(api.len(), folded.len());
    for (step, (a, f)) in api.iter().zip(folded).enumerate() {
        assert_eq!(a.0, f.0, "{context}: count at step {step}");
        match (a.1, f.1) {
            (None, None) => {}
            (Some(x), Some(y)) => assert!(
                (x - y).abs() < 1e-6,
                "{context}: median at step {step}: {x} ≠ {y}"
            ),
            other => panic!("{context}: median at step {step}: {other:?}"),
        }
    }
}

/// What the log says of visits, needs, people and employers, folded here.
#[derive(Default)]
struct Territory {
    /// visit id → (structure, mediator, employer, recorded at)
    visits: BTreeMap<Uuid, (Uuid, Uuid, Uuid, OffsetDateTime)>,
    /// need id → its facts
    needs: BTreeMap<Uuid, NeedFacts>,
    /// person id → (structure, project stated, readjustments' causes)
    people: BTreeMap<Uuid, (Uuid, bool, Vec<String>)>,
    /// immersion id → its employer-side facts
    proposals: BTreeMap<Uuid, ProposalFacts>,
}

#[derive(Default)]
struct NeedFacts {
    source: String,
    structure: Uuid,
    employer: Uuid,
    immersion: bool,
    offer: bool,
    hire: bool,
}

#[derive(Default)]
struct ProposalFacts {
    structure: Uuid,
    employer: Uuid,
    need: Option<Uuid>,
    proposed_at: Option<OffsetDateTime>,
    answered_at: Option<OffsetDateTime>,
    declined_at: Option<OffsetDateTime>,
    started: bool,
}

fn stream_uuid(event: &RecordedEvent) -> Uuid {
    event.stream_id.split_once('-').unwrap().1.parse().unwrap()
}

fn fold_territory(log: &[RecordedEvent], cutoff: OffsetDateTime) -> Territory {
    use passerelle_domain::need::NeedSource;
    let mut t = Territory::default();
    for event in log.iter().filter(|e| e.recorded_at <= cutoff) {
        let id = stream_uuid(event);
        let at = event.recorded_at;
        match event.stream_id.split_once('-').unwrap().0 {
            "employer" => {
                if let EmployerEvent::EmployerVisitLogged(e) = event.decode().unwrap() {
                    t.visits
                        .insert(e.visit_id.0, (e.structure.as_uuid(), e.mediator.0, id, at));
                }
            }
            "need" => match event.decode().unwrap() {
                NeedEvent::NeedSurfaced(e) => {
                    let (source, structure) = match e.source {
                        NeedSource::Visit { visit_id } => ("visit", t.visits[&visit_id.0].0),
                        NeedSource::Portal => ("portal", event.tenant),
                        NeedSource::Phone => ("phone", event.tenant),
                    };
                    t.needs.insert(
                        id,
                        NeedFacts {
                            source: source.to_owned(),
                            structure,
                            employer: e.employer_id.0,
                            ..NeedFacts::default()
                        },
                    );
                }
                NeedEvent::NeedFormalisedAsOffer(_) => {
                    t.needs.get_mut(&id).unwrap().offer = true;
                }
                _ => {}
            },
            "person" => match event.decode().unwrap() {
                PersonEvent::PersonEnrolled(e) => {
                    t.people
                        .insert(id, (e.structure.as_uuid(), false, Vec::new()));
                }
                PersonEvent::ProjectStated(_) => t.people.get_mut(&id).unwrap().1 = true,
                PersonEvent::ProjectReadjusted(e) => {
                    t.people.get_mut(&id).unwrap().2.push(json_tag(&e.cause));
                }
                _ => {}
            },
            "immersion" => {
                let decoded: ImmersionEvent = event.decode().unwrap();
                if let ImmersionEvent::ImmersionProposed(e) = &decoded {
                    if let Some(need) = e.need_id {
                        t.needs.get_mut(&need.0).unwrap().immersion = true;
                    }
                    t.proposals.insert(
                        id,
                        ProposalFacts {
                            structure: e.structure.as_uuid(),
                            employer: e.employer_id.0,
                            need: e.need_id.map(|n| n.0),
                            proposed_at: Some(at),
                            ..ProposalFacts::default()
                        },
                    );
                    continue;
                }
                let p = t.proposals.get_mut(&id).unwrap();
                match decoded {
                    ImmersionEvent::ProposalAcceptedByEmployer(_) => {
                        p.answered_at.get_or_insert(at);
                    }
                    ImmersionEvent::ProposalDeclined(e) => {
                        p.declined_at.get_or_insert(at);
                        if e.by == passerelle_domain::immersion::Respondent::Employer {
                            p.answered_at.get_or_insert(at);
                        }
                    }
                    ImmersionEvent::ImmersionStarted(_) => p.started = true,
                    ImmersionEvent::OutcomeRecorded(e) => {
                        if let (Outcome::Hired { .. }, Some(need)) = (e.outcome, p.need) {
                            t.needs.get_mut(&need).unwrap().hire = true;
                        }
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
    t
}

/// The values the corrections below give, which the filters then select.
struct Corrections {
    /// A NAF division no seeded employer has.
    naf: NafDivision,
    /// A commune outside the seeded départements (Brest, 29).
    commune: CommuneCode,
    /// A ROME code no need of the log named when it was chosen.
    rome: RomeCode,
}

impl Corrections {
    fn new(log: &[RecordedEvent]) -> Self {
        let with_jobs = NafDivision::with_jobs();
        let naf = (1..100)
            .filter_map(|n| NafDivision::parse(&format!("{n:02}")).ok())
            .find(|d| !with_jobs.contains(d))
            .unwrap();
        let named: BTreeSet<String> = log
            .iter()
            .filter(|e| e.stream_id.starts_with("need-"))
            .filter_map(|e| match e.decode::<NeedEvent>().unwrap() {
                NeedEvent::NeedSurfaced(n) => Some(n.description),
                NeedEvent::NeedQualified(n) => Some(n.description),
                NeedEvent::NeedCorrected(n) => Some(n.description),
                _ => None,
            })
            .flat_map(|d| d.rome_codes)
            .map(|c| c.as_str().to_owned())
            .collect();
        let rome = ["A1102", "K2204", "M1607", "E1101", "B1101", "L1101"]
            .into_iter()
            .find(|c| !named.contains(*c))
            .map(|c| RomeCode::parse(c).unwrap())
            .unwrap();
        Self {
            naf,
            commune: CommuneCode::parse("29019").unwrap(),
            rome,
        }
    }

    /// Corrects, through the command path and as of the clock's day, some
    /// of the log's employers (sector, commune), visits (day), needs (jobs)
    /// and people (a birth date that puts them at 50 and over at their
    /// enrolment): a different share each `round`.
    async fn apply(&self, f: &Fixture, round: usize) {
        let log = f.log().await;
        let today = f.clock.today();
        let reason = Text::parse("Erreur de saisie relevée au contrôle").unwrap();
        let meta = |structure: StructureId, mediator: UserId| CommandMeta {
            command_id: Uuid::new_v4(),
            correlation_id: Uuid::new_v4(),
            causation_id: None,
            actor: Actor::user(mediator, Role::Mediator, structure),
        };
        let first = &f.staff[0];
        let staff_meta = || meta(first.structure, first.mediators[0]);
        let (mut employers, mut visits, mut people) = (0, 0, 0);
        let mut needs: BTreeMap<Uuid, (usize, NeedDescription)> = BTreeMap::new();
        for event in &log {
            let id = stream_uuid(event);
            match event.stream_id.split_once('-').unwrap().0 {
                "employer" => match event.decode::<EmployerEvent>().unwrap() {
                    EmployerEvent::EmployerRegistered(_) => {
                        employers += 1;
                        let changes = match employers % 4 {
                            n if n == round => EmployerChanges {
                                naf: Some(self.naf.clone()),
                                ..EmployerChanges::default()
                            },
                            n if n == round + 2 => EmployerChanges {
                                commune: Some(self.commune.clone()),
                                ..EmployerChanges::default()
                            },
                            _ => continue,
                        };
                        let command = EmployerCommand::Correct {
                            changes,
                            reason: reason.clone(),
                            corrected_on: today,
                        };
                        f.handler
                            .execute::<Employer>(EmployerId(id), &command, &staff_meta(), &Views)
                            .await
                            .unwrap();
                    }
                    EmployerEvent::EmployerVisitLogged(v) => {
                        visits += 1;
                        if visits % 6 != round {
                            continue;
                        }
                        let command = EmployerCommand::CorrectVisit {
                            visit_id: v.visit_id,
                            changes: VisitChanges {
                                visited_on: Some(v.visited_on - Duration::days(30)),
                                ..VisitChanges::default()
                            },
                            reason: reason.clone(),
                            corrected_on: today,
                        };
                        f.handler
                            .execute::<Employer>(
                                EmployerId(id),
                                &command,
                                &meta(v.structure, v.mediator),
                                &Views,
                            )
                            .await
                            .unwrap();
                    }
                    _ => {}
                },
                "need" => match event.decode::<NeedEvent>().unwrap() {
                    NeedEvent::NeedSurfaced(n) => {
                        let index = needs.len();
                        needs.insert(id, (index, n.description));
                    }
                    NeedEvent::NeedQualified(n) => needs.get_mut(&id).unwrap().1 = n.description,
                    NeedEvent::NeedCorrected(n) => needs.get_mut(&id).unwrap().1 = n.description,
                    _ => {}
                },
                "person" => {
                    if let PersonEvent::PersonEnrolled(p) = event.decode::<PersonEvent>().unwrap() {
                        people += 1;
                        if people % 5 != round {
                            continue;
                        }
                        let command = PersonCommand::CorrectIdentity {
                            changes: IdentityChanges {
                                birth_date: Some(p.enrolled_on - Duration::days(60 * 365)),
                                ..IdentityChanges::default()
                            },
                            reason: reason.clone(),
                            corrected_on: today,
                        };
                        let referent = f.staff.iter().find(|s| s.structure == p.structure).unwrap();
                        // Refused when the birth date is already that one.
                        let _ = f
                            .handler
                            .execute::<Person>(
                                PersonId(id),
                                &command,
                                &meta(referent.structure, p.referent),
                                &Views,
                            )
                            .await;
                    }
                }
                _ => {}
            }
        }
        for (id, (index, description)) in needs {
            if index % 4 != round || description.rome_codes.contains(&self.rome) {
                continue;
            }
            let command = NeedCommand::Correct {
                description: NeedDescription {
                    rome_codes: vec![self.rome.clone()],
                    ..description
                },
                reason: reason.clone(),
                corrected_on: today,
            };
            f.handler
                .execute::<Need>(NeedId(id), &command, &staff_meta(), &Views)
                .await
                .unwrap();
        }
    }
}

/// What immersions, visits and people count under once corrected, folded
/// over the whole log whatever the cutoff: the figures as of a past day
/// count what happened by then, under the values as corrected since.
#[derive(Default)]
struct Dimensions {
    /// employer → (NAF division, département)
    employers: BTreeMap<Uuid, (String, Option<String>)>,
    /// person → age band at enrolment, as the API names it
    people: BTreeMap<Uuid, String>,
    /// visit → (structure, employer, day, recorded at)
    visits: BTreeMap<Uuid, (Uuid, Uuid, Date, OffsetDateTime)>,
    /// immersion stream → (employer, person, need, ROME codes)
    immersions: BTreeMap<String, (Uuid, Uuid, Option<Uuid>, Vec<String>)>,
}

fn fold_dimensions(log: &[RecordedEvent]) -> Dimensions {
    let mut d = Dimensions::default();
    let codes = |c: &[RomeCode]| c.iter().map(|c| c.as_str().to_owned()).collect::<Vec<_>>();
    let departement = |c: &CommuneCode| c.commune().map(|c| c.departement.to_owned());
    let band = |b: &AgeBand| json_tag(b).to_uppercase();
    // need → its jobs as last described
    let mut needs: BTreeMap<Uuid, Vec<String>> = BTreeMap::new();
    for event in log {
        let id = stream_uuid(event);
        match event.stream_id.split_once('-').unwrap().0 {
            "employer" => match event.decode::<EmployerEvent>().unwrap() {
                EmployerEvent::EmployerRegistered(e) => {
                    d.employers
                        .insert(id, (e.naf.as_str().to_owned(), departement(&e.commune)));
                }
                EmployerEvent::EmployerCorrected(e) => {
                    let employer = d.employers.get_mut(&id).unwrap();
                    if let Some(naf) = &e.changes.naf {
                        employer.0 = naf.as_str().to_owned();
                    }
                    if let Some(commune) = &e.changes.commune {
                        employer.1 = departement(commune);
                    }
                }
                EmployerEvent::EmployerVisitLogged(e) => {
                    d.visits.insert(
                        e.visit_id.0,
                        (e.structure.0, id, e.visited_on, event.recorded_at),
                    );
                }
                EmployerEvent::EmployerVisitCorrected(e) => {
                    if let Some(day) = e.changes.visited_on {
                        d.visits.get_mut(&e.visit_id.0).unwrap().2 = day;
                    }
                }
                _ => {}
            },
            "person" => match event.decode::<PersonEvent>().unwrap() {
                PersonEvent::PersonEnrolled(e) => {
                    d.people.insert(id, band(&e.age_band));
                }
                PersonEvent::IdentityCorrected(e) => {
                    if let Some(b) = &e.age_band {
                        d.people.insert(id, band(b));
                    }
                }
                _ => {}
            },
            "need" => match event.decode::<NeedEvent>().unwrap() {
                NeedEvent::NeedSurfaced(e) => {
                    needs.insert(id, codes(&e.description.rome_codes));
                }
                NeedEvent::NeedQualified(e) => {
                    needs.insert(id, codes(&e.description.rome_codes));
                }
                // The immersions that took the description corrected take
                // the correction.
                NeedEvent::NeedCorrected(e) => {
                    let now = codes(&e.description.rome_codes);
                    let was = needs.insert(id, now.clone()).unwrap();
                    for (_, _, need, rome) in d.immersions.values_mut() {
                        if *need == Some(id) && *rome == was {
                            rome.clone_from(&now);
                        }
                    }
                }
                _ => {}
            },
            "immersion" => {
                if let ImmersionEvent::ImmersionProposed(e) = event.decode().unwrap() {
                    let rome = e
                        .need_id
                        .and_then(|n| needs.get(&n.0).cloned())
                        .unwrap_or_default();
                    d.immersions.insert(
                        event.stream_id.clone(),
                        (e.employer_id.0, e.person_id.0, e.need_id.map(|n| n.0), rome),
                    );
                }
            }
            _ => {}
        }
    }
    d
}

/// Whether an immersion (by its stream) is among those a filter selects.
type Selects<'a> = Box<dyn Fn(&str) -> bool + 'a>;

/// The figures the corrections change, each structure's as its manager
/// sees them, against the fold: the funnel by sector, département, age
/// band and job; visits by period, sector and département; projects by
/// age band. Gives the API's answers, for the rebuild to compare.
async fn check_corrected_figures(
    f: &Fixture,
    log: &[RecordedEvent],
    corrections: &Corrections,
    cutoff: OffsetDateTime,
    as_of: Option<Date>,
    context: &str,
) -> Vec<Value> {
    let folded = fold(log, cutoff);
    let d = fold_dimensions(log);
    let naf = corrections.naf.as_str().to_owned();
    let departement = corrections
        .commune
        .commune()
        .unwrap()
        .departement
        .to_owned();
    let rome = corrections.rome.as_str().to_owned();
    let (from, to) = (date!(2025 - 06 - 01), date!(2025 - 12 - 31));
    let mut answers = Vec::new();
    let mut selected = [0usize; 4];
    for (n, staff) in f.staff.iter().enumerate() {
        let structure = staff.structure.0;
        let filters: [(&str, Value, Selects); 4] = [
            (
                "naf",
                json!(naf),
                Box::new(|i: &str| d.employers[&d.immersions[i].0].0 == naf),
            ),
            (
                "departement",
                json!(departement),
                Box::new(|i: &str| {
                    d.employers[&d.immersions[i].0].1.as_deref() == Some(departement.as_str())
                }),
            ),
            (
                "ageBand",
                json!("FROM_50"),
                Box::new(|i: &str| d.people[&d.immersions[i].1] == "50_AND_OVER"),
            ),
            (
                "rome",
                json!(rome),
                Box::new(|i: &str| d.immersions[i].3.contains(&rome)),
            ),
        ];
        for (k, (name, value, selects)) in filters.iter().enumerate() {
            let mut filter = json!({ "structureId": structure.to_string() });
            filter[*name] = value.clone();
            let answer = f
                .query(
                    &f.viewer(n),
                    FUNNEL,
                    json!({ "filter": filter, "asOf": as_of }),
                )
                .await;
            let mine: BTreeMap<String, Folded> = folded
                .iter()
                .filter(|(stream, _)| selects(stream))
                .map(|(stream, i)| {
                    (
                        stream.clone(),
                        Folded {
                            structure: i.structure,
                            reached: i.reached.clone(),
                            ..Folded::default()
                        },
                    )
                })
                .collect();
            let expected = funnel_of(&mine, Some(structure));
            selected[k] += expected[0].0 as usize;
            assert_funnel_eq(
                &api_funnel(&answer),
                &expected,
                &format!("{context}, structure {n}, funnel by {name}"),
            );
            answers.push(answer);
        }
        // Visits: by their corrected day, and by their employer's
        // corrected sector and département; counted by when recorded.
        let recorded = |v: &&(Uuid, Uuid, Date, OffsetDateTime)| v.0 == structure && v.3 <= cutoff;
        for (filter, expected) in [
            (
                json!({ "from": from, "to": to }),
                d.visits
                    .values()
                    .filter(recorded)
                    .filter(|v| (from..=to).contains(&v.2))
                    .count(),
            ),
            (
                json!({ "naf": naf }),
                d.visits
                    .values()
                    .filter(recorded)
                    .filter(|v| d.employers[&v.1].0 == naf)
                    .count(),
            ),
            (
                json!({ "departement": departement }),
                d.visits
                    .values()
                    .filter(recorded)
                    .filter(|v| d.employers[&v.1].1.as_deref() == Some(departement.as_str()))
                    .count(),
            ),
        ] {
            let mut filter = filter;
            filter["structureId"] = json!(structure.to_string());
            let answer = f
                .query(
                    &f.viewer(n),
                    NEEDS,
                    json!({ "filter": filter, "asOf": as_of }),
                )
                .await;
            assert_eq!(
                answer["needsConversion"]["visits"].as_i64(),
                Some(expected as i64),
                "{context}, structure {n}, visits by {filter}"
            );
            answers.push(answer);
        }
        // Projects of people at 50 and over at their enrolment.
        let territory = fold_territory(log, cutoff);
        let expected = territory
            .people
            .iter()
            .filter(|(id, p)| p.0 == structure && p.1 && d.people[id] == "50_AND_OVER")
            .count();
        let filter = json!({ "structureId": structure.to_string(), "ageBand": "FROM_50" });
        let answer = f
            .query(
                &f.viewer(n),
                READJUSTMENTS,
                json!({ "filter": filter, "asOf": as_of }),
            )
            .await;
        assert_eq!(
            answer["projectReadjustments"]["projects"].as_i64(),
            Some(expected as i64),
            "{context}, structure {n}, projects by age band"
        );
        answers.push(answer);
    }
    if as_of.is_none() {
        assert!(
            selected.iter().all(|&s| s > 0),
            "{context}: every corrected value selects immersions: {selected:?}"
        );
    }
    answers
}

/// The three dashboards of one structure (every one when `None`) as the API
/// gives them, from the fold.
fn territory_figures(t: &Territory, structure: Option<Uuid>, cutoff: OffsetDateTime) -> Value {
    let mine = |s: Uuid| structure.is_none_or(|structure| s == structure);
    let visits: Vec<_> = t.visits.values().filter(|v| mine(v.0)).collect();
    let needs: Vec<&NeedFacts> = t.needs.values().filter(|n| mine(n.structure)).collect();
    let mut sources: Vec<&str> = needs.iter().map(|n| n.source.as_str()).collect();
    sources.sort_unstable();
    sources.dedup();
    let by_source: Vec<Value> = sources
        .iter()
        .map(|source| {
            let of: Vec<&&NeedFacts> = needs.iter().filter(|n| n.source == *source).collect();
            json!({
                "source": source.to_uppercase(),
                "needs": of.len(),
                "becameImmersion": of.iter().filter(|n| n.immersion).count(),
                "becameOffer": of.iter().filter(|n| n.offer).count(),
                "ledToHire": of.iter().filter(|n| n.hire).count(),
            })
        })
        .collect();
    let people: Vec<_> = t.people.values().filter(|p| mine(p.0) && p.1).collect();
    let mut iterations = [0usize; 4];
    let mut causes: BTreeMap<String, usize> = BTreeMap::new();
    for p in &people {
        iterations[p.2.len().min(3)] += 1;
        for cause in &p.2 {
            *causes.entry(cause.to_uppercase()).or_default() += 1;
        }
    }
    let proposals: Vec<&ProposalFacts> =
        t.proposals.values().filter(|p| mine(p.structure)).collect();
    let answered: Vec<f64> = proposals
        .iter()
        .filter_map(|p| Some((p.answered_at? - p.proposed_at?).as_seconds_f64() / 86_400.0))
        .collect();
    let week = Duration::days(7);
    let waiting = proposals
        .iter()
        .filter(|p| {
            let proposed = p.proposed_at.unwrap();
            proposed <= cutoff - week
                && p.answered_at.is_none_or(|a| a > proposed + week)
                && p.declined_at.is_none_or(|d| d > proposed + week)
        })
        .count();
    let distinct = |ids: Vec<Uuid>| ids.into_iter().collect::<BTreeSet<_>>().len();
    json!({
        "visits": visits.len(),
        "bySource": by_source,
        "projects": people.len(),
        "byIterations": iterations,
        "byCause": causes,
        "employersVisited": distinct(visits.iter().map(|v| v.2).collect()),
        "employersWithNeeds": distinct(needs.iter().map(|n| n.employer).collect()),
        "needs": needs.len(),
        "employersHosting": distinct(proposals.iter().filter(|p| p.started).map(|p| p.employer).collect()),
        "immersionsHosted": proposals.iter().filter(|p| p.started).count(),
        "proposals": proposals.len(),
        "proposalsAnswered": answered.len(),
        "medianDaysToAnswer": median(answered),
        "waitingOverSevenDays": waiting,
    })
}

/// The same figures read from the API's answers.
/// Of the `n`th structure, seen by its manager; of every structure when
/// `own` is false, seen by the first structure's manager.
async fn api_territory_figures(f: &Fixture, n: usize, own: bool, as_of: Option<Date>) -> Value {
    let variables = if own {
        json!({ "filter": { "structureId": f.staff[n].structure.to_string() }, "asOf": as_of })
    } else {
        json!({ "asOf": as_of })
    };
    let needs = f.query(&f.viewer(n), NEEDS, variables.clone()).await["needsConversion"].clone();
    let readjustments = f
        .query(&f.viewer(n), READJUSTMENTS, variables.clone())
        .await["projectReadjustments"]
        .clone();
    let e = f.query(&f.viewer(n), ENGAGEMENT, variables).await["employerEngagement"].clone();
    let by_cause: BTreeMap<String, Value> = readjustments["byCause"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["cause"].as_str().unwrap().to_owned(),
                c["readjustments"].clone(),
            )
        })
        .collect();
    json!({
        "visits": needs["visits"],
        "bySource": needs["bySource"],
        "projects": readjustments["projects"],
        "byIterations": readjustments["byIterations"].as_array().unwrap().iter()
            .map(|b| b["people"].clone()).collect::<Vec<_>>(),
        "byCause": by_cause,
        "employersVisited": e["employersVisited"],
        "employersWithNeeds": e["employersWithNeeds"],
        "needs": e["needs"],
        "employersHosting": e["employersHosting"],
        "immersionsHosted": e["immersionsHosted"],
        "proposals": e["proposals"],
        "proposalsAnswered": e["proposalsAnswered"],
        "medianDaysToAnswer": e["medianDaysToAnswer"],
        "waitingOverSevenDays": e["waitingOverSevenDays"],
    })
}

/// Equal, floats within a millionth.
/// With the viewer's own figures (`own`, the same shape, for figures that
/// count her structure among others), a null (a masked count) stands for a
/// count from 1 to 4, or one of which the others' share (what `own` does not
/// count) is; a masked rate or median stands for one drawn from such a count.
fn assert_json_close(api: &Value, folded: &Value, own: Option<&Value>, context: &str) {
    match (api, folded) {
        (Value::Null, Value::Number(b)) if own.is_some() => {
            let mine = own.and_then(Value::as_i64).unwrap_or(0);
            assert!(
                b.as_i64()
                    .is_none_or(|b| (1..5).contains(&b) || (1..5).contains(&(b - mine))),
                "{context}: {b} masked, {mine} of them the viewer's"
            );
        }
        (Value::Number(a), Value::Number(b)) => {
            let (a, b) = (a.as_f64().unwrap(), b.as_f64().unwrap());
            assert!((a - b).abs() < 1e-6, "{context}: {a} ≠ {b}");
        }
        (Value::Object(a), Value::Object(b)) => {
            assert_eq!(
                a.keys().collect::<Vec<_>>(),
                b.keys().collect::<Vec<_>>(),
                "{context}"
            );
            for (k, v) in a {
                assert_json_close(v, &b[k], own.map(|o| &o[k]), &format!("{context}.{k}"));
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            assert_eq!(a.len(), b.len(), "{context}: {api} ≠ {folded}");
            for (n, (x, y)) in a.iter().zip(b).enumerate() {
                assert_json_close(x, y, own.map(|o| &o[n]), &format!("{context}[{n}]"));
            }
        }
        _ => assert_eq!(api, folded, "{context}"),
    }
}

async fn check_history(seed: u64) {
    let f = Fixture::new().await;
    let end = date!(2026 - 06 - 30);
    let options = Options {
        seed,
        people: 70,
        employers: 30,
        months: 14,
        end,
    };
    let mut history = History::plan(&f.staff, &options);
    // The figures as the live dashboards gave them at the end of two past days.
    // Corrections come in after each (the live figures of that day taken
    // before them) and after the end: immersions proposed before and
    // after, in batches of their own and in one rebuild.
    let mut snapshots = Vec::new();
    let mut corrections = None;
    for day in [date!(2025 - 10 - 15), date!(2026 - 02 - 27)] {
        history.run_until(&f.handler, &f.clock, day).await.unwrap();
        f.catch_up().await;
        snapshots.push((day, f.figures(None).await));
        if corrections.is_none() {
            let c = Corrections::new(&f.log().await);
            c.apply(&f, 0).await;
            corrections = Some(c);
        }
    }
    history.run_until(&f.handler, &f.clock, end).await.unwrap();
    let corrections = corrections.unwrap();
    corrections.apply(&f, 1).await;
    f.catch_up().await;
    let report = history.report().clone();
    assert_eq!(report.refused, 0, "{report:?}");
    assert!(report.immersions > 40, "{report:?}");

    let log = f.log().await;
    let now = f.clock.now();
    let mut corrected = Vec::new();
    for (cutoff, as_of) in [
        (
            end_of_day(date!(2025 - 10 - 15)),
            Some(date!(2025 - 10 - 15)),
        ),
        (now, None),
    ] {
        corrected.extend(
            check_corrected_figures(
                &f,
                &log,
                &corrections,
                cutoff,
                as_of,
                &format!("seed {seed}, as of {as_of:?}"),
            )
            .await,
        );
        let folded = fold(&log, cutoff);
        let territory = fold_territory(&log, cutoff);
        for (n, staff) in f.staff.iter().enumerate() {
            let variables = json!({ "filter": { "structureId": staff.structure.to_string() },
                                    "asOf": as_of });
            let context = format!("seed {seed}, structure {n}, as of {as_of:?}");
            let funnel = f.query(&f.viewer(n), FUNNEL, variables.clone()).await;
            assert_eq!(funnel["immersionFunnel"]["masked"], false, "{context}");
            assert_funnel_eq(
                &api_funnel(&funnel),
                &funnel_of(&folded, Some(staff.structure.as_uuid())),
                &context,
            );
            let outcomes = f.query(&f.viewer(n), OUTCOMES, variables).await;
            assert_eq!(
                api_outcomes(&outcomes),
                outcomes_of(&folded, Some(staff.structure.as_uuid())),
                "{context}"
            );
            assert_json_close(
                &api_territory_figures(&f, n, true, as_of).await,
                &territory_figures(&territory, Some(staff.structure.as_uuid()), cutoff),
                None,
                &context,
            );
        }
        let whole = funnel_of(&folded, None);
        assert!(
            whole[0].0 > 0 && whole[6].0 > 0,
            "a history that goes somewhere: {whole:?}"
        );
        // Every structure's immersions, as a manager sees them beyond their
        // own (small counts masked): read apart from the filtered figures.
        let context = format!("seed {seed}, every structure, as of {as_of:?}");
        let everyone = json!({ "asOf": as_of });
        // A count is also masked when what it counts beyond the viewer's
        // own structure, which she reads in full, is small.
        let mine = f.staff[0].structure.as_uuid();
        let small =
            |count: i64, own: i64| (1..5).contains(&count) || (1..5).contains(&(count - own));
        let own_funnel = funnel_of(&folded, Some(mine));
        let funnel = f.query(&f.viewer(0), FUNNEL, everyone.clone()).await;
        let steps = funnel["immersionFunnel"]["steps"].as_array().unwrap();
        for (n, (s, folded)) in steps.iter().zip(&whole).enumerate() {
            match s["count"].as_i64() {
                None => assert!(
                    small(folded.0, own_funnel[n].0),
                    "{context}: step {n} masked"
                ),
                Some(count) => {
                    assert_funnel_eq(
                        &[(count, s["medianDaysFromPrevious"].as_f64())],
                        &[*folded],
                        &format!("{context}, step {n}"),
                    );
                    assert!(
                        !small(count, own_funnel[n].0),
                        "{context}: step {n} shown, {} of it the viewer's",
                        own_funnel[n].0
                    );
                }
            }
        }
        let outcomes = f.query(&f.viewer(0), OUTCOMES, everyone).await;
        let mut expected = outcomes_of(&folded, None);
        let own_outcomes = outcomes_of(&folded, Some(mine));
        for c in outcomes["immersionOutcomes"]["cells"].as_array().unwrap() {
            let key = (
                c["milestone"].as_str().unwrap().to_owned(),
                c["objective"].as_str().unwrap().to_owned(),
                c["outcome"].as_str().unwrap().to_owned(),
                c["contract"].as_str().unwrap_or_default().to_owned(),
            );
            let own = own_outcomes.get(&key).copied().unwrap_or(0);
            let folded = expected.remove(&key).unwrap_or(0);
            match c["count"].as_i64() {
                None => assert!(small(folded, own), "{context}: {key:?} masked"),
                Some(count) => {
                    assert_eq!(count, folded, "{context}: {key:?}");
                    assert!(
                        !small(count, own),
                        "{context}: {key:?} shown, {own} the viewer's"
                    );
                }
            }
        }
        assert!(
            expected.is_empty(),
            "{context}: cells missing: {expected:?}"
        );
        let folded_territory = territory_figures(&territory, None, cutoff);
        let mut api = api_territory_figures(&f, 0, false, as_of).await;
        // The projects, which the people by readjustments add up to, are
        // masked with any of those.
        if api["projects"].is_null()
            && api["byIterations"]
                .as_array()
                .unwrap()
                .iter()
                .any(Value::is_null)
        {
            api["projects"] = folded_territory["projects"].clone();
        }
        assert_json_close(
            &api,
            &folded_territory,
            Some(&territory_figures(
                &territory,
                Some(f.staff[0].structure.as_uuid()),
                cutoff,
            )),
            &context,
        );
    }

    for (day, live) in &snapshots {
        assert_eq!(
            &f.figures(Some(*day)).await,
            live,
            "as of {day}, seed {seed}"
        );
    }

    let before = f.figures(None).await;
    f.projections.rebuild("dashboards", false).await.unwrap();
    assert_eq!(
        f.figures(None).await,
        before,
        "rebuilt from the log, seed {seed}"
    );
    let mut rebuilt = Vec::new();
    for (cutoff, as_of) in [
        (
            end_of_day(date!(2025 - 10 - 15)),
            Some(date!(2025 - 10 - 15)),
        ),
        (now, None),
    ] {
        rebuilt.extend(
            check_corrected_figures(
                &f,
                &log,
                &corrections,
                cutoff,
                as_of,
                &format!("seed {seed}, rebuilt, as of {as_of:?}"),
            )
            .await,
        );
    }
    assert_eq!(rebuilt, corrected, "corrected figures rebuilt, seed {seed}");
}

#[tokio::test]
async fn dashboards_equal_a_fold_of_the_log_live_as_of_and_rebuilt() {
    for seed in [7, 2026] {
        check_history(seed).await;
    }
}

#[tokio::test]
async fn small_cells_are_masked_beyond_ones_own_structure() {
    let f = Fixture::new().await;
    let options = Options {
        seed: 11,
        people: 45,
        employers: 20,
        months: 12,
        end: date!(2026 - 06 - 30),
    };
    passerelle_demo::seed(&f.handler, &f.clock, &f.staff, &options)
        .await
        .unwrap();
    f.catch_up().await;
    let other = json!({ "filter": { "structureId": f.staff[1].structure.to_string() } });
    let own = json!({ "filter": { "structureId": f.staff[0].structure.to_string() } });
    let seen_from_outside = f.query(&f.viewer(0), OUTCOMES, other.clone()).await;
    let seen_from_inside = f.query(&f.viewer(1), OUTCOMES, other).await;
    let outside = seen_from_outside["immersionOutcomes"]["cells"]
        .as_array()
        .unwrap();
    let inside = seen_from_inside["immersionOutcomes"]["cells"]
        .as_array()
        .unwrap();
    assert_eq!(outside.len(), inside.len());
    let mut masked = 0;
    for (o, i) in outside.iter().zip(inside) {
        let count = i["count"]
            .as_i64()
            .expect("a structure sees all its figures");
        if (1..5).contains(&count) {
            assert!(o["count"].is_null(), "{count} shown beyond the structure");
            masked += 1;
        } else {
            assert_eq!(o["count"].as_i64(), Some(count));
        }
    }
    assert!(masked > 0, "the history has small cells to mask");
    assert_eq!(seen_from_outside["immersionOutcomes"]["masked"], true);
    assert_eq!(seen_from_inside["immersionOutcomes"]["masked"], false);
    let mine = f.query(&f.viewer(0), FUNNEL, own).await;
    assert_eq!(mine["immersionFunnel"]["masked"], false);

    // Beyond her structure a figure counts hers among others: she reads
    // hers in full, so what the others count, told by difference, must not
    // be small either, under any filter.
    let mut told_apart = 0;
    for filter in [
        json!({}),
        json!({ "disability": true }),
        json!({ "objective": "CONFIRM_PROJECT" }),
        json!({ "objective": "DISCOVER_JOB_OR_SECTOR" }),
        json!({ "objective": "INITIATE_RECRUITMENT" }),
        json!({ "ageBand": "UNDER_26" }),
        json!({ "ageBand": "FROM_26_TO_49" }),
        json!({ "ageBand": "FROM_50" }),
    ] {
        let counts = |answer: &Value| -> Vec<Option<i64>> {
            answer["immersionFunnel"]["steps"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["count"].as_i64())
                .collect()
        };
        // Each structure's own figures, read by its staff in full: hers,
        // and, summed, the whole territory's.
        let mut structures = Vec::new();
        let mut whole = [0i64; 7];
        let mut hers = Vec::new();
        for n in 0..f.staff.len() {
            let structure = f.staff[n].structure;
            if structures.contains(&structure) {
                continue;
            }
            structures.push(structure);
            let mut own = filter.clone();
            own["structureId"] = json!(structure.to_string());
            let read: Vec<i64> = counts(
                &f.query(&f.viewer(n), FUNNEL, json!({ "filter": own }))
                    .await,
            )
            .into_iter()
            .map(|c| c.expect("a structure sees all its figures"))
            .collect();
            whole.iter_mut().zip(&read).for_each(|(w, r)| *w += r);
            if n == 0 {
                hers = read;
            }
        }
        let territory = f
            .query(&f.viewer(0), FUNNEL, json!({ "filter": filter }))
            .await;
        for (n, all) in counts(&territory).into_iter().enumerate() {
            match all {
                Some(all) => {
                    assert_eq!(all, whole[n], "{filter}, step {n}");
                    assert!(
                        !(1..5).contains(&(all - hers[n])),
                        "{filter}, step {n}: {all} shown, {} hers",
                        hers[n]
                    );
                }
                // Masked although not small: masked for the others' share.
                None if whole[n] >= 5 => {
                    assert!((1..5).contains(&(whole[n] - hers[n])), "{filter}, step {n}");
                    told_apart += 1;
                }
                None => assert!((1..5).contains(&whole[n]), "{filter}, step {n}"),
            }
        }
    }
    assert!(
        told_apart > 0,
        "the history has figures masked for the others' share"
    );
}

#[tokio::test]
async fn dashboard_inputs_are_checked() {
    let f = Fixture::new().await;
    for (variables, field) in [
        (json!({ "asOf": "2999-01-01" }), "asOf"),
        (
            json!({ "filter": { "from": "2026-05-01", "to": "2026-04-01" } }),
            "filter.to",
        ),
    ] {
        let request = async_graphql::Request::new(FUNNEL)
            .variables(async_graphql::Variables::from_json(variables));
        let response = f
            .schema
            .execute(prepare(request, &f.gateway, f.viewer(0)))
            .await;
        let error = response.errors.first().expect("refused");
        let extensions = serde_json::to_value(&error.extensions).unwrap();
        assert_eq!(extensions["code"], "BAD_USER_INPUT", "{error:?}");
        assert_eq!(extensions["field"], field, "{error:?}");
    }
    let anonymous = f
        .schema
        .execute(prepare(
            async_graphql::Request::new(FUNNEL),
            &f.gateway,
            Viewer::default(),
        ))
        .await;
    let extensions = serde_json::to_value(&anonymous.errors[0].extensions).unwrap();
    assert_eq!(extensions["code"], "UNAUTHENTICATED");
}
