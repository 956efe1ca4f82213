//! Everything this crate builds validates against the official Beacon v2.2.0 schemas (and the
//! VRS 1.3 schema they reference), shipped with the project and resolved offline.

mod common;

use std::error::Error;
use std::num::NonZeroU64;

use common::pairs;
use gemj_beacon::*;
use gemj_schemas::SchemaSet;
use serde::Serialize;
use serde_json::{Value, json};

type TestResult = Result<(), Box<dyn Error>>;

const RESPONSES: &str = "beacon-v2/v2.2.0/framework/json/responses";

fn response_doc(name: &str) -> String {
    format!("{RESPONSES}/{name}.json")
}

/// Validates `value` against the whole document `doc`, with the instance in the error.
fn check(set: &SchemaSet, doc: &str, value: &impl Serialize) -> TestResult {
    let value = serde_json::to_value(value)?;
    set.validate(doc, "", &value)
        .map_err(|errors| format!("{doc}:\n{}\n{value:#}", errors.join("\n")))?;
    Ok(())
}

/// Asserts `value` does NOT validate against `doc` (so the positive checks are not vacuous).
fn check_invalid(set: &SchemaSet, doc: &str, value: &Value) -> TestResult {
    if set.validate(doc, "", value).is_ok() {
        return Err(format!("{doc} accepted {value:#}").into());
    }
    Ok(())
}

fn term(id: &str, label: &str) -> Result<OntologyTerm, BeaconError> {
    OntologyTerm::new(id, Some(label))
}

fn individual() -> Result<Individual, BeaconError> {
    let mut individual = Individual::new("ind-0001", Sex::Female);
    let mut disease = Disease::new(term(
        "ICD10:E11.9",
        "Type 2 diabetes mellitus without complications",
    )?);
    disease.age_of_onset = Some(Age::new("P52Y")?);
    disease.family_history = Some(true);
    individual.diseases.push(disease);
    individual.diseases.push(Disease::new(term(
        "MONDO:0005148",
        "type 2 diabetes mellitus",
    )?));
    let mut seizure = PhenotypicFeature::observed(term("HP:0001250", "Seizure")?);
    seizure.onset = Some(Age::new("P3Y6M")?);
    individual.phenotypic_features.push(seizure);
    individual
        .phenotypic_features
        .push(PhenotypicFeature::excluded(term(
            "HP:0001263",
            "Global developmental delay",
        )?));
    individual.geographic_origin = Some(term("GAZ:00002747", "Japan")?);
    individual
        .info
        .insert("program".to_owned(), json!("synthetic"));
    Ok(individual)
}

fn biosample() -> Result<Biosample, BeaconError> {
    let mut biosample = Biosample::new(
        "bs-0001",
        terms::REFERENCE_SAMPLE,
        terms::SPECIMEN_FROM_ORGANISM,
    );
    biosample.individual_id = Some("ind-0001".to_owned());
    biosample.collection_date = Some(IsoDate::parse("2024-02-29")?);
    biosample.set_collection_moment(&Age::new("P40Y2M")?);
    biosample.sample_origin_detail = Some(term("UBERON:0000178", "blood")?);
    biosample.histological_diagnosis = Some(term("NCIT:C3262", "Neoplasm")?);
    biosample.notes = Some("synthetic".to_owned());
    Ok(biosample)
}

fn locus(chromosome: &str, start: u64, r: &str, a: &str) -> VariantLocus {
    VariantLocus {
        assembly: Assembly::GRCh38,
        chromosome: chromosome.to_owned(),
        start,
        reference_bases: r.to_owned(),
        alternate_bases: a.to_owned(),
    }
}

