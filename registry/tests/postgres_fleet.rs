//! A fleet on a real PostgreSQL (the cluster `.ci/postgres` starts, named
//! by `KEYPOLICY_TEST_POSTGRES`): three registries — three nodes, each
//! with its own follower — share one database; what one node writes
//! reaches the others, conflicting writes end in one state everywhere,
//! and revisions become visible in order.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a panic is a failed test"
)]

mod postgres_support;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use keypolicy::http::{Credential, KeyLookup};
use keypolicy::key::{KeyType, Resource};
use keypolicy::lifecycle::{Actor, KeyError, TokenError};
use keypolicy::{evaluate_key, KeyPolicy, KeyRequest};
use keypolicy_registry::{ConnectionState, FollowOptions, PgStore, Registry, Store, CHANNEL};
use postgres::fallible_iterator::FallibleIterator;
use postgres_support::{at, cluster, eventually, replace_default_token, signing, snapshot, Node, TestDatabase, T0};

fn web_policy(domain: &str) -> KeyPolicy {
    KeyPolicy::builder()
        .key_type(KeyType::Web)
        .allowed_domains([domain])
        .build()
        .unwrap()
}

fn allows(registry: &Registry<PgStore>, key: &str, origin: &str) -> bool {
    match registry.lookup(key) {
        Some(Credential::Key(policy)) => {
            evaluate_key(&policy, &KeyRequest::new(Resource::Tiles).with_origin(origin)).is_allowed()
        }
        _ => false,
    }
}

fn nodes(db: &TestDatabase, count: u64) -> Vec<Node> {
    (0..count)
        .map(|i| Node::open(db, 100 + i, FollowOptions::default().quiet()))
        .collect()
}

/// Every node has applied every change and holds the same state.
fn assert_converged(nodes: &[Node], user: &str) {
    let revision = nodes[0].registry.revision();
    eventually("every node at the same revision", || {
        nodes.iter().all(|n| n.registry.revision() == revision)
    });
    let expected = nodes[0].registry.read(user, snapshot).unwrap();
    for (i, node) in nodes.iter().enumerate() {
        assert_eq!(node.registry.read(user, snapshot).unwrap(), expected, "node {i}");
        assert_eq!(
            node.registry.index().key_count(),
            nodes[0].registry.index().key_count(),
            "node {i}"
        );
        assert_eq!(
            node.registry.index().token_count(),
            nodes[0].registry.index().token_count(),
            "node {i}"
        );
    }
}

