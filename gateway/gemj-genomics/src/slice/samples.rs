//! VCF/BCF streams without some sample columns: what leaves the gateway when a participant has
//! withdrawn consent, or is outside the requester's consent scope.
//!
//! [`drop_samples`] reads a complete BGZF-compressed VCF or BCF stream (one header, records, the
//! BGZF end-of-file marker), record by record, and writes the same format, BGZF-compressed, with
//! one header and the end-of-file marker, without the excluded samples. Memory is bounded by the
//! longest record, whatever the length of the stream.
//!
//! # Header
//!
//! - The excluded names leave the sample list (`#CHROM` line; the BCF sample dictionary is that
//!   line). Names of `exclude` that are not samples of the header are ignored. When no sample
//!   remains, the `FORMAT` column goes too, as `bcftools view` does.
//! - Unstructured meta lines (every `##key=...` other than `fileformat`, `INFO`, `FORMAT`,
//!   `FILTER`, `ALT` and `contig`) that contain a name of `exclude` anywhere are removed:
//!   `##SAMPLE=<ID=...>`, `##PEDIGREE=...`, tool command lines that list samples. This is done
//!   even when no sample column is removed, since such a line names the person.
//! - When samples are removed and the header declares no `INFO/AC` or `INFO/AN`, the two are
//!   declared at the end of the meta lines with bcftools' descriptions (in BCF with an `IDX` when
//!   the input header uses them), as `bcftools view -s ^X` does.
//!
//! # Records
//!
//! When at least one sample column is removed, each record loses those columns (every FORMAT
//! field), and its INFO is rewritten from the genotypes (`FORMAT/GT`) of the remaining samples:
//!
//! | INFO | when                                    | value                                     |
//! |------|-----------------------------------------|-------------------------------------------|
//! | `AC` | `Number=A,Type=Integer` or undeclared   | called copies of each ALT allele          |
//! | `AN` | `Number=1,Type=Integer` or undeclared   | called alleles (`.` alleles not counted)  |
//! | `AF` | declared `Number=A,Type=Float`          | `AC/AN` per ALT; `.` when `AN` is 0       |
//! | `NS` | declared `Number=1,Type=Integer`        | samples with at least one called allele   |
//!
//! `AC` and `AN` are counted exactly as `bcftools view -s ^X` counts them (`bcf_calc_ac`:
//! phased, unphased, haploid and polyploid calls, each non-missing allele once) and kept in place
//! or appended at the end of INFO as bcftools does; `AC` is absent when there is no ALT allele.
//! bcftools 1.16 leaves `AF` and `NS` as they were (so they still count the excluded samples);
//! here they are recomputed as `bcftools +fill-tags -- -t AF,NS` would, and written into every
//! record with genotypes when the header declares them. `AF` is written as the demo writes it:
//! at most six decimals without trailing zeros in VCF (`0.020833`, `0.5`, `1`), the `f32` of
//! that decimal in BCF. A declared field of another Number or Type is removed, not recomputed.
//! In records without `FORMAT/GT`, nothing can be recounted: `AC`, `AN`, `AF` and `NS` are
//! removed, and none is added (bcftools adds none either).
//!
//! Every other INFO field is removed from every record, except those that describe the site
//! itself rather than the samples' calls: `AA`, `CIGAR`, `DB`, `END`, `H2`, `H3`, `1000G`,
//! `SOMATIC`, `VALIDATED`, the structural-variant keys (`SVTYPE`, `SVLEN`, `CIPOS`, `CIEND`,
//! `IMPRECISE`, `MATEID`, `EVENT`, ...) and functional annotations (`CSQ`, `ANN`, `BCSQ`, `LOF`,
//! `NMD`); see `SITE_INFO_KEYS`. So cross-sample summaries (`DP`, `MQ`, `DP4`, `ExcessHet`,
//! `InbreedingCoeff`, ...) and any field this module does not know are dropped, and nothing
//! derived from an excluded genotype leaves. Their header declarations stay (unused).
//!
//! A record with an ALT allele called only in excluded samples (the remaining `AC` all zero while
//! an excluded sample has a non-reference allele) is dropped: its existence would reveal the
//! excluded person's variant. Records without any non-reference call in the input stay.
//!
//! When no sample column is removed, records are written as they were read.
//!
//! Not changed, as `bcftools view -s ^X` does not change them either: `ID`, `QUAL`, `FILTER`
//! (whose values a caller may have derived from all samples), the `ALT` alleles of a
//! multi-allelic record of which only some are carried by excluded samples (they stay listed
//! with an `AC` of 0), and the `Description` of structured header lines.
//!
//! # Errors
//!
//! Input that is not a complete BGZF stream (bad block, checksum, missing end-of-file marker),
//! not VCF/BCF, or whose records do not match their header is [`SliceError::Damaged`]; failures
//! of the output writer are [`SliceError::Io`]. After an error, what was written is incomplete
//! (and has no end-of-file marker): discard it.

use std::{
    collections::{BTreeSet, HashMap},
    fmt::Write as _,
    io::{self, BufRead, Read, Write},
};

use noodles::bgzf;

use super::{Format, SliceError};

/// The path named in errors: the stream is not a file.
const SLICE_PATH: &str = "<slice>";

/// INFO keys that describe the site rather than the samples' calls: kept when samples are
/// removed. Every other INFO key, except the recomputed `AC`, `AN`, `AF` and `NS`, is removed.
const SITE_INFO_KEYS: &[&str] = &[
    "AA",
    "CIGAR",
    "DB",
    "END",
    "H2",
    "H3",
    "1000G",
    "SOMATIC",
    "VALIDATED",
    "SVTYPE",
    "SVLEN",
    "CIPOS",
    "CIEND",
    "IMPRECISE",
    "MATEID",
    "PARID",
    "EVENT",
    "HOMLEN",
    "HOMSEQ",
    "BKPTID",
    "MEINFO",
    "METRANS",
    "DGVID",
    "DBVARID",
    "DBRIPID",
    "CSQ",
    "ANN",
    "BCSQ",
    "LOF",
    "NMD",
];

