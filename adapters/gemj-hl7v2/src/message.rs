//! A parsed message: the text, its delimiters, and an index of segments and fields built in one
//! pass. Repetitions, components and subcomponents are split when asked for.

use std::borrow::Cow;

use crate::delimiters::present;
use crate::{Delimiters, Error, Field, Location};

/// A field's place in the text (byte offsets `start..end`) and which delimiters occur in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    start: u32,
    end: u32,
    flags: u8,
}

/// A segment's place in the text and in the field index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SegmentIndex {
    start: u32,
    end: u32,
    name_end: u32,
    first_field: u32,
    field_count: u32,
    header: bool,
}

/// An HL7 v2.x message over decoded text, borrowing from it.
///
/// Segments are separated by CR (the standard), LF or CRLF; empty lines are skipped. The first
/// segment must be `MSH` (or a batch header `BHS`/`FHS`), whose fourth character is the field
/// separator and whose MSH-2 gives the other delimiters. In every header segment, field 1 is the
/// field separator itself and field 2 the encoding characters, as HL7 numbers them, so MSH-9 is
/// the message type. Parsing is one pass over the text and allocates an index of at most one
/// entry per byte; it never fails on a segment's content.
///
/// # Examples
/// ```
/// use gemj_hl7v2::Message;
/// let text = "MSH|^~\\&|HIS|9999999999|GW|GEMJ|20240314153000||OUL^R22^OUL_R22|1|P|2.5\r\
///             PID|0001||9000000001^^^^PI\r\
///             OBX|1|NM|3A015000002327101^アルブミン^JC10||3.2|g/dL^g/dL^ISO+|3.7-5.5|L|||F\r";
/// let message = Message::parse(text)?;
/// assert_eq!(message.get(&"MSH-9.1".parse()?).as_deref(), Some("OUL"));
/// let obx = message.segment("OBX").unwrap();
/// assert_eq!(obx.field(5).unwrap().value(), "3.2");
/// assert_eq!(obx.field(3).unwrap().component(2).unwrap().value(), "アルブミン");
/// # Ok::<(), gemj_hl7v2::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Message<'a> {
    text: &'a str,
    delimiters: Delimiters,
    segments: Vec<SegmentIndex>,
    fields: Vec<Span>,
}

const HEADERS: [&[u8]; 3] = [b"MSH", b"BHS", b"FHS"];

