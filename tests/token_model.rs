//! A reference model of access-token evaluation (issue 5, part 2, token
//! side), compared with [`keypolicy::evaluate_token`].
//!
//! The model is written straight from issue 3 and the Tokens seed, slow and
//! string-based, and shares no code with `src/`: it reads the `allowedUrls`
//! entries as the author wrote them (not the library's normalized form),
//! parses Referers with plain string splitting (host syntax and IDNA via the
//! `url` crate's WHATWG host parser), and applies the rules sentence by
//! sentence: expiry, then the Referer (or, opted in, the Origin), then the
//! scope; CORS `*` without URL restrictions, else the Origin echoed only
//! when it satisfies the scheme, host and port of an entry the Referer
//! matched. Every disagreement found was investigated; the fixed ones are
//! plain tests in `tests/token_regressions.rs`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a panic is a failed test"
)]

mod common;

use common::cases;
use common::token::*;
use keypolicy::token::{AllowedUrl, TokenScope, TokenUsage};
use keypolicy::{Denial, TokenPolicy};
use proptest::prelude::*;
use proptest::sample::select;

/// Browsers send at most 4,096 bytes of Referer (issue 3: "a documented
/// cap").
const REFERER_CAP: usize = 4096;
/// The Origin cap the README documents for `origin_fallback` and echoes.
const ORIGIN_CAP: usize = 2048;

/// An allowed URL, read naively from the text the author wrote.
#[derive(Debug)]
struct Entry {
    scheme: Option<String>,
    host: String,
    port: Option<u16>,
    /// `None`: no path or `/`.
    path: Option<String>,
}

