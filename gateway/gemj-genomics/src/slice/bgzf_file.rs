//! Slices of BGZF formats: BAM (BAI or CSI), VCF (TBI or CSI) and BCF (CSI).
//!
//! For each region (after sorting by the index's reference order and merging overlaps) the
//! index query gives the first chunk that can hold an overlapping record. From there:
//!
//! 1. *Leading edge*: records are decoded until the first one starting at or after the region's
//!    start (`v_mid`). Of these, the ones that overlap the region (long reads, deletions) are
//!    kept and re-encoded inline; the rest are dropped.
//! 2. *Middle*: every record from `v_mid` to `v_end`, the first record starting at or after the
//!    region's end (or on a later reference), overlaps. Whole blocks between the two are served
//!    as a byte range of the stored file; the partial blocks at either side are re-encoded.
//! 3. `v_end` is found by decoding from the index's linear offset of the region's end (the
//!    smallest offset of a record overlapping that 16 kb window), checked to be a record that
//!    starts before the end, so a damaged or loose index costs time, never correctness.
//!
//! A record that starts in one BGZF block and ends in the next is therefore never cut: the
//! uncompressed stream of the slice is exactly header + selected records. Regions are emitted
//! in file order with a cursor, so overlapping or nearby regions never repeat a record.

use std::collections::HashMap;
use std::sync::Arc;

use gemj_objects::{RandomAccess, SourceReader};

use noodles::bgzf::VirtualPosition;
use noodles::core::{Position, region::Interval};
use noodles::csi::{self, BinningIndex as _};

use super::{Class, Format, Piece, ReferenceName, Slice, SliceError, SliceQuery};

use gemj_bgzf::EOF_BLOCK as BGZF_EOF;

/// Bytes read at a time while parsing a header.
const HEADER_CHUNK: usize = 64 << 10;

/// The most uncompressed bytes put in one re-encoded block (htslib's choice).
const BLOCK_DATA_MAX: usize = 0xff00;

/// The longest record accepted while scanning (guards against damaged lengths).
const MAX_RECORD_BYTES: usize = 256 << 20;

#[derive(Debug)]
enum Index {
    Bai(noodles::bam::bai::Index),
    Tbi(noodles::tabix::Index),
    Csi(csi::Index),
}

impl Index {
    fn as_binning(&self) -> &dyn csi::BinningIndex {
        match self {
            Self::Bai(i) => i,
            Self::Tbi(i) => i,
            Self::Csi(i) => i,
        }
    }

    /// The smallest offset of a record that may overlap `pos` (1-based), from the linear index
    /// (BAI, TBI) or the bins' offsets (CSI).
    fn min_offset(&self, ref_id: usize, pos: Position) -> Option<VirtualPosition> {
        let b = self.as_binning();
        let (min_shift, depth) = (b.min_shift(), b.depth());
        match self {
            Self::Bai(i) => i
                .reference_sequences()
                .get(ref_id)
                .map(|r| r.min_offset(min_shift, depth, pos)),
            Self::Tbi(i) => i
                .reference_sequences()
                .get(ref_id)
                .map(|r| r.min_offset(min_shift, depth, pos)),
            Self::Csi(i) => i
                .reference_sequences()
                .get(ref_id)
                .map(|r| r.min_offset(min_shift, depth, pos)),
        }
        .filter(|v| u64::from(*v) != 0)
    }
}

/// An opened BGZF file.
#[derive(Debug)]
pub(crate) struct BgzfFile {
    format: Format,
    name: String,
    file: Arc<dyn RandomAccess>,
    len: u64,
    index: Index,
    /// Where the first record starts (the header's end).
    header_end: VirtualPosition,
    /// Reference names in header order (what queries may name).
    reference_names: Vec<String>,
    /// Name to (index reference id, length if known). Names in the header but absent from the
    /// index map to `None` ids: they hold no records.
    references: HashMap<String, (Option<usize>, Option<u64>)>,
    /// For VCF text: chromosome name to index reference id.
    vcf_ids: HashMap<String, i32>,
    sample_names: Vec<String>,
    /// Where the end-of-file marker starts (the file's length when it has none).
    eof_start: u64,
}

