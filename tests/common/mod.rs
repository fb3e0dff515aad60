//! The one helper module of the test files: generators for the key side
//! (`key`) and the token side (`token`), the adversarial corpora's escape
//! syntax (`corpus`), and the proptest configuration every property uses.
//!
//! Each test binary compiles the whole module and uses part of it.

#![allow(
    dead_code,
    unused_imports,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a panic is a failed test; not every test file uses every generator"
)]

pub mod corpus;
pub mod key;
pub mod token;

/// A proptest configuration with `default` cases, or `PROPTEST_CASES` when
/// set (for longer runs: `PROPTEST_CASES=20000 cargo test --test invariants`).
///
/// Every run has a known seed, so that a failure seen once — in CI, say —
/// can be replayed exactly: `PROPTEST_RNG_SEED` when set, else a fresh
/// one. The seed is printed to the test's output, which the test harness
/// shows only for a failing test, beside proptest's minimal failing input;
/// rerun with both variables to get the same cases. Failures are not
/// written to regression files: each one found becomes a plain `#[test]`
/// (`tests/regressions.rs`, `tests/token_regressions.rs`).
pub fn cases(default: u32) -> proptest::test_runner::Config {
    let n = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    let seed = std::env::var("PROPTEST_RNG_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(fresh_seed);
    eprintln!("proptest: replay with PROPTEST_RNG_SEED={seed} PROPTEST_CASES={n}");
    proptest::test_runner::Config {
        cases: n,
        failure_persistence: None,
        rng_seed: proptest::test_runner::RngSeed::Fixed(seed),
        ..proptest::test_runner::Config::default()
    }
}

/// A seed that differs from run to run (and between the properties of one
/// run), so CI keeps exploring new cases.
fn fresh_seed() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::time::SystemTime::now())
}
