//! The streaming reader: one pass of quick-xml events over the document, keeping only the
//! metadata (item definitions and code lists) and the one `SubjectData` being read.
//!
//! Elements are recognised by their place in the ODM tree (`ODM/ClinicalData/SubjectData/
//! StudyEventData/FormData/ItemGroupData/ItemData`, `ODM/Study/MetaDataVersion/ItemDef`, ...)
//! and by the root's namespace; anything else (vendor extensions, audit records, signatures) is
//! skipped with its subtree. Nesting deeper than [`MAX_DEPTH`] stops the reading.

use std::borrow::Cow;
use std::collections::HashSet;

use gemj_model::source::{
    ConsentAction, ConsentFacts, DiagnosisFacts, DiagnosticLog, Extract, HospitalPatientId,
    MeasurementFacts, PhenotypeFacts, RecordBody, Rejected, SourceRecord, SpecimenFacts,
    SubjectFacts, SubjectRef,
};
use gemj_model::{
    Coding, DiagnosisDetails, HpoId, Icd10Code, PartialDate, ParticipantId, PhenotypeStatus,
    Program, Provenance, Quantity, Sex, SpecimenDetails, SpecimenId, SpecimenType,
};
use quick_xml::NsReader;
use quick_xml::encoding::Decoder;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;

use crate::mapping::sex_of_label;
use crate::metadata::{
    CodeItem, CodeList, Comparator, DataType, ItemDef, Metadata, Problem, RangeCheck, short,
};
use crate::{Error, ICD_O_3_SYSTEM, LOINC_SYSTEM, ODM_NAMESPACE, OdmOptions};

/// The deepest element nesting read; deeper documents stop being read there.
pub const MAX_DEPTH: usize = 64;
/// The longest OID, key or coded value accepted, in bytes.
const MAX_OID: usize = 256;
/// The longest item value accepted, in bytes.
const MAX_VALUE: usize = 64 * 1024;
/// The longest decode text kept, in bytes.
const MAX_DECODE: usize = 8 * 1024;
/// The longest hospital patient id accepted, in characters.
const MAX_PATIENT_ID: usize = 64;

/// Where the reader is in the ODM tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tag {
    Odm,
    Study,
    MetaDataVersion,
    ItemDef,
    RangeCheck,
    CheckValue,
    CodeList,
    CodeListItem,
    Decode,
    TranslatedText,
    ClinicalData,
    SubjectData,
    StudyEventData,
    FormData,
    ItemGroupData,
    ItemData,
    /// Not read, with everything inside.
    Other,
}

/// Text being collected for the element at `depth`.
#[derive(Debug)]
struct Capture {
    depth: usize,
    text: String,
    limit: usize,
    broken: bool,
}

#[derive(Debug)]
struct PendingItem {
    oid: String,
    value: Option<String>,
    typed: bool,
}

#[derive(Debug)]
struct Group {
    position: String,
    items: Vec<(String, String)>,
    seen: HashSet<String>,
}

/// A fact waiting for the end of its `SubjectData`.
#[derive(Debug)]
struct Pending {
    position: String,
    value: Option<String>,
    body: RecordBody,
}

#[derive(Debug)]
struct Subject {
    position: String,
    participant: Option<ParticipantId>,
    cancer_form: bool,
    rare_disease_form: bool,
    birth_date: Option<PartialDate>,
    sex: Option<Sex>,
    hospital: Option<(String, String)>,
    consent: Option<(PartialDate, String)>,
    withdrawal: Option<(PartialDate, String)>,
    pending: Vec<Pending>,
}

/// Unprefixed attributes of an element (and `xml:lang`), decoded.
#[derive(Debug, Default)]
struct Attrs(Vec<(String, String)>);

impl Attrs {
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

pub(crate) struct Parser<'o> {
    options: &'o OdmOptions,
    diags: DiagnosticLog,
    extract: Extract,
    root_ns: Option<Vec<u8>>,
    root_done: bool,
    stack: Vec<Tag>,
    capture: Option<Capture>,
    study: Option<String>,
    metadata: Vec<(String, String, Metadata)>,
    mdv: Option<(String, Metadata)>,
    item_def: Option<(String, ItemDef)>,
    range_check: Option<RangeCheck>,
    code_list: Option<(String, CodeList)>,
    code_item: Option<CodeItem>,
    decode_lang: Option<String>,
    clinical: Option<usize>,
    subject: Option<Subject>,
    event: Option<String>,
    group: Option<Group>,
    item: Option<PendingItem>,
    undefined_items: HashSet<String>,
    /// Lines counted so far: up to this byte offset, this line.
    counted: (usize, u64),
}

/// Reads the document; `Err` only when it is not an ODM document at all.
pub(crate) fn read(bytes: &[u8], options: &OdmOptions) -> Result<Extract, Error> {
    let mut diags = DiagnosticLog::new(&options.file);
    let text = to_utf8(bytes, &mut diags)?;
    let mut parser = Parser {
        options,
        diags,
        extract: Extract::default(),
        root_ns: None,
        root_done: false,
        stack: Vec::new(),
        capture: None,
        study: None,
        metadata: Vec::new(),
        mdv: None,
        item_def: None,
        range_check: None,
        code_list: None,
        code_item: None,
        decode_lang: None,
        clinical: None,
        subject: None,
        event: None,
        group: None,
        item: None,
        undefined_items: HashSet::new(),
        counted: (0, 1),
    };
    parser.run(&text)?;
    Ok(parser.finish())
}

