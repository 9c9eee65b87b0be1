//! The profile every target masks with: every built-in detector, default strategies.

use std::sync::OnceLock;
use warden_mask::config::{compile_profile, ProfileConfig};
use warden_mask::profile::Profile;

/// Compiled once per process.
pub fn all_detectors() -> &'static Profile {
    static PROFILE: OnceLock<Profile> = OnceLock::new();
    PROFILE.get_or_init(|| {
        let config: ProfileConfig = serde_json::from_str("{}").unwrap(); // allow-panic: constant config
        compile_profile("all", &config, None).unwrap() // allow-panic: constant config
    })
}
