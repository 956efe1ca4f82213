//! The multipart form of `POST /runs`, field by field, into a validated [`Submission`].
//!
//! The server streams the parts; for each it asks [`FormBuilder::begin_part`] what the part is
//! (a field, an attachment at a checked path) and how many bytes it may still read
//! ([`FormBuilder::part_budget`]), then hands the bytes over. Nothing is cleaned: an attachment
//! name that is absolute, climbs with `..`, holds a backslash, a NUL or a control character is a
//! 400, as is an unknown or repeated field. Errors name fields, never their content.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::RunRequest;

/// Bounds of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Parts (fields and attachments together).
    pub max_parts: usize,
    /// Bytes of one part.
    pub max_part_bytes: usize,
    /// Bytes of every part together.
    pub max_total_bytes: usize,
    /// Bytes of an attachment's name (its path).
    pub max_name_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_parts: 64,
            max_part_bytes: 8 << 20,
            max_total_bytes: 32 << 20,
            max_name_bytes: 255,
        }
    }
}

/// The most tags and engine parameters a request may carry, and their sizes.
const MAX_MAP_ENTRIES: usize = 64;
const MAX_KEY_BYTES: usize = 128;
const MAX_VALUE_BYTES: usize = 1024;
/// Nesting of `workflow_params`.
const MAX_PARAMS_DEPTH: usize = 32;

/// A form field of `RunRequest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Field {
    /// `workflow_params` (a JSON object).
    WorkflowParams,
    /// `workflow_type`.
    WorkflowType,
    /// `workflow_type_version`.
    WorkflowTypeVersion,
    /// `tags` (a JSON object of strings).
    Tags,
    /// `workflow_engine`.
    WorkflowEngine,
    /// `workflow_engine_version`.
    WorkflowEngineVersion,
    /// `workflow_engine_parameters` (a JSON object of strings).
    WorkflowEngineParameters,
    /// `workflow_url`.
    WorkflowUrl,
}

impl Field {
    const ALL: [Field; 8] = [
        Self::WorkflowParams,
        Self::WorkflowType,
        Self::WorkflowTypeVersion,
        Self::Tags,
        Self::WorkflowEngine,
        Self::WorkflowEngineVersion,
        Self::WorkflowEngineParameters,
        Self::WorkflowUrl,
    ];

    /// The form name.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::WorkflowParams => "workflow_params",
            Self::WorkflowType => "workflow_type",
            Self::WorkflowTypeVersion => "workflow_type_version",
            Self::Tags => "tags",
            Self::WorkflowEngine => "workflow_engine",
            Self::WorkflowEngineVersion => "workflow_engine_version",
            Self::WorkflowEngineParameters => "workflow_engine_parameters",
            Self::WorkflowUrl => "workflow_url",
        }
    }
}

/// What a part is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// A field of the request.
    Field(Field),
    /// A `workflow_attachment`, to be stored at this relative path.
    Attachment(String),
}

/// Why an attachment's name is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameProblem {
    /// Empty, or a part without a file name.
    Empty,
    /// Longer than the limit.
    TooLong,
    /// Starts with `/` or a drive letter.
    Absolute,
    /// Has a `..` component.
    ParentComponent,
    /// Has an empty or `.` component.
    EmptyComponent,
    /// Holds a backslash.
    Backslash,
    /// Holds a NUL or another control character.
    ControlCharacter,
}

impl NameProblem {
    fn message(self) -> &'static str {
        match self {
            Self::Empty => "has no file name",
            Self::TooLong => "has a file name longer than the limit",
            Self::Absolute => "has an absolute file name",
            Self::ParentComponent => "has a file name with a `..` component",
            Self::EmptyComponent => "has a file name with an empty or `.` component",
            Self::Backslash => "has a file name with a backslash",
            Self::ControlCharacter => "has a file name with a NUL or control character",
        }
    }
}

