//! What the PostgreSQL tests share: a fresh database per test on the
//! cluster `.ci/postgres` starts, nodes (a registry and its follower), and
//! bounded waits for propagation.

#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use keypolicy::lifecycle::{Account, Actor, SeededRandom, SigningKey, SigningKeys};
use keypolicy::token::Timestamp;
use keypolicy_registry::{FollowOptions, Follower, PgConfig, PgStore, Registry, Store};

pub const T0: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z

pub fn at(unix: i64) -> Timestamp {
    Timestamp::from_unix_seconds(unix).unwrap()
}

pub fn signing() -> SigningKeys {
    SigningKeys::new(SigningKey::new("test", &[7; 32]).unwrap())
}

/// The cluster's URL, or `None` (after saying so) when the tests run
/// without one.
pub fn cluster(test: &str) -> Option<String> {
    match std::env::var("KEYPOLICY_TEST_POSTGRES") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            // CI starts a cluster: a missing one there is a broken CI, not
            // a reason to skip.
            assert!(
                std::env::var("CI").is_err(),
                "{test}: CI is set but KEYPOLICY_TEST_POSTGRES is not (.ci/run starts a cluster)"
            );
            skipped(
                test,
                "KEYPOLICY_TEST_POSTGRES is not set; .ci/postgres starts a cluster",
            );
            None
        }
    }
}

/// Says a test was skipped, past the test harness's capture (which only
/// shows a passing test's `println!` with `--nocapture`).
pub fn skipped(test: &str, why: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "{test}: skipped ({why})");
}

/// A database of its own for one test, dropped at the end.
pub struct TestDatabase {
    admin: PgConfig,
    pub name: String,
    pub config: PgConfig,
    /// Its URL, for processes (`tile_server --database URL`).
    pub url: String,
}

impl TestDatabase {
    pub fn create(url: &str, test: &str) -> TestDatabase {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let admin: PgConfig = url.parse().unwrap();
        let name = format!(
            "kp_{test}_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        let mut client = admin.connect(postgres::NoTls).unwrap();
        client.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
        let mut config = admin.clone();
        config.dbname(&name);
        let url = with_database(url, &name);
        TestDatabase {
            admin,
            name,
            config,
            url,
        }
    }

    pub fn client(&self) -> postgres::Client {
        self.config.connect(postgres::NoTls).unwrap()
    }
}

/// `url` (`postgres://user@host:port/db?options`) naming database `name`.
fn with_database(url: &str, name: &str) -> String {
    let (head, query) = url.split_once('?').map_or((url, ""), |(head, query)| (head, query));
    let (scheme, rest) = head.split_once("://").unwrap();
    let authority = rest.split_once('/').map_or(rest, |(authority, _)| authority);
    let query = if query.is_empty() {
        String::new()
    } else {
        format!("?{query}")
    };
    format!("{scheme}://{authority}/{name}{query}")
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // Best effort: the cluster is thrown away at the end anyway.
        if let Ok(mut client) = self.admin.connect(postgres::NoTls) {
            let _ = client.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
        }
    }
}

/// One "node": a registry on the shared database and its follower.
pub struct Node {
    pub registry: Arc<Registry<PgStore>>,
    pub follower: Follower,
}

impl Node {
    pub fn open(db: &TestDatabase, seed: u64, options: FollowOptions) -> Node {
        let store = PgStore::with_config(db.config.clone()).unwrap();
        let registry = Arc::new(Registry::open_with_rng(store, signing(), Box::new(SeededRandom::new(seed))).unwrap());
        let follower = Follower::start(Arc::clone(&registry), db.config.clone(), options).unwrap();
        Node { registry, follower }
    }
}

/// Polls `done` until it holds, for at most 20 s (then the test fails,
/// naming `what`). Waits for propagation; asserts nothing about time.
pub fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if done() {
            return;
        }
        assert!(Instant::now() < deadline, "gave up after 20 s waiting for: {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// An account's state in a comparable form: every live key (id, digest,
/// default flag, policy), every live token (id, policy), and its change
/// count.
pub fn snapshot(account: &Account) -> String {
    let mut keys: Vec<String> = account
        .keys()
        .iter()
        .map(|k| format!("{} {:?} {} {:?}", k.id, k.digest, k.default, k.policy))
        .collect();
    keys.sort();
    let mut tokens: Vec<String> = account
        .tokens()
        .iter()
        .map(|t| format!("{} {:?}", t.id, t.policy))
        .collect();
    tokens.sort();
    format!("changes {}\nkeys {keys:#?}\ntokens {tokens:#?}", account.revision())
}

/// Deletes `user`'s default token through `registry` at `now` (which
/// replaces it); the old string and the new one.
pub fn replace_default_token<S: Store>(registry: &Registry<S>, user: &str, now: Timestamp) -> (String, String) {
    let signing = signing();
    let string = || {
        registry
            .read(user, |x| x.default_token_string(&signing))
            .unwrap()
            .unwrap()
    };
    let old = string();
    let id = registry.read(user, |x| x.default_token().unwrap().id.clone()).unwrap();
    registry
        .write(user, |account, rng| {
            account.delete_token(&signing, Actor::Owner, &id, now, rng)
        })
        .unwrap()
        .unwrap();
    (old, string())
}
