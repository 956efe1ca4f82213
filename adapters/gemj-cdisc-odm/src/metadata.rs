//! What a `MetaDataVersion` says of item values: each `ItemDef`'s `DataType`, `Length`, code
//! list and range checks (ODM 1.3.2 §3.1.4), and the code lists with their decodes, used to check
//! every `ItemData` value before it is read.

use std::collections::HashMap;

use gemj_model::{PartialDate, Precision};

/// An `ItemDef` `DataType` (ODM 1.3.2 §2.13).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DataType {
    Text,
    Integer,
    Float,
    Date,
    Time,
    DateTime,
    PartialDate,
    Boolean,
    /// Any other type (`string`, `partialTime`, `URI`, `hexBinary`, ...): not checked.
    Unchecked,
}

impl DataType {
    pub(crate) fn parse(s: &str) -> Self {
        match s {
            "text" | "string" => Self::Text,
            "integer" => Self::Integer,
            "float" | "double" => Self::Float,
            "date" => Self::Date,
            "time" => Self::Time,
            "datetime" => Self::DateTime,
            "partialDate" => Self::PartialDate,
            "boolean" => Self::Boolean,
            _ => Self::Unchecked,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Integer => "an integer",
            Self::Float => "a decimal number",
            Self::Date => "a date (YYYY-MM-DD)",
            Self::Time => "a time (hh:mm:ss)",
            Self::DateTime => "a date and time (YYYY-MM-DDThh:mm:ss)",
            Self::PartialDate => "a partial date (YYYY, YYYY-MM or YYYY-MM-DD)",
            Self::Boolean => "a boolean (true, false, 1, 0)",
            Self::Unchecked => "a value",
        }
    }
}

/// A `RangeCheck` comparator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Comparator {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    In,
    NotIn,
}

impl Comparator {
    pub(crate) fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "LT" => Self::Lt,
            "LE" => Self::Le,
            "GT" => Self::Gt,
            "GE" => Self::Ge,
            "EQ" => Self::Eq,
            "NE" => Self::Ne,
            "IN" => Self::In,
            "NOTIN" => Self::NotIn,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Self::Lt => "LT",
            Self::Le => "LE",
            Self::Gt => "GT",
            Self::Ge => "GE",
            Self::Eq => "EQ",
            Self::Ne => "NE",
            Self::In => "IN",
            Self::NotIn => "NOTIN",
        }
    }
}

/// A `RangeCheck` of an `ItemDef`.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct RangeCheck {
    pub(crate) comparator: Option<Comparator>,
    /// `SoftHard="Hard"`: a failing value is left out; a soft check only warns.
    pub(crate) hard: bool,
    pub(crate) values: Vec<String>,
}

/// An `ItemDef`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ItemDef {
    pub(crate) data_type: DataType,
    pub(crate) length: Option<usize>,
    pub(crate) code_list: Option<String>,
    pub(crate) range_checks: Vec<RangeCheck>,
}

/// A `CodeListItem` or `EnumeratedItem`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct CodeItem {
    pub(crate) coded: String,
    /// `(xml:lang, text)` of each `Decode/TranslatedText`.
    pub(crate) decodes: Vec<(Option<String>, String)>,
}

/// A `CodeList`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct CodeList {
    pub(crate) items: Vec<CodeItem>,
    /// An `ExternalCodeList` (MedDRA, ...): values cannot be checked here.
    pub(crate) external: bool,
}

/// One `MetaDataVersion`.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Metadata {
    pub(crate) items: HashMap<String, ItemDef>,
    pub(crate) code_lists: HashMap<String, CodeList>,
}

/// What is wrong with a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Problem {
    /// The value is left out.
    Error(String),
    /// The value is read, with a caveat.
    Warning(String),
}

