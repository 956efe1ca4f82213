//! Fields, repetitions, components and subcomponents: borrowed slices of the message text, split
//! on demand and unescaped on access.
//!
//! An empty piece is absent: an empty field has no repetitions, an empty repetition no
//! components. A piece between two separators (`a^^b`) is present and empty.

use std::borrow::Cow;

use crate::Delimiters;
use crate::delimiters::{COMPONENT, REPETITION, SUBCOMPONENT, present};
use crate::escape::{find, unescape};

/// Pieces of a text between separators; a literal text (MSH-1, MSH-2) is one piece.
#[derive(Debug, Clone)]
struct Pieces<'a> {
    rest: Option<&'a str>,
    separator: Option<u8>,
}

impl<'a> Pieces<'a> {
    #[inline]
    fn new(raw: &'a str, separator: Option<u8>) -> Self {
        Self {
            rest: (!raw.is_empty()).then_some(raw),
            separator,
        }
    }
}

impl<'a> Iterator for Pieces<'a> {
    type Item = &'a str;

    #[inline]
    fn next(&mut self) -> Option<&'a str> {
        let rest = self.rest?;
        match self.separator.and_then(|s| find(rest, s, 0)) {
            Some(i) => {
                self.rest = Some(&rest[i + 1..]);
                Some(&rest[..i])
            }
            None => {
                self.rest = None;
                Some(rest)
            }
        }
    }
}

/// The separator to split on, when the text may hold it.
#[inline]
fn separator(flags: u8, bit: u8, delimiter: Option<u8>) -> Option<u8> {
    if flags & bit == 0 { None } else { delimiter }
}

#[inline]
fn text_value<'a>(raw: &'a str, delimiters: &Delimiters, flags: u8) -> Cow<'a, str> {
    if flags & present::ESCAPE == 0 {
        Cow::Borrowed(raw)
    } else {
        unescape(raw, delimiters)
    }
}

/// One field of a segment: its repetitions, separated by the repetition separator.
///
/// # Examples
/// ```
/// use gemj_hl7v2::Message;
/// let message = Message::parse("MSH|^~\\&\rPID|1||9000000001^^^^PI~A-1^^^^MR")?;
/// let ids = message.segment("PID").and_then(|s| s.field(3)).unwrap();
/// assert_eq!(ids.repetitions().count(), 2);
/// assert_eq!(ids.component(1).unwrap().value(), "9000000001");
/// # Ok::<(), gemj_hl7v2::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field<'a> {
    raw: &'a str,
    delimiters: Delimiters,
    flags: u8,
}

impl<'a> Field<'a> {
    /// A field whose text holds only the delimiters in `flags` ([`present`] bits); MSH-1 and
    /// MSH-2 have none, so they are never split or unescaped.
    #[inline]
    pub(crate) fn new(raw: &'a str, delimiters: Delimiters, flags: u8) -> Self {
        Self {
            raw,
            delimiters,
            flags,
        }
    }

