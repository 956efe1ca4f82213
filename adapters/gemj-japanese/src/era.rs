//! Japanese-era (和暦) and Gregorian date spellings of Japanese clinical exports, parsed into a
//! [`PartialDate`] that keeps the precision the source gave.
//!
//! Accepted forms (after full-width digits, letters and punctuation are folded to ASCII, and the
//! era ligatures `㍾ ㍽ ㍼ ㍻ ㋿` to their two-kanji names):
//!
//! | Form | Examples |
//! |---|---|
//! | era letter `M T S H R` (either case), or one era kanji `明 大 昭 平 令`, then year, month and day separated by one of `. / -` | `S50.04.01`, `R1/5/7`, `h13-2-3`, `平13.2.3` |
//! | the same with only a year, or a year and a month | `S50`, `R6.03` |
//! | era letter and six digits `YYMMDD` | `H130203` |
//! | era name, year (digits or `元`) `年`, then optional `月` and `日` parts | `令和6年3月18日`, `令和元年5月1日`, `昭和50年` |
//! | receipt-style era number (`1` Meiji … `5` Reiwa) and `YYMMDD` | `3500401` |
//! | Gregorian `YYYY`, `YYYY-MM`, `YYYY-MM-DD` with `-`, `/` or `.` (one kind per date) | `2024/03/15`, `2024.3.15` |
//! | Gregorian `YYYYMMDD` or `YYYY年M月D日` | `20240315`, `2024年3月15日` |
//!
//! Era boundaries are checked: a date outside its era is an error, not silently moved. Shōwa 64
//! is only 1989-01-01..=01-07, Heisei 1 starts 1989-01-08, Heisei 31 ends 2019-04-30, and Reiwa 1
//! starts 2019-05-01. Month and day in Meiji 1–5 (1868–1872) are lunisolar-calendar dates and
//! are refused; a year alone is accepted. A year-precision or month-precision era date is valid
//! when the era covers part of that year or month (`昭和64年` is 1989, `平成31年5月` is not).
//!
//! Times (`2024-03-15T10:30`), two-digit Gregorian years and kanji numerals (`五十年`) are not
//! dates here.
//!
//! # Examples
//! ```
//! use gemj_japanese::era;
//! use gemj_model::Precision;
//! assert_eq!(era::parse("S64.01.07")?.to_string(), "1989-01-07");
//! assert_eq!(era::parse("昭和50年")?.precision(), Precision::Year);
//! assert!(era::parse("S64.01.08").is_err());
//! # Ok::<(), era::ParseError>(())
//! ```

use std::fmt;

use gemj_model::PartialDate;

/// The longest date text accepted, in characters; anything longer is refused unread.
pub const MAX_LEN: usize = 64;

/// A Japanese era (元号) of the modern calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Era {
    /// 明治 Meiji (M), 1868-01-25 to 1912-07-29.
    Meiji,
    /// 大正 Taishō (T), 1912-07-30 to 1926-12-24.
    Taisho,
    /// 昭和 Shōwa (S), 1926-12-25 to 1989-01-07.
    Showa,
    /// 平成 Heisei (H), 1989-01-08 to 2019-04-30.
    Heisei,
    /// 令和 Reiwa (R), from 2019-05-01.
    Reiwa,
}

impl Era {
    /// Every era, oldest first.
    pub const ALL: [Era; 5] = [Era::Meiji, Era::Taisho, Era::Showa, Era::Heisei, Era::Reiwa];

    /// The first Gregorian day of the era.
    ///
    /// Meiji's first day is the Gregorian equivalent of Meiji 1-1-1 of the lunisolar calendar;
    /// Japan used the Gregorian calendar only from Meiji 6 (1873-01-01).
    #[must_use]
    pub const fn first_day(self) -> (i32, u8, u8) {
        match self {
            Era::Meiji => (1868, 1, 25),
            Era::Taisho => (1912, 7, 30),
            Era::Showa => (1926, 12, 25),
            Era::Heisei => (1989, 1, 8),
            Era::Reiwa => (2019, 5, 1),
        }
    }

