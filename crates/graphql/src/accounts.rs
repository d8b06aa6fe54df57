//! Sessions: login and logout of staff, magic links for employers and
//! people, and who is logged in.

use async_graphql::{Context, ErrorExtensions as _, ID, InputObject, Object, Result, SimpleObject};
use passerelle_accounts::{AccountError, Principal, StaffRole, User};
use time::Duration;

use crate::context::{Viewer, gateway, viewer};
use crate::error::{self, Code};
use crate::throttle::Key;

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

/// The staff member logged in.
#[derive(SimpleObject, Debug)]
pub struct Me {
    pub id: ID,
    pub email: String,
    pub name: String,
    /// `ADMIN`, `MANAGER` or `MEDIATOR`.
    #[graphql(deprecation = "Use `staffRole`, the same value as an enum.")]
    pub role: String,
    /// Their role within their structure.
    pub staff_role: StaffRole,
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
            staff_role: u.role,
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

    /// Changes the viewer's own password: the current one is required. The
    /// other sessions of the account end; this one stays open. Attempts
    /// are throttled as logins are.
    async fn password_change(
        &self,
        ctx: &Context<'_>,
        input: PasswordChangeInput,
    ) -> Result<PasswordChangePayload> {
        let gw = gateway(ctx);
        let Some(user) = viewer(ctx).cloned() else {
            return Err(match ctx.data_opt::<Viewer>().and_then(|v| v.principal) {
                Some(_) => error::forbidden(),
                None => error::unauthenticated(),
            });
        };
        let keys = attempt_keys(ctx, "password", &user.user_id.to_string());
        let lockouts = gw.throttle.attempt(&keys).map_err(rate_limited)?;
        log_lockouts("password", &lockouts);
        // The new one is checked first: a client learns nothing of the
        // current one from a refusal of the new one's length.
        if let Err(e) = passerelle_accounts::staff::check_password(&input.new_password) {
            return Err(weak_password("newPassword", &e).unwrap_or_else(|| error::internal(&e)));
        }
        let session = ctx.data_opt::<Viewer>().and_then(|v| v.token.clone());
        let now = gw.handler.clock().now();
        match passerelle_accounts::staff::change_password(
            &gw.pool,
            &user,
            &input.current_password,
            &input.new_password,
            session.as_deref(),
            now,
        )
        .await
        {
            Ok(()) => {
                gw.throttle.succeeded(&keys);
                Ok(PasswordChangePayload {
                    me: Me::from(&user),
                })
            }
            Err(AccountError::BadCredentials) => Err(error::error(
                Code::BadUserInput,
                "Mot de passe actuel incorrect.",
            )
            .extend_with(|_, e| e.set("field", "currentPassword"))),
            Err(e) => Err(weak_password("newPassword", &e).unwrap_or_else(|| error::internal(&e))),
        }
    }

    /// Mails a staff member a link to choose a new password (valid one
    /// hour), when the address is an active account's. The answer is the
    /// same either way; attempts are throttled as logins are.
    async fn password_reset_request(
        &self,
        ctx: &Context<'_>,
        input: PasswordResetRequestInput,
    ) -> Result<PasswordResetRequestPayload> {
        let gw = gateway(ctx);
        let email = passerelle_domain::values::Email::parse(&input.email)
            .map_err(|e| error::on_field("email", e))?;
        let keys = attempt_keys(ctx, "reset", email.as_str());
        let lockouts = gw.throttle.attempt(&keys).map_err(rate_limited)?;
        log_lockouts("reset", &lockouts);
        let target = passerelle_accounts::staff::reset_target(&gw.pool, &email)
            .await
            .map_err(|e| error::internal(&e))?;
        if let Some((user, structure)) = target {
            let now = gw.handler.clock().now();
            let mut conn = gw.pool.acquire().await.map_err(error::db)?;
            passerelle_notify::outbox::enqueue(
                &mut conn,
                &[passerelle_notify::Entry {
                    // Each request asks for a new link.
                    key: format!(
                        "request:{}:password_reset:staff:{}",
                        uuid::Uuid::new_v4(),
                        user.0
                    ),
                    template: passerelle_notify::Template::PasswordReset,
                    recipient: passerelle_notify::Recipient::Staff { user_id: user.0 },
                    params: passerelle_notify::Params::default(),
                    structure: Some(structure.0),
                }],
                now,
            )
            .await
            .map_err(error::db)?;
        }
        Ok(PasswordResetRequestPayload { sent: true })
    }

    /// Sets a password from a mailed link (a reset or an invitation): once,
    /// before it expires. Every session of the account ends.
    async fn password_reset_complete(
        &self,
        ctx: &Context<'_>,
        input: PasswordResetCompleteInput,
    ) -> Result<PasswordResetCompletePayload> {
        let gw = gateway(ctx);
        let expired = || {
            error::error(
                Code::Unauthenticated,
                "Ce lien n'est plus valable (déjà utilisé ou expiré) : demandez-en un nouveau avec « Mot de passe oublié ».",
            )
            .extend_with(|_, e| e.set("field", "token"))
        };
        if let Err(e) = passerelle_accounts::staff::check_password(&input.new_password) {
            return Err(weak_password("newPassword", &e).unwrap_or_else(|| error::internal(&e)));
        }
        if input.token.len() > MAX_TOKEN_BYTES {
            return Err(expired());
        }
        let now = gw.handler.clock().now();
        match passerelle_accounts::staff::complete_password_token(
            &gw.pool,
            &input.token,
            &input.new_password,
            now,
        )
        .await
        {
            Ok(Some(_)) => Ok(PasswordResetCompletePayload { password_set: true }),
            Ok(None) => Err(expired()),
            Err(e) => Err(weak_password("newPassword", &e).unwrap_or_else(|| error::internal(&e))),
        }
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
pub struct PasswordChangeInput {
    pub current_password: String,
    pub new_password: String,
}

#[derive(SimpleObject, Debug)]
pub struct PasswordChangePayload {
    pub me: Me,
}

#[derive(InputObject, Debug)]
pub struct PasswordResetRequestInput {
    pub email: String,
}

#[derive(SimpleObject, Debug)]
pub struct PasswordResetRequestPayload {
    /// Always true: whether the address is a staff account's is not told.
    pub sent: bool,
}

#[derive(InputObject, Debug)]
pub struct PasswordResetCompleteInput {
    /// The token of the mailed link (a reset or an invitation).
    pub token: String,
    pub new_password: String,
}

#[derive(SimpleObject, Debug)]
pub struct PasswordResetCompletePayload {
    /// True: the password is set; every session of the account ended.
    pub password_set: bool,
}

/// A new password refused, in French, on `field`.
fn weak_password(field: &'static str, e: &AccountError) -> Option<async_graphql::Error> {
    let message = match e {
        AccountError::WeakPassword => format!(
            "Le mot de passe doit compter au moins {} caractères.",
            passerelle_accounts::MIN_PASSWORD_CHARS
        ),
        AccountError::LongPassword => format!(
            "Le mot de passe doit compter au plus {} caractères.",
            passerelle_accounts::MAX_PASSWORD_CHARS
        ),
        _ => return None,
    };
    Some(error::error(Code::BadUserInput, message).extend_with(|_, ext| ext.set("field", field)))
}

/// A link made for a password's token, at most this long (ours are 43).
const MAX_TOKEN_BYTES: usize = 128;

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