/// Reads a whole index (BAI, TBI or CSI, told apart by their magic) from `source`.
fn read_index(name: &str, source: &dyn RandomAccess) -> Result<Index, SliceError> {
    let bytes = super::read_whole(name, source)?;
    if bytes.starts_with(b"BAI\x01") {
        return noodles::bam::bai::io::Reader::new(bytes.as_slice())
            .read_index()
            .map(Index::Bai)
            .map_err(|e| SliceError::damaged(name, format!("not a readable BAI index: {e}")));
    }
    let mut inner = [0u8; 4];
    {
        use std::io::Read as _;
        let mut r = noodles::bgzf::io::Reader::new(bytes.as_slice());
        r.read_exact(&mut inner)
            .map_err(|e| SliceError::damaged(name, format!("not an index: {e}")))?;
    }
    match &inner {
        b"TBI\x01" => noodles::tabix::io::Reader::new(bytes.as_slice())
            .read_index()
            .map(Index::Tbi)
            .map_err(|e| SliceError::damaged(name, format!("not a readable tabix index: {e}"))),
        b"CSI\x01" => noodles::csi::io::Reader::new(bytes.as_slice())
            .read_index()
            .map(Index::Csi)
            .map_err(|e| SliceError::damaged(name, format!("not a readable CSI index: {e}"))),
        _ => Err(SliceError::damaged(name, "not a BAI, TBI or CSI index")),
    }
}

impl BgzfFile {
    pub(crate) fn open(
        format: Format,
        name: &str,
        file: Arc<dyn RandomAccess>,
        index_name: &str,
        index_source: &dyn RandomAccess,
    ) -> Result<Self, SliceError> {
        let len = file.len();
        let index = read_index(index_name, index_source)?;
        let damaged =
            |e: std::io::Error| SliceError::damaged(name, format!("unreadable header: {e}"));
        // Headers are kilobytes: read them in small chunks, not the source's streaming size.
        let stream = || SourceReader::new(Arc::clone(&file)).with_chunk(HEADER_CHUNK);
        let mut references = HashMap::new();
        let mut reference_names = Vec::new();
        let mut vcf_ids = HashMap::new();
        let sample_names;
        let header_end = match format {
            Format::Bam => {
                let mut r = noodles::bam::io::Reader::new(stream());
                let header = r.read_header().map_err(damaged)?;
                sample_names = super::read_group_samples(&header);
                for (i, (name, rs)) in header.reference_sequences().iter().enumerate() {
                    let name = String::from_utf8_lossy(name).into_owned();
                    let length = u64::try_from(usize::from(rs.length())).ok();
                    references.insert(name.clone(), (Some(i), length));
                    reference_names.push(name);
                }
                r.get_ref().virtual_position()
            }
            Format::Bcf => {
                let mut r = noodles::bcf::io::Reader::new(stream());
                let header = r.read_header().map_err(damaged)?;
                let contigs = header.string_maps().contigs();
                for (name, contig) in header.contigs() {
                    let id = contigs.get_index_of(name);
                    let length = contig.length().and_then(|l| u64::try_from(l).ok());
                    references.insert(name.clone(), (id, length));
                    reference_names.push(name.clone());
                }
                sample_names = header.sample_names().iter().cloned().collect();
                r.get_ref().virtual_position()
            }
            Format::Vcf => {
                let bgzf = noodles::bgzf::io::Reader::new(stream());
                let mut r = noodles::vcf::io::Reader::new(bgzf);
                let header = r.read_header().map_err(damaged)?;
                let index_names: Vec<String> = match &index {
                    Index::Tbi(i) => i
                        .header()
                        .map(|h| {
                            h.reference_sequence_names()
                                .iter()
                                .map(|n| String::from_utf8_lossy(n).into_owned())
                                .collect()
                        })
                        .unwrap_or_default(),
                    Index::Csi(i) => match i.header() {
                        Some(h) => h
                            .reference_sequence_names()
                            .iter()
                            .map(|n| String::from_utf8_lossy(n).into_owned())
                            .collect(),
                        None => header.contigs().keys().cloned().collect(),
                    },
                    Index::Bai(_) => {
                        return Err(SliceError::damaged(
                            index_name,
                            "a BAI index cannot index a VCF",
                        ));
                    }
                };
                for (i, n) in index_names.iter().enumerate() {
                    vcf_ids.insert(n.clone(), i32::try_from(i).unwrap_or(i32::MAX));
                }
                for (name, contig) in header.contigs() {
                    let id = index_names.iter().position(|n| n == name);
                    let length = contig.length().and_then(|l| u64::try_from(l).ok());
                    references.insert(name.clone(), (id, length));
                    reference_names.push(name.clone());
                }
                // Indexed sequences without a ##contig line are still queryable.
                for (i, n) in index_names.iter().enumerate() {
                    if !references.contains_key(n) {
                        references.insert(n.clone(), (Some(i), None));
                        reference_names.push(n.clone());
                    }
                }
                sample_names = header.sample_names().iter().cloned().collect();
                r.get_ref().virtual_position()
            }
            Format::Cram => return Err(SliceError::damaged(name, "CRAM is not a BGZF format")),
        };
        let mut tail = [0u8; 28];
        let eof_start =
            if len >= 28 && file.read_exact_at(&mut tail, len - 28).is_ok() && tail == BGZF_EOF {
                len - 28
            } else {
                len
            };
        Ok(Self {
            format,
            name: name.to_owned(),
            file,
            len,
            index,
            header_end,
            reference_names,
            references,
            vcf_ids,
            sample_names,
            eof_start,
        })
    }

