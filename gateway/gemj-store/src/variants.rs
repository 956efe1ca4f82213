//! The variant index: per dataset and allele (chrom, pos, ref, alt), the allele count, the
//! carrier count, the carriers as a serialized roaring bitmap of participant ordinals, and
//! the specimens whose calls hold the allele as a bitmap of specimen ordinals.
//!
//! Bulk loading is the hot path. SQLite: one `BEGIN IMMEDIATE` transaction, multi-row
//! `INSERT … ON CONFLICT DO UPDATE` statements with as many rows as SQLite's 32,766-parameter
//! limit allows (anonymous `?` parameters: see `sqlite_insert_sql`), the full-size statement
//! prepared once per connection and reused. PostgreSQL:
//! binary `COPY … FROM STDIN` into a temporary table, then one `INSERT … SELECT … ON CONFLICT DO
//! UPDATE`. Both keep the last row of a key given twice in one call.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use gemj_model::{DatasetId, VariantKey};
use roaring::RoaringBitmap;
use sqlx::AssertSqlSafe;

use crate::convert::page_limit;
use crate::{Pool, Store, StoreError, with_pool};

/// One row of the variant index.
///
/// # Examples
/// ```
/// use gemj_model::VariantKey;
/// use gemj_store::VariantRow;
/// let row = VariantRow {
///     key: VariantKey::parse("chr20", 10_050, "A", "G").unwrap(),
///     allele_count: 3,
///     carrier_count: 2,
///     carriers: [0_u32, 7].into_iter().collect(),
///     callsets: Some([3_u32, 12].into_iter().collect()),
/// };
/// assert_eq!(row.carriers.len(), 2);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct VariantRow {
    /// Chromosome, 1-based position, reference and alternate allele.
    pub key: VariantKey,
    /// Copies of the alternate allele among the dataset's participants.
    pub allele_count: u32,
    /// Participants carrying it.
    pub carrier_count: u32,
    /// The carriers, as participant ordinals ([`Store::participant_ordinals`]).
    pub carriers: RoaringBitmap,
    /// The specimens whose calls hold the allele, as specimen ordinals
    /// ([`Store::specimen_ordinals`]); `None` when not recorded (rows written before
    /// provenance was kept, or from input that did not name its specimens): any specimen of a
    /// carrier.
    pub callsets: Option<RoaringBitmap>,
}

/// Parameters bound per row by the SQLite multi-row insert (the dataset key and eight columns).
const COLS: usize = 9;

/// SQLite's default limit of bound parameters per statement (`SQLITE_MAX_VARIABLE_NUMBER`).
const SQLITE_MAX_PARAMS: usize = 32_766;

/// Rows per SQLite insert statement.
const SQLITE_ROWS_PER_STATEMENT: usize = SQLITE_MAX_PARAMS / COLS;

/// The SQLite insert for `rows` rows, nine positional parameters per row.
///
/// Reason for `?` instead of `$N` here: SQLite keeps named and numbered parameters (`$N`, `?N`)
/// in a list it scans linearly, both when preparing and on every `sqlite3_bind_parameter_name`
/// (which sqlx calls for each parameter on each execution). With 32,000 parameters that is
/// quadratic: about 1.3 s per statement, 3,400 rows/s. Anonymous `?` parameters are not in
/// that list. They are still bound parameters, in increasing order.
fn sqlite_insert_sql(rows: usize) -> String {
    const ROW: &str = "(?,?,?,?,?,?,?,?,?)";
    let mut sql = String::with_capacity(rows * (ROW.len() + 1) + 320);
    sql.push_str(
        "INSERT INTO variants (dataset_key, chrom, pos, ref, alt, allele_count, carrier_count, \
         carriers, callsets) VALUES ",
    );
    for i in 0..rows {
        if i > 0 {
            sql.push(',');
        }
        sql.push_str(ROW);
    }
    sql.push_str(
        " ON CONFLICT (dataset_key, chrom, pos, ref, alt) DO UPDATE SET \
         allele_count = excluded.allele_count, carrier_count = excluded.carrier_count, \
         carriers = excluded.carriers, callsets = excluded.callsets",
    );
    sql
}

