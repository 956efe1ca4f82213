//! CRAM slices: whole containers served as byte ranges of the stored file, and the containers at
//! the edges of a region trimmed to the records that overlap it and re-encoded as inline
//! containers. No reference FASTA is needed, whether the file is reference-based, embeds its
//! reference or stores no reference.
//!
//! Layout (read once by [`CramFile::open`], from the CRAI as htslib reads it: three reads of the
//! file whatever its size, see [`indexed_layout`]): the file definition and the SAM header
//! container (with any empty container before the first data container) are `[0, header_end)`;
//! every data container is recorded with its offset, end and landmarks; the CRAI entries (one per
//! slice and reference sequence) are mapped to their container and slice and kept in memory,
//! sorted by reference sequence and start, so that a query costs a binary search. A trimmed
//! container's slices are matched to the index by landmark. A stored standard
//! end-of-file container is served as a range, otherwise the 38 bytes of CRAM 3 § 9 inline; one
//! end-of-file container is served even when the file holds several.
//!
//! A container whose every CRAI entry lies inside one merged region (or is unplaced, for `*`) is
//! served whole: every record of it overlaps the query. A container that only partly overlaps
//! is decoded, its overlapping records kept and re-encoded as one new container with one slice
//! per original slice. The re-encoding is structural, not through SAM records: every data series
//! is decoded as htslib's `cram_decode_slice` decodes it (the CRAM 3.0 encodings htslib reads:
//! EXTERNAL, HUFFMAN, BETA, GAMMA, SUBEXP, BYTE_ARRAY_LEN, BYTE_ARRAY_STOP) and written back
//! with EXTERNAL encodings, the values unchanged. Read features stay relative to the reference
//! and each new slice keeps its original slice's reference sequence, alignment start, span and
//! reference MD5, so it decodes against the same reference; embedded reference bases are cut to
//! the span of the kept records (with their MD5, which htslib checks). The substitution matrix,
//! tag dictionary, read names, read groups and tags are copied, so htslib regenerates `MD`/`NM`
//! exactly as for the original.
//!
//! Mates: CRAM stores a mate pair within a slice as an attached chain whose mate fields and
//! template length the decoder computes. A chain kept whole stays attached (with new
//! distances). A chain cut by the region is written detached, with the flags, mate fields and
//! template length htslib computes for the original slice (the emulation follows
//! `cram_decode_slice_xref`), so `samtools view` prints the same line for every kept record.
//!
//! Overlap follows htslib: a record's reference span is `[pos, pos + max(1, reference length))`,
//! the reference length coming from its read features (its CIGAR), and 1 for unmapped reads; `*`
//! is every record without a reference sequence.
//!
//! Blocks: raw blocks are read in place; rANS 4x8 blocks are decoded here, with tables built only
//! for the contexts a block uses (noodles builds all 256, about 1 MB, for every order-1 block,
//! which dominated the cost of small containers); blocks of other methods (gzip, bzip2, lzma,
//! CRAM 3.1 codecs) are decompressed by noodles. New blocks of 256 bytes to 60 kB are gzipped as
//! one gzip member (a BGZF block, which htslib inflates), others stored raw.
//!
//! Cost: a whole container costs nothing but its CRAI entries; an edge container costs
//! decompressing it (mostly its quality scores) and encoding the kept records, so about 0.5 ms for
//! a 300-record container and 15 to 20 ms for a 10,000-record one.
//!
//! Fallback: a container that cannot be re-encoded faithfully is served whole (a superset of the
//! requested records, logged at debug level): when the file does not store read names (`RN`
//! false: htslib then makes up names from record counters and the file name), when its
//! compression or slice header block is itself compressed, when it uses an encoding htslib does
//! not read (GOLOMB, GOLOMB_RICE, CRAM 4 codecs) or an unknown preservation map key, or when a
//! byte-array encoding stands where htslib reads single bytes. Files written by htslib, htsjdk
//! and noodles need none of these.
//!
//! Structure: the file definition, container headers, blocks, slice headers and compression
//! headers are read and written by the workspace's CRAM codec (gemj-cram); this module decodes
//! and encodes the records.
//!
//! Invariant: nothing here writes to a file, and nothing panics on a damaged file or index: every
//! length, offset and count is checked, and block decoding runs under `catch_unwind` as a last
//! resort against a panic inside noodles.

use std::{
    borrow::Cow,
    collections::{BTreeMap, HashMap},
    io::{self, Read as _, Write as _},
    panic::{AssertUnwindSafe, catch_unwind},
    sync::Arc,
};

use gemj_cram::{
    Block, ContainerHeader, CramError, EOF_CONTAINER, FILE_DEFINITION_LEN, MULTI_REFERENCE,
    Preservation, SliceHeader, Version, compression_header, compression_method,
    content_type::{COMPRESSION_HEADER, CORE_DATA, EXTERNAL_DATA, SLICE_HEADER},
    num::{read_itf8, take, write_itf8},
    read_block, read_slice_header, write_block, write_compression_header, write_container_header,
    write_slice_header,
};
use gemj_objects::RandomAccess;

use md5::{Digest as _, Md5};
use noodles::{bgzf, cram};

use super::{Class, Piece, ReferenceName, Region, Slice, SliceError, SliceQuery};

/// The longest container header accepted (a damaged landmark count cannot make us read more).
const MAX_CONTAINER_HEADER_LEN: usize = gemj_cram::container::MAX_HEADER_LEN;

/// The largest block gzip-compressed as one gzip member (what htslib inflates).
const MAX_GZIP_BLOCK_LEN: usize = 60_000;

/// The smallest block worth gzip-compressing (a deflate stream costs time to set up and 26
/// bytes of gzip framing).
const MIN_GZIP_BLOCK_LEN: usize = 256;

/// BAM flags (SAM § 1.4).
const FLAG_PAIRED: i32 = 0x1;
const FLAG_UNMAPPED: i32 = 0x4;
const FLAG_MATE_UNMAPPED: i32 = 0x8;
const FLAG_REVERSE: i32 = 0x10;
const FLAG_MATE_REVERSE: i32 = 0x20;
const FLAG_READ1: i32 = 0x40;

/// CRAM record flags (CF, § 10.1; bit 4 is htslib's explicit template length).
const CF_QUALITY_ARRAY: i32 = 0x1;
const CF_DETACHED: i32 = 0x2;
const CF_MATE_DOWNSTREAM: i32 = 0x4;
const CF_EXPLICIT_TLEN: i32 = 0x10;

/// Mate flags (MF, § 10.4).
const MF_REVERSE: i32 = 0x1;
const MF_UNMAPPED: i32 = 0x2;

/// An opened CRAM file with its CRAI index.
#[derive(Debug)]
pub(crate) struct CramFile {
    name: String,
    file: Arc<dyn RandomAccess>,
    file_len: u64,
    reference_names: Vec<String>,
    reference_lengths: Vec<u64>,
    reference_ids: HashMap<String, usize>,
    /// The read groups' samples (`@RG SM`), distinct, in header order.
    sample_names: Vec<String>,
    /// `[0, header_end)`: the file definition and the header container(s).
    header_end: u64,
    /// The offset of a stored standard end-of-file container.
    eof: Option<u64>,
    /// The data containers, in file order.
    containers: Vec<ContainerInfo>,
    /// CRAI entries of each reference sequence, sorted by start.
    by_reference: Vec<ReferenceEntries>,
    /// The containers holding unplaced reads (CRAI reference `-1`), in file order.
    unplaced: Vec<usize>,
}

/// A data container of the stored file.
#[derive(Debug)]
struct ContainerInfo {
    offset: u64,
    end: u64,
    landmarks: Vec<u64>,
    /// Its CRAI entries.
    entries: Vec<Entry>,
}

/// A CRAI entry: the records of one slice on one reference sequence.
#[derive(Debug, Clone, Copy)]
struct Entry {
    /// `None` for unplaced reads.
    reference: Option<usize>,
    /// 0-based start of the alignment span.
    start: u64,
    /// 0-based end (exclusive) of the alignment span, at least `start + 1`.
    end: u64,
    /// The slice within its container.
    slice: usize,
}

/// The CRAI entries of one reference sequence, sorted by start.
#[derive(Debug, Default)]
struct ReferenceEntries {
    starts: Vec<u64>,
    ends: Vec<u64>,
    /// The running maximum of `ends`, for binary search.
    max_ends: Vec<u64>,
    containers: Vec<usize>,
}

/// What went wrong, before it becomes a [`SliceError`].
#[derive(Debug)]
enum Fault {
    Io(io::Error),
    /// The file or index is damaged.
    Damaged(String),
    /// The container is valid but cannot be re-encoded faithfully: serve it whole.
    Unsupported(String),
}

impl From<io::Error> for Fault {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

impl From<CramError> for Fault {
    fn from(e: CramError) -> Self {
        match e {
            CramError::Io(e) => Self::Io(e),
            CramError::Unsupported(reason) => Self::Unsupported(reason),
            other => Self::Damaged(other.to_string()),
        }
    }
}

impl Fault {
    /// The [`SliceError`] of the file `name` (an unsupported container is reported as damage).
    fn into_slice_error(self, name: &str) -> SliceError {
        match self {
            Self::Io(source) => SliceError::Io {
                file: name.to_owned(),
                source,
            },
            Self::Damaged(reason) | Self::Unsupported(reason) => SliceError::damaged(name, reason),
        }
    }
}

/// A [`Fault::Damaged`].
fn damaged(reason: impl Into<String>) -> Fault {
    Fault::Damaged(reason.into())
}

/// A [`Fault::Unsupported`].
fn unsupported(reason: impl Into<String>) -> Fault {
    Fault::Unsupported(reason.into())
}

/// The regions of a query, resolved against the header and merged.
#[derive(Debug, Default)]
struct Regions {
    /// Disjoint, sorted `[start, end)` intervals per reference sequence ID.
    named: BTreeMap<usize, Vec<(u64, u64)>>,
    /// Whether `*` (unplaced reads) is asked for.
    unplaced: bool,
}

impl Regions {
    /// Whether a record on `reference` spanning `[start, end)` overlaps a region.
    fn overlaps(&self, reference: i32, start: u64, end: u64) -> bool {
        let Ok(reference) = usize::try_from(reference) else {
            return self.unplaced;
        };
        let Some(intervals) = self.named.get(&reference) else {
            return false;
        };
        let i = intervals.partition_point(|&(_, e)| e <= start);
        intervals.get(i).is_some_and(|&(s, _)| s < end)
    }

    /// Whether a CRAI entry overlaps a region.
    fn touches(&self, entry: &Entry) -> bool {
        match entry.reference {
            None => self.unplaced,
            Some(r) => self.overlaps(i32::try_from(r).unwrap_or(i32::MAX), entry.start, entry.end),
        }
    }

    /// Whether a CRAI entry lies inside one region, so every record of it overlaps.
    fn covers(&self, entry: &Entry) -> bool {
        match entry.reference {
            None => self.unplaced,
            Some(r) => self.named.get(&r).is_some_and(|intervals| {
                let i = intervals.partition_point(|&(_, e)| e <= entry.start);
                intervals
                    .get(i)
                    .is_some_and(|&(s, e)| s <= entry.start && entry.end <= e)
            }),
        }
    }
}

impl CramFile {
    /// Opens `path` with its CRAI index `crai`: reads the file definition, the SAM header, the
    /// container layout and the index.
    ///
    /// # Errors
    /// [`SliceError::Io`]; [`SliceError::Damaged`] for a file that is not CRAM 3, a damaged
    /// container header, or an index entry that points at no container or slice.
    pub(crate) fn open(
        name: &str,
        file: Arc<dyn RandomAccess>,
        crai_name: &str,
        crai: &dyn RandomAccess,
    ) -> Result<Self, SliceError> {
        Self::open_inner(name, file, crai_name, crai).map_err(|e| e.into_slice_error(name))
    }

