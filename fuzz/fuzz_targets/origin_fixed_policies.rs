//! Fuzz target: arbitrary bytes as an `Origin` header, evaluated against a
//! fixed set of policies.
//!
//! Properties: no panic; keys without an origin rule allow everything; a
//! denial never echoes the Origin; an allowed Origin is echoed exactly; and
//! whatever the `example.com`-only and `*.example.com`-only keys allow has,
//! by a naive independent reading, the host those entries name.

#![no_main]

use std::sync::OnceLock;

use keypolicy::{evaluate_key, AllowOrigin, KeyPolicy, KeyRequest};
use keypolicy::key::{KeyType, Resource, MAX_ORIGIN_LEN};
use libfuzzer_sys::fuzz_target;

struct Policies {
    open: Vec<KeyPolicy>,
    web: KeyPolicy,
    exact: KeyPolicy,
    wildcard: KeyPolicy,
    mixed: KeyPolicy,
}

fn policies() -> &'static Policies {
    static POLICIES: OnceLock<Policies> = OnceLock::new();
    POLICIES.get_or_init(|| {
        let build = |b: keypolicy::key::KeyPolicyBuilder| b.build().expect("fixed policy is valid");
        Policies {
            open: vec![
                KeyPolicy::unrestricted(),
                build(KeyPolicy::builder().key_type(KeyType::Desktop)),
                build(KeyPolicy::builder().key_type(KeyType::Server)),
            ],
            web: build(KeyPolicy::builder().key_type(KeyType::Web)),
            exact: build(KeyPolicy::builder().allowed_domains(["https://www.example.com"])),
            wildcard: build(KeyPolicy::builder().allowed_domains(["*.example.com"])),
            mixed: build(KeyPolicy::builder().key_type(KeyType::Web).allowed_domains([
                "https://www.mappinest.com",
                "app.example.com",
                "http://localhost:3000",
                "münchen.de",
                "*.maps.example.org",
                "127.0.0.1",
                "[::1]",
                "capacitor://localhost",
                "tauri://localhost",
            ])),
        }
    })
}

/// Naive normalized host of an origin the library allowed: text after
/// `://`, port cut, lower-cased, one trailing dot and one `www.` removed.
fn naive_host(origin: &str) -> String {
    let rest = origin.split_once("://").map_or("", |(_, r)| r);
    let host = match rest.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => rest,
    };
    let host = host.to_ascii_lowercase();
    let host = host.strip_suffix('.').unwrap_or(&host).to_owned();
    host
}

fn check_allowed_shape(origin: &str) {
    assert!(origin.len() <= MAX_ORIGIN_LEN);
    assert!(origin.bytes().all(|b| b.is_ascii_graphic()), "{origin:?}");
    let (scheme, rest) = origin.split_once("://").expect("allowed origin has a scheme");
    assert!(!scheme.is_empty());
    for bad in ['/', '?', '#', '@', '%', ',', '\\', '*'] {
        assert!(!rest.contains(bad), "{origin:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    let origin = String::from_utf8_lossy(data);
    let p = policies();
    for resource in [Resource::Tiles, Resource::Styles] {
        let request = KeyRequest::new(resource).with_origin(origin.as_ref());
        for open in &p.open {
            let d = evaluate_key(open, &request);
            assert!(d.is_allowed());
            assert_eq!(d.allow_origin(), Some(AllowOrigin::Any));
        }
        for (name, policy) in [
            ("web", &p.web),
            ("exact", &p.exact),
            ("wildcard", &p.wildcard),
            ("mixed", &p.mixed),
        ] {
            let d = evaluate_key(policy, &request);
            if d.is_allowed() {
                assert_eq!(d.allow_origin(), Some(AllowOrigin::Origin(origin.as_ref())), "{name}");
                check_allowed_shape(&origin);
            } else {
                assert_eq!(d.allow_origin(), None, "{name}");
            }
        }
        if evaluate_key(&p.exact, &request).is_allowed() {
            let host = naive_host(&origin);
            assert!(host == "example.com" || host == "www.example.com", "{origin:?}");
            assert!(origin.to_ascii_lowercase().starts_with("http"), "{origin:?}");
        }
        if evaluate_key(&p.wildcard, &request).is_allowed() {
            let host = naive_host(&origin);
            assert!(host.ends_with(".example.com"), "{origin:?}");
            assert!(!host.starts_with('.') && !host.contains(".."), "{origin:?}");
        }
    }
});
