//! The projection runner: read models kept from the log.
//!
//! Each projection owns one PostgreSQL schema per version (`<name>_v<n>`) and
//! readers query the views of the stable schema `<name>`, which point at the
//! live version. A checkpoint row per (projection, version) holds the log
//! position reached; a batch locks it `for update skip locked`, reads, applies
//! and advances it in one transaction, so any number of replicas run each
//! projection once and a failed batch leaves nothing behind.
//!
//! Inline projections are applied inside the append transaction instead
//! (read-your-writes); their versions under construction are built by the
//! runner like the others and swapped in under an exclusive lock that waits
//! for every in-flight inline append.
//!
//! Each version records a hash of the DDL it was created with. When the code
//! brings a projection a different DDL, `setup` creates a version with it,
//! built from the log while the stale one keeps serving its rows (no longer
//! applied: its tables are not the code's), then swapped in. A stale inline
//! projection is not applied with the commands meanwhile either: until the
//! swap, a mutation's answer may not show its own change there.
//!
//! The runner knows projections only through [`Projection`]; it knows nothing
//! of what they compute.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;
use sqlx::{PgConnection, Postgres, Transaction};
use time::OffsetDateTime;
use tokio::sync::watch;

use crate::error::{Result, StoreError};
use crate::event::{AppendResult, InlineWrite, LogPosition, RecordedEvent};
use crate::store::Store;

pub type ProjectionError = Box<dyn std::error::Error + Send + Sync>;

/// When a projection is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// In the append transaction: a mutation's answer can read it.
    Inline,
    /// By the runner, shortly after the commit.
    Async,
}

/// A read model fed from the log.
#[async_trait]
pub trait Projection: Send + Sync + 'static {
    /// Lowercase identifier; also the schema readers query.
    fn name(&self) -> &'static str;
    /// DDL creating the projection's tables, with unqualified names: it runs
    /// with `search_path` set to the version's own schema.
    fn schema_sql(&self) -> &'static str;
    fn mode(&self) -> Mode {
        Mode::Async
    }
    /// Whether the projection reads this event at all, from its envelope
    /// alone (stream, type, metadata): the runner asks before the event's
    /// data is taken from its row, and gives `apply` only the events
    /// handled, so the others cost neither decoding nor unsealing (nor a
    /// visit, for a batch of none). `apply` must leave its tables as they
    /// are for an event not handled. An inline projection that reads none
    /// of a command's events is not visited in the append's transaction,
    /// which saves its round trips on every mutation.
    fn handles(&self, _event: &RecordedEvent) -> bool {
        true
    }
    /// Applies a batch of events in the caller's transaction, with
    /// `search_path` set to the version's schema.
    async fn apply(
        &self,
        conn: &mut PgConnection,
        events: &[RecordedEvent],
    ) -> Result<(), ProjectionError>;
    /// For an inline projection: a command's events as writes that need no
    /// read of its tables first, run inside the append's own statement (one
    /// round trip for the whole command); `None` (the default) when these
    /// events need [`Projection::apply`]. The writes must leave the tables
    /// exactly as `apply` would. The events are not appended yet: their
    /// positions are unknown (zero) and must not be used.
    fn inline_writes(&self, _events: &[RecordedEvent]) -> Option<Vec<InlineWrite>> {
        None
    }
}

#[derive(Debug, Clone)]
pub struct RunnerConfig {
    pub batch_size: i64,
    pub rebuild_batch_size: i64,
    /// How often the runner looks for new events when nothing woke it.
    pub poll_interval: Duration,
    /// Consecutive failures after which a projection pauses.
    pub max_failures: i32,
    pub backoff_base: Duration,
    pub backoff_max: Duration,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        Self {
            batch_size: 500,
            rebuild_batch_size: 10_000,
            poll_interval: Duration::from_millis(250),
            max_failures: 5,
            backoff_base: Duration::from_millis(500),
            backoff_max: Duration::from_secs(60),
        }
    }
}

/// One row of `passerelle projections status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectionStatus {
    pub projection: String,
    pub version: i32,
    pub status: String,
    pub mode: Option<Mode>,
    pub position: LogPosition,
    pub events_applied: i64,
    /// Events committed past the checkpoint (counted up to [`LAG_CAP`]);
    /// zero for a live inline projection, which is applied with each append.
    pub lag: i64,
    pub failures: i32,
    pub last_error: Option<String>,
    pub paused: bool,
    /// Whether the version's tables were created with the code's DDL; a
    /// stale version is no longer applied and is replaced once a current
    /// one has caught up.
    pub current: bool,
    pub updated_at: OffsetDateTime,
}

/// Lag is counted exactly up to this many events, then reported as this.
pub const LAG_CAP: i64 = 1_000_000;

/// What one batch did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Batch {
    /// Another runner holds the checkpoint, or the projection waits or is paused.
    Skipped,
    Applied(usize),
    /// Nothing new to apply.
    CaughtUp,
}

#[derive(Debug, Clone)]
pub struct RebuildReport {
    pub version: i32,
    pub events: i64,
    pub elapsed: Duration,
}

/// What one projection did in a rebuild of several in one pass over the
/// log ([`Projections::rebuild_all`]).
#[derive(Debug, Clone)]
pub struct PassShare {
    pub projection: &'static str,
    pub version: i32,
    /// Events of the log it went past (handled or not).
    pub events: i64,
    /// Of them, the events it handles, given to its `apply`.
    pub handled: i64,
    /// Time in its batches' transactions (lock, apply, checkpoint, commit),
    /// summed: they run beside the other projections' and the next read.
    pub apply: Duration,
    /// Batches whose pass it held up: the last of the projections to commit.
    pub slowest_batches: usize,
    /// Time of its swap, compaction included.
    pub swap: Duration,
}

/// A rebuild of several projections in one pass over the log.
#[derive(Debug, Clone)]
pub struct RebuildAllReport {
    /// Events read from the log, once for every projection.
    pub events: i64,
    pub elapsed: Duration,
    /// Of `elapsed`, the pass over the log (the swaps come after).
    pub pass: Duration,
    /// Time the pass waited for a read that its applies did not hide.
    pub read_wait: Duration,
    pub projections: Vec<PassShare>,
}

/// The registered projections and the machinery that keeps them.
#[derive(Clone)]
pub struct Projections {
    store: Store,
    list: Arc<Vec<Arc<dyn Projection>>>,
    /// Each projection's [`schema_hash`], by name: computed once.
    hashes: Arc<std::collections::HashMap<&'static str, String>>,
    config: RunnerConfig,
    /// The live version of each inline projection whose live version is
    /// current, as last read: where a command's writes go when they run in
    /// the append's statement. Only a hint: that statement checks it under
    /// a lock, and it is read again when the check fails.
    live: Arc<std::sync::Mutex<Option<std::collections::HashMap<&'static str, i32>>>>,
}

impl std::fmt::Debug for Projections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Projections")
            .field(
                "names",
                &self.list.iter().map(|p| p.name()).collect::<Vec<_>>(),
            )
            .finish()
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() < 50
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn version_schema(name: &str, version: i32) -> String {
    format!("{name}_v{version}")
}

/// The live schema of each projection of `parts`, in order.
fn live_schemas<T>(
    parts: &[(&Arc<dyn Projection>, T)],
    live: &std::collections::HashMap<&'static str, i32>,
) -> Vec<String> {
    parts
        .iter()
        .map(|(p, _)| version_schema(p.name(), live.get(p.name()).copied().unwrap_or_default()))
        .collect()
}

