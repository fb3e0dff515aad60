//! Seeded hash sets and maps for the allowlists.
//!
//! The tables hold entries that a policy's author chose, and on a
//! multi-tenant platform that author may be hostile: with an unseeded hash,
//! entries can be picked so that they all collide, and every lookup (and
//! the build) then degrades from a few nanoseconds to a scan of the whole
//! list. So every table is keyed with its policy's [`HashSeed`], drawn at
//! random when the policy is built and stored in it: an entry author cannot
//! aim at a hash they cannot compute, while evaluating a given policy stays
//! pure and deterministic (no global state is read after the build).
//!
//! The tables are `hashbrown`'s [`HashTable`] (the SwissTable behind std's
//! `HashMap`), which takes each hash from the caller, so the hasher can
//! borrow the seed stored beside the table; the hash function is
//! `foldhash`'s fast variant, keyed by both of its seeds.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use foldhash::fast::FoldHasher;
use foldhash::SharedSeed;
use hashbrown::hash_table::Entry;
use hashbrown::HashTable;

/// How many entries an allowlist matches by scanning before it builds
/// hash sets. At this size a scan is as fast as a seeded hash lookup,
/// and a short list's sets would cost more memory than its entries.
pub(crate) const SMALL_LIST: usize = 8;

/// An allowlist's entries in the order given, duplicates removed, and —
/// for a list longer than [`SMALL_LIST`] — the index built beside them.
/// A short list is matched by scanning its entries; a long one through
/// its index. Shared by a key's domains and tilesets.
///
/// 16 bytes: a short list (nearly every key's) is one boxed slice, and a
/// long one a pointer to its entries and index, so a policy spends no
/// word on the index it does not have.
#[derive(Debug, Clone)]
pub(crate) enum CompiledList<E, I> {
    /// At most [`SMALL_LIST`] entries, scanned.
    Short(Box<[E]>),
    /// More, with their index.
    Long(Box<LongList<E, I>>),
}

/// A long list's entries and index.
#[derive(Debug, Clone)]
pub(crate) struct LongList<E, I> {
    entries: Box<[E]>,
    index: I,
}

impl<E, I> Default for CompiledList<E, I> {
    fn default() -> Self {
        CompiledList::Short(Box::new([]))
    }
}

impl<E: PartialEq, I> CompiledList<E, I> {
    /// Compiles `entries`. A short list's duplicates are found by scanning
    /// it; a long one's by `insert` into the index `make_index` returns
    /// (false: already there), in O(1) each — and if enough were
    /// duplicates, the rest is short after all and needs no index.
    pub(crate) fn new(
        entries: impl IntoIterator<Item = E>,
        make_index: impl FnOnce() -> I,
        mut insert: impl FnMut(&mut I, &E) -> bool,
    ) -> Self {
        let entries: Vec<E> = entries.into_iter().collect();
        if entries.len() <= SMALL_LIST {
            let mut kept: Vec<E> = Vec::with_capacity(entries.len());
            for entry in entries {
                if !kept.contains(&entry) {
                    kept.push(entry);
                }
            }
            return CompiledList::Short(kept.into_boxed_slice());
        }
        let mut index = make_index();
        let kept: Vec<E> = entries.into_iter().filter(|entry| insert(&mut index, entry)).collect();
        if kept.len() > SMALL_LIST {
            CompiledList::Long(Box::new(LongList {
                entries: kept.into_boxed_slice(),
                index,
            }))
        } else {
            CompiledList::Short(kept.into_boxed_slice())
        }
    }

    /// The entries, in the order given.
    #[inline]
    pub(crate) fn entries(&self) -> &[E] {
        match self {
            CompiledList::Short(entries) => entries,
            CompiledList::Long(long) => &long.entries,
        }
    }

    /// The index of a long list; `None` for a short one.
    #[inline]
    pub(crate) fn index(&self) -> Option<&I> {
        match self {
            CompiledList::Short(_) => None,
            CompiledList::Long(long) => Some(&long.index),
        }
    }
}

/// The secret key of one policy's hash tables.
///
/// Where it comes from: [`HashSeed::random`] hashes a process-wide counter
/// with SipHash-1-3 under std's [`RandomState`], whose keys are read from
/// the operating system's random source once per thread and differ for
/// every instance. Both of foldhash's seeds — the per-hasher one and the
/// shared one that is XORed into its inputs — come from it: foldhash's own
/// fixed shared seed is public, and inputs chosen against it would collide
/// whatever the per-hasher seed.
///
/// `Debug` does not show it, so that logging a policy does not leak it.
#[derive(Clone)]
pub(crate) struct HashSeed {
    shared: SharedSeed,
    per_hasher: u64,
}

