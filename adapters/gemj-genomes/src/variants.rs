//! VCF and BCF records for the variant index: one [`AlleleRef`] per ALT allele, keyed by
//! [`VariantKey`], with the number of copies of that allele each sample carries.
//!
//! The reader takes plain VCF, gzip or BGZF VCF (VCFv4.3 §1), and BCF (BCFv2.2 §6, BGZF or
//! not), sniffing which from the first bytes. A multi-allelic record gives one allele per ALT;
//! spanning deletions (`*`), symbolic alleles (`<DEL>`) and breakends (`G]17:198982]`) are
//! skipped and counted. Copies come from `GT` only: `0/1` is 1, `1|1` is 2, haploid `1` is 1,
//! phased and unphased count alike, and a missing call (`./.`, `.`, no `GT`) is 0 copies and
//! counted in [`ReadSummary::missing_genotypes`].
//!
//! A bad record (or a bad ALT allele, or one sample's bad `GT`) becomes a [`Diagnostic`] naming
//! the file, `line N` (`record N` for BCF), the field and what was wrong, and reading goes on;
//! only an unreadable header is an error. Data that cannot be read further (a corrupt gzip
//! member, a BCF record cut short) ends the stream with a diagnostic.
//!
//! Each allele also comes with each sample's call ([`SampleCall`]: ploidy, FORMAT `DP`, `AD`,
//! `AF`) and what the record says about it ([`AlleleNotes`]: the ID column, and the INFO
//! annotations `GENE`, `GENEINFO`, `CLNSIG`, `CLNDN`, SnpEff `ANN`, VEP `CSQ`).
//!
//! Invariant: memory is bounded by the longest line ([`MAX_LINE`]) or BCF record, whatever
//! lengths the file claims; no per-record allocation happens besides the [`VariantKey`] itself
//! and the identifiers and annotations a record has (bounded by [`MAX_NOTE`] and
//! [`MAX_EFFECTS`]).

mod bcf;
mod notes;
mod vcf;

pub use gemj_model::variant::{AlleleNotes, Effect, SampleCall};
pub use notes::{MAX_EFFECTS, MAX_NOTE};

use std::{
    collections::VecDeque,
    fs::File,
    io::{self, BufRead, BufReader, Read},
    path::Path,
};

use gemj_model::{
    Allele, Chromosome, DataFormat, VariantKey,
    source::{Diagnostic, Severity},
};

use crate::{GenomesError, detect::Compression};

/// The longest VCF line read (longer lines are skipped with a diagnostic).
pub const MAX_LINE: usize = 256 << 20;

/// The most ALT alleles a record may have (BCF's limit: its allele count is 16 bits).
pub const MAX_ALT_ALLELES: usize = 65_534;

/// Diagnostics kept in full; past this many only a count is kept (the adapters' common cap).
pub const MAX_DIAGNOSTICS: usize = gemj_model::source::MAX_DIAGNOSTICS;

/// `GT` allele index of a missing call (`.`).
const MISSING: u32 = u32::MAX;

/// One ALT allele of a record, borrowed from the reader until the next call.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AlleleRef<'a> {
    /// Chromosome, 1-based position, REF and this ALT.
    pub key: &'a VariantKey,
    /// Copies of this ALT each sample carries (0, 1, 2; more for polyploid calls), in the order
    /// of [`VariantReader::sample_names`].
    pub copies: &'a [u8],
    /// Each sample's ploidy, depth and allele fraction of this ALT, in sample order.
    pub calls: &'a [SampleCall],
    /// The record's identifiers and its annotations of this ALT.
    pub notes: &'a AlleleNotes,
    /// Where the record is: its line number (VCF, counting header lines) or record number (BCF).
    pub position: u64,
}

impl AlleleRef<'_> {
    /// An owned copy.
    #[must_use]
    pub fn to_record(&self) -> AlleleRecord {
        AlleleRecord {
            key: self.key.clone(),
            copies: self.copies.to_vec(),
            calls: self.calls.to_vec(),
            notes: self.notes.clone(),
            position: self.position,
        }
    }
}