    /// [`CramFile::open`], before errors name the file.
    fn open_inner(
        name: &str,
        file: Arc<dyn RandomAccess>,
        crai_name: &str,
        crai: &dyn RandomAccess,
    ) -> Result<Self, Fault> {
        let file_len = file.len();
        let index = read_crai(crai).map_err(|e| match e {
            Fault::Io(source) => damaged(format!("cannot read the index {crai_name}: {source}")),
            other => other,
        })?;
        let layout = indexed_layout(&*file, file_len, &index)?;

        let header_bytes = read_at(&*file, 0, to_usize(layout.header_container_end)?)?;
        let header = catch_unwind(AssertUnwindSafe(|| {
            cram::io::Reader::new(&header_bytes[..]).read_header()
        }))
        .map_err(|_| damaged("the SAM header container cannot be decoded"))?
        .map_err(|e| damaged(format!("invalid SAM header: {e}")))?;

        let sample_names = super::read_group_samples(&header);
        let mut reference_names = Vec::new();
        let mut reference_lengths = Vec::new();
        for (name, reference) in header.reference_sequences() {
            reference_names.push(name.to_string());
            reference_lengths.push(u64::try_from(reference.length().get()).unwrap_or(u64::MAX));
        }
        let reference_ids = reference_names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), i))
            .collect();

        let mut containers: Vec<ContainerInfo> = layout
            .containers
            .into_iter()
            .map(|(offset, end, landmarks)| ContainerInfo {
                offset,
                end,
                landmarks,
                entries: Vec::new(),
            })
            .collect();

        let mut by_reference: Vec<Vec<(u64, u64, usize)>> =
            (0..reference_names.len()).map(|_| Vec::new()).collect();
        let mut unplaced = Vec::new();

        for record in &index {
            let c = containers
                .binary_search_by_key(&record.offset, |c| c.offset)
                .map_err(|_| {
                    damaged(format!(
                        "index entry at offset {} points at no container",
                        record.offset
                    ))
                })?;
            let container = &mut containers[c];
            let slice = container
                .landmarks
                .iter()
                .position(|&l| l == record.landmark)
                .ok_or_else(|| {
                    damaged(format!(
                        "index entry at offset {} points at no slice (landmark {})",
                        record.offset, record.landmark
                    ))
                })?;
            let start = record
                .alignment_start
                .map_or(0, |p| u64::try_from(usize::from(p) - 1).unwrap_or(u64::MAX));
            let span = u64::try_from(record.alignment_span)
                .unwrap_or(u64::MAX)
                .max(1);
            let entry = Entry {
                reference: record.reference,
                start,
                end: start.saturating_add(span),
                slice,
            };
            match record.reference {
                Some(r) => {
                    let list = by_reference.get_mut(r).ok_or_else(|| {
                        damaged(format!(
                            "index entry names reference sequence {r}, not in the header"
                        ))
                    })?;
                    list.push((entry.start, entry.end, c));
                }
                None => unplaced.push(c),
            }
            container.entries.push(entry);
        }

        unplaced.sort_unstable();
        unplaced.dedup();

        let by_reference = by_reference
            .into_iter()
            .map(|mut list| {
                list.sort_unstable();
                let mut entries = ReferenceEntries::default();
                let mut max_end = 0;
                for (start, end, c) in list {
                    max_end = max_end.max(end);
                    entries.starts.push(start);
                    entries.ends.push(end);
                    entries.max_ends.push(max_end);
                    entries.containers.push(c);
                }
                entries
            })
            .collect();

        Ok(Self {
            name: name.to_owned(),
            file,
            file_len,
            reference_names,
            reference_lengths,
            reference_ids,
            sample_names,
            header_end: layout.header_end,
            eof: layout.eof,
            containers,
            by_reference,
            unplaced,
        })
    }

    /// The reference sequence names, in header order.
    pub(crate) fn reference_names(&self) -> &[String] {
        &self.reference_names
    }

    /// The read groups' samples (`@RG SM`), distinct, in header order.
    pub(crate) fn sample_names(&self) -> &[String] {
        &self.sample_names
    }

    /// The slice for `query` (see the module documentation).
    ///
    /// # Errors
    /// [`SliceError::UnknownReference`] for a name not in the header;
    /// [`SliceError::InvalidRange`] for a start at or past the end of its reference sequence;
    /// [`SliceError::Io`] and [`SliceError::Damaged`].
    pub(crate) fn slice(&self, query: &SliceQuery) -> Result<Slice, SliceError> {
        if query.class == Class::Body && query.regions.is_empty() {
            return Ok(Slice {
                pieces: vec![Piece::Range {
                    start: 0,
                    end: self.file_len,
                }],
                whole_file: true,
            });
        }

        let mut slice = Slice::default();
        slice.push(Piece::Range {
            start: 0,
            end: self.header_end,
        });

        if query.class == Class::Body {
            let regions = self.resolve(&query.regions)?;
            self.push_records(&regions, &mut slice)
                .map_err(|e| e.into_slice_error(&self.name))?;
        }

        slice.push(match self.eof {
            Some(offset) => Piece::Range {
                start: offset,
                end: offset + EOF_CONTAINER.len() as u64,
            },
            None => Piece::Inline(EOF_CONTAINER.to_vec()),
        });

        Ok(slice)
    }

    /// Checks region names and ranges against the header (see
    /// [`crate::slice::IndexedFile::check`]).
    pub(crate) fn check_regions(&self, regions: &[Region]) -> Result<(), SliceError> {
        self.resolve(regions).map(|_| ())
    }

    /// Resolves region names, checks starts and merges overlapping regions.
    fn resolve(&self, regions: &[Region]) -> Result<Regions, SliceError> {
        let mut resolved = Regions::default();

        for region in regions {
            match &region.reference {
                ReferenceName::Unplaced => resolved.unplaced = true,
                ReferenceName::Named(name) => {
                    let &id = self
                        .reference_ids
                        .get(name)
                        .ok_or_else(|| SliceError::UnknownReference(name.clone()))?;
                    let length = self.reference_lengths[id];
                    if region.start >= length {
                        return Err(SliceError::InvalidRange(format!(
                            "start {} is past the end of {name} ({length} bases)",
                            region.start
                        )));
                    }
                    let end = region.end.map_or(length, |e| e.min(length));
                    if region.start >= end {
                        return Err(SliceError::InvalidRange(format!(
                            "start {} must be less than end {end}",
                            region.start
                        )));
                    }
                    resolved
                        .named
                        .entry(id)
                        .or_default()
                        .push((region.start, end));
                }
            }
        }

        for intervals in resolved.named.values_mut() {
            intervals.sort_unstable();
            let mut merged: Vec<(u64, u64)> = Vec::with_capacity(intervals.len());
            for &(s, e) in intervals.iter() {
                match merged.last_mut() {
                    Some(last) if s <= last.1 => last.1 = last.1.max(e),
                    _ => merged.push((s, e)),
                }
            }
            *intervals = merged;
        }

        Ok(resolved)
    }

    /// Appends the containers (whole or trimmed) holding the records of `regions`.
    fn push_records(&self, regions: &Regions, slice: &mut Slice) -> Result<(), Fault> {
        let mut touched = Vec::new();

        for (&reference, intervals) in &regions.named {
            let Some(entries) = self.by_reference.get(reference) else {
                continue;
            };
            for &(qs, qe) in intervals {
                let first = entries.max_ends.partition_point(|&e| e <= qs);
                for i in first..entries.starts.len() {
                    if entries.starts[i] >= qe {
                        break;
                    }
                    if entries.ends[i] > qs {
                        touched.push(entries.containers[i]);
                    }
                }
            }
        }
        if regions.unplaced {
            touched.extend_from_slice(&self.unplaced);
        }

        touched.sort_unstable();
        touched.dedup();

        for c in touched {
            let container = &self.containers[c];
            let whole = (0..container.landmarks.len())
                .all(|s| container.entries.iter().any(|e| e.slice == s))
                && container.entries.iter().all(|e| regions.covers(e));

            let range = Piece::Range {
                start: container.offset,
                end: container.end,
            };

            if whole {
                slice.push(range);
                continue;
            }

            match self.trim(container, regions, &*self.file) {
                Ok(Some(bytes)) => slice.push(Piece::Inline(bytes)),
                Ok(None) => {}
                Err(Fault::Unsupported(reason)) => {
                    tracing::debug!(
                        message = "Serving a whole CRAM container: it cannot be trimmed.",
                        file = %self.name,
                        offset = container.offset,
                        reason,
                    );
                    slice.push(range);
                }
                Err(e) => return Err(e),
            }
        }

        Ok(())
    }

    /// Decodes `container`, keeps the records that overlap `regions` and re-encodes them as one
    /// container (`None` when none overlaps).
    fn trim(
        &self,
        container: &ContainerInfo,
        regions: &Regions,
        file: &dyn RandomAccess,
    ) -> Result<Option<Vec<u8>>, Fault> {
        let len = to_usize(container.end - container.offset)?;
        let bytes = read_at(file, container.offset, len)?;
        let parsed = ParsedContainer::parse(&bytes)?;

        if !parsed.compression.read_names {
            return Err(unsupported(
                "read names are not stored (htslib makes them up from record counters)",
            ));
        }

        let wanted: Vec<bool> = parsed
            .slices
            .iter()
            .map(|s| {
                container.entries.iter().any(|e| {
                    container.landmarks.get(e.slice) == Some(&s.landmark) && regions.touches(e)
                })
            })
            .collect();

        let context = DecodeContext {
            compression: &parsed.compression,
            reference_lengths: &self.reference_lengths,
        };

        let mut out_slices = Vec::new();

        let result = catch_unwind(AssertUnwindSafe(|| -> Result<(), Fault> {
            for (slice, _) in parsed.slices.iter().zip(&wanted).filter(|(_, w)| **w) {
                let (core, external) = decompress_slice(&slice.blocks)?;
                let external: Vec<(i32, &[u8])> =
                    external.iter().map(|(id, data)| (*id, &data[..])).collect();

                let decoded = decode_slice(&context, &slice.header, &core, &external)?;
                if let Some(out) =
                    select_and_encode(&context, &slice.header, &decoded, &external, regions)?
                {
                    out_slices.push(out);
                }
            }
            Ok(())
        }));

        match result {
            Ok(r) => r?,
            Err(_) => return Err(damaged("a block of the container cannot be decoded")),
        }

        if out_slices.is_empty() {
            return Ok(None);
        }

        encode_container(&parsed.compression, &out_slices).map(Some)
    }
}

/// The container layout found by [`indexed_layout`].
#[derive(Debug, PartialEq, Eq)]
struct Layout {
    header_container_end: u64,
    header_end: u64,
    /// `(offset, end, landmarks)` of each data container.
    containers: Vec<(u64, u64, Vec<u64>)>,
    eof: Option<u64>,
}

/// The container layout from the file definition, the SAM header container, the last 38 bytes
/// and the CRAI: every data container is where the index says (its slices at the index's
/// landmarks), and ends where the next one starts, or at the end-of-file container. Three reads
/// of the file whatever its size, as htslib opens a CRAM; walking every container header
/// instead costs one read per container, tens of thousands of ranged GETs for a genome in S3.
/// A container the index does not name (one without records) stays inside its predecessor's
/// byte range, where it changes nothing.
fn indexed_layout(
    file: &dyn RandomAccess,
    file_len: u64,
    index: &[CraiRecord],
) -> Result<Layout, Fault> {
    let header_container_end = header_container_end(file, file_len)?;

    let eof_len = EOF_CONTAINER.len() as u64;
    let eof = match file_len.checked_sub(eof_len) {
        Some(offset) if offset >= header_container_end => {
            (read_at(file, offset, EOF_CONTAINER.len())? == EOF_CONTAINER).then_some(offset)
        }
        _ => None,
    };
    let data_end = eof.unwrap_or(file_len);

    let mut by_offset: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    for record in index {
        if record.offset < header_container_end || record.offset >= data_end {
            return Err(damaged(format!(
                "index entry at offset {} points at no container",
                record.offset
            )));
        }
        by_offset
            .entry(record.offset)
            .or_default()
            .push(record.landmark);
    }
    let offsets: Vec<u64> = by_offset.keys().copied().collect();
    let containers = by_offset
        .into_iter()
        .enumerate()
        .map(|(i, (offset, mut landmarks))| {
            landmarks.sort_unstable();
            landmarks.dedup();
            let end = offsets.get(i + 1).copied().unwrap_or(data_end);
            (offset, end, landmarks)
        })
        .collect();

    Ok(Layout {
        header_container_end,
        header_end: offsets.first().copied().unwrap_or(header_container_end),
        containers,
        eof,
    })
}

/// Checks the file definition (CRAM 3.x) and returns where the SAM header container ends.
fn header_container_end(file: &dyn RandomAccess, file_len: u64) -> Result<u64, Fault> {
    // Reason: 26 bytes.
    let definition_len = FILE_DEFINITION_LEN as u64;
    if file_len < definition_len {
        return Err(damaged("too short for a CRAM file definition"));
    }
    let definition = read_at(file, 0, FILE_DEFINITION_LEN)?;
    let Ok(definition) = gemj_cram::file_definition::read_file_definition(&mut &definition[..])
    else {
        return Err(damaged("not a CRAM file (no CRAM magic number)"));
    };
    let Version { major, minor } = definition.version;
    if major != 3 {
        return Err(damaged(format!(
            "CRAM {major}.{minor} is not supported (only CRAM 3.x)"
        )));
    }
    let (header, header_len) = read_container_header(file, definition_len, file_len)?;
    container_end(definition_len, header_len, &header, file_len)
}

/// The end of the container at `offset`, checked against the file length.
fn container_end(
    offset: u64,
    header_len: usize,
    header: &ContainerHeader,
    file_len: u64,
) -> Result<u64, Fault> {
    offset
        .checked_add(header_len as u64)
        .and_then(|o| o.checked_add(header.length as u64))
        .filter(|&end| end <= file_len)
        .ok_or_else(|| {
            damaged(format!(
                "container at offset {offset} runs past the end of the file"
            ))
        })
}

