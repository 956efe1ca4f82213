//! Ingest: what the adapters read from institutions' files, resolved, checked against consent,
//! merged into the store, and accounted for.
//!
//! Every input record ends in exactly one outcome of the [`IngestReport`]: `created` (stored as
//! new), `merged` (it changed a stored record, whose provenance now names this source too),
//! `unchanged` (everything it says is stored already: a re-run), `deleted` (a source's deletion
//! applied), or `quarantined` (kept out of the store, with the reason). The counts always add up
//! to the records read. Each [`apply`] call is one transaction: a crash leaves nothing of it,
//! and running it again completes it.
//!
//! Rules (the merge rules are in [`merge`]):
//! - A subject named only by a hospital patient id is resolved through the linkage table; an
//!   unknown hospital id is quarantined, never turned into a new participant.
//! - A participant whose consent is withdrawn (in the store, or by a consent record of the same
//!   input) has every record quarantined with the reason; the withdrawal itself is recorded as a
//!   consent event.
//! - A new participant needs an institution: the source's, or the submitting institution's.
//! - Names, addresses and phone numbers are read by the adapters and dropped here: the report
//!   counts them, the store has no place for them.

pub mod api;
pub mod genomes;
pub mod merge;
pub mod report;
pub mod sources;

use std::collections::{BTreeMap, HashMap, HashSet};

use gemj_model::source::{
    ConsentAction, ConsentFacts, Extract, RecordBody, SourceRecord, SubjectFacts, SubjectRef,
};
use gemj_model::{
    ConsentEvent, ConsentEventKind, ConsentScopes, ConsentStatus, Demographics, Diagnosis,
    InstitutionId, Measurement, PartialDate, Participant, ParticipantId, Phenotype, Precision,
    Program, Provenance, Recontact, Sex, Specimen, WithdrawalLevel, YearMonth,
};
use gemj_store::{IngestTx, Store, StoreError};

pub use report::{IngestReport, Outcome, Quarantined};

use gemj_core::CoreError;

/// How an ingest runs.
#[derive(Debug, Clone, Default)]
pub struct ApplyOptions {
    /// The submitting institution: the owner of new participants whose source names none, and
    /// the institution of consent events.
    pub institution: Option<InstitutionId>,
    /// Roll back instead of committing: the report says what would happen.
    pub dry_run: bool,
    /// Only the submitting institution's own participants may be changed or enrolled (the
    /// HTTP API, where the submitter is an authenticated institution); records about another
    /// institution's participant are quarantined.
    pub own_participants_only: bool,
}

/// Applies one file's (or one batch's) extract in one transaction and adds its outcomes to
/// `report`.
///
/// # Errors
/// Store failures: the transaction is rolled back and nothing of this extract is stored.
pub async fn apply(
    store: &Store,
    extract: Extract,
    options: &ApplyOptions,
    report: &mut IngestReport,
) -> Result<(), CoreError> {
    let mut tx = store.begin_ingest().await?;
    let mut local = IngestReport::default();
    let mut run = Run {
        tx: &mut tx,
        options,
        report: &mut local,
        withdrawn: HashMap::new(),
        created: HashSet::new(),
    };
    run.apply(extract).await?;
    if options.dry_run {
        drop(tx);
    } else {
        tx.commit().await?;
    }
    report.absorb(local);
    Ok(())
}

/// Marks every record of an extract as quarantined with one reason (a file that could not be
/// applied at all), so that the report still accounts for it.
pub fn quarantine_all(extract: &Extract, reason: &str, report: &mut IngestReport) {
    for r in &extract.records {
        report.record(r.body.kind(), Outcome::Quarantined);
        report.quarantine(&r.provenance, r.body.kind(), reason);
    }
    for r in &extract.rejected {
        report.record("unreadable", Outcome::Quarantined);
        report.quarantine(&r.provenance, "unreadable", reason);
    }
}

/// Consent scopes recorded for consent given through an ingested source: research use and
/// academic third parties only. Wider scopes (industry, international transfer, recontact,
/// secondary findings) need the institution's consent API, which carries them explicitly.
fn ingested_scopes() -> ConsentScopes {
    ConsentScopes {
        research_use: true,
        third_party_academia: true,
        third_party_industry: false,
        international_transfer: false,
        recontact: Recontact {
            allowed: false,
            via_institution: None,
        },
        return_of_secondary_findings: false,
    }
}

