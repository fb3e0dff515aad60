//! What-if replay: every count of the report, both log formats, keys and
//! tokens, the bounded top tables, and the shipped sample log.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a panic is a failed test"
)]

use keypolicy::key::Resource;
use keypolicy::replay::{JsonLine, Recorded, Replay, ReplayReport};
use keypolicy::{Denial, KeyPolicy, KeyRequest, TokenPolicy, TokenRequest};

fn key(json: &str) -> KeyPolicy {
    serde_json::from_str(json).unwrap()
}

fn token(json: &str) -> TokenPolicy {
    serde_json::from_str(json).unwrap()
}

/// What `decide replay` does with a JSON line of a key log.
fn json_key_line(replay: &mut Replay, number: u64, line: &str) {
    match serde_json::from_str::<JsonLine<KeyRequest<'_>>>(line) {
        Ok(l) => replay.record_key(&l.request, l.count, None),
        Err(e) => replay.unparsed(number, e.to_string()),
    }
}

fn log_line(origin: &str, referer: &str, path: &str) -> String {
    format!(r#"198.51.100.1 - - [22/Nov/2026:14:30:00 +0000] "GET {path} HTTP/1.1" 200 10 "{referer}" "ua" "{origin}""#)
}

fn transitions(report: &ReplayReport) -> Vec<(Option<Denial>, Option<Denial>, u64)> {
    report.transitions.iter().map(|t| (t.old, t.new, t.requests)).collect()
}

fn top(rows: &[keypolicy::replay::TopEntry]) -> Vec<(&str, u64)> {
    rows.iter().map(|r| (r.key.as_str(), r.count)).collect()
}

#[test]
fn counts_by_transition() {
    let old = key(r#"{"scopes": ["tiles:read"], "allowed_tilesets": ["alice.*"]}"#);
    let new =
        key(r#"{"key_type": "web", "scopes": ["tiles:read", "styles:read"], "allowed_domains": ["app.example.com"]}"#);
    let mut replay = Replay::keys(old, new);
    let lines = [
        // allowed -> allowed
        r#"{"request": {"origin": "https://app.example.com", "tileset": "alice.streets"}, "count": 10}"#,
        // allowed -> origin_required
        r#"{"request": {"tileset": "alice.streets"}, "count": 4}"#,
        // allowed -> origin_not_allowed
        r#"{"request": {"origin": "https://evil.example.net", "tileset": "alice.a,alice.b"}}"#,
        // scope_missing -> allowed
        r#"{"request": {"origin": "https://app.example.com", "resource": "styles"}, "count": 3}"#,
        // tileset_not_allowed -> allowed
        r#"{"request": {"origin": "https://app.example.com", "tileset": "bob.x"}, "count": 2}"#,
        // tileset_not_allowed -> origin_required (reason changed)
        r#"{"request": {"tileset": "bob.x"}, "count": 5}"#,
        // scope_missing -> scope_missing (unchanged denial)
        r#"{"request": {"origin": "https://app.example.com", "resource": "export"}}"#,
    ];
    for (i, line) in lines.iter().enumerate() {
        json_key_line(&mut replay, i as u64 + 1, line);
    }
    let report = replay.report();
    assert_eq!(report.credential, "key");
    assert_eq!((report.lines, report.requests), (7, 26));
    assert_eq!((report.skipped_lines, report.unparsed_lines), (0, 0));
    assert_eq!(report.newly_denied, 5);
    assert_eq!(report.newly_allowed, 5);
    assert_eq!(report.reason_changed, 5);
    assert_eq!(report.unchanged, 11);
    use Denial::*;
    assert_eq!(
        transitions(&report),
        [
            (None, None, 10),
            (Some(TilesetNotAllowed), Some(OriginRequired), 5),
            (None, Some(OriginRequired), 4),
            (Some(ScopeMissing), None, 3),
            (Some(TilesetNotAllowed), None, 2),
            (None, Some(OriginNotAllowed), 1),
            (Some(ScopeMissing), Some(ScopeMissing), 1),
        ]
    );
    let denied = &report.top_newly_denied;
    assert_eq!(top(&denied.origins), [("(none)", 4), ("https://evil.example.net", 1)]);
    // A composite counts each of its tilesets.
    assert_eq!(
        top(&denied.tilesets),
        [("alice.streets", 4), ("alice.a", 1), ("alice.b", 1)]
    );
    assert_eq!(top(&denied.referers), [("(none)", 5)]);
    assert!(denied.exact);
    let allowed = &report.top_newly_allowed;
    assert_eq!(top(&allowed.origins), [("https://app.example.com", 5)]);
    assert_eq!(top(&allowed.tilesets), [("bob.x", 2)]);
}

#[test]
fn unparsed_lines_are_counted_and_the_first_kept() {
    let mut replay = Replay::keys(KeyPolicy::unrestricted(), KeyPolicy::unrestricted());
    for i in 1..=25 {
        json_key_line(&mut replay, i, r#"{"request": {"resource": "maps"}}"#);
    }
    json_key_line(
        &mut replay,
        26,
        r#"{"request": {"origin": "https://a.com", "referer": "x"}}"#,
    );
    json_key_line(&mut replay, 27, r#"{"request": {}, "count": -1}"#);
    assert_eq!(
        replay.access_log_line("garbage"),
        Err(keypolicy::replay::AccessLogError::Format { what: "no [time]" })
    );
    let report = replay.report();
    assert_eq!(report.unparsed_lines, 27);
    assert_eq!(report.lines, 0);
    assert_eq!(report.errors.len(), Replay::ERRORS_KEPT);
    assert_eq!(report.errors[0].0, 1);
    assert!(
        report.errors[0].1.contains("unknown variant `maps`"),
        "{}",
        report.errors[0].1
    );
}

#[test]
fn access_log_lines() {
    let old = KeyPolicy::unrestricted();
    let new = key(r#"{"key_type": "web", "allowed_domains": ["app.example.com"], "allowed_tilesets": ["alice.*"]}"#);
    let mut replay = Replay::keys(old, new);
    let cases = [
        (
            log_line(
                "https://app.example.com",
                "https://app.example.com/map?token=secret",
                "/v1/tiles/alice.streets/1/2/3.png",
            ),
            Recorded::Replayed,
        ),
        (
            log_line(
                "https://app.example.com",
                "-",
                "/v1/tiles/bob.x%2Calice.streets/1/2/3.png",
            ),
            Recorded::Replayed,
        ),
        (log_line("-", "-", "/v1/styles/alice/streets"), Recorded::Replayed),
        (
            log_line("https://app.example.com", "-", "/tiles-auth?tileset=alice.terrain"),
            Recorded::Replayed,
        ),
        (
            log_line("https://app.example.com", "-", "/tiles-auth"),
            Recorded::Replayed,
        ),
        (log_line("-", "-", "/robots.txt"), Recorded::Skipped),
        (log_line("-", "-", "/v1/tiles/"), Recorded::Skipped),
    ];
    for (line, expected) in &cases {
        assert_eq!(replay.access_log_line(line), Ok(*expected), "{line}");
    }
    // No Origin field at all: the plain combined format is refused, not
    // read as "no Origin" (which would invent origin_required denials).
    let combined = r#"1.2.3.4 - - [22/Nov/2026:14:30:00 +0000] "GET /v1/styles/a/b HTTP/1.1" 200 1 "-" "curl/8""#;
    assert!(replay.access_log_line(combined).is_err());
    let report = replay.report();
    assert_eq!((report.lines, report.requests, report.skipped_lines), (5, 5, 2));
    assert_eq!(report.unchanged, 2);
    assert_eq!(report.newly_denied, 3);
    use Denial::*;
    assert!(transitions(&report).contains(&(None, Some(TilesetNotAllowed), 2)));
    assert!(transitions(&report).contains(&(None, Some(OriginRequired), 1)));
    let denied = &report.top_newly_denied;
    assert_eq!(top(&denied.tilesets), [("alice.streets", 1), ("bob.x", 1)]);
    assert_eq!(top(&denied.origins), [("https://app.example.com", 2), ("(none)", 1)]);
    // Referers are counted up to their path: queries may carry secrets.
    let mut replay = Replay::keys(
        KeyPolicy::unrestricted(),
        key(r#"{"key_type": "web", "allowed_domains": ["x.org"]}"#),
    );
    replay.access_log_line(&cases[0].0).unwrap();
    assert_eq!(
        top(&replay.report().top_newly_denied.referers),
        [("https://app.example.com/map", 1)]
    );
}

#[test]
fn token_replays() {
    let old = token(r#"{"usage": "pk", "scopes": ["styles:read", "styles:tiles"]}"#);
    let new = token(
        r#"{"usage": "pk", "scopes": ["styles:read", "styles:tiles"], "allowedUrls": ["https://example.com/maps"]}"#,
    );
    let mut replay = Replay::tokens(old, new);
    assert!(replay.is_tokens());
    for line in [
        r#"{"request": {"scope": "styles:read", "referer": "https://example.com/maps/x"}, "count": 7}"#,
        r#"{"request": {"scope": "styles:read", "referer": "https://example.com/"}, "count": 2}"#,
        r#"{"request": {"scope": "styles:read"}}"#,
    ] {
        let l: JsonLine<TokenRequest<'_>> = serde_json::from_str(line).unwrap();
        replay.record_token(&l.request, l.count);
    }
    replay
        .access_log_line(&log_line(
            "https://example.com",
            "https://example.com/maps/",
            "/v1/tiles/a.b/1/2/3.png",
        ))
        .unwrap();
    // Export is not a token API: skipped.
    assert_eq!(
        replay.access_log_line(&log_line("-", "-", "/v1/export/a")),
        Ok(Recorded::Skipped)
    );
    // A key request in a token replay is a mistake, counted as unparsed.
    replay.record_key(&KeyRequest::new(Resource::Tiles), 1, None);
    let report = replay.report();
    assert_eq!(report.credential, "token");
    assert_eq!((report.lines, report.requests), (4, 11));
    assert_eq!((report.skipped_lines, report.unparsed_lines), (1, 1));
    assert_eq!(report.newly_denied, 3);
    assert_eq!(report.unchanged, 8);
    assert_eq!(
        top(&report.top_newly_denied.referers),
        [("https://example.com/", 2), ("(none)", 1)]
    );
}

#[test]
fn temporary_tokens_are_judged_at_the_logged_time() {
    let old = token(r#"{"usage": "tk", "scopes": ["styles:read"], "expires": "2026-11-22T15:00:00Z"}"#);
    let new = token(r#"{"usage": "tk", "scopes": ["styles:read"], "expires": "2026-11-22T14:45:00Z"}"#);
    let mut replay = Replay::tokens(old, new);
    let at = |time: &str| format!(r#"1.2.3.4 - - [{time}] "GET /v1/styles/a/b HTTP/1.1" 200 1 "-" "ua" "-""#);
    replay.access_log_line(&at("22/Nov/2026:14:30:00 +0000")).unwrap();
    replay.access_log_line(&at("22/Nov/2026:06:50:00 -0800")).unwrap();
    replay.access_log_line(&at("22/Nov/2026:15:10:00 +0000")).unwrap();
    assert!(replay.access_log_line(&at("yesterday")).is_err());
    let report = replay.report();
    use Denial::*;
    assert_eq!(
        transitions(&report),
        [
            (None, None, 1),
            (None, Some(TokenExpired), 1),
            (Some(TokenExpired), Some(TokenExpired), 1)
        ]
    );
}

#[test]
fn top_tables_are_bounded() {
    let mut replay = Replay::keys(
        KeyPolicy::unrestricted(),
        key(r#"{"key_type": "web", "allowed_domains": ["a.com"]}"#),
    );
    let n = Replay::TOP_CAPACITY + 500;
    let origins: Vec<String> = (0..n).map(|i| format!("https://site{i}.example")).collect();
    for origin in &origins {
        replay.record_key(&KeyRequest::new(Resource::Tiles).with_origin(origin.as_str()), 1, None);
    }
    for _ in 0..50 {
        replay.record_key(
            &KeyRequest::new(Resource::Tiles).with_origin("https://heavy.example"),
            1,
            None,
        );
    }
    let report = replay.report();
    assert_eq!(report.newly_denied, n as u64 + 50);
    let origins = &report.top_newly_denied.origins;
    assert_eq!(origins.len(), Replay::TOP_SHOWN);
    assert_eq!(origins[0].key, "https://heavy.example");
    assert!(origins[0].count >= 50 && origins[0].count - origins[0].overcount <= 50);
    assert!(!report.top_newly_denied.exact);
}

#[test]
fn json_form() {
    let mut replay = Replay::keys(KeyPolicy::unrestricted(), key(r#"{"key_type": "web"}"#));
    replay.record_key(&KeyRequest::new(Resource::Tiles), 2, Some("https://a.com/p?q"));
    replay.unparsed(9, "bad");
    let json = serde_json::to_value(replay.report()).unwrap();
    assert_eq!(json["credential"], "key");
    assert_eq!(json["requests"], 2);
    assert_eq!(json["newly_denied"], 2);
    assert_eq!(json["errors"], serde_json::json!([{"line": 9, "message": "bad"}]));
    assert_eq!(
        json["transitions"],
        serde_json::json!([{"old": "allowed", "new": "origin_required", "requests": 2}])
    );
    assert_eq!(
        json["top_newly_denied"]["referers"],
        serde_json::json!([{"key": "https://a.com/p", "count": 2, "overcount": 0}])
    );
    for field in [
        "lines",
        "skipped_lines",
        "unparsed_lines",
        "newly_allowed",
        "reason_changed",
        "unchanged",
        "top_newly_allowed",
    ] {
        assert!(json.get(field).is_some(), "{field}");
    }
}

/// The README's migration path: the seed's `any` key tightened to `web`
/// with domains, over the shipped sample log.
#[test]
fn shipped_sample_log() {
    let read = |path: &str| std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let mut replay = Replay::keys(
        key(&read("examples/replay/old.json")),
        key(&read("examples/replay/new.json")),
    );
    for line in read("examples/replay/access.log").lines() {
        replay.access_log_line(line).unwrap();
    }
    let report = replay.report();
    assert_eq!((report.lines, report.skipped_lines, report.unparsed_lines), (105, 1, 0));
    assert_eq!(report.newly_denied, 22);
    assert_eq!(report.unchanged, 83);
    let origins = top(&report.top_newly_denied.origins);
    assert_eq!(origins[0], ("(none)", 8));
    assert!(origins.contains(&("https://app.example.co", 3)));
    assert!(origins.contains(&("http://localhost:3000", 4)));

    let mut replay = Replay::keys(
        key(&read("examples/replay/old.json")),
        key(&read("examples/replay/new.json")),
    );
    for (i, line) in read("examples/replay/requests.jsonl").lines().enumerate() {
        json_key_line(&mut replay, i as u64 + 1, line);
    }
    let report = replay.report();
    assert_eq!((report.lines, report.unparsed_lines), (10, 0));
    assert_eq!(report.requests, 10087);
}
