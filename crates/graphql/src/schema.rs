//! The schema: its root types, what each request carries, and the limits.

use std::sync::Arc;

use async_graphql::{
    Context, ErrorExtensions as _, ID, InputObject, MergedObject, MergedSubscription, Object,
    Result, SDLExportOptions, Schema, SimpleObject,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use passerelle_accounts::{Principal, PrincipalSession, User};
use passerelle_app::{Actor, CommandMeta, Handler, Role};
use sqlx::PgPool;
use time::Duration;
use uuid::Uuid;

use crate::error::{self, Code};
use crate::throttle::{Key, Throttle};
use crate::{dashboards, employers, immersions, inbox, notifications, people};

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

/// "Trop de tentatives", with when to try again (`extensions.retryAfter`,
/// in seconds, as HTTP's `Retry-After`).
pub(crate) fn rate_limited(retry_after: std::time::Duration) -> async_graphql::Error {
    let seconds = retry_after.as_secs().max(1);
    let wait = if seconds < 60 {
        format!("{seconds} secondes")
    } else {
        let minutes = seconds.div_ceil(60);
        if minutes == 1 {
            "1 minute".to_owned()
        } else {
            format!("{minutes} minutes")
        }
    };
    async_graphql::Error::new(format!("Trop de tentatives : réessayez dans {wait}.")).extend_with(
        |_, e| {
            e.set("code", Code::RateLimited.as_str());
            e.set("retryAfter", seconds);
        },
    )
}

/// Request limits, from configuration, checked on the document before
/// anything runs (`limits.rs`); fragments count as expanded.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Fields of data nested (introspection has bounds of its own).
    pub depth: usize,
    /// Fields of data selected, `__typename` aside.
    pub complexity: usize,
    /// Fields selected, `__typename` and aliased ones included; fragment
    /// expansions are bounded by it too.
    pub fields: usize,
    /// Longest query text, in bytes.
    pub query_bytes: usize,
    /// Fields at an operation's root.
    pub root_fields: usize,
    /// Aliases.
    pub aliases: usize,
    /// Whether `__schema` and `__type` are answered; when not, they are
    /// refused with `FORBIDDEN`.
    pub introspection: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            depth: 12,
            complexity: 1000,
            fields: 2000,
            query_bytes: 32 * 1024,
            root_fields: 30,
            aliases: 50,
            introspection: true,
        }
    }
}

#[derive(MergedObject, Default, Debug)]
pub struct Query(
    AccountQuery,
    employers::EmployerQuery,
    people::PeopleQuery,
    immersions::ImmersionQuery,
    dashboards::DashboardQuery,
    inbox::InboxQuery,
    notifications::NotificationQuery,
);

#[derive(MergedObject, Default, Debug)]
pub struct Mutation(
    AccountMutation,
    employers::EmployerMutation,
    people::PeopleMutation,
    immersions::ImmersionMutation,
    notifications::NotificationMutation,
);

#[derive(MergedSubscription, Default, Debug)]
pub struct Subscription(immersions::ImmersionSubscription, inbox::InboxSubscription);

pub type PasserelleSchema = Schema<Query, Mutation, Subscription>;

pub fn build(gateway: Gateway, limits: Limits) -> PasserelleSchema {
    // Depth and complexity are measured by the guard, which leaves
    // introspection out of them: async-graphql's own would count it.
    let builder = Schema::build(
        Query::default(),
        Mutation::default(),
        Subscription::default(),
    )
    .data(gateway)
    .extension(crate::limits::Guard::new(limits, &sdl()))
    .extension(crate::replays::Replays)
    .extension(crate::revalidate::Revalidate);
    if limits.introspection {
        builder.finish()
    } else {
        builder.disable_introspection().finish()
    }
}

/// The schema's SDL, sorted, as committed in `graphql-schema/schema.graphql`.
pub fn sdl() -> String {
    Schema::build(
        Query::default(),
        Mutation::default(),
        Subscription::default(),
    )
    .finish()
    .sdl_with_options(
        SDLExportOptions::new()
            .sorted_fields()
            .sorted_arguments()
            .sorted_enum_items()
            .include_specified_by(),
    )
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

/// Readies one request: who sends it, and the per-request batching of
/// lists (a DataLoader caches for one request only).
pub fn prepare(
    request: async_graphql::Request,
    gateway: &Gateway,
    viewer: Viewer,
) -> async_graphql::Request {
    request
        .data(viewer)
        .data(crate::employers::Lists::loader(gateway.pool.clone()))
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
    data.insert(crate::employers::Lists::loader(gateway.pool.clone()));
    data
}

pub(crate) fn gateway<'a>(ctx: &Context<'a>) -> &'a Gateway {
    ctx.data_unchecked::<Gateway>()
}

