//! Personal data: sealed at rest, erasable by deleting one key, events still replay.

mod common;

use common::{append, metadata, read_everything};
use passerelle_store::testkit::TestDb;
use passerelle_store::{ExpectedVersion, NewEvent, StoreError, Upcasters};
use serde_json::json;
use uuid::Uuid;

fn enrolled(person: Uuid) -> NewEvent {
    NewEvent::new(
        "PersonEnrolled",
        1,
        json!({
            "person_id": person,
            "first_name": {"$personal": "Awa"},
            "address": {"$personal": {"street": "12 rue des Lilas", "commune": "69123"}},
            "referent": "mediator-7"
        }),
    )
    .about(person)
}

#[tokio::test]
async fn personal_fields_are_encrypted_at_rest_and_read_back_in_clear() {
    let db = TestDb::new().await;
    let store = db.store();
    let person = Uuid::new_v4();
    let event = enrolled(person);
    store
        .append(&append(
            "person",
            ExpectedVersion::NoStream,
            std::slice::from_ref(&event),
            &metadata(),
        ))
        .await
        .unwrap();
    let raw: String = sqlx::query_scalar("select data::text from events")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert!(
        !raw.contains("Awa") && !raw.contains("Lilas"),
        "raw row: {raw}"
    );
    assert!(
        raw.contains("mediator-7"),
        "other fields stay readable: {raw}"
    );
    let mut conn = db.pool.acquire().await.unwrap();
    let read = store.read_stream(&mut conn, "person", 1).await.unwrap();
    assert_eq!(read[0].value(), event.data);
}

#[tokio::test]
async fn erasing_a_subject_makes_their_fields_unreadable_and_replay_still_works() {
    let db = TestDb::new().await;
    let store = db.store();
    let (awa, ben) = (Uuid::new_v4(), Uuid::new_v4());
    for (stream, person) in [("awa", awa), ("ben", ben)] {
        store
            .append(&append(
                stream,
                ExpectedVersion::NoStream,
                &[enrolled(person)],
                &metadata(),
            ))
            .await
            .unwrap();
    }
    let raw_before: Vec<String> =
        sqlx::query_scalar("select data::text from events order by global_position")
            .fetch_all(&db.pool)
            .await
            .unwrap();

    let mut tx = db.pool.begin().await.unwrap();
    let (erasure, _) = store
        .erase_subject_in(&mut tx, awa, &metadata())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(erasure.stream_version, 1);

    let key_left: bool =
        sqlx::query_scalar("select exists (select 1 from subject_keys where subject_id = $1)")
            .bind(awa)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert!(!key_left, "the subject's key is gone from the database");
    let raw_after: Vec<String> =
        sqlx::query_scalar("select data::text from events order by global_position limit 2")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(raw_before, raw_after, "stored events were not rewritten");

    let all = read_everything(&store).await;
    assert_eq!(all.len(), 3, "both enrolments and the erasure replay");
    assert_eq!(all[0].value()["first_name"], json!({"$erased": true}));
    assert_eq!(all[0].value()["address"], json!({"$erased": true}));
    assert_eq!(all[0].value()["referent"], json!("mediator-7"));
    assert_eq!(
        all[1].value()["first_name"],
        json!({"$personal": "Awa"}),
        "another subject is untouched"
    );
    assert_eq!(all[2].event_type, passerelle_store::ERASED_EVENT);
    assert_eq!(all[2].value()["subject_id"], json!(awa));

    // No new key is ever made for an erased subject.
    let err = store
        .append(&append(
            "awa",
            ExpectedVersion::Any,
            &[enrolled(awa)],
            &metadata(),
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::SubjectErased(s) if s == awa),
        "{err:?}"
    );
}

#[tokio::test]
async fn personal_values_without_a_subject_are_refused() {
    let db = TestDb::new().await;
    let mut event = enrolled(Uuid::new_v4());
    event.subject = None;
    let err = db
        .store()
        .append(&append(
            "p",
            ExpectedVersion::NoStream,
            &[event],
            &metadata(),
        ))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::MissingSubject { .. }), "{err:?}");
    let count: i64 = sqlx::query_scalar("select count(*) from events")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(count, 0);
}

#[tokio::test]
async fn old_schema_versions_are_upcast_on_read() {
    fn rename_commune(mut data: serde_json::Value) -> serde_json::Value {
        let commune = data["city"].take();
        data["commune_code"] = commune;
        data.as_object_mut().unwrap().remove("city");
        data
    }
    let db = TestDb::new().await;
    let old = NewEvent::new("EmployerRegistered", 1, json!({"city": "69123"}));
    db.store()
        .append(&append("e", ExpectedVersion::NoStream, &[old], &metadata()))
        .await
        .unwrap();
    let store = db.store_with(Upcasters::default().with("EmployerRegistered", 1, rename_commune));
    let mut conn = db.pool.acquire().await.unwrap();
    let read = store.read_stream(&mut conn, "e", 1).await.unwrap();
    assert_eq!(read[0].schema_version, 2);
    assert_eq!(read[0].value(), json!({"commune_code": "69123"}));
}

#[tokio::test]
async fn a_server_with_another_master_key_refuses_the_database() {
    use passerelle_store::{Keyring, MasterKey};
    let db = TestDb::new().await;
    let key = MasterKey::generate();
    Keyring::new(&key).verify(&db.pool).await.unwrap();
    Keyring::new(&key).verify(&db.pool).await.unwrap();
    let err = Keyring::new(&MasterKey::generate())
        .verify(&db.pool)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::WrongMasterKey), "{err:?}");
}
