//! REDCap data dictionaries: the 18 standard columns of the "Data Dictionary" CSV export, with
//! the choices of radio, dropdown and checkbox fields (`1, 男性 | 2, 女性 | 9, 不明`) parsed.

use std::collections::HashMap;

use gemj_model::source::Diagnostic;

use crate::{CsvInput, Error, REST_NOT_CSV};

/// The 18 standard columns of a REDCap data dictionary, in order.
pub const COLUMNS: [&str; 18] = [
    "Variable / Field Name",
    "Form Name",
    "Section Header",
    "Field Type",
    "Field Label",
    "Choices, Calculations, OR Slider Labels",
    "Field Note",
    "Text Validation Type OR Show Slider Number",
    "Text Validation Min",
    "Text Validation Max",
    "Identifier?",
    "Branching Logic (Show field only if...)",
    "Required Field?",
    "Custom Alignment",
    "Question Number (surveys only)",
    "Matrix Group Name",
    "Matrix Ranking?",
    "Field Annotation",
];

/// The fewest leading standard columns a dictionary must have: name, form, section, type, label
/// and choices.
const MIN_COLUMNS: usize = 6;

/// The type of a field (`Field Type`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FieldType {
    /// `text`, validated by `Text Validation Type` (`date_ymd`, `integer`, ...).
    Text,
    /// `notes`: free text.
    Notes,
    /// `dropdown`: one choice.
    Dropdown,
    /// `radio`: one choice.
    Radio,
    /// `checkbox`: any number of choices, exported as one `name___code` column per choice.
    Checkbox,
    /// `yesno`: `1` Yes, `0` No.
    YesNo,
    /// `truefalse`: `1` True, `0` False.
    TrueFalse,
    /// `calc`: a calculated value.
    Calc,
    /// `slider`: a number on a scale.
    Slider,
    /// `file`: an uploaded file or signature.
    File,
    /// `descriptive`: text shown, no value.
    Descriptive,
    /// `sql`: a dynamic dropdown.
    Sql,
    /// Any other type, as written.
    Other(String),
}

impl FieldType {
    fn parse(s: &str) -> Self {
        match s.trim().to_ascii_lowercase().as_str() {
            "text" => Self::Text,
            "notes" => Self::Notes,
            "dropdown" => Self::Dropdown,
            "radio" => Self::Radio,
            "checkbox" => Self::Checkbox,
            "yesno" => Self::YesNo,
            "truefalse" => Self::TrueFalse,
            "calc" => Self::Calc,
            "slider" => Self::Slider,
            "file" => Self::File,
            "descriptive" => Self::Descriptive,
            "sql" => Self::Sql,
            other => Self::Other(other.to_owned()),
        }
    }

    /// Whether the field's values are codes of its choices.
    #[must_use]
    pub fn has_choices(&self) -> bool {
        matches!(
            self,
            Self::Dropdown | Self::Radio | Self::Checkbox | Self::YesNo | Self::TrueFalse
        )
    }
}

/// One choice of a radio, dropdown or checkbox field: the raw code and its label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    /// The code exported in "raw data" (`1`).
    pub code: String,
    /// The label shown to data entry (`男性`, `HP:0001166 Arachnodactyly`).
    pub label: String,
}

/// One row of the data dictionary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// `Variable / Field Name` (`sex`).
    pub name: String,
    /// `Form Name`: the instrument (`enrolment`).
    pub form: String,
    /// `Section Header`.
    pub section_header: Option<String>,
    /// `Field Type`.
    pub field_type: FieldType,
    /// `Field Label`.
    pub label: String,
    /// Parsed choices of radio, dropdown and checkbox fields; the implicit `1`/`0` of yesno and
    /// truefalse.
    pub choices: Vec<Choice>,
    /// The choices column of calc and slider fields (calculation or slider labels), as written.
    pub calculation: Option<String>,
    /// `Field Note`.
    pub note: Option<String>,
    /// `Text Validation Type OR Show Slider Number` (`date_ymd`, `integer`).
    pub validation: Option<String>,
    /// `Text Validation Min`.
    pub validation_min: Option<String>,
    /// `Text Validation Max`.
    pub validation_max: Option<String>,
    /// `Identifier?` is `y`: the field identifies a person.
    pub identifier: bool,
    /// `Branching Logic (Show field only if...)`.
    pub branching_logic: Option<String>,
    /// `Required Field?` is `y`.
    pub required: bool,
    /// `Custom Alignment`.
    pub custom_alignment: Option<String>,
    /// `Question Number (surveys only)`.
    pub question_number: Option<String>,
    /// `Matrix Group Name`.
    pub matrix_group: Option<String>,
    /// `Matrix Ranking?` is `y`.
    pub matrix_ranking: bool,
    /// `Field Annotation` (action tags such as `@READONLY`).
    pub annotation: Option<String>,
}

