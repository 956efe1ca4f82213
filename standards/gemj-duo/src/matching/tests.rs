//! Data-driven tests of the matcher over the real DUO release shipped with the project.
//!
//! A case is one line: the dataset's condition, the approved purpose, and the expected outcome
//! followed by one letter per term (P permit, D deny, C committee), e.g. `"DENY P D"`.
//!
//! - Condition: the permission (a shorthand or an id), optionally `:disease`, then modifiers.
//! - Purpose: the primary term, optionally `:disease,disease`, then flags: `commercial` (the use
//!   is for profit), `company` (the organisation is for-profit), `org?` (not recorded), `irb`,
//!   `pub`, `rtn`, `cc`, `col`, `ts`, `mor`, `genetic`, `methods`, `poa`, and `country=`,
//!   `inst=`, `project=`, `user=`. Unless overridden the requester is a not-for-profit
//!   organisation processing in JP as INST-A / PRJ-1 / user-1.
//!
//! The disease fixture is hand-written is_a edges between MONDO ids (labels for readability),
//! closed upward, not an extract of MONDO; `c34` is an ICD-10 code the graph does not hold.

use std::error::Error;

use gemj_model::{DataUseCondition, DuoCode};

use super::*;
use crate::testing;

type TestResult = Result<(), Box<dyn Error>>;

const CANCER: &str = "MONDO:0004992";
const LUNG_CANCER: &str = "MONDO:0008903";
const DIABETES: &str = "MONDO:0005015";
const TYPE_2_DIABETES: &str = "MONDO:0005148";
const DISEASE: &str = "MONDO:0000001";

fn graph() -> DiseaseGraph {
    DiseaseGraph::from_edges([
        (LUNG_CANCER, CANCER),
        (CANCER, DISEASE),
        (TYPE_2_DIABETES, DIABETES),
        (DIABETES, DISEASE),
    ])
}

fn disease(name: &str) -> String {
    match name {
        "cancer" => CANCER,
        "lung" => LUNG_CANCER,
        "diabetes" => DIABETES,
        "t2d" => TYPE_2_DIABETES,
        "disease" => DISEASE,
        "c34" => "C34",
        other => other,
    }
    .to_owned()
}

/// A shorthand or an id as a `DuoCode`.
fn code(duo: &Ontology, token: &str) -> Result<DuoCode, Box<dyn Error>> {
    if token.starts_with("DUO:") {
        return Ok(DuoCode::parse(token)?);
    }
    let term = duo.by_shorthand(token).ok_or(format!("no term {token}"))?;
    Ok(DuoCode::parse(&term.id)?)
}

fn condition(duo: &Ontology, spec: &str) -> Result<DataUseCondition, Box<dyn Error>> {
    let mut tokens = spec.split_whitespace();
    let first = tokens.next().ok_or("empty condition")?;
    let (permission, disease_name) = match first.split_once(':') {
        Some((p, d)) if !p.starts_with("DUO") => (p, Some(d)),
        _ => (first, None),
    };
    Ok(DataUseCondition {
        permission: code(duo, permission)?,
        modifiers: tokens.map(|t| code(duo, t)).collect::<Result<_, _>>()?,
        disease: disease_name.map(disease),
        countries: vec![],
        institutions: vec![],
        projects: vec![],
        users: vec![],
    })
}