/// Reads the container header at `offset`, growing the read until it parses.
fn read_container_header(
    file: &dyn RandomAccess,
    offset: u64,
    file_len: u64,
) -> Result<(ContainerHeader, usize), Fault> {
    let available = file_len - offset;
    let mut want = 64;

    loop {
        let n = to_usize(available.min(want as u64))?;
        let buf = read_at(file, offset, n)?;
        let mut src = &buf[..];

        match gemj_cram::read_container_header(&mut src, Version::V3_0) {
            Ok(header) => return Ok((header, buf.len() - src.len())),
            Err(CramError::Truncated)
                if (n as u64) < available && want < MAX_CONTAINER_HEADER_LEN =>
            {
                want *= 8;
            }
            Err(e) => {
                return Err(match Fault::from(e) {
                    Fault::Damaged(reason) => {
                        damaged(format!("container header at offset {offset}: {reason}"))
                    }
                    other => other,
                });
            }
        }
    }
}

/// Reads the CRAI index (gzip, or BGZF as htslib may write it).
fn read_crai(source: &dyn RandomAccess) -> Result<Vec<CraiRecord>, Fault> {
    let len = to_usize(source.len())?;
    if len > super::MAX_INDEX_BYTES {
        return Err(damaged("index: larger than any index the gateway reads"));
    }
    let mut raw = vec![0; len];
    source.read_exact_at(&mut raw, 0)?;
    let is_bgzf = gemj_bgzf::is_header(&raw);

    if is_bgzf {
        let mut text = String::new();
        bgzf::io::Reader::new(&raw[..])
            .read_to_string(&mut text)
            .map_err(|e| damaged(format!("index: {e}")))?;
        return text
            .lines()
            .filter(|l| !l.is_empty())
            .map(parse_crai_line)
            .collect();
    }

    let index = cram::crai::io::Reader::new(&raw[..])
        .read_index()
        .map_err(|e| damaged(format!("index: {e}")))?;
    Ok(index
        .iter()
        .map(|r| CraiRecord {
            reference: r.reference_sequence_id(),
            alignment_start: r.alignment_start(),
            alignment_span: r.alignment_span(),
            offset: r.offset(),
            landmark: r.landmark(),
        })
        .collect())
}

/// A CRAI record (§ 12 of the CRAM specification; `samtools index`).
struct CraiRecord {
    reference: Option<usize>,
    alignment_start: Option<noodles::core::Position>,
    alignment_span: usize,
    offset: u64,
    landmark: u64,
}

/// Parses one CRAI line: reference, start, span, container offset, slice offset, slice size.
fn parse_crai_line(line: &str) -> Result<CraiRecord, Fault> {
    let bad = || damaged(format!("index: invalid line {line:?}"));
    let fields: Vec<&str> = line.split('\t').collect();
    if fields.len() != 6 {
        return Err(bad());
    }
    let reference: i64 = fields[0].parse().map_err(|_| bad())?;
    let start: usize = fields[1].parse().map_err(|_| bad())?;
    Ok(CraiRecord {
        reference: match reference {
            -1 => None,
            r => Some(usize::try_from(r).map_err(|_| bad())?),
        },
        alignment_start: noodles::core::Position::new(start),
        alignment_span: fields[2].parse().map_err(|_| bad())?,
        offset: fields[3].parse().map_err(|_| bad())?,
        landmark: fields[4].parse().map_err(|_| bad())?,
    })
}

/// Reads `len` bytes at `offset`.
fn read_at(file: &dyn RandomAccess, offset: u64, len: usize) -> io::Result<Vec<u8>> {
    let mut buf = vec![0; len];
    file.read_exact_at(&mut buf, offset)?;
    Ok(buf)
}

/// `n` as a `usize`, or damage.
fn to_usize(n: u64) -> Result<usize, Fault> {
    usize::try_from(n).map_err(|_| damaged("length out of range"))
}

// ---------------------------------------------------------------------------------------------
// Container structure (§ 7, § 8).

/// The payload of a block whose header we parse ourselves, which must be stored raw.
fn raw_data<'a>(block: &Block<'a>, what: &str) -> Result<&'a [u8], Fault> {
    block
        .raw_data()
        .ok_or_else(|| unsupported(format!("the {what} block is compressed")))
}

/// A container read for trimming: its compression header and slices.
#[derive(Debug)]
struct ParsedContainer<'a> {
    compression: CompressionHeader,
    slices: Vec<ParsedSlice<'a>>,
}

/// A slice: its header and its blocks (core data block first).
#[derive(Debug)]
struct ParsedSlice<'a> {
    /// Where its header starts in the container body (the container header's landmark).
    landmark: u64,
    header: SliceHeader,
    blocks: Vec<Block<'a>>,
}

impl<'a> ParsedContainer<'a> {
    /// Parses a whole container: its header, compression header, slice headers and blocks.
    fn parse(bytes: &'a [u8]) -> Result<Self, Fault> {
        let mut src = bytes;
        let header = gemj_cram::read_container_header(&mut src, Version::V3_0)?;
        let body = src;

        let block = read_block(&mut src, Version::V3_0)?;
        if block.content_type != COMPRESSION_HEADER {
            return Err(damaged(
                "the container does not start with a compression header",
            ));
        }
        let compression = CompressionHeader::parse(raw_data(&block, "compression header")?)?;

        let mut slices = Vec::with_capacity(header.landmarks.len());
        for &landmark in &header.landmarks {
            if landmark != body.len() - src.len() {
                return Err(damaged("a landmark does not point at a slice header"));
            }
            let block = read_block(&mut src, Version::V3_0)?;
            if block.content_type != SLICE_HEADER {
                return Err(damaged("a landmark does not point at a slice header"));
            }
            let header = read_slice_header(raw_data(&block, "slice header")?)?;
            let mut blocks = Vec::with_capacity(header.block_count.min(1024));
            for i in 0..header.block_count {
                let block = read_block(&mut src, Version::V3_0)?;
                let expected = if i == 0 { CORE_DATA } else { EXTERNAL_DATA };
                if block.content_type != expected {
                    return Err(damaged(
                        "a slice's blocks are not a core block and external blocks",
                    ));
                }
                blocks.push(block);
            }
            if blocks.is_empty() {
                return Err(damaged("a slice without a core data block"));
            }
            slices.push(ParsedSlice {
                landmark: landmark as u64,
                header,
                blocks,
            });
        }

        Ok(Self {
            compression,
            slices,
        })
    }
}

/// A compression header (§ 8.4), as far as trimming needs it.
#[derive(Debug)]
struct CompressionHeader {
    read_names: bool,
    ap_delta: bool,
    reference_required: bool,
    substitution_matrix: [u8; 5],
    /// The raw tag dictionary (`TD`).
    tag_dictionary: Vec<u8>,
    /// The tag keys (24-bit IDs) of each tag line.
    tag_lines: Vec<Vec<i32>>,
    series: HashMap<[u8; 2], Encoding>,
    tags: HashMap<i32, Encoding>,
}

