//! Fleet measurements on a real PostgreSQL (not criterion: these are
//! end-to-end latencies and CPU time, measured once).
//!
//! ```text
//! eval "$(bash .ci/postgres start)"
//! cargo bench -p keypolicy-registry --bench propagation
//! bash .ci/postgres stop "$KEYPOLICY_PG_DIR"
//! ```
//!
//! 1. **Revocation propagation**: three registries in one process share
//!    one database; B and C follow it (LISTEN + catch-up) while a load
//!    thread looks keys up on them at 5,000 lookups/s. Node A deletes a
//!    key; the time from A's `write` returning (the commit acknowledged)
//!    to the first refusal on B, on C, and on the later of the two.
//! 2. **Following cost**: A writes 100 changes/s for 10 s; the CPU time
//!    of B's and C's follower threads (from `/proc/self/task`), and of
//!    the PostgreSQL server processes, over that window.
//!
//! Needs `KEYPOLICY_TEST_POSTGRES` (a superuser URL: it creates and drops
//! a database of its own); without it, says so and exits.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "measurement code: a panic is a failed run"
)]

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use keypolicy::http::KeyLookup;
use keypolicy::key::KeyType;
use keypolicy::lifecycle::{SeededRandom, SigningKey, SigningKeys};
use keypolicy::token::Timestamp;
use keypolicy::KeyPolicy;
use keypolicy_registry::{FollowOptions, Follower, PgConfig, PgStore, Registry};

const REVOCATIONS: usize = 200;
const LOAD_PER_SECOND: u64 = 5_000;
const CHANGES_PER_SECOND: u64 = 100;
const CPU_WINDOW: Duration = Duration::from_secs(10);
/// Linux reports /proc CPU times in USER_HZ ticks, 100 per second on
/// every mainstream architecture.
const TICKS_PER_SECOND: u64 = 100;

fn main() {
    // `cargo bench` passes `--bench`; nothing else is expected.
    let Ok(url) = std::env::var("KEYPOLICY_TEST_POSTGRES") else {
        println!("propagation: skipped (KEYPOLICY_TEST_POSTGRES is not set; `bash .ci/postgres start` prints it)");
        return;
    };
    let admin: PgConfig = url.parse().unwrap();
    let name = format!("kp_bench_{}", std::process::id());
    admin
        .connect(postgres::NoTls)
        .unwrap()
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .unwrap();
    let mut config = admin.clone();
    config.dbname(&name);

    run(&config);

    let _ = admin
        .connect(postgres::NoTls)
        .unwrap()
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
}

fn signing() -> SigningKeys {
    SigningKeys::new(SigningKey::new("bench", &[7; 32]).unwrap())
}

fn at(unix: i64) -> Timestamp {
    Timestamp::from_unix_seconds(unix).unwrap()
}

fn policy() -> KeyPolicy {
    KeyPolicy::builder()
        .key_type(KeyType::Web)
        .allowed_domains(["app.example.com", "www.example.org", "localhost"])
        .build()
        .unwrap()
}

fn open(config: &PgConfig, seed: u64) -> Arc<Registry<PgStore>> {
    let store = PgStore::with_config(config.clone()).unwrap();
    Arc::new(Registry::open_with_rng(store, signing(), Box::new(SeededRandom::new(seed))).unwrap())
}

fn follow(registry: &Arc<Registry<PgStore>>, config: &PgConfig) -> Follower {
    Follower::start(Arc::clone(registry), config.clone(), FollowOptions::default().quiet()).unwrap()
}