fn viewer<'a>(ctx: &Context<'a>) -> Option<&'a User> {
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

pub(crate) fn parse_id(id: &ID, what: &str) -> Result<Uuid> {
    id.parse::<Uuid>().map_err(|_| error::not_found(what))
}

/// Opaque keyset cursors: the sort key of the last row, encoded.
pub(crate) fn cursor(key: &[&str]) -> String {
    URL_SAFE_NO_PAD.encode(key.join("\u{1f}"))
}

/// A cursor this service did not make, on the `after` argument.
pub(crate) fn bad_cursor() -> async_graphql::Error {
    error::error(Code::BadUserInput, "Curseur de pagination invalide.")
        .extend_with(|_, e| e.set("field", "after"))
}

pub(crate) fn decode_cursor(cursor: &str, parts: usize) -> Result<Vec<String>> {
    let bad = bad_cursor;
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    // A cursor is made here from sort keys, which hold no control
    // character: one that does was made elsewhere, and PostgreSQL would
    // refuse its NUL.
    if text.chars().any(|c| c.is_control() && c != '\u{1f}') {
        return Err(bad());
    }
    let key: Vec<String> = text.split('\u{1f}').map(str::to_owned).collect();
    if key.len() == parts {
        Ok(key)
    } else {
        Err(bad())
    }
}

/// How many rows a page holds: `first`, 20 by default, 100 at most.
pub(crate) fn page_size(first: Option<i32>) -> Result<i64> {
    match first {
        None => Ok(20),
        Some(n) if (1..=100).contains(&n) => Ok(i64::from(n)),
        Some(_) => Err(error::error(Code::BadUserInput, "« first » va de 1 à 100.")
            .extend_with(|_, e| e.set("field", "first"))),
    }
}

#[derive(SimpleObject, Debug)]
pub struct PageInfo {
    pub has_next_page: bool,
    pub end_cursor: Option<String>,
}

/// The staff member logged in.
#[derive(SimpleObject, Debug)]
pub struct Me {
    pub id: ID,
    pub email: String,
    pub name: String,
    /// `ADMIN`, `MANAGER` or `MEDIATOR`.
    pub role: String,
    pub structure_id: ID,
    pub structure_name: String,
}

impl From<&User> for Me {
    fn from(u: &User) -> Self {
        Self {
            id: ID(u.user_id.to_string()),
            email: u.email.clone(),
            name: u.name.clone(),
            role: u.role.as_str().to_uppercase(),
            structure_id: ID(u.structure.to_string()),
            structure_name: u.structure_name.clone(),
        }
    }
}

#[derive(Default, Debug)]
pub struct AccountQuery;

#[Object]
impl AccountQuery {
    /// The staff member logged in, or null.
    async fn me(&self, ctx: &Context<'_>) -> Option<Me> {
        viewer(ctx).map(Me::from)
    }
}

/// The longest address accepted (RFC 5321's path limit).
const MAX_EMAIL_BYTES: usize = 254;
/// The longest password accepted: argon2 hashes what it is given.
const MAX_PASSWORD_BYTES: usize = 1024;

/// The keys an attempt counts against: the address, and the client when
/// the HTTP layer knows it.
fn attempt_keys(ctx: &Context<'_>, action: &str, email: &str) -> Vec<Key> {
    let throttle = &gateway(ctx).throttle;
    let mut keys = vec![throttle.address_key(action, email)];
    if let Some(ip) = ctx.data_opt::<Viewer>().and_then(|v| v.client) {
        keys.push(throttle.client_key(action, ip));
    }
    keys
}

/// A lockout is worth an operator's eye; the key is named by a reference
/// that does not reveal the address.
fn log_lockouts(action: &str, lockouts: &[crate::throttle::Lockout]) {
    for l in lockouts {
        tracing::warn!(
            action,
            scope = l.scope,
            key = %l.key.reference(),
            retry_after_secs = l.retry_after.as_secs(),
            "too many attempts: locked out"
        );
    }
}

