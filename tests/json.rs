//! The JSON contract of policies, requests and decisions.

#![cfg(feature = "serde")]
#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]

use keypolicy::key::{KeyScope, KeyType, Resource};
use keypolicy::{evaluate_key, KeyPolicy, KeyRequest};
use serde_json::json;

fn policy(value: serde_json::Value) -> Result<KeyPolicy, String> {
    serde_json::from_value(value).map_err(|e| e.to_string())
}

#[test]
fn every_policy_field_is_optional_and_null_means_absent() {
    let empty = policy(json!({})).unwrap();
    assert_eq!(empty.key_type(), KeyType::Any);
    assert!(empty.scopes().is_empty() && empty.allowed_domains().is_empty() && empty.allowed_tilesets().is_empty());
    let nulls = policy(json!({"key_type": null, "scopes": null, "allowed_domains": null, "allowed_tilesets": null}));
    assert_eq!(nulls.unwrap().key_type(), KeyType::Any);
    let full = policy(json!({
        "key_type": "web",
        "scopes": ["tiles:read", "export:read"],
        "allowed_domains": ["https://www.mappinest.com"],
        "allowed_tilesets": ["alice.streets", "bob.*"]
    }))
    .unwrap();
    assert_eq!(full.key_type(), KeyType::Web);
    assert!(full.scopes().contains(KeyScope::TilesRead) && full.scopes().contains(KeyScope::ExportRead));
    assert_eq!(full.allowed_domains()[0].to_string(), "mappinest.com");
    assert_eq!(full.allowed_tilesets().len(), 2);
}

#[test]
fn policy_errors_name_the_field_index_and_value() {
    let cases = [
        (json!({"alowed_domains": ["a.com"]}), "unknown field `alowed_domains`"),
        (
            json!({"key_type": "browser"}),
            r#"key_type: unknown key type "browser""#,
        ),
        (
            json!({"scopes": ["tiles:read", "styles:tiles"]}),
            r#"scopes[1]: unknown scope "styles:tiles""#,
        ),
        (
            json!({"allowed_domains": ["ok.com", "*.com"]}),
            r#"allowed_domains[1]: "*.com": a wildcard needs"#,
        ),
        (
            json!({"allowed_domains": [""]}),
            r#"allowed_domains[0]: "": the entry is empty"#,
        ),
        (
            json!({"allowed_tilesets": ["alice"]}),
            r#"allowed_tilesets[0]: "alice": expected"#,
        ),
        (json!({"scopes": "tiles:read"}), "invalid type"),
    ];
    for (value, expected) in cases {
        let err = policy(value.clone()).unwrap_err();
        assert!(err.contains(expected), "{value}: {err}");
    }
}

#[test]
fn a_serialized_policy_reads_back_to_the_same_policy() {
    let original = policy(json!({
        "key_type": "desktop",
        "scopes": ["export:read", "tiles:read"],
        "allowed_domains": ["HTTPS://WWW.Example.com:8443/x", "münchen.de", "*.maps.example.org", "[0::1]", "tauri://localhost"],
        "allowed_tilesets": ["alice.streets", "bob.*"]
    }))
    .unwrap();
    let written = serde_json::to_value(&original).unwrap();
    assert_eq!(
        written,
        json!({
            "key_type": "desktop",
            "scopes": ["tiles:read", "export:read"],
            "allowed_domains": ["example.com", "xn--mnchen-3ya.de", "*.maps.example.org", "[::1]", "tauri://localhost"],
            "allowed_tilesets": ["alice.streets", "bob.*"]
        })
    );
    let again: KeyPolicy = serde_json::from_value(written.clone()).unwrap();
    assert_eq!(serde_json::to_value(&again).unwrap(), written);
}

#[test]
fn requests_default_to_tiles_without_origin() {
    let r: KeyRequest<'_> = serde_json::from_str("{}").unwrap();
    assert_eq!(r, KeyRequest::new(Resource::Tiles));
    let r: KeyRequest<'_> = serde_json::from_str(r#"{"origin": null, "resource": "styles"}"#).unwrap();
    assert_eq!(r, KeyRequest::new(Resource::Styles));
    let r: KeyRequest<'_> = serde_json::from_str(
        r#"{"origin": "https://app.example.com", "resource": "tiles", "tileset": "alice.streets"}"#,
    )
    .unwrap();
    assert_eq!(
        r,
        KeyRequest::new(Resource::Tiles)
            .with_origin("https://app.example.com")
            .with_tileset("alice.streets")
    );
    // Strings without escapes are borrowed from the input, not copied.
    assert!(matches!(r.origin, Some(std::borrow::Cow::Borrowed(_))));
    assert!(matches!(r.tileset, Some(std::borrow::Cow::Borrowed(_))));
    // Escapes are decoded (the string is then owned, not borrowed).
    let r: KeyRequest<'_> = serde_json::from_str(r#"{"origin": "https://a\u002ecom"}"#).unwrap();
    assert_eq!(r.origin.as_deref(), Some("https://a.com"));
    for bad in [
        r#"{"orign": "x"}"#,
        r#"{"resource": "maps"}"#,
        r#"{"resource": "Tiles"}"#,
        r#"{"tileset": 5}"#,
    ] {
        assert!(serde_json::from_str::<KeyRequest<'_>>(bad).is_err(), "{bad}");
    }
}

#[test]
fn decisions_serialize_to_the_contract_shape() {
    let p = policy(json!({"key_type": "web", "allowed_domains": ["app.example.com"]})).unwrap();
    let ok = KeyRequest::new(Resource::Tiles).with_origin("https://app.example.com");
    assert_eq!(
        serde_json::to_value(evaluate_key(&p, &ok)).unwrap(),
        json!({"allowed": true, "status": 200, "reason": null, "message": "Allowed",
               "headers": {"Access-Control-Allow-Origin": "https://app.example.com", "Vary": "Origin"}})
    );
    let no = KeyRequest::new(Resource::Tiles);
    assert_eq!(
        serde_json::to_value(evaluate_key(&p, &no)).unwrap(),
        json!({"allowed": false, "status": 403, "reason": "origin_required",
               "message": "This key only serves browser requests: an Origin header is required",
               "headers": {"Vary": "Origin"}})
    );
}