/// A stable hash of a projection's DDL (64-bit FNV-1a, in hex): the same on
/// every build and platform, unlike the standard library's hasher.
pub fn schema_hash(sql: &str) -> String {
    let hash = sql.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    format!("{hash:016x}")
}

const SETUP_LOCK: &str = "select pg_advisory_xact_lock(hashtext('passerelle:projection-setup'))";

impl Projections {
    /// # Panics
    /// When a name is not a lowercase identifier or is registered twice: both
    /// are programming errors caught by any test that builds the registry.
    pub fn new(store: Store, list: Vec<Arc<dyn Projection>>, config: RunnerConfig) -> Self {
        let mut seen = std::collections::HashSet::new();
        for p in &list {
            assert!(
                valid_name(p.name()),
                "projection name {:?} is not a lowercase identifier",
                p.name()
            );
            assert!(
                seen.insert(p.name()),
                "projection {} registered twice",
                p.name()
            );
        }
        let hashes = list
            .iter()
            .map(|p| (p.name(), schema_hash(p.schema_sql())))
            .collect();
        Self {
            store,
            list: Arc::new(list),
            hashes: Arc::new(hashes),
            config,
            live: Arc::default(),
        }
    }

    /// The [`schema_hash`] of a registered projection's DDL.
    fn hash_of(&self, p: &dyn Projection) -> &str {
        self.hashes.get(p.name()).map_or("", String::as_str)
    }

