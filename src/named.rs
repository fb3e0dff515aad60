//! Closed sets of values named by fixed strings — key types, scopes,
//! resources, token usages — and bitsets of scopes.
//!
//! Each of them is parsed by exact, case-sensitive name, written back by
//! the same name, and listed in one canonical order. [`named_enum!`]
//! generates that once from one table per type (variant, name, doc), so a
//! name cannot be spelled two ways in two places; each type keeps only its
//! own error for an unknown name. [`scope_set!`] generates the bitset of a
//! scope enum: membership is one `and`, and the set is `Copy`.

/// Defines a fieldless enum whose variants are named by string literals,
/// with `ALL` (canonical order), `as_str`, `Display`, and a crate-internal
/// `from_name` for each type's `FromStr`.
macro_rules! named_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$variant_meta:meta])* $variant:ident => $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        pub enum $name {
            $( $(#[$variant_meta])* $variant, )+
        }

        impl $name {
            /// Every value, in canonical order.
            pub const ALL: [$name; [$($text),+].len()] = [$($name::$variant),+];

            /// The name as written in policies, requests and token strings.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $text, )+
                }
            }

            /// The value with exactly this name (case-sensitive), if any.
            pub(crate) fn from_name(name: &str) -> Option<$name> {
                $name::ALL.into_iter().find(|value| value.as_str() == name)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

/// Defines `$set`, a `Copy` bitset (in `$bits`) of the scope enum `$scope`
/// made by [`named_enum!`], with the operations both scope sets share.
macro_rules! scope_set {
    ($(#[$meta:meta])* pub struct $set:ident($bits:ty) of $scope:ident;) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub struct $set($bits);

        impl $scope {
            const fn bit(self) -> $bits {
                1 << self as $bits
            }
        }

        impl $set {
            /// The empty set.
            pub const EMPTY: $set = $set(0);

            /// Adds a scope.
            #[must_use]
            pub const fn with(self, scope: $scope) -> $set {
                $set(self.0 | scope.bit())
            }

            /// Whether `scope` is in the set.
            pub const fn contains(self, scope: $scope) -> bool {
                self.0 & scope.bit() != 0
            }

            /// Whether every scope of `other` is in this set.
            pub const fn is_superset(self, other: $set) -> bool {
                other.0 & !self.0 == 0
            }

            /// Whether the set is empty.
            pub const fn is_empty(self) -> bool {
                self.0 == 0
            }

            /// The number of scopes in the set.
            pub const fn len(self) -> usize {
                self.0.count_ones() as usize
            }

            /// The scopes in canonical order.
            pub fn iter(self) -> impl Iterator<Item = $scope> {
                $scope::ALL.into_iter().filter(move |s| self.contains(*s))
            }
        }

        impl FromIterator<$scope> for $set {
            fn from_iter<I: IntoIterator<Item = $scope>>(iter: I) -> Self {
                iter.into_iter().fold($set::EMPTY, $set::with)
            }
        }
    };
}

pub(crate) use {named_enum, scope_set};