/// bcftools' declaration of `INFO/AC`, added when samples are removed and the header has none.
const AC_LINE: &str =
    "##INFO=<ID=AC,Number=A,Type=Integer,Description=\"Allele count in genotypes\">";

/// bcftools' declaration of `INFO/AN`.
const AN_LINE: &str = "##INFO=<ID=AN,Number=1,Type=Integer,Description=\"Total number of alleles in called genotypes\">";

/// What was removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DropStats {
    /// Records read.
    pub records_in: u64,
    /// Records written (`records_in` less those dropped because only excluded samples carried
    /// their ALT alleles).
    pub records_out: u64,
    /// Sample columns removed: the names of `exclude` found in the header.
    pub samples_removed: usize,
}

/// Copies a BGZF VCF (`format` [`Format::Vcf`]) or BCF ([`Format::Bcf`]) stream from `input` to
/// `out` without the sample columns named in `exclude`, recomputing the INFO fields derived from
/// genotypes and dropping the records whose ALT alleles only excluded samples carry (see the
/// [module documentation](crate::slice::samples)).
///
/// # Errors
///
/// [`SliceError::InvalidInput`] for a format without samples (BAM, CRAM);
/// [`SliceError::Damaged`] for input that is not a complete, consistent BGZF VCF/BCF stream;
/// [`SliceError::Io`] when reading `input` or writing `out` fails. After an error, `out` has
/// received an incomplete stream without end-of-file marker.
pub fn drop_samples<R: Read, W: Write>(
    format: Format,
    input: R,
    exclude: &BTreeSet<String>,
    out: W,
) -> Result<DropStats, SliceError> {
    if !matches!(format, Format::Vcf | Format::Bcf) {
        return Err(SliceError::InvalidInput(format!(
            "{} has no sample columns to drop",
            format.as_str()
        )));
    }

    let mut reader = bgzf::io::Reader::new(FrameGuard::new(input));
    let mut writer = bgzf::io::Writer::new(out);

    let result = if format == Format::Bcf {
        bcf_stream(&mut reader, exclude, &mut writer)
    } else {
        vcf_stream(&mut reader, exclude, &mut writer)
    };

    match result {
        Ok(stats) => {
            writer.finish().map_err(write_error)?;
            Ok(stats)
        }
        Err(e) => {
            // Taking the inner writer keeps the BGZF writer from appending an end-of-file marker
            // to a failed stream.
            let _inner = writer.into_inner();
            Err(e)
        }
    }
}

/// A damaged-input error about the stream.
pub(crate) fn damaged(reason: impl std::fmt::Display) -> SliceError {
    SliceError::Damaged {
        file: SLICE_PATH.to_owned(),
        reason: reason.to_string(),
    }
}

fn read_error(e: io::Error) -> SliceError {
    match e.kind() {
        io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof | io::ErrorKind::InvalidInput => {
            damaged(e)
        }
        _ => SliceError::Io {
            file: SLICE_PATH.to_owned(),
            source: e,
        },
    }
}

fn write_error(e: io::Error) -> SliceError {
    SliceError::Io {
        file: SLICE_PATH.to_owned(),
        source: e,
    }
}

fn invalid_data(reason: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, reason)
}

