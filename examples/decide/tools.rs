//! `decide lint`, `decide replay` and the `--explain` printer.

use std::io::{self, BufRead};
use std::process::ExitCode;

use keypolicy::explain::Explanation;
use keypolicy::lint::{self, Finding, Severity};
use keypolicy::replay::{JsonLine, Replay, ReplayReport};
use keypolicy::{KeyPolicy, KeyRequest, TokenPolicy, TokenRequest};

/// Exit status of a check that ran and failed (lint errors, new denials).
const CHECK_FAILED: u8 = 3;

/// Prints a trace: readable, or the JSON object.
pub fn print_explanation(trace: &Explanation, json: bool) -> Result<(), String> {
    if json {
        println!("{}", serde_json::to_string(trace).map_err(|e| e.to_string())?);
    } else {
        print!("{trace}");
    }
    Ok(())
}

/// A policy file: an API key's policy, or a token (it has `usage`).
pub enum PolicyFile {
    /// Boxed: a compiled key policy is much larger than a token policy.
    Key(Box<KeyPolicy>, Vec<String>),
    Token(TokenPolicy, Vec<String>),
}

/// Reads a policy file, keeping its allowlist as written (for lint).
pub fn read_policy(path: &str) -> Result<PolicyFile, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| format!("{path}: {e}"))?;
    let written = |field: &str| -> Vec<String> {
        value
            .get(field)
            .and_then(|v| v.as_array())
            .map(|items| items.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
            .unwrap_or_default()
    };
    if value.get("usage").is_some() {
        let token: TokenPolicy = serde_json::from_str(&text).map_err(|e| format!("{path}: {e}"))?;
        Ok(PolicyFile::Token(token, written("allowedUrls")))
    } else {
        let key: KeyPolicy = serde_json::from_str(&text).map_err(|e| format!("{path}: {e}"))?;
        Ok(PolicyFile::Key(Box::new(key), written("allowed_domains")))
    }
}

fn usage_error(message: &str) -> ExitCode {
    eprintln!("decide: {message}");
    eprintln!("{}", super::USAGE);
    ExitCode::from(2)
}

/// `decide lint (--policy|--token) FILE [--json] [--strict]`.
pub fn lint_main(args: impl Iterator<Item = String>) -> ExitCode {
    let mut path = None;
    let mut json = false;
    let mut strict = false;
    let mut args = args;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--policy" | "--token" => match args.next() {
                Some(value) => path = Some(value),
                None => return usage_error(&format!("{arg} needs a value")),
            },
            "--json" => json = true,
            "--strict" => strict = true,
            other => return usage_error(&format!("unknown argument {other:?}")),
        }
    }
    let Some(path) = path else {
        return usage_error("lint needs --policy FILE or --token FILE");
    };
    let findings = match read_policy(&path) {
        Ok(PolicyFile::Key(key, written)) => lint::lint_key_as_written(&key, &written),
        Ok(PolicyFile::Token(token, written)) => lint::lint_token_as_written(&token, &written),
        Err(message) => {
            eprintln!("decide: {message}");
            return ExitCode::from(1);
        }
    };
    if let Err(message) = print_findings(&findings, json) {
        eprintln!("decide: {message}");
        return ExitCode::from(1);
    }
    ExitCode::from(lint_status(&findings, strict))
}

/// 3 when a finding is an error (with `strict`, a warning too), else 0.
fn lint_status(findings: &[Finding], strict: bool) -> u8 {
    let limit = if strict { Severity::Warning } else { Severity::Error };
    if lint::worst(findings).is_some_and(|worst| worst >= limit) {
        CHECK_FAILED
    } else {
        0
    }
}

/// 3 when asked to fail on new denials and there are some, else 0.
fn replay_status(report: &ReplayReport, fail_on_new_denials: bool) -> u8 {
    if fail_on_new_denials && report.newly_denied > 0 {
        CHECK_FAILED
    } else {
        0
    }
}

