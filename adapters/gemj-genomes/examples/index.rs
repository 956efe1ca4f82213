//! Writes the index of each file given (`x.bam` → `x.bam.bai`), as `samtools index` and
//! `bcftools index` would, and prints its path.
//!
//! ```sh
//! cargo run --release -p gemj-genomes --example index -- FILE...
//! ```

fn main() -> Result<(), Box<dyn std::error::Error>> {
    for path in std::env::args_os().skip(1) {
        let (index, format) = gemj_genomes::index::write_index(std::path::Path::new(&path))?;
        println!("{} {}", format.as_str(), index.display());
    }
    Ok(())
}