/// One ALT allele of a record, owned (what the [`Iterator`] of [`VariantReader`] yields).
#[derive(Debug, Clone, PartialEq)]
pub struct AlleleRecord {
    /// Chromosome, 1-based position, REF and this ALT.
    pub key: VariantKey,
    /// Copies of this ALT each sample carries, in sample order.
    pub copies: Vec<u8>,
    /// Each sample's call details, in sample order.
    pub calls: Vec<SampleCall>,
    /// Identifiers and annotations.
    pub notes: AlleleNotes,
    /// Line number (VCF) or record number (BCF).
    pub position: u64,
}

/// Counts and diagnostics of a read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadSummary {
    /// Data lines (VCF) or records (BCF) read, good or bad.
    pub records: u64,
    /// Allele records produced.
    pub alleles: u64,
    /// Records left out whole (bad CHROM, POS or REF, too many ALTs).
    pub rejected_records: u64,
    /// ALT alleles left out because they do not parse.
    pub rejected_alleles: u64,
    /// Spanning-deletion ALTs (`*`) skipped.
    pub spanning_deletions: u64,
    /// Symbolic (`<DEL>`) and breakend ALTs skipped.
    pub symbolic: u64,
    /// Sample genotypes with a missing call (`./.`, `.`, `0/.`, no `GT`), counted as 0 copies of
    /// each missing allele. Only records that give at least one allele have their genotypes read.
    pub missing_genotypes: u64,
    /// What went wrong, in file order (at most [`MAX_DIAGNOSTICS`] plus closing notes).
    pub diagnostics: Vec<Diagnostic>,
    /// Diagnostics past [`MAX_DIAGNOSTICS`] that were only counted.
    pub suppressed_diagnostics: u64,
}

/// Where records come from.
enum Source<'r> {
    Vcf(vcf::VcfSource<'r>),
    Bcf(Box<bcf::BcfSource<'r>>),
}

/// The record being emitted, one ALT at a time.
#[derive(Default)]
struct Site {
    /// The chromosome, kept from record to record while the source's key for it repeats.
    chrom: Option<Chromosome>,
    /// The source's key of `chrom`: the CHROM bytes (VCF) or the contig index (BCF).
    chrom_key: Vec<u8>,
    pos: u32,
    reference: Option<Allele>,
    /// Valid ALTs still to emit, with their allele index (1 = first ALT).
    alts: VecDeque<(u32, Allele)>,
    /// `GT` allele indices of all samples, one after another ([`MISSING`] for `.`).
    gt: Vec<u32>,
    /// Where each sample's alleles end in `gt`.
    gt_ends: Vec<u32>,
    position: u64,
    /// The ID column's identifiers.
    ids: Vec<String>,
    /// The INFO entries read for notes (`KEY=value;`…).
    info: Vec<u8>,
    /// FORMAT `DP` of each sample; empty when the record has none.
    dp: Vec<Option<u32>>,
    /// FORMAT `AD` of all samples, one after another, and where each sample's end; empty when
    /// the record has none.
    ad: Vec<Option<u32>>,
    ad_ends: Vec<u32>,
    /// FORMAT `AF` likewise.
    af: Vec<Option<f32>>,
    af_ends: Vec<u32>,
}

impl Site {
    fn clear(&mut self) {
        self.alts.clear();
        self.gt.clear();
        self.gt_ends.clear();
        self.ids.clear();
        self.info.clear();
        self.dp.clear();
        self.ad.clear();
        self.ad_ends.clear();
        self.af.clear();
        self.af_ends.clear();
    }

    /// Sample `s`'s values in a flat per-sample buffer.
    fn values<'v, T: Copy>(values: &'v [Option<T>], ends: &[u32], s: usize) -> &'v [Option<T>] {
        let end = ends.get(s).map_or(0, |&e| e as usize);
        let start = if s == 0 {
            0
        } else {
            ends.get(s - 1).map_or(end, |&e| e as usize)
        };
        values.get(start..end).unwrap_or_default()
    }

    /// Each sample's call of ALT number `index` (1-based).
    fn calls(&self, index: u32, out: &mut Vec<SampleCall>) {
        out.clear();
        let mut start = 0_usize;
        for (s, &end) in self.gt_ends.iter().enumerate() {
            let end = end as usize;
            let ploidy = u8::try_from(end.saturating_sub(start)).unwrap_or(u8::MAX);
            start = end;
            let ad = Self::values(&self.ad, &self.ad_ends, s);
            let af = Self::values(&self.af, &self.af_ends, s);
            let total = ad
                .iter()
                .try_fold(0_u32, |sum, v| v.map(|v| sum.saturating_add(v)))
                .filter(|_| !ad.is_empty());
            out.push(SampleCall {
                ploidy,
                allele_fraction: af.get(index as usize - 1).copied().flatten(),
                depth: self.dp.get(s).copied().flatten(),
                allele_depth: ad.get(index as usize).copied().flatten(),
                total_allele_depth: total,
            });
        }
    }
}