impl Field {
    /// The label of a raw code, when the field has that choice.
    ///
    /// # Examples
    /// ```
    /// let dict = gemj_redcap::DataDictionary::gemj_template();
    /// let sex = dict.field("sex").ok_or("no sex field")?;
    /// assert_eq!(sex.choice_label("2"), Some("Female"));
    /// assert_eq!(sex.choice_label("7"), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn choice_label(&self, code: &str) -> Option<&str> {
        self.choices
            .iter()
            .find(|c| c.code == code)
            .map(|c| c.label.as_str())
    }

    /// The export column of one checkbox choice: `hpo___1` (three underscores; the code lower
    /// case, other characters than letters and digits as `_`).
    #[must_use]
    pub fn checkbox_column(&self, code: &str) -> String {
        let code: String = code
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .collect();
        format!("{}___{code}", self.name)
    }
}

/// A REDCap project's data dictionary.
#[derive(Debug, Clone, Default)]
pub struct DataDictionary {
    fields: Vec<Field>,
    index: HashMap<String, usize>,
    issues: Vec<Issue>,
}

/// Something in a dictionary row that could not be read; the row or the part was left out.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Issue {
    line: u64,
    field: String,
    message: String,
}

/// The most issues kept for a dictionary.
const MAX_ISSUES: usize = 1000;