    /// The last Gregorian day of the era, `None` for the current one.
    #[must_use]
    pub const fn last_day(self) -> Option<(i32, u8, u8)> {
        match self {
            Era::Meiji => Some((1912, 7, 29)),
            Era::Taisho => Some((1926, 12, 24)),
            Era::Showa => Some((1989, 1, 7)),
            Era::Heisei => Some((2019, 4, 30)),
            Era::Reiwa => None,
        }
    }

    /// The era name in kanji (`昭和`).
    #[must_use]
    pub const fn kanji(self) -> &'static str {
        match self {
            Era::Meiji => "明治",
            Era::Taisho => "大正",
            Era::Showa => "昭和",
            Era::Heisei => "平成",
            Era::Reiwa => "令和",
        }
    }

    /// The era's one-letter abbreviation (`S`).
    #[must_use]
    pub const fn letter(self) -> char {
        match self {
            Era::Meiji => 'M',
            Era::Taisho => 'T',
            Era::Showa => 'S',
            Era::Heisei => 'H',
            Era::Reiwa => 'R',
        }
    }

    /// The romanised name (`Shōwa`).
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Era::Meiji => "Meiji",
            Era::Taisho => "Taishō",
            Era::Showa => "Shōwa",
            Era::Heisei => "Heisei",
            Era::Reiwa => "Reiwa",
        }
    }

    /// The Gregorian year of an era year (`Showa` 50 → 1975), without checking the era's end.
    ///
    /// # Examples
    /// ```
    /// use gemj_japanese::era::Era;
    /// assert_eq!(Era::Reiwa.gregorian_year(1), Some(2019));
    /// assert_eq!(Era::Showa.gregorian_year(0), None);
    /// ```
    #[must_use]
    pub fn gregorian_year(self, era_year: u32) -> Option<i32> {
        if era_year == 0 {
            return None;
        }
        let era_year = i32::try_from(era_year).ok()?;
        self.first_day().0.checked_add(era_year - 1)
    }

    fn from_letter(c: char) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|e| e.letter() == c.to_ascii_uppercase())
    }

    fn from_number(c: char) -> Option<Self> {
        let index = c.to_digit(10)?.checked_sub(1)?;
        Self::ALL.get(usize::try_from(index).ok()?).copied()
    }

    fn from_single_kanji(c: char) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.kanji().starts_with(c))
    }

    fn range_text(self) -> String {
        let (y, m, d) = self.first_day();
        match self.last_day() {
            Some((ey, em, ed)) => format!("{y:04}-{m:02}-{d:02} to {ey:04}-{em:02}-{ed:02}"),
            None => format!("from {y:04}-{m:02}-{d:02}"),
        }
    }
}

impl fmt::Display for Era {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.kanji())
    }
}

/// Why a date text is not a date. The message never repeats the text, nor the era year (a
/// birth year is identifying); the variant's fields carry it for callers that may show it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// Nothing but whitespace.
    #[error("empty date")]
    Empty,
    /// Longer than [`MAX_LEN`] characters.
    #[error("date text longer than {MAX_LEN} characters")]
    TooLong,
    /// None of the accepted forms.
    #[error("not a recognised date form (expected e.g. S50.04.01, 令和6年3月18日 or 2024-03-15)")]
    Format,
    /// The form is right but the day, month or year does not exist.
    #[error("no such calendar date")]
    InvalidDate,
    /// An era year, month or day outside the era.
    #[error("the date lies outside the {era} era, which runs {}", .era.range_text())]
    OutOfEra {
        /// The era written.
        era: Era,
        /// The era year written.
        year: u32,
    },
    /// A month or day in Meiji 1–5, before Japan adopted the Gregorian calendar.
    #[error(
        "month and day before Meiji 6 (1873) are lunisolar-calendar dates and are not converted"
    )]
    Lunisolar {
        /// The era written (always Meiji).
        era: Era,
        /// The era year written.
        year: u32,
    },
}

