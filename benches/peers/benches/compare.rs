//! Side-by-side benchmark: keypolicy vs a naive check, Cedar, and Rego
//! (regorus interpreter and bytecode VM), on the same keys and requests.
//!
//! Before anything is timed, every engine must give keypolicy's decision
//! on every input; a disagreement panics (it is a failed run). Each case is
//! then timed for every engine, named `group/case/engine`.
//!
//! ```sh
//! cargo bench -p keypolicy-peers                      # full run
//! cargo bench -p keypolicy-peers -- --test            # smoke run (CI)
//! cargo bench -p keypolicy-peers -- web_key/allowed/  # one case
//! ```

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "bench setup: a panic is a failed run"
)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use keypolicy_peers::{Cedar, Engine, Input, KeySpec, Keypolicy, Naive, RegoInterpreter, RegoVm};

#[path = "../../common/mod.rs"]
mod common;
use common::{WEB_DOMAINS, WEB_TILESETS};

const SCOPES: [&str; 4] = ["tiles:read", "styles:read", "static:read", "export:read"];

fn spec(domains: Vec<String>) -> KeySpec {
    KeySpec {
        key_type: "web",
        scopes: SCOPES.map(String::from).to_vec(),
        domains,
        tilesets: WEB_TILESETS.map(String::from).to_vec(),
    }
}

/// 10 domains, 4 scopes, 10 tilesets.
fn web_key() -> KeySpec {
    spec(WEB_DOMAINS.map(String::from).to_vec())
}

/// 10,000 exact domains and 1,000 wildcard entries.
fn allowlist_10k() -> KeySpec {
    let exact = (0..10_000).map(|i| format!("https://host-{i}.customer-{}.example.org", i % 97));
    let wildcards = (0..1_000).map(|i| format!("*.zone-{i}.example.net"));
    spec(exact.chain(wildcards).collect())
}

fn tiles(origin: &str) -> Input {
    Input {
        origin: Some(origin.to_owned()),
        resource: "tiles",
        tileset: Some("alice.streets-v2".to_owned()),
    }
}

/// The engines, named as they appear in the output.
fn engines(spec: &KeySpec) -> Vec<(&'static str, Box<dyn Engine>)> {
    vec![
        ("keypolicy", Box::new(Keypolicy::new(spec).expect("keypolicy"))),
        ("naive", Box::new(Naive::new(spec).expect("naive"))),
        ("cedar", Box::new(Cedar::new(spec).expect("cedar"))),
        ("rego_interpreter", Box::new(RegoInterpreter::new(spec).expect("rego"))),
        ("rego_vm", Box::new(RegoVm::new(spec).expect("rego vm"))),
    ]
}

