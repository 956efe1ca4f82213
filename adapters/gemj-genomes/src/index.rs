//! Building a missing index with noodles: BAM → BAI (CSI when a reference is longer than
//! 2^29 − 1), CRAM → CRAI, BGZF VCF → tabix (CSI for long contigs), BCF → CSI; and
//! [`bgzip_vcf`] for a plain VCF, which cannot be indexed until it is BGZF.
//!
//! The record loops are this crate's (after noodles' own `fs::index`), so that they check what
//! samtools and bcftools check (records sorted, positions within what the index can hold), and
//! pick CSI depths as htslib does (`n_lvls` from the longest reference + 256). Before noodles
//! reads a file, a scan checks that every BGZF block claims at most 64 KiB and every record or
//! container length fits in the data, so memory never follows a corrupt length.
//!
//! Invariant: an index is only written whole: to a temporary file next to its target, then
//! renamed.

mod bgzf_scan;
mod cram_scan;

use std::{
    collections::BTreeMap,
    fs::File,
    io::{self, BufRead, BufReader, Read},
    num::NonZero,
    panic::{AssertUnwindSafe, catch_unwind},
    path::{Path, PathBuf},
};

use gemj_model::DataFormat;
use noodles::{
    bam, bcf, bgzf,
    core::Position,
    cram,
    csi::{
        self,
        binning_index::{
            Indexer,
            index::reference_sequence::{
                Bin,
                bin::Chunk,
                index::{BinnedIndex, LinearIndex},
            },
        },
    },
    sam::alignment::Record as _,
    tabix,
};

use noodles::csi::BinningIndex as _;

use crate::{
    GenomesError,
    detect::{Compression, detect_file},
    read_up_to,
};

/// The smallest bin of BAI, tabix and htslib's CSI: 2^14 bases.
pub const MIN_SHIFT: u8 = 14;

/// Levels of BAI and tabix bins, which cover 2^(14 + 3·5) = 2^29 bases.
pub const BAI_DEPTH: u8 = 5;

/// The deepest CSI this crate writes: 2^(14 + 3·9) = 2^41 bases.
const MAX_DEPTH: u8 = 9;

/// The longest VCF line the tabix indexer reads.
const MAX_LINE: usize = crate::variants::MAX_LINE;

/// An index built in memory.
#[derive(Debug)]
pub enum Index {
    /// A BAM index (SAMv1 §5.2).
    Bai(bam::bai::Index),
    /// A coordinate-sorted index (CSIv1): BCF, and BAM or VCF with long references.
    Csi(csi::Index),
    /// A tabix index of a BGZF VCF.
    Tbi(tabix::Index),
    /// A CRAM index (CRAMv3 §12).
    Crai(cram::crai::Index),
}

impl Index {
    /// BAI, CSI, TBI or CRAI.
    #[must_use]
    pub fn format(&self) -> DataFormat {
        match self {
            Self::Bai(_) => DataFormat::Bai,
            Self::Csi(_) => DataFormat::Csi,
            Self::Tbi(_) => DataFormat::Tbi,
            Self::Crai(_) => DataFormat::Crai,
        }
    }

    /// The extension added to the indexed file's name: `bai`, `csi`, `tbi`, `crai`.
    #[must_use]
    pub fn extension(&self) -> &'static str {
        match self {
            Self::Bai(_) => "bai",
            Self::Csi(_) => "csi",
            Self::Tbi(_) => "tbi",
            Self::Crai(_) => "crai",
        }
    }

    /// Writes the index to `path` (through a temporary file next to it, then a rename).
    ///
    /// # Errors
    ///
    /// [`GenomesError::Io`] when the file cannot be written.
    ///
    /// # Examples
    ///
    /// ```
    /// use gemj_genomes::index::{bgzip_vcf, build_index};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let plain = dir.path().join("x.vcf");
    /// std::fs::write(&plain, "##fileformat=VCFv4.3\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")?;
    /// let gz = dir.path().join("x.vcf.gz");
    /// bgzip_vcf(&plain, &gz)?;
    /// let index = build_index(&gz)?;
    /// assert_eq!(index.format(), gemj_model::DataFormat::Tbi);
    /// let target = dir.path().join(format!("x.vcf.gz.{}", index.extension()));
    /// index.write(&target)?;
    /// assert_eq!(noodles::tabix::fs::read(&target)?.reference_sequences().len(), 0);
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn write(&self, path: &Path) -> Result<(), GenomesError> {
        let tmp = temporary_beside(path);
        let written = match self {
            Self::Bai(index) => bam::bai::fs::write(&tmp, index),
            Self::Csi(index) => csi::fs::write(&tmp, index),
            Self::Tbi(index) => tabix::fs::write(&tmp, index),
            Self::Crai(index) => cram::crai::fs::write(&tmp, index),
        };
        written
            .and_then(|()| std::fs::rename(&tmp, path))
            .map_err(|e| {
                let _ = std::fs::remove_file(&tmp);
                GenomesError::Io {
                    path: path.to_owned(),
                    source: e,
                }
            })
    }
}

