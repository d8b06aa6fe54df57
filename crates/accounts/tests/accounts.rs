//! Accounts against a real PostgreSQL: creation, login, sessions.

use passerelle_accounts::{AccountError, StaffRole, authenticate, create_user, login, logout};
use passerelle_domain::values::{Email, Label};
use passerelle_store::testkit::TestDb;
use time::Duration;
use time::macros::datetime;

const PASSWORD: &str = "correct horse battery";

async fn camille(db: &TestDb) -> passerelle_accounts::User {
    create_user(
        &db.pool,
        &Label::parse("Mission locale de Nantes").unwrap(),
        StaffRole::Mediator,
        &Email::parse("Camille@ML-Nantes.fr").unwrap(),
        &Label::parse("Camille Durand").unwrap(),
        PASSWORD,
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn a_user_logs_in_and_out() {
    let db = TestDb::new().await;
    let user = camille(&db).await;
    assert_eq!(user.email, "camille@ml-nantes.fr");
    let now = datetime!(2026-03-02 09:00 UTC);
    let (token, logged) = login(
        &db.pool,
        " CAMILLE@ml-nantes.fr",
        PASSWORD,
        now,
        Duration::hours(12),
    )
    .await
    .unwrap();
    assert_eq!(logged, user);
    let stored: Vec<u8> = sqlx::query_scalar("select token_hash from sessions")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_ne!(stored, token.0.as_bytes(), "only the hash is kept");
    assert_eq!(
        authenticate(&db.pool, &token.0, now).await.unwrap(),
        Some(user.clone())
    );
    // Expired after its lifetime.
    assert_eq!(
        authenticate(&db.pool, &token.0, now + Duration::hours(12))
            .await
            .unwrap(),
        None
    );
    assert!(logout(&db.pool, &token.0, now).await.unwrap());
    assert_eq!(authenticate(&db.pool, &token.0, now).await.unwrap(), None);
    assert!(!logout(&db.pool, &token.0, now).await.unwrap());
    assert_eq!(authenticate(&db.pool, "forged", now).await.unwrap(), None);
}

#[tokio::test]
async fn wrong_credentials_get_one_answer() {
    let db = TestDb::new().await;
    camille(&db).await;
    let now = datetime!(2026-03-02 09:00 UTC);
    for (email, password) in [
        ("camille@ml-nantes.fr", "wrong password!"),
        ("nobody@ml-nantes.fr", PASSWORD),
    ] {
        let err = login(&db.pool, email, password, now, Duration::hours(1))
            .await
            .unwrap_err();
        assert!(matches!(err, AccountError::BadCredentials), "{err:?}");
    }
    let sessions: i64 = sqlx::query_scalar("select count(*) from sessions")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(sessions, 0);
}

#[tokio::test]
async fn one_account_per_email_and_structures_are_shared_by_name() {
    let db = TestDb::new().await;
    let first = camille(&db).await;
    let err = create_user(
        &db.pool,
        &Label::parse("Mission locale de Nantes").unwrap(),
        StaffRole::Admin,
        &Email::parse("camille@ml-nantes.fr").unwrap(),
        &Label::parse("Camille D.").unwrap(),
        PASSWORD,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, AccountError::EmailTaken(_)), "{err:?}");
    let manager = create_user(
        &db.pool,
        &Label::parse("Mission locale de Nantes").unwrap(),
        StaffRole::Manager,
        &Email::parse("sami@ml-nantes.fr").unwrap(),
        &Label::parse("Sami Benali").unwrap(),
        PASSWORD,
    )
    .await
    .unwrap();
    assert_eq!(manager.structure, first.structure);
    let weak = create_user(
        &db.pool,
        &Label::parse("PLIE").unwrap(),
        StaffRole::Mediator,
        &Email::parse("lea@plie.fr").unwrap(),
        &Label::parse("Léa").unwrap(),
        "short",
    )
    .await
    .unwrap_err();
    assert!(matches!(weak, AccountError::WeakPassword));
}

#[tokio::test]
async fn a_magic_link_opens_one_session_before_it_expires() {
    use passerelle_accounts::{
        Principal, authenticate_principal, issue_magic_link, logout_principal, redeem_magic_link,
    };
    use passerelle_domain::values::{EmployerId, StructureId};
    let db = TestDb::new().await;
    let now = datetime!(2026-03-02 09:00 UTC);
    let employer = Principal::Employer(EmployerId(uuid::Uuid::from_u128(7)));
    let structure = StructureId(uuid::Uuid::from_u128(1));
    let link = issue_magic_link(&db.pool, employer, structure, now, Duration::minutes(30))
        .await
        .unwrap();
    // Expired: 30 minutes later it opens nothing.
    let late = redeem_magic_link(
        &db.pool,
        &link.0,
        now + Duration::minutes(30),
        Duration::hours(12),
    )
    .await
    .unwrap();
    assert_eq!(late, None);
    let link = issue_magic_link(&db.pool, employer, structure, now, Duration::minutes(30))
        .await
        .unwrap();
    let (session, opened) = redeem_magic_link(
        &db.pool,
        &link.0,
        now + Duration::minutes(29),
        Duration::hours(12),
    )
    .await
    .unwrap()
    .expect("a fresh link opens a session");
    assert_eq!(opened.principal, employer);
    assert_eq!(opened.structure, structure);
    assert_eq!(
        redeem_magic_link(&db.pool, &link.0, now, Duration::hours(12))
            .await
            .unwrap(),
        None,
        "used once"
    );
    assert_eq!(
        authenticate_principal(&db.pool, &session.0, now)
            .await
            .unwrap(),
        Some(opened)
    );
    assert!(logout_principal(&db.pool, &session.0, now).await.unwrap());
    assert_eq!(
        authenticate_principal(&db.pool, &session.0, now)
            .await
            .unwrap(),
        None
    );
}
