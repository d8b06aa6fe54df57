//! Where the reads that may lag are served: the dashboards (and the CSV
//! exports, which run the same operations) read from a streaming standby
//! when `database.read_url` names one, so their scans do not load the
//! primary that takes every command.
//!
//! The primary serves them instead when there is no standby, when the
//! standby is behind by more than the configured bound or unreachable (the
//! binary measures it and calls [`Reads::set_standby_usable`]), when a read
//! on the standby fails (it is run again on the primary), and for a viewer
//! who ran a mutation through this process in the last seconds
//! (read-your-writes: what they just did is on the primary first). Each
//! routed read is counted in `passerelle_lagging_reads_total` by where it
//! was served and why; nothing about the viewer is logged.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
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

/// The standby, if any, whether it may serve, and who wrote recently.
#[derive(Debug, Clone)]
pub struct Reads {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    standby: Option<PgPool>,
    usable: AtomicBool,
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
        Self::new(None, Duration::ZERO)
    }

    /// Reads that may lag go to `standby` once it is declared usable.
    pub fn with_standby(standby: PgPool, own_writes_for: Duration) -> Self {
        Self::new(Some(standby), own_writes_for)
    }

    fn new(standby: Option<PgPool>, own_writes_for: Duration) -> Self {
        Self {
            inner: Arc::new(Inner {
                standby,
                usable: AtomicBool::new(false),
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
/// primary; a read that fails on the standby is run again on the primary.
/// Boxed: the resolvers' futures nest deep enough already.
pub(crate) fn lagging<'a, T, E, F, Fut>(
    ctx: &'a Context<'_>,
    read: F,
) -> futures::future::BoxFuture<'a, Result<T, E>>
where
    F: Fn(PgPool) -> Fut + Send + 'a,
    Fut: Future<Output = Result<T, E>> + Send + 'a,
    E: std::fmt::Display + Send + 'a,
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
        match read(standby).await {
            Ok(answer) => {
                counted("standby", reason);
                Ok(answer)
            }
            Err(e) => {
                // Until the next measure says otherwise, the primary serves:
                // one failure is enough to stop sending every read there.
                reads.set_standby_usable(false);
                tracing::warn!(error = %e, "a read on the standby failed: read again on the primary");
                counted("primary", "standby_failed");
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
    fn without_a_standby_every_read_is_on_the_primary() {
        let reads = Reads::primary_only();
        reads.set_standby_usable(true);
        assert!(!reads.standby_usable());
        assert_eq!(reason(&reads, None), "no_standby");
    }

    #[tokio::test]
    async fn the_standby_serves_once_usable_except_a_viewer_who_just_wrote() {
        let pool = PgPool::connect_lazy("postgres://nobody@127.0.0.1:1/none").unwrap();
        let reads = Reads::with_standby(pool, Duration::from_millis(200));
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