/// Why a form is refused. Nothing here repeats what the client sent beyond field names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormError {
    /// A part whose name is not a `RunRequest` field nor `workflow_attachment`.
    UnknownField,
    /// A field sent twice.
    RepeatedField(Field),
    /// A required field is absent or empty.
    MissingField(Field),
    /// A field that is not UTF-8, or holds control characters.
    NotText(Field),
    /// A field that is not the JSON it must be (an object; of strings for tags and engine
    /// parameters), or too deep.
    BadJson(Field, &'static str),
    /// Too many tags or engine parameters, or one too long.
    MapTooLarge(Field),
    /// An attachment whose name is refused.
    AttachmentName(NameProblem),
    /// Two attachments with one path.
    DuplicateAttachment,
    /// More parts than the limit.
    TooManyParts,
    /// A part over its size limit.
    PartTooLarge,
    /// The parts together over the limit.
    TooLarge,
    /// Not `multipart/form-data`, or a malformed one.
    Malformed,
}

impl FormError {
    /// The HTTP status: 413 for sizes, else 400.
    #[must_use]
    pub fn status(&self) -> u16 {
        match self {
            Self::TooManyParts | Self::PartTooLarge | Self::TooLarge => 413,
            _ => 400,
        }
    }

    /// A stable reason code.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnknownField => "unknown_field",
            Self::RepeatedField(_) => "repeated_field",
            Self::MissingField(_) => "missing_field",
            Self::NotText(_) => "field_not_text",
            Self::BadJson(..) => "field_not_json",
            Self::MapTooLarge(_) => "field_too_large",
            Self::AttachmentName(_) => "bad_attachment_name",
            Self::DuplicateAttachment => "duplicate_attachment",
            Self::TooManyParts => "too_many_parts",
            Self::PartTooLarge => "part_too_large",
            Self::TooLarge => "request_too_large",
            Self::Malformed => "malformed_multipart",
        }
    }
}

impl std::fmt::Display for FormError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::UnknownField => f.write_str(
                "A form part is not a RunRequest field nor `workflow_attachment` (fields: \
                 workflow_params, workflow_type, workflow_type_version, tags, workflow_engine, \
                 workflow_engine_version, workflow_engine_parameters, workflow_url).",
            ),
            Self::RepeatedField(x) => write!(f, "`{}` is sent more than once.", x.name()),
            Self::MissingField(x) => write!(f, "`{}` is required.", x.name()),
            Self::NotText(x) => write!(
                f,
                "`{}` is not UTF-8 text without control characters.",
                x.name()
            ),
            Self::BadJson(x, what) => write!(f, "`{}` must be {what}.", x.name()),
            Self::MapTooLarge(x) => write!(
                f,
                "`{}` holds more than {MAX_MAP_ENTRIES} entries, a key over {MAX_KEY_BYTES} \
                 bytes or a value over {MAX_VALUE_BYTES} bytes.",
                x.name()
            ),
            Self::AttachmentName(p) => write!(f, "A workflow_attachment {}.", p.message()),
            Self::DuplicateAttachment => {
                f.write_str("Two workflow_attachment parts have the same file name.")
            }
            Self::TooManyParts => f.write_str("The form has more parts than the limit."),
            Self::PartTooLarge => f.write_str("A form part is over the size limit."),
            Self::TooLarge => f.write_str("The form is over the size limit."),
            Self::Malformed => {
                f.write_str("The body is not a well-formed multipart/form-data form (RFC 7578).")
            }
        }
    }
}

impl std::error::Error for FormError {}

/// Checks an attachment's name, which becomes its path under the run's folder.
///
/// # Errors
/// [`FormError::AttachmentName`] with the first problem found; nothing is cleaned.
///
/// # Examples
///
/// ```
/// use gemj_wes::form::{attachment_path, FormError, NameProblem};
/// assert_eq!(attachment_path("tools/count.cwl", 255).unwrap(), "tools/count.cwl");
/// assert_eq!(attachment_path("../x", 255), Err(FormError::AttachmentName(NameProblem::ParentComponent)));
/// assert_eq!(attachment_path("/etc/passwd", 255), Err(FormError::AttachmentName(NameProblem::Absolute)));
/// ```
pub fn attachment_path(name: &str, max_bytes: usize) -> Result<String, FormError> {
    let refuse = |p| Err(FormError::AttachmentName(p));
    if name.is_empty() {
        return refuse(NameProblem::Empty);
    }
    if name.len() > max_bytes {
        return refuse(NameProblem::TooLong);
    }
    if name.chars().any(char::is_control) {
        return refuse(NameProblem::ControlCharacter);
    }
    if name.contains('\\') {
        return refuse(NameProblem::Backslash);
    }
    let bytes = name.as_bytes();
    if name.starts_with('/')
        || (bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':')
    {
        return refuse(NameProblem::Absolute);
    }
    for component in name.split('/') {
        match component {
            ".." => return refuse(NameProblem::ParentComponent),
            "" | "." => return refuse(NameProblem::EmptyComponent),
            _ => {}
        }
    }
    Ok(name.to_owned())
}

