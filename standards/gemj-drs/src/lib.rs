//! GA4GH DRS 1.5 as a protocol, with no I/O and no HTTP framework: the wire types of objects,
//! bundles and access methods, the bulk requests and responses, hostname-based and compact
//! identifiers, and the limits a bulk request is checked against.
//!
//! Specification: DRS 1.5.0
//! (<https://ga4gh.github.io/data-repository-service-schemas/preview/release/drs-1.5.0/docs/>).
//! The names of the wire types and their members are the spec's (`DrsObject`, `AccessMethod`,
//! `Authorizations`, `ContentsObject`, `AccessURL`, the bulk bodies), so that a reader can hold
//! one against the other; the tests of the gateway validate every answer against the official
//! schema.
//!
//! What stays in the gateway: which objects exist and who may see them (gemj-core's DRS
//! service), and the error envelope's status codes (gemj-server's `error/drs.rs`, shared with
//! the gateway's own APIs).
//!
//! Invariant: nothing here panics on any input.

mod bulk;
mod ids;

pub use bulk::{
    BulkAccessEntry, BulkAccessIds, BulkAccessUrl, BulkAccessUrls, BulkLimit, BulkObjectIds,
    BulkObjects, BulkSummary, Unresolved, check_bulk, group_unresolved,
};
pub use ids::{compact_local_id, host_of, hostname_uri, parse_expand};

/// The DRS version served.
pub const DRS_VERSION: &str = "1.5.0";

/// A checksum (`type`: `sha-256` or `md5`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Checksum {
    /// Lower-case hex.
    pub checksum: String,
    /// The IANA hash name.
    #[serde(rename = "type")]
    pub kind: &'static str,
}

/// DRS `Authorizations`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Authorizations {
    /// The object, where the answer is about one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drs_object_id: Option<String>,
    /// `None`, `PassportAuth`, `BearerAuth`, in the order to try.
    pub supported_types: Vec<&'static str>,
    /// Visa issuers that may authorize access.
    pub passport_auth_issuers: Vec<String>,
    /// Issuers of accepted bearer tokens.
    pub bearer_auth_issuers: Vec<String>,
}

/// DRS `AccessMethod`: resolved through an `access_id`, or direct at an `access_url`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AccessMethod {
    /// The access method type (`https`, `htsget`).
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The id to resolve at `/objects/{id}/access/{access_id}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_id: Option<&'static str>,
    /// Where the bytes are served directly (an htsget endpoint, which takes the caller's
    /// credentials itself).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_url: Option<AccessUrl>,
    /// Whether the bytes are online.
    pub available: bool,
    /// How to authorize the access request.
    pub authorizations: Authorizations,
}

/// DRS `ContentsObject`: an entry of a bundle.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ContentsObject {
    /// The name to materialise it under (unique in the bundle).
    pub name: String,
    /// Its DRS id.
    pub id: String,
    /// Its DRS URI.
    pub drs_uri: Vec<String>,
    /// A nested bundle's contents (with `expand` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contents: Option<Vec<ContentsObject>>,
}

/// DRS `DrsObject`: a blob, or a bundle with `contents`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DrsObject {
    /// The DRS id.
    pub id: String,
    /// The name (the file name of a blob).
    pub name: String,
    /// `drs://<host>/<id>`.
    pub self_uri: String,
    /// Bytes (of a bundle: of everything in it).
    pub size: u64,
    /// First registration (of a bundle: of the earliest object in it), RFC 3339.
    pub created_time: String,
    /// Last change (of a bundle: of the latest object in it), RFC 3339.
    pub updated_time: String,
    /// The content's version (the gateway uses its SHA-256).
    pub version: String,
    /// The media type of a blob.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    /// The checksums of a blob; of a bundle, the checksum over its entries'.
    pub checksums: Vec<Checksum>,
    /// A blob's access methods.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_methods: Option<Vec<AccessMethod>>,
    /// A bundle's entries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contents: Option<Vec<ContentsObject>>,
    /// What it is.
    pub description: String,
    /// Other names of the object.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
}

impl DrsObject {
    /// Whether this is a blob (it has access methods).
    #[must_use]
    pub fn is_blob(&self) -> bool {
        self.access_methods.is_some()
    }
}

/// DRS `AccessURL`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AccessUrl {
    /// The URL to fetch the bytes from.
    pub url: String,
}
