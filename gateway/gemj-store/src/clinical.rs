//! Clinical findings (diagnoses in ICD-10, phenotypes in HPO, each with its provenance) and the
//! gene table used to turn gene names into genomic ranges.

use gemj_model::{
    Diagnosis, HpoId, Icd10Code, PartialDate, ParticipantId, Phenotype, PhenotypeStatus, Provenance,
};

use crate::convert::{from_json, parse_variant, to_json, to_u32, variant_name};
use crate::{Store, StoreError, with_pool, with_tx};

/// A gene and where it lies, as loaded from a gene annotation table.
///
/// # Examples
/// ```
/// let g = gemj_store::Gene {
///     name: "GENE1".into(),
///     gene_id: "GEMJG0001".into(),
///     chrom: "chr20".into(),
///     start: 10_001,
///     end: 12_000,
///     strand: "+".into(),
/// };
/// assert!(g.start <= g.end);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gene {
    /// Gene symbol, e.g. `BRCA1`.
    pub name: String,
    /// Stable gene id, e.g. an Ensembl id (the key).
    pub gene_id: String,
    /// Chromosome, as named in the gateway's files.
    pub chrom: String,
    /// 1-based first position.
    pub start: u32,
    /// 1-based last position (inclusive).
    pub end: u32,
    /// `+` or `-`.
    pub strand: String,
}

/// How many times an upsert retries after losing an insert race to a concurrent writer.
const UPSERT_ATTEMPTS: usize = 3;

/// Appends to `old` the entries of `new` it does not already have, keeping order.
fn merge_provenance(mut old: Vec<Provenance>, new: &[Provenance]) -> Vec<Provenance> {
    for p in new {
        if !old.contains(p) {
            old.push(p.clone());
        }
    }
    old
}

fn date_text(d: Option<PartialDate>) -> Option<String> {
    d.map(|d| d.to_string())
}

pub(crate) fn parse_date(
    entity: &'static str,
    id: &str,
    text: Option<String>,
) -> Result<Option<PartialDate>, StoreError> {
    text.map(|t| PartialDate::parse(&t).map_err(|e| StoreError::invalid_data(entity, id, e)))
        .transpose()
}

