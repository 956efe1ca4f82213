//! The CRC-32 of CRAM 3 container headers and blocks (CRAMv3 § 7, § 8.1): IEEE 802.3, as zlib
//! computes it.

use crate::{CramError, Result};

/// The CRC-32 of `data`.
#[must_use]
pub fn crc32(data: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut table = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 == 1 {
                    0xedb8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
                k += 1;
            }
            table[i] = c;
            i += 1;
        }
        table
    };

    let mut crc = 0xffff_ffff_u32;
    for &b in data {
        crc = TABLE[((crc ^ u32::from(b)) & 0xff) as usize] ^ (crc >> 8);
    }
    !crc
}

/// Appends the CRC32 of `dst[start..]` (little-endian), as a container header or block ends.
pub fn append_crc32(dst: &mut Vec<u8>, start: usize) {
    let crc = crc32(dst.get(start..).unwrap_or_default());
    dst.extend_from_slice(&crc.to_le_bytes());
}

/// Checks the stored (little-endian) CRC32 of `data`.
///
/// # Errors
/// [`CramError::Checksum`] naming `what`.
pub fn check_crc32(data: &[u8], stored: [u8; 4], what: &'static str) -> Result<()> {
    if crc32(data) == u32::from_le_bytes(stored) {
        Ok(())
    } else {
        Err(CramError::Checksum { what })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_values() {
        for (input, expect) in [
            (&b""[..], 0),
            (b"123456789", 0xcbf4_3926),
            (b"a", 0xe8b7_be43),
        ] {
            assert_eq!(crc32(input), expect, "{input:?}");
            let mut framed = b"xx".to_vec();
            framed.extend_from_slice(input);
            append_crc32(&mut framed, 2);
            assert_eq!(framed[2 + input.len()..], expect.to_le_bytes());
            assert!(check_crc32(input, expect.to_le_bytes(), "block").is_ok());
            assert!(check_crc32(input, (expect ^ 1).to_le_bytes(), "block").is_err());
        }
    }
}
