//! The 17 Genomics Operations over the variant store.
//!
//! Subject operations answer for one participant the caller may see (anyone else is an
//! unknown subject, 404), from the variant index: a row holds the participant when its
//! carrier bitmap holds the participant's ordinal, and the specimens it was called in are its
//! `callsets` among the participant's specimens. Ranges and variants are read in the IG's
//! syntaxes; a RefSeq accession of another genome build is answered 422 "Failed LiftOver"
//! (the gateway does not lift over), never a silent absence. Population operations are Beacon
//! queries of the caller: counts under Beacon's privacy rules at the caller's level, patients
//! listed only where Beacon would list them (record granularity).
//!
//! Each Variant carries what the store keeps about the call and the allele (migration 0009):
//! the allele fraction and allelic read depth of the call in the Observation's specimen, the
//! zygosity of a germline call (from its genotype's copies and ploidy), the gene, dbSNP/COSMIC/
//! ClinVar ids and the representative coding and protein HGVS. Coding and protein HGVS and ids
//! find variants through the names the annotations gave them. Molecular consequences (one per
//! transcript effect, Sequence Ontology coded where the term is known), diagnostic implications
//! (ClinVar's significance and conditions) and therapeutic implications (ClinVar's drug
//! responses) are Observations derived from the Variant, as is a diploid germline call's
//! Genotype (an HGVS genotype), which `$find-subject-haplotypes` answers per gene.
//!
//! Star alleles of CYP2C19 and CYP2C9 are Haplotypes called from their core variants
//! ([`super::pgx`], CPIC's definitions): a germline call of the core variant is the allele,
//! derived from the Variant; no diplotype is called. What the store does not hold is not
//! invented: an allele the table does not define is refused with 422, and a variant without
//! annotations has no consequence or implication.

use std::collections::{BTreeMap, HashMap};

use gemj_beacon::{Assembly, EntryType, Hgvs, ReferenceName};
use gemj_fhir::genomics::{self, OperationInput, Range, VariantSpec};
use gemj_fhir::search::{DateRange, Prefix};
use gemj_fhir::{FhirError, IssueCode};
use gemj_model::variant::AlleleNotes;
use gemj_model::{ParticipantId, Specimen, VariantKey};
use gemj_store::{CallRow, VariantRow};
use serde_json::{Value, json};

use super::resources::short_hash;
use super::{Compartments, FhirFailure, FhirService, Returned};
use crate::access::{Principal, RequestContext, Verdicts};
use crate::beacon::{genomic_allele_anchor, genomic_allele_matches};

/// An operation call: the operation and its validated inputs.
pub type OperationCall = OperationInput;

/// A variant of a participant, with its IG Variant Observation and the Observations derived
/// from what the store holds about it.
#[derive(Debug, Clone)]
pub(crate) struct FoundVariant {
    pub(crate) observation: Value,
    /// Molecular consequences (one per transcript effect).
    pub(crate) consequences: Vec<Value>,
    /// Diagnostic implications (ClinVar's significance, with its conditions).
    pub(crate) diagnostic: Vec<Value>,
    /// Therapeutic implications (ClinVar's drug responses).
    pub(crate) therapeutic: Vec<Value>,
    /// The germline call's Genotype, as an HGVS genotype, when it can be written.
    pub(crate) genotype: Option<Value>,
    /// The star allele whose core variant the germline call is ([`super::pgx`]).
    pub(crate) haplotype: Option<Value>,
}

impl FoundVariant {
    /// Every Observation: the Variant, then what derives from it.
    pub(crate) fn into_observations(self) -> impl Iterator<Item = Value> {
        std::iter::once(self.observation)
            .chain(self.consequences)
            .chain(self.diagnostic)
            .chain(self.therapeutic)
            .chain(self.genotype)
            .chain(self.haplotype)
    }
}

