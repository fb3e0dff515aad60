//! The in-memory index every request reads: compiled credentials by key
//! digest and by token id, kept current by applying each change — never
//! by rebuilding or cloning the whole map.
//!
//! Reads are lock-free (`papaya`'s concurrent map: a reader pins an epoch
//! and never waits for a writer); a change touches at most a few entries,
//! so it costs O(1) whatever the number of credentials.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, Mutex, PoisonError};

use keypolicy::key::KeyPolicy;
use keypolicy::lifecycle::{Account, Change, KeyDigest, KeyString};
use keypolicy::token::{Timestamp, TokenPolicy};

/// Hashes a [`KeyDigest`] by its first eight bytes. The digest is SHA-256
/// of a key string, uniformly distributed whatever the string, so no one
/// can aim keys at one bucket, and hashing it again would only cost time.
#[derive(Debug, Default, Clone, Copy)]
pub struct DigestHasher(u64);

impl Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // A digest is written as its 32 bytes (after its length, as a
        // `usize`); keep the first 8, they are as random as all 32. A write
        // of fewer bytes is mixed in whole. This runs on every request: one
        // load and one xor, not a loop over the digest.
        let word = match bytes.first_chunk::<8>() {
            Some(first) => u64::from_le_bytes(*first),
            None => {
                let mut word = [0u8; 8];
                for (slot, byte) in word.iter_mut().zip(bytes) {
                    *slot = *byte;
                }
                u64::from_le_bytes(word)
            }
        };
        self.0 = self.0.rotate_left(5) ^ word;
    }
}

type DigestMap<V> = papaya::HashMap<KeyDigest, V, BuildHasherDefault<DigestHasher>>;

/// A rotated-away string in its grace period: the key's policy and the
/// end of the grace (unix seconds; the string works while `now < until`).
#[derive(Debug, Clone)]
struct GraceEntry {
    policy: Arc<KeyPolicy>,
    until: i64,
}

/// A `pk`/`sk` token's entry.
#[derive(Debug, Clone)]
struct TokenEntry {
    user: Arc<str>,
    policy: Arc<TokenPolicy>,
}

/// Compiled credentials, readable from any thread without locks.
#[derive(Debug)]
pub struct CredentialIndex {
    /// Current key strings: the entry is only the policy, shared with the
    /// key's other strings — the smallest entry for the common case.
    keys: DigestMap<Arc<KeyPolicy>>,
    /// Rotated-away strings in their grace period: few, looked up only
    /// when `keys` misses.
    in_grace: DigestMap<GraceEntry>,
    tokens: papaya::HashMap<Box<str>, TokenEntry>,
    /// Rotated-away strings still in their grace period, by key id, so a
    /// policy edit or a deletion reaches them too. Writers only.
    grace: Mutex<HashMap<String, Vec<KeyDigest>>>,
}

impl Default for CredentialIndex {
    fn default() -> Self {
        CredentialIndex {
            keys: DigestMap::default(),
            in_grace: DigestMap::default(),
            tokens: papaya::HashMap::new(),
            grace: Mutex::new(HashMap::new()),
        }
    }
}

/// The index edits of one change, planned before the change is applied.
#[derive(Debug)]
pub(crate) struct Prepared(Vec<Edit>);

/// One edit of the index, planned from a change before it is applied.
#[derive(Debug)]
enum Edit {
    PutKey(KeyDigest, Arc<KeyPolicy>),
    RemoveKey(KeyDigest),
    PutGrace(KeyDigest, GraceEntry),
    RemoveGrace(KeyDigest),
    PutToken(Box<str>, TokenEntry),
    RemoveToken(Box<str>),
    /// Record a string in its grace period under its key id.
    Grace(String, KeyDigest),
    /// Forget a key's grace strings.
    ForgetGrace(String),
}

impl CredentialIndex {
    /// An empty index.
    pub fn new() -> Self {
        CredentialIndex::default()
    }

