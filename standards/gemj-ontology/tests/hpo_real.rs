//! The real Human Phenotype Ontology release from the shared data directory
//! (`GEMJ_SHARED_DIR`, else `../../../shared` from this crate):
//! `ontologies/hpo/hp.obo`, release `hp/releases/2025-01-16`.
//!
//! Skipped with a notice when the file is missing, except in CI (`CI=true`), where that fails.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Instant;

use gemj_ontology::Ontology;

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// The path of `hp.obo`; panics in CI when it is missing.
fn hp_obo() -> Option<PathBuf> {
    let dir = std::env::var_os("GEMJ_SHARED_DIR").map_or_else(
        || Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared")).to_path_buf(),
        PathBuf::from,
    );
    let path = dir.join("ontologies/hpo/hp.obo");
    if path.is_file() {
        Some(path)
    } else {
        assert!(
            !in_ci(),
            "{} is missing (set GEMJ_SHARED_DIR to the shared data directory)",
            path.display()
        );
        println!("notice: {} not found; skipping", path.display());
        None
    }
}

/// The ontology, parsed once for all tests of this file.
fn hpo() -> Option<&'static Ontology> {
    static HPO: OnceLock<Option<Ontology>> = OnceLock::new();
    HPO.get_or_init(|| {
        let path = hp_obo()?;
        let text = std::fs::read_to_string(&path).expect("hp.obo is UTF-8 text");
        let started = Instant::now();
        let hpo = Ontology::parse_obo(&text).expect("hp.obo parses");
        println!(
            "parsed {} ({} bytes, {} terms) in {:?}",
            path.display(),
            text.len(),
            hpo.len(),
            started.elapsed()
        );
        Some(hpo)
    })
    .as_ref()
}

#[test]
fn the_release_has_its_terms_and_labels() {
    let Some(hpo) = hpo() else { return };
    assert!(hpo.len() > 15_000, "{} terms", hpo.len());
    assert!(!hpo.is_empty());
    assert_eq!(hpo.data_version(), Some("hp/releases/2025-01-16"));
    assert_eq!(hpo.label("HP:0000118"), Some("Phenotypic abnormality"));
    assert_eq!(hpo.label("HP:0000001"), Some("All"));
    assert_eq!(hpo.label("HP:0001250"), Some("Seizure"));
    assert!(hpo.contains("HP:0001250"));
    assert!(!hpo.contains("HP:9999999"));
    assert_eq!(hpo.label("HP:9999999"), None);
    assert!(
        hpo.warnings().is_empty(),
        "unexpected warnings: {:?}",
        hpo.warnings()
    );
    // Typedef stanzas are not terms.
    assert!(!hpo.contains("part_of"));
}

#[test]
fn seizure_expands_to_its_subtypes_only() {
    let Some(hpo) = hpo() else { return };
    let below = hpo.descendants("HP:0001250");
    assert_eq!(below.first(), Some(&"HP:0001250"));
    assert!(
        below.contains(&"HP:0002069"),
        "Bilateral tonic-clonic seizure"
    );
    assert_eq!(
        hpo.label("HP:0002069"),
        Some("Bilateral tonic-clonic seizure")
    );
    assert!(!below.contains(&"HP:0000118"));
    assert!(!below.contains(&"HP:0000001"));
    let mut unique = below.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), below.len(), "each term once");
    assert!(below.len() > 50, "{} seizure terms", below.len());
    // Every descendant has Seizure among its ancestors.
    for id in &below {
        assert!(hpo.ancestors(id).contains(&"HP:0001250"), "{id}");
    }
}

#[test]
fn seizure_reaches_the_roots() {
    let Some(hpo) = hpo() else { return };
    let above = hpo.ancestors("HP:0001250");
    assert_eq!(above.first(), Some(&"HP:0001250"));
    assert!(above.contains(&"HP:0000118"));
    assert!(above.contains(&"HP:0000001"));
    assert!(!above.contains(&"HP:0002069"));
    assert!(
        hpo.parents("HP:0000001").next().is_none(),
        "All is the root"
    );
    assert!(hpo.children("HP:0000001").any(|c| c == "HP:0000118"));
    // The whole phenotype branch is most of the ontology; the root reaches every current term.
    let all = hpo.descendants("HP:0000001");
    let current = hpo.ids().filter(|id| !hpo.is_obsolete(id)).count();
    assert_eq!(all.len(), current);
}

#[test]
fn secondary_and_obsolete_ids_resolve() {
    let Some(hpo) = hpo() else { return };
    // `alt_id: HP:0004715` in the stanza of HP:0000003 "Multicystic kidney dysplasia".
    assert!(!hpo.contains("HP:0004715"));
    assert_eq!(hpo.resolve("HP:0004715"), Some("HP:0000003"));
    // `alt_id: HP:0001306` in the stanza of HP:0002069.
    assert_eq!(hpo.resolve("HP:0001306"), Some("HP:0002069"));
    assert_eq!(hpo.resolve("HP:0001250"), Some("HP:0001250"));
    assert_eq!(hpo.resolve("HP:9999999"), None);

    // HP:0000057 "obsolete Clitoromegaly": is_obsolete, replaced_by HP:0008665.
    assert!(hpo.contains("HP:0000057"));
    assert!(hpo.is_obsolete("HP:0000057"));
    assert_eq!(hpo.label("HP:0000057"), Some("obsolete Clitoromegaly"));
    assert_eq!(hpo.resolve("HP:0000057"), Some("HP:0008665"));
    assert_eq!(hpo.descendants("HP:0000057"), ["HP:0000057"]);
    // HP:0001122 is obsolete without replaced_by but an alt_id of HP:0000610.
    assert!(hpo.is_obsolete("HP:0001122"));
    assert_eq!(hpo.resolve("HP:0001122"), Some("HP:0000610"));
    // HP:0001726 is obsolete with neither.
    assert!(hpo.is_obsolete("HP:0001726"));
    assert_eq!(hpo.resolve("HP:0001726"), None);

    assert!(!hpo.is_obsolete("HP:0001250"));
    assert!(!hpo.is_obsolete("HP:0004715"), "alt ids are not terms");
    let obsolete = hpo.ids().filter(|id| hpo.is_obsolete(id)).count();
    assert_eq!(obsolete, 450, "`is_obsolete: true` lines in the release");
}
