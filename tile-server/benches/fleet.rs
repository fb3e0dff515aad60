//! Revocation propagation across a fleet, over HTTP: three `tile_server`
//! processes (release builds) on loopback share one PostgreSQL database
//! (the throwaway cluster `.ci/postgres` starts: `KEYPOLICY_TEST_POSTGRES`).
//! A load generator keeps tile requests with live keys flowing to all
//! three nodes over keep-alive connections; meanwhile keys are deleted
//! through node A one at a time, and for each the time from A's
//! committing answer (204) to the first refusal (401) on B, on C, and on
//! the later of the two is measured by probes polling those nodes. Then,
//! without load, the CPU each following node spends while A takes 100
//! changes/s.
//!
//! ```sh
//! eval "$(bash .ci/postgres start)"
//! cargo bench -p tile-server --bench fleet              # the full run
//! cargo bench -p tile-server --bench fleet -- --quick   # a short smoke run (CI)
//! cargo bench -p tile-server --bench fleet -- --rate 10000   # another load (default 6,000/s)
//! bash .ci/postgres stop "$KEYPOLICY_PG_DIR"
//! ```
//!
//! A measurement binary (no criterion): end-to-end latencies, measured
//! once. It fails (exit 1) when a live key is ever refused or a deleted key
//! is not refused within 10 s; it asserts nothing about time.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::cast_precision_loss,
    reason = "a measurement binary: a panic is a failed run"
)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::Request;
use hyper_util::rt::TokioIo;

#[path = "../tests/support/process.rs"]
#[allow(dead_code, reason = "the benchmark uses part of the tests' helpers")]
mod process;
use process::{Server, APP, OWNER, WEB};

#[path = "../../registry/tests/postgres_support/mod.rs"]
mod postgres_support;
use postgres_support::{cluster, TestDatabase};

/// How long one request may take, and a deleted key may stay served,
/// before the run fails.
const LIMIT: Duration = Duration::from_secs(10);

/// The run's size.
struct Settings {
    /// Tile requests per second the load aims at, over all nodes.
    rate: u32,
    /// Keys the load uses (never deleted).
    live_keys: usize,
    /// Keys deleted one at a time under load, each timed.
    revocations: usize,
    /// Keep-alive load connections per node.
    connections: usize,
    /// Load before the first revocation (the throughput window).
    warm_up: Duration,
    /// Pause between revocations.
    gap: Duration,
    /// Length of the idle and the following windows.
    follow: Duration,
}

impl Settings {
    fn from_args() -> Settings {
        let args: Vec<String> = std::env::args().collect();
        let quick = args.iter().any(|a| a == "--quick");
        let rate = args
            .iter()
            .position(|a| a == "--rate")
            .and_then(|i| args.get(i + 1))
            .map_or(6_000, |r| r.parse().expect("--rate: a number of requests per second"));
        if quick {
            Settings {
                rate,
                live_keys: 30,
                revocations: 20,
                connections: 4,
                warm_up: Duration::from_secs(2),
                gap: Duration::from_millis(10),
                follow: Duration::from_secs(2),
            }
        } else {
            Settings {
                rate,
                live_keys: 200,
                revocations: 200,
                connections: 8,
                warm_up: Duration::from_secs(5),
                gap: Duration::from_millis(20),
                follow: Duration::from_secs(10),
            }
        }
    }
}

type Sender = hyper::client::conn::http1::SendRequest<Empty<Bytes>>;

/// A keep-alive HTTP/1.1 connection to `addr`.
async fn connect(addr: SocketAddr) -> Sender {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    sender
}

/// One request on `sender`, its body read to the end; its status.
async fn send(sender: &mut Sender, addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)]) -> u16 {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header("host", addr.to_string());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request.body(Empty::new()).unwrap();
    let exchange = async {
        sender.ready().await.unwrap();
        let response = sender.send_request(request).await.unwrap();
        let status = response.status().as_u16();
        response.into_body().collect().await.unwrap();
        status
    };
    tokio::time::timeout(LIMIT, exchange)
        .await
        .unwrap_or_else(|_| panic!("{method} {path} on {addr}: no answer within {LIMIT:?}"))
}

/// A tile request with `key` from the allowed origin; `n` picks the tile.
async fn tile(sender: &mut Sender, addr: SocketAddr, key: &str, n: u64) -> u16 {
    let (x, y) = (n % 16, (n / 16) % 16);
    let path = format!("/v1/tiles/alice.streets/4/{x}/{y}.png?key={key}");
    send(sender, addr, "GET", &path, &[("origin", APP)]).await
}

