//! Brute-force protection for logins and magic-link requests: attempts are
//! counted per email address and per client address; past a free allowance,
//! each further attempt locks the key for a delay that doubles up to a cap.
//!
//! Kept in memory, per replica: a guesser spreading over replicas gets one
//! allowance per replica, still bounded. Keys are hashes of fixed size under
//! a secret drawn at start, so an entry costs the same whatever a client
//! sends, and neither the table nor the log can be matched against a list
//! of addresses; the table holds at most `max_entries` of them.

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
            per_client: 30,
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
    /// Drawn at start, never kept: a key cannot be recomputed from a value
    /// by anyone reading the log.
    secret: [u8; 32],
    entries: Mutex<Table>,
}

#[derive(Debug, Default)]
struct Table {
    keys: HashMap<Key, Entry>,
    /// When room was last made: a full table is swept at most once a
    /// second, so that a flood of new keys costs each request little.
    swept: Option<Instant>,
}

impl Throttle {
    pub fn new(settings: ThrottleSettings) -> Self {
        let mut secret = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut secret);
        Self {
            settings,
            secret,
            entries: Mutex::new(Table::default()),
        }
    }

    /// The key of an email address, for an action (`login`, `link`); the
    /// caller normalises and validates it first.
    pub fn address_key(&self, action: &str, email: &str) -> Key {
        self.key(action, Scope::Address, email.as_bytes())
    }

    /// The key of a client's network address, for an action. An IPv6
    /// client is counted by its /64, the block one subscriber holds, and
    /// an IPv4 address mapped into IPv6 as itself.
    pub fn client_key(&self, action: &str, ip: IpAddr) -> Key {
        let counted = match ip {
            IpAddr::V4(v4) => IpAddr::V4(v4),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => {
                    let s = v6.segments();
                    IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
                }
            },
        };
        self.key(action, Scope::Client, counted.to_string().as_bytes())
    }

    fn key(&self, action: &str, scope: Scope, value: &[u8]) -> Key {
        let mut digest = Sha256::new();
        digest.update(self.secret);
        digest.update(action.as_bytes());
        digest.update([0]);
        digest.update(scope.as_str().as_bytes());
        digest.update([0]);
        digest.update(value);
        let mut hash = [0u8; 16];
        hash.copy_from_slice(&digest.finalize()[..16]);
        Key { hash, scope }
    }

    pub fn settings(&self) -> ThrottleSettings {
        self.settings
    }

    /// Counts an attempt against every key, unless one of them is locked
    /// now: then the attempt is refused with the wait, counted nowhere, and
    /// costs nothing more (answered alike whether the address exists).
    /// Checked and counted under one lock, so that attempts sent at once
    /// cannot all pass the check. A new key finds no room when the table
    /// is full of keys under lockout: refused likewise.
    pub fn attempt(&self, keys: &[Key]) -> Result<Vec<Lockout>, Duration> {
        let now = Instant::now();
        let mut table = self.entries.lock().expect("throttle lock");
        let wait = keys
            .iter()
            .filter_map(|k| table.keys.get(k)?.locked_until)
            .filter(|until| *until > now)
            .map(|until| until - now)
            .max();
        if let Some(wait) = wait {
            return Err(wait);
        }
        let new = keys.iter().filter(|k| !table.keys.contains_key(k)).count();
        if table.keys.len() + new > self.settings.max_entries {
            let due = table
                .swept
                .is_none_or(|at| now.duration_since(at) >= Duration::from_secs(1));
            if due {
                table.swept = Some(now);
                self.shrink(&mut table.keys, now);
            }
            if table.keys.len() + new > self.settings.max_entries {
                return Err(self.settings.base_delay);
            }
        }
        let entries = &mut table.keys;
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
        Ok(started)
    }

    /// Takes back a successful attempt, counted up front so that attempts
    /// sent at once are all counted: its address starts over, its client
    /// gets the attempt back (an office behind one address logs in all day).
    pub fn succeeded(&self, keys: &[Key]) {
        let entries = &mut self.entries.lock().expect("throttle lock").keys;
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
    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.lock().expect("throttle lock").keys.len()
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
        let key = t.address_key("login", "a@example.org");
        assert!(t.attempt(&[key]).unwrap().is_empty());
        assert!(t.attempt(&[key]).unwrap().is_empty());
        let third = t.attempt(&[key]).unwrap();
        assert_eq!(third.len(), 1);
        assert_eq!(third[0].retry_after, Duration::from_secs(10));
        let wait = t.attempt(&[key]).unwrap_err();
        assert!(wait <= Duration::from_secs(10) && wait > Duration::from_secs(9));
        // Past the lockout, each further attempt doubles it, up to the cap.
        let mut delays = Vec::new();
        for _ in 0..5 {
            {
                let mut table = t.entries.lock().unwrap();
                table.keys.get_mut(&key).unwrap().locked_until = None;
            }
            delays.push(t.attempt(&[key]).unwrap()[0].retry_after.as_secs());
        }
        assert_eq!(delays, [20, 40, 60, 60, 60]);
        t.succeeded(&[key]);
        assert!(t.attempt(&[key]).unwrap().is_empty());
    }

    #[test]
    fn a_client_has_its_own_larger_allowance_by_ipv6_block() {
        let t = Throttle::new(settings());
        let client =
            |last: u16| IpAddr::V6(std::net::Ipv6Addr::new(0x2001, 0xdb8, 1, 2, 0, 0, 0, last));
        for n in 0..4 {
            let keys = [
                t.address_key("login", &format!("{n}@x.fr")),
                t.client_key("login", client(n)),
            ];
            assert!(t.attempt(&keys).unwrap().is_empty());
        }
        let keys = [
            t.address_key("login", "5@x.fr"),
            t.client_key("login", client(99)),
        ];
        let locked = t.attempt(&keys).unwrap();
        assert_eq!(locked.len(), 1);
        assert_eq!(locked[0].scope, "client");
        let other = [
            t.address_key("login", "new@x.fr"),
            t.client_key("login", client(7)),
        ];
        assert!(t.attempt(&other).is_err(), "the whole /64 is one client");
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        let plain: IpAddr = "192.0.2.7".parse().unwrap();
        assert_eq!(t.client_key("login", mapped), t.client_key("login", plain));
    }

    #[test]
    fn successful_attempts_do_not_add_up_for_a_client() {
        let t = Throttle::new(settings());
        let ip: IpAddr = "192.0.2.8".parse().unwrap();
        for n in 0..50 {
            let keys = [
                t.address_key("login", &format!("{n}@x.fr")),
                t.client_key("login", ip),
            ];
            t.attempt(&keys).unwrap();
            t.succeeded(&keys);
        }
    }

    #[test]
    fn keys_depend_on_a_secret_of_the_process() {
        let (a, b) = (Throttle::new(settings()), Throttle::new(settings()));
        assert_ne!(
            a.address_key("login", "a@example.org").reference(),
            b.address_key("login", "a@example.org").reference()
        );
    }

    #[test]
    fn the_table_stays_bounded_and_keeps_the_keys_under_attack() {
        let t = Throttle::new(settings());
        let target = t.address_key("login", "target@x.fr");
        for _ in 0..3 {
            t.attempt(&[target]).unwrap();
        }
        for n in 0..10_000 {
            let _ = t.attempt(&[t.address_key("login", &format!("flood{n}@x.fr"))]);
            assert!(t.len() <= 100);
        }
        assert!(t.attempt(&[target]).is_err());
    }

    #[test]
    fn a_table_full_of_lockouts_refuses_new_keys() {
        let t = Throttle::new(ThrottleSettings {
            per_address: 1,
            ..settings()
        });
        for n in 0..100 {
            t.attempt(&[t.address_key("login", &format!("{n}@x.fr"))])
                .unwrap();
        }
        assert_eq!(t.len(), 100);
        assert!(t.attempt(&[t.address_key("login", "new@x.fr")]).is_err());
        assert_eq!(t.len(), 100);
    }
}
