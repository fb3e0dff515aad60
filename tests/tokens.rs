//! Access tokens end to end: the URL-matching table, hostile Referers,
//! expiry, the order of checks, CORS, every validation error, JSON, and
//! the Origin fallback.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a panic is a failed test"
)]

use keypolicy::token::{
    AllowedUrlError, Timestamp, TokenPolicyError, TokenRequestError, TokenScope, TokenUsage, UnknownTokenScope,
    MAX_REFERER_LEN,
};
use keypolicy::{evaluate_token, AllowOrigin, Decision, Denial, HostError, TokenPolicy, TokenRequest};

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn restricted(urls: &[&str]) -> TokenPolicy {
    TokenPolicy::builder(TokenUsage::Public)
        .scopes([TokenScope::StylesRead, TokenScope::FontsRead])
        .allowed_urls(urls.iter().copied())
        .build()
        .unwrap_or_else(|e| panic!("{urls:?}: {e}"))
}

fn styles() -> TokenRequest<'static> {
    TokenRequest::new(TokenScope::StylesRead)
}

/// Entry × Referer × allowed? Every matching rule of the issue, one row
/// at a time. Each row is evaluated against a token holding that entry
/// alone.
const TABLE: &[(&str, &str, bool)] = &[
    // Host: equal, or a subdomain on a label boundary.
    ("example.com", "https://example.com/", true),
    ("example.com", "https://docs.example.com/", true),
    ("example.com", "https://a.b.example.com/x", true),
    ("example.com", "https://badexample.com/", false),
    ("example.com", "https://example.com.evil.net/", false),
    ("example.com", "https://example.co/", false),
    ("example.com", "https://com/", false),
    ("docs.example.com", "https://example.com/", false),
    ("docs.example.com", "https://api.docs.example.com/", true),
    // No special `www` handling: `www` is just a subdomain.
    ("example.com", "https://www.example.com/", true),
    ("www.example.com", "https://example.com/", false),
    // Case-insensitive hosts, one trailing dot ignored, IDNA ASCII form.
    ("EXAMPLE.COM", "https://Docs.Example.Com/", true),
    ("example.com", "https://EXAMPLE.COM/", true),
    ("example.com.", "https://example.com/", true),
    ("example.com", "https://example.com./", true),
    ("example.com", "https://example.com../", false),
    ("münchen.de", "https://xn--mnchen-3ya.de/", true),
    ("münchen.de", "https://karte.XN--MNCHEN-3YA.de/", true),
    ("xn--mnchen-3ya.de", "https://xn--mnchen-3ya.de/", true),
    ("example.com", "https://xn--mnchen-3ya.example.com/", true),
    ("example.com", "https://xn--zz.example.com/", false),
    ("münchen.de", "https://xn--mnchen-3yb.de/", false),
    // Scheme: must be equal when the entry names one; else http or https.
    ("https://example.com", "https://example.com/", true),
    ("https://example.com", "https://docs.example.com/", true),
    ("https://example.com", "http://example.com/", false),
    ("http://example.com", "https://example.com/", false),
    ("http://example.com", "http://example.com/", true),
    ("example.com", "http://example.com/", true),
    ("example.com", "https://example.com/", true),
    ("HTTPS://example.com", "https://example.com/", true),
    ("https://example.com", "HTTPS://example.com/", true),
    // Port: effective ports compared when the entry names one; else any.
    ("https://example.com:443", "https://example.com/", true),
    ("https://example.com", "https://example.com:443/", true),
    ("https://example.com:443", "https://example.com:443/", true),
    ("https://example.com:8443", "https://example.com/", false),
    ("https://example.com:8443", "https://example.com:8443/x", true),
    ("https://example.com:8443", "https://example.com:8444/", false),
    ("example.com", "https://example.com:8443/", true),
    ("example.com:80", "http://example.com/", true),
    ("example.com:80", "https://example.com/", false),
    ("example.com:443", "https://example.com/", true),
    ("example.com:443", "http://example.com:443/", true),
    ("http://example.com:443", "https://example.com/", false),
    ("example.com:8000", "https://a.example.com:8000/", true),
    ("example.com:8000", "https://a.example.com/", false),
    // Path: equal or continued at a `/`, case-sensitive, literal.
    ("example.com/maps", "https://example.com/maps", true),
    ("example.com/maps", "https://example.com/maps/", true),
    ("example.com/maps", "https://example.com/maps/a/b", true),
    ("example.com/maps", "https://docs.example.com/maps/a", true),
    ("example.com/maps", "https://example.com/mapsevil", false),
    ("example.com/maps", "https://example.com/Maps", false),
    ("example.com/Maps", "https://example.com/maps", false),
    ("example.com/maps", "https://example.com/map", false),
    ("example.com/maps", "https://example.com/", false),
    ("example.com/maps", "https://example.com", false),
    ("example.com/maps", "https://example.com//maps", false),
    ("example.com/a/b", "https://example.com/a/b/c", true),
    ("example.com/a/b", "https://example.com/a/bc", false),
    ("example.com/a/b", "https://example.com/a", false),
    // No percent-decoding, and dot segments (in any spelling) never match.
    ("example.com/maps", "https://example.com/maps%2F..%2Fadmin", false),
    ("example.com/maps", "https://example.com/maps%2fx", false),
    ("example.com/maps", "https://example.com/%6Daps", false),
    ("example.com/maps", "https://example.com/maps/../admin", false),
    ("example.com/maps", "https://example.com/maps/./x", false),
    ("example.com/maps", "https://example.com/maps/..", false),
    ("example.com/maps", "https://example.com/maps/%2e%2e/admin", false),
    ("example.com/maps", "https://example.com/maps/.%2E/admin", false),
    ("example.com/maps", "https://example.com/maps/.well-known", true),
    ("example.com/maps", "https://example.com/maps/a..b", true),
    ("example.com/a%20b", "https://example.com/a%20b/c", true),
    ("example.com/a%20b", "https://example.com/a%20B", false),
    ("example.com/café", "https://example.com/caf%C3%A9", true),
    // Host-only entries do not read the path at all.
    ("example.com", "https://example.com/a/../b", true),
    // A trailing slash on the entry's path is not significant; `/` is no path.
    ("example.com/maps/", "https://example.com/maps", true),
    ("example.com/maps/", "https://example.com/maps/x", true),
    ("example.com/maps/", "https://example.com/mapsx", false),
    ("example.com/", "https://example.com/anything", true),
    ("https://example.com/", "https://example.com", true),
    // Query and fragment are ignored.
    ("example.com/maps", "https://example.com/maps?x=1", true),
    ("example.com/maps", "https://example.com/maps#frag", true),
    ("example.com/maps", "https://example.com/maps?", true),
    ("example.com/maps", "https://example.com/?next=/maps", false),
    ("example.com/maps", "https://example.com/#/maps", false),
    ("example.com/maps", "https://example.com?/maps", false),
    ("example.com", "https://example.com?x", true),
    // localhost only when listed; never an IP address.
    ("localhost", "http://localhost:3000/", true),
    ("localhost", "http://LOCALHOST/", true),
    ("http://localhost:3000", "http://localhost:3000/app", true),
    ("http://localhost:3000", "http://localhost:3001/", false),
    ("http://localhost:3000", "https://localhost:3000/", false),
    ("example.com", "http://localhost/", false),
    ("example.com", "http://127.0.0.1/", false),
    ("localhost", "http://127.0.0.1/", false),
    ("localhost", "http://[::1]:3000/", false),
    // Hostile Referers never match.
    ("example.com", "null", false),
    ("example.com", "about:blank", false),
    ("example.com", "ftp://example.com/", false),
    ("example.com", "ws://example.com/", false),
    ("example.com", "file:///example.com", false),
    ("example.com", "blob:https://example.com/uuid", false),
    ("example.com", "example.com", false),
    ("example.com", "example.com/maps", false),
    ("example.com", "//example.com/", false),
    ("example.com", "https:/example.com/", false),
    ("example.com", "https://user@example.com/", false),
    ("example.com", "https://user:pw@example.com/", false),
    ("example.com", "https://example.com@evil.net/", false),
    ("example.com", "https://evil.net@example.com/", false),
    ("example.com", "https://ex%61mple.com/", false),
    ("example.com", "https://example%2Ecom/", false),
    ("example.com", "https://evil.net%2F.example.com/", false),
    ("example.com", "https://example.com /", false),
    ("example.com", " https://example.com/", false),
    ("example.com", "https://exa\tmple.com/", false),
    ("example.com", "https://example.com/\n", false),
    ("example.com", "https://example.com/\r\nX: y", false),
    ("example.com", "https://example.com/\u{7f}", false),
    ("example.com", "https://example.com/\u{0}", false),
    ("example.com", "https://examplé.com/", false),
    ("example.com", "https://example.com/café", false),
    ("münchen.de", "https://münchen.de/", false),
    ("example.com", "https://evil.net\\.example.com/", false),
    ("example.com", "https://example.com\\@evil.net/", false),
    ("example.com", "https://*.example.com/", false),
    ("example.com", "https://example.com,https://evil.net/", false),
    ("example.com", "https://example.com:/", false),
    ("example.com", "https://example.com:0/", false),
    ("example.com", "https://example.com:99999/", false),
    ("example.com", "https://example..com/", false),
];