/// Reads `buf.len()` bytes unless the stream ends first; returns how many were read.
fn read_full<R: Read>(reader: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match reader.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Reads exactly `len` bytes into `buf` (cleared first), growing it only as bytes arrive, so
/// that a damaged length cannot allocate more than the stream holds.
fn read_exact_into<R: Read>(reader: &mut R, len: u32, buf: &mut Vec<u8>) -> io::Result<bool> {
    buf.clear();
    reader.take(u64::from(len)).read_to_end(buf)?;
    Ok(buf.len() == len as usize)
}

/// Passes a BGZF stream through frame by frame, checking what the BGZF reader trusts: the frame
/// header, a block size within BGZF's limit (a damaged `ISIZE` must not allocate gigabytes), and
/// that the stream ends with the end-of-file marker (a slice cut short is damaged, not short).
struct FrameGuard<R> {
    inner: R,
    frame: Vec<u8>,
    pos: usize,
    last_was_eof: bool,
    finished: bool,
}

impl<R: Read> FrameGuard<R> {
    fn new(inner: R) -> Self {
        Self {
            inner,
            frame: Vec::with_capacity(usize::from(u16::MAX) + 1),
            pos: 0,
            last_was_eof: false,
            finished: false,
        }
    }

    /// Loads the next frame; `false` at the end of a well-terminated stream.
    fn next_frame(&mut self) -> io::Result<bool> {
        const HEADER: usize = gemj_bgzf::HEADER_LEN;

        if self.finished {
            return Ok(false);
        }

        self.pos = 0;
        self.frame.clear();
        self.frame.resize(HEADER, 0);

        let n = read_full(&mut self.inner, &mut self.frame)?;

        if n == 0 {
            self.finished = true;
            self.frame.clear();
            return if self.last_was_eof {
                Ok(false)
            } else {
                Err(invalid_data(
                    "the BGZF end-of-file marker is missing (truncated stream)",
                ))
            };
        }

        let size = gemj_bgzf::read_header(&self.frame[..n]).map_err(|e| match e {
            gemj_bgzf::BgzfError::TooShort => invalid_data("invalid BGZF block size"),
            _ => invalid_data("not a BGZF block"),
        })?;

        self.frame.resize(size, 0);
        if read_full(&mut self.inner, &mut self.frame[HEADER..])? < size - HEADER {
            return Err(invalid_data("truncated BGZF block"));
        }

        if gemj_bgzf::read_trailer(&self.frame[size - gemj_bgzf::TRAILER_LEN..]).is_err() {
            return Err(invalid_data("invalid BGZF uncompressed block size"));
        }

        self.last_was_eof = self.frame[..] == gemj_bgzf::EOF_BLOCK;
        Ok(true)
    }
}

impl<R: Read> Read for FrameGuard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos >= self.frame.len() && !self.next_frame()? {
            return Ok(0);
        }

        let n = buf.len().min(self.frame.len() - self.pos);
        buf[..n].copy_from_slice(&self.frame[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

// ---------------------------------------------------------------------------------------------
// Header
// ---------------------------------------------------------------------------------------------

/// What an INFO key is to the rewrite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Ac,
    An,
    Af,
    Ns,
    /// Describes the site: kept.
    Site,
    /// Anything else: removed when samples are removed.
    Other,
}

fn role_of(key: &[u8]) -> Role {
    match key {
        b"AC" => Role::Ac,
        b"AN" => Role::An,
        b"AF" => Role::Af,
        b"NS" => Role::Ns,
        _ if SITE_INFO_KEYS.iter().any(|k| k.as_bytes() == key) => Role::Site,
        _ => Role::Other,
    }
}

/// The BCF dictionary of FILTER/INFO/FORMAT IDs, built as htslib builds it: `PASS` is 0, then
/// each new ID takes its `IDX` or the next free index.
#[derive(Debug)]
struct Dictionary {
    ids: HashMap<String, usize>,
    next: usize,
    uses_idx: bool,
}

impl Dictionary {
    fn new() -> Self {
        Self {
            ids: HashMap::from([(String::from("PASS"), 0)]),
            next: 1,
            uses_idx: false,
        }
    }

    fn register(&mut self, id: &str, idx: Option<usize>) -> usize {
        if let Some(&existing) = self.ids.get(id) {
            return existing;
        }
        let idx = idx.unwrap_or(self.next);
        self.next = self.next.max(idx.saturating_add(1));
        self.ids.insert(id.to_owned(), idx);
        idx
    }
}

/// The header rewritten, and how to rewrite the records.
#[derive(Debug)]
struct Plan {
    /// The output header: meta lines and the `#CHROM` line, each ending in `\n`.
    text: String,
    /// The sample count of the input.
    samples_in: usize,
    /// Whether each input sample is kept.
    keep: Vec<bool>,
    /// Kept sample count.
    kept: usize,
    /// Removed sample count.
    removed: usize,
    /// Whether `AC`, `AN`, `AF`, `NS` are recomputed (otherwise removed), when samples are removed.
    ac: bool,
    an: bool,
    af: bool,
    ns: bool,
    /// BCF dictionary indices.
    ac_id: Option<usize>,
    an_id: Option<usize>,
    af_id: Option<usize>,
    ns_id: Option<usize>,
    gt_id: Option<usize>,
    /// The role of each BCF dictionary index.
    roles: HashMap<usize, Role>,
}

impl Plan {
    fn role(&self, idx: usize) -> Role {
        self.roles.get(&idx).copied().unwrap_or(Role::Other)
    }

    fn kept_indices(&self) -> impl Iterator<Item = usize> + '_ {
        self.keep
            .iter()
            .enumerate()
            .filter_map(|(i, &k)| k.then_some(i))
    }
}

/// The fields of a structured meta line (`<ID=x,Number=1,Description="...">`).
fn structured_fields(value: &str) -> Option<Vec<(&str, &str)>> {
    let inner = value.strip_prefix('<')?.strip_suffix('>')?;
    let bytes = inner.as_bytes();
    let mut fields = Vec::new();
    let mut i = 0;

    while i < bytes.len() {
        let key_start = i;
        while i < bytes.len() && bytes[i] != b'=' {
            i += 1;
        }
        let key = inner.get(key_start..i)?.trim();
        i += 1; // '='
        if i > bytes.len() {
            return None;
        }

        let value_start = i;
        if bytes.get(i) == Some(&b'"') {
            i += 1;
            while i < bytes.len() && bytes[i] != b'"' {
                i += if bytes[i] == b'\\' { 2 } else { 1 };
            }
            if i >= bytes.len() {
                return None;
            }
            i += 1; // closing quote
            fields.push((key, inner.get(value_start + 1..i - 1)?));
        } else {
            while i < bytes.len() && bytes[i] != b',' {
                i += 1;
            }
            fields.push((key, inner.get(value_start..i)?));
        }

        if i < bytes.len() {
            if bytes[i] != b',' {
                return None;
            }
            i += 1;
        }
    }

    Some(fields)
}

/// Whether an INFO declaration is usable: `Some(true)` when it has the expected Number and
/// Type, `Some(false)` when it has others, `None` when absent.
type Declared = Option<bool>;

/// Rewrites a VCF header (meta lines and the `#CHROM` line) for `exclude`.
fn plan_header(text: &str, exclude: &BTreeSet<String>, bcf: bool) -> Result<Plan, SliceError> {
    let names: Vec<&str> = exclude
        .iter()
        .map(String::as_str)
        .filter(|n| !n.is_empty())
        .collect();

    let mut out = String::with_capacity(text.len() + 256);
    let mut dict = Dictionary::new();
    let mut declared: HashMap<&str, bool> = HashMap::new();
    let mut chrom: Option<&str> = None;

    for (n, raw) in text.split('\n').enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);

        if chrom.is_some() {
            if line.is_empty() {
                continue;
            }
            return Err(damaged("header text after the #CHROM line"));
        }

        if n == 0 && !line.starts_with("##fileformat=VCF") {
            return Err(damaged("not a VCF header (no ##fileformat=VCF line)"));
        }

        if line.is_empty() {
            continue;
        }

        if line.starts_with("#CHROM") {
            chrom = Some(line);
            continue;
        }

        let Some(meta) = line.strip_prefix("##") else {
            return Err(damaged(format!(
                "header line {} is neither a ## meta line nor #CHROM",
                n + 1
            )));
        };

        let (key, value) = meta.split_once('=').unwrap_or((meta, ""));

        match key {
            "INFO" | "FORMAT" | "FILTER" => {
                let fields = structured_fields(value)
                    .ok_or_else(|| damaged(format!("malformed ##{key} header line {}", n + 1)))?;
                let get = |k: &str| fields.iter().find(|(fk, _)| *fk == k).map(|(_, v)| *v);
                let id = get("ID")
                    .filter(|id| !id.is_empty())
                    .ok_or_else(|| damaged(format!("##{key} header line {} has no ID", n + 1)))?;
                let idx = match get("IDX") {
                    Some(v) => {
                        dict.uses_idx = true;
                        Some(v.parse::<usize>().map_err(|_| {
                            damaged(format!("##{key} header line {} has a bad IDX", n + 1))
                        })?)
                    }
                    None => None,
                };
                dict.register(id, idx);

                if key == "INFO" && matches!(id, "AC" | "AN" | "AF" | "NS") {
                    let expected = match id {
                        "AC" => ("A", "Integer"),
                        "AF" => ("A", "Float"),
                        _ => ("1", "Integer"),
                    };
                    let usable =
                        get("Number") == Some(expected.0) && get("Type") == Some(expected.1);
                    declared.entry(id).or_insert(usable);
                }
                out.push_str(line);
                out.push('\n');
            }
            "fileformat" | "contig" | "ALT" => {
                out.push_str(line);
                out.push('\n');
            }
            _ => {
                if !names.iter().any(|name| line.contains(name)) {
                    out.push_str(line);
                    out.push('\n');
                }
            }
        }
    }

    let chrom = chrom.ok_or_else(|| damaged("the VCF header has no #CHROM line"))?;
    let columns: Vec<&str> = chrom.split('\t').collect();
    if columns.len() < 8 || (columns.len() > 8 && columns[8] != "FORMAT") {
        return Err(damaged("malformed #CHROM header line"));
    }
    let samples = columns.get(9..).unwrap_or_default();
    let keep: Vec<bool> = samples.iter().map(|s| !exclude.contains(*s)).collect();
    let kept = keep.iter().filter(|&&k| k).count();
    let removed = samples.len() - kept;

    let get_declared = |id: &str| -> Declared { declared.get(id).copied() };
    let mut ac = get_declared("AC").unwrap_or(true);
    let mut an = get_declared("AN").unwrap_or(true);
    let af = get_declared("AF").unwrap_or(false);
    let ns = get_declared("NS").unwrap_or(false);

    if removed > 0 {
        for (id, line) in [("AC", AC_LINE), ("AN", AN_LINE)] {
            if get_declared(id).is_some() {
                continue;
            }
            let idx = dict.register(id, None);
            match line.strip_suffix('>') {
                Some(body) if bcf && dict.uses_idx => {
                    // Writing to a `String` cannot fail.
                    let _ = writeln!(out, "{body},IDX={idx}>");
                }
                _ => {
                    out.push_str(line);
                    out.push('\n');
                }
            }
        }
    } else {
        ac = false;
        an = false;
    }

    out.push_str(&columns[..8].join("\t"));
    if columns.len() > 8 && (kept > 0 || removed == 0) {
        out.push_str("\tFORMAT");
        for (name, _) in samples.iter().zip(&keep).filter(|(_, k)| **k) {
            out.push('\t');
            out.push_str(name);
        }
    }
    out.push('\n');

    let id = |name: &str| dict.ids.get(name).copied();
    let roles = dict
        .ids
        .iter()
        .map(|(name, &idx)| (idx, role_of(name.as_bytes())))
        .collect();

    Ok(Plan {
        samples_in: samples.len(),
        kept,
        removed,
        ac,
        an,
        af,
        ns,
        ac_id: id("AC"),
        an_id: id("AN"),
        af_id: id("AF"),
        ns_id: id("NS"),
        gt_id: id("GT"),
        roles,
        keep,
        text: out,
    })
}

