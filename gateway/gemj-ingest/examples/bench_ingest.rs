//! Ingest benchmark (figures for docs/PERFORMANCE.md):
//!
//! 1. a synthetic SS-MIX2 tree of `--patients` patients (generated here by
//!    `gemj_ssmix2::synthetic`, written to a temporary folder, linked to GeMJ participants)
//!    ingested end to end from disk: walk, plan, decode, parse, map, resolve, merge, commit;
//! 2. a synthetic VCF of `--vcf-records` records × `--samples` samples loaded into a dataset's
//!    variant index (`gemj_ingest::genomes::ingest_file`: read, merge, register), and the
//!    store's merge alone.
//!
//! The store is SQLite in a temporary folder, or PostgreSQL with `--database-url`.
//!
//! ```text
//! cargo run --release -p gemj-ingest --example bench_ingest -- --patients 10000 --vcf-records 1000000 --samples 8
//! cargo run --release -p gemj-ingest --example bench_ingest -- --database-url postgres://postgres@127.0.0.1:5432/test --patients 0
//! ```

use std::io::Write as _;
use std::time::Instant;

use gemj_ingest::genomes::{GenomeOptions, ingest_file};
use gemj_ingest::sources::{NoProgress, Readers, ingest_ssmix2_tree};
use gemj_ingest::{ApplyOptions, IngestReport, apply};
use gemj_model::source::{
    Extract, HospitalPatientId, RecordBody, SourceRecord, SubjectFacts, SubjectRef,
};
use gemj_model::{
    AccessLevel, DataUseCondition, Dataset, DatasetId, DuoCode, InstitutionId, ParticipantId,
    Program, Provenance, Sex, Specimen, SpecimenId, SpecimenType,
};
use gemj_objects::LocalFolderStorage;
use gemj_store::{Store, StoreOptions, VariantContribution};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

struct Args {
    patients: usize,
    vcf_records: usize,
    samples: usize,
    database_url: Option<String>,
}

fn args() -> Res<Args> {
    let mut a = Args {
        patients: 10_000,
        vcf_records: 1_000_000,
        samples: 8,
        database_url: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or("every flag takes a value")?;
        match flag.as_str() {
            "--patients" => a.patients = value.parse()?,
            "--vcf-records" => a.vcf_records = value.parse()?,
            "--samples" => a.samples = value.parse()?,
            "--database-url" => a.database_url = Some(value),
            other => return Err(format!("unknown flag {other}").into()),
        }
    }
    Ok(a)
}

#[tokio::main]
async fn main() -> Res<()> {
    let a = args()?;
    let dir = tempfile::tempdir()?;
    let options = StoreOptions {
        schema: a
            .database_url
            .as_ref()
            .map(|_| format!("bench_ingest_{}", std::process::id())),
        ..StoreOptions::default()
    };
    let url = a
        .database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("gemj.sqlite").display()));
    let store = Store::connect(&url, &options).await?;
    store.migrate().await?;
    println!("store: {}", store.backend().as_str());
    let institution = InstitutionId::parse(gemj_ssmix2::synthetic::INSTITUTION)?;
    store
        .put_institution(&institution, "Synthetic hospital")
        .await?;

    if a.patients > 0 {
        ssmix2(&store, dir.path(), a.patients, &institution).await?;
    }
    if a.vcf_records > 0 {
        vcf(&store, dir.path(), a.vcf_records, a.samples, &institution).await?;
    }
    if a.database_url.is_some() {
        store.drop_schema_and_close().await?;
    }
    Ok(())
}

async fn ssmix2(
    store: &Store,
    dir: &std::path::Path,
    patients: usize,
    institution: &InstitutionId,
) -> Res<()> {
    let root = dir.join("standard_root");
    let t = Instant::now();
    let mut files = 0_usize;
    let mut bytes = 0_usize;
    for (path, data) in gemj_ssmix2::synthetic::generate_tree(patients, 7) {
        let target = root.join(&path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&target, &data)?;
        files += 1;
        bytes += data.len();
    }
    println!(
        "ssmix2: generated {patients} patients, {files} files, {:.1} MB in {:.1} s",
        bytes as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );
    // Enrolment: each hospital patient id linked to a GeMJ participant (what the EDC or the
    // EHR's FHIR push does before SS-MIX2 data can be resolved).
    let mut extract = Extract::default();
    for i in 0..patients {
        let id = ParticipantId::parse(&format!("GEMJ-BENCH-{i:06}"))?;
        let hospital = HospitalPatientId {
            institution: institution.clone(),
            patient: (gemj_ssmix2::synthetic::FIRST_PATIENT + i as u64).to_string(),
        };
        extract.records.push(SourceRecord {
            subject: SubjectRef::Participant(id.clone()),
            provenance: Provenance {
                source: "bench".to_owned(),
                file: None,
                position: Some(format!("subject {i}")),
                value: None,
            },
            body: RecordBody::Subject(SubjectFacts {
                participant: Some(id),
                hospital_ids: vec![hospital],
                institution: Some(institution.clone()),
                sex: Some(Sex::Unknown),
                program: Some(Program::RareDisease),
                ..SubjectFacts::default()
            }),
        });
    }
    let mut report = IngestReport::new("bench", false);
    let t = Instant::now();
    apply(store, extract, &ApplyOptions::default(), &mut report).await?;
    println!(
        "ssmix2: enrolled {patients} participants with linkage in {:.2} s",
        t.elapsed().as_secs_f64()
    );

    let readers = Readers::new(gemj_schemas::SchemaSet::embedded(), 256);
    let options = ApplyOptions {
        institution: Some(institution.clone()),
        dry_run: false,
        own_participants_only: false,
    };
    let t = Instant::now();
    let report = ingest_ssmix2_tree(store, &root, &readers, &options, &NoProgress).await?;
    let secs = t.elapsed().as_secs_f64();
    let c = &report.totals;
    println!(
        "ssmix2: ingested {} files, {} records in {secs:.2} s: {:.0} files/s, {:.0} records/s \
         ({} created, {} merged, {} unchanged, {} deleted, {} quarantined)",
        report.files,
        c.records,
        report.files as f64 / secs,
        c.records as f64 / secs,
        c.created,
        c.merged,
        c.unchanged,
        c.deleted,
        c.quarantined
    );
    let t = Instant::now();
    let again = ingest_ssmix2_tree(store, &root, &readers, &options, &NoProgress).await?;
    println!(
        "ssmix2: re-run (nothing changes: {}) in {:.2} s",
        again.totals.changed_nothing(),
        t.elapsed().as_secs_f64()
    );
    Ok(())
}

