//! `evaluate_token`: the pure decision function for access tokens.

use crate::decision::{AllowOrigin, Decision, Denial, Vary};
use crate::syntax::referer::{parse_referer, Referer};
use crate::token::policy::TokenPolicy;
use crate::token::request::TokenRequest;
use crate::token::urls::{AllowedUrls, RefererMatch};

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
            Some(origin) => Referer::from_origin_header(origin).ok_or(Denial::RefererNotAllowed)?,
            None => return Err(Denial::RefererRequired),
        },
        None => return Err(Denial::RefererRequired),
    };
    match urls.match_referer(&target, origin_header) {
        RefererMatch::NotAllowed => Err(Denial::RefererNotAllowed),
        RefererMatch::Allowed => Ok(None),
        RefererMatch::AllowedWithOrigin => Ok(origin_header),
    }
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

    /// The echo checks the Origin's IDNA like any other host: an Origin
    /// with an invalid punycode label under an allowed host is never
    /// echoed, though the Referer alone allows the request.
    #[test]
    fn echo_refuses_an_origin_with_invalid_punycode() {
        let t = token(&["example.com"]);
        let with_origin = |origin: &'static str| {
            TokenRequest::new(TokenScope::StylesRead)
                .with_referer("https://docs.example.com/")
                .with_origin(origin)
        };
        let r = with_origin("https://xn--mnchen-3ya.example.com");
        let valid = evaluate_token(&t, &r).allow_origin();
        assert_eq!(valid, Some(AllowOrigin::Origin("https://xn--mnchen-3ya.example.com")));
        let r = with_origin("https://xn--a.example.com");
        let d = evaluate_token(&t, &r);
        assert!(d.is_allowed());
        assert_eq!(d.allow_origin(), None);
    }
}
