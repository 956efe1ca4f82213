//! Reading a manifest: the header, then one sample per row.

use std::collections::{HashMap, HashSet};

use gemj_model::source::{
    ConsentAction, ConsentFacts, DiagnosticLog, Extract, LineNumbers, RecordBody, Rejected,
    SourceRecord, SpecimenFacts, SubjectFacts, SubjectRef,
};
use gemj_model::{
    Coding, Icd10Code, PartialDate, ParticipantId, Provenance, Quantity, SpecimenDetails,
    SpecimenId,
};

use crate::Error;
use crate::vocabulary;

/// The longest free-text cell (labels, biobank and collection ids) kept, in characters.
const MAX_TEXT: usize = 1024;

/// How to read a manifest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ManifestOptions {
    /// The file name written into provenance and diagnostics (`sample-manifest-miabis.csv`).
    pub file: String,
}

/// The manifest columns, by position in the header.
#[derive(Debug, Default)]
struct Columns {
    sample_id: usize,
    donor_id: usize,
    parent: Option<usize>,
    biobank: Option<usize>,
    collection: Option<usize>,
    sample_type: Option<usize>,
    storage_temperature: Option<usize>,
    created: Option<usize>,
    site_ontology: Option<usize>,
    site_code: Option<usize>,
    content_diagnosis: Option<usize>,
    donor_sex: Option<usize>,
    donor_birth_date: Option<usize>,
    use_conditions: Option<usize>,
    consent_status: Option<usize>,
    quantity: Option<usize>,
    unit: Option<usize>,
}

/// Columns read but not mapped to the model (their meaning is carried elsewhere).
const IGNORED_COLUMNS: [&str; 1] = ["anatomical_site_ontology_version"];

impl Columns {
    fn from_header(header: &[String], diags: &mut DiagnosticLog) -> Result<Self, Error> {
        let mut found: HashMap<&str, usize> = HashMap::new();
        for (i, name) in header.iter().enumerate() {
            let name = name.trim();
            if found.contains_key(name) {
                diags.error("line 1", name, "column named twice; the first is read");
                continue;
            }
            found.insert(name, i);
        }
        let known = [
            "sample_id",
            "sample_donor_id",
            "parent_sample_id",
            "biobank_id",
            "collection_id",
            "sample_type",
            "storage_temperature",
            "sample_creation_date_raw",
            "anatomical_site_ontology",
            "anatomical_site_code",
            "sample_content_diagnosis",
            "donor_sex",
            "donor_birth_date_raw",
            "use_access_conditions",
            "consent_status",
            "quantity",
            "unit",
        ];
        for name in found.keys() {
            if !known.contains(name) && !IGNORED_COLUMNS.contains(name) {
                diags.warning("line 1", name, "unknown column; not read");
            }
        }
        let get = |name: &str| found.get(name).copied();
        Ok(Self {
            sample_id: get("sample_id").ok_or(Error::MissingColumn("sample_id"))?,
            donor_id: get("sample_donor_id").ok_or(Error::MissingColumn("sample_donor_id"))?,
            parent: get("parent_sample_id"),
            biobank: get("biobank_id"),
            collection: get("collection_id"),
            sample_type: get("sample_type"),
            storage_temperature: get("storage_temperature"),
            created: get("sample_creation_date_raw"),
            site_ontology: get("anatomical_site_ontology"),
            site_code: get("anatomical_site_code"),
            content_diagnosis: get("sample_content_diagnosis"),
            donor_sex: get("donor_sex"),
            donor_birth_date: get("donor_birth_date_raw"),
            use_conditions: get("use_access_conditions"),
            consent_status: get("consent_status"),
            quantity: get("quantity"),
            unit: get("unit"),
        })
    }
}

