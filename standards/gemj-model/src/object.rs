//! Data objects: every stored file (and every index) with its checksums and storage location.
//! Each one is a DRS object.

use crate::error::ModelError;
use crate::{AnalysisId, ObjectId, ParticipantId, SpecimenId};

/// File format of a stored object.
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
#[serde(rename_all = "UPPERCASE")]
pub enum DataFormat {
    /// BAM alignments.
    Bam,
    /// CRAM alignments.
    Cram,
    /// BGZF-compressed VCF.
    Vcf,
    /// BCF.
    Bcf,
    /// FASTA reference.
    Fasta,
    /// FASTA index.
    Fai,
    /// BAM index.
    Bai,
    /// CRAM index.
    Crai,
    /// Tabix index.
    Tbi,
    /// Coordinate-sorted index (BCF, large BAM/VCF).
    Csi,
    /// BGZF block index.
    Gzi,
    /// Tab-separated text (gene annotation, manifests).
    Tsv,
    /// Any other file (a workflow's output of another kind).
    Other,
}

impl DataFormat {
    /// The upper-case name used in storage and JSON.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bam => "BAM",
            Self::Cram => "CRAM",
            Self::Vcf => "VCF",
            Self::Bcf => "BCF",
            Self::Fasta => "FASTA",
            Self::Fai => "FAI",
            Self::Bai => "BAI",
            Self::Crai => "CRAI",
            Self::Tbi => "TBI",
            Self::Csi => "CSI",
            Self::Gzi => "GZI",
            Self::Tsv => "TSV",
            Self::Other => "OTHER",
        }
    }

    /// Parses the upper-case name.
    ///
    /// # Errors
    /// When the name is not a known format.
    pub fn parse(s: &str) -> Result<Self, ModelError> {
        serde_json::from_value(serde_json::Value::String(s.to_owned()))
            .map_err(|_| ModelError::value("data format", s, "unknown format"))
    }

    /// Whether the object is an index of another object.
    #[must_use]
    pub fn is_index(self) -> bool {
        matches!(
            self,
            Self::Fai | Self::Bai | Self::Crai | Self::Tbi | Self::Csi | Self::Gzi
        )
    }
}

/// Checksums of an object's bytes, lower-case hex.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct Checksums {
    /// SHA-256, 64 hex digits.
    pub sha256: String,
    /// MD5, 32 hex digits.
    pub md5: String,
}

impl Checksums {
    /// Builds checksums from hex digests.
    ///
    /// # Errors
    /// When a digest is not lower-case hex of the right length.
    pub fn new(sha256: &str, md5: &str) -> Result<Self, ModelError> {
        let hex = |s: &str, n: usize| {
            s.len() == n && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        };
        if !hex(sha256, 64) {
            return Err(ModelError::value(
                "sha256",
                sha256,
                "expected 64 lower-case hex digits",
            ));
        }
        if !hex(md5, 32) {
            return Err(ModelError::value(
                "md5",
                md5,
                "expected 32 lower-case hex digits",
            ));
        }
        Ok(Self {
            sha256: sha256.to_owned(),
            md5: md5.to_owned(),
        })
    }
}

/// A stored file or index.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct DataObject {
    /// Object id (also the DRS id).
    pub id: ObjectId,
    /// File name as a client would save it.
    pub name: String,
    /// Format.
    pub format: DataFormat,
    /// Size in bytes.
    pub size: u64,
    /// Checksums.
    pub checksums: Checksums,
    /// Where the bytes are: a URI of the object store (`file:` relative key or `s3://`).
    pub storage_uri: String,
    /// The index object that belongs to this file (a BAM's BAI), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<ObjectId>,
    /// Whose data, for single-participant files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub participant: Option<ParticipantId>,
    /// The specimens whose data the file holds (one per sample column or read group).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub specimens: Vec<SpecimenId>,
    /// The analysis that produced it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis: Option<AnalysisId>,
    /// A human-readable description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}
