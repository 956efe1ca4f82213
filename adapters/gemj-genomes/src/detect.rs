//! The format of a genome file from its first bytes: the gzip or BGZF wrapper first, then the
//! magic of what it holds (SAMv1 §4.2 BAM, §5.2 BAI; VCFv4.3 §1.1 and BCFv2.2 §6.1; CRAMv3 §6;
//! tabix and CSIv1 magic; CRAI as gzipped text; FASTA, FAI and GZI as extras).
//!
//! Invariant: at most [`PEEK`] bytes are read and at most [`PEEK`] bytes are decompressed, so
//! memory does not depend on the input.

use std::{fmt, fs::File, io::Read, path::Path};

use gemj_model::DataFormat;

use crate::GenomesError;

/// Bytes read from a file to decide its format (two full BGZF blocks).
pub const PEEK: usize = 128 * 1024;

/// The gzip magic: ID1, ID2, CM = deflate (RFC 1952 §2.3.1).
const GZIP_MAGIC: [u8; 3] = [0x1f, 0x8b, 0x08];

/// How the bytes are wrapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compression {
    /// Not compressed.
    None,
    /// gzip that is not BGZF (no `BC` extra field in the first member): readable as a stream,
    /// but not indexable.
    Gzip,
    /// BGZF (SAMv1 §4.1): gzip members of at most 64 KiB with their size in a `BC` extra field.
    Bgzf,
}

