//! The access-token scope catalogue: five public and twenty-one secret
//! scopes, and a `u32` bitset of them.

use std::str::FromStr;

use crate::named::{named_enum, scope_set};

named_enum! {
    /// A scope of the access-token catalogue, e.g. `styles:read`.
    ///
    /// Public scopes may be put on any token; secret scopes only on `sk`
    /// and `tk` tokens ([`TokenScope::is_secret`]). The public ones come
    /// first, then the secret ones, in the order the catalogue lists them.
    ///
    /// `#[non_exhaustive]`: the catalogue grows as the platform adds
    /// APIs, so match with a wildcard arm.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
    #[non_exhaustive]
    pub enum TokenScope {
        /// `styles:tiles`: style PNG tiles and static images.
        StylesTiles => "styles:tiles",
        /// `styles:read`: read styles.
        StylesRead => "styles:read",
        /// `fonts:read`: read fonts and glyphs.
        FontsRead => "fonts:read",
        /// `datasets:read`: read datasets.
        DatasetsRead => "datasets:read",
        /// `vision:read`: Vision SDK services.
        VisionRead => "vision:read",
        /// `scopes:list`: list available scopes.
        ScopesList => "scopes:list",
        /// `map:read`: read tilesets, tilestats and legacy projects.
        MapRead => "map:read",
        /// `map:write`: create and update tilesets and tilestats.
        MapWrite => "map:write",
        /// `user:read`: read account profile information.
        UserRead => "user:read",
        /// `user:write`: write account profile information.
        UserWrite => "user:write",
        /// `uploads:read`: read data uploads.
        UploadsRead => "uploads:read",
        /// `uploads:list`: list tileset uploads.
        UploadsList => "uploads:list",
        /// `uploads:write`: create tileset uploads.
        UploadsWrite => "uploads:write",
        /// `styles:write`: create and update styles.
        StylesWrite => "styles:write",
        /// `styles:list`: list styles.
        StylesList => "styles:list",
        /// `styles:protect`: protect write access to styles.
        StylesProtect => "styles:protect",
        /// `tokens:read`: read tokens.
        TokensRead => "tokens:read",
        /// `tokens:write`: create, update and delete tokens.
        TokensWrite => "tokens:write",
        /// `datasets:list`: list datasets.
        DatasetsList => "datasets:list",
        /// `datasets:write`: create and update datasets.
        DatasetsWrite => "datasets:write",
        /// `tilesets:list`: list tilesets and tileset sources.
        TilesetsList => "tilesets:list",
        /// `tilesets:read`: read tilesets and tileset sources.
        TilesetsRead => "tilesets:read",
        /// `tilesets:write`: create, update, publish and delete tilesets.
        TilesetsWrite => "tilesets:write",
        /// `downloads:read`: download the SDKs.
        DownloadsRead => "downloads:read",
        /// `vision:download`: download the Vision SDK.
        VisionDownload => "vision:download",
        /// `atlas:read`: read Atlas data and software.
        AtlasRead => "atlas:read",
    }
}

impl TokenScope {
    /// Whether this is a secret scope, which a `pk` token cannot hold.
    pub const fn is_secret(self) -> bool {
        !TokenScopeSet::PUBLIC.contains(self)
    }

    /// Whether this is a public scope.
    pub const fn is_public(self) -> bool {
        !self.is_secret()
    }
}

/// A string that is not a scope of the token catalogue.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown token scope {0:?}; expected a scope of the catalogue, e.g. styles:read")]
pub struct UnknownTokenScope(pub String);

impl FromStr for TokenScope {
    type Err = UnknownTokenScope;

    /// Exact, case-sensitive names only: `Styles:Read` is not a scope.
    fn from_str(s: &str) -> Result<Self, UnknownTokenScope> {
        TokenScope::from_name(s).ok_or_else(|| UnknownTokenScope(s.to_owned()))
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for TokenScope {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for TokenScope {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

scope_set! {
    /// A set of [`TokenScope`]s stored as a `u32` bitset: membership is one
    /// `and`, and the set is `Copy`.
    pub struct TokenScopeSet(u32) of TokenScope;
}

impl TokenScopeSet {
    /// Every public scope: what a default public token holds. The
    /// catalogue's one list of public scopes; every other scope is secret.
    pub const PUBLIC: TokenScopeSet = TokenScopeSet::EMPTY
        .with(TokenScope::StylesTiles)
        .with(TokenScope::StylesRead)
        .with(TokenScope::FontsRead)
        .with(TokenScope::DatasetsRead)
        .with(TokenScope::VisionRead);

    /// Whether some scope of the set is secret.
    pub const fn has_secret(self) -> bool {
        !TokenScopeSet::PUBLIC.is_superset(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_has_five_public_and_twenty_one_secret_scopes() {
        assert_eq!(TokenScope::ALL.len(), 26);
        let public: Vec<&str> = TokenScope::ALL
            .iter()
            .filter(|s| s.is_public())
            .map(|s| s.as_str())
            .collect();
        assert_eq!(
            public,
            [
                "styles:tiles",
                "styles:read",
                "fonts:read",
                "datasets:read",
                "vision:read"
            ]
        );
        let secret = TokenScope::ALL.iter().filter(|s| s.is_secret()).count();
        assert_eq!(secret, 21);
        assert_eq!(TokenScopeSet::PUBLIC.len(), 5);
        assert!(!TokenScopeSet::PUBLIC.has_secret());
    }

    #[test]
    fn names_round_trip_exactly() {
        for scope in TokenScope::ALL {
            assert_eq!(scope.as_str().parse::<TokenScope>(), Ok(scope));
            assert_eq!(scope.to_string(), scope.as_str());
        }
        assert_eq!(
            "Styles:Read".parse::<TokenScope>(),
            Err(UnknownTokenScope("Styles:Read".into()))
        );
        assert!("tiles:read".parse::<TokenScope>().is_err());
        assert!(" styles:read".parse::<TokenScope>().is_err());
        assert!("".parse::<TokenScope>().is_err());
    }

    #[test]
    fn bitset_holds_every_scope_independently() {
        for scope in TokenScope::ALL {
            let set = TokenScopeSet::EMPTY.with(scope);
            assert_eq!(set.iter().collect::<Vec<_>>(), [scope]);
            assert_eq!(set.has_secret(), scope.is_secret());
            for other in TokenScope::ALL {
                assert_eq!(set.contains(other), other == scope);
            }
        }
        let all: TokenScopeSet = TokenScope::ALL.into_iter().collect();
        assert_eq!(all.len(), 26);
        let set: TokenScopeSet = [TokenScope::MapRead, TokenScope::StylesRead, TokenScope::MapRead]
            .into_iter()
            .collect();
        assert_eq!(
            set.iter().collect::<Vec<_>>(),
            [TokenScope::StylesRead, TokenScope::MapRead]
        );
        assert!(TokenScopeSet::EMPTY.is_empty());
    }
}
