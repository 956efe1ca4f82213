//! The synthetic population: gene placement and the joint call set (segregating sites with the
//! genotype of every sample).
//!
//! The number of sites with `i` alternate copies among `n` haplotypes follows the neutral
//! site-frequency spectrum, `E[ξ_i] = θ·L / i` for `i` in `1..n`. With θ = 1/1250 per base every
//! sample is heterozygous about once per 1.25 kb, and the site count grows like the harmonic
//! number `H(n-1) ≈ ln n`: thousands of samples add many rare variants but stay cheap. The
//! carriers of a site are `i` haplotypes drawn without replacement and paired into diploid
//! samples at random, which gives Hardy–Weinberg genotype proportions.

use std::{
    fs::File,
    io::{BufWriter, Write as _},
    path::Path,
};

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::{
    Gene, Site,
    reference::{Contig, complement, random_base},
};
use crate::genomes::GenomicsError;

/// Expected pairwise differences per base (θ): about one heterozygous site per 1.25 kb.
pub(super) const THETA: f64 = 1.0 / 1_250.0;

/// Distance kept between sites and the ends of a contig's unique sequence.
const SITE_MARGIN: u32 = 50;

/// Every gene overlaps at least this many segregating sites.
pub(super) const MIN_SITES_PER_GENE: usize = 3;

/// Fraction of sites that are deletions, and the same again for insertions.
const DELETION_FRACTION: f64 = 0.05;

/// Relative weights of indel lengths 1..=10.
const INDEL_LENGTH_WEIGHTS: [u32; 10] = [40, 20, 12, 8, 6, 4, 3, 3, 2, 2];

/// Real HGNC symbols of genes on human chromosomes 20, 21 and 22, in their real chromosomal order
/// and with their real strand. Their coordinates on the synthetic contigs are made up.
const GENES: [(&str, &[(&str, char)]); 3] = [
    (
        "20",
        &[
            ("BMP2", '+'),
            ("JAG1", '-'),
            ("ASXL1", '+'),
            ("SRC", '+'),
            ("MYBL2", '+'),
            ("PTPN1", '+'),
            ("ZNF217", '-'),
            ("GNAS", '+'),
        ],
    ),
    (
        "21",
        &[
            ("APP", '-'),
            ("SOD1", '+'),
            ("RUNX1", '-'),
            ("DYRK1A", '+'),
            ("ERG", '-'),
            ("ETS2", '+'),
            ("CBS", '-'),
        ],
    ),
    (
        "22",
        &[
            ("COMT", '+'),
            ("BCR", '+'),
            ("SMARCB1", '+'),
            ("MN1", '-'),
            ("CHEK2", '-'),
            ("NF2", '+'),
            ("PDGFB", '-'),
            ("EP300", '+'),
        ],
    ),
];

/// The genes placed on a contig called `name` (`chr20` or `20`); none for other names.
fn genes_for(name: &str) -> &'static [(&'static str, char)] {
    let key = name.strip_prefix("chr").unwrap_or(name);

    GENES
        .iter()
        .find(|(chromosome, _)| *chromosome == key)
        .map(|(_, genes)| *genes)
        .unwrap_or(&[])
}

/// Places the genes of each contig, one per equal slot of its unique sequence.
pub(super) fn generate_genes(contigs: &[Contig], rng: &mut ChaCha8Rng) -> Vec<Gene> {
    let mut genes = Vec::new();

    for contig in contigs {
        let table = genes_for(&contig.name);
        let lo = contig.body_start + SITE_MARGIN;
        let hi = contig.len().saturating_sub(SITE_MARGIN);

        if table.is_empty() || hi <= lo {
            continue;
        }

        // `table` holds at most 8 genes.
        let slot = (hi - lo) / table.len() as u32;

        for (j, (symbol, strand)) in table.iter().enumerate() {
            let slot_start = lo + j as u32 * slot;
            let fraction: f64 = rng.random_range(0.3..0.6);
            let len = ((f64::from(slot) * fraction) as u32).clamp(1, slot.max(1));
            let offset = rng.random_range(0..=slot - len);
            let start = slot_start + offset + 1;

            genes.push(Gene {
                name: (*symbol).to_owned(),
                gene_id: format!("GEMJSYN:{symbol}"),
                chrom: contig.name.clone(),
                start,
                end: start + len - 1,
                strand: *strand,
            });
        }
    }

    genes
}

