//! Read models: their tables, how events change them, and the queries that
//! read them. Each projection is a [`Projection`] run by the store's runner;
//! readers query the stable schema named after it.
//!
//! Knows events by type name and JSON shape; knows nothing of HTTP or GraphQL.

mod activity;

use std::sync::Arc;

pub use activity::{ActivityRow, EventActivity};
use passerelle_store::projection::Projection;

/// Every projection the service keeps, in the order they are set up.
pub fn all() -> Vec<Arc<dyn Projection>> {
    vec![Arc::new(EventActivity)]
}
