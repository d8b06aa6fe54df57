//! The outbox: every mail is recorded under a key derived from its cause
//! before anything is sent, then sent by the `Sender`. The unique key
//! makes a replayed event, a retried job or a second replica queue nothing
//! twice; the claim with a deadline makes a crashed sender's mails go again.

use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgExecutor};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::templates::Template;

/// Who a mail goes to: a reference, resolved to an address when sent, so
/// no address waits in the outbox and erasure reaches queued mail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Recipient {
    /// A staff member.
    Staff { user_id: Uuid },
    /// A person accompanied, at the address of their file.
    Person { person_id: Uuid },
    /// An establishment, at each of its contacts' addresses.
    Employer { employer_id: Uuid },
    /// One contact of an establishment (who asked for a link).
    Contact { employer_id: Uuid, contact_id: Uuid },
    /// A party to an immersion's convention (`person`, `host`, `tutor`,
    /// `legal_representative`, `prescriber`…), at the address it gives.
    Party { immersion_id: Uuid, role: String },
    /// Whoever at the mail's structure follows this employer: the mediator
    /// of their last visit, else the structure's managers.
    Referent { employer_id: Uuid },
}

/// What a template needs beyond its recipient; never personal data.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Params {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub immersion_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub need_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub employer_id: Option<Uuid>,
    /// The person a mail to staff is about (a retention warning), by id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person_id: Option<Uuid>,
    /// D+3 or D+10, for an assessment reminder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<i64>,
    /// `one_month`, `three_months`, `six_months`, for a follow-up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub milestone: Option<String>,
    /// The day a scheduled mail fell due.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_on: Option<Date>,
    /// A proposal came with the mediator's word: its mails say so. Only
    /// that it did: the word is personal, sealed with the person's key,
    /// and read in one's space, never copied here.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub with_message: bool,
}

/// A mail to queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub key: String,
    pub template: Template,
    pub recipient: Recipient,
    pub params: Params,
    pub structure: Option<Uuid>,
}

/// Queues the entries not queued before; returns how many were new.
pub async fn enqueue(
    conn: &mut PgConnection,
    entries: &[Entry],
    now: OffsetDateTime,
) -> Result<u64, sqlx::Error> {
    if entries.is_empty() {
        return Ok(0);
    }
    let mut keys = Vec::with_capacity(entries.len());
    let mut templates = Vec::with_capacity(entries.len());
    let mut recipients = Vec::with_capacity(entries.len());
    let mut params = Vec::with_capacity(entries.len());
    let mut essential = Vec::with_capacity(entries.len());
    let mut structures = Vec::with_capacity(entries.len());
    let mut immersions = Vec::with_capacity(entries.len());
    for e in entries {
        keys.push(e.key.clone());
        templates.push(e.template.name().to_owned());
        recipients.push(serde_json::to_value(&e.recipient).expect("a recipient serializes"));
        params.push(serde_json::to_value(&e.params).expect("params serialize"));
        essential.push(e.template.essential());
        structures.push(e.structure);
        immersions.push(e.params.immersion_id);
    }
    let done = sqlx::query(
        "insert into public.outbox (key, template, recipient, params, essential, structure_id,
             immersion_id, next_attempt_at, created_at)
         select k, t, r, p, e, s, i, $8, $8
         from unnest($1::text[], $2::text[], $3::jsonb[], $4::jsonb[], $5::bool[], $6::uuid[],
                     $7::uuid[]) as u(k, t, r, p, e, s, i)
         on conflict (key) do nothing",
    )
    .bind(&keys)
    .bind(&templates)
    .bind(&recipients)
    .bind(&params)
    .bind(&essential)
    .bind(&structures)
    .bind(&immersions)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

// The doc comments are the API's descriptions.
/// A mail's delivery state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(
    feature = "graphql",
    derive(async_graphql::Enum),
    graphql(name = "DeliveryState")
)]
pub enum State {
    /// Waiting to be sent, or to be tried again (see `nextAttemptAt`).
    Queued,
    // A sender holds it.
    /// Being sent now.
    Sending,
    Sent,
    /// Given up after every attempt; `lastAnswer` says why.
    Failed,
    // Also when the recipient's data was erased.
    /// Not sent on purpose: no address, turned off by its recipient, or
    /// no longer needed (the assessment came in).
    Cancelled,
}

/// In French, for the mails' page, in a mail's order.
impl passerelle_domain::fr::Labelled for State {
    const ALL: &'static [Self] = &[
        State::Queued,
        State::Sending,
        State::Sent,
        State::Failed,
        State::Cancelled,
    ];

    fn code(self) -> &'static str {
        self.as_str()
    }

    fn french(self) -> &'static str {
        match self {
            State::Queued => "À envoyer",
            State::Sending => "En cours d'envoi",
            State::Sent => "Envoyé",
            State::Failed => "En échec",
            State::Cancelled => "Non envoyé",
        }
    }
}