/// The full-size SQLite statement, built once; the same text lets every connection reuse its
/// prepared statement.
static SQLITE_FULL_INSERT: LazyLock<Arc<str>> =
    LazyLock::new(|| Arc::from(sqlite_insert_sql(SQLITE_ROWS_PER_STATEMENT)));

/// The rows to write: all of them when keys are strictly increasing (the usual case), otherwise
/// the last row of each key, in input order.
fn last_of_each_key(rows: &[VariantRow]) -> Vec<&VariantRow> {
    if rows.windows(2).all(|w| w[0].key < w[1].key) {
        return rows.iter().collect();
    }
    let mut last: HashMap<&VariantKey, usize> = HashMap::with_capacity(rows.len());
    for (i, r) in rows.iter().enumerate() {
        last.insert(&r.key, i);
    }
    rows.iter()
        .enumerate()
        .filter(|(i, r)| last.get(&r.key) == Some(i))
        .map(|(_, r)| r)
        .collect()
}

fn bitmap_bytes(bitmap: &RoaringBitmap) -> Vec<u8> {
    let mut buf = Vec::with_capacity(bitmap.serialized_size());
    // Reason: writing into a Vec cannot fail.
    let _ = bitmap.serialize_into(&mut buf);
    buf
}

fn missing_dataset(dataset: &DatasetId) -> StoreError {
    StoreError::MissingReference {
        entity: "variant index of dataset",
        id: dataset.as_str().to_owned(),
        source: None,
    }
}

/// Appends one binary COPY field.
fn copy_field(buf: &mut Vec<u8>, bytes: &[u8]) {
    // Reason: alleles are at most 10,000 bytes and bitmaps far below 2 GiB.
    let len = i32::try_from(bytes.len()).unwrap_or(i32::MAX);
    buf.extend_from_slice(&len.to_be_bytes());
    buf.extend_from_slice(bytes);
}

fn copy_i64(buf: &mut Vec<u8>, v: i64) {
    buf.extend_from_slice(&8_i32.to_be_bytes());
    buf.extend_from_slice(&v.to_be_bytes());
}

/// Bytes of COPY data sent per message.
const COPY_CHUNK: usize = 4 << 20;

/// `chrom, pos, ref, alt, allele_count, carrier_count, carriers, callsets` of a variant row.
type VariantDbRow = (
    String,
    i64,
    String,
    String,
    i64,
    i64,
    Vec<u8>,
    Option<Vec<u8>>,
);

fn row_from_db(dataset: &DatasetId, row: VariantDbRow) -> Result<VariantRow, StoreError> {
    let (chrom, pos, reference, alternate, allele_count, carrier_count, carriers, callsets) = row;
    // The row's name is only formatted when it is needed, for an error (this is the read path
    // of every variant query).
    let id = || format!("{dataset}/{chrom}:{pos}");
    let number =
        |v: i64| u32::try_from(v).map_err(|e| StoreError::invalid_data("variant", &id(), e));
    let key = VariantKey::parse(&chrom, number(pos)?, &reference, &alternate)
        .map_err(|e| StoreError::invalid_data("variant", &id(), e))?;
    let carriers = RoaringBitmap::deserialize_from(&carriers[..])
        .map_err(|e| StoreError::invalid_data("variant", &id(), e))?;
    let callsets = callsets
        .map(|bytes| RoaringBitmap::deserialize_from(&bytes[..]))
        .transpose()
        .map_err(|e| StoreError::invalid_data("variant", &id(), e))?;
    Ok(VariantRow {
        key,
        allele_count: number(allele_count)?,
        carrier_count: number(carrier_count)?,
        carriers,
        callsets,
    })
}

