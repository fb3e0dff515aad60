//! Serde helpers shared by the key and token JSON forms.

use std::borrow::Cow;

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