impl Parser<'_> {
    fn run(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let mut reader = NsReader::from_reader(bytes);
        let decoder = reader.decoder();
        loop {
            let (in_odm, root_ns, event) = match reader.read_resolved_event() {
                Ok((resolved, event)) => {
                    let in_odm = self.in_odm(&resolved);
                    let root_ns = match &resolved {
                        ResolveResult::Bound(ns) => Some(ns.as_ref().to_vec()),
                        _ => None,
                    };
                    (in_odm, root_ns, event)
                }
                Err(error) => {
                    if self.stack.is_empty() && !self.root_done {
                        return Err(Error::Xml(error));
                    }
                    let line = line_of(bytes, reader.error_position());
                    self.broken(&format!("line {line}"), xml_problem(&error));
                    return Ok(());
                }
            };
            let line = self.line_at(bytes, reader.buffer_position());
            match event {
                Event::Start(e) => {
                    if !self.open(&e, in_odm, root_ns, decoder, line)? {
                        return Ok(());
                    }
                }
                Event::Empty(e) => {
                    if !self.open(&e, in_odm, root_ns, decoder, line)? {
                        return Ok(());
                    }
                    self.close();
                }
                Event::End(_) => self.close(),
                Event::Text(t) => {
                    let text = t.xml_content().unwrap_or_default();
                    if self.stack.is_empty() {
                        if !text.trim().is_empty() {
                            if self.root_done {
                                self.diags.warning(
                                    &format!("line {}", line),
                                    "",
                                    "text after the root element; ignored",
                                );
                                return Ok(());
                            }
                            return Err(Error::NotXml);
                        }
                    } else {
                        self.append(&text);
                    }
                }
                Event::CData(c) => {
                    let text = c.decode().unwrap_or_default();
                    self.append(&text);
                }
                Event::GeneralRef(r) => {
                    let resolved = match r.resolve_char_ref() {
                        Ok(Some(c)) => Some(Cow::Owned(c.to_string())),
                        Ok(None) => r
                            .decode()
                            .ok()
                            .and_then(|name| quick_xml::escape::resolve_predefined_entity(&name))
                            .map(Cow::Borrowed),
                        Err(_) => None,
                    };
                    match resolved {
                        Some(text) => self.append(&text),
                        None => {
                            if let Some(capture) = &mut self.capture {
                                capture.broken = true;
                            }
                            let position = self.here();
                            self.diags.error(
                                &position,
                                "",
                                "unknown entity or character reference; the text around it is not read",
                            );
                        }
                    }
                }
                Event::DocType(_) => self.diags.warning(
                    &format!("line {}", line),
                    "",
                    "DOCTYPE ignored (entities it declares are not expanded)",
                ),
                Event::Eof => {
                    if !self.root_done && self.stack.is_empty() {
                        return Err(Error::Empty);
                    }
                    if !self.stack.is_empty() {
                        self.broken(&format!("line {}", line), "the file ends inside an element");
                    }
                    return Ok(());
                }
                Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            }
        }
    }

    /// The line of a byte offset at or after the previous one, counted incrementally.
    fn line_at(&mut self, bytes: &[u8], offset: u64) -> u64 {
        let offset = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(bytes.len());
        let (done, line) = &mut self.counted;
        if offset > *done {
            let newlines = bytes[*done..offset].iter().filter(|&&b| b == b'\n').count();
            *line += u64::try_from(newlines).unwrap_or(u64::MAX);
            *done = offset;
        }
        *line
    }

    /// The XML broke: what is complete stays, the subject being read is rejected.
    fn broken(&mut self, position: &str, what: &str) {
        self.diags
            .error(position, "", format!("{what}; stopped reading"));
        if let Some(subject) = self.subject.take() {
            self.reject(
                subject.position,
                "SubjectKey",
                "the file breaks inside this SubjectData; it is not read",
            );
        }
    }

    fn in_odm(&self, resolved: &ResolveResult<'_>) -> bool {
        match (resolved, &self.root_ns) {
            (ResolveResult::Bound(ns), Some(root)) => ns.as_ref() == root.as_slice(),
            (ResolveResult::Unbound, None) => true,
            _ => false,
        }
    }

    fn append(&mut self, text: &str) {
        let depth = self.stack.len();
        if let Some(capture) = &mut self.capture {
            if capture.depth != depth || capture.broken {
                return;
            }
            if capture.text.len() + text.len() > capture.limit {
                capture.broken = true;
                capture.text.clear();
                let position = self.here();
                self.diags
                    .error(&position, "", "element text too long; not read");
                return;
            }
            capture.text.push_str(text);
        }
    }

    fn start_capture(&mut self, limit: usize) {
        self.capture = Some(Capture {
            depth: self.stack.len(),
            text: String::new(),
            limit,
            broken: false,
        });
    }

    /// The captured text of the element being closed, trimmed; `None` when it broke.
    fn take_capture(&mut self) -> Option<String> {
        let capture = self.capture.take()?;
        (!capture.broken).then(|| capture.text.trim().to_owned())
    }

    /// Where the reader is, for diagnostics.
    fn here(&self) -> String {
        if let Some(group) = &self.group {
            group.position.clone()
        } else if let Some(subject) = &self.subject {
            subject.position.clone()
        } else if let Some((oid, _)) = &self.item_def {
            format!("ItemDef {}", short(oid))
        } else if let Some((oid, _)) = &self.code_list {
            format!("CodeList {}", short(oid))
        } else if let Some((oid, _)) = &self.mdv {
            format!("MetaDataVersion {}", short(oid))
        } else {
            "ODM".to_owned()
        }
    }

    fn attrs(&mut self, e: &BytesStart<'_>, decoder: Decoder) -> Attrs {
        let mut out = Attrs::default();
        // quick-xml's own duplicate check is quadratic in the number of attributes: a set here.
        let mut seen: HashSet<&[u8]> = HashSet::new();
        for attr in e.attributes().with_checks(false) {
            let Ok(attr) = attr else {
                let position = self.here();
                self.diags.error(
                    &position,
                    "",
                    "malformed attributes; the rest of the element's attributes are not read",
                );
                break;
            };
            let key = attr.key.into_inner();
            if key.contains(&b':') && key != b"xml:lang" {
                continue;
            }
            let Ok(key) = std::str::from_utf8(key) else {
                continue;
            };
            if !seen.insert(key.as_bytes()) {
                let position = self.here();
                self.diags
                    .error(&position, key, "attribute named twice; the first is read");
                continue;
            }
            if attr.value.len() > MAX_VALUE {
                let position = self.here();
                self.diags
                    .error(&position, key, "attribute longer than 64 KiB; not read");
                continue;
            }
            match attr.decode_and_unescape_value(decoder) {
                Ok(value) => out.0.push((key.to_owned(), value.into_owned())),
                Err(_) => {
                    let position = self.here();
                    self.diags.error(
                        &position,
                        key,
                        "attribute has an unknown entity or bad character reference; not read",
                    );
                }
            }
        }
        out
    }

    /// A required OID-like attribute: present, non-empty and short.
    fn oid<'a>(&mut self, attrs: &'a Attrs, name: &str, element: &str) -> Option<&'a str> {
        match attrs.get(name) {
            Some(v) if !v.is_empty() && v.len() <= MAX_OID => Some(v),
            Some(v) if v.len() > MAX_OID => {
                let position = self.here();
                self.diags.error(
                    &position,
                    name,
                    format!(
                        "{element} {name} longer than {MAX_OID} bytes; the element is not read"
                    ),
                );
                None
            }
            _ => {
                let position = self.here();
                self.diags.error(
                    &position,
                    name,
                    format!("{element} without {name}; the element is not read"),
                );
                None
            }
        }
    }

    /// Handles a start tag; `Ok(false)` stops the reading.
    fn open(
        &mut self,
        e: &BytesStart<'_>,
        in_odm: bool,
        ns: Option<Vec<u8>>,
        decoder: Decoder,
        line: u64,
    ) -> Result<bool, Error> {
        if self.stack.is_empty() {
            if self.root_done {
                self.diags.warning(
                    &format!("line {}", line),
                    "",
                    "a second root element; ignored",
                );
                return Ok(false);
            }
            if e.local_name().as_ref() != b"ODM" {
                return Err(Error::NotOdm);
            }
            self.root_ns = ns;
            let attrs = self.attrs(e, decoder);
            self.check_root(&attrs);
            self.stack.push(Tag::Odm);
            return Ok(true);
        }
        if self.stack.len() >= MAX_DEPTH {
            self.broken(
                &format!("line {}", line),
                &format!("elements nested deeper than {MAX_DEPTH}"),
            );
            return Ok(false);
        }
        let parent = self.stack.last().copied().unwrap_or(Tag::Other);
        let local = e.local_name();
        let local = local.as_ref();
        let tag = if in_odm && parent != Tag::Other {
            self.enter(parent, local, e, decoder)
        } else {
            Tag::Other
        };
        self.stack.push(tag);
        match tag {
            Tag::TranslatedText => self.start_capture(MAX_DECODE),
            Tag::CheckValue => self.start_capture(MAX_OID),
            Tag::ItemData if self.item.as_ref().is_some_and(|i| i.typed) => {
                self.start_capture(MAX_VALUE);
            }
            _ => {}
        }
        Ok(true)
    }

    fn check_root(&mut self, attrs: &Attrs) {
        let ns = self.root_ns.as_deref().unwrap_or_default();
        if ns != ODM_NAMESPACE.as_bytes() {
            self.diags.warning(
                "ODM",
                "xmlns",
                format!(
                    "namespace is not {ODM_NAMESPACE}; the document is read as ODM 1.3 in its own namespace"
                ),
            );
        }
        match attrs.get("ODMVersion") {
            Some("1.3.2") => {}
            Some(v) => self.diags.warning(
                "ODM",
                "ODMVersion",
                format!("ODMVersion {} is not 1.3.2; read as 1.3.2", short(v)),
            ),
            None => self
                .diags
                .warning("ODM", "ODMVersion", "no ODMVersion; read as 1.3.2"),
        }
        match attrs.get("FileType") {
            Some("Snapshot") => {}
            Some("Transactional") => self.diags.warning(
                "ODM",
                "FileType",
                "a Transactional file: elements with TransactionType Remove are skipped, every other value is read as current",
            ),
            Some(_) => self.diags.warning(
                "ODM",
                "FileType",
                "FileType is neither Snapshot nor Transactional; read as a snapshot",
            ),
            None => self
                .diags
                .warning("ODM", "FileType", "no FileType; read as a snapshot"),
        }
    }

    /// Which element this is, given its parent, with its attributes read into the state.
    fn enter(&mut self, parent: Tag, local: &[u8], e: &BytesStart<'_>, decoder: Decoder) -> Tag {
        match (parent, local) {
            (Tag::Odm, b"Study") => {
                let attrs = self.attrs(e, decoder);
                self.study = Some(attrs.get("OID").map(str::to_owned).unwrap_or_default());
                Tag::Study
            }
            (Tag::Study, b"MetaDataVersion") => {
                let attrs = self.attrs(e, decoder);
                let Some(oid) = self.oid(&attrs, "OID", "MetaDataVersion") else {
                    return Tag::Other;
                };
                self.mdv = Some((oid.to_owned(), Metadata::default()));
                Tag::MetaDataVersion
            }
            (Tag::MetaDataVersion, b"Include") => {
                let position = self.here();
                self.diags.warning(
                    &position,
                    "Include",
                    "MetaDataVersion Include is not followed: definitions of the included version are not known",
                );
                Tag::Other
            }
            (Tag::MetaDataVersion, b"ItemDef") => {
                let attrs = self.attrs(e, decoder);
                let Some(oid) = self.oid(&attrs, "OID", "ItemDef") else {
                    return Tag::Other;
                };
                let oid = oid.to_owned();
                let data_type = attrs.get("DataType").map(DataType::parse);
                let length = attrs.get("Length").and_then(|l| l.parse().ok());
                self.item_def = Some((
                    oid,
                    ItemDef {
                        data_type: data_type.unwrap_or(DataType::Unchecked),
                        length,
                        code_list: None,
                        range_checks: Vec::new(),
                    },
                ));
                if data_type.is_none() {
                    let position = self.here();
                    self.diags.warning(
                        &position,
                        "DataType",
                        "ItemDef without DataType; its values are not type-checked",
                    );
                }
                Tag::ItemDef
            }
            (Tag::ItemDef, b"CodeListRef") => {
                let attrs = self.attrs(e, decoder);
                if let Some(oid) = self.oid(&attrs, "CodeListOID", "CodeListRef") {
                    let oid = oid.to_owned();
                    if let Some((_, def)) = &mut self.item_def {
                        def.code_list = Some(oid);
                    }
                }
                Tag::Other
            }
            (Tag::ItemDef, b"RangeCheck") => {
                let attrs = self.attrs(e, decoder);
                let comparator = attrs.get("Comparator").and_then(Comparator::parse);
                if comparator.is_none() {
                    let position = self.here();
                    self.diags.warning(
                        &position,
                        "Comparator",
                        "RangeCheck without a known Comparator; not applied",
                    );
                }
                self.range_check = Some(RangeCheck {
                    comparator,
                    hard: attrs.get("SoftHard") == Some("Hard"),
                    values: Vec::new(),
                });
                Tag::RangeCheck
            }
            (Tag::RangeCheck, b"CheckValue") => Tag::CheckValue,
            (Tag::MetaDataVersion, b"CodeList") => {
                let attrs = self.attrs(e, decoder);
                let Some(oid) = self.oid(&attrs, "OID", "CodeList") else {
                    return Tag::Other;
                };
                self.code_list = Some((oid.to_owned(), CodeList::default()));
                Tag::CodeList
            }
            (Tag::CodeList, b"ExternalCodeList") => {
                if let Some((_, list)) = &mut self.code_list {
                    list.external = true;
                }
                Tag::Other
            }
            (Tag::CodeList, b"CodeListItem" | b"EnumeratedItem") => {
                let attrs = self.attrs(e, decoder);
                let Some(coded) = self.oid(&attrs, "CodedValue", "CodeListItem") else {
                    return Tag::Other;
                };
                self.code_item = Some(CodeItem {
                    coded: coded.to_owned(),
                    decodes: Vec::new(),
                });
                Tag::CodeListItem
            }
            (Tag::CodeListItem, b"Decode") => Tag::Decode,
            (Tag::Decode, b"TranslatedText") => {
                let attrs = self.attrs(e, decoder);
                self.decode_lang = attrs.get("xml:lang").map(short);
                Tag::TranslatedText
            }
            (Tag::Odm, b"ClinicalData") => {
                let attrs = self.attrs(e, decoder);
                let study = attrs.get("StudyOID").unwrap_or_default();
                let mdv = attrs.get("MetaDataVersionOID").unwrap_or_default();
                self.clinical = self
                    .metadata
                    .iter()
                    .position(|(s, m, _)| s == study && m == mdv);
                if self.clinical.is_none() {
                    self.diags.warning(
                        "ClinicalData",
                        "MetaDataVersionOID",
                        "no MetaDataVersion of this StudyOID and MetaDataVersionOID precedes the clinical data; values are not checked against ItemDefs",
                    );
                }
                Tag::ClinicalData
            }
            (Tag::ClinicalData, b"SubjectData") => self.enter_subject(e, decoder),
            (Tag::SubjectData, b"StudyEventData") => {
                let attrs = self.attrs(e, decoder);
                if self.removed(&attrs) {
                    return Tag::Other;
                }
                self.event = attrs.get("StudyEventRepeatKey").map(|key| {
                    let oid = attrs.get("StudyEventOID").unwrap_or_default();
                    format!("{}[{}]", short(oid), short(key))
                });
                Tag::StudyEventData
            }
            (Tag::StudyEventData, b"FormData") => {
                let attrs = self.attrs(e, decoder);
                if self.removed(&attrs) {
                    return Tag::Other;
                }
                let form = attrs.get("FormOID").unwrap_or_default();
                let options = self.options;
                let mapping = &options.mapping;
                if let Some(subject) = &mut self.subject {
                    if !form.is_empty() && form == mapping.cancer_form {
                        subject.cancer_form = true;
                    }
                    if !form.is_empty() && form == mapping.rare_disease_form {
                        subject.rare_disease_form = true;
                    }
                }
                Tag::FormData
            }
            (Tag::FormData, b"ItemGroupData") => {
                let attrs = self.attrs(e, decoder);
                if self.removed(&attrs) {
                    return Tag::Other;
                }
                let Some(oid) = self.oid(&attrs, "ItemGroupOID", "ItemGroupData") else {
                    return Tag::Other;
                };
                let Some(subject) = &self.subject else {
                    return Tag::Other;
                };
                let mut position = subject.position.clone();
                if let Some(event) = &self.event {
                    position.push_str(", ");
                    position.push_str(event);
                }
                position.push_str(", ");
                position.push_str(oid);
                if let Some(key) = attrs.get("ItemGroupRepeatKey") {
                    position.push('[');
                    position.push_str(&short(key));
                    position.push(']');
                }
                self.group = Some(Group {
                    position,
                    items: Vec::new(),
                    seen: HashSet::new(),
                });
                Tag::ItemGroupData
            }
            (Tag::ItemGroupData, name) if name.starts_with(b"ItemData") => {
                let attrs = self.attrs(e, decoder);
                if attrs.get("IsNull") == Some("Yes") || self.removed(&attrs) {
                    return Tag::Other;
                }
                let Some(oid) = self.oid(&attrs, "ItemOID", "ItemData") else {
                    return Tag::Other;
                };
                let typed = name != b"ItemData";
                let value = attrs.get("Value").map(str::to_owned);
                if !typed && value.is_none() {
                    let position = self.here();
                    let oid = short(oid);
                    self.diags
                        .warning(&position, &oid, "ItemData without Value; nothing read");
                    return Tag::Other;
                }
                self.item = Some(PendingItem {
                    oid: oid.to_owned(),
                    value,
                    typed,
                });
                Tag::ItemData
            }
            _ => Tag::Other,
        }
    }

    fn enter_subject(&mut self, e: &BytesStart<'_>, decoder: Decoder) -> Tag {
        let attrs = self.attrs(e, decoder);
        let Some(key) = self.oid(&attrs, "SubjectKey", "SubjectData") else {
            let position = self.here();
            self.reject(
                position,
                "SubjectKey",
                "SubjectData without a usable SubjectKey; not read",
            );
            return Tag::Other;
        };
        let position = format!("SubjectData {}", short(key));
        let participant = ParticipantId::parse(key).ok();
        if self.removed(&attrs) {
            return Tag::Other;
        }
        self.subject = Some(Subject {
            position,
            participant,
            cancer_form: false,
            rare_disease_form: false,
            birth_date: None,
            sex: None,
            hospital: None,
            consent: None,
            withdrawal: None,
            pending: Vec::new(),
        });
        Tag::SubjectData
    }

    /// `TransactionType="Remove"`: the element is skipped, with a warning.
    fn removed(&mut self, attrs: &Attrs) -> bool {
        if attrs.get("TransactionType") == Some("Remove") {
            let position = self.here();
            self.diags.warning(
                &position,
                "TransactionType",
                "TransactionType Remove: the element is skipped",
            );
            true
        } else {
            false
        }
    }

    fn close(&mut self) {
        let Some(tag) = self.stack.pop() else {
            return;
        };
        match tag {
            Tag::Odm => self.root_done = true,
            Tag::Study => self.study = None,
            Tag::MetaDataVersion => {
                if let Some((oid, metadata)) = self.mdv.take() {
                    let study = self.study.clone().unwrap_or_default();
                    self.metadata.push((study, oid, metadata));
                }
            }
            Tag::ItemDef => {
                if let (Some((oid, def)), Some((_, metadata))) =
                    (self.item_def.take(), &mut self.mdv)
                {
                    if let std::collections::hash_map::Entry::Vacant(entry) =
                        metadata.items.entry(oid.clone())
                    {
                        entry.insert(def);
                    } else {
                        let position = format!("ItemDef {}", short(&oid));
                        self.diags.warning(
                            &position,
                            "OID",
                            "ItemDef defined twice; the first is read",
                        );
                    }
                }
            }
            Tag::RangeCheck => {
                if let (Some(check), Some((_, def))) = (self.range_check.take(), &mut self.item_def)
                {
                    def.range_checks.push(check);
                }
            }
            Tag::CheckValue => {
                if let Some(value) = self.take_capture()
                    && let Some(check) = &mut self.range_check
                {
                    check.values.push(value);
                }
            }
            Tag::CodeList => {
                if let (Some((oid, list)), Some((_, metadata))) =
                    (self.code_list.take(), &mut self.mdv)
                {
                    metadata.code_lists.entry(oid).or_insert(list);
                }
            }
            Tag::CodeListItem => {
                if let (Some(item), Some((_, list))) = (self.code_item.take(), &mut self.code_list)
                {
                    list.items.push(item);
                }
            }
            Tag::TranslatedText => {
                let lang = self.decode_lang.take();
                if let Some(text) = self.take_capture()
                    && let Some(item) = &mut self.code_item
                {
                    item.decodes.push((lang, text));
                }
            }
            Tag::ClinicalData => self.clinical = None,
            Tag::SubjectData => self.end_subject(),
            Tag::StudyEventData => self.event = None,
            Tag::ItemGroupData => self.end_group(),
            Tag::ItemData => self.end_item(),
            Tag::Decode | Tag::FormData | Tag::Other => {}
        }
    }

    fn end_item(&mut self) {
        let Some(item) = self.item.take() else {
            return;
        };
        let value = if item.typed {
            self.take_capture()
        } else {
            item.value
        };
        let Some(value) = value else {
            return;
        };
        let Some(group) = &self.group else {
            return;
        };
        let position = group.position.clone();
        let field = short(&item.oid);
        if group.seen.contains(&item.oid) {
            self.diags.warning(
                &position,
                &field,
                "ItemData repeated in one ItemGroupData; the first is read",
            );
            return;
        }
        if value.len() > MAX_VALUE {
            self.diags
                .error(&position, &field, "value longer than 64 KiB; left out");
            return;
        }
        let problems = match self.clinical.and_then(|i| self.metadata.get(i)) {
            Some((_, _, metadata)) => match metadata.items.get(&item.oid) {
                Some(def) => metadata.check(def, &value),
                None => {
                    if self.undefined_items.insert(item.oid.clone()) {
                        vec![Problem::Warning(
                            "no ItemDef for this ItemOID; the value is not checked".to_owned(),
                        )]
                    } else {
                        Vec::new()
                    }
                }
            },
            None => Vec::new(),
        };
        let mut keep = true;
        for problem in problems {
            match problem {
                Problem::Error(message) => {
                    keep = false;
                    self.diags.error(&position, &field, message);
                }
                Problem::Warning(message) => self.diags.warning(&position, &field, message),
            }
        }
        if let (true, Some(group)) = (keep, &mut self.group) {
            group.seen.insert(item.oid.clone());
            group.items.push((item.oid, value));
        }
    }

    /// The decodes of a coded value of `item` in the clinical data's metadata.
    fn decodes(&self, item: &str, value: &str) -> Vec<String> {
        self.clinical
            .and_then(|i| self.metadata.get(i))
            .and_then(|(_, _, md)| md.items.get(item).map(|def| md.decodes(def, value)))
            .unwrap_or_default()
    }

    /// Turns one item group's values into the subject's facts, by the mapping.
    fn end_group(&mut self) {
        let Some(group) = self.group.take() else {
            return;
        };
        let Some(mut subject) = self.subject.take() else {
            return;
        };
        let options = self.options;
        let m = &options.mapping;
        let items = group.items.as_slice();
        let get = |oid: &str| lookup(items, oid);
        let pos = group.position.as_str();

        if let Some(v) = get(&m.birth_date)
            && let Some(date) = self.date(pos, &m.birth_date, v)
        {
            self.once(&mut subject.birth_date, date, pos, &m.birth_date);
        }
        if let Some(v) = get(&m.sex) {
            let sex = m.sex_codes.get(v).copied().or_else(|| {
                self.decodes(&m.sex, v)
                    .iter()
                    .find_map(|label| sex_of_label(label))
            });
            match sex {
                Some(sex) => self.once(&mut subject.sex, sex, pos, &m.sex),
                None => self.diags.error(
                    pos,
                    &m.sex,
                    "coded value names no sex known to the mapping; left out",
                ),
            }
        }
        if let Some(v) = get(&m.hospital_patient_id) {
            if v.chars().count() <= MAX_PATIENT_ID && !v.chars().any(char::is_control) {
                if subject.hospital.is_none() {
                    subject.hospital = Some((v.to_owned(), pos.to_owned()));
                }
            } else {
                self.diags.error(
                    pos,
                    &m.hospital_patient_id,
                    "not a hospital patient id (at most 64 characters, no control characters); left out",
                );
            }
        }
        if let Some(v) = get(&m.consent_date)
            && let Some(date) = self.date(pos, &m.consent_date, v)
        {
            subject.consent.get_or_insert((date, pos.to_owned()));
        }
        if let Some(v) = get(&m.withdrawal_date)
            && let Some(date) = self.date(pos, &m.withdrawal_date, v)
        {
            subject.withdrawal.get_or_insert((date, pos.to_owned()));
        }
        self.cancer(items, pos, &mut subject);
        if let Some(v) = get(&m.ecog) {
            if v.bytes().all(|b| b.is_ascii_digit()) && (1..=2).contains(&v.len()) {
                subject.pending.push(Pending {
                    position: pos.to_owned(),
                    value: None,
                    body: RecordBody::Measurement(ecog(v)),
                });
            } else {
                self.diags.error(
                    pos,
                    &m.ecog,
                    "not an ECOG performance status (0 to 5); left out",
                );
            }
        }
        if let Some(v) = get(&m.tumour_specimen) {
            match SpecimenId::parse(v) {
                Ok(id) => subject.pending.push(Pending {
                    position: pos.to_owned(),
                    value: None,
                    body: RecordBody::Specimen(SpecimenFacts {
                        id,
                        specimen_type: SpecimenType::Tissue,
                        parent: None,
                        collected: None,
                        tumour: Some(true),
                        biobank_sample: true,
                        details: SpecimenDetails::default(),
                    }),
                }),
                Err(_) => {
                    self.diags
                        .error(pos, &m.tumour_specimen, "not a valid specimen id; left out");
                }
            }
        }
        self.rare_disease(items, pos, &mut subject);
        self.phenotype(items, pos, &mut subject);
        self.subject = Some(subject);
    }

    fn cancer(&mut self, items: &[(String, String)], pos: &str, subject: &mut Subject) {
        let options = self.options;
        let m = &options.mapping;
        let get = |oid: &str| lookup(items, oid);
        let Some(code) = get(&m.cancer_icd10) else {
            let others = [
                &m.cancer_morphology,
                &m.cancer_diagnosis_date,
                &m.cancer_stage,
            ];
            if others.iter().any(|oid| get(oid).is_some()) {
                self.diags.warning(
                    pos,
                    &m.cancer_icd10,
                    "cancer diagnosis items without an ICD-10 code in this item group; not read",
                );
            }
            return;
        };
        let Some(icd10) = self.icd10(pos, &m.cancer_icd10, code) else {
            return;
        };
        let mut details = DiagnosisDetails::default();
        if let Some(morphology) = get(&m.cancer_morphology) {
            if is_icd_o_3_morphology(morphology) {
                details
                    .codings
                    .push(Coding::new(ICD_O_3_SYSTEM, morphology));
            } else {
                self.diags.error(
                    pos,
                    &m.cancer_morphology,
                    "not an ICD-O-3 morphology code (expected e.g. 8140/3); left out",
                );
            }
        }
        details.stage = get(&m.cancer_stage).map(str::to_owned);
        let recorded =
            get(&m.cancer_diagnosis_date).and_then(|v| self.date(pos, &m.cancer_diagnosis_date, v));
        subject.pending.push(Pending {
            position: pos.to_owned(),
            value: (icd10.as_str() != code).then(|| code.to_owned()),
            body: RecordBody::Diagnosis(DiagnosisFacts {
                icd10,
                source_code: code.to_owned(),
                source_system: None,
                onset: None,
                recorded,
                details,
            }),
        });
    }

    fn rare_disease(&mut self, items: &[(String, String)], pos: &str, subject: &mut Subject) {
        let options = self.options;
        let m = &options.mapping;
        let get = |oid: &str| lookup(items, oid);
        let Some(code) = get(&m.rare_disease_icd10) else {
            if get(&m.rare_disease_onset).is_some() {
                self.diags.warning(
                    pos,
                    &m.rare_disease_icd10,
                    "onset without an ICD-10 code in this item group; not read",
                );
            }
            return;
        };
        let Some(icd10) = self.icd10(pos, &m.rare_disease_icd10, code) else {
            return;
        };
        let onset =
            get(&m.rare_disease_onset).and_then(|v| self.date(pos, &m.rare_disease_onset, v));
        subject.pending.push(Pending {
            position: pos.to_owned(),
            value: (icd10.as_str() != code).then(|| code.to_owned()),
            body: RecordBody::Diagnosis(DiagnosisFacts {
                icd10,
                source_code: code.to_owned(),
                source_system: None,
                onset,
                recorded: None,
                details: DiagnosisDetails::default(),
            }),
        });
    }

    fn phenotype(&mut self, items: &[(String, String)], pos: &str, subject: &mut Subject) {
        let options = self.options;
        let m = &options.mapping;
        let get = |oid: &str| lookup(items, oid);
        let Some(id) = get(&m.hpo_id) else {
            if get(&m.hpo_excluded).is_some() {
                self.diags.warning(
                    pos,
                    &m.hpo_excluded,
                    "exclusion flag without an HPO id in this item group; not read",
                );
            }
            return;
        };
        let Ok(hpo) = HpoId::parse(id) else {
            self.diags.error(
                pos,
                &m.hpo_id,
                "not an HPO id (HP: and seven digits); left out",
            );
            return;
        };
        let status = match get(&m.hpo_excluded) {
            None | Some("false" | "0") => PhenotypeStatus::Observed,
            Some("true" | "1") => PhenotypeStatus::Excluded,
            Some(_) => {
                self.diags.error(
                    pos,
                    &m.hpo_excluded,
                    "not a boolean (true, false, 1, 0); the phenotype is left out",
                );
                return;
            }
        };
        subject.pending.push(Pending {
            position: pos.to_owned(),
            value: None,
            body: RecordBody::Phenotype(PhenotypeFacts {
                hpo,
                status,
                onset: None,
            }),
        });
    }

    fn date(&mut self, pos: &str, field: &str, value: &str) -> Option<PartialDate> {
        let date = PartialDate::parse(value).ok();
        if date.is_none() {
            self.diags.error(
                pos,
                field,
                "not a date (YYYY, YYYY-MM or YYYY-MM-DD); left out",
            );
        }
        date
    }

    fn icd10(&mut self, pos: &str, field: &str, code: &str) -> Option<Icd10Code> {
        let parsed = Icd10Code::parse(code).ok();
        if parsed.is_none() {
            self.diags
                .error(pos, field, "not an ICD-10 code; the diagnosis is left out");
        }
        parsed
    }

    /// Sets a subject-level value once; a later different value is a warning.
    fn once<T: PartialEq>(&mut self, slot: &mut Option<T>, value: T, pos: &str, field: &str) {
        match slot {
            None => *slot = Some(value),
            Some(old) if *old != value => self.diags.warning(
                pos,
                field,
                "differs from an earlier value of this subject; the first is kept",
            ),
            Some(_) => {}
        }
    }

    fn provenance(&self, position: String, value: Option<String>) -> Provenance {
        Provenance {
            source: "odm".to_owned(),
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

    fn end_subject(&mut self) {
        self.event = None;
        let Some(subject) = self.subject.take() else {
            return;
        };
        let Some(participant) = subject.participant else {
            self.reject(
                subject.position,
                "SubjectKey",
                "SubjectKey is not a valid GeMJ id; the subject is not read",
            );
            return;
        };
        let options = self.options;
        let m = &options.mapping;
        let program = match (subject.cancer_form, subject.rare_disease_form) {
            (true, false) => Some(Program::Cancer),
            (false, true) => Some(Program::RareDisease),
            (true, true) => {
                self.diags.warning(
                    &subject.position,
                    "FormOID",
                    "both the cancer and the rare-disease form: no program read",
                );
                None
            }
            (false, false) => None,
        };
        let hospital_ids = match (subject.hospital, &self.options.institution) {
            (Some((patient, _)), Some(institution)) => vec![HospitalPatientId {
                institution: institution.clone(),
                patient,
            }],
            (Some((_, pos)), None) => {
                self.diags.warning(
                    &pos,
                    &m.hospital_patient_id,
                    "no institution code configured for this export: the hospital patient id is not linked",
                );
                Vec::new()
            }
            (None, _) => Vec::new(),
        };
        let subject_ref = SubjectRef::Participant(participant.clone());
        let facts = SubjectFacts {
            participant: Some(participant),
            hospital_ids,
            institution: self.options.institution.clone(),
            sex: subject.sex,
            birth_date: subject.birth_date,
            program,
            ..SubjectFacts::default()
        };
        self.push(
            &subject_ref,
            subject.position,
            None,
            RecordBody::Subject(facts),
        );
        for (consent, action) in [
            (subject.consent, ConsentAction::Given),
            (subject.withdrawal, ConsentAction::Withdrawn),
        ] {
            if let Some((date, pos)) = consent {
                let body = RecordBody::Consent(ConsentFacts {
                    action,
                    date: Some(date),
                    purposes: Vec::new(),
                });
                self.push(&subject_ref, pos, None, body);
            }
        }
        for pending in subject.pending {
            self.push(&subject_ref, pending.position, pending.value, pending.body);
        }
    }

    fn finish(mut self) -> Extract {
        if let Some(subject) = self.subject.take() {
            self.reject(
                subject.position,
                "SubjectKey",
                "the file ends inside this SubjectData; it is not read",
            );
        }
        let mut extract = self.extract;
        extract.diagnostics = self.diags.finish();
        extract
    }
}

/// The value of `oid` in an item group; `None` for an unmapped (empty) OID.
fn lookup<'g>(items: &'g [(String, String)], oid: &str) -> Option<&'g str> {
    if oid.is_empty() {
        return None;
    }
    items
        .iter()
        .find(|(o, _)| o == oid)
        .map(|(_, v)| v.as_str())
}

