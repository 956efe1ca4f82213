//! Writes a synthetic SS-MIX2 standardized storage (see `gemj_ssmix2::synthetic`; every patient
//! is invented) under a folder:
//!
//! ```text
//! cargo run -p gemj-ssmix2 --example generate_tree -- <standard_root folder> <patients> [seed]
//! ```

use std::error::Error;
use std::path::PathBuf;

use gemj_ssmix2::synthetic::generate_tree;

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: generate_tree <standard_root folder> <patients> [seed]";
    let root = PathBuf::from(args.next().ok_or(usage)?);
    let patients: usize = args.next().ok_or(usage)?.parse()?;
    let seed: u64 = match args.next() {
        Some(s) => s.parse()?,
        None => 0,
    };
    let mut files = 0_usize;
    let mut bytes = 0_usize;
    for (relative, content) in generate_tree(patients, seed) {
        let path = root.join(&relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, &content)?;
        files += 1;
        bytes += content.len();
    }
    println!(
        "wrote {files} synthetic files ({bytes} bytes) for {patients} patients under {}",
        root.display()
    );
    Ok(())
}
