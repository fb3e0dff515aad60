//! The registry: accounts and their credentials, durable in a [`Store`],
//! served from a [`CredentialIndex`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use keypolicy::http::{Credential, KeyLookup};
use keypolicy::lifecycle::{Account, Change, Claims, OsRandom, Planned, RandomSource, SigningKeys};
use keypolicy::token::Timestamp;

use crate::error::{RegistryError, StoreError};
use crate::index::{unix_now, CredentialIndex};
use crate::store::Store;

/// What the single writer holds: the store, every account's state and the
/// randomness for new strings. Behind one mutex, so changes are applied in
/// the order they are stored.
struct Writer<S> {
    store: S,
    accounts: HashMap<String, Account>,
    rng: Box<dyn RandomSource + Send>,
    revision: u64,
    /// Set when a stored change did not apply in memory: no more writes.
    stopped: bool,
}

/// Accounts, keys and tokens, durable in `S` and served from memory.
///
/// Reads ([`lookup`](KeyLookup::lookup), [`index`](Self::index)) never
/// wait for a writer. Writes ([`write`](Self::write)) plan an operation on
/// the account's state, persist its change in one transaction, and only
/// then apply it to the state and the index — so a failed write changes
/// nothing, and an acknowledged one is on disk.
pub struct Registry<S> {
    writer: Mutex<Writer<S>>,
    index: Arc<CredentialIndex>,
    signing: SigningKeys,
    /// Set by a fail-closed follower whose state is too old to trust:
    /// [`lookup`](KeyLookup::lookup) then refuses every credential.
    refusing: AtomicBool,
}

impl<S> std::fmt::Debug for Registry<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

