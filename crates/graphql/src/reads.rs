//! Where the reads that may lag are served: the dashboards (and the CSV
//! exports, which run the same operations) and the long lists (people,
//! immersions) read from a streaming standby when `database.read_url` names
//! one, so their scans do not load the primary that takes every command.
//!
//! The primary serves them instead when there is no standby, when the
//! standby is behind by more than the configured bound or unreachable (the
//! binary measures it and calls [`Reads::set_standby_usable`]), when a read
//! on the standby fails or takes longer than [`STANDBY_READ_WITHIN`] (it is
//! run again on the primary), and for a viewer who ran a mutation through
//! this process in the last seconds (read-your-writes: what they just did
//! is on the primary first).
//!
//! The bound holds per connection, not only for the one the binary
//! measures: `read_url` may name a Service balancing over several
//! standbys. The binary notes in [`ReplayFloor`] the primary's position
//! that a standby must have replayed to be within the bound, and checks
//! each standby connection against it when the pool hands it out; a
//! connection behind is closed and another one opened.
//!
//! Only a failure of the standby itself (connection lost, no connection
//! in time, a conflict with recovery, a read that does not answer in time)
//! stops it serving until the next measure; any other error (a statement
//! timeout a heavy filter causes, a bad row) sends that read alone to the
//! primary, so no viewer can switch the standby off for everyone. Each
//! routed read is counted in `passerelle_lagging_reads_total` by where it
//! was served and why; nothing about the viewer is logged.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextResolve, ResolveInfo,
};
use async_graphql::{Context, ServerResult, Value};
use passerelle_accounts::Principal;
use sqlx::PgPool;
use uuid::Uuid;

use crate::context::{Gateway, Viewer};

/// Beyond this many viewers remembered as recent writers, the expired ones
/// are dropped: the table stays bounded whatever the traffic.
const PRUNE_ABOVE: usize = 10_000;

/// How long a read on the standby may take before it is run on the primary
/// instead: above the standby's `statement_timeout`, so a heavy read ends
/// there first with an error of its own; reaching this means the standby
/// does not answer.
pub const STANDBY_READ_WITHIN: Duration = Duration::from_secs(12);

/// The primary's WAL position (bytes from `0/0`) that a standby connection
/// must have replayed to serve: the position the primary had `read_max_lag`
/// ago. Shared between the measure, which sets it, and the standby pool,
/// which checks each connection against it.
#[derive(Debug, Clone)]
pub struct ReplayFloor(Arc<AtomicI64>);

impl Default for ReplayFloor {
    fn default() -> Self {
        Self::new()
    }
}

impl ReplayFloor {
    /// No floor yet: the standby is not declared usable before a measure.
    pub fn new() -> Self {
        Self(Arc::new(AtomicI64::new(i64::MIN)))
    }

    pub fn set(&self, position: i64) {
        self.0.store(position, Ordering::Relaxed);
    }

    /// `None` until the first measure.
    pub fn get(&self) -> Option<i64> {
        Some(self.0.load(Ordering::Relaxed)).filter(|p| *p != i64::MIN)
    }
}

/// Whether an error on the standby tells that the standby itself fails
/// (rather than this read): it then stops serving until the next measure.
pub trait StandbyFailure {
    fn standby_failed(&self) -> bool;
}

impl StandbyFailure for sqlx::Error {
    fn standby_failed(&self) -> bool {
        match self {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => true,
            sqlx::Error::Database(e) => {
                sqlstate_fails_standby(e.code().as_deref().unwrap_or(""), e.message())
            }
            _ => false,
        }
    }
}

impl StandbyFailure for passerelle_projections::dashboards::DashboardError {
    fn standby_failed(&self) -> bool {
        match self {
            Self::Sql(e) => e.standby_failed(),
            _ => false,
        }
    }
}

/// Connection exceptions (class 08), the server shutting down or not yet
/// accepting (57P01..57P03), and the conflicts with recovery a standby
/// cancels queries with (40001, or 57014 saying so). A plain 57014 is a
/// statement timeout: that read was too heavy, the standby is fine.
fn sqlstate_fails_standby(code: &str, message: &str) -> bool {
    code.starts_with("08")
        || matches!(code, "40001" | "57P01" | "57P02" | "57P03")
        || (code == "57014" && message.contains("conflict with recovery"))
}

/// The standby, if any, whether it may serve, and who wrote recently.
#[derive(Debug, Clone)]
pub struct Reads {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    standby: Option<PgPool>,
    usable: AtomicBool,
    floor: ReplayFloor,
    /// How long after a mutation a viewer's reads stay on the primary.
    own_writes_for: Duration,
    writers: Mutex<HashMap<Writer, Instant>>,
}