    pub(crate) fn reference_names(&self) -> &[String] {
        &self.reference_names
    }

    pub(crate) fn sample_names(&self) -> &[String] {
        &self.sample_names
    }

    /// Checks region names and starts against the header (see [`crate::slice::IndexedFile::check`]).
    pub(crate) fn check_regions(&self, regions: &[crate::slice::Region]) -> Result<(), SliceError> {
        for r in regions {
            if let ReferenceName::Named(name) = &r.reference {
                let Some((_, length)) = self.references.get(name) else {
                    return Err(SliceError::UnknownReference(name.clone()));
                };
                if let Some(length) = length
                    && r.start >= *length
                {
                    return Err(SliceError::InvalidRange(format!(
                        "start {} is past the end of {name} ({length} bases)",
                        r.start
                    )));
                }
            }
        }
        Ok(())
    }

    pub(crate) fn slice(&self, query: &SliceQuery) -> Result<Slice, SliceError> {
        if query.class == Class::Body && query.regions.is_empty() {
            return Ok(Slice {
                pieces: vec![Piece::Range {
                    start: 0,
                    end: self.len,
                }],
                whole_file: true,
            });
        }
        // Resolve and check every region before reading anything.
        let mut spans: Vec<(i64, u64, u64)> = Vec::new();
        let mut unplaced = false;
        for r in &query.regions {
            match &r.reference {
                ReferenceName::Unplaced => unplaced = true,
                ReferenceName::Named(name) => {
                    let Some((id, length)) = self.references.get(name) else {
                        return Err(SliceError::UnknownReference(name.clone()));
                    };
                    if let Some(length) = length
                        && r.start >= *length
                    {
                        return Err(SliceError::InvalidRange(format!(
                            "start {} is past the end of {name} ({length} bases)",
                            r.start
                        )));
                    }
                    let Some(id) = id else { continue };
                    let end = r.end.unwrap_or(u64::MAX).min(length.unwrap_or(u64::MAX));
                    spans.push((i64::try_from(*id).unwrap_or(i64::MAX), r.start, end));
                }
            }
        }
        spans.sort_unstable();
        let mut merged: Vec<(i64, u64, u64)> = Vec::with_capacity(spans.len());
        for s in spans {
            match merged.last_mut() {
                Some(last) if last.0 == s.0 && s.1 <= last.2 => last.2 = last.2.max(s.2),
                _ => merged.push(s),
            }
        }

        let mut out = Builder::default();
        let mut cursor = Cursor::new(self);
        self.header_pieces(&mut cursor, &mut out)?;
        if query.class == Class::Body {
            let mut emitted = self.header_end;
            for (ref_id, start, end) in merged {
                self.region(&mut cursor, &mut out, &mut emitted, ref_id, start, end)?;
            }
            if unplaced {
                self.unplaced(&mut cursor, &mut out, &mut emitted)?;
            }
        }
        out.inline(&BGZF_EOF);
        Ok(out.finish())
    }

    fn header_pieces(&self, cursor: &mut Cursor<'_>, out: &mut Builder) -> Result<(), SliceError> {
        let c = self.header_end.compressed();
        out.range(0, c);
        let u = usize::from(self.header_end.uncompressed());
        if u > 0 {
            cursor.seek(
                VirtualPosition::try_from((c, 0))
                    .map_err(|e| SliceError::damaged(&self.name, e))?,
            )?;
            let data = cursor.block_data();
            out.raw(data.get(..u).unwrap_or(data));
        }
        Ok(())
    }

