//! Genomic formats behind one crate, the only user of noodles and htsget-search: the synthetic
//! demo genomes now, region search later.
//!
//! [`demo`] writes a deterministic synthetic cohort (reference FASTA, per-sample BAM/CRAM/VCF,
//! joint VCF/BCF, gene annotation) with their indices. [`GenomicsError`] is the crate's one
//! error type.

pub mod demo;
mod error;
pub mod slice;

pub use self::{
    demo::{DemoGenomeOptions, DemoGenomes, Gene, SampleFiles, Site, generate},
    error::GenomicsError,
};
