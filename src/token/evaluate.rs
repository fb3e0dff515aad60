//! `evaluate_token`: the pure decision function for access tokens.

use crate::decision::{AllowOrigin, Decision, Denial, Vary};
use crate::syntax::host::{punycode_is_canonical, HostRef, LowerBuf};
use crate::syntax::origin::MAX_ORIGIN_LEN;
use crate::syntax::referer::{parse_referer, Referer};
use crate::token::policy::TokenPolicy;
use crate::token::request::TokenRequest;
use crate::token::urls::{has_dot_segment, AllowedUrl, AllowedUrls};

/// Decides whether `request` may be served under the access token `policy`.
///
/// Checks run in this order, and the first failure is the reason:
///
/// 1. **Expiry** (`tk` tokens): `expires` at or before `now` is
///    `token_expired` (401). A `tk` request without `now` fails closed
///    the same way; [`TokenRequest::check_against`] reports it as a
///    malformed request instead.
/// 2. **Referer** (tokens with `allowedUrls`): an absent or empty Referer
///    is `referer_required`; a Referer that is unusable (see
///    [`MAX_REFERER_LEN`](crate::token::MAX_REFERER_LEN) and the README's rules) or
///    matches no entry is `referer_not_allowed`. Tokens without
///    `allowedUrls` ignore the Referer, however malformed.
/// 3. **Scope**: the request's scope must be on the token, else
///    `scope_missing`. A token with no scopes serves nothing.
///
/// CORS: a token without `allowedUrls` answers `Access-Control-Allow-Origin:
/// *`, allowed or denied (its answer does not depend on who asks). A
/// URL-restricted token sends `Vary: Origin, Referer` and, when allowed,
/// echoes the request's Origin only if that Origin's scheme, host and port
/// also satisfy an entry that the Referer matched; otherwise it sends no
/// `Access-Control-Allow-Origin`.
///
/// **`origin_fallback`** (off by default): when the Referer is absent or
/// empty, the Origin header is judged instead, as a URL with path `/` — so
/// only entries without a path can match it. This helps pages whose
/// browsers send no Referer cross-origin (a `no-referrer` policy, some
/// Safari requests) but do send Origin on CORS requests. The trade-off:
/// such requests are allowed where the platform this mimics would refuse
/// them, and a page that chose to send no Referer is identified by its
/// origin anyway; an absent Origin is still `referer_required`, and an
/// unusable one (`null`, a path, …) `referer_not_allowed`. Neither header
/// authenticates anything: a non-browser client can send whatever it likes.
///
/// No I/O, no clock, no global state; no heap allocation unless a host has
/// a punycode (`xn--`) label that is not exactly an entry's host.
pub fn evaluate_token<'r>(policy: &TokenPolicy, request: &'r TokenRequest<'_>) -> Decision<'r> {
    if let Some(expires) = policy.expires {
        if request.now.is_none_or(|now| now >= expires) {
            return Decision::deny(Denial::TokenExpired, Some(AllowOrigin::Any), Vary::default());
        }
    }
    let (allow_origin, vary) = if policy.urls.is_empty() {
        (Some(AllowOrigin::Any), Vary::default())
    } else {
        let vary = Vary {
            origin: true,
            referer: true,
        };
        match check_referer(&policy.urls, request) {
            Ok(echo) => (echo.map(AllowOrigin::Origin), vary),
            Err(denial) => return Decision::deny(denial, None, vary),
        }
    };
    if !policy.scopes.contains(request.scope) {
        return Decision::deny(Denial::ScopeMissing, allow_origin, vary);
    }
    Decision::allow(allow_origin, vary)
}

/// The Referer rule. On success, returns the Origin to echo, if any.
fn check_referer<'r>(urls: &AllowedUrls, request: &'r TokenRequest<'_>) -> Result<Option<&'r str>, Denial> {
    let origin_header = request.origin.as_deref().filter(|o| !o.is_empty());
    let target = match request.referer.as_deref().filter(|r| !r.is_empty()) {
        Some(referer) => parse_referer(referer).ok_or(Denial::RefererNotAllowed)?,
        None if request.origin_fallback => match origin_header {
            Some(origin) => parse_usable_origin(origin).ok_or(Denial::RefererNotAllowed)?,
            None => return Err(Denial::RefererRequired),
        },
        None => return Err(Denial::RefererRequired),
    };
    match match_urls(urls, &target, origin_header) {
        Matched::No => Err(Denial::RefererNotAllowed),
        Matched::Yes => Ok(None),
        Matched::WithOrigin => Ok(origin_header),
    }
}

/// An `Origin` header as a browser serializes it (`scheme://host[:port]`,
/// http or https), as a [`Referer`] with path `/`. The Referer grammar is
/// the Origin grammar plus a path, query and fragment, so an Origin is a
/// usable Referer that ends with its authority (within the Origin cap).
fn parse_usable_origin(value: &str) -> Option<Referer<'_>> {
    if value.len() > MAX_ORIGIN_LEN {
        return None;
    }
    parse_referer(value).filter(|origin| origin.origin.len() == value.len())
}

enum Matched {
    No,
    /// The target matched an entry.
    Yes,
    /// ... and the Origin satisfies the scheme, host and port of one such entry.
    WithOrigin,
}

