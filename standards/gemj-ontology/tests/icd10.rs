//! ICD-10 normalization and the structural hierarchy.

use gemj_ontology::Icd10;

#[test]
fn normalizes_the_accepted_spellings() {
    for (input, expected) in [
        ("C34.1", "C34.1"),
        ("C341", "C34.1"),
        ("c34.1", "C34.1"),
        ("c341", "C34.1"),
        ("ICD10:C34.1", "C34.1"),
        ("icd10:c341", "C34.1"),
        ("ICD-10:C34", "C34"),
        ("ICD10CM:S72.001A", "S72.001A"),
        ("ICD-10-CM:s72001a", "S72.001A"),
        ("ICD10: C34.1", "C34.1"),
        ("  C34  ", "C34"),
        ("C34", "C34"),
        ("c34", "C34"),
        ("U07.1", "U07.1"),
        ("C4A.0", "C4A.0"),
        ("Z99.89", "Z99.89"),
    ] {
        assert_eq!(
            Icd10::normalize(input).as_deref(),
            Some(expected),
            "{input:?}"
        );
    }
}

#[test]
fn rejects_what_is_not_a_code() {
    for input in [
        "",
        " ",
        "C",
        "C3",
        "c3",
        "ICD10:C3",
        "ICD10:",
        "C34.",
        "C34..1",
        "C34.1.2",
        ".C34",
        "34.1",
        "CC4.1",
        "C3.41",
        "C34-1",
        "C34.12345",
        "C3412345",
        "C34.1†",
        "G01*",
        "C34 1",
        "C34.é",
        "Ç34",
        "ICD9:C34",
        "C00-C97",
        "HP:0001250",
    ] {
        assert_eq!(Icd10::normalize(input), None, "{input:?}");
        assert!(Icd10::parse(input).is_none(), "{input:?}");
    }
}

#[test]
fn parsed_codes_expose_their_parts() {
    let code = Icd10::parse("c341").unwrap();
    assert_eq!(code.as_str(), "C34.1");
    assert_eq!(code.to_string(), "C34.1");
    assert_eq!(code.category(), "C34");
    assert_eq!(code.subdivision(), Some("1"));
    assert!(!code.is_category());
    let category = Icd10::parse("C34").unwrap();
    assert!(category.is_category());
    assert_eq!(category.subdivision(), None);
    assert!(code.within(&category));
    assert!(!category.within(&code));
}

#[test]
fn a_code_is_within_its_category_and_itself() {
    assert!(Icd10::is_within("C34.1", "C34"));
    assert!(Icd10::is_within("C34.1", "C34.1"));
    assert!(Icd10::is_within("C34", "C34"));
    assert!(Icd10::is_within("c341", "ICD10:C34"));
    assert!(Icd10::is_within("ICD10:C34.1", "c34.1"));
    assert!(Icd10::is_within("S72.001A", "S72.0"));
    assert!(Icd10::is_within("S72.001A", "S72.00"));

    assert!(!Icd10::is_within("C34", "C34.1"), "a category is above");
    assert!(!Icd10::is_within("C34.1", "C34.2"));
    assert!(!Icd10::is_within("C34.1", "C35"));
    assert!(!Icd10::is_within("C35.1", "C3"), "C3 is not a category");
    assert!(!Icd10::is_within("C34.1", "C3"));
    assert!(!Icd10::is_within("C34.1", ""));
    assert!(!Icd10::is_within("", "C34"));
    assert!(!Icd10::is_within("C3", "C3"));
    assert!(!Icd10::is_within("nonsense", "C34"));
}

#[test]
fn ranges_contain_the_categories_between_their_ends() {
    assert!(Icd10::is_within("C34.1", "C00-C97"));
    assert!(Icd10::is_within("C00", "C00-C97"), "inclusive start");
    assert!(Icd10::is_within("C97", "C00-C97"), "inclusive end");
    assert!(Icd10::is_within("C97.9", "C00-C97"));
    assert!(Icd10::is_within("c341", "icd10:c00-c97"));
    assert!(Icd10::is_within("C34.1", " C00 - C97 "));
    assert!(Icd10::is_within("B20", "A00-B99"), "across letters");
    assert!(Icd10::is_within("C34", "C34-C34"));

    assert!(!Icd10::is_within("D00", "C00-C97"));
    assert!(!Icd10::is_within("C98", "C00-C97"));
    assert!(!Icd10::is_within("B99.9", "C00-C97"));
    assert!(!Icd10::is_within("C34.1", "C97-C00"), "start after end");
    assert!(
        !Icd10::is_within("C34.1", "C00.0-C97"),
        "ends are categories"
    );
    assert!(!Icd10::is_within("C34.1", "C00-C97.9"));
    assert!(!Icd10::is_within("C34.1", "C0-C97"));
    assert!(!Icd10::is_within("C34.1", "C00-"));
    assert!(!Icd10::is_within("C34.1", "-C97"));
    assert!(!Icd10::is_within("C34.1", "C00-C50-C97"));
    assert!(
        !Icd10::is_within("C00-C97", "C00-C97"),
        "a range is not a code"
    );
    assert!(!Icd10::is_within("C3", "C00-C97"));
}
