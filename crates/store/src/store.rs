//! Appending to streams and reading them back.

use std::sync::{Arc, LazyLock};

use serde_json::Value;
use sqlx::postgres::PgRow;
use sqlx::types::Json;
use sqlx::{AssertSqlSafe, PgConnection, PgPool, Row as _};
use time::OffsetDateTime;
use tokio::sync::Notify;
use uuid::Uuid;

use crate::error::{Result, StoreError};
use crate::event::{
    AppendResult, EventData, ExpectedVersion, InlineWrite, LogPosition, Metadata, NewEvent,
    RecordedEvent, event_id,
};
use crate::personal::{self, Keyring};
use crate::upcast::Upcasters;
use crate::warm::{Warm, WarmConnection};

/// One command's events for one stream.
#[derive(Debug, Clone)]
pub struct Append<'a> {
    pub stream_id: &'a str,
    pub expected: ExpectedVersion,
    pub events: &'a [NewEvent],
    pub metadata: &'a Metadata,
    /// When the events happened, if not now (imports, demo histories).
    pub recorded_at: Option<OffsetDateTime>,
}

/// The event store: a handle on the pool, the keyring for personal data and
/// the upcasters. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    pool: PgPool,
    keyring: Keyring,
    upcasters: Arc<Upcasters>,
    appended: Arc<Notify>,
    warm: Warm,
}

// The compare-and-set on the stream row comes first, so a losing writer waits
// on the row lock, re-checks the version, matches nothing and draws no
// position. The events follow in the same statement: one round trip. The
// command's fingerprint goes on its first event only: that is the row a
// retry looks up by its derived id.
const INSERT_EVENTS: &str = "
insert into events (tenant, stream_id, version, event_id, event_type, schema_version, data,
                    actor, role, correlation_id, causation_id, command_id, recorded_at,
                    command_fingerprint)
select $2, $1, cas.base + e.ord, e.event_id, e.event_type, e.schema_version, e.data::json,
       $8, $9, $10, $11, $12, coalesce($13::timestamptz, now()),
       case when e.ord = 1 then $14::bytea end
from cas cross join unnest($4::uuid[], $5::text[], $6::int4[], $7::text[])
    with ordinality as e(event_id, event_type, schema_version, data, ord)
order by e.ord
returning version, global_position, transaction_id, recorded_at";
const SELECT_APPENDED: &str = "
select version, global_position, transaction_id, recorded_at";

const CAS_EXACT: &str = "with cas as (
    update streams set version = version + $3
    where stream_id = $1 and version = $15
    returning version - $3 as base
)";

const CAS_NO_STREAM: &str = "with cas as (
    insert into streams (stream_id, tenant, version) values ($1, $2, $3)
    on conflict (stream_id) do nothing
    returning 0::bigint as base
)";

// `Any` would otherwise succeed again on a retried command and only fail on
// the unique event id, so it first checks that the command is new.
const CAS_ANY: &str = "with cas as (
    insert into streams (stream_id, tenant, version)
    select $1, $2, $3 where not exists (select 1 from events where event_id = ($4::uuid[])[1])
    on conflict (stream_id) do update set version = streams.version + excluded.version
    returning version - $3 as base
)";

const EVENT_COLUMNS: &str = "global_position, transaction_id, tenant, \
     stream_id, version, event_id, event_type, schema_version, data, actor, role, correlation_id, \
     causation_id, command_id, recorded_at";

// Without inline writes, the insert is the statement itself: its rows come
// back as it returns them. Read through a CTE (`ins`, as a fused append
// must, its writes following), they are first kept in a tuple store and
// then read from it again, which cost 5–10 % of the rate of appends of one
// event by 8 and 32 clients under pgbench (docs/performance.md).
static APPEND_EXACT: LazyLock<String> = LazyLock::new(|| format!("{CAS_EXACT}{INSERT_EVENTS}"));
static APPEND_NO_STREAM: LazyLock<String> =
    LazyLock::new(|| format!("{CAS_NO_STREAM}{INSERT_EVENTS}"));
static APPEND_ANY: LazyLock<String> = LazyLock::new(|| format!("{CAS_ANY}{INSERT_EVENTS}"));

/// The inline projections' part of an append that writes them in its own
/// statement ([`Store::append_fused_in`]).
#[derive(Debug)]
pub(crate) struct Fused<'a> {
    /// The projections written, with the live version written to and the
    /// code's DDL hash: the statement locks each one's live checkpoint row
    /// (`for share`) and appends nothing unless every one is still live.
    pub gate: Vec<(&'a str, i32, &'a str)>,
    /// Each write with the schema it goes to.
    pub writes: Vec<(String, &'a InlineWrite)>,
    /// A condition the statement appends only under (the session a
    /// request came with still open), for a command decided without its
    /// stream read first: the check that read would have made.
    pub check: Option<&'a Guard>,
}

