//! The `manage` example over the scenario file the README runs: the
//! example's own code (included as a module, so no binary has to be found
//! or spawned) with a fixed seed, checked step by step.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers: a panic is a failed test"
)]

#[allow(dead_code, reason = "the example's `main` is not called here")]
#[path = "../examples/manage.rs"]
mod manage;

use serde_json::Value;

fn run_file(seed: u64) -> Vec<Value> {
    let script = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/scenarios/lifecycle.jsonl"
    ))
    .unwrap();
    let out = manage::run_script(&script, Some(seed));
    assert_eq!(
        out.lines().count(),
        script.lines().count(),
        "one output line per input line"
    );
    out.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn results(line: &Value) -> &Vec<Value> {
    line["results"]
        .as_array()
        .unwrap_or_else(|| panic!("not a results line: {line}"))
}

fn statuses(line: &Value) -> Vec<u64> {
    results(line).iter().map(|r| r["status"].as_u64().unwrap()).collect()
}

#[test]
fn the_scenario_file_runs_with_the_documented_statuses() {
    let lines = run_file(1);
    assert_eq!(lines.len(), 4);
    // Keys: default read-only, create, evaluate, mistyped, edit, rotate with grace, 422, rotate default, delete.
    assert_eq!(
        statuses(&lines[0]),
        [409, 409, 200, 200, 401, 200, 403, 200, 200, 401, 422, 200, 204, 401, 404]
    );
    // Tokens: owner creates an sk, sk creates a pk, scope rules, 401, default token rules, list, evaluate.
    assert_eq!(statuses(&lines[1]), [200, 200, 422, 404, 401, 422, 422, 200, 200, 403]);
    // Temporary tokens: who may create them, the three expiry messages, retrieve codes.
    assert_eq!(
        statuses(&lines[2]),
        [200, 422, 422, 422, 422, 200, 422, 422, 200, 200, 200, 200, 200, 401, 404]
    );
    // The default token refreshed by deletion; scopeless tokens; deletes are permanent.
    assert_eq!(statuses(&lines[3]), [200, 204, 200, 401, 200, 422, 200, 422, 204, 404]);
}

#[test]
fn the_scenario_file_answers_with_the_tokens_api_messages_and_codes() {
    let lines = run_file(1);
    let body = |line: usize, step: usize| results(&lines[line])[step]["body"].clone();
    assert_eq!(body(0, 0)["code"], "default_key_read_only");
    assert!(body(0, 2)["key"].as_str().unwrap().starts_with("mpk_"));
    assert_eq!(body(0, 4)["reason"], "key_unknown");
    assert_eq!(body(0, 10)["code"], "grace_out_of_range");
    assert_eq!(body(1, 2)["message"], "scopes are invalid");
    assert_eq!(body(1, 3)["message"], "Not found");
    assert_eq!(body(1, 4)["message"], "Unauthorized");
    // The list shows pk strings and never an sk's.
    for token in body(1, 7).as_array().unwrap() {
        assert_eq!(token["token"].is_string(), token["usage"] == "pk", "{token}");
    }
    assert_eq!(body(2, 2)["message"], "expires is in the past");
    assert_eq!(body(2, 3)["message"], "expires is more than one hour in the future");
    assert_eq!(
        body(2, 6)["message"],
        "expires may not be greater than the expiration of the authorizing token"
    );
    let codes: Vec<Value> = [8, 9, 10, 12].iter().map(|&s| body(2, s)["code"].clone()).collect();
    assert_eq!(codes, ["TokenValid", "TokenInvalid", "TokenMalformed", "TokenExpired"]);
    assert_eq!(body(3, 2)["code"], "TokenRevoked");
    assert_ne!(
        body(3, 4)["token"]["authorization"],
        body(3, 0)["token"]["authorization"],
        "deleting the default token generated a new one"
    );
}

#[test]
fn runs_with_the_same_seed_are_identical() {
    assert_eq!(run_file(9), run_file(9));
}
