//! The registry at scale: a measurement binary (not criterion: what it
//! measures are one-off quantities — bytes held, a cold start — and
//! latency distributions of single changes). Run it in release:
//!
//! ```sh
//! cargo bench -p keypolicy-registry --bench scale              # 1,000,000 keys
//! cargo bench -p keypolicy-registry --bench scale -- 10000     # fewer keys
//! ```
//!
//! Each key is a typical web key: type `web`, 3 allowed domains, 2
//! tilesets, 2 scopes, all distinct per key (no sharing to help).
//!
//! 1. Memory of the index: bytes the process holds after inserting N keys
//!    into a [`CredentialIndex`], minus before (a counting allocator);
//!    compared with the same keys in the core's `KeyStore` map.
//! 2. One change applied to the N-key index (create, rotate, delete):
//!    median and p99 of 1,000 each, index only (the store is timed in 3).
//! 3. Cold start: N keys written to a SQLite file, then
//!    `Registry::open` — read, replay, compile, index.
//! 4. The whole guard on the opened registry, per allowed request, cycling
//!    through 10,000 distinct keys spread over the whole index (every
//!    N/10,000th key, in a shuffled order: neighbours in memory are not
//!    neighbours in time):
//!    - `Guard::check` alone — the key from the query string, its checksum
//!      and digest, the index lookup, `evaluate_key`, the CORS headers'
//!      values — on 10,000 requests built up front (what earlier runs
//!      measured; each request's own URI and headers are cold in the cache
//!      by the time it comes round again, which a served request's are not);
//!    - the layer over the inner service, as the tower layer runs it: the
//!      server builds the request from its text (URI, `Origin` header) and
//!      the inner service answers it (a response with a `Content-Type`);
//!      the layer adds `check` and the CORS headers on that response. The
//!      figure is the difference: (build + check + answer + CORS) minus
//!      (build + answer).
//!
//!    Each is timed as wall time and as the thread's time on a CPU
//!    (`/proc/thread-self/schedstat`), five rounds interleaved, median: on
//!    a shared machine the wall time includes waiting for a core.

#![allow(
    unsafe_code,
    reason = "a GlobalAlloc impl is unsafe by definition; it only delegates to System"
)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a measurement binary: a panic is a failed run"
)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::HashMap;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::{Duration, Instant};

use keypolicy::http::{Credential, KeyStore};
use keypolicy::http::{Guard, Target, Verdict};
use keypolicy::key::Resource;
use keypolicy::key::{KeyScope, KeyType};
use keypolicy::lifecycle::{Account, Change, KeyString, SeededRandom, SigningKey, SigningKeys};
use keypolicy::token::Timestamp;
use keypolicy::KeyPolicy;
use keypolicy_registry::{CredentialIndex, Registry, SqliteStore};

/// What a tile request asks for: `/v1/tiles/{tileset}/…`.
fn target(parts: &http::request::Parts) -> Option<Target<'_>> {
    let tileset = parts.uri.path().strip_prefix("/v1/tiles/")?.split('/').next()?;
    Some(Target::new(Resource::Tiles).with_tileset(tileset))
}

/// Bytes currently allocated by the whole process.
struct Counting;

static HELD: AtomicIsize = AtomicIsize::new(0);
static ALLOCATIONS: AtomicIsize = AtomicIsize::new(0);

fn size(layout: Layout) -> isize {
    isize::try_from(layout.size()).unwrap_or(isize::MAX)
}

// SAFETY: every method delegates to `System` unchanged; the counter is an
// atomic, which never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        HELD.fetch_add(size(layout), Ordering::Relaxed);
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        HELD.fetch_sub(size(layout), Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        HELD.fetch_add(size(layout), Ordering::Relaxed);
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        HELD.fetch_add(
            isize::try_from(new_size).unwrap_or(isize::MAX) - size(layout),
            Ordering::Relaxed,
        );
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn held() -> isize {
    HELD.load(Ordering::Relaxed)
}

fn allocations() -> isize {
    ALLOCATIONS.load(Ordering::Relaxed)
}

/// This thread's time on a CPU so far (the scheduler's own account, in
/// ns): unlike wall time, it excludes waiting for a core.
fn cpu_time() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .map(Duration::from_nanos)
        .unwrap_or_default()
}

