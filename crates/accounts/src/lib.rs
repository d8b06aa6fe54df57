//! Structures (the tenants), their users, and sessions: who may act, in
//! which role, for which structure; and magic links, by which employers and
//! people accompanied open a session scoped to what is theirs. Passwords are hashed with argon2id;
//! session tokens are random and stored only as their SHA-256.
//!
//! Owns the `structures`, `users` and `sessions` tables, and the access log
//! of health data (`health_log`). Knows nothing of events, HTTP or GraphQL.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use passerelle_domain::values::{Email, Label, StructureId, UserId};
use rand::RngCore as _;
use sha2::{Digest, Sha256};
use sqlx::{PgExecutor, PgPool};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

pub mod health_log;
pub mod staff;

/// The shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// The longest password accepted, in characters: argon2 hashes whatever it
/// is given, so a client could otherwise make each hash arbitrarily long.
pub const MAX_PASSWORD_CHARS: usize = 128;

/// A staff member's role within their structure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
pub enum StaffRole {
    Admin,
    Manager,
    Mediator,
}

impl StaffRole {
    pub fn as_str(self) -> &'static str {
        match self {
            StaffRole::Admin => "admin",
            StaffRole::Manager => "manager",
            StaffRole::Mediator => "mediator",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "admin" => Some(StaffRole::Admin),
            "manager" => Some(StaffRole::Manager),
            "mediator" => Some(StaffRole::Mediator),
            _ => None,
        }
    }
}

/// A staff account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub user_id: UserId,
    pub structure: StructureId,
    pub structure_name: String,
    pub role: StaffRole,
    pub email: String,
    pub name: String,
}

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("the password must have at least {MIN_PASSWORD_CHARS} characters")]
    WeakPassword,
    #[error("an account already uses {0}")]
    EmailTaken(String),
    /// Unknown email, wrong password or disabled account: one answer for
    /// all, so a login attempt learns nothing about which accounts exist.
    #[error("wrong email or password")]
    BadCredentials,
    #[error("another structure bears this name")]
    StructureNameTaken,
    #[error("the password must have at most {MAX_PASSWORD_CHARS} characters")]
    LongPassword,
    #[error("password hashing failed")]
    Hashing,
    #[error("database")]
    Database(#[from] sqlx::Error),
}

/// A session token as given to the client once; only its hash is stored.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionToken(pub String);

impl std::fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionToken(…)")
    }
}

pub(crate) fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

pub(crate) async fn hash_password(password: String) -> Result<String, AccountError> {
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|_| AccountError::Hashing)
    })
    .await
    .map_err(|_| AccountError::Hashing)?
}

pub(crate) async fn verify_password(password: String, hash: String) -> bool {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash).is_ok_and(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
    })
    .await
    .unwrap_or(false)
}

/// Creates a staff account, and its structure when no structure has that
/// name yet.
pub async fn create_user(
    pool: &PgPool,
    structure_name: &Label,
    role: StaffRole,
    email: &Email,
    name: &Label,
    password: &str,
) -> Result<User, AccountError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(AccountError::WeakPassword);
    }
    let hash = hash_password(password.to_owned()).await?;
    let mut tx = pool.begin().await?;
    let structure: Uuid = sqlx::query_scalar(
        "insert into structures (structure_id, name) values ($1, $2)
         on conflict (name) do update set name = excluded.name
         returning structure_id",
    )
    .bind(Uuid::new_v4())
    .bind(structure_name.as_str())
    .fetch_one(&mut *tx)
    .await?;
    let user_id = Uuid::new_v4();
    let inserted = sqlx::query(
        "insert into users (user_id, structure_id, role, email, name, password_hash)
         values ($1, $2, $3, $4, $5, $6) on conflict (email) do nothing",
    )
    .bind(user_id)
    .bind(structure)
    .bind(role.as_str())
    .bind(email.as_str())
    .bind(name.as_str())
    .bind(&hash)
    .execute(&mut *tx)
    .await?;
    if inserted.rows_affected() == 0 {
        return Err(AccountError::EmailTaken(email.as_str().to_owned()));
    }
    tx.commit().await?;
    Ok(User {
        user_id: UserId(user_id),
        structure: StructureId(structure),
        structure_name: structure_name.as_str().to_owned(),
        role,
        email: email.as_str().to_owned(),
        name: name.as_str().to_owned(),
    })
}