impl State {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "queued" => State::Queued,
            "sending" => State::Sending,
            "sent" => State::Sent,
            "failed" => State::Failed,
            "cancelled" => State::Cancelled,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            State::Queued => "queued",
            State::Sending => "sending",
            State::Sent => "sent",
            State::Failed => "failed",
            State::Cancelled => "cancelled",
        }
    }
}

/// A mail as the delivery list shows it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Delivery {
    pub id: i64,
    pub key: String,
    pub template: String,
    pub recipient: sqlx::types::Json<Recipient>,
    pub structure_id: Option<Uuid>,
    pub immersion_id: Option<Uuid>,
    pub state: String,
    pub attempts: i32,
    pub next_attempt_at: OffsetDateTime,
    pub last_answer: Option<String>,
    pub created_at: OffsetDateTime,
    pub sent_at: Option<OffsetDateTime>,
}

const DELIVERY_COLUMNS: &str = "id, key, template, recipient, structure_id, immersion_id, state,
    attempts, next_attempt_at, last_answer, created_at, sent_at";

/// What to list deliveries by.
#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    /// Only this structure's mails (none: every structure's, for admins).
    pub structure: Option<Uuid>,
    pub immersion: Option<Uuid>,
    pub state: Option<State>,
    /// Ids below this one (the list goes newest first).
    pub before: Option<i64>,
}

/// Deliveries, newest first.
pub async fn deliveries(
    db: impl PgExecutor<'_>,
    filter: &DeliveryFilter,
    limit: i64,
) -> Result<Vec<Delivery>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {DELIVERY_COLUMNS} from public.outbox
         where ($1::uuid is null or structure_id = $1)
           and ($2::uuid is null or immersion_id = $2)
           and ($3::text is null or state = $3)
           and ($4::bigint is null or id < $4)
         order by id desc limit $5"
    )))
    .bind(filter.structure)
    .bind(filter.immersion)
    .bind(filter.state.map(State::as_str))
    .bind(filter.before)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// The mails about a person, oldest first: those to them, and those about
/// their immersions to anyone (the parties, the host, the staff). What a
/// person is told of in the export of their data.
pub async fn about_person(
    db: impl PgExecutor<'_>,
    person: Uuid,
    limit: i64,
) -> Result<Vec<Delivery>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {DELIVERY_COLUMNS} from public.outbox
         where (recipient ->> 'kind' = 'person' and recipient ->> 'person_id' = $1::text)
            or immersion_id in (select immersion_id from immersions.immersions where person_id = $1)
         order by id limit $2"
    )))
    .bind(person)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// A mail a sender took.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct Claimed {
    pub id: i64,
    pub key: String,
    pub template: String,
    pub recipient: sqlx::types::Json<Recipient>,
    pub params: sqlx::types::Json<Params>,
    pub structure_id: Option<Uuid>,
    pub attempts: i32,
}

/// Takes up to `limit` mails due (or held by a sender past its deadline)
/// and holds them until `until`. Committed at once, so two senders never
/// take the same mail.
pub(crate) async fn claim(
    db: impl PgExecutor<'_>,
    now: OffsetDateTime,
    until: OffsetDateTime,
    limit: i64,
) -> Result<Vec<Claimed>, sqlx::Error> {
    sqlx::query_as(
        "update public.outbox o set state = 'sending', claimed_until = $2,
             attempts = o.attempts + 1
         where o.id in (
             select id from public.outbox
             where (state = 'queued' and next_attempt_at <= $1)
                or (state = 'sending' and claimed_until <= $1)
             order by next_attempt_at, id
             limit $3
             for update skip locked)
         returning o.id, o.key, o.template, o.recipient, o.params, o.structure_id,
                   o.attempts",
    )
    .bind(now)
    .bind(until)
    .bind(limit)
    .fetch_all(db)
    .await
}

pub(crate) async fn mark_sent(
    db: impl PgExecutor<'_>,
    id: i64,
    message_id: &str,
    now: OffsetDateTime,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update public.outbox set state = 'sent', sent_at = $2, claimed_until = null,
             message_id = $3, last_answer = null
         where id = $1",
    )
    .bind(id)
    .bind(now)
    .bind(message_id)
    .execute(db)
    .await?;
    Ok(())
}

/// Queued again for `next`, or failed for good when `next` is none. The
/// server's answer is kept without the addresses it may quote.
pub(crate) async fn mark_not_sent(
    db: impl PgExecutor<'_>,
    id: i64,
    answer: &str,
    next: Option<OffsetDateTime>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update public.outbox set state = case when $3::timestamptz is null then 'failed' else 'queued' end,
             next_attempt_at = coalesce($3, next_attempt_at), claimed_until = null,
             last_answer = $2
         where id = $1",
    )
    .bind(id)
    .bind(crate::redact::without_addresses(answer).as_ref())
    .bind(next)
    .execute(db)
    .await?;
    Ok(())
}

