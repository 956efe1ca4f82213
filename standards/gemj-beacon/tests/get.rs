//! GET query strings: every parameter, both spellings, the query kinds, and every error.

mod common;

use common::{accepted, assert_refused, pairs};
use gemj_beacon::*;

fn limits() -> QueryLimits {
    common::limits(3)
}

#[track_caller]
fn ok_with(query: &str, entry_type: EntryType, limits: &QueryLimits) -> BeaconQuery {
    accepted(
        &query,
        BeaconQuery::from_get(&pairs(query), entry_type, limits),
    )
}

#[track_caller]
fn ok(query: &str) -> BeaconQuery {
    ok_with(query, EntryType::GenomicVariant, &limits())
}

#[track_caller]
fn variant(query: &str) -> VariantQuery {
    match ok(query).variant {
        Some(v) => v,
        None => panic!("{query}: no variant query"),
    }
}

#[track_caller]
fn err_with(
    query: &str,
    entry_type: EntryType,
    limits: &QueryLimits,
    kind: ErrorKind,
    message: &str,
) {
    let result = BeaconQuery::from_get(&pairs(query), entry_type, limits);
    assert_refused(&query, result, kind, message);
}

#[track_caller]
fn err(query: &str, kind: ErrorKind, message: &str) {
    err_with(query, EntryType::GenomicVariant, &limits(), kind, message);
}

#[test]
fn defaults() {
    let q = ok("");
    assert_eq!(q.entry_type, EntryType::GenomicVariant);
    assert_eq!(q.api_version, "v2.2.0");
    assert_eq!(q.pagination, Pagination { skip: 0, limit: 10 });
    assert_eq!(q.requested_granularity, Granularity::Boolean);
    assert_eq!(
        q.include_resultset_responses,
        IncludeResultsetResponses::Hit
    );
    assert!(!q.test_mode);
    assert!(q.filters.is_empty());
    assert!(q.requested_schemas.is_empty());
    assert!(q.is_unfiltered());
    assert_eq!(q.range_width(), None);
    assert!(!q.has_wildcard());

    let custom = QueryLimits {
        default_limit: 25,
        default_granularity: Granularity::Count,
        ..limits()
    };
    let q = ok_with("", EntryType::Individual, &custom);
    assert_eq!(q.pagination.limit, 25);
    assert_eq!(q.requested_granularity, Granularity::Count);
}

#[test]
fn framework_parameters() {
    let q = ok(
        "skip=20&limit=5&requestedGranularity=count&includeResultsetResponses=MISS&testMode=true&requestedSchema=ga4gh-beacon-variant-v2.2.0",
    );
    assert_eq!(q.pagination, Pagination { skip: 20, limit: 5 });
    assert_eq!(q.requested_granularity, Granularity::Count);
    assert_eq!(
        q.include_resultset_responses,
        IncludeResultsetResponses::Miss
    );
    assert!(q.test_mode);
    assert_eq!(q.requested_schemas.len(), 1);
    assert_eq!(
        q.requested_schemas[0].entity_type.as_deref(),
        Some("genomicVariant")
    );
    assert_eq!(
        q.requested_schemas[0].schema.as_deref(),
        Some("ga4gh-beacon-variant-v2.2.0")
    );

    assert_eq!(ok("limit=0").pagination.limit, 100, "0 means the maximum");
    assert_eq!(ok("limit=100").pagination.limit, 100);
    assert!(!ok("testMode=false").test_mode);
    for (value, granularity) in [
        ("boolean", Granularity::Boolean),
        ("count", Granularity::Count),
        ("record", Granularity::Record),
    ] {
        assert_eq!(
            ok(&format!("requestedGranularity={value}")).requested_granularity,
            granularity
        );
    }
    for (value, include) in [
        ("ALL", IncludeResultsetResponses::All),
        ("HIT", IncludeResultsetResponses::Hit),
        ("MISS", IncludeResultsetResponses::Miss),
        ("NONE", IncludeResultsetResponses::None),
    ] {
        assert_eq!(
            ok(&format!("includeResultsetResponses={value}")).include_resultset_responses,
            include
        );
    }
    let q = ok("datasetIds=ds-1,ds-2");
    assert_eq!(q.dataset_ids, ["ds-1", "ds-2"]);
    assert!(!q.is_unfiltered());
}