#[test]
fn a_change_on_one_node_reaches_every_other() {
    let Some(url) = cluster("a_change_on_one_node_reaches_every_other") else {
        return;
    };
    let db = TestDatabase::create(&url, "reach");
    let nodes = nodes(&db, 3);
    let [a, b, c] = &nodes[..] else { unreachable!() };
    let origin = "https://app.example.com";

    // The account opened on A appears on B and C.
    let default_key = a.registry.ensure_account("alice", at(T0)).unwrap().unwrap();
    eventually("B and C know alice", || {
        b.registry.read("alice", |_| ()).is_ok() && c.registry.read("alice", |_| ()).is_ok()
    });
    assert!(b.registry.lookup(&default_key).is_some());
    assert!(c.registry.lookup(&default_key).is_some());

    // A key created on A is usable on B and C.
    let policy = web_policy("app.example.com");
    let created = a
        .registry
        .write("alice", |account, rng| account.create_key(policy.clone(), at(T0), rng))
        .unwrap()
        .unwrap();
    let (id, key) = (created.id, created.key.unwrap());
    eventually("the new key works on B and C", || {
        allows(&b.registry, &key, origin) && allows(&c.registry, &key, origin)
    });
    assert!(!allows(&b.registry, &key, "https://evil.example"));

    // Rotated on B without grace: the old string is refused on A and C,
    // the new one works there.
    let rotated = b
        .registry
        .write("alice", |account, rng| account.rotate_key(&id, None, at(T0 + 1), rng))
        .unwrap()
        .unwrap()
        .key
        .unwrap();
    assert!(!allows(&b.registry, &key, origin));
    eventually("the rotation reaches A and C", || {
        !allows(&a.registry, &key, origin)
            && !allows(&c.registry, &key, origin)
            && allows(&a.registry, &rotated, origin)
            && allows(&c.registry, &rotated, origin)
    });

    // Deleted on B: refused on A and C.
    b.registry
        .write("alice", |account, _| account.delete_key(&id, at(T0 + 2)))
        .unwrap()
        .unwrap();
    eventually("the deletion reaches A and C", || {
        a.registry.lookup(&rotated).is_none() && c.registry.lookup(&rotated).is_none()
    });

    // The default token deleted on C (and so replaced): the old string is
    // refused on A and B, the new one works there.
    let (old_token, new_token) = replace_default_token(&c.registry, "alice", at(T0 + 3));
    eventually("the replaced default token reaches A and B", || {
        [&a.registry, &b.registry]
            .iter()
            .all(|r| r.lookup(&old_token).is_none() && r.lookup(&new_token).is_some())
    });

    assert_converged(&nodes, "alice");
    let mut store = PgStore::with_config(db.config.clone()).unwrap();
    assert_eq!(store.revision().unwrap(), a.registry.revision());
    assert_eq!(store.schema_version().unwrap(), 1);
    for node in &nodes {
        let health = node.follower.health();
        assert_eq!(health.connection, ConnectionState::Connected);
        assert!(!health.refusing);
        assert_eq!(health.max_staleness_ms, None);
    }
    eventually("every follower reports the last revision", || {
        nodes
            .iter()
            .all(|n| n.follower.health().revision == a.registry.revision())
    });
}