fn purpose(duo: &Ontology, spec: &str) -> Result<ResearchPurpose, Box<dyn Error>> {
    let mut tokens = spec.split_whitespace();
    let first = tokens.next().ok_or("empty purpose")?;
    let (primary, diseases) = match first.split_once(':') {
        Some((p, d)) if !p.starts_with("DUO") => (p, d.split(',').map(disease).collect()),
        _ => (first, Vec::new()),
    };
    let mut purpose = ResearchPurpose {
        diseases,
        for_profit_organisation: Some(false),
        country: "JP".into(),
        institution: "INST-A".into(),
        project: "PRJ-1".into(),
        user: "user-1".into(),
        ..ResearchPurpose::new(code(duo, primary)?)
    };
    for flag in tokens {
        match flag.split_once('=') {
            Some(("country", v)) => purpose.country = v.into(),
            Some(("inst", v)) => purpose.institution = v.into(),
            Some(("project", v)) => purpose.project = v.into(),
            Some(("user", v)) => purpose.user = v.into(),
            Some(_) => return Err(format!("unknown setting {flag}").into()),
            None => match flag {
                "commercial" => purpose.for_profit = true,
                "company" => purpose.for_profit_organisation = Some(true),
                "org?" => purpose.for_profit_organisation = None,
                "irb" => purpose.has_ethics_approval = true,
                "pub" => purpose.agrees_to_publish = true,
                "rtn" => purpose.agrees_to_return_results = true,
                "cc" => purpose.clinical_care = true,
                "col" => purpose.approved_collaboration = true,
                "ts" => purpose.time_limit_ok = true,
                "mor" => purpose.moratorium_ok = true,
                "genetic" => purpose.genetic_study = true,
                "methods" => purpose.methods_development = true,
                "poa" => purpose.population_origins_ancestry = true,
                _ => return Err(format!("unknown flag {flag}").into()),
            },
        }
    }
    Ok(purpose)
}

fn letter(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Permit => "P",
        Outcome::Deny => "D",
        Outcome::Committee => "C",
    }
}

/// Runs one case against the real release; the message shows the whole explanation.
fn check(
    duo: &Ontology,
    context: &MatchContext<'_>,
    dataset: &str,
    approved: &str,
    expect: &str,
) -> TestResult {
    let result = match_purpose(
        duo,
        &condition(duo, dataset)?,
        &purpose(duo, approved)?,
        context,
    );
    let mut got = vec![result.outcome.as_str()];
    got.extend(result.terms.iter().map(|t| letter(t.outcome)));
    assert_eq!(
        got.join(" "),
        expect,
        "dataset {dataset:?}, purpose {approved:?}:\n{result}"
    );
    for line in &result.terms {
        assert!(
            !line.reason.is_empty() && !line.reason_ja.is_empty(),
            "{result}"
        );
    }
    Ok(())
}

fn context(graph: &DiseaseGraph) -> MatchContext<'_> {
    MatchContext {
        allowed_countries: vec!["JP".into()],
        allowed_institutions: vec!["INST-A".into()],
        allowed_projects: vec!["PRJ-1".into()],
        allowed_users: vec!["user-1".into()],
        diseases: graph,
    }
}

fn run(cases: &[(&str, &str, &str)]) -> TestResult {
    let duo = testing::ontology()?;
    let graph = graph();
    let context = context(&graph);
    for (dataset, approved, expect) in cases {
        check(duo, &context, dataset, approved, expect)?;
    }
    Ok(())
}

