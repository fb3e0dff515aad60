use super::*;

fn norm(s: &str) -> Result<String, AllowedUrlError> {
    s.parse::<AllowedUrl>().map(|u| u.to_string())
}

#[test]
fn entries_normalize() {
    assert_eq!(norm("example.com").unwrap(), "example.com");
    assert_eq!(norm("EXAMPLE.com.").unwrap(), "example.com");
    assert_eq!(norm("www.example.com").unwrap(), "www.example.com");
    assert_eq!(norm("HTTPS://Example.com:443/").unwrap(), "https://example.com:443");
    assert_eq!(norm("http://localhost:3000").unwrap(), "http://localhost:3000");
    assert_eq!(norm("localhost:3000").unwrap(), "localhost:3000");
    assert_eq!(norm("example.com/maps/").unwrap(), "example.com/maps");
    assert_eq!(norm("example.com/Maps//").unwrap(), "example.com/Maps");
    assert_eq!(norm("example.com/a%2Fb").unwrap(), "example.com/a%2Fb");
    assert_eq!(norm("example.com/café").unwrap(), "example.com/caf%C3%A9");
    assert_eq!(norm("example.com/{x}").unwrap(), "example.com/%7Bx%7D");
    assert_eq!(norm("münchen.de/karte").unwrap(), "xn--mnchen-3ya.de/karte");
    assert_eq!(norm("under_score.example.com").unwrap(), "under_score.example.com");
    // A `://` inside the path is not a scheme (the rule domain entries share).
    assert_eq!(norm("example.com/r/https://x").unwrap(), "example.com/r/https://x");
    assert_eq!(
        norm("https://example.com/r/http://x").unwrap(),
        "https://example.com/r/http://x"
    );
}

#[test]
fn normalized_form_parses_back_to_the_same_entry() {
    for s in ["HTTPS://Example.com:443/", "münchen.de/café/", "localhost:3000/a/b"] {
        let once: AllowedUrl = s.parse().unwrap();
        let twice: AllowedUrl = once.to_string().parse().unwrap();
        assert_eq!(once, twice, "{s}");
    }
}

#[test]
fn invalid_entries_are_rejected() {
    use AllowedUrlError as E;
    let cases: &[(&str, AllowedUrlError)] = &[
        ("", E::Empty),
        ("exa mple.com", E::Whitespace),
        ("example.com\n", E::Whitespace),
        ("*.example.com", E::Wildcard),
        ("https://example.com/*", E::Wildcard),
        ("ftp://example.com", E::UnsupportedScheme("ftp".into())),
        ("capacitor://localhost", E::UnsupportedScheme("capacitor".into())),
        ("https:/example.com", E::Unparseable),
        ("mailto:someone", E::Unparseable),
        ("1http://example.com", E::Unparseable),
        ("://example.com", E::Unparseable),
        ("example.com/?a=b", E::QueryOrFragment),
        ("example.com#top", E::QueryOrFragment),
        ("user@example.com", E::Userinfo),
        ("https://user:pw@example.com", E::Userinfo),
        ("example.com:0", E::InvalidPort("0".into())),
        ("example.com:", E::InvalidPort("".into())),
        ("example.com:99999", E::InvalidPort("99999".into())),
        ("127.0.0.1", E::IpAddress),
        ("http://[::1]:8080", E::IpAddress),
        ("0x7f.1", E::IpAddress),
        ("example.123", E::IpAddress),
        ("example..com", E::Host(HostError::EmptyLabel)),
        ("//example.com", E::Host(HostError::Empty)),
        ("exa%6dple.com", E::Host(HostError::BadCharacter('%'))),
        ("xn--zz.com", E::Host(HostError::BadIdna)),
        ("example.com/a/../b", E::DotSegment),
        ("example.com/./a", E::DotSegment),
        ("example.com/a/%2E%2e", E::DotSegment),
        ("example.com/a\\b", E::Backslash),
        (
            "com",
            E::PublicSuffix {
                host: "com".into(),
                section: "ICANN",
            },
        ),
        (
            "HTTPS://Co.Uk.:8443/maps",
            E::PublicSuffix {
                host: "co.uk".into(),
                section: "ICANN",
            },
        ),
        (
            "github.io",
            E::PublicSuffix {
                host: "github.io".into(),
                section: "private",
            },
        ),
        // A bad path is reported before the suffix.
        ("com/a/../b", E::DotSegment),
    ];
    for (input, expected) in cases {
        assert_eq!(input.parse::<AllowedUrl>().as_ref(), Err(expected), "{input:?}");
    }
}

