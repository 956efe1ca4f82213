//! The Human Phenotype Ontology from its OBO 1.2 text (`hp.obo`).
//!
//! Only `[Term]` stanzas are read, and of them only the tags filter expansion needs: `id`,
//! `name`, `is_a`, `is_obsolete`, `alt_id` and `replaced_by`. Every other tag, the header (but
//! `data-version`) and other stanzas (`[Typedef]`, `[Instance]`) are skipped.
//!
//! Values are read as the OBO 1.2 format guide writes them: a comment runs from the first
//! unescaped `!` to the end of the line, a trailing modifier in unescaped braces (`{...}`) at
//! the end is dropped, and a name's escapes (`\n`, `\t`, `\W`, `\` + any other character) are
//! undone. An `is_a`, `alt_id` or `replaced_by` value is its first whitespace-separated token.
//!
//! Ids are interned: each term has a dense `u32` index (its position in the file), and the
//! `is_a` graph is held twice, parents and children, as compressed adjacency lists over those
//! indices, so the transitive closures are plain breadth-first walks over arrays.
//!
//! Choices the format leaves open, made strict where a silent choice could change a Beacon
//! answer:
//!
//! - a term id defined by two stanzas is an error ([`OboError::DuplicateId`]), not a merge;
//! - an `alt_id` claimed by two terms is an error ([`OboError::DuplicateAltId`]); an `alt_id`
//!   that is also a term's primary id (HPO keeps obsolete stanzas for merged ids) is allowed,
//!   and the primary stanza is what [`Ontology::contains`] and [`Ontology::label`] see;
//! - a second `id:` or `name:` in one stanza is an error; a second `replaced_by:` is ignored
//!   (the first one wins);
//! - an `is_a` to an id the file does not define (as a term or an `alt_id`) is dropped with an
//!   [`OboWarning`]; an `is_a` to an `alt_id` links to that id's term;
//! - `is_a` cycles are kept as written: the closures visit each term once, so they terminate.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fmt;

/// Why an OBO text could not be read as an ontology.
///
/// Line numbers are 1-based; for errors about a whole stanza, the line of its `[Term]` header.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OboError {
    /// A `[Term]` stanza without an `id:` tag.
    #[error("line {line}: [Term] stanza has no id")]
    MissingId {
        /// The stanza's header line.
        line: usize,
    },
    /// Two `[Term]` stanzas with the same id.
    #[error("line {line}: term {id} is defined twice (first on line {first_line})")]
    DuplicateId {
        /// The id.
        id: String,
        /// The second stanza's header line.
        line: usize,
        /// The first stanza's header line.
        first_line: usize,
    },
    /// Two terms give the same `alt_id`, so it cannot be resolved.
    #[error("line {line}: alt_id {alt_id} is already given by another term (line {first_line})")]
    DuplicateAltId {
        /// The secondary id.
        alt_id: String,
        /// The line of the second `alt_id:`.
        line: usize,
        /// The line of the first `alt_id:`.
        first_line: usize,
    },
    /// A tag that may appear once per stanza (`id`, `name`) appears again.
    #[error("line {line}: a second `{tag}:` in one [Term] stanza")]
    DuplicateTag {
        /// The tag.
        tag: &'static str,
        /// The line of the second occurrence.
        line: usize,
    },
    /// A tag this crate reads has no value (after removing comments and trailing modifiers).
    #[error("line {line}: `{tag}:` has no value")]
    EmptyValue {
        /// The tag.
        tag: &'static str,
        /// The line.
        line: usize,
    },
    /// `is_obsolete:` with a value other than `true` or `false`.
    #[error("line {line}: is_obsolete must be `true` or `false`, not {value:?}")]
    InvalidBoolean {
        /// The value (at most 40 characters of it).
        value: String,
        /// The line.
        line: usize,
    },
    /// A line in a `[Term]` stanza that is neither blank, a `!` comment nor `tag: value`.
    #[error("line {line}: not a `tag: value` line")]
    MissingColon {
        /// The line.
        line: usize,
    },
    /// A line starting with `[` without a closing `]`.
    #[error("line {line}: stanza header without a closing `]`")]
    UnclosedHeader {
        /// The line.
        line: usize,
    },
    /// More terms than `u32` indices.
    #[error("more than {} terms", u32::MAX - 1)]
    TooManyTerms,
    /// Compressed OBO text ([`Ontology::parse_obo_gz`]) that does not decompress to UTF-8.
    #[error("the gzip-compressed OBO text does not decompress to UTF-8: {0}")]
    Compressed(String),
}