impl Store {
    /// Inserts a diagnosis, or merges it into the stored one with the same participant and
    /// ICD-10 code: the source code is replaced, the optional fields are replaced when given
    /// (kept otherwise), and provenance entries not yet stored are appended.
    ///
    /// # Errors
    /// [`StoreError::MissingReference`] when the participant is not stored.
    pub async fn upsert_diagnosis(&self, diagnosis: &Diagnosis) -> Result<(), StoreError> {
        let key = format!("{}/{}", diagnosis.participant, diagnosis.icd10);
        let participant = diagnosis.participant.as_str();
        let icd10 = diagnosis.icd10.as_str();
        with_tx!(self, |tx, pg| {
            let mut done = false;
            for _ in 0..UPSERT_ATTEMPTS {
                let old: Option<String> = sqlx::query_scalar(if pg {
                    "SELECT provenance FROM diagnoses WHERE participant = $1 AND icd10 = $2 \
                     FOR UPDATE"
                } else {
                    "SELECT provenance FROM diagnoses WHERE participant = $1 AND icd10 = $2"
                })
                .bind(participant)
                .bind(icd10)
                .fetch_optional(&mut *tx)
                .await?;
                if let Some(old) = old {
                    let old: Vec<Provenance> = from_json("diagnosis", &key, &old)?;
                    let merged = merge_provenance(old, &diagnosis.provenance);
                    sqlx::query(
                        "UPDATE diagnoses SET source_code = $1, \
                           source_system = COALESCE($2, source_system), \
                           onset = COALESCE($3, onset), recorded = COALESCE($4, recorded), \
                           provenance = $5 \
                         WHERE participant = $6 AND icd10 = $7",
                    )
                    .bind(diagnosis.source_code.as_str())
                    .bind(diagnosis.source_system.as_deref())
                    .bind(date_text(diagnosis.onset))
                    .bind(date_text(diagnosis.recorded))
                    .bind(to_json("diagnosis", &key, &merged)?)
                    .bind(participant)
                    .bind(icd10)
                    .execute(&mut *tx)
                    .await?;
                    done = true;
                    break;
                }
                let inserted = sqlx::query(
                    "INSERT INTO diagnoses (participant, icd10, category, source_code, \
                       source_system, onset, recorded, provenance) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
                )
                .bind(participant)
                .bind(icd10)
                .bind(diagnosis.icd10.category())
                .bind(diagnosis.source_code.as_str())
                .bind(diagnosis.source_system.as_deref())
                .bind(date_text(diagnosis.onset))
                .bind(date_text(diagnosis.recorded))
                .bind(to_json("diagnosis", &key, &diagnosis.provenance)?)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::write("diagnosis", &key))?;
                if inserted.rows_affected() == 1 {
                    done = true;
                    break;
                }
            }
            if !done {
                return Err(StoreError::conflict("diagnosis", &key));
            }
        });
        self.catalogue_written();
        Ok(())
    }

    /// A participant's diagnoses, ordered by ICD-10 code.
    ///
    /// # Errors
    /// [`StoreError::InvalidData`] when a stored row does not parse.
    pub async fn diagnoses_of(
        &self,
        participant: &ParticipantId,
    ) -> Result<Vec<Diagnosis>, StoreError> {
        let rows: Vec<DiagnosisDetailRow> = with_pool!(self, |p| {
            sqlx::query_as(
                "SELECT icd10, source_code, source_system, onset, recorded, provenance, details \
                 FROM diagnoses WHERE participant = $1 ORDER BY icd10",
            )
            .bind(participant.as_str())
            .fetch_all(p)
            .await?
        });
        rows.into_iter()
            .map(
                |(icd10, source_code, source_system, onset, recorded, provenance, details)| {
                    let key = format!("{participant}/{icd10}");
                    Ok(Diagnosis {
                        participant: participant.clone(),
                        icd10: Icd10Code::parse(&icd10)
                            .map_err(|e| StoreError::invalid_data("diagnosis", &key, e))?,
                        source_code,
                        source_system,
                        onset: parse_date("diagnosis", &key, onset)?,
                        recorded: parse_date("diagnosis", &key, recorded)?,
                        provenance: from_json("diagnosis", &key, &provenance)?,
                        details: details
                            .map(|d| from_json("diagnosis", &key, &d))
                            .transpose()?
                            .unwrap_or_default(),
                    })
                },
            )
            .collect()
    }

    /// Inserts a phenotype, or merges it into the stored one with the same participant and
    /// HPO term: the status is replaced, the onset replaced when given, and provenance entries
    /// not yet stored are appended.
    ///
    /// # Errors
    /// [`StoreError::MissingReference`] when the participant is not stored.
    pub async fn upsert_phenotype(&self, phenotype: &Phenotype) -> Result<(), StoreError> {
        let key = format!("{}/{}", phenotype.participant, phenotype.hpo.as_str());
        let participant = phenotype.participant.as_str();
        let hpo = phenotype.hpo.as_str();
        let status = variant_name(&phenotype.status);
        with_tx!(self, |tx, pg| {
            let mut done = false;
            for _ in 0..UPSERT_ATTEMPTS {
                let old: Option<String> = sqlx::query_scalar(if pg {
                    "SELECT provenance FROM phenotypes WHERE participant = $1 AND hpo = $2 \
                     FOR UPDATE"
                } else {
                    "SELECT provenance FROM phenotypes WHERE participant = $1 AND hpo = $2"
                })
                .bind(participant)
                .bind(hpo)
                .fetch_optional(&mut *tx)
                .await?;
                if let Some(old) = old {
                    let old: Vec<Provenance> = from_json("phenotype", &key, &old)?;
                    let merged = merge_provenance(old, &phenotype.provenance);
                    sqlx::query(
                        "UPDATE phenotypes SET status = $1, onset = COALESCE($2, onset), \
                           provenance = $3 \
                         WHERE participant = $4 AND hpo = $5",
                    )
                    .bind(status.as_str())
                    .bind(date_text(phenotype.onset))
                    .bind(to_json("phenotype", &key, &merged)?)
                    .bind(participant)
                    .bind(hpo)
                    .execute(&mut *tx)
                    .await?;
                    done = true;
                    break;
                }
                let inserted = sqlx::query(
                    "INSERT INTO phenotypes (participant, hpo, status, onset, provenance) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                )
                .bind(participant)
                .bind(hpo)
                .bind(status.as_str())
                .bind(date_text(phenotype.onset))
                .bind(to_json("phenotype", &key, &phenotype.provenance)?)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::write("phenotype", &key))?;
                if inserted.rows_affected() == 1 {
                    done = true;
                    break;
                }
            }
            if !done {
                return Err(StoreError::conflict("phenotype", &key));
            }
        });
        self.catalogue_written();
        Ok(())
    }

    /// A participant's phenotypes, ordered by HPO term.
    ///
    /// # Errors
    /// [`StoreError::InvalidData`] when a stored row does not parse.
    pub async fn phenotypes_of(
        &self,
        participant: &ParticipantId,
    ) -> Result<Vec<Phenotype>, StoreError> {
        let rows: Vec<(String, String, Option<String>, String)> = with_pool!(self, |p| {
            sqlx::query_as(
                "SELECT hpo, status, onset, provenance FROM phenotypes \
                 WHERE participant = $1 ORDER BY hpo",
            )
            .bind(participant.as_str())
            .fetch_all(p)
            .await?
        });
        rows.into_iter()
            .map(|(hpo, status, onset, provenance)| {
                let key = format!("{participant}/{hpo}");
                Ok(Phenotype {
                    participant: participant.clone(),
                    hpo: HpoId::parse(&hpo)
                        .map_err(|e| StoreError::invalid_data("phenotype", &key, e))?,
                    status: parse_variant::<PhenotypeStatus>("phenotype", &key, &status)?,
                    onset: parse_date("phenotype", &key, onset)?,
                    provenance: from_json("phenotype", &key, &provenance)?,
                })
            })
            .collect()
    }

    /// Inserts or replaces genes (by gene id), in one transaction.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn put_genes(&self, genes: &[Gene]) -> Result<(), StoreError> {
        if genes.is_empty() {
            return Ok(());
        }
        with_tx!(self, |tx| {
            for g in genes {
                sqlx::query(
                    "INSERT INTO genes (gene_id, name, chrom, start_pos, end_pos, strand) \
                     VALUES ($1, $2, $3, $4, $5, $6) \
                     ON CONFLICT (gene_id) DO UPDATE SET name = excluded.name, \
                       chrom = excluded.chrom, start_pos = excluded.start_pos, \
                       end_pos = excluded.end_pos, strand = excluded.strand",
                )
                .bind(g.gene_id.as_str())
                .bind(g.name.as_str())
                .bind(g.chrom.as_str())
                .bind(i64::from(g.start))
                .bind(i64::from(g.end))
                .bind(g.strand.as_str())
                .execute(&mut *tx)
                .await?;
            }
        });
        Ok(())
    }

    /// A gene by its exact name (symbol); with several of one name, the lowest gene id.
    ///
    /// # Errors
    /// [`StoreError::InvalidData`] when a stored position does not fit `u32`.
    pub async fn gene_by_name(&self, name: &str) -> Result<Option<Gene>, StoreError> {
        let row: Option<(String, String, String, i64, i64, String)> = with_pool!(self, |p| {
            sqlx::query_as(
                "SELECT name, gene_id, chrom, start_pos, end_pos, strand FROM genes \
                 WHERE name = $1 ORDER BY gene_id LIMIT 1",
            )
            .bind(name)
            .fetch_optional(p)
            .await?
        });
        row.map(|(name, gene_id, chrom, start, end, strand)| {
            Ok(Gene {
                start: to_u32("gene", &gene_id, start)?,
                end: to_u32("gene", &gene_id, end)?,
                name,
                gene_id,
                chrom,
                strand,
            })
        })
        .transpose()
    }
}

/// `icd10, source_code, source_system, onset, recorded, provenance, details` of a diagnosis
/// row.
type DiagnosisDetailRow = (
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    Option<String>,
);
