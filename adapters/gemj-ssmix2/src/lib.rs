//! SS-MIX2 standardized storage: file names and condition flags, ISO-2022-JP/CP932 decoding, ADT-00/PPR-01/OML-11 into the GeMJ model.
//!
//! This crate owns the meaning of a Japanese hospital's SS-MIX2 standardized storage
//! (`standard_root`): what its paths say ([`StoragePath`]), which files are current
//! ([`Plan`]: condition flags `1` current, `2` superseded, `0` deleted), how their bytes decode
//! ([`decode()`]: ISO-2022-JP, or CP932 that claims to be ISO-2022-JP, or UTF-8), and what the
//! HL7 v2.5 messages mean in the GeMJ model ([`gemj_model::source::Extract`]). It is pure: the
//! gateway walks the tree and hands it relative paths and bytes.
//!
//! Supported data kinds and messages:
//!
//! | Data kind | Message | Becomes |
//! |---|---|---|
//! | `ADT-00` | `ADT^A08^ADT_A01` | `SubjectFacts` (sex, birth date, names, address, phone) and `MeasurementFacts` for its OBX (height, weight) |
//! | `PPR-01` | `PPR^ZD1^PPR_ZD1` | one `DiagnosisFacts` per PRB (ICD-10 from PRB-10, other codes from PRB-3) |
//! | `OML-11` | `OUL^R22^OUL_R22` (also `OML^O33`) | one `MeasurementFacts` per OBX, with the SPM specimen as a `LabSpecimen` |
//! | any, flag `0` | (header only) | `OrderDeletion` for the file's order |
//!
//! Every other data kind is listed as not read; every segment not mapped is reported.
//!
//! Invariants: subjects are named only by hospital id (`SubjectRef::Hospital`, MSH-4 + PID-3);
//! this crate never invents a GeMJ id. A flag-`0` file never yields a measurement. A
//! routine-lab specimen (SPM) is never a `SpecimenFacts`. Diagnostics describe the shape of a
//! bad value, never record content. No function panics, and the output grows at most linearly
//! with the input.
//!
//! # Examples
//! ```
//! use gemj_model::source::RecordBody;
//! let path = "900/000/9000000002/-/PPR-01/9000000002_-_PPR-01_000000000000002_20190501100000000_01_1";
//! let text = "MSH|^~\\&|HIS|9999999999|GW|GEMJ|20190501100000||PPR^ZD1^PPR_ZD1|6|P|2.5\r\
//!             PID|0001||9000000002^^^^PI\r\
//!             PRB|AD|20190501100000|L-0001^マルファン症候群^99Z03|000000000000002|||20190501|||Q874^^I10||||||2005|マルファン症候群|1^主診断^JHSD0007\r";
//! let extract = gemj_ssmix2::read_file(path, text.as_bytes());
//! let RecordBody::Diagnosis(diagnosis) = &extract.records[0].body else { panic!() };
//! assert_eq!(diagnosis.icd10.as_str(), "Q87.4");
//! assert_eq!(diagnosis.onset.map(|d| d.to_string()).as_deref(), Some("2005"));
//! ```

pub mod decode;
mod hl7time;
mod map;
pub mod path;
pub mod plan;
pub mod synthetic;
pub mod text;

use gemj_model::InstitutionId;
use gemj_model::source::{
    Diagnostic, Extract, HospitalPatientId, OrderDeletion, RecordBody, Rejected, SourceRecord,
    SubjectRef,
};

pub use decode::{Charset, Decoded, decode};
pub use path::{ConditionFlag, DataKind, PathError, ReadKind, StoragePath};
pub use plan::{Action, Plan, PlannedFile, Superseded, Unread};

/// The provenance source of every record of this crate.
///
/// # Examples
/// ```
/// let extract = gemj_ssmix2::read_bytes("x", b"not HL7");
/// assert_eq!(extract.rejected[0].provenance.source, gemj_ssmix2::SOURCE);
/// ```
pub const SOURCE: &str = "ssmix2";

/// Reads one file of a standardized storage: `path` relative to `standard_root`, and its bytes.
///
/// The path decides first: a path that does not parse, a data kind this crate does not read,
/// and a flag-`2` file each give one `Rejected` entry without decoding. A flag-`0` file gives an
/// `OrderDeletion` (its header is read for MSH-4 only). A flag-`1` file is decoded and mapped,
/// with PID-3 checked against the file name. Use [`Plan`] to decide between several flag-`1`
/// files of one order.
///
/// # Examples
/// ```
/// use gemj_model::source::RecordBody;
/// let dir = "900/000/9000000001/20240314/OML-11/";
/// let deleted = format!("{dir}9000000001_20240314_OML-11_000000000012346_20240314160000000_01_0");
/// let text = "MSH|^~\\&|LIS|9999999999|GW|GEMJ|20240314160000||OUL^R22^OUL_R22|4|P|2.5\r\
///             PID|0001||9000000001^^^^PI\r\
///             OBX|1|NM|5C070000002327101^CRP^JC10||9.99|mg/dL|||||D\r";
/// let extract = gemj_ssmix2::read_file(&deleted, text.as_bytes());
/// assert_eq!(extract.records.len(), 1);
/// let RecordBody::DeleteOrder(deletion) = &extract.records[0].body else { panic!() };
/// assert_eq!(deletion.order, "000000000012346");
/// ```
#[must_use]
pub fn read_file(path: &str, bytes: &[u8]) -> Extract {
    let mut out = Extract::default();
    match StoragePath::parse(path) {
        Ok(storage) => read_storage_file(&storage, bytes, &mut out),
        Err(error) => {
            let reason = format!("not a standardized-storage path: {error}");
            out.diagnostics
                .push(Diagnostic::error(path, "", "", reason.clone()));
            out.rejected.push(Rejected {
                provenance: map::provenance(path, None, None),
                reason,
            });
        }
    }
    out
}

