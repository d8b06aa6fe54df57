//! What each request carries: the gateway to the command path and the
//! database, who sends it, and the actor its commands are issued as.

use std::sync::Arc;

use async_graphql::{Context, Result};
use passerelle_accounts::{Principal, PrincipalSession, User};
use passerelle_app::{Actor, CommandMeta, Handler, Role};
use sqlx::PgPool;
use time::Duration;
use uuid::Uuid;

use crate::error;
use crate::throttle::Throttle;

/// What resolvers reach: the command path and the database.
#[derive(Debug, Clone)]
pub struct Gateway {
    pub handler: Handler,
    pub pool: PgPool,
    /// How long a login session lasts.
    pub session_ttl: Duration,
    /// How long a magic link stays usable.
    pub magic_link_ttl: Duration,
    /// Until email is configured, magic links are written to the log.
    pub magic_links_in_log: bool,
    /// Login and magic-link attempts per email address and per client.
    pub throttle: Arc<Throttle>,
    /// Dashboard counts below this are masked beyond the viewer's structure.
    pub small_cell_threshold: i64,
}

/// Who sends the request, as the HTTP layer authenticated them: a staff
/// member, or an employer or a person by magic link.
#[derive(Debug, Clone, Default)]
pub struct Viewer {
    pub user: Option<User>,
    pub principal: Option<PrincipalSession>,
    /// The session token the request came with, for `logout`.
    pub token: Option<String>,
    /// The client's network address, as the HTTP layer determined it: what
    /// attempts are counted against besides the email address.
    pub client: Option<std::net::IpAddr>,
}

/// Readies one request: who sends it, and the per-request batching of
/// lists and streams (a DataLoader caches for one request only).
pub fn prepare(
    request: async_graphql::Request,
    gateway: &Gateway,
    viewer: Viewer,
) -> async_graphql::Request {
    request
        .data(viewer)
        .data(StreamReads::default())
        .data(crate::loaders::Lists::loader(gateway.pool.clone()))
        .data(crate::loaders::Histories::loader(gateway.handler.clone()))
}

/// How many streams one request may read back (a person's or an
/// immersion's record, peers' testimonies, mentors' mentees): such fields
/// in a list multiply, and each read is a query and its events in memory.
pub(crate) const STREAM_READS: usize = 500;

/// The streams a request has read back so far, each counted once however
/// many fields read it.
#[derive(Debug, Default)]
pub(crate) struct StreamReads(std::sync::Mutex<std::collections::HashSet<String>>);

/// Counts the stream `stream_id` as read back by this request; past
/// [`STREAM_READS`] streams, the field is refused and asks for smaller
/// pages.
pub(crate) fn read_stream(ctx: &Context<'_>, stream_id: String) -> Result<()> {
    // A connection's data (subscriptions) holds no counter: each answer
    // there reads the one immersion it is about.
    let Some(reads) = ctx.data_opt::<StreamReads>() else {
        return Ok(());
    };
    let mut read = reads
        .0
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if read.contains(&stream_id) {
        return Ok(());
    }
    if read.len() >= STREAM_READS {
        return Err(error::error(
            error::Code::BadUserInput,
            format!(
                "Cette requête lit trop de dossiers à la fois ({STREAM_READS} au plus) : \
                 demandez moins d'éléments par page."
            ),
        ));
    }
    read.insert(stream_id);
    Ok(())
}

