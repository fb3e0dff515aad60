//! Every lint code: a policy that triggers it (with the right severity,
//! field and index) and a close policy that does not.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a panic is a failed test"
)]

use keypolicy::key::{KeyScope, KeyType};
use keypolicy::lint::{
    lint_key, lint_key_as_written, lint_token, lint_token_as_written, worst, Finding, LintCode, Severity,
};
use keypolicy::token::{TokenScope, TokenUsage};
use keypolicy::{KeyPolicy, TokenPolicy};

fn key(key_type: KeyType, scopes: &[KeyScope], domains: &[&str], tilesets: &[&str]) -> KeyPolicy {
    KeyPolicy::builder()
        .key_type(key_type)
        .scopes(scopes.iter().copied())
        .allowed_domains(domains.iter().copied())
        .allowed_tilesets(tilesets.iter().copied())
        .build()
        .unwrap()
}

fn web(domains: &[&str]) -> KeyPolicy {
    key(KeyType::Web, &[KeyScope::TilesRead], domains, &[])
}

fn token(usage: TokenUsage, scopes: &[TokenScope], urls: &[&str]) -> TokenPolicy {
    TokenPolicy::builder(usage)
        .scopes(scopes.iter().copied())
        .allowed_urls(urls.iter().copied())
        .build()
        .unwrap()
}

fn pk(urls: &[&str]) -> TokenPolicy {
    token(
        TokenUsage::Public,
        &[TokenScope::StylesRead, TokenScope::StylesTiles],
        urls,
    )
}

fn codes(findings: &[Finding]) -> Vec<LintCode> {
    findings.iter().map(|f| f.code).collect()
}

fn find(findings: &[Finding], code: LintCode) -> &Finding {
    findings
        .iter()
        .find(|f| f.code == code)
        .unwrap_or_else(|| panic!("no {code} in {findings:#?}"))
}

#[test]
fn clean_policies_have_no_findings() {
    let k = web(&["https://www.mappinest.com", "app.example.com"]);
    assert_eq!(lint_key(&k), []);
    let t = pk(&["https://example.com", "maps.example.org"]);
    assert_eq!(lint_token(&t), []);
    assert_eq!(worst(&[]), None);
}

#[test]
fn tilesets_without_tiles_scope() {
    let k = key(KeyType::Web, &[KeyScope::StylesRead], &["a.com"], &["alice.*"]);
    let f = lint_key(&k);
    let found = find(&f, LintCode::TilesetsWithoutTilesScope);
    assert_eq!(found.severity, Severity::Error);
    assert_eq!((found.field, found.index), (Some("scopes"), None));
    assert!(found.message.contains("add tiles:read"), "{}", found.message);
    // With tiles:read, or with no scopes at all, the key can serve tiles.
    let ok = key(
        KeyType::Web,
        &[KeyScope::StylesRead, KeyScope::TilesRead],
        &["a.com"],
        &["alice.*"],
    );
    assert!(!codes(&lint_key(&ok)).contains(&LintCode::TilesetsWithoutTilesScope));
    let ok = key(KeyType::Web, &[], &["a.com"], &["alice.*"]);
    assert!(!codes(&lint_key(&ok)).contains(&LintCode::TilesetsWithoutTilesScope));
}

#[test]
fn web_key_only_app_schemes() {
    let f = lint_key(&web(&["capacitor://localhost", "tauri://localhost"]));
    assert_eq!(find(&f, LintCode::WebKeyOnlyAppSchemes).severity, Severity::Error);
    let f = lint_key(&web(&["capacitor://localhost", "app.example.com"]));
    assert!(!codes(&f).contains(&LintCode::WebKeyOnlyAppSchemes));
    // App origins are production values, never development entries.
    assert!(!codes(&f).contains(&LintCode::DevelopmentEntry));
}

#[test]
fn domains_on_non_browser_keys() {
    for key_type in [KeyType::Desktop, KeyType::Server] {
        let f = lint_key(&key(key_type, &[], &["app.example.com"], &[]));
        let found = find(&f, LintCode::DomainsOnNonBrowserKey);
        assert_eq!(found.severity, Severity::Warning);
        assert!(found.message.contains("do not send Origin"), "{}", found.message);
        assert!(!codes(&lint_key(&key(key_type, &[], &[], &[]))).contains(&LintCode::DomainsOnNonBrowserKey));
    }
    assert!(!codes(&lint_key(&web(&["app.example.com"]))).contains(&LintCode::DomainsOnNonBrowserKey));
}

