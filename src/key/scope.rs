//! Mappinest key scopes and the resources that need them.

use std::fmt;
use std::str::FromStr;

/// A Mappinest API-key scope.
///
/// Exhaustive on purpose: the seed defines exactly these four, and a
/// policy naming any other scope is rejected rather than ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyScope {
    /// `tiles:read`: vector and raster tiles.
    TilesRead,
    /// `styles:read`: style documents.
    StylesRead,
    /// `static:read`: static map images.
    StaticRead,
    /// `export:read`: exports.
    ExportRead,
}

impl KeyScope {
    /// Every scope, in canonical order.
    pub const ALL: [KeyScope; 4] = [
        KeyScope::TilesRead,
        KeyScope::StylesRead,
        KeyScope::StaticRead,
        KeyScope::ExportRead,
    ];

    /// The scope's name as written in policies, e.g. `tiles:read`.
    pub const fn as_str(self) -> &'static str {
        match self {
            KeyScope::TilesRead => "tiles:read",
            KeyScope::StylesRead => "styles:read",
            KeyScope::StaticRead => "static:read",
            KeyScope::ExportRead => "export:read",
        }
    }

    const fn bit(self) -> u8 {
        1 << self as u8
    }
}

impl fmt::Display for KeyScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that is not one of the four Mappinest scopes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scope {0:?}; expected one of tiles:read, styles:read, static:read, export:read")]
pub struct UnknownKeyScope(pub String);

impl FromStr for KeyScope {
    type Err = UnknownKeyScope;

    /// Exact, case-sensitive names only: `Tiles:Read` is not a scope.
    fn from_str(s: &str) -> Result<Self, UnknownKeyScope> {
        KeyScope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == s)
            .ok_or_else(|| UnknownKeyScope(s.to_owned()))
    }
}

/// A set of [`KeyScope`]s, stored as a bitset so that checks are one `and`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct KeyScopeSet(u8);

impl KeyScopeSet {
    /// The empty set, which never blocks a request.
    pub const EMPTY: KeyScopeSet = KeyScopeSet(0);

    /// Adds a scope.
    #[must_use]
    pub const fn with(self, scope: KeyScope) -> KeyScopeSet {
        KeyScopeSet(self.0 | scope.bit())
    }

    /// Whether `scope` is in the set.
    pub const fn contains(self, scope: KeyScope) -> bool {
        self.0 & scope.bit() != 0
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The scopes in canonical order.
    pub fn iter(self) -> impl Iterator<Item = KeyScope> {
        KeyScope::ALL.into_iter().filter(move |s| self.contains(*s))
    }
}

impl FromIterator<KeyScope> for KeyScopeSet {
    fn from_iter<I: IntoIterator<Item = KeyScope>>(iter: I) -> Self {
        iter.into_iter().fold(KeyScopeSet::EMPTY, KeyScopeSet::with)
    }
}

/// What a request asks for; each resource needs one scope.
///
/// Exhaustive on purpose: matching on it must consider every resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum Resource {
    /// Map tiles (the default); needs `tiles:read`.
    #[default]
    Tiles,
    /// Style documents; needs `styles:read`.
    Styles,
    /// Static images; needs `static:read`.
    Static,
    /// Exports; needs `export:read`.
    Export,
}

impl Resource {
    /// The scope a key needs for this resource (when it has scopes at all).
    pub const fn required_scope(self) -> KeyScope {
        match self {
            Resource::Tiles => KeyScope::TilesRead,
            Resource::Styles => KeyScope::StylesRead,
            Resource::Static => KeyScope::StaticRead,
            Resource::Export => KeyScope::ExportRead,
        }
    }

    /// The resource's name as written in requests, e.g. `tiles`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Resource::Tiles => "tiles",
            Resource::Styles => "styles",
            Resource::Static => "static",
            Resource::Export => "export",
        }
    }
}

/// A string that is not one of the four resources.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown resource {0:?}; expected one of tiles, styles, static, export")]
pub struct UnknownResource(pub String);

impl FromStr for Resource {
    type Err = UnknownResource;

    fn from_str(s: &str) -> Result<Self, UnknownResource> {
        [Resource::Tiles, Resource::Styles, Resource::Static, Resource::Export]
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownResource(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_names_round_trip_and_are_case_sensitive() {
        for scope in KeyScope::ALL {
            assert_eq!(scope.as_str().parse::<KeyScope>(), Ok(scope));
        }
        assert!("Tiles:Read".parse::<KeyScope>().is_err());
        assert!("tiles:write".parse::<KeyScope>().is_err());
        assert!("styles:tiles".parse::<KeyScope>().is_err());
    }

    #[test]
    fn scope_set_is_a_set() {
        let set: KeyScopeSet = [KeyScope::TilesRead, KeyScope::ExportRead, KeyScope::TilesRead]
            .into_iter()
            .collect();
        assert!(set.contains(KeyScope::TilesRead) && set.contains(KeyScope::ExportRead));
        assert!(!set.contains(KeyScope::StylesRead));
        assert_eq!(
            set.iter().collect::<Vec<_>>(),
            [KeyScope::TilesRead, KeyScope::ExportRead]
        );
        assert!(KeyScopeSet::EMPTY.is_empty());
    }

    #[test]
    fn resources_need_their_scope() {
        assert_eq!(Resource::Tiles.required_scope(), KeyScope::TilesRead);
        assert_eq!(Resource::Styles.required_scope(), KeyScope::StylesRead);
        assert_eq!(Resource::Static.required_scope(), KeyScope::StaticRead);
        assert_eq!(Resource::Export.required_scope(), KeyScope::ExportRead);
        assert_eq!("static".parse::<Resource>(), Ok(Resource::Static));
        assert!("Tiles".parse::<Resource>().is_err());
    }
}