#[test]
fn permissions() -> TestResult {
    run(&[
        // NRES: "no restriction on use".
        ("NRES", "GRU", "PERMIT P"),
        ("NRES", "HMB", "PERMIT P"),
        ("NRES", "DS:lung", "PERMIT P"),
        ("NRES", "POA", "PERMIT P"),
        ("NRES", "NRES", "PERMIT P"),
        ("NRES", "HMB cc", "PERMIT P"),
        ("NRES", "POA poa methods commercial company", "PERMIT P"),
        ("NRES", "DUO:0000099", "PERMIT P"),
        // GRU: any research purpose; POA by GRU's comment; not clinical care, not NRES.
        ("GRU", "GRU", "PERMIT P"),
        ("GRU", "HMB", "PERMIT P"),
        ("GRU", "DS:lung", "PERMIT P"),
        ("GRU", "DS", "PERMIT P"),
        ("GRU", "POA", "PERMIT P"),
        ("GRU", "GRU poa", "PERMIT P"),
        ("GRU", "HMB methods", "PERMIT P"),
        ("GRU", "NRES", "DENY D"),
        ("GRU", "HMB cc", "DENY D"),
        // HMB: HMB and DS, never population origins or ancestry.
        ("HMB", "GRU", "DENY D"),
        ("HMB", "HMB", "PERMIT P"),
        ("HMB", "DS:lung", "PERMIT P"),
        ("HMB", "POA", "DENY D"),
        ("HMB", "HMB poa", "DENY D"),
        ("HMB", "DS:lung poa", "DENY D"),
        ("HMB", "NRES", "DENY D"),
        ("HMB", "HMB cc", "DENY D"),
        // DS: the purpose's diseases must be the dataset's disease or subtypes.
        ("DS:cancer", "GRU", "DENY D"),
        ("DS:cancer", "HMB", "DENY D"),
        ("DS:cancer", "POA", "DENY D"),
        ("DS:cancer", "DS:cancer", "PERMIT P"),
        ("DS:cancer", "DS:lung", "PERMIT P"),
        ("DS:disease", "DS:lung", "PERMIT P"),
        ("DS:disease", "DS:lung,t2d", "PERMIT P"),
        ("DS:lung", "DS:cancer", "DENY D"),
        ("DS:cancer", "DS:t2d", "DENY D"),
        ("DS:cancer", "DS:lung,t2d", "DENY D"),
        ("DS:cancer", "DS:c34", "COMMITTEE C"),
        ("DS:cancer", "DS:lung,c34", "COMMITTEE C"),
        ("DS:cancer", "DS:t2d,c34", "DENY D"),
        ("DS:c34", "DS:c34", "PERMIT P"),
        ("DS:cancer", "DS", "COMMITTEE C"),
        ("DS", "DS:lung", "COMMITTEE C"),
        ("DS:cancer", "DS:lung poa", "DENY D"),
        ("DS:cancer", "DS:lung cc", "DENY D"),
        // POA: population origins or ancestry research only.
        ("POA", "POA", "PERMIT P"),
        ("POA", "GRU", "DENY D"),
        ("POA", "HMB", "DENY D"),
        ("POA", "HMB poa", "DENY D"),
        ("POA", "DS:lung", "DENY D"),
        ("POA", "NRES", "DENY D"),
        ("POA", "POA cc", "DENY D"),
    ])
}

#[test]
fn unusable_permissions_go_to_the_committee() -> TestResult {
    run(&[
        ("DUO:0000099", "HMB", "COMMITTEE C"), // not in the release
        ("DUO:0000005", "HMB", "COMMITTEE C"), // obsolete GRU-CC
        ("DUO:0000014", "HMB", "COMMITTEE C"), // obsolete RU
        ("DUO:0000001", "HMB", "COMMITTEE C"), // the abstract root
        ("DUO:0000031", "HMB", "COMMITTEE C"), // an investigation class
        ("NCU", "HMB", "COMMITTEE C"),         // a modifier in the permission slot
        // The purpose's primary term must be a current permission too.
        ("GRU", "DUO:0000099", "COMMITTEE C"),
        ("GRU", "DUO:0000005", "COMMITTEE C"),
        ("GRU", "DUO:0000001", "COMMITTEE C"),
        ("GRU", "IRB", "COMMITTEE C"),
        // ... but a denial elsewhere still denies.
        ("GRU IRB", "DUO:0000099", "DENY C D"),
    ])
}

