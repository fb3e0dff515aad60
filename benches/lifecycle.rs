//! Criterion benchmarks of the credential lifecycle's hot paths (feature
//! `lifecycle`): what an edge node does with a token or key string before
//! a request is served.
//!
//! ```sh
//! cargo bench --features lifecycle --bench lifecycle -- --warm-up-time 1 --measurement-time 3
//! cargo bench --features lifecycle --bench lifecycle -- --test     # smoke run
//! ```
//!
//! Targets (issue 11, in BENCHMARKS.md): verify + decode + evaluate a `tk`
//! ≤ 1 µs median; verify a `pk` and find its metadata ≤ 500 ns; refuse a
//! malformed 4 KB string ≤ 50 ns. Each case's outcome is asserted before
//! it is timed.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "bench setup: a panic is a failed run"
)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use keypolicy::lifecycle::{
    Account, Actor, CreatedToken, ResolvedToken, SeededRandom, SigningKey, SigningKeys, TokenBody,
};
use keypolicy::token::{Timestamp, TokenScope};
use keypolicy::{evaluate_token, TokenRequest};

struct Setup {
    account: Account,
    signing: SigningKeys,
    tk: String,
    pk: String,
    key: String,
    now: Timestamp,
}

fn setup() -> Setup {
    let now: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
    let mut rng = SeededRandom::new(11);
    let signing = SigningKeys::new(SigningKey::new("bench", &[9u8; 32]).unwrap());
    let opened = Account::open("alice", now, &mut rng).unwrap();
    let mut account = opened.account;
    // A realistic account: a few hundred tokens and keys around the ones used.
    let mut sk = String::new();
    for i in 0..300 {
        let scopes = if i == 0 {
            vec![
                "tokens:write".to_owned(),
                "styles:read".to_owned(),
                "fonts:read".to_owned(),
            ]
        } else {
            vec!["styles:read".to_owned()]
        };
        let body = TokenBody {
            scopes: Some(scopes),
            note: Some(format!("token {i}")),
            ..TokenBody::default()
        };
        let planned = account
            .create_token(&signing, Actor::Owner, body, now, &mut rng)
            .unwrap();
        if let CreatedToken::Permanent(t) = account.commit(planned).unwrap() {
            if i == 0 {
                sk = t.token.unwrap();
            }
        }
        let planned = account
            .create_key(keypolicy::KeyPolicy::unrestricted(), now, &mut rng)
            .unwrap();
        account.commit(planned).unwrap();
    }
    let pk = account.default_token_string(&signing).unwrap();
    let body = TokenBody {
        scopes: Some(vec!["styles:read".into(), "fonts:read".into()]),
        expires: Some("2026-01-01T00:30:00Z".into()),
        ..TokenBody::default()
    };
    let planned = account
        .create_token(&signing, Actor::Token(&sk), body, now, &mut rng)
        .unwrap();
    let CreatedToken::Temporary(tk) = account.commit(planned).unwrap() else {
        panic!("expected a tk")
    };
    let key = opened.default_key.as_str().to_owned();
    Setup {
        account,
        signing,
        tk: tk.token,
        pk,
        key,
        now,
    }
}

fn benches(c: &mut Criterion) {
    let s = setup();
    let request = TokenRequest::new(TokenScope::StylesRead).with_now(s.now);
    let malformed = format!("pk.{}", "A".repeat(4093));
    assert_eq!(malformed.len(), 4096);

    // Checked once before timing.
    let tk = s.signing.verify(&s.tk).unwrap();
    assert!(evaluate_token(&tk.temporary_policy().unwrap(), &request).is_allowed());
    assert!(matches!(
        s.account.resolve_token(&s.signing, &s.pk),
        Some(ResolvedToken::Permanent(_))
    ));
    assert!(s.signing.verify(&malformed).is_err());
    assert!(s.account.find_key(&s.key, s.now).is_some());

    let mut group = c.benchmark_group("lifecycle");
    group.bench_function("tk_verify_decode_evaluate", |b| {
        b.iter(|| {
            let token = s.signing.verify(black_box(&s.tk)).unwrap();
            let policy = token.temporary_policy().unwrap();
            evaluate_token(&policy, black_box(&request)).is_allowed()
        })
    });
    group.bench_function("pk_verify_find_metadata", |b| {
        b.iter(|| s.account.resolve_token(&s.signing, black_box(&s.pk)).is_some())
    });
    group.bench_function("malformed_4kb_refused", |b| {
        b.iter(|| s.signing.verify(black_box(&malformed)).is_err())
    });
    group.bench_function("key_checksum_digest_find", |b| {
        b.iter(|| s.account.find_key(black_box(&s.key), s.now).is_some())
    });
    group.finish();
}

criterion_group!(lifecycle, benches);
criterion_main!(lifecycle);
