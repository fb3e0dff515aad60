//! The JSON (serde) form of key policies.
//!
//! `{"key_type": "any"|"web"|"desktop"|"server", "scopes": [..],
//! "allowed_domains": [..], "allowed_tilesets": [..]}`: every field
//! optional, `null` meaning absent, unknown fields rejected (a misspelled
//! field must never silently drop a restriction). Deserializing validates
//! through [`KeyPolicyBuilder`](crate::key::KeyPolicyBuilder), so JSON and Rust
//! policies obey the same rules and produce the same errors.

use serde::{Deserialize, Serialize};

use crate::key::policy::{KeyPolicy, KeyPolicyError, KeyType};
use crate::key::scope::KeyScope;

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
    type Error = KeyPolicyError;

    fn try_from(json: KeyPolicyJson) -> Result<Self, KeyPolicyError> {
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
                name.parse::<KeyScope>()
                    .map_err(|source| KeyPolicyError::UnknownKeyScope { index, source })
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
