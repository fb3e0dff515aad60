//! Property tests of the API-key rule invariants (issue 5, part 1).
//!
//! Policies and requests come from `common`: every key type; random scopes;
//! domain entries with IDN, `www.`, wildcard, IP and app-scheme forms;
//! tilesets including `user.*`; Origins derived from the policy's own
//! entries and mutated toward near-misses. Each property is its own test.
//! Case counts keep the file well under a minute; set `PROPTEST_CASES` for a
//! longer run (see `docs/reliability.md`).
//!
//! Token properties (URL restrictions, scope subsets, expiry) belong in a
//! separate `token` section once the token side exists.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a panic is a failed test"
)]

mod common;

use common::cases;
use common::key::*;
use keypolicy::key::{AllowedDomain, KeyScope, KeyType, Resource};
use keypolicy::{evaluate_key, AllowOrigin, Denial, KeyPolicy, KeyRequest};
use proptest::prelude::*;
use proptest::sample::select;

/// Requests evaluated per generated policy.
const REQUESTS: usize = 8;

fn is_origin_denial(d: Option<Denial>) -> bool {
    matches!(
        d,
        Some(Denial::OriginRequired | Denial::OriginInvalid | Denial::OriginNotAllowed)
    )
}

/// Any string at all as an Origin header, including regex-ish junk.
fn any_origin() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        any::<String>().prop_map(Some),
        "[a-zA-Z]{1,8}://[ -~]{0,40}".prop_map(Some),
        select(ODD_ORIGINS).prop_map(|s| Some(s.to_owned())),
    ]
}

fn any_request() -> impl Strategy<Value = RequestSpec> {
    (any_origin(), select(&RESOURCES[..]), prop::option::of(any::<String>())).prop_map(|(origin, resource, tileset)| {
        RequestSpec {
            origin,
            resource,
            tileset,
        }
    })
}

/// A policy whose `list` is non-empty, its requests, and one more entry.
fn nonempty<F, S>(pick: F, extra: S) -> impl Strategy<Value = (PolicySpec, Vec<RequestSpec>, S::Value)>
where
    F: Fn(&PolicySpec) -> bool + Clone + 'static,
    S: Strategy + Clone + 'static,
    S::Value: Clone,
{
    policy_and_requests(REQUESTS)
        .prop_filter("list must be non-empty", move |(p, _)| pick(p))
        .prop_flat_map(move |(p, r)| (Just(p), Just(r), extra.clone()))
}

// ---------------------------------------------------------------------------
// API keys
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(cases(2048))]

    /// Rule 1: no domains, tilesets, scopes and key type `any` allow every
    /// request, from browsers and others, whatever the Origin holds.
    #[test]
    fn unrestricted_keys_allow_everything(req in any_request()) {
        for policy in [KeyPolicy::unrestricted(), KeyPolicy::builder().key_type(KeyType::Any).build().unwrap()] {
            let request = req.request();
            let d = evaluate_key(&policy, &request);
            prop_assert!(d.is_allowed(), "{req:?}: {d:?}");
            prop_assert_eq!(d.allow_origin(), Some(AllowOrigin::Any));
            prop_assert_eq!(d.vary().header_value(), None);
        }
    }

    /// Rule 4: a policy with only `key_type: desktop|server` allows every
    /// request; the Origin header is not looked at.
    #[test]
    fn desktop_and_server_only_policies_allow_everything(req in any_request()) {
        for key_type in [KeyType::Desktop, KeyType::Server] {
            let policy = KeyPolicy::builder().key_type(key_type).build().unwrap();
            let request = req.request();
            let d = evaluate_key(&policy, &request);
            prop_assert!(d.is_allowed(), "{key_type}: {req:?}: {d:?}");
            prop_assert_eq!(d.allow_origin(), Some(AllowOrigin::Any));
        }
    }
}

