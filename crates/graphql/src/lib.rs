//! The GraphQL schema over `app` and `projections`: the product's API, used
//! by partners over HTTP and, later, by the pages in-process.
//!
//! Mutations decide through `app`'s command path and answer with the object
//! read from the view the same transaction updated. Queries read views.
//! Every resolver asks `app::policy` what the viewer may reach. Knows no
//! HTTP type: the server puts a [`Viewer`] in each request's data.

mod dashboards;
mod employers;
mod error;
mod immersions;
mod inbox;
mod limits;
mod notifications;
mod people;
mod replays;
mod revalidate;
mod schema;
mod throttle;

pub use error::Code;
pub use passerelle_accounts::{Principal, PrincipalSession};
pub use schema::{
    Gateway, Limits, PasserelleSchema, SESSION_COOKIE, Viewer, build, connection_data, prepare,
    sdl, viewer_of_token,
};
pub use throttle::{Throttle, ThrottleSettings};
