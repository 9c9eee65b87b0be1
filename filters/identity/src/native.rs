//! Token verification for native services (the approval service's approvers): the same
//! providers, claim checks and kind rules as the filter, with inline keys and no token cache.

use crate::compile::Identity;
use crate::sources::{jwt, JwtOutcome};
use crate::vm::IdentityVm;
use warden_kit::facts::IdentityFact;
use warden_kit::RequestView;

/// Verifies the request's JWT against `identity`'s providers at `now_secs`. `Ok(None)`: no
/// provider found a token. `Err`: a token was refused (the reason names no secret), or its
/// provider's keys are fetched (not supported natively).
pub fn verify_jwt(
    identity: &Identity,
    request: &dyn RequestView,
    now_secs: u64,
) -> Result<Option<IdentityFact>, String> {
    let mut vm = IdentityVm::new(identity);
    match jwt(identity, request, now_secs, &mut vm) {
        JwtOutcome::Absent => Ok(None),
        JwtOutcome::Verified(verified) => Ok(Some(verified.fact.clone())),
        JwtOutcome::Refused(refusal) => Err(refusal.reason),
        JwtOutcome::NeedKeys(_) | JwtOutcome::KeysUnavailable => Err("the provider's key set is not available".into()),
    }
}