/// Gives back mails a sender took but will not try before its claim
/// (`until`) ends: due again at once, their attempt not counted.
pub(crate) async fn release(
    db: impl PgExecutor<'_>,
    ids: &[i64],
    until: OffsetDateTime,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update public.outbox set state = 'queued', claimed_until = null,
             attempts = attempts - 1
         where id = any($1) and state = 'sending' and claimed_until = $2",
    )
    .bind(ids)
    .bind(until)
    .execute(db)
    .await?;
    Ok(())
}

pub(crate) async fn mark_cancelled(
    db: impl PgExecutor<'_>,
    id: i64,
    why: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update public.outbox set state = 'cancelled', claimed_until = null, last_answer = $2
         where id = $1",
    )
    .bind(id)
    .bind(crate::redact::without_addresses(why).as_ref())
    .execute(db)
    .await?;
    Ok(())
}

/// What asking to send a mail again did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Retry {
    Queued(Box<Delivery>),
    /// Only a failed mail is sent again; others are sent or on their way.
    NotFailed,
    NotFound,
}

/// Queues a failed mail again from its first attempt; `structure` limits
/// it to that structure's mails.
pub async fn retry(
    db: &sqlx::PgPool,
    id: i64,
    structure: Option<Uuid>,
    now: OffsetDateTime,
) -> Result<Retry, sqlx::Error> {
    let row: Option<Delivery> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "update public.outbox set state = 'queued', attempts = 0, next_attempt_at = $3
         where id = $1 and ($2::uuid is null or structure_id = $2) and state = 'failed'
         returning {DELIVERY_COLUMNS}"
    )))
    .bind(id)
    .bind(structure)
    .bind(now)
    .fetch_optional(db)
    .await?;
    if let Some(row) = row {
        return Ok(Retry::Queued(Box::new(row)));
    }
    let exists: bool = sqlx::query_scalar(
        "select exists (select 1 from public.outbox
                        where id = $1 and ($2::uuid is null or structure_id = $2))",
    )
    .bind(id)
    .bind(structure)
    .fetch_one(db)
    .await?;
    Ok(if exists {
        Retry::NotFailed
    } else {
        Retry::NotFound
    })
}

/// How many mails wait (queued or being sent) and how many failed, for the
/// operators' metrics.
pub async fn backlog(db: impl PgExecutor<'_>) -> Result<(i64, i64), sqlx::Error> {
    sqlx::query_as(
        "select count(*) filter (where state in ('queued', 'sending')),
                count(*) filter (where state = 'failed')
         from public.outbox where state in ('queued', 'sending', 'failed')",
    )
    .fetch_one(db)
    .await
}

/// The database error inside an accounts error (recipients are resolved
/// through the accounts' tables too).
pub(crate) fn account_error(e: passerelle_accounts::AccountError) -> sqlx::Error {
    match e {
        passerelle_accounts::AccountError::Database(e) => e,
        other => sqlx::Error::Protocol(other.to_string()),
    }
}

/// Forgets the mails about an erased person: every mail to them (a sent
/// one's last answer may quote their address), every mail not yet sent
/// about one of their immersions (it would name them once rendered), and
/// the answers to mails sent to their convention's parties that hold their
/// data (themself, their legal representative, their tutor). Returns how
/// many mails were deleted. Idempotent.
pub async fn forget_person(conn: &mut PgConnection, person: Uuid) -> Result<u64, sqlx::Error> {
    let deleted = sqlx::query(
        "with theirs as (
             select immersion_id from immersions.immersions where person_id = $1
         )
         delete from outbox
         where (recipient ->> 'kind' = 'person' and recipient ->> 'person_id' = $1::text)
            or (immersion_id in (select immersion_id from theirs)
                and (state in ('queued', 'sending', 'failed')
                     or (recipient ->> 'kind' = 'party'
                         and recipient ->> 'role' in ('person', 'legal_representative', 'tutor'))))",
    )
    .bind(person)
    .execute(&mut *conn)
    .await?;
    Ok(deleted.rows_affected())
}

/// Deletes the mails to an employer's contact, sent or not (a server's
/// kept answer may quote their address): part of their erasure. Returns
/// how many went. Idempotent.
pub async fn forget_contact(conn: &mut PgConnection, contact: Uuid) -> Result<u64, sqlx::Error> {
    let deleted = sqlx::query(
        "delete from outbox
         where recipient ->> 'kind' = 'contact' and recipient ->> 'contact_id' = $1::text",
    )
    .bind(contact)
    .execute(&mut *conn)
    .await?;
    Ok(deleted.rows_affected())
}
