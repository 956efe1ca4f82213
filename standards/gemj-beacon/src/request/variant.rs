//! Genomic variant request parameters (`models/.../genomicVariations/requestParameters.json`)
//! normalized into one of the query kinds of the Beacon documentation ("Genomic Variant
//! Queries"): sequence, range, bracket, gene, allele (HGVS) and amino-acid change queries.
//!
//! Coordinates are 0-based: `start` inclusive, `end` exclusive.

use serde::Serialize;

use crate::error::{BeaconError, ErrorKind};
use crate::hgvs::Hgvs;
use crate::reference::{Assembly, ReferenceName};
use crate::request::QueryLimits;
use crate::variant_type::VariantType;

/// The largest coordinate accepted (`format: int64`).
pub const MAX_COORDINATE: u64 = i64::MAX as u64;

/// The pattern `referenceBases` and `alternateBases` must match
/// (`requestParametersComponents.json`).
pub const BASES_PATTERN: &str = r"^([ACGTUNRYSWKMBDHV\-\.]*)$";

const BASES: &str = "ACGTUNRYSWKMBDHV-.";
const WILDCARDS: &str = "NRYSWKMBDHV";

/// Whether bases contain an IUPAC ambiguity code (`N`, `R`, `Y`, ...), which a Beacon reads as
/// a wildcard.
pub(crate) fn is_wildcard_bases(s: &str) -> bool {
    s.chars().any(|c| WILDCARDS.contains(c))
}

/// `referenceBases` or `alternateBases`: a string matching [`BASES_PATTERN`] (upper case; may be
/// empty, `-` or `.` for "no bases").
///
/// # Examples
///
/// ```
/// use gemj_beacon::Bases;
///
/// let bases = Bases::parse("alternateBases", "ANNT")?;
/// assert!(bases.has_wildcard());
/// assert!(Bases::parse("alternateBases", "")?.is_empty_allele());
/// assert!(Bases::parse("alternateBases", "acgt").is_err());
/// # Ok::<(), gemj_beacon::BeaconError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Bases(String);

impl Bases {
    /// Checks bases against [`BASES_PATTERN`]; `name` is the parameter, for the message.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidValue`] when the pattern does not match.
    pub fn parse(name: &str, s: &str) -> Result<Self, BeaconError> {
        if s.chars().all(|c| BASES.contains(c)) {
            Ok(Self(s.to_owned()))
        } else {
            Err(BeaconError::invalid(format!(
                "`{name}` does not match {BASES_PATTERN} (upper-case IUPAC bases)"
            )))
        }
    }

    /// The bases as given.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this stands for no bases (empty, `-` or `.`), as for the alternate bases of a
    /// deletion or the reference bases of an insertion.
    #[must_use]
    pub fn is_empty_allele(&self) -> bool {
        matches!(self.0.as_str(), "" | "-" | ".")
    }

    /// Whether the bases contain an IUPAC ambiguity code (`N`, `R`, ...): a wildcard.
    #[must_use]
    pub fn has_wildcard(&self) -> bool {
        is_wildcard_bases(&self.0)
    }
}

/// A normalized genomic variant query: its kind plus the modifiers that narrow it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariantQuery {
    /// Which query this is, with its defining parameters.
    pub kind: VariantQueryKind,
    /// The assembly: canonical (`GRCh38`) for the assemblies this crate knows, otherwise the
    /// spelling of [`QueryLimits::assemblies`]. Always set for positional kinds (given, implied by
    /// a RefSeq accession, or the beacon's only assembly); `None` only for gene and amino-acid
    /// queries that did not name one.
    pub assembly_id: Option<String>,
    /// `referenceBases`.
    pub reference_bases: Option<Bases>,
    /// `alternateBases`.
    pub alternate_bases: Option<Bases>,
    /// `variantType` (`SNP`, `DEL`, `SO:0000159`, `EFO:0030067`, ...), read into its class.
    pub variant_type: Option<VariantType>,
    /// `variantMinLength`.
    pub variant_min_length: Option<u64>,
    /// `variantMaxLength`.
    pub variant_max_length: Option<u64>,
    /// `mateName` (the partner sequence of a fusion), normalized like `referenceName`.
    pub mate_name: Option<ReferenceName>,
    /// `aminoacidChange` (e.g. `V600E`), narrowing a gene or range query, or on its own.
    pub aminoacid_change: Option<String>,
}

