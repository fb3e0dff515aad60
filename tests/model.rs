//! A reference model of API-key evaluation (issue 5, part 2).
//!
//! `model` below is a second, deliberately naive implementation written
//! straight from the sentences of the seed and issue 2: slow, string-based,
//! allocating freely, and sharing no code with `src/` (it uses the `url`
//! and `idna` crates only for what the issue names them for: WHATWG IP
//! canonicalization and IDNA/UTS-46). Proptests compare it with
//! [`keypolicy::evaluate_key`] on generated policies and requests: allow/deny,
//! the reason code, and the CORS headers of allowed requests.
//!
//! Where the two disagreed, the issue text decided which was wrong; the
//! fixed disagreements are plain tests in `tests/regressions.rs`. Token
//! policies get their own model section when the token side lands.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a panic is a failed test"
)]

mod common;

use std::net::IpAddr;

use common::cases;
use common::key::*;
use keypolicy::key::{KeyScope, KeyType, Resource};
use keypolicy::{evaluate_key, AllowOrigin, KeyPolicy};
use proptest::prelude::*;
use proptest::sample::select;

// ===========================================================================
// The model (API keys)
// ===========================================================================

/// A policy as the model sees it: strings, as written.
#[derive(Debug, Clone)]
struct MPolicy {
    key_type: String,
    scopes: Vec<String>,
    domains: Vec<String>,
    tilesets: Vec<String>,
}

/// The model's answer: `Ok(cors)` with the `Access-Control-Allow-Origin`
/// value and whether `Vary: Origin` is sent, or `Err(reason code)`.
type Verdict = Result<(String, bool), &'static str>;

/// A normalized allowlist entry.
#[derive(Debug, Clone, PartialEq)]
enum MEntry {
    /// Exact host, lower-case ASCII, no trailing dot, one `www.` removed.
    Exact(String),
    /// `*.suffix`: any host ending in `.suffix`.
    Wild(String),
    /// An IP address.
    Ip(IpAddr),
    /// `scheme://host`, lower case, nothing folded.
    App(String),
}

/// A normalized Origin.
#[derive(Debug, Clone, PartialEq)]
enum MOrigin {
    /// http(s) with a domain: lower-case ASCII, no trailing dot (not folded).
    Name(String),
    /// http(s) with an IP address.
    Ip(IpAddr),
    /// Any other scheme: `scheme://host`, lower case.
    App(String),
}

/// "one leading `www.` label is ignored (`www.example.com` ≡ `example.com`)",
/// on entries and Origins alike, whatever remains (`www.localhost` ≡
/// `localhost`).
fn fold_www(name: &str) -> String {
    name.strip_prefix("www.").unwrap_or(name).to_owned()
}

fn is_web(scheme: &str) -> bool {
    scheme == "http" || scheme == "https"
}

/// "scheme, port and path are ignored; ... internationalized names compare
/// by their IDNA (UTS-46, non-transitional) ASCII form; one trailing dot is
/// ignored". Entries are assumed valid (the generators only make valid
/// ones; `src` rejects the others when the policy is built).
fn model_entry(text: &str) -> MEntry {
    let (scheme, rest) = match text.find("://") {
        Some(i) => (Some(text[..i].to_lowercase()), &text[i + 3..]),
        None => (None, text),
    };
    let mut authority = rest.to_owned();
    for stop in ['/', '?', '#'] {
        if let Some(i) = authority.find(stop) {
            authority.truncate(i);
        }
    }
    let host = if authority.starts_with('[') {
        authority[..=authority.find(']').unwrap()].to_owned()
    } else {
        authority.split(':').next().unwrap().to_owned()
    };
    if let Some(s) = scheme.filter(|s| !is_web(s)) {
        return MEntry::App(format!("{s}://{}", host.to_lowercase()));
    }
    if let Some(suffix) = host.strip_prefix("*.") {
        let ascii = idna::domain_to_ascii(suffix).unwrap();
        return MEntry::Wild(ascii.strip_suffix('.').unwrap_or(&ascii).to_owned());
    }
    if host.starts_with('[') {
        return match url::Host::parse(&host).unwrap() {
            url::Host::Ipv6(ip) => MEntry::Ip(IpAddr::V6(ip)),
            other => panic!("{other:?}"),
        };
    }
    let ascii = idna::domain_to_ascii(&host).unwrap();
    let ascii = ascii.strip_suffix('.').unwrap_or(&ascii).to_owned();
    match url::Host::parse(&ascii).unwrap() {
        url::Host::Ipv4(ip) => MEntry::Ip(IpAddr::V4(ip)),
        url::Host::Domain(d) => MEntry::Exact(fold_www(&d)),
        url::Host::Ipv6(ip) => MEntry::Ip(IpAddr::V6(ip)),
    }
}

