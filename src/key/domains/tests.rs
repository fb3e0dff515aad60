use super::*;
use crate::hash::SMALL_LIST;
use crate::syntax::origin::parse_origin;

fn entry(s: &str) -> Result<String, AllowedDomainError> {
    s.parse::<AllowedDomain>().map(|e| e.to_string())
}

/// One allowlist compiled in both shapes: as given (a short list, scanned)
/// and padded past [`SMALL_LIST`] with hosts no test Origin uses (hashed).
/// [`check`] asks both, so every rule below holds for both shapes.
struct Lists {
    scanned: DomainAllowlist,
    hashed: DomainAllowlist,
}

fn list(entries: &[&str]) -> Lists {
    let parsed: Vec<AllowedDomain> = entries.iter().map(|e| e.parse().unwrap()).collect();
    let padding = (0..=SMALL_LIST).map(|i| format!("pad{i}.padding.test").parse::<AllowedDomain>().unwrap());
    let seed = HashSeed::random();
    let scanned = DomainAllowlist::new(parsed.clone(), &seed);
    let hashed = DomainAllowlist::new(parsed.into_iter().chain(padding), &seed);
    assert!(scanned.seed().is_none() && hashed.seed().is_some(), "{entries:?}");
    Lists { scanned, hashed }
}

fn check(lists: &Lists, origin: &str) -> OriginMatch {
    let parsed = parse_origin(origin).unwrap();
    let scanned = lists.scanned.match_origin(&parsed);
    let hashed = lists.hashed.match_origin(&parsed);
    assert_eq!(scanned, hashed, "{origin}: the scanned and the hashed list disagree");
    scanned
}

#[test]
fn entries_normalize() {
    assert_eq!(entry("https://www.mappinest.com").unwrap(), "mappinest.com");
    assert_eq!(entry("app.example.com").unwrap(), "app.example.com");
    assert_eq!(entry("http://localhost:3000").unwrap(), "localhost");
    assert_eq!(entry("EXAMPLE.com").unwrap(), "example.com");
    assert_eq!(entry("example.com.").unwrap(), "example.com");
    assert_eq!(entry("HTTPS://Example.com/a/b?c#d").unwrap(), "example.com");
    // A `://` in the path or query is not a second scheme.
    assert_eq!(entry("example.com/?next=https://x.com").unwrap(), "example.com");
    assert_eq!(entry("https://example.com/r?u=http://x").unwrap(), "example.com");
    assert_eq!(entry("www.com").unwrap(), "com");
    assert_eq!(entry("www.localhost").unwrap(), "localhost");
    // Matches the Origin `www.www.example.com` (one `www.` folded on each
    // side), and is written so that it parses back to itself.
    assert_eq!(entry("www.www.example.com").unwrap(), "www.www.example.com");
    assert_eq!(entry("WWW.www.www.example.com.").unwrap(), "www.www.www.example.com");
    assert_eq!(entry("*.Example.COM").unwrap(), "*.example.com");
    assert_eq!(entry("https://*.example.com:443").unwrap(), "*.example.com");
    assert_eq!(entry("http://[0:0:0:0:0:0:0:1]:80").unwrap(), "[::1]");
    assert_eq!(entry("0x7f.1").unwrap(), "127.0.0.1");
    assert_eq!(entry("Capacitor://LocalHost").unwrap(), "capacitor://localhost");
    assert_eq!(entry("münchen.de").unwrap(), "xn--mnchen-3ya.de");
}

#[test]
fn invalid_entries_are_rejected() {
    assert_eq!(entry(""), Err(AllowedDomainError::Empty));
    assert_eq!(entry("exa mple.com"), Err(AllowedDomainError::Whitespace));
    assert_eq!(entry(" example.com"), Err(AllowedDomainError::Whitespace));
    assert_eq!(
        entry("https://http://example.com"),
        Err(AllowedDomainError::MultipleSchemes)
    );
    assert_eq!(
        entry("http://app://example.com/x"),
        Err(AllowedDomainError::MultipleSchemes)
    );
    assert_eq!(entry("example..com"), Err(HostError::EmptyLabel.into()));
    assert_eq!(entry("xn--zz.com"), Err(HostError::BadIdna.into()));
    assert_eq!(
        entry("example.com:99999"),
        Err(AllowedDomainError::InvalidPort("99999".into()))
    );
    assert_eq!(entry("example.com:"), Err(AllowedDomainError::InvalidPort("".into())));
    assert_eq!(entry("ex*ample.com"), Err(AllowedDomainError::MisplacedWildcard));
    assert_eq!(entry("a.*.example.com"), Err(AllowedDomainError::MisplacedWildcard));
    assert_eq!(entry("*.*.example.com"), Err(AllowedDomainError::MisplacedWildcard));
    assert_eq!(entry("*"), Err(AllowedDomainError::MisplacedWildcard));
    assert_eq!(entry("*.com"), Err(AllowedDomainError::WildcardTooBroad));
    assert_eq!(entry("*.127.0.0.1"), Err(AllowedDomainError::WildcardIp));
    assert_eq!(
        entry("capacitor://*.example.com"),
        Err(AllowedDomainError::WildcardAppScheme("capacitor".into()))
    );
    assert_eq!(entry("user@example.com"), Err(AllowedDomainError::Userinfo));
    assert_eq!(
        entry("1http://example.com"),
        Err(AllowedDomainError::InvalidScheme("1http".into()))
    );
    assert_eq!(entry("exa%6dple.com"), Err(HostError::BadCharacter('%').into()));
    for (wildcard, suffix, section) in [
        ("*.co.uk", "co.uk", "ICANN"),
        ("https://*.CO.UK.:443/x", "co.uk", "ICANN"),
        ("*.github.io", "github.io", "private"),
        ("*.s3.amazonaws.com", "s3.amazonaws.com", "private"),
    ] {
        assert_eq!(
            entry(wildcard),
            Err(AllowedDomainError::WildcardPublicSuffix {
                suffix: suffix.into(),
                section
            }),
            "{wildcard}"
        );
    }
}