    /// Whether a version created with DDL hash `hash` is current for `p`.
    fn is_current(&self, p: &dyn Projection, hash: Option<&str>) -> bool {
        hash == Some(self.hash_of(p))
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    fn find(&self, name: &str) -> Result<&Arc<dyn Projection>> {
        self.list
            .iter()
            .find(|p| p.name() == name)
            .ok_or_else(|| StoreError::UnknownProjection(name.to_owned()))
    }

    /// Creates a version of every projection that has none with the code's
    /// DDL: live at once on an empty log, otherwise built by the runner then
    /// swapped in, replacing a stale version if there is one.
    pub async fn setup(&self) -> Result<()> {
        let mut tx = self.store.pool().begin().await?;
        sqlx::query(SETUP_LOCK).execute(&mut *tx).await?;
        let log_is_empty: bool = sqlx::query_scalar("select not exists (select 1 from events)")
            .fetch_one(&mut *tx)
            .await?;
        for p in self.list.iter() {
            let hash = self.hash_of(p.as_ref());
            adopt_unhashed(&mut tx, p.as_ref(), hash).await?;
            let current: bool = sqlx::query_scalar(
                "select exists (select 1 from projection_checkpoints
                                where projection = $1 and status <> 'retired' and schema_hash = $2)",
            )
            .bind(p.name())
            .bind(hash)
            .fetch_one(&mut *tx)
            .await?;
            if current {
                continue;
            }
            retire_stale(&mut tx, p.name(), hash, log_is_empty).await?;
            let version = next_version(&mut tx, p.name()).await?;
            if log_is_empty {
                create_version(&mut tx, p.as_ref(), version, "live").await?;
                point_views(&mut tx, p.name(), version).await?;
            } else {
                create_version(&mut tx, p.as_ref(), version, "building").await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// The projections a newer release has moved on from this code: a
    /// version made with another DDL than the code's, numbered after the
    /// last one made with the code's (retired or not). Such a replica must not apply
    /// them, nor run `setup`, which would build its older DDL again.
    pub async fn newer_release(&self) -> Result<Vec<String>> {
        let names: Vec<&str> = self.list.iter().map(|p| p.name()).collect();
        let hashes: Vec<&str> = self.list.iter().map(|p| self.hash_of(p.as_ref())).collect();
        Ok(sqlx::query_scalar(
            "select code.name from unnest($1::text[], $2::text[]) as code(name, hash)
             where exists (
                 select 1 from projection_checkpoints other
                 where other.projection = code.name
                   and other.schema_hash is distinct from code.hash
                   and other.version > (select max(mine.version) from projection_checkpoints mine
                                        where mine.projection = code.name
                                          and mine.schema_hash = code.hash))
             order by code.name",
        )
        .bind(&names)
        .bind(&hashes)
        .fetch_all(self.store.pool())
        .await?)
    }

    /// Appends a command's events and writes the inline projections in one
    /// statement, on `conn` outside any transaction (the statement is its
    /// own): when every inline projection that reads these events can write
    /// them without reading first ([`Projection::inline_writes`]) and has a
    /// current live version. `None` when not: nothing was done, and the
    /// caller appends then [`Projections::apply_inline`]s in a transaction.
    /// Personal values are sealed with a key made for the append, which the
    /// statement inserts: only for the subject of a new stream (whose key
    /// cannot exist yet); `None` too when the subject's key existed after
    /// all.
    /// With `check`, the statement appends nothing unless it holds, as
    /// `Fused::check` says: the caller is told of a conflict, or of a
    /// replay or a command id reused when the command's events exist, which
    /// it must not answer before making the check itself.
    /// Returns, beside the append's result, what the writes returned, by
    /// projection. `events` are the events as they will be recorded, their
    /// positions unknown.
    pub async fn append_inline(
        &self,
        conn: &mut PgConnection,
        append: &crate::store::Append<'_>,
        fingerprint: Option<&[u8]>,
        events: &[RecordedEvent],
        check: Option<&crate::store::Guard>,
    ) -> Result<Option<(AppendResult, Vec<(&'static str, Value)>)>> {
        let mut parts = Vec::new();
        for p in self
            .list
            .iter()
            .filter(|p| p.mode() == Mode::Inline && events.iter().any(|e| p.handles(e)))
        {
            let Some(writes) = p.inline_writes(events) else {
                return Ok(None);
            };
            parts.push((p, writes));
        }
        let Some(live) = self.live_versions(conn).await? else {
            return Ok(None);
        };
        let mut gate = Vec::new();
        for (p, _) in &parts {
            let Some(version) = live.get(p.name()) else {
                return Ok(None);
            };
            gate.push((p.name(), *version, self.hash_of(p.as_ref())));
        }
        let fused = crate::store::Fused {
            gate,
            writes: parts
                .iter()
                .zip(&live_schemas(&parts, &live))
                .flat_map(|((_, writes), schema)| writes.iter().map(|w| (schema.clone(), w)))
                .collect(),
            check,
        };
        let owners: Vec<&'static str> = parts
            .iter()
            .flat_map(|(p, writes)| writes.iter().filter(|w| w.returning).map(|_| p.name()))
            .collect();
        match self
            .store
            .append_fused_in(conn, append, fingerprint, &fused)
            .await
        {
            Ok((result, written)) => Ok(Some((
                result,
                owners
                    .into_iter()
                    .zip(written)
                    .filter_map(|(name, rows)| Some((name, rows?)))
                    .collect(),
            ))),
            // Nothing written: appended in a transaction instead.
            Err(StoreError::NotFused) => Ok(None),
            Err(e) => {
                if matches!(e, StoreError::Conflict { .. }) {
                    // Perhaps the live versions moved: read them again.
                    *self
                        .live
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
                }
                Err(e)
            }
        }
    }

    /// The live version of each inline projection whose live version is
    /// current, read once then kept (see `live`).
    async fn live_versions(
        &self,
        conn: &mut PgConnection,
    ) -> Result<Option<std::collections::HashMap<&'static str, i32>>> {
        if let Some(live) = self
            .live
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
        {
            return Ok(Some(live));
        }
        let rows: Vec<(String, i32, Option<String>)> = sqlx::query_as(
            "select projection, version, schema_hash from projection_checkpoints
             where status = 'live'",
        )
        .fetch_all(&mut *conn)
        .await?;
        let live: std::collections::HashMap<&'static str, i32> = rows
            .into_iter()
            .filter_map(|(name, version, hash)| {
                let p = self.find(&name).ok()?;
                (p.mode() == Mode::Inline && self.is_current(p.as_ref(), hash.as_deref()))
                    .then(|| (p.name(), version))
            })
            .collect();
        *self
            .live
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(live.clone());
        Ok(Some(live))
    }

    /// Applies the inline projections to events just appended in `conn`'s
    /// transaction. Takes each projection's lock in shared mode, so a swap to
    /// a rebuilt version waits for this transaction.
    ///
    /// Leaves the transaction's search path on the last view's schema
    /// (followed by `public`): it is `set local`, so it ends with the
    /// transaction, and resetting it would cost a round trip on every command.
    pub async fn apply_inline(
        &self,
        conn: &mut PgConnection,
        events: &[RecordedEvent],
    ) -> Result<()> {
        let inline: Vec<&str> = self
            .list
            .iter()
            .filter(|p| p.mode() == Mode::Inline && events.iter().any(|e| p.handles(e)))
            .map(|p| p.name())
            .collect();
        if inline.is_empty() || events.is_empty() {
            return Ok(());
        }
        sqlx::query("select pg_advisory_xact_lock_shared(hashtext('passerelle:projection:' || n)) from unnest($1::text[]) n")
            .bind(&inline)
            .execute(&mut *conn)
            .await?;
        // A separate statement: its snapshot is taken after the locks, so it
        // sees a swap that committed while this transaction waited. With one
        // view to update (the usual command), it also points the search path
        // at that view's schema, saving a round trip.
        let live: Vec<(String, i32, Option<String>, Option<String>)> = sqlx::query_as(
            "select projection, version, schema_hash,
                    case when $2 then set_config('search_path',
                                                 projection || '_v' || version || ', public', true) end
             from projection_checkpoints where status = 'live' and projection = any($1)",
        )
        .bind(&inline)
        .bind(inline.len() == 1)
        .fetch_all(&mut *conn)
        .await?;
        let several = live.len() > 1;
        for (name, version, hash, _) in live {
            let p = self.find(&name)?;
            // A stale version's tables are not the code's: the version being
            // built replaces it, and its swap applies what it missed.
            if !self.is_current(p.as_ref(), hash.as_deref()) {
                continue;
            }
            if several {
                set_search_path(conn, &version_schema(&name, version)).await?;
            }
            p.apply(conn, events).await.map_err(|e| {
                tracing::error!(projection = %name, error = %e, "inline projection failed");
                StoreError::Projection {
                    projection: name.clone(),
                    message: e.to_string(),
                }
            })?;
        }
        Ok(())
    }

    /// The versions the runner keeps: every version being built with the
    /// code's DDL (with whether it goes live once caught up: when there is no
    /// live version, or only a stale one), and the live version of each async
    /// projection, unless it is stale.
    async fn active(&self) -> Result<Vec<(Arc<dyn Projection>, i32, bool)>> {
        // (projection, version, status, its DDL hash, the live version's)
        type Version = (String, i32, String, Option<String>, Option<String>);
        let rows: Vec<Version> = sqlx::query_as(
            "select c.projection, c.version, c.status, c.schema_hash,
                    (select l.schema_hash from projection_checkpoints l
                     where l.projection = c.projection and l.status = 'live')
             from projection_checkpoints c
             where c.status <> 'retired' and not c.paused order by c.projection, c.version",
        )
        .fetch_all(self.store.pool())
        .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(name, version, status, hash, live_hash)| {
                let p = self.find(&name).ok()?;
                if !self.is_current(p.as_ref(), hash.as_deref()) {
                    return None;
                }
                let building = status == "building";
                let live_current = self.is_current(p.as_ref(), live_hash.as_deref());
                (building || p.mode() == Mode::Async)
                    .then(|| (p.clone(), version, building && !live_current))
            })
            .collect())
    }

    /// One batch for every active projection; returns how many events were applied.
    pub async fn run_once(&self) -> Result<usize> {
        let mut applied = 0;
        for (p, version, replaces_live) in self.active().await? {
            match self
                .process_batch(p.as_ref(), version, self.config.batch_size)
                .await
            {
                Ok(Batch::Applied(n)) => applied += n,
                // A first version built over an existing log, or one replacing
                // a stale version: it goes live as soon as it is complete.
                // (Not swapped when a server restart emptied its tables: it
                // is built again.)
                Ok(Batch::CaughtUp) if replaces_live => {
                    self.swap(p.as_ref(), version).await?;
                }
                Ok(Batch::CaughtUp | Batch::Skipped) => {}
                Err(e) => {
                    tracing::warn!(projection = p.name(), version, error = %e, "projection batch failed")
                }
            }
        }
        Ok(applied)
    }

    /// Applies batches until every projection has applied every committed
    /// event: for callers that need the asynchronous read models current
    /// (seeding, tests). A transaction open anywhere on the server holds
    /// batches back (see `read_all`); this waits it out rather than stopping
    /// at the first empty batch. A paused projection is not waited for.
    pub async fn catch_up(&self) -> Result<()> {
        loop {
            if self.run_once().await? > 0 {
                continue;
            }
            if self.status().await?.iter().all(|s| s.lag == 0 || s.paused) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Reads, applies and checkpoints one batch in one transaction.
    pub async fn process_batch(
        &self,
        p: &dyn Projection,
        version: i32,
        limit: i64,
    ) -> Result<Batch> {
        self.batch_reading_ahead(p, version, limit, None).await
    }

    /// [`Projections::process_batch`]; with `ahead`, the next batch is read
    /// on another connection while this one is applied, and kept there for
    /// the next call, which uses it when its checkpoint is where that read
    /// began (a rebuild: the server writes one batch while this process
    /// decodes the next).
    async fn batch_reading_ahead(
        &self,
        p: &dyn Projection,
        version: i32,
        limit: i64,
        mut ahead: Option<&mut Option<Ahead>>,
    ) -> Result<Batch> {
        let read_ahead = ahead.is_some();
        let prefetched = ahead.as_mut().and_then(|a| a.take());
        let mut tx = self.store.pool().begin().await?;
        // Every way out ends the transaction explicitly: a dropped one is
        // rolled back only when its connection is next used, and would keep
        // the checkpoint row locked until then (another batch would skip it).
        let Some(after) = lock_checkpoint(&mut tx, p.name(), version).await? else {
            tx.rollback().await?;
            return Ok(Batch::Skipped);
        };
        // Only the events the projection reads: the others' data is not
        // taken from the rows, nor unsealed, and it is not visited for them.
        let batch = match prefetched {
            Some(Ahead { from, batch }) if from == after => batch,
            _ => {
                self.store
                    .read_all_where(&mut tx, after, limit, true, |e| p.handles(e))
                    .await?
            }
        };
        let Some(reached) = batch.reached else {
            tx.rollback().await?;
            return Ok(Batch::CaughtUp);
        };
        let events = batch.events;
        let started = Instant::now();
        let apply = async {
            if !events.is_empty() {
                set_search_path(&mut tx, &version_schema(p.name(), version)).await?;
            }
            Ok::<_, StoreError>(apply_handled(p, &mut tx, &events).await)
        };
        let next = async {
            if !read_ahead {
                return Ok(None);
            }
            let mut conn = self.store.pool().acquire().await?;
            let batch = self
                .store
                .read_all_where(&mut conn, reached, limit, true, |e| p.handles(e))
                .await?;
            Ok::<_, StoreError>(Some(Ahead {
                from: reached,
                batch,
            }))
        };
        let (applied, next) = tokio::join!(apply, next);
        if let Err(e) = applied? {
            // Nothing of the batch stays: the transaction is rolled back.
            tx.rollback().await?;
            self.record_failure(p.name(), version, &e.to_string())
                .await?;
            return Err(StoreError::Projection {
                projection: p.name().to_owned(),
                message: e.to_string(),
            });
        }
        advance(&mut tx, p.name(), version, reached, batch.read as i64).await?;
        tx.commit().await?;
        if let Some(ahead) = ahead {
            // A failed read ahead is read again by the next batch.
            *ahead = next.ok().flatten();
        }
        let labels = [
            ("projection", p.name().to_owned()),
            ("version", version.to_string()),
        ];
        metrics::counter!("passerelle_projection_events_total", &labels)
            .increment(batch.read as u64);
        metrics::histogram!("passerelle_projection_batch_seconds", &labels)
            .record(started.elapsed().as_secs_f64());
        Ok(Batch::Applied(batch.read))
    }

    async fn record_failure(&self, name: &str, version: i32, error: &str) -> Result<()> {
        let failures: i32 = sqlx::query_scalar(
            "select failures + 1 from projection_checkpoints where projection = $1 and version = $2",
        )
        .bind(name)
        .bind(version)
        .fetch_one(self.store.pool())
        .await?;
        let exponent = u32::try_from(failures.clamp(1, 20) - 1).unwrap_or(0);
        let delay = self
            .config
            .backoff_base
            .saturating_mul(2u32.saturating_pow(exponent))
            .min(self.config.backoff_max);
        let paused = failures >= self.config.max_failures;
        sqlx::query(
            "update projection_checkpoints
             set failures = $3, last_error = $4, paused = $5,
                 retry_at = now() + make_interval(secs => $6), updated_at = now()
             where projection = $1 and version = $2",
        )
        .bind(name)
        .bind(version)
        .bind(failures)
        .bind(error)
        .bind(paused)
        .bind(delay.as_secs_f64())
        .execute(self.store.pool())
        .await?;
        if paused {
            tracing::error!(
                projection = name,
                version,
                failures,
                error,
                "projection paused after repeated failures"
            );
        } else {
            tracing::warn!(projection = name, version, failures, retry_in = ?delay, error, "projection batch failed, will retry");
        }
        Ok(())
    }

    /// Lets a paused projection run again.
    pub async fn resume(&self, name: &str) -> Result<()> {
        self.find(name)?;
        sqlx::query(
            "update projection_checkpoints set paused = false, failures = 0, retry_at = null, updated_at = now()
             where projection = $1 and status <> 'retired'",
        )
        .bind(name)
        .execute(self.store.pool())
        .await?;
        Ok(())
    }

    /// Runs until `shutdown` turns true: batches while there is work, then
    /// waits for a wake-up after our own appends or the poll interval.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut lag_measured: Option<Instant> = None;
        loop {
            if *shutdown.borrow() {
                break;
            }
            let applied = match self.run_once().await {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(error = %e, "projection runner could not read its checkpoints");
                    0
                }
            };
            if lag_measured.is_none_or(|t| t.elapsed() > Duration::from_secs(5)) {
                if let Err(e) = self.publish_lag().await {
                    tracing::warn!(error = %e, "projection lag could not be measured");
                }
                lag_measured = Some(Instant::now());
            }
            if applied == 0 {
                tokio::select! {
                    () = self.store.appended().notified() => {}
                    () = tokio::time::sleep(self.config.poll_interval) => {}
                    _ = shutdown.changed() => {}
                }
            }
        }
    }

    /// Sets the `passerelle_projection_lag_events` gauge of every version.
    pub async fn publish_lag(&self) -> Result<()> {
        for s in self.status().await? {
            metrics::gauge!(
                "passerelle_projection_lag_events",
                "projection" => s.projection.clone(),
                "version" => s.version.to_string(),
            )
            .set(s.lag as f64);
            metrics::gauge!(
                "passerelle_projection_paused",
                "projection" => s.projection,
                "version" => s.version.to_string(),
            )
            .set(if s.paused { 1.0 } else { 0.0 });
        }
        Ok(())
    }

    /// Every version that is live or being built, with its lag.
    pub async fn status(&self) -> Result<Vec<ProjectionStatus>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            projection: String,
            version: i32,
            status: String,
            transaction_id: i64,
            global_position: i64,
            events_applied: i64,
            failures: i32,
            last_error: Option<String>,
            paused: bool,
            schema_hash: Option<String>,
            updated_at: OffsetDateTime,
        }
        let rows: Vec<Row> = sqlx::query_as(
            "select projection, version, status, transaction_id, global_position,
                    events_applied, failures, last_error, paused, schema_hash, updated_at
             from projection_checkpoints where status <> 'retired' order by projection, version",
        )
        .fetch_all(self.store.pool())
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let registered = self.find(&r.projection).ok();
            let mode = registered.map(|p| p.mode());
            let current =
                registered.is_some_and(|p| self.is_current(p.as_ref(), r.schema_hash.as_deref()));
            let lag = if mode == Some(Mode::Inline) && r.status == "live" {
                0
            } else {
                sqlx::query_scalar(
                    "select count(*) from (
                         select 1 from events
                         where (transaction_id, global_position) > ($1, $2)
                         limit $3
                     ) behind",
                )
                .bind(r.transaction_id)
                .bind(r.global_position)
                .bind(LAG_CAP)
                .fetch_one(self.store.pool())
                .await?
            };
            out.push(ProjectionStatus {
                projection: r.projection,
                version: r.version,
                status: r.status,
                mode,
                position: LogPosition {
                    transaction_id: r.transaction_id,
                    global_position: r.global_position,
                },
                events_applied: r.events_applied,
                lag,
                failures: r.failures,
                last_error: r.last_error,
                paused: r.paused,
                current,
                updated_at: r.updated_at,
            });
        }
        Ok(out)
    }

    /// Creates the version that a rebuild fills (or returns the one already
    /// being built): empty tables, a checkpoint at the start of the log.
    pub async fn begin_rebuild(&self, name: &str) -> Result<i32> {
        let p = self.find(name)?;
        let mut tx = self.store.pool().begin().await?;
        sqlx::query(SETUP_LOCK).execute(&mut *tx).await?;
        retire_stale(&mut tx, name, self.hash_of(p.as_ref()), false).await?;
        let building: Option<i32> = sqlx::query_scalar(
            "select version from projection_checkpoints where projection = $1 and status = 'building'",
        )
        .bind(name)
        .fetch_optional(&mut *tx)
        .await?;
        let version = match building {
            Some(v) => v,
            None => {
                let v = next_version(&mut tx, name).await?;
                create_version(&mut tx, p.as_ref(), v, "building").await?;
                v
            }
        };
        tx.commit().await?;
        Ok(version)
    }

    /// Builds a new version of `name` from the start of the log while the
    /// live one keeps serving, then swaps it in. Resumes a version already
    /// being built. Shows a progress bar on a terminal when `progress` is set.
    pub async fn rebuild(&self, name: &str, progress: bool) -> Result<RebuildReport> {
        let started = Instant::now();
        let version = self.begin_rebuild(name).await?;
        let p = self.find(name)?.clone();
        let total: i64 = sqlx::query_scalar("select count(*) from events")
            .fetch_one(self.store.pool())
            .await?;
        let bar = if progress {
            ProgressBar::new(u64::try_from(total).unwrap_or(0))
        } else {
            ProgressBar::hidden()
        };
        bar.set_style(
            ProgressStyle::with_template(
                "{msg} [{bar:40}] {pos}/{len} events, {per_sec}, eta {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar.set_message(format!("{name} v{version}"));
        let mut applied = 0i64;
        let mut ahead = None;
        loop {
            match self
                .batch_reading_ahead(
                    p.as_ref(),
                    version,
                    self.config.rebuild_batch_size,
                    Some(&mut ahead),
                )
                .await?
            {
                Batch::Applied(n) => {
                    applied += n as i64;
                    bar.inc(n as u64);
                }
                // Built again from the start when a server restart emptied
                // its tables before they were made durable.
                Batch::CaughtUp if self.swap(p.as_ref(), version).await? => break,
                Batch::CaughtUp => {
                    applied = 0;
                    bar.set_position(0);
                }
                // A server replica holds this batch: it builds the same version.
                Batch::Skipped => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
        bar.finish_and_clear();
        Ok(RebuildReport {
            version,
            events: applied,
            elapsed: started.elapsed(),
        })
    }

    /// Builds a new version of each projection of `names` (every registered
    /// one when empty) in ONE pass over the log, while the live versions
    /// keep serving, then swaps each in as [`Projections::rebuild`] does.
    /// Each batch is read and decoded once (only the events some projection
    /// handles, with their data) and the next one read meanwhile; every
    /// projection applies it in its own transaction on its own connection,
    /// beside the others, to its own version's schema, given only the events
    /// it handles, and advances its own checkpoint. Resumes versions already
    /// being built: the pass starts at the earliest of their checkpoints and
    /// a projection is given only the events past its own. Shows one
    /// progress bar on a terminal when `progress` is set.
    pub async fn rebuild_all(&self, names: &[&str], progress: bool) -> Result<RebuildAllReport> {
        let started = Instant::now();
        let mut wanted: Vec<Arc<dyn Projection>> = Vec::new();
        if names.is_empty() {
            wanted.extend(self.list.iter().cloned());
        } else {
            for name in names {
                let p = self.find(name)?;
                if !wanted.iter().any(|w| w.name() == p.name()) {
                    wanted.push(p.clone());
                }
            }
        }
        let mut parts = Vec::with_capacity(wanted.len());
        for p in wanted {
            let version = self.begin_rebuild(p.name()).await?;
            parts.push((p, version));
        }
        let mut report = RebuildAllReport {
            events: 0,
            elapsed: Duration::ZERO,
            pass: Duration::ZERO,
            read_wait: Duration::ZERO,
            projections: parts
                .iter()
                .map(|(p, version)| PassShare {
                    projection: p.name(),
                    version: *version,
                    events: 0,
                    handled: 0,
                    apply: Duration::ZERO,
                    slowest_batches: 0,
                    swap: Duration::ZERO,
                })
                .collect(),
        };
        // A batch's events carry which projections handle them as bits.
        for (group, shares) in parts.chunks(64).zip(report.projections.chunks_mut(64)) {
            report.events += self
                .one_pass(group, shares, progress, &mut report.read_wait)
                .await?;
        }
        report.pass = started.elapsed();
        // Each swap compacts its version's tables then, for an inline
        // projection, applies what was appended since under its lock: they
        // run side by side.
        let mut swaps = tokio::task::JoinSet::new();
        for (i, (p, version)) in parts.iter().enumerate() {
            let (this, p, version) = (self.clone(), p.clone(), *version);
            swaps.spawn(async move {
                let started = Instant::now();
                // Left behind by the pass only if another runner held its
                // checkpoint past the pass's end, or if a server restart
                // emptied its tables: the rest, alone.
                loop {
                    match this
                        .process_batch(p.as_ref(), version, this.config.rebuild_batch_size)
                        .await?
                    {
                        Batch::Applied(_) => {}
                        Batch::CaughtUp if this.swap(p.as_ref(), version).await? => break,
                        Batch::CaughtUp => {}
                        Batch::Skipped => tokio::time::sleep(Duration::from_millis(50)).await,
                    }
                }
                Ok::<_, StoreError>((i, started.elapsed()))
            });
        }
        while let Some(done) = swaps.join_next().await {
            let (i, took) = done.map_err(|e| StoreError::Projection {
                projection: "rebuild".to_owned(),
                message: e.to_string(),
            })??;
            report.projections[i].swap = took;
        }
        report.elapsed = started.elapsed();
        Ok(report)
    }

    /// The pass of [`Projections::rebuild_all`] for at most 64 projections:
    /// returns the events read.
    async fn one_pass(
        &self,
        parts: &[(Arc<dyn Projection>, i32)],
        shares: &mut [PassShare],
        progress: bool,
        read_wait: &mut Duration,
    ) -> Result<i64> {
        // A build whose tables a server restart emptied goes back to the
        // start of the log before the pass chooses where to begin
        // (`lock_checkpoint` does it), so that the pass builds it too.
        for (p, version) in parts {
            let mut tx = self.store.pool().begin().await?;
            lock_checkpoint(&mut tx, p.name(), *version).await?;
            tx.commit().await?;
        }
        let names: Vec<&str> = parts.iter().map(|(p, _)| p.name()).collect();
        let versions: Vec<i32> = parts.iter().map(|(_, v)| *v).collect();
        let start: Option<(i64, i64)> = sqlx::query_as(
            "select transaction_id, global_position from projection_checkpoints
             join unnest($1::text[], $2::int[]) as wanted(projection, version) using (projection, version)
             order by transaction_id, global_position limit 1",
        )
        .bind(&names)
        .bind(&versions)
        .fetch_optional(self.store.pool())
        .await?;
        let Some((transaction_id, global_position)) = start else {
            return Ok(0);
        };
        let mut after = LogPosition {
            transaction_id,
            global_position,
        };
        let total: i64 = sqlx::query_scalar(
            "select count(*) from events where (transaction_id, global_position) > ($1, $2)",
        )
        .bind(after.transaction_id)
        .bind(after.global_position)
        .fetch_one(self.store.pool())
        .await?;
        let bar = if progress {
            ProgressBar::new(u64::try_from(total).unwrap_or(0))
        } else {
            ProgressBar::hidden()
        };
        bar.set_style(
            ProgressStyle::with_template(
                "{msg} [{bar:40}] {pos}/{len} events, {per_sec}, eta {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar.set_message(format!("{} projections", parts.len()));
        let parts: Arc<Vec<(Arc<dyn Projection>, i32)>> = Arc::new(parts.to_vec());
        let limit = self.config.rebuild_batch_size;
        let mut read = 0i64;
        let mut ahead: Option<tokio::task::JoinHandle<Result<PassBatch>>> = None;
        loop {
            let waited = Instant::now();
            let batch = match ahead.take() {
                Some(next) => next.await.map_err(|e| StoreError::Projection {
                    projection: "rebuild".to_owned(),
                    message: e.to_string(),
                })??,
                None => {
                    let mut conn = self.store.pool().acquire().await?;
                    read_pass(&self.store, &mut conn, &parts, after, limit).await?
                }
            };
            *read_wait += waited.elapsed();
            let Some(reached) = batch.reached else { break };
            // The next batch is read while this one is applied.
            ahead = Some({
                let (store, parts) = (self.store.clone(), parts.clone());
                tokio::spawn(async move {
                    let mut conn = store.pool().acquire().await?;
                    read_pass(&store, &mut conn, &parts, reached, limit).await
                })
            });
            let batch = Arc::new(batch);
            let mut applies = tokio::task::JoinSet::new();
            for (bit, (p, version)) in parts.iter().enumerate() {
                let (this, p, version, batch) = (self.clone(), p.clone(), *version, batch.clone());
                applies.spawn(async move {
                    let started = Instant::now();
                    let done = this
                        .pass_apply(p.as_ref(), version, bit, after, &batch)
                        .await?;
                    Ok::<_, StoreError>((bit, done, started.elapsed()))
                });
            }
            let mut last = None;
            while let Some(done) = applies.join_next().await {
                let (bit, (events, handled), took) = match done {
                    Ok(Ok(done)) => done,
                    Ok(Err(e)) => return Err(e),
                    Err(e) => {
                        return Err(StoreError::Projection {
                            projection: "rebuild".to_owned(),
                            message: e.to_string(),
                        });
                    }
                };
                shares[bit].events += events;
                shares[bit].handled += handled;
                shares[bit].apply += took;
                last = Some(bit);
            }
            if let Some(bit) = last {
                shares[bit].slowest_batches += 1;
            }
            read += batch.read as i64;
            bar.inc(batch.read as u64);
            after = reached;
        }
        bar.finish_and_clear();
        Ok(read)
    }

    /// One projection's share of a batch of the pass read from `after`:
    /// in its own transaction, the events it handles past its checkpoint,
    /// which then moves to the batch's end. Returns the events of the log it
    /// went past and how many it handled.
    async fn pass_apply(
        &self,
        p: &dyn Projection,
        version: i32,
        bit: usize,
        after: LogPosition,
        batch: &PassBatch,
    ) -> Result<(i64, i64)> {
        let Some(reached) = batch.reached else {
            return Ok((0, 0));
        };
        let mask = 1u64 << bit;
        loop {
            let mut tx = self.store.pool().begin().await?;
            let Some(at) = lock_checkpoint(&mut tx, p.name(), version).await? else {
                // A server replica holds it: it builds the same version.
                tx.rollback().await?;
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            };
            // Behind the batch (never, unless moved back by hand): the rest
            // is built alone before the swap. Past it: a replica applied it.
            if at < after || at >= reached {
                tx.rollback().await?;
                return Ok((0, 0));
            }
            let past = batch.envelopes.iter().filter(|(pos, _)| *pos > at).count();
            let mine = batch
                .envelopes
                .iter()
                .filter(|(_, bits)| *bits != 0)
                .zip(&batch.events)
                .filter(|((pos, bits), _)| bits & mask != 0 && *pos > at)
                .map(|(_, e)| e);
            // Every event kept is this projection's (one that reads them
            // all): given as read, without a copy.
            let events: std::borrow::Cow<'_, [RecordedEvent]> = if at == after
                && batch
                    .envelopes
                    .iter()
                    .all(|(_, bits)| bits & mask != 0 || *bits == 0)
            {
                std::borrow::Cow::Borrowed(&batch.events)
            } else {
                std::borrow::Cow::Owned(mine.cloned().collect())
            };
            let started = Instant::now();
            if !events.is_empty() {
                set_search_path(&mut tx, &version_schema(p.name(), version)).await?;
            }
            if let Err(e) = apply_handled(p, &mut tx, &events).await {
                tx.rollback().await?;
                self.record_failure(p.name(), version, &e.to_string())
                    .await?;
                return Err(StoreError::Projection {
                    projection: p.name().to_owned(),
                    message: e.to_string(),
                });
            }
            advance(&mut tx, p.name(), version, reached, past as i64).await?;
            tx.commit().await?;
            let labels = [
                ("projection", p.name().to_owned()),
                ("version", version.to_string()),
            ];
            metrics::counter!("passerelle_projection_events_total", &labels).increment(past as u64);
            metrics::histogram!("passerelle_projection_batch_seconds", &labels)
                .record(started.elapsed().as_secs_f64());
            return Ok((past as i64, events.len() as i64));
        }
    }

    /// Makes the tables of a version built from the log durable and compact
    /// before it serves; false when a server restart had emptied them, the
    /// build then starting again from the start of the log.
    ///
    /// A build applies many events to the same rows in one batch
    /// transaction, so each row leaves a trail of versions behind that
    /// vacuum frees but does not give back: read as is, a table was several
    /// times its size (103 MB against 27 MB for 77,000 immersions, measured
    /// here) and every scan paid for it. Setting an unlogged table logged
    /// rewrites it, which compacts it as well; a version begun before builds
    /// were unlogged is rewritten by `vacuum (full)`.
    async fn make_durable(&self, name: &str, version: i32) -> Result<bool> {
        let schema = version_schema(name, version);
        let mut tx = self.store.pool().begin().await?;
        // Waits for a batch in flight on the version, and holds the next.
        let state: Option<Option<bool>> = sqlx::query_scalar(
            "select unlogged from projection_checkpoints
             where projection = $1 and version = $2 and status = 'building'
             for update",
        )
        .bind(name)
        .bind(version)
        .fetch_optional(&mut *tx)
        .await?;
        let vacuums: &[&str] = match state {
            // Another replica made it live already.
            None => {
                tx.rollback().await?;
                return Ok(true);
            }
            Some(Some(true)) if build_lost(&mut tx, name, version).await? => {
                restart_lost_build(&mut tx, name, version).await?;
                tx.commit().await?;
                return Ok(false);
            }
            Some(Some(true)) => {
                set_persistence(&mut tx, &schema, "logged").await?;
                sqlx::query(
                    "update projection_checkpoints set unlogged = false
                     where projection = $1 and version = $2",
                )
                .bind(name)
                .bind(version)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "delete from projection_build_markers where projection = $1 and version = $2",
                )
                .bind(name)
                .bind(version)
                .execute(&mut *tx)
                .await?;
                // The rewrite leaves the visibility map unset: a plain vacuum
                // after it sets it, so index-only scans need not visit the rows.
                &["vacuum (analyze)"]
            }
            // Made durable already, by another replica or by an attempt
            // that failed before the swap.
            Some(Some(false)) => &[],
            // Built with logged tables, before they were unlogged.
            Some(None) => &["vacuum (full)", "vacuum (analyze)"],
        };
        tx.commit().await?;
        if vacuums.is_empty() {
            return Ok(true);
        }
        let tables = {
            let mut conn = self.store.pool().acquire().await?;
            tables_of(&mut conn, &schema).await?
        };
        for table in tables {
            for vacuum in vacuums {
                // VACUUM runs outside a transaction; names come from the catalog.
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                    "{vacuum} {schema}.\"{table}\""
                )))
                .execute(self.store.pool())
                .await?;
            }
        }
        Ok(true)
    }

    /// Makes `version` the live one: readers' views point at it, the previous
    /// version is retired and its schema dropped. For an inline projection,
    /// the exclusive lock waits out in-flight appends; the events they wrote
    /// are applied here, so none is missed between the last batch and the swap.
    ///
    /// Returns false, swapping nothing, when the version's unlogged tables
    /// were lost to a server restart: it is then being built again.
    async fn swap(&self, p: &dyn Projection, version: i32) -> Result<bool> {
        if !self.make_durable(p.name(), version).await? {
            return Ok(false);
        }
        let mut tx = self.store.pool().begin().await?;
        if p.mode() == Mode::Inline {
            sqlx::query("select pg_advisory_xact_lock(hashtext('passerelle:projection:' || $1))")
                .bind(p.name())
                .execute(&mut *tx)
                .await?;
            // Appends that write the projection in their own statement lock
            // the live row instead (`Fused`): this waits for them too, and
            // those that come after find the row retired and go again.
            sqlx::query(
                "select 1 from projection_checkpoints
                 where projection = $1 and status = 'live' for update",
            )
            .bind(p.name())
            .execute(&mut *tx)
            .await?;
        }
        let checkpoint: Option<(i64, i64)> = sqlx::query_as(
            "select transaction_id, global_position from projection_checkpoints
             where projection = $1 and version = $2 and status = 'building' for update",
        )
        .bind(p.name())
        .bind(version)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((transaction_id, global_position)) = checkpoint else {
            // Another replica swapped it already.
            return Ok(true);
        };
        if p.mode() == Mode::Inline {
            let mut after = LogPosition {
                transaction_id,
                global_position,
            };
            set_search_path(&mut tx, &version_schema(p.name(), version)).await?;
            loop {
                // No inline appender is in flight: every event is committed.
                let batch = self
                    .store
                    .read_all_where(&mut tx, after, self.config.rebuild_batch_size, false, |e| {
                        p.handles(e)
                    })
                    .await?;
                let Some(reached) = batch.reached else { break };
                apply_handled(p, &mut tx, &batch.events)
                    .await
                    .map_err(|e| StoreError::Projection {
                        projection: p.name().to_owned(),
                        message: e.to_string(),
                    })?;
                advance(&mut tx, p.name(), version, reached, batch.read as i64).await?;
                after = reached;
            }
            sqlx::query("set local search_path to default")
                .execute(&mut *tx)
                .await?;
        }
        let previous: Vec<i32> = sqlx::query_scalar(
            "update projection_checkpoints set status = 'retired', updated_at = now()
             where projection = $1 and status = 'live' returning version",
        )
        .bind(p.name())
        .fetch_all(&mut *tx)
        .await?;
        sqlx::query(
            "update projection_checkpoints set status = 'live', updated_at = now() where projection = $1 and version = $2",
        )
        .bind(p.name())
        .bind(version)
        .execute(&mut *tx)
        .await?;
        point_views(&mut tx, p.name(), version).await?;
        tx.commit().await?;
        tracing::info!(projection = p.name(), version, "projection version is live");
        // The retired versions' tables are dropped once the swap committed,
        // not in its transaction: an append that wrote them in its own
        // statement may hold a lock on them while it waits for the live row
        // this transaction locked, and dropping them here would wait on it
        // in turn (a deadlock). Once the swap committed, that append finds
        // the row retired, appends nothing and goes again, and the drop
        // proceeds. Nothing reads a retired version.
        for old in previous {
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "drop schema if exists {} cascade",
                version_schema(p.name(), old)
            )))
            .execute(self.store.pool())
            .await?;
        }
        Ok(true)
    }
}