#[test]
fn url_matching_table() {
    let mut failures = Vec::new();
    for &(entry, referer, expected) in TABLE {
        let token = restricted(&[entry]);
        let request = styles().with_referer(referer);
        let decision = evaluate_token(&token, &request);
        let expected_reason = if expected { None } else { Some("referer_not_allowed") };
        if decision.reason() != expected_reason {
            failures.push(format!("{entry:?} × {referer:?}: got {:?}", decision.reason()));
        }
    }
    assert!(
        failures.is_empty(),
        "{} rows failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn the_table_holds_with_100_entries_too() {
    // The same rows against a token whose 99 other entries are decoys on
    // other hosts: indexing by host must not change any answer.
    for &(entry, referer, expected) in TABLE {
        let mut urls: Vec<String> = (0..99).map(|i| format!("https://decoy-{i}.example.org/p{i}")).collect();
        urls.push(entry.to_owned());
        let token = TokenPolicy::builder(TokenUsage::Public)
            .scope(TokenScope::StylesRead)
            .allowed_urls(urls)
            .build()
            .unwrap();
        let request = styles().with_referer(referer);
        assert_eq!(
            evaluate_token(&token, &request).is_allowed(),
            expected,
            "{entry:?} × {referer:?}"
        );
    }
}

#[test]
fn over_long_referers_never_match() {
    let token = restricted(&["example.com"]);
    let at_cap = format!(
        "https://example.com/{}",
        "a".repeat(MAX_REFERER_LEN - "https://example.com/".len())
    );
    assert_eq!(at_cap.len(), MAX_REFERER_LEN);
    assert!(evaluate_token(&token, &styles().with_referer(at_cap.as_str())).is_allowed());
    let over = format!("{at_cap}a");
    assert_eq!(
        evaluate_token(&token, &styles().with_referer(over.as_str())).denial(),
        Some(Denial::RefererNotAllowed)
    );
    let long_host = format!("https://{}example.com/", "a.".repeat(200));
    assert_eq!(
        evaluate_token(&token, &styles().with_referer(long_host.as_str())).denial(),
        Some(Denial::RefererNotAllowed)
    );
    let long_label = format!("https://{}.example.com/", "a".repeat(64));
    assert_eq!(
        evaluate_token(&token, &styles().with_referer(long_label.as_str())).denial(),
        Some(Denial::RefererNotAllowed)
    );
}

#[test]
fn several_entries_any_match_allows() {
    let token = restricted(&["https://a.example.com/maps", "http://b.example.net:8080", "localhost"]);
    for (referer, allowed) in [
        ("https://a.example.com/maps/1", true),
        ("https://x.a.example.com/maps", true),
        ("http://a.example.com/maps", false),
        ("http://b.example.net:8080/", true),
        ("https://b.example.net:8080/", false),
        ("http://localhost:5173/", true),
        ("https://c.example.com/maps", false),
    ] {
        assert_eq!(
            evaluate_token(&token, &styles().with_referer(referer)).is_allowed(),
            allowed,
            "{referer}"
        );
    }
}

#[test]
fn absent_or_empty_referer_is_required_on_restricted_tokens_only() {
    let token = restricted(&["example.com"]);
    for request in [styles(), styles().with_referer("")] {
        let d = evaluate_token(&token, &request);
        assert_eq!(d.denial(), Some(Denial::RefererRequired));
        assert_eq!((d.status(), d.reason()), (403, Some("referer_required")));
    }
    let r = styles().with_referer("https://evil.net/");
    let d = evaluate_token(&token, &r);
    assert_eq!((d.status(), d.reason()), (403, Some("referer_not_allowed")));

    let open = TokenPolicy::builder(TokenUsage::Public)
        .scope(TokenScope::StylesRead)
        .build()
        .unwrap();
    for request in [
        styles(),
        styles().with_referer(""),
        styles().with_referer("null"),
        styles().with_referer("https://anywhere.example/"),
        styles().with_referer("https://exa\tmple.com/"),
    ] {
        let d = evaluate_token(&open, &request);
        assert!(d.is_allowed(), "{request:?}");
        assert_eq!(d.allow_origin(), Some(AllowOrigin::Any));
        assert_eq!(d.headers().collect::<Vec<_>>(), [("Access-Control-Allow-Origin", "*")]);
    }
}

fn temporary(expires: &str, scopes: &[TokenScope]) -> TokenPolicy {
    TokenPolicy::builder(TokenUsage::Temporary)
        .scopes(scopes.iter().copied())
        .expires(ts(expires))
        .build()
        .unwrap()
}

#[test]
fn temporary_tokens_expire_at_their_expiry_time() {
    let token = temporary("2026-11-22T15:00:00Z", &[TokenScope::StylesRead, TokenScope::MapRead]);
    let at = |now: &str| evaluate_token(&token, &styles().with_now(ts(now))).denial();
    assert_eq!(at("2026-11-22T14:30:00Z"), None);
    assert_eq!(at("2026-11-22T14:59:59.999Z"), None);
    assert_eq!(at("2026-11-22T15:00:00Z"), Some(Denial::TokenExpired));
    assert_eq!(at("2026-11-22T16:00:00+01:00"), Some(Denial::TokenExpired));
    assert_eq!(at("2026-11-22T15:00:00.001Z"), Some(Denial::TokenExpired));
    assert_eq!(at("2027-01-01T00:00:00Z"), Some(Denial::TokenExpired));
    let r = styles().with_now(ts("2026-11-22T15:00:01Z"));
    let d = evaluate_token(&token, &r);
    assert_eq!((d.status(), d.reason()), (401, Some("token_expired")));
    // No `now`: fails closed, and `check_against` names the problem.
    let no_now = styles();
    assert_eq!(evaluate_token(&token, &no_now).denial(), Some(Denial::TokenExpired));
    assert_eq!(no_now.check_against(&token), Err(TokenRequestError::MissingNow));
    // `now` does not matter to tokens that do not expire.
    let pk = restricted(&["example.com"]);
    let r = styles()
        .with_referer("https://example.com/")
        .with_now(ts("2999-01-01T00:00:00Z"));
    assert!(evaluate_token(&pk, &r).is_allowed());
    assert_eq!(styles().check_against(&pk), Ok(()));
}

#[test]
fn checks_run_expiry_then_referer_then_scope() {
    // Expiry before scope.
    let tk = temporary("2026-11-22T15:00:00Z", &[TokenScope::MapRead]);
    let expired_and_unscoped = styles().with_now(ts("2026-11-22T15:00:00Z"));
    assert_eq!(
        evaluate_token(&tk, &expired_and_unscoped).denial(),
        Some(Denial::TokenExpired)
    );
    let fresh_and_unscoped = styles().with_now(ts("2026-11-22T14:00:00Z"));
    assert_eq!(
        evaluate_token(&tk, &fresh_and_unscoped).denial(),
        Some(Denial::ScopeMissing)
    );
    // Referer before scope.
    let pk = restricted(&["example.com"]);
    let unscoped = TokenRequest::new(TokenScope::DatasetsRead);
    assert_eq!(evaluate_token(&pk, &unscoped).denial(), Some(Denial::RefererRequired));
    let r = unscoped.clone().with_referer("https://evil.net/");
    assert_eq!(evaluate_token(&pk, &r).denial(), Some(Denial::RefererNotAllowed));
    let r = unscoped.with_referer("https://example.com/");
    assert_eq!(evaluate_token(&pk, &r).denial(), Some(Denial::ScopeMissing));
}

#[test]
fn scopes_must_be_on_the_token() {
    let sk = TokenPolicy::builder(TokenUsage::Secret)
        .scopes([
            TokenScope::StylesRead,
            TokenScope::UploadsWrite,
            TokenScope::UploadsRead,
        ])
        .build()
        .unwrap();
    for scope in TokenScope::ALL {
        let r = TokenRequest::new(scope);
        let d = evaluate_token(&sk, &r);
        let expected = matches!(
            scope,
            TokenScope::StylesRead | TokenScope::UploadsWrite | TokenScope::UploadsRead
        );
        assert_eq!(d.is_allowed(), expected, "{scope}");
        if !expected {
            assert_eq!((d.status(), d.reason()), (403, Some("scope_missing")));
        }
    }
    let none = TokenPolicy::builder(TokenUsage::Public).build().unwrap();
    assert_eq!(evaluate_token(&none, &styles()).denial(), Some(Denial::ScopeMissing));
}

fn cors<'r>(d: &Decision<'r>) -> Vec<(&'static str, &'r str)> {
    d.headers().collect()
}