/// The ECOG performance status as a LOINC-coded measurement.
fn ecog(value: &str) -> MeasurementFacts {
    MeasurementFacts {
        code: Coding::new(LOINC_SYSTEM, "89247-1").with_display("ECOG Performance Status score"),
        value: Quantity {
            value: value.to_owned(),
            unit: None,
        },
        value_type: "NM".to_owned(),
        reference_range: None,
        interpretation: None,
        effective: None,
        status: None,
        order: None,
        lab_specimen: None,
    }
}

/// `8140/3`: four digits, a slash and the behaviour digit.
fn is_icd_o_3_morphology(code: &str) -> bool {
    let b = code.as_bytes();
    b.len() == 6 && b[..4].iter().all(u8::is_ascii_digit) && b[4] == b'/' && b[5].is_ascii_digit()
}

/// The 1-based line of a byte offset.
fn line_of(bytes: &[u8], offset: u64) -> u64 {
    let end = usize::try_from(offset)
        .unwrap_or(usize::MAX)
        .min(bytes.len());
    let newlines = bytes[..end].iter().filter(|&&b| b == b'\n').count();
    u64::try_from(newlines).map_or(u64::MAX, |n| n + 1)
}

/// What kind of XML error, without the document's text.
fn xml_problem(error: &quick_xml::Error) -> &'static str {
    use quick_xml::Error as E;
    match error {
        E::Syntax(_) => "XML syntax error",
        E::IllFormed(_) => "the XML is not well-formed (an end tag does not match)",
        E::InvalidAttr(_) => "malformed XML attributes",
        E::Encoding(_) => "the text is not UTF-8",
        E::Escape(_) => "a bad character or entity reference",
        E::Namespace(_) => "a bad namespace declaration",
        E::Io(_) => "the input could not be read",
    }
}

