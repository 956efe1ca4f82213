//! The ingest transaction: one open write transaction through which the gateway's ingest reads
//! what is stored and writes what an input adds, so that a file or batch is applied whole or
//! not at all. The merge rules live in `gemj-core`; this module only reads and writes rows.
//!
//! Also the reads the clinical exports need: the linkage of hospital patient ids, full birth
//! dates and measurements.

use gemj_model::source::HospitalPatientId;
use gemj_model::{
    ConsentEvent, ConsentState, Demographics, Diagnosis, HpoId, Icd10Code, InstitutionId,
    Measurement, ParticipantId, Phenotype, PhenotypeStatus, Provenance, Specimen, SpecimenId,
};

use gemj_model::Participant;
use gemj_model::chain::{GENESIS, link};
use gemj_model::consent::project;

use crate::catalog::{participant_upsert, specimen_upsert};
use crate::consent::{CONSENT_CHANNEL, append_in_tx, load_events, lock_epoch, parse_event};
use crate::convert::{from_json, parse_variant, rfc3339, to_json, variant_name};
use crate::{AppendOutcome, Pool, Store, StoreError, with_pool};

/// The open transaction, per backend.
enum Tx {
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    /// Not sqlx's `Transaction`: see [`crate::connect::PgTx`].
    Pg(crate::connect::PgTx),
}

/// Runs `$body` with `$tx` bound to the open transaction's connection and `$pg` to whether it
/// is PostgreSQL.
macro_rules! on_tx {
    ($self:expr, |$tx:ident, $pg:ident| $body:expr) => {
        match &mut $self.tx {
            Tx::Sqlite(t) => {
                let $pg = false;
                let $tx = &mut **t;
                $body
            }
            Tx::Pg(t) => {
                let $pg = true;
                let $tx = &mut **t;
                $body
            }
        }
    };
}

/// An open ingest transaction ([`Store::begin_ingest`]). Dropping it without
/// [`IngestTx::commit`] rolls everything back.
pub struct IngestTx {
    tx: Tx,
    /// SQLite: this process's one writer ([`Store::writer`]) until commit or drop.
    _writer: Option<tokio::sync::OwnedMutexGuard<crate::connect::Writer>>,
    store: Store,
    wrote: bool,
}

impl std::fmt::Debug for IngestTx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IngestTx")
            .field("wrote", &self.wrote)
            .finish_non_exhaustive()
    }
}

/// A participant's stored demographics row: `birth_date, provenance`.
type DemographicsRow = (Option<String>, String);