impl CompressionHeader {
    /// Parses the payload of a compression header block.
    fn parse(data: &[u8]) -> Result<Self, Fault> {
        let header = gemj_cram::read_compression_header(data)?;
        let tag_dictionary = header.tag_dictionary().to_vec();
        let tag_lines = compression_header::read_tag_dictionary(&tag_dictionary)?;

        let mut series = HashMap::with_capacity(header.data_series_encodings.len());
        for (key, encoding) in &header.data_series_encodings {
            let encoding = Encoding::new(encoding)?;
            if !matches!(encoding, Encoding::Null) {
                series.insert(*key, encoding);
            }
        }

        let mut tags = HashMap::with_capacity(header.tag_encodings.len());
        for (key, encoding) in &header.tag_encodings {
            tags.insert(*key, Encoding::new(encoding)?);
        }

        Ok(Self {
            read_names: header.read_names(),
            ap_delta: header.ap_delta(),
            reference_required: header.reference_required(),
            substitution_matrix: header
                .substitution_matrix()
                .unwrap_or([0x1b, 0x1b, 0x1b, 0x1b, 0x1b]),
            tag_dictionary,
            tag_lines,
            series,
            tags,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Block decompression.

/// Decompressed blocks of a slice: the core data block and `(content ID, data)` of each external
/// block.
type SliceBlocks<'a> = (Cow<'a, [u8]>, Vec<(i32, Cow<'a, [u8]>)>);

/// Decompresses the blocks of a slice: raw blocks are used in place, rANS 4x8 blocks are decoded
/// here (with tables built only for the contexts a block uses, which keeps small blocks cheap),
/// and blocks of any other method (gzip, bzip2, lzma, CRAM 3.1 codecs) by noodles.
fn decompress_slice<'a>(blocks: &[Block<'a>]) -> Result<SliceBlocks<'a>, Fault> {
    let mut out: Vec<Option<Cow<'a, [u8]>>> = Vec::with_capacity(blocks.len());
    let mut others = Vec::new();

    for (i, block) in blocks.iter().enumerate() {
        out.push(match block.compression_method {
            // An empty block (noodles gzips its empty core data blocks).
            _ if block.uncompressed_size == 0 => Some(Cow::Borrowed(&[][..])),
            compression_method::RAW => {
                if block.data.len() != block.uncompressed_size {
                    return Err(damaged("a raw block's sizes differ"));
                }
                Some(Cow::Borrowed(block.data))
            }
            compression_method::RANS_4X8 => Some(Cow::Owned(rans::decode(
                block.data,
                block.uncompressed_size,
            )?)),
            _ => {
                others.push(i);
                None
            }
        });
    }

    if !others.is_empty() {
        for (i, data) in others.iter().zip(noodles_decompress(blocks, &others)?) {
            out[*i] = Some(Cow::Owned(data));
        }
    }

    let mut out = out.into_iter();
    let core = out
        .next()
        .flatten()
        .ok_or_else(|| damaged("a slice without a core data block"))?;
    let external = blocks[1..]
        .iter()
        .zip(out)
        .map(|(block, data)| {
            data.map(|d| (block.content_id, d))
                .ok_or_else(|| damaged("a block was not decompressed"))
        })
        .collect::<Result<_, _>>()?;

    Ok((core, external))
}

/// Decompresses `blocks[i]` for each `i` of `which` with noodles, by handing it a minimal
/// container of one slice that holds just those blocks (behind an empty core data block when
/// the core data block is not among them).
fn noodles_decompress(blocks: &[Block<'_>], which: &[usize]) -> Result<Vec<Vec<u8>>, Fault> {
    let core_included = which.first() == Some(&0);
    let external: Vec<i32> = which
        .iter()
        .filter(|&&i| i > 0)
        .map(|&i| blocks[i].content_id)
        .collect();
    let mut body = Vec::new();

    let header = SliceHeader {
        reference_sequence_id: -1,
        alignment_start: 0,
        alignment_span: 0,
        record_count: 0,
        record_counter: 0,
        block_count: external.len() + 1,
        embedded_reference_bases_block_content_id: -1,
        reference_md5: [0; 16],
        optional_tags: Vec::new(),
        block_content_ids: external,
    };
    let mut header_data = Vec::new();
    write_slice_header(&mut header_data, &header)?;
    write_block(&mut body, &Block::raw(SLICE_HEADER, 0, &header_data))?;

    if !core_included {
        write_block(&mut body, &Block::raw(CORE_DATA, 0, &[]))?;
    }
    for &i in which {
        write_block(&mut body, &blocks[i])?;
    }

    let mut container = Vec::with_capacity(body.len() + 32);
    write_container_header(
        &mut container,
        &ContainerHeader {
            length: body.len(),
            reference_sequence_id: -1,
            alignment_start: 0,
            alignment_span: 0,
            record_count: 0,
            record_counter: 0,
            base_count: 0,
            block_count: header.block_content_ids.len() + 2,
            landmarks: vec![0],
        },
    )?;
    container.extend_from_slice(&body);

    let mut noodles_container = cram::io::reader::Container::default();
    cram::io::Reader::new(&container[..])
        .read_container(&mut noodles_container)
        .map_err(|e| damaged(format!("container: {e}")))?;
    let slice = noodles_container
        .slices()
        .next()
        .ok_or_else(|| damaged("no slice"))?
        .map_err(|e| damaged(format!("slice: {e}")))?;
    let (core, external) = slice
        .decode_blocks()
        .map_err(|e| damaged(format!("a block cannot be decompressed: {e}")))?;

    let mut out = Vec::with_capacity(which.len());
    if core_included {
        out.push(core.into_owned());
    }
    out.extend(external.into_iter().map(|(_, data)| data.into_owned()));
    if out.len() != which.len() {
        return Err(damaged("a block was not decompressed"));
    }
    for (&i, data) in which.iter().zip(&out) {
        if data.len() != blocks[i].uncompressed_size {
            return Err(damaged(
                "a block's uncompressed size differs from its header",
            ));
        }
    }
    Ok(out)
}

/// The rANS 4x8 codec of CRAM 3.0 (§ 14), decoding only.
mod rans {
    use super::{Fault, damaged};

    /// The total of a frequency table.
    const TOTAL: u32 = 4096;
    /// The lower bound of a state.
    const LOWER_BOUND: u32 = 1 << 23;
    /// The largest block accepted (a damaged size cannot make us allocate more).
    const MAX_LEN: usize = 1 << 28;

    /// A frequency table and its symbol lookup.
    struct Model {
        frequencies: [u16; 256],
        cumulative: [u16; 256],
        total: u32,
        /// The symbol of each cumulative frequency below `total`.
        symbols: Box<[u8; TOTAL as usize]>,
    }

    impl Model {
        /// A model that decodes nothing (a context without frequencies).
        fn empty() -> Self {
            Self {
                frequencies: [0; 256],
                cumulative: [0; 256],
                total: 0,
                symbols: Box::new([0; TOTAL as usize]),
            }
        }

        /// Reads an order-0 frequency table (§ 14.2) and builds its lookup.
        fn read(src: &mut Source<'_>) -> Result<Self, Fault> {
            let mut model = Self::empty();
            for_each_symbol(src, |sym, src| {
                let mut f = u16::from(src.u8()?);
                if f >= 128 {
                    f = ((f & 0x7f) << 8) | u16::from(src.u8()?);
                }
                model.frequencies[usize::from(sym)] = f;
                Ok(())
            })?;
            let mut total = 0u32;
            for sym in 0..256 {
                let f = u32::from(model.frequencies[sym]);
                if total + f > TOTAL {
                    return Err(damaged("rANS frequencies too large"));
                }
                model.cumulative[sym] = total as u16;
                model.symbols[total as usize..(total + f) as usize].fill(sym as u8);
                total += f;
            }
            model.total = total;
            Ok(model)
        }

        /// Decodes one symbol and advances `state`.
        #[inline]
        fn step(&self, state: &mut u32, src: &mut Source<'_>) -> Result<u8, Fault> {
            let f = *state & (TOTAL - 1);
            if f >= self.total {
                return Err(damaged("invalid rANS state"));
            }
            let sym = self.symbols[f as usize];
            let i = usize::from(sym);
            *state = u32::from(self.frequencies[i])
                .wrapping_mul(*state >> 12)
                .wrapping_add(f)
                .wrapping_sub(u32::from(self.cumulative[i]));
            while *state < LOWER_BOUND {
                // The last symbols need no more input.
                let Some(b) = src.next() else { break };
                *state = (*state << 8) | u32::from(b);
            }
            Ok(sym)
        }
    }

    /// Calls `f` for each symbol of a run-length coded symbol list (§ 14.2), ended by 0.
    fn for_each_symbol(
        src: &mut Source<'_>,
        mut f: impl FnMut(u8, &mut Source<'_>) -> Result<(), Fault>,
    ) -> Result<(), Fault> {
        let mut sym = src.u8()?;
        let mut run = 0u8;
        loop {
            f(sym, src)?;
            if run == 0
                && src
                    .peek()
                    .is_some_and(|b| u16::from(b) == u16::from(sym) + 1)
            {
                sym = src.u8()?;
                run = src.u8()?;
            } else if run > 0 {
                run -= 1;
                sym = sym
                    .checked_add(1)
                    .ok_or_else(|| damaged("invalid rANS symbol run"))?;
            } else {
                sym = src.u8()?;
            }
            if sym == 0 {
                return Ok(());
            }
        }
    }

    /// A rANS input stream.
    struct Source<'a> {
        data: &'a [u8],
        position: usize,
    }

    impl Source<'_> {
        /// The next byte, if any.
        fn next(&mut self) -> Option<u8> {
            let b = self.data.get(self.position).copied();
            self.position += 1;
            b
        }

        /// The next byte, not consumed.
        fn peek(&self) -> Option<u8> {
            self.data.get(self.position).copied()
        }

        /// The next byte, or damage.
        fn u8(&mut self) -> Result<u8, Fault> {
            self.next()
                .ok_or_else(|| damaged("unexpected end of a rANS block"))
        }

        /// A little-endian `u32`.
        fn u32(&mut self) -> Result<u32, Fault> {
            let mut b = [0; 4];
            for x in &mut b {
                *x = self.u8()?;
            }
            Ok(u32::from_le_bytes(b))
        }
    }

    /// Decodes a rANS 4x8 block of `expected_len` bytes.
    pub(super) fn decode(data: &[u8], expected_len: usize) -> Result<Vec<u8>, Fault> {
        let mut src = Source { data, position: 0 };
        let order = src.u8()?;
        let _compressed_len = src.u32()?;
        let len = src.u32()? as usize;
        if len != expected_len || len > MAX_LEN {
            return Err(damaged("a rANS block's size differs from its header"));
        }
        let mut out = vec![0; len];

        match order {
            0 => {
                let model = Model::read(&mut src)?;
                let mut states = [src.u32()?, src.u32()?, src.u32()?, src.u32()?];
                for chunk in out.chunks_mut(4) {
                    for (d, state) in chunk.iter_mut().zip(&mut states) {
                        *d = model.step(state, &mut src)?;
                    }
                }
            }
            1 => {
                // Models of the contexts present; context `c` uses `models[index[c]]`, and
                // contexts without frequencies the empty model 0.
                let mut models = vec![Model::empty()];
                let mut index = [0usize; 256];
                for_each_symbol(&mut src, |context, src| {
                    index[usize::from(context)] = models.len();
                    models.push(Model::read(src)?);
                    Ok(())
                })?;
                let mut states = [src.u32()?, src.u32()?, src.u32()?, src.u32()?];
                let mut contexts = [0u8; 4];
                let quarter = len / 4;
                for i in 0..quarter {
                    for k in 0..4 {
                        let model = &models[index[usize::from(contexts[k])]];
                        let sym = model.step(&mut states[k], &mut src)?;
                        out[i + k * quarter] = sym;
                        contexts[k] = sym;
                    }
                }
                for d in &mut out[4 * quarter..] {
                    let model = &models[index[usize::from(contexts[3])]];
                    let sym = model.step(&mut states[3], &mut src)?;
                    *d = sym;
                    contexts[3] = sym;
                }
            }
            _ => return Err(damaged("unknown rANS order")),
        }

        Ok(out)
    }
}

// ---------------------------------------------------------------------------------------------
// Encodings (§ 13) and their decoding, as htslib's cram_codecs.c does it.

/// An encoding of the compression header.
#[derive(Debug, Clone)]
enum Encoding {
    Null,
    External(i32),
    Huffman(Huffman),
    ByteArrayLen(Box<Encoding>, Box<Encoding>),
    ByteArrayStop { stop: u8, id: i32 },
    Beta { offset: i32, bits: u32 },
    Subexp { offset: i32, k: u32 },
    Gamma { offset: i32 },
}

impl Encoding {
    /// The decoder of an encoding the codec read.
    fn new(encoding: &gemj_cram::Encoding) -> Result<Self, Fault> {
        use gemj_cram::EncodingKind as Kind;
        Ok(match encoding.kind()? {
            Kind::Null => Self::Null,
            Kind::External { block_content_id } => Self::External(block_content_id),
            Kind::Huffman {
                alphabet,
                bit_lengths,
            } => Self::Huffman(Huffman::new(&alphabet, &bit_lengths)?),
            Kind::ByteArrayLen { len, value } => {
                Self::ByteArrayLen(Box::new(Self::new(&len)?), Box::new(Self::new(&value)?))
            }
            Kind::ByteArrayStop {
                stop,
                block_content_id,
            } => Self::ByteArrayStop {
                stop,
                id: block_content_id,
            },
            Kind::Beta { offset, bits } => Self::Beta {
                offset,
                bits: u32::try_from(bits)
                    .ok()
                    .filter(|&b| b <= 32)
                    .ok_or_else(|| damaged("malformed BETA encoding"))?,
            },
            Kind::Subexp { offset, k } => Self::Subexp {
                offset,
                k: u32::try_from(k)
                    .ok()
                    .filter(|&k| k <= 32)
                    .ok_or_else(|| damaged("malformed SUBEXP encoding"))?,
            },
            Kind::Gamma { offset } => Self::Gamma { offset },
            Kind::Other { codec } => {
                return Err(unsupported(format!(
                    "encoding {codec} is not CRAM 3.0 as htslib reads it"
                )));
            }
        })
    }

    /// Resolves external block IDs to the slots of a slice's blocks.
    fn bind<'e>(&'e self, slots: &HashMap<i32, usize>) -> Bound<'e> {
        match self {
            Self::Null => Bound::Null,
            Self::External(id) => Bound::External(slots.get(id).copied()),
            Self::Huffman(h) => Bound::Huffman(h),
            Self::ByteArrayLen(len, value) => {
                Bound::ByteArrayLen(Box::new(len.bind(slots)), Box::new(value.bind(slots)))
            }
            Self::ByteArrayStop { stop, id } => Bound::ByteArrayStop {
                stop: *stop,
                slot: slots.get(id).copied(),
            },
            Self::Beta { offset, bits } => Bound::Beta {
                offset: *offset,
                bits: *bits,
            },
            Self::Subexp { offset, k } => Bound::Subexp {
                offset: *offset,
                k: *k,
            },
            Self::Gamma { offset } => Bound::Gamma { offset: *offset },
        }
    }
}

/// A canonical Huffman code (§ 13.4), with codes assigned as htslib assigns them.
#[derive(Debug, Clone)]
struct Huffman {
    /// `(symbol)` sorted by (code length, symbol).
    symbols: Vec<i32>,
    /// For each code length: (first code, index of its first symbol, number of codes).
    by_length: Vec<(u32, usize, usize)>,
    max_length: usize,
}

impl Huffman {
    /// The code of the symbols and code lengths of a HUFFMAN encoding (as many of each).
    fn new(symbols: &[i32], bit_lengths: &[i32]) -> Result<Self, Fault> {
        let n = symbols.len();
        let mut codes: Vec<(usize, i32)> = Vec::with_capacity(n);
        for (&symbol, &len) in symbols.iter().zip(bit_lengths) {
            let len = usize::try_from(len).map_err(|_| damaged("malformed HUFFMAN encoding"))?;
            codes.push((len, symbol));
        }
        let max_length = codes.iter().map(|&(l, _)| l).max().unwrap_or(0);
        if n > 0 && (max_length >= n || max_length > 31) {
            return Err(damaged("malformed HUFFMAN encoding"));
        }
        codes.sort_unstable();

        let mut by_length = vec![(0, 0, 0); max_length + 1];
        let mut value: i64 = -1;
        let mut last_len = 0;
        let mut max_value: i64 = 0;
        for (i, &(len, _)) in codes.iter().enumerate() {
            value += 1;
            if value > max_value {
                return Err(damaged("malformed HUFFMAN encoding"));
            }
            if len > last_len {
                value <<= len - last_len;
                last_len = len;
                max_value = (1 << len) - 1;
            }
            let entry = &mut by_length[len];
            if entry.2 == 0 {
                *entry = (u32::try_from(value).unwrap_or(0), i, 0);
            }
            entry.2 += 1;
        }

        Ok(Self {
            symbols: codes.into_iter().map(|(_, s)| s).collect(),
            by_length,
            max_length,
        })
    }

    /// Decodes one symbol from the core data block.
    fn decode(&self, core: &mut BitReader<'_>) -> Result<i32, Fault> {
        match self.symbols.len() {
            0 => return Err(damaged("use of an empty HUFFMAN encoding")),
            _ if self.max_length == 0 => return Ok(self.symbols[0]),
            _ => {}
        }
        let mut value = 0u32;
        for len in 1..=self.max_length {
            value = (value << 1) | core.bit()?;
            let (first, index, count) = self.by_length[len];
            if count > 0 && value >= first && ((value - first) as usize) < count {
                return Ok(self.symbols[index + (value - first) as usize]);
            }
        }
        Err(damaged("invalid HUFFMAN code"))
    }
}

/// An encoding bound to the blocks of one slice.
#[derive(Debug)]
enum Bound<'e> {
    Null,
    External(Option<usize>),
    Huffman(&'e Huffman),
    ByteArrayLen(Box<Bound<'e>>, Box<Bound<'e>>),
    ByteArrayStop { stop: u8, slot: Option<usize> },
    Beta { offset: i32, bits: u32 },
    Subexp { offset: i32, k: u32 },
    Gamma { offset: i32 },
}

/// The decompressed blocks of one slice, with read positions.
struct Streams<'a> {
    core: BitReader<'a>,
    external: Vec<&'a [u8]>,
}

