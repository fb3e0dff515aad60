//! The registry on a real SQLite file: every rule of the lifecycle that
//! touches stored state survives a reopen; a refused or failed write
//! changes nothing; the database holds no usable credential.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a panic is a failed test"
)]

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use keypolicy::http::{Credential, KeyLookup};
use keypolicy::key::{KeyType, Resource};
use keypolicy::lifecycle::{Actor, Change, CreatedToken, KeyError, SeededRandom, SigningKey, SigningKeys, TokenBody};
use keypolicy::token::Timestamp;
use keypolicy::{evaluate_key, KeyPolicy, KeyRequest};
use keypolicy_registry::{Registry, RegistryError, SqliteStore, Store, StoreError, StoredChange};

fn signing() -> SigningKeys {
    SigningKeys::new(SigningKey::new("test", &[7; 32]).unwrap())
}

fn at(unix: i64) -> Timestamp {
    Timestamp::from_unix_seconds(unix).unwrap()
}

const T0: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z

fn open(path: &Path, seed: u64) -> Registry<SqliteStore> {
    Registry::open_with_rng(
        SqliteStore::open(path).unwrap(),
        signing(),
        Box::new(SeededRandom::new(seed)),
    )
    .unwrap()
}

fn web_policy(domain: &str) -> KeyPolicy {
    KeyPolicy::builder()
        .key_type(KeyType::Web)
        .allowed_domains([domain])
        .build()
        .unwrap()
}

fn create_key(registry: &Registry<SqliteStore>, domain: &str) -> (String, String) {
    let policy = web_policy(domain);
    let object = registry
        .write("alice", |account, rng| account.create_key(policy.clone(), at(T0), rng))
        .unwrap()
        .unwrap();
    (object.id, object.key.unwrap())
}

fn allows<S: Store>(registry: &Registry<S>, key: &str, origin: &str, now: i64) -> bool {
    registry
        .index()
        .find_key(key, now)
        .is_some_and(|policy| evaluate_key(&policy, &KeyRequest::new(Resource::Tiles).with_origin(origin)).is_allowed())
}

#[test]
fn keys_live_rotate_and_die_across_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registry.db");
    let (id, key, default_key) = {
        let registry = open(&path, 1);
        let default_key = registry.ensure_account("alice", at(T0)).unwrap().unwrap();
        assert_eq!(registry.ensure_account("alice", at(T0)).unwrap(), None);
        let (id, key) = create_key(&registry, "app.example.com");
        assert!(allows(&registry, &key, "https://app.example.com", T0));
        assert!(!allows(&registry, &key, "https://evil.example", T0));
        (id, key, default_key)
    };
    // Reopened: the key and the default key are there.
    let registry = open(&path, 2);
    assert!(allows(&registry, &key, "https://app.example.com", T0));
    assert!(registry.index().find_key(&default_key, T0).is_some());
    assert!(registry.lookup(&default_key).is_some());

    // Rotate with a 60 s grace: both strings work, the old one until T0+60.
    let rotated = registry
        .write("alice", |account, rng| account.rotate_key(&id, Some(60), at(T0), rng))
        .unwrap()
        .unwrap();
    let new_key = rotated.key.unwrap();
    assert!(allows(&registry, &new_key, "https://app.example.com", T0));
    assert!(allows(&registry, &key, "https://app.example.com", T0 + 59));
    assert!(!allows(&registry, &key, "https://app.example.com", T0 + 60));

    // Reopened, the grace deadline holds.
    drop(registry);
    let registry = open(&path, 3);
    assert!(allows(&registry, &key, "https://app.example.com", T0 + 59));
    assert!(!allows(&registry, &key, "https://app.example.com", T0 + 60));

    // Rotate without grace: the previous string stops at once.
    let again = registry
        .write("alice", |account, rng| account.rotate_key(&id, None, at(T0 + 1), rng))
        .unwrap()
        .unwrap()
        .key
        .unwrap();
    assert!(!allows(&registry, &new_key, "https://app.example.com", T0 + 1));
    assert!(allows(&registry, &again, "https://app.example.com", T0 + 1));

    // Edit reaches the current string and the one still in grace.
    let edited = registry
        .write("alice", |account, _| {
            account.update_key(&id, web_policy("maps.example.com"), at(T0 + 2))
        })
        .unwrap()
        .unwrap();
    assert_eq!(edited.id, id);
    assert!(allows(&registry, &again, "https://maps.example.com", T0 + 2));
    assert!(allows(&registry, &key, "https://maps.example.com", T0 + 2));
    assert!(!allows(&registry, &again, "https://app.example.com", T0 + 2));

    // Delete: every string dies, and stays dead after a reopen.
    registry
        .write("alice", |account, _| account.delete_key(&id, at(T0 + 3)))
        .unwrap()
        .unwrap();
    for dead in [&key, &new_key, &again] {
        assert!(registry.index().find_key(dead, T0 + 3).is_none(), "{dead}");
    }
    drop(registry);
    let registry = open(&path, 4);
    for dead in [&key, &new_key, &again] {
        assert!(registry.index().find_key(dead, T0 + 3).is_none(), "{dead}");
        assert!(registry.lookup(dead).is_none(), "{dead}");
    }
    // The id is gone for good.
    let missing = registry
        .write("alice", |account, _| account.delete_key(&id, at(T0 + 4)))
        .unwrap();
    assert!(matches!(missing, Err(KeyError::NotFound { .. })), "{missing:?}");
}

