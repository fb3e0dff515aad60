//! Mappinest key scopes and the resources that need them.

use std::str::FromStr;

use crate::named::{named_enum, scope_set};

named_enum! {
    /// A Mappinest API-key scope.
    ///
    /// Exhaustive on purpose: the seed defines exactly these four, and a
    /// policy naming any other scope is rejected rather than ignored.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
    pub enum KeyScope {
        /// `tiles:read`: vector and raster tiles.
        TilesRead => "tiles:read",
        /// `styles:read`: style documents.
        StylesRead => "styles:read",
        /// `static:read`: static map images.
        StaticRead => "static:read",
        /// `export:read`: exports.
        ExportRead => "export:read",
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
        KeyScope::from_name(s).ok_or_else(|| UnknownKeyScope(s.to_owned()))
    }
}

scope_set! {
    /// A set of [`KeyScope`]s, stored as a bitset so that checks are one
    /// `and`. The empty set never blocks a request.
    pub struct KeyScopeSet(u8) of KeyScope;
}

named_enum! {
    /// What a request asks for; each resource needs one scope.
    ///
    /// Exhaustive on purpose: matching on it must consider every resource.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    #[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
    #[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
    pub enum Resource {
        /// Map tiles (the default); needs `tiles:read`.
        #[default]
        Tiles => "tiles",
        /// Style documents; needs `styles:read`.
        Styles => "styles",
        /// Static images; needs `static:read`.
        Static => "static",
        /// Exports; needs `export:read`.
        Export => "export",
    }
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
}

/// A string that is not one of the four resources.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown resource {0:?}; expected one of tiles, styles, static, export")]
pub struct UnknownResource(pub String);

impl FromStr for Resource {
    type Err = UnknownResource;

    fn from_str(s: &str) -> Result<Self, UnknownResource> {
        Resource::from_name(s).ok_or_else(|| UnknownResource(s.to_owned()))
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