/// Wall and CPU time of `run`.
fn timed(run: impl FnOnce()) -> (Duration, Duration) {
    let (wall, cpu) = (Instant::now(), cpu_time());
    run();
    (wall.elapsed(), cpu_time().saturating_sub(cpu))
}

/// A deterministic shuffle (xorshift), so runs compare.
fn shuffle<T>(items: &mut [T]) {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in (1..items.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        items.swap(i, (state % (i as u64 + 1)) as usize);
    }
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn web_key(i: usize) -> KeyPolicy {
    KeyPolicy::builder()
        .key_type(KeyType::Web)
        .scopes([KeyScope::TilesRead, KeyScope::StylesRead])
        .allowed_domains([
            format!("https://app{i}.example.com"),
            format!("www.site{i}.com"),
            format!("*.cdn{i}.example.net"),
        ])
        .allowed_tilesets([format!("user{i}.streets"), format!("user{i}.terrain")])
        .build()
        .unwrap()
}

const T0: i64 = 1_767_225_600;

fn at(unix: i64) -> Timestamp {
    Timestamp::from_unix_seconds(unix).unwrap()
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    let i = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[i.min(samples.len() - 1)]
}

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    println!("keys: {n}");
    let mut rng = SeededRandom::new(1);

    // The keys and their strings, made up front (not measured).
    let strings: Vec<KeyString> = (0..n).map(|_| KeyString::generate(&mut rng).unwrap()).collect();

    // 1. Memory: today's KeyStore map, then the index.
    let before = held();
    let store: HashMap<Box<str>, Credential> = strings
        .iter()
        .enumerate()
        .map(|(i, s)| (Box::from(s.as_str()), Credential::from(web_key(i))))
        .collect();
    let store = KeyStore::new(store);
    let keystore_bytes = held() - before;
    println!(
        "memory, KeyStore (HashMap<Box<str>, Credential>): {} bytes/key",
        keystore_bytes / n as isize
    );
    drop(store);

    let opened = Account::open("alice", at(T0), &mut rng).unwrap();
    let mut account = opened.account;
    let index = CredentialIndex::new();
    let before = held();
    for (i, s) in strings.iter().enumerate() {
        let change = Change::KeyCreated {
            id: format!("k{i:023}"),
            digest: s.digest(),
            policy: web_key(i),
            at: at(T0),
        };
        index.apply_for_bench(&change, &account);
    }
    let index_bytes = held() - before;
    println!("memory, CredentialIndex: {} bytes/key", index_bytes / n as isize);
    // What of that is the compiled policies themselves (a sample).
    let sample = 10_000.min(n);
    let before = held();
    let policies: Vec<std::sync::Arc<KeyPolicy>> = (0..sample).map(|i| std::sync::Arc::new(web_key(i))).collect();
    let policy_bytes = held() - before - (sample * std::mem::size_of::<std::sync::Arc<KeyPolicy>>()) as isize;
    println!(
        "  of which the compiled policy (Arc<KeyPolicy>, its entries, their strings): {} bytes/key; KeyPolicy itself {} bytes inline",
        policy_bytes / sample as isize,
        std::mem::size_of::<KeyPolicy>()
    );
    drop(policies);

    // 2. One change on the N-key index. The account learns the keys too
    //    (rotate and delete read it), outside the measured window.
    let started = Instant::now();
    for (i, s) in strings.iter().enumerate() {
        let change = Change::KeyCreated {
            id: format!("k{i:023}"),
            digest: s.digest(),
            policy: web_key(i),
            at: at(T0),
        };
        account.apply(&change).unwrap();
    }
    println!("(account replay of {n} keys: {:.2?})", started.elapsed());
    let ops = 1_000.min(n);
    let mut create = Vec::with_capacity(ops);
    let mut rotate = Vec::with_capacity(ops);
    let mut delete = Vec::with_capacity(ops);
    for i in 0..ops {
        let fresh = KeyString::generate(&mut rng).unwrap();
        let change = Change::KeyCreated {
            id: format!("n{i:023}"),
            digest: fresh.digest(),
            policy: web_key(n + i),
            at: at(T0),
        };
        let t = Instant::now();
        index.apply_for_bench(&change, &account);
        create.push(t.elapsed());
        account.apply(&change).unwrap();

        let id = format!("k{i:023}");
        let retired = account.key(&id).unwrap().digest;
        let change = Change::KeyRotated {
            id: id.clone(),
            retired,
            digest: KeyString::generate(&mut rng).unwrap().digest(),
            grace_until: Some(at(T0 + 60)),
            at: at(T0),
        };
        let t = Instant::now();
        index.apply_for_bench(&change, &account);
        rotate.push(t.elapsed());
        account.apply(&change).unwrap();

        let change = Change::KeyDeleted { id, at: at(T0) };
        let t = Instant::now();
        index.apply_for_bench(&change, &account);
        delete.push(t.elapsed());
        account.apply(&change).unwrap();
    }
    for (name, samples) in [
        ("create", &mut create),
        ("rotate", &mut rotate),
        ("delete", &mut delete),
    ] {
        let median = percentile(samples, 0.5);
        let p99 = percentile(samples, 0.99);
        println!("change applied to the {n}-key index, {name}: median {median:.2?}, p99 {p99:.2?}");
    }
    drop(account);
    drop(index);

    // 3. Cold start from SQLite.
    let dir = std::env::temp_dir().join(format!("keypolicy-scale-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("scale.db");
    let signing = SigningKeys::new(SigningKey::new("bench", &[1; 32]).unwrap());
    {
        let mut store = SqliteStore::open(&path).unwrap();
        let opened = Account::open("alice", at(T0), &mut rng).unwrap();
        let changes: Vec<Change> = std::iter::once(opened.change)
            .chain(strings.iter().enumerate().map(|(i, s)| Change::KeyCreated {
                id: format!("k{i:023}"),
                digest: s.digest(),
                policy: web_key(i),
                at: at(T0),
            }))
            .collect();
        let t = Instant::now();
        store.append_all("alice", &changes).unwrap();
        println!(
            "(setup: {} changes written in one transaction: {:.2?})",
            changes.len(),
            t.elapsed()
        );
    }
    let t = Instant::now();
    let registry = Registry::open(SqliteStore::open(&path).unwrap(), signing).unwrap();
    let cold = t.elapsed();
    assert_eq!(registry.index().key_count(), n + 1);
    println!("cold start, {n} keys from SQLite (read, replay, compile, index): {cold:.2?}");

    // 4. The guard, as the tower layer runs it, over the registry.
    let registry = std::sync::Arc::new(registry);
    let guard = Guard::new(std::sync::Arc::clone(&registry), target);
    let sample = 10_000.min(n);
    // `SCALE_KEYS=first` requests the first 10,000 keys in order instead,
    // as runs before 2026-12-02 did (their policies were allocated one
    // after the other, so they sit together in memory: the kind case).
    let first = std::env::var("SCALE_KEYS").is_ok_and(|v| v == "first");
    let mut chosen: Vec<usize> = (0..sample).map(|j| if first { j } else { j * (n / sample) }).collect();
    if !first {
        shuffle(&mut chosen);
    }
    // Each request's text, as a server reads it off the wire.
    let texts: Vec<(String, http::HeaderValue)> = chosen
        .iter()
        .map(|&i| {
            let uri = format!("/v1/tiles/user{i}.streets/0/0/0.png?key={}", strings[i].as_str());
            let origin = http::HeaderValue::try_from(format!("https://app{i}.example.com")).unwrap();
            (uri, origin)
        })
        .collect();
    // The request a server builds from that text (what hyper does before
    // any layer runs): its URI and headers are fresh in the cache, as a
    // real request's are when the layer sees it.
    let parse = |(uri, origin): &(String, http::HeaderValue)| {
        let mut parts = http::Request::new(()).into_parts().0;
        parts.uri = http::Uri::try_from(uri.as_str()).unwrap();
        parts.headers.insert(http::header::ORIGIN, origin.clone());
        parts
    };
    let requests: Vec<http::request::Parts> = texts.iter().map(parse).collect();
    for parts in &requests {
        assert!(
            matches!(guard.check::<String>(parts), Verdict::Pass(_)),
            "{:?}",
            parts.uri
        );
    }
    // The inner service: a tile response with its content type.
    let inner = || {
        let mut response = http::Response::new(());
        response
            .headers_mut()
            .insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("image/png"));
        response
    };
    let check_only = || {
        for parts in &requests {
            let _ = std::hint::black_box(guard.check::<String>(std::hint::black_box(parts)));
        }
    };
    // The server's own work per request: build it, answer it.
    let inner_only = || {
        for text in &texts {
            std::hint::black_box(parse(std::hint::black_box(text)));
            std::hint::black_box(inner());
        }
    };
    let layer = || {
        for text in &texts {
            let parts = parse(std::hint::black_box(text));
            match guard.check::<String>(&parts) {
                Verdict::Pass(cors) => {
                    let mut response = inner();
                    cors.apply(response.headers_mut());
                    std::hint::black_box(response);
                }
                Verdict::Answer(response) => {
                    std::hint::black_box(response);
                }
            }
        }
    };
    let count = requests.len() as u32;
    let allocations_per = |run: &dyn Fn()| {
        let before = allocations();
        run();
        (allocations() - before) as f64 / f64::from(count)
    };
    println!(
        "allocations per request: check {:.2}, inner service {:.2}, layer + inner {:.2}",
        allocations_per(&check_only),
        allocations_per(&inner_only),
        allocations_per(&layer)
    );
    let rounds = 10;
    let (mut check_wall, mut check_cpu) = (Vec::new(), Vec::new());
    let (mut inner_wall, mut inner_cpu) = (Vec::new(), Vec::new());
    let (mut layer_wall, mut layer_cpu) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        for (run, wall, cpu) in [
            (&check_only as &dyn Fn(), &mut check_wall, &mut check_cpu),
            (&inner_only, &mut inner_wall, &mut inner_cpu),
            (&layer, &mut layer_wall, &mut layer_cpu),
        ] {
            let (w, c) = timed(|| (0..rounds).for_each(|_| run()));
            wall.push(w / (rounds * count));
            cpu.push(c / (rounds * count));
        }
    }
    let (check_wall, check_cpu) = (median(check_wall), median(check_cpu));
    let (inner_wall, inner_cpu) = (median(inner_wall), median(inner_cpu));
    let (layer_wall, layer_cpu) = (median(layer_wall), median(layer_cpu));
    println!("guard per allowed request at {n} keys (query, checksum, digest, lookup, evaluate, CORS): {check_wall:.2?} wall, {check_cpu:.2?} on CPU");
    println!(
        "the layer over the inner service at {n} keys (check + CORS headers on the response, minus the service): {:.2?} wall, {:.2?} on CPU (inner service alone {inner_wall:.2?} wall, {inner_cpu:.2?} on CPU)",
        layer_wall.saturating_sub(inner_wall),
        layer_cpu.saturating_sub(inner_cpu)
    );
    drop(guard);
    drop(registry);
    std::fs::remove_dir_all(&dir).unwrap();
}