/// "it must be one ASCII origin `scheme://host[:port]`" and the list of
/// things to deny with `origin_invalid`. `None` means invalid.
fn model_origin(value: &str) -> Option<MOrigin> {
    // "values longer than a documented cap (2 KiB)"
    if value.len() > 2048 {
        return None;
    }
    // "anything with whitespace or control characters anywhere", "non-ASCII
    // bytes": only printable ASCII other than space is left.
    if value.bytes().any(|b| !(0x21..=0x7e).contains(&b)) {
        return None;
    }
    let (scheme, authority) = value.split_once("://")?;
    // A URL scheme: a letter, then letters, digits, `+`, `-`, `.`.
    let mut chars = scheme.chars();
    if !chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        || !chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    {
        return None;
    }
    // "anything after the port (a path — even `/` — query or fragment)",
    // "userinfo", "percent-encoding", "several origins joined by comma",
    // "`*`"; a backslash is a path separator to WHATWG parsers.
    if authority.chars().any(|c| "/?#@%,*\\".contains(c)) {
        return None;
    }
    let (host, port) = if authority.starts_with('[') {
        let end = authority.find(']')?;
        let (h, rest) = authority.split_at(end + 1);
        if rest.is_empty() {
            (h, None)
        } else {
            (h, Some(rest.strip_prefix(':')?))
        }
    } else {
        match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    // "invalid ports": 1 to 65535, written as 1 to 5 digits.
    if let Some(p) = port {
        if p.is_empty() || p.len() > 5 || !p.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        let n: u32 = p.parse().unwrap();
        if n == 0 || n > 65535 {
            return None;
        }
    }
    let scheme = scheme.to_lowercase();
    if host.starts_with('[') {
        let ip = match url::Host::parse(host).ok()? {
            url::Host::Ipv6(ip) => IpAddr::V6(ip),
            _ => return None,
        };
        return Some(if is_web(&scheme) {
            MOrigin::Ip(ip)
        } else {
            MOrigin::App(format!("{scheme}://{}", host.to_lowercase()))
        });
    }
    // A host name: letters, digits, `-`, `_` and dots; "empty labels", "labels
    // over 63 or hosts over 253 bytes" (one trailing dot allowed).
    if !host.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
        return None;
    }
    let name = host.strip_suffix('.').unwrap_or(host);
    if name.is_empty() || name.len() > 253 || name.split('.').any(|l| l.is_empty() || l.len() > 63) {
        return None;
    }
    let lower = name.to_lowercase();
    // WHATWG host parsing: numeric hosts are IPv4 (canonicalized) or
    // invalid; punycode must decode and be valid ("invalid punycode"), and a
    // browser only ever sends its canonical form.
    let parsed = match url::Host::parse(&lower).ok()? {
        url::Host::Domain(d) if d == lower => MOrigin::Name(d),
        url::Host::Domain(_) => return None,
        url::Host::Ipv4(ip) => MOrigin::Ip(IpAddr::V4(ip)),
        url::Host::Ipv6(_) => return None,
    };
    if is_web(&scheme) {
        Some(parsed)
    } else {
        Some(MOrigin::App(format!("{scheme}://{}", host.to_lowercase())))
    }
}

