//! CDISC ODM 1.3.2 clinical data exports into the GeMJ model.
//!
//! This crate owns the reading of an EDC's ODM export ([`read_odm`]): the `MetaDataVersion`
//! (each `ItemDef`'s `DataType`, `Length`, range checks and code list, code lists with their
//! Japanese or English decodes) and the clinical data (`ClinicalData/SubjectData/
//! StudyEventData/FormData/ItemGroupData/ItemData`, repeating groups by `ItemGroupRepeatKey`),
//! turned into an [`Extract`] of subject, consent, diagnosis,
//! measurement, specimen and phenotype facts. Which item means what is an [`OdmMapping`]
//! (serde-deserializable; defaults are the GeMJ EDC template), so another study's OIDs are
//! read by configuration.
//!
//! The document is read in one streaming pass with quick-xml: only the metadata and the one
//! `SubjectData` being read are held, element nesting is capped at [`MAX_DEPTH`], attribute values
//! at 64 KiB and OIDs at 256 bytes. UTF-8 is expected; UTF-16 and a declared Shift_JIS or
//! EUC-JP are decoded first. The namespace (`http://www.cdisc.org/ns/odm/v1.3`), `ODMVersion`
//! (`1.3.2`) and `FileType` (`Snapshot`) are checked, with a warning when unexpected.
//!
//! Every value is checked against its `ItemDef` (`date`, `partialDate`, `integer`, `float`,
//! `boolean`, `datetime`, `time`, code list, hard range checks) before it is read; a bad value
//! is a diagnostic naming the `SubjectData`, item group and `ItemOID` (never the value), and the
//! item is left out. Partial dates keep their precision (`RD_ONSET` `2005` stays a year).
//!
//! The adapter does not decide consent: it reports consent dates as facts and the gateway
//! decides. It fails only when the input is not an ODM document at all ([`Error`]).

mod mapping;
mod metadata;
mod reader;

use gemj_model::InstitutionId;
use gemj_model::source::Extract;

pub use mapping::OdmMapping;
pub use reader::MAX_DEPTH;

/// The ODM 1.3 namespace.
pub const ODM_NAMESPACE: &str = "http://www.cdisc.org/ns/odm/v1.3";

/// The code system of ICD-O-3 (morphology `8140/3`, topography `C16.9`), as HL7 terminology names
/// it.
pub const ICD_O_3_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/icd-o-3";

/// The code system of LOINC (the ECOG performance status is `89247-1`).
pub const LOINC_SYSTEM: &str = "http://loinc.org";

/// How to read an ODM export.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OdmOptions {
    /// The file name written into provenance and diagnostics (`gemj-edc-export.odm.xml`).
    pub file: String,
    /// The 10-digit medical-institution code of the hospital whose patient ids the export
    /// carries. Without it a hospital patient id cannot be linked (a warning says so).
    pub institution: Option<InstitutionId>,
    /// Which items mean what.
    pub mapping: OdmMapping,
}

/// Why a document could not be read at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No element at all.
    #[error("the document is empty")]
    Empty,
    /// Text where the root element should be.
    #[error("not XML: text before the root element")]
    NotXml,
    /// Not well-formed before the root element was read.
    #[error("not XML")]
    Xml(#[source] quick_xml::Error),
    /// The root element is not `ODM`.
    #[error("not a CDISC ODM document: the root element is not ODM")]
    NotOdm,
    /// The XML declaration names an encoding that is not known.
    #[error("the declared encoding is not known")]
    UnsupportedEncoding,
}

/// Reads an ODM 1.3.2 document.
///
/// # Errors
/// [`Error`] when the input is not an ODM document: empty, not XML before its root element, a
/// root other than `ODM`, or an unknown declared encoding. A document that breaks later keeps
/// what was read before the break, with an error diagnostic.
///
/// # Examples
/// ```
/// use gemj_cdisc_odm::{read_odm, OdmOptions};
/// use gemj_model::source::RecordBody;
/// use gemj_model::{PhenotypeStatus, Precision};
/// let odm = r#"<ODM xmlns="http://www.cdisc.org/ns/odm/v1.3" ODMVersion="1.3.2" FileType="Snapshot">
///   <ClinicalData StudyOID="S" MetaDataVersionOID="M">
///     <SubjectData SubjectKey="GEMJ-TEST-0002"><StudyEventData StudyEventOID="SE.ENROL">
///       <FormData FormOID="F.RDDX">
///         <ItemGroupData ItemGroupOID="IG.RDDX">
///           <ItemData ItemOID="I.RD_ICD10" Value="Q874"/><ItemData ItemOID="I.RD_ONSET" Value="2005"/>
///         </ItemGroupData>
///         <ItemGroupData ItemGroupOID="IG.HPO" ItemGroupRepeatKey="4">
///           <ItemData ItemOID="I.HPO_ID" Value="HP:0001250"/><ItemData ItemOID="I.HPO_EXCL" Value="true"/>
///         </ItemGroupData>
///       </FormData>
///     </StudyEventData></SubjectData>
///   </ClinicalData>
/// </ODM>"#;
/// let extract = read_odm(odm.as_bytes(), &OdmOptions::default())?;
/// let RecordBody::Diagnosis(dx) = &extract.records[1].body else { panic!() };
/// assert_eq!(dx.icd10.as_str(), "Q87.4");
/// assert_eq!(dx.onset.map(|d| d.precision()), Some(Precision::Year));
/// assert_eq!(extract.records[1].provenance.value.as_deref(), Some("Q874"));
/// let RecordBody::Phenotype(seizure) = &extract.records[2].body else { panic!() };
/// assert_eq!(seizure.status, PhenotypeStatus::Excluded);
/// assert_eq!(
///     extract.records[2].provenance.position.as_deref(),
///     Some("SubjectData GEMJ-TEST-0002, IG.HPO[4]")
/// );
/// # Ok::<(), gemj_cdisc_odm::Error>(())
/// ```
pub fn read_odm(bytes: &[u8], options: &OdmOptions) -> Result<Extract, Error> {
    reader::read(bytes, options)
}

/// Reads an ODM document with default options; whatever cannot be read becomes a diagnostic.
/// The entry point for fuzzing.
///
/// # Examples
/// ```
/// let extract = gemj_cdisc_odm::read_bytes(b"<html/>");
/// assert!(extract.records.is_empty());
/// assert_eq!(extract.diagnostics.len(), 1);
/// ```
#[must_use]
pub fn read_bytes(bytes: &[u8]) -> Extract {
    let options = OdmOptions::default();
    read_odm(bytes, &options)
        .unwrap_or_else(|error| Extract::unreadable(&options.file, error.to_string()))
}
