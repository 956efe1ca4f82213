//! Declaration macros of the model: validated text newtypes (codes, CURIEs, contig names,
//! alleles), one definition of the wrapper around a `String` that is valid once built; and the
//! JSON Schema of a type written as text. Identifiers have their own macro (`ids.rs`), which
//! adds `FromStr`, `TryFrom<String>` and a JSON Schema pattern.

/// Implements `JsonSchema` for a type serialised as its text: a string matching `pattern`, with
/// `description`, named after the type.
macro_rules! text_schema {
    ($name:ident, pattern: $pattern:expr, description: $description:expr) => {
        impl schemars::JsonSchema for $name {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }

            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({
                    "type": "string",
                    "pattern": $pattern,
                    "description": $description
                })
            }
        }
    };
}

pub(crate) use text_schema;

/// Defines `pub struct $name(String)`, serialised as its text, with `as_str`, `Display`, and a
/// `Deserialize` that goes through the type's `parse`, so a deserialised value is as valid as a
/// parsed one.
///
/// - `$name, as_str = "doc"`: the type writes its own `parse(&str) -> Result<Self, ModelError>`.
/// - `$name, curie "HP:", "HPO id", example "HP:0001166"`: also defines `parse` for a CURIE of
///   that prefix and seven digits, kept as written; other text is a
///   [`ModelError::InvalidValue`](crate::ModelError::InvalidValue) of that field name.
macro_rules! string_newtype {
    ($(#[$doc:meta])* $name:ident, as_str = $as_str_doc:literal) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, schemars::JsonSchema,
        )]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            #[doc = $as_str_doc]
            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                Self::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
            }
        }
    };
    (
        $(#[$doc:meta])* $name:ident,
        curie $prefix:literal, $field:literal, example $example:literal
    ) => {
        $crate::macros::string_newtype!($(#[$doc])* $name, as_str = "The CURIE.");

        impl $name {
            #[doc = concat!("Parses `", $example, "`.")]
            ///
            /// # Errors
            #[doc = concat!("When the text is not `", $prefix, "` and seven digits.")]
            pub fn parse(s: &str) -> Result<Self, $crate::ModelError> {
                if $crate::macros::is_seven_digit_curie(s, $prefix) {
                    Ok(Self(s.to_owned()))
                } else {
                    Err($crate::ModelError::value(
                        $field,
                        s,
                        concat!("expected ", $prefix, " and seven digits"),
                    ))
                }
            }
        }
    };
}

pub(crate) use string_newtype;

/// Whether `s` is `prefix` followed by exactly seven ASCII digits (`HP:0001166`, `DUO:0000042`).
pub(crate) fn is_seven_digit_curie(s: &str, prefix: &str) -> bool {
    let digits = s.strip_prefix(prefix).unwrap_or("");
    digits.len() == 7 && digits.bytes().all(|b| b.is_ascii_digit())
}