struct Run<'a> {
    tx: &'a mut IngestTx,
    options: &'a ApplyOptions,
    report: &'a mut IngestReport,
    /// Participants whose consent is withdrawn, with the reason text.
    withdrawn: HashMap<ParticipantId, String>,
    /// Participants created by this extract.
    created: HashSet<ParticipantId>,
}

impl Run<'_> {
    async fn apply(&mut self, extract: Extract) -> Result<(), CoreError> {
        for r in &extract.rejected {
            self.report.record("unreadable", Outcome::Quarantined);
            self.report
                .quarantine(&r.provenance, "unreadable", &r.reason);
        }
        self.report.diagnostics.extend(extract.diagnostics);
        let hints = program_hints(&extract.records);
        // Consent first (a withdrawal quarantines everything else of the subject), then
        // subjects (linkage and new participants), specimens without a parent before derived
        // ones, then the rest in input order.
        let mut consents = Vec::new();
        let mut subjects = Vec::new();
        let mut specimens = Vec::new();
        let mut rest = Vec::new();
        for r in extract.records {
            match &r.body {
                RecordBody::Consent(_) => consents.push(r),
                RecordBody::Subject(_) => subjects.push(r),
                RecordBody::Specimen(_) => specimens.push(r),
                _ => rest.push(r),
            }
        }
        specimens.sort_by_key(|r| match &r.body {
            RecordBody::Specimen(s) => s.parent.is_some(),
            _ => false,
        });
        for r in consents {
            self.consent(r).await?;
        }
        for r in subjects {
            self.subject(r, &hints).await?;
        }
        for r in specimens.into_iter().chain(rest) {
            self.fact(r).await?;
        }
        Ok(())
    }

    fn quarantine(&mut self, record: &SourceRecord, reason: &str) {
        let kind = record.body.kind();
        self.report.record(kind, Outcome::Quarantined);
        self.report.quarantine(&record.provenance, kind, reason);
    }

    /// The participant a record is about, if known; `None` after quarantining the record.
    async fn resolve(&mut self, record: &SourceRecord) -> Result<Option<ParticipantId>, CoreError> {
        let id = match &record.subject {
            SubjectRef::Participant(id) => id.clone(),
            SubjectRef::Hospital(h) => match self.tx.linkage(h).await? {
                Some(id) => id,
                None => {
                    self.quarantine(
                        record,
                        &format!(
                            "hospital patient id {}/{} is not linked to a GeMJ participant",
                            h.institution, h.patient
                        ),
                    );
                    return Ok(None);
                }
            },
        };
        if let Some(reason) = self.withdrawal(&id).await? {
            self.quarantine(record, &reason);
            return Ok(None);
        }
        if let Some(reason) = self.foreign(&id).await? {
            self.quarantine(record, &reason);
            return Ok(None);
        }
        Ok(Some(id))
    }

    /// Why the submitter may not change this participant: it belongs to another institution
    /// (only when [`ApplyOptions::own_participants_only`]).
    async fn foreign(&mut self, id: &ParticipantId) -> Result<Option<String>, CoreError> {
        if !self.options.own_participants_only {
            return Ok(None);
        }
        let Some(own) = &self.options.institution else {
            return Ok(Some("the submitting institution is not known".to_owned()));
        };
        Ok(match self.tx.participant(id).await? {
            Some(p) if p.institution != *own => {
                Some(format!("participant {id} belongs to another institution"))
            }
            _ => None,
        })
    }

    /// Why the participant's data may not be stored, if their consent is withdrawn.
    async fn withdrawal(&mut self, id: &ParticipantId) -> Result<Option<String>, CoreError> {
        if let Some(reason) = self.withdrawn.get(id) {
            return Ok(Some(reason.clone()));
        }
        let state = self.tx.consent_state(id).await?;
        if state.is_some_and(|s| s.status == ConsentStatus::Withdrawn) {
            let reason = format!("consent of participant {id} is withdrawn");
            self.withdrawn.insert(id.clone(), reason.clone());
            return Ok(Some(reason));
        }
        Ok(None)
    }

    async fn consent(&mut self, record: SourceRecord) -> Result<(), CoreError> {
        let RecordBody::Consent(facts) = &record.body else {
            return Ok(());
        };
        let id = match &record.subject {
            SubjectRef::Participant(id) => Some(id.clone()),
            SubjectRef::Hospital(h) => self.tx.linkage(h).await?,
        };
        let Some(id) = id else {
            self.quarantine(
                &record,
                "the subject of this consent is not linked to a GeMJ participant",
            );
            return Ok(());
        };
        if let Some(reason) = self.foreign(&id).await? {
            self.quarantine(&record, &reason);
            return Ok(());
        }
        if facts.action == ConsentAction::Withdrawn {
            let when = facts
                .date
                .map_or_else(|| "date not given".to_owned(), |d| d.to_string());
            self.withdrawn.insert(
                id.clone(),
                format!("consent of participant {id} is withdrawn ({when})"),
            );
        }
        let institution = match self.tx.participant(&id).await? {
            Some(p) => Some(p.institution),
            None => self.options.institution.clone(),
        };
        let Some(institution) = institution else {
            self.quarantine(
                &record,
                "no institution is known for this consent record (submit it as an institution)",
            );
            return Ok(());
        };
        let state = self.tx.consent_state(&id).await?;
        let status = state
            .as_ref()
            .map_or(ConsentStatus::NoConsent, |s| s.status);
        let kind = match (facts.action, status) {
            (ConsentAction::Given, ConsentStatus::NoConsent) => ConsentEventKind::InitialConsent {
                scopes: ingested_scopes(),
                by_proxy: false,
            },
            (ConsentAction::Withdrawn, ConsentStatus::Active | ConsentStatus::NoConsent) => {
                ConsentEventKind::Withdrawal {
                    level: WithdrawalLevel::StopAllUse,
                }
            }
            _ => {
                self.report.record("consent", Outcome::Unchanged);
                self.report.place(
                    &record.provenance,
                    "consent",
                    Outcome::Unchanged,
                    &id,
                    Vec::new(),
                );
                return Ok(());
            }
        };
        let event = ConsentEvent {
            event_id: consent_event_id(&record, &id, facts),
            participant: id,
            institution,
            effective_at: effective_at(facts.date),
            kind,
        };
        let participant = event.participant.clone();
        match self.tx.append_consent_event(&event).await {
            Ok(gemj_store::AppendOutcome::Appended { .. }) => {
                self.report.record("consent", Outcome::Created);
                self.report.place(
                    &record.provenance,
                    "consent",
                    Outcome::Created,
                    &participant,
                    Vec::new(),
                );
            }
            Ok(gemj_store::AppendOutcome::Duplicate { .. }) => {
                self.report.record("consent", Outcome::Unchanged);
                self.report.place(
                    &record.provenance,
                    "consent",
                    Outcome::Unchanged,
                    &participant,
                    Vec::new(),
                );
            }
            Err(StoreError::Conflict { .. }) => {
                self.quarantine(&record, "a different consent event with this id is stored");
            }
            Err(e) => return Err(e.into()),
        }
        Ok(())
    }

    async fn subject(
        &mut self,
        record: SourceRecord,
        hints: &HashMap<SubjectRef, Program>,
    ) -> Result<(), CoreError> {
        let RecordBody::Subject(facts) = &record.body else {
            return Ok(());
        };
        self.report.identifying_fields_dropped += identifying_count(facts);
        // The participant: named by the source, or found through a linked hospital id.
        let mut id = facts.participant.clone().or(match &record.subject {
            SubjectRef::Participant(p) => Some(p.clone()),
            SubjectRef::Hospital(_) => None,
        });
        if id.is_none() {
            for h in &facts.hospital_ids {
                if let Some(found) = self.tx.linkage(h).await? {
                    id = Some(found);
                    break;
                }
            }
            if id.is_none()
                && let SubjectRef::Hospital(h) = &record.subject
            {
                id = self.tx.linkage(h).await?;
            }
        }
        let Some(id) = id else {
            self.quarantine(
                &record,
                "hospital patient id is not linked to a GeMJ participant (no participant is invented)",
            );
            return Ok(());
        };
        if let Some(reason) = self.withdrawal(&id).await? {
            self.quarantine(&record, &reason);
            return Ok(());
        }
        if let Some(reason) = self.foreign(&id).await? {
            self.quarantine(&record, &reason);
            return Ok(());
        }
        // Every linked hospital id must point at this participant.
        for h in &facts.hospital_ids {
            if let Some(other) = self.tx.linkage(h).await?
                && other != id
            {
                self.quarantine(
                    &record,
                    &format!(
                        "hospital patient id {}/{} is linked to another participant",
                        h.institution, h.patient
                    ),
                );
                return Ok(());
            }
        }
        let stored = self.tx.participant(&id).await?;
        let mut changed = false;
        let outcome;
        match stored {
            Some(mut p) => {
                let before = p.clone();
                if p.sex == Sex::Unknown {
                    if let Some(s) = facts.sex {
                        p.sex = s;
                    }
                } else if facts.sex.is_some_and(|s| s != p.sex && s != Sex::Unknown) {
                    self.report.conflict(&record.provenance, "sex");
                }
                if p.birth.is_none() {
                    p.birth = facts.birth_date.and_then(year_month);
                }
                if p != before {
                    self.tx.put_participant(&p).await?;
                    changed = true;
                }
                outcome = if changed {
                    Outcome::Merged
                } else {
                    Outcome::Unchanged
                };
            }
            None => {
                // The enrolling institution: the source's, else the submitter's, else the
                // hospital whose patient id the source carries.
                let institution = facts
                    .institution
                    .clone()
                    .or_else(|| self.options.institution.clone())
                    .or_else(|| facts.hospital_ids.first().map(|h| h.institution.clone()));
                let Some(institution) = institution else {
                    self.quarantine(
                        &record,
                        "a new participant needs an institution (submit as an institution or pass --institution)",
                    );
                    return Ok(());
                };
                self.tx
                    .ensure_institution(&institution, institution.as_str())
                    .await?;
                let program = facts
                    .program
                    .or_else(|| hints.get(&SubjectRef::Participant(id.clone())).copied())
                    .or_else(|| hints.get(&record.subject).copied())
                    .unwrap_or(Program::RareDisease);
                let p = Participant {
                    id: id.clone(),
                    institution,
                    sex: facts.sex.unwrap_or(Sex::Unknown),
                    birth: facts.birth_date.and_then(year_month),
                    program,
                };
                self.tx.put_participant(&p).await?;
                self.created.insert(id.clone());
                outcome = Outcome::Created;
                changed = true;
            }
        }
        for h in &facts.hospital_ids {
            if self.tx.linkage(h).await?.is_none() {
                self.tx
                    .put_linkage(h, &id, std::slice::from_ref(&record.provenance))
                    .await?;
                changed = true;
            }
        }
        if facts.birth_date.is_some() {
            let mut d = self.tx.demographics(&id).await?.unwrap_or(Demographics {
                participant: id.clone(),
                birth_date: None,
                provenance: Vec::new(),
            });
            let mut m = merge::date(&mut d.birth_date, facts.birth_date, "birth_date");
            if m.changed {
                m.changed |=
                    merge::provenance(&mut d.provenance, std::slice::from_ref(&record.provenance))
                        .changed;
                self.tx.put_demographics(&d).await?;
                changed = true;
            }
            for c in m.conflicts {
                self.report.conflict(&record.provenance, c);
            }
        }
        let outcome = match outcome {
            Outcome::Unchanged if changed => Outcome::Merged,
            o => o,
        };
        self.report.record("subject", outcome);
        self.report
            .place(&record.provenance, "subject", outcome, &id, Vec::new());
        Ok(())
    }

    async fn fact(&mut self, record: SourceRecord) -> Result<(), CoreError> {
        let Some(id) = self.resolve(&record).await? else {
            return Ok(());
        };
        if self.tx.participant(&id).await?.is_none() {
            self.quarantine(
                &record,
                &format!("participant {id} is not stored and this input does not enrol it"),
            );
            return Ok(());
        }
        let kind = record.body.kind();
        let prov = record.provenance.clone();
        let key: Vec<String> = match &record.body {
            RecordBody::Diagnosis(f) => vec![f.icd10.as_str().to_owned()],
            RecordBody::Specimen(f) => vec![f.id.as_str().to_owned()],
            RecordBody::Measurement(f) => vec![
                f.order.clone().unwrap_or_default(),
                f.code.system.clone(),
                f.code.code.clone(),
                f.effective.clone().unwrap_or_default(),
            ],
            _ => Vec::new(),
        };
        let outcome = match record.body {
            RecordBody::Diagnosis(f) => {
                let new = Diagnosis {
                    participant: id.clone(),
                    icd10: f.icd10,
                    source_code: f.source_code,
                    source_system: f.source_system,
                    onset: f.onset,
                    recorded: f.recorded,
                    provenance: vec![prov.clone()],
                    details: f.details,
                };
                match self.tx.diagnosis(&id, &new.icd10).await? {
                    None => {
                        self.tx.put_diagnosis(&new).await?;
                        Outcome::Created
                    }
                    Some(mut stored) => {
                        let m = merge::diagnosis(&mut stored, new);
                        self.conflicts(&prov, &m);
                        if m.changed {
                            self.tx.put_diagnosis(&stored).await?;
                            Outcome::Merged
                        } else {
                            Outcome::Unchanged
                        }
                    }
                }
            }
            RecordBody::Phenotype(f) => {
                let new = Phenotype {
                    participant: id.clone(),
                    hpo: f.hpo,
                    status: f.status,
                    onset: f.onset,
                    provenance: vec![prov.clone()],
                };
                match self.tx.phenotype(&id, &new.hpo).await? {
                    None => {
                        self.tx.put_phenotype(&new).await?;
                        Outcome::Created
                    }
                    Some(mut stored) => {
                        let m = merge::phenotype(&mut stored, new);
                        self.conflicts(&prov, &m);
                        if m.changed {
                            self.tx.put_phenotype(&stored).await?;
                            Outcome::Merged
                        } else {
                            Outcome::Unchanged
                        }
                    }
                }
            }
            RecordBody::Specimen(f) => {
                let mut details = f.details;
                merge::provenance(&mut details.provenance, std::slice::from_ref(&prov));
                let new = Specimen {
                    id: f.id,
                    participant: id.clone(),
                    specimen_type: f.specimen_type,
                    parent: f.parent,
                    collected: f.collected,
                    tumour: f.tumour,
                    biobank_sample: f.biobank_sample,
                    details,
                };
                if let Some(parent) = &new.parent {
                    match self.tx.specimen(parent).await? {
                        Some(p) if p.participant == id => {}
                        Some(_) => {
                            let reason =
                                format!("parent specimen {parent} belongs to another participant");
                            self.report.record(kind, Outcome::Quarantined);
                            self.report.quarantine(&prov, kind, &reason);
                            return Ok(());
                        }
                        None => {
                            let reason = format!("parent specimen {parent} is not stored");
                            self.report.record(kind, Outcome::Quarantined);
                            self.report.quarantine(&prov, kind, &reason);
                            return Ok(());
                        }
                    }
                }
                match self.tx.specimen(&new.id).await? {
                    None => {
                        self.tx.put_specimen(&new).await?;
                        Outcome::Created
                    }
                    Some(stored) if stored.participant != id => {
                        let reason =
                            format!("specimen {} is stored for another participant", new.id);
                        self.report.record(kind, Outcome::Quarantined);
                        self.report.quarantine(&prov, kind, &reason);
                        return Ok(());
                    }
                    Some(mut stored) => {
                        let m = merge::specimen(&mut stored, new);
                        self.conflicts(&prov, &m);
                        if m.changed {
                            self.tx.put_specimen(&stored).await?;
                            Outcome::Merged
                        } else {
                            Outcome::Unchanged
                        }
                    }
                }
            }
            RecordBody::Measurement(f) => {
                if let Some(order) = &f.order
                    && self.tx.order_deleted(&id, order).await?
                {
                    let reason = format!("order {order} was deleted by its source");
                    self.report.record(kind, Outcome::Quarantined);
                    self.report.quarantine(&prov, kind, &reason);
                    return Ok(());
                }
                let new = Measurement {
                    participant: id.clone(),
                    code: f.code,
                    value: f.value,
                    value_type: f.value_type,
                    reference_range: f.reference_range,
                    interpretation: f.interpretation,
                    effective: f.effective,
                    status: f.status,
                    order: f.order,
                    lab_specimen: f.lab_specimen,
                    provenance: vec![prov.clone()],
                };
                match self.tx.measurement(&id, &new.key()).await? {
                    None => {
                        self.tx.put_measurement(&new).await?;
                        Outcome::Created
                    }
                    Some(mut stored) => {
                        let same = Measurement {
                            provenance: stored.provenance.clone(),
                            ..new.clone()
                        } == stored;
                        let m = merge::provenance(&mut stored.provenance, &new.provenance);
                        if same && !m.changed {
                            Outcome::Unchanged
                        } else {
                            let provenance = stored.provenance;
                            self.tx
                                .put_measurement(&Measurement { provenance, ..new })
                                .await?;
                            Outcome::Merged
                        }
                    }
                }
            }
            RecordBody::DeleteOrder(d) => match self.tx.delete_order(&id, &d.order, &prov).await? {
                Some(_) => Outcome::Deleted,
                None => Outcome::Unchanged,
            },
            RecordBody::Subject(_) | RecordBody::Consent(_) => Outcome::Unchanged,
        };
        self.report.record(kind, outcome);
        self.report.place(&prov, kind, outcome, &id, key);
        Ok(())
    }

    fn conflicts(&mut self, provenance: &Provenance, m: &merge::Merged) {
        for c in &m.conflicts {
            self.report.conflict(provenance, c);
        }
    }
}