/// Builds the index of a BAM, CRAM, BGZF VCF or BCF file in memory.
///
/// # Errors
///
/// [`GenomesError::WrongFormat`] for other formats (and for a VCF that is not BGZF: see
/// [`bgzip_vcf`]); [`GenomesError::Invalid`] for broken or unsorted files;
/// [`GenomesError::Noodles`] and [`GenomesError::Panicked`] when noodles gives up.
///
/// # Examples
///
/// ```
/// use gemj_genomes::index::{bgzip_vcf, build_index};
///
/// let dir = tempfile::tempdir()?;
/// let plain = dir.path().join("x.vcf");
/// std::fs::write(&plain, "##fileformat=VCFv4.3\n##contig=<ID=chr1,length=1000>\n\
///     #CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\nchr1\t10\t.\tA\tG\t.\t.\t.\n")?;
/// assert!(build_index(&plain).is_err()); // Not BGZF.
///
/// let gz = dir.path().join("x.vcf.gz");
/// bgzip_vcf(&plain, &gz)?;
/// let index = build_index(&gz)?;
/// assert_eq!(index.extension(), "tbi");
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
pub fn build_index(path: &Path) -> Result<Index, GenomesError> {
    let detected = detect_file(path)?;
    match (detected.format, detected.compression) {
        (DataFormat::Bam, Compression::Bgzf) => guarded("BAM", path, || bam_index(path)),
        (DataFormat::Bcf, Compression::Bgzf) => guarded("BCF", path, || bcf_index(path)),
        (DataFormat::Vcf, Compression::Bgzf) => guarded("VCF", path, || vcf_index(path)),
        (DataFormat::Cram, _) => guarded("CRAM", path, || cram_index(path)),
        (DataFormat::Vcf, c) => Err(GenomesError::wrong_format(
            DataFormat::Vcf,
            c,
            "a VCF must be BGZF to be indexed (bgzip_vcf makes a BGZF copy)",
        )),
        (f, c) => Err(GenomesError::wrong_format(
            f,
            c,
            "only BGZF BAM, BCF and VCF, and CRAM, can be indexed",
        )),
    }
}

/// Builds the index of `path` and writes it beside it (`x.bam` → `x.bam.bai`); returns the
/// index's path and format.
///
/// # Errors
///
/// As [`build_index`] and [`Index::write`].
///
/// # Examples
///
/// ```
/// let dir = tempfile::tempdir()?;
/// let plain = dir.path().join("x.vcf");
/// std::fs::write(&plain, "##fileformat=VCFv4.3\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")?;
/// let gz = dir.path().join("x.vcf.gz");
/// gemj_genomes::index::bgzip_vcf(&plain, &gz)?;
/// let (path, format) = gemj_genomes::index::write_index(&gz)?;
/// assert!(path.ends_with("x.vcf.gz.tbi"));
/// assert_eq!(format, gemj_model::DataFormat::Tbi);
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
pub fn write_index(path: &Path) -> Result<(PathBuf, DataFormat), GenomesError> {
    let index = build_index(path)?;
    let mut name = path.as_os_str().to_owned();
    name.push(".");
    name.push(index.extension());
    let target = PathBuf::from(name);
    index.write(&target)?;
    Ok((target, index.format()))
}

