//! VCF sample columns to specimens: a sample name that parses as a [`SpecimenId`] names that
//! specimen; any other name is reported, never guessed at. The gateway then maps specimens to
//! participants through its store.
//!
//! Invariant: no lookup, no normalisation (case, prefixes): the sample name is the specimen id
//! or it is not.

use std::collections::HashMap;

use gemj_model::{SpecimenId, source::Diagnostic};

/// The specimen of each sample column, with diagnostics for the columns that have none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SampleSpecimens {
    /// One entry per sample column, in order: the specimen, or `None` when the name is not a
    /// specimen id (or repeats an earlier column's).
    pub specimens: Vec<Option<SpecimenId>>,
    /// One error per column without a specimen.
    pub diagnostics: Vec<Diagnostic>,
}

impl SampleSpecimens {
    /// The specimens found, in column order.
    pub fn found(&self) -> impl Iterator<Item = &SpecimenId> {
        self.specimens.iter().flatten()
    }
}

/// Maps sample names (as [`crate::variants::VariantReader::sample_names`] gives them) to
/// specimens. `file` names the input in diagnostics; messages give the column number and what
/// is wrong, not the name.
///
/// # Examples
///
/// ```
/// use gemj_genomes::specimens::specimens_of_samples;
///
/// let names = ["SP-0001-T".to_owned(), "tumour sample".to_owned(), "SP-0001-T".to_owned()];
/// let mapped = specimens_of_samples("x.vcf", &names);
/// assert_eq!(mapped.specimens[0].as_ref().map(|s| s.as_str()), Some("SP-0001-T"));
/// assert!(mapped.specimens[1].is_none());
/// assert!(mapped.specimens[2].is_none());
/// assert_eq!(mapped.diagnostics.len(), 2);
/// assert_eq!(mapped.found().count(), 1);
/// ```
#[must_use]
pub fn specimens_of_samples(file: &str, sample_names: &[String]) -> SampleSpecimens {
    let mut out = SampleSpecimens::default();
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, name) in sample_names.iter().enumerate() {
        let column = i + 1;
        let specimen = match SpecimenId::parse(name) {
            Ok(id) => match seen.get(name.as_str()) {
                Some(first) => {
                    out.diagnostics.push(Diagnostic::error(
                        file,
                        "header",
                        "sample",
                        format!("sample column {column} repeats the specimen of column {first}"),
                    ));
                    None
                }
                None => {
                    seen.insert(name, column);
                    Some(id)
                }
            },
            Err(e) => {
                let why = match &e {
                    gemj_model::ModelError::InvalidId { why, .. } => (*why).to_owned(),
                    gemj_model::ModelError::InvalidValue { why, .. } => why.clone(),
                };
                out.diagnostics.push(Diagnostic::error(
                    file,
                    "header",
                    "sample",
                    format!("sample column {column} is not a specimen id: {why}"),
                ));
                None
            }
        };
        out.specimens.push(specimen);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(names: &[&str], expect: &[Option<&str>], errors: usize) {
        let names: Vec<String> = names.iter().map(|s| (*s).to_owned()).collect();
        let got = specimens_of_samples("f.vcf", &names);
        let ids: Vec<Option<&str>> = got
            .specimens
            .iter()
            .map(|s| s.as_ref().map(SpecimenId::as_str))
            .collect();
        assert_eq!(ids, expect, "{names:?}");
        assert_eq!(got.diagnostics.len(), errors, "{names:?}");
    }

    #[test]
    fn sample_names() {
        check(&[], &[], 0);
        check(
            &["SP-0001-T", "SP-0001-B"],
            &[Some("SP-0001-T"), Some("SP-0001-B")],
            0,
        );
        check(&["SP-0002-B-DNA"], &[Some("SP-0002-B-DNA")], 0);
        check(&["NA00001"], &[Some("NA00001")], 0);
        check(&["has space"], &[None], 1);
        check(&["-x", "ok"], &[None, Some("ok")], 1);
        check(&["日本"], &[None], 1);
        check(&["a", "a"], &[Some("a"), None], 1);
        check(&[""], &[None], 1);
    }

    #[test]
    fn messages_name_the_column_not_the_value() -> Result<(), Box<dyn std::error::Error>> {
        let got = specimens_of_samples("f.vcf", &["Yamada Taro".to_owned()]);
        let d = got.diagnostics.first().ok_or("no diagnostic")?;
        assert!(d.message.contains("column 1"));
        assert!(!d.message.contains("Yamada"));
        assert_eq!(d.field.as_deref(), Some("sample"));
        Ok(())
    }
}
