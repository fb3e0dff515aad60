//! Throughput of `decide replay` for API-key requests: log lines per
//! second through the streaming comparer, JSON lines and access-log lines
//! (issue 14's target: at least 1,000,000 lines/s per core, release).
//!
//! Each iteration replays the same 10,000-line log held in memory (so the
//! disk is not measured) from the seed's `any` key to a `web` key with
//! domains, the README's migration path, and builds the report. JSON lines
//! are parsed with serde_json, as the CLI does. Before timing, each
//! case's report is checked, so the bench cannot measure a replay that
//! fails to parse its lines.
//!
//! ```sh
//! cargo bench --bench replay -- --warm-up-time 1 --measurement-time 3
//! ```

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "bench setup: a panic is a failed run"
)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use keypolicy::replay::{JsonLine, Replay};
use keypolicy::{KeyPolicy, KeyRequest};

const LINES: usize = 10_000;

/// Origins in the log: mostly the site, some partners, some without Origin.
const ORIGINS: [&str; 8] = [
    "https://app.example.com",
    "https://www.mappinest.com",
    "https://app.example.com",
    "https://partner.example.net",
    "https://app.example.com",
    "-",
    "https://mappinest.com",
    "https://staging.example.com",
];

fn policies() -> (KeyPolicy, KeyPolicy) {
    let new = KeyPolicy::builder()
        .key_type(keypolicy::key::KeyType::Web)
        .scopes([
            keypolicy::key::KeyScope::TilesRead,
            keypolicy::key::KeyScope::StylesRead,
        ])
        .allowed_domains(["https://www.mappinest.com", "https://app.example.com"])
        .build()
        .unwrap();
    (KeyPolicy::unrestricted(), new)
}

fn json_log() -> Vec<String> {
    (0..LINES)
        .map(|i| {
            let origin = ORIGINS[i % ORIGINS.len()];
            if origin == "-" {
                format!(
                    r#"{{"request": {{"tileset": "alice.streets"}}, "count": {}}}"#,
                    1 + i % 3
                )
            } else {
                format!(r#"{{"request": {{"origin": "{origin}", "tileset": "alice.streets"}}}}"#)
            }
        })
        .collect()
}

fn access_log() -> Vec<String> {
    (0..LINES)
        .map(|i| {
            let origin = ORIGINS[i % ORIGINS.len()];
            let referer = if origin == "-" { "-".to_owned() } else { format!("{origin}/map") };
            format!(
                r#"203.0.113.{} - - [22/Nov/2026:14:30:{:02} +0000] "GET /v1/tiles/alice.streets/{}/{}/{}.png?key=K HTTP/1.1" 200 812 "{referer}" "Mozilla/5.0 (X11; Linux x86_64)" "{origin}""#,
                i % 250,
                i % 60,
                i % 18,
                i % 1000,
                i % 700
            )
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let (old, new) = policies();
    let mut group = c.benchmark_group("replay");
    group.throughput(Throughput::Elements(LINES as u64));
    let json = json_log();
    let replay_json = || {
        let mut replay = Replay::keys(old.clone(), new.clone());
        for (i, line) in json.iter().enumerate() {
            match serde_json::from_str::<JsonLine<KeyRequest<'_>>>(line) {
                Ok(l) => replay.record_key(&l.request, l.count, None),
                Err(e) => replay.unparsed(i as u64 + 1, e.to_string()),
            }
        }
        replay.report()
    };
    let report = replay_json();
    assert_eq!((report.lines, report.unparsed_lines), (LINES as u64, 0));
    assert!(report.newly_denied > 0 && report.unchanged > 0, "{report}");
    group.bench_function("key_json_lines", |b| b.iter(|| black_box(replay_json())));
    let log = access_log();
    let replay_log = || {
        let mut replay = Replay::keys(old.clone(), new.clone());
        for (i, line) in log.iter().enumerate() {
            if let Err(e) = replay.access_log_line(line) {
                replay.unparsed(i as u64 + 1, e.to_string());
            }
        }
        replay.report()
    };
    let report = replay_log();
    assert_eq!((report.lines, report.unparsed_lines), (LINES as u64, 0));
    assert!(report.newly_denied > 0 && report.unchanged > 0, "{report}");
    group.bench_function("key_access_log", |b| b.iter(|| black_box(replay_log())));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
