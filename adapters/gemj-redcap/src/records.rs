//! The "CSV (raw data)" record export: rows grouped by record id, repeat rows merged into their
//! record, then the record's facts.
//!
//! A classic project exports one non-repeating ("base") row per record, then one row per
//! instance of each repeating instrument, with `redcap_repeat_instrument` and
//! `redcap_repeat_instance` set and every non-repeating field blank. Blank is not null: a blank
//! cell never clears what an earlier row said (merge, not overwrite), and a second non-blank
//! value that differs is a warning, the first one kept.
//!
//! Form status columns (`<form>_complete`: `0` Incomplete, `1` Unverified, `2` Complete) do not
//! change what is read: a form that is not Complete is reported as a warning naming the line and
//! the column, and its data are still read.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use gemj_model::source::{
    ConsentAction, ConsentFacts, DiagnosisFacts, DiagnosticLog, Extract, HospitalPatientId,
    PhenotypeFacts, RecordBody, Rejected, SourceRecord, SpecimenFacts, SubjectFacts, SubjectRef,
};
use gemj_model::{
    DiagnosisDetails, HpoId, Icd10Code, InstitutionId, PartialDate, ParticipantId, PhenotypeStatus,
    Provenance, Sex, SpecimenDetails, SpecimenId, SpecimenType,
};

use crate::mapping::specimen_type_of_label;
use crate::{CsvInput, DataDictionary, Error, FieldMapping, FieldType, REST_NOT_CSV};

/// The longest record id and free-text value (labels) kept, in characters.
const MAX_TEXT: usize = 1024;

/// The longest hospital patient id accepted, in characters.
const MAX_PATIENT_ID: usize = 64;

/// How to read a record export.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReadOptions {
    /// The file name written into provenance and diagnostics (`rd-registry_records_raw.csv`).
    pub file: String,
    /// The 10-digit medical-institution code of the hospital whose patient ids the export
    /// carries. Without it a hospital patient id cannot be linked (a warning says so).
    pub institution: Option<InstitutionId>,
    /// Which fields mean what.
    pub mapping: FieldMapping,
}

/// Reads a REDCap "CSV (raw data)" record export with its data dictionary.
///
/// # Errors
/// [`Error`] when nothing can be read: empty input, a header that is not CSV or UTF-8, or a
/// first column that is not the record id (`record_id`). Everything else is a diagnostic.
///
/// # Examples
/// ```
/// use gemj_redcap::{read_records, DataDictionary, ReadOptions};
/// use gemj_model::source::RecordBody;
/// use gemj_model::Sex;
/// let dict = DataDictionary::gemj_template();
/// let csv = "\u{feff}record_id,redcap_repeat_instrument,redcap_repeat_instance,gemj_id,sex,specimen_id,specimen_type\r\n\
///            1,,,GEMJ-TEST-0002,2,,\r\n\
///            1,specimen,1,,,SP-0002-B,1\r\n";
/// let extract = read_records(&dict, csv.as_bytes(), &ReadOptions::default())?;
/// let RecordBody::Subject(subject) = &extract.records[0].body else { panic!() };
/// assert_eq!(subject.sex, Some(Sex::Female));
/// assert_eq!(extract.records[1].body.kind(), "specimen");
/// assert_eq!(extract.records[1].provenance.position.as_deref(), Some("record 1, specimen #1"));
/// # Ok::<(), gemj_redcap::Error>(())
/// ```
pub fn read_records(
    dict: &DataDictionary,
    bytes: &[u8],
    options: &ReadOptions,
) -> Result<Extract, Error> {
    let mut input = CsvInput::open(bytes)?;
    let header: Vec<String> = input
        .record
        .iter()
        .map(|f| std::str::from_utf8(f).map(|s| s.trim().to_owned()))
        .collect::<Result<_, _>>()
        .map_err(|_| Error::HeaderNotUtf8)?;
    if header.first().map(String::as_str) != Some(options.mapping.record_id.as_str()) {
        return Err(Error::MissingIdColumn {
            expected: options.mapping.record_id.clone(),
        });
    }
    let mut export = Export::new(dict, options, header);
    if let Err(line) = input.rows(|record, line| export.row(record, line)) {
        export
            .diags
            .error(&format!("line {line}"), "", REST_NOT_CSV);
    }
    Ok(export.finish())
}

/// Reads a record export with the GeMJ template dictionary and default options; whatever cannot
/// be read becomes a diagnostic. The entry point for fuzzing.
///
/// # Examples
/// ```
/// let extract = gemj_redcap::read_bytes(b"id,sex\n1,2\n");
/// assert!(extract.records.is_empty());
/// assert_eq!(extract.diagnostics.len(), 1);
/// ```
#[must_use]
pub fn read_bytes(bytes: &[u8]) -> Extract {
    static TEMPLATE: OnceLock<DataDictionary> = OnceLock::new();
    let dict = TEMPLATE.get_or_init(DataDictionary::gemj_template);
    let options = ReadOptions::default();
    read_records(dict, bytes, &options)
        .unwrap_or_else(|error| Extract::unreadable(&options.file, error.to_string()))
}

