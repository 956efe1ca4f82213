//! Counts the records of a region in demo genome files through their indices, with noodles, to
//! compare with `samtools view -c` / `bcftools view -H | wc -l`.
//!
//! Usage: `cargo run --release -p gemj-genomics --example region_counts -- OUT_DIR SAMPLE REGION`

use std::{env, error::Error, path::PathBuf};

use noodles::{bam, bcf, core::Region, cram, fasta, vcf};

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = env::args().skip(1);
    let out_dir = PathBuf::from(args.next().ok_or("missing OUT_DIR")?);
    let sample = args.next().ok_or("missing SAMPLE")?;
    let region: Region = args.next().ok_or("missing REGION")?.parse()?;

    let samples = out_dir.join("samples");
    let joint = out_dir.join("joint");

    let mut reader = bam::io::indexed_reader::Builder::default()
        .build_from_path(samples.join(format!("{sample}.bam")))?;
    let header = reader.read_header()?;
    let n = reader.query(&header, &region)?.records().count();
    println!("bam\t{n}");

    let fasta = fasta::io::indexed_reader::Builder::default()
        .build_from_path(out_dir.join("reference/gemj-synthetic-ref.fa"))?;
    let repository = fasta::Repository::new(fasta::repository::adapters::IndexedReader::new(fasta));
    let mut reader = cram::io::indexed_reader::Builder::default()
        .set_reference_sequence_repository(repository)
        .build_from_path(samples.join(format!("{sample}.cram")))?;
    let header = reader.read_header()?;
    let n = reader.query(&header, &region)?.count();
    println!("cram\t{n}");

    let mut reader = vcf::io::indexed_reader::Builder::default()
        .build_from_path(samples.join(format!("{sample}.vcf.gz")))?;
    let header = reader.read_header()?;
    let n = reader.query(&header, &region)?.records().count();
    println!("sample_vcf\t{n}");

    let mut reader = vcf::io::indexed_reader::Builder::default()
        .build_from_path(joint.join("gemj-demo-joint.vcf.gz"))?;
    let header = reader.read_header()?;
    let n = reader.query(&header, &region)?.records().count();
    println!("joint_vcf\t{n}");

    let mut reader = bcf::io::indexed_reader::Builder::default()
        .build_from_path(joint.join("gemj-demo-joint.bcf"))?;
    let header = reader.read_header()?;
    let n = reader.query(&header, &region)?.records().count();
    println!("joint_bcf\t{n}");

    Ok(())
}
