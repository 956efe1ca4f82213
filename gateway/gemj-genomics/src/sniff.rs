//! What a file's first bytes say it holds: whether it is individual-level genomic data (reads or
//! per-sample calls), which a trusted research environment's release rule keeps inside.

use std::io::Read as _;

/// How many bytes [`individual_level`] needs: enough for a VCF header up to its `#CHROM` line in
/// ordinary files (a header longer than this without one counts as individual-level).
pub const HEAD_BYTES: usize = 256 * 1024;

/// The individual-level format `head` (a file's first bytes, up to [`HEAD_BYTES`]) is, if any:
/// `BAM`, `CRAM`, `SAM`, `BCF`, `FASTQ`, or `VCF with samples` (a `#CHROM` line with a `FORMAT`
/// column). gzip and BGZF are read through. `None` is anything else, a sites-only VCF (allele
/// counts or frequencies) included: it holds no one's data in a recognised genomic format, which
/// does not make it aggregate (a per-person table is not recognised), so a release rule still
/// wants a reviewer.
///
/// # Examples
///
/// ```
/// use gemj_genomics::sniff::individual_level;
/// assert_eq!(individual_level(b"##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\n"), Some("VCF with samples"));
/// assert_eq!(individual_level(b"##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"), None);
/// assert_eq!(individual_level(b"region\tcount\nchr20:1-600000\t42\n"), None);
/// ```
#[must_use]
pub fn individual_level(head: &[u8]) -> Option<&'static str> {
    if head.starts_with(b"CRAM") {
        return Some("CRAM");
    }
    let mut inflated = Vec::new();
    let data: &[u8] = if head.starts_with(&[0x1f, 0x8b]) {
        // A truncated stream ends in an error after what it could give: keep that.
        let mut decoder = flate2::read::MultiGzDecoder::new(head).take(HEAD_BYTES as u64);
        let mut chunk = [0u8; 8192];
        while let Ok(n) = decoder.read(&mut chunk) {
            if n == 0 {
                break;
            }
            inflated.extend_from_slice(&chunk[..n]);
        }
        &inflated
    } else {
        head
    };
    if data.starts_with(b"BAM\x01") {
        return Some("BAM");
    }
    if data.starts_with(b"BCF\x02") {
        return Some("BCF");
    }
    if data.starts_with(b"##fileformat=VCF") {
        let text = String::from_utf8_lossy(data);
        return match text.lines().find(|l| l.starts_with("#CHROM")) {
            Some(header) if header.split('\t').nth(8).is_none() => None,
            _ => Some("VCF with samples"),
        };
    }
    if ["@HD\t", "@SQ\t", "@RG\t", "@PG\t"]
        .iter()
        .any(|tag| data.starts_with(tag.as_bytes()))
    {
        return Some("SAM");
    }
    let mut lines = data.split(|b| *b == b'\n');
    if let (Some(name), Some(_), Some(plus)) = (lines.next(), lines.next(), lines.next())
        && name.starts_with(b"@")
        && plus.starts_with(b"+")
    {
        return Some("FASTQ");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(bytes).ok();
        e.finish().unwrap_or_default()
    }

    #[test]
    fn reads_and_per_sample_calls_are_individual_level() {
        let vcf = b"##fileformat=VCFv4.2\n##contig=<ID=chr20>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\tS2\nchr20\t1\t.\tA\tC\t.\tPASS\t.\tGT\t0/1\t0/0\n";
        assert_eq!(individual_level(vcf), Some("VCF with samples"));
        assert_eq!(individual_level(&gzip(vcf)), Some("VCF with samples"));
        let truncated = gzip(vcf);
        assert_eq!(
            individual_level(&truncated[..truncated.len() - 12]),
            Some("VCF with samples"),
            "a head cut inside the stream"
        );
        assert_eq!(individual_level(&gzip(b"BAM\x01\0\0\0\0")), Some("BAM"));
        assert_eq!(individual_level(b"CRAM\x03\x00"), Some("CRAM"));
        assert_eq!(individual_level(&gzip(b"BCF\x02\x02")), Some("BCF"));
        assert_eq!(
            individual_level(b"@HD\tVN:1.6\n@SQ\tSN:chr20\tLN:10\n"),
            Some("SAM")
        );
        assert_eq!(individual_level(b"@r1\nACGT\n+\nIIII\n"), Some("FASTQ"));
        // A header that never reaches #CHROM within the head: not shown to be sites-only.
        assert_eq!(
            individual_level(b"##fileformat=VCFv4.2\n##x=y\n"),
            Some("VCF with samples")
        );
    }

    #[test]
    fn counts_tables_and_sites_only_calls_are_not() {
        let sites = b"##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\nchr20\t1\t.\tA\tC\t.\tPASS\tAF=0.1\n";
        assert_eq!(individual_level(sites), None);
        assert_eq!(individual_level(&gzip(sites)), None);
        assert_eq!(individual_level(b"42\n"), None);
        assert_eq!(
            individual_level(b"region\tcount\nchr20:1-600000\t42\n"),
            None
        );
        assert_eq!(individual_level(b""), None);
        assert_eq!(
            individual_level(&[0x1f, 0x8b, 0, 0]),
            None,
            "a broken stream"
        );
    }
}
