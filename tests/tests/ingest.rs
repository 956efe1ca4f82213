//! End-to-end: the adapters' fixtures (`examples/adapters`) ingested with the
//! `gemj-gateway ingest` command's code into a running gateway's store, checked value by value
//! against the canonical meaning in that folder's README: one diagnosis from three sources,
//! dotted ICD-10 with each source's spelling in its provenance, a year-only onset kept as a
//! year, era dates, REDCap's unticked box not read as an excluded phenotype, the deleted
//! SS-MIX2 order absent, the routine-lab specimen out of the sample catalogue, unknown hospital
//! ids reported rather than invented, the withdrawn participant's rows quarantined. Then: every
//! report adds up, a re-run changes nothing, a dry run stores nothing, the phenopacket of
//! GEMJ-TEST-0002 matches the expected one, and `/ingest/v1` and `/phenopackets/v2` answer as
//! documented over HTTP.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use gemj_e2e::http::Http;
use gemj_e2e::{Res, TestGateway, TestResult};
use gemj_ingest::IngestReport;
use gemj_model::{
    AccessLevel, DataUseCondition, Dataset, DatasetId, ParticipantId, PhenotypeStatus, Precision,
    SpecimenId, SpecimenType,
};
use gemj_server::config::{Config, Overrides};
use gemj_server::ingest::IngestRequest;
use serde_json::{Value, json};

const HOSPITAL: &str = "9999999999";
const DATASET: &str = "GEMJ-TEST-GERMLINE-SOMATIC";

/// The synthetic adapter fixtures shipped in `examples/adapters`.
fn fixtures() -> PathBuf {
    gemj_schemas::testing::examples_dir().join("adapters")
}

fn pid(s: &str) -> Res<ParticipantId> {
    Ok(ParticipantId::parse(s)?)
}

/// The configuration of the command line over a test gateway's data folder (same store).
fn config_of(gw: &TestGateway) -> Res<Config> {
    let overrides = Overrides {
        listen: None,
        data_dir: Some(gw.data_dir().to_owned()),
    };
    Ok(Config::load_with_env(None, &overrides, Vec::new())?)
}

/// Runs `gemj-gateway ingest <kind> <paths> --institution 9999999999 [--dry-run]` and returns the
/// report it wrote.
async fn ingest(
    gw: &TestGateway,
    kind: &str,
    paths: &[PathBuf],
    dry_run: bool,
) -> Res<IngestReport> {
    ingest_as(gw, kind, paths, dry_run, Some(HOSPITAL)).await
}

async fn ingest_as(
    gw: &TestGateway,
    kind: &str,
    paths: &[PathBuf],
    dry_run: bool,
    institution: Option<&str>,
) -> Res<IngestReport> {
    let config = config_of(gw)?;
    let dir = tempfile::tempdir()?;
    let report_path = dir.path().join("report.json");
    let request = IngestRequest {
        kind,
        paths,
        dry_run,
        report: Some(&report_path),
        institution,
        dataset: (kind == "genome").then_some(DATASET),
    };
    gemj_server::ingest::run(&config, &request).await?;
    let report: Value = serde_json::from_slice(&std::fs::read(&report_path)?)?;
    valid_report(&report, kind);
    let typed = report_from_json(&report)?;
    assert!(
        typed.totals.adds_up(),
        "{kind}: the outcomes must add up to the records: {report:#}"
    );
    for (k, c) in &typed.by_kind {
        assert!(c.adds_up(), "{kind}/{k}: {report:#}");
    }
    let by_kind_sum: u64 = typed.by_kind.values().map(|c| c.records).sum();
    assert_eq!(by_kind_sum, typed.totals.records, "{kind}: {report:#}");
    assert_eq!(
        typed.quarantined.len() as u64,
        typed.totals.quarantined,
        "{kind}: every quarantined record is listed with its reason"
    );
    Ok(typed)
}

/// Every report, whatever happened (nothing refused, files refused, records quarantined, a dry
/// run), validates against the schema the project publishes for it.
#[track_caller]
fn valid_report(report: &Value, what: &str) {
    let schemas = gemj_schemas::SchemaSet::open_folder(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas"),
    )
    .expect("the project's schemas folder");
    if let Err(e) = schemas.validate("gemj-ingest-report.schema.json", "", report) {
        panic!("{what}: the report does not validate: {e:?}\n{report:#}");
    }
    assert!(report["refused_files"].is_array(), "{what}: {report:#}");
}

/// The parts of the JSON report the tests read (the report type is serialize-only).
fn report_from_json(v: &Value) -> Res<IngestReport> {
    let counts =
        |c: &Value| -> Res<gemj_ingest::report::Counts> { Ok(serde_json::from_value(c.clone())?) };
    let mut r = IngestReport::new(v["kind"].as_str().unwrap_or_default(), v["dry_run"] == true);
    r.files = v["files"].as_u64().unwrap_or_default();
    r.totals = counts(&v["totals"])?;
    for (k, c) in v["by_kind"].as_object().ok_or("by_kind")? {
        r.by_kind.insert(k.clone(), counts(c)?);
    }
    for q in v["quarantined"].as_array().ok_or("quarantined")? {
        r.quarantined.push(gemj_ingest::Quarantined {
            source: q["source"].as_str().unwrap_or_default().to_owned(),
            file: q["file"].as_str().map(str::to_owned),
            position: q["position"].as_str().map(str::to_owned),
            kind: q["kind"].as_str().unwrap_or_default().to_owned(),
            reason: q["reason"].as_str().unwrap_or_default().to_owned(),
        });
    }
    r.identifying_fields_dropped = v["identifying_fields_dropped"].as_u64().unwrap_or_default();
    r.diagnostics = serde_json::from_value(v["diagnostics"].clone())?;
    Ok(r)
}

fn ssmix2_root() -> PathBuf {
    fixtures().join("ssmix2").join("standard_root")
}

fn redcap() -> Vec<PathBuf> {
    vec![
        fixtures().join("redcap/rd-registry_DataDictionary.csv"),
        fixtures().join("redcap/rd-registry_records_raw.csv"),
    ]
}

fn one(p: &str) -> Vec<PathBuf> {
    vec![fixtures().join(p)]
}