/// A user name fit to be an account: 1–64 ASCII letters, digits, `-`, `_`.
pub fn is_valid_user(user: &str) -> bool {
    (1..=64).contains(&user.len())
        && user
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl<S: Store> Registry<S> {
    /// Loads every change from `store`, replays them into accounts and
    /// builds the index. Token strings are signed and verified with
    /// `signing` (from configuration, never from the database); new key
    /// strings and ids come from the OS.
    pub fn open(store: S, signing: SigningKeys) -> Result<Self, RegistryError> {
        Registry::open_with_rng(store, signing, Box::new(OsRandom))
    }

    /// [`open`](Self::open) with another source of randomness (seeded, in
    /// tests).
    pub fn open_with_rng(
        store: S,
        signing: SigningKeys,
        rng: Box<dyn RandomSource + Send>,
    ) -> Result<Self, RegistryError> {
        // A cold start is the same mechanism as following other writers:
        // each stored change in order, to its account and to the index.
        let index = CredentialIndex::new();
        let mut writer = Writer {
            store,
            accounts: HashMap::new(),
            rng,
            revision: 0,
            stopped: false,
        };
        writer.catch_up(&index)?;
        Ok(Registry {
            writer: Mutex::new(writer),
            index: Arc::new(index),
            signing,
            refusing: AtomicBool::new(false),
        })
    }

    /// The index requests read.
    pub fn index(&self) -> &Arc<CredentialIndex> {
        &self.index
    }

    /// The signing keys of token strings.
    pub fn signing_keys(&self) -> &SigningKeys {
        &self.signing
    }

    /// Makes [`lookup`](KeyLookup::lookup) refuse every credential
    /// (`true`) or serve the index again (`false`). A fail-closed
    /// [`Follower`](crate::Follower) sets it while its state is older than
    /// its maximum staleness. The index itself ([`index`](Self::index)) is
    /// not gated.
    pub fn set_refusing(&self, refusing: bool) {
        self.refusing.store(refusing, Ordering::Release);
    }

    /// Whether lookups refuse every credential (see
    /// [`set_refusing`](Self::set_refusing)).
    pub fn is_refusing(&self) -> bool {
        self.refusing.load(Ordering::Acquire)
    }

    /// The revision of the last change applied.
    pub fn revision(&self) -> u64 {
        self.writer.lock().unwrap_or_else(PoisonError::into_inner).revision
    }

    /// Opens `user`'s account if it does not exist yet. Returns the
    /// default key's string when it was created now (shown once), `None`
    /// when the account already existed.
    pub fn ensure_account(&self, user: &str, now: Timestamp) -> Result<Option<String>, RegistryError> {
        if !is_valid_user(user) {
            return Err(RegistryError::InvalidUser { user: user.to_owned() });
        }
        let mut writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        if writer.stopped {
            return Err(RegistryError::Stopped);
        }
        let writer = &mut *writer;
        writer.catch_up(&self.index)?;
        if writer.accounts.contains_key(user) {
            return Ok(None);
        }
        let opened = Account::open(user, now, writer.rng.as_mut())?;
        match writer.store.append(user, 0, &opened.change) {
            Ok(revision) => {
                self.index
                    .commit(self.index.prepare(&opened.change, &Account::empty(user)));
                writer.accounts.insert(user.to_owned(), opened.account);
                writer.revision = revision;
                Ok(Some(opened.default_key.as_str().to_owned()))
            }
            // Another writer opened it first: take its state.
            Err(StoreError::Conflict { .. }) => {
                writer.catch_up(&self.index)?;
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Reads `user`'s account.
    pub fn read<T>(&self, user: &str, read: impl FnOnce(&Account) -> T) -> Result<T, RegistryError> {
        let writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let account = writer
            .accounts
            .get(user)
            .ok_or_else(|| RegistryError::UnknownUser { user: user.to_owned() })?;
        Ok(read(account))
    }

    /// Runs a lifecycle operation on `user`'s account: `operation` plans it
    /// (or refuses it, with the lifecycle's error, changing nothing); the
    /// planned change is stored durably, then applied to the account and
    /// the index. The outer error is the registry's (unknown user, the
    /// store failed — nothing changed); the inner one the operation's.
    ///
    /// The operation is planned after applying every change other writers
    /// sharing the store made so far. When one of them changes the account
    /// between that and the append, the registry applies that change too
    /// and plans the operation again on the fresh state (so a delete and a rotation of one key,
    /// from two nodes, end with one of them refused rather than both
    /// half-applied); after [`MAX_ATTEMPTS`] conflicts it gives up.
    pub fn write<T, E>(
        &self,
        user: &str,
        mut operation: impl FnMut(&Account, &mut dyn RandomSource) -> Result<Planned<T>, E>,
    ) -> Result<Result<T, E>, RegistryError> {
        let mut guard = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let writer = &mut *guard;
        if writer.stopped {
            return Err(RegistryError::Stopped);
        }
        // Plan on the freshest state: other writers' changes first.
        writer.catch_up(&self.index)?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let account = writer
                .accounts
                .get(user)
                .ok_or_else(|| RegistryError::UnknownUser { user: user.to_owned() })?;
            let planned = match operation(account, writer.rng.as_mut()) {
                Ok(planned) => planned,
                Err(refused) => return Ok(Err(refused)),
            };
            let Some(change) = planned.change else {
                return Ok(Ok(planned.answer));
            };
            match writer.store.append(user, account.revision(), &change) {
                Ok(revision) => {
                    writer.apply(&self.index, user, &change)?;
                    writer.revision = revision;
                    return Ok(Ok(planned.answer));
                }
                Err(StoreError::Conflict { .. }) if attempt < MAX_ATTEMPTS => {
                    writer.catch_up(&self.index)?;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Applies every change other writers stored since this registry's
    /// revision, in order, to the accounts and the index; returns how
    /// many. A follower calls it when notified of a change, after a
    /// reconnect, and on a timer; a change is never applied twice, and
    /// none is skipped.
    pub fn catch_up(&self) -> Result<usize, RegistryError> {
        let mut writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        if writer.stopped {
            return Err(RegistryError::Stopped);
        }
        writer.catch_up(&self.index)
    }
}

/// How many times [`Registry::write`] plans an operation again after
/// another writer changed the account first.
pub const MAX_ATTEMPTS: u32 = 3;

impl<S: Store> Writer<S> {
    /// Applies one change to its account (opened here on
    /// `account_opened`) and to the index. A change that does not fit the
    /// state stops the writer: memory and store disagree, and only a
    /// reopen from the store can mend that.
    fn apply(&mut self, index: &CredentialIndex, user: &str, change: &Change) -> Result<(), RegistryError> {
        let account = self
            .accounts
            .entry(user.to_owned())
            .or_insert_with(|| Account::empty(user));
        let prepared = index.prepare(change, account);
        if let Err(source) = account.apply(change) {
            self.stopped = true;
            return Err(RegistryError::Diverged {
                change: change.name(),
                source,
            });
        }
        index.commit(prepared);
        Ok(())
    }

    fn catch_up(&mut self, index: &CredentialIndex) -> Result<usize, RegistryError> {
        let changes = self.store.changes_since(self.revision)?;
        let count = changes.len();
        for stored in changes {
            self.apply(index, &stored.user, &stored.change).map_err(|e| match e {
                RegistryError::Diverged { source, .. } => RegistryError::Replay {
                    revision: stored.revision,
                    user: stored.user.clone(),
                    source,
                },
                other => other,
            })?;
            self.revision = stored.revision;
        }
        Ok(count)
    }
}

impl<S: Store> KeyLookup for Registry<S> {
    /// Keys by digest; `pk`/`sk` tokens by signature, then id; `tk` tokens
    /// from the string alone (expiry is judged by evaluation).
    fn lookup(&self, key: &str) -> Option<Credential> {
        if self.refusing.load(Ordering::Acquire) {
            return None;
        }
        if key.starts_with("mpk_") {
            return self.index.find_key_at(key, unix_now).map(Credential::Key);
        }
        let verified = self.signing.verify(key).ok()?;
        match &verified.claims {
            Claims::Permanent {
                user, authorization, ..
            } => self
                .index
                .find_token(user, authorization)
                .filter(|policy| policy.usage() == verified.usage)
                .map(Credential::Token),
            Claims::Temporary { .. } => verified.temporary_policy().map(|p| Credential::Token(Arc::new(p))),
            _ => None,
        }
    }
}