    /// How many key strings (current and in grace) the index holds.
    pub fn key_count(&self) -> usize {
        self.keys.len() + self.in_grace.len()
    }

    /// How many `pk`/`sk` tokens the index holds.
    pub fn token_count(&self) -> usize {
        self.tokens.len()
    }

    /// The policy a key string opens at `now` (unix seconds): its format and
    /// checksum first (a mistyped key costs no lookup), then one lookup by
    /// digest; a rotated-away string only before its grace deadline.
    pub fn find_key(&self, key: &str, now: i64) -> Option<Arc<KeyPolicy>> {
        self.find_key_at(key, || now)
    }

    /// [`find_key`](Self::find_key), reading the clock only for a string
    /// in its grace period (a current string needs no time).
    pub fn find_key_at(&self, key: &str, now: impl FnOnce() -> i64) -> Option<Arc<KeyPolicy>> {
        let digest = KeyString::digest_of(key).ok()?;
        self.find_digest_at(&digest, now)
    }

    /// [`find_key`](Self::find_key) by digest.
    pub fn find_digest(&self, digest: &KeyDigest, now: i64) -> Option<Arc<KeyPolicy>> {
        self.find_digest_at(digest, || now)
    }

    fn find_digest_at(&self, digest: &KeyDigest, now: impl FnOnce() -> i64) -> Option<Arc<KeyPolicy>> {
        if let Some(policy) = self.keys.pin().get(digest) {
            return Some(Arc::clone(policy));
        }
        let in_grace = self.in_grace.pin();
        let entry = in_grace.get(digest)?;
        (now() < entry.until).then(|| Arc::clone(&entry.policy))
    }

    /// The live `pk`/`sk` token `id` of `user`.
    pub fn find_token(&self, user: &str, id: &str) -> Option<Arc<TokenPolicy>> {
        let tokens = self.tokens.pin();
        let entry = tokens.get(id)?;
        (&*entry.user == user).then(|| Arc::clone(&entry.policy))
    }

    /// Plans the index edits of `change` from the account as it is before
    /// the change; [`commit`](Self::commit) them once the account has
    /// applied it.
    pub(crate) fn prepare(&self, change: &Change, before: &Account) -> Prepared {
        Prepared(self.plan(change, before))
    }

    /// Plans and applies `change` at once, for measurements that drive the
    /// index without a registry (`benches/scale.rs`).
    #[doc(hidden)]
    pub fn apply_for_bench(&self, change: &Change, before: &Account) {
        self.commit(self.prepare(change, before));
    }

    /// Applies prepared edits.
    pub(crate) fn commit(&self, prepared: Prepared) {
        for edit in prepared.0 {
            self.execute(edit);
        }
    }

