//! The JSON (serde) form of key policies.
//!
//! `{"key_type": "any"|"web"|"desktop"|"server", "scopes": [..],
//! "allowed_domains": [..], "allowed_tilesets": [..]}`: every field
//! optional, `null` meaning absent, unknown fields rejected (a misspelled
//! field must never silently drop a restriction). Deserializing validates
//! through [`KeyPolicyBuilder`](crate::KeyPolicyBuilder), so JSON and Rust
//! policies obey the same rules and produce the same errors.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::policy::{KeyPolicy, KeyType, PolicyError};
use crate::scope::Scope;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyPolicyJson {
    #[serde(default)]
    key_type: Option<String>,
    #[serde(default)]
    scopes: Option<Vec<String>>,
    #[serde(default)]
    allowed_domains: Option<Vec<String>>,
    #[serde(default)]
    allowed_tilesets: Option<Vec<String>>,
}

impl TryFrom<KeyPolicyJson> for KeyPolicy {
    type Error = PolicyError;

    fn try_from(json: KeyPolicyJson) -> Result<Self, PolicyError> {
        let key_type = match json.key_type {
            Some(name) => name.parse::<KeyType>()?,
            None => KeyType::Any,
        };
        let scopes = json
            .scopes
            .unwrap_or_default()
            .iter()
            .enumerate()
            .map(|(index, name)| {
                name.parse::<Scope>()
                    .map_err(|source| PolicyError::UnknownScope { index, source })
            })
            .collect::<Result<Vec<_>, _>>()?;
        KeyPolicy::builder()
            .key_type(key_type)
            .scopes(scopes)
            .allowed_domains(json.allowed_domains.unwrap_or_default())
            .allowed_tilesets(json.allowed_tilesets.unwrap_or_default())
            .build()
    }
}

impl<'de> Deserialize<'de> for KeyPolicy {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let json = KeyPolicyJson::deserialize(deserializer)?;
        KeyPolicy::try_from(json).map_err(serde::de::Error::custom)
    }
}

impl Serialize for KeyPolicy {
    /// Writes the normalized form, which reads back to the same policy.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        KeyPolicyJson {
            key_type: Some(self.key_type().as_str().to_owned()),
            scopes: Some(self.scopes().iter().map(|s| s.as_str().to_owned()).collect()),
            allowed_domains: Some(self.allowed_domains().iter().map(ToString::to_string).collect()),
            allowed_tilesets: Some(self.allowed_tilesets().iter().map(ToString::to_string).collect()),
        }
        .serialize(serializer)
    }
}

/// Deserializes an optional string, borrowing it from the input when it
/// has no escapes (serde's `borrow` alone does not reach through `Option`).
pub(crate) fn borrowed<'de: 'a, 'a, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Cow<'a, str>>, D::Error> {
    #[derive(serde::Deserialize)]
    struct Borrowed<'a>(#[serde(borrow)] Cow<'a, str>);
    let value: Option<Borrowed<'a>> = serde::Deserialize::deserialize(deserializer)?;
    Ok(value.map(|b| b.0))
}
