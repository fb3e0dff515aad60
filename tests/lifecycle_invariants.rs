//! The lifecycle's invariants (issue 11), one `proptest!` test each, over
//! random sequences of key and token operations by the owner and by every
//! token string the sequence has produced (live, deleted and expired ones),
//! starting from a fresh account plus one owner-made admin `sk` (every
//! scope the sequences use), so token actors exist from the first step.
//!
//! A failing case prints its operation sequence (the `ops` input, shrunk)
//! and the step at which the invariant broke. Case counts are bounded
//! (`PROPTEST_CASES` overrides them) so the file runs in seconds in debug.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a panic is a failed test"
)]

mod lifecycle_common;

use keypolicy::key::Resource;
use keypolicy::lifecycle::{
    Account, Actor, CreatedToken, RetrieveCode, SeededRandom, SigningKeys, TokenBody, TokenError,
};
use keypolicy::token::{Timestamp, TokenScope, TokenScopeSet, TokenUsage};
use keypolicy::{evaluate_key, evaluate_token, KeyPolicy, KeyRequest, TokenRequest};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

/// The scopes the sequences draw from: public, secret, and the two that
/// govern the Tokens API.
const SCOPES: [TokenScope; 6] = [
    TokenScope::StylesRead,
    TokenScope::FontsRead,
    TokenScope::MapRead,
    TokenScope::UploadsWrite,
    TokenScope::TokensWrite,
    TokenScope::TokensRead,
];