async fn vcf(
    store: &Store,
    dir: &std::path::Path,
    records: usize,
    samples: usize,
    institution: &InstitutionId,
) -> Res<()> {
    let dataset = DatasetId::parse("GEMJ-BENCH-VCF")?;
    store
        .put_dataset(&Dataset {
            id: dataset.clone(),
            name: "Benchmark".to_owned(),
            description: "Synthetic VCF load".to_owned(),
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
    let mut names = Vec::new();
    for s in 0..samples {
        let p = ParticipantId::parse(&format!("GEMJ-VCF-{s:04}"))?;
        store
            .upsert_participant(&gemj_model::Participant {
                id: p.clone(),
                institution: institution.clone(),
                sex: Sex::Unknown,
                birth: None,
                program: Program::RareDisease,
            })
            .await?;
        let sp = SpecimenId::parse(&format!("SP-VCF-{s:04}"))?;
        store
            .upsert_specimen(&Specimen {
                id: sp.clone(),
                participant: p,
                specimen_type: SpecimenType::Dna,
                parent: None,
                collected: None,
                tumour: None,
                biobank_sample: true,
                details: Default::default(),
            })
            .await?;
        names.push(sp.to_string());
    }
    // A VCF of `records` biallelic sites on one chromosome, genotypes from a fixed LCG.
    let path = dir.join("bench.vcf");
    let t = Instant::now();
    {
        let mut w = std::io::BufWriter::new(std::fs::File::create(&path)?);
        writeln!(w, "##fileformat=VCFv4.2")?;
        writeln!(w, "##contig=<ID=chr1,length=248956422>")?;
        writeln!(
            w,
            "##FORMAT=<ID=GT,Number=1,Type=String,Description=\"Genotype\">"
        )?;
        write!(w, "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT")?;
        for n in &names {
            write!(w, "\t{n}")?;
        }
        writeln!(w)?;
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        for i in 0..records {
            write!(w, "chr1\t{}\t.\tA\tG\t.\tPASS\t.\tGT", 10_000 + i * 100)?;
            for _ in 0..samples {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                let gt = match state >> 61 {
                    0 => "1/1",
                    1 | 2 => "0/1",
                    _ => "0/0",
                };
                write!(w, "\t{gt}")?;
            }
            writeln!(w)?;
        }
    }
    let size = std::fs::metadata(&path)?.len();
    println!(
        "vcf: wrote {records} records x {samples} samples ({:.1} MB) in {:.1} s",
        size as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );
    let objects = LocalFolderStorage::new(dir.join("objects"));
    let options = GenomeOptions {
        dataset: dataset.clone(),
        dry_run: false,
        work_dir: dir.join("work"),
    };
    let mut report = IngestReport::new("genome", false);
    let t = Instant::now();
    ingest_file(store, &objects, &path, &options, &mut report).await?;
    let secs = t.elapsed().as_secs_f64();
    let g = report.genomes.clone().unwrap_or_default();
    println!(
        "vcf: ingest end to end (bgzip, index, read, merge, register) {} records in {secs:.2} s: \
         {:.0} records/s ({} created, {} without carriers)",
        g.variant_records,
        g.variant_records as f64 / secs,
        g.variants_created,
        g.variants_without_carriers
    );

    // The store's merge alone: the same alleles into a second, empty dataset.
    let second = DatasetId::parse("GEMJ-BENCH-VCF-2")?;
    store
        .put_dataset(&Dataset {
            id: second.clone(),
            ..store.get_dataset(&dataset).await?.ok_or("dataset")?
        })
        .await?;
    let rows = store.variants_of_dataset(&dataset, u32::MAX).await?;
    let input: Vec<VariantContribution> = rows
        .iter()
        .map(|r| VariantContribution {
            key: r.key.clone(),
            carriers: r.carriers.iter().map(|o| (o, 1)).collect(),
            callsets: r.callsets.iter().flatten().collect(),
            calls: Vec::new(),
            notes: None,
        })
        .collect();
    let t = Instant::now();
    let m = store.merge_variants(&second, &input).await?;
    let secs = t.elapsed().as_secs_f64();
    println!(
        "vcf: store merge alone: {} rows in {secs:.2} s: {:.0} rows/s",
        m.created,
        m.created as f64 / secs
    );
    let t = Instant::now();
    let m = store.merge_variants(&second, &input).await?;
    println!(
        "vcf: store merge re-run: {} unchanged in {:.2} s",
        m.unchanged,
        t.elapsed().as_secs_f64()
    );
    Ok(())
}