/// The CTE that locks the live checkpoint rows the writes go to. A swap
/// locks its projection's live row `for update` before its last batch: an
/// append that locked first is in that batch, and one that waited reads the
/// row again once the swap committed, finds it retired, and appends nothing.
const GATE: &str = "with gate as (
    select 1 from projection_checkpoints
    where status = 'live' and (projection, version, schema_hash) in
          (select * from unnest($P1::text[], $P2::int4[], $P3::text[]))
    for share
),
";

/// The CTE that inserts the data key the events were sealed with (`$K1`
/// the subject, `$K2` the wrapped key), as [`crate::personal`]'s statement
/// does, refused for an erased subject; nor made when the stream exists
/// already (a key is fresh only with its subject's new stream), nor when
/// the gate did not hold (the statement appends nothing then, and a key
/// without its events would stay behind). The compare-and-set waits for
/// it: a subject whose key exists, erased or not, appends nothing.
const SUBJECT_KEY: &str = "subject_key as (
    insert into subject_keys (subject_id, wrapped_key)
    select $K1, $K2
    where $GATE_OK
      and not exists (select 1 from erased_subjects where subject_id = $K1)
      and not exists (select 1 from streams where stream_id = $1)
    on conflict (subject_id) do nothing
    returning 1
),
";

/// The statement of a fused append: the gate, the subject's new key if
/// any, the compare-and-set (on the gate's count and the key too), the
/// events, then each write, and its returned rows.
fn fused_sql(expected: ExpectedVersion, fused: &Fused<'_>, first: usize, keyed: bool) -> String {
    let mut gate_ok = format!("(select count(*) from gate) = {}", fused.gate.len());
    if let Some(check) = fused.check {
        // Its values come after every other parameter.
        let at = first + 3 + fused.writes.len() + if keyed { 2 } else { 0 };
        gate_ok.push_str(&format!(
            " and ({})",
            check.sql.replace("$4", &format!("${at}"))
        ));
    }
    let key = if keyed {
        let at = first + 3 + fused.writes.len();
        let key = SUBJECT_KEY
            .replace("$GATE_OK", &gate_ok)
            .replace("$K1", &format!("${at}"))
            .replace("$K2", &format!("${}", at + 1));
        gate_ok.push_str(" and (select count(*) from subject_key) = 1");
        key
    } else {
        String::new()
    };
    let cas = match expected {
        ExpectedVersion::Exact(v) if v > 0 => CAS_EXACT.replace(
            "and version = $15",
            &format!("and version = $15 and {gate_ok}"),
        ),
        ExpectedVersion::Exact(_) | ExpectedVersion::NoStream => CAS_NO_STREAM.replace(
            "values ($1, $2, $3)",
            &format!("select $1, $2, $3 where {gate_ok}"),
        ),
        ExpectedVersion::Any => CAS_ANY.replace(
            "where not exists",
            &format!("where {gate_ok} and not exists"),
        ),
    };
    let gate = GATE
        .replace("$P1", &format!("${first}"))
        .replace("$P2", &format!("${}", first + 1))
        .replace("$P3", &format!("${}", first + 2));
    let mut sql = format!(
        "{gate}{key}{},\nins as ({INSERT_EVENTS}\n)",
        cas.trim_start_matches("with ")
    );
    let mut returned = String::new();
    for (i, (schema, write)) in fused.writes.iter().enumerate() {
        let statement = write
            .sql
            .replace("{schema}", schema)
            .replace("{rows}", &format!("${}::json", first + 3 + i))
            .replace("{appended}", "exists (select 1 from ins)");
        sql.push_str(&format!(",\nw{i} as ({statement})"));
        if write.returning {
            returned.push_str(&format!(", (select json_agg(w{i}) from w{i})"));
        }
    }
    sql.push_str(SELECT_APPENDED);
    sql.push_str(&returned);
    sql.push_str(" from ins");
    sql
}
static READ_STREAM: LazyLock<String> = LazyLock::new(|| {
    format!(
        "select {EVENT_COLUMNS} from events where stream_id = $1 and version >= $2 order by version"
    )
});
// The command's first event, if appended, and the stream's events after a
// version, in one statement: one snapshot for both, so a first attempt of the
// command that the read sees is found too. The outer join keeps a row when
// the stream has no new event; the lookup's columns come first, the guard's
// answer last. A guard that does not hold reads nothing else.
fn read_stream_for_command_sql(guard: &str) -> String {
    format!(
        "select d.stream_id, d.version, d.command_fingerprint, ev.*, one.allowed
         from (select {guard} as allowed) one
         left join (
             select e.stream_id,
                    (select max(x.version) from events x
                     where x.stream_id = e.stream_id and x.command_id = e.command_id) as version,
                    e.command_fingerprint
             from events e where e.event_id = $3
         ) d on one.allowed
         left join (
             select {EVENT_COLUMNS} from events where stream_id = $1 and version >= $2
         ) ev on one.allowed
         order by ev.version"
    )
}
static READ_STREAM_FOR_COMMAND: LazyLock<String> =
    LazyLock::new(|| read_stream_for_command_sql("true"));