#[test]
fn both_gene_and_allele_spellings() {
    assert_eq!(variant("geneId=BRAF"), variant("geneid=BRAF"));
    assert!(
        matches!(variant("geneid=BRAF").kind, VariantQueryKind::Gene { ref gene_id } if gene_id == "BRAF")
    );
    let allele = "NC_000001.11:g.12345A>G";
    assert_eq!(
        variant(&format!("allele={allele}")),
        variant(&format!("genomicAlleleShortForm={allele}"))
    );
}

#[test]
fn sequence_query() {
    let v = variant("referenceName=NC_000017.11&start=7577120&referenceBases=G&alternateBases=A");
    let VariantQueryKind::Sequence {
        reference_name,
        start,
    } = &v.kind
    else {
        panic!("{v:?}");
    };
    assert_eq!(reference_name.chromosome(), "chr17");
    assert_eq!(*start, 7_577_120);
    assert_eq!(v.assembly_id.as_deref(), Some("GRCh38"));
    assert_eq!(v.reference_bases.as_ref().map(Bases::as_str), Some("G"));
    assert_eq!(v.alternate_bases.as_ref().map(Bases::as_str), Some("A"));
    assert_eq!(v.range_width(), Some(1));
    assert!(!v.has_wildcard());
    // A deletion: empty alternate bases are allowed.
    let del = variant("referenceName=1&start=100&referenceBases=ACG&alternateBases=");
    assert_eq!(del.range_width(), Some(3));
    assert!(
        del.alternate_bases
            .as_ref()
            .is_some_and(Bases::is_empty_allele)
    );
}

#[test]
fn range_query() {
    let v = variant("assemblyId=GRCh38&referenceName=17&start=345675&end=345681");
    assert!(
        matches!(&v.kind, VariantQueryKind::Range { start: 345_675, end: 345_681, reference_name } if reference_name.chromosome() == "chr17")
    );
    assert_eq!(v.range_width(), Some(6));
    let typed = variant(
        "referenceName=refseq:NC_0000017.11&start=7669608&end=7676593&variantType=DEL&variantMinLength=1&variantMaxLength=100000",
    );
    // `NC_0000017.11` (an extra 0, from the spec's own examples) is not an accession: kept as given.
    assert_eq!(
        typed.reference_name().map(ReferenceName::chromosome),
        Some("refseq:NC_0000017.11")
    );
    assert_eq!(
        typed
            .variant_type
            .as_ref()
            .map(gemj_beacon::VariantType::class),
        Some(gemj_beacon::VariantClass::Deletion)
    );
    assert_eq!(
        (typed.variant_min_length, typed.variant_max_length),
        (Some(1), Some(100_000))
    );
    // Assembly synonyms resolve to the canonical name.
    for synonym in ["hg38", "GRCh38.p14", "GCF_000001405.40", "grch38"] {
        let v = variant(&format!(
            "assemblyId={synonym}&referenceName=chrX&start=1&end=2"
        ));
        assert_eq!(v.assembly_id.as_deref(), Some("GRCh38"), "{synonym}");
    }
}

#[test]
fn bracket_query() {
    let q = ok(
        "datasetIds=TEST&referenceName=NC_000017.11&variantType=DEL&start=5000000,7676592&end=7669607,10000000",
    );
    let v = q.variant.as_ref().expect("variant");
    assert!(matches!(
        &v.kind,
        VariantQueryKind::Bracket {
            start: [5_000_000, 7_676_592],
            end: [7_669_607, 10_000_000],
            ..
        }
    ));
    assert_eq!(q.range_width(), Some(5_000_000));
    assert_eq!(q.dataset_ids, ["TEST"]);
    // Single-sided precise matches (start[1] = start[0] + 1) are brackets too.
    assert!(matches!(
        variant("referenceName=2&start=0,54700000&end=63900000,242193529&variantType=EFO:0030070")
            .kind,
        VariantQueryKind::Bracket { .. }
    ));
    assert!(matches!(
        variant("referenceName=2&start=10,10&end=20,20").kind,
        VariantQueryKind::Bracket { .. }
    ));
}

