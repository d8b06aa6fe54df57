//! A structure's staff administered by its managers: members listed,
//! invited (no password until they set one through a mailed link),
//! deactivated and given a role; passwords changed or reset through
//! one-time links; and the record of every such change (`account_audit`),
//! since accounts are tables, not events. Who may do what is the policy's
//! (`app::policy`); here are the rows.
//!
//! Owns the `password_tokens` and `account_audit` tables.

use passerelle_domain::values::{Email, Label, StructureId, UserId};
use sqlx::{PgConnection, PgExecutor, PgPool};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::{
    AccountError, MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS, SessionToken, StaffRole, User,
    hash_password, random_token, token_hash, verify_password,
};

/// How long a reset link asked for stays usable.
pub const RESET_TTL: Duration = Duration::hours(1);
/// How long an invitation's link stays usable: the new member may open it
/// days later.
pub const INVITATION_TTL: Duration = Duration::days(7);

/// Checks a new password's length, in characters.
pub fn check_password(password: &str) -> Result<(), AccountError> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        Err(AccountError::WeakPassword)
    } else if chars > MAX_PASSWORD_CHARS {
        Err(AccountError::LongPassword)
    } else {
        Ok(())
    }
}

/// A member of a structure's staff, as its managers see them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffMember {
    pub user_id: UserId,
    pub structure: StructureId,
    pub name: String,
    pub email: String,
    pub role: StaffRole,
    /// False once deactivated.
    pub active: bool,
    /// False for an invited member who has not set their password yet.
    pub password_set: bool,
    pub last_login_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
}

#[derive(sqlx::FromRow)]
struct MemberRow {
    user_id: Uuid,
    structure_id: Uuid,
    name: String,
    email: String,
    role: String,
    active: bool,
    password_set: bool,
    last_login_at: Option<OffsetDateTime>,
    created_at: OffsetDateTime,
}

impl MemberRow {
    fn member(self) -> Option<StaffMember> {
        Some(StaffMember {
            user_id: UserId(self.user_id),
            structure: StructureId(self.structure_id),
            role: StaffRole::parse(&self.role)?,
            name: self.name,
            email: self.email,
            active: self.active,
            password_set: self.password_set,
            last_login_at: self.last_login_at,
            created_at: self.created_at,
        })
    }
}

const MEMBER_COLUMNS: &str = "user_id, structure_id, name, email, role,
    disabled_at is null as active, password_hash is not null as password_set,
    last_login_at, created_at";

/// The structure's staff, active or not, by name: after the member
/// `after` when given (a cursor naming no one), at most `limit`.
pub async fn members(
    db: impl PgExecutor<'_>,
    structure: StructureId,
    after: Option<UserId>,
    limit: i64,
) -> Result<Vec<StaffMember>, AccountError> {
    let rows: Vec<MemberRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {MEMBER_COLUMNS} from users
         where structure_id = $1
           and ($2::uuid is null or (lower(name), user_id) >
               (select lower(name), user_id from users where user_id = $2 and structure_id = $1))
         order by lower(name), user_id limit $3"
    )))
    .bind(structure.0)
    .bind(after.map(|u| u.0))
    .bind(limit)
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().filter_map(MemberRow::member).collect())
}

/// A member of the structure's staff, active or not; none for an account
/// of another structure.
pub async fn member(
    db: impl PgExecutor<'_>,
    structure: StructureId,
    user: UserId,
) -> Result<Option<StaffMember>, AccountError> {
    let row: Option<MemberRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {MEMBER_COLUMNS} from users where user_id = $1 and structure_id = $2"
    )))
    .bind(user.0)
    .bind(structure.0)
    .fetch_optional(db)
    .await?;
    Ok(row.and_then(MemberRow::member))
}

/// Locks the structure's row until the caller's transaction ends, so that
/// two changes to its staff are decided one after the other (two managers
/// deactivating each other at once would otherwise leave none).
pub async fn lock_structure(
    conn: &mut PgConnection,
    structure: StructureId,
) -> Result<bool, AccountError> {
    Ok(sqlx::query_scalar::<_, Uuid>(
        "select structure_id from structures where structure_id = $1 for update",
    )
    .bind(structure.0)
    .fetch_optional(conn)
    .await?
    .is_some())
}

