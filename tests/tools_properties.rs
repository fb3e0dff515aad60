//! Property tests of the lint, explain and replay tools over the generated
//! policies and near-miss requests of `common`: explain's verdict is always
//! `evaluate_key`'s with exactly one failed rule on a denial, and its
//! matched entry alone allows the request; lint and replay never panic, and
//! replay's counts add up. Failures print the policy and request; set
//! `PROPTEST_CASES` for a longer run.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a panic is a failed test"
)]

mod common;

use common::cases;
use common::key::*;
use keypolicy::explain::{explain_key, RuleOutcome};
use keypolicy::key::KeyType;
use keypolicy::lint::{lint_key, lint_key_as_written};
use keypolicy::replay::Replay;
use keypolicy::{evaluate_key, KeyPolicy};
use proptest::prelude::*;

proptest! {
    #![proptest_config(cases(512))]

    #[test]
    fn explain_agrees_with_evaluate((spec, requests) in policy_and_requests(6)) {
        let policy = spec.build();
        for r in &requests {
            let request = r.request();
            let decision = evaluate_key(&policy, &request);
            let trace = explain_key(&policy, &request);
            prop_assert_eq!(trace.allowed, decision.is_allowed(), "{:?} {:?}", spec, r);
            prop_assert_eq!(trace.reason, decision.reason(), "{:?} {:?}", spec, r);
            let failed = trace.rules.iter().filter(|x| x.outcome == RuleOutcome::Failed).count();
            prop_assert_eq!(failed, usize::from(!decision.is_allowed()), "{:?} {:?}", spec, r);
            if let Some(matched) = &trace.matched {
                // The matched entry alone allows this Origin.
                let one = KeyPolicy::builder()
                    .key_type(KeyType::Web)
                    .allowed_domains([matched.entry.clone()])
                    .build()
                    .unwrap();
                prop_assert!(evaluate_key(&one, &request).is_allowed(), "{:?} {:?} {:?}", spec, r, matched);
            }
            prop_assert!(trace.nearest.len() <= 3);
            if decision.is_allowed() {
                prop_assert!(trace.nearest.is_empty(), "{:?} {:?}", spec, r);
            }
        }
    }

    #[test]
    fn lint_and_replay_never_panic_and_add_up((spec, requests) in policy_and_requests(6)) {
        let policy = spec.build();
        let written: Vec<&str> = spec.domains.iter().map(|d| d.text.as_str()).collect();
        let all = lint_key_as_written(&policy, &written);
        // Every finding of the built policy is also found as written, bar
        // indexes (which point into different lists).
        for finding in lint_key(&policy) {
            prop_assert!(all.iter().any(|f| f.code == finding.code), "{:?}: {:?} in {:?}", spec, finding, all);
        }
        let mut replay = Replay::keys(KeyPolicy::unrestricted(), policy.clone());
        for (i, r) in requests.iter().enumerate() {
            replay.record_key(&r.request(), i as u64 + 1, None);
        }
        let report = replay.report();
        prop_assert_eq!(report.requests, (1..=requests.len() as u64).sum::<u64>());
        prop_assert_eq!(
            report.unchanged + report.newly_denied + report.newly_allowed + report.reason_changed,
            report.requests
        );
        // From the unrestricted key nothing can be newly allowed.
        prop_assert_eq!(report.newly_allowed, 0);
        let denied = requests.iter().enumerate()
            .filter(|(_, r)| !evaluate_key(&policy, &r.request()).is_allowed())
            .map(|(i, _)| i as u64 + 1)
            .sum::<u64>();
        prop_assert_eq!(report.newly_denied, denied, "{:?}", spec);
    }

    #[test]
    fn access_log_lines_never_panic(line in "\\PC{0,300}") {
        let mut replay = Replay::keys(KeyPolicy::unrestricted(), KeyPolicy::unrestricted());
        let _ = replay.access_log_line(&line);
        let shaped = format!(r#"1.2.3.4 - - [{line}] "GET /v1/tiles/{line}/1/2/3.png HTTP/1.1" 200 1 "{line}" "ua" "{line}""#);
        let _ = replay.access_log_line(&shaped);
    }
}