#[test]
fn restricted_tokens_echo_only_an_origin_that_satisfies_a_matched_entry() {
    let token = restricted(&["https://example.com/maps", "http://localhost:3000"]);
    let vary = ("Vary", "Origin, Referer");
    let ask = |referer: &'static str, origin: &'static str| styles().with_referer(referer).with_origin(origin);

    let r = ask("https://docs.example.com/maps/x", "https://docs.example.com");
    let d = evaluate_token(&token, &r);
    assert!(d.is_allowed());
    assert_eq!(
        cors(&d),
        [("Access-Control-Allow-Origin", "https://docs.example.com"), vary]
    );
    // The exact header is echoed, as sent.
    let r = ask("https://example.com/maps", "HTTPS://EXAMPLE.COM:443");
    assert_eq!(
        evaluate_token(&token, &r).allow_origin(),
        Some(AllowOrigin::Origin("HTTPS://EXAMPLE.COM:443"))
    );
    // Allowed by the Referer, but the Origin fails the entry's scheme,
    // host or port, or is not a usable origin: no ACAO.
    for origin in [
        "http://example.com",
        "https://evil.net",
        "https://badexample.com",
        "http://localhost:3000",
        "null",
        "https://example.com/maps",
        "https://example.com, https://evil.net",
        "",
    ] {
        let r = ask("https://example.com/maps", origin);
        let d = evaluate_token(&token, &r);
        assert!(d.is_allowed(), "{origin}");
        assert_eq!(cors(&d), [vary], "{origin:?}");
    }
    // The entry's port, when it names one, binds the Origin too.
    let with_port = restricted(&["example.com:8443"]);
    let r = ask("https://example.com:8443/", "https://example.com");
    assert_eq!(cors(&evaluate_token(&with_port, &r)), [vary]);
    let r = ask("https://example.com:8443/", "https://example.com:8443");
    assert_eq!(
        cors(&evaluate_token(&with_port, &r)),
        [("Access-Control-Allow-Origin", "https://example.com:8443"), vary]
    );
    let r = ask("http://localhost:3000/", "http://localhost:3000");
    assert_eq!(
        cors(&evaluate_token(&token, &r)),
        [("Access-Control-Allow-Origin", "http://localhost:3000"), vary]
    );
    // No Origin header: allowed, nothing to echo.
    let r = styles().with_referer("https://example.com/maps");
    let d = evaluate_token(&token, &r);
    assert_eq!(cors(&d), [vary]);
    // A denial never echoes, even when the Origin would satisfy the entry.
    let r = TokenRequest::new(TokenScope::MapRead)
        .with_referer("https://example.com/maps")
        .with_origin("https://example.com");
    let d = evaluate_token(&token, &r);
    assert_eq!(d.denial(), Some(Denial::ScopeMissing));
    assert_eq!(cors(&d), [vary]);
    let r = ask("https://example.com/other", "https://example.com");
    assert_eq!(cors(&evaluate_token(&token, &r)), [vary]);
}

