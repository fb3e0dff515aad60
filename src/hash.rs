//! A small, fast, deterministic hasher for the allowlist sets.
//!
//! The sets are built from the policy owner's entries, and a lookup hashes
//! one attacker-chosen string once, so hash flooding is not a threat here;
//! what matters is that a lookup costs a few nanoseconds. This is the
//! multiply-rotate scheme of rustc's `FxHasher`, processing eight bytes at a
//! time. It has no random seed: evaluation needs no global state.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

/// A `HashSet` keyed with [`FxHasher`].
pub(crate) type FastSet<T> = HashSet<T, BuildHasherDefault<FxHasher>>;

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
}