/// A batch read ahead of its turn, from `from` on.
#[derive(Debug)]
struct Ahead {
    from: LogPosition,
    batch: crate::store::ReadBatch,
}

/// A batch of a one-pass rebuild: the events some projection handles, with
/// their data, and every event read as its position and which projections
/// handle it (bit `i` for the pass's projection `i`).
#[derive(Debug)]
struct PassBatch {
    events: Vec<RecordedEvent>,
    envelopes: Vec<(LogPosition, u64)>,
    read: usize,
    reached: Option<LogPosition>,
}

async fn read_pass(
    store: &Store,
    conn: &mut PgConnection,
    parts: &[(Arc<dyn Projection>, i32)],
    after: LogPosition,
    limit: i64,
) -> Result<PassBatch> {
    let envelopes = std::sync::Mutex::new(Vec::with_capacity(usize::try_from(limit).unwrap_or(0)));
    let batch = store
        .read_all_where(conn, after, limit, true, |e| {
            let bits = parts
                .iter()
                .enumerate()
                .filter(|(_, (p, _))| p.handles(e))
                .fold(0u64, |bits, (i, _)| bits | 1 << i);
            envelopes
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push((e.position, bits));
            bits != 0
        })
        .await?;
    Ok(PassBatch {
        events: batch.events,
        envelopes: envelopes
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
        read: batch.read,
        reached: batch.reached,
    })
}

