//! The access log of health data: who read a person's disability
//! recognition, when and through what. Every read that returns it is
//! recorded (`record`), and a structure's managers consult the log.

use async_graphql::{Context, ID, Object, Result, SimpleObject};
use passerelle_accounts::health_log::{self, HealthRead, ReadThrough, Reader};
use passerelle_app::{Actor, policy};
use passerelle_domain::values::PersonId;
use passerelle_projections::views::UnknownTag;
use time::OffsetDateTime;

use crate::context::{gateway, staff};
use crate::error;
use crate::input::{after as after_key, cursor, page_size, parse_id};
use crate::kinds::stored;
use crate::primitives::{PageInfo, page};

/// Records that `actor` read `person`'s health data: a read that cannot be
/// recorded is not given (the caller answers with the error).
pub(crate) async fn record(
    ctx: &Context<'_>,
    actor: &Actor,
    person: PersonId,
    through: ReadThrough,
) -> Result<()> {
    let gw = gateway(ctx);
    health_log::record_read(
        &gw.pool,
        Reader {
            structure: actor.structure.as_uuid(),
            id: &actor.id,
            role: actor.role.as_str(),
        },
        person.as_uuid(),
        through,
        gw.handler.clock().now(),
    )
    .await
    .map_err(|e| error::internal(&e))
}

/// One read of a person's health data.
#[derive(Debug)]
pub struct HealthDataRead(HealthRead);

#[Object]
impl HealthDataRead {
    async fn person_id(&self) -> ID {
        ID(self.0.person_id.to_string())
    }
    /// `user:<id>` for staff, `person:<id>` for the person themself.
    async fn reader(&self) -> &str {
        &self.0.reader
    }
    /// The reader's staff account, when staff read it.
    async fn reader_user_id(&self) -> Option<ID> {
        self.0
            .reader
            .strip_prefix("user:")
            .map(|id| ID(id.to_owned()))
    }
    /// The staff member who read it, by their account's name; null when
    /// the person read her own.
    async fn reader_name(&self) -> Option<&str> {
        self.0.reader_name.as_deref()
    }
    /// `mediator`, `manager`, `admin` or `person`.
    async fn reader_role(&self) -> &str {
        &self.0.reader_role
    }
    async fn through(&self) -> Result<ReadThrough> {
        stored(
            ReadThrough::parse(&self.0.through).ok_or_else(|| UnknownTag {
                kind: "ReadThrough",
                value: self.0.through.clone(),
            }),
        )
    }
    async fn read_at(&self) -> OffsetDateTime {
        self.0.read_at
    }
}

#[derive(SimpleObject, Debug)]
pub struct HealthDataReadEdge {
    cursor: String,
    node: HealthDataRead,
}

#[derive(SimpleObject, Debug)]
pub struct HealthDataReadConnection {
    edges: Vec<HealthDataReadEdge>,
    page_info: PageInfo,
}

#[derive(Default, Debug)]
pub struct HealthLogQuery;

#[Object]
impl HealthLogQuery {
    /// Who read health data of the viewer's structure's people, newest
    /// first, of one person when given: for its managers and admins.
    async fn health_data_reads(
        &self,
        ctx: &Context<'_>,
        person_id: Option<ID>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<HealthDataReadConnection> {
        let actor = staff(ctx)?;
        if !policy::reads_health_log(&actor) {
            return Err(error::forbidden());
        }
        let limit = page_size(first)?;
        let before = after_key(after, 1, |key| key[0].parse::<i64>().ok())?;
        let person = match &person_id {
            Some(id) => Some(parse_id(id, "Personne")?),
            None => None,
        };
        let rows = health_log::reads(
            &gateway(ctx).pool,
            actor.structure.as_uuid(),
            person,
            before,
            limit + 1,
        )
        .await
        .map_err(|e| error::internal(&e))?;
        let (edges, page_info) = page(
            rows,
            limit,
            |r| cursor(&[&r.id.to_string()]),
            |cursor, r| HealthDataReadEdge {
                cursor,
                node: HealthDataRead(r),
            },
        );
        Ok(HealthDataReadConnection { edges, page_info })
    }
}