impl Store {
    /// Opens an ingest transaction. On SQLite it takes the write lock at once (`BEGIN
    /// IMMEDIATE`); on PostgreSQL it takes the lock that serialises new participants' ordinals.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn begin_ingest(&self) -> Result<IngestTx, StoreError> {
        let mut writer = None;
        let tx = match &self.pool {
            Pool::Sqlite(pool) => {
                writer = Some(self.owned_write_turn().await?);
                Tx::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?)
            }
            Pool::Pg(pool) => {
                let mut tx = crate::connect::PgTx::begin(pool).await?;
                sqlx::query("SELECT pg_advisory_xact_lock(7243001)")
                    .execute(&mut *tx)
                    .await?;
                Tx::Pg(tx)
            }
        };
        Ok(IngestTx {
            tx,
            _writer: writer,
            store: self.clone(),
            wrote: false,
        })
    }

    /// The participant a hospital patient id is linked to.
    ///
    /// # Errors
    /// [`StoreError::InvalidData`] when the stored id does not parse.
    pub async fn linked_participant(
        &self,
        id: &HospitalPatientId,
    ) -> Result<Option<ParticipantId>, StoreError> {
        let found: Option<String> = with_pool!(self, |p| {
            sqlx::query_scalar(
                "SELECT participant FROM linkage WHERE institution = $1 AND patient = $2",
            )
            .bind(id.institution.as_str())
            .bind(id.patient.as_str())
            .fetch_optional(p)
            .await?
        });
        found
            .map(|s| {
                ParticipantId::parse(&s).map_err(|e| StoreError::invalid_data("linkage", &s, e))
            })
            .transpose()
    }

    /// The hospital patient ids linked to a participant, ordered by institution and id.
    ///
    /// # Errors
    /// [`StoreError::InvalidData`] when a stored institution code does not parse.
    pub async fn hospital_ids_of(
        &self,
        participant: &ParticipantId,
    ) -> Result<Vec<HospitalPatientId>, StoreError> {
        let rows: Vec<(String, String)> = with_pool!(self, |p| {
            sqlx::query_as(
                "SELECT institution, patient FROM linkage WHERE participant = $1 \
                 ORDER BY institution, patient",
            )
            .bind(participant.as_str())
            .fetch_all(p)
            .await?
        });
        rows.into_iter()
            .map(|(institution, patient)| {
                let institution = InstitutionId::parse(&institution)
                    .map_err(|e| StoreError::invalid_data("linkage", &institution, e))?;
                Ok(HospitalPatientId {
                    institution,
                    patient,
                })
            })
            .collect()
    }

    /// A participant's demographics (full birth date), if any source gave them.
    ///
    /// # Errors
    /// [`StoreError::InvalidData`] when the stored row does not parse.
    pub async fn demographics_of(
        &self,
        participant: &ParticipantId,
    ) -> Result<Option<Demographics>, StoreError> {
        let row: Option<DemographicsRow> = with_pool!(self, |p| {
            sqlx::query_as("SELECT birth_date, provenance FROM demographics WHERE participant = $1")
                .bind(participant.as_str())
                .fetch_optional(p)
                .await?
        });
        row.map(|r| demographics_row(participant, r)).transpose()
    }

    /// The datasets that hold a participant.
    ///
    /// # Errors
    /// [`StoreError::InvalidData`] when a stored id does not parse.
    pub async fn datasets_of_participant(
        &self,
        participant: &ParticipantId,
    ) -> Result<Vec<gemj_model::DatasetId>, StoreError> {
        let ids: Vec<String> = with_pool!(self, |p| {
            sqlx::query_scalar(
                "SELECT dataset FROM dataset_participants WHERE participant = $1 ORDER BY dataset",
            )
            .bind(participant.as_str())
            .fetch_all(p)
            .await?
        });
        ids.iter()
            .map(|s| {
                gemj_model::DatasetId::parse(s)
                    .map_err(|e| StoreError::invalid_data("dataset", s, e))
            })
            .collect()
    }

    /// A participant's measurements, ordered by time, then key.
    ///
    /// # Errors
    /// [`StoreError::InvalidData`] when a stored row does not parse.
    pub async fn measurements_of(
        &self,
        participant: &ParticipantId,
    ) -> Result<Vec<Measurement>, StoreError> {
        let rows: Vec<(String, String)> = with_pool!(self, |p| {
            sqlx::query_as(
                "SELECT key, doc FROM measurements WHERE participant = $1 \
                 ORDER BY effective, key",
            )
            .bind(participant.as_str())
            .fetch_all(p)
            .await?
        });
        rows.iter()
            .map(|(key, doc)| from_json("measurement", key, doc))
            .collect()
    }
}

fn demographics_row(
    participant: &ParticipantId,
    (birth_date, provenance): DemographicsRow,
) -> Result<Demographics, StoreError> {
    let id = participant.as_str();
    Ok(Demographics {
        participant: participant.clone(),
        birth_date: crate::clinical::parse_date("demographics", id, birth_date)?,
        provenance: from_json("demographics", id, &provenance)?,
    })
}