#[test]
fn public_suffixes_stay_allowed_as_exact_hosts_and_below_wildcards() {
    assert_eq!(entry("github.io").unwrap(), "github.io");
    assert_eq!(entry("co.uk").unwrap(), "co.uk");
    assert_eq!(entry("*.example.co.uk").unwrap(), "*.example.co.uk");
    assert_eq!(entry("*.alice.github.io").unwrap(), "*.alice.github.io");
    let l = list(&["github.io", "*.example.co.uk"]);
    assert_eq!(check(&l, "https://github.io"), OriginMatch::Allowed);
    assert_eq!(check(&l, "https://alice.github.io"), OriginMatch::NotAllowed);
    assert_eq!(check(&l, "https://a.example.co.uk"), OriginMatch::Allowed);
    assert_eq!(check(&l, "https://other.co.uk"), OriginMatch::NotAllowed);
}

#[test]
fn exact_matching_folds_case_www_scheme_port_and_dot() {
    let l = list(&["https://www.mappinest.com", "app.example.com", "http://localhost:3000"]);
    for ok in [
        "https://www.mappinest.com",
        "http://mappinest.com",
        "HTTPS://MAPPINEST.COM:8443",
        "https://mappinest.com.",
        "https://app.example.com",
        "https://www.app.example.com",
        "http://localhost:3000",
        "https://localhost",
        "http://www.localhost",
    ] {
        assert_eq!(check(&l, ok), OriginMatch::Allowed, "{ok}");
    }
    for no in [
        "https://evilmappinest.com",
        "https://mappinest.com.evil.net",
        "https://a.mappinest.com",
        "https://mappinest.co",
        "https://www.www.mappinest.com",
        "https://wwwmappinest.com",
        "https://example.com",
        "app://app.example.com",
        "https://www.www.localhost",
    ] {
        assert_eq!(check(&l, no), OriginMatch::NotAllowed, "{no}");
    }
}

#[test]
fn wildcards_cover_subdomains_at_any_depth_only() {
    let l = list(&["*.example.com"]);
    for ok in [
        "https://a.example.com",
        "https://www.example.com",
        "https://a.b.example.com",
        "https://A.Example.Com.",
    ] {
        assert_eq!(check(&l, ok), OriginMatch::Allowed, "{ok}");
    }
    for no in [
        "https://example.com",
        "https://badexample.com",
        "https://example.com.evil.net",
        "https://a.example.co",
    ] {
        assert_eq!(check(&l, no), OriginMatch::NotAllowed, "{no}");
    }
}

#[test]
fn ips_match_by_value_only() {
    let l = list(&["127.0.0.1", "[::1]"]);
    assert_eq!(check(&l, "http://2130706433"), OriginMatch::Allowed);
    assert_eq!(check(&l, "http://[0:0:0:0:0:0:0:1]:8080"), OriginMatch::Allowed);
    assert_eq!(check(&l, "http://[::ffff:127.0.0.1]"), OriginMatch::NotAllowed);
    assert_eq!(check(&l, "http://127.0.0.2"), OriginMatch::NotAllowed);
}

