//! A fleet rides out a database restart, over HTTP: `tile_server`
//! processes on one PostgreSQL keep serving while it is down (fail-static),
//! a node started with `--max-staleness` refuses once its index is too old
//! (fail-closed), and after the restart every node applies what a node
//! started meanwhile changed — none missed; a node started during the
//! outage waits for the database rather than serve an empty index. Its own test binary: it stops
//! the cluster (`KEYPOLICY_TEST_PGCTL`) that other tests would use.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a panic is a failed test"
)]

use std::process::Command;
use std::time::Duration;

use serde_json::json;

mod support;
use support::process::{default_token, eventually, Server, APP, WEB};

#[path = "../../registry/tests/postgres_support/mod.rs"]
mod postgres_support;
use postgres_support::{cluster, skipped, TestDatabase};

/// Stops the cluster; starts it again when dropped, so a failing test
/// leaves it running for the tests after it.
struct Outage {
    pg_ctl: String,
    over: bool,
}

fn pg_ctl(pg_ctl: &str, action: &str) -> std::process::ExitStatus {
    let mut command = Command::new(pg_ctl);
    command.arg(action);
    if action != "start" {
        command.args(["-m", "fast"]);
    }
    command.status().unwrap()
}

impl Outage {
    fn begin(pg_ctl_path: String) -> Outage {
        let status = pg_ctl(&pg_ctl_path, "stop");
        assert!(status.success(), "{pg_ctl_path} stop: {status}");
        Outage {
            pg_ctl: pg_ctl_path,
            over: false,
        }
    }

    fn end(mut self) {
        self.over = true;
        let status = pg_ctl(&self.pg_ctl, "start");
        assert!(status.success(), "{} start: {status}", self.pg_ctl);
    }
}

impl Drop for Outage {
    fn drop(&mut self) {
        if !self.over {
            let _ = pg_ctl(&self.pg_ctl, "start");
        }
    }
}

fn node(db: &TestDatabase, extra: &[&str]) -> Server {
    Server::start_with(env!("CARGO_BIN_EXE_tile_server"), &db.url, extra)
}

#[test]
fn a_fleet_rides_out_a_database_restart_and_misses_nothing() {
    let test = "a_fleet_rides_out_a_database_restart_and_misses_nothing";
    let Some(url) = cluster(test) else {
        return;
    };
    let Ok(pg_ctl_path) = std::env::var("KEYPOLICY_TEST_PGCTL") else {
        skipped(test, "KEYPOLICY_TEST_PGCTL is not set");
        return;
    };
    let db = TestDatabase::create(&url, "fleet_restart");
    let a = node(&db, &[]);
    let b = node(&db, &[]);
    // Fail-closed: refuses once 6 s pass without a successful catch-up
    // (more than the 5 s poll).
    let f = node(&db, &["--max-staleness", "6"]);

    let (old_id, old_key) = a.create_key(WEB);
    for n in [&b, &f] {
        eventually("the key served by every node", || n.tile(&old_key, APP) == 200);
    }
    let revision = a.health()["revision"].clone();

    let outage = Outage::begin(pg_ctl_path);
    for n in [&a, &b, &f] {
        eventually("the nodes notice the outage", || {
            n.health()["follower"]["connection"] == json!("reconnecting")
        });
    }
    // Fail-static nodes keep serving their last index; a write is refused
    // (503) and changes nothing.
    let refused = a.owner("POST", "/keys/v1/alice", Some(WEB));
    assert_eq!(refused.status, 503, "{}", refused.body);
    assert_eq!(a.health()["revision"], revision);
    for n in [&a, &b] {
        assert_eq!(n.tile(&old_key, APP), 200);
        let health = n.health();
        assert_eq!(health["follower"]["refusing"], json!(false), "{health}");
        assert!(health["follower"]["connection_error"].is_string(), "{health}");
    }
    // The fail-closed node refuses every registry credential once its
    // index is too old, and says so.
    eventually("the fail-closed node refusing", || f.tile(&old_key, APP) == 401);
    assert_eq!(f.health()["follower"]["refusing"], json!(true));

    // A node started while the database is down waits for it (bounded,
    // saying so on stderr) instead of serving an empty index: it is not
    // listening yet.
    let url = db.url.clone();
    let (started_tx, started) = std::sync::mpsc::channel();
    let waiting = std::thread::spawn(move || {
        let g = Server::start_with(env!("CARGO_BIN_EXE_tile_server"), url, &[]);
        let _ = started_tx.send(());
        g
    });
    assert!(
        started.recv_timeout(Duration::from_secs(1)).is_err(),
        "a node listened while its database was down"
    );

    outage.end();
    let g = waiting.join().unwrap();
    // A node started after the restart changes things: deletes the key,
    // creates another, replaces the default token.
    let d = node(&db, &[]);
    assert_eq!(d.owner("DELETE", &format!("/keys/v1/alice/{old_id}"), None).status, 204);
    let (_, fresh) = d.create_key(WEB);
    let default = default_token(&d.owner("GET", "/tokens/v2/alice", None).json());
    let (default_id, old_token) = (default["id"].as_str().unwrap(), default["token"].as_str().unwrap());
    assert_eq!(
        d.owner("DELETE", &format!("/tokens/v2/alice/{default_id}"), None)
            .status,
        204
    );
    let final_revision = d.health()["revision"].clone();

    // Every node reconnects and applies all three changes.
    for n in [&a, &b, &f, &g] {
        eventually("every node at the final revision", || {
            n.health()["revision"] == final_revision
        });
        assert_eq!(n.tile(&old_key, APP), 401, "the deleted key");
        assert_eq!(n.tile(&fresh, APP), 200, "the key made during the restart");
        assert_eq!(n.tile_token(old_token), 401, "the replaced default token");
        // Catch-ups read through the registry's own connection; the
        // listening one comes back on its own backoff.
        eventually("every node listening again", || {
            n.health()["follower"]["connection"] == json!("connected")
        });
        let health = n.health();
        assert_eq!(health["follower"]["refusing"], json!(false), "{health}");
    }
    for n in [&a, &b, &f] {
        let health = n.health();
        assert!(health["follower"]["reconnects"].as_u64().unwrap() >= 1, "{health}");
    }
    let lists: Vec<_> = [&a, &b, &f, &d, &g]
        .iter()
        .map(|n| n.owner("GET", "/tokens/v2/alice", None).json())
        .collect();
    assert!(lists.iter().all(|l| *l == lists[0]), "{lists:#?}");
}
