//! Read simulation: paired 150 bp Illumina-like reads drawn from a sample's two haplotypes, and
//! their conversion to alignment records.
//!
//! A fragment is walked along one haplotype (reference bases with the haplotype's SNVs, inserted
//! bases and skipped deleted bases), so read alignments carry the sample's variants as mismatches
//! and as `I`/`D` CIGAR operations, exactly where the truth VCF says they are.

use noodles::{
    core::Position,
    sam::alignment::{
        RecordBuf,
        record::{
            Flags, MappingQuality,
            cigar::{Op, op::Kind},
            data::field::Tag,
        },
        record_buf::{Cigar, QualityScores, Sequence, data::field::Value},
    },
};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

use super::{Site, reference::Contig, rng::SplitMix64};

/// Read length, in bases.
pub(super) const READ_LENGTH: usize = 150;

/// Mean and standard deviation of the fragment (insert) length.
const INSERT_MEAN: f64 = 350.0;
const INSERT_SD: f64 = 50.0;
const MIN_FRAGMENT: f64 = 200.0;
const MAX_FRAGMENT: f64 = 600.0;

/// Reference bases kept free after a fragment start, enough for the longest fragment plus
/// deletions.
const FRAGMENT_WINDOW: u32 = 700;

/// Pairs `j` with `j % MATE_UNMAPPED_PERIOD == MATE_UNMAPPED_PHASE` keep one mate unmapped
/// (about 0.5% of pairs, and at least one per contig with four or more pairs).
const MATE_UNMAPPED_PERIOD: u32 = 199;
const MATE_UNMAPPED_PHASE: u32 = 3;

/// Fully unmapped pairs written at the end of every alignment file.
pub(super) const UNMAPPED_PAIRS: u32 = 8;

/// Mapping quality of every mapped read.
const MAPQ: u8 = 60;

/// Marks a haplotype base that is inserted relative to the reference.
const INSERTED: u32 = u32::MAX;

/// How a haplotype differs from the reference at one site.
#[derive(Clone, Copy, Debug)]
pub(super) enum Edit<'a> {
    /// One base replaced.
    Snv(u8),
    /// Bases inserted after the anchor base.
    Insertion(&'a [u8]),
    /// Bases deleted after the anchor base.
    Deletion(u32),
}

/// A variant carried by one haplotype, anchored at a 0-based reference position.
#[derive(Clone, Copy, Debug)]
pub(super) struct HapVariant<'a> {
    pub(super) pos0: u32,
    pub(super) edit: Edit<'a>,
}

impl<'a> HapVariant<'a> {
    /// The haplotype edit described by a VCF-style site.
    pub(super) fn from_site(site: &'a Site) -> Self {
        let reference = site.reference.as_bytes();
        let alternate = site.alternate.as_bytes();

        let edit = if alternate.len() > reference.len() {
            Edit::Insertion(&alternate[1..])
        } else if reference.len() > alternate.len() {
            // Deletions are at most 10 bases long.
            Edit::Deletion((reference.len() - alternate.len()) as u32)
        } else {
            Edit::Snv(alternate[0])
        };

        Self {
            pos0: site.pos - 1,
            edit,
        }
    }
}

/// A simulated read before it becomes an alignment record.
#[derive(Clone, Debug)]
pub(super) struct SimRead {
    /// The fragment number (the read name is derived from it).
    pub(super) pair: u32,
    /// 0 for the leftmost or mapped mate, 1 for the other.
    pub(super) mate_order: u8,
    pub(super) flags: Flags,
    /// 0-based alignment start, or the mate's start for a placed unmapped read.
    pub(super) start0: Option<u32>,
    /// 0-based inclusive reference end of a mapped read.
    pub(super) end0: u32,
    pub(super) cigar: Vec<Op>,
    pub(super) sequence: Vec<u8>,
    pub(super) qualities: Vec<u8>,
    pub(super) mate_start0: Option<u32>,
    pub(super) template_length: i32,
    pub(super) mapq: u8,
    /// `NM` and `MD` of a mapped read.
    pub(super) edit_distance: Option<(u32, String)>,
}

