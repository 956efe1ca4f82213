//! FHIR `date` and `dateTime` values (FHIR R4 §2.24.0.1 "Primitive Types") as [`PartialDate`]s
//! that keep their precision: `2005` stays a year, and a dateTime becomes its calendar date in
//! its own offset (`2024-03-15T10:30:00+09:00` is 2024-03-15, never shifted to UTC).

use gemj_model::PartialDate;

use crate::notes::Notes;

/// A FHIR `dateTime` read as a date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DateTime {
    /// The date, in the value's own offset, with the precision written.
    pub date: PartialDate,
    /// Whether a time of day (with its zone) followed the date.
    pub has_time: bool,
}

/// Reads a FHIR `date`: `YYYY`, `YYYY-MM` or `YYYY-MM-DD`.
pub(crate) fn date(text: &str) -> Result<PartialDate, &'static str> {
    PartialDate::parse(text).map_err(|_| "not a FHIR date (YYYY, YYYY-MM or YYYY-MM-DD)")
}

/// Reads a FHIR `dateTime` (or `instant`): a `date`, or `YYYY-MM-DDThh:mm:ss[.fff](Z|±hh:mm)`.
pub(crate) fn date_time(text: &str) -> Result<DateTime, &'static str> {
    const BAD: &str = "not a FHIR dateTime (a date, or YYYY-MM-DDThh:mm:ss with a zone)";
    match text.split_once('T') {
        None => date(text).map(|date| DateTime {
            date,
            has_time: false,
        }),
        Some((day, time)) => {
            if day.len() != 10 || !is_time_with_zone(time.as_bytes()) {
                return Err(BAD);
            }
            let date = PartialDate::parse(day).map_err(|_| BAD)?;
            Ok(DateTime {
                date,
                has_time: true,
            })
        }
    }
}

/// Reads a `dateTime` element as a date, with an error diagnostic on `field` when it is not one.
pub(crate) fn date_noted(field: &str, text: &str, notes: &mut Notes<'_>) -> Option<PartialDate> {
    match date_time(text) {
        Ok(d) => Some(d.date),
        Err(why) => {
            notes.error(field, why);
            None
        }
    }
}

/// `hh:mm:ss[.f+](Z|(+|-)hh:mm)` as the R4 `dateTime` pattern allows it (seconds up to 60 for a
/// leap second, offsets up to 14:00).
fn is_time_with_zone(b: &[u8]) -> bool {
    let two = |i: usize, max: u8| -> bool {
        matches!((b.get(i), b.get(i + 1)), (Some(h), Some(l)) if h.is_ascii_digit() && l.is_ascii_digit() && (h - b'0') * 10 + (l - b'0') <= max)
    };
    if !(two(0, 23)
        && b.get(2) == Some(&b':')
        && two(3, 59)
        && b.get(5) == Some(&b':')
        && two(6, 60))
    {
        return false;
    }
    let mut i = 8;
    if b.get(i) == Some(&b'.') {
        let digits = b
            .iter()
            .skip(i + 1)
            .take_while(|c| c.is_ascii_digit())
            .count();
        if digits == 0 {
            return false;
        }
        i += 1 + digits;
    }
    match b.get(i) {
        Some(b'Z') => i + 1 == b.len(),
        Some(b'+' | b'-') => {
            i + 6 == b.len()
                && two(i + 1, 14)
                && b.get(i + 3) == Some(&b':')
                && two(i + 4, 59)
                && (b.get(i + 1..i + 3) != Some(b"14") || b.get(i + 4..i + 6) == Some(b"00"))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gemj_model::Precision;

    fn check(input: &str, expect: Option<(&str, Precision, bool)>) {
        let got = date_time(input)
            .ok()
            .map(|d| (d.date.to_string(), d.date.precision(), d.has_time));
        assert_eq!(
            got.as_ref().map(|(s, p, t)| (s.as_str(), *p, *t)),
            expect,
            "{input:?}"
        );
    }

    #[test]
    fn date_times_keep_precision_and_their_own_day() {
        check("2005", Some(("2005", Precision::Year, false)));
        check("2005-03", Some(("2005-03", Precision::Month, false)));
        check("2024-02-15", Some(("2024-02-15", Precision::Day, false)));
        check(
            "2024-03-15T10:30:00+09:00",
            Some(("2024-03-15", Precision::Day, true)),
        );
        check(
            "2024-03-15T00:30:00+09:00",
            Some(("2024-03-15", Precision::Day, true)),
        );
        check(
            "2024-03-14T23:59:60.123Z",
            Some(("2024-03-14", Precision::Day, true)),
        );
        check(
            "2024-03-14T23:59:59-14:00",
            Some(("2024-03-14", Precision::Day, true)),
        );
        check("2024-03-15T10:30:00", None);
        check("2024-03-15T10:30+09:00", None);
        check("2024-03-15T24:00:00Z", None);
        check("2024-03-15T10:30:00.Z", None);
        check("2024-03-15T10:30:00+14:30", None);
        check("2024-03-15T10:30:00+09:00x", None);
        check("2024-03T10:30:00Z", None);
        check("2024-02-30", None);
        check("", None);
        check("T", None);
        check("２０２４", None);
        check("2024-03-15T１0:30:00Z", None);
    }

    #[test]
    fn dates() -> Result<(), Box<dyn std::error::Error>> {
        assert_eq!(date("1975-04-01")?.to_string(), "1975-04-01");
        assert_eq!(date("1975")?.precision(), Precision::Year);
        assert!(date("1975-04-01T00:00:00Z").is_err());
        Ok(())
    }
}