fn genomic_variation(variation: Variation) -> Result<GenomicVariation, BeaconError> {
    let mut variant = GenomicVariation::new("chr17-7674219-C-T", variation);
    let snv = locus("chr17", 7_674_219, "C", "T");
    variant.identifiers = Some(Identifiers {
        genomic_hgvs_id: genomic_hgvs_id(&snv),
        transcript_hgvs_ids: vec!["NM_000546.6:c.818G>A".to_owned()],
        protein_hgvs_ids: vec!["NP_000537.3:p.Arg273His".to_owned()],
        clinvar_variant_id: Some(ClinvarId::parse("clinvar:12366")?),
        variant_alternative_ids: vec![ExternalReference {
            id: "dbSNP:rs28934576".to_owned(),
            reference: Some("https://www.ncbi.nlm.nih.gov/snp/rs28934576".to_owned()),
            notes: None,
        }],
    });
    variant.molecular_attributes = Some(MolecularAttributes {
        gene_ids: vec!["TP53".to_owned()],
        aminoacid_changes: vec!["R273H".to_owned()],
        molecular_effects: vec![term("SO:0001583", "missense_variant")?],
    });
    let mut het = CaseLevelVariant::new("bs-0001");
    het.individual_id = Some("ind-0001".to_owned());
    het.analysis_id = Some("an-0001".to_owned());
    het.run_id = Some("run-0001".to_owned());
    het.zygosity = Some(terms::HETEROZYGOUS);
    het.allele_origin = Some(terms::GERMLINE_VARIANT);
    variant.case_level_data.push(het);
    let mut hom = CaseLevelVariant::new("bs-0002");
    hom.zygosity = Some(terms::HOMOZYGOUS);
    variant.case_level_data.push(hom);
    variant
        .frequency_in_populations
        .push(FrequencyInPopulations::new(
            "Synthetic panel",
            "https://example.org/panel",
            Some("1.0".to_owned()),
            vec![
                PopulationFrequency::new("Total", 0.0012)?,
                PopulationFrequency::new("Tohoku", 0.0)?,
            ],
        )?);
    Ok(variant)
}

fn dataset() -> Result<Dataset, BeaconError> {
    let mut dataset = Dataset::new("ds-0001", "Synthetic cohort 1");
    dataset.description = Some("Synthetic data for tests.".to_owned());
    dataset.create_date_time = Some(Timestamp::parse("2025-04-01T09:00:00Z")?);
    dataset.update_date_time = Some(Timestamp::new(
        time::macros::datetime!(2025-04-02 10:30 +09:00),
    )?);
    dataset.version = Some("1".to_owned());
    dataset.external_url = Some("https://example.org/datasets/ds-0001".to_owned());
    let mut gru = DuoDataUse::new(term("DUO:0000042", "general research use")?, "2021-02-23");
    gru.modifiers
        .push(term("DUO:0000019", "publication required")?);
    dataset.data_use_conditions = Some(DataUseConditions::new(vec![gru])?);
    Ok(dataset)
}

fn cohort() -> Result<Cohort, BeaconError> {
    let mut cohort = Cohort::new(
        "co-0001",
        "Synthetic rare disease cohort",
        CohortType::StudyDefined,
    );
    cohort.cohort_size = Some(1000);
    cohort.cohort_design = Some(term("OMIABIS:0001019", "longitudinal study design")?);
    cohort.cohort_data_types = vec![term("OBI:0000070", "genotyping assay")?];
    cohort.inclusion_criteria = Some(CohortCriteria {
        genders: vec![Sex::Female, Sex::Male],
        age_range: Some(AgeRange {
            start: Age::new("P18Y")?,
            end: Age::new("P90Y")?,
        }),
        disease_conditions: vec![Disease::new(term(
            "MONDO:0005148",
            "type 2 diabetes mellitus",
        )?)],
        phenotypic_conditions: vec![PhenotypicFeature::observed(term("HP:0001250", "Seizure")?)],
    });
    Ok(cohort)
}

