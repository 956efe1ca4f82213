//! The canonical model as a JSON Schema (draft 2020-12), generated from the types so that it
//! cannot drift from them. `schemas/gemj-model.schema.json` is this document; a test keeps it
//! current.

use schemars::generate::SchemaSettings;

use crate::{
    Analysis, Approval, AuditEvent, AuditRecord, ConsentEvent, ConsentState, DataObject, Dataset,
    Demographics, Diagnosis, Measurement, Participant, Phenotype, RecontactRequest, SequencingRun,
    Specimen, VariantKey,
};

/// The `$id` of the generated document.
pub const SCHEMA_ID: &str = "https://gemj.example.jp/schemas/gemj-model.schema.json";

/// The JSON Schema of every canonical record type, under `$defs`.
#[must_use]
pub fn json_schema() -> serde_json::Value {
    let mut generator = SchemaSettings::draft2020_12().into_generator();
    generator.subschema_for::<Participant>();
    generator.subschema_for::<Specimen>();
    generator.subschema_for::<SequencingRun>();
    generator.subschema_for::<Analysis>();
    generator.subschema_for::<DataObject>();
    generator.subschema_for::<Dataset>();
    generator.subschema_for::<Diagnosis>();
    generator.subschema_for::<Phenotype>();
    generator.subschema_for::<Measurement>();
    generator.subschema_for::<Demographics>();
    generator.subschema_for::<VariantKey>();
    generator.subschema_for::<ConsentEvent>();
    generator.subschema_for::<ConsentState>();
    generator.subschema_for::<RecontactRequest>();
    generator.subschema_for::<Approval>();
    generator.subschema_for::<AuditEvent>();
    generator.subschema_for::<AuditRecord>();
    let defs = generator.take_definitions(true);
    serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "GeMJ canonical model",
        "description": "Record types of the GeMJ canonical model (gemj-model). Generated from the Rust types; do not edit by hand.",
        "$defs": defs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `schemas/gemj-model.schema.json` must equal the generated schema. Regenerate with
    /// `GEMJ_BLESS=1 cargo test -p gemj-model schema`.
    #[test]
    fn committed_schema_is_current() -> Result<(), Box<dyn std::error::Error>> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../schemas/gemj-model.schema.json");
        let generated = format!("{}\n", serde_json::to_string_pretty(&json_schema())?);
        if std::env::var_os("GEMJ_BLESS").is_some() {
            std::fs::write(&path, &generated)?;
        }
        let committed = std::fs::read_to_string(&path)?;
        assert!(
            committed == generated,
            "schemas/gemj-model.schema.json is stale: run GEMJ_BLESS=1 cargo test -p gemj-model schema"
        );
        Ok(())
    }

    #[test]
    fn every_record_type_is_defined() {
        let schema = json_schema();
        for name in [
            "Participant",
            "Specimen",
            "DataObject",
            "Dataset",
            "Diagnosis",
            "Phenotype",
            "ConsentEvent",
            "ConsentState",
            "AuditEvent",
        ] {
            assert!(schema["$defs"].get(name).is_some(), "{name} missing");
        }
    }
}
