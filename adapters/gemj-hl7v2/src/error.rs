//! The one error type of the crate: a message header that cannot be read, a message too large to
//! index, or a location that does not parse.

/// Why a message or a location could not be parsed.
///
/// Messages are parsed leniently: only a missing or unusable header (HL7 v2.5 §2.5.4, "Message
/// delimiters") is an error; odd segments are kept as they are for the caller to judge.
///
/// # Examples
/// ```
/// use gemj_hl7v2::{Error, Message};
/// assert_eq!(Message::parse("PID|1").unwrap_err(), Error::MissingHeader);
/// assert_eq!(Message::parse("").unwrap_err(), Error::Empty);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The text holds no segment at all.
    #[error("the message is empty")]
    Empty,
    /// The first segment is not `MSH`, `BHS` or `FHS` followed by a field separator.
    #[error("the message does not start with an MSH, BHS or FHS segment")]
    MissingHeader,
    /// The field separator (MSH-1) is a letter, a digit, a line break or not ASCII.
    #[error("field separator {0:?} is not allowed (HL7 v2.5 §2.5.4)")]
    InvalidFieldSeparator(char),
    /// The encoding characters (MSH-2) are missing, too many, repeated, or not allowed.
    #[error("encoding characters (MSH-2) {reason} (HL7 v2.5 §2.5.4)")]
    InvalidEncodingCharacters {
        /// What is wrong with them.
        reason: &'static str,
    },
    /// The text is longer than the 4 GiB that the segment index can address.
    #[error("the message is {len} bytes long; at most 4 GiB can be indexed")]
    TooLarge {
        /// The length of the text in bytes.
        len: usize,
    },
    /// A location such as `PID-5[2].1` does not parse.
    #[error("location {location:?}: {reason}")]
    InvalidLocation {
        /// The location text, truncated to 32 characters.
        location: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}