fn analysis() -> Result<Analysis, BeaconError> {
    let mut analysis = Analysis::new("an-0001", IsoDate::parse("2024-05-01")?, "gatk-germline");
    analysis.pipeline_ref = Some("https://example.org/pipelines/gatk".to_owned());
    analysis.aligner = Some("bwa-mem2".to_owned());
    analysis.variant_caller = Some("GATK4.5".to_owned());
    analysis.biosample_id = Some("bs-0001".to_owned());
    analysis.individual_id = Some("ind-0001".to_owned());
    analysis.run_id = Some("run-0001".to_owned());
    Ok(analysis)
}

fn run() -> Result<Run, BeaconError> {
    let mut run = Run::new(
        "run-0001",
        "bs-0001",
        IsoDate::new(time::macros::date!(2024 - 04 - 30))?,
    );
    run.individual_id = Some("ind-0001".to_owned());
    run.library_layout = Some(LibraryLayout::Paired);
    run.library_strategy = Some("WGS".to_owned());
    run.library_selection = Some("RANDOM".to_owned());
    run.library_source = Some(term("GENEPIO:0001966", "genomic source")?);
    run.platform = Some("Illumina".to_owned());
    run.platform_model = Some(term("OBI:0002630", "Illumina NovaSeq 6000")?);
    Ok(run)
}

#[test]
fn every_record_validates_against_its_model_schema() -> TestResult {
    let set = gemj_schemas::testing::schemas();
    let path = EntryType::default_schema_path;
    check(&set, &path(EntryType::Individual), &individual()?)?;
    check(
        &set,
        &path(EntryType::Individual),
        &Individual::new("ind-min", Sex::Unknown),
    )?;
    check(&set, &path(EntryType::Biosample), &biosample()?)?;
    check(
        &set,
        &path(EntryType::Biosample),
        &Biosample::new("bs-min", terms::ABNORMAL_SAMPLE, terms::CELL_CULTURE),
    )?;
    for (chrom, start, r, a) in [
        ("chr17", 7_674_219, "C", "T"),
        ("chr1", 99, "ACGT", "A"),
        ("chrX", 1000, "A", "ACG"),
        ("chrM", 8992, "T", "G"),
        ("chr2", 50, "-", "AC"),
        ("chr3", 50, "AC", "."),
        ("chr22", 10, "ACG", "TTA"),
        ("chr5", 10, "A", "N"),
    ] {
        let l = locus(chrom, start, r, a);
        check(
            &set,
            &path(EntryType::GenomicVariant),
            &genomic_variation(Variation::legacy(&l, None)?)?,
        )?;
        check(
            &set,
            &path(EntryType::GenomicVariant),
            &GenomicVariation::new("v", Variation::vrs_allele(&l)?),
        )?;
    }
    let sv = Variation::legacy(&locus("chr7", 1000, "A", "<DEL>"), Some("DEL"));
    assert!(
        sv.is_err(),
        "symbolic alleles do not match the bases pattern"
    );
    check(&set, &path(EntryType::Dataset), &dataset()?)?;
    check(
        &set,
        &path(EntryType::Dataset),
        &Dataset::new("ds-min", "Minimal"),
    )?;
    check(&set, &path(EntryType::Cohort), &cohort()?)?;
    check(
        &set,
        &path(EntryType::Cohort),
        &Cohort::new("co-min", "Minimal", CohortType::BeaconDefined),
    )?;
    check(&set, &path(EntryType::Analysis), &analysis()?)?;
    check(&set, &path(EntryType::Run), &run()?)?;
    Ok(())
}

#[test]
fn the_model_schemas_are_not_vacuous() -> TestResult {
    let set = gemj_schemas::testing::schemas();
    let path = EntryType::default_schema_path;
    // Without the required `sex`, or with a non-CURIE term, an individual is invalid.
    check_invalid(&set, &path(EntryType::Individual), &json!({"id": "x"}))?;
    check_invalid(
        &set,
        &path(EntryType::Individual),
        &json!({"id": "x", "sex": {"id": "female"}}),
    )?;
    // A run needs a real date.
    check_invalid(
        &set,
        &path(EntryType::Run),
        &json!({"id": "r", "biosampleId": "b", "runDate": "2024-13-01"}),
    )?;
    // A legacy variation needs a VRS location.
    check_invalid(
        &set,
        &path(EntryType::GenomicVariant),
        &json!({"variantInternalId": "v", "variation": {"variantType": "SNP", "alternateBases": "A", "location": {"chr": "1"}}}),
    )?;
    Ok(())
}

