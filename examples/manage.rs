//! `manage`: run credential-lifecycle scenarios against a fresh in-memory
//! account (the `lifecycle` feature).
//!
//! ```text
//! cargo run --features lifecycle --example manage -- --script examples/scenarios/lifecycle.jsonl [--seed N]
//! cargo run --features lifecycle --example manage -- --script - < FILE.jsonl
//! ```
//!
//! Each input line is one scenario, `{"user": "alice", "steps": [...]}`,
//! run against a fresh account for that user (its default key and default
//! token) with a fixed signing key; each output line is `{"results":
//! [...]}`, one `{"status": N, "body": …}` per step, in order. A line that
//! is not a valid scenario (bad JSON, unknown op or field, a missing
//! field, a bad `now` or `request`) prints `{"error": "<message>"}` and
//! the run goes on.
//!
//! Steps: `{"op", "now"?, "as"?, …}`; `now` defaults to the previous
//! step's, starting at 2026-01-01T00:00:00Z. Token ops: `create_token
//! {auth, body}`, `update_token {auth, id, body}`, `delete_token {auth,
//! id}`, `list_tokens {auth}`, `retrieve_token {token}`, `evaluate_token
//! {token, request}`. Key ops (the owner acts): `create_key {body}`,
//! `update_key {id, body}`, `rotate_key {id, grace_seconds?}`, `delete_key
//! {id}`, `evaluate_key {key, request}`. References in `auth`, `token`,
//! `key` and `id`: `"$label"` (bound by an earlier step's `as`),
//! `"default"` (the current default token), `"default_key"` (the current
//! default key), `"owner"` (as `auth` only), or a literal string. A label
//! bound by a step that failed, or never bound, names nothing (an empty
//! string: 401 as `auth`, 404 as `id`). `"mutate"` (on `retrieve_token`,
//! `evaluate_token`, `evaluate_key`) and `"auth_mutate"` alter the
//! referenced string: `signature`, `payload`, `usage` or `truncate`.
//!
//! `--seed N` draws every scenario's randomness from ChaCha20 seeded with
//! N, so output is reproducible; without it, OS randomness. The signing
//! key is fixed and public: this is a test harness, not a credential store.
//! Exit status: 0 when the script could be read, 1 when it could not, 2
//! for bad command-line arguments.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::process::ExitCode;

use keypolicy::lifecycle::{
    Account, Actor, CreatedToken, KeyError, OsRandom, RandomSource, SeededRandom, SigningKey, SigningKeys, TokenBody,
    TokenError,
};
use keypolicy::token::{Timestamp, TokenScope};
use keypolicy::{evaluate_key, evaluate_token, KeyPolicy, KeyRequest, TokenRequest};
use serde::Deserialize;
use serde_json::{json, Value};

const USAGE: &str = "usage: manage --script FILE.jsonl|- [--seed N]";

/// The time of the first step when it gives none.
pub const DEFAULT_NOW: &str = "2026-01-01T00:00:00Z";

/// The fixed, public signing key of the harness.
const SIGNING_KEY_ID: &str = "manage";
const SIGNING_SECRET: &[u8] = b"keypolicy manage example signing key, public!";