#[test]
fn unrestricted_tokens_answer_any_origin() {
    let token = TokenPolicy::builder(TokenUsage::Secret)
        .scope(TokenScope::StylesRead)
        .build()
        .unwrap();
    let r = styles().with_origin("https://evil.net");
    let d = evaluate_token(&token, &r);
    assert_eq!(cors(&d), [("Access-Control-Allow-Origin", "*")]);
    assert_eq!(d.vary().header_value(), None);
    let r = TokenRequest::new(TokenScope::MapRead);
    let d = evaluate_token(&token, &r);
    assert_eq!(d.denial(), Some(Denial::ScopeMissing));
    assert_eq!(cors(&d), [("Access-Control-Allow-Origin", "*")]);
}

#[test]
fn origin_fallback_is_opt_in_and_judges_the_origin_as_a_url_without_path() {
    let token = restricted(&["https://example.com", "example.net/maps"]);
    let no_referer = styles().with_origin("https://docs.example.com");
    assert_eq!(
        evaluate_token(&token, &no_referer).denial(),
        Some(Denial::RefererRequired)
    );

    let fallback = no_referer.clone().with_origin_fallback(true);
    let d = evaluate_token(&token, &fallback);
    assert!(d.is_allowed());
    assert_eq!(
        cors(&d),
        [
            ("Access-Control-Allow-Origin", "https://docs.example.com"),
            ("Vary", "Origin, Referer")
        ]
    );
    let empty_referer = fallback.clone().with_referer("");
    assert!(evaluate_token(&token, &empty_referer).is_allowed());

    let deny = |origin: Option<&'static str>| {
        let mut r = styles().with_origin_fallback(true);
        r.origin = origin.map(Into::into);
        evaluate_token(&token, &r).denial()
    };
    // Host only: a path-restricted entry never matches an Origin.
    assert_eq!(deny(Some("https://example.net")), Some(Denial::RefererNotAllowed));
    assert_eq!(deny(Some("http://example.com")), Some(Denial::RefererNotAllowed));
    assert_eq!(deny(Some("https://evil.net")), Some(Denial::RefererNotAllowed));
    // Unusable Origins are refused, an absent one still requires a Referer.
    assert_eq!(deny(Some("null")), Some(Denial::RefererNotAllowed));
    assert_eq!(deny(Some("https://example.com/")), Some(Denial::RefererNotAllowed));
    assert_eq!(deny(Some("capacitor://localhost")), Some(Denial::RefererNotAllowed));
    assert_eq!(deny(Some("https://exa\tmple.com")), Some(Denial::RefererNotAllowed));
    assert_eq!(deny(Some("")), Some(Denial::RefererRequired));
    assert_eq!(deny(None), Some(Denial::RefererRequired));

    // A Referer, when present, is what is judged, fallback or not.
    let r = styles()
        .with_referer("https://evil.net/")
        .with_origin("https://example.com")
        .with_origin_fallback(true);
    assert_eq!(evaluate_token(&token, &r).denial(), Some(Denial::RefererNotAllowed));
}