/// Whether `entry` allows `origin`: exact on the normalized host; a
/// wildcard covers subdomains at any depth but not itself nor an IP; IPs by
/// value; app entries only their own scheme and host.
fn model_matches(entry: &MEntry, origin: &MOrigin) -> bool {
    match (entry, origin) {
        (MEntry::Exact(e), MOrigin::Name(n)) => *e == fold_www(n),
        (MEntry::Wild(s), MOrigin::Name(n)) => n.ends_with(&format!(".{s}")),
        (MEntry::Ip(a), MOrigin::Ip(b)) => a == b,
        (MEntry::App(a), MOrigin::App(b)) => a == b,
        _ => false,
    }
}

/// `username.tilesetID`, each part a non-empty run of ASCII letters,
/// digits, `-` and `_`.
fn model_tileset_ok(t: &str) -> bool {
    let parts: Vec<&str> = t.split('.').collect();
    parts.len() == 2
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
}

/// Rules 1–6 in the order "origin (rules 2–3), scope, tileset".
fn model(p: &MPolicy, origin: Option<&str>, resource: &str, tileset: Option<&str>) -> Verdict {
    let origin_rule = !p.domains.is_empty() || p.key_type == "web";
    if origin_rule {
        // Rules 2 and 3: an Origin is required (an empty header value is
        // taken as no header, as `src` documents).
        let value = match origin {
            None | Some("") => return Err("origin_required"),
            Some(v) => v,
        };
        let parsed = model_origin(value).ok_or("origin_invalid")?;
        if !p.domains.is_empty() && !p.domains.iter().any(|e| model_matches(&model_entry(e), &parsed)) {
            return Err("origin_not_allowed");
        }
    }
    // Rule 6.
    let needed = format!("{resource}:read");
    if !p.scopes.is_empty() && !p.scopes.contains(&needed) {
        return Err("scope_missing");
    }
    // Rule 5.
    if !p.tilesets.is_empty() {
        match tileset {
            None if resource == "tiles" => return Err("tileset_not_allowed"),
            None => {}
            Some(t) => {
                for part in t.split(',') {
                    let allowed = model_tileset_ok(part)
                        && p.tilesets.iter().any(|e| {
                            e == part
                                || e.strip_suffix(".*")
                                    .is_some_and(|user| part.split('.').next() == Some(user))
                        });
                    if !allowed {
                        return Err("tileset_not_allowed");
                    }
                }
            }
        }
    }
    // CORS: the exact Origin plus `Vary: Origin` under an origin rule,
    // else `*`.
    Ok(match origin {
        Some(o) if origin_rule => (o.to_owned(), true),
        _ => ("*".to_owned(), false),
    })
}

// ===========================================================================
// Comparison with `keypolicy::evaluate_key`
// ===========================================================================

fn mpolicy(p: &PolicySpec) -> MPolicy {
    MPolicy {
        key_type: p.key_type.as_str().to_owned(),
        scopes: p.scopes.iter().map(|s| s.as_str().to_owned()).collect(),
        domains: p.domains.iter().map(|d| d.text.clone()).collect(),
        tilesets: p.tilesets.clone(),
    }
}

fn resource_name(r: Resource) -> &'static str {
    match r {
        Resource::Tiles => "tiles",
        Resource::Styles => "styles",
        Resource::Static => "static",
        Resource::Export => "export",
    }
}

/// Compares the model with the library on one request.
fn compare(p: &PolicySpec, r: &RequestSpec) -> Result<(), TestCaseError> {
    let policy = p.build();
    let req = r.request();
    let real = evaluate_key(&policy, &req);
    let expected = model(
        &mpolicy(p),
        r.origin.as_deref(),
        resource_name(r.resource),
        r.tileset.as_deref(),
    );
    match &expected {
        Ok((acao, vary)) => {
            prop_assert!(
                real.is_allowed(),
                "model allows, library {:?}\n{:?}\n{:?}",
                real.reason(),
                p,
                r
            );
            prop_assert_eq!(real.allow_origin().map(|o| o.as_str().to_owned()), Some(acao.clone()));
            prop_assert_eq!(real.vary().origin, *vary);
        }
        Err(reason) => {
            prop_assert_eq!(real.reason(), Some(*reason), "\n{:?}\n{:?}", p, r);
            prop_assert!(!matches!(real.allow_origin(), Some(AllowOrigin::Origin(_))));
        }
    }
    Ok(())
}

