//! How far the standby of `database.read_url` is behind the primary, measured
//! every second, and whether it may serve the reads that may lag.
//!
//! Each second the primary's WAL position (`pg_current_wal_lsn()`) is noted
//! with the instant; the standby's replayed position
//! (`pg_last_wal_replay_lsn()`) then tells which noted instant it has
//! reached, and its lag is the time since. This holds when the primary is
//! idle, where the time since the last replayed transaction
//! (`pg_last_xact_replay_timestamp()`) would grow without the standby being
//! behind. A standby that has reached no noted position (just started, far
//! behind) or does not answer within `MEASURE_WITHIN` does not serve.
//!
//! The measure also notes, in the `ReplayFloor` the standby pool checks each
//! connection against, the oldest primary position noted within the bound:
//! a connection that has replayed it is at most the bound behind (give or
//! take the second between two measures), whichever standby behind a
//! load-balancing Service it reaches.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use passerelle_graphql::Reads;
use sqlx::PgPool;
use tokio::sync::watch;

const EVERY: Duration = Duration::from_secs(1);

/// A measure that takes longer says the standby (or the primary) does not
/// answer: the primary serves, and the next measure is not delayed.
const MEASURE_WITHIN: Duration = Duration::from_secs(2);

/// The standby's replayed position (its own written one if it is not in
/// recovery), as a byte offset; also checked on each pooled connection.
pub(crate) const REPLAYED: &str = "select pg_wal_lsn_diff(case when pg_is_in_recovery() \
    then pg_last_wal_replay_lsn() else pg_current_wal_lsn() end, '0/0')::bigint";

/// Measures until `stopped`; logs when the standby starts or stops serving.
pub(crate) async fn watch(
    primary: PgPool,
    reads: Reads,
    max_lag: Duration,
    mut stopped: watch::Receiver<bool>,
) {
    let Some(standby) = reads.standby().cloned() else {
        return;
    };
    let mut lag = Lag::new(max_lag);
    let mut serving = None;
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stopped.wait_for(|s| *s) => return,
        }
        let measured = match tokio::time::timeout(MEASURE_WITHIN, measure(&primary, &standby)).await
        {
            Ok(measured) => measured,
            Err(_) => Err(sqlx::Error::PoolTimedOut),
        };
        let now = Instant::now();
        let behind = match &measured {
            Ok((written, replayed)) => lag.behind(now, *written, *replayed),
            Err(_) => None,
        };
        if let Some(floor) = lag.floor(now, max_lag) {
            reads.replay_floor().set(floor);
        }
        let usable = behind.is_some_and(|b| b <= max_lag);
        reads.set_standby_usable(usable);
        metrics::gauge!("passerelle_standby_usable").set(if usable { 1.0 } else { 0.0 });
        if let Some(b) = behind {
            metrics::gauge!("passerelle_standby_lag_seconds").set(b.as_secs_f64());
        }
        if serving != Some(usable) {
            serving = Some(usable);
            match (&measured, behind) {
                _ if usable => tracing::info!(
                    lag_ms = behind.map_or(0, |b| b.as_millis()),
                    "the standby serves the reads that may lag"
                ),
                (Err(e), _) => tracing::warn!(
                    error = %e,
                    "the standby does not answer: the primary serves the reads that may lag"
                ),
                (Ok(_), Some(b)) => tracing::warn!(
                    lag_ms = b.as_millis(),
                    max_lag_ms = max_lag.as_millis(),
                    "the standby is too far behind: the primary serves the reads that may lag"
                ),
                (Ok(_), None) => tracing::warn!(
                    max_lag_ms = max_lag.as_millis(),
                    "the standby has not yet replayed what the primary had written: \
                     the primary serves the reads that may lag"
                ),
            }
        }
    }
}

