//! Brute-force protection for logins and magic-link requests: attempts are
//! counted per email address and per client address; past a free allowance,
//! each further attempt locks the key for a delay that doubles up to a cap.
//!
//! Kept in memory, per replica: a guesser spreading over replicas gets one
//! allowance per replica, still bounded. Keys are hashes of fixed size, so an
//! entry costs the same whatever a client sends, and the table holds at
//! most `max_entries` of them.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// What the throttle allows, from configuration.
#[derive(Debug, Clone, Copy)]
pub struct ThrottleSettings {
    /// Attempts per email address before a lockout.
    pub per_address: u32,
    /// Attempts per client address before a lockout: a client may try
    /// several addresses (a shared office), so more than per address.
    pub per_client: u32,
    /// The first lockout; each further attempt doubles it…
    pub base_delay: Duration,
    /// …up to this.
    pub max_delay: Duration,
    /// A key with no attempt for this long (after its lockout) starts over.
    pub forget_after: Duration,
    /// Keys kept at most.
    pub max_entries: usize,
}

impl Default for ThrottleSettings {
    fn default() -> Self {
        Self {
            per_address: 5,
            per_client: 20,
            base_delay: Duration::from_secs(60),
            max_delay: Duration::from_secs(3600),
            forget_after: Duration::from_secs(15 * 60),
            max_entries: 100_000,
        }
    }
}

/// What an attempt is counted against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    Address,
    Client,
}

impl Scope {
    fn as_str(self) -> &'static str {
        match self {
            Scope::Address => "address",
            Scope::Client => "client",
        }
    }
}

/// One key an attempt counts against: the action, the scope and a hash of
/// the value (an address is personal data: it is not kept, nor logged).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    hash: [u8; 16],
    scope: Scope,
}

impl Key {
    /// An email address, for an action (`login`, `link`); the caller
    /// normalises and validates it first.
    pub fn address(action: &str, email: &str) -> Self {
        Self::of(action, Scope::Address, email.as_bytes())
    }

    /// A client's network address, for an action.
    pub fn client(action: &str, ip: IpAddr) -> Self {
        Self::of(action, Scope::Client, ip.to_string().as_bytes())
    }

    fn of(action: &str, scope: Scope, value: &[u8]) -> Self {
        let mut digest = Sha256::new();
        digest.update(action.as_bytes());
        digest.update([0]);
        digest.update(scope.as_str().as_bytes());
        digest.update([0]);
        digest.update(value);
        let mut hash = [0u8; 16];
        hash.copy_from_slice(&digest.finalize()[..16]);
        Self { hash, scope }
    }

    pub fn scope(self) -> Scope {
        self.scope
    }

    /// A short, stable reference for the logs, which says nothing of the
    /// value it stands for.
    pub fn reference(self) -> String {
        self.hash[..6].iter().map(|b| format!("{b:02x}")).collect()
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    attempts: u32,
    locked_until: Option<Instant>,
    last: Instant,
}

/// A lockout just started by an attempt, for the log.
#[derive(Debug, Clone, Copy)]
pub struct Lockout {
    pub scope: &'static str,
    pub key: Key,
    pub retry_after: Duration,
}

/// Attempts per key, with growing lockouts.
#[derive(Debug)]
pub struct Throttle {
    settings: ThrottleSettings,
    entries: Mutex<HashMap<Key, Entry>>,
}

impl Throttle {
    pub fn new(settings: ThrottleSettings) -> Self {
        Self {
            settings,
            entries: Mutex::new(HashMap::new()),
        }
    }

    pub fn settings(&self) -> ThrottleSettings {
        self.settings
    }

    /// How long the caller must wait before trying again, when any of the
    /// keys is locked now. Asked before the attempt's work, so that a locked
    /// key costs nothing and answers alike whether the address exists.
    pub fn locked(&self, keys: &[Key]) -> Option<Duration> {
        let now = Instant::now();
        let entries = self.entries.lock().expect("throttle lock");
        keys.iter()
            .filter_map(|k| entries.get(k)?.locked_until)
            .filter(|until| *until > now)
            .map(|until| until - now)
            .max()
    }

    /// Counts an attempt against every key; the lockouts it started.
    pub fn attempt(&self, keys: &[Key]) -> Vec<Lockout> {
        let now = Instant::now();
        let mut entries = self.entries.lock().expect("throttle lock");
        if entries.len() + keys.len() > self.settings.max_entries {
            self.shrink(&mut entries, now);
        }
        let mut started = Vec::new();
        for key in keys {
            let entry = entries.entry(*key).or_insert(Entry {
                attempts: 0,
                locked_until: None,
                last: now,
            });
            if self.forgotten(entry, now) {
                *entry = Entry {
                    attempts: 0,
                    locked_until: None,
                    last: now,
                };
            }
            entry.attempts = entry.attempts.saturating_add(1);
            entry.last = now;
            let free = match key.scope() {
                Scope::Address => self.settings.per_address,
                Scope::Client => self.settings.per_client,
            };
            if entry.attempts >= free {
                let delay = self.delay(entry.attempts - free);
                entry.locked_until = Some(now + delay);
                started.push(Lockout {
                    scope: key.scope().as_str(),
                    key: *key,
                    retry_after: delay,
                });
            }
        }
        started
    }

