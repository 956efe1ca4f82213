//! Region slices of indexed genome files, as htsget serves them: a [`Slice`] is a list of
//! [`Piece`]s (byte ranges of the stored file, and small re-encoded parts carried inline) whose
//! concatenation is a valid file of the same format, with one header, exactly the records that
//! overlap the requested regions (each once, in file order) and one end-of-file marker.
//!
//! How the records are found: the file's index (BAI, TBI, CSI, CRAI) gives the chunks that may
//! hold overlapping records, exactly as htslib and htsget-search use it. The gateway then goes
//! further than whole-block servers: it decodes only the blocks at each edge of a region, keeps
//! the records that overlap, and re-encodes them (a few kilobytes) as inline pieces, so that a
//! record crossing a BGZF block boundary is never cut and a 1 kb region costs about the bytes of
//! its records. Between the edges, whole blocks are served as they are stored.
//!
//! Coordinates are htsget's: 0-based, `start` inclusive, `end` exclusive. A record overlaps a
//! region when its reference span `[pos, pos + span)` intersects `[start, end)`, where the span
//! is what htslib uses (`bam_endpos`: the CIGAR's reference length, 1 for unmapped or CIGAR-less
//! reads; VCF `rlen`: `INFO/END` or the length of `REF`).
//!
//! Where the bytes come from: every read goes through the object-storage seam
//! ([`gemj_objects::RandomAccess`]), so a file on local disk and an object in S3 are sliced by the
//! same code; [`IndexedFile::open`] is the local-path shortcut that tests and tools use.
//!
//! Invariant: nothing in this module writes to a file; every answer is computed from a file and
//! its index opened once ([`IndexedFile`], cached by [`FileCache`]).

mod bgzf_file;
mod cache;
mod cram_file;
pub mod samples;

use std::io;
use std::path::Path;
use std::sync::Arc;

use gemj_objects::{LocalFile, RandomAccess, SourceReader};

pub use self::cache::{FileCache, RECHECK_AFTER};

// The protocol's vocabulary is the slicer's: one definition, in gemj-htsget.
pub use gemj_htsget::{Class, Format, ReferenceName, Region};

/// What to slice.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SliceQuery {
    /// Header only, or header and records.
    pub class: Class,
    /// The regions; empty means every record of the file. Regions may overlap and come in any
    /// order: the slice holds each overlapping record once, in file order.
    pub regions: Vec<Region>,
}

/// One part of a slice.
#[derive(Clone, PartialEq, Eq)]
pub enum Piece {
    /// Bytes `[start, end)` of the stored file, served as they are.
    Range {
        /// First byte.
        start: u64,
        /// One past the last byte.
        end: u64,
    },
    /// Bytes made for this answer (re-encoded edge blocks, the end-of-file marker), complete
    /// BGZF blocks or CRAM containers.
    Inline(Vec<u8>),
}

impl std::fmt::Debug for Piece {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Range { start, end } => write!(f, "Range({start}..{end})"),
            Self::Inline(b) => write!(f, "Inline({} bytes)", b.len()),
        }
    }
}

impl Piece {
    /// The number of bytes.
    #[must_use]
    pub fn len(&self) -> u64 {
        match self {
            Self::Range { start, end } => end - start,
            Self::Inline(b) => b.len() as u64,
        }
    }

    /// Whether it holds no bytes.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A slice: pieces whose concatenation is a valid file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Slice {
    /// The pieces, in order.
    pub pieces: Vec<Piece>,
    /// Whether the slice is the whole stored file, byte for byte (so its MD5 is the file's).
    pub whole_file: bool,
}

impl Slice {
    /// The total number of bytes.
    #[must_use]
    pub fn len(&self) -> u64 {
        self.pieces.iter().map(Piece::len).sum()
    }

    /// Whether it holds no bytes.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends a piece, joining adjacent ranges and adjacent inline bytes.
    pub fn push(&mut self, piece: Piece) {
        if piece.is_empty() {
            return;
        }
        match (self.pieces.last_mut(), piece) {
            (Some(Piece::Range { end, .. }), Piece::Range { start, end: e }) if *end == start => {
                *end = e;
            }
            (Some(Piece::Inline(a)), Piece::Inline(b)) => a.extend_from_slice(&b),
            (_, p) => self.pieces.push(p),
        }
    }