impl Metadata {
    /// Checks a value against its `ItemDef`: data type, code list, length and range checks.
    pub(crate) fn check(&self, def: &ItemDef, value: &str) -> Vec<Problem> {
        let mut problems = Vec::new();
        if !type_ok(def.data_type, value) {
            problems.push(Problem::Error(format!(
                "not {} as its ItemDef DataType requires; left out",
                def.data_type.describe()
            )));
            return problems;
        }
        if let Some(oid) = &def.code_list {
            match self.code_lists.get(oid) {
                Some(list) if list.external => {}
                Some(list) => {
                    if !list.items.iter().any(|i| i.coded == value) {
                        problems.push(Problem::Error(format!(
                            "not a coded value of code list {}; left out",
                            short(oid)
                        )));
                        return problems;
                    }
                }
                None => problems.push(Problem::Warning(format!(
                    "code list {} is not defined; the value is not checked against it",
                    short(oid)
                ))),
            }
        }
        if def.data_type == DataType::Text
            && let Some(length) = def.length
            && value.chars().count() > length
        {
            problems.push(Problem::Warning(format!(
                "longer than the ItemDef Length {length}; kept"
            )));
        }
        for check in &def.range_checks {
            if let Some(failed) = range_fails(def.data_type, check, value) {
                let message = format!("fails the range check {failed}");
                if check.hard {
                    problems.push(Problem::Error(format!("{message} (hard); left out")));
                    return problems;
                }
                problems.push(Problem::Warning(format!("{message} (soft); kept")));
            }
        }
        problems
    }

    /// The decodes of a coded value.
    pub(crate) fn decodes(&self, def: &ItemDef, value: &str) -> Vec<String> {
        def.code_list
            .as_ref()
            .and_then(|oid| self.code_lists.get(oid))
            .and_then(|list| list.items.iter().find(|i| i.coded == value))
            .map(|item| item.decodes.iter().map(|(_, text)| text.clone()).collect())
            .unwrap_or_default()
    }
}

/// An OID shortened for messages.
pub(crate) fn short(s: &str) -> String {
    let mut out: String = s.chars().take(64).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

fn type_ok(data_type: DataType, v: &str) -> bool {
    match data_type {
        DataType::Text | DataType::Unchecked => true,
        DataType::Integer => is_integer(v),
        DataType::Float => is_float(v),
        DataType::Date => PartialDate::parse(v).is_ok_and(|d| d.precision() == Precision::Day),
        DataType::PartialDate => PartialDate::parse(v).is_ok(),
        DataType::Time => is_time(v),
        DataType::DateTime => v.split_once('T').is_some_and(|(date, time)| {
            PartialDate::parse(date).is_ok_and(|d| d.precision() == Precision::Day) && is_time(time)
        }),
        DataType::Boolean => matches!(v, "true" | "false" | "1" | "0"),
    }
}

fn is_integer(v: &str) -> bool {
    let digits = v.strip_prefix(['+', '-']).unwrap_or(v);
    (1..=18).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
}

fn is_float(v: &str) -> bool {
    v.len() <= 64
        && v.bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b'e' | b'E'))
        && v.bytes().any(|b| b.is_ascii_digit())
        && v.parse::<f64>().is_ok_and(f64::is_finite)
}

/// `hh:mm:ss`, optionally with a fraction and a zone (`Z`, `+09:00`).
fn is_time(v: &str) -> bool {
    let b = v.as_bytes();
    if b.len() < 8 {
        return false;
    }
    let two = |i: usize, max: u8| {
        b[i].is_ascii_digit()
            && b[i + 1].is_ascii_digit()
            && (b[i] - b'0') * 10 + (b[i + 1] - b'0') <= max
    };
    if !(two(0, 23) && b[2] == b':' && two(3, 59) && b[5] == b':' && two(6, 60)) {
        return false;
    }
    let mut rest = &v[8..];
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return false;
        }
        rest = &fraction[digits..];
    }
    match rest.as_bytes() {
        [] | [b'Z'] => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => [h1, h2, m1, m2].iter().all(|b| b.is_ascii_digit()),
        _ => false,
    }
}

