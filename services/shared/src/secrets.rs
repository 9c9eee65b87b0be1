//! Secrets kept in files: read them without ever echoing them, and create a missing key file
//! with fresh random bytes readable by its owner only. Errors name the configuration field
//! and the path, never the content.

use std::path::Path;
use warden_kit::ConfigError;

/// A secret kept in a file (a client secret, a bot token, a webhook URL), whitespace
/// trimmed. Errors name `field` and the path, never the content.
pub fn secret_file(path: &Path, field: String) -> Result<String, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::new(field.clone(), format!("cannot read {}: {e}", path.display())))?;
    let text = text.trim().to_string();
    if text.is_empty() {
        return Err(ConfigError::new(field, "the file is empty"));
    }
    Ok(text)
}

/// A 32-byte secret seed from `path`, created (random, mode 0600, directories made) when
/// absent. Errors name `field` and the path, never the bytes.
pub fn seed_file(path: &Path, field_name: &str) -> Result<[u8; 32], ConfigError> {
    let field = |m: String| ConfigError::new(field_name, m);
    if !path.exists() {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| field(format!("no randomness for a new key: {e}")))?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| field(format!("cannot create {}: {e}", dir.display())))?;
        }
        match write_private(path, &seed) {
            // Another process (a replica starting at the same time) created it first: use it.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            other => other.map_err(|e| field(format!("cannot write {}: {e}", path.display())))?,
        }
    }
    let bytes = std::fs::read(path).map_err(|e| field(format!("cannot read {}: {e}", path.display())))?;
    bytes.try_into().map_err(|_| field(format!("{} must hold exactly 32 bytes", path.display())))
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(bytes)
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}