/// Applies the events a projection handles, when there are some: a batch
/// of events it does not read leaves its tables as they are.
async fn apply_handled(
    p: &dyn Projection,
    conn: &mut PgConnection,
    events: &[RecordedEvent],
) -> Result<(), ProjectionError> {
    if events.is_empty() {
        return Ok(());
    }
    p.apply(conn, events).await
}

/// The position a projection's version has reached, its checkpoint row
/// locked for the transaction; `None` when another batch holds it, or when
/// the version is retired, paused or waiting to retry.
async fn lock_checkpoint(
    tx: &mut Transaction<'_, Postgres>,
    name: &str,
    version: i32,
) -> Result<Option<LogPosition>> {
    let checkpoint: Option<(i64, i64, Option<bool>)> = sqlx::query_as(
        "select transaction_id, global_position, unlogged from projection_checkpoints
         where projection = $1 and version = $2 and status <> 'retired' and not paused
           and (retry_at is null or retry_at <= now())
         for update skip locked",
    )
    .bind(name)
    .bind(version)
    .fetch_optional(&mut **tx)
    .await?;
    match checkpoint {
        None => Ok(None),
        Some((_, _, Some(true))) if build_lost(tx, name, version).await? => {
            Ok(Some(restart_lost_build(tx, name, version).await?))
        }
        Some((transaction_id, global_position, _)) => Ok(Some(LogPosition {
            transaction_id,
            global_position,
        })),
    }
}