#[test]
fn dot_segments_in_all_spellings() {
    for p in [
        "/.", "/..", "/a/./b", "/a/../b", "/%2e", "/%2E%2e/", "/.%2e", "/%2e./x", "/a/..",
    ] {
        assert!(has_dot_segment(p), "{p}");
    }
    for p in [
        "/",
        "/a",
        "/.well-known",
        "/a..b",
        "/...",
        "/%2e%2e%2e",
        "/a.",
        "/%2",
        "/%2f",
    ] {
        assert!(!has_dot_segment(p), "{p}");
    }
}

#[test]
fn paths_continue_at_slash_boundaries_only() {
    assert!(path_continues("/maps", "/maps"));
    assert!(path_continues("/maps/", "/maps"));
    assert!(path_continues("/maps/a/b", "/maps"));
    assert!(!path_continues("/mapsevil", "/maps"));
    assert!(!path_continues("/Maps", "/maps"));
    assert!(!path_continues("/map", "/maps"));
    assert!(!path_continues("/maps%2F..%2Fadmin", "/maps"));
}

#[test]
fn index_finds_entries_by_label_boundary_suffix() {
    let list = AllowedUrls::new(
        [
            "example.com",
            "https://docs.example.com/maps",
            "other.net",
            "EXAMPLE.COM",
        ]
        .iter()
        .map(|s| s.parse::<AllowedUrl>().unwrap()),
    );
    assert_eq!(list.entries().len(), 3);
    let found = |host: &str| list.candidates(host).map(ToString::to_string).collect::<Vec<_>>();
    assert_eq!(
        found("a.docs.example.com"),
        ["example.com", "https://docs.example.com/maps"]
    );
    assert_eq!(found("example.com"), ["example.com"]);
    assert!(found("badexample.com").is_empty());
    assert!(found("example.com.evil.net").is_empty());
    assert!(found("com").is_empty());
    assert_eq!(found("x.other.net"), ["other.net"]);
    let deep = format!("{}example.com", "a.".repeat(120));
    assert_eq!(found(&deep), ["example.com"]);
}

#[test]
fn single_label_names_off_the_list_stay_allowed() {
    for host in [
        "localhost",
        "intranet",
        "localhost:3000/maps",
        "alice.github.io",
        "example.co.uk",
    ] {
        assert!(host.parse::<AllowedUrl>().is_ok(), "{host}");
    }
}

#[test]
fn each_list_draws_its_own_seed() {
    // A list long enough to be hashed (a short one is scanned).
    let build =
        || AllowedUrls::new((0..=SMALL_LIST).map(|i| format!("h{i}.example.com").parse::<AllowedUrl>().unwrap()));
    let (a, b) = (build(), build());
    let hash = |l: &AllowedUrls| l.seed().unwrap().hash_bytes(b"example.com");
    assert_ne!(hash(&a), hash(&b));
    assert_eq!(a.candidates("x.h0.example.com").count(), 1);
    assert_eq!(b.candidates("x.h0.example.com").count(), 1);
}

