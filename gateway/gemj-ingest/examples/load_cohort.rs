//! Loads a multi-sample cohort VCF into a store for the scale model (issue 21,
//! `scripts/bench-scale.sh`): one participant and one DNA specimen per sample column (named
//! after it), an initial consent for each, a REGISTERED dataset, then the file through the real
//! genome ingest (`gemj_ingest::genomes::ingest_file`: BGZF, index, read, merge into the
//! variant index with every carrier's call, register as DRS objects). Prints the timings (the
//! script reads the table sizes).
//!
//! ```text
//! cargo run --release -p gemj-ingest --example load_cohort -- \
//!   --database-url postgres://postgres@127.0.0.1:5432/test --schema scale \
//!   --vcf bench-data/vcf/cohort.vcf.gz --objects /tmp/scale-objects
//! ```

use std::time::Instant;

use gemj_ingest::IngestReport;
use gemj_ingest::genomes::{GenomeOptions, ingest_file};
use gemj_model::{
    AccessLevel, ConsentEvent, ConsentEventKind, ConsentScopes, DataUseCondition, Dataset,
    DatasetId, DuoCode, InstitutionId, Participant, ParticipantId, Program, Recontact, Sex,
    Specimen, SpecimenId, SpecimenType,
};
use gemj_objects::LocalFolderStorage;
use gemj_store::{Store, StoreOptions};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// The dataset the cohort joins.
const DATASET: &str = "GEMJ-SCALE-WGS";

struct Args {
    database_url: String,
    schema: Option<String>,
    vcf: std::path::PathBuf,
    objects: std::path::PathBuf,
}

fn args() -> Res<Args> {
    let mut a = Args {
        database_url: String::new(),
        schema: None,
        vcf: std::path::PathBuf::new(),
        objects: std::env::temp_dir().join("gemj-scale-objects"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or("every flag takes a value")?;
        match flag.as_str() {
            "--database-url" => a.database_url = value,
            "--schema" => a.schema = Some(value),
            "--vcf" => a.vcf = value.into(),
            "--objects" => a.objects = value.into(),
            other => return Err(format!("unknown flag {other}").into()),
        }
    }
    if a.database_url.is_empty() || a.vcf.as_os_str().is_empty() {
        return Err("--database-url and --vcf are required".into());
    }
    Ok(a)
}

#[tokio::main]
async fn main() -> Res<()> {
    let a = args()?;
    let store = Store::connect(
        &a.database_url,
        &StoreOptions {
            schema: a.schema.clone(),
            ..StoreOptions::default()
        },
    )
    .await?;
    store.migrate().await?;
    let institution = InstitutionId::parse("9999000901")?;
    store
        .put_institution(&institution, "Synthetic scale-model biobank")
        .await?;
    let dataset = DatasetId::parse(DATASET)?;
    store
        .put_dataset(&Dataset {
            id: dataset.clone(),
            name: "Scale model: synthetic WGS cohort".to_owned(),
            description: "stdpopsim HomSap OutOfAfrica_3G09 genomes (make-bench-data.sh), \
                          synthetic participants"
                .to_owned(),
            access_level: AccessLevel::Registered,
            data_use: DataUseCondition {
                permission: DuoCode::parse("DUO:0000042")?,
                modifiers: Vec::new(),
                disease: None,
                countries: Vec::new(),
                institutions: Vec::new(),
                projects: Vec::new(),
                users: Vec::new(),
            },
        })
        .await?;

    let samples = gemj_genomes::variants::VariantReader::open(&a.vcf)?
        .sample_names()
        .to_vec();
    let t = Instant::now();
    let consented = time::OffsetDateTime::from_unix_timestamp(1_767_225_600)?;
    for (i, sample) in samples.iter().enumerate() {
        let participant = ParticipantId::parse(&format!("GEMJ-SCALE-{i:06}"))?;
        store
            .upsert_participant(&Participant {
                id: participant.clone(),
                institution: institution.clone(),
                sex: if i % 2 == 0 { Sex::Female } else { Sex::Male },
                birth: None,
                program: Program::RareDisease,
            })
            .await?;
        store
            .upsert_specimen(&Specimen {
                id: SpecimenId::parse(sample)?,
                participant: participant.clone(),
                specimen_type: SpecimenType::Dna,
                parent: None,
                collected: None,
                tumour: None,
                biobank_sample: true,
                details: Default::default(),
            })
            .await?;
        store
            .append_consent_event(&ConsentEvent {
                event_id: format!("scale-consent-{i}"),
                participant,
                institution: institution.clone(),
                effective_at: consented,
                kind: ConsentEventKind::InitialConsent {
                    scopes: ConsentScopes {
                        // A broad consent: a registered researcher without an approval
                        // is served as the strictest scope (industry and abroad), so a
                        // narrower consent would leave the cohort empty to the queries timed.
                        research_use: true,
                        third_party_academia: true,
                        third_party_industry: true,
                        international_transfer: true,
                        recontact: Recontact {
                            allowed: false,
                            via_institution: None,
                        },
                        return_of_secondary_findings: false,
                    },
                    by_proxy: false,
                },
            })
            .await?;
    }
    println!(
        "cohort: {} participants, specimens and consents in {:.1} s",
        samples.len(),
        t.elapsed().as_secs_f64()
    );

    let objects = LocalFolderStorage::new(&a.objects);
    let work = tempfile::tempdir()?;
    let options = GenomeOptions {
        dataset,
        dry_run: false,
        work_dir: work.path().to_owned(),
    };
    let mut report = IngestReport::new("genome", false);
    let t = Instant::now();
    ingest_file(&store, &objects, &a.vcf, &options, &mut report).await?;
    let secs = t.elapsed().as_secs_f64();
    let g = report.genomes.clone().unwrap_or_default();
    println!(
        "ingest: {} variant records x {} samples in {secs:.1} s ({:.0} records/s; {} alleles \
         created, {} without carriers)",
        g.variant_records,
        samples.len(),
        g.variant_records as f64 / secs,
        g.variants_created,
        g.variants_without_carriers
    );
    Ok(())
}