/// Writes rows of the dataset with key `key` in the open SQLite transaction (multi-row upserts).
async fn write_rows_sqlite(
    tx: &mut sqlx::SqliteConnection,
    key: i64,
    rows: &[&VariantRow],
) -> Result<(), StoreError> {
    for chunk in rows.chunks(SQLITE_ROWS_PER_STATEMENT) {
        let sql = if chunk.len() == SQLITE_ROWS_PER_STATEMENT {
            AssertSqlSafe(Arc::clone(&SQLITE_FULL_INSERT))
        } else {
            AssertSqlSafe(Arc::from(sqlite_insert_sql(chunk.len())))
        };
        let mut q = sqlx::query(sql);
        for r in chunk {
            q = q
                .bind(key)
                .bind(r.key.chrom.as_str())
                .bind(i64::from(r.key.pos))
                .bind(r.key.reference.as_str())
                .bind(r.key.alternate.as_str())
                .bind(i64::from(r.allele_count))
                .bind(i64::from(r.carrier_count))
                .bind(bitmap_bytes(&r.carriers))
                .bind(r.callsets.as_ref().map(bitmap_bytes));
        }
        q.execute(&mut *tx).await?;
    }
    Ok(())
}

/// Writes rows of the dataset with key `key` in the open PostgreSQL transaction (binary COPY
/// into a temporary table, then one upsert).
async fn write_rows_pg(
    tx: &mut sqlx::PgConnection,
    key: i64,
    rows: &[&VariantRow],
) -> Result<(), StoreError> {
    sqlx::query(
        "CREATE TEMP TABLE variant_load (chrom TEXT, pos BIGINT, ref TEXT, alt TEXT, \
           allele_count BIGINT, carrier_count BIGINT, carriers BYTEA, callsets BYTEA) \
           ON COMMIT DROP",
    )
    .execute(&mut *tx)
    .await?;
    let mut copy = tx
        .copy_in_raw("COPY variant_load FROM STDIN (FORMAT binary)")
        .await?;
    let mut buf = Vec::with_capacity(COPY_CHUNK + 64 * 1024);
    buf.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
    buf.extend_from_slice(&0_i32.to_be_bytes());
    buf.extend_from_slice(&0_i32.to_be_bytes());
    let mut failed = None;
    for r in rows {
        buf.extend_from_slice(&8_i16.to_be_bytes());
        copy_field(&mut buf, r.key.chrom.as_str().as_bytes());
        copy_i64(&mut buf, i64::from(r.key.pos));
        copy_field(&mut buf, r.key.reference.as_str().as_bytes());
        copy_field(&mut buf, r.key.alternate.as_str().as_bytes());
        copy_i64(&mut buf, i64::from(r.allele_count));
        copy_i64(&mut buf, i64::from(r.carrier_count));
        copy_field(&mut buf, &bitmap_bytes(&r.carriers));
        match &r.callsets {
            Some(callsets) => copy_field(&mut buf, &bitmap_bytes(callsets)),
            // A NULL field: length -1, no bytes.
            None => buf.extend_from_slice(&(-1_i32).to_be_bytes()),
        }
        if buf.len() >= COPY_CHUNK {
            if let Err(e) = copy.send(buf.as_slice()).await {
                failed = Some(e);
                break;
            }
            buf.clear();
        }
    }
    if failed.is_none() {
        buf.extend_from_slice(&(-1_i16).to_be_bytes());
        if let Err(e) = copy.send(buf.as_slice()).await {
            failed = Some(e);
        }
    }
    if let Some(e) = failed {
        let _ = copy.abort("gemj-store: insert_variants failed").await;
        return Err(e.into());
    }
    copy.finish().await?;
    sqlx::query(
        "INSERT INTO variants (dataset_key, chrom, pos, ref, alt, allele_count, \
           carrier_count, carriers, callsets) \
         SELECT $1, chrom, pos, ref, alt, allele_count, carrier_count, carriers, callsets \
         FROM variant_load \
         ON CONFLICT (dataset_key, chrom, pos, allele_hash) DO UPDATE SET \
           allele_count = excluded.allele_count, \
           carrier_count = excluded.carrier_count, carriers = excluded.carriers, \
           callsets = excluded.callsets",
    )
    .bind(key)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// One input file's say about one allele: which participants (by ordinal) carry it, and how
/// many copies each ([`Store::merge_variants`]); each carrier specimen's call and what the file
/// says about the allele, when it says it.
#[derive(Debug, Clone, PartialEq)]
pub struct VariantContribution {
    /// Chromosome, 1-based position, reference and alternate allele.
    pub key: VariantKey,
    /// Carrier ordinals with their copy counts (1 or 2; 0 entries are ignored).
    pub carriers: Vec<(u32, u8)>,
    /// The ordinals of the specimens whose calls in this input hold the allele; empty when the
    /// input does not say (the row's provenance then becomes unknown).
    pub callsets: Vec<u32>,
    /// Each carrier specimen's call: its ordinal, the copies of the allele and the call
    /// (stored in `variant_calls`; a specimen called again replaces its call).
    pub calls: Vec<(u32, u8, gemj_model::variant::SampleCall)>,
    /// What the input says about the allele (stored in `variant_notes`, replacing what an
    /// earlier input said, and indexed by name); `None` when it says nothing.
    pub notes: Option<gemj_model::variant::AlleleNotes>,
}

/// What [`Store::merge_variants`] did, in rows of the variant index.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct VariantMerge {
    /// Alleles new to the dataset.
    pub created: u64,
    /// Alleles stored before that gained carriers.
    pub merged: u64,
    /// Alleles whose every carrier was already stored (a re-run of the same file).
    pub unchanged: u64,
    /// Alleles no participant of the input carries: nothing to store.
    pub without_carriers: u64,
}

