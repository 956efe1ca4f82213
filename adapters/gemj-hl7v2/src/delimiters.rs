//! The delimiters a message declares in MSH-1 and MSH-2 (HL7 v2.5 §2.5.4).

use crate::Error;

/// Which delimiters occur in a piece of text, as found while indexing: a piece without a bit
/// is never scanned for that delimiter.
pub(crate) mod present {
    /// The repetition separator.
    pub(crate) const REPETITION: u8 = 1;
    /// The component separator.
    pub(crate) const COMPONENT: u8 = 2;
    /// The subcomponent separator.
    pub(crate) const SUBCOMPONENT: u8 = 4;
    /// The escape character.
    pub(crate) const ESCAPE: u8 = 8;
    /// Class of the field separator (never inside a field).
    pub(crate) const FIELD: u8 = 0x40;
    /// Class of CR and LF (never inside a segment).
    pub(crate) const LINE: u8 = 0x80;
}

/// The field separator and encoding characters of a message.
///
/// MSH-1 is the field separator; MSH-2 lists, in order, the component separator, the repetition
/// separator, the escape character, the subcomponent separator and (from HL7 v2.7) the
/// truncation character. Only the component separator is required here: a message that omits
/// the later ones simply cannot use them. Every delimiter is ASCII punctuation (no letter,
/// digit, space or control character), and all are distinct, so that splitting UTF-8 text on
/// them never cuts a character.
///
/// # Examples
/// ```
/// use gemj_hl7v2::Delimiters;
/// let d = Delimiters::default();
/// assert_eq!(d.field(), '|');
/// assert_eq!(d.component(), '^');
/// assert_eq!(d.repetition(), Some('~'));
/// assert_eq!(d.escape(), Some('\\'));
/// assert_eq!(d.subcomponent(), Some('&'));
/// assert_eq!(d.truncation(), None);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
#[repr(C, align(8))]
pub struct Delimiters {
    /// Field, component, repetition, escape, subcomponent and truncation characters, 0 where
    /// absent (0 is never a delimiter): one aligned word, cheap to copy into every value.
    bytes: [u8; 8],
}

pub(crate) const FIELD: usize = 0;
pub(crate) const COMPONENT: usize = 1;
pub(crate) const REPETITION: usize = 2;
pub(crate) const ESCAPE: usize = 3;
pub(crate) const SUBCOMPONENT: usize = 4;
pub(crate) const TRUNCATION: usize = 5;

impl Default for Delimiters {
    /// The recommended delimiters `|^~\&`.
    fn default() -> Self {
        Self {
            bytes: [b'|', b'^', b'~', b'\\', b'&', 0, 0, 0],
        }
    }
}

impl std::fmt::Debug for Delimiters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delimiters")
            .field("field", &self.field())
            .field("component", &self.component())
            .field("repetition", &self.repetition())
            .field("escape", &self.escape())
            .field("subcomponent", &self.subcomponent())
            .field("truncation", &self.truncation())
            .finish()
    }
}

impl Delimiters {
    /// Reads the delimiters from a field separator and the text of MSH-2.
    ///
    /// # Errors
    /// [`Error::InvalidFieldSeparator`] or [`Error::InvalidEncodingCharacters`] when a delimiter
    /// is not allowed, MSH-2 is empty or longer than five characters, or two delimiters are the
    /// same.
    ///
    /// # Examples
    /// ```
    /// use gemj_hl7v2::Delimiters;
    /// let d = Delimiters::new('|', "^~\\&#")?;
    /// assert_eq!(d.truncation(), Some('#'));
    /// assert!(Delimiters::new('|', "^^").is_err());
    /// assert!(Delimiters::new('A', "^~\\&").is_err());
    /// # Ok::<(), gemj_hl7v2::Error>(())
    /// ```
    pub fn new(field: char, encoding_characters: &str) -> Result<Self, Error> {
        let field_byte = allowed(field).ok_or(Error::InvalidFieldSeparator(field))?;
        let mut bytes = [None; 5];
        for (count, c) in encoding_characters.chars().enumerate() {
            if count == bytes.len() {
                return Err(Error::InvalidEncodingCharacters {
                    reason: "have more than five characters",
                });
            }
            let b = allowed(c).ok_or(Error::InvalidEncodingCharacters {
                reason: "contain a character other than ASCII punctuation",
            })?;
            if b == field_byte || bytes[..count].contains(&Some(b)) {
                return Err(Error::InvalidEncodingCharacters {
                    reason: "repeat a delimiter",
                });
            }
            bytes[count] = Some(b);
        }
        if bytes[0].is_none() {
            return Err(Error::InvalidEncodingCharacters {
                reason: "are missing",
            });
        }
        let mut all = [0_u8; 8];
        all[FIELD] = field_byte;
        for (slot, b) in [COMPONENT, REPETITION, ESCAPE, SUBCOMPONENT, TRUNCATION]
            .into_iter()
            .zip(bytes)
        {
            all[slot] = b.unwrap_or(0);
        }
        Ok(Self { bytes: all })
    }

