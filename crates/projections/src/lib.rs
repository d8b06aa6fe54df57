//! Read models: their tables, how events change them, and the queries that
//! read them. Each projection is a [`Projection`] run by the store's runner;
//! readers query the stable schema named after it.
//!
//! Knows events through the domain's event types (or, for `event_activity`,
//! by type name only); knows nothing of HTTP or GraphQL.

mod activity;
pub mod dashboards;
pub mod inbox;
mod rows;
pub mod views;

use std::sync::Arc;

pub use activity::{ActivityRow, EventActivity};
use passerelle_store::projection::Projection;

/// Every projection the service keeps, in the order they are set up.
pub fn all() -> Vec<Arc<dyn Projection>> {
    vec![
        Arc::new(EventActivity),
        Arc::new(views::employers::Employers),
        Arc::new(views::needs::Needs),
        Arc::new(views::people::People),
        Arc::new(views::immersions::Immersions),
        Arc::new(dashboards::Dashboards),
        Arc::new(inbox::Inbox),
    ]
}
