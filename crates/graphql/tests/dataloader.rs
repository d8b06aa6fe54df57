//! Lists below a page of employers, and the host's name on a page of
//! immersions, are batched: the number of SQL statements a query runs does
//! not grow with the number of rows.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use passerelle_accounts::{StaffRole, User};
use passerelle_app::{Actor, CommandMeta, FixedClock, Handler, Role, Views};
use passerelle_domain::employer::{Employer, EmployerCommand, VisitPurpose};
use passerelle_domain::immersion::{Immersion, ImmersionCommand, Objective};
use passerelle_domain::person::{Identity, LegalBasis, Person, PersonCommand};
use passerelle_domain::values::*;
use passerelle_graphql::{Viewer, prepare};
use passerelle_store::testkit::TestDb;
use time::macros::{date, datetime};
use tracing_subscriber::layer::SubscriberExt as _;
use uuid::Uuid;

/// Counts the statements sqlx logs.
#[derive(Clone, Default)]
struct Statements(Arc<AtomicUsize>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Statements {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        if event.metadata().target() == "sqlx::query" {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
}

async fn employers_with_visits(handler: &Handler, count: u128) {
    let structure = StructureId(Uuid::from_u128(1));
    for n in 0..count {
        let id = EmployerId(Uuid::from_u128(1000 + n));
        let commands = [
            EmployerCommand::Register {
                employer_id: id,
                siret: siret(n),
                name: Label::parse(&format!("Employeur {n:02}")).unwrap(),
                naf: NafDivision::parse("56").unwrap(),
                commune: CommuneCode::parse("44109").unwrap(),
                address: None,
            },
            visit(n, 1, structure),
            visit(n, 2, structure),
        ];
        for command in commands {
            handler
                .execute::<Employer>(id, &command, &meta(), &Views)
                .await
                .unwrap();
        }
    }
}

/// A valid SIRET per number: 13 digits completed by their Luhn digit.
fn siret(n: u128) -> Siret {
    let prefix = format!("{:013}", 4_000_000_000_000u128 + n * 7);
    (0..10)
        .find_map(|d| Siret::parse(&format!("{prefix}{d}")).ok())
        .unwrap()
}

fn visit(n: u128, k: u128, structure: StructureId) -> EmployerCommand {
    EmployerCommand::LogVisit {
        visit_id: VisitId(Uuid::from_u128(10_000 + n * 10 + k)),
        visited_on: date!(2026 - 03 - 02),
        mediator: UserId(Uuid::from_u128(2)),
        structure,
        purpose: VisitPurpose::Prospection,
        observations: Text::parse("Premier contact").unwrap(),
        next_step: None,
    }
}

/// Runs `query` as a mediator, counting the SQL statements it costs.
async fn counted(handler: Handler, db: &TestDb, query: &str) -> (usize, serde_json::Value) {
    let (gateway, schema) = support::gateway(handler, db);
    let viewer = Viewer {
        user: Some(User {
            user_id: UserId(Uuid::from_u128(2)),
            structure: StructureId(Uuid::from_u128(1)),
            structure_name: "Mission locale".into(),
            role: StaffRole::Mediator,
            email: "camille@ml.fr".into(),
            name: "Camille".into(),
        }),
        principal: None,
        token: None,
        client: None,
    };
    let counter = Statements::default();
    let subscriber = tracing_subscriber::registry()
        .with(
            tracing_subscriber::filter::Targets::new()
                .with_target("sqlx::query", tracing::Level::TRACE),
        )
        .with(counter.clone());
    let _guard = tracing::subscriber::set_default(subscriber);
    let request = prepare(async_graphql::Request::new(query), &gateway, viewer);
    let response = schema.execute(request).await;
    assert!(response.errors.is_empty(), "{:?}", response.errors);
    (
        counter.0.load(Ordering::Relaxed),
        response.data.into_json().unwrap(),
    )
}

async fn statements_for_a_page(employers: u128) -> usize {
    let db = TestDb::new().await;
    let handler = Handler::new(
        support::projections(&db).await,
        Arc::new(FixedClock::new(datetime!(2026-03-02 09:00 UTC))),
    );
    employers_with_visits(&handler, employers).await;
    let (statements, json) = counted(
        handler,
        &db,
        "{ employers(first: 50) { edges { node { name visits { id } needs { id } } } } }",
    )
    .await;
    let edges = json["employers"]["edges"].as_array().unwrap();
    assert_eq!(edges.len() as u128, employers);
    assert!(
        edges
            .iter()
            .all(|e| e["node"]["visits"].as_array().unwrap().len() == 2)
    );
    statements
}

// One test: tracing's per-thread subscribers of tests running side by side
// would hide statements from each other's counter.
#[tokio::test]
async fn batched_lists_cost_the_same_statements_whatever_the_page_size() {
    let two = statements_for_a_page(2).await;
    let twelve = statements_for_a_page(12).await;
    eprintln!("statements: {two} for 2 employers, {twelve} for 12");
    assert!(two > 0, "the counter sees sqlx's statements");
    assert_eq!(two, twelve, "statements grow with the page: N+1");
    assert!(
        twelve <= 3,
        "one for the page, one for visits, one for needs: {twelve}"
    );

    let two = statements_for_immersions(2).await;
    let twelve = statements_for_immersions(12).await;
    eprintln!("statements: {two} for 2 immersions, {twelve} for 12");
    assert_eq!(two, twelve, "employerName grows with the page: N+1");
    assert!(twelve <= 2, "one for the page, one for the names: {twelve}");
}

fn meta() -> CommandMeta {
    CommandMeta {
        command_id: Uuid::new_v4(),
        correlation_id: Uuid::new_v4(),
        causation_id: None,
        actor: Actor::user(
            UserId(Uuid::from_u128(2)),
            Role::Mediator,
            StructureId(Uuid::from_u128(1)),
        ),
    }
}

/// One immersion proposed at each of the employers, for a person each.
async fn immersions_at(handler: &Handler, count: u128) {
    let structure = StructureId(Uuid::from_u128(1));
    let mediator = UserId(Uuid::from_u128(2));
    for n in 0..count {
        let person = PersonId(Uuid::from_u128(5000 + n));
        let enroll = PersonCommand::Enroll {
            person_id: person,
            structure,
            referent: mediator,
            identity: Identity {
                first_name: Label::parse("Awa").unwrap(),
                last_name: Label::parse(&format!("Diallo {n:02}")).unwrap(),
                birth_date: date!(1998 - 05 - 12),
                email: None,
                phone: None,
                address: None,
            },
            commune: None,
            legal_basis: LegalBasis::PublicInterestMission,
            enrolled_on: date!(2026 - 03 - 02),
        };
        handler
            .execute::<Person>(person, &enroll, &meta(), &Views)
            .await
            .unwrap();
        let immersion = ImmersionId(Uuid::from_u128(6000 + n));
        let propose = ImmersionCommand::Propose {
            immersion_id: immersion,
            person_id: person,
            employer_id: EmployerId(Uuid::from_u128(1000 + n)),
            need_id: None,
            objective: Objective::DiscoverJobOrSector,
            structure,
            mediator,
            message: None,
            proposed_on: date!(2026 - 03 - 02),
        };
        handler
            .execute::<Immersion>(immersion, &propose, &meta(), &Views)
            .await
            .unwrap();
    }
}

async fn statements_for_immersions(count: u128) -> usize {
    let db = TestDb::new().await;
    let projections = support::projections(&db).await;
    let handler = Handler::new(
        projections.clone(),
        Arc::new(FixedClock::new(datetime!(2026-03-02 09:00 UTC))),
    );
    employers_with_visits(&handler, count).await;
    immersions_at(&handler, count).await;
    projections.catch_up().await.unwrap();
    let (statements, json) = counted(
        handler,
        &db,
        "{ immersions(first: 50) { edges { node { employerName } } } }",
    )
    .await;
    let edges = json["immersions"]["edges"].as_array().unwrap();
    assert_eq!(edges.len() as u128, count);
    assert!(edges.iter().all(|e| {
        e["node"]["employerName"]
            .as_str()
            .unwrap()
            .starts_with("Employeur ")
    }));
    statements
}