impl OboError {
    /// The 1-based line the error is about, when there is one.
    #[must_use]
    pub fn line(&self) -> Option<usize> {
        match self {
            Self::MissingId { line }
            | Self::DuplicateId { line, .. }
            | Self::DuplicateAltId { line, .. }
            | Self::DuplicateTag { line, .. }
            | Self::EmptyValue { line, .. }
            | Self::InvalidBoolean { line, .. }
            | Self::MissingColon { line }
            | Self::UnclosedHeader { line } => Some(*line),
            Self::TooManyTerms | Self::Compressed(_) => None,
        }
    }
}

/// Something odd in an OBO text that still leaves a usable ontology.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OboWarning {
    /// An `is_a` to an id the file does not define; the edge is dropped.
    UnknownParent {
        /// The line of the `is_a:`.
        line: usize,
        /// The term the `is_a` belongs to.
        term: String,
        /// The undefined parent id.
        parent: String,
    },
    /// A `replaced_by` naming an id the file does not define; [`Ontology::resolve`] gives
    /// `None` for the term.
    UnknownReplacement {
        /// The line of the term's `[Term]` header.
        line: usize,
        /// The obsolete term.
        term: String,
        /// The undefined replacement id.
        replaced_by: String,
    },
}

impl fmt::Display for OboWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownParent { line, term, parent } => {
                write!(f, "line {line}: {term} is_a {parent}, which is not defined")
            }
            Self::UnknownReplacement {
                line,
                term,
                replaced_by,
            } => write!(
                f,
                "line {line}: {term} is replaced_by {replaced_by}, which is not defined"
            ),
        }
    }
}

/// One `[Term]` stanza, as far as this crate reads it.
#[derive(Debug, Clone)]
struct Term {
    id: Box<str>,
    name: Option<Box<str>>,
    obsolete: bool,
    replaced_by: Option<Box<str>>,
    /// The `[Term]` header line.
    line: usize,
}

/// The terms of an OBO ontology and their `is_a` hierarchy.
///
/// Lookups take primary term ids (`HP:0001250`). A secondary id (`alt_id`) or an obsolete id is
/// first mapped to the current term with [`Ontology::resolve`].
///
/// ```
/// use gemj_ontology::Ontology;
///
/// let obo = "\
/// [Term]
/// id: HP:0000001
/// name: All
///
/// [Term]
/// id: HP:0000118
/// name: Phenotypic abnormality
/// alt_id: HP:0000000
/// is_a: HP:0000001 ! All
/// ";
/// let hpo = Ontology::parse_obo(obo)?;
/// assert_eq!(hpo.label("HP:0000118"), Some("Phenotypic abnormality"));
/// assert_eq!(hpo.descendants("HP:0000001"), ["HP:0000001", "HP:0000118"]);
/// assert_eq!(hpo.resolve("HP:0000000"), Some("HP:0000118"));
/// # Ok::<(), gemj_ontology::OboError>(())
/// ```
#[derive(Clone, Default)]
pub struct Ontology {
    terms: Vec<Term>,
    /// Primary id → index.
    index: HashMap<Box<str>, u32>,
    /// Secondary id (`alt_id`) → index of the term that gives it.
    alt: HashMap<Box<str>, u32>,
    /// Parents of term `i`: `parent_list[parent_offsets[i]..parent_offsets[i + 1]]`.
    parent_offsets: Vec<usize>,
    parent_list: Vec<u32>,
    /// Children of term `i`, in file order: `child_list[child_offsets[i]..child_offsets[i + 1]]`.
    child_offsets: Vec<usize>,
    child_list: Vec<u32>,
    data_version: Option<String>,
    warnings: Vec<OboWarning>,
}

