//! BGZF block framing (SAMv1 § 4.1), the one copy of it in the workspace: a BGZF block is a gzip
//! member whose header carries the `BC` extra subfield with the block's size, followed by its
//! raw DEFLATE data and a trailer of CRC32 and uncompressed size (ISIZE).
//!
//! * [`read_header`] / [`write_header`]: the 18-byte header and the block length it gives;
//! * [`read_trailer`] / [`write_trailer`]: the 8-byte trailer, ISIZE checked against 64 KiB;
//! * [`EOF_BLOCK`]: the empty block that ends a BGZF file.
//!
//! The header is checked as htslib checks it: gzip magic, DEFLATE, FEXTRA, `XLEN` 6 and one
//! `BC` subfield of length 2. Compression and decompression belong to the users (flate2 or
//! noodles), and so do files.
//!
//! Users: the BGZF and CRAI readers and the BGZF writer of the htsget slicer and the sample
//! remover (gemj-genomics), the BGZF framing check of the indexer (gemj-genomes).
//!
//! Invariant: nothing here panics on damaged bytes; a block length below the smallest block or
//! an ISIZE above 64 KiB is an error, so no user sizes a buffer by a damaged field.

/// The length of a block header.
pub const HEADER_LEN: usize = 18;

/// The length of a block trailer (CRC32, ISIZE).
pub const TRAILER_LEN: usize = 8;

/// The shortest block: a header and a trailer.
pub const MIN_BLOCK_LEN: usize = HEADER_LEN + TRAILER_LEN;

/// The longest block (BSIZE is 16 bits, the block length BSIZE + 1).
pub const MAX_BLOCK_LEN: usize = 1 << 16;

/// The most a block may hold uncompressed.
pub const MAX_ISIZE: u32 = 1 << 16;

/// The end-of-file block: an empty block (SAMv1 § 4.1.2).
pub const EOF_BLOCK: [u8; 28] = [
    0x1f, 0x8b, 0x08, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0x06, 0x00, 0x42, 0x43, 0x02, 0x00,
    0x1b, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
];

/// The header of a BGZF block up to BSIZE: gzip magic, CM DEFLATE, FLG FEXTRA, MTIME 0, XFL
/// 0, OS unknown, XLEN 6, subfield `BC` of length 2.
const HEADER_PREFIX: [u8; 16] = [
    0x1f, 0x8b, 0x08, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0x06, 0x00, b'B', b'C', 0x02, 0x00,
];

/// What is wrong with BGZF framing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BgzfError {
    /// Fewer bytes than a header or trailer.
    #[error("BGZF block header or trailer cut short")]
    Truncated,
    /// Not a gzip member with the `BC` subfield.
    #[error("not a BGZF block header")]
    NotBgzf,
    /// A block length below a header and a trailer.
    #[error("BGZF block size too small")]
    TooShort,
    /// Data that does not fit one block.
    #[error("BGZF block longer than 64 KiB")]
    TooLong,
    /// An ISIZE above 64 KiB.
    #[error("BGZF block claims more than 64 KiB")]
    IsizeTooLarge,
}

/// Whether `bytes` open with a BGZF block header (the gzip magic, FEXTRA and the `BC`
/// subfield).
#[must_use]
pub fn is_header(bytes: &[u8]) -> bool {
    bytes.get(..HEADER_PREFIX.len()) == Some(&HEADER_PREFIX[..])
}

/// Reads a block header from the first [`HEADER_LEN`] bytes of `bytes`: the length of the whole
/// block (header, data and trailer).
///
/// # Errors
/// [`BgzfError::Truncated`], [`BgzfError::NotBgzf`], [`BgzfError::TooShort`].
pub fn read_header(bytes: &[u8]) -> Result<usize, BgzfError> {
    let header = bytes.get(..HEADER_LEN).ok_or(BgzfError::Truncated)?;
    if !is_header(header) {
        return Err(BgzfError::NotBgzf);
    }
    let len = usize::from(u16::from_le_bytes([header[16], header[17]])) + 1;
    if len < MIN_BLOCK_LEN {
        return Err(BgzfError::TooShort);
    }
    Ok(len)
}

