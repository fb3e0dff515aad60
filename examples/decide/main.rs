//! `decide`: show keypolicy's decision for a policy and a request.
//!
//! ```text
//! cargo run --example decide -- --policy examples/policies/web_key.json --origin https://app.example.com --tileset alice.streets
//! cargo run --example decide -- --policy FILE.json [--origin VALUE] [--resource tiles] [--tileset ID] [--json]
//! cargo run --example decide -- --token FILE.json --scope S [--referer URL] [--origin VALUE] [--now RFC3339] [--origin-fallback] [--json]
//! cargo run --release --example decide -- --batch FILE.jsonl     # or `--batch -` for stdin
//! cargo run --example decide -- lint (--policy|--token) FILE.json [--json] [--strict]
//! cargo run --release --example decide -- replay --old FILE.json --new FILE.json --log FILE|- [--json] [--fail-on-new-denials]
//! ```
//!
//! `--explain` (single and token modes) prints the trace of every rule
//! instead of the verdict (with `--json`, the trace object). `lint` and
//! `replay` are in `tools.rs`; their exit status is 3 when the check fails
//! (an error finding, or `--strict` and a warning; a newly denied request
//! with `--fail-on-new-denials`).
//!
//! Single mode prints a readable verdict (or, with `--json`, the decision
//! object). Batch mode reads one JSON object per line, an API key's
//! `{"policy": {…}, "request": {…}}` or an access token's
//! `{"token": {…}, "request": {…}}` (other top-level fields are ignored),
//! and prints one line per input line, in order: the decision object, or
//! `{"error": "<message>"}` when the line's policy, token or request is
//! invalid — including a `tk` token's request without `now` (a blank line
//! is an error too, so output lines always pair with input lines). Exit status: 0 when the input could be read (whatever the
//! decisions), 1 when the policy file or batch input cannot be read or
//! parsed in single mode, 2 for bad command-line arguments.

use std::io::{self, BufRead, BufWriter, Write};
use std::process::ExitCode;

use keypolicy::key::Resource;
use keypolicy::token::TokenScope;
use keypolicy::{evaluate_key, evaluate_token, Decision, Denial, KeyPolicy, KeyRequest, TokenPolicy, TokenRequest};
use serde::de::IgnoredAny;
use serde::Deserialize;

mod tools;

pub(crate) const USAGE: &str = "usage:
  decide --policy FILE.json [--origin VALUE] [--resource tiles|styles|static|export] [--tileset ID] [--json]
  decide --token FILE.json --scope SCOPE [--referer URL] [--origin VALUE] [--now RFC3339] [--origin-fallback] [--json]
  decide --batch FILE.jsonl|-
  decide lint (--policy|--token) FILE.json [--json] [--strict]
  decide replay --old FILE.json --new FILE.json --log FILE|- [--json] [--fail-on-new-denials]
  (add --explain to --policy or --token for the trace of every rule)";

/// What the command line asks for.
enum Command {
    Single {
        policy_path: String,
        request: KeyRequest<'static>,
        json: bool,
        explain: bool,
    },
    Token {
        token_path: String,
        request: TokenRequest<'static>,
        json: bool,
        explain: bool,
    },
    Batch {
        path: String,
    },
}

fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Command, String> {
    let mut args = args.into_iter();
    let mut policy_path = None;
    let mut token_path = None;
    let mut batch = None;
    let mut request = KeyRequest::new(Resource::Tiles);
    let mut origin = None;
    let mut key_only = None;
    let mut token_only = None;
    let mut referer = None;
    let mut scope = None;
    let mut now = None;
    let mut origin_fallback = false;
    let mut json = false;
    let mut explain = false;
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--policy" => policy_path = Some(value("--policy")?),
            "--token" => token_path = Some(value("--token")?),
            "--batch" => batch = Some(value("--batch")?),
            "--origin" => origin = Some(value("--origin")?),
            "--tileset" => {
                request.tileset = Some(value("--tileset")?.into());
                key_only = Some("--tileset");
            }
            "--resource" => {
                request.resource = value("--resource")?.parse().map_err(|e| format!("--resource: {e}"))?;
                key_only = Some("--resource");
            }
            "--referer" => {
                referer = Some(value("--referer")?);
                token_only = Some("--referer");
            }
            "--scope" => {
                let name = value("--scope")?;
                scope = Some(name.parse::<TokenScope>().map_err(|e| format!("--scope: {e}"))?);
                token_only = Some("--scope");
            }
            "--now" => {
                let text = value("--now")?;
                now = Some(text.parse().map_err(|e| format!("--now: {e}"))?);
                token_only = Some("--now");
            }
            "--origin-fallback" => {
                origin_fallback = true;
                token_only = Some("--origin-fallback");
            }
            "--json" => json = true,
            "--explain" => explain = true,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if let Some(token_path) = token_path {
        if policy_path.is_some() || batch.is_some() {
            return Err("give one of --policy, --token or --batch".into());
        }
        if let Some(flag) = key_only {
            return Err(format!("{flag} is for --policy; a token request has --scope"));
        }
        let scope = scope.ok_or("--token needs --scope (e.g. --scope styles:read)")?;
        let mut request = TokenRequest::new(scope).with_origin_fallback(origin_fallback);
        request.referer = referer.map(Into::into);
        request.origin = origin.map(Into::into);
        request.now = now;
        return Ok(Command::Token {
            token_path,
            request,
            json,
            explain,
        });
    }
    if let Some(flag) = token_only {
        return Err(format!("{flag} is for --token"));
    }
    request.origin = origin.map(Into::into);
    match (policy_path, batch) {
        (Some(policy_path), None) => Ok(Command::Single {
            policy_path,
            request,
            json,
            explain,
        }),
        (None, Some(_)) if explain => Err("--explain is for --policy or --token".into()),
        (None, Some(path)) => Ok(Command::Batch { path }),
        (Some(_), Some(_)) => Err("give either --policy or --batch, not both".into()),
        (None, None) => Err("give --policy FILE or --batch FILE".into()),
    }
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1).peekable();
    match args.peek().map(String::as_str) {
        Some("lint") => return tools::lint_main(args.skip(1)),
        Some("replay") => return tools::replay_main(args.skip(1)),
        _ => {}
    }
    let command = match parse_args(args) {
        Ok(command) => command,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("decide: {message}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let result = match command {
        Command::Single {
            policy_path,
            request,
            json,
            explain,
        } => single(&policy_path, &request, json, explain),
        Command::Token {
            token_path,
            request,
            json,
            explain,
        } => single_token(&token_path, &request, json, explain),
        Command::Batch { path } => batch(&path),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("decide: {message}");
            ExitCode::from(1)
        }
    }
}

fn single(policy_path: &str, request: &KeyRequest<'_>, json: bool, trace: bool) -> Result<(), String> {
    let text = std::fs::read_to_string(policy_path).map_err(|e| format!("{policy_path}: {e}"))?;
    let policy: KeyPolicy = serde_json::from_str(&text).map_err(|e| format!("{policy_path}: {e}"))?;
    if trace {
        return tools::print_explanation(&keypolicy::explain::explain_key(&policy, request), json);
    }
    let decision = evaluate_key(&policy, request);
    if json {
        println!("{}", serde_json::to_string(&decision).map_err(|e| e.to_string())?);
    } else {
        print!("{}", verdict(&decision, |d| explain(&policy, request, d)));
    }
    Ok(())
}

fn single_token(token_path: &str, request: &TokenRequest<'_>, json: bool, trace: bool) -> Result<(), String> {
    let text = std::fs::read_to_string(token_path).map_err(|e| format!("{token_path}: {e}"))?;
    let token: TokenPolicy = serde_json::from_str(&text).map_err(|e| format!("{token_path}: {e}"))?;
    request.check_against(&token).map_err(|e| format!("--{e}"))?;
    if trace {
        return tools::print_explanation(&keypolicy::explain::explain_token(&token, request), json);
    }
    let decision = evaluate_token(&token, request);
    if json {
        println!("{}", serde_json::to_string(&decision).map_err(|e| e.to_string())?);
    } else {
        print!("{}", verdict(&decision, |d| explain_token(&token, request, d)));
    }
    Ok(())
}