impl fmt::Debug for Ontology {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ontology")
            .field("terms", &self.terms.len())
            .field("alt_ids", &self.alt.len())
            .field("is_a", &self.parent_list.len())
            .field("data_version", &self.data_version)
            .field("warnings", &self.warnings.len())
            .finish()
    }
}

/// The HPO release shipped with the project, gzip-compressed: `<workspace>/ontologies/hpo/hp.obo.gz`
/// (release `hp/releases/2025-01-16`; see `ontologies/hpo/PROVENANCE.md` for its terms of use and
/// the attribution they require).
pub const BUNDLED_OBO_GZ: &[u8] = include_bytes!("../../../ontologies/hpo/hp.obo.gz");

impl Ontology {
    /// The HPO release shipped with the project ([`BUNDLED_OBO_GZ`]), decompressed and parsed
    /// (about 50 ms in a release build).
    ///
    /// # Errors
    ///
    /// As [`Ontology::parse_obo_gz`]; the shipped file parses (tested).
    pub fn bundled() -> Result<Self, OboError> {
        Self::parse_obo_gz(BUNDLED_OBO_GZ)
    }

    /// Reads a gzip-compressed OBO 1.2 text (`hp.obo.gz`), as [`Ontology::parse_obo`] does.
    ///
    /// # Errors
    ///
    /// [`OboError::Compressed`] when the bytes are not gzip or not UTF-8 once decompressed;
    /// otherwise as [`Ontology::parse_obo`].
    pub fn parse_obo_gz(bytes: &[u8]) -> Result<Self, OboError> {
        use std::io::Read as _;
        let mut text = String::new();
        flate2::read::MultiGzDecoder::new(bytes)
            .read_to_string(&mut text)
            .map_err(|e| OboError::Compressed(e.to_string()))?;
        Self::parse_obo(&text)
    }