impl<'a> Message<'a> {
    /// Parses a message.
    ///
    /// # Errors
    /// [`Error::Empty`] when there is no segment, [`Error::MissingHeader`] when the first
    /// segment is not a header, [`Error::InvalidFieldSeparator`] and
    /// [`Error::InvalidEncodingCharacters`] for unusable delimiters, [`Error::TooLarge`] beyond
    /// 4 GiB.
    ///
    /// # Examples
    /// ```
    /// use gemj_hl7v2::{Error, Message};
    /// let message = Message::parse("MSH|^~\\&|A\r\nEVN||20240301090000\n")?;
    /// assert_eq!(message.segments().count(), 2);
    /// assert!(matches!(Message::parse("MSH1^~\\&"), Err(Error::InvalidFieldSeparator('1'))));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn parse(text: &'a str) -> Result<Self, Error> {
        let too_large = || Error::TooLarge { len: text.len() };
        u32::try_from(text.len()).map_err(|_| too_large())?;
        let bytes = text.as_bytes();
        let start = bytes
            .iter()
            .position(|&b| !matches!(b, b'\r' | b'\n'))
            .ok_or(Error::Empty)?;
        let head = &text[start..];
        if !HEADERS.iter().any(|h| head.as_bytes().starts_with(h)) {
            return Err(Error::MissingHeader);
        }
        let field_char = head[3..].chars().next().ok_or(Error::MissingHeader)?;
        if matches!(field_char, '\r' | '\n') {
            return Err(Error::MissingHeader);
        }
        // Only an ASCII separator may be searched for byte by byte: U+0080..U+00FF would match
        // UTF-8 continuation bytes.
        let separator = u8::try_from(field_char)
            .ok()
            .filter(u8::is_ascii)
            .ok_or(Error::InvalidFieldSeparator(field_char))?;
        let after = &head[4..];
        let encoding_end = after
            .bytes()
            .position(|b| matches!(b, b'\r' | b'\n') || b == separator)
            .unwrap_or(after.len());
        let delimiters = Delimiters::new(field_char, &after[..encoding_end])?;
        let (segments, fields) = index(bytes, start, &delimiters);
        Ok(Self {
            text,
            delimiters,
            segments,
            fields,
        })
    }

    /// The text the message was parsed from.
    ///
    /// # Examples
    /// ```
    /// let m = gemj_hl7v2::Message::parse("MSH|^~\\&")?;
    /// assert_eq!(m.as_str(), "MSH|^~\\&");
    /// # Ok::<(), gemj_hl7v2::Error>(())
    /// ```
    #[inline]
    #[must_use]
    pub fn as_str(&self) -> &'a str {
        self.text
    }

    /// The delimiters declared in MSH-1 and MSH-2.
    ///
    /// # Examples
    /// ```
    /// let m = gemj_hl7v2::Message::parse("MSH#*!/$")?;
    /// assert_eq!(m.delimiters().field(), '#');
    /// assert_eq!(m.delimiters().component(), '*');
    /// # Ok::<(), gemj_hl7v2::Error>(())
    /// ```
    #[inline]
    #[must_use]
    pub fn delimiters(&self) -> &Delimiters {
        &self.delimiters
    }

    /// How many segments the message has.
    ///
    /// # Examples
    /// ```
    /// let m = gemj_hl7v2::Message::parse("MSH|^~\\&\rPID|1\r\rPV1|1\r")?;
    /// assert_eq!(m.segment_count(), 3);
    /// # Ok::<(), gemj_hl7v2::Error>(())
    /// ```
    #[inline]
    #[must_use]
    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// The segments, in order.
    ///
    /// # Examples
    /// ```
    /// let m = gemj_hl7v2::Message::parse("MSH|^~\\&\rPID|1\rPV1|1")?;
    /// let names: Vec<_> = m.segments().map(|s| s.name()).collect();
    /// assert_eq!(names, ["MSH", "PID", "PV1"]);
    /// # Ok::<(), gemj_hl7v2::Error>(())
    /// ```
    #[inline]
    #[must_use]
    pub fn segments(&self) -> Segments<'_, 'a> {
        Segments {
            message: self,
            next: 0,
        }
    }

    /// The segments with this name, in order.
    ///
    /// # Examples
    /// ```
    /// let m = gemj_hl7v2::Message::parse("MSH|^~\\&\rOBX|1\rNTE|1\rOBX|2")?;
    /// let ids: Vec<_> = m.segments_named("OBX").map(|s| s.field(1).unwrap().as_str()).collect();
    /// assert_eq!(ids, ["1", "2"]);
    /// # Ok::<(), gemj_hl7v2::Error>(())
    /// ```
    pub fn segments_named<'m>(&'m self, name: &'m str) -> impl Iterator<Item = Segment<'m, 'a>> {
        self.segments().filter(move |s| s.name() == name)
    }

    /// The first segment with this name.
    ///
    /// # Examples
    /// ```
    /// let m = gemj_hl7v2::Message::parse("MSH|^~\\&\rPID|1")?;
    /// assert!(m.segment("PID").is_some());
    /// assert!(m.segment("PV1").is_none());
    /// # Ok::<(), gemj_hl7v2::Error>(())
    /// ```
    #[must_use]
    pub fn segment(&self, name: &str) -> Option<Segment<'_, 'a>> {
        self.segments().find(|s| s.name() == name)
    }

    /// The segment at `index` (from 0, in message order).
    ///
    /// # Examples
    /// ```
    /// let m = gemj_hl7v2::Message::parse("MSH|^~\\&\rPID|1")?;
    /// assert_eq!(m.segment_at(1).unwrap().name(), "PID");
    /// assert!(m.segment_at(2).is_none());
    /// # Ok::<(), gemj_hl7v2::Error>(())
    /// ```
    #[inline]
    #[must_use]
    pub fn segment_at(&self, index: usize) -> Option<Segment<'_, 'a>> {
        let entry = self.segments.get(index)?;
        Some(Segment {
            message: self,
            entry: *entry,
        })
    }

    /// The unescaped value at a location, or `None` when the message does not have it. A
    /// location without a component addresses a whole repetition (the first one by default).
    ///
    /// # Examples
    /// ```
    /// use gemj_hl7v2::{Location, Message};
    /// let m = Message::parse("MSH|^~\\&\rPID|1||||試験^太郎~シケン^タロウ\rOBX|1\rOBX|2|NM")?;
    /// assert_eq!(m.get(&"PID-5[2].1".parse()?).as_deref(), Some("シケン"));
    /// assert_eq!(m.get(&"OBX[2]-2".parse()?).as_deref(), Some("NM"));
    /// assert_eq!(m.get(&Location::new("PID", 5).component(2)).as_deref(), Some("太郎"));
    /// assert_eq!(m.get(&"PID-9".parse()?), None);
    /// # Ok::<(), gemj_hl7v2::Error>(())
    /// ```
    #[inline]
    #[must_use]
    pub fn get(&self, location: &Location) -> Option<Cow<'a, str>> {
        let segment = self
            .segments_named(location.segment_name())
            .nth(location.segment_occurrence().checked_sub(1)?)?;
        let repetition = segment
            .field(location.field_number())?
            .repetition(location.repetition_number())?;
        let Some(c) = location.component_number() else {
            return Some(repetition.value());
        };
        let component = repetition.component(c)?;
        match location.subcomponent_number() {
            None => Some(component.value()),
            Some(s) => Some(component.subcomponent(s)?.value()),
        }
    }
}

