//! FHIR search (R4 §3.1.1.5, §2.21): parameters parsed against what a resource type supports,
//! values typed (token, reference, date with prefixes, string), repeated parameters ANDed and
//! comma lists ORed, the result controls `_count`, `_offset` and `_sort`, and the unknown
//! parameters a lenient server ignores (`Prefer: handling=strict` makes them a 400).

use time::Date;

use crate::outcome::{FhirError, IssueCode};

/// The largest page a search answers (`_count` above it is lowered to it, as FHIR allows).
pub const MAX_PAGE: u32 = 100;

/// The page size when `_count` is absent.
pub const DEFAULT_PAGE: u32 = 20;

/// The deepest `_offset` a search pages to (a search past it should be narrowed).
pub const MAX_OFFSET: u32 = 100_000;

/// A search parameter's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamType {
    /// `[system]|[code]`, `|code`, `system|`, `code`.
    Token,
    /// `Type/id`, `id`, or an absolute URL ending in `Type/id`.
    Reference,
    /// A date or dateTime with an optional prefix (`ge2020-01`).
    Date,
    /// A string matched case-insensitively from its start (`:exact` for equality).
    String,
}

impl ParamType {
    /// The FHIR `SearchParamType` code.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Token => "token",
            Self::Reference => "reference",
            Self::Date => "date",
            Self::String => "string",
        }
    }
}

/// A search parameter a resource type supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParamSpec {
    /// Its name (`subject`, `code`).
    pub name: &'static str,
    /// Its type.
    pub kind: ParamType,
    /// What it matches, for the CapabilityStatement.
    pub documentation: &'static str,
}

/// A date prefix (R4 §3.1.1.5.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prefix {
    /// `eq` (default): the value's range contains the target's.
    Eq,
    /// `ne`: not `eq`.
    Ne,
    /// `gt`: the target ends after the value's range.
    Gt,
    /// `lt`: the target starts before the value's range.
    Lt,
    /// `ge`: `gt` or overlapping.
    Ge,
    /// `le`: `lt` or overlapping.
    Le,
    /// `sa`: starts after the value's range ends.
    Sa,
    /// `eb`: ends before the value's range starts.
    Eb,
    /// `ap`: approximately (here: the ranges overlap).
    Ap,
}

/// A date with its precision as the days it covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateRange {
    /// First day covered.
    pub first: Date,
    /// Last day covered.
    pub last: Date,
}

impl DateRange {
    /// Parses a FHIR `date` or `dateTime` (`2024`, `2024-03`, `2024-03-15`,
    /// `2024-03-15T10:30:00+09:00`: the day written, in its own zone).
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        let year: i32 = s.get(0..4)?.parse().ok()?;
        if s.len() == 4 {
            return Some(Self {
                first: Date::from_calendar_date(year, time::Month::January, 1).ok()?,
                last: Date::from_calendar_date(year, time::Month::December, 31).ok()?,
            });
        }
        if s.as_bytes().get(4) != Some(&b'-') {
            return None;
        }
        let month: u8 = s.get(5..7)?.parse().ok()?;
        let month = time::Month::try_from(month).ok()?;
        if s.len() == 7 {
            let first = Date::from_calendar_date(year, month, 1).ok()?;
            let last = Date::from_calendar_date(year, month, month.length(year)).ok()?;
            return Some(Self { first, last });
        }
        if s.as_bytes().get(7) != Some(&b'-') {
            return None;
        }
        let day: u8 = s.get(8..10)?.parse().ok()?;
        let date = Date::from_calendar_date(year, month, day).ok()?;
        let rest = &s[10..];
        if !rest.is_empty() {
            // A time must be complete and carry its zone (FHIR dateTime).
            let time = rest.strip_prefix('T')?;
            let zoned = time.ends_with('Z')
                || time.get(time.len().saturating_sub(6)..).is_some_and(|z| {
                    (z.starts_with('+') || z.starts_with('-')) && z.as_bytes().get(3) == Some(&b':')
                });
            if !zoned || time.len() < 8 {
                return None;
            }
        }
        Some(Self {
            first: date,
            last: date,
        })
    }

    /// Whether a target covering `target` matches this value under `prefix`.
    #[must_use]
    pub fn matches(&self, prefix: Prefix, target: &DateRange) -> bool {
        let overlap = target.first <= self.last && target.last >= self.first;
        match prefix {
            Prefix::Eq => self.first <= target.first && target.last <= self.last,
            Prefix::Ne => !(self.first <= target.first && target.last <= self.last),
            Prefix::Gt => target.last > self.last,
            Prefix::Lt => target.first < self.first,
            Prefix::Ge => target.last >= self.first,
            Prefix::Le => target.first <= self.last,
            Prefix::Sa => target.first > self.last,
            Prefix::Eb => target.last < self.first,
            Prefix::Ap => overlap,
        }
    }
}

