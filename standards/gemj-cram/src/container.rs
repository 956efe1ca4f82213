//! Container headers (CRAMv3 § 7) and the end-of-file container (§ 9).
//!
//! A container header is its body length (`int32`), its reference context and record counts
//! (ITF-8 and LTF-8), its block count, its landmarks (the offset of each slice in the body) and,
//! from CRAM 3.0 on, the CRC32 of all of that.

use std::io::Read;

use crate::{
    CramError, Result, Version,
    crc32::{append_crc32, check_crc32},
    num::{read_itf8_from, read_ltf8_from, to_i32, to_i64, write_itf8, write_itf8_len, write_ltf8},
};

/// The CRAM 3 end-of-file container (§ 9): an empty container with a compression header block.
pub const EOF_CONTAINER: [u8; 38] = [
    0x0f, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0x0f, 0xe0, 0x45, 0x4f, 0x46, 0x00, 0x00, 0x00,
    0x00, 0x01, 0x00, 0x05, 0xbd, 0xd9, 0x4f, 0x00, 0x01, 0x00, 0x06, 0x06, 0x01, 0x00, 0x01, 0x00,
    0x01, 0x00, 0xee, 0x63, 0x01, 0x4b,
];

/// The longest container header the users read (about 200,000 landmarks): a damaged landmark
/// count cannot make them read, or keep, more.
pub const MAX_HEADER_LEN: usize = 1 << 20;

/// A container header. Lengths and counts are checked when read: none is negative, and no
/// landmark lies outside the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerHeader {
    /// The length of the body (the blocks after the header).
    pub length: usize,
    /// `-1` unmapped, `-2` several references, else the reference sequence ID.
    pub reference_sequence_id: i32,
    /// 1-based start of the alignments.
    pub alignment_start: i32,
    /// Their span.
    pub alignment_span: i32,
    /// Records in the container (0 for the header and end-of-file containers).
    pub record_count: usize,
    /// Records in the file before this container.
    pub record_counter: u64,
    /// Read bases in the container.
    pub base_count: u64,
    /// Blocks in the body.
    pub block_count: usize,
    /// The offset of each slice in the body, one per slice.
    pub landmarks: Vec<usize>,
}

/// A reader that keeps what it read, for the CRC32.
struct Recording<'r, R> {
    inner: &'r mut R,
    bytes: Vec<u8>,
}

impl<R: Read> Read for Recording<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes.extend_from_slice(&buf[..n]);
        Ok(n)
    }
}

/// Reads a container header of a file of `version` (CRAM 2 has no CRC32) and checks its CRC32.
/// On a byte slice (`&mut &[u8]`), the slice is advanced past the header.
///
/// # Errors
/// [`CramError::Truncated`]; [`CramError::Invalid`] for a negative length or count, more
/// landmarks than body bytes, or a landmark outside the body; [`CramError::Checksum`];
/// [`CramError::Io`].
pub fn read_container_header(src: &mut impl Read, version: Version) -> Result<ContainerHeader> {
    let mut r = Recording {
        inner: src,
        bytes: Vec::with_capacity(64),
    };
    let mut length = [0; 4];
    r.read_exact(&mut length)?;
    let length = usize::try_from(i32::from_le_bytes(length))
        .map_err(|_| CramError::Invalid("negative container length (CRAMv3 § 7)"))?;
    let reference_sequence_id = read_itf8_from(&mut r)?;
    let alignment_start = read_itf8_from(&mut r)?;
    let alignment_span = read_itf8_from(&mut r)?;
    let record_count = count(
        read_itf8_from(&mut r)?.into(),
        "negative record count (CRAMv3 § 7)",
    )?;
    let record_counter = counter(
        read_ltf8_from(&mut r)?,
        "negative record counter (CRAMv3 § 7)",
    )?;
    let base_count = counter(read_ltf8_from(&mut r)?, "negative base count (CRAMv3 § 7)")?;
    let block_count = count(
        read_itf8_from(&mut r)?.into(),
        "negative block count (CRAMv3 § 7)",
    )?;
    let landmark_count = count(
        read_itf8_from(&mut r)?.into(),
        "negative landmark count (CRAMv3 § 7)",
    )?;
    // Every slice takes at least one byte of the body.
    if landmark_count > length {
        return Err(CramError::Invalid(
            "more landmarks than container bytes (CRAMv3 § 7)",
        ));
    }
    let mut landmarks = Vec::with_capacity(landmark_count.min(1024));
    for _ in 0..landmark_count {
        let landmark = usize::try_from(read_itf8_from(&mut r)?)
            .ok()
            .filter(|&l| l < length)
            .ok_or(CramError::Invalid(
                "landmark outside the container (CRAMv3 § 7)",
            ))?;
        landmarks.push(landmark);
    }
    if version.has_crc32() {
        let mut crc = [0; 4];
        r.inner.read_exact(&mut crc)?;
        check_crc32(&r.bytes, crc, "container header")?;
    }
    Ok(ContainerHeader {
        length,
        reference_sequence_id,
        alignment_start,
        alignment_span,
        record_count,
        record_counter,
        base_count,
        block_count,
        landmarks,
    })
}

