//! A world for the gateway's tests that follow an immersion with the clock
//! moving: the projections, a handler on a fixed clock, the schema, a
//! mediator of one structure, and the commands they issue.

use std::sync::Arc;

use passerelle_accounts::{StaffRole, User};
use passerelle_app::{Actor, CommandMeta, FixedClock, Handler, Role, Views};
use passerelle_domain::employer::{Employer, EmployerCommand};
use passerelle_domain::immersion::*;
use passerelle_domain::person::{Identity, LegalBasis, Person, PersonCommand};
use passerelle_domain::values::*;
use passerelle_graphql::{Gateway, PasserelleSchema, Viewer, prepare};
use passerelle_store::projection::Projections;
use passerelle_store::testkit::TestDb;
use time::Date;
use time::macros::{date, datetime};
use uuid::Uuid;

/// The database, its projections, a handler on a clock the test moves, and
/// the schema over them.
pub struct World {
    pub _db: TestDb,
    pub projections: Arc<Projections>,
    pub handler: Handler,
    pub clock: Arc<FixedClock>,
    pub schema: PasserelleSchema,
    pub gateway: Gateway,
}

pub fn structure() -> StructureId {
    StructureId(Uuid::from_u128(1))
}
pub fn mediator() -> UserId {
    UserId(Uuid::from_u128(2))
}
pub fn employer() -> EmployerId {
    EmployerId(Uuid::from_u128(3))
}
pub fn person() -> PersonId {
    PersonId(Uuid::from_u128(5))
}
pub fn immersion() -> ImmersionId {
    ImmersionId(Uuid::from_u128(6))
}

impl World {
    pub async fn new() -> Self {
        let db = TestDb::new().await;
        let projections = super::projections(&db).await;
        let clock = Arc::new(FixedClock::new(datetime!(2026-04-27 08:00 UTC)));
        let handler = Handler::new(projections.clone(), clock.clone());
        let (gateway, schema) = super::gateway(handler.clone(), &db);
        Self {
            _db: db,
            projections,
            handler,
            clock,
            schema,
            gateway,
        }
    }

    pub fn on(&self, day: Date) {
        self.clock.set(day.with_hms(8, 0, 0).unwrap().assume_utc());
    }

    pub fn viewer(user: UserId) -> Viewer {
        Viewer {
            user: Some(User {
                user_id: user,
                structure: structure(),
                structure_name: "Mission locale".into(),
                role: StaffRole::Mediator,
                email: "camille@ml.example.org".into(),
                name: "Camille".into(),
            }),
            principal: None,
            token: None,
            client: None,
        }
    }

    pub async fn command<A: passerelle_app::Aggregate>(&self, id: A::Id, command: A::Command)
    where
        Views: passerelle_app::ContextSource<A>,
    {
        let meta = CommandMeta {
            command_id: Uuid::new_v4(),
            correlation_id: Uuid::new_v4(),
            causation_id: None,
            actor: Actor::user(mediator(), Role::Mediator, structure()),
        };
        self.handler
            .execute::<A>(id, &command, &meta, &Views)
            .await
            .unwrap();
        self.projections.catch_up().await.unwrap();
    }

    /// Runs `query` with `variables` as `user`, a mediator of the
    /// structure, then brings the asynchronous projections (the inbox) up
    /// to what it recorded, as the runner does shortly after.
    pub async fn run(
        &self,
        user: UserId,
        query: &str,
        variables: serde_json::Value,
    ) -> async_graphql::Response {
        let response = self
            .schema
            .execute(prepare(
                async_graphql::Request::new(query)
                    .variables(async_graphql::Variables::from_json(variables)),
                &self.gateway,
                Self::viewer(user),
            ))
            .await;
        self.projections.catch_up().await.unwrap();
        response
    }

    pub async fn immersion(&self, command: ImmersionCommand) {
        self.command::<Immersion>(immersion(), command).await;
    }

    pub async fn immersion_of(&self, id: ImmersionId, command: ImmersionCommand) {
        self.command::<Immersion>(id, command).await;
    }
}

/// Proposed and accepted on Monday 27 April 2026, for Monday 18 May to
/// Friday 29 May.
pub async fn proposed_and_drafted(w: &World) -> Identity {
    w.on(date!(2026 - 04 - 27));
    w.command::<Employer>(
        employer(),
        EmployerCommand::Register {
            employer_id: employer(),
            siret: Siret::parse("73282932000074").unwrap(),
            name: Label::parse("Boulangerie du Port").unwrap(),
            naf: NafDivision::parse("10").unwrap(),
            commune: CommuneCode::parse("44109").unwrap(),
            address: None,
        },
    )
    .await;
    let identity = Identity {
        first_name: Label::parse("Awa").unwrap(),
        last_name: Label::parse("Diallo").unwrap(),
        birth_date: date!(1998 - 05 - 12),
        email: None,
        phone: None,
        address: None,
    };
    w.command::<Person>(
        person(),
        PersonCommand::Enroll {
            person_id: person(),
            structure: structure(),
            referent: mediator(),
            identity: identity.clone(),
            commune: None,
            legal_basis: LegalBasis::PublicInterestMission,
            enrolled_on: date!(2026 - 04 - 27),
        },
    )
    .await;
    w.immersion(ImmersionCommand::Propose {
        immersion_id: immersion(),
        person_id: person(),
        employer_id: employer(),
        need_id: None,
        objective: Objective::DiscoverJobOrSector,
        structure: structure(),
        mediator: mediator(),
        message: None,
        proposed_on: date!(2026 - 04 - 27),
    })
    .await;
    identity
}

/// Its convention drafted, at the Boulangerie du Port, from `start` to
/// `end`.
pub async fn draft(w: &World, identity: &Identity, start: Date, end: Date) {
    w.immersion(ImmersionCommand::DraftConvention {
        convention: Box::new(passerelle_demo::convention(
            Host {
                name: Label::parse("Boulangerie du Port").unwrap(),
                ..passerelle_demo::host()
            },
            identity,
            &CommuneCode::parse("44109").unwrap(),
            Objective::DiscoverJobOrSector,
            DateRange::new(start, end).unwrap(),
        )),
    })
    .await;
}