/// Merges contributions into the stored rows (`existing`, keyed by allele) and returns the rows
/// to write with what happened. A carrier already stored adds nothing, so merging the same input
/// twice changes nothing.
fn merge_rows(
    existing: &HashMap<VariantKey, VariantRow>,
    input: &[VariantContribution],
) -> (Vec<VariantRow>, VariantMerge) {
    if each_key_once(input) {
        return merge_distinct(existing, input);
    }
    let mut out: HashMap<VariantKey, VariantRow> = HashMap::new();
    let mut counts = VariantMerge::default();
    let mut order: Vec<VariantKey> = Vec::new();
    for c in input {
        let entry = out
            .get(&c.key)
            .cloned()
            .or_else(|| existing.get(&c.key).cloned());
        let was_stored = existing.contains_key(&c.key);
        let new = entry.is_none();
        let mut row = entry.unwrap_or_else(|| empty_row(&c.key));
        if !add_calls(&mut row, c, new) {
            if out.contains_key(&c.key) || was_stored {
                counts.unchanged += 1;
            } else {
                counts.without_carriers += 1;
            }
            continue;
        }
        row.carrier_count = u32::try_from(row.carriers.len()).unwrap_or(u32::MAX);
        if !out.contains_key(&c.key) {
            order.push(c.key.clone());
            if was_stored {
                counts.merged += 1;
            } else {
                counts.created += 1;
            }
        }
        out.insert(c.key.clone(), row);
    }
    order.sort();
    let rows = order.into_iter().filter_map(|k| out.remove(&k)).collect();
    (rows, counts)
}

/// The row of an allele no one carries yet.
fn empty_row(key: &VariantKey) -> VariantRow {
    VariantRow {
        key: key.clone(),
        allele_count: 0,
        carrier_count: 0,
        carriers: RoaringBitmap::new(),
        callsets: None,
    }
}

/// Adds a contribution's carriers and specimens to `row` (`new`: the row was not stored nor
/// built before). Returns whether the row changed. A row's specimens are known only while
/// every contribution named them: a contribution that adds carriers without naming its
/// specimens makes them unknown (`None`), and an unknown set stays unknown.
fn add_calls(row: &mut VariantRow, c: &VariantContribution, new: bool) -> bool {
    let carried = add_carriers(row, &c.carriers);
    if !carried && row.carriers.is_empty() {
        return false;
    }
    let named = !c.callsets.is_empty();
    let callsets_changed = match (&mut row.callsets, named) {
        (Some(known), true) => c
            .callsets
            .iter()
            .fold(false, |changed, &s| known.insert(s) | changed),
        (None, true) if new => {
            row.callsets = Some(c.callsets.iter().copied().collect());
            true
        }
        (Some(_), false) if carried => {
            row.callsets = None;
            true
        }
        _ => false,
    };
    carried || callsets_changed
}

