//! `allowed_tilesets`: `username.tilesetID` entries and `username.*`.

use std::fmt;
use std::str::FromStr;

use crate::hash::{CompiledList, HashSeed, StrSet};
use crate::key::text::TaggedStr;

/// What is wrong with an `allowed_tilesets` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TilesetError {
    /// Not `username.tilesetID`: no dot, more than one, or an empty part.
    #[error("expected 'username.tilesetID' or 'username.*'")]
    Shape,
    /// A character outside ASCII letters, digits, `-` and `_`.
    #[error("only ASCII letters, digits, '-' and '_' are allowed in the username and tileset ID")]
    BadCharacter,
}

/// One `allowed_tilesets` entry: a tileset (`alice.streets-v2`) or every
/// tileset of a user (`alice.*`). Matching is exact and case-sensitive.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct TilesetPattern {
    /// The entry as written, inline up to [`INLINE_PATTERN`] bytes. No
    /// tileset id contains `*`, so the entries ending in `.*` are exactly
    /// the whole-user ones.
    text: TaggedStr<(), INLINE_PATTERN>,
}

/// How many bytes of a pattern are held in place; a longer one is boxed.
const INLINE_PATTERN: usize = 22;

impl TilesetPattern {
    /// The entry as written.
    pub fn as_str(&self) -> &str {
        self.text.as_str()
    }

    /// The entry's bytes: what matching compares.
    #[inline]
    fn bytes(&self) -> &[u8] {
        self.text.as_bytes()
    }

    /// For `user.*`, the user whose every tileset it allows.
    fn whole_user(&self) -> Option<&[u8]> {
        self.bytes().strip_suffix(b".*")
    }
}

impl fmt::Debug for TilesetPattern {
    /// As when the text was a `Box<str>`: `TilesetPattern { text: "a.b" }`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TilesetPattern").field("text", &self.as_str()).finish()
    }
}

impl FromStr for TilesetPattern {
    type Err = TilesetError;

    fn from_str(s: &str) -> Result<Self, TilesetError> {
        let (user, id) = s.split_once('.').ok_or(TilesetError::Shape)?;
        let whole_user = id == "*";
        if !whole_user {
            check_tileset_id(s)?;
        } else {
            check_part(user)?;
        }
        Ok(TilesetPattern {
            text: TaggedStr::new((), s),
        })
    }
}

impl fmt::Display for TilesetPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Checks `username.tilesetID`; returns the username.
fn check_tileset_id(s: &str) -> Result<&str, TilesetError> {
    let (user, id) = s.split_once('.').ok_or(TilesetError::Shape)?;
    check_part(user)?;
    check_part(id)?;
    Ok(user)
}

fn check_part(part: &str) -> Result<(), TilesetError> {
    if part.is_empty() || part.contains('.') {
        return Err(TilesetError::Shape);
    }
    if !part
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(TilesetError::BadCharacter);
    }
    Ok(())
}

/// The compiled `allowed_tilesets` list: scanned while short, with seeded
/// hash sets beside it once longer than [`SMALL_LIST`] (as
/// `allowed_domains`).
#[derive(Debug, Clone, Default)]
pub(crate) struct TilesetAllowlist(CompiledList<TilesetPattern, TilesetIndex>);

/// The seeded hash sets of a long tileset list.
#[derive(Debug, Clone)]
struct TilesetIndex {
    exact: StrSet,
    users: StrSet,
}

impl TilesetIndex {
    /// Adds an entry; false when an equal one is already there.
    fn insert(&mut self, entry: &TilesetPattern) -> bool {
        let text = entry.as_str();
        match text.strip_suffix(".*") {
            Some(user) => self.users.insert(user.into()),
            None => self.exact.insert(text.into()),
        }
    }
}

