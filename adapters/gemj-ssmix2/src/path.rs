//! File paths of the SS-MIX2 standardized storage, relative to `standard_root`:
//!
//! ```text
//! <pid[0:3]>/<pid[3:6]>/<pid>/<date or ->/<data kind>/
//!     <pid>_<date or ->_<data kind>_<order no, 15>_<timestamp, 17>_<dept or ->_<condition flag>
//! ```
//!
//! A path is parsed once into a [`StoragePath`]; every directory must agree with the file name.

use std::fmt;

/// Why a path is not an SS-MIX2 standardized-storage file path. The messages describe the shape
/// that was expected, never the text found.
///
/// # Examples
/// ```
/// use gemj_ssmix2::{PathError, StoragePath};
/// assert_eq!(StoragePath::parse("900/000/x"), Err(PathError::Parts { found: 3 }));
/// assert_eq!(
///     PathError::Flag.to_string(),
///     "the condition flag must be 0, 1 or 2"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PathError {
    /// The path does not have the six parts `pid[0:3]/pid[3:6]/pid/date/kind/file`.
    #[error("expected 6 path parts (pid[0:3]/pid[3:6]/pid/date/kind/file), found {found}")]
    Parts {
        /// How many parts the path has.
        found: usize,
    },
    /// The file name does not have the seven `_`-separated fields.
    #[error("expected 7 '_'-separated fields in the file name, found {found}")]
    NameFields {
        /// How many fields the name has.
        found: usize,
    },
    /// The patient id is not at least six ASCII letters or digits.
    #[error("the patient id must be 6 to 64 ASCII letters or digits")]
    PatientId,
    /// A directory does not agree with the file name.
    #[error("the {level} directory does not match the file name")]
    Directory {
        /// Which directory (`pid[0:3]`, `pid[3:6]`, `patient`, `date`, `data kind`).
        level: &'static str,
    },
    /// The date is neither `-` nor a calendar date `YYYYMMDD`.
    #[error("the date must be '-' or a calendar date YYYYMMDD")]
    Date,
    /// The data kind is not three capital letters, optionally followed by `-` and two digits.
    #[error("the data kind must be three capital letters, optionally '-' and two digits")]
    Kind,
    /// The order number is not 15 ASCII letters or digits.
    #[error("the order number must be 15 ASCII letters or digits")]
    Order,
    /// The timestamp is not 17 digits `YYYYMMDDHHMMSSfff` naming a real time.
    #[error("the timestamp must be 17 digits YYYYMMDDHHMMSSfff of a real date and time")]
    Timestamp,
    /// The department code is neither `-` nor 1 to 20 ASCII letters or digits.
    #[error("the department must be '-' or 1 to 20 ASCII letters or digits")]
    Department,
    /// The condition flag is not `0`, `1` or `2`.
    #[error("the condition flag must be 0, 1 or 2")]
    Flag,
}

/// The condition flag, the last field of a file name.
///
/// # Examples
/// ```
/// use gemj_ssmix2::{ConditionFlag, StoragePath};
/// let path = StoragePath::parse("900/000/9000000001/-/ADT-00/9000000001_-_ADT-00_000000000000000_20240301090000000_-_2")?;
/// assert_eq!(path.flag(), ConditionFlag::Superseded);
/// # Ok::<(), gemj_ssmix2::PathError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ConditionFlag {
    /// `0`: the order was deleted.
    Deleted,
    /// `1`: current, valid data.
    Current,
    /// `2`: superseded by a later `1` of the same order.
    Superseded,
}

impl ConditionFlag {
    /// The flag as written in a file name.
    ///
    /// # Examples
    /// ```
    /// assert_eq!(gemj_ssmix2::ConditionFlag::Deleted.as_str(), "0");
    /// ```
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Deleted => "0",
            Self::Current => "1",
            Self::Superseded => "2",
        }
    }
}

/// The data kinds this crate maps into the GeMJ model.
///
/// # Examples
/// ```
/// use gemj_ssmix2::{DataKind, ReadKind};
/// assert_eq!(DataKind::parse("ADT-00")?.read_kind(), Some(ReadKind::Adt00));
/// # Ok::<(), gemj_ssmix2::PathError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReadKind {
    /// `ADT-00`: patient demographics (`ADT^A08^ADT_A01`).
    Adt00,
    /// `PPR-01`: diagnoses (`PPR^ZD1^PPR_ZD1`).
    Ppr01,
    /// `OML-11`: laboratory results (`OUL^R22^OUL_R22`, also `OML^O33`).
    Oml11,
}

