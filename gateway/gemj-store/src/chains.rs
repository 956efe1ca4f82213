//! Verification of the hash chains: the global audit chain and each participant's consent
//! chain, streamed in sequence order through [`gemj_model::chain::Verifier`], plus a check of
//! each chain's stored head (which catches rows removed from the end).

use std::collections::HashMap;

use futures_util::TryStreamExt;
use gemj_model::chain::{ChainRow, GENESIS, Verifier};

use crate::{Store, StoreError, with_pool};

/// The outcome of [`Store::verify_chains`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    /// Audit rows read from the database.
    pub audit_rows: u64,
    /// Audit rows in sealed segments (their contents are verified from the archive).
    pub archived_rows: u64,
    /// Consent event rows read.
    pub consent_rows: u64,
    /// The first broken link found (the audit chain first, then the consent chains), or
    /// `None` when every chain is intact.
    pub broken: Option<BrokenChain>,
}

impl ChainReport {
    /// Whether every chain is intact.
    #[must_use]
    pub fn is_intact(&self) -> bool {
        self.broken.is_none()
    }
}

/// Where a chain breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenChain {
    /// `audit`, or `consent:<participant id>`.
    pub chain: String,
    /// The sequence number of the first broken row (or of the stored head when rows are
    /// missing from the end).
    pub seq: i64,
    /// What is wrong.
    pub reason: String,
}

/// Verifies one chain row by row and remembers its first break and its last row.
struct ChainCheck {
    name: String,
    verifier: Verifier,
    broken: Option<BrokenChain>,
    last_seq: i64,
    last_hash: String,
}

impl ChainCheck {
    fn new(name: String) -> Self {
        Self {
            name,
            verifier: Verifier::default(),
            broken: None,
            last_seq: 0,
            last_hash: GENESIS.to_owned(),
        }
    }

    fn push(&mut self, seq: i64, body: String, prev_hash: String, hash: String) {
        if self.broken.is_some() {
            return;
        }
        let row = ChainRow {
            seq,
            body: body.into_bytes(),
            prev_hash,
            hash,
        };
        match self.verifier.push(&row) {
            Ok(()) => {
                self.last_seq = row.seq;
                self.last_hash = row.hash;
            }
            Err(b) => {
                self.broken = Some(BrokenChain {
                    chain: self.name.clone(),
                    seq: b.seq(),
                    reason: b.to_string(),
                });
            }
        }
    }

    /// Ends the chain: the stored head must be its last row.
    fn finish(mut self, head: Option<(i64, &str)>) -> Option<BrokenChain> {
        if self.broken.is_none()
            && let Some((head_seq, head_hash)) = head
            && (head_seq != self.last_seq || head_hash != self.last_hash)
        {
            self.broken = Some(BrokenChain {
                chain: self.name,
                seq: head_seq,
                reason: format!(
                    "the stored chain head (row {head_seq}) is not the last row ({}): rows were removed",
                    self.last_seq
                ),
            });
        }
        self.broken
    }
}

