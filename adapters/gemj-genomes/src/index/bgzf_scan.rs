//! A check of a BGZF file's framing before noodles reads it (SAMv1 §4.1): every block has the
//! `BC` header noodles expects (the framing is read by gemj-bgzf), fits in the file, and
//! decompresses to at most 64 KiB. noodles sizes its block buffer from the ISIZE a block claims,
//! so a corrupt ISIZE must not reach it.
//! Also the BAM header's lengths (SAMv1 §4.2), which noodles trusts for its allocations.

use std::{
    fs::File,
    io::{self, BufReader, Read, Seek},
    path::Path,
};

use super::invalid;
use crate::{GenomesError, read_up_to};

/// What the scan found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Layout {
    /// Blocks, the empty end-of-file block included.
    pub(super) blocks: u64,
    /// Total uncompressed bytes.
    pub(super) uncompressed: u64,
}

/// Walks the blocks of a BGZF file, reading each block's header and trailer and seeking over
/// its data.
pub(super) fn scan(path: &Path, format: &'static str) -> Result<Layout, GenomesError> {
    let file = File::open(path).map_err(GenomesError::io(path))?;
    scan_reader(BufReader::with_capacity(4 * 1024, file), path, format)
}

pub(super) fn scan_reader(
    mut r: impl Read + Seek,
    path: &Path,
    format: &'static str,
) -> Result<Layout, GenomesError> {
    let mut layout = Layout {
        blocks: 0,
        uncompressed: 0,
    };
    let mut offset = 0_u64;
    loop {
        let at = || format!("byte {offset}");
        let mut header = [0_u8; gemj_bgzf::HEADER_LEN];
        let n = read_up_to(&mut r, &mut header).map_err(GenomesError::io(path))?;
        if n == 0 {
            return Ok(layout);
        }
        let size = gemj_bgzf::read_header(&header[..n])
            .map_err(|e| invalid(format, path, at(), e.to_string()))?;
        let data = size - gemj_bgzf::MIN_BLOCK_LEN;
        // Reason: data < 2^16, so it fits in an i64.
        r.seek_relative(data as i64)
            .map_err(GenomesError::io(path))?;
        let mut trailer = [0_u8; gemj_bgzf::TRAILER_LEN];
        let tail = read_up_to(&mut r, &mut trailer).map_err(GenomesError::io(path))?;
        if tail < trailer.len() {
            return Err(invalid(format, path, at(), "BGZF block cut short"));
        }
        let (_, isize) = gemj_bgzf::read_trailer(&trailer)
            .map_err(|e| invalid(format, path, at(), e.to_string()))?;
        layout.blocks += 1;
        layout.uncompressed += u64::from(isize);
        offset += size as u64;
    }
}

/// Checks that the BAM header's text, reference count and names are all there, so that noodles'
/// allocations for them are sized by real data.
pub(super) fn check_bam_header(path: &Path, uncompressed: u64) -> Result<(), GenomesError> {
    const FORMAT: &str = "BAM";
    let file = File::open(path).map_err(GenomesError::io(path))?;
    let mut r = flate2::read::MultiGzDecoder::new(BufReader::with_capacity(64 * 1024, file));
    let bad = |why: &str| invalid(FORMAT, path, "header", why);
    let word = |r: &mut dyn Read| -> Result<u32, GenomesError> {
        let mut b = [0_u8; 4];
        let n = read_up_to(r, &mut b).map_err(GenomesError::io(path))?;
        if n < 4 {
            return Err(invalid(FORMAT, path, "header", "cut short"));
        }
        Ok(u32::from_le_bytes(b))
    };
    let skip = |r: &mut dyn Read, n: u64| -> Result<(), GenomesError> {
        let copied = io::copy(&mut r.take(n), &mut io::sink()).map_err(GenomesError::io(path))?;
        if copied < n {
            return Err(invalid(FORMAT, path, "header", "cut short"));
        }
        Ok(())
    };
    let magic = word(&mut r)?;
    if magic.to_le_bytes() != *b"BAM\x01" {
        return Err(bad("no BAM magic"));
    }
    let text = u64::from(word(&mut r)?);
    if text > uncompressed {
        return Err(bad("header text longer than the file"));
    }
    skip(&mut r, text)?;
    let references = u64::from(word(&mut r)?);
    if references.saturating_mul(9) > uncompressed {
        return Err(bad("more references than the file can hold"));
    }
    for _ in 0..references {
        let name = u64::from(word(&mut r)?);
        if name == 0 || name > uncompressed {
            return Err(bad("bad reference name length"));
        }
        skip(&mut r, name)?;
        word(&mut r)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    fn bgzf(data: &[u8]) -> Result<Vec<u8>, io::Error> {
        let mut w = noodles::bgzf::io::Writer::new(Vec::new());
        w.write_all(data)?;
        w.finish()
    }

    #[test]
    fn counts_blocks_and_bytes() -> TestResult {
        let data = vec![7_u8; 200_000];
        let layout = scan_reader(io::Cursor::new(bgzf(&data)?), Path::new("x"), "BAM")?;
        assert_eq!(layout.uncompressed, 200_000);
        assert_eq!(layout.blocks, 5); // Four data blocks (65,280 bytes each at most) and EOF.
        assert_eq!(
            scan_reader(io::Cursor::new(b""), Path::new("x"), "BAM")?.blocks,
            0
        );
        Ok(())
    }

    #[test]
    fn rejects_a_lying_isize_and_cut_blocks() -> TestResult {
        let mut data = bgzf(b"hello")?;
        let good = data.clone();
        // The first block's ISIZE is its last four bytes: claim 4 GiB.
        let first = usize::from(u16::from_le_bytes([data[16], data[17]])) + 1;
        data[first - 1] = 0xff;
        assert!(scan_reader(io::Cursor::new(&data), Path::new("x"), "BAM").is_err());
        assert!(
            scan_reader(
                io::Cursor::new(&good[..good.len() - 3]),
                Path::new("x"),
                "BAM"
            )
            .is_err()
        );
        assert!(scan_reader(io::Cursor::new(&good[..10]), Path::new("x"), "BAM").is_err());
        Ok(())
    }
}