/// Writes `annotation/genes.tsv`.
pub(super) fn write_genes_tsv(genes: &[Gene], path: &Path) -> Result<(), GenomicsError> {
    let io_error = |source| GenomicsError::io(path, source);

    let mut writer = BufWriter::new(File::create(path).map_err(io_error)?);
    writeln!(
        writer,
        "# synthetic coordinates on the GeMJ synthetic reference"
    )
    .map_err(io_error)?;
    writeln!(writer, "#gene_name\tgene_id\tchrom\tstart\tend\tstrand").map_err(io_error)?;

    for gene in genes {
        writeln!(
            writer,
            "{}\t{}\t{}\t{}\t{}\t{}",
            gene.name, gene.gene_id, gene.chrom, gene.start, gene.end, gene.strand
        )
        .map_err(io_error)?;
    }

    writer.flush().map_err(io_error)
}

/// The neutral site-frequency spectrum over `1..haplotypes` alternate copies.
struct Spectrum {
    haplotypes: usize,
    /// `cumulative[k]` = Σ_{i=1}^{k+1} 1/i.
    cumulative: Vec<f64>,
}

impl Spectrum {
    fn new(haplotypes: usize) -> Self {
        let mut acc = 0.0;
        let cumulative = (1..haplotypes.max(2))
            .map(|i| {
                acc += 1.0 / i as f64;
                acc
            })
            .collect();

        Self {
            haplotypes,
            cumulative,
        }
    }

    /// The harmonic number H(n-1).
    fn total(&self) -> f64 {
        self.cumulative.last().copied().unwrap_or(1.0)
    }

    /// Draws the number of alternate copies of a new site.
    fn draw_count(&self, rng: &mut ChaCha8Rng) -> usize {
        let u = rng.random::<f64>() * self.total();
        let k = self.cumulative.partition_point(|&c| c < u);
        (k + 1).min(self.haplotypes.saturating_sub(1)).max(1)
    }

    /// Draws the alternate-allele copies (0, 1, 2) of every sample for a new site.
    fn draw_genotypes(&self, rng: &mut ChaCha8Rng, carriers: &mut [bool]) -> Vec<u8> {
        let n = self.haplotypes;
        let count = self.draw_count(rng).min(n);

        carriers.fill(false);

        // Floyd's algorithm: `count` distinct haplotypes out of `n`.
        for j in (n - count)..n {
            let t = rng.random_range(0..=j);

            if carriers[t] {
                carriers[j] = true;
            } else {
                carriers[t] = true;
            }
        }

        carriers
            .chunks_exact(2)
            .map(|pair| u8::from(pair[0]) + u8::from(pair[1]))
            .collect()
    }
}

/// Generates the joint call set: sites sorted by contig order and position.
pub(super) fn generate_sites(
    contigs: &[Contig],
    sample_count: usize,
    genes: &[Gene],
    rng: &mut ChaCha8Rng,
) -> Vec<Site> {
    let spectrum = Spectrum::new(2 * sample_count);
    let mut carriers = vec![false; 2 * sample_count];
    let mut sites = Vec::new();

    for contig in contigs {
        let lo = contig.body_start + SITE_MARGIN;
        let hi = contig.len().saturating_sub(SITE_MARGIN);

        if hi <= lo + 2 {
            continue;
        }

        let expected = THETA * f64::from(hi - lo) * spectrum.total();
        // A count, far below `usize::MAX`.
        let count = expected.round() as usize;

        let mut positions: Vec<u32> = (0..count).map(|_| rng.random_range(lo..hi)).collect();
        positions.sort_unstable();
        positions.dedup();

        let mut contig_sites: Vec<Site> = Vec::with_capacity(positions.len());
        let mut next_free = 0;

        for pos0 in positions {
            if pos0 < next_free {
                continue;
            }

            let (reference, alternate) = draw_alleles(contig, pos0, hi, rng);
            // Alleles are at most 11 bases long.
            next_free = pos0 + reference.len() as u32 + 1;

            contig_sites.push(Site {
                chrom: contig.name.clone(),
                pos: pos0 + 1,
                reference,
                alternate,
                genotypes: spectrum.draw_genotypes(rng, &mut carriers),
            });
        }

        for gene in genes.iter().filter(|gene| gene.chrom == contig.name) {
            add_gene_sites(
                contig,
                gene,
                &mut contig_sites,
                &spectrum,
                &mut carriers,
                rng,
            );
        }

        sites.extend(contig_sites);
    }

    sites
}

