//! The audit archive: old months of the audit chain sealed into segments in object storage
//! (issue 21), still verified by `audit verify` and still answering the participant access
//! report.
//!
//! [`AuditArchive::seal_before`] takes the oldest rows still in the database one calendar month
//! (UTC) at a time, up to a cut-off: it verifies their chain from the previous segment's head,
//! writes them as a gzip'd JSON-lines segment (a header line, then one line per row with its
//! `seq`, `prev_hash`, `hash` and the event JSON exactly as hashed: anyone can verify it with
//! a SHA-256 tool), stores it under `audit/segment-<first>-<last>.jsonl.gz`, and only then
//! records the segment (its SHA-256, size and chain heads) and removes its rows from the
//! database in one transaction ([`Store::seal_audit_segment`]). A crash between the two leaves
//! an unused object that the next run overwrites. The participant index (`audit_access`) stays
//! in the database, so a report finds archived accesses and reads them from their segment.

use std::io::{BufRead, Write};
use std::sync::Arc;

use gemj_model::chain::{ChainRow, GENESIS, Verifier};
use gemj_model::{AuditEvent, AuditRecord};
use gemj_objects::{Digests, ObjectKey, ObjectStorage};
use gemj_store::{AuditSegment, Store, StoreError};
use tokio::io::AsyncReadExt;

/// The first line's `format`.
const FORMAT: &str = "gemj-audit-segment/1";

/// Rows read from the database at a time while sealing.
const PAGE: u32 = 10_000;

/// What went wrong with the archive.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ArchiveError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The object storage failed.
    #[error(transparent)]
    Objects(#[from] gemj_objects::ObjectError),
    /// A local temporary file failed.
    #[error("temporary segment file: {0}")]
    Io(#[from] std::io::Error),
    /// A segment, or the rows to seal, do not verify.
    #[error("audit segment {first_seq}: {reason}")]
    Broken {
        /// The segment's (or the sealing's) first row.
        first_seq: i64,
        /// What is wrong.
        reason: String,
    },
}

impl From<ArchiveError> for crate::CoreError {
    /// A segment that does not verify is a stored object that cannot be read (logged: it
    /// needs the operator).
    fn from(e: ArchiveError) -> Self {
        match e {
            ArchiveError::Store(e) => Self::Store(e),
            ArchiveError::Objects(e) => Self::Objects(e),
            ArchiveError::Io(e) => Self::Objects(e.into()),
            ArchiveError::Broken { first_seq, reason } => {
                tracing::error!(message = "Audit segment does not verify.", first_seq, %reason);
                Self::Objects(std::io::Error::new(std::io::ErrorKind::InvalidData, reason).into())
            }
        }
    }
}

/// The first line of a segment.
#[derive(Debug, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
struct Header {
    format: String,
    first_seq: i64,
    last_seq: i64,
    rows: u64,
    prev_hash: String,
    head_hash: String,
}

/// One row of a segment.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Line {
    seq: i64,
    prev_hash: String,
    hash: String,
    /// The event's JSON exactly as hashed.
    body: String,
}

/// What [`AuditArchive::verify`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveReport {
    /// Segments read and verified.
    pub segments: u64,
    /// Rows in them.
    pub rows: u64,
}

/// Where sealed audit segments are stored.
#[derive(Debug, Clone)]
pub struct AuditArchive {
    storage: Arc<dyn ObjectStorage>,
}

impl AuditArchive {
    /// An archive in `storage`.
    #[must_use]
    pub fn new(storage: Arc<dyn ObjectStorage>) -> Self {
        Self { storage }
    }

    /// Where the segments are stored.
    #[must_use]
    pub fn storage(&self) -> &Arc<dyn ObjectStorage> {
        &self.storage
    }

    /// The storage's location, for the operator.
    #[must_use]
    pub fn location(&self) -> String {
        self.storage.location()
    }

    /// Seals the audit rows whose time is before `before`, one segment per calendar month
    /// (UTC), oldest first, and returns the new segments. Rows already sealed are left alone,
    /// so running it again seals only what is new.
    ///
    /// # Errors
    /// [`ArchiveError::Broken`] when the rows to seal do not verify (nothing is sealed from
    /// there on); store and storage errors.
    pub async fn seal_before(
        &self,
        store: &Store,
        before: time::OffsetDateTime,
    ) -> Result<Vec<AuditSegment>, ArchiveError> {
        let mut sealed = Vec::new();
        loop {
            let segments = store.audit_segments().await?;
            let (after, prev_hash) = segments.last().map_or((0, GENESIS.to_owned()), |s| {
                (s.last_seq, s.head_hash.clone())
            });
            let Some(first) = store.audit_records(after, 1).await?.pop() else {
                break;
            };
            if first.event.at >= before {
                break;
            }
            let cutoff = next_month(first.event.at).min(before);
            let Some(last_seq) = store.audit_last_seq_before(cutoff).await? else {
                break;
            };
            let segment = self
                .write_segment(store, &first, last_seq, &prev_hash)
                .await?;
            store.seal_audit_segment(&segment).await?;
            tracing::info!(
                message = "Audit segment sealed.",
                first_seq = segment.first_seq,
                last_seq = segment.last_seq,
                rows = segment.rows,
                sha256 = %segment.sha256
            );
            sealed.push(segment);
        }
        Ok(sealed)
    }