/// Parses a Japanese-era or Gregorian date (see the [module documentation](self) for the forms).
///
/// # Errors
/// [`ParseError`] when the text is none of the forms, names no calendar day, or lies outside its
/// era.
///
/// # Examples
/// ```
/// use gemj_japanese::era::{parse, ParseError};
/// assert_eq!(parse("R1/5/7")?.to_string(), "2019-05-07");
/// assert_eq!(parse("平成31年4月30日")?.to_string(), "2019-04-30");
/// assert_eq!(parse("２０２４／０３／１５")?.to_string(), "2024-03-15");
/// assert!(matches!(parse("H31.05.01"), Err(ParseError::OutOfEra { .. })));
/// # Ok::<(), ParseError>(())
/// ```
pub fn parse(s: &str) -> Result<PartialDate, ParseError> {
    if s.len() > MAX_LEN * 4 {
        return Err(ParseError::TooLong);
    }
    let text = normalise(s);
    if text.chars().count() > MAX_LEN {
        return Err(ParseError::TooLong);
    }
    let text = text.trim();
    if text.is_empty() {
        return Err(ParseError::Empty);
    }
    let parts = split(text)?;
    resolve(&parts)
}

/// A date as written: an era (or Gregorian) year, and the month and day when given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Parts {
    era: Option<Era>,
    year: u32,
    month: Option<u32>,
    day: Option<u32>,
}

/// Folds full-width ASCII, ideographic space and era ligatures.
fn normalise(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\u{FF01}'..='\u{FF5E}' => {
                // Full-width ASCII block: a fixed offset from ASCII.
                out.push(char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c));
            }
            '\u{3000}' => out.push(' '),
            '\u{2010}' | '\u{2011}' | '\u{2012}' | '\u{2013}' | '\u{2212}' => out.push('-'),
            '㍾' => out.push_str("明治"),
            '㍽' => out.push_str("大正"),
            '㍼' => out.push_str("昭和"),
            '㍻' => out.push_str("平成"),
            '㋿' => out.push_str("令和"),
            _ => out.push(c),
        }
    }
    out
}

fn split(text: &str) -> Result<Parts, ParseError> {
    if let Some((era, rest)) = era_prefix(text) {
        let rest = rest.trim_start();
        let (year, month, day) = if rest.contains('年') {
            kanji_form(rest, true)?
        } else {
            short_form(rest)?
        };
        return Ok(Parts {
            era: Some(era),
            year,
            month,
            day,
        });
    }
    if text.len() == 7 && text.bytes().all(|b| b.is_ascii_digit()) {
        let mut chars = text.chars();
        let era = chars
            .next()
            .and_then(Era::from_number)
            .ok_or(ParseError::Format)?;
        let (year, month, day) = compact(chars.as_str())?;
        return Ok(Parts {
            era: Some(era),
            year,
            month,
            day,
        });
    }
    let (year, month, day) = if text.contains('年') {
        kanji_form(text, false)?
    } else {
        gregorian(text)?
    };
    if !(1000..=9999).contains(&year) {
        return Err(ParseError::Format);
    }
    Ok(Parts {
        era: None,
        year,
        month,
        day,
    })
}

fn era_prefix(text: &str) -> Option<(Era, &str)> {
    for era in Era::ALL {
        if let Some(rest) = text.strip_prefix(era.kanji()) {
            return Some((era, rest));
        }
    }
    let mut chars = text.chars();
    let first = chars.next()?;
    let era = if first.is_ascii_alphabetic() {
        Era::from_letter(first)?
    } else {
        Era::from_single_kanji(first)?
    };
    Some((era, chars.as_str()))
}

type Ymd3 = (u32, Option<u32>, Option<u32>);

/// `6年3月18日`, `元年5月`, `2024年3月15日`; spaces allowed around the parts.
fn kanji_form(text: &str, era: bool) -> Result<Ymd3, ParseError> {
    let (year, rest) = text.split_once('年').ok_or(ParseError::Format)?;
    let year = year.trim();
    let year = if era && year == "元" {
        1
    } else {
        number(year, if era { 3 } else { 4 })?
    };
    let rest = rest.trim();
    if rest.is_empty() {
        return Ok((year, None, None));
    }
    let (month, rest) = rest.split_once('月').ok_or(ParseError::Format)?;
    let month = number(month.trim(), 2)?;
    let rest = rest.trim();
    if rest.is_empty() {
        return Ok((year, Some(month), None));
    }
    let day = rest
        .strip_suffix('日')
        .ok_or(ParseError::Format)
        .and_then(|d| number(d.trim(), 2))?;
    Ok((year, Some(month), Some(day)))
}

