//! The real Human Phenotype Ontology release shipped with the project
//! (`ontologies/hpo/hp.obo.gz`, release `hp/releases/2025-01-16`), as the gateway loads it.

use std::sync::OnceLock;
use std::time::Instant;

use gemj_ontology::Ontology;

/// The ontology, parsed once for all tests of this file.
fn hpo() -> Option<&'static Ontology> {
    static HPO: OnceLock<Ontology> = OnceLock::new();
    Some(HPO.get_or_init(|| {
        let started = Instant::now();
        let hpo = Ontology::bundled().expect("the shipped hp.obo.gz parses");
        println!(
            "parsed the shipped HPO ({} compressed bytes, {} terms) in {:?}",
            gemj_ontology::BUNDLED_OBO_GZ.len(),
            hpo.len(),
            started.elapsed()
        );
        hpo
    }))
}

#[test]
fn the_shipped_file_is_the_pinned_release() {
    use std::io::Read as _;
    let mut text = Vec::new();
    flate2::read::MultiGzDecoder::new(gemj_ontology::BUNDLED_OBO_GZ)
        .read_to_end(&mut text)
        .expect("gzip");
    assert_eq!(text.len(), 10_021_952, "the release's size");
    assert_eq!(
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&text)),
        "6b77de067eecc838319ce7650ed5bab0f92a502eabb160e6bc7c0238bc1548c5",
        "the SHA-256 in ontologies/hpo/PROVENANCE.md"
    );
    assert!(Ontology::parse_obo_gz(b"not gzip").is_err());
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
