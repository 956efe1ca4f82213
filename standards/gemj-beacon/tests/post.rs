//! POST `beaconRequestBody`: both `requestParameters` shapes, filters, pagination, meta, and
//! every error; and the same query through GET and POST.

mod common;

use common::{accepted, assert_refused, pairs};
use gemj_beacon::*;
use serde_json::{Value, json};

fn limits() -> QueryLimits {
    common::limits(4)
}

#[track_caller]
fn ok(body: Value) -> BeaconQuery {
    let result = BeaconQuery::from_post(&body, EntryType::GenomicVariant, &limits());
    accepted(&body, result)
}

#[track_caller]
fn err(body: Value, kind: ErrorKind, message: &str) {
    let result = BeaconQuery::from_post(&body, EntryType::GenomicVariant, &limits());
    assert_refused(&body, result, kind, message);
}

fn query(query: Value) -> Value {
    json!({"meta": {"apiVersion": "v2.2.0"}, "query": query})
}

fn parameters(parameters: Value) -> Value {
    query(json!({"requestParameters": parameters}))
}

fn get(query: &str) -> BeaconQuery {
    let result = BeaconQuery::from_get(&pairs(query), EntryType::GenomicVariant, &limits());
    accepted(&query, result)
}

#[test]
fn flat_and_wrapped_request_parameters_are_the_same_query() {
    for (params, get_query) in [
        (
            json!({"referenceName": "NC_000017.11", "start": [7577120], "referenceBases": "G", "alternateBases": "A"}),
            "referenceName=NC_000017.11&start=7577120&referenceBases=G&alternateBases=A",
        ),
        (
            json!({"assemblyId": "GRCh38", "referenceName": "17", "start": [345675], "end": [345681]}),
            "assemblyId=GRCh38&referenceName=17&start=345675&end=345681",
        ),
        (
            json!({"referenceName": "NC_000017.11", "start": [5000000, 7676592], "end": [7669607, 10000000], "variantType": "DEL"}),
            "referenceName=NC_000017.11&start=5000000,7676592&end=7669607,10000000&variantType=DEL",
        ),
        (
            json!({"geneId": "EIF4A1", "variantType": "EFO:0030067", "variantMaxLength": 1000000}),
            "geneid=EIF4A1&variantType=EFO:0030067&variantMaxLength=1000000",
        ),
        (
            json!({"genomicAlleleShortForm": "NC_000001.11:g.12345A>G"}),
            "allele=NC_000001.11:g.12345A>G",
        ),
        (
            json!({"aminoacidChange": "V600E", "geneId": "BRAF"}),
            "aminoacidChange=V600E&geneId=BRAF",
        ),
    ] {
        let flat = ok(parameters(params.clone()));
        let wrapped = ok(parameters(json!({"g_variant": params})));
        assert!(flat.variant.is_some(), "{get_query}");
        assert_eq!(flat, wrapped, "{get_query}");
        let from_get = get(get_query);
        assert_eq!(flat.variant, from_get.variant, "{get_query}");
        // Identical queries echo identically.
        assert_eq!(
            ReceivedRequestSummary::from_query(&flat),
            ReceivedRequestSummary::from_query(&from_get),
            "{get_query}"
        );
    }
}

#[test]
fn the_summary_echoes_the_normalized_query() -> Result<(), Box<dyn std::error::Error>> {
    let q = ok(json!({
        "meta": {"apiVersion": "v2.0", "requestedSchemas": [{"entityType": "genomicVariant", "schema": "ga4gh-beacon-variant-v2.2.0"}]},
        "query": {
            "requestParameters": {"referenceName": "refseq:NC_000001.11", "start": [99], "end": [200]},
            "filters": [{"id": "age", "operator": ">=", "value": "P70Y"}, "HP:0001250"],
            "pagination": {"skip": 40, "limit": 20},
            "requestedGranularity": "count",
            "includeResultsetResponses": "ALL",
            "testMode": true
        }
    }));
    let summary = serde_json::to_value(ReceivedRequestSummary::from_query(&q))?;
    assert_eq!(
        summary,
        json!({
            "apiVersion": "v2.0",
            "requestedSchemas": [{"entityType": "genomicVariant", "schema": "ga4gh-beacon-variant-v2.2.0"}],
            "pagination": {"skip": 40, "limit": 20},
            "requestedGranularity": "count",
            "filters": ["age>=P70Y", "HP:0001250"],
            "requestParameters": {"g_variant": {"assemblyId": "GRCh38", "referenceName": "chr1", "start": [99], "end": [200]}},
            "includeResultsetResponses": "ALL",
            "testMode": true
        })
    );
    Ok(())
}

