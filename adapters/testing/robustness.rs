//! The pieces the adapters' robustness tests (`tests/arbitrary_bytes.rs`) share: seeded random
//! inputs, bit flips of a real file, token noise, and the output bound. Each test includes this
//! file by path (`#[path = "../../testing/robustness.rs"] mod robustness;`).

#![allow(dead_code)] // Reason: each test binary uses a different subset of these helpers.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A generator seeded with `seed`: every run tries the same inputs.
pub(crate) fn seeded(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// Asserts that an output (as debug text) is at most a fixed multiple of the input, plus room
/// for the capped diagnostics.
pub(crate) fn check_bound(input: &[u8], output: &str) {
    let limit = 64 * input.len() + 400_000;
    assert!(
        output.len() <= limit,
        "{} bytes of output for {} bytes of input",
        output.len(),
        input.len()
    );
}

/// Runs `exercise` on `count` random byte strings of fewer than `max_len` bytes each.
pub(crate) fn random_inputs(
    seed: u64,
    count: usize,
    max_len: usize,
    mut exercise: impl FnMut(&[u8]),
) {
    let mut rng = seeded(seed);
    for _ in 0..count {
        exercise(&random_bytes(&mut rng, max_len));
    }
}

/// Runs `exercise` on `count` inputs, each a `start` (picked by the caller, a real header or
/// nothing) followed by fewer than `max` tokens picked at random from `tokens`.
pub(crate) fn token_noise(
    seed: u64,
    count: usize,
    mut start: impl FnMut(&mut ChaCha8Rng) -> Vec<u8>,
    tokens: &[&[u8]],
    max: usize,
    mut exercise: impl FnMut(&[u8]),
) {
    let mut rng = seeded(seed);
    for _ in 0..count {
        let mut bytes = start(&mut rng);
        push_tokens(&mut rng, &mut bytes, tokens, max);
        exercise(&bytes);
    }
}

/// Runs `exercise` on `flips` copies of `original` (not empty) with a few bits flipped, then
/// on every truncation of it.
pub(crate) fn flips_and_truncations(
    rng: &mut ChaCha8Rng,
    original: &[u8],
    flips: usize,
    mut exercise: impl FnMut(&[u8]),
) {
    for _ in 0..flips {
        exercise(&flip_bits(rng, original));
    }
    for end in 0..original.len() {
        exercise(&original[..end]);
    }
}

/// Random bytes, fewer than `max_len` of them.
pub(crate) fn random_bytes(rng: &mut ChaCha8Rng, max_len: usize) -> Vec<u8> {
    let len = rng.random_range(0..max_len);
    let mut bytes = vec![0u8; len];
    rng.fill(&mut bytes[..]);
    bytes
}

/// `original` (not empty) with one to seven random bits flipped.
pub(crate) fn flip_bits(rng: &mut ChaCha8Rng, original: &[u8]) -> Vec<u8> {
    let mut bytes = original.to_vec();
    for _ in 0..rng.random_range(1..8) {
        flip_bit(rng, &mut bytes);
    }
    bytes
}

/// Flips one random bit of `bytes` (not empty).
pub(crate) fn flip_bit(rng: &mut ChaCha8Rng, bytes: &mut [u8]) {
    let i = rng.random_range(0..bytes.len());
    bytes[i] ^= 1 << rng.random_range(0..8);
}

/// Appends fewer than `max` tokens picked at random from `tokens` to `bytes`.
pub(crate) fn push_tokens(rng: &mut ChaCha8Rng, bytes: &mut Vec<u8>, tokens: &[&[u8]], max: usize) {
    for _ in 0..rng.random_range(0..max) {
        bytes.extend_from_slice(tokens[rng.random_range(0..tokens.len())]);
    }
}

/// `original` with 500 of its lines after the first (the header) appended again, picked at
/// random: the same rows many times.
pub(crate) fn duplicate_rows(rng: &mut ChaCha8Rng, original: &[u8]) -> Vec<u8> {
    let lines: Vec<&[u8]> = original.split_inclusive(|&b| b == b'\n').collect();
    let mut duplicated = original.to_vec();
    for _ in 0..500 {
        duplicated.extend_from_slice(lines[rng.random_range(1..lines.len())]);
    }
    duplicated
}
