//! `tile_server`: an axum tile server on 127.0.0.1 whose every route is
//! guarded by `keypolicy`'s tower layer.
//!
//! ```text
//! cargo run --features tower --example tile_server -- [--port 8080] [--keys examples/keys.json]
//! ```
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

const USAGE: &str = "usage: tile_server [--port PORT] [--keys FILE.json]";

/// The shipped keys file, so the example runs from any directory.
const DEFAULT_KEYS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/keys.json");

struct Args {
    port: u16,
    keys: std::path::PathBuf,
}

fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Args, String> {
    let mut parsed = Args {
        port: 8080,
        keys: DEFAULT_KEYS.into(),
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
    match axum::serve(listener, app::router(keys)).await {
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