/// A condition the command path checks in the statement that reads the
/// command's stream, so that checking it costs no round trip of its own:
/// the session a request came with still open, for one. The store knows
/// nothing of what it checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guard {
    /// A boolean SQL expression; `$4` is `params`, as `jsonb` (in a fused
    /// append, the parameter after the others: `$4` is replaced, so the
    /// expression names no other parameter). Written by the crate that
    /// owns the tables it reads, never from client input.
    pub sql: &'static str,
    /// A JSON object, the expression's values.
    pub params: String,
}
// The ORDER BY names the table's columns: the select list's
// `transaction_id` alias is a bigint copy, and sorting by it would bypass the
// `events_commit_order` index (a full scan and sort per batch).
static READ_ALL: LazyLock<[String; 2]> = LazyLock::new(|| {
    [
        "and transaction_id < pg_snapshot_xmin(pg_current_snapshot())::text::bigint",
        "",
    ]
    .map(|guard| {
        format!(
            "select {EVENT_COLUMNS} from events
             where (transaction_id, global_position) > ($1, $2) {guard}
             order by events.transaction_id, events.global_position
             limit $3"
        )
    })
});

/// The event of `EVENT_COLUMNS` from column `at` on, decoded by position
/// (read-all decodes a million of them, and looking each column up by name
/// costs), without its data: see [`data_at`]. Each value is decoded without
/// first checking its column's type against the Rust type's: the columns are
/// the events table's own, typed by its DDL, and the check (a list of
/// compatible types walked per column per row) was a fair part of decoding a
/// row. A decoder still checks what it can of the value (a UUID's sixteen
/// bytes, a text's UTF-8), but not its type: an int4 read as an int8, or
/// any text-like column as another, would decode. So the positions must
/// follow `EVENT_COLUMNS`, which the store's tests check by reading every
/// field back, each distinct from the others.
fn event_at(row: &PgRow, at: usize) -> Result<RecordedEvent, sqlx::Error> {
    let tenant = row.try_get_unchecked(at + 2)?;
    Ok(RecordedEvent {
        position: LogPosition {
            transaction_id: row.try_get_unchecked(at + 1)?,
            global_position: row.try_get_unchecked(at)?,
        },
        tenant,
        stream_id: row.try_get_unchecked(at + 3)?,
        version: row.try_get_unchecked(at + 4)?,
        event_id: row.try_get_unchecked(at + 5)?,
        event_type: row.try_get_unchecked(at + 6)?,
        schema_version: row.try_get_unchecked(at + 7)?,
        data: EventData::unread(),
        metadata: Metadata {
            actor: row.try_get_unchecked(at + 9)?,
            role: row.try_get_unchecked(at + 10)?,
            structure: tenant,
            correlation_id: row.try_get_unchecked(at + 11)?,
            causation_id: row.try_get_unchecked(at + 12)?,
            command_id: row.try_get_unchecked(at + 13)?,
        },
        recorded_at: row.try_get_unchecked(at + 14)?,
    })
}

/// The data of the event of `EVENT_COLUMNS` from column `at` on: the
/// `json` column's text as the server sends it (its binary form is the
/// text), which it checked when the event was written; read as is rather
/// than parsed to check it again.
fn data_at(row: &PgRow, at: usize) -> Result<EventData, sqlx::Error> {
    Ok(EventData::from_json_text(data_text_at(row, at)?))
}

/// The data's text as [`data_at`] takes it, borrowed from the row.
fn data_text_at(row: &PgRow, at: usize) -> Result<&str, sqlx::Error> {
    row.try_get_unchecked(at + 8)
}

/// The whole event of `EVENT_COLUMNS` from column `at` on.
fn whole_event_at(row: &PgRow, at: usize) -> Result<RecordedEvent, sqlx::Error> {
    let mut event = event_at(row, at)?;
    event.data = data_at(row, at)?;
    Ok(event)
}

/// What [`Store::read_all_where`] read.
#[derive(Debug)]
pub(crate) struct ReadBatch {
    /// The events the reader kept, in order, with their data.
    pub events: Vec<RecordedEvent>,
    /// The events read, kept or not.
    pub read: usize,
    /// The position of the last event read, kept or not.
    pub reached: Option<LogPosition>,
}

/// A row of `READ_STREAM_FOR_COMMAND`: the command's earlier appending, if
/// any (repeated on every row), one event of the stream, if any, and
/// whether the guard held.
struct CommandReadRow {
    done: Option<AppendedCommand>,
    event: Option<RecordedEvent>,
    allowed: bool,
}

impl<'r> sqlx::FromRow<'r, PgRow> for CommandReadRow {
    fn from_row(row: &'r PgRow) -> Result<Self, sqlx::Error> {
        let stream_id: Option<String> = row.try_get(0)?;
        let done = match stream_id {
            Some(stream_id) => Some(AppendedCommand {
                stream_id,
                version: row.try_get(1)?,
                fingerprint: row.try_get(2)?,
            }),
            None => None,
        };
        let position: Option<i64> = row.try_get(3)?;
        let event = match position {
            Some(_) => Some(whole_event_at(row, 3)?),
            None => None,
        };
        // After the lookup's three columns and the event's fifteen.
        let allowed = row.try_get(18)?;
        Ok(Self {
            done,
            event,
            allowed,
        })
    }
}

