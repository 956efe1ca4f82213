//! Data Use Ontology terms and the explainable match of a dataset's data-use conditions against
//! an approved research purpose.
//!
//! This crate owns two things, both pure (no I/O: callers pass file contents as `&str`) and
//! deterministic:
//!
//! - [`Ontology`]: the terms of a GA4GH DUO release read from its RDF/XML (`duo.owl`), with
//!   Japanese labels from the GEM Japan translation (`duo-japanese.owl`), the `rdfs:subClassOf`
//!   hierarchy ([`Ontology::is_a`]) and each term's kind (permission or modifier);
//! - [`match_purpose`]: the gateway's access rule "DUO matching between a dataset's data-use
//!   conditions and the approved purpose, deterministic and explainable: the decision says which
//!   term matched or failed; terms it cannot decide go to the committee, never to an automatic
//!   permit". The [`MatchResult`] has one [`TermResult`] per dataset term, the permission first
//!   and the modifiers in the condition's order, each with an [`Outcome`] and a reason in English
//!   and Japanese quoting the DUO definition it applied.
//!
//! # Matching rules
//!
//! The rules follow DUO's own definitions (quoted from the 2021-02-23 release) and its README
//! ("How does querying work when using DUO?": a purpose is stated at its most specific level and
//! matches datasets tagged with the same or a more general term). Where the hierarchy expresses
//! a rule, [`Ontology::is_a`] decides; the ids the rules key on are in [`ids`].
//!
//! ## The permission
//!
//! | Dataset | Permits a purpose whose primary term is | DUO |
//! |---|---|---|
//! | NRES DUO:0000004 | anything | "This data use permission indicates there is no restriction on use." |
//! | GRU DUO:0000042 | GRU, HMB, DS (by the hierarchy) and POA (by GRU's comment) | "...allowed for general research use for any research purpose." Comment: "This includes but is not limited to: health/medical/biomedical purposes, fundamental biology research, the study of population origins or ancestry, statistical methods and algorithms development, and social-sciences research." |
//! | HMB DUO:0000006 | HMB, DS; never a purpose that includes population origins or ancestry research | "...allowed for health/medical/biomedical purposes; does not include the study of population origins or ancestry." |
//! | DS DUO:0000007 | DS, when every disease of the purpose is the dataset's disease or a subtype of it ([`DiseaseHierarchy`]; undecidable: committee) | "...allowed provided it is related to the specified disease." |
//! | POA DUO:0000011 | POA only | "...limited to the study of population origins or ancestry." |
//!
//! In this release HMB is a subclass of GRU and DS of HMB, so "the purpose's primary term is the
//! dataset's permission or a descendant" gives the GRU, HMB and DS rows. POA is asserted under
//! DUO:0000001 only, not under GRU; GRU's `rdfs:comment` includes "the study of population
//! origins or ancestry", and the DUOS table in the DUO README maps "Study population origins or
//! ancestry" to "Any dataset tagged with GRU". So GRU permits POA purposes by that comment; a
//! release whose GRU comment no longer says so sends the case to the committee. NRES as a
//! purpose (use beyond research) is not a kind of GRU and is denied by a GRU dataset.
//!
//! Research is not clinical care: a purpose that includes clinical care is denied on the
//! permission line unless the permission is NRES or the dataset has CC (DUO:0000043, "use is
//! allowed for clinical use and care"; DUO split the obsolete GRU-CC into GRU and CC).
//!
//! ## The modifiers
//!
//! | Modifier | Denies when | DUO |
//! |---|---|---|
//! | NCU DUO:0000046 | the use is for profit | "...limited to not-for-profit use." Comment: "data can be used by commercial organisations for research purposes, but not commercial purposes." |
//! | NPU DUO:0000045 | the organisation is for-profit (unknown: committee) | "...limited to not-for-profit organizations." |
//! | NPUNCU DUO:0000018 | either of the two | "...limited to not-for-profit organizations and not-for-profit use, non-commercial use." |
//! | GS DUO:0000022 | the country of processing is not allowed (no list: committee) | "...limited to within a specific geographic region." |
//! | IS / PS / US DUO:0000028/27/26 | the institution / project / user is not listed (no list: committee) | "...limited to use within an approved institution" / "project" / "by approved users." |
//! | IRB DUO:0000021 | no ethics approval | "...must provide documentation of local IRB/ERB approval." |
//! | PUB DUO:0000019 | no agreement to publish | "...agrees to make results of studies using the data available to the larger scientific community." |
//! | RTN DUO:0000029 | no agreement to return data | "...must return derived/enriched data to the database/resource." |
//! | COL DUO:0000020 | no agreed collaboration | "...must agree to collaboration with the primary study investigator(s)." |
//! | TS DUO:0000025 | the period is not within the limit | "...use is approved for a specific number of months." |
//! | MOR DUO:0000024 | no agreement to the moratorium | "...agrees not to publish results of studies until a specific date." |
//! | GSO DUO:0000016 | the research is not a genetic study | "...limited to genetic studies only (i.e., studies that include genotype research alone or both genotype and phenotype research, but not phenotype research exclusively)" |
//! | NMDS DUO:0000015 | the purpose includes methods development | "...does not allow methods development research (e.g., development of software or algorithms)." |
//! | NPOA DUO:0000044 | the purpose includes population origins or ancestry research | "...use for purposes of population, origin, or ancestry research is prohibited." |
//! | CC DUO:0000043 | never: it extends, not restricts | "...use is allowed for clinical use and care." |
//! | RS DUO:0000012 | always committee: the research type is not in the approval | "...limited to studies of a certain research type." |
//!
//! NPU and NCU are subclasses of NPUNCU in this release, but a subclass here is a *weaker*
//! restriction, so the hierarchy is not used for them: each has its own rule.
//!
//! Any other term goes to the committee: a term the release does not have, an obsolete term
//! (GRU-CC, RU), a modifier in the permission slot or the reverse, an abstract root
//! (DUO:0000001, DUO:0000017), a modifier without a rule (including ones a later release adds),
//! an approved purpose whose primary term is not a current permission, a DS dataset or purpose
//! without a disease, and a disease the hierarchy cannot place.
//!
//! # Examples
//!
//! See [`match_purpose`].
//!
//! Invariant: no I/O, no clock, no randomness, no hash-map iteration order in any output; no
//! panics on any input (a malformed ontology is a [`DuoError`], an unusable term is a committee
//! line). The release is an input, and the gateway records which release decided
//! ([`MatchResult::duo_version`]); [`Ontology::bundled`] parses the release shipped with the
//! project (`<workspace>/ontologies/duo`, compiled in), which a deployment may replace with a
//! newer one through its configuration.