/// Shared bookkeeping of both sources.
struct Book {
    file: String,
    summary: ReadSummary,
    /// The field names of VEP's `CSQ` (from the header), if it has one.
    csq_fields: Vec<String>,
}

impl Book {
    fn push(&mut self, severity: Severity, position: &str, field: &str, message: String) {
        if self.summary.diagnostics.len() >= MAX_DIAGNOSTICS {
            self.summary.suppressed_diagnostics += 1;
            return;
        }
        let d = match severity {
            Severity::Error => Diagnostic::error(&self.file, position, field, message),
            Severity::Warning => Diagnostic::warning(&self.file, position, field, message),
        };
        self.summary.diagnostics.push(d);
    }

    fn error(&mut self, position: &str, field: &str, message: impl Into<String>) {
        self.push(Severity::Error, position, field, message.into());
    }

    fn warning(&mut self, position: &str, field: &str, message: impl Into<String>) {
        self.push(Severity::Warning, position, field, message.into());
    }

    /// Logs an error and counts the record as rejected; always false (the record gives nothing).
    fn reject(&mut self, position: &str, field: &str, message: impl Into<String>) -> bool {
        self.error(position, field, message);
        self.summary.rejected_records += 1;
        false
    }
}

/// Why a record's POS was not used.
const BAD_POS: &str = "not a position from 1 to 4294967295";

/// A streaming reader of VCF or BCF allele records.
///
/// # Examples
///
/// ```
/// use gemj_genomes::variants::VariantReader;
///
/// let vcf = b"##fileformat=VCFv4.3\n\
/// #CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tSP-1\tSP-2\n\
/// chr1\t100\t.\tA\tG,T\t.\tPASS\t.\tGT\t0/1\t2|2\n";
/// let mut reader = VariantReader::new(&vcf[..], "demo.vcf")?;
/// assert_eq!(reader.sample_names(), ["SP-1", "SP-2"]);
///
/// let first = reader.next_allele().map(|a| a.to_record());
/// let first = first.ok_or("no allele")?;
/// assert_eq!((first.key.pos, first.key.alternate.as_str()), (100, "G"));
/// assert_eq!(first.copies, [1, 0]);
///
/// let second = reader.next_allele().map(|a| a.to_record()).ok_or("no allele")?;
/// assert_eq!(second.key.alternate.as_str(), "T");
/// assert_eq!(second.copies, [0, 2]);
/// assert!(reader.next_allele().is_none());
///
/// let summary = reader.finish();
/// assert_eq!((summary.records, summary.alleles), (1, 2));
/// assert!(summary.diagnostics.is_empty());
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
pub struct VariantReader<'r> {
    source: Source<'r>,
    format: DataFormat,
    compression: Compression,
    samples: Vec<String>,
    book: Book,
    site: Site,
    key: Option<VariantKey>,
    copies: Vec<u8>,
    calls: Vec<SampleCall>,
    notes: AlleleNotes,
    done: bool,
}

impl std::fmt::Debug for VariantReader<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VariantReader")
            .field("file", &self.book.file)
            .field("format", &self.format)
            .field("compression", &self.compression)
            .field("samples", &self.samples.len())
            .finish_non_exhaustive()
    }
}

