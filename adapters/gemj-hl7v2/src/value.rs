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

/// Declares one level of a field (`Field`, `Repetition`, ...): a borrowed piece of the message
/// text with the delimiters it may hold, and its `as_str`, `value` and `is_empty`, each with the
/// documentation given.
macro_rules! piece {
    (
        $(#[$doc:meta])*
        pub struct $name:ident;
        $(#[$as_str:meta])*
        fn as_str;
        $(#[$value:meta])*
        fn value;
        $(#[$is_empty:meta])*
        fn is_empty;
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct $name<'a> {
            raw: &'a str,
            delimiters: Delimiters,
            flags: u8,
        }

        impl<'a> $name<'a> {
            $(#[$as_str])*
            #[inline]
            #[must_use]
            pub fn as_str(&self) -> &'a str {
                self.raw
            }

            $(#[$value])*
            #[inline]
            #[must_use]
            pub fn value(&self) -> Cow<'a, str> {
                if self.flags & present::ESCAPE == 0 {
                    Cow::Borrowed(self.raw)
                } else {
                    unescape(self.raw, &self.delimiters)
                }
            }

            $(#[$is_empty])*
            #[inline]
            #[must_use]
            pub fn is_empty(&self) -> bool {
                self.raw.is_empty()
            }
        }
    };
}

/// Declares the iterator over the pieces of one level (`Repetitions` yields `Repetition`s, split
/// on the `REPETITION` delimiter), with the documentation given.
macro_rules! pieces {
    ($(#[$doc:meta])* pub struct $name:ident => $item:ident, split on $delimiter:ident;) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $name<'a> {
            pieces: Pieces<'a>,
            delimiters: Delimiters,
            flags: u8,
        }

        impl<'a> $name<'a> {
            /// The pieces of `raw`, split on the delimiter when `flags` says the text may hold it.
            #[inline]
            fn split(raw: &'a str, delimiters: Delimiters, flags: u8) -> Self {
                let separator = if flags & present::$delimiter == 0 {
                    None
                } else {
                    delimiters.get($delimiter)
                };
                Self {
                    pieces: Pieces::new(raw, separator),
                    delimiters,
                    flags,
                }
            }
        }

        impl<'a> Iterator for $name<'a> {
            type Item = $item<'a>;

            #[inline]
            fn next(&mut self) -> Option<$item<'a>> {
                let raw = self.pieces.next()?;
                Some($item {
                    raw,
                    delimiters: self.delimiters,
                    flags: self.flags,
                })
            }
        }
    };
}

piece! {
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
    pub struct Field;

    /// The field as written, separators and escape sequences kept.
    ///
    /// # Examples
    /// ```
    /// let m = gemj_hl7v2::Message::parse("MSH|^~\\&\rNTE|1||a\\S\\b^c")?;
    /// assert_eq!(m.segment("NTE").unwrap().field(3).unwrap().as_str(), "a\\S\\b^c");
    /// # Ok::<(), gemj_hl7v2::Error>(())
    /// ```
    fn as_str;

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
    fn value;

    /// Whether the field is empty (not sent).
    ///
    /// # Examples
    /// ```
    /// let m = gemj_hl7v2::Message::parse("MSH|^~\\&\rPID|1|")?;
    /// assert!(m.segment("PID").unwrap().field(2).unwrap().is_empty());
    /// # Ok::<(), gemj_hl7v2::Error>(())
    /// ```
    fn is_empty;
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
        Repetitions::split(self.raw, self.delimiters, self.flags)
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

pieces! {
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
    pub struct Repetitions => Repetition, split on REPETITION;
}

piece! {
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
    pub struct Repetition;

    /// The repetition as written.
    ///
    /// # Examples
    /// ```
    /// let m = gemj_hl7v2::Message::parse("MSH|^~\\&\rPID|1||a^b~c")?;
    /// let first = m.segment("PID").unwrap().field(3).unwrap().repetition(1).unwrap();
    /// assert_eq!(first.as_str(), "a^b");
    /// # Ok::<(), gemj_hl7v2::Error>(())
    /// ```
    fn as_str;

    /// The repetition with its escape sequences replaced.
    ///
    /// # Examples
    /// ```
    /// let m = gemj_hl7v2::Message::parse("MSH|^~\\&\rNTE|1||a\\R\\b~c")?;
    /// let first = m.segment("NTE").unwrap().field(3).unwrap().repetition(1).unwrap();
    /// assert_eq!(first.value(), "a~b");
    /// # Ok::<(), gemj_hl7v2::Error>(())
    /// ```
    fn value;

    /// Whether the repetition is empty.
    ///
    /// # Examples
    /// ```
    /// let m = gemj_hl7v2::Message::parse("MSH|^~\\&\rPID|1||~b")?;
    /// let first = m.segment("PID").unwrap().field(3).unwrap().repetition(1).unwrap();
    /// assert!(first.is_empty());
    /// # Ok::<(), gemj_hl7v2::Error>(())
    /// ```
    fn is_empty;
}

impl<'a> Repetition<'a> {
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
        Components::split(self.raw, self.delimiters, self.flags)
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

pieces! {
    /// Iterator over the components of a repetition.
    ///
    /// # Examples
    /// ```
    /// let m = gemj_hl7v2::Message::parse("MSH|^~\\&\rOBX|1|NM|c^t^JC10")?;
    /// let rep = m.segment("OBX").unwrap().field(3).unwrap().repetition(1).unwrap();
    /// assert_eq!(rep.components().count(), 3);
    /// # Ok::<(), gemj_hl7v2::Error>(())
    /// ```
    pub struct Components => Component, split on COMPONENT;
}

piece! {
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
    pub struct Component;

    /// The component as written.
    ///
    /// # Examples
    /// ```
    /// let m = gemj_hl7v2::Message::parse("MSH|^~\\&\rNTE|1||a\\S\\b^c")?;
    /// let first = m.segment("NTE").unwrap().field(3).unwrap().component(1).unwrap();
    /// assert_eq!(first.as_str(), "a\\S\\b");
    /// # Ok::<(), gemj_hl7v2::Error>(())
    /// ```
    fn as_str;

    /// The component with its escape sequences replaced.
    ///
    /// # Examples
    /// ```
    /// let m = gemj_hl7v2::Message::parse("MSH|^~\\&\rNTE|1||a\\S\\b^c")?;
    /// let first = m.segment("NTE").unwrap().field(3).unwrap().component(1).unwrap();
    /// assert_eq!(first.value(), "a^b");
    /// # Ok::<(), gemj_hl7v2::Error>(())
    /// ```
    fn value;

    /// Whether the component is empty.
    ///
    /// # Examples
    /// ```
    /// let m = gemj_hl7v2::Message::parse("MSH|^~\\&\rPID|1||^b")?;
    /// assert!(m.segment("PID").unwrap().field(3).unwrap().component(1).unwrap().is_empty());
    /// # Ok::<(), gemj_hl7v2::Error>(())
    /// ```
    fn is_empty;
}

impl<'a> Component<'a> {
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
        SubComponents::split(self.raw, self.delimiters, self.flags)
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

pieces! {
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
    pub struct SubComponents => SubComponent, split on SUBCOMPONENT;
}

piece! {
    /// One subcomponent: the smallest piece of an HL7 v2 message.
    ///
    /// # Examples
    /// ```
    /// let m = gemj_hl7v2::Message::parse("MSH|^~\\&\rPID|1||a&b\\T\\c")?;
    /// let piece = m.segment("PID").unwrap().field(3).unwrap().component(1).unwrap().subcomponent(2).unwrap();
    /// assert_eq!(piece.value(), "b&c");
    /// # Ok::<(), gemj_hl7v2::Error>(())
    /// ```
    pub struct SubComponent;

    /// The subcomponent as written.
    ///
    /// # Examples
    /// ```
    /// let m = gemj_hl7v2::Message::parse("MSH|^~\\&\rPID|1||\\E\\")?;
    /// let piece = m.segment("PID").unwrap().field(3).unwrap().component(1).unwrap().subcomponent(1).unwrap();
    /// assert_eq!(piece.as_str(), "\\E\\");
    /// # Ok::<(), gemj_hl7v2::Error>(())
    /// ```
    fn as_str;

    /// The subcomponent with its escape sequences replaced.
    ///
    /// # Examples
    /// ```
    /// let m = gemj_hl7v2::Message::parse("MSH|^~\\&\rPID|1||\\E\\")?;
    /// let piece = m.segment("PID").unwrap().field(3).unwrap().component(1).unwrap().subcomponent(1).unwrap();
    /// assert_eq!(piece.value(), "\\");
    /// # Ok::<(), gemj_hl7v2::Error>(())
    /// ```
    fn value;

    /// Whether the subcomponent is empty.
    ///
    /// # Examples
    /// ```
    /// let m = gemj_hl7v2::Message::parse("MSH|^~\\&\rPID|1||&b")?;
    /// let piece = m.segment("PID").unwrap().field(3).unwrap().component(1).unwrap().subcomponent(1).unwrap();
    /// assert!(piece.is_empty());
    /// # Ok::<(), gemj_hl7v2::Error>(())
    /// ```
    fn is_empty;
}
