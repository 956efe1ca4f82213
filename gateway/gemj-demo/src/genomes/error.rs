//! The demo genome writer's error type.

use std::{io, path::PathBuf};

/// An error from generating the demo genomes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GenomicsError {
    /// The demo cohort has no samples.
    #[error("the demo cohort needs at least one sample")]
    NoSamples,

    /// A sample name cannot be used in file names, read groups and VCF sample columns.
    #[error("invalid sample name {name:?}: {reason}")]
    InvalidSampleName {
        /// The offending name.
        name: String,
        /// Why it was rejected.
        reason: &'static str,
    },

    /// Two samples have the same name.
    #[error("duplicate sample name {0:?}")]
    DuplicateSample(String),

    /// The demo genome has no contigs.
    #[error("the demo genome needs at least one contig")]
    NoContigs,

    /// A contig name or length cannot be used.
    #[error("invalid contig {name:?} of {length} bp: {reason}")]
    InvalidContig {
        /// The contig name.
        name: String,
        /// The contig length.
        length: u32,
        /// Why it was rejected.
        reason: &'static str,
    },

    /// Two contigs have the same name.
    #[error("duplicate contig {0:?}")]
    DuplicateContig(String),

    /// The mean read depth is not a finite number in `[0, 100]`.
    #[error("invalid coverage {0}: expected a finite mean depth in [0, 100]")]
    InvalidCoverage(f64),

    /// Reading or writing a file failed.
    #[error("I/O error on {}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },

    /// A generated SAM header did not parse (SAM v1 § 1.3).
    #[error("invalid generated SAM header")]
    SamHeader(#[source] noodles::sam::header::ParseError),

    /// A generated VCF header did not parse (VCF v4.3 § 1.2).
    #[error("invalid generated VCF header")]
    VcfHeader(#[source] noodles::vcf::header::ParseError),

    /// A worker thread panicked.
    #[error("a generator thread panicked")]
    WorkerPanicked,
}

impl GenomicsError {
    /// An I/O error on `path`.
    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}
