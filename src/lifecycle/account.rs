//! One account's credentials in memory: keys (by id, and their strings by
//! digest, with rotations' grace deadlines), `pk`/`sk` tokens' metadata,
//! the default key and token, and tombstones — every id and key digest
//! ever used — so that nothing is ever reused.
//!
//! [`Account::apply`] is the only mutation; it checks a change against the
//! state before touching anything, so a change that does not fit changes
//! nothing.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::key::KeyPolicy;
use crate::lifecycle::change::{Change, Planned};
use crate::lifecycle::error::{ApplyError, OpenError};
use crate::lifecycle::key_string::{KeyDigest, KeyString};
use crate::lifecycle::random::{random_chars, RandomError, RandomSource, BASE36_LOWER};
use crate::token::{Timestamp, TokenPolicy, TokenPolicyError, TokenScopeSet, TokenUsage};

/// The length of key and token ids (lower-case base36, like Mapbox's).
pub const ID_LEN: usize = 24;

/// A live key.
#[derive(Debug, Clone)]
pub struct KeyRecord {
    /// Its id.
    pub id: String,
    /// Its policy.
    pub policy: KeyPolicy,
    /// Whether it is the default key.
    pub default: bool,
    /// When it was created.
    pub created: Timestamp,
    /// When its policy or string last changed.
    pub modified: Timestamp,
    /// Its current string's digest.
    pub digest: KeyDigest,
    /// Creation order, for listing.
    pub(crate) seq: u64,
    /// Rotated-away strings given a grace period, so that deleting the key
    /// finds them without scanning every key's strings.
    pub(crate) grace: Vec<KeyDigest>,
}

/// A live `pk`/`sk` token's metadata.
#[derive(Debug, Clone)]
pub struct TokenRecord {
    /// Its id.
    pub id: String,
    /// Its policy (usage, scopes, URLs, note, default flag).
    pub policy: TokenPolicy,
    /// When it was created.
    pub created: Timestamp,
    /// When it was last changed.
    pub modified: Timestamp,
    pub(crate) seq: u64,
}

impl TokenRecord {
    /// A record not yet in an account (for answers before a commit).
    pub(crate) fn new(id: &str, policy: TokenPolicy, at: Timestamp) -> TokenRecord {
        TokenRecord {
            id: id.to_owned(),
            policy,
            created: at,
            modified: at,
            seq: 0,
        }
    }
}

/// What a key digest currently opens.
#[derive(Debug, Clone, PartialEq, Eq)]
enum DigestUse {
    /// The key's current string.
    Current { id: String },
    /// A rotated-away string in its grace period: works while `now < until`.
    Grace { id: String, until: Timestamp },
}

/// One account's credentials. Start with [`Account::open`], or replay a
/// log with [`Account::replay`].
#[derive(Debug, Clone)]
pub struct Account {
    user: String,
    opened: bool,
    keys: BTreeMap<String, KeyRecord>,
    digests: HashMap<KeyDigest, DigestUse>,
    tokens: BTreeMap<String, TokenRecord>,
    default_key: String,
    default_token: String,
    /// Every id ever used, live or deleted.
    used_ids: BTreeSet<String>,
    /// Deleted token ids (for `TokenRevoked`).
    deleted_tokens: BTreeSet<String>,
    /// Every key digest ever used.
    used_digests: BTreeSet<KeyDigest>,
    revision: u64,
}

/// The default key's policy: unrestricted (it is read-only, so any
/// restriction would be permanent).
pub fn default_key_policy() -> KeyPolicy {
    KeyPolicy::unrestricted()
}

/// The default token's policy: a `pk` with every public scope, no URL
/// restrictions, the note Mapbox gives it.
pub fn default_token_policy() -> Result<TokenPolicy, TokenPolicyError> {
    TokenPolicy::builder(TokenUsage::Public)
        .scopes(TokenScopeSet::PUBLIC.iter())
        .default_token(true)
        .note("Default public token")
        .build()
}