/// Origins aimed at the parser: printable ASCII soup and near-valid forms.
fn parser_origin() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        "[ -~]{0,24}".prop_map(Some),
        "(https?|HTTP|capacitor|app)://[a-zA-Z0-9._:\\[\\]%@*,/\\\\-]{0,24}".prop_map(Some),
        "https?://(www\\.)?[a-z0-9-]{1,6}(\\.[a-z0-9-]{1,6}){0,2}\\.?(:[0-9]{1,6})?".prop_map(Some),
        "https?://(0x[0-9a-f]{1,8}|[0-9]{1,10}|0[0-7]{1,4})(\\.[0-9]{1,3}){0,3}".prop_map(Some),
        "https?://\\[[0-9a-fA-F:.]{2,20}\\](:[0-9]{1,5})?".prop_map(Some),
        "https?://(xn--[a-z0-9-]{1,10}\\.)?[a-z]{1,5}\\.(com|de)".prop_map(Some),
    ]
}

proptest! {
    #![proptest_config(cases(2048))]

    /// The model and the library agree on policies and derived requests.
    #[test]
    fn model_agrees_on_derived_requests((p, reqs) in policy_and_requests(8)) {
        for r in &reqs {
            compare(&p, r)?;
        }
    }

    /// The model and the library agree on Origin values aimed at the
    /// header parser, for a key with an origin rule.
    #[test]
    fn model_agrees_on_parser_inputs(
        p in policy_spec().prop_filter("origin rule", |p| !p.domains.is_empty() || p.key_type == KeyType::Web),
        origin in parser_origin(),
        resource in select(&RESOURCES[..]),
    ) {
        compare(&p, &RequestSpec { origin, resource, tileset: None })?;
    }
}

/// Free-form entry text: whatever of it the library accepts, the model
/// must read the same way.
fn free_entry() -> impl Strategy<Value = String> {
    prop_oneof![
        "((https?|HTTPS|capacitor|tauri)://)?(\\*\\.)?(www\\.|WWW\\.)?[a-z0-9\u{fc}\u{df}_-]{1,8}(\\.[a-zA-Z0-9\u{fc}-]{1,8}){0,2}\\.?(:[0-9]{1,5})?(/[a-z@:]{0,4})?",
        "(https?://)?(\\[[0-9a-fA-F:.]{2,16}\\]|[0-9xX.]{1,12})(:[0-9]{1,5})?",
    ]
}