fn limits() -> QueryLimits {
    QueryLimits {
        max_limit: 100,
        ..QueryLimits::default()
    }
}

/// Queries covering every echoed member: each kind, filters of each kind, datasets, schemas.
fn queries() -> Result<Vec<BeaconQuery>, BeaconError> {
    let limits = QueryLimits {
        cross_entry_variant_queries: true,
        ..limits()
    };
    let post = json!({
        "$schema": "beaconRequestBody.json",
        "meta": {
            "apiVersion": "v2.0",
            "requestedSchemas": [{"entityType": "individual", "schema": "ga4gh-beacon-individual-v2.2.0"}]
        },
        "query": {
            "requestParameters": {
                "g_variant": {"referenceName": "NC_000001.11", "start": [100, 200], "end": [300, 400], "variantType": "DEL"},
                "datasets": {"datasetIds": ["ds-0001"]}
            },
            "filters": [
                "HP:0001250",
                {"id": "NCIT:C16576", "scope": "individuals", "includeDescendantTerms": false, "similarity": "high"},
                {"id": "age", "operator": ">=", "value": "P70Y", "scope": "individual"},
                {"id": "demographic.ethnicity:asian"}
            ],
            "includeResultsetResponses": "ALL",
            "pagination": {"skip": 20, "limit": 0},
            "requestedGranularity": "record",
            "testMode": true
        }
    });
    Ok(vec![
        BeaconQuery::from_get(&[], EntryType::Dataset, &limits)?,
        BeaconQuery::from_get(
            &pairs(
                "referenceName=1&start=12344&referenceBases=A&alternateBases=G&assemblyId=hg38&requestedSchema=ga4gh-beacon-variant-v2.2.0",
            ),
            EntryType::GenomicVariant,
            &limits,
        )?,
        BeaconQuery::from_get(
            &pairs(
                "geneid=BRAF&aminoacidChange=V600E&variantMinLength=1&variantMaxLength=10&filters=HP:0001250,EFO:0009655&skip=5&limit=3",
            ),
            EntryType::GenomicVariant,
            &limits,
        )?,
        BeaconQuery::from_get(
            &pairs("allele=chr7:g.140753336A>T&mateName=chr12"),
            EntryType::GenomicVariant,
            &limits,
        )?,
        BeaconQuery::from_get(
            &pairs("allele=NM_004006.2:c.4375C>T"),
            EntryType::GenomicVariant,
            &limits,
        )?,
        BeaconQuery::from_post(&post, EntryType::Individual, &limits)?,
    ])
}

