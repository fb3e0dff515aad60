//! Mappinest key strings: `mpk_` + 30 random base62 characters + a 6-character
//! base62 CRC32 checksum — 40 characters, GitHub's token format as model.
//!
//! ```text
//! mpk_ 0aZ3…(30 random base62)… Q1w2E3
//! └┬─┘ └──────────┬───────────┘ └─┬──┘
//! prefix    ≈178 random bits   CRC32 of prefix + random, base62, 6 chars
//! ```
//!
//! * The **prefix** makes a leaked key recognizable to people and to secret
//!   scanners (a regex `mpk_[0-9A-Za-z]{36}` plus the checksum has almost no
//!   false positives).
//! * **30 base62 characters** carry log2(62³⁰) ≈ 178 random bits (at least
//!   128 are required), drawn uniformly by rejection sampling.
//! * The **checksum** (CRC32 of the first 34 characters, written as 6 base62
//!   digits, most significant first) lets [`KeyString::parse`] refuse a
//!   mistyped or truncated key without any lookup: a single changed
//!   character always changes a CRC32, and any other corruption passes
//!   with probability 2⁻³².
//!
//! The registry never keeps the string itself, only its SHA-256
//! [`KeyDigest`]: keys are high-entropy, so one unsalted digest is enough
//! and a copy of the state gives no usable credential.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};

use crate::lifecycle::random::{random_chars, RandomError, RandomSource, BASE62};

/// The readable prefix of every key string.
pub const KEY_PREFIX: &str = "mpk_";
/// How many random base62 characters follow the prefix.
pub const KEY_RANDOM_CHARS: usize = 30;
/// How many base62 characters the checksum takes.
pub const KEY_CHECKSUM_CHARS: usize = 6;
/// The length of every key string.
pub const KEY_STRING_LEN: usize = KEY_PREFIX.len() + KEY_RANDOM_CHARS + KEY_CHECKSUM_CHARS;

/// Why a string is not a well-formed key string (checked without lookup).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyStringError {
    /// The string does not start with `mpk_`.
    #[error("key: {value:?} does not start with \"mpk_\"")]
    Prefix {
        /// The string given (cut to 64 characters).
        value: String,
    },
    /// The string is not 40 characters long (e.g. truncated).
    #[error("key: {len} characters; a key string has exactly {KEY_STRING_LEN}")]
    Length {
        /// Its length in bytes.
        len: usize,
    },
    /// A character after the prefix is not base62.
    #[error("key: {value:?}: character {index} is not 0-9, A-Z or a-z")]
    Character {
        /// The string given.
        value: String,
        /// The byte position of the bad character.
        index: usize,
    },
    /// The checksum does not match (a mistyped key).
    #[error("key: {value:?}: the checksum does not match; the key was mistyped or altered")]
    Checksum {
        /// The string given.
        value: String,
    },
}

/// A key string whose format and checksum are valid. It may still be
/// unknown to the registry: that needs a lookup of its [`digest`](Self::digest).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct KeyString(String);

impl fmt::Debug for KeyString {
    /// Shows the prefix and checksum only: the secret stays out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tail = self.0.get(KEY_STRING_LEN - KEY_CHECKSUM_CHARS..).unwrap_or("");
        write!(f, "KeyString({KEY_PREFIX}…{tail})")
    }
}

impl KeyString {
    /// Mints a new key string from `rng`.
    pub fn generate(rng: &mut dyn RandomSource) -> Result<KeyString, RandomError> {
        let mut s = String::with_capacity(KEY_STRING_LEN);
        s.push_str(KEY_PREFIX);
        s.push_str(&random_chars(rng, KEY_RANDOM_CHARS, BASE62)?);
        let checksum = checksum_chars(&s);
        s.push_str(&checksum);
        Ok(KeyString(s))
    }

    /// Checks the prefix, length, alphabet and checksum.
    pub fn parse(s: &str) -> Result<KeyString, KeyStringError> {
        check(s)?;
        Ok(KeyString(s.to_owned()))
    }

    /// The digest of a well-formed key string, checked as
    /// [`parse`](Self::parse) checks it but without copying it: what a
    /// lookup on every request needs (no allocation on success).
    pub fn digest_of(s: &str) -> Result<KeyDigest, KeyStringError> {
        check(s)?;
        Ok(KeyDigest(Sha256::digest(s.as_bytes()).into()))
    }