/// Reads a MIABIS-flavoured sample manifest (UTF-8, LF or CRLF, optional BOM).
///
/// # Errors
/// [`Error`] when nothing can be read: empty input, a header that is not CSV or not UTF-8, or no
/// `sample_id` / `sample_donor_id` column. Everything else is a diagnostic.
///
/// # Examples
/// ```
/// use gemj_biobank::{read_manifest, ManifestOptions};
/// use gemj_model::source::RecordBody;
/// use gemj_model::SpecimenType;
/// let csv = "sample_id,sample_donor_id,sample_type,sample_creation_date_raw,quantity,unit\n\
///            SP-1,GEMJ-TEST-0001,DNA,令和6年3月18日,50,\u{b5}g\n";
/// let options = ManifestOptions { file: "manifest.csv".into() };
/// let extract = read_manifest(csv.as_bytes(), &options)?;
/// let RecordBody::Specimen(sample) = &extract.records[1].body else { panic!() };
/// assert_eq!(sample.specimen_type, SpecimenType::Dna);
/// assert_eq!(sample.collected.map(|d| d.to_string()).as_deref(), Some("2024-03-18"));
/// assert_eq!(sample.details.quantity.as_ref().and_then(|q| q.unit.as_deref()), Some("ug"));
/// assert_eq!(extract.records[1].provenance.value.as_deref(), Some("令和6年3月18日"));
/// # Ok::<(), gemj_biobank::Error>(())
/// ```
pub fn read_manifest(bytes: &[u8], options: &ManifestOptions) -> Result<Extract, Error> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut lines = LineNumbers::new(bytes);
    let mut record = csv::ByteRecord::new();
    if !reader.read_byte_record(&mut record).map_err(Error::Csv)? {
        return Err(Error::Empty);
    }
    let header = record
        .iter()
        .map(|f| std::str::from_utf8(f).map(str::to_owned))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| Error::HeaderNotUtf8)?;
    let mut state = State::new(options, header.len());
    let columns = Columns::from_header(&header, &mut state.diags)?;
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(true) => {
                let line = lines.line_at(record.position().map_or(0, csv::Position::byte));
                state.row(&columns, &record, line);
            }
            Ok(false) => break,
            Err(error) => {
                let line = lines.line_at(error.position().map_or(0, csv::Position::byte));
                state.diags.error(
                    &format!("line {line}"),
                    "",
                    "the rest of the file is not CSV; stopped reading",
                );
                break;
            }
        }
    }
    Ok(state.finish())
}

/// Reads a manifest with default options; whatever cannot be read becomes a diagnostic. The
/// entry point for fuzzing.
///
/// # Examples
/// ```
/// let extract = gemj_biobank::read_bytes(b"not a manifest");
/// assert!(extract.records.is_empty());
/// assert_eq!(extract.diagnostics.len(), 1);
/// ```
#[must_use]
pub fn read_bytes(bytes: &[u8]) -> Extract {
    let options = ManifestOptions::default();
    read_manifest(bytes, &options)
        .unwrap_or_else(|error| Extract::unreadable(&options.file, error.to_string()))
}

struct State<'o> {
    options: &'o ManifestOptions,
    width: usize,
    diags: DiagnosticLog,
    extract: Extract,
    donors: HashMap<ParticipantId, usize>,
    withdrawn: HashSet<ParticipantId>,
    samples: HashSet<SpecimenId>,
}

/// One row's cells as text; invalid UTF-8 cells are reported and read as blank.
struct Row<'r> {
    cells: Vec<&'r str>,
    position: String,
}

impl Row<'_> {
    fn get(&self, column: Option<usize>) -> &str {
        column
            .and_then(|i| self.cells.get(i))
            .map_or("", |s| s.trim())
    }
}

impl<'o> State<'o> {
    fn new(options: &'o ManifestOptions, width: usize) -> Self {
        Self {
            options,
            width,
            diags: DiagnosticLog::new(&options.file),
            extract: Extract::default(),
            donors: HashMap::new(),
            withdrawn: HashSet::new(),
            samples: HashSet::new(),
        }
    }

    fn provenance(&self, position: &str, value: Option<&str>) -> Provenance {
        Provenance {
            source: "biobank".to_owned(),
            file: (!self.options.file.is_empty()).then(|| self.options.file.clone()),
            position: Some(position.to_owned()),
            value: value.map(str::to_owned),
        }
    }

    fn reject(&mut self, position: &str, field: &str, reason: &str) {
        self.diags.error(position, field, reason);
        let provenance = self.provenance(position, None);
        self.extract.rejected.push(Rejected {
            provenance,
            reason: reason.to_owned(),
        });
    }

