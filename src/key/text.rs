//! The strings of compiled allowlist entries, held inline when short.
//!
//! A typical key's entries are short (`app.example.com`, `alice.streets`):
//! holding each in its own heap allocation cost more than the text itself
//! (a 16-byte pointer, the allocator's header, and one more cache miss per
//! entry on every request). A [`TaggedStr`] keeps up to `N` bytes inside
//! the entry, beside a small tag that says what kind of entry it is; a
//! longer string is boxed as before.

use std::fmt;
use std::hash::{Hash, Hasher};

/// A string and a tag, inline up to `N` bytes (`N` < 256), boxed beyond.
///
/// Invariant: `bytes[..len]` of an inline string is a whole `&str`
/// copied, so it is always valid UTF-8; the bytes after it are zero.
#[derive(Clone)]
pub(crate) enum TaggedStr<T, const N: usize> {
    /// Up to `N` bytes, in place.
    Inline {
        /// What kind of entry this is.
        tag: T,
        /// How many of `bytes` are the string.
        len: u8,
        /// The string, then zeros.
        bytes: [u8; N],
    },
    /// A longer string.
    Heap {
        /// What kind of entry this is.
        tag: T,
        /// The string.
        text: Box<str>,
    },
}

impl<T: Copy, const N: usize> TaggedStr<T, N> {
    /// `text` with `tag`, inline if it fits.
    pub(crate) fn new(tag: T, text: &str) -> Self {
        let mut bytes = [0u8; N];
        match (bytes.get_mut(..text.len()), u8::try_from(text.len())) {
            (Some(slot), Ok(len)) => {
                slot.copy_from_slice(text.as_bytes());
                TaggedStr::Inline { tag, len, bytes }
            }
            _ => TaggedStr::Heap { tag, text: text.into() },
        }
    }

    /// The tag.
    #[inline]
    pub(crate) fn tag(&self) -> T {
        match self {
            TaggedStr::Inline { tag, .. } | TaggedStr::Heap { tag, .. } => *tag,
        }
    }

    /// The string's bytes: what matching compares (no UTF-8 check).
    #[inline]
    pub(crate) fn as_bytes(&self) -> &[u8] {
        match self {
            TaggedStr::Inline { len, bytes, .. } => bytes.get(..usize::from(*len)).unwrap_or_default(),
            TaggedStr::Heap { text, .. } => text.as_bytes(),
        }
    }

    /// The string. An inline one is checked as UTF-8 (it always is: see
    /// the invariant), so this is for display and building, not matching.
    pub(crate) fn as_str(&self) -> &str {
        match self {
            TaggedStr::Inline { .. } => std::str::from_utf8(self.as_bytes()).unwrap_or_default(),
            TaggedStr::Heap { text, .. } => text,
        }
    }
}

impl<T: Copy + PartialEq, const N: usize> PartialEq for TaggedStr<T, N> {
    /// Equal tags and equal strings, however each is held.
    fn eq(&self, other: &Self) -> bool {
        self.tag() == other.tag() && self.as_bytes() == other.as_bytes()
    }
}

impl<T: Copy + Eq, const N: usize> Eq for TaggedStr<T, N> {}

impl<T: Copy + Hash, const N: usize> Hash for TaggedStr<T, N> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.tag().hash(state);
        self.as_bytes().hash(state);
    }
}

impl<T: Copy + fmt::Debug, const N: usize> fmt::Debug for TaggedStr<T, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}({:?})", self.tag(), self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_strings_are_inline_and_equal_to_boxed_ones() {
        type S = TaggedStr<u8, 4>;
        for text in ["", "a", "abcd", "abcde", "é", "abé", "abcdé"] {
            let s = S::new(7, text);
            assert_eq!(s.as_str(), text);
            assert_eq!(s.as_bytes(), text.as_bytes());
            assert_eq!(s.tag(), 7);
            assert_eq!(matches!(s, TaggedStr::Inline { .. }), text.len() <= 4, "{text}");
            let boxed = S::Heap {
                tag: 7,
                text: text.into(),
            };
            assert_eq!(s, boxed);
            let hash = |s: &S| {
                let mut h = std::collections::hash_map::DefaultHasher::new();
                s.hash(&mut h);
                h.finish()
            };
            assert_eq!(hash(&s), hash(&boxed));
            assert_ne!(s, S::new(8, text));
        }
        assert_ne!(S::new(0, "ab"), S::new(0, "abc"));
        assert_eq!(format!("{:?}", S::new(1, "ab")), r#"1("ab")"#);
        assert!(std::mem::size_of::<TaggedStr<(), 22>>() <= 24);
    }
}
