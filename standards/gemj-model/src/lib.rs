//! The GeMJ canonical model: what the gateway knows about participants, their specimens, genomes,
//! clinical findings, consent and every access to them.
//!
//! This crate owns the meaning of a value, not its storage or its wire form: every type parses at
//! the edge (`parse`, `TryFrom`, `FromStr`) and is valid once built. It has no I/O. Adapters
//! produce these types, `gemj-store` persists them, and each standard crate maps them to its own
//! wire types.
//!
//! Partial dates keep their precision: a year stays a year ([`PartialDate`]). ICD-10 codes are
//! kept in the dotted canonical form with the source spelling beside them ([`Icd10Code`]).
//! Consent is a projection of append-only events ([`consent::project`]), and audit and consent
//! rows are hash-chained ([`chain`]).

pub mod approval;
pub mod audit;
pub mod chain;
pub mod clinical;
pub mod consent;
pub mod dataset;
pub mod date;
mod error;
pub mod ids;
mod macros;
pub mod object;
pub mod participant;
pub mod recontact;
pub mod schema;
pub mod sequencing;
pub mod source;
pub mod specimen;
pub mod variant;

pub use approval::{Application, ApplicationDecision, Approval, ApprovalEvent, ApprovalStatus};
pub use audit::{AccessDecision, AuditEvent, AuditRecord};
pub use clinical::{
    Coding, Diagnosis, DiagnosisDetails, HpoId, Icd10Code, LabSpecimen, Measurement, Phenotype,
    PhenotypeStatus, Provenance, Quantity,
};
pub use consent::{
    ConsentEvent, ConsentEventKind, ConsentScopes, ConsentState, ConsentStatus, Recontact,
    WithdrawalLevel,
};
pub use dataset::{AccessLevel, DataUseCondition, Dataset, DuoCode};
pub use date::{PartialDate, Precision, YearMonth};
pub use error::ModelError;
pub use ids::{
    AnalysisId, ApprovalId, DatasetId, InstitutionId, ObjectId, ParticipantId, RecontactRequestId,
    RunId, SpecimenId,
};
pub use object::{Checksums, DataFormat, DataObject};
pub use participant::{Demographics, Participant, Program, Sex};
pub use recontact::{RecontactKind, RecontactRequest, RecontactStatus};
pub use sequencing::{Analysis, LibraryStrategy, SequencingRun};
pub use specimen::{Specimen, SpecimenDetails, SpecimenType};
pub use variant::{Allele, Chromosome, VariantKey};