    /// Reads the `[Term]` stanzas of an OBO 1.2 text.
    ///
    /// # Errors
    ///
    /// [`OboError`] for a malformed `[Term]` stanza or stanza header, with its line; see the
    /// [module docs](self) for which oddities are errors and which are warnings.
    pub fn parse_obo(text: &str) -> Result<Self, OboError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut parser = Parser::default();
        for (number, raw) in text.lines().enumerate() {
            parser.line(number + 1, raw)?;
        }
        parser.finish_stanza()?;
        parser.build()
    }

    /// The number of terms (primary ids, obsolete ones included).
    #[must_use]
    pub fn len(&self) -> usize {
        self.terms.len()
    }

    /// Whether the text had no `[Term]` stanza.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// Whether `id` is a term's primary id (obsolete terms included, `alt_id`s not).
    #[must_use]
    pub fn contains(&self, id: &str) -> bool {
        self.index.contains_key(id)
    }

    /// The term's `name`, for a primary id.
    #[must_use]
    pub fn label(&self, id: &str) -> Option<&str> {
        self.term(id).and_then(|t| t.name.as_deref())
    }

    /// Whether `id` is a primary id marked `is_obsolete: true` (false for unknown ids and for
    /// `alt_id`s).
    #[must_use]
    pub fn is_obsolete(&self, id: &str) -> bool {
        self.term(id).is_some_and(|t| t.obsolete)
    }

    /// The current primary id for `id`: `id` itself for a current term; the term giving it as
    /// `alt_id` for a secondary id; the `replaced_by` term (followed transitively) for an
    /// obsolete one, or the term giving the obsolete id as `alt_id` when it has no
    /// `replaced_by`.
    ///
    /// `None` for an unknown id, an obsolete term with no replacement, a replacement the file
    /// does not define, or a `replaced_by` cycle.
    #[must_use]
    pub fn resolve(&self, id: &str) -> Option<&str> {
        let mut at = self.lookup(id)?;
        // Each step moves to another term; more steps than terms means a cycle.
        for _ in 0..=self.terms.len() {
            let term = self.terms.get(ix(at))?;
            if !term.obsolete {
                return Some(&term.id);
            }
            let next = match term.replaced_by.as_deref() {
                Some(replacement) => self.lookup(replacement)?,
                None => self.alt.get(&*term.id).copied()?,
            };
            if next == at {
                return None;
            }
            at = next;
        }
        None
    }

    /// The term's direct `is_a` parents, in file order of the `is_a` lines (empty for an
    /// unknown id).
    pub fn parents<'s>(&'s self, id: &str) -> impl Iterator<Item = &'s str> + use<'s> {
        self.direct(id, &self.parent_offsets, &self.parent_list)
    }

    /// The terms with a direct `is_a` to this one, in file order (empty for an unknown id).
    pub fn children<'s>(&'s self, id: &str) -> impl Iterator<Item = &'s str> + use<'s> {
        self.direct(id, &self.child_offsets, &self.child_list)
    }

    /// The term itself and every term below it by `is_a`, transitively: what a filter on `id`
    /// matches. Breadth-first, the term first, each term once; empty for an unknown id.
    #[must_use]
    pub fn descendants(&self, id: &str) -> Vec<&str> {
        self.closure(id, &self.child_offsets, &self.child_list)
    }

    /// The term itself and every term above it by `is_a`, transitively, up to the root.
    /// Breadth-first, the term first, each term once; empty for an unknown id.
    #[must_use]
    pub fn ancestors(&self, id: &str) -> Vec<&str> {
        self.closure(id, &self.parent_offsets, &self.parent_list)
    }

    /// Every primary id, in file order.
    #[must_use]
    pub fn ids(&self) -> impl ExactSizeIterator<Item = &str> {
        self.terms.iter().map(|t| &*t.id)
    }

    /// The header's `data-version` (`hp/releases/2025-01-16`), when it has one.
    #[must_use]
    pub fn data_version(&self) -> Option<&str> {
        self.data_version.as_deref()
    }

    /// Oddities that did not stop parsing, in file order.
    #[must_use]
    pub fn warnings(&self) -> &[OboWarning] {
        &self.warnings
    }

    fn term(&self, id: &str) -> Option<&Term> {
        self.index.get(id).and_then(|&i| self.terms.get(ix(i)))
    }

    /// A primary id's index, else an `alt_id`'s term index.
    fn lookup(&self, id: &str) -> Option<u32> {
        self.index.get(id).or_else(|| self.alt.get(id)).copied()
    }

    fn neighbours<'s>(offsets: &[usize], list: &'s [u32], at: u32) -> &'s [u32] {
        let start = offsets.get(ix(at)).copied().unwrap_or(0);
        let end = offsets.get(ix(at) + 1).copied().unwrap_or(start);
        list.get(start..end).unwrap_or(&[])
    }

    fn id_of(&self, at: u32) -> &str {
        self.terms.get(ix(at)).map_or("", |t| &*t.id)
    }

    fn direct<'s>(
        &'s self,
        id: &str,
        offsets: &'s [usize],
        list: &'s [u32],
    ) -> impl Iterator<Item = &'s str> + use<'s> {
        let around = self
            .index
            .get(id)
            .map_or(&[][..], |&at| Self::neighbours(offsets, list, at));
        around.iter().map(|&n| self.id_of(n))
    }

    fn closure(&self, id: &str, offsets: &[usize], list: &[u32]) -> Vec<&str> {
        let Some(&start) = self.index.get(id) else {
            return Vec::new();
        };
        let mut seen = vec![false; self.terms.len()];
        let mut order = vec![start];
        if let Some(s) = seen.get_mut(ix(start)) {
            *s = true;
        }
        let mut next = 0;
        while let Some(&at) = order.get(next) {
            next += 1;
            for &n in Self::neighbours(offsets, list, at) {
                if let Some(s) = seen.get_mut(ix(n))
                    && !*s
                {
                    *s = true;
                    order.push(n);
                }
            }
        }
        order.into_iter().map(|at| self.id_of(at)).collect()
    }
}