    /// Writes rows `first.seq..=last_seq` as a segment, verifying their chain after
    /// `prev_hash`, and stores it.
    async fn write_segment(
        &self,
        store: &Store,
        first: &AuditRecord,
        last_seq: i64,
        prev_hash: &str,
    ) -> Result<AuditSegment, ArchiveError> {
        let first_seq = first.seq;
        let broken = |reason: String| ArchiveError::Broken { first_seq, reason };
        let rows = u64::try_from(last_seq - first_seq + 1).map_err(|e| broken(e.to_string()))?;
        let header = Header {
            format: FORMAT.to_owned(),
            first_seq,
            last_seq,
            rows,
            prev_hash: prev_hash.to_owned(),
            head_hash: String::new(),
        };
        // Two passes over the rows: the first verifies their chain and finds the head that
        // the header line names; the second writes them.
        let mut verifier = Verifier::after(prev_hash);
        let mut head = prev_hash.to_owned();
        let mut last_at = first.event.at;
        let mut after = first_seq - 1;
        let mut expected = first_seq;
        while after < last_seq {
            let page = store.audit_rows(after, PAGE).await?;
            if page.is_empty() {
                break;
            }
            for row in page.iter().take_while(|r| r.record.seq <= last_seq) {
                if row.record.seq != expected {
                    return Err(broken(format!("row {expected} is missing")));
                }
                expected += 1;
                verifier
                    .push(&chain_row(row))
                    .map_err(|e| broken(e.to_string()))?;
                head.clone_from(&row.record.hash);
                last_at = row.record.event.at;
            }
            after = page.last().map_or(last_seq, |r| r.record.seq);
        }
        if expected != last_seq + 1 {
            return Err(broken(format!("row {expected} is missing")));
        }
        let header = Header {
            head_hash: head.clone(),
            ..header
        };
        let file = tempfile::NamedTempFile::new()?;
        {
            let mut gz = flate2::write::GzEncoder::new(
                std::io::BufWriter::new(file.as_file()),
                flate2::Compression::default(),
            );
            serde_json::to_writer(&mut gz, &header).map_err(std::io::Error::other)?;
            gz.write_all(b"\n")?;
            let mut after = first_seq - 1;
            while after < last_seq {
                let page = store.audit_rows(after, PAGE).await?;
                let Some(end) = page.last().map(|r| r.record.seq) else {
                    break;
                };
                for row in page.into_iter().take_while(|r| r.record.seq <= last_seq) {
                    let line = Line {
                        seq: row.record.seq,
                        prev_hash: row.record.prev_hash,
                        hash: row.record.hash,
                        body: row.body,
                    };
                    serde_json::to_writer(&mut gz, &line).map_err(std::io::Error::other)?;
                    gz.write_all(b"\n")?;
                }
                after = end;
            }
            gz.finish()?.flush()?;
        }
        let key = segment_key(first_seq, last_seq)?;
        let info = self.storage.put_file(&key, file.path()).await?;
        Ok(AuditSegment {
            first_seq,
            last_seq,
            rows,
            first_at: rfc3339(first.event.at),
            last_at: rfc3339(last_at),
            prev_hash: prev_hash.to_owned(),
            head_hash: head,
            location: key.as_str().to_owned(),
            sha256: info.sha256,
            bytes: info.size,
            sealed_at: String::new(),
        })
    }

    /// Reads a sealed segment back, checking its size, SHA-256, header and chain.
    ///
    /// # Errors
    /// [`ArchiveError::Broken`] when any of them is not what was sealed; storage errors (a
    /// missing object among them).
    pub async fn read(&self, segment: &AuditSegment) -> Result<Vec<AuditRecord>, ArchiveError> {
        let broken = |reason: String| ArchiveError::Broken {
            first_seq: segment.first_seq,
            reason,
        };
        let key = ObjectKey::parse(&segment.location)?;
        let mut reader = self.storage.open_range(&key, 0, u64::MAX).await?;
        let mut bytes = Vec::new();
        reader.read_to_end(&mut bytes).await?;
        let mut digests = Digests::default();
        digests.update(&bytes);
        let (size, sha256, _) = digests.finish();
        if size != segment.bytes || sha256 != segment.sha256 {
            return Err(broken(format!(
                "the stored object ({size} bytes, SHA-256 {sha256}) is not the one sealed"
            )));
        }
        let mut lines =
            std::io::BufReader::new(flate2::read::GzDecoder::new(bytes.as_slice())).lines();
        let header: Header = match lines.next() {
            Some(line) => serde_json::from_str(&line?).map_err(|e| broken(e.to_string()))?,
            None => return Err(broken("empty segment".to_owned())),
        };
        let want = Header {
            format: FORMAT.to_owned(),
            first_seq: segment.first_seq,
            last_seq: segment.last_seq,
            rows: segment.rows,
            prev_hash: segment.prev_hash.clone(),
            head_hash: segment.head_hash.clone(),
        };
        if header != want {
            return Err(broken("its header is not the sealed segment's".to_owned()));
        }
        let mut verifier = Verifier::after(&segment.prev_hash);
        let mut records = Vec::new();
        let mut expected = segment.first_seq;
        for line in lines {
            let line: Line = serde_json::from_str(&line?).map_err(|e| broken(e.to_string()))?;
            if line.seq != expected {
                return Err(broken(format!("row {expected} is missing")));
            }
            expected += 1;
            let row = ChainRow {
                seq: line.seq,
                body: line.body.into_bytes(),
                prev_hash: line.prev_hash,
                hash: line.hash,
            };
            verifier.push(&row).map_err(|e| broken(e.to_string()))?;
            let event: AuditEvent =
                serde_json::from_slice(&row.body).map_err(|e| broken(e.to_string()))?;
            records.push(AuditRecord {
                seq: row.seq,
                event,
                prev_hash: row.prev_hash,
                hash: row.hash,
            });
        }
        if expected != segment.last_seq + 1
            || records.last().map(|r| r.hash.as_str()) != Some(segment.head_hash.as_str())
        {
            return Err(broken("it ends before its last row".to_owned()));
        }
        Ok(records)
    }

