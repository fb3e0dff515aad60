//! Explain traces: every rule outcome, every denial, every kind of near
//! miss, the header as received and normalized, the JSON form, and that the
//! trace's verdict is always the evaluate function's.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a panic is a failed test"
)]

use keypolicy::explain::{explain_key, explain_token, Difference, Explanation, RuleOutcome};
use keypolicy::key::{KeyScope, KeyType, Resource};
use keypolicy::token::{TokenScope, TokenUsage};
use keypolicy::{evaluate_key, evaluate_token, KeyPolicy, KeyRequest, TokenPolicy, TokenRequest};

fn web_key() -> KeyPolicy {
    KeyPolicy::builder()
        .key_type(KeyType::Web)
        .scopes([KeyScope::TilesRead, KeyScope::StylesRead])
        .allowed_domains([
            "https://www.mappinest.com",
            "app.example.com",
            "*.maps.example.org",
            "capacitor://localhost",
        ])
        .allowed_tilesets(["alice.streets", "bob.*"])
        .build()
        .unwrap()
}

fn tiles(origin: &str) -> KeyRequest<'_> {
    KeyRequest::new(Resource::Tiles)
        .with_origin(origin)
        .with_tileset("alice.streets")
}

fn outcomes(trace: &Explanation) -> Vec<(&'static str, RuleOutcome)> {
    trace.rules.iter().map(|r| (r.rule, r.outcome)).collect()
}

fn nearest(trace: &Explanation) -> Vec<(&str, Difference)> {
    trace.nearest.iter().map(|n| (n.entry.as_str(), n.difference)).collect()
}

#[test]
fn allowed_key_request_passes_every_rule_and_names_the_entry() {
    let trace = explain_key(&web_key(), &tiles("HTTPS://WWW.App.Example.com."));
    assert!(trace.allowed);
    assert_eq!((trace.status, trace.reason), (200, None));
    assert_eq!(trace.header.name, "Origin");
    assert_eq!(trace.header.received.as_deref(), Some("HTTPS://WWW.App.Example.com."));
    assert_eq!(trace.header.normalized.as_deref(), Some("app.example.com"));
    use RuleOutcome::*;
    assert_eq!(
        outcomes(&trace),
        [("origin", Passed), ("scope", Passed), ("tileset", Passed)]
    );
    let matched = trace.matched.as_ref().unwrap();
    assert_eq!((matched.index, matched.entry.as_str()), (1, "app.example.com"));
    assert!(trace.nearest.is_empty());
}

#[test]
fn skipped_rules() {
    let open = KeyPolicy::unrestricted();
    let trace = explain_key(&open, &KeyRequest::new(Resource::Styles).with_origin("null"));
    use RuleOutcome::*;
    assert_eq!(
        outcomes(&trace),
        [("origin", Skipped), ("scope", Skipped), ("tileset", Skipped)]
    );
    assert!(trace.allowed);
    assert!(
        trace.rules[0].detail.contains("not checked"),
        "{}",
        trace.rules[0].detail
    );
    // The Origin is not a valid one, so it has no normalized form.
    assert_eq!(trace.header.normalized, None);
    // A styles request naming no tileset is not restricted by tilesets.
    let trace = explain_key(
        &web_key(),
        &KeyRequest::new(Resource::Styles).with_origin("https://mappinest.com"),
    );
    assert_eq!(trace.rules[2].outcome, Skipped);
}