/// A delete and a rotation of one key, from two nodes at once; two
/// deletes of the default token; two opens of one account: each time one
/// state on every node.
#[test]
fn concurrent_conflicting_writes_end_in_one_state() {
    let Some(url) = cluster("concurrent_conflicting_writes_end_in_one_state") else {
        return;
    };
    let db = TestDatabase::create(&url, "conflict");
    let nodes = nodes(&db, 3);
    let [a, b, _c] = &nodes[..] else { unreachable!() };
    let origin = "https://app.example.com";
    a.registry.ensure_account("alice", at(T0)).unwrap();
    eventually("B knows alice", || b.registry.read("alice", |_| ()).is_ok());

    for round in 0..8_i64 {
        let policy = web_policy("app.example.com");
        let created = a
            .registry
            .write("alice", |account, rng| account.create_key(policy.clone(), at(T0), rng))
            .unwrap()
            .unwrap();
        let (id, key) = (created.id, created.key.unwrap());
        eventually("B has the key", || allows(&b.registry, &key, origin));

        let barrier = Arc::new(Barrier::new(2));
        let (deleted, rotated) = std::thread::scope(|s| {
            let deleter = {
                let barrier = Arc::clone(&barrier);
                let (registry, id) = (&a.registry, &id);
                s.spawn(move || {
                    barrier.wait();
                    registry
                        .write("alice", |account, _| account.delete_key(id, at(T0 + round)))
                        .unwrap()
                })
            };
            let rotator = {
                let (registry, id) = (&b.registry, &id);
                s.spawn(move || {
                    barrier.wait();
                    registry
                        .write("alice", |account, rng| {
                            account.rotate_key(id, None, at(T0 + round), rng)
                        })
                        .unwrap()
                })
            };
            (deleter.join().unwrap(), rotator.join().unwrap())
        });
        // The delete always wins in the end: before the rotation (which
        // then finds no key) or after it (deleting the rotated key too).
        assert!(deleted.is_ok(), "round {round}: {deleted:?}");
        match &rotated {
            Ok(object) => {
                let new_key = object.key.clone().unwrap();
                eventually("the rotated string is dead everywhere", || {
                    nodes.iter().all(|n| n.registry.lookup(&new_key).is_none())
                });
            }
            Err(KeyError::NotFound { .. }) => {}
            Err(other) => panic!("round {round}: unexpected refusal {other:?}"),
        }
        eventually("the key is dead everywhere", || {
            nodes.iter().all(|n| n.registry.lookup(&key).is_none())
        });
        assert_converged(&nodes, "alice");
        assert!(nodes
            .iter()
            .all(|n| n.registry.read("alice", |x| x.key(&id).is_none()).unwrap()));
    }

    // Two deletes of the default token at once: one replaces it, the
    // other finds it gone; one new default everywhere.
    let signing = signing();
    for round in 0..4_i64 {
        let default_id = a
            .registry
            .read("alice", |x| x.default_token().unwrap().id.clone())
            .unwrap();
        eventually("B has the same default token", || {
            b.registry
                .read("alice", |x| x.default_token().unwrap().id.clone())
                .unwrap()
                == default_id
        });
        let old = a
            .registry
            .read("alice", |x| x.default_token_string(&signing))
            .unwrap()
            .unwrap();
        let barrier = Arc::new(Barrier::new(2));
        let outcomes: Vec<_> = std::thread::scope(|s| {
            let handles: Vec<_> = [&a.registry, &b.registry]
                .into_iter()
                .map(|registry| {
                    let (barrier, signing, default_id) = (Arc::clone(&barrier), &signing, &default_id);
                    s.spawn(move || {
                        barrier.wait();
                        registry
                            .write("alice", |account, rng| {
                                account.delete_token(signing, Actor::Owner, default_id, at(T0 + round), rng)
                            })
                            .unwrap()
                            .map(|_| ())
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let replaced = outcomes.iter().filter(|o| o.is_ok()).count();
        assert_eq!(replaced, 1, "round {round}: {outcomes:?}");
        assert!(
            outcomes
                .iter()
                .all(|o| matches!(o, Ok(()) | Err(TokenError::NotFound { .. }))),
            "round {round}: {outcomes:?}"
        );
        assert_converged(&nodes, "alice");
        let new = a
            .registry
            .read("alice", |x| x.default_token_string(&signing))
            .unwrap()
            .unwrap();
        assert_ne!(new, old);
        for node in &nodes {
            assert!(node.registry.lookup(&old).is_none());
            assert!(node.registry.lookup(&new).is_some());
            let defaults = node
                .registry
                .read("alice", |x| x.tokens().iter().filter(|t| t.policy.is_default()).count())
                .unwrap();
            assert_eq!(defaults, 1);
        }
    }

    // Two opens of one account at once: one opens it, the other takes
    // its state.
    let barrier = Arc::new(Barrier::new(2));
    let opened: Vec<Option<String>> = std::thread::scope(|s| {
        let handles: Vec<_> = [&a.registry, &b.registry]
            .into_iter()
            .map(|registry| {
                let barrier = Arc::clone(&barrier);
                s.spawn(move || {
                    barrier.wait();
                    registry.ensure_account("bob", at(T0)).unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(opened.iter().filter(|o| o.is_some()).count(), 1, "{opened:?}");
    assert_converged(&nodes, "bob");
    let key = opened.into_iter().flatten().next().unwrap();
    for node in &nodes {
        assert!(node.registry.lookup(&key).is_some());
    }
}

/// Appends from several connections at once: a reader that has seen
/// revision r never later sees a new change below r, and sees them all.
#[test]
fn revisions_become_visible_in_order() {
    let Some(url) = cluster("revisions_become_visible_in_order") else {
        return;
    };
    let db = TestDatabase::create(&url, "order");
    const WRITERS: u64 = 4;
    const PER_WRITER: u64 = 25;
    let writers: Vec<_> = (0..WRITERS)
        .map(|i| {
            let store = PgStore::with_config(db.config.clone()).unwrap();
            Registry::open_with_rng(
                store,
                signing(),
                Box::new(keypolicy::lifecycle::SeededRandom::new(200 + i)),
            )
            .unwrap()
        })
        .collect();
    for (i, w) in writers.iter().enumerate() {
        w.ensure_account(&format!("user{i}"), at(T0)).unwrap();
    }
    let mut reader = PgStore::with_config(db.config.clone()).unwrap();
    let mut seen = BTreeSet::new();
    let mut last = 0;
    std::thread::scope(|s| {
        for (i, w) in writers.iter().enumerate() {
            s.spawn(move || {
                let user = format!("user{i}");
                for _ in 0..PER_WRITER {
                    let policy = web_policy("app.example.com");
                    w.write(&user, |account, rng| account.create_key(policy.clone(), at(T0), rng))
                        .unwrap()
                        .unwrap();
                }
            });
        }
        // Read while they write, bounded by count.
        for _ in 0..100_000 {
            for change in reader.changes_since(last).unwrap() {
                assert!(change.revision > last, "saw {} after {last}", change.revision);
                last = change.revision;
                assert!(seen.insert(change.revision));
            }
            if seen.len() as u64 == WRITERS * (PER_WRITER + 1) {
                break;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
    });
    // Everything written was seen, in the one pass, none twice.
    let all: BTreeSet<u64> = reader
        .changes_since(0)
        .unwrap()
        .into_iter()
        .map(|c| c.revision)
        .collect();
    assert_eq!(all.len() as u64, WRITERS * (PER_WRITER + 1));
    assert_eq!(seen, all);
}

/// The notification carries the revision and the user only, and is sent
/// when the append commits.
#[test]
fn each_append_notifies_its_revision_and_user() {
    let Some(url) = cluster("each_append_notifies_its_revision_and_user") else {
        return;
    };
    let db = TestDatabase::create(&url, "notify");
    let mut store = PgStore::with_config(db.config.clone()).unwrap();
    let mut listener = db.client();
    listener.batch_execute(&format!("LISTEN {CHANNEL}")).unwrap();
    let registry = Registry::open(PgStore::with_config(db.config.clone()).unwrap(), signing()).unwrap();
    registry.ensure_account("alice", at(T0)).unwrap();
    let revision = store.revision().unwrap();
    let mut notifications = listener.notifications();
    let got = notifications
        .timeout_iter(Duration::from_secs(10))
        .next()
        .unwrap()
        .unwrap();
    assert_eq!(got.channel(), CHANNEL);
    assert_eq!(got.payload(), format!("{{\"revision\":{revision},\"user\":\"alice\"}}"));
    // A refused write notifies nothing.
    let default_id = registry.read("alice", |x| x.default_key().unwrap().id.clone()).unwrap();
    let refused = registry
        .write("alice", |account, _| account.delete_key(&default_id, at(T0)))
        .unwrap();
    assert!(refused.is_err());
    assert!(notifications
        .timeout_iter(Duration::from_millis(300))
        .next()
        .unwrap()
        .is_none());
    assert_eq!(store.revision().unwrap(), revision);
}

/// Nothing listens on port 1 of the loopback: a database that is down.
fn unreachable() -> keypolicy_registry::PgConfig {
    let mut config: keypolicy_registry::PgConfig = "postgres://nobody@127.0.0.1:1/none".parse().unwrap();
    config.connect_timeout(Duration::from_secs(1));
    config
}

/// A node starting while the database is down waits, bounded, then
/// fails: it never opens with an empty index.
#[test]
fn starting_without_the_database_waits_then_fails() {
    let started = std::time::Instant::now();
    let outcome = PgStore::connect_waiting(unreachable(), Duration::from_millis(400));
    match outcome {
        Err(keypolicy_registry::StoreError::Unavailable { database, attempts, .. }) => {
            assert_eq!(database, "127.0.0.1:1/none");
            assert!(attempts >= 2, "{attempts}");
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
    // The wait was bounded (by far more than the 400 ms asked, so this
    // cannot flake: it catches a retry loop that never ends).
    assert!(started.elapsed() < Duration::from_secs(30));
    // A bad URL names the problem, not the URL (it may hold a password).
    let bad = PgStore::connect("postgres://user:s3cret@[::1").unwrap_err();
    assert!(!bad.to_string().contains("s3cret"), "{bad}");
}

/// A follower cut off from its database: fail-static keeps serving and
/// says why in its health; fail-closed refuses once too stale; both stop
/// when dropped.
#[test]
fn a_follower_without_its_database_fails_static_or_closed() {
    let open = |seed| {
        let registry = Registry::open_with_rng(
            keypolicy_registry::SqliteStore::in_memory().unwrap(),
            signing(),
            Box::new(keypolicy::lifecycle::SeededRandom::new(seed)),
        )
        .unwrap();
        let key = registry.ensure_account("alice", at(T0)).unwrap().unwrap();
        (Arc::new(registry), key)
    };
    let options = || {
        let mut options = FollowOptions::default()
            .quiet()
            .poll_interval(Duration::from_millis(100));
        options.backoff_max = Duration::from_millis(200);
        options
    };

    let (registry, key) = open(1);
    let follower = keypolicy_registry::Follower::start(Arc::clone(&registry), unreachable(), options()).unwrap();
    eventually("the follower reports the failure", || {
        follower.health().connection_error.is_some()
    });
    let health = follower.health();
    assert_eq!(health.connection, ConnectionState::Never);
    assert!(!health.refusing);
    assert!(registry.lookup(&key).is_some(), "fail-static serves the last index");
    drop(follower);

    let (registry, key) = open(2);
    let follower = keypolicy_registry::Follower::start(
        Arc::clone(&registry),
        unreachable(),
        options().fail_closed(Duration::from_millis(300)),
    )
    .unwrap();
    // Its catch-ups succeed (the registry's own store is SQLite), so it is
    // fresh and serves although it cannot listen.
    eventually("a successful catch-up", || follower.health().lag_ms.is_some());
    assert!(registry.lookup(&key).is_some());
    assert!(follower.stop());

    // A store that fails its reads on demand: the follower's catch-ups
    // fail, and once 300 ms pass, lookups refuse; when reads work again,
    // they serve again.
    let failing = Arc::new(AtomicBool::new(false));
    let registry = Arc::new(
        Registry::open(
            Switch {
                inner: keypolicy_registry::SqliteStore::in_memory().unwrap(),
                failing: Arc::clone(&failing),
            },
            signing(),
        )
        .unwrap(),
    );
    let key = registry.ensure_account("alice", at(T0)).unwrap().unwrap();
    let follower = keypolicy_registry::Follower::start(
        Arc::clone(&registry),
        unreachable(),
        options().fail_closed(Duration::from_millis(300)),
    )
    .unwrap();
    eventually("a successful catch-up", || follower.health().lag_ms.is_some());
    assert!(registry.lookup(&key).is_some());
    failing.store(true, Ordering::SeqCst);
    eventually("fail-closed refuses", || registry.lookup(&key).is_none());
    assert!(follower.health().refusing);
    assert!(follower.health().catch_up_error.is_some());
    failing.store(false, Ordering::SeqCst);
    eventually("serving again", || registry.lookup(&key).is_some());
    assert!(!follower.health().refusing);
    drop(follower);

    // Options that would refuse on an idle, healthy node are refused.
    let (registry, _) = open(3);
    let invalid = keypolicy_registry::Follower::start(
        registry,
        unreachable(),
        options().fail_closed(Duration::from_millis(50)),
    );
    assert!(
        matches!(
            invalid,
            Err(keypolicy_registry::FollowError::Options {
                field: "max_staleness",
                ..
            })
        ),
        "{invalid:?}"
    );
}

/// A store whose reads fail while `failing` is set.
struct Switch {
    inner: keypolicy_registry::SqliteStore,
    failing: Arc<AtomicBool>,
}

impl Store for Switch {
    fn changes_since(
        &mut self,
        revision: u64,
    ) -> Result<Vec<keypolicy_registry::StoredChange>, keypolicy_registry::StoreError> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(keypolicy_registry::StoreError::Unavailable {
                database: "switch".into(),
                waited: Duration::ZERO,
                attempts: 1,
                last: "switched off".into(),
            });
        }
        self.inner.changes_since(revision)
    }

    fn append(
        &mut self,
        user: &str,
        sequence: u64,
        change: &keypolicy::lifecycle::Change,
    ) -> Result<u64, keypolicy_registry::StoreError> {
        self.inner.append(user, sequence, change)
    }
}

/// Every row of every table, as text, holds no key or token string.
#[test]
fn the_database_holds_no_usable_credential() {
    let Some(url) = cluster("the_database_holds_no_usable_credential") else {
        return;
    };
    let db = TestDatabase::create(&url, "secrets");
    let registry = Registry::open(PgStore::with_config(db.config.clone()).unwrap(), signing()).unwrap();
    let default_key = registry.ensure_account("alice", at(T0)).unwrap().unwrap();
    let policy = web_policy("app.example.com");
    let key = registry
        .write("alice", |account, rng| account.create_key(policy.clone(), at(T0), rng))
        .unwrap()
        .unwrap()
        .key
        .unwrap();
    let signing = signing();
    let token = registry
        .read("alice", |x| x.default_token_string(&signing))
        .unwrap()
        .unwrap();
    let mut client = db.client();
    let mut text = String::new();
    for table in [
        "changes",
        "accounts",
        "keys",
        "key_strings",
        "tokens",
        "keypolicy_schema",
    ] {
        let row = client
            .query_one(
                &format!("SELECT coalesce(string_agg(t::text, ' '), '') FROM {table} t"),
                &[],
            )
            .unwrap();
        text.push_str(row.get::<_, &str>(0));
    }
    assert!(text.contains("alice"), "the dump is empty: {text}");
    for secret in [&default_key, &key, &token] {
        assert!(!text.contains(secret.as_str()), "{secret} is in the database");
        let signature = secret.rsplit('.').next().unwrap();
        assert!(!text.contains(signature), "{secret}'s last part is in the database");
    }
    let strings: i64 = client
        .query_one("SELECT COUNT(*) FROM key_strings", &[])
        .unwrap()
        .get(0);
    assert_eq!(strings, 2);
}

/// Nodes starting together on an empty database: one creates the schema,
/// the others wait for it and find nothing to do.
#[test]
fn nodes_starting_together_migrate_once() {
    let Some(url) = cluster("nodes_starting_together_migrate_once") else {
        return;
    };
    let db = TestDatabase::create(&url, "migrate");
    let barrier = Arc::new(Barrier::new(4));
    let versions: Vec<i64> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let (barrier, config) = (Arc::clone(&barrier), db.config.clone());
                s.spawn(move || {
                    barrier.wait();
                    PgStore::with_config(config).unwrap().schema_version().unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(versions, vec![1; 4]);
    let rows: i64 = db
        .client()
        .query_one("SELECT COUNT(*) FROM keypolicy_schema", &[])
        .unwrap()
        .get(0);
    assert_eq!(rows, 1);
}

/// The materialized tables, written by one mechanism for both stores: the
/// same changes (same seed, so the same ids and digests) leave the same
/// rows in SQLite and PostgreSQL — live and deleted keys and tokens, their
/// policies, every key string with its retirement and grace, the account's
/// defaults and change count — and those rows agree with the replayed
/// account.
#[test]
fn both_stores_materialize_the_same_rows() {
    use keypolicy::lifecycle::{CreatedToken, SeededRandom, TokenBody};
    use keypolicy_registry::SqliteStore;

    let Some(url) = cluster("both_stores_materialize_the_same_rows") else {
        return;
    };
    let db = TestDatabase::create(&url, "materialize");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("materialize.db");
    let sqlite = Registry::open_with_rng(
        SqliteStore::open(&path).unwrap(),
        signing(),
        Box::new(SeededRandom::new(9)),
    )
    .unwrap();
    let postgres = Registry::open_with_rng(
        PgStore::with_config(db.config.clone()).unwrap(),
        signing(),
        Box::new(SeededRandom::new(9)),
    )
    .unwrap();

    // Every kind of change, applied to both.
    fn script<S: Store>(registry: &Registry<S>) -> String {
        let signing = signing();
        registry.ensure_account("alice", at(T0)).unwrap().unwrap();
        let create = |domain: &str| {
            registry
                .write("alice", |account, rng| {
                    account.create_key(web_policy(domain), at(T0 + 1), rng)
                })
                .unwrap()
                .unwrap()
                .id
        };
        let (kept, deleted) = (create("a.example.com"), create("b.example.com"));
        registry
            .write("alice", |account, _| {
                account.update_key(&kept, web_policy("c.example.com"), at(T0 + 2))
            })
            .unwrap()
            .unwrap();
        registry
            .write("alice", |account, rng| {
                account.rotate_key(&kept, Some(600), at(T0 + 3), rng)
            })
            .unwrap()
            .unwrap();
        registry
            .write("alice", |account, rng| {
                account.rotate_key(&deleted, Some(600), at(T0 + 3), rng)
            })
            .unwrap()
            .unwrap();
        registry
            .write("alice", |account, _| account.delete_key(&deleted, at(T0 + 4)))
            .unwrap()
            .unwrap();
        let body = |note: &str| TokenBody {
            note: Some(note.into()),
            scopes: Some(vec!["styles:tiles".into()]),
            allowed_urls: Some(vec!["https://app.example.com".into()]),
            expires: None,
        };
        let token = |note: &str| {
            let created = registry
                .write("alice", |account, rng| {
                    account.create_token(&signing, Actor::Owner, body(note), at(T0 + 5), rng)
                })
                .unwrap()
                .unwrap();
            let CreatedToken::Permanent(created) = created else {
                panic!("expected a pk token")
            };
            created.id
        };
        let (edited, gone) = (token("edited"), token("gone"));
        registry
            .write("alice", |account, _| {
                account.update_token(&signing, Actor::Owner, &edited, body("edited again"), at(T0 + 6))
            })
            .unwrap()
            .unwrap();
        registry
            .write("alice", |account, rng| {
                account.delete_token(&signing, Actor::Owner, &gone, at(T0 + 7), rng)
            })
            .unwrap()
            .unwrap();
        let default_token = registry
            .read("alice", |account| {
                account
                    .tokens()
                    .iter()
                    .find(|t| t.policy.is_default())
                    .unwrap()
                    .id
                    .clone()
            })
            .unwrap();
        registry
            .write("alice", |account, rng| {
                account.delete_token(&signing, Actor::Owner, &default_token, at(T0 + 8), rng)
            })
            .unwrap()
            .unwrap();
        registry.read("alice", snapshot).unwrap()
    }
    let replayed = script(&sqlite);
    assert_eq!(script(&postgres), replayed, "the two registries diverged");

    // The rows, in one comparable form: policies as JSON values (jsonb
    // reorders and respaces), times only as present or absent.
    type Rows = Vec<String>;
    let policy = |text: &str| serde_json::from_str::<serde_json::Value>(text).unwrap().to_string();
    let from_sqlite = |sql: &str, columns: usize| -> Rows {
        let store = SqliteStore::open(&path).unwrap();
        let mut statement = store.connection().prepare(sql).unwrap();
        let mut rows: Rows = statement
            .query_map([], |row| {
                Ok((0..columns)
                    .map(|i| match row.get_ref(i).unwrap() {
                        rusqlite::types::ValueRef::Text(t) => {
                            let t = std::str::from_utf8(t).unwrap();
                            if t.starts_with('{') {
                                policy(t)
                            } else {
                                t.to_owned()
                            }
                        }
                        rusqlite::types::ValueRef::Integer(n) => n.to_string(),
                        rusqlite::types::ValueRef::Blob(b) => b.iter().map(|x| format!("{x:02x}")).collect(),
                        other => format!("{other:?}"),
                    })
                    .collect::<Vec<_>>()
                    .join(" | "))
            })
            .unwrap()
            .map(Result::unwrap)
            .collect();
        rows.sort();
        rows
    };
    let mut client = db.client();
    let mut from_postgres = |sql: &str| -> Rows {
        let mut rows: Rows = client
            .query(sql, &[])
            .unwrap()
            .iter()
            .map(|row| {
                (0..row.len())
                    .map(|i| match row.columns()[i].type_().name() {
                        "bytea" => row.get::<_, Vec<u8>>(i).iter().map(|x| format!("{x:02x}")).collect(),
                        "bool" => i64::from(row.get::<_, bool>(i)).to_string(),
                        "int4" => row.get::<_, i32>(i).to_string(),
                        "int8" => row.get::<_, i64>(i).to_string(),
                        _ => {
                            let text = row.get::<_, String>(i);
                            if text.starts_with('{') {
                                policy(&text)
                            } else {
                                text
                            }
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(" | ")
            })
            .collect();
        rows.sort();
        rows
    };
    let present = |column: &str, is_integer: bool| {
        if is_integer {
            format!("({column} IS NOT NULL)::int")
        } else {
            format!("{column} IS NOT NULL")
        }
    };
    let queries = |postgres: bool, user: &str| {
        let p = |c: &str| present(c, postgres);
        let cast = if postgres { "::text" } else { "" };
        vec![
            format!("SELECT {user}, default_key, default_token, changes FROM accounts"),
            format!(
                "SELECT id, {user}, policy{cast}, is_default, {}, {}, {} FROM keys",
                p("created"),
                p("modified"),
                p("deleted")
            ),
            format!(
                "SELECT digest, key_id, {}, {}, {} FROM key_strings",
                p("issued"),
                p("retired"),
                p("grace_until")
            ),
            format!(
                "SELECT id, {user}, policy{cast}, is_default, {}, {}, {} FROM tokens",
                p("created"),
                p("modified"),
                p("deleted")
            ),
        ]
    };
    let (sqlite_queries, postgres_queries) = (queries(false, "user"), queries(true, "username"));
    let columns = [4, 7, 5, 7];
    let mut seen = Vec::new();
    for ((lite, pg), columns) in sqlite_queries.iter().zip(&postgres_queries).zip(columns) {
        let (lite_rows, pg_rows) = (from_sqlite(lite, columns), from_postgres(pg));
        assert_eq!(lite_rows, pg_rows, "{lite}");
        seen.push(lite_rows);
    }
    // And they say what the replayed account says.
    let [accounts, keys, strings, tokens] = &seen[..] else {
        unreachable!()
    };
    assert_eq!(accounts.len(), 1);
    assert!(accounts[0].ends_with(" | 12"), "12 changes: {accounts:?}");
    assert_eq!(keys.len(), 3, "default, kept, deleted: {keys:?}");
    assert_eq!(
        keys.iter().filter(|k| k.ends_with("| 1 | 1 | 1")).count(),
        1,
        "one deleted key: {keys:?}"
    );
    // Five strings: the default's, two per rotated key; the deleted key's
    // both retired without grace, the kept key's first in grace.
    assert_eq!(strings.len(), 5, "{strings:?}");
    assert_eq!(
        strings.iter().filter(|s| s.ends_with("| 1 | 1 | 1")).count(),
        1,
        "one in grace: {strings:?}"
    );
    assert_eq!(
        strings.iter().filter(|s| s.ends_with("| 1 | 1 | 0")).count(),
        2,
        "{strings:?}"
    );
    // Tokens: the first default (deleted), its replacement, edited, gone.
    assert_eq!(tokens.len(), 4, "{tokens:?}");
    assert_eq!(
        tokens.iter().filter(|t| t.ends_with("| 1 | 1 | 1")).count(),
        2,
        "two deleted: {tokens:?}"
    );
    assert!(tokens.iter().any(|t| t.contains("edited again")), "{tokens:?}");
    assert!(replayed.contains("changes 12"), "{replayed}");
}