/// Who a session token stands for: a staff member, else an employer or a
/// person by magic link, else nobody.
pub async fn viewer_of_token(
    gateway: &Gateway,
    token: Option<String>,
) -> Result<Viewer, passerelle_accounts::AccountError> {
    let mut viewer = Viewer::default();
    if let Some(t) = &token {
        let now = gateway.handler.clock().now();
        viewer.user = passerelle_accounts::authenticate(&gateway.pool, t, now).await?;
        if viewer.user.is_none() {
            viewer.principal =
                passerelle_accounts::authenticate_principal(&gateway.pool, t, now).await?;
        }
        // A person's session lasts while they are accompanied: once they
        // exit or are erased it is revoked, whatever its expiry.
        if let Some(PrincipalSession {
            principal: Principal::Person(person),
            structure,
        }) = viewer.principal
        {
            let accompanied = passerelle_projections::views::people::accompanied_by(
                &gateway.pool,
                person,
                structure,
            )
            .await?;
            if !accompanied {
                passerelle_accounts::logout_principal(&gateway.pool, t, now).await?;
                viewer.principal = None;
            }
        }
    }
    viewer.token = token;
    Ok(viewer)
}

/// The data of a WebSocket connection, as `prepare` gives a request's.
pub fn connection_data(gateway: &Gateway, viewer: Viewer) -> async_graphql::Data {
    let mut data = async_graphql::Data::default();
    data.insert(viewer);
    data.insert(crate::loaders::Lists::loader(gateway.pool.clone()));
    data.insert(crate::loaders::Histories::connection_loader(
        gateway.handler.clone(),
    ));
    data
}

pub(crate) fn gateway<'a>(ctx: &Context<'a>) -> &'a Gateway {
    ctx.data_unchecked::<Gateway>()
}

pub(crate) fn viewer<'a>(ctx: &Context<'a>) -> Option<&'a User> {
    ctx.data_opt::<Viewer>().and_then(|v| v.user.as_ref())
}

/// The staff member sending the request, as the actor of its commands.
pub(crate) fn staff(ctx: &Context<'_>) -> Result<Actor> {
    let Some(user) = viewer(ctx) else {
        let principal = ctx.data_opt::<Viewer>().and_then(|v| v.principal);
        return Err(match principal {
            Some(_) => error::forbidden(),
            None => error::unauthenticated(),
        });
    };
    let role = match user.role {
        passerelle_accounts::StaffRole::Admin => Role::Admin,
        passerelle_accounts::StaffRole::Manager => Role::Manager,
        passerelle_accounts::StaffRole::Mediator => Role::Mediator,
    };
    Ok(Actor::user(user.user_id, role, user.structure))
}

/// Whoever sends the request, staff or principal, as an actor.
pub(crate) fn actor(ctx: &Context<'_>) -> Result<Actor> {
    if let Ok(actor) = staff(ctx) {
        return Ok(actor);
    }
    let session = ctx
        .data_opt::<Viewer>()
        .and_then(|v| v.principal)
        .ok_or_else(error::unauthenticated)?;
    Ok(match session.principal {
        Principal::Employer(e) => Actor {
            id: format!("employer:{e}"),
            role: Role::Employer(e),
            structure: session.structure,
        },
        Principal::Person(p) => Actor {
            id: format!("person:{p}"),
            role: Role::Person(p),
            structure: session.structure,
        },
    })
}

/// One issuing of a command: the client's `commandId` makes a retry safe.
pub(crate) fn meta(actor: Actor, command_id: Option<Uuid>) -> CommandMeta {
    CommandMeta {
        command_id: command_id.unwrap_or_else(Uuid::now_v7),
        correlation_id: Uuid::now_v7(),
        causation_id: None,
        actor,
    }
}

/// An id for a new aggregate: derived from the command id when the client
/// sent one, so a retried creation lands on the same stream.
pub(crate) fn new_id(command_id: Option<Uuid>, kind: &str) -> Uuid {
    match command_id {
        Some(c) => Uuid::new_v5(&c, kind.as_bytes()),
        None => Uuid::now_v7(),
    }
}

/// The user id inside a staff actor's `user:<id>`.
pub(crate) fn user_of(actor: &passerelle_app::Actor) -> Uuid {
    actor
        .id
        .strip_prefix("user:")
        .and_then(|id| id.parse().ok())
        .unwrap_or_default()
}