#[test]
fn allele_and_aminoacid_queries() {
    let v = variant("allele=chr7:g.140753336A>T");
    let VariantQueryKind::Allele(Hgvs::Genomic(allele)) = &v.kind else {
        panic!("{v:?}");
    };
    assert_eq!((allele.start, allele.end), (140_753_335, 140_753_336));
    assert_eq!(
        v.assembly_id.as_deref(),
        Some("GRCh38"),
        "the only assembly served"
    );
    assert_eq!(v.range_width(), Some(1));
    let transcript = variant("allele=NM_004006.2:c.4375C>T");
    assert!(matches!(
        transcript.kind,
        VariantQueryKind::Allele(Hgvs::Other(_))
    ));
    assert_eq!(transcript.range_width(), None);
    assert_eq!(transcript.assembly_id, None);
    let gene = variant("aminoacidChange=V600E&geneId=BRAF");
    assert!(matches!(gene.kind, VariantQueryKind::Gene { .. }));
    assert_eq!(gene.aminoacid_change.as_deref(), Some("V600E"));
    assert!(matches!(
        variant("aminoacidChange=V600E").kind,
        VariantQueryKind::AminoacidChange
    ));
    let mate = variant("referenceName=chr12&start=100&end=200&mateName=refseq:NC_000022.11");
    assert_eq!(
        mate.mate_name.as_ref().map(ReferenceName::chromosome),
        Some("chr22")
    );
}

#[test]
fn wildcards() {
    for (query, wildcard) in [
        (
            "referenceName=1&start=5&referenceBases=A&alternateBases=N",
            true,
        ),
        (
            "referenceName=1&start=5&referenceBases=N&alternateBases=T",
            true,
        ),
        (
            "referenceName=1&start=5&referenceBases=A&alternateBases=ANNT",
            true,
        ),
        (
            "referenceName=1&start=5&referenceBases=A&alternateBases=R",
            true,
        ),
        (
            "referenceName=1&start=5&referenceBases=A&alternateBases=ACGTU",
            false,
        ),
        ("referenceName=1&start=5&end=9", false),
        ("allele=NC_000001.11:g.5A>N", true),
        ("allele=NC_000001.11:g.5_6insNN", true),
        ("allele=NC_000001.11:g.5A>G", false),
        ("allele=NM_004006.2:c.4375C>N", true),
        ("allele=NP_004324.2:p.Asn600Glu", false),
        ("geneId=BRAF", false),
    ] {
        assert_eq!(ok(query).has_wildcard(), wildcard, "{query}");
    }
}

#[test]
fn filters() {
    let q = ok("filters=HP:0001250, NCIT:C16576,demographic.ethnicity:asian");
    assert_eq!(q.filters.len(), 3);
    assert_eq!(
        q.filters[0],
        Filter {
            id: "HP:0001250".to_owned(),
            kind: FilterKind::Ontology {
                similarity: Similarity::Exact,
                include_descendant_terms: true
            },
            scope: None,
        }
    );
    assert_eq!(q.filters[1].id, "NCIT:C16576");
    assert_eq!(q.filters[2].kind, FilterKind::Custom);
    assert!(!q.is_unfiltered());
    // Filters are accepted on every entry type.
    assert_eq!(
        ok_with("filters=NCIT:C20197", EntryType::Individual, &limits())
            .filters
            .len(),
        1
    );
}

#[test]
fn variant_parameters_on_other_entry_types() {
    err_with(
        "referenceName=1&start=5&end=10",
        EntryType::Individual,
        &limits(),
        ErrorKind::UnknownParameter,
        "`referenceName` is a genomic variant parameter; this beacon accepts variant parameters on g_variants endpoints only, not on individuals",
    );
    let cross = QueryLimits {
        cross_entry_variant_queries: true,
        ..limits()
    };
    let q = ok_with(
        "referenceName=1&start=5&end=10",
        EntryType::Individual,
        &cross,
    );
    assert!(q.variant.is_some());
}

