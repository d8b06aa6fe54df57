//! The command path against a real PostgreSQL: appends with metadata,
//! refusals that append nothing, idempotent command ids (also concurrent),
//! bounded retries on version conflicts, personal data sealed.

mod support;

use async_trait::async_trait;
use passerelle_app::{Actor, AppError, CommandMeta, ContextSource, Guard, Handler, Role};
use passerelle_domain::Rule;
use passerelle_domain::employer::{
    Employer, EmployerCommand, EmployerContext, EmployerEvent, VisitPurpose,
};
use passerelle_domain::values::{
    CommuneCode, ContactId, EmployerId, Label, NafDivision, Siret, Text, UserId, VisitId,
};
use passerelle_domain::{Decider, Personal};
use passerelle_store::testkit::TestDb;
use sqlx::PgConnection;
use support::{Contexts, handler, structure};
use time::macros::datetime;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

fn meta(command_id: Uuid) -> CommandMeta {
    CommandMeta {
        command_id,
        correlation_id: Uuid::new_v4(),
        causation_id: None,
        actor: Actor::user(UserId(Uuid::from_u128(3)), Role::Mediator, structure()),
    }
}

fn employer() -> EmployerId {
    EmployerId(Uuid::from_u128(42))
}

fn register() -> EmployerCommand {
    EmployerCommand::Register {
        employer_id: employer(),
        siret: Siret::parse("73282932000074").unwrap(),
        name: Label::parse("Boulangerie du Port").unwrap(),
        naf: NafDivision::parse("10").unwrap(),
        commune: CommuneCode::parse("44109").unwrap(),
        address: None,
    }
}

fn visit(n: u128, on: Date) -> EmployerCommand {
    EmployerCommand::LogVisit {
        visit_id: VisitId(Uuid::from_u128(1000 + n)),
        visited_on: on,
        mediator: UserId(Uuid::from_u128(3)),
        structure: structure(),
        purpose: VisitPurpose::FollowUp,
        observations: Text::parse("Point sur les besoins de l'été").unwrap(),
        next_step: None,
    }
}

