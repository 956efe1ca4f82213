//! Seeded random streams: one ChaCha stream per purpose, so that every output file depends only
//! on the seed and on what it describes (never on thread scheduling).

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// What a random stream is used for.
#[derive(Clone, Copy, Debug)]
pub(super) enum Stream {
    /// The reference sequence.
    Reference,
    /// Gene placement.
    Genes,
    /// Segregating sites and genotypes.
    Sites,
    /// Everything specific to one sample (phasing, reads), by sample index.
    Sample(usize),
}

/// Returns the random stream `stream` for `seed`.
pub(super) fn stream(seed: u64, stream: Stream) -> ChaCha8Rng {
    let id = match stream {
        Stream::Reference => 1,
        Stream::Genes => 2,
        Stream::Sites => 3,
        Stream::Sample(i) => (1 << 32) + i as u64,
    };

    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(id);
    rng
}

/// SplitMix64: a tiny generator for the per-base noise of one read, seeded from the sample's
/// ChaCha stream. It keeps the hot loop cheap in unoptimised builds.
#[derive(Clone, Debug)]
pub(super) struct SplitMix64(u64);

impl SplitMix64 {
    /// Creates a generator from a seed.
    pub(super) fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// Returns the next 64 random bits.
    pub(super) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}
