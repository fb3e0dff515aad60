//! The management API against real `tile_server` processes on loopback,
//! with a real (if minimal) HTTP client: every route, the lifecycle's
//! rules end to end (a key created over HTTP works on the next tile
//! request, a rotated or deleted one fails on the next), a restart on the
//! same database file, and a crash (`kill -9`) during a burst of writes.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a panic is a failed test"
)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::json;

mod support;
use support::process::{http, Reply, Server, OWNER, TIMEOUT, WEB};

/// A `tile_server` on a SQLite database file.
fn start(database: &Path) -> Server {
    Server::start_with(env!("CARGO_BIN_EXE_tile_server"), database, &[])
}

fn temp_db() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keypolicy.db");
    (dir, path)
}

#[test]
fn keys_over_http_work_on_the_next_tile_request() {
    let (_dir, db) = temp_db();
    let server = start(&db);
    let default_key = server.printed("default key").unwrap();
    assert!(default_key.starts_with("mpk_"), "{default_key}");
    assert_eq!(server.tile(&default_key, "https://anywhere.example"), 200);

    // Create → allowed from its domain only.
    let (id, key) = server.create_key(WEB);
    assert_eq!(server.tile(&key, "https://app.example.com"), 200);
    assert_eq!(server.tile(&key, "https://evil.example"), 403);

    // List: no strings, the default key first.
    let list = server.owner("GET", "/keys/v1/alice", None).json();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["default"], json!(true));
    assert!(list.iter().all(|k| k.get("key").is_none()), "{list:?}");

    // Edit: same string, new policy.
    let edited = server.owner(
        "PATCH",
        &format!("/keys/v1/alice/{id}"),
        Some(r#"{"key_type": "web", "allowed_domains": ["maps.example.com"]}"#),
    );
    assert_eq!(edited.status, 200, "{}", edited.body);
    assert!(edited.json().get("key").is_none());
    assert_eq!(server.tile(&key, "https://maps.example.com"), 200);
    assert_eq!(server.tile(&key, "https://app.example.com"), 403);

    // Rotate without grace: the old string is refused at once.
    let rotated = server
        .owner("POST", &format!("/keys/v1/alice/{id}/rotate"), None)
        .json();
    let second = rotated["key"].as_str().unwrap().to_owned();
    assert_eq!(server.tile(&key, "https://maps.example.com"), 401);
    assert_eq!(server.tile(&second, "https://maps.example.com"), 200);

    // Rotate with grace: both work for now.
    let rotated = server.owner(
        "POST",
        &format!("/keys/v1/alice/{id}/rotate"),
        Some(r#"{"grace_seconds": 3600}"#),
    );
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let third = rotated.json()["key"].as_str().unwrap().to_owned();
    assert_eq!(server.tile(&second, "https://maps.example.com"), 200);
    assert_eq!(server.tile(&third, "https://maps.example.com"), 200);

    // Delete: every string dies; the id is gone.
    let deleted = server.owner("DELETE", &format!("/keys/v1/alice/{id}"), None);
    assert_eq!((deleted.status, deleted.body.as_str()), (204, ""));
    for dead in [&key, &second, &third] {
        assert_eq!(server.tile(dead, "https://maps.example.com"), 401, "{dead}");
    }
    assert_eq!(
        server.owner("DELETE", &format!("/keys/v1/alice/{id}"), None).status,
        404
    );
}

#[test]
fn the_default_key_is_read_only_but_rotates() {
    let (_dir, db) = temp_db();
    let server = start(&db);
    let default_key = server.printed("default key").unwrap();
    let list = server.owner("GET", "/keys/v1/alice", None).json();
    let id = list[0]["id"].as_str().unwrap().to_owned();
    let edit = server.owner("PATCH", &format!("/keys/v1/alice/{id}"), Some(WEB));
    assert_eq!(edit.status, 409);
    assert_eq!(edit.json()["code"], "default_key_read_only");
    let delete = server.owner("DELETE", &format!("/keys/v1/alice/{id}"), None);
    assert_eq!(
        (delete.status, delete.json()["code"].clone()),
        (409, json!("default_key_read_only"))
    );
    let rotated = server.owner("POST", &format!("/keys/v1/alice/{id}/rotate"), None);
    assert_eq!(rotated.status, 200);
    let new_key = rotated.json()["key"].as_str().unwrap().to_owned();
    assert_eq!(server.tile(&default_key, "https://x.example"), 401);
    assert_eq!(server.tile(&new_key, "https://x.example"), 200);
}

#[test]
fn bad_requests_get_their_error_and_change_nothing() {
    let (_dir, db) = temp_db();
    let server = start(&db);
    let revision = || server.call("GET", "/health", &[], None).json()["revision"].clone();
    let before = revision();
    let cases: Vec<(Reply, u16)> = vec![
        // No or wrong owner secret.
        (server.call("POST", "/keys/v1/alice", &[], Some(WEB)), 401),
        (
            server.call("POST", "/keys/v1/alice", &[("Authorization", "Bearer nope")], Some(WEB)),
            401,
        ),
        // Malformed JSON, unknown fields, invalid policy.
        (server.owner("POST", "/keys/v1/alice", Some("{not json")), 422),
        (
            server.owner("POST", "/keys/v1/alice", Some(r#"{"allowed_domain": ["x.com"]}"#)),
            422,
        ),
        (
            server.owner("POST", "/keys/v1/alice", Some(r#"{"allowed_domains": ["*.co.uk"]}"#)),
            422,
        ),
        // A body over the limit.
        (
            server.owner("POST", "/keys/v1/alice", Some(&" ".repeat((1 << 20) + 1))),
            413,
        ),
        // Grace over a day.
        (
            server.owner(
                "POST",
                "/keys/v1/alice/nope/rotate",
                Some(r#"{"grace_seconds": 86401}"#),
            ),
            404,
        ),
        // Unknown user and id.
        (server.owner("POST", "/keys/v1/bob", Some(WEB)), 404),
        (server.owner("PATCH", "/keys/v1/alice/nope", Some(WEB)), 404),
        (server.owner("DELETE", "/keys/v1/alice/nope", None), 404),
        // Tokens API: no credential, a forged one, an unknown user.
        (server.call("GET", "/tokens/v2/alice", &[], None), 401),
        (
            server.call("GET", "/tokens/v2/alice?access_token=pk.e30.AAAA", &[], None),
            401,
        ),
        (
            server.owner(
                "POST",
                "/tokens/v2/alice",
                Some(r#"{"scopes": ["styles:read"], "bogus": 1}"#),
            ),
            422,
        ),
        (server.owner("GET", "/tokens/v2/bob", None), 404),
    ];
    for (i, (reply, status)) in cases.iter().enumerate() {
        assert_eq!(reply.status, *status, "case {i}: {}", reply.body);
    }
    let (id, _) = server.create_key(WEB);
    let grace = server.owner(
        "POST",
        &format!("/keys/v1/alice/{id}/rotate"),
        Some(r#"{"grace_seconds": 86401}"#),
    );
    assert_eq!(grace.status, 422, "{}", grace.body);
    // Only the one create above changed anything.
    assert_eq!(revision().as_u64().unwrap(), before.as_u64().unwrap() + 1);
}

#[test]
fn tokens_over_http_follow_the_tokens_api_rules() {
    let (_dir, db) = temp_db();
    let server = start(&db);
    let default_token = server.printed("default token").unwrap();
    assert_eq!(server.tile_token(&default_token), 200);

    // The owner creates an sk that may manage tokens; its string is shown once.
    let sk = server.owner(
        "POST",
        "/tokens/v2/alice",
        Some(r#"{"note": "ci", "scopes": ["tokens:read", "tokens:write", "styles:tiles"]}"#),
    );
    assert_eq!(sk.status, 200, "{}", sk.body);
    let sk = sk.json();
    assert_eq!(sk["usage"], "sk");
    let sk_token = sk["token"].as_str().unwrap().to_owned();

    // The sk creates a pk within its scopes, not beyond them.
    let pk = server.call(
        "POST",
        &format!("/tokens/v2/alice?access_token={sk_token}"),
        &[],
        Some(r#"{"scopes": ["styles:tiles"], "allowedUrls": ["https://app.example.com"]}"#),
    );
    assert_eq!(pk.status, 200, "{}", pk.body);
    let pk = pk.json();
    let pk_token = pk["token"].as_str().unwrap().to_owned();
    let beyond = server.call(
        "POST",
        &format!("/tokens/v2/alice?access_token={sk_token}"),
        &[],
        Some(r#"{"scopes": ["map:write"]}"#),
    );
    assert_eq!(
        (beyond.status, beyond.json()["message"].clone()),
        (422, json!("scopes are invalid"))
    );

    // The pk works from its URL on a tile route.
    let path = format!("/v1/tiles/alice.streets/0/0/0.png?access_token={pk_token}");
    assert_eq!(
        server
            .call("GET", &path, &[("Referer", "https://app.example.com/map")], None)
            .status,
        200
    );
    assert_eq!(
        server
            .call("GET", &path, &[("Referer", "https://evil.example/")], None)
            .status,
        403
    );

    // List: every pk/sk, the sk's string never.
    let list = server
        .call("GET", &format!("/tokens/v2/alice?access_token={sk_token}"), &[], None)
        .json();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 3);
    for token in list {
        assert_eq!(token.get("token").is_some(), token["usage"] == "pk", "{token}");
    }

    // Retrieve: valid, then revoked after a delete.
    let retrieve = |token: &str| {
        server
            .call("GET", &format!("/tokens/v2?access_token={token}"), &[], None)
            .json()
    };
    assert_eq!(retrieve(&pk_token)["code"], "TokenValid");
    let pk_id = pk["id"].as_str().unwrap();
    let deleted = server.call(
        "DELETE",
        &format!("/tokens/v2/alice/{pk_id}?access_token={sk_token}"),
        &[],
        None,
    );
    assert_eq!(deleted.status, 204);
    assert_eq!(retrieve(&pk_token)["code"], "TokenRevoked");
    assert_eq!(
        server
            .call("GET", &path, &[("Referer", "https://app.example.com/map")], None)
            .status,
        401
    );
    assert_eq!(retrieve("not-a-token")["code"], "TokenMalformed");

    // Deleting the default token makes a new one; the old string dies.
    let default_id = list.iter().find(|t| t["default"] == json!(true)).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let replaced = server.call(
        "DELETE",
        &format!("/tokens/v2/alice/{default_id}?access_token={sk_token}"),
        &[],
        None,
    );
    assert_eq!(replaced.status, 204);
    assert_eq!(server.tile_token(&default_token), 401);
    let list = server
        .call("GET", &format!("/tokens/v2/alice?access_token={sk_token}"), &[], None)
        .json();
    let new_default = support::process::default_token(&list);
    assert_ne!(new_default["id"].as_str().unwrap(), default_id);
    assert_eq!(server.tile_token(new_default["token"].as_str().unwrap()), 200);
    // The default token never gets a secret scope.
    let secret = server.call(
        "PATCH",
        &format!(
            "/tokens/v2/alice/{}?access_token={sk_token}",
            new_default["id"].as_str().unwrap()
        ),
        &[],
        Some(r#"{"scopes": ["tokens:read"]}"#),
    );
    assert_eq!(secret.status, 422, "{}", secret.body);
}

#[test]
fn a_restart_keeps_everything_acknowledged() {
    let (_dir, db) = temp_db();
    let server = start(&db);
    let default_key = server.printed("default key").unwrap();
    let (_, live) = server.create_key(WEB);
    let (dead_id, dead) = server.create_key(WEB);
    assert_eq!(
        server
            .owner("DELETE", &format!("/keys/v1/alice/{dead_id}"), None)
            .status,
        204
    );
    drop(server);

    let server = start(&db);
    assert_eq!(server.printed("default key"), None, "the account is opened once");
    assert_eq!(server.tile(&default_key, "https://x.example"), 200);
    assert_eq!(server.tile(&live, "https://app.example.com"), 200);
    assert_eq!(server.tile(&dead, "https://app.example.com"), 401);
    assert_eq!(
        server
            .owner("GET", "/keys/v1/alice", None)
            .json()
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

/// `kill -9` in the middle of a burst of creates: after a restart every
/// acknowledged key works, and the account holds exactly the acknowledged
/// keys — plus, at most, the one whose answer the kill cut off (committed
/// or not, never half-applied: its string either works or is unknown).
#[test]
fn a_crash_during_writes_loses_nothing_acknowledged() {
    let (_dir, db) = temp_db();
    let server = start(&db);
    let addr = server.addr;
    let writer = std::thread::spawn(move || {
        let mut acknowledged = Vec::new();
        let bearer = format!("Bearer {OWNER}");
        for i in 0..400 {
            let policy = format!(r#"{{"key_type": "web", "allowed_domains": ["app{i}.example.com"]}}"#);
            let reply = std::panic::catch_unwind(|| {
                http(
                    addr,
                    "POST",
                    "/keys/v1/alice",
                    &[("Authorization", &bearer)],
                    Some(&policy),
                )
            });
            match reply {
                Ok(reply) if reply.status == 200 => {
                    acknowledged.push((i, reply.json()["key"].as_str().unwrap().to_owned()));
                }
                // The server is gone: the burst is over.
                _ => break,
            }
        }
        acknowledged
    });
    // Let some writes land, then kill without warning.
    let deadline = Instant::now() + TIMEOUT;
    while Instant::now() < deadline {
        let count = http(addr, "GET", "/health", &[], None).json()["revision"]
            .as_u64()
            .unwrap();
        if count >= 30 {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    server.kill();
    let acknowledged = writer.join().unwrap();
    // Writes were landing when it died (a few may have been in flight).
    assert!(
        acknowledged.len() >= 10,
        "only {} writes before the kill",
        acknowledged.len()
    );

    let server = start(&db);
    for (i, key) in &acknowledged {
        assert_eq!(
            server.tile(key, &format!("https://app{i}.example.com")),
            200,
            "key {i} was acknowledged"
        );
    }
    let keys = server.owner("GET", "/keys/v1/alice", None).json();
    let created = keys.as_array().unwrap().len() - 1; // the default key
    assert!(
        created == acknowledged.len() || created == acknowledged.len() + 1,
        "{created} keys stored, {} acknowledged",
        acknowledged.len()
    );
}
