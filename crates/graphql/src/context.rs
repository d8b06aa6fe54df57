//! What each request carries: the gateway to the command path and the
//! database, who sends it, and the actor its commands are issued as.

use std::collections::HashMap;
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
    /// Staff sessions looked up lately (see [`viewer_of_request`]).
    pub sessions: Sessions,
    /// The retention job's periods, for the day it erases a person warned
    /// about (`retentionWarnings`); none while the job is off.
    pub retention: Option<passerelle_notify::retention::Settings>,
}

/// How long a staff session looked up is taken as it was by a command
/// that checks it in its own statement, and how many are kept.
const SESSION_KEPT_FOR: std::time::Duration = std::time::Duration::from_secs(30);
const SESSIONS_KEPT: usize = 10_000;

/// The mutations whose every resolver's first reach of the database is its
/// command's [`passerelle_app::Handler::execute`], before any read: what
/// they do before (parsing, `app::policy` on the viewer in hand) reads
/// nothing. Sent with a staff session kept in [`Sessions`], they are not
/// preceded by a session lookup: the command checks the session in the
/// statement that reads its stream, and is refused `UNAUTHENTICATED` when
/// it no longer stands, before anything is read or written. A mutation
/// added here must keep that order.
const CHECKED_BY_COMMAND: &[&str] = &[
    "employerRegister",
    "employerVisitLog",
    "employerHostingCapacitySet",
    "needSurface",
    "needQualify",
    "needClose",
    "needFormalise",
    "personEnroll",
];

/// Staff sessions recently looked up, by token: the user each stands for.
/// Never an authority by itself: only the commands of
/// [`CHECKED_BY_COMMAND`] use an entry, and they check the session again
/// in their own statement.
#[derive(Debug, Clone, Default)]
pub struct Sessions(Arc<std::sync::Mutex<HashMap<String, (User, std::time::Instant)>>>);

impl Sessions {
    fn get(&self, token: &str) -> Option<User> {
        let kept = self.lock();
        let (user, since) = kept.get(token)?;
        (since.elapsed() < SESSION_KEPT_FOR).then(|| user.clone())
    }

    fn keep(&self, token: &str, user: Option<&User>) {
        let mut kept = self.lock();
        let Some(user) = user else {
            kept.remove(token);
            return;
        };
        if kept.len() >= SESSIONS_KEPT && !kept.contains_key(token) {
            kept.retain(|_, (_, since)| since.elapsed() < SESSION_KEPT_FOR);
            if kept.len() >= SESSIONS_KEPT {
                kept.clear();
            }
        }
        kept.insert(token.to_owned(), (user.clone(), std::time::Instant::now()));
    }