/// Adds SNVs inside `gene` until it overlaps [`MIN_SITES_PER_GENE`] sites.
fn add_gene_sites(
    contig: &Contig,
    gene: &Gene,
    sites: &mut Vec<Site>,
    spectrum: &Spectrum,
    carriers: &mut [bool],
    rng: &mut ChaCha8Rng,
) {
    let in_gene = |sites: &[Site]| {
        sites
            .iter()
            .filter(|site| (gene.start..=gene.end).contains(&site.pos))
            .count()
    };

    let mut attempts = 0;

    while in_gene(sites) < MIN_SITES_PER_GENE && attempts < 10_000 {
        attempts += 1;

        let pos = rng.random_range(gene.start..=gene.end);
        let i = sites.partition_point(|site| site.pos < pos);

        // Keep one free base between sites, as the main sweep does.
        let clear_before = i == 0 || {
            let prev = &sites[i - 1];
            prev.pos + (prev.reference.len() as u32) < pos
        };
        let clear_after = sites.get(i).is_none_or(|next| next.pos > pos + 1);

        if !clear_before || !clear_after {
            continue;
        }

        let reference = contig.sequence[pos as usize - 1];
        let alternate = snv_alternate(reference, rng);

        let site = Site {
            chrom: contig.name.clone(),
            pos,
            reference: char::from(reference).to_string(),
            alternate: char::from(alternate).to_string(),
            genotypes: spectrum.draw_genotypes(rng, carriers),
        };

        sites.insert(i, site);
    }
}

/// Draws the alleles of a site anchored at 0-based `pos0`: an SNV, or an indel that is
/// left-aligned by construction (it cannot be shifted one base to the left).
fn draw_alleles(contig: &Contig, pos0: u32, hi: u32, rng: &mut ChaCha8Rng) -> (String, String) {
    let sequence = &contig.sequence;
    let a = pos0 as usize;
    let anchor = sequence[a];
    let kind: f64 = rng.random();

    if kind < DELETION_FRACTION {
        let k = indel_length(rng);
        let last = a + k;

        // Shifting left is possible exactly when the anchor equals the last deleted base.
        if last < hi as usize && sequence[last] != anchor {
            let reference = String::from_utf8_lossy(&sequence[a..=last]).into_owned();
            return (reference, char::from(anchor).to_string());
        }
    } else if kind < 2.0 * DELETION_FRACTION {
        let k = indel_length(rng);
        let mut inserted: Vec<u8> = (0..k).map(|_| random_base(rng, &[0.25; 4])).collect();

        // Same rule for insertions: the last inserted base must differ from the anchor.
        if inserted[k - 1] == anchor {
            inserted[k - 1] = complement(anchor);
        }

        let mut alternate = vec![anchor];
        alternate.extend_from_slice(&inserted);

        return (
            char::from(anchor).to_string(),
            String::from_utf8_lossy(&alternate).into_owned(),
        );
    }

    let alternate = snv_alternate(anchor, rng);
    (
        char::from(anchor).to_string(),
        char::from(alternate).to_string(),
    )
}

fn indel_length(rng: &mut ChaCha8Rng) -> usize {
    let total: u32 = INDEL_LENGTH_WEIGHTS.iter().sum();
    let mut x = rng.random_range(0..total);

    for (i, &weight) in INDEL_LENGTH_WEIGHTS.iter().enumerate() {
        if x < weight {
            return i + 1;
        }

        x -= weight;
    }

    1
}