/// The input as UTF-8: a BOM stripped, UTF-16 or a declared non-UTF-8 encoding (Shift_JIS,
/// EUC-JP) decoded, and the declaration then rewritten to say UTF-8.
fn to_utf8<'b>(bytes: &'b [u8], diags: &mut DiagnosticLog) -> Result<Cow<'b, [u8]>, Error> {
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        return Ok(Cow::Borrowed(rest));
    }
    let encoding = if bytes.starts_with(b"\xFF\xFE") {
        encoding_rs::UTF_16LE
    } else if bytes.starts_with(b"\xFE\xFF") {
        encoding_rs::UTF_16BE
    } else {
        let Some((start, end)) = declared_encoding(bytes) else {
            return Ok(Cow::Borrowed(bytes));
        };
        let label = &bytes[start..end];
        let encoding = encoding_rs::Encoding::for_label(label).ok_or(Error::UnsupportedEncoding)?;
        if encoding == encoding_rs::UTF_8 {
            return Ok(Cow::Borrowed(bytes));
        }
        encoding
    };
    let (text, had_errors) = encoding.decode_with_bom_removal(bytes);
    if had_errors {
        diags.warning(
            "ODM",
            "encoding",
            "bytes that are not valid in the declared encoding were replaced by U+FFFD",
        );
    }
    let mut text = text.into_owned();
    if let Some((start, end)) = declared_encoding(text.as_bytes()) {
        text.replace_range(start..end, "UTF-8");
    }
    Ok(Cow::Owned(text.into_bytes()))
}