/// What a header column is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Column {
    RecordId,
    RepeatInstrument,
    RepeatInstance,
    /// `redcap_event_name`, `redcap_data_access_group`, survey ids and timestamps: not facts.
    System,
    /// A field; its form when the dictionary (or the mapping) says.
    Field {
        form: Option<String>,
    },
    /// One choice of a checkbox field.
    Checkbox {
        field: String,
        code: String,
        form: Option<String>,
    },
    /// `<form>_complete`.
    Complete {
        form: String,
    },
    /// A column named twice: only the first is read.
    Duplicate,
}

impl Column {
    fn form(&self) -> Option<&str> {
        match self {
            Self::Field { form } | Self::Checkbox { form, .. } => form.as_deref(),
            Self::Complete { form } => Some(form),
            _ => None,
        }
    }
}

/// A cell value and the line it came from.
#[derive(Debug, Clone)]
struct Cell {
    value: String,
    line: u64,
}

/// One instance of a repeating instrument.
#[derive(Debug)]
struct Instance {
    instrument: String,
    number: u32,
    line: u64,
    values: HashMap<usize, Cell>,
}

/// Everything the export says about one record id.
#[derive(Debug)]
struct Record {
    id: String,
    base_line: Option<u64>,
    lines: Vec<u64>,
    values: HashMap<usize, Cell>,
    instances: Vec<Instance>,
    /// The (instrument, instance number) pairs seen.
    numbers: HashSet<(String, u32)>,
}

struct Export<'a> {
    dict: &'a DataDictionary,
    options: &'a ReadOptions,
    mapping: &'a FieldMapping,
    header: Vec<String>,
    columns: Vec<Column>,
    by_name: HashMap<String, usize>,
    diags: DiagnosticLog,
    extract: Extract,
    records: Vec<Record>,
    record_index: HashMap<String, usize>,
    unmapped_instruments: HashSet<String>,
}

impl<'a> Export<'a> {
    fn new(dict: &'a DataDictionary, options: &'a ReadOptions, header: Vec<String>) -> Self {
        let mut diags = DiagnosticLog::new(&options.file);
        let mapping = &options.mapping;
        let forms: HashSet<&str> = dict.fields().iter().map(|f| f.form.as_str()).collect();
        let mut by_name = HashMap::new();
        let mut columns = Vec::with_capacity(header.len());
        for (i, name) in header.iter().enumerate() {
            if by_name.contains_key(name) {
                diags.error("line 1", name, "column named twice; the first is read");
                columns.push(Column::Duplicate);
                continue;
            }
            by_name.insert(name.clone(), i);
            let column = classify(i, name, dict, mapping, &forms);
            if column == (Column::Field { form: None }) {
                diags.warning(
                    "line 1",
                    name,
                    "column not in the data dictionary; read only if the mapping names it",
                );
            }
            if name == "redcap_event_name" {
                diags.warning(
                    "line 1",
                    name,
                    "longitudinal export: the rows of all events are merged per record",
                );
            }
            columns.push(column);
        }
        Self {
            dict,
            options,
            mapping,
            header,
            columns,
            by_name,
            diags,
            extract: Extract::default(),
            records: Vec::new(),
            record_index: HashMap::new(),
            unmapped_instruments: HashSet::new(),
        }
    }

    fn provenance(&self, position: String, value: Option<String>) -> Provenance {
        Provenance {
            source: "redcap".to_owned(),
            file: (!self.options.file.is_empty()).then(|| self.options.file.clone()),
            position: Some(position),
            value,
        }
    }

    fn reject(&mut self, position: String, field: &str, reason: &str) {
        self.diags.error(&position, field, reason);
        let provenance = self.provenance(position, None);
        self.extract.rejected.push(Rejected {
            provenance,
            reason: reason.to_owned(),
        });
    }

