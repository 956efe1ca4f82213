//! The catalogue: institutions, participants (and their bitmap ordinals), specimens, sequencing
//! runs, analyses, data objects, datasets and dataset members.
//!
//! Each row keeps the queried fields as columns and the whole model value as JSON in `doc`,
//! which is what is read back.

use gemj_model::{
    Analysis, AnalysisId, DataObject, DataUseCondition, Dataset, DatasetId, InstitutionId,
    ObjectId, Participant, ParticipantId, RunId, SequencingRun, Specimen, SpecimenId,
};

use crate::convert::{
    from_json, json_list, now_rfc3339, page_limit, to_json, to_u32, variant_name,
};
use crate::{Store, StoreError, with_pool, with_tx, with_write};

/// The PostgreSQL notification channel on which every catalogue change is announced (by the
/// triggers of migration 0005, at commit).
pub const CATALOGUE_CHANNEL: &str = "gemj_catalogue";

/// The upsert of one participant (`$p: &Participant`, `$doc`: its JSON): a new participant gets
/// the next ordinal, an existing one keeps its own.
macro_rules! participant_upsert {
    ($p:expr, $doc:expr) => {
        sqlx::query(
            "INSERT INTO participants (id, ordinal, institution, sex, birth, program, doc) \
             VALUES ($1, (SELECT COALESCE(MAX(ordinal) + 1, 0) FROM participants), \
                     $2, $3, $4, $5, $6) \
             ON CONFLICT (id) DO UPDATE SET institution = excluded.institution, \
               sex = excluded.sex, birth = excluded.birth, program = excluded.program, \
               doc = excluded.doc",
        )
        .bind($p.id.as_str())
        .bind($p.institution.as_str())
        .bind($p.sex.as_str())
        .bind($p.birth.map(|b| b.to_string()))
        .bind($p.program.as_str())
        .bind($doc.as_str())
    };
}

/// What carries bitmap ordinals.
#[derive(Debug, Clone, Copy)]
enum Numbered {
    /// Participants (variant rows' carriers).
    Participants = 0,
    /// Specimens (variant rows' calls).
    Specimens = 1,
}

/// The upsert of one specimen (`$s: &Specimen`, `$doc`: its JSON): a new specimen gets the
/// next ordinal (its position in variant rows' call bitmaps), an existing one keeps its own.
/// On PostgreSQL the caller holds the ordinal lock (advisory lock 7243001).
macro_rules! specimen_upsert {
    ($s:expr, $doc:expr) => {
        sqlx::query(
            "INSERT INTO specimens (id, ordinal, participant, parent, specimen_type, collected, \
               doc) \
             VALUES ($1, (SELECT COALESCE(MAX(ordinal) + 1, 0) FROM specimens), \
                     $2, $3, $4, $5, $6) \
             ON CONFLICT (id) DO UPDATE SET participant = excluded.participant, \
               parent = excluded.parent, specimen_type = excluded.specimen_type, \
               collected = excluded.collected, doc = excluded.doc",
        )
        .bind($s.id.as_str())
        .bind($s.participant.as_str())
        .bind($s.parent.as_ref().map(gemj_model::SpecimenId::as_str))
        .bind(crate::convert::variant_name(&$s.specimen_type))
        .bind($s.collected.map(|d| d.to_string()))
        .bind($doc.as_str())
    };
}

pub(crate) use {participant_upsert, specimen_upsert};

