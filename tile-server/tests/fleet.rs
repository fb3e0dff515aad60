//! A fleet over HTTP: three real `tile_server` processes on loopback share
//! one PostgreSQL database (the throwaway cluster `.ci/postgres` starts;
//! `KEYPOLICY_TEST_POSTGRES`). A key or token written through one node is
//! served by the others, a deletion or rotation through one is refused by
//! the others, and conflicting writes through two nodes end in one state
//! on every node. The database restart is `fleet_restart.rs` (its own
//! binary: it stops the cluster other tests use).
//!
//! Propagation is waited for (bounded, 20 s), never timed by an assertion;
//! the time from the committing answer to the first refusal on each other
//! node is printed, and measured under load by `benches/fleet.rs`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a panic is a failed test"
)]

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

mod support;
use support::process::{default_token, eventually, Server, APP, WEB};

#[path = "../../registry/tests/postgres_support/mod.rs"]
mod postgres_support;
use postgres_support::{cluster, TestDatabase};

/// A node of the fleet on `db`, as user `alice`, plus `extra` arguments.
fn node(db: &TestDatabase, extra: &[&str]) -> Server {
    Server::start_with(env!("CARGO_BIN_EXE_tile_server"), &db.url, extra)
}

/// Three nodes; A opens the account (the others find it).
fn three_nodes(db: &TestDatabase) -> (Server, Server, Server) {
    let a = node(db, &[]);
    assert!(a.printed("default key").is_some(), "{:?}", a.banner);
    let b = node(db, &[]);
    let c = node(db, &[]);
    for other in [&b, &c] {
        assert!(other.printed("default key").is_none(), "{:?}", other.banner);
    }
    (a, b, c)
}

/// Waits until `server` answers `status` for `key` from the allowed
/// origin; how long that took after `since`.
fn until_key(server: &Server, key: &str, status: u16, since: Instant) -> Duration {
    eventually(&format!("{} answering {status} for {key}", server.addr), || {
        server.tile(key, APP) == status
    });
    since.elapsed()
}

/// What every node must agree on: the account's keys (no strings), its
/// tokens as the owner lists them, and the revision.
fn state(server: &Server) -> Value {
    let keys = server.owner("GET", "/keys/v1/alice", None).json();
    let tokens = server.owner("GET", "/tokens/v2/alice", None).json();
    json!({"keys": keys, "tokens": tokens, "revision": server.health()["revision"]})
}

/// Waits until every node reports the same state; returns it.
fn agreed(nodes: &[&Server]) -> Value {
    let mut last = Value::Null;
    eventually("every node holding the same keys, tokens and revision", || {
        let states: Vec<Value> = nodes.iter().map(|n| state(n)).collect();
        last = states[0].clone();
        states.iter().all(|s| *s == states[0])
    });
    last
}

