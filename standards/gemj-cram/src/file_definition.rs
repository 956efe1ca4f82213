//! The file definition (CRAMv3 § 6): `CRAM`, the major and minor version, a 20-byte file ID.

use std::io::Read;

use crate::{CramError, Result};

/// The length of the file definition.
pub const FILE_DEFINITION_LEN: usize = 26;

/// A CRAM format version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version {
    /// 2 or 3.
    pub major: u8,
    /// 0 or 1.
    pub minor: u8,
}

impl Version {
    /// CRAM 3.0, what the writers of this crate write.
    pub const V3_0: Self = Self { major: 3, minor: 0 };

    /// Whether container headers and blocks end with a CRC32 (CRAM 3 and later).
    #[must_use]
    pub const fn has_crc32(self) -> bool {
        self.major >= 3
    }
}

/// The file definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileDefinition {
    /// The format version.
    pub version: Version,
    /// The file ID (a name or a checksum, NUL-padded).
    pub file_id: [u8; 20],
}

/// Reads the file definition.
///
/// # Errors
/// [`CramError::Truncated`]; [`CramError::Invalid`] without the `CRAM` magic number;
/// [`CramError::Io`].
pub fn read_file_definition(src: &mut impl Read) -> Result<FileDefinition> {
    let mut buf = [0; FILE_DEFINITION_LEN];
    src.read_exact(&mut buf)?;
    if &buf[..4] != b"CRAM" {
        return Err(CramError::Invalid(
            "not a CRAM file (no CRAM magic number, CRAMv3 § 6)",
        ));
    }
    let mut file_id = [0; 20];
    file_id.copy_from_slice(&buf[6..]);
    Ok(FileDefinition {
        version: Version {
            major: buf[4],
            minor: buf[5],
        },
        file_id,
    })
}

/// Writes the file definition.
pub fn write_file_definition(dst: &mut Vec<u8>, definition: &FileDefinition) {
    dst.extend_from_slice(b"CRAM");
    dst.push(definition.version.major);
    dst.push(definition.version.minor);
    dst.extend_from_slice(&definition.file_id);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() -> Result<()> {
        let mut bytes = b"CRAM\x03\x01".to_vec();
        bytes.extend(b"name.cram\0\0\0\0\0\0\0\0\0\0\0");
        let definition = read_file_definition(&mut &bytes[..])?;
        assert_eq!(definition.version, Version { major: 3, minor: 1 });
        assert!(definition.version.has_crc32());
        let mut out = Vec::new();
        write_file_definition(&mut out, &definition);
        assert_eq!(out, bytes);
        assert!(matches!(
            read_file_definition(&mut &bytes[..25]),
            Err(CramError::Truncated)
        ));
        bytes[0] = b'B';
        assert!(matches!(
            read_file_definition(&mut &bytes[..]),
            Err(CramError::Invalid(_))
        ));
        Ok(())
    }
}