#[test]
fn refused_operations_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registry.db");
    let registry = open(&path, 1);
    registry.ensure_account("alice", at(T0)).unwrap();
    let default_id = registry.read("alice", |a| a.default_key().unwrap().id.clone()).unwrap();
    let revision = registry.revision();
    let refused = registry
        .write("alice", |account, _| {
            account.update_key(&default_id, web_policy("x.example.com"), at(T0))
        })
        .unwrap();
    assert!(
        matches!(refused, Err(KeyError::DefaultKeyReadOnly { .. })),
        "{refused:?}"
    );
    let refused = registry
        .write("alice", |account, rng| {
            account.rotate_key(&default_id, Some(86_401), at(T0), rng)
        })
        .unwrap();
    assert!(matches!(refused, Err(KeyError::GraceOutOfRange { .. })), "{refused:?}");
    assert_eq!(registry.revision(), revision);
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.revision().unwrap(), revision);
    assert!(matches!(
        registry.write("bob", |account, _| account.delete_key("x", at(T0))),
        Err(RegistryError::UnknownUser { .. })
    ));
    assert!(matches!(
        registry.ensure_account("bad user!", at(T0)),
        Err(RegistryError::InvalidUser { .. })
    ));
}

/// A store whose writes fail on demand, around a real SQLite store.
struct Flaky {
    inner: SqliteStore,
    fail: Arc<AtomicBool>,
}

impl Store for Flaky {
    fn changes_since(&mut self, revision: u64) -> Result<Vec<StoredChange>, StoreError> {
        self.inner.changes_since(revision)
    }

    fn append(&mut self, user: &str, sequence: u64, change: &Change) -> Result<u64, StoreError> {
        if self.fail.load(Ordering::SeqCst) {
            let busy = rusqlite::ffi::Error::new(5);
            return Err(StoreError::Database(rusqlite::Error::SqliteFailure(busy, None)));
        }
        self.inner.append(user, sequence, change)
    }
}

