//! Typed reads of JSON claims that report absent and mistyped claims by name.

use serde_json::{Map, Value};

use crate::ClaimError;

pub(crate) type Object = Map<String, Value>;

/// The JSON object `json`, or `InvalidClaim(name)`.
pub(crate) fn object<'a>(json: &'a Value, name: &'static str) -> Result<&'a Object, ClaimError> {
    json.as_object().ok_or(ClaimError::InvalidClaim(name))
}

/// A REQUIRED string claim.
pub(crate) fn required_str(
    map: &Object,
    key: &str,
    name: &'static str,
) -> Result<String, ClaimError> {
    optional_str(map, key, name)?.ok_or(ClaimError::MissingClaim(name))
}

/// A REQUIRED string claim that must not be empty (`iss`, `sub`).
pub(crate) fn required_nonempty_str(
    map: &Object,
    key: &str,
    name: &'static str,
) -> Result<String, ClaimError> {
    let s = required_str(map, key, name)?;
    if s.is_empty() {
        return Err(ClaimError::InvalidClaim(name));
    }
    Ok(s)
}

/// An OPTIONAL string claim. Present-but-`null` counts as mistyped: the spec never allows `null`.
pub(crate) fn optional_str(
    map: &Object,
    key: &str,
    name: &'static str,
) -> Result<Option<String>, ClaimError> {
    optional(map, key, name, |v| v.as_str().map(str::to_owned))
}

/// A REQUIRED NumericDate claim, as whole seconds since the epoch.
///
/// RFC 7519 allows fractional NumericDates, but the AAI profile shows `<seconds-since-epoch>`
/// integers and every known issuer emits integers; a fractional or out-of-range number is refused.
pub(crate) fn required_i64(map: &Object, key: &str, name: &'static str) -> Result<i64, ClaimError> {
    optional_i64(map, key, name)?.ok_or(ClaimError::MissingClaim(name))
}

/// An OPTIONAL NumericDate claim (see [`required_i64`]).
pub(crate) fn optional_i64(
    map: &Object,
    key: &str,
    name: &'static str,
) -> Result<Option<i64>, ClaimError> {
    optional(map, key, name, Value::as_i64)
}

/// An OPTIONAL claim read by `read`, which gives `None` for a value of the wrong type.
fn optional<T>(
    map: &Object,
    key: &str,
    name: &'static str,
    read: impl FnOnce(&Value) -> Option<T>,
) -> Result<Option<T>, ClaimError> {
    match map.get(key) {
        None => Ok(None),
        Some(v) => read(v).map(Some).ok_or(ClaimError::InvalidClaim(name)),
    }
}