/// How the subject's variants are narrowed.
#[derive(Debug, Default, Clone)]
pub(crate) struct Narrowing {
    /// Keep only rows found in these ranges (chromosome, 1-based inclusive first and last
    /// positions to read), with the overlap rule.
    ranges: Vec<(String, u64, u64, RangeRule)>,
    /// Exact alleles.
    alleles: Vec<VariantKey>,
    /// Genomic HGVS indels, matched by shape at their anchor.
    shapes: Vec<gemj_beacon::GenomicAllele>,
    specimens: Vec<String>,
    source_class: Option<&'static str>,
    tests: Vec<String>,
    test_dates: Vec<(Prefix, DateRange)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RangeRule {
    /// The variant starts in the range.
    Starts { start0: u64, end0: u64 },
    /// The variant's reference span overlaps the range.
    Intersects { start0: u64, end0: u64 },
    /// The variant's reference span contains the range.
    Subsumes { start0: u64, end0: u64 },
}

/// The longest reference allele an intersecting or subsuming search looks back for.
const LOOKBACK: u64 = 10_000;

const SOMATIC: (&str, &str) = ("LA6684-0", "Somatic");
const GERMLINE: (&str, &str) = ("LA6683-2", "Germline");

fn lift_over_failed(param: &str, text: &str, assembly: &str) -> FhirError {
    FhirError::unprocessable(
        IssueCode::Processing,
        format!(
            "Failed LiftOver: {text} is not on {assembly}, the build of the stored variants, and this server does not lift over"
        ),
    )
    .with_expression(param)
}

/// A reference sequence of the IG (a RefSeq accession, or `chrN`) as the store's chromosome.
fn chromosome(
    service: &FhirService,
    param: &str,
    sequence: &str,
    text: &str,
) -> Result<String, FhirError> {
    let ours = Assembly::parse(&service.settings.assembly);
    match ReferenceName::parse(sequence) {
        Ok(name) => {
            if let (Some(theirs), Some(ours)) = (name.assembly(), ours)
                && theirs != ours
            {
                return Err(lift_over_failed(param, text, ours.as_str()));
            }
            Ok(name.chromosome().to_owned())
        }
        Err(e) if e.to_string().contains("neither") => {
            Err(lift_over_failed(param, text, &service.settings.assembly))
        }
        Err(_) => Err(FhirError::bad_request(
            IssueCode::Value,
            param,
            format!(
                "{text:?} does not name a reference sequence (a RefSeq accession such as NC_000017.11)"
            ),
        )),
    }
}

/// How a variant item is found.
#[derive(Debug, Clone)]
enum Lookup {
    /// These exact alleles.
    Alleles(Vec<VariantKey>),
    /// The alleles the store knows by this name (an id, or coding or protein HGVS).
    Named(String),
    /// The stored alleles a genomic HGVS indel describes.
    Shape(gemj_beacon::GenomicAllele),
}

/// How a variant notation is found: its exact alleles (several for SPDI indels, which may match
/// VCF's anchored spelling), the shape of a genomic HGVS indel, or the name the store's
/// annotations know it by.
fn lookup_of(service: &FhirService, spec: &VariantSpec, text: &str) -> Result<Lookup, FhirError> {
    let key = |chrom: String, pos: u64, reference: &str, alternate: &str| -> Option<VariantKey> {
        VariantKey::parse(&chrom, u32::try_from(pos).ok()?, reference, alternate).ok()
    };
    match spec {
        VariantSpec::CodingHgvs(h) => {
            // `NM_000546.6(TP53):c.524G>A` names the same as `NM_000546.6:c.524G>A`.
            let name = match (h.find('('), h.find(')')) {
                (Some(open), Some(close)) if open < close && h[close + 1..].starts_with(':') => {
                    format!("{}{}", &h[..open], &h[close + 1..])
                }
                _ => h.clone(),
            };
            Ok(Lookup::Named(name))
        }
        VariantSpec::Identifier(id) => Ok(Lookup::Named(match id.split_once(':') {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("clinvar") => rest.to_owned(),
            _ => format!("rs{}", &id[2..]),
        })),
        VariantSpec::Vcf {
            chrom,
            position,
            reference,
            alternate,
        } => {
            let chrom = chromosome(service, "variants", chrom, text)?;
            Ok(Lookup::Alleles(
                key(chrom, *position, reference, alternate)
                    .into_iter()
                    .collect(),
            ))
        }
        VariantSpec::Spdi {
            sequence,
            position,
            deleted,
            inserted,
        } => {
            let chrom = chromosome(service, "variants", sequence, text)?;
            if deleted.bytes().all(|b| b.is_ascii_digit()) && !deleted.is_empty() {
                return Err(FhirError::unprocessable(
                    IssueCode::NotSupported,
                    format!("{text}: give the deleted sequence, not its length"),
                )
                .with_expression("variants"));
            }
            let mut out: Vec<VariantKey> = key(chrom.clone(), position + 1, deleted, inserted)
                .into_iter()
                .collect();
            if deleted.is_empty() || inserted.is_empty() {
                // VCF writes an indel with the base before it: any anchor base.
                for anchor in ["A", "C", "G", "T", "N"] {
                    out.extend(key(
                        chrom.clone(),
                        *position,
                        &format!("{anchor}{deleted}"),
                        &format!("{anchor}{inserted}"),
                    ));
                }
            }
            Ok(Lookup::Alleles(out))
        }
        VariantSpec::GenomicHgvs(h) => match Hgvs::parse(h) {
            Ok(Hgvs::Genomic(allele)) => {
                let name = &allele.reference_name;
                if let (Some(theirs), Some(ours)) =
                    (name.assembly(), Assembly::parse(&service.settings.assembly))
                    && theirs != ours
                {
                    return Err(lift_over_failed("variants", text, ours.as_str()));
                }
                match &allele.change {
                    gemj_beacon::AlleleChange::Substitution {
                        reference,
                        alternate,
                    } => Ok(Lookup::Alleles(
                        key(
                            name.chromosome().to_owned(),
                            allele.start + 1,
                            reference,
                            alternate,
                        )
                        .into_iter()
                        .collect(),
                    )),
                    // Deletions, insertions, duplications and delins are found by their shape
                    // at the base VCF anchors them on, as Beacon finds them (the bases they
                    // remove need not be stated).
                    _ => Ok(Lookup::Shape(allele.clone())),
                }
            }
            Ok(Hgvs::Other(_)) | Err(_) => {
                if h.contains("NC_")
                    && ReferenceName::parse(h.split(':').next().unwrap_or("")).is_err()
                {
                    return Err(lift_over_failed(
                        "variants",
                        text,
                        &service.settings.assembly,
                    ));
                }
                Err(FhirError::bad_request(
                    IssueCode::Value,
                    "variants",
                    format!("{text:?} is not genomic HGVS this server reads"),
                ))
            }
        },
    }
}

impl Narrowing {
    /// These filters, finding one variant item: its alleles, or those its name resolves to in
    /// the subject's datasets. A name none of them knows is 422: the store cannot say whether
    /// the subject has a variant it cannot place (never a made-up absence).
    async fn looking_up(
        self,
        service: &FhirService,
        c: &Compartments,
        p: &ParticipantId,
        (text, lookup): (&str, &Lookup),
    ) -> Result<Self, FhirFailure> {
        let alleles = match lookup {
            Lookup::Alleles(alleles) => alleles.clone(),
            Lookup::Shape(allele) => {
                return Ok(Self {
                    shapes: vec![allele.clone()],
                    ..self
                });
            }
            Lookup::Named(name) => {
                let mut keys = Vec::new();
                if let Some(seen) = c.participants.get(p) {
                    for dataset in &seen.datasets {
                        keys.extend(service.core.store.variants_named(dataset, name).await?);
                    }
                }
                if keys.is_empty() {
                    return Err(FhirError::unprocessable(
                        IssueCode::NotFound,
                        format!("{text}: no variant annotation of the subject's data knows this name, so it cannot be placed; give the genomic allele (SPDI, genomic HGVS or chrom-pos-ref-alt)"),
                    )
                    .with_expression("variants")
                    .into());
                }
                keys.sort();
                keys.dedup();
                keys
            }
        };
        Ok(Self { alleles, ..self })
    }
}

/// A search token without its system (`http://www.sequenceontology.org|SO:0001583` → `SO:0001583`).
fn token_code(token: &str) -> &str {
    token
        .rsplit_once('|')
        .map_or(token, |(_, code)| code)
        .trim()
}

/// The answers of the implication and consequence operations: the Observations derived from
/// the subject's variants (those the `variants` and `ranges` items find, or all of them),
/// kept by the operation's own filter, each followed by the Variants they derive from.
async fn derived_answers(
    service: &FhirService,
    c: &Compartments,
    p: &ParticipantId,
    input: &OperationInput,
    filters: &Narrowing,
    variants: &[(String, Lookup)],
    ranges: &[(Range, String)],
) -> Result<Vec<Value>, FhirFailure> {
    let mut found: Vec<FoundVariant> = Vec::new();
    let mut narrowings: Vec<Narrowing> = Vec::new();
    for (text, lookup) in variants {
        narrowings.push(
            filters
                .clone()
                .looking_up(service, c, p, (text, lookup))
                .await?,
        );
    }
    for (range, chrom) in ranges {
        let (start0, end0) = (range.start, range.end);
        narrowings.push(Narrowing {
            ranges: vec![(
                chrom.clone(),
                (start0 + 1).saturating_sub(LOOKBACK).max(1),
                end0,
                RangeRule::Intersects { start0, end0 },
            )],
            ..filters.clone()
        });
    }
    if narrowings.is_empty() {
        narrowings.push(filters.clone());
    }
    for n in &narrowings {
        for f in variants_of(service, c, p, Some(n)).await? {
            if !found
                .iter()
                .any(|g| g.observation["id"] == f.observation["id"])
            {
                found.push(f);
            }
        }
    }
    let (name, pick, keep) = implication_filter(input);
    let kept = found.iter().flat_map(|f| {
        pick(f)
            .iter()
            .filter(|o| keep(o))
            .map(move |o| (o.clone(), f.observation.clone()))
    });
    let mut out = Vec::new();
    let mut variants_out: Vec<Value> = Vec::new();
    for (derived, variant) in kept {
        out.push(json!({"name": name, "resource": derived}));
        if !variants_out.iter().any(|v| v["id"] == variant["id"]) {
            variants_out.push(variant);
        }
    }
    out.extend(
        variants_out
            .into_iter()
            .map(|v| json!({"name": "variant", "resource": v})),
    );
    Ok(out)
}

/// The derived Observations of a [`FoundVariant`] that an operation answers.
type Pick = fn(&FoundVariant) -> &[Value];
/// An operation's own filter on them.
type Keep<'a> = Box<dyn Fn(&Value) -> bool + 'a>;

/// Which derived Observations an implication or consequence operation answers (its part name
/// and their list in a [`FoundVariant`]), and its own filter on them (`featureConsequences`,
/// `conditions`, `treatments`), for the subject and population operations alike.
fn implication_filter(input: &OperationInput) -> (&'static str, Pick, Keep<'_>) {
    fn text_of(o: &Value, code: &str) -> Vec<String> {
        o["component"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|c| c["code"]["coding"][0]["code"] == code)
            .flat_map(|c| {
                let v = &c["valueCodeableConcept"];
                [
                    v["text"].as_str(),
                    v["coding"][0]["code"].as_str(),
                    v["coding"][0]["display"].as_str(),
                ]
            })
            .flatten()
            .map(str::to_lowercase)
            .collect()
    }
    fn matches(o: &Value, code: &str, wanted: &[String]) -> bool {
        wanted.is_empty()
            || text_of(o, code)
                .iter()
                .any(|t| wanted.iter().any(|w| t == w || t.contains(w.as_str())))
    }
    let wanted = |param: &str| -> Vec<String> {
        input
            .texts(param)
            .iter()
            .map(|t| token_code(t).to_lowercase())
            .collect()
    };
    match input.name {
        "find-subject-molecular-consequences" | "find-population-molecular-consequences" => {
            let w = wanted("featureConsequences");
            (
                "consequence",
                |f| &f.consequences,
                Box::new(move |o| matches(o, "feature-consequence", &w)),
            )
        }
        "find-subject-dx-implications" | "find-population-dx-implications" => {
            let w = wanted("conditions");
            (
                "implication",
                |f| &f.diagnostic,
                Box::new(move |o| matches(o, "81259-4", &w)),
            )
        }
        _ => {
            let (w, conditions) = (wanted("treatments"), wanted("conditions"));
            (
                "implication",
                |f| &f.therapeutic,
                Box::new(move |o| matches(o, "51963-7", &w) && matches(o, "51963-7", &conditions)),
            )
        }
    }
}

fn narrowing_filters(input: &OperationInput) -> Result<Narrowing, FhirError> {
    let source_class = match input.text("genomicSourceClass") {
        None => None,
        Some(s) => Some(match s.to_ascii_lowercase().as_str() {
            "somatic" | "la6684-0" => SOMATIC.0,
            "germline" | "la6683-2" => GERMLINE.0,
            _ => {
                return Err(FhirError::bad_request(
                    IssueCode::Value,
                    "genomicSourceClass",
                    "genomicSourceClass is somatic (LA6684-0) or germline (LA6683-2)",
                ));
            }
        }),
    };
    Ok(Narrowing {
        specimens: input.texts("specimenIdentifiers"),
        tests: input.texts("testIdentifiers"),
        test_dates: input.dates("testDateRange"),
        source_class,
        ..Narrowing::default()
    })
}

/// The participant's variants (all, or narrowed), each with its Observation.
pub(crate) async fn variants_of(
    service: &FhirService,
    c: &Compartments,
    p: &ParticipantId,
    narrowing: Option<&Narrowing>,
) -> Result<Vec<FoundVariant>, FhirFailure> {
    let Some(seen) = c.participants.get(p) else {
        return Ok(Vec::new());
    };
    let index = service.beacon.index().await?;
    let Some(person) = index.person_by_id(p.as_str()) else {
        return Ok(Vec::new());
    };
    let ordinal = person.ordinal;
    let specimens: Vec<&Specimen> = index.specimens_of(ordinal);
    let store = &service.core.store;
    let limit = service.settings.max_variants_scanned;
    let mut rows: BTreeMap<VariantKey, VariantRow> = BTreeMap::new();
    for dataset in &seen.datasets {
        let mut found: Vec<VariantRow> = Vec::new();
        match narrowing {
            Some(n) if !n.alleles.is_empty() => {
                for key in &n.alleles {
                    found.extend(store.variant_exact(dataset, key).await?);
                }
            }
            Some(n) if !n.shapes.is_empty() => {
                for allele in &n.shapes {
                    let anchor = u32::try_from(genomic_allele_anchor(allele)).unwrap_or(u32::MAX);
                    let chrom = allele.reference_name.chromosome();
                    found.extend(
                        store
                            .variants_in_range(dataset, chrom, anchor, anchor, limit)
                            .await?
                            .into_iter()
                            .filter(|r| genomic_allele_matches(allele, &r.key)),
                    );
                }
            }
            Some(n) if !n.ranges.is_empty() => {
                for (chrom, first, last, _) in &n.ranges {
                    let first = u32::try_from(*first).unwrap_or(u32::MAX);
                    let last = u32::try_from(*last).unwrap_or(u32::MAX);
                    found.extend(
                        store
                            .variants_in_range(dataset, chrom, first, last, limit)
                            .await?,
                    );
                }
            }
            _ => found = store.variants_of_dataset(dataset, limit).await?,
        }
        for row in found {
            if !row.carriers.contains(ordinal) {
                continue;
            }
            rows.entry(row.key.clone())
                .and_modify(|r| {
                    if let (Some(a), Some(b)) = (&mut r.callsets, &row.callsets) {
                        *a |= b;
                    }
                })
                .or_insert(row);
        }
    }
    // Each kept allele's calls in the participant's specimens, and what the store holds about
    // it, read per dataset and chromosome over the span of the kept alleles.
    let mut spans: BTreeMap<&str, (u32, u32)> = BTreeMap::new();
    for key in rows.keys() {
        let span = spans
            .entry(key.chrom.as_str())
            .or_insert((key.pos, key.pos));
        span.0 = span.0.min(key.pos);
        span.1 = span.1.max(key.pos);
    }
    let specimen_ordinals: Vec<u32> = specimens
        .iter()
        .filter_map(|s| index.specimen_ordinal(s.id.as_str()))
        .collect();
    let mut calls: HashMap<VariantKey, Vec<CallRow>> = HashMap::new();
    let mut notes: HashMap<VariantKey, AlleleNotes> = HashMap::new();
    for dataset in &seen.datasets {
        for (chrom, span) in &spans {
            for call in store
                .calls_of_specimens(dataset, &specimen_ordinals, chrom, *span)
                .await?
            {
                if rows.contains_key(&call.key) {
                    calls.entry(call.key.clone()).or_default().push(call);
                }
            }
            for (key, n) in store.variant_notes(dataset, chrom, *span).await? {
                if rows.contains_key(&key) {
                    notes.entry(key).or_insert(n);
                }
            }
        }
    }
    // The star-allele table is on GRCh38: another build's positions name other bases.
    let star_alleles = Assembly::parse(&service.settings.assembly) == Some(Assembly::GRCh38);
    let mut out = Vec::new();
    for (key, row) in rows {
        let called: Vec<&Specimen> = match &row.callsets {
            Some(callsets) => specimens
                .iter()
                .copied()
                .filter(|s| {
                    index
                        .specimen_ordinal(s.id.as_str())
                        .is_some_and(|o| callsets.contains(o))
                })
                .collect(),
            None => Vec::new(),
        };
        let source = (!called.is_empty()).then(|| {
            if called.iter().any(|s| s.tumour == Some(true)) {
                SOMATIC
            } else {
                GERMLINE
            }
        });
        if let Some(n) = narrowing {
            if !n.ranges.is_empty()
                && !n.ranges.iter().any(|(chrom, _, _, rule)| {
                    chrom.as_str() == key.chrom.as_str() && in_range(&key, *rule)
                })
            {
                continue;
            }
            if !n.specimens.is_empty()
                && !called
                    .iter()
                    .any(|s| n.specimens.iter().any(|x| x == s.id.as_str()))
            {
                continue;
            }
            if let Some(class) = n.source_class
                && source.map(|s| s.0) != Some(class)
            {
                continue;
            }
            if !n.tests.is_empty() || !n.test_dates.is_empty() {
                let analyses: Vec<&gemj_model::Analysis> = called
                    .iter()
                    .flat_map(|s| index.runs_of(s.id.as_str()))
                    .flat_map(|r| index.analyses_of_run(r.id.as_str()))
                    .collect();
                let ok = analyses.iter().any(|a| {
                    (n.tests.is_empty() || n.tests.iter().any(|t| t == a.id.as_str()))
                        && n.test_dates.iter().all(|(prefix, range)| {
                            a.analysis_date
                                .and_then(|d| DateRange::parse(&d.to_string()))
                                .is_some_and(|d| range.matches(*prefix, &d))
                        })
                });
                if !ok {
                    continue;
                }
            }
        }
        let notes = notes.remove(&key).unwrap_or_default();
        // The call in the specimen the Observation names (the tumour's for a somatic variant).
        let calls = calls.remove(&key).unwrap_or_default();
        let call = called
            .first()
            .and_then(|s| index.specimen_ordinal(s.id.as_str()))
            .and_then(|o| calls.iter().find(|c| c.specimen == o))
            .or_else(|| calls.first());
        let observation = variant_observation(p, &key, &called, source, call, &notes);
        let mut found = derived(p.as_str(), observation, &notes);
        if source != Some(SOMATIC)
            && let Some(call) = call
        {
            found.genotype = genotype(p, &found.observation, &key, call, &notes);
            if star_alleles {
                found.haplotype = haplotype(p, &found.observation, &key, call);
            }
        }
        out.push(found);
    }
    Ok(out)
}

/// The Observations derived from a Variant: a molecular consequence per transcript effect,
/// a diagnostic implication for ClinVar's significance, a therapeutic implication for its drug
/// responses. Each names the Variant in `derivedFrom`.
fn derived(p: &str, observation: Value, notes: &AlleleNotes) -> FoundVariant {
    let variant_id = observation["id"].as_str().unwrap_or_default().to_owned();
    let base = |id: String, profile: &str, code: &str| {
        json!({
            "resourceType": "Observation",
            "id": id,
            "meta": {"profile": [profile]},
            "status": "final",
            "category": [
                {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}]},
                {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "GE"}]}
            ],
            "code": {"coding": [{"system": TBD_CODES, "code": code}]},
            "subject": {"reference": format!("Patient/{p}")},
            "derivedFrom": [{"reference": format!("Observation/{variant_id}")}],
        })
    };
    let mut consequences = Vec::new();
    for (n, e) in notes.effects.iter().enumerate() {
        let mut components = effect_components(e);
        for term in &e.consequences {
            components.push(
                json!({"code": {"coding": [{"system": TBD_CODES, "code": "feature-consequence"}]},
                "valueCodeableConcept": consequence_concept(term)}),
            );
        }
        if components.is_empty() {
            continue;
        }
        let mut o = base(
            format!("{variant_id}.mc{n}"),
            gemj_fhir::profiles::MOLECULAR_CONSEQUENCE,
            "molecular-consequence",
        );
        o["component"] = Value::Array(components);
        consequences.push(o);
    }
    let phenotypes: Vec<Value> = notes
        .conditions
        .iter()
        .map(|c| json!({"code": loinc("81259-4", "Associated phenotype"), "valueCodeableConcept": {"text": c}}))
        .collect();
    let mut diagnostic = Vec::new();
    if let Some((code, display)) = notes
        .clinical_significance
        .iter()
        .find_map(|t| genomics::clinical_significance(t))
    {
        let mut o = base(
            format!("{variant_id}.dx"),
            gemj_fhir::profiles::DIAGNOSTIC_IMPLICATION,
            "diagnostic-implication",
        );
        let mut components = vec![
            json!({"code": loinc("53037-8", "Genetic variation clinical significance [Imp]"),
            "valueCodeableConcept": {"coding": [{"system": "http://loinc.org", "code": code, "display": display}]}}),
        ];
        components.extend(phenotypes.iter().cloned());
        o["component"] = Value::Array(components);
        diagnostic.push(o);
    }
    let mut therapeutic = Vec::new();
    if notes
        .clinical_significance
        .iter()
        .any(|t| t.eq_ignore_ascii_case("drug response"))
    {
        let mut o = base(
            format!("{variant_id}.tx"),
            gemj_fhir::profiles::THERAPEUTIC_IMPLICATION,
            "therapeutic-implication",
        );
        let components: Vec<Value> = notes
            .conditions
            .iter()
            .map(|c| json!({"code": loinc("51963-7", "Medication assessed [ID]"), "valueCodeableConcept": {"text": c}}))
            .collect();
        if !components.is_empty() {
            o["component"] = Value::Array(components);
        }
        therapeutic.push(o);
    }
    FoundVariant {
        observation,
        consequences,
        diagnostic,
        therapeutic,
        genotype: None,
        haplotype: None,
    }
}

