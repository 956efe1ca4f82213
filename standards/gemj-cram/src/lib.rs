//! The one CRAM codec of the workspace: the structure of a CRAM file, read and written side by
//! side, byte for byte (CRAM format specification 3.0, "CRAMv3"; §§ cited are its sections).
//!
//! * [`num`]: ITF-8 and LTF-8 integers (§ 2.3) and the little-endian and length-checked byte
//!   reads every other module is built on;
//! * [`crc32`]: the CRC-32 of container headers and blocks (§ 7, § 8.1);
//! * [`file_definition`]: the 26 bytes that open a file (§ 6) and its [`Version`];
//! * [`container`]: container headers with their landmarks and CRC32 (§ 7), and the end-of-file
//!   container (§ 9);
//! * [`block`]: blocks (§ 8.1), their payload kept as stored (nothing here compresses);
//! * [`slice`]: slice headers (§ 8.5);
//! * [`compression_header`]: compression headers (§ 8.4): preservation map, data series encoding
//!   map, tag encoding map, and the encodings (§ 13) they hold;
//! * [`file`]: a whole file read and written back ([`file::rewrite`]), a structure check.
//!
//! Every reader has its writer in the same module (`read_x` / `write_x`, as noodles names
//! them), and `write_x(read_x(bytes)) == bytes` for what htslib, htsjdk and noodles write (every
//! integer in its shortest form).
//!
//! Users: the htsget CRAM slicer and the demo writer (gemj-genomics) and the CRAI indexer
//! (gemj-genomes). Record decoding (data series, codecs, rANS) stays with its users.
//!
//! Invariant: nothing here panics on damaged bytes and nothing allocates by a size the data
//! claims before the bytes are there: every length, offset and count is checked, and every
//! failure is a [`CramError`].

pub mod block;
pub mod compression_header;
pub mod container;
pub mod crc32;
pub mod file;
pub mod file_definition;
pub mod num;
pub mod slice;

use std::io;

pub use block::{Block, read_block, write_block};
pub use compression_header::{
    CompressionHeader, Encoding, EncodingKind, Preservation, read_compression_header,
    write_compression_header,
};
pub use container::{
    ContainerHeader, EOF_CONTAINER, read_container_header, write_container_header,
};
pub use crc32::crc32;
pub use file_definition::{FILE_DEFINITION_LEN, FileDefinition, Version};
pub use slice::{SliceHeader, read_slice_header, write_slice_header};

/// What is wrong with CRAM bytes. Messages cite the CRAMv3 section broken.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CramError {
    /// The data ends inside a structure.
    #[error("unexpected end of data")]
    Truncated,
    /// A field holds a value the specification does not allow (a negative length, a landmark
    /// outside its container, trailing bytes after a map).
    #[error("{0}")]
    Invalid(&'static str),
    /// A stored CRC32 differs from the one of the bytes.
    #[error("{what} CRC32 mismatch")]
    Checksum {
        /// `container header` or `block`.
        what: &'static str,
    },
    /// Valid CRAM this codec does not read (an unknown preservation map key, whose value has no
    /// known length).
    #[error("{0}")]
    Unsupported(String),
    /// A value does not fit the field it is written to (a block over 2 GiB).
    #[error("{0} does not fit its CRAM field")]
    TooLarge(&'static str),
    /// Reading from an [`io::Read`] failed (other than by ending early).
    #[error("cannot read CRAM data")]
    Io(#[source] io::Error),
}

impl From<io::Error> for CramError {
    fn from(e: io::Error) -> Self {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            Self::Truncated
        } else {
            Self::Io(e)
        }
    }
}

impl From<CramError> for io::Error {
    fn from(e: CramError) -> Self {
        match e {
            CramError::Io(e) => e,
            CramError::Truncated => Self::new(io::ErrorKind::UnexpectedEof, e),
            other => Self::new(io::ErrorKind::InvalidData, other),
        }
    }
}

/// The result of this crate.
pub type Result<T> = std::result::Result<T, CramError>;

/// Block content types (§ 8.1).
pub mod content_type {
    /// The SAM header of the file (the block of the first container).
    pub const FILE_HEADER: u8 = 0;
    /// A compression header.
    pub const COMPRESSION_HEADER: u8 = 1;
    /// A slice header (3.0 "MAPPED_SLICE").
    pub const SLICE_HEADER: u8 = 2;
    /// An external data block.
    pub const EXTERNAL_DATA: u8 = 4;
    /// The core data block.
    pub const CORE_DATA: u8 = 5;
}

/// Block compression methods (§ 8.1) the users handle themselves (2 is bzip2, 3 lzma, 5 and
/// up the CRAM 3.1 codecs).
pub mod compression_method {
    /// Stored as is.
    pub const RAW: u8 = 0;
    /// gzip (RFC 1952).
    pub const GZIP: u8 = 1;
    /// rANS 4x8 (§ 14).
    pub const RANS_4X8: u8 = 4;
}

/// The reference sequence ID of unmapped slices and containers (§ 7, § 8.5).
pub const UNMAPPED: i32 = -1;

/// The reference sequence ID of multi-reference slices and containers (§ 7, § 8.5).
pub const MULTI_REFERENCE: i32 = -2;
