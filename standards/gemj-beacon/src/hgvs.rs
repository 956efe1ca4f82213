//! `genomicAlleleShortForm` ("HGVSId descriptor"): genomic HGVS parsed into coordinates, other
//! HGVS kept verbatim.
//!
//! # What is accepted
//!
//! `SEQUENCE:g.CHANGE` (and `SEQUENCE:m.CHANGE` for the mitochondrion), where `SEQUENCE` is
//! anything [`ReferenceName::parse`] accepts: a RefSeq accession (`NC_000001.11`, optionally
//! `refseq:`-prefixed), or a chromosome name (`chr1`, `1`, `X`, `MT`). `CHANGE` is one of
//! (positions 1-based, as HGVS writes them):
//!
//! | form | example | meaning |
//! |---|---|---|
//! | substitution | `g.12345A>G` | one base replaced |
//! | deletion | `g.123del`, `g.123_125del`, `g.123_125delACG` | bases removed (the sequence, if given, must have the range's length) |
//! | insertion | `g.123_124insAC` | bases inserted between two adjacent positions |
//! | deletion-insertion | `g.123delinsTT`, `g.123_125delinsTT` | bases replaced by others |
//! | duplication | `g.123dup`, `g.123_125dup`, `g.123_125dupACG` | bases repeated after themselves |
//!
//! Bases are upper-case IUPAC nucleotide codes (`ACGTUNRYSWKMBDHV`); an ambiguity code counts as
//! a wildcard ([`GenomicAllele::has_wildcard`]). Coordinates are converted to the Beacon's
//! 0-based, half-open system: `g.123_125del` covers `start = 122`, `end = 125`; an insertion has
//! `start == end` (the gap it goes into).
//!
//! Not accepted (an error): uncertain or intronic positions (`(123_125)`, `123+1`), identity
//! (`g.123=`), inversions, conversions, repeats, alleles in brackets (`[...]`), and a `g.` without
//! a sequence. Transcript, non-coding, RNA and protein forms (`c.`, `n.`, `r.`, `p.`) are kept
//! verbatim as [`Hgvs::Other`], for matching against stored HGVS identifiers.

use crate::error::{BeaconError, ErrorKind};
use crate::reference::ReferenceName;

/// A parsed `genomicAlleleShortForm`.
///
/// # Examples
///
/// ```
/// use gemj_beacon::{AlleleChange, Hgvs};
///
/// let Hgvs::Genomic(allele) = Hgvs::parse("NC_000017.11:g.7674220C>T")? else {
///     unreachable!()
/// };
/// assert_eq!(allele.reference_name.chromosome(), "chr17");
/// assert_eq!((allele.start, allele.end), (7674219, 7674220));
/// assert_eq!(
///     allele.change,
///     AlleleChange::Substitution { reference: "C".into(), alternate: "T".into() }
/// );
/// assert!(matches!(Hgvs::parse("NM_004006.2:c.4375C>T")?, Hgvs::Other(_)));
/// assert!(Hgvs::parse("g.123A>G").is_err());
/// # Ok::<(), gemj_beacon::BeaconError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hgvs {
    /// A genomic (`g.`/`m.`) description with coordinates.
    Genomic(GenomicAllele),
    /// Any other HGVS description, verbatim.
    Other(String),
}

