//! Signed token strings (`usage.payload.signature`): layout, HMAC-SHA256,
//! signing-key rotation, shape checks before the MAC, the one-hour rule
//! for `tk`, and single-character changes.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers: a panic is a failed test"
)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use keypolicy::lifecycle::{Claims, SigningKey, SigningKeys, TokenStringError};
use keypolicy::token::{Timestamp, TokenScope, TokenScopeSet, TokenUsage};
use serde_json::{json, Value};
use sha2::Sha256;

const SECRET: [u8; 32] = [5u8; 32];

fn keys() -> SigningKeys {
    SigningKeys::new(SigningKey::new("k1", &SECRET).unwrap())
}

fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn pk_claims() -> Claims {
    Claims::Permanent {
        user: "alice".into(),
        authorization: "cijucimbe000brbkt48d0dhcx".into(),
    }
}

fn tk_claims(issued: &str, expires: &str) -> Claims {
    Claims::Temporary {
        user: "alice".into(),
        expires: at(expires),
        issued: at(issued),
        scopes: [TokenScope::StylesRead, TokenScope::MapRead].into_iter().collect(),
    }
}

fn payload(token: &str) -> Value {
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// A string signed with `SECRET` over any payload, as a forger holding the
/// secret (or a buggy signer) would make it.
fn hand_signed(usage: &str, payload: &Value) -> String {
    let signed = format!("{usage}.{}", URL_SAFE_NO_PAD.encode(payload.to_string()));
    let mut mac = Hmac::<Sha256>::new_from_slice(&SECRET).unwrap();
    mac.update(signed.as_bytes());
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
}

fn is_malformed(r: &Result<keypolicy::lifecycle::VerifiedToken, TokenStringError>) -> bool {
    matches!(r, Err(TokenStringError::Malformed { .. }))
}

fn is_invalid(r: &Result<keypolicy::lifecycle::VerifiedToken, TokenStringError>) -> bool {
    matches!(r, Err(TokenStringError::Invalid { .. }))
}

#[test]
fn layout_is_usage_payload_signature_with_the_documented_payloads() {
    let pk = keys().sign(TokenUsage::Public, &pk_claims());
    let parts: Vec<&str> = pk.split('.').collect();
    assert_eq!(parts.len(), 3);
    assert_eq!(parts[0], "pk");
    assert_eq!(parts[2].len(), 43, "base64url of 32 MAC bytes, no padding");
    assert_eq!(payload(&pk), json!({"u": "alice", "a": "cijucimbe000brbkt48d0dhcx"}));
    assert!(keys().sign(TokenUsage::Secret, &pk_claims()).starts_with("sk."));

    let tk = keys().sign(
        TokenUsage::Temporary,
        &tk_claims("2026-01-01T00:00:00Z", "2026-01-01T00:30:00Z"),
    );
    assert!(tk.starts_with("tk."));
    assert_eq!(
        payload(&tk),
        json!({"u": "alice", "exp": 1_767_227_400, "iat": 1_767_225_600,
               "scopes": ["styles:read", "map:read"], "client": "api"})
    );
}

#[test]
fn the_signature_is_hmac_sha256_over_usage_dot_payload() {
    let pk = keys().sign(TokenUsage::Public, &pk_claims());
    let (signed, signature) = pk.rsplit_once('.').unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&SECRET).unwrap();
    mac.update(signed.as_bytes());
    assert_eq!(signature, URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()));
    // The payload is written in the documented field order.
    let part = signed.split_once('.').unwrap().1;
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap();
    assert_eq!(text, r#"{"u":"alice","a":"cijucimbe000brbkt48d0dhcx"}"#);
    let verified = keys().verify(&pk).unwrap();
    assert_eq!((verified.usage, verified.claims), (TokenUsage::Public, pk_claims()));
}

#[test]
fn a_temporary_token_carries_its_metadata() {
    let tk = keys().sign(
        TokenUsage::Temporary,
        &tk_claims("2026-01-01T00:00:00Z", "2026-01-01T01:00:00Z"),
    );
    let verified = keys().verify(&tk).unwrap();
    let policy = verified.temporary_policy().unwrap();
    assert_eq!(policy.usage(), TokenUsage::Temporary);
    assert_eq!(policy.expires(), Some(at("2026-01-01T01:00:00Z")));
    let expected: TokenScopeSet = [TokenScope::StylesRead, TokenScope::MapRead].into_iter().collect();
    assert_eq!(policy.scopes(), expected);
}