/// Writes a BGZF copy of a VCF (plain, gzip or BGZF) to `output`, as `bgzip` does; returns the
/// uncompressed size.
///
/// # Errors
///
/// [`GenomesError::WrongFormat`] when `input` is not a VCF; [`GenomesError::Io`] on read and
/// write errors (a partial output is removed).
///
/// # Examples
///
/// ```
/// let dir = tempfile::tempdir()?;
/// let plain = dir.path().join("x.vcf");
/// let text = "##fileformat=VCFv4.3\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n";
/// std::fs::write(&plain, text)?;
/// let gz = dir.path().join("x.vcf.gz");
/// assert_eq!(gemj_genomes::index::bgzip_vcf(&plain, &gz)?, text.len() as u64);
/// let detected = gemj_genomes::detect::detect_file(&gz)?;
/// assert_eq!(detected.compression, gemj_genomes::detect::Compression::Bgzf);
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
pub fn bgzip_vcf(input: &Path, output: &Path) -> Result<u64, GenomesError> {
    let detected = detect_file(input)?;
    if detected.format != DataFormat::Vcf {
        return Err(GenomesError::wrong_format(
            detected.format,
            detected.compression,
            "bgzip_vcf takes a VCF",
        ));
    }
    let file = File::open(input).map_err(GenomesError::io(input))?;
    let mut reader: Box<dyn Read> = match detected.compression {
        Compression::None => Box::new(file),
        Compression::Gzip | Compression::Bgzf => Box::new(flate2::read::MultiGzDecoder::new(
            BufReader::with_capacity(256 * 1024, file),
        )),
    };
    let tmp = temporary_beside(output);
    let result = (|| {
        let out = File::create(&tmp).map_err(GenomesError::io(&tmp))?;
        let workers = std::thread::available_parallelism().unwrap_or(NonZero::<usize>::MIN);
        let mut writer = bgzf::io::MultithreadedWriter::with_worker_count(workers, out);
        let n = io::copy(&mut reader, &mut writer).map_err(GenomesError::io(input))?;
        let out = writer.finish().map_err(GenomesError::io(&tmp))?;
        out.sync_all().map_err(GenomesError::io(&tmp))?;
        std::fs::rename(&tmp, output).map_err(GenomesError::io(output))?;
        Ok(n)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn temporary_beside(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".tmp-{}", std::process::id()));
    PathBuf::from(name)
}

/// Runs an indexer, turning a noodles panic into [`GenomesError::Panicked`].
fn guarded(
    format: &'static str,
    path: &Path,
    f: impl FnOnce() -> Result<Index, GenomesError>,
) -> Result<Index, GenomesError> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| {
        Err(GenomesError::Panicked {
            format,
            path: path.to_owned(),
        })
    })
}

fn invalid(
    format: &'static str,
    path: &Path,
    position: impl Into<String>,
    why: impl Into<String>,
) -> GenomesError {
    GenomesError::Invalid {
        format,
        path: path.to_owned(),
        position: position.into(),
        why: why.into(),
    }
}

fn noodles_error(format: &'static str, path: &Path) -> impl FnOnce(io::Error) -> GenomesError {
    let path = path.to_owned();
    move |source| GenomesError::Noodles {
        format,
        path,
        source,
    }
}

/// htslib's CSI depth for references up to `max_len` bases (`hts_idx_init` callers: the longest
/// reference plus 256, rounded up to a power of 8 above 2^14).
///
/// # Examples
///
/// ```
/// use gemj_genomes::index::csi_depth;
/// assert_eq!(csi_depth(248_956_422), 5); // GRCh38 chr1: what a BAI holds too.
/// assert_eq!(csi_depth(1_000_000_000), 6);
/// ```
#[must_use]
pub fn csi_depth(max_len: u64) -> u8 {
    let max_len = max_len.saturating_add(256);
    let mut depth = 0;
    let mut span = 1_u64 << MIN_SHIFT;
    while max_len > span && depth < MAX_DEPTH {
        depth += 1;
        span <<= 3;
    }
    depth
}

/// The last base (1-based) an index of `depth` levels can hold.
fn capacity(depth: u8) -> u64 {
    (1_u64 << (u32::from(MIN_SHIFT) + 3 * u32::from(depth))) - 1
}

/// Reads one length-prefixed record (`prefix` bytes of lengths, already read) into `frame`.
fn read_frame(r: &mut impl Read, prefix: &[u8], len: u64, frame: &mut Vec<u8>) -> io::Result<bool> {
    frame.clear();
    frame.extend_from_slice(prefix);
    let n = r.take(len).read_to_end(frame)?;
    Ok(n as u64 == len)
}

/// Either kind of binning indexer, as the longest reference decides.
enum Binning {
    Linear(Indexer<LinearIndex>),
    Binned(Indexer<BinnedIndex>, Windows),
}

/// A built binning index: BAI-like (linear index) or CSI.
enum Built {
    Linear(csi::binning_index::Index<LinearIndex>),
    Binned(csi::Index),
}

