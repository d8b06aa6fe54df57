//! Live updates across replicas: the streams this process commits to are
//! published through PostgreSQL after their commit, and what the other
//! replicas publish is heard on a dedicated connection and announced to
//! this process's subscribers, as if it had carried the command.

use passerelle_store::changes::{self, EVERYTHING};
use passerelle_store::listener::{self, Heard};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::watch;
use uuid::Uuid;

use crate::handler::Handler;

/// What subscribers hear when changes may have been missed: read again
/// whatever they show.
pub const RESYNC: &str = EVERYTHING;

/// The most streams published in one statement.
const BATCH: usize = 500;

/// Publishes this process's commits and relays the other replicas' until
/// `stop` turns true.
pub async fn fan_out(handler: Handler, stop: watch::Receiver<bool>) {
    // Tells this process's notifications from the others'.
    let origin = Uuid::new_v4();
    let relay = handler.clone();
    let listening = listener::listen(
        handler.store().pool().clone(),
        move |heard| match heard {
            Heard::Change { origin: from, .. } if from == origin => {}
            Heard::Change { stream, .. } => relay.announce(stream),
            Heard::Resync => relay.announce(RESYNC.to_owned()),
        },
        stop.clone(),
    );
    tokio::join!(listening, publish(handler, origin, stop));
}

/// Sends this process's commits, gathered while the previous statement ran.
async fn publish(handler: Handler, origin: Uuid, mut stop: watch::Receiver<bool>) {
    let mut committed = handler.committed();
    // Set when some commits could not be told: the next statement tells the
    // others to read everything again.
    let mut missed = false;
    loop {
        let mut batch = Vec::new();
        let first = tokio::select! {
            first = committed.recv() => first,
            _ = stop.changed() => return,
        };
        match first {
            Ok(stream) => batch.push(stream),
            Err(RecvError::Lagged(_)) => missed = true,
            Err(RecvError::Closed) => return,
        }
        while batch.len() < BATCH {
            match committed.try_recv() {
                Ok(stream) => batch.push(stream),
                Err(tokio::sync::broadcast::error::TryRecvError::Lagged(_)) => missed = true,
                Err(_) => break,
            }
        }
        if missed {
            batch = vec![RESYNC.to_owned()];
        } else {
            batch.sort_unstable();
            batch.dedup();
        }
        match changes::publish(handler.store().pool(), origin, &batch).await {
            Ok(()) => missed = false,
            Err(e) => {
                tracing::warn!(error = %e, "cannot tell other replicas of changes");
                missed = true;
            }
        }
    }
}
