//! Slice headers (CRAMv3 § 8.5): the payload of the block a container landmark points at.
//!
//! A slice header is its reference context, record count and counter, its block count and the
//! content IDs of its external blocks, the content ID of its embedded reference block, the MD5
//! of its reference span and (from CRAM 3.0 on) optional tags, kept here as stored bytes.

use crate::{
    CramError, Result,
    num::{
        read_array, read_itf8, read_itf8_len, read_ltf8, to_i64, write_itf8, write_itf8_len,
        write_ltf8,
    },
};

/// A slice header. Counts are checked when read: none is negative.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SliceHeader {
    /// `-1` unmapped, `-2` several references, else the reference sequence ID.
    pub reference_sequence_id: i32,
    /// 1-based start of the alignments.
    pub alignment_start: i32,
    /// Their span.
    pub alignment_span: i32,
    /// Records in the slice.
    pub record_count: usize,
    /// Records in the file before this slice.
    pub record_counter: u64,
    /// Blocks of the slice (the core data block and the external blocks).
    pub block_count: usize,
    /// The content IDs of the external blocks.
    pub block_content_ids: Vec<i32>,
    /// The content ID of the block holding the reference bases, `-1` for none.
    pub embedded_reference_bases_block_content_id: i32,
    /// The MD5 of the reference bases of the span (zeros for none).
    pub reference_md5: [u8; 16],
    /// The optional tags (BAM-encoded), as stored.
    pub optional_tags: Vec<u8>,
}

/// The reference context a slice header opens with: (reference sequence ID, alignment start,
/// alignment span). CRAM 2 and 3 agree on it, which is all a CRAI entry needs.
///
/// # Errors
/// [`CramError::Truncated`].
pub fn read_reference_context(src: &mut &[u8]) -> Result<(i32, i32, i32)> {
    Ok((read_itf8(src)?, read_itf8(src)?, read_itf8(src)?))
}

/// Reads a slice header from the (raw) payload of its block.
///
/// # Errors
/// [`CramError::Truncated`]; [`CramError::Invalid`] for a negative count.
pub fn read_slice_header(data: &[u8]) -> Result<SliceHeader> {
    let mut src = data;
    let (reference_sequence_id, alignment_start, alignment_span) =
        read_reference_context(&mut src)?;
    let record_count = read_itf8_len(&mut src)?;
    let record_counter = u64::try_from(read_ltf8(&mut src)?)
        .map_err(|_| CramError::Invalid("negative record counter (CRAMv3 § 8.5)"))?;
    let block_count = read_itf8_len(&mut src)?;
    let id_count = read_itf8_len(&mut src)?;
    // Every ID takes a byte.
    if id_count > src.len() {
        return Err(CramError::Truncated);
    }
    let mut block_content_ids = Vec::with_capacity(id_count);
    for _ in 0..id_count {
        block_content_ids.push(read_itf8(&mut src)?);
    }
    let embedded_reference_bases_block_content_id = read_itf8(&mut src)?;
    let reference_md5 = read_array(&mut src)?;
    Ok(SliceHeader {
        reference_sequence_id,
        alignment_start,
        alignment_span,
        record_count,
        record_counter,
        block_count,
        block_content_ids,
        embedded_reference_bases_block_content_id,
        reference_md5,
        optional_tags: src.to_vec(),
    })
}

/// Writes a slice header (the payload of its block).
///
/// # Errors
/// [`CramError::TooLarge`] for a count above `i32::MAX` or a counter above `i64::MAX`.
pub fn write_slice_header(dst: &mut Vec<u8>, header: &SliceHeader) -> Result<()> {
    write_itf8(dst, header.reference_sequence_id);
    write_itf8(dst, header.alignment_start);
    write_itf8(dst, header.alignment_span);
    write_itf8_len(dst, header.record_count, "record count")?;
    write_ltf8(dst, to_i64(header.record_counter, "record counter")?);
    write_itf8_len(dst, header.block_count, "block count")?;
    write_itf8_len(
        dst,
        header.block_content_ids.len(),
        "block content ID count",
    )?;
    for &id in &header.block_content_ids {
        write_itf8(dst, id);
    }
    write_itf8(dst, header.embedded_reference_bases_block_content_id);
    dst.extend_from_slice(&header.reference_md5);
    dst.extend_from_slice(&header.optional_tags);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_damage() -> Result<()> {
        let header = SliceHeader {
            reference_sequence_id: crate::MULTI_REFERENCE,
            alignment_start: 0,
            alignment_span: 0,
            record_count: 10_000,
            record_counter: 1 << 40,
            block_count: 3,
            block_content_ids: vec![1, 300],
            embedded_reference_bases_block_content_id: -1,
            reference_md5: [7; 16],
            optional_tags: b"BDZx\0".to_vec(),
        };
        let mut bytes = Vec::new();
        write_slice_header(&mut bytes, &header)?;
        assert_eq!(bytes[..5], [0xff, 0xff, 0xff, 0xff, 0x0e]);
        assert_eq!(read_slice_header(&bytes)?, header);
        assert_eq!(read_reference_context(&mut &bytes[..])?, (-2, 0, 0));
        // Cut anywhere before the tags: an error.
        let tags_at = bytes.len() - header.optional_tags.len();
        for len in 0..tags_at {
            assert!(read_slice_header(&bytes[..len]).is_err(), "{len}");
        }
        // A damaged ID count does not allocate by it.
        let mut huge = vec![0, 0, 0, 0, 0, 0];
        huge.extend([0xef, 0xff, 0xff, 0xff]);
        assert!(matches!(
            read_slice_header(&huge),
            Err(CramError::Truncated)
        ));
        Ok(())
    }
}