    /// The delimiter in `slot`, if the message declares one.
    #[inline]
    pub(crate) fn get(&self, slot: usize) -> Option<u8> {
        self.bytes.get(slot).copied().filter(|&b| b != 0)
    }

    /// The class of every byte for the indexing pass: [`present`] bits.
    pub(crate) fn byte_classes(&self) -> [u8; 256] {
        let mut class = [0_u8; 256];
        class[usize::from(b'\r')] = present::LINE;
        class[usize::from(b'\n')] = present::LINE;
        class[usize::from(self.bytes[FIELD])] = present::FIELD;
        class[usize::from(self.bytes[COMPONENT])] = present::COMPONENT;
        for (delimiter, bit) in [
            (self.get(REPETITION), present::REPETITION),
            (self.get(SUBCOMPONENT), present::SUBCOMPONENT),
            (self.get(ESCAPE), present::ESCAPE),
        ] {
            if let Some(b) = delimiter {
                class[usize::from(b)] = bit;
            }
        }
        class
    }

    /// The field separator (MSH-1).
    ///
    /// # Examples
    /// ```
    /// assert_eq!(gemj_hl7v2::Delimiters::default().field(), '|');
    /// ```
    #[inline]
    #[must_use]
    pub fn field(&self) -> char {
        char::from(self.bytes[FIELD])
    }

    /// The component separator (first character of MSH-2).
    ///
    /// # Examples
    /// ```
    /// assert_eq!(gemj_hl7v2::Delimiters::default().component(), '^');
    /// ```
    #[inline]
    #[must_use]
    pub fn component(&self) -> char {
        char::from(self.bytes[COMPONENT])
    }

    /// The repetition separator (second character of MSH-2), if declared.
    ///
    /// # Examples
    /// ```
    /// assert_eq!(gemj_hl7v2::Delimiters::default().repetition(), Some('~'));
    /// ```
    #[inline]
    #[must_use]
    pub fn repetition(&self) -> Option<char> {
        self.get(REPETITION).map(char::from)
    }

    /// The escape character (third character of MSH-2), if declared.
    ///
    /// # Examples
    /// ```
    /// assert_eq!(gemj_hl7v2::Delimiters::default().escape(), Some('\\'));
    /// ```
    #[inline]
    #[must_use]
    pub fn escape(&self) -> Option<char> {
        self.get(ESCAPE).map(char::from)
    }

    /// The subcomponent separator (fourth character of MSH-2), if declared.
    ///
    /// # Examples
    /// ```
    /// assert_eq!(gemj_hl7v2::Delimiters::default().subcomponent(), Some('&'));
    /// ```
    #[inline]
    #[must_use]
    pub fn subcomponent(&self) -> Option<char> {
        self.get(SUBCOMPONENT).map(char::from)
    }

    /// The truncation character (fifth character of MSH-2, HL7 v2.7 and later), if declared.
    ///
    /// # Examples
    /// ```
    /// assert_eq!(gemj_hl7v2::Delimiters::default().truncation(), None);
    /// ```
    #[inline]
    #[must_use]
    pub fn truncation(&self) -> Option<char> {
        self.get(TRUNCATION).map(char::from)
    }
}

/// The byte of an allowed delimiter character: ASCII punctuation.
fn allowed(c: char) -> Option<u8> {
    u8::try_from(c).ok().filter(u8::is_ascii_punctuation)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(field: char, enc: &str, ok: bool) {
        assert_eq!(Delimiters::new(field, enc).is_ok(), ok, "{field:?} {enc:?}");
    }

    #[test]
    fn delimiter_rules() {
        check('|', "^~\\&", true);
        check('|', "^~\\&#", true);
        check('|', "^", true);
        check('|', "^~\\&#!", false);
        check('|', "", false);
        check('|', "^~|&", false);
        check('|', "^~^&", false);
        check('|', "a~\\&", false);
        check('|', "^~\\\r", false);
        check('|', "^~\\ ", false);
        check('|', "^~\\\0", false);
        check('\0', "^~\\&", false);
        check('\t', "^~\\&", false);
        check('1', "^~\\&", false);
        check('\n', "^~\\&", false);
        check('｜', "^~\\&", false);
        check('|', "^~\\＆", false);
        check('#', "^~\\&", true);
    }

    #[test]
    fn optional_delimiters() -> Result<(), Box<dyn std::error::Error>> {
        let d = Delimiters::new('|', "^~")?;
        assert_eq!(d.repetition(), Some('~'));
        assert_eq!(d.escape(), None);
        assert_eq!(d.subcomponent(), None);
        Ok(())
    }
}