/// Builds the segment and field index in one pass from `start`, the first byte of the header.
///
/// One table lookup per byte classifies it; only separators, line breaks and the encoding
/// characters take a branch. Each field records which encoding characters it holds, so that
/// later splitting and unescaping skip the fields that hold none.
fn index(bytes: &[u8], start: usize, delimiters: &Delimiters) -> (Vec<SegmentIndex>, Vec<Span>) {
    let class = delimiters.byte_classes();
    let mut segments = Vec::with_capacity(bytes.len() / 64 + 1);
    let mut fields = Vec::with_capacity(bytes.len() / 8 + 1);
    // Offsets fit in u32: `Message::parse` refused longer texts.
    let at = |i: usize| u32::try_from(i).unwrap_or(u32::MAX);
    let mut i = start;
    while i < bytes.len() {
        if class[usize::from(bytes[i])] == present::LINE {
            i += 1;
            continue;
        }
        let seg_start = i;
        let first_field = fields.len();
        let mut name_end = None;
        let mut header = false;
        let mut field_start = i;
        let mut flags = 0_u8;
        while i < bytes.len() {
            let c = class[usize::from(bytes[i])];
            if c != 0 {
                if c == present::FIELD {
                    match name_end {
                        None => {
                            name_end = Some(i);
                            header = HEADERS.contains(&&bytes[seg_start..i]);
                            if header {
                                // MSH-1 is the separator itself.
                                fields.push(Span {
                                    start: at(i),
                                    end: at(i + 1),
                                    flags: 0,
                                });
                            }
                        }
                        Some(_) => {
                            // MSH-2 (the second field of a header) is never split.
                            let literal = header && fields.len() == first_field + 1;
                            fields.push(Span {
                                start: at(field_start),
                                end: at(i),
                                flags: if literal { 0 } else { flags },
                            });
                        }
                    }
                    field_start = i + 1;
                    flags = 0;
                } else if c == present::LINE {
                    break;
                } else {
                    flags |= c;
                }
            }
            i += 1;
        }
        let name_end = match name_end {
            Some(n) => {
                let literal = header && fields.len() == first_field + 1;
                fields.push(Span {
                    start: at(field_start),
                    end: at(i),
                    flags: if literal { 0 } else { flags },
                });
                n
            }
            None => i,
        };
        segments.push(SegmentIndex {
            start: at(seg_start),
            end: at(i),
            name_end: at(name_end),
            first_field: at(first_field),
            field_count: at(fields.len() - first_field),
            header: HEADERS.contains(&&bytes[seg_start..name_end]),
        });
    }
    (segments, fields)
}

