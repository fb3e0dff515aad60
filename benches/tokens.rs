//! `evaluate_token` against a token with 100 allowed URLs.
//!
//! `cargo bench --bench tokens`. The Referer is matched by host suffix
//! lookups in a hash map, so the cost should not depend on the number of
//! entries; the target is ≤150 ns for a Referer with a path.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "benchmark setup")]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use keypolicy::{evaluate_token, TokenPolicy, TokenRequest, TokenScope, TokenUsage};

fn hundred_urls() -> TokenPolicy {
    let urls: Vec<String> = (0..100)
        .map(|i| match i % 4 {
            0 => format!("https://site{i}.example.com/maps/{i}"),
            1 => format!("site{i}.example.org"),
            2 => format!("http://site{i}.example.net:8080/app"),
            _ => format!("https://shop{i}.example.com"),
        })
        .collect();
    TokenPolicy::builder(TokenUsage::Public)
        .scopes([TokenScope::StylesRead, TokenScope::FontsRead])
        .allowed_urls(urls)
        .build()
        .unwrap()
}

fn bench(c: &mut Criterion) {
    let token = hundred_urls();
    let unrestricted = TokenPolicy::builder(TokenUsage::Public)
        .scope(TokenScope::StylesRead)
        .build()
        .unwrap();
    let cases = [
        (
            "allowed_path",
            "https://tiles.site40.example.com/maps/40/paris/3/4/2?fresh=true",
        ),
        ("allowed_host", "https://a.b.site41.example.org/whatever/page.html"),
        ("denied_path", "https://site40.example.com/maps/41/paris"),
        ("denied_host", "https://www.evil-site.example.net/maps/40/"),
        ("unusable", "https://user@site40.example.com/maps/40"),
    ];
    for (name, referer) in cases {
        // A page's requests carry its own origin in `Origin`.
        let origin = referer.splitn(4, '/').take(3).collect::<Vec<_>>().join("/");
        let request = TokenRequest::new(TokenScope::StylesRead)
            .with_referer(referer)
            .with_origin(origin);
        c.bench_function(&format!("token_100_urls/{name}"), |b| {
            b.iter(|| evaluate_token(black_box(&token), black_box(&request)).is_allowed())
        });
    }
    // The rare case: an Origin other than the Referer's own must be parsed.
    let request = TokenRequest::new(TokenScope::StylesRead)
        .with_referer("https://tiles.site40.example.com/maps/40/paris")
        .with_origin("https://www.site40.example.com");
    c.bench_function("token_100_urls/allowed_other_origin", |b| {
        b.iter(|| evaluate_token(black_box(&token), black_box(&request)).is_allowed())
    });
    let request = TokenRequest::new(TokenScope::StylesRead);
    c.bench_function("token_unrestricted", |b| {
        b.iter(|| evaluate_token(black_box(&unrestricted), black_box(&request)).is_allowed())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
