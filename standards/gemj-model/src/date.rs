//! Dates that keep their precision. A source that says "2005" means the year 2005, not
//! 2005-01-01: [`PartialDate`] keeps the year, the month or the day exactly as known, and its
//! text form is the ISO 8601 / FHIR `date` form of that precision (`2005`, `2005-03`,
//! `2005-03-14`).

use std::fmt;

use crate::error::ModelError;

/// How much of a date is known.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// Only the year.
    Year,
    /// Year and month.
    Month,
    /// A full calendar date.
    Day,
}

/// A calendar date known to year, month or day precision.
///
/// # Examples
/// ```
/// use gemj_model::{PartialDate, Precision};
/// let d = PartialDate::parse("2005").unwrap();
/// assert_eq!(d.precision(), Precision::Year);
/// assert_eq!(d.to_string(), "2005");
/// assert_eq!(d.first_day().to_string(), "2005-01-01");
/// assert_eq!(d.last_day().to_string(), "2005-12-31");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PartialDate {
    year: i32,
    month: Option<u8>,
    day: Option<u8>,
}

impl PartialDate {
    /// A year-precision date.
    ///
    /// # Errors
    /// When the year is outside 1800..=9999.
    pub fn year(year: i32) -> Result<Self, ModelError> {
        check_year(year)?;
        Ok(Self {
            year,
            month: None,
            day: None,
        })
    }

    /// A month-precision date.
    ///
    /// # Errors
    /// When the year or month is out of range.
    pub fn year_month(year: i32, month: u8) -> Result<Self, ModelError> {
        check_year(year)?;
        if !(1..=12).contains(&month) {
            return Err(ModelError::value(
                "month",
                &month.to_string(),
                "must be 1 to 12",
            ));
        }
        Ok(Self {
            year,
            month: Some(month),
            day: None,
        })
    }

    /// A day-precision date.
    ///
    /// # Errors
    /// When the date does not exist in the Gregorian calendar.
    pub fn ymd(year: i32, month: u8, day: u8) -> Result<Self, ModelError> {
        Self::year_month(year, month)?;
        let m = time::Month::try_from(month)
            .map_err(|_| ModelError::value("month", &month.to_string(), "must be 1 to 12"))?;
        time::Date::from_calendar_date(year, m, day).map_err(|_| {
            ModelError::value(
                "date",
                &format!("{year:04}-{month:02}-{day:02}"),
                "no such day",
            )
        })?;
        Ok(Self {
            year,
            month: Some(month),
            day: Some(day),
        })
    }

    /// A day-precision date from a calendar date.
    ///
    /// # Errors
    /// When the year is outside 1800..=9999.
    pub fn from_date(date: time::Date) -> Result<Self, ModelError> {
        Self::ymd(date.year(), u8::from(date.month()), date.day())
    }

    /// Parses `YYYY`, `YYYY-MM` or `YYYY-MM-DD`.
    ///
    /// # Errors
    /// When the text is none of these forms or names no real date.
    pub fn parse(s: &str) -> Result<Self, ModelError> {
        let bad = |why: &str| ModelError::value("partial date", s, why);
        let parts: Vec<&str> = s.split('-').collect();
        let num = |p: &str, len: usize| -> Result<u32, ModelError> {
            if p.len() != len || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad("expected YYYY, YYYY-MM or YYYY-MM-DD"));
            }
            p.parse::<u32>().map_err(|_| bad("not a number"))
        };
        let year = i32::try_from(num(parts[0], 4)?).map_err(|_| bad("year out of range"))?;
        match parts.len() {
            1 => Self::year(year),
            2 => Self::year_month(
                year,
                u8::try_from(num(parts[1], 2)?).map_err(|_| bad("month"))?,
            ),
            3 => Self::ymd(
                year,
                u8::try_from(num(parts[1], 2)?).map_err(|_| bad("month"))?,
                u8::try_from(num(parts[2], 2)?).map_err(|_| bad("day"))?,
            ),
            _ => Err(bad("expected YYYY, YYYY-MM or YYYY-MM-DD")),
        }
    }

    /// How much of the date is known.
    #[must_use]
    pub fn precision(&self) -> Precision {
        match (self.month, self.day) {
            (None, _) => Precision::Year,
            (Some(_), None) => Precision::Month,
            (Some(_), Some(_)) => Precision::Day,
        }
    }

    /// The year.
    #[must_use]
    pub fn year_value(&self) -> i32 {
        self.year
    }

    /// The first calendar day the date may stand for.
    #[must_use]
    pub fn first_day(&self) -> time::Date {
        let month = time::Month::try_from(self.month.unwrap_or(1)).unwrap_or(time::Month::January);
        time::Date::from_calendar_date(self.year, month, self.day.unwrap_or(1))
            .unwrap_or(time::Date::MIN)
    }

    /// The last calendar day the date may stand for.
    #[must_use]
    pub fn last_day(&self) -> time::Date {
        let month =
            time::Month::try_from(self.month.unwrap_or(12)).unwrap_or(time::Month::December);
        let day = self.day.unwrap_or_else(|| month.length(self.year));
        time::Date::from_calendar_date(self.year, month, day).unwrap_or(time::Date::MAX)
    }
}