/// One value of a criterion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchValue {
    /// A token: system (`None`: any; `Some("")`: none) and code (`None`: any).
    Token {
        /// The system.
        system: Option<String>,
        /// The code.
        code: Option<String>,
    },
    /// A reference: the resource type when given, and the id.
    Reference {
        /// `Patient` in `Patient/123`.
        resource_type: Option<String>,
        /// The logical id.
        id: String,
    },
    /// A date with its prefix.
    Date(Prefix, DateRange),
    /// A string.
    String(String),
}

/// A parameter of the search: its values are ORed; several criteria of one name are ANDed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Criterion {
    /// The parameter's name.
    pub name: &'static str,
    /// Its modifier (`exact` for strings; none else is supported).
    pub modifier: Option<String>,
    /// The values (OR).
    pub values: Vec<SearchValue>,
}

/// A parsed search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchRequest {
    /// The criteria (AND).
    pub criteria: Vec<Criterion>,
    /// `_id` values (OR), when given.
    pub ids: Option<Vec<String>>,
    /// Page size.
    pub count: u32,
    /// Resources skipped.
    pub offset: u32,
    /// `_sort` keys with `true` for descending.
    pub sort: Vec<(&'static str, bool)>,
    /// The parameters used, as `(name, value)` for the self link, in request order.
    pub used: Vec<(String, String)>,
    /// The parameters ignored (unknown names), for a warning.
    pub ignored: Vec<String>,
}

/// The parameters every search takes besides its own.
const CONTROL: &[&str] = &["_format", "_pretty", "_summary", "_total", "_elements"];

