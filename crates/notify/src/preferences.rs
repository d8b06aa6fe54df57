//! Recipients' choices: anyone can turn off optional mails from a link in
//! each of them; essential ones (signature requests, magic links, the
//! validated convention) still go. Addresses are kept only as hashes.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::PgExecutor;
use time::OffsetDateTime;

pub(crate) fn address_hash(address: &str) -> Vec<u8> {
    Sha256::digest(address.trim().to_lowercase().as_bytes()).to_vec()
}

fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Whether this address turned optional mails off.
pub async fn muted(db: impl PgExecutor<'_>, address: &str) -> Result<bool, sqlx::Error> {
    let muted: Option<bool> = sqlx::query_scalar(
        "select muted from public.notification_preferences where address_hash = $1",
    )
    .bind(address_hash(address))
    .fetch_optional(db)
    .await?;
    Ok(muted.unwrap_or(false))
}

/// A new link token for the address's preferences; only its hash is kept.
pub(crate) async fn issue_link(
    db: impl PgExecutor<'_>,
    address: &str,
    now: OffsetDateTime,
) -> Result<String, sqlx::Error> {
    let mut bytes = [0u8; 24];
    rand::rng().fill_bytes(&mut bytes);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    sqlx::query(
        "insert into public.preference_links (token_hash, address_hash, created_at)
         values ($1, $2, $3)",
    )
    .bind(token_hash(&token))
    .bind(address_hash(address))
    .bind(now)
    .execute(db)
    .await?;
    Ok(token)
}

/// Whether the link's address has optional mails turned off; none when the
/// link is unknown.
pub async fn state_of_link(
    db: impl PgExecutor<'_>,
    token: &str,
) -> Result<Option<bool>, sqlx::Error> {
    sqlx::query_scalar(
        "select coalesce(p.muted, false) from public.preference_links l
         left join public.notification_preferences p using (address_hash)
         where l.token_hash = $1",
    )
    .bind(token_hash(token))
    .fetch_optional(db)
    .await
}

/// Turns optional mails off (or on again) for the link's address; false
/// when the link is unknown.
pub async fn set_by_link(
    db: impl PgExecutor<'_>,
    token: &str,
    muted: bool,
    now: OffsetDateTime,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "insert into public.notification_preferences (address_hash, muted, updated_at)
         select address_hash, $2, $3 from public.preference_links where token_hash = $1
         on conflict (address_hash) do update set muted = excluded.muted,
             updated_at = excluded.updated_at",
    )
    .bind(token_hash(token))
    .bind(muted)
    .bind(now)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}
