//! The adversarial Referer corpus (issue 5, part 3, token side).
//!
//! `tests/data/adversarial_referers.tsv` holds hostile `Referer` values
//! (and, for `origin_fallback` and the CORS echo, hostile `Origin` values),
//! each with its attack class, the expected outcome against one fixed
//! URL-restricted token and why. Every case asserts allow/deny, the reason,
//! whether the Origin is echoed, and that a denial never echoes it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a panic is a failed test"
)]

use std::collections::BTreeMap;

use keypolicy::token::{TokenScope, TokenUsage};
use keypolicy::{evaluate_token, AllowOrigin, TokenPolicy, TokenRequest};

mod common;
use common::corpus::unescape;

const REFERERS: &str = include_str!("data/adversarial_referers.tsv");

/// Every attack class the corpus must cover (issue 5, part 3, and the
/// token brief).
const CLASSES: &[&str] = &[
    "suffix-prefix",
    "path-prefix",
    "dot-segments",
    "scheme",
    "ports",
    "non-http",
    "userinfo",
    "backslash",
    "percent-host",
    "whitespace-control",
    "non-ascii",
    "idn-homograph",
    "uts46-dots",
    "invalid-punycode",
    "ip-forms",
    "long-values",
    "empty-absent",
    "comma-joined",
    "wildcard-star",
    "case",
    "trailing-dot",
    "query-fragment",
    "localhost",
    "origin-fallback",
    "origin-echo",
];

/// One corpus line.
#[derive(Debug)]
struct Case {
    line: usize,
    class: String,
    fallback: bool,
    referer: Option<String>,
    origin: Option<String>,
    expected: String,
    why: String,
}

fn header(raw: &str) -> Option<String> {
    match raw {
        "<absent>" => None,
        "<empty>" => Some(String::new()),
        _ => Some(unescape(raw)),
    }
}

fn cases() -> Vec<Case> {
    REFERERS
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.starts_with('#') && !l.trim().is_empty())
        .map(|(i, l)| {
            let cols: Vec<&str> = l.split('\t').collect();
            assert_eq!(cols.len(), 6, "line {}: {l:?}", i + 1);
            let fallback = match cols[1] {
                "ref" => false,
                "fallback" => true,
                other => panic!("line {}: mode {other:?}", i + 1),
            };
            Case {
                line: i + 1,
                class: cols[0].to_owned(),
                fallback,
                referer: header(cols[2]),
                origin: header(cols[3]),
                expected: cols[4].to_owned(),
                why: cols[5].to_owned(),
            }
        })
        .collect()
}

/// The fixed token the corpus is written against (see the file's header).
fn corpus_token() -> TokenPolicy {
    TokenPolicy::builder(TokenUsage::Public)
        .scopes([TokenScope::StylesRead, TokenScope::FontsRead])
        .allowed_urls([
            "https://example.com/maps",
            "docs.example.org",
            "http://localhost:3000",
            "münchen.de",
            "https://shop.example.net:8443/store/",
        ])
        .build()
        .unwrap()
}

#[test]
fn referer_corpus_covers_every_attack_class() {
    let all = cases();
    assert!(all.len() >= 100, "only {} cases", all.len());
    let mut per_class: BTreeMap<&str, usize> = BTreeMap::new();
    for case in &all {
        assert!(
            CLASSES.contains(&case.class.as_str()),
            "line {}: unknown class {:?}",
            case.line,
            case.class
        );
        assert!(!case.why.trim().is_empty(), "line {}: no reason given", case.line);
        *per_class.entry(case.class.as_str()).or_default() += 1;
    }
    for class in CLASSES {
        assert!(per_class.contains_key(class), "no case for class {class}");
    }
    // Hostile: a present Referer that must be refused (the allowed cases
    // are controls next to their near-misses).
    let hostile = all
        .iter()
        .filter(|c| c.referer.as_deref().is_some_and(|r| !r.is_empty()) && c.expected == "referer_not_allowed")
        .count();
    assert!(hostile >= 100, "only {hostile} hostile Referer values");
}

#[test]
fn referer_corpus() {
    let token = corpus_token();
    let mut failures = Vec::new();
    for case in cases() {
        let mut request = TokenRequest::new(TokenScope::StylesRead).with_origin_fallback(case.fallback);
        if let Some(r) = &case.referer {
            request = request.with_referer(r.as_str());
        }
        if let Some(o) = &case.origin {
            request = request.with_origin(o.as_str());
        }
        let d = evaluate_token(&token, &request);
        let echoed = match d.allow_origin() {
            None => false,
            Some(AllowOrigin::Origin(o)) => {
                assert_eq!(
                    Some(o),
                    case.origin.as_deref(),
                    "line {}: echoed something else",
                    case.line
                );
                assert!(d.is_allowed(), "line {}: a denial echoed the Origin", case.line);
                true
            }
            Some(AllowOrigin::Any) => panic!("line {}: a URL-restricted token answered *", case.line),
        };
        assert_eq!(d.vary().header_value(), Some("Origin, Referer"), "line {}", case.line);
        let got = match d.reason() {
            None if echoed => "allow+echo",
            None => "allow",
            Some(reason) => reason,
        };
        if got != case.expected {
            failures.push(format!(
                "line {} [{}] {:?} / {:?}: expected {}, got {} ({})",
                case.line, case.class, case.referer, case.origin, case.expected, got, case.why
            ));
        }
        if let Some(denial) = d.denial() {
            assert_eq!(d.status(), 403, "line {}", case.line);
            assert_eq!(denial.status(), 403);
        }
    }
    assert!(
        failures.is_empty(),
        "{} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The same corpus on an `sk` token and with the entries reversed: usage
/// and entry order never change a URL decision.
#[test]
fn referer_corpus_is_independent_of_usage_and_order() {
    let token = corpus_token();
    let mut urls: Vec<String> = token.allowed_urls().iter().map(ToString::to_string).collect();
    urls.reverse();
    let secret = TokenPolicy::builder(TokenUsage::Secret)
        .scopes([TokenScope::StylesRead, TokenScope::MapRead])
        .allowed_urls(urls)
        .build()
        .unwrap();
    for case in cases() {
        let mut request = TokenRequest::new(TokenScope::StylesRead).with_origin_fallback(case.fallback);
        if let Some(r) = &case.referer {
            request = request.with_referer(r.as_str());
        }
        if let Some(o) = &case.origin {
            request = request.with_origin(o.as_str());
        }
        assert_eq!(
            evaluate_token(&secret, &request),
            evaluate_token(&token, &request),
            "line {}",
            case.line
        );
    }
}