/// The query kinds of the Beacon v2 documentation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VariantQueryKind {
    /// Sequence query: `referenceName`, one `start`, `alternateBases` (and usually
    /// `referenceBases`) — a precise allele at a position.
    Sequence {
        /// The sequence.
        reference_name: ReferenceName,
        /// 0-based position of the first reference base.
        start: u64,
    },
    /// Range query: `referenceName`, one `start`, one `end` — any variant overlapping
    /// `[start, end)`.
    Range {
        /// The sequence.
        reference_name: ReferenceName,
        /// 0-based inclusive start.
        start: u64,
        /// 0-based exclusive end.
        end: u64,
    },
    /// Bracket query: `referenceName`, `start = [s1, s2]`, `end = [e1, e2]` — variants starting
    /// in `[s1, s2]` and ending in `[e1, e2]` (both ends inclusive, as the spec's "between").
    Bracket {
        /// The sequence.
        reference_name: ReferenceName,
        /// Minimum and maximum start.
        start: [u64; 2],
        /// Minimum and maximum end.
        end: [u64; 2],
    },
    /// Gene query: `geneId` (an HGNC symbol is recommended).
    Gene {
        /// The gene.
        gene_id: String,
    },
    /// Allele query: `genomicAlleleShortForm` (HGVS).
    Allele(Hgvs),
    /// Amino-acid change query: `aminoacidChange` alone (with a gene it is a [`Self::Gene`]
    /// query narrowed by [`VariantQuery::aminoacid_change`]).
    AminoacidChange,
}

impl VariantQuery {
    /// The reference sequence of positional kinds (sequence, range, bracket, genomic allele).
    #[must_use]
    pub fn reference_name(&self) -> Option<&ReferenceName> {
        match &self.kind {
            VariantQueryKind::Sequence { reference_name, .. }
            | VariantQueryKind::Range { reference_name, .. }
            | VariantQueryKind::Bracket { reference_name, .. } => Some(reference_name),
            VariantQueryKind::Allele(Hgvs::Genomic(allele)) => Some(&allele.reference_name),
            VariantQueryKind::Allele(Hgvs::Other(_))
            | VariantQueryKind::Gene { .. }
            | VariantQueryKind::AminoacidChange => None,
        }
    }

    /// Whether any allele of the query contains an IUPAC ambiguity code (`N`, ...): a wildcard
    /// query, which a gateway may refuse to public callers (wildcards let a caller enumerate
    /// alleles at a position).
    ///
    /// # Examples
    ///
    /// ```
    /// use gemj_beacon::{BeaconQuery, EntryType, QueryLimits};
    ///
    /// let get = |q: &str| -> Vec<(String, String)> {
    ///     q.split('&').map(|p| {
    ///         let (k, v) = p.split_once('=').unwrap();
    ///         (k.to_owned(), v.to_owned())
    ///     }).collect()
    /// };
    /// let limits = QueryLimits::default();
    /// let q = BeaconQuery::from_get(
    ///     &get("referenceName=1&start=100&referenceBases=A&alternateBases=N"),
    ///     EntryType::GenomicVariant,
    ///     &limits,
    /// )?;
    /// assert!(q.has_wildcard());
    /// # Ok::<(), gemj_beacon::BeaconError>(())
    /// ```
    #[must_use]
    pub fn has_wildcard(&self) -> bool {
        self.reference_bases
            .as_ref()
            .is_some_and(Bases::has_wildcard)
            || self
                .alternate_bases
                .as_ref()
                .is_some_and(Bases::has_wildcard)
            || matches!(&self.kind, VariantQueryKind::Allele(hgvs) if hgvs.has_wildcard())
    }

    /// The width in bases of the region the query covers, for positional kinds: the
    /// reference bases' length for a sequence query (1 when not given or empty),
    /// `end - start` for a range, `end[1] - start[0]` for a bracket, and the allele's extent
    /// (at least 1) for a genomic HGVS allele. `None` for gene, amino-acid and non-genomic
    /// HGVS queries, which have no coordinates.
    #[must_use]
    pub fn range_width(&self) -> Option<u64> {
        match &self.kind {
            VariantQueryKind::Sequence { .. } => Some(
                self.reference_bases
                    .as_ref()
                    .filter(|b| !b.is_empty_allele())
                    .map_or(1, |b| b.as_str().len() as u64),
            ),
            VariantQueryKind::Range { start, end, .. } => Some(end - start),
            VariantQueryKind::Bracket { start, end, .. } => Some(end[1].saturating_sub(start[0])),
            VariantQueryKind::Allele(Hgvs::Genomic(allele)) => {
                Some((allele.end - allele.start).max(1))
            }
            VariantQueryKind::Allele(Hgvs::Other(_))
            | VariantQueryKind::Gene { .. }
            | VariantQueryKind::AminoacidChange => None,
        }
    }

