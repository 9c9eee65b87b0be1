//! Per-VM cache of verified tokens, so a repeated token costs a hash and a lookup instead of a
//! signature check. Runtime state, not configuration: it lives beside the compiled stage in
//! a `RefCell` (a wasm VM is single-threaded).

use crate::sources::Verified;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};

/// Default number of tokens remembered per VM.
pub const DEFAULT_CAPACITY: usize = 1024;

/// Verified tokens by SHA-256 of (provider, token); evicted oldest-first when full, and never
/// used at or after the token's `exp`.
#[derive(Debug, Default)]
pub struct TokenCache {
    capacity: usize,
    entries: HashMap<[u8; 32], (Verified, u64)>,
    order: VecDeque<[u8; 32]>,
    hits: u64,
}

impl TokenCache {
    /// An empty cache holding at most `capacity` tokens (0 disables caching).
    pub fn new(capacity: usize) -> Self {
        TokenCache { capacity, entries: HashMap::new(), order: VecDeque::new(), hits: 0 }
    }

    /// Cache key of `token` for `provider`.
    pub fn key(provider: &str, token: &str) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(provider.as_bytes());
        hasher.update([0]);
        hasher.update(token.as_bytes());
        hasher.finalize().into()
    }

    /// The identity for `key` if cached and not expired at `now_secs`.
    pub fn get(&mut self, key: &[u8; 32], now_secs: u64) -> Option<Verified> {
        match self.entries.get(key) {
            Some((verified, exp)) if now_secs < *exp => {
                self.hits += 1;
                Some(verified.clone())
            }
            Some(_) => {
                self.entries.remove(key);
                None
            }
            None => None,
        }
    }

    /// Remembers a verified token until `exp` (seconds since the epoch).
    pub fn put(&mut self, key: [u8; 32], verified: Verified, exp: u64) {
        if self.capacity == 0 {
            return;
        }
        while self.entries.len() >= self.capacity {
            match self.order.pop_front() {
                Some(old) => {
                    self.entries.remove(&old);
                }
                None => break,
            }
        }
        if self.entries.insert(key, (verified, exp)).is_none() {
            self.order.push_back(key);
        }
    }

    /// Lookups answered from the cache so far.
    pub fn hits(&self) -> u64 {
        self.hits
    }

    /// Number of cached tokens.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use warden_kit::facts::{IdentityFact, SubjectKind};

    fn verified(subject: &str) -> Verified {
        let fact = IdentityFact {
            v: 1,
            subject: subject.into(),
            issuer: "i".into(),
            kind: SubjectKind::Human,
            actors: vec![],
            groups: vec![],
            scopes: vec![],
            method: "jwt".into(),
            expires_at: None,
            claims: Default::default(),
        };
        Verified { fact, remove_header: None }
    }

    #[test]
    fn entries_expire_at_exp_and_the_oldest_is_evicted() {
        let mut cache = TokenCache::new(2);
        let (a, b, c) = (TokenCache::key("p", "a"), TokenCache::key("p", "b"), TokenCache::key("p", "c"));
        cache.put(a, verified("a"), 100);
        cache.put(b, verified("b"), 100);
        assert_eq!(cache.get(&a, 99).map(|v| v.fact.subject), Some("a".into()));
        assert!(cache.get(&a, 100).is_none(), "never at or past exp");
        cache.put(c, verified("c"), 100);
        assert!(cache.get(&b, 50).is_none() || cache.len() <= 2);
        assert!(cache.len() <= 2);
        assert_eq!(cache.get(&c, 50).map(|v| v.fact.subject), Some("c".into()));
    }

    #[test]
    fn same_token_for_another_provider_is_another_entry() {
        assert_ne!(TokenCache::key("p1", "t"), TokenCache::key("p2", "t"));
    }

    #[test]
    fn zero_capacity_disables_caching() {
        let mut cache = TokenCache::new(0);
        let key = TokenCache::key("p", "a");
        cache.put(key, verified("a"), 100);
        assert!(cache.get(&key, 1).is_none());
    }
}