impl Store {
    pub fn new(pool: PgPool, keyring: Keyring, upcasters: Upcasters) -> Self {
        Self {
            warm: Warm::new(&pool),
            pool,
            keyring,
            upcasters: Arc::new(upcasters),
            appended: Arc::new(Notify::new()),
        }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Closes the readers' pool and the command path's, once their
    /// connections in use are back.
    pub async fn close(&self) {
        self.pool.close().await;
        self.warm.close().await;
    }

    /// Opens every connection of the command path ([`Warm::open_all`]):
    /// for a service about to take its first commands.
    pub async fn open_command_path(&self) -> Result<(), sqlx::Error> {
        self.warm.open_all().await
    }

    /// A connection for the command path, kept warm between commands
    /// without the pool's ping on release (see [`Warm`]).
    pub async fn acquire_warm(&self) -> Result<WarmConnection, sqlx::Error> {
        self.warm.acquire().await
    }

    pub(crate) fn keyring(&self) -> &Keyring {
        &self.keyring
    }

    /// Wakes the projection runner. Called after our own commits that append.
    pub fn notify_appended(&self) {
        self.appended.notify_one();
    }

    pub(crate) fn appended(&self) -> &Notify {
        &self.appended
    }

    /// Appends in its own transaction and wakes the projection runner. The
    /// connection comes from the command path's warm ones ([`Warm`]): an
    /// append that completed needs no ping on its way back.
    pub async fn append(&self, append: &Append<'_>) -> Result<AppendResult> {
        let mut conn = self.warm.acquire().await?;
        let result = self.append_in(&mut conn, append).await?;
        conn.finished();
        if !result.replayed {
            self.notify_appended();
        }
        Ok(result)
    }

    /// Appends on the caller's connection, inside its transaction if it holds
    /// one; the caller calls [`Store::notify_appended`] after committing.
    pub async fn append_in(
        &self,
        conn: &mut PgConnection,
        append: &Append<'_>,
    ) -> Result<AppendResult> {
        self.append_command_in(conn, append, None).await
    }

    /// Like [`Store::append_in`], keeping `fingerprint` (from
    /// [`Store::command_fingerprint`]) with the command's events: the same
    /// command id appended again with another fingerprint is refused with
    /// [`StoreError::CommandReused`] instead of answering as the first time.
    pub async fn append_command_in(
        &self,
        conn: &mut PgConnection,
        append: &Append<'_>,
        fingerprint: Option<&[u8]>,
    ) -> Result<AppendResult> {
        Ok(self.append_parts(conn, append, fingerprint, None).await?.0)
    }

    /// Like [`Store::append_command_in`], running the inline projections'
    /// writes in the same statement, on the live versions `fused` names;
    /// also returns what the writes marked `returning` returned, in order
    /// (`None` for a write that returned no row). Appends nothing, with
    /// [`StoreError::Conflict`], when one of those versions is no longer
    /// live.
    pub(crate) async fn append_fused_in(
        &self,
        conn: &mut PgConnection,
        append: &Append<'_>,
        fingerprint: Option<&[u8]>,
        fused: &Fused<'_>,
    ) -> Result<(AppendResult, Vec<Option<Value>>)> {
        self.append_parts(conn, append, fingerprint, Some(fused))
            .await
    }

    async fn append_parts(
        &self,
        conn: &mut PgConnection,
        append: &Append<'_>,
        fingerprint: Option<&[u8]>,
        fused: Option<&Fused<'_>>,
    ) -> Result<(AppendResult, Vec<Option<Value>>)> {
        let count = append.events.len();
        if count == 0 {
            return Err(StoreError::NothingToAppend);
        }
        let command_id = append.metadata.command_id;
        let ids: Vec<Uuid> = (0..count).map(|i| event_id(command_id, i)).collect();
        let mut types = Vec::with_capacity(count);
        let mut versions = Vec::with_capacity(count);
        let mut datas = Vec::with_capacity(count);
        // Fused, personal values are sealed with a key made here, which the
        // statement inserts: no read of the keyring first.
        let mut fresh = None;
        for event in append.events {
            types.push(event.event_type.as_str());
            versions.push(event.schema_version);
            let sealed = match fused {
                Some(_) => self.keyring.seal_fresh(
                    &mut fresh,
                    &event.event_type,
                    event.subject,
                    &event.data,
                )?,
                None => {
                    self.keyring
                        .seal(conn, &event.event_type, event.subject, &event.data)
                        .await?
                }
            };
            datas.push(serde_json::to_string(&sealed).map_err(StoreError::Data)?);
        }
        let exact = matches!(append.expected, ExpectedVersion::Exact(v) if v > 0);
        // A key is made only with its subject's stream: an older stream's
        // subject has one already.
        if fresh.is_some()
            && !matches!(
                append.expected,
                ExpectedVersion::NoStream | ExpectedVersion::Exact(0)
            )
        {
            return Err(StoreError::NotFused);
        }
        let sql: std::borrow::Cow<'static, str> = match (fused, append.expected) {
            (Some(fused), expected) => fused_sql(
                expected,
                fused,
                if exact { 16 } else { 15 },
                fresh.is_some(),
            )
            .into(),
            (None, ExpectedVersion::Exact(v)) if v > 0 => APPEND_EXACT.as_str().into(),
            (None, ExpectedVersion::Exact(_) | ExpectedVersion::NoStream) => {
                APPEND_NO_STREAM.as_str().into()
            }
            (None, ExpectedVersion::Any) => APPEND_ANY.as_str().into(),
        };
        let mut query = sqlx::query(AssertSqlSafe(sql))
            .bind(append.stream_id)
            .bind(append.metadata.structure)
            .bind(count as i64)
            .bind(&ids)
            .bind(&types)
            .bind(&versions)
            .bind(&datas)
            .bind(&append.metadata.actor)
            .bind(&append.metadata.role)
            .bind(append.metadata.correlation_id)
            .bind(append.metadata.causation_id)
            .bind(append.metadata.command_id)
            .bind(append.recorded_at)
            .bind(fingerprint);
        if let ExpectedVersion::Exact(v) = append.expected
            && v > 0
        {
            query = query.bind(v);
        }
        let returning = fused.map_or(0, |f| f.writes.iter().filter(|(_, w)| w.returning).count());
        if let Some(fused) = fused {
            let names: Vec<&str> = fused.gate.iter().map(|g| g.0).collect();
            let versions: Vec<i32> = fused.gate.iter().map(|g| g.1).collect();
            let hashes: Vec<&str> = fused.gate.iter().map(|g| g.2).collect();
            query = query.bind(names).bind(versions).bind(hashes);
            for (_, write) in &fused.writes {
                query = query.bind(write.rows.as_str());
            }
            if let Some(key) = &fresh {
                query = query.bind(key.subject).bind(&key.wrapped);
            }
            if let Some(check) = fused.check {
                query = query.bind(check.params.as_str());
            }
        }
        let rows = match query.fetch_all(&mut *conn).await {
            Ok(rows) => rows,
            // Two concurrent retries of one command: the loser finds the winner's events.
            Err(sqlx::Error::Database(e)) if e.constraint() == Some("events_event_id_key") => {
                Vec::new()
            }
            // The version written to was swapped out and dropped meanwhile
            // (its tables gone, or the swap and this statement waiting on
            // each other): nothing was appended, the command goes again.
            Err(sqlx::Error::Database(e))
                if fused.is_some()
                    && matches!(e.code().as_deref(), Some("40P01" | "42P01" | "0A000")) =>
            {
                return Err(StoreError::Conflict {
                    stream_id: append.stream_id.to_owned(),
                    expected: append.expected,
                    actual: None,
                });
            }
            Err(e) => return Err(e.into()),
        };
        let mut rows: Vec<(i64, i64, i64, OffsetDateTime, &PgRow)> = rows
            .iter()
            .map(|r| {
                Ok((
                    r.try_get(0)?,
                    r.try_get(1)?,
                    r.try_get(2)?,
                    r.try_get(3)?,
                    r,
                ))
            })
            .collect::<Result<_, sqlx::Error>>()?;
        // Sorted here rather than in SQL: a handful of rows, and one sort
        // fewer on the server's hot path.
        rows.sort_unstable_by_key(|r| r.0);
        if let Some(last) = rows.last() {
            metrics::counter!("passerelle_events_appended_total").increment(count as u64);
            let written = (0..returning)
                .map(|i| {
                    last.4
                        .try_get::<Option<Json<Value>>, _>(4 + i)
                        .map(|v| v.map(|j| j.0))
                })
                .collect::<Result<Vec<_>, sqlx::Error>>()?;
            return Ok((
                AppendResult {
                    stream_version: last.0,
                    positions: rows
                        .iter()
                        .map(|r| LogPosition {
                            transaction_id: r.2,
                            global_position: r.1,
                        })
                        .collect(),
                    recorded_at: last.3,
                    replayed: false,
                },
                written,
            ));
        }
        let result = self
            .replay_or_conflict(conn, append, &ids, fingerprint)
            .await;
        // Not appended, nor by an earlier attempt: the subject's key, if
        // the statement was to make one, may be why.
        if let (Err(StoreError::Conflict { .. }), Some(key)) = (&result, &fresh) {
            let (erased, keyed): (bool, bool) = sqlx::query_as(
                "select exists (select 1 from erased_subjects where subject_id = $1),
                        exists (select 1 from subject_keys where subject_id = $1)",
            )
            .bind(key.subject)
            .fetch_one(&mut *conn)
            .await?;
            if erased {
                return Err(StoreError::SubjectErased(key.subject));
            }
            if keyed {
                return Err(StoreError::NotFused);
            }
        }
        Ok((result?, Vec::new()))
    }

