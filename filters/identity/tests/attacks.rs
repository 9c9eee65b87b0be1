//! RFC 8725 attack classes, and the RFC 7515 / RFC 8037 examples.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may panic

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use p256::ecdsa::signature::Signer;
use serde_json::json;
use sha2::Sha256;
use warden_identity::jwt::{decode, verify, Algorithm, ClaimRules, JwtError, VerifyingKey, DEFAULT_MAX_TOKEN_BYTES};

const NOW: u64 = 1_767_225_600;
const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn unsigned(header: &serde_json::Value, claims: &serde_json::Value) -> String {
    format!("{}.{}", b64(header.to_string().as_bytes()), b64(claims.to_string().as_bytes()))
}

fn hs256(input: &str, secret: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
    mac.update(input.as_bytes());
    format!("{input}.{}", b64(&mac.finalize().into_bytes()))
}

fn es256_key() -> (p256::ecdsa::SigningKey, VerifyingKey) {
    let signing = p256::ecdsa::SigningKey::from_slice(&[1u8; 32]).unwrap();
    let point = signing.verifying_key().to_sec1_point(false);
    let key = VerifyingKey::ec(Some("ec-1".into()), Algorithm::ES256, point.x().unwrap(), point.y().unwrap()).unwrap();
    (signing, key)
}

fn claims() -> serde_json::Value {
    json!({"iss": "https://idp.example.com", "aud": "warden", "sub": "alice", "exp": NOW + 300, "iat": NOW - 10})
}

fn rules() -> ClaimRules {
    ClaimRules { issuer: "https://idp.example.com".into(), audiences: vec!["warden".into()], ..ClaimRules::default() }
}

fn hmac_key() -> Vec<VerifyingKey> {
    vec![VerifyingKey::hmac(Some("hs-1".into()), Algorithm::HS256, SECRET).unwrap()]
}

/// Decodes, verifies and checks claims like the identity stage does.
fn check(token: &str, keys: &[VerifyingKey], allowed: &[Algorithm]) -> Result<(), JwtError> {
    let decoded = decode(token, DEFAULT_MAX_TOKEN_BYTES)?;
    verify(&decoded, keys, allowed)?;
    rules().check(&decoded.header, &decoded.claims, NOW)
}

fn hs(claims: serde_json::Value) -> String {
    hs256(&unsigned(&json!({"alg": "HS256", "kid": "hs-1"}), &claims), SECRET)
}

#[test]
fn a_good_token_passes() {
    assert_eq!(check(&hs(claims()), &hmac_key(), &[Algorithm::HS256]), Ok(()));
}

#[test]
fn alg_none_in_any_spelling_is_refused() {
    for alg in ["none", "None", "NONE", "nOnE", ""] {
        let token = format!("{}.", unsigned(&json!({"alg": alg}), &claims())) + "AA";
        assert_eq!(
            check(&token, &hmac_key(), &[Algorithm::HS256]).unwrap_err(),
            JwtError::AlgorithmNotAllowed,
            "{alg}"
        );
    }
    let no_alg = format!("{}.AA", unsigned(&json!({"typ": "JWT"}), &claims()));
    assert_eq!(check(&no_alg, &hmac_key(), &[Algorithm::HS256]).unwrap_err(), JwtError::AlgorithmNotAllowed);
}

#[test]
fn rsa_public_key_used_as_hmac_secret_is_refused() {
    // The classic RS/HS confusion: sign HS256 with the RSA public key's bytes.
    let n = URL_SAFE_NO_PAD.decode("orRRoH0KpfluRVZxUTVQUUqKW0YuvvcXCU-h_ugiJOY3-XRtP3yv0xh42AMltu9aFwD2WQO0aUKeidbqyIRQl7WrOTGJ25JRLtincRoSU_rNIPecFegkfz0-QuRuSMmOJUov6XZTE6A-_48X4aApOXofomqNzib0kO2UsYV8pUWvpWaCsbO5MHCyEBgaDuRvpqC4K-VDKtZtv-AvJNAKiiTzbrAlxEzbzgcvP4y2-g3ec6VsXt3-IBl3Lv7dlLBqWKiF7nzsUhzcwDy64rB0vLfdEaOEzZuCKgRa5hK16V9oAtvVkZ9utPz4xrTiDGCJ_RFOUfkf_gf8WVV4yB7Wxw").unwrap();
    let rsa = VerifyingKey::rsa(Some("k".into()), Algorithm::RS256, &n, &[1, 0, 1]).unwrap();
    let token = hs256(&unsigned(&json!({"alg": "HS256", "kid": "k"}), &claims()), &n);
    let allowed = [Algorithm::RS256, Algorithm::HS256];
    assert_eq!(check(&token, &[rsa], &allowed).unwrap_err(), JwtError::UnknownKey);
}