#[test]
fn a_write_through_one_node_is_served_and_refused_by_every_node() {
    let Some(url) = cluster("fleet_propagation") else {
        return;
    };
    let db = TestDatabase::create(&url, "fleet_http");
    let (a, b, c) = three_nodes(&db);
    let default_key = a.printed("default key").unwrap();
    for n in [&a, &b, &c] {
        assert_eq!(n.tile(&default_key, "https://anywhere.example"), 200);
    }

    // Created on A: served at once by A, soon by B and C, from its domain only.
    let created = Instant::now();
    let (id, key) = a.create_key(WEB);
    let acknowledged = Instant::now();
    assert_eq!(a.tile(&key, APP), 200);
    for n in [&b, &c] {
        let took = until_key(n, &key, 200, acknowledged);
        eprintln!("create on A → usable on {}: {took:?} after the answer", n.addr);
        assert_eq!(n.tile(&key, "https://evil.example"), 403);
    }
    eprintln!("(the create itself took {:?})", acknowledged - created);

    // Rotated on B without grace: the old string is refused by B at once,
    // by A and C once they follow; the new one is served everywhere.
    let rotated = b.owner("POST", &format!("/keys/v1/alice/{id}/rotate"), None);
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let acknowledged = Instant::now();
    let second = rotated.json()["key"].as_str().unwrap().to_owned();
    assert_eq!(b.tile(&key, APP), 401);
    for n in [&a, &c] {
        let took = until_key(n, &key, 401, acknowledged);
        eprintln!("rotate on B → old string refused on {}: {took:?}", n.addr);
        until_key(n, &second, 200, acknowledged);
    }

    // Deleted on C: refused everywhere.
    let deleted = c.owner("DELETE", &format!("/keys/v1/alice/{id}"), None);
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    let acknowledged = Instant::now();
    assert_eq!(c.tile(&second, APP), 401);
    for n in [&a, &b] {
        let took = until_key(n, &second, 401, acknowledged);
        eprintln!("delete on C → refused on {}: {took:?}", n.addr);
        assert_eq!(n.tile(&key, APP), 401, "the first string stays dead");
    }

    // A token made on B works on A and C; deleted through A, it dies on all.
    let made = b.owner(
        "POST",
        "/tokens/v2/alice",
        Some(r#"{"scopes": ["styles:tiles"], "allowedUrls": ["https://app.example.com"]}"#),
    );
    assert_eq!(made.status, 200, "{}", made.body);
    let made = made.json();
    let (token_id, token) = (made["id"].as_str().unwrap(), made["token"].as_str().unwrap());
    let tile = format!("/v1/tiles/alice.streets/0/0/0.png?access_token={token}");
    let token_status = |n: &Server| {
        n.call("GET", &tile, &[("Referer", "https://app.example.com/map")], None)
            .status
    };
    for n in [&a, &c] {
        eventually("the token served by every node", || token_status(n) == 200);
    }
    assert_eq!(
        a.owner("DELETE", &format!("/tokens/v2/alice/{token_id}"), None).status,
        204
    );
    for n in [&b, &c] {
        eventually("the deleted token refused by every node", || token_status(n) == 401);
        let retrieved = n
            .call("GET", &format!("/tokens/v2?access_token={token}"), &[], None)
            .json();
        assert_eq!(retrieved["code"], "TokenRevoked");
    }

    // In the end all three hold the same account at the same revision.
    let state = agreed(&[&a, &b, &c]);
    assert_eq!(
        state["keys"].as_array().unwrap().len(),
        1,
        "only the default key: {state}"
    );
}

/// Runs `first` on one thread and `second` on another, released together.
fn at_once<T: Send + 'static>(
    first: impl FnOnce() -> T + Send + 'static,
    second: impl FnOnce() -> T + Send + 'static,
) -> (T, T) {
    let barrier = Arc::new(Barrier::new(2));
    let spawn = |work: Box<dyn FnOnce() -> T + Send>| {
        let barrier = Arc::clone(&barrier);
        std::thread::spawn(move || {
            barrier.wait();
            work()
        })
    };
    let first = spawn(Box::new(first));
    let second = spawn(Box::new(second));
    (first.join().unwrap(), second.join().unwrap())
}