    /// A reader over the slice's bytes, reading ranges of the stored object as it goes, in
    /// the source's chunk size (one request per chunk on a remote store). Blocking.
    #[must_use]
    pub fn reader(&self, source: &Arc<dyn RandomAccess>) -> Box<dyn io::Read + Send> {
        use std::io::Read as _;
        let mut out: Box<dyn io::Read + Send> = Box::new(io::empty());
        for p in &self.pieces {
            let next: Box<dyn io::Read + Send> = match p {
                Piece::Range { start, end } => {
                    Box::new(SourceReader::range(Arc::clone(source), *start, *end))
                }
                Piece::Inline(b) => Box::new(io::Cursor::new(b.clone())),
            };
            out = Box::new(out.chain(next));
        }
        out
    }

    /// Reads the slice's bytes from the stored file at `path` (tests, tools).
    ///
    /// # Errors
    /// I/O errors.
    pub fn read_all(&self, path: &Path) -> io::Result<Vec<u8>> {
        let source: Arc<dyn RandomAccess> = Arc::new(LocalFile::open(path)?);
        self.read_all_from(&source)
    }

    /// Reads the slice's bytes from `source`.
    ///
    /// # Errors
    /// I/O errors.
    pub fn read_all_from(&self, source: &Arc<dyn RandomAccess>) -> io::Result<Vec<u8>> {
        use std::io::Read as _;
        let mut out = Vec::with_capacity(usize::try_from(self.len()).unwrap_or(0));
        self.reader(source).read_to_end(&mut out)?;
        Ok(out)
    }
}

/// Why a slice cannot be made. Each maps to one htsget error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SliceError {
    /// The reference sequence is not in the file's header (htsget `NotFound`).
    #[error("reference sequence {0:?} is not in this file")]
    UnknownReference(String),
    /// The query is malformed for this file (htsget `InvalidInput`).
    #[error("{0}")]
    InvalidInput(String),
    /// The range cannot be satisfied (htsget `InvalidRange`).
    #[error("{0}")]
    InvalidRange(String),
    /// The file or its index is damaged or not what its format says.
    #[error("{file}: {reason}")]
    Damaged {
        /// The file's name (its path or object key).
        file: String,
        /// What was wrong.
        reason: String,
    },
    /// Reading the file failed.
    #[error("I/O error on {file}")]
    Io {
        /// The file's name (its path or object key).
        file: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

impl SliceError {
    pub(crate) fn io(file: &str) -> impl FnOnce(io::Error) -> Self + '_ {
        move |source| Self::Io {
            file: file.to_owned(),
            source,
        }
    }

    pub(crate) fn damaged(file: &str, reason: impl std::fmt::Display) -> Self {
        Self::Damaged {
            file: file.to_owned(),
            reason: reason.to_string(),
        }
    }
}

/// An indexed genome file, opened once: its header, index and layout, ready to slice.
#[derive(Debug)]
pub struct IndexedFile {
    format: Format,
    name: String,
    source: Arc<dyn RandomAccess>,
    inner: Inner,
}

#[derive(Debug)]
enum Inner {
    Bgzf(bgzf_file::BgzfFile),
    Cram(cram_file::CramFile),
}

impl IndexedFile {
    /// Opens the local file `path` of `format` with its index at `index` (BAI, TBI or CSI for
    /// BGZF formats, told apart by their magic; CRAI for CRAM).
    ///
    /// # Errors
    /// [`SliceError::Io`] or [`SliceError::Damaged`].
    pub fn open(format: Format, path: &Path, index: &Path) -> Result<Self, SliceError> {
        let name = path.display().to_string();
        let index_name = index.display().to_string();
        let source = LocalFile::open(path).map_err(SliceError::io(&name))?;
        let index_source = LocalFile::open(index).map_err(SliceError::io(&index_name))?;
        Self::from_sources(
            format,
            (&name, Arc::new(source)),
            (&index_name, &index_source),
        )
    }

    /// Opens a file of `format` read through `file` with its index read through `index`, each
    /// with the name its errors use (a path or an object key). Blocking.
    ///
    /// # Errors
    /// [`SliceError::Io`] or [`SliceError::Damaged`].
    pub fn from_sources(
        format: Format,
        (name, source): (&str, Arc<dyn RandomAccess>),
        (index_name, index): (&str, &dyn RandomAccess),
    ) -> Result<Self, SliceError> {
        let inner = match format {
            Format::Cram => Inner::Cram(cram_file::CramFile::open(
                name,
                Arc::clone(&source),
                index_name,
                index,
            )?),
            Format::Bam | Format::Vcf | Format::Bcf => Inner::Bgzf(bgzf_file::BgzfFile::open(
                format,
                name,
                Arc::clone(&source),
                index_name,
                index,
            )?),
        };
        Ok(Self {
            format,
            name: name.to_owned(),
            source,
            inner,
        })
    }

