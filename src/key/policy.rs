//! `KeyPolicy`: a Mappinest API key's rules, validated and compiled once.

use std::str::FromStr;

use crate::hash::HashSeed;
use crate::key::domains::{AllowedDomain, AllowedDomainError, DomainAllowlist};
use crate::key::scope::{KeyScope, KeyScopeSet, UnknownKeyScope};
use crate::key::tilesets::{TilesetAllowlist, TilesetError, TilesetPattern};
use crate::named::named_enum;

/// The most `allowed_domains` entries a key may have, counted as given
/// (before duplicates are dropped).
///
/// Twice the largest list the benchmarks build (10,000 domains and 1,000
/// wildcards, in about 4 ms); it bounds the time and memory one policy's
/// author can make a server spend building it. A list longer than this is
/// usually better served by a wildcard or by several keys.
pub const MAX_ALLOWED_DOMAINS: usize = 20_000;

/// The most `allowed_tilesets` entries a key may have, counted as given
/// (before duplicates are dropped). `username.*` covers every tileset of
/// a user in one entry.
pub const MAX_ALLOWED_TILESETS: usize = 10_000;

named_enum! {
    /// Where a key may be used by default.
    ///
    /// Exhaustive on purpose: the seed defines exactly these four.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub enum KeyType {
        /// Unrestricted (the default): no origin rule of its own.
        #[default]
        Any => "any",
        /// Browser key: an Origin header is always required.
        Web => "web",
        /// Desktop applications: Origin optional unless domains are set.
        Desktop => "desktop",
        /// Servers: Origin optional unless domains are set.
        Server => "server",
    }
}

impl FromStr for KeyType {
    type Err = KeyPolicyError;

    fn from_str(s: &str) -> Result<Self, KeyPolicyError> {
        KeyType::from_name(s).ok_or_else(|| KeyPolicyError::UnknownKeyType { value: s.to_owned() })
    }
}

/// Why a key policy could not be built. Each variant names the field, the
/// index in its list and the offending value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyPolicyError {
    /// `key_type` is not `any`, `web`, `desktop` or `server`.
    #[error("key_type: unknown key type {value:?}; expected one of any, web, desktop, server")]
    UnknownKeyType {
        /// The value given.
        value: String,
    },
    /// A `scopes` entry is not one of the four Mappinest scopes.
    #[error("scopes[{index}]: {source}")]
    UnknownKeyScope {
        /// Position in `scopes`.
        index: usize,
        /// The error, which holds the value.
        source: UnknownKeyScope,
    },
    /// An `allowed_domains` entry is invalid.
    #[error("allowed_domains[{index}]: {value:?}: {source}")]
    InvalidDomain {
        /// Position in `allowed_domains`.
        index: usize,
        /// The entry as given.
        value: String,
        /// What is wrong with it.
        source: AllowedDomainError,
    },
    /// An `allowed_tilesets` entry is invalid.
    #[error("allowed_tilesets[{index}]: {value:?}: {source}")]
    InvalidTileset {
        /// Position in `allowed_tilesets`.
        index: usize,
        /// The entry as given.
        value: String,
        /// What is wrong with it.
        source: TilesetError,
    },
    /// A list has more entries than its cap ([`MAX_ALLOWED_DOMAINS`],
    /// [`MAX_ALLOWED_TILESETS`]).
    #[error("{field}: {count} entries; at most {max} are allowed")]
    TooManyEntries {
        /// The field: `allowed_domains` or `allowed_tilesets`.
        field: &'static str,
        /// How many entries were given.
        count: usize,
        /// The cap.
        max: usize,
    },
}

/// A Mappinest API key's policy: key type, scopes, allowed domains and
/// allowed tilesets, validated and normalized when built.
///
/// Build one with [`KeyPolicy::builder`] or deserialize it from JSON (with
/// the `serde` feature); evaluate requests with [`evaluate_key`](crate::evaluate_key).
/// It is immutable, `Send` and `Sync`: share one behind an `Arc` and swap
/// it on key rotation.
#[derive(Debug, Clone, Default)]
pub struct KeyPolicy {
    pub(crate) key_type: KeyType,
    pub(crate) scopes: KeyScopeSet,
    pub(crate) domains: DomainAllowlist,
    pub(crate) tilesets: TilesetAllowlist,
}

impl KeyPolicy {
    /// A key with no restrictions: every request is allowed.
    pub fn unrestricted() -> Self {
        KeyPolicy::default()
    }

    /// Starts building a policy.
    pub fn builder() -> KeyPolicyBuilder {
        KeyPolicyBuilder::default()
    }

    /// The key type.
    pub fn key_type(&self) -> KeyType {
        self.key_type
    }