#[test]
fn a_failed_write_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registry.db");
    let fail = Arc::new(AtomicBool::new(false));
    let store = Flaky {
        inner: SqliteStore::open(&path).unwrap(),
        fail: Arc::clone(&fail),
    };
    let registry = Registry::open_with_rng(store, signing(), Box::new(SeededRandom::new(9))).unwrap();
    registry.ensure_account("alice", at(T0)).unwrap();
    let (id, key) = {
        let policy = web_policy("app.example.com");
        let object = registry
            .write("alice", |account, rng| account.create_key(policy.clone(), at(T0), rng))
            .unwrap()
            .unwrap();
        (object.id, object.key.unwrap())
    };
    let keys_before = registry.index().key_count();
    let revision = registry.revision();

    fail.store(true, Ordering::SeqCst);
    let policy = web_policy("other.example.com");
    let create = registry.write("alice", |account, rng| account.create_key(policy.clone(), at(T0), rng));
    assert!(matches!(create, Err(RegistryError::Store(_))), "{create:?}");
    let delete = registry.write("alice", |account, _| account.delete_key(&id, at(T0)));
    assert!(matches!(delete, Err(RegistryError::Store(_))), "{delete:?}");
    let rotate = registry.write("alice", |account, rng| account.rotate_key(&id, None, at(T0), rng));
    assert!(matches!(rotate, Err(RegistryError::Store(_))), "{rotate:?}");
    // Nothing changed: not the index, the account, the revision or the file.
    assert_eq!(registry.index().key_count(), keys_before);
    assert!(allows(&registry, &key, "https://app.example.com", T0));
    assert_eq!(registry.read("alice", |a| a.keys().len()).unwrap(), 2);
    assert_eq!(registry.revision(), revision);
    drop(registry);
    let reopened = open(&path, 10);
    assert_eq!(reopened.revision(), revision);
    assert_eq!(reopened.index().key_count(), keys_before);
    assert!(allows(&reopened, &key, "https://app.example.com", T0));
}

#[test]
fn the_database_holds_no_usable_credential() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registry.db");
    let registry = open(&path, 5);
    let default_key = registry.ensure_account("alice", at(T0)).unwrap().unwrap();
    let (_, key) = create_key(&registry, "app.example.com");
    let body = TokenBody {
        scopes: Some(vec!["styles:read".into(), "tokens:write".into()]),
        ..TokenBody::default()
    };
    let signing = signing();
    let created = registry
        .write("alice", |account, rng| {
            account.create_token(&signing, Actor::Owner, body.clone(), at(T0), rng)
        })
        .unwrap()
        .unwrap();
    let CreatedToken::Permanent(sk) = created else {
        panic!("expected an sk token")
    };
    let sk_string = sk.token.clone().unwrap();
    let default_token = registry
        .read("alice", |account| account.default_token_string(&signing))
        .unwrap()
        .unwrap();
    // The token strings resolve through the index.
    assert!(matches!(registry.lookup(&sk_string), Some(Credential::Token(_))));
    assert!(matches!(registry.lookup(&default_token), Some(Credential::Token(_))));
    drop(registry);
    // Every byte of the database and its WAL: no secret in any encoding a
    // copy could use.
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        bytes.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    let text = String::from_utf8_lossy(&bytes);
    for secret in [&default_key, &key, &sk_string, &default_token] {
        assert!(!text.contains(secret.as_str()), "{secret} is in the database");
        // Neither the signature part of a token.
        if let Some(signature) = secret.rsplit('.').next() {
            assert!(!text.contains(signature), "{secret}'s signature is in the database");
        }
    }
    // But the digests and the metadata are.
    let store = SqliteStore::open(&path).unwrap();
    let strings: i64 = store
        .connection()
        .query_row("SELECT COUNT(*) FROM key_strings", [], |r| r.get(0))
        .unwrap();
    assert_eq!(strings, 2);
    let tokens: i64 = store
        .connection()
        .query_row("SELECT COUNT(*) FROM tokens WHERE deleted IS NULL", [], |r| r.get(0))
        .unwrap();
    assert_eq!(tokens, 2);
    assert_eq!(store.schema_version().unwrap(), 1);
}

