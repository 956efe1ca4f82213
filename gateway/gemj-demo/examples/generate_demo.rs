//! Generates the demo genomes and prints how long it took.
//!
//! Usage: `cargo run --release -p gemj-demo --example generate_demo -- OUT_DIR [SAMPLES] [COVERAGE]`
//! (defaults: 24 samples, coverage 2.0, the default contigs).

use std::{env, error::Error, path::PathBuf, time::Instant};

use gemj_demo::genomes::{DemoGenomeOptions, generate};

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = env::args().skip(1);
    let out_dir = PathBuf::from(args.next().ok_or("missing OUT_DIR")?);
    let samples: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(24);
    let coverage: f64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(2.0);

    let opts = DemoGenomeOptions {
        samples: (1..=samples).map(|i| format!("GEMJ-P{i:04}")).collect(),
        coverage,
        ..Default::default()
    };

    let started = Instant::now();
    let genomes = generate(&opts, &out_dir)?;
    let elapsed = started.elapsed();

    println!(
        "samples={samples} coverage={coverage} sites={} genes={} elapsed={:.2}s",
        genomes.sites.len(),
        genomes.genes.len(),
        elapsed.as_secs_f64()
    );

    Ok(())
}