fn build_err(builder: keypolicy::token::TokenPolicyBuilder) -> TokenPolicyError {
    builder.build().expect_err("the token should be refused")
}

#[test]
fn validation_errors_one_by_one() {
    use TokenPolicyError as E;
    use TokenUsage::{Public, Secret, Temporary};
    let exp = ts("2026-11-22T15:00:00Z");

    let err = build_err(TokenPolicy::builder(Public).scopes([TokenScope::StylesRead, TokenScope::MapWrite]));
    assert_eq!(
        err,
        E::SecretScopeOnPublicToken {
            index: 1,
            scope: TokenScope::MapWrite
        }
    );
    assert_eq!(
        err.to_string(),
        r#"scopes[1]: "map:write" is a secret scope; a pk token can only hold public scopes (use an sk token)"#
    );

    let err = build_err(TokenPolicy::builder(Secret).default_token(true));
    assert_eq!(err, E::DefaultTokenNotPublic { usage: Secret });
    assert_eq!(
        err.to_string(),
        r#"default: a default token must be a pk token, not "sk""#
    );
    let err = build_err(TokenPolicy::builder(Temporary).default_token(true).expires(exp));
    assert_eq!(err, E::DefaultTokenNotPublic { usage: Temporary });

    let err = build_err(TokenPolicy::builder(Public).default_token(true).scopes([
        TokenScope::StylesRead,
        TokenScope::FontsRead,
        TokenScope::TokensRead,
    ]));
    assert_eq!(
        err,
        E::DefaultTokenSecretScope {
            index: 2,
            scope: TokenScope::TokensRead
        }
    );
    assert_eq!(
        err.to_string(),
        r#"scopes[2]: "tokens:read" is a secret scope; a default token can only hold public scopes"#
    );

    let err = build_err(
        TokenPolicy::builder(Public)
            .default_token(true)
            .allowed_urls(["example.com"]),
    );
    assert_eq!(
        err.to_string(),
        r#"allowedUrls[0]: "example.com": a default token cannot have URL restrictions"#
    );
    assert!(matches!(err, E::DefaultTokenAllowedUrls { index: 0, .. }));

    let err = build_err(
        TokenPolicy::builder(Temporary)
            .expires(exp)
            .allowed_urls(["example.com"]),
    );
    assert_eq!(
        err,
        E::TemporaryTokenAllowedUrls {
            index: 0,
            value: "example.com".into()
        }
    );
    assert_eq!(
        err.to_string(),
        r#"allowedUrls[0]: "example.com": a tk token cannot have URL restrictions"#
    );

    let err = build_err(TokenPolicy::builder(Temporary).scope(TokenScope::StylesRead));
    assert_eq!(err, E::TemporaryTokenWithoutExpiry);
    assert_eq!(err.to_string(), "expires: a tk token must have an expiry time");

    for usage in [Public, Secret] {
        let err = build_err(TokenPolicy::builder(usage).expires(exp));
        assert_eq!(err, E::ExpiryOnPermanentToken { usage, value: exp });
        assert_eq!(
            err.to_string(),
            format!(
                r#"expires: "2026-11-22T15:00:00Z": only tk tokens expire; a {usage} token cannot have an expiry time"#
            )
        );
    }

    let many: Vec<String> = (0..101).map(|i| format!("h{i}.example.com")).collect();
    let err = build_err(TokenPolicy::builder(Public).allowed_urls(many.clone()));
    assert_eq!(err, E::TooManyAllowedUrls { count: 101 });
    assert_eq!(err.to_string(), "allowedUrls: 101 entries; at most 100 are allowed");
    assert!(TokenPolicy::builder(Public)
        .allowed_urls(many.into_iter().take(100))
        .build()
        .is_ok());

    let bad_urls: &[(&str, AllowedUrlError, &str)] = &[
        ("", AllowedUrlError::Empty, "the entry is empty"),
        (
            "*.example.com",
            AllowedUrlError::Wildcard,
            "wildcards ('*') are not supported; an entry already allows its subdomains",
        ),
        (
            "https://exa*mple.com",
            AllowedUrlError::Wildcard,
            "wildcards ('*') are not supported; an entry already allows its subdomains",
        ),
        (
            "192.168.0.1",
            AllowedUrlError::IpAddress,
            "IP-address hosts are not supported; use a domain name",
        ),
        (
            "http://[::1]",
            AllowedUrlError::IpAddress,
            "IP-address hosts are not supported; use a domain name",
        ),
        (
            "ftp://example.com",
            AllowedUrlError::UnsupportedScheme("ftp".into()),
            r#"the scheme "ftp" is not supported; use http, https or no scheme"#,
        ),
        (
            "example.com/maps?x=1",
            AllowedUrlError::QueryOrFragment,
            "an allowed URL cannot have a query ('?') or fragment ('#')",
        ),
        (
            "example.com/#maps",
            AllowedUrlError::QueryOrFragment,
            "an allowed URL cannot have a query ('?') or fragment ('#')",
        ),
        (
            "https:/example.com",
            AllowedUrlError::Unparseable,
            "expected [scheme://]host[:port][/path]",
        ),
        (
            "example..com",
            AllowedUrlError::Host(HostError::EmptyLabel),
            "the host has an empty label",
        ),
        (
            "example.com:70000",
            AllowedUrlError::InvalidPort("70000".into()),
            r#"the port "70000" is not a number from 1 to 65535"#,
        ),
        (
            "me@example.com",
            AllowedUrlError::Userinfo,
            "an allowed URL cannot contain userinfo ('@')",
        ),
        (
            "exa mple.com",
            AllowedUrlError::Whitespace,
            "the entry contains whitespace or a control character",
        ),
        (
            "example.com/a/../b",
            AllowedUrlError::DotSegment,
            "the path has a '.' or '..' segment, which no request can match",
        ),
    ];
    for (value, source, message) in bad_urls {
        let err = build_err(TokenPolicy::builder(Public).allowed_urls(["ok.example.com", "other.example.com", value]));
        assert_eq!(
            err,
            E::InvalidAllowedUrl {
                index: 2,
                value: (*value).to_owned(),
                source: source.clone()
            }
        );
        assert_eq!(err.to_string(), format!("allowedUrls[2]: {value:?}: {message}"));
    }
}

