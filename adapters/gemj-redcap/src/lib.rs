//! REDCap data dictionaries and raw record exports (BOM, CRLF, checkboxes, repeating instruments) into the GeMJ model.
//!
//! This crate owns the reading of a REDCap project: its data dictionary ([`DataDictionary`], the
//! 18 standard columns with parsed choices) and its "CSV (raw data)" record export
//! ([`read_records`]), which it turns into an [`Extract`](gemj_model::source::Extract) of
//! subject, consent, diagnosis, phenotype and specimen facts. Which field means what is a
//! [`FieldMapping`] (serde-deserializable; defaults are the GeMJ `rd-registry` template), so a
//! project with its own field names is read by configuration, not code.
//!
//! What the export's shape means:
//! * A leading UTF-8 BOM is stripped (the first header must still be the record id) and CRLF is
//!   read as a line end.
//! * Each record has one base row and one row per repeating-instrument instance; blank cells of
//!   repeat rows never clear the base row (merge, not overwrite). See [`records`](crate::read_records).
//! * A ticked checkbox (`hpo___1` = `1`) is an observed phenotype, its HPO id taken from the
//!   choice label (`HP:0001166 Arachnodactyly`); an unticked one (`0`) is **no** record, never an
//!   excluded phenotype.
//! * Codes are read through the dictionary's choice labels (`2` → `女性` → female).
//! * Form status (`*_complete`: 0 Incomplete, 1 Unverified, 2 Complete) is reported as a
//!   warning for every form that is not Complete; the data are still read.
//!
//! The adapter does not decide consent: a withdrawn subject's facts are emitted together with a
//! `Withdrawn` consent fact and the gateway quarantines them. It is pure (bytes in), fails only
//! when nothing can be read ([`Error`]), and reports every bad cell as a diagnostic naming the
//! line and column, never the cell's content.

mod dictionary;
mod mapping;
mod records;
mod template;

pub use dictionary::{COLUMNS, Choice, DataDictionary, Field, FieldType};
pub use mapping::FieldMapping;
pub use records::{ReadOptions, read_bytes, read_records};

use gemj_model::source::LineNumbers;

/// What is said of the rows after one that is not CSV.
const REST_NOT_CSV: &str = "the rest of the file is not CSV; stopped reading";

/// A CSV file (dictionary or record export) opened for reading: a UTF-8 BOM skipped, the header
/// row read into `record`, and the line numbers of the rows.
struct CsvInput<'b> {
    reader: csv::Reader<&'b [u8]>,
    lines: LineNumbers<'b>,
    /// The header row, until [`CsvInput::rows`] reads the next.
    record: csv::ByteRecord,
}

impl<'b> CsvInput<'b> {
    /// Opens `bytes` and reads the header row.
    fn open(bytes: &'b [u8]) -> Result<Self, Error> {
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(bytes);
        let mut record = csv::ByteRecord::new();
        if !reader.read_byte_record(&mut record).map_err(Error::Csv)? {
            return Err(Error::Empty);
        }
        Ok(Self {
            reader,
            lines: LineNumbers::new(bytes),
            record,
        })
    }

    /// Calls `row` with each row after the header and its 1-based line. Stops at a row that is
    /// not CSV and returns its line.
    fn rows(&mut self, mut row: impl FnMut(&csv::ByteRecord, u64)) -> Result<(), u64> {
        loop {
            match self.reader.read_byte_record(&mut self.record) {
                Ok(true) => {
                    let offset = self.record.position().map_or(0, csv::Position::byte);
                    row(&self.record, self.lines.line_at(offset));
                }
                Ok(false) => return Ok(()),
                Err(error) => {
                    let offset = error.position().map_or(0, csv::Position::byte);
                    return Err(self.lines.line_at(offset));
                }
            }
        }
    }
}

/// Why a dictionary or a record export could not be read at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No header row.
    #[error("the file is empty")]
    Empty,
    /// The header row is not CSV.
    #[error("the header row could not be read as CSV")]
    Csv(#[source] csv::Error),
    /// The header row is not UTF-8.
    #[error("the header row is not UTF-8 text")]
    HeaderNotUtf8,
    /// A data dictionary's header does not start with the standard columns.
    #[error(
        "not a REDCap data dictionary: the header does not start with `Variable / Field Name, Form Name, ...`"
    )]
    NotADictionary,
    /// A record export whose first column is not the record id.
    #[error("not a REDCap record export: the first column must be `{expected}`")]
    MissingIdColumn {
        /// The record id field of the mapping (`record_id`).
        expected: String,
    },
}