/// A non-negative ITF-8 count, or `message`.
fn count(n: i64, message: &'static str) -> Result<usize> {
    usize::try_from(n).map_err(|_| CramError::Invalid(message))
}

/// A non-negative LTF-8 counter, or `message`.
fn counter(n: i64, message: &'static str) -> Result<u64> {
    u64::try_from(n).map_err(|_| CramError::Invalid(message))
}

/// Writes a CRAM 3 container header with its CRC32.
///
/// # Errors
/// [`CramError::TooLarge`] for a length, count or landmark above `i32::MAX` (or a counter above
/// `i64::MAX`).
pub fn write_container_header(dst: &mut Vec<u8>, header: &ContainerHeader) -> Result<()> {
    let start = dst.len();
    dst.extend_from_slice(&to_i32(header.length, "container length")?.to_le_bytes());
    write_itf8(dst, header.reference_sequence_id);
    write_itf8(dst, header.alignment_start);
    write_itf8(dst, header.alignment_span);
    write_itf8_len(dst, header.record_count, "record count")?;
    write_ltf8(dst, to_i64(header.record_counter, "record counter")?);
    write_ltf8(dst, to_i64(header.base_count, "base count")?);
    write_itf8_len(dst, header.block_count, "block count")?;
    write_itf8_len(dst, header.landmarks.len(), "landmark count")?;
    for &landmark in &header.landmarks {
        write_itf8_len(dst, landmark, "landmark")?;
    }
    append_crc32(dst, start);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crc32;

    #[test]
    fn eof_container_round_trips() -> Result<()> {
        let mut src = &EOF_CONTAINER[..];
        let header = read_container_header(&mut src, Version::V3_0)?;
        assert_eq!(header.length, 15);
        assert_eq!(header.reference_sequence_id, -1);
        assert_eq!(header.alignment_start, 0x45_4f46);
        assert_eq!(header.record_count, 0);
        assert_eq!(header.block_count, 1);
        assert!(header.landmarks.is_empty());
        assert_eq!(src.len(), 15);
        let mut out = Vec::new();
        write_container_header(&mut out, &header)?;
        assert_eq!(out, EOF_CONTAINER[..23]);
        Ok(())
    }

    /// A header with `fields` after the length, and its CRC32.
    fn header(length: i32, fields: &[u8]) -> Vec<u8> {
        let mut bytes = length.to_le_bytes().to_vec();
        bytes.extend_from_slice(fields);
        let crc = crc32(&bytes);
        bytes.extend_from_slice(&crc.to_le_bytes());
        bytes
    }

    fn check(bytes: &[u8], expect: &str) {
        let got = match read_container_header(&mut &bytes[..], Version::V3_0) {
            Ok(h) => format!("ok {:?}", h.landmarks),
            Err(e) => e.to_string(),
        };
        assert!(got.contains(expect), "{bytes:x?}: {got}");
    }

    #[test]
    fn damage_is_an_error() {
        // Reference, start, span, records, counter, bases, blocks, landmarks.
        check(&header(10, &[0, 0, 0, 1, 0, 0, 2, 1, 3]), "ok [3]");
        check(
            &header(-1, &[0, 0, 0, 1, 0, 0, 2, 1, 3]),
            "negative container length",
        );
        check(
            &header(10, &[0, 0, 0, 1, 0, 0, 2, 1, 10]),
            "landmark outside",
        );
        check(
            &header(2, &[0, 0, 0, 1, 0, 0, 2, 3, 0, 1, 1]),
            "more landmarks",
        );
        check(
            &header(2, &[0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0, 2, 0]),
            "negative record count",
        );
        let mut bad_crc = header(10, &[0, 0, 0, 1, 0, 0, 2, 1, 3]);
        bad_crc[4] = 1;
        check(&bad_crc, "CRC32 mismatch");
        let good = header(10, &[0, 0, 0, 1, 0, 0, 2, 1, 3]);
        for len in 0..good.len() {
            check(&good[..len], "unexpected end");
        }
    }

    #[test]
    fn cram2_has_no_crc32() -> Result<()> {
        let bytes = [10, 0, 0, 0, 0, 0, 0, 1, 0, 0, 2, 1, 3];
        let mut src = &bytes[..];
        let header = read_container_header(&mut src, Version { major: 2, minor: 1 })?;
        assert_eq!(header.landmarks, [3]);
        assert!(src.is_empty());
        Ok(())
    }
}