proptest! {
    #![proptest_config(cases(512))]

    /// Monotonicity of `allowed_domains`, for NON-EMPTY lists: appending an
    /// entry to a non-empty list never turns an allow into a deny, and only
    /// the origin rule's outcome can change. (Equivalently: removing an
    /// entry from a list of two or more never turns a deny into an allow.
    /// Adding the FIRST entry switches the origin rule on, which is not
    /// monotone; see `first_entries_switch_restrictions_on`.)
    #[test]
    fn adding_a_domain_to_a_nonempty_list_never_denies_more(
        (p, reqs, extra) in nonempty(|p: &PolicySpec| !p.domains.is_empty(), domain_spec().boxed())
    ) {
        let before = p.build();
        let mut bigger = p.clone();
        bigger.domains.push(extra);
        let after = bigger.build();
        for r in &reqs {
            let req = r.request();
            let (a, b) = (evaluate_key(&before, &req), evaluate_key(&after, &req));
            prop_assert!(!a.is_allowed() || b.is_allowed(), "{r:?}: {a:?} -> {b:?}");
            if !is_origin_denial(a.denial()) {
                prop_assert_eq!(a.denial(), b.denial(), "{:?}", r);
            }
        }
    }

    /// Monotonicity of `allowed_tilesets` (non-empty lists), as above.
    #[test]
    fn adding_a_tileset_to_a_nonempty_list_never_denies_more(
        (p, reqs, extra) in nonempty(|p: &PolicySpec| !p.tilesets.is_empty(), tileset_entry().boxed())
    ) {
        let before = p.build();
        let mut bigger = p.clone();
        bigger.tilesets.push(extra);
        let after = bigger.build();
        for r in &reqs {
            let req = r.request();
            let (a, b) = (evaluate_key(&before, &req), evaluate_key(&after, &req));
            prop_assert!(!a.is_allowed() || b.is_allowed(), "{r:?}: {a:?} -> {b:?}");
            if a.denial() != Some(Denial::TilesetNotAllowed) {
                prop_assert_eq!(a.denial(), b.denial(), "{:?}", r);
            }
        }
    }

    /// Monotonicity of `scopes` (non-empty sets), as above.
    #[test]
    fn adding_a_scope_to_a_nonempty_set_never_denies_more(
        (p, reqs, extra) in nonempty(|p: &PolicySpec| !p.scopes.is_empty(), select(&SCOPES[..]))
    ) {
        let before = p.build();
        let mut bigger = p.clone();
        bigger.scopes.push(extra);
        let after = bigger.build();
        for r in &reqs {
            let req = r.request();
            let (a, b) = (evaluate_key(&before, &req), evaluate_key(&after, &req));
            prop_assert!(!a.is_allowed() || b.is_allowed(), "{r:?}: {a:?} -> {b:?}");
            if a.denial() != Some(Denial::ScopeMissing) {
                prop_assert_eq!(a.denial(), b.denial(), "{:?}", r);
            }
        }
    }

    /// Order and duplicates of list entries never change a decision (the
    /// whole decision: reason and CORS headers).
    #[test]
    fn order_and_duplicates_never_matter(
        (p, reqs, seed) in policy_and_requests(REQUESTS).prop_flat_map(|(p, r)| (Just(p), Just(r), any::<u64>()))
    ) {
        let mut q = p.clone();
        // Duplicate some entries (by seed bits), then shuffle every list.
        let dup = |n: usize, bit: u32| (seed >> (bit % 64)) & 1 == 1 && n > 0;
        if dup(q.domains.len(), 1) { let e = q.domains[0].clone(); q.domains.push(e); }
        if dup(q.tilesets.len(), 2) { let e = q.tilesets[q.tilesets.len() - 1].clone(); q.tilesets.push(e); }
        if dup(q.scopes.len(), 3) { let e = q.scopes[0]; q.scopes.push(e); }
        shuffle(&mut q.domains, seed);
        shuffle(&mut q.tilesets, seed.rotate_left(17));
        shuffle(&mut q.scopes, seed.rotate_left(33));
        let (a, b) = (p.build(), q.build());
        for r in &reqs {
            let req = r.request();
            prop_assert_eq!(evaluate_key(&a, &req), evaluate_key(&b, &req), "{:?} vs {:?}: {:?}", p, q, r);
        }
    }

    /// Equivalent spellings of every domain entry (case, `www.`, scheme,
    /// port, path, Unicode vs punycode, trailing dot) give identical
    /// decisions.
    #[test]
    fn equivalent_entry_spellings_decide_alike(
        (p, reqs, decos, flips) in policy_and_requests(REQUESTS).prop_flat_map(|(p, r)| {
            let n = p.domains.len();
            (Just(p), Just(r), prop::collection::vec(decoration(), n), prop::collection::vec(any::<(bool, bool)>(), n))
        })
    ) {
        let mut q = p.clone();
        for ((d, deco), (www, unicode)) in q.domains.iter_mut().zip(&decos).zip(&flips) {
            *d = respell(d, deco, *www, *unicode);
        }
        let (a, b) = (p.build(), q.build());
        prop_assert_eq!(a.allowed_domains(), b.allowed_domains());
        for r in &reqs {
            let req = r.request();
            prop_assert_eq!(evaluate_key(&a, &req), evaluate_key(&b, &req), "{:?} vs {:?}: {:?}", p, q, r);
        }
    }

    /// Equivalent spellings of an Origin (case, explicit default port,
    /// http vs https, trailing dot, and `www.` when the list has no
    /// wildcard) give the same allow/deny and reason.
    #[test]
    fn equivalent_origin_spellings_decide_alike(
        (p, entry, variant, mask) in policy_spec()
            .prop_filter("needs domains", |p| !p.domains.is_empty())
            .prop_flat_map(|p| { let e = select(p.domains.clone()); (Just(p), e, 0u8..5, any::<u64>()) })
    ) {
        prop_assume!(entry.kind != EntryKind::App);
        let policy = p.build();
        let plain = origin_from(&entry, Mutation::Same, true, None);
        let has_wildcard = p.domains.iter().any(|d| d.kind == EntryKind::Wildcard);
        let other = match variant {
            0 => origin_from(&entry, Mutation::Case(mask), true, None),
            1 => origin_from(&entry, Mutation::Same, true, Some(443)),
            2 => origin_from(&entry, Mutation::Same, false, Some(80)),
            3 if entry.kind != EntryKind::Ip => origin_from(&entry, Mutation::TrailingDot, true, None),
            4 if !has_wildcard && entry.kind == EntryKind::Domain && !entry.host.starts_with("www.")
                && entry.host.contains('.') => origin_from(&entry, Mutation::AddWww, false, None),
            _ => origin_from(&entry, Mutation::Case(mask), false, None),
        };
        for resource in RESOURCES {
            let a = evaluate_key(&policy, &KeyRequest::new(resource).with_origin(plain.as_str())).denial();
            let b = evaluate_key(&policy, &KeyRequest::new(resource).with_origin(other.as_str())).denial();
            prop_assert_eq!(a, b, "{} vs {} under {:?}", plain, other, p);
        }
    }

    /// Normalizing a normalized entry is a no-op: an entry's `Display` form
    /// parses back to the same entry, and displays the same.
    #[test]
    fn normalized_entries_reparse_to_themselves(spec in domain_spec()) {
        let entry: AllowedDomain = spec.text.parse().unwrap();
        let shown = entry.to_string();
        let again: AllowedDomain = shown.parse().unwrap();
        prop_assert_eq!(&again, &entry, "{} -> {}", spec.text, shown);
        prop_assert_eq!(again.to_string(), shown);
    }

    /// With domains set, an Origin that an entry covers passes the origin
    /// rule, and one that no entry covers is denied by it. "Covered" is
    /// checked two ways: the allowlist is the union of its entries (a
    /// one-entry policy per entry), and near-miss origins built by suffix
    /// and prefix attacks are never covered unless a wildcard names them.
    #[test]
    fn covered_origins_pass_and_uncovered_are_denied(
        (p, entry, m, https) in policy_spec()
            .prop_filter("needs domains", |p| !p.domains.is_empty())
            .prop_flat_map(|p| { let e = select(p.domains.clone()); (Just(p), e, mutation(), any::<bool>()) })
    ) {
        let policy = p.build();
        let origin = origin_from(&entry, m, https, None);
        for resource in RESOURCES {
            let req = KeyRequest::new(resource).with_origin(origin.as_str());
            let d = evaluate_key(&policy, &req);
            let singles: Vec<Option<Denial>> = p.domains.iter().map(|e| {
                let one = KeyPolicy::builder().allowed_domains([e.text.as_str()]).build().unwrap();
                evaluate_key(&one, &req).denial()
            }).collect();
            let covered = singles.iter().any(Option::is_none);
            if covered {
                prop_assert!(!is_origin_denial(d.denial()), "{origin} covered but {d:?} under {p:?}");
            } else if singles.contains(&Some(Denial::OriginInvalid)) {
                prop_assert_eq!(d.denial(), Some(Denial::OriginInvalid), "{}", origin);
            } else {
                prop_assert_eq!(d.denial(), Some(Denial::OriginNotAllowed), "{} under {:?}", origin, p);
            }
            // The origin a browser sends for an entry passes its own rule.
            if matches!(m, Mutation::Same) {
                prop_assert!(!is_origin_denial(d.denial()), "{origin} for {entry:?}: {d:?}");
            }
            // Suffix attacks are never covered; prefix attacks only by a
            // wildcard whose suffix the attacked host ends with.
            let host = origin.split_once("://").unwrap().1.to_owned();
            let wildcard_covers = p.domains.iter().any(|e| {
                e.kind == EntryKind::Wildcard && host.ends_with(&format!(".{}", to_ascii_host(&e.host)))
            });
            let attack = matches!(m, Mutation::SuffixAttack)
                || (matches!(m, Mutation::PrefixAttack) && entry.kind != EntryKind::Ip && !wildcard_covers);
            if attack {
                prop_assert!(
                    matches!(d.denial(), Some(Denial::OriginNotAllowed | Denial::OriginInvalid)),
                    "{origin}: {d:?} under {p:?}"
                );
            }
        }
    }

    /// Denials only come from a rule that applies: origin reasons only
    /// with an origin rule (`origin_not_allowed` only with domains),
    /// `scope_missing` only with scopes that lack the resource's scope,
    /// `tileset_not_allowed` only with tilesets, never a token reason, and
    /// always 403. A denial never echoes the Origin; an allow under an
    /// origin rule echoes it exactly, with `Vary: Origin`.
    #[test]
    fn denials_only_come_from_rules_that_apply((p, reqs) in policy_and_requests(REQUESTS)) {
        let policy = p.build();
        let origin_rule = !p.domains.is_empty() || p.key_type == KeyType::Web;
        for r in &reqs {
            let req = r.request();
            let d = evaluate_key(&policy, &req);
            match d.denial() {
                None => {
                    let expected = if origin_rule {
                        AllowOrigin::Origin(r.origin.as_deref().unwrap())
                    } else {
                        AllowOrigin::Any
                    };
                    prop_assert_eq!(d.allow_origin(), Some(expected));
                    prop_assert_eq!(d.status(), 200);
                }
                Some(denial) => {
                    prop_assert_eq!(d.status(), 403);
                    prop_assert!(!matches!(d.allow_origin(), Some(AllowOrigin::Origin(_))));
                    match denial {
                        Denial::OriginRequired | Denial::OriginInvalid => prop_assert!(origin_rule),
                        Denial::OriginNotAllowed => prop_assert!(!p.domains.is_empty()),
                        Denial::ScopeMissing => prop_assert!(
                            !p.scopes.is_empty() && !p.scopes.contains(&r.resource.required_scope())
                        ),
                        Denial::TilesetNotAllowed => prop_assert!(!p.tilesets.is_empty()),
                        other => prop_assert!(false, "token denial {:?} for an API key", other),
                    }
                    if denial == Denial::OriginRequired {
                        prop_assert!(r.origin.as_deref().unwrap_or_default().is_empty());
                    }
                }
            }
            prop_assert_eq!(d.vary().origin, origin_rule);
            prop_assert!(!d.vary().referer);
        }
    }

    /// JSON round trip: a policy written as JSON (entries as given) decides
    /// like the builder's; serializing it and reading it back decides the
    /// same again, and the serialized form is a fixed point.
    #[test]
    fn json_round_trip_keeps_decisions((p, reqs) in policy_and_requests(REQUESTS)) {
        let built = p.build();
        let from_json: KeyPolicy = serde_json::from_str(&p.to_json()).unwrap();
        let written = serde_json::to_string(&built).unwrap();
        let reread: KeyPolicy = serde_json::from_str(&written).unwrap();
        prop_assert_eq!(serde_json::to_string(&reread).unwrap(), written.clone());
        prop_assert_eq!(serde_json::to_string(&from_json).unwrap(), written.clone());
        for r in &reqs {
            let req = r.request();
            let d = evaluate_key(&built, &req);
            prop_assert_eq!(evaluate_key(&from_json, &req), d, "{:?}", r);
            prop_assert_eq!(evaluate_key(&reread, &req), d, "{} {:?}", written, r);
        }
    }
}