/// A short list is scanned, a long one looked up; both give the same
/// candidates in the same order (shortest host first, then as given).
#[test]
fn scanned_and_hashed_lists_give_the_same_candidates() {
    let hosts = [
        "example.com",
        "docs.example.com",
        "https://example.com/maps",
        "a.docs.example.com",
        "other.net",
    ];
    let short = AllowedUrls::new(hosts.iter().map(|h| h.parse::<AllowedUrl>().unwrap()));
    assert!(short.seed().is_none());
    let padding = (0..SMALL_LIST).map(|i| format!("pad{i}.org"));
    let long = AllowedUrls::new(
        hosts
            .iter()
            .map(|h| h.to_string())
            .chain(padding)
            .map(|h| h.parse::<AllowedUrl>().unwrap()),
    );
    assert!(long.seed().is_some());
    for host in [
        "a.docs.example.com",
        "example.com",
        "x.other.net",
        "nope.org",
        "pad3.org",
    ] {
        let names = |l: &AllowedUrls| l.candidates(host).map(ToString::to_string).collect::<Vec<_>>();
        if host.ends_with(".org") {
            assert!(names(&short).is_empty());
        } else {
            assert_eq!(names(&short), names(&long), "{host}");
        }
    }
    let expected = [
        "example.com",
        "https://example.com/maps",
        "docs.example.com",
        "a.docs.example.com",
    ];
    assert_eq!(
        short
            .candidates("a.docs.example.com")
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        expected
    );
}

#[test]
fn covers_host_on_label_boundaries() {
    let e: AllowedUrl = "example.com".parse().unwrap();
    assert!(e.covers_host("example.com"));
    assert!(e.covers_host("a.b.example.com"));
    assert!(!e.covers_host("badexample.com"));
    assert!(!e.covers_host("example.com.evil.net"));
}

#[test]
fn accessors_give_the_normalized_parts() {
    let parts = |s: &str| {
        let u: AllowedUrl = s.parse().unwrap();
        (
            u.scheme().map(str::to_owned),
            u.host().to_owned(),
            u.port(),
            u.path().map(str::to_owned),
        )
    };
    assert_eq!(
        parts("HTTPS://Docs.Example.com.:8000/maps/"),
        (
            Some("https".into()),
            "docs.example.com".into(),
            Some(8000),
            Some("/maps".into())
        )
    );
    assert_eq!(
        parts("http://localhost/"),
        (Some("http".into()), "localhost".into(), None, None)
    );
    assert_eq!(parts("example.com"), (None, "example.com".into(), None, None));
}

fn urls(entries: &[&str]) -> AllowedUrls {
    AllowedUrls::new(entries.iter().map(|e| e.parse::<AllowedUrl>().unwrap()))
}

/// How the Referer alone (no Origin header) matches `list`.
fn referer_match(list: &AllowedUrls, referer: &str) -> RefererMatch {
    let target = crate::syntax::referer::parse_referer(referer).unwrap();
    list.match_referer(&target, None)
}

#[test]
fn an_entry_with_a_scheme_or_port_needs_that_scheme_or_port() {
    let l = urls(&["https://example.com:8443/maps", "http://localhost:3000"]);
    for ok in [
        "https://example.com:8443/maps/a",
        "https://a.example.com:8443/maps",
        "http://localhost:3000/",
        "http://a.localhost:3000/x",
    ] {
        assert_eq!(referer_match(&l, ok), RefererMatch::Allowed, "{ok}");
    }
    for no in [
        "https://example.com/maps/a",
        "https://example.com:8444/maps/a",
        "http://example.com:8443/maps/a",
        "http://localhost/",
        "http://localhost:3001/",
        "https://localhost:3000/",
    ] {
        assert_eq!(referer_match(&l, no), RefererMatch::NotAllowed, "{no}");
    }
}

#[test]
fn a_path_entry_takes_dotted_names_but_no_dot_segment() {
    let l = urls(&["example.com/maps"]);
    for ok in [
        "https://example.com/maps",
        "https://example.com/maps/style.json",
        "https://example.com/maps/v1.2/a..b%20c",
        "https://example.com/maps/...",
    ] {
        assert_eq!(referer_match(&l, ok), RefererMatch::Allowed, "{ok}");
    }
    for no in [
        "https://example.com/maps/../admin",
        "https://example.com/maps/%2E%2e/admin",
        "https://example.com/maps/./x",
        "https://example.com/maps/..",
        "https://example.com/mapsx",
    ] {
        assert_eq!(referer_match(&l, no), RefererMatch::NotAllowed, "{no}");
    }
}
