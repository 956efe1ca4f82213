//! The ingest report: every input record's outcome, counted per record kind, with the reason
//! of each quarantined record and the adapters' diagnostics. Its JSON Schema is
//! `schemas/gemj-ingest-report.schema.json`. It names files, positions and ids, never record
//! contents.

use std::collections::BTreeMap;

use gemj_model::Provenance;
use gemj_model::source::Diagnostic;

/// What happened to one input record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Stored as a new record.
    Created,
    /// Merged into a stored record, which changed.
    Merged,
    /// Everything it says is stored already.
    Unchanged,
    /// A deletion by the source, applied.
    Deleted,
    /// Kept out of the store, with a reason.
    Quarantined,
}

/// Counts of outcomes.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
pub struct Counts {
    /// Input records read (the sum of the others).
    pub records: u64,
    /// Stored as new.
    pub created: u64,
    /// Merged into a stored record.
    pub merged: u64,
    /// Already stored.
    pub unchanged: u64,
    /// Deletions applied.
    pub deleted: u64,
    /// Kept out, with a reason.
    pub quarantined: u64,
}

impl Counts {
    fn add(&mut self, outcome: Outcome) {
        self.records += 1;
        match outcome {
            Outcome::Created => self.created += 1,
            Outcome::Merged => self.merged += 1,
            Outcome::Unchanged => self.unchanged += 1,
            Outcome::Deleted => self.deleted += 1,
            Outcome::Quarantined => self.quarantined += 1,
        }
    }

    fn absorb(&mut self, other: Counts) {
        self.records += other.records;
        self.created += other.created;
        self.merged += other.merged;
        self.unchanged += other.unchanged;
        self.deleted += other.deleted;
        self.quarantined += other.quarantined;
    }

    /// Whether the outcomes add up to the records read.
    #[must_use]
    pub fn adds_up(&self) -> bool {
        self.created + self.merged + self.unchanged + self.deleted + self.quarantined
            == self.records
    }

    /// Whether the ingest wrote nothing (every record unchanged or quarantined).
    #[must_use]
    pub fn changed_nothing(&self) -> bool {
        self.created == 0 && self.merged == 0 && self.deleted == 0
    }
}

/// A record kept out of the store.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct Quarantined {
    /// Source kind.
    pub source: String,
    /// The input file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Where in it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<String>,
    /// The record kind (`diagnosis`, `specimen`, ...; `unreadable` when the adapter could not
    /// read it).
    pub kind: String,
    /// Why.
    pub reason: String,
}

/// Where one input record went: its position, kind and outcome, the participant it is about
/// and the key of what it became (the ICD-10 code of a diagnosis, a specimen's id, a
/// measurement's order, system, code and time). Kept in input order and not serialised: the
/// FHIR transaction response is built from it, one entry per request entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placed {
    /// The record's position in its input (`entry 2 (Specimen)`).
    pub position: Option<String>,
    /// The record kind.
    pub kind: String,
    /// Its outcome.
    pub outcome: Outcome,
    /// The participant it is about, when resolved.
    pub participant: Option<gemj_model::ParticipantId>,
    /// The key of what it became.
    pub key: Vec<String>,
    /// Why it was quarantined.
    pub reason: Option<String>,
}

/// A value that disagreed with the stored one (the stored one was kept).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct Conflict {
    /// The input file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Where in it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<String>,
    /// The field.
    pub field: String,
}

/// The report of an ingest run.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct IngestReport {
    /// The input kind (`ssmix2`, `fhir`, `redcap`, `odm`, `biobank`, `genome`).
    pub kind: String,
    /// Whether this was a dry run (nothing was committed).
    pub dry_run: bool,
    /// Input files read.
    pub files: u64,
    /// Outcomes of every record.
    pub totals: Counts,
    /// Outcomes per record kind.
    pub by_kind: BTreeMap<String, Counts>,
    /// Records kept out of the store, with reasons.
    pub quarantined: Vec<Quarantined>,
    /// Values that disagreed with what was stored.
    pub conflicts: Vec<Conflict>,
    /// Names, addresses, postal codes and phone numbers read and dropped (never stored).
    pub identifying_fields_dropped: u64,
    /// What the adapters had to say (warnings and errors, by file and position).
    pub diagnostics: Vec<Diagnostic>,
    /// Genome files registered and variant rows loaded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub genomes: Option<GenomeCounts>,
    /// Each record's outcome with its position, in input order (not serialised).
    #[serde(skip)]
    #[schemars(skip)]
    pub placed: Vec<Placed>,
    /// Files refused whole (not the format, or not valid against its schema): each is counted
    /// as one quarantined record of kind `file`. Always present (empty when none), as the
    /// report's schema requires.
    pub refused_files: Vec<RefusedFile>,
}

/// A file refused whole.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct RefusedFile {
    /// The file.
    pub file: String,
    /// Why.
    pub reason: String,
    /// The validation errors (`<JSON pointer>: <message>`), when the file failed its schema
    /// (empty otherwise; always present, as the schema requires).
    pub errors: Vec<String>,
}

/// Genome file registration and variant loading.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct GenomeCounts {
    /// Objects (files and indexes) registered or updated.
    pub objects_registered: u64,
    /// Indexes built because the file had none.
    pub indexes_built: u64,
    /// Variant records read.
    pub variant_records: u64,
    /// Alleles new to the dataset.
    pub variants_created: u64,
    /// Stored alleles that gained carriers.
    pub variants_merged: u64,
    /// Alleles already stored with these carriers.
    pub variants_unchanged: u64,
    /// Alleles no sample carries.
    pub variants_without_carriers: u64,
}