/// A viewer, as remembered for read-your-writes: ids only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Writer {
    Staff(Uuid),
    Principal(Principal),
}

impl Reads {
    /// Every read on the primary.
    pub fn primary_only() -> Self {
        Self::new(None, Duration::ZERO, ReplayFloor::new())
    }

    /// Reads that may lag go to `standby` once it is declared usable;
    /// `floor` is the one the standby pool checks its connections against.
    pub fn with_standby(standby: PgPool, own_writes_for: Duration, floor: ReplayFloor) -> Self {
        Self::new(Some(standby), own_writes_for, floor)
    }

    fn new(standby: Option<PgPool>, own_writes_for: Duration, floor: ReplayFloor) -> Self {
        Self {
            inner: Arc::new(Inner {
                standby,
                usable: AtomicBool::new(false),
                floor,
                own_writes_for,
                writers: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The standby's pool, for whoever measures its lag.
    pub fn standby(&self) -> Option<&PgPool> {
        self.inner.standby.as_ref()
    }

    /// Whether the standby is close enough behind the primary to serve.
    pub fn set_standby_usable(&self, usable: bool) {
        self.inner.usable.store(usable, Ordering::Relaxed);
    }

    /// The position a standby connection must have replayed to serve.
    pub fn replay_floor(&self) -> &ReplayFloor {
        &self.inner.floor
    }

    pub fn standby_usable(&self) -> bool {
        self.inner.standby.is_some() && self.inner.usable.load(Ordering::Relaxed)
    }

    fn wrote(&self, writer: Writer) {
        if self.inner.standby.is_none() {
            return;
        }
        let now = Instant::now();
        let mut writers = self.inner.writers.lock().unwrap_or_else(|e| e.into_inner());
        if writers.len() >= PRUNE_ABOVE {
            let keep = self.inner.own_writes_for;
            writers.retain(|_, at| now.duration_since(*at) < keep);
        }
        writers.insert(writer, now);
    }

    fn wrote_recently(&self, writer: Writer) -> bool {
        let writers = self.inner.writers.lock().unwrap_or_else(|e| e.into_inner());
        writers
            .get(&writer)
            .is_some_and(|at| at.elapsed() < self.inner.own_writes_for)
    }

    /// Where a read that may lag goes for this viewer, and why.
    fn route(&self, viewer: Option<Writer>) -> (Option<&PgPool>, &'static str) {
        let Some(standby) = &self.inner.standby else {
            return (None, "no_standby");
        };
        if !self.inner.usable.load(Ordering::Relaxed) {
            return (None, "standby_behind");
        }
        if viewer.is_some_and(|w| self.wrote_recently(w)) {
            return (None, "own_writes");
        }
        (Some(standby), "standby")
    }
}

fn writer_of(viewer: Option<&Viewer>) -> Option<Writer> {
    let viewer = viewer?;
    if let Some(user) = &viewer.user {
        return Some(Writer::Staff(user.user_id.0));
    }
    viewer.principal.map(|p| Writer::Principal(p.principal))
}

fn counted(served_by: &'static str, reason: &'static str) {
    metrics::counter!("passerelle_lagging_reads_total", "served_by" => served_by, "reason" => reason)
        .increment(1);
}

/// Runs `read` on the standby when it may serve this viewer, else on the
/// primary; a read that fails on the standby, or does not answer within
/// [`STANDBY_READ_WITHIN`], is run again on the primary. Only a failure of
/// the standby itself stops it serving the others (see [`StandbyFailure`]).
/// Boxed: the resolvers' futures nest deep enough already.
pub(crate) fn lagging<'a, T, E, F, Fut>(
    ctx: &'a Context<'_>,
    read: F,
) -> futures::future::BoxFuture<'a, Result<T, E>>
where
    F: Fn(PgPool) -> Fut + Send + 'a,
    Fut: Future<Output = Result<T, E>> + Send + 'a,
    E: std::fmt::Display + StandbyFailure + Send + 'a,
    T: Send + 'a,
{
    let primary = ctx.data_unchecked::<Gateway>().pool.clone();
    let reads = ctx.data_opt::<Reads>().cloned();
    let writer = writer_of(ctx.data_opt::<Viewer>());
    Box::pin(async move {
        let Some(reads) = reads else {
            return read(primary).await;
        };
        let (standby, reason) = reads.route(writer);
        let Some(standby) = standby.cloned() else {
            counted("primary", reason);
            return read(primary).await;
        };
        match tokio::time::timeout(STANDBY_READ_WITHIN, read(standby)).await {
            Ok(Ok(answer)) => {
                counted("standby", reason);
                Ok(answer)
            }
            Ok(Err(e)) if e.standby_failed() => {
                // Until the next measure says otherwise, the primary serves:
                // the standby itself fails, every read there would too.
                reads.set_standby_usable(false);
                tracing::warn!(error = %e, "the standby failed: read again on the primary");
                counted("primary", "standby_failed");
                read(primary).await
            }
            Ok(Err(e)) => {
                // This read only (too heavy, a bad row): the standby goes on
                // serving the others.
                tracing::warn!(error = %e, "a read on the standby failed: read again on the primary");
                counted("primary", "standby_read_failed");
                read(primary).await
            }
            Err(_) => {
                reads.set_standby_usable(false);
                tracing::warn!(
                    within_ms = STANDBY_READ_WITHIN.as_millis(),
                    "the standby did not answer in time: read again on the primary"
                );
                counted("primary", "standby_timed_out");
                read(primary).await
            }
        }
    })
}

/// Remembers the viewers who ran a mutation, for read-your-writes.
pub(crate) struct OwnWrites;

impl ExtensionFactory for OwnWrites {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(OwnWritesExtension)
    }
}

struct OwnWritesExtension;

#[async_trait::async_trait]
impl Extension for OwnWritesExtension {
    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        if info.parent_type == "Mutation"
            && let (Some(reads), Some(writer)) =
                (ctx.data_opt::<Reads>(), writer_of(ctx.data_opt::<Viewer>()))
        {
            // Before the command runs: a read sent while it commits goes to
            // the primary too.
            reads.wrote(writer);
        }
        next.run(ctx, info).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(reads: &Reads, viewer: Option<Writer>) -> &'static str {
        reads.route(viewer).1
    }

    #[test]
    fn only_a_failing_standby_stops_it_serving_the_others() {
        assert!(sqlx::Error::PoolTimedOut.standby_failed());
        assert!(sqlx::Error::Io(std::io::ErrorKind::ConnectionReset.into()).standby_failed());
        assert!(!sqlx::Error::RowNotFound.standby_failed());
        assert!(!sqlx::Error::ColumnNotFound("id".into()).standby_failed());
        // Connection lost, server going away, conflicts with recovery.
        assert!(sqlstate_fails_standby("08006", "connection failure"));
        assert!(sqlstate_fails_standby("57P01", "terminating connection"));
        assert!(sqlstate_fails_standby(
            "40001",
            "terminating connection due to conflict with recovery"
        ));
        assert!(sqlstate_fails_standby(
            "57014",
            "canceling statement due to conflict with recovery"
        ));
        // A heavy filter's statement timeout, a bad query: that read only.
        assert!(!sqlstate_fails_standby(
            "57014",
            "canceling statement due to statement timeout"
        ));
        assert!(!sqlstate_fails_standby("42P01", "relation does not exist"));
        assert!(!sqlstate_fails_standby("22P02", "invalid input syntax"));
    }

    #[test]
    fn the_replay_floor_is_unset_until_measured() {
        let floor = ReplayFloor::new();
        assert_eq!(floor.get(), None);
        floor.set(42);
        assert_eq!(floor.clone().get(), Some(42));
    }

    #[test]
    fn without_a_standby_every_read_is_on_the_primary() {
        let reads = Reads::primary_only();
        reads.set_standby_usable(true);
        assert!(!reads.standby_usable());
        assert_eq!(reason(&reads, None), "no_standby");
    }

    #[tokio::test]
    async fn the_standby_serves_once_usable_except_a_viewer_who_just_wrote() {
        let pool = PgPool::connect_lazy("postgres://nobody@127.0.0.1:1/none").unwrap();
        let reads = Reads::with_standby(pool, Duration::from_millis(200), ReplayFloor::new());
        let (camille, dominique) = (
            Writer::Staff(Uuid::from_u128(1)),
            Writer::Staff(Uuid::from_u128(2)),
        );
        assert_eq!(reason(&reads, Some(camille)), "standby_behind");
        reads.set_standby_usable(true);
        assert_eq!(reason(&reads, Some(camille)), "standby");
        reads.wrote(camille);
        assert_eq!(reason(&reads, Some(camille)), "own_writes");
        assert_eq!(reason(&reads, Some(dominique)), "standby");
        assert_eq!(reason(&reads, None), "standby");
        std::thread::sleep(Duration::from_millis(250));
        assert_eq!(reason(&reads, Some(camille)), "standby");
    }
}