impl Binning {
    fn new(csi: bool, depth: u8) -> Self {
        if csi {
            Self::Binned(Indexer::new(MIN_SHIFT, depth), Windows::default())
        } else {
            Self::Linear(Indexer::default())
        }
    }

    fn add(
        &mut self,
        context: Option<(usize, Position, Position, bool)>,
        chunk: Chunk,
    ) -> io::Result<()> {
        match self {
            Self::Linear(i) => i.add_record(context, chunk),
            Self::Binned(i, windows) => {
                if let Some((id, start, end, _)) = context {
                    windows.add(id, start, end, chunk.start());
                }
                i.add_record(context, chunk)
            }
        }
    }

    fn finish(self, header: Option<csi::binning_index::index::Header>, references: usize) -> Built {
        match (self, header) {
            (Self::Linear(i), Some(h)) => {
                Built::Linear(compress_linear(&i.set_header(h).build(references)))
            }
            (Self::Linear(i), None) => Built::Linear(compress_linear(&i.build(references))),
            (Self::Binned(i, w), Some(h)) => {
                Built::Binned(w.apply(&i.set_header(h).build(references)))
            }
            (Self::Binned(i, w), None) => Built::Binned(w.apply(&i.build(references))),
        }
    }
}

/// A BAI or tabix index with its bins compressed as htslib's, its linear index kept.
fn compress_linear(
    index: &csi::binning_index::Index<LinearIndex>,
) -> csi::binning_index::Index<LinearIndex> {
    let linear: Vec<LinearIndex> = index
        .reference_sequences()
        .iter()
        .map(|r| r.index().clone())
        .collect();
    rebuild(index, |id, _| linear.get(id).cloned().unwrap_or_default())
}

/// htslib's linear offsets of CSI bins (`hts.c` `update_loff`): a bin's offset is that of the
/// first record overlapping the 2^14-base window where the bin starts (for an empty window, of
/// the next window's first record), not, as noodles 0.110 has it, of the first record binned in it. htslib skips
/// chunks that end before that offset, so noodles' larger offsets would hide records that start
/// in an earlier bin and reach into the query.
#[derive(Default)]
struct Windows {
    /// Per reference: runs of windows (first, last) whose first overlapping record starts at the
    /// offset; records come sorted, so each adds at most one run.
    runs: Vec<Vec<(u64, u64, bgzf::VirtualPosition)>>,
}

impl Windows {
    fn add(&mut self, id: usize, start: Position, end: Position, offset: bgzf::VirtualPosition) {
        if self.runs.len() <= id {
            self.runs.resize_with(id + 1, Vec::new);
        }
        let Some(runs) = self.runs.get_mut(id) else {
            return;
        };
        let first = (usize::from(start) as u64 - 1) >> MIN_SHIFT;
        let last = (usize::from(end.max(start)) as u64 - 1) >> MIN_SHIFT;
        let first = match runs.last() {
            Some(&(_, covered, _)) => first.max(covered + 1),
            None => first,
        };
        if first <= last {
            runs.push((first, last, offset));
        }
    }

    /// The offset of a window: its first overlapping record's, or for an empty window the next
    /// covered window's (htslib fills gaps backwards); 0 past the last covered window.
    fn offset(&self, id: usize, window: u64) -> bgzf::VirtualPosition {
        let Some(runs) = self.runs.get(id) else {
            return bgzf::VirtualPosition::default();
        };
        // The first run that ends at or after the window holds it or comes next.
        let i = runs.partition_point(|&(_, last, _)| last < window);
        runs.get(i)
            .map(|&(_, _, offset)| offset)
            .unwrap_or_default()
    }

    /// Sets every bin's offset as htslib does, then compresses the bins.
    fn apply(&self, index: &csi::Index) -> csi::Index {
        let depth = index.depth();
        rebuild(index, |id, bins| {
            let mut offsets = BinnedIndex::default();
            for &bin in bins {
                offsets.insert(bin, self.offset(id, first_window(bin, depth)));
            }
            offsets
        })
    }
}

