//! The one behaviour suite of the store. Each case is an `async fn` taking a fresh, unmigrated
//! [`Store`]; the `behaviour!` macro runs every case against SQLite (a temporary file) and
//! against PostgreSQL when `GEMJ_TEST_DATABASE_URL` is set, each run in a fresh schema that is
//! dropped afterwards. With `CI=true`, a missing or unreachable PostgreSQL fails the suite.

use std::collections::HashSet;
use std::error::Error;
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};

use gemj_model::chain::{GENESIS, link};
use gemj_model::{
    AccessDecision, AccessLevel, Analysis, AnalysisId, AuditEvent, Checksums, ConsentEvent,
    ConsentEventKind, ConsentScopes, ConsentStatus, DataFormat, DataObject, DataUseCondition,
    Dataset, DatasetId, Diagnosis, DuoCode, HpoId, Icd10Code, InstitutionId, LibraryStrategy,
    ObjectId, PartialDate, Participant, ParticipantId, Phenotype, PhenotypeStatus, Precision,
    Program, Provenance, Recontact, RecontactKind, RecontactRequest, RecontactRequestId,
    RecontactStatus, RunId, SequencingRun, Sex, Specimen, SpecimenId, SpecimenType, VariantKey,
    WithdrawalLevel, YearMonth,
};
use roaring::RoaringBitmap;

use crate::{
    AppendOutcome, AuditJournal, AuditSegment, Backend, Gene, Store, StoreError, StoreOptions,
    VariantRow, with_pool,
};

type TestResult = Result<(), Box<dyn Error>>;

// ---------------------------------------------------------------------------------------------
// Fixtures: one store per case and backend.

struct Fixture {
    store: Store,
    schema: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

impl Fixture {
    async fn sqlite() -> Result<Self, Box<dyn Error>> {
        let dir = tempfile::tempdir()?;
        let url = format!("sqlite:{}", dir.path().join("gemj.db").display());
        let store = Store::connect(&url, &StoreOptions::default()).await?;
        Ok(Self {
            store,
            schema: None,
            _dir: Some(dir),
        })
    }

    /// `None` when PostgreSQL is not configured outside CI; panics in CI.
    async fn postgres() -> Option<Self> {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true");
        let url = match std::env::var("GEMJ_TEST_DATABASE_URL") {
            Ok(url) if !url.is_empty() => url,
            _ => {
                assert!(
                    !ci,
                    "CI=true but GEMJ_TEST_DATABASE_URL is not set: the PostgreSQL behaviour \
                     suite must run in CI"
                );
                static SAID: AtomicBool = AtomicBool::new(false);
                if !SAID.swap(true, Ordering::Relaxed) {
                    // Reason: written to the real stderr so the line shows despite capture.
                    let _ = writeln!(
                        std::io::stderr(),
                        "gemj-store: PostgreSQL behaviour suite skipped (set GEMJ_TEST_DATABASE_URL to run it)"
                    );
                }
                return None;
            }
        };
        let opts = StoreOptions::fresh_schema("gemj_test", 8);
        match Store::connect(&url, &opts).await {
            Ok(store) => Some(Self {
                store,
                schema: opts.schema,
                _dir: None,
            }),
            Err(e) => panic!(
                "GEMJ_TEST_DATABASE_URL is set but PostgreSQL is unreachable: {e} ({:?})",
                e.source().map(ToString::to_string)
            ),
        }
    }

    async fn finish(self) -> TestResult {
        if let (Some(schema), crate::Pool::Pg(p)) = (&self.schema, &self.store.pool) {
            let drop: String =
                sqlx::query_scalar("SELECT format('DROP SCHEMA IF EXISTS %I CASCADE', $1::text)")
                    .bind(schema)
                    .fetch_one(p)
                    .await?;
            sqlx::query(sqlx::AssertSqlSafe(drop)).execute(p).await?;
        }
        self.store.close().await;
        Ok(())
    }
}

/// Generates one SQLite and one PostgreSQL test per case.
macro_rules! behaviour {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() -> super::TestResult {
                    let f = super::Fixture::sqlite().await?;
                    super::$case(f.store.clone()).await?;
                    f.finish().await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() -> super::TestResult {
                    if let Some(f) = super::Fixture::postgres().await {
                        super::$case(f.store.clone()).await?;
                        f.finish().await?;
                    }
                    Ok(())
                }
            )*
        }
    };
}

behaviour!(
    migrations,
    catalogue_round_trips,
    keyset_pagination,
    clinical_round_trips,
    consent_log,
    future_consent,
    audit_batches,
    concurrent_appenders,
    audit_head_moved_by_another_writer,
    cancelled_appends,
    cancelled_transactions,
    tamper_detection,
    audit_archive,
    legacy_audit,
    audit_row_size,
    variant_index,
    variant_partitions,
    recontact_requests,
    approvals,
    applications,
    portal_sessions,
    object_registration,
    ingest_transaction,
    variant_merge,
    call_details,
    revocations,
    used_assertions,
    wes_runs,
    shared_budgets,
    audit_journal,
    audit_journals_ship_concurrently,
);

// ---------------------------------------------------------------------------------------------
// Synthetic fixtures (no real people, samples or hospitals).

fn pid(n: u32) -> Result<ParticipantId, Box<dyn Error>> {
    Ok(ParticipantId::parse(&format!("GEMJ-P-{n:06}"))?)
}

fn inst() -> Result<InstitutionId, Box<dyn Error>> {
    Ok(InstitutionId::parse("9999999901")?)
}

fn participant(n: u32) -> Result<Participant, Box<dyn Error>> {
    Ok(Participant {
        id: pid(n)?,
        institution: inst()?,
        sex: if n.is_multiple_of(2) {
            Sex::Female
        } else {
            Sex::Male
        },
        birth: Some(YearMonth::new(
            1950 + i32::try_from(n % 50)?,
            1 + u8::try_from(n % 12)?,
        )?),
        program: Program::RareDisease,
    })
}

async fn with_participants(store: &Store, n: u32) -> TestResult {
    store
        .put_institution(&inst()?, "Synthetic Hospital 1")
        .await?;
    let ps = (1..=n).map(participant).collect::<Result<Vec<_>, _>>()?;
    store.upsert_participants(&ps).await?;
    Ok(())
}

fn scopes_all() -> ConsentScopes {
    ConsentScopes {
        research_use: true,
        third_party_academia: true,
        third_party_industry: true,
        international_transfer: false,
        recontact: Recontact {
            allowed: true,
            via_institution: None,
        },
        return_of_secondary_findings: true,
    }
}

fn consent_event(
    id: &str,
    participant: &ParticipantId,
    kind: ConsentEventKind,
) -> Result<ConsentEvent, Box<dyn Error>> {
    Ok(ConsentEvent {
        event_id: id.to_owned(),
        participant: participant.clone(),
        institution: inst()?,
        effective_at: time::OffsetDateTime::from_unix_timestamp(1_700_000_000)?,
        kind,
    })
}

fn audit_event(
    n: usize,
    principal: &str,
    participants: &[&str],
) -> Result<AuditEvent, Box<dyn Error>> {
    Ok(AuditEvent {
        at: time::OffsetDateTime::from_unix_timestamp(1_750_000_000 + i64::try_from(n)?)?,
        request_id: format!("req-{n}"),
        api: "drs".to_owned(),
        endpoint: "/ga4gh/drs/v1/objects/{id}".to_owned(),
        principal: principal.to_owned(),
        action: "read_metadata".to_owned(),
        resource: format!("object:OBJ{n}"),
        decision: AccessDecision::Permit,
        reasons: vec!["controlled_access_granted".to_owned()],
        credential_hashes: Vec::new(),
        approval: None,
        consent_epoch: Some(1),
        participants: participants.iter().map(|s| (*s).to_owned()).collect(),
        records_returned: Some(1),
        records_filtered: None,
    })
}

fn dataset(id: &str) -> Result<Dataset, Box<dyn Error>> {
    Ok(Dataset {
        id: DatasetId::parse(id)?,
        name: format!("Synthetic {id}"),
        description: "A synthetic dataset.".to_owned(),
        access_level: AccessLevel::Controlled,
        data_use: DataUseCondition {
            permission: DuoCode::parse("DUO:0000007")?,
            modifiers: vec![DuoCode::parse("DUO:0000046")?],
            disease: Some("MONDO:0000001".to_owned()),
            countries: vec![],
            institutions: vec![],
            projects: vec![],
            users: vec![],
        },
    })
}

fn variant(
    pos: u32,
    reference: &str,
    alt: &str,
    carriers: &[u32],
) -> Result<VariantRow, Box<dyn Error>> {
    let carriers: RoaringBitmap = carriers.iter().copied().collect();
    Ok(VariantRow {
        key: VariantKey::parse("chr20", pos, reference, alt)?,
        allele_count: u32::try_from(carriers.len())? + 1,
        carrier_count: u32::try_from(carriers.len())?,
        callsets: Some(carriers.iter().map(|c| c + 1000).collect()),
        carriers,
    })
}

// ---------------------------------------------------------------------------------------------
// Cases.

async fn migrations(store: Store) -> TestResult {
    assert!(
        store.migrations_pending().await?,
        "a fresh database has pending migrations"
    );
    store.migrate().await?;
    assert!(!store.migrations_pending().await?);
    store.migrate().await?;
    assert!(!store.migrations_pending().await?);
    store.ping().await?;
    assert!(matches!(
        store.backend(),
        Backend::Sqlite | Backend::Postgres
    ));
    assert_eq!(store.count_participants().await?, 0);
    assert_eq!(store.consent_epoch().await?, 0);
    let report = store.verify_chains().await?;
    assert_eq!(
        (report.audit_rows, report.consent_rows, report.broken),
        (0, 0, None)
    );
    Ok(())
}

async fn catalogue_round_trips(store: Store) -> TestResult {
    store.migrate().await?;
    // A participant needs its institution.
    let err = store.upsert_participant(&participant(1)?).await.err();
    assert!(
        matches!(err, Some(StoreError::MissingReference { .. })),
        "{err:?}"
    );
    with_participants(&store, 3).await?;
    assert_eq!(
        store.get_participant(&pid(2)?).await?,
        Some(participant(2)?)
    );
    assert_eq!(store.get_participant(&pid(99)?).await?, None);
    assert_eq!(store.count_participants().await?, 3);

    // Ordinals are assigned once, compactly, and survive updates.
    let ords = store
        .participant_ordinals(&[pid(3)?, pid(1)?, pid(99)?])
        .await?;
    assert_eq!(ords, vec![(pid(1)?, 0), (pid(3)?, 2)]);
    let mut changed = participant(1)?;
    changed.sex = Sex::Other;
    changed.birth = None;
    store.upsert_participant(&changed).await?;
    assert_eq!(store.get_participant(&pid(1)?).await?, Some(changed));
    store.upsert_participant(&participant(4)?).await?;
    let ords = store.participant_ordinals(&[pid(1)?, pid(4)?]).await?;
    assert_eq!(ords, vec![(pid(1)?, 0), (pid(4)?, 3)]);
    assert_eq!(
        store.participants_by_ordinals(&[3, 0, 77]).await?,
        vec![pid(1)?, pid(4)?]
    );

    // Specimens with a derivation tree and partial dates of every precision.
    let blood = Specimen {
        id: SpecimenId::parse("SP-1")?,
        participant: pid(1)?,
        specimen_type: SpecimenType::WholeBlood,
        parent: None,
        collected: Some(PartialDate::parse("2005")?),
        tumour: Some(false),
        biobank_sample: true,
        details: Default::default(),
    };
    let dna = Specimen {
        id: SpecimenId::parse("SP-1-DNA")?,
        specimen_type: SpecimenType::Other("FFPE scroll".to_owned()),
        parent: Some(blood.id.clone()),
        collected: Some(PartialDate::parse("2005-03")?),
        ..blood.clone()
    };
    let err = store.upsert_specimen(&dna).await.err();
    assert!(
        matches!(err, Some(StoreError::MissingReference { .. })),
        "parent first: {err:?}"
    );
    store.upsert_specimen(&blood).await?;
    store.upsert_specimen(&dna).await?;
    let got = store.get_specimen(&dna.id).await?;
    assert_eq!(got.as_ref(), Some(&dna));
    assert_eq!(
        got.and_then(|s| s.collected).map(|d| d.precision()),
        Some(Precision::Month)
    );
    assert_eq!(
        store.specimens_of(&pid(1)?).await?,
        vec![blood.clone(), dna.clone()]
    );
    assert_eq!(store.specimens_of(&pid(2)?).await?, vec![]);
    assert_eq!(
        store
            .participants_of_specimens(&[
                dna.id.clone(),
                blood.id.clone(),
                SpecimenId::parse("NONE")?
            ])
            .await?,
        vec![pid(1)?]
    );
    assert!(store.participants_of_specimens(&[]).await?.is_empty());

    // Runs and analyses.
    let run = SequencingRun {
        id: RunId::parse("RUN-1")?,
        specimen: dna.id.clone(),
        library_strategy: LibraryStrategy::Wgs,
        platform: "ILLUMINA".to_owned(),
        instrument_model: Some("NovaSeq 6000".to_owned()),
        read_length: Some(150),
        run_date: Some(PartialDate::parse("1989-01-07")?),
    };
    store.upsert_run(&run).await?;
    assert_eq!(store.get_run(&run.id).await?, Some(run.clone()));
    let analysis = Analysis {
        id: AnalysisId::parse("AN-1")?,
        runs: vec![run.id.clone()],
        pipeline_name: "synthetic-pipeline".to_owned(),
        pipeline_version: "1.0".to_owned(),
        reference_genome: "GeMJ-synthetic-1".to_owned(),
        variant_caller: Some("caller".to_owned()),
        analysis_date: Some(PartialDate::parse("2024-02")?),
    };
    store.upsert_analysis(&analysis).await?;
    store.upsert_analysis(&analysis).await?;
    assert_eq!(
        store.get_analysis(&analysis.id).await?,
        Some(analysis.clone())
    );
    let mut bad = analysis.clone();
    bad.id = AnalysisId::parse("AN-2")?;
    bad.runs = vec![RunId::parse("RUN-404")?];
    assert!(matches!(
        store.upsert_analysis(&bad).await,
        Err(StoreError::MissingReference { .. })
    ));
    assert_eq!(store.get_analysis(&bad.id).await?, None, "rolled back");

    // Data objects, with an index registered after its file.
    let cram = DataObject {
        id: ObjectId::parse("OBJ-CRAM-1")?,
        name: "GEMJ-P-000001.cram".to_owned(),
        format: DataFormat::Cram,
        size: 5_000_000_000,
        checksums: Checksums::new(&"a".repeat(64), &"b".repeat(32))?,
        storage_uri: "file:participants/GEMJ-P-000001/GEMJ-P-000001.cram".to_owned(),
        index: Some(ObjectId::parse("OBJ-CRAI-1")?),
        participant: Some(pid(1)?),
        specimens: vec![dna.id.clone(), blood.id.clone()],
        analysis: Some(analysis.id.clone()),
        description: Some("Synthetic alignments.".to_owned()),
    };
    store.put_object(&cram).await?;
    let crai = DataObject {
        id: ObjectId::parse("OBJ-CRAI-1")?,
        name: "GEMJ-P-000001.cram.crai".to_owned(),
        format: DataFormat::Crai,
        size: 1000,
        index: None,
        specimens: vec![],
        description: None,
        ..cram.clone()
    };
    store.put_object(&crai).await?;
    assert_eq!(store.get_object(&cram.id).await?, Some(cram.clone()));
    assert_eq!(store.get_object(&crai.id).await?, Some(crai.clone()));
    assert_eq!(
        store.objects_of_participant(&pid(1)?).await?,
        vec![crai.clone(), cram.clone()]
    );
    let mut orphan = crai.clone();
    orphan.id = ObjectId::parse("OBJ-X")?;
    orphan.participant = Some(pid(404)?);
    assert!(matches!(
        store.put_object(&orphan).await,
        Err(StoreError::MissingReference { .. })
    ));

    // Datasets and members.
    let ds = dataset("DS-1")?;
    store.put_dataset(&ds).await?;
    store.put_dataset(&dataset("DS-0")?).await?;
    assert_eq!(store.get_dataset(&ds.id).await?, Some(ds.clone()));
    assert_eq!(store.get_dataset(&DatasetId::parse("DS-404")?).await?, None);
    let mut renamed = ds.clone();
    renamed.access_level = AccessLevel::Public;
    renamed.data_use.modifiers.clear();
    store.put_dataset(&renamed).await?;
    assert_eq!(
        store.list_datasets().await?,
        vec![dataset("DS-0")?, renamed]
    );
    store
        .add_dataset_participants(&ds.id, &[pid(2)?, pid(1)?])
        .await?;
    store.add_dataset_participants(&ds.id, &[pid(1)?]).await?;
    assert_eq!(
        store.dataset_participants(&ds.id).await?,
        vec![pid(1)?, pid(2)?]
    );
    assert!(matches!(
        store.add_dataset_participants(&ds.id, &[pid(404)?]).await,
        Err(StoreError::MissingReference { .. })
    ));
    assert!(matches!(
        store
            .add_dataset_participants(&DatasetId::parse("DS-404")?, &[pid(1)?])
            .await,
        Err(StoreError::MissingReference { .. })
    ));
    store
        .add_dataset_objects(&ds.id, &[cram.id.clone(), crai.id.clone()])
        .await?;
    store
        .add_dataset_objects(&DatasetId::parse("DS-0")?, std::slice::from_ref(&cram.id))
        .await?;
    assert_eq!(
        store.dataset_objects(&ds.id).await?,
        vec![crai.id.clone(), cram.id.clone()]
    );
    assert_eq!(
        store.datasets_of_object(&cram.id).await?,
        vec![DatasetId::parse("DS-0")?, ds.id.clone()]
    );
    Ok(())
}