/// After an era letter: `50.04.01`, `1/5/7`, `50`, `6.03`, `130203`, `元.5.1`.
fn short_form(text: &str) -> Result<Ymd3, ParseError> {
    let sep = text.chars().find(|c| matches!(c, '.' | '/' | '-'));
    let Some(sep) = sep else {
        if text.len() == 6 {
            return compact(text);
        }
        return Ok((era_year(text)?, None, None));
    };
    let parts: Vec<&str> = text.split(sep).collect();
    match parts.as_slice() {
        [y, m] => Ok((era_year(y)?, Some(number(m, 2)?), None)),
        [y, m, d] => Ok((era_year(y)?, Some(number(m, 2)?), Some(number(d, 2)?))),
        _ => Err(ParseError::Format),
    }
}

fn era_year(s: &str) -> Result<u32, ParseError> {
    if s == "元" { Ok(1) } else { number(s, 3) }
}

/// `YYMMDD`.
fn compact(s: &str) -> Result<Ymd3, ParseError> {
    if s.len() != 6 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ParseError::Format);
    }
    Ok((
        number(&s[..2], 2)?,
        Some(number(&s[2..4], 2)?),
        Some(number(&s[4..], 2)?),
    ))
}

/// `YYYY`, `YYYYMMDD`, `YYYY-MM`, `YYYY/M/D`, `YYYY.MM.DD`.
fn gregorian(text: &str) -> Result<Ymd3, ParseError> {
    let sep = text.chars().find(|c| matches!(c, '.' | '/' | '-'));
    let Some(sep) = sep else {
        return match text.len() {
            4 => Ok((number(text, 4)?, None, None)),
            8 if text.bytes().all(|b| b.is_ascii_digit()) => Ok((
                number(&text[..4], 4)?,
                Some(number(&text[4..6], 2)?),
                Some(number(&text[6..], 2)?),
            )),
            _ => Err(ParseError::Format),
        };
    };
    let parts: Vec<&str> = text.split(sep).collect();
    let year = |y: &str| {
        if y.len() == 4 {
            number(y, 4)
        } else {
            Err(ParseError::Format)
        }
    };
    match parts.as_slice() {
        [y, m] => Ok((year(y)?, Some(number(m, 2)?), None)),
        [y, m, d] => Ok((year(y)?, Some(number(m, 2)?), Some(number(d, 2)?))),
        _ => Err(ParseError::Format),
    }
}

/// One to `max` ASCII digits.
fn number(s: &str, max: usize) -> Result<u32, ParseError> {
    if s.is_empty() || s.len() > max || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ParseError::Format);
    }
    s.parse().map_err(|_| ParseError::Format)
}

fn resolve(p: &Parts) -> Result<PartialDate, ParseError> {
    let small = |n: u32| u8::try_from(n).map_err(|_| ParseError::InvalidDate);
    let Some(era) = p.era else {
        let year = i32::try_from(p.year).map_err(|_| ParseError::InvalidDate)?;
        return build(
            year,
            p.month.map(small).transpose()?,
            p.day.map(small).transpose()?,
        );
    };
    let out_of_era = ParseError::OutOfEra { era, year: p.year };
    let Some(year) = era.gregorian_year(p.year) else {
        return Err(out_of_era);
    };
    if era == Era::Meiji && p.year < 6 && p.month.is_some() {
        return Err(ParseError::Lunisolar { era, year: p.year });
    }
    let month = p.month.map(small).transpose()?;
    let day = p.day.map(small).transpose()?;
    let date = build(year, month, day)?;
    let first = era.first_day();
    let last = era.last_day().unwrap_or((i32::MAX, 12, 31));
    let inside = match (month, day) {
        (None, _) => year <= last.0,
        (Some(m), None) => (first.0, first.1) <= (year, m) && (year, m) <= (last.0, last.1),
        (Some(m), Some(d)) => first <= (year, m, d) && (year, m, d) <= last,
    };
    if inside { Ok(date) } else { Err(out_of_era) }
}

fn build(year: i32, month: Option<u8>, day: Option<u8>) -> Result<PartialDate, ParseError> {
    let date = match (month, day) {
        (None, _) => PartialDate::year(year),
        (Some(m), None) => PartialDate::year_month(year, m),
        (Some(m), Some(d)) => PartialDate::ymd(year, m, d),
    };
    date.map_err(|_| ParseError::InvalidDate)
}