/// A newly opened account, its first change, and its two strings.
#[derive(Debug)]
pub struct Opened {
    /// The account, with the change applied.
    pub account: Account,
    /// The change to persist.
    pub change: Change,
    /// The default key's string (shown once).
    pub default_key: KeyString,
}

impl Account {
    /// An account for `user` with nothing in it, for [`Account::apply`] to
    /// replay a log into (its first change must be `account_opened`).
    pub fn empty(user: impl Into<String>) -> Account {
        Account {
            user: user.into(),
            opened: false,
            keys: BTreeMap::new(),
            digests: HashMap::new(),
            tokens: BTreeMap::new(),
            default_key: String::new(),
            default_token: String::new(),
            used_ids: BTreeSet::new(),
            deleted_tokens: BTreeSet::new(),
            used_digests: BTreeSet::new(),
            revision: 0,
        }
    }

    /// Opens an account: its default key (unrestricted) and default public
    /// token (every public scope).
    pub fn open(user: impl Into<String>, now: Timestamp, rng: &mut dyn RandomSource) -> Result<Opened, OpenError> {
        let mut account = Account::empty(user);
        let key = KeyString::generate(rng)?;
        let key_id = account.new_id(rng)?;
        let mut token_id = account.new_id(rng)?;
        // Two fresh ids are distinct with overwhelming probability; draw
        // again (bounded) rather than assume it.
        for _ in 0..8 {
            if token_id != key_id {
                break;
            }
            token_id = account.new_id(rng)?;
        }
        let change = Change::AccountOpened {
            user: account.user.clone(),
            key_id,
            key_digest: key.digest(),
            key_policy: default_key_policy(),
            token_id,
            token_policy: default_token_policy()?,
            at: now,
        };
        account.apply(&change)?;
        Ok(Opened {
            account,
            change,
            default_key: key,
        })
    }