mod error;
pub mod ids;
mod matching;
mod ontology;
mod purpose;
mod xml;

pub use error::{Document, DuoError};
pub use matching::{
    DiseaseGraph, DiseaseHierarchy, MatchContext, MatchResult, NoDiseaseHierarchy, Outcome,
    TermResult, TermRole, match_purpose,
};
pub use ontology::{BUNDLED_JAPANESE_OWL, BUNDLED_OWL, Ontology, Restriction, Term, TermKind};
pub use purpose::ResearchPurpose;

/// Test support: the DUO files shipped with the project (`<workspace>/ontologies/duo`).
#[cfg(test)]
pub(crate) mod testing {
    use std::path::Path;
    use std::sync::OnceLock;

    use crate::{DuoError, Ontology};

    /// The shipped files, read once.
    pub(crate) struct Files {
        pub duo_owl: String,
        pub japanese_owl: String,
        pub duo_csv: String,
        pub derived_tsv: String,
    }

    fn read(name: &str) -> String {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../ontologies/duo")
            .join(name);
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
    }

    /// The shipped files.
    pub(crate) fn files() -> &'static Files {
        static FILES: OnceLock<Files> = OnceLock::new();
        FILES.get_or_init(|| Files {
            duo_owl: read("duo.owl"),
            japanese_owl: read("duo-japanese.owl"),
            duo_csv: read("duo.csv"),
            derived_tsv: read("duo-terms-derived.tsv"),
        })
    }

    /// The real release with the Japanese translation, parsed once.
    pub(crate) fn ontology() -> Result<&'static Ontology, Box<dyn std::error::Error>> {
        static ONTOLOGY: OnceLock<Result<Ontology, DuoError>> = OnceLock::new();
        ONTOLOGY
            .get_or_init(Ontology::bundled)
            .as_ref()
            .map_err(|e| e.clone().into())
    }

    /// A minimal RFC 4180 reader: rows of fields, quotes and doubled quotes honoured.
    pub(crate) fn csv(text: &str) -> Vec<Vec<String>> {
        let mut rows = Vec::new();
        let mut row = Vec::new();
        let mut field = String::new();
        let mut quoted = false;
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match (c, quoted) {
                ('"', true) if chars.peek() == Some(&'"') => {
                    field.push('"');
                    chars.next();
                }
                ('"', _) => quoted = !quoted,
                (',', false) => row.push(std::mem::take(&mut field)),
                ('\r', false) => {}
                ('\n', false) => {
                    row.push(std::mem::take(&mut field));
                    rows.push(std::mem::take(&mut row));
                }
                (c, _) => field.push(c),
            }
        }
        if !field.is_empty() || !row.is_empty() {
            row.push(field);
            rows.push(row);
        }
        rows
    }
}