/// A copy of `index` with each reference's bins compressed as htslib does, and its own index
/// from `index_of(reference, bin ids)` (the linear index kept, or CSI offsets computed).
fn rebuild<I>(
    index: &csi::binning_index::Index<I>,
    index_of: impl Fn(usize, &[usize]) -> I,
) -> csi::binning_index::Index<I>
where
    I: csi::binning_index::index::reference_sequence::Index,
{
    use csi::binning_index::{ReferenceSequence as _, index::ReferenceSequence};
    let depth = index.depth();
    let references = index
        .reference_sequences()
        .iter()
        .enumerate()
        .map(|(id, r)| {
            let mut bins: BTreeMap<usize, Vec<Chunk>> = r
                .bins()
                .iter()
                .map(|(&k, b)| (k, b.chunks().to_vec()))
                .collect();
            compress_bins(&mut bins, depth);
            let ids: Vec<usize> = bins.keys().copied().collect();
            let own = index_of(id, &ids);
            let bins = bins.into_iter().map(|(k, c)| (k, Bin::new(c))).collect();
            ReferenceSequence::new(bins, own, r.metadata().cloned())
        })
        .collect();
    let mut builder = csi::binning_index::Index::builder()
        .set_min_shift(index.min_shift())
        .set_depth(depth)
        .set_reference_sequences(references);
    if let Some(header) = index.header() {
        builder = builder.set_header(header.clone());
    }
    if let Some(n) = index.unplaced_unmapped_record_count() {
        builder = builder.set_unplaced_unmapped_record_count(n);
    }
    builder.build()
}

/// htslib's `compress_binning` (hts.c): bottom-up, a bin whose chunks span less than 64 KiB of
/// compressed data moves into its parent (when the parent has chunks); then chunks that start
/// in the BGZF block where the previous one ends are merged. Queries return the same records
/// either way; this makes the chunks, and so htsget byte ranges, those of samtools and bcftools.
fn compress_bins(bins: &mut BTreeMap<usize, Vec<Chunk>>, depth: u8) {
    const MIN_MARKER_DIST: u64 = 0x1_0000;
    let block = |vp: bgzf::VirtualPosition| u64::from(vp) >> 16;
    for level in (1..=u32::from(depth)).rev() {
        let first = ((1_usize << (3 * level)) - 1) / 7;
        let last = ((1_usize << (3 * (level + 1))) - 1) / 7;
        let keys: Vec<usize> = bins.range(first..last).map(|(&k, _)| k).collect();
        for key in keys {
            let parent = (key - 1) >> 3;
            if !bins.contains_key(&parent) {
                continue;
            }
            let Some(chunks) = bins.get_mut(&key) else {
                continue;
            };
            if level < u32::from(depth) {
                chunks.sort_by_key(Chunk::start);
            }
            let (Some(head), Some(tail)) = (chunks.first(), chunks.last()) else {
                continue;
            };
            if block(tail.end()).saturating_sub(block(head.start())) >= MIN_MARKER_DIST {
                continue;
            }
            let moved = bins.remove(&key).unwrap_or_default();
            if let Some(parent_chunks) = bins.get_mut(&parent) {
                parent_chunks.extend(moved);
            }
        }
    }
    for chunks in bins.values_mut() {
        chunks.sort_by_key(Chunk::start);
        let mut merged: Vec<Chunk> = Vec::with_capacity(chunks.len());
        for &chunk in chunks.iter() {
            match merged.last_mut() {
                Some(previous) if block(previous.end()) >= block(chunk.start()) => {
                    if previous.end() < chunk.end() {
                        *previous = Chunk::new(previous.start(), chunk.end());
                    }
                }
                _ => merged.push(chunk),
            }
        }
        *chunks = merged;
    }
}

/// The first 2^14-base window a bin covers (`hts_bin_bot`).
fn first_window(bin: usize, depth: u8) -> u64 {
    let mut level = 0_u32;
    let mut b = bin;
    while b > 0 {
        level += 1;
        b = (b - 1) >> 3;
    }
    let Some(shift) = u32::from(depth).checked_sub(level) else {
        return 0;
    };
    let first_of_level = ((1_u64 << (3 * level)) - 1) / 7;
    (bin as u64 - first_of_level) << (3 * shift)
}

/// Sort checks shared by the indexers: references in one block each, starts not decreasing.
#[derive(Default)]
struct Order {
    last: Option<(usize, usize)>,
    unplaced_seen: bool,
}

impl Order {
    fn check(&mut self, reference: Option<usize>, start: usize) -> Result<(), &'static str> {
        let Some(reference) = reference else {
            self.unplaced_seen = true;
            return Ok(());
        };
        if self.unplaced_seen {
            return Err("a placed record after unplaced ones: not coordinate-sorted");
        }
        if let Some((r, s)) = self.last
            && (reference < r || (reference == r && start < s))
        {
            return Err("records are not sorted by reference and position");
        }
        self.last = Some((reference, start));
        Ok(())
    }
}

