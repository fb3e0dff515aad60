//! The adversarial Origin corpus (issue 5, part 3).
//!
//! `tests/data/adversarial_origins.tsv` holds hostile `Origin` values, each
//! with its attack class, the expected outcome under a fixed API-key policy
//! and why. Every case asserts allow/deny and the reason, and that the CORS
//! headers never echo a denied Origin.
//!
//! The Referer half (token URL restrictions) is `tests/adversarial_referers.rs`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a panic is a failed test"
)]

use std::collections::BTreeMap;

use keypolicy::key::{KeyType, Resource};
use keypolicy::{evaluate_key, AllowOrigin, KeyPolicy, KeyRequest};

mod common;
use common::corpus::unescape;

const ORIGINS: &str = include_str!("data/adversarial_origins.tsv");

/// Every attack class issue 5 lists; each must have cases.
const CLASSES: &[&str] = &[
    "suffix-prefix",
    "regex-dot",
    "null-opaque",
    "app-scheme",
    "special-chars",
    "percent-encoding",
    "userinfo-backslash",
    "case",
    "trailing-empty-labels",
    "www",
    "ports",
    "ipv4-forms",
    "ipv6-forms",
    "idn-homograph",
    "uts46-dots",
    "invalid-punycode",
    "whitespace-control",
    "comma-duplicates",
    "wildcard-star",
    "long-values",
];

/// One corpus line.
struct Case {
    line: usize,
    class: String,
    /// `None`: no Origin header.
    value: Option<String>,
    expected: String,
    why: String,
}

fn cases(text: &str) -> Vec<Case> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.starts_with('#') && !l.trim().is_empty())
        .map(|(i, l)| {
            let cols: Vec<&str> = l.split('\t').collect();
            assert_eq!(cols.len(), 4, "line {}: {l:?}", i + 1);
            Case {
                line: i + 1,
                class: cols[0].to_owned(),
                value: (cols[1] != "<absent>").then(|| unescape(cols[1])),
                expected: cols[2].to_owned(),
                why: cols[3].to_owned(),
            }
        })
        .collect()
}

/// The fixed policy the corpus is written against.
fn corpus_policy() -> KeyPolicy {
    KeyPolicy::builder()
        .key_type(KeyType::Web)
        .allowed_domains([
            "https://www.example.com",
            "app.example.org",
            "http://localhost:3000",
            "münchen.de",
            "*.maps.example.net",
            "127.0.0.1",
            "[::1]",
            "capacitor://localhost",
            "tauri://localhost",
        ])
        .build()
        .unwrap()
}

// ---------------------------------------------------------------------------
// Origin
// ---------------------------------------------------------------------------

#[test]
fn origin_corpus_covers_every_attack_class() {
    let all = cases(ORIGINS);
    assert!(all.len() >= 100, "only {} cases", all.len());
    let mut per_class: BTreeMap<&str, usize> = BTreeMap::new();
    for c in &all {
        assert!(
            CLASSES.contains(&c.class.as_str()),
            "line {}: unknown class {}",
            c.line,
            c.class
        );
        assert!(!c.why.is_empty(), "line {}: say why", c.line);
        *per_class.entry(c.class.as_str()).or_default() += 1;
    }
    for class in CLASSES {
        assert!(
            per_class.get(class).copied().unwrap_or(0) >= 3,
            "class {class} has under 3 cases"
        );
    }
    for reason in ["allow", "origin_required", "origin_invalid", "origin_not_allowed"] {
        assert!(all.iter().any(|c| c.expected == reason), "no case expects {reason}");
    }
}

#[test]
fn origin_corpus_decisions() {
    let policy = corpus_policy();
    let mut failures = Vec::new();
    for c in cases(ORIGINS) {
        let mut request = KeyRequest::new(Resource::Tiles);
        if let Some(v) = &c.value {
            request = request.with_origin(v.as_str());
        }
        let d = evaluate_key(&policy, &request);
        let got = d.reason().unwrap_or("allow");
        if got != c.expected {
            let shown: String = c.value.as_deref().unwrap_or("<absent>").chars().take(80).collect();
            failures.push(format!(
                "line {} [{}] {shown:?}: expected {}, got {got} ({})",
                c.line, c.class, c.expected, c.why
            ));
        }
        // CORS: an allowed Origin is echoed exactly with Vary: Origin; a
        // denied one never is.
        if d.is_allowed() {
            assert_eq!(d.allow_origin(), Some(AllowOrigin::Origin(c.value.as_deref().unwrap())));
            assert_eq!(d.vary().header_value(), Some("Origin"));
        } else {
            assert_eq!(d.allow_origin(), None, "line {}", c.line);
            assert_eq!(d.status(), 403);
        }
    }
    assert!(
        failures.is_empty(),
        "{} corpus failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Keys without an origin rule ignore the header: every corpus value,
/// however hostile, is allowed for them.
#[test]
fn origin_corpus_is_ignored_without_an_origin_rule() {
    for key_type in [KeyType::Any, KeyType::Desktop, KeyType::Server] {
        let policy = KeyPolicy::builder().key_type(key_type).build().unwrap();
        for c in cases(ORIGINS) {
            let mut request = KeyRequest::new(Resource::Tiles);
            if let Some(v) = &c.value {
                request = request.with_origin(v.as_str());
            }
            let d = evaluate_key(&policy, &request);
            assert!(d.is_allowed(), "{key_type} line {}", c.line);
            assert_eq!(d.allow_origin(), Some(AllowOrigin::Any));
        }
    }
}

#[test]
fn unescape_decodes_the_corpus_syntax() {
    assert_eq!(
        unescape("a\\tb\\x7f\\u{3002}\\\\{{ab*3}}"),
        "a\tb\u{7f}\u{3002}\\ababab"
    );
    assert_eq!(unescape("{{a.*2}}x"), "a.a.x");
}