/// The IG's Genotype of a diploid germline call: the HGVS genotype of the allele's copies
/// (`NM_000410.4:c.[845G>A];[=]` heterozygous, `…;[845G>A]` homozygous) from the representative
/// coding HGVS, else from the genomic position for a substitution
/// (`NC_000006.12:g.[26092913G>A];[=]`); none when neither can be written.
fn genotype(
    p: &ParticipantId,
    variant: &Value,
    key: &VariantKey,
    call: &CallRow,
    notes: &AlleleNotes,
) -> Option<Value> {
    if call.call.ploidy != 2 || call.copies == 0 {
        return None;
    }
    let coding = notes.effects.iter().find_map(|e| {
        Some((
            e.transcript.as_deref()?,
            e.hgvs_c.as_deref()?.strip_prefix("c.")?,
        ))
    });
    let (sequence, kind, change) = match coding {
        Some((transcript, change)) => (transcript.to_owned(), "c", change.to_owned()),
        None => {
            let (r, a) = (key.reference.as_str(), key.alternate.as_str());
            if r.len() != 1 || a.len() != 1 {
                return None;
            }
            let accession = Assembly::GRCh38.refseq_accession(key.chrom.as_str())?;
            (accession.to_owned(), "g", format!("{}{r}>{a}", key.pos))
        }
    };
    let other = if call.copies >= 2 {
        change.as_str()
    } else {
        "="
    };
    let text = format!("{sequence}:{kind}.[{change}];[{other}]");
    let mut g = called_from(
        p,
        variant,
        ("gt", gemj_fhir::profiles::GENOTYPE),
        loinc("84413-4", "Genotype display name"),
        json!({"coding": [{"system": HGVS, "code": text}]}),
    );
    if let Some(gene) = variant["component"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["code"]["coding"][0]["code"] == "48018-6")
    {
        g["component"] = json!([gene]);
    }
    Some(g)
}