fn bam_index(path: &Path) -> Result<Index, GenomesError> {
    const FORMAT: &str = "BAM";
    let layout = bgzf_scan::scan(path, FORMAT)?;
    bgzf_scan::check_bam_header(path, layout.uncompressed)?;

    let file = File::open(path).map_err(GenomesError::io(path))?;
    let mut reader = bam::io::Reader::new(file);
    let header = reader.read_header().map_err(noodles_error(FORMAT, path))?;
    let lengths: Vec<u64> = header
        .reference_sequences()
        .values()
        .map(|r| r.length().get() as u64)
        .collect();
    let max_len = lengths.iter().copied().max().unwrap_or(0);
    let csi = max_len > capacity(BAI_DEPTH);
    let depth = if csi { csi_depth(max_len) } else { BAI_DEPTH };
    let limit = capacity(depth);
    let mut indexer = Binning::new(csi, depth);
    let mut order = Order::default();
    let mut record = bam::Record::default();
    let mut frame = Vec::new();
    let mut n = 0_u64;
    loop {
        let start = reader.get_ref().virtual_position();
        let mut size = [0_u8; 4];
        let got = read_up_to(reader.get_mut(), &mut size).map_err(noodles_error(FORMAT, path))?;
        if got == 0 {
            break;
        }
        n += 1;
        let at = || format!("record {n}");
        if got < 4 {
            return Err(invalid(FORMAT, path, at(), "cut short"));
        }
        let len = u64::from(u32::from_le_bytes(size));
        if !read_frame(reader.get_mut(), &size, len, &mut frame)
            .map_err(noodles_error(FORMAT, path))?
        {
            return Err(invalid(FORMAT, path, at(), "cut short"));
        }
        let end = reader.get_ref().virtual_position();
        bam::io::Reader::from(&frame[..])
            .read_record(&mut record)
            .map_err(|e| invalid(FORMAT, path, at(), e.to_string()))?;
        let bad = |e: io::Error| invalid(FORMAT, path, at(), e.to_string());
        let reference = record.reference_sequence_id().transpose().map_err(bad)?;
        let first = record.alignment_start().transpose().map_err(bad)?;
        // As htslib's `bam_endpos`: an unmapped read covers its start only, whatever its CIGAR.
        let last = if record.flags().is_unmapped() {
            first
        } else {
            record.alignment_end().transpose().map_err(bad)?
        };
        order
            .check(reference, first.map_or(0, usize::from))
            .map_err(|why| invalid(FORMAT, path, at(), why))?;
        let context = match (reference, first, last) {
            (Some(id), Some(first), Some(last)) => {
                if id >= lengths.len() {
                    return Err(invalid(
                        FORMAT,
                        path,
                        at(),
                        "reference index not in the header",
                    ));
                }
                if usize::from(last) as u64 > limit || last < first {
                    return Err(invalid(
                        FORMAT,
                        path,
                        at(),
                        "alignment end beyond what the index can hold",
                    ));
                }
                Some((id, first, last, !record.flags().is_unmapped()))
            }
            _ => None,
        };
        indexer
            .add(context, Chunk::new(start, end))
            .map_err(|e| invalid(FORMAT, path, at(), e.to_string()))?;
    }
    Ok(match indexer.finish(None, lengths.len()) {
        Built::Linear(i) => Index::Bai(i),
        Built::Binned(i) => Index::Csi(i),
    })
}

