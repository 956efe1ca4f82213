//! Recontact requests: a researcher asks that participants be invited or told of findings,
//! through their institutions, without ever learning who they are.

use crate::{ApprovalId, DatasetId, ParticipantId, RecontactRequestId};

/// Why a participant would be recontacted.
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
pub enum RecontactKind {
    /// An invitation to a further study.
    ResearchInvitation,
    /// Return of (secondary) findings.
    ReturnOfFindings,
}

/// Where a recontact request stands, for one participant.
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
pub enum RecontactStatus {
    /// In the institution's inbox.
    Pending,
    /// The institution contacted the participant.
    Contacted,
    /// The participant declined.
    Declined,
    /// The participant agreed.
    Agreed,
}

/// A recontact request as stored: the participants kept after consent filtering.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct RecontactRequest {
    /// Request id.
    pub id: RecontactRequestId,
    /// Requester: issuer and subject of their passport.
    pub requester: String,
    /// Kind.
    pub kind: RecontactKind,
    /// Reason, as the researcher wrote it.
    pub reason: String,
    /// The dataset the participants were selected from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset: Option<DatasetId>,
    /// The approval under which the request was made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<ApprovalId>,
    /// The participants who will be asked (never shown to the requester).
    pub participants: Vec<ParticipantId>,
}
