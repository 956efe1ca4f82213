//! Sequencing runs and the analyses (pipeline executions) that turn them into files.

use crate::{AnalysisId, PartialDate, RunId, SpecimenId};

/// What was sequenced.
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
pub enum LibraryStrategy {
    /// Whole-genome sequencing.
    #[serde(rename = "WGS")]
    Wgs,
    /// Whole-exome sequencing.
    #[serde(rename = "WXS")]
    Wxs,
    /// Targeted panel.
    #[serde(rename = "Targeted-Capture")]
    TargetedCapture,
    /// RNA sequencing.
    #[serde(rename = "RNA-Seq")]
    RnaSeq,
}

/// One sequencing run of one specimen's library.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct SequencingRun {
    /// Run id.
    pub id: RunId,
    /// Sequenced specimen.
    pub specimen: SpecimenId,
    /// Library strategy.
    pub library_strategy: LibraryStrategy,
    /// Instrument platform, e.g. `ILLUMINA`.
    pub platform: String,
    /// Instrument model, e.g. `NovaSeq 6000`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instrument_model: Option<String>,
    /// Read length in bases.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_length: Option<u32>,
    /// Run date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_date: Option<PartialDate>,
}

/// One analysis: a pipeline run over one or more sequencing runs.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct Analysis {
    /// Analysis id.
    pub id: AnalysisId,
    /// Input runs.
    pub runs: Vec<RunId>,
    /// Pipeline name.
    pub pipeline_name: String,
    /// Pipeline version.
    pub pipeline_version: String,
    /// Reference assembly, e.g. `GRCh38` or `GeMJ-synthetic-1`.
    pub reference_genome: String,
    /// Variant caller, when the analysis calls variants.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant_caller: Option<String>,
    /// Analysis date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis_date: Option<PartialDate>,
}