impl Compression {
    /// A name for messages.
    ///
    /// ```
    /// assert_eq!(gemj_genomes::detect::Compression::Bgzf.as_str(), "BGZF");
    /// ```
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "uncompressed",
            Self::Gzip => "gzip",
            Self::Bgzf => "BGZF",
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A detected format and its compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Detected {
    /// The format.
    pub format: DataFormat,
    /// How it is wrapped.
    pub compression: Compression,
}

/// Detects the format of bytes that are the start of a file (at least the first 64 KiB, or all
/// of it when shorter; a GZI is only recognised when `bytes` is the whole file).
///
/// # Errors
///
/// [`GenomesError::UnknownFormat`] when the bytes are no known format.
///
/// # Examples
///
/// ```
/// use gemj_genomes::detect::{Compression, detect_bytes};
/// use gemj_model::DataFormat;
///
/// let detected = detect_bytes(b"##fileformat=VCFv4.3\n#CHROM\tPOS\n")?;
/// assert_eq!(detected.format, DataFormat::Vcf);
/// assert_eq!(detected.compression, Compression::None);
/// assert_eq!(detect_bytes(b"BAI\x01\0\0\0\0")?.format, DataFormat::Bai);
/// assert!(detect_bytes(b"hello").is_err());
/// # Ok::<_, gemj_genomes::GenomesError>(())
/// ```
pub fn detect_bytes(bytes: &[u8]) -> Result<Detected, GenomesError> {
    if bytes.starts_with(&GZIP_MAGIC) {
        let compression = if is_bgzf_header(bytes) {
            Compression::Bgzf
        } else {
            Compression::Gzip
        };
        let inner = gunzip_prefix(bytes);
        if inner.is_empty() {
            return Err(unknown("gzip data that decompresses to nothing readable"));
        }
        let format = compressed_format(&inner)
            .ok_or_else(|| unknown(&format!("gzip holding {}", describe(&inner))))?;
        return Ok(Detected {
            format,
            compression,
        });
    }
    let format = plain_format(bytes).ok_or_else(|| unknown(&describe(bytes)))?;
    Ok(Detected {
        format,
        compression: Compression::None,
    })
}

/// Reads up to [`PEEK`] bytes of `r` and detects their format.
///
/// # Errors
///
/// [`GenomesError::Io`] on a read error (the path is `<reader>`), else as [`detect_bytes`].
///
/// # Examples
///
/// ```
/// use gemj_genomes::detect::detect_reader;
/// use gemj_model::DataFormat;
///
/// let detected = detect_reader(&b"CRAM\x03\x00"[..])?;
/// assert_eq!(detected.format, DataFormat::Cram);
/// # Ok::<_, gemj_genomes::GenomesError>(())
/// ```
pub fn detect_reader(r: impl Read) -> Result<Detected, GenomesError> {
    let mut prefix = Vec::with_capacity(PEEK);
    r.take(PEEK as u64)
        .read_to_end(&mut prefix)
        .map_err(GenomesError::io("<reader>"))?;
    detect_bytes(&prefix)
}

/// Detects the format of a file from its first [`PEEK`] bytes.
///
/// # Errors
///
/// [`GenomesError::Io`] when the file cannot be read, else as [`detect_bytes`].
///
/// # Examples
///
/// ```
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("x.fa");
/// std::fs::write(&path, b">chr1\nACGT\n")?;
/// let detected = gemj_genomes::detect::detect_file(&path)?;
/// assert_eq!(detected.format, gemj_model::DataFormat::Fasta);
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
pub fn detect_file(path: impl AsRef<Path>) -> Result<Detected, GenomesError> {
    let path = path.as_ref();
    let file = File::open(path).map_err(GenomesError::io(path))?;
    let mut prefix = Vec::with_capacity(PEEK);
    file.take(PEEK as u64)
        .read_to_end(&mut prefix)
        .map_err(GenomesError::io(path))?;
    detect_bytes(&prefix)
}

fn unknown(why: &str) -> GenomesError {
    GenomesError::UnknownFormat {
        why: why.to_owned(),
    }
}

/// Whether a gzip member header carries the BGZF `BC` extra subfield (SAMv1 §4.1).
pub(crate) fn is_bgzf_header(b: &[u8]) -> bool {
    const FEXTRA: u8 = 0x04;
    if b.len() < 18 || !b.starts_with(&GZIP_MAGIC) || b[3] & FEXTRA == 0 {
        return false;
    }
    let xlen = usize::from(u16::from_le_bytes([b[10], b[11]]));
    let Some(extra) = b.get(12..12 + xlen) else {
        return false;
    };
    let mut rest = extra;
    while rest.len() >= 4 {
        let len = usize::from(u16::from_le_bytes([rest[2], rest[3]]));
        if rest[0] == b'B' && rest[1] == b'C' && len == 2 {
            return true;
        }
        rest = rest.get(4 + len..).unwrap_or_default();
    }
    false
}

/// Decompresses as much of `bytes` (gzip members, possibly cut short) as fits in [`PEEK`] bytes.
fn gunzip_prefix(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut decoder = flate2::read::MultiGzDecoder::new(bytes).take(PEEK as u64);
    let mut buf = [0_u8; 8192];
    loop {
        match decoder.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    out
}

/// The magic prefixes of the formats recognised both in a BGZF/gzip stream and plain. No prefix
/// starts another, so their order does not matter.
const MAGIC: &[(&[u8], DataFormat)] = &[
    (b"BAM\x01", DataFormat::Bam),
    (b"BCF\x02\x01", DataFormat::Bcf),
    (b"BCF\x02\x02", DataFormat::Bcf),
    (b"##fileformat=VCF", DataFormat::Vcf),
    (b"TBI\x01", DataFormat::Tbi),
    (b"CSI\x01", DataFormat::Csi),
    (b">", DataFormat::Fasta),
];

/// The format whose magic prefix (in [`MAGIC`]) starts `b`.
fn by_magic(b: &[u8]) -> Option<DataFormat> {
    MAGIC
        .iter()
        .find(|(magic, _)| b.starts_with(magic))
        .map(|&(_, format)| format)
}

/// The format of decompressed bytes.
fn compressed_format(d: &[u8]) -> Option<DataFormat> {
    // CRAI: reference id, start, span, container offset, slice offset, slice size.
    by_magic(d).or_else(|| is_table(d, &[6], true).then_some(DataFormat::Crai))
}

/// The format of uncompressed bytes.
fn plain_format(b: &[u8]) -> Option<DataFormat> {
    if b.starts_with(b"BAI\x01") {
        Some(DataFormat::Bai)
    } else if b.len() >= 6 && b.starts_with(b"CRAM") && (1..=4).contains(&b[4]) {
        Some(DataFormat::Cram)
    } else if let Some(format) = by_magic(b) {
        Some(format)
    } else if is_table(b, &[5, 6], false) {
        // FAI: name, length, offset, line bases, line width (and a quality offset for FASTQ).
        Some(DataFormat::Fai)
    } else if is_gzi(b) {
        Some(DataFormat::Gzi)
    } else {
        None
    }
}

/// Whether the complete lines of `b` (at least one) are tab-separated with one of `columns`
/// columns, all integers (or, when `all_numeric` is false, all but the first).
fn is_table(b: &[u8], columns: &[usize], all_numeric: bool) -> bool {
    let Some(end) = b.iter().rposition(|&c| c == b'\n') else {
        return false;
    };
    let mut lines = 0;
    for line in b[..end].split(|&c| c == b'\n') {
        let fields: Vec<&[u8]> = line.split(|&c| c == b'\t').collect();
        if !columns.contains(&fields.len()) {
            return false;
        }
        let numeric = |f: &&[u8]| {
            let digits = f.strip_prefix(b"-").unwrap_or(f);
            !digits.is_empty() && digits.iter().all(u8::is_ascii_digit)
        };
        let skip = usize::from(!all_numeric);
        let first_ok = all_numeric || fields.first().is_some_and(|f| !f.is_empty());
        if !first_ok || !fields.iter().skip(skip).all(numeric) {
            return false;
        }
        lines += 1;
        if lines >= 64 {
            break;
        }
    }
    lines > 0
}

/// Whether `b` is a whole GZI: a little-endian entry count, then that many pairs of increasing
/// (compressed, uncompressed) offsets.
fn is_gzi(b: &[u8]) -> bool {
    let word = |i: usize| {
        b.get(i * 8..i * 8 + 8)
            .and_then(|w| <[u8; 8]>::try_from(w).ok())
            .map(u64::from_le_bytes)
    };
    let Some(n) = word(0) else { return false };
    if (b.len() as u64).checked_sub(8) != n.checked_mul(16) {
        return false;
    }
    let mut previous = (0_u64, 0_u64);
    for i in 0..n as usize {
        let (Some(c), Some(u)) = (word(1 + 2 * i), word(2 + 2 * i)) else {
            return false;
        };
        if c <= previous.0 || u <= previous.1 {
            return false;
        }
        previous = (c, u);
    }
    true
}

/// A short, content-free description of what bytes look like.
fn describe(b: &[u8]) -> String {
    if b.is_empty() {
        return "an empty input".to_owned();
    }
    let head = &b[..b.len().min(4)];
    if head.iter().all(|c| c.is_ascii_graphic() || *c == b' ') {
        format!("text starting {:?}", String::from_utf8_lossy(head))
    } else {
        format!("bytes starting 0x{}", hex::encode(head))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    fn check(bytes: &[u8], expect: Option<(DataFormat, Compression)>) {
        let got = detect_bytes(bytes).ok().map(|d| (d.format, d.compression));
        assert_eq!(
            got,
            expect,
            "{:?}",
            String::from_utf8_lossy(&bytes[..bytes.len().min(20)])
        );
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        let _ = e.write_all(data);
        e.finish().unwrap_or_default()
    }

    fn bgzf(data: &[u8]) -> Vec<u8> {
        let mut w = noodles::bgzf::io::Writer::new(Vec::new());
        let _ = w.write_all(data);
        w.finish().unwrap_or_default()
    }

    #[test]
    fn plain() {
        use Compression::None as N;
        check(b"##fileformat=VCFv4.2\n", Some((DataFormat::Vcf, N)));
        check(b"BAI\x01\x02\0\0\0", Some((DataFormat::Bai, N)));
        check(b"CRAM\x03\x00abc", Some((DataFormat::Cram, N)));
        check(b"CRAM\x09\x00abc", None);
        check(b"BCF\x02\x02\0\0", Some((DataFormat::Bcf, N)));
        check(b"BCF\x02\x03\0\0", None);
        check(b">chr1 desc\nACGT\n", Some((DataFormat::Fasta, N)));
        check(
            b"chr1\t248956422\t6\t60\t61\nchr2\t10\t1000\t60\t61\n",
            Some((DataFormat::Fai, N)),
        );
        check(b"chr1\tx\t6\t60\t61\n", None);
        check(&[0; 8], Some((DataFormat::Gzi, N)));
        let mut gzi = 1_u64.to_le_bytes().to_vec();
        gzi.extend(100_u64.to_le_bytes());
        gzi.extend(65_280_u64.to_le_bytes());
        check(&gzi, Some((DataFormat::Gzi, N)));
        check(&gzi[..20], None);
        check(b"", None);
        check(b"hello world\n", None);
        check(&[0xff; 64], None);
    }

    #[test]
    fn compressed() {
        use Compression::{Bgzf, Gzip};
        check(&bgzf(b"BAM\x01rest"), Some((DataFormat::Bam, Bgzf)));
        check(&bgzf(b"BCF\x02\x02rest"), Some((DataFormat::Bcf, Bgzf)));
        check(
            &bgzf(b"##fileformat=VCFv4.3\n"),
            Some((DataFormat::Vcf, Bgzf)),
        );
        check(
            &gzip(b"##fileformat=VCFv4.3\n"),
            Some((DataFormat::Vcf, Gzip)),
        );
        check(&bgzf(b"TBI\x01"), Some((DataFormat::Tbi, Bgzf)));
        check(&bgzf(b"CSI\x01"), Some((DataFormat::Csi, Bgzf)));
        check(
            &gzip(b"0\t1\t100\t26\t200\t3000\n-1\t0\t0\t5000\t200\t10\n"),
            Some((DataFormat::Crai, Gzip)),
        );
        check(&bgzf(b">chr1\nAC\n"), Some((DataFormat::Fasta, Bgzf)));
        check(&gzip(b"what is this"), None);
        check(&gzip(b""), None);
        // A truncated member still shows its first bytes.
        let mut text = b"##fileformat=VCFv4.3\n".to_vec();
        for i in 0..5_000 {
            text.extend(format!("chr1\t{i}\t.\tA\tC\t.\t.\t.\n").bytes());
        }
        let whole = bgzf(&text);
        check(&whole[..1_000], Some((DataFormat::Vcf, Bgzf)));
        check(&GZIP_MAGIC, None);
    }

    #[test]
    fn bgzf_header_needs_the_bc_field() -> TestResult {
        let b = bgzf(b"x");
        assert!(is_bgzf_header(&b));
        assert!(!is_bgzf_header(&gzip(b"x")));
        let mut other = b.clone();
        other[12] = b'X';
        assert!(!is_bgzf_header(&other));
        Ok(())
    }
}
