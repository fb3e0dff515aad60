//! Property tests of the access-token rule invariants (issue 5, part 1,
//! token side), against the contract of issue 3.
//!
//! Token policies and requests come from `common::token`: `pk`/`sk`/`tk`
//! usage, scopes valid for the usage, `allowedUrls` with and without scheme,
//! port and path, IDN and upper-case hosts, expiries; Referers derived from
//! the token's own entries and mutated toward near-misses (scheme flips,
//! ports, subdomains added and removed, prefix and suffix attacks, path
//! prefix/suffix/case changes, dot segments, `%2F`, query and fragment,
//! trailing dots, case, userinfo, Unicode hosts). Each property is its own
//! test. Case counts keep the file well under a minute; `PROPTEST_CASES`
//! overrides them (see `docs/reliability.md`).

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
use keypolicy::token::{TokenScope, TokenUsage};
use keypolicy::{evaluate_token, AllowOrigin, Denial, TokenPolicy, TokenRequest};
use proptest::prelude::*;
use proptest::sample::select;

/// Requests evaluated per generated token.
const REQUESTS: usize = 8;

/// A restricted token with one entry, and parts of a Referer that the entry
/// allows (derived, unmutated).
fn single_entry_and_match() -> impl Strategy<Value = (UrlSpec, TokenPolicy, RefParts)> {
    url_spec().prop_flat_map(|spec| {
        let token = TokenPolicy::builder(TokenUsage::Public)
            .scope(TokenScope::StylesRead)
            .allowed_urls([spec.text()])
            .build()
            .unwrap();
        let entry = token.allowed_urls()[0].clone();
        (
            Just(spec),
            Just(token),
            any::<u32>().prop_map(move |pick| RefParts::from_entry(&entry, pick)),
        )
    })
}

fn decide(token: &TokenPolicy, referer: &str) -> Option<Denial> {
    evaluate_token(token, &TokenRequest::new(TokenScope::StylesRead).with_referer(referer)).denial()
}

/// A restricted token and parts of Referers derived (and mutated) from it.
fn restricted_and_parts() -> impl Strategy<Value = (TokenSpec, Vec<RefParts>)> {
    restricted_token_spec().prop_flat_map(|spec| {
        let token = spec.build();
        (Just(spec), prop::collection::vec(derived_parts(&token), REQUESTS))
    })
}

/// `styles:read` requests from a Referer, on a token that has `styles:read`
/// (a copy of `spec` with the scope added), so only the URL rule decides.
fn url_token(spec: &TokenSpec) -> TokenPolicy {
    let mut spec = spec.clone();
    spec.scopes.push(TokenScope::StylesRead);
    spec.build()
}