#[test]
fn each_key_denial_fails_its_rule_and_stops_the_rest() {
    use RuleOutcome::*;
    let key = web_key();
    let cases: [(KeyRequest<'_>, &str, [RuleOutcome; 3], &str); 5] = [
        (
            KeyRequest::new(Resource::Tiles),
            "origin_required",
            [Failed, NotReached, NotReached],
            "Origin header is required",
        ),
        (
            tiles("https://a.com/"),
            "origin_invalid",
            [Failed, NotReached, NotReached],
            "not a single valid ASCII origin",
        ),
        (
            tiles("https://evil.example.net"),
            "origin_not_allowed",
            [Failed, NotReached, NotReached],
            "matches none of allowed_domains",
        ),
        (
            KeyRequest::new(Resource::Static).with_origin("https://mappinest.com"),
            "scope_missing",
            [Passed, Failed, NotReached],
            "a static request needs static:read; the key has tiles:read, styles:read",
        ),
        (
            KeyRequest::new(Resource::Tiles)
                .with_origin("https://mappinest.com")
                .with_tileset("alice.streets,carol.x"),
            "tileset_not_allowed",
            [Passed, Passed, Failed],
            "`carol.x` is not covered",
        ),
    ];
    for (request, reason, expected, detail) in cases {
        let trace = explain_key(&key, &request);
        assert_eq!(trace.reason, Some(reason));
        assert_eq!(trace.status, 403);
        let got: Vec<RuleOutcome> = trace.rules.iter().map(|r| r.outcome).collect();
        assert_eq!(got, expected, "{reason}");
        let failed = trace.rules.iter().find(|r| r.outcome == Failed).unwrap();
        assert!(failed.detail.contains(detail), "{reason}: {}", failed.detail);
    }
    // A web key without domains needs an Origin too, for its own reason.
    let any_site = KeyPolicy::builder().key_type(KeyType::Web).build().unwrap();
    let trace = explain_key(&any_site, &KeyRequest::new(Resource::Tiles));
    assert!(
        trace.rules[0].detail.contains("key type is web"),
        "{}",
        trace.rules[0].detail
    );
    let trace = explain_key(
        &web_key(),
        &KeyRequest::new(Resource::Tiles).with_origin("https://mappinest.com"),
    );
    assert!(
        trace.rules[2].detail.contains("names none"),
        "{}",
        trace.rules[2].detail
    );
}

#[test]
fn the_issues_example() {
    let key = KeyPolicy::builder()
        .allowed_domains(["www.mappinest.com", "app.example.com"])
        .build()
        .unwrap();
    let trace = explain_key(&key, &tiles("https://app.example.co"));
    assert_eq!(trace.header.normalized.as_deref(), Some("app.example.co"));
    assert_eq!(
        trace.rules[0].detail,
        "`https://app.example.co` matches none of allowed_domains; nearest: `app.example.com` (top-level label differs)"
    );
    assert_eq!(nearest(&trace), [("app.example.com", Difference::TopLevelLabel)]);
    assert_eq!(trace.nearest[0].index, 1);
    assert!(trace.nearest[0].why.contains("`co` vs `com`"));
}

#[test]
fn key_near_misses() {
    let key = web_key();
    let cases = [
        ("https://api.example.com", "app.example.com", Difference::Label),
        ("https://app.example.co.uk", "app.example.com", Difference::PublicSuffix),
        ("https://eu.app.example.com", "app.example.com", Difference::Subdomain),
        (
            "https://maps.example.org",
            "*.maps.example.org",
            Difference::WildcardApex,
        ),
        ("https://example.com", "app.example.com", Difference::ParentDomain),
        ("ionic://localhost", "capacitor://localhost", Difference::Scheme),
        ("https://mapinest.com", "mappinest.com", Difference::Label),
        ("https://app-example.com", "app.example.com", Difference::Spelling),
        (
            "https://a.maps.example.net",
            "*.maps.example.org",
            Difference::TopLevelLabel,
        ),
    ];
    for (origin, entry, difference) in cases {
        let trace = explain_key(&key, &tiles(origin));
        assert_eq!(trace.reason, Some("origin_not_allowed"), "{origin}");
        assert_eq!(
            nearest(&trace).first(),
            Some(&(entry, difference)),
            "{origin}: {:#?}",
            trace.nearest
        );
    }
    // Nothing near: no suggestions.
    let trace = explain_key(&key, &tiles("https://zzzzzzzz.invalid"));
    assert_eq!(trace.nearest, []);
    assert!(trace.rules[0].detail.ends_with("matches none of allowed_domains"));
}

fn token(urls: &[&str]) -> TokenPolicy {
    TokenPolicy::builder(TokenUsage::Public)
        .scopes([TokenScope::StylesRead])
        .allowed_urls(urls.iter().copied())
        .build()
        .unwrap()
}

fn referer(value: &str) -> TokenRequest<'_> {
    TokenRequest::new(TokenScope::StylesRead).with_referer(value)
}