impl<'r> VariantReader<'r> {
    /// Reads the header of a VCF (plain, gzip or BGZF) or BCF stream. `file` names the input in
    /// diagnostics.
    ///
    /// # Errors
    ///
    /// [`GenomesError::Header`] when the header cannot be read (no `##fileformat=VCF` first
    /// line, no `#CHROM` line, a BCF header noodles rejects) and [`GenomesError::Io`] when the
    /// input cannot be read at all.
    ///
    /// # Examples
    ///
    /// ```
    /// use gemj_genomes::variants::VariantReader;
    /// assert!(VariantReader::new(&b"not a vcf\n"[..], "x.vcf").is_err());
    /// ```
    pub fn new(reader: impl BufRead + Send + 'r, file: &str) -> Result<Self, GenomesError> {
        let io_error = GenomesError::io(file);
        // Enough for a gzip header with the BGZF extra field.
        let (prefix, reader) = peek(Box::new(reader), 18).map_err(io_error)?;
        let (reader, compression): (Box<dyn BufRead + Send + 'r>, _) =
            if prefix.starts_with(&[0x1f, 0x8b]) {
                let compression = if crate::detect::is_bgzf_header(&prefix) {
                    Compression::Bgzf
                } else {
                    Compression::Gzip
                };
                let decoder = flate2::bufread::MultiGzDecoder::new(reader);
                (
                    Box::new(BufReader::with_capacity(256 * 1024, decoder)),
                    compression,
                )
            } else {
                (reader, Compression::None)
            };
        let (head, reader) = peek(reader, 5).map_err(GenomesError::io(file))?;
        let mut book = Book {
            file: file.to_owned(),
            summary: ReadSummary::default(),
            csq_fields: Vec::new(),
        };
        let (source, format, samples) = if head.starts_with(b"BCF\x02") {
            let (source, samples) = bcf::BcfSource::new(reader, &mut book)?;
            (Source::Bcf(Box::new(source)), DataFormat::Bcf, samples)
        } else {
            let (source, samples) = vcf::VcfSource::new(reader, &mut book)?;
            (Source::Vcf(source), DataFormat::Vcf, samples)
        };
        Ok(Self {
            source,
            format,
            compression,
            samples,
            book,
            site: Site::default(),
            key: None,
            copies: Vec::new(),
            calls: Vec::new(),
            notes: AlleleNotes::default(),
            done: false,
        })
    }

    /// Opens a file and reads its header.
    ///
    /// # Errors
    ///
    /// As [`VariantReader::new`], and [`GenomesError::Io`] when the file cannot be opened.
    ///
    /// # Examples
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("sites.vcf");
    /// std::fs::write(&path, "##fileformat=VCFv4.3\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n\
    ///     chr2\t5\t.\tC\t<DEL>\t.\t.\t.\n")?;
    /// let mut reader = gemj_genomes::variants::VariantReader::open(&path)?;
    /// assert!(reader.next_allele().is_none());
    /// assert_eq!(reader.finish().symbolic, 1);
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn open(path: impl AsRef<Path>) -> Result<VariantReader<'static>, GenomesError> {
        let path = path.as_ref();
        let file = File::open(path).map_err(GenomesError::io(path))?;
        VariantReader::new(
            BufReader::with_capacity(256 * 1024, file),
            &path.display().to_string(),
        )
    }

    /// VCF or BCF.
    ///
    /// ```
    /// use gemj_genomes::{detect::Compression, variants::VariantReader};
    /// let vcf = b"##fileformat=VCFv4.3\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n";
    /// let reader = VariantReader::new(&vcf[..], "x.vcf")?;
    /// assert_eq!(reader.format(), gemj_model::DataFormat::Vcf);
    /// assert_eq!(reader.compression(), Compression::None);
    /// # Ok::<_, gemj_genomes::GenomesError>(())
    /// ```
    #[must_use]
    pub fn format(&self) -> DataFormat {
        self.format
    }

    /// How the input was compressed.
    #[must_use]
    pub fn compression(&self) -> Compression {
        self.compression
    }

    /// The sample names of the header, in column order.
    #[must_use]
    pub fn sample_names(&self) -> &[String] {
        &self.samples
    }

    /// Counts and diagnostics so far.
    ///
    /// ```
    /// use gemj_genomes::variants::VariantReader;
    /// let vcf = b"##fileformat=VCFv4.3\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n\
    ///     chr1\t5\t.\tA\tC,*\t.\t.\t.\n";
    /// let mut reader = VariantReader::new(&vcf[..], "x.vcf")?;
    /// while reader.next_allele().is_some() {}
    /// assert_eq!(reader.summary().alleles, 1);
    /// assert_eq!(reader.summary().spanning_deletions, 1);
    /// # Ok::<_, gemj_genomes::GenomesError>(())
    /// ```
    #[must_use]
    pub fn summary(&self) -> &ReadSummary {
        &self.book.summary
    }

