//! A person's magic-link session lasts while they are accompanied: once
//! they exit, the session is refused and revoked, whatever its expiry.

mod support;

use std::sync::Arc;

use passerelle_accounts::Principal;
use passerelle_app::{Actor, Clock as _, CommandMeta, FixedClock, Handler, Role, Views};
use passerelle_domain::person::{ExitReason, Identity, LegalBasis, Person, PersonCommand};
use passerelle_domain::values::*;
use passerelle_graphql::viewer_of_token;
use passerelle_store::testkit::TestDb;
use time::macros::{date, datetime};
use uuid::Uuid;

#[tokio::test]
async fn a_person_who_exits_loses_their_session() {
    let db = TestDb::new().await;
    let projections = support::projections(&db).await;
    let clock = Arc::new(FixedClock::new(datetime!(2026-04-27 08:00 UTC)));
    let handler = Handler::new(projections.clone(), clock.clone());
    let (gateway, _) = support::gateway(handler.clone(), &db);
    let structure = StructureId(Uuid::from_u128(1));
    let person = PersonId(Uuid::from_u128(5));
    let meta = || CommandMeta {
        command_id: Uuid::new_v4(),
        correlation_id: Uuid::new_v4(),
        causation_id: None,
        actor: Actor::user(UserId(Uuid::from_u128(2)), Role::Mediator, structure),
    };
    let enroll = PersonCommand::Enroll {
        person_id: person,
        structure,
        referent: UserId(Uuid::from_u128(2)),
        identity: Identity {
            first_name: Label::parse("Awa").unwrap(),
            last_name: Label::parse("Diallo").unwrap(),
            birth_date: date!(1998 - 05 - 12),
            email: Some(Email::parse("awa@example.org").unwrap()),
            phone: None,
            address: None,
        },
        commune: None,
        legal_basis: LegalBasis::PublicInterestMission,
        enrolled_on: date!(2026 - 04 - 27),
    };
    handler
        .execute::<Person>(person, &enroll, &meta(), &Views)
        .await
        .unwrap();

    let now = clock.now();
    let link = passerelle_accounts::issue_magic_link(
        &db.pool,
        Principal::Person(person),
        structure,
        now,
        time::Duration::minutes(30),
    )
    .await
    .unwrap();
    let (token, _) =
        passerelle_accounts::redeem_magic_link(&db.pool, &link.0, now, time::Duration::hours(12))
            .await
            .unwrap()
            .expect("a session");
    let viewer = viewer_of_token(&gateway, Some(token.0.clone()))
        .await
        .unwrap();
    assert!(viewer.principal.is_some(), "the session opens");

    let exit = PersonCommand::Exit {
        reason: ExitReason::Training,
        exited_on: date!(2026 - 04 - 27),
    };
    handler
        .execute::<Person>(person, &exit, &meta(), &Views)
        .await
        .unwrap();
    let viewer = viewer_of_token(&gateway, Some(token.0.clone()))
        .await
        .unwrap();
    assert!(
        viewer.principal.is_none(),
        "the session ended with the exit"
    );
    let revoked: bool = sqlx::query_scalar(
        "select revoked_at is not null from principal_sessions where principal_id = $1",
    )
    .bind(person.0)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert!(revoked, "and it is revoked, not merely refused");
}
