//! Standard Webhooks signatures: `webhook-id`, `webhook-timestamp` and
//! `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, under a secret given as
//! `whsec_<base64>` (or raw bytes). Receivers verify with any Standard Webhooks library.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// A webhook signing secret.
#[derive(Clone)]
pub struct WebhookSecret(Vec<u8>);

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(..)")
    }
}

impl WebhookSecret {
    /// From the secret file's text: `whsec_<base64>` (decoded), else the text's bytes; `None`
    /// when empty or shorter than 16 bytes.
    pub fn parse(text: &str) -> Option<WebhookSecret> {
        let text = text.trim();
        let bytes = match text.strip_prefix("whsec_") {
            Some(encoded) => STANDARD.decode(encoded).ok()?,
            None => text.as_bytes().to_vec(),
        };
        (bytes.len() >= 16).then_some(WebhookSecret(bytes))
    }

    /// The three headers for a message `id` sent at `timestamp` with `body`.
    pub fn headers(&self, id: &str, timestamp: u64, body: &str) -> [(&'static str, String); 3] {
        let signature = Hmac::<Sha256>::new_from_slice(&self.0)
            .map(|mut mac| {
                mac.update(format!("{id}.{timestamp}.").as_bytes());
                mac.update(body.as_bytes());
                STANDARD.encode(mac.finalize().into_bytes())
            })
            .unwrap_or_default();
        [
            ("webhook-id", id.to_string()),
            ("webhook-timestamp", timestamp.to_string()),
            ("webhook-signature", format!("v1,{signature}")),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::WebhookSecret;

    #[test]
    fn signs_as_the_standard_webhooks_reference_does() {
        // The Standard Webhooks specification's example (spec/standard-webhooks.md).
        let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = r#"{"test": 2432232314}"#;
        let headers = secret.headers("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body);
        assert_eq!(headers[2].1, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        assert!(WebhookSecret::parse("short").is_none());
    }
}
