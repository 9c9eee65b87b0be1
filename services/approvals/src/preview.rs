//! The body preview approvers see: the proxy sends the start of the request body with a new
//! approval; the service masks it with its preview profile (the `warden-mask` core, natively:
//! every built-in detector by default) *before* anything is stored, so no secret the profile
//! knows reaches a page, a chat message or the database. Pure.

use crate::core::approval::Action;
use warden_kit::ConfigError;
use warden_mask::config::{compile_profile, ProfileConfig};
use warden_mask::formats::{mask_body, Format};
use warden_mask::profile::{Profile, Report};

/// Characters dropped from the end of a preview the proxy cut short: a value split by the cut
/// could be too short for its detector to recognise.
const CUT_MARGIN: usize = 128;

/// The compiled preview settings.
pub struct Preview {
    profile: Profile,
    max_bytes: usize,
}

impl std::fmt::Debug for Preview {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Preview").field("max_bytes", &self.max_bytes).finish()
    }
}

impl Preview {
    /// Compiles the profile (`None`: every built-in detector); errors name the field.
    pub fn compile(profile: Option<ProfileConfig>, max_bytes: Option<usize>) -> Result<Preview, ConfigError> {
        let config = match profile {
            Some(config) => config,
            None => serde_json::from_str("{}").map_err(|e| ConfigError::new("preview.profile", e.to_string()))?,
        };
        let profile = compile_profile("preview", &config, None).map_err(|e| e.within("preview.profile"))?;
        let max_bytes = match max_bytes {
            Some(0) => return Err(ConfigError::new("preview.max_bytes", "must be at least 1")),
            other => other.unwrap_or(4096),
        };
        Ok(Preview { profile, max_bytes })
    }

    /// Masks `action.path`'s query values and `action.body` in place (and records what was
    /// hidden in the body); a cut-short body loses its
    /// last characters, and the result is at most `max_bytes` (on a character boundary).
    pub fn apply(&self, action: &mut Action) {
        // A query's values never get past here unmasked, whatever the proxy sent.
        action.path = warden_kit::audit::path_with_query_masked(&action.path);
        let Some(body) = action.body.take() else { return };
        let format = if body.trim_start().starts_with(['{', '[']) { Format::Json } else { Format::Text };
        let mut report = Report::default();
        let masked = mask_body(&self.profile, format, body.as_bytes(), &mut report)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or(body);
        let mut shown: String = masked.chars().collect();
        if action.body_truncated {
            let keep = shown.chars().count().saturating_sub(CUT_MARGIN);
            shown = shown.chars().take(keep).collect();
        }
        if shown.len() > self.max_bytes {
            let mut end = self.max_bytes;
            while !shown.is_char_boundary(end) {
                end -= 1;
            }
            shown.truncate(end);
            action.body_truncated = true;
        }
        action.body_masked = report.counts.into_iter().collect();
        action.body = Some(shown);
    }
}