/// Whether the unlogged tables of a version being built were emptied by a
/// server restart: its marker is gone. Asked in a statement of its own, after
/// the checkpoint is locked, so that it sees what a runner that held the lock
/// before committed.
async fn build_lost(tx: &mut Transaction<'_, Postgres>, name: &str, version: i32) -> Result<bool> {
    Ok(sqlx::query_scalar(
        "select not exists (select 1 from projection_build_markers
                            where projection = $1 and version = $2)",
    )
    .bind(name)
    .bind(version)
    .fetch_one(&mut **tx)
    .await?)
}

async fn set_search_path(conn: &mut PgConnection, schema: &str) -> Result<()> {
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "set local search_path to {schema}, public"
    )))
    .execute(conn)
    .await?;
    Ok(())
}

async fn advance(
    conn: &mut PgConnection,
    name: &str,
    version: i32,
    reached: LogPosition,
    count: i64,
) -> Result<()> {
    sqlx::query(
        "update projection_checkpoints
         set transaction_id = $3, global_position = $4,
             events_applied = events_applied + $5, failures = 0, last_error = null, retry_at = null,
             updated_at = now()
         where projection = $1 and version = $2",
    )
    .bind(name)
    .bind(version)
    .bind(reached.transaction_id)
    .bind(reached.global_position)
    .bind(count)
    .execute(conn)
    .await?;
    Ok(())
}