    /// The field as written, separators and escape sequences kept.
    ///
    /// # Examples
    /// ```
    /// let m = gemj_hl7v2::Message::parse("MSH|^~\\&\rNTE|1||a\\S\\b^c")?;
    /// assert_eq!(m.segment("NTE").unwrap().field(3).unwrap().as_str(), "a\\S\\b^c");
    /// # Ok::<(), gemj_hl7v2::Error>(())
    /// ```
    #[inline]
    #[must_use]
    pub fn as_str(&self) -> &'a str {
        self.raw
    }

    /// The whole field with its escape sequences replaced (MSH-1 and MSH-2 are returned as
    /// written). Ask for a component to read a composite field.
    ///
    /// # Examples
    /// ```
    /// let m = gemj_hl7v2::Message::parse("MSH|^~\\&\rNTE|1||a\\S\\b")?;
    /// assert_eq!(m.segment("NTE").unwrap().field(3).unwrap().value(), "a^b");
    /// assert_eq!(m.segment("MSH").unwrap().field(2).unwrap().value(), "^~\\&");
    /// # Ok::<(), gemj_hl7v2::Error>(())
    /// ```
    #[inline]
    #[must_use]
    pub fn value(&self) -> Cow<'a, str> {
        text_value(self.raw, &self.delimiters, self.flags)
    }

    /// Whether the field is empty (not sent).
    ///
    /// # Examples
    /// ```
    /// let m = gemj_hl7v2::Message::parse("MSH|^~\\&\rPID|1|")?;
    /// assert!(m.segment("PID").unwrap().field(2).unwrap().is_empty());
    /// # Ok::<(), gemj_hl7v2::Error>(())
    /// ```
    #[inline]
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// Whether the field is the HL7 null `""`, which tells the receiver to delete its value.
    ///
    /// # Examples
    /// ```
    /// let m = gemj_hl7v2::Message::parse("MSH|^~\\&\rPID|1|\"\"")?;
    /// assert!(m.segment("PID").unwrap().field(2).unwrap().is_null());
    /// # Ok::<(), gemj_hl7v2::Error>(())
    /// ```
    #[inline]
    #[must_use]
    pub fn is_null(&self) -> bool {
        self.raw == "\"\""
    }

    /// The repetitions of the field, in order; none when the field is empty.
    ///
    /// # Examples
    /// ```
    /// let m = gemj_hl7v2::Message::parse("MSH|^~\\&\rPID|1||a~b~c")?;
    /// let field = m.segment("PID").unwrap().field(3).unwrap();
    /// let all: Vec<_> = field.repetitions().map(|r| r.as_str()).collect();
    /// assert_eq!(all, ["a", "b", "c"]);
    /// # Ok::<(), gemj_hl7v2::Error>(())
    /// ```
    #[inline]
    #[must_use]
    pub fn repetitions(&self) -> Repetitions<'a> {
        let sep = separator(
            self.flags,
            present::REPETITION,
            self.delimiters.get(REPETITION),
        );
        Repetitions {
            pieces: Pieces::new(self.raw, sep),
            delimiters: self.delimiters,
            flags: self.flags,
        }
    }

    /// The `n`th repetition, counting from 1.
    ///
    /// # Examples
    /// ```
    /// let m = gemj_hl7v2::Message::parse("MSH|^~\\&\rPID|1||a~b")?;
    /// let field = m.segment("PID").unwrap().field(3).unwrap();
    /// assert_eq!(field.repetition(2).unwrap().as_str(), "b");
    /// assert!(field.repetition(3).is_none());
    /// assert!(field.repetition(0).is_none());
    /// # Ok::<(), gemj_hl7v2::Error>(())
    /// ```
    #[inline]
    #[must_use]
    pub fn repetition(&self, n: usize) -> Option<Repetition<'a>> {
        self.repetitions().nth(n.checked_sub(1)?)
    }

    /// The `n`th component (from 1) of the first repetition.
    ///
    /// # Examples
    /// ```
    /// let m = gemj_hl7v2::Message::parse("MSH|^~\\&\rPRB|AD||20054178^胃癌^MDCDX2")?;
    /// let problem = m.segment("PRB").unwrap().field(3).unwrap();
    /// assert_eq!(problem.component(2).unwrap().value(), "胃癌");
    /// # Ok::<(), gemj_hl7v2::Error>(())
    /// ```
    #[inline]
    #[must_use]
    pub fn component(&self, n: usize) -> Option<Component<'a>> {
        self.repetition(1)?.component(n)
    }
}

/// Iterator over the repetitions of a field.
///
/// # Examples
/// ```
/// let m = gemj_hl7v2::Message::parse("MSH|^~\\&\rPID|1||a~b")?;
/// let mut reps = m.segment("PID").unwrap().field(3).unwrap().repetitions();
/// assert_eq!(reps.next().map(|r| r.as_str()), Some("a"));
/// assert_eq!(reps.next().map(|r| r.as_str()), Some("b"));
/// assert!(reps.next().is_none());
/// # Ok::<(), gemj_hl7v2::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Repetitions<'a> {
    pieces: Pieces<'a>,
    delimiters: Delimiters,
    flags: u8,
}