    async fn replay_or_conflict(
        &self,
        conn: &mut PgConnection,
        append: &Append<'_>,
        ids: &[Uuid],
        fingerprint: Option<&[u8]>,
    ) -> Result<AppendResult> {
        type Stored = (String, i64, i64, i64, OffsetDateTime, Option<Vec<u8>>);
        let stored: Vec<Stored> = sqlx::query_as(
            "select stream_id, version, global_position, transaction_id, recorded_at,
                    command_fingerprint
             from events where event_id = any($1) order by version",
        )
        .bind(ids)
        .fetch_all(&mut *conn)
        .await?;
        if !stored.is_empty() {
            if stored.len() != ids.len()
                || stored.iter().any(|s| s.0 != append.stream_id)
                || !same_command(stored[0].5.as_deref(), fingerprint)
            {
                return Err(StoreError::CommandReused {
                    command_id: append.metadata.command_id,
                });
            }
            let last = &stored[stored.len() - 1];
            return Ok(AppendResult {
                stream_version: last.1,
                recorded_at: last.4,
                positions: stored
                    .iter()
                    .map(|s| LogPosition {
                        transaction_id: s.3,
                        global_position: s.2,
                    })
                    .collect(),
                replayed: true,
            });
        }
        let actual: Option<i64> =
            sqlx::query_scalar("select version from streams where stream_id = $1")
                .bind(append.stream_id)
                .fetch_optional(&mut *conn)
                .await?;
        metrics::counter!("passerelle_append_conflicts_total").increment(1);
        Err(StoreError::Conflict {
            stream_id: append.stream_id.to_owned(),
            expected: append.expected,
            actual,
        })
    }

