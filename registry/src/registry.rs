//! The registry: accounts and their credentials, durable in a [`Store`],
//! served from a [`CredentialIndex`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use keypolicy::lifecycle::{Account, Claims, OsRandom, Planned, RandomSource, SigningKeys};
use keypolicy::token::Timestamp;
use keypolicy::http::{Credential, KeyLookup};

use crate::error::RegistryError;
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
        mut store: S,
        signing: SigningKeys,
        rng: Box<dyn RandomSource + Send>,
    ) -> Result<Self, RegistryError> {
        // A cold start is the same mechanism as a live write: each change
        // in order, to the account and to the index.
        let mut accounts: HashMap<String, Account> = HashMap::new();
        let mut revision = 0;
        let index = CredentialIndex::new();
        for stored in store.changes_since(0)? {
            let account = accounts
                .entry(stored.user.clone())
                .or_insert_with(|| Account::empty(stored.user.clone()));
            let prepared = index.prepare(&stored.change, account);
            account.apply(&stored.change).map_err(|source| RegistryError::Replay {
                revision: stored.revision,
                user: stored.user.clone(),
                source,
            })?;
            index.commit(prepared);
            revision = stored.revision;
        }
        Ok(Registry {
            writer: Mutex::new(Writer {
                store,
                accounts,
                rng,
                revision,
                stopped: false,
            }),
            index: Arc::new(index),
            signing,
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
        if writer.accounts.contains_key(user) {
            return Ok(None);
        }
        let writer = &mut *writer;
        let opened = Account::open(user, now, writer.rng.as_mut())?;
        let revision = writer.store.append(user, &opened.change)?;
        self.index
            .commit(self.index.prepare(&opened.change, &Account::empty(user)));
        writer.accounts.insert(user.to_owned(), opened.account);
        writer.revision = revision;
        Ok(Some(opened.default_key.as_str().to_owned()))
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
    pub fn write<T, E>(
        &self,
        user: &str,
        operation: impl FnOnce(&Account, &mut dyn RandomSource) -> Result<Planned<T>, E>,
    ) -> Result<Result<T, E>, RegistryError> {
        let mut guard = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let writer = &mut *guard;
        if writer.stopped {
            return Err(RegistryError::Stopped);
        }
        let account = writer
            .accounts
            .get_mut(user)
            .ok_or_else(|| RegistryError::UnknownUser { user: user.to_owned() })?;
        let planned = match operation(account, writer.rng.as_mut()) {
            Ok(planned) => planned,
            Err(refused) => return Ok(Err(refused)),
        };
        let Some(change) = planned.change else {
            return Ok(Ok(planned.answer));
        };
        let revision = writer.store.append(user, &change)?;
        let prepared = self.index.prepare(&change, account);
        if let Err(source) = account.apply(&change) {
            writer.stopped = true;
            return Err(RegistryError::Diverged {
                change: change.name(),
                source,
            });
        }
        self.index.commit(prepared);
        writer.revision = revision;
        Ok(Ok(planned.answer))
    }
}

impl<S: Store> KeyLookup for Registry<S> {
    /// Keys by digest; `pk`/`sk` tokens by signature, then id; `tk` tokens
    /// from the string alone (expiry is judged by evaluation).
    fn lookup(&self, key: &str) -> Option<Credential> {
        if key.starts_with("mpk_") {
            return self.index.find_key(key, unix_now()).map(Credential::Key);
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