impl<'a> Streams<'a> {
    /// The external block in `slot`.
    fn external(&mut self, slot: Option<usize>) -> Result<&mut &'a [u8], Fault> {
        slot.and_then(|s| self.external.get_mut(s))
            .ok_or_else(|| damaged("a data series reads an external block the slice lacks"))
    }

    /// Decodes one integer (htslib's `E_INT`).
    fn int(&mut self, bound: &Bound<'_>) -> Result<i32, Fault> {
        match bound {
            Bound::External(slot) => Ok(read_itf8(self.external(*slot)?)?),
            Bound::Huffman(h) => h.decode(&mut self.core),
            Bound::Beta { offset, bits } => {
                let v = self.core.bits(*bits)?;
                Ok((i64::from(v) - i64::from(*offset)) as i32)
            }
            Bound::Gamma { offset } => {
                let mut zeros = 0;
                while self.core.bit()? == 0 {
                    zeros += 1;
                    if zeros > 32 {
                        return Err(damaged("invalid GAMMA code"));
                    }
                }
                let mut v: i64 = 1;
                for _ in 0..zeros {
                    v = (v << 1) | i64::from(self.core.bit()?);
                }
                Ok((v - i64::from(*offset)) as i32)
            }
            Bound::Subexp { offset, k } => {
                let mut ones = 0u32;
                while self.core.bit()? == 1 {
                    ones += 1;
                    if ones > 32 {
                        return Err(damaged("invalid SUBEXP code"));
                    }
                }
                let v: i64 = if ones > 0 {
                    let tail = ones + k - 1;
                    if tail > 32 {
                        return Err(damaged("invalid SUBEXP code"));
                    }
                    i64::from(self.core.bits(tail)?) + (1i64 << tail)
                } else {
                    i64::from(self.core.bits(*k)?)
                };
                Ok((v - i64::from(*offset)) as i32)
            }
            Bound::Null | Bound::ByteArrayLen(..) | Bound::ByteArrayStop { .. } => Err(damaged(
                "an integer data series has a byte-array or null encoding",
            )),
        }
    }

    /// Decodes bytes (htslib's `E_BYTE`, `E_BYTE_ARRAY` and `E_BYTE_ARRAY_BLOCK`), appending
    /// them to `out`: `n` items for item encodings, the stored length for byte-array encodings.
    fn bytes(&mut self, bound: &Bound<'_>, n: usize, out: &mut Vec<u8>) -> Result<usize, Fault> {
        match bound {
            Bound::External(slot) => {
                if n == 0 {
                    return Ok(0);
                }
                out.extend_from_slice(take(self.external(*slot)?, n)?);
                Ok(n)
            }
            Bound::Huffman(h) => {
                for _ in 0..n {
                    out.push(h.decode(&mut self.core)? as u8);
                }
                Ok(n)
            }
            Bound::Beta { offset, bits } => {
                for _ in 0..n {
                    let v = i64::from(self.core.bits(*bits)?) - i64::from(*offset);
                    out.push(v as u8);
                }
                Ok(n)
            }
            Bound::ByteArrayLen(len, value) => {
                let len = usize::try_from(self.int(len)?)
                    .map_err(|_| damaged("negative byte array length"))?;
                self.bytes(value, len, out)?;
                Ok(len)
            }
            Bound::ByteArrayStop { stop, slot } => {
                let reader = self.external(*slot)?;
                let rest = *reader;
                let len = rest
                    .iter()
                    .position(|b| b == stop)
                    .ok_or_else(|| damaged("unterminated BYTE_ARRAY_STOP value"))?;
                out.extend_from_slice(&rest[..len]);
                *reader = &rest[len + 1..];
                Ok(len)
            }
            Bound::Null | Bound::Gamma { .. } | Bound::Subexp { .. } => Err(damaged(
                "a byte data series has an integer-only or null encoding",
            )),
        }
    }

    /// Decodes exactly one byte.
    fn byte(&mut self, bound: &Bound<'_>, scratch: &mut Vec<u8>) -> Result<u8, Fault> {
        scratch.clear();
        if self.bytes(bound, 1, scratch)? != 1 || scratch.len() != 1 {
            return Err(unsupported(
                "a byte-array encoding where htslib reads one byte",
            ));
        }
        Ok(scratch[0])
    }
}

/// The encodings of the data series, bound to one slice.
struct SeriesCodecs<'e> {
    codecs: [Option<Bound<'e>>; SERIES.len()],
}

/// The CRAM 3.0 data series (§ 10) decoding reads.
const SERIES: [&[u8; 2]; 28] = [
    b"BF", b"CF", b"RI", b"RL", b"AP", b"RG", b"RN", b"MF", b"NS", b"NP", b"TS", b"NF", b"TL",
    b"FN", b"FC", b"FP", b"BS", b"IN", b"SC", b"DL", b"BA", b"BB", b"RS", b"PD", b"HC", b"MQ",
    b"QS", b"QQ",
];

/// The position of a data series in [`SERIES`].
fn series_index(key: &[u8; 2]) -> Option<usize> {
    SERIES.iter().position(|k| *k == key)
}

impl<'e> SeriesCodecs<'e> {
    /// Binds the data series encodings of `compression` to the blocks in `slots`.
    fn bind(compression: &'e CompressionHeader, slots: &HashMap<i32, usize>) -> Self {
        Self {
            codecs: std::array::from_fn(|i| {
                compression.series.get(SERIES[i]).map(|e| e.bind(slots))
            }),
        }
    }

    /// The encoding of data series `key`.
    #[inline]
    fn get(&self, key: &[u8; 2]) -> Result<&Bound<'e>, Fault> {
        series_index(key)
            .and_then(|i| self.codecs[i].as_ref())
            .ok_or_else(|| {
                damaged(format!(
                    "data series {} is used but has no encoding",
                    String::from_utf8_lossy(key)
                ))
            })
    }
}

// ---------------------------------------------------------------------------------------------
// Records (§ 10), decoded structurally.

/// What record decoding needs besides the slice.
struct DecodeContext<'a> {
    compression: &'a CompressionHeader,
    reference_lengths: &'a [u64],
}

/// A read feature (§ 10.6).
#[derive(Debug, Clone, Copy)]
struct Feature {
    code: u8,
    /// 1-based position in the read.
    position: i32,
    /// The one-byte value (BA, BS, QS) of `B`, `X`, `i`, `Q`.
    byte: u8,
    /// The quality score of `B`.
    quality: u8,
    /// The integer value (DL, RS, PD, HC) of `D`, `N`, `P`, `H`.
    int: i32,
    /// The byte-array value (IN, SC, BB, QQ) of `I`, `S`, `b`, `q`.
    bytes: (usize, usize),
}

/// A record: the values of its data series, byte arrays in the slice's arena.
#[derive(Debug, Clone, Default)]
struct Record {
    flags: i32,
    cram_flags: i32,
    reference: i32,
    read_length: i32,
    position: i64,
    read_group: i32,
    name: (usize, usize),
    mate_flags: i32,
    mate_reference: i32,
    mate_position: i32,
    template_length: i32,
    next_fragment: i32,
    explicit_template_length: Option<i32>,
    tag_line: i32,
    /// Range of `Decoded::tags`.
    tags: (usize, usize),
    /// Range of `Decoded::features`.
    features: (usize, usize),
    mapping_quality: i32,
    bases: (usize, usize),
    qualities: Option<(usize, usize)>,
    /// 1-based last reference position, as htslib computes `aend`.
    end: i64,
}

/// The records of one slice.
#[derive(Debug, Default)]
struct Decoded {
    records: Vec<Record>,
    features: Vec<Feature>,
    /// Ranges of `arena`, one per tag value.
    tags: Vec<(usize, usize)>,
    arena: Vec<u8>,
}

impl Decoded {
    /// A range of the arena.
    fn bytes(&self, (start, end): (usize, usize)) -> &[u8] {
        &self.arena[start..end]
    }
}

/// Decodes every record of a slice, as htslib's `cram_decode_slice` reads them.
fn decode_slice(
    context: &DecodeContext<'_>,
    header: &SliceHeader,
    core: &[u8],
    external: &[(i32, &[u8])],
) -> Result<Decoded, Fault> {
    let compression = context.compression;
    let slots: HashMap<i32, usize> = external
        .iter()
        .enumerate()
        .map(|(i, &(id, _))| (id, i))
        .collect();
    let mut streams = Streams {
        core: BitReader::new(core),
        external: external.iter().map(|&(_, d)| d).collect(),
    };
    let codecs = SeriesCodecs::bind(compression, &slots);
    let tag_codecs: HashMap<i32, Bound<'_>> = compression
        .tags
        .iter()
        .map(|(k, e)| (*k, e.bind(&slots)))
        .collect();
    // The encodings of each tag line's tags (`None`: a tag without encoding).
    let line_codecs: Vec<Vec<Option<&Bound<'_>>>> = compression
        .tag_lines
        .iter()
        .map(|line| line.iter().map(|key| tag_codecs.get(key)).collect())
        .collect();

    let has_reference =
        compression.reference_required || header.embedded_reference_bases_block_content_id >= 0;
    let mut decoded = Decoded {
        records: Vec::with_capacity(header.record_count.min(1 << 20)),
        ..Decoded::default()
    };
    let mut scratch = Vec::new();
    let mut last_position = i64::from(header.alignment_start);

    for _ in 0..header.record_count {
        let mut r = Record {
            flags: streams.int(codecs.get(b"BF")?)?,
            cram_flags: streams.int(codecs.get(b"CF")?)?,
            ..Record::default()
        };
        if !(0..0x1000).contains(&r.flags) {
            return Err(damaged("invalid BAM flags"));
        }
        r.reference = if header.reference_sequence_id == MULTI_REFERENCE {
            streams.int(codecs.get(b"RI")?)?
        } else {
            header.reference_sequence_id
        };
        r.read_length = streams.int(codecs.get(b"RL")?)?;
        if r.read_length < 0 {
            return Err(damaged("negative read length"));
        }
        let ap = i64::from(streams.int(codecs.get(b"AP")?)?);
        r.position = if compression.ap_delta {
            last_position + ap
        } else {
            ap
        };
        last_position = r.position;
        r.read_group = streams.int(codecs.get(b"RG")?)?;

        let start = decoded.arena.len();
        streams.bytes(codecs.get(b"RN")?, 1, &mut decoded.arena)?;
        r.name = (start, decoded.arena.len());

        if r.cram_flags & CF_DETACHED != 0 {
            r.mate_flags = streams.int(codecs.get(b"MF")?)?;
            r.mate_reference = streams.int(codecs.get(b"NS")?)?;
            r.mate_position = streams.int(codecs.get(b"NP")?)?;
            r.template_length = streams.int(codecs.get(b"TS")?)?;
        } else {
            if r.cram_flags & CF_MATE_DOWNSTREAM != 0 {
                r.next_fragment = streams.int(codecs.get(b"NF")?)?;
            }
            if r.cram_flags & CF_EXPLICIT_TLEN != 0 {
                r.explicit_template_length = Some(streams.int(codecs.get(b"TS")?)?);
            }
        }

        r.tag_line = streams.int(codecs.get(b"TL")?)?;
        let line = usize::try_from(r.tag_line)
            .ok()
            .and_then(|l| line_codecs.get(l))
            .ok_or_else(|| damaged("tag line out of range"))?;
        let first_tag = decoded.tags.len();
        for codec in line {
            let codec = codec.ok_or_else(|| damaged("a tag has no encoding"))?;
            let start = decoded.arena.len();
            streams.bytes(codec, 1, &mut decoded.arena)?;
            decoded.tags.push((start, decoded.arena.len()));
        }
        r.tags = (first_tag, decoded.tags.len());

        if r.flags & FLAG_UNMAPPED == 0 {
            let feature_count = streams.count(codecs.get(b"FN")?)?;
            let first = decoded.features.len();
            let mut position = 0i32;
            for _ in 0..feature_count {
                let code = streams.byte(codecs.get(b"FC")?, &mut scratch)?;
                position = position.wrapping_add(streams.int(codecs.get(b"FP")?)?);
                let mut f = Feature {
                    code,
                    position,
                    byte: 0,
                    quality: 0,
                    int: 0,
                    bytes: (0, 0),
                };
                match code {
                    b'B' => {
                        f.byte = streams.byte(codecs.get(b"BA")?, &mut scratch)?;
                        f.quality = streams.byte(codecs.get(b"QS")?, &mut scratch)?;
                    }
                    b'X' => f.byte = streams.byte(codecs.get(b"BS")?, &mut scratch)?,
                    b'i' => f.byte = streams.byte(codecs.get(b"BA")?, &mut scratch)?,
                    b'Q' => f.byte = streams.byte(codecs.get(b"QS")?, &mut scratch)?,
                    b'D' => f.int = streams.int(codecs.get(b"DL")?)?,
                    b'N' => f.int = streams.int(codecs.get(b"RS")?)?,
                    b'P' => f.int = streams.int(codecs.get(b"PD")?)?,
                    b'H' => f.int = streams.int(codecs.get(b"HC")?)?,
                    b'I' => {
                        f.bytes = read_value(&mut streams, codecs.get(b"IN")?, &mut decoded.arena)?;
                    }
                    b'S' => {
                        f.bytes = read_value(&mut streams, codecs.get(b"SC")?, &mut decoded.arena)?;
                    }
                    b'b' => {
                        f.bytes = read_value(&mut streams, codecs.get(b"BB")?, &mut decoded.arena)?;
                    }
                    b'q' => {
                        f.bytes = read_value(&mut streams, codecs.get(b"QQ")?, &mut decoded.arena)?;
                    }
                    other => {
                        return Err(damaged(format!("unknown read feature code {other:#x}")));
                    }
                }
                decoded.features.push(f);
            }
            r.features = (first, decoded.features.len());
            r.mapping_quality = streams.int(codecs.get(b"MQ")?)?;
            if r.cram_flags & CF_QUALITY_ARRAY != 0 {
                r.qualities = Some(read_array(
                    &mut streams,
                    codecs.get(b"QS")?,
                    r.read_length,
                    &mut decoded.arena,
                )?);
            }
            r.end = alignment_end(
                &r,
                &decoded.features[first..],
                has_reference,
                context.reference_lengths,
            );
        } else {
            if r.read_length > 0 {
                r.bases = read_array(
                    &mut streams,
                    codecs.get(b"BA")?,
                    r.read_length,
                    &mut decoded.arena,
                )?;
            }
            if r.cram_flags & CF_QUALITY_ARRAY != 0 {
                r.qualities = Some(read_array(
                    &mut streams,
                    codecs.get(b"QS")?,
                    r.read_length,
                    &mut decoded.arena,
                )?);
            }
            r.end = r.position;
        }

        decoded.records.push(r);
    }

    Ok(decoded)
}