    /// Files one row under its record: base-row cells merge into the record, repeat-row cells of
    /// the instrument's own fields into a new instance.
    fn row(&mut self, record: &csv::ByteRecord, line: u64) {
        let position = format!("line {line}");
        if record.len() != self.header.len() {
            let reason = format!(
                "row has {} cells where the header has {}; row not read",
                record.len(),
                self.header.len()
            );
            self.reject(position, "", &reason);
            return;
        }
        let mut cells: Vec<&str> = Vec::with_capacity(record.len());
        for (i, field) in record.iter().enumerate() {
            if let Ok(s) = std::str::from_utf8(field) {
                cells.push(s.trim());
            } else {
                let name = self.header[i].clone();
                self.diags
                    .error(&position, &name, "not UTF-8 text; read as blank");
                cells.push("");
            }
        }
        let id = cells.first().copied().unwrap_or("");
        if id.is_empty() || id.chars().count() > 100 {
            let field = self.mapping.record_id.clone();
            self.reject(
                position,
                &field,
                "missing record id, or longer than 100 characters; row not read",
            );
            return;
        }
        let instrument = self.cell_of(&cells, Column::RepeatInstrument);
        let instance = self.cell_of(&cells, Column::RepeatInstance);
        let index = match self.record_index.get(id) {
            Some(&i) => i,
            None => {
                self.record_index.insert(id.to_owned(), self.records.len());
                self.records.push(Record {
                    id: id.to_owned(),
                    base_line: None,
                    lines: Vec::new(),
                    values: HashMap::new(),
                    instances: Vec::new(),
                    numbers: HashSet::new(),
                });
                self.records.len() - 1
            }
        };
        let mut target = None;
        if instrument.is_empty() {
            let record = &mut self.records[index];
            record.base_line.get_or_insert(line);
        } else {
            let Some(number) = instance.parse::<u32>().ok().filter(|n| *n > 0) else {
                self.reject(
                    position,
                    "redcap_repeat_instance",
                    "repeat row without a positive instance number; row not read",
                );
                return;
            };
            let record = &self.records[index];
            if record.base_line.is_none() {
                self.diags.warning(
                    &position,
                    &self.mapping.record_id,
                    "repeat row names a record id before that record's base row",
                );
            }
            if record.numbers.contains(&(instrument.to_owned(), number)) {
                self.reject(
                    position,
                    "redcap_repeat_instance",
                    "instance number already used for this record and instrument; row not read",
                );
                return;
            }
            let record = &mut self.records[index];
            record.numbers.insert((instrument.to_owned(), number));
            record.instances.push(Instance {
                instrument: instrument.to_owned(),
                number,
                line,
                values: HashMap::new(),
            });
            target = Some(instrument);
        }
        self.records[index].lines.push(line);
        for (col, value) in cells.iter().enumerate() {
            if value.is_empty() {
                continue;
            }
            let column = &self.columns[col];
            if matches!(
                column,
                Column::RecordId
                    | Column::RepeatInstrument
                    | Column::RepeatInstance
                    | Column::System
                    | Column::Duplicate
            ) {
                continue;
            }
            let cell = Cell {
                value: (*value).to_owned(),
                line,
            };
            let in_instance = target.is_some_and(|instrument| {
                column.form() == Some(instrument)
                    || (column.form().is_none()
                        && instrument == self.mapping.specimen_instrument
                        && self
                            .mapping
                            .specimen_fields()
                            .contains(&self.header[col].as_str()))
            });
            let record = &mut self.records[index];
            if in_instance {
                if let Some(instance) = record.instances.last_mut() {
                    instance.values.insert(col, cell);
                }
                continue;
            }
            match record.values.get(&col) {
                None => {
                    record.values.insert(col, cell);
                }
                Some(first) if first.value != cell.value => {
                    let message =
                        format!("differs from line {}; the first value is kept", first.line);
                    let name = self.header[col].clone();
                    self.diags.warning(&position, &name, message);
                }
                Some(_) => {}
            }
        }
    }