#[derive(InputObject, Debug)]
pub struct LoginInput {
    pub email: String,
    pub password: String,
}

#[derive(SimpleObject, Debug)]
pub struct LoginPayload {
    /// A bearer token for API clients; browsers get it as a cookie too.
    pub token: String,
    pub me: Me,
}

#[derive(SimpleObject, Debug)]
pub struct LogoutPayload {
    pub logged_out: bool,
}

/// The name of the session cookie.
/// `__Host-`: browsers keep it only when Secure, for the whole site and set
/// by this host, so a neighbouring subdomain cannot plant one.
pub const SESSION_COOKIE: &str = "__Host-passerelle_session";

/// Gives a browser its session: HttpOnly (no script reads it), Secure,
/// SameSite=Lax (not sent by other sites' forms).
fn set_session_cookie(ctx: &Context<'_>, token: &str, ttl: Duration) {
    ctx.insert_http_header(
        "set-cookie",
        format!(
            "{SESSION_COOKIE}={token}; Path=/; Max-Age={}; HttpOnly; Secure; SameSite=Lax",
            ttl.whole_seconds()
        ),
    );
}

#[derive(Default, Debug)]
pub struct AccountMutation;

#[Object]
impl AccountMutation {
    /// Logs in with an email and a password. Attempts are counted per
    /// address and per client; past the allowance the answer is
    /// `RATE_LIMITED` with the time to wait, whatever the password.
    async fn login(&self, ctx: &Context<'_>, input: LoginInput) -> Result<LoginPayload> {
        let gw = gateway(ctx);
        let email = input.email.trim().to_lowercase();
        let keys = attempt_keys(ctx, "login", &email);
        let lockouts = gw.throttle.attempt(&keys).map_err(rate_limited)?;
        log_lockouts("login", &lockouts);
        let now = gw.handler.clock().now();
        // Longer than any address or password accepted: refused as a wrong
        // pair, without hashing what a client could make arbitrarily long.
        let plausible =
            email.len() <= MAX_EMAIL_BYTES && input.password.len() <= MAX_PASSWORD_BYTES;
        let logged_in = if plausible {
            passerelle_accounts::login(&gw.pool, &email, &input.password, now, gw.session_ttl).await
        } else {
            Err(passerelle_accounts::AccountError::BadCredentials)
        };
        match logged_in {
            Ok((token, user)) => {
                gw.throttle.succeeded(&keys);
                set_session_cookie(ctx, &token.0, gw.session_ttl);
                Ok(LoginPayload {
                    token: token.0,
                    me: Me::from(&user),
                })
            }
            Err(passerelle_accounts::AccountError::BadCredentials) => Err(error::error(
                Code::Unauthenticated,
                "Email ou mot de passe incorrect.",
            )),
            Err(e) => Err(error::internal(&e)),
        }
    }

    /// Ends the session the request came with.
    async fn logout(&self, ctx: &Context<'_>) -> Result<LogoutPayload> {
        let gw = gateway(ctx);
        let token = ctx.data_opt::<Viewer>().and_then(|v| v.token.clone());
        let Some(token) = token else {
            return Ok(LogoutPayload { logged_out: false });
        };
        let now = gw.handler.clock().now();
        let staff = passerelle_accounts::logout(&gw.pool, &token, now)
            .await
            .map_err(|e| error::internal(&e))?;
        let principal = passerelle_accounts::logout_principal(&gw.pool, &token, now)
            .await
            .map_err(|e| error::internal(&e))?;
        let logged_out = staff || principal;
        set_session_cookie(ctx, "", Duration::ZERO);
        Ok(LogoutPayload { logged_out })
    }

