//! Host names chosen to collide in a hash table, for the hash-flooding
//! benchmark (`hostile/colliding_10k` in `benches/evaluate.rs`, issue 9)
//! and its regression test (`tests/hardening.rs`).
//!
//! Before issue 9 the allowlists were a hand-written open-addressing table
//! hashed with an unseeded Fx hash: anyone could compute where an entry
//! would land, so entries could be picked to share one probe run, and a
//! lookup then scanned all of them. [`old`] is that hasher and table,
//! copied from commit `6d85271` (`src/hash.rs`), and [`old_fx_collisions`]
//! brute-forces such entries. [`fixed_foldhash_collisions`] is the best an
//! author can do against today's tables without the policy's secret seed:
//! aim at foldhash with its public fixed seed.

#![allow(dead_code, reason = "the bench and the test use different parts")]
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "bench and test setup: a panic is a failed run"
)]

use std::hash::{BuildHasher, Hasher};

/// Hosts `x0000000000.flood.example.com`, `x0000000001…`, in order: a
/// decimal counter incremented in place (no allocation per candidate).
struct Candidates {
    buf: Vec<u8>,
    digits: std::ops::Range<usize>,
}

impl Candidates {
    fn new() -> Self {
        Candidates {
            buf: b"x0000000000.flood.example.com".to_vec(),
            digits: 1..11,
        }
    }

    fn current(&self) -> &[u8] {
        &self.buf
    }

    fn advance(&mut self) {
        for i in self.digits.clone().rev() {
            if self.buf[i] == b'9' {
                self.buf[i] = b'0';
            } else {
                self.buf[i] += 1;
                return;
            }
        }
        panic!("candidate counter overflowed");
    }
}

/// `count` distinct hosts whose `bucket` is the same, in the order found.
/// Gives up (panics) after 2^34 candidates: the expected number is
/// `count << bits` for a bucket of `bits` bits.
fn collisions(count: usize, bucket: impl Fn(&[u8]) -> usize) -> Vec<String> {
    let mut candidates = Candidates::new();
    let target = bucket(candidates.current());
    let mut out = Vec::with_capacity(count);
    for _ in 0u64..1 << 34 {
        if out.len() == count {
            return out;
        }
        if bucket(candidates.current()) == target {
            out.push(String::from_utf8(candidates.current().to_vec()).unwrap());
        }
        candidates.advance();
    }
    panic!("found only {} of {count} colliding hosts", out.len());
}

/// `count` hosts that all start their probe at the same slot of the old
/// table once it holds `count` entries, so they form one probe run; the
/// table size for `count` entries is the one the old code grew to.
pub fn old_fx_collisions(count: usize) -> Vec<String> {
    let mask = old::StrSet::capacity_for(count) - 1;
    collisions(count, |host| old::slot(old::hash(host), mask))
}

/// `count` hosts that would share a bucket of a `hashbrown` table sized
/// for `count` entries if it were keyed by foldhash's public fixed seed.
/// Against a policy's random seed they are ordinary entries.
pub fn fixed_foldhash_collisions(count: usize) -> Vec<String> {
    // hashbrown: buckets are the next power of two of count * 8 / 7, and
    // the low bits of the hash pick the bucket.
    let mask = (count * 8 / 7).next_power_of_two() - 1;
    let state = foldhash::fast::FixedState::default();
    collisions(count, |host| {
        let mut h = state.build_hasher();
        h.write(host);
        h.finish() as usize & mask
    })
}

/// The allowlist table and hasher before issue 9 (commit `6d85271`,
/// `src/hash.rs`), reduced to what the benchmark needs.
pub mod old {
    use std::hash::Hasher;

    const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

    /// rustc's `FxHasher`, eight bytes at a time, as the old crate had it.
    #[derive(Default)]
    struct FxHasher {
        hash: u64,
    }

    impl FxHasher {
        fn add(&mut self, word: u64) {
            self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
        }
    }

    impl Hasher for FxHasher {
        fn write(&mut self, bytes: &[u8]) {
            let mut chunks = bytes.chunks_exact(8);
            for chunk in &mut chunks {
                self.add(u64::from_le_bytes(chunk.try_into().unwrap()));
            }
            let rest = chunks.remainder();
            let word = rest
                .iter()
                .enumerate()
                .fold(0u64, |word, (i, &b)| word | u64::from(b) << (8 * i));
            self.add(word ^ ((rest.len() as u64) << 59));
        }

        fn finish(&self) -> u64 {
            self.hash
        }
    }

    /// The old `hash_str`: the bytes alone.
    pub fn hash(bytes: &[u8]) -> u64 {
        let mut hasher = FxHasher::default();
        hasher.write(bytes);
        hasher.finish()
    }

    /// Where a probe for `hash` starts in a table with `mask + 1` slots.
    pub fn slot(hash: u64, mask: usize) -> usize {
        (hash >> 32) as usize & mask
    }

    /// The old `StrSet`: linear probing in a power-of-two table at most
    /// three-quarters full, each slot holding its key's hash.
    #[derive(Default)]
    pub struct StrSet {
        slots: Vec<Option<(u64, Box<str>)>>,
        len: usize,
    }

    impl StrSet {
        /// The number of slots the old table had after `count` inserts.
        pub fn capacity_for(count: usize) -> usize {
            let mut slots = 0usize;
            for len in 0..count {
                if (len + 1) * 4 > slots * 3 {
                    slots = (slots * 2).max(8);
                }
            }
            slots.max(8)
        }

        /// Whether `key` is in the set.
        pub fn contains(&self, key: &str) -> bool {
            self.len != 0 && self.find(hash(key.as_bytes()), key).0.is_ok()
        }

        /// How many slots a lookup of `key` reads.
        pub fn probe_len(&self, key: &str) -> usize {
            self.find(hash(key.as_bytes()), key).1
        }

        /// Adds `key`.
        pub fn insert(&mut self, key: Box<str>) {
            if (self.len + 1) * 4 > self.slots.len() * 3 {
                self.grow();
            }
            let h = hash(key.as_bytes());
            if let (Err(empty), _) = self.find(h, &key) {
                self.slots[empty] = Some((h, key));
                self.len += 1;
            }
        }

        fn find(&self, hash: u64, key: &str) -> (Result<usize, usize>, usize) {
            let mask = self.slots.len().wrapping_sub(1);
            let mut i = slot(hash, mask);
            let mut probes = 1;
            loop {
                match self.slots.get(i) {
                    Some(Some((h, k))) if *h == hash && **k == *key => return (Ok(i), probes),
                    Some(Some(_)) => {}
                    Some(None) | None => return (Err(i), probes),
                }
                i = (i + 1) & mask;
                probes += 1;
            }
        }

        fn grow(&mut self) {
            let capacity = (self.slots.len() * 2).max(8);
            let old = std::mem::replace(&mut self.slots, (0..capacity).map(|_| None).collect());
            self.len = 0;
            for (_, key) in old.into_iter().flatten() {
                self.insert(key);
            }
        }
    }
}