// ---------------------------------------------------------------------------------------------
// Genotype counts
// ---------------------------------------------------------------------------------------------

/// Allele counts over the kept samples of one record.
#[derive(Debug, Default)]
struct Counts {
    /// Whether the record has `FORMAT/GT`.
    gt: bool,
    /// Called copies of each ALT allele.
    ac: Vec<u64>,
    /// Called alleles.
    an: u64,
    /// Samples with at least one called allele.
    ns: u64,
    /// Whether an excluded sample has a non-reference allele.
    excluded_non_ref: bool,
}

impl Counts {
    fn reset(&mut self, n_alt: usize) {
        self.gt = false;
        self.ac.clear();
        self.ac.resize(n_alt, 0);
        self.an = 0;
        self.ns = 0;
        self.excluded_non_ref = false;
    }

    /// Counts one sample's called allele indices.
    fn add(&mut self, kept: bool, mut alleles: impl Iterator<Item = usize>) {
        if kept {
            let mut called = false;
            for a in alleles {
                called = true;
                self.an += 1;
                if let Some(c) = a.checked_sub(1).and_then(|i| self.ac.get_mut(i)) {
                    *c += 1;
                }
            }
            if called {
                self.ns += 1;
            }
        } else if alleles.any(|a| a > 0) {
            self.excluded_non_ref = true;
        }
    }

    /// Whether the record must go: ALT alleles called, but only in excluded samples.
    fn only_excluded_carry(&self) -> bool {
        self.gt && self.excluded_non_ref && self.ac.iter().all(|&c| c == 0)
    }
}

/// Checks a VCF `GT` value and returns its called allele indices (`.` skipped).
fn text_alleles(gt: &[u8], n_allele: usize, out: &mut Vec<usize>) -> Result<(), String> {
    out.clear();
    let body = match gt.first() {
        Some(b'/' | b'|') => &gt[1..],
        _ => gt,
    };
    let bad = || format!("invalid genotype {:?}", String::from_utf8_lossy(gt));
    if body.is_empty() {
        return Err(bad());
    }
    for token in body.split(|&b| b == b'/' || b == b'|') {
        if token == b"." {
            continue;
        }
        if token.is_empty() || token.len() > 9 || !token.iter().all(u8::is_ascii_digit) {
            return Err(bad());
        }
        let a = token
            .iter()
            .fold(0usize, |acc, &d| acc * 10 + usize::from(d - b'0'));
        if a >= n_allele {
            return Err(format!(
                "genotype {:?} names allele {a} of {n_allele}",
                String::from_utf8_lossy(gt)
            ));
        }
        out.push(a);
    }
    Ok(())
}

/// Formats `AC/AN` as the demo does: six decimals at most, no trailing zeros; `None` when `AN` is
/// 0.
fn format_af(ac: u64, an: u64, buf: &mut String) -> bool {
    buf.clear();
    if an == 0 {
        return false;
    }
    let af = ac as f64 / an as f64;
    // Writing to a `String` cannot fail.
    let _ = write!(buf, "{af:.6}");
    if buf.contains('.') {
        let trimmed = buf.trim_end_matches('0').trim_end_matches('.').len();
        buf.truncate(trimmed);
    }
    if buf.is_empty() {
        buf.push('0');
    }
    true
}