fn bcf_index(path: &Path) -> Result<Index, GenomesError> {
    const FORMAT: &str = "BCF";
    bgzf_scan::scan(path, FORMAT)?;
    let file = File::open(path).map_err(GenomesError::io(path))?;
    let mut reader = bcf::io::Reader::new(file);
    let header = reader.read_header().map_err(noodles_error(FORMAT, path))?;
    let max_len = header
        .contigs()
        .values()
        .filter_map(noodles::vcf::header::record::value::Map::length)
        .max()
        .map_or(0, |l| l as u64);
    // As htslib: no lengths in the header means "assume 2^31 − 1".
    let max_len = if max_len == 0 { (1 << 31) - 1 } else { max_len };
    let depth = csi_depth(max_len);
    let limit = capacity(depth);
    let mut contigs = header.contigs().len();
    let mut indexer = Binning::new(true, depth);
    let mut order = Order::default();
    let mut record = bcf::Record::default();
    let mut frame = Vec::new();
    let mut n = 0_u64;
    loop {
        let start = reader.get_ref().virtual_position();
        let mut lengths = [0_u8; 8];
        let got =
            read_up_to(reader.get_mut(), &mut lengths).map_err(noodles_error(FORMAT, path))?;
        if got == 0 {
            break;
        }
        n += 1;
        let at = || format!("record {n}");
        let [a, b, c, d, e, f, g, h] = lengths;
        let shared = u64::from(u32::from_le_bytes([a, b, c, d]));
        let indiv = u64::from(u32::from_le_bytes([e, f, g, h]));
        if got < 8
            || !read_frame(reader.get_mut(), &lengths, shared + indiv, &mut frame)
                .map_err(noodles_error(FORMAT, path))?
        {
            return Err(invalid(FORMAT, path, at(), "cut short"));
        }
        if shared < 24 {
            return Err(invalid(
                FORMAT,
                path,
                at(),
                "shared data shorter than 24 bytes",
            ));
        }
        let end = reader.get_ref().virtual_position();
        bcf::io::Reader::from(&frame[..])
            .read_record(&mut record)
            .map_err(|e| invalid(FORMAT, path, at(), e.to_string()))?;
        let bad = |e: io::Error| invalid(FORMAT, path, at(), e.to_string());
        let id = record.reference_sequence_id().map_err(bad)?;
        let first = record
            .variant_start()
            .transpose()
            .map_err(bad)?
            .ok_or_else(|| invalid(FORMAT, path, at(), "no position"))?;
        let last = record.end().map_err(bad)?;
        if id >= contigs {
            // Contig IDX values may leave gaps: the string map, not the count, decides.
            if header.string_maps().contigs().get_index(id).is_none() {
                return Err(invalid(
                    FORMAT,
                    path,
                    at(),
                    "contig index not in the header",
                ));
            }
            contigs = id + 1;
        }
        if usize::from(last) as u64 > limit {
            return Err(invalid(
                FORMAT,
                path,
                at(),
                "record end beyond what the index can hold",
            ));
        }
        let last = last.max(first);
        order
            .check(Some(id), usize::from(first))
            .map_err(|why| invalid(FORMAT, path, at(), why))?;
        indexer
            .add(Some((id, first, last, true)), Chunk::new(start, end))
            .map_err(|e| invalid(FORMAT, path, at(), e.to_string()))?;
    }
    Ok(match indexer.finish(None, contigs) {
        Built::Linear(i) => Index::Bai(i),
        Built::Binned(i) => Index::Csi(i),
    })
}

fn vcf_index(path: &Path) -> Result<Index, GenomesError> {
    bgzf_scan::scan(path, "VCF")?;
    // A TBI holds positions up to 2^29 − 1; past that, a CSI deep enough for the longest contig
    // (or, when a record goes past every declared length, for that record).
    let mut depth = None;
    loop {
        match vcf_index_pass(path, depth)? {
            Pass::Done(index) => return Ok(index),
            Pass::Deeper(end) => {
                let needed = csi_depth(end);
                if depth.is_some_and(|d| d >= needed) || capacity(needed) < end {
                    return Err(invalid(
                        "VCF",
                        path,
                        "",
                        "a record ends beyond what any index can hold",
                    ));
                }
                depth = Some(needed);
            }
        }
    }
}

enum Pass {
    Done(Index),
    /// A record ends at this position, past what the index being built can hold.
    Deeper(u64),
}