impl HashSeed {
    /// A fresh, unpredictable seed.
    pub(crate) fn random() -> Self {
        // The counter makes two seeds drawn in one process differ even if
        // `RandomState` ever repeated its keys.
        static DRAWN: AtomicU64 = AtomicU64::new(0);
        let n = DRAWN.fetch_add(1, Ordering::Relaxed);
        let state = RandomState::new();
        let draw = |purpose: u64| {
            let mut h = state.build_hasher();
            h.write_u64(n);
            h.write_u64(purpose);
            h.finish()
        };
        HashSeed {
            shared: SharedSeed::from_u64(draw(0)),
            per_hasher: draw(1),
        }
    }

    /// The hash of `bytes` under this seed.
    #[inline]
    pub(crate) fn hash_bytes(&self, bytes: &[u8]) -> u64 {
        let mut hasher = FoldHasher::with_seed(self.per_hasher, &self.shared);
        hasher.write(bytes);
        hasher.finish()
    }
}

impl fmt::Debug for HashSeed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HashSeed(..)")
    }
}

/// A key that [`SeededSet`] and [`SeededMap`] can hash with a [`HashSeed`].
///
/// An owned key and the borrowed form it is looked up by (`Box<str>` and
/// `str`) must hash alike.
pub(crate) trait SeededKey {
    /// The key's hash under `seed`.
    fn seeded_hash(&self, seed: &HashSeed) -> u64;
}

impl SeededKey for str {
    #[inline]
    fn seeded_hash(&self, seed: &HashSeed) -> u64 {
        // The bytes alone: foldhash already mixes in the length.
        seed.hash_bytes(self.as_bytes())
    }
}

impl SeededKey for Box<str> {
    #[inline]
    fn seeded_hash(&self, seed: &HashSeed) -> u64 {
        str::seeded_hash(self, seed)
    }
}

impl SeededKey for IpAddr {
    #[inline]
    fn seeded_hash(&self, seed: &HashSeed) -> u64 {
        // A v4 and a v6 address with colliding bytes are still unequal;
        // the table compares keys after the hash.
        match self {
            IpAddr::V4(ip) => seed.hash_bytes(&ip.octets()),
            IpAddr::V6(ip) => seed.hash_bytes(&ip.octets()),
        }
    }
}

/// A set built once and probed on every request, keyed by a [`HashSeed`].
#[derive(Clone)]
pub(crate) struct SeededSet<K> {
    seed: HashSeed,
    table: HashTable<K>,
}

/// A set of strings.
pub(crate) type StrSet = SeededSet<Box<str>>;

/// A set of IP addresses.
pub(crate) type IpSet = SeededSet<IpAddr>;

impl<K: SeededKey + Eq> SeededSet<K> {
    /// An empty set keyed by `seed`.
    pub(crate) fn new(seed: HashSeed) -> Self {
        SeededSet {
            seed,
            table: HashTable::new(),
        }
    }

    /// Whether the set is empty.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// How many keys the set holds.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether `key` is in the set. An empty set hashes nothing.
    #[inline]
    pub(crate) fn contains<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: SeededKey + Eq + ?Sized,
    {
        !self.table.is_empty()
            && self
                .table
                .find(key.seeded_hash(&self.seed), |k| k.borrow() == key)
                .is_some()
    }

    /// Adds `key`; returns whether it was not there yet.
    pub(crate) fn insert(&mut self, key: K) -> bool {
        let seed = &self.seed;
        match self
            .table
            .entry(key.seeded_hash(seed), |k| *k == key, |k| k.seeded_hash(seed))
        {
            Entry::Occupied(_) => false,
            Entry::Vacant(slot) => {
                slot.insert(key);
                true
            }
        }
    }

    /// The seed the set is keyed by.
    #[cfg(test)]
    pub(crate) fn seed(&self) -> &HashSeed {
        &self.seed
    }
}

impl<K> fmt::Debug for SeededSet<K> {
    /// The size only: the keys are shown by the allowlist that owns the
    /// set, in the order given, and the seed is not shown at all.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SeededSet").field("len", &self.table.len()).finish()
    }
}

/// A map built once and probed on every request, keyed by a [`HashSeed`].
#[derive(Clone)]
pub(crate) struct SeededMap<K, V> {
    seed: HashSeed,
    table: HashTable<(K, V)>,
}

impl<K: SeededKey + Eq, V> SeededMap<K, V> {
    /// An empty map keyed by `seed`.
    pub(crate) fn new(seed: HashSeed) -> Self {
        SeededMap {
            seed,
            table: HashTable::new(),
        }
    }