/// Adds to `row` the carriers (ordinal, copies) it does not hold yet, with their copies; entries
/// of 0 copies are ignored. Returns whether the row changed (its carrier count is left to the
/// caller).
fn add_carriers(row: &mut VariantRow, carriers: &[(u32, u8)]) -> bool {
    let mut changed = false;
    for &(ordinal, copies) in carriers {
        if copies == 0 || !row.carriers.insert(ordinal) {
            continue;
        }
        row.allele_count = row.allele_count.saturating_add(u32::from(copies));
        changed = true;
    }
    changed
}

/// Whether no allele is given twice, judged cheaply for the usual input, a VCF in file order:
/// positions increase within a chromosome and a chromosome is one run. Anything else (an
/// unsorted file) is `false`, and the general merge handles it.
fn each_key_once(input: &[VariantContribution]) -> bool {
    let mut seen_chroms: Vec<&str> = Vec::new();
    for w in input.windows(2) {
        let (a, b) = (&w[0].key, &w[1].key);
        if a.chrom != b.chrom {
            if seen_chroms.contains(&b.chrom.as_str()) {
                return false;
            }
            seen_chroms.push(a.chrom.as_str());
            continue;
        }
        if a.pos > b.pos || a == b {
            return false;
        }
    }
    // Alleles at one position (one record's ALTs) may repeat non-adjacently; check those groups.
    let mut i = 0;
    while i < input.len() {
        let mut j = i + 1;
        while j < input.len()
            && input[j].key.chrom == input[i].key.chrom
            && input[j].key.pos == input[i].key.pos
        {
            j += 1;
        }
        if j - i > 2 {
            let group = &input[i..j];
            for (n, a) in group.iter().enumerate() {
                if group[n + 1..].iter().any(|b| b.key == a.key) {
                    return false;
                }
            }
        }
        i = j;
    }
    true
}

/// [`merge_rows`] for input that names each allele once: one pass, no intermediate map.
fn merge_distinct(
    existing: &HashMap<VariantKey, VariantRow>,
    input: &[VariantContribution],
) -> (Vec<VariantRow>, VariantMerge) {
    let mut rows = Vec::with_capacity(input.len());
    let mut counts = VariantMerge::default();
    for c in input {
        let stored = existing.get(&c.key);
        let mut row = stored.cloned().unwrap_or_else(|| empty_row(&c.key));
        let changed = add_calls(&mut row, c, stored.is_none());
        match (changed, stored.is_some()) {
            (false, true) => counts.unchanged += 1,
            (false, false) => counts.without_carriers += 1,
            (true, stored) => {
                row.carrier_count = u32::try_from(row.carriers.len()).unwrap_or(u32::MAX);
                if stored {
                    counts.merged += 1;
                } else {
                    counts.created += 1;
                }
                rows.push(row);
            }
        }
    }
    (rows, counts)
}

/// The query of the variant rows (as [`VariantDbRow`]) of the dataset with id `$1` that `$rest`
/// (a literal: more conditions, then the order and limit) selects.
macro_rules! select_variants {
    ($rest:literal) => {
        concat!(
            "SELECT chrom, pos, ref, alt, allele_count, carrier_count, carriers, callsets \
             FROM variants WHERE dataset_key = (SELECT key FROM datasets WHERE id = $1) ",
            $rest
        )
    };
}

/// The key of the dataset `$dataset` (`&DatasetId`), read in the open transaction `$tx`;
/// returns [`StoreError::MissingReference`] when it is not stored.
macro_rules! dataset_key {
    ($tx:ident, $dataset:expr) => {
        sqlx::query_scalar::<_, i64>("SELECT key FROM datasets WHERE id = $1")
            .bind($dataset.as_str())
            .fetch_optional(&mut *$tx)
            .await?
            .ok_or_else(|| missing_dataset($dataset))?
    };
}

/// In the open transaction `$tx`: writes `$rows` of the dataset keyed `$key` with `$write`
/// (`write_rows_sqlite` or `write_rows_pg`) and moves the catalogue epoch on. Variants are part
/// of the catalogue epoch: caches of decoded rows (Beacon's) are tagged with it. On PostgreSQL
/// (`$pg`) the change is also announced on the catalogue channel.
macro_rules! write_variants {
    ($tx:ident, $write:ident, $key:expr, $rows:expr, $pg:literal) => {
        $write(&mut $tx, $key, $rows).await?;
        sqlx::query("UPDATE catalogue_epoch SET epoch = epoch + 1 WHERE id = 1")
            .execute(&mut *$tx)
            .await?;
        if $pg {
            sqlx::query("SELECT pg_notify('gemj_catalogue', 'epoch')")
                .execute(&mut *$tx)
                .await?;
        }
    };
}