#[test]
fn datasets_restrict_the_query() {
    let q = ok(parameters(
        json!({"datasets": {"datasetIds": ["ds-1", "ds-2"]}, "g_variant": {"geneId": "TP53"}}),
    ));
    assert_eq!(q.dataset_ids, ["ds-1", "ds-2"]);
    assert!(q.variant.is_some());
    // On other entry types, datasets alone are fine.
    let body = parameters(json!({"datasets": {"datasetIds": ["ds-1"]}}));
    let q = BeaconQuery::from_post(&body, EntryType::Individual, &limits())
        .expect("datasets on individuals");
    assert_eq!(q.dataset_ids, ["ds-1"]);
}

#[test]
fn filters() {
    let q = ok(query(json!({"filters": [
        "HP:0001250",
        {"id": "NCIT:C16576", "scope": "individuals", "includeDescendantTerms": false, "similarity": "high"},
        {"id": "age", "operator": ">=", "value": "P70Y", "scope": "individual"},
        {"id": "demographic.ethnicity:asian", "scope": "cohorts"},
    ]})));
    assert_eq!(q.filters.len(), 4);
    assert_eq!(
        q.filters[0].kind,
        FilterKind::Ontology {
            similarity: Similarity::Exact,
            include_descendant_terms: true
        }
    );
    assert_eq!(
        q.filters[1],
        Filter {
            id: "NCIT:C16576".to_owned(),
            kind: FilterKind::Ontology {
                similarity: Similarity::High,
                include_descendant_terms: false
            },
            scope: Some(EntryType::Individual),
        }
    );
    assert_eq!(
        q.filters[2].kind,
        FilterKind::Alphanumeric {
            operator: Operator::GreaterOrEqual,
            value: "P70Y".to_owned()
        }
    );
    assert_eq!(q.filters[2].scope, Some(EntryType::Individual));
    assert_eq!(q.filters[3].kind, FilterKind::Custom);
    assert_eq!(q.filters[3].scope, Some(EntryType::Cohort));

    // A value without an operator is an equality.
    let q = ok(query(
        json!({"filters": [{"id": "sex", "value": "female"}]}),
    ));
    assert_eq!(
        q.filters[0].kind,
        FilterKind::Alphanumeric {
            operator: Operator::Equal,
            value: "female".to_owned()
        }
    );
    for op in ["=", "<", ">", "!", ">=", "<="] {
        let q = ok(query(
            json!({"filters": [{"id": "x", "operator": op, "value": "1"}]}),
        ));
        assert!(
            matches!(&q.filters[0].kind, FilterKind::Alphanumeric { operator, .. } if operator.as_str() == op)
        );
    }
    for similarity in ["exact", "high", "medium", "low"] {
        let q = ok(query(
            json!({"filters": [{"id": "HP:1", "similarity": similarity}]}),
        ));
        assert!(
            matches!(&q.filters[0].kind, FilterKind::Ontology { similarity: s, .. } if s.as_str() == similarity)
        );
    }
    // Scopes in any of the spellings the spec uses.
    for scope in ["genomicVariant", "g_variants", "genomicVariation"] {
        let q = ok(query(
            json!({"filters": [{"id": "SO:0001583", "scope": scope}]}),
        ));
        assert_eq!(
            q.filters[0].scope,
            Some(EntryType::GenomicVariant),
            "{scope}"
        );
    }
}