#[test]
fn a_wrong_shape_is_malformed_before_any_mac() {
    let good = keys().sign(TokenUsage::Public, &pk_claims());
    let (_, rest) = good.split_once('.').unwrap();
    let (payload_part, sig) = rest.split_once('.').unwrap();
    let cases = [
        String::new(),
        "pk".into(),
        "pk.abc".into(),
        format!("pk..{sig}"),
        format!("pk.{payload_part}."),
        format!("xk.{payload_part}.{sig}"),
        format!("PK.{payload_part}.{sig}"),
        format!("pk.{payload_part}.{sig}.extra"),
        format!("pk.{payload_part}+.{sig}"),
        format!("pk.{payload_part}.{}", &sig[..42]),
        format!("pk.{payload_part}.{sig}A"),
        format!("pk.{}.{sig}", URL_SAFE_NO_PAD.encode("not json")),
        format!("pk.{}", "A".repeat(4093)),
    ];
    for case in &cases {
        assert!(is_malformed(&keys().verify(case)), "{case:?}");
    }
}

#[test]
fn a_payload_that_does_not_fit_its_usage_is_malformed() {
    let tk_payload = json!({"u": "alice", "exp": 1_767_227_400, "iat": 1_767_225_600,
                            "scopes": ["styles:read"], "client": "api"});
    let cases = [
        hand_signed("pk", &tk_payload),
        hand_signed("tk", &json!({"u": "alice", "a": "x"})),
        hand_signed("pk", &json!({"u": "alice", "a": "x", "admin": true})),
        hand_signed(
            "tk",
            &json!({"u": "alice", "exp": 1_767_227_400, "iat": 1_767_225_600,
                                   "scopes": ["styles:read"], "client": "web"}),
        ),
        hand_signed(
            "tk",
            &json!({"u": "alice", "exp": 1_767_227_400, "iat": 1_767_225_600,
                                   "scopes": ["root:all"], "client": "api"}),
        ),
    ];
    for case in &cases {
        assert!(is_malformed(&keys().verify(case)), "{case}");
    }
}

#[test]
fn two_signing_keys_are_live_during_a_rotation() {
    let k1 = keys();
    let old = k1.sign(TokenUsage::Public, &pk_claims());
    let k2 = k1.rotate(SigningKey::new("k2", &[6u8; 32]).unwrap()).unwrap();
    let new = k2.sign(TokenUsage::Public, &pk_claims());
    // The payload is Mapbox's, field for field: no key id in it.
    assert_eq!(payload(&new), json!({"u": "alice", "a": "cijucimbe000brbkt48d0dhcx"}));
    assert!(k2.verify(&old).is_ok(), "the previous key still verifies");
    assert!(k2.verify(&new).is_ok());
    let k3 = k2.rotate(SigningKey::new("k3", &[4u8; 32]).unwrap()).unwrap();
    assert!(is_invalid(&k3.verify(&old)), "two rotations later, k1 is gone");
    assert!(k3.verify(&new).is_ok());
}

/// The secret decides, not the id: the id only names a key for the
/// operator (it is not in the string).
#[test]
fn a_wrong_secret_is_invalid_whatever_the_key_id() {
    let token = keys().sign(TokenUsage::Public, &pk_claims());
    let other = SigningKeys::new(SigningKey::new("k1", &[9u8; 32]).unwrap());
    assert!(is_invalid(&other.verify(&token)));
    let renamed = SigningKeys::new(SigningKey::new("zz", &SECRET).unwrap());
    assert!(renamed.verify(&token).is_ok());
}

#[test]
fn a_temporary_token_living_over_an_hour_is_refused_despite_a_valid_mac() {
    let base =
        |exp: i64, iat: i64| json!({"u": "alice", "exp": exp, "iat": iat, "scopes": ["styles:read"], "client": "api"});
    let iat = 1_767_225_600;
    assert!(keys().verify(&hand_signed("tk", &base(iat + 3600, iat))).is_ok());
    let long = keys().verify(&hand_signed("tk", &base(iat + 3601, iat)));
    assert!(is_invalid(&long), "{long:?}");
    assert!(is_invalid(&keys().verify(&hand_signed("tk", &base(iat, iat)))));
    assert!(is_invalid(&keys().verify(&hand_signed("tk", &base(iat - 10, iat)))));
}

#[test]
fn swapping_the_usage_breaks_the_signature() {
    let pk = keys().sign(TokenUsage::Public, &pk_claims());
    let sk = format!("sk{}", &pk[2..]);
    assert!(is_invalid(&keys().verify(&sk)));
}

#[test]
fn no_single_character_change_verifies() {
    let strings = [
        keys().sign(TokenUsage::Public, &pk_claims()),
        keys().sign(
            TokenUsage::Temporary,
            &tk_claims("2026-01-01T00:00:00Z", "2026-01-01T00:30:00Z"),
        ),
    ];
    for original in &strings {
        for i in 0..original.len() {
            for c in ['A', 'b', '0', '-', '_', '.', 'Q'] {
                let mut bytes = original.clone().into_bytes();
                if bytes[i] == c as u8 {
                    continue;
                }
                bytes[i] = c as u8;
                let changed = String::from_utf8(bytes).unwrap();
                assert!(keys().verify(&changed).is_err(), "{changed} verified");
            }
        }
    }
}