    /// The value for `key`, if any. An empty map hashes nothing.
    #[inline]
    pub(crate) fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: SeededKey + Eq + ?Sized,
    {
        if self.table.is_empty() {
            return None;
        }
        self.table
            .find(key.seeded_hash(&self.seed), |(k, _)| k.borrow() == key)
            .map(|(_, v)| v)
    }

    /// The value for `key`, inserted with `make` if absent.
    pub(crate) fn get_or_insert_with(&mut self, key: K, make: impl FnOnce() -> V) -> &mut V {
        let seed = &self.seed;
        let entry = self
            .table
            .entry(key.seeded_hash(seed), |(k, _)| *k == key, |(k, _)| k.seeded_hash(seed));
        let (_, value) = match entry {
            Entry::Occupied(slot) => slot.into_mut(),
            Entry::Vacant(slot) => slot.insert((key, make())).into_mut(),
        };
        value
    }

    /// The seed the map is keyed by.
    #[cfg(test)]
    pub(crate) fn seed(&self) -> &HashSeed {
        &self.seed
    }
}

impl<K, V> fmt::Debug for SeededMap<K, V> {
    /// The size only, as for [`SeededSet`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SeededMap").field("len", &self.table.len()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn str_set_is_a_set() {
        let mut set = StrSet::new(HashSeed::random());
        assert!(set.is_empty() && !set.contains("") && !set.contains("a"));
        for i in 0..1000 {
            assert!(set.insert(format!("host-{i}.example.com").into()));
        }
        assert!(!set.insert("host-7.example.com".into()), "a duplicate is not fresh");
        assert!(set.insert("".into()));
        for i in 0..1000 {
            assert!(set.contains(format!("host-{i}.example.com").as_str()), "{i}");
        }
        assert!(set.contains(""));
        assert!(!set.contains("host-1000.example.com"));
        assert!(!set.contains("host-1.example.co"));
        assert_eq!(set.len(), 1001);
    }

    #[test]
    fn ip_set_compares_by_value() {
        let mut set = IpSet::new(HashSeed::random());
        assert!(set.insert("127.0.0.1".parse().unwrap()));
        assert!(set.insert("::1".parse().unwrap()));
        assert!(!set.insert("127.0.0.1".parse().unwrap()));
        assert!(set.contains(&"127.0.0.1".parse::<IpAddr>().unwrap()));
        assert!(set.contains(&"0:0:0:0:0:0:0:1".parse::<IpAddr>().unwrap()));
        assert!(!set.contains(&"::ffff:127.0.0.1".parse::<IpAddr>().unwrap()));
        assert!(!set.contains(&"127.0.0.2".parse::<IpAddr>().unwrap()));
    }

    #[test]
    fn map_groups_values_by_key() {
        let mut map: SeededMap<Box<str>, Vec<usize>> = SeededMap::new(HashSeed::random());
        assert_eq!(map.get("a"), None);
        map.get_or_insert_with("a".into(), Vec::new).push(1);
        map.get_or_insert_with("b".into(), Vec::new).push(2);
        map.get_or_insert_with("a".into(), Vec::new).push(3);
        assert_eq!(map.get("a"), Some(&vec![1, 3]));
        assert_eq!(map.get("b"), Some(&vec![2]));
        assert_eq!(map.get("c"), None);
    }

    #[test]
    fn seeds_differ_and_hashes_depend_on_them() {
        let seeds: Vec<HashSeed> = (0..64).map(|_| HashSeed::random()).collect();
        let hashes: std::collections::HashSet<u64> = seeds.iter().map(|s| s.hash_bytes(b"example.com")).collect();
        assert_eq!(hashes.len(), seeds.len(), "64 seeds must give 64 different hashes");
        // The per-hasher seed alone does not decide: the shared seed is
        // drawn too (foldhash's fixed shared seed is public).
        let a = HashSeed::random();
        let b = HashSeed::random();
        assert_ne!(a.per_hasher, b.per_hasher);
        let mixed = HashSeed {
            shared: b.shared.clone(),
            per_hasher: a.per_hasher,
        };
        assert_ne!(a.hash_bytes(b"example.com"), mixed.hash_bytes(b"example.com"));
        // Deterministic under one seed, and a clone keeps it.
        assert_eq!(a.hash_bytes(b"example.com"), a.clone().hash_bytes(b"example.com"));
    }

    #[test]
    fn debug_hides_the_seed() {
        let mut set = StrSet::new(HashSeed::random());
        set.insert("example.com".into());
        assert_eq!(format!("{set:?}"), "SeededSet { len: 1 }");
        assert_eq!(format!("{:?}", HashSeed::random()), "HashSeed(..)");
    }
}