    /// The next ALT allele, or `None` at the end of the input.
    pub fn next_allele(&mut self) -> Option<AlleleRef<'_>> {
        loop {
            if let Some((index, alternate)) = self.site.alts.pop_front() {
                let Some(chrom) = &self.site.chrom else {
                    continue;
                };
                // The last ALT of a record takes the REF; earlier ones copy it.
                let reference = if self.site.alts.is_empty() {
                    self.site.reference.take()
                } else {
                    self.site.reference.clone()
                };
                let Some(reference) = reference else {
                    continue;
                };
                self.copies.clear();
                let mut start = 0_usize;
                for &end in &self.site.gt_ends {
                    let end = end as usize;
                    let calls = self.site.gt.get(start..end).unwrap_or_default();
                    let n = calls.iter().filter(|&&a| a == index).count();
                    self.copies.push(u8::try_from(n).unwrap_or(u8::MAX));
                    start = end;
                }
                self.book.summary.alleles += 1;
                self.site.calls(index, &mut self.calls);
                notes::notes_for(
                    &self.site.info,
                    &self.site.ids,
                    &self.book.csq_fields,
                    (index, reference.as_str(), alternate.as_str()),
                    &mut self.notes,
                );
                let key = self.key.insert(VariantKey {
                    chrom: chrom.clone(),
                    pos: self.site.pos,
                    reference,
                    alternate,
                });
                return Some(AlleleRef {
                    key,
                    copies: &self.copies,
                    calls: &self.calls,
                    notes: &self.notes,
                    position: self.site.position,
                });
            }
            if self.done {
                return None;
            }
            self.site.clear();
            let more = match &mut self.source {
                Source::Vcf(source) => source.next_site(&mut self.site, &mut self.book),
                Source::Bcf(source) => source.next_site(&mut self.site, &mut self.book),
            };
            if !more {
                self.done = true;
            }
        }
    }

    /// Ends the read: the summary, with closing notes for skipped alleles, missing genotypes and
    /// suppressed diagnostics.
    #[must_use]
    pub fn finish(mut self) -> ReadSummary {
        let s = &self.book.summary;
        let (stars, symbolic, missing, suppressed) = (
            s.spanning_deletions,
            s.symbolic,
            s.missing_genotypes,
            s.suppressed_diagnostics,
        );
        let file = &self.book.file;
        let note = |field: &str, message: String| Diagnostic::warning(file, "", field, message);
        let mut notes = Vec::new();
        if stars + symbolic > 0 {
            notes.push(note(
                "ALT",
                format!(
                    "{} ALT alleles skipped: {stars} spanning deletions (*), {symbolic} symbolic or breakend alleles",
                    stars + symbolic
                ),
            ));
        }
        if missing > 0 {
            notes.push(note(
                "GT",
                format!("{missing} sample genotypes had a missing call, counted as 0 copies"),
            ));
        }
        if suppressed > 0 {
            notes.push(note(
                "",
                format!("{suppressed} more diagnostics were not listed"),
            ));
        }
        self.book.summary.diagnostics.extend(notes);
        self.book.summary
    }
}

impl Iterator for VariantReader<'_> {
    type Item = AlleleRecord;

    fn next(&mut self) -> Option<AlleleRecord> {
        self.next_allele().map(|a| a.to_record())
    }
}

/// Reads every allele of a VCF or BCF held in memory; returns how many allele records it gave
/// and the diagnostics (a header that cannot be read is one error diagnostic). For fuzzing and
/// tests: it never panics, whatever the bytes.
///
/// # Examples
///
/// ```
/// let (alleles, diagnostics) = gemj_genomes::variants::read_variants_bytes(
///     b"##fileformat=VCFv4.3\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n\
///       chr1\t7\t.\tA\tC\t.\t.\t.\nchr1\tx\t.\tA\tC\t.\t.\t.\n",
/// );
/// assert_eq!(alleles, 1);
/// assert_eq!(diagnostics.len(), 1);
/// assert_eq!(diagnostics[0].position.as_deref(), Some("line 4"));
/// ```
#[must_use]
pub fn read_variants_bytes(bytes: &[u8]) -> (usize, Vec<Diagnostic>) {
    let mut reader = match VariantReader::new(bytes, "<bytes>") {
        Ok(reader) => reader,
        Err(e) => {
            return (
                0,
                vec![Diagnostic::error("<bytes>", "header", "", e.to_string())],
            );
        }
    };
    let mut n = 0;
    while reader.next_allele().is_some() {
        n += 1;
    }
    (n, reader.finish().diagnostics)
}

