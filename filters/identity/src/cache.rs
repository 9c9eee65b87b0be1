//! Per-VM cache of verified tokens, so a repeated token costs a lookup instead of a signature
//! check. Runtime state, not configuration: it lives in the stage's per-VM state
//! ([`crate::vm::IdentityVm`]).

use crate::verified::Verified;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

/// Default number of tokens remembered per VM.
pub const DEFAULT_CAPACITY: usize = 1024;

/// Verified tokens by the token itself; evicted oldest-first when full, and never used at or
/// after the token's `exp`. Keyed by the whole token (compared in full, so no hash collision
/// can ever map one token to another's identity); memory is bounded by the capacity times
/// the providers' `max_token_bytes`.
#[derive(Debug, Default)]
pub struct TokenCache {
    capacity: usize,
    entries: HashMap<Arc<str>, Cached>,
    order: VecDeque<Arc<str>>,
    hits: u64,
}

/// One remembered token: which provider verified it, what it yielded, until when.
#[derive(Debug)]
struct Cached {
    provider: usize,
    verified: Arc<Verified>,
    exp: u64,
}

impl TokenCache {
    /// An empty cache holding at most `capacity` tokens (0 disables caching).
    pub fn new(capacity: usize) -> Self {
        TokenCache { capacity, entries: HashMap::new(), order: VecDeque::new(), hits: 0 }
    }

    /// The identity `provider` verified for `token`, if cached and not expired at `now_secs`.
    pub fn get(&mut self, provider: usize, token: &str, now_secs: u64) -> Option<Arc<Verified>> {
        match self.entries.get(token) {
            Some(cached) if cached.provider == provider && now_secs < cached.exp => {
                self.hits += 1;
                Some(cached.verified.clone())
            }
            Some(cached) if now_secs >= cached.exp => {
                // Out of the eviction order too: a token put again later must not be queued
                // twice (the stale copy would evict the fresh entry before its turn).
                self.entries.remove(token);
                if let Some(at) = self.order.iter().position(|queued| **queued == *token) {
                    self.order.remove(at);
                }
                None
            }
            _ => None,
        }
    }

    /// Remembers that `provider` verified `token`, until `exp` (seconds since the epoch).
    pub fn put(&mut self, provider: usize, token: &str, verified: Arc<Verified>, exp: u64) {
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
        let token: Arc<str> = Arc::from(token);
        if self.entries.insert(token.clone(), Cached { provider, verified, exp }).is_none() {
            self.order.push_back(token);
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

    fn verified(subject: &str) -> Arc<Verified> {
        let fact = IdentityFact {
            v: 1,
            subject: subject.into(),
            issuer: "i".into(),
            kind: SubjectKind::Human,
            actors: vec![],
            groups: vec![],
            scopes: vec![],
            method: warden_kit::facts::IdentityMethod::Jwt,
            expires_at: None,
            claims: Default::default(),
        };
        Verified::new(fact, &crate::config::UpstreamHeaders::default(), None)
    }

    #[test]
    fn entries_expire_at_exp_and_the_oldest_is_evicted() {
        let mut cache = TokenCache::new(2);
        cache.put(0, "a", verified("a"), 100);
        cache.put(0, "b", verified("b"), 100);
        assert_eq!(cache.get(0, "a", 99).map(|v| v.fact.subject.clone()), Some("a".into()));
        assert!(cache.get(0, "a", 100).is_none(), "never at or past exp");
        cache.put(0, "c", verified("c"), 100);
        assert_eq!(cache.len(), 2);
        assert!(cache.get(0, "b", 50).is_some(), "b was still cached");
        cache.put(0, "d", verified("d"), 100);
        assert!(cache.get(0, "b", 50).is_none(), "the oldest entry (b) made room for d");
        assert_eq!(cache.get(0, "c", 50).map(|v| v.fact.subject.clone()), Some("c".into()));
        assert_eq!(cache.hits(), 3);
    }

    #[test]
    fn an_expired_token_put_again_is_evicted_in_its_new_turn() {
        let mut cache = TokenCache::new(2);
        cache.put(0, "a", verified("a"), 100);
        cache.put(0, "b", verified("b"), 1000);
        assert!(cache.get(0, "a", 150).is_none(), "a expired");
        cache.put(0, "a", verified("a"), 1000); // a is now newer than b
        cache.put(0, "c", verified("c"), 1000); // evicts the oldest: b
        assert!(cache.get(0, "a", 150).is_some(), "a was put after b, so b goes first");
        assert!(cache.get(0, "b", 150).is_none());
        assert!(cache.get(0, "c", 150).is_some());
        assert_eq!(cache.order.len(), cache.entries.len(), "each entry queued once");
    }

    #[test]
    fn a_token_verified_by_one_provider_is_not_an_answer_for_another() {
        let mut cache = TokenCache::new(4);
        cache.put(0, "t", verified("a"), 100);
        assert!(cache.get(1, "t", 1).is_none());
        assert!(cache.get(0, "t", 1).is_some());
    }

    #[test]
    fn a_token_that_differs_in_one_byte_is_a_miss() {
        let mut cache = TokenCache::new(4);
        cache.put(0, "header.payload.signature", verified("a"), 100);
        assert!(cache.get(0, "header.payload.signaturf", 1).is_none());
    }

    #[test]
    fn zero_capacity_disables_caching() {
        let mut cache = TokenCache::new(0);
        cache.put(0, "a", verified("a"), 100);
        assert!(cache.get(0, "a", 1).is_none());
        assert!(cache.is_empty());
    }
}
