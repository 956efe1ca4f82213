//! The manifest's controlled values: MIABIS material types, UCUM units, donor sex and anatomical
//! site ontologies.

use gemj_model::{Sex, SpecimenType};

/// The code system of ICD-O-3 (topography and morphology) used for anatomical sites.
pub const ICD_O_3_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/icd-o-3";

/// The code system of SNOMED CT.
pub const SNOMED_CT_SYSTEM: &str = "http://snomed.info/sct";

/// The code system of UBERON.
pub const UBERON_SYSTEM: &str = "http://purl.obolibrary.org/obo/uberon.owl";

/// A MIABIS material type label as a specimen type; unknown labels are kept as
/// [`SpecimenType::Other`].
///
/// # Examples
/// ```
/// use gemj_biobank::vocabulary::sample_type;
/// use gemj_model::SpecimenType;
/// assert_eq!(sample_type("Tissue (fresh frozen)"), SpecimenType::Tissue);
/// assert_eq!(sample_type("whole blood"), SpecimenType::WholeBlood);
/// assert_eq!(sample_type("Urine"), SpecimenType::Other("Urine".into()));
/// ```
#[must_use]
pub fn sample_type(label: &str) -> SpecimenType {
    let label = label.trim();
    match label.to_ascii_lowercase().as_str() {
        "whole blood" => SpecimenType::WholeBlood,
        "serum" => SpecimenType::Serum,
        "plasma" => SpecimenType::Plasma,
        "dna" => SpecimenType::Dna,
        "rna" => SpecimenType::Rna,
        "saliva" => SpecimenType::Saliva,
        "buffy coat" => SpecimenType::BuffyCoat,
        "tissue" | "tissue (fresh frozen)" | "tissue (frozen)" | "tissue (ffpe)" => {
            SpecimenType::Tissue
        }
        _ => SpecimenType::Other(label.to_owned()),
    }
}

/// The UCUM code of a unit as manifests write it (`µg` → `ug`), or `None` when unknown.
///
/// # Examples
/// ```
/// use gemj_biobank::vocabulary::ucum_unit;
/// assert_eq!(ucum_unit("\u{b5}g"), Some("ug"));
/// assert_eq!(ucum_unit("ml"), Some("mL"));
/// assert_eq!(ucum_unit("tubes"), None);
/// ```
#[must_use]
pub fn ucum_unit(unit: &str) -> Option<&'static str> {
    let code = match unit.trim() {
        // U+00B5 MICRO SIGN and U+03BC GREEK SMALL LETTER MU are both written for "micro".
        "\u{b5}g" | "\u{3bc}g" | "ug" | "mcg" => "ug",
        "mg" => "mg",
        "ng" => "ng",
        "g" => "g",
        "mL" | "ml" | "ML" => "mL",
        "\u{b5}L" | "\u{3bc}L" | "uL" | "ul" | "\u{b5}l" | "\u{3bc}l" => "uL",
        "L" | "l" => "L",
        _ => return None,
    };
    Some(code)
}

/// A donor sex label (MIABIS `Male`/`Female`/`Unknown`/`Undifferentiated`, or Japanese).
///
/// # Examples
/// ```
/// use gemj_biobank::vocabulary::donor_sex;
/// use gemj_model::Sex;
/// assert_eq!(donor_sex("Female"), Some(Sex::Female));
/// assert_eq!(donor_sex("男性"), Some(Sex::Male));
/// assert_eq!(donor_sex("x"), None);
/// ```
#[must_use]
pub fn donor_sex(label: &str) -> Option<Sex> {
    let sex = match label.trim().to_ascii_lowercase().as_str() {
        "male" | "m" | "男性" | "男" => Sex::Male,
        "female" | "f" | "女性" | "女" => Sex::Female,
        "unknown" | "u" | "不明" => Sex::Unknown,
        "other" | "undifferentiated" | "その他" => Sex::Other,
        _ => return None,
    };
    Some(sex)
}

/// The code system URI of an anatomical-site ontology name, or `None` when unknown.
#[must_use]
pub(crate) fn site_system(ontology: &str) -> Option<&'static str> {
    let system = match ontology.trim().to_ascii_uppercase().as_str() {
        "ICD-O-3" | "ICDO3" | "ICD-O" | "ICD-O-3.1" | "ICD-O-3.2" => ICD_O_3_SYSTEM,
        "SNOMED CT" | "SNOMED-CT" | "SNOMEDCT" | "SCT" => SNOMED_CT_SYSTEM,
        "UBERON" => UBERON_SYSTEM,
        _ => return None,
    };
    Some(system)
}

/// Whether `code` is an ICD-O-3 topography code (`C16.9`, `C169`, `C16`).
#[must_use]
pub(crate) fn is_icd_o_3_topography(code: &str) -> bool {
    let b = code.as_bytes();
    match b {
        [b'C', d1, d2] => d1.is_ascii_digit() && d2.is_ascii_digit(),
        [b'C', d1, d2, d3] => d1.is_ascii_digit() && d2.is_ascii_digit() && d3.is_ascii_digit(),
        [b'C', d1, d2, b'.', d3] => {
            d1.is_ascii_digit() && d2.is_ascii_digit() && d3.is_ascii_digit()
        }
        _ => false,
    }
}

/// Whether `s` is a non-negative decimal number (`7`, `0.2`, `1.50`).
#[must_use]
pub(crate) fn is_decimal(s: &str) -> bool {
    let (int, frac) = s.split_once('.').unwrap_or((s, "0"));
    !int.is_empty()
        && !frac.is_empty()
        && int.len() + frac.len() <= 32
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_types() {
        let check = |label: &str, expect: SpecimenType| assert_eq!(sample_type(label), expect);
        check("Whole blood", SpecimenType::WholeBlood);
        check("Serum", SpecimenType::Serum);
        check("Plasma", SpecimenType::Plasma);
        check("DNA", SpecimenType::Dna);
        check("RNA", SpecimenType::Rna);
        check("Saliva", SpecimenType::Saliva);
        check("Buffy coat", SpecimenType::BuffyCoat);
        check("Tissue (fresh frozen)", SpecimenType::Tissue);
        check("Tissue (FFPE)", SpecimenType::Tissue);
        check(" DNA ", SpecimenType::Dna);
        check("Urine", SpecimenType::Other("Urine".into()));
        check("全血", SpecimenType::Other("全血".into()));
    }

    #[test]
    fn units() {
        let check =
            |unit: &str, expect: Option<&str>| assert_eq!(ucum_unit(unit), expect, "{unit}");
        check("\u{b5}g", Some("ug"));
        check("\u{3bc}g", Some("ug"));
        check("ug", Some("ug"));
        check("mL", Some("mL"));
        check("g", Some("g"));
        check("\u{b5}L", Some("uL"));
        check("kg", None);
        check("", None);
    }

    #[test]
    fn decimals() {
        let check = |s: &str, ok: bool| assert_eq!(is_decimal(s), ok, "{s}");
        check("7", true);
        check("0.2", true);
        check("1.5", true);
        check("", false);
        check(".5", false);
        check("5.", false);
        check("-1", false);
        check("1e3", false);
        check("1.2.3", false);
        check(&"9".repeat(33), false);
    }

    #[test]
    fn topography() {
        let check = |s: &str, ok: bool| assert_eq!(is_icd_o_3_topography(s), ok, "{s}");
        check("C16.9", true);
        check("C169", true);
        check("C16", true);
        check("C16.", false);
        check("8140/3", false);
        check("c16.9", false);
    }
}
