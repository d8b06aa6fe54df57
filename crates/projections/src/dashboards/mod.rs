//! `dashboards`: one row of facts per immersion (who, where, which sector,
//! which public) with the instant it reached each step of the funnel, and
//! every outcome recorded with its instant; visits, and needs with the
//! instant each became an immersion, an offer and a hire; people with their
//! project's readjustments and what caused them. Asynchronous, rebuildable.
//!
//! Each step keeps the first instant it was reached and outcomes are kept
//! as recorded, never overwritten: the figures "as of" a past date are the
//! rows and instants up to the end of that day, exact to the event, without
//! replaying the log.
//!
//! Beside those facts, kept with them in each batch: the delays between
//! steps, indexed by length, and counted by the hour they fall in
//! (`delay_hours`), from which the median of every immersion's delays is
//! read at its position, from its hour on, instead of sorting them; the
//! outcome totals; the counts of `totals` (immersions at each step, delays
//! per step, proposals kept waiting, employers engaged, visits, needs, and
//! needs of each source by what became of them); and
//! each employer's earliest visit, need and start. They answer the figures
//! unfiltered (or filtered on employers alone) without scanning or grouping
//! the activity; the filtered queries read the facts.
//!
//! `write` keeps the tables (their DDL is `schema.sql`), `totals` the
//! counts and delays kept beside them and how they are read, `filter`
//! where each filter reads; each dashboard's queries have their file.

mod engagement;
mod filter;
mod funnel;
mod needs_conversion;
mod outcomes;
mod readjustments;
mod totals;
mod write;

pub use engagement::{EmployerEngagement, employer_engagement};
pub use filter::{DashboardError, Filter};
pub use funnel::{FunnelStep, funnel};
pub use needs_conversion::{NeedsBySource, NeedsConversion, needs_conversion};
pub use outcomes::{OutcomeCount, outcomes};
pub use readjustments::{ProjectReadjustments, project_readjustments};
pub use totals::{FUNNEL_STEPS, FunnelStepName};
pub use write::Dashboards;