/// Iterator over the segments of a message.
///
/// # Examples
/// ```
/// let m = gemj_hl7v2::Message::parse("MSH|^~\\&\rPID|1")?;
/// assert_eq!(m.segments().len(), 2);
/// # Ok::<(), gemj_hl7v2::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Segments<'m, 'a> {
    message: &'m Message<'a>,
    next: usize,
}

impl<'m, 'a> Iterator for Segments<'m, 'a> {
    type Item = Segment<'m, 'a>;

    #[inline]
    fn next(&mut self) -> Option<Segment<'m, 'a>> {
        let entry = *self.message.segments.get(self.next)?;
        self.next += 1;
        Some(Segment {
            message: self.message,
            entry,
        })
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.message.segments.len().saturating_sub(self.next);
        (left, Some(left))
    }
}

impl ExactSizeIterator for Segments<'_, '_> {}

/// One segment of a message: a name and numbered fields.
///
/// # Examples
/// ```
/// let m = gemj_hl7v2::Message::parse("MSH|^~\\&|HIS|9999999999\rPID|0001||9000000001^^^^PI")?;
/// let msh = m.segment("MSH").unwrap();
/// assert_eq!(msh.field(1).unwrap().as_str(), "|");
/// assert_eq!(msh.field(4).unwrap().as_str(), "9999999999");
/// let pid = m.segment("PID").unwrap();
/// assert_eq!(pid.field(3).unwrap().component(1).unwrap().as_str(), "9000000001");
/// # Ok::<(), gemj_hl7v2::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Segment<'m, 'a> {
    message: &'m Message<'a>,
    entry: SegmentIndex,
}

