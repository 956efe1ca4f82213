//! Bytes to text. SS-MIX2 files are ISO-2022-JP as the specification asks (MSH-18 `~ISO IR87`),
//! but some systems write CP932 (Shift_JIS with the NEC and IBM extensions) while still
//! declaring ISO IR87, and newer ones UTF-8.
//!
//! The rule: ESC bytes mean ISO-2022-JP; otherwise MSH-18 `UNICODE UTF-8` means UTF-8; otherwise
//! any byte from 0x80 means CP932; otherwise the text is ASCII. Decoding is WHATWG's, through
//! `encoding_rs`, so the canonical strings are exactly what it produces (JIS 0x215D is U+FF0D
//! FULLWIDTH HYPHEN-MINUS). Malformed bytes become U+FFFD with an error diagnostic.

use std::borrow::Cow;

use encoding_rs::{ISO_2022_JP, SHIFT_JIS, UTF_8};
use gemj_model::source::Diagnostic;

/// The character set a file was decoded from.
///
/// # Examples
/// ```
/// use gemj_ssmix2::{Charset, decode};
/// assert_eq!(decode("f", b"MSH|^~\\&").charset, Charset::Utf8);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Charset {
    /// ISO-2022-JP (JIS X 0208 through escape sequences), as SS-MIX2 specifies.
    Iso2022Jp,
    /// CP932 / Windows-31J, decoded with the WHATWG Shift_JIS decoder.
    Cp932,
    /// UTF-8 (also plain ASCII).
    Utf8,
}

impl Charset {
    /// The name used in diagnostics.
    ///
    /// # Examples
    /// ```
    /// assert_eq!(gemj_ssmix2::Charset::Cp932.name(), "CP932");
    /// ```
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Iso2022Jp => "ISO-2022-JP",
            Self::Cp932 => "CP932",
            Self::Utf8 => "UTF-8",
        }
    }
}

/// Decoded text, the character set it came from, and what was worth telling.
///
/// # Examples
/// ```
/// let decoded = gemj_ssmix2::decode("f", b"MSH|^~\\&\rPID|||||\x1b$B;n83\x1b(B");
/// assert!(decoded.text.ends_with("試験"));
/// assert!(decoded.diagnostics.is_empty());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded<'a> {
    /// The text (borrowed when the bytes were ASCII or UTF-8).
    pub text: Cow<'a, str>,
    /// The character set used.
    pub charset: Charset,
    /// Warnings (a declared character set that does not match the bytes) and errors (malformed
    /// bytes, replaced by U+FFFD).
    pub diagnostics: Vec<Diagnostic>,
}

/// Decodes the bytes of an SS-MIX2 file; `file` names it in diagnostics.
///
/// # Examples
/// ```
/// use gemj_ssmix2::{Charset, decode};
/// let iso = b"MSH|^~\\&|||||||||||||||~ISO IR87\rPID|||||\x1b$B;n83\x1b(B";
/// let decoded = decode("a", iso);
/// assert_eq!(decoded.charset, Charset::Iso2022Jp);
/// assert!(decoded.text.ends_with("試験"));
///
/// let cp932 = b"MSH|^~\\&|||||||||||||||~ISO IR87\rPID|||||\x8e\x8e\x8c\xb1";
/// let decoded = decode("b", cp932);
/// assert_eq!(decoded.charset, Charset::Cp932);
/// assert!(decoded.text.ends_with("試験"));
/// assert_eq!(decoded.diagnostics.len(), 1); // MSH-18 says ISO IR87.
/// ```
#[must_use]
pub fn decode<'a>(file: &str, bytes: &'a [u8]) -> Decoded<'a> {
    let declared = declared_charset(bytes);
    let declares = |name: &[u8]| declared.is_some_and(|d| contains(d, name));
    let declares_utf8 = declares(b"UNICODE UTF-8");
    let mut diagnostics = Vec::new();
    let (text, charset, malformed) = if bytes.contains(&0x1B) {
        if declares_utf8 {
            diagnostics.push(Diagnostic::warning(
                file,
                "MSH",
                "MSH-18",
                "MSH-18 declares UTF-8 but the bytes hold ISO-2022-JP escape sequences; read as ISO-2022-JP",
            ));
        }
        let (text, malformed) = ISO_2022_JP.decode_without_bom_handling(bytes);
        (text, Charset::Iso2022Jp, malformed)
    } else if declares_utf8 || bytes.is_ascii() {
        let (text, malformed) = UTF_8.decode_with_bom_removal(bytes);
        (text, Charset::Utf8, malformed)
    } else {
        let message = if declares(b"ISO IR87") {
            "MSH-18 declares ISO IR87 (ISO-2022-JP) but the bytes have no escape sequences and bytes from 0x80; read as CP932"
        } else {
            "no Japanese character set declared in MSH-18 and bytes from 0x80; read as CP932"
        };
        diagnostics.push(Diagnostic::warning(file, "MSH", "MSH-18", message));
        let (text, malformed) = SHIFT_JIS.decode_without_bom_handling(bytes);
        (text, Charset::Cp932, malformed)
    };
    if malformed {
        diagnostics.push(Diagnostic::error(
            file,
            "",
            "",
            format!("malformed {} bytes were replaced by U+FFFD", charset.name()),
        ));
    }
    Decoded {
        text,
        charset,
        diagnostics,
    }
}