/// Adding the FIRST entry to an empty list switches a restriction on, so
/// monotonicity only holds for non-empty lists. This pins that boundary.
#[test]
fn first_entries_switch_restrictions_on() {
    let open = KeyPolicy::unrestricted();
    let no_origin = KeyRequest::new(Resource::Tiles).with_tileset("alice.streets");
    assert!(evaluate_key(&open, &no_origin).is_allowed());

    let one_domain = KeyPolicy::builder().allowed_domains(["example.com"]).build().unwrap();
    assert_eq!(
        evaluate_key(&one_domain, &no_origin).denial(),
        Some(Denial::OriginRequired)
    );

    let one_scope = KeyPolicy::builder().scope(KeyScope::StylesRead).build().unwrap();
    assert_eq!(
        evaluate_key(&one_scope, &no_origin).denial(),
        Some(Denial::ScopeMissing)
    );

    let one_tileset = KeyPolicy::builder().allowed_tilesets(["bob.terrain"]).build().unwrap();
    assert_eq!(
        evaluate_key(&one_tileset, &no_origin).denial(),
        Some(Denial::TilesetNotAllowed)
    );
}

/// A deterministic Fisher–Yates shuffle driven by `seed`.
fn shuffle<T>(v: &mut [T], mut seed: u64) {
    for i in (1..v.len()).rev() {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let j = usize::try_from(seed >> 33).unwrap() % (i + 1);
        v.swap(i, j);
    }
}