/// The IG's Haplotype of a germline call of a star allele's core variant ([`super::pgx`]):
/// the allele by name, its gene, derived from the Variant, with a note that says how it was
/// called (from the core variant alone, no diplotype).
fn haplotype(
    p: &ParticipantId,
    variant: &Value,
    key: &VariantKey,
    call: &CallRow,
) -> Option<Value> {
    if call.copies == 0 {
        return None;
    }
    let allele = super::pgx::allele_of(key)?;
    let copies = if call.call.ploidy == 2 && call.copies >= 2 {
        "on both copies"
    } else {
        "on one copy"
    };
    let name = allele.name();
    let core = allele.spdi().unwrap_or_else(|| allele.rsid.clone());
    let mut h = called_from(
        p,
        variant,
        ("hap", gemj_fhir::profiles::HAPLOTYPE),
        loinc("84414-2", "Haplotype name"),
        json!({"text": name}),
    );
    h["component"] = json!([{"code": loinc("48018-6", "Gene studied [ID]"),
        "valueCodeableConcept": {"coding": [{"system": "http://www.genenames.org", "code": allele.hgnc, "display": allele.gene}]}}]);
    h["note"] = json!([{"text": format!(
        "{name} ({}, CPIC) called from its core variant {core} ({}), carried {copies}; \
         the allele's other defining positions are not checked and no diplotype is called.",
        allele.function, allele.rsid
    )}]);
    Some(h)
}