/// How many active managers and admins the structure has besides `except`.
pub async fn other_leaders(
    conn: &mut PgConnection,
    structure: StructureId,
    except: UserId,
) -> Result<i64, AccountError> {
    Ok(sqlx::query_scalar(
        "select count(*) from users where structure_id = $1 and user_id <> $2
           and disabled_at is null and role in ('admin', 'manager')",
    )
    .bind(structure.0)
    .bind(except.0)
    .fetch_one(conn)
    .await?)
}

/// What a change to accounts was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
pub enum AccountChange {
    /// A member invited by a manager.
    StaffCreated,
    StaffDeactivated,
    StaffRoleChanged,
    /// A member set their password from their invitation.
    InvitationAccepted,
    /// A member changed their own password.
    PasswordChanged,
    /// A member set a new password from a reset link.
    PasswordReset,
    /// The structure's settings changed.
    StructureUpdated,
}

impl AccountChange {
    const ALL: [AccountChange; 7] = [
        AccountChange::StaffCreated,
        AccountChange::StaffDeactivated,
        AccountChange::StaffRoleChanged,
        AccountChange::InvitationAccepted,
        AccountChange::PasswordChanged,
        AccountChange::PasswordReset,
        AccountChange::StructureUpdated,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AccountChange::StaffCreated => "staff_created",
            AccountChange::StaffDeactivated => "staff_deactivated",
            AccountChange::StaffRoleChanged => "staff_role_changed",
            AccountChange::InvitationAccepted => "invitation_accepted",
            AccountChange::PasswordChanged => "password_changed",
            AccountChange::PasswordReset => "password_reset",
            AccountChange::StructureUpdated => "structure_updated",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// In French, for the administration page.
    pub fn label(self) -> &'static str {
        match self {
            AccountChange::StaffCreated => "Compte créé (invitation envoyée)",
            AccountChange::StaffDeactivated => "Compte désactivé",
            AccountChange::StaffRoleChanged => "Rôle modifié",
            AccountChange::InvitationAccepted => "Invitation acceptée (mot de passe choisi)",
            AccountChange::PasswordChanged => "Mot de passe modifié",
            AccountChange::PasswordReset => "Mot de passe réinitialisé",
            AccountChange::StructureUpdated => "Paramètres de la structure modifiés",
        }
    }
}

impl StaffRole {
    /// In French, for pages and mails.
    pub fn label(self) -> &'static str {
        match self {
            StaffRole::Admin => "Administrateur",
            StaffRole::Manager => "Responsable",
            StaffRole::Mediator => "Médiateur",
        }
    }

    pub const ALL: [StaffRole; 3] = [StaffRole::Mediator, StaffRole::Manager, StaffRole::Admin];
}

/// One change to record.
#[derive(Debug, Clone)]
pub struct Change<'a> {
    pub structure: StructureId,
    /// Who acted; none for the command line.
    pub actor: Option<UserId>,
    pub actor_role: &'a str,
    pub action: AccountChange,
    pub subject: Option<UserId>,
    pub role: Option<StaffRole>,
    pub previous_role: Option<StaffRole>,
    pub fields: &'a [crate::StructureSetting],
}

/// Records a change, in the caller's transaction.
pub async fn record(
    db: impl PgExecutor<'_>,
    change: &Change<'_>,
    at: OffsetDateTime,
) -> Result<(), AccountError> {
    sqlx::query(
        "insert into account_audit (structure_id, actor_user_id, actor_role, action,
             subject_user_id, role, previous_role, fields, at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(change.structure.0)
    .bind(change.actor.map(|u| u.0))
    .bind(change.actor_role)
    .bind(change.action.as_str())
    .bind(change.subject.map(|u| u.0))
    .bind(change.role.map(StaffRole::as_str))
    .bind(change.previous_role.map(StaffRole::as_str))
    .bind(change.fields.iter().map(|f| f.as_str()).collect::<Vec<_>>())
    .bind(at)
    .execute(db)
    .await?;
    Ok(())
}

/// A change as recorded, with the names of the accounts it names.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Recorded {
    pub id: i64,
    pub actor_user_id: Option<Uuid>,
    pub actor_name: Option<String>,
    pub actor_role: String,
    pub action: String,
    pub subject_user_id: Option<Uuid>,
    pub subject_name: Option<String>,
    pub role: Option<String>,
    pub previous_role: Option<String>,
    pub fields: Vec<String>,
    pub at: OffsetDateTime,
}