#[cfg(test)]
mod tests {
    use super::*;
    use gemj_model::Precision;

    /// `expect` is the canonical text of the date (its precision shows), or `None` for a reject.
    fn check(input: &str, expect: Option<&str>) {
        let got = parse(input).ok().map(|d| d.to_string());
        assert_eq!(got.as_deref(), expect, "{input:?}");
    }

    #[test]
    fn fixture_spellings() {
        check("S50.04.01", Some("1975-04-01"));
        check("S64.01.07", Some("1989-01-07"));
        check("H13.02.03", Some("2001-02-03"));
        check("H31.04.30", Some("2019-04-30"));
        check("R6.03.15", Some("2024-03-15"));
        check("R1/5/7", Some("2019-05-07"));
        check("令和6年3月18日", Some("2024-03-18"));
        check("令和元年5月1日", Some("2019-05-01"));
        check("平成31年4月30日", Some("2019-04-30"));
        check("昭和50年", Some("1975"));
        check("2024/03/15", Some("2024-03-15"));
        check("2024-03-15", Some("2024-03-15"));
        check("2024.03.15", Some("2024-03-15"));
        check("20240315", Some("2024-03-15"));
    }

    #[test]
    fn era_short_forms() {
        check("s50.4.1", Some("1975-04-01"));
        check("S50-04-01", Some("1975-04-01"));
        check("S50/04/01", Some("1975-04-01"));
        check("R06.03.15", Some("2024-03-15"));
        check("R元.5.1", Some("2019-05-01"));
        check("H130203", Some("2001-02-03"));
        check("S50", Some("1975"));
        check("R6.03", Some("2024-03"));
        check("平13.2.3", Some("2001-02-03"));
        check("令6.3.18", Some("2024-03-18"));
        check("昭50.4.1", Some("1975-04-01"));
        check("M45.07.29", Some("1912-07-29"));
        check("T1.07.30", Some("1912-07-30"));
        check("T15.12.24", Some("1926-12-24"));
        check("S1.12.25", Some("1926-12-25"));
        check("M6.01.01", Some("1873-01-01"));
        check(" S50.04.01 ", Some("1975-04-01"));
        check("3500401", Some("1975-04-01"));
        check("4130203", Some("2001-02-03"));
        check("5010501", Some("2019-05-01"));
    }

    #[test]
    fn kanji_forms() {
        check("明治45年7月29日", Some("1912-07-29"));
        check("大正元年7月30日", Some("1912-07-30"));
        check("大正15年", Some("1926"));
        check("昭和元年12月25日", Some("1926-12-25"));
        check("昭和64年1月7日", Some("1989-01-07"));
        check("昭和64年", Some("1989"));
        check("昭和64年1月", Some("1989-01"));
        check("平成元年1月8日", Some("1989-01-08"));
        check("平成元年1月", Some("1989-01"));
        check("平成31年4月", Some("2019-04"));
        check("令和元年5月", Some("2019-05"));
        check("令和元年", Some("2019"));
        check("令和 6年 3月 18日", Some("2024-03-18"));
        check("令和6年03月18日", Some("2024-03-18"));
        check("明治元年", Some("1868"));
        check("2024年3月15日", Some("2024-03-15"));
        check("2024年3月", Some("2024-03"));
        check("2024年", Some("2024"));
    }

    #[test]
    fn full_width_and_ligatures() {
        check("令和６年３月１８日", Some("2024-03-18"));
        check("Ｓ５０．０４．０１", Some("1975-04-01"));
        check("Ｒ１／５／７", Some("2019-05-07"));
        check("２０２４－０３－１５", Some("2024-03-15"));
        check("２０２４０３１５", Some("2024-03-15"));
        check("㍼50年4月1日", Some("1975-04-01"));
        check("㍻31年4月30日", Some("2019-04-30"));
        check("㋿元年5月1日", Some("2019-05-01"));
        check("㍾45年", Some("1912"));
        check("㍽元年", Some("1912"));
        check("\u{3000}R6.3.15\u{3000}", Some("2024-03-15"));
    }