    /// The parameters as `receivedRequestSummary.requestParameters.g_variant` echoes them
    /// (normalized: `referenceName` as `chrN`, the resolved `assemblyId`).
    #[must_use]
    pub fn echo(&self) -> GVariantParameters {
        let mut echo = GVariantParameters {
            assembly_id: self.assembly_id.clone(),
            reference_bases: self.reference_bases.as_ref().map(|b| b.as_str().to_owned()),
            alternate_bases: self.alternate_bases.as_ref().map(|b| b.as_str().to_owned()),
            variant_type: self.variant_type.as_ref().map(|t| t.as_str().to_owned()),
            variant_min_length: self.variant_min_length,
            variant_max_length: self.variant_max_length,
            mate_name: self.mate_name.as_ref().map(|m| m.chromosome().to_owned()),
            aminoacid_change: self.aminoacid_change.clone(),
            ..GVariantParameters::default()
        };
        match &self.kind {
            VariantQueryKind::Sequence {
                reference_name,
                start,
            } => {
                echo.reference_name = Some(reference_name.chromosome().to_owned());
                echo.start = vec![*start];
            }
            VariantQueryKind::Range {
                reference_name,
                start,
                end,
            } => {
                echo.reference_name = Some(reference_name.chromosome().to_owned());
                echo.start = vec![*start];
                echo.end = vec![*end];
            }
            VariantQueryKind::Bracket {
                reference_name,
                start,
                end,
            } => {
                echo.reference_name = Some(reference_name.chromosome().to_owned());
                echo.start = start.to_vec();
                echo.end = end.to_vec();
            }
            VariantQueryKind::Gene { gene_id } => echo.gene_id = Some(gene_id.clone()),
            VariantQueryKind::Allele(hgvs) => {
                echo.genomic_allele_short_form = Some(hgvs.as_str().to_owned());
            }
            VariantQueryKind::AminoacidChange => {}
        }
        echo
    }
}

/// The `g_variant` request parameters in their wire form (every member optional), as echoed in
/// `receivedRequestSummary`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GVariantParameters {
    /// `assemblyId`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assembly_id: Option<String>,
    /// `referenceName`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference_name: Option<String>,
    /// `start`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub start: Vec<u64>,
    /// `end`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub end: Vec<u64>,
    /// `referenceBases`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference_bases: Option<String>,
    /// `alternateBases`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alternate_bases: Option<String>,
    /// `variantType`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant_type: Option<String>,
    /// `variantMinLength`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant_min_length: Option<u64>,
    /// `variantMaxLength`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant_max_length: Option<u64>,
    /// `mateName`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mate_name: Option<String>,
    /// `geneId`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gene_id: Option<String>,
    /// `genomicAlleleShortForm`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub genomic_allele_short_form: Option<String>,
    /// `aminoacidChange`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aminoacid_change: Option<String>,
}

/// The variant parameters as read from GET or POST, before normalization.
#[derive(Debug, Default)]
pub(crate) struct RawVariant {
    pub(crate) reference_name: Option<String>,
    pub(crate) start: Option<Vec<u64>>,
    pub(crate) end: Option<Vec<u64>>,
    pub(crate) reference_bases: Option<String>,
    pub(crate) alternate_bases: Option<String>,
    pub(crate) variant_type: Option<String>,
    pub(crate) variant_min_length: Option<u64>,
    pub(crate) variant_max_length: Option<u64>,
    pub(crate) assembly_id: Option<String>,
    pub(crate) mate_name: Option<String>,
    pub(crate) gene_id: Option<String>,
    pub(crate) allele: Option<String>,
    pub(crate) aminoacid_change: Option<String>,
}