#[derive(sqlx::FromRow)]
struct UserRow {
    user_id: Uuid,
    structure_id: Uuid,
    structure_name: String,
    role: String,
    email: String,
    name: String,
}

impl From<UserRow> for Option<User> {
    fn from(r: UserRow) -> Self {
        Some(User {
            user_id: UserId(r.user_id),
            structure: StructureId(r.structure_id),
            structure_name: r.structure_name,
            role: StaffRole::parse(&r.role)?,
            email: r.email,
            name: r.name,
        })
    }
}

#[derive(sqlx::FromRow)]
struct LoginRow {
    /// None for a member invited who has not set a password yet.
    password_hash: Option<String>,
    #[sqlx(flatten)]
    user: UserRow,
}

const USER_COLUMNS: &str =
    "u.user_id, u.structure_id, s.name as structure_name, u.role, u.email, u.name";

/// A hash of a random password, verified against when the email is
/// unknown so that both answers take the same time.
static DECOY_HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// The decoy hash, made on first use. The service makes it at start
/// (`decoy_hash().await`), so that even the first unknown address is not
/// answered slower than a known one, whose hash is already there.
pub async fn decoy_hash() -> Result<String, AccountError> {
    if let Some(h) = DECOY_HASH.get() {
        return Ok(h.clone());
    }
    let h = hash_password(Uuid::new_v4().to_string()).await?;
    Ok(DECOY_HASH.get_or_init(|| h).clone())
}

/// Checks an email and password and opens a session of `ttl`.
pub async fn login(
    pool: &PgPool,
    email: &str,
    password: &str,
    now: OffsetDateTime,
    ttl: Duration,
) -> Result<(SessionToken, User), AccountError> {
    let email = email.trim().to_lowercase();
    let found: Option<LoginRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select u.password_hash, {USER_COLUMNS} from users u join structures s using (structure_id)
         where u.email = $1 and u.disabled_at is null"
    )))
    .bind(&email)
    .fetch_optional(pool)
    .await?;
    let Some(LoginRow {
        password_hash: Some(password_hash),
        user: row,
    }) = found
    else {
        let decoy = decoy_hash().await?;
        verify_password(password.to_owned(), decoy).await;
        return Err(AccountError::BadCredentials);
    };
    if !verify_password(password.to_owned(), password_hash).await {
        return Err(AccountError::BadCredentials);
    }
    let user = Option::<User>::from(row).ok_or(AccountError::BadCredentials)?;
    let token = random_token();
    sqlx::query(
        "with opened as (
             insert into sessions (token_hash, user_id, created_at, expires_at)
             values ($1, $2, $3, $4))
         update users set last_login_at = $3 where user_id = $2",
    )
    .bind(token_hash(&token))
    .bind(user.user_id.0)
    .bind(now)
    .bind(now + ttl)
    .execute(pool)
    .await?;
    Ok((SessionToken(token), user))
}

/// The user a session token stands for, while it is neither expired nor
/// revoked and the account is enabled.
pub async fn authenticate(
    db: impl PgExecutor<'_>,
    token: &str,
    now: OffsetDateTime,
) -> Result<Option<User>, AccountError> {
    let row: Option<UserRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {USER_COLUMNS} from sessions x
         join users u using (user_id) join structures s using (structure_id)
         where x.token_hash = $1 and x.revoked_at is null and x.expires_at > $2
           and u.disabled_at is null"
    )))
    .bind(token_hash(token))
    .bind(now)
    .fetch_optional(db)
    .await?;
    Ok(row.and_then(Option::<User>::from))
}

/// The check that a session looked up before still stands for `user`, as
/// a boolean SQL expression over its values (`$4`, JSON) and those values:
/// what [`authenticate`] requires (open, not expired at `now`, the account
/// enabled), and the same user, structure and role. The gateway has a
/// command make it in the statement that reads its stream, instead of
/// looking the session up again first.
pub fn session_check(token: &str, user: &User, now: OffsetDateTime) -> (&'static str, String) {
    const STILL_OPEN: &str = "exists (select 1 from sessions x join users u using (user_id)
        where x.token_hash = decode($4::jsonb->>'token', 'base64')
          and x.revoked_at is null and x.expires_at > ($4::jsonb->>'at')::timestamptz
          and u.disabled_at is null
          and u.user_id = ($4::jsonb->>'user')::uuid
          and u.structure_id = ($4::jsonb->>'structure')::uuid
          and u.role = $4::jsonb->>'role')";
    let at = now
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    // Every value is base64, a UUID, a timestamp or a role's name: nothing
    // to escape in JSON.
    let params = format!(
        r#"{{"token":"{}","at":"{at}","user":"{}","structure":"{}","role":"{}"}}"#,
        base64::engine::general_purpose::STANDARD.encode(token_hash(token)),
        user.user_id.0,
        user.structure.0,
        user.role.as_str(),
    );
    (STILL_OPEN, params)
}