/// Parses a search's query pairs against the parameters of the resource type (`specs`) and
/// the sort keys it supports (`sortable`).
///
/// # Errors
/// 400 `value`/`invalid` for a bad value, modifier, `_count`, `_offset` or `_sort`, naming the
/// parameter; in strict handling, 400 `not-supported` for an unknown parameter.
pub fn parse(
    pairs: &[(String, String)],
    specs: &[ParamSpec],
    sortable: &[&'static str],
    strict: bool,
) -> Result<SearchRequest, FhirError> {
    let mut request = SearchRequest {
        criteria: Vec::new(),
        ids: None,
        count: DEFAULT_PAGE,
        offset: 0,
        sort: Vec::new(),
        used: Vec::new(),
        ignored: Vec::new(),
    };
    for (key, raw) in pairs {
        let (name, modifier) = match key.split_once(':') {
            Some((n, m)) => (n, Some(m)),
            None => (key.as_str(), None),
        };
        match name {
            "_count" => {
                let n: u32 = raw
                    .parse()
                    .map_err(|_| bad(key, "_count must be a non-negative integer"))?;
                request.count = n.min(MAX_PAGE);
                request.used.push((key.clone(), request.count.to_string()));
                continue;
            }
            "_offset" => {
                let n: u32 = raw
                    .parse()
                    .map_err(|_| bad(key, "_offset must be a non-negative integer"))?;
                if n > MAX_OFFSET {
                    return Err(FhirError::bad_request(
                        IssueCode::TooCostly,
                        key,
                        format!("_offset is at most {MAX_OFFSET}: narrow the search"),
                    ));
                }
                request.offset = n;
                continue;
            }
            "_sort" => {
                for k in raw.split(',') {
                    let (desc, k) = match k.strip_prefix('-') {
                        Some(k) => (true, k),
                        None => (false, k),
                    };
                    let Some(s) = sortable.iter().find(|s| **s == k) else {
                        return Err(bad(
                            key,
                            format!(
                                "_sort by {k} is not supported here (supported: {})",
                                if sortable.is_empty() {
                                    "none".to_owned()
                                } else {
                                    sortable.join(", ")
                                }
                            ),
                        ));
                    };
                    request.sort.push((s, desc));
                }
                request.used.push((key.clone(), raw.clone()));
                continue;
            }
            "_id" => {
                let ids: Vec<String> = raw.split(',').map(str::to_owned).collect();
                if ids.iter().any(|i| !valid_id(i)) {
                    return Err(bad(
                        key,
                        "_id values must be FHIR ids ([A-Za-z0-9-.]{1,64})",
                    ));
                }
                match &mut request.ids {
                    // Repeated `_id` is an AND: keep the ids in both.
                    Some(existing) => existing.retain(|i| ids.contains(i)),
                    None => request.ids = Some(ids),
                }
                request.used.push((key.clone(), raw.clone()));
                continue;
            }
            _ if CONTROL.contains(&name) => continue,
            _ => {}
        }
        let Some(spec) = specs.iter().find(|s| s.name == name) else {
            if strict {
                return Err(FhirError::bad_request(
                    IssueCode::NotSupported,
                    key,
                    format!("unknown search parameter {name} (Prefer: handling=strict)"),
                ));
            }
            request.ignored.push(key.clone());
            continue;
        };
        let modifier = match (spec.kind, modifier) {
            (_, None) => None,
            (ParamType::String, Some("exact" | "contains")) => modifier.map(str::to_owned),
            (ParamType::Reference, Some(m)) if m.chars().next().is_some_and(char::is_uppercase) => {
                Some(m.to_owned())
            }
            (_, Some(m)) => {
                return Err(bad(
                    key,
                    format!("the modifier :{m} is not supported on {name}"),
                ));
            }
        };
        let mut values = Vec::new();
        for v in split_values(raw) {
            values.push(parse_value(spec, modifier.as_deref(), &v).map_err(|m| bad(key, m))?);
        }
        if values.is_empty() {
            return Err(bad(key, format!("{name} has no value")));
        }
        request.used.push((key.clone(), raw.clone()));
        request.criteria.push(Criterion {
            name: spec.name,
            modifier,
            values,
        });
    }
    Ok(request)
}

fn bad(key: &str, message: impl Into<String>) -> FhirError {
    FhirError::bad_request(IssueCode::Value, key, message)
}

/// A FHIR logical id: 1–64 of `A-Z a-z 0-9 - .`.
#[must_use]
pub fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

/// Splits a value on unescaped commas (`\,` is a literal comma).
fn split_values(raw: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(next) = chars.next() {
                    current.push(next);
                }
            }
            ',' => out.push(std::mem::take(&mut current)),
            c => current.push(c),
        }
    }
    out.push(current);
    out.into_iter().filter(|v| !v.is_empty()).collect()
}

fn parse_value(spec: &ParamSpec, modifier: Option<&str>, v: &str) -> Result<SearchValue, String> {
    match spec.kind {
        ParamType::Token => Ok(match v.split_once('|') {
            Some((system, code)) => SearchValue::Token {
                system: Some(system.to_owned()),
                code: (!code.is_empty()).then(|| code.to_owned()),
            },
            None => SearchValue::Token {
                system: None,
                code: Some(v.to_owned()),
            },
        }),
        ParamType::Reference => {
            let tail: Vec<&str> = v.rsplitn(3, '/').collect();
            let (resource_type, id) = match tail.as_slice() {
                [id] => (modifier.map(str::to_owned), *id),
                [id, ty, ..] => (Some((*ty).to_owned()), *id),
                [] => return Err(format!("{} has an empty reference", spec.name)),
            };
            if !valid_id(id) {
                return Err(format!("{}: {id:?} is not a FHIR id", spec.name));
            }
            Ok(SearchValue::Reference {
                resource_type,
                id: id.to_owned(),
            })
        }
        ParamType::Date => {
            let (prefix, rest) = match v.get(0..2) {
                Some("eq") => (Prefix::Eq, &v[2..]),
                Some("ne") => (Prefix::Ne, &v[2..]),
                Some("gt") => (Prefix::Gt, &v[2..]),
                Some("lt") => (Prefix::Lt, &v[2..]),
                Some("ge") => (Prefix::Ge, &v[2..]),
                Some("le") => (Prefix::Le, &v[2..]),
                Some("sa") => (Prefix::Sa, &v[2..]),
                Some("eb") => (Prefix::Eb, &v[2..]),
                Some("ap") => (Prefix::Ap, &v[2..]),
                _ => (Prefix::Eq, v),
            };
            let range = DateRange::parse(rest).ok_or_else(|| {
                format!(
                    "{}: {v:?} is not a FHIR date (YYYY, YYYY-MM, YYYY-MM-DD or a dateTime with its zone), with an optional prefix eq, ne, gt, lt, ge, le, sa, eb or ap",
                    spec.name
                )
            })?;
            Ok(SearchValue::Date(prefix, range))
        }
        ParamType::String => Ok(SearchValue::String(v.to_owned())),
    }
}