/// The primary's WAL position, then the standby's replayed one (its own
/// written one if it is not in recovery), as byte offsets.
async fn measure(primary: &PgPool, standby: &PgPool) -> sqlx::Result<(i64, i64)> {
    let written: i64 =
        sqlx::query_scalar("select pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint")
            .fetch_one(primary)
            .await?;
    let replayed: Option<i64> = sqlx::query_scalar(REPLAYED).fetch_one(standby).await?;
    Ok((written, replayed.unwrap_or(-1)))
}

/// The primary's positions noted with their instants, oldest first.
struct Lag {
    noted: VecDeque<(Instant, i64)>,
    keep: Duration,
}

impl Lag {
    fn new(max_lag: Duration) -> Self {
        Self {
            noted: VecDeque::new(),
            // Enough to tell a lag just over the bound from one far over.
            keep: max_lag * 2 + EVERY * 2,
        }
    }

    /// How long ago the primary had written what the standby has replayed;
    /// `None` when the standby is behind every noted position.
    fn behind(&mut self, now: Instant, written: i64, replayed: i64) -> Option<Duration> {
        self.noted.push_back((now, written));
        while self
            .noted
            .front()
            .is_some_and(|(at, _)| now.duration_since(*at) > self.keep)
        {
            self.noted.pop_front();
        }
        self.noted
            .iter()
            .rev()
            .find(|(_, position)| *position <= replayed)
            .map(|(at, _)| now.duration_since(*at))
    }

    /// The oldest position noted within `max_lag` of `now`: a standby that
    /// has replayed it is at most `max_lag` behind. `None` before any note.
    fn floor(&self, now: Instant, max_lag: Duration) -> Option<i64> {
        self.noted
            .iter()
            .find(|(at, _)| now.duration_since(*at) <= max_lag)
            .map(|(_, position)| *position)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lag_is_the_time_since_the_primary_wrote_what_the_standby_replayed() {
        let start = Instant::now();
        let at = |s: u64| start + Duration::from_secs(s);
        let mut lag = Lag::new(Duration::from_secs(5));
        // Just started and behind: no position reached yet.
        assert_eq!(lag.behind(at(0), 100, 90), None);
        // Caught up with what the primary had at 0 s.
        assert_eq!(lag.behind(at(1), 200, 100), Some(Duration::from_secs(1)));
        assert_eq!(lag.behind(at(2), 300, 200), Some(Duration::from_secs(1)));
        // An idle primary: caught up, whatever the time since the last write.
        assert_eq!(lag.behind(at(3), 300, 300), Some(Duration::ZERO));
        assert_eq!(lag.behind(at(30), 300, 300), Some(Duration::ZERO));
        // Stuck while the primary writes: the lag grows, then the standby
        // is behind every position kept.
        assert_eq!(lag.behind(at(31), 400, 300), Some(Duration::from_secs(1)));
        assert_eq!(lag.behind(at(37), 500, 300), Some(Duration::from_secs(7)));
        assert_eq!(lag.behind(at(50), 600, 300), None);
    }

    #[test]
    fn the_floor_is_the_oldest_position_written_within_the_bound() {
        let start = Instant::now();
        let at = |s: u64| start + Duration::from_secs(s);
        let max_lag = Duration::from_secs(2);
        let mut lag = Lag::new(max_lag);
        assert_eq!(lag.floor(at(0), max_lag), None);
        lag.behind(at(0), 100, 0);
        lag.behind(at(1), 200, 0);
        lag.behind(at(2), 300, 0);
        assert_eq!(lag.floor(at(2), max_lag), Some(100));
        lag.behind(at(3), 400, 0);
        // Written 2 s ago: whatever connection replayed it is within 2 s.
        assert_eq!(lag.floor(at(3), max_lag), Some(200));
        // A connection behind the floor is further behind than the bound,
        // as the measure says of the one it reaches.
        assert_eq!(lag.behind(at(4), 500, 250), Some(Duration::from_secs(3)));
        assert_eq!(lag.floor(at(4), max_lag), Some(300));
    }
}
