//! Shapes every feature shares: a page of a list, mutation payloads, and who
//! recorded a fact read back.

use async_graphql::SimpleObject;
use passerelle_app::Recorded;
use time::OffsetDateTime;

#[derive(SimpleObject, Debug, Default)]
pub struct PageInfo {
    pub has_next_page: bool,
    pub end_cursor: Option<String>,
}

/// Declares one payload type per mutation (`<Entity><Verb>Payload`), each
/// answering with the object the mutation changed.
macro_rules! payloads {
    ($field:ident: $ty:ty => $($name:ident),* $(,)?) => {$(
        #[derive(async_graphql::SimpleObject, Debug)]
        pub struct $name {
            pub $field: $ty,
        }
    )*};
}

pub(crate) use payloads;

/// One page of a keyset list, from rows fetched with one more than `limit`:
/// the extra row only tells that a next page exists.
pub(crate) fn page<R, E>(
    mut rows: Vec<R>,
    limit: i64,
    cursor: impl Fn(&R) -> String,
    edge: impl Fn(String, R) -> E,
) -> (Vec<E>, PageInfo) {
    let has_next_page = rows.len() as i64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or_default());
    let mut end_cursor = None;
    let edges = rows
        .into_iter()
        .map(|row| {
            let c = cursor(&row);
            end_cursor = Some(c.clone());
            edge(c, row)
        })
        .collect();
    (
        edges,
        PageInfo {
            has_next_page,
            end_cursor,
        },
    )
}

/// Who recorded a fact and when, beside what it says.
#[derive(SimpleObject, Debug)]
pub struct Recording {
    /// Who recorded it (`user:<id>`, `person:<id>`, `system:<component>`).
    pub by: String,
    /// Their role when they did (`mediator`, `manager`…).
    pub role: String,
    pub at: OffsetDateTime,
}

impl<E> From<&Recorded<E>> for Recording {
    fn from(recorded: &Recorded<E>) -> Self {
        Self {
            by: recorded.actor.clone(),
            role: recorded.role.clone(),
            at: recorded.recorded_at,
        }
    }
}