fn run(config: &PgConfig) {
    const T0: i64 = 1_767_225_600;
    let a = open(config, 1);
    let b = open(config, 2);
    let c = open(config, 3);
    let _fb = follow(&b, config);
    let _fc = follow(&c, config);

    a.ensure_account("alice", at(T0)).unwrap();
    let mut keys = Vec::with_capacity(REVOCATIONS);
    for _ in 0..REVOCATIONS {
        let created = a
            .write("alice", |account, rng| account.create_key(policy(), at(T0), rng))
            .unwrap()
            .unwrap();
        keys.push((created.id, created.key.unwrap()));
    }
    wait_for("B and C to have every key", || {
        keys.iter().all(|(_, k)| b.lookup(k).is_some() && c.lookup(k).is_some())
    });

    // The tile load: lookups of a live key on B and C, paced.
    let stop = Arc::new(AtomicBool::new(false));
    let served = Arc::new(AtomicU64::new(0));
    let load_key = a
        .write("alice", |account, rng| account.create_key(policy(), at(T0), rng))
        .unwrap()
        .unwrap()
        .key
        .unwrap();
    wait_for("the load key", || {
        b.lookup(&load_key).is_some() && c.lookup(&load_key).is_some()
    });
    let load = {
        let (b, c, stop, served) = (Arc::clone(&b), Arc::clone(&c), Arc::clone(&stop), Arc::clone(&served));
        std::thread::spawn(move || {
            let started = Instant::now();
            // Bounded: stops when told, or after 10 minutes at most.
            while !stop.load(Ordering::Relaxed) && started.elapsed() < Duration::from_secs(600) {
                let due = served.load(Ordering::Relaxed) * 1_000_000 / LOAD_PER_SECOND;
                let now = u64::try_from(started.elapsed().as_micros()).unwrap();
                if now < due {
                    std::thread::sleep(Duration::from_micros((due - now).min(1_000)));
                    continue;
                }
                let node = if served.load(Ordering::Relaxed) % 2 == 0 {
                    &b
                } else {
                    &c
                };
                assert!(node.lookup(&load_key).is_some());
                served.fetch_add(1, Ordering::Relaxed);
            }
        })
    };

    // 1. Revocation propagation.
    let load_started = Instant::now();
    let served_before = served.load(Ordering::Relaxed);
    let mut on_b = Vec::with_capacity(REVOCATIONS);
    let mut on_c = Vec::with_capacity(REVOCATIONS);
    let mut on_last = Vec::with_capacity(REVOCATIONS);
    for (id, key) in &keys {
        a.write("alice", |account, _| account.delete_key(id, at(T0 + 1)))
            .unwrap()
            .unwrap();
        let committed = Instant::now();
        let (mut tb, mut tc) = (None, None);
        // Bounded: 10 s per revocation at most.
        while (tb.is_none() || tc.is_none()) && committed.elapsed() < Duration::from_secs(10) {
            if tb.is_none() && b.lookup(key).is_none() {
                tb = Some(committed.elapsed());
            }
            if tc.is_none() && c.lookup(key).is_none() {
                tc = Some(committed.elapsed());
            }
            std::thread::sleep(Duration::from_micros(20));
        }
        let (tb, tc) = (tb.expect("B never refused"), tc.expect("C never refused"));
        on_b.push(tb);
        on_c.push(tc);
        on_last.push(tb.max(tc));
        // Apart, so each revocation is measured on its own.
        std::thread::sleep(Duration::from_millis(10));
    }
    let load_rate = (served.load(Ordering::Relaxed) - served_before) as f64 / load_started.elapsed().as_secs_f64();
    println!("revocation propagation, {REVOCATIONS} deletes on A, B and C following (LISTEN/NOTIFY + catch-up),");
    println!("under {load_rate:.0} lookups/s on B and C (in-process), commit acknowledged -> first refusal:");
    report("  on B          ", &mut on_b);
    report("  on C          ", &mut on_c);
    report("  last of B, C  ", &mut on_last);

    // 2. Following cost at 100 changes/s.
    let followers_before = follower_ticks();
    let server_before = server_ticks();
    let started = Instant::now();
    let mut written: u64 = 0;
    let mut live: Option<String> = None;
    while started.elapsed() < CPU_WINDOW {
        let due = Duration::from_micros(written * 1_000_000 / CHANGES_PER_SECOND);
        if let Some(wait) = due.checked_sub(started.elapsed()) {
            std::thread::sleep(wait);
        }
        // Alternate creates and deletes, so the index stays small.
        match live.take() {
            None => {
                let created = a
                    .write("alice", |account, rng| account.create_key(policy(), at(T0 + 2), rng))
                    .unwrap()
                    .unwrap();
                live = Some(created.id);
            }
            Some(id) => {
                a.write("alice", |account, _| account.delete_key(&id, at(T0 + 2)))
                    .unwrap()
                    .unwrap();
            }
        }
        written += 1;
    }
    let elapsed = started.elapsed();
    wait_for("B and C to catch up", || {
        b.revision() == a.revision() && c.revision() == a.revision()
    });
    let followers = follower_ticks().saturating_sub(followers_before);
    let server = server_ticks().saturating_sub(server_before);
    let seconds = elapsed.as_secs_f64();
    let rate = written as f64 / seconds;
    println!("following cost: {written} changes in {seconds:.1} s ({rate:.0}/s) written on A, followed by B and C:");
    println!(
        "  follower threads (B + C): {:.1} ms CPU in total = {:.2}% of one core per node, {:.0} us per change per node",
        ticks_ms(followers),
        ticks_ms(followers) / 2.0 / (seconds * 10.0),
        ticks_ms(followers) * 1_000.0 / 2.0 / written as f64
    );
    println!(
        "  PostgreSQL server processes (A's writes and B's, C's reads): {:.1} ms CPU = {:.2}% of one core",
        ticks_ms(server),
        ticks_ms(server) / (seconds * 10.0)
    );
    println!("  (CPU times from /proc at 10 ms resolution; load thread still at {LOAD_PER_SECOND} lookups/s)");

    stop.store(true, Ordering::Relaxed);
    load.join().unwrap();
}

fn report(label: &str, samples: &mut [Duration]) {
    samples.sort();
    let at = |q: f64| {
        let i = ((samples.len() as f64 - 1.0) * q).round() as usize;
        samples[i.min(samples.len() - 1)]
    };
    println!(
        "{label} p50 {:>7.2} ms   p99 {:>7.2} ms   max {:>7.2} ms",
        at(0.5).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        at(1.0).as_secs_f64() * 1e3
    );
}

fn ticks_ms(ticks: u64) -> f64 {
    ticks as f64 * 1_000.0 / TICKS_PER_SECOND as f64
}

/// utime + stime (fields 14 and 15) of a `/proc/.../stat` line; the
/// command name (field 2) may hold spaces, so count after its `)`.
fn stat_ticks(stat: &str) -> u64 {
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state): utime is field 14, stime 15.
    let get = |i: usize| fields.get(i - 3).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    get(14) + get(15)
}

/// CPU ticks of this process's follower threads.
fn follower_ticks() -> u64 {
    let mut total = 0;
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim() == "keypolicy-follo" || comm.trim() == "keypolicy-follow" {
            total += stat_ticks(&std::fs::read_to_string(task.path().join("stat")).unwrap_or_default());
        }
    }
    total
}

/// CPU ticks of every PostgreSQL server process on the machine (the
/// bench's cluster is the only one in CI).
fn server_ticks() -> u64 {
    let mut total = 0;
    for process in std::fs::read_dir("/proc").unwrap().flatten() {
        let comm = std::fs::read_to_string(process.path().join("comm")).unwrap_or_default();
        if comm.trim() == "postgres" {
            total += stat_ticks(&std::fs::read_to_string(process.path().join("stat")).unwrap_or_default());
        }
    }
    total
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}
