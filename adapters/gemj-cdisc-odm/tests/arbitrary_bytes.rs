//! Robustness: random bytes, XML-shaped noise and mutations of the real export through every
//! public entry point. Nothing may panic, and the output stays bounded by the input's size.

#[path = "../../testing/robustness.rs"]
mod robustness;

use std::error::Error;

use gemj_cdisc_odm::{OdmOptions, read_bytes, read_odm};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use robustness::{check_bound, flips_and_truncations, seeded, token_noise};

/// The synthetic EDC export shipped in `examples/adapters`.
fn export() -> Result<Vec<u8>, Box<dyn Error>> {
    let shipped =
        gemj_schemas::testing::examples_dir().join("adapters/odm/gemj-edc-export.odm.xml");
    Ok(std::fs::read(shipped)?)
}

/// Runs every entry point on `bytes` and checks the output bound.
fn exercise(bytes: &[u8]) {
    let extract = read_bytes(bytes);
    check_bound(bytes, &format!("{extract:?}"));
    let options = OdmOptions {
        file: "export.xml".into(),
        institution: "9999999999".parse().ok(),
        ..OdmOptions::default()
    };
    if let Ok(extract) = read_odm(bytes, &options) {
        check_bound(bytes, &format!("{extract:?}"));
    }
}

#[test]
fn random_bytes() {
    robustness::random_inputs(0x6f64_6d31, 3000, 512, exercise);
}

#[test]
fn xml_shaped_noise() -> Result<(), Box<dyn Error>> {
    let export = export()?;
    let root_end = export
        .windows(2)
        .position(|w| w == b"\">")
        .map_or(0, |i| i + 2);
    let tokens: &[&[u8]] = &[
        b"<ClinicalData StudyOID=\"ST.GEMJ.TEST\" MetaDataVersionOID=\"MDV.1\">",
        b"</ClinicalData>",
        b"<SubjectData SubjectKey=\"GEMJ-TEST-0001\">",
        b"<SubjectData SubjectKey=\"x y\">",
        b"</SubjectData>",
        b"<StudyEventData StudyEventOID=\"SE\" StudyEventRepeatKey=\"2\">",
        b"</StudyEventData>",
        b"<FormData FormOID=\"F.CADX\">",
        b"</FormData>",
        b"<ItemGroupData ItemGroupOID=\"IG.HPO\" ItemGroupRepeatKey=\"1\">",
        b"</ItemGroupData>",
        b"<ItemData ItemOID=\"I.HPO_ID\" Value=\"HP:0001166\"/>",
        b"<ItemData ItemOID=\"I.HPO_EXCL\" Value=\"true\"/>",
        b"<ItemData ItemOID=\"I.CA_ICD10\" Value=\"C169\"/>",
        b"<ItemData ItemOID=\"I.ECOG\" Value=\"9\"/>",
        b"<ItemData ItemOID=\"I.BRTHDTC\" Value=\"1989-01-07\"/>",
        b"<ItemDataString ItemOID=\"I.TUMOR_SPEC\">SP-1</ItemDataString>",
        b"<ItemData ItemOID=\"I.SEX\" Value=\"&amp;&#x41;&bogus;\"/>",
        b"<Study OID=\"S\"><MetaDataVersion OID=\"M\">",
        b"<ItemDef OID=\"I.ECOG\" DataType=\"integer\">",
        b"<RangeCheck Comparator=\"LE\" SoftHard=\"Hard\"><CheckValue>4</CheckValue></RangeCheck>",
        b"</ItemDef>",
        b"<CodeList OID=\"CL\"><CodeListItem CodedValue=\"M\"><Decode><TranslatedText>",
        b"</TranslatedText></Decode></CodeListItem></CodeList>",
        b"</MetaDataVersion></Study>",
        b"<x>",
        b"</x>",
        b"<![CDATA[ a ]]>",
        b"<!-- c -->",
        b"&lt;",
        b" ",
        b"\n",
        b"\xff",
        b"</ODM>",
    ];
    let start = |rng: &mut ChaCha8Rng| {
        if rng.random_bool(0.8) {
            export[..root_end].to_vec()
        } else {
            Vec::new()
        }
    };
    token_noise(0x0c5f_0002, 3000, start, tokens, 150, exercise);
    Ok(())
}

#[test]
fn mutations_of_the_real_export() -> Result<(), Box<dyn Error>> {
    let export = export()?;
    let mut rng = seeded(0x6d75_7432);
    flips_and_truncations(&mut rng, &export, 2000, exercise);
    let text = String::from_utf8_lossy(&export).into_owned();
    // Duplicated subjects: the same SubjectData a thousand times.
    if let (Some(start), Some(end)) = (text.find("<SubjectData"), text.find("</ClinicalData>")) {
        let subjects = &text[start..end];
        let many = format!("{}{}{}", &text[..end], subjects.repeat(1000), &text[end..]);
        exercise(many.as_bytes());
        let extract = read_bytes(many.as_bytes());
        assert!(extract.records.len() >= 1000);
        assert!(extract.diagnostics.len() <= 1001, "diagnostics are capped");
    }
    // Huge fields: an item value, a decode, a subject key and an OID of 2 MB; a huge comment.
    let huge = "x".repeat(2 << 20);
    for (from, to) in [
        ("Value=\"C16.9\"", format!("Value=\"{huge}\"")),
        ("男性", huge.clone()),
        (
            "SubjectKey=\"GEMJ-TEST-0001\"",
            format!("SubjectKey=\"{huge}\""),
        ),
        ("ItemOID=\"I.SEX\"", format!("ItemOID=\"{huge}\"")),
        ("<ClinicalData", format!("<!--{huge}--><ClinicalData")),
    ] {
        exercise(text.replacen(from, &to, 1).as_bytes());
    }
    // One subject with many repeating item groups: linear time.
    if let Some(at) = text.find("</FormData>") {
        let groups: String = (1..=20_000)
            .map(|i| format!("<ItemGroupData ItemGroupOID=\"IG.HPO\" ItemGroupRepeatKey=\"{i}\"><ItemData ItemOID=\"I.HPO_ID\" Value=\"HP:0001166\"/></ItemGroupData>"))
            .collect();
        let many = format!("{}{groups}{}", &text[..at], &text[at..]);
        let started = std::time::Instant::now();
        let extract = read_bytes(many.as_bytes());
        assert!(extract.records.len() > 20_000);
        assert!(started.elapsed().as_secs() < 30, "{:?}", started.elapsed());
    }
    // Many attributes, many namespaces, deep nesting inside a subject.
    let attrs: String = (0..20_000).map(|i| format!(" a{i}=\"v\"")).collect();
    exercise(
        text.replacen("<SubjectData ", &format!("<SubjectData{attrs} "), 1)
            .as_bytes(),
    );
    let nested = format!(
        "{}{}",
        "<ItemGroupData>".repeat(5000),
        "</ItemGroupData>".repeat(5000)
    );
    exercise(
        text.replacen(
            "<FormData FormOID=\"F.DM\">",
            &format!("<FormData FormOID=\"F.DM\">{nested}"),
            1,
        )
        .as_bytes(),
    );
    Ok(())
}