#[cfg(feature = "serde")]
mod json {
    use super::*;

    fn token(json: &str) -> Result<TokenPolicy, String> {
        serde_json::from_str::<TokenPolicy>(json).map_err(|e| e.to_string())
    }

    fn token_err(json: &str) -> String {
        token(json).expect_err("the token JSON should be refused")
    }

    #[test]
    fn reads_the_tokens_api_shape_and_ignores_its_metadata() {
        let t = token(
            r#"{
                "client": "api",
                "usage": "pk",
                "token": "pk.eyJ1Ijoi...",
                "id": "cijucimbe000brbkt48d0dhcx",
                "default": false,
                "note": "My website",
                "scopes": ["styles:read", "fonts:read"],
                "allowedUrls": ["https://docs.example.com/maps/", "localhost"],
                "created": "2016-01-25T19:07:07.621Z",
                "modified": "2016-01-25T19:07:07.621Z"
            }"#,
        )
        .unwrap();
        assert_eq!(t.usage(), TokenUsage::Public);
        assert_eq!(t.note(), Some("My website"));
        assert!(!t.is_default());
        assert_eq!(
            t.allowed_urls().iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["https://docs.example.com/maps", "localhost"]
        );
        let r = styles().with_referer("https://docs.example.com/maps/paris");
        assert!(evaluate_token(&t, &r).is_allowed());

        let tk = token(r#"{"usage": "tk", "scopes": ["map:read"], "expires": "2026-11-22T15:00:00Z"}"#).unwrap();
        assert_eq!(tk.expires(), Some(ts("2026-11-22T15:00:00Z")));
        let nulls = token(
            r#"{"usage": "pk", "scopes": [], "allowedUrls": null, "default": null, "expires": null, "note": null, "id": null}"#,
        )
        .unwrap();
        assert!(!nulls.is_url_restricted());
    }