#[test]
fn modifiers_both_ways() -> TestResult {
    run(&[
        // NCU concerns the use: a company doing non-commercial research may use the data.
        ("GRU NCU", "HMB", "PERMIT P P"),
        ("GRU NCU", "HMB commercial", "DENY P D"),
        ("GRU NCU", "HMB company", "PERMIT P P"),
        ("GRU NCU", "HMB org?", "PERMIT P P"),
        // NPU concerns the organisation.
        ("GRU NPU", "HMB", "PERMIT P P"),
        ("GRU NPU", "HMB company", "DENY P D"),
        ("GRU NPU", "HMB org?", "COMMITTEE P C"),
        ("GRU NPU", "HMB commercial", "PERMIT P P"),
        // NPUNCU concerns both.
        ("GRU NPUNCU", "HMB", "PERMIT P P"),
        ("GRU NPUNCU", "HMB commercial", "DENY P D"),
        ("GRU NPUNCU", "HMB company", "DENY P D"),
        ("GRU NPUNCU", "HMB org?", "COMMITTEE P C"),
        ("GRU NPUNCU", "HMB commercial org?", "DENY P D"),
        // GS: the country of processing.
        ("GRU GS", "HMB", "PERMIT P P"),
        ("GRU GS", "HMB country=jp", "PERMIT P P"),
        ("GRU GS", "HMB country=US", "DENY P D"),
        ("GRU GS", "HMB country=JPN", "COMMITTEE P C"),
        ("GRU GS", "HMB country=", "COMMITTEE P C"),
        // IS, PS, US: the approved lists.
        ("GRU IS", "HMB", "PERMIT P P"),
        ("GRU IS", "HMB inst=INST-B", "DENY P D"),
        ("GRU IS", "HMB inst=", "COMMITTEE P C"),
        ("GRU PS", "HMB", "PERMIT P P"),
        ("GRU PS", "HMB project=PRJ-2", "DENY P D"),
        ("GRU US", "HMB", "PERMIT P P"),
        ("GRU US", "HMB user=user-2", "DENY P D"),
        // Obligations the requester accepts.
        ("GRU IRB", "HMB irb", "PERMIT P P"),
        ("GRU IRB", "HMB", "DENY P D"),
        ("GRU PUB", "HMB pub", "PERMIT P P"),
        ("GRU PUB", "HMB", "DENY P D"),
        ("GRU RTN", "HMB rtn", "PERMIT P P"),
        ("GRU RTN", "HMB", "DENY P D"),
        ("GRU COL", "HMB col", "PERMIT P P"),
        ("GRU COL", "HMB", "DENY P D"),
        ("GRU TS", "HMB ts", "PERMIT P P"),
        ("GRU TS", "HMB", "DENY P D"),
        ("GRU MOR", "HMB mor", "PERMIT P P"),
        ("GRU MOR", "HMB", "DENY P D"),
        // CC extends use to clinical care.
        ("GRU CC", "HMB", "PERMIT P P"),
        ("GRU CC", "HMB cc", "PERMIT P P"),
        ("HMB CC", "HMB cc", "PERMIT P P"),
        ("DS:cancer CC", "DS:lung cc", "PERMIT P P"),
        ("DS:cancer CC", "DS:t2d cc", "DENY D P"),
        // GSO, NMDS, NPOA.
        ("GRU GSO", "HMB genetic", "PERMIT P P"),
        ("GRU GSO", "HMB", "DENY P D"),
        ("GRU NMDS", "HMB", "PERMIT P P"),
        ("GRU NMDS", "HMB methods", "DENY P D"),
        ("GRU NPOA", "HMB", "PERMIT P P"),
        ("GRU NPOA", "POA", "DENY P D"),
        ("GRU NPOA", "GRU poa", "DENY P D"),
        // RS names a research type the approval does not state.
        ("GRU RS", "HMB", "COMMITTEE P C"),
    ])
}

#[test]
fn unusable_modifiers_go_to_the_committee() -> TestResult {
    run(&[
        ("GRU DUO:0000099", "HMB", "COMMITTEE P C"), // not in the release
        ("GRU DUO:0000014", "HMB", "COMMITTEE P C"), // obsolete RU
        ("GRU DUO:0000005", "HMB", "COMMITTEE P C"), // obsolete GRU-CC
        ("GRU DUO:0000017", "HMB", "COMMITTEE P C"), // the abstract root
        ("GRU DUO:0000031", "HMB", "COMMITTEE P C"), // an investigation class
        ("GRU HMB", "HMB", "COMMITTEE P C"),         // a permission in a modifier slot
        ("GRU DUO:0000099", "HMB commercial", "COMMITTEE P C"),
        ("GRU NCU DUO:0000099", "HMB commercial", "DENY P D C"),
    ])
}