/// Writes the header of a block whose DEFLATE data is `data_len` bytes long.
///
/// # Errors
/// [`BgzfError::TooLong`] when the block would be longer than 64 KiB.
pub fn write_header(dst: &mut Vec<u8>, data_len: usize) -> Result<(), BgzfError> {
    let bsize = data_len
        .checked_add(MIN_BLOCK_LEN - 1)
        .and_then(|n| u16::try_from(n).ok())
        .ok_or(BgzfError::TooLong)?;
    dst.extend_from_slice(&HEADER_PREFIX);
    dst.extend_from_slice(&bsize.to_le_bytes());
    Ok(())
}

/// Reads a block trailer (the last [`TRAILER_LEN`] bytes of a block): (CRC32, ISIZE).
///
/// # Errors
/// [`BgzfError::Truncated`], [`BgzfError::IsizeTooLarge`].
pub fn read_trailer(bytes: &[u8]) -> Result<(u32, u32), BgzfError> {
    let t = bytes.get(..TRAILER_LEN).ok_or(BgzfError::Truncated)?;
    let crc = u32::from_le_bytes([t[0], t[1], t[2], t[3]]);
    let isize = u32::from_le_bytes([t[4], t[5], t[6], t[7]]);
    if isize > MAX_ISIZE {
        return Err(BgzfError::IsizeTooLarge);
    }
    Ok((crc, isize))
}

/// Writes a block trailer.
///
/// # Errors
/// [`BgzfError::IsizeTooLarge`] for more than 64 KiB of uncompressed data.
pub fn write_trailer(
    dst: &mut Vec<u8>,
    crc32: u32,
    uncompressed_len: usize,
) -> Result<(), BgzfError> {
    let isize = u32::try_from(uncompressed_len)
        .ok()
        .filter(|&n| n <= MAX_ISIZE)
        .ok_or(BgzfError::IsizeTooLarge)?;
    dst.extend_from_slice(&crc32.to_le_bytes());
    dst.extend_from_slice(&isize.to_le_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eof_block_round_trips() -> Result<(), BgzfError> {
        assert_eq!(read_header(&EOF_BLOCK)?, EOF_BLOCK.len());
        assert_eq!(read_trailer(&EOF_BLOCK[20..])?, (0, 0));
        let mut out = Vec::new();
        write_header(&mut out, 2)?;
        out.extend_from_slice(&EOF_BLOCK[HEADER_LEN..20]);
        write_trailer(&mut out, 0, 0)?;
        assert_eq!(out, EOF_BLOCK);
        Ok(())
    }

    fn check(header: &[u8], expect: Result<usize, BgzfError>) {
        assert_eq!(read_header(header), expect, "{header:x?}");
    }

    #[test]
    fn headers() {
        let mut header = EOF_BLOCK[..HEADER_LEN].to_vec();
        check(&header, Ok(28));
        check(&header[..17], Err(BgzfError::Truncated));
        check(&[], Err(BgzfError::Truncated));
        header[16..].copy_from_slice(&[0xff, 0xff]);
        check(&header, Ok(65_536));
        header[16..].copy_from_slice(&[24, 0]);
        check(&header, Err(BgzfError::TooShort));
        header[16..].copy_from_slice(&[25, 0]);
        check(&header, Ok(26));
        for (i, value) in [(0, 0x1e), (3, 0), (10, 7), (12, b'X'), (14, 3)] {
            let mut damaged = EOF_BLOCK[..HEADER_LEN].to_vec();
            damaged[i] = value;
            check(&damaged, Err(BgzfError::NotBgzf));
        }
    }

    #[test]
    fn limits() {
        let mut out = Vec::new();
        assert_eq!(write_header(&mut out, 65_510), Ok(()));
        assert_eq!(read_header(&out), Ok(MAX_BLOCK_LEN));
        assert_eq!(write_header(&mut out, 65_511), Err(BgzfError::TooLong));
        assert_eq!(
            write_trailer(&mut out, 0, 65_537),
            Err(BgzfError::IsizeTooLarge)
        );
        let mut trailer = [0_u8; 8];
        trailer[4..].copy_from_slice(&65_537_u32.to_le_bytes());
        assert_eq!(read_trailer(&trailer), Err(BgzfError::IsizeTooLarge));
        assert_eq!(read_trailer(&trailer[..7]), Err(BgzfError::Truncated));
    }
}