fn print_findings(findings: &[Finding], json: bool) -> Result<(), String> {
    let count = |severity: Severity| findings.iter().filter(|f| f.severity == severity).count();
    let (errors, warnings, notes) = (count(Severity::Error), count(Severity::Warning), count(Severity::Note));
    if json {
        let out = serde_json::json!({
            "findings": findings,
            "errors": errors,
            "warnings": warnings,
            "notes": notes,
        });
        println!("{out}");
    } else {
        for finding in findings {
            println!("{finding}");
        }
        println!("{errors} error(s), {warnings} warning(s), {notes} note(s)");
    }
    Ok(())
}

/// `decide replay --old FILE --new FILE --log FILE|- [--json] [--fail-on-new-denials]`.
pub fn replay_main(args: impl Iterator<Item = String>) -> ExitCode {
    let (mut old, mut new, mut log) = (None, None, None);
    let mut json = false;
    let mut fail_on_new_denials = false;
    let mut args = args;
    while let Some(arg) = args.next() {
        let slot = match arg.as_str() {
            "--old" => &mut old,
            "--new" => &mut new,
            "--log" => &mut log,
            "--json" => {
                json = true;
                continue;
            }
            "--fail-on-new-denials" => {
                fail_on_new_denials = true;
                continue;
            }
            other => return usage_error(&format!("unknown argument {other:?}")),
        };
        match args.next() {
            Some(value) => *slot = Some(value),
            None => return usage_error(&format!("{arg} needs a value")),
        }
    }
    let (Some(old), Some(new), Some(log)) = (old, new, log) else {
        return usage_error("replay needs --old FILE, --new FILE and --log FILE (or --log -)");
    };
    let report = match replay(&old, &new, &log) {
        Ok(report) => report,
        Err(message) => {
            eprintln!("decide: {message}");
            return ExitCode::from(1);
        }
    };
    if json {
        match serde_json::to_string_pretty(&report) {
            Ok(text) => println!("{text}"),
            Err(e) => {
                eprintln!("decide: {e}");
                return ExitCode::from(1);
            }
        }
    } else {
        print!("{report}");
    }
    let status = replay_status(&report, fail_on_new_denials);
    if status != 0 && !json {
        eprintln!(
            "decide: {} request(s) allowed by the old policy are denied by the new one",
            report.newly_denied
        );
    }
    ExitCode::from(status)
}

/// Replays the log at `log_path` (`-`: stdin) from `old_path` to `new_path`.
pub fn replay(old_path: &str, new_path: &str, log_path: &str) -> Result<ReplayReport, String> {
    let mut replay = match (read_policy(old_path)?, read_policy(new_path)?) {
        (PolicyFile::Key(old, _), PolicyFile::Key(new, _)) => Replay::keys(*old, *new),
        (PolicyFile::Token(old, _), PolicyFile::Token(new, _)) => Replay::tokens(old, new),
        _ => {
            return Err(format!(
                "{old_path} and {new_path} must both be key policies or both tokens"
            ))
        }
    };
    let mut input: Box<dyn BufRead> = if log_path == "-" {
        Box::new(io::stdin().lock())
    } else {
        Box::new(io::BufReader::with_capacity(
            1 << 16,
            std::fs::File::open(log_path).map_err(|e| format!("{log_path}: {e}"))?,
        ))
    };
    let mut line = String::new();
    let mut number = 0u64;
    loop {
        line.clear();
        let read = input.read_line(&mut line).map_err(|e| format!("{log_path}: {e}"))?;
        if read == 0 {
            break;
        }
        number += 1;
        replay_line(&mut replay, number, &line);
    }
    Ok(replay.report())
}

