//! Lowercase hex, as Warden writes digests and keys (`sha256:<hex>`, `key_sha256`).

const DIGITS: &[u8; 16] = b"0123456789abcdef";

/// `bytes` as lowercase hex.
pub fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(2 * bytes.len());
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 15)]));
    }
    out
}

/// 64 hex digits (either case, surrounding whitespace ignored) as 32 bytes; `None` otherwise.
pub fn decode32(text: &str) -> Option<[u8; 32]> {
    let text = text.trim();
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn encodes_and_decodes() {
        let bytes: [u8; 32] = std::array::from_fn(|i| (i * 37) as u8);
        assert_eq!(super::decode32(&super::encode(&bytes)), Some(bytes));
        assert_eq!(super::encode(&[0, 255, 16]), "00ff10");
        assert_eq!(super::decode32("zz"), None);
        assert_eq!(super::decode32(&"é".repeat(32)), None);
    }
}
