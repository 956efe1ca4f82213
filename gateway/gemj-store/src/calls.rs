//! Call details: each carrier specimen's call of an allele (copies and ploidy, so zygosity;
//! read depth and allele fraction), what an input said about the allele (identifiers, gene,
//! transcript effects, ClinVar significance) and the names it is looked up by (dbSNP and other
//! ids, `transcript:c.` HGVS with and without the transcript's version).
//!
//! They are written by [`Store::merge_variants`] in the transaction that merges the alleles, so
//! an allele's carriers and its calls are stored together or not at all. A specimen called again
//! replaces its call; an input that says something about an allele replaces what an earlier one
//! said; names are only added.

use std::collections::HashMap;

use gemj_model::variant::{AlleleNotes, SampleCall};
use gemj_model::{DatasetId, VariantKey};

use crate::{Store, StoreError, VariantContribution, with_pool};

/// One specimen's call of an allele.
#[derive(Debug, Clone, PartialEq)]
pub struct CallRow {
    /// The specimen's ordinal ([`Store::specimen_ordinals`]).
    pub specimen: u32,
    /// The allele.
    pub key: VariantKey,
    /// Copies of the allele in the call.
    pub copies: u8,
    /// Ploidy, depth and allele fraction.
    pub call: SampleCall,
}

/// Columns bound per call row by the SQLite multi-row insert.
const CALL_COLS: usize = 12;

/// Call rows per SQLite statement (under SQLite's 32,766 bound parameters).
const CALL_ROWS: usize = 32_766 / CALL_COLS;

/// Notes rows per SQLite statement.
const NOTE_ROWS: usize = 32_766 / 6;

// Statements stay under SQLite's bound-parameter limit.
const _: () = assert!(CALL_ROWS * CALL_COLS <= 32_766 && NOTE_ROWS * 6 <= 32_766);

/// The names an allele is looked up by: its identifiers, `transcript:c.` HGVS of each effect and
/// `protein:p.` HGVS where the effect names its protein, each also without the accession's
/// version (`NM_000546:c.524G>A`).
fn names_of(notes: &AlleleNotes) -> Vec<String> {
    let mut names: Vec<String> = notes.ids.clone();
    for e in &notes.effects {
        if let (Some(t), Some(c)) = (&e.transcript, &e.hgvs_c) {
            names.push(format!("{t}:{c}"));
            if let Some((base, _version)) = t.split_once('.') {
                names.push(format!("{base}:{c}"));
            }
        }
        // Protein HGVS is a name when it carries its protein accession.
        if let Some(p) = &e.hgvs_p
            && let Some((accession, change)) = p.split_once(':')
        {
            names.push(p.clone());
            if let Some((base, _version)) = accession.split_once('.') {
                names.push(format!("{base}:{change}"));
            }
        }
    }
    names.sort_unstable();
    names.dedup();
    names
}

fn values_sql(head: &str, cols: usize, rows: usize, tail: &str) -> String {
    let one = format!("({})", vec!["?"; cols].join(","));
    format!("{head} VALUES {} {tail}", vec![one; rows].join(","))
}

const CALL_HEAD: &str = "INSERT INTO variant_calls (dataset_key, specimen, chrom, pos, ref, alt, \
     copies, ploidy, allele_fraction, depth, allele_depth, total_allele_depth)";
const CALL_UPDATE: &str = "copies = excluded.copies, ploidy = excluded.ploidy, \
     allele_fraction = excluded.allele_fraction, depth = excluded.depth, \
     allele_depth = excluded.allele_depth, total_allele_depth = excluded.total_allele_depth";

/// Calls per `UNNEST` statement on PostgreSQL (~100 bytes each on the wire).
const CALLS_PER_PG_STATEMENT: usize = 100_000;

fn opt_i64(v: Option<u32>) -> Option<i64> {
    v.map(i64::from)
}