    /// Forgets a session ended here (a logout) or refused by a command.
    pub(crate) fn forget(&self, token: &str) {
        self.lock().remove(token);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (User, std::time::Instant)>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// What the commands of a request check of its session, in their own
/// statement, when it was not looked up first ([`viewer_of_request`]).
#[derive(Debug, Clone)]
pub struct SessionCheck {
    guard: passerelle_app::Guard,
    token: String,
}

/// Who sends `request`, and what its commands must check of the session:
/// for a mutation whose every field is one of [`CHECKED_BY_COMMAND`] sent
/// with a staff session looked up in the last seconds, the session as it
/// was, checked by the command in the statement that reads its stream (one
/// round trip fewer); otherwise the session looked up, as
/// [`viewer_of_token`] does.
pub async fn viewer_of_request(
    gateway: &Gateway,
    request: &mut async_graphql::Request,
    token: Option<String>,
) -> Result<(Viewer, Option<SessionCheck>), passerelle_accounts::AccountError> {
    if let Some(t) = &token
        && let Some(user) = gateway.sessions.get(t)
        && checked_by_command(request)
    {
        let now = gateway.handler.clock().now();
        let (sql, params) = passerelle_accounts::session_check(t, &user, now);
        let viewer = Viewer {
            user: Some(user),
            token: token.clone(),
            ..Viewer::default()
        };
        let check = SessionCheck {
            guard: passerelle_app::Guard { sql, params },
            token: t.clone(),
        };
        return Ok((viewer, Some(check)));
    }
    let viewer = viewer_of_token(gateway, token).await?;
    if let Some(t) = &viewer.token {
        gateway.sessions.keep(t, viewer.user.as_ref());
    }
    Ok((viewer, None))
}

/// Whether the request is a mutation of one field, one of
/// [`CHECKED_BY_COMMAND`] (no fragment at its root, so nothing else runs).
fn checked_by_command(request: &mut async_graphql::Request) -> bool {
    use async_graphql::parser::types::{OperationType, Selection};
    // Read before the schema's checks: a text they would refuse unparsed
    // is not parsed here either (its nesting could overflow the parser).
    if crate::limits::too_nested_to_parse(&request.query) {
        return false;
    }
    let name = request.operation_name.clone();
    let Ok(document) = request.parsed_query() else {
        return false;
    };
    let operation = match &name {
        Some(name) => document
            .operations
            .iter()
            .find(|(n, _)| n.is_some_and(|n| n.as_str() == name.as_str()))
            .map(|(_, op)| op),
        None => {
            let mut all = document.operations.iter();
            match (all.next(), all.next()) {
                (Some((_, op)), None) => Some(op),
                _ => None,
            }
        }
    };
    let Some(operation) = operation else {
        return false;
    };
    let operation = &operation.node;
    // One field only: a request refused on its kept session is run again
    // (`refused_as_kept`), which must never repeat a command that went
    // through before another field of the same request was refused.
    operation.ty == OperationType::Mutation
        && operation.selection_set.node.items.len() == 1
        && operation
            .selection_set
            .node
            .items
            .iter()
            .all(|item| match &item.node {
                Selection::Field(field) => {
                    field.node.directives.is_empty()
                        && CHECKED_BY_COMMAND.contains(&field.node.name.node.as_str())
                }
                _ => false,
            })
}

/// Runs a request readied by [`prepare`] with the session check
/// [`viewer_of_request`] gave, made by each of its commands. Generic over
/// the schema's roots, which `schema.rs` composes from the features that
/// import this module.
pub async fn execute<Q, M, S>(
    schema: &async_graphql::Schema<Q, M, S>,
    gateway: &Gateway,
    request: async_graphql::Request,
    check: Option<SessionCheck>,
) -> async_graphql::Response
where
    Q: async_graphql::ObjectType + 'static,
    M: async_graphql::ObjectType + 'static,
    S: async_graphql::SubscriptionType + 'static,
{
    let Some(check) = check else {
        return schema.execute(request).await;
    };
    let (guard, token) = (check.guard.clone(), check.token.clone());
    let response =
        passerelle_app::Handler::checking(Some(guard), schema.execute(request.data(check))).await;
    // Refused as no longer open: not taken as it was again.
    if response
        .errors
        .iter()
        .any(|e| is_code(e, crate::error::Code::Unauthenticated))
    {
        gateway.sessions.forget(&token);
    }
    response
}

/// Whether a request run with a [`SessionCheck`] was refused only because
/// the session kept no longer stands as it was, nothing answered: its
/// commands were refused before they read or wrote anything, so the caller
/// runs it again with the session looked up afresh ([`viewer_of_request`]
/// no longer finds it kept). A role changed since the session was kept is
/// then taken as it now is, and a session ended is refused as any other.
pub fn refused_as_kept(response: &async_graphql::Response) -> bool {
    let answered_nothing = match &response.data {
        async_graphql::Value::Object(fields) => {
            fields.values().all(|v| *v == async_graphql::Value::Null)
        }
        _ => true,
    };
    answered_nothing
        && !response.errors.is_empty()
        && response
            .errors
            .iter()
            .all(|e| is_code(e, crate::error::Code::Unauthenticated))
}

fn is_code(e: &async_graphql::ServerError, code: crate::error::Code) -> bool {
    e.extensions
        .as_ref()
        .and_then(|x| x.get("code"))
        .is_some_and(|c| *c == async_graphql::Value::from(code.as_str()))
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

/// The testimonies `people` recorded, oldest first: each author, and its
/// facts read from its own stream (a withdrawal or an audience changed a
/// moment ago holds at once), each stream counted as read by this request.
pub(crate) async fn testimony_histories(
    ctx: &Context<'_>,
    people: &[Uuid],
) -> Result<
    Vec<(
        Uuid,
        passerelle_domain::values::TestimonyId,
        Vec<passerelle_domain::testimony::TestimonyEvent>,
    )>,
> {
    use passerelle_domain::testimony::Testimony;
    use passerelle_domain::values::TestimonyId;
    let gw = gateway(ctx);
    let streams = passerelle_projections::views::matching::testimony_streams(&gw.pool, people)
        .await
        .map_err(error::db)?;
    let mut histories = Vec::with_capacity(streams.len());
    for (author, stream) in streams {
        let Some(id) = stream
            .strip_prefix("testimony-")
            .and_then(|id| id.parse().ok())
        else {
            continue;
        };
        read_stream(ctx, stream.clone())?;
        let history = gw
            .handler
            .history::<Testimony>(TestimonyId(id))
            .await
            .map_err(error::app)?;
        histories.push((
            author,
            TestimonyId(id),
            history.into_iter().map(|r| r.event).collect(),
        ));
    }
    Ok(histories)
}

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
        // The command path's warm connection: back without the pool's ping
        // once the lookups completed (dropped on an error, it gets it).
        let mut conn = gateway.handler.store().acquire_warm().await?;
        viewer.user = passerelle_accounts::authenticate(&mut *conn, t, now).await?;
        if viewer.user.is_none() {
            viewer.principal =
                passerelle_accounts::authenticate_principal(&mut *conn, t, now).await?;
        }
        conn.finished();
        // Back before the reads below, on the readers' pool: a caller
        // holding a connection of each pool at once could wait on another
        // doing the same the other way round.
        drop(conn);
        // A person's session outlasts her accompaniment, as her rights on
        // her data do (the policy keeps what belongs to an accompaniment
        // running to those still accompanied); once she is erased it is
        // revoked, whatever its expiry.
        if let Some(PrincipalSession {
            principal: Principal::Person(person),
            structure,
        }) = viewer.principal
        {
            let enrolled = passerelle_projections::views::people::enrolled_in(
                &gateway.pool,
                person,
                structure,
            )
            .await?;
            if !enrolled {
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
    Ok(staff_actor(user))
}

/// A staff member as the policy knows them: the actor of their commands,
/// and whom the pages ask the policy about before offering an action.
pub fn staff_actor(user: &User) -> Actor {
    Actor::user(user.user_id, role_of(user.role), user.structure)
}

/// The policy's role of a staff role.
pub fn role_of(role: passerelle_accounts::StaffRole) -> Role {
    match role {
        passerelle_accounts::StaffRole::Admin => Role::Admin,
        passerelle_accounts::StaffRole::Manager => Role::Manager,
        passerelle_accounts::StaffRole::Mediator => Role::Mediator,
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn checked(query: &str, operation: Option<&str>) -> bool {
        let mut request = async_graphql::Request::new(query);
        if let Some(name) = operation {
            request = request.operation_name(name);
        }
        checked_by_command(&mut request)
    }

    #[test]
    fn only_a_mutation_of_one_command_is_checked_by_it() {
        let visit = "employerVisitLog(input: {}) { employer { id } }";
        assert!(checked(&format!("mutation {{ {visit} }}"), None));
        // Two commands are looked up: the second refused on a kept session
        // would have the request run again, the first with it.
        assert!(!checked(
            &format!("mutation {{ a: {visit} b: needQualify(input: {{}}) {{ need {{ id }} }} }}"),
            None
        ));
        // Reads, and mutations that read before their command, are looked up.
        assert!(!checked("{ me { name } }", None));
        assert!(!checked(
            &format!("mutation {{ {visit} logout {{ loggedOut }} }}"),
            None
        ));
        assert!(!checked("mutation { __typename }", None));
        // Whatever a fragment or a directive at the root would run.
        assert!(!checked(
            &format!("mutation {{ ...F }} fragment F on Mutation {{ {visit} }}"),
            None
        ));
        assert!(!checked(
            "mutation($s: Boolean!) { employerVisitLog(input: {}) @skip(if: $s) { employer { id } } }",
            None
        ));
        // The operation that runs is the one judged.
        let two = format!("query Q {{ me {{ name }} }} mutation M {{ {visit} }}");
        assert!(checked(&two, Some("M")));
        assert!(!checked(&two, Some("Q")));
        assert!(!checked(&two, None));
        assert!(!checked("mutation {", None));
    }
}
