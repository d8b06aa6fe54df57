//! The register of erasures: which of the structure's people were erased,
//! when, by whom (their role) and for what reason, newest first. What an
//! erasure records is not personal (`PersonErased`: who, when, the reason's
//! kind; its explanation is sealed and gone with the key), so the register
//! outlives the data it accounts for. For those who erase: managers and
//! admins.

use async_graphql::{Context, ID, Object, Result, SimpleObject};
use passerelle_app::policy;
use passerelle_domain::person::{ErasureReason, Person as PersonAggregate, PersonEvent};
use passerelle_domain::values::PersonId;
use passerelle_projections::views::people;
use time::Date;

use crate::context::{gateway, read_stream, staff};
use crate::error;
use crate::input::{after as after_key, cursor, page_size};
use crate::primitives::{PageInfo, Recording, page};

/// A person's erasure, as recorded.
#[derive(SimpleObject, Debug)]
pub struct PersonErasure {
    pub person_id: ID,
    pub reason: ErasureReason,
    pub erased_on: Date,
    /// Who erased (their role then) and when.
    pub recorded: Recording,
}

#[derive(SimpleObject, Debug)]
pub struct PersonErasureEdge {
    cursor: String,
    node: PersonErasure,
}

#[derive(SimpleObject, Debug)]
pub struct PersonErasureConnection {
    edges: Vec<PersonErasureEdge>,
    page_info: PageInfo,
}

#[derive(Default, Debug)]
pub struct ErasureRegisterQuery;

#[Object]
impl ErasureRegisterQuery {
    /// The erasures of the viewer's structure's people, newest first: for
    /// its managers and admins, who erase. The cursor names no one.
    async fn person_erasures(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<PersonErasureConnection> {
        let actor = staff(ctx)?;
        if !policy::erases_people(&actor) {
            return Err(error::forbidden());
        }
        let limit = page_size(first)?;
        let after = after_key(after, 2, |key| {
            Some((key[0].parse::<i64>().ok()?, key[1].parse::<i64>().ok()?))
        })?;
        let gw = gateway(ctx);
        let entries = people::erasures(&gw.pool, actor.structure, after, limit + 1)
            .await
            .map_err(error::db)?;
        let (entries, page_info) = page(
            entries,
            limit,
            |e| {
                cursor(&[
                    &e.transaction_id.to_string(),
                    &e.global_position.to_string(),
                ])
            },
            |cursor, e| (cursor, e),
        );
        let mut edges = Vec::with_capacity(entries.len());
        for (cursor, entry) in entries {
            let person = PersonId(entry.person_id);
            read_stream(ctx, format!("person-{}", entry.person_id))?;
            let history = gw
                .handler
                .history::<PersonAggregate>(person)
                .await
                .map_err(error::app)?;
            // The view lists the erasure from the log: its event is there.
            let Some(node) = history.iter().rev().find_map(|r| match &r.event {
                PersonEvent::PersonErased(e) => Some(PersonErasure {
                    person_id: ID(entry.person_id.to_string()),
                    reason: e.reason,
                    erased_on: e.erased_on,
                    recorded: r.into(),
                }),
                _ => None,
            }) else {
                continue;
            };
            edges.push(PersonErasureEdge { cursor, node });
        }
        Ok(PersonErasureConnection { edges, page_info })
    }
}