/// The structure's changes, newest first, below the id `before` when
/// given, at most `limit`.
pub async fn changes(
    db: impl PgExecutor<'_>,
    structure: StructureId,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<Recorded>, AccountError> {
    Ok(sqlx::query_as(
        "select a.id, a.actor_user_id, actor.name as actor_name, a.actor_role, a.action,
                a.subject_user_id, subject.name as subject_name, a.role, a.previous_role,
                a.fields, a.at
         from account_audit a
         left join users actor on actor.user_id = a.actor_user_id
         left join users subject on subject.user_id = a.subject_user_id
         where a.structure_id = $1 and ($2::bigint is null or a.id < $2)
         order by a.id desc limit $3",
    )
    .bind(structure.0)
    .bind(before)
    .bind(limit)
    .fetch_all(db)
    .await?)
}

/// Creates a member without a password, in the caller's transaction: they
/// set one from the invitation mailed to them.
pub async fn invite(
    conn: &mut PgConnection,
    structure: StructureId,
    email: &Email,
    name: &Label,
    role: StaffRole,
    now: OffsetDateTime,
) -> Result<StaffMember, AccountError> {
    let user_id = Uuid::new_v4();
    let row: Option<MemberRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "insert into users (user_id, structure_id, role, email, name, password_hash, created_at)
         values ($1, $2, $3, $4, $5, null, $6) on conflict (email) do nothing
         returning {MEMBER_COLUMNS}"
    )))
    .bind(user_id)
    .bind(structure.0)
    .bind(role.as_str())
    .bind(email.as_str())
    .bind(name.as_str())
    .bind(now)
    .fetch_optional(conn)
    .await?;
    row.and_then(MemberRow::member)
        .ok_or_else(|| AccountError::EmailTaken(email.as_str().to_owned()))
}

/// Deactivates a member in the caller's transaction: their sessions end
/// and their links to set a password stop working, at once.
pub async fn deactivate(
    conn: &mut PgConnection,
    user: UserId,
    now: OffsetDateTime,
) -> Result<(), AccountError> {
    sqlx::query("update users set disabled_at = $2 where user_id = $1 and disabled_at is null")
        .bind(user.0)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    end_sessions(conn, user, None, now).await
}

/// Gives a member another role, in the caller's transaction.
pub async fn set_role(
    conn: &mut PgConnection,
    user: UserId,
    role: StaffRole,
) -> Result<(), AccountError> {
    sqlx::query("update users set role = $2 where user_id = $1")
        .bind(user.0)
        .bind(role.as_str())
        .execute(conn)
        .await?;
    Ok(())
}

/// Ends the member's sessions but `keep` (the one a password was changed
/// from), and the links to set a password not used yet.
async fn end_sessions(
    conn: &mut PgConnection,
    user: UserId,
    keep: Option<&str>,
    now: OffsetDateTime,
) -> Result<(), AccountError> {
    sqlx::query(
        "update sessions set revoked_at = $2
         where user_id = $1 and revoked_at is null
           and ($3::bytea is null or token_hash <> $3)",
    )
    .bind(user.0)
    .bind(now)
    .bind(keep.map(token_hash))
    .execute(&mut *conn)
    .await?;
    sqlx::query("update password_tokens set used_at = $2 where user_id = $1 and used_at is null")
        .bind(user.0)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Why a link to set a password was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenPurpose {
    Invitation,
    Reset,
}

impl TokenPurpose {
    fn as_str(self) -> &'static str {
        match self {
            TokenPurpose::Invitation => "invitation",
            TokenPurpose::Reset => "reset",
        }
    }

    pub fn ttl(self) -> Duration {
        match self {
            TokenPurpose::Invitation => INVITATION_TTL,
            TokenPurpose::Reset => RESET_TTL,
        }
    }
}

/// Issues a single-use token to set the password of an active member, when
/// the mail that carries it goes; only its hash is kept. None for an
/// account deactivated in the meantime.
pub async fn issue_password_token(
    db: impl PgExecutor<'_>,
    user: UserId,
    purpose: TokenPurpose,
    now: OffsetDateTime,
) -> Result<Option<SessionToken>, AccountError> {
    let token = random_token();
    let issued = sqlx::query(
        "insert into password_tokens (token_hash, user_id, purpose, created_at, expires_at)
         select $1, user_id, $3, $4, $5 from users where user_id = $2 and disabled_at is null",
    )
    .bind(token_hash(&token))
    .bind(user.0)
    .bind(purpose.as_str())
    .bind(now)
    .bind(now + purpose.ttl())
    .execute(db)
    .await?;
    Ok((issued.rows_affected() == 1).then_some(SessionToken(token)))
}

