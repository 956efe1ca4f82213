//! Genomic formats behind one crate, the gateway's only user of noodles and htsget-search: the
//! synthetic demo genomes, and htsget region slices.
//!
//! [`demo`] writes a deterministic synthetic cohort (reference FASTA, per-sample BAM/CRAM/VCF,
//! joint VCF/BCF, gene annotation) with their indices; [`GenomicsError`] is its error type.
//! [`slice`] cuts regions out of BAM, CRAM, VCF and BCF files read through the object-storage
//! seam (`gemj_objects::RandomAccess`: a local file or an S3 object alike), with
//! [`slice::SliceError`] as its error type.

pub mod demo;
mod error;
pub mod slice;

pub use self::{
    demo::{DemoGenomeOptions, DemoGenomes, Gene, SampleFiles, Site, generate},
    error::GenomicsError,
};