/// Matches `target` (a Referer, or an Origin as fallback) against the
/// entries, and the Origin header against the entries the target matched.
/// The Origin is parsed only once an entry has matched, and not at all
/// when it is the target's own `scheme://authority`, as it is for a page
/// calling from its own origin.
fn match_urls(urls: &AllowedUrls, target: &Referer<'_>, origin_header: Option<&str>) -> Matched {
    let HostRef::Domain(domain) = target.host else {
        // No entry is an IP address.
        return Matched::No;
    };
    let mut buf = LowerBuf::new();
    let Some(host) = buf.lower(domain.name) else {
        return Matched::No;
    };
    // Computed when first needed: only path-restricted entries look.
    let mut path_is_clean = None;
    let mut host_checked = false;
    let mut origin: Option<Option<Referer<'_>>> = None;
    let mut matched = Matched::No;
    for entry in urls.candidates(host) {
        if !entry.allows_origin(target.scheme, target.port) {
            continue;
        }
        if entry.path().is_some() {
            let clean =
                *path_is_clean.get_or_insert_with(|| !(target.path_may_have_dots && has_dot_segment(target.path)));
            if !entry.allows(target.scheme, target.port, target.path, clean) {
                continue;
            }
        }
        // Entry hosts were validated when built; a longer host with a
        // punycode label must be valid IDNA too.
        if domain.has_punycode && entry.host() != host && !host_checked {
            if !punycode_is_canonical(host) {
                return Matched::No;
            }
            host_checked = true;
        }
        matched = Matched::Yes;
        let Some(header) = origin_header else {
            return matched;
        };
        if header == target.origin {
            return Matched::WithOrigin;
        }
        let Some(origin) = origin.get_or_insert_with(|| parse_usable_origin(header)) else {
            // An unusable Origin is never echoed.
            return matched;
        };
        if origin_satisfies(entry, origin) {
            return Matched::WithOrigin;
        }
    }
    matched
}

/// Whether a parsed Origin satisfies the entry's host, scheme and port.
fn origin_satisfies(entry: &AllowedUrl, origin: &Referer<'_>) -> bool {
    let HostRef::Domain(domain) = origin.host else {
        return false;
    };
    let mut buf = LowerBuf::new();
    buf.lower(domain.name).is_some_and(|host| {
        entry.covers_host(host)
            && entry.allows_origin(origin.scheme, origin.port)
            && (!domain.has_punycode || host == entry.host() || punycode_is_canonical(host))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::policy::TokenUsage;
    use crate::token::scope::TokenScope;

    fn token(urls: &[&str]) -> TokenPolicy {
        TokenPolicy::builder(TokenUsage::Public)
            .scope(TokenScope::StylesRead)
            .allowed_urls(urls.iter().copied())
            .build()
            .unwrap()
    }

    fn decide(t: &TokenPolicy, referer: &str) -> Option<&'static str> {
        let r = TokenRequest::new(TokenScope::StylesRead).with_referer(referer);
        evaluate_token(t, &r).reason()
    }

    /// `parse_usable_origin` must accept exactly the http(s) Origins that
    /// the core's strict Origin parser accepts (IPv6 literals aside: no
    /// entry can match one).
    #[test]
    fn usable_origins_are_the_strict_parsers_web_origins() {
        for value in [
            "https://example.com",
            "HTTPS://EXAMPLE.COM:443",
            "http://localhost:3000",
            "https://example.com.",
            "http://127.1",
            "capacitor://localhost",
            "null",
            "",
            "example.com",
            "https://",
            "https://example.com/",
            "https://example.com?x",
            "https://example.com#x",
            "https://user@example.com",
            "https://exa\tmple.com",
            "https://example.com ",
            "https://example.com, https://evil.com",
            "https://münchen.de",
            "https://example.com%2eevil.net",
            "https://*.example.com",
            "https://.example.com",
            "https://example..com",
            "https://example.com:",
            "https://example.com:0",
            "https://example.com:65536",
            "https://example.com:80:80",
            "https://example.com:+80",
            "https:/example.com",
            "https://ex\\ample.com",
        ] {
            let strict = crate::syntax::origin::parse_origin(value).is_some_and(|o| o.is_web());
            assert_eq!(parse_usable_origin(value).is_some(), strict, "{value:?}");
        }
        let long = format!("https://{}.com", "a".repeat(MAX_ORIGIN_LEN));
        assert!(parse_usable_origin(&long).is_none());
        assert!(parse_usable_origin("http://[::1]:8080").is_none());
    }

    #[test]
    fn most_specific_entry_failing_does_not_hide_a_broader_one() {
        let t = token(&["http://docs.example.com", "https://example.com/maps"]);
        assert_eq!(decide(&t, "https://docs.example.com/maps/x"), None);
        assert_eq!(decide(&t, "http://docs.example.com/anything"), None);
        assert_eq!(
            decide(&t, "https://docs.example.com/other"),
            Some("referer_not_allowed")
        );
    }

    #[test]
    fn punycode_hosts_are_validated_unless_an_entry_holds_them() {
        let t = token(&["münchen.de", "example.com"]);
        assert_eq!(decide(&t, "https://xn--mnchen-3ya.de/"), None);
        assert_eq!(decide(&t, "https://karte.xn--mnchen-3ya.de/"), None);
        assert_eq!(decide(&t, "https://xn--mnchen-3ya.example.com/"), None);
        assert_eq!(decide(&t, "https://xn--zz.example.com/"), Some("referer_not_allowed"));
    }

    #[test]
    fn echo_needs_the_origin_to_satisfy_a_matched_entry() {
        let t = token(&["https://example.com/maps", "other.net"]);
        let r = TokenRequest::new(TokenScope::StylesRead)
            .with_referer("https://a.example.com/maps")
            .with_origin("https://other.net");
        let d = evaluate_token(&t, &r);
        assert!(d.is_allowed());
        assert_eq!(d.allow_origin(), None);
        let r = TokenRequest::new(TokenScope::StylesRead)
            .with_referer("https://a.example.com/maps")
            .with_origin("https://b.example.com");
        assert_eq!(
            evaluate_token(&t, &r).allow_origin(),
            Some(AllowOrigin::Origin("https://b.example.com"))
        );
    }
}
