//! A small, fast, deterministic hasher for the allowlist sets and maps.
//!
//! The sets are built from the policy owner's entries, and a lookup hashes
//! one attacker-chosen string once, so hash flooding is not a threat here;
//! what matters is that a lookup costs a few nanoseconds. This is the
//! multiply-rotate scheme of rustc's `FxHasher`, processing eight bytes at a
//! time. It has no random seed: evaluation needs no global state.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// A `HashSet` keyed with [`FxHasher`].
pub(crate) type FastSet<T> = HashSet<T, BuildHasherDefault<FxHasher>>;

/// A `HashMap` keyed with [`FxHasher`].
pub(crate) type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

/// See the module documentation.
#[derive(Default, Clone, Copy)]
pub(crate) struct FxHasher {
    hash: u64,
}

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        // The last 0 to 7 bytes, little-endian into one zero-padded word.
        // A loop rather than `copy_from_slice`, which would call `memcpy`
        // for a handful of bytes.
        let rest = chunks.remainder();
        let word = rest
            .iter()
            .enumerate()
            .fold(0u64, |word, (i, &b)| word | u64::from(b) << (8 * i));
        self.add(word ^ ((rest.len() as u64) << 59));
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.hash
    }
}

/// The hash of a string as [`StrSet`] uses it: the bytes alone (a
/// `Hash` impl would add a terminator byte, one more round for nothing).
fn hash_str(key: &str) -> u64 {
    let mut hasher = FxHasher::default();
    hasher.write(key.as_bytes());
    hasher.finish()
}

/// A set of strings that is built once and probed on every request.
///
/// Open addressing with linear probing in a power-of-two table kept at
/// most three-quarters full, each slot holding its key's full hash so that
/// a probe compares bytes only when the hashes are equal. Compared with a
/// general-purpose `HashSet<Box<str>>`, a lookup does less work per probe,
/// which matters here because `evaluate` makes one or two per request.
/// There is no removal, so no tombstones.
#[derive(Debug, Clone, Default)]
pub(crate) struct StrSet {
    /// Empty, or a power of two in length.
    slots: Vec<Option<(u64, Box<str>)>>,
    len: usize,
}

impl StrSet {
    /// Whether the set is empty.
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether `key` is in the set.
    pub(crate) fn contains(&self, key: &str) -> bool {
        !self.is_empty() && self.find(hash_str(key), key).is_ok()
    }

    /// Adds `key`; returns whether it was not there yet.
    pub(crate) fn insert(&mut self, key: Box<str>) -> bool {
        // Keep at most 3/4 of the slots full, so probe runs stay short and
        // `find` always reaches an empty slot.
        if (self.len + 1) * 4 > self.slots.len() * 3 {
            self.grow();
        }
        let hash = hash_str(&key);
        match self.find(hash, &key) {
            Ok(_) => false,
            Err(empty) => match self.slots.get_mut(empty) {
                Some(slot) => {
                    *slot = Some((hash, key));
                    self.len += 1;
                    true
                }
                None => false,
            },
        }
    }

    /// The slot holding `key` (`Ok`), or the empty slot where it would go
    /// (`Err`). The table must not be empty.
    fn find(&self, hash: u64, key: &str) -> Result<usize, usize> {
        let mask = self.slots.len().wrapping_sub(1);
        // The low bits of an Fx hash are weak; the high bits are mixed best.
        let mut i = (hash >> 32) as usize & mask;
        loop {
            match self.slots.get(i) {
                Some(Some((h, k))) => {
                    if *h == hash && **k == *key {
                        return Ok(i);
                    }
                }
                Some(None) | None => return Err(i),
            }
            i = (i + 1) & mask;
        }
    }

    /// Doubles the table (at least 8 slots) and re-inserts every key.
    fn grow(&mut self) {
        let capacity = (self.slots.len() * 2).max(8);
        let old = std::mem::replace(
            &mut self.slots,
            std::iter::repeat_with(|| None).take(capacity).collect(),
        );
        self.len = 0;
        for (_, key) in old.into_iter().flatten() {
            self.insert(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_finds_what_it_holds_by_borrowed_key() {
        let mut set: FastSet<Box<str>> = FastSet::default();
        for i in 0..1000 {
            set.insert(format!("host-{i}.example.com").into());
        }
        assert!(set.contains("host-999.example.com"));
        assert!(!set.contains("host-1000.example.com"));
    }

    #[test]
    fn str_set_is_a_set() {
        let mut set = StrSet::default();
        assert!(set.is_empty() && !set.contains("") && !set.contains("a"));
        for i in 0..1000 {
            assert!(set.insert(format!("host-{i}.example.com").into()));
        }
        assert!(!set.insert("host-7.example.com".into()), "a duplicate is not fresh");
        assert!(set.insert("".into()));
        for i in 0..1000 {
            assert!(set.contains(&format!("host-{i}.example.com")), "{i}");
        }
        assert!(set.contains(""));
        assert!(!set.contains("host-1000.example.com"));
        assert!(!set.contains("host-1.example.co"));
        assert_eq!(set.len, 1001);
    }
}