    /// Where a command's events went, if it was appended before: its stream,
    /// the stream's version after them and the command's fingerprint. A
    /// command handler answers a retried command from this instead of
    /// deciding it again, once [`AppendedCommand::is_same`] says it is the
    /// same command.
    pub async fn command_appended(
        &self,
        conn: &mut PgConnection,
        command_id: Uuid,
    ) -> Result<Option<AppendedCommand>> {
        let row: Option<(String, i64, Option<Vec<u8>>)> = sqlx::query_as(
            "select e.stream_id,
                    (select max(x.version) from events x
                     where x.stream_id = e.stream_id and x.command_id = e.command_id),
                    e.command_fingerprint
             from events e where e.event_id = $1",
        )
        .bind(event_id(command_id, 0))
        .fetch_optional(&mut *conn)
        .await?;
        Ok(
            row.map(|(stream_id, version, fingerprint)| AppendedCommand {
                stream_id,
                version,
                fingerprint,
            }),
        )
    }

    /// A digest of what a command is (its stream, its actor, its content,
    /// written out by the caller), kept with its events by
    /// [`Store::append_command_in`]. Keyed with a key derived from the master
    /// key: a command carries personal values, and a plain hash of them in
    /// the database would let whoever reads it check a guess, even after the
    /// person's erasure.
    pub fn command_fingerprint(&self, command: &[u8]) -> [u8; 32] {
        self.keyring.fingerprint(command)
    }

    /// The stream's events from `from_version` (inclusive), oldest first.
    pub async fn read_stream(
        &self,
        conn: &mut PgConnection,
        stream_id: &str,
        from_version: i64,
    ) -> Result<Vec<RecordedEvent>> {
        let rows = sqlx::query(AssertSqlSafe(READ_STREAM.as_str()))
            .bind(stream_id)
            .bind(from_version)
            .fetch_all(&mut *conn)
            .await?;
        let events = rows
            .iter()
            .map(|row| whole_event_at(row, 0))
            .collect::<Result<_, _>>()?;
        self.finish(conn, events).await
    }

    /// [`Store::read_stream`] and [`Store::command_appended`] in one
    /// statement (one round trip, one snapshot): the stream's events from
    /// `from_version`, and where `command_id` went if it was appended before.
    pub async fn read_stream_for_command(
        &self,
        conn: &mut PgConnection,
        stream_id: &str,
        from_version: i64,
        command_id: Uuid,
    ) -> Result<(Vec<RecordedEvent>, Option<AppendedCommand>)> {
        let (events, done, _) = self
            .read_stream_guarded(conn, stream_id, from_version, command_id, None)
            .await?;
        Ok((events, done))
    }

