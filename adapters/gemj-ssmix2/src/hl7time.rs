//! HL7 v2 date and time values (DT, DTM, the first component of TS):
//! `YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ]`. Values without a zone are Japan Standard
//! Time (+09:00), the canonical zone of SS-MIX2 data.

use gemj_model::PartialDate;

/// The offset written when a value has none.
const JST: &str = "+09:00";

/// The parts of an HL7 date/time value.
struct Parts<'a> {
    digits: &'a str,
    fraction: Option<&'a str>,
    zone: Option<(char, &'a str)>,
}

fn split(s: &str) -> Option<Parts<'_>> {
    let digits_end = s
        .bytes()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(s.len());
    let (digits, mut rest) = s.split_at(digits_end);
    let mut fraction = None;
    if let Some(after) = rest.strip_prefix('.') {
        let end = after
            .bytes()
            .position(|b| !b.is_ascii_digit())
            .unwrap_or(after.len());
        if digits.len() != 14 || !(1..=4).contains(&end) {
            return None;
        }
        fraction = Some(&after[..end]);
        rest = &after[end..];
    }
    let zone = match rest.chars().next() {
        None => None,
        Some(sign @ ('+' | '-')) => {
            let z = &rest[1..];
            if z.len() != 4 || !z.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let hours: u8 = z[..2].parse().ok()?;
            let minutes: u8 = z[2..].parse().ok()?;
            if hours > 23 || minutes > 59 {
                return None;
            }
            Some((sign, z))
        }
        Some(_) => return None,
    };
    Some(Parts {
        digits,
        fraction,
        zone,
    })
}

fn two(s: &str, at: usize) -> Option<u8> {
    s.get(at..at + 2)?.parse().ok()
}

/// Whether the hour, minute and second digits after the date (if any) name a real time.
fn valid_time(digits: &str) -> bool {
    let hour = digits.len() < 10 || two(digits, 8).is_some_and(|h| h < 24);
    let minute = digits.len() < 12 || two(digits, 10).is_some_and(|m| m < 60);
    let second = digits.len() < 14 || two(digits, 12).is_some_and(|s| s < 60);
    hour && minute && second
}

/// A date with the precision the value has: `2005` stays a year, `200503` a month, and
/// anything from `YYYYMMDD` on a day (a time of day is dropped).
pub(crate) fn partial_date(s: &str) -> Option<PartialDate> {
    let p = split(s)?;
    let d = p.digits;
    let year = || d.get(..4)?.parse::<i32>().ok();
    match d.len() {
        4 => PartialDate::year(year()?).ok(),
        6 => PartialDate::year_month(year()?, two(d, 4)?).ok(),
        8 | 10 | 12 | 14 if valid_time(d) => PartialDate::ymd(year()?, two(d, 4)?, two(d, 6)?).ok(),
        _ => None,
    }
}

/// An RFC 3339 date-time (`2024-03-14T09:00:00+09:00`) for a value with at least an hour, or
/// an RFC 3339 full-date (`2024-03-14`) for a day. Missing minutes and seconds are written as
/// zero; a value without a zone gets +09:00.
pub(crate) fn rfc3339(s: &str) -> Option<String> {
    let p = split(s)?;
    let d = p.digits;
    if !matches!(d.len(), 8 | 10 | 12 | 14) || !valid_time(d) {
        return None;
    }
    let date = partial_date(&d[..8])?;
    if d.len() == 8 {
        return (p.zone.is_none()).then(|| date.to_string());
    }
    let minute = if d.len() >= 12 { &d[10..12] } else { "00" };
    let second = if d.len() >= 14 { &d[12..14] } else { "00" };
    let mut out = format!("{date}T{}:{minute}:{second}", &d[8..10]);
    if let Some(f) = p.fraction {
        out.push('.');
        out.push_str(f);
    }
    match p.zone {
        Some((sign, z)) => {
            out.push(sign);
            out.push_str(&z[..2]);
            out.push(':');
            out.push_str(&z[2..]);
        }
        None => out.push_str(JST),
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(input: &str, expect: Option<&str>) {
        let got = partial_date(input).map(|d| d.to_string());
        assert_eq!(got.as_deref(), expect, "{input:?}");
    }

    fn time(input: &str, expect: Option<&str>) {
        assert_eq!(rfc3339(input).as_deref(), expect, "{input:?}");
    }

    #[test]
    fn partial_dates() {
        date("2005", Some("2005"));
        date("200503", Some("2005-03"));
        date("20240215", Some("2024-02-15"));
        date("19890107", Some("1989-01-07"));
        date("20240220101500", Some("2024-02-20"));
        date("2024022010", Some("2024-02-20"));
        date("20240220+0900", Some("2024-02-20"));
        date("20240230", None);
        date("200513", None);
        date("205", None);
        date("2024022", None);
        date("20240220251500", None);
        date("", None);
        date("1700", None);
        date("２００５", None);
        date("2005-03", None);
        date("20240220.5", None);
    }

    #[test]
    fn date_times() {
        time("20240314090000", Some("2024-03-14T09:00:00+09:00"));
        time("202403140900", Some("2024-03-14T09:00:00+09:00"));
        time("2024031409", Some("2024-03-14T09:00:00+09:00"));
        time("20240314", Some("2024-03-14"));
        time("20240314090000.12", Some("2024-03-14T09:00:00.12+09:00"));
        time("20240314090000+0000", Some("2024-03-14T09:00:00+00:00"));
        time("20240314090000-0500", Some("2024-03-14T09:00:00-05:00"));
        time(
            "20240314090000.1234+0900",
            Some("2024-03-14T09:00:00.1234+09:00"),
        );
        time("20240314+0900", None);
        time("202403", None);
        time("2024", None);
        time("20240314240000", None);
        time("20240314096000", None);
        time("20240314090060", None);
        time("20240314090000.", None);
        time("20240314090000.12345", None);
        time("202403140900.5", None);
        time("20240314090000+9", None);
        time("20240314090000+2400", None);
        time("20240314090000Z", None);
        time("20240314 090000", None);
    }
}
