//! The API-key rules (issue 2 / the Mappinest seed's "Rules at a glance"),
//! one test per rule, plus the seed's own examples.

#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]

use keypolicy::key::{KeyScope, KeyType, Resource};
use keypolicy::{evaluate_key, AllowOrigin, Denial, KeyPolicy, KeyRequest};

fn policy(key_type: KeyType, scopes: &[KeyScope], domains: &[&str], tilesets: &[&str]) -> KeyPolicy {
    KeyPolicy::builder()
        .key_type(key_type)
        .scopes(scopes.iter().copied())
        .allowed_domains(domains.iter().copied())
        .allowed_tilesets(tilesets.iter().copied())
        .build()
        .unwrap()
}

fn tiles(origin: Option<&str>, tileset: Option<&str>) -> KeyRequest<'static> {
    let mut r = KeyRequest::new(Resource::Tiles);
    r.origin = origin.map(|o| o.to_owned().into());
    r.tileset = tileset.map(|t| t.to_owned().into());
    r
}

/// `None` for allowed, else the denial.
fn outcome(p: &KeyPolicy, r: &KeyRequest<'_>) -> Option<Denial> {
    evaluate_key(p, r).denial()
}

const ORIGINS: [Option<&str>; 6] = [
    None,
    Some("https://example.com"),
    Some("null"),
    Some("garbage \t value"),
    Some(""),
    Some("https://a.example.com, https://b.example.com"),
];

#[test]
fn rule1_unrestricted_key_allows_browser_and_non_browser_alike() {
    let p = KeyPolicy::unrestricted();
    for origin in ORIGINS {
        for resource in [Resource::Tiles, Resource::Styles, Resource::Static, Resource::Export] {
            let mut r = tiles(origin, None);
            r.resource = resource;
            let d = evaluate_key(&p, &r);
            assert!(d.is_allowed(), "{origin:?} {resource:?}");
            assert_eq!(d.allow_origin(), Some(AllowOrigin::Any));
            assert_eq!(d.vary().header_value(), None);
        }
    }
}

#[test]
fn rule2_domains_require_a_matching_origin_whatever_the_key_type() {
    for key_type in [KeyType::Any, KeyType::Web, KeyType::Desktop, KeyType::Server] {
        let p = policy(key_type, &[], &["app.example.com"], &[]);
        assert_eq!(
            outcome(&p, &tiles(None, None)),
            Some(Denial::OriginRequired),
            "{key_type}"
        );
        assert_eq!(
            outcome(&p, &tiles(Some(""), None)),
            Some(Denial::OriginRequired),
            "{key_type}"
        );
        assert_eq!(
            outcome(&p, &tiles(Some("null"), None)),
            Some(Denial::OriginInvalid),
            "{key_type}"
        );
        assert_eq!(
            outcome(&p, &tiles(Some("https://other.example.com"), None)),
            Some(Denial::OriginNotAllowed),
            "{key_type}"
        );
        assert_eq!(
            outcome(&p, &tiles(Some("https://app.example.com"), None)),
            None,
            "{key_type}"
        );
    }
}

#[test]
fn rule3_web_key_without_domains_needs_an_origin_with_a_host() {
    let p = policy(KeyType::Web, &[], &[], &[]);
    assert_eq!(outcome(&p, &tiles(None, None)), Some(Denial::OriginRequired));
    assert_eq!(outcome(&p, &tiles(Some("null"), None)), Some(Denial::OriginInvalid));
    assert_eq!(outcome(&p, &tiles(Some("file://"), None)), Some(Denial::OriginInvalid));
    assert_eq!(
        outcome(&p, &tiles(Some("https://xn--zz.de"), None)),
        Some(Denial::OriginInvalid)
    );
    for any in [
        "https://anything.example",
        "http://localhost:3000",
        "capacitor://localhost",
        "http://[::1]",
    ] {
        let r = tiles(Some(any), None);
        let d = evaluate_key(&p, &r);
        assert!(d.is_allowed(), "{any}");
        assert_eq!(d.allow_origin(), Some(AllowOrigin::Origin(any)));
    }
}

#[test]
fn rule4_desktop_and_server_keys_without_domains_ignore_the_origin() {
    for key_type in [KeyType::Desktop, KeyType::Server] {
        let p = policy(key_type, &[], &[], &[]);
        for origin in ORIGINS {
            let r = tiles(origin, None);
            let d = evaluate_key(&p, &r);
            assert!(d.is_allowed(), "{key_type} {origin:?}");
            assert_eq!(d.allow_origin(), Some(AllowOrigin::Any));
        }
    }
}

