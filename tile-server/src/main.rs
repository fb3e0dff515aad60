//! `tile_server`: an axum tile server on 127.0.0.1 whose every tile route
//! is guarded by `keypolicy`'s tower layer, with its keys and tokens in a
//! durable registry managed over HTTP.
//!
//! ```text
//! cargo run -p tile-server -- [--port 8080] [--keys FILE.json] [--database keypolicy.db | postgres://…]
//!     [--user demo] [--owner-secret SECRET] [--signing-key HEX] [--max-staleness SECONDS]
//!     [--origin-fallback] [--same-origin ORIGIN]... [--allow-header NAME]...
//! ```
//!
//! Tile routes: `GET /v1/tiles/{tileset}/{z}/{x}/{y}.png` (generated PNG
//! tiles), `GET /v1/styles/{user}/{style}` (a minimal style document) and
//! `GET /tiles-auth` (the scope check), each with `?key=…` (API keys) or
//! `?access_token=…` (Mapbox-style tokens). A credential is looked up in
//! the keys file (fixed demo strings: `{"keys": {"<key>": {…policy…}},
//! "tokens": {"<token>": {…Tokens API metadata…}}}`), then in the
//! registry.
//!
//! Management routes (see `manage.rs`): `/keys/v1/{user}…` for the owner,
//! `/tokens/v2…` (the Tokens API); `GET /health` reports the registry's
//! revision (and, on PostgreSQL, the follower's lag and connection).
//!
//! `--database`: a SQLite file (default `keypolicy.db` in the working
//! directory) or a `postgres://` URL (a fleet: every node follows the
//! database's change feed). `--user` (default `demo`): the account opened
//! on first start; its default key and default token are printed once.
//! `--owner-secret` (or `KEYPOLICY_OWNER_SECRET`): the owner's bearer
//! secret for the key routes (none: no key routes). `--signing-key` (or
//! `KEYPOLICY_SIGNING_KEY`): the token signing secret in hex, at least 32
//! bytes; without one, a SQLite server generates one and keeps it beside
//! the database in `<database>.signing-key` (a fleet must be given one).
//! `--max-staleness SECONDS` (PostgreSQL only): fail-closed — refuse every
//! registry credential once the node has not caught up with the database
//! for that long (more than the 5 s poll); without it a node is
//! fail-static and serves its last index through an outage.
//!
//! `--origin-fallback` turns on the tokens' Origin fallback;
//! `--same-origin http://localhost:8080` (repeatable) names this server's
//! public origin(s), so that its own pages' same-origin requests, which
//! carry no `Origin`, are judged as coming from it; `--allow-header NAME`
//! (repeatable) lets preflights ask for a request header besides `Range`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use keypolicy::http::{Credential, KeyLookup, KeyStore};
use keypolicy::lifecycle::{OsRandom, RandomSource, SigningKey, SigningKeys};
use keypolicy::token::Timestamp;
use keypolicy_registry::{FollowError, FollowOptions, Follower, PgConfig, PgStore, Registry, SqliteStore, Store};

mod app;
mod manage;

const USAGE: &str = "usage: tile_server [--port PORT] [--keys FILE.json] [--database PATH|postgres://…] \
                     [--user NAME] [--owner-secret SECRET] [--signing-key HEX] [--max-staleness SECONDS] \
                     [--origin-fallback] \
                     [--same-origin ORIGIN]... [--allow-header NAME]...";

/// How long a fleet node waits for PostgreSQL at start before giving up.
const DATABASE_WAIT: Duration = Duration::from_secs(30);

/// The shipped keys file, so the example runs from any directory.
const DEFAULT_KEYS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/keys.json");

struct Args {
    port: u16,
    keys: PathBuf,
    database: String,
    user: String,
    owner_secret: Option<String>,
    signing_key: Option<String>,
    max_staleness: Option<Duration>,
    options: app::Options,
}

fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Args, String> {
    let mut parsed = Args {
        port: 8080,
        keys: DEFAULT_KEYS.into(),
        database: "keypolicy.db".into(),
        user: "demo".into(),
        owner_secret: std::env::var("KEYPOLICY_OWNER_SECRET").ok(),
        signing_key: std::env::var("KEYPOLICY_SIGNING_KEY").ok(),
        max_staleness: None,
        options: app::Options::default(),
    };
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--port" => {
                let port = value("--port")?;
                parsed.port = port.parse().map_err(|e| format!("--port: {port:?}: {e}"))?;
            }
            "--keys" => parsed.keys = value("--keys")?.into(),
            "--database" => parsed.database = value("--database")?,
            "--user" => parsed.user = value("--user")?,
            "--owner-secret" => parsed.owner_secret = Some(value("--owner-secret")?),
            "--signing-key" => parsed.signing_key = Some(value("--signing-key")?),
            "--max-staleness" => {
                let seconds = value("--max-staleness")?;
                let parsed_seconds: u64 = seconds
                    .parse()
                    .map_err(|e| format!("--max-staleness: {seconds:?}: {e}"))?;
                parsed.max_staleness = Some(Duration::from_secs(parsed_seconds));
            }
            "--origin-fallback" => parsed.options.origin_fallback = true,
            "--same-origin" => {
                let origin = value("--same-origin")?;
                let origin = origin.parse().map_err(|e| format!("--same-origin: {e}"))?;
                parsed.options.same_origin.push(origin);
            }
            "--allow-header" => {
                let name = value("--allow-header")?;
                let header = name.parse().map_err(|e| format!("--allow-header: {name:?}: {e}"))?;
                parsed.options.allow_headers.push(header);
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(parsed)
}

/// Opens the registry and the account outside any async runtime (the
/// PostgreSQL client blocks on its own runtime, which cannot run inside
/// another), then serves on a single-threaded runtime. The registry is
/// dropped after the runtime, for the same reason.
fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("tile_server: {message}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let keys = match app::load_keys(&args.keys) {
        Ok(keys) => Arc::new(KeyStore::new(keys)),
        Err(message) => {
            eprintln!("tile_server: {message}");
            return ExitCode::from(1);
        }
    };
    let registry = match open_registry(&args.database, args.signing_key.as_deref(), args.max_staleness) {
        Ok(opened) => opened,
        Err(message) => {
            eprintln!("tile_server: {message}");
            return ExitCode::from(1);
        }
    };
    let Opened {
        registry,
        follower,
        database,
    } = registry;
    match registry.ensure_account(&args.user, Timestamp::from_system_time(std::time::SystemTime::now())) {
        Ok(Some(default_key)) => {
            let default_token = registry
                .read(&args.user, |account| {
                    account.default_token_string(registry.signing_keys())
                })
                .ok()
                .flatten()
                .unwrap_or_default();
            // Shown once: the registry keeps only a digest of the key, and
            // re-derives token strings only for their owner.
            println!("tile_server: opened account {:?}", args.user);
            println!("tile_server: default key   {default_key}");
            println!("tile_server: default token {default_token}");
        }
        Ok(None) => {}
        Err(e) => {
            eprintln!("tile_server: account {:?}: {e}", args.user);
            return ExitCode::from(1);
        }
    }
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("tile_server: {e}");
            return ExitCode::from(1);
        }
    };
    let code = runtime.block_on(serve(args, keys, Arc::clone(&registry), follower, database));
    drop(runtime);
    drop(registry);
    code
}

/// Listens on 127.0.0.1 and serves the tile, management and health routes.
async fn serve(
    args: Args,
    keys: Arc<KeyStore>,
    registry: manage::SharedRegistry,
    follower: Option<Follower>,
    database: String,
) -> ExitCode {
    let listener = match tokio::net::TcpListener::bind(("127.0.0.1", args.port)).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("tile_server: cannot listen on 127.0.0.1:{}: {e}", args.port);
            return ExitCode::from(1);
        }
    };
    let address = listener
        .local_addr()
        .map_or_else(|_| format!("127.0.0.1:{}", args.port), |a| a.to_string());
    println!(
        "tile_server: {} keys and tokens from {}; registry {database} at revision {}",
        keys.len(),
        args.keys.display(),
        registry.revision()
    );
    if args.owner_secret.as_deref().is_none_or(str::is_empty) {
        println!("tile_server: no owner secret: the key routes (/keys/v1) are off");
    }
    let lookups = Lookups {
        file: keys,
        registry: Arc::clone(&registry),
    };
    let health = axum::Router::new()
        .route("/health", axum::routing::get(health))
        .with_state(HealthState {
            registry: Arc::clone(&registry),
            follower: follower.map(|f| Arc::new(std::sync::Mutex::new(f))),
        });
    let router = app::router(lookups, &args.options)
        .merge(manage::router(manage::Management::new(registry, args.owner_secret)))
        .merge(health);
    println!("tile_server: listening on http://{address}");
    match axum::serve(listener, router).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tile_server: {e}");
            ExitCode::from(1)
        }
    }
}