fn push_u64(out: &mut Vec<u8>, mut v: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        // A decimal digit fits in a byte.
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

// ---------------------------------------------------------------------------------------------
// VCF
// ---------------------------------------------------------------------------------------------

fn vcf_stream<R: BufRead, W: Write>(
    reader: &mut R,
    exclude: &BTreeSet<String>,
    writer: &mut W,
) -> Result<DropStats, SliceError> {
    let mut header = String::new();
    let mut line = Vec::with_capacity(1 << 12);

    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line).map_err(read_error)? == 0 {
            return Err(damaged("the VCF header has no #CHROM line"));
        }
        let text = std::str::from_utf8(&line).map_err(|_| damaged("VCF header is not UTF-8"))?;
        if !text.starts_with('#') {
            return Err(damaged("the VCF header has no #CHROM line"));
        }
        header.push_str(text);
        if !text.ends_with('\n') {
            header.push('\n');
        }
        if text.starts_with("#CHROM") {
            break;
        }
    }

    let plan = plan_header(&header, exclude, false)?;
    drop(header);
    writer
        .write_all(plan.text.as_bytes())
        .map_err(write_error)?;

    let mut stats = DropStats {
        samples_removed: plan.removed,
        ..DropStats::default()
    };
    let mut scratch = TextScratch::default();

    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line).map_err(read_error)? == 0 {
            break;
        }
        let mut record = line.as_slice();
        if let Some(r) = record.strip_suffix(b"\n") {
            record = r;
        }
        if let Some(r) = record.strip_suffix(b"\r") {
            record = r;
        }

        stats.records_in += 1;
        scratch.out.clear();
        let keep = text_record(record, &plan, &mut scratch)
            .map_err(|reason| damaged(format!("record {}: {reason}", stats.records_in)))?;
        if keep {
            stats.records_out += 1;
            writer.write_all(&scratch.out).map_err(write_error)?;
        }
    }

    Ok(stats)
}

#[derive(Debug, Default)]
struct TextScratch {
    tabs: Vec<usize>,
    alleles: Vec<usize>,
    counts: Counts,
    number: String,
    out: Vec<u8>,
}

/// Rewrites one VCF data line (without its line break) into `st.out`; `false` to drop it.
fn text_record(line: &[u8], plan: &Plan, st: &mut TextScratch) -> Result<bool, String> {
    if line.is_empty() || line[0] == b'#' {
        return Err(String::from("expected a data line"));
    }

    st.tabs.clear();
    st.tabs.extend(
        line.iter()
            .enumerate()
            .filter_map(|(i, &b)| (b == b'\t').then_some(i)),
    );
    let columns = st.tabs.len() + 1;
    let expected = if plan.samples_in == 0 {
        columns == 8 || columns == 9
    } else {
        columns == 9 + plan.samples_in
    };
    if !expected {
        return Err(format!(
            "{columns} columns, the header has {} samples",
            plan.samples_in
        ));
    }

    if plan.removed == 0 {
        st.out.extend_from_slice(line);
        st.out.push(b'\n');
        return Ok(true);
    }

    let tabs = &st.tabs;
    let column = |i: usize| {
        let start = if i == 0 { 0 } else { tabs[i - 1] + 1 };
        let end = tabs.get(i).copied().unwrap_or(line.len());
        &line[start..end]
    };

    let alt = column(4);
    if alt.is_empty() {
        return Err(String::from("empty ALT"));
    }
    let n_alt = if alt == b"." {
        0
    } else {
        alt.iter().filter(|&&b| b == b',').count() + 1
    };

    let format = column(8);
    let gt_index = format.split(|&b| b == b':').position(|k| k == b"GT");

    st.counts.reset(n_alt);
    if let Some(k) = gt_index {
        st.counts.gt = true;
        for (s, &kept) in plan.keep.iter().enumerate() {
            let gt = column(9 + s).split(|&b| b == b':').nth(k).unwrap_or(b".");
            text_alleles(gt, n_alt + 1, &mut st.alleles)?;
            st.counts.add(kept, st.alleles.iter().copied());
        }
    }

    if st.counts.only_excluded_carry() {
        return Ok(false);
    }

    // CHROM to FILTER, and the tab before INFO.
    st.out.extend_from_slice(&line[..=tabs[6]]);
    rewrite_text_info(column(7), plan, &st.counts, &mut st.number, &mut st.out);

    if plan.kept > 0 {
        st.out.push(b'\t');
        st.out.extend_from_slice(format);
        for s in plan.kept_indices() {
            st.out.push(b'\t');
            st.out.extend_from_slice(column(9 + s));
        }
    }
    st.out.push(b'\n');

    Ok(true)
}

/// Which recomputed fields a record gets.
#[derive(Debug, Clone, Copy)]
struct Emit {
    ac: bool,
    an: bool,
    af: bool,
    ns: bool,
}

impl Emit {
    fn new(plan: &Plan, counts: &Counts) -> Self {
        let n_alt = counts.ac.len();
        Self {
            ac: plan.ac && counts.gt && n_alt > 0,
            an: plan.an && counts.gt,
            af: plan.af && counts.gt && n_alt > 0,
            ns: plan.ns && counts.gt,
        }
    }
}