#[test]
fn tokens_deleted_and_default_replaced_stay_dead_after_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registry.db");
    let signing = signing();
    let (old_default, new_default) = {
        let registry = open(&path, 6);
        registry.ensure_account("alice", at(T0)).unwrap();
        let old_default = registry
            .read("alice", |a| a.default_token_string(&signing))
            .unwrap()
            .unwrap();
        let default_id = registry
            .read("alice", |a| a.default_token().unwrap().id.clone())
            .unwrap();
        registry
            .write("alice", |account, rng| {
                account.delete_token(&signing, Actor::Owner, &default_id, at(T0), rng)
            })
            .unwrap()
            .unwrap();
        let new_default = registry
            .read("alice", |a| a.default_token_string(&signing))
            .unwrap()
            .unwrap();
        assert_ne!(old_default, new_default);
        assert!(registry.lookup(&old_default).is_none());
        assert!(registry.lookup(&new_default).is_some());
        (old_default, new_default)
    };
    let registry = open(&path, 7);
    assert!(registry.lookup(&old_default).is_none());
    assert!(registry.lookup(&new_default).is_some());
    assert_eq!(registry.index().token_count(), 1);
}

/// A store that misses other writers' changes once when told to, as a
/// node does when a change lands between its catch-up and its append.
struct Stale {
    inner: SqliteStore,
    miss: Arc<AtomicBool>,
}

impl Store for Stale {
    fn changes_since(&mut self, revision: u64) -> Result<Vec<StoredChange>, StoreError> {
        if self.miss.swap(false, Ordering::SeqCst) {
            return Ok(Vec::new());
        }
        self.inner.changes_since(revision)
    }

    fn append(&mut self, user: &str, sequence: u64, change: &Change) -> Result<u64, StoreError> {
        self.inner.append(user, sequence, change)
    }
}

/// Two writers on one file: each sees the other's changes before it
/// writes, and a write planned on stale state is refused by the store,
/// re-planned on the fresh state, and ends in one consistent state.
#[test]
fn two_writers_on_one_file_stay_consistent() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registry.db");
    let a = open(&path, 21);
    a.ensure_account("alice", at(T0)).unwrap();
    let miss = Arc::new(AtomicBool::new(false));
    let b = Registry::open_with_rng(
        Stale {
            inner: SqliteStore::open(&path).unwrap(),
            miss: Arc::clone(&miss),
        },
        signing(),
        Box::new(SeededRandom::new(22)),
    )
    .unwrap();

    // B catches up before it writes: it rotates the key A just created.
    let (id, key) = create_key(&a, "app.example.com");
    let rotated = b
        .write("alice", |account, rng| account.rotate_key(&id, None, at(T0), rng))
        .unwrap()
        .unwrap()
        .key
        .unwrap();
    // A follows B.
    assert_eq!(a.catch_up().unwrap(), 1);
    assert!(!allows(&a, &key, "https://app.example.com", T0));
    assert!(allows(&a, &rotated, "https://app.example.com", T0));

    // A deletes the key; B misses that and plans a rotation on stale
    // state. The store refuses B's append (the account moved on), B
    // applies the delete and plans again: 404, and nothing else happens.
    a.write("alice", |account, _| account.delete_key(&id, at(T0 + 1)))
        .unwrap()
        .unwrap();
    miss.store(true, Ordering::SeqCst);
    let revision = a.revision();
    let outcome = b
        .write("alice", |account, rng| account.rotate_key(&id, None, at(T0 + 1), rng))
        .unwrap();
    assert!(matches!(outcome, Err(KeyError::NotFound { .. })), "{outcome:?}");
    assert_eq!(b.revision(), revision);
    assert_eq!(a.catch_up().unwrap(), 0);
    for registry_key in [&key, &rotated] {
        assert!(a.index().find_key(registry_key, T0 + 1).is_none());
        assert!(b.index().find_key(registry_key, T0 + 1).is_none());
    }
    assert_eq!(a.index().key_count(), b.index().key_count());

    // Two opens of one account from two writers: one opens it, the other
    // takes its state.
    assert!(a.ensure_account("bob", at(T0)).unwrap().is_some());
    miss.store(true, Ordering::SeqCst);
    assert_eq!(b.ensure_account("bob", at(T0)).unwrap(), None);
    assert_eq!(
        a.read("bob", |x| x.default_key().unwrap().id.clone()).unwrap(),
        b.read("bob", |x| x.default_key().unwrap().id.clone()).unwrap()
    );
}