    fn row(&mut self, columns: &Columns, record: &csv::ByteRecord, line: u64) {
        let position = format!("line {line}");
        if record.iter().all(|f| f.iter().all(u8::is_ascii_whitespace)) {
            self.diags.warning(&position, "", "empty row; skipped");
            return;
        }
        if record.len() != self.width {
            let reason = format!(
                "row has {} cells where the header has {}; row not read",
                record.len(),
                self.width
            );
            self.reject(&position, "", &reason);
            return;
        }
        let mut cells = Vec::with_capacity(record.len());
        for (i, field) in record.iter().enumerate() {
            if let Ok(s) = std::str::from_utf8(field) {
                cells.push(s);
            } else {
                self.diags.error(
                    &position,
                    &format!("column {}", i + 1),
                    "not UTF-8 text; read as blank",
                );
                cells.push("");
            }
        }
        let row = Row { cells, position };
        self.sample(columns, &row);
    }

    fn sample(&mut self, c: &Columns, row: &Row<'_>) {
        let pos = row.position.as_str();
        let Ok(id) = SpecimenId::parse(row.get(Some(c.sample_id))) else {
            self.reject(
                pos,
                "sample_id",
                "missing or invalid sample id; row not read",
            );
            return;
        };
        let Ok(donor) = ParticipantId::parse(row.get(Some(c.donor_id))) else {
            self.reject(
                pos,
                "sample_donor_id",
                "missing or invalid donor id; row not read",
            );
            return;
        };
        if self.samples.contains(&id) {
            self.reject(
                pos,
                "sample_id",
                "sample id already used on an earlier row; row not read",
            );
            return;
        }
        let type_label = row.get(c.sample_type);
        if type_label.is_empty() {
            self.reject(pos, "sample_type", "missing sample type; row not read");
            return;
        }
        if type_label.chars().count() > MAX_TEXT {
            self.reject(
                pos,
                "sample_type",
                "sample type longer than 1024 characters; row not read",
            );
            return;
        }
        self.samples.insert(id.clone());
        self.donor(c, row, &donor);
        self.consent(c, row, &donor);

        let raw_created = row.get(c.created);
        let collected = self.date(pos, "sample_creation_date_raw", raw_created);
        let parent = match row.get(c.parent) {
            "" => None,
            p => match SpecimenId::parse(p) {
                Ok(parent) if parent == id => {
                    self.diags.error(
                        pos,
                        "parent_sample_id",
                        "a sample cannot be its own parent; left out",
                    );
                    None
                }
                Ok(parent) => Some(parent),
                Err(_) => {
                    self.diags
                        .error(pos, "parent_sample_id", "not a valid sample id; left out");
                    None
                }
            },
        };
        let details = SpecimenDetails {
            type_label: Some(type_label.to_owned()),
            anatomical_site: self.site(c, row),
            storage_temperature: self.text(
                pos,
                "storage_temperature",
                row.get(c.storage_temperature),
            ),
            quantity: self.quantity(c, row),
            biobank: self.text(pos, "biobank_id", row.get(c.biobank)),
            collection: self.text(pos, "collection_id", row.get(c.collection)),
            content_diagnosis: self.content_diagnosis(c, row),
            use_conditions: self.use_conditions(c, row),
            ..SpecimenDetails::default()
        };
        let facts = SpecimenFacts {
            id,
            specimen_type: vocabulary::sample_type(type_label),
            parent,
            collected,
            tumour: None,
            biobank_sample: true,
            details,
        };
        let value = differs(raw_created, collected);
        self.extract.records.push(SourceRecord {
            subject: SubjectRef::Participant(donor),
            provenance: self.provenance(pos, value),
            body: RecordBody::Specimen(facts),
        });
    }