    fn cell_of<'c>(&self, cells: &[&'c str], column: Column) -> &'c str {
        self.columns
            .iter()
            .position(|c| *c == column)
            .and_then(|i| cells.get(i).copied())
            .unwrap_or("")
    }

    fn finish(mut self) -> Extract {
        let records = std::mem::take(&mut self.records);
        for record in &records {
            self.record(record);
        }
        let mut extract = self.extract;
        extract.diagnostics = self.diags.finish();
        extract
    }

    /// A record-level value by mapped field name.
    fn value<'r>(&self, values: &'r HashMap<usize, Cell>, field: &str) -> Option<&'r Cell> {
        if field.is_empty() {
            return None;
        }
        self.by_name.get(field).and_then(|col| values.get(col))
    }

    fn record(&mut self, record: &Record) {
        let rid = &record.id;
        if record.base_line.is_none() {
            let lines: Vec<String> = record.lines.iter().map(u64::to_string).collect();
            self.reject(
                format!("record {rid}, line {}", lines.join(", ")),
                &self.mapping.record_id.clone(),
                "record id has repeat rows but no base row; its rows are not read",
            );
            return;
        }
        self.statuses(&record.values);
        let Some(subject) = self.subject(record) else {
            return;
        };
        self.consent(record, &subject);
        self.diagnosis(record, &subject);
        self.phenotypes(record, &subject);
        if self
            .value(&record.values, &self.mapping.specimen_id)
            .is_some()
        {
            self.specimen(&record.values, format!("record {rid}"), &subject);
        }
        for instance in &record.instances {
            let position = format!("line {}", instance.line);
            if instance.instrument == self.mapping.specimen_instrument {
                self.statuses(&instance.values);
                let provenance =
                    format!("record {rid}, {} #{}", instance.instrument, instance.number);
                if instance.values.is_empty() {
                    self.diags.warning(
                        &position,
                        &instance.instrument,
                        "repeat row without values; nothing read",
                    );
                    continue;
                }
                self.specimen(&instance.values, provenance, &subject);
            } else if self
                .unmapped_instruments
                .insert(instance.instrument.clone())
            {
                self.diags.warning(
                    &position,
                    "redcap_repeat_instrument",
                    "repeating instrument not in the mapping; its rows are not read",
                );
            }
        }
    }

    /// Form status columns: a warning for each form that is not Complete.
    fn statuses(&mut self, values: &HashMap<usize, Cell>) {
        let mut cols: Vec<&usize> = values.keys().collect();
        cols.sort();
        for &col in cols {
            let Column::Complete { .. } = &self.columns[col] else {
                continue;
            };
            let cell = &values[&col];
            let position = format!("line {}", cell.line);
            let name = self.header[col].clone();
            match cell.value.as_str() {
                "2" => {}
                "1" => self.diags.warning(
                    &position,
                    &name,
                    "form status Unverified (1); its data are read",
                ),
                "0" => self.diags.warning(
                    &position,
                    &name,
                    "form status Incomplete (0); its data are read",
                ),
                _ => self.diags.error(
                    &position,
                    &name,
                    "not a form status (0 Incomplete, 1 Unverified, 2 Complete)",
                ),
            }
        }
    }

    fn subject(&mut self, record: &Record) -> Option<SubjectRef> {
        let m = self.mapping;
        let rid = &record.id;
        let participant = self.value(&record.values, &m.participant_id).and_then(|c| {
            let parsed = ParticipantId::parse(&c.value).ok();
            if parsed.is_none() {
                self.diags.error(
                    &format!("line {}", c.line),
                    &m.participant_id,
                    "not a valid GeMJ id; left out",
                );
            }
            parsed
        });
        let hospital_id = self.value(&record.values, &m.hospital_patient_id).and_then(|c| {
            let ok = c.value.chars().count() <= MAX_PATIENT_ID
                && !c.value.chars().any(char::is_control);
            if !ok {
                self.diags.error(
                    &format!("line {}", c.line),
                    &m.hospital_patient_id,
                    "not a hospital patient id (at most 64 characters, no control characters); left out",
                );
            }
            ok.then(|| (c.value.clone(), c.line))
        });
        let hospital = match (hospital_id, &self.options.institution) {
            (Some((patient, _)), Some(institution)) => Some(HospitalPatientId {
                institution: institution.clone(),
                patient,
            }),
            (Some((_, line)), None) => {
                self.diags.warning(
                    &format!("line {line}"),
                    &m.hospital_patient_id,
                    "no institution code configured for this export: the hospital patient id is not linked",
                );
                None
            }
            (None, _) => None,
        };
        let subject = match (&participant, &hospital) {
            (Some(p), _) => SubjectRef::Participant(p.clone()),
            (None, Some(h)) => SubjectRef::Hospital(h.clone()),
            (None, None) => {
                let field = m.participant_id.clone();
                self.reject(
                    format!("record {rid}"),
                    &field,
                    "record has no GeMJ id (and no linkable hospital patient id); its rows are not read",
                );
                return None;
            }
        };
        let birth_date = self
            .value(&record.values, &m.birth_date)
            .and_then(|c| self.date(c, &m.birth_date));
        let sex = self.value(&record.values, &m.sex).and_then(|c| self.sex(c));
        let facts = SubjectFacts {
            participant,
            hospital_ids: hospital.into_iter().collect(),
            institution: self.options.institution.clone(),
            sex,
            birth_date,
            program: m.program,
            ..SubjectFacts::default()
        };
        let provenance = self.provenance(format!("record {rid}"), None);
        self.extract.records.push(SourceRecord {
            subject: subject.clone(),
            provenance,
            body: RecordBody::Subject(facts),
        });
        Some(subject)
    }

    fn sex(&mut self, cell: &Cell) -> Option<Sex> {
        let field = self.mapping.sex.as_str();
        let position = format!("line {}", cell.line);
        let Some(label) = self
            .dict
            .field(field)
            .and_then(|f| f.choice_label(&cell.value))
        else {
            self.diags.error(
                &position,
                field,
                "code is not a choice of the field in the data dictionary; left out",
            );
            return None;
        };
        let sex = self.mapping.sex_of_label(label);
        if sex.is_none() {
            self.diags.error(
                &position,
                field,
                "the choice label names no sex known to the mapping; left out",
            );
        }
        sex
    }

    fn date(&mut self, cell: &Cell, field: &str) -> Option<PartialDate> {
        // Raw exports write dates as YYYY-MM-DD whatever the entry format; datetimes add a time.
        let text = cell.value.as_str();
        let date = text
            .split_once(' ')
            .filter(|(_, time)| is_time(time))
            .map_or(text, |(date, _)| date);
        let parsed = PartialDate::parse(date).ok();
        if parsed.is_none() {
            self.diags.error(
                &format!("line {}", cell.line),
                field,
                "not a date (expected YYYY-MM-DD); left out",
            );
        }
        parsed
    }

    fn consent(&mut self, record: &Record, subject: &SubjectRef) {
        let m = self.mapping;
        let rid = &record.id;
        if let Some(cell) = self.value(&record.values, &m.consent_date)
            && let Some(date) = self.date(cell, &m.consent_date)
        {
            self.push(
                subject,
                format!("record {rid}"),
                None,
                RecordBody::Consent(ConsentFacts {
                    action: ConsentAction::Given,
                    date: Some(date),
                    purposes: Vec::new(),
                }),
            );
        }
        let withdrawal = self.value(&record.values, &m.withdrawal_date);
        let flag = self.value(&record.values, &m.consent_withdrawn);
        match flag.map(|c| (c.value.as_str(), c.line)) {
            Some(("1", _)) => {
                let date = withdrawal.and_then(|c| self.date(c, &m.withdrawal_date));
                self.push(
                    subject,
                    format!("record {rid}"),
                    None,
                    RecordBody::Consent(ConsentFacts {
                        action: ConsentAction::Withdrawn,
                        date,
                        purposes: Vec::new(),
                    }),
                );
            }
            Some(("0", _)) | None => {
                if let Some(cell) = withdrawal {
                    self.diags.warning(
                        &format!("line {}", cell.line),
                        &m.withdrawal_date,
                        "withdrawal date without consent_withdrawn = 1; no withdrawal read",
                    );
                }
            }
            Some((_, line)) => self.diags.error(
                &format!("line {line}"),
                &m.consent_withdrawn,
                "not a yes/no code (1 or 0); no withdrawal read",
            ),
        }
    }

    fn diagnosis(&mut self, record: &Record, subject: &SubjectRef) {
        let m = self.mapping;
        let code = self.value(&record.values, &m.diagnosis_icd10);
        let label = self.value(&record.values, &m.diagnosis_label);
        let onset = self.value(&record.values, &m.diagnosis_onset_year);
        let Some(code) = code else {
            if let Some(cell) = label.or(onset) {
                self.diags.warning(
                    &format!("line {}", cell.line),
                    &m.diagnosis_icd10,
                    "diagnosis label or onset without an ICD-10 code; no diagnosis read",
                );
            }
            return;
        };
        let Ok(icd10) = Icd10Code::parse(&code.value) else {
            self.diags.error(
                &format!("line {}", code.line),
                &m.diagnosis_icd10,
                "not an ICD-10 code; diagnosis left out",
            );
            return;
        };
        let onset = onset.and_then(|cell| {
            let year = cell
                .value
                .parse::<i32>()
                .ok()
                .and_then(|y| PartialDate::year(y).ok());
            if year.is_none() {
                self.diags.error(
                    &format!("line {}", cell.line),
                    &m.diagnosis_onset_year,
                    "not a year (1800 to 9999); onset left out",
                );
            }
            year
        });
        let label = label.and_then(|c| self.text(c, &m.diagnosis_label));
        let value = (icd10.as_str() != code.value).then(|| code.value.clone());
        let facts = DiagnosisFacts {
            icd10,
            source_code: code.value.clone(),
            source_system: None,
            onset,
            recorded: None,
            details: DiagnosisDetails {
                label,
                ..DiagnosisDetails::default()
            },
        };
        self.push(
            subject,
            format!("record {}", record.id),
            value,
            RecordBody::Diagnosis(facts),
        );
    }

    /// Ticked boxes (`1`) of the phenotype checkbox are observed phenotypes; unticked ones (`0`)
    /// say nothing.
    fn phenotypes(&mut self, record: &Record, subject: &SubjectRef) {
        let field = self.mapping.phenotypes.as_str();
        if field.is_empty() {
            return;
        }
        let boxes: Vec<(usize, String)> = self
            .columns
            .iter()
            .enumerate()
            .filter_map(|(col, column)| match column {
                Column::Checkbox { field: f, code, .. } if f == field => Some((col, code.clone())),
                _ => None,
            })
            .collect();
        for (col, code) in boxes {
            let Some(cell) = record.values.get(&col) else {
                continue;
            };
            let name = self.header[col].clone();
            let position = format!("line {}", cell.line);
            match cell.value.as_str() {
                "0" => continue,
                "1" => {}
                _ => {
                    self.diags
                        .error(&position, &name, "not a checkbox value (1 or 0); left out");
                    continue;
                }
            }
            let hpo = self
                .dict
                .field(field)
                .and_then(|f| f.choice_label(&code))
                .and_then(hpo_of_label);
            let Some(hpo) = hpo else {
                self.diags.error(
                    &position,
                    &name,
                    "the choice label in the data dictionary has no HPO id (HP:0000000); left out",
                );
                continue;
            };
            let provenance = self.provenance(format!("record {}, {name}", record.id), None);
            self.extract.records.push(SourceRecord {
                subject: subject.clone(),
                provenance,
                body: RecordBody::Phenotype(PhenotypeFacts {
                    hpo,
                    status: PhenotypeStatus::Observed,
                    onset: None,
                }),
            });
        }
    }

    fn specimen(&mut self, values: &HashMap<usize, Cell>, position: String, subject: &SubjectRef) {
        let m = self.mapping;
        let Some(id_cell) = self.value(values, &m.specimen_id) else {
            self.reject(
                position,
                &m.specimen_id,
                "specimen without a specimen id; not read",
            );
            return;
        };
        let Ok(id) = SpecimenId::parse(&id_cell.value) else {
            let at = format!("line {}", id_cell.line);
            self.diags
                .error(&at, &m.specimen_id, "not a valid specimen id");
            self.reject(
                position,
                &m.specimen_id,
                "invalid specimen id; specimen not read",
            );
            return;
        };
        let Some(type_cell) = self.value(values, &m.specimen_type) else {
            self.reject(
                position,
                &m.specimen_type,
                "specimen without a type; not read",
            );
            return;
        };
        let Some((specimen_type, label)) = self.specimen_type(type_cell) else {
            self.reject(
                position,
                &m.specimen_type,
                "unknown specimen type code; specimen not read",
            );
            return;
        };
        let collected = self
            .value(values, &m.specimen_collected)
            .and_then(|c| self.date(c, &m.specimen_collected));
        let facts = SpecimenFacts {
            id,
            specimen_type,
            parent: None,
            collected,
            tumour: None,
            biobank_sample: true,
            details: SpecimenDetails {
                type_label: label,
                ..SpecimenDetails::default()
            },
        };
        self.push(subject, position, None, RecordBody::Specimen(facts));
    }

    /// The specimen type of a raw code, and the choice label (kept as the type label).
    fn specimen_type(&self, cell: &Cell) -> Option<(SpecimenType, Option<String>)> {
        let field = self.dict.field(&self.mapping.specimen_type);
        let label = field.and_then(|f| f.choice_label(&cell.value));
        let known_choices = field.is_some_and(|f| f.field_type.has_choices());
        if known_choices && label.is_none() {
            return None;
        }
        let label = label
            .filter(|l| l.chars().count() <= MAX_TEXT)
            .map(str::to_owned);
        let from_code = self.mapping.specimen_types.get(&cell.value).cloned();
        let specimen_type = from_code
            .or_else(|| label.as_deref().and_then(specimen_type_of_label))
            .or_else(|| label.clone().map(SpecimenType::Other))?;
        Some((specimen_type, label))
    }

    fn text(&mut self, cell: &Cell, field: &str) -> Option<String> {
        if cell.value.chars().count() > MAX_TEXT {
            self.diags.error(
                &format!("line {}", cell.line),
                field,
                "longer than 1024 characters; left out",
            );
            None
        } else {
            Some(cell.value.clone())
        }
    }

    fn push(
        &mut self,
        subject: &SubjectRef,
        position: String,
        value: Option<String>,
        body: RecordBody,
    ) {
        let provenance = self.provenance(position, value);
        self.extract.records.push(SourceRecord {
            subject: subject.clone(),
            provenance,
            body,
        });
    }
}

