//! Regression tests for issue 9, items 1 and 2: hash flooding through
//! allowlists (caps on the lists; entries chosen to collide in the old
//! table still build and match exactly) and entries that cover a whole
//! public suffix (refused on keys' wildcards and tokens' URLs, with the
//! names that must stay allowed).
//!
//! That each policy's hash tables get their own seed is tested where the
//! seed is visible, in the library's unit tests (`src/hash.rs`,
//! `src/key/policy.rs`, `src/token/urls.rs`). No timing here: the speed
//! of colliding entries is `hostile/colliding_10k` in `benches/evaluate.rs`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a panic is a failed test"
)]

#[path = "../benches/colliding/mod.rs"]
mod colliding;

use keypolicy::key::{
    AllowedDomainError, KeyPolicyError, KeyType, Resource, MAX_ALLOWED_DOMAINS, MAX_ALLOWED_TILESETS,
};
use keypolicy::token::{AllowedUrlError, TokenPolicyError, TokenScope, TokenUsage};
use keypolicy::{evaluate_key, evaluate_token, Denial, KeyPolicy, KeyRequest, TokenPolicy, TokenRequest};

fn key(domains: &[&str]) -> Result<KeyPolicy, KeyPolicyError> {
    KeyPolicy::builder()
        .key_type(KeyType::Web)
        .allowed_domains(domains.iter().copied())
        .build()
}

fn key_denial(policy: &KeyPolicy, origin: &str) -> Option<Denial> {
    evaluate_key(policy, &KeyRequest::new(Resource::Styles).with_origin(origin)).denial()
}

fn token(urls: &[&str]) -> Result<TokenPolicy, TokenPolicyError> {
    TokenPolicy::builder(TokenUsage::Public)
        .scope(TokenScope::StylesRead)
        .allowed_urls(urls.iter().copied())
        .build()
}

fn token_denial(policy: &TokenPolicy, referer: &str) -> Option<Denial> {
    evaluate_token(policy, &TokenRequest::new(TokenScope::StylesRead).with_referer(referer)).denial()
}

// ---------------------------------------------------------------------------
// 1. Hash flooding: caps, and colliding entries
// ---------------------------------------------------------------------------

#[test]
fn allowed_domains_are_capped_at_build_time() {
    let at_cap: Vec<String> = (0..MAX_ALLOWED_DOMAINS).map(|i| format!("h{i}.example.com")).collect();
    let policy = KeyPolicy::builder().allowed_domains(at_cap.clone()).build().unwrap();
    assert_eq!(policy.allowed_domains().len(), MAX_ALLOWED_DOMAINS);
    assert_eq!(key_denial(&policy, "https://h19999.example.com"), None);

    let over = at_cap.into_iter().chain(["one-more.example.com".to_owned()]);
    let err = KeyPolicy::builder().allowed_domains(over).build().unwrap_err();
    assert_eq!(
        err,
        KeyPolicyError::TooManyEntries {
            field: "allowed_domains",
            count: MAX_ALLOWED_DOMAINS + 1,
            max: MAX_ALLOWED_DOMAINS,
        }
    );
    assert_eq!(
        err.to_string(),
        "allowed_domains: 20001 entries; at most 20000 are allowed"
    );
}

#[test]
fn duplicates_count_toward_the_cap() {
    // The cap bounds the work of a build, which reads every entry given.
    let same = vec!["example.com"; MAX_ALLOWED_DOMAINS + 1];
    let err = KeyPolicy::builder().allowed_domains(same).build().unwrap_err();
    assert!(
        matches!(err, KeyPolicyError::TooManyEntries { field: "allowed_domains", count, .. } if count == MAX_ALLOWED_DOMAINS + 1),
        "{err}"
    );
}