impl Streams<'_> {
    /// Decodes a non-negative count.
    fn count(&mut self, bound: &Bound<'_>) -> Result<usize, Fault> {
        usize::try_from(self.int(bound)?).map_err(|_| damaged("negative count"))
    }
}

/// Decodes one byte-array value (IN, SC, BB, QQ) into `arena`.
fn read_value(
    streams: &mut Streams<'_>,
    bound: &Bound<'_>,
    arena: &mut Vec<u8>,
) -> Result<(usize, usize), Fault> {
    let start = arena.len();
    streams.bytes(bound, 1, arena)?;
    Ok((start, arena.len()))
}

/// Decodes `len` bytes of an array data series (BA of unmapped reads, QS).
fn read_array(
    streams: &mut Streams<'_>,
    bound: &Bound<'_>,
    len: i32,
    arena: &mut Vec<u8>,
) -> Result<(usize, usize), Fault> {
    let len = usize::try_from(len).map_err(|_| damaged("negative read length"))?;
    let start = arena.len();
    let n = streams.bytes(bound, len, arena)?;
    if n != len || arena.len() - start != len {
        return Err(unsupported(
            "a byte-array encoding where htslib reads one value per base",
        ));
    }
    Ok((start, arena.len()))
}

/// The last reference position of a mapped read, as htslib's `cram_decode_seq` computes it.
fn alignment_end(
    record: &Record,
    features: &[Feature],
    has_reference: bool,
    reference_lengths: &[u64],
) -> i64 {
    let mut seq_pos: i64 = 1;
    let mut ref_pos: i64 = record.position - 1;
    for f in features {
        let pos = i64::from(f.position);
        if pos > seq_pos {
            ref_pos += pos - seq_pos;
            seq_pos = pos;
        }
        let len = (f.bytes.1 - f.bytes.0) as i64;
        match f.code {
            b'S' | b'I' => seq_pos += len,
            b'X' | b'B' => {
                seq_pos += 1;
                ref_pos += 1;
            }
            b'i' => seq_pos += 1,
            b'b' => {
                seq_pos += len;
                ref_pos += len;
            }
            b'D' | b'N' => ref_pos += i64::from(f.int),
            _ => {}
        }
    }
    let read_length = i64::from(record.read_length);
    if read_length >= seq_pos && record.reference >= 0 {
        let remaining = read_length - seq_pos + 1;
        let beyond = has_reference
            && usize::try_from(record.reference)
                .ok()
                .and_then(|r| reference_lengths.get(r))
                .is_some_and(|&len| ref_pos + remaining > i64::try_from(len).unwrap_or(i64::MAX));
        if !beyond {
            ref_pos += remaining;
        }
    }
    ref_pos
}

/// The mate fields htslib outputs for a record (`cram_decode_slice_xref`).
#[derive(Debug, Clone, Copy)]
struct MateOut {
    flags: i32,
    mate_reference: i32,
    mate_position: i64,
    template_length: i64,
}

/// Emulates htslib's mate resolution over a whole slice. Returns the output mate fields of each
/// record and the chain (first member) each record belongs to, if any.
fn resolve_mates(records: &[Record]) -> Result<(Vec<MateOut>, Vec<Option<usize>>), Fault> {
    const UNSET: i64 = i64::MIN;
    let n = records.len();

    let mut mate_line: Vec<Option<usize>> = Vec::with_capacity(n);
    for (i, r) in records.iter().enumerate() {
        if r.cram_flags & CF_DETACHED == 0 && r.cram_flags & CF_MATE_DOWNSTREAM != 0 {
            let next = usize::try_from(r.next_fragment)
                .ok()
                .and_then(|d| i.checked_add(d)?.checked_add(1))
                .filter(|&m| m < n)
                .ok_or_else(|| damaged("mate line out of bounds"))?;
            mate_line.push(Some(next));
        } else {
            mate_line.push(None);
        }
    }

    let mut chain: Vec<Option<usize>> = vec![None; n];
    let mut pointed = vec![false; n];
    for i in 0..n {
        if let Some(m) = mate_line[i] {
            if pointed[m] {
                return Err(damaged("two records name the same mate"));
            }
            pointed[m] = true;
            let head = chain[i].unwrap_or(i);
            chain[i] = Some(head);
            chain[m] = Some(head);
        }
    }

    let mut out: Vec<MateOut> = records
        .iter()
        .map(|r| {
            if r.cram_flags & CF_DETACHED != 0 {
                MateOut {
                    flags: r.flags,
                    mate_reference: r.mate_reference,
                    mate_position: i64::from(r.mate_position),
                    template_length: i64::from(r.template_length),
                }
            } else {
                MateOut {
                    flags: r.flags,
                    mate_reference: -1,
                    mate_position: 0,
                    template_length: UNSET,
                }
            }
        })
        .collect();

    let mut links = mate_line.clone();

    for rec in 0..n {
        if let Some(mate) = links[rec] {
            if out[rec].template_length == UNSET {
                let mut id2 = rec;
                let mut left = records[rec].position;
                let mut right = records[rec].end;
                let mut reference = records[rec].reference;
                let mut left_count = 0;
                loop {
                    let r2 = &records[id2];
                    if left > r2.position {
                        left = r2.position;
                        left_count = 1;
                    } else if left == r2.position {
                        left_count += 1;
                    }
                    if right < r2.end {
                        right = r2.end;
                    }
                    match links[id2] {
                        None => {
                            links[id2] = Some(rec);
                            break;
                        }
                        Some(next) => {
                            if next <= id2 {
                                return Err(damaged("mate line out of order"));
                            }
                            id2 = next;
                            if records[id2].reference != reference {
                                reference = -1;
                            }
                            if id2 == rec {
                                break;
                            }
                        }
                    }
                }

                let length = if reference == -1 {
                    None
                } else {
                    Some(right - left + 1)
                };
                let mut id = rec;
                loop {
                    out[id].template_length = match length {
                        None => 0,
                        Some(t) => {
                            if records[id].position == left
                                && (left_count == 1 || records[id].flags & FLAG_READ1 != 0)
                            {
                                t
                            } else {
                                -t
                            }
                        }
                    };
                    id = links[id].ok_or_else(|| damaged("broken mate chain"))?;
                    if id == rec {
                        break;
                    }
                }
            }

            let m = &records[mate];
            out[rec].mate_position = m.position;
            out[rec].mate_reference = m.reference;
            out[rec].flags |= FLAG_PAIRED;
            if m.flags & FLAG_UNMAPPED != 0 {
                out[rec].flags |= FLAG_MATE_UNMAPPED;
                out[rec].template_length = 0;
            }
            if records[rec].flags & FLAG_UNMAPPED != 0 {
                out[rec].template_length = 0;
            }
            if m.flags & FLAG_REVERSE != 0 {
                out[rec].flags |= FLAG_MATE_REVERSE;
            }
        } else {
            let mate_flags = if records[rec].cram_flags & CF_DETACHED != 0 {
                records[rec].mate_flags
            } else {
                0
            };
            if mate_flags & MF_REVERSE != 0 {
                out[rec].flags |= FLAG_PAIRED | FLAG_MATE_REVERSE;
            }
            if mate_flags & MF_UNMAPPED != 0 {
                out[rec].flags |= FLAG_MATE_UNMAPPED;
            }
            if out[rec].flags & FLAG_PAIRED == 0 {
                out[rec].mate_reference = -1;
            }
        }
        if out[rec].template_length == UNSET {
            out[rec].template_length = 0;
        }
    }

    for (o, r) in out.iter_mut().zip(records) {
        if let Some(t) = r.explicit_template_length {
            o.template_length = i64::from(t);
        }
    }

    Ok((out, chain))
}

// ---------------------------------------------------------------------------------------------
// Re-encoding.

/// Content IDs of the data series in re-encoded containers (all EXTERNAL).
mod ids {
    pub(super) const BF: i32 = 1;
    pub(super) const CF: i32 = 2;
    pub(super) const RI: i32 = 3;
    pub(super) const RL: i32 = 4;
    pub(super) const AP: i32 = 5;
    pub(super) const RG: i32 = 6;
    pub(super) const RN_LEN: i32 = 7;
    pub(super) const RN: i32 = 8;
    pub(super) const MF: i32 = 9;
    pub(super) const NS: i32 = 10;
    pub(super) const NP: i32 = 11;
    pub(super) const TS: i32 = 12;
    pub(super) const NF: i32 = 13;
    pub(super) const TL: i32 = 14;
    pub(super) const FN: i32 = 15;
    pub(super) const FC: i32 = 16;
    pub(super) const FP: i32 = 17;
    pub(super) const BS: i32 = 18;
    pub(super) const IN_LEN: i32 = 19;
    pub(super) const IN: i32 = 20;
    pub(super) const SC_LEN: i32 = 21;
    pub(super) const SC: i32 = 22;
    pub(super) const DL: i32 = 23;
    pub(super) const BA: i32 = 24;
    pub(super) const BB_LEN: i32 = 25;
    pub(super) const BB: i32 = 26;
    pub(super) const RS: i32 = 27;
    pub(super) const PD: i32 = 28;
    pub(super) const HC: i32 = 29;
    pub(super) const MQ: i32 = 30;
    pub(super) const QS: i32 = 31;
    pub(super) const QQ_LEN: i32 = 32;
    pub(super) const QQ: i32 = 33;
    /// The embedded reference bases.
    pub(super) const EMBEDDED_REFERENCE: i32 = 40;
    /// Tag `k` of the sorted tag keys: length `TAGS + 2k`, bytes `TAGS + 2k + 1`.
    pub(super) const TAGS: i32 = 64;
    /// The number of series slots before the tags.
    pub(super) const COUNT: usize = 64;
}

/// The integer data series and their content IDs.
const INT_SERIES: [(&[u8; 2], i32); 19] = [
    (b"BF", ids::BF),
    (b"CF", ids::CF),
    (b"RI", ids::RI),
    (b"RL", ids::RL),
    (b"AP", ids::AP),
    (b"RG", ids::RG),
    (b"MF", ids::MF),
    (b"NS", ids::NS),
    (b"NP", ids::NP),
    (b"TS", ids::TS),
    (b"NF", ids::NF),
    (b"TL", ids::TL),
    (b"FN", ids::FN),
    (b"FP", ids::FP),
    (b"DL", ids::DL),
    (b"RS", ids::RS),
    (b"PD", ids::PD),
    (b"HC", ids::HC),
    (b"MQ", ids::MQ),
];

/// The byte data series and their content IDs.
const BYTE_SERIES: [(&[u8; 2], i32); 4] = [
    (b"FC", ids::FC),
    (b"BS", ids::BS),
    (b"BA", ids::BA),
    (b"QS", ids::QS),
];

/// The byte-array data series and their (length, bytes) content IDs.
const ARRAY_SERIES: [(&[u8; 2], i32, i32); 5] = [
    (b"RN", ids::RN_LEN, ids::RN),
    (b"IN", ids::IN_LEN, ids::IN),
    (b"SC", ids::SC_LEN, ids::SC),
    (b"BB", ids::BB_LEN, ids::BB),
    (b"QQ", ids::QQ_LEN, ids::QQ),
];

/// One re-encoded slice: its header, its base count and its external blocks.
#[derive(Debug)]
struct OutSlice {
    header: SliceHeader,
    base_count: u64,
    blocks: Vec<(i32, Vec<u8>)>,
}