    /// The scopes (empty: scopes never block).
    pub fn scopes(&self) -> KeyScopeSet {
        self.scopes
    }

    /// The normalized domain entries, duplicates removed.
    pub fn allowed_domains(&self) -> &[AllowedDomain] {
        self.domains.entries()
    }

    /// The tileset entries, duplicates removed.
    pub fn allowed_tilesets(&self) -> &[TilesetPattern] {
        self.tilesets.entries()
    }

    /// Whether requests must carry an Origin header (rules 2 and 3): the
    /// key has allowed domains, or is a `web` key.
    pub fn has_origin_rule(&self) -> bool {
        !self.domains.is_empty() || self.key_type == KeyType::Web
    }
}

/// Builds a [`KeyPolicy`], validating every entry in [`build`](Self::build).
///
/// ```
/// use keypolicy::KeyPolicy;
/// use keypolicy::key::{KeyType, KeyScope};
/// let policy = KeyPolicy::builder()
///     .key_type(KeyType::Web)
///     .scope(KeyScope::TilesRead)
///     .allowed_domains(["https://www.mappinest.com", "app.example.com"])
///     .allowed_tilesets(["alice.streets"])
///     .build()?;
/// assert_eq!(policy.allowed_domains()[0].to_string(), "mappinest.com");
/// # Ok::<(), keypolicy::key::KeyPolicyError>(())
/// ```
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct KeyPolicyBuilder {
    key_type: KeyType,
    scopes: KeyScopeSet,
    domains: Vec<String>,
    tilesets: Vec<String>,
}

impl KeyPolicyBuilder {
    /// Sets the key type (default [`KeyType::Any`]).
    pub fn key_type(mut self, key_type: KeyType) -> Self {
        self.key_type = key_type;
        self
    }

    /// Adds a scope.
    pub fn scope(mut self, scope: KeyScope) -> Self {
        self.scopes = self.scopes.with(scope);
        self
    }

    /// Adds scopes.
    pub fn scopes(self, scopes: impl IntoIterator<Item = KeyScope>) -> Self {
        scopes.into_iter().fold(self, Self::scope)
    }

    /// Adds `allowed_domains` entries (validated in [`build`](Self::build)).
    pub fn allowed_domains<S: Into<String>>(mut self, entries: impl IntoIterator<Item = S>) -> Self {
        self.domains.extend(entries.into_iter().map(Into::into));
        self
    }

    /// Adds `allowed_tilesets` entries (validated in [`build`](Self::build)).
    pub fn allowed_tilesets<S: Into<String>>(mut self, entries: impl IntoIterator<Item = S>) -> Self {
        self.tilesets.extend(entries.into_iter().map(Into::into));
        self
    }