    /// Reads and verifies every sealed segment (the database's side of their chain is
    /// [`Store::verify_chains`]).
    ///
    /// # Errors
    /// The first segment that does not verify.
    pub async fn verify(&self, store: &Store) -> Result<ArchiveReport, ArchiveError> {
        let mut report = ArchiveReport {
            segments: 0,
            rows: 0,
        };
        for segment in store.audit_segments().await? {
            let records = self.read(&segment).await?;
            report.segments += 1;
            report.rows += u64::try_from(records.len()).unwrap_or(0);
        }
        Ok(report)
    }

    /// The records, `seq > after`, in order, at most `limit`, whose response carried data of
    /// `participant`: from the segments first (they are the oldest), then from the database.
    ///
    /// # Errors
    /// Store errors; [`ArchiveError::Broken`] when a segment needed does not verify.
    pub async fn records_for_participant(
        &self,
        store: &Store,
        participant: &str,
        after: i64,
        limit: u32,
    ) -> Result<Vec<AuditRecord>, ArchiveError> {
        let archived = store
            .audit_archived_seqs_for_participant(participant, after, limit)
            .await?;
        let mut out = Vec::with_capacity(archived.len());
        if !archived.is_empty() {
            let segments = store.audit_segments().await?;
            let mut wanted = archived.iter().copied().peekable();
            for segment in &segments {
                if wanted
                    .peek()
                    .is_none_or(|seq| *seq < segment.first_seq || *seq > segment.last_seq)
                {
                    continue;
                }
                let records = self.read(segment).await?;
                for record in records {
                    if wanted.peek() == Some(&record.seq) {
                        wanted.next();
                        out.push(record);
                    }
                }
            }
        }
        let left = limit.saturating_sub(u32::try_from(out.len()).unwrap_or(u32::MAX));
        if left > 0 {
            let from = out.last().map_or(after, |r| r.seq.max(after));
            out.extend(
                store
                    .audit_records_for_participant(participant, from, left)
                    .await?,
            );
        }
        Ok(out)
    }
}

fn chain_row(row: &gemj_store::AuditRow) -> ChainRow {
    ChainRow {
        seq: row.record.seq,
        body: row.body.clone().into_bytes(),
        prev_hash: row.record.prev_hash.clone(),
        hash: row.record.hash.clone(),
    }
}

/// The object key of a segment.
fn segment_key(first: i64, last: i64) -> Result<ObjectKey, gemj_objects::ObjectError> {
    ObjectKey::parse(&format!("audit/segment-{first:012}-{last:012}.jsonl.gz"))
}

/// The start of the month after `t`'s, UTC.
fn next_month(t: time::OffsetDateTime) -> time::OffsetDateTime {
    let t = t.to_offset(time::UtcOffset::UTC);
    let (year, month) = match t.month() {
        time::Month::December => (t.year() + 1, time::Month::January),
        m => (t.year(), m.next()),
    };
    time::Date::from_calendar_date(year, month, 1)
        .map(|d| d.midnight().assume_utc())
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

/// A time as segments show it: RFC 3339.
fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn months_end_where_the_next_begins() {
        assert_eq!(
            next_month(datetime!(2026-11-25 03:00 UTC)),
            datetime!(2026-12-01 00:00 UTC)
        );
        assert_eq!(
            next_month(datetime!(2026-12-31 23:59:59.999 UTC)),
            datetime!(2027-01-01 00:00 UTC)
        );
        // 08:00 on 1 December in Tokyo is still 30 November in UTC.
        assert_eq!(
            next_month(datetime!(2026-12-01 08:00 +9)),
            datetime!(2026-12-01 00:00 UTC)
        );
        assert_eq!(
            segment_key(1, 42)
                .map(|k| k.as_str().to_owned())
                .ok()
                .as_deref(),
            Some("audit/segment-000000000001-000000000042.jsonl.gz")
        );
    }
}