#[test]
fn es_token_relabelled_rs_is_refused() {
    let (signing, key) = es256_key();
    let input = unsigned(&json!({"alg": "RS256", "kid": "ec-1"}), &claims());
    let sig: p256::ecdsa::Signature = signing.sign(input.as_bytes());
    let token = format!("{input}.{}", b64(&sig.to_bytes()));
    assert_eq!(check(&token, &[key], &[Algorithm::RS256, Algorithm::ES256]).unwrap_err(), JwtError::UnknownKey);
}

#[test]
fn algorithm_outside_the_allow_list_is_refused() {
    assert_eq!(check(&hs(claims()), &hmac_key(), &[Algorithm::ES256]).unwrap_err(), JwtError::AlgorithmNotAllowed);
}

#[test]
fn injected_and_unknown_kids_match_no_key() {
    for kid in ["../../dev/null", "' OR '1'='1", "hs-2", ""] {
        let token = hs256(&unsigned(&json!({"alg": "HS256", "kid": kid}), &claims()), SECRET);
        assert_eq!(check(&token, &hmac_key(), &[Algorithm::HS256]).unwrap_err(), JwtError::UnknownKey, "{kid}");
    }
}

#[test]
fn key_material_in_the_header_is_never_used() {
    for member in ["jwk", "jku", "x5u", "x5c", "crit"] {
        let mut header = json!({"alg": "HS256", "kid": "hs-1"});
        header[member] = json!("https://attacker.example/keys");
        let token = hs256(&unsigned(&header, &claims()), SECRET);
        assert_eq!(
            check(&token, &hmac_key(), &[Algorithm::HS256]).unwrap_err(),
            JwtError::HeaderNotAccepted,
            "{member}"
        );
    }
}

#[test]
fn time_claims_respect_the_skew() {
    let mut c = claims();
    c["exp"] = json!(NOW - 61);
    assert_eq!(check(&hs(c.clone()), &hmac_key(), &[Algorithm::HS256]).unwrap_err(), JwtError::Expired);
    c["exp"] = json!(NOW - 30);
    assert_eq!(check(&hs(c), &hmac_key(), &[Algorithm::HS256]), Ok(()), "within 60 s skew");
    let mut c = claims();
    c["nbf"] = json!(NOW + 120);
    assert_eq!(check(&hs(c), &hmac_key(), &[Algorithm::HS256]).unwrap_err(), JwtError::NotYetValid);
    let mut c = claims();
    c["iat"] = json!(NOW + 120);
    assert_eq!(check(&hs(c), &hmac_key(), &[Algorithm::HS256]).unwrap_err(), JwtError::NotYetValid);
    let mut c = claims();
    c.as_object_mut().unwrap().remove("exp");
    assert_eq!(check(&hs(c), &hmac_key(), &[Algorithm::HS256]).unwrap_err(), JwtError::MissingClaim);
    let mut c = claims();
    c["exp"] = json!("tomorrow");
    assert_eq!(check(&hs(c), &hmac_key(), &[Algorithm::HS256]).unwrap_err(), JwtError::BadJson);
}

#[test]
fn wrong_issuer_audience_and_type_are_refused() {
    let mut c = claims();
    c["iss"] = json!("https://idp.example.com/");
    assert_eq!(check(&hs(c), &hmac_key(), &[Algorithm::HS256]).unwrap_err(), JwtError::WrongIssuer);
    let mut c = claims();
    c["aud"] = json!(["other", "another"]);
    assert_eq!(check(&hs(c), &hmac_key(), &[Algorithm::HS256]).unwrap_err(), JwtError::WrongAudience);
    let mut c = claims();
    c["aud"] = json!(["other", "warden"]);
    assert_eq!(check(&hs(c), &hmac_key(), &[Algorithm::HS256]), Ok(()));
    let token = hs256(&unsigned(&json!({"alg": "HS256", "typ": "JWT"}), &claims()), SECRET);
    let decoded = decode(&token, DEFAULT_MAX_TOKEN_BYTES).unwrap();
    let typed = ClaimRules { typ: Some("at+jwt".into()), ..rules() };
    assert_eq!(typed.check(&decoded.header, &decoded.claims, NOW).unwrap_err(), JwtError::WrongType);
    let token = hs256(&unsigned(&json!({"alg": "HS256", "typ": "application/AT+JWT"}), &claims()), SECRET);
    let decoded = decode(&token, DEFAULT_MAX_TOKEN_BYTES).unwrap();
    assert_eq!(typed.check(&decoded.header, &decoded.claims, NOW), Ok(()));
}

#[test]
fn malformed_encodings_and_segment_counts_are_refused() {
    let good = hs(claims());
    let (head, rest) = good.split_once('.').unwrap();
    let cases = [
        format!("{head}="),
        good.replacen('-', "+", 1),
        format!("{head}.{rest}="),
        format!("{head}.{rest}.extra"),
        head.to_string(),
        format!(".{rest}"),
        format!("{good}."),
        "..".to_string(),
        format!("{head}..{}", rest.rsplit_once('.').unwrap().1),
    ];
    for token in cases {
        let err = check(&token, &hmac_key(), &[Algorithm::HS256]).unwrap_err();
        assert!(matches!(err, JwtError::Malformed | JwtError::BadJson | JwtError::BadSignature), "{token}: {err:?}");
    }
}