impl<'a> Iterator for Repetitions<'a> {
    type Item = Repetition<'a>;

    #[inline]
    fn next(&mut self) -> Option<Repetition<'a>> {
        let raw = self.pieces.next()?;
        Some(Repetition {
            raw,
            delimiters: self.delimiters,
            flags: self.flags,
        })
    }
}

/// One repetition of a field: its components, separated by the component separator.
///
/// # Examples
/// ```
/// let m = gemj_hl7v2::Message::parse("MSH|^~\\&\rPID|1||||試験^太郎^^^^^L^I~シケン^タロウ^^^^^L^P")?;
/// let kana = m.segment("PID").unwrap().field(5).unwrap().repetition(2).unwrap();
/// assert_eq!(kana.component(1).unwrap().value(), "シケン");
/// assert_eq!(kana.component(8).unwrap().value(), "P");
/// # Ok::<(), gemj_hl7v2::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repetition<'a> {
    raw: &'a str,
    delimiters: Delimiters,
    flags: u8,
}

impl<'a> Repetition<'a> {
    /// The repetition as written.
    ///
    /// # Examples
    /// ```
    /// let m = gemj_hl7v2::Message::parse("MSH|^~\\&\rPID|1||a^b~c")?;
    /// let first = m.segment("PID").unwrap().field(3).unwrap().repetition(1).unwrap();
    /// assert_eq!(first.as_str(), "a^b");
    /// # Ok::<(), gemj_hl7v2::Error>(())
    /// ```
    #[inline]
    #[must_use]
    pub fn as_str(&self) -> &'a str {
        self.raw
    }

    /// The repetition with its escape sequences replaced.
    ///
    /// # Examples
    /// ```
    /// let m = gemj_hl7v2::Message::parse("MSH|^~\\&\rNTE|1||a\\R\\b~c")?;
    /// let first = m.segment("NTE").unwrap().field(3).unwrap().repetition(1).unwrap();
    /// assert_eq!(first.value(), "a~b");
    /// # Ok::<(), gemj_hl7v2::Error>(())
    /// ```
    #[inline]
    #[must_use]
    pub fn value(&self) -> Cow<'a, str> {
        text_value(self.raw, &self.delimiters, self.flags)
    }

    /// Whether the repetition is empty.
    ///
    /// # Examples
    /// ```
    /// let m = gemj_hl7v2::Message::parse("MSH|^~\\&\rPID|1||~b")?;
    /// let first = m.segment("PID").unwrap().field(3).unwrap().repetition(1).unwrap();
    /// assert!(first.is_empty());
    /// # Ok::<(), gemj_hl7v2::Error>(())
    /// ```
    #[inline]
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// The components, in order; none when the repetition is empty.
    ///
    /// # Examples
    /// ```
    /// let m = gemj_hl7v2::Message::parse("MSH|^~\\&\rPID|1||a^^c")?;
    /// let first = m.segment("PID").unwrap().field(3).unwrap().repetition(1).unwrap();
    /// let parts: Vec<_> = first.components().map(|c| c.as_str()).collect();
    /// assert_eq!(parts, ["a", "", "c"]);
    /// # Ok::<(), gemj_hl7v2::Error>(())
    /// ```
    #[inline]
    #[must_use]
    pub fn components(&self) -> Components<'a> {
        let sep = separator(
            self.flags,
            present::COMPONENT,
            self.delimiters.get(COMPONENT),
        );
        Components {
            pieces: Pieces::new(self.raw, sep),
            delimiters: self.delimiters,
            flags: self.flags,
        }
    }

    /// The `n`th component, counting from 1.
    ///
    /// # Examples
    /// ```
    /// let m = gemj_hl7v2::Message::parse("MSH|^~\\&\rPID|1||a^b")?;
    /// let first = m.segment("PID").unwrap().field(3).unwrap().repetition(1).unwrap();
    /// assert_eq!(first.component(2).unwrap().as_str(), "b");
    /// assert!(first.component(3).is_none());
    /// # Ok::<(), gemj_hl7v2::Error>(())
    /// ```
    #[inline]
    #[must_use]
    pub fn component(&self, n: usize) -> Option<Component<'a>> {
        self.components().nth(n.checked_sub(1)?)
    }
}