#[test]
fn assemblies_are_a_parameter() {
    let both = QueryLimits {
        assemblies: vec!["GRCh38".to_owned(), "GRCh37".to_owned()],
        ..limits()
    };
    let v = ok_with(
        "referenceName=NC_000001.10&start=5&end=10",
        EntryType::GenomicVariant,
        &both,
    )
    .variant;
    assert_eq!(
        v.and_then(|v| v.assembly_id).as_deref(),
        Some("GRCh37"),
        "implied by the accession"
    );
    let v = ok_with(
        "assemblyId=hg19&referenceName=1&start=5&end=10",
        EntryType::GenomicVariant,
        &both,
    )
    .variant;
    assert_eq!(v.and_then(|v| v.assembly_id).as_deref(), Some("GRCh37"));
    err_with(
        "referenceName=1&start=5&end=10",
        EntryType::GenomicVariant,
        &both,
        ErrorKind::MissingParameter,
        "a positional query needs `assemblyId`: this beacon serves GRCh38, GRCh37",
    );
    let t2t = QueryLimits {
        assemblies: vec!["T2T-CHM13v2.0".to_owned()],
        ..limits()
    };
    let v = ok_with(
        "assemblyId=t2t-chm13v2.0&referenceName=chr1&start=5&end=10",
        EntryType::GenomicVariant,
        &t2t,
    )
    .variant;
    assert_eq!(
        v.and_then(|v| v.assembly_id).as_deref(),
        Some("T2T-CHM13v2.0")
    );
    err_with(
        "referenceName=NC_000001.11&start=5&end=10",
        EntryType::GenomicVariant,
        &t2t,
        ErrorKind::UnsupportedAssembly,
        "is a GRCh38 sequence: this beacon serves T2T-CHM13v2.0",
    );
    // A gene query needs no assembly.
    let v = ok_with("geneId=TP53", EntryType::GenomicVariant, &both).variant;
    assert_eq!(v.and_then(|v| v.assembly_id), None);
}

#[test]
fn parameter_errors() {
    use ErrorKind::*;
    err(
        "colour=blue",
        UnknownParameter,
        "a query parameter this beacon does not define",
    );
    err(
        "GeneId=BRAF",
        UnknownParameter,
        "a query parameter this beacon does not define",
    );
    err(
        "start=1&start=2",
        RepeatedParameter,
        "parameter `start` is given more than once",
    );
    err(
        "geneId=A&geneid=B",
        RepeatedParameter,
        "`geneId` and `geneid` are the same parameter",
    );
    err(
        "allele=x&genomicAlleleShortForm=y",
        RepeatedParameter,
        "`allele` and `genomicAlleleShortForm` are the same parameter",
    );
    err(
        "skip=-1",
        InvalidValue,
        "`skip` must be a non-negative integer",
    );
    err(
        "skip=abc",
        InvalidValue,
        "`skip` must be a non-negative integer",
    );
    err(
        "limit=1.5",
        InvalidValue,
        "`limit` must be a non-negative integer",
    );
    err(
        "limit=101",
        LimitExceeded,
        "`limit` 101 is above this beacon's maximum of 100",
    );
    err(
        "requestedGranularity=aggregated",
        InvalidValue,
        "`requestedGranularity` must be boolean, count or record",
    );
    err(
        "requestedGranularity=RECORD",
        InvalidValue,
        "`requestedGranularity` must be boolean, count or record",
    );
    err(
        "includeResultsetResponses=hit",
        InvalidValue,
        "`includeResultsetResponses` must be HIT, MISS, ALL or NONE",
    );
    err(
        "testMode=yes",
        InvalidValue,
        "`testMode` must be true or false",
    );
    err(
        "filters=HP:1,,HP:2",
        InvalidValue,
        "`filters` has an empty item",
    );
    err(
        "filters=A:1,B:2,C:3,D:4",
        TooManyFilters,
        "too many filters: 4 (this beacon accepts at most 3)",
    );
    err(
        "datasetIds=",
        InvalidValue,
        "`datasetIds` has an empty item",
    );
    err(
        "requestedSchema=",
        InvalidValue,
        "`requestedSchema` is empty",
    );
}

