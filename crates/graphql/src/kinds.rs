//! The domain's enums are the API's: the domain derives `async_graphql::Enum`
//! on them behind its `graphql` feature (as the projections do for the
//! inbox's task kinds and the funnel's steps), so no enum is copied here.
//! What is left is reading them from the views, which keep them as text.

use async_graphql::Result;
use passerelle_projections::views::UnknownTag;

use crate::error;

/// A value read back from a view: one the code no longer knows is a fault
/// of ours, logged with a reference, never a default.
pub(crate) fn stored<T>(value: Result<T, UnknownTag>) -> Result<T> {
    value.map_err(|e| error::internal(&e))
}