#[test]
fn oversized_token_is_refused_before_decoding() {
    let mut c = claims();
    c["pad"] = json!("x".repeat(9000));
    assert_eq!(check(&hs(c), &hmac_key(), &[Algorithm::HS256]).unwrap_err(), JwtError::TooLarge);
}

#[test]
fn duplicate_members_and_garbage_json_are_refused() {
    let dup_payload =
        format!("{}.{}", b64(br#"{"alg":"HS256"}"#), b64(br#"{"sub":"alice","sub":"admin","exp":9999999999}"#));
    let dup_header = format!("{}.{}", b64(br#"{"alg":"HS256","alg":"none"}"#), b64(claims().to_string().as_bytes()));
    let array = format!("{}.{}", b64(br#"{"alg":"HS256"}"#), b64(b"[1,2]"));
    let garbage = format!("{}.{}", b64(br#"{"alg":"HS256"}"#), b64(b"\xff\xfe{"));
    for input in [dup_payload, dup_header, array, garbage] {
        assert_eq!(check(&hs256(&input, SECRET), &hmac_key(), &[Algorithm::HS256]).unwrap_err(), JwtError::BadJson);
    }
}

#[test]
fn ecdsa_der_and_out_of_range_signatures_are_refused() {
    let (signing, key) = es256_key();
    let input = unsigned(&json!({"alg": "ES256", "kid": "ec-1"}), &claims());
    let sig: p256::ecdsa::Signature = signing.sign(input.as_bytes());
    let good = format!("{input}.{}", b64(&sig.to_bytes()));
    assert_eq!(check(&good, std::slice::from_ref(&key), &[Algorithm::ES256]), Ok(()));
    let der = format!("{input}.{}", b64(sig.to_der().as_bytes()));
    assert_eq!(check(&der, std::slice::from_ref(&key), &[Algorithm::ES256]).unwrap_err(), JwtError::BadSignature);
    let n = hex::decode("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551").unwrap();
    let raw = sig.to_bytes();
    for bad in [
        [vec![0u8; 32], raw[32..].to_vec()].concat(),
        [raw[..32].to_vec(), vec![0u8; 32]].concat(),
        [n.clone(), raw[32..].to_vec()].concat(),
        [raw[..32].to_vec(), n.clone()].concat(),
        [vec![0xffu8; 32], raw[32..].to_vec()].concat(),
    ] {
        let token = format!("{input}.{}", b64(&bad));
        assert_eq!(check(&token, std::slice::from_ref(&key), &[Algorithm::ES256]).unwrap_err(), JwtError::BadSignature);
    }
}

#[test]
fn tampered_payload_fails_the_signature() {
    let good = hs(claims());
    let parts: Vec<&str> = good.split('.').collect();
    let mut c = claims();
    c["sub"] = json!("admin");
    let tampered = format!("{}.{}.{}", parts[0], b64(c.to_string().as_bytes()), parts[2]);
    assert_eq!(check(&tampered, &hmac_key(), &[Algorithm::HS256]).unwrap_err(), JwtError::BadSignature);
}

#[test]
fn weak_keys_are_refused_at_configuration() {
    assert!(VerifyingKey::hmac(None, Algorithm::HS256, b"short").is_err());
    assert!(VerifyingKey::hmac(None, Algorithm::RS256, SECRET).is_err());
    assert!(VerifyingKey::rsa(None, Algorithm::RS256, &[0xC3; 128], &[1, 0, 1]).is_err(), "1024-bit RSA");
    assert!(VerifyingKey::ed25519(None, &[1u8; 31]).is_err());
}

#[test]
fn rfc7515_appendix_a1_hs256_example() {
    let k = URL_SAFE_NO_PAD
        .decode("AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow")
        .unwrap();
    let token = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let key = VerifyingKey::hmac(None, Algorithm::HS256, &k).unwrap();
    let decoded = decode(token, DEFAULT_MAX_TOKEN_BYTES).unwrap();
    assert!(verify(&decoded, &[key], &[Algorithm::HS256]).is_ok());
    assert_eq!(decoded.claims["iss"], "joe");
}

#[test]
fn rfc8037_appendix_a4_ed25519_example() {
    let x = URL_SAFE_NO_PAD.decode("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo").unwrap();
    let key = VerifyingKey::ed25519(None, &x).unwrap();
    let input = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc";
    let sig = URL_SAFE_NO_PAD
        .decode("hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg")
        .unwrap();
    assert!(key.verify(Algorithm::EdDSA, input.as_bytes(), &sig).is_ok());
    let mut wrong = sig.clone();
    wrong[0] ^= 1;
    assert!(key.verify(Algorithm::EdDSA, input.as_bytes(), &wrong).is_err());
}