impl IngestTx {
    /// Commits everything written through this transaction.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn commit(self) -> Result<(), StoreError> {
        match self.tx {
            Tx::Sqlite(t) => t.commit().await?,
            Tx::Pg(t) => t.commit().await?,
        }
        if self.wrote {
            self.store.catalogue_written();
        }
        Ok(())
    }

    /// Whether anything was written through this transaction.
    #[must_use]
    pub fn wrote(&self) -> bool {
        self.wrote
    }

    /// Stores an institution if it is not stored yet (an existing name is kept).
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn ensure_institution(
        &mut self,
        id: &InstitutionId,
        name: &str,
    ) -> Result<(), StoreError> {
        let done = on_tx!(self, |tx, _pg| {
            sqlx::query(
                "INSERT INTO institutions (id, name) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING",
            )
            .bind(id.as_str())
            .bind(name)
            .execute(&mut *tx)
            .await?
            .rows_affected()
        });
        self.wrote |= done > 0;
        Ok(())
    }

    /// A stored participant.
    ///
    /// # Errors
    /// [`StoreError::InvalidData`] when the stored row does not parse.
    pub async fn participant(
        &mut self,
        id: &ParticipantId,
    ) -> Result<Option<Participant>, StoreError> {
        let doc: Option<String> = on_tx!(self, |tx, _pg| {
            sqlx::query_scalar("SELECT doc FROM participants WHERE id = $1")
                .bind(id.as_str())
                .fetch_optional(&mut *tx)
                .await?
        });
        doc.map(|d| from_json("participant", id.as_str(), &d))
            .transpose()
    }

    /// Inserts or replaces a participant (a new one gets the next ordinal).
    ///
    /// # Errors
    /// [`StoreError::MissingReference`] when the institution is not stored.
    pub async fn put_participant(&mut self, p: &Participant) -> Result<(), StoreError> {
        let doc = to_json("participant", p.id.as_str(), p)?;
        on_tx!(self, |tx, _pg| {
            participant_upsert!(p, doc)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::write("participant", p.id.as_str()))?;
        });
        self.wrote = true;
        Ok(())
    }

    /// The participant a hospital patient id is linked to.
    ///
    /// # Errors
    /// [`StoreError::InvalidData`] when the stored id does not parse.
    pub async fn linkage(
        &mut self,
        id: &HospitalPatientId,
    ) -> Result<Option<ParticipantId>, StoreError> {
        let found: Option<String> = on_tx!(self, |tx, _pg| {
            sqlx::query_scalar(
                "SELECT participant FROM linkage WHERE institution = $1 AND patient = $2",
            )
            .bind(id.institution.as_str())
            .bind(id.patient.as_str())
            .fetch_optional(&mut *tx)
            .await?
        });
        found
            .map(|s| {
                ParticipantId::parse(&s).map_err(|e| StoreError::invalid_data("linkage", &s, e))
            })
            .transpose()
    }

    /// Links a hospital patient id to a participant (replacing an earlier link of that id).
    ///
    /// # Errors
    /// [`StoreError::MissingReference`] when the participant is not stored.
    pub async fn put_linkage(
        &mut self,
        id: &HospitalPatientId,
        participant: &ParticipantId,
        provenance: &[Provenance],
    ) -> Result<(), StoreError> {
        let key = format!("{}/{}", id.institution, id.patient);
        let prov = to_json("linkage", &key, &provenance)?;
        on_tx!(self, |tx, _pg| {
            sqlx::query(
                "INSERT INTO linkage (institution, patient, participant, provenance) \
                 VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (institution, patient) DO UPDATE SET \
                   participant = excluded.participant, provenance = excluded.provenance",
            )
            .bind(id.institution.as_str())
            .bind(id.patient.as_str())
            .bind(participant.as_str())
            .bind(prov.as_str())
            .execute(&mut *tx)
            .await
            .map_err(StoreError::write("linkage", &key))?;
        });
        self.wrote = true;
        Ok(())
    }

    /// A stored specimen.
    ///
    /// # Errors
    /// [`StoreError::InvalidData`] when the stored row does not parse.
    pub async fn specimen(&mut self, id: &SpecimenId) -> Result<Option<Specimen>, StoreError> {
        let doc: Option<String> = on_tx!(self, |tx, _pg| {
            sqlx::query_scalar("SELECT doc FROM specimens WHERE id = $1")
                .bind(id.as_str())
                .fetch_optional(&mut *tx)
                .await?
        });
        doc.map(|d| from_json("specimen", id.as_str(), &d))
            .transpose()
    }

    /// Inserts or replaces a specimen. Its participant and parent must be stored.
    ///
    /// # Errors
    /// [`StoreError::MissingReference`] when the participant or the parent is not stored.
    pub async fn put_specimen(&mut self, specimen: &Specimen) -> Result<(), StoreError> {
        let id = specimen.id.as_str();
        let doc = to_json("specimen", id, specimen)?;
        on_tx!(self, |tx, _pg| {
            specimen_upsert!(specimen, doc)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::write("specimen", id))?;
        });
        self.wrote = true;
        Ok(())
    }

    /// A stored diagnosis.
    ///
    /// # Errors
    /// [`StoreError::InvalidData`] when the stored row does not parse.
    pub async fn diagnosis(
        &mut self,
        participant: &ParticipantId,
        icd10: &Icd10Code,
    ) -> Result<Option<Diagnosis>, StoreError> {
        type Row = (
            String,
            Option<String>,
            Option<String>,
            Option<String>,
            String,
            Option<String>,
        );
        let row: Option<Row> = on_tx!(self, |tx, _pg| {
            sqlx::query_as(
                "SELECT source_code, source_system, onset, recorded, provenance, details \
                 FROM diagnoses WHERE participant = $1 AND icd10 = $2",
            )
            .bind(participant.as_str())
            .bind(icd10.as_str())
            .fetch_optional(&mut *tx)
            .await?
        });
        let key = format!("{participant}/{icd10}");
        row.map(
            |(source_code, source_system, onset, recorded, provenance, details)| {
                Ok(Diagnosis {
                    participant: participant.clone(),
                    icd10: icd10.clone(),
                    source_code,
                    source_system,
                    onset: crate::clinical::parse_date("diagnosis", &key, onset)?,
                    recorded: crate::clinical::parse_date("diagnosis", &key, recorded)?,
                    provenance: from_json("diagnosis", &key, &provenance)?,
                    details: details
                        .map(|d| from_json("diagnosis", &key, &d))
                        .transpose()?
                        .unwrap_or_default(),
                })
            },
        )
        .transpose()
    }

    /// Inserts or replaces a diagnosis (the merge is the caller's).
    ///
    /// # Errors
    /// [`StoreError::MissingReference`] when the participant is not stored.
    pub async fn put_diagnosis(&mut self, d: &Diagnosis) -> Result<(), StoreError> {
        let key = format!("{}/{}", d.participant, d.icd10);
        let provenance = to_json("diagnosis", &key, &d.provenance)?;
        let details = if d.details.is_empty() {
            None
        } else {
            Some(to_json("diagnosis", &key, &d.details)?)
        };
        on_tx!(self, |tx, _pg| {
            sqlx::query(
                "INSERT INTO diagnoses (participant, icd10, category, source_code, \
                   source_system, onset, recorded, provenance, details) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                 ON CONFLICT (participant, icd10) DO UPDATE SET \
                   source_code = excluded.source_code, source_system = excluded.source_system, \
                   onset = excluded.onset, recorded = excluded.recorded, \
                   provenance = excluded.provenance, details = excluded.details",
            )
            .bind(d.participant.as_str())
            .bind(d.icd10.as_str())
            .bind(d.icd10.category())
            .bind(d.source_code.as_str())
            .bind(d.source_system.as_deref())
            .bind(d.onset.map(|x| x.to_string()))
            .bind(d.recorded.map(|x| x.to_string()))
            .bind(provenance.as_str())
            .bind(details.as_deref())
            .execute(&mut *tx)
            .await
            .map_err(StoreError::write("diagnosis", &key))?;
        });
        self.wrote = true;
        Ok(())
    }

    /// A stored phenotype.
    ///
    /// # Errors
    /// [`StoreError::InvalidData`] when the stored row does not parse.
    pub async fn phenotype(
        &mut self,
        participant: &ParticipantId,
        hpo: &HpoId,
    ) -> Result<Option<Phenotype>, StoreError> {
        let row: Option<(String, Option<String>, String)> = on_tx!(self, |tx, _pg| {
            sqlx::query_as(
                "SELECT status, onset, provenance FROM phenotypes \
                 WHERE participant = $1 AND hpo = $2",
            )
            .bind(participant.as_str())
            .bind(hpo.as_str())
            .fetch_optional(&mut *tx)
            .await?
        });
        let key = format!("{participant}/{}", hpo.as_str());
        row.map(|(status, onset, provenance)| {
            Ok(Phenotype {
                participant: participant.clone(),
                hpo: hpo.clone(),
                status: parse_variant::<PhenotypeStatus>("phenotype", &key, &status)?,
                onset: crate::clinical::parse_date("phenotype", &key, onset)?,
                provenance: from_json("phenotype", &key, &provenance)?,
            })
        })
        .transpose()
    }

    /// Inserts or replaces a phenotype (the merge is the caller's).
    ///
    /// # Errors
    /// [`StoreError::MissingReference`] when the participant is not stored.
    pub async fn put_phenotype(&mut self, p: &Phenotype) -> Result<(), StoreError> {
        let key = format!("{}/{}", p.participant, p.hpo.as_str());
        let provenance = to_json("phenotype", &key, &p.provenance)?;
        on_tx!(self, |tx, _pg| {
            sqlx::query(
                "INSERT INTO phenotypes (participant, hpo, status, onset, provenance) \
                 VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (participant, hpo) DO UPDATE SET status = excluded.status, \
                   onset = excluded.onset, provenance = excluded.provenance",
            )
            .bind(p.participant.as_str())
            .bind(p.hpo.as_str())
            .bind(variant_name(&p.status))
            .bind(p.onset.map(|x| x.to_string()))
            .bind(provenance.as_str())
            .execute(&mut *tx)
            .await
            .map_err(StoreError::write("phenotype", &key))?;
        });
        self.wrote = true;
        Ok(())
    }

    /// A participant's stored demographics.
    ///
    /// # Errors
    /// [`StoreError::InvalidData`] when the stored row does not parse.
    pub async fn demographics(
        &mut self,
        participant: &ParticipantId,
    ) -> Result<Option<Demographics>, StoreError> {
        let row: Option<DemographicsRow> = on_tx!(self, |tx, _pg| {
            sqlx::query_as("SELECT birth_date, provenance FROM demographics WHERE participant = $1")
                .bind(participant.as_str())
                .fetch_optional(&mut *tx)
                .await?
        });
        row.map(|r| demographics_row(participant, r)).transpose()
    }

    /// Inserts or replaces a participant's demographics.
    ///
    /// # Errors
    /// [`StoreError::MissingReference`] when the participant is not stored.
    pub async fn put_demographics(&mut self, d: &Demographics) -> Result<(), StoreError> {
        let id = d.participant.as_str();
        let provenance = to_json("demographics", id, &d.provenance)?;
        on_tx!(self, |tx, _pg| {
            sqlx::query(
                "INSERT INTO demographics (participant, birth_date, provenance) \
                 VALUES ($1, $2, $3) \
                 ON CONFLICT (participant) DO UPDATE SET birth_date = excluded.birth_date, \
                   provenance = excluded.provenance",
            )
            .bind(id)
            .bind(d.birth_date.map(|x| x.to_string()))
            .bind(provenance.as_str())
            .execute(&mut *tx)
            .await
            .map_err(StoreError::write("demographics", id))?;
        });
        self.wrote = true;
        Ok(())
    }

    /// A stored measurement by its key ([`Measurement::key`]).
    ///
    /// # Errors
    /// [`StoreError::InvalidData`] when the stored row does not parse.
    pub async fn measurement(
        &mut self,
        participant: &ParticipantId,
        key: &str,
    ) -> Result<Option<Measurement>, StoreError> {
        let doc: Option<String> = on_tx!(self, |tx, _pg| {
            sqlx::query_scalar("SELECT doc FROM measurements WHERE participant = $1 AND key = $2")
                .bind(participant.as_str())
                .bind(key)
                .fetch_optional(&mut *tx)
                .await?
        });
        doc.map(|d| from_json("measurement", key, &d)).transpose()
    }

    /// Inserts or replaces a measurement.
    ///
    /// # Errors
    /// [`StoreError::MissingReference`] when the participant is not stored.
    pub async fn put_measurement(&mut self, m: &Measurement) -> Result<(), StoreError> {
        let key = m.key();
        let doc = to_json("measurement", &key, m)?;
        on_tx!(self, |tx, _pg| {
            sqlx::query(
                "INSERT INTO measurements (participant, key, order_no, code, effective, doc) \
                 VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (participant, key) DO UPDATE SET order_no = excluded.order_no, \
                   code = excluded.code, effective = excluded.effective, doc = excluded.doc",
            )
            .bind(m.participant.as_str())
            .bind(key.as_str())
            .bind(m.order.as_deref())
            .bind(m.code.code.as_str())
            .bind(m.effective.as_deref())
            .bind(doc.as_str())
            .execute(&mut *tx)
            .await
            .map_err(StoreError::write("measurement", &key))?;
        });
        self.wrote = true;
        Ok(())
    }

    /// Whether a source deleted this order of the participant.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn order_deleted(
        &mut self,
        participant: &ParticipantId,
        order: &str,
    ) -> Result<bool, StoreError> {
        let n: i64 = on_tx!(self, |tx, _pg| {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM deleted_orders WHERE participant = $1 AND order_no = $2",
            )
            .bind(participant.as_str())
            .bind(order)
            .fetch_one(&mut *tx)
            .await?
        });
        Ok(n > 0)
    }

    /// Deletes an order: removes its measurements and remembers the deletion. Returns how many
    /// measurements were removed, or `None` when the deletion was already recorded and nothing
    /// was left to remove.
    ///
    /// # Errors
    /// [`StoreError::MissingReference`] when the participant is not stored.
    pub async fn delete_order(
        &mut self,
        participant: &ParticipantId,
        order: &str,
        provenance: &Provenance,
    ) -> Result<Option<u64>, StoreError> {
        let key = format!("{participant}/{order}");
        let prov = to_json("deleted order", &key, &[provenance])?;
        let (removed, recorded) = on_tx!(self, |tx, _pg| {
            let removed =
                sqlx::query("DELETE FROM measurements WHERE participant = $1 AND order_no = $2")
                    .bind(participant.as_str())
                    .bind(order)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            let recorded = sqlx::query(
                "INSERT INTO deleted_orders (participant, order_no, provenance) \
                 VALUES ($1, $2, $3) ON CONFLICT (participant, order_no) DO NOTHING",
            )
            .bind(participant.as_str())
            .bind(order)
            .bind(prov.as_str())
            .execute(&mut *tx)
            .await
            .map_err(StoreError::write("deleted order", &key))?
            .rows_affected();
            (removed, recorded)
        });
        if removed == 0 && recorded == 0 {
            return Ok(None);
        }
        self.wrote = true;
        Ok(Some(removed))
    }

    /// A participant's current consent state, if any event was stored.
    ///
    /// # Errors
    /// [`StoreError::InvalidData`] when the stored state does not parse.
    pub async fn consent_state(
        &mut self,
        participant: &ParticipantId,
    ) -> Result<Option<ConsentState>, StoreError> {
        let state: Option<String> = on_tx!(self, |tx, _pg| {
            sqlx::query_scalar("SELECT state FROM consent_states WHERE participant = $1")
                .bind(participant.as_str())
                .fetch_optional(&mut *tx)
                .await?
        });
        state
            .map(|s| from_json("consent state", participant.as_str(), &s))
            .transpose()
    }

    /// Appends a consent event in this transaction (see [`Store::append_consent_event`]).
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when an event with the same institution and id but other
    /// contents is stored.
    pub async fn append_consent_event(
        &mut self,
        event: &ConsentEvent,
    ) -> Result<AppendOutcome, StoreError> {
        let key = format!("{}/{}", event.institution, event.event_id);
        let body = to_json("consent event", &key, event)?;
        let now = time::OffsetDateTime::now_utc();
        let outcome = self.append_inner(event, &key, &body, now).await?;
        if matches!(outcome, AppendOutcome::Appended { .. }) {
            self.wrote = true;
        }
        Ok(outcome)
    }

    async fn append_inner(
        &mut self,
        event: &ConsentEvent,
        key: &str,
        body: &str,
        now: time::OffsetDateTime,
    ) -> Result<AppendOutcome, StoreError> {
        Ok(on_tx!(self, |tx, pg| {
            append_in_tx!(tx, pg, event, key, body, now)
        }))
    }
}