/// A serialisation of everything the ingest can write about the three subjects, to compare
/// before and after a re-run.
async fn snapshot(gw: &TestGateway) -> Res<String> {
    let mut out = Vec::new();
    for id in ["GEMJ-TEST-0001", "GEMJ-TEST-0002", "GEMJ-TEST-0003"] {
        let p = pid(id)?;
        out.push(json!({
            "participant": gw.store.get_participant(&p).await?,
            "demographics": gw.store.demographics_of(&p).await?,
            "diagnoses": gw.store.diagnoses_of(&p).await?,
            "phenotypes": gw.store.phenotypes_of(&p).await?,
            "specimens": gw.store.specimens_of(&p).await?,
            "measurements": gw.store.measurements_of(&p).await?,
            "consent": gw.store.consent_state(&p).await?,
        }));
    }
    Ok(serde_json::to_string(&out)?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fixtures_reach_their_canonical_meaning() -> TestResult {
    let gw = TestGateway::start(0).await?;
    let store = gw.store.clone();
    store
        .put_dataset(&Dataset {
            id: DatasetId::parse(DATASET)?,
            name: "Synthetic adapter fixtures".to_owned(),
            description: "The adapters' synthetic VCFs".to_owned(),
            access_level: AccessLevel::Controlled,
            data_use: DataUseCondition {
                permission: gemj_model::DuoCode::parse("DUO:0000042")?,
                modifiers: Vec::new(),
                disease: None,
                countries: Vec::new(),
                institutions: Vec::new(),
                projects: Vec::new(),
                users: Vec::new(),
            },
        })
        .await?;

    // SS-MIX2 first: nobody is linked yet, so every record is reported, none invented.
    let r = ingest(&gw, "ssmix2", &[ssmix2_root()], false).await?;
    assert_eq!(r.files, 6);
    assert_eq!(r.totals.created + r.totals.merged, 0, "{r:?}");
    assert!(
        r.quarantined
            .iter()
            .filter(|q| q.kind != "unreadable")
            .all(|q| q.reason.contains("not linked")),
        "{:?}",
        r.quarantined
    );
    assert_eq!(store.count_participants().await?, 0);

    // A dry run of the ODM export reports what it would store and stores nothing.
    let r = ingest(&gw, "odm", &one("odm/gemj-edc-export.odm.xml"), true).await?;
    assert!(r.dry_run && r.totals.created > 0, "{r:?}");
    assert_eq!(store.count_participants().await?, 0);

    // The EDC, the registry, the EHR and the biobank.
    let odm = ingest(&gw, "odm", &one("odm/gemj-edc-export.odm.xml"), false).await?;
    assert_eq!(odm.totals.quarantined, 0, "{odm:?}");
    let rc = ingest(&gw, "redcap", &redcap(), false).await?;
    let fhir = ingest(&gw, "fhir", &one("fhir/ehr-transaction-bundle.json"), false).await?;
    assert_eq!(fhir.totals.quarantined, 0, "{fhir:?}");
    assert!(
        fhir.identifying_fields_dropped >= 3,
        "names and address are read and dropped"
    );
    let bb = ingest(
        &gw,
        "biobank",
        &one("biobank/sample-manifest-miabis.csv"),
        false,
    )
    .await?;
    let ss = ingest(&gw, "ssmix2", &[ssmix2_root()], false).await?;

    // GEMJ-TEST-0003 withdrew: its REDCap rows and its biobank sample are quarantined with the
    // reason, and it is no participant at all.
    let p3 = pid("GEMJ-TEST-0003")?;
    assert!(store.get_participant(&p3).await?.is_none());
    for report in [&rc, &bb] {
        assert!(
            report
                .quarantined
                .iter()
                .any(|q| q.reason.contains("GEMJ-TEST-0003") && q.reason.contains("withdrawn")),
            "{:?}",
            report.quarantined
        );
    }
    assert!(
        bb.quarantined
            .iter()
            .any(|q| q.kind == "specimen" && q.position.as_deref() == Some("line 7")),
        "SP-0003-S (line 7) is quarantined: {:?}",
        bb.quarantined
    );
    assert_eq!(
        store.consent_state(&p3).await?.map(|s| s.status),
        Some(gemj_model::ConsentStatus::Withdrawn)
    );
    assert!(
        store
            .get_specimen(&SpecimenId::parse("SP-0003-S")?)
            .await?
            .is_none()
    );
    // SS-MIX2 now resolves both patients through the linkage; the deleted order is applied.
    assert_eq!(
        ss.quarantined.len(),
        0,
        "every SS-MIX2 record resolves once linked: {:?}",
        ss.quarantined
    );
    assert_eq!(ss.totals.deleted, 1, "{ss:?}");

    // 0001: one diagnosis C16.9 from ODM, FHIR and SS-MIX2, each source's spelling kept.
    let p1 = pid("GEMJ-TEST-0001")?;
    let participant = store.get_participant(&p1).await?.ok_or("0001")?;
    assert_eq!(participant.sex, gemj_model::Sex::Male);
    assert_eq!(participant.program, gemj_model::Program::Cancer);
    assert_eq!(participant.institution.as_str(), HOSPITAL);
    assert_eq!(
        participant.birth.map(|b| b.to_string()).as_deref(),
        Some("1975-04")
    );
    let dx = store.diagnoses_of(&p1).await?;
    assert_eq!(dx.len(), 1, "{dx:?}");
    let d = &dx[0];
    assert_eq!(d.icd10.as_str(), "C16.9");
    assert_eq!(
        d.onset.map(|x| x.to_string()).as_deref(),
        Some("2024-02-15")
    );
    assert_eq!(
        d.recorded.map(|x| x.to_string()).as_deref(),
        Some("2024-02-20")
    );
    let sources: BTreeSet<&str> = d.provenance.iter().map(|p| p.source.as_str()).collect();
    assert_eq!(sources, BTreeSet::from(["fhir", "odm", "ssmix2"]));
    let spellings: BTreeSet<Option<&str>> =
        d.provenance.iter().map(|p| p.value.as_deref()).collect();
    assert!(spellings.contains(&Some("C169")), "{spellings:?}");
    let codes: BTreeSet<&str> = d.details.codings.iter().map(|c| c.code.as_str()).collect();
    assert!(
        codes.contains("20054178") && codes.contains("8140/3"),
        "{codes:?}"
    );
    assert_eq!(d.details.stage.as_deref(), Some("III"));
    assert_eq!(d.details.main, Some(true));

    // 0001's labs: albumin and total protein as measured; the deleted CRP order is nowhere.
    let labs = store.measurements_of(&p1).await?;
    let value_of = |code: &str| {
        labs.iter()
            .find(|m| m.code.code == code)
            .map(|m| (m.value.value.clone(), m.value.unit.clone()))
    };
    assert_eq!(
        value_of("3A015000002327101"),
        Some(("3.2".to_owned(), Some("g/dL".to_owned())))
    );
    assert_eq!(
        value_of("3A010000002327101"),
        Some(("6.1".to_owned(), Some("g/dL".to_owned())))
    );
    assert_eq!(
        value_of("9N006000000000001").map(|v| v.0),
        Some("61.0".to_owned())
    );
    assert_eq!(
        value_of("5C070000002327101"),
        None,
        "the deleted CRP result is absent"
    );
    let albumin = labs
        .iter()
        .find(|m| m.code.code == "3A015000002327101")
        .ok_or("albumin")?;
    assert_eq!(
        albumin.effective.as_deref(),
        Some("2024-03-14T09:00:00+09:00")
    );
    assert_eq!(albumin.interpretation.as_deref(), Some("L"));
    assert_eq!(
        albumin.lab_specimen.as_ref().map(|s| s.id.as_str()),
        Some("LS-0001")
    );
    // The routine-lab specimen is not in the sample catalogue.
    assert!(
        store
            .get_specimen(&SpecimenId::parse("LS-0001")?)
            .await?
            .is_none()
    );

    // 0001's specimens: tumour and blood from FHIR, manifest and ODM; DNA derived from blood.
    let specimen = |id: &str| {
        let store = store.clone();
        let id = id.to_owned();
        async move {
            store
                .get_specimen(&SpecimenId::parse(&id)?)
                .await?
                .ok_or_else(|| format!("specimen {id}").into())
        }
    };
    let t: gemj_model::Specimen = specimen("SP-0001-T")
        .await
        .map_err(|e: Box<dyn std::error::Error>| e)?;
    assert_eq!(t.specimen_type, SpecimenType::Tissue);
    assert_eq!(t.tumour, Some(true));
    assert!(t.biobank_sample);
    assert_eq!(
        t.collected.map(|d| d.to_string()).as_deref(),
        Some("2024-03-15")
    );
    assert_eq!(
        t.details.collected_at.as_deref(),
        Some("2024-03-15T10:30:00+09:00")
    );
    assert_eq!(
        t.details.anatomical_site.as_ref().map(|c| c.code.as_str()),
        Some("C16.9")
    );
    assert_eq!(
        t.details.storage_temperature.as_deref(),
        Some("-60 °C to -85 °C")
    );
    let dna: gemj_model::Specimen = specimen("SP-0001-B-DNA")
        .await
        .map_err(|e: Box<dyn std::error::Error>| e)?;
    assert_eq!(
        dna.parent.as_ref().map(SpecimenId::as_str),
        Some("SP-0001-B")
    );
    assert_eq!(
        dna.collected.map(|d| d.to_string()).as_deref(),
        Some("2024-03-18")
    );
    assert_eq!(
        dna.details
            .quantity
            .as_ref()
            .and_then(|q| q.unit.as_deref()),
        Some("ug")
    );

    // 0002: Q87.4 from ODM, REDCap and SS-MIX2 with onset 2005 kept as a year.
    let p2 = pid("GEMJ-TEST-0002")?;
    let dx = store.diagnoses_of(&p2).await?;
    assert_eq!(dx.len(), 1, "{dx:?}");
    assert_eq!(dx[0].icd10.as_str(), "Q87.4");
    let onset = dx[0].onset.ok_or("onset")?;
    assert_eq!(
        (onset.to_string().as_str(), onset.precision()),
        ("2005", Precision::Year)
    );
    let sources: BTreeSet<&str> = dx[0].provenance.iter().map(|p| p.source.as_str()).collect();
    assert_eq!(sources, BTreeSet::from(["odm", "redcap", "ssmix2"]));
    // Four phenotypes; Seizure excluded by ODM, never by REDCap's unticked box.
    let ph = store.phenotypes_of(&p2).await?;
    let status: Vec<(&str, PhenotypeStatus)> =
        ph.iter().map(|p| (p.hpo.as_str(), p.status)).collect();
    assert_eq!(
        status,
        vec![
            ("HP:0001083", PhenotypeStatus::Observed),
            ("HP:0001166", PhenotypeStatus::Observed),
            ("HP:0001250", PhenotypeStatus::Excluded),
            ("HP:0002616", PhenotypeStatus::Observed),
        ]
    );
    let seizure = ph
        .iter()
        .find(|p| p.hpo.as_str() == "HP:0001250")
        .ok_or("seizure")?;
    assert!(
        seizure.provenance.iter().all(|p| p.source == "odm"),
        "only ODM says Seizure is absent: {:?}",
        seizure.provenance
    );
    // Era dates: born 昭和64年1月7日; blood drawn 令和元年5月1日, DNA R1/5/7.
    assert_eq!(
        store
            .demographics_of(&p2)
            .await?
            .and_then(|d| d.birth_date)
            .map(|d| d.to_string())
            .as_deref(),
        Some("1989-01-07")
    );
    let b: gemj_model::Specimen = specimen("SP-0002-B")
        .await
        .map_err(|e: Box<dyn std::error::Error>| e)?;
    assert_eq!(
        b.collected.map(|d| d.to_string()).as_deref(),
        Some("2019-05-01")
    );
    let b_dna: gemj_model::Specimen = specimen("SP-0002-B-DNA")
        .await
        .map_err(|e: Box<dyn std::error::Error>| e)?;
    assert_eq!(
        b_dna.collected.map(|d| d.to_string()).as_deref(),
        Some("2019-05-07")
    );
    assert_eq!(b_dna.specimen_type, SpecimenType::Dna);

    // Genome files: the VCFs' samples are specimens; their alleles join the dataset's index.
    let g = ingest(
        &gw,
        "genome",
        &[
            fixtures().join("vcf/GEMJ-TEST-0001.somatic.vcf"),
            fixtures().join("vcf/GEMJ-TEST-0002.germline.vcf"),
        ],
        false,
    )
    .await?;
    assert_eq!(g.totals.created, 2, "{g:?}");
    let ds = DatasetId::parse(DATASET)?;
    assert_eq!(store.count_variants(&ds).await?, 4);
    let kras = store
        .variant_exact(
            &ds,
            &gemj_model::VariantKey::parse("chr12", 25_245_350, "C", "T")?,
        )
        .await?
        .ok_or("KRAS")?;
    assert_eq!((kras.allele_count, kras.carrier_count), (1, 1));
    let cyp = store
        .variant_exact(
            &ds,
            &gemj_model::VariantKey::parse("chr10", 94_781_859, "G", "A")?,
        )
        .await?
        .ok_or("CYP2C19")?;
    assert_eq!(
        (cyp.allele_count, cyp.carrier_count),
        (2, 1),
        "homozygous: two copies"
    );
    // Each allele records the specimens whose calls hold it: the somatic VCF's KRAS call is the
    // tumour's (SP-0001-T 0/1, the blood SP-0001-B 0/0). A blood DNA VCF of the same individual
    // (SP-0001-B-DNA, derived from SP-0001-B) calls HFE.
    let blood = tempfile::tempdir()?;
    let blood_vcf = blood.path().join("GEMJ-TEST-0001.germline.vcf");
    let germline = std::fs::read_to_string(fixtures().join("vcf/GEMJ-TEST-0002.germline.vcf"))?;
    let germline: String = germline
        .lines()
        .filter(|l| l.starts_with("##") || l.starts_with("#CHROM") || l.starts_with("chr6\t"))
        .map(|l| format!("{}\n", l.replace("SP-0002-B-DNA", "SP-0001-B-DNA")))
        .collect();
    std::fs::write(&blood_vcf, germline)?;
    let g = ingest(&gw, "genome", &[blood_vcf], false).await?;
    assert_eq!(g.totals.created, 1, "{g:?}");
    assert_eq!(
        store.count_variants(&ds).await?,
        4,
        "HFE was stored already"
    );
    let ordinals: std::collections::HashMap<String, u32> = store
        .specimen_ordinals(
            &["SP-0001-T", "SP-0001-B-DNA", "SP-0002-B-DNA"]
                .map(|s| gemj_model::SpecimenId::parse(s).unwrap_or_else(|e| panic!("{e}"))),
        )
        .await?
        .into_iter()
        .map(|(s, o)| (s.as_str().to_owned(), o))
        .collect();
    let calls =
        |row: &gemj_store::VariantRow| -> Vec<u32> { row.callsets.iter().flatten().collect() };
    assert_eq!(calls(&kras), [ordinals["SP-0001-T"]]);
    let hfe_key = gemj_model::VariantKey::parse("chr6", 26_092_913, "G", "A")?;
    let hfe = store.variant_exact(&ds, &hfe_key).await?.ok_or("HFE")?;
    let mut want = vec![ordinals["SP-0001-B-DNA"], ordinals["SP-0002-B-DNA"]];
    want.sort_unstable();
    assert_eq!(calls(&hfe), want);
    assert_eq!(hfe.carrier_count, 2);
    let objects = store.dataset_objects(&ds).await?;
    assert!(
        objects
            .iter()
            .any(|o| o.as_str() == "GEMJ-TEST-0001.somatic.vcf.gz"),
        "{objects:?}"
    );
    let object = store
        .get_object(&gemj_model::ObjectId::parse(
            "GEMJ-TEST-0002.germline.vcf.gz",
        )?)
        .await?
        .ok_or("object")?;
    assert_eq!(
        object.participant.as_ref().map(ParticipantId::as_str),
        Some("GEMJ-TEST-0002")
    );
    assert!(object.index.is_some(), "a missing index is built");

    // An annotated call set of the tumour (synthetic, in the shape SnpEff and ClinVar write):
    // its transcript effect, ClinVar significance and FORMAT AF/AD/DP are kept with the call.
    let annotated = blood.path().join("GEMJ-TEST-0001.annotated.vcf");
    std::fs::write(
        &annotated,
        "##fileformat=VCFv4.2\n\
         ##INFO=<ID=ANN,Number=.,Type=String,Description=\"Functional annotations: 'Allele | Annotation | Annotation_Impact | Gene_Name | Gene_ID | Feature_Type | Feature_ID | Transcript_BioType | Rank | HGVS.c | HGVS.p | cDNA.pos / cDNA.length | CDS.pos / CDS.length | AA.pos / AA.length | Distance | ERRORS / WARNINGS / INFO'\">\n\
         ##INFO=<ID=CLNSIG,Number=.,Type=String,Description=\"Clinical significance\">\n\
         ##INFO=<ID=CLNDN,Number=.,Type=String,Description=\"Disease name\">\n\
         ##FORMAT=<ID=GT,Number=1,Type=String,Description=\"Genotype\">\n\
         ##FORMAT=<ID=AD,Number=R,Type=Integer,Description=\"Allelic depths\">\n\
         ##FORMAT=<ID=AF,Number=A,Type=Float,Description=\"Allele fraction\">\n\
         ##FORMAT=<ID=DP,Number=1,Type=Integer,Description=\"Read depth\">\n\
         #CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tSP-0001-T\n\
         chr17\t7675088\trs28934578\tC\tT\t.\tPASS\tANN=T|missense_variant|MODERATE|TP53|HGNC:11998|transcript|NM_000546.6|protein_coding|5/11|c.524G>A|p.Arg175His||||||;CLNSIG=Pathogenic;CLNDN=Li-Fraumeni_syndrome|not_provided\tGT:AD:AF:DP\t0/1:59,41:0.41:100\n\
         chr17\t7675300\t.\tCTG\tC\t.\tPASS\t.\tGT:AD:AF:DP\t0/1:70,30:0.3:100\n\
         chr17\t7675400\t.\tA\tAGG\t.\tPASS\t.\tGT:AD:AF:DP\t0/1:80,20:0.2:100\n",
    )?;
    let g = ingest(&gw, "genome", &[annotated], false).await?;
    assert_eq!(g.totals.created, 1, "{g:?}");

    // The same canonical meaning through FHIR, for a researcher approved on the fixtures'
    // dataset: the year-only onset stays a year, the SS-MIX2 laboratory result keeps its JLAC10
    // code, unit, flag and range (the deleted CRP result is nowhere), derived specimens name
    // their parent, and the VCF alleles are the IG's Variants with the calling specimen and
    // the source class of README section 9. The withdrawn GEMJ-TEST-0003 is unknown.
    fhir_answers_match_the_fixtures(&gw).await?;

    // A BAM's specimen is its read group's sample (@RG SM), whatever the file is called; one
    // without SM falls back to the file name, with a warning saying so.
    let reads = tempfile::tempdir()?;
    let bam = |name: &str, read_group: &str| -> Res<PathBuf> {
        let sam = reads.path().join(format!("{name}.sam"));
        std::fs::write(
            &sam,
            format!(
                "@HD\tVN:1.6\tSO:coordinate\n@SQ\tSN:chr12\tLN:1000000\n{read_group}\
                 r1\t0\tchr12\t100\t60\t4M\t*\t0\t0\tACGT\tIIII\n"
            ),
        )?;
        let out = reads.path().join(format!("{name}.bam"));
        let status = std::process::Command::new("samtools")
            .args(["view", "-b", "-o"])
            .arg(&out)
            .arg(&sam)
            .status()?;
        assert!(status.success(), "samtools view -b");
        Ok(out)
    };
    let named_by_rg = bam("sequencer-run-42", "@RG\tID:rg1\tSM:SP-0002-B-DNA\n")?;
    let g = ingest(&gw, "genome", &[named_by_rg], false).await?;
    assert_eq!(g.totals.created, 1, "{g:?}");
    let object = store
        .get_object(&gemj_model::ObjectId::parse("sequencer-run-42.bam")?)
        .await?
        .ok_or("the BAM named by its read group")?;
    assert_eq!(
        object
            .specimens
            .iter()
            .map(gemj_model::SpecimenId::as_str)
            .collect::<Vec<_>>(),
        ["SP-0002-B-DNA"]
    );
    assert_eq!(
        object.participant.as_ref().map(ParticipantId::as_str),
        Some("GEMJ-TEST-0002")
    );
    assert!(
        !g.diagnostics.iter().any(|d| d.message.contains("@RG SM")),
        "{g:?}"
    );
    let named_by_file = bam("SP-0002-B-DNA.rerun", "")?;
    let g = ingest(&gw, "genome", &[named_by_file], false).await?;
    assert_eq!(g.totals.created, 1, "{g:?}");
    assert!(
        g.diagnostics
            .iter()
            .any(|d| d.message.contains("no read group names a sample (@RG SM)")),
        "{g:?}"
    );

    // Re-running every input changes nothing.
    let before = snapshot(&gw).await?;
    let epoch = store.catalogue_epoch().await?;
    let reruns = [
        ingest(&gw, "odm", &one("odm/gemj-edc-export.odm.xml"), false).await?,
        ingest(&gw, "redcap", &redcap(), false).await?,
        ingest(&gw, "fhir", &one("fhir/ehr-transaction-bundle.json"), false).await?,
        ingest(
            &gw,
            "biobank",
            &one("biobank/sample-manifest-miabis.csv"),
            false,
        )
        .await?,
        ingest(&gw, "ssmix2", &[ssmix2_root()], false).await?,
        ingest(
            &gw,
            "genome",
            &[
                fixtures().join("vcf/GEMJ-TEST-0001.somatic.vcf"),
                fixtures().join("vcf/GEMJ-TEST-0002.germline.vcf"),
            ],
            false,
        )
        .await?,
    ];
    for r in &reruns {
        assert!(
            r.totals.changed_nothing(),
            "a re-run changed something: {r:?}"
        );
    }
    assert_eq!(snapshot(&gw).await?, before);
    assert_eq!(store.catalogue_epoch().await?, epoch, "nothing was written");
    assert_eq!(
        store.count_variants(&ds).await?,
        6,
        "the fixtures' four, and the annotated call set's two indels"
    );
    assert!(store.verify_chains().await?.is_intact());

    // The phenopacket of 0002, as the README's expected file, field for field.
    let expected: Value = serde_json::from_slice(&std::fs::read(
        fixtures().join("phenopackets/GEMJ-TEST-0002.expected.phenopacket.json"),
    )?)?;
    // The operator's export (`gemj-gateway export phenopacket`) goes through the access point
    // of a gateway booted on the same store: audited as the operator, withdrawn subjects refused.
    let operator = gemj_server::Gateway::boot(config_of(&gw)?).await?;
    let packet = serde_json::to_value(
        operator
            .export_phenopacket("tester", "GEMJ-TEST-0002")
            .await?
            .ok_or("phenopacket")?,
    )?;
    assert_eq!(
        without_versions(&packet),
        without_versions(&expected),
        "{packet:#}"
    );
    assert!(
        operator
            .export_phenopacket("tester", p3.as_str())
            .await?
            .is_none(),
        "the withdrawn subject has no phenopacket"
    );
    let rows = store
        .audit_records_of_principal("operator:tester", 0, 10)
        .await?;
    let seen: Vec<(&str, Option<u64>)> = rows
        .iter()
        .map(|r| (r.event.participants[0].as_str(), r.event.records_returned))
        .collect();
    assert_eq!(
        seen,
        [("GEMJ-TEST-0002", Some(1)), (p3.as_str(), Some(0))],
        "one audit row per export, the withdrawn one serving nothing"
    );
    assert!(store.verify_chains().await?.is_intact());
    gw.stop().await;
    Ok(())
}

/// Parses a phenopacket with the official `phenopackets` 2.0.2 Python package (protobuf JSON,
/// unknown fields refused). Skipped without Python or the package, except under `CI=true`.
fn official_phenopacket_check(packet: &Value) -> TestResult {
    use std::io::Write as _;
    const SCRIPT: &str = "import sys\n\
        from google.protobuf.json_format import Parse\n\
        from phenopackets import Phenopacket\n\
        Parse(sys.stdin.read(), Phenopacket())\n";
    let available = std::process::Command::new("python3")
        .args(["-c", "import phenopackets"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !available {
        assert!(
            !gemj_schemas::testing::is_ci(),
            "CI needs the phenopackets Python package (pip install phenopackets==2.0.2)"
        );
        eprintln!("skipped: the phenopackets Python package is not installed");
        return Ok(());
    }
    let mut child = std::process::Command::new("python3")
        .args(["-c", SCRIPT])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    child
        .stdin
        .take()
        .ok_or("stdin")?
        .write_all(serde_json::to_string(packet)?.as_bytes())?;
    let out = child.wait_with_output()?;
    assert!(
        out.status.success(),
        "the phenopackets package refused the export: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

/// A phenopacket without what the README calls placeholders (`metaData.created`,
/// `metaData.createdBy` and the resources' versions), its repeated fields in one order (a
/// phenopacket's lists are sets: the export lists features by HPO id).
fn without_versions(v: &Value) -> Value {
    let mut v = v.clone();
    for list in ["phenotypicFeatures", "biosamples", "diseases"] {
        if let Some(items) = v.get_mut(list).and_then(Value::as_array_mut) {
            items.sort_by_key(Value::to_string);
        }
    }
    if let Some(meta) = v.get_mut("metaData").and_then(Value::as_object_mut) {
        meta.remove("created");
        meta.remove("createdBy");
        if let Some(resources) = meta.get_mut("resources").and_then(Value::as_array_mut) {
            for r in resources {
                if let Some(r) = r.as_object_mut() {
                    r.remove("version");
                }
            }
        }
    }
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ingest_and_phenopacket_over_http() -> TestResult {
    let gw = TestGateway::start(0).await?;
    let base = gw.base_url.clone();
    let http = Http { base: base.clone() };
    let institutions = gemj_demo::broker::institutions(gw.data_dir(), &base)?;
    let now = gemj_auth::now_unix();
    let token =
        |code: &str| gemj_e2e::institution_token(&institutions, code, "ehr-gateway", &base, now);
    let own = token("9999000001")?;
    let other = token("9999000002")?;
    let bundle = std::fs::read(fixtures().join("fhir/ehr-transaction-bundle.json"))?;
    let post = |path: &str, token: Option<&str>, body: Vec<u8>| {
        http.send(
            "POST",
            path,
            token,
            Some("application/fhir+json"),
            Some(body),
        )
    };

    // Anonymous: 401. A researcher's passport: 403. An unknown kind: 404.
    let r = post("/ingest/v1/fhir", None, bundle.clone())?;
    assert_eq!(r.status, 401, "{}", r.text());
    let broker = gemj_demo::broker::load(gw.data_dir(), &base)?;
    let passport = broker.issue_passport("alice", &[], Duration::from_secs(300), now)?;
    let r = post("/ingest/v1/fhir", Some(&passport), bundle.clone())?;
    assert_eq!(r.status, 403, "{}", r.text());
    let r = post("/ingest/v1/hl8", Some(&own), bundle.clone())?;
    assert_eq!(r.status, 404, "{}", r.text());
    let r = http.get("/ingest/v1/fhir", Some(&own))?;
    assert_eq!(r.status, 405, "{}", r.text());

    // The EHR push: created, then unchanged on the second identical POST.
    let r = post("/ingest/v1/fhir?name=ehr.json", Some(&own), bundle.clone())?;
    assert_eq!(r.status, 200, "{}", r.text());
    valid_report(&r.json, "HTTP ingest");
    assert_eq!(r.json["totals"]["quarantined"], 0, "{}", r.text());
    assert_eq!(r.json["totals"]["created"], 5, "{}", r.text());
    let r = post("/ingest/v1/fhir?name=ehr.json", Some(&own), bundle.clone())?;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json["totals"]["unchanged"], 5, "{}", r.text());
    let p1 = gw
        .store
        .get_participant(&pid("GEMJ-TEST-0001")?)
        .await?
        .ok_or("0001")?;
    assert_eq!(
        p1.institution.as_str(),
        "9999000001",
        "the submitting institution enrols"
    );

    // Another institution cannot change or re-link this institution's participant.
    let r = post(
        "/ingest/v1/fhir?name=ehr.json",
        Some(&other),
        bundle.clone(),
    )?;
    assert_eq!(r.status, 200, "{}", r.text());
    valid_report(&r.json, "HTTP ingest, quarantined");
    assert_eq!(r.json["totals"]["created"], 0, "{}", r.text());
    assert_eq!(r.json["totals"]["merged"], 0, "{}", r.text());
    assert!(
        r.json["quarantined"]
            .as_array()
            .is_some_and(|q| !q.is_empty()
                && q.iter().all(|q| q["reason"]
                    .as_str()
                    .is_some_and(|s| s.contains("another institution")))),
        "{}",
        r.text()
    );

    // A bundle that fails the R4 schema: 400 naming the place, nothing stored.
    let mut bad: Value = serde_json::from_slice(&bundle)?;
    bad["entry"][0]["resource"]["birthDate"] = json!(12);
    bad["entry"][0]["resource"]["identifier"][1]["value"] = json!("GEMJ-TEST-0099");
    let r = post("/ingest/v1/fhir", Some(&own), serde_json::to_vec(&bad)?)?;
    assert_eq!(r.status, 400, "{}", r.text());
    let errors = r.json["explanation"]["errors"].as_array().ok_or("errors")?;
    assert!(
        errors.iter().any(|e| e
            .as_str()
            .is_some_and(|e| e.starts_with("/entry/0/resource/birthDate"))),
        "{errors:?}"
    );
    assert!(
        gw.store
            .get_participant(&pid("GEMJ-TEST-0099")?)
            .await?
            .is_none()
    );

    // Several files in one request: the REDCap dictionary and export.
    use base64::Engine as _;
    let b64 = |p: &Path| -> Res<String> {
        Ok(base64::engine::general_purpose::STANDARD.encode(std::fs::read(p)?))
    };
    let files = json!({"files": redcap().iter().map(|p| -> Res<Value> {
        Ok(json!({"name": p.file_name().and_then(|n| n.to_str()).unwrap_or_default(), "base64": b64(p)?}))
    }).collect::<Res<Vec<_>>>()?});
    let r = http.send(
        "POST",
        "/ingest/v1/redcap?dry_run=true",
        Some(&own),
        Some(gemj_server::routes::ingest::FILES_MEDIA_TYPE),
        Some(serde_json::to_vec(&files)?),
    )?;
    assert_eq!(r.status, 200, "{}", r.text());
    valid_report(&r.json, "HTTP ingest, dry run");
    assert_eq!(r.json["dry_run"], true);
    assert!(
        r.json["totals"]["created"].as_u64() > Some(0),
        "{}",
        r.text()
    );
    assert!(
        gw.store
            .get_participant(&pid("GEMJ-TEST-0002")?)
            .await?
            .is_none(),
        "a dry run stores nothing"
    );

    // The phenopacket: for the enrolling institution; 404 for another; 401 anonymous.
    let r = http.get("/phenopackets/v2/GEMJ-TEST-0001", Some(&own))?;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json["subject"]["id"], "GEMJ-TEST-0001");
    assert_eq!(r.json["subject"]["dateOfBirth"], "1975-04-01T00:00:00Z");
    assert_eq!(r.json["subject"]["sex"], "MALE");
    assert_eq!(r.json["diseases"][0]["term"]["id"], "MONDO:0001056");
    assert_eq!(
        r.json["diseases"][0]["onset"]["timestamp"],
        "2024-02-15T00:00:00Z"
    );
    assert_eq!(r.json["metaData"]["phenopacketSchemaVersion"], "2.0");
    official_phenopacket_check(&r.json)?;
    let r = http.get("/phenopackets/v2/GEMJ-TEST-0001", Some(&other))?;
    assert_eq!(r.status, 404, "{}", r.text());
    let r = http.get("/phenopackets/v2/GEMJ-TEST-0001", None)?;
    assert_eq!(r.status, 401, "{}", r.text());
    let r = http.get("/phenopackets/v2/GEMJ-NOBODY", Some(&own))?;
    assert_eq!(r.status, 404, "{}", r.text());

    // After the participant withdraws, the phenopacket is gone like an unknown one.
    let event = json!({"event_id": "pp-w-1", "participant": "GEMJ-TEST-0001", "institution": "9999000001",
        "effective_at": "2026-01-01T00:00:00Z", "kind": "withdrawal", "level": "stop_all_use"});
    let r = http.post("/consent/v1/events", Some(&own), &event)?;
    assert_eq!(r.status, 201, "{}", r.text());
    let r = http.get("/phenopackets/v2/GEMJ-TEST-0001", Some(&own))?;
    assert_eq!(r.status, 404, "{}", r.text());
    // And a new push for that participant is quarantined with the reason.
    let r = post("/ingest/v1/fhir?name=ehr.json", Some(&own), bundle)?;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json["totals"]["created"], 0, "{}", r.text());
    assert!(
        r.json["quarantined"]
            .as_array()
            .is_some_and(|q| q.iter().all(|q| q["reason"]
                .as_str()
                .is_some_and(|s| s.contains("withdrawn")))),
        "{}",
        r.text()
    );
    gw.stop().await;
    Ok(())
}

/// The fixtures' canonical meaning read back through `/fhir` (see the call site).
async fn fhir_answers_match_the_fixtures(gw: &TestGateway) -> Res<()> {
    use gemj_e2e::visas;
    use gemj_passport::VisaType;
    let base = gw.base_url.clone();
    let http = Http { base: base.clone() };
    let broker = gemj_demo::broker::load(gw.data_dir(), &base)?;
    let now = gemj_auth::now_unix();
    let hour = Duration::from_secs(3600);
    let visa = |t: VisaType, value: &str| visas::visa(&broker, t, value, "dac", now);
    let passport = broker.issue_passport(
        "fixtures",
        &[
            visa(VisaType::ResearcherStatus, visas::BONA_FIDE),
            visa(
                VisaType::ControlledAccessGrants,
                &format!("{}{DATASET}", gemj_e2e::names::PREFIX),
            ),
        ],
        hour,
        now,
    )?;
    let admin = broker.issue_passport(gemj_demo::broker::ADMINISTRATOR, &[], hour, now)?;
    let approval = visas::hmb_approval("APR-FIXTURES", broker.issuer(), "fixtures", &[DATASET]);
    let r = http.post("/admin/v1/approvals", Some(&admin), &approval)?;
    assert_eq!(r.status, 201, "approval: {}", r.text());
    let get = |path: &str| -> Res<Value> {
        let r = http.get(path, Some(&passport))?;
        if r.status != 200 {
            return Err(format!("{path}: {} {}", r.status, r.text()).into());
        }
        Ok(r.json)
    };
    let first = |bundle: &Value| bundle["entry"][0]["resource"].clone();

    // The CLI's ingest wrote the consent events behind the server's back: its consent view
    // sees them at its next poll.
    let members = format!("/catalogue/v1/datasets/{DATASET}/participants");
    for _ in 0..100 {
        if get(&members)?.to_string().contains("GEMJ-TEST-0002") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let conditions = get("/fhir/Condition?patient=GEMJ-TEST-0002&code=Q87.4")?;
    assert_eq!(conditions["total"], 1, "{conditions}");
    let marfan = first(&conditions);
    assert_eq!(
        marfan["onsetDateTime"], "2005",
        "a year stays a year: {marfan}"
    );
    assert_eq!(marfan["recordedDate"], "2019-05-01");
    let gastric = first(&get("/fhir/Condition?patient=GEMJ-TEST-0001")?);
    assert_eq!(gastric["code"]["coding"][0]["code"], "C16.9");
    assert_eq!(gastric["onsetDateTime"], "2024-02-15");

    let albumin = get("/fhir/Observation?patient=GEMJ-TEST-0001&code=3A015000002327101")?;
    assert_eq!(albumin["total"], 1, "{albumin}");
    let albumin = first(&albumin);
    assert_eq!(albumin["valueQuantity"]["value"], 3.2);
    assert_eq!(albumin["valueQuantity"]["unit"], "g/dL");
    assert_eq!(albumin["interpretation"][0]["coding"][0]["code"], "L");
    assert_eq!(albumin["referenceRange"][0]["text"], "3.7-5.5");
    assert!(
        albumin["effectiveDateTime"]
            .as_str()
            .is_some_and(|t| t.starts_with("2024-03-14T09:00:00+09:00")),
        "{albumin}"
    );
    let labs = get("/fhir/Observation?patient=GEMJ-TEST-0001&category=laboratory&_count=100")?;
    assert!(
        !labs.to_string().contains("9.99"),
        "the deleted CRP result is nowhere"
    );

    let dna = get("/fhir/Specimen/SP-0001-B-DNA")?;
    assert_eq!(dna["parent"][0]["reference"], "Specimen/SP-0001-B");
    assert_eq!(dna["collection"]["collectedDateTime"], "2024-03-18");
    assert_eq!(dna["type"]["coding"][0]["code"], "DNA");

    let component = |o: &Value, code: &str| -> Value {
        o["component"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["code"]["coding"][0]["code"] == code)
            .cloned()
            .unwrap_or(Value::Null)
    };
    // README §9, row by row: found by SPDI and by its dbSNP id alike.
    for (subject, variant, rs, specimen, class, start, gene) in [
        (
            "GEMJ-TEST-0001",
            "NC_000012.12:25245349:C:T",
            "rs121913529",
            "SP-0001-T",
            "LA6684-0",
            25_245_349,
            "KRAS",
        ),
        (
            "GEMJ-TEST-0001",
            "NC_000017.11:7675087:C:T",
            "rs28934578",
            "SP-0001-T",
            "LA6684-0",
            7_675_087,
            "TP53",
        ),
        (
            "GEMJ-TEST-0002",
            "NC_000006.12:26092912:G:A",
            "rs1800562",
            "SP-0002-B-DNA",
            "LA6683-2",
            26_092_912,
            "HFE",
        ),
        (
            "GEMJ-TEST-0002",
            "NC_000010.11:94781858:G:A",
            "rs4244285",
            "SP-0002-B-DNA",
            "LA6683-2",
            94_781_858,
            "CYP2C19",
        ),
    ] {
        let answer = get(&format!(
            "/fhir/$find-subject-specific-variants?subject=Patient/{subject}&variants={variant}"
        ))?;
        let parts = &answer["parameter"][0]["part"];
        assert_eq!(parts[1]["valueBoolean"], true, "{answer}");
        let observation = &parts[2]["resource"];
        let by_id = get(&format!(
            "/fhir/$find-subject-specific-variants?subject=Patient/{subject}&variants={rs}"
        ))?;
        assert_eq!(
            by_id["parameter"][0]["part"][2]["resource"], *observation,
            "{rs} finds the same Variant: {by_id}"
        );
        assert_eq!(
            component(observation, "81252-9")["valueCodeableConcept"]["coding"][0]["code"],
            rs
        );
        let studied = component(observation, "48018-6")["valueCodeableConcept"].clone();
        if gene == "TP53" {
            // The annotated call set gives TP53's HGNC id (README §9: 48018-6 = HGNC:11998).
            assert_eq!(studied["coding"][0]["code"], "HGNC:11998", "{observation}");
            assert_eq!(studied["coding"][0]["display"], "TP53");
        } else {
            assert_eq!(
                studied["text"], gene,
                "the fixture gives the symbol only (no HGNC id to code it with)"
            );
        }
        let vaf = component(observation, "81258-6")["valueQuantity"]["value"].clone();
        let zygosity =
            component(observation, "53034-5")["valueCodeableConcept"]["coding"][0]["code"].clone();
        match rs {
            "rs121913529" => assert_eq!((vaf.as_f64(), &zygosity), (Some(0.23), &Value::Null)),
            "rs28934578" => assert_eq!((vaf.as_f64(), &zygosity), (Some(0.41), &Value::Null)),
            // Germline: zygosity from GT; the fraction from AD (16 of 34 reads, 30 of 30).
            "rs1800562" => assert_eq!(
                (vaf.as_f64(), zygosity.as_str()),
                (Some(0.4706), Some("LA6706-1"))
            ),
            _ => assert_eq!(
                (vaf.as_f64(), zygosity.as_str()),
                (Some(1.0), Some("LA6705-3"))
            ),
        }
        assert_eq!(
            observation["specimen"]["reference"],
            format!("Specimen/{specimen}")
        );
        assert_eq!(
            component(observation, "48002-0")["valueCodeableConcept"]["coding"][0]["code"],
            class
        );
        assert_eq!(
            component(observation, "81254-5")["valueRange"]["low"]["value"],
            start
        );
    }
    // Coding HGVS (with or without the gene in parentheses, with or without the transcript's
    // version) finds TP53 through its transcript annotation.
    let subject = "subject=Patient/GEMJ-TEST-0001";
    for name in [
        "NM_000546.6:c.524G%3EA",
        "NM_000546.6(TP53):c.524G%3EA",
        "NM_000546:c.524G%3EA",
    ] {
        let answer = get(&format!(
            "/fhir/$find-subject-specific-variants?{subject}&variants={name}"
        ))?;
        let part = &answer["parameter"][0]["part"];
        assert_eq!(part[1]["valueBoolean"], true, "{name}: {answer}");
        assert_eq!(
            component(&part[2]["resource"], "69551-0")["valueString"],
            "T"
        );
    }
    // A name no annotation knows cannot be placed: 422, never a made-up absence.
    let r = http.get(
        &format!("/fhir/$find-subject-specific-variants?{subject}&variants=NM_000546.6:c.1A%3EG"),
        Some(&passport),
    )?;
    assert_eq!(r.status, 422, "{}", r.text());
    assert_eq!(r.json["issue"][0]["code"], "not-found");

    // Genomic HGVS indels are found by their shape where VCF anchors them, with or without
    // the bases stated; other bases or another length are absent.
    for (hgvs, present) in [
        ("NC_000017.11:g.7675301_7675302del", true),
        ("NC_000017.11:g.7675301_7675302delTG", true),
        ("NC_000017.11:g.7675301_7675302delAA", false),
        ("NC_000017.11:g.7675301del", false),
        ("NC_000017.11:g.7675400_7675401insGG", true),
        ("NC_000017.11:g.7675400_7675401insGA", false),
    ] {
        let answer = get(&format!(
            "/fhir/$find-subject-specific-variants?{subject}&variants={hgvs}"
        ))?;
        assert_eq!(
            answer["parameter"][0]["part"][1]["valueBoolean"], present,
            "{hgvs}: {answer}"
        );
    }

    // Molecular consequences and implications derive from the Variant and are read back by id;
    // the answers are valid R4 Parameters.
    let parameters = gemj_schemas::SchemaSet::embedded()
        .validator(gemj_schemas::docs::FHIR_R4, "/definitions/Parameters")?;
    let profiles = gemj_e2e::ig::Profiles::load()?;
    let valid = |answer: &Value| -> Res<()> {
        if let Err(errors) = parameters.validate(answer) {
            return Err(format!("not valid R4: {errors:?}: {answer}").into());
        }
        // And each resource against the IG profiles it claims (with the IG package at hand).
        let parts = answer["parameter"].as_array().into_iter().flatten();
        for p in parts
            .clone()
            .chain(parts.flat_map(|p| p["part"].as_array().into_iter().flatten()))
        {
            if p.get("resource").is_some()
                && let Some(profiles) = &profiles
            {
                profiles.check(&p["resource"])?;
            }
        }
        Ok(())
    };
    let answer = get(&format!(
        "/fhir/$find-subject-molecular-consequences?{subject}"
    ))?;
    valid(&answer)?;
    let params = answer["parameter"].as_array().cloned().unwrap_or_default();
    let consequence = params
        .iter()
        .find(|p| p["name"] == "consequence")
        .map(|p| p["resource"].clone())
        .ok_or(format!("no consequence: {answer}"))?;
    assert_eq!(
        component(&consequence, "feature-consequence")["valueCodeableConcept"]["coding"][0]["code"],
        "SO:0001583"
    );
    assert_eq!(
        component(&consequence, "48004-6")["valueCodeableConcept"]["coding"][0]["code"],
        "NM_000546.6:c.524G>A"
    );
    assert_eq!(
        component(&consequence, "48005-3")["valueCodeableConcept"]["coding"][0]["code"],
        "p.Arg175His"
    );
    let variant = params
        .iter()
        .find(|p| p["name"] == "variant")
        .map(|p| p["resource"].clone())
        .ok_or("no variant")?;
    assert_eq!(
        consequence["derivedFrom"][0]["reference"],
        format!("Observation/{}", variant["id"].as_str().unwrap_or_default())
    );
    let id = consequence["id"].as_str().unwrap_or_default();
    assert_eq!(get(&format!("/fhir/Observation/{id}"))?, consequence);
    let none = get(&format!(
        "/fhir/$find-subject-molecular-consequences?{subject}&featureConsequences=http://www.sequenceontology.org%7CSO:0001587"
    ))?;
    assert!(
        none["parameter"].as_array().is_none_or(Vec::is_empty),
        "{none}"
    );

    let answer = get(&format!(
        "/fhir/$find-subject-dx-implications?{subject}&conditions=Li-Fraumeni%20syndrome"
    ))?;
    valid(&answer)?;
    let implication = &answer["parameter"][0]["resource"];
    assert_eq!(answer["parameter"][0]["name"], "implication", "{answer}");
    assert_eq!(
        component(implication, "53037-8")["valueCodeableConcept"]["coding"][0]["code"],
        "LA6668-3"
    );
    assert_eq!(
        component(implication, "81259-4")["valueCodeableConcept"]["text"],
        "Li-Fraumeni syndrome"
    );
    let other = get(&format!(
        "/fhir/$find-subject-dx-implications?{subject}&conditions=Marfan"
    ))?;
    assert!(
        other["parameter"].as_array().is_none_or(Vec::is_empty),
        "{other}"
    );
    let tx = get(&format!("/fhir/$find-subject-tx-implications?{subject}"))?;
    assert!(
        tx["parameter"].as_array().is_none_or(Vec::is_empty),
        "no drug response is annotated: {tx}"
    );
    // Population implication counts: the subjects who carry an allele whose annotations hold
    // the implication (TP53 p.Arg175His, carried by 0001, is Li-Fraumeni's and a missense).
    let tp53 = "variants=17-7675088-C-T";
    for (op, filter, part, n) in [
        (
            "dx-implications",
            "&conditions=Li-Fraumeni%20syndrome",
            "implications",
            1,
        ),
        ("dx-implications", "&conditions=Marfan", "implications", 0),
        ("tx-implications", "", "implications", 0),
        (
            "molecular-consequences",
            "&featureConsequences=SO:0001583",
            "consequences",
            1,
        ),
        (
            "molecular-consequences",
            "&featureConsequences=SO:0001587",
            "consequences",
            0,
        ),
    ] {
        let answer = get(&format!("/fhir/$find-population-{op}?{tp53}{filter}"))?;
        valid(&answer)?;
        let problems =
            gemj_fhir::genomics::output_problems(&format!("find-population-{op}"), &answer)?;
        assert!(problems.is_empty(), "{op}{filter}: {problems:?}");
        assert_eq!(answer["parameter"][0]["name"], part, "{answer}");
        let numerator = &answer["parameter"][0]["part"][0];
        assert_eq!(numerator["name"], "numerator", "{answer}");
        assert_eq!(
            numerator["valueQuantity"]["value"], n,
            "{op}{filter}: {answer}"
        );
    }
    let r = http.get(
        "/fhir/$find-population-dx-implications?conditions=Marfan",
        Some(&passport),
    )?;
    assert_eq!(
        r.status,
        422,
        "no variant to count the carriers of: {}",
        r.text()
    );

    // Germline calls are Genotypes in HGVS genotype notation, found by gene; a star allele's
    // core variant (CYP2C19*2 is rs4244285, homozygous in 0002) is its Haplotype, and nothing
    // else is made up.
    for (gene, star, hgvs) in [
        ("HFE", None, "NC_000006.12:g.[26092913G>A];[=]"),
        (
            "CYP2C19",
            Some("CYP2C19*2"),
            "NC_000010.11:g.[94781859G>A];[94781859G>A]",
        ),
    ] {
        let answer = get(&format!(
            "/fhir/$find-subject-haplotypes?subject=Patient/GEMJ-TEST-0002&genes={gene}"
        ))?;
        valid(&answer)?;
        let part = answer["parameter"][0]["part"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(part[0]["valueString"], gene, "{answer}");
        let named = |name: &str| -> Vec<&Value> {
            part.iter()
                .filter(|x| x["name"] == name)
                .map(|x| &x["resource"])
                .collect()
        };
        let genotypes = named("genotype");
        assert_eq!(genotypes.len(), 1, "one call per gene: {answer}");
        assert_eq!(genotypes[0]["code"]["coding"][0]["code"], "84413-4");
        assert_eq!(
            genotypes[0]["valueCodeableConcept"]["coding"][0]["code"],
            hgvs
        );
        let haplotypes = named("haplotype");
        assert_eq!(
            haplotypes
                .iter()
                .map(|h| h["valueCodeableConcept"]["text"].as_str())
                .collect::<Vec<_>>(),
            star.into_iter().map(Some).collect::<Vec<_>>(),
            "{answer}"
        );
        if let Some(h) = haplotypes.first() {
            assert_eq!(h["code"]["coding"][0]["code"], "84414-2");
            assert_eq!(
                h["component"][0]["valueCodeableConcept"]["coding"][0]["code"],
                "HGNC:2621"
            );
            assert_eq!(
                h["derivedFrom"], genotypes[0]["derivedFrom"],
                "the same Variant"
            );
            assert!(
                h["note"][0]["text"]
                    .as_str()
                    .is_some_and(|t| t.contains("rs4244285") && t.contains("both copies")),
                "{h}"
            );
            // Read back by id, and found by its code.
            let id = h["id"].as_str().unwrap_or_default();
            assert_eq!(&get(&format!("/fhir/Observation/{id}"))?, *h);
            let search = get(
                "/fhir/Observation?subject=Patient/GEMJ-TEST-0002&code=http://loinc.org%7C84414-2",
            )?;
            assert_eq!(search["total"], 1, "{search}");
        }
    }
    // Specific star alleles: present from the core variant, absent when not carried, refused
    // when the shipped table does not define them.
    for (allele, present) in [
        ("CYP2C19*2", true),
        ("CYP2C19*17", false),
        ("CYP2C9*3", false),
    ] {
        let answer = get(&format!(
            "/fhir/$find-subject-specific-haplotypes?subject=Patient/GEMJ-TEST-0002&haplotypes={}",
            allele.replace('*', "%2A")
        ))?;
        valid(&answer)?;
        let part = &answer["parameter"][0]["part"];
        assert_eq!(part[0]["valueString"], allele, "{answer}");
        assert_eq!(part[1]["name"], "presence", "{answer}");
        assert_eq!(part[1]["valueBoolean"], present, "{answer}");
        assert_eq!(part.get(2).is_some(), present, "{answer}");
    }
    let r = http.get(
        "/fhir/$find-subject-specific-haplotypes?subject=Patient/GEMJ-TEST-0002&haplotypes=CYP2D6*4",
        Some(&passport),
    )?;
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(
        r.text().contains("CYP2C19*2"),
        "names what is defined: {}",
        r.text()
    );
    let answer = get("/fhir/$find-population-specific-haplotypes?haplotypes=CYP2C19*2,CYP2C9*3")?;
    valid(&answer)?;
    let counts: Vec<(&Value, &Value)> = answer["parameter"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            (
                &p["part"][0]["valueString"],
                &p["part"][1]["valueQuantity"]["value"],
            )
        })
        .collect();
    assert_eq!(
        counts,
        [
            (&json!("CYP2C19*2"), &json!(1)),
            (&json!("CYP2C9*3"), &json!(0))
        ],
        "0002 carries CYP2C19*2: {answer}"
    );
    // The somatic calls of 0001 have no Genotype.
    let answer = get(&format!(
        "/fhir/$find-subject-haplotypes?{subject}&genes=TP53"
    ))?;
    assert!(answer["parameter"][0]["part"].get(1).is_none(), "{answer}");

    // Population counts of an indel are the same whether it is written as SPDI (any anchor
    // base) or as genomic HGVS (Beacon's genomicAlleleShortForm).
    let count = |variant: &str| -> Res<Value> {
        let answer = get(&format!(
            "/fhir/$find-population-specific-variants?variants={variant}"
        ))?;
        valid(&answer)?;
        Ok(answer["parameter"][0]["part"].clone())
    };
    let spdi = count("NC_000017.11:7675300:TG:")?;
    assert_eq!(spdi[0]["valueString"], "NC_000017.11:7675300:TG:");
    assert_eq!(
        (&spdi[1]["name"], &spdi[1]["valueQuantity"]["value"]),
        (&json!("numerator"), &json!(1)),
        "GEMJ-TEST-0001 carries it (stored anchored on C): {spdi}"
    );
    let hgvs = count("NC_000017.11:g.7675301_7675302del")?;
    let tail = |v: &Value| v.as_array().map(|a| a[1..].to_vec()).unwrap_or_default();
    assert_eq!(tail(&spdi), tail(&hgvs), "SPDI {spdi} and HGVS {hgvs}");
    let other = count("NC_000017.11:g.7675301_7675302delAA")?;
    assert_eq!(other[1]["valueQuantity"]["value"], 0, "{other}");

    // Population operations take the allele, never a name resolved through annotations.
    let r = http.get(
        "/fhir/$find-population-specific-variants?variants=rs28934578",
        Some(&passport),
    )?;
    assert_eq!(r.status, 422, "{}", r.text());

    let r = http.get("/fhir/Patient/GEMJ-TEST-0003", Some(&passport))?;
    assert_eq!(r.status, 404, "the withdrawn participant: {}", r.text());
    Ok(())
}