/// A data kind directory and file-name field (`ADT-00`, `OML-11`, `OMD`).
///
/// # Examples
/// ```
/// use gemj_ssmix2::{DataKind, ReadKind};
/// assert_eq!(DataKind::parse("PPR-01")?.read_kind(), Some(ReadKind::Ppr01));
/// assert_eq!(DataKind::parse("OMP-01")?.read_kind(), None);
/// assert!(DataKind::parse("oml-11").is_err());
/// # Ok::<(), gemj_ssmix2::PathError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DataKind(String);

impl DataKind {
    /// Parses a data kind: three capital letters, optionally `-` and two digits.
    ///
    /// # Errors
    /// [`PathError::Kind`] for any other text.
    ///
    /// # Examples
    /// ```
    /// assert_eq!(gemj_ssmix2::DataKind::parse("OMD")?.as_str(), "OMD");
    /// # Ok::<(), gemj_ssmix2::PathError>(())
    /// ```
    pub fn parse(s: &str) -> Result<Self, PathError> {
        let b = s.as_bytes();
        let letters = b.len() >= 3 && b[..3].iter().all(u8::is_ascii_uppercase);
        let suffix = match b.len() {
            3 => true,
            6 => b[3] == b'-' && b[4..].iter().all(u8::is_ascii_digit),
            _ => false,
        };
        if letters && suffix {
            Ok(Self(s.to_owned()))
        } else {
            Err(PathError::Kind)
        }
    }

    /// The kind as written.
    ///
    /// # Examples
    /// ```
    /// assert_eq!(gemj_ssmix2::DataKind::parse("ADT-00")?.as_str(), "ADT-00");
    /// # Ok::<(), gemj_ssmix2::PathError>(())
    /// ```
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Which mapping reads this kind, if this crate reads it at all.
    ///
    /// # Examples
    /// ```
    /// use gemj_ssmix2::{DataKind, ReadKind};
    /// assert_eq!(DataKind::parse("OML-11")?.read_kind(), Some(ReadKind::Oml11));
    /// assert_eq!(DataKind::parse("OML-01")?.read_kind(), None);
    /// # Ok::<(), gemj_ssmix2::PathError>(())
    /// ```
    #[must_use]
    pub fn read_kind(&self) -> Option<ReadKind> {
        match self.0.as_str() {
            "ADT-00" => Some(ReadKind::Adt00),
            "PPR-01" => Some(ReadKind::Ppr01),
            "OML-11" => Some(ReadKind::Oml11),
            _ => None,
        }
    }
}

impl fmt::Display for DataKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A parsed standardized-storage file path.
///
/// # Examples
/// ```
/// use gemj_ssmix2::{ConditionFlag, StoragePath};
/// let path = StoragePath::parse(
///     "900/000/9000000001/20240314/OML-11/\
///      9000000001_20240314_OML-11_000000000012345_20240314153000000_01_1",
/// )?;
/// assert_eq!(path.patient(), "9000000001");
/// assert_eq!(path.date().map(|d| d.to_string()).as_deref(), Some("2024-03-14"));
/// assert_eq!(path.kind().as_str(), "OML-11");
/// assert_eq!(path.order(), "000000000012345");
/// assert_eq!(path.timestamp(), "20240314153000000");
/// assert_eq!(path.department(), Some("01"));
/// assert_eq!(path.flag(), ConditionFlag::Current);
/// # Ok::<(), gemj_ssmix2::PathError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoragePath {
    path: String,
    patient: String,
    date: Option<time::Date>,
    kind: DataKind,
    order: String,
    timestamp: String,
    department: Option<String>,
    flag: ConditionFlag,
}