/// Iterator over the components of a repetition.
///
/// # Examples
/// ```
/// let m = gemj_hl7v2::Message::parse("MSH|^~\\&\rOBX|1|NM|c^t^JC10")?;
/// let rep = m.segment("OBX").unwrap().field(3).unwrap().repetition(1).unwrap();
/// assert_eq!(rep.components().count(), 3);
/// # Ok::<(), gemj_hl7v2::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Components<'a> {
    pieces: Pieces<'a>,
    delimiters: Delimiters,
    flags: u8,
}

impl<'a> Iterator for Components<'a> {
    type Item = Component<'a>;

    #[inline]
    fn next(&mut self) -> Option<Component<'a>> {
        let raw = self.pieces.next()?;
        Some(Component {
            raw,
            delimiters: self.delimiters,
            flags: self.flags,
        })
    }
}

/// One component: its subcomponents, separated by the subcomponent separator.
///
/// # Examples
/// ```
/// let m = gemj_hl7v2::Message::parse("MSH|^~\\&\rSPM|1|LS-0001&LAB")?;
/// let placer = m.segment("SPM").unwrap().field(2).unwrap().component(1).unwrap();
/// assert_eq!(placer.subcomponent(1).unwrap().value(), "LS-0001");
/// assert_eq!(placer.value(), "LS-0001&LAB");
/// # Ok::<(), gemj_hl7v2::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Component<'a> {
    raw: &'a str,
    delimiters: Delimiters,
    flags: u8,
}

impl<'a> Component<'a> {
    /// The component as written.
    ///
    /// # Examples
    /// ```
    /// let m = gemj_hl7v2::Message::parse("MSH|^~\\&\rNTE|1||a\\S\\b^c")?;
    /// let first = m.segment("NTE").unwrap().field(3).unwrap().component(1).unwrap();
    /// assert_eq!(first.as_str(), "a\\S\\b");
    /// # Ok::<(), gemj_hl7v2::Error>(())
    /// ```
    #[inline]
    #[must_use]
    pub fn as_str(&self) -> &'a str {
        self.raw
    }

    /// The component with its escape sequences replaced.
    ///
    /// # Examples
    /// ```
    /// let m = gemj_hl7v2::Message::parse("MSH|^~\\&\rNTE|1||a\\S\\b^c")?;
    /// let first = m.segment("NTE").unwrap().field(3).unwrap().component(1).unwrap();
    /// assert_eq!(first.value(), "a^b");
    /// # Ok::<(), gemj_hl7v2::Error>(())
    /// ```
    #[inline]
    #[must_use]
    pub fn value(&self) -> Cow<'a, str> {
        text_value(self.raw, &self.delimiters, self.flags)
    }

    /// Whether the component is empty.
    ///
    /// # Examples
    /// ```
    /// let m = gemj_hl7v2::Message::parse("MSH|^~\\&\rPID|1||^b")?;
    /// assert!(m.segment("PID").unwrap().field(3).unwrap().component(1).unwrap().is_empty());
    /// # Ok::<(), gemj_hl7v2::Error>(())
    /// ```
    #[inline]
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// The subcomponents, in order; none when the component is empty.
    ///
    /// # Examples
    /// ```
    /// let m = gemj_hl7v2::Message::parse("MSH|^~\\&\rPID|1||a&b&c")?;
    /// let first = m.segment("PID").unwrap().field(3).unwrap().component(1).unwrap();
    /// assert_eq!(first.subcomponents().count(), 3);
    /// # Ok::<(), gemj_hl7v2::Error>(())
    /// ```
    #[inline]
    #[must_use]
    pub fn subcomponents(&self) -> SubComponents<'a> {
        let sep = separator(
            self.flags,
            present::SUBCOMPONENT,
            self.delimiters.get(SUBCOMPONENT),
        );
        SubComponents {
            pieces: Pieces::new(self.raw, sep),
            delimiters: self.delimiters,
            flags: self.flags,
        }
    }

    /// The `n`th subcomponent, counting from 1.
    ///
    /// # Examples
    /// ```
    /// let m = gemj_hl7v2::Message::parse("MSH|^~\\&\rPID|1||a&b")?;
    /// let first = m.segment("PID").unwrap().field(3).unwrap().component(1).unwrap();
    /// assert_eq!(first.subcomponent(2).unwrap().as_str(), "b");
    /// # Ok::<(), gemj_hl7v2::Error>(())
    /// ```
    #[inline]
    #[must_use]
    pub fn subcomponent(&self, n: usize) -> Option<SubComponent<'a>> {
        self.subcomponents().nth(n.checked_sub(1)?)
    }
}