/// Draws an SNV allele: a transition two times out of three (Ti/Tv ≈ 2).
fn snv_alternate(reference: u8, rng: &mut ChaCha8Rng) -> u8 {
    let (transition, transversions) = match reference {
        b'A' => (b'G', [b'C', b'T']),
        b'G' => (b'A', [b'C', b'T']),
        b'C' => (b'T', [b'A', b'G']),
        _ => (b'C', [b'A', b'G']),
    };

    if rng.random_bool(2.0 / 3.0) {
        transition
    } else {
        transversions[usize::from(rng.random_bool(0.5))]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::genomes::{
        reference,
        rng::{Stream, stream},
    };

    fn contigs() -> Vec<Contig> {
        let mut rng = stream(1, Stream::Reference);
        reference::generate(
            &[
                (String::from("chr21"), 200_000),
                (String::from("chrUn"), 100_000),
            ],
            &mut rng,
        )
    }

    #[test]
    fn test_genes_for() {
        assert_eq!(genes_for("chr20").len(), 8);
        assert_eq!(genes_for("21").len(), 7);
        assert!(genes_for("chrUn").is_empty());
    }

    #[test]
    fn test_generate_sites() {
        let contigs = contigs();
        let genes = generate_genes(&contigs, &mut stream(1, Stream::Genes));
        assert_eq!(genes.len(), 7);

        let sample_count = 50;
        let sites = generate_sites(
            &contigs,
            sample_count,
            &genes,
            &mut stream(1, Stream::Sites),
        );

        // Sorted, non-overlapping, one free base between sites.
        for pair in sites.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);

            if a.chrom == b.chrom {
                assert!(a.pos + (a.reference.len() as u32) < b.pos, "{a:?} {b:?}");
            } else {
                assert_eq!((a.chrom.as_str(), b.chrom.as_str()), ("chr21", "chrUn"));
            }
        }

        let mut singletons = 0;
        let mut common = 0;
        let mut indels = 0;
        let mut hets = 0;

        for site in &sites {
            let contig = contigs.iter().find(|c| c.name == site.chrom).unwrap();
            let start = site.pos as usize - 1;
            let reference = &contig.sequence[start..start + site.reference.len()];
            assert_eq!(reference, site.reference.as_bytes());
            assert_ne!(site.reference, site.alternate);

            if site.reference.len() != site.alternate.len() {
                assert_eq!(site.reference[..1], site.alternate[..1]);
            }

            assert_eq!(site.genotypes.len(), sample_count);
            let ac: u32 = site.genotypes.iter().map(|&g| u32::from(g)).sum();
            assert!(ac >= 1 && ac < 2 * sample_count as u32);

            if ac == 1 {
                singletons += 1;
            }

            if ac >= 10 {
                common += 1;
            }

            if site.reference.len() != site.alternate.len() {
                indels += 1;
                let (r, a) = (site.reference.as_bytes(), site.alternate.as_bytes());
                // Left-aligned: the last base of the longer allele differs from the anchor.
                let longer = if r.len() > a.len() { r } else { a };
                assert_ne!(longer[longer.len() - 1], longer[0]);
            }

            hets += site.genotypes.iter().filter(|&&g| g == 1).count();
        }

        assert!(
            singletons > sites.len() / 5,
            "{singletons} of {}",
            sites.len()
        );
        assert!(common > sites.len() / 10, "{common} of {}", sites.len());

        let indel_fraction = indels as f64 / sites.len() as f64;
        assert!((0.05..0.15).contains(&indel_fraction), "{indel_fraction}");

        // About one heterozygous site per 1.25 kb per sample.
        let bases = f64::from(190_000 - 100 + 95_000 - 100);
        let het_rate = hets as f64 / sample_count as f64 / bases;
        assert!(
            (1.0 / 1_600.0..1.0 / 1_000.0).contains(&het_rate),
            "{het_rate}"
        );

        for gene in &genes {
            let n = sites
                .iter()
                .filter(|s| s.chrom == gene.chrom && (gene.start..=gene.end).contains(&s.pos))
                .count();
            assert!(n >= MIN_SITES_PER_GENE, "{}: {n}", gene.name);
        }
    }

    #[test]
    fn test_single_sample_sites_are_heterozygous() {
        let contigs = contigs();
        let sites = generate_sites(&contigs, 1, &[], &mut stream(2, Stream::Sites));
        assert!(!sites.is_empty());
        assert!(sites.iter().all(|site| site.genotypes == [1]));
    }
}