impl<'a> Segment<'_, 'a> {
    /// The segment name (`PID`): the text before the first field separator.
    ///
    /// # Examples
    /// ```
    /// let m = gemj_hl7v2::Message::parse("MSH|^~\\&\rZXY|1")?;
    /// assert_eq!(m.segment_at(1).unwrap().name(), "ZXY");
    /// # Ok::<(), gemj_hl7v2::Error>(())
    /// ```
    #[inline]
    #[must_use]
    pub fn name(&self) -> &'a str {
        let text = self.message.text;
        text.get(self.entry.start as usize..self.entry.name_end as usize)
            .unwrap_or("")
    }

    /// The whole segment as written, without its line break.
    ///
    /// # Examples
    /// ```
    /// let m = gemj_hl7v2::Message::parse("MSH|^~\\&\rPID|1||X\r")?;
    /// assert_eq!(m.segment("PID").unwrap().as_str(), "PID|1||X");
    /// # Ok::<(), gemj_hl7v2::Error>(())
    /// ```
    #[inline]
    #[must_use]
    pub fn as_str(&self) -> &'a str {
        let text = self.message.text;
        text.get(self.entry.start as usize..self.entry.end as usize)
            .unwrap_or("")
    }

    /// How many fields the segment has (for `MSH`, counting MSH-1).
    ///
    /// # Examples
    /// ```
    /// let m = gemj_hl7v2::Message::parse("MSH|^~\\&|A\rPID|1||X")?;
    /// assert_eq!(m.segment("MSH").unwrap().field_count(), 3);
    /// assert_eq!(m.segment("PID").unwrap().field_count(), 3);
    /// # Ok::<(), gemj_hl7v2::Error>(())
    /// ```
    #[inline]
    #[must_use]
    pub fn field_count(&self) -> usize {
        self.entry.field_count as usize
    }

    /// Field `n` in HL7 numbering (from 1; `MSH-1` is the field separator), or `None` beyond the
    /// last field or for 0.
    ///
    /// # Examples
    /// ```
    /// let m = gemj_hl7v2::Message::parse("MSH|^~\\&|A|B|C|D|20240301||ADT^A08^ADT_A01")?;
    /// let msh = m.segment("MSH").unwrap();
    /// assert_eq!(msh.field(9).unwrap().component(2).unwrap().as_str(), "A08");
    /// assert!(msh.field(0).is_none());
    /// assert!(msh.field(10).is_none());
    /// # Ok::<(), gemj_hl7v2::Error>(())
    /// ```
    #[inline]
    #[must_use]
    pub fn field(&self, n: usize) -> Option<Field<'a>> {
        let offset = n.checked_sub(1)?;
        if offset >= self.field_count() {
            return None;
        }
        let span = self
            .message
            .fields
            .get(self.entry.first_field as usize + offset)?;
        let raw = self
            .message
            .text
            .get(span.start as usize..span.end as usize)?;
        Some(Field::new(raw, self.message.delimiters, span.flags))
    }

    /// The fields in order, starting with field 1.
    ///
    /// # Examples
    /// ```
    /// let m = gemj_hl7v2::Message::parse("MSH|^~\\&\rPID|1||X")?;
    /// let fields: Vec<_> = m.segment("PID").unwrap().fields().map(|f| f.as_str()).collect();
    /// assert_eq!(fields, ["1", "", "X"]);
    /// # Ok::<(), gemj_hl7v2::Error>(())
    /// ```
    #[inline]
    pub fn fields(&self) -> impl Iterator<Item = Field<'a>> + '_ {
        let first = self.entry.first_field as usize;
        let spans = self
            .message
            .fields
            .get(first..first + self.field_count())
            .unwrap_or(&[]);
        let text = self.message.text;
        let delimiters = self.message.delimiters;
        spans.iter().map(move |span| {
            let raw = text
                .get(span.start as usize..span.end as usize)
                .unwrap_or("");
            Field::new(raw, delimiters, span.flags)
        })
    }

    /// Whether the segment starts with a field separator of its own (`MSH`, `BHS`, `FHS`).
    ///
    /// # Examples
    /// ```
    /// let m = gemj_hl7v2::Message::parse("MSH|^~\\&\rPID|1")?;
    /// assert!(m.segment("MSH").unwrap().is_header());
    /// assert!(!m.segment("PID").unwrap().is_header());
    /// # Ok::<(), gemj_hl7v2::Error>(())
    /// ```
    #[inline]
    #[must_use]
    pub fn is_header(&self) -> bool {
        self.entry.header
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    fn names(text: &str) -> Result<Vec<String>, Error> {
        let m = Message::parse(text)?;
        Ok(m.segments().map(|s| s.name().to_owned()).collect())
    }

    #[test]
    fn segment_separators() -> TestResult {
        assert_eq!(names("MSH|^~\\&\rPID|1\rPV1|1")?, ["MSH", "PID", "PV1"]);
        assert_eq!(names("MSH|^~\\&\nPID|1\nPV1|1\n")?, ["MSH", "PID", "PV1"]);
        assert_eq!(
            names("MSH|^~\\&\r\nPID|1\r\nPV1|1\r\n")?,
            ["MSH", "PID", "PV1"]
        );
        assert_eq!(names("\r\n\rMSH|^~\\&\r\r\rPID\r")?, ["MSH", "PID"]);
        Ok(())
    }

    #[test]
    fn header_errors() {
        let check = |text: &str, expect: Error| {
            assert_eq!(Message::parse(text).map(|_| ()), Err(expect), "{text:?}");
        };
        check("", Error::Empty);
        check("\r\n", Error::Empty);
        check("MSH", Error::MissingHeader);
        check("MSH\r|^~\\&", Error::MissingHeader);
        check("PID|1", Error::MissingHeader);
        check("msh|^~\\&", Error::MissingHeader);
        check("MSHA^~\\&", Error::InvalidFieldSeparator('A'));
        check("MSH日^~\\&", Error::InvalidFieldSeparator('日'));
        // U+00A9 is the byte 0xA9, also the continuation byte of é (C3 A9).
        check("MSH©^~é", Error::InvalidFieldSeparator('©'));
        check("MSH\u{80}^\u{100}", Error::InvalidFieldSeparator('\u{80}'));
        check(
            "MSH|",
            Error::InvalidEncodingCharacters {
                reason: "are missing",
            },
        );
        check(
            "MSH||A",
            Error::InvalidEncodingCharacters {
                reason: "are missing",
            },
        );
    }

    #[test]
    fn header_fields_are_literal() -> TestResult {
        let m = Message::parse("MSH|^~\\&|HIS~X|9999999999^^L")?;
        let msh = m.segment("MSH").ok_or("no MSH")?;
        assert_eq!(msh.field(1).ok_or("no MSH-1")?.value(), "|");
        let enc = msh.field(2).ok_or("no MSH-2")?;
        assert_eq!(enc.repetitions().count(), 1);
        assert_eq!(enc.component(1).ok_or("no component")?.as_str(), "^~\\&");
        assert_eq!(msh.field(3).ok_or("no MSH-3")?.repetitions().count(), 2);
        assert_eq!(
            msh.field(4)
                .and_then(|f| f.component(1))
                .ok_or("no MSH-4.1")?
                .as_str(),
            "9999999999"
        );
        assert_eq!(msh.field_count(), 4);
        Ok(())
    }

    #[test]
    fn batch_headers() -> TestResult {
        let m = Message::parse("FHS|^~\\&|A\rBHS|^~\\&|B\rMSH|^~\\&|C\rBTS|1\rFTS|1")?;
        let fields: Vec<_> = m
            .segments()
            .filter_map(|s| s.field(3).map(|f| f.as_str()))
            .collect();
        assert_eq!(fields, ["A", "B", "C"]);
        Ok(())
    }

    #[test]
    fn segments_without_fields() -> TestResult {
        let m = Message::parse("MSH|^~\\&\rPV1\rPID|")?;
        let pv1 = m.segment("PV1").ok_or("no PV1")?;
        assert_eq!(pv1.field_count(), 0);
        assert!(pv1.field(1).is_none());
        let pid = m.segment("PID").ok_or("no PID")?;
        assert_eq!(pid.field_count(), 1);
        assert!(pid.field(1).ok_or("no PID-1")?.is_empty());
        Ok(())
    }

    #[test]
    fn japanese_text_is_not_cut() -> TestResult {
        let m = Message::parse("MSH|^~\\&\rPID|1||||見本^花子~ﾐﾎﾝ^ﾊﾅｺ|住所|")?;
        let pid = m.segment("PID").ok_or("no PID")?;
        let name = pid.field(5).ok_or("no PID-5")?;
        assert_eq!(
            name.repetition(2)
                .and_then(|r| r.component(2))
                .ok_or("no given name")?
                .value(),
            "ﾊﾅｺ"
        );
        assert_eq!(pid.field(6).ok_or("no PID-6")?.value(), "住所");
        Ok(())
    }

    #[test]
    fn custom_delimiters() -> TestResult {
        let m = Message::parse("MSH#*!/$#A*B!C$D/S/\rPID#1")?;
        let a = m
            .segment("MSH")
            .and_then(|s| s.field(3))
            .ok_or("no MSH-3")?;
        assert_eq!(a.repetitions().count(), 2);
        let c = a.repetition(2).ok_or("no second repetition")?;
        let comp = c.component(1).ok_or("no component")?;
        assert_eq!(comp.subcomponent(2).ok_or("no sub")?.value(), "D*");
        Ok(())
    }

    #[test]
    fn locations() -> TestResult {
        let m = Message::parse("MSH|^~\\&|A\rOBX|1|NM|c^t^JC10||3.2\rOBX|2|ST|d&e")?;
        let check = |loc: &str, expect: Option<&str>| -> TestResult {
            assert_eq!(m.get(&loc.parse()?).as_deref(), expect, "{loc}");
            Ok(())
        };
        check("MSH-1", Some("|"))?;
        check("MSH-2", Some("^~\\&"))?;
        check("MSH-3", Some("A"))?;
        check("OBX-3.3", Some("JC10"))?;
        check("OBX[1]-5", Some("3.2"))?;
        check("OBX[2]-3.1.2", Some("e"))?;
        check("OBX[3]-1", None)?;
        check("OBX-3[2]", None)?;
        check("OBX-3.9", None)?;
        check("PID-1", None)?;
        Ok(())
    }
}
