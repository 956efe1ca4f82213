//! The synthetic reference genome: sequence generation, the FASTA file and its `.fai` index.

use std::{
    fs::File,
    io::{BufWriter, Write as _},
    path::Path,
};

use md5::{Digest as _, Md5};
use noodles::fasta;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::genomes::GenomicsError;

/// FASTA line width, as written by `samtools faidx` and most aligners' reference bundles.
const LINE_WIDTH: usize = 60;

/// The longest run of `N` at the start of a contig.
const MAX_N_PREFIX: u32 = 10_000;

/// Base composition of unique sequence: A, C, G, T (41% GC, as in the human genome).
const COMPOSITION: [f64; 4] = [0.295, 0.205, 0.205, 0.295];

/// One contig of the synthetic reference.
#[derive(Clone, Debug)]
pub(super) struct Contig {
    /// The contig name (`chr20`).
    pub(super) name: String,
    /// Upper-case bases.
    pub(super) sequence: Vec<u8>,
    /// 0-based position of the first base after the leading run of `N`.
    pub(super) body_start: u32,
    /// Lower-case hexadecimal MD5 of the sequence (SAM `@SQ M5`, VCF `##contig md5`).
    pub(super) md5: String,
}

impl Contig {
    /// The contig length.
    pub(super) fn len(&self) -> u32 {
        // The length comes from a `u32` option.
        self.sequence.len() as u32
    }
}

/// Generates the contigs `(name, length)` from the reference stream.
pub(super) fn generate(contigs: &[(String, u32)], rng: &mut ChaCha8Rng) -> Vec<Contig> {
    // One repeat family (think Alu: ~300 bp, GC-rich) shared by all contigs.
    let repeat_family: Vec<u8> = (0..300)
        .map(|_| random_base(rng, &[0.24, 0.26, 0.26, 0.24]))
        .collect();

    contigs
        .iter()
        .map(|(name, length)| {
            let sequence = generate_sequence(*length, &repeat_family, rng);
            let body_start = n_prefix_len(*length);
            let md5 = hex::encode(Md5::digest(&sequence));

            Contig {
                name: name.clone(),
                sequence,
                body_start,
                md5,
            }
        })
        .collect()
}

/// The length of the run of `N` that starts a contig of `length` bases.
pub(super) fn n_prefix_len(length: u32) -> u32 {
    (length / 20).min(MAX_N_PREFIX)
}

fn generate_sequence(length: u32, repeat_family: &[u8], rng: &mut ChaCha8Rng) -> Vec<u8> {
    let length = length as usize;
    let n_prefix = n_prefix_len(length as u32) as usize;

    let mut sequence = Vec::with_capacity(length + 2_000);
    sequence.resize(n_prefix, b'N');

    while sequence.len() < length {
        let kind: f64 = rng.random();

        if kind < 0.70 {
            // Unique sequence.
            let n = rng.random_range(200..2_000);
            sequence.extend((0..n).map(|_| random_base(rng, &COMPOSITION)));
        } else if kind < 0.82 {
            // A homopolymer run, A/T twice as often as C/G.
            let base = random_base(rng, &[0.33, 0.17, 0.17, 0.33]);
            let n = rng.random_range(8..=24);
            sequence.extend(std::iter::repeat_n(base, n));
        } else if kind < 0.94 {
            // A short tandem repeat with a 2-4 bp unit.
            let unit_len = rng.random_range(2..=4);
            let mut unit: Vec<u8> = (0..unit_len)
                .map(|_| random_base(rng, &COMPOSITION))
                .collect();

            if unit.iter().all(|&b| b == unit[0]) {
                unit[0] = complement(unit[0]);
            }

            let copies = rng.random_range(5..=15);

            for _ in 0..copies {
                sequence.extend_from_slice(&unit);
            }
        } else {
            // A diverged (~12%) copy of part of the repeat family, on either strand.
            let n = rng.random_range(150..=repeat_family.len());
            let offset = rng.random_range(0..=repeat_family.len() - n);
            let reverse = rng.random_bool(0.5);
            let start = sequence.len();

            for &base in &repeat_family[offset..offset + n] {
                let base = if rng.random_bool(0.12) {
                    random_base(rng, &COMPOSITION)
                } else {
                    base
                };

                sequence.push(base);
            }

            if reverse {
                let copy = &mut sequence[start..];
                copy.reverse();
                copy.iter_mut().for_each(|b| *b = complement(*b));
            }
        }
    }

    sequence.truncate(length);
    sequence
}