    /// Validates and normalizes every entry; the first bad one is the error.
    ///
    /// The list sizes are checked first ([`MAX_ALLOWED_DOMAINS`],
    /// [`MAX_ALLOWED_TILESETS`]), then each entry in order. The compiled
    /// policy's hash tables are keyed by a seed drawn here at random, so
    /// entries cannot be chosen to collide in them (see the README).
    pub fn build(self) -> Result<KeyPolicy, KeyPolicyError> {
        for (field, count, max) in [
            ("allowed_domains", self.domains.len(), MAX_ALLOWED_DOMAINS),
            ("allowed_tilesets", self.tilesets.len(), MAX_ALLOWED_TILESETS),
        ] {
            if count > max {
                return Err(KeyPolicyError::TooManyEntries { field, count, max });
            }
        }
        let domains = self
            .domains
            .into_iter()
            .enumerate()
            .map(|(index, value)| match value.parse::<AllowedDomain>() {
                Ok(entry) => Ok(entry),
                Err(source) => Err(KeyPolicyError::InvalidDomain { index, value, source }),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let tilesets = self
            .tilesets
            .into_iter()
            .enumerate()
            .map(|(index, value)| match value.parse::<TilesetPattern>() {
                Ok(entry) => Ok(entry),
                Err(source) => Err(KeyPolicyError::InvalidTileset { index, value, source }),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let seed = HashSeed::random();
        Ok(KeyPolicy {
            key_type: self.key_type,
            scopes: self.scopes,
            domains: DomainAllowlist::new(domains, &seed),
            tilesets: TilesetAllowlist::new(tilesets, &seed),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::SMALL_LIST;
    use crate::syntax::host::HostError;

    #[test]
    fn errors_name_field_index_and_value() {
        let err = KeyPolicy::builder()
            .allowed_domains(["example.com", "bad..com"])
            .build()
            .unwrap_err();
        assert_eq!(
            err,
            KeyPolicyError::InvalidDomain {
                index: 1,
                value: "bad..com".into(),
                source: AllowedDomainError::Host(HostError::EmptyLabel)
            }
        );
        assert_eq!(
            err.to_string(),
            r#"allowed_domains[1]: "bad..com": the host has an empty label"#
        );
        let err = KeyPolicy::builder().allowed_tilesets(["streets"]).build().unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"allowed_tilesets[0]: "streets": expected 'username.tilesetID' or 'username.*'"#
        );
        let err = "Web".parse::<KeyType>().unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"key_type: unknown key type "Web"; expected one of any, web, desktop, server"#
        );
    }

    #[test]
    fn origin_rule_comes_from_domains_or_web_type() {
        assert!(!KeyPolicy::unrestricted().has_origin_rule());
        for (key_type, expected) in [
            (KeyType::Any, false),
            (KeyType::Web, true),
            (KeyType::Desktop, false),
            (KeyType::Server, false),
        ] {
            let p = KeyPolicy::builder().key_type(key_type).build().unwrap();
            assert_eq!(p.has_origin_rule(), expected, "{key_type}");
            let p = KeyPolicy::builder()
                .key_type(key_type)
                .allowed_domains(["a.com"])
                .build()
                .unwrap();
            assert!(p.has_origin_rule(), "{key_type} with domains");
        }
    }

    #[test]
    fn caps_are_checked_before_any_entry() {
        // One over the cap, with an invalid entry first: the count is the error.
        let domains = std::iter::once("bad..com".to_owned())
            .chain((1..=MAX_ALLOWED_DOMAINS).map(|i| format!("h{i}.example.com")))
            .collect::<Vec<_>>();
        let err = KeyPolicy::builder().allowed_domains(domains).build().unwrap_err();
        assert_eq!(
            err,
            KeyPolicyError::TooManyEntries {
                field: "allowed_domains",
                count: MAX_ALLOWED_DOMAINS + 1,
                max: MAX_ALLOWED_DOMAINS
            }
        );
        assert_eq!(
            err.to_string(),
            format!(
                "allowed_domains: {} entries; at most {MAX_ALLOWED_DOMAINS} are allowed",
                MAX_ALLOWED_DOMAINS + 1
            )
        );
    }

    #[test]
    fn each_policy_draws_its_own_seed_and_keeps_it() {
        // Lists long enough to be hashed (a short list is scanned).
        let domains: Vec<String> = (0..=SMALL_LIST).map(|i| format!("d{i}.example.com")).collect();
        let tilesets: Vec<String> = (0..=SMALL_LIST).map(|i| format!("alice.t{i}")).collect();
        let build = || {
            KeyPolicy::builder()
                .allowed_domains(domains.iter().cloned())
                .allowed_tilesets(tilesets.iter().cloned())
                .build()
                .unwrap()
        };
        let (a, b) = (build(), build());
        let hash = |p: &KeyPolicy| p.domains.seed().unwrap().hash_bytes(b"example.com");
        assert_ne!(hash(&a), hash(&b), "two builds of one policy must not share a seed");
        // One seed per policy, for domains and tilesets alike.
        assert_eq!(hash(&a), a.tilesets.seed().unwrap().hash_bytes(b"example.com"));
        // A clone is the same compiled policy: same seed, same decisions.
        assert_eq!(hash(&a), hash(&a.clone()));
    }

    /// Short lists are scanned and hold no hash table (the memory of a
    /// million typical keys); a list one entry longer is hashed. Both
    /// answer alike: the rules tests and properties run on both shapes.
    #[test]
    fn short_lists_are_scanned_and_long_lists_hashed() {
        let short = KeyPolicy::builder()
            .allowed_domains(["example.com", "*.example.org", "127.0.0.1", "capacitor://localhost"])
            .allowed_tilesets(["alice.streets", "bob.*"])
            .build()
            .unwrap();
        assert!(short.domains.seed().is_none() && short.tilesets.seed().is_none());
        let domains: Vec<String> = (0..=SMALL_LIST).map(|i| format!("d{i}.example.com")).collect();
        let long = KeyPolicy::builder().allowed_domains(domains).build().unwrap();
        assert!(long.domains.seed().is_some());
        // Duplicates do not count: nine spellings of one entry are short.
        let same = KeyPolicy::builder()
            .allowed_domains((0..=SMALL_LIST).map(|_| "https://www.example.com"))
            .build()
            .unwrap();
        assert_eq!(same.allowed_domains().len(), 1);
        assert!(same.domains.seed().is_none());
        assert!(
            std::mem::size_of::<KeyPolicy>() <= 40,
            "{}",
            std::mem::size_of::<KeyPolicy>()
        );
    }

    #[test]
    fn policies_are_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<KeyPolicy>();
    }
}