    /// The donor's subject record: created on the donor's first row, completed (never
    /// overwritten) by later rows.
    fn donor(&mut self, c: &Columns, row: &Row<'_>, donor: &ParticipantId) {
        let pos = row.position.as_str();
        let sex = match row.get(c.donor_sex) {
            "" => None,
            s => {
                let sex = vocabulary::donor_sex(s);
                if sex.is_none() {
                    self.diags.error(
                        pos,
                        "donor_sex",
                        "unknown sex (expected Male, Female or Unknown); left out",
                    );
                }
                sex
            }
        };
        let raw_birth = row.get(c.donor_birth_date);
        let birth_date = self.date(pos, "donor_birth_date_raw", raw_birth);
        if let Some(&index) = self.donors.get(donor) {
            let Some(SourceRecord {
                body: RecordBody::Subject(facts),
                provenance,
                ..
            }) = self.extract.records.get_mut(index)
            else {
                return;
            };
            let mut conflict = None;
            merge(&mut facts.sex, sex, "donor_sex", &mut conflict);
            if facts.birth_date.is_none() && birth_date.is_some() {
                provenance.value = differs(raw_birth, birth_date).map(str::to_owned);
            }
            merge(
                &mut facts.birth_date,
                birth_date,
                "donor_birth_date_raw",
                &mut conflict,
            );
            if let Some(field) = conflict {
                self.diags.warning(
                    pos,
                    field,
                    "differs from the donor's earlier row; the earlier value is kept",
                );
            }
            return;
        }
        let facts = SubjectFacts {
            participant: Some(donor.clone()),
            sex,
            birth_date,
            ..SubjectFacts::default()
        };
        self.donors
            .insert(donor.clone(), self.extract.records.len());
        let provenance = self.provenance(pos, differs(raw_birth, birth_date));
        self.extract.records.push(SourceRecord {
            subject: SubjectRef::Participant(donor.clone()),
            provenance,
            body: RecordBody::Subject(facts),
        });
    }

    fn consent(&mut self, c: &Columns, row: &Row<'_>, donor: &ParticipantId) {
        let pos = row.position.as_str();
        match row.get(c.consent_status).to_ascii_lowercase().as_str() {
            "" | "active" | "given" | "consented" => {}
            "withdrawn" | "撤回" => {
                if self.withdrawn.insert(donor.clone()) {
                    let provenance = self.provenance(pos, None);
                    self.extract.records.push(SourceRecord {
                        subject: SubjectRef::Participant(donor.clone()),
                        provenance,
                        body: RecordBody::Consent(ConsentFacts {
                            action: ConsentAction::Withdrawn,
                            date: None,
                            purposes: Vec::new(),
                        }),
                    });
                }
            }
            _ => self.diags.warning(
                pos,
                "consent_status",
                "unknown consent status (expected active or withdrawn); no consent fact read",
            ),
        }
    }

    fn date(&mut self, pos: &str, field: &str, raw: &str) -> Option<PartialDate> {
        if raw.is_empty() {
            return None;
        }
        match gemj_japanese::era::parse(raw) {
            Ok(date) => Some(date),
            Err(error) => {
                self.diags.error(pos, field, format!("{error}; left out"));
                None
            }
        }
    }

    fn text(&mut self, pos: &str, field: &str, value: &str) -> Option<String> {
        if value.is_empty() {
            None
        } else if value.chars().count() > MAX_TEXT {
            self.diags
                .error(pos, field, "longer than 1024 characters; left out");
            None
        } else {
            Some(value.to_owned())
        }
    }

    fn site(&mut self, c: &Columns, row: &Row<'_>) -> Option<Coding> {
        let pos = row.position.as_str();
        let code = row.get(c.site_code);
        let ontology = row.get(c.site_ontology);
        if code.is_empty() {
            return None;
        }
        let Some(system) = vocabulary::site_system(ontology) else {
            self.diags.error(
                pos,
                "anatomical_site_ontology",
                "missing or unknown ontology (expected ICD-O-3, SNOMED CT or UBERON); site left out",
            );
            return None;
        };
        if system == vocabulary::ICD_O_3_SYSTEM && !vocabulary::is_icd_o_3_topography(code) {
            self.diags.error(
                pos,
                "anatomical_site_code",
                "not an ICD-O-3 topography code (expected e.g. C16.9); left out",
            );
            return None;
        }
        if code.chars().count() > 64 {
            self.diags.error(
                pos,
                "anatomical_site_code",
                "longer than 64 characters; left out",
            );
            return None;
        }
        Some(Coding::new(system, code))
    }