impl Store {
    /// Verifies the audit chain and every participant's consent chain, streaming the rows in
    /// sequence order, and reports the first broken link. Rows appended while it runs are left
    /// for the next run.
    ///
    /// # Errors
    /// [`StoreError::Database`] when the rows cannot be read.
    pub async fn verify_chains(&self) -> Result<ChainReport, StoreError> {
        let mut report = ChainReport {
            audit_rows: 0,
            archived_rows: 0,
            consent_rows: 0,
            broken: None,
        };
        // The audit chain, up to the head read first: the sealed segments (their metadata
        // here; their contents are verified by whoever reads the archive), then the rows.
        let (head_seq, head_hash): (i64, String) = with_pool!(self, |p| {
            sqlx::query_as("SELECT seq, hash FROM audit_head WHERE id = 1")
                .fetch_one(p)
                .await?
        });
        let segments = self.audit_segments().await?;
        let mut check = ChainCheck::new("audit".to_owned());
        for s in &segments {
            report.archived_rows += s.rows;
            if check.broken.is_none()
                && (s.first_seq != check.last_seq + 1 || s.prev_hash != check.last_hash)
            {
                check.broken = Some(BrokenChain {
                    chain: "audit".to_owned(),
                    seq: s.first_seq,
                    reason: format!(
                        "sealed segment {}..={} does not continue the chain after row {}",
                        s.first_seq, s.last_seq, check.last_seq
                    ),
                });
            }
            check.last_seq = s.last_seq;
            check.last_hash.clone_from(&s.head_hash);
        }
        check.verifier = Verifier::after(&check.last_hash);
        let mut live = 0_u64;
        self.for_each_audit_row(head_seq, |seq, body, prev_hash, hash| {
            live += 1;
            if check.broken.is_none() && live == 1 && seq != check.last_seq + 1 {
                check.broken = Some(BrokenChain {
                    chain: "audit".to_owned(),
                    seq,
                    reason: format!("rows {}..{seq} are missing", check.last_seq + 1),
                });
            }
            check.push(seq, body, prev_hash, hash);
        })
        .await?;
        report.audit_rows = live;
        report.broken = check.finish(Some((head_seq, &head_hash)));
        with_pool!(self, |p| {
            // The consent chains, up to the last seq read first, participant by participant.
            let last_seq: i64 =
                sqlx::query_scalar("SELECT last_seq FROM consent_epoch WHERE id = 1")
                    .fetch_one(p)
                    .await?;
            let heads: Vec<(String, i64, String)> =
                sqlx::query_as("SELECT participant, head_seq, head_hash FROM consent_states")
                    .fetch_all(p)
                    .await?;
            let mut heads: HashMap<String, (i64, String)> = heads
                .into_iter()
                .filter(|(_, seq, _)| *seq <= last_seq)
                .map(|(participant, seq, hash)| (participant, (seq, hash)))
                .collect();
            let mut consent_broken: Option<BrokenChain> = None;
            let mut current: Option<(String, ChainCheck)> = None;
            let mut rows = sqlx::query_as::<_, (i64, String, String, String, String)>(
                "SELECT seq, participant, body, prev_hash, hash FROM consent_events \
                 WHERE seq <= $1 ORDER BY participant, seq",
            )
            .bind(last_seq)
            .fetch(p);
            while let Some((seq, participant, body, prev_hash, hash)) = rows.try_next().await? {
                report.consent_rows += 1;
                if current.as_ref().is_none_or(|(id, _)| *id != participant) {
                    if let Some((id, check)) = current.take() {
                        let head = heads.remove(&id);
                        let b = check.finish(head.as_ref().map(|(s, h)| (*s, h.as_str())));
                        consent_broken = consent_broken.or(b);
                    }
                    let check = ChainCheck::new(format!("consent:{participant}"));
                    current = Some((participant, check));
                }
                if let Some((_, check)) = current.as_mut() {
                    check.push(seq, body, prev_hash, hash);
                }
            }
            drop(rows);
            if let Some((id, check)) = current.take() {
                let head = heads.remove(&id);
                let b = check.finish(head.as_ref().map(|(s, h)| (*s, h.as_str())));
                consent_broken = consent_broken.or(b);
            }
            // A head whose participant has no rows left: every row was removed.
            let mut orphans: Vec<(String, (i64, String))> = heads.into_iter().collect();
            orphans.sort();
            if let Some((id, (seq, hash))) = orphans.into_iter().next() {
                let b = ChainCheck::new(format!("consent:{id}")).finish(Some((seq, &hash)));
                consent_broken = consent_broken.or(b);
            }
            report.broken = report.broken.take().or(consent_broken);
        });
        if let Some(b) = &report.broken {
            tracing::error!(message = "Hash chain broken.", chain = %b.chain, seq = b.seq);
        }
        Ok(report)
    }
}