impl Hgvs {
    /// Parses a `genomicAlleleShortForm` (see the module documentation for what is accepted).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidAllele`] when the text is not HGVS this crate accepts.
    pub fn parse(s: &str) -> Result<Self, BeaconError> {
        let fail = |why: &str| {
            BeaconError::bad_request(
                ErrorKind::InvalidAllele,
                format!("`genomicAlleleShortForm` is not accepted: {why}"),
            )
        };
        if s.starts_with("g.") || s.starts_with("m.") {
            return Err(fail(
                "a genomic description needs its sequence, e.g. `NC_000001.11:g.12345A>G`",
            ));
        }
        let genomic = [":g.", ":m."]
            .iter()
            .filter_map(|marker| s.find(marker))
            .min();
        let Some(at) = genomic else {
            let other = [":c.", ":n.", ":r.", ":p.", ":o."]
                .iter()
                .filter_map(|marker| s.find(marker))
                .min();
            return match other {
                Some(at) if at > 0 && s.len() > at + 3 && !s.contains(char::is_whitespace) => {
                    Ok(Self::Other(s.to_owned()))
                }
                _ => Err(fail(
                    "expected `SEQUENCE:g.CHANGE` (or a `c.`, `n.`, `r.`, `p.` description)",
                )),
            };
        };
        let sequence = &s[..at];
        let change = &s[at + 3..];
        let reference_name =
            ReferenceName::parse_as("sequence", sequence).map_err(|e| fail(&e.message))?;
        let (start, end, change) = parse_change(change).map_err(|why| fail(&why))?;
        Ok(Self::Genomic(GenomicAllele {
            text: s.to_owned(),
            reference_name,
            start,
            end,
            change,
        }))
    }

    /// The description as given.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            Self::Genomic(allele) => &allele.text,
            Self::Other(text) => text,
        }
    }

    /// Whether the description's bases contain an IUPAC ambiguity code (`N`, `R`, ...). For
    /// [`Hgvs::Other`], whether the change of a `c.`, `n.` or `r.` description has an upper-case
    /// ambiguity code (its only upper-case letters are bases); protein descriptions have none.
    #[must_use]
    pub fn has_wildcard(&self) -> bool {
        match self {
            Self::Genomic(allele) => allele.has_wildcard(),
            Self::Other(text) => [":c.", ":n.", ":r."]
                .iter()
                .filter_map(|marker| text.find(marker))
                .min()
                .is_some_and(|at| text[at + 3..].chars().any(|c| "NRYSWKMBDHV".contains(c))),
        }
    }
}

/// A genomic HGVS allele in 0-based, half-open coordinates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenomicAllele {
    /// The description as given.
    pub text: String,
    /// The sequence, normalized (`chr17`, with the assembly a versioned accession implies).
    pub reference_name: ReferenceName,
    /// 0-based start of the affected bases (for an insertion, the gap: `start == end`).
    pub start: u64,
    /// 0-based exclusive end.
    pub end: u64,
    /// What changes.
    pub change: AlleleChange,
}

impl GenomicAllele {
    /// Whether any base of the description is an IUPAC ambiguity code.
    #[must_use]
    pub fn has_wildcard(&self) -> bool {
        let bases: [Option<&str>; 2] = match &self.change {
            AlleleChange::Substitution {
                reference,
                alternate,
            } => [Some(reference), Some(alternate)],
            AlleleChange::Deletion { deleted } => [deleted.as_deref(), None],
            AlleleChange::Insertion { inserted } => [Some(inserted), None],
            AlleleChange::DeletionInsertion { deleted, inserted } => {
                [deleted.as_deref(), Some(inserted)]
            }
            AlleleChange::Duplication { duplicated } => [duplicated.as_deref(), None],
        };
        bases
            .into_iter()
            .flatten()
            .any(crate::request::is_wildcard_bases)
    }
}

/// The kind of change of a [`GenomicAllele`], with the bases the description states.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlleleChange {
    /// One base replaced by another.
    Substitution {
        /// The reference base.
        reference: String,
        /// The alternate base.
        alternate: String,
    },
    /// Bases removed.
    Deletion {
        /// The deleted bases, when the description states them.
        deleted: Option<String>,
    },
    /// Bases inserted into the gap `start == end`.
    Insertion {
        /// The inserted bases.
        inserted: String,
    },
    /// Bases replaced by others.
    DeletionInsertion {
        /// The deleted bases, when stated.
        deleted: Option<String>,
        /// The inserted bases.
        inserted: String,
    },
    /// Bases repeated right after themselves.
    Duplication {
        /// The duplicated bases, when stated.
        duplicated: Option<String>,
    },
}

const HGVS_BASES: &str = "ACGTUNRYSWKMBDHV";

fn is_bases(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| HGVS_BASES.contains(c))
}

