//! Regression tests for bugs found by the reliability suite (property
//! tests, reference model, adversarial corpus, fuzzing), one test per bug,
//! through the public API. Each names the tool that found it.

use keypolicy::key::{AllowedDomain, KeyPolicyError, KeyType, Resource};
use keypolicy::{evaluate_key, Denial, KeyPolicy, KeyRequest};

fn decide(policy: &KeyPolicy, origin: &str) -> Option<Denial> {
    evaluate_key(policy, &KeyRequest::new(Resource::Tiles).with_origin(origin)).denial()
}

/// Found while probing `AllowedDomain` Display re-parsing to write the
/// generators; `invariants::normalized_entries_reparse_to_themselves` and
/// `json_round_trip_keeps_decisions` fail without the fix.
/// `www.www.example.com` displayed as `www.example.com`,
/// which parses to a different entry, so a policy read back from its own
/// JSON allowed `example.com` and denied `www.www.example.com`.
#[test]
fn double_www_entry_survives_display_and_json() {
    let entry: AllowedDomain = "www.www.example.com".parse().unwrap();
    assert_eq!(entry.to_string().parse::<AllowedDomain>().unwrap(), entry);

    let policy = KeyPolicy::builder()
        .allowed_domains(["www.www.example.com"])
        .build()
        .unwrap();
    let reread: KeyPolicy = serde_json::from_str(&serde_json::to_string(&policy).unwrap()).unwrap();
    for (origin, expected) in [
        ("https://www.www.example.com", None),
        ("https://www.example.com", Some(Denial::OriginNotAllowed)),
        ("https://example.com", Some(Denial::OriginNotAllowed)),
    ] {
        assert_eq!(decide(&policy, origin), expected, "{origin}");
        assert_eq!(decide(&reread, origin), expected, "{origin} after JSON");
    }
}

/// Found by the same probe; without the fix every `invariants` property
/// that builds a policy with an upper-case IPv6 entry fails. An upper-case
/// IPv6 entry went through UTS-46, which refuses brackets and colons, so a valid
/// entry failed to build ("hosts compare case-insensitively").
#[test]
fn upper_case_ipv6_entries_are_accepted() {
    let policy = KeyPolicy::builder()
        .allowed_domains(["http://[::FFFF:7F00:1]:8080"])
        .build()
        .unwrap();
    assert_eq!(policy.allowed_domains()[0].to_string(), "[::ffff:127.0.0.1]");
    assert_eq!(decide(&policy, "http://[::ffff:7f00:1]"), None);
    assert_eq!(decide(&policy, "http://127.0.0.1"), Some(Denial::OriginNotAllowed));
}

/// Found by `model::model_agrees_on_derived_requests`: invalid punycode in
/// an app-scheme Origin was compared as text (allowed by a `web` key,
/// `origin_not_allowed` with domains) instead of `origin_invalid`, and an
/// app entry with invalid punycode was accepted.
#[test]
fn invalid_punycode_is_invalid_for_app_schemes_too() {
    let web = KeyPolicy::builder().key_type(KeyType::Web).build().unwrap();
    assert_eq!(decide(&web, "capacitor://xn--zz"), Some(Denial::OriginInvalid));
    assert_eq!(decide(&web, "capacitor://localhost"), None);

    let apps = KeyPolicy::builder()
        .allowed_domains(["capacitor://localhost"])
        .build()
        .unwrap();
    assert_eq!(decide(&apps, "capacitor://xn--zz"), Some(Denial::OriginInvalid));
    assert_eq!(decide(&apps, "CAPACITOR://XN--ZZ"), Some(Denial::OriginInvalid));
    assert_eq!(
        decide(&apps, "capacitor://xn--mnchen-3ya.de"),
        Some(Denial::OriginNotAllowed)
    );

    let err = KeyPolicy::builder()
        .allowed_domains(["capacitor://xn--zz"])
        .build()
        .unwrap_err();
    assert!(matches!(err, KeyPolicyError::InvalidDomain { index: 0, .. }), "{err:?}");
}

/// Found by `model::model_agrees_on_derived_requests`: `www.` was folded
/// only when what remained had a dot, and only on the side that had one,
/// so the entry `www.localhost` allowed the Origin `www.www.localhost` but
/// not `localhost`. Issue 2: one leading `www.` label is ignored.
#[test]
fn one_leading_www_is_folded_whatever_remains() {
    let policy = KeyPolicy::builder().allowed_domains(["www.localhost"]).build().unwrap();
    assert_eq!(decide(&policy, "http://localhost:3000"), None);
    assert_eq!(decide(&policy, "http://www.localhost:3000"), None);
    assert_eq!(
        decide(&policy, "http://www.www.localhost"),
        Some(Denial::OriginNotAllowed)
    );

    let policy = KeyPolicy::builder().allowed_domains(["localhost"]).build().unwrap();
    assert_eq!(decide(&policy, "http://www.localhost"), None);

    let policy = KeyPolicy::builder().allowed_domains(["www.example"]).build().unwrap();
    assert_eq!(decide(&policy, "https://example"), None);
    assert_eq!(
        decide(&policy, "https://www.www.example"),
        Some(Denial::OriginNotAllowed)
    );
}