/// A dense index as a `usize` (lossless: indices are `u32` and targets are at least 32-bit).
fn ix(i: u32) -> usize {
    i as usize
}

/// The `[Term]` stanza being read.
#[derive(Debug)]
struct Stanza<'a> {
    line: usize,
    id: Option<&'a str>,
    name: Option<String>,
    obsolete: bool,
    replaced_by: Option<&'a str>,
    is_a: Vec<(&'a str, usize)>,
    alt_ids: Vec<(&'a str, usize)>,
}

/// Line-by-line state of [`Ontology::parse_obo`].
#[derive(Debug, Default)]
struct Parser<'a> {
    /// Whether a stanza header has been seen (the header ends there).
    in_stanzas: bool,
    /// The `[Term]` stanza being read, if the current stanza is one.
    stanza: Option<Stanza<'a>>,
    terms: Vec<Term>,
    index: HashMap<Box<str>, u32>,
    /// `(term, parent id, line)`, grouped by term in index order.
    is_a: Vec<(u32, &'a str, usize)>,
    /// `(term, alt_id, line)`.
    alt_ids: Vec<(u32, &'a str, usize)>,
    data_version: Option<String>,
}

impl<'a> Parser<'a> {
    fn line(&mut self, number: usize, raw: &'a str) -> Result<(), OboError> {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('!') {
            return Ok(());
        }
        if let Some(rest) = line.strip_prefix('[') {
            let Some((kind, _)) = rest.split_once(']') else {
                return Err(OboError::UnclosedHeader { line: number });
            };
            self.finish_stanza()?;
            self.in_stanzas = true;
            if kind.trim() == "Term" {
                self.stanza = Some(Stanza {
                    line: number,
                    id: None,
                    name: None,
                    obsolete: false,
                    replaced_by: None,
                    is_a: Vec::new(),
                    alt_ids: Vec::new(),
                });
            }
            return Ok(());
        }
        let Some(stanza) = self.stanza.as_mut() else {
            if !self.in_stanzas
                && self.data_version.is_none()
                && let Some(("data-version", value)) =
                    line.split_once(':').map(|(t, v)| (t.trim(), v))
            {
                let value = strip_value(value);
                if !value.is_empty() {
                    self.data_version = Some(value.to_owned());
                }
            }
            return Ok(());
        };
        let Some((tag, value)) = line.split_once(':') else {
            return Err(OboError::MissingColon { line: number });
        };
        match tag.trim() {
            "id" => {
                if stanza.id.is_some() {
                    return Err(OboError::DuplicateTag {
                        tag: "id",
                        line: number,
                    });
                }
                stanza.id = Some(token(value, "id", number)?);
            }
            "name" => {
                if stanza.name.is_some() {
                    return Err(OboError::DuplicateTag {
                        tag: "name",
                        line: number,
                    });
                }
                let value = strip_value(value);
                if value.is_empty() {
                    return Err(OboError::EmptyValue {
                        tag: "name",
                        line: number,
                    });
                }
                stanza.name = Some(unescape(value));
            }
            "is_a" => stanza.is_a.push((token(value, "is_a", number)?, number)),
            "alt_id" => stanza
                .alt_ids
                .push((token(value, "alt_id", number)?, number)),
            "replaced_by" => {
                let replacement = token(value, "replaced_by", number)?;
                stanza.replaced_by.get_or_insert(replacement);
            }
            "is_obsolete" => {
                stanza.obsolete = match strip_value(value) {
                    "true" => true,
                    "false" => false,
                    "" => {
                        return Err(OboError::EmptyValue {
                            tag: "is_obsolete",
                            line: number,
                        });
                    }
                    other => {
                        return Err(OboError::InvalidBoolean {
                            value: other.chars().take(40).collect(),
                            line: number,
                        });
                    }
                };
            }
            _ => {}
        }
        Ok(())
    }

    fn finish_stanza(&mut self) -> Result<(), OboError> {
        let Some(stanza) = self.stanza.take() else {
            return Ok(());
        };
        let Some(id) = stanza.id else {
            return Err(OboError::MissingId { line: stanza.line });
        };
        let at = u32::try_from(self.terms.len())
            .ok()
            .filter(|&at| at < u32::MAX)
            .ok_or(OboError::TooManyTerms)?;
        match self.index.entry(id.into()) {
            Entry::Occupied(first) => {
                return Err(OboError::DuplicateId {
                    id: id.to_owned(),
                    line: stanza.line,
                    first_line: self.terms.get(ix(*first.get())).map_or(0, |t| t.line),
                });
            }
            Entry::Vacant(slot) => {
                slot.insert(at);
            }
        }
        self.terms.push(Term {
            id: id.into(),
            name: stanza.name.map(String::into_boxed_str),
            obsolete: stanza.obsolete,
            replaced_by: stanza.replaced_by.map(Box::from),
            line: stanza.line,
        });
        self.is_a
            .extend(stanza.is_a.into_iter().map(|(p, line)| (at, p, line)));
        self.alt_ids
            .extend(stanza.alt_ids.into_iter().map(|(a, line)| (at, a, line)));
        Ok(())
    }

    fn build(self) -> Result<Ontology, OboError> {
        let Parser {
            terms,
            index,
            is_a,
            alt_ids,
            data_version,
            ..
        } = self;
        let mut warnings = Vec::new();

        let mut alt: HashMap<Box<str>, u32> = HashMap::with_capacity(alt_ids.len());
        for &(at, alt_id, line) in &alt_ids {
            if terms.get(ix(at)).is_some_and(|t| &*t.id == alt_id) {
                continue;
            }
            match alt.entry(alt_id.into()) {
                Entry::Occupied(first) if *first.get() != at => {
                    let first_line = alt_ids
                        .iter()
                        .find(|&&(_, a, _)| a == alt_id)
                        .map_or(0, |&(_, _, l)| l);
                    return Err(OboError::DuplicateAltId {
                        alt_id: alt_id.to_owned(),
                        line,
                        first_line,
                    });
                }
                Entry::Occupied(_) => {}
                Entry::Vacant(slot) => {
                    slot.insert(at);
                }
            }
        }
        let lookup = |id: &str| index.get(id).or_else(|| alt.get(id)).copied();

        let n = u32::try_from(terms.len()).map_err(|_| OboError::TooManyTerms)?;
        let mut parent_offsets = Vec::with_capacity(terms.len() + 1);
        parent_offsets.push(0);
        let mut parent_list: Vec<u32> = Vec::with_capacity(is_a.len());
        let mut edges = is_a.iter().peekable();
        for child in 0..n {
            let start = parent_list.len();
            while let Some(&&(c, parent, line)) = edges.peek() {
                if c != child {
                    break;
                }
                edges.next();
                match lookup(parent) {
                    Some(p) => {
                        if !parent_list.get(start..).is_some_and(|s| s.contains(&p)) {
                            parent_list.push(p);
                        }
                    }
                    None => warnings.push(OboWarning::UnknownParent {
                        line,
                        term: terms
                            .get(ix(c))
                            .map_or_else(String::new, |t| t.id.to_string()),
                        parent: parent.to_owned(),
                    }),
                }
            }
            parent_offsets.push(parent_list.len());
        }

        let (child_offsets, child_list) = invert(&parent_offsets, &parent_list, n);

        for term in &terms {
            if let Some(replacement) = term.replaced_by.as_deref()
                && lookup(replacement).is_none()
            {
                warnings.push(OboWarning::UnknownReplacement {
                    line: term.line,
                    term: term.id.to_string(),
                    replaced_by: replacement.to_owned(),
                });
            }
        }
        warnings.sort_by_key(|w| match w {
            OboWarning::UnknownParent { line, .. }
            | OboWarning::UnknownReplacement { line, .. } => *line,
        });

        Ok(Ontology {
            terms,
            index,
            alt,
            parent_offsets,
            parent_list,
            child_offsets,
            child_list,
            data_version,
            warnings,
        })
    }
}

/// The children adjacency lists from the parents ones, each list in child index order.
fn invert(parent_offsets: &[usize], parent_list: &[u32], n: u32) -> (Vec<usize>, Vec<u32>) {
    let mut child_offsets = vec![0usize; ix(n) + 1];
    for &p in parent_list {
        if let Some(count) = child_offsets.get_mut(ix(p) + 1) {
            *count += 1;
        }
    }
    for i in 1..child_offsets.len() {
        let before = child_offsets.get(i - 1).copied().unwrap_or(0);
        if let Some(here) = child_offsets.get_mut(i) {
            *here += before;
        }
    }
    let mut fill = child_offsets.clone();
    let mut child_list = vec![0u32; parent_list.len()];
    for child in 0..n {
        for &p in Ontology::neighbours(parent_offsets, parent_list, child) {
            if let Some(pos) = fill.get_mut(ix(p))
                && let Some(slot) = child_list.get_mut(*pos)
            {
                *slot = child;
                *pos += 1;
            }
        }
    }

    (child_offsets, child_list)
}

/// The first whitespace-separated token of a value (an id), or [`OboError::EmptyValue`].
fn token<'a>(value: &'a str, tag: &'static str, line: usize) -> Result<&'a str, OboError> {
    strip_value(value)
        .split_whitespace()
        .next()
        .ok_or(OboError::EmptyValue { tag, line })
}

/// A value without its comment (from the first unescaped `!`) and trailing modifier (a final
/// unescaped `{...}`), trimmed. Escapes are kept.
fn strip_value(value: &str) -> &str {
    let bytes = value.as_bytes();
    let mut end = bytes.len();
    let mut open = None;
    let mut close = None;
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'\\' => {
                i += 2;
                continue;
            }
            b'!' => {
                end = i;
                break;
            }
            b'{' => open = Some(i),
            b'}' => close = Some(i),
            _ => {}
        }
        i += 1;
    }
    // `end` is the position of an ASCII `!` or the length: a char boundary.
    let mut value = value.get(..end).unwrap_or(value).trim_end();
    if let (Some(open), Some(close)) = (open, close)
        && open < close
        && close + 1 == value.len()
    {
        value = value.get(..open).unwrap_or(value).trim_end();
    }
    value.trim_start()
}

/// A value with OBO escapes undone: `\n`, `\t`, `\W` (space), `\` + any other character.
fn unescape(value: &str) -> String {
    if !value.contains('\\') {
        return value.to_owned();
    }
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('W') => out.push(' '),
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{strip_value, unescape};

    #[test]
    fn values_lose_comments_and_trailing_modifiers() {
        assert_eq!(strip_value(" HP:0000001 ! All"), "HP:0000001");
        assert_eq!(strip_value(" HP:1 {source=\"x\"} ! c"), "HP:1");
        assert_eq!(strip_value(" a \\! b ! c"), "a \\! b");
        assert_eq!(strip_value(" a {b} c"), "a {b} c");
        assert_eq!(strip_value(" !"), "");
        assert_eq!(strip_value("\\"), "\\");
        assert_eq!(strip_value(" é{ü}"), "é");
    }

    #[test]
    fn names_are_unescaped() {
        assert_eq!(unescape("a\\!b\\Wc\\"), "a!b c");
        assert_eq!(unescape("plain"), "plain");
    }
}
