//! Whether a host is a public suffix, by the Public Suffix List.
//!
//! An entry that covers every name under a public suffix — the key
//! wildcard `*.co.uk` or `*.github.io`, the token URL `com` — allows
//! strangers' sites, since anyone can register a name there. Both sections
//! of the list count: ICANN's (`com`, `co.uk`) and the private one, where
//! hosting platforms list the domains they give out to customers
//! (`github.io`, `vercel.app`, `s3.amazonaws.com`).
//!
//! The list is the snapshot compiled into the `psl` crate: its patch
//! version is the list's version, so which names count follows the
//! version in `Cargo.lock`.

use psl::Type;

/// The section of the Public Suffix List that names `host` a public
/// suffix, or `None` when it is not one. `host` is a normalized entry host
/// (lower-case IDNA ASCII, no trailing dot).
///
/// A name that no rule lists is not a public suffix here, even though the
/// list's implicit `*` rule treats any unknown top-level label as one: so
/// `localhost` and other single-label intranet names are not refused.
pub(crate) fn public_suffix_section(host: &str) -> Option<&'static str> {
    let suffix = psl::suffix(host.as_bytes())?;
    if suffix.as_bytes() != host.as_bytes() {
        return None;
    }
    match suffix.typ()? {
        Type::Icann => Some("ICANN"),
        Type::Private => Some("private"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffixes_from_both_sections() {
        for (host, section) in [
            ("com", "ICANN"),
            ("co.uk", "ICANN"),
            ("uk", "ICANN"),
            // A wildcard rule (`*.ck`) makes every `x.ck` a suffix.
            ("anything.ck", "ICANN"),
            // `公司.cn` in IDNA ASCII.
            ("xn--55qx5d.cn", "ICANN"),
            ("github.io", "private"),
            ("vercel.app", "private"),
            ("netlify.app", "private"),
            ("s3.amazonaws.com", "private"),
            ("blogspot.com", "private"),
            ("appspot.com", "private"),
        ] {
            assert_eq!(public_suffix_section(host), Some(section), "{host}");
        }
    }

    #[test]
    fn names_below_or_outside_the_list_are_not_suffixes() {
        for host in [
            "example.com",
            "example.co.uk",
            "alice.github.io",
            "a.b.vercel.app",
            // An exception rule (`!www.ck`) takes it out of `*.ck`.
            "www.ck",
            "localhost",
            "intranet",
            "foo.internal",
        ] {
            assert_eq!(public_suffix_section(host), None, "{host}");
        }
    }
}