/// A genomic Observation called from a Variant (a Genotype, a Haplotype): its id is the
/// Variant's with `suffix`, it claims `profile`, and it names the Variant's subject, specimen
/// and the Variant itself in `derivedFrom`.
fn called_from(
    p: &ParticipantId,
    variant: &Value,
    (suffix, profile): (&str, &str),
    code: Value,
    value: Value,
) -> Value {
    let variant_id = variant["id"].as_str().unwrap_or_default();
    let mut o = json!({
        "resourceType": "Observation",
        "id": format!("{variant_id}.{suffix}"),
        "meta": {"profile": [profile]},
        "status": "final",
        "category": [
            {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}]},
            {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "GE"}]}
        ],
        "code": code,
        "subject": {"reference": format!("Patient/{p}")},
        "valueCodeableConcept": value,
        "derivedFrom": [{"reference": format!("Observation/{variant_id}")}],
    });
    if let Some(specimen) = variant.get("specimen") {
        o["specimen"] = specimen.clone();
    }
    o
}

/// The coding HGVS (with its transcript), transcript and protein HGVS components of an effect.
fn effect_components(e: &gemj_model::variant::Effect) -> Vec<Value> {
    let mut components = Vec::new();
    if let (Some(t), Some(c)) = (&e.transcript, &e.hgvs_c) {
        components.push(json!({"code": loinc("48004-6", "DNA change (c.HGVS)"),
            "valueCodeableConcept": {"coding": [{"system": HGVS, "code": format!("{t}:{c}")}]}}));
    }
    if let Some(t) = &e.transcript {
        components.push(
            json!({"code": loinc("51958-7", "Transcript reference sequence [ID]"),
            "valueCodeableConcept": {"coding": [{"system": transcript_system(t), "code": t}]}}),
        );
    }
    if let Some(h) = &e.hgvs_p {
        components.push(
            json!({"code": loinc("48005-3", "Amino acid change (pHGVS)"),
            "valueCodeableConcept": {"coding": [{"system": HGVS, "code": h}]}}),
        );
    }
    components
}

/// The IG's code system for codes LOINC lacks.
const TBD_CODES: &str = "http://hl7.org/fhir/uv/genomics-reporting/CodeSystem/tbd-codes-cs";

/// HGVS nomenclature.
const HGVS: &str = "http://varnomen.hgvs.org";

/// RefSeq for `NM_`/`NR_`/`XM_` accessions, Ensembl for `ENST`.
fn transcript_system(accession: &str) -> &'static str {
    if accession.starts_with("ENST") {
        "http://www.ensembl.org"
    } else {
        "http://www.ncbi.nlm.nih.gov/refseq"
    }
}

/// A consequence term as a Sequence Ontology coding when its id is known, else as text.
fn consequence_concept(term: &str) -> Value {
    match genomics::so_id(term) {
        Some(id) => {
            json!({"coding": [{"system": "http://www.sequenceontology.org", "code": id, "display": term}]})
        }
        None => json!({"text": term}),
    }
}

/// An identifier of the ID column as the IG's variation code (dbSNP, COSMIC, ClinVar).
fn variation_code(id: &str) -> Value {
    let system = if id.starts_with("rs") && id[2..].bytes().all(|b| b.is_ascii_digit()) {
        Some("http://www.ncbi.nlm.nih.gov/projects/SNP")
    } else if id.starts_with("COSV") || id.starts_with("COSM") {
        Some("http://cancer.sanger.ac.uk/cancergenome/projects/cosmic")
    } else if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) {
        Some("http://www.ncbi.nlm.nih.gov/clinvar")
    } else {
        None
    };
    match system {
        Some(system) => json!({"coding": [{"system": system, "code": id}]}),
        None => json!({"text": id}),
    }
}

fn in_range(key: &VariantKey, rule: RangeRule) -> bool {
    let start0 = u64::from(key.pos) - 1;
    let end0 = start0 + key.reference.as_str().len() as u64;
    match rule {
        RangeRule::Starts { start0: s, end0: e } => start0 >= s && start0 < e,
        RangeRule::Intersects { start0: s, end0: e } => start0 < e && end0 > s,
        RangeRule::Subsumes { start0: s, end0: e } => start0 <= s && end0 >= e,
    }
}

fn loinc(code: &str, display: &str) -> Value {
    json!({"coding": [{"system": "http://loinc.org", "code": code, "display": display}]})
}

/// The IG's Variant Observation of one allele of a participant (README §9 of the fixtures).
fn variant_observation(
    p: &ParticipantId,
    key: &VariantKey,
    called: &[&Specimen],
    source: Option<(&str, &str)>,
    call: Option<&CallRow>,
    notes: &AlleleNotes,
) -> Value {
    let start0 = u64::from(key.pos) - 1;
    let end0 = start0 + key.reference.as_str().len() as u64;
    let id = format!(
        "{p}.v.{}.{}.{}",
        key.chrom,
        key.pos,
        short_hash(&[key.reference.as_str(), key.alternate.as_str()])
    );
    let mut components = Vec::new();
    if let Some(accession) = Assembly::GRCh38.refseq_accession(key.chrom.as_str()) {
        components.push(json!({"code": loinc("48013-7", "Genomic reference sequence ID"),
            "valueCodeableConcept": {"coding": [{"system": "http://www.ncbi.nlm.nih.gov/refseq", "code": accession}]}}));
    } else {
        components.push(
            json!({"code": loinc("48013-7", "Genomic reference sequence ID"),
            "valueCodeableConcept": {"text": key.chrom.as_str()}}),
        );
    }
    components.push(json!({"code": loinc("92822-6", "Genomic coordinate system [Type]"),
        "valueCodeableConcept": {"coding": [{"system": "http://loinc.org", "code": "LA30100-4", "display": "0-based interval counting"}]}}));
    components.push(json!({"code": loinc("81254-5", "Genomic allele start-end"),
        "valueRange": {"low": {"value": start0}, "high": {"value": end0}}}));
    components.push(json!({"code": loinc("69547-8", "Genomic ref allele [ID]"), "valueString": key.reference.as_str()}));
    components.push(json!({"code": loinc("69551-0", "Genomic alt allele [ID]"), "valueString": key.alternate.as_str()}));
    if let Some((code, display)) = source {
        components.push(json!({"code": loinc("48002-0", "Genomic source class [Type]"),
            "valueCodeableConcept": {"coding": [{"system": "http://loinc.org", "code": code, "display": display}]}}));
    }
    if let Some(call) = call {
        if let Some(fraction) = call.call.fraction() {
            // Rounded to the 4 decimals a read fraction carries (f32 AF as given: 0.23, not 0.2300000042).
            let fraction = (fraction * 10_000.0).round() / 10_000.0;
            components.push(json!({"code": loinc("81258-6", "Sample variant allelic frequency [NFr]"),
                "valueQuantity": {"value": fraction, "unit": "relative frequency of a particular allele in the specimen", "system": "http://unitsofmeasure.org", "code": "1"}}));
        }
        if let Some(depth) = call.call.allele_depth {
            components.push(json!({"code": loinc("82121-5", "Allelic read depth"),
                "valueQuantity": {"value": depth, "unit": "reads per base pair", "system": "http://unitsofmeasure.org", "code": "1"}}));
        }
        // Zygosity is a germline call's (a tumour's allele fraction says what somatic calls can).
        let ploidy = call.call.ploidy;
        if source != Some(SOMATIC) && ploidy > 0 && call.copies > 0 {
            let (code, display) = if ploidy == 1 {
                ("LA6707-9", "Hemizygous")
            } else if call.copies >= ploidy {
                ("LA6705-3", "Homozygous")
            } else {
                ("LA6706-1", "Heterozygous")
            };
            components.push(json!({"code": loinc("53034-5", "Allelic state"),
                "valueCodeableConcept": {"coding": [{"system": "http://loinc.org", "code": code, "display": display}]}}));
        }
    }
    if let Some(gene) = &notes.gene {
        let value = match &notes.gene_id {
            Some(id) => {
                json!({"coding": [{"system": "http://www.genenames.org", "code": id, "display": gene}]})
            }
            None => json!({"text": gene}),
        };
        components.push(
            json!({"code": loinc("48018-6", "Gene studied [ID]"), "valueCodeableConcept": value}),
        );
    }
    for id in &notes.ids {
        components.push(json!({"code": loinc("81252-9", "Discrete genetic variant"), "valueCodeableConcept": variation_code(id)}));
    }
    // The first effect with a transcript and coding HGVS is the representative one.
    if let Some(e) = notes
        .effects
        .iter()
        .find(|e| e.transcript.is_some() && e.hgvs_c.is_some())
    {
        components.extend(effect_components(e));
    }
    let mut v = json!({
        "resourceType": "Observation",
        "id": id,
        "meta": {"profile": [gemj_fhir::profiles::VARIANT]},
        "status": "final",
        "category": [
            {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}]},
            {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "GE"}]}
        ],
        "code": loinc("69548-6", "Genetic variant assessment"),
        "subject": {"reference": format!("Patient/{p}")},
        "valueCodeableConcept": {"coding": [{"system": "http://loinc.org", "code": "LA9633-4", "display": "Present"}]},
        "component": components,
    });
    if let Some(first) = called.first() {
        v["specimen"] = json!({"reference": format!("Specimen/{}", first.id)});
    }
    v
}