impl RawVariant {
    /// The spec names of the parameters given, in a fixed order.
    pub(crate) fn given(&self) -> Vec<&'static str> {
        let mut names = Vec::new();
        let mut add = |present: bool, name: &'static str| {
            if present {
                names.push(name);
            }
        };
        add(self.reference_name.is_some(), "referenceName");
        add(self.start.is_some(), "start");
        add(self.end.is_some(), "end");
        add(self.reference_bases.is_some(), "referenceBases");
        add(self.alternate_bases.is_some(), "alternateBases");
        add(self.variant_type.is_some(), "variantType");
        add(self.variant_min_length.is_some(), "variantMinLength");
        add(self.variant_max_length.is_some(), "variantMaxLength");
        add(self.assembly_id.is_some(), "assemblyId");
        add(self.mate_name.is_some(), "mateName");
        add(self.gene_id.is_some(), "geneId");
        add(self.allele.is_some(), "genomicAlleleShortForm");
        add(self.aminoacid_change.is_some(), "aminoacidChange");
        names
    }

    /// Normalizes into a [`VariantQuery`]; `None` when no variant parameter was given.
    pub(crate) fn normalize(
        self,
        limits: &QueryLimits,
    ) -> Result<Option<VariantQuery>, BeaconError> {
        if self.given().is_empty() {
            return Ok(None);
        }
        let missing = |m: String| BeaconError::bad_request(ErrorKind::MissingParameter, m);
        let non_empty = |name: &str, v: Option<String>| -> Result<Option<String>, BeaconError> {
            match v {
                Some(s) if s.is_empty() => Err(BeaconError::invalid(format!("`{name}` is empty"))),
                other => Ok(other),
            }
        };
        let positional =
            self.reference_name.is_some() || self.start.is_some() || self.end.is_some();
        let gene_id = non_empty("geneId", self.gene_id)?;
        let allele = non_empty("genomicAlleleShortForm", self.allele)?;
        let defining: Vec<&str> = [
            (positional, "a position (`referenceName`, `start`, `end`)"),
            (gene_id.is_some(), "`geneId`"),
            (allele.is_some(), "`genomicAlleleShortForm`"),
        ]
        .into_iter()
        .filter_map(|(present, name)| present.then_some(name))
        .collect();
        if defining.len() > 1 {
            return Err(missing(format!(
                "{} cannot be combined: a variant query is a sequence, range or bracket query, a gene query or an allele query",
                defining.join(" and ")
            )));
        }

        let reference_bases = self
            .reference_bases
            .map(|b| Bases::parse("referenceBases", &b))
            .transpose()?;
        let alternate_bases = self
            .alternate_bases
            .map(|b| Bases::parse("alternateBases", &b))
            .transpose()?;
        let variant_type = non_empty("variantType", self.variant_type)?
            .map(|t| VariantType::parse(&t))
            .transpose()?;
        let aminoacid_change = non_empty("aminoacidChange", self.aminoacid_change)?;
        if let (Some(min), Some(max)) = (self.variant_min_length, self.variant_max_length)
            && min > max
        {
            return Err(BeaconError::bad_request(
                ErrorKind::InvalidRange,
                format!("`variantMinLength` ({min}) is greater than `variantMaxLength` ({max})"),
            ));
        }
        if self.variant_max_length == Some(0) {
            return Err(BeaconError::invalid(
                "`variantMaxLength` must be at least 1",
            ));
        }
        let mate_name = non_empty("mateName", self.mate_name)?
            .map(|m| ReferenceName::parse_as("mateName", &m))
            .transpose()?;

        let kind = if positional {
            positional_kind(
                non_empty("referenceName", self.reference_name)?,
                self.start,
                self.end,
                alternate_bases.is_some(),
            )?
        } else if let Some(gene_id) = gene_id {
            VariantQueryKind::Gene { gene_id }
        } else if let Some(allele) = allele {
            if reference_bases.is_some() || alternate_bases.is_some() {
                return Err(missing(
                    "`genomicAlleleShortForm` states its own bases: leave out `referenceBases` and `alternateBases`"
                        .to_owned(),
                ));
            }
            VariantQueryKind::Allele(Hgvs::parse(&allele)?)
        } else if aminoacid_change.is_some() {
            VariantQueryKind::AminoacidChange
        } else {
            return Err(missing(
                "a variant query needs a position (`referenceName` and `start`), a `geneId`, a `genomicAlleleShortForm` or an `aminoacidChange`"
                    .to_owned(),
            ));
        };

        let mut query = VariantQuery {
            kind,
            assembly_id: None,
            reference_bases,
            alternate_bases,
            variant_type,
            variant_min_length: self.variant_min_length,
            variant_max_length: self.variant_max_length,
            mate_name,
            aminoacid_change,
        };
        query.assembly_id = resolve_assembly(
            non_empty("assemblyId", self.assembly_id)?.as_deref(),
            &query,
            limits,
        )?;
        Ok(Some(query))
    }
}