/// Reads one decoded message that is not (or not known to be) a file of a storage tree:
/// `file_label` names it in provenance. There is no file name to check PID-3 against, and the
/// order number comes from ORC-2 or OBR-2.
///
/// # Examples
/// ```
/// use gemj_model::source::{RecordBody, SubjectRef};
/// let text = "MSH|^~\\&|HIS|9999999999|GW|GEMJ|20240301090000||ADT^A08^ADT_A01|1|P|2.5\r\
///             EVN||20240301090000\r\
///             PID|0001||9000000001^^^^PI||ﾐﾎﾝ^ﾊﾅｺ^^^^^L^P||19890107|F\r";
/// let extract = gemj_ssmix2::read_message("message-1", text);
/// let record = &extract.records[0];
/// let SubjectRef::Hospital(id) = &record.subject else { panic!() };
/// assert_eq!((id.institution.as_str(), id.patient.as_str()), ("9999999999", "9000000001"));
/// let RecordBody::Subject(facts) = &record.body else { panic!() };
/// assert_eq!(facts.identifying.names[0].family, "ミホン");
/// ```
#[must_use]
pub fn read_message(file_label: &str, text: &str) -> Extract {
    let mut out = Extract::default();
    let input = map::Input {
        file: file_label,
        path: None,
    };
    map::read_text(input, text, &mut out);
    out
}

/// Decodes and reads one message from bytes, as [`read_message`] does with text. Any bytes
/// are accepted: this is the entry point for fuzzing.
///
/// # Examples
/// ```
/// let extract = gemj_ssmix2::read_bytes("fuzz", b"\x1b$B\xff garbage");
/// assert!(extract.records.is_empty());
/// assert_eq!(extract.rejected.len(), 1);
/// ```
#[must_use]
pub fn read_bytes(file_label: &str, bytes: &[u8]) -> Extract {
    let decoded = decode(file_label, bytes);
    let mut out = Extract {
        diagnostics: decoded.diagnostics,
        ..Extract::default()
    };
    let input = map::Input {
        file: file_label,
        path: None,
    };
    map::read_text(input, &decoded.text, &mut out);
    out
}

/// Reads a file whose path parsed: by flag and kind.
pub(crate) fn read_storage_file(storage: &StoragePath, bytes: &[u8], out: &mut Extract) {
    let file = storage.as_str();
    let reject = |out: &mut Extract, reason: String| {
        out.rejected.push(Rejected {
            provenance: map::provenance(file, None, None),
            reason,
        });
    };
    if storage.kind().read_kind().is_none() {
        reject(out, format!("data kind {} is not read", storage.kind()));
        return;
    }
    match storage.flag() {
        ConditionFlag::Superseded => reject(out, "superseded (condition flag 2)".to_owned()),
        ConditionFlag::Deleted => delete_order(storage, bytes, out),
        ConditionFlag::Current => {
            let decoded = decode(file, bytes);
            out.diagnostics.extend(decoded.diagnostics);
            let input = map::Input {
                file,
                path: Some(storage),
            };
            map::read_text(input, &decoded.text, out);
        }
    }
}

/// A flag-`0` file: an `OrderDeletion` for the patient and order of its name, at the
/// institution of its MSH-4. Nothing else of the file is read.
fn delete_order(storage: &StoragePath, bytes: &[u8], out: &mut Extract) {
    let file = storage.as_str();
    let decoded = decode(file, bytes);
    out.diagnostics.extend(decoded.diagnostics);
    let institution = gemj_hl7v2::Message::parse(&decoded.text)
        .ok()
        .and_then(|m| {
            let code = m
                .segment("MSH")?
                .field(4)?
                .component(1)?
                .value()
                .into_owned();
            (code.len() == 10 && code.bytes().all(|b| b.is_ascii_digit())).then_some(code)
        })
        .and_then(|code| InstitutionId::parse(&code).ok());
    let Some(institution) = institution else {
        let reason = format!(
            "the deletion of order {} could not be attributed to an institution: MSH-4 is not a 10-digit medical-institution code",
            storage.order()
        );
        out.diagnostics
            .push(Diagnostic::error(file, "MSH", "MSH-4", reason.clone()));
        out.rejected.push(Rejected {
            provenance: map::provenance(file, Some("MSH"), None),
            reason,
        });
        return;
    };
    out.records.push(SourceRecord {
        subject: SubjectRef::Hospital(HospitalPatientId {
            institution,
            patient: storage.patient().to_owned(),
        }),
        provenance: map::provenance(file, None, Some(storage.order())),
        body: RecordBody::DeleteOrder(OrderDeletion {
            order: storage.order().to_owned(),
        }),
    });
}