impl Store {
    /// Inserts variant rows of a dataset in one transaction; a row whose key is already stored
    /// replaces its counts and carriers. Returns how many rows were written (a key given twice
    /// counts once, its last row wins).
    ///
    /// # Errors
    /// [`StoreError::MissingReference`] when the dataset is not stored.
    pub async fn insert_variants(
        &self,
        dataset: &DatasetId,
        rows: &[VariantRow],
    ) -> Result<u64, StoreError> {
        let rows = last_of_each_key(rows);
        if rows.is_empty() {
            return Ok(0);
        }
        let written = u64::try_from(rows.len()).unwrap_or(u64::MAX);
        match &self.pool {
            Pool::Sqlite(pool) => {
                let _writer = self.write_turn().await?;
                let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
                let key = dataset_key!(tx, dataset);
                write_variants!(tx, write_rows_sqlite, key, &rows, false);
                tx.commit().await?;
            }
            Pool::Pg(pool) => {
                let mut tx = crate::connect::PgTx::begin(pool).await?;
                let key = dataset_key!(tx, dataset);
                write_variants!(tx, write_rows_pg, key, &rows, true);
                tx.commit().await?;
            }
        }
        self.catalogue_written();
        tracing::debug!(message = "Variants inserted.", %dataset, rows = written);
        Ok(written)
    }

    /// Merges one input's alleles into a dataset's variant index, in one transaction: a new
    /// allele is created, a stored allele gains the carriers it did not have (their copies are
    /// added to its allele count), and an allele whose carriers are all stored is left as it is.
    /// Merging the same input again changes nothing. Contributions are best given sorted by
    /// position (a VCF's order): stored rows are read per chromosome between the lowest and
    /// highest position given.
    ///
    /// # Errors
    /// [`StoreError::MissingReference`] when the dataset is not stored.
    pub async fn merge_variants(
        &self,
        dataset: &DatasetId,
        input: &[VariantContribution],
    ) -> Result<VariantMerge, StoreError> {
        if input.is_empty() {
            return Ok(VariantMerge::default());
        }
        let mut spans: HashMap<&str, (u32, u32)> = HashMap::new();
        for c in input {
            let span = spans
                .entry(c.key.chrom.as_str())
                .or_insert((c.key.pos, c.key.pos));
            span.0 = span.0.min(c.key.pos);
            span.1 = span.1.max(c.key.pos);
        }
        let mut spans: Vec<(&str, (u32, u32))> = spans.into_iter().collect();
        spans.sort_unstable();
        const SELECT: &str = "SELECT chrom, pos, ref, alt, allele_count, carrier_count, carriers, \
             callsets FROM variants \
             WHERE dataset_key = $1 AND chrom = $2 AND pos >= $3 AND pos <= $4";
        // In the open transaction: the dataset's key, the stored rows of the spans, merged and
        // written (with `$write`, on PostgreSQL when `$pg`); evaluates to what happened.
        macro_rules! merge_in_tx {
            ($tx:ident, $write:ident, $details:path, $pg:literal) => {{
                let key = dataset_key!($tx, dataset);
                let mut existing = HashMap::new();
                for (chrom, (lo, hi)) in &spans {
                    let rows: Vec<VariantDbRow> = sqlx::query_as(SELECT)
                        .bind(key)
                        .bind(*chrom)
                        .bind(i64::from(*lo))
                        .bind(i64::from(*hi))
                        .fetch_all(&mut *$tx)
                        .await?;
                    for r in rows {
                        let row = row_from_db(dataset, r)?;
                        existing.insert(row.key.clone(), row);
                    }
                }
                let (rows, counts) = merge_rows(&existing, input);
                if !rows.is_empty() {
                    let refs: Vec<&VariantRow> = rows.iter().collect();
                    write_variants!($tx, $write, key, &refs, $pg);
                }
                $details(&mut *$tx, key, input).await?;
                counts
            }};
        }
        let counts = match &self.pool {
            Pool::Sqlite(pool) => {
                let _writer = self.write_turn().await?;
                let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
                let counts = merge_in_tx!(
                    tx,
                    write_rows_sqlite,
                    crate::calls::write_details_sqlite,
                    false
                );
                tx.commit().await?;
                counts
            }
            Pool::Pg(pool) => {
                let mut tx = crate::connect::PgTx::begin(pool).await?;
                // Reason: two merges into one dataset must not both read the same stored row.
                sqlx::query("SELECT pg_advisory_xact_lock(7243002)")
                    .execute(&mut *tx)
                    .await?;
                let counts = merge_in_tx!(tx, write_rows_pg, crate::calls::write_details_pg, true);
                tx.commit().await?;
                counts
            }
        };
        if counts.created + counts.merged > 0 {
            self.catalogue_written();
        }
        Ok(counts)
    }

