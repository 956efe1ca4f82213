//! htsget errors: the spec's error names, their HTTP status codes, and the JSON body
//! `{"htsget": {"error": <name>, "message": <text>}}`.

/// What went wrong, as the spec names it ("Errors" table of htsget 1.3), with two cases of
/// this gateway that answer with the spec's `InvalidInput` name and a more exact status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// 400 `InvalidInput`: the request is malformed.
    InvalidInput,
    /// 400 `UnsupportedFormat`: the format is not served for this object.
    UnsupportedFormat,
    /// 400 `InvalidRange`: the range is not valid (`start >= end`).
    InvalidRange,
    /// 401 `InvalidAuthentication`: the credential was not accepted.
    InvalidAuthentication,
    /// 403 `PermissionDenied`: the caller may not read this (or must authenticate).
    PermissionDenied,
    /// 404 `NotFound`: no such object or reference for this caller.
    NotFound,
    /// 405 `InvalidInput`: the method is not answered here (the `Allow` header says which are).
    MethodNotAllowed,
    /// 413 `PayloadTooLarge`: too many regions, or a body too large.
    PayloadTooLarge,
    /// 431 `InvalidInput`: the `Authorization` header is too large.
    HeaderTooLarge,
}

impl ErrorKind {
    /// The HTTP status code.
    #[must_use]
    pub fn status(self) -> u16 {
        match self {
            Self::InvalidInput | Self::UnsupportedFormat | Self::InvalidRange => 400,
            Self::InvalidAuthentication => 401,
            Self::PermissionDenied => 403,
            Self::NotFound => 404,
            Self::MethodNotAllowed => 405,
            Self::PayloadTooLarge => 413,
            Self::HeaderTooLarge => 431,
        }
    }

    /// The spec's error name.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::InvalidInput | Self::MethodNotAllowed | Self::HeaderTooLarge => "InvalidInput",
            Self::UnsupportedFormat => "UnsupportedFormat",
            Self::InvalidRange => "InvalidRange",
            Self::InvalidAuthentication => "InvalidAuthentication",
            Self::PermissionDenied => "PermissionDenied",
            Self::NotFound => "NotFound",
            Self::PayloadTooLarge => "PayloadTooLarge",
        }
    }
}

/// An htsget error: its kind and a message for people.
///
/// # Examples
///
/// ```
/// use gemj_htsget::{Error, ErrorKind};
///
/// let e = Error::new(ErrorKind::InvalidRange, "start (9) must be less than end (3)");
/// assert_eq!(e.status(), 400);
/// assert_eq!(e.body()["htsget"]["error"], "InvalidRange");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    /// What went wrong.
    pub kind: ErrorKind,
    /// Why, for people.
    pub message: String,
}

impl Error {
    /// An error of `kind`.
    #[must_use]
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// 400 `InvalidInput`.
    #[must_use]
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidInput, message)
    }

    /// 404 `NotFound`, with the one message every hidden or absent object gets (they must not
    /// be told apart).
    #[must_use]
    pub fn not_found() -> Self {
        Self::new(
            ErrorKind::NotFound,
            "No such object, reference or file for this caller.",
        )
    }

    /// The HTTP status code.
    #[must_use]
    pub fn status(&self) -> u16 {
        self.kind.status()
    }

    /// The response body.
    #[must_use]
    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({"htsget": {"error": self.kind.name(), "message": self.message}})
    }
}
