//! Biobank sample manifests (MIABIS-flavoured CSV) into the GeMJ model.
//!
//! This crate owns the reading of a biobank's sample manifest: one row per sample with
//! MIABIS-like columns (`sample_id` ≈ MIABIS-SAMPLE-01, `sample_type` ≈ -02,
//! `storage_temperature` ≈ -03, `sample_creation_date_raw` ≈ -04, `sample_content_diagnosis` ≈
//! -10, `use_access_conditions` ≈ -11, `donor_sex` ≈ MIABIS-SAMPLEDONOR-02). Each row becomes one
//! [`SpecimenFacts`](gemj_model::source::SpecimenFacts) (a biobank sample), each donor one
//! [`SubjectFacts`](gemj_model::source::SubjectFacts) (sex and birth date, once per file), and a
//! `consent_status` of `withdrawn` one [`ConsentFacts`](gemj_model::source::ConsentFacts)
//! `Withdrawn` (without a date) for the donor. Dates are the raw Japanese-era or Gregorian text
//! of the manifest (`R6.03.15`, `令和元年5月1日`, `2024/03/15`), read by [`gemj_japanese::era`];
//! the raw text stays in the record's provenance value.
//!
//! The adapter does not decide consent: a withdrawn donor's samples are emitted as facts next to
//! the withdrawal, and the gateway quarantines them. It is pure (bytes in, [`Extract`] out), fails
//! only when the input is not a manifest at all ([`Error`]), and turns every bad cell into a
//! diagnostic naming the line and column, never the cell's content.
//!
//! [`Extract`]: gemj_model::source::Extract

mod manifest;
pub mod vocabulary;

pub use manifest::{ManifestOptions, read_bytes, read_manifest};

/// Why a manifest could not be read at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No header row.
    #[error("the manifest is empty")]
    Empty,
    /// The header row is not CSV.
    #[error("the header row could not be read as CSV")]
    Csv(#[source] csv::Error),
    /// The header row is not UTF-8.
    #[error("the header row is not UTF-8 text")]
    HeaderNotUtf8,
    /// A column without which no row can be read (`sample_id`, `sample_donor_id`).
    #[error("the header has no `{0}` column")]
    MissingColumn(&'static str),
}