    fn quantity(&mut self, c: &Columns, row: &Row<'_>) -> Option<Quantity> {
        let pos = row.position.as_str();
        let value = row.get(c.quantity);
        let unit = row.get(c.unit);
        if value.is_empty() {
            if !unit.is_empty() {
                self.diags
                    .warning(pos, "unit", "a unit without a quantity; ignored");
            }
            return None;
        }
        if !vocabulary::is_decimal(value) {
            self.diags.error(
                pos,
                "quantity",
                "not a non-negative decimal number; quantity left out",
            );
            return None;
        }
        let unit = match unit {
            "" => None,
            u => match vocabulary::ucum_unit(u) {
                Some(code) => Some(code.to_owned()),
                None if u.chars().count() <= 32 => {
                    self.diags.warning(
                        pos,
                        "unit",
                        "not a unit known to the adapter; kept as written",
                    );
                    Some(u.to_owned())
                }
                None => {
                    self.diags
                        .error(pos, "unit", "longer than 32 characters; quantity left out");
                    return None;
                }
            },
        };
        Some(Quantity {
            value: value.to_owned(),
            unit,
        })
    }

    fn content_diagnosis(&mut self, c: &Columns, row: &Row<'_>) -> Option<Icd10Code> {
        match row.get(c.content_diagnosis) {
            "" => None,
            code => {
                let parsed = Icd10Code::parse(code).ok();
                if parsed.is_none() {
                    self.diags.error(
                        &row.position,
                        "sample_content_diagnosis",
                        "not an ICD-10 code; left out",
                    );
                }
                parsed
            }
        }
    }

    fn use_conditions(&mut self, c: &Columns, row: &Row<'_>) -> Vec<String> {
        let mut out = Vec::new();
        for condition in row.get(c.use_conditions).split(';') {
            let condition = condition.trim();
            if let Some(text) = self.text(&row.position, "use_access_conditions", condition) {
                out.push(text);
            }
        }
        out
    }

    fn finish(self) -> Extract {
        let mut extract = self.extract;
        extract.diagnostics = self.diags.finish();
        extract
    }
}

/// Fills `slot` from `new` when empty; notes a conflicting value.
fn merge<T: PartialEq>(
    slot: &mut Option<T>,
    new: Option<T>,
    field: &'static str,
    conflict: &mut Option<&'static str>,
) {
    match (slot.as_ref(), new) {
        (None, new) => *slot = new,
        (Some(old), Some(new)) if *old != new => *conflict = Some(field),
        _ => {}
    }
}