#[test]
fn every_response_validates() -> TestResult {
    let set = gemj_schemas::testing::schemas();
    let queries = queries()?;
    let beacon = "jp.example.gemj.beacon";
    let five = NonZeroU64::new(5).ok_or("5")?;
    let one = NonZeroU64::new(1).ok_or("1")?;
    let counts = [
        Count::exact(0),
        Count::exact(42),
        Count::rounded(
            10,
            Some(CountAdjustedTo::To(NonZeroU64::new(10).ok_or("10")?)),
        ),
        Count::imprecise(0, Some(CountAdjustedTo::Below(five))),
        Count::imprecise(3, CountAdjustedTo::between(one, five)),
    ];
    for query in &queries {
        for granularity in Granularity::ALL {
            let meta = ResponseMeta::new(beacon, query, granularity);
            check(
                &set,
                &response_doc("beaconBooleanResponse"),
                &BeaconBooleanResponse::new(meta.clone(), true),
            )?;
            for count in counts {
                check(
                    &set,
                    &response_doc("beaconCountResponse"),
                    &BeaconCountResponse::new(meta.clone(), count.value > 0, count),
                )?;
            }
            let sets = vec![
                ResultSet::new(
                    "ds-0001",
                    EntryType::Dataset,
                    Count::exact(1),
                    vec![individual()?],
                ),
                ResultSet::new("ds-0002", EntryType::Dataset, Count::exact(0), vec![]),
                ResultSet::new("co-0001", EntryType::Cohort, counts[3], vec![]),
            ];
            let mut with_handover =
                BeaconResultsetsResponse::new(meta.clone(), true, Some(1), sets.clone());
            with_handover.beacon_handovers.push(Handover {
                handover_type: term("EDAM:3016", "VCF")?,
                url: "https://gateway.example.org/htsget/variants/ds-0001".to_owned(),
                note: Some("htsget ticket".to_owned()),
            });
            check(
                &set,
                &response_doc("beaconResultsetsResponse"),
                &with_handover,
            )?;
            let entry = EntryResponse::new(meta.clone(), true, counts[1], sets);
            let doc = match granularity {
                Granularity::Boolean => "beaconBooleanResponse",
                Granularity::Count => "beaconCountResponse",
                Granularity::Record => "beaconResultsetsResponse",
            };
            check(&set, &response_doc(doc), &entry)?;
            check(
                &set,
                &response_doc("beaconCollectionsResponse"),
                &BeaconCollectionsResponse::new(
                    meta.clone(),
                    2,
                    vec![dataset()?, Dataset::new("ds-2", "Two")],
                ),
            )?;
            check(
                &set,
                &response_doc("beaconCollectionsResponse"),
                &BeaconCollectionsResponse::new(meta.clone(), 1, vec![cohort()?]),
            )?;
            let error = BeaconError::not_found("no such individual");
            check(
                &set,
                &response_doc("beaconErrorResponse"),
                &BeaconErrorResponse::new(meta, &error),
            )?;
        }
    }
    Ok(())
}

#[test]
fn error_responses_validate_for_requests_that_did_not_parse() -> TestResult {
    let set = gemj_schemas::testing::schemas();
    let limits = limits();
    for (query, entry_type) in [
        ("start=5&end=1&referenceName=1", EntryType::GenomicVariant),
        ("limit=101", EntryType::Individual),
        ("colour=blue", EntryType::Biosample),
    ] {
        let error = BeaconQuery::from_get(&pairs(query), entry_type, &limits)
            .err()
            .ok_or(format!("{query} parsed"))?;
        for known in [Some(entry_type), None] {
            let meta = ResponseMeta::for_unparsed("jp.example.gemj.beacon", known, &limits);
            let response = BeaconErrorResponse::new(meta, &error);
            check(&set, &response_doc("beaconErrorResponse"), &response)?;
            assert_eq!(serde_json::to_value(&response)?["error"]["errorCode"], 400);
        }
    }
    Ok(())
}

#[test]
fn the_wrapped_request_parameters_echo_is_the_one_the_schema_accepts() -> TestResult {
    let set = gemj_schemas::testing::schemas();
    let doc =
        "beacon-v2/v2.2.0/framework/json/responses/sections/beaconReceivedRequestSummary.json";
    let query = BeaconQuery::from_get(
        &pairs("referenceName=1&start=100&end=200"),
        EntryType::GenomicVariant,
        &limits(),
    )?;
    let summary = serde_json::to_value(ReceivedRequestSummary::from_query(&query))?;
    check(&set, doc, &summary)?;
    assert_eq!(
        summary["requestParameters"],
        json!({"g_variant": {"assemblyId": "GRCh38", "referenceName": "chr1", "start": [100], "end": [200]}})
    );
    // The flat shape fails `requestParameters.json` (every member must be an object).
    let mut flat = summary.clone();
    flat["requestParameters"] = summary["requestParameters"]["g_variant"].clone();
    check_invalid(&set, doc, &flat)?;
    Ok(())
}