async fn stream_version(db: &TestDb) -> Option<i64> {
    sqlx::query_scalar("select version from streams where stream_id = $1")
        .bind(format!("employer-{}", employer()))
        .fetch_optional(&db.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_command_appends_its_events_with_who_issued_it() {
    let db = TestDb::new().await;
    let handler = handler(&db).await;
    let command_id = Uuid::new_v4();
    let outcome = handler
        .execute::<Employer>(employer(), &register(), &meta(command_id), &Contexts)
        .await
        .unwrap();
    assert_eq!(outcome.stream_id, format!("employer-{}", employer()));
    assert_eq!(outcome.version, 1);
    assert!(!outcome.replayed);
    assert_eq!(outcome.events.len(), 1);
    assert_eq!(outcome.events[0].event_type, "employer_registered");
    let (actor, role, tenant, stored_command): (String, String, Uuid, Uuid) =
        sqlx::query_as("select actor, role, tenant, command_id from events where stream_id = $1")
            .bind(&outcome.stream_id)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(actor, "user:00000000-0000-0000-0000-000000000003");
    assert_eq!(role, "mediator");
    assert_eq!(tenant, structure().as_uuid());
    assert_eq!(stored_command, command_id);
    // The stored event reads back as the domain's event.
    let mut conn = db.pool.acquire().await.unwrap();
    let stored = handler
        .store()
        .read_stream(&mut conn, &outcome.stream_id, 1)
        .await
        .unwrap();
    assert!(matches!(
        stored[0].decode::<EmployerEvent>().unwrap(),
        EmployerEvent::EmployerRegistered(e) if e.siret.as_str() == "73282932000074"
    ));
}

#[tokio::test]
async fn a_refused_command_appends_nothing() {
    let db = TestDb::new().await;
    let handler = handler(&db).await;
    handler
        .execute::<Employer>(employer(), &register(), &meta(Uuid::new_v4()), &Contexts)
        .await
        .unwrap();
    // The clock says 2 March 2026: a visit on 3 March has not happened yet.
    let err = handler
        .execute::<Employer>(
            employer(),
            &visit(1, time::macros::date!(2026 - 03 - 03)),
            &meta(Uuid::new_v4()),
            &Contexts,
        )
        .await
        .unwrap_err();
    let AppError::Domain(err) = err else {
        panic!("{err:?}")
    };
    assert_eq!(err.rule, Rule::DateInFuture);
    assert_eq!(stream_version(&db).await, Some(1));
    let events: i64 = sqlx::query_scalar("select count(*) from events")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(events, 1);
}

#[tokio::test]
async fn the_same_command_id_appends_once_even_concurrently() {
    let db = TestDb::new().await;
    let handler = handler(&db).await;
    let register_id = Uuid::new_v4();
    handler
        .execute::<Employer>(employer(), &register(), &meta(register_id), &Contexts)
        .await
        .unwrap();
    // Sent again: the registration would now be refused as a duplicate, but
    // the retry answers as the first time did.
    let again = handler
        .execute::<Employer>(employer(), &register(), &meta(register_id), &Contexts)
        .await
        .unwrap();
    assert!(again.replayed);
    assert_eq!(again.version, 1);

    let visit_id = Uuid::new_v4();
    let today = time::macros::date!(2026 - 03 - 02);
    let attempts = (0..8).map(|_| {
        let handler = handler.clone();
        async move {
            handler
                .execute::<Employer>(employer(), &visit(1, today), &meta(visit_id), &Contexts)
                .await
        }
    });
    let outcomes = futures::future::join_all(attempts).await;
    let outcomes: Vec<_> = outcomes.into_iter().map(Result::unwrap).collect();
    assert_eq!(outcomes.iter().filter(|o| !o.replayed).count(), 1);
    assert!(outcomes.iter().all(|o| o.version == 2));
    assert_eq!(stream_version(&db).await, Some(2));
}

#[tokio::test]
async fn concurrent_commands_on_one_stream_are_all_decided_in_turn() {
    let db = TestDb::new().await;
    let handler = handler(&db).await;
    handler
        .execute::<Employer>(employer(), &register(), &meta(Uuid::new_v4()), &Contexts)
        .await
        .unwrap();
    let today = time::macros::date!(2026 - 03 - 02);
    // Four writers: each loses at most three races, within the five attempts.
    let writers = (0..4u128).map(|n| {
        let handler = handler.clone();
        async move {
            handler
                .execute::<Employer>(
                    employer(),
                    &visit(n, today),
                    &meta(Uuid::new_v4()),
                    &Contexts,
                )
                .await
        }
    });
    for outcome in futures::future::join_all(writers).await {
        outcome.unwrap();
    }
    assert_eq!(stream_version(&db).await, Some(5));
}

#[tokio::test]
async fn a_command_id_used_on_another_stream_is_refused() {
    let db = TestDb::new().await;
    let handler = handler(&db).await;
    let command_id = Uuid::new_v4();
    handler
        .execute::<Employer>(employer(), &register(), &meta(command_id), &Contexts)
        .await
        .unwrap();
    let other = EmployerId(Uuid::from_u128(43));
    let err = handler
        .execute::<Employer>(other, &register(), &meta(command_id), &Contexts)
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::CommandReused { command_id: c } if c == command_id));
}