fn main() -> ExitCode {
    let (path, seed) = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("manage: {message}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let input = if path == "-" {
        let mut text = String::new();
        io::stdin().read_to_string(&mut text).map(|_| text)
    } else {
        std::fs::read_to_string(&path)
    };
    let input = match input {
        Ok(text) => text,
        Err(e) => {
            eprintln!("manage: {path}: {e}");
            return ExitCode::from(1);
        }
    };
    let out = run_script(&input, seed);
    if let Err(e) = io::stdout().lock().write_all(out.as_bytes()) {
        eprintln!("manage: {e}");
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}

/// `--script FILE` and `--seed N`.
pub fn parse_args(args: impl IntoIterator<Item = String>) -> Result<(String, Option<u64>), String> {
    let mut args = args.into_iter();
    let (mut script, mut seed) = (None, None);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--script" => script = Some(args.next().ok_or("--script needs a value")?),
            "--seed" => {
                let text = args.next().ok_or("--seed needs a value")?;
                seed = Some(text.parse::<u64>().map_err(|e| format!("--seed {text:?}: {e}"))?);
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok((script.ok_or("give --script FILE (or - for stdin)")?, seed))
}

/// Runs every line of `input`; returns one output line per input line.
pub fn run_script(input: &str, seed: Option<u64>) -> String {
    let mut out = String::new();
    for line in input.lines() {
        match run_line(line, seed) {
            Ok(results) => {
                out.push_str("{\"results\":[");
                out.push_str(&results.join(","));
                out.push_str("]}");
            }
            Err(message) => out.push_str(&json!({ "error": message }).to_string()),
        }
        out.push('\n');
    }
    out
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Scenario {
    user: String,
    steps: Vec<Step>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Op {
    CreateToken,
    UpdateToken,
    DeleteToken,
    ListTokens,
    RetrieveToken,
    EvaluateToken,
    CreateKey,
    UpdateKey,
    RotateKey,
    DeleteKey,
    EvaluateKey,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Mutate {
    Signature,
    Payload,
    Usage,
    Truncate,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Step {
    op: Op,
    #[serde(default)]
    now: Option<String>,
    #[serde(default, rename = "as")]
    label: Option<String>,
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    auth_mutate: Option<Mutate>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    mutate: Option<Mutate>,
    #[serde(default)]
    body: Option<Value>,
    #[serde(default)]
    request: Option<Value>,
    #[serde(default)]
    grace_seconds: Option<i64>,
}

impl Step {
    /// The fields `op` needs, and the ones it does not take.
    fn check(&self, index: usize) -> Result<(), String> {
        let (needs, takes): (&[&str], &[&str]) = match self.op {
            Op::CreateToken => (&["auth", "body"], &["auth", "auth_mutate", "body"]),
            Op::UpdateToken => (&["auth", "id", "body"], &["auth", "auth_mutate", "id", "body"]),
            Op::DeleteToken => (&["auth", "id"], &["auth", "auth_mutate", "id"]),
            Op::ListTokens => (&["auth"], &["auth", "auth_mutate"]),
            Op::RetrieveToken => (&["token"], &["token", "mutate"]),
            Op::EvaluateToken => (&["token", "request"], &["token", "mutate", "request"]),
            Op::CreateKey => (&["body"], &["body"]),
            Op::UpdateKey => (&["id", "body"], &["id", "body"]),
            Op::RotateKey => (&["id"], &["id", "grace_seconds"]),
            Op::DeleteKey => (&["id"], &["id"]),
            Op::EvaluateKey => (&["key", "request"], &["key", "mutate", "request"]),
        };
        let present = [
            ("auth", self.auth.is_some()),
            ("auth_mutate", self.auth_mutate.is_some()),
            ("id", self.id.is_some()),
            ("token", self.token.is_some()),
            ("key", self.key.is_some()),
            ("mutate", self.mutate.is_some()),
            ("body", self.body.is_some()),
            ("request", self.request.is_some()),
            ("grace_seconds", self.grace_seconds.is_some()),
        ];
        for (field, is_present) in present {
            if needs.contains(&field) && !is_present {
                return Err(format!("steps[{index}]: {:?} needs {field:?}", self.op));
            }
            if is_present && !takes.contains(&field) {
                return Err(format!("steps[{index}]: {:?} does not take {field:?}", self.op));
            }
        }
        if let Some(request) = &self.request {
            let checked = if self.op == Op::EvaluateKey {
                KeyRequest::deserialize(request).map(drop)
            } else {
                TokenRequest::deserialize(request).map(drop)
            };
            checked.map_err(|e| format!("steps[{index}].request: {e}"))?;
        }
        Ok(())
    }
}

/// What a label names: a credential's id and string (a `tk` has no id).
#[derive(Debug, Clone, Default)]
struct Bound {
    id: Option<String>,
    string: Option<String>,
}

/// One scenario's world: the account, the signing keys, the key strings
/// the harness has seen (the account keeps only digests), and the labels.
struct World {
    account: Account,
    signing: SigningKeys,
    key_strings: HashMap<String, String>,
    labels: HashMap<String, Bound>,
    rng: Box<dyn RandomSource>,
}

fn run_line(line: &str, seed: Option<u64>) -> Result<Vec<String>, String> {
    let scenario: Scenario = serde_json::from_str(line).map_err(|e| format!("not a scenario: {e}"))?;
    let mut times = Vec::with_capacity(scenario.steps.len());
    let mut now: Timestamp = DEFAULT_NOW.parse().map_err(|e| format!("{e}"))?;
    for (index, step) in scenario.steps.iter().enumerate() {
        step.check(index)?;
        if let Some(text) = &step.now {
            now = text.parse().map_err(|e| format!("steps[{index}].now: {e}"))?;
        }
        times.push(now);
    }
    let mut rng: Box<dyn RandomSource> = match seed {
        Some(seed) => Box::new(SeededRandom::new(seed)),
        None => Box::new(OsRandom),
    };
    let signing = SigningKey::new(SIGNING_KEY_ID, SIGNING_SECRET)
        .map(SigningKeys::new)
        .map_err(|e| e.to_string())?;
    let start = times.first().copied().unwrap_or(now);
    let opened = Account::open(scenario.user, start, &mut *rng).map_err(|e| e.to_string())?;
    let mut world = World {
        key_strings: HashMap::new(),
        labels: HashMap::new(),
        signing,
        rng,
        account: opened.account,
    };
    if let Some(key) = world.account.default_key() {
        world
            .key_strings
            .insert(key.id.clone(), opened.default_key.as_str().to_owned());
    }
    Ok(scenario
        .steps
        .iter()
        .zip(times)
        .map(|(step, now)| world.run(step, now))
        .collect())
}

/// One step's result, `{"status": N, "body": …}`, as a JSON text: the
/// bodies keep their fields in the documented order.
fn result(status: u16, body: impl serde::Serialize) -> String {
    #[derive(serde::Serialize)]
    struct StepResult<B> {
        status: u16,
        body: B,
    }
    serde_json::to_string(&StepResult { status, body }).unwrap_or_else(|e| {
        json!({"status": 500, "body": {"message": format!("cannot write the body: {e}")}}).to_string()
    })
}

fn token_error(e: &TokenError) -> String {
    result(e.status(), e.body())
}

fn key_error(e: &KeyError) -> String {
    result(e.status(), e.body())
}

fn key_unknown() -> String {
    result(
        401,
        json!({"message": "Missing or invalid key", "reason": "key_unknown"}),
    )
}

impl World {
    /// What a reference names.
    fn resolve(&self, reference: &str) -> Bound {
        match reference {
            "default" => Bound {
                id: self.account.default_token().map(|t| t.id.clone()),
                string: self.account.default_token_string(&self.signing),
            },
            "default_key" => {
                let id = self.account.default_key().map(|k| k.id.clone());
                let string = id.as_ref().and_then(|id| self.key_strings.get(id).cloned());
                Bound { id, string }
            }
            label if label.starts_with('$') => self.labels.get(&label[1..]).cloned().unwrap_or_default(),
            literal => Bound {
                id: Some(literal.to_owned()),
                string: Some(literal.to_owned()),
            },
        }
    }

    fn string(&self, reference: Option<&String>, mutate: Option<Mutate>) -> String {
        let string = reference
            .map(|r| self.resolve(r).string.unwrap_or_default())
            .unwrap_or_default();
        match mutate {
            Some(how) => mutated(&string, how),
            None => string,
        }
    }

    fn id(&self, reference: Option<&String>) -> String {
        reference
            .map(|r| self.resolve(r).id.unwrap_or_default())
            .unwrap_or_default()
    }

    fn bind(&mut self, step: &Step, bound: Bound) {
        if let Some(label) = &step.label {
            self.labels.insert(label.clone(), bound);
        }
    }

    /// The token `id` as a label binds it: its id and its string.
    fn token_bound(&self, id: &str) -> Bound {
        let string = match self.account.token(id) {
            Some(record) => record.object(self.account.user(), &self.signing, true).token,
            None => self
                .labels
                .values()
                .find(|b| b.id.as_deref() == Some(id))
                .and_then(|b| b.string.clone()),
        };
        Bound {
            id: Some(id.to_owned()),
            string,
        }
    }

    fn key_bound(&self, id: &str) -> Bound {
        Bound {
            id: Some(id.to_owned()),
            string: self.key_strings.get(id).cloned(),
        }
    }

    fn run(&mut self, step: &Step, now: Timestamp) -> String {
        match step.op {
            Op::CreateToken | Op::UpdateToken | Op::DeleteToken | Op::ListTokens => self.token_op(step, now),
            Op::RetrieveToken => {
                let token = self.string(step.token.as_ref(), step.mutate);
                if let Some(r) = &step.token {
                    let bound = self.resolve(r);
                    self.bind(step, bound);
                }
                result(200, self.account.retrieve_token(&self.signing, &token, now))
            }
            Op::EvaluateToken => {
                let token = self.string(step.token.as_ref(), step.mutate);
                if let Some(r) = &step.token {
                    let bound = self.resolve(r);
                    self.bind(step, bound);
                }
                let Some(resolved) = self.account.resolve_token(&self.signing, &token) else {
                    return key_unknown();
                };
                let request = step.request.as_ref().map(TokenRequest::deserialize);
                let Some(Ok(mut request)) = request else {
                    // Checked when the scenario was read.
                    return result(400, json!({"message": "invalid request"}));
                };
                request.now = request.now.or(Some(now));
                let policy = resolved.policy();
                let decision = evaluate_token(&policy, &request);
                result(decision.status(), decision)
            }
            Op::CreateKey | Op::UpdateKey | Op::RotateKey | Op::DeleteKey => self.key_op(step, now),
            Op::EvaluateKey => {
                let key = self.string(step.key.as_ref(), step.mutate);
                if let Some(r) = &step.key {
                    let bound = self.resolve(r);
                    self.bind(step, bound);
                }
                let Some(record) = self.account.find_key(&key, now) else {
                    return key_unknown();
                };
                let request = step.request.as_ref().map(KeyRequest::deserialize);
                let Some(Ok(request)) = request else {
                    return result(400, json!({"message": "invalid request"}));
                };
                let decision = evaluate_key(&record.policy, &request);
                result(decision.status(), decision)
            }
        }
    }

    fn token_op(&mut self, step: &Step, now: Timestamp) -> String {
        let auth_string;
        let actor = match step.auth.as_deref() {
            Some("owner") => Actor::Owner,
            _ => {
                auth_string = self.string(step.auth.as_ref(), step.auth_mutate);
                Actor::Token(&auth_string)
            }
        };
        let body = step.body.as_ref().map(TokenBody::deserialize);
        let signing = &self.signing;
        match step.op {
            Op::CreateToken => {
                let body = match body {
                    Some(Ok(body)) => body,
                    other => {
                        let message = match other {
                            Some(Err(e)) => e.to_string(),
                            _ => "the body is required".into(),
                        };
                        let checked = self
                            .account
                            .authorize(signing, actor, now, TokenScope::TokensWrite)
                            .and(Err(TokenError::InvalidBody { message }));
                        return checked.map_or_else(|e| token_error(&e), |()| result(500, Value::Null));
                    }
                };
                let planned = self.account.create_token(signing, actor, body, now, &mut *self.rng);
                match planned.and_then(|p| {
                    self.account
                        .commit(p)
                        .map_err(|e| TokenError::InvalidBody { message: e.to_string() })
                }) {
                    Ok(CreatedToken::Permanent(object)) => {
                        let bound = Bound {
                            id: Some(object.id.clone()),
                            string: object.token.clone(),
                        };
                        self.bind(step, bound);
                        result(200, object)
                    }
                    Ok(CreatedToken::Temporary(object)) => {
                        let bound = Bound {
                            id: None,
                            string: Some(object.token.clone()),
                        };
                        self.bind(step, bound);
                        result(200, object)
                    }
                    Err(e) => token_error(&e),
                }
            }
            Op::UpdateToken => {
                let id = self.id(step.id.as_ref());
                let body = match body {
                    Some(Ok(body)) => body,
                    other => {
                        let message = match other {
                            Some(Err(e)) => e.to_string(),
                            _ => "the body is required".into(),
                        };
                        let checked = self
                            .account
                            .authorize(signing, actor, now, TokenScope::TokensWrite)
                            .and_then(|()| self.account.live_token(&id).map(drop))
                            .and(Err(TokenError::InvalidBody { message }));
                        return checked.map_or_else(|e| token_error(&e), |()| result(500, Value::Null));
                    }
                };
                let planned = self.account.update_token(signing, actor, &id, body, now);
                match planned.and_then(|p| {
                    self.account
                        .commit(p)
                        .map_err(|e| TokenError::InvalidBody { message: e.to_string() })
                }) {
                    Ok(object) => {
                        let bound = self.token_bound(&id);
                        self.bind(step, bound);
                        result(200, object)
                    }
                    Err(e) => token_error(&e),
                }
            }
            Op::DeleteToken => {
                let id = self.id(step.id.as_ref());
                let bound = self.token_bound(&id);
                let planned = self.account.delete_token(signing, actor, &id, now, &mut *self.rng);
                match planned.and_then(|p| {
                    self.account
                        .commit(p)
                        .map_err(|e| TokenError::InvalidBody { message: e.to_string() })
                }) {
                    Ok(()) => {
                        self.bind(step, bound);
                        result(204, Value::Null)
                    }
                    Err(e) => token_error(&e),
                }
            }
            _ => match self.account.list_tokens(signing, actor, now) {
                Ok(list) => result(200, list),
                Err(e) => token_error(&e),
            },
        }
    }

    fn key_op(&mut self, step: &Step, now: Timestamp) -> String {
        let id = self.id(step.id.as_ref());
        let policy = || -> Result<KeyPolicy, KeyError> {
            let body = step.body.as_ref().ok_or(KeyError::InvalidBody {
                message: "the body is required".into(),
            })?;
            KeyPolicy::deserialize(body).map_err(|e| KeyError::InvalidBody { message: e.to_string() })
        };
        let commit_error = |e: keypolicy::lifecycle::ApplyError| KeyError::InvalidBody { message: e.to_string() };
        let outcome = match step.op {
            Op::CreateKey => policy()
                .and_then(|p| self.account.create_key(p, now, &mut *self.rng))
                .and_then(|p| self.account.commit(p).map_err(commit_error))
                .map(|object| (200, Some(object))),
            Op::UpdateKey => self
                .account
                .editable_key(&id)
                .map(drop)
                .and_then(|()| policy())
                .and_then(|p| self.account.update_key(&id, p, now))
                .and_then(|p| self.account.commit(p).map_err(commit_error))
                .map(|object| (200, Some(object))),
            Op::RotateKey => self
                .account
                .rotate_key(&id, step.grace_seconds, now, &mut *self.rng)
                .and_then(|p| self.account.commit(p).map_err(commit_error))
                .map(|object| (200, Some(object))),
            _ => self
                .account
                .delete_key(&id, now)
                .and_then(|p| self.account.commit(p).map_err(commit_error))
                .map(|()| (204, None)),
        };
        match outcome {
            Ok((status, object)) => {
                let bound = match &object {
                    Some(object) => {
                        if let Some(key) = &object.key {
                            self.key_strings.insert(object.id.clone(), key.clone());
                        }
                        self.key_bound(&object.id)
                    }
                    None => self.key_bound(&id),
                };
                self.bind(step, bound);
                match object {
                    Some(object) => result(status, object),
                    None => result(status, Value::Null),
                }
            }
            Err(e) => key_error(&e),
        }
    }
}

/// Alters one string as `mutate` says. On a string that is not
/// `usage.payload.signature`, `signature` and `payload` change its middle
/// character and `usage` its first.
fn mutated(s: &str, how: Mutate) -> String {
    let parts: Vec<&str> = s.split('.').collect();
    let change_middle = |part: &str| -> String {
        let mut chars: Vec<char> = part.chars().collect();
        let middle = chars.len() / 2;
        if let Some(c) = chars.get_mut(middle) {
            *c = if *c == 'A' { 'B' } else { 'A' };
        }
        chars.into_iter().collect()
    };
    match (how, parts.as_slice()) {
        (Mutate::Truncate, _) => {
            let keep = s.char_indices().rev().nth(4).map_or(0, |(i, _)| i);
            s[..keep].to_owned()
        }
        (Mutate::Signature, [usage, payload, signature]) => {
            format!("{usage}.{payload}.{}", change_middle(signature))
        }
        (Mutate::Payload, [usage, payload, signature]) => {
            format!("{usage}.{}.{signature}", change_middle(payload))
        }
        (Mutate::Usage, [usage, rest @ ..]) if parts.len() == 3 => {
            let swapped = match *usage {
                "pk" => "sk",
                "sk" => "pk",
                "tk" => "sk",
                other => other,
            };
            std::iter::once(swapped)
                .chain(rest.iter().copied())
                .collect::<Vec<_>>()
                .join(".")
        }
        (Mutate::Usage, _) => {
            let mut chars: Vec<char> = s.chars().collect();
            if let Some(c) = chars.first_mut() {
                *c = if *c == 'x' { 'y' } else { 'x' };
            }
            chars.into_iter().collect()
        }
        _ => change_middle(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(line: &str) -> Value {
        let out = run_script(line, Some(1));
        serde_json::from_str(out.trim_end()).unwrap()
    }

    fn statuses(out: &Value) -> Vec<u64> {
        out["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["status"].as_u64().unwrap())
            .collect()
    }

    #[test]
    fn arguments_follow_the_contract() {
        let args = |a: &[&str]| parse_args(a.iter().map(|s| (*s).to_owned()));
        assert_eq!(args(&["--script", "-", "--seed", "7"]), Ok(("-".into(), Some(7))));
        assert_eq!(args(&["--script", "f.jsonl"]), Ok(("f.jsonl".into(), None)));
        assert!(args(&["--seed", "x", "--script", "-"]).is_err());
        assert!(args(&[]).is_err());
        assert!(args(&["--nope"]).is_err());
    }

    #[test]
    fn invalid_lines_print_an_error_and_the_run_goes_on() {
        let out = run_script(
            "not json\n{\"user\":\"a\",\"steps\":[{\"op\":\"fly\"}]}\n{\"user\":\"a\",\"steps\":[{\"op\":\"list_tokens\"}]}\n{\"user\":\"a\",\"steps\":[]}\n",
            Some(1),
        );
        let lines: Vec<Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.len(), 4);
        assert!(lines[0]["error"].is_string());
        assert!(lines[1]["error"].is_string());
        assert!(lines[2]["error"].as_str().unwrap().contains("auth"));
        assert_eq!(lines[3], json!({"results": []}));
    }

    #[test]
    fn seeds_make_output_reproducible() {
        let line = r#"{"user":"alice","steps":[{"op":"create_key","body":{}},{"op":"list_tokens","auth":"owner"}]}"#;
        assert_eq!(run_script(line, Some(5)), run_script(line, Some(5)));
        assert_ne!(run_script(line, Some(5)), run_script(line, Some(6)));
    }

    #[test]
    fn labels_bind_ids_and_strings_and_mutations_fail() {
        let out = run(
            r#"{"user":"alice","steps":[
            {"op":"create_token","auth":"owner","body":{"scopes":["tokens:write","styles:read"]},"as":"sk"},
            {"op":"create_token","auth":"$sk","body":{"scopes":["styles:read"],"expires":"2026-01-01T00:30:00Z"},"as":"tk"},
            {"op":"retrieve_token","token":"$tk"},
            {"op":"retrieve_token","token":"$tk","mutate":"signature"},
            {"op":"retrieve_token","token":"$sk","mutate":"usage"},
            {"op":"retrieve_token","token":"$sk","mutate":"truncate"},
            {"op":"update_token","auth":"$sk","id":"$tk","body":{"note":"x"}},
            {"op":"list_tokens","auth":"$sk","auth_mutate":"payload"},
            {"op":"delete_token","auth":"owner","id":"$sk"},
            {"op":"retrieve_token","token":"$sk"}
        ]}"#
            .replace('\n', " ")
            .as_str(),
        );
        assert_eq!(statuses(&out), [200, 200, 200, 200, 200, 200, 404, 401, 204, 200]);
        let r = &out["results"];
        assert_eq!(r[1]["body"]["expires"], "2026-01-01T00:30:00Z");
        assert_eq!(r[2]["body"]["code"], "TokenValid");
        assert_eq!(r[2]["body"]["token"]["usage"], "tk");
        assert_eq!(r[3]["body"]["code"], "TokenInvalid");
        assert_eq!(r[4]["body"]["code"], "TokenInvalid");
        assert_eq!(r[5]["body"]["code"], "TokenMalformed");
        assert_eq!(r[7]["body"], json!({"message": "Unauthorized"}));
        assert_eq!(r[9]["body"]["code"], "TokenRevoked");
    }

    #[test]
    fn key_steps_follow_the_rules() {
        let out = run(r#"{"user":"alice","steps":[
            {"op":"update_key","id":"default_key","body":{}},
            {"op":"evaluate_key","key":"default_key","request":{},"as":"old"},
            {"op":"rotate_key","id":"default_key","grace_seconds":60},
            {"op":"evaluate_key","key":"$old","request":{},"now":"2026-01-01T00:00:59Z"},
            {"op":"evaluate_key","key":"$old","request":{},"now":"2026-01-01T00:01:00Z"},
            {"op":"evaluate_key","key":"default_key","request":{}},
            {"op":"rotate_key","id":"default_key","grace_seconds":86401},
            {"op":"delete_key","id":"nope"}
        ]}"#
        .replace('\n', " ")
        .as_str());
        assert_eq!(statuses(&out), [409, 200, 200, 200, 401, 200, 422, 404]);
        let r = &out["results"];
        assert_eq!(r[0]["body"]["code"], "default_key_read_only");
        assert_eq!(
            r[4]["body"],
            json!({"message": "Missing or invalid key", "reason": "key_unknown"})
        );
        assert!(r[2]["body"]["key"].as_str().unwrap().starts_with("mpk_"));
    }

    #[test]
    fn mutations_change_the_named_part() {
        let s = "pk.abcdef.ABCDEFG";
        assert_eq!(mutated(s, Mutate::Usage), "sk.abcdef.ABCDEFG");
        assert_eq!(mutated("tk.a.b", Mutate::Usage), "sk.a.b");
        assert_eq!(mutated(s, Mutate::Signature), "pk.abcdef.ABCAEFG");
        assert_eq!(mutated(s, Mutate::Payload), "pk.abcAef.ABCDEFG");
        assert_eq!(mutated(s, Mutate::Truncate), "pk.abcdef.AB");
    }
}