impl IngestReport {
    /// A report for an input kind.
    #[must_use]
    pub fn new(kind: &str, dry_run: bool) -> Self {
        Self {
            kind: kind.to_owned(),
            dry_run,
            ..Self::default()
        }
    }

    /// Counts one record's outcome.
    pub fn record(&mut self, kind: &str, outcome: Outcome) {
        self.totals.add(outcome);
        self.by_kind
            .entry(kind.to_owned())
            .or_default()
            .add(outcome);
    }

    /// Places a record that was not quarantined (see [`Placed`]).
    pub fn place(
        &mut self,
        provenance: &Provenance,
        kind: &str,
        outcome: Outcome,
        participant: &gemj_model::ParticipantId,
        key: Vec<String>,
    ) {
        self.placed.push(Placed {
            position: provenance.position.clone(),
            kind: kind.to_owned(),
            outcome,
            participant: Some(participant.clone()),
            key,
            reason: None,
        });
    }

    /// Lists a quarantined record (its outcome is counted by [`IngestReport::record`]).
    pub fn quarantine(&mut self, provenance: &Provenance, kind: &str, reason: &str) {
        self.placed.push(Placed {
            position: provenance.position.clone(),
            kind: kind.to_owned(),
            outcome: Outcome::Quarantined,
            participant: None,
            key: Vec::new(),
            reason: Some(reason.to_owned()),
        });
        self.quarantined.push(Quarantined {
            source: provenance.source.clone(),
            file: provenance.file.clone(),
            position: provenance.position.clone(),
            kind: kind.to_owned(),
            reason: reason.to_owned(),
        });
    }

    /// Refuses a whole file: one quarantined record of kind `file`.
    pub fn refuse_file(&mut self, source: &str, file: &str, reason: &str, errors: Vec<String>) {
        self.record("file", Outcome::Quarantined);
        self.quarantined.push(Quarantined {
            source: source.to_owned(),
            file: Some(file.to_owned()),
            position: None,
            kind: "file".to_owned(),
            reason: reason.to_owned(),
        });
        self.refused_files.push(RefusedFile {
            file: file.to_owned(),
            reason: reason.to_owned(),
            errors,
        });
    }

    /// Lists a conflicting value.
    pub fn conflict(&mut self, provenance: &Provenance, field: &str) {
        self.conflicts.push(Conflict {
            file: provenance.file.clone(),
            position: provenance.position.clone(),
            field: field.to_owned(),
        });
    }

    /// Adds another report's outcomes (of another file or batch of the same run).
    pub fn absorb(&mut self, other: IngestReport) {
        self.files += other.files;
        self.totals.absorb(other.totals);
        for (k, c) in other.by_kind {
            self.by_kind.entry(k).or_default().absorb(c);
        }
        self.quarantined.extend(other.quarantined);
        self.conflicts.extend(other.conflicts);
        self.identifying_fields_dropped += other.identifying_fields_dropped;
        self.diagnostics.extend(other.diagnostics);
        self.refused_files.extend(other.refused_files);
        self.placed.extend(other.placed);
        if let Some(g) = other.genomes {
            let mine = self.genomes.get_or_insert_with(GenomeCounts::default);
            mine.objects_registered += g.objects_registered;
            mine.indexes_built += g.indexes_built;
            mine.variant_records += g.variant_records;
            mine.variants_created += g.variants_created;
            mine.variants_merged += g.variants_merged;
            mine.variants_unchanged += g.variants_unchanged;
            mine.variants_without_carriers += g.variants_without_carriers;
        }
    }
}

/// The JSON Schema of the report (`schemas/gemj-ingest-report.schema.json`).
#[must_use]
pub fn json_schema() -> serde_json::Value {
    let mut schema = serde_json::to_value(schemars::schema_for!(IngestReport)).unwrap_or_default();
    if let Some(o) = schema.as_object_mut() {
        o.insert(
            "$id".to_owned(),
            serde_json::json!("https://gemj.example.jp/schemas/gemj-ingest-report.schema.json"),
        );
    }
    schema
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `schemas/gemj-ingest-report.schema.json` must equal the generated schema. Regenerate with
    /// `GEMJ_BLESS=1 cargo test -p gemj-ingest --lib report`.
    #[test]
    fn committed_schema_is_current() -> Result<(), Box<dyn std::error::Error>> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../schemas/gemj-ingest-report.schema.json");
        let generated = format!("{}\n", serde_json::to_string_pretty(&json_schema())?);
        if std::env::var_os("GEMJ_BLESS").is_some() {
            std::fs::write(&path, &generated)?;
        }
        let committed = std::fs::read_to_string(&path)?;
        assert!(
            committed == generated,
            "schemas/gemj-ingest-report.schema.json is stale: run GEMJ_BLESS=1 cargo test -p gemj-ingest --lib report"
        );
        Ok(())
    }

    #[test]
    fn outcomes_add_up() {
        let mut r = IngestReport::new("test", false);
        let p = Provenance {
            source: "test".to_owned(),
            file: Some("f".to_owned()),
            position: Some("line 2".to_owned()),
            value: None,
        };
        r.record("diagnosis", Outcome::Created);
        r.record("diagnosis", Outcome::Unchanged);
        r.record("specimen", Outcome::Quarantined);
        r.quarantine(&p, "specimen", "why");
        r.refuse_file("test", "g", "not CSV", Vec::new());
        assert!(r.totals.adds_up());
        assert_eq!(r.totals.records, 4);
        assert_eq!(r.totals.quarantined, 2);
        assert_eq!(r.quarantined.len(), 2);
        assert!(!r.totals.changed_nothing());
        let mut total = IngestReport::new("test", false);
        total.absorb(r.clone());
        total.absorb(r);
        assert_eq!(total.totals.records, 8);
        assert_eq!(total.by_kind["diagnosis"].records, 4);
    }
}