impl TilesetAllowlist {
    /// Compiles `entries`; a long list's hash sets are keyed by `seed`.
    pub(crate) fn new(entries: impl IntoIterator<Item = TilesetPattern>, seed: &HashSeed) -> Self {
        let index = || TilesetIndex {
            exact: StrSet::new(seed.clone()),
            users: StrSet::new(seed.clone()),
        };
        TilesetAllowlist(CompiledList::new(entries, index, TilesetIndex::insert))
    }

    pub(crate) fn entries(&self) -> &[TilesetPattern] {
        self.0.entries()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.entries().is_empty()
    }

    /// The seed the sets are keyed by, for a long list.
    #[cfg(test)]
    pub(crate) fn seed(&self) -> Option<&HashSeed> {
        self.0.index().map(|index| index.exact.seed())
    }

    /// Whether `tileset` (one part, not composite) is an exact entry.
    fn has_exact(&self, tileset: &str) -> bool {
        match self.0.index() {
            Some(index) => index.exact.contains(tileset),
            None => self
                .entries()
                .iter()
                .any(|e| e.whole_user().is_none() && e.bytes() == tileset.as_bytes()),
        }
    }

    /// Whether some `user.*` entry names `user`.
    fn has_user(&self, user: &str) -> bool {
        match self.0.index() {
            Some(index) => !index.users.is_empty() && index.users.contains(user),
            None => self.entries().iter().any(|e| e.whole_user() == Some(user.as_bytes())),
        }
    }

    fn has_users(&self) -> bool {
        match self.0.index() {
            Some(index) => !index.users.is_empty(),
            None => self.entries().iter().any(|e| e.whole_user().is_some()),
        }
    }

    /// Whether every part of a (possibly composite, comma-separated)
    /// requested tileset is allowed. A malformed or empty part is not.
    pub(crate) fn allows(&self, requested: &str) -> bool {
        // The common request names one tileset the key lists: one lookup.
        // (Entries never contain a comma, so a hit is a single part.)
        if self.has_exact(requested) {
            return true;
        }
        let users = self.has_users();
        split_commas(requested).all(|part| {
            // Exact entries were validated when the policy was built, so a
            // hit is well-formed: only a miss needs the format check (for
            // the `user.*` entries, which need the username).
            self.has_exact(part) || (users && check_tileset_id(part).is_ok_and(|user| self.has_user(user)))
        })
    }
}

