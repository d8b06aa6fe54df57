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

/// `value` with every sealed box's ciphertext taken out.
fn without_boxes(mut value: serde_json::Value) -> serde_json::Value {
    fn strip(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(map) => {
                if let Some(serde_json::Value::Object(sealed)) = map.get_mut("$sealed") {
                    sealed.remove("box");
                }
                map.values_mut().for_each(strip);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    strip(&mut value);
    value
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
    let row: serde_json::Value = serde_json::from_str(&raw).unwrap();
    assert!(
        row["first_name"]["$sealed"]["box"].is_string()
            && row["address"]["$sealed"]["box"].is_string(),
        "raw row: {raw}"
    );
    // A box is random base64, which may spell a short name by chance: the
    // clear values are looked for everywhere else.
    let outside = without_boxes(row).to_string();
    assert!(
        !outside.contains("Awa") && !outside.contains("Lilas"),
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

/// Version 1 kept `why` in clear; version 2 seals it (the domain's
/// upcasters mark such a text as personal the same way).
fn why_sealed_from_v2(mut data: serde_json::Value) -> serde_json::Value {
    let why = data["why"].take();
    data["why"] = json!({ "$personal": why });
    data
}

#[tokio::test]
async fn an_erasure_writes_over_what_older_events_hold_in_clear() {
    let db = TestDb::new().await;
    let upcasters = || Upcasters::default().with("Interrupted", 1, why_sealed_from_v2);
    let store = db.store_with(upcasters());
    let person = Uuid::new_v4();
    // As an older version recorded them: the free text in clear beside a
    // value sealed with the person's key; then one recorded sealed.
    let old = NewEvent::new(
        "Interrupted",
        1,
        json!({"why": "Malade depuis lundi", "by": "person",
               "words": {"$personal": "Je reviendrai"}}),
    )
    .about(person);
    let new = NewEvent::new(
        "Interrupted",
        2,
        json!({"why": {"$personal": "Absente"}, "by": "host"}),
    )
    .about(person);
    store
        .append(&append(
            "immersion-1",
            ExpectedVersion::NoStream,
            &[old, new],
            &metadata(),
        ))
        .await
        .unwrap();
    // Another person's stream, not erased.
    let other = NewEvent::new("Interrupted", 1, json!({"why": "Grippe de Yanis"}));
    store
        .append(&append(
            "immersion-2",
            ExpectedVersion::NoStream,
            &[other],
            &metadata(),
        ))
        .await
        .unwrap();
    let raw = |stream: &'static str| {
        let pool = db.pool.clone();
        async move {
            let rows: Vec<(i32, String)> = sqlx::query_as(
                "select schema_version, data::text from events where stream_id = $1
                 order by version",
            )
            .bind(stream)
            .fetch_all(&pool)
            .await
            .unwrap();
            rows
        }
    };
    assert!(raw("immersion-1").await[0].1.contains("Malade"));

    // Writing over refuses what is not an erasure's: another column, or the
    // same version, even with the setting on.
    for sql in [
        "update events set actor = 'x', schema_version = 2 where stream_id = 'immersion-1' and version = 1",
        "update events set data = '{}' where stream_id = 'immersion-1' and version = 1",
    ] {
        let mut tx = db.pool.begin().await.unwrap();
        sqlx::query("select set_config('passerelle.erasure', 'on', true)")
            .execute(&mut *tx)
            .await
            .unwrap();
        let err = sqlx::query(sql).execute(&mut *tx).await.unwrap_err();
        assert!(
            err.to_string().contains("events are immutable"),
            "{sql}: {err}"
        );
    }

    let mut tx = db.pool.begin().await.unwrap();
    store
        .erase_subject_in(&mut tx, person, &metadata())
        .await
        .unwrap();
    let written = store
        .erase_clear_in(&mut tx, &["immersion-1".to_owned()])
        .await
        .unwrap();
    assert_eq!(written, 1, "the older event alone");
    // The setting does not outlive the erasure's statements.
    let err = sqlx::query(
        "update events set data = '{}', schema_version = 9 where stream_id = 'immersion-2'",
    )
    .execute(&mut *tx)
    .await
    .unwrap_err();
    assert!(err.to_string().contains("events are immutable"), "{err}");
    drop(tx);

    // Rolled back with the failed statement: done again, then committed.
    let mut tx = db.pool.begin().await.unwrap();
    store
        .erase_subject_in(&mut tx, person, &metadata())
        .await
        .unwrap();
    store
        .erase_clear_in(&mut tx, &["immersion-1".to_owned()])
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let rows = raw("immersion-1").await;
    assert!(!rows[0].1.contains("Malade"), "{rows:?}");
    assert_eq!(rows[0].0, 2, "stored as the version it reads as");
    assert!(
        rows[0].1.contains("$sealed"),
        "the sealed value stays sealed: {rows:?}"
    );
    assert_eq!(
        raw("immersion-2").await[0].1,
        r#"{"why":"Grippe de Yanis"}"#
    );

    let mut conn = db.pool.acquire().await.unwrap();
    let read = store
        .read_stream(&mut conn, "immersion-1", 1)
        .await
        .unwrap();
    assert_eq!(read[0].schema_version, 2);
    assert_eq!(
        read[0].value(),
        json!({"why": {"$erased": true}, "by": "person", "words": {"$erased": true}})
    );
    assert_eq!(
        read[1].value(),
        json!({"why": {"$erased": true}, "by": "host"})
    );
    let other = store
        .read_stream(&mut conn, "immersion-2", 1)
        .await
        .unwrap();
    assert_eq!(
        other[0].value(),
        json!({"why": {"$personal": "Grippe de Yanis"}})
    );

    // Again: nothing left to write over.
    let mut tx = db.pool.begin().await.unwrap();
    let again = store
        .erase_clear_in(&mut tx, &["immersion-1".to_owned()])
        .await
        .unwrap();
    assert_eq!(again, 0);
}