#[test]
fn development_entries() {
    let k = web(&[
        "app.example.com",
        "http://localhost:3000",
        "127.0.0.1",
        "192.168.1.20",
        "[::1]",
        "printer.local",
        "*.shop.test",
    ]);
    let f = lint_key(&k);
    let flagged: Vec<usize> = f
        .iter()
        .filter(|f| f.code == LintCode::DevelopmentEntry)
        .filter_map(|f| f.index)
        .collect();
    assert_eq!(flagged, [1, 2, 3, 4, 5, 6]);
    let t = pk(&["https://example.com", "http://localhost:8080", "dev.test"]);
    let flagged: Vec<usize> = lint_token(&t)
        .iter()
        .filter(|f| f.code == LintCode::DevelopmentEntry)
        .filter_map(|f| f.index)
        .collect();
    assert_eq!(flagged, [1, 2]);
}

#[test]
fn duplicates_after_normalization_are_reported_as_written() {
    let written = [
        "example.com",
        "https://WWW.Example.com.",
        "münchen.de",
        "xn--mnchen-3ya.de",
        "other.org",
    ];
    let k = web(&written);
    // Building folded the duplicates away: the built policy cannot show them.
    assert!(!codes(&lint_key(&k)).contains(&LintCode::DuplicateEntry));
    let f = lint_key_as_written(&k, &written);
    let dups: Vec<&Finding> = f.iter().filter(|f| f.code == LintCode::DuplicateEntry).collect();
    assert_eq!(dups.len(), 2, "{f:#?}");
    assert_eq!(dups[0].index, Some(1));
    assert_eq!(dups[0].severity, Severity::Warning);
    for part in ["allowed_domains[0]", "scheme", "trailing dot", "`www.`", "case"] {
        assert!(dups[0].message.contains(part), "{part}: {}", dups[0].message);
    }
    assert_eq!(dups[1].index, Some(3));
    assert!(dups[1].message.contains("Unicode vs punycode"), "{}", dups[1].message);

    let urls = ["https://Example.com/maps/", "https://example.com/maps", "other.org"];
    let t = pk(&urls);
    let f = lint_token_as_written(&t, &urls);
    let dup = find(&f, LintCode::DuplicateEntry);
    assert_eq!(dup.index, Some(1));
    assert!(
        dup.message.contains("trailing slash") && dup.message.contains("case"),
        "{}",
        dup.message
    );
}

#[test]
fn wildcard_covering_an_exact_entry() {
    let f = lint_key(&web(&["a.example.com", "*.example.com", "example.com"]));
    let found = find(&f, LintCode::WildcardCoversExact);
    assert_eq!((found.index, found.severity), (Some(0), Severity::Note));
    // The bare domain is not covered by its wildcard.
    assert_eq!(f.iter().filter(|f| f.code == LintCode::WildcardCoversExact).count(), 1);
}

#[test]
fn shadowed_entries() {
    let f = lint_key(&web(&["*.maps.example.com", "*.example.com"]));
    assert_eq!(find(&f, LintCode::ShadowedEntry).index, Some(0));
    let t = pk(&[
        "https://docs.example.com/maps",
        "example.com",
        "http://example.org",
        "example.org:8080",
    ]);
    let f = lint_token(&t);
    let shadowed: Vec<usize> = f
        .iter()
        .filter(|f| f.code == LintCode::ShadowedEntry)
        .filter_map(|f| f.index)
        .collect();
    // The scheme-pinned and the port-pinned example.org entries do not
    // cover each other.
    assert_eq!(shadowed, [0]);
    assert_eq!(find(&f, LintCode::ShadowedEntry).severity, Severity::Note);
}

#[test]
fn unrestricted_keys_and_tokens() {
    let f = lint_key(&KeyPolicy::unrestricted());
    assert_eq!(codes(&f), [LintCode::Unrestricted]);
    assert_eq!(f[0].severity, Severity::Warning);
    // Any restriction at all makes it not unrestricted.
    let scoped = key(KeyType::Any, &[KeyScope::TilesRead], &[], &[]);
    assert_eq!(lint_key(&scoped), []);
    for key_type in [KeyType::Desktop, KeyType::Server] {
        let f = lint_key(&key(key_type, &[], &[], &[]));
        assert_eq!(codes(&f), [LintCode::Unrestricted], "{key_type}");
        assert!(f[0].message.contains(&format!("a {key_type} key")), "{}", f[0].message);
        assert_eq!(lint_key(&key(key_type, &[], &[], &["alice.*"])), []);
    }
    let f = lint_token(&pk(&[]));
    assert_eq!(codes(&f), [LintCode::Unrestricted]);
    // A secret token without URL restrictions is normal (it lives on a server).
    let sk = token(TokenUsage::Secret, &[TokenScope::UploadsWrite], &[]);
    assert_eq!(lint_token(&sk), []);
}