/// The gateway's base URL of a FHIR base (`https://host/fhir` → `https://host`).
fn gateway_base(fhir_base: &str) -> &str {
    fhir_base.strip_suffix("/fhir").unwrap_or(fhir_base)
}

fn text_part(name: &str, value: &str) -> Value {
    json!({"name": name, "valueString": value})
}

/// A star allele of the shipped table ([`super::pgx`]) named by a `haplotypes` input, with
/// the input's text.
///
/// # Errors
/// 422 for an allele the table does not define, or on a gateway whose build is not the
/// table's (GRCh38).
fn named_allele(
    service: &FhirService,
    text: String,
) -> Result<(String, &'static super::pgx::CoreAllele), FhirError> {
    if Assembly::parse(&service.settings.assembly) != Some(Assembly::GRCh38) {
        return Err(lift_over_failed(
            "haplotypes",
            &text,
            &service.settings.assembly,
        ));
    }
    match super::pgx::named(&text) {
        Some(allele) => Ok((text, allele)),
        None => {
            let known: Vec<String> = super::pgx::core_alleles()
                .iter()
                .map(super::pgx::CoreAllele::name)
                .collect();
            Err(FhirError::unprocessable(
                IssueCode::NotSupported,
                format!(
                    "{text}: no definition of this haplotype is shipped; the gateway calls {} from their core variants",
                    known.join(", ")
                ),
            )
            .with_expression("haplotypes"))
        }
    }
}

fn presence(found: bool) -> Value {
    json!({"name": "presence", "valueBoolean": found})
}

/// The subject of a subject operation (`Patient/ID` or `ID`), if the caller sees it.
fn subject_of<'a>(
    c: &'a Compartments,
    input: &OperationInput,
) -> Result<&'a ParticipantId, FhirError> {
    let subject = input.text("subject").unwrap_or_default();
    let id = subject.strip_prefix("Patient/").unwrap_or(subject);
    c.sees(id).map(|(p, _)| p).ok_or_else(|| {
        FhirError::not_found(format!("subject {subject} is not known")).with_expression("subject")
    })
}

pub(crate) async fn run(
    service: &FhirService,
    ctx: &RequestContext,
    principal: &Principal,
    input: OperationInput,
    base: &str,
) -> Result<Value, FhirFailure> {
    if input.name.starts_with("find-population-") {
        return population(service, ctx, principal, &input, base).await;
    }
    // Inputs are read before any decision, so a malformed request costs no audit row.
    let mut parsed_ranges = Vec::new();
    for text in input.texts("ranges") {
        let range = Range::parse("ranges", &text)?;
        let chrom = chromosome(service, "ranges", &range.sequence, &text)?;
        parsed_ranges.push((range, chrom));
    }
    let mut parsed_variants = Vec::new();
    for text in input.texts("variants") {
        let spec = VariantSpec::parse("variants", &text)?;
        parsed_variants.push((text.clone(), lookup_of(service, &spec, &text)?));
    }
    let filters = narrowing_filters(&input)?;
    service
        .under_compartments(
            ctx,
            principal,
            gateway_base(base),
            async |c: &Compartments, _: &Verdicts| {
                let p = subject_of(c, &input)?.clone();
                let mut parameter = Vec::new();
                let include = input.flag("includeVariants", false);
                match input.name {
                    "find-subject-variants"
                    | "find-subject-structural-intersecting-variants"
                    | "find-subject-structural-subsuming-variants" => {
                        for (range, chrom) in &parsed_ranges {
                            let (start0, end0) = (range.start, range.end);
                            let (rule, first) = match input.name {
                                "find-subject-variants" => {
                                    (RangeRule::Starts { start0, end0 }, start0 + 1)
                                }
                                "find-subject-structural-intersecting-variants" => (
                                    RangeRule::Intersects { start0, end0 },
                                    (start0 + 1).saturating_sub(LOOKBACK).max(1),
                                ),
                                _ => (
                                    RangeRule::Subsumes { start0, end0 },
                                    (start0 + 1).saturating_sub(LOOKBACK).max(1),
                                ),
                            };
                            let narrowing = Narrowing {
                                ranges: vec![(chrom.clone(), first, end0, rule)],
                                ..filters.clone()
                            };
                            let found = variants_of(service, c, &p, Some(&narrowing)).await?;
                            let mut part = vec![
                                text_part("rangeItem", &range.text),
                                presence(!found.is_empty()),
                            ];
                            if include {
                                part.extend(found.into_iter().map(
                                    |f| json!({"name": "variant", "resource": f.observation}),
                                ));
                            }
                            parameter.push(json!({"name": "variants", "part": part}));
                        }
                    }
                    "find-subject-specific-variants" => {
                        for (text, lookup) in &parsed_variants {
                            let narrowing = filters
                                .clone()
                                .looking_up(service, c, &p, (text, lookup))
                                .await?;
                            let found = variants_of(service, c, &p, Some(&narrowing)).await?;
                            let mut part =
                                vec![text_part("variantItem", text), presence(!found.is_empty())];
                            part.extend(
                                found
                                    .into_iter()
                                    .map(|f| json!({"name": "variant", "resource": f.observation})),
                            );
                            parameter.push(json!({"name": "variants", "part": part}));
                        }
                    }
                    "find-subject-haplotypes" => {
                        // Each gene answers the star alleles called from their core variants
                        // (`pgx`), then the Genotypes of the subject's germline calls in it.
                        let all = variants_of(service, c, &p, Some(&filters)).await?;
                        for text in input.texts("genes") {
                            let wanted = token_code(&text).to_lowercase();
                            let of_gene = |o: &&Value| {
                                let gene = &o["component"][0]["valueCodeableConcept"];
                                let names = [
                                    gene["coding"][0]["code"].as_str(),
                                    gene["coding"][0]["display"].as_str(),
                                    gene["text"].as_str(),
                                ];
                                names.iter().flatten().any(|n| n.to_lowercase() == wanted)
                            };
                            let mut part = vec![text_part("geneItem", &text)];
                            for h in all
                                .iter()
                                .filter_map(|f| f.haplotype.as_ref())
                                .filter(of_gene)
                            {
                                part.push(json!({"name": "haplotype", "resource": h}));
                            }
                            for g in all
                                .iter()
                                .filter_map(|f| f.genotype.as_ref())
                                .filter(of_gene)
                            {
                                part.push(json!({"name": "genotype", "resource": g}));
                            }
                            parameter.push(json!({"name": "haplotypes", "part": part}));
                        }
                    }
                    "find-subject-specific-haplotypes" => {
                        // A star allele of the shipped table is present when the subject's
                        // germline calls hold its core variant; one the table does not define
                        // cannot be looked for (422, never a made-up absence).
                        let alleles = input
                            .texts("haplotypes")
                            .into_iter()
                            .map(|text| named_allele(service, text))
                            .collect::<Result<Vec<_>, _>>()?;
                        let all = variants_of(service, c, &p, Some(&filters)).await?;
                        for (text, allele) in alleles {
                            let name = allele.name();
                            let found: Vec<&Value> = all
                                .iter()
                                .filter_map(|f| f.haplotype.as_ref())
                                .filter(|h| h["valueCodeableConcept"]["text"] == name.as_str())
                                .collect();
                            let mut part = vec![
                                text_part("haplotypeItem", &text),
                                presence(!found.is_empty()),
                            ];
                            part.extend(
                                found
                                    .into_iter()
                                    .map(|h| json!({"name": "haplotype", "resource": h})),
                            );
                            parameter.push(json!({"name": "haplotypes", "part": part}));
                        }
                    }
                    "find-subject-tx-implications"
                    | "find-subject-dx-implications"
                    | "find-subject-molecular-consequences" => {
                        parameter.extend(
                            derived_answers(
                                service,
                                c,
                                &p,
                                &input,
                                &filters,
                                &parsed_variants,
                                &parsed_ranges,
                            )
                            .await?,
                        );
                    }
                    "find-study-metadata" => {
                        parameter.extend(
                            study_metadata(service, c, &p, &input, &filters, &parsed_ranges)
                                .await?,
                        );
                    }
                    _ => {
                        return Err(
                            FhirError::not_found(format!("no operation ${}", input.name)).into(),
                        );
                    }
                }
                Ok((genomics::parameters(parameter), Returned(vec![p])))
            },
        )
        .await
}