/// Keeps the records of a slice that overlap `regions` and encodes them.
fn select_and_encode(
    context: &DecodeContext<'_>,
    header: &SliceHeader,
    decoded: &Decoded,
    external: &[(i32, &[u8])],
    regions: &Regions,
) -> Result<Option<OutSlice>, Fault> {
    let records = &decoded.records;
    let keep: Vec<bool> = records
        .iter()
        .map(|r| {
            let start = u64::try_from(r.position - 1).unwrap_or(0);
            let span = if r.flags & FLAG_UNMAPPED == 0 {
                (r.end - r.position + 1).max(1)
            } else {
                1
            };
            let end = start.saturating_add(u64::try_from(span).unwrap_or(1));
            regions.overlaps(r.reference, start, end)
        })
        .collect();

    let Some(first) = keep.iter().position(|&k| k) else {
        return Ok(None);
    };

    let (mates, chains) = resolve_mates(records)?;

    // A chain stays attached only when every member is kept.
    let mut chain_kept: HashMap<usize, bool> = HashMap::new();
    for (i, chain) in chains.iter().enumerate() {
        if let Some(head) = chain {
            let kept = chain_kept.entry(*head).or_insert(true);
            *kept &= keep[i];
        }
    }

    let mut new_index = vec![usize::MAX; records.len()];
    let mut n = 0;
    for (i, &k) in keep.iter().enumerate() {
        if k {
            new_index[i] = n;
            n += 1;
        }
    }

    let tag_keys = sorted_tag_keys(context.compression);
    let tag_slot: HashMap<i32, usize> = tag_keys
        .iter()
        .enumerate()
        .map(|(k, &key)| (key, k))
        .collect();
    let mut w = SeriesWriter::new(tag_keys.len());
    // The new slice keeps the original's reference context, except that embedded reference
    // bases are cut to the span of the kept records (with their MD5, which htslib checks).
    let embedded_bases = match header.embedded_reference_bases_block_content_id {
        id if id >= 0 => Some(
            external
                .iter()
                .find(|(block, _)| *block == id)
                .map(|(_, data)| *data)
                .ok_or_else(|| damaged("the embedded reference block is missing"))?,
        ),
        _ => None,
    };
    let (alignment_start, alignment_span, md5, embedded_bases) = match embedded_bases {
        Some(bases) if header.reference_sequence_id >= 0 => {
            let original_start = i64::from(header.alignment_start);
            let (mut low, mut high) = (i64::MAX, i64::MIN);
            for (r, _) in records.iter().zip(&keep).filter(|(_, k)| **k) {
                low = low.min(r.position);
                high = high.max(r.position).max(r.end);
            }
            let len = i64::try_from(bases.len()).map_err(|_| damaged("embedded reference"))?;
            let from = (low - original_start).clamp(0, len);
            let to = (high - original_start + 1).clamp(from, len);
            let cut = &bases[to_usize(from as u64)?..to_usize(to as u64)?];
            let md5 = if header.reference_md5 == [0; 16] {
                [0; 16]
            } else {
                Md5::digest(cut).into()
            };
            (
                narrow(original_start + from)?,
                narrow(to - from)?,
                md5,
                Some(cut),
            )
        }
        bases => (
            header.alignment_start,
            header.alignment_span,
            header.reference_md5,
            bases,
        ),
    };

    let mut last_position = i64::from(alignment_start);
    let mut base_count = 0u64;

    for (i, r) in records.iter().enumerate() {
        if !keep[i] {
            continue;
        }
        let attached =
            chains[i].is_some_and(|head| chain_kept.get(&head).copied().unwrap_or(false));
        let detach = chains[i].is_some() && !attached;

        let (flags, cram_flags) = if detach {
            (
                mates[i].flags,
                (r.cram_flags | CF_DETACHED) & !(CF_MATE_DOWNSTREAM | CF_EXPLICIT_TLEN),
            )
        } else {
            (r.flags, r.cram_flags)
        };

        w.int(ids::BF, flags);
        w.int(ids::CF, cram_flags);
        if header.reference_sequence_id == MULTI_REFERENCE {
            w.int(ids::RI, r.reference);
        }
        w.int(ids::RL, r.read_length);
        let ap = if context.compression.ap_delta {
            r.position - last_position
        } else {
            r.position
        };
        last_position = r.position;
        w.int(ids::AP, narrow(ap)?);
        w.int(ids::RG, r.read_group);
        w.array(ids::RN_LEN, ids::RN, decoded.bytes(r.name));

        if detach {
            let m = mates[i];
            w.int(ids::MF, 0);
            w.int(ids::NS, m.mate_reference);
            w.int(ids::NP, narrow(m.mate_position)?);
            w.int(ids::TS, narrow(m.template_length)?);
        } else if cram_flags & CF_DETACHED != 0 {
            w.int(ids::MF, r.mate_flags);
            w.int(ids::NS, r.mate_reference);
            w.int(ids::NP, r.mate_position);
            w.int(ids::TS, r.template_length);
        } else {
            if cram_flags & CF_MATE_DOWNSTREAM != 0 {
                let mate = usize::try_from(r.next_fragment)
                    .ok()
                    .and_then(|d| i.checked_add(d)?.checked_add(1))
                    .ok_or_else(|| damaged("mate line out of bounds"))?;
                let distance = new_index
                    .get(mate)
                    .and_then(|m| m.checked_sub(new_index[i] + 1))
                    .ok_or_else(|| damaged("mate line out of order"))?;
                w.int(
                    ids::NF,
                    i32::try_from(distance).map_err(|_| damaged("mate distance"))?,
                );
            }
            if cram_flags & CF_EXPLICIT_TLEN != 0 {
                w.int(ids::TS, r.explicit_template_length.unwrap_or(0));
            }
        }

        w.int(ids::TL, r.tag_line);
        let line = usize::try_from(r.tag_line)
            .ok()
            .and_then(|l| context.compression.tag_lines.get(l))
            .ok_or_else(|| damaged("tag line out of range"))?;
        for (key, &range) in line.iter().zip(&decoded.tags[r.tags.0..r.tags.1]) {
            let k = *tag_slot
                .get(key)
                .ok_or_else(|| damaged("a tag has no encoding"))?;
            w.tag(k, decoded.bytes(range));
        }

        if r.flags & FLAG_UNMAPPED == 0 {
            let features = &decoded.features[r.features.0..r.features.1];
            w.int(
                ids::FN,
                i32::try_from(features.len()).map_err(|_| damaged("feature count"))?,
            );
            let mut previous = 0i32;
            for f in features {
                w.byte(ids::FC, f.code);
                w.int(ids::FP, f.position.wrapping_sub(previous));
                previous = f.position;
                match f.code {
                    b'B' => {
                        w.byte(ids::BA, f.byte);
                        w.byte(ids::QS, f.quality);
                    }
                    b'X' => w.byte(ids::BS, f.byte),
                    b'i' => w.byte(ids::BA, f.byte),
                    b'Q' => w.byte(ids::QS, f.byte),
                    b'D' => w.int(ids::DL, f.int),
                    b'N' => w.int(ids::RS, f.int),
                    b'P' => w.int(ids::PD, f.int),
                    b'H' => w.int(ids::HC, f.int),
                    b'I' => w.array(ids::IN_LEN, ids::IN, decoded.bytes(f.bytes)),
                    b'S' => w.array(ids::SC_LEN, ids::SC, decoded.bytes(f.bytes)),
                    b'b' => w.array(ids::BB_LEN, ids::BB, decoded.bytes(f.bytes)),
                    b'q' => w.array(ids::QQ_LEN, ids::QQ, decoded.bytes(f.bytes)),
                    _ => return Err(damaged("unknown read feature code")),
                }
            }
            w.int(ids::MQ, r.mapping_quality);
        } else {
            w.bytes(ids::BA, decoded.bytes(r.bases));
        }
        if let Some(q) = r.qualities {
            w.bytes(ids::QS, decoded.bytes(q));
        }

        base_count += u64::try_from(r.read_length).unwrap_or(0);
    }

    let mut blocks = w.into_blocks();

    let mut embedded = -1;
    if let Some(bases) = embedded_bases {
        blocks.push((ids::EMBEDDED_REFERENCE, bases.to_vec()));
        embedded = ids::EMBEDDED_REFERENCE;
    }

    let record_counter = header
        .record_counter
        .saturating_add(u64::try_from(first).unwrap_or(0));

    Ok(Some(OutSlice {
        header: SliceHeader {
            reference_sequence_id: header.reference_sequence_id,
            alignment_start,
            alignment_span,
            record_count: n,
            record_counter,
            // The core data block and the external blocks.
            block_count: blocks.len() + 1,
            block_content_ids: blocks.iter().map(|(id, _)| *id).collect(),
            embedded_reference_bases_block_content_id: embedded,
            reference_md5: md5,
            optional_tags: Vec::new(),
        },
        base_count,
        blocks,
    }))
}

/// `n` as an `i32` (CRAM 3 positions and lengths are ITF-8), or damage.
fn narrow(n: i64) -> Result<i32, Fault> {
    i32::try_from(n).map_err(|_| damaged("a value does not fit CRAM 3 (32 bits)"))
}

/// Every tag key of the tag dictionary, sorted.
fn sorted_tag_keys(compression: &CompressionHeader) -> Vec<i32> {
    let mut keys: Vec<i32> = compression.tag_lines.iter().flatten().copied().collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// The external blocks of a slice being written.
struct SeriesWriter {
    blocks: Vec<Vec<u8>>,
}

impl SeriesWriter {
    /// A writer with room for the data series and `tag_count` tags.
    fn new(tag_count: usize) -> Self {
        Self {
            blocks: vec![Vec::new(); ids::COUNT + 2 * tag_count],
        }
    }

    /// The block of content ID `id`.
    fn slot(&mut self, id: i32) -> &mut Vec<u8> {
        &mut self.blocks[usize::try_from(id).unwrap_or(0)]
    }

    /// Appends an ITF-8 integer.
    fn int(&mut self, id: i32, value: i32) {
        write_itf8(self.slot(id), value);
    }

    /// Appends a byte.
    fn byte(&mut self, id: i32, value: u8) {
        self.slot(id).push(value);
    }

    /// Appends bytes.
    fn bytes(&mut self, id: i32, value: &[u8]) {
        self.slot(id).extend_from_slice(value);
    }

    /// Appends a BYTE_ARRAY_LEN value: its length, then its bytes.
    fn array(&mut self, len_id: i32, id: i32, value: &[u8]) {
        self.int(len_id, i32::try_from(value.len()).unwrap_or(i32::MAX));
        self.bytes(id, value);
    }

    /// Appends the value of tag `k` (of the sorted tag keys).
    fn tag(&mut self, k: usize, value: &[u8]) {
        let len_id = ids::TAGS + 2 * i32::try_from(k).unwrap_or(0);
        self.array(len_id, len_id + 1, value);
    }

    /// The non-empty blocks, by content ID.
    fn into_blocks(self) -> Vec<(i32, Vec<u8>)> {
        self.blocks
            .into_iter()
            .enumerate()
            .filter(|(_, b)| !b.is_empty())
            .map(|(id, b)| (i32::try_from(id).unwrap_or(0), b))
            .collect()
    }
}

/// Writes one container (§ 7) holding `slices`, with a compression header of EXTERNAL encodings
/// that keeps the original's preservation map.
fn encode_container(
    compression: &CompressionHeader,
    slices: &[OutSlice],
) -> Result<Vec<u8>, Fault> {
    let mut body = Vec::new();
    let mut header_data = Vec::new();
    write_compression_header(&mut header_data, &encode_compression_header(compression)?)?;
    write_block(&mut body, &Block::raw(COMPRESSION_HEADER, 0, &header_data))?;

    let mut landmarks = Vec::with_capacity(slices.len());
    let mut block_count = 1;
    let mut record_count = 0;
    let mut base_count = 0;
    for s in slices {
        landmarks.push(body.len());
        header_data.clear();
        write_slice_header(&mut header_data, &s.header)?;
        write_block(&mut body, &Block::raw(SLICE_HEADER, 0, &header_data))?;
        write_block(&mut body, &Block::raw(CORE_DATA, 0, &[]))?;
        for (id, data) in &s.blocks {
            write_external_block(&mut body, *id, data)?;
        }
        block_count += 2 + s.blocks.len();
        record_count += s.header.record_count;
        base_count += s.base_count;
    }

    // The container's reference context is that of its (single or first) slice.
    let first = &slices
        .first()
        .ok_or_else(|| damaged("a container without slices"))?
        .header;
    let mut out = Vec::with_capacity(64 + body.len());
    write_container_header(
        &mut out,
        &ContainerHeader {
            length: body.len(),
            reference_sequence_id: first.reference_sequence_id,
            alignment_start: first.alignment_start,
            alignment_span: first.alignment_span,
            record_count,
            record_counter: first.record_counter,
            base_count,
            block_count,
            landmarks,
        },
    )?;
    out.extend_from_slice(&body);
    Ok(out)
}

/// The compression header of a re-encoded container: the original's preservation map (read
/// names stored) and EXTERNAL encodings.
fn encode_compression_header(
    compression: &CompressionHeader,
) -> Result<gemj_cram::CompressionHeader, Fault> {
    use gemj_cram::Encoding;

    let array = |len_id: i32, id: i32| {
        Encoding::byte_array_len(&Encoding::external(len_id), &Encoding::external(id))
    };

    let mut data_series_encodings = Vec::new();
    for (key, id) in INT_SERIES.iter().chain(BYTE_SERIES.iter()) {
        data_series_encodings.push((**key, Encoding::external(*id)));
    }
    for (key, len_id, id) in ARRAY_SERIES {
        data_series_encodings.push((*key, array(len_id, id)?));
    }

    let mut tag_encodings = Vec::new();
    for (k, key) in sorted_tag_keys(compression).into_iter().enumerate() {
        let len_id = ids::TAGS + 2 * i32::try_from(k).map_err(|_| damaged("too many tags"))?;
        tag_encodings.push((key, array(len_id, len_id + 1)?));
    }

    Ok(gemj_cram::CompressionHeader {
        preservation_map: vec![
            Preservation::ReadNames(true),
            Preservation::ApDelta(compression.ap_delta),
            Preservation::ReferenceRequired(compression.reference_required),
            Preservation::SubstitutionMatrix(compression.substitution_matrix),
            Preservation::TagDictionary(compression.tag_dictionary.clone()),
        ],
        data_series_encodings,
        tag_encodings,
    })
}

/// Writes an external block, gzipped (one gzip member, as htslib inflates it) when that helps.
fn write_external_block(out: &mut Vec<u8>, id: i32, data: &[u8]) -> Result<(), Fault> {
    let gzipped = gzip(data);
    let block = match &gzipped {
        Some(g) => Block {
            compression_method: compression_method::GZIP,
            content_type: EXTERNAL_DATA,
            content_id: id,
            uncompressed_size: data.len(),
            data: g,
        },
        None => Block::raw(EXTERNAL_DATA, id, data),
    };
    write_block(out, &block)?;
    Ok(())
}

/// Gzip-compresses a small block as one gzip member (a BGZF block is one), or `None` when it
/// is too large for one member or does not shrink.
fn gzip(data: &[u8]) -> Option<Vec<u8>> {
    if data.len() < MIN_GZIP_BLOCK_LEN || data.len() > MAX_GZIP_BLOCK_LEN {
        return None;
    }
    let mut writer = bgzf::io::writer::Builder::default()
        .set_compression_level(bgzf::io::writer::CompressionLevel::default())
        .build_from_writer(Vec::with_capacity(data.len() / 2 + 64));
    writer.write_all(data).ok()?;
    let out = writer.finish().ok()?;
    let member_len = usize::from(u16::from_le_bytes([*out.get(16)?, *out.get(17)?])) + 1;
    // One member followed by the 28-byte BGZF end-of-file member.
    if out.len() != member_len + 28 || member_len >= data.len() {
        return None;
    }
    Some(out[..member_len].to_vec())
}

// ---------------------------------------------------------------------------------------------
// Bits (§ 2.2).

/// Reads the core data block bit by bit, most significant bit first (§ 2.2).
#[derive(Debug)]
struct BitReader<'a> {
    data: &'a [u8],
    byte: usize,
    /// The next bit of `data[byte]`, 7 to 0.
    bit: u32,
}

