//! A consistent read of the whole clinical catalogue (participants with their bitmap ordinals,
//! specimens, sequencing runs, analyses, diagnoses, phenotypes, datasets and their members),
//! for services that answer from an in-memory index, such as Beacon. Tagged with the catalogue
//! epoch it was read at: it is current while [`Store::catalogue_epoch`] is unchanged.

use gemj_model::{
    Analysis, Dataset, Diagnosis, HpoId, Icd10Code, Participant, ParticipantId, Phenotype,
    PhenotypeStatus, SequencingRun, Specimen,
};

use crate::convert::{from_json, parse_variant, to_u32};
use crate::{Store, StoreError, with_pool};

/// Everything a catalogue index is built from, read at one catalogue epoch.
#[derive(Debug, Clone, Default)]
pub struct CatalogueSnapshot {
    /// The catalogue epoch the rows were read at.
    pub epoch: i64,
    /// Participants with their bitmap ordinals, ordered by id.
    pub participants: Vec<(Participant, u32)>,
    /// Specimens, ordered by id.
    pub specimens: Vec<Specimen>,
    /// Each specimen's bitmap ordinal (its position in [`crate::VariantRow::callsets`]), by
    /// specimen id.
    pub specimen_ordinals: std::collections::HashMap<String, u32>,
    /// Sequencing runs, ordered by id.
    pub runs: Vec<SequencingRun>,
    /// Analyses, ordered by id.
    pub analyses: Vec<Analysis>,
    /// Diagnoses, ordered by participant and code.
    pub diagnoses: Vec<Diagnosis>,
    /// Phenotypes, ordered by participant and term.
    pub phenotypes: Vec<Phenotype>,
    /// Datasets, ordered by id.
    pub datasets: Vec<Dataset>,
    /// Dataset members as (dataset, participant), ordered.
    pub dataset_participants: Vec<(String, ParticipantId)>,
}

/// How many times a snapshot is re-read when a writer changed the catalogue while it was read.
const ATTEMPTS: usize = 5;

type DiagnosisRow = (
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
);

impl Store {
    /// Reads the clinical catalogue at one catalogue epoch (re-read while writers change it,
    /// at most a few times; the last read is returned tagged with the epoch read before it,
    /// so a cache built from it is refreshed at the next epoch check).
    ///
    /// # Errors
    /// [`StoreError::Database`], or [`StoreError::InvalidData`] when a stored row does not
    /// parse.
    pub async fn catalogue_snapshot(&self) -> Result<CatalogueSnapshot, StoreError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let epoch = self.catalogue_epoch().await?;
            let snapshot = self.read_snapshot(epoch).await?;
            if attempt >= ATTEMPTS || self.catalogue_epoch().await? == epoch {
                return Ok(snapshot);
            }
        }
    }

    async fn read_snapshot(&self, epoch: i64) -> Result<CatalogueSnapshot, StoreError> {
        let participants: Vec<(String, i64, String)> = with_pool!(self, |p| {
            sqlx::query_as("SELECT id, ordinal, doc FROM participants ORDER BY id")
                .fetch_all(p)
                .await?
        });
        let participants = participants
            .iter()
            .map(|(id, ordinal, doc)| {
                Ok((
                    from_json::<Participant>("participant", id, doc)?,
                    to_u32("participant", id, *ordinal)?,
                ))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let specimens = self
            .docs::<Specimen>("specimen", "SELECT id, doc FROM specimens ORDER BY id")
            .await?;
        let ordinals: Vec<(String, i64)> = with_pool!(self, |p| {
            sqlx::query_as("SELECT id, ordinal FROM specimens WHERE ordinal IS NOT NULL")
                .fetch_all(p)
                .await?
        });
        let specimen_ordinals = ordinals
            .into_iter()
            .map(|(id, ordinal)| {
                let ordinal = to_u32("specimen", &id, ordinal)?;
                Ok((id, ordinal))
            })
            .collect::<Result<_, StoreError>>()?;
        let runs = self
            .docs::<SequencingRun>(
                "sequencing run",
                "SELECT id, doc FROM sequencing_runs ORDER BY id",
            )
            .await?;
        let analyses = self
            .docs::<Analysis>("analysis", "SELECT id, doc FROM analyses ORDER BY id")
            .await?;
        let rows: Vec<DiagnosisRow> = with_pool!(self, |p| {
            sqlx::query_as(
                "SELECT participant, icd10, source_code, source_system, onset, recorded, \
                 provenance FROM diagnoses ORDER BY participant, icd10",
            )
            .fetch_all(p)
            .await?
        });
        let diagnoses = rows
            .into_iter()
            .map(
                |(participant, icd10, source_code, source_system, onset, recorded, provenance)| {
                    let key = format!("{participant}/{icd10}");
                    let bad =
                        |e: gemj_model::ModelError| StoreError::invalid_data("diagnosis", &key, e);
                    Ok(Diagnosis {
                        participant: ParticipantId::parse(&participant).map_err(bad)?,
                        icd10: Icd10Code::parse(&icd10).map_err(bad)?,
                        source_code,
                        source_system,
                        onset: crate::clinical::parse_date("diagnosis", &key, onset)?,
                        recorded: crate::clinical::parse_date("diagnosis", &key, recorded)?,
                        provenance: from_json("diagnosis", &key, &provenance)?,
                        details: Default::default(),
                    })
                },
            )
            .collect::<Result<Vec<_>, StoreError>>()?;
        let rows: Vec<(String, String, String, Option<String>, String)> = with_pool!(self, |p| {
            sqlx::query_as(
                "SELECT participant, hpo, status, onset, provenance FROM phenotypes \
                 ORDER BY participant, hpo",
            )
            .fetch_all(p)
            .await?
        });
        let phenotypes = rows
            .into_iter()
            .map(|(participant, hpo, status, onset, provenance)| {
                let key = format!("{participant}/{hpo}");
                let bad =
                    |e: gemj_model::ModelError| StoreError::invalid_data("phenotype", &key, e);
                Ok(Phenotype {
                    participant: ParticipantId::parse(&participant).map_err(bad)?,
                    hpo: HpoId::parse(&hpo).map_err(bad)?,
                    status: parse_variant::<PhenotypeStatus>("phenotype", &key, &status)?,
                    onset: crate::clinical::parse_date("phenotype", &key, onset)?,
                    provenance: from_json("phenotype", &key, &provenance)?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let datasets = self.list_datasets().await?;
        let members: Vec<(String, String)> = with_pool!(self, |p| {
            sqlx::query_as(
                "SELECT dataset, participant FROM dataset_participants \
                 ORDER BY dataset, participant",
            )
            .fetch_all(p)
            .await?
        });
        let dataset_participants = members
            .into_iter()
            .map(|(d, p)| {
                let id = ParticipantId::parse(&p)
                    .map_err(|e| StoreError::invalid_data("dataset member", &p, e))?;
                Ok((d, id))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(CatalogueSnapshot {
            epoch,
            participants,
            specimens,
            specimen_ordinals,
            runs,
            analyses,
            diagnoses,
            phenotypes,
            datasets,
            dataset_participants,
        })
    }

    /// The `(id, doc)` rows `sql` selects, parsed.
    async fn docs<T: serde::de::DeserializeOwned>(
        &self,
        entity: &'static str,
        sql: &'static str,
    ) -> Result<Vec<T>, StoreError> {
        let rows: Vec<(String, String)> =
            with_pool!(self, |p| sqlx::query_as(sql).fetch_all(p).await?);
        rows.iter()
            .map(|(id, doc)| from_json(entity, id, doc))
            .collect()
    }
}