    /// Replays a log of changes into a new account.
    pub fn replay<'c>(
        user: impl Into<String>,
        changes: impl IntoIterator<Item = &'c Change>,
    ) -> Result<Account, ApplyError> {
        let mut account = Account::empty(user);
        for change in changes {
            account.apply(change)?;
        }
        Ok(account)
    }

    /// The account's user name.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// How many changes have been applied.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// The default key.
    pub fn default_key(&self) -> Option<&KeyRecord> {
        self.keys.get(&self.default_key)
    }

    /// The default token.
    pub fn default_token(&self) -> Option<&TokenRecord> {
        self.tokens.get(&self.default_token)
    }

    /// A live key by id.
    pub fn key(&self, id: &str) -> Option<&KeyRecord> {
        self.keys.get(id)
    }

    /// The live keys, oldest first.
    pub fn keys(&self) -> Vec<&KeyRecord> {
        let mut keys: Vec<&KeyRecord> = self.keys.values().collect();
        keys.sort_by_key(|k| k.seq);
        keys
    }

    /// A live `pk`/`sk` token by id.
    pub fn token(&self, id: &str) -> Option<&TokenRecord> {
        self.tokens.get(id)
    }

    /// The live `pk`/`sk` tokens, oldest first.
    pub fn tokens(&self) -> Vec<&TokenRecord> {
        let mut tokens: Vec<&TokenRecord> = self.tokens.values().collect();
        tokens.sort_by_key(|t| t.seq);
        tokens
    }

    /// Whether `id` was a token that has been deleted.
    pub fn is_deleted_token(&self, id: &str) -> bool {
        self.deleted_tokens.contains(id)
    }

    /// The key a key string opens at `now`: its format and checksum are
    /// checked first (no lookup for a mistyped key), then its digest is
    /// looked up; a rotated-away string opens its key only before its
    /// grace deadline.
    pub fn find_key(&self, key: &str, now: Timestamp) -> Option<&KeyRecord> {
        let key = KeyString::parse(key).ok()?;
        let id = match self.digests.get(&key.digest())? {
            DigestUse::Current { id } => id,
            DigestUse::Grace { id, until } if now < *until => id,
            DigestUse::Grace { .. } => return None,
        };
        self.keys.get(id)
    }

    /// A fresh id, never used in this account.
    pub(crate) fn new_id(&self, rng: &mut dyn RandomSource) -> Result<String, RandomError> {
        for _ in 0..8 {
            let id = random_chars(rng, ID_LEN, BASE36_LOWER)?;
            if !self.used_ids.contains(&id) {
                return Ok(id);
            }
        }
        Err(RandomError {
            message: "the source kept repeating ids".into(),
        })
    }

    /// A fresh key string, whose digest was never used in this account.
    pub(crate) fn new_key_string(&self, rng: &mut dyn RandomSource) -> Result<KeyString, RandomError> {
        for _ in 0..8 {
            let key = KeyString::generate(rng)?;
            if !self.used_digests.contains(&key.digest()) {
                return Ok(key);
            }
        }
        Err(RandomError {
            message: "the source kept repeating key strings".into(),
        })
    }

    /// Applies a planned operation's change and returns its answer.
    pub fn commit<T>(&mut self, planned: Planned<T>) -> Result<T, ApplyError> {
        if let Some(change) = &planned.change {
            self.apply(change)?;
        }
        Ok(planned.answer)
    }

    /// Applies one change: the only way the state changes. The change is
    /// checked against the state first; if it does not fit (an unknown or
    /// reused id, a second default, a rotation of a string that is not
    /// current…), the state is left as it was.
    pub fn apply(&mut self, change: &Change) -> Result<(), ApplyError> {
        let name = change.name();
        match (change, self.opened) {
            (Change::AccountOpened { .. }, true) => {
                return Err(ApplyError::AccountState {
                    change: name,
                    state: "already open",
                })
            }
            (Change::AccountOpened { .. }, false) => {}
            (_, false) => {
                return Err(ApplyError::AccountState {
                    change: name,
                    state: "not open",
                })
            }
            (_, true) => {}
        }
        let fresh_id = |id: &str| -> Result<(), ApplyError> {
            if self.used_ids.contains(id) {
                return Err(ApplyError::Reused {
                    change: name,
                    what: "id",
                    value: id.to_owned(),
                });
            }
            Ok(())
        };
        let fresh_digest = |digest: &KeyDigest| -> Result<(), ApplyError> {
            if self.used_digests.contains(digest) {
                return Err(ApplyError::Reused {
                    change: name,
                    what: "key digest",
                    value: digest.to_string(),
                });
            }
            Ok(())
        };
        let live_key = |id: &str| -> Result<&KeyRecord, ApplyError> {
            self.keys.get(id).ok_or_else(|| ApplyError::UnknownId {
                change: name,
                kind: "key",
                id: id.to_owned(),
            })
        };
        let live_token = |id: &str| -> Result<&TokenRecord, ApplyError> {
            self.tokens.get(id).ok_or_else(|| ApplyError::UnknownId {
                change: name,
                kind: "token",
                id: id.to_owned(),
            })
        };
        let rule = |rule| ApplyError::Rule { change: name, rule };
        let permanent = |policy: &TokenPolicy| policy.usage() != TokenUsage::Temporary;
        let seq = self.revision;
        // Check everything, then mutate.
        match change {
            Change::AccountOpened {
                user,
                key_id,
                key_digest,
                key_policy,
                token_id,
                token_policy,
                at,
            } => {
                if *user != self.user {
                    return Err(rule("the change is for another user"));
                }
                if key_id == token_id {
                    return Err(rule("the default key and token need distinct ids"));
                }
                if !token_policy.is_default() || token_policy.usage() != TokenUsage::Public {
                    return Err(rule("the default token must be a pk marked default"));
                }
                self.opened = true;
                self.insert_key(key_id, *key_digest, key_policy.clone(), true, *at, seq);
                self.insert_token(token_id, token_policy.clone(), *at, seq);
                self.default_key = key_id.clone();
                self.default_token = token_id.clone();
            }
            Change::KeyCreated { id, digest, policy, at } => {
                fresh_id(id)?;
                fresh_digest(digest)?;
                self.insert_key(id, *digest, policy.clone(), false, *at, seq);
            }
            Change::KeyUpdated { id, policy, at } => {
                if live_key(id)?.default {
                    return Err(rule("the default key is read-only"));
                }
                if let Some(key) = self.keys.get_mut(id) {
                    key.policy = policy.clone();
                    key.modified = *at;
                }
            }
            Change::KeyRotated {
                id,
                retired,
                digest,
                grace_until,
                at,
            } => {
                if live_key(id)?.digest != *retired {
                    return Err(rule("the retired digest is not the key's current string"));
                }
                fresh_digest(digest)?;
                match grace_until {
                    Some(until) if until > at => {
                        self.digests.insert(
                            *retired,
                            DigestUse::Grace {
                                id: id.clone(),
                                until: *until,
                            },
                        );
                        if let Some(key) = self.keys.get_mut(id) {
                            key.grace.push(*retired);
                        }
                    }
                    _ => {
                        self.digests.remove(retired);
                    }
                }
                self.digests.insert(*digest, DigestUse::Current { id: id.clone() });
                self.used_digests.insert(*digest);
                if let Some(key) = self.keys.get_mut(id) {
                    key.digest = *digest;
                    key.modified = *at;
                }
            }
            Change::KeyDeleted { id, .. } => {
                if live_key(id)?.default {
                    return Err(rule("the default key is read-only"));
                }
                // The key's strings: its current one and those in grace (a
                // lookup per string, not a scan of the account).
                if let Some(key) = self.keys.remove(id) {
                    for digest in std::iter::once(&key.digest).chain(&key.grace) {
                        self.digests.remove(digest);
                    }
                }
            }
            Change::TokenCreated { id, policy, at } => {
                fresh_id(id)?;
                if policy.is_default() {
                    return Err(rule(
                        "only account_opened and default_token_replaced create a default token",
                    ));
                }
                if !permanent(policy) {
                    return Err(rule("tk tokens are not state"));
                }
                self.insert_token(id, policy.clone(), *at, seq);
            }
            Change::TokenUpdated { id, policy, at } => {
                let token = live_token(id)?;
                if token.policy.is_default() != policy.is_default() || token.policy.usage() != policy.usage() {
                    return Err(rule("an update keeps the token's usage and default flag"));
                }
                if let Some(token) = self.tokens.get_mut(id) {
                    token.policy = policy.clone();
                    token.modified = *at;
                }
            }
            Change::TokenDeleted { id, .. } => {
                if live_token(id)?.policy.is_default() {
                    return Err(rule("deleting the default token replaces it (default_token_replaced)"));
                }
                self.tokens.remove(id);
                self.deleted_tokens.insert(id.clone());
            }
            Change::DefaultTokenReplaced {
                deleted,
                id,
                policy,
                at,
            } => {
                if !live_token(deleted)?.policy.is_default() {
                    return Err(rule("the deleted token is not the default token"));
                }
                fresh_id(id)?;
                if !policy.is_default() || policy.usage() != TokenUsage::Public {
                    return Err(rule("the default token must be a pk marked default"));
                }
                self.tokens.remove(deleted);
                self.deleted_tokens.insert(deleted.clone());
                self.insert_token(id, policy.clone(), *at, seq);
                self.default_token = id.clone();
            }
        }
        self.revision += 1;
        Ok(())
    }

    fn insert_key(&mut self, id: &str, digest: KeyDigest, policy: KeyPolicy, default: bool, at: Timestamp, seq: u64) {
        self.used_ids.insert(id.to_owned());
        self.used_digests.insert(digest);
        self.digests.insert(digest, DigestUse::Current { id: id.to_owned() });
        self.keys.insert(
            id.to_owned(),
            KeyRecord {
                id: id.to_owned(),
                policy,
                default,
                created: at,
                modified: at,
                digest,
                seq,
                grace: Vec::new(),
            },
        );
    }

    fn insert_token(&mut self, id: &str, policy: TokenPolicy, at: Timestamp, seq: u64) {
        self.used_ids.insert(id.to_owned());
        self.tokens.insert(
            id.to_owned(),
            TokenRecord {
                id: id.to_owned(),
                policy,
                created: at,
                modified: at,
                seq,
            },
        );
    }
}
