//! Fuzz target: a fuzzed policy (JSON) and a fuzzed request.
//!
//! Input layout: `policy JSON` `\0` `origin` `\0` `tileset` (missing parts
//! are absent headers); the first byte of the input also picks the resource.
//! Properties: no panic; a denial never echoes the Origin; a denial's reason
//! comes from a rule the policy has; the JSON round trip of the policy gives
//! the same decision.

#![no_main]

use keypolicy::{evaluate_key, AllowOrigin, Denial, KeyPolicy, KeyRequest};
use keypolicy::key::{KeyType, Resource};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(3, |&b| b == 0);
    let Some(policy_bytes) = parts.next() else { return };
    let Ok(policy) = serde_json::from_slice::<KeyPolicy>(policy_bytes) else {
        return;
    };
    let origin = parts.next().map(String::from_utf8_lossy);
    let tileset = parts.next().map(String::from_utf8_lossy);
    let resource = match data.first().map_or(0, |b| b % 4) {
        0 => Resource::Tiles,
        1 => Resource::Styles,
        2 => Resource::Static,
        _ => Resource::Export,
    };
    let mut request = KeyRequest::new(resource);
    if let Some(o) = &origin {
        request = request.with_origin(o.as_ref());
    }
    if let Some(t) = &tileset {
        request = request.with_tileset(t.as_ref());
    }
    let d = evaluate_key(&policy, &request);
    let origin_rule = !policy.allowed_domains().is_empty() || policy.key_type() == KeyType::Web;
    match d.denial() {
        None => {
            let expected = if origin_rule {
                AllowOrigin::Origin(origin.as_deref().unwrap_or_default())
            } else {
                AllowOrigin::Any
            };
            assert_eq!(d.allow_origin(), Some(expected));
        }
        Some(denial) => {
            assert!(!matches!(d.allow_origin(), Some(AllowOrigin::Origin(_))));
            match denial {
                Denial::OriginRequired | Denial::OriginInvalid | Denial::OriginNotAllowed => assert!(origin_rule),
                Denial::ScopeMissing => assert!(!policy.scopes().is_empty()),
                Denial::TilesetNotAllowed => assert!(!policy.allowed_tilesets().is_empty()),
                other => panic!("API-key evaluation returned a token denial {other:?}"),
            }
            if denial == Denial::OriginNotAllowed {
                assert!(!policy.allowed_domains().is_empty());
            }
        }
    }
    let json = serde_json::to_string(&policy).expect("a policy always serializes");
    let again: KeyPolicy = serde_json::from_str(&json).expect("a serialized policy parses back");
    assert_eq!(evaluate_key(&again, &request), d, "{json}");
});