/// Every sample with no call.
fn all_missing(site: &mut Site, samples: usize) {
    site.gt.clear();
    site.gt_ends.clear();
    site.gt.push(MISSING);
    site.gt_ends.resize(samples, 1);
}

/// Reads up to `n` bytes and puts them back in front of the rest.
fn peek<'r>(
    mut reader: Box<dyn BufRead + Send + 'r>,
    n: usize,
) -> io::Result<(Vec<u8>, Box<dyn BufRead + Send + 'r>)> {
    let mut prefix = Vec::with_capacity(n);
    (&mut reader).take(n as u64).read_to_end(&mut prefix)?;
    let cursor = io::Cursor::new(prefix.clone());
    Ok((prefix, Box::new(cursor.chain(reader))))
}

/// What a `GT` value holds.
#[derive(Debug, PartialEq, Eq)]
enum GtError {
    /// Not `a/b`, `a|b` or `a` with `a`, `b` an allele index or `.`.
    Syntax,
    /// An allele index past the record's ALTs.
    Index(u64),
}

impl GtError {
    fn message(&self, sample: usize, alts: usize) -> String {
        match self {
            Self::Syntax => format!("sample {sample}: not a genotype"),
            Self::Index(i) => {
                format!("sample {sample}: allele index {i} but the record has {alts} ALT alleles")
            }
        }
    }
}

/// Parses a VCF `GT` value (VCFv4.3 §1.6.2; the VCFv4.4 leading phase mark is accepted) into
/// `out`; returns whether a call was missing.
fn parse_gt(gt: &[u8], alts: usize, out: &mut Vec<u32>) -> Result<bool, GtError> {
    let mut rest = match gt.first() {
        Some(b'/' | b'|') => &gt[1..],
        _ => gt,
    };
    let mut missing = false;
    loop {
        match rest.first() {
            Some(b'.') => {
                out.push(MISSING);
                missing = true;
                rest = &rest[1..];
            }
            Some(b'0'..=b'9') => {
                let mut value = 0_u64;
                let mut digits = 0;
                for &b in rest {
                    if !b.is_ascii_digit() {
                        break;
                    }
                    value = value.saturating_mul(10).saturating_add(u64::from(b - b'0'));
                    digits += 1;
                }
                rest = &rest[digits..];
                if value > alts as u64 {
                    return Err(GtError::Index(value));
                }
                // Reason: value <= alts <= MAX_ALT_ALLELES, so it fits.
                out.push(u32::try_from(value).unwrap_or(MISSING));
            }
            _ => return Err(GtError::Syntax),
        }
        match rest.first() {
            None => return Ok(missing),
            Some(b'/' | b'|') => rest = &rest[1..],
            Some(_) => return Err(GtError::Syntax),
        }
    }
}

/// What an ALT allele is.
enum AltKind {
    Allele(Allele),
    Star,
    Symbolic,
    Bad(String),
}

/// Classifies one ALT allele.
fn classify_alt(alt: &[u8]) -> AltKind {
    if alt == b"*" {
        return AltKind::Star;
    }
    if alt.first() == Some(&b'<')
        || alt.contains(&b'[')
        || alt.contains(&b']')
        || (alt.len() > 1 && (alt.first() == Some(&b'.') || alt.last() == Some(&b'.')))
    {
        return AltKind::Symbolic;
    }
    match std::str::from_utf8(alt) {
        Ok(text) => match Allele::parse(text) {
            Ok(allele) => AltKind::Allele(allele),
            Err(e) => AltKind::Bad(shape(&e)),
        },
        Err(_) => AltKind::Bad("not UTF-8".to_owned()),
    }
}

/// Parses a REF allele: bases only.
fn parse_ref(reference: &[u8]) -> Result<Allele, String> {
    let text = std::str::from_utf8(reference).map_err(|_| "not UTF-8".to_owned())?;
    if text == "*" || text.starts_with('<') {
        return Err("expected bases ACGTN".to_owned());
    }
    Allele::parse(text).map_err(|e| shape(&e))
}

/// The reason of a model error, without the rejected value (which may be record content).
fn shape(e: &gemj_model::ModelError) -> String {
    match e {
        gemj_model::ModelError::InvalidId { why, .. } => (*why).to_owned(),
        gemj_model::ModelError::InvalidValue { why, .. } => why.clone(),
    }
}

#[cfg(test)]
mod tests;