    /// Sends a link to an employer's contact or a person accompanied, to the
    /// address given when it is known. The answer is the same either way.
    async fn magic_link_request(
        &self,
        ctx: &Context<'_>,
        input: MagicLinkRequestInput,
    ) -> Result<MagicLinkRequestPayload> {
        let gw = gateway(ctx);
        // Checked before anything is kept or looked up: a key is made of a
        // valid address only.
        let email = passerelle_domain::values::Email::parse(&input.email)
            .map_err(|e| error::on_field("email", e))?;
        let email = email.as_str().to_owned();
        let keys = attempt_keys(ctx, "link", &email);
        let lockouts = gw.throttle.attempt(&keys).map_err(rate_limited)?;
        log_lockouts("link", &lockouts);
        let mut principals: Vec<(Principal, passerelle_domain::values::StructureId)> = Vec::new();
        let mut mails = Vec::new();
        // One request, one mail per file the address is on; the key is new
        // each time, since each request asks for a new link.
        let request = uuid::Uuid::new_v4();
        for (person, structure) in passerelle_projections::views::people::by_email(&gw.pool, &email)
            .await
            .map_err(error::db)?
        {
            principals.push((
                Principal::Person(person),
                passerelle_domain::values::StructureId(structure),
            ));
            mails.push(passerelle_notify::Entry {
                key: format!("request:{request}:magic_link:person:{}", person.0),
                template: passerelle_notify::Template::MagicLink,
                recipient: passerelle_notify::Recipient::Person {
                    person_id: person.0,
                },
                params: passerelle_notify::Params::default(),
                structure: Some(structure),
            });
        }
        for (employer, structure, contact) in
            passerelle_projections::views::employers::by_contact_email(&gw.pool, &email)
                .await
                .map_err(error::db)?
        {
            principals.push((
                Principal::Employer(employer),
                passerelle_domain::values::StructureId(structure),
            ));
            mails.push(passerelle_notify::Entry {
                key: format!("request:{request}:magic_link:contact:{contact}"),
                template: passerelle_notify::Template::MagicLink,
                recipient: passerelle_notify::Recipient::Contact {
                    employer_id: employer.0,
                    contact_id: contact,
                },
                params: passerelle_notify::Params {
                    employer_id: Some(employer.0),
                    ..passerelle_notify::Params::default()
                },
                structure: Some(structure),
            });
        }
        let now = gw.handler.clock().now();
        let mut conn = gw.pool.acquire().await.map_err(error::db)?;
        passerelle_notify::outbox::enqueue(&mut conn, &mails, now)
            .await
            .map_err(error::db)?;
        if gw.magic_links_in_log {
            for (principal, structure) in principals {
                let token = passerelle_accounts::issue_magic_link(
                    &gw.pool,
                    principal,
                    structure,
                    now,
                    gw.magic_link_ttl,
                )
                .await
                .map_err(|e| error::internal(&e))?;
                // The address is personal data: the log names the principal only.
                tracing::warn!(
                    principal = ?principal,
                    magic_link_token = %token.0,
                    "magic link issued and written here (api.magic_links_in_log)"
                );
            }
        }
        Ok(MagicLinkRequestPayload { sent: true })
    }

    /// Opens a session from a magic link's token, once.
    async fn magic_link_redeem(
        &self,
        ctx: &Context<'_>,
        input: MagicLinkRedeemInput,
    ) -> Result<MagicLinkRedeemPayload> {
        let gw = gateway(ctx);
        let now = gw.handler.clock().now();
        let redeemed =
            passerelle_accounts::redeem_magic_link(&gw.pool, &input.token, now, gw.session_ttl)
                .await
                .map_err(|e| error::internal(&e))?;
        let Some((token, session)) = redeemed else {
            return Err(error::error(
                Code::Unauthenticated,
                "Ce lien n'est plus valable (déjà utilisé ou expiré) : demandez-en un nouveau.",
            ));
        };
        set_session_cookie(ctx, &token.0, gw.session_ttl);
        let (kind, id) = match session.principal {
            Principal::Employer(e) => ("EMPLOYER", e.to_string()),
            Principal::Person(p) => ("PERSON", p.to_string()),
        };
        Ok(MagicLinkRedeemPayload {
            token: token.0,
            kind: kind.to_owned(),
            id: ID(id),
        })
    }
}

#[derive(InputObject, Debug)]
pub struct MagicLinkRequestInput {
    pub email: String,
}

#[derive(SimpleObject, Debug)]
pub struct MagicLinkRequestPayload {
    /// Always true: whether the address is known is not told.
    pub sent: bool,
}

#[derive(InputObject, Debug)]
pub struct MagicLinkRedeemInput {
    pub token: String,
}

#[derive(SimpleObject, Debug)]
pub struct MagicLinkRedeemPayload {
    /// A bearer token for the session; browsers get it as a cookie too.
    pub token: String,
    /// `EMPLOYER` or `PERSON`.
    pub kind: String,
    /// The establishment or the person the session is for.
    pub id: ID,
}