#[test]
fn filter_errors() {
    use ErrorKind::*;
    let f = |filters: Value| query(json!({ "filters": filters }));
    err(
        f(json!({"id": "HP:1"})),
        InvalidValue,
        "`query.filters` must be an array",
    );
    err(
        f(json!([42])),
        InvalidValue,
        "each item of `query.filters` must be a string or an object",
    );
    err(
        f(json!([{"operator": "=", "value": "1"}])),
        InvalidValue,
        "a filter object needs an `id`",
    );
    err(f(json!([""])), InvalidValue, "a filter id is empty");
    err(
        f(json!([{"id": "age", "operator": ">="}])),
        InvalidValue,
        "a filter has an `operator` but no `value`",
    );
    err(
        f(json!([{"id": "age", "operator": "~", "value": "1"}])),
        InvalidValue,
        "a filter's `operator` must be =, <, >, !, >= or <=",
    );
    err(
        f(json!([{"id": "age", "operator": ">", "value": 70}])),
        InvalidValue,
        "filter member `value` must be a string",
    );
    err(
        f(json!([{"id": "HP:1", "similarity": "fuzzy"}])),
        InvalidValue,
        "a filter's `similarity` must be exact, high, medium or low",
    );
    err(
        f(json!([{"id": "HP:1", "includeDescendantTerms": "yes"}])),
        InvalidValue,
        "`includeDescendantTerms` must be true or false",
    );
    err(
        f(json!([{"id": "HP:1", "scope": "patients"}])),
        InvalidValue,
        "a filter's `scope` is not an entry type",
    );
    err(
        f(json!([{"id": "HP:1", "includeDescendants": false}])),
        UnknownParameter,
        "a filter object has a member the spec does not define",
    );
    err(
        f(json!(["A:1", "B:2", "C:3", "D:4", "E:5"])),
        TooManyFilters,
        "too many filters: 5 (this beacon accepts at most 4)",
    );
}

#[test]
fn framework_members() {
    let q = ok(query(json!({
        "pagination": {"skip": 3, "limit": 7},
        "requestedGranularity": "record",
        "includeResultsetResponses": "NONE",
        "testMode": true
    })));
    assert_eq!(q.pagination, Pagination { skip: 3, limit: 7 });
    assert_eq!(q.requested_granularity, Granularity::Record);
    assert_eq!(
        q.include_resultset_responses,
        IncludeResultsetResponses::None
    );
    assert!(q.test_mode);
    assert_eq!(
        ok(query(json!({"pagination": {"limit": 0}})))
            .pagination
            .limit,
        100
    );
    assert_eq!(
        ok(query(json!({"pagination": {}}))).pagination,
        Pagination { skip: 0, limit: 10 }
    );
    // `meta` with `apiVersion` is required, as the schema says; the rest may be left out.
    assert!(ok(json!({"meta": {"apiVersion": "v2.2.0"}})).is_unfiltered());
    for version in ["v2.2.0", "2.0", "v2", "v2.0.1"] {
        assert_eq!(
            ok(json!({"meta": {"apiVersion": version}})).api_version,
            version
        );
    }
    let q = ok(
        json!({"meta": {"apiVersion": "v2.2.0", "requestedSchemas": [{"schema": "ga4gh-beacon-variant-v2.2.0"}]}}),
    );
    assert_eq!(
        q.requested_schemas[0].entity_type.as_deref(),
        Some("genomicVariant"),
        "filled from the endpoint"
    );
}