async fn next_version(tx: &mut Transaction<'_, Postgres>, name: &str) -> Result<i32> {
    Ok(sqlx::query_scalar(
        "select coalesce(max(version), 0) + 1 from projection_checkpoints where projection = $1",
    )
    .bind(name)
    .fetch_one(&mut **tx)
    .await?)
}

async fn create_version(
    tx: &mut Transaction<'_, Postgres>,
    p: &dyn Projection,
    version: i32,
    status: &str,
) -> Result<()> {
    let schema = version_schema(p.name(), version);
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "drop schema if exists {schema} cascade; create schema {schema}; set local search_path to {schema}, public"
    )))
    .execute(&mut **tx)
    .await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(p.schema_sql()))
        .execute(&mut **tx)
        .await?;
    sqlx::query("set local search_path to default")
        .execute(&mut **tx)
        .await?;
    // A version to build from the log writes without the write-ahead log
    // until it is made live (see `make_durable`).
    let unlogged = status == "building";
    if unlogged {
        set_persistence(tx, &schema, "unlogged").await?;
        mark_build(tx, p.name(), version).await?;
    }
    sqlx::query(
        "insert into projection_checkpoints (projection, version, status, schema_hash, unlogged)
         values ($1, $2, $3, $4, $5)",
    )
    .bind(p.name())
    .bind(version)
    .bind(status)
    .bind(schema_hash(p.schema_sql()))
    .bind(unlogged)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The tables of a version's schema, by name.
