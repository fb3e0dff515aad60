//! `decide`: show keypolicy's decision for a policy and a request.
//!
//! ```text
//! cargo run --example decide -- --policy examples/policies/web_key.json --origin https://app.example.com --tileset alice.streets
//! cargo run --example decide -- --policy FILE.json [--origin VALUE] [--resource tiles] [--tileset ID] [--json]
//! cargo run --release --example decide -- --batch FILE.jsonl     # or `--batch -` for stdin
//! ```
//!
//! Single mode prints a readable verdict (or, with `--json`, the decision
//! object). Batch mode reads one JSON object per line,
//! `{"policy": {…}, "request": {…}}` (other top-level fields are ignored),
//! and prints one line per input line, in order: the decision object, or
//! `{"error": "<message>"}` when the line's policy or request is invalid
//! (a blank line is an error too, so output lines always pair with input
//! lines). Exit status: 0 when the input could be read (whatever the
//! decisions), 1 when the policy file or batch input cannot be read or
//! parsed in single mode, 2 for bad command-line arguments.

use std::io::{self, BufRead, BufWriter, Write};
use std::process::ExitCode;

use keypolicy::{evaluate, Decision, Denial, KeyPolicy, KeyRequest, Resource};
use serde::Deserialize;

const USAGE: &str = "usage:
  decide --policy FILE.json [--origin VALUE] [--resource tiles|styles|static|export] [--tileset ID] [--json]
  decide --batch FILE.jsonl|-";

/// What the command line asks for.
enum Command {
    Single {
        policy_path: String,
        request: KeyRequest<'static>,
        json: bool,
    },
    Batch {
        path: String,
    },
}

fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Command, String> {
    let mut args = args.into_iter();
    let mut policy_path = None;
    let mut batch = None;
    let mut request = KeyRequest::new(Resource::Tiles);
    let mut json = false;
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--policy" => policy_path = Some(value("--policy")?),
            "--batch" => batch = Some(value("--batch")?),
            "--origin" => request.origin = Some(value("--origin")?.into()),
            "--tileset" => request.tileset = Some(value("--tileset")?.into()),
            "--resource" => request.resource = value("--resource")?.parse().map_err(|e| format!("--resource: {e}"))?,
            "--json" => json = true,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    match (policy_path, batch) {
        (Some(policy_path), None) => Ok(Command::Single {
            policy_path,
            request,
            json,
        }),
        (None, Some(path)) => Ok(Command::Batch { path }),
        (Some(_), Some(_)) => Err("give either --policy or --batch, not both".into()),
        (None, None) => Err("give --policy FILE or --batch FILE".into()),
    }
}

fn main() -> ExitCode {
    let command = match parse_args(std::env::args().skip(1)) {
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
        } => single(&policy_path, &request, json),
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

fn single(policy_path: &str, request: &KeyRequest<'_>, json: bool) -> Result<(), String> {
    let text = std::fs::read_to_string(policy_path).map_err(|e| format!("{policy_path}: {e}"))?;
    let policy: KeyPolicy = serde_json::from_str(&text).map_err(|e| format!("{policy_path}: {e}"))?;
    let decision = evaluate(&policy, request);
    if json {
        println!("{}", serde_json::to_string(&decision).map_err(|e| e.to_string())?);
    } else {
        print!("{}", verdict(&policy, request, &decision));
    }
    Ok(())
}

/// A readable verdict: the outcome, the rule behind a denial, the headers.
fn verdict(policy: &KeyPolicy, request: &KeyRequest<'_>, decision: &Decision<'_>) -> String {
    let mut out = match decision.denial() {
        None => format!("ALLOWED ({})\n", decision.status()),
        Some(denial) => format!(
            "DENIED ({} {}): {}\n  rule: {}\n",
            decision.status(),
            denial.code(),
            denial.message(),
            explain(policy, request, denial)
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

/// One batch input line; other top-level fields are ignored.
#[derive(Deserialize)]
struct KeyLine<'a> {
    policy: KeyPolicy,
    #[serde(borrow)]
    request: KeyRequest<'a>,
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
        serde_json::from_str::<KeyLine<'_>>(line)
            .map_err(|e| e.to_string())
            .and_then(|l| serde_json::to_string(&evaluate(&l.policy, &l.request)).map_err(|e| e.to_string()))
    };
    decided.unwrap_or_else(|error| serde_json::json!({ "error": error }).to_string())
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
    }
}