fn framework(entry_types: &[EntryType]) -> BeaconFramework<'_> {
    BeaconFramework {
        beacon_id: "jp.example.gemj.beacon",
        base_url: "https://gateway.example.org/api/beacon/",
        entry_types,
        nested_routes: SPEC_NESTED_ROUTES,
        non_filtered_queries_allowed: &[EntryType::Dataset, EntryType::Cohort],
        production_status: ProductionStatus::Test,
        security: SecurityAttributes {
            default_granularity: Granularity::Boolean,
            security_levels: vec![
                SecurityLevel::Public,
                SecurityLevel::Registered,
                SecurityLevel::Controlled,
            ],
        },
    }
}

#[test]
fn framework_documents_validate() -> TestResult {
    let set = gemj_schemas::testing::schemas();
    let subsets: [&[EntryType]; 3] = [
        &EntryType::ALL,
        &[
            EntryType::Dataset,
            EntryType::Individual,
            EntryType::GenomicVariant,
        ],
        &[EntryType::GenomicVariant],
    ];
    for entry_types in subsets {
        let framework = framework(entry_types);
        check(
            &set,
            &response_doc("beaconConfigurationResponse"),
            &framework.configuration(),
        )?;
        check(&set, &response_doc("beaconMapResponse"), &framework.map())?;
        check(
            &set,
            &response_doc("beaconEntryTypesResponse"),
            &framework.entry_types(),
        )?;
    }

    let map = serde_json::to_value(framework(&EntryType::ALL).map())?;
    let sets = &map["response"]["endpointSets"];
    assert_eq!(sets.as_object().map(serde_json::Map::len), Some(7));
    assert_eq!(
        sets["genomicVariantEndpoints"]["endpoints"]["biosampleLookup"]["url"],
        "https://gateway.example.org/api/beacon/g_variants/{id}/biosamples"
    );
    assert_eq!(
        sets["datasetEndpoints"]["singleEntryUrl"],
        "https://gateway.example.org/api/beacon/datasets/{id}"
    );
    let configuration = serde_json::to_value(framework(&EntryType::ALL).configuration())?;
    let dataset = &configuration["response"]["entryTypes"]["dataset"];
    assert_eq!(dataset["nonFilteredQueriesAllowed"], true);
    assert_eq!(
        configuration["response"]["entryTypes"]["genomicVariant"]["nonFilteredQueriesAllowed"],
        false
    );
    assert_eq!(dataset["aCollectionOf"].as_array().map(Vec::len), Some(5));
    assert_eq!(
        configuration["response"]["entryTypes"]["run"]["defaultSchema"]["referenceToSchemaDefinition"],
        "https://raw.githubusercontent.com/ga4gh-beacon/beacon-v2/main/models/json/beacon-v2-default-model/runs/defaultSchema.json"
    );

    let mut info = BeaconInfo::new(
        "jp.example.gemj.beacon",
        "GeMJ beacon (test)",
        Environment::Test,
        BeaconOrganization {
            id: "jp.example".to_owned(),
            name: "Example Genome Centre".to_owned(),
            description: Some("Synthetic".to_owned()),
            address: None,
            welcome_url: Some("https://genome.example.org".to_owned()),
            contact_url: Some("mailto:help@genome.example.org".to_owned()),
            logo_url: None,
        },
    );
    info.description = Some("A beacon over synthetic data.".to_owned());
    info.version = Some("0.1.0".to_owned());
    info.create_date_time = Some("2025-04-01T09:00:00Z".to_owned());
    check(
        &set,
        &response_doc("beaconInfoResponse"),
        &BeaconInfoResponse::new(info.clone()),
    )?;
    info.set_implementation_notes(&limits().implementation_notes());
    let json = serde_json::to_value(BeaconInfoResponse::new(info))?;
    set.validate(&response_doc("beaconInfoResponse"), "", &json)
        .map_err(|e| e.join("\n"))?;
    assert_eq!(
        json["response"]["info"]["implementation"]["skipUnit"],
        "records"
    );
    assert_eq!(json["response"]["info"]["implementation"]["maxLimit"], 100);

    let hp = term("HP:0001250", "Seizure")?;
    let terms = vec![
        FilteringTerm::ontology(&hp, "Human Phenotype Ontology", vec![EntryType::Individual]),
        FilteringTerm::alphanumeric(
            "sex",
            Some("Sex"),
            vec![EntryType::Individual],
            vec!["female".to_owned(), "male".to_owned()],
        ),
        FilteringTerm::custom("program:rare-disease", None, vec![]),
    ];
    let resources = vec![Resource {
        id: "hp".to_owned(),
        name: Some("Human Phenotype Ontology".to_owned()),
        url: Some("https://purl.obolibrary.org/obo/hp.owl".to_owned()),
        version: Some("2025-01-01".to_owned()),
        name_space_prefix: Some("HP".to_owned()),
        iri_prefix: Some("http://purl.obolibrary.org/obo/HP_".to_owned()),
    }];
    check(
        &set,
        &response_doc("beaconFilteringTermsResponse"),
        &filtering_terms_response("jp.example.gemj.beacon", terms, resources),
    )?;
    Ok(())
}