async fn keyset_pagination(store: Store) -> TestResult {
    store.migrate().await?;
    with_participants(&store, 25).await?;
    let mut seen = Vec::new();
    let mut after: Option<ParticipantId> = None;
    let mut pages = 0;
    loop {
        let page = store.list_participants(after.as_ref(), 10).await?;
        if page.is_empty() {
            break;
        }
        pages += 1;
        assert!(page.len() <= 10);
        after = page.last().map(|p| p.id.clone());
        seen.extend(page.into_iter().map(|p| p.id));
    }
    assert_eq!(pages, 3);
    let expected = (1..=25).map(pid).collect::<Result<Vec<_>, _>>()?;
    assert_eq!(seen, expected);

    // Objects page the same way, in byte order of ids.
    let ids = ["OBJ-b", "OBJ-A", "OBJ-a", "OBJ_1", "OBJ-1", "OBJ.1"];
    for id in ids {
        let o = DataObject {
            id: ObjectId::parse(id)?,
            name: format!("{id}.vcf.gz"),
            format: DataFormat::Vcf,
            size: 1,
            checksums: Checksums::new(&"0".repeat(64), &"0".repeat(32))?,
            storage_uri: format!("file:{id}"),
            index: None,
            participant: None,
            specimens: vec![],
            analysis: None,
            description: None,
        };
        store.put_object(&o).await?;
    }
    let first = store.list_objects(None, 4).await?;
    let rest = store.list_objects(first.last().map(|o| &o.id), 4).await?;
    let got: Vec<String> = first
        .iter()
        .chain(&rest)
        .map(|o| o.id.to_string())
        .collect();
    let mut want: Vec<String> = ids.iter().map(|s| (*s).to_owned()).collect();
    want.sort();
    assert_eq!(got, want);
    Ok(())
}

async fn clinical_round_trips(store: Store) -> TestResult {
    store.migrate().await?;
    with_participants(&store, 2).await?;
    let src = |file: &str| Provenance {
        source: "ssmix2".to_owned(),
        file: Some(file.to_owned()),
        position: Some("PRB[1]".to_owned()),
        value: None,
    };
    let dx = Diagnosis {
        participant: pid(1)?,
        icd10: Icd10Code::parse("C169")?,
        source_code: "C169".to_owned(),
        source_system: Some("I10".to_owned()),
        onset: Some(PartialDate::parse("2005")?),
        recorded: Some(PartialDate::parse("2005-03")?),
        provenance: vec![src("a.hl7")],
        details: Default::default(),
    };
    store.upsert_diagnosis(&dx).await?;
    let second = Diagnosis {
        source_code: "C16.9".to_owned(),
        source_system: None,
        onset: None,
        recorded: Some(PartialDate::parse("2005-03-14")?),
        provenance: vec![src("b.hl7"), src("a.hl7")],
        ..dx.clone()
    };
    store.upsert_diagnosis(&second).await?;
    let other = Diagnosis {
        icd10: Icd10Code::parse("Q87.4")?,
        source_code: "Q874".to_owned(),
        onset: Some(PartialDate::parse("1989-01-07")?),
        provenance: vec![],
        ..dx.clone()
    };
    store.upsert_diagnosis(&other).await?;
    let got = store.diagnoses_of(&pid(1)?).await?;
    let merged = Diagnosis {
        source_code: "C16.9".to_owned(),
        source_system: Some("I10".to_owned()),
        onset: Some(PartialDate::parse("2005")?),
        recorded: Some(PartialDate::parse("2005-03-14")?),
        provenance: vec![src("a.hl7"), src("b.hl7")],
        ..dx.clone()
    };
    assert_eq!(got, vec![merged, other]);
    assert_eq!(got[0].onset.map(|d| d.precision()), Some(Precision::Year));
    assert_eq!(store.diagnoses_of(&pid(2)?).await?, vec![]);
    let mut orphan = dx.clone();
    orphan.participant = pid(404)?;
    assert!(matches!(
        store.upsert_diagnosis(&orphan).await,
        Err(StoreError::MissingReference { .. })
    ));

    let ph = Phenotype {
        participant: pid(2)?,
        hpo: HpoId::parse("HP:0001166")?,
        status: PhenotypeStatus::Observed,
        onset: Some(PartialDate::parse("2010-06")?),
        provenance: vec![src("c.xml")],
    };
    store.upsert_phenotype(&ph).await?;
    let excluded = Phenotype {
        status: PhenotypeStatus::Excluded,
        onset: None,
        provenance: vec![src("d.xml")],
        ..ph.clone()
    };
    store.upsert_phenotype(&excluded).await?;
    let ph2 = Phenotype {
        hpo: HpoId::parse("HP:0000001")?,
        onset: None,
        provenance: vec![],
        ..ph.clone()
    };
    store.upsert_phenotype(&ph2).await?;
    assert_eq!(
        store.phenotypes_of(&pid(2)?).await?,
        vec![
            ph2,
            Phenotype {
                status: PhenotypeStatus::Excluded,
                onset: Some(PartialDate::parse("2010-06")?),
                provenance: vec![src("c.xml"), src("d.xml")],
                ..ph
            }
        ]
    );

    let genes = vec![
        Gene {
            name: "GENE1".to_owned(),
            gene_id: "GEMJG0001".to_owned(),
            chrom: "chr20".to_owned(),
            start: 10_001,
            end: 12_000,
            strand: "+".to_owned(),
        },
        Gene {
            name: "GENE2".to_owned(),
            gene_id: "GEMJG0002".to_owned(),
            chrom: "chr20".to_owned(),
            start: 20_001,
            end: 4_000_000_000,
            strand: "-".to_owned(),
        },
    ];
    store.put_genes(&genes).await?;
    store.put_genes(&genes[1..]).await?;
    assert_eq!(store.gene_by_name("GENE2").await?, Some(genes[1].clone()));
    assert_eq!(store.gene_by_name("gene2").await?, None);
    Ok(())
}

async fn consent_log(store: Store) -> TestResult {
    store.migrate().await?;
    with_participants(&store, 2).await?;
    let p1 = pid(1)?;
    assert_eq!(store.consent_state(&p1).await?, None);

    let e1 = consent_event(
        "c-1",
        &p1,
        ConsentEventKind::InitialConsent {
            scopes: scopes_all(),
            by_proxy: false,
        },
    )?;
    let first = store.append_consent_event(&e1).await?;
    let AppendOutcome::Appended { seq: s1 } = first else {
        return Err(format!("expected Appended, got {first:?}").into());
    };
    assert_eq!(store.consent_epoch().await?, 1);
    // The same event again is a duplicate and changes nothing.
    assert_eq!(
        store.append_consent_event(&e1).await?,
        AppendOutcome::Duplicate { seq: s1 }
    );
    assert_eq!(store.consent_epoch().await?, 1);
    // The same id with other contents is a conflict.
    let mut changed = e1.clone();
    changed.kind = ConsentEventKind::DeathReported {};
    assert!(matches!(
        store.append_consent_event(&changed).await,
        Err(StoreError::Conflict { .. })
    ));
    assert_eq!(store.consent_epoch().await?, 1);
    let state = store.consent_state(&p1).await?.ok_or("no state")?;
    assert_eq!(state.status, ConsentStatus::Active);
    assert!(state.permits_research());

    // Another participant's event interleaves; consent may arrive before the participant.
    let stranger = pid(500)?;
    let e_other = consent_event(
        "c-2",
        &stranger,
        ConsentEventKind::InitialConsent {
            scopes: scopes_all(),
            by_proxy: true,
        },
    )?;
    store.append_consent_event(&e_other).await?;

    let partial = consent_event(
        "c-3",
        &p1,
        ConsentEventKind::Withdrawal {
            level: WithdrawalLevel::StopThirdPartyProvision,
        },
    )?;
    store.append_consent_event(&partial).await?;
    let s = store.consent_state(&p1).await?.ok_or("no state")?;
    assert_eq!(s.status, ConsentStatus::Active);
    assert!(!s.scopes.third_party_industry);
    assert!(store.withdrawn_participants().await?.is_empty());

    let full = consent_event(
        "c-4",
        &p1,
        ConsentEventKind::Withdrawal {
            level: WithdrawalLevel::StopAllUse,
        },
    )?;
    let AppendOutcome::Appended { seq: s4 } = store.append_consent_event(&full).await? else {
        return Err("expected Appended".into());
    };
    assert_eq!(store.consent_epoch().await?, 4);
    let s = store.consent_state(&p1).await?.ok_or("no state")?;
    assert_eq!(s.status, ConsentStatus::Withdrawn);
    assert_eq!(s.withdrawal, Some(WithdrawalLevel::StopAllUse));
    assert_eq!(s.last_event.as_deref(), Some("c-4"));
    assert!(!s.permits_research());
    assert_eq!(store.withdrawn_participants().await?, vec![p1.clone()]);

    // The participant's chain: genesis, then each event linked to the previous one.
    let events = store.consent_events(&p1).await?;
    let ids: Vec<&str> = events.iter().map(|e| e.event.event_id.as_str()).collect();
    assert_eq!(ids, ["c-1", "c-3", "c-4"]);
    assert_eq!(events[0].seq, s1);
    assert_eq!(events[2].seq, s4);
    assert_eq!(events[0].prev_hash, GENESIS);
    assert_eq!(events[1].prev_hash, events[0].hash);
    assert_eq!(events[2].prev_hash, events[1].hash);
    let body = serde_json::to_string(&events[0].event)?;
    assert_eq!(events[0].hash, link(GENESIS, s1, body.as_bytes()));
    assert_eq!(events[0].event, e1);

    let states = store
        .consent_states(&[stranger.clone(), p1.clone(), pid(2)?])
        .await?;
    let who: Vec<&ParticipantId> = states.iter().map(|s| &s.participant).collect();
    assert_eq!(who, vec![&p1, &stranger]);
    assert!(states[1].by_proxy);

    let report = store.verify_chains().await?;
    assert_eq!(report.consent_rows, 4);
    assert_eq!(report.broken, None);
    Ok(())
}

async fn future_consent(store: Store) -> TestResult {
    store.migrate().await?;
    let p = pid(7)?;
    let initial = consent_event(
        "f-1",
        &p,
        ConsentEventKind::InitialConsent {
            scopes: scopes_all(),
            by_proxy: false,
        },
    )?;
    store.append_consent_event(&initial).await?;
    let mut later = consent_event(
        "f-2",
        &p,
        ConsentEventKind::Withdrawal {
            level: WithdrawalLevel::StopAllUseAndDestroy,
        },
    )?;
    later.effective_at = time::OffsetDateTime::now_utc() + time::Duration::milliseconds(1_500);
    store.append_consent_event(&later).await?;
    let state = store.consent_state(&p).await?.ok_or("no state")?;
    assert_eq!(state.status, ConsentStatus::Active, "not yet in effect");
    assert_eq!(store.refresh_consent_states().await?, 0);
    assert_eq!(store.consent_epoch().await?, 2);

    tokio::time::sleep(std::time::Duration::from_millis(1_700)).await;
    assert_eq!(store.refresh_consent_states().await?, 1);
    assert_eq!(store.consent_epoch().await?, 3);
    let state = store.consent_state(&p).await?.ok_or("no state")?;
    assert_eq!(state.status, ConsentStatus::Withdrawn);
    assert_eq!(store.withdrawn_participants().await?, vec![p]);
    assert_eq!(
        store.refresh_consent_states().await?,
        0,
        "nothing new is due"
    );
    assert!(store.verify_chains().await?.is_intact());
    Ok(())
}