/// The raw date text when it is not already the canonical spelling.
fn differs(raw: &str, date: Option<PartialDate>) -> Option<&str> {
    match date {
        Some(d) if d.to_string() == raw => None,
        Some(_) => Some(raw),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gemj_model::SpecimenType;
    use gemj_model::source::Severity;

    const HEADER: &str = "sample_id,parent_sample_id,sample_donor_id,sample_type,sample_creation_date_raw,donor_sex,donor_birth_date_raw,consent_status,quantity,unit\n";

    fn read(rows: &str) -> Result<Extract, Error> {
        let options = ManifestOptions {
            file: "m.csv".into(),
        };
        read_manifest(format!("{HEADER}{rows}").as_bytes(), &options)
    }

    #[test]
    fn one_donor_many_samples() -> Result<(), Box<dyn std::error::Error>> {
        let extract = read(
            "A,,GEMJ-1,Whole blood,2024/03/15,Male,S50.04.01,active,7,mL\n\
             A-DNA,A,GEMJ-1,DNA,R6.03.18,Male,S50.04.01,active,50,\u{b5}g\n",
        )?;
        assert!(extract.diagnostics.is_empty(), "{:?}", extract.diagnostics);
        let kinds: Vec<_> = extract.records.iter().map(|r| r.body.kind()).collect();
        assert_eq!(kinds, ["subject", "specimen", "specimen"]);
        let s: Vec<_> = extract.specimens().collect();
        assert_eq!(s[1].parent.as_ref().map(SpecimenId::as_str), Some("A"));
        assert_eq!(s[1].specimen_type, SpecimenType::Dna);
        assert_eq!(
            s[1].details.quantity,
            Some(Quantity {
                value: "50".into(),
                unit: Some("ug".into())
            })
        );
        assert_eq!(
            extract.records[0].provenance.value.as_deref(),
            Some("S50.04.01")
        );
        assert_eq!(
            extract.records[1].provenance.position.as_deref(),
            Some("line 2")
        );
        Ok(())
    }

    #[test]
    fn withdrawn_donor_keeps_its_samples() -> Result<(), Box<dyn std::error::Error>> {
        let extract = read(
            "S1,,GEMJ-3,Serum,H31.04.30,Male,H13.02.03,withdrawn,1.5,mL\n\
             S2,,GEMJ-3,Serum,H31.04.30,Male,H13.02.03,withdrawn,1.5,mL\n",
        )?;
        let kinds: Vec<_> = extract.records.iter().map(|r| r.body.kind()).collect();
        assert_eq!(kinds, ["subject", "consent", "specimen", "specimen"]);
        let RecordBody::Consent(consent) = &extract.records[1].body else {
            return Err("expected a consent".into());
        };
        assert_eq!(consent.action, ConsentAction::Withdrawn);
        assert_eq!(consent.date, None);
        Ok(())
    }

    #[test]
    fn bad_cells_are_diagnostics_and_the_row_goes_on() -> Result<(), Box<dyn std::error::Error>> {
        let extract = read("A,A,GEMJ-1,Plasma,S64.01.08,Robot,yesterday,maybe,-1,kg\n")?;
        let s: Vec<_> = extract.specimens().collect();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].specimen_type, SpecimenType::Plasma);
        assert_eq!(s[0].parent, None);
        assert_eq!(s[0].collected, None);
        assert_eq!(s[0].details.quantity, None);
        let fields: Vec<_> = extract
            .diagnostics
            .iter()
            .map(|d| d.field.as_deref().unwrap_or(""))
            .collect();
        assert_eq!(
            fields,
            [
                "donor_sex",
                "donor_birth_date_raw",
                "consent_status",
                "sample_creation_date_raw",
                "parent_sample_id",
                "quantity"
            ]
        );
        for d in &extract.diagnostics {
            assert_eq!(d.position.as_deref(), Some("line 2"));
            assert!(!d.message.contains("Robot") && !d.message.contains("yesterday"));
        }
        Ok(())
    }

    #[test]
    fn unusable_rows_are_rejected() -> Result<(), Box<dyn std::error::Error>> {
        let extract = read(
            ",,GEMJ-1,DNA,,,,,,\n\
             A,,,DNA,,,,,,\n\
             B,,GEMJ-1,,,,,,,\n\
             C,,GEMJ-1,DNA,,,,,\n\
             D,,GEMJ-1,Urine,,,,,,\n\
             D,,GEMJ-1,DNA,,,,,,\n",
        )?;
        assert_eq!(extract.rejected.len(), 5);
        let s: Vec<_> = extract.specimens().collect();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].specimen_type, SpecimenType::Other("Urine".into()));
        assert!(
            extract
                .diagnostics
                .iter()
                .all(|d| d.severity == Severity::Error)
        );
        Ok(())
    }

    #[test]
    fn later_rows_fill_but_never_overwrite_the_donor() -> Result<(), Box<dyn std::error::Error>> {
        let extract = read(
            "A,,GEMJ-1,DNA,,,,,,\n\
             B,,GEMJ-1,DNA,,Female,1989-01-07,,,\n\
             C,,GEMJ-1,DNA,,Male,1989-01-07,,,\n",
        )?;
        let RecordBody::Subject(subject) = &extract.records[0].body else {
            return Err("expected a subject".into());
        };
        assert_eq!(subject.sex, Some(gemj_model::Sex::Female));
        assert_eq!(
            subject.birth_date.map(|d| d.to_string()).as_deref(),
            Some("1989-01-07")
        );
        assert_eq!(extract.records[0].provenance.value, None);
        assert_eq!(extract.diagnostics.len(), 1);
        assert_eq!(extract.diagnostics[0].field.as_deref(), Some("donor_sex"));
        Ok(())
    }

    #[test]
    fn fails_only_without_ids() {
        let options = ManifestOptions::default();
        assert!(matches!(read_manifest(b"", &options), Err(Error::Empty)));
        assert!(matches!(
            read_manifest(b"sample_id,x\n", &options),
            Err(Error::MissingColumn("sample_donor_id"))
        ));
        assert!(matches!(
            read_manifest(b"\xff,sample_id\n", &options),
            Err(Error::HeaderNotUtf8)
        ));
        assert!(read_manifest(b"\xEF\xBB\xBFsample_id,sample_donor_id\r\n", &options).is_ok());
    }
}
