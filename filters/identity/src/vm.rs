//! The identity stage's state for one VM: verified tokens and fetched key sets. Runtime
//! state, kept in the kit's per-VM slot beside the immutable compiled [`Identity`].

use crate::cache::TokenCache;
use crate::compile::{Identity, Provider};
use crate::jwt::{parse_jwks, VerifyingKey};

/// Everything the identity stage changes at run time in one VM.
#[derive(Debug)]
pub struct IdentityVm {
    /// Verified tokens.
    pub cache: TokenCache,
    /// The last good key set of each provider, by provider index.
    pub fetched: Vec<FetchedKeys>,
}

impl IdentityVm {
    /// Empty state for `identity`'s providers.
    pub fn new(identity: &Identity) -> Self {
        IdentityVm {
            cache: TokenCache::new(identity.token_cache_size),
            fetched: identity.providers.iter().map(|_| FetchedKeys::default()).collect(),
        }
    }

    /// Stores the key set fetched for `provider` (at `index`): the keys it allows replace the
    /// last good set. A failed fetch, an unparsable document or a set with no allowed key
    /// keeps the last good set and returns why (the reason names no key material).
    /// Returns how many keys were kept and how many were skipped.
    pub fn store_fetched(
        &mut self,
        provider: &Provider,
        index: usize,
        fetched: Result<&[u8], String>,
        now_secs: u64,
    ) -> Result<(usize, usize), String> {
        let (keys, skipped) = parse_jwks(fetched?, provider.default_rsa).map_err(|e| e.to_string())?;
        let total = keys.len();
        let keys: Vec<_> = keys.into_iter().filter(|k| provider.allowed.contains(&k.alg)).collect();
        let skipped = skipped + (total - keys.len());
        if keys.is_empty() {
            return Err(format!("no usable key ({skipped} skipped)"));
        }
        let kept = keys.len();
        if let Some(slot) = self.fetched.get_mut(index) {
            slot.keys = keys;
            slot.fetched_at = now_secs;
        }
        Ok((kept, skipped))
    }
}

/// The last good key set fetched for a provider.
#[derive(Debug, Clone, Default)]
pub struct FetchedKeys {
    /// Keys (empty until the first good fetch).
    pub keys: Vec<VerifyingKey>,
    /// When the last good set arrived (seconds since the epoch); 0 never.
    pub fetched_at: u64,
    /// When a fetch was last started (seconds since the epoch); 0 never.
    pub attempted_at: u64,
}