#[test]
fn whole_conditions() -> TestResult {
    run(&[
        // The demo datasets of gemj-core.
        ("NRES", "HMB", "PERMIT P"),
        ("HMB PUB", "DS:lung pub", "PERMIT P P"),
        ("HMB PUB", "DS:lung", "DENY P D"),
        ("DS:cancer NCU IRB", "DS:lung irb", "PERMIT P P P"),
        ("DS:cancer NCU IRB", "DS:lung irb commercial", "DENY P D P"),
        ("GRU GS", "POA", "PERMIT P P"),
        // Deny wins over committee, committee over permit; lines keep the condition's order.
        ("DS:cancer NCU IRB GS", "DS:lung irb", "PERMIT P P P P"),
        (
            "DS:cancer NCU IRB GS",
            "DS:lung commercial country=US",
            "DENY P D D D",
        ),
        ("DS:cancer NCU IRB GS", "DS:c34 irb", "COMMITTEE C P P P"),
        ("DS:cancer NCU IRB GS", "DS:c34", "DENY C P D P"),
        ("DS:cancer GS NCU IRB", "DS:c34", "DENY C P P D"),
        ("GRU IRB IRB", "HMB", "DENY P D D"),
        (
            "HMB NPUNCU IRB PUB RTN COL TS MOR GSO NMDS NPOA IS PS US GS CC",
            "DS:lung irb pub rtn col ts mor genetic cc",
            "PERMIT P P P P P P P P P P P P P P P P",
        ),
    ])
}

/// Without allowed lists GS, IS, PS and US cannot be decided; without a hierarchy only
/// identical diseases can; a closure can stand in for the hierarchy.
#[test]
fn context_decides_what_can_be_decided() -> TestResult {
    let duo = testing::ontology()?;
    let empty = MatchContext::default();
    let cases = [
        ("GRU GS", "HMB", "COMMITTEE P C"),
        ("GRU IS", "HMB", "COMMITTEE P C"),
        ("GRU PS", "HMB", "COMMITTEE P C"),
        ("GRU US", "HMB", "COMMITTEE P C"),
        ("DS:cancer", "DS:lung", "COMMITTEE C"),
        ("DS:cancer", "DS:cancer", "PERMIT P"),
    ];
    for (dataset, approved, expect) in cases {
        check(duo, &empty, dataset, approved, expect)?;
    }
    let oracle =
        |requested: &str, allowed: &str| (allowed == CANCER).then_some(requested == LUNG_CANCER);
    let with_closure = MatchContext {
        allowed_countries: vec![" jp ".into(), "not a code".into()],
        diseases: &oracle,
        ..MatchContext::default()
    };
    check(duo, &with_closure, "DS:cancer", "DS:lung", "PERMIT P")?;
    check(duo, &with_closure, "DS:cancer", "DS:t2d", "DENY D")?;
    check(duo, &with_closure, "DS:diabetes", "DS:t2d", "COMMITTEE C")?;
    check(duo, &with_closure, "GRU GS", "HMB", "PERMIT P P")?;
    check(duo, &with_closure, "GRU GS", "HMB country=KR", "DENY P D")?;
    Ok(())
}

/// The same input gives the same result, lines in the condition's order, labels from the
/// release, and denials quote the DUO definition they applied.
#[test]
fn explanations_are_deterministic_and_quote_duo() -> TestResult {
    let duo = testing::ontology()?;
    let graph = graph();
    let context = context(&graph);
    let condition = condition(duo, "DS:cancer NCU GS IRB DUO:0000099")?;
    let approved = purpose(duo, "DS:lung commercial country=US")?;
    let first = match_purpose(duo, &condition, &approved, &context);
    for _ in 0..3 {
        assert_eq!(match_purpose(duo, &condition, &approved, &context), first);
    }
    let ids: Vec<&str> = first.terms.iter().map(|t| t.term.as_str()).collect();
    assert_eq!(
        ids,
        [
            "DUO:0000007",
            "DUO:0000046",
            "DUO:0000022",
            "DUO:0000021",
            "DUO:0000099"
        ]
    );
    let roles: Vec<TermRole> = first.terms.iter().map(|t| t.role).collect();
    assert_eq!(roles[0], TermRole::Permission);
    assert!(roles[1..].iter().all(|r| *r == TermRole::Modifier));
    assert_eq!(first.outcome, Outcome::Deny);
    assert_eq!(
        first.duo_version.as_deref(),
        Some("http://purl.obolibrary.org/obo/duo/releases/2021-02-23/duo.owl")
    );

    let [ds, ncu, gs, irb, unknown] = &first.terms[..] else {
        return Err("five lines".into());
    };
    assert_eq!(ds.label_ja.as_deref(), Some("疾患特異的研究"));
    assert!(ds.reason.contains(LUNG_CANCER) && ds.reason.contains(CANCER));
    assert_eq!(ncu.label, "non-commercial use only");
    assert_eq!(ncu.label_ja, None);
    assert!(
        ncu.reason.contains("“This data use modifier indicates that use of the data is limited to not-for-profit use.”"),
        "{}",
        ncu.reason
    );
    assert!(gs.reason.contains("US") && gs.reason.contains("(JP)"));
    assert!(gs.reason_ja.contains("地域の限定") || gs.reason_ja.contains("特定の地理的地域"));
    assert!(irb.reason.contains("IRB/ERB"));
    assert!(irb.reason_ja.contains("倫理審査委員会"));
    assert_eq!(unknown.label, "unknown term");
    assert_eq!(unknown.outcome, Outcome::Committee);

    let shown = first.to_string();
    let lines: Vec<&str> = shown.lines().collect();
    assert_eq!(lines.len(), 6);
    assert_eq!(lines[0], "DENY");
    assert!(lines[1].starts_with("PERMIT DS (DUO:0000007): "));
    assert!(lines[2].starts_with("DENY NCU (DUO:0000046): The use is for profit."));
    Ok(())
}