fn position(s: &str) -> Result<u64, String> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(
            "a position is not a number (uncertain and intronic positions are not supported)"
                .to_owned(),
        );
    }
    match s.parse::<u64>() {
        Ok(0) => Err("HGVS positions start at 1".to_owned()),
        Ok(p) if p <= crate::request::MAX_COORDINATE => Ok(p),
        _ => Err("a position is too large".to_owned()),
    }
}

/// Parses the part after `g.`: returns 0-based start, exclusive end and the change.
fn parse_change(s: &str) -> Result<(u64, u64, AlleleChange), String> {
    let digits_end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let first = position(&s[..digits_end])?;
    let mut rest = &s[digits_end..];
    let mut last = first;
    let mut ranged = false;
    if let Some(after) = rest.strip_prefix('_') {
        let end_digits = after
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(after.len());
        last = position(&after[..end_digits])?;
        rest = &after[end_digits..];
        ranged = true;
        if last < first {
            return Err(format!("the range {first}_{last} ends before it starts"));
        }
    }
    let span = last - first + 1;
    let stated = |seq: &str, what: &str| -> Result<Option<String>, String> {
        if seq.is_empty() {
            return Ok(None);
        }
        if !is_bases(seq) {
            return Err(format!("the {what} sequence is not upper-case bases"));
        }
        if u64::try_from(seq.len()).ok() != Some(span) {
            return Err(format!(
                "the {what} sequence has {} bases but the range has {span}",
                seq.len()
            ));
        }
        Ok(Some(seq.to_owned()))
    };
    let start = first - 1;
    if let Some(inserted) = rest.strip_prefix("delins") {
        if !is_bases(inserted) {
            return Err("`delins` needs the inserted bases".to_owned());
        }
        return Ok((
            start,
            last,
            AlleleChange::DeletionInsertion {
                deleted: None,
                inserted: inserted.to_owned(),
            },
        ));
    }
    if let Some(deleted) = rest.strip_prefix("del") {
        if let Some((deleted, inserted)) = deleted.split_once("ins") {
            if !is_bases(inserted) {
                return Err("`del…ins` needs the inserted bases".to_owned());
            }
            return Ok((
                start,
                last,
                AlleleChange::DeletionInsertion {
                    deleted: stated(deleted, "deleted")?,
                    inserted: inserted.to_owned(),
                },
            ));
        }
        return Ok((
            start,
            last,
            AlleleChange::Deletion {
                deleted: stated(deleted, "deleted")?,
            },
        ));
    }
    if let Some(inserted) = rest.strip_prefix("ins") {
        if !ranged || last != first + 1 {
            return Err(
                "an insertion goes between two adjacent positions, e.g. `g.123_124insAC`"
                    .to_owned(),
            );
        }
        if !is_bases(inserted) {
            return Err("`ins` needs the inserted bases".to_owned());
        }
        return Ok((
            first,
            first,
            AlleleChange::Insertion {
                inserted: inserted.to_owned(),
            },
        ));
    }
    if let Some(duplicated) = rest.strip_prefix("dup") {
        return Ok((
            start,
            last,
            AlleleChange::Duplication {
                duplicated: stated(duplicated, "duplicated")?,
            },
        ));
    }
    if let Some((reference, alternate)) = rest
        .split_once('>')
        .filter(|(reference, _)| reference.starts_with(|c: char| c.is_ascii_alphabetic()))
    {
        if ranged {
            return Err("a substitution changes one position; use `delins` for more".to_owned());
        }
        let single = |b: &str| b.chars().count() == 1 && is_bases(b);
        if !single(reference) || !single(alternate) {
            return Err("a substitution is one base to one base, e.g. `12345A>G`".to_owned());
        }
        if reference == alternate {
            return Err("the substitution does not change the base".to_owned());
        }
        return Ok((
            start,
            last,
            AlleleChange::Substitution {
                reference: reference.to_owned(),
                alternate: alternate.to_owned(),
            },
        ));
    }
    Err("the change is not a supported one (substitution, del, ins, delins or dup)".to_owned())
}