    /// Emits the records of `ref_id` overlapping `[start, end)` that lie at or after `emitted`.
    fn region(
        &self,
        cursor: &mut Cursor<'_>,
        out: &mut Builder,
        emitted: &mut VirtualPosition,
        ref_id: i64,
        start: u64,
        end: u64,
    ) -> Result<(), SliceError> {
        let Ok(id) = usize::try_from(ref_id) else {
            return Ok(());
        };
        let binning = self.index.as_binning();
        // The largest position the index can address.
        let max = (1u64 << (u32::from(binning.min_shift()) + 3 * u32::from(binning.depth()))) - 1;
        if start >= max {
            return Ok(());
        }
        let first = u64_to_pos(start.saturating_add(1));
        let last = u64_to_pos(end.min(max));
        let interval = Interval::from(first..=last);
        let chunks = binning
            .query(id, interval)
            .map_err(|e| SliceError::damaged(&self.name, format!("index query: {e}")))?;
        let Some(first_chunk) = chunks.first() else {
            return Ok(());
        };
        let scan_from = first_chunk.start().max(*emitted);
        // 1. Leading edge: up to the first record starting at or after `start`.
        cursor.seek(scan_from)?;
        let mut record = Vec::new();
        let v_mid = loop {
            let at = cursor.position()?;
            let Some(r) = self.next_record(cursor, &mut record)? else {
                break at;
            };
            if r.ref_id != ref_id || r.start >= start {
                break at;
            }
            if r.end > start {
                out.raw(&record);
            }
        };
        // 2. The trailing edge: the first record at or after `end`, or on another reference.
        let mut scan = v_mid;
        if let Some(hint) = self.index.min_offset(id, last)
            && hint > v_mid
        {
            cursor.seek(hint)?;
            if let Some(r) = self.next_record(cursor, &mut record)?
                && r.ref_id == ref_id
                && r.start < end
            {
                scan = hint;
            }
        }
        cursor.seek(scan)?;
        let v_end = loop {
            let at = cursor.position()?;
            let Some(r) = self.next_record(cursor, &mut record)? else {
                break at;
            };
            if r.ref_id != ref_id || r.start >= end {
                break at;
            }
        };
        if v_end > v_mid {
            self.span(cursor, out, v_mid, v_end)?;
        }
        *emitted = (*emitted).max(v_end);
        Ok(())
    }

    /// Emits the unplaced reads at the end of a BAM.
    fn unplaced(
        &self,
        cursor: &mut Cursor<'_>,
        out: &mut Builder,
        emitted: &mut VirtualPosition,
    ) -> Result<(), SliceError> {
        let from = self
            .index
            .as_binning()
            .last_first_record_start_position()
            .unwrap_or(self.header_end)
            .max(*emitted)
            .max(self.header_end);
        cursor.seek(from)?;
        let mut record = Vec::new();
        let v_first = loop {
            let at = cursor.position()?;
            match self.next_record(cursor, &mut record)? {
                None => break None,
                Some(r) if r.ref_id < 0 => break Some(at),
                Some(_) => {}
            }
        };
        if let Some(v) = v_first {
            let end = VirtualPosition::try_from((self.eof_start, 0))
                .map_err(|e| SliceError::damaged(&self.name, e))?;
            if end > v {
                self.span(cursor, out, v, end)?;
            }
            *emitted = (*emitted).max(end);
        }
        Ok(())
    }

    /// Emits every byte from `from` to `to`: partial blocks re-encoded, whole blocks as a range.
    fn span(
        &self,
        cursor: &mut Cursor<'_>,
        out: &mut Builder,
        from: VirtualPosition,
        to: VirtualPosition,
    ) -> Result<(), SliceError> {
        let (fc, fu) = (from.compressed(), usize::from(from.uncompressed()));
        let (tc, tu) = (to.compressed(), usize::from(to.uncompressed()));
        cursor.seek(
            VirtualPosition::try_from((fc, 0)).map_err(|e| SliceError::damaged(&self.name, e))?,
        )?;
        if fc == tc {
            let data = cursor.block_data();
            out.raw(data.get(fu..tu).unwrap_or_default());
            return Ok(());
        }
        let mut range_start = fc;
        if fu > 0 {
            out.raw(cursor.block_data().get(fu..).unwrap_or_default());
            range_start = cursor.next_block();
        }
        out.range(range_start, tc);
        if tu > 0 {
            cursor.seek(
                VirtualPosition::try_from((tc, 0))
                    .map_err(|e| SliceError::damaged(&self.name, e))?,
            )?;
            let data = cursor.block_data();
            out.raw(data.get(..tu).unwrap_or(data));
        }
        Ok(())
    }

