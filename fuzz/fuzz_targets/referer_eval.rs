//! Fuzz target: Referer and Origin evaluation for access tokens, against
//! fixed URL-restricted tokens and a fuzzed token.
//!
//! Input layout: byte 0 picks the scope and `origin_fallback`; the rest is
//! `referer` `\0` `origin` `\0` `token JSON` (a missing part is an absent
//! header, or no fuzzed token).
//!
//! Properties: no panic; a denial never echoes the Origin; an echoed Origin
//! is exactly the request's Origin header; unrestricted tokens never deny on
//! the Referer; what the fixed tokens allow has, by a naive independent
//! reading of the Referer, the scheme, host, port and path their entries
//! name; a fragment appended to the Referer changes nothing; and a fuzzed
//! token decides like its own JSON round trip.

#![no_main]

use std::sync::OnceLock;

use keypolicy::{evaluate_token, AllowOrigin, Decision, Denial, TokenPolicy, TokenRequest};
use keypolicy::token::{TokenScope, TokenUsage, MAX_REFERER_LEN};
use libfuzzer_sys::fuzz_target;

struct Tokens {
    open: TokenPolicy,
    /// `example.com`
    host: TokenPolicy,
    /// `https://example.com/maps`
    path: TokenPolicy,
    /// `http://localhost:3000`
    port: TokenPolicy,
    /// Several entries, including an IDN one.
    mixed: TokenPolicy,
}

fn tokens() -> &'static Tokens {
    static TOKENS: OnceLock<Tokens> = OnceLock::new();
    TOKENS.get_or_init(|| {
        let build = |urls: &[&str]| {
            TokenPolicy::builder(TokenUsage::Public)
                .scopes([TokenScope::StylesRead, TokenScope::FontsRead])
                .allowed_urls(urls.iter().copied())
                .build()
                .expect("fixed token is valid")
        };
        Tokens {
            open: build(&[]),
            host: build(&["example.com"]),
            path: build(&["https://example.com/maps"]),
            port: build(&["http://localhost:3000"]),
            mixed: build(&[
                "https://docs.example.org/a/b/",
                "münchen.de",
                "http://shop.example.net:8080",
                "example.com/Maps",
            ]),
        }
    })
}

/// Naive reading of a Referer the library allowed: (scheme, host, port, path).
fn naive_parts(referer: &str) -> (String, String, Option<String>, String) {
    let (scheme, rest) = referer.split_once("://").expect("an allowed Referer has a scheme");
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, Some(p.to_owned())),
        None => (authority, None),
    };
    let host = host.to_ascii_lowercase();
    let host = host.strip_suffix('.').unwrap_or(&host).to_owned();
    let path_end = tail.find(['?', '#']).unwrap_or(tail.len());
    let path = if tail.starts_with('/') {
        tail[..path_end].to_owned()
    } else {
        "/".to_owned()
    };
    (scheme.to_ascii_lowercase(), host, port, path)
}

fn covers(host: &str, entry: &str) -> bool {
    host == entry || host.ends_with(&format!(".{entry}"))
}

fn check_shape(referer: &str) {
    assert!(!referer.is_empty() && referer.len() <= MAX_REFERER_LEN);
    assert!(
        referer.bytes().all(|b| b.is_ascii_graphic() && b != b'\\'),
        "{referer:?}"
    );
    let lower = referer.to_ascii_lowercase();
    assert!(
        lower.starts_with("http://") || lower.starts_with("https://"),
        "{referer:?}"
    );
    let (_, host, _, _) = naive_parts(referer);
    assert!(!host.contains(['@', '%', '[', '*', ',']), "{referer:?}");
}

fn no_dot_segments(path: &str) -> bool {
    path.split('/').all(|s| {
        let s = s.to_ascii_lowercase().replace("%2e", ".");
        s != "." && s != ".."
    })
}