/// Writes `d` differently but equivalently: new decoration; for exact
/// domains, `www.` toggled where folding allows; Unicode swapped for
/// punycode.
fn respell(d: &DomainSpec, deco: &Decoration, www: bool, unicode: bool) -> DomainSpec {
    let mut host = d.host.clone();
    if unicode && matches!(d.kind, EntryKind::Domain | EntryKind::Wildcard) {
        host = to_ascii_host(&host);
    }
    let text = match d.kind {
        EntryKind::Domain => {
            if www {
                match host.strip_prefix("www.") {
                    Some(rest) if rest.contains('.') && !rest.starts_with("www.") => host = rest.to_owned(),
                    None if host.contains('.') => host = format!("www.{host}"),
                    _ => {}
                }
            }
            deco.apply(&host, true)
        }
        EntryKind::Wildcard => deco.apply(&format!("*.{host}"), true),
        EntryKind::Ip => deco.apply(&host, false),
        EntryKind::App => {
            let port = deco.port.map(|p| format!(":{p}")).unwrap_or_default();
            recase(&format!("{}://{host}{port}", d.scheme.as_deref().unwrap()), deco.case)
        }
    };
    DomainSpec {
        text,
        kind: d.kind,
        host,
        scheme: d.scheme.clone(),
    }
}
