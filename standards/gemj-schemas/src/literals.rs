//! JSON number literals as they were written.
//!
//! serde_json (built without `arbitrary_precision`, which would change number handling in every
//! crate) keeps a number as an `f64`, so the digits a sender wrote are lost once a document is
//! parsed: `6.10` reads back as `6.1`. Standards that give a decimal's written digits a meaning
//! (FHIR: "the precision of the decimal value has significance") read them here, from the bytes.

/// Every number literal in JSON bytes, outside strings, in document order.
///
/// The bytes are not checked: on a document that is not JSON the list means nothing, so read it
/// only beside a successful parse of the same bytes.
///
/// # Examples
///
/// ```
/// let raw = br#"{"a": 6.10, "b": "1.50", "c": [-0.0, 1E5]}"#;
/// assert_eq!(gemj_schemas::literals::numbers(raw), ["6.10", "-0.0", "1E5"]);
/// ```
#[must_use]
pub fn numbers(raw: &[u8]) -> Vec<&str> {
    let mut out = Vec::new();
    let mut i = 0;
    let mut in_string = false;
    while i < raw.len() {
        let b = raw[i];
        if in_string {
            match b {
                b'\\' => i += 1,
                b'"' => in_string = false,
                _ => {}
            }
            i += 1;
            continue;
        }
        if b == b'"' {
            in_string = true;
            i += 1;
            continue;
        }
        if b == b'-' || b.is_ascii_digit() {
            let start = i;
            while i < raw.len() && matches!(raw[i], b'0'..=b'9' | b'.' | b'-' | b'+' | b'e' | b'E')
            {
                i += 1;
            }
            // Only ASCII bytes were taken, so the slice is UTF-8.
            if let Ok(literal) = std::str::from_utf8(&raw[start..i]) {
                out.push(literal);
            }
            continue;
        }
        i += 1;
    }
    out
}

/// The significant digits of a number literal's mantissa (`0.00120` → 3, `-1e300` → 1).
#[must_use]
pub fn significant_digits(literal: &str) -> usize {
    let mantissa = literal.split(['e', 'E']).next().unwrap_or(literal);
    mantissa
        .bytes()
        .filter(u8::is_ascii_digit)
        .skip_while(|d| *d == b'0')
        .count()
        .max(1)
}

/// Whether `text` is one JSON number literal (RFC 8259 §6) that an `f64` holds finite: the
/// check before written digits are sent on as they are.
///
/// # Examples
///
/// ```
/// use gemj_schemas::literals::is_number;
/// assert!(is_number("6.10") && is_number("-0.5") && is_number("1E5"));
/// assert!(!is_number("+1") && !is_number(".5") && !is_number("1.") && !is_number(" 1"));
/// assert!(!is_number("1e400") && !is_number("NaN") && !is_number("0x10"));
/// ```
#[must_use]
pub fn is_number(text: &str) -> bool {
    let b = text.as_bytes();
    let mut i = usize::from(b.first() == Some(&b'-'));
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => {
            digits(&mut i);
        }
        _ => return false,
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len() && text.parse::<f64>().is_ok_and(f64::is_finite)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_inside_strings_and_escapes_are_skipped() {
        let raw = br#"{"a\"1.5": "x\\", "b": [2.50, -3], "c": "4.0"}"#;
        assert_eq!(numbers(raw), ["2.50", "-3"]);
        assert_eq!(numbers(b""), Vec::<&str>::new());
    }

    #[test]
    fn significant_digits_ignore_leading_zeros_and_the_exponent() {
        assert_eq!(significant_digits("1.50"), 3);
        assert_eq!(significant_digits("0.000012345678901234567"), 17);
        assert_eq!(significant_digits("-1e300"), 1);
        assert_eq!(significant_digits("0"), 1);
    }

    #[test]
    fn only_json_literals_are_numbers() {
        for ok in [
            "0",
            "-0",
            "0.0",
            "61.0",
            "6.10",
            "1e5",
            "1E-5",
            "-2.5e+3",
            "123456789",
        ] {
            assert!(is_number(ok), "{ok}");
        }
        for bad in [
            "", "-", "01", "1.", ".1", "+1", "1e", "1e+", "--1", "1.0.0", "1 ", "Infinity", "1e999",
        ] {
            assert!(!is_number(bad), "{bad:?}");
        }
    }
}