/// The permission line quotes HMB's exclusion of ancestry research, and GRU's comment.
#[test]
fn permission_reasons_quote_duo() -> TestResult {
    let duo = testing::ontology()?;
    let context = MatchContext::default();
    let reason = |dataset: &str, approved: &str| -> Result<String, Box<dyn Error>> {
        let result = match_purpose(
            duo,
            &condition(duo, dataset)?,
            &purpose(duo, approved)?,
            &context,
        );
        Ok(result.terms[0].reason.clone())
    };
    assert!(
        reason("HMB", "HMB poa")?
            .contains("does not include the study of population origins or ancestry")
    );
    assert!(reason("GRU", "POA")?.contains("the study of population origins or ancestry"));
    assert!(reason("GRU", "HMB cc")?.contains("CC (DUO:0000043)"));
    assert!(reason("DUO:0000005", "HMB")?.contains("GRU (DUO:0000042) and CC (DUO:0000043)"));
    assert!(reason("NCU", "HMB")?.contains("not a data use permission"));
    assert!(reason("GRU", "IRB")?.contains("primary term"));
    Ok(())
}

/// A release whose GRU comment does not include population origins or ancestry research sends
/// POA purposes on GRU datasets to the committee instead of permitting them.
#[test]
fn gru_poa_rule_follows_the_release_text() -> TestResult {
    let files = testing::files();
    let marker = "the study of population origins or ancestry, ";
    assert!(files.duo_owl.contains(marker));
    let edited = files.duo_owl.replace(marker, "");
    let duo = Ontology::parse(&edited, None)?;
    let graph = graph();
    check(&duo, &context(&graph), "GRU", "POA", "COMMITTEE C")?;
    check(&duo, &context(&graph), "GRU", "HMB", "PERMIT P")?;
    Ok(())
}

/// Every current modifier of the release has a rule, and every term in every slot gives a line
/// without panicking; a term that is not a current term of the right kind never permits.
#[test]
fn every_term_in_every_slot() -> TestResult {
    let duo = testing::ontology()?;
    let graph = graph();
    let context = context(&graph);
    let approved = [
        purpose(duo, "HMB")?,
        purpose(duo, "DS:lung irb pub commercial company country=US")?,
        purpose(duo, "POA poa methods org?")?,
    ];
    let mut ids: Vec<String> = duo.terms().map(|t| t.id.clone()).collect();
    ids.push("DUO:0000099".into());
    for id in &ids {
        let term = duo.term(id);
        let current = |kind| term.is_some_and(|t| !t.obsolete && t.kind == kind);
        for p in &approved {
            let as_permission = DataUseCondition {
                permission: DuoCode::parse(id)?,
                modifiers: vec![],
                disease: Some(CANCER.into()),
                countries: vec![],
                institutions: vec![],
                projects: vec![],
                users: vec![],
            };
            let result = match_purpose(duo, &as_permission, p, &context);
            if !current(TermKind::Permission) {
                assert_eq!(result.outcome, Outcome::Committee, "{id} as permission");
            }
            let as_modifier = DataUseCondition {
                permission: DuoCode::parse(ids::NRES)?,
                modifiers: vec![DuoCode::parse(id)?],
                disease: None,
                countries: vec![],
                institutions: vec![],
                projects: vec![],
                users: vec![],
            };
            let result = match_purpose(duo, &as_modifier, p, &context);
            if current(TermKind::Modifier) {
                assert!(!result.terms[1].reason.contains("no rule"), "{result}");
            } else {
                assert_eq!(result.outcome, Outcome::Committee, "{id} as modifier");
            }
        }
    }
    Ok(())
}

