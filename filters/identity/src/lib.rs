//! `warden-identity`: who is calling. This crate holds the pure core of the identity stage;
//! so far the JWT/JWS verification layer (`jwt`), tested against Wycheproof vectors and the
//! RFC 8725 attack classes. The stage itself (sources, JWKS fetching, routes, facts) builds
//! on it.
#![forbid(unsafe_code)]

pub mod jwt;