impl SimRead {
    /// Whether the read is mapped.
    pub(super) fn is_mapped(&self) -> bool {
        !self.flags.is_unmapped()
    }

    /// The coordinate-sort key within one contig.
    pub(super) fn sort_key(&self) -> (Option<u32>, u32, u8) {
        (self.start0, self.pair, self.mate_order)
    }

    /// Converts the read into an alignment record.
    pub(super) fn to_record_buf(
        &self,
        reference_sequence_id: Option<usize>,
        name: &str,
        read_group: &str,
    ) -> RecordBuf {
        let mut builder = RecordBuf::builder()
            .set_name(name)
            .set_flags(self.flags)
            .set_sequence(Sequence::from(self.sequence.clone()))
            .set_quality_scores(QualityScores::from(self.qualities.clone()));

        if let Some(id) = reference_sequence_id {
            if let Some(position) = self.start0.and_then(position) {
                builder = builder
                    .set_reference_sequence_id(id)
                    .set_alignment_start(position);
            }

            if let Some(position) = self.mate_start0.and_then(position) {
                builder = builder
                    .set_mate_reference_sequence_id(id)
                    .set_mate_alignment_start(position);
            }
        }

        if let Some(mapq) = MappingQuality::new(self.mapq) {
            builder = builder.set_mapping_quality(mapq);
        }

        if !self.cigar.is_empty() {
            builder = builder.set_cigar(Cigar::from(self.cigar.clone()));
        }

        builder = builder.set_template_length(self.template_length);

        let mut data: Vec<(Tag, Value)> = Vec::with_capacity(3);

        if let Some((nm, md)) = &self.edit_distance {
            let nm = u8::try_from(*nm).map_or(Value::Int32(*nm as i32), Value::UInt8);
            data.push((Tag::EDIT_DISTANCE, nm));
            data.push((Tag::MISMATCHED_POSITIONS, Value::from(md.as_str())));
        }

        data.push((Tag::READ_GROUP, Value::from(read_group)));

        builder.set_data(data.into_iter().collect()).build()
    }
}

fn position(start0: u32) -> Option<Position> {
    Position::new(start0 as usize + 1)
}