/// Panics unless every engine gives `expected` on every input (the first
/// engine is keypolicy, so this also checks keypolicy's own answer).
fn check_agreement(group: &str, engines: &mut [(&'static str, Box<dyn Engine>)], cases: &[(&str, Input, bool)]) {
    for (case, input, expected) in cases {
        for (name, engine) in engines.iter_mut() {
            let got = engine.allowed(input);
            assert_eq!(
                got, *expected,
                "{group}/{case}: {name} says allowed={got}, keypolicy and the expectation say {expected}"
            );
        }
    }
}

/// Checks that every engine agrees with keypolicy (and with `expected`) on
/// every input, then times each engine on each input.
fn compare(c: &mut Criterion, group: &str, spec: &KeySpec, cases: &[(&str, Input, bool)]) {
    let mut engines = engines(spec);
    check_agreement(group, &mut engines, cases);
    for (case, input, _) in cases {
        let mut g = c.benchmark_group(format!("{group}/{case}"));
        for (name, engine) in &mut engines {
            g.bench_function(*name, |b| b.iter(|| engine.allowed(black_box(input))));
        }
        g.finish();
    }
}

fn input(origin: Option<&str>, resource: &'static str, tileset: Option<&str>) -> Input {
    Input {
        origin: origin.map(str::to_owned),
        resource,
        tileset: tileset.map(str::to_owned),
    }
}

/// Rules the timed cases do not reach (no Origin, scopes, tilesets, other
/// key types): checked for agreement only, so that the peers' policies are
/// known to express the whole rule set, not just the timed paths.
fn check_rules_agreement() {
    let web = web_key();
    let cases = [
        ("no_origin", input(None, "tiles", Some("alice.streets-v2")), false),
        (
            "no_tileset",
            input(Some("https://app.example.com"), "tiles", None),
            false,
        ),
        (
            "styles_no_tileset",
            input(Some("https://app.example.com"), "styles", None),
            true,
        ),
        ("composite_tileset", tiles_with("alice.streets-v2,bob.transit"), true),
        ("denied_tileset", tiles_with("mallory.secret"), false),
        (
            "partly_denied_tileset",
            tiles_with("alice.streets-v2,mallory.secret"),
            false,
        ),
        ("www_origin", tiles("https://www.app.example.com"), true),
        ("port_origin", tiles("https://app.example.com:8443"), true),
        ("subdomain_not_allowed", tiles("https://a.app.example.com"), false),
        ("wildcard_apex_not_allowed", tiles("https://cdn.example.com"), false),
        ("suffix_not_allowed", tiles("https://evilapp.example.com"), false),
    ];
    check_agreement("rules/web_key", &mut engines(&web), &cases);

    let tiles_only = KeySpec {
        scopes: vec!["tiles:read".to_owned()],
        ..web_key()
    };
    let cases = [
        ("tiles", tiles("https://app.example.com"), true),
        (
            "styles_scope_missing",
            input(Some("https://app.example.com"), "styles", None),
            false,
        ),
    ];
    check_agreement("rules/tiles_only", &mut engines(&tiles_only), &cases);

    for (key_type, no_origin_allowed) in [("any", true), ("desktop", true), ("server", true), ("web", false)] {
        let bare = KeySpec {
            key_type,
            scopes: Vec::new(),
            domains: Vec::new(),
            tilesets: Vec::new(),
        };
        let cases = [
            ("no_origin", input(None, "tiles", None), no_origin_allowed),
            (
                "any_origin",
                input(Some("https://anything.example"), "export", None),
                true,
            ),
        ];
        check_agreement(&format!("rules/{key_type}_no_domains"), &mut engines(&bare), &cases);
    }
}

fn tiles_with(tileset: &str) -> Input {
    input(Some("https://app.example.com"), "tiles", Some(tileset))
}

fn web_key_cases(c: &mut Criterion) {
    check_rules_agreement();
    let cases = [
        ("allowed", tiles("https://app.example.com"), true),
        ("denied_origin", tiles("https://evil.example.net"), false),
        ("uppercase_origin", tiles("HTTPS://APP.EXAMPLE.COM"), true),
        ("punycode_origin", tiles("https://xn--mnchen-3ya.de"), true),
        ("wildcard_hit", tiles("https://eu.tiles.cdn.example.com"), true),
    ];
    compare(c, "web_key", &web_key(), &cases);
}

fn allowlist_10k_cases(c: &mut Criterion) {
    let cases = [
        ("allowed", tiles("https://host-5000.customer-53.example.org"), true),
        (
            "denied_origin",
            tiles("https://host-5000.customer-54.example.org"),
            false,
        ),
        ("wildcard_hit", tiles("https://eu.tiles.zone-500.example.net"), true),
    ];
    compare(c, "allowlist_10k", &allowlist_10k(), &cases);
}

fn hostile_cases(c: &mut Criterion) {
    let origin = format!("https://{}.com", "a".repeat(100 * 1024 - "https://.com".len()));
    let cases = [("100kb_origin", tiles(&origin), false)];
    compare(c, "hostile", &web_key(), &cases);
}

criterion_group!(benches, web_key_cases, allowlist_10k_cases, hostile_cases);
criterion_main!(benches);
