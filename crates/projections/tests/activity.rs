//! `event_activity` against a real database: live equals a rebuild.

use passerelle_projections::EventActivity;
use passerelle_store::projection::{Projections, RunnerConfig};
use passerelle_store::testkit::TestDb;
use passerelle_store::{Append, ExpectedVersion, Metadata, NewEvent};
use serde_json::json;
use time::macros::datetime;
use uuid::Uuid;

#[tokio::test]
async fn counts_events_per_structure_day_and_type_and_a_rebuild_agrees() {
    let db = TestDb::new().await;
    let store = db.store();
    let projections = Projections::new(
        store.clone(),
        passerelle_projections::all(),
        RunnerConfig::default(),
    );
    projections.setup().await.unwrap();
    let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
    let days = [
        datetime!(2026-03-02 09:00 UTC),
        datetime!(2026-03-02 17:00 UTC),
        datetime!(2026-03-03 08:00 UTC),
    ];
    for (i, (structure, at, kind)) in [
        (a, days[0], "EmployerVisitLogged"),
        (a, days[1], "EmployerVisitLogged"),
        (a, days[1], "NeedSurfaced"),
        (b, days[2], "EmployerVisitLogged"),
    ]
    .into_iter()
    .enumerate()
    {
        let metadata = Metadata {
            actor: "user:m".into(),
            role: "mediator".into(),
            structure,
            correlation_id: Uuid::new_v4(),
            causation_id: None,
            command_id: Uuid::new_v4(),
        };
        store
            .append(&Append {
                stream_id: &format!("employer-{i}"),
                expected: ExpectedVersion::NoStream,
                events: &[NewEvent::new(kind, 1, json!({}))],
                metadata: &metadata,
                recorded_at: Some(at),
            })
            .await
            .unwrap();
    }
    let mut applied = 0;
    for _ in 0..500 {
        applied += projections.run_once().await.unwrap();
        if applied == 4 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let rows = EventActivity::between(&db.pool, days[0].date(), days[2].date())
        .await
        .unwrap();
    let summary: Vec<(Uuid, String, String, i64)> = rows
        .iter()
        .map(|r| {
            (
                r.structure,
                r.day.to_string(),
                r.event_type.clone(),
                r.events,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (a, "2026-03-02".into(), "EmployerVisitLogged".into(), 2),
            (a, "2026-03-02".into(), "NeedSurfaced".into(), 1),
            (b, "2026-03-03".into(), "EmployerVisitLogged".into(), 1),
        ]
    );
    projections.rebuild("event_activity", false).await.unwrap();
    assert_eq!(
        EventActivity::between(&db.pool, days[0].date(), days[2].date())
            .await
            .unwrap(),
        rows
    );
}