/// Simulates the reads of one contig for one sample, sorted by coordinate.
///
/// `haplotypes` holds the variants of each haplotype on this contig, sorted by position.
pub(super) fn simulate_contig(
    contig: &Contig,
    haplotypes: &[Vec<HapVariant<'_>>; 2],
    coverage: f64,
    rng: &mut ChaCha8Rng,
) -> Vec<SimRead> {
    let lo = contig.body_start;
    let hi = contig.len().saturating_sub(FRAGMENT_WINDOW);

    if hi <= lo {
        return Vec::new();
    }

    // Coverage is validated to lie in [0, 100]; the count fits comfortably.
    let pairs = (coverage * f64::from(contig.len() - lo) / (2 * READ_LENGTH) as f64).round() as u32;

    let mut reads = Vec::with_capacity(2 * pairs as usize);
    let mut fragment = Vec::with_capacity(MAX_FRAGMENT as usize + 16);

    for pair in 0..pairs {
        let haplotype = usize::from(rng.random_bool(0.5));
        let z: f64 = rng.sample(StandardNormal);
        let len = (INSERT_MEAN + INSERT_SD * z)
            .round()
            .clamp(MIN_FRAGMENT, MAX_FRAGMENT) as usize;
        let start = rng.random_range(lo..hi);
        let read1_is_forward = rng.random_bool(0.5);
        let seeds: [u64; 2] = [rng.random(), rng.random()];

        walk(contig, &haplotypes[haplotype], start, len, &mut fragment);

        if fragment.len() < len {
            continue;
        }

        let (Some(mut forward), Some(mut reverse)) = (
            sequence_fragment_end(&fragment[..READ_LENGTH], contig, false, seeds[0]),
            sequence_fragment_end(&fragment[len - READ_LENGTH..len], contig, true, seeds[1]),
        ) else {
            continue;
        };

        let (forward_segment, reverse_segment) = if read1_is_forward {
            (Flags::FIRST_SEGMENT, Flags::LAST_SEGMENT)
        } else {
            (Flags::LAST_SEGMENT, Flags::FIRST_SEGMENT)
        };

        forward.pair = pair;
        reverse.pair = pair;

        if pair % MATE_UNMAPPED_PERIOD == MATE_UNMAPPED_PHASE {
            // One mate did not map (as BWA reports it): the unmapped mate is placed at the mapped
            // mate's position and sorts right after it.
            let keep_forward = rng.random_bool(0.5);
            let junk_seed: u64 = rng.random();

            let (mut mapped, mapped_segment, unmapped_segment) = if keep_forward {
                (forward, forward_segment, reverse_segment)
            } else {
                (reverse, reverse_segment, forward_segment)
            };

            let mut mapped_flags = Flags::SEGMENTED | Flags::MATE_UNMAPPED | mapped_segment;
            let mut unmapped_flags = Flags::SEGMENTED | Flags::UNMAPPED | unmapped_segment;

            if !keep_forward {
                mapped_flags |= Flags::REVERSE_COMPLEMENTED;
                unmapped_flags |= Flags::MATE_REVERSE_COMPLEMENTED;
            }

            mapped.flags = mapped_flags;
            mapped.mate_order = 0;
            mapped.mate_start0 = mapped.start0;
            mapped.template_length = 0;

            let mut unmapped = junk_read(pair, junk_seed);
            unmapped.flags = unmapped_flags;
            unmapped.mate_order = 1;
            unmapped.start0 = mapped.start0;
            unmapped.mate_start0 = mapped.start0;

            reads.push(mapped);
            reads.push(unmapped);
            continue;
        }

        let (Some(forward_start), Some(reverse_start)) = (forward.start0, reverse.start0) else {
            continue;
        };

        let left = forward_start.min(reverse_start);
        let right = forward.end0.max(reverse.end0);
        // Fragments are at most a few hundred bases long.
        let tlen = (right - left + 1) as i32;
        let forward_is_left = forward_start <= reverse_start;

        forward.flags = Flags::SEGMENTED
            | Flags::PROPERLY_SEGMENTED
            | Flags::MATE_REVERSE_COMPLEMENTED
            | forward_segment;
        forward.mate_start0 = Some(reverse_start);
        forward.template_length = if forward_is_left { tlen } else { -tlen };
        forward.mate_order = u8::from(!forward_is_left);

        reverse.flags = Flags::SEGMENTED
            | Flags::PROPERLY_SEGMENTED
            | Flags::REVERSE_COMPLEMENTED
            | reverse_segment;
        reverse.mate_start0 = Some(forward_start);
        reverse.template_length = -forward.template_length;
        reverse.mate_order = u8::from(forward_is_left);

        reads.push(forward);
        reads.push(reverse);
    }

    reads.sort_by_key(SimRead::sort_key);
    reads
}

/// Simulates the pairs where neither mate mapped (no reference, no position).
pub(super) fn simulate_unmapped_pairs(count: u32, rng: &mut ChaCha8Rng) -> Vec<SimRead> {
    let mut reads = Vec::with_capacity(2 * count as usize);

    for pair in 0..count {
        for (mate_order, segment) in [(0, Flags::FIRST_SEGMENT), (1, Flags::LAST_SEGMENT)] {
            let mut read = junk_read(pair, rng.random());
            read.flags = Flags::SEGMENTED | Flags::UNMAPPED | Flags::MATE_UNMAPPED | segment;
            read.mate_order = mate_order;
            reads.push(read);
        }
    }

    reads
}

/// Walks `len` haplotype bases from the 0-based reference position `start`. Each element is a
/// base and its 0-based reference position, or [`INSERTED`].
fn walk(
    contig: &Contig,
    variants: &[HapVariant<'_>],
    start: u32,
    len: usize,
    out: &mut Vec<(u8, u32)>,
) {
    out.clear();

    let sequence = &contig.sequence;
    let mut r = start as usize;
    let mut vi = variants.partition_point(|v| v.pos0 < start);

    // A deletion anchored before `start` may cover it.
    if let Some(previous) = vi.checked_sub(1).and_then(|i| variants.get(i))
        && let Edit::Deletion(k) = previous.edit
    {
        let last_deleted = (previous.pos0 + k) as usize;

        if last_deleted >= r {
            r = last_deleted + 1;
        }
    }

    while out.len() < len && r < sequence.len() {
        // Reference positions fit in `u32`: contig lengths are `u32`.
        let here = r as u32;

        match variants.get(vi) {
            Some(variant) if variant.pos0 < here => vi += 1,
            Some(variant) if variant.pos0 == here => {
                match variant.edit {
                    Edit::Snv(base) => {
                        out.push((base, here));
                        r += 1;
                    }
                    Edit::Insertion(bases) => {
                        out.push((sequence[r], here));
                        out.extend(bases.iter().map(|&b| (b, INSERTED)));
                        r += 1;
                    }
                    Edit::Deletion(k) => {
                        out.push((sequence[r], here));
                        r += 1 + k as usize;
                    }
                }

                vi += 1;
            }
            _ => {
                out.push((sequence[r], here));
                r += 1;
            }
        }
    }

    out.truncate(len);
}

/// Sequences one end of a fragment: adds sequencing errors and qualities, then aligns the read
/// to the reference. `reverse` reads are sequenced from their right end.
fn sequence_fragment_end(
    elements: &[(u8, u32)],
    contig: &Contig,
    reverse: bool,
    seed: u64,
) -> Option<SimRead> {
    let mut bases: Vec<u8> = elements.iter().map(|&(b, _)| b).collect();
    let qualities = add_sequencing_errors(&mut bases, reverse, &mut SplitMix64::new(seed));
    let alignment = align(elements, &bases, &contig.sequence)?;

    Some(SimRead {
        pair: 0,
        mate_order: 0,
        flags: Flags::empty(),
        start0: Some(alignment.start0),
        end0: alignment.end0,
        cigar: alignment.cigar,
        sequence: bases,
        qualities,
        mate_start0: None,
        template_length: 0,
        mapq: MAPQ,
        edit_distance: Some((alignment.nm, alignment.md)),
    })
}

/// A read from outside the reference (adapter dimers, contamination): it maps nowhere.
fn junk_read(pair: u32, seed: u64) -> SimRead {
    let mut noise = SplitMix64::new(seed);
    let mut bases: Vec<u8> = (0..READ_LENGTH)
        .map(|_| b"ACGT"[(noise.next_u64() & 3) as usize])
        .collect();
    let qualities = add_sequencing_errors(&mut bases, false, &mut noise);

    SimRead {
        pair,
        mate_order: 0,
        flags: Flags::UNMAPPED,
        start0: None,
        end0: 0,
        cigar: Vec::new(),
        sequence: bases,
        qualities,
        mate_start0: None,
        template_length: 0,
        mapq: 0,
        edit_distance: None,
    }
}

/// Adds substitution errors (about 0.3% overall, rising from 0.1% to 0.7% along the read) and
/// returns Phred qualities that degrade from ~37 to ~25 along the read; erroneous bases get low
/// qualities.
fn add_sequencing_errors(bases: &mut [u8], reverse: bool, noise: &mut SplitMix64) -> Vec<u8> {
    let len = bases.len();
    let mut qualities = vec![0; len];
    let last_cycle = len.saturating_sub(1).max(1) as f64;

    for i in 0..len {
        let cycle = if reverse { len - 1 - i } else { i };
        let t = cycle as f64 / last_cycle;
        let x = noise.next_u64();

        let error_probability = 0.001 + 0.006 * t * t;
        let u = (x >> 11) as f64 / (1u64 << 53) as f64;

        if u < error_probability {
            let index = b"ACGT".iter().position(|&b| b == bases[i]).unwrap_or(0);
            let shift = 1 + (x & 0x3) as usize % 3;
            bases[i] = b"ACGT"[(index + shift) % 4];
            qualities[i] = 6 + ((x >> 2) & 0xf) as u8;
        } else {
            let mean = 37.0 - 12.0 * t * t;
            let jitter = ((x >> 2) & 0x7) as f64 - 3.5;
            qualities[i] = (mean + jitter).round().clamp(2.0, 41.0) as u8;
        }
    }

    qualities
}

struct Alignment {
    start0: u32,
    end0: u32,
    cigar: Vec<Op>,
    nm: u32,
    md: String,
}

/// Aligns read `bases` whose haplotype origin is `elements` to `reference`; inserted bases at
/// either end become soft clips.
fn align(elements: &[(u8, u32)], bases: &[u8], reference: &[u8]) -> Option<Alignment> {
    let first = elements.iter().position(|&(_, r)| r != INSERTED)?;
    let last = elements.iter().rposition(|&(_, r)| r != INSERTED)?;

    let mut cigar: Vec<Op> = Vec::with_capacity(8);
    let mut push = |kind: Kind, len: usize| match cigar.last_mut() {
        Some(op) if op.kind() == kind => *op = Op::new(kind, op.len() + len),
        _ => cigar.push(Op::new(kind, len)),
    };

    if first > 0 {
        push(Kind::SoftClip, first);
    }

    let mut nm = 0;
    let mut md = String::new();
    let mut run = 0;
    let mut previous: Option<u32> = None;

    for i in first..=last {
        let r = elements[i].1;

        if r == INSERTED {
            push(Kind::Insertion, 1);
            nm += 1;
            continue;
        }

        if let Some(p) = previous
            && r > p + 1
        {
            push(Kind::Deletion, (r - p - 1) as usize);
            nm += r - p - 1;
            md.push_str(&run.to_string());
            run = 0;
            md.push('^');
            md.extend(
                reference[p as usize + 1..r as usize]
                    .iter()
                    .map(|&b| char::from(b)),
            );
        }

        push(Kind::Match, 1);
        let reference_base = reference[r as usize];

        if bases[i] == reference_base {
            run += 1;
        } else {
            nm += 1;
            md.push_str(&run.to_string());
            run = 0;
            md.push(char::from(reference_base));
        }

        previous = Some(r);
    }

    md.push_str(&run.to_string());

    if last + 1 < elements.len() {
        push(Kind::SoftClip, elements.len() - 1 - last);
    }

    Some(Alignment {
        start0: elements[first].1,
        end0: elements[last].1,
        cigar,
        nm,
        md,
    })
}

/// The SAM-style read name of a fragment.
pub(super) fn read_name(sample_index: usize, contig: Option<usize>, pair: u32) -> String {
    match contig {
        Some(contig) => format!("gemj:{sample_index}:{contig}:{pair}"),
        None => format!("gemj:{sample_index}:u:{pair}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::genomes::rng::{Stream, stream};

    fn contig() -> Contig {
        let mut rng = stream(3, Stream::Reference);
        let mut contigs =
            crate::genomes::reference::generate(&[(String::from("chr1"), 40_000)], &mut rng);
        contigs.remove(0)
    }

    #[test]
    fn test_align_with_indels() {
        let reference = b"ACGTACGTAC";
        // Haplotype: A C [ins TT] G T (del A C) G T A C
        let elements = [
            (b'A', 0),
            (b'C', 1),
            (b'T', INSERTED),
            (b'T', INSERTED),
            (b'G', 2),
            (b'T', 3),
            (b'G', 6),
            (b'T', 7),
            (b'C', 8),
        ];
        let bases: Vec<u8> = elements.iter().map(|&(b, _)| b).collect();
        let alignment = align(&elements, &bases, reference).unwrap();

        let cigar: Vec<(Kind, usize)> = alignment
            .cigar
            .iter()
            .map(|op| (op.kind(), op.len()))
            .collect();
        assert_eq!(
            cigar,
            [
                (Kind::Match, 2),
                (Kind::Insertion, 2),
                (Kind::Match, 2),
                (Kind::Deletion, 2),
                (Kind::Match, 3)
            ]
        );
        assert_eq!(alignment.start0, 0);
        assert_eq!(alignment.end0, 8);
        // Two inserted, two deleted, one mismatch (C over A at 8).
        assert_eq!(alignment.nm, 5);
        assert_eq!(alignment.md, "4^AC2A0");
    }

    #[test]
    fn test_align_soft_clips_inserted_ends() {
        let reference = b"ACGT";
        let elements = [(b'G', INSERTED), (b'A', 0), (b'C', 1), (b'T', INSERTED)];
        let bases: Vec<u8> = elements.iter().map(|&(b, _)| b).collect();
        let alignment = align(&elements, &bases, reference).unwrap();
        let cigar: Vec<(Kind, usize)> = alignment
            .cigar
            .iter()
            .map(|op| (op.kind(), op.len()))
            .collect();
        assert_eq!(
            cigar,
            [(Kind::SoftClip, 1), (Kind::Match, 2), (Kind::SoftClip, 1)]
        );
        assert_eq!(alignment.nm, 0);
        assert_eq!(alignment.md, "2");
    }

    #[test]
    fn test_walk_applies_variants() {
        let contig = contig();
        let start = contig.body_start + 100;
        let inserted = b"GGG";
        let variants = [
            HapVariant {
                pos0: start + 2,
                edit: Edit::Insertion(inserted),
            },
            HapVariant {
                pos0: start + 5,
                edit: Edit::Deletion(2),
            },
        ];

        let mut out = Vec::new();
        walk(&contig, &variants, start, 12, &mut out);

        let positions: Vec<u32> = out.iter().map(|&(_, r)| r).collect();
        let s = start;
        assert_eq!(
            positions,
            [
                s,
                s + 1,
                s + 2,
                INSERTED,
                INSERTED,
                INSERTED,
                s + 3,
                s + 4,
                s + 5,
                s + 8,
                s + 9,
                s + 10
            ]
        );
        assert_eq!(&out[3..6], &[(b'G', INSERTED); 3]);

        // Starting inside the deletion skips the deleted bases.
        walk(&contig, &variants, start + 6, 2, &mut out);
        assert_eq!(out[0].1, start + 8);
    }

    #[test]
    fn test_simulate_contig() {
        let contig = contig();
        let haplotypes = [Vec::new(), Vec::new()];
        let mut rng = stream(3, Stream::Sample(0));
        let reads = simulate_contig(&contig, &haplotypes, 5.0, &mut rng);

        let pairs = (5.0 * f64::from(contig.len() - contig.body_start) / 300.0).round() as usize;
        assert_eq!(reads.len(), 2 * pairs);

        let mut errors = 0;
        let mut bases = 0;

        for pair in reads.windows(2) {
            assert!(pair[0].sort_key() <= pair[1].sort_key());
        }

        for read in &reads {
            assert_eq!(read.sequence.len(), READ_LENGTH);
            assert_eq!(read.qualities.len(), READ_LENGTH);

            if read.is_mapped() {
                assert_eq!(read.mapq, MAPQ);
                let (nm, _) = read.edit_distance.as_ref().unwrap();
                errors += nm;
                bases += READ_LENGTH;

                if read.flags.is_properly_segmented() {
                    assert!((200..=600).contains(&read.template_length.unsigned_abs()));
                    assert_ne!(
                        read.flags.is_reverse_complemented(),
                        read.flags.is_mate_reverse_complemented()
                    );
                } else {
                    assert!(read.flags.is_mate_unmapped());
                }
            } else {
                assert!(read.flags.is_segmented());
                assert!(read.start0.is_some());
                assert_eq!(read.start0, read.mate_start0);
            }
        }

        // No variants: every difference is a sequencing error (~0.3%).
        let rate = f64::from(errors) / bases as f64;
        assert!((0.001..0.006).contains(&rate), "{rate}");

        // Some qualities are high at the start of forward reads, lower at the end.
        let forward = reads
            .iter()
            .find(|r| r.is_mapped() && !r.flags.is_reverse_complemented())
            .unwrap();
        let head: u32 = forward.qualities[..10].iter().map(|&q| u32::from(q)).sum();
        let tail: u32 = forward.qualities[140..].iter().map(|&q| u32::from(q)).sum();
        assert!(head > tail);
    }
}
