//! The background work of a replica (projections, mail, scheduled jobs),
//! run only while its code is not older than the database: during a rolling
//! upgrade, a replica of the previous release keeps serving reads and
//! commands but leaves that work to the new release, and says so in
//! `/ready` and the log.

use std::time::Duration;

use passerelle_store::projection::Projections;
use tokio::sync::watch;

/// How often a running replica looks whether a newer release has moved the
/// database on.
const CHECK_EVERY: Duration = Duration::from_secs(5);

/// Runs the projections, the mail sender and the scheduler until `stopped`,
/// or until this replica is found older than the database; `fence` carries
/// the reason then (for `/ready`). `fenced` is the reason found at start.
pub(crate) async fn run(
    pool: sqlx::PgPool,
    projections: Projections,
    fenced: Option<String>,
    fence: watch::Sender<Option<String>>,
    (sender, scheduler): (passerelle_notify::Sender, passerelle_notify::Scheduler),
    mut stopped: watch::Receiver<bool>,
) {
    let (halt, halted) = watch::channel(false);
    let work = match fenced {
        Some(reason) => {
            announce(&fence, reason);
            None
        }
        None => {
            let projections = projections.clone();
            Some(tokio::spawn(async move {
                tokio::join!(
                    sender.run(halted.clone()),
                    scheduler.run(halted.clone()),
                    projections.run(halted),
                );
            }))
        }
    };
    loop {
        tokio::select! {
            () = tokio::time::sleep(CHECK_EVERY) => {}
            _ = stopped.changed() => break,
        }
        // Once fenced, a replica stays so until it is replaced.
        if fence.borrow().is_some() {
            continue;
        }
        match passerelle_store::fence::fenced(&pool, Some(&projections)).await {
            Ok(Some(reason)) => {
                announce(&fence, reason);
                let _ = halt.send(true);
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "cannot tell whether a newer release runs"),
        }
    }
    let _ = halt.send(true);
    if let Some(work) = work {
        let _ = work.await;
    }
}

fn announce(fence: &watch::Sender<Option<String>>, reason: String) {
    tracing::error!(
        reason = %reason,
        "fenced: this release is older than the database; it serves reads and commands \
         but applies no projection and sends no mail or scheduled job: replace it with the new release"
    );
    let _ = fence.send(Some(reason));
}