    /// The format.
    #[must_use]
    pub fn format(&self) -> Format {
        self.format
    }

    /// The stored file's name (its path or object key).
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What the stored file is read through.
    #[must_use]
    pub fn source(&self) -> &Arc<dyn RandomAccess> {
        &self.source
    }

    /// The reference sequence names, in header order.
    #[must_use]
    pub fn reference_names(&self) -> &[String] {
        match &self.inner {
            Inner::Bgzf(f) => f.reference_names(),
            Inner::Cram(f) => f.reference_names(),
        }
    }

    /// The samples of the file: the sample column names of a VCF or BCF; the read groups'
    /// `SM` of a BAM or CRAM (distinct, in header order; empty without read groups).
    #[must_use]
    pub fn sample_names(&self) -> &[String] {
        match &self.inner {
            Inner::Bgzf(f) => f.sample_names(),
            Inner::Cram(c) => c.sample_names(),
        }
    }

    /// The slice for `query`.
    ///
    /// # Errors
    /// [`SliceError::UnknownReference`] for a reference sequence not in the header (or `*` on
    /// variants); [`SliceError::InvalidRange`] for `start >= end` or a start past the sequence;
    /// [`SliceError::InvalidInput`] for a header-class query with regions; I/O and damage.
    pub fn slice(&self, query: &SliceQuery) -> Result<Slice, SliceError> {
        self.check_query(query)?;
        match &self.inner {
            Inner::Bgzf(f) => f.slice(query),
            Inner::Cram(f) => f.slice(query),
        }
    }

    /// Checks `query` against the header without reading any record: the errors
    /// [`IndexedFile::slice`] would give for the request itself (not for damage), so a ticket
    /// can be refused or issued in index time and the records cut when the data is fetched.
    ///
    /// # Errors
    /// As [`IndexedFile::slice`], except I/O and damage.
    pub fn check(&self, query: &SliceQuery) -> Result<(), SliceError> {
        self.check_query(query)?;
        match &self.inner {
            Inner::Bgzf(f) => f.check_regions(&query.regions),
            Inner::Cram(f) => f.check_regions(&query.regions),
        }
    }

    fn check_query(&self, query: &SliceQuery) -> Result<(), SliceError> {
        if query.class == Class::Header && !query.regions.is_empty() {
            return Err(SliceError::InvalidInput(
                "class=header cannot be combined with a region".to_owned(),
            ));
        }
        for r in &query.regions {
            if let Some(end) = r.end
                && r.start >= end
            {
                return Err(SliceError::InvalidRange(format!(
                    "start {} must be less than end {end}",
                    r.start
                )));
            }
            if r.reference == ReferenceName::Unplaced {
                if !self.format.is_reads() {
                    return Err(SliceError::InvalidInput(
                        "referenceName=* (unplaced reads) applies to reads only".to_owned(),
                    ));
                }
                if r.start != 0 || r.end.is_some() {
                    return Err(SliceError::InvalidInput(
                        "referenceName=* cannot be combined with start or end".to_owned(),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// The largest index read whole into memory (a BAI of a 30x human genome is ~10 MB).
pub(crate) const MAX_INDEX_BYTES: usize = 256 << 20;

/// Reads a whole index from `source`, refusing one larger than [`MAX_INDEX_BYTES`].
pub(crate) fn read_whole(name: &str, source: &dyn RandomAccess) -> Result<Vec<u8>, SliceError> {
    let len = usize::try_from(source.len())
        .ok()
        .filter(|&n| n <= MAX_INDEX_BYTES)
        .ok_or_else(|| SliceError::damaged(name, "larger than any index the gateway reads"))?;
    let mut bytes = vec![0; len];
    source
        .read_exact_at(&mut bytes, 0)
        .map_err(SliceError::io(name))?;
    Ok(bytes)
}

/// The distinct `SM` of a SAM header's read groups, in header order.
fn read_group_samples(header: &noodles::sam::Header) -> Vec<String> {
    use noodles::sam::header::record::value::map::read_group::tag::SAMPLE;
    let mut out: Vec<String> = Vec::new();
    for group in header.read_groups().values() {
        if let Some(sample) = group.other_fields().get(&SAMPLE) {
            let sample = sample.to_string();
            if !out.contains(&sample) {
                out.push(sample);
            }
        }
    }
    out
}