/// An active staff member, by id.
pub async fn staff_member(
    db: impl PgExecutor<'_>,
    user: UserId,
) -> Result<Option<User>, AccountError> {
    member(db, user, false).await
}

/// A staff member by id, active or deactivated: the tasks a member left
/// when their account was deactivated are still to be done, and read.
pub async fn staff_member_even_deactivated(
    db: impl PgExecutor<'_>,
    user: UserId,
) -> Result<Option<User>, AccountError> {
    member(db, user, true).await
}

async fn member(
    db: impl PgExecutor<'_>,
    user: UserId,
    deactivated_too: bool,
) -> Result<Option<User>, AccountError> {
    let row: Option<UserRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {USER_COLUMNS} from users u join structures s using (structure_id)
         where u.user_id = $1 and ($2 or u.disabled_at is null)"
    )))
    .bind(user.0)
    .bind(deactivated_too)
    .fetch_optional(db)
    .await?;
    Ok(row.and_then(Option::<User>::from))
}

/// Every enabled staff member, by structure then name.
pub async fn staff_members(db: impl PgExecutor<'_>) -> Result<Vec<User>, AccountError> {
    let rows: Vec<UserRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {USER_COLUMNS} from users u join structures s using (structure_id)
         where u.disabled_at is null order by u.structure_id, u.name, u.user_id"
    )))
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().filter_map(Option::<User>::from).collect())
}

/// Revokes a session; true when it was open.
pub async fn logout(
    db: impl PgExecutor<'_>,
    token: &str,
    now: OffsetDateTime,
) -> Result<bool, AccountError> {
    let done = sqlx::query(
        "update sessions set revoked_at = $2 where token_hash = $1 and revoked_at is null",
    )
    .bind(token_hash(token))
    .bind(now)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Someone outside the structures, reached by magic link: an employer's
/// contact (for one establishment) or a person accompanied (for themself).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Principal {
    Employer(passerelle_domain::values::EmployerId),
    Person(passerelle_domain::values::PersonId),
}

impl Principal {
    fn kind(self) -> &'static str {
        match self {
            Principal::Employer(_) => "employer",
            Principal::Person(_) => "person",
        }
    }

    fn id(self) -> Uuid {
        match self {
            Principal::Employer(e) => e.0,
            Principal::Person(p) => p.0,
        }
    }

    fn from_row(kind: &str, id: Uuid) -> Option<Self> {
        match kind {
            "employer" => Some(Principal::Employer(passerelle_domain::values::EmployerId(
                id,
            ))),
            "person" => Some(Principal::Person(passerelle_domain::values::PersonId(id))),
            _ => None,
        }
    }
}

/// A principal's session: who, and for which structure's immersions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrincipalSession {
    pub principal: Principal,
    pub structure: StructureId,
}

pub(crate) fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Issues a single-use link token for a principal, valid for `ttl`.
pub async fn issue_magic_link(
    db: impl PgExecutor<'_>,
    principal: Principal,
    structure: StructureId,
    now: OffsetDateTime,
    ttl: Duration,
) -> Result<SessionToken, AccountError> {
    let token = random_token();
    sqlx::query(
        "insert into magic_links (token_hash, principal_kind, principal_id, structure_id,
             created_at, expires_at)
         values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(token_hash(&token))
    .bind(principal.kind())
    .bind(principal.id())
    .bind(structure.0)
    .bind(now)
    .bind(now + ttl)
    .execute(db)
    .await?;
    Ok(SessionToken(token))
}