    #[test]
    fn gregorian_forms() {
        check("2024", Some("2024"));
        check("2024-03", Some("2024-03"));
        check("2024/3/5", Some("2024-03-05"));
        check("2024.3.15", Some("2024-03-15"));
        check("2024-02-29", Some("2024-02-29"));
        check("1989-01-07", Some("1989-01-07"));
    }

    #[test]
    fn era_boundaries_are_enforced() {
        check("S64.01.08", None);
        check("S64.02.01", None);
        check("S64年2月", None);
        check("S65", None);
        check("昭和65年", None);
        check("H1.01.07", None);
        check("平成元年1月7日", None);
        check("H31.05.01", None);
        check("平成31年5月", None);
        check("H32", None);
        check("R1.04.30", None);
        check("令和元年4月", None);
        check("令和元年4月30日", None);
        check("T1.07.29", None);
        check("M45.07.30", None);
        check("M46", None);
        check("T15.12.25", None);
        check("T16", None);
        check("S1.12.24", None);
        check("S0.01.01", None);
        check("R0", None);
        check("令和0年", None);
        check("M5.01.01", None);
        check("明治5年12月2日", None);
        check("3640108", None);
    }

    #[test]
    fn rejects() {
        check("", None);
        check("   ", None);
        check("S50.13.01", None);
        check("S50.02.30", None);
        check("2023-02-29", None);
        check("2024-13-01", None);
        check("2024-00-10", None);
        check("2024/03-15", None);
        check("S50.04/01", None);
        check("2024-03-15T10:30:00+09:00", None);
        check("2024-03-15 10:30", None);
        check("24/03/15", None);
        check("240315", None);
        check("202403", None);
        check("2024031", None);
        check("X50.04.01", None);
        check("S", None);
        check("S.04.01", None);
        check("S50..01", None);
        check("S50.04.01.02", None);
        check("S5004", None);
        check("S1234.1.1", None);
        check("昭和五十年", None);
        check("元年5月1日", None);
        check("2024年3月15", None);
        check("令和6年3月18日生", None);
        check("6130203", None);
        check("0130203", None);
        check("1700-01-01", None);
        check("0999", None);
        check("-2024-03-15", None);
        check("+2024", None);
        check("S50.04.01x", None);
        check("R6.3.15.", None);
        check("\u{0}", None);
    }

    #[test]
    fn errors_say_why() {
        assert_eq!(parse(""), Err(ParseError::Empty));
        assert_eq!(parse(&"1".repeat(65)), Err(ParseError::TooLong));
        assert_eq!(parse(&"１".repeat(300)), Err(ParseError::TooLong));
        assert_eq!(parse("hello"), Err(ParseError::Format));
        assert_eq!(parse("2023-02-29"), Err(ParseError::InvalidDate));
        assert_eq!(
            parse("S64.01.08"),
            Err(ParseError::OutOfEra {
                era: Era::Showa,
                year: 64
            })
        );
        assert!(matches!(
            parse("M3.1.1"),
            Err(ParseError::Lunisolar { year: 3, .. })
        ));
        let message = ParseError::OutOfEra {
            era: Era::Heisei,
            year: 32,
        }
        .to_string();
        assert!(message.contains("1989-01-08 to 2019-04-30"), "{message}");
        assert!(!message.contains("32"), "{message}");
    }

    #[test]
    fn precision_is_kept() -> Result<(), Box<dyn std::error::Error>> {
        assert_eq!(parse("昭和50年")?.precision(), Precision::Year);
        assert_eq!(parse("R6.03")?.precision(), Precision::Month);
        assert_eq!(parse("R6.03.15")?.precision(), Precision::Day);
        Ok(())
    }

    #[test]
    fn eras_are_contiguous() {
        for pair in Era::ALL.windows(2) {
            let [older, newer] = pair else { continue };
            let Some(last) = older.last_day() else {
                panic!("{older} has no end");
            };
            let next = PartialDate::ymd(last.0, last.1, last.2)
                .ok()
                .and_then(|d| d.first_day().next_day())
                .map(|d| (d.year(), u8::from(d.month()), d.day()));
            assert_eq!(next, Some(newer.first_day()), "{older} → {newer}");
        }
    }
}
