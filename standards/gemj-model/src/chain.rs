//! Hash chains for append-only rows (audit records, consent events).
//!
//! Each row stores the hash of the row before it and its own hash,
//! `sha256(prev_hash || 0x0a || seq || 0x0a || body)` in lower-case hex. Altering, removing or
//! reordering any row breaks every later link, and [`verify`] names the first broken one.

use aws_lc_rs::digest::{Context, SHA256};

/// The `prev_hash` of the first row of a chain.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The hash of a row with sequence number `seq` and `body`, following `prev_hash`.
///
/// # Examples
/// ```
/// use gemj_model::chain::{link, GENESIS};
/// let h1 = link(GENESIS, 1, b"{\"a\":1}");
/// assert_eq!(h1.len(), 64);
/// assert_ne!(h1, link(GENESIS, 1, b"{\"a\":2}"));
/// ```
#[must_use]
pub fn link(prev_hash: &str, seq: i64, body: &[u8]) -> String {
    let mut h = Context::new(&SHA256);
    h.update(prev_hash.as_bytes());
    h.update(b"\n");
    h.update(seq.to_string().as_bytes());
    h.update(b"\n");
    h.update(body);
    hex::encode(h.finish())
}

/// One stored row of a chain, as read back for verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainRow {
    /// Sequence number in the chain (strictly increasing).
    pub seq: i64,
    /// The body bytes exactly as hashed.
    pub body: Vec<u8>,
    /// The stored hash of the previous row.
    pub prev_hash: String,
    /// The stored hash of this row.
    pub hash: String,
}

/// Where a chain breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BrokenLink {
    /// The row's stored `prev_hash` is not the previous row's hash (a row was removed or
    /// reordered, or this field was altered).
    #[error("row {seq}: prev_hash does not match the hash of the row before it")]
    PrevMismatch {
        /// The row's sequence number.
        seq: i64,
    },
    /// The row's stored hash is not the hash of its contents (the row was altered).
    #[error("row {seq}: its contents do not match its hash (the row was altered)")]
    HashMismatch {
        /// The row's sequence number.
        seq: i64,
    },
}

impl BrokenLink {
    /// The sequence number of the first broken row.
    #[must_use]
    pub fn seq(&self) -> i64 {
        match self {
            Self::PrevMismatch { seq } | Self::HashMismatch { seq } => *seq,
        }
    }
}

/// Incremental verifier: feed rows in sequence order.
#[derive(Debug)]
pub struct Verifier {
    expected_prev: String,
    rows: u64,
}

impl Default for Verifier {
    fn default() -> Self {
        Self {
            expected_prev: GENESIS.to_owned(),
            rows: 0,
        }
    }
}

impl Verifier {
    /// Starts a verifier for a chain that continues after a row with hash `prev_hash`.
    #[must_use]
    pub fn after(prev_hash: &str) -> Self {
        Self {
            expected_prev: prev_hash.to_owned(),
            rows: 0,
        }
    }

    /// Checks the next row.
    ///
    /// # Errors
    /// The first broken link.
    pub fn push(&mut self, row: &ChainRow) -> Result<(), BrokenLink> {
        if row.prev_hash != self.expected_prev {
            return Err(BrokenLink::PrevMismatch { seq: row.seq });
        }
        if link(&row.prev_hash, row.seq, &row.body) != row.hash {
            return Err(BrokenLink::HashMismatch { seq: row.seq });
        }
        self.expected_prev.clone_from(&row.hash);
        self.rows += 1;
        Ok(())
    }

    /// Rows verified so far.
    #[must_use]
    pub fn rows(&self) -> u64 {
        self.rows
    }
}

/// Verifies a whole chain from its first row.
///
/// # Errors
/// The first broken link.
pub fn verify<'a>(rows: impl IntoIterator<Item = &'a ChainRow>) -> Result<u64, BrokenLink> {
    let mut v = Verifier::default();
    for r in rows {
        v.push(r)?;
    }
    Ok(v.rows())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The link is the documented formula, as a second SHA-256 implementation computes it:
    /// chains written before the hash moved to aws-lc-rs still verify.
    #[test]
    fn link_is_sha256_of_prev_seq_and_body() {
        use sha2::Digest as _;
        let long = "x".repeat(10_000);
        for (prev, seq, body) in [
            (GENESIS, 1, ""),
            ("ab".repeat(32).as_str(), 42, "{\"a\":1}"),
            (GENESIS, i64::MAX, long.as_str()),
        ] {
            let expected = sha2::Sha256::digest(format!("{prev}\n{seq}\n{body}"));
            assert_eq!(link(prev, seq, body.as_bytes()), hex::encode(expected));
        }
        // And a fixed vector (Python's hashlib.sha256).
        assert_eq!(
            link(GENESIS, 1, b"{}"),
            "857ee6299d26533d1f5f46c02209ae8bc34dc4898a8a9545493946b4ea59d6f3"
        );
    }

    fn chain(bodies: &[&str]) -> Vec<ChainRow> {
        let mut prev = GENESIS.to_owned();
        let mut out = Vec::new();
        for (i, b) in bodies.iter().enumerate() {
            let seq = i64::try_from(i).unwrap_or(0) + 1;
            let hash = link(&prev, seq, b.as_bytes());
            out.push(ChainRow {
                seq,
                body: b.as_bytes().to_vec(),
                prev_hash: prev.clone(),
                hash: hash.clone(),
            });
            prev = hash;
        }
        out
    }

    #[test]
    fn detects_first_altered_removed_or_reordered_row() {
        let rows = chain(&["a", "b", "c", "d"]);
        assert_eq!(verify(&rows), Ok(4));

        let mut altered = rows.clone();
        altered[1].body = b"B".to_vec();
        assert_eq!(verify(&altered), Err(BrokenLink::HashMismatch { seq: 2 }));

        let mut removed = rows.clone();
        removed.remove(2);
        assert_eq!(verify(&removed), Err(BrokenLink::PrevMismatch { seq: 4 }));

        let mut swapped = rows.clone();
        swapped.swap(0, 1);
        assert_eq!(verify(&swapped), Err(BrokenLink::PrevMismatch { seq: 2 }));

        // Re-hashing an altered row is still caught by the next row's prev_hash.
        let mut rehashed = rows;
        rehashed[1].body = b"B".to_vec();
        rehashed[1].hash = link(&rehashed[1].prev_hash, 2, b"B");
        assert_eq!(verify(&rehashed), Err(BrokenLink::PrevMismatch { seq: 3 }));
    }
}
