//! htsget region slices, the gateway's only reader of genomic formats (noodles, pinned at
//! htsget-search's version).
//!
//! [`slice`] cuts regions out of BAM, CRAM, VCF and BCF files read through the object-storage
//! seam (`gemj_objects::RandomAccess`: a local file or an S3 object alike), with
//! [`slice::SliceError`] as its error type. The synthetic demo genomes its tests and benches
//! slice are written by `gemj_demo::genomes`.

pub mod slice;
pub mod sniff;