impl Store {
    /// The catalogue epoch: changes in the same transaction as any change to participants,
    /// specimens, data objects (and their specimens), datasets or dataset members, by any
    /// process sharing the database. A value read before a set of catalogue reads tags them:
    /// they are current while the epoch is unchanged.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn catalogue_epoch(&self) -> Result<i64, StoreError> {
        Ok(with_pool!(self, |p| {
            sqlx::query_scalar("SELECT epoch FROM catalogue_epoch WHERE id = 1")
                .fetch_one(p)
                .await?
        }))
    }

    /// How many catalogue writes this handle (or a clone) has committed: changes at once when
    /// this process writes, before the epoch is polled.
    #[must_use]
    pub fn catalogue_writes(&self) -> u64 {
        self.catalogue_writes
            .load(std::sync::atomic::Ordering::Acquire)
    }

    pub(crate) fn catalogue_written(&self) {
        self.catalogue_writes
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }

    /// A subscription to catalogue changes announced by any instance (PostgreSQL `NOTIFY` on
    /// [`CATALOGUE_CHANNEL`]); on SQLite it never wakes and polling is the whole mechanism.
    ///
    /// # Errors
    /// When the listening connection cannot be opened.
    pub async fn catalogue_changes(&self) -> Result<crate::ConsentChanges, StoreError> {
        self.changes_on(CATALOGUE_CHANNEL).await
    }

    /// Stores an institution, or renames it.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn put_institution(&self, id: &InstitutionId, name: &str) -> Result<(), StoreError> {
        with_write!(self, |p| {
            sqlx::query(
                "INSERT INTO institutions (id, name) VALUES ($1, $2) \
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name",
            )
            .bind(id.as_str())
            .bind(name)
            .execute(p)
            .await?;
        });
        Ok(())
    }

    /// Inserts or updates a participant. A new participant gets the next ordinal; an existing
    /// one keeps its ordinal.
    ///
    /// # Errors
    /// [`StoreError::MissingReference`] when the institution is not stored.
    pub async fn upsert_participant(&self, participant: &Participant) -> Result<(), StoreError> {
        self.upsert_participants(std::slice::from_ref(participant))
            .await
    }

    /// Inserts or updates participants in one transaction (see [`Store::upsert_participant`]).
    ///
    /// # Errors
    /// [`StoreError::MissingReference`] when an institution is not stored.
    pub async fn upsert_participants(
        &self,
        participants: &[Participant],
    ) -> Result<(), StoreError> {
        if participants.is_empty() {
            return Ok(());
        }
        let docs = participants
            .iter()
            .map(|p| to_json("participant", p.id.as_str(), p))
            .collect::<Result<Vec<_>, _>>()?;
        with_tx!(self, |tx, pg| {
            if pg {
                // Reason: ordinals are MAX + 1; new participants are inserted one at a time.
                sqlx::query("SELECT pg_advisory_xact_lock(7243001)")
                    .execute(&mut *tx)
                    .await?;
            }
            for (p, doc) in participants.iter().zip(&docs) {
                participant_upsert!(p, doc)
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::write("participant", p.id.as_str()))?;
            }
        });
        self.catalogue_written();
        Ok(())
    }

    /// A participant by id.
    ///
    /// # Errors
    /// [`StoreError::InvalidData`] when the stored row does not parse.
    pub async fn get_participant(
        &self,
        id: &ParticipantId,
    ) -> Result<Option<Participant>, StoreError> {
        let doc: Option<String> = with_pool!(self, |p| {
            sqlx::query_scalar("SELECT doc FROM participants WHERE id = $1")
                .bind(id.as_str())
                .fetch_optional(p)
                .await?
        });
        doc.map(|d| from_json("participant", id.as_str(), &d))
            .transpose()
    }

    /// Participants ordered by id, after `after` (keyset pagination), at most `limit`.
    ///
    /// # Errors
    /// [`StoreError::InvalidData`] when a stored row does not parse.
    pub async fn list_participants(
        &self,
        after: Option<&ParticipantId>,
        limit: u32,
    ) -> Result<Vec<Participant>, StoreError> {
        let rows: Vec<(String, String)> = with_pool!(self, |p| match after {
            Some(after) => {
                sqlx::query_as(
                    "SELECT id, doc FROM participants WHERE id > $1 ORDER BY id LIMIT $2",
                )
                .bind(after.as_str())
                .bind(page_limit(limit))
                .fetch_all(p)
                .await?
            }
            None => {
                sqlx::query_as("SELECT id, doc FROM participants ORDER BY id LIMIT $1")
                    .bind(page_limit(limit))
                    .fetch_all(p)
                    .await?
            }
        });
        rows.iter()
            .map(|(id, doc)| from_json("participant", id, doc))
            .collect()
    }

    /// The ids of an institution's participants, ordered, after `after`, at most `limit`.
    ///
    /// # Errors
    /// [`StoreError::InvalidData`] when a stored id does not parse.
    pub async fn participants_of_institution(
        &self,
        institution: &InstitutionId,
        after: Option<&ParticipantId>,
        limit: u32,
    ) -> Result<Vec<ParticipantId>, StoreError> {
        let rows: Vec<String> = with_pool!(self, |p| {
            sqlx::query_scalar(
                "SELECT id FROM participants WHERE institution = $1 AND id > $2 ORDER BY id LIMIT $3",
            )
            .bind(institution.as_str())
            .bind(after.map_or("", ParticipantId::as_str))
            .bind(page_limit(limit))
            .fetch_all(p)
            .await?
        });
        rows.iter()
            .map(|id| {
                ParticipantId::parse(id).map_err(|e| StoreError::invalid_data("participant", id, e))
            })
            .collect()
    }

    /// How many participants are stored.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn count_participants(&self) -> Result<u64, StoreError> {
        self.count_rows("SELECT COUNT(*) FROM participants").await
    }

    /// The bitmap ordinals of the given participants (unknown ids are left out), ordered by id.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn participant_ordinals(
        &self,
        ids: &[ParticipantId],
    ) -> Result<Vec<(ParticipantId, u32)>, StoreError> {
        let list = json_list(ids.iter().map(ParticipantId::as_str));
        self.ordinals(Numbered::Participants, list, ParticipantId::parse)
            .await
    }

    /// The participants with the given ordinals (unknown ordinals are left out), ordered by
    /// ordinal.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn participants_by_ordinals(
        &self,
        ordinals: &[u32],
    ) -> Result<Vec<ParticipantId>, StoreError> {
        if ordinals.is_empty() {
            return Ok(Vec::new());
        }
        let list = serde_json::to_string(ordinals).unwrap_or_else(|_| "[]".to_owned());
        let ids: Vec<String> = with_pool!(self, |p, pg| {
            sqlx::query_scalar(if pg {
                "SELECT id FROM participants \
                 WHERE ordinal IN (SELECT json_array_elements_text($1::json)::bigint) \
                 ORDER BY ordinal"
            } else {
                "SELECT id FROM participants \
                 WHERE ordinal IN (SELECT value FROM json_each($1)) ORDER BY ordinal"
            })
            .bind(list)
            .fetch_all(p)
            .await?
        });
        ids.into_iter().map(parse_participant_id).collect()
    }

    /// Inserts or updates a specimen. Its participant and parent must be stored.
    ///
    /// # Errors
    /// [`StoreError::MissingReference`] when the participant or the parent is not stored.
    pub async fn upsert_specimen(&self, specimen: &Specimen) -> Result<(), StoreError> {
        let id = specimen.id.as_str();
        let doc = to_json("specimen", id, specimen)?;
        with_tx!(self, |tx, pg| {
            if pg {
                // Reason: ordinals are MAX + 1.
                sqlx::query("SELECT pg_advisory_xact_lock(7243001)")
                    .execute(&mut *tx)
                    .await?;
            }
            specimen_upsert!(specimen, doc)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::write("specimen", id))?;
        });
        self.catalogue_written();
        Ok(())
    }

    /// A specimen by id.
    ///
    /// # Errors
    /// [`StoreError::InvalidData`] when the stored row does not parse.
    pub async fn get_specimen(&self, id: &SpecimenId) -> Result<Option<Specimen>, StoreError> {
        let doc: Option<String> = with_pool!(self, |p| {
            sqlx::query_scalar("SELECT doc FROM specimens WHERE id = $1")
                .bind(id.as_str())
                .fetch_optional(p)
                .await?
        });
        doc.map(|d| from_json("specimen", id.as_str(), &d))
            .transpose()
    }

    /// A participant's specimens, ordered by id.
    ///
    /// # Errors
    /// [`StoreError::InvalidData`] when a stored row does not parse.
    pub async fn specimens_of(
        &self,
        participant: &ParticipantId,
    ) -> Result<Vec<Specimen>, StoreError> {
        let rows: Vec<(String, String)> = with_pool!(self, |p| {
            sqlx::query_as("SELECT id, doc FROM specimens WHERE participant = $1 ORDER BY id")
                .bind(participant.as_str())
                .fetch_all(p)
                .await?
        });
        rows.iter()
            .map(|(id, doc)| from_json("specimen", id, doc))
            .collect()
    }

    /// The participants the given specimens were taken from, distinct and ordered by id (one
    /// query, for the sample columns of a multi-sample file). Unknown specimens are skipped.
    ///
    /// # Errors
    /// [`StoreError::InvalidData`] when a stored id no longer parses.
    pub async fn participants_of_specimens(
        &self,
        specimens: &[SpecimenId],
    ) -> Result<Vec<ParticipantId>, StoreError> {
        if specimens.is_empty() {
            return Ok(Vec::new());
        }
        let list = json_list(specimens.iter().map(SpecimenId::as_str));
        let ids: Vec<String> = with_pool!(self, |p, pg| {
            sqlx::query_scalar(if pg {
                "SELECT DISTINCT participant FROM specimens \
                 WHERE id IN (SELECT json_array_elements_text($1::json)) ORDER BY participant"
            } else {
                "SELECT DISTINCT participant FROM specimens \
                 WHERE id IN (SELECT value FROM json_each($1)) ORDER BY participant"
            })
            .bind(list)
            .fetch_all(p)
            .await?
        });
        ids.into_iter().map(parse_participant_id).collect()
    }

    /// The bitmap ordinal of each stored specimen among `specimens` (unknown ids are left out),
    /// in specimen order: its position in variant rows' call bitmaps
    /// ([`crate::VariantRow::callsets`]).
    ///
    /// # Errors
    /// Store failures; [`StoreError::InvalidData`] for a stored ordinal out of range.
    pub async fn specimen_ordinals(
        &self,
        specimens: &[SpecimenId],
    ) -> Result<Vec<(SpecimenId, u32)>, StoreError> {
        let list = json_list(specimens.iter().map(SpecimenId::as_str));
        self.ordinals(Numbered::Specimens, list, SpecimenId::parse)
            .await
    }

    /// The ids and ordinals of the participants or specimens `list` (a JSON array of ids)
    /// names, ordered by id and parsed with `parse`; unknown ids (and specimens without an
    /// ordinal) are left out.
    async fn ordinals<T>(
        &self,
        which: Numbered,
        list: String,
        parse: fn(&str) -> Result<T, gemj_model::ModelError>,
    ) -> Result<Vec<(T, u32)>, StoreError> {
        if list == "[]" {
            return Ok(Vec::new());
        }
        let entity = match which {
            Numbered::Participants => "participant",
            Numbered::Specimens => "specimen",
        };
        self.ordinal_rows(which, list)
            .await?
            .into_iter()
            .map(|(id, ordinal)| {
                let ordinal = to_u32(entity, &id, ordinal)?;
                let parsed = parse(&id).map_err(|e| StoreError::invalid_data(entity, &id, e))?;
                Ok((parsed, ordinal))
            })
            .collect()
    }

    /// The `(id, ordinal)` rows of the participants or specimens `list` (a JSON array of ids)
    /// names, ordered by id; unknown ids (and specimens without an ordinal) are left out.
    async fn ordinal_rows(
        &self,
        which: Numbered,
        list: String,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        // [which][pg]
        const SQL: [[&str; 2]; 2] = [
            [
                "SELECT id, ordinal FROM participants \
                 WHERE id IN (SELECT value FROM json_each($1)) ORDER BY id",
                "SELECT id, ordinal FROM participants \
                 WHERE id IN (SELECT json_array_elements_text($1::json)) ORDER BY id",
            ],
            [
                "SELECT id, ordinal FROM specimens WHERE ordinal IS NOT NULL \
                 AND id IN (SELECT value FROM json_each($1)) ORDER BY id",
                "SELECT id, ordinal FROM specimens WHERE ordinal IS NOT NULL \
                 AND id IN (SELECT json_array_elements_text($1::json)) ORDER BY id",
            ],
        ];
        Ok(with_pool!(self, |p, pg| {
            sqlx::query_as(SQL[which as usize][usize::from(pg)])
                .bind(list)
                .fetch_all(p)
                .await?
        }))
    }

    /// The participant of each stored specimen among `specimens` (unknown ids are left out),
    /// in specimen order.
    ///
    /// # Errors
    /// Store failures.
    pub async fn specimen_participants(
        &self,
        specimens: &[SpecimenId],
    ) -> Result<Vec<(SpecimenId, ParticipantId)>, StoreError> {
        if specimens.is_empty() {
            return Ok(Vec::new());
        }
        let list = json_list(specimens.iter().map(SpecimenId::as_str));
        let rows: Vec<(String, String)> = with_pool!(self, |p, pg| {
            sqlx::query_as(if pg {
                "SELECT id, participant FROM specimens \
                 WHERE id IN (SELECT json_array_elements_text($1::json)) ORDER BY id"
            } else {
                "SELECT id, participant FROM specimens \
                 WHERE id IN (SELECT value FROM json_each($1)) ORDER BY id"
            })
            .bind(list)
            .fetch_all(p)
            .await?
        });
        rows.into_iter()
            .map(|(s, p)| {
                Ok((
                    SpecimenId::parse(&s)
                        .map_err(|e| StoreError::invalid_data("specimen", &s, e))?,
                    parse_participant_id(p)?,
                ))
            })
            .collect()
    }

    /// Inserts or updates a sequencing run. Its specimen must be stored.
    ///
    /// # Errors
    /// [`StoreError::MissingReference`] when the specimen is not stored.
    pub async fn upsert_run(&self, run: &SequencingRun) -> Result<(), StoreError> {
        let id = run.id.as_str();
        let doc = to_json("sequencing run", id, run)?;
        with_write!(self, |p| {
            sqlx::query(
                "INSERT INTO sequencing_runs (id, specimen, library_strategy, platform, run_date, doc) \
                 VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (id) DO UPDATE SET specimen = excluded.specimen, \
                   library_strategy = excluded.library_strategy, platform = excluded.platform, \
                   run_date = excluded.run_date, doc = excluded.doc",
            )
            .bind(id)
            .bind(run.specimen.as_str())
            .bind(variant_name(&run.library_strategy))
            .bind(run.platform.as_str())
            .bind(run.run_date.map(|d| d.to_string()))
            .bind(doc)
            .execute(p)
            .await
            .map_err(StoreError::write("sequencing run", id))?;
        });
        self.catalogue_written();
        Ok(())
    }

    /// A sequencing run by id.
    ///
    /// # Errors
    /// [`StoreError::InvalidData`] when the stored row does not parse.
    pub async fn get_run(&self, id: &RunId) -> Result<Option<SequencingRun>, StoreError> {
        let doc: Option<String> = with_pool!(self, |p| {
            sqlx::query_scalar("SELECT doc FROM sequencing_runs WHERE id = $1")
                .bind(id.as_str())
                .fetch_optional(p)
                .await?
        });
        doc.map(|d| from_json("sequencing run", id.as_str(), &d))
            .transpose()
    }

    /// Inserts or updates an analysis and its input runs, which must be stored.
    ///
    /// # Errors
    /// [`StoreError::MissingReference`] when an input run is not stored.
    pub async fn upsert_analysis(&self, analysis: &Analysis) -> Result<(), StoreError> {
        let id = analysis.id.as_str();
        let doc = to_json("analysis", id, analysis)?;
        with_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO analyses (id, pipeline_name, pipeline_version, reference_genome, \
                   analysis_date, doc) \
                 VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (id) DO UPDATE SET pipeline_name = excluded.pipeline_name, \
                   pipeline_version = excluded.pipeline_version, \
                   reference_genome = excluded.reference_genome, \
                   analysis_date = excluded.analysis_date, doc = excluded.doc",
            )
            .bind(id)
            .bind(analysis.pipeline_name.as_str())
            .bind(analysis.pipeline_version.as_str())
            .bind(analysis.reference_genome.as_str())
            .bind(analysis.analysis_date.map(|d| d.to_string()))
            .bind(doc)
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM analysis_runs WHERE analysis = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            for (position, run) in (0_i64..).zip(&analysis.runs) {
                sqlx::query(
                    "INSERT INTO analysis_runs (analysis, run, position) VALUES ($1, $2, $3) \
                     ON CONFLICT DO NOTHING",
                )
                .bind(id)
                .bind(run.as_str())
                .bind(position)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::write("analysis", id))?;
            }
        });
        self.catalogue_written();
        Ok(())
    }

    /// An analysis by id.
    ///
    /// # Errors
    /// [`StoreError::InvalidData`] when the stored row does not parse.
    pub async fn get_analysis(&self, id: &AnalysisId) -> Result<Option<Analysis>, StoreError> {
        let doc: Option<String> = with_pool!(self, |p| {
            sqlx::query_scalar("SELECT doc FROM analyses WHERE id = $1")
                .bind(id.as_str())
                .fetch_optional(p)
                .await?
        });
        doc.map(|d| from_json("analysis", id.as_str(), &d))
            .transpose()
    }

    /// Inserts or replaces a data object. Its participant, analysis and specimens must be
    /// stored; its index object need not be (yet). The first registration sets the object's
    /// registration time, which later registrations never change; its update time moves only
    /// when a registration changes the record ([`Store::object_times`]).
    ///
    /// # Errors
    /// [`StoreError::MissingReference`] when a referenced record is not stored;
    /// [`StoreError::InvalidInput`] when the size does not fit a signed 64-bit integer.
    pub async fn put_object(&self, object: &DataObject) -> Result<(), StoreError> {
        let id = object.id.as_str();
        let doc = to_json("data object", id, object)?;
        let size = i64::try_from(object.size)
            .map_err(|e| StoreError::invalid_input("data object", id, e))?;
        let now = now_rfc3339();
        with_tx!(self, |tx| {
            // Reason: `registered_at` is not in the update list (set once); `updated_at` keeps
            // its value when the re-registered record is identical.
            sqlx::query(
                "INSERT INTO data_objects (id, name, format, size, sha256, md5, storage_uri, \
                   index_object, participant, analysis, doc, registered_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12) \
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, format = excluded.format, \
                   size = excluded.size, sha256 = excluded.sha256, md5 = excluded.md5, \
                   storage_uri = excluded.storage_uri, index_object = excluded.index_object, \
                   participant = excluded.participant, analysis = excluded.analysis, \
                   doc = excluded.doc, \
                   updated_at = CASE WHEN data_objects.doc = excluded.doc \
                     THEN data_objects.updated_at ELSE excluded.updated_at END",
            )
            .bind(id)
            .bind(object.name.as_str())
            .bind(object.format.as_str())
            .bind(size)
            .bind(object.checksums.sha256.as_str())
            .bind(object.checksums.md5.as_str())
            .bind(object.storage_uri.as_str())
            .bind(object.index.as_ref().map(ObjectId::as_str))
            .bind(object.participant.as_ref().map(ParticipantId::as_str))
            .bind(object.analysis.as_ref().map(AnalysisId::as_str))
            .bind(doc)
            .bind(now.as_str())
            .execute(&mut *tx)
            .await
            .map_err(StoreError::write("data object", id))?;
            sqlx::query("DELETE FROM object_specimens WHERE object = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            for s in &object.specimens {
                sqlx::query(
                    "INSERT INTO object_specimens (object, specimen) VALUES ($1, $2) \
                     ON CONFLICT DO NOTHING",
                )
                .bind(id)
                .bind(s.as_str())
                .execute(&mut *tx)
                .await
                .map_err(StoreError::write("data object", id))?;
            }
        });
        self.catalogue_written();
        Ok(())
    }

    /// A data object by id.
    ///
    /// # Errors
    /// [`StoreError::InvalidData`] when the stored row does not parse.
    pub async fn get_object(&self, id: &ObjectId) -> Result<Option<DataObject>, StoreError> {
        let doc: Option<String> = with_pool!(self, |p| {
            sqlx::query_scalar("SELECT doc FROM data_objects WHERE id = $1")
                .bind(id.as_str())
                .fetch_optional(p)
                .await?
        });
        doc.map(|d| from_json("data object", id.as_str(), &d))
            .transpose()
    }

    /// When an object was first registered and when its record last changed; `None` when
    /// there is no such object.
    ///
    /// # Errors
    /// [`StoreError::InvalidData`] when a stored time does not parse.
    pub async fn object_times(&self, id: &ObjectId) -> Result<Option<ObjectTimes>, StoreError> {
        let row: Option<(String, String)> = with_pool!(self, |p| {
            sqlx::query_as("SELECT registered_at, updated_at FROM data_objects WHERE id = $1")
                .bind(id.as_str())
                .fetch_optional(p)
                .await?
        });
        let Some((registered, updated)) = row else {
            return Ok(None);
        };
        let parse = |t: &str| {
            time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
                .map_err(|e| StoreError::invalid_data("data object", id.as_str(), e))
        };
        Ok(Some(ObjectTimes {
            registered_at: parse(&registered)?,
            updated_at: parse(&updated)?,
        }))
    }

    /// The data objects that hold data of a specimen (one of their sample columns or read
    /// groups), ordered by id.
    ///
    /// # Errors
    /// [`StoreError::InvalidData`] when a stored row does not parse.
    pub async fn objects_of_specimen(
        &self,
        specimen: &SpecimenId,
    ) -> Result<Vec<DataObject>, StoreError> {
        let rows: Vec<(String, String)> = with_pool!(self, |p| {
            sqlx::query_as(
                "SELECT o.id, o.doc FROM object_specimens s \
                 JOIN data_objects o ON o.id = s.object \
                 WHERE s.specimen = $1 ORDER BY o.id",
            )
            .bind(specimen.as_str())
            .fetch_all(p)
            .await?
        });
        rows.iter()
            .map(|(id, doc)| from_json("data object", id, doc))
            .collect()
    }

    /// The objects whose index is `index` (a BAI's BAM), ordered by id.
    ///
    /// # Errors
    /// [`StoreError::InvalidData`] when a stored id no longer parses.
    pub async fn objects_indexed_by(&self, index: &ObjectId) -> Result<Vec<ObjectId>, StoreError> {
        let ids: Vec<String> = with_pool!(self, |p| {
            sqlx::query_scalar("SELECT id FROM data_objects WHERE index_object = $1 ORDER BY id")
                .bind(index.as_str())
                .fetch_all(p)
                .await?
        });
        ids.into_iter()
            .map(|id| {
                ObjectId::try_from(id.clone())
                    .map_err(|e| StoreError::invalid_data("data object", &id, e))
            })
            .collect()
    }

    /// How many data objects are stored, and their total size in bytes.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn object_totals(&self) -> Result<(u64, u64), StoreError> {
        // Reason: SUM over BIGINT is NUMERIC on PostgreSQL; the cast keeps one row type.
        let (count, bytes): (i64, i64) = with_pool!(self, |p| {
            sqlx::query_as(
                "SELECT COUNT(*), CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM data_objects",
            )
            .fetch_one(p)
            .await?
        });
        Ok((count.unsigned_abs(), bytes.unsigned_abs()))
    }

    /// Data objects ordered by id, after `after` (keyset pagination), at most `limit`.
    ///
    /// # Errors
    /// [`StoreError::InvalidData`] when a stored row does not parse.
    pub async fn list_objects(
        &self,
        after: Option<&ObjectId>,
        limit: u32,
    ) -> Result<Vec<DataObject>, StoreError> {
        let rows: Vec<(String, String)> = with_pool!(self, |p| match after {
            Some(after) => {
                sqlx::query_as(
                    "SELECT id, doc FROM data_objects WHERE id > $1 ORDER BY id LIMIT $2",
                )
                .bind(after.as_str())
                .bind(page_limit(limit))
                .fetch_all(p)
                .await?
            }
            None => {
                sqlx::query_as("SELECT id, doc FROM data_objects ORDER BY id LIMIT $1")
                    .bind(page_limit(limit))
                    .fetch_all(p)
                    .await?
            }
        });
        rows.iter()
            .map(|(id, doc)| from_json("data object", id, doc))
            .collect()
    }

    /// A participant's data objects, ordered by id.
    ///
    /// # Errors
    /// [`StoreError::InvalidData`] when a stored row does not parse.
    pub async fn objects_of_participant(
        &self,
        participant: &ParticipantId,
    ) -> Result<Vec<DataObject>, StoreError> {
        let rows: Vec<(String, String)> = with_pool!(self, |p| {
            sqlx::query_as("SELECT id, doc FROM data_objects WHERE participant = $1 ORDER BY id")
                .bind(participant.as_str())
                .fetch_all(p)
                .await?
        });
        rows.iter()
            .map(|(id, doc)| from_json("data object", id, doc))
            .collect()
    }

    /// Inserts or updates a dataset (its members are kept).
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn put_dataset(&self, dataset: &Dataset) -> Result<(), StoreError> {
        let id = dataset.id.as_str();
        let data_use = to_json("dataset", id, &dataset.data_use)?;
        with_write!(self, |p| {
            sqlx::query(
                "INSERT INTO datasets (id, name, description, access_level, data_use) \
                 VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, \
                   description = excluded.description, access_level = excluded.access_level, \
                   data_use = excluded.data_use",
            )
            .bind(id)
            .bind(dataset.name.as_str())
            .bind(dataset.description.as_str())
            .bind(dataset.access_level.as_str())
            .bind(data_use)
            .execute(p)
            .await?;
        });
        self.catalogue_written();
        Ok(())
    }

    /// A dataset by id.
    ///
    /// # Errors
    /// [`StoreError::InvalidData`] when the stored row does not parse.
    pub async fn get_dataset(&self, id: &DatasetId) -> Result<Option<Dataset>, StoreError> {
        let row: Option<DatasetRow> = with_pool!(self, |p| {
            sqlx::query_as(
                "SELECT id, name, description, access_level, data_use FROM datasets WHERE id = $1",
            )
            .bind(id.as_str())
            .fetch_optional(p)
            .await?
        });
        row.map(dataset_from_row).transpose()
    }

    /// Every dataset, ordered by id.
    ///
    /// # Errors
    /// [`StoreError::InvalidData`] when a stored row does not parse.
    pub async fn list_datasets(&self) -> Result<Vec<Dataset>, StoreError> {
        let rows: Vec<DatasetRow> = with_pool!(self, |p| {
            sqlx::query_as(
                "SELECT id, name, description, access_level, data_use FROM datasets ORDER BY id",
            )
            .fetch_all(p)
            .await?
        });
        rows.into_iter().map(dataset_from_row).collect()
    }

    /// Adds participants to a dataset (already added ones are kept once).
    ///
    /// # Errors
    /// [`StoreError::MissingReference`] when the dataset or a participant is not stored.
    pub async fn add_dataset_participants(
        &self,
        dataset: &DatasetId,
        participants: &[ParticipantId],
    ) -> Result<(), StoreError> {
        if participants.is_empty() {
            return Ok(());
        }
        let list = json_list(participants.iter().map(ParticipantId::as_str));
        with_write!(self, |p, pg| {
            sqlx::query(if pg {
                "INSERT INTO dataset_participants (dataset, participant) \
                 SELECT $1, json_array_elements_text($2::json) ON CONFLICT DO NOTHING"
            } else {
                "INSERT INTO dataset_participants (dataset, participant) \
                 SELECT $1, value FROM json_each($2) WHERE true ON CONFLICT DO NOTHING"
            })
            .bind(dataset.as_str())
            .bind(list)
            .execute(p)
            .await
            .map_err(StoreError::write("dataset", dataset.as_str()))?;
        });
        self.catalogue_written();
        Ok(())
    }

    /// A dataset's participants, ordered by id.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn dataset_participants(
        &self,
        dataset: &DatasetId,
    ) -> Result<Vec<ParticipantId>, StoreError> {
        let ids: Vec<String> = with_pool!(self, |p| {
            sqlx::query_scalar(
                "SELECT participant FROM dataset_participants WHERE dataset = $1 ORDER BY participant",
            )
            .bind(dataset.as_str())
            .fetch_all(p)
            .await?
        });
        ids.into_iter().map(parse_participant_id).collect()
    }

    /// Adds data objects to a dataset (already added ones are kept once).
    ///
    /// # Errors
    /// [`StoreError::MissingReference`] when the dataset or an object is not stored.
    pub async fn add_dataset_objects(
        &self,
        dataset: &DatasetId,
        objects: &[ObjectId],
    ) -> Result<(), StoreError> {
        if objects.is_empty() {
            return Ok(());
        }
        let list = json_list(objects.iter().map(ObjectId::as_str));
        with_write!(self, |p, pg| {
            sqlx::query(if pg {
                "INSERT INTO dataset_objects (dataset, object) \
                 SELECT $1, json_array_elements_text($2::json) ON CONFLICT DO NOTHING"
            } else {
                "INSERT INTO dataset_objects (dataset, object) \
                 SELECT $1, value FROM json_each($2) WHERE true ON CONFLICT DO NOTHING"
            })
            .bind(dataset.as_str())
            .bind(list)
            .execute(p)
            .await
            .map_err(StoreError::write("dataset", dataset.as_str()))?;
        });
        self.catalogue_written();
        Ok(())
    }

    /// A dataset's data objects, ordered by id.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn dataset_objects(&self, dataset: &DatasetId) -> Result<Vec<ObjectId>, StoreError> {
        let ids: Vec<String> = with_pool!(self, |p| {
            sqlx::query_scalar(
                "SELECT object FROM dataset_objects WHERE dataset = $1 ORDER BY object",
            )
            .bind(dataset.as_str())
            .fetch_all(p)
            .await?
        });
        ids.into_iter()
            .map(|id| {
                ObjectId::try_from(id.clone())
                    .map_err(|e| StoreError::invalid_data("data object", &id, e))
            })
            .collect()
    }

    /// The datasets an object belongs to, ordered by id.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn datasets_of_object(
        &self,
        object: &ObjectId,
    ) -> Result<Vec<DatasetId>, StoreError> {
        let ids: Vec<String> = with_pool!(self, |p| {
            sqlx::query_scalar(
                "SELECT dataset FROM dataset_objects WHERE object = $1 ORDER BY dataset",
            )
            .bind(object.as_str())
            .fetch_all(p)
            .await?
        });
        ids.into_iter()
            .map(|id| {
                DatasetId::try_from(id.clone())
                    .map_err(|e| StoreError::invalid_data("dataset", &id, e))
            })
            .collect()
    }
}

/// When a data object was registered and last changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObjectTimes {
    /// The first registration (never changes afterwards).
    pub registered_at: time::OffsetDateTime,
    /// The last registration that changed the record (equal to `registered_at` until then).
    pub updated_at: time::OffsetDateTime,
}

/// `id, name, description, access_level, data_use` of a dataset row.
type DatasetRow = (String, String, String, String, String);

fn dataset_from_row(row: DatasetRow) -> Result<Dataset, StoreError> {
    let (id, name, description, access_level, data_use) = row;
    let bad = |e: gemj_model::ModelError| StoreError::invalid_data("dataset", &id, e);
    let data_use: DataUseCondition = from_json("dataset", &id, &data_use)?;
    Ok(Dataset {
        id: DatasetId::parse(&id).map_err(bad)?,
        name,
        description,
        access_level: gemj_model::AccessLevel::parse(&access_level).map_err(bad)?,
        data_use,
    })
}

pub(crate) fn parse_participant_id(id: String) -> Result<ParticipantId, StoreError> {
    ParticipantId::try_from(id.clone()).map_err(|e| StoreError::invalid_data("participant", &id, e))
}
