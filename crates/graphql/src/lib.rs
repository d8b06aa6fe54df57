//! The GraphQL schema over `app` and `projections`: the product's API, used
//! by partners over HTTP and, later, by the pages in-process.
//!
//! Mutations decide through `app`'s command path and answer with the object
//! read from the view the same transaction updated. Queries read views.
//! Every resolver asks `app::policy` what the viewer may reach. Knows no
//! HTTP type: the server puts a [`Viewer`] in each request's data.

mod access;
mod accidents;
mod accounts;
mod consents;
mod contact_record;
mod context;
mod conventions;
mod correction_record;
mod corrections;
mod dashboards;
mod employers;
pub mod erasure;
pub mod erasure_register;
mod error;
mod health_log;
mod immersion_record;
mod immersions;
mod inbox;
mod input;
mod kinds;
mod limits;
mod loaders;
mod matching;
mod mentorships;
mod need_record;
mod notifications;
mod people;
mod person_record;
mod primitives;
mod reads;
mod replays;
pub mod retention;
pub mod retention_warnings;
mod revalidate;
mod schema;
mod staff;
mod structures;
mod testimonies;
mod throttle;

pub use accounts::SESSION_COOKIE;
pub use context::{
    Gateway, SessionCheck, Sessions, Viewer, connection_data, execute, prepare, refused_as_kept,
    role_of, staff_actor, viewer_of_request, viewer_of_token,
};
pub use error::Code;
pub use limits::Limits;
pub use passerelle_accounts::staff::AccountChange;
pub use passerelle_accounts::{Principal, PrincipalSession, StaffRole, StructureSetting};
pub use passerelle_notify::outbox::State as DeliveryState;
pub use passerelle_notify::schedule::Job as ScheduledJob;
pub use reads::{Reads, ReplayFloor, STANDBY_READ_WITHIN, StandbyFailure};
pub use schema::{PasserelleSchema, build, build_reading, sdl};
pub use throttle::{Throttle, ThrottleSettings};
