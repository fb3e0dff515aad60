//! PostgreSQL stopped and started again under running nodes (the cluster
//! `.ci/postgres` starts; `KEYPOLICY_TEST_PGCTL` controls it). Its own
//! test binary: cargo runs test binaries one at a time, so no other test
//! sees the database vanish.
//!
//! While the database is down, fail-static nodes keep serving their last
//! index and a fail-closed node refuses; once it is back they reconnect
//! and apply every change made meanwhile — through a node opened after
//! the restart — none missed.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a panic is a failed test"
)]

mod postgres_support;

use std::process::Command;
use std::time::Duration;

use keypolicy::http::KeyLookup;
use keypolicy::key::KeyType;
use keypolicy::KeyPolicy;
use keypolicy_registry::{ConnectionState, FollowOptions, PgStore, RegistryError};
use postgres_support::{at, cluster, eventually, replace_default_token, snapshot, Node, TestDatabase, T0};

fn pg_ctl(action: &str) {
    let pg_ctl = std::env::var("KEYPOLICY_TEST_PGCTL").unwrap();
    let mut command = Command::new(&pg_ctl);
    command.arg(action);
    if action != "start" {
        command.args(["-m", "fast"]);
    }
    let status = command.status().unwrap();
    assert!(status.success(), "{pg_ctl} {action}: {status}");
}

fn options() -> FollowOptions {
    let mut options = FollowOptions::default()
        .quiet()
        .poll_interval(Duration::from_millis(500));
    options.backoff_max = Duration::from_millis(500);
    options
}

fn web_policy() -> KeyPolicy {
    KeyPolicy::builder()
        .key_type(KeyType::Web)
        .allowed_domains(["app.example.com"])
        .build()
        .unwrap()
}

#[test]
fn nodes_ride_out_a_database_restart_and_miss_nothing() {
    let Some(url) = cluster("nodes_ride_out_a_database_restart_and_miss_nothing") else {
        return;
    };
    if std::env::var("KEYPOLICY_TEST_PGCTL").is_err() {
        postgres_support::skipped(
            "nodes_ride_out_a_database_restart_and_miss_nothing",
            "KEYPOLICY_TEST_PGCTL is not set",
        );
        return;
    }
    let db = TestDatabase::create(&url, "restart");
    let a = Node::open(&db, 1, options());
    let b = Node::open(&db, 2, options());
    // Fail-closed: refuses once 2 s pass without a successful catch-up.
    let f = Node::open(&db, 3, options().fail_closed(Duration::from_secs(2)));

    a.registry.ensure_account("alice", at(T0)).unwrap();
    let key = a
        .registry
        .write("alice", |account, rng| account.create_key(web_policy(), at(T0), rng))
        .unwrap()
        .unwrap()
        .key
        .unwrap();
    eventually("B and F have the key", || {
        b.registry.lookup(&key).is_some() && f.registry.lookup(&key).is_some()
    });
    let revision = a.registry.revision();

    pg_ctl("stop");
    eventually("the followers notice", || {
        [&a, &b, &f]
            .iter()
            .all(|n| n.follower.health().connection == ConnectionState::Reconnecting)
    });
    // Fail-static nodes serve their last index; a write fails and changes
    // nothing.
    let failed = a
        .registry
        .write("alice", |account, rng| account.create_key(web_policy(), at(T0), rng));
    assert!(matches!(failed, Err(RegistryError::Store(_))), "{failed:?}");
    assert_eq!(a.registry.revision(), revision);
    assert!(a.registry.lookup(&key).is_some());
    assert!(b.registry.lookup(&key).is_some());
    assert!(!b.follower.health().refusing);
    assert!(b.follower.health().connection_error.is_some());
    // The fail-closed node refuses once its state is too old.
    eventually("F refuses", || f.registry.lookup(&key).is_none());
    assert!(f.follower.health().refusing);
    assert!(f.registry.is_refusing());

    pg_ctl("start");
    // A node started after the restart changes things: deletes the key,
    // creates another, replaces the default token.
    let c = Node::open(&db, 4, options());
    let id = c
        .registry
        .read("alice", |x| {
            x.keys().iter().find(|k| !k.default).map(|k| k.id.clone()).unwrap()
        })
        .unwrap();
    c.registry
        .write("alice", |account, _| account.delete_key(&id, at(T0 + 1)))
        .unwrap()
        .unwrap();
    let fresh = c
        .registry
        .write("alice", |account, rng| {
            account.create_key(web_policy(), at(T0 + 1), rng)
        })
        .unwrap()
        .unwrap()
        .key
        .unwrap();
    let (old_token, new_token) = replace_default_token(&c.registry, "alice", at(T0 + 2));

    let nodes = [&a, &b, &f, &c];
    eventually("every node applied every change made meanwhile", || {
        nodes.iter().all(|n| {
            n.registry.lookup(&key).is_none()
                && n.registry.lookup(&fresh).is_some()
                && n.registry.lookup(&old_token).is_none()
                && n.registry.lookup(&new_token).is_some()
        })
    });
    let expected = c.registry.read("alice", snapshot).unwrap();
    for (i, node) in nodes.iter().enumerate() {
        assert_eq!(node.registry.revision(), c.registry.revision(), "node {i}");
        assert_eq!(node.registry.read("alice", snapshot).unwrap(), expected, "node {i}");
    }
    for node in [&a, &b, &f] {
        eventually("the follower is connected again", || {
            let health = node.follower.health();
            health.connection == ConnectionState::Connected && health.reconnects >= 1 && !health.refusing
        });
    }
    // Writes work again on the nodes that lived through it.
    a.registry
        .write("alice", |account, rng| {
            account.create_key(web_policy(), at(T0 + 3), rng)
        })
        .unwrap()
        .unwrap();
    let mut store = PgStore::with_config(db.config.clone()).unwrap();
    assert_eq!(store.revision().unwrap(), a.registry.revision());
}