/// MSH-18 of the first segment, read from the raw bytes (the header is ASCII in practice).
fn declared_charset(bytes: &[u8]) -> Option<&[u8]> {
    let line_end = bytes
        .iter()
        .position(|&b| matches!(b, b'\r' | b'\n'))
        .unwrap_or(bytes.len());
    let line = bytes.get(..line_end)?;
    let rest = line.strip_prefix(b"MSH")?;
    let (&separator, _) = rest.split_first()?;
    // Field 0 is the name, field 1 MSH-2, so MSH-18 is field 17.
    line.split(|&b| b == separator).nth(17)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use gemj_model::source::Severity;

    use super::*;

    const HEAD: &str =
        "MSH|^~\\&|HIS|9999999999|GW|GEMJ|20240301090000||ADT^A08^ADT_A01|1|P|2.5||||||";

    fn msg(msh18: &str, tail: &[u8]) -> Vec<u8> {
        let mut v = format!("{HEAD}{msh18}\r").into_bytes();
        v.extend_from_slice(tail);
        v
    }

    fn severities(d: &Decoded<'_>) -> Vec<Severity> {
        d.diagnostics.iter().map(|d| d.severity).collect()
    }

    #[test]
    fn iso_2022_jp() {
        // 東京都 and JIS 0x215D (the dash of the 0001 address).
        let bytes = msg("~ISO IR87", b"PID|\x1b$BEl5~ET!]\x1b(B");
        let d = decode("f", &bytes);
        assert_eq!(d.charset, Charset::Iso2022Jp);
        assert!(d.text.ends_with("PID|東京都\u{FF0D}"));
        assert!(d.diagnostics.is_empty());
    }

    #[test]
    fn cp932_with_iso_ir87_warns() {
        // ４－５ ① in CP932.
        let bytes = msg("~ISO IR87", b"PID|\x82\x53\x81\x7c\x82\x54 \x87\x40");
        let d = decode("f", &bytes);
        assert_eq!(d.charset, Charset::Cp932);
        assert!(d.text.ends_with("PID|４\u{FF0D}５ ①"));
        assert_eq!(severities(&d), [Severity::Warning]);
        assert_eq!(d.diagnostics[0].field.as_deref(), Some("MSH-18"));
    }

    #[test]
    fn cp932_undeclared_warns() {
        let bytes = msg("", b"PID|\x8e\x8e\x8c\xb1");
        let d = decode("f", &bytes);
        assert_eq!(d.charset, Charset::Cp932);
        assert_eq!(severities(&d), [Severity::Warning]);
    }

    #[test]
    fn utf8_declared() {
        let bytes = msg("UNICODE UTF-8", "PID|試験".as_bytes());
        let d = decode("f", &bytes);
        assert_eq!(d.charset, Charset::Utf8);
        assert!(d.text.ends_with("PID|試験"));
        assert!(matches!(d.text, Cow::Borrowed(_)));
        assert!(d.diagnostics.is_empty());
    }

    #[test]
    fn ascii() {
        let bytes = msg("", b"PID|1");
        let d = decode("f", &bytes);
        assert_eq!(d.charset, Charset::Utf8);
        assert!(d.diagnostics.is_empty());
    }

    #[test]
    fn malformed_bytes_are_replaced() {
        let bytes = msg("UNICODE UTF-8", b"PID|\xff\xfe");
        let d = decode("f", &bytes);
        assert!(d.text.ends_with("PID|\u{FFFD}\u{FFFD}"));
        assert_eq!(severities(&d), [Severity::Error]);

        let bytes = msg("~ISO IR87", b"PID|\x1b$B\x21");
        let d = decode("f", &bytes);
        assert_eq!(d.charset, Charset::Iso2022Jp);
        assert!(d.text.contains('\u{FFFD}'));
        assert_eq!(severities(&d), [Severity::Error]);

        let bytes = msg("~ISO IR87", b"PID|\x82");
        let d = decode("f", &bytes);
        assert_eq!(d.charset, Charset::Cp932);
        assert_eq!(severities(&d), [Severity::Warning, Severity::Error]);
    }

    #[test]
    fn escape_with_utf8_declared_warns() {
        let bytes = msg("UNICODE UTF-8", b"PID|\x1b$B;n83\x1b(B");
        let d = decode("f", &bytes);
        assert_eq!(d.charset, Charset::Iso2022Jp);
        assert!(d.text.ends_with("試験"));
        assert_eq!(severities(&d), [Severity::Warning]);
    }

    #[test]
    fn declared_charset_reads_msh_18() {
        assert_eq!(
            declared_charset(&msg("~ISO IR87", b"")),
            Some(&b"~ISO IR87"[..])
        );
        assert_eq!(declared_charset(b"MSH|^~\\&"), None);
        assert_eq!(declared_charset(b""), None);
        assert_eq!(declared_charset(b"PID|1"), None);
        assert_eq!(declared_charset(b"MSH"), None);
    }
}