    /// Plans the edits for `change` from the account's state before it:
    /// which digests a key id has now, which strings are in grace.
    fn plan(&self, change: &Change, before: &Account) -> Vec<Edit> {
        let user = || Arc::<str>::from(before.user());
        let token_entry = |policy: &TokenPolicy| TokenEntry {
            user: user(),
            policy: Arc::new(policy.clone()),
        };
        let grace_of = |id: &str| -> Vec<KeyDigest> {
            self.grace
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(id)
                .cloned()
                .unwrap_or_default()
        };
        match change {
            Change::AccountOpened {
                key_digest,
                key_policy,
                token_id,
                token_policy,
                ..
            } => vec![
                Edit::PutKey(*key_digest, Arc::new(key_policy.clone())),
                Edit::PutToken(token_id.as_str().into(), token_entry(token_policy)),
            ],
            Change::KeyCreated { digest, policy, .. } => vec![Edit::PutKey(*digest, Arc::new(policy.clone()))],
            Change::KeyUpdated { id, policy, .. } => {
                let policy = Arc::new(policy.clone());
                let mut edits = Vec::new();
                if let Some(key) = before.key(id) {
                    edits.push(Edit::PutKey(key.digest, Arc::clone(&policy)));
                }
                let in_grace = self.in_grace.pin();
                for digest in grace_of(id) {
                    if let Some(old) = in_grace.get(&digest) {
                        let entry = GraceEntry {
                            policy: Arc::clone(&policy),
                            until: old.until,
                        };
                        edits.push(Edit::PutGrace(digest, entry));
                    }
                }
                edits
            }
            Change::KeyRotated {
                id,
                retired,
                digest,
                grace_until,
                at,
            } => {
                let Some(key) = before.key(id) else {
                    return Vec::new();
                };
                let policy = Arc::new(key.policy.clone());
                let mut edits = vec![Edit::PutKey(*digest, Arc::clone(&policy)), Edit::RemoveKey(*retired)];
                if let Some(until) = grace_until.filter(|until| until > at) {
                    let entry = GraceEntry {
                        policy,
                        until: until.unix_seconds(),
                    };
                    edits.push(Edit::PutGrace(*retired, entry));
                    edits.push(Edit::Grace(id.clone(), *retired));
                }
                edits
            }
            Change::KeyDeleted { id, .. } => {
                let mut edits: Vec<Edit> = grace_of(id).into_iter().map(Edit::RemoveGrace).collect();
                if let Some(key) = before.key(id) {
                    edits.push(Edit::RemoveKey(key.digest));
                }
                edits.push(Edit::ForgetGrace(id.clone()));
                edits
            }
            Change::TokenCreated { id, policy, .. } | Change::TokenUpdated { id, policy, .. } => {
                vec![Edit::PutToken(id.as_str().into(), token_entry(policy))]
            }
            Change::TokenDeleted { id, .. } => vec![Edit::RemoveToken(id.as_str().into())],
            Change::DefaultTokenReplaced {
                deleted, id, policy, ..
            } => vec![
                Edit::RemoveToken(deleted.as_str().into()),
                Edit::PutToken(id.as_str().into(), token_entry(policy)),
            ],
            // A change this build does not know adds nothing: unknown
            // credentials stay unknown (fail closed).
            _ => Vec::new(),
        }
    }

    fn execute(&self, edit: Edit) {
        match edit {
            Edit::PutKey(digest, policy) => {
                self.keys.pin().insert(digest, policy);
            }
            Edit::RemoveKey(digest) => {
                self.keys.pin().remove(&digest);
            }
            Edit::PutGrace(digest, entry) => {
                self.in_grace.pin().insert(digest, entry);
            }
            Edit::RemoveGrace(digest) => {
                self.in_grace.pin().remove(&digest);
            }
            Edit::PutToken(id, entry) => {
                self.tokens.pin().insert(id, entry);
            }
            Edit::RemoveToken(id) => {
                self.tokens.pin().remove(&id);
            }
            Edit::Grace(id, digest) => {
                self.grace
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .entry(id)
                    .or_default()
                    .push(digest);
            }
            Edit::ForgetGrace(id) => {
                self.grace.lock().unwrap_or_else(PoisonError::into_inner).remove(&id);
            }
        }
    }

    /// Drops rotated-away strings whose grace ended before `now` (unix
    /// seconds). Lookups already refuse them; this only frees memory.
    pub fn sweep_expired(&self, now: i64) -> usize {
        let mut grace = self.grace.lock().unwrap_or_else(PoisonError::into_inner);
        let in_grace = self.in_grace.pin();
        let mut removed = 0;
        for digests in grace.values_mut() {
            digests.retain(|digest| {
                let expired = in_grace.get(digest).is_none_or(|e| now >= e.until);
                if expired {
                    in_grace.remove(digest);
                    removed += 1;
                }
                !expired
            });
        }
        grace.retain(|_, digests| !digests.is_empty());
        removed
    }
}

/// `now` as unix seconds, for lookups made by a server.
pub fn unix_now() -> i64 {
    Timestamp::from_system_time(std::time::SystemTime::now()).unix_seconds()
}