#[test]
fn allowed_tilesets_are_capped_at_build_time() {
    let at_cap: Vec<String> = (0..MAX_ALLOWED_TILESETS).map(|i| format!("alice.t{i}")).collect();
    let policy = KeyPolicy::builder().allowed_tilesets(at_cap.clone()).build().unwrap();
    assert_eq!(policy.allowed_tilesets().len(), MAX_ALLOWED_TILESETS);

    let over = at_cap.into_iter().chain(["bob.*".to_owned()]);
    let err = KeyPolicy::builder().allowed_tilesets(over).build().unwrap_err();
    assert_eq!(
        err,
        KeyPolicyError::TooManyEntries {
            field: "allowed_tilesets",
            count: MAX_ALLOWED_TILESETS + 1,
            max: MAX_ALLOWED_TILESETS,
        }
    );
    assert_eq!(
        err.to_string(),
        "allowed_tilesets: 10001 entries; at most 10000 are allowed"
    );
}

#[cfg(feature = "serde")]
#[test]
fn the_cap_applies_to_json_policies_too() {
    let domains: Vec<String> = (0..=MAX_ALLOWED_DOMAINS).map(|i| format!("h{i}.example.com")).collect();
    let json = serde_json::json!({ "key_type": "web", "allowed_domains": domains }).to_string();
    let err = serde_json::from_str::<KeyPolicy>(&json).unwrap_err();
    assert!(
        err.to_string()
            .contains("allowed_domains: 20001 entries; at most 20000 are allowed"),
        "{err}"
    );
}

#[test]
fn entries_colliding_in_the_old_table_match_exactly() {
    // 1,000 hosts that all started their probe at one slot of the table
    // used before issue 9, plus one more that is not listed.
    let hosts = colliding::old_fx_collisions(1_001);
    let (unlisted, listed) = hosts.split_last().unwrap();
    let mut old = colliding::old::StrSet::default();
    for host in listed {
        old.insert(host.as_str().into());
    }
    assert!(
        old.probe_len(unlisted) > 1_000,
        "the generator must produce real collisions for the old table"
    );

    let refs: Vec<&str> = listed.iter().map(String::as_str).collect();
    let policy = key(&refs).unwrap();
    assert_eq!(policy.allowed_domains().len(), 1_000);
    for host in listed.iter().step_by(37) {
        assert_eq!(key_denial(&policy, &format!("https://{host}")), None, "{host}");
        assert_eq!(
            key_denial(&policy, &format!("https://a.{host}")),
            Some(Denial::OriginNotAllowed),
            "a.{host}"
        );
    }
    assert_eq!(
        key_denial(&policy, &format!("https://{unlisted}")),
        Some(Denial::OriginNotAllowed)
    );
}

// ---------------------------------------------------------------------------
// 2. Public suffixes
// ---------------------------------------------------------------------------

#[test]
fn key_wildcards_over_a_public_suffix_are_refused() {
    for (entry, suffix, section) in [
        ("*.co.uk", "co.uk", "ICANN"),
        ("*.com.au", "com.au", "ICANN"),
        ("*.github.io", "github.io", "private"),
        ("*.s3.amazonaws.com", "s3.amazonaws.com", "private"),
        ("*.blogspot.com", "blogspot.com", "private"),
        ("*.appspot.com", "appspot.com", "private"),
        ("*.vercel.app", "vercel.app", "private"),
        ("https://*.Netlify.App:443/", "netlify.app", "private"),
        // IDN suffix `公司.cn`, written in Unicode.
        ("*.公司.cn", "xn--55qx5d.cn", "ICANN"),
    ] {
        let err = key(&["example.com", entry]).unwrap_err();
        assert_eq!(
            err,
            KeyPolicyError::InvalidDomain {
                index: 1,
                value: entry.to_owned(),
                source: AllowedDomainError::WildcardPublicSuffix {
                    suffix: suffix.to_owned(),
                    section,
                },
            },
            "{entry}"
        );
        let message = err.to_string();
        assert!(
            message.contains(&format!("{entry:?}")) && message.contains(&format!("{suffix:?}")),
            "the message names the entry and the suffix: {message}"
        );
    }
    // The one-label case keeps its own, older error.
    assert!(matches!(
        key(&["*.com"]).unwrap_err(),
        KeyPolicyError::InvalidDomain {
            source: AllowedDomainError::WildcardTooBroad,
            ..
        }
    ));
}

