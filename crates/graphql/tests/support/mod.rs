//! What the gateway's tests share: the projections set up on a test
//! database, and a gateway and schema over a handler.

#![allow(dead_code, reason = "each test binary uses part of the helpers")]

pub mod world;

use std::sync::Arc;

use passerelle_app::Handler;
use passerelle_graphql::{Gateway, Limits, PasserelleSchema, Throttle, ThrottleSettings, build};
use passerelle_store::projection::{Projections, RunnerConfig};
use passerelle_store::testkit::TestDb;

/// Every projection, set up on `db`.
pub async fn projections(db: &TestDb) -> Arc<Projections> {
    let projections = Projections::new(
        db.store(),
        passerelle_projections::all(),
        RunnerConfig::default(),
    );
    projections.setup().await.unwrap();
    Arc::new(projections)
}

/// A gateway over `handler` with the defaults a test needs, and its schema.
pub fn gateway(handler: Handler, db: &TestDb) -> (Gateway, PasserelleSchema) {
    let gateway = Gateway {
        handler,
        pool: db.pool.clone(),
        session_ttl: time::Duration::hours(1),
        magic_link_ttl: time::Duration::minutes(30),
        magic_links_in_log: false,
        small_cell_threshold: 5,
        throttle: Arc::new(Throttle::new(ThrottleSettings::default())),
        sessions: Default::default(),
        retention: Some(Default::default()),
    };
    let schema = build(
        gateway.clone(),
        Limits {
            depth: 12,
            complexity: 10_000,
            ..Limits::default()
        },
    );
    (gateway, schema)
}

/// Structures in these départements (`(département, n)`, `n` making their
/// ids), each with `mediators` mediators: the staff a demo history runs with.
pub fn staff(structures: &[(&'static str, u128)], mediators: u128) -> Vec<passerelle_demo::Staff> {
    use passerelle_domain::values::{StructureId, UserId};
    use uuid::Uuid;
    structures
        .iter()
        .map(|&(departement, n)| passerelle_demo::Staff {
            structure: StructureId(Uuid::from_u128(n)),
            departement,
            mediators: (0..mediators)
                .map(|m| UserId(Uuid::from_u128(n * 100 + m)))
                .collect(),
        })
        .collect()
}
