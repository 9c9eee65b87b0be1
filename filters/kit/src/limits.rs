//! The one body limit every stage shares, and its one validator.

use crate::ConfigError;

/// Largest body any Warden stage buffers: Envoy's default per-stream buffer limit (1 MiB).
/// A bigger buffered request gets 413 from Envoy itself, so no configured limit may exceed it.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Checks a configured body limit (`max_body_bytes` and the like): it must be between 1 and
/// [`MAX_BODY_BYTES`]. The error names `field`.
pub fn body_limit(field: &str, bytes: usize) -> Result<usize, ConfigError> {
    if bytes == 0 || bytes > MAX_BODY_BYTES {
        return Err(ConfigError::new(field, format!("must be between 1 and {MAX_BODY_BYTES} (Envoy's buffer limit)")));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_outside_one_byte_to_envoys_buffer_are_refused_naming_the_field() {
        assert_eq!(body_limit("max_body_bytes", MAX_BODY_BYTES), Ok(MAX_BODY_BYTES));
        assert_eq!(body_limit("max_body_bytes", 1), Ok(1));
        let err = body_limit("stages[1].config.max_body_bytes", 0).unwrap_err();
        assert_eq!(err.field, "stages[1].config.max_body_bytes");
        assert!(body_limit("max_body_bytes", MAX_BODY_BYTES + 1).unwrap_err().message.contains("1048576"));
    }
}
