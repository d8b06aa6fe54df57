//! Command handling: the one path every command takes, whichever front door
//! it came through. Authorize (by the caller, with the actor carried here),
//! load the aggregate's stream, read the context its rules need from views,
//! decide, append with the expected version and update the inline views in
//! the same transaction; on a version conflict, decide again (bounded).
//!
//! Knows the domain, the store and the projections; knows nothing of HTTP or
//! GraphQL.

mod actor;
mod aggregate;
mod cache;
mod clock;
mod contexts;
mod erasure;
mod error;
mod fanout;
mod handler;
pub mod policy;
mod reading;

pub use actor::{Actor, Role};
pub use aggregate::{Aggregate, upcasters};
pub use clock::{Clock, FixedClock, SystemClock, paris_date, paris_offset};
pub use contexts::Views;
pub use erasure::{Forget, ForgetContact, NothingElse};
pub use error::AppError;
pub use fanout::{RESYNC, fan_out};
pub use handler::{CommandMeta, ContextSource, Handler, Outcome};
pub use passerelle_store::Guard;
pub use reading::Recorded;