    /// Reads the record at the cursor into `buf`; `None` at the end of the data.
    fn next_record(
        &self,
        cursor: &mut Cursor<'_>,
        buf: &mut Vec<u8>,
    ) -> Result<Option<Span>, SliceError> {
        buf.clear();
        match self.format {
            Format::Bam => {
                if !cursor.read_exact(4, buf)? {
                    return Ok(None);
                }
                let n = u32_at(buf, 0) as usize;
                if !(32..=MAX_RECORD_BYTES).contains(&n) || !cursor.read_exact(n, buf)? {
                    return Err(self.bad("a BAM record is truncated or has an impossible length"));
                }
                bam_span(&buf[4..])
                    .ok_or_else(|| self.bad("a BAM record is malformed"))
                    .map(Some)
            }
            Format::Bcf => {
                if !cursor.read_exact(8, buf)? {
                    return Ok(None);
                }
                let shared = u32_at(buf, 0) as usize;
                let indiv = u32_at(buf, 4) as usize;
                let n = shared.saturating_add(indiv);
                if shared < 24 || n > MAX_RECORD_BYTES || !cursor.read_exact(n, buf)? {
                    return Err(self.bad("a BCF record is truncated or has an impossible length"));
                }
                let chrom = i64::from(i32_at(buf, 8));
                let pos = u64::try_from(i32_at(buf, 12))
                    .map_err(|_| self.bad("negative BCF position"))?;
                let rlen = u64::try_from(i32_at(buf, 16)).unwrap_or(0).max(1);
                Ok(Some(Span {
                    ref_id: chrom,
                    start: pos,
                    end: pos + rlen,
                }))
            }
            Format::Vcf => {
                if !cursor.read_line(buf)? {
                    return Ok(None);
                }
                self.vcf_span(buf).map(Some)
            }
            Format::Cram => Ok(None),
        }
    }

    fn vcf_span(&self, line: &[u8]) -> Result<Span, SliceError> {
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let mut fields = line.split(|&b| b == b'\t');
        let (
            Some(chrom),
            Some(pos),
            Some(_id),
            Some(reference),
            Some(_alt),
            Some(_qual),
            Some(_filter),
        ) = (
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
        )
        else {
            return Err(self.bad("a VCF record has fewer than 8 columns"));
        };
        let info = fields.next().unwrap_or_default();
        let chrom = std::str::from_utf8(chrom).map_err(|_| self.bad("a VCF CHROM is not UTF-8"))?;
        let ref_id = self.vcf_ids.get(chrom).copied().map_or(i64::MAX, i64::from);
        let pos: u64 = std::str::from_utf8(pos)
            .ok()
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| self.bad("a VCF POS is not a number"))?;
        let start = pos.saturating_sub(1);
        let mut rlen = reference.len().max(1) as u64;
        for kv in info.split(|&b| b == b';') {
            if let Some(v) = kv.strip_prefix(b"END=")
                && let Some(e) = std::str::from_utf8(v)
                    .ok()
                    .and_then(|v| v.parse::<u64>().ok())
            {
                rlen = e.saturating_sub(start).max(1);
            }
        }
        Ok(Span {
            ref_id,
            start,
            end: start + rlen,
        })
    }

    fn bad(&self, reason: &str) -> SliceError {
        SliceError::damaged(&self.name, reason)
    }
}

/// Where a record lies: index reference id (-1 unplaced), `[start, end)` 0-based.
#[derive(Debug, Clone, Copy)]
struct Span {
    ref_id: i64,
    start: u64,
    end: u64,
}

fn u64_to_pos(n: u64) -> Position {
    usize::try_from(n)
        .ok()
        .and_then(|n| Position::try_from(n).ok())
        .unwrap_or(Position::MIN)
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4)
        .and_then(|s| <[u8; 4]>::try_from(s).ok())
        .map_or(0, u32::from_le_bytes)
}

