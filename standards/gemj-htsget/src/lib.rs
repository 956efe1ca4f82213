//! htsget 1.3 as a protocol, with no I/O and no HTTP framework: what a request means, whether it
//! is valid, what a ticket looks like, and which status code and error name every failure has.
//!
//! * requests: [`parse_get`] (the query string of `GET /reads/{id}`, `GET /variants/{id}`) and
//!   [`parse_post`] (the JSON body of `POST`), both to a validated [`TicketRequest`];
//! * the vocabulary: [`Endpoint`], [`Format`], [`Class`], [`Region`], [`ReferenceName`];
//! * answers: [`Ticket`], [`TicketBody`], [`TicketUrl`], served as [`TICKET_MEDIA_TYPE`];
//! * failures: [`Error`], whose [`ErrorKind`] carries the spec's error name and HTTP status
//!   ([`Error::status`], [`Error::body`]): the only place htsget status codes are chosen.
//!
//! Specification: htsget 1.3.0 (<https://samtools.github.io/hts-specs/htsget.html>).
//! Coordinates are htsget's: 0-based, `start` inclusive, `end` exclusive, 32-bit unsigned.
//!
//! ## Why not htsget-config's types
//!
//! The gateway slices with htsget-search (through gemj-genomics), so htsget-config 0.23 is
//! already built. Its types were compared with what this crate needs and not used, for these
//! reasons:
//!
//! * **Purity and build cost.** A standards crate has no I/O. htsget-config's normal dependency
//!   tree is 351 crates (`cargo tree -p htsget-config -e normal --prefix none | sort -u | wc -l`,
//!   2026-11-23), including clap, figment, reqwest, tokio and noodles; this crate's is serde,
//!   serde_json, serde_urlencoded and thiserror. Every crate that parses htsget (the server, the
//!   conformance checker) would inherit those 351.
//! * **Requests.** htsget-config's `Query` is built from a `Request` holding the query string
//!   as a `HashMap<String, String>`: a repeated parameter (`?start=1&start=9`) is silently
//!   collapsed, where this gateway refuses it (InvalidInput), and an unknown parameter cannot be
//!   told from a known one. Validation (`class=header` with other parameters, `tags` and
//!   `notags` intersecting, `start >= end`, `referenceName=*` on variants) lives in htsget-http,
//!   which is built on its HTTP types.
//! * **Errors.** htsget-config's `HtsGetError` has no status codes (htsget-http maps them) and
//!   no `PermissionDenied`, `InvalidAuthentication` or `PayloadTooLarge`, which the spec names
//!   and this gateway answers.
//! * **Format and Class** are the same four formats and two classes; they are defined here
//!   rather than re-exported so that the protocol does not depend on a storage configuration
//!   crate. gemj-genomics re-exports these types, so the slicer and the protocol share one
//!   definition.
//!
//! Invariant: nothing here panics on any input; errors carry the caller's own values at most,
//! never more than the request held.

mod error;
mod request;
mod ticket;

pub use error::{Error, ErrorKind};
pub use request::{MAX_REGIONS, READ_FIELDS, TicketRequest, VARIANT_FIELDS, parse_get, parse_post};
pub use ticket::{TICKET_MEDIA_TYPE, Ticket, TicketBody, TicketUrl};

/// A file format htsget serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// BAM (BGZF, BAI or CSI index).
    Bam,
    /// CRAM 3.x (CRAI index).
    Cram,
    /// BGZF-compressed VCF (TBI or CSI index).
    Vcf,
    /// BCF (CSI index).
    Bcf,
}

impl Format {
    /// The htsget name (`BAM`, `CRAM`, `VCF`, `BCF`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bam => "BAM",
            Self::Cram => "CRAM",
            Self::Vcf => "VCF",
            Self::Bcf => "BCF",
        }
    }

    /// Whether the format holds reads (`true`) or variants.
    #[must_use]
    pub fn is_reads(self) -> bool {
        matches!(self, Self::Bam | Self::Cram)
    }
}

/// Which part of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Class {
    /// The header only (and the end-of-file marker).
    Header,
    /// Header and records.
    #[default]
    Body,
}

/// A reference sequence named in a query.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ReferenceName {
    /// A reference sequence of the file's header.
    Named(String),
    /// `*`: reads that are not placed on any reference sequence (reads only).
    Unplaced,
}

/// One region: a reference sequence, optionally limited to `[start, end)` (0-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    /// The reference sequence.
    pub reference: ReferenceName,
    /// First base (0-based, inclusive); 0 when absent.
    pub start: u64,
    /// One past the last base (0-based, exclusive); the end of the sequence when absent.
    pub end: Option<u64>,
}

impl Region {
    /// A whole reference sequence.
    #[must_use]
    pub fn whole(name: &str) -> Self {
        Self {
            reference: ReferenceName::Named(name.to_owned()),
            start: 0,
            end: None,
        }
    }

    /// `[start, end)` on a named reference sequence.
    #[must_use]
    pub fn new(name: &str, start: u64, end: Option<u64>) -> Self {
        Self {
            reference: ReferenceName::Named(name.to_owned()),
            start,
            end,
        }
    }
}

/// The two htsget endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `/reads`: BAM and CRAM.
    Reads,
    /// `/variants`: VCF and BCF.
    Variants,
}

impl Endpoint {
    /// The formats served, default first.
    #[must_use]
    pub fn formats(self) -> &'static [Format] {
        match self {
            Self::Reads => &[Format::Bam, Format::Cram],
            Self::Variants => &[Format::Vcf, Format::Bcf],
        }
    }

    /// `reads` or `variants`.
    #[must_use]
    pub fn datatype(self) -> &'static str {
        match self {
            Self::Reads => "reads",
            Self::Variants => "variants",
        }
    }
}
