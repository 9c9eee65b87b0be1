//! The identity stage's state for one VM: verified tokens and fetched key sets. Runtime
//! state, kept in the kit's per-VM slot beside the immutable compiled [`Identity`].

use crate::cache::TokenCache;
use crate::compile::Identity;
use crate::jwt::VerifyingKey;

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