fn config(default: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// One operation; indices pick from what the sequence has produced so far
/// (modulo its length; actor 0 is the owner).
#[derive(Debug, Clone)]
enum Op {
    CreateKey,
    UpdateKey {
        key: usize,
    },
    RotateKey {
        key: usize,
        grace: Option<i64>,
    },
    DeleteKey {
        key: usize,
    },
    CreateToken {
        actor: usize,
        scopes: Scopes,
        urls: bool,
    },
    CreateTemporary {
        actor: usize,
        scopes: Scopes,
        expires_in: i64,
        urls: bool,
    },
    UpdateToken {
        actor: usize,
        target: usize,
        scopes: Option<Scopes>,
        urls: Option<bool>,
    },
    DeleteToken {
        actor: usize,
        target: usize,
    },
    Advance {
        seconds: i64,
    },
}

/// Requested scopes: a mask over [`SCOPES`]; `narrow` keeps only those
/// the actor holds, so that token actors often succeed.
#[derive(Debug, Clone, Copy)]
struct Scopes {
    mask: u8,
    narrow: bool,
}

fn scopes() -> impl Strategy<Value = Scopes> {
    // `tokens:write` (bit 4) is common, so token actors often can act.
    (any::<u8>(), prop::bool::weighted(0.6), any::<bool>()).prop_map(|(mask, write, narrow)| Scopes {
        mask: if write { mask | 0b1_0000 } else { mask },
        narrow,
    })
}

/// An actor: 0 is the owner, 1 the newest string holding `tokens:write`
/// (so chains of temporary tokens form), others pick a token string.
fn actor() -> impl Strategy<Value = usize> {
    prop_oneof![1 => Just(0usize), 2 => Just(1usize), 3 => 2usize..12]
}

fn op() -> impl Strategy<Value = Op> {
    let idx = 0usize..12;
    prop_oneof![
        1 => Just(Op::CreateKey),
        1 => idx.clone().prop_map(|key| Op::UpdateKey { key }),
        2 => (idx.clone(), prop::option::of(prop_oneof![Just(0i64), 1i64..120, Just(86_400), Just(86_401), Just(-1)]))
            .prop_map(|(key, grace)| Op::RotateKey { key, grace }),
        1 => idx.clone().prop_map(|key| Op::DeleteKey { key }),
        3 => (actor(), scopes(), any::<bool>()).prop_map(|(actor, scopes, urls)| Op::CreateToken { actor, scopes, urls }),
        3 => (actor(), scopes(), prop_oneof![-60i64..1, 1i64..600, 600i64..4000], prop::bool::weighted(0.1))
            .prop_map(|(actor, scopes, expires_in, urls)| Op::CreateTemporary { actor, scopes, expires_in, urls }),
        2 => (actor(), idx.clone(), prop::option::of(scopes()), prop::option::of(any::<bool>()))
            .prop_map(|(actor, target, scopes, urls)| Op::UpdateToken { actor, target, scopes, urls }),
        2 => (actor(), idx).prop_map(|(actor, target)| Op::DeleteToken { actor, target }),
        1 => (0i64..900).prop_map(|seconds| Op::Advance { seconds }),
    ]
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(op(), 1..40)
}

fn scope_names(scopes: Scopes, powers: Option<ActorPowers>) -> Vec<String> {
    SCOPES
        .iter()
        .enumerate()
        .filter(|(i, _)| scopes.mask & (1 << i) != 0)
        .filter(|(_, s)| !scopes.narrow || powers.is_none_or(|p| p.scopes.contains(**s)))
        .map(|(_, s)| s.as_str().to_owned())
        .collect()
}

fn pick<T: Clone>(pool: &[T], i: usize) -> Option<T> {
    (!pool.is_empty()).then(|| pool[i % pool.len()].clone())
}

/// What an actor could do when it acted: its scopes and (a `tk`) expiry.
#[derive(Debug, Clone, Copy)]
struct ActorPowers {
    scopes: TokenScopeSet,
    expires: Option<Timestamp>,
}

/// What one step did, for the invariant checks.
#[derive(Debug)]
struct Step {
    index: usize,
    op: Op,
    powers: Option<ActorPowers>,
    /// The created or updated token's scopes and `tk` expiry.
    produced: Option<(TokenUsage, TokenScopeSet, Option<Timestamp>)>,
    /// An updated token's scopes before the update.
    previous: Option<TokenScopeSet>,
    failed: bool,
    /// The state before and after, as text.
    before: String,
    after: String,
}

/// The account under test and everything the sequence has produced.
struct Sim {
    account: Account,
    signing: SigningKeys,
    rng: SeededRandom,
    now: Timestamp,
    /// Every token string ever produced (live, deleted, expired).
    token_strings: Vec<String>,
    /// Every token id ever produced.
    token_ids: Vec<String>,
    /// Every key id ever produced.
    key_ids: Vec<String>,
    /// Strings that must never work again from the given instant on.
    dead_keys: Vec<(String, Timestamp)>,
    dead_tokens: Vec<String>,
    /// Every key string ever produced, by key id: the current one last.
    key_strings: Vec<(String, String)>,
}

fn shift(t: Timestamp, seconds: i64) -> Timestamp {
    Timestamp::from_unix_seconds(t.unix_seconds() + seconds).unwrap()
}

impl Sim {
    fn new() -> Sim {
        let mut rng = SeededRandom::new(7);
        let now = lifecycle_common::t0();
        let opened = Account::open("alice", now, &mut rng).unwrap();
        let account = opened.account;
        let signing = lifecycle_common::signing();
        let default_key = account.default_key().unwrap().id.clone();
        let default_token = account.default_token().unwrap().id.clone();
        let default_string = account.default_token_string(&signing).unwrap();
        let mut account = account;
        // An admin sk, so that token actors exist from the first step.
        let admin = TokenBody {
            scopes: Some(SCOPES.iter().map(|s| s.as_str().to_owned()).collect()),
            ..TokenBody::default()
        };
        let planned = account
            .create_token(&signing, Actor::Owner, admin, now, &mut rng)
            .unwrap();
        let CreatedToken::Permanent(admin) = account.commit(planned).unwrap() else {
            panic!("the admin token is an sk")
        };
        Sim {
            token_strings: vec![default_string, admin.token.unwrap()],
            token_ids: vec![default_token, admin.id],
            key_ids: vec![default_key.clone()],
            key_strings: vec![(default_key, opened.default_key.as_str().to_owned())],
            dead_keys: Vec::new(),
            dead_tokens: Vec::new(),
            account,
            signing,
            rng,
            now,
        }
    }

    /// The state as text: keys, tokens (with strings), revision.
    fn snapshot(&self) -> String {
        let tokens = self.account.list_tokens(&self.signing, Actor::Owner, self.now).unwrap();
        format!(
            "{} {} {}",
            self.account.revision(),
            serde_json::to_string(&self.account.list_keys()).unwrap(),
            serde_json::to_string(&tokens).unwrap()
        )
    }

    /// Actor 0 is the owner, 1 the newest `sk`/`tk` string; other odd
    /// indices pick among `sk`/`tk` strings
    /// (the ones that may hold `tokens:write`), even ones among all.
    fn actor(&self, i: usize) -> Option<String> {
        if i == 0 {
            return None;
        }
        let powerful: Vec<String> = self
            .token_strings
            .iter()
            .filter(|s| {
                self.powers(&Some((*s).clone()))
                    .is_some_and(|p| p.scopes.contains(TokenScope::TokensWrite))
            })
            .cloned()
            .collect();
        if i == 1 {
            return powerful.last().cloned().or_else(|| pick(&self.token_strings, 0));
        }
        if i % 2 == 1 && !powerful.is_empty() {
            return pick(&powerful, i / 2);
        }
        pick(&self.token_strings, i - 1)
    }

    fn powers(&self, actor: &Option<String>) -> Option<ActorPowers> {
        let token = actor.as_deref()?;
        let resolved = self.account.resolve_token(&self.signing, token)?;
        let policy = resolved.policy();
        Some(ActorPowers {
            scopes: policy.scopes(),
            expires: policy.expires(),
        })
    }

    fn current_key_string(&self, id: &str) -> Option<String> {
        self.key_strings
            .iter()
            .rev()
            .find(|(k, _)| k == id)
            .map(|(_, s)| s.clone())
    }

    fn step(&mut self, index: usize, op: &Op) -> Step {
        let before = self.snapshot();
        let mut powers = None;
        let mut produced = None;
        let mut previous = None;
        let failed = match op.clone() {
            Op::Advance { seconds } => {
                self.now = shift(self.now, seconds);
                false
            }
            Op::CreateKey => {
                let planned = self
                    .account
                    .create_key(KeyPolicy::unrestricted(), self.now, &mut self.rng);
                match planned {
                    Ok(p) => {
                        let object = self.account.commit(p).unwrap();
                        self.key_ids.push(object.id.clone());
                        self.key_strings.push((object.id, object.key.unwrap()));
                        false
                    }
                    Err(_) => true,
                }
            }
            Op::UpdateKey { key } => {
                let id = pick(&self.key_ids, key).unwrap();
                let policy = KeyPolicy::builder()
                    .scope(keypolicy::key::KeyScope::TilesRead)
                    .build()
                    .unwrap();
                match self.account.update_key(&id, policy, self.now) {
                    Ok(p) => {
                        self.account.commit(p).unwrap();
                        false
                    }
                    Err(_) => true,
                }
            }
            Op::RotateKey { key, grace } => {
                let id = pick(&self.key_ids, key).unwrap();
                let old = self.current_key_string(&id);
                match self.account.rotate_key(&id, grace, self.now, &mut self.rng) {
                    Ok(p) => {
                        let object = self.account.commit(p).unwrap();
                        let until = shift(self.now, grace.unwrap_or(0));
                        if let Some(old) = old {
                            self.dead_keys.push((old, until));
                        }
                        self.key_strings.push((id, object.key.unwrap()));
                        false
                    }
                    Err(_) => true,
                }
            }
            Op::DeleteKey { key } => {
                let id = pick(&self.key_ids, key).unwrap();
                match self.account.delete_key(&id, self.now) {
                    Ok(p) => {
                        self.account.commit(p).unwrap();
                        for (k, s) in &self.key_strings {
                            if *k == id {
                                self.dead_keys.push((s.clone(), self.now));
                            }
                        }
                        false
                    }
                    Err(_) => true,
                }
            }
            Op::CreateToken { actor, scopes, urls } => {
                let actor = self.actor(actor);
                powers = self.powers(&actor);
                let body = TokenBody {
                    scopes: Some(scope_names(scopes, powers)),
                    allowed_urls: urls.then(|| vec!["example.com".to_owned()]),
                    ..TokenBody::default()
                };
                self.create(actor, body, &mut produced)
            }
            Op::CreateTemporary {
                actor,
                scopes,
                expires_in,
                urls,
            } => {
                let actor = self.actor(actor);
                powers = self.powers(&actor);
                let body = TokenBody {
                    scopes: Some(scope_names(scopes, powers)),
                    expires: Some(shift(self.now, expires_in).to_string()),
                    allowed_urls: urls.then(|| vec!["example.com".to_owned()]),
                    ..TokenBody::default()
                };
                self.create(actor, body, &mut produced)
            }
            Op::UpdateToken {
                actor,
                target,
                scopes,
                urls,
            } => {
                let actor = self.actor(actor);
                powers = self.powers(&actor);
                let id = pick(&self.token_ids, target).unwrap();
                previous = self.account.token(&id).map(|t| t.policy.scopes());
                let body = TokenBody {
                    scopes: scopes.map(|s| scope_names(s, powers)),
                    allowed_urls: urls.map(|on| if on { vec!["example.com".to_owned()] } else { vec![] }),
                    ..TokenBody::default()
                };
                let as_actor = actor.as_deref().map_or(Actor::Owner, Actor::Token);
                match self.account.update_token(&self.signing, as_actor, &id, body, self.now) {
                    Ok(p) => {
                        let object = self.account.commit(p).unwrap();
                        let set = object.scopes.iter().map(|s| s.parse::<TokenScope>().unwrap()).collect();
                        produced = Some((object.usage, set, None));
                        false
                    }
                    Err(_) => true,
                }
            }
            Op::DeleteToken { actor, target } => {
                let actor = self.actor(actor);
                let id = pick(&self.token_ids, target).unwrap();
                let as_actor = actor.as_deref().map_or(Actor::Owner, Actor::Token);
                let string = self
                    .account
                    .token(&id)
                    .and_then(|t| t.object(self.account.user(), &self.signing, true).token);
                match self
                    .account
                    .delete_token(&self.signing, as_actor, &id, self.now, &mut self.rng)
                {
                    Ok(p) => {
                        self.account.commit(p).unwrap();
                        self.dead_tokens.extend(string);
                        // Deleting the default token made a new one.
                        let new_default = self.account.default_token().unwrap().id.clone();
                        if !self.token_ids.contains(&new_default) {
                            self.token_ids.push(new_default);
                            self.token_strings
                                .push(self.account.default_token_string(&self.signing).unwrap());
                        }
                        false
                    }
                    Err(_) => true,
                }
            }
        };
        Step {
            index,
            op: op.clone(),
            powers,
            produced,
            previous,
            failed,
            before,
            after: self.snapshot(),
        }
    }

    fn create(
        &mut self,
        actor: Option<String>,
        body: TokenBody,
        produced: &mut Option<(TokenUsage, TokenScopeSet, Option<Timestamp>)>,
    ) -> bool {
        let as_actor = actor.as_deref().map_or(Actor::Owner, Actor::Token);
        let planned: Result<_, TokenError> =
            self.account
                .create_token(&self.signing, as_actor, body, self.now, &mut self.rng);
        match planned {
            Ok(p) => {
                match self.account.commit(p).unwrap() {
                    CreatedToken::Permanent(t) => {
                        let set = t.scopes.iter().map(|s| s.parse::<TokenScope>().unwrap()).collect();
                        *produced = Some((t.usage, set, None));
                        self.token_ids.push(t.id);
                        self.token_strings.push(t.token.unwrap());
                    }
                    CreatedToken::Temporary(t) => {
                        let verified = self.signing.verify(&t.token).unwrap();
                        let policy = verified.temporary_policy().unwrap();
                        *produced = Some((TokenUsage::Temporary, policy.scopes(), policy.expires()));
                        self.token_strings.push(t.token);
                    }
                }
                false
            }
            Err(_) => true,
        }
    }
}

/// Runs `ops`, checking `check` after every step; the error names the
/// step (the sequence itself is printed by proptest).
fn run(ops: &[Op], mut check: impl FnMut(&Sim, &Step) -> Result<(), String>) -> Result<(), TestCaseError> {
    let mut sim = Sim::new();
    for (index, op) in ops.iter().enumerate() {
        let step = sim.step(index, op);
        if let Err(message) = check(&sim, &step) {
            return Err(TestCaseError::fail(format!(
                "after step {} ({:?}): {message}\nactor powers: {:?}\nproduced: {:?}",
                step.index, step.op, step.powers, step.produced
            )));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(64))]

    /// No token actor yields a token with a scope it lacks (a scope it
    /// creates or adds; an update keeps the scopes it does not touch), nor
    /// a tk that outlives its authorizing tk, nor a permanent token from a tk.
    #[test]
    fn token_actors_never_grant_more_than_they_hold(ops in ops()) {
        run(&ops, |_, step| {
            let (Some(powers), Some((_, scopes, expires))) = (step.powers, &step.produced) else {
                return Ok(());
            };
            // An update keeps what the token had; what it adds must be the actor's.
            let had = step.previous.unwrap_or(TokenScopeSet::EMPTY);
            if let Some(extra) = scopes.iter().find(|s| !had.contains(*s) && !powers.scopes.contains(*s)) {
                return Err(format!("granted {extra}, which the actor lacks"));
            }
            if let (Some(actor_expires), Some(expires)) = (powers.expires, expires) {
                if expires > &actor_expires {
                    return Err(format!("a tk expiring {expires} outlives its actor ({actor_expires})"));
                }
            }
            if powers.expires.is_some() && expires.is_none() && matches!(step.op, Op::CreateToken { .. }) {
                return Err("a tk actor minted a permanent token".into());
            }
            Ok(())
        })?;
    }

    /// A pk never holds a secret scope.
    #[test]
    fn a_pk_never_holds_a_secret_scope(ops in ops()) {
        run(&ops, |sim, _| {
            for token in sim.account.tokens() {
                if token.policy.usage() == TokenUsage::Public && token.policy.scopes().has_secret() {
                    return Err(format!("pk {} holds {:?}", token.id, token.policy.scopes()));
                }
            }
            Ok(())
        })?;
    }

    /// Exactly one default key and one default token exist after any
    /// sequence.
    #[test]
    fn exactly_one_default_key_and_one_default_token(ops in ops()) {
        run(&ops, |sim, _| {
            let keys = sim.account.keys().into_iter().filter(|k| k.default).count();
            let tokens = sim.account.tokens().into_iter().filter(|t| t.policy.is_default()).count();
            if (keys, tokens) != (1, 1) {
                return Err(format!("{keys} default keys, {tokens} default tokens"));
            }
            Ok(())
        })?;
    }

    /// The default token never has a secret scope or allowedUrls.
    #[test]
    fn the_default_token_stays_public_and_unrestricted(ops in ops()) {
        run(&ops, |sim, _| {
            let token = sim.account.default_token().ok_or("no default token")?;
            if token.policy.scopes().has_secret() || token.policy.is_url_restricted() {
                return Err(format!("default token {:?}", token.policy));
            }
            Ok(())
        })?;
    }

    /// A deleted or rotated-away string (after its grace) never evaluates
    /// as allowed nor retrieves as TokenValid.
    #[test]
    fn dead_strings_stay_dead(ops in ops()) {
        run(&ops, |sim, _| {
            let key_request = KeyRequest::new(Resource::Tiles);
            for (key, until) in &sim.dead_keys {
                if sim.now >= *until {
                    if let Some(k) = sim.account.find_key(key, sim.now) {
                        if evaluate_key(&k.policy, &key_request).is_allowed() {
                            return Err(format!("dead key {key} still allowed"));
                        }
                    }
                }
            }
            let token_request = TokenRequest::new(TokenScope::StylesRead).with_now(sim.now);
            for token in &sim.dead_tokens {
                let code = sim.account.retrieve_token(&sim.signing, token, sim.now).code;
                if code == RetrieveCode::TokenValid {
                    return Err(format!("deleted token {token} retrieves as valid"));
                }
                if let Some(resolved) = sim.account.resolve_token(&sim.signing, token) {
                    if evaluate_token(&resolved.policy(), &token_request).is_allowed() {
                        return Err(format!("deleted token {token} still allowed"));
                    }
                }
            }
            Ok(())
        })?;
    }

    /// A failed operation leaves the state unchanged.
    #[test]
    fn a_failed_operation_changes_nothing(ops in ops()) {
        run(&ops, |_, step| {
            if step.failed && step.before != step.after {
                return Err(format!("state changed:\n{}\n{}", step.before, step.after));
            }
            Ok(())
        })?;
    }

    /// Changing any one character of a token string never yields
    /// TokenValid.
    #[test]
    fn no_single_character_change_is_valid(
        ops in ops(),
        pick_token in any::<usize>(),
        position in any::<usize>(),
        replacement in prop::sample::select(b"AZaz09-_.+/=".to_vec()),
    ) {
        let mut sim = Sim::new();
        for (index, op) in ops.iter().enumerate() {
            sim.step(index, op);
        }
        let token = pick(&sim.token_strings, pick_token).unwrap();
        let mut bytes = token.clone().into_bytes();
        let i = position % bytes.len();
        prop_assume!(bytes[i] != replacement);
        bytes[i] = replacement;
        let changed = String::from_utf8(bytes).unwrap();
        let code = sim.account.retrieve_token(&sim.signing, &changed, sim.now).code;
        prop_assert_ne!(code, RetrieveCode::TokenValid, "{} -> {} after {:?}", token, changed, ops);
        prop_assert!(sim.account.resolve_token(&sim.signing, &changed).is_none());
    }
}