fn explain_token(token: &TokenPolicy, request: &TokenRequest<'_>, denial: Denial) -> String {
    let urls = || {
        let list: Vec<String> = token.allowed_urls().iter().map(ToString::to_string).collect();
        list.join(", ")
    };
    match denial {
        Denial::TokenExpired => match (token.expires(), request.now) {
            (Some(expires), Some(now)) => format!("the tk token expired at {expires}, and now is {now}"),
            _ => "a tk token needs the current time (--now) to be judged".into(),
        },
        Denial::RefererRequired if request.origin_fallback => format!(
            "allowedUrls is set ({}), so a Referer header (or, with --origin-fallback, an Origin) is required",
            urls()
        ),
        Denial::RefererRequired => format!("allowedUrls is set ({}), so a Referer header is required", urls()),
        Denial::RefererNotAllowed => {
            let (header, value) = match request.referer.as_deref().filter(|r| !r.is_empty()) {
                Some(referer) => ("Referer", referer),
                None => ("Origin", request.origin.as_deref().unwrap_or("")),
            };
            format!(
                "the {header} {value:?} is not a usable http(s) URL or matches none of allowedUrls: {}",
                urls()
            )
        }
        Denial::ScopeMissing => {
            let scopes: Vec<&str> = token.scopes().iter().map(TokenScope::as_str).collect();
            let scopes = if scopes.is_empty() {
                "none".into()
            } else {
                scopes.join(", ")
            };
            format!("the request needs {}; the token has {scopes}", request.scope)
        }
        other => other.message().to_owned(),
    }
}

/// A readable verdict: the outcome, the rule behind a denial (from
/// `explain`, which knows the policy), and the headers to send.
fn verdict(decision: &Decision<'_>, explain: impl FnOnce(Denial) -> String) -> String {
    let mut out = match decision.denial() {
        None => format!("ALLOWED ({})\n", decision.status()),
        Some(denial) => format!(
            "DENIED ({} {}): {}\n  rule: {}\n",
            decision.status(),
            denial.reason(),
            denial.message(),
            explain(denial)
        ),
    };
    for (name, value) in decision.headers() {
        out.push_str(&format!("  {name}: {value}\n"));
    }
    out
}

fn explain(policy: &KeyPolicy, request: &KeyRequest<'_>, denial: Denial) -> String {
    let list = |items: Vec<String>| items.join(", ");
    let domains = || list(policy.allowed_domains().iter().map(ToString::to_string).collect());
    let origin = request.origin.as_deref().unwrap_or("");
    match denial {
        Denial::OriginRequired if policy.allowed_domains().is_empty() => {
            format!(
                "the key type is {}, so every request needs an Origin header",
                policy.key_type()
            )
        }
        Denial::OriginRequired => format!(
            "allowed_domains is set ({}), so an Origin header is required",
            domains()
        ),
        Denial::OriginInvalid => format!("{origin:?} is not a single ASCII origin of the form scheme://host[:port]"),
        Denial::OriginNotAllowed => format!("{origin:?} matches none of allowed_domains: {}", domains()),
        Denial::ScopeMissing => format!(
            "a {} request needs {}; the key has {}",
            request.resource.as_str(),
            request.resource.required_scope(),
            list(policy.scopes().iter().map(|s| s.to_string()).collect())
        ),
        Denial::TilesetNotAllowed => format!(
            "{} is not covered by allowed_tilesets: {}",
            match request.tileset.as_deref() {
                Some(t) => format!("tileset {t:?}"),
                None => "a tile request naming no tileset".into(),
            },
            list(policy.allowed_tilesets().iter().map(ToString::to_string).collect())
        ),
        other => other.message().to_owned(),
    }
}

/// One batch input line for an API key; other top-level fields are ignored.
#[derive(Deserialize)]
struct KeyLine<'a> {
    policy: KeyPolicy,
    #[serde(borrow)]
    request: KeyRequest<'a>,
}

/// One batch input line for an access token; other top-level fields are ignored.
#[derive(Deserialize)]
struct TokenLine<'a> {
    token: TokenPolicy,
    #[serde(borrow)]
    request: TokenRequest<'a>,
}