#[test]
fn web_key_without_domains() {
    let f = lint_key(&key(KeyType::Web, &[], &[], &[]));
    assert_eq!(codes(&f), [LintCode::WebKeyAnyOrigin]);
    assert_eq!(f[0].severity, Severity::Note);
}

#[test]
fn ignored_ports_and_paths() {
    let written = [
        "http://localhost:3000",
        "https://app.example.com/maps/",
        "https://www.mappinest.com",
    ];
    let k = web(&written);
    let f = lint_key_as_written(&k, &written);
    let ignored: Vec<(Option<usize>, &str)> = f
        .iter()
        .filter(|f| f.code == LintCode::IgnoredPortOrPath)
        .map(|f| (f.index, f.message.as_str()))
        .collect();
    assert_eq!(ignored.len(), 2, "{f:#?}");
    assert_eq!(ignored[0].0, Some(0));
    assert!(ignored[0].1.contains("port 3000"), "{}", ignored[0].1);
    assert_eq!(ignored[1].0, Some(1));
    assert!(ignored[1].1.contains("path `/maps/`"), "{}", ignored[1].1);
}

#[test]
fn tokens_that_serve_nothing() {
    let f = lint_token(&token(TokenUsage::Public, &[], &["example.com"]));
    let found = find(&f, LintCode::ServesNothing);
    assert_eq!((found.severity, found.field), (Severity::Error, Some("scopes")));
    let f = lint_token(&token(
        TokenUsage::Public,
        &[TokenScope::DatasetsRead],
        &["example.com"],
    ));
    assert!(find(&f, LintCode::ServesNothing).message.contains("datasets:read"));
    let f = lint_token(&token(TokenUsage::Public, &[TokenScope::FontsRead], &["example.com"]));
    assert!(!codes(&f).contains(&LintCode::ServesNothing));
    // A secret upload token is not for a tile server.
    let f = lint_token(&token(TokenUsage::Secret, &[TokenScope::UploadsWrite], &[]));
    assert!(!codes(&f).contains(&LintCode::ServesNothing));
}

#[test]
fn url_with_path() {
    let f = lint_token(&pk(&["https://example.com/maps", "https://other.org/"]));
    let found = find(&f, LintCode::UrlWithPath);
    assert_eq!((found.index, found.severity), (Some(0), Severity::Warning));
    assert!(
        found.message.contains("drop the path (`https://example.com`)"),
        "{}",
        found.message
    );
    assert_eq!(f.iter().filter(|f| f.code == LintCode::UrlWithPath).count(), 1);
}

#[test]
fn secret_token_with_urls() {
    let sk = token(TokenUsage::Secret, &[TokenScope::StylesRead], &["example.com"]);
    let f = lint_token(&sk);
    assert_eq!(find(&f, LintCode::SecretTokenWithUrls).severity, Severity::Warning);
    assert!(!codes(&lint_token(&pk(&["example.com"]))).contains(&LintCode::SecretTokenWithUrls));
}

#[test]
fn findings_sort_by_severity_and_worst_is_the_gate() {
    let k = key(
        KeyType::Desktop,
        &[KeyScope::StylesRead],
        &["localhost", "a.example.com", "*.example.com"],
        &["a.b"],
    );
    let f = lint_key(&k);
    let severities: Vec<Severity> = f.iter().map(|f| f.severity).collect();
    let mut sorted = severities.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(severities, sorted);
    assert_eq!(worst(&f), Some(Severity::Error));
    assert_eq!(
        f[0].to_string(),
        format!("error[tilesets_without_tiles_scope] scopes: {}", f[0].message)
    );
}

#[test]
fn json_form_is_stable() {
    let f = lint_key(&key(KeyType::Server, &[], &["localhost"], &[]));
    let json = serde_json::to_value(&f).unwrap();
    assert_eq!(json[0]["code"], "domains_on_non_browser_key");
    assert_eq!(json[0]["severity"], "warning");
    assert_eq!(json[0]["field"], "allowed_domains");
    assert_eq!(json[0]["index"], serde_json::Value::Null);
    assert_eq!(json[1]["code"], "development_entry");
    assert_eq!(json[1]["index"], 0);
    let keys: Vec<&String> = json[1].as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 5);
}

#[test]
fn every_code_has_a_test_above() {
    // Guards this file: a new code must get a test of its own.
    let source = include_str!("lint.rs");
    for code in LintCode::ALL {
        let variant = format!("{code:?}");
        assert!(source.contains(&format!("LintCode::{variant}")), "no test for {code}");
    }
}