/// Uses a link token, once and before it expires, to open a session of
/// `ttl`; `None` when the link is unknown, used or expired.
pub async fn redeem_magic_link(
    pool: &PgPool,
    token: &str,
    now: OffsetDateTime,
    ttl: Duration,
) -> Result<Option<(SessionToken, PrincipalSession)>, AccountError> {
    let mut tx = pool.begin().await?;
    let used: Option<(String, Uuid, Uuid)> = sqlx::query_as(
        "update magic_links set used_at = $2
         where token_hash = $1 and used_at is null and expires_at > $2
         returning principal_kind, principal_id, structure_id",
    )
    .bind(token_hash(token))
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((kind, id, structure)) = used else {
        return Ok(None);
    };
    let Some(principal) = Principal::from_row(&kind, id) else {
        return Ok(None);
    };
    let session = random_token();
    sqlx::query(
        "insert into principal_sessions (token_hash, principal_kind, principal_id, structure_id,
             created_at, expires_at)
         values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(token_hash(&session))
    .bind(kind)
    .bind(id)
    .bind(structure)
    .bind(now)
    .bind(now + ttl)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Some((
        SessionToken(session),
        PrincipalSession {
            principal,
            structure: StructureId(structure),
        },
    )))
}

/// The principal a session token stands for, while open.
pub async fn authenticate_principal(
    db: impl PgExecutor<'_>,
    token: &str,
    now: OffsetDateTime,
) -> Result<Option<PrincipalSession>, AccountError> {
    let row: Option<(String, Uuid, Uuid)> = sqlx::query_as(
        "select principal_kind, principal_id, structure_id from principal_sessions
         where token_hash = $1 and revoked_at is null and expires_at > $2",
    )
    .bind(token_hash(token))
    .bind(now)
    .fetch_optional(db)
    .await?;
    Ok(row.and_then(|(kind, id, structure)| {
        Some(PrincipalSession {
            principal: Principal::from_row(&kind, id)?,
            structure: StructureId(structure),
        })
    }))
}

/// Revokes a principal's session; true when it was open.
pub async fn logout_principal(
    db: impl PgExecutor<'_>,
    token: &str,
    now: OffsetDateTime,
) -> Result<bool, AccountError> {
    let done = sqlx::query(
        "update principal_sessions set revoked_at = $2 where token_hash = $1 and revoked_at is null",
    )
    .bind(token_hash(token))
    .bind(now)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Ends every way into an establishment's file through one structure: the
/// open sessions and the links not yet used of `Principal::Employer(employer)`
/// scoped to `structure`. Neither records which address it was sent to, so
/// withdrawing one contact's access ends them all: the contacts still kept
/// ask for a new link. Returns how many sessions and links were ended.
pub async fn revoke_employer_access(
    pool: &PgPool,
    employer: passerelle_domain::values::EmployerId,
    structure: StructureId,
    now: OffsetDateTime,
) -> Result<u64, AccountError> {
    let mut tx = pool.begin().await?;
    let sessions = sqlx::query(
        "update principal_sessions set revoked_at = $3
         where principal_kind = 'employer' and principal_id = $1 and structure_id = $2
           and revoked_at is null and expires_at > $3",
    )
    .bind(employer.0)
    .bind(structure.0)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let links = sqlx::query(
        "update magic_links set expires_at = $3
         where principal_kind = 'employer' and principal_id = $1 and structure_id = $2
           and used_at is null and expires_at > $3",
    )
    .bind(employer.0)
    .bind(structure.0)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(sessions.rows_affected() + links.rows_affected())
}

/// A structure as its managers set it up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StructureSettings {
    pub structure: StructureId,
    pub name: String,
    /// Whether its conventions are pre-validated before validation.
    pub prevalidation_required: bool,
    /// The départements it covers, by INSEE code, sorted.
    pub departements: Vec<String>,
}

#[derive(sqlx::FromRow)]
struct SettingsRow {
    structure_id: Uuid,
    name: String,
    prevalidation_required: bool,
    departements: Vec<String>,
}

impl From<SettingsRow> for StructureSettings {
    fn from(r: SettingsRow) -> Self {
        Self {
            structure: StructureId(r.structure_id),
            name: r.name,
            prevalidation_required: r.prevalidation_required,
            departements: r.departements,
        }
    }
}

const SETTINGS_COLUMNS: &str = "structure_id, name, prevalidation_required, departements";

