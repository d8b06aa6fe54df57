//! Aggregate states kept between commands, so that a command on a long
//! stream (an employer visited for years) reads and folds only the events
//! appended since its last command instead of the whole stream.
//!
//! The store stays the truth: a cached state is only a starting point, the
//! events after its version are always read, and the append still checks
//! the version. A state is taken out while a command uses it and put back
//! after the commit, so two commands never share one.
//!
//! Entries expire after a short time: a state holds decoded personal data,
//! and a subject erased on another path or replica must not linger here.

use std::any::Any;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

struct Entry {
    version: i64,
    state: Box<dyn Any + Send + Sync>,
    stored: Instant,
}

pub struct StateCache {
    entries: Mutex<HashMap<String, Entry>>,
    capacity: usize,
    ttl: Duration,
}

impl std::fmt::Debug for StateCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateCache")
            .field("capacity", &self.capacity)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl StateCache {
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            capacity,
            ttl,
        }
    }

    /// The state of `stream` at the returned version, if one is kept and
    /// fresh; it leaves the cache until [`StateCache::put`] returns it.
    pub fn take<S: 'static>(&self, stream: &str) -> Option<(i64, S)> {
        let entry = self.lock().remove(stream)?;
        if entry.stored.elapsed() > self.ttl {
            return None;
        }
        let state = entry.state.downcast::<S>().ok()?;
        Some((entry.version, *state))
    }

    pub fn put<S: Send + Sync + 'static>(&self, stream: &str, version: i64, state: S) {
        if self.capacity == 0 {
            return;
        }
        let mut entries = self.lock();
        if entries.len() >= self.capacity && !entries.contains_key(stream) {
            let ttl = self.ttl;
            entries.retain(|_, e| e.stored.elapsed() <= ttl);
            if entries.len() >= self.capacity {
                // Drop the oldest quarter at once, so a full cache sorts
                // rarely rather than scanning on every command.
                let mut ages: Vec<Instant> = entries.values().map(|e| e.stored).collect();
                ages.sort_unstable();
                let cut = ages[ages.len() / 4];
                entries.retain(|_, e| e.stored > cut);
            }
        }
        entries.insert(
            stream.to_owned(),
            Entry {
                version,
                state: Box::new(state),
                stored: Instant::now(),
            },
        );
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        // A panic while holding the lock leaves a map that is still valid.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_is_taken_once_and_put_back() {
        let cache = StateCache::new(10, Duration::from_secs(60));
        cache.put("s-1", 3, vec![1, 2, 3]);
        assert_eq!(cache.take::<Vec<i32>>("s-1"), Some((3, vec![1, 2, 3])));
        assert_eq!(cache.take::<Vec<i32>>("s-1"), None);
    }

    #[test]
    fn a_state_of_another_type_is_not_returned() {
        let cache = StateCache::new(10, Duration::from_secs(60));
        cache.put("s-1", 1, 7u8);
        assert_eq!(cache.take::<u16>("s-1"), None);
    }

    #[test]
    fn an_expired_state_is_not_returned() {
        let cache = StateCache::new(10, Duration::ZERO);
        cache.put("s-1", 1, 7u8);
        std::thread::sleep(Duration::from_millis(2));
        assert_eq!(cache.take::<u8>("s-1"), None);
    }

    #[test]
    fn a_full_cache_drops_its_oldest_states() {
        let cache = StateCache::new(8, Duration::from_secs(60));
        for n in 0..8 {
            cache.put(&format!("s-{n}"), n, n);
            std::thread::sleep(Duration::from_millis(1));
        }
        cache.put("s-8", 8, 8i64);
        assert_eq!(cache.take::<i64>("s-0"), None, "the oldest went");
        assert_eq!(cache.take::<i64>("s-8"), Some((8, 8)));
        assert_eq!(cache.take::<i64>("s-7"), Some((7, 7)));
        assert!(cache.lock().len() <= 8);
    }
}
