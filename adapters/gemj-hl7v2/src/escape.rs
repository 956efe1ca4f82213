//! Escape sequences in field text (HL7 v2.5 §2.7): replaced on access, never at parse time.

use std::borrow::Cow;

use crate::Delimiters;
use crate::delimiters::{COMPONENT, ESCAPE, FIELD, REPETITION, SUBCOMPONENT, TRUNCATION};

/// Replaces the escape sequences of `raw`, borrowing when there are none.
///
/// `\F\ \S\ \T\ \R\ \E\` become the field, component, subcomponent, repetition and escape
/// characters, `\P\` the truncation character, `\.br\` a line feed, and `\Xhh…\` the bytes it
/// spells (read as UTF-8; invalid bytes become U+FFFD, since the text was decoded before
/// parsing). Any other sequence (`\H\`, `\N\`, `\Cxxyy\`, `\Zxx\`, formatting commands other
/// than `.br`), a malformed one, and an escape character without its closing partner are kept
/// as written.
///
/// # Examples
/// ```
/// use gemj_hl7v2::{Delimiters, unescape};
/// let d = Delimiters::default();
/// assert_eq!(unescape(r"A\S\B\T\C\F\D\R\E\E\", &d), "A^B&C|D~E\\");
/// assert_eq!(unescape(r"line 1\.br\line 2", &d), "line 1\nline 2");
/// assert_eq!(unescape(r"\X0D0A\", &d), "\r\n");
/// assert_eq!(unescape(r"\H\bold\N\", &d), r"\H\bold\N\");
/// assert!(matches!(unescape("plain", &d), std::borrow::Cow::Borrowed("plain")));
/// ```
#[must_use]
pub fn unescape<'a>(raw: &'a str, delimiters: &Delimiters) -> Cow<'a, str> {
    let Some(esc) = delimiters.get(ESCAPE) else {
        return Cow::Borrowed(raw);
    };
    let Some(first) = find(raw, esc, 0) else {
        return Cow::Borrowed(raw);
    };
    let mut out = String::with_capacity(raw.len());
    out.push_str(&raw[..first]);
    let mut at = first;
    // Invariant: `at` is the index of an escape character; each turn moves past it.
    loop {
        let Some(close) = find(raw, esc, at + 1) else {
            out.push_str(&raw[at..]);
            break;
        };
        let sequence = &raw[at + 1..close];
        if !replace(sequence, delimiters, &mut out) {
            out.push_str(&raw[at..=close]);
        }
        let next = close + 1;
        match find(raw, esc, next) {
            Some(i) => {
                out.push_str(&raw[next..i]);
                at = i;
            }
            None => {
                out.push_str(&raw[next..]);
                break;
            }
        }
    }
    Cow::Owned(out)
}

/// Appends what `sequence` (the text between two escape characters) stands for; false when it
/// is not one this crate replaces.
fn replace(sequence: &str, d: &Delimiters, out: &mut String) -> bool {
    let byte = match sequence {
        "F" => d.get(FIELD),
        "S" => d.get(COMPONENT),
        "T" => d.get(SUBCOMPONENT),
        "R" => d.get(REPETITION),
        "E" => d.get(ESCAPE),
        "P" => d.get(TRUNCATION),
        ".br" => Some(b'\n'),
        _ => None,
    };
    if let Some(b) = byte {
        out.push(char::from(b));
        return true;
    }
    match sequence.strip_prefix('X') {
        Some(hex) => match hex_bytes(hex) {
            Some(bytes) => {
                out.push_str(&String::from_utf8_lossy(&bytes));
                true
            }
            None => false,
        },
        None => false,
    }
}

/// The bytes of an even-length run of hexadecimal digits.
fn hex_bytes(hex: &str) -> Option<Vec<u8>> {
    let h = hex.as_bytes();
    if !h.len().is_multiple_of(2) {
        return None;
    }
    h.chunks_exact(2)
        .map(|pair| Some((nibble(pair[0])? << 4) | nibble(pair[1])?))
        .collect()
}

fn nibble(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The index of the first `byte` at or after `from`.
#[inline]
pub(crate) fn find(s: &str, byte: u8, from: usize) -> Option<usize> {
    s.as_bytes()
        .get(from..)?
        .iter()
        .position(|&b| b == byte)
        .map(|i| i + from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(raw: &str, expect: &str) {
        assert_eq!(unescape(raw, &Delimiters::default()), expect, "{raw:?}");
    }

    #[test]
    fn sequences() {
        check("", "");
        check("no escapes", "no escapes");
        check(r"\F\", "|");
        check(r"\S\", "^");
        check(r"\T\", "&");
        check(r"\R\", "~");
        check(r"\E\", "\\");
        check(r"a\E\\E\b", "a\\\\b");
        check(r"\.br\", "\n");
        check(r"\P\", r"\P\");
        check(r"\X41\", "A");
        check(r"\Xe697a5\", "日");
        check(r"\XFF\", "\u{FFFD}");
        check(r"\X4\", r"\X4\");
        check(r"\XZZ\", r"\XZZ\");
        check(r"\X\", "");
        check(r"\\", r"\\");
        check(r"open \S", r"open \S");
        check(r"\", r"\");
        check(r"\S\\", "^\\");
        check(r"日本\S\語", "日本^語");
        check(r"\H\強調\N\", r"\H\強調\N\");
        check(r"\Zlocal\", r"\Zlocal\");
        check(r"\.sp\", r"\.sp\");
        check(r"a\S\b\S\c", "a^b^c");
    }

    #[test]
    fn custom_delimiters() -> Result<(), Box<dyn std::error::Error>> {
        let d = Delimiters::new('#', "*!/$%")?;
        assert_eq!(unescape("/F//S//T//R//E//P/", &d), "#*$!/%");
        let no_escape = Delimiters::new('|', "^~")?;
        assert_eq!(unescape(r"\S\", &no_escape), r"\S\");
        Ok(())
    }
}