async fn audit_batches(store: Store) -> TestResult {
    store.migrate().await?;
    assert_eq!(store.append_audit(&[]).await?, Vec::<i64>::new());
    let mut n = 0;
    let mut all = Vec::new();
    for batch_len in [1, 5, 3] {
        let batch = (0..batch_len)
            .map(|_| {
                n += 1;
                let principal = if n % 2 == 0 {
                    "https://issuer.example#alice"
                } else {
                    "anonymous"
                };
                audit_event(
                    n,
                    principal,
                    if n % 3 == 0 {
                        &["GEMJ-P-000001", "GEMJ-P-000002"]
                    } else {
                        &[]
                    },
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        let seqs = store.append_audit(&batch).await?;
        assert_eq!(seqs.len(), batch.len());
        all.extend(seqs);
    }
    assert_eq!(all, (1..=9).collect::<Vec<i64>>());
    assert_eq!(store.audit_count().await?, 9);

    let records = store.audit_records(0, 100).await?;
    assert_eq!(records.len(), 9);
    assert_eq!(records[0].prev_hash, GENESIS);
    for w in records.windows(2) {
        assert_eq!(w[1].prev_hash, w[0].hash);
        assert_eq!(w[1].seq, w[0].seq + 1);
    }
    assert_eq!(records[4].event, audit_event(5, "anonymous", &[])?);
    let page = store.audit_records(3, 2).await?;
    assert_eq!(page.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![4, 5]);

    let mine = store
        .audit_records_of_principal("https://issuer.example#alice", 0, 100)
        .await?;
    assert_eq!(
        mine.iter().map(|r| r.seq).collect::<Vec<_>>(),
        vec![2, 4, 6, 8]
    );
    let about = store
        .audit_records_for_participant("GEMJ-P-000002", 3, 100)
        .await?;
    assert_eq!(about.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![6, 9]);

    let report = store.verify_chains().await?;
    assert_eq!((report.audit_rows, report.broken), (9, None));
    Ok(())
}

/// An append whose caller stops waiting for it at any point (a dropped request, a timeout)
/// leaves all of its rows or none, and no transaction open: the next append lands at once,
/// after the stored head, and the chain verifies. Both paths: every term known (the
/// one-round-trip paths: SQLite's one execute on the writer's own connection, PostgreSQL's one
/// statement), and a new principal in each abandoned batch (a transaction of `with_tx!`, on
/// SQLite on the writer's own connection, that first inserts the new terms).
async fn cancelled_appends(store: Store) -> TestResult {
    store.migrate().await?;
    let alice = "https://issuer.example#alice";
    let p = ["GEMJ-P-000001"];
    store.append_audit(&[audit_event(0, alice, &p)?]).await?;
    let mut n = 1;
    let mut count = store.audit_count().await?;
    let mut landed = 0;
    let waits = [
        0_u64, 1, 5, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 500_000,
    ];
    for (round, wait_us) in waits.iter().chain(&waits).enumerate() {
        let principal = if round < waits.len() {
            alice.to_owned()
        } else {
            format!("https://issuer.example#new-{round}")
        };
        let batch = (n..n + 4)
            .map(|i| audit_event(i, &principal, &p))
            .collect::<Result<Vec<_>, _>>()?;
        n += 4;
        let wait = std::time::Duration::from_micros(*wait_us);
        if tokio::time::timeout(wait, store.append_audit(&batch))
            .await
            .is_ok()
        {
            landed += 1;
        }
        let next = tokio::time::timeout(
            std::time::Duration::from_secs(2),
            store.append_audit(&[audit_event(n, alice, &[])?]),
        )
        .await??;
        n += 1;
        let now = store.audit_count().await?;
        assert!(
            now == count + 1 || now == count + 5,
            "a cancelled append of 4 left {} rows",
            now - count - 1
        );
        assert_eq!(
            next,
            vec![i64::try_from(now)?],
            "the next append chained after the head"
        );
        count = now;
    }
    assert!(landed >= 2, "the longest waits let appends finish");
    let report = store.verify_chains().await?;
    assert!(report.is_intact());
    assert_eq!(report.audit_rows, count);
    Ok(())
}

/// Polls `fut` at most `polls` times, 30 µs apart (other threads drive its I/O meanwhile),
/// then drops it unfinished; `Some` when it finished first. A timer abandons nothing sooner
/// than a millisecond, past the round trips of a local database; this abandons a call at each
/// of its steps in turn.
async fn abandoned_after<F: std::future::Future>(fut: F, polls: usize) -> Option<F::Output> {
    let mut fut = std::pin::pin!(fut);
    for _ in 0..polls {
        let step = std::future::poll_fn(|cx| std::task::Poll::Ready(fut.as_mut().poll(cx))).await;
        if let std::task::Poll::Ready(out) = step {
            return Some(out);
        }
        std::thread::sleep(std::time::Duration::from_micros(30));
        tokio::task::yield_now().await;
    }
    None
}

/// PostgreSQL: no idle pooled connection is inside a transaction (`now()` is the transaction's
/// start: a statement outside one finds it current, one inside a transaction left open finds
/// it at least as old as the pause before it).
async fn no_pooled_connection_in_a_transaction(store: &Store) -> TestResult {
    let crate::Pool::Pg(pool) = &store.pool else {
        return Ok(());
    };
    let mut held = Vec::new();
    for _ in 0..pool.size() {
        match tokio::time::timeout(std::time::Duration::from_millis(200), pool.acquire()).await {
            Ok(conn) => held.push(conn?),
            Err(_) => break,
        }
    }
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    for conn in &mut held {
        let outside: bool =
            sqlx::query_scalar("SELECT clock_timestamp() - now() < interval '50 milliseconds'")
                .fetch_one(&mut **conn)
                .await?;
        assert!(outside, "a pooled connection was left inside a transaction");
    }
    Ok(())
}

/// Ingests abandoned at each step in turn (a client gone mid-request) leave
/// nothing half-written, no write lock held and, on PostgreSQL, no pooled connection inside
/// their transaction (sqlx 0.9's own `Transaction` returned one whose `BEGIN` was sent but not
/// yet answered to the pool, where the next caller's statements ran uncommitted).
async fn cancelled_transactions(store: Store) -> TestResult {
    store.migrate().await?;
    with_participants(&store, 1).await?;
    let ingest = |p: Participant| {
        let store = store.clone();
        async move {
            let mut tx = store.begin_ingest().await?;
            tx.put_participant(&p).await?;
            tx.commit().await
        }
    };
    let mut landed = 0;
    for polls in 0..40_u32 {
        let n = 100 + polls;
        if let Some(done) = abandoned_after(ingest(participant(n)?), polls as usize).await {
            done?;
            landed += 1;
            assert!(store.get_participant(&pid(n)?).await?.is_some());
        }
        // The next ingest lands at once: no write lock or transaction was left behind.
        tokio::time::timeout(
            std::time::Duration::from_secs(2),
            ingest(participant(1_000 + polls)?),
        )
        .await??;
        assert!(store.get_participant(&pid(1_000 + polls)?).await?.is_some());
        no_pooled_connection_in_a_transaction(&store).await?;
    }
    assert!(landed >= 1, "the most polls let an ingest finish");
    Ok(())
}

/// A closed store refuses audit appends, the writer's own connection included (it would
/// otherwise reopen itself after [`Store::close`]).
#[tokio::test]
async fn a_closed_sqlite_store_refuses_audit_appends() -> TestResult {
    let f = Fixture::sqlite().await?;
    f.store.migrate().await?;
    let alice = "https://issuer.example#alice";
    f.store.append_audit(&[audit_event(1, alice, &[])?]).await?;
    f.store.close().await;
    assert!(
        f.store
            .append_audit(&[audit_event(2, alice, &[])?])
            .await
            .is_err()
    );
    Ok(())
}

/// Each handle chains after the head its last append left (guessed, not read); when another
/// writer (a replica, a command-line run) moved it meanwhile, nothing of the append lands until
/// it has read the stored head and chained again. Events whose terms are all known take
/// PostgreSQL's one-statement path, hit and missed; a batch past one statement's rows and
/// participants lands whole.
async fn audit_head_moved_by_another_writer(store: Store) -> TestResult {
    store.migrate().await?;
    let other = store.another_audit_writer();
    let batch = |from: usize, n: usize, participants: &[&str]| {
        (from..from + n)
            .map(|i| audit_event(i, "https://issuer.example#alice", participants))
            .collect::<Result<Vec<_>, _>>()
    };
    let p = ["GEMJ-P-000001"];
    // Read, then guessed right (same terms), then `other` reads.
    assert_eq!(store.append_audit(&batch(1, 2, &p)?).await?, vec![1, 2]);
    assert_eq!(store.append_audit(&batch(1, 2, &p)?).await?, vec![3, 4]);
    assert_eq!(other.append_audit(&batch(1, 3, &p)?).await?, vec![5, 6, 7]);
    // Each guess now misses: `store` knows head 4, `other` head 7.
    assert_eq!(store.append_audit(&batch(1, 2, &p)?).await?, vec![8, 9]);
    assert_eq!(store.append_audit(&batch(1, 1, &p)?).await?, vec![10]);
    assert_eq!(other.append_audit(&batch(1, 1, &p)?).await?, vec![11]);
    assert_eq!(store.append_audit(&batch(1, 1, &[])?).await?, vec![12]);
    assert_eq!(store.audit_count().await?, 12);
    let named = store
        .audit_records_for_participant("GEMJ-P-000001", 0, 100)
        .await?;
    assert_eq!(
        named.iter().map(|r| r.seq).collect::<Vec<_>>(),
        (1..=11).collect::<Vec<i64>>()
    );

    // 1,100 events naming 10 participants each: 11,000 participant rows.
    let many: Vec<String> = (1..=10).map(|n| format!("GEMJ-P-{n:06}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    let seqs = other.append_audit(&batch(1, 1_100, &many)?).await?;
    assert_eq!(seqs, (13..=1_112).collect::<Vec<i64>>());
    for p in &many {
        let rows = store.audit_records_for_participant(p, 12, 2_000).await?;
        assert_eq!(rows.len(), 1_100, "{p}");
    }
    assert_eq!(store.append_audit(&batch(1, 1, &p)?).await?, vec![1_113]);
    let records = store.audit_records(0, 2_000).await?;
    assert_eq!(records.len(), 1_113);
    assert_eq!(records[0].prev_hash, GENESIS);
    for w in records.windows(2) {
        assert_eq!((w[1].seq, &w[1].prev_hash), (w[0].seq + 1, &w[0].hash));
    }
    assert_eq!(
        records[2].event,
        audit_event(1, "https://issuer.example#alice", &p)?
    );
    let report = store.verify_chains().await?;
    assert_eq!((report.audit_rows, report.broken), (1_113, None));
    Ok(())
}

async fn concurrent_appenders(store: Store) -> TestResult {
    store.migrate().await?;
    with_participants(&store, 8).await?;
    let mut tasks = Vec::new();
    for t in 0..8_u32 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut seqs = Vec::new();
            let p = pid(t + 1).map_err(|e| e.to_string())?;
            for b in 0..10_usize {
                let batch: Vec<AuditEvent> = (0..5)
                    .map(|i| audit_event(b * 5 + i, &format!("principal-{t}"), &[p.as_str()]))
                    .collect::<Result<_, _>>()
                    .map_err(|e| e.to_string())?;
                seqs.extend(
                    store
                        .append_audit(&batch)
                        .await
                        .map_err(|e| e.to_string())?,
                );
                let e = consent_event(
                    &format!("c-{t}-{b}"),
                    &p,
                    ConsentEventKind::ChangeOfIntention {
                        scopes: scopes_all(),
                    },
                )
                .map_err(|e| e.to_string())?;
                store
                    .append_consent_event(&e)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            Ok::<_, String>(seqs)
        }));
    }
    let mut seen = HashSet::new();
    for t in tasks {
        for seq in t.await?? {
            assert!(seen.insert(seq), "seq {seq} given twice");
        }
    }
    assert_eq!(seen.len(), 400);
    assert_eq!(seen.iter().max(), Some(&400));
    assert_eq!(store.audit_count().await?, 400);
    assert_eq!(store.consent_epoch().await?, 80);
    let report = store.verify_chains().await?;
    assert_eq!(
        (report.audit_rows, report.consent_rows, report.broken),
        (400, 80, None)
    );
    Ok(())
}

async fn tamper_detection(store: Store) -> TestResult {
    store.migrate().await?;
    let batch = (1..=10)
        .map(|n| audit_event(n, "anonymous", &["GEMJ-P-000001"]))
        .collect::<Result<Vec<_>, _>>()?;
    store.append_audit(&batch).await?;
    with_participants(&store, 1).await?;
    let e = consent_event(
        "c-1",
        &pid(1)?,
        ConsentEventKind::InitialConsent {
            scopes: scopes_all(),
            by_proxy: false,
        },
    )?;
    store.append_consent_event(&e).await?;
    assert!(store.verify_chains().await?.is_intact());

    // The schema itself refuses updates and deletes of append-only rows.
    with_pool!(store, |p| {
        for sql in [
            "UPDATE audit_log SET packed = packed WHERE seq = 1",
            "DELETE FROM audit_log WHERE seq = 10",
            "DELETE FROM audit_access",
            "UPDATE audit_terms SET term = term",
            "DELETE FROM audit_terms",
            "UPDATE consent_events SET body = body",
            "DELETE FROM consent_events",
        ] {
            assert!(
                sqlx::query(sql).execute(p).await.is_err(),
                "{sql} was allowed"
            );
        }
    });

    store.tamper_audit_row_for_tests(4).await?;
    let report = store.verify_chains().await?;
    let broken = report.broken.ok_or("tampering not detected")?;
    assert_eq!((broken.chain.as_str(), broken.seq), ("audit", 4));
    assert!(broken.reason.contains("altered"), "{}", broken.reason);
    assert_eq!(report.audit_rows, 10);

    // A rewritten term changes what every row naming it says: the first such row breaks.
    // Verification reads the terms from the database, never from the handle's cache.
    store
        .tamper_audit_term_for_tests("/ga4gh/drs/v1/objects/{id}", "/x")
        .await?;
    let report = store.verify_chains().await?;
    let broken = report.broken.ok_or("term tampering not detected")?;
    assert_eq!(broken.seq, 1, "{}", broken.reason);
    Ok(())
}

/// An event at `at` naming `participants`.
fn audit_event_at(
    n: usize,
    at: time::OffsetDateTime,
    participants: &[&str],
) -> Result<AuditEvent, Box<dyn Error>> {
    let mut e = audit_event(n, "https://issuer.example#alice", participants)?;
    e.at = at;
    Ok(e)
}

async fn audit_archive(store: Store) -> TestResult {
    use time::macros::datetime;
    store.migrate().await?;
    let now = time::OffsetDateTime::now_utc();
    let batch = vec![
        audit_event_at(1, datetime!(2026-09-01 00:00:00 UTC), &[])?,
        audit_event_at(2, datetime!(2026-09-15 12:00:00.5 UTC), &["GEMJ-P-000002"])?,
        audit_event_at(3, datetime!(2026-09-30 23:59:59.999999999 UTC), &[])?,
        audit_event_at(4, datetime!(2026-10-01 00:00:00 UTC), &[])?,
        audit_event_at(5, datetime!(2026-10-20 08:00:00 UTC), &["GEMJ-P-000002"])?,
        audit_event_at(6, now, &["GEMJ-P-000002"])?,
    ];
    // Times survive the trip to nanoseconds and back.
    for e in &batch {
        store.append_audit(std::slice::from_ref(e)).await?;
    }
    let rows = store.audit_rows(0, 100).await?;
    let events: Vec<AuditEvent> = rows.iter().map(|r| r.record.event.clone()).collect();
    assert_eq!(events, batch);
    let partitions = || async {
        let names: Vec<String> = with_pool!(store, |p, pg| if pg {
            sqlx::query_scalar(
                "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
                 WHERE i.inhparent = 'audit_log'::regclass ORDER BY 1",
            )
            .fetch_all(p)
            .await?
        } else {
            Vec::new()
        });
        Ok::<_, StoreError>(names)
    };
    if store.backend() == Backend::Postgres {
        let names = partitions().await?;
        let current = format!("audit_log_p{:04}{:02}", now.year(), u8::from(now.month()));
        assert_eq!(names.len(), 3, "{names:?}");
        assert!(names.contains(&"audit_log_p202609".to_owned()), "{names:?}");
        assert!(names.contains(&"audit_log_p202610".to_owned()), "{names:?}");
        assert!(names.contains(&current), "{names:?}");
    }

    // September: rows 1 to 3.
    let last = store
        .audit_last_seq_before(datetime!(2026-10-01 00:00:00 UTC))
        .await?;
    assert_eq!(last, Some(3));
    let segment = AuditSegment {
        first_seq: 1,
        last_seq: 3,
        rows: 3,
        first_at: "2026-09-01T00:00:00Z".to_owned(),
        last_at: "2026-09-30T23:59:59.999999999Z".to_owned(),
        prev_hash: GENESIS.to_owned(),
        head_hash: rows[2].record.hash.clone(),
        location: "audit/segment-1-3.jsonl.gz".to_owned(),
        sha256: "00".repeat(32),
        bytes: 100,
        sealed_at: String::new(),
    };
    // A segment that does not fit the stored chain changes nothing.
    for wrong in [
        AuditSegment {
            first_seq: 2,
            ..segment.clone()
        },
        AuditSegment {
            head_hash: rows[1].record.hash.clone(),
            ..segment.clone()
        },
        AuditSegment {
            rows: 2,
            ..segment.clone()
        },
        AuditSegment {
            last_seq: 9,
            rows: 9,
            ..segment.clone()
        },
    ] {
        assert!(matches!(
            store.seal_audit_segment(&wrong).await,
            Err(StoreError::InvalidInput { .. })
        ));
    }
    assert_eq!(store.audit_count().await?, 6);
    store.seal_audit_segment(&segment).await?;
    assert_eq!(store.audit_count().await?, 3);
    assert_eq!(store.audit_segments().await?.len(), 1);
    assert!(store.seal_audit_segment(&segment).await.is_err());
    let report = store.verify_chains().await?;
    assert_eq!(
        (report.audit_rows, report.archived_rows, report.broken),
        (3, 3, None)
    );
    // What is left reads as before; the participant's archived access is named by seq.
    let left: Vec<i64> = store
        .audit_records(0, 100)
        .await?
        .iter()
        .map(|r| r.seq)
        .collect();
    assert_eq!(left, vec![4, 5, 6]);
    assert_eq!(
        store
            .audit_archived_seqs_for_participant("GEMJ-P-000002", 0, 10)
            .await?,
        vec![2]
    );
    let live: Vec<i64> = store
        .audit_records_for_participant("GEMJ-P-000002", 0, 10)
        .await?
        .iter()
        .map(|r| r.seq)
        .collect();
    assert_eq!(live, vec![5, 6]);
    // Rows not sealed still cannot be deleted, nor a seal undone.
    with_pool!(store, |p| {
        for sql in [
            "DELETE FROM audit_log WHERE seq = 4",
            "DELETE FROM audit_segments",
            "UPDATE audit_segments SET last_seq = 9",
        ] {
            assert!(
                sqlx::query(sql).execute(p).await.is_err(),
                "{sql} was allowed"
            );
        }
    });
    if store.backend() == Backend::Postgres {
        let names = partitions().await?;
        assert!(
            !names.contains(&"audit_log_p202609".to_owned()),
            "{names:?}"
        );
        assert!(names.contains(&"audit_log_p202610".to_owned()), "{names:?}");
    }
    // A later row continues the chain.
    store.append_audit(&[audit_event_at(7, now, &[])?]).await?;
    assert!(store.verify_chains().await?.is_intact());
    Ok(())
}

/// Writes audit rows as the gateway did before migration 0014 (each event's `body` chained,
/// its participants indexed) in one transaction, and moves the head past them.
async fn write_legacy_audit(store: &Store, rows: &[(AuditEvent, String)]) -> TestResult {
    let mut prev = GENESIS.to_owned();
    let mut seq = 0_i64;
    crate::with_tx!(store, |tx| {
        for (e, body) in rows {
            seq += 1;
            let hash = link(&prev, seq, body.as_bytes());
            sqlx::query(
                "INSERT INTO audit_records (seq, at, request_id, api, principal, action, \
                   resource, decision, body, prev_hash, hash) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 'permit', $8, $9, $10)",
            )
            .bind(seq)
            .bind(crate::convert::rfc3339(e.at))
            .bind(&e.request_id)
            .bind(&e.api)
            .bind(&e.principal)
            .bind(&e.action)
            .bind(&e.resource)
            .bind(body)
            .bind(&prev)
            .bind(&hash)
            .execute(&mut *tx)
            .await?;
            for participant in &e.participants {
                sqlx::query("INSERT INTO audit_participants (participant, seq) VALUES ($1, $2)")
                    .bind(participant)
                    .bind(seq)
                    .execute(&mut *tx)
                    .await?;
            }
            prev = hash;
        }
        sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
            .bind(seq)
            .bind(&prev)
            .execute(&mut *tx)
            .await?;
    });
    Ok(())
}

async fn legacy_audit(store: Store) -> TestResult {
    store.migrate_to(13).await?;
    // Rows as the gateway wrote them before migration 0014: the event JSON, chained. Row 3's
    // JSON is not what the model writes today (a space), so it must stay verbatim.
    let mut written = Vec::new();
    let mut legacy = Vec::new();
    for n in 1..=5 {
        let participants: &[&str] = if n % 2 == 1 { &["GEMJ-P-000002"] } else { &[] };
        let e = audit_event(n, "https://issuer.example#bob", participants)?;
        let mut body = serde_json::to_string(&e)?;
        if n == 3 {
            body = body.replacen(':', ": ", 1);
        }
        legacy.push((e.clone(), body));
        written.push(e);
    }
    write_legacy_audit(&store, &legacy).await?;
    store.migrate().await?;
    let rows = store.audit_rows(0, 100).await?;
    assert_eq!(rows.len(), 5);
    for (row, e) in rows.iter().zip(&written) {
        assert_eq!(&row.record.event, e);
    }
    assert!(rows[2].body.contains(": "), "row 3 is kept verbatim");
    let report = store.verify_chains().await?;
    assert_eq!((report.audit_rows, report.broken), (5, None));
    let seqs: Vec<i64> = store
        .audit_records_for_participant("GEMJ-P-000002", 0, 10)
        .await?
        .iter()
        .map(|r| r.seq)
        .collect();
    assert_eq!(seqs, vec![1, 3, 5]);
    assert_eq!(
        store
            .audit_records_of_principal("https://issuer.example#bob", 0, 10)
            .await?
            .len(),
        5
    );
    with_pool!(store, |p| {
        assert!(
            sqlx::query("SELECT COUNT(*) FROM audit_records")
                .execute(p)
                .await
                .is_err(),
            "the legacy table is dropped"
        );
    });
    // The chain goes on; a second start converts nothing.
    store
        .append_audit(&[audit_event(6, "anonymous", &[])?])
        .await?;
    store.migrate().await?;
    let report = store.verify_chains().await?;
    assert_eq!((report.audit_rows, report.broken), (6, None));
    Ok(())
}

/// Bytes the audit takes on disk: SQLite's file after VACUUM (compared between two states),
/// PostgreSQL's audit tables with their indexes and partitions.
async fn audit_bytes(store: &Store) -> Result<i64, Box<dyn Error>> {
    Ok(with_pool!(store, |p, pg| if pg {
        sqlx::query_scalar(
            "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0)::bigint FROM pg_class c \
             WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p') \
             AND (c.relname LIKE 'audit%')",
        )
        .fetch_one(p)
        .await?
    } else {
        sqlx::query("VACUUM").execute(p).await?;
        let pages: i64 = sqlx::query_scalar("PRAGMA page_count").fetch_one(p).await?;
        let size: i64 = sqlx::query_scalar("PRAGMA page_size").fetch_one(p).await?;
        pages * size
    }))
}

/// A ticket's audit event as the gateway writes it (the shape of the audit benchmark).
fn ticket_event(n: u64) -> Result<AuditEvent, Box<dyn Error>> {
    Ok(AuditEvent {
        at: time::OffsetDateTime::from_unix_timestamp(1_790_000_000 + i64::try_from(n)?)?,
        request_id: uuid::Uuid::from_u128(u128::from(n) * 0x9e37_79b9_7f4a_7c15).to_string(),
        api: "htsget".to_owned(),
        endpoint: "/ga4gh/htsget/v1/reads/{id}".to_owned(),
        principal: format!("https://broker.example/oidc#researcher-{}", n % 64),
        action: "read_data".to_owned(),
        resource: format!("object:GEMJ-O-{:06}", n % 1000),
        decision: AccessDecision::Permit,
        reasons: vec![
            "controlled_access_granted".to_owned(),
            "consent_permits".to_owned(),
        ],
        // A passport and two visas, the same for every request of one researcher.
        credential_hashes: (0..3)
            .map(|i| hex::encode((u128::from(n % 64) * 31 + i).to_be_bytes()).repeat(2))
            .collect(),
        approval: Some(format!("APR-{:04}", n % 64)),
        consent_epoch: Some(7),
        participants: vec![format!("GEMJ-P-{:06}", n % 500)],
        records_returned: Some(1),
        records_filtered: Some(0),
    })
}

/// Bytes per audit row before migration 0014 and after, on the same 5,000 ticket events: the
/// figure of docs/PERFORMANCE.md, and a guard that rows stay compact.
async fn audit_row_size(store: Store) -> TestResult {
    const ROWS: u64 = 5000;
    store.migrate_to(13).await?;
    let empty = audit_bytes(&store).await?;
    let legacy = (1..=ROWS)
        .map(|n| {
            let e = ticket_event(n)?;
            let body = serde_json::to_string(&e)?;
            Ok((e, body))
        })
        .collect::<Result<Vec<_>, Box<dyn Error>>>()?;
    write_legacy_audit(&store, &legacy).await?;
    let legacy = audit_bytes(&store).await? - empty;
    store.migrate().await?;
    let compact = audit_bytes(&store).await? - empty;
    let rows = i64::try_from(ROWS)?;
    // Reason: the measurement is the point of this case; it shows with --nocapture.
    let _ = writeln!(
        std::io::stderr(),
        "audit bytes per row ({}): {} before migration 0014, {} after",
        store.backend(),
        legacy / rows,
        compact / rows
    );
    assert!(
        compact * 2 < legacy,
        "compact rows take {compact} bytes, legacy {legacy}"
    );
    assert_eq!(store.verify_chains().await?.audit_rows, ROWS);
    Ok(())
}

/// Migration 0015: on PostgreSQL the variant index is partitioned by chromosome, and rows
/// written before it are all still found; SQLite is unchanged.
async fn variant_partitions(store: Store) -> TestResult {
    store.migrate_to(14).await?;
    store.put_dataset(&dataset("DS-PART")?).await?;
    let ds = DatasetId::parse("DS-PART")?;
    let mut rows = vec![
        variant(100, "A", "G", &[1, 5])?,
        variant(200, "C", "T", &[2])?,
    ];
    let mut other = variant(300, "G", "A", &[3])?;
    other.key = VariantKey::parse("chrUn_KI270742v1", 300, "G", "A")?;
    rows.push(other);
    store.insert_variants(&ds, &rows).await?;
    store.migrate().await?;
    assert_eq!(store.count_variants(&ds).await?, 3);
    for row in &rows {
        let hit = store.variant_exact(&ds, &row.key).await?;
        assert_eq!(hit.map(|h| h.carriers), Some(row.carriers.clone()));
    }
    if store.backend() == Backend::Postgres {
        let placed: Vec<(String, i64)> = with_pool!(store, |p| {
            sqlx::query_as(
                "SELECT tableoid::regclass::text, COUNT(*) FROM variants GROUP BY 1 ORDER BY 1",
            )
            .fetch_all(p)
            .await?
        });
        assert_eq!(
            placed,
            vec![
                ("variants_chr20".to_owned(), 2),
                ("variants_other".to_owned(), 1)
            ]
        );
        let leaves: i64 = with_pool!(store, |p| {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM pg_partition_tree('variant_calls') WHERE isleaf",
            )
            .fetch_one(p)
            .await?
        });
        assert_eq!(leaves, 26);
    }
    Ok(())
}

async fn variant_index(store: Store) -> TestResult {
    store.migrate().await?;
    let ds = DatasetId::parse("DS-VAR")?;
    let row = variant(100, "A", "G", &[1, 5])?;
    assert!(matches!(
        store.insert_variants(&ds, std::slice::from_ref(&row)).await,
        Err(StoreError::MissingReference { .. })
    ));
    store.put_dataset(&dataset("DS-VAR")?).await?;
    store.put_dataset(&dataset("DS-OTHER")?).await?;

    // More rows than one SQLite statement holds, with a long allele.
    let mut rows = Vec::new();
    for i in 0..10_000_u32 {
        rows.push(variant(
            1_000 + i * 10,
            "C",
            "T",
            &[i % 97, i % 89 + 100, 70_000],
        )?);
    }
    rows.push(variant(500_000, &"A".repeat(5_000), "A", &[3])?);
    assert_eq!(store.insert_variants(&ds, &rows).await?, 10_001);
    assert_eq!(store.insert_variants(&ds, &[]).await?, 0);
    assert_eq!(store.count_variants(&ds).await?, 10_001);
    assert_eq!(
        store.count_variants(&DatasetId::parse("DS-OTHER")?).await?,
        0
    );

    let hit = store.variant_exact(&ds, &rows[42].key).await?;
    assert_eq!(hit.as_ref(), Some(&rows[42]));
    assert_eq!(
        store.variant_exact(&ds, &rows[10_000].key).await?.as_ref(),
        Some(&rows[10_000])
    );
    let miss = VariantKey::parse("chr20", rows[42].key.pos, "C", "A")?;
    assert_eq!(store.variant_exact(&ds, &miss).await?, None);
    assert_eq!(
        store
            .variant_exact(&DatasetId::parse("DS-OTHER")?, &rows[42].key)
            .await?,
        None
    );

    // Range: 1-based inclusive positions, ordered, limited.
    let range = store
        .variants_in_range(&ds, "chr20", 1_010, 1_050, 100)
        .await?;
    assert_eq!(
        range.iter().map(|r| r.key.pos).collect::<Vec<_>>(),
        vec![1_010, 1_020, 1_030, 1_040, 1_050]
    );
    let limited = store
        .variants_in_range(&ds, "chr20", 1_000, 2_000_000, 3)
        .await?;
    assert_eq!(limited, rows[..3].to_vec());
    assert!(
        store
            .variants_in_range(&ds, "chr21", 0, u32::MAX, 10)
            .await?
            .is_empty()
    );

    // Upsert replaces counts and carriers; within one call the last row of a key wins; a new
    // allele at an existing position is a new row.
    let replaced = variant(1_000, "C", "T", &[9])?;
    let batch = vec![
        variant(1_000, "C", "T", &[8])?,
        variant(1_000, "C", "G", &[1, 2, 3])?,
        replaced.clone(),
    ];
    assert_eq!(store.insert_variants(&ds, &batch).await?, 2);
    assert_eq!(
        store.variant_exact(&ds, &replaced.key).await?,
        Some(replaced.clone())
    );
    assert_eq!(store.count_variants(&ds).await?, 10_002);
    let at = store
        .variants_in_range(&ds, "chr20", 1_000, 1_000, 10)
        .await?;
    let alts: Vec<&str> = at.iter().map(|r| r.key.alternate.as_str()).collect();
    assert_eq!(alts, ["G", "T"]);
    Ok(())
}

async fn recontact_requests(store: Store) -> TestResult {
    store.migrate().await?;
    with_participants(&store, 3).await?;
    let req = RecontactRequest {
        id: RecontactRequestId::parse("RC-1")?,
        requester: "https://issuer.example#alice".to_owned(),
        kind: RecontactKind::ResearchInvitation,
        reason: "A synthetic follow-up study.".to_owned(),
        dataset: None,
        approval: None,
        participants: vec![pid(3)?, pid(1)?],
    };
    store.put_recontact_request(&req).await?;
    store.put_recontact_request(&req).await?;
    let mut other = req.clone();
    other.reason = "Something else.".to_owned();
    assert!(matches!(
        store.put_recontact_request(&other).await,
        Err(StoreError::Conflict { .. })
    ));
    assert_eq!(
        store.get_recontact_request(&req.id).await?,
        Some(req.clone())
    );
    assert_eq!(
        store.recontact_statuses(&req.id).await?,
        vec![
            (pid(1)?, RecontactStatus::Pending),
            (pid(3)?, RecontactStatus::Pending)
        ]
    );
    assert!(
        store
            .set_recontact_status(&req.id, &pid(3)?, RecontactStatus::Agreed)
            .await?
    );
    assert!(
        !store
            .set_recontact_status(&req.id, &pid(2)?, RecontactStatus::Agreed)
            .await?
    );
    let hour_ago = time::OffsetDateTime::now_utc() - time::Duration::hours(1);
    assert_eq!(
        store
            .recontacted_since(&[pid(1)?, pid(2)?, pid(3)?], hour_ago)
            .await?,
        vec![pid(1)?, pid(3)?]
    );
    let in_an_hour = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
    assert!(
        store
            .recontacted_since(&[pid(1)?, pid(3)?], in_an_hour)
            .await?
            .is_empty()
    );
    assert_eq!(
        store
            .recontact_requests_of("https://issuer.example#alice")
            .await?,
        vec![req.clone()]
    );
    assert!(
        store
            .recontact_requests_of("someone#else")
            .await?
            .is_empty()
    );
    let inbox = store.recontact_inbox(&inst()?).await?;
    let got: Vec<(String, RecontactStatus)> = inbox
        .iter()
        .map(|e| (e.participant.to_string(), e.status))
        .collect();
    assert_eq!(
        got,
        vec![
            ("GEMJ-P-000001".to_owned(), RecontactStatus::Pending),
            ("GEMJ-P-000003".to_owned(), RecontactStatus::Agreed)
        ]
    );
    let mut orphan = req.clone();
    orphan.id = RecontactRequestId::parse("RC-2")?;
    orphan.participants = vec![pid(404)?];
    assert!(matches!(
        store.put_recontact_request(&orphan).await,
        Err(StoreError::MissingReference { .. })
    ));
    assert_eq!(store.get_recontact_request(&orphan.id).await?, None);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Backend-independent checks.

#[tokio::test]
async fn bad_urls_are_errors_not_panics() {
    let opts = StoreOptions::default();
    for url in [
        "",
        "nonsense",
        "mysql://root:secret@localhost/db",
        "http://example.org",
        "sqlite:",
        "sqlite://",
        "sqlite:?mode=memory",
        "postgres://user:secret@[::1/db",
        "postgres://user:secret@host:notaport/db",
        "postgresql://user:secret@host/db?sslmode=bogus",
    ] {
        match Store::connect(url, &opts).await {
            Err(e @ StoreError::BadUrl { .. }) => {
                assert!(!e.to_string().contains("secret"), "{url:?}: {e}");
            }
            other => panic!("{url:?}: expected BadUrl, got {other:?}"),
        }
    }
    let bad_schema = StoreOptions {
        max_connections: 1,
        schema: Some("Robert'); DROP TABLE students;--".to_owned()),
    };
    assert!(matches!(
        Store::connect("postgres://localhost/db", &bad_schema).await,
        Err(StoreError::BadUrl { .. })
    ));
    let sqlite_schema = StoreOptions {
        max_connections: 1,
        schema: Some("gemj".to_owned()),
    };
    assert!(matches!(
        Store::connect("sqlite::memory:", &sqlite_schema).await,
        Err(StoreError::BadUrl { .. })
    ));
    // A file in a folder that does not exist cannot be created: a connect error.
    assert!(matches!(
        Store::connect("sqlite:/nonexistent-folder-gemj/x.db", &opts).await,
        Err(StoreError::Connect { .. })
    ));
}

#[tokio::test]
async fn in_memory_sqlite_works() -> TestResult {
    let store = Store::connect("sqlite::memory:", &StoreOptions::default()).await?;
    store.migrate().await?;
    store.put_dataset(&dataset("DS-MEM")?).await?;
    assert_eq!(store.list_datasets().await?.len(), 1);
    Ok(())
}

#[tokio::test]
async fn connecting_with_sqlite_double_slash_url() -> TestResult {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("x.db").display());
    let store = Store::connect(&url, &StoreOptions::default()).await?;
    store.migrate().await?;
    assert!(dir.path().join("x.db").exists());
    Ok(())
}

/// Applications: stored once, listed pending, decided once in one transaction with the
/// approval they record and its first event; a rejected one records none; status changes keep
/// their reasons in order, and a refused change leaves no event.
async fn applications(store: Store) -> TestResult {
    use gemj_model::{
        Application, ApplicationDecision, ApprovalEvent, ApprovalId, ApprovalStatus, DatasetId,
        DuoCode,
    };
    store.migrate().await?;
    store.put_dataset(&dataset("DS-APP")?).await?;
    let at = time::OffsetDateTime::from_unix_timestamp(1_700_000_000)?;
    let application = Application {
        id: ApprovalId::parse("APP-1")?,
        researcher_issuer: "https://broker.example.org".to_owned(),
        researcher_subject: "researcher-1".to_owned(),
        institution: "Synthetic University".to_owned(),
        project: "Gastric cancer".to_owned(),
        purpose: vec![
            DuoCode::parse("DUO:0000007")?,
            DuoCode::parse("DUO:0000021")?,
        ],
        diseases: vec!["MONDO:0004992".to_owned()],
        for_profit: false,
        country: "JP".to_owned(),
        datasets: vec![DatasetId::parse("DS-APP")?],
        submitted_at: at,
    };
    store.put_application(&application).await?;
    assert!(matches!(
        store.put_application(&application).await,
        Err(StoreError::Conflict { .. })
    ));
    let second = Application {
        id: ApprovalId::parse("APP-2")?,
        submitted_at: at + time::Duration::minutes(1),
        ..application.clone()
    };
    store.put_application(&second).await?;
    let pending = store.list_applications(true, 10).await?;
    let ids: Vec<&str> = pending.iter().map(|a| a.application.id.as_str()).collect();
    assert_eq!(ids, ["APP-2", "APP-1"], "newest first");
    assert_eq!(pending[1].application, application);

    let approval = application.approval(
        ApprovalId::parse("APR-FROM-APP-1")?,
        at,
        at + time::Duration::days(365),
    );
    let yes = ApplicationDecision {
        approved: true,
        at,
        by: "https://broker.example.org#committee".to_owned(),
        reason: "Ethics approval seen".to_owned(),
        approval: Some(approval.id.clone()),
    };
    // A decision that does not match its approval is refused before anything is written.
    assert!(
        store
            .decide_application(&application.id, &yes, None)
            .await
            .is_err()
    );
    assert!(store.get_approval(&approval.id).await?.is_none());
    assert!(
        store
            .decide_application(&application.id, &yes, Some(&approval))
            .await?
    );
    assert!(matches!(
        store
            .decide_application(&application.id, &yes, Some(&approval))
            .await,
        Err(StoreError::Conflict { .. })
    ));
    assert!(
        !store
            .decide_application(&ApprovalId::parse("APP-NONE")?, &yes, Some(&approval))
            .await?
    );
    let stored = store
        .get_application(&application.id)
        .await?
        .ok_or("stored")?;
    assert_eq!(stored.decision, Some(yes.clone()));
    assert_eq!(
        store.get_approval(&approval.id).await?,
        Some(approval.clone())
    );
    let no = ApplicationDecision {
        approved: false,
        reason: "Out of scope".to_owned(),
        approval: None,
        ..yes.clone()
    };
    assert!(store.decide_application(&second.id, &no, None).await?);
    assert!(store.list_applications(true, 10).await?.is_empty());
    assert_eq!(store.list_applications(false, 10).await?.len(), 2);
    assert_eq!(
        store
            .applications_of("https://broker.example.org", "researcher-1")
            .await?
            .len(),
        2
    );

    let change = |status, reason: &str| ApprovalEvent {
        at,
        status,
        reason: reason.to_owned(),
        by: "https://broker.example.org#committee".to_owned(),
    };
    assert!(
        store
            .change_approval_status(&approval.id, &change(ApprovalStatus::Suspended, "audit"))
            .await?
    );
    assert!(
        store
            .change_approval_status(&approval.id, &change(ApprovalStatus::Revoked, "breach"))
            .await?
    );
    assert!(matches!(
        store
            .change_approval_status(&approval.id, &change(ApprovalStatus::Active, "undo"))
            .await,
        Err(StoreError::Conflict { .. })
    ));
    let events: Vec<(ApprovalStatus, String)> = store
        .approval_events(&approval.id)
        .await?
        .into_iter()
        .map(|e| (e.status, e.reason))
        .collect();
    assert_eq!(
        events,
        [
            (ApprovalStatus::Active, "Ethics approval seen".to_owned()),
            (ApprovalStatus::Suspended, "audit".to_owned()),
            (ApprovalStatus::Revoked, "breach".to_owned()),
        ]
    );
    assert_eq!(store.list_approvals(10).await?.len(), 1);
    Ok(())
}

/// Portal sessions and sign-ins: a session is found by any handle on the store until it
/// expires or idles, an id is never reused, a sign-in is taken once, and old sign-ins go.
async fn portal_sessions(store: Store) -> TestResult {
    use crate::PortalSession;
    store.migrate().await?;
    let session = PortalSession {
        csrf: "c".to_owned(),
        sealed_token: vec![1, 2, 3],
        created: 1_000,
        last_seen: 1_000,
        expires: 5_000,
    };
    store.put_portal_session("h1", &session).await?;
    assert!(matches!(
        store.put_portal_session("h1", &session).await,
        Err(StoreError::Conflict { .. })
    ));
    let used = store
        .use_portal_session("h1", 1_100, 600)
        .await?
        .ok_or("live")?;
    assert_eq!(used.sealed_token, vec![1, 2, 3]);
    assert_eq!(used.csrf, "c");
    // Touched at 1,100: still live at 1,650, idle at 2,300.
    assert!(store.use_portal_session("h1", 1_650, 600).await?.is_some());
    assert!(store.use_portal_session("h1", 2_300, 600).await?.is_none());
    assert!(
        store
            .use_portal_session("h1", 2_301, 6_000)
            .await?
            .is_none(),
        "deleted when idle"
    );
    store.put_portal_session("h2", &session).await?;
    assert!(
        store
            .use_portal_session("h2", 5_000, 100_000)
            .await?
            .is_none(),
        "expired"
    );
    store.put_portal_session("h3", &session).await?;
    store.delete_portal_session("h3").await?;
    assert!(store.use_portal_session("h3", 1_001, 600).await?.is_none());
    store.put_portal_session("h4", &session).await?;
    assert_eq!(store.purge_portal_sessions(6_000).await?, 1);

    store.put_portal_login("s1", b"sealed", 1_000, 0).await?;
    assert!(
        store
            .put_portal_login("s1", b"again", 1_000, 0)
            .await
            .is_err()
    );
    assert_eq!(
        store.take_portal_login("s1").await?,
        Some((b"sealed".to_vec(), 1_000))
    );
    assert_eq!(store.take_portal_login("s1").await?, None, "taken once");
    store.put_portal_login("s2", b"old", 1_000, 0).await?;
    store.put_portal_login("s3", b"new", 2_000, 1_500).await?;
    assert_eq!(
        store.take_portal_login("s2").await?,
        None,
        "forgotten when old"
    );
    assert!(store.take_portal_login("s3").await?.is_some());
    Ok(())
}

/// Approvals: stored whole, found by researcher, a status change reads back at once, a revoked
/// approval stays revoked, and an approval naming an unknown dataset is refused.
async fn approvals(store: Store) -> TestResult {
    use gemj_model::{Approval, ApprovalId, ApprovalStatus, DatasetId, DuoCode};
    store.migrate().await?;
    store.put_dataset(&dataset("DS-APR")?).await?;
    let approval = Approval {
        id: ApprovalId::parse("APR-0001")?,
        researcher_issuer: "https://broker.example.org".to_owned(),
        researcher_subject: "researcher-1".to_owned(),
        institution: "Synthetic University".to_owned(),
        project: "PRJ-1".to_owned(),
        purpose: vec![DuoCode::parse("DUO:0000006")?],
        diseases: vec![],
        for_profit: false,
        for_profit_organisation: None,
        country: "JP".to_owned(),
        datasets: vec![DatasetId::parse("DS-APR")?],
        valid_from: time::OffsetDateTime::from_unix_timestamp(1_700_000_000)?,
        valid_until: time::OffsetDateTime::from_unix_timestamp(1_900_000_000)?,
        status: ApprovalStatus::Active,
    };
    store.put_approval(&approval).await?;
    assert_eq!(
        store.get_approval(&approval.id).await?,
        Some(approval.clone())
    );
    assert_eq!(
        store
            .approvals_of("https://broker.example.org", "researcher-1")
            .await?,
        vec![approval.clone()]
    );
    assert!(
        store
            .approvals_of("https://broker.example.org", "researcher-2")
            .await?
            .is_empty()
    );

    assert!(
        store
            .set_approval_status(&approval.id, ApprovalStatus::Suspended)
            .await?
    );
    assert!(
        store
            .set_approval_status(&approval.id, ApprovalStatus::Active)
            .await?
    );
    assert!(
        store
            .set_approval_status(&approval.id, ApprovalStatus::Revoked)
            .await?
    );
    let got = store
        .get_approval(&approval.id)
        .await?
        .ok_or("approval vanished")?;
    assert_eq!(got.status, ApprovalStatus::Revoked);
    assert!(matches!(
        store
            .set_approval_status(&approval.id, ApprovalStatus::Active)
            .await,
        Err(StoreError::Conflict { .. })
    ));
    assert!(
        !store
            .set_approval_status(&ApprovalId::parse("APR-NONE")?, ApprovalStatus::Active)
            .await?
    );

    let unknown = Approval {
        id: ApprovalId::parse("APR-0002")?,
        datasets: vec![DatasetId::parse("DS-NONE")?],
        ..approval.clone()
    };
    assert!(store.put_approval(&unknown).await.is_err());
    assert!(
        store.get_approval(&unknown.id).await?.is_none(),
        "a refused approval was half-written"
    );
    let invalid = Approval {
        id: ApprovalId::parse("APR-0003")?,
        country: "Japan".to_owned(),
        ..approval
    };
    assert!(matches!(
        store.put_approval(&invalid).await,
        Err(StoreError::InvalidInput { .. })
    ));
    Ok(())
}

/// Registration times (migration 0004 fills them for objects stored before it), objects by
/// specimen and by index, and the totals DRS service-info reports.
async fn object_registration(store: Store) -> TestResult {
    store.migrate_to(3).await?;
    with_participants(&store, 2).await?;
    let specimen = |id: &str, n: u32| -> Result<Specimen, Box<dyn Error>> {
        Ok(Specimen {
            id: SpecimenId::parse(id)?,
            participant: pid(n)?,
            specimen_type: SpecimenType::Dna,
            parent: None,
            collected: None,
            tumour: None,
            biobank_sample: true,
            details: Default::default(),
        })
    };
    // A specimen stored before migration 0008 (no ordinal), as the store wrote it then.
    let old_specimen = specimen("SP-B", 2)?;
    with_pool!(store, |p| {
        sqlx::query(
            "INSERT INTO specimens (id, participant, parent, specimen_type, collected, doc) \
             VALUES ($1, $2, NULL, 'dna', NULL, $3)",
        )
        .bind(old_specimen.id.as_str())
        .bind(old_specimen.participant.as_str())
        .bind(serde_json::to_string(&old_specimen)?)
        .execute(p)
        .await?;
    });
    let object = |id: &str, size: u64, specimens: &[&str]| -> Result<DataObject, Box<dyn Error>> {
        Ok(DataObject {
            id: ObjectId::parse(id)?,
            name: format!("{id}.vcf.gz"),
            format: DataFormat::Vcf,
            size,
            checksums: Checksums::new(&"c".repeat(64), &"d".repeat(32))?,
            storage_uri: format!("file:{id}"),
            index: None,
            participant: None,
            specimens: specimens
                .iter()
                .map(|s| SpecimenId::parse(s))
                .collect::<Result<_, _>>()?,
            analysis: None,
            description: None,
        })
    };
    // An object stored before migration 0004, written as the store wrote it then.
    let old = object("OBJ-OLD", 7, &[])?;
    let before = time::OffsetDateTime::now_utc().replace_nanosecond(0)?;
    with_pool!(store, |p| {
        sqlx::query(
            "INSERT INTO data_objects (id, name, format, size, sha256, md5, storage_uri, doc) \
             VALUES ($1, $2, 'VCF', 7, $3, $4, $5, $6)",
        )
        .bind(old.id.as_str())
        .bind(old.name.as_str())
        .bind(old.checksums.sha256.as_str())
        .bind(old.checksums.md5.as_str())
        .bind(old.storage_uri.as_str())
        .bind(serde_json::to_string(&old)?)
        .execute(p)
        .await?;
    });
    store.migrate().await?;
    // Migration 0008 numbered the stored specimen; a new one gets the next ordinal, and an
    // update keeps it.
    store.upsert_specimen(&specimen("SP-A", 1)?).await?;
    store.upsert_specimen(&old_specimen).await?;
    let ordinals = store
        .specimen_ordinals(&[
            SpecimenId::parse("SP-A")?,
            SpecimenId::parse("SP-B")?,
            SpecimenId::parse("SP-NONE")?,
        ])
        .await?;
    let ordinals: Vec<(&str, u32)> = ordinals.iter().map(|(s, o)| (s.as_str(), *o)).collect();
    assert_eq!(ordinals, vec![("SP-A", 1), ("SP-B", 0)]);
    let filled = store
        .object_times(&old.id)
        .await?
        .ok_or("the old object has no times")?;
    assert_eq!(filled.registered_at, filled.updated_at);
    assert!(
        filled.registered_at >= before,
        "filled with the migration's time"
    );
    assert_eq!(store.get_object(&old.id).await?, Some(old.clone()));
    assert_eq!(
        store.object_times(&ObjectId::parse("OBJ-NONE")?).await?,
        None
    );

    // Set on insert; an identical re-registration changes nothing; a changed one moves only
    // the update time.
    let mut joint = object("OBJ-JOINT", 100, &["SP-B", "SP-A"])?;
    let index = object("OBJ-JOINT.tbi", 10, &["SP-A"])?;
    joint.index = Some(index.id.clone());
    store.put_object(&joint).await?;
    store.put_object(&index).await?;
    let first = store
        .object_times(&joint.id)
        .await?
        .ok_or("no times after insert")?;
    assert_eq!(first.registered_at, first.updated_at);
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    store.put_object(&joint).await?;
    assert_eq!(store.object_times(&joint.id).await?, Some(first));
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    joint.description = Some("Re-called.".to_owned());
    store.put_object(&joint).await?;
    let changed = store
        .object_times(&joint.id)
        .await?
        .ok_or("no times after update")?;
    assert_eq!(
        changed.registered_at, first.registered_at,
        "never rewritten"
    );
    assert!(
        changed.updated_at > first.updated_at,
        "{changed:?} vs {first:?}"
    );

    // Objects of a specimen, the files of an index, and the totals.
    let ids = |os: Vec<DataObject>| os.into_iter().map(|o| o.id.to_string()).collect::<Vec<_>>();
    assert_eq!(
        ids(store
            .objects_of_specimen(&SpecimenId::parse("SP-A")?)
            .await?),
        vec!["OBJ-JOINT", "OBJ-JOINT.tbi"]
    );
    assert_eq!(
        ids(store
            .objects_of_specimen(&SpecimenId::parse("SP-B")?)
            .await?),
        vec!["OBJ-JOINT"]
    );
    assert!(
        store
            .objects_of_specimen(&SpecimenId::parse("SP-NONE")?)
            .await?
            .is_empty()
    );
    assert_eq!(
        store.objects_indexed_by(&index.id).await?,
        vec![joint.id.clone()]
    );
    assert!(store.objects_indexed_by(&joint.id).await?.is_empty());
    assert_eq!(store.object_totals().await?, (3, 117));
    Ok(())
}

async fn ingest_transaction(store: Store) -> TestResult {
    use gemj_model::source::HospitalPatientId;
    use gemj_model::{Coding, Demographics, Measurement, Quantity};
    store.migrate().await?;
    let p = participant(1)?;
    let hospital = HospitalPatientId {
        institution: InstitutionId::parse("9999999999")?,
        patient: "9000000001".to_owned(),
    };
    let prov = Provenance {
        source: "ssmix2".to_owned(),
        file: Some("a/b".to_owned()),
        position: Some("OBX[1]".to_owned()),
        value: None,
    };
    let m = Measurement {
        participant: p.id.clone(),
        code: Coding::new("JC10", "3A015000002327101"),
        value: Quantity {
            value: "3.2".to_owned(),
            unit: Some("g/dL".to_owned()),
        },
        value_type: "NM".to_owned(),
        reference_range: Some("3.7-5.5".to_owned()),
        interpretation: Some("L".to_owned()),
        effective: Some("2024-03-14T09:00:00+09:00".to_owned()),
        status: Some("F".to_owned()),
        order: Some("000000000012345".to_owned()),
        lab_specimen: None,
        provenance: vec![prov.clone()],
    };

    // A rolled-back transaction leaves nothing.
    {
        let mut tx = store.begin_ingest().await?;
        tx.ensure_institution(&inst()?, "Synthetic Hospital 1")
            .await?;
        tx.put_participant(&p).await?;
        tx.put_linkage(&hospital, &p.id, std::slice::from_ref(&prov))
            .await?;
        assert!(tx.wrote());
        drop(tx);
    }
    assert!(store.get_participant(&p.id).await?.is_none());
    assert_eq!(store.linked_participant(&hospital).await?, None);

    // A committed one keeps everything, readable inside and outside.
    let mut tx = store.begin_ingest().await?;
    tx.ensure_institution(&inst()?, "Synthetic Hospital 1")
        .await?;
    tx.put_participant(&p).await?;
    tx.put_linkage(&hospital, &p.id, std::slice::from_ref(&prov))
        .await?;
    assert_eq!(tx.linkage(&hospital).await?, Some(p.id.clone()));
    let demo = Demographics {
        participant: p.id.clone(),
        birth_date: Some(PartialDate::parse("1975-04-01")?),
        provenance: vec![prov.clone()],
    };
    tx.put_demographics(&demo).await?;
    tx.put_measurement(&m).await?;
    assert_eq!(tx.measurement(&p.id, &m.key()).await?, Some(m.clone()));
    let dx = Diagnosis {
        participant: p.id.clone(),
        icd10: Icd10Code::parse("C169")?,
        source_code: "C169".to_owned(),
        source_system: Some("I10".to_owned()),
        onset: Some(PartialDate::parse("2024-02-15")?),
        recorded: None,
        provenance: vec![prov.clone()],
        details: gemj_model::DiagnosisDetails {
            codings: vec![Coding::new("MDCDX2", "20054178").with_display("胃癌")],
            stage: Some("III".to_owned()),
            ..Default::default()
        },
    };
    tx.put_diagnosis(&dx).await?;
    assert_eq!(tx.diagnosis(&p.id, &dx.icd10).await?, Some(dx.clone()));
    tx.commit().await?;
    assert_eq!(store.demographics_of(&p.id).await?, Some(demo));
    assert_eq!(store.measurements_of(&p.id).await?, vec![m.clone()]);
    assert_eq!(store.diagnoses_of(&p.id).await?, vec![dx]);
    assert_eq!(
        store.linked_participant(&hospital).await?,
        Some(p.id.clone())
    );

    // Deleting the order removes its results and is remembered; a second deletion is a no-op.
    let mut tx = store.begin_ingest().await?;
    assert_eq!(
        tx.delete_order(&p.id, "000000000012345", &prov).await?,
        Some(1)
    );
    assert!(tx.order_deleted(&p.id, "000000000012345").await?);
    assert_eq!(
        tx.delete_order(&p.id, "000000000012345", &prov).await?,
        None
    );
    tx.commit().await?;
    assert!(store.measurements_of(&p.id).await?.is_empty());

    // Consent appended inside the transaction chains like any other.
    let mut tx = store.begin_ingest().await?;
    let event = ConsentEvent {
        event_id: "ingest:test:1".to_owned(),
        participant: p.id.clone(),
        institution: inst()?,
        effective_at: time::macros::datetime!(2024-03-01 00:00 +09:00),
        kind: ConsentEventKind::Withdrawal {
            level: WithdrawalLevel::StopAllUse,
        },
    };
    assert!(matches!(
        tx.append_consent_event(&event).await?,
        AppendOutcome::Appended { .. }
    ));
    assert!(matches!(
        tx.append_consent_event(&event).await?,
        AppendOutcome::Duplicate { .. }
    ));
    assert_eq!(
        tx.consent_state(&p.id).await?.map(|s| s.status),
        Some(ConsentStatus::Withdrawn)
    );
    tx.commit().await?;
    assert!(store.verify_chains().await?.is_intact());
    Ok(())
}

async fn variant_merge(store: Store) -> TestResult {
    use crate::VariantContribution;
    store.migrate().await?;
    store.put_dataset(&dataset("DS-MERGE")?).await?;
    let ds = DatasetId::parse("DS-MERGE")?;
    let key = |pos: u32| VariantKey::parse("chr1", pos, "A", "G");
    let first = vec![
        VariantContribution {
            key: key(100)?,
            carriers: vec![(1, 1), (2, 2)],
            callsets: vec![11, 12],
            calls: Vec::new(),
            notes: None,
        },
        VariantContribution {
            key: key(200)?,
            carriers: vec![(1, 0)],
            callsets: vec![],
            calls: Vec::new(),
            notes: None,
        },
    ];
    let m = store.merge_variants(&ds, &first).await?;
    assert_eq!(
        (m.created, m.merged, m.unchanged, m.without_carriers),
        (1, 0, 0, 1)
    );
    // The same input again changes nothing.
    let epoch = store.catalogue_epoch().await?;
    let m = store.merge_variants(&ds, &first).await?;
    assert_eq!(
        (m.created, m.merged, m.unchanged, m.without_carriers),
        (0, 0, 1, 1)
    );
    assert_eq!(store.catalogue_epoch().await?, epoch);
    // Another file adds a carrier (and repeats one, which adds nothing).
    let second = vec![VariantContribution {
        key: key(100)?,
        carriers: vec![(2, 2), (7, 1)],
        callsets: vec![12, 17],
        calls: Vec::new(),
        notes: None,
    }];
    let m = store.merge_variants(&ds, &second).await?;
    assert_eq!((m.created, m.merged), (0, 1));
    let row = store
        .variant_exact(&ds, &key(100)?)
        .await?
        .ok_or("row missing")?;
    assert_eq!(row.allele_count, 4);
    assert_eq!(row.carrier_count, 3);
    assert_eq!(row.carriers.iter().collect::<Vec<_>>(), vec![1, 2, 7]);
    // The specimens whose calls hold the allele add up, file by file.
    let calls = |row: &VariantRow| row.callsets.as_ref().map(|c| c.iter().collect::<Vec<_>>());
    assert_eq!(calls(&row), Some(vec![11, 12, 17]));
    // A second specimen of a carrier already stored (a tumour after the blood) changes the
    // row: the allele is now known to be called in that specimen too.
    let tumour = vec![VariantContribution {
        key: key(100)?,
        carriers: vec![(7, 1)],
        callsets: vec![27],
        calls: Vec::new(),
        notes: None,
    }];
    let m = store.merge_variants(&ds, &tumour).await?;
    assert_eq!((m.created, m.merged, m.unchanged), (0, 1, 0));
    let row = store
        .variant_exact(&ds, &key(100)?)
        .await?
        .ok_or("row missing")?;
    assert_eq!(calls(&row), Some(vec![11, 12, 17, 27]));
    assert_eq!(row.allele_count, 4, "a carrier's copies count once");
    // A file that adds a carrier without naming its specimen makes the provenance unknown.
    let unnamed = vec![VariantContribution {
        key: key(100)?,
        carriers: vec![(9, 1)],
        callsets: vec![],
        calls: Vec::new(),
        notes: None,
    }];
    store.merge_variants(&ds, &unnamed).await?;
    let row = store
        .variant_exact(&ds, &key(100)?)
        .await?
        .ok_or("row missing")?;
    assert_eq!(calls(&row), None);
    assert_eq!(row.carrier_count, 4);
    assert!(matches!(
        store
            .merge_variants(&DatasetId::parse("DS-NONE")?, &second)
            .await,
        Err(StoreError::MissingReference { .. })
    ));
    Ok(())
}

async fn revocations(store: Store) -> TestResult {
    use crate::{Revocation, RevocationKind};
    store.migrate().await?;
    assert!(store.revocations().await?.is_empty());
    let token = Revocation {
        kind: RevocationKind::Token,
        issuer: "https://broker.example.org".into(),
        value: "jti-1".into(),
        reason: "leaked".into(),
        created_at: String::new(),
        created_by: "https://broker.example.org#admin".into(),
    };
    let subject = Revocation {
        kind: RevocationKind::Subject,
        value: "researcher-1".into(),
        reason: "left the project".into(),
        ..token.clone()
    };
    assert!(store.revoke(&token).await?, "new");
    assert!(
        !store.revoke(&token).await?,
        "the same again changes nothing"
    );
    assert!(store.revoke(&subject).await?);
    // The same value under another kind or issuer is another revocation.
    let other_issuer = Revocation {
        issuer: "https://other.example.org".into(),
        ..token.clone()
    };
    assert!(store.revoke(&other_issuer).await?);
    let all = store.revocations().await?;
    assert_eq!(all.len(), 3);
    assert_eq!(all[0].kind, RevocationKind::Subject);
    assert_eq!(all[1].value, "jti-1");
    assert_eq!(all[1].reason, "leaked");
    assert!(!all[1].created_at.is_empty());
    assert!(
        store
            .revoke(&Revocation {
                value: String::new(),
                ..token.clone()
            })
            .await
            .is_err()
    );
    assert!(
        store
            .unrevoke(RevocationKind::Token, &token.issuer, "jti-1")
            .await?
    );
    assert!(
        !store
            .unrevoke(RevocationKind::Token, &token.issuer, "jti-1")
            .await?
    );
    assert_eq!(store.revocations().await?.len(), 2);
    Ok(())
}

/// Calls, notes and names are stored with the alleles they belong to, replaced when an input
/// says them again, and looked up by name; long alleles work on both backends.
async fn call_details(store: Store) -> TestResult {
    use crate::VariantContribution;
    use gemj_model::variant::{AlleleNotes, Effect, SampleCall};
    store.migrate().await?;
    store.put_dataset(&dataset("DS-CALLS")?).await?;
    let ds = DatasetId::parse("DS-CALLS")?;
    let long = "A".repeat(5_000);
    let tp53 = VariantKey::parse("chr17", 7_675_088, "C", "T")?;
    let deletion = VariantKey::parse("chr17", 7_675_200, &long, "A")?;
    let call = |fraction: f32| SampleCall {
        ploidy: 2,
        allele_fraction: Some(fraction),
        depth: Some(100),
        allele_depth: Some(41),
        total_allele_depth: Some(100),
    };
    let notes = AlleleNotes {
        ids: vec!["rs28934578".into()],
        gene: Some("TP53".into()),
        effects: vec![Effect {
            transcript: Some("NM_000546.6".into()),
            hgvs_c: Some("c.524G>A".into()),
            hgvs_p: Some("NP_000537.3:p.Arg175His".into()),
            ..Effect::default()
        }],
        ..AlleleNotes::default()
    };
    let input = |fraction: f32, notes: Option<AlleleNotes>| {
        vec![
            VariantContribution {
                key: tp53.clone(),
                carriers: vec![(1, 1)],
                callsets: vec![11],
                calls: vec![(11, 1, call(fraction))],
                notes,
            },
            VariantContribution {
                key: deletion.clone(),
                carriers: vec![(1, 2)],
                callsets: vec![11],
                calls: vec![(
                    11,
                    2,
                    SampleCall {
                        ploidy: 2,
                        ..SampleCall::default()
                    },
                )],
                notes: None,
            },
        ]
    };
    store
        .merge_variants(&ds, &input(0.41, Some(notes.clone())))
        .await?;
    let calls = store
        .calls_of_specimens(&ds, &[11, 12], "chr17", (7_675_000, 7_676_000))
        .await?;
    assert_eq!(calls.len(), 2);
    assert_eq!((calls[0].key.clone(), calls[0].copies), (tp53.clone(), 1));
    assert_eq!(calls[0].call, call(0.41));
    assert_eq!(
        (calls[1].key.clone(), calls[1].copies),
        (deletion.clone(), 2)
    );
    assert!(
        store
            .calls_of_specimens(&ds, &[12], "chr17", (1, 10_000_000))
            .await?
            .is_empty()
    );
    let stored = store
        .variant_notes(&ds, "chr17", (7_675_088, 7_675_088))
        .await?;
    assert_eq!(stored.get(&tp53), Some(&notes));
    for name in [
        "rs28934578",
        "NM_000546.6:c.524G>A",
        "NM_000546:c.524G>A",
        "NP_000537.3:p.Arg175His",
        "NP_000537:p.Arg175His",
    ] {
        assert_eq!(
            store.variants_named(&ds, name).await?,
            std::slice::from_ref(&tp53),
            "{name}"
        );
    }
    assert!(store.variants_named(&ds, "rs1").await?.is_empty());
    // The same specimen called again replaces its call; no notes leave the old ones.
    store.merge_variants(&ds, &input(0.5, None)).await?;
    let calls = store
        .calls_of_specimens(&ds, &[11], "chr17", (7_675_088, 7_675_088))
        .await?;
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].call.allele_fraction, Some(0.5));
    assert_eq!(
        store
            .variant_notes(&ds, "chr17", (1, 10_000_000))
            .await?
            .len(),
        1
    );
    Ok(())
}