#[test]
fn app_schemes_match_scheme_and_host_exactly() {
    let l = list(&["capacitor://localhost", "tauri://localhost", "example.com"]);
    assert_eq!(check(&l, "capacitor://localhost"), OriginMatch::Allowed);
    assert_eq!(check(&l, "CAPACITOR://LOCALHOST:1234"), OriginMatch::Allowed);
    assert_eq!(check(&l, "capacitor://localhost."), OriginMatch::NotAllowed);
    assert_eq!(check(&l, "capacitor://www.localhost"), OriginMatch::NotAllowed);
    assert_eq!(check(&l, "https://localhost"), OriginMatch::NotAllowed);
    assert_eq!(check(&l, "app://example.com"), OriginMatch::NotAllowed);
    assert_eq!(check(&l, "ionic://localhost"), OriginMatch::NotAllowed);
    // Regression: invalid punycode is `origin_invalid` for app schemes
    // too, and an app entry with invalid punycode is rejected.
    assert_eq!(check(&l, "capacitor://xn--zz"), OriginMatch::Invalid);
    assert_eq!(check(&l, "capacitor://XN--MNCHEN-3YA.de"), OriginMatch::NotAllowed);
    assert_eq!(entry("capacitor://xn--zz"), Err(HostError::BadIdna.into()));
    assert_eq!(
        entry("capacitor://xn--mnchen-3ya.de").unwrap(),
        "capacitor://xn--mnchen-3ya.de"
    );
}

#[test]
fn punycode_origins() {
    let l = list(&["münchen.de", "*.example.com"]);
    assert_eq!(check(&l, "https://xn--mnchen-3ya.de"), OriginMatch::Allowed);
    assert_eq!(check(&l, "https://XN--MNCHEN-3YA.DE"), OriginMatch::Allowed);
    assert_eq!(check(&l, "https://www.xn--mnchen-3ya.de"), OriginMatch::Allowed);
    assert_eq!(check(&l, "https://xn--mnchen-3ya.example.com"), OriginMatch::Allowed);
    assert_eq!(check(&l, "https://xn--zz.example.com"), OriginMatch::Invalid);
    assert_eq!(check(&l, "https://xn--zz.de"), OriginMatch::Invalid);
    assert_eq!(check(&l, "https://xn--mnchen-3yb.de"), OriginMatch::NotAllowed);
}

#[test]
fn duplicates_are_dropped_keeping_order() {
    let l = list(&["b.com", "www.b.com", "a.com", "B.COM"]);
    let shown = |l: &DomainAllowlist| l.entries().iter().map(ToString::to_string).collect::<Vec<_>>();
    assert_eq!(shown(&l.scanned), ["b.com", "a.com"]);
    // A long list drops them through its hash sets.
    let hashed = shown(&l.hashed);
    assert_eq!(hashed.get(..2), Some(&["b.com".to_owned(), "a.com".to_owned()][..]));
    assert_eq!(hashed.len(), 2 + SMALL_LIST + 1);
}

/// Names up to `INLINE_NAME` bytes are held in the entry, longer ones
/// boxed; both kinds match, print and compare alike.
#[test]
fn short_and_long_names_behave_alike() {
    assert_eq!(std::mem::size_of::<AllowedDomain>(), 24);
    let long_domain = "a-name-longer-than-inline.example.com";
    let long_wildcard = "*.another-long-name-for-a-wildcard.example.org";
    let long_app = "capacitor://a-long-app-host-name.example";
    for text in [long_domain, long_wildcard, long_app] {
        assert!(text.len() > INLINE_NAME);
    }
    let l = list(&["short.com", "*.cdn.example.net", long_domain, long_wildcard, long_app]);
    for ok in [
        "https://short.com",
        "https://x.cdn.example.net",
        "https://www.a-name-longer-than-inline.example.com",
        "https://x.another-long-name-for-a-wildcard.example.org",
        "capacitor://a-long-app-host-name.example",
    ] {
        assert_eq!(check(&l, ok), OriginMatch::Allowed, "{ok}");
    }
    for no in [
        "https://a-name-longer-than-inline.example.co",
        "https://another-long-name-for-a-wildcard.example.org",
        "https://cdn.example.net",
        "capacitor://a-long-app-host-name.exampl",
    ] {
        assert_eq!(check(&l, no), OriginMatch::NotAllowed, "{no}");
    }
    let shown: Vec<String> = l.scanned.entries().iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        ["short.com", "*.cdn.example.net", long_domain, long_wildcard, long_app]
    );
    // Debug reads as the variants always did.
    assert_eq!(
        format!("{:?}", l.scanned.entries()[0]),
        r#"AllowedDomain(Domain("short.com"))"#
    );
    assert_eq!(
        format!("{:?}", l.scanned.entries()[1]),
        r#"AllowedDomain(Wildcard("cdn.example.net"))"#
    );
    let ip: AllowedDomain = "127.0.0.1".parse().unwrap();
    assert_eq!(format!("{ip:?}"), "AllowedDomain(Ip(127.0.0.1))");
    // One name held inline and the same name parsed again are equal.
    assert_eq!(
        l.scanned.entries()[0],
        "https://www.short.com/".parse::<AllowedDomain>().unwrap()
    );
    assert_ne!(l.scanned.entries()[0], "*.short.com".parse::<AllowedDomain>().unwrap());
}