/// Writes the calls, notes and names of `input` (dataset key `key`) on SQLite.
pub(crate) async fn write_details_sqlite(
    tx: &mut sqlx::SqliteConnection,
    key: i64,
    input: &[VariantContribution],
) -> Result<(), StoreError> {
    let calls = last_calls(input);
    for chunk in calls.chunks(CALL_ROWS) {
        let sql = values_sql(
            CALL_HEAD,
            CALL_COLS,
            chunk.len(),
            &format!(
                "ON CONFLICT (dataset_key, specimen, chrom, pos, ref, alt) DO UPDATE SET {CALL_UPDATE}"
            ),
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (k, (specimen, copies, call)) in chunk {
            q = q
                .bind(key)
                .bind(i64::from(*specimen))
                .bind(k.chrom.as_str())
                .bind(i64::from(k.pos))
                .bind(k.reference.as_str())
                .bind(k.alternate.as_str())
                .bind(i64::from(*copies))
                .bind(i64::from(call.ploidy))
                .bind(call.allele_fraction.map(f64::from))
                .bind(opt_i64(call.depth))
                .bind(opt_i64(call.allele_depth))
                .bind(opt_i64(call.total_allele_depth));
        }
        q.execute(&mut *tx).await?;
    }
    let notes = notes_of(input)?;
    for chunk in notes.chunks(NOTE_ROWS) {
        let sql = values_sql(
            "INSERT INTO variant_notes (dataset_key, chrom, pos, ref, alt, notes)",
            6,
            chunk.len(),
            "ON CONFLICT (dataset_key, chrom, pos, ref, alt) DO UPDATE SET notes = excluded.notes",
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (k, json, _) in chunk {
            q = q
                .bind(key)
                .bind(k.chrom.as_str())
                .bind(i64::from(k.pos))
                .bind(k.reference.as_str())
                .bind(k.alternate.as_str())
                .bind(json.as_str());
        }
        q.execute(&mut *tx).await?;
    }
    let names: Vec<(&VariantKey, &String)> = notes
        .iter()
        .flat_map(|(k, _, names)| names.iter().map(move |n| (*k, n)))
        .collect();
    for chunk in names.chunks(NOTE_ROWS) {
        let sql = values_sql(
            "INSERT INTO variant_names (name, dataset_key, chrom, pos, ref, alt)",
            6,
            chunk.len(),
            "ON CONFLICT DO NOTHING",
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (k, name) in chunk {
            q = q
                .bind(name.as_str())
                .bind(key)
                .bind(k.chrom.as_str())
                .bind(i64::from(k.pos))
                .bind(k.reference.as_str())
                .bind(k.alternate.as_str());
        }
        q.execute(&mut *tx).await?;
    }
    Ok(())
}

/// The calls of `input`, the last of each specimen and allele (an input may repeat a record).
fn last_calls(input: &[VariantContribution]) -> Vec<(&VariantKey, &(u32, u8, SampleCall))> {
    let mut seen = std::collections::HashSet::new();
    let mut out: Vec<_> = input
        .iter()
        .rev()
        .flat_map(|c| c.calls.iter().rev().map(move |call| (&c.key, call)))
        .filter(|(k, call)| seen.insert((*k, call.0)))
        .collect();
    out.reverse();
    out
}

/// An allele, its notes as JSON and its names.
type NotesRow<'a> = (&'a VariantKey, String, Vec<String>);

/// The notes of `input` as JSON, with their names: the last said of each allele.
fn notes_of(input: &[VariantContribution]) -> Result<Vec<NotesRow<'_>>, StoreError> {
    let mut seen = std::collections::HashSet::new();
    let mut last: Vec<&VariantContribution> = input
        .iter()
        .rev()
        .filter(|c| c.notes.as_ref().is_some_and(|n| !n.is_empty()))
        .filter(|c| seen.insert(&c.key))
        .collect();
    last.reverse();
    last.into_iter()
        .filter_map(|c| c.notes.as_ref().map(|n| (&c.key, n)))
        .filter(|(_, n)| !n.is_empty())
        .map(|(k, n)| {
            let json = serde_json::to_string(n).map_err(|e| {
                StoreError::invalid_input(
                    "variant notes",
                    &format!("{}:{}", k.chrom.as_str(), k.pos),
                    e,
                )
            })?;
            Ok((k, json, names_of(n)))
        })
        .collect()
}

/// Writes the calls, notes and names of `input` (dataset key `key`) on PostgreSQL: one
/// `UNNEST` insert per table.
pub(crate) async fn write_details_pg(
    tx: &mut sqlx::PgConnection,
    key: i64,
    input: &[VariantContribution],
) -> Result<(), StoreError> {
    // Bounded per statement: PostgreSQL takes at most 1 GB in one message.
    for chunk in last_calls(input).chunks(CALLS_PER_PG_STATEMENT) {
        let mut specimen = Vec::with_capacity(chunk.len());
        let (mut chrom, mut pos, mut reference, mut alternate) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let (mut copies, mut ploidy, mut fraction) = (Vec::new(), Vec::new(), Vec::new());
        let (mut depth, mut allele_depth, mut total) = (Vec::new(), Vec::new(), Vec::new());
        for (k, (s, n, call)) in chunk {
            specimen.push(i64::from(*s));
            chrom.push(k.chrom.as_str());
            pos.push(i64::from(k.pos));
            reference.push(k.reference.as_str());
            alternate.push(k.alternate.as_str());
            copies.push(i64::from(*n));
            ploidy.push(i64::from(call.ploidy));
            fraction.push(call.allele_fraction.map(f64::from));
            depth.push(opt_i64(call.depth));
            allele_depth.push(opt_i64(call.allele_depth));
            total.push(opt_i64(call.total_allele_depth));
        }
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "{CALL_HEAD} SELECT $1, * FROM UNNEST($2::bigint[], $3::text[], $4::bigint[], \
               $5::text[], $6::text[], $7::bigint[], $8::bigint[], $9::float8[], $10::bigint[], \
               $11::bigint[], $12::bigint[]) \
             ON CONFLICT (dataset_key, specimen, chrom, pos, allele_hash) DO UPDATE SET {CALL_UPDATE}"
        )))
        .bind(key)
        .bind(&specimen)
        .bind(&chrom)
        .bind(&pos)
        .bind(&reference)
        .bind(&alternate)
        .bind(&copies)
        .bind(&ploidy)
        .bind(&fraction)
        .bind(&depth)
        .bind(&allele_depth)
        .bind(&total)
        .execute(&mut *tx)
        .await?;
    }
    let notes = notes_of(input)?;
    if notes.is_empty() {
        return Ok(());
    }
    let column =
        |f: fn(&VariantKey) -> &str| notes.iter().map(|(k, _, _)| f(k)).collect::<Vec<_>>();
    sqlx::query(
        "INSERT INTO variant_notes (dataset_key, chrom, pos, ref, alt, notes) \
         SELECT $1, * FROM UNNEST($2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[]) \
         ON CONFLICT (dataset_key, chrom, pos, allele_hash) DO UPDATE SET notes = excluded.notes",
    )
    .bind(key)
    .bind(column(|k| k.chrom.as_str()))
    .bind(
        notes
            .iter()
            .map(|(k, _, _)| i64::from(k.pos))
            .collect::<Vec<_>>(),
    )
    .bind(column(|k| k.reference.as_str()))
    .bind(column(|k| k.alternate.as_str()))
    .bind(notes.iter().map(|(_, j, _)| j.as_str()).collect::<Vec<_>>())
    .execute(&mut *tx)
    .await?;
    let names: Vec<(&VariantKey, &str)> = notes
        .iter()
        .flat_map(|(k, _, names)| names.iter().map(move |n| (*k, n.as_str())))
        .collect();
    if !names.is_empty() {
        sqlx::query(
            "INSERT INTO variant_names (name, dataset_key, chrom, pos, ref, alt) \
             SELECT n, $1, c, p, r, a FROM UNNEST($2::text[], $3::text[], $4::bigint[], \
               $5::text[], $6::text[]) AS t(n, c, p, r, a) \
             ON CONFLICT DO NOTHING",
        )
        .bind(key)
        .bind(names.iter().map(|(_, n)| *n).collect::<Vec<_>>())
        .bind(
            names
                .iter()
                .map(|(k, _)| k.chrom.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            names
                .iter()
                .map(|(k, _)| i64::from(k.pos))
                .collect::<Vec<_>>(),
        )
        .bind(
            names
                .iter()
                .map(|(k, _)| k.reference.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            names
                .iter()
                .map(|(k, _)| k.alternate.as_str())
                .collect::<Vec<_>>(),
        )
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

type CallDbRow = (
    i64,
    String,
    i64,
    String,
    String,
    i64,
    i64,
    Option<f64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
);

fn bad(what: &'static str) -> StoreError {
    StoreError::invalid_data("variant call", what, format!("an invalid {what}"))
}

fn call_from_db(row: CallDbRow) -> Result<CallRow, StoreError> {
    let (specimen, chrom, pos, reference, alternate, copies, ploidy, fraction, depth, ad, total) =
        row;
    let small = |v: Option<i64>| v.and_then(|v| u32::try_from(v).ok());
    let pos = u32::try_from(pos).map_err(|_| bad("position"))?;
    Ok(CallRow {
        specimen: u32::try_from(specimen).map_err(|_| bad("specimen"))?,
        key: VariantKey::parse(&chrom, pos, &reference, &alternate).map_err(|_| bad("allele"))?,
        copies: u8::try_from(copies).map_err(|_| bad("copy count"))?,
        call: SampleCall {
            ploidy: u8::try_from(ploidy).map_err(|_| bad("ploidy"))?,
            // Reason: stored from an f32, so it fits.
            #[allow(clippy::cast_possible_truncation)]
            allele_fraction: fraction.map(|f| f as f32),
            depth: small(depth),
            allele_depth: small(ad),
            total_allele_depth: small(total),
        },
    })
}

fn key_from_db(
    chrom: &str,
    pos: i64,
    reference: &str,
    alternate: &str,
) -> Result<VariantKey, StoreError> {
    let pos = u32::try_from(pos).map_err(|_| bad("position"))?;
    VariantKey::parse(chrom, pos, reference, alternate).map_err(|_| bad("allele"))
}

impl Store {
    /// The calls of `specimens` (ordinals) in a dataset on `chrom` at positions `first..=last`
    /// (1-based), ordered by specimen and position.
    ///
    /// # Errors
    /// [`StoreError::InvalidData`] when a stored row does not parse.
    pub async fn calls_of_specimens(
        &self,
        dataset: &DatasetId,
        specimens: &[u32],
        chrom: &str,
        (first, last): (u32, u32),
    ) -> Result<Vec<CallRow>, StoreError> {
        let mut out = Vec::new();
        for &specimen in specimens {
            let rows: Vec<CallDbRow> = with_pool!(self, |p| {
                sqlx::query_as(
                    "SELECT specimen, chrom, pos, ref, alt, copies, ploidy, allele_fraction, depth, \
                       allele_depth, total_allele_depth FROM variant_calls \
                     WHERE dataset_key = (SELECT key FROM datasets WHERE id = $1) \
                       AND specimen = $2 AND chrom = $3 AND pos >= $4 AND pos <= $5 \
                     ORDER BY pos, ref, alt",
                )
                .bind(dataset.as_str())
                .bind(i64::from(specimen))
                .bind(chrom)
                .bind(i64::from(first))
                .bind(i64::from(last))
                .fetch_all(p)
                .await?
            });
            for r in rows {
                out.push(call_from_db(r)?);
            }
        }
        Ok(out)
    }

    /// What the dataset's inputs said about the alleles on `chrom` at positions `first..=last`.
    ///
    /// # Errors
    /// [`StoreError::InvalidData`] when a stored row does not parse.
    pub async fn variant_notes(
        &self,
        dataset: &DatasetId,
        chrom: &str,
        (first, last): (u32, u32),
    ) -> Result<HashMap<VariantKey, AlleleNotes>, StoreError> {
        let rows: Vec<(String, i64, String, String, String)> = with_pool!(self, |p| {
            sqlx::query_as(
                "SELECT chrom, pos, ref, alt, notes FROM variant_notes \
                 WHERE dataset_key = (SELECT key FROM datasets WHERE id = $1) \
                   AND chrom = $2 AND pos >= $3 AND pos <= $4",
            )
            .bind(dataset.as_str())
            .bind(chrom)
            .bind(i64::from(first))
            .bind(i64::from(last))
            .fetch_all(p)
            .await?
        });
        rows.into_iter()
            .map(|(c, p, r, a, json)| {
                let notes = serde_json::from_str(&json).map_err(|_| bad("annotation"))?;
                Ok((key_from_db(&c, p, &r, &a)?, notes))
            })
            .collect()
    }

    /// The alleles of a dataset an identifier or `transcript:c.` HGVS names (as stored: exact,
    /// case-sensitive).
    ///
    /// # Errors
    /// [`StoreError::InvalidData`] when a stored row does not parse.
    pub async fn variants_named(
        &self,
        dataset: &DatasetId,
        name: &str,
    ) -> Result<Vec<VariantKey>, StoreError> {
        let rows: Vec<(String, i64, String, String)> = with_pool!(self, |p| {
            sqlx::query_as(
                "SELECT chrom, pos, ref, alt FROM variant_names \
                 WHERE name = $1 AND dataset_key = (SELECT key FROM datasets WHERE id = $2) \
                 ORDER BY chrom, pos, ref, alt LIMIT 100",
            )
            .bind(name)
            .bind(dataset.as_str())
            .fetch_all(p)
            .await?
        });
        rows.iter()
            .map(|(c, p, r, a)| key_from_db(c, *p, r, a))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gemj_model::variant::Effect;

    #[test]
    fn names_are_ids_and_coding_hgvs_with_and_without_the_version() {
        let notes = AlleleNotes {
            ids: vec!["rs28934578".into()],
            effects: vec![Effect {
                transcript: Some("NM_000546.6".into()),
                hgvs_c: Some("c.524G>A".into()),
                ..Effect::default()
            }],
            ..AlleleNotes::default()
        };
        assert_eq!(
            names_of(&notes),
            ["NM_000546.6:c.524G>A", "NM_000546:c.524G>A", "rs28934578"]
        );
    }

    #[test]
    fn statements_bind_one_parameter_per_value() {
        assert_eq!(
            values_sql("INSERT INTO t (a, b)", 2, 2, ""),
            "INSERT INTO t (a, b) VALUES (?,?),(?,?) "
        );
    }
}