#[test]
fn the_official_request_examples_parse_and_validate() -> TestResult {
    let set = gemj_schemas::testing::schemas();
    let examples = "beacon-v2/v2.2.0/framework/json/requests/examples-fullDocuments/";
    let mut seen = 0;
    for doc in SchemaSet::embedded_documents().filter(|d| d.starts_with(examples)) {
        let body: Value = serde_json::from_slice(&set.document_bytes(doc)?)?;
        check(
            &set,
            "beacon-v2/v2.2.0/framework/json/requests/beaconRequestBody.json",
            &body,
        )?;
        let query = BeaconQuery::from_post(&body, EntryType::Individual, &limits())
            .map_err(|e| format!("{doc}: {e}"))?;
        let meta = ResponseMeta::new("jp.example.gemj.beacon", &query, Granularity::Boolean);
        check(
            &set,
            &response_doc("beaconBooleanResponse"),
            &BeaconBooleanResponse::new(meta, false),
        )?;
        if doc.contains("MAX") {
            assert_eq!(query.dataset_ids, ["DatasetXYZ", "Dataset123"]);
            assert_eq!(query.filters.len(), 1);
            assert_eq!(query.filters[0].scope, Some(EntryType::Biosample));
            assert_eq!(query.pagination, Pagination { skip: 0, limit: 10 });
            assert_eq!(query.api_version, "2.0");
        } else {
            assert!(query.is_unfiltered());
        }
        seen += 1;
    }
    assert_eq!(seen, 2, "the MIN and MAX examples");
    Ok(())
}

#[test]
fn count_adjustments_follow_the_schema() -> TestResult {
    let set = gemj_schemas::testing::schemas();
    let doc = "beacon-v2/v2.2.0/framework/json/common/beaconCommonComponents.json";
    let five = NonZeroU64::new(5).ok_or("5")?;
    let two = NonZeroU64::new(2).ok_or("2")?;
    for adjusted in [
        CountAdjustedTo::Below(five),
        CountAdjustedTo::To(five),
        CountAdjustedTo::between(two, five).ok_or("between")?,
    ] {
        let value = serde_json::to_value(adjusted)?;
        set.validate(doc, "/$defs/CountAdjustedTo", &value)
            .map_err(|e| e.join("\n"))?;
    }
    assert_eq!(CountAdjustedTo::between(five, two), None);
    // What the non-zero bounds prevent: a 0 bound fails the schema's `minimum: 1`.
    if set
        .validate(doc, "/$defs/CountAdjustedTo", &json!([0, 4]))
        .is_ok()
    {
        return Err("[0, 4] accepted".into());
    }
    Ok(())
}
