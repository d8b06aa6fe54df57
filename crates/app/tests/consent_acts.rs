//! What each actor may do with a person's consents
//! (`policy::consent_acts`), against a real PostgreSQL: she and her
//! structure's staff give one while her accompaniment runs and withdraw one
//! at any time; an employer and another structure's staff nothing.

use std::sync::Arc;

use passerelle_app::policy::{ConsentActs, consent_acts};
use passerelle_app::{Actor, CommandMeta, FixedClock, Handler, Role, Views};
use passerelle_domain::person::{ExitReason, Identity, LegalBasis, Person, PersonCommand};
use passerelle_domain::values::*;
use passerelle_store::projection::{Projections, RunnerConfig};
use passerelle_store::testkit::TestDb;
use time::macros::{date, datetime};
use uuid::Uuid;

fn structure() -> StructureId {
    StructureId(Uuid::from_u128(1))
}
fn person() -> PersonId {
    PersonId(Uuid::from_u128(5))
}

const NOTHING: ConsentActs = ConsentActs {
    give: false,
    withdraw: false,
};

#[tokio::test]
async fn she_and_her_structures_staff_give_while_she_is_accompanied_and_withdraw_always() {
    let db = TestDb::new().await;
    let projections = Projections::new(
        db.store(),
        passerelle_projections::all(),
        RunnerConfig::default(),
    );
    projections.setup().await.unwrap();
    let clock = Arc::new(FixedClock::new(datetime!(2026-03-02 08:00 UTC)));
    let handler = Handler::new(Arc::new(projections), clock);
    let mediator = Actor::user(UserId(Uuid::from_u128(2)), Role::Mediator, structure());
    let manager = Actor::user(UserId(Uuid::from_u128(3)), Role::Manager, structure());
    let elsewhere = Actor::user(
        UserId(Uuid::from_u128(4)),
        Role::Admin,
        StructureId(Uuid::from_u128(9)),
    );
    let employer = Actor {
        id: "employer:6".to_owned(),
        role: Role::Employer(EmployerId(Uuid::from_u128(6))),
        structure: structure(),
    };
    let her = Actor {
        id: format!("person:{}", person()),
        role: Role::Person(person()),
        structure: structure(),
    };
    let someone_else = Actor {
        id: "person:7".to_owned(),
        role: Role::Person(PersonId(Uuid::from_u128(7))),
        structure: structure(),
    };
    let run = |command: PersonCommand| {
        let (handler, mediator) = (&handler, &mediator);
        async move {
            let meta = CommandMeta {
                command_id: Uuid::new_v4(),
                correlation_id: Uuid::new_v4(),
                causation_id: None,
                actor: mediator.clone(),
            };
            handler
                .execute::<Person>(person(), &command, &meta, &Views)
                .await
                .unwrap();
        }
    };
    let acts = |actor: &Actor| {
        let (pool, actor) = (&db.pool, actor.clone());
        async move { consent_acts(pool, &actor, person()).await.unwrap() }
    };
    let everything = ConsentActs {
        give: true,
        withdraw: true,
    };

    run(PersonCommand::Enroll {
        person_id: person(),
        structure: structure(),
        referent: UserId(Uuid::from_u128(2)),
        identity: Identity {
            first_name: Label::parse("Awa").unwrap(),
            last_name: Label::parse("Diallo").unwrap(),
            birth_date: date!(1998 - 05 - 12),
            email: None,
            phone: None,
            address: None,
        },
        commune: None,
        legal_basis: LegalBasis::PublicInterestMission,
        enrolled_on: date!(2026 - 03 - 02),
    })
    .await;
    // While her accompaniment runs.
    assert_eq!(acts(&her).await, everything, "she herself");
    assert_eq!(
        acts(&mediator).await,
        everything,
        "her structure's mediator"
    );
    assert_eq!(acts(&manager).await, everything, "her structure's manager");
    assert_eq!(acts(&employer).await, NOTHING, "an employer");
    assert_eq!(acts(&elsewhere).await, NOTHING, "another structure's staff");
    assert_eq!(acts(&someone_else).await, NOTHING, "another person");

    run(PersonCommand::Exit {
        reason: ExitReason::Training,
        exited_on: date!(2026 - 03 - 02),
    })
    .await;
    // After her exit: withdrawn as easily as given, never given anew.
    let withdraw_only = ConsentActs {
        give: false,
        withdraw: true,
    };
    assert_eq!(acts(&her).await, withdraw_only, "she herself");
    assert_eq!(
        acts(&mediator).await,
        withdraw_only,
        "her structure's mediator"
    );
    assert_eq!(
        acts(&manager).await,
        withdraw_only,
        "her structure's manager"
    );
    assert_eq!(acts(&employer).await, NOTHING, "an employer");
    assert_eq!(acts(&elsewhere).await, NOTHING, "another structure's staff");
    assert_eq!(acts(&someone_else).await, NOTHING, "another person");
}
