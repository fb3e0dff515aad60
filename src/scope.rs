//! Mappinest key scopes and the resources that need them.

use std::fmt;
use std::str::FromStr;

/// A Mappinest API-key scope.
///
/// Exhaustive on purpose: the seed defines exactly these four, and a
/// policy naming any other scope is rejected rather than ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// `tiles:read`: vector and raster tiles.
    TilesRead,
    /// `styles:read`: style documents.
    StylesRead,
    /// `static:read`: static map images.
    StaticRead,
    /// `export:read`: exports.
    ExportRead,
}

impl Scope {
    /// Every scope, in canonical order.
    pub const ALL: [Scope; 4] = [
        Scope::TilesRead,
        Scope::StylesRead,
        Scope::StaticRead,
        Scope::ExportRead,
    ];

    /// The scope's name as written in policies, e.g. `tiles:read`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Scope::TilesRead => "tiles:read",
            Scope::StylesRead => "styles:read",
            Scope::StaticRead => "static:read",
            Scope::ExportRead => "export:read",
        }
    }

    const fn bit(self) -> u8 {
        1 << self as u8
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that is not one of the four Mappinest scopes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scope {0:?}; expected one of tiles:read, styles:read, static:read, export:read")]
pub struct UnknownScope(pub String);

impl FromStr for Scope {
    type Err = UnknownScope;

    /// Exact, case-sensitive names only: `Tiles:Read` is not a scope.
    fn from_str(s: &str) -> Result<Self, UnknownScope> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == s)
            .ok_or_else(|| UnknownScope(s.to_owned()))
    }
}

/// A set of [`Scope`]s, stored as a bitset so that checks are one `and`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ScopeSet(u8);

impl ScopeSet {
    /// The empty set, which never blocks a request.
    pub const EMPTY: ScopeSet = ScopeSet(0);

    /// Adds a scope.
    #[must_use]
    pub const fn with(self, scope: Scope) -> ScopeSet {
        ScopeSet(self.0 | scope.bit())
    }

    /// Whether `scope` is in the set.
    pub const fn contains(self, scope: Scope) -> bool {
        self.0 & scope.bit() != 0
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The scopes in canonical order.
    pub fn iter(self) -> impl Iterator<Item = Scope> {
        Scope::ALL.into_iter().filter(move |s| self.contains(*s))
    }
}

impl FromIterator<Scope> for ScopeSet {
    fn from_iter<I: IntoIterator<Item = Scope>>(iter: I) -> Self {
        iter.into_iter().fold(ScopeSet::EMPTY, ScopeSet::with)
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
    pub const fn required_scope(self) -> Scope {
        match self {
            Resource::Tiles => Scope::TilesRead,
            Resource::Styles => Scope::StylesRead,
            Resource::Static => Scope::StaticRead,
            Resource::Export => Scope::ExportRead,
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
        for scope in Scope::ALL {
            assert_eq!(scope.as_str().parse::<Scope>(), Ok(scope));
        }
        assert!("Tiles:Read".parse::<Scope>().is_err());
        assert!("tiles:write".parse::<Scope>().is_err());
        assert!("styles:tiles".parse::<Scope>().is_err());
    }

    #[test]
    fn scope_set_is_a_set() {
        let set: ScopeSet = [Scope::TilesRead, Scope::ExportRead, Scope::TilesRead]
            .into_iter()
            .collect();
        assert!(set.contains(Scope::TilesRead) && set.contains(Scope::ExportRead));
        assert!(!set.contains(Scope::StylesRead));
        assert_eq!(set.iter().collect::<Vec<_>>(), [Scope::TilesRead, Scope::ExportRead]);
        assert!(ScopeSet::EMPTY.is_empty());
    }

    #[test]
    fn resources_need_their_scope() {
        assert_eq!(Resource::Tiles.required_scope(), Scope::TilesRead);
        assert_eq!(Resource::Styles.required_scope(), Scope::StylesRead);
        assert_eq!(Resource::Static.required_scope(), Scope::StaticRead);
        assert_eq!(Resource::Export.required_scope(), Scope::ExportRead);
        assert_eq!("static".parse::<Resource>(), Ok(Resource::Static));
        assert!("Tiles".parse::<Resource>().is_err());
    }
}