fn classify(
    index: usize,
    name: &str,
    dict: &DataDictionary,
    mapping: &FieldMapping,
    forms: &HashSet<&str>,
) -> Column {
    if index == 0 {
        return Column::RecordId;
    }
    match name {
        "redcap_repeat_instrument" => return Column::RepeatInstrument,
        "redcap_repeat_instance" => return Column::RepeatInstance,
        "redcap_event_name" | "redcap_data_access_group" | "redcap_survey_identifier" => {
            return Column::System;
        }
        _ => {}
    }
    if let Some(field) = dict.field(name) {
        return Column::Field {
            form: Some(field.form.clone()),
        };
    }
    if let Some((field_name, code)) = name.split_once("___") {
        match dict.field(field_name) {
            Some(field) if field.field_type == FieldType::Checkbox => {
                let choice = field
                    .choices
                    .iter()
                    .find(|c| field.checkbox_column(&c.code) == name);
                if let Some(choice) = choice {
                    return Column::Checkbox {
                        field: field_name.to_owned(),
                        code: choice.code.clone(),
                        form: Some(field.form.clone()),
                    };
                }
            }
            None if field_name == mapping.phenotypes => {
                return Column::Checkbox {
                    field: field_name.to_owned(),
                    code: code.to_owned(),
                    form: None,
                };
            }
            _ => {}
        }
    }
    if let Some(form) = name.strip_suffix("_complete")
        && (forms.contains(form) || form == mapping.specimen_instrument)
    {
        return Column::Complete {
            form: form.to_owned(),
        };
    }
    if let Some(form) = name.strip_suffix("_timestamp")
        && forms.contains(form)
    {
        return Column::System;
    }
    let form = (mapping.specimen_fields().contains(&name) && !name.is_empty())
        .then(|| mapping.specimen_instrument.clone());
    Column::Field { form }
}