/// What `GET /health` reads.
#[derive(Clone)]
struct HealthState {
    registry: manage::SharedRegistry,
    follower: Option<Arc<std::sync::Mutex<Follower>>>,
}

/// `GET /health`: the registry's revision; on PostgreSQL, the follower's
/// applied revision, lag, connection state and whether it refuses.
async fn health(axum::extract::State(state): axum::extract::State<HealthState>) -> axum::Json<serde_json::Value> {
    let body = match &state.follower {
        Some(follower) => {
            let health = follower
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .health();
            serde_json::json!({"database": "postgres", "revision": state.registry.revision(), "follower": health})
        }
        None => serde_json::json!({"database": "sqlite", "revision": state.registry.revision()}),
    };
    axum::Json(body)
}

/// Tile requests find a credential in the keys file, then in the registry.
#[derive(Clone)]
struct Lookups {
    file: Arc<KeyStore>,
    registry: manage::SharedRegistry,
}

impl KeyLookup for Lookups {
    fn lookup(&self, key: &str) -> Option<Credential> {
        self.file.lookup(key).or_else(|| self.registry.lookup(key))
    }
}

/// The registry, and the follower of a fleet's change feed.
struct Opened {
    registry: manage::SharedRegistry,
    follower: Option<Follower>,
    database: String,
}

fn is_postgres(database: &str) -> bool {
    database.starts_with("postgres://") || database.starts_with("postgresql://")
}

/// Opens the registry `database` names: loads every change before any
/// request is served, so a node never serves an empty index.
fn open_registry(database: &str, signing_key: Option<&str>, max_staleness: Option<Duration>) -> Result<Opened, String> {
    if is_postgres(database) {
        let hex = signing_key.ok_or(
            "--signing-key (or KEYPOLICY_SIGNING_KEY) is required with PostgreSQL: every node of a fleet must sign \
             and verify tokens with the same key",
        )?;
        let signing = signing_keys(hex)?;
        let config: PgConfig = database.parse().map_err(|e| format!("--database: {e}"))?;
        let store = PgStore::connect_waiting(config.clone(), DATABASE_WAIT).map_err(|e| e.to_string())?;
        let store: Box<dyn Store> = Box::new(store);
        let registry = Arc::new(Registry::open(store, signing).map_err(|e| e.to_string())?);
        let options = match max_staleness {
            Some(max) => FollowOptions::default().fail_closed(max),
            None => FollowOptions::default(),
        };
        let follower = Follower::start(Arc::clone(&registry), config, options).map_err(|e| match e {
            // The only option a user sets here.
            FollowError::Options { .. } => format!("--max-staleness: {e}"),
            _ => e.to_string(),
        })?;
        return Ok(Opened {
            registry,
            follower: Some(follower),
            database: "postgres".into(),
        });
    }
    if max_staleness.is_some() {
        return Err(
            "--max-staleness: only a fleet (--database postgres://…) follows a database; a SQLite \
                    server's index is the database's own"
                .into(),
        );
    }
    let signing = match signing_key {
        Some(hex) => signing_keys(hex)?,
        None => signing_keys(&stored_signing_key(Path::new(database))?)?,
    };
    let store: Box<dyn Store> = Box::new(SqliteStore::open(database).map_err(|e| format!("{database}: {e}"))?);
    let registry = Registry::open(store, signing).map_err(|e| format!("{database}: {e}"))?;
    Ok(Opened {
        registry: Arc::new(registry),
        follower: None,
        database: database.to_owned(),
    })
}

/// The signing keys from a hex secret (at least 32 bytes).
fn signing_keys(hex: &str) -> Result<SigningKeys, String> {
    let hex = hex.trim();
    if !hex.len().is_multiple_of(2) || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err("--signing-key: expected an even number of hex digits".into());
    }
    let secret: Vec<u8> = (0..hex.len())
        .step_by(2)
        .filter_map(|i| hex.get(i..i + 2).and_then(|byte| u8::from_str_radix(byte, 16).ok()))
        .collect();
    let key = SigningKey::new("main", &secret).map_err(|e| format!("--signing-key: {e}"))?;
    Ok(SigningKeys::new(key))
}

