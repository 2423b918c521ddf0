//! A bounded cache of authorization verdicts, each with its own expiry. Keys are SHA-256 digests
//! of (token, verb, path): the bearer tokens themselves are not kept.

use std::collections::HashMap;
use std::time::Instant;

/// The digest a verdict is cached under.
pub type Key = [u8; 32];

/// The key of `token` asking for `verb` on `path` (each part length-prefixed, so that no two
/// different triples share a key).
pub fn key(token: &str, verb: &str, path: &str) -> Key {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for part in [token, verb, path] {
        ctx.update(&(part.len() as u64).to_le_bytes());
        ctx.update(part.as_bytes());
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// At most `capacity` entries; an expired entry is never returned.
#[derive(Debug)]
pub struct Cache<V> {
    entries: HashMap<Key, (V, Instant)>,
    capacity: usize,
}

impl<V: Clone> Cache<V> {
    pub fn new(capacity: usize) -> Self {
        Cache { entries: HashMap::new(), capacity }
    }

    /// The value under `key` if it has not expired at `now` (an expired one is dropped).
    pub fn get(&mut self, key: &Key, now: Instant) -> Option<V> {
        match self.entries.get(key) {
            Some((value, expires)) if *expires > now => Some(value.clone()),
            Some(_) => {
                self.entries.remove(key);
                None
            }
            None => None,
        }
    }

    /// Stores `value` until `expires`. When full, expired entries go first, then the one that
    /// would expire soonest.
    pub fn insert(&mut self, key: Key, value: V, expires: Instant, now: Instant) {
        if self.capacity == 0 || expires <= now {
            return;
        }
        if !self.entries.contains_key(&key) && self.entries.len() >= self.capacity {
            self.entries.retain(|_, (_, e)| *e > now);
            if self.entries.len() >= self.capacity {
                let soonest = self.entries.iter().min_by_key(|(_, (_, e))| *e).map(|(k, _)| *k);
                if let Some(k) = soonest {
                    self.entries.remove(&k);
                }
            }
        }
        self.entries.insert(key, (value, expires));
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn k(n: u8) -> Key {
        [n; 32]
    }

    #[test]
    fn keys_separate_token_verb_and_path() {
        assert_eq!(key("t", "get", "/metrics"), key("t", "get", "/metrics"));
        assert_ne!(key("t", "get", "/metrics"), key("u", "get", "/metrics"));
        assert_ne!(key("t", "get", "/metrics"), key("t", "create", "/metrics"));
        assert_ne!(key("t", "get", "/metrics"), key("t", "get", "/healthz"));
        // no ambiguity from concatenation
        assert_ne!(key("ab", "c", "/"), key("a", "bc", "/"));
    }

    #[test]
    fn an_entry_lives_until_it_expires() {
        let t0 = Instant::now();
        let mut c = Cache::new(4);
        c.insert(k(1), "allow", t0 + Duration::from_secs(60), t0);
        assert_eq!(c.get(&k(1), t0), Some("allow"));
        assert_eq!(c.get(&k(1), t0 + Duration::from_secs(59)), Some("allow"));
        assert_eq!(c.get(&k(1), t0 + Duration::from_secs(60)), None);
        assert!(c.is_empty(), "an expired entry is dropped when looked up");
        assert_eq!(c.get(&k(2), t0), None);
    }

    #[test]
    fn full_cache_drops_expired_entries_then_the_soonest_to_expire() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut c = Cache::new(3);
        c.insert(k(1), 1, t0 + s(10), t0);
        c.insert(k(2), 2, t0 + s(60), t0);
        c.insert(k(3), 3, t0 + s(30), t0);
        // full: k(1) has expired at t0+20, so it goes and the others stay
        c.insert(k(4), 4, t0 + s(80), t0 + s(20));
        assert_eq!(c.len(), 3);
        assert_eq!(
            (c.get(&k(2), t0 + s(20)), c.get(&k(3), t0 + s(20)), c.get(&k(4), t0 + s(20))),
            (Some(2), Some(3), Some(4))
        );
        // full, nothing expired: k(3) (expiring at 30) goes
        c.insert(k(5), 5, t0 + s(90), t0 + s(21));
        assert_eq!(c.len(), 3);
        assert_eq!(c.get(&k(3), t0 + s(21)), None);
        assert_eq!(c.get(&k(5), t0 + s(21)), Some(5));
        // replacing an existing key evicts nothing
        c.insert(k(5), 50, t0 + s(90), t0 + s(21));
        assert_eq!((c.len(), c.get(&k(2), t0 + s(21))), (3, Some(2)));
    }

    #[test]
    fn never_grows_past_its_capacity() {
        let t0 = Instant::now();
        let mut c = Cache::new(16);
        for n in 0..=255u8 {
            c.insert(k(n), n, t0 + Duration::from_secs(60 + u64::from(n)), t0);
            assert!(c.len() <= 16);
        }
        // the 16 that expire last are kept
        assert_eq!(c.get(&k(255), t0), Some(255));
        assert_eq!(c.get(&k(239), t0), None);
        let mut zero = Cache::new(0);
        zero.insert(k(1), 1, t0 + Duration::from_secs(1), t0);
        assert!(zero.is_empty());
    }

    #[test]
    fn an_already_expired_value_is_not_stored() {
        let t0 = Instant::now();
        let mut c = Cache::new(2);
        c.insert(k(1), 1, t0, t0);
        assert!(c.is_empty());
    }
}
