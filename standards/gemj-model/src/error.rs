//! The one error type of the model: a value that does not parse.

/// A value that is not valid in the canonical model.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    /// An identifier is empty, too long, or has characters outside `[A-Za-z0-9._:-]`.
    #[error("invalid {kind} identifier {value:?}: {why}")]
    InvalidId {
        /// Which identifier (participant, dataset, ...).
        kind: &'static str,
        /// The rejected text, truncated to 64 characters.
        value: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// A value of a field that does not parse.
    #[error("invalid {field} {value:?}: {why}")]
    InvalidValue {
        /// The field or type name.
        field: &'static str,
        /// The rejected text, truncated to 64 characters.
        value: String,
        /// What is wrong with it.
        why: String,
    },
}

impl ModelError {
    pub(crate) fn value(field: &'static str, value: &str, why: impl Into<String>) -> Self {
        Self::InvalidValue {
            field,
            value: truncate(value),
            why: why.into(),
        }
    }
}

pub(crate) fn truncate(s: &str) -> String {
    s.chars().take(64).collect()
}