    /// The row of one allele in a dataset.
    ///
    /// # Errors
    /// [`StoreError::InvalidData`] when the stored row does not parse.
    pub async fn variant_exact(
        &self,
        dataset: &DatasetId,
        key: &VariantKey,
    ) -> Result<Option<VariantRow>, StoreError> {
        let row: Option<VariantDbRow> = with_pool!(self, |p| {
            sqlx::query_as(select_variants!(
                "AND chrom = $2 AND pos = $3 AND ref = $4 AND alt = $5"
            ))
            .bind(dataset.as_str())
            .bind(key.chrom.as_str())
            .bind(i64::from(key.pos))
            .bind(key.reference.as_str())
            .bind(key.alternate.as_str())
            .fetch_optional(p)
            .await?
        });
        row.map(|r| row_from_db(dataset, r)).transpose()
    }

    /// The rows of a dataset on `chrom` whose position lies in `start..=end` (1-based), ordered
    /// by position, reference and alternate allele, at most `limit`.
    ///
    /// # Errors
    /// [`StoreError::InvalidData`] when a stored row does not parse.
    pub async fn variants_in_range(
        &self,
        dataset: &DatasetId,
        chrom: &str,
        start: u32,
        end: u32,
        limit: u32,
    ) -> Result<Vec<VariantRow>, StoreError> {
        let rows: Vec<VariantDbRow> = with_pool!(self, |p| {
            sqlx::query_as(select_variants!(
                "AND chrom = $2 AND pos >= $3 AND pos <= $4 ORDER BY pos, ref, alt LIMIT $5"
            ))
            .bind(dataset.as_str())
            .bind(chrom)
            .bind(i64::from(start))
            .bind(i64::from(end))
            .bind(page_limit(limit))
            .fetch_all(p)
            .await?
        });
        rows.into_iter().map(|r| row_from_db(dataset, r)).collect()
    }

    /// The first `limit` rows of a dataset, ordered by chromosome, position, reference and
    /// alternate allele (a whole-dataset scan, for routes that name one participant).
    ///
    /// # Errors
    /// [`StoreError::InvalidData`] when a stored row does not parse.
    pub async fn variants_of_dataset(
        &self,
        dataset: &DatasetId,
        limit: u32,
    ) -> Result<Vec<VariantRow>, StoreError> {
        let rows: Vec<VariantDbRow> = with_pool!(self, |p| {
            sqlx::query_as(select_variants!("ORDER BY chrom, pos, ref, alt LIMIT $2"))
                .bind(dataset.as_str())
                .bind(page_limit(limit))
                .fetch_all(p)
                .await?
        });
        rows.into_iter().map(|r| row_from_db(dataset, r)).collect()
    }