fn i32_at(b: &[u8], at: usize) -> i32 {
    b.get(at..at + 4)
        .and_then(|s| <[u8; 4]>::try_from(s).ok())
        .map_or(0, i32::from_le_bytes)
}

/// The span of a BAM record (without its length prefix), as htslib's `bam_endpos`.
fn bam_span(r: &[u8]) -> Option<Span> {
    let ref_id = i64::from(i32_at(r, 0));
    let pos = i32_at(r, 4);
    let l_read_name = usize::from(*r.get(8)?);
    let n_cigar = usize::from(u16::from_le_bytes([*r.get(12)?, *r.get(13)?]));
    let flag = u16::from_le_bytes([*r.get(14)?, *r.get(15)?]);
    if ref_id < 0 || pos < 0 {
        return Some(Span {
            ref_id: -1,
            start: 0,
            end: 1,
        });
    }
    let start = u64::try_from(pos).ok()?;
    let cigar = r.get(32 + l_read_name..32 + l_read_name + 4 * n_cigar)?;
    let mut len = 0u64;
    if flag & 4 == 0 {
        for op in cigar.chunks_exact(4) {
            let v = u32::from_le_bytes([op[0], op[1], op[2], op[3]]);
            if matches!(v & 0xf, 0 | 2 | 3 | 7 | 8) {
                len += u64::from(v >> 4);
            }
        }
    }
    Some(Span {
        ref_id,
        start,
        end: start + len.max(1),
    })
}

/// Reads BGZF blocks of the file, decompressed, one at a time.
struct Cursor<'a> {
    f: &'a BgzfFile,
    /// Compressed offset of the loaded block (`u64::MAX`: none).
    c: u64,
    next_c: u64,
    data: Vec<u8>,
    u: usize,
    raw: Vec<u8>,
    inflate: flate2::Decompress,
}

impl<'a> Cursor<'a> {
    fn new(f: &'a BgzfFile) -> Self {
        Self {
            f,
            c: u64::MAX,
            next_c: 0,
            data: Vec::new(),
            u: 0,
            raw: Vec::new(),
            inflate: flate2::Decompress::new(false),
        }
    }

    fn bad(&self, reason: &str) -> SliceError {
        self.f.bad(reason)
    }

    fn load(&mut self, c: u64) -> Result<(), SliceError> {
        if self.c == c {
            return Ok(());
        }
        let name = self.f.name.as_str();
        let mut head = [0u8; gemj_bgzf::HEADER_LEN];
        self.f
            .file
            .read_exact_at(&mut head, c)
            .map_err(SliceError::io(name))?;
        let bsize = gemj_bgzf::read_header(&head).map_err(|e| match e {
            gemj_bgzf::BgzfError::TooShort => self.bad("a BGZF block is too short"),
            _ => self.bad("not a BGZF block where the index points"),
        })?;
        self.raw.resize(bsize, 0);
        self.f
            .file
            .read_exact_at(&mut self.raw, c)
            .map_err(SliceError::io(name))?;
        let (_, isize) = gemj_bgzf::read_trailer(&self.raw[bsize - gemj_bgzf::TRAILER_LEN..])
            .map_err(|_| self.bad("a BGZF block claims more than 64 KiB"))?;
        let isize = isize as usize;
        self.data.clear();
        self.data.reserve(isize.max(1));
        self.inflate.reset(false);
        self.inflate
            .decompress_vec(
                &self.raw[18..bsize - 8],
                &mut self.data,
                flate2::FlushDecompress::Finish,
            )
            .map_err(|_| self.bad("a BGZF block does not inflate"))?;
        if self.data.len() != isize {
            return Err(self.bad("a BGZF block's size does not match its data"));
        }
        self.c = c;
        self.next_c = c + bsize as u64;
        Ok(())
    }

    fn seek(&mut self, v: VirtualPosition) -> Result<(), SliceError> {
        self.load(v.compressed())?;
        self.u = usize::from(v.uncompressed());
        if self.u > self.data.len() {
            return Err(self.bad("an index offset lies outside its block"));
        }
        Ok(())
    }

    fn block_data(&self) -> &[u8] {
        &self.data
    }

    fn next_block(&self) -> u64 {
        self.next_c
    }

    /// Moves past exhausted blocks; false at the end of the data.
    fn fill(&mut self) -> Result<bool, SliceError> {
        while self.u >= self.data.len() {
            if self.next_c >= self.f.eof_start {
                return Ok(false);
            }
            let next = self.next_c;
            self.load(next)?;
            self.u = 0;
        }
        Ok(true)
    }

