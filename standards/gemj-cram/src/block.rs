//! Blocks (CRAMv3 § 8.1): compression method, content type, content ID, stored and raw sizes,
//! the payload and, from CRAM 3.0 on, the CRC32 of all of that. The payload is kept as stored:
//! compression and decompression belong to the users.

use crate::{
    Result, Version,
    crc32::{append_crc32, check_crc32},
    num::{read_array, read_itf8, read_itf8_len, read_u8, take, write_itf8, write_itf8_len},
};

/// A block, its payload borrowed from the bytes it was read from (or written from).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block<'a> {
    /// See [`crate::compression_method`].
    pub compression_method: u8,
    /// See [`crate::content_type`].
    pub content_type: u8,
    /// The content ID (the data series or tag of an external block).
    pub content_id: i32,
    /// The size of the payload once decompressed.
    pub uncompressed_size: usize,
    /// The payload as stored.
    pub data: &'a [u8],
}

impl<'a> Block<'a> {
    /// A raw (uncompressed) block holding `data`.
    #[must_use]
    pub const fn raw(content_type: u8, content_id: i32, data: &'a [u8]) -> Self {
        Self {
            compression_method: crate::compression_method::RAW,
            content_type,
            content_id,
            uncompressed_size: data.len(),
            data,
        }
    }

    /// The payload of a raw block; `None` for a compressed one.
    #[must_use]
    pub fn raw_data(&self) -> Option<&'a [u8]> {
        (self.compression_method == crate::compression_method::RAW).then_some(self.data)
    }
}

/// Reads a block of a file of `version` (CRAM 2 has no CRC32) and checks its CRC32; `src` is
/// advanced past it.
///
/// # Errors
/// [`CramError::Truncated`]; [`CramError::Invalid`] for a negative size;
/// [`CramError::Checksum`].
pub fn read_block<'a>(src: &mut &'a [u8], version: Version) -> Result<Block<'a>> {
    let start = *src;
    let compression_method = read_u8(src)?;
    let content_type = read_u8(src)?;
    let content_id = read_itf8(src)?;
    let size = read_itf8_len(src)?;
    let uncompressed_size = read_itf8_len(src)?;
    let data = take(src, size)?;
    if version.has_crc32() {
        let stored = &start[..start.len() - src.len()];
        check_crc32(stored, read_array(src)?, "block")?;
    }
    Ok(Block {
        compression_method,
        content_type,
        content_id,
        uncompressed_size,
        data,
    })
}

/// Writes a CRAM 3 block with its CRC32.
///
/// # Errors
/// [`CramError::TooLarge`] for a payload of 2 GiB or more.
pub fn write_block(dst: &mut Vec<u8>, block: &Block<'_>) -> Result<()> {
    let start = dst.len();
    dst.push(block.compression_method);
    dst.push(block.content_type);
    write_itf8(dst, block.content_id);
    write_itf8_len(dst, block.data.len(), "block size")?;
    write_itf8_len(dst, block.uncompressed_size, "block size")?;
    dst.extend_from_slice(block.data);
    append_crc32(dst, start);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CramError, content_type};

    #[test]
    fn round_trip_and_damage() -> Result<()> {
        let mut bytes = Vec::new();
        write_block(
            &mut bytes,
            &Block::raw(content_type::EXTERNAL_DATA, 300, b"abc"),
        )?;
        // Method, type, ID 300 (two bytes), sizes, payload, CRC32.
        assert_eq!(bytes[..8], [0, 4, 0x81, 0x2c, 3, 3, b'a', b'b']);
        assert_eq!(bytes.len(), 13);
        let mut src = &bytes[..];
        let block = read_block(&mut src, Version::V3_0)?;
        assert!(src.is_empty());
        assert_eq!(block.raw_data(), Some(&b"abc"[..]));
        let mut again = Vec::new();
        write_block(&mut again, &block)?;
        assert_eq!(again, bytes);

        for len in 0..bytes.len() {
            assert!(matches!(
                read_block(&mut &bytes[..len], Version::V3_0),
                Err(CramError::Truncated)
            ));
        }
        let mut damaged = bytes.clone();
        damaged[7] ^= 1;
        assert!(matches!(
            read_block(&mut &damaged[..], Version::V3_0),
            Err(CramError::Checksum { .. })
        ));
        // CRAM 2: no CRC32.
        let mut src = &bytes[..9];
        assert_eq!(
            read_block(&mut src, Version { major: 2, minor: 1 })?.data,
            b"abc"
        );
        assert!(src.is_empty());
        Ok(())
    }
}