impl DataDictionary {
    /// Parses a data dictionary export (UTF-8, a leading BOM and CRLF tolerated).
    ///
    /// The first header must be `Variable / Field Name`; the first six standard columns are
    /// required, the other twelve optional. A row that cannot be read (no name, a name used
    /// twice, unreadable choices) is left out and reported by [`DataDictionary::diagnostics`].
    ///
    /// # Errors
    /// [`Error`] when the input is empty, is not CSV or UTF-8 in its header, or its header is not
    /// a data dictionary's.
    ///
    /// # Examples
    /// ```
    /// use gemj_redcap::{DataDictionary, FieldType};
    /// let csv = "\u{feff}Variable / Field Name,Form Name,Section Header,Field Type,Field Label,\"Choices, Calculations, OR Slider Labels\"\r\n\
    ///            sex,enrolment,,radio,性別,\"1, 男性 | 2, 女性 | 9, 不明\"\r\n";
    /// let dict = DataDictionary::parse(csv.as_bytes())?;
    /// let sex = dict.field("sex").ok_or("no sex")?;
    /// assert_eq!(sex.field_type, FieldType::Radio);
    /// assert_eq!(sex.choice_label("9"), Some("不明"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn parse(bytes: &[u8]) -> Result<Self, Error> {
        let mut input = CsvInput::open(bytes)?;
        let header: Vec<&str> = input
            .record
            .iter()
            .map(std::str::from_utf8)
            .collect::<Result<_, _>>()
            .map_err(|_| Error::HeaderNotUtf8)?;
        let leading = header
            .iter()
            .zip(COLUMNS)
            .take_while(|(h, c)| h.trim().eq_ignore_ascii_case(c))
            .count();
        if leading < MIN_COLUMNS {
            return Err(Error::NotADictionary);
        }
        let width = header.len();
        let mut dict = Self::default();
        let read = input.rows(|record, line| {
            if record.len() == width {
                dict.row(record, line);
            } else {
                dict.issue(
                    line,
                    "",
                    "row has another number of cells than the header; left out",
                );
            }
        });
        if let Err(line) = read {
            dict.issue(line, "", REST_NOT_CSV);
        }
        Ok(dict)
    }

    /// The dictionary of the GeMJ rare-disease registry template (`rd-registry`), which
    /// [`crate::FieldMapping::default`] maps.
    ///
    /// # Examples
    /// ```
    /// let dict = gemj_redcap::DataDictionary::gemj_template();
    /// assert_eq!(dict.fields().len(), 15);
    /// assert_eq!(dict.field("specimen_type").map(|f| f.form.as_str()), Some("specimen"));
    /// ```
    #[must_use]
    pub fn gemj_template() -> Self {
        Self::parse(crate::template::GEMJ_RD_REGISTRY.as_bytes()).unwrap_or_default()
    }

    /// A field by name.
    #[must_use]
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.index.get(name).and_then(|&i| self.fields.get(i))
    }

    /// Every field, in dictionary order.
    #[must_use]
    pub fn fields(&self) -> &[Field] {
        &self.fields
    }

    /// What could not be read in the dictionary, as diagnostics of `file`.
    #[must_use]
    pub fn diagnostics(&self, file: &str) -> Vec<Diagnostic> {
        self.issues
            .iter()
            .map(|i| {
                Diagnostic::error(
                    file,
                    &format!("line {}", i.line),
                    &i.field,
                    i.message.clone(),
                )
            })
            .collect()
    }

    fn issue(&mut self, line: u64, field: &str, message: &str) {
        if self.issues.len() < MAX_ISSUES {
            self.issues.push(Issue {
                line,
                field: field.to_owned(),
                message: message.to_owned(),
            });
        }
    }

    fn row(&mut self, record: &csv::ByteRecord, line: u64) {
        let mut cells = Vec::with_capacity(COLUMNS.len());
        for (i, column) in COLUMNS.iter().enumerate() {
            match record.get(i).map(std::str::from_utf8) {
                Some(Ok(s)) => cells.push(s.trim()),
                Some(Err(_)) => {
                    self.issue(line, column, "not UTF-8 text; row left out");
                    return;
                }
                None => cells.push(""),
            }
        }
        let opt = |i: usize| (!cells[i].is_empty()).then(|| cells[i].to_owned());
        let flag = |i: usize| cells[i].eq_ignore_ascii_case("y");
        let name = cells[0];
        if !is_field_name(name) {
            self.issue(
                line,
                COLUMNS[0],
                "not a REDCap variable name (lower-case letters, digits, _); row left out",
            );
            return;
        }
        if self.index.contains_key(name) {
            self.issue(line, COLUMNS[0], "variable named twice; the first is kept");
            return;
        }
        let field_type = FieldType::parse(cells[3]);
        let (choices, calculation) = match field_type {
            FieldType::YesNo => (implicit("Yes", "No"), None),
            FieldType::TrueFalse => (implicit("True", "False"), None),
            FieldType::Dropdown | FieldType::Radio | FieldType::Checkbox => {
                match parse_choices(cells[5]) {
                    Some(choices) => (choices, None),
                    None => {
                        self.issue(
                            line,
                            COLUMNS[5],
                            "choices are not `code, label | code, label`; field left out",
                        );
                        return;
                    }
                }
            }
            _ => (Vec::new(), opt(5)),
        };
        let field = Field {
            name: name.to_owned(),
            form: cells[1].to_owned(),
            section_header: opt(2),
            field_type,
            label: cells[4].to_owned(),
            choices,
            calculation,
            note: opt(6),
            validation: opt(7),
            validation_min: opt(8),
            validation_max: opt(9),
            identifier: flag(10),
            branching_logic: opt(11),
            required: flag(12),
            custom_alignment: opt(13),
            question_number: opt(14),
            matrix_group: opt(15),
            matrix_ranking: flag(16),
            annotation: opt(17),
        };
        self.index.insert(field.name.clone(), self.fields.len());
        self.fields.push(field);
    }
}

fn implicit(yes: &str, no: &str) -> Vec<Choice> {
    vec![
        Choice {
            code: "1".into(),
            label: yes.into(),
        },
        Choice {
            code: "0".into(),
            label: no.into(),
        },
    ]
}

/// `1, 男性 | 2, 女性 | 9, 不明`: choices separated by `|`, each a code, a comma and a label.
/// `None` when a choice has no comma or an empty code, or a code repeats.
fn parse_choices(text: &str) -> Option<Vec<Choice>> {
    let mut choices: Vec<Choice> = Vec::new();
    for part in text.split('|') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let (code, label) = part.split_once(',')?;
        let code = code.trim();
        if code.is_empty() || choices.iter().any(|c| c.code == code) {
            return None;
        }
        choices.push(Choice {
            code: code.to_owned(),
            label: label.trim().to_owned(),
        });
    }
    (!choices.is_empty()).then_some(choices)
}