/// The signing secret kept beside a SQLite database, generated on first
/// start (32 random bytes, hex, readable by the owner only).
fn stored_signing_key(database: &Path) -> Result<String, String> {
    let mut path = database.as_os_str().to_owned();
    path.push(".signing-key");
    let path = PathBuf::from(path);
    match std::fs::read_to_string(&path) {
        Ok(hex) => return Ok(hex),
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(format!("{}: {e}", path.display())),
        Err(_) => {}
    }
    let mut secret = [0u8; 32];
    OsRandom.fill(&mut secret).map_err(|e| e.to_string())?;
    let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
    write_private(&path, &hex).map_err(|e| format!("{}: {e}", path.display()))?;
    println!("tile_server: generated a token signing key in {}", path.display());
    Ok(hex)
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments() {
        let args = parse_args(["--port".into(), "9000".into(), "--keys".into(), "k.json".into()]).unwrap();
        assert_eq!((args.port, args.keys.to_str()), (9000, Some("k.json")));
        assert_eq!(parse_args([]).unwrap().port, 8080);
        assert!(parse_args(["--port".into(), "99999".into()]).is_err());
        assert!(parse_args(["--bogus".into()]).is_err());
        let staleness = parse_args(["--max-staleness".into(), "30".into()]).unwrap();
        assert_eq!(staleness.max_staleness, Some(Duration::from_secs(30)));
        assert_eq!(parse_args([]).unwrap().max_staleness, None);
        let error = parse_args(["--max-staleness".into(), "-1".into()]).err().unwrap();
        assert!(error.starts_with("--max-staleness: \"-1\""), "{error}");
        let defaults = parse_args([]).unwrap().options;
        assert!(!defaults.origin_fallback && defaults.same_origin.is_empty() && defaults.allow_headers.is_empty());
    }

    #[test]
    fn max_staleness_needs_a_fleet() {
        let dir = tempfile::tempdir().unwrap();
        let database = dir.path().join("k.db");
        let error = open_registry(database.to_str().unwrap(), None, Some(Duration::from_secs(30)))
            .err()
            .unwrap();
        assert!(error.starts_with("--max-staleness: only a fleet"), "{error}");
        assert!(!database.exists(), "a refused start creates nothing");
    }

    #[test]
    fn layer_options() {
        let args = [
            "--origin-fallback",
            "--same-origin",
            "http://localhost:8080",
            "--same-origin",
            "https://Tiles.Example.com",
            "--allow-header",
            "X-Map-Client",
        ];
        let options = parse_args(args.map(String::from)).unwrap().options;
        assert!(options.origin_fallback);
        let origins: Vec<&str> = options.same_origin.iter().map(|o| o.as_str()).collect();
        assert_eq!(origins, ["http://localhost:8080", "https://tiles.example.com"]);
        assert_eq!(options.allow_headers, ["x-map-client"]);
        let error = parse_args(["--same-origin".into(), "localhost:8080".into()])
            .err()
            .unwrap();
        assert!(
            error.starts_with("--same-origin: public origin \"localhost:8080\""),
            "{error}"
        );
        assert!(parse_args(["--same-origin".into(), "http://a.com/path".into()]).is_err());
        assert!(parse_args(["--allow-header".into(), "bad header".into()]).is_err());
        assert!(parse_args(["--allow-header".into()]).is_err());
    }

    #[test]
    fn keys_file_errors_are_reported() {
        let both = r#"{"keys": {"a": {}}, "tokens": {"a": {"usage": "pk", "scopes": ["styles:read"]}}}"#;
        assert_eq!(
            app::parse_keys(both).unwrap_err(),
            r#""a" is listed both under keys and under tokens"#
        );
        let typo = r#"{"keys": {"a": {"allowed_domain": ["x.com"]}}}"#;
        assert!(app::parse_keys(typo).unwrap_err().contains("allowed_domain"));
        assert!(app::parse_keys(r#"{"key": {}}"#).is_err());
    }

    #[test]
    fn the_shipped_keys_file_loads() {
        let keys = app::load_keys(DEFAULT_KEYS.as_ref()).unwrap();
        assert!(keys.contains_key("demo-web-localhost"));
        assert!(matches!(
            keys.get("pk.demo-localhost"),
            Some(keypolicy::http::Credential::Token(_))
        ));
    }
}
