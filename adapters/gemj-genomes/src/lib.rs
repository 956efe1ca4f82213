//! Genome files as the gateway receives them: what they are, their checksums, their indexes,
//! and the variant alleles they hold.
//!
//! - [`checksum`]: size, SHA-256 and MD5 of any byte stream in one read pass, the two digests on
//!   two threads.
//! - [`detect`]: the format of a file from its first bytes ([`gemj_model::DataFormat`]: BAM, CRAM,
//!   VCF, BCF and their indexes).
//! - [`index`]: building a missing BAI, CSI, tabix or CRAI index, and BGZF-compressing a plain VCF
//!   so that it can be indexed.
//! - [`variants`]: a streaming VCF/BCF reader that gives one [`gemj_model::VariantKey`] per ALT
//!   allele with each sample's copies, for the variant index; bad records become
//!   [`gemj_model::source::Diagnostic`]s.
//! - [`specimens`]: sample columns to [`gemj_model::SpecimenId`]s.
//!
//! This crate and `gateway/gemj-genomics` are the two users of noodles (pinned to the version
//! htsget-search uses); this one owns files on the way in (ingest), gemj-genomics owns serving
//! them (htsget slices, the demo genomes).
//!
//! Invariant: nothing here panics on input. Where noodles might (it indexes some slices
//! unchecked), the call runs under `catch_unwind` and the input is reported as malformed; and no
//! length a file claims sizes an allocation before the data is seen to be there.

pub mod checksum;
pub mod detect;
mod error;
pub mod index;
pub mod specimens;
pub mod variants;

pub use error::GenomesError;

use std::io::{self, Read};

/// Reads until `buf` is full or the input ends; returns how many bytes were read (fewer than
/// `buf.len()` only at the end of the input).
pub(crate) fn read_up_to(r: &mut (impl Read + ?Sized), buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while let Some(rest) = buf.get_mut(n..).filter(|r| !r.is_empty()) {
        match r.read(rest) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}