    /// [`Store::read_stream_for_command`] with `guard` checked in the same
    /// statement: `false` last, and nothing read, when it does not hold.
    pub async fn read_stream_guarded(
        &self,
        conn: &mut PgConnection,
        stream_id: &str,
        from_version: i64,
        command_id: Uuid,
        guard: Option<&Guard>,
    ) -> Result<(Vec<RecordedEvent>, Option<AppendedCommand>, bool)> {
        let sql: std::borrow::Cow<'_, str> = match guard {
            Some(g) => read_stream_for_command_sql(g.sql).into(),
            None => READ_STREAM_FOR_COMMAND.as_str().into(),
        };
        let mut query = sqlx::query_as::<_, CommandReadRow>(AssertSqlSafe(sql))
            .bind(stream_id)
            .bind(from_version)
            .bind(event_id(command_id, 0));
        if let Some(g) = guard {
            query = query.bind(g.params.as_str());
        }
        let rows = query.fetch_all(&mut *conn).await?;
        // The outer joins keep one row at least.
        let allowed = rows.first().is_some_and(|r| r.allowed);
        let mut done = None;
        let mut events = Vec::with_capacity(rows.len());
        for row in rows {
            if done.is_none() {
                done = row.done;
            }
            events.extend(row.event);
        }
        Ok((self.finish(conn, events).await?, done, allowed))
    }

    /// Up to `limit` events after `after`, in commit-safe order: only events
    /// of transactions older than every transaction still running are
    /// returned, so one committed late is read late but never skipped.
    pub async fn read_all(
        &self,
        conn: &mut PgConnection,
        after: LogPosition,
        limit: i64,
    ) -> Result<Vec<RecordedEvent>> {
        self.read_all_with(conn, after, limit, true).await
    }

    /// Like [`Store::read_all`] without the guard against running
    /// transactions: only for a caller that holds every writer off.
    pub(crate) async fn read_all_with(
        &self,
        conn: &mut PgConnection,
        after: LogPosition,
        limit: i64,
        guarded: bool,
    ) -> Result<Vec<RecordedEvent>> {
        Ok(self
            .read_all_where(conn, after, limit, guarded, |_| true)
            .await?
            .events)
    }

    /// Like [`Store::read_all`], giving back only the events `keep` wants
    /// (it sees each event without its data): the others' data is neither
    /// taken from the row, upcast nor unsealed. Says how far it read.
    pub(crate) async fn read_all_where(
        &self,
        conn: &mut PgConnection,
        after: LogPosition,
        limit: i64,
        guarded: bool,
        keep: impl Fn(&RecordedEvent) -> bool,
    ) -> Result<ReadBatch> {
        use futures::TryStreamExt as _;
        let sql = &READ_ALL[usize::from(!guarded)];
        // Each row decoded as it arrives, while the server sends the next
        // ones, rather than once the whole batch is buffered: decoding and
        // the server's work overlap, and the rows are never all held at once.
        let mut rows = sqlx::query(AssertSqlSafe(sql.as_str()))
            .bind(after.transaction_id)
            .bind(after.global_position)
            .bind(limit)
            .fetch(&mut *conn);
        let mut read = 0;
        let mut events = Vec::with_capacity(usize::try_from(limit).unwrap_or(0).min(10_000));
        // The kept events whose data is to be upcast or unsealed, told while
        // the row is at hand: a batch with none (most of the log) takes no
        // second pass over its events.
        let mut worked = Vec::new();
        let mut reached = None;
        while let Some(row) = rows.try_next().await? {
            read += 1;
            let mut event = event_at(&row, 0)?;
            reached = Some(event.position);
            if keep(&event) {
                let text = data_text_at(&row, 0)?;
                if self.needs_work(&event.event_type, event.schema_version, text) {
                    worked.push(events.len());
                }
                event.data = EventData::from_json_text(text);
                events.push(event);
            }
        }
        drop(rows);
        self.finish_at(conn, &mut events, worked).await?;
        Ok(ReadBatch {
            events,
            read,
            reached,
        })
    }

    /// Whether an event's data is to be worked on as a tree before its
    /// reader sees it: upcast, or sealed values to open.
    fn needs_work(&self, event_type: &str, schema_version: i32, data: &str) -> bool {
        self.upcasters.applies(event_type, schema_version) || personal::may_hold_sealed(data)
    }

    /// The events as their readers see them: upcast to the code's schema
    /// versions, their sealed values opened (the keys fetched in one query).
    /// Events needing neither keep their text untouched.
    async fn finish(
        &self,
        conn: &mut PgConnection,
        mut events: Vec<RecordedEvent>,
    ) -> Result<Vec<RecordedEvent>> {
        let worked = events
            .iter()
            .enumerate()
            .filter(|(_, e)| self.needs_work(&e.event_type, e.schema_version, e.data.get()))
            .map(|(index, _)| index)
            .collect();
        self.finish_at(conn, &mut events, worked).await?;
        Ok(events)
    }

    /// [`Store::finish`] for the events at `worked`, those
    /// [`Store::needs_work`] picked; the others are left as read.
    async fn finish_at(
        &self,
        conn: &mut PgConnection,
        events: &mut [RecordedEvent],
        worked: Vec<usize>,
    ) -> Result<()> {
        // Events whose data must be worked on as a tree: sealed values to
        // open.
        let mut sealed: Vec<(usize, Value)> = Vec::new();
        for index in worked {
            let event = &mut events[index];
            if self
                .upcasters
                .applies(&event.event_type, event.schema_version)
            {
                let value: Value =
                    serde_json::from_str(event.data.get()).map_err(StoreError::Data)?;
                let (version, value) =
                    self.upcasters
                        .upcast(&event.event_type, event.schema_version, value);
                event.schema_version = version;
                event.data = EventData::of(&value);
            }
            if personal::may_hold_sealed(event.data.get()) {
                let value: Value =
                    serde_json::from_str(event.data.get()).map_err(StoreError::Data)?;
                sealed.push((index, value));
            }
        }
        if !sealed.is_empty() {
            self.keyring
                .open_all(conn, sealed.iter_mut().map(|(_, v)| v))
                .await?;
            for (index, value) in sealed {
                events[index].data = EventData::of(&value);
            }
        }
        Ok(())
    }

    /// Writes over the personal values of the events of `streams` that
    /// were recorded in clear, before they were sealed: the values an
    /// upcaster reads as personal from an older schema version. Each
    /// becomes `{"$erased": true}` and its event is stored as the version
    /// its upcasters read it as; its sealed values, and every event with
    /// nothing in clear, are left as they are. For an erasure, on its
    /// transaction (the events are otherwise immutable: the update is let
    /// through for this transaction only), with the subject's own streams:
    /// what their key sealed goes with the key, what was never sealed goes
    /// with this. Idempotent; returns how many events it wrote over.
    pub async fn erase_clear_in(&self, conn: &mut PgConnection, streams: &[String]) -> Result<u64> {
        if streams.is_empty() {
            return Ok(0);
        }
        let rows: Vec<(String, i64, String, i32, String)> = sqlx::query_as(
            "select stream_id, version, event_type, schema_version, data::text from events
             where stream_id = any($1)",
        )
        .bind(streams)
        .fetch_all(&mut *conn)
        .await?;
        let (mut ids, mut versions, mut schemas, mut data) = (vec![], vec![], vec![], vec![]);
        for (stream_id, version, event_type, schema_version, text) in rows {
            if !self.upcasters.applies(&event_type, schema_version) {
                continue;
            }
            let value: Value = serde_json::from_str(&text).map_err(StoreError::Data)?;
            let (upcast_to, mut value) = self.upcasters.upcast(&event_type, schema_version, value);
            if personal::erase_clear(&mut value) {
                ids.push(stream_id);
                versions.push(version);
                schemas.push(upcast_to);
                data.push(value.to_string());
            }
        }
        if ids.is_empty() {
            return Ok(0);
        }
        sqlx::query("select set_config('passerelle.erasure', 'on', true)")
            .execute(&mut *conn)
            .await?;
        let written = sqlx::query(
            "update events e set data = n.data::json, schema_version = n.schema_version
             from unnest($1::text[], $2::int8[], $3::int4[], $4::text[])
                  as n(stream_id, version, schema_version, data)
             where e.stream_id = n.stream_id and e.version = n.version",
        )
        .bind(&ids)
        .bind(&versions)
        .bind(&schemas)
        .bind(&data)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        sqlx::query("select set_config('passerelle.erasure', 'off', true)")
            .execute(&mut *conn)
            .await?;
        Ok(written)
    }

    /// Erases a data subject: deletes their key, so their sealed fields read
    /// as erased everywhere, and records the erasure as an event on the
    /// `subject-<id>` stream so projections can purge what they copied.
    /// Runs on the caller's transaction so that inline projections purge in it.
    pub async fn erase_subject_in(
        &self,
        conn: &mut PgConnection,
        subject: Uuid,
        metadata: &Metadata,
    ) -> Result<(AppendResult, NewEvent)> {
        personal::erase(conn, subject).await?;
        let event = NewEvent::new(
            ERASED_EVENT,
            1,
            serde_json::json!({ "subject_id": subject }),
        );
        let stream = format!("subject-{subject}");
        let result = self
            .append_in(
                conn,
                &Append {
                    stream_id: &stream,
                    expected: ExpectedVersion::Any,
                    events: std::slice::from_ref(&event),
                    metadata,
                    recorded_at: None,
                },
            )
            .await?;
        Ok((result, event))
    }
}

/// A command id's first appending, as [`Store::command_appended`] finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendedCommand {
    pub stream_id: String,
    /// The stream's version after the command's events.
    pub version: i64,
    /// `None` for a command appended without one (before fingerprints were
    /// kept, or through [`Store::append_in`]).
    pub fingerprint: Option<Vec<u8>>,
}

impl AppendedCommand {
    /// Whether a command with `fingerprint` on `stream_id` is this one again.
    pub fn is_same(&self, stream_id: &str, fingerprint: &[u8]) -> bool {
        self.stream_id == stream_id && same_command(self.fingerprint.as_deref(), Some(fingerprint))
    }
}

/// Whether two fingerprints may be of the same command: only two known and
/// different ones tell two commands apart.
fn same_command(stored: Option<&[u8]>, given: Option<&[u8]>) -> bool {
    match (stored, given) {
        (Some(stored), Some(given)) => stored == given,
        _ => true,
    }
}

/// The event type recorded when a data subject is erased.
pub const ERASED_EVENT: &str = "PersonalDataErased";
