//! The crate's one error type, [`BeaconError`]: an HTTP status, a stable [`ErrorKind`] and a
//! message meant for the client. It becomes the `error` section of a `beaconErrorResponse`
//! (`framework/json/common/beaconCommonComponents.json#/$defs/BeaconError`) through
//! [`crate::response::BeaconErrorResponse`].

/// What went wrong, as a stable code: match on this, never on the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A parameter or body member the Beacon v2.2.0 request does not define.
    UnknownParameter,
    /// A GET parameter given twice (or under both of its spellings).
    RepeatedParameter,
    /// A parameter with the wrong type or a value outside its schema.
    InvalidValue,
    /// A parameter that needs another one (`start` without `referenceName`, ...), or a
    /// combination the query kinds do not define.
    MissingParameter,
    /// Coordinates that do not make a range (`start` after `end`, brackets out of order).
    InvalidRange,
    /// An `assemblyId` (or an assembly implied by a RefSeq accession) this beacon does not
    /// serve.
    UnsupportedAssembly,
    /// `genomicAlleleShortForm` that is not HGVS this crate understands.
    InvalidAllele,
    /// A `limit` above the beacon's maximum.
    LimitExceeded,
    /// More filters than the beacon accepts.
    TooManyFilters,
    /// A request body that is not a Beacon request body at all.
    InvalidBody,
    /// A record whose data cannot be expressed in the official schema (a server-side fault).
    InvalidRecord,
    /// For the server: the entry does not exist (or is not visible to the caller).
    NotFound,
    /// For the server: authentication is needed.
    Unauthorized,
    /// For the server: the caller may not see this.
    Forbidden,
    /// For the server: anything else that is the server's fault.
    Internal,
}

/// A Beacon error: status code, kind and client-facing message.
///
/// Request errors are 400; the server-side constructors ([`BeaconError::not_found`], ...) let
/// the gateway express its own failures in the same envelope.
///
/// # Examples
///
/// ```
/// use gemj_beacon::{BeaconQuery, EntryType, ErrorKind, QueryLimits};
///
/// let pairs = vec![("colour".to_owned(), "blue".to_owned())];
/// let error = BeaconQuery::from_get(&pairs, EntryType::Individual, &QueryLimits::default())
///     .unwrap_err();
/// assert_eq!(error.status, 400);
/// assert_eq!(error.kind, ErrorKind::UnknownParameter);
/// assert!(!error.message.contains("colour"), "the caller's text is not repeated");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct BeaconError {
    /// The HTTP status the server should answer with (and the `errorCode`).
    pub status: u16,
    /// The stable code.
    pub kind: ErrorKind,
    /// What the client did wrong, naming the parameter.
    pub message: String,
}

impl BeaconError {
    /// A 400 Bad Request of the given kind.
    #[must_use]
    pub fn bad_request(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            status: 400,
            kind,
            message: message.into(),
        }
    }

    /// A 404 Not Found.
    #[must_use]
    pub fn not_found(message: impl Into<String>) -> Self {
        Self {
            status: 404,
            kind: ErrorKind::NotFound,
            message: message.into(),
        }
    }

    /// A 401 Unauthorized.
    #[must_use]
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self {
            status: 401,
            kind: ErrorKind::Unauthorized,
            message: message.into(),
        }
    }

    /// A 403 Forbidden.
    #[must_use]
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self {
            status: 403,
            kind: ErrorKind::Forbidden,
            message: message.into(),
        }
    }

    /// A 405 Method Not Allowed: the resource answers only `allow`.
    #[must_use]
    pub fn method_not_allowed(allow: &str) -> Self {
        Self {
            status: 405,
            kind: ErrorKind::InvalidValue,
            message: format!("this resource answers {allow}"),
        }
    }

    /// A 413 Payload Too Large: the body (or the passports in it) is over the limit.
    #[must_use]
    pub fn payload_too_large(message: impl Into<String>) -> Self {
        Self {
            status: 413,
            kind: ErrorKind::InvalidValue,
            message: message.into(),
        }
    }

    /// A 431 Request Header Fields Too Large: the `Authorization` header is over the limit.
    #[must_use]
    pub fn header_too_large(message: impl Into<String>) -> Self {
        Self {
            status: 431,
            kind: ErrorKind::InvalidValue,
            message: message.into(),
        }
    }

    /// A 429 Too Many Requests: the caller's query budget is spent (answer with
    /// `Retry-After`).
    #[must_use]
    pub fn too_many_requests(message: impl Into<String>) -> Self {
        Self {
            status: 429,
            kind: ErrorKind::LimitExceeded,
            message: message.into(),
        }
    }

    /// A 503 Service Unavailable: something the answer depends on (consent, an issuer) is
    /// not available now (answer with `Retry-After`).
    #[must_use]
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self {
            status: 503,
            kind: ErrorKind::Internal,
            message: message.into(),
        }
    }

    /// A 500 Internal Server Error.
    #[must_use]
    pub fn internal(message: impl Into<String>) -> Self {
        Self {
            status: 500,
            kind: ErrorKind::Internal,
            message: message.into(),
        }
    }

    /// A record that cannot be expressed in the official model (500: the data is at fault,
    /// not the client).
    #[must_use]
    pub(crate) fn invalid_record(message: impl Into<String>) -> Self {
        Self {
            status: 500,
            kind: ErrorKind::InvalidRecord,
            message: message.into(),
        }
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::bad_request(ErrorKind::InvalidValue, message)
    }

    pub(crate) fn unknown(message: impl Into<String>) -> Self {
        Self::bad_request(ErrorKind::UnknownParameter, message)
    }
}
