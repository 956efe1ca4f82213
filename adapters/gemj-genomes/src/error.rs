//! The one error type of the crate.

use std::{io, path::PathBuf};

use gemj_model::DataFormat;

/// What went wrong with a genome file.
///
/// Display does not repeat the cause: walk [`std::error::Error::source`] for it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GenomesError {
    /// Reading or writing a file failed.
    #[error("I/O error on {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The bytes are none of the formats [`crate::detect`] knows.
    #[error("unknown file format: {why}")]
    UnknownFormat {
        /// What the first bytes looked like.
        why: String,
    },
    /// The file is of a format this operation does not take (a BAI given to the variant reader, a
    /// plain VCF given to the indexer).
    #[error("{format} ({compression}) cannot be used here: {why}")]
    WrongFormat {
        /// The detected format.
        format: &'static str,
        /// Its compression.
        compression: &'static str,
        /// What was expected instead.
        why: &'static str,
    },
    /// The file is of a known format but broken: a BGZF block that claims more than 64 KiB, a
    /// record length past the end of the data, records out of order for an index.
    #[error("invalid {format} data in {path} at {position}: {why}")]
    Invalid {
        /// The format being read.
        format: &'static str,
        /// The file (or `<bytes>`).
        path: PathBuf,
        /// Where: a byte offset, `record 12`, `line 40`.
        position: String,
        /// What is wrong.
        why: String,
    },
    /// The variant file's header could not be read, so no record can be.
    #[error("unreadable {format} header in {file}: {why}")]
    Header {
        /// VCF or BCF.
        format: &'static str,
        /// The file name as given.
        file: String,
        /// What is wrong.
        why: String,
    },
    /// A noodles reader or indexer stopped on the file; `source` is its error.
    #[error("{format} reader failed on {path}")]
    Noodles {
        /// The format being read.
        format: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// noodles panicked on the file (a last resort: noodles 0.110 indexes some slices unchecked);
    /// the panic was caught and the file is treated as broken.
    #[error("{format} reader gave up on {path} (noodles panicked; the file is malformed)")]
    Panicked {
        /// The format being read.
        format: &'static str,
        /// The file.
        path: PathBuf,
    },
}

impl GenomesError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { path, source }
    }

    pub(crate) fn wrong_format(
        format: DataFormat,
        compression: crate::detect::Compression,
        why: &'static str,
    ) -> Self {
        Self::WrongFormat {
            format: format.as_str(),
            compression: compression.as_str(),
            why,
        }
    }
}