/// The structure's settings; none for an unknown structure.
pub async fn structure_settings(
    db: impl PgExecutor<'_>,
    structure: StructureId,
) -> Result<Option<StructureSettings>, AccountError> {
    let row: Option<SettingsRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {SETTINGS_COLUMNS} from structures where structure_id = $1"
    )))
    .bind(structure.0)
    .fetch_optional(db)
    .await?;
    Ok(row.map(StructureSettings::from))
}

/// One of a structure's settings, as the record of changes names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
pub enum StructureSetting {
    Name,
    PrevalidationRequired,
    Departements,
}

impl StructureSetting {
    pub fn as_str(self) -> &'static str {
        match self {
            StructureSetting::Name => "name",
            StructureSetting::PrevalidationRequired => "prevalidation_required",
            StructureSetting::Departements => "departements",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            StructureSetting::Name,
            StructureSetting::PrevalidationRequired,
            StructureSetting::Departements,
        ]
        .into_iter()
        .find(|f| f.as_str() == s)
    }

    /// In French, for the administration page.
    pub fn label(self) -> &'static str {
        match self {
            StructureSetting::Name => "nom",
            StructureSetting::PrevalidationRequired => "pré-validation des conventions",
            StructureSetting::Departements => "départements couverts",
        }
    }
}

/// What a structure's managers change of its settings: `None` keeps a
/// setting as it is.
#[derive(Debug, Clone, Default)]
pub struct SettingsChange {
    pub name: Option<Label>,
    pub prevalidation_required: Option<bool>,
    /// INSEE codes the caller checked against the referential.
    pub departements: Option<Vec<String>>,
}

/// Changes the structure's settings in the caller's transaction; its
/// settings after, and those that changed. A name another structure
/// bears is [`AccountError::StructureNameTaken`].
pub async fn update_structure(
    conn: &mut sqlx::PgConnection,
    structure: StructureId,
    change: SettingsChange,
) -> Result<Option<(StructureSettings, Vec<StructureSetting>)>, AccountError> {
    let before: Option<SettingsRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {SETTINGS_COLUMNS} from structures where structure_id = $1 for update"
    )))
    .bind(structure.0)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(before) = before.map(StructureSettings::from) else {
        return Ok(None);
    };
    let mut after = before.clone();
    if let Some(name) = change.name {
        after.name = name.as_str().to_owned();
    }
    if let Some(required) = change.prevalidation_required {
        after.prevalidation_required = required;
    }
    if let Some(mut departements) = change.departements {
        departements.sort();
        departements.dedup();
        after.departements = departements;
    }
    let mut fields = Vec::new();
    if after.name != before.name {
        fields.push(StructureSetting::Name);
    }
    if after.prevalidation_required != before.prevalidation_required {
        fields.push(StructureSetting::PrevalidationRequired);
    }
    if after.departements != before.departements {
        fields.push(StructureSetting::Departements);
    }
    if fields.is_empty() {
        return Ok(Some((after, fields)));
    }
    let taken: bool = sqlx::query_scalar(
        "select exists (select 1 from structures where name = $1 and structure_id <> $2)",
    )
    .bind(&after.name)
    .bind(structure.0)
    .fetch_one(&mut *conn)
    .await?;
    if taken {
        return Err(AccountError::StructureNameTaken);
    }
    sqlx::query(
        "update structures set name = $2, prevalidation_required = $3, departements = $4
         where structure_id = $1",
    )
    .bind(structure.0)
    .bind(&after.name)
    .bind(after.prevalidation_required)
    .bind(&after.departements)
    .execute(&mut *conn)
    .await
    .map_err(|e| match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => AccountError::StructureNameTaken,
        _ => AccountError::Database(e),
    })?;
    Ok(Some((after, fields)))
}

/// Ends every way in for an erased person: their open sessions are revoked
/// and their links not yet used deleted, in the caller's transaction.
/// Returns how many were ended. Idempotent.
pub async fn revoke_person_access(
    conn: &mut sqlx::PgConnection,
    person: passerelle_domain::values::PersonId,
    now: OffsetDateTime,
) -> Result<u64, AccountError> {
    let sessions = sqlx::query(
        "update principal_sessions set revoked_at = $2
         where principal_kind = 'person' and principal_id = $1 and revoked_at is null",
    )
    .bind(person.0)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    let links = sqlx::query(
        "delete from magic_links where principal_kind = 'person' and principal_id = $1",
    )
    .bind(person.0)
    .execute(&mut *conn)
    .await?;
    Ok(sessions.rows_affected() + links.rows_affected())
}