fn rewrite_text_info(
    info: &[u8],
    plan: &Plan,
    counts: &Counts,
    number: &mut String,
    out: &mut Vec<u8>,
) {
    let emit = Emit::new(plan, counts);
    let start = out.len();
    let mut seen = [false; 4];

    let mut push_field = |out: &mut Vec<u8>, role: Role| {
        if out.len() > start {
            out.push(b';');
        }
        match role {
            Role::Ac => {
                out.extend_from_slice(b"AC=");
                for (i, &c) in counts.ac.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    push_u64(out, c);
                }
            }
            Role::An => {
                out.extend_from_slice(b"AN=");
                push_u64(out, counts.an);
            }
            Role::Ns => {
                out.extend_from_slice(b"NS=");
                push_u64(out, counts.ns);
            }
            Role::Af => {
                out.extend_from_slice(b"AF=");
                for (i, &c) in counts.ac.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    if format_af(c, counts.an, number) {
                        out.extend_from_slice(number.as_bytes());
                    } else {
                        out.push(b'.');
                    }
                }
            }
            Role::Site | Role::Other => {}
        }
    };

    if info != b"." {
        for entry in info.split(|&b| b == b';').filter(|e| !e.is_empty()) {
            let key = entry.split(|&b| b == b'=').next().unwrap_or(entry);
            let role = role_of(key);
            let (slot, wanted) = match role {
                Role::Site => {
                    if out.len() > start {
                        out.push(b';');
                    }
                    out.extend_from_slice(entry);
                    continue;
                }
                Role::Other => continue,
                Role::Ac => (0, emit.ac),
                Role::An => (1, emit.an),
                Role::Ns => (2, emit.ns),
                Role::Af => (3, emit.af),
            };
            if !seen[slot] && wanted {
                push_field(out, role);
            }
            seen[slot] = true;
        }
    }

    for (slot, role, wanted) in [
        (0, Role::Ac, emit.ac),
        (1, Role::An, emit.an),
        (2, Role::Ns, emit.ns),
        (3, Role::Af, emit.af),
    ] {
        if wanted && !seen[slot] {
            push_field(out, role);
        }
    }

    if out.len() == start {
        out.push(b'.');
    }
}

// ---------------------------------------------------------------------------------------------
// BCF
// ---------------------------------------------------------------------------------------------

/// BCF typed-value types.
const BT_NULL: u8 = 0;
const BT_INT8: u8 = 1;
const BT_INT16: u8 = 2;
const BT_INT32: u8 = 3;
const BT_FLOAT: u8 = 5;
const BT_CHAR: u8 = 7;

/// The BCF missing float.
const FLOAT_MISSING: u32 = 0x7F80_0001;

