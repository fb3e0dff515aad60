//! Bounded top-N tables of who a policy change newly refuses or allows.

use std::collections::HashMap;

use super::report::TopTables;

/// A bounded table of the most frequent keys (the Space-Saving
/// algorithm): at most `capacity` keys are kept; when a new key arrives at
/// a full table, the least counted key is replaced and the newcomer
/// inherits its count as a possible overcount. Counts are exact as long as
/// nothing was evicted ([`Top::exact`]).
#[derive(Debug, Clone)]
pub struct Top {
    capacity: usize,
    counts: HashMap<Box<str>, (u64, u64)>,
    evicted: bool,
}

/// Longest key kept in a [`Top`] table, in bytes; longer keys are cut
/// (at a character boundary) so memory stays bounded.
const MAX_KEY_LEN: usize = 256;

impl Top {
    /// An empty table keeping at most `capacity` keys (at least one).
    pub fn new(capacity: usize) -> Self {
        Top {
            capacity: capacity.max(1),
            counts: HashMap::new(),
            evicted: false,
        }
    }

    /// Counts `n` more for `key`.
    pub fn add(&mut self, key: &str, n: u64) {
        let mut cut = key.len().min(MAX_KEY_LEN);
        while !key.is_char_boundary(cut) {
            cut -= 1;
        }
        let key = key.get(..cut).unwrap_or_default();
        if let Some((count, _)) = self.counts.get_mut(key) {
            *count += n;
            return;
        }
        let mut inherited = 0;
        if self.counts.len() >= self.capacity {
            let least = self
                .counts
                .iter()
                .min_by(|a, b| a.1 .0.cmp(&b.1 .0).then_with(|| b.0.cmp(a.0)))
                .map(|(k, (c, _))| (k.clone(), *c));
            if let Some((least_key, least_count)) = least {
                self.counts.remove(&least_key);
                inherited = least_count;
                self.evicted = true;
            }
        }
        self.counts.insert(key.into(), (inherited + n, inherited));
    }

    /// Whether every count is exact (no key was ever evicted).
    pub fn exact(&self) -> bool {
        !self.evicted
    }

    /// The `n` most counted keys, most first (ties by key), with their
    /// counts and the most each count may be over (0 while exact).
    pub fn top(&self, n: usize) -> Vec<TopEntry> {
        let mut all: Vec<TopEntry> = self
            .counts
            .iter()
            .map(|(key, &(count, overcount))| TopEntry {
                key: key.to_string(),
                count,
                overcount,
            })
            .collect();
        all.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key.cmp(&b.key)));
        all.truncate(n);
        all
    }
}

/// One row of a top-N table.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct TopEntry {
    /// The origin, referer (without query) or tileset; `(none)` for an
    /// absent header.
    pub key: String,
    /// Requests counted.
    pub count: u64,
    /// The most `count` may exceed the true count (0 unless the table
    /// overflowed).
    pub overcount: u64,
}

/// The three tables for one direction of change.
#[derive(Debug, Clone)]
pub(super) struct Tables {
    origins: Top,
    referers: Top,
    tilesets: Top,
}

impl Tables {
    pub(super) fn new(capacity: usize) -> Self {
        Tables {
            origins: Top::new(capacity),
            referers: Top::new(capacity),
            tilesets: Top::new(capacity),
        }
    }

    pub(super) fn add(&mut self, origin: Option<&str>, referer: Option<&str>, tileset: Option<&str>, n: u64) {
        self.origins.add(origin.filter(|o| !o.is_empty()).unwrap_or(NONE), n);
        // A referer's query may carry credentials or personal data, and it
        // would split one page into many rows: keep the URL up to its path.
        let referer = referer
            .filter(|r| !r.is_empty())
            .map(|r| r.split(['?', '#']).next().unwrap_or(r));
        self.referers.add(referer.unwrap_or(NONE), n);
        if let Some(tileset) = tileset {
            for one in tileset.split(',') {
                self.tilesets.add(one, n);
            }
        }
    }

    pub(super) fn report(&self, n: usize) -> TopTables {
        TopTables {
            origins: self.origins.top(n),
            referers: self.referers.top(n),
            tilesets: self.tilesets.top(n),
            exact: self.origins.exact() && self.referers.exact() && self.tilesets.exact(),
        }
    }
}

/// The key of an absent header in the top tables.
const NONE: &str = "(none)";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_tables_stay_bounded_and_flag_overcounts() {
        let mut top = Top::new(2);
        top.add("a", 5);
        top.add("b", 1);
        assert!(top.exact());
        top.add("c", 1);
        assert!(!top.exact());
        let rows = top.top(5);
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[0].key.as_str(), rows[0].count), ("a", 5));
        assert_eq!((rows[1].key.as_str(), rows[1].count, rows[1].overcount), ("c", 2, 1));
        let long = "x".repeat(1000);
        let mut top = Top::new(4);
        top.add(&long, 1);
        assert_eq!(top.top(1)[0].key.len(), MAX_KEY_LEN);
    }
}