/// The active member an address is theirs, for a reset link.
pub async fn reset_target(
    db: impl PgExecutor<'_>,
    email: &Email,
) -> Result<Option<(UserId, StructureId)>, AccountError> {
    let row: Option<(Uuid, Uuid)> = sqlx::query_as(
        "select user_id, structure_id from users where email = $1 and disabled_at is null",
    )
    .bind(email.as_str())
    .fetch_optional(db)
    .await?;
    Ok(row.map(|(u, s)| (UserId(u), StructureId(s))))
}

/// Whether a link to set a password can still be used (the page shows its
/// form, or says it expired).
pub async fn password_token_usable(
    db: impl PgExecutor<'_>,
    token: &str,
    now: OffsetDateTime,
) -> Result<bool, AccountError> {
    Ok(sqlx::query_scalar(
        "select exists (select 1 from password_tokens t join users u using (user_id)
         where t.token_hash = $1 and t.used_at is null and t.expires_at > $2
           and u.disabled_at is null)",
    )
    .bind(token_hash(token))
    .bind(now)
    .fetch_one(db)
    .await?)
}

/// Sets a password from a one-time link: once, before it expires, for an
/// active account. Every session of the account ends and its other links
/// stop working; the change is recorded. `None` when the link cannot be
/// used (unknown, used, expired, account deactivated).
pub async fn complete_password_token(
    pool: &PgPool,
    token: &str,
    password: &str,
    now: OffsetDateTime,
) -> Result<Option<User>, AccountError> {
    check_password(password)?;
    // The link is checked before the password is hashed: anyone may send
    // this, and a hash costs memory and CPU that a made-up token must not.
    // The update below checks it again, atomically.
    if !password_token_usable(pool, token, now).await? {
        return Ok(None);
    }
    let hash = hash_password(password.to_owned()).await?;
    let mut tx = pool.begin().await?;
    let used: Option<(Uuid, String)> = sqlx::query_as(
        "update password_tokens t set used_at = $2
         from users u
         where t.token_hash = $1 and t.used_at is null and t.expires_at > $2
           and u.user_id = t.user_id and u.disabled_at is null
         returning t.user_id, t.purpose",
    )
    .bind(token_hash(token))
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((user_id, purpose)) = used else {
        return Ok(None);
    };
    let user_id = UserId(user_id);
    sqlx::query("update users set password_hash = $2 where user_id = $1")
        .bind(user_id.0)
        .bind(&hash)
        .execute(&mut *tx)
        .await?;
    end_sessions(&mut tx, user_id, None, now).await?;
    let user = crate::staff_member(&mut *tx, user_id)
        .await?
        .ok_or(AccountError::BadCredentials)?;
    record(
        &mut *tx,
        &Change {
            structure: user.structure,
            actor: Some(user_id),
            actor_role: user.role.as_str(),
            action: if purpose == "invitation" {
                AccountChange::InvitationAccepted
            } else {
                AccountChange::PasswordReset
            },
            subject: Some(user_id),
            role: None,
            previous_role: None,
            fields: &[],
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(Some(user))
}

/// Changes a member's own password: the current one must be given. Every
/// other session of theirs ends (`session`, the one they asked from,
/// stays open); the change is recorded.
pub async fn change_password(
    pool: &PgPool,
    user: &User,
    current: &str,
    new: &str,
    session: Option<&str>,
    now: OffsetDateTime,
) -> Result<(), AccountError> {
    let stored: Option<Option<String>> = sqlx::query_scalar(
        "select password_hash from users where user_id = $1 and disabled_at is null",
    )
    .bind(user.user_id.0)
    .fetch_optional(pool)
    .await?;
    let Some(Some(stored)) = stored else {
        return Err(AccountError::BadCredentials);
    };
    if current.chars().count() > MAX_PASSWORD_CHARS
        || !verify_password(current.to_owned(), stored).await
    {
        return Err(AccountError::BadCredentials);
    }
    check_password(new)?;
    let hash = hash_password(new.to_owned()).await?;
    let mut tx = pool.begin().await?;
    sqlx::query("update users set password_hash = $2 where user_id = $1")
        .bind(user.user_id.0)
        .bind(&hash)
        .execute(&mut *tx)
        .await?;
    end_sessions(&mut tx, user.user_id, session, now).await?;
    record(
        &mut *tx,
        &Change {
            structure: user.structure,
            actor: Some(user.user_id),
            actor_role: user.role.as_str(),
            action: AccountChange::PasswordChanged,
            subject: Some(user.user_id),
            role: None,
            previous_role: None,
            fields: &[],
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