async fn tables_of(conn: &mut PgConnection, schema: &str) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar(
        "select tablename::text from pg_tables where schemaname = $1 order by tablename",
    )
    .bind(schema)
    .fetch_all(conn)
    .await?)
}

/// Sets every table of `schema` `logged` or `unlogged`. Projection tables
/// reference no other table, so the order does not matter.
async fn set_persistence(conn: &mut PgConnection, schema: &str, persistence: &str) -> Result<()> {
    let tables = tables_of(conn, schema).await?;
    if tables.is_empty() {
        return Ok(());
    }
    // Names come from the catalog.
    let sql: String = tables
        .iter()
        .map(|t| format!("alter table {schema}.\"{t}\" set {persistence};"))
        .collect();
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(conn)
        .await?;
    Ok(())
}

/// Records that the unlogged tables of a version being built hold what its
/// checkpoint says: the row is in an unlogged table, emptied by the same
/// crash that empties them.
async fn mark_build(conn: &mut PgConnection, name: &str, version: i32) -> Result<()> {
    sqlx::query(
        "insert into projection_build_markers (projection, version) values ($1, $2)
         on conflict do nothing",
    )
    .bind(name)
    .bind(version)
    .execute(conn)
    .await?;
    Ok(())
}

/// A version being built whose unlogged tables a server crash emptied (or a
/// failover left behind: a standby never holds them): its tables are emptied
/// for good measure, its checkpoint goes back to the start of the log and it
/// is built again from there. Returns that start.
async fn restart_lost_build(
    tx: &mut Transaction<'_, Postgres>,
    name: &str,
    version: i32,
) -> Result<LogPosition> {
    tracing::warn!(
        projection = name,
        version,
        "a version being built lost its unlogged tables in a server restart: building it again from the start of the log"
    );
    let schema = version_schema(name, version);
    let tables = tables_of(tx, &schema).await?;
    if !tables.is_empty() {
        let list: Vec<String> = tables.iter().map(|t| format!("{schema}.\"{t}\"")).collect();
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("truncate {}", list.join(", "))))
            .execute(&mut **tx)
            .await?;
    }
    let start = LogPosition::START;
    sqlx::query(
        "update projection_checkpoints
         set transaction_id = $3, global_position = $4, events_applied = 0, updated_at = now()
         where projection = $1 and version = $2",
    )
    .bind(name)
    .bind(version)
    .bind(start.transaction_id)
    .bind(start.global_position)
    .execute(&mut **tx)
    .await?;
    mark_build(tx, name, version).await?;
    Ok(start)
}

/// The tables, columns, indexes and constraints of `schema`, as text with
/// the schema's name left out: equal for two schemas made by the same DDL.
async fn schema_signature(tx: &mut Transaction<'_, Postgres>, schema: &str) -> Result<String> {
    Ok(sqlx::query_scalar(
        "select coalesce(string_agg(line, E'\n' order by line), '') from (
         select replace(line, $1 || '.', '') as line from (
             select format('%s.%s %s %s %s %s', table_name, column_name, ordinal_position,
                           udt_name, is_nullable, column_default) as line
             from information_schema.columns where table_schema = $1
             union all
             select indexdef from pg_indexes where schemaname = $1
             union all
             select format('%s %s', conrelid::regclass, pg_get_constraintdef(oid))
             from pg_constraint where connamespace = $1::regnamespace
         ) s) unqualified",
    )
    .bind(schema)
    .fetch_one(&mut **tx)
    .await?)
}

/// Versions made before their DDL's hash was recorded: those whose tables
/// are exactly what the code's DDL makes are stamped with its hash, so an
/// upgrade rebuilds only the projections whose tables changed. The DDL is
/// run in a throwaway schema to compare, then rolled back.
async fn adopt_unhashed(
    tx: &mut Transaction<'_, Postgres>,
    p: &dyn Projection,
    hash: &str,
) -> Result<()> {
    let unhashed: Vec<i32> = sqlx::query_scalar(
        "select version from projection_checkpoints
         where projection = $1 and status <> 'retired' and schema_hash is null",
    )
    .bind(p.name())
    .fetch_all(&mut **tx)
    .await?;
    if unhashed.is_empty() {
        return Ok(());
    }
    const PROBE: &str = "passerelle_ddl_probe";
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "savepoint ddl_probe; create schema {PROBE}; set local search_path to {PROBE}, public"
    )))
    .execute(&mut **tx)
    .await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(p.schema_sql()))
        .execute(&mut **tx)
        .await?;
    let wanted = schema_signature(tx, PROBE).await?;
    sqlx::raw_sql("rollback to savepoint ddl_probe; release savepoint ddl_probe")
        .execute(&mut **tx)
        .await?;
    for version in unhashed {
        if schema_signature(tx, &version_schema(p.name(), version)).await? == wanted {
            sqlx::query(
                "update projection_checkpoints set schema_hash = $3
                 where projection = $1 and version = $2",
            )
            .bind(p.name())
            .bind(version)
            .bind(hash)
            .execute(&mut **tx)
            .await?;
        }
    }
    Ok(())
}

/// Retires the versions of `name` being built with another DDL than `hash`
/// (another release of the code began them) and, when `live_too`, a stale
/// live version (on an empty log, where the new version goes live at once).
async fn retire_stale(
    tx: &mut Transaction<'_, Postgres>,
    name: &str,
    hash: &str,
    live_too: bool,
) -> Result<()> {
    let retired: Vec<i32> = sqlx::query_scalar(
        "update projection_checkpoints set status = 'retired', updated_at = now()
         where projection = $1 and schema_hash is distinct from $2
           and (status = 'building' or ($3 and status = 'live'))
         returning version",
    )
    .bind(name)
    .bind(hash)
    .bind(live_too)
    .fetch_all(&mut **tx)
    .await?;
    sqlx::query("delete from projection_build_markers where projection = $1 and version = any($2)")
        .bind(name)
        .bind(&retired)
        .execute(&mut **tx)
        .await?;
    for version in retired {
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "drop schema if exists {} cascade",
            version_schema(name, version)
        )))
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Rebuilds the stable schema `<name>` as views over the tables of `version`.
async fn point_views(tx: &mut Transaction<'_, Postgres>, name: &str, version: i32) -> Result<()> {
    let schema = version_schema(name, version);
    let tables: Vec<String> = sqlx::query_scalar(
        "select table_name::text from information_schema.tables
         where table_schema = $1 and table_type = 'BASE TABLE' order by table_name",
    )
    .bind(&schema)
    .fetch_all(&mut **tx)
    .await?;
    let mut sql = format!("drop schema if exists {name} cascade; create schema {name};");
    for t in tables {
        sql.push_str(&format!(
            "create view {name}.{t} as select * from {schema}.{t};"
        ));
    }
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(&mut **tx)
        .await?;
    Ok(())
}
