//! The access-token scope catalogue: five public and twenty-one secret
//! scopes, and a `u32` bitset of them.

use std::fmt;
use std::str::FromStr;

macro_rules! token_scopes {
    ($($variant:ident => $name:literal, $secret:literal, $doc:literal;)+) => {
        /// A scope of the access-token catalogue, e.g. `styles:read`.
        ///
        /// Public scopes may be put on any token; secret scopes only on `sk`
        /// and `tk` tokens ([`TokenScope::is_secret`]).
        ///
        /// `#[non_exhaustive]`: the catalogue grows as the platform adds
        /// APIs, so match with a wildcard arm.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum TokenScope {
            $(#[doc = concat!("`", $name, "`: ", $doc)] $variant,)+
        }

        impl TokenScope {
            /// Every scope of the catalogue: the public ones first, then the
            /// secret ones, in the order the catalogue lists them.
            pub const ALL: [TokenScope; token_scopes!(@count $($variant)+)] = [$(TokenScope::$variant,)+];

            /// The scope's name, e.g. `styles:read`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(TokenScope::$variant => $name,)+
                }
            }

            /// The bits of the public scopes.
            const PUBLIC_BITS: u32 = 0 $(| if $secret { 0 } else { 1 << TokenScope::$variant as u32 })+;

            /// Whether this is a secret scope, which a `pk` token cannot hold.
            pub const fn is_secret(self) -> bool {
                match self {
                    $(TokenScope::$variant => $secret,)+
                }
            }
        }
    };
    (@count $($variant:ident)+) => { 0 $(+ token_scopes!(@one $variant))+ };
    (@one $variant:ident) => { 1 };
}

token_scopes! {
    StylesTiles => "styles:tiles", false, "style PNG tiles and static images.";
    StylesRead => "styles:read", false, "read styles.";
    FontsRead => "fonts:read", false, "read fonts and glyphs.";
    DatasetsRead => "datasets:read", false, "read datasets.";
    VisionRead => "vision:read", false, "Vision SDK services.";
    ScopesList => "scopes:list", true, "list available scopes.";
    MapRead => "map:read", true, "read tilesets, tilestats and legacy projects.";
    MapWrite => "map:write", true, "create and update tilesets and tilestats.";
    UserRead => "user:read", true, "read account profile information.";
    UserWrite => "user:write", true, "write account profile information.";
    UploadsRead => "uploads:read", true, "read data uploads.";
    UploadsList => "uploads:list", true, "list tileset uploads.";
    UploadsWrite => "uploads:write", true, "create tileset uploads.";
    StylesWrite => "styles:write", true, "create and update styles.";
    StylesList => "styles:list", true, "list styles.";
    StylesProtect => "styles:protect", true, "protect write access to styles.";
    TokensRead => "tokens:read", true, "read tokens.";
    TokensWrite => "tokens:write", true, "create, update and delete tokens.";
    DatasetsList => "datasets:list", true, "list datasets.";
    DatasetsWrite => "datasets:write", true, "create and update datasets.";
    TilesetsList => "tilesets:list", true, "list tilesets and tileset sources.";
    TilesetsRead => "tilesets:read", true, "read tilesets and tileset sources.";
    TilesetsWrite => "tilesets:write", true, "create, update, publish and delete tilesets.";
    DownloadsRead => "downloads:read", true, "download the SDKs.";
    VisionDownload => "vision:download", true, "download the Vision SDK.";
    AtlasRead => "atlas:read", true, "read Atlas data and software.";
}

impl TokenScope {
    /// Whether this is a public scope.
    pub const fn is_public(self) -> bool {
        !self.is_secret()
    }

    const fn bit(self) -> u32 {
        1 << self as u32
    }
}

impl fmt::Display for TokenScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
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
        TokenScope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == s)
            .ok_or_else(|| UnknownTokenScope(s.to_owned()))
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

/// A set of [`TokenScope`]s stored as a `u32` bitset: membership is one
/// `and`, and the set is `Copy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TokenScopeSet(u32);

impl TokenScopeSet {
    /// The empty set.
    pub const EMPTY: TokenScopeSet = TokenScopeSet(0);

    /// Every public scope: what a default public token holds.
    pub const PUBLIC: TokenScopeSet = TokenScopeSet(TokenScope::PUBLIC_BITS);

    /// Adds a scope.
    #[must_use]
    pub const fn with(self, scope: TokenScope) -> TokenScopeSet {
        TokenScopeSet(self.0 | scope.bit())
    }

    /// Whether `scope` is in the set.
    pub const fn contains(self, scope: TokenScope) -> bool {
        self.0 & scope.bit() != 0
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The number of scopes in the set.
    pub const fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    /// Whether some scope of the set is secret.
    pub const fn has_secret(self) -> bool {
        self.0 & !TokenScopeSet::PUBLIC.0 != 0
    }

    /// The scopes in catalogue order.
    pub fn iter(self) -> impl Iterator<Item = TokenScope> {
        TokenScope::ALL.into_iter().filter(move |s| self.contains(*s))
    }
}

impl FromIterator<TokenScope> for TokenScopeSet {
    fn from_iter<I: IntoIterator<Item = TokenScope>>(iter: I) -> Self {
        iter.into_iter().fold(TokenScopeSet::EMPTY, TokenScopeSet::with)
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