/// An Origin aimed at a free-form entry: its host as a browser would send
/// it, with a random scheme, `www.`, case and trailing dot.
fn origin_near(entry: &str, scheme: &str, www: bool, dot: bool, upper: bool) -> String {
    let rest = entry.split_once("://").map_or(entry, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap();
    let host = if authority.starts_with('[') {
        authority.split_inclusive(']').next().unwrap().to_owned()
    } else {
        let h = authority.split(':').next().unwrap();
        let h = h.strip_prefix("*.").map_or(h.to_owned(), |s| format!("sub.{s}"));
        idna::domain_to_ascii(&h).unwrap_or(h)
    };
    let host = if www { format!("www.{host}") } else { host };
    let host = if dot { format!("{host}.") } else { host };
    let host = if upper { host.to_uppercase() } else { host };
    format!("{scheme}://{host}")
}

proptest! {
    #![proptest_config(cases(4096))]

    /// Free-form entries: when the library builds a policy from one, the
    /// model decides Origins near it the same way.
    #[test]
    fn model_agrees_on_free_form_entries(
        entry in free_entry(),
        key_type in select(&KEY_TYPES[..]),
        scheme in select(&["https", "http", "capacitor", "tauri", "app"][..]),
        www in any::<bool>(), dot in any::<bool>(), upper in any::<bool>(),
    ) {
        let p = PolicySpec {
            key_type,
            scopes: vec![],
            domains: vec![DomainSpec { text: entry.clone(), kind: EntryKind::Domain, host: String::new(), scheme: None }],
            tilesets: vec![],
        };
        // About half the texts are invalid entries; those are `src`'s to
        // reject (checked elsewhere), not the model's to read.
        if KeyPolicy::builder().allowed_domains([entry.as_str()]).build().is_err() {
            return Ok(());
        }
        let origin = origin_near(&entry, scheme, www, dot, upper);
        compare(&p, &RequestSpec { origin: Some(origin), resource: Resource::Tiles, tileset: None })?;
    }
}

/// The model itself on the seed's and issue's own examples, so that a
/// model bug cannot hide behind agreement with the library.
#[test]
fn model_follows_the_spec_examples() {
    let seed = MPolicy {
        key_type: "web".into(),
        scopes: vec!["tiles:read".into()],
        domains: vec![
            "https://www.mappinest.com".into(),
            "https://app.example.com".into(),
            "http://localhost:3000".into(),
            "münchen.de".into(),
            "*.example.org".into(),
            "capacitor://localhost".into(),
            "[0:0:0:0:0:0:0:1]".into(),
        ],
        tilesets: vec!["alice.streets".into(), "bob.*".into()],
    };
    let run = |origin: Option<&str>, resource: &str, tileset: Option<&str>| {
        model(&seed, origin, resource, tileset).err().unwrap_or("allowed")
    };
    let t = Some("alice.streets");
    for (origin, want) in [
        (Some("https://mappinest.com"), "allowed"),
        (Some("http://www.mappinest.com:8080"), "allowed"),
        (Some("https://localhost"), "allowed"),
        (Some("https://xn--mnchen-3ya.de"), "allowed"),
        (Some("https://münchen.de"), "origin_invalid"),
        (Some("https://a.b.example.org"), "allowed"),
        (Some("https://example.org"), "origin_not_allowed"),
        (Some("capacitor://localhost:1"), "allowed"),
        (Some("app://app.example.com"), "origin_not_allowed"),
        (Some("http://[::1]"), "allowed"),
        (Some("https://evilexample.com"), "origin_not_allowed"),
        (Some("https://app.example.com.evil.net"), "origin_not_allowed"),
        (Some("null"), "origin_invalid"),
        (Some("https://xn--zz.de"), "origin_invalid"),
        (None, "origin_required"),
    ] {
        assert_eq!(run(origin, "tiles", t), want, "{origin:?}");
    }
    assert_eq!(run(Some("https://mappinest.com"), "styles", None), "scope_missing");
    assert_eq!(run(Some("https://mappinest.com"), "tiles", None), "tileset_not_allowed");
    assert_eq!(
        run(Some("https://mappinest.com"), "tiles", Some("bob.x,alice.streets")),
        "allowed"
    );
    assert_eq!(
        run(Some("https://mappinest.com"), "tiles", Some("bob.x,")),
        "tileset_not_allowed"
    );
    let desktop = MPolicy {
        key_type: "desktop".into(),
        scopes: vec![],
        domains: vec![],
        tilesets: vec![],
    };
    assert!(model(&desktop, Some("\t junk"), "export", None).is_ok());
    assert_eq!(
        model(&desktop, Some("https://a.com"), "tiles", None).unwrap(),
        ("*".to_owned(), false)
    );
    let scoped = MPolicy {
        key_type: "any".into(),
        scopes: vec![KeyScope::StylesRead.as_str().into()],
        domains: vec![],
        tilesets: vec![],
    };
    assert_eq!(model(&scoped, None, "tiles", None), Err("scope_missing"));
}