fn check_echo(d: &Decision<'_>, origin: Option<&str>) {
    match d.allow_origin() {
        None | Some(AllowOrigin::Any) => {}
        Some(AllowOrigin::Origin(o)) => {
            assert!(d.is_allowed(), "a denial echoed {o:?}");
            assert_eq!(Some(o), origin);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut parts = rest.splitn(3, |&b| b == 0);
    let referer = parts.next().map(String::from_utf8_lossy);
    let origin = parts.next().map(String::from_utf8_lossy);
    let token_json = parts.next();
    let scope = if mode & 1 == 0 {
        TokenScope::StylesRead
    } else {
        TokenScope::MapRead
    };
    let fallback = mode & 2 != 0;
    let mut request = TokenRequest::new(scope).with_origin_fallback(fallback);
    if let Some(r) = &referer {
        request = request.with_referer(r.as_ref());
    }
    if let Some(o) = &origin {
        request = request.with_origin(o.as_ref());
    }
    let t = tokens();

    let d = evaluate_token(&t.open, &request);
    assert_eq!(d.allow_origin(), Some(AllowOrigin::Any));
    assert_eq!(d.is_allowed(), scope == TokenScope::StylesRead);

    for token in [&t.host, &t.path, &t.port, &t.mixed] {
        let d = evaluate_token(token, &request);
        check_echo(&d, origin.as_deref());
        assert_eq!(d.vary().header_value(), Some("Origin, Referer"));
        if d.denial() == Some(Denial::ScopeMissing) || d.is_allowed() {
            // The Referer (or Origin) rule passed: the header it used is sound.
            let used = match referer.as_deref().filter(|r| !r.is_empty()) {
                Some(r) => r,
                None => {
                    assert!(fallback, "passed the URL rule with no Referer and no fallback");
                    let o = origin.as_deref().expect("fallback passed without an Origin");
                    // An Origin has no path, query or fragment.
                    assert!(
                        o.split_once("://").is_some_and(|(_, a)| !a.contains(['/', '?', '#'])),
                        "{o:?}"
                    );
                    o
                }
            };
            check_shape(used);
            let (scheme, host, port, path) = naive_parts(used);
            if std::ptr::eq(token, &t.host) {
                assert!(covers(&host, "example.com"), "{used:?}");
            } else if std::ptr::eq(token, &t.path) {
                assert!(covers(&host, "example.com") && scheme == "https", "{used:?}");
                // No port in the entry: any port (`https://example.com:80/maps` too).
                assert!(path == "/maps" || path.starts_with("/maps/"), "{used:?}");
                assert!(no_dot_segments(&path), "{used:?}");
            } else if std::ptr::eq(token, &t.port) {
                assert!(covers(&host, "localhost") && scheme == "http", "{used:?}");
                // `03000` is port 3000 to URL parsers too.
                assert_eq!(port.and_then(|p| p.parse::<u32>().ok()), Some(3000), "{used:?}");
            }
        } else {
            assert_eq!(d.allow_origin(), None);
        }
        // A fragment never changes a decision.
        if let Some(r) = referer
            .as_deref()
            .filter(|r| !r.is_empty() && !r.contains('#') && r.len() < MAX_REFERER_LEN - 2)
        {
            let with_fragment = format!("{r}#f");
            let other = request.clone().with_referer(with_fragment.as_str());
            assert_eq!(evaluate_token(token, &other).denial(), d.denial(), "{r:?}");
        }
    }

    if let Some(json) = token_json {
        if let Ok(token) = serde_json::from_slice::<TokenPolicy>(json) {
            let now = keypolicy::token::Timestamp::from_unix_seconds(i64::from(mode) * 1_000_000_000);
            let request = match now {
                Some(now) => request.clone().with_now(now),
                None => request.clone(),
            };
            let d = evaluate_token(&token, &request);
            check_echo(&d, origin.as_deref());
            match d.denial() {
                None => {}
                Some(Denial::TokenExpired) => assert!(token.expires().is_some()),
                Some(Denial::RefererRequired | Denial::RefererNotAllowed) => assert!(token.is_url_restricted()),
                Some(Denial::ScopeMissing) => assert!(!token.scopes().contains(scope)),
                Some(other) => panic!("token evaluation returned a key denial {other:?}"),
            }
            if token.is_url_restricted() {
                assert_eq!(d.vary().header_value(), Some("Origin, Referer"));
            } else {
                assert_eq!(d.allow_origin(), Some(AllowOrigin::Any));
            }
            let again: TokenPolicy =
                serde_json::from_str(&serde_json::to_string(&token).expect("serializes")).expect("parses back");
            assert_eq!(evaluate_token(&again, &request), d);
        }
    }
});