#[test]
fn token_rules_and_header() {
    use RuleOutcome::*;
    let t = token(&["https://example.com/maps", "docs.example.org"]);
    let trace = explain_token(&t, &referer("HTTPS://Docs.Example.com:443/maps/paris?x=1"));
    assert!(trace.allowed);
    assert_eq!(
        outcomes(&trace),
        [("expiry", Skipped), ("referer", Passed), ("scope", Passed)]
    );
    assert_eq!(trace.header.name, "Referer");
    assert_eq!(
        trace.header.normalized.as_deref(),
        Some("https://docs.example.com/maps/paris")
    );
    assert_eq!(trace.matched.as_ref().unwrap().entry, "https://example.com/maps");

    let trace = explain_token(&t, &TokenRequest::new(TokenScope::StylesRead));
    assert_eq!(trace.reason, Some("referer_required"));
    assert_eq!(
        outcomes(&trace),
        [("expiry", Skipped), ("referer", Failed), ("scope", NotReached)]
    );

    let trace = explain_token(&t, &referer("about:blank"));
    assert_eq!(trace.reason, Some("referer_not_allowed"));
    assert!(trace.rules[1].detail.contains("not a usable http(s) URL"));

    let trace = explain_token(
        &t,
        &TokenRequest::new(TokenScope::FontsRead).with_referer("https://example.com/maps"),
    );
    assert_eq!(trace.reason, Some("scope_missing"));
    assert_eq!(
        outcomes(&trace),
        [("expiry", Skipped), ("referer", Passed), ("scope", Failed)]
    );
    assert_eq!(
        trace.rules[2].detail,
        "the request needs fonts:read; the token has styles:read"
    );

    let open = token(&[]);
    let trace = explain_token(&open, &TokenRequest::new(TokenScope::StylesRead));
    assert_eq!(
        outcomes(&trace),
        [("expiry", Skipped), ("referer", Skipped), ("scope", Passed)]
    );
}

#[test]
fn expiry_rule() {
    use RuleOutcome::*;
    let tk = TokenPolicy::builder(TokenUsage::Temporary)
        .scope(TokenScope::StylesRead)
        .expires("2026-11-22T15:00:00Z".parse().unwrap())
        .build()
        .unwrap();
    let at = |now: &str| TokenRequest::new(TokenScope::StylesRead).with_now(now.parse().unwrap());
    let trace = explain_token(&tk, &at("2026-11-22T15:00:00Z"));
    assert_eq!((trace.status, trace.reason), (401, Some("token_expired")));
    assert_eq!(
        outcomes(&trace),
        [("expiry", Failed), ("referer", NotReached), ("scope", NotReached)]
    );
    assert!(trace.rules[0].detail.contains("expired at"));
    let trace = explain_token(&tk, &at("2026-11-22T14:00:00Z"));
    assert_eq!(
        outcomes(&trace),
        [("expiry", Passed), ("referer", Skipped), ("scope", Passed)]
    );
    let trace = explain_token(&tk, &TokenRequest::new(TokenScope::StylesRead));
    assert!(trace.rules[0].detail.contains("needs the current time"));
}

#[test]
fn token_near_misses() {
    let t = token(&[
        "https://example.com:8443/maps",
        "www.example.org",
        "http://docs.example.net",
    ]);
    let cases = [
        ("https://example.com:8443/mapsevil", Difference::PathBoundary),
        ("https://example.com:8443/other", Difference::Path),
        ("https://example.com/maps", Difference::Port),
        ("https://example.org/", Difference::Www),
        ("https://docs.example.net/", Difference::Scheme),
        ("https://shop.example.co/maps", Difference::TopLevelLabel),
    ];
    for (value, difference) in cases {
        let trace = explain_token(&t, &referer(value));
        assert_eq!(trace.reason, Some("referer_not_allowed"), "{value}");
        assert_eq!(
            trace.nearest.first().map(|n| n.difference),
            Some(difference),
            "{value}: {:#?}",
            trace.nearest
        );
    }
}

