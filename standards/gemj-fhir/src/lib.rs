//! HL7 FHIR R4 (4.0.1) as a protocol, pure: no I/O, no HTTP framework.
//!
//! This crate is the only user of the card's `fhir-model` crate (its R4B build: the resources
//! the gateway serves have the same shape in R4 and R4B, and the server announces R4 4.0.1).
//! Everything it offers is non-generic, so fhir-model's code is compiled once, here:
//!
//! - [`model`]: every resource the gateway answers or reads goes through the model's types
//!   ([`model::typed`], [`model::to_bytes`]) and is refused when the round trip would lose
//!   anything; incoming resources are first validated against the official R4 JSON Schema of
//!   their type and the checks neither does ([`model::IncomingValidator`]).
//! - [`negotiate`]: `_format` over `Accept`, JSON only, `fhirVersion=4.0`; 406 and 415.
//! - [`outcome`]: `OperationOutcome` and the one place FHIR statuses are chosen ([`FhirError`]).
//! - [`search`]: typed search parameters, paging and sorting.
//! - [`bundle`]: `searchset` and transaction/batch responses.
//! - [`capability`]: the `CapabilityStatement`.
//! - [`genomics`]: the Genomics Reporting IG's 17 operations, their corrected definitions, and
//!   their inputs (ranges, variants, date ranges).

pub mod bundle;
pub mod capability;
pub mod genomics;
pub mod model;
pub mod negotiate;
pub mod outcome;
pub mod search;

pub use outcome::{FhirError, Issue, IssueCode};

/// The FHIR version served.
pub const FHIR_VERSION: &str = "4.0.1";

/// Profiles of the Genomics Reporting IG 3.0.0 the gateway builds.
pub mod profiles {
    /// Variant.
    pub const VARIANT: &str =
        "http://hl7.org/fhir/uv/genomics-reporting/StructureDefinition/variant";
    /// Genomic report.
    pub const GENOMIC_REPORT: &str =
        "http://hl7.org/fhir/uv/genomics-reporting/StructureDefinition/genomic-report";
    /// Genomic study (a Procedure in R4).
    pub const GENOMIC_STUDY: &str =
        "http://hl7.org/fhir/uv/genomics-reporting/StructureDefinition/genomic-study";
    /// Genomic data file (a DocumentReference).
    pub const GENOMIC_DATA_FILE: &str =
        "http://hl7.org/fhir/uv/genomics-reporting/StructureDefinition/genomic-data-file";
    /// Molecular consequence (an Observation derived from a Variant).
    pub const MOLECULAR_CONSEQUENCE: &str =
        "http://hl7.org/fhir/uv/genomics-reporting/StructureDefinition/molecular-consequence";
    /// Diagnostic implication.
    pub const DIAGNOSTIC_IMPLICATION: &str =
        "http://hl7.org/fhir/uv/genomics-reporting/StructureDefinition/diagnostic-implication";
    /// Genotype.
    pub const GENOTYPE: &str =
        "http://hl7.org/fhir/uv/genomics-reporting/StructureDefinition/genotype";
    /// Haplotype (a star allele).
    pub const HAPLOTYPE: &str =
        "http://hl7.org/fhir/uv/genomics-reporting/StructureDefinition/haplotype";
    /// Therapeutic implication.
    pub const THERAPEUTIC_IMPLICATION: &str =
        "http://hl7.org/fhir/uv/genomics-reporting/StructureDefinition/therapeutic-implication";
}
