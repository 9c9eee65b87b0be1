//! Token verification for native services (the approval service's approvers): the same
//! providers, claim checks, kind rules, token cache and key-set rotation as the filter. Key
//! sets named by `jwks_uri` are fetched through a caller-supplied function (the service owns
//! the network), so this module stays pure.

use crate::compile::{Identity, Remote};
use crate::sources::{jwt, JwtOutcome};
use crate::vm::IdentityVm;
use std::sync::Mutex;
use warden_kit::facts::IdentityFact;
use warden_kit::RequestView;

/// Fetches a provider's key set: the response body of `GET <cluster's base URL><path>`, or
/// why it could not be had (a non-2xx status is an error). Called without any lock held.
pub type FetchKeys<'a> = &'a (dyn Fn(&Remote) -> Result<Vec<u8>, String> + Sync);

/// A compiled identity configuration plus its run-time state (verified tokens, fetched key
/// sets), shared by every request of a native service. Thread-safe.
#[derive(Debug)]
pub struct Verifier {
    identity: Identity,
    state: Mutex<IdentityVm>,
}

impl Verifier {
    /// A verifier for `identity` with empty state (key sets are fetched on first use).
    pub fn new(identity: Identity) -> Self {
        let state = Mutex::new(IdentityVm::new(&identity));
        Verifier { identity, state }
    }

    /// The compiled configuration.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// Verifies the request's JWT at `now_secs`. `Ok(None)`: no provider found a token.
    /// `Err`: a token was refused, or its provider's keys could not be had (the fetch failed
    /// and no earlier set is kept); the reason names no secret. A provider's set is fetched
    /// when missing, stale, or when a token names an unknown `kid` (rate-limited by
    /// `min_refetch_secs`, as in the filter); a failed fetch keeps the last good set.
    pub fn verify(
        &self,
        request: &dyn RequestView,
        now_secs: u64,
        fetch: FetchKeys<'_>,
    ) -> Result<Option<IdentityFact>, VerifyError> {
        // A fetch changes what the next round sees; two rounds cover "fetch, then decide".
        for _ in 0..2 {
            let outcome = {
                let mut vm = self.state.lock().map_err(|_| VerifyError::StateUnavailable)?;
                let outcome = jwt(&self.identity, request, now_secs, &mut vm);
                if let JwtOutcome::NeedKeys(index) = outcome {
                    if let Some(slot) = vm.fetched.get_mut(index) {
                        slot.attempted_at = now_secs;
                    }
                }
                outcome
            };
            match outcome {
                JwtOutcome::Absent => return Ok(None),
                JwtOutcome::Verified(verified) => return Ok(Some(verified.fact.clone())),
                JwtOutcome::Refused(refusal) => return Err(VerifyError::Refused(refusal.reason)),
                JwtOutcome::KeysUnavailable => return Err(VerifyError::KeysUnavailable),
                JwtOutcome::NeedKeys(index) => {
                    let Some(provider) = self.identity.providers.get(index) else {
                        return Err(VerifyError::KeysUnavailable);
                    };
                    let Some(remote) = &provider.remote else { return Err(VerifyError::KeysUnavailable) };
                    let body = fetch(remote);
                    let mut vm = self.state.lock().map_err(|_| VerifyError::StateUnavailable)?;
                    // A failure is not fatal here: the last good set (if any) is still used.
                    let _ = vm.store_fetched(provider, index, body.as_deref().map_err(Clone::clone), now_secs);
                }
            }
        }
        // Still asking for keys right after a fetch: the fetch failed and no set is kept, or
        // the token's `kid` is in no set the provider publishes.
        let mut vm = self.state.lock().map_err(|_| VerifyError::StateUnavailable)?;
        match jwt(&self.identity, request, now_secs, &mut vm) {
            JwtOutcome::Absent => Ok(None),
            JwtOutcome::Verified(verified) => Ok(Some(verified.fact.clone())),
            JwtOutcome::Refused(refusal) => Err(VerifyError::Refused(refusal.reason)),
            JwtOutcome::NeedKeys(_) | JwtOutcome::KeysUnavailable => Err(VerifyError::KeysUnavailable),
        }
    }
}

/// Why a token was not accepted (the text names no secret).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// A provider found the token and refused it (the reason: expired, wrong audience, a
    /// malformed claim, ...).
    #[error("{0}")]
    Refused(String),
    /// The provider's key set could not be had (the fetch failed and no earlier set is kept).
    #[error("the provider's key set is not available")]
    KeysUnavailable,
    /// The verifier's state is unusable (a thread panicked while holding it).
    #[error("identity state unavailable")]
    StateUnavailable,
}