/// `[scheme://]host[:port][/path]`, split by hand. Only called on entries
/// the generator made valid.
fn read_entry(text: &str) -> Entry {
    let (scheme, rest) = match text.find("://") {
        Some(i) => (Some(text[..i].to_lowercase()), &text[i + 3..]),
        None => (None, text),
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let (host, port) = match authority.rfind(':') {
        Some(i) => (&authority[..i], Some(authority[i + 1..].parse::<u16>().unwrap())),
        None => (authority, None),
    };
    // "hosts compare case-insensitively by their IDNA ASCII form, one
    // trailing dot ignored".
    let mut host = idna::domain_to_ascii(host).unwrap().to_lowercase();
    if host.ends_with('.') {
        host.pop();
    }
    // "a trailing slash on the entry's path is not significant".
    let mut path = path.to_owned();
    while path.ends_with('/') {
        path.pop();
    }
    assert!(path.is_ascii(), "generator makes ASCII paths: {text}");
    Entry {
        scheme,
        host,
        port,
        path: if path.is_empty() { None } else { Some(path) },
    }
}

/// A usable request URL (Referer, or Origin as fallback).
#[derive(Debug)]
struct Url {
    scheme: &'static str,
    host: String,
    port: u16,
    /// Raw, not decoded; `/` when absent.
    path: String,
}

fn default_port_of(scheme: &str) -> u16 {
    if scheme == "https" {
        443
    } else {
        80
    }
}

/// Reads an untrusted URL. `None`: unusable (never matches). With
/// `origin_only`, nothing may follow the authority (an Origin header).
fn read_url(value: &str, origin_only: bool) -> Option<Url> {
    let cap = if origin_only { ORIGIN_CAP } else { REFERER_CAP };
    if value.len() > cap {
        return None;
    }
    // Whitespace, control characters, non-ASCII bytes: never match. A
    // backslash is a `/` to URL parsers and never sent by browsers.
    if value
        .chars()
        .any(|c| !c.is_ascii() || c.is_ascii_control() || c == ' ' || c == '\\')
    {
        return None;
    }
    let lower = value.to_ascii_lowercase();
    let scheme = if lower.starts_with("https://") {
        "https"
    } else if lower.starts_with("http://") {
        "http"
    } else {
        // `null`, `file:`, `data:`, `blob:`, extensions, no scheme at all.
        return None;
    };
    let rest = &value[scheme.len() + 3..];
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, after) = rest.split_at(end);
    if origin_only && !after.is_empty() {
        return None;
    }
    // Userinfo and percent-encoded hosts never match; neither do IP
    // literals (no entry is an IP address).
    if authority.contains(['@', '%', '[']) {
        return None;
    }
    let (host, port) = match authority.split_once(':') {
        Some((h, p)) => {
            if p.is_empty() || p.len() > 5 || !p.chars().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let n: u32 = p.parse().unwrap();
            if n == 0 || n > 65535 {
                return None;
            }
            (h, n as u16)
        }
        None => (authority, default_port_of(scheme)),
    };
    // A domain name: labels of letters, digits, `-` and `_`, one optional
    // trailing dot, valid IDNA (punycode must decode), not an IP address.
    let bare = host.strip_suffix('.').unwrap_or(host);
    if bare.is_empty()
        || bare.len() > 253
        || bare.split('.').any(|l| {
            l.is_empty() || l.len() > 63 || !l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
    {
        return None;
    }
    let host = match url::Host::parse(bare).ok()? {
        url::Host::Domain(d) => d,
        url::Host::Ipv4(_) | url::Host::Ipv6(_) => return None,
    };
    // WHATWG lowercases; an invalid punycode label fails to parse above.
    if host != bare.to_ascii_lowercase() {
        return None;
    }
    let path_end = after.find(['?', '#']).unwrap_or(after.len());
    let path = if after.starts_with('/') {
        after[..path_end].to_owned()
    } else {
        "/".to_owned()
    };
    Some(Url {
        scheme,
        host,
        port,
        path,
    })
}

/// "its host equals the entry's host or is a subdomain of it on a label
/// boundary".
fn host_matches(host: &str, entry: &Entry) -> bool {
    host == entry.host || host.ends_with(&format!(".{}", entry.host))
}

/// The scheme and port sentences.
fn scheme_port_match(url: &Url, entry: &Entry) -> bool {
    entry.scheme.as_deref().is_none_or(|s| s == url.scheme) && entry.port.is_none_or(|p| p == url.port)
}

/// "a path with `.` or `..` segments never matches" (also spelled `%2e`).
fn has_dot_segment(path: &str) -> bool {
    path.split('/').any(|seg| {
        let seg = seg.to_ascii_lowercase().replace("%2e", ".");
        seg == "." || seg == ".."
    })
}

/// The path sentence: equal, or continued at a `/`, literally.
fn path_match(url: &Url, entry: &Entry) -> bool {
    match &entry.path {
        None => true,
        Some(p) => !has_dot_segment(&url.path) && (url.path == *p || url.path.starts_with(&format!("{p}/"))),
    }
}

fn matches(url: &Url, entry: &Entry) -> bool {
    host_matches(&url.host, entry) && scheme_port_match(url, entry) && path_match(url, entry)
}

/// The whole model: the outcome issue 3 prescribes.
fn model(spec: &TokenSpec, r: &ReqSpec) -> Outcome {
    let entries: Vec<Entry> = spec.urls.iter().map(|u| read_entry(&u.text())).collect();
    let any = |denial| Outcome {
        denial,
        allow_origin: Some("*".to_owned()),
        vary: None,
    };
    // Expiry first: "a tk token whose expires is at or before the
    // request's now"; no `now` fails closed.
    if let Some(expires) = spec.expires {
        if r.now.is_none_or(|now| expires <= now) {
            return any(Some(Denial::TokenExpired));
        }
    }
    let scope_ok = spec.scopes.contains(&r.scope);
    if entries.is_empty() {
        return any(if scope_ok { None } else { Some(Denial::ScopeMissing) });
    }
    let deny = |denial| Outcome {
        denial: Some(denial),
        allow_origin: None,
        vary: Some("Origin, Referer"),
    };
    let referer = r.referer.as_deref().filter(|s| !s.is_empty());
    let origin = r.origin.as_deref().filter(|s| !s.is_empty());
    let target = match (referer, r.fallback, origin) {
        (Some(referer), _, _) => read_url(referer, false),
        (None, true, Some(origin)) => read_url(origin, true),
        (None, _, _) => return deny(Denial::RefererRequired),
    };
    let Some(target) = target else {
        return deny(Denial::RefererNotAllowed);
    };
    let matched: Vec<&Entry> = entries.iter().filter(|e| matches(&target, e)).collect();
    if matched.is_empty() {
        return deny(Denial::RefererNotAllowed);
    }
    if !scope_ok {
        return deny(Denial::ScopeMissing);
    }
    let echo = origin.and_then(|o| {
        let parsed = read_url(o, true)?;
        matched
            .iter()
            .any(|e| host_matches(&parsed.host, e) && scheme_port_match(&parsed, e))
            .then(|| o.to_owned())
    });
    Outcome {
        denial: None,
        allow_origin: echo,
        vary: Some("Origin, Referer"),
    }
}

/// Extra Referers: pieces that reach the edges of the grammar (ports with
/// leading zeros or out of range, punycode in any case, invalid punycode,
/// IP hosts, trailing dots, dot segments), or random text after a pool host.
fn noisy_referer() -> impl Strategy<Value = String> {
    let pieces = (
        select(&["https://", "http://", "HTTPS://", "hTtP://", "ftp://", "https:/", ""][..]),
        select(
            &[
                "example.com",
                "docs.example.com",
                "EXAMPLE.COM.",
                "www.example.com",
                "xn--mnchen-3ya.de",
                "XN--MNCHEN-3YA.DE",
                "karte.xn--mnchen-3ya.de",
                "xn--zz.example.com",
                "xn--mnchen-3ya.example.com",
                "localhost",
                "localhost.",
                "a.b.example.net",
                "example.org",
                "co",
                "127.0.0.1",
                "[::1]",
                "under_score.example.com",
                "ex-ample.com",
                "example.com..",
            ][..],
        ),
        select(
            &[
                "", "", ":443", ":80", ":8080", ":3000", ":0", ":080", ":00443", ":65535", ":65536", ":",
            ][..],
        ),
        select(
            &[
                "",
                "/",
                "/maps",
                "/maps/",
                "/Maps",
                "/maps/./x",
                "/a/b/c",
                "/%2e/maps",
                "/maps%2Fx",
                "/~u",
                "/v1/maps/",
            ][..],
        ),
        select(&["", "", "?x", "#y", "?a#b", "?/maps"][..]),
    )
        .prop_map(|(s, h, p, path, tail)| format!("{s}{h}{p}{path}{tail}"));
    let random = (
        select(&["https://", "http://", "HTTPS://", "hTtP://"][..]),
        select(
            &[
                "example.com",
                "docs.example.com",
                "xn--mnchen-3ya.de",
                "localhost",
                "EXAMPLE.org",
                "a.b.example.net",
            ][..],
        ),
        "[ -~]{0,16}",
    )
        .prop_map(|(s, h, rest)| format!("{s}{h}{rest}"));
    prop_oneof![3 => pieces, 1 => random]
}

fn token_and_model_requests() -> impl Strategy<Value = (TokenSpec, Vec<ReqSpec>)> {
    token_and_requests(6).prop_flat_map(|(spec, reqs)| {
        let extra = prop::collection::vec(
            (
                noisy_referer(),
                prop::option::of(noisy_referer()),
                select(TokenScope::ALL.to_vec()),
                any::<bool>(),
            ),
            4,
        );
        (Just(spec), Just(reqs), extra).prop_map(|(spec, mut reqs, extra)| {
            let now = spec.expires.map(|e| e - 1);
            for (referer, origin, scope, fallback) in extra {
                let (referer, origin) = if fallback {
                    (None, origin.or(Some(referer)))
                } else {
                    (Some(referer), origin)
                };
                reqs.push(ReqSpec {
                    referer,
                    origin,
                    scope,
                    now,
                    fallback,
                });
            }
            (spec, reqs)
        })
    })
}

/// Issue 3's validation of one entry, naively: `None` if valid, else why.
fn entry_problem(text: &str) -> Option<&'static str> {
    if text.is_empty() {
        return Some("empty");
    }
    if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Some("unparseable");
    }
    if text.contains('*') {
        return Some("wildcard");
    }
    if text.contains(['?', '#']) {
        return Some("query or fragment");
    }
    let rest = match text.find("://") {
        Some(i) => {
            let scheme = &text[..i];
            if scheme.is_empty()
                || !scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                || !scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
            {
                return Some("unparseable");
            }
            if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
                return Some("scheme");
            }
            &text[i + 3..]
        }
        None => text,
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    if authority.contains('@') {
        return Some("userinfo");
    }
    if authority.starts_with('[') {
        return Some("ip");
    }
    let host = match authority.split_once(':') {
        Some((host, port)) => {
            if !(1..=5).contains(&port.len()) || !port.chars().all(|c| c.is_ascii_digit()) {
                return Some("port");
            }
            if !(1..=65535).contains(&port.parse::<u32>().unwrap()) {
                return Some("port");
            }
            host
        }
        None => authority,
    };
    let Ok(ascii) = idna::domain_to_ascii(host) else {
        return Some("host");
    };
    let bare = ascii.strip_suffix('.').unwrap_or(&ascii);
    if bare.is_empty()
        || bare.len() > 253
        || bare.split('.').any(|l| {
            l.is_empty() || l.len() > 63 || !l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
    {
        return Some("host");
    }
    match url::Host::parse(bare) {
        Ok(url::Host::Domain(_)) => {}
        Ok(_) => return Some("ip"),
        // A last label that is a number but no valid IPv4 address.
        Err(url::ParseError::InvalidIpv4Address) => return Some("ip"),
        Err(_) => return Some("host"),
    }
    if path.contains('\\') {
        return Some("backslash");
    }
    if has_dot_segment(path) {
        return Some("dot segment");
    }
    None
}

/// Entry texts from pieces, valid and not.
fn entry_text() -> impl Strategy<Value = String> {
    (
        select(
            &[
                "",
                "",
                "https://",
                "http://",
                "HTTP://",
                "ftp://",
                "capacitor://",
                "https:/",
                "://",
                "1a://",
                "https:",
            ][..],
        ),
        select(
            &[
                "example.com",
                "Example.COM.",
                "münchen.de",
                "xn--mnchen-3ya.de",
                "xn--zz.de",
                "exa_mple.com",
                "example..com",
                ".example.com",
                "*.example.com",
                "127.0.0.1",
                "0x7f.1",
                "example.123",
                "[::1]",
                "user@example.com",
                "localhost",
                "EXAMPLE\u{3002}com",
                "ex ample.com",
                "exa%6dple.com",
                "",
                "a-.com",
                "-a.com",
            ][..],
        ),
        select(
            &[
                "", "", ":443", ":0", ":65535", ":65536", ":", ":8o", ":080", ":000080", ":80:80",
            ][..],
        ),
        select(
            &[
                "", "", "/", "/maps/", "/a/../b", "/./", "/%2E", "/a\\b", "/?q", "/#f", "/café", "/a//",
            ][..],
        ),
    )
        .prop_map(|(s, h, p, path)| format!("{s}{h}{p}{path}"))
}

proptest! {
    #![proptest_config(cases(1024))]

    /// The library and the model agree on every generated request: allow
    /// or deny, the reason, and the CORS headers.
    #[test]
    fn evaluate_token_agrees_with_the_model((spec, reqs) in token_and_model_requests()) {
        let token = spec.build();
        for r in &reqs {
            prop_assert_eq!(eval(&token, r), model(&spec, r), "token {} request {}", spec.json(), r.json());
        }
    }

    /// The model's naive reading of each entry agrees with the library's
    /// normalized one (scheme, host, port, path).
    #[test]
    fn entries_read_alike(url in url_spec()) {
        let text = url.text();
        let ours = read_entry(&text);
        let theirs: AllowedUrl = text.parse().unwrap();
        prop_assert_eq!(ours.scheme.as_deref(), theirs.scheme(), "{}", text);
        prop_assert_eq!(ours.host.as_str(), theirs.host(), "{}", text);
        prop_assert_eq!(ours.port, theirs.port(), "{}", text);
        prop_assert_eq!(ours.path.as_deref(), theirs.path(), "{}", text);
    }

    /// Issue 3's validation of entries, naively, agrees with the library's
    /// on valid and invalid entry texts alike (valid or not; not the
    /// exact error).
    #[test]
    fn entry_validation_agrees_with_the_model(text in entry_text()) {
        let theirs = text.parse::<AllowedUrl>();
        prop_assert_eq!(entry_problem(&text).is_none(), theirs.is_ok(), "{:?}: model {:?}, library {:?}", text, entry_problem(&text), theirs);
    }
}

/// The model itself, on the seed's and issue 3's own examples, so that a
/// model bug cannot hide behind agreement.
#[test]
fn the_model_follows_the_issue_3_examples() {
    let spec = |urls: &[&str]| TokenSpec {
        usage: TokenUsage::Public,
        scopes: vec![TokenScope::StylesRead],
        urls: urls
            .iter()
            .map(|u| {
                let e = read_entry(u);
                // Rebuild as a UrlSpec; only `text()` is used.
                UrlSpec {
                    scheme: e.scheme.map(|s| if s == "https" { "https" } else { "http" }),
                    host: e.host,
                    port: e.port,
                    path: e.path.unwrap_or_default(),
                }
            })
            .collect(),
        expires: None,
        default: false,
    };
    let ok = |urls: &[&str], referer: &str| {
        let r = ReqSpec {
            referer: Some(referer.to_owned()),
            origin: None,
            scope: TokenScope::StylesRead,
            now: None,
            fallback: false,
        };
        let s = spec(urls);
        let m = model(&s, &r);
        assert_eq!(m, eval(&s.build(), &r), "{urls:?} {referer}");
        m.denial.is_none()
    };
    assert!(ok(&["example.com"], "https://docs.example.com/"));
    assert!(ok(&["example.com"], "http://a.b.example.com/x"));
    assert!(!ok(&["example.com"], "https://badexample.com/"));
    assert!(!ok(&["example.com"], "https://example.com.evil.net/"));
    assert!(!ok(&["https://example.com"], "http://example.com/"));
    assert!(ok(&["https://example.com:443"], "https://example.com/"));
    assert!(ok(&["example.com/maps"], "https://example.com/maps/"));
    assert!(ok(&["example.com/maps"], "https://example.com/maps/a/b"));
    for bad in ["/mapsevil", "/Maps", "/map", "/maps%2F..%2Fadmin", "/maps/../admin"] {
        assert!(
            !ok(&["example.com/maps"], &format!("https://example.com{bad}")),
            "{bad}"
        );
    }
    assert!(!ok(&["example.com"], "https://localhost/"));
    assert!(ok(&["localhost"], "http://localhost:3000/"));
    let fresh = TokenSpec {
        usage: TokenUsage::Temporary,
        scopes: vec![TokenScope::MapRead],
        urls: vec![],
        expires: Some(10),
        default: false,
    };
    let at = |now| ReqSpec {
        referer: None,
        origin: None,
        scope: TokenScope::MapRead,
        now,
        fallback: false,
    };
    assert_eq!(model(&fresh, &at(Some(9))).denial, None);
    assert_eq!(model(&fresh, &at(Some(10))).denial, Some(Denial::TokenExpired));
    assert_eq!(model(&fresh, &at(None)).denial, Some(Denial::TokenExpired));
    let _: TokenPolicy = fresh.build();
}