impl StoragePath {
    /// Parses a path relative to `standard_root`, with `/` (or `\`) between parts. A leading
    /// `./` is allowed.
    ///
    /// # Errors
    /// A [`PathError`] naming the first part that does not fit.
    ///
    /// # Examples
    /// ```
    /// use gemj_ssmix2::{PathError, StoragePath};
    /// let wrong_dir = StoragePath::parse(
    ///     "900/001/9000000001/-/ADT-00/9000000001_-_ADT-00_000000000000000_20240301090000000_-_1",
    /// );
    /// assert_eq!(wrong_dir, Err(PathError::Directory { level: "pid[3:6]" }));
    /// let bad_flag = StoragePath::parse(
    ///     "900/000/9000000001/-/ADT-00/9000000001_-_ADT-00_000000000000000_20240301090000000_-_3",
    /// );
    /// assert_eq!(bad_flag, Err(PathError::Flag));
    /// ```
    pub fn parse(path: &str) -> Result<Self, PathError> {
        let relative = path.strip_prefix("./").unwrap_or(path);
        let parts: Vec<&str> = relative.split(['/', '\\']).take(8).collect();
        let [top, middle, patient_dir, date_dir, kind_dir, name] = parts[..] else {
            return Err(PathError::Parts {
                found: relative.split(['/', '\\']).count(),
            });
        };
        let fields: Vec<&str> = name.split('_').take(9).collect();
        let [patient, date, kind, order, timestamp, department, flag] = fields[..] else {
            return Err(PathError::NameFields {
                found: name.split('_').count(),
            });
        };
        let pb = patient.as_bytes();
        if !(6..=64).contains(&pb.len()) || !pb.iter().all(u8::is_ascii_alphanumeric) {
            return Err(PathError::PatientId);
        }
        for (dir, expect, level) in [
            (top, &patient[..3], "pid[0:3]"),
            (middle, &patient[3..6], "pid[3:6]"),
            (patient_dir, patient, "patient"),
            (date_dir, date, "date"),
            (kind_dir, kind, "data kind"),
        ] {
            if dir != expect {
                return Err(PathError::Directory { level });
            }
        }
        let date = match date {
            "-" => None,
            d => Some(calendar_date(d).ok_or(PathError::Date)?),
        };
        let kind = DataKind::parse(kind)?;
        if order.len() != 15 || !order.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(PathError::Order);
        }
        if !valid_timestamp(timestamp) {
            return Err(PathError::Timestamp);
        }
        let department = match department {
            "-" => None,
            d if (1..=20).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_alphanumeric()) => {
                Some(d.to_owned())
            }
            _ => return Err(PathError::Department),
        };
        let flag = match flag {
            "0" => ConditionFlag::Deleted,
            "1" => ConditionFlag::Current,
            "2" => ConditionFlag::Superseded,
            _ => return Err(PathError::Flag),
        };
        Ok(Self {
            path: path.to_owned(),
            patient: patient.to_owned(),
            date,
            kind,
            order: order.to_owned(),
            timestamp: timestamp.to_owned(),
            department,
            flag,
        })
    }

    /// The path as given.
    ///
    /// # Examples
    /// ```
    /// let text = "900/000/9000000002/-/PPR-01/9000000002_-_PPR-01_000000000000002_20190501100000000_01_1";
    /// assert_eq!(gemj_ssmix2::StoragePath::parse(text)?.as_str(), text);
    /// # Ok::<(), gemj_ssmix2::PathError>(())
    /// ```
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.path
    }

    /// The hospital's patient id.
    ///
    /// # Examples
    /// ```
    /// let p = gemj_ssmix2::StoragePath::parse("900/000/9000000002/-/ADT-00/9000000002_-_ADT-00_000000000000000_20190501090000000_-_1")?;
    /// assert_eq!(p.patient(), "9000000002");
    /// # Ok::<(), gemj_ssmix2::PathError>(())
    /// ```
    #[must_use]
    pub fn patient(&self) -> &str {
        &self.patient
    }

    /// The date of the data (the day of the order or result), or `None` for `-`.
    ///
    /// # Examples
    /// ```
    /// let p = gemj_ssmix2::StoragePath::parse("900/000/9000000002/-/ADT-00/9000000002_-_ADT-00_000000000000000_20190501090000000_-_1")?;
    /// assert_eq!(p.date(), None);
    /// # Ok::<(), gemj_ssmix2::PathError>(())
    /// ```
    #[must_use]
    pub fn date(&self) -> Option<time::Date> {
        self.date
    }

    /// The data kind.
    ///
    /// # Examples
    /// ```
    /// let p = gemj_ssmix2::StoragePath::parse("900/000/9000000002/-/ADT-00/9000000002_-_ADT-00_000000000000000_20190501090000000_-_1")?;
    /// assert_eq!(p.kind().as_str(), "ADT-00");
    /// # Ok::<(), gemj_ssmix2::PathError>(())
    /// ```
    #[must_use]
    pub fn kind(&self) -> &DataKind {
        &self.kind
    }

    /// The 15-character order number.
    ///
    /// # Examples
    /// ```
    /// let p = gemj_ssmix2::StoragePath::parse("900/000/9000000002/-/PPR-01/9000000002_-_PPR-01_000000000000002_20190501100000000_01_1")?;
    /// assert_eq!(p.order(), "000000000000002");
    /// # Ok::<(), gemj_ssmix2::PathError>(())
    /// ```
    #[must_use]
    pub fn order(&self) -> &str {
        &self.order
    }

    /// The 17-digit timestamp `YYYYMMDDHHMMSSfff`; later timestamps sort after earlier ones.
    ///
    /// # Examples
    /// ```
    /// let p = gemj_ssmix2::StoragePath::parse("900/000/9000000002/-/PPR-01/9000000002_-_PPR-01_000000000000002_20190501100000000_01_1")?;
    /// assert_eq!(p.timestamp(), "20190501100000000");
    /// # Ok::<(), gemj_ssmix2::PathError>(())
    /// ```
    #[must_use]
    pub fn timestamp(&self) -> &str {
        &self.timestamp
    }

    /// The department code, or `None` for `-`.
    ///
    /// # Examples
    /// ```
    /// let p = gemj_ssmix2::StoragePath::parse("900/000/9000000002/-/PPR-01/9000000002_-_PPR-01_000000000000002_20190501100000000_01_1")?;
    /// assert_eq!(p.department(), Some("01"));
    /// # Ok::<(), gemj_ssmix2::PathError>(())
    /// ```
    #[must_use]
    pub fn department(&self) -> Option<&str> {
        self.department.as_deref()
    }

    /// The condition flag.
    ///
    /// # Examples
    /// ```
    /// use gemj_ssmix2::{ConditionFlag, StoragePath};
    /// let p = StoragePath::parse("900/000/9000000001/20240314/OML-11/9000000001_20240314_OML-11_000000000012346_20240314160000000_01_0")?;
    /// assert_eq!(p.flag(), ConditionFlag::Deleted);
    /// # Ok::<(), gemj_ssmix2::PathError>(())
    /// ```
    #[must_use]
    pub fn flag(&self) -> ConditionFlag {
        self.flag
    }

    /// The order this file belongs to: patient, date, kind and order number. Files of one
    /// order replace or delete each other.
    pub(crate) fn order_key(&self) -> (&str, Option<time::Date>, &DataKind, &str) {
        (&self.patient, self.date, &self.kind, &self.order)
    }
}