async fn study_metadata(
    service: &FhirService,
    _c: &Compartments,
    p: &ParticipantId,
    input: &OperationInput,
    filters: &Narrowing,
    ranges: &[(Range, String)],
) -> Result<Vec<Value>, FhirFailure> {
    let index = service.beacon.index().await?;
    let Some(person) = index.person_by_id(p.as_str()) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    let specimens = index.specimens_of(person.ordinal);
    for s in &specimens {
        if !filters.specimens.is_empty() && !filters.specimens.iter().any(|x| x == s.id.as_str()) {
            continue;
        }
        for run in index.runs_of(s.id.as_str()) {
            for a in index.analyses_of_run(run.id.as_str()) {
                if !filters.tests.is_empty() && !filters.tests.iter().any(|t| t == a.id.as_str()) {
                    continue;
                }
                let date = a.analysis_date.map(|d| d.to_string());
                let dated = date.as_deref().and_then(DateRange::parse);
                if !filters
                    .test_dates
                    .iter()
                    .all(|(prefix, range)| dated.is_some_and(|d| range.matches(*prefix, &d)))
                {
                    continue;
                }
                let mut part = vec![text_part("testId", a.id.as_str())];
                if let Some(date) = &date {
                    part.push(json!({"name": "testDate", "valueDateTime": date}));
                }
                part.push(text_part("specimenId", s.id.as_str()));
                let build = match a.reference_genome.as_str() {
                    "GRCh38" => Some(("LA26806-2", "GRCh38")),
                    "GRCh37" => Some(("LA14029-5", "GRCh37")),
                    _ => None,
                };
                part.push(match build {
                    Some((code, display)) => json!({"name": "genomicBuild", "valueCodeableConcept": loinc(code, display)}),
                    None => json!({"name": "genomicBuild", "valueCodeableConcept": {"text": a.reference_genome}}),
                });
                for (range, _) in ranges {
                    part.push(text_part("regionStudied", &range.text));
                }
                out.push(json!({"name": "tests", "part": part}));
            }
        }
    }
    let _ = input;
    Ok(out)
}

/// The population operations: Beacon queries of the caller (individuals with the variant or
/// in the range), counted and listed as Beacon would answer the caller.
async fn population(
    service: &FhirService,
    ctx: &RequestContext,
    principal: &Principal,
    input: &OperationInput,
    base: &str,
) -> Result<Value, FhirFailure> {
    if matches!(principal, Principal::Anonymous) {
        return Err(crate::CoreError::CredentialRequired.into());
    }
    let list = input.flag("includePatientList", false);
    let mut items: Vec<PopulationItem> = Vec::new();
    match input.name {
        "find-population-specific-variants"
        | "find-population-tx-implications"
        | "find-population-dx-implications"
        | "find-population-molecular-consequences" => {
            for text in input.texts("variants") {
                let spec = VariantSpec::parse("variants", &text)?;
                let alleles = match lookup_of(service, &spec, &text)? {
                    Lookup::Named(_) => {
                        // Resolving a name through annotations of datasets the caller may not
                        // see would tell whether they hold it; population counts take the
                        // allele.
                        return Err(FhirError::unprocessable(
                            IssueCode::NotSupported,
                            format!("{text}: population operations take the genomic allele (SPDI, genomic HGVS or chrom-pos-ref-alt), not a name"),
                        )
                        .with_expression("variants")
                        .into());
                    }
                    // A genomic HGVS indel is Beacon's own `genomicAlleleShortForm`.
                    Lookup::Shape(_) => {
                        items.push((
                            text.clone(),
                            "variantItem",
                            vec![("genomicAlleleShortForm".to_owned(), text.clone())],
                            None,
                        ));
                        continue;
                    }
                    Lookup::Alleles(alleles) => alleles,
                };
                let Some(key) = alleles.first() else { continue };
                // An SPDI indel's anchor base is unknown (several candidate alleles): any base,
                // and no one allele whose annotations could be read.
                let exact = (alleles.len() == 1).then(|| key.clone());
                items.push((
                    text.clone(),
                    "variantItem",
                    allele_query(key, alleles.len() > 1),
                    exact,
                ));
            }
        }
        "find-population-structural-intersecting-variants"
        | "find-population-structural-subsuming-variants" => {
            for text in input.texts("ranges") {
                let range = Range::parse("ranges", &text)?;
                let chrom = chromosome(service, "ranges", &range.sequence, &text)?;
                items.push((
                    text.clone(),
                    "rangeItem",
                    vec![
                        ("referenceName".to_owned(), chrom),
                        ("start".to_owned(), range.start.to_string()),
                        ("end".to_owned(), range.end.to_string()),
                    ],
                    None,
                ));
            }
        }
        "find-population-specific-haplotypes" => {
            // A star allele is counted as its core variant is: a Beacon query of the caller.
            for text in input.texts("haplotypes") {
                let (text, allele) = named_allele(service, text)?;
                let core = allele.spdi().unwrap_or_default();
                let spec = VariantSpec::parse("haplotypes", &core)?;
                let Lookup::Alleles(alleles) = lookup_of(service, &spec, &text)? else {
                    continue;
                };
                let Some(key) = alleles.first() else { continue };
                items.push((text, "haplotypeItem", allele_query(key, false), None));
            }
        }
        _ => return Err(FhirError::not_found(format!("no operation ${}", input.name)).into()),
    }
    let granularity = if list { "record" } else { "count" };
    let denominator = beacon_individuals(service, ctx, principal, Vec::new(), granularity).await?;
    if matches!(
        input.name,
        "find-population-tx-implications"
            | "find-population-dx-implications"
            | "find-population-molecular-consequences"
    ) {
        let part =
            implication_counts(service, ctx, principal, input, items, &denominator, base).await?;
        let name = if input.name == "find-population-molecular-consequences" {
            "consequences"
        } else {
            "implications"
        };
        return Ok(genomics::parameters(vec![
            json!({"name": name, "part": part}),
        ]));
    }
    let mut parameter = Vec::new();
    for (text, item, query, _) in items {
        let answer = beacon_individuals(service, ctx, principal, query, granularity).await?;
        let mut part = vec![text_part(item, &text)];
        if let Some(n) = answer.count {
            part.push(json!({"name": "numerator", "valueQuantity": {"value": n}}));
        }
        if let Some(n) = denominator.count {
            part.push(json!({"name": "denominator", "valueQuantity": {"value": n}}));
        }
        if list && let Some(ids) = answer.ids {
            for id in ids {
                part.push(
                    json!({"name": "subject", "valueString": format!("{base}/Patient/{id}")}),
                );
            }
        }
        let name = if input.name == "find-population-specific-haplotypes" {
            "haplotypes"
        } else {
            "variants"
        };
        parameter.push(json!({"name": name, "part": part}));
    }
    Ok(genomics::parameters(parameter))
}