    /// How many rows a dataset has in the variant index.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn count_variants(&self, dataset: &DatasetId) -> Result<u64, StoreError> {
        let n: i64 = with_pool!(self, |p| {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM variants \
                 WHERE dataset_key = (SELECT key FROM datasets WHERE id = $1)",
            )
            .bind(dataset.as_str())
            .fetch_one(p)
            .await?
        });
        Ok(n.unsigned_abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_sql_has_nine_parameters_per_row() {
        let sql = sqlite_insert_sql(2);
        assert!(sql.contains("VALUES (?,?,?,?,?,?,?,?,?),(?,?,?,?,?,?,?,?,?) ON"));
        assert_eq!(sql.matches('?').count(), 18);
        assert_eq!(SQLITE_ROWS_PER_STATEMENT, 3640);
        const { assert!(SQLITE_ROWS_PER_STATEMENT * COLS <= SQLITE_MAX_PARAMS) };
    }

    #[test]
    fn duplicate_keys_keep_the_last_row() -> Result<(), Box<dyn std::error::Error>> {
        let row = |pos, ac| -> Result<VariantRow, Box<dyn std::error::Error>> {
            Ok(VariantRow {
                key: VariantKey::parse("chr1", pos, "A", "T")?,
                allele_count: ac,
                carrier_count: 1,
                carriers: RoaringBitmap::new(),
                callsets: None,
            })
        };
        let rows = vec![row(5, 1)?, row(3, 1)?, row(5, 2)?];
        let kept: Vec<(u32, u32)> = last_of_each_key(&rows)
            .iter()
            .map(|r| (r.key.pos, r.allele_count))
            .collect();
        assert_eq!(kept, vec![(3, 1), (5, 2)]);
        Ok(())
    }
}

#[cfg(test)]
mod merge_tests {
    use super::*;

    fn c(chrom: &str, pos: u32, alt: &str, carriers: &[(u32, u8)]) -> VariantContribution {
        VariantContribution {
            key: VariantKey::parse(chrom, pos, "A", alt).unwrap_or_else(|e| panic!("{e}")),
            carriers: carriers.to_vec(),
            callsets: carriers.iter().map(|(c, _)| c + 100).collect(),
            calls: Vec::new(),
            notes: None,
        }
    }

    #[test]
    fn the_one_pass_merge_agrees_with_the_general_one() {
        let input = vec![
            c("chr2", 10, "G", &[(1, 1)]),
            c("chr2", 20, "G", &[(2, 2), (3, 0)]),
            c("chr2", 20, "T", &[(2, 1)]),
            c("chr10", 5, "G", &[]),
            c("chr1", 7, "C", &[(4, 1)]),
        ];
        assert!(each_key_once(&input));
        let mut existing = HashMap::new();
        let stored = VariantRow {
            key: input[0].key.clone(),
            allele_count: 1,
            carrier_count: 1,
            carriers: [1_u32].into_iter().collect(),
            callsets: Some([101_u32].into_iter().collect()),
        };
        existing.insert(stored.key.clone(), stored);
        let (fast_rows, fast) = merge_distinct(&existing, &input);
        // The general path, forced by repeating the input's last allele at the end.
        let mut repeated = input.clone();
        repeated.push(input[4].clone());
        assert!(!each_key_once(&repeated));
        let (slow_rows, slow) = merge_rows(&existing, &repeated);
        assert_eq!(
            (
                fast.created,
                fast.merged,
                fast.unchanged,
                fast.without_carriers
            ),
            (3, 0, 1, 1)
        );
        assert_eq!(
            (slow.created, slow.merged, slow.without_carriers),
            (3, 0, 1)
        );
        let mut fast_keys: Vec<_> = fast_rows.iter().map(|r| (&r.key, r.allele_count)).collect();
        fast_keys.sort();
        let slow_keys: Vec<_> = slow_rows.iter().map(|r| (&r.key, r.allele_count)).collect();
        assert_eq!(fast_keys, slow_keys);
        // Unsorted input and a chromosome in two runs take the general path.
        assert!(!each_key_once(&[
            c("chr1", 9, "G", &[]),
            c("chr1", 3, "G", &[])
        ]));
        assert!(!each_key_once(&[
            c("chr1", 1, "G", &[]),
            c("chr2", 1, "G", &[]),
            c("chr1", 5, "G", &[])
        ]));
        assert!(!each_key_once(&[
            c("chr1", 1, "G", &[]),
            c("chr1", 1, "T", &[]),
            c("chr1", 1, "G", &[])
        ]));
    }
}