/// How many identifying fields a subject record carried (dropped, never stored).
fn identifying_count(facts: &SubjectFacts) -> u64 {
    let i = &facts.identifying;
    let n = i.names.len()
        + usize::from(i.address.is_some())
        + usize::from(i.postal_code.is_some())
        + usize::from(i.phone.is_some());
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// The catalogue's year and month of a birth date known at least to the month.
fn year_month(d: PartialDate) -> Option<YearMonth> {
    if d.precision() == Precision::Year {
        return None;
    }
    let first = d.first_day();
    YearMonth::new(first.year(), u8::from(first.month())).ok()
}

/// Program hints per subject: the first program a subject record names, else cancer when a
/// diagnosis is a neoplasm (ICD-10 C00-D48), else the biobank for manifest-only subjects.
fn program_hints(records: &[SourceRecord]) -> HashMap<SubjectRef, Program> {
    let mut hints: BTreeMap<SubjectRef, Program> = BTreeMap::new();
    for r in records {
        match &r.body {
            RecordBody::Subject(f) => {
                if let Some(p) = f.program {
                    hints.entry(r.subject.clone()).or_insert(p);
                    if let Some(id) = &f.participant {
                        hints
                            .entry(SubjectRef::Participant(id.clone()))
                            .or_insert(p);
                    }
                }
            }
            RecordBody::Diagnosis(d) => {
                let c = d.icd10.category();
                let neoplasm = c.starts_with('C') || (c.starts_with('D') && c[1..] < *"49");
                let p = if neoplasm {
                    Program::Cancer
                } else {
                    Program::RareDisease
                };
                hints.entry(r.subject.clone()).or_insert(p);
            }
            RecordBody::Specimen(_) if r.provenance.source == "biobank" => {
                hints.entry(r.subject.clone()).or_insert(Program::Biobank);
            }
            _ => {}
        }
    }
    hints.into_iter().collect()
}

/// A consent event id that is the same on every run of the same input.
fn consent_event_id(record: &SourceRecord, id: &ParticipantId, facts: &ConsentFacts) -> String {
    let action = match facts.action {
        ConsentAction::Given => "given",
        ConsentAction::Withdrawn => "withdrawn",
    };
    let date = facts.date.map_or_else(|| "-".to_owned(), |d| d.to_string());
    format!("ingest:{}:{id}:{action}:{date}", record.provenance.source)
}

/// When a consent statement took effect: its date at 00:00 JST, or now when the source gives
/// none.
fn effective_at(date: Option<PartialDate>) -> time::OffsetDateTime {
    let jst = time::UtcOffset::from_hms(9, 0, 0).unwrap_or(time::UtcOffset::UTC);
    date.map_or_else(time::OffsetDateTime::now_utc, |d| {
        d.first_day().midnight().assume_offset(jst)
    })
}