#[test]
fn results_and_purposes_round_trip_as_json() -> TestResult {
    let duo = testing::ontology()?;
    let graph = graph();
    let approved = purpose(duo, "DS:lung irb")?;
    let result = match_purpose(
        duo,
        &condition(duo, "DS:cancer NCU IRB")?,
        &approved,
        &context(&graph),
    );
    let json = serde_json::to_value(&result)?;
    assert_eq!(json["outcome"], "PERMIT");
    assert_eq!(json["terms"][0]["role"], "PERMISSION");
    assert_eq!(json["terms"][1]["shorthand"], "NCU");
    let back: MatchResult = serde_json::from_value(json)?;
    assert_eq!(back, result);

    let stored = serde_json::json!({"primary": "DUO:0000006", "country": "JP"});
    let minimal: ResearchPurpose = serde_json::from_value(stored)?;
    assert_eq!(
        minimal,
        ResearchPurpose {
            country: "JP".into(),
            ..ResearchPurpose::new(DuoCode::parse("DUO:0000006")?)
        }
    );
    let round: ResearchPurpose = serde_json::from_value(serde_json::to_value(&approved)?)?;
    assert_eq!(round, approved);
    let unknown = serde_json::json!({"primary": "DUO:0000006", "colour": "red"});
    assert!(serde_json::from_value::<ResearchPurpose>(unknown).is_err());
    let bad_code = serde_json::json!({"primary": "HMB"});
    assert!(serde_json::from_value::<ResearchPurpose>(bad_code).is_err());
    Ok(())
}

#[test]
fn disease_graph() {
    let graph = graph();
    // (requested, allowed, expected)
    let cases = [
        (LUNG_CANCER, CANCER, Some(true)),
        (LUNG_CANCER, DISEASE, Some(true)),
        (CANCER, CANCER, Some(true)),
        (" MONDO:0004992 ", CANCER, Some(true)),
        (CANCER, LUNG_CANCER, Some(false)),
        (TYPE_2_DIABETES, CANCER, Some(false)),
        (DISEASE, CANCER, Some(false)),
        ("C34", CANCER, None),
        (CANCER, "C34", None),
        ("C34", "C34", Some(true)),
        ("", CANCER, None),
    ];
    for (requested, allowed, expect) in cases {
        assert_eq!(
            graph.disease_within(requested, allowed),
            expect,
            "{requested} within {allowed}"
        );
    }
    assert!(graph.contains(DISEASE));
    assert!(!graph.contains("C34"));
    let mut cyclic = DiseaseGraph::default();
    cyclic.add_is_a("A", "B");
    cyclic.add_is_a("B", "A");
    cyclic.add_is_a("C", "");
    assert_eq!(cyclic.disease_within("A", "B"), Some(true));
    assert_eq!(cyclic.disease_within("A", "C"), None);
    cyclic.add_is_a("C", "D");
    assert_eq!(cyclic.disease_within("A", "C"), Some(false));
    assert_eq!(NoDiseaseHierarchy.disease_within(CANCER, CANCER), None);
}

#[test]
fn outcomes_combine() {
    use Outcome::{Committee, Deny, Permit};
    let cases: [(&[Outcome], Outcome); 6] = [
        (&[], Permit),
        (&[Permit], Permit),
        (&[Permit, Committee], Committee),
        (&[Committee, Permit], Committee),
        (&[Permit, Deny, Committee], Deny),
        (&[Deny, Deny], Deny),
    ];
    for (outcomes, expect) in cases {
        assert_eq!(
            Outcome::combine(outcomes.iter().copied()),
            expect,
            "{outcomes:?}"
        );
    }
    assert_eq!(Committee.to_string(), "COMMITTEE");
}
