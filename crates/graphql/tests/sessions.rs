//! A person's magic-link session outlasts her accompaniment, as her rights
//! on her data do: it stands after her exit; once she is erased, it is
//! refused and revoked, whatever its expiry.

mod support;

use std::sync::Arc;

use passerelle_accounts::Principal;
use passerelle_app::{Actor, Clock as _, CommandMeta, FixedClock, Handler, Role, Views};
use passerelle_domain::person::{
    ErasureReason, ExitReason, Identity, LegalBasis, Person, PersonCommand,
};
use passerelle_domain::values::*;
use passerelle_graphql::viewer_of_token;
use passerelle_store::testkit::TestDb;
use time::macros::{date, datetime};
use uuid::Uuid;

#[tokio::test]
async fn a_person_who_exits_keeps_her_session_until_she_is_erased() {
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
    assert!(viewer.principal.is_some(), "the session outlasts the exit");

    let erase = PersonCommand::Erase {
        by: UserId(Uuid::from_u128(2)),
        reason: ErasureReason::PersonRequest,
        explanation: None,
        erased_on: date!(2026 - 04 - 27),
    };
    handler
        .execute::<Person>(person, &erase, &meta(), &Views)
        .await
        .unwrap();
    let viewer = viewer_of_token(&gateway, Some(token.0.clone()))
        .await
        .unwrap();
    assert!(
        viewer.principal.is_none(),
        "the session ended with the erasure"
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

/// A staff session the gateway looked up is taken as it was by the next
/// command-only mutation, whose command checks it in its own statement: a
/// logout made meanwhile elsewhere (here, straight in the table, as another
/// replica would) refuses that mutation, before it appends anything.
#[tokio::test]
async fn a_session_kept_is_checked_by_the_command_and_refused_once_revoked() {
    let db = TestDb::new().await;
    let mediator = Mediator::signed_in(&db).await;
    let register = |siret: &str| {
        async_graphql::Request::new(format!(
            "mutation {{ employerRegister(input: {{ siret: \"{siret}\", name: \"Boulangerie\",
                naf: \"10\", commune: \"44109\" }}) {{ employer {{ id }} }} }}"
        ))
    };
    let send = |request| mediator.send(request);

    // Looked up the first time, then taken as it was.
    let (kept, first) = send(register("73282932000074")).await;
    assert!(!kept && first.errors.is_empty(), "{first:?}");
    let (kept, second) = send(register("35600000000048")).await;
    assert!(
        kept,
        "the second command-only mutation takes the session kept"
    );
    assert!(second.errors.is_empty(), "{second:?}");
    mediator
        .refused_once_revoked(register("55210055400013"))
        .await;
    // Refused once, it is looked up again from then on.
    let (kept, again) = send(register("55210055400013")).await;
    assert!(!kept, "no longer kept");
    assert!(!again.errors.is_empty(), "{again:?}");
    // A query is always looked up.
    let (kept, me) = send(async_graphql::Request::new("{ me { name } }")).await;
    assert!(!kept);
    assert_eq!(me.data.into_json().unwrap()["me"], serde_json::Value::Null);
}

/// A command on a stream whose state this process kept is decided before
/// its stream is read, and appended with the session's check in the
/// append's own statement: once the session is revoked it appends nothing
/// and is refused `UNAUTHENTICATED`, as when the read made the check.
#[tokio::test]
async fn a_command_decided_on_a_kept_state_is_refused_once_the_session_is_revoked() {
    let db = TestDb::new().await;
    let mediator = Mediator::signed_in(&db).await;
    let send = |request| mediator.send(request);
    let (_, registered) = send(async_graphql::Request::new(
        "mutation { employerRegister(input: { siret: \"73282932000074\", name: \"Boulangerie\",
            naf: \"10\", commune: \"44109\" }) { employer { id } } }",
    ))
    .await;
    assert!(registered.errors.is_empty(), "{registered:?}");
    let employer = registered.data.into_json().unwrap()["employerRegister"]["employer"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let visit = || {
        async_graphql::Request::new(format!(
            "mutation {{ employerVisitLog(input: {{ employerId: \"{employer}\",
                purpose: PROSPECTION, observations: \"Vu le gérant\" }}) {{ visitId }} }}"
        ))
    };
    // The employer's state is kept from its registration: each visit is
    // decided on it, the session taken as it was.
    for _ in 0..2 {
        let (kept, logged) = send(visit()).await;
        assert!(kept, "the session taken as it was");
        assert!(logged.errors.is_empty(), "{logged:?}");
    }
    mediator.refused_once_revoked(visit()).await;
}

/// An enrolment sent with a kept session looks for a duplicate only once
/// its command checked the session: refused `UNAUTHENTICATED` once the
/// session is revoked, never told that the person is followed already, and
/// nothing appended.
#[tokio::test]
async fn a_revoked_session_never_learns_that_a_person_is_followed() {
    let db = TestDb::new().await;
    let mediator = Mediator::signed_in(&db).await;
    let enrol = || {
        async_graphql::Request::new(
            "mutation { personEnroll(input: { firstName: \"Awa\", lastName: \"Diallo\",
                birthDate: \"1998-05-12\" }) { person { id firstName } } }",
        )
    };
    let send = |request| mediator.send(request);
    let code = |response: &async_graphql::Response| {
        response.errors[0]
            .extensions
            .as_ref()
            .and_then(|e| e.get("code"))
            .cloned()
    };

    let (kept, first) = send(enrol()).await;
    assert!(!kept && first.errors.is_empty(), "{first:?}");
    let awa = first.data.into_json().unwrap()["personEnroll"]["person"]["id"].clone();
    // Her again, the session kept: the command finds her.
    let (kept, twice) = send(enrol()).await;
    assert!(kept, "taken as it was");
    assert_eq!(
        code(&twice),
        Some(async_graphql::Value::from("CONFIRMATION_REQUIRED")),
        "{twice:?}"
    );
    let duplicates = twice.errors[0]
        .extensions
        .as_ref()
        .and_then(|e| e.get("duplicates"))
        .cloned()
        .unwrap()
        .into_json()
        .unwrap();
    assert_eq!(duplicates, serde_json::json!([awa]));
    let refused = mediator.refused_once_revoked(enrol()).await;
    assert!(
        !format!("{refused:?}").contains(awa.as_str().unwrap()),
        "{refused:?}"
    );
}

/// A mediator signed in, and her requests sent as the HTTP layer sends them:
/// with her session taken as it was when the gateway looked it up in the
/// last seconds and every field starts with its command.
struct Mediator {
    gateway: passerelle_graphql::Gateway,
    schema: passerelle_graphql::PasserelleSchema,
    token: String,
    pool: sqlx::PgPool,
}

impl Mediator {
    async fn signed_in(db: &TestDb) -> Self {
        let projections = support::projections(db).await;
        let clock = Arc::new(FixedClock::new(datetime!(2026-04-27 08:00 UTC)));
        let handler = Handler::new(projections.clone(), clock.clone());
        let (gateway, schema) = support::gateway(handler, db);
        let password = "un mot de passe assez long";
        passerelle_accounts::create_user(
            &db.pool,
            &Label::parse("Mission locale").unwrap(),
            passerelle_accounts::StaffRole::Mediator,
            &Email::parse("mediatrice@example.org").unwrap(),
            &Label::parse("Inès").unwrap(),
            password,
        )
        .await
        .unwrap();
        let (token, _) = passerelle_accounts::login(
            &db.pool,
            "mediatrice@example.org",
            password,
            clock.now(),
            time::Duration::hours(1),
        )
        .await
        .unwrap();
        Self {
            gateway,
            schema,
            token: token.0,
            pool: db.pool.clone(),
        }
    }

    /// Whether the session was taken as it was, and the answer.
    async fn send(&self, mut request: async_graphql::Request) -> (bool, async_graphql::Response) {
        let (viewer, check) = passerelle_graphql::viewer_of_request(
            &self.gateway,
            &mut request,
            Some(self.token.clone()),
        )
        .await
        .unwrap();
        let taken_as_it_was = check.is_some();
        let request = passerelle_graphql::prepare(request, &self.gateway, viewer);
        let response =
            passerelle_graphql::execute(&self.schema, &self.gateway, request, check).await;
        (taken_as_it_was, response)
    }

    /// The events appended so far.
    async fn events(&self) -> i64 {
        sqlx::query_scalar("select count(*) from events")
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    /// Sends `request` once her sessions are revoked (as a logout on
    /// another replica would, straight in the table): taken as it was,
    /// refused `UNAUTHENTICATED` by its command, nothing appended.
    async fn refused_once_revoked(
        &self,
        request: async_graphql::Request,
    ) -> async_graphql::Response {
        let appended = self.events().await;
        sqlx::query("update sessions set revoked_at = now()")
            .execute(&self.pool)
            .await
            .unwrap();
        let (kept, refused) = self.send(request).await;
        assert!(kept, "still kept until a command refuses it");
        assert_eq!(
            refused.errors[0]
                .extensions
                .as_ref()
                .and_then(|e| e.get("code"))
                .cloned(),
            Some(async_graphql::Value::from("UNAUTHENTICATED")),
            "{refused:?}"
        );
        assert_eq!(self.events().await, appended, "nothing appended");
        refused
    }
}