/// A client assertion is used once until it expires, then forgotten.
async fn used_assertions(store: Store) -> TestResult {
    store.migrate().await?;
    assert!(store.first_use_of_assertion("iss", "a", 100, 10).await?);
    assert!(
        !store.first_use_of_assertion("iss", "a", 100, 20).await?,
        "a replay"
    );
    assert!(
        store.first_use_of_assertion("other", "a", 100, 20).await?,
        "per issuer"
    );
    assert!(
        store.first_use_of_assertion("iss", "a", 300, 150).await?,
        "forgotten once expired"
    );
    Ok(())
}

/// WES runs: stored once, listed per owner newest first and paged by `seq`, moved between
/// states only from the states named (a cancel and an engine's exit never both win), counted
/// per state; an object's owner is recorded once.
async fn wes_runs(store: Store) -> TestResult {
    store.migrate().await?;
    let run = |id: &str, owner: &str| crate::WesRunRow {
        seq: 0,
        run_id: id.to_owned(),
        owner: owner.to_owned(),
        state: "QUEUED".to_owned(),
        request: "{}".to_owned(),
        engine: "cwltool".to_owned(),
        instance: "host-a".to_owned(),
        inputs: "{}".to_owned(),
        created_at: "2026-11-24T10:00:00Z".to_owned(),
        start_time: None,
        end_time: None,
        exit_code: None,
        outputs: None,
        log: "{}".to_owned(),
        heartbeat: 100,
    };
    for (id, owner) in [
        ("r1", "iss#alice"),
        ("r2", "iss#bob"),
        ("r3", "iss#alice"),
        ("r4", "iss#alice"),
    ] {
        store.insert_wes_run(&run(id, owner)).await?;
    }
    assert!(
        matches!(
            store.insert_wes_run(&run("r1", "iss#bob")).await,
            Err(StoreError::Conflict { .. })
        ),
        "a run id is taken once"
    );
    let page = store.wes_runs_of("iss#alice", None, 2).await?;
    let ids: Vec<&str> = page.iter().map(|r| r.run_id.as_str()).collect();
    assert_eq!(ids, ["r4", "r3"]);
    let rest = store.wes_runs_of("iss#alice", Some(page[1].seq), 2).await?;
    assert_eq!(
        rest.iter().map(|r| r.run_id.as_str()).collect::<Vec<_>>(),
        ["r1"]
    );
    let change = crate::WesRunChange {
        start_time: Some("2026-11-24T10:00:01Z".to_owned()),
        log: Some(r#"{"pid": 7}"#.to_owned()),
        ..crate::WesRunChange::default()
    };
    assert!(
        store
            .change_wes_run("r1", &["QUEUED"], "RUNNING", &change)
            .await?
    );
    assert!(
        !store
            .change_wes_run(
                "r1",
                &["QUEUED"],
                "CANCELED",
                &crate::WesRunChange::default()
            )
            .await?,
        "not from a state it is not in"
    );
    let done = crate::WesRunChange {
        end_time: Some("2026-11-24T10:00:09Z".to_owned()),
        exit_code: Some(0),
        outputs: Some(r#"{"x": 1}"#.to_owned()),
        ..crate::WesRunChange::default()
    };
    assert!(
        store
            .change_wes_run("r1", &["RUNNING", "CANCELING"], "COMPLETE", &done)
            .await?
    );
    let r1 = store.wes_run("r1").await?.ok_or("r1")?;
    assert_eq!(r1.state, "COMPLETE");
    assert_eq!(
        r1.start_time.as_deref(),
        Some("2026-11-24T10:00:01Z"),
        "kept"
    );
    assert_eq!(
        (r1.exit_code, r1.outputs.as_deref(), r1.log.as_str()),
        (Some(0), Some(r#"{"x": 1}"#), r#"{"pid": 7}"#)
    );
    assert!(store.wes_run("nope").await?.is_none());
    store
        .touch_wes_runs(&["r2".to_owned(), "r3".to_owned()], 200)
        .await?;
    let beats: Vec<(String, i64)> = store
        .wes_runs_in(&["QUEUED"])
        .await?
        .into_iter()
        .map(|r| (r.run_id, r.heartbeat))
        .collect();
    assert_eq!(
        beats,
        [
            ("r2".to_owned(), 200),
            ("r3".to_owned(), 200),
            ("r4".to_owned(), 100)
        ]
    );
    let active = store.wes_runs_in(&["QUEUED", "RUNNING"]).await?;
    assert_eq!(
        active.iter().map(|r| r.run_id.as_str()).collect::<Vec<_>>(),
        ["r2", "r3", "r4"]
    );
    assert_eq!(
        store.wes_state_counts("iss#alice").await?,
        [("COMPLETE".to_owned(), 1), ("QUEUED".to_owned(), 2)]
    );
    let object = ObjectId::parse("wes-r1-1")?;
    assert_eq!(store.object_owner(&object).await?, None);
    store
        .set_object_owner(&object, "iss#alice", Some("PRJ-1"), "r1", true)
        .await?;
    store
        .set_object_owner(&object, "iss#alice", Some("PRJ-1"), "r1", true)
        .await?;
    assert!(
        store
            .set_object_owner(&object, "iss#bob", Some("PRJ-1"), "r2", false)
            .await
            .is_err(),
        "one owner"
    );
    assert!(
        store
            .set_object_owner(&object, "iss#alice", Some("PRJ-2"), "r1", true)
            .await
            .is_err(),
        "one project"
    );
    let owned = store.object_owner(&object).await?.ok_or("owned")?;
    assert_eq!(
        (owned.owner.as_str(), owned.project.as_deref(), owned.held),
        ("iss#alice", Some("PRJ-1"), true)
    );
    let unshared = ObjectId::parse("wes-r1-2")?;
    store
        .set_object_owner(&unshared, "iss#alice", None, "r1", false)
        .await?;
    assert_eq!(
        store.object_owner(&unshared).await?.ok_or("owned")?.project,
        None
    );
    assert_eq!(store.held_objects().await?.len(), 1);
    // Releasing needs the object itself (it moves the catalogue epoch through its row).
    store
        .put_object(&DataObject {
            id: object.clone(),
            name: "counts.txt".into(),
            format: gemj_model::DataFormat::Other,
            size: 3,
            checksums: gemj_model::Checksums {
                sha256: "a".repeat(64),
                md5: "b".repeat(32),
            },
            storage_uri: "file:wes/r1/1-counts.txt".into(),
            index: None,
            participant: None,
            specimens: Vec::new(),
            analysis: None,
            description: None,
        })
        .await?;
    let epoch = store.catalogue_epoch().await?;
    assert!(store.release_object(&object, "iss#committee").await?);
    assert!(
        !store.release_object(&object, "iss#committee").await?,
        "once"
    );
    assert!(
        store.catalogue_epoch().await? > epoch,
        "a release moves the catalogue epoch"
    );
    let owned = store.object_owner(&object).await?.ok_or("owned")?;
    assert!(!owned.held);
    assert_eq!(owned.released_by.as_deref(), Some("iss#committee"));
    assert!(store.held_objects().await?.is_empty());
    Ok(())
}

/// Query budgets and risk ledgers: a window allows exactly its limit however many tasks take
/// at once; a refusal takes from no key and names the wait; a window starts again once it
/// ends; risk charges count per requester and participant, and lapse with their window.
async fn shared_budgets(store: Store) -> TestResult {
    use crate::QueryBudget;
    store.migrate().await?;
    let t0 = 1_700_000_000_000_i64;
    let caller = |limit| QueryBudget {
        key: "caller:iss#alice",
        limit,
        amount: 1,
    };
    let ip = |limit| QueryBudget {
        key: "ip:192.0.2.1",
        limit,
        amount: 1,
    };
    // 40 concurrent takes against a limit of 25: exactly 25 pass.
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..40 {
        let store = store.clone();
        tasks.spawn(async move {
            store
                .take_queries(&[caller(25), ip(1_000)], 60_000, t0 + i)
                .await
        });
    }
    let mut passed = 0;
    while let Some(done) = tasks.join_next().await {
        if done??.is_ok() {
            passed += 1;
        }
    }
    assert_eq!(passed, 25);
    // Refused by the caller's window: the address's window is not charged, and the wait is
    // what is left of the window.
    let refused = store
        .take_queries(&[ip(1_000), caller(25)], 60_000, t0 + 10_000)
        .await?;
    let wait = refused.err().ok_or("refused")?;
    assert!((50_000..=50_040).contains(&wait), "{wait}");
    let ip_used: (i64,) = with_pool!(store, |p| {
        sqlx::query_as("SELECT used FROM query_windows WHERE key = 'ip:192.0.2.1'")
            .fetch_one(p)
            .await?
    });
    assert_eq!(ip_used.0, 25, "a refusal takes nothing");
    // Another caller behind the same address is not refused by alice's window.
    let bob = QueryBudget {
        key: "caller:iss#bob",
        limit: 25,
        amount: 1,
    };
    assert!(
        store
            .take_queries(&[bob, ip(1_000)], 60_000, t0 + 10_000)
            .await?
            .is_ok()
    );
    // Once the window ends, a new one starts, and says when.
    assert_eq!(
        store
            .take_queries(&[caller(25)], 60_000, t0 + 60_100)
            .await?,
        Ok(vec![t0 + 60_100])
    );
    // Several at once (a lease): taken only while they fit under the limit, all or none.
    let lease = |amount| QueryBudget {
        key: "caller:iss#carol",
        limit: 10,
        amount,
    };
    assert!(
        store
            .take_queries(&[lease(8)], 60_000, t0 + 60_100)
            .await?
            .is_ok()
    );
    assert!(
        store
            .take_queries(&[lease(3)], 60_000, t0 + 60_101)
            .await?
            .is_err()
    );
    assert!(
        store
            .take_queries(&[lease(2)], 60_000, t0 + 60_102)
            .await?
            .is_ok()
    );
    assert!(
        store
            .take_queries(&[lease(1)], 60_000, t0 + 60_103)
            .await?
            .is_err()
    );
    // Only the keys of the prefix asked are forgotten.
    assert_eq!(
        store
            .prune_query_windows("other:", 60_000, t0 + 200_000)
            .await?,
        0
    );
    for (prefix, forgotten) in [("caller:", 3), ("ip:", 1), ("", 0)] {
        assert_eq!(
            store
                .prune_query_windows(prefix, 60_000, t0 + 200_000)
                .await?,
            forgotten,
            "{prefix}"
        );
    }

    // Risk: participant 7 in three small answers for mallory is exhausted for her only.
    for i in 0..3 {
        assert!(store.risk_exhausted("mallory", 3, t0 - 1).await?.is_empty());
        store
            .charge_risk("mallory", &[7, 8], 86_400_000, t0 + i)
            .await?;
    }
    // A charge answers each participant's count (once per answer, duplicates or not).
    assert_eq!(
        store
            .charge_risk("mallory", &[9, 9], 86_400_000, t0 + 5)
            .await?,
        vec![(9, 1)]
    );
    let mut spent = store.risk_exhausted("mallory", 3, t0 - 1).await?;
    spent.sort_unstable();
    assert_eq!(spent, vec![7, 8]);
    // Many at once: one statement per 500, every count returned.
    let many: Vec<u32> = (1_000..2_200).collect();
    let counts = store
        .charge_risk("mallory", &many, 86_400_000, t0 + 6)
        .await?;
    assert_eq!(counts.len(), many.len());
    assert!(counts.iter().all(|(_, n)| *n == 1));
    assert!(store.risk_exhausted("alice", 3, t0 - 1).await?.is_empty());
    // Only charges within the window count: read a window later, nothing is spent; and a
    // charge after the window starts the count again.
    assert!(
        store
            .risk_exhausted("mallory", 3, t0 + 10)
            .await?
            .is_empty()
    );
    assert_eq!(
        store
            .charge_risk("mallory", &[7], 86_400_000, t0 + 86_400_010)
            .await?,
        vec![(7, 1)],
        "a charge after the window starts the count again"
    );
    assert!(
        store
            .risk_exhausted("mallory", 3, t0 + 10)
            .await?
            .is_empty()
    );
    // Pruning forgets what the window no longer counts, and nothing else.
    assert_eq!(store.prune_risk_charges(t0 + 10).await?, 2 + 1_200);
    assert_eq!(
        store
            .charge_risk("mallory", &[7], 86_400_000, t0 + 86_400_020)
            .await?,
        vec![(7, 2)]
    );
    // Answers charged at once are written in groups: each still counts once, per requester,
    // and each answer gets its own rows' counts, as they stand after its group (so the
    // highest count returned is the total).
    let charges = (0..60u32).map(|i| {
        let requester = ["trent", "oscar", "peggy"][(i % 3) as usize];
        let participants = if i % 2 == 0 { vec![40, 41] } else { vec![41] };
        let store = store.clone();
        async move {
            let counts = store
                .charge_risk(requester, &participants, 86_400_000, t0 + 86_400_030)
                .await?;
            Ok::<_, StoreError>((requester, participants, counts))
        }
    });
    let mut highest: std::collections::BTreeMap<(&str, u32), i64> = Default::default();
    for answer in futures_util::future::join_all(charges).await {
        let (requester, participants, counts) = answer?;
        assert_eq!(
            counts.iter().map(|(p, _)| *p).collect::<Vec<_>>(),
            participants,
            "{requester}: its own rows, no one else's"
        );
        for (p, n) in counts {
            let top = highest.entry((requester, p)).or_default();
            *top = (*top).max(n);
        }
    }
    for requester in ["trent", "oscar", "peggy"] {
        assert_eq!(
            highest[&(requester, 40)],
            10,
            "{requester}: 10 answers with 40"
        );
        assert_eq!(
            highest[&(requester, 41)],
            20,
            "{requester}: 20 answers with 41"
        );
        assert_eq!(
            store.risk_exhausted(requester, 20, t0 + 10).await?,
            vec![41]
        );
    }
    Ok(())
}

/// A local audit journal ships into the one chain in order, exactly once: across a limit, a
/// crash between the shipping's commit and the file's delete, and a reopening; one process
/// holds the file.
async fn audit_journal(store: Store) -> TestResult {
    store.migrate().await?;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("audit-journal.sqlite");
    let journal = AuditJournal::open(&path)?;
    assert!(
        AuditJournal::open(&path).is_err(),
        "a second holder of the journal is refused"
    );
    // A direct append and the journal's rows share one chain.
    store
        .append_audit(&[audit_event(1, "alice", &["GEMJ-P-000001"])?])
        .await?;
    let events = (2..=6)
        .map(|n| audit_event(n, "journal-bob", &["GEMJ-P-000002"]))
        .collect::<Result<Vec<_>, _>>()?;
    assert_eq!(journal.append(&events[..2])?, 2);
    assert_eq!(journal.append(&events[2..])?, 5);
    assert_eq!(journal.pending()?, 5);
    assert_eq!(store.audit_count().await?, 1, "nothing shipped yet");
    // The first shipping names a new principal (the locked path), the second not.
    assert_eq!(store.ship_audit_journal(&journal, 3).await?, 3);
    assert_eq!(store.ship_audit_journal(&journal, 100).await?, 2);
    assert_eq!(store.ship_audit_journal(&journal, 100).await?, 0);
    assert_eq!(journal.pending()?, 0);
    assert_eq!(journal.last_shipped(), Some(5));
    assert_eq!(store.audit_journal_shipped(journal.id()).await?, 5);

    // A crash after a shipping committed, before its rows left the file: they are not
    // shipped again.
    let seventh = audit_event(7, "journal-bob", &[])?;
    assert_eq!(journal.append(std::slice::from_ref(&seventh))?, 6);
    store
        .append_audit_marked(std::slice::from_ref(&seventh), (journal.id(), 5, 6))
        .await?;
    // A second shipping of rows already shipped (a copy of the file elsewhere, a killed
    // process's statement still queued): refused, nothing written.
    assert!(matches!(
        store
            .append_audit_marked(std::slice::from_ref(&seventh), (journal.id(), 5, 6))
            .await,
        Err(StoreError::Conflict { .. })
    ));
    assert_eq!(store.audit_count().await?, 7);
    let id = journal.id().to_owned();
    drop(journal);
    let journal = AuditJournal::open(&path)?;
    assert_eq!(journal.id(), id, "the journal keeps its id");
    assert_eq!(journal.last_appended(), 6);
    assert_eq!(store.ship_audit_journal(&journal, 100).await?, 0);
    assert_eq!(journal.pending()?, 0);
    assert_eq!(store.audit_count().await?, 7);
    // Row ids are not reused once shipped rows are deleted.
    assert_eq!(journal.append(&[audit_event(8, "carol", &[])?])?, 7);
    assert_eq!(store.ship_audit_journal(&journal, 100).await?, 1);
    assert_eq!(store.audit_journal_shipped(&id).await?, 7);

    let records = store.audit_records(0, 100).await?;
    let order: Vec<&str> = records
        .iter()
        .map(|r| r.event.request_id.as_str())
        .collect();
    assert_eq!(
        order,
        [
            "req-1", "req-2", "req-3", "req-4", "req-5", "req-6", "req-7", "req-8"
        ]
    );
    assert_eq!(records[1].event, events[0], "shipped as journaled");
    let seqs: Vec<i64> = records.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, (1..=8).collect::<Vec<i64>>());
    let named = store
        .audit_records_for_participant("GEMJ-P-000002", 0, 100)
        .await?;
    assert_eq!(named.len(), 5, "the journal's participants are indexed");
    assert!(store.verify_chains().await?.is_intact());
    Ok(())
}

/// Two replicas' journals shipping while a third writer appends directly: one chain, every
/// event once, each journal's mark at its last row.
async fn audit_journals_ship_concurrently(store: Store) -> TestResult {
    store.migrate().await?;
    let dir = tempfile::tempdir()?;
    let mut tasks = Vec::new();
    for replica in 0..3_usize {
        let store = store.clone();
        let path = dir.path().join(format!("journal-{replica}.sqlite"));
        tasks.push(tokio::spawn(async move {
            let journal = (replica < 2)
                .then(|| AuditJournal::open(&path))
                .transpose()
                .map_err(|e| e.to_string())?;
            for b in 0..10_usize {
                let batch: Vec<AuditEvent> = (0..4)
                    .map(|i| audit_event(replica * 1_000 + b * 4 + i, &format!("r{replica}"), &[]))
                    .collect::<Result<_, _>>()
                    .map_err(|e| e.to_string())?;
                match &journal {
                    Some(journal) => {
                        journal.append(&batch).map_err(|e| e.to_string())?;
                        if b % 3 == 2 {
                            store
                                .ship_audit_journal(journal, 1024)
                                .await
                                .map_err(|e| e.to_string())?;
                        }
                    }
                    None => {
                        store
                            .append_audit(&batch)
                            .await
                            .map_err(|e| e.to_string())?;
                    }
                }
                tokio::task::yield_now().await;
            }
            if let Some(journal) = &journal {
                while store
                    .ship_audit_journal(journal, 7)
                    .await
                    .map_err(|e| e.to_string())?
                    > 0
                {}
                let mark = store
                    .audit_journal_shipped(journal.id())
                    .await
                    .map_err(|e| e.to_string())?;
                assert_eq!(mark, 40, "the mark is the journal's last row");
            }
            Ok::<_, String>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    assert_eq!(store.audit_count().await?, 120);
    let records = store.audit_records(0, 1_000).await?;
    let ids: HashSet<&str> = records
        .iter()
        .map(|r| r.event.request_id.as_str())
        .collect();
    assert_eq!(ids.len(), 120, "every event once");
    assert!(store.verify_chains().await?.is_intact());
    Ok(())
}