#[test]
fn keys_keep_exact_suffix_hosts_and_wildcards_below_a_suffix() {
    let policy = key(&["github.io", "*.example.co.uk", "*.alice.github.io", "localhost"]).unwrap();
    let shown: Vec<String> = policy.allowed_domains().iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        ["github.io", "*.example.co.uk", "*.alice.github.io", "localhost"]
    );
    for allowed in [
        "https://github.io",
        "https://www.github.io",
        "https://maps.example.co.uk",
        "https://a.b.example.co.uk",
        "https://x.alice.github.io",
        "http://localhost:3000",
    ] {
        assert_eq!(key_denial(&policy, allowed), None, "{allowed}");
    }
    for denied in [
        "https://mallory.github.io",
        "https://example.co.uk",
        "https://other.co.uk",
        "https://alice.github.io",
    ] {
        assert_eq!(key_denial(&policy, denied), Some(Denial::OriginNotAllowed), "{denied}");
    }
}

#[test]
fn token_urls_on_a_public_suffix_are_refused() {
    for (entry, host, section) in [
        ("com", "com", "ICANN"),
        ("co.uk", "co.uk", "ICANN"),
        ("https://CO.UK./maps", "co.uk", "ICANN"),
        ("github.io", "github.io", "private"),
        ("http://vercel.app:8080", "vercel.app", "private"),
        ("s3.amazonaws.com/bucket", "s3.amazonaws.com", "private"),
    ] {
        let err = token(&["example.com", entry]).unwrap_err();
        assert_eq!(
            err,
            TokenPolicyError::InvalidAllowedUrl {
                index: 1,
                value: entry.to_owned(),
                source: AllowedUrlError::PublicSuffix {
                    host: host.to_owned(),
                    section,
                },
            },
            "{entry}"
        );
        let message = err.to_string();
        assert!(
            message.contains(&format!("{entry:?}")) && message.contains(&format!("{host:?}")),
            "the message names the entry and the suffix: {message}"
        );
    }
}

#[test]
fn tokens_keep_localhost_intranet_names_and_sites_below_a_suffix() {
    let policy = token(&["localhost", "http://intranet:8080", "example.co.uk", "alice.github.io"]).unwrap();
    for allowed in [
        "http://localhost:3000/",
        "http://intranet:8080/maps",
        "https://maps.example.co.uk/x",
        "https://alice.github.io/",
    ] {
        assert_eq!(token_denial(&policy, allowed), None, "{allowed}");
    }
    for denied in [
        "https://anyone.com/",
        "https://other.co.uk/",
        "https://mallory.github.io/",
        "http://intranet.evil.com:8080/",
    ] {
        assert_eq!(
            token_denial(&policy, denied),
            Some(Denial::RefererNotAllowed),
            "{denied}"
        );
    }
}

#[cfg(feature = "serde")]
#[test]
fn json_policies_obey_the_public_suffix_rule() {
    let err = serde_json::from_str::<KeyPolicy>(r#"{"allowed_domains": ["*.github.io"]}"#).unwrap_err();
    assert!(err.to_string().contains(r#""*.github.io""#), "{err}");
    assert!(err.to_string().contains("public suffix"), "{err}");
    let err =
        serde_json::from_str::<TokenPolicy>(r#"{"usage": "pk", "scopes": ["styles:read"], "allowedUrls": ["com"]}"#)
            .unwrap_err();
    assert!(err.to_string().contains("public suffix"), "{err}");
    assert!(serde_json::from_str::<TokenPolicy>(
        r#"{"usage": "pk", "scopes": ["styles:read"], "allowedUrls": ["localhost"]}"#
    )
    .is_ok());
}