proptest! {
    #![proptest_config(cases(512))]

    /// Tokens without `allowedUrls` work from any URL, and with no Referer
    /// at all: the Referer and Origin never change their decision, and they
    /// always answer `Access-Control-Allow-Origin: *` with no `Vary`.
    #[test]
    fn unrestricted_tokens_ignore_the_referer(
        spec in token_spec().prop_filter("unrestricted", |t| t.urls.is_empty()),
        referer in prop_oneof![any::<String>(), select(ODD_REFERERS).prop_map(str::to_owned), "https?://[ -~]{0,30}"],
        origin in prop::option::of(any::<String>()),
        scope in select(TokenScope::ALL.to_vec()),
        now in -7200i64..7200,
        fallback in any::<bool>(),
    ) {
        let token = spec.build();
        let bare = TokenRequest::new(scope).with_now(ts(T0 + now));
        let expected = Outcome::of(&evaluate_token(&token, &bare));
        let mut request = bare.clone().with_referer(referer.as_str()).with_origin_fallback(fallback);
        if let Some(o) = &origin {
            request = request.with_origin(o.as_str());
        }
        let d = evaluate_token(&token, &request);
        prop_assert_eq!(Outcome::of(&d), expected);
        prop_assert!(!url_denied(&d));
        prop_assert_eq!(d.allow_origin(), Some(AllowOrigin::Any));
        prop_assert_eq!(d.vary().header_value(), None);
    }

    /// Subdomain closure: whatever passes the URL rule from `host` also
    /// passes from `x.host` with the same scheme, port and path. The label
    /// never holds `--`, so it is never an `xn--` punycode label (a random
    /// one is invalid IDNA and rightly refused: see
    /// `token_regressions::invalid_punycode_subdomains_of_an_allowed_host_are_refused`).
    #[test]
    fn subdomains_of_an_allowed_host_are_allowed((spec, parts) in restricted_and_parts(), label in "[a-z0-9]{1,4}(-[a-z0-9]{1,4})?") {
        let token = url_token(&spec);
        for p in parts {
            let referer = p.render();
            if decide(&token, &referer).is_none() {
                let mut sub = p.clone();
                sub.host = format!("{label}.{}", p.host);
                prop_assert_eq!(decide(&token, &sub.render()), None, "{} allowed, {} not", referer, sub.render());
            }
        }
    }

    /// Sub-path closure: a path allowed on a path-restricted entry allows
    /// its sub-paths; the entry's path with text glued on (`/mapsq`) is
    /// never allowed by that entry.
    #[test]
    fn sub_paths_are_allowed_and_glued_paths_are_not(
        (spec, token, parts) in single_entry_and_match(),
        segment in "[a-zA-Z0-9_-]{1,6}",
    ) {
        let referer = parts.render();
        prop_assert_eq!(decide(&token, &referer), None, "{:?}: derived {}", spec, referer);
        let mut deeper = parts.clone();
        deeper.path = format!("{}/{segment}", parts.path.trim_end_matches('/'));
        prop_assert_eq!(decide(&token, &deeper.render()), None, "{:?}: {}", spec, deeper.render());
        if let Some(path) = token.allowed_urls()[0].path() {
            let mut glued = parts.clone();
            glued.path = format!("{path}{segment}");
            prop_assert_eq!(decide(&token, &glued.render()), Some(Denial::RefererNotAllowed), "{:?}: {}", spec, glued.render());
        }
    }

    /// Scheme rule: an entry naming a scheme never allows the other one; an
    /// entry naming none decides `http` and `https` alike (the port written
    /// out, so the default port does not change with the scheme).
    #[test]
    fn entry_schemes_are_enforced((spec, token, parts) in single_entry_and_match()) {
        let entry = &token.allowed_urls()[0];
        let mut flipped = parts.clone();
        flipped.port = Some(parts.port.clone().unwrap_or_else(|| default_port(&parts.scheme).to_string()));
        let same = flipped.render();
        flipped.mutate(Mutation::SchemeFlip);
        let other = flipped.render();
        match entry.scheme() {
            Some(_) => prop_assert_eq!(decide(&token, &other), Some(Denial::RefererNotAllowed), "{:?}: {}", spec, other),
            None => prop_assert_eq!(decide(&token, &other), decide(&token, &same), "{:?}: {} vs {}", spec, other, same),
        }
    }

    /// Port rule: default ports are equivalent to no port on any token and
    /// any derived Referer; an entry naming a port refuses every other port.
    #[test]
    fn default_ports_are_equivalent_and_named_ports_enforced(
        (spec, parts) in restricted_and_parts(),
        (single, token, matching) in single_entry_and_match(),
    ) {
        let url = url_token(&spec);
        for p in parts {
            if p.port.is_none() && !p.host.contains('@') {
                let mut explicit = p.clone();
                explicit.mutate(Mutation::ExplicitDefaultPort);
                prop_assert_eq!(decide(&url, &p.render()), decide(&url, &explicit.render()), "{}", explicit.render());
            }
        }
        if let Some(port) = token.allowed_urls()[0].port() {
            let mut other = matching.clone();
            other.port = Some(if port == 8081 { 8082 } else { 8081 }.to_string());
            prop_assert_eq!(decide(&token, &other.render()), Some(Denial::RefererNotAllowed), "{:?}", single);
        }
    }

    /// Query and fragment never change a decision, even when they hold a
    /// path, `..` or `%2F` (the whole decision: reason and CORS headers).
    #[test]
    fn query_and_fragment_never_change_a_decision(
        (spec, reqs) in token_and_requests(REQUESTS),
        tail in select(&["?q=1", "#x", "?a=/maps/../admin#frag", "#/maps", "?", "#", "?%2F..%2F", "?x#y?z"][..]),
    ) {
        let token = spec.build();
        for r in &reqs {
            let Some(referer) = r.referer.as_deref().filter(|x| !x.contains(['?', '#']) && x.contains("://")) else { continue };
            let longer = format!("{referer}{tail}");
            let mut other = r.clone();
            other.referer = Some(longer.clone());
            prop_assert_eq!(eval(&token, r), eval(&token, &other), "{} vs {}", referer, longer);
        }
    }

    /// Monotonicity on non-empty lists: appending an allowed URL to a
    /// non-empty `allowedUrls` never turns an allow into a deny, and only
    /// the URL rule's outcome can change.
    #[test]
    fn adding_an_allowed_url_never_denies_more(
        (spec, reqs) in restricted_token_spec().prop_flat_map(|s| { let t = s.build(); (Just(s), prop::collection::vec(request_for(&t), REQUESTS)) }),
        extra in url_spec(),
    ) {
        let before = spec.build();
        let mut bigger = spec.clone();
        bigger.urls.push(extra);
        let after = bigger.build();
        for r in &reqs {
            let (a, b) = (eval(&before, r), eval(&after, r));
            prop_assert!(a.denial.is_some() || b.denial.is_none(), "{:?}: {:?} -> {:?}", r, a, b);
            if !matches!(a.denial, Some(Denial::RefererRequired | Denial::RefererNotAllowed)) {
                prop_assert_eq!(a.denial, b.denial, "{:?}", r);
            }
        }
    }

    /// Monotonicity of scopes: adding a scope (valid for the usage) never
    /// turns an allow into a deny, and only `scope_missing` can go away.
    #[test]
    fn adding_a_scope_never_denies_more((spec, reqs) in token_and_requests(REQUESTS), pick in any::<prop::sample::Index>()) {
        let pool = if spec.usage == TokenUsage::Public { public_scopes() } else { TokenScope::ALL.to_vec() };
        let extra = *pick.get(&pool);
        let before = spec.build();
        let mut bigger = spec.clone();
        bigger.scopes.push(extra);
        let after = bigger.build();
        for r in &reqs {
            let (a, b) = (eval(&before, r), eval(&after, r));
            prop_assert!(a.denial.is_some() || b.denial.is_none(), "{:?}: {:?} -> {:?}", r, a, b);
            if a.denial != Some(Denial::ScopeMissing) {
                prop_assert_eq!(a, b, "{:?}", r);
            } else if r.scope == extra {
                prop_assert_ne!(b.denial, Some(Denial::ScopeMissing));
            }
        }
    }

    /// Order and duplicates of `allowedUrls` and `scopes` never change a
    /// decision (reason and CORS headers).
    #[test]
    fn order_and_duplicates_never_matter((spec, reqs) in token_and_requests(REQUESTS), seed in any::<u64>()) {
        let mut shuffled = spec.clone();
        let n = shuffled.urls.len();
        if n > 0 {
            shuffled.urls.rotate_left((seed % n as u64) as usize);
            shuffled.urls.reverse();
            let dup = shuffled.urls[(seed as usize / 7) % n].clone();
            shuffled.urls.push(dup);
        }
        shuffled.scopes.reverse();
        if let Some(&s) = shuffled.scopes.first() {
            shuffled.scopes.push(s);
        }
        let (a, b) = (spec.build(), shuffled.build());
        for r in &reqs {
            prop_assert_eq!(eval(&a, r), eval(&b, r), "{:?}", r);
        }
    }

    /// Scope subsets: once expiry and the URL rule pass, a request is
    /// `scope_missing` exactly when its scope is not on the token; and
    /// `scope_missing` never comes for a scope the token holds.
    #[test]
    fn scope_missing_iff_the_scope_is_not_on_the_token((spec, reqs) in token_and_requests(REQUESTS)) {
        let token = spec.build();
        for r in &reqs {
            let request = r.request();
            let d = evaluate_token(&token, &request);
            let held = spec.scopes.contains(&r.scope);
            prop_assert_eq!(token.scopes().contains(r.scope), held);
            if !url_denied(&d) && d.denial() != Some(Denial::TokenExpired) {
                prop_assert_eq!(d.denial() == Some(Denial::ScopeMissing), !held, "{:?}: {:?}", r, d);
                prop_assert_eq!(d.is_allowed(), held);
            }
        }
    }

    /// Expiry: a `tk` token is allowed at any `now < expires` (with its
    /// scope) and denied `token_expired` (401, `*`) at any `now >= expires`,
    /// whatever the scope and headers; without `now` it fails closed.
    #[test]
    fn temporary_tokens_expire_exactly_at_expires(
        scopes in scopes_for(TokenUsage::Temporary).prop_filter("non-empty", |s| !s.is_empty()),
        expires in -3600i64..3600,
        before in 1i64..100_000,
        after in 0i64..100_000,
        referer in prop::option::of(any::<String>()),
        pick in any::<prop::sample::Index>(),
    ) {
        let spec = TokenSpec { usage: TokenUsage::Temporary, scopes: scopes.clone(), urls: vec![], expires: Some(expires), default: false };
        let token = spec.build();
        let scope = *pick.get(&scopes);
        let at = |now: Option<i64>, scope: TokenScope| {
            let r = ReqSpec { referer: referer.clone(), origin: None, scope, now, fallback: false };
            eval(&token, &r)
        };
        prop_assert_eq!(at(Some(expires - before), scope).denial, None);
        for now in [Some(expires), Some(expires + after), None] {
            for s in [scope, TokenScope::AtlasRead] {
                let d = at(now, s);
                prop_assert_eq!(d.denial, Some(Denial::TokenExpired), "now {:?}", now);
                prop_assert_eq!(d.denial.map(Denial::status), Some(401));
                prop_assert_eq!(d.allow_origin.as_deref(), Some("*"));
            }
        }
    }

    /// Denials only come from a rule that applies: `token_expired` only for
    /// `tk` tokens at or after `expires`; `referer_*` only for URL-restricted
    /// tokens; `scope_missing` only for a scope not on the token; never an
    /// API-key reason. A denial never echoes the Origin, and an echoed
    /// Origin is exactly the request's.
    #[test]
    fn denials_only_come_from_applicable_rules((spec, reqs) in token_and_requests(REQUESTS)) {
        let token = spec.build();
        for r in &reqs {
            let request = r.request();
            let d = evaluate_token(&token, &request);
            match d.denial() {
                None => {}
                Some(Denial::TokenExpired) => {
                    prop_assert_eq!(spec.usage, TokenUsage::Temporary);
                    prop_assert!(r.now.is_none_or(|n| n >= spec.expires.unwrap()));
                    prop_assert_eq!(d.status(), 401);
                }
                Some(Denial::RefererRequired) => {
                    prop_assert!(token.is_url_restricted());
                    let origin_used = r.fallback && r.origin.as_deref().is_some_and(|o| !o.is_empty());
                    prop_assert!(r.referer.as_deref().is_none_or(str::is_empty) && !origin_used, "{:?}", r);
                }
                Some(Denial::RefererNotAllowed) => prop_assert!(token.is_url_restricted()),
                Some(Denial::ScopeMissing) => prop_assert!(!token.scopes().contains(r.scope)),
                Some(other) => prop_assert!(false, "token evaluation returned {:?}", other),
            }
            if let Some(denial) = d.denial() {
                prop_assert_eq!(d.status(), denial.status());
            }
            match d.allow_origin() {
                Some(AllowOrigin::Origin(o)) => {
                    prop_assert!(d.is_allowed());
                    prop_assert_eq!(Some(o), r.origin.as_deref());
                }
                Some(AllowOrigin::Any) => prop_assert!(!token.is_url_restricted() || d.denial() == Some(Denial::TokenExpired)),
                None => prop_assert!(token.is_url_restricted()),
            }
        }
    }

    /// JSON round trip: a token written as Tokens API JSON decides like the
    /// builder's; serializing a token and reading it back gives the same
    /// decisions; requests read from JSON decide like built ones.
    #[test]
    fn json_round_trip_keeps_decisions((spec, reqs) in token_and_requests(REQUESTS)) {
        let built = spec.build();
        let from_json: TokenPolicy = serde_json::from_str(&spec.json()).unwrap();
        let written = serde_json::to_string(&built).unwrap();
        let reread: TokenPolicy = serde_json::from_str(&written).unwrap();
        prop_assert_eq!(serde_json::to_string(&reread).unwrap(), written.clone());
        for r in &reqs {
            let d = eval(&built, r);
            prop_assert_eq!(eval(&from_json, r), d.clone(), "{:?}", r);
            prop_assert_eq!(eval(&reread, r), d.clone(), "{} {:?}", written, r);
            let json = r.json();
            let parsed: TokenRequest<'_> = serde_json::from_str(&json).unwrap();
            prop_assert_eq!(Outcome::of(&evaluate_token(&built, &parsed)), d, "{}", json);
        }
    }

    /// Any RFC 3339 timestamp, with any offset and near the ends of the
    /// four-digit years, parses without panicking, and what parses is
    /// displayed as RFC 3339 in UTC that parses back to the same instant.
    #[test]
    fn timestamps_parse_without_panic_and_round_trip(
        year in select(&["0000", "0001", "1970", "2026", "9998", "9999"][..]),
        rest in prop_oneof![
            "-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?",
            // The first and last hours of a year, where an offset crosses it.
            "-12-31T(1[2-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?",
            "-01-01T(0[0-9]|1[01]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?",
        ],
        offset in "Z|z|[+-]([01][0-9]|2[0-3]):[0-5][0-9]",
    ) {
        let text = format!("{year}{rest}{offset}");
        if let Ok(t) = text.parse::<keypolicy::token::Timestamp>() {
            let shown = t.to_string();
            prop_assert!(shown.ends_with('Z') && shown.len() >= 20, "{} -> {}", text, shown);
            prop_assert_eq!(shown.parse::<keypolicy::token::Timestamp>(), Ok(t), "{} -> {}", text, shown);
            prop_assert_eq!(keypolicy::token::Timestamp::from_unix_seconds(t.unix_seconds()).map(|s| s.unix_seconds()), Some(t.unix_seconds()));
        }
    }

    /// No input panics the token parsers or `evaluate_token` (CI's guard
    /// for what the `token_json` and `referer_eval` fuzz targets look for):
    /// arbitrary strings as entries, usages, scopes, timestamps, token and
    /// request JSON (also spliced into valid JSON), Referers and Origins.
    #[test]
    fn no_input_panics_the_token_parsers(
        text in prop_oneof![
            any::<String>(),
            "[ -~]{0,48}",
            "(https?://)?[a-zA-Z0-9.\\-_%@:\\[\\]\u{fc}\u{3002}]{0,32}(/[ -~]{0,12})?",
            "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{0,12})?(Z|[+-][0-9]{2}:[0-9]{2})",
        ],
        origin in prop::option::of("[ -~]{0,40}"),
        fallback in any::<bool>(),
        (spec, _) in token_and_requests(0),
    ) {
        let _ = text.parse::<keypolicy::token::AllowedUrl>().map(|u| u.to_string());
        let _ = text.parse::<TokenUsage>();
        let _ = text.parse::<TokenScope>();
        let _ = text.parse::<keypolicy::token::Timestamp>().map(|t| t.to_string());
        let _ = serde_json::from_str::<TokenPolicy>(&text);
        let _ = serde_json::from_str::<TokenRequest<'_>>(&text);
        let quoted = serde_json::to_string(&text).unwrap();
        for json in [
            format!(r#"{{"usage": "pk", "scopes": [], "allowedUrls": [{quoted}]}}"#),
            format!(r#"{{"usage": "tk", "scopes": ["map:read"], "expires": {quoted}}}"#),
            format!(r#"{{"usage": {quoted}, "scopes": [{quoted}]}}"#),
            format!(r#"{{"scope": "styles:read", "referer": {quoted}, "now": {quoted}}}"#),
        ] {
            let _ = serde_json::from_str::<TokenPolicy>(&json);
            let _ = serde_json::from_str::<TokenRequest<'_>>(&json);
        }
        let token = spec.build();
        let mut request = TokenRequest::new(TokenScope::StylesRead).with_referer(text.as_str()).with_origin_fallback(fallback);
        if let Some(o) = &origin {
            request = request.with_origin(o.as_str());
        }
        let d = evaluate_token(&token, &request);
        if let Some(AllowOrigin::Origin(o)) = d.allow_origin() {
            prop_assert!(d.is_allowed());
            prop_assert_eq!(Some(o), origin.as_deref());
        }
        let no_referer = TokenRequest::new(TokenScope::StylesRead).with_origin(text.as_str()).with_origin_fallback(true);
        let _ = evaluate_token(&token, &no_referer);
    }
}