/// A calendar date from `YYYYMMDD`.
pub(crate) fn calendar_date(s: &str) -> Option<time::Date> {
    if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let year: i32 = s[..4].parse().ok()?;
    let month: u8 = s[4..6].parse().ok()?;
    let day: u8 = s[6..8].parse().ok()?;
    time::Date::from_calendar_date(year, time::Month::try_from(month).ok()?, day).ok()
}

/// Whether `s` is `YYYYMMDDHHMMSSfff` naming a real date and time.
fn valid_timestamp(s: &str) -> bool {
    if s.len() != 17 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let num = |r: std::ops::Range<usize>| s[r].parse::<u8>().ok();
    calendar_date(&s[..8]).is_some()
        && matches!(
            (num(8..10), num(10..12), num(12..14)),
            (Some(h), Some(m), Some(sec)) if h < 24 && m < 60 && sec < 60
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADT: &str =
        "900/000/9000000001/-/ADT-00/9000000001_-_ADT-00_000000000000000_20240301090000000_-_1";

    fn check(path: &str, expect: Result<(), PathError>) {
        assert_eq!(StoragePath::parse(path).map(|_| ()), expect, "{path:?}");
    }

    #[test]
    fn shapes() {
        use PathError as E;
        check(ADT, Ok(()));
        check(&format!("./{ADT}"), Ok(()));
        check(&ADT.replace('/', "\\"), Ok(()));
        check(
            "900/000/9000000001/20240314/OML-11/9000000001_20240314_OML-11_000000000012345_20240314153000000_01_1",
            Ok(()),
        );
        check(
            "900/000/9000000001/20240314/OMD/9000000001_20240314_OMD_000000000012345_20240314153000000_01_1",
            Ok(()),
        );
        check("", Err(E::Parts { found: 1 }));
        check(&format!("standard_root/{ADT}"), Err(E::Parts { found: 7 }));
        check(&format!("/{ADT}"), Err(E::Parts { found: 7 }));
        check(
            "900/000/9000000001/-/ADT-00/",
            Err(E::NameFields { found: 1 }),
        );
        check(
            "900/000/9000000001/-/ADT-00/9000000001_-_ADT-00_000000000000000_20240301090000000_-_1_x",
            Err(E::NameFields { found: 8 }),
        );
        check(
            "900/000/9000000001/-/ADT-00/9000000001_-_ADT-00_000000000000000_20240301090000000_1",
            Err(E::NameFields { found: 6 }),
        );
        check(
            "900/000/90000/-/ADT-00/90000_-_ADT-00_000000000000000_20240301090000000_-_1",
            Err(E::PatientId),
        );
        check(
            "900/000/900000000-/-/ADT-00/900000000-_-_ADT-00_000000000000000_20240301090000000_-_1",
            Err(E::PatientId),
        );
        check(
            "901/000/9000000001/-/ADT-00/9000000001_-_ADT-00_000000000000000_20240301090000000_-_1",
            Err(E::Directory { level: "pid[0:3]" }),
        );
        check(
            "900/000/9000000002/-/ADT-00/9000000001_-_ADT-00_000000000000000_20240301090000000_-_1",
            Err(E::Directory { level: "patient" }),
        );
        check(
            "900/000/9000000001/20240301/ADT-00/9000000001_-_ADT-00_000000000000000_20240301090000000_-_1",
            Err(E::Directory { level: "date" }),
        );
        check(
            "900/000/9000000001/-/PPR-01/9000000001_-_ADT-00_000000000000000_20240301090000000_-_1",
            Err(E::Directory { level: "data kind" }),
        );
        check(
            "900/000/9000000001/20240230/OML-11/9000000001_20240230_OML-11_000000000012345_20240314153000000_01_1",
            Err(E::Date),
        );
        check(
            "900/000/9000000001/2024031/OML-11/9000000001_2024031_OML-11_000000000012345_20240314153000000_01_1",
            Err(E::Date),
        );
        check(
            "900/000/9000000001/-/ADT00/9000000001_-_ADT00_000000000000000_20240301090000000_-_1",
            Err(E::Kind),
        );
        check(
            "900/000/9000000001/-/adt-00/9000000001_-_adt-00_000000000000000_20240301090000000_-_1",
            Err(E::Kind),
        );
        check(
            "900/000/9000000001/-/ADT-00/9000000001_-_ADT-00_00000000000000_20240301090000000_-_1",
            Err(E::Order),
        );
        check(
            "900/000/9000000001/-/ADT-00/9000000001_-_ADT-00_00000000000000-_20240301090000000_-_1",
            Err(E::Order),
        );
        check(
            "900/000/9000000001/-/ADT-00/9000000001_-_ADT-00_000000000000000_2024030109000000_-_1",
            Err(E::Timestamp),
        );
        check(
            "900/000/9000000001/-/ADT-00/9000000001_-_ADT-00_000000000000000_20240301250000000_-_1",
            Err(E::Timestamp),
        );
        check(
            "900/000/9000000001/-/ADT-00/9000000001_-_ADT-00_000000000000000_20240231090000000_-_1",
            Err(E::Timestamp),
        );
        check(
            "900/000/9000000001/-/ADT-00/9000000001_-_ADT-00_000000000000000_20240301090000000__1",
            Err(E::Department),
        );
        check(
            "900/000/9000000001/-/ADT-00/9000000001_-_ADT-00_000000000000000_20240301090000000_内科_1",
            Err(E::Department),
        );
        check(
            "900/000/9000000001/-/ADT-00/9000000001_-_ADT-00_000000000000000_20240301090000000_-_3",
            Err(E::Flag),
        );
        check(
            "900/000/9000000001/-/ADT-00/9000000001_-_ADT-00_000000000000000_20240301090000000_-_",
            Err(E::Flag),
        );
        check(
            "900/000/9000000001/-/ADT-00/9000000001_-_ADT-00_000000000000000_20240301090000000_-_11",
            Err(E::Flag),
        );
        check(
            "日本/000/9000000001/-/ADT-00/9000000001_-_ADT-00_000000000000000_20240301090000000_-_1",
            Err(E::Directory { level: "pid[0:3]" }),
        );
    }

    #[test]
    fn fields() -> Result<(), Box<dyn std::error::Error>> {
        let p = StoragePath::parse(ADT)?;
        assert_eq!(p.patient(), "9000000001");
        assert_eq!(p.date(), None);
        assert_eq!(p.kind().read_kind(), Some(ReadKind::Adt00));
        assert_eq!(p.order(), "000000000000000");
        assert_eq!(p.timestamp(), "20240301090000000");
        assert_eq!(p.department(), None);
        assert_eq!(p.flag(), ConditionFlag::Current);
        Ok(())
    }
}