    /// The string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Its SHA-256 digest, what the registry stores and looks up.
    pub fn digest(&self) -> KeyDigest {
        KeyDigest(Sha256::digest(self.0.as_bytes()).into())
    }
}

impl fmt::Display for KeyString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for KeyString {
    type Err = KeyStringError;
    fn from_str(s: &str) -> Result<Self, KeyStringError> {
        KeyString::parse(s)
    }
}

/// CRC32 of `body` as 6 base62 digits, most significant first
/// (62⁶ > 2³², so every CRC fits).
/// The prefix, length, alphabet and checksum of a key string.
fn check(s: &str) -> Result<(), KeyStringError> {
    let clip = |s: &str| s.chars().take(64).collect::<String>();
    if !s.starts_with(KEY_PREFIX) {
        return Err(KeyStringError::Prefix { value: clip(s) });
    }
    if s.len() != KEY_STRING_LEN {
        return Err(KeyStringError::Length { len: s.len() });
    }
    if let Some(index) = s
        .bytes()
        .skip(KEY_PREFIX.len())
        .position(|b| !b.is_ascii_alphanumeric())
    {
        return Err(KeyStringError::Character {
            value: clip(s),
            index: index + KEY_PREFIX.len(),
        });
    }
    let (body, checksum) = s.split_at(KEY_STRING_LEN - KEY_CHECKSUM_CHARS);
    if checksum_bytes(body) != checksum.as_bytes() {
        return Err(KeyStringError::Checksum { value: s.to_owned() });
    }
    Ok(())
}

/// The checksum of `body`: its CRC32 as base62 digits, most significant
/// first, on the stack.
fn checksum_bytes(body: &str) -> [u8; KEY_CHECKSUM_CHARS] {
    let mut crc = u64::from(crc32fast::hash(body.as_bytes()));
    let mut out = [b'0'; KEY_CHECKSUM_CHARS];
    for slot in out.iter_mut().rev() {
        // `crc % 62` is below 62, so the lookup always succeeds.
        *slot = BASE62.get((crc % 62) as usize).copied().unwrap_or(b'0');
        crc /= 62;
    }
    out
}

fn checksum_chars(body: &str) -> String {
    checksum_bytes(body).iter().map(|&b| char::from(b)).collect()
}

/// The SHA-256 digest of a key string; written as 64 lower-case hex digits
/// in JSON.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyDigest(pub [u8; 32]);

impl fmt::Debug for KeyDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyDigest({self})")
    }
}

impl fmt::Display for KeyDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

/// A string that is not 64 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("digest: {value:?} is not 64 hex digits")]
pub struct InvalidKeyDigest {
    /// The string given.
    pub value: String,
}

impl FromStr for KeyDigest {
    type Err = InvalidKeyDigest;
    fn from_str(s: &str) -> Result<Self, InvalidKeyDigest> {
        let err = || InvalidKeyDigest { value: s.to_owned() };
        if s.len() != 64 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(err());
        }
        let mut out = [0u8; 32];
        for (slot, pair) in out.iter_mut().zip(s.as_bytes().chunks(2)) {
            let text = std::str::from_utf8(pair).map_err(|_| err())?;
            *slot = u8::from_str_radix(text, 16).map_err(|_| err())?;
        }
        Ok(KeyDigest(out))
    }
}

impl serde::Serialize for KeyDigest {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for KeyDigest {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::random::SeededRandom;

    #[test]
    fn generated_keys_parse_and_have_the_documented_shape() {
        let key = KeyString::generate(&mut SeededRandom::new(3)).unwrap();
        assert_eq!(key.as_str().len(), 40);
        assert!(key.as_str().starts_with("mpk_"));
        assert_eq!(KeyString::parse(key.as_str()), Ok(key.clone()));
        assert!(!format!("{key:?}").contains(&key.as_str()[4..30]));
    }

    #[test]
    fn digests_round_trip_through_hex() {
        let key = KeyString::generate(&mut SeededRandom::new(4)).unwrap();
        let d = key.digest();
        assert_eq!(d.to_string().parse::<KeyDigest>(), Ok(d));
        assert!("zz".parse::<KeyDigest>().is_err());
    }
}