/// The byte range of the encoding label in the XML declaration, if there is one.
fn declared_encoding(bytes: &[u8]) -> Option<(usize, usize)> {
    if !bytes.starts_with(b"<?xml") {
        return None;
    }
    let head = &bytes[..bytes.len().min(512)];
    let end = head.windows(2).position(|w| w == b"?>")?;
    let decl = &head[..end];
    let at = decl.windows(8).position(|w| w == b"encoding")? + 8;
    let mut i = at;
    while decl.get(i).is_some_and(u8::is_ascii_whitespace) {
        i += 1;
    }
    if decl.get(i) != Some(&b'=') {
        return None;
    }
    i += 1;
    while decl.get(i).is_some_and(u8::is_ascii_whitespace) {
        i += 1;
    }
    let quote = *decl.get(i).filter(|q| matches!(q, b'"' | b'\''))?;
    let start = i + 1;
    let len = decl.get(start..)?.iter().position(|&b| b == quote)?;
    (len <= 40).then_some((start, start + len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn morphology_codes() {
        assert!(is_icd_o_3_morphology("8140/3"));
        assert!(!is_icd_o_3_morphology("8140"));
        assert!(!is_icd_o_3_morphology("8140/33"));
        assert!(!is_icd_o_3_morphology("C16.9"));
    }

    #[test]
    fn declarations() {
        let check = |text: &[u8], expect: Option<&[u8]>| {
            let got = declared_encoding(text).map(|(s, e)| &text[s..e]);
            assert_eq!(got, expect, "{}", String::from_utf8_lossy(text));
        };
        check(
            b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><ODM/>",
            Some(b"UTF-8"),
        );
        check(
            b"<?xml version='1.0' encoding = 'Shift_JIS' ?>",
            Some(b"Shift_JIS"),
        );
        check(b"<?xml version=\"1.0\"?><ODM/>", None);
        check(b"<ODM/>", None);
        check(b"<?xml encoding=\"", None);
    }

    use crate::read_odm;
    use gemj_model::source::Severity;

    const METADATA: &str = r#"<Study OID="S"><MetaDataVersion OID="M">
      <ItemDef OID="I.BRTHDTC" DataType="date"/>
      <ItemDef OID="I.SEX" DataType="text" Length="1"><CodeListRef CodeListOID="CL.SEX"/></ItemDef>
      <ItemDef OID="I.HOSPID" DataType="text"/>
      <ItemDef OID="I.ECOG" DataType="integer">
        <RangeCheck Comparator="GE" SoftHard="Hard"><CheckValue>0</CheckValue></RangeCheck>
        <RangeCheck Comparator="LE" SoftHard="Hard"><CheckValue>4</CheckValue></RangeCheck>
      </ItemDef>
      <ItemDef OID="I.CA_ICD10" DataType="text"/>
      <ItemDef OID="I.CA_DXDTC" DataType="date"/>
      <ItemDef OID="I.HPO_ID" DataType="text"/>
      <ItemDef OID="I.HPO_EXCL" DataType="boolean"/>
      <CodeList OID="CL.SEX" DataType="text">
        <CodeListItem CodedValue="M"><Decode><TranslatedText xml:lang="ja">男性</TranslatedText></Decode></CodeListItem>
        <CodeListItem CodedValue="X"><Decode><TranslatedText xml:lang="ja">女性</TranslatedText></Decode></CodeListItem>
      </CodeList>
    </MetaDataVersion></Study>"#;

    /// An ODM document with the test metadata and one subject whose item groups are `groups`.
    fn doc(key: &str, groups: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<ODM xmlns="http://www.cdisc.org/ns/odm/v1.3" ODMVersion="1.3.2" FileType="Snapshot">{METADATA}
<ClinicalData StudyOID="S" MetaDataVersionOID="M"><SubjectData SubjectKey="{key}">
<StudyEventData StudyEventOID="SE"><FormData FormOID="F.CADX">{groups}</FormData></StudyEventData>
</SubjectData></ClinicalData></ODM>"#
        )
    }

    fn read(text: &str) -> Result<Extract, Box<dyn std::error::Error>> {
        let options = OdmOptions {
            file: "t.xml".into(),
            ..OdmOptions::default()
        };
        Ok(read_odm(text.as_bytes(), &options)?)
    }

    fn diagnostics(extract: &Extract) -> Vec<(Severity, String, String)> {
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

    fn kinds(extract: &Extract) -> Vec<&'static str> {
        extract.records.iter().map(|r| r.body.kind()).collect()
    }

    fn subject(extract: &Extract) -> Option<&SubjectFacts> {
        extract.records.iter().find_map(|r| match &r.body {
            RecordBody::Subject(s) => Some(s),
            _ => None,
        })
    }

    #[test]
    fn values_are_checked_against_their_item_defs() -> Result<(), Box<dyn std::error::Error>> {
        let extract = read(&doc(
            "GEMJ-1",
            r#"<ItemGroupData ItemGroupOID="IG.DM">
                 <ItemData ItemOID="I.BRTHDTC" Value="1975-04"/>
                 <ItemData ItemOID="I.SEX" Value="F"/>
               </ItemGroupData>
               <ItemGroupData ItemGroupOID="IG.CADX">
                 <ItemData ItemOID="I.CA_ICD10" Value="C169"/>
                 <ItemData ItemOID="I.CA_DXDTC" Value="2024-02-30"/>
                 <ItemData ItemOID="I.ECOG" Value="7"/>
                 <ItemData ItemOID="I.UNKNOWN" Value="x"/>
               </ItemGroupData>
               <ItemGroupData ItemGroupOID="IG.HPO" ItemGroupRepeatKey="1">
                 <ItemData ItemOID="I.HPO_ID" Value="HP:0001250"/>
                 <ItemData ItemOID="I.HPO_EXCL" Value="yes"/>
               </ItemGroupData>"#,
        ))?;
        let at = |g: &str| format!("SubjectData GEMJ-1, {g}");
        assert_eq!(
            diagnostics(&extract),
            [
                (Severity::Error, at("IG.DM"), "I.BRTHDTC".to_owned()),
                (Severity::Error, at("IG.DM"), "I.SEX".to_owned()),
                (Severity::Error, at("IG.CADX"), "I.CA_DXDTC".to_owned()),
                (Severity::Error, at("IG.CADX"), "I.ECOG".to_owned()),
                (Severity::Warning, at("IG.CADX"), "I.UNKNOWN".to_owned()),
                (Severity::Error, at("IG.HPO[1]"), "I.HPO_EXCL".to_owned()),
            ]
        );
        // The group's other values are still read; the bad ones are left out.
        assert_eq!(kinds(&extract), ["subject", "diagnosis", "phenotype"]);
        let RecordBody::Diagnosis(dx) = &extract.records[1].body else {
            return Err("diagnosis".into());
        };
        assert_eq!((dx.icd10.as_str(), dx.recorded), ("C16.9", None));
        assert_eq!(extract.records[1].provenance.value.as_deref(), Some("C169"));
        let RecordBody::Phenotype(p) = &extract.records[2].body else {
            return Err("phenotype".into());
        };
        assert_eq!(
            p.status,
            PhenotypeStatus::Observed,
            "an invalid flag is no flag"
        );
        let s = subject(&extract).ok_or("subject")?;
        assert_eq!(
            (s.birth_date, s.sex, s.program),
            (None, None, Some(Program::Cancer))
        );
        for d in &extract.diagnostics {
            assert!(!d.message.contains("1975") && !d.message.contains("2024-02-30"));
        }
        Ok(())
    }

    #[test]
    fn sex_through_the_code_list_decode() -> Result<(), Box<dyn std::error::Error>> {
        let extract = read(&doc(
            "GEMJ-1",
            r#"<ItemGroupData ItemGroupOID="IG.DM"><ItemData ItemOID="I.SEX" Value="X"/></ItemGroupData>"#,
        ))?;
        assert_eq!(subject(&extract).and_then(|s| s.sex), Some(Sex::Female));
        Ok(())
    }

    #[test]
    fn typed_item_data_null_and_removed_items() -> Result<(), Box<dyn std::error::Error>> {
        let extract = read(&doc(
            "GEMJ-1",
            r#"<ItemGroupData ItemGroupOID="IG.DM">
                 <ItemDataDate ItemOID="I.BRTHDTC"> 1975-04-01 </ItemDataDate>
                 <ItemData ItemOID="I.SEX" IsNull="Yes"/>
                 <ItemData ItemOID="I.HOSPID" Value="9000000001" TransactionType="Remove"/>
               </ItemGroupData>
               <ItemGroupData ItemGroupOID="IG.HPO" ItemGroupRepeatKey="2">
                 <ItemDataString ItemOID="I.HPO_ID">HP:&#x30;001166</ItemDataString>
               </ItemGroupData>"#,
        ))?;
        let s = subject(&extract).ok_or("subject")?;
        assert_eq!(
            s.birth_date.map(|d| d.to_string()).as_deref(),
            Some("1975-04-01")
        );
        assert_eq!(s.sex, None);
        assert!(s.hospital_ids.is_empty());
        assert_eq!(kinds(&extract), ["subject", "phenotype"]);
        assert_eq!(
            diagnostics(&extract),
            [(
                Severity::Warning,
                "SubjectData GEMJ-1, IG.DM".to_owned(),
                "TransactionType".to_owned()
            )]
        );
        Ok(())
    }

    #[test]
    fn hospital_ids_need_an_institution() -> Result<(), Box<dyn std::error::Error>> {
        let text = doc(
            "GEMJ-1",
            r#"<ItemGroupData ItemGroupOID="IG.DM"><ItemData ItemOID="I.HOSPID" Value="9000000001"/></ItemGroupData>"#,
        );
        let extract = read(&text)?;
        assert!(subject(&extract).is_some_and(|s| s.hospital_ids.is_empty()));
        assert_eq!(
            diagnostics(&extract),
            [(
                Severity::Warning,
                "SubjectData GEMJ-1, IG.DM".to_owned(),
                "I.HOSPID".to_owned()
            )]
        );
        let options = OdmOptions {
            institution: Some("9999999999".parse()?),
            ..OdmOptions::default()
        };
        let extract = read_odm(text.as_bytes(), &options)?;
        let s = subject(&extract).ok_or("subject")?;
        assert_eq!(s.hospital_ids[0].patient, "9000000001");
        assert_eq!(
            s.institution
                .as_ref()
                .map(gemj_model::InstitutionId::as_str),
            Some("9999999999")
        );
        assert!(extract.diagnostics.is_empty());
        Ok(())
    }

    #[test]
    fn a_bad_subject_key_is_rejected() -> Result<(), Box<dyn std::error::Error>> {
        let extract = read(&doc(
            "no spaces allowed",
            r#"<ItemGroupData ItemGroupOID="IG.DM"><ItemData ItemOID="I.SEX" Value="M"/></ItemGroupData>"#,
        ))?;
        assert!(extract.records.is_empty());
        assert_eq!(extract.rejected.len(), 1);
        assert_eq!(
            extract.rejected[0].provenance.position.as_deref(),
            Some("SubjectData no spaces allowed")
        );
        Ok(())
    }

    #[test]
    fn a_break_keeps_the_subjects_before_it() -> Result<(), Box<dyn std::error::Error>> {
        let text = r#"<ODM xmlns="http://www.cdisc.org/ns/odm/v1.3" ODMVersion="1.3.2" FileType="Snapshot">
<ClinicalData StudyOID="S" MetaDataVersionOID="M">
<SubjectData SubjectKey="A"><StudyEventData StudyEventOID="E"><FormData FormOID="F">
<ItemGroupData ItemGroupOID="G"><ItemData ItemOID="I.SEX" Value="M"/></ItemGroupData>
</FormData></StudyEventData></SubjectData>
<SubjectData SubjectKey="B"><StudyEventData StudyEventOID="E"><FormData FormOID="F">
<ItemGroupData ItemGroupOID="G"><ItemData ItemOID="I.SEX" Value="M"/></ItemGroupData>
</FormData></Oops>"#;
        let extract = read(text)?;
        assert_eq!(kinds(&extract), ["subject"]);
        assert_eq!(extract.rejected.len(), 1);
        let errors: Vec<_> = diagnostics(&extract)
            .into_iter()
            .filter(|d| d.0 == Severity::Error)
            .map(|d| d.1)
            .collect();
        assert_eq!(errors, ["line 8", "SubjectData B"]);
        Ok(())
    }

    #[test]
    fn header_checks() -> Result<(), Box<dyn std::error::Error>> {
        let text = r#"<ODM xmlns="http://www.cdisc.org/ns/odm/v1.2" ODMVersion="1.2.1" FileType="Transactional"/>"#;
        let extract = read(text)?;
        let fields: Vec<_> = diagnostics(&extract).into_iter().map(|d| d.2).collect();
        assert_eq!(fields, ["xmlns", "ODMVersion", "FileType"]);
        assert!(matches!(read("<html/>"), Err(e) if e.to_string().contains("root element")));
        assert!(matches!(
            read_odm(b"", &OdmOptions::default()),
            Err(Error::Empty)
        ));
        assert!(matches!(
            read_odm(b"hello", &OdmOptions::default()),
            Err(Error::NotXml)
        ));
        assert!(matches!(
            read_odm(b"<a><b></a>", &OdmOptions::default()),
            Err(Error::NotOdm)
        ));
        assert!(matches!(
            read_odm(b"<<<", &OdmOptions::default()),
            Err(Error::Xml(_))
        ));
        assert!(matches!(
            read_odm(
                b"<?xml version=\"1.0\" encoding=\"klingon\"?><ODM/>",
                &OdmOptions::default()
            ),
            Err(Error::UnsupportedEncoding)
        ));
        Ok(())
    }

    #[test]
    fn depth_is_capped() -> Result<(), Box<dyn std::error::Error>> {
        let deep = format!(
            r#"<ODM xmlns="http://www.cdisc.org/ns/odm/v1.3" ODMVersion="1.3.2" FileType="Snapshot">{}{}</ODM>"#,
            "<x>".repeat(10_000),
            "</x>".repeat(10_000)
        );
        let extract = read(&deep)?;
        assert_eq!(extract.diagnostics.len(), 1);
        assert!(extract.diagnostics[0].message.contains("deeper than 64"));
        Ok(())
    }

    #[test]
    fn shift_jis_is_decoded() -> Result<(), Box<dyn std::error::Error>> {
        let text = doc(
            "GEMJ-1",
            r#"<ItemGroupData ItemGroupOID="IG.DM"><ItemData ItemOID="I.SEX" Value="X"/></ItemGroupData>"#,
        )
        .replace("encoding=\"UTF-8\"", "encoding=\"Shift_JIS\"");
        let (bytes, _, errors) = encoding_rs::SHIFT_JIS.encode(&text);
        assert!(!errors);
        assert!(std::str::from_utf8(&bytes).is_err(), "really Shift_JIS");
        let extract = read_odm(&bytes, &OdmOptions::default())?;
        assert_eq!(
            subject(&extract).and_then(|s| s.sex),
            Some(Sex::Female),
            "女性 decoded"
        );
        Ok(())
    }

    #[test]
    fn lines() {
        assert_eq!(line_of(b"a\nb\nc", 0), 1);
        assert_eq!(line_of(b"a\nb\nc", 2), 2);
        assert_eq!(line_of(b"a\nb\nc", 99), 3);
    }
}