    /// The virtual position of the next byte (normalised to a block start when the loaded
    /// block is exhausted).
    fn position(&mut self) -> Result<VirtualPosition, SliceError> {
        if !self.fill()? {
            return VirtualPosition::try_from((self.f.eof_start, 0))
                .map_err(|e| self.bad(&e.to_string()));
        }
        let u = u16::try_from(self.u).map_err(|_| self.bad("a BGZF block is too large"))?;
        VirtualPosition::try_from((self.c, u)).map_err(|e| self.bad(&e.to_string()))
    }

    /// Appends `n` bytes; false when the data ends before the first byte.
    fn read_exact(&mut self, mut n: usize, out: &mut Vec<u8>) -> Result<bool, SliceError> {
        let mut first = true;
        while n > 0 {
            if !self.fill()? {
                if first {
                    return Ok(false);
                }
                return Err(self.bad("a record runs past the end of the file"));
            }
            first = false;
            let take = n.min(self.data.len() - self.u);
            out.extend_from_slice(&self.data[self.u..self.u + take]);
            self.u += take;
            n -= take;
        }
        Ok(true)
    }

    /// Appends a line with its newline; false at the end of the data.
    fn read_line(&mut self, out: &mut Vec<u8>) -> Result<bool, SliceError> {
        let mut any = false;
        loop {
            if !self.fill()? {
                return Ok(any);
            }
            any = true;
            let rest = &self.data[self.u..];
            if let Some(i) = rest.iter().position(|&b| b == b'\n') {
                out.extend_from_slice(&rest[..=i]);
                self.u += i + 1;
                return Ok(true);
            }
            out.extend_from_slice(rest);
            self.u = self.data.len();
            if out.len() > MAX_RECORD_BYTES {
                return Err(self.bad("a VCF line is too long"));
            }
        }
    }
}

/// Collects pieces; uncompressed bytes wait in `pending` and are compressed into BGZF blocks
/// when a range or the end follows.
#[derive(Default)]
struct Builder {
    slice: Slice,
    pending: Vec<u8>,
}

impl Builder {
    fn raw(&mut self, bytes: &[u8]) {
        self.pending.extend_from_slice(bytes);
    }

    fn flush(&mut self) {
        if !self.pending.is_empty() {
            let blocks = compress_blocks(&self.pending);
            self.pending.clear();
            self.slice.push(Piece::Inline(blocks));
        }
    }

    fn range(&mut self, start: u64, end: u64) {
        if end > start {
            self.flush();
            self.slice.push(Piece::Range { start, end });
        }
    }

    fn inline(&mut self, bytes: &[u8]) {
        self.flush();
        self.slice.push(Piece::Inline(bytes.to_vec()));
    }

    fn finish(mut self) -> Slice {
        self.flush();
        self.slice
    }
}

/// BGZF-compresses `data` into blocks of at most [`BLOCK_DATA_MAX`] bytes each (no EOF).
pub(crate) fn compress_blocks(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() / 3 + 64);
    for chunk in data.chunks(BLOCK_DATA_MAX) {
        let mut deflated = Vec::with_capacity(chunk.len() + 64);
        let mut z = flate2::Compress::new(flate2::Compression::new(6), false);
        // A block of at most 0xff00 bytes always fits in one call with this capacity.
        let _ = z.compress_vec(chunk, &mut deflated, flate2::FlushCompress::Finish);
        if deflated.len() + 26 > 0x1_0000 || z.total_in() as usize != chunk.len() {
            // Incompressible: store (deflate block type 0).
            deflated.clear();
            deflated.push(1);
            let n = u16::try_from(chunk.len()).unwrap_or(u16::MAX);
            deflated.extend_from_slice(&n.to_le_bytes());
            deflated.extend_from_slice(&(!n).to_le_bytes());
            deflated.extend_from_slice(chunk);
        }
        let mut crc = flate2::Crc::new();
        crc.update(chunk);
        // Reason: a chunk of at most BLOCK_DATA_MAX bytes, stored or deflated, always fits one
        // block, so neither write fails.
        let _ = gemj_bgzf::write_header(&mut out, deflated.len());
        out.extend_from_slice(&deflated);
        let _ = gemj_bgzf::write_trailer(&mut out, crc.sum(), chunk.len());
    }
    out
}