/// One item of a population operation: its text, its part name, its Beacon query and, for a
/// variant named as one exact allele, that allele.
type PopulationItem = (
    String,
    &'static str,
    Vec<(String, String)>,
    Option<VariantKey>,
);

/// The Beacon query of one allele; `any_anchor` for an SPDI indel whose anchor base is unknown
/// (`N`).
fn allele_query(key: &VariantKey, any_anchor: bool) -> Vec<(String, String)> {
    let bases = |b: &str| {
        if any_anchor {
            format!("N{}", &b[1..])
        } else {
            b.to_owned()
        }
    };
    vec![
        ("referenceName".to_owned(), key.chrom.as_str().to_owned()),
        ("start".to_owned(), (u64::from(key.pos) - 1).to_string()),
        ("referenceBases".to_owned(), bases(key.reference.as_str())),
        ("alternateBases".to_owned(), bases(key.alternate.as_str())),
    ]
}

/// The parts of a population implication or consequence count: the subjects who carry one of
/// the given alleles whose annotations hold an implication (or consequence) that passes the
/// operation's filters, counted by Beacon at the caller's level.
///
/// An allele's annotations are read from every dataset that holds them (they describe the
/// allele, as ClinVar or an annotator did, not a participant). One qualifying allele is its
/// Beacon count; several are the union of their subjects where the caller may list them
/// (`includePatientList` at record level), and otherwise refused with 422, since adding counts
/// would count twice a subject who carries two. None is a count of 0.
///
/// # Errors
/// 422 without an allele (a genomic HGVS indel names a shape, not one allele), or as above.
async fn implication_counts(
    service: &FhirService,
    ctx: &RequestContext,
    principal: &Principal,
    input: &OperationInput,
    items: Vec<PopulationItem>,
    denominator: &BeaconAnswer,
    base: &str,
) -> Result<Vec<Value>, FhirFailure> {
    let list = input.flag("includePatientList", false);
    let granularity = if list { "record" } else { "count" };
    let refuse = |why: String| -> FhirFailure {
        FhirError::unprocessable(IssueCode::NotSupported, why)
            .with_expression("variants")
            .into()
    };
    if items.is_empty() {
        return Err(refuse(
            "population implication counts are of the subjects who carry the given variants: give at least one".to_owned(),
        ));
    }
    let (_, pick, keep) = implication_filter(input);
    let store = &service.core.store;
    let datasets = store.list_datasets().await?;
    let mut qualifying = Vec::new();
    for (text, _, query, key) in items {
        let Some(key) = key else {
            return Err(refuse(format!(
                "{text}: an implication is read from one allele's annotations; give the allele (SPDI or chrom-pos-ref-alt with its bases)"
            )));
        };
        let mut holds = false;
        for d in &datasets {
            let notes = store
                .variant_notes(&d.id, key.chrom.as_str(), (key.pos, key.pos))
                .await?;
            if let Some(n) = notes.get(&key) {
                let f = derived("population", json!({"id": "population"}), n);
                if pick(&f).iter().any(&keep) {
                    holds = true;
                    break;
                }
            }
        }
        if holds {
            qualifying.push(query);
        }
    }
    let mut part = Vec::new();
    let mut subjects: Option<std::collections::BTreeSet<String>> = None;
    match qualifying.len() {
        0 => part.push(json!({"name": "numerator", "valueQuantity": {"value": 0}})),
        1 => {
            let query = qualifying.remove(0);
            let answer = beacon_individuals(service, ctx, principal, query, granularity).await?;
            if let Some(n) = answer.count {
                part.push(json!({"name": "numerator", "valueQuantity": {"value": n}}));
            }
            subjects = answer.ids.map(|ids| ids.into_iter().collect());
        }
        _ => {
            let mut union = std::collections::BTreeSet::new();
            for query in qualifying {
                let answer =
                    beacon_individuals(service, ctx, principal, query, granularity).await?;
                match answer.ids {
                    Some(ids) if list => union.extend(ids),
                    _ => {
                        return Err(refuse(
                            "several of the variants have an implication: a count of the subjects who carry any of them needs includePatientList=true at record level (adding counts would count twice a subject who carries two), or one variant per call".to_owned(),
                        ));
                    }
                }
            }
            part.push(json!({"name": "numerator", "valueQuantity": {"value": union.len()}}));
            subjects = Some(union);
        }
    }
    if let Some(n) = denominator.count {
        part.push(json!({"name": "denominator", "valueQuantity": {"value": n}}));
    }
    if list && let Some(ids) = subjects {
        for id in ids {
            part.push(json!({"name": "subject", "valueString": format!("{base}/Patient/{id}")}));
        }
    }
    Ok(part)
}

struct BeaconAnswer {
    count: Option<u64>,
    ids: Option<Vec<String>>,
}

async fn beacon_individuals(
    service: &FhirService,
    ctx: &RequestContext,
    principal: &Principal,
    mut query: Vec<(String, String)>,
    granularity: &str,
) -> Result<BeaconAnswer, FhirFailure> {
    query.push(("requestedGranularity".to_owned(), granularity.to_owned()));
    let limits = service.beacon.settings().limits();
    let parsed = gemj_beacon::BeaconQuery::from_get(&query, EntryType::Individual, &limits)
        .map_err(|e| FhirError::bad_request(IssueCode::Value, "", e.to_string()))?;
    let request = crate::beacon::BeaconRequest {
        query: parsed,
        scope: None,
    };
    let response = match service.beacon.query(ctx, principal, request).await {
        Ok(r) => r,
        Err(crate::beacon::BeaconFailure::Core(e)) => return Err(e.into()),
        Err(crate::beacon::BeaconFailure::Beacon(e, _)) => {
            let status = e.status;
            return Err(FhirError::new(
                status,
                gemj_fhir::Issue::error(
                    if status == 429 {
                        IssueCode::Throttled
                    } else {
                        IssueCode::Processing
                    },
                    e.to_string(),
                ),
            )
            .into());
        }
    };
    let v = serde_json::to_value(&response).unwrap_or(Value::Null);
    let summary = &v["responseSummary"];
    let count = summary["numTotalResults"].as_u64();
    let ids = v["response"]["resultSets"].as_array().map(|sets| {
        sets.iter()
            .flat_map(|s| s["results"].as_array().into_iter().flatten())
            .filter_map(|r| r["id"].as_str().map(str::to_owned))
            .collect()
    });
    Ok(BeaconAnswer { count, ids })
}