fn vcf_index_pass(path: &Path, csi_depth_override: Option<u8>) -> Result<Pass, GenomesError> {
    const FORMAT: &str = "VCF";
    let file = File::open(path).map_err(GenomesError::io(path))?;
    let mut reader = bgzf::io::Reader::new(file);
    let mut line = Vec::new();
    let mut line_no = 0_u64;
    let mut max_len = 0_u64;
    let mut start = reader.virtual_position();
    // Header.
    loop {
        line.clear();
        let n = (&mut reader)
            .take(MAX_LINE as u64)
            .read_until(b'\n', &mut line)
            .map_err(noodles_error(FORMAT, path))?;
        if n == 0 || !line.starts_with(b"#") {
            break;
        }
        line_no += 1;
        if let Some(len) = contig_length(&line) {
            max_len = max_len.max(len);
        }
        start = reader.virtual_position();
    }
    let depth = match csi_depth_override {
        Some(d) => Some(d),
        None if max_len > capacity(BAI_DEPTH) => Some(csi_depth(max_len)),
        None => None,
    };
    let limit = capacity(depth.unwrap_or(BAI_DEPTH));
    let mut header = csi::binning_index::index::header::Builder::vcf().build();
    let mut names = csi::binning_index::index::header::ReferenceSequenceNames::new();
    let mut indexer = Binning::new(depth.is_some(), depth.unwrap_or(BAI_DEPTH));
    let mut order = Order::default();
    loop {
        if line.is_empty() {
            break;
        }
        line_no += 1;
        let at = || format!("line {line_no}");
        if line.len() >= MAX_LINE && line.last() != Some(&b'\n') {
            return Err(invalid(FORMAT, path, at(), "line too long"));
        }
        let end_vp = reader.virtual_position();
        let text = line.strip_suffix(b"\n").unwrap_or(&line);
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        if !text.is_empty() && !text.starts_with(b"#") {
            let (chrom, first, last) =
                vcf_span(text).map_err(|why| invalid(FORMAT, path, at(), why))?;
            if last > limit {
                return Ok(Pass::Deeper(last));
            }
            let (id, _) = names.insert_full(chrom.into());
            order
                .check(Some(id), first as usize)
                .map_err(|why| invalid(FORMAT, path, at(), why))?;
            let (Some(first), Some(last)) =
                (Position::new(first as usize), Position::new(last as usize))
            else {
                return Err(invalid(FORMAT, path, at(), "position 0"));
            };
            indexer
                .add(Some((id, first, last, true)), Chunk::new(start, end_vp))
                .map_err(|e| invalid(FORMAT, path, at(), e.to_string()))?;
        }
        start = end_vp;
        line.clear();
        (&mut reader)
            .take(MAX_LINE as u64)
            .read_until(b'\n', &mut line)
            .map_err(noodles_error(FORMAT, path))?;
    }
    let count = names.len();
    *header.reference_sequence_names_mut() = names;
    Ok(Pass::Done(match indexer.finish(Some(header), count) {
        Built::Linear(i) => Index::Tbi(i),
        Built::Binned(i) => Index::Csi(i),
    }))
}

/// `length=` of a `##contig=<...>` line.
fn contig_length(line: &[u8]) -> Option<u64> {
    let rest = line.strip_prefix(b"##contig=<")?;
    let i = rest.windows(7).position(|w| w == b"length=")?;
    if i > 0 && !matches!(rest.get(i - 1), Some(b',' | b'<')) {
        return None;
    }
    let digits: Vec<u8> = rest[i + 7..]
        .iter()
        .copied()
        .take_while(u8::is_ascii_digit)
        .collect();
    std::str::from_utf8(&digits).ok()?.parse().ok()
}

/// CHROM, POS and the last base of a VCF data line, as tabix takes them: the end is `INFO/END`
/// when present and not before POS, else POS + len(REF) − 1.
fn vcf_span(line: &[u8]) -> Result<(&str, u64, u64), &'static str> {
    let mut columns = line.split(|&b| b == b'\t');
    let chrom = columns.next().ok_or("no CHROM")?;
    let chrom = std::str::from_utf8(chrom).map_err(|_| "CHROM is not UTF-8")?;
    if chrom.is_empty() {
        return Err("empty CHROM");
    }
    let pos = columns.next().ok_or("no POS")?;
    let pos: u64 = std::str::from_utf8(pos)
        .ok()
        .and_then(|p| p.parse().ok())
        .filter(|&p| p > 0)
        .ok_or("POS is not a positive integer")?;
    let _id = columns.next();
    let reference = columns.next().ok_or("no REF")?;
    let mut last = pos + (reference.len().max(1) as u64) - 1;
    let info = columns.nth(3).unwrap_or_default();
    let end = info
        .split(|&b| b == b';')
        .filter_map(|field| field.strip_prefix(b"END="))
        .take(1)
        .find_map(|v| std::str::from_utf8(v).ok()?.parse::<u64>().ok());
    if let Some(end) = end.filter(|&end| end >= pos) {
        last = end;
    }
    Ok((chrom, pos, last))
}

fn cram_index(path: &Path) -> Result<Index, GenomesError> {
    cram_scan::cram_index(path).map(Index::Crai)
}

#[cfg(test)]
mod tests;