fn check_year(year: i32) -> Result<(), ModelError> {
    if (1800..=9999).contains(&year) {
        Ok(())
    } else {
        Err(ModelError::value(
            "year",
            &year.to_string(),
            "must be 1800 to 9999",
        ))
    }
}

impl fmt::Display for PartialDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}", self.year)?;
        if let Some(m) = self.month {
            write!(f, "-{m:02}")?;
        }
        if let Some(d) = self.day {
            write!(f, "-{d:02}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for PartialDate {
    type Err = ModelError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// A year and month, as GeMJ records a participant's birth (never the day).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct YearMonth {
    year: i32,
    month: u8,
}

impl YearMonth {
    /// Builds a year-month.
    ///
    /// # Errors
    /// When the year is outside 1800..=9999 or the month outside 1..=12.
    pub fn new(year: i32, month: u8) -> Result<Self, ModelError> {
        PartialDate::year_month(year, month)?;
        Ok(Self { year, month })
    }

    /// Parses `YYYY-MM`.
    ///
    /// # Errors
    /// When the text is not of that form.
    pub fn parse(s: &str) -> Result<Self, ModelError> {
        let d = PartialDate::parse(s)?;
        match (d.precision(), d.month) {
            (Precision::Month, Some(m)) => Ok(Self {
                year: d.year,
                month: m,
            }),
            _ => Err(ModelError::value("year-month", s, "expected YYYY-MM")),
        }
    }

    /// The year.
    #[must_use]
    pub fn year(&self) -> i32 {
        self.year
    }

    /// The month, 1 to 12.
    #[must_use]
    pub fn month(&self) -> u8 {
        self.month
    }
}

impl fmt::Display for YearMonth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// Makes a date type a JSON string: serialised as its text (`Display`), deserialised through its
/// `parse`, and described to JSON Schema as a string matching `pattern`.
macro_rules! date_as_text {
    ($name:ident, pattern: $pattern:literal, description: $description:literal) => {
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }

        crate::macros::text_schema!($name, pattern: $pattern, description: $description);
    };
}

date_as_text!(
    PartialDate,
    pattern: "^[0-9]{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12][0-9]|3[01]))?)?$",
    description: "A date known to year (YYYY), month (YYYY-MM) or day (YYYY-MM-DD) precision; the precision is kept."
);
date_as_text!(
    YearMonth,
    pattern: "^[0-9]{4}-(0[1-9]|1[0-2])$",
    description: "Year and month (YYYY-MM)."
);

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expect: Option<(&str, Precision)>) {
        let got = PartialDate::parse(input)
            .ok()
            .map(|d| (d.to_string(), d.precision()));
        assert_eq!(
            got.as_ref().map(|(s, p)| (s.as_str(), *p)),
            expect,
            "{input:?}"
        );
    }

    #[test]
    fn parse_keeps_precision() {
        check("2005", Some(("2005", Precision::Year)));
        check("2005-03", Some(("2005-03", Precision::Month)));
        check("1989-01-07", Some(("1989-01-07", Precision::Day)));
        check("2024-02-29", Some(("2024-02-29", Precision::Day)));
        check("2023-02-29", None);
        check("2005-13", None);
        check("05", None);
        check("2005-1-1", None);
        check("2005-01-01T00:00", None);
        check("", None);
        check("1700", None);
    }

    #[test]
    fn bounds_of_a_year() -> Result<(), Box<dyn std::error::Error>> {
        let d = PartialDate::parse("2005")?;
        assert_eq!(d.first_day().to_string(), "2005-01-01");
        assert_eq!(d.last_day().to_string(), "2005-12-31");
        let m = PartialDate::parse("2024-02")?;
        assert_eq!(m.last_day().to_string(), "2024-02-29");
        Ok(())
    }

    #[test]
    fn serde_round_trip() -> Result<(), Box<dyn std::error::Error>> {
        let d: PartialDate = serde_json::from_str("\"2005\"")?;
        assert_eq!(serde_json::to_string(&d)?, "\"2005\"");
        let ym: YearMonth = serde_json::from_str("\"1975-04\"")?;
        assert_eq!(serde_json::to_string(&ym)?, "\"1975-04\"");
        assert!(serde_json::from_str::<YearMonth>("\"1975\"").is_err());
        Ok(())
    }
}
