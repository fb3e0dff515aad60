//! Fuzz target: arbitrary bytes as a key-policy JSON document and as a
//! request JSON document.
//!
//! Properties: parsing never panics; a policy that parses serializes to
//! JSON that parses back to a policy with the same normalized entries
//! (the serialized form is a fixed point).

#![no_main]

use keypolicy::{evaluate_key, KeyPolicy, KeyRequest};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(policy) = serde_json::from_slice::<KeyPolicy>(data) {
        let json = serde_json::to_string(&policy).expect("a policy always serializes");
        let again: KeyPolicy = serde_json::from_str(&json).expect("a serialized policy parses back");
        assert_eq!(again.key_type(), policy.key_type());
        assert_eq!(again.scopes(), policy.scopes());
        assert_eq!(again.allowed_domains(), policy.allowed_domains(), "{json}");
        assert_eq!(again.allowed_tilesets(), policy.allowed_tilesets(), "{json}");
        let json_again = serde_json::to_string(&again).expect("a policy always serializes");
        assert_eq!(json, json_again);
    }
    if let Ok(request) = serde_json::from_slice::<KeyRequest<'_>>(data) {
        let decision = evaluate_key(&KeyPolicy::unrestricted(), &request);
        assert!(decision.is_allowed());
        let _ = serde_json::to_string(&request).expect("a request always serializes");
    }
});