/// Draws a base with the probabilities `[A, C, G, T]`.
pub(super) fn random_base(rng: &mut ChaCha8Rng, weights: &[f64; 4]) -> u8 {
    let x: f64 = rng.random();
    let mut acc = 0.0;

    for (base, weight) in [b'A', b'C', b'G', b'T'].into_iter().zip(weights) {
        acc += weight;

        if x < acc {
            return base;
        }
    }

    b'T'
}

/// The Watson-Crick complement of an upper-case base (`N` stays `N`).
pub(super) fn complement(base: u8) -> u8 {
    match base {
        b'A' => b'T',
        b'C' => b'G',
        b'G' => b'C',
        b'T' => b'A',
        other => other,
    }
}

/// Writes the contigs as FASTA with 60 bases per line, then the `.fai` index.
pub(super) fn write_fasta(
    contigs: &[Contig],
    fasta_path: &Path,
    fai_path: &Path,
) -> Result<(), GenomicsError> {
    let io_error = |source| GenomicsError::io(fasta_path, source);

    let file = File::create(fasta_path).map_err(io_error)?;
    let mut writer = fasta::io::writer::Builder::default()
        .set_line_base_count(LINE_WIDTH)
        .build_from_writer(BufWriter::new(file));

    for contig in contigs {
        let record = fasta::Record::new(
            fasta::record::Definition::new(contig.name.as_str(), None),
            fasta::record::Sequence::from(contig.sequence.clone()),
        );
        writer.write_record(&record).map_err(io_error)?;
    }

    writer.get_mut().flush().map_err(io_error)?;
    drop(writer);

    let index = fasta::fs::index(fasta_path).map_err(io_error)?;
    fasta::fai::fs::write(fai_path, &index).map_err(|e| GenomicsError::io(fai_path, e))?;

    Ok(())
}

/// Builds the in-memory sequence repository the CRAM writer encodes against.
pub(super) fn repository(contigs: &[Contig]) -> fasta::Repository {
    let records: Vec<fasta::Record> = contigs
        .iter()
        .map(|contig| {
            fasta::Record::new(
                fasta::record::Definition::new(contig.name.as_str(), None),
                fasta::record::Sequence::from(contig.sequence.clone()),
            )
        })
        .collect();

    fasta::Repository::new(records)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::genomes::rng::{Stream, stream};

    #[test]
    fn test_generate_composition() {
        let mut rng = stream(7, Stream::Reference);
        let contigs = generate(&[(String::from("chr1"), 200_000)], &mut rng);
        let contig = &contigs[0];

        assert_eq!(contig.len(), 200_000);
        assert_eq!(contig.body_start, 10_000);
        assert!(contig.sequence[..10_000].iter().all(|&b| b == b'N'));

        let body = &contig.sequence[10_000..];
        assert!(body.iter().all(|b| b"ACGT".contains(b)));

        let gc = body.iter().filter(|&&b| b == b'G' || b == b'C').count() as f64;
        let gc = gc / body.len() as f64;
        assert!((0.38..0.45).contains(&gc), "GC = {gc}");

        // Low-complexity stretches exist.
        assert!(body.windows(12).any(|w| w.iter().all(|&b| b == w[0])));
    }

    #[test]
    fn test_n_prefix_len() {
        assert_eq!(n_prefix_len(60_000), 3_000);
        assert_eq!(n_prefix_len(1_200_000), 10_000);
    }
}