/// The form being read.
#[derive(Debug)]
pub struct FormBuilder {
    limits: Limits,
    parts: usize,
    total: usize,
    fields: BTreeMap<Field, Vec<u8>>,
    attachments: Vec<Attachment>,
}

/// An attached file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// Its checked relative path.
    pub path: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// A validated request: the `RunRequest` and its attachments.
#[derive(Debug, Clone, PartialEq)]
pub struct Submission {
    /// The request (`workflow_params` an object, maps of strings).
    pub request: RunRequest,
    /// The attachments, in the order sent.
    pub attachments: Vec<Attachment>,
}

impl FormBuilder {
    /// An empty form under `limits`.
    #[must_use]
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            parts: 0,
            total: 0,
            fields: BTreeMap::new(),
            attachments: Vec::new(),
        }
    }

    /// Starts a part named `name` (the `Content-Disposition` name) with `filename`: counts
    /// it and says what it is.
    ///
    /// # Errors
    /// [`FormError::TooManyParts`], [`FormError::UnknownField`], [`FormError::RepeatedField`],
    /// [`FormError::AttachmentName`], [`FormError::DuplicateAttachment`].
    pub fn begin_part(&mut self, name: &str, filename: Option<&str>) -> Result<Part, FormError> {
        self.parts += 1;
        if self.parts > self.limits.max_parts {
            return Err(FormError::TooManyParts);
        }
        if name == "workflow_attachment" {
            let path = attachment_path(filename.unwrap_or_default(), self.limits.max_name_bytes)?;
            if self.attachments.iter().any(|a| a.path == path) {
                return Err(FormError::DuplicateAttachment);
            }
            return Ok(Part::Attachment(path));
        }
        let field = Field::ALL
            .into_iter()
            .find(|f| f.name() == name)
            .ok_or(FormError::UnknownField)?;
        if self.fields.contains_key(&field) {
            return Err(FormError::RepeatedField(field));
        }
        Ok(Part::Field(field))
    }

    /// How many more bytes the current part may have: its own limit, or what is left of the
    /// total, whichever is smaller. Reading past it is [`FormBuilder::over_budget`].
    #[must_use]
    pub fn part_budget(&self) -> usize {
        self.limits
            .max_part_bytes
            .min(self.limits.max_total_bytes.saturating_sub(self.total))
    }

    /// The error of a part that went over [`FormBuilder::part_budget`].
    #[must_use]
    pub fn over_budget(&self) -> FormError {
        if self.limits.max_part_bytes <= self.limits.max_total_bytes.saturating_sub(self.total) {
            FormError::PartTooLarge
        } else {
            FormError::TooLarge
        }
    }

    /// Ends the current part with its bytes.
    ///
    /// # Errors
    /// [`FormError::PartTooLarge`] or [`FormError::TooLarge`] when over the budget.
    pub fn end_part(&mut self, part: Part, bytes: Vec<u8>) -> Result<(), FormError> {
        if bytes.len() > self.part_budget() {
            return Err(self.over_budget());
        }
        self.total += bytes.len();
        match part {
            Part::Field(f) => {
                self.fields.insert(f, bytes);
            }
            Part::Attachment(path) => self.attachments.push(Attachment { path, bytes }),
        }
        Ok(())
    }

    /// The validated submission.
    ///
    /// # Errors
    /// [`FormError::MissingField`] (`workflow_type`, `workflow_type_version`, `workflow_url`),
    /// [`FormError::NotText`], [`FormError::BadJson`], [`FormError::MapTooLarge`].
    pub fn finish(mut self) -> Result<Submission, FormError> {
        let mut text = |f: Field| -> Result<Option<String>, FormError> {
            match self.fields.remove(&f) {
                None => Ok(None),
                Some(bytes) => {
                    let s = String::from_utf8(bytes).map_err(|_| FormError::NotText(f))?;
                    let s = s.trim();
                    if s.chars().any(char::is_control) && f != Field::WorkflowParams {
                        return Err(FormError::NotText(f));
                    }
                    Ok((!s.is_empty()).then(|| s.to_owned()))
                }
            }
        };
        let required = |v: Option<String>, f: Field| v.ok_or(FormError::MissingField(f));
        let params = text(Field::WorkflowParams)?;
        let workflow_type = required(text(Field::WorkflowType)?, Field::WorkflowType)?;
        let workflow_type_version = required(
            text(Field::WorkflowTypeVersion)?,
            Field::WorkflowTypeVersion,
        )?;
        let workflow_url = required(text(Field::WorkflowUrl)?, Field::WorkflowUrl)?;
        let tags = text(Field::Tags)?;
        let engine_parameters = text(Field::WorkflowEngineParameters)?;
        let workflow_engine = text(Field::WorkflowEngine)?;
        let workflow_engine_version = text(Field::WorkflowEngineVersion)?;
        for (f, v) in [
            (Field::WorkflowType, Some(&workflow_type)),
            (Field::WorkflowTypeVersion, Some(&workflow_type_version)),
            (Field::WorkflowEngine, workflow_engine.as_ref()),
            (
                Field::WorkflowEngineVersion,
                workflow_engine_version.as_ref(),
            ),
        ] {
            if v.is_some_and(|v| v.len() > MAX_KEY_BYTES) {
                return Err(FormError::MapTooLarge(f));
            }
        }
        if workflow_url.len() > 2048 {
            return Err(FormError::MapTooLarge(Field::WorkflowUrl));
        }
        let workflow_params = match params {
            None => Value::Object(serde_json::Map::new()),
            Some(p) => {
                let v: Value = serde_json::from_str(&p)
                    .map_err(|_| FormError::BadJson(Field::WorkflowParams, "a JSON object"))?;
                if !v.is_object() {
                    return Err(FormError::BadJson(Field::WorkflowParams, "a JSON object"));
                }
                if depth(&v) > MAX_PARAMS_DEPTH {
                    return Err(FormError::BadJson(
                        Field::WorkflowParams,
                        "a JSON object nested at most 32 levels",
                    ));
                }
                v
            }
        };
        Ok(Submission {
            request: RunRequest {
                workflow_params,
                workflow_type,
                workflow_type_version,
                tags: string_map(tags, Field::Tags)?,
                workflow_engine_parameters: string_map(
                    engine_parameters,
                    Field::WorkflowEngineParameters,
                )?,
                workflow_engine,
                workflow_engine_version,
                workflow_url,
            },
            attachments: self.attachments,
        })
    }
}

fn depth(v: &Value) -> usize {
    match v {
        Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        Value::Object(o) => 1 + o.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// A JSON object of strings (numbers and booleans are taken as their text, as clients send
/// engine parameters either way).
fn string_map(text: Option<String>, field: Field) -> Result<BTreeMap<String, String>, FormError> {
    let Some(text) = text else {
        return Ok(BTreeMap::new());
    };
    let bad = || FormError::BadJson(field, "a JSON object of strings");
    let Value::Object(map) = serde_json::from_str(&text).map_err(|_| bad())? else {
        return Err(bad());
    };
    if map.len() > MAX_MAP_ENTRIES {
        return Err(FormError::MapTooLarge(field));
    }
    map.into_iter()
        .map(|(k, v)| {
            let v = match v {
                Value::String(s) => s,
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => return Err(bad()),
            };
            if k.len() > MAX_KEY_BYTES || v.len() > MAX_VALUE_BYTES {
                return Err(FormError::MapTooLarge(field));
            }
            if k.chars().chain(v.chars()).any(char::is_control) {
                return Err(FormError::NotText(field));
            }
            Ok((k, v))
        })
        .collect()
}
