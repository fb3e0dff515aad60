//! Credentials and where they are looked up: [`Credential`] (the policy a
//! key or token string stands for), the [`KeyLookup`] trait, and
//! [`KeyStore`], the in-memory lookup that rotations swap atomically.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, PoisonError, RwLock};

use crate::http::query::CredentialKind;
use crate::key::KeyPolicy;
use crate::token::TokenPolicy;

/// The policy a key string stands for.
///
/// `#[non_exhaustive]`: a platform may add credential kinds; match with a
/// wildcard arm.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Credential {
    /// A Mappinest API key, given as `?key=`.
    Key(Arc<KeyPolicy>),
    /// A Mapbox-style access token, given as `?access_token=`.
    Token(Arc<TokenPolicy>),
}

impl Credential {
    /// The query parameter this credential must arrive in. A key string
    /// given in the wrong parameter is treated as unknown.
    pub fn kind(&self) -> CredentialKind {
        match self {
            Credential::Key(_) => CredentialKind::Key,
            Credential::Token(_) => CredentialKind::AccessToken,
        }
    }
}

impl From<KeyPolicy> for Credential {
    fn from(policy: KeyPolicy) -> Self {
        Credential::Key(Arc::new(policy))
    }
}

impl From<TokenPolicy> for Credential {
    fn from(policy: TokenPolicy) -> Self {
        Credential::Token(Arc::new(policy))
    }
}

/// Finds the policy of a key string. Called once per request, on the
/// request's thread, so it must be fast and must not block on I/O: keep
/// the keys in memory and refresh them in the background.
pub trait KeyLookup: Send + Sync {
    /// The credential `key` stands for, or `None` when it is unknown.
    fn lookup(&self, key: &str) -> Option<Credential>;
}

impl<T: KeyLookup + ?Sized> KeyLookup for Arc<T> {
    fn lookup(&self, key: &str) -> Option<Credential> {
        (**self).lookup(key)
    }
}

impl<K, S> KeyLookup for HashMap<K, Credential, S>
where
    K: Borrow<str> + Eq + Hash + Send + Sync,
    S: std::hash::BuildHasher + Send + Sync,
{
    fn lookup(&self, key: &str) -> Option<Credential> {
        self.get(key).cloned()
    }
}

/// The in-memory [`KeyLookup`]: a map from key strings to credentials
/// that readers share and writers replace whole.
///
/// Lookups take a read lock just long enough to clone one `Arc`; a
/// rotation builds the new map off to the side and swaps it in with
/// [`replace`](Self::replace) (or edits a copy with
/// [`update`](Self::update)), so every request sees either the old keys or
/// the new ones, never a mix. This is `std::sync::RwLock<Arc<HashMap>>`
/// rather than a lock-free `ArcSwap` to keep the dependency set small; the
/// read lock is uncontended except during a swap. A panic while the lock
/// is held cannot leave a half-edited map (the map behind the `Arc` is
/// never mutated in place), so a poisoned lock is used as it is.
#[derive(Debug, Default)]
pub struct KeyStore {
    keys: RwLock<Arc<HashMap<Box<str>, Credential>>>,
}

impl KeyStore {
    /// A store holding `keys`.
    pub fn new(keys: HashMap<Box<str>, Credential>) -> Self {
        KeyStore {
            keys: RwLock::new(Arc::new(keys)),
        }
    }

    /// The current map, shared.
    pub fn snapshot(&self) -> Arc<HashMap<Box<str>, Credential>> {
        Arc::clone(&self.keys.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Swaps in a new map atomically and returns the old one.
    pub fn replace(&self, keys: HashMap<Box<str>, Credential>) -> Arc<HashMap<Box<str>, Credential>> {
        let mut current = self.keys.write().unwrap_or_else(PoisonError::into_inner);
        std::mem::replace(&mut *current, Arc::new(keys))
    }

    /// Edits a copy of the map and swaps it in atomically (e.g. to rotate
    /// one key: remove the old string, insert the new one).
    pub fn update(&self, edit: impl FnOnce(&mut HashMap<Box<str>, Credential>)) {
        let mut current = self.keys.write().unwrap_or_else(PoisonError::into_inner);
        let mut keys = HashMap::clone(&current);
        edit(&mut keys);
        *current = Arc::new(keys);
    }

    /// How many keys the store holds.
    pub fn len(&self) -> usize {
        self.keys.read().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// Whether the store holds no key.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<K: Into<Box<str>>> FromIterator<(K, Credential)> for KeyStore {
    fn from_iter<I: IntoIterator<Item = (K, Credential)>>(iter: I) -> Self {
        KeyStore::new(iter.into_iter().map(|(k, c)| (k.into(), c)).collect())
    }
}

impl KeyLookup for KeyStore {
    fn lookup(&self, key: &str) -> Option<Credential> {
        self.keys
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_maps_are_lookups() {
        let map: HashMap<String, Credential> = HashMap::from([("k".to_owned(), KeyPolicy::unrestricted().into())]);
        assert!(map.lookup("k").is_some());
        assert!(map.lookup("x").is_none());
        let shared: Arc<dyn KeyLookup> = Arc::new(map);
        assert!(shared.lookup("k").is_some());
    }

    #[test]
    fn the_store_swaps_whole_maps() {
        let store = KeyStore::from_iter([("a", Credential::from(KeyPolicy::unrestricted()))]);
        assert_eq!(store.lookup("a").map(|c| c.kind()), Some(CredentialKind::Key));
        let old = store.replace(HashMap::from([("b".into(), KeyPolicy::unrestricted().into())]));
        assert_eq!(old.len(), 1);
        assert!(store.lookup("a").is_none());
        let snapshot = store.snapshot();
        store.update(|map| {
            map.remove("b");
        });
        assert!(store.is_empty());
        // A snapshot taken before is unchanged: edits never mutate a shared map.
        assert_eq!(snapshot.len(), 1);
    }
}