fn bcf_stream<R: BufRead, W: Write>(
    reader: &mut R,
    exclude: &BTreeSet<String>,
    writer: &mut W,
) -> Result<DropStats, SliceError> {
    let mut magic = [0u8; 5];
    if read_full(reader, &mut magic).map_err(read_error)? < magic.len()
        || magic[..4] != *b"BCF\x02"
        || !matches!(magic[4], 1 | 2)
    {
        return Err(damaged("not a BCF 2 stream"));
    }

    let mut word = [0u8; 4];
    if read_full(reader, &mut word).map_err(read_error)? < word.len() {
        return Err(damaged("truncated BCF header"));
    }
    let mut buf = Vec::new();
    if !read_exact_into(reader, u32::from_le_bytes(word), &mut buf).map_err(read_error)? {
        return Err(damaged("truncated BCF header"));
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    let text = std::str::from_utf8(&buf[..end]).map_err(|_| damaged("BCF header is not UTF-8"))?;
    let plan = plan_header(text, exclude, true)?;
    drop(buf);

    let l_text =
        u32::try_from(plan.text.len() + 1).map_err(|_| damaged("the BCF header is too long"))?;
    writer
        .write_all(&magic)
        .and_then(|()| writer.write_all(&l_text.to_le_bytes()))
        .and_then(|()| writer.write_all(plan.text.as_bytes()))
        .and_then(|()| writer.write_all(&[0]))
        .map_err(write_error)?;

    let mut stats = DropStats {
        samples_removed: plan.removed,
        ..DropStats::default()
    };
    let mut st = BcfScratch::default();
    let mut lengths = [0u8; 8];

    loop {
        let n = read_full(reader, &mut lengths).map_err(read_error)?;
        if n == 0 {
            break;
        }
        stats.records_in += 1;
        let record = stats.records_in;
        let fault = |reason: &str| damaged(format!("BCF record {record}: {reason}"));
        if n < lengths.len() {
            return Err(fault("truncated"));
        }
        let l_shared = u32::from_le_bytes([lengths[0], lengths[1], lengths[2], lengths[3]]);
        let l_indiv = u32::from_le_bytes([lengths[4], lengths[5], lengths[6], lengths[7]]);
        if !read_exact_into(reader, l_shared, &mut st.shared).map_err(read_error)?
            || !read_exact_into(reader, l_indiv, &mut st.indiv).map_err(read_error)?
        {
            return Err(fault("truncated"));
        }

        let keep = bcf_record(&plan, &mut st).map_err(|reason| fault(&reason))?;
        if !keep {
            continue;
        }
        stats.records_out += 1;

        let (shared, indiv) = if plan.removed == 0 {
            (&st.shared, &st.indiv)
        } else {
            (&st.shared_out, &st.indiv_out)
        };
        let l_shared = u32::try_from(shared.len()).map_err(|_| fault("too long"))?;
        let l_indiv = u32::try_from(indiv.len()).map_err(|_| fault("too long"))?;
        writer
            .write_all(&l_shared.to_le_bytes())
            .and_then(|()| writer.write_all(&l_indiv.to_le_bytes()))
            .and_then(|()| writer.write_all(shared))
            .and_then(|()| writer.write_all(indiv))
            .map_err(write_error)?;
    }

    Ok(stats)
}

#[derive(Debug, Default)]
struct BcfScratch {
    shared: Vec<u8>,
    indiv: Vec<u8>,
    shared_out: Vec<u8>,
    indiv_out: Vec<u8>,
    /// INFO entries: key, start, end of the key, end of the value.
    info: Vec<(usize, usize, usize, usize)>,
    alleles: Vec<usize>,
    counts: Counts,
    number: String,
}

fn type_size(ty: u8) -> Result<usize, String> {
    match ty {
        BT_NULL => Ok(0),
        BT_INT8 | BT_CHAR => Ok(1),
        BT_INT16 => Ok(2),
        BT_INT32 | BT_FLOAT => Ok(4),
        _ => Err(format!("unknown typed-value type {ty}")),
    }
}

fn read_int(buf: &[u8], ty: u8, at: usize) -> Option<i32> {
    match ty {
        BT_INT8 => buf.get(at).map(|&b| i32::from(i8::from_le_bytes([b]))),
        BT_INT16 => buf
            .get(at..at + 2)
            .map(|b| i32::from(i16::from_le_bytes([b[0], b[1]]))),
        BT_INT32 => buf
            .get(at..at + 4)
            .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        _ => None,
    }
}

/// Reads a typed-value descriptor: its type and count.
fn typed_descriptor(buf: &[u8], off: &mut usize) -> Result<(u8, usize), String> {
    let b = *buf.get(*off).ok_or("truncated typed value")?;
    *off += 1;
    let ty = b & 0x0f;
    let mut count = usize::from(b >> 4);
    if count == 15 {
        let n = typed_int(buf, off)?;
        count = usize::try_from(n).map_err(|_| String::from("negative typed-value count"))?;
    }
    Ok((ty, count))
}

/// Reads a typed integer scalar (a key or a count).
fn typed_int(buf: &[u8], off: &mut usize) -> Result<i32, String> {
    let (ty, count) = typed_descriptor_simple(buf, off)?;
    if count != 1 {
        return Err(String::from("expected a typed integer"));
    }
    let v = read_int(buf, ty, *off).ok_or("expected a typed integer")?;
    *off += type_size(ty)?;
    Ok(v)
}

/// A descriptor whose count cannot overflow (for scalars).
fn typed_descriptor_simple(buf: &[u8], off: &mut usize) -> Result<(u8, usize), String> {
    let b = *buf.get(*off).ok_or("truncated typed value")?;
    *off += 1;
    Ok((b & 0x0f, usize::from(b >> 4)))
}

/// Skips a typed value.
fn skip_typed(buf: &[u8], off: &mut usize) -> Result<(), String> {
    let (ty, count) = typed_descriptor(buf, off)?;
    let len = count
        .checked_mul(type_size(ty)?)
        .ok_or("typed value too long")?;
    let end = off.checked_add(len).ok_or("typed value too long")?;
    if end > buf.len() {
        return Err(String::from("truncated typed value"));
    }
    *off = end;
    Ok(())
}

fn push_descriptor(out: &mut Vec<u8>, ty: u8, count: usize) {
    if count < 15 {
        // Both fit in a nibble.
        out.push(((count as u8) << 4) | ty);
    } else {
        out.push(0xf0 | ty);
        push_typed_scalar(out, count as u64);
    }
}

/// The smallest integer type holding `max` (non-negative values).
fn int_type(max: u64) -> u8 {
    if max <= 127 {
        BT_INT8
    } else if max <= 32_767 {
        BT_INT16
    } else {
        BT_INT32
    }
}

fn push_int(out: &mut Vec<u8>, ty: u8, v: u64) {
    // Values are chosen to fit `ty` by `int_type`; int32 values saturate.
    match ty {
        BT_INT8 => out.push(v as u8),
        BT_INT16 => out.extend_from_slice(&(v as u16).to_le_bytes()),
        _ => out.extend_from_slice(&(v.min(i32::MAX as u64) as u32).to_le_bytes()),
    }
}

fn push_typed_scalar(out: &mut Vec<u8>, v: u64) {
    let ty = int_type(v);
    out.push(0x10 | ty);
    push_int(out, ty, v);
}

fn push_int_vector(out: &mut Vec<u8>, values: &[u64]) {
    let ty = int_type(values.iter().copied().max().unwrap_or(0));
    push_descriptor(out, ty, values.len());
    for &v in values {
        push_int(out, ty, v);
    }
}

/// Rewrites one BCF record (`st.shared`, `st.indiv`) into `st.shared_out` and `st.indiv_out`
/// (when samples are removed); `false` to drop it.
fn bcf_record(plan: &Plan, st: &mut BcfScratch) -> Result<bool, String> {
    let shared = &st.shared;
    let indiv = &st.indiv;

    if shared.len() < 24 {
        return Err(String::from("shared part too short"));
    }
    let n_info = usize::from(u16::from_le_bytes([shared[16], shared[17]]));
    let n_allele = usize::from(u16::from_le_bytes([shared[18], shared[19]]));
    let n_sample = u32::from_le_bytes([shared[20], shared[21], shared[22], 0]) as usize;
    let n_fmt = usize::from(shared[23]);

    if n_sample != plan.samples_in {
        return Err(format!(
            "{n_sample} samples, the header has {}",
            plan.samples_in
        ));
    }
    let n_alt = n_allele.saturating_sub(1);

    let mut off = 24;
    skip_typed(shared, &mut off)?; // ID
    for _ in 0..n_allele {
        skip_typed(shared, &mut off)?;
    }
    skip_typed(shared, &mut off)?; // FILTER
    let info_start = off;

    st.info.clear();
    for _ in 0..n_info {
        let start = off;
        let key = typed_int(shared, &mut off)?;
        let key_end = off;
        skip_typed(shared, &mut off)?;
        let key = usize::try_from(key).map_err(|_| String::from("negative INFO key"))?;
        st.info.push((key, start, key_end, off));
    }
    if off != shared.len() {
        return Err(String::from(
            "shared part length does not match its content",
        ));
    }

    let removing = plan.removed > 0;
    st.counts.reset(n_alt);
    st.indiv_out.clear();

    let mut off = 0;
    for _ in 0..n_fmt {
        let field_start = off;
        let key = typed_int(indiv, &mut off)?;
        let (ty, count) = typed_descriptor(indiv, &mut off)?;
        let per_sample = count
            .checked_mul(type_size(ty)?)
            .ok_or("FORMAT field too long")?;
        let total = per_sample
            .checked_mul(n_sample)
            .ok_or("FORMAT field too long")?;
        let values_start = off;
        let values = off
            .checked_add(total)
            .and_then(|end| indiv.get(off..end))
            .ok_or("truncated FORMAT field")?;
        off += total;

        if !removing {
            continue;
        }

        if usize::try_from(key).ok() == plan.gt_id {
            if !matches!(ty, BT_INT8 | BT_INT16 | BT_INT32 | BT_NULL) {
                return Err(String::from("FORMAT/GT is not an integer vector"));
            }
            st.counts.gt = true;
            let vector_end = match ty {
                BT_INT8 => -127,
                BT_INT16 => -32_767,
                _ => i32::MIN + 1,
            };
            let size = type_size(ty)?;
            let ploidy = if ty == BT_NULL { 0 } else { count };
            for (s, &kept) in plan.keep.iter().enumerate() {
                st.alleles.clear();
                for j in 0..ploidy {
                    let v = read_int(values, ty, s * per_sample + j * size)
                        .ok_or("truncated FORMAT/GT")?;
                    if v == vector_end {
                        break;
                    }
                    let allele = (v >> 1) - 1;
                    if allele < 0 {
                        continue;
                    }
                    let allele = allele as usize;
                    if allele >= n_allele {
                        return Err(format!("genotype names allele {allele} of {n_allele}"));
                    }
                    st.alleles.push(allele);
                }
                st.counts.add(kept, st.alleles.iter().copied());
            }
        }

        if plan.kept > 0 {
            st.indiv_out
                .extend_from_slice(&indiv[field_start..values_start]);
            for s in plan.kept_indices() {
                st.indiv_out
                    .extend_from_slice(&values[s * per_sample..(s + 1) * per_sample]);
            }
        }
    }
    if off != indiv.len() {
        return Err(String::from(
            "per-sample part length does not match its content",
        ));
    }

    if !removing {
        return Ok(true);
    }
    if st.counts.only_excluded_carry() {
        return Ok(false);
    }

    // Shared part: fixed fields, ID, alleles and FILTER as they were; INFO rewritten.
    let out = &mut st.shared_out;
    out.clear();
    out.extend_from_slice(&shared[..info_start]);

    let counts = &st.counts;
    let emit = Emit::new(plan, counts);
    let mut n_info_out = 0usize;
    let mut seen = [false; 4];

    let mut push_field = |out: &mut Vec<u8>, role: Role, key: Option<&[u8]>, id: Option<usize>| {
        match (key, id) {
            (Some(raw), _) => out.extend_from_slice(raw),
            (None, Some(id)) => push_typed_scalar(out, id as u64),
            (None, None) => return false,
        }
        match role {
            Role::Ac => push_int_vector(out, &counts.ac),
            Role::An => push_typed_scalar(out, counts.an),
            Role::Ns => push_typed_scalar(out, counts.ns),
            Role::Af => {
                push_descriptor(out, BT_FLOAT, counts.ac.len());
                for &c in &counts.ac {
                    let bits = if format_af(c, counts.an, &mut st.number) {
                        let fallback = (c as f64 / counts.an as f64) as f32;
                        st.number.parse::<f32>().unwrap_or(fallback).to_bits()
                    } else {
                        FLOAT_MISSING
                    };
                    out.extend_from_slice(&bits.to_le_bytes());
                }
            }
            Role::Site | Role::Other => {}
        }
        true
    };

    for &(key, start, key_end, end) in &st.info {
        let role = plan.role(key);
        let (slot, wanted) = match role {
            Role::Site => {
                out.extend_from_slice(&shared[start..end]);
                n_info_out += 1;
                continue;
            }
            Role::Other => continue,
            Role::Ac => (0, emit.ac),
            Role::An => (1, emit.an),
            Role::Ns => (2, emit.ns),
            Role::Af => (3, emit.af),
        };
        if !seen[slot] && wanted && push_field(out, role, Some(&shared[start..key_end]), None) {
            n_info_out += 1;
        }
        seen[slot] = true;
    }

    for (slot, role, wanted, id) in [
        (0, Role::Ac, emit.ac, plan.ac_id),
        (1, Role::An, emit.an, plan.an_id),
        (2, Role::Ns, emit.ns, plan.ns_id),
        (3, Role::Af, emit.af, plan.af_id),
    ] {
        if wanted && !seen[slot] && push_field(out, role, None, id) {
            n_info_out += 1;
        }
    }

    let n_info_out = u16::try_from(n_info_out).map_err(|_| String::from("too many INFO fields"))?;
    out[16..18].copy_from_slice(&n_info_out.to_le_bytes());
    let kept = u32::try_from(plan.kept).map_err(|_| String::from("too many samples"))?;
    out[20..23].copy_from_slice(&kept.to_le_bytes()[..3]);
    if plan.kept == 0 {
        out[23] = 0;
    }

    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_text_alleles() {
        let mut out = Vec::new();
        text_alleles(b"0|1", 2, &mut out).unwrap();
        assert_eq!(out, [0, 1]);
        text_alleles(b"./.", 2, &mut out).unwrap();
        assert!(out.is_empty());
        text_alleles(b"2", 3, &mut out).unwrap();
        assert_eq!(out, [2]);
        text_alleles(b"|1/.", 2, &mut out).unwrap();
        assert_eq!(out, [1]);
        text_alleles(b"1/2/2", 3, &mut out).unwrap();
        assert_eq!(out, [1, 2, 2]);
        assert!(text_alleles(b"0/2", 2, &mut out).is_err());
        assert!(text_alleles(b"", 2, &mut out).is_err());
        assert!(text_alleles(b"0//1", 2, &mut out).is_err());
        assert!(text_alleles(b"a", 2, &mut out).is_err());
    }

    #[test]
    fn test_format_af() {
        let mut s = String::new();
        assert!(format_af(1, 48, &mut s));
        assert_eq!(s, "0.020833");
        assert!(format_af(24, 48, &mut s));
        assert_eq!(s, "0.5");
        assert!(format_af(0, 48, &mut s));
        assert_eq!(s, "0");
        assert!(format_af(48, 48, &mut s));
        assert_eq!(s, "1");
        assert!(!format_af(0, 0, &mut s));
    }

    #[test]
    fn test_structured_fields() {
        let f = structured_fields("<ID=AC,Number=A,Description=\"a, \\\"b\\\" c\",IDX=3>").unwrap();
        assert_eq!(
            f,
            [
                ("ID", "AC"),
                ("Number", "A"),
                ("Description", "a, \\\"b\\\" c"),
                ("IDX", "3")
            ]
        );
        assert!(structured_fields("ID=AC").is_none());
        assert!(structured_fields("<ID=\"AC>").is_none());
    }
}