fn positional_kind(
    reference_name: Option<String>,
    start: Option<Vec<u64>>,
    end: Option<Vec<u64>>,
    has_alternate: bool,
) -> Result<VariantQueryKind, BeaconError> {
    let missing = |m: &str| BeaconError::bad_request(ErrorKind::MissingParameter, m);
    let range = |m: String| BeaconError::bad_request(ErrorKind::InvalidRange, m);
    let Some(start) = start else {
        return Err(missing(if end.is_some() {
            "`end` needs `start`"
        } else {
            "`referenceName` needs `start` (and `end` for a range query)"
        }));
    };
    let Some(reference_name) = reference_name else {
        return Err(missing("`start` needs `referenceName`"));
    };
    let reference_name = ReferenceName::parse(&reference_name)?;
    match (start.as_slice(), end.as_deref()) {
        (&[start], None) => {
            if !has_alternate {
                return Err(missing(
                    "a sequence query (`start` without `end`) needs `alternateBases`; add `end` for a range query",
                ));
            }
            Ok(VariantQueryKind::Sequence {
                reference_name,
                start,
            })
        }
        (&[start], Some(&[end])) => {
            if start >= end {
                return Err(range(format!(
                    "`start` ({start}) must be less than `end` ({end}): coordinates are 0-based, end exclusive"
                )));
            }
            Ok(VariantQueryKind::Range {
                reference_name,
                start,
                end,
            })
        }
        (&[s1, s2], Some(&[e1, e2])) => {
            if s1 > s2 {
                return Err(range(format!(
                    "bracket query: `start` minimum ({s1}) is greater than its maximum ({s2})"
                )));
            }
            if e1 > e2 {
                return Err(range(format!(
                    "bracket query: `end` minimum ({e1}) is greater than its maximum ({e2})"
                )));
            }
            if s1 >= e2 {
                return Err(range(format!(
                    "bracket query: the smallest `start` ({s1}) must be less than the largest `end` ({e2})"
                )));
            }
            Ok(VariantQueryKind::Bracket {
                reference_name,
                start: [s1, s2],
                end: [e1, e2],
            })
        }
        (&[_, _], None) => Err(missing(
            "a bracket query (two `start` values) needs two `end` values",
        )),
        (starts, Some(ends)) => Err(range(format!(
            "`start` and `end` need one value each (range query) or two values each (bracket query); got {} and {}",
            starts.len(),
            ends.len()
        ))),
        (starts, None) => Err(range(format!(
            "`start` takes 1 or 2 values, got {}",
            starts.len()
        ))),
    }
}

/// Resolves the assembly of a query: the `assemblyId` given, the one a versioned RefSeq
/// accession implies (they must agree), or the beacon's only assembly for positional queries.
fn resolve_assembly(
    given: Option<&str>,
    query: &VariantQuery,
    limits: &QueryLimits,
) -> Result<Option<String>, BeaconError> {
    let unsupported = |m: String| BeaconError::bad_request(ErrorKind::UnsupportedAssembly, m);
    let served = || {
        if limits.assemblies.is_empty() {
            "this beacon serves no assembly".to_owned()
        } else {
            format!("this beacon serves {}", limits.assemblies.join(", "))
        }
    };
    let accepted = |name: &str| -> Option<String> {
        limits
            .assemblies
            .iter()
            .find(|a| {
                a.eq_ignore_ascii_case(name)
                    || Assembly::parse(a).is_some_and(|known| Some(known) == Assembly::parse(name))
            })
            .map(|a| {
                Assembly::parse(a).map_or_else(|| a.clone(), |known| known.as_str().to_owned())
            })
    };
    let implied = [query.reference_name(), query.mate_name.as_ref()]
        .into_iter()
        .flatten()
        .find_map(|name| name.assembly().map(|a| (a, name.chromosome().to_owned())));
    if let Some(given) = given {
        let canonical = accepted(given)
            .ok_or_else(|| unsupported(format!("unsupported `assemblyId`: {}", served())))?;
        if let Some((assembly, chrom)) = implied
            && Assembly::parse(&canonical) != Some(assembly)
        {
            return Err(unsupported(format!(
                "the RefSeq accession given for {chrom} is a {assembly} sequence but `assemblyId` is `{canonical}`"
            )));
        }
        return Ok(Some(canonical));
    }
    if let Some((assembly, chrom)) = implied {
        return accepted(assembly.as_str()).map(Some).ok_or_else(|| {
            unsupported(format!(
                "the RefSeq accession given for {chrom} is a {assembly} sequence: {}",
                served()
            ))
        });
    }
    if query.reference_name().is_none() {
        return Ok(None);
    }
    match limits.assemblies.as_slice() {
        [only] => Ok(Some(
            Assembly::parse(only).map_or_else(|| only.clone(), |known| known.as_str().to_owned()),
        )),
        [] => Err(unsupported(served())),
        _ => Err(BeaconError::bad_request(
            ErrorKind::MissingParameter,
            format!("a positional query needs `assemblyId`: {}", served()),
        )),
    }
}