#[test]
fn body_errors() {
    use ErrorKind::*;
    err(
        json!([]),
        InvalidBody,
        "the request body must be a JSON object",
    );
    err(
        json!({"query": {"requestParameters": {"geneId": "BRAF"}}}),
        InvalidBody,
        "a beaconRequestBody needs `meta` with `apiVersion`",
    );
    err(json!({}), InvalidBody, "needs `meta`");
    err(
        json!({"meta": {}}),
        MissingParameter,
        "`meta.apiVersion` is required",
    );
    err(
        json!({"meta": {"apiVersion": "v2.2.0"}, "querry": {}}),
        UnknownParameter,
        "a request body member the spec does not define",
    );
    err(
        json!({"meta": {"apiVersion": "v2"}, "query": {}, "requestedGranularity": "record"}),
        UnknownParameter,
        "`requestedGranularity` belongs inside `query`",
    );
    err(
        json!({"meta": {"apiVersion": "v2"}, "query": {}, "pagination": {"skip": 0}}),
        UnknownParameter,
        "`pagination` belongs inside `query`",
    );
    err(
        json!({"meta": "v2"}),
        InvalidValue,
        "`meta` must be an object",
    );
    err(
        json!({"meta": {"apiVersion": "v1.0"}}),
        InvalidValue,
        "`meta.apiVersion` must be a v2 version: this beacon speaks v2.2.0",
    );
    err(
        json!({"meta": {"apiVersion": 2}}),
        InvalidValue,
        "`meta.apiVersion` must be a string",
    );
    err(
        json!({"meta": {"apiVersion": "v2", "requestedSchemas": {}}}),
        InvalidValue,
        "`meta.requestedSchemas` must be an array",
    );
    err(
        json!({"meta": {"apiVersion": "v2", "requestedSchemas": [{"schema": 1}]}}),
        InvalidValue,
        "`meta.requestedSchemas[].schema` must be a string",
    );
    err(
        json!({"meta": {"apiVersion": "v2"}, "query": []}),
        InvalidValue,
        "`query` must be an object",
    );
    err(
        query(json!({"requestParameter": {}})),
        UnknownParameter,
        "`query` has a member the spec does not define",
    );
    err(
        query(json!({"requestedGranularity": "aggregated"})),
        InvalidValue,
        "`requestedGranularity` must be boolean, count or record",
    );
    err(
        query(json!({"requestedGranularity": 2})),
        InvalidValue,
        "`query.requestedGranularity` must be a string",
    );
    err(
        query(json!({"includeResultsetResponses": "SOME"})),
        InvalidValue,
        "`includeResultsetResponses` must be HIT, MISS, ALL or NONE",
    );
    err(
        query(json!({"testMode": "true"})),
        InvalidValue,
        "`query.testMode` must be true or false",
    );
    err(
        query(json!({"pagination": {"skip": -1}})),
        InvalidValue,
        "`query.pagination.skip` must be a non-negative integer",
    );
    err(
        query(json!({"pagination": {"limit": "10"}})),
        InvalidValue,
        "`query.pagination.limit` must be a non-negative integer",
    );
    err(
        query(json!({"pagination": {"limit": 2.5}})),
        InvalidValue,
        "`query.pagination.limit` must be a non-negative integer",
    );
    err(
        query(json!({"pagination": {"limit": 101}})),
        LimitExceeded,
        "`limit` 101 is above this beacon's maximum of 100",
    );
    err(
        query(json!({"pagination": {"nextPage": "abc"}})),
        InvalidValue,
        "page tokens are not supported; use `skip` (records) and `limit`",
    );
    err(
        query(json!({"pagination": {"offset": 3}})),
        UnknownParameter,
        "`query.pagination` has a member the spec does not define",
    );
}

#[test]
fn request_parameter_errors() {
    use ErrorKind::*;
    err(
        parameters(json!([])),
        InvalidValue,
        "`query.requestParameters` must be an object",
    );
    err(
        parameters(json!({"g_variant": []})),
        InvalidValue,
        "`query.requestParameters.g_variant` must be an object",
    );
    err(
        parameters(json!({"g_variant": {"geneId": "BRAF"}, "referenceName": "1"})),
        InvalidValue,
        "mixes the flat form (`referenceName`) and the `g_variant` form",
    );
    err(
        parameters(json!({"referenceNam": "1"})),
        UnknownParameter,
        "`requestParameters` has a member the spec does not define",
    );
    err(
        parameters(json!({"g_variant": {"chrom": "1"}})),
        UnknownParameter,
        "`g_variant` has a member the spec does not define",
    );
    err(
        parameters(json!({"geneid": "BRAF"})),
        UnknownParameter,
        "has a member the spec does not define (POST uses `geneId`)",
    );
    err(
        parameters(json!({"allele": "x"})),
        UnknownParameter,
        "(POST uses `genomicAlleleShortForm`)",
    );
    err(
        parameters(json!({"individuals": {"id": "x"}})),
        UnknownParameter,
        "`requestParameters` has a member the spec does not define",
    );
    err(
        parameters(json!({"referenceName": 17, "start": [1], "end": [2]})),
        InvalidValue,
        "`query.requestParameters.referenceName` must be a string",
    );
    err(
        parameters(json!({"referenceName": "17", "start": 1, "end": [2]})),
        InvalidValue,
        "`query.requestParameters.start` must be an array of 1 or 2 non-negative integers",
    );
    err(
        parameters(json!({"g_variant": {"referenceName": "17", "start": ["1"], "end": [2]}})),
        InvalidValue,
        "`query.requestParameters.g_variant.start` must be an array of 1 or 2 non-negative integers",
    );
    err(
        parameters(json!({"referenceName": "17", "start": [-1], "end": [2]})),
        InvalidValue,
        "must be an array of 1 or 2 non-negative integers",
    );
    err(
        parameters(json!({"referenceName": "17", "start": [], "end": [2]})),
        InvalidValue,
        "`start` takes 1 or 2 non-negative integers",
    );
    err(
        parameters(json!({"referenceName": "17", "start": [1, 2, 3], "end": [2]})),
        InvalidValue,
        "takes 1 or 2 non-negative integers",
    );
    err(
        parameters(json!({"referenceName": "17", "start": [10], "end": [5]})),
        InvalidRange,
        "`start` (10) must be less than `end` (5)",
    );
    err(
        parameters(json!({"variantMinLength": -3, "geneId": "X"})),
        InvalidValue,
        "`query.requestParameters.variantMinLength` must be a non-negative integer",
    );
    err(
        parameters(json!({"datasets": {"datasetIds": "ds-1"}})),
        InvalidValue,
        "`datasets.datasetIds` must be an array of strings",
    );
    err(
        parameters(json!({"datasets": {"datasetIds": [""]}})),
        InvalidValue,
        "must be an array of non-empty strings",
    );
    err(
        parameters(json!({"datasets": {"ids": []}})),
        UnknownParameter,
        "`query.requestParameters.datasets` has a member other than `datasetIds`",
    );
    err(
        parameters(json!({"datasetIds": ["x"]})),
        UnknownParameter,
        "use `\"datasets\": {\"datasetIds\": [...]}`",
    );
    let body = parameters(json!({"g_variant": {"geneId": "BRAF"}}));
    let e = BeaconQuery::from_post(&body, EntryType::Biosample, &limits())
        .expect_err("variant on biosamples");
    assert_eq!(e.kind, UnknownParameter);
    assert!(e.message.contains("not on biosamples"), "{}", e.message);
}

