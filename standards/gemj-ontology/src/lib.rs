//! Ontology terms and code hierarchies for Beacon filter expansion.
//!
//! This crate owns two things, both pure and deterministic:
//!
//! - [`hpo`]: the Human Phenotype Ontology read from its OBO 1.2 text (`hp.obo`): the `[Term]`
//!   stanzas' ids, labels, `is_a` parents, obsolescence, `alt_id`s and `replaced_by`, as an
//!   [`Ontology`] with the transitive closure both ways ([`Ontology::descendants`] for expanding
//!   a filter such as `HP:0001250` "Seizure" to all its subtypes, [`Ontology::ancestors`]) and
//!   the mapping of secondary and obsolete ids to the current term ([`Ontology::resolve`]);
//! - [`icd10`]: ICD-10 codes by their structure alone ([`Icd10`]): normalization of the spellings
//!   clients send (`C341`, `c34.1`, `ICD10:C34.1` all become `C34.1`) and the hierarchy test
//!   [`Icd10::is_within`] against a category, a subcategory or a block range (`C00-C97`).
//!
//! It reads no files and does no other I/O: callers pass the ontology's text as `&str` and own
//! where it comes from (a deployment's configured path), or take the release shipped with the
//! project and compiled in ([`Ontology::bundled`], `<workspace>/ontologies/hpo/hp.obo.gz`). Parsing
//! never panics, whatever the input; malformed `[Term]` stanzas are errors with their line
//! number ([`OboError`]), and oddities that leave a usable ontology (an `is_a` to a term the
//! file does not define) are kept as [`OboWarning`]s.
//!
//! Invariant: every output is in file order or traversal order over file-ordered adjacency
//! lists, never in hash-map iteration order.

pub mod hpo;
pub mod icd10;

pub use hpo::{BUNDLED_OBO_GZ, OboError, OboWarning, Ontology};
pub use icd10::Icd10;