#[test]
fn coordinate_errors() {
    use ErrorKind::*;
    err(
        "referenceName=1&start=200&end=100",
        InvalidRange,
        "`start` (200) must be less than `end` (100)",
    );
    err(
        "referenceName=1&start=100&end=100",
        InvalidRange,
        "`start` (100) must be less than `end` (100)",
    );
    err(
        "referenceName=1&start=-5&end=10",
        InvalidValue,
        "`start` takes 1 or 2 comma-separated non-negative integers",
    );
    err(
        "referenceName=1&start=1,2,3&end=5",
        InvalidValue,
        "`start` takes 1 or 2 non-negative integers",
    );
    err(
        "referenceName=1&start=&end=5",
        InvalidValue,
        "`start` takes 1 or 2 comma-separated non-negative integers",
    );
    err(
        "referenceName=1&start=0&end=0",
        InvalidValue,
        "`end` values are at least 1",
    );
    err(
        "referenceName=1&start=99999999999999999999&end=5",
        InvalidValue,
        "`start` takes 1 or 2",
    );
    err(
        "referenceName=1&start=1,2&end=5",
        InvalidRange,
        "need one value each (range query) or two values each (bracket query); got 2 and 1",
    );
    err(
        "referenceName=1&start=1&end=5,6",
        InvalidRange,
        "got 1 and 2",
    );
    err(
        "referenceName=1&start=1,2",
        MissingParameter,
        "a bracket query (two `start` values) needs two `end` values",
    );
    err(
        "referenceName=1&start=5,2&end=10,20",
        InvalidRange,
        "bracket query: `start` minimum (5) is greater than its maximum (2)",
    );
    err(
        "referenceName=1&start=1,2&end=20,10",
        InvalidRange,
        "bracket query: `end` minimum (20) is greater than its maximum (10)",
    );
    err(
        "referenceName=1&start=30,40&end=10,20",
        InvalidRange,
        "the smallest `start` (30) must be less than the largest `end` (20)",
    );
    err(
        "start=1&end=5",
        MissingParameter,
        "`start` needs `referenceName`",
    );
    err(
        "referenceName=1",
        MissingParameter,
        "`referenceName` needs `start`",
    );
    err(
        "referenceName=1&end=5",
        MissingParameter,
        "`end` needs `start`",
    );
    err(
        "referenceName=&start=1&end=5",
        InvalidValue,
        "`referenceName` is empty",
    );
    err(
        "referenceName=chr 1&start=1&end=5",
        InvalidValue,
        "`referenceName` is not a reference sequence name",
    );
}

#[test]
fn variant_errors() {
    use ErrorKind::*;
    err(
        "referenceName=1&start=5&referenceBases=A",
        MissingParameter,
        "a sequence query (`start` without `end`) needs `alternateBases`",
    );
    err(
        "referenceName=1&start=5&alternateBases=acgt",
        InvalidValue,
        "`alternateBases` does not match ^([ACGTUNRYSWKMBDHV\\-\\.]*)$",
    );
    err(
        "referenceName=1&start=5&alternateBases=A&referenceBases=X",
        InvalidValue,
        "`referenceBases` does not match",
    );
    err(
        "referenceName=1&start=5&end=10&assemblyId=hg17",
        UnsupportedAssembly,
        "unsupported `assemblyId`: this beacon serves GRCh38",
    );
    err(
        "referenceName=NC_000001.10&start=5&end=10",
        UnsupportedAssembly,
        "the RefSeq accession given for chr1 is a GRCh37 sequence: this beacon serves GRCh38",
    );
    err(
        "referenceName=NC_000001.10&start=5&end=10&assemblyId=GRCh38",
        UnsupportedAssembly,
        "is a GRCh37 sequence but `assemblyId` is `GRCh38`",
    );
    err(
        "referenceName=NC_000001.9&start=5&end=10",
        UnsupportedAssembly,
        "is neither the GRCh38 (NC_000001.11) nor the GRCh37 (NC_000001.10) accession of chr1",
    );
    err(
        "geneId=BRAF&referenceName=1&start=5&end=9",
        MissingParameter,
        "a position (`referenceName`, `start`, `end`) and `geneId` cannot be combined",
    );
    err(
        "geneId=BRAF&allele=NC_000001.11:g.5A>G",
        MissingParameter,
        "`geneId` and `genomicAlleleShortForm` cannot be combined",
    );
    err(
        "variantType=DEL",
        MissingParameter,
        "a variant query needs a position (`referenceName` and `start`), a `geneId`, a `genomicAlleleShortForm` or an `aminoacidChange`",
    );
    err(
        "assemblyId=GRCh38",
        MissingParameter,
        "a variant query needs a position",
    );
    err(
        "geneId=X&variantMinLength=10&variantMaxLength=5",
        InvalidRange,
        "`variantMinLength` (10) is greater than `variantMaxLength` (5)",
    );
    err(
        "geneId=X&variantMaxLength=0",
        InvalidValue,
        "`variantMaxLength` must be at least 1",
    );
    err("geneId=", InvalidValue, "`geneId` is empty");
    err(
        "allele=g.123A>G",
        InvalidAllele,
        "a genomic description needs its sequence",
    );
    err(
        "allele=NC_000001.11:g.5A>G&referenceBases=A",
        MissingParameter,
        "leave out `referenceBases` and `alternateBases`",
    );
    err(
        "referenceName=1&start=1&end=5&mateName=a,b",
        InvalidValue,
        "`mateName` is not a reference sequence name",
    );
}