/// `s.split(',')`, searching by bytes: cheaper than the generic string
/// searcher on the short values seen here. Yields the same parts, empty
/// ones included.
fn split_commas(s: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(s);
    std::iter::from_fn(move || {
        let current = rest?;
        match current.bytes().position(|b| b == b',') {
            Some(comma) => {
                rest = current.get(comma + 1..);
                current.get(..comma)
            }
            None => {
                rest = None;
                Some(current)
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::SMALL_LIST;

    /// One allowlist compiled in both shapes: as given (a short list,
    /// scanned) and padded past [`SMALL_LIST`] with tilesets no test asks
    /// for (hashed). [`Lists::allows`] asks both, so every rule below holds
    /// for both shapes.
    struct Lists {
        scanned: TilesetAllowlist,
        hashed: TilesetAllowlist,
    }

    impl Lists {
        fn allows(&self, requested: &str) -> bool {
            let scanned = self.scanned.allows(requested);
            assert_eq!(
                scanned,
                self.hashed.allows(requested),
                "{requested:?}: the scanned and the hashed list disagree"
            );
            scanned
        }
    }

    fn list(entries: &[&str]) -> Lists {
        let parsed: Vec<TilesetPattern> = entries.iter().map(|e| e.parse().unwrap()).collect();
        let padding = (0..=SMALL_LIST).map(|i| format!("padding.t{i}").parse::<TilesetPattern>().unwrap());
        let seed = HashSeed::random();
        let scanned = TilesetAllowlist::new(parsed.clone(), &seed);
        let hashed = TilesetAllowlist::new(parsed.into_iter().chain(padding), &seed);
        assert!(scanned.seed().is_none() && hashed.seed().is_some(), "{entries:?}");
        Lists { scanned, hashed }
    }

    #[test]
    fn entry_format_is_validated() {
        assert!("alice.streets-v2".parse::<TilesetPattern>().is_ok());
        assert!("alice_1.x".parse::<TilesetPattern>().is_ok());
        assert!("alice.*".parse::<TilesetPattern>().is_ok());
        assert_eq!("streets".parse::<TilesetPattern>(), Err(TilesetError::Shape));
        assert_eq!("alice.".parse::<TilesetPattern>(), Err(TilesetError::Shape));
        assert_eq!(".streets".parse::<TilesetPattern>(), Err(TilesetError::Shape));
        assert_eq!("a.b.c".parse::<TilesetPattern>(), Err(TilesetError::Shape));
        assert_eq!("*.*".parse::<TilesetPattern>(), Err(TilesetError::BadCharacter));
        assert_eq!(
            "alice.str eets".parse::<TilesetPattern>(),
            Err(TilesetError::BadCharacter)
        );
        assert_eq!("alice.s*".parse::<TilesetPattern>(), Err(TilesetError::BadCharacter));
        assert_eq!("".parse::<TilesetPattern>(), Err(TilesetError::Shape));
    }

    #[test]
    fn matching_is_exact_case_sensitive_and_composite() {
        let l = list(&["alice.streets", "bob.*"]);
        assert!(l.allows("alice.streets"));
        assert!(l.allows("bob.terrain"));
        assert!(l.allows("alice.streets,bob.terrain"));
        assert!(!l.allows("alice.Streets"));
        assert!(!l.allows("Alice.streets"));
        assert!(!l.allows("alice.streets-v2"));
        assert!(!l.allows("alice.streets,carol.x"));
        assert!(!l.allows("alice.streets,"));
        assert!(!l.allows(",alice.streets"));
        assert!(!l.allows(""));
        assert!(!l.allows("bob.*"));
        assert!(!l.allows("alice.streets ,bob.x"));
        assert!(!l.allows("bob.a.b"));
    }

    #[test]
    fn duplicates_are_dropped_keeping_order() {
        let l = list(&["bob.*", "alice.streets", "bob.*", "alice.streets", "alice.*"]);
        let shown = |l: &TilesetAllowlist| l.entries().iter().map(ToString::to_string).collect::<Vec<_>>();
        assert_eq!(shown(&l.scanned), ["bob.*", "alice.streets", "alice.*"]);
        // A long list drops them through its hash sets.
        let hashed = shown(&l.hashed);
        assert_eq!(hashed.get(..3), Some(&shown(&l.scanned)[..]));
        assert_eq!(hashed.len(), 3 + SMALL_LIST + 1);
    }

    /// `as_str` is the pattern as written: what `Display` and JSON write,
    /// short (inline) or long (boxed).
    #[test]
    fn patterns_are_written_as_given() {
        for text in [
            "alice.streets",
            "alice.*",
            "carol_1.streets-v2",
            "a_long_user_name.a-long-tileset-id",
        ] {
            let pattern: TilesetPattern = text.parse().unwrap();
            assert_eq!(pattern.as_str(), text);
            assert_eq!(pattern.to_string(), text);
            assert_eq!(format!("{pattern:?}"), format!("TilesetPattern {{ text: {text:?} }}"));
        }
        assert_eq!(std::mem::size_of::<TilesetPattern>(), 24);
    }

    /// Long patterns (boxed) match as short ones (inline) do.
    #[test]
    fn long_patterns_match_as_short_ones() {
        let long = "a_user_name_of_twenty.*";
        let exact = "someone.a-tileset-id-of-thirty-chars";
        let l = list(&[long, exact]);
        assert!(l.allows("a_user_name_of_twenty.streets"));
        assert!(l.allows(exact));
        assert!(l.allows("a_user_name_of_twenty.x,someone.a-tileset-id-of-thirty-chars"));
        assert!(!l.allows("a_user_name_of_twenty"));
        assert!(!l.allows("someone.a-tileset-id-of-thirty-char"));
    }
}
