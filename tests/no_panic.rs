//! No input crashes the library (issue 5, part 4): arbitrary strings and
//! bytes go to every public parser and to `evaluate`, in CI, so what the
//! fuzz targets in `fuzz/` guard is also guarded on every test run.
//!
//! A panic anywhere fails the test; the assertions on top check that what
//! parses behaves (entries re-parse from their Display form, denials never
//! echo the Origin).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a panic is a failed test"
)]

mod common;

use common::cases;
use keypolicy::key::{AllowedDomain, KeyScope, KeyType, Resource, TilesetPattern};
use keypolicy::{evaluate_key, AllowOrigin, KeyPolicy, KeyRequest};
use proptest::prelude::*;

/// Strings that reach deep into the parsers: arbitrary Unicode, printable
/// ASCII, URL-shaped text, and byte soup read lossily.
fn hostile_string() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[ -~]{0,64}",
        "([a-zA-Z][a-zA-Z0-9+.-]{0,6}://)?(\\*\\.)?[a-zA-Z0-9.\\-_%@\\[\\]:\u{fc}\u{3002}]{0,40}(:[0-9]{0,7})?(/[ -~]{0,8})?",
        "(xn--[a-z0-9-]{0,12}\\.){1,3}[a-z]{2,4}\\.?",
        "[0-9xX.]{1,24}",
        prop::collection::vec(any::<u8>(), 0..64).prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
    ]
}

fn policies() -> Vec<KeyPolicy> {
    vec![
        KeyPolicy::unrestricted(),
        KeyPolicy::builder().key_type(KeyType::Web).build().unwrap(),
        KeyPolicy::builder()
            .key_type(KeyType::Server)
            .scopes(KeyScope::ALL)
            .allowed_domains([
                "www.example.com",
                "münchen.de",
                "*.maps.example.net",
                "127.0.0.1",
                "[::1]",
                "capacitor://localhost",
            ])
            .allowed_tilesets(["alice.streets", "bob.*"])
            .build()
            .unwrap(),
    ]
}

proptest! {
    #![proptest_config(cases(2048))]

    /// Every `FromStr` of the public API, on anything.
    #[test]
    fn from_str_parsers_never_panic(s in hostile_string()) {
        if let Ok(entry) = s.parse::<AllowedDomain>() {
            let shown = entry.to_string();
            prop_assert_eq!(shown.parse::<AllowedDomain>().ok(), Some(entry), "{:?} -> {}", s, shown);
        }
        if let Ok(t) = s.parse::<TilesetPattern>() {
            prop_assert_eq!(t.to_string(), s.clone());
        }
        if let Ok(scope) = s.parse::<KeyScope>() {
            prop_assert_eq!(scope.as_str(), s.as_str());
        }
        if let Ok(k) = s.parse::<KeyType>() {
            prop_assert_eq!(k.as_str(), s.as_str());
        }
        if let Ok(r) = s.parse::<Resource>() {
            prop_assert_eq!(r.as_str(), s.as_str());
        }
    }

    /// Policy and request JSON: arbitrary documents, and well-shaped
    /// documents whose values are arbitrary strings (so the builder's
    /// validation runs on them).
    #[test]
    fn json_parsers_never_panic(s in hostile_string(), t in hostile_string(), field in 0usize..6) {
        let _ = serde_json::from_str::<KeyPolicy>(&s);
        let _ = serde_json::from_slice::<KeyPolicy>(s.as_bytes());
        let _ = serde_json::from_str::<KeyRequest<'_>>(&s);
        let doc = match field {
            0 => serde_json::json!({ "allowed_domains": [s, t] }),
            1 => serde_json::json!({ "allowed_tilesets": [s, t] }),
            2 => serde_json::json!({ "scopes": [s] }),
            3 => serde_json::json!({ "key_type": s }),
            4 => serde_json::json!({ "origin": s, "tileset": t }),
            _ => serde_json::json!({ "resource": s }),
        }
        .to_string();
        if let Ok(p) = serde_json::from_str::<KeyPolicy>(&doc) {
            let back: KeyPolicy = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
            prop_assert_eq!(back.allowed_domains(), p.allowed_domains());
            prop_assert_eq!(back.allowed_tilesets(), p.allowed_tilesets());
        }
        if let Ok(r) = serde_json::from_str::<KeyRequest<'_>>(&doc) {
            let _ = evaluate_key(&KeyPolicy::unrestricted(), &r);
        }
    }

    /// `evaluate` on arbitrary Origin and tileset values, against fixed
    /// policies and a policy built from an arbitrary entry.
    #[test]
    fn evaluate_never_panics(origin in prop::option::of(hostile_string()), tileset in prop::option::of(hostile_string()), entry in hostile_string()) {
        let mut all = policies();
        if let Ok(p) = KeyPolicy::builder().allowed_domains([entry.as_str()]).build() {
            all.push(p);
        }
        if let Ok(p) = KeyPolicy::builder().allowed_tilesets([entry.as_str()]).build() {
            all.push(p);
        }
        for policy in &all {
            for resource in [Resource::Tiles, Resource::Styles, Resource::Static, Resource::Export] {
                let mut req = KeyRequest::new(resource);
                if let Some(o) = &origin {
                    req = req.with_origin(o.as_str());
                }
                if let Some(t) = &tileset {
                    req = req.with_tileset(t.as_str());
                }
                let d = evaluate_key(policy, &req);
                if !d.is_allowed() {
                    prop_assert!(!matches!(d.allow_origin(), Some(AllowOrigin::Origin(_))));
                }
                let _ = serde_json::to_string(&d).unwrap();
            }
        }
    }
}
