//! The domain's `Personal<T>` and the store's sealing speak the same
//! convention: a typed personal field is encrypted at rest and reads back as
//! `Personal::Erased` after erasure.

use passerelle_domain::Personal;
use passerelle_store::testkit::TestDb;
use passerelle_store::{Append, ExpectedVersion, Metadata, NewEvent};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct SituationStated {
    person_id: Uuid,
    in_their_words: Personal<String>,
}

fn metadata() -> Metadata {
    Metadata {
        actor: "user:mediator".into(),
        role: "mediator".into(),
        structure: Uuid::from_u128(7),
        correlation_id: Uuid::new_v4(),
        causation_id: None,
        command_id: Uuid::new_v4(),
    }
}

#[tokio::test]
async fn a_personal_domain_field_is_sealed_then_erased() {
    let db = TestDb::new().await;
    let store = db.store();
    let person = Uuid::new_v4();
    let stated = SituationStated {
        person_id: person,
        in_their_words: "J'ai travaillé dix ans en cuisine, je ne veux plus les horaires du soir"
            .to_owned()
            .into(),
    };
    let event =
        NewEvent::new("SituationStated", 1, serde_json::to_value(&stated).unwrap()).about(person);
    let stream = format!("person-{person}");
    store
        .append(&Append {
            stream_id: &stream,
            expected: ExpectedVersion::NoStream,
            events: &[event],
            metadata: &metadata(),
            recorded_at: None,
        })
        .await
        .unwrap();
    let raw: String = sqlx::query_scalar("select data::text from events")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert!(!raw.contains("cuisine"), "{raw}");

    let mut conn = db.pool.acquire().await.unwrap();
    let read = store.read_stream(&mut conn, &stream, 1).await.unwrap();
    let back: SituationStated = read[0].decode().unwrap();
    assert_eq!(back, stated);

    let mut tx = db.pool.begin().await.unwrap();
    store
        .erase_subject_in(&mut tx, person, &metadata())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let read = store.read_stream(&mut conn, &stream, 1).await.unwrap();
    let back: SituationStated = read[0].decode().unwrap();
    assert_eq!(back.in_their_words, Personal::Erased);
    assert_eq!(
        back.person_id, person,
        "the rest of the event still replays"
    );
}