    #[test]
    fn json_errors_name_field_index_and_value() {
        let cases: &[(&str, &str)] = &[
            (
                r#"{"usage": "pk", "scopes": [], "allowedURLs": ["example.com"]}"#,
                "unknown field `allowedURLs`",
            ),
            (
                r#"{"usage": "pk", "scopes": [], "allowed_urls": []}"#,
                "unknown field `allowed_urls`",
            ),
            (
                r#"{"usage": "pk", "scopes": [], "resources": ["tilesets"]}"#,
                "resources: the field is not supported",
            ),
            (
                r#"{"usage": "pk", "scopes": [], "resources": null}"#,
                "resources: the field is not supported",
            ),
            (r#"{"scopes": []}"#, "missing field `usage`"),
            (r#"{"usage": "pk"}"#, "missing field `scopes`"),
            (
                r#"{"usage": "xk", "scopes": []}"#,
                r#"usage: unknown token usage "xk"; expected pk, sk or tk"#,
            ),
            (
                r#"{"usage": "pk", "scopes": ["styles:read", "styles:raed"]}"#,
                r#"scopes[1]: unknown token scope "styles:raed""#,
            ),
            (
                r#"{"usage": "pk", "scopes": ["styles:read", "map:read"]}"#,
                r#"scopes[1]: "map:read" is a secret scope"#,
            ),
            (
                r#"{"usage": "tk", "scopes": [], "expires": "tomorrow"}"#,
                r#"expires: "tomorrow" is not an RFC 3339 timestamp"#,
            ),
            (
                r#"{"usage": "tk", "scopes": [], "expires": "2026-11-22T15:00:00"}"#,
                r#"expires: "2026-11-22T15:00:00" is not an RFC 3339 timestamp"#,
            ),
            (
                r#"{"usage": "tk", "scopes": []}"#,
                "expires: a tk token must have an expiry time",
            ),
            (
                r#"{"usage": "sk", "scopes": [], "expires": "2026-11-22T15:00:00Z"}"#,
                "expires: \"2026-11-22T15:00:00Z\": only tk tokens expire; a sk token",
            ),
            (
                r#"{"usage": "sk", "scopes": [], "default": true}"#,
                r#"default: a default token must be a pk token, not "sk""#,
            ),
            (
                r#"{"usage": "pk", "scopes": [], "allowedUrls": ["a.com", "*.b.com"]}"#,
                r#"allowedUrls[1]: "*.b.com": wildcards"#,
            ),
        ];
        for (json, expected) in cases {
            let message = token_err(json);
            assert!(
                message.contains(expected),
                "{json}\n  got: {message}\n  want: {expected}"
            );
        }
    }

    #[test]
    fn tokens_round_trip_in_normalized_form() {
        let json = r#"{"usage":"tk","scopes":["map:read","styles:read"],"default":false,"expires":"2026-11-22T16:00:00+01:00","note":"ci"}"#;
        let t = token(json).unwrap();
        let out = serde_json::to_string(&t).unwrap();
        assert_eq!(
            out,
            r#"{"usage":"tk","scopes":["styles:read","map:read"],"default":false,"expires":"2026-11-22T15:00:00Z","note":"ci"}"#
        );
        assert_eq!(serde_json::to_string(&token(&out).unwrap()).unwrap(), out);

        let pk =
            token(r#"{"usage":"pk","scopes":["fonts:read"],"allowedUrls":["HTTPS://Example.com:443/maps/"]}"#).unwrap();
        let out = serde_json::to_string(&pk).unwrap();
        assert_eq!(
            out,
            r#"{"usage":"pk","scopes":["fonts:read"],"allowedUrls":["https://example.com:443/maps"],"default":false}"#
        );
        let back = token(&out).unwrap();
        assert_eq!(back.allowed_urls(), pk.allowed_urls());
        assert_eq!(back.scopes(), pk.scopes());
    }

    #[test]
    fn requests_read_their_json_shape() {
        let r: TokenRequest<'_> = serde_json::from_str(
            r#"{"referer": "https://docs.example.com/maps/", "origin": "https://docs.example.com",
                "scope": "styles:read", "now": "2026-11-22T14:30:00Z", "origin_fallback": true}"#,
        )
        .unwrap();
        assert_eq!(r.referer.as_deref(), Some("https://docs.example.com/maps/"));
        assert_eq!(r.origin.as_deref(), Some("https://docs.example.com"));
        assert_eq!(r.scope, TokenScope::StylesRead);
        assert_eq!(r.now, Some(ts("2026-11-22T14:30:00Z")));
        assert!(r.origin_fallback);
        // Borrowed from the input when there are no escapes.
        assert!(matches!(r.referer, Some(std::borrow::Cow::Borrowed(_))));

        let minimal: TokenRequest<'_> = serde_json::from_str(r#"{"scope": "fonts:read"}"#).unwrap();
        assert_eq!(minimal, TokenRequest::new(TokenScope::FontsRead));
        let text = serde_json::to_string(&r).unwrap();
        let back: TokenRequest<'_> = serde_json::from_str(&text).unwrap();
        assert_eq!(back, r);

        for (json, expected) in [
            (r#"{"referer": "https://a.com/"}"#, "missing field `scope`"),
            (r#"{"scope": "tiles:read"}"#, r#"unknown token scope "tiles:read""#),
            (
                r#"{"scope": "styles:read", "now": "now"}"#,
                r#""now" is not an RFC 3339 timestamp"#,
            ),
            (
                r#"{"scope": "styles:read", "referrer": "https://a.com/"}"#,
                "unknown field `referrer`",
            ),
            (r#"{"scope": "styles:read", "origin_fallback": "yes"}"#, "invalid type"),
        ] {
            let err = serde_json::from_str::<TokenRequest<'_>>(json).unwrap_err().to_string();
            assert!(err.contains(expected), "{json}: {err}");
        }
        assert_eq!("x".parse::<TokenScope>(), Err(UnknownTokenScope("x".into())));
    }

    #[test]
    fn decisions_serialize_as_in_the_core() {
        let t = token(r#"{"usage":"pk","scopes":["styles:read"],"allowedUrls":["https://example.com"]}"#).unwrap();
        let r: TokenRequest<'_> = serde_json::from_str(
            r#"{"referer":"https://example.com/m","origin":"https://example.com","scope":"styles:read"}"#,
        )
        .unwrap();
        assert_eq!(
            serde_json::to_string(&evaluate_token(&t, &r)).unwrap(),
            r#"{"allowed":true,"status":200,"reason":null,"message":"Allowed","headers":{"Access-Control-Allow-Origin":"https://example.com","Vary":"Origin, Referer"}}"#
        );
        let tk = token(r#"{"usage":"tk","scopes":["styles:read"],"expires":"2026-11-22T15:00:00Z"}"#).unwrap();
        let r: TokenRequest<'_> =
            serde_json::from_str(r#"{"scope":"styles:read","now":"2026-11-22T15:00:00Z"}"#).unwrap();
        assert_eq!(
            serde_json::to_string(&evaluate_token(&tk, &r)).unwrap(),
            r#"{"allowed":false,"status":401,"reason":"token_expired","message":"This temporary token has expired","headers":{"Access-Control-Allow-Origin":"*"}}"#
        );
    }
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    /// Referer-like strings: mostly URL-shaped, with hostile bytes mixed in.
    fn referer() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            "[hH][tT][tT][pP][sS]?://[a-zA-Z0-9.:@%*_\\[\\]-]{0,40}(/[a-zA-Z0-9./%?#-]{0,40})?",
            "https?://([a-z]{1,5}\\.){0,3}example\\.com(:[0-9]{1,5})?(/[a-zA-Z.%2eE]{0,8}){0,4}([?#].{0,10})?",
        ]
    }

    fn token() -> TokenPolicy {
        restricted(&["example.com/maps", "https://docs.example.com:8443", "localhost"])
    }

    proptest! {
        #[test]
        fn never_panics_and_never_echoes_on_denial(
            referer in proptest::option::of(referer()),
            origin in proptest::option::of(referer()),
            fallback in any::<bool>(),
        ) {
            let token = token();
            let mut request = styles().with_origin_fallback(fallback);
            request.referer = referer.map(Into::into);
            request.origin = origin.clone().map(Into::into);
            let d = evaluate_token(&token, &request);
            prop_assert_eq!(d.vary().header_value(), Some("Origin, Referer"));
            match d.allow_origin() {
                None => {}
                Some(AllowOrigin::Origin(echoed)) => {
                    prop_assert!(d.is_allowed());
                    prop_assert_eq!(Some(echoed), origin.as_deref());
                }
                Some(AllowOrigin::Any) => prop_assert!(false, "a restricted token never answers *"),
            }
            if !d.is_allowed() {
                prop_assert!(matches!(
                    d.denial(),
                    Some(Denial::RefererRequired | Denial::RefererNotAllowed)
                ));
            }
        }

        #[test]
        fn host_case_and_query_do_not_change_the_answer(
            sub in "([a-z0-9]{1,6}\\.){0,2}",
            path in "(/[a-zA-Z0-9]{1,4}){0,3}",
            query in "[?#][a-z=&/.]{0,12}",
        ) {
            let token = token();
            let plain = format!("https://{sub}example.com{path}");
            let upper = format!("HTTPS://{}EXAMPLE.COM{path}{query}", sub.to_uppercase());
            let a = evaluate_token(&token, &styles().with_referer(plain.as_str())).is_allowed();
            let b = evaluate_token(&token, &styles().with_referer(upper.as_str())).is_allowed();
            prop_assert_eq!(a, b, "{} vs {}", plain, upper);
            prop_assert_eq!(a, path == "/maps" || path.starts_with("/maps/"));
        }

        #[test]
        fn entries_never_panic_and_errors_name_the_index(entry in any::<String>()) {
            match TokenPolicy::builder(TokenUsage::Public).allowed_urls(["ok.example.com".to_owned(), entry.clone()]).build() {
                Ok(t) => prop_assert!(t.allowed_urls().len() <= 2),
                Err(TokenPolicyError::InvalidAllowedUrl { index, value, .. }) => {
                    prop_assert_eq!(index, 1);
                    prop_assert_eq!(value, entry);
                }
                Err(other) => prop_assert!(false, "unexpected {other}"),
            }
        }
    }
}