/// Iterator over the subcomponents of a component.
///
/// # Examples
/// ```
/// let m = gemj_hl7v2::Message::parse("MSH|^~\\&\rSPM|1|LS-1&LAB&1.2.3")?;
/// let placer = m.segment("SPM").unwrap().field(2).unwrap().component(1).unwrap();
/// let parts: Vec<_> = placer.subcomponents().map(|s| s.as_str()).collect();
/// assert_eq!(parts, ["LS-1", "LAB", "1.2.3"]);
/// # Ok::<(), gemj_hl7v2::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct SubComponents<'a> {
    pieces: Pieces<'a>,
    delimiters: Delimiters,
    flags: u8,
}

impl<'a> Iterator for SubComponents<'a> {
    type Item = SubComponent<'a>;

    #[inline]
    fn next(&mut self) -> Option<SubComponent<'a>> {
        let raw = self.pieces.next()?;
        Some(SubComponent {
            raw,
            delimiters: self.delimiters,
            flags: self.flags,
        })
    }
}

/// One subcomponent: the smallest piece of an HL7 v2 message.
///
/// # Examples
/// ```
/// let m = gemj_hl7v2::Message::parse("MSH|^~\\&\rPID|1||a&b\\T\\c")?;
/// let piece = m.segment("PID").unwrap().field(3).unwrap().component(1).unwrap().subcomponent(2).unwrap();
/// assert_eq!(piece.value(), "b&c");
/// # Ok::<(), gemj_hl7v2::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubComponent<'a> {
    raw: &'a str,
    delimiters: Delimiters,
    flags: u8,
}

impl<'a> SubComponent<'a> {
    /// The subcomponent as written.
    ///
    /// # Examples
    /// ```
    /// let m = gemj_hl7v2::Message::parse("MSH|^~\\&\rPID|1||\\E\\")?;
    /// let piece = m.segment("PID").unwrap().field(3).unwrap().component(1).unwrap().subcomponent(1).unwrap();
    /// assert_eq!(piece.as_str(), "\\E\\");
    /// # Ok::<(), gemj_hl7v2::Error>(())
    /// ```
    #[inline]
    #[must_use]
    pub fn as_str(&self) -> &'a str {
        self.raw
    }

    /// The subcomponent with its escape sequences replaced.
    ///
    /// # Examples
    /// ```
    /// let m = gemj_hl7v2::Message::parse("MSH|^~\\&\rPID|1||\\E\\")?;
    /// let piece = m.segment("PID").unwrap().field(3).unwrap().component(1).unwrap().subcomponent(1).unwrap();
    /// assert_eq!(piece.value(), "\\");
    /// # Ok::<(), gemj_hl7v2::Error>(())
    /// ```
    #[inline]
    #[must_use]
    pub fn value(&self) -> Cow<'a, str> {
        text_value(self.raw, &self.delimiters, self.flags)
    }

    /// Whether the subcomponent is empty.
    ///
    /// # Examples
    /// ```
    /// let m = gemj_hl7v2::Message::parse("MSH|^~\\&\rPID|1||&b")?;
    /// let piece = m.segment("PID").unwrap().field(3).unwrap().component(1).unwrap().subcomponent(1).unwrap();
    /// assert!(piece.is_empty());
    /// # Ok::<(), gemj_hl7v2::Error>(())
    /// ```
    #[inline]
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }
}