impl SearchValue {
    /// Whether a token value matches a coding (`system`, `code`).
    #[must_use]
    pub fn matches_coding(&self, coding_system: Option<&str>, coding_code: &str) -> bool {
        let Self::Token { system, code } = self else {
            return false;
        };
        let system_ok = match system.as_deref() {
            None => true,
            Some("") => coding_system.is_none(),
            Some(s) => coding_system == Some(s),
        };
        system_ok && code.as_deref().is_none_or(|c| c == coding_code)
    }

    /// Whether a reference value names `resource_type/id`.
    #[must_use]
    pub fn names(&self, resource_type: &str, id: &str) -> bool {
        let Self::Reference {
            resource_type: t,
            id: i,
        } = self
        else {
            return false;
        };
        i == id && t.as_deref().is_none_or(|t| t == resource_type)
    }

    /// Whether a string value matches `text` (case-insensitive prefix; `exact`: equality;
    /// `contains`: substring).
    #[must_use]
    pub fn matches_text(&self, modifier: Option<&str>, text: &str) -> bool {
        let Self::String(v) = self else {
            return false;
        };
        match modifier {
            Some("exact") => v == text,
            Some("contains") => text.to_lowercase().contains(&v.to_lowercase()),
            _ => text.to_lowercase().starts_with(&v.to_lowercase()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPECS: &[ParamSpec] = &[
        ParamSpec {
            name: "subject",
            kind: ParamType::Reference,
            documentation: "",
        },
        ParamSpec {
            name: "code",
            kind: ParamType::Token,
            documentation: "",
        },
        ParamSpec {
            name: "date",
            kind: ParamType::Date,
            documentation: "",
        },
    ];

    fn pairs(q: &[(&str, &str)]) -> Vec<(String, String)> {
        q.iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    #[test]
    fn parameters_are_typed_and_unknown_ones_ignored_unless_strict() -> Result<(), FhirError> {
        let q = pairs(&[
            ("subject", "Patient/GEMJ-1"),
            ("code", "http://loinc.org|1-8,x"),
            ("date", "ge2020-01"),
            ("date", "lt2021"),
            ("colour", "red"),
            ("_count", "500"),
        ]);
        let r = parse(&q, SPECS, &["date"], false)?;
        assert_eq!(r.criteria.len(), 4);
        assert_eq!(r.count, MAX_PAGE);
        assert_eq!(r.ignored, vec!["colour".to_owned()]);
        assert_eq!(parse(&q, SPECS, &[], true).map_err(|e| e.status), Err(400));
        assert_eq!(
            parse(&pairs(&[("date", "2020-13")]), SPECS, &[], false).map_err(|e| e.status),
            Err(400)
        );
        assert_eq!(
            parse(&pairs(&[("_count", "x")]), SPECS, &[], false).map_err(|e| e.status),
            Err(400)
        );
        assert_eq!(
            parse(&pairs(&[("_sort", "name")]), SPECS, &["date"], false).map_err(|e| e.status),
            Err(400)
        );
        assert_eq!(
            parse(&pairs(&[("code:above", "x")]), SPECS, &[], false).map_err(|e| e.status),
            Err(400)
        );
        Ok(())
    }

    #[test]
    fn dates_keep_their_precision() {
        let year = DateRange::parse("2005").expect("a year");
        let day = DateRange::parse("2005-06-01").expect("a day");
        assert!(year.matches(Prefix::Eq, &day));
        assert!(!day.matches(Prefix::Eq, &year));
        assert!(day.matches(Prefix::Ap, &year));
        assert!(DateRange::parse("2024-03-15T10:30:00+09:00").is_some());
        assert!(
            DateRange::parse("2024-03-15T10:30:00").is_none(),
            "a time needs its zone"
        );
        assert!(DateRange::parse("2023-02-29").is_none());
    }
}