impl<'a> BitReader<'a> {
    /// A reader at the first bit of `data`.
    fn new(data: &'a [u8]) -> Self {
        Self {
            data,
            byte: 0,
            bit: 7,
        }
    }

    /// Reads one bit.
    fn bit(&mut self) -> Result<u32, Fault> {
        let b = *self
            .data
            .get(self.byte)
            .ok_or_else(|| damaged("unexpected end of the core data block"))?;
        let v = u32::from(b >> self.bit) & 1;
        if self.bit == 0 {
            self.bit = 7;
            self.byte += 1;
        } else {
            self.bit -= 1;
        }
        Ok(v)
    }

    /// Reads `n` bits (at most 32), most significant first.
    fn bits(&mut self, n: u32) -> Result<u32, Fault> {
        let mut v: u64 = 0;
        for _ in 0..n {
            v = (v << 1) | u64::from(self.bit()?);
        }
        Ok(v as u32)
    }
}

#[cfg(test)]
mod tests {
    use rand::{Rng as _, SeedableRng as _};
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use gemj_demo::genomes::{DemoGenomeOptions, generate};

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    #[test]
    fn test_gzip_is_one_member() {
        let data: Vec<u8> = (0..5_000u32).map(|i| (i % 7) as u8 + b'A').collect();
        let member = gzip(&data);
        assert!(member.is_some_and(|m| m.len() < data.len() && m[..3] == [0x1f, 0x8b, 0x08]));
        assert!(gzip(&data[..10]).is_none());
    }

    #[test]
    fn test_huffman_canonical_codes() -> TestResult {
        // Symbols 5, 7, 9 with code lengths 1, 2, 2: codes 0, 10, 11.
        let mut params = Vec::new();
        for v in [3, 5, 7, 9, 3, 1, 2, 2] {
            write_itf8(&mut params, v);
        }
        let Encoding::Huffman(huffman) = Encoding::new(&gemj_cram::Encoding { codec: 3, params })
            .map_err(|e| format!("{e:?}"))?
        else {
            return Err("not a HUFFMAN encoding".into());
        };
        let bits = [0b0101_1000_u8];
        let mut core = BitReader::new(&bits);
        let decoded: Vec<i32> = (0..3)
            .map(|_| huffman.decode(&mut core))
            .collect::<Result<_, _>>()
            .map_err(|e| format!("{e:?}"))?;
        assert_eq!(decoded, [5, 7, 9]);
        Ok(())
    }

    #[test]
    fn test_rans_rejects_garbage_without_panicking() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for _ in 0..5_000 {
            let len = rng.random_range(0..200);
            let mut data: Vec<u8> = (0..len).map(|_| rng.random()).collect();
            if let Some(order) = data.first_mut() {
                *order &= 1;
            }
            let expected = rng.random_range(0..64);
            if data.len() >= 9 {
                data[5..9].copy_from_slice(&u32::try_from(expected).unwrap_or(0).to_le_bytes());
            }
            let _ = rans::decode(&data, expected);
        }
    }

    /// The files of one demo sample `S1`, written under `dir`.
    fn demo_sample(
        dir: &std::path::Path,
        seed: u64,
        coverage: f64,
        contigs: Vec<(String, u32)>,
    ) -> Result<gemj_demo::genomes::SampleFiles, Box<dyn std::error::Error>> {
        let opts = DemoGenomeOptions {
            seed,
            samples: vec![String::from("S1")],
            coverage,
            contigs,
        };
        Ok(generate(&opts, dir)?.samples.remove(0))
    }

    /// A file that counts its reads.
    #[derive(Debug)]
    struct Counting(gemj_objects::LocalFile, std::sync::atomic::AtomicUsize);

    impl RandomAccess for Counting {
        fn len(&self) -> u64 {
            self.0.len()
        }
        fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
            self.1.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.0.read_exact_at(buf, offset)
        }
    }

    /// Every container header, walked one by one: the oracle of the layout read from the index.
    fn walk_containers(file: &dyn RandomAccess) -> Result<Layout, Fault> {
        let file_len = file.len();
        let header_container_end = header_container_end(file, file_len)?;
        let (mut containers, mut eof, mut offset) = (Vec::new(), None, header_container_end);
        while offset < file_len {
            let (header, header_len) = read_container_header(file, offset, file_len)?;
            let end = container_end(offset, header_len, &header, file_len)?;
            if header.record_count > 0 {
                let landmarks = header.landmarks.iter().map(|&l| l as u64).collect();
                containers.push((offset, end, landmarks));
            } else if read_at(file, offset, to_usize(end - offset)?)? == EOF_CONTAINER {
                eof = Some(offset);
            }
            offset = end;
        }
        Ok(Layout {
            header_container_end,
            header_end: containers.first().map_or(header_container_end, |c| c.0),
            containers,
            eof,
        })
    }

    /// The layout read from the CRAI is the one every container header gives, and opening costs
    /// the same few reads however many containers the file has.
    #[test]
    fn test_the_index_gives_the_layout_in_a_few_reads() -> TestResult {
        let dir = tempfile::tempdir()?;
        for (seed, coverage, contigs) in [
            (5, 2.0, vec![(String::from("chr21"), 30_000)]),
            (
                6,
                30.0,
                vec![
                    (String::from("chr21"), 300_000),
                    (String::from("chr22"), 200_000),
                ],
            ),
        ] {
            let sample = demo_sample(&dir.path().join(seed.to_string()), seed, coverage, contigs)?;
            let file = Counting(gemj_objects::LocalFile::open(&sample.cram)?, 0.into());
            let index = read_crai(&gemj_objects::LocalFile::open(&sample.crai)?)
                .map_err(|e| format!("{e:?}"))?;
            let from_index =
                indexed_layout(&file, file.len(), &index).map_err(|e| format!("{e:?}"))?;
            let reads = file.1.load(std::sync::atomic::Ordering::Relaxed);
            let walked = walk_containers(&file.0).map_err(|e| format!("{e:?}"))?;
            assert!(
                walked.containers.len() > 1,
                "seed {seed}: several containers"
            );
            assert_eq!(from_index, walked, "seed {seed}");
            assert!(reads <= 3, "seed {seed}: {reads} reads to open");
            println!(
                "seed {seed}: {} containers, {reads} reads to open",
                walked.containers.len()
            );
        }
        Ok(())
    }

    /// An index entry outside the data containers is a damaged index, found at open.
    #[test]
    fn test_an_index_pointing_outside_the_containers_is_damaged() -> TestResult {
        let dir = tempfile::tempdir()?;
        let sample = demo_sample(dir.path(), 5, 1.0, vec![(String::from("chr21"), 30_000)])?;
        let file = gemj_objects::LocalFile::open(&sample.cram)?;
        let mut index = read_crai(&gemj_objects::LocalFile::open(&sample.crai)?)
            .map_err(|e| format!("{e:?}"))?;
        for bad in [0, file.len() - 10] {
            index[0].offset = bad;
            let err = indexed_layout(&file, file.len(), &index)
                .map(|_| ())
                .unwrap_err();
            assert!(
                matches!(&err, Fault::Damaged(m) if m.contains("points at no container")),
                "{err:?}"
            );
        }
        Ok(())
    }

    /// Corrupts block payloads of real containers (fixing the CRC32s so that the damage reaches
    /// the codecs and the record decoder) and trims them: errors are fine, panics are not.
    #[test]
    fn test_trimming_damaged_containers_does_not_panic() -> TestResult {
        let dir = tempfile::tempdir()?;
        let sample = &demo_sample(dir.path(), 3, 1.0, vec![(String::from("chr21"), 30_000)])?;
        let file: Arc<dyn RandomAccess> = Arc::new(gemj_objects::LocalFile::open(&sample.cram)?);
        let crai = gemj_objects::LocalFile::open(&sample.crai)?;
        let cram = CramFile::open("c.cram", Arc::clone(&file), "c.crai", &crai)?;

        let regions = Regions {
            named: BTreeMap::from([(0, vec![(12_000, 12_500)])]),
            unplaced: true,
        };

        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let mut trimmed = 0;
        for container in &cram.containers {
            let len = to_usize(container.end - container.offset).map_err(|e| format!("{e:?}"))?;
            let original = read_at(&*file, container.offset, len)?;
            let blocks = block_spans(&original);
            assert!(!blocks.is_empty());

            for round in 0..400 {
                let mut bytes = original.clone();
                if round > 0 {
                    for _ in 0..rng.random_range(1..4) {
                        let (start, payload, end) = blocks[rng.random_range(0..blocks.len())];
                        if payload < end - 4 {
                            let i = rng.random_range(payload..end - 4);
                            bytes[i] = rng.random();
                            let crc = gemj_cram::crc32(&bytes[start..end - 4]);
                            bytes[end - 4..end].copy_from_slice(&crc.to_le_bytes());
                        }
                    }
                }
                if let Ok(Some(_)) = trim_bytes(&cram, &bytes, container, &regions) {
                    trimmed += 1;
                }
            }
        }
        assert!(trimmed > 0);
        Ok(())
    }

    /// `(start, payload start, end)` of each block of a container.
    fn block_spans(bytes: &[u8]) -> Vec<(usize, usize, usize)> {
        let mut src = bytes;
        let mut spans = Vec::new();
        if gemj_cram::read_container_header(&mut src, Version::V3_0).is_err() {
            return spans;
        }
        while !src.is_empty() {
            let start = bytes.len() - src.len();
            let Ok(block) = read_block(&mut src, Version::V3_0) else {
                break;
            };
            let end = bytes.len() - src.len();
            let payload = end - 4 - block.data.len();
            spans.push((start, payload, end));
        }
        spans
    }

    /// [`CramFile::trim`] on bytes in memory.
    fn trim_bytes(
        cram: &CramFile,
        bytes: &[u8],
        container: &ContainerInfo,
        regions: &Regions,
    ) -> Result<Option<Vec<u8>>, Fault> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("c");
        std::fs::write(&path, bytes)?;
        let info = ContainerInfo {
            offset: 0,
            end: bytes.len() as u64,
            landmarks: container.landmarks.clone(),
            entries: container.entries.clone(),
        };
        cram.trim(&info, regions, &gemj_objects::LocalFile::open(&path)?)
    }
}