#[test]
fn rule5_tilesets_restrict_what_is_named() {
    let p = policy(KeyType::Any, &[], &[], &["alice.streets", "bob.*"]);
    assert_eq!(outcome(&p, &tiles(None, Some("alice.streets"))), None);
    assert_eq!(outcome(&p, &tiles(None, Some("bob.anything"))), None);
    assert_eq!(outcome(&p, &tiles(None, Some("alice.streets,bob.terrain"))), None);
    for denied in [
        "alice.terrain",
        "alice.streets,carol.x",
        "",
        "alice.streets,",
        "Alice.streets",
        "not-a-tileset",
    ] {
        assert_eq!(
            outcome(&p, &tiles(None, Some(denied))),
            Some(Denial::TilesetNotAllowed),
            "{denied:?}"
        );
    }
    // A tile request naming no tileset is denied; other resources are not restricted.
    assert_eq!(outcome(&p, &tiles(None, None)), Some(Denial::TilesetNotAllowed));
    for resource in [Resource::Styles, Resource::Static, Resource::Export] {
        assert_eq!(outcome(&p, &KeyRequest::new(resource)), None, "{resource:?}");
        let named = KeyRequest::new(resource).with_tileset("carol.x");
        assert_eq!(outcome(&p, &named), Some(Denial::TilesetNotAllowed), "{resource:?}");
    }
    // Without a tileset list, anything (even malformed) passes this rule.
    let open = KeyPolicy::unrestricted();
    assert_eq!(outcome(&open, &tiles(None, Some("!!"))), None);
}

#[test]
fn rule6_scopes_need_the_resources_scope() {
    let pairs = [
        (Resource::Tiles, KeyScope::TilesRead),
        (Resource::Styles, KeyScope::StylesRead),
        (Resource::Static, KeyScope::StaticRead),
        (Resource::Export, KeyScope::ExportRead),
    ];
    for (resource, needed) in pairs {
        let with = policy(KeyType::Any, &[needed], &[], &[]);
        assert_eq!(outcome(&with, &KeyRequest::new(resource)), None, "{resource:?}");
        let others: Vec<KeyScope> = KeyScope::ALL.into_iter().filter(|s| *s != needed).collect();
        let without = policy(KeyType::Any, &others, &[], &[]);
        assert_eq!(
            outcome(&without, &KeyRequest::new(resource)),
            Some(Denial::ScopeMissing),
            "{resource:?}"
        );
    }
    // Empty scopes never block.
    let empty = policy(KeyType::Server, &[], &[], &[]);
    for (resource, _) in pairs {
        assert_eq!(outcome(&empty, &KeyRequest::new(resource)), None);
    }
}

#[test]
fn checks_run_origin_then_scope_then_tileset() {
    let p = policy(
        KeyType::Web,
        &[KeyScope::StylesRead],
        &["example.com"],
        &["alice.streets"],
    );
    // Everything wrong: the origin is the reason.
    assert_eq!(
        outcome(&p, &tiles(Some("https://evil.com"), Some("x.y"))),
        Some(Denial::OriginNotAllowed)
    );
    // Origin fine, scope and tileset wrong: the scope is the reason.
    assert_eq!(
        outcome(&p, &tiles(Some("https://example.com"), Some("x.y"))),
        Some(Denial::ScopeMissing)
    );
    // Origin and scope fine: the tileset is the reason.
    let styles = KeyRequest::new(Resource::Styles)
        .with_origin("https://example.com")
        .with_tileset("x.y");
    assert_eq!(outcome(&p, &styles), Some(Denial::TilesetNotAllowed));
}

#[test]
fn the_origin_is_ignored_however_malformed_by_keys_without_an_origin_rule() {
    let p = policy(KeyType::Server, &[KeyScope::TilesRead], &[], &["alice.streets"]);
    let r = tiles(Some("\u{0}\u{7f}not an origin"), Some("alice.streets"));
    assert_eq!(outcome(&p, &r), None);
}

#[test]
fn cors_headers_follow_the_origin_rule() {
    let p = policy(KeyType::Any, &[KeyScope::TilesRead], &["example.com"], &[]);
    let r = tiles(Some("HTTPS://WWW.EXAMPLE.COM:443"), None);
    let d = evaluate_key(&p, &r);
    // The request's exact Origin is echoed, not a normalized form.
    assert_eq!(
        d.headers().collect::<Vec<_>>(),
        [
            ("Access-Control-Allow-Origin", "HTTPS://WWW.EXAMPLE.COM:443"),
            ("Vary", "Origin")
        ]
    );
    // A denial never echoes the Origin, but still varies on it.
    let styles = KeyRequest::new(Resource::Styles).with_origin("https://example.com");
    let d = evaluate_key(&p, &styles);
    assert_eq!(d.denial(), Some(Denial::ScopeMissing));
    assert_eq!(d.headers().collect::<Vec<_>>(), [("Vary", "Origin")]);
    // Keys without an origin rule send `*`, allowed or denied.
    let open = policy(KeyType::Desktop, &[KeyScope::StylesRead], &[], &[]);
    let d = evaluate_key(&open, &r);
    assert_eq!(d.denial(), Some(Denial::ScopeMissing));
    assert_eq!(d.headers().collect::<Vec<_>>(), [("Access-Control-Allow-Origin", "*")]);
}

