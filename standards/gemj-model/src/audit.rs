//! Audit: one record per access decision, permit or deny, from every API. Records carry ids and
//! hashes only: never a token, a visa or record contents.

/// The outcome of an access decision.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum AccessDecision {
    /// Allowed.
    Permit,
    /// Refused.
    Deny,
}

/// What is audited about one decision. Serialized once, hashed into the chain, stored as is.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct AuditEvent {
    /// When the decision was made (RFC 3339, UTC).
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String")]
    pub at: time::OffsetDateTime,
    /// The request id (also on the response).
    pub request_id: String,
    /// The API (`service-info`, `htsget`, `drs`, `beacon`, ...).
    pub api: String,
    /// The endpoint pattern (`/ga4gh/drs/v1/objects/{id}`).
    pub endpoint: String,
    /// Who asked: `anonymous`, or the passport's issuer and subject as `iss#sub`.
    pub principal: String,
    /// What they wanted to do (`read_metadata`, `read_data`, ...).
    pub action: String,
    /// What they wanted it on (`dataset:ID`, `object:ID`, `participant:ID`, `service`).
    pub resource: String,
    /// Permit or deny.
    pub decision: AccessDecision,
    /// Machine-readable reason codes (`public_metadata`, `anonymous_not_permitted`, ...).
    pub reasons: Vec<String>,
    /// SHA-256 of the passport and visas considered, never the tokens themselves.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub credential_hashes: Vec<String>,
    /// The approval the decision relied on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<String>,
    /// The consent epoch the decision saw.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent_epoch: Option<i64>,
    /// Participants whose data the response carries (ids only), for transparency to them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub participants: Vec<String>,
    /// Records returned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub records_returned: Option<u64>,
    /// Records filtered out by consent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub records_filtered: Option<u64>,
}

/// A stored audit record: the event, its place in the chain and the chain hashes.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
pub struct AuditRecord {
    /// Sequence number in the audit chain.
    pub seq: i64,
    /// The event.
    pub event: AuditEvent,
    /// Hash of the previous record.
    pub prev_hash: String,
    /// Hash of this record.
    pub hash: String,
}
