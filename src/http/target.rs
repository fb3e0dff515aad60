//! `Target`: what a request asks for, as your routing code sees it.

use std::borrow::Cow;

use crate::key::Resource;
use crate::token::TokenScope;

/// What a request asks for: the resource, the tileset(s) it names, and
/// the scope an access token needs for it. Built by your routing code,
/// usually from the request path.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Target<'a> {
    /// What is requested (API keys need its [`KeyScope`](crate::key::KeyScope)).
    pub resource: Resource,
    /// The tileset(s) named, e.g. `alice.streets` or a composite
    /// `alice.streets,bob.terrain`; `None` when the request names none.
    pub tileset: Option<Cow<'a, str>>,
    /// The scope an access token needs, from
    /// [`Target::default_token_scope`] unless set; `None` means no token
    /// may be used (denied `scope_missing`).
    pub token_scope: Option<TokenScope>,
}

impl<'a> Target<'a> {
    /// A request for `resource`, naming no tileset, with the resource's
    /// [default token scope](Target::default_token_scope).
    pub fn new(resource: Resource) -> Self {
        Target {
            resource,
            tileset: None,
            token_scope: Target::default_token_scope(resource),
        }
    }

    /// Sets the tileset(s) named.
    #[must_use]
    pub fn with_tileset(mut self, tileset: impl Into<Cow<'a, str>>) -> Self {
        self.tileset = Some(tileset.into());
        self
    }

    /// Sets the scope an access token needs (e.g. `fonts:read` for a
    /// glyph endpoint).
    #[must_use]
    pub fn with_token_scope(mut self, scope: TokenScope) -> Self {
        self.token_scope = Some(scope);
        self
    }

    /// The public token scope that matches a resource, after the Mapbox
    /// scope catalogue: `tiles` and `static` → `styles:tiles` (style PNG
    /// tiles and static images), `styles` → `styles:read`; `export` has no
    /// token scope, so tokens cannot export.
    pub const fn default_token_scope(resource: Resource) -> Option<TokenScope> {
        match resource {
            Resource::Tiles | Resource::Static => Some(TokenScope::StylesTiles),
            Resource::Styles => Some(TokenScope::StylesRead),
            Resource::Export => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_carry_a_token_scope() {
        assert_eq!(Target::new(Resource::Tiles).token_scope, Some(TokenScope::StylesTiles));
        assert_eq!(Target::new(Resource::Static).token_scope, Some(TokenScope::StylesTiles));
        assert_eq!(Target::new(Resource::Styles).token_scope, Some(TokenScope::StylesRead));
        assert_eq!(Target::new(Resource::Export).token_scope, None);
        let fonts = Target::new(Resource::Styles).with_token_scope(TokenScope::FontsRead);
        assert_eq!(fonts.token_scope, Some(TokenScope::FontsRead));
    }
}
