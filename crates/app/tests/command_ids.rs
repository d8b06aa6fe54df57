//! A command id names one command: sent again with the same command it is
//! answered as the first time, with another command (or by another actor)
//! it is refused and the stream keeps only the first, also when the two
//! race to the append.

mod support;

use std::time::{Duration, Instant};

use passerelle_app::{Actor, AppError, CommandMeta, Handler, Role};
use passerelle_domain::employer::{Employer, EmployerCommand, VisitPurpose};
use passerelle_domain::values::{
    CommuneCode, EmployerId, Label, NafDivision, Siret, Text, UserId, VisitId,
};
use passerelle_store::testkit::TestDb;
use sqlx::{Connection as _, PgConnection};
use support::{Contexts, handler, structure};
use time::macros::date;
use uuid::Uuid;

fn mediator(n: u128) -> Actor {
    Actor::user(UserId(Uuid::from_u128(n)), Role::Mediator, structure())
}

fn meta(command_id: Uuid, actor: Actor) -> CommandMeta {
    CommandMeta {
        command_id,
        correlation_id: Uuid::new_v4(),
        causation_id: None,
        actor,
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

fn visit(n: u128, observations: &str) -> EmployerCommand {
    EmployerCommand::LogVisit {
        visit_id: VisitId(Uuid::from_u128(1000 + n)),
        visited_on: date!(2026 - 03 - 02),
        mediator: UserId(Uuid::from_u128(3)),
        structure: structure(),
        purpose: VisitPurpose::FollowUp,
        observations: Text::parse(observations).unwrap(),
        next_step: None,
    }
}

/// The stream's version and the visits it holds.
async fn stream(db: &TestDb) -> (i64, Vec<String>) {
    let stream_id = format!("employer-{}", employer());
    let version: i64 = sqlx::query_scalar("select version from streams where stream_id = $1")
        .bind(&stream_id)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    let visits: Vec<String> = sqlx::query_scalar(
        "select data->>'visit_id' from events
         where stream_id = $1 and event_type = 'employer_visit_logged' order by version",
    )
    .bind(&stream_id)
    .fetch_all(&db.pool)
    .await
    .unwrap();
    (version, visits)
}

async fn registered(db: &TestDb) -> Handler {
    let handler = handler(db).await;
    handler
        .execute::<Employer>(
            employer(),
            &register(),
            &meta(Uuid::new_v4(), mediator(3)),
            &Contexts,
        )
        .await
        .unwrap();
    handler
}

#[tokio::test]
async fn the_same_command_sent_again_is_answered_as_the_first_time_and_appends_nothing() {
    let db = TestDb::new().await;
    let handler = registered(&db).await;
    let id = Uuid::new_v4();
    let first = handler
        .execute::<Employer>(
            employer(),
            &visit(1, "Premier échange"),
            &meta(id, mediator(3)),
            &Contexts,
        )
        .await
        .unwrap();
    assert!(!first.replayed);
    let again = handler
        .execute::<Employer>(
            employer(),
            &visit(1, "Premier échange"),
            &meta(id, mediator(3)),
            &Contexts,
        )
        .await
        .unwrap();
    assert!(again.replayed);
    assert!(again.events.is_empty());
    assert_eq!(again.version, first.version);
    assert_eq!(stream(&db).await.0, 2);
}

#[tokio::test]
async fn a_command_id_sent_again_with_another_command_is_refused_and_the_stream_keeps_the_first() {
    let db = TestDb::new().await;
    let handler = registered(&db).await;
    let id = Uuid::new_v4();
    handler
        .execute::<Employer>(
            employer(),
            &visit(1, "Premier échange"),
            &meta(id, mediator(3)),
            &Contexts,
        )
        .await
        .unwrap();
    let before = stream(&db).await;

    // Another visit under the same id: it would be lost if answered as done.
    let other = handler
        .execute::<Employer>(
            employer(),
            &visit(2, "Second échange"),
            &meta(id, mediator(3)),
            &Contexts,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(other, AppError::CommandReused { command_id } if command_id == id),
        "{other:?}"
    );
    // The same visit with another detail.
    let changed = handler
        .execute::<Employer>(
            employer(),
            &visit(1, "Premier échange, corrigé"),
            &meta(id, mediator(3)),
            &Contexts,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(changed, AppError::CommandReused { .. }),
        "{changed:?}"
    );
    // The same command by someone else.
    let someone_else = handler
        .execute::<Employer>(
            employer(),
            &visit(1, "Premier échange"),
            &meta(id, mediator(4)),
            &Contexts,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(someone_else, AppError::CommandReused { .. }),
        "{someone_else:?}"
    );

    assert_eq!(stream(&db).await, before);
    // The second visit goes in under an id of its own.
    handler
        .execute::<Employer>(
            employer(),
            &visit(2, "Second échange"),
            &meta(Uuid::new_v4(), mediator(3)),
            &Contexts,
        )
        .await
        .unwrap();
    assert_eq!(stream(&db).await.1.len(), 2);
}

/// Two sends of one command id decided at the same version: the stream's
/// row is held while both reach the append, so the second finds the
/// first's events there (not before deciding).
async fn race(
    db: &TestDb,
    handler: &Handler,
    commands: [EmployerCommand; 2],
) -> Vec<Result<passerelle_app::Outcome, AppError>> {
    let mut holder = PgConnection::connect(&db.url()).await.unwrap();
    let mut hold = holder.begin().await.unwrap();
    sqlx::query("select version from streams where stream_id = $1 for update")
        .bind(format!("employer-{}", employer()))
        .execute(&mut *hold)
        .await
        .unwrap();
    let id = Uuid::new_v4();
    let tasks: Vec<_> = commands
        .into_iter()
        .map(|command| {
            let handler = handler.clone();
            tokio::spawn(async move {
                handler
                    .execute::<Employer>(employer(), &command, &meta(id, mediator(3)), &Contexts)
                    .await
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "select count(*) from pg_stat_activity
             where datname = current_database() and wait_event_type = 'Lock'",
        )
        .fetch_one(&db.pool)
        .await
        .unwrap();
        if waiting == 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the two sends never reached the append"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    hold.rollback().await.unwrap();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.unwrap());
    }
    outcomes
}

#[tokio::test]
async fn a_retry_racing_its_first_attempt_is_answered_as_it() {
    let db = TestDb::new().await;
    let handler = registered(&db).await;
    let outcomes = race(
        &db,
        &handler,
        [visit(1, "Premier échange"), visit(1, "Premier échange")],
    )
    .await;
    let outcomes: Vec<_> = outcomes.into_iter().map(Result::unwrap).collect();
    assert_eq!(
        outcomes.iter().filter(|o| o.replayed).count(),
        1,
        "{outcomes:?}"
    );
    assert!(outcomes.iter().all(|o| o.version == 2));
    assert_eq!(stream(&db).await.0, 2);
}

#[tokio::test]
async fn another_command_racing_under_the_same_id_is_refused() {
    let db = TestDb::new().await;
    let handler = registered(&db).await;
    let outcomes = race(
        &db,
        &handler,
        [visit(1, "Premier échange"), visit(2, "Second échange")],
    )
    .await;
    let appended: Vec<_> = outcomes.iter().filter_map(|o| o.as_ref().ok()).collect();
    assert_eq!(appended.len(), 1, "{outcomes:?}");
    assert!(!appended[0].replayed);
    let refused: Vec<_> = outcomes.iter().filter_map(|o| o.as_ref().err()).collect();
    assert!(
        matches!(refused[..], [AppError::CommandReused { .. }]),
        "{outcomes:?}"
    );
    let (version, visits) = stream(&db).await;
    assert_eq!(version, 2);
    assert_eq!(visits.len(), 1);
}