/// No error repeats what the caller sent: a marker put in names and values never comes back.
#[test]
fn errors_do_not_echo_the_callers_input() {
    let m = "ZQX<b>marker</b>";
    let bodies = [
        json!({"meta": {"apiVersion": "v2"}, m: 1}),
        json!({"meta": {"apiVersion": m}}),
        json!({"meta": {"apiVersion": "v2"}, "query": {m: 1}}),
        json!({"meta": {"apiVersion": "v2"}, "query": {"requestedGranularity": m}}),
        json!({"meta": {"apiVersion": "v2"}, "query": {"includeResultsetResponses": m}}),
        json!({"meta": {"apiVersion": "v2"}, "query": {"pagination": {m: 1}}}),
        json!({"meta": {"apiVersion": "v2"}, "query": {"pagination": {"limit": m}}}),
        json!({"meta": {"apiVersion": "v2"}, "query": {"filters": [{"id": "HP:1", m: 1}]}}),
        json!({"meta": {"apiVersion": "v2"}, "query": {"filters": [{"id": "HP:1", "similarity": m}]}}),
        parameters(json!({m: 1})),
        parameters(json!({"g_variant": {m: 1}})),
        parameters(json!({"referenceName": m, "start": [1]})),
        parameters(json!({"referenceName": "1", "start": [m]})),
        parameters(json!({"referenceName": "1", "start": [1], "referenceBases": m})),
        parameters(json!({"referenceName": "1", "start": [1], "variantType": m})),
        parameters(json!({"genomicAlleleShortForm": m})),
        parameters(json!({"datasets": {m: 1}})),
    ];
    for body in bodies {
        let e = BeaconQuery::from_post(&body, EntryType::GenomicVariant, &limits())
            .expect_err("refused");
        assert!(!e.message.contains("ZQX"), "{body}: {}", e.message);
    }
    for q in [
        format!("{m}=1"),
        format!("skip={m}"),
        format!("requestedGranularity={m}"),
        format!("referenceName={m}&start=1"),
        format!("referenceName=1&start={m}"),
        format!("referenceName=1&start=1&variantType={m}"),
        format!("testMode={m}"),
    ] {
        let e = BeaconQuery::from_get(&pairs(&q), EntryType::GenomicVariant, &limits())
            .expect_err("refused");
        assert!(!e.message.contains("ZQX"), "{q}: {}", e.message);
    }
}