#[test]
fn statuses_and_reason_codes() {
    let p = policy(KeyType::Web, &[], &["example.com"], &[]);
    let r = tiles(Some("https://example.com"), None);
    let allowed = evaluate_key(&p, &r);
    assert_eq!((allowed.status(), allowed.reason()), (200, None));
    let r = tiles(None, None);
    let denied = evaluate_key(&p, &r);
    assert_eq!((denied.status(), denied.reason()), (403, Some("origin_required")));
}

/// The seed's three allowlist examples: production, staging, local.
#[test]
fn seed_allowlist_examples() {
    let p = policy(
        KeyType::Web,
        &[],
        &[
            "https://www.mappinest.com",
            "https://app.example.com",
            "http://localhost:3000",
        ],
        &[],
    );
    for ok in [
        "https://www.mappinest.com",
        "https://mappinest.com",
        "http://www.mappinest.com",
        "https://app.example.com",
        "http://app.example.com:8080",
        "http://localhost:3000",
        "http://localhost:5173",
        "https://localhost",
    ] {
        assert_eq!(outcome(&p, &tiles(Some(ok), None)), None, "{ok}");
    }
    for denied in [
        "https://example.com",
        "https://evil-mappinest.com",
        "http://127.0.0.1:3000",
        "https://staging.app.example.com",
    ] {
        assert_eq!(
            outcome(&p, &tiles(Some(denied), None)),
            Some(Denial::OriginNotAllowed),
            "{denied}"
        );
    }
}

/// Seed: "Desktop GIS: use a desktop or server key (or an unrestricted key).
/// If allowed_domains is set, desktop clients will be rejected because they
/// do not send Origin."
#[test]
fn seed_desktop_gis_note() {
    let desktop_client = tiles(None, Some("alice.streets"));
    for ok in [
        policy(KeyType::Desktop, &[KeyScope::TilesRead], &[], &["alice.streets"]),
        policy(KeyType::Server, &[KeyScope::TilesRead], &[], &[]),
        KeyPolicy::unrestricted(),
    ] {
        assert_eq!(outcome(&ok, &desktop_client), None);
    }
    let with_domains = policy(KeyType::Desktop, &[], &["gis.example.com"], &[]);
    assert_eq!(outcome(&with_domains, &desktop_client), Some(Denial::OriginRequired));
    // A web key rejects them too: non-browser requests carry no Origin.
    let web = policy(KeyType::Web, &[], &[], &[]);
    assert_eq!(outcome(&web, &desktop_client), Some(Denial::OriginRequired));
}

/// Seed: "If scopes is non-empty and tiles:read is missing, /tiles-auth returns 403."
#[test]
fn seed_tiles_scope_check() {
    let p = policy(KeyType::Any, &[KeyScope::StylesRead], &[], &[]);
    let r = KeyRequest::new(Resource::Tiles);
    let d = evaluate_key(&p, &r);
    assert_eq!((d.status(), d.reason()), (403, Some("scope_missing")));
}

#[test]
fn domain_normalization_in_evaluation() {
    let p = policy(
        KeyType::Any,
        &[],
        &[
            "münchen.de",
            "example.com.",
            "*.maps.example.org",
            "[::1]",
            "tauri://localhost",
        ],
        &[],
    );
    let cases = [
        ("https://xn--mnchen-3ya.de", None),
        ("https://www.xn--mnchen-3ya.de", None),
        ("https://EXAMPLE.com.", None),
        ("http://www.example.com:8080", None),
        ("https://a.b.maps.example.org", None),
        ("https://www.maps.example.org", None),
        ("https://maps.example.org", Some(Denial::OriginNotAllowed)),
        ("http://[0:0:0:0:0:0:0:1]", None),
        ("http://[::ffff:127.0.0.1]", Some(Denial::OriginNotAllowed)),
        ("tauri://localhost", None),
        ("https://localhost", Some(Denial::OriginNotAllowed)),
        ("https://evilexample.com", Some(Denial::OriginNotAllowed)),
        ("https://example.com.evil.net", Some(Denial::OriginNotAllowed)),
        ("https://a.example.com", Some(Denial::OriginNotAllowed)),
        ("https://example.co", Some(Denial::OriginNotAllowed)),
        ("https://xn--mnchen-.de", Some(Denial::OriginInvalid)),
        ("https://münchen.de", Some(Denial::OriginInvalid)),
        ("https://example.com/", Some(Denial::OriginInvalid)),
        ("https://u@example.com", Some(Denial::OriginInvalid)),
        ("https://exa\tmple.com", Some(Denial::OriginInvalid)),
        ("https://example.com:0", Some(Denial::OriginInvalid)),
    ];
    for (origin, expected) in cases {
        assert_eq!(outcome(&p, &tiles(Some(origin), None)), expected, "{origin:?}");
    }
}