/// What the load generator counts.
#[derive(Default)]
struct Counters {
    served: AtomicU64,
    refused: AtomicU64,
}

/// Tile requests with live keys on one connection, one every `period`
/// (late ones are sent at once, so the rate holds while the node keeps
/// up), until `stop`.
async fn load(
    addr: SocketAddr,
    keys: Arc<Vec<String>>,
    stop: Arc<AtomicBool>,
    counters: Arc<Counters>,
    start: u64,
    period: Duration,
) {
    let mut sender = connect(addr).await;
    let mut n = start;
    let mut ticks = tokio::time::interval(period);
    while !stop.load(Ordering::Relaxed) {
        ticks.tick().await;
        let key = &keys[usize::try_from(n).unwrap() % keys.len()];
        if tile(&mut sender, addr, key, n).await == 200 {
            counters.served.fetch_add(1, Ordering::Relaxed);
        } else {
            counters.refused.fetch_add(1, Ordering::Relaxed);
        }
        n += 7;
    }
}

/// Polls `addr` with `key` until it is refused; the time since `since`.
async fn until_refused(sender: &mut Sender, addr: SocketAddr, key: &str, since: Instant) -> Duration {
    let mut n = 0;
    loop {
        match tile(sender, addr, key, n).await {
            401 => return since.elapsed(),
            200 => {}
            other => panic!("a deleted key answered {other} on {addr}"),
        }
        assert!(
            since.elapsed() < LIMIT,
            "{addr} still serves a key deleted {LIMIT:?} ago"
        );
        n += 1;
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((sorted.len() as f64 - 1.0) * p).round();
    sorted[rank as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// CPU time (user + system) a process has used, from `/proc`.
fn cpu(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name (which may hold spaces): state is 3rd,
    // utime 14th, stime 15th.
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after.split(' ').collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    Duration::from_secs_f64(ticks as f64 / clock_ticks() as f64)
}

fn clock_ticks() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100)
}

/// Waits (bounded) until every node has applied A's revision.
fn converge(nodes: &[&Server]) {
    let target = nodes[0].health()["revision"].clone();
    let deadline = Instant::now() + LIMIT;
    while !nodes.iter().all(|n| n.health()["revision"] == target) {
        assert!(
            Instant::now() < deadline,
            "nodes did not reach revision {target} within {LIMIT:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn main() {
    let settings = Settings::from_args();
    let Some(url) = cluster("fleet benchmark") else {
        return;
    };
    let db = TestDatabase::create(&url, "fleet_bench");
    let exe = env!("CARGO_BIN_EXE_tile_server");
    let a = Server::start_with(exe, &db.url, &[]);
    let b = Server::start_with(exe, &db.url, &[]);
    let c = Server::start_with(exe, &db.url, &[]);

    let live: Vec<String> = (0..settings.live_keys).map(|_| a.create_key(WEB).1).collect();
    let doomed: Vec<(String, String)> = (0..settings.revocations).map(|_| a.create_key(WEB)).collect();
    converge(&[&a, &b, &c]);
    println!(
        "fleet: 3 nodes, {} live keys, {} keys to revoke, {} load connections per node, aiming at {} tile requests/s",
        live.len(),
        doomed.len(),
        settings.connections,
        settings.rate
    );

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (addrs, owner) = ([a.addr, b.addr, c.addr], format!("Bearer {OWNER}"));
    let latencies = runtime.block_on(async {
        let live = Arc::new(live);
        let stop = Arc::new(AtomicBool::new(false));
        let counters = Arc::new(Counters::default());
        let mut tasks = Vec::new();
        let connections = u32::try_from(addrs.len() * settings.connections).unwrap();
        let period = Duration::from_secs(1) * connections / settings.rate;
        for (i, addr) in addrs.iter().enumerate() {
            for j in 0..settings.connections {
                let start = u64::try_from(i * settings.connections + j).unwrap();
                tasks.push(tokio::spawn(load(
                    *addr,
                    Arc::clone(&live),
                    Arc::clone(&stop),
                    Arc::clone(&counters),
                    start,
                    period,
                )));
            }
        }
        // Throughput under load alone.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let (t0, n0) = (Instant::now(), counters.served.load(Ordering::Relaxed));
        tokio::time::sleep(settings.warm_up).await;
        let warm_rate = (counters.served.load(Ordering::Relaxed) - n0) as f64 / t0.elapsed().as_secs_f64();

        // Revocations under load.
        let mut control = connect(addrs[0]).await;
        let mut probes = [connect(addrs[1]).await, connect(addrs[2]).await];
        let (t1, n1) = (Instant::now(), counters.served.load(Ordering::Relaxed));
        let mut latencies = Vec::with_capacity(doomed.len());
        for (id, key) in &doomed {
            let status = send(
                &mut control,
                addrs[0],
                "DELETE",
                &format!("/keys/v1/alice/{id}"),
                &[("authorization", &owner)],
            )
            .await;
            assert_eq!(status, 204, "delete {id}");
            let acknowledged = Instant::now();
            let [probe_b, probe_c] = &mut probes;
            let (on_b, on_c) = tokio::join!(
                until_refused(probe_b, addrs[1], key, acknowledged),
                until_refused(probe_c, addrs[2], key, acknowledged),
            );
            latencies.push((on_b, on_c));
            tokio::time::sleep(settings.gap).await;
        }
        let under_revocations = (counters.served.load(Ordering::Relaxed) - n1) as f64 / t1.elapsed().as_secs_f64();
        stop.store(true, Ordering::Relaxed);
        for task in tasks {
            task.await.unwrap();
        }
        let refused = counters.refused.load(Ordering::Relaxed);
        assert_eq!(refused, 0, "live keys were refused {refused} times");
        println!(
            "load: {warm_rate:.0} tile requests/s served (load alone); {under_revocations:.0}/s during the revocations; \
             {} served in all, 0 refused",
            counters.served.load(Ordering::Relaxed)
        );
        latencies
    });
    drop(runtime);

    let mut on_b: Vec<Duration> = latencies.iter().map(|l| l.0).collect();
    let mut on_c: Vec<Duration> = latencies.iter().map(|l| l.1).collect();
    let mut last: Vec<Duration> = latencies.iter().map(|l| l.0.max(l.1)).collect();
    println!("commit → refusal ({} revocations) | p50 | p99 | max", latencies.len());
    for (name, values) in [("on B", &mut on_b), ("on C", &mut on_c), ("last of B and C", &mut last)] {
        values.sort_unstable();
        println!(
            "{name} | {} | {} | {}",
            ms(percentile(values, 0.5)),
            ms(percentile(values, 0.99)),
            ms(*values.last().unwrap())
        );
    }

    // Following cost: B and C idle, then while A takes 100 changes/s.
    let pids = [a.pid(), b.pid(), c.pid()];
    let before: Vec<Duration> = pids.iter().map(|p| cpu(*p)).collect();
    std::thread::sleep(settings.follow);
    let idle: Vec<Duration> = pids.iter().zip(&before).map(|(p, b)| cpu(*p) - *b).collect();
    let before: Vec<Duration> = pids.iter().map(|p| cpu(*p)).collect();
    let start = Instant::now();
    let changes = u32::try_from(settings.follow.as_millis() / 10).unwrap();
    let mut pending = None;
    for i in 0..changes {
        // Paced: change i is due at i × 10 ms.
        let due = start + Duration::from_millis(u64::from(i) * 10);
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
        match pending.take() {
            None => pending = Some(a.create_key(WEB).0),
            Some(id) => assert_eq!(a.owner("DELETE", &format!("/keys/v1/alice/{id}"), None).status, 204),
        }
    }
    converge(&[&a, &b, &c]);
    let window = start.elapsed();
    let busy: Vec<Duration> = pids.iter().zip(&before).map(|(p, b)| cpu(*p) - *b).collect();
    let rate = f64::from(changes) / window.as_secs_f64();
    println!(
        "following {changes} changes at {rate:.0}/s over {window:.1?}: CPU per node (idle window of {:?} in brackets)",
        settings.follow
    );
    for (name, (busy, idle)) in ["A (writes)", "B (follows)", "C (follows)"]
        .iter()
        .zip(busy.iter().zip(&idle))
    {
        println!(
            "{name} | {} | {:.2} % of a core ({} idle)",
            ms(*busy),
            busy.as_secs_f64() / window.as_secs_f64() * 100.0,
            ms(*idle)
        );
    }
}