#[test]
fn conflicting_writes_through_two_nodes_end_in_one_state() {
    let Some(url) = cluster("fleet_conflicts") else {
        return;
    };
    let db = TestDatabase::create(&url, "fleet_conflict");
    let a = Arc::new(node(&db, &[]));
    let b = Arc::new(node(&db, &[]));

    // A delete on A races a rotation on B, a few times over (either may
    // win): the delete always succeeds, the rotation either succeeds
    // first or finds no key (404), and every string the key ever had ends
    // dead on both nodes.
    let mut orders = (0, 0);
    for round in 0..4 {
        let (id, key) = a.create_key(WEB);
        until_key(&b, &key, 200, Instant::now());
        let (a2, b2) = (Arc::clone(&a), Arc::clone(&b));
        let (delete_id, rotate_id) = (id.clone(), id.clone());
        let (deleted, rotated) = at_once(
            move || a2.owner("DELETE", &format!("/keys/v1/alice/{delete_id}"), None),
            move || b2.owner("POST", &format!("/keys/v1/alice/{rotate_id}/rotate"), None),
        );
        assert_eq!(deleted.status, 204, "round {round}: {}", deleted.body);
        let mut strings = vec![key];
        match rotated.status {
            200 => {
                orders.0 += 1;
                strings.push(rotated.json()["key"].as_str().unwrap().to_owned());
            }
            404 => orders.1 += 1,
            other => panic!("round {round}: rotate answered {other}: {}", rotated.body),
        }
        for n in [&a, &b] {
            for string in &strings {
                until_key(n, string, 401, Instant::now());
            }
        }
        let state = agreed(&[&a, &b]);
        assert!(
            state["keys"].as_array().unwrap().iter().all(|k| k["id"] != json!(id)),
            "round {round}: the deleted key is listed: {state}"
        );
    }
    eprintln!("rotate won {} rounds, delete won {}", orders.0, orders.1);

    // Both nodes delete the default token at once: deleting it creates a
    // new default, so each delete would create one. The database takes
    // one; the other, re-planned, finds the old id gone (404). One new
    // default token, the same on both nodes; the old string is dead.
    let old = default_token(&a.owner("GET", "/tokens/v2/alice", None).json());
    let old_id = old["id"].as_str().unwrap().to_owned();
    let old_string = old["token"].as_str().unwrap().to_owned();
    let (a2, b2) = (Arc::clone(&a), Arc::clone(&b));
    let (path_a, path_b) = (
        format!("/tokens/v2/alice/{old_id}"),
        format!("/tokens/v2/alice/{old_id}"),
    );
    let (first, second) = at_once(
        move || a2.owner("DELETE", &path_a, None),
        move || b2.owner("DELETE", &path_b, None),
    );
    let mut statuses = [first.status, second.status];
    statuses.sort_unstable();
    assert_eq!(statuses, [204, 404], "{first:?} {second:?}");
    let state = agreed(&[&a, &b]);
    let new = default_token(&state["tokens"]);
    assert_ne!(new["id"], json!(old_id));
    for n in [&a, &b] {
        assert_eq!(n.tile_token(&old_string), 401);
        assert_eq!(n.tile_token(new["token"].as_str().unwrap()), 200);
    }
}

#[test]
fn two_nodes_opening_one_account_at_once_agree_on_its_defaults() {
    let Some(url) = cluster("fleet_open") else {
        return;
    };
    let db = TestDatabase::create(&url, "fleet_open");
    // Both start for a new user at the same moment: each would create the
    // account with its default key and token; one commits, the other
    // takes its state.
    let url_a = db.url.clone();
    let url_b = db.url.clone();
    let start = |url: String| move || Server::start_with(env!("CARGO_BIN_EXE_tile_server"), url, &["--user", "bob"]);
    let (a, b) = at_once(start(url_a), start(url_b));
    let printed: Vec<String> = [&a, &b].iter().filter_map(|n| n.printed("default key")).collect();
    assert_eq!(
        printed.len(),
        1,
        "one node opened the account: {:?} {:?}",
        a.banner,
        b.banner
    );
    for n in [&a, &b] {
        assert_eq!(n.tile(&printed[0], "https://anywhere.example"), 200);
        let keys = n.owner("GET", "/keys/v1/bob", None).json();
        assert_eq!(keys.as_array().unwrap().len(), 1, "{keys}");
        let tokens = n.owner("GET", "/tokens/v2/bob", None).json();
        assert_eq!(tokens.as_array().unwrap().len(), 1, "{tokens}");
    }
    assert_eq!(
        a.owner("GET", "/keys/v1/bob", None).json(),
        b.owner("GET", "/keys/v1/bob", None).json()
    );
}

/// A fail-closed threshold at or under the 5 s poll would make an idle,
/// healthy node refuse: the node refuses to start, naming the option.
#[test]
fn a_max_staleness_within_the_poll_is_refused() {
    let Some(url) = cluster("fleet_max_staleness") else {
        return;
    };
    let db = TestDatabase::create(&url, "fleet_staleness");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_tile_server"))
        .args([
            "--port",
            "0",
            "--signing-key",
            support::process::SIGNING,
            "--max-staleness",
            "5",
        ])
        .arg("--database")
        .arg(&db.url)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + support::process::TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            panic!("tile_server --max-staleness 5 did not exit");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("--max-staleness: follow options: max_staleness = 5s: must exceed poll_interval"),
        "{stderr}"
    );
}