/// The failed check as `GE 0`, or `None` when the value passes (or the check cannot apply).
fn range_fails(data_type: DataType, check: &RangeCheck, value: &str) -> Option<String> {
    let comparator = check.comparator?;
    let failed = || {
        let values: Vec<String> = check.values.iter().take(8).map(|v| short(v)).collect();
        format!("{} {}", comparator.name(), values.join(" "))
    };
    match comparator {
        Comparator::In => (!check.values.iter().any(|v| v == value)).then(failed),
        Comparator::NotIn => check.values.iter().any(|v| v == value).then(failed),
        _ => {
            if !matches!(data_type, DataType::Integer | DataType::Float) {
                return None;
            }
            let x: f64 = value.parse().ok()?;
            let limit: f64 = check.values.first()?.trim().parse().ok()?;
            let ok = match comparator {
                Comparator::Lt => x < limit,
                Comparator::Le => x <= limit,
                Comparator::Gt => x > limit,
                Comparator::Ge => x >= limit,
                Comparator::Eq => x == limit,
                Comparator::Ne => x != limit,
                Comparator::In | Comparator::NotIn => true,
            };
            (!ok).then(failed)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(data_type: &str, value: &str, ok: bool) {
        assert_eq!(
            type_ok(DataType::parse(data_type), value),
            ok,
            "{data_type} {value:?}"
        );
    }

    #[test]
    fn data_types() {
        check("date", "1975-04-01", true);
        check("date", "1975-04", false);
        check("date", "1975-02-30", false);
        check("date", "S50.04.01", false);
        check("partialDate", "2005", true);
        check("partialDate", "2005-03", true);
        check("partialDate", "2005-03-14", true);
        check("partialDate", "05", false);
        check("integer", "1", true);
        check("integer", "-12", true);
        check("integer", "1.0", false);
        check("integer", "", false);
        check("integer", "1234567890123456789", false);
        check("float", "1.5", true);
        check("float", "-1e3", true);
        check("float", "NaN", false);
        check("float", "inf", false);
        check("float", ".", false);
        check("boolean", "true", true);
        check("boolean", "0", true);
        check("boolean", "yes", false);
        check("boolean", "TRUE", false);
        check("time", "10:30:00", true);
        check("time", "10:30:00.5+09:00", true);
        check("time", "24:00:00", false);
        check("time", "10:30", false);
        check("datetime", "2024-03-15T10:30:00+09:00", true);
        check("datetime", "2024-03-15", false);
        check("text", "anything", true);
        check("URI", "x", true);
    }

    #[test]
    fn range_checks() {
        let ge0 = RangeCheck {
            comparator: Some(Comparator::Ge),
            hard: true,
            values: vec!["0".into()],
        };
        assert_eq!(range_fails(DataType::Integer, &ge0, "1"), None);
        assert_eq!(
            range_fails(DataType::Integer, &ge0, "-1").as_deref(),
            Some("GE 0")
        );
        assert_eq!(range_fails(DataType::Text, &ge0, "-1"), None);
        let within = RangeCheck {
            comparator: Some(Comparator::In),
            hard: false,
            values: vec!["a".into(), "b".into()],
        };
        assert_eq!(range_fails(DataType::Text, &within, "a"), None);
        assert_eq!(
            range_fails(DataType::Text, &within, "c").as_deref(),
            Some("IN a b")
        );
    }

    #[test]
    fn code_lists_and_lengths() {
        let mut metadata = Metadata::default();
        metadata.code_lists.insert(
            "CL.SEX".into(),
            CodeList {
                items: vec![CodeItem {
                    coded: "M".into(),
                    decodes: vec![(Some("ja".into()), "男性".into())],
                }],
                external: false,
            },
        );
        let def = ItemDef {
            data_type: DataType::Text,
            length: Some(1),
            code_list: Some("CL.SEX".into()),
            range_checks: Vec::new(),
        };
        assert!(metadata.check(&def, "M").is_empty());
        assert!(matches!(metadata.check(&def, "X")[..], [Problem::Error(_)]));
        assert_eq!(metadata.decodes(&def, "M"), ["男性"]);
        let free = ItemDef {
            code_list: None,
            ..def
        };
        assert!(matches!(
            metadata.check(&free, "MM")[..],
            [Problem::Warning(_)]
        ));
    }
}