/// Replays one log line: a JSON line (`{"request": …, "count": …}`) or an
/// access-log line. Blank lines are ignored.
pub fn replay_line(replay: &mut Replay, number: u64, line: &str) {
    let line = line.trim_end_matches(['\n', '\r']);
    if line.trim().is_empty() {
        return;
    }
    if !line.trim_start().starts_with('{') {
        if let Err(e) = replay.access_log_line(line) {
            replay.unparsed(number, e.to_string());
        }
        return;
    }
    if replay.is_tokens() {
        match serde_json::from_str::<JsonLine<TokenRequest<'_>>>(line) {
            Ok(l) => replay.record_token(&l.request, l.count),
            Err(e) => replay.unparsed(number, e.to_string()),
        }
    } else {
        match serde_json::from_str::<JsonLine<KeyRequest<'_>>>(line) {
            Ok(l) => replay.record_key(&l.request, l.count, None),
            Err(e) => replay.unparsed(number, e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples");

    #[test]
    fn sample_replay_fails_only_when_asked() {
        let report = replay(
            &format!("{EXAMPLES}/replay/old.json"),
            &format!("{EXAMPLES}/replay/new.json"),
            &format!("{EXAMPLES}/replay/access.log"),
        )
        .unwrap();
        assert_eq!(report.newly_denied, 22);
        assert_eq!(replay_status(&report, true), CHECK_FAILED);
        assert_eq!(replay_status(&report, false), 0);
        let same = replay(
            &format!("{EXAMPLES}/replay/new.json"),
            &format!("{EXAMPLES}/replay/new.json"),
            &format!("{EXAMPLES}/replay/requests.jsonl"),
        )
        .unwrap();
        assert_eq!((same.newly_denied, same.unchanged), (0, 10087));
        assert_eq!(replay_status(&same, true), 0);
        let mixed = replay(
            &format!("{EXAMPLES}/replay/old.json"),
            &format!("{EXAMPLES}/tokens/public_token.json"),
            &format!("{EXAMPLES}/replay/access.log"),
        );
        assert!(mixed.unwrap_err().contains("both be key policies or both tokens"));
        assert!(replay(&format!("{EXAMPLES}/replay/old.json"), "/nonexistent", "-").is_err());
    }

    #[test]
    fn lint_status_and_files() {
        let PolicyFile::Key(key, written) = read_policy(&format!("{EXAMPLES}/policies/web_key.json")).unwrap() else {
            panic!("a key policy");
        };
        assert_eq!(written[2], "http://localhost:3000");
        let findings = lint::lint_key_as_written(&key, &written);
        // A development entry (warning) and an ignored port (note).
        assert_eq!(lint_status(&findings, false), 0);
        assert_eq!(lint_status(&findings, true), CHECK_FAILED);
        let PolicyFile::Token(token, _) = read_policy(&format!("{EXAMPLES}/tokens/public_token.json")).unwrap() else {
            panic!("a token");
        };
        assert_eq!(lint_status(&lint::lint_token(&token), false), 0);
        let useless = KeyPolicy::builder()
            .scope(keypolicy::key::KeyScope::StylesRead)
            .allowed_tilesets(["alice.*"])
            .build()
            .unwrap();
        assert_eq!(lint_status(&lint::lint_key(&useless), false), CHECK_FAILED);
    }

    fn key(json: &str) -> KeyPolicy {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn replay_lines_of_both_formats() {
        let mut replay = Replay::keys(
            key("{}"),
            key(r#"{"key_type": "web", "allowed_domains": ["app.example.com"]}"#),
        );
        let lines = [
            r#"{"request": {"origin": "https://app.example.com", "tileset": "alice.streets"}, "count": 5}"#,
            r#"{"id": 1, "policy": {}, "request": {"origin": "https://other.example.net"}}"#,
            r#"203.0.113.7 - - [22/Nov/2026:14:30:00 +0000] "GET /v1/tiles/alice.streets/3/4/2.png?key=K HTTP/1.1" 200 812 "-" "QGIS/3.34" "-""#,
            r#"203.0.113.7 - - [22/Nov/2026:14:30:00 +0000] "GET /favicon.ico HTTP/1.1" 404 0 "-" "x" "-""#,
            "",
            "not a log line",
            r#"{"request": {"resource": "maps"}}"#,
        ];
        for (i, line) in lines.iter().enumerate() {
            replay_line(&mut replay, i as u64 + 1, line);
        }
        let report = replay.report();
        assert_eq!((report.lines, report.requests), (3, 7));
        assert_eq!((report.skipped_lines, report.unparsed_lines), (1, 2));
        assert_eq!(report.newly_denied, 2);
        assert_eq!(report.unchanged, 5);
        assert_eq!(report.errors[0].0, 6);
        assert_eq!(report.errors[1].0, 7);
    }
}