#[tokio::test]
async fn a_contacts_details_are_sealed_under_the_contacts_own_key() {
    let db = TestDb::new().await;
    let handler = handler(&db).await;
    handler
        .execute::<Employer>(employer(), &register(), &meta(Uuid::new_v4()), &Contexts)
        .await
        .unwrap();
    let contact = ContactId(Uuid::from_u128(99));
    handler
        .execute::<Employer>(
            employer(),
            &EmployerCommand::AddContact {
                contact_id: contact,
                name: Personal::Known(Label::parse("Jean Martin").unwrap()),
                job_title: None,
                email: None,
                phone: None,
            },
            &meta(Uuid::new_v4()),
            &Contexts,
        )
        .await
        .unwrap();
    let raw: String = sqlx::query_scalar(
        "select data::text from events where event_type = 'employer_contact_added'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert!(!raw.contains("Jean Martin"), "{raw}");
    let keys: i64 = sqlx::query_scalar("select count(*) from subject_keys where subject_id = $1")
        .bind(contact.as_uuid())
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(keys, 1);
}

/// A replica keeps the states of the streams it wrote to; another replica
/// appending to one of them must not leave it deciding on a stale state.
#[tokio::test]
async fn a_state_kept_between_commands_still_sees_what_another_replica_appended() {
    let db = TestDb::new().await;
    let (here, there) = (handler(&db).await, handler(&db).await);
    let day = datetime!(2026-03-02 09:30 UTC).date();
    here.execute::<Employer>(employer(), &register(), &meta(Uuid::new_v4()), &Contexts)
        .await
        .unwrap();
    here.execute::<Employer>(employer(), &visit(1, day), &meta(Uuid::new_v4()), &Contexts)
        .await
        .unwrap();
    there
        .execute::<Employer>(employer(), &visit(2, day), &meta(Uuid::new_v4()), &Contexts)
        .await
        .unwrap();

    // The visit `there` logged is known `here`: logging it again is refused.
    // Decided first on the state kept `here`, before the stream is read, it
    // is appended by no one: the append's version check finds the stream
    // moved, and the command is decided again on the events read since.
    let counted = Counted::default();
    let again = here
        .execute::<Employer>(employer(), &visit(2, day), &meta(Uuid::new_v4()), &counted)
        .await
        .unwrap_err();
    assert!(matches!(again, AppError::Domain(_)), "{again:?}");
    assert_eq!(
        counted.0.load(std::sync::atomic::Ordering::SeqCst),
        2,
        "decided on the kept state, then on the stream read"
    );
    assert_eq!(stream_version(&db).await, Some(3));
    there
        .execute::<Employer>(employer(), &visit(3, day), &meta(Uuid::new_v4()), &Contexts)
        .await
        .unwrap();
    let next = here
        .execute::<Employer>(employer(), &visit(4, day), &meta(Uuid::new_v4()), &counted)
        .await
        .unwrap();
    assert_eq!(next.version, 5);
    assert_eq!(
        counted.0.load(std::sync::atomic::Ordering::SeqCst),
        4,
        "decided twice again: the kept state was behind"
    );
    // The state kept `here` is now the stream's: decided once.
    let last = here
        .execute::<Employer>(employer(), &visit(5, day), &meta(Uuid::new_v4()), &counted)
        .await
        .unwrap();
    assert_eq!(last.version, 6);
    assert_eq!(counted.0.load(std::sync::atomic::Ordering::SeqCst), 5);
}

/// On a state kept from an earlier command, a command of one event sealed
/// with no key is appended in one statement, with the check the stream's
/// read would have made, and without that read: a check that holds only in
/// an append's statement lets it through there, and refuses it where the
/// stream is read first (another replica, with no state kept).
#[tokio::test]
async fn a_command_on_a_kept_state_is_appended_with_its_check_and_without_its_read() {
    let db = TestDb::new().await;
    let (here, there) = (handler(&db).await, handler(&db).await);
    let day = datetime!(2026-03-02 09:30 UTC).date();
    here.execute::<Employer>(employer(), &register(), &meta(Uuid::new_v4()), &Contexts)
        .await
        .unwrap();
    let only_in_an_append = Guard {
        // The statement's own text, which holds this check's too: the
        // words looked for are split so as not to be found there.
        sql: "(($4::jsonb)->>'in' = 'append'
               and strpos(current_query(), 'insert ' || 'into events') > 0)",
        params: r#"{"in":"append"}"#.to_owned(),
    };
    let logged = Handler::checking(
        Some(only_in_an_append.clone()),
        here.execute::<Employer>(employer(), &visit(1, day), &meta(Uuid::new_v4()), &Contexts),
    )
    .await
    .unwrap();
    assert_eq!(logged.version, 2);
    assert_eq!(logged.events.len(), 1);
    let refused = Handler::checking(
        Some(only_in_an_append),
        there.execute::<Employer>(employer(), &visit(2, day), &meta(Uuid::new_v4()), &Contexts),
    )
    .await
    .unwrap_err();
    assert!(matches!(refused, AppError::CheckFailed), "{refused:?}");
    assert_eq!(stream_version(&db).await, Some(2));
}

/// Counts the decisions taken.
#[derive(Default)]
struct Counted(std::sync::atomic::AtomicUsize);

#[async_trait]
impl ContextSource<Employer> for Counted {
    async fn context(
        &self,
        conn: &mut PgConnection,
        state: &<Employer as Decider>::State,
        command: &EmployerCommand,
        now: OffsetDateTime,
        today: Date,
    ) -> Result<EmployerContext, AppError> {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Contexts.context(conn, state, command, now, today).await
    }
}