    /// Takes back a successful attempt, counted up front so that attempts
    /// sent at once are all counted: its address starts over, its client
    /// gets the attempt back (an office behind one address logs in all day).
    pub fn succeeded(&self, keys: &[Key]) {
        let mut entries = self.entries.lock().expect("throttle lock");
        for key in keys {
            match key.scope() {
                Scope::Address => {
                    entries.remove(key);
                }
                Scope::Client => {
                    if let Some(e) = entries.get_mut(key) {
                        e.attempts = e.attempts.saturating_sub(1);
                    }
                }
            }
        }
    }

    /// The lockout after `beyond` attempts past the allowance: the base
    /// delay, doubled each time, capped.
    fn delay(&self, beyond: u32) -> Duration {
        let factor = 1u32.checked_shl(beyond.min(31)).unwrap_or(u32::MAX);
        self.settings
            .base_delay
            .checked_mul(factor)
            .unwrap_or(self.settings.max_delay)
            .min(self.settings.max_delay)
    }

    fn forgotten(&self, entry: &Entry, now: Instant) -> bool {
        let since = entry.locked_until.map_or(entry.last, |u| u.max(entry.last));
        now.checked_duration_since(since)
            .is_some_and(|idle| idle >= self.settings.forget_after)
    }

    /// Makes room: drops forgotten keys, then, if the table is still full
    /// (a flood of distinct keys), the half with the fewest attempts, so
    /// that the keys under attack are the ones kept.
    fn shrink(&self, entries: &mut HashMap<Key, Entry>, now: Instant) {
        entries.retain(|_, e| !self.forgotten(e, now));
        if entries.len() < self.settings.max_entries / 2 {
            return;
        }
        let mut counts: Vec<u32> = entries.values().map(|e| e.attempts).collect();
        let middle = counts.len() / 2;
        let (_, median, _) = counts.select_nth_unstable(middle);
        let median = *median;
        let mut over = entries.len().saturating_sub(self.settings.max_entries / 2);
        entries.retain(|_, e| {
            if over > 0 && e.attempts <= median && e.locked_until.is_none_or(|u| u <= now) {
                over -= 1;
                false
            } else {
                true
            }
        });
    }

    /// How many keys are kept now.
    pub fn len(&self) -> usize {
        self.entries.lock().expect("throttle lock").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> ThrottleSettings {
        ThrottleSettings {
            per_address: 3,
            per_client: 5,
            base_delay: Duration::from_secs(10),
            max_delay: Duration::from_secs(60),
            forget_after: Duration::from_secs(600),
            max_entries: 100,
        }
    }

    #[test]
    fn an_address_is_locked_after_its_allowance_with_growing_delays() {
        let t = Throttle::new(settings());
        let key = Key::address("login", "a@example.org");
        assert!(t.attempt(&[key]).is_empty());
        assert!(t.attempt(&[key]).is_empty());
        assert!(t.locked(&[key]).is_none());
        let third = t.attempt(&[key]);
        assert_eq!(third.len(), 1);
        assert_eq!(third[0].retry_after, Duration::from_secs(10));
        assert!(t.locked(&[key]).is_some());
        assert_eq!(t.attempt(&[key])[0].retry_after, Duration::from_secs(20));
        assert_eq!(t.attempt(&[key])[0].retry_after, Duration::from_secs(40));
        assert_eq!(t.attempt(&[key])[0].retry_after, Duration::from_secs(60));
        for _ in 0..40 {
            assert_eq!(t.attempt(&[key])[0].retry_after, Duration::from_secs(60));
        }
        t.succeeded(&[key]);
        assert!(t.locked(&[key]).is_none());
    }

    #[test]
    fn a_client_has_its_own_larger_allowance() {
        let t = Throttle::new(settings());
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        for n in 0..4 {
            let keys = [
                Key::address("login", &format!("{n}@x.fr")),
                Key::client("login", ip),
            ];
            assert!(t.attempt(&keys).is_empty());
        }
        let locked = t.attempt(&[Key::address("login", "5@x.fr"), Key::client("login", ip)]);
        assert_eq!(locked.len(), 1);
        assert_eq!(locked[0].scope, "client");
        assert!(
            t.locked(&[Key::address("login", "new@x.fr"), Key::client("login", ip)])
                .is_some()
        );
    }

    #[test]
    fn successful_attempts_do_not_add_up_for_a_client() {
        let t = Throttle::new(settings());
        let ip: IpAddr = "192.0.2.8".parse().unwrap();
        for n in 0..50 {
            let keys = [
                Key::address("login", &format!("{n}@x.fr")),
                Key::client("login", ip),
            ];
            assert!(t.locked(&keys).is_none());
            t.attempt(&keys);
            t.succeeded(&keys);
        }
    }

    #[test]
    fn the_table_stays_bounded_and_keeps_the_keys_under_attack() {
        let t = Throttle::new(settings());
        let target = Key::address("login", "target@x.fr");
        for _ in 0..3 {
            t.attempt(&[target]);
        }
        for n in 0..10_000 {
            t.attempt(&[Key::address("login", &format!("flood{n}@x.fr"))]);
            assert!(t.len() <= 100);
        }
        assert!(t.locked(&[target]).is_some());
    }
}