#[test]
fn origin_fallback_is_traced_as_origin() {
    let t = token(&["https://example.com"]);
    let request = TokenRequest::new(TokenScope::StylesRead)
        .with_origin("https://www.example.com")
        .with_origin_fallback(true);
    let trace = explain_token(&t, &request);
    assert!(trace.allowed);
    assert_eq!(trace.header.name, "Origin");
    assert_eq!(trace.header.normalized.as_deref(), Some("https://www.example.com/"));
}

#[test]
fn verdict_is_always_the_evaluate_functions() {
    let key = web_key();
    let origins = [
        None,
        Some(""),
        Some("null"),
        Some("https://mappinest.com"),
        Some("capacitor://localhost"),
        Some("https://a.maps.example.org"),
        Some("https://xn--zz.maps.example.org"),
        Some("http://[::1]"),
    ];
    for origin in origins {
        for resource in [Resource::Tiles, Resource::Styles, Resource::Export] {
            for tileset in [None, Some("bob.x"), Some("eve.x")] {
                let mut request = KeyRequest::new(resource);
                request.origin = origin.map(Into::into);
                request.tileset = tileset.map(Into::into);
                let decision = evaluate_key(&key, &request);
                let trace = explain_key(&key, &request);
                assert_eq!(trace.allowed, decision.is_allowed(), "{request:?}");
                assert_eq!(trace.reason, decision.reason(), "{request:?}");
                assert_eq!(
                    trace.rules.iter().filter(|r| r.outcome == RuleOutcome::Failed).count(),
                    usize::from(!decision.is_allowed()),
                    "{request:?}"
                );
            }
        }
    }
    let t = token(&["https://example.com/maps", "other.org"]);
    for value in [
        "",
        "https://example.com/maps/x",
        "https://other.org",
        "https://x.other.org:1",
        "nope",
    ] {
        let request = referer(value);
        let trace = explain_token(&t, &request);
        assert_eq!(trace.reason, evaluate_token(&t, &request).reason(), "{value}");
    }
}

#[test]
fn json_form_is_stable() {
    let trace = explain_key(&web_key(), &tiles("https://app.example.co"));
    let text = serde_json::to_string(&trace).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    // Fields in this order, and no others.
    let fields = ["allowed", "status", "reason", "header", "rules", "matched", "nearest"];
    let at: Vec<usize> = fields
        .iter()
        .map(|f| text.find(&format!("\"{f}\":")).unwrap())
        .collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "{text}");
    assert_eq!(json.as_object().unwrap().len(), fields.len());
    assert_eq!(json["reason"], "origin_not_allowed");
    assert_eq!(json["header"]["name"], "Origin");
    assert_eq!(json["header"]["received"], "https://app.example.co");
    assert_eq!(json["rules"][0]["rule"], "origin");
    assert_eq!(json["rules"][0]["outcome"], "failed");
    assert_eq!(json["rules"][1]["outcome"], "not_reached");
    assert_eq!(json["matched"], serde_json::Value::Null);
    assert_eq!(json["nearest"][0]["entry"], "app.example.com");
    assert_eq!(json["nearest"][0]["difference"], "top_level_label");
    let trace = explain_key(&web_key(), &tiles("https://mappinest.com"));
    let json = serde_json::to_value(&trace).unwrap();
    assert_eq!(
        json["matched"],
        serde_json::json!({"index": 0, "entry": "mappinest.com"})
    );
}

#[test]
fn readable_form() {
    let text = explain_key(&web_key(), &tiles("https://app.example.co")).to_string();
    assert!(text.starts_with("DENIED (403 origin_not_allowed)\n"), "{text}");
    assert!(
        text.contains("Origin as received:   \"https://app.example.co\""),
        "{text}"
    );
    assert!(text.contains("Origin as normalized: app.example.co"), "{text}");
    assert!(text.contains("2. scope    not_reached"), "{text}");
    assert!(text.contains("[1] app.example.com: top-level label differs"), "{text}");
}
