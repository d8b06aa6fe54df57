//! What the command path's tests share: a handler over every projection on
//! a test database, with a fixed clock, and employers' contexts.

#![allow(dead_code, reason = "each test binary uses part of the helpers")]

use std::sync::Arc;

use async_trait::async_trait;
use passerelle_app::{AppError, ContextSource, FixedClock, Handler};
use passerelle_domain::Decider;
use passerelle_domain::employer::{Employer, EmployerCommand, EmployerContext};
use passerelle_domain::values::StructureId;
use passerelle_store::projection::{Projections, RunnerConfig};
use passerelle_store::testkit::TestDb;
use sqlx::PgConnection;
use time::macros::datetime;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

/// An employer's context: today, and no establishment registered under
/// the SIRET.
pub struct Contexts;

#[async_trait]
impl ContextSource<Employer> for Contexts {
    async fn context(
        &self,
        _: &mut PgConnection,
        _: &<Employer as Decider>::State,
        _: &EmployerCommand,
        _: OffsetDateTime,
        today: Date,
    ) -> Result<EmployerContext, AppError> {
        Ok(EmployerContext {
            today,
            siret_registered_as: None,
        })
    }
}

/// A handler over every projection, on 2 March 2026 at 09:30 UTC.
pub async fn handler(db: &TestDb) -> Handler {
    let projections = Projections::new(
        db.store(),
        passerelle_projections::all(),
        RunnerConfig::default(),
    );
    projections.setup().await.unwrap();
    Handler::new(
        Arc::new(projections),
        Arc::new(FixedClock::new(datetime!(2026-03-02 09:30 UTC))),
    )
}

pub fn structure() -> StructureId {
    StructureId(Uuid::from_u128(7))
}
