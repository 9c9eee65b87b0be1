//! Compact JWS/JWT verification (RFC 7515, 7519, 8725): strict parsing, one algorithm per
//! key, no key material taken from the token, claims checked against an explicit clock.

mod alg;
mod claims;
mod jwk;
mod key;
mod token;

pub use alg::Algorithm;
pub use claims::{ClaimRules, Claims};
pub use jwk::{parse_jwks, Jwk};
pub use key::VerifyingKey;
pub use token::{decode, verify, Header, Token, DEFAULT_MAX_TOKEN_BYTES};

/// Why a token was refused. Messages are short and never contain token contents.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    /// Not three base64url segments of a reasonable size.
    #[error("malformed token")]
    Malformed,
    /// Larger than the configured maximum.
    #[error("token too large")]
    TooLarge,
    /// Header or payload is not a JSON object (or has duplicate members).
    #[error("malformed token JSON")]
    BadJson,
    /// `alg` is `none`, unknown, or not allowed.
    #[error("algorithm not allowed")]
    AlgorithmNotAllowed,
    /// The header carries key material or key URLs (`jwk`, `jku`, `x5u`, `x5c`) or `crit`.
    #[error("token header not accepted")]
    HeaderNotAccepted,
    /// No configured key matches the token's `kid` and `alg`.
    #[error("unknown signing key")]
    UnknownKey,
    /// The signature does not verify.
    #[error("invalid signature")]
    BadSignature,
    /// `exp` is past (beyond the allowed skew).
    #[error("token expired")]
    Expired,
    /// `nbf` or `iat` is in the future (beyond the allowed skew).
    #[error("token not yet valid")]
    NotYetValid,
    /// `iss` does not match.
    #[error("wrong issuer")]
    WrongIssuer,
    /// `aud` does not contain an accepted audience.
    #[error("wrong audience")]
    WrongAudience,
    /// `typ` does not match.
    #[error("wrong token type")]
    WrongType,
    /// A required claim is missing.
    #[error("missing required claim")]
    MissingClaim,
    /// A claim Warden reads is present with a shape it cannot read: a delegation claim
    /// (`act`, `may_act`) that names no actor, or a groups, scope or kind claim that is not a
    /// string or an array of strings. Refused, never read as absent.
    #[error("malformed claim `{0}`")]
    MalformedClaim(&'static str),
    /// A key in configuration or a JWKS is unusable.
    #[error("invalid key: {0}")]
    BadKey(&'static str),
}