/// REDCap variable names: lower-case letters, digits and `_`, starting with a letter, at most 100
/// characters.
fn is_field_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 100
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_choices(text: &str, expect: Option<&[(&str, &str)]>) {
        let got = parse_choices(text).map(|cs| {
            cs.into_iter()
                .map(|c| (c.code, c.label))
                .collect::<Vec<_>>()
        });
        let expect = expect.map(|e| {
            e.iter()
                .map(|(c, l)| ((*c).to_owned(), (*l).to_owned()))
                .collect::<Vec<_>>()
        });
        assert_eq!(got, expect, "{text:?}");
    }

    #[test]
    fn choices() {
        check_choices(
            "1, 男性 | 2, 女性 | 9, 不明",
            Some(&[("1", "男性"), ("2", "女性"), ("9", "不明")]),
        );
        check_choices(
            "1, HP:0001166 Arachnodactyly | 2, HP:0001083 Ectopia lentis",
            Some(&[
                ("1", "HP:0001166 Arachnodactyly"),
                ("2", "HP:0001083 Ectopia lentis"),
            ]),
        );
        check_choices("3, DNA", Some(&[("3", "DNA")]));
        check_choices("1, a, b|2,c", Some(&[("1", "a, b"), ("2", "c")]));
        check_choices("1, a | | 2, b |", Some(&[("1", "a"), ("2", "b")]));
        check_choices("1 a | 2, b", None);
        check_choices(", a", None);
        check_choices("1, a | 1, b", None);
        check_choices("", None);
    }

    #[test]
    fn field_names() {
        for (name, ok) in [
            ("record_id", true),
            ("hpo", true),
            ("dx_icd10", true),
            ("", false),
            ("1abc", false),
            ("Sex", false),
            ("a-b", false),
            ("_a", false),
        ] {
            assert_eq!(is_field_name(name), ok, "{name:?}");
        }
    }

    #[test]
    fn checkbox_columns() -> Result<(), Box<dyn std::error::Error>> {
        let dict = DataDictionary::gemj_template();
        let hpo = dict.field("hpo").ok_or("no hpo")?;
        assert_eq!(hpo.checkbox_column("1"), "hpo___1");
        assert_eq!(hpo.checkbox_column("-1"), "hpo____1");
        assert_eq!(hpo.checkbox_column("A"), "hpo___a");
        Ok(())
    }

    #[test]
    fn bad_rows_are_left_out_and_reported() -> Result<(), Box<dyn std::error::Error>> {
        let csv = "Variable / Field Name,Form Name,Section Header,Field Type,Field Label,\"Choices, Calculations, OR Slider Labels\"\n\
                   sex,f,,radio,Sex,\"1 male\"\n\
                   ok,f,,yesno,Ok,\n\
                   ok,f,,text,Again,\n\
                   Bad Name,f,,text,x,\n\
                   short,f\n\
                   calc1,f,,calc,c,\"[a]+[b]\"\n";
        let dict = DataDictionary::parse(csv.as_bytes())?;
        let names: Vec<_> = dict.fields().iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["ok", "calc1"]);
        assert_eq!(
            dict.field("ok").and_then(|f| f.choice_label("1")),
            Some("Yes")
        );
        assert_eq!(
            dict.field("calc1").and_then(|f| f.calculation.as_deref()),
            Some("[a]+[b]")
        );
        let diagnostics = dict.diagnostics("dd.csv");
        let lines: Vec<_> = diagnostics
            .iter()
            .map(|d| d.position.as_deref().unwrap_or(""))
            .collect();
        assert_eq!(lines, ["line 2", "line 4", "line 5", "line 6"]);
        Ok(())
    }

    #[test]
    fn not_a_dictionary() {
        assert!(matches!(DataDictionary::parse(b""), Err(Error::Empty)));
        assert!(matches!(
            DataDictionary::parse(b"record_id,sex\n1,2\n"),
            Err(Error::NotADictionary)
        ));
        assert!(matches!(
            DataDictionary::parse(b"\xff\xfe\n"),
            Err(Error::HeaderNotUtf8)
        ));
    }
}
