//! Prints a file's size, SHA-256 and MD5, and the throughput of the one-pass checksum.
//!
//! ```sh
//! cargo run --release -p gemj-genomes --example checksum -- FILE
//! ```

use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args_os().nth(1).ok_or("usage: checksum FILE")?;
    let started = Instant::now();
    let sums = gemj_genomes::checksum::checksum_file(&path)?;
    let seconds = started.elapsed().as_secs_f64();
    println!("size   {}", sums.size);
    println!("sha256 {}", sums.checksums.sha256);
    println!("md5    {}", sums.checksums.md5);
    println!(
        "{:.3} s, {:.0} MB/s",
        seconds,
        sums.size as f64 / 1e6 / seconds.max(1e-9)
    );
    Ok(())
}