/// Which kind of line this is, read without building anything.
#[derive(Deserialize)]
struct LineKind {
    #[serde(default)]
    policy: Option<IgnoredAny>,
    #[serde(default)]
    token: Option<IgnoredAny>,
}

fn batch(path: &str) -> Result<(), String> {
    let input: Box<dyn BufRead> = if path == "-" {
        Box::new(io::stdin().lock())
    } else {
        Box::new(io::BufReader::new(
            std::fs::File::open(path).map_err(|e| format!("{path}: {e}"))?,
        ))
    };
    let mut out = BufWriter::new(io::stdout().lock());
    for line in input.lines() {
        let line = line.map_err(|e| format!("{path}: {e}"))?;
        writeln!(out, "{}", decide_line(&line)).map_err(|e| e.to_string())?;
    }
    out.flush().map_err(|e| e.to_string())
}

/// The output line for one input line.
fn decide_line(line: &str) -> String {
    let decided = if line.trim().is_empty() {
        Err("empty line".to_owned())
    } else {
        match serde_json::from_str::<LineKind>(line) {
            Ok(LineKind {
                policy: Some(_),
                token: Some(_),
            }) => Err(r#"a line has either "policy" or "token", not both"#.to_owned()),
            Ok(LineKind { token: Some(_), .. }) => decide_token_line(line),
            _ => serde_json::from_str::<KeyLine<'_>>(line)
                .map_err(|e| e.to_string())
                .and_then(|l| serde_json::to_string(&evaluate_key(&l.policy, &l.request)).map_err(|e| e.to_string())),
        }
    };
    decided.unwrap_or_else(|error| serde_json::json!({ "error": error }).to_string())
}

/// The decision object for a `{"token", "request"}` line.
fn decide_token_line(line: &str) -> Result<String, String> {
    let l = serde_json::from_str::<TokenLine<'_>>(line).map_err(|e| e.to_string())?;
    l.request.check_against(&l.token).map_err(|e| e.to_string())?;
    serde_json::to_string(&evaluate_token(&l.token, &l.request)).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_lines_decide_or_report_errors() {
        let allowed = decide_line(
            r#"{"id": 7, "policy": {"key_type": "web", "allowed_domains": ["example.com"]}, "request": {"origin": "https://www.example.com"}}"#,
        );
        assert_eq!(
            allowed,
            r#"{"allowed":true,"status":200,"reason":null,"message":"Allowed","headers":{"Access-Control-Allow-Origin":"https://www.example.com","Vary":"Origin"}}"#
        );
        let denied = decide_line(r#"{"policy": {"scopes": ["styles:read"]}, "request": {"resource": "tiles"}}"#);
        assert!(denied.contains(r#""reason":"scope_missing""#), "{denied}");
        let bad = decide_line(r#"{"policy": {"alowed_domains": ["x.com"]}, "request": {}}"#);
        assert!(bad.starts_with(r#"{"error":"unknown field `alowed_domains`"#), "{bad}");
        let bad = decide_line(r#"{"policy": {"allowed_domains": ["bad..com"]}, "request": {}}"#);
        assert!(
            bad.contains(r#"allowed_domains[0]: \"bad..com\": the host has an empty label"#),
            "{bad}"
        );
        assert_eq!(decide_line("  "), r#"{"error":"empty line"}"#);
        assert!(decide_line("not json").starts_with(r#"{"error":"#));
    }

    #[test]
    fn token_lines_decide_or_report_errors() {
        let allowed = decide_line(
            r#"{"token": {"usage": "pk", "scopes": ["styles:read"], "allowedUrls": ["https://example.com/maps"]}, "request": {"referer": "https://docs.example.com/maps/x", "origin": "https://docs.example.com", "scope": "styles:read"}}"#,
        );
        assert_eq!(
            allowed,
            r#"{"allowed":true,"status":200,"reason":null,"message":"Allowed","headers":{"Access-Control-Allow-Origin":"https://docs.example.com","Vary":"Origin, Referer"}}"#
        );
        let expired = decide_line(
            r#"{"id": 3, "token": {"usage": "tk", "scopes": ["styles:read"], "expires": "2026-11-22T15:00:00Z"}, "request": {"scope": "styles:read", "now": "2026-11-22T15:00:00Z"}}"#,
        );
        assert!(
            expired.contains(r#""status":401,"reason":"token_expired""#),
            "{expired}"
        );
        let errors = [
            (
                r#"{"token": {"usage": "tk", "scopes": [], "expires": "2026-11-22T15:00:00Z"}, "request": {"scope": "styles:read"}}"#,
                "now: the request has no current time",
            ),
            (
                r#"{"token": {"usage": "pk", "scopes": [], "allowedURLs": ["a.com"]}, "request": {"scope": "styles:read"}}"#,
                "unknown field `allowedURLs`",
            ),
            (
                r#"{"token": {"usage": "pk", "scopes": ["map:read"]}, "request": {"scope": "styles:read"}}"#,
                r#"scopes[0]: \"map:read\" is a secret scope"#,
            ),
            (
                r#"{"token": {"usage": "pk", "scopes": []}, "request": {"scope": "tiles:read"}}"#,
                r#"unknown token scope \"tiles:read\""#,
            ),
            (
                r#"{"token": {"usage": "pk", "scopes": []}, "request": {"resource": "tiles"}}"#,
                "unknown field `resource`",
            ),
            (
                r#"{"token": {"usage": "pk", "scopes": []}, "policy": {}, "request": {}}"#,
                r#"either \"policy\" or \"token\", not both"#,
            ),
        ];
        for (line, expected) in errors {
            let out = decide_line(line);
            assert!(
                out.starts_with(r#"{"error":"#) && out.contains(expected),
                "{line}\n  got: {out}"
            );
        }
    }

    #[test]
    fn token_args_parse_and_reject() {
        let args = |a: &[&str]| parse_args(a.iter().map(|s| s.to_string()));
        let Ok(Command::Token { request, .. }) = args(&[
            "--token",
            "t.json",
            "--scope",
            "styles:read",
            "--referer",
            "https://a.com/",
            "--origin",
            "https://a.com",
            "--now",
            "2026-11-22T14:30:00Z",
            "--origin-fallback",
        ]) else {
            panic!("a token command");
        };
        assert_eq!(request.referer.as_deref(), Some("https://a.com/"));
        assert_eq!(request.origin.as_deref(), Some("https://a.com"));
        assert_eq!(request.scope, TokenScope::StylesRead);
        assert!(request.now.is_some() && request.origin_fallback);
        assert!(args(&["--token", "t.json"]).is_err());
        assert!(args(&["--token", "t.json", "--scope", "tiles:read"]).is_err());
        assert!(args(&["--token", "t.json", "--scope", "styles:read", "--now", "soon"]).is_err());
        assert!(args(&["--token", "t.json", "--scope", "styles:read", "--tileset", "a.b"]).is_err());
        assert!(args(&["--token", "t.json", "--policy", "p.json", "--scope", "styles:read"]).is_err());
        assert!(args(&["--policy", "p.json", "--referer", "https://a.com/"]).is_err());
    }

    #[test]
    fn args_parse_and_reject() {
        let args = |a: &[&str]| parse_args(a.iter().map(|s| s.to_string()));
        assert!(matches!(
            args(&["--policy", "p.json", "--resource", "styles"]),
            Ok(Command::Single { .. })
        ));
        assert!(args(&["--policy"]).is_err());
        assert!(args(&["--policy", "p", "--batch", "b"]).is_err());
        assert!(args(&["--resource", "maps", "--policy", "p"]).is_err());
        assert!(args(&["--frobnicate"]).is_err());
        assert!(matches!(
            args(&["--policy", "p.json", "--explain"]),
            Ok(Command::Single { explain: true, .. })
        ));
        assert!(matches!(
            args(&["--token", "t.json", "--scope", "styles:read", "--explain"]),
            Ok(Command::Token { explain: true, .. })
        ));
        assert!(matches!(
            args(&["--policy", "p.json"]),
            Ok(Command::Single { explain: false, .. })
        ));
        assert!(args(&["--batch", "b.jsonl", "--explain"]).is_err());
    }
}