/// `HP:0001166 Arachnodactyly` → `HP:0001166`.
fn hpo_of_label(label: &str) -> Option<HpoId> {
    label
        .split(|c: char| c.is_whitespace() || c == ',' || c == '(' || c == ')')
        .find_map(|word| HpoId::parse(word).ok())
}

/// `HH:MM` or `HH:MM:SS`.
fn is_time(s: &str) -> bool {
    let parts: Vec<&str> = s.split(':').collect();
    (2..=3).contains(&parts.len())
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use gemj_model::source::Severity;

    const HEADER: &str = "record_id,redcap_repeat_instrument,redcap_repeat_instance,gemj_id,hosp_patient_id,birth_date,sex,consent_date,consent_withdrawn,withdrawal_date,enrolment_complete,dx_icd10,dx_label,dx_onset_year,hpo___1,hpo___2,hpo___3,hpo___4,diagnosis_complete,specimen_id,specimen_type,specimen_collected,specimen_complete\r\n";

    fn read(rows: &str, institution: Option<&str>) -> Result<Extract, Box<dyn std::error::Error>> {
        let options = ReadOptions {
            file: "r.csv".into(),
            institution: institution.map(InstitutionId::parse).transpose()?,
            mapping: FieldMapping::default(),
        };
        let dict = DataDictionary::gemj_template();
        Ok(read_records(
            &dict,
            format!("{HEADER}{rows}").as_bytes(),
            &options,
        )?)
    }

    fn kinds(extract: &Extract) -> Vec<&'static str> {
        extract.records.iter().map(|r| r.body.kind()).collect()
    }

    fn messages(extract: &Extract) -> Vec<(Severity, String, String)> {
        extract
            .diagnostics
            .iter()
            .map(|d| {
                (
                    d.severity,
                    d.position.clone().unwrap_or_default(),
                    d.field.clone().unwrap_or_default(),
                )
            })
            .collect()
    }

    #[test]
    fn repeat_rows_never_clear_the_base_row() -> Result<(), Box<dyn std::error::Error>> {
        let extract = read(
            "1,,,GEMJ-1,,1989-01-07,2,,0,,2,C169,,2005,,,,,2,,,,\r\n\
             1,specimen,1,,,,,,,,,,,,,,,,,SP-1,1,2019-05-01,2\r\n\
             1,specimen,2,,,,,,,,,,,,,,,,,SP-2,3,2019-05-07,2\r\n",
            None,
        )?;
        assert!(extract.diagnostics.is_empty(), "{:?}", extract.diagnostics);
        assert_eq!(
            kinds(&extract),
            ["subject", "diagnosis", "specimen", "specimen"]
        );
        let RecordBody::Subject(s) = &extract.records[0].body else {
            return Err("subject".into());
        };
        assert_eq!(s.sex, Some(Sex::Female));
        assert_eq!(
            s.birth_date.map(|d| d.to_string()).as_deref(),
            Some("1989-01-07")
        );
        let RecordBody::Diagnosis(d) = &extract.records[1].body else {
            return Err("diagnosis".into());
        };
        assert_eq!(d.icd10.as_str(), "C16.9");
        assert_eq!(d.source_code, "C169");
        assert_eq!(extract.records[1].provenance.value.as_deref(), Some("C169"));
        assert_eq!(d.onset.map(|o| o.to_string()).as_deref(), Some("2005"));
        Ok(())
    }

    #[test]
    fn unticked_boxes_are_no_statement() -> Result<(), Box<dyn std::error::Error>> {
        let extract = read("1,,,GEMJ-1,,,,,,,,,,,0,1,0,0,,,,,\r\n", None)?;
        assert_eq!(kinds(&extract), ["subject", "phenotype"]);
        let RecordBody::Phenotype(p) = &extract.records[1].body else {
            return Err("phenotype".into());
        };
        assert_eq!(p.hpo.as_str(), "HP:0001083");
        assert_eq!(p.status, PhenotypeStatus::Observed);
        assert_eq!(
            extract.records[1].provenance.position.as_deref(),
            Some("record 1, hpo___2")
        );
        Ok(())
    }

    #[test]
    fn withdrawal_and_linkage() -> Result<(), Box<dyn std::error::Error>> {
        let rows = "7,,,GEMJ-3,9000000003,,,2018-06-01,1,2023-01-10,,,,,,,,,,,,,\r\n";
        let extract = read(rows, Some("9999999999"))?;
        assert!(extract.diagnostics.is_empty(), "{:?}", extract.diagnostics);
        assert_eq!(kinds(&extract), ["subject", "consent", "consent"]);
        let RecordBody::Subject(s) = &extract.records[0].body else {
            return Err("subject".into());
        };
        assert_eq!(
            s.hospital_ids[0].system(),
            "urn:oid:1.2.392.100495.20.3.51.19999999999"
        );
        assert_eq!(s.hospital_ids[0].patient, "9000000003");
        let RecordBody::Consent(c) = &extract.records[2].body else {
            return Err("consent".into());
        };
        assert_eq!(c.action, ConsentAction::Withdrawn);
        assert_eq!(c.date.map(|d| d.to_string()).as_deref(), Some("2023-01-10"));

        let extract = read(rows, None)?;
        let RecordBody::Subject(s) = &extract.records[0].body else {
            return Err("subject".into());
        };
        assert!(s.hospital_ids.is_empty());
        assert_eq!(
            messages(&extract),
            [(Severity::Warning, "line 2".into(), "hosp_patient_id".into())]
        );
        Ok(())
    }

    #[test]
    fn hospital_id_alone_names_the_subject() -> Result<(), Box<dyn std::error::Error>> {
        let extract = read("7,,,,9000000003,,,,,,,,,,,,,,,,,,\r\n", Some("9999999999"))?;
        assert!(matches!(
            extract.records[0].subject,
            SubjectRef::Hospital(_)
        ));
        let extract = read("7,,,,9000000003,,,,,,,,,,,,,,,,,,\r\n", None)?;
        assert!(extract.records.is_empty());
        assert_eq!(extract.rejected.len(), 1);
        Ok(())
    }

    #[test]
    fn bad_values_are_diagnostics() -> Result<(), Box<dyn std::error::Error>> {
        let extract = read(
            "1,,,GEMJ-1,,1989-02-30,5,yesterday,2,,3,X1,,20x5,1,2,,,1,,,,\r\n\
             1,specimen,1,,,,,,,,,,,,,,,,,SP-1,8,2019-13-01,1\r\n\
             1,specimen,x,,,,,,,,,,,,,,,,,SP-2,1,,2\r\n\
             1,specimen,2,,,,,,,,,,,,,,,,,bad id,1,,2\r\n\
             1,specimen,3,,,,,,,,,,,,,,,,,SP-3,4,2019-04-01,\r\n",
            None,
        )?;
        assert_eq!(kinds(&extract), ["subject", "phenotype", "specimen"]);
        let RecordBody::Specimen(s) = &extract.records[2].body else {
            return Err("specimen".into());
        };
        assert_eq!(s.specimen_type, SpecimenType::Tissue);
        assert_eq!(
            s.details.type_label.as_deref(),
            Some("Tissue (fresh frozen)")
        );
        let got = messages(&extract);
        let expect: Vec<(Severity, String, String)> = [
            (Severity::Error, "line 4", "redcap_repeat_instance"),
            (Severity::Error, "line 2", "enrolment_complete"),
            (Severity::Warning, "line 2", "diagnosis_complete"),
            (Severity::Error, "line 2", "birth_date"),
            (Severity::Error, "line 2", "sex"),
            (Severity::Error, "line 2", "consent_date"),
            (Severity::Error, "line 2", "consent_withdrawn"),
            (Severity::Error, "line 2", "dx_icd10"),
            (Severity::Error, "line 2", "hpo___2"),
            (Severity::Warning, "line 3", "specimen_complete"),
            (Severity::Error, "record 1, specimen #1", "specimen_type"),
            (Severity::Error, "line 5", "specimen_id"),
            (Severity::Error, "record 1, specimen #2", "specimen_id"),
        ]
        .into_iter()
        .map(|(s, p, f)| (s, p.to_owned(), f.to_owned()))
        .collect();
        assert_eq!(got, expect);
        assert_eq!(extract.rejected.len(), 3);
        for d in &extract.diagnostics {
            assert!(!d.message.contains("yesterday") && !d.message.contains("X1"));
        }
        Ok(())
    }

    #[test]
    fn orphan_and_early_repeat_rows() -> Result<(), Box<dyn std::error::Error>> {
        let extract = read(
            "9,specimen,1,,,,,,,,,,,,,,,,,SP-9,1,,2\r\n\
             2,specimen,1,,,,,,,,,,,,,,,,,SP-2,2,,2\r\n\
             2,,,GEMJ-2,,,,,,,,,,,,,,,,,,,\r\n",
            None,
        )?;
        assert_eq!(kinds(&extract), ["subject", "specimen"]);
        assert_eq!(extract.rejected.len(), 1);
        assert_eq!(
            extract.rejected[0].provenance.position.as_deref(),
            Some("record 9, line 2")
        );
        let got = messages(&extract);
        assert_eq!(
            got[0],
            (Severity::Warning, "line 2".into(), "record_id".into())
        );
        assert_eq!(
            got[1],
            (Severity::Warning, "line 3".into(), "record_id".into())
        );
        assert_eq!(
            got[2],
            (
                Severity::Error,
                "record 9, line 2".into(),
                "record_id".into()
            )
        );
        Ok(())
    }

    #[test]
    fn conflicting_base_rows_keep_the_first() -> Result<(), Box<dyn std::error::Error>> {
        let extract = read(
            "1,,,GEMJ-1,,,1,,,,,,,,,,,,,,,,\r\n\
             1,,,GEMJ-1,,,2,,,,,,,,,,,,,,,,\r\n",
            None,
        )?;
        let RecordBody::Subject(s) = &extract.records[0].body else {
            return Err("subject".into());
        };
        assert_eq!(s.sex, Some(Sex::Male));
        assert_eq!(
            messages(&extract),
            [(Severity::Warning, "line 3".into(), "sex".into())]
        );
        Ok(())
    }

    #[test]
    fn the_id_column_is_required() {
        let dict = DataDictionary::gemj_template();
        let options = ReadOptions::default();
        assert!(matches!(
            read_records(&dict, b"\xEF\xBB\xBFgemj_id,record_id\r\n", &options),
            Err(Error::MissingIdColumn { .. })
        ));
        assert!(matches!(
            read_records(&dict, b"", &options),
            Err(Error::Empty)
        ));
        assert!(read_records(&dict, b"\xEF\xBB\xBFrecord_id\r\n", &options).is_ok());
    }

    #[test]
    fn helpers() {
        assert_eq!(
            hpo_of_label("HP:0001166 Arachnodactyly").map(|h| h.as_str().to_owned()),
            Some("HP:0001166".into())
        );
        assert_eq!(
            hpo_of_label("Arachnodactyly (HP:0001166)").map(|h| h.as_str().to_owned()),
            Some("HP:0001166".into())
        );
        assert_eq!(hpo_of_label("Arachnodactyly"), None);
        assert!(is_time("10:30"));
        assert!(is_time("10:30:00"));
        assert!(!is_time("10"));
    }
}
