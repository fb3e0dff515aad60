//! `tile_server`: an axum tile server on 127.0.0.1 whose every route is
//! guarded by `keypolicy`'s tower layer.
//!
//! ```text
//! cargo run --features tower --example tile_server -- [--port 8080] [--keys examples/keys.json]
//!     [--origin-fallback] [--same-origin ORIGIN]... [--allow-header NAME]...
//! ```
//!
//! `--origin-fallback` turns on the tokens' Origin fallback;
//! `--same-origin http://localhost:8080` (repeatable) names this server's
//! public origin(s), so that its own pages' same-origin requests, which
//! carry no `Origin`, are judged as coming from it; `--allow-header NAME`
//! (repeatable) lets preflights ask for a request header besides `Range`.
//!
//! Routes: `GET /v1/tiles/{tileset}/{z}/{x}/{y}.png` (generated PNG
//! tiles), `GET /v1/styles/{user}/{style}` (a minimal style document) and
//! `GET /tiles-auth` (the scope check), each with `?key=…` (API keys) or
//! `?access_token=…` (Mapbox-style tokens). The keys file maps strings to
//! policies: `{"keys": {"<key>": {…policy…}}, "tokens": {"<token>":
//! {…Tokens API metadata…}}}`.

use std::process::ExitCode;
use std::sync::Arc;

use keypolicy::http::KeyStore;

mod app;

const USAGE: &str = "usage: tile_server [--port PORT] [--keys FILE.json] [--origin-fallback] \
                     [--same-origin ORIGIN]... [--allow-header NAME]...";

/// The shipped keys file, so the example runs from any directory.
const DEFAULT_KEYS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/keys.json");

struct Args {
    port: u16,
    keys: std::path::PathBuf,
    options: app::Options,
}

fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Args, String> {
    let mut parsed = Args {
        port: 8080,
        keys: DEFAULT_KEYS.into(),
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

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
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
        "tile_server: {} keys and tokens from {}",
        keys.len(),
        args.keys.display()
    );
    println!("tile_server: listening on http://{address}");
    match axum::serve(listener, app::router(keys, &args.options)).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tile_server: {e}");
            ExitCode::from(1)
        }
    }
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
        let defaults = parse_args([]).unwrap().options;
        assert!(!defaults.origin_fallback && defaults.same_origin.is_empty() && defaults.allow_headers.is_empty());
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
