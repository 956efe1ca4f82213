//! ICD-10 codes and their hierarchy, by the structure of the code alone (no code list).
//!
//! An ICD-10 code is a 3-character category, a letter and two digits (`C34` "Malignant
//! neoplasm of bronchus and lung"), optionally followed by a dot and a subdivision (`C34.1`
//! "Upper lobe, bronchus or lung"). The hierarchy follows from the characters: `C34.1` is within
//! `C34`, and a category is within a block or chapter range such as `C00-C97` when it lies
//! between the two ends.
//!
//! Accepted spellings ([`Icd10::parse`]), all case-insensitive, surrounding whitespace ignored:
//!
//! - with or without the dot: `C34.1`, `C341`;
//! - with a CURIE-style prefix: `ICD10:`, `ICD-10:`, `ICD10CM:` or `ICD-10-CM:`;
//! - a subdivision of 1 to 4 letters or digits, and a letter as the category's third
//!   character, so ICD-10-CM codes (`S72.001A`, `C4A.0`) read too; WHO ICD-10 uses digits only.
//!
//! Rejected: a category shorter than 3 characters (`C3`), a dot with nothing after it (`C34.`),
//! more than one dot, any other character (dagger and asterisk marks included), and anything
//! longer than 3 + 4 characters.
//!
//! Block ranges are compared character by character, which is ICD-10's order for WHO
//! categories; ICD-10-CM's letter categories sort after the digits (`C4A` after `C49`).

use std::fmt;

/// Prefixes stripped before a code, longest first, compared case-insensitively.
const PREFIXES: [&str; 4] = ["ICD-10-CM:", "ICD10CM:", "ICD-10:", "ICD10:"];

/// The longest subdivision (ICD-10-CM's 4th to 7th characters).
const MAX_SUBDIVISION: usize = 4;

/// A normalized ICD-10 code: upper case, with a dot after the category when there is a
/// subdivision (`C34`, `C34.1`).
///
/// ```
/// use gemj_ontology::Icd10;
///
/// assert_eq!(Icd10::normalize("icd10:c341").as_deref(), Some("C34.1"));
/// assert!(Icd10::is_within("C34.1", "C34"));
/// assert!(Icd10::is_within("C34.1", "C00-C97"));
/// assert!(!Icd10::is_within("C34", "C34.1"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Icd10 {
    /// Always ASCII: 3 characters, or 3 + `.` + 1 to 4.
    code: String,
}

impl Icd10 {
    /// Reads a code in any accepted spelling (see the [module docs](self)); `None` if it is not
    /// an ICD-10 code. A range (`C00-C97`) is not a code.
    #[must_use]
    pub fn parse(code: &str) -> Option<Self> {
        Self::parse_bare(strip_prefix(code.trim()))
    }

    /// The normalized spelling of a code (`c341` → `C34.1`, `ICD10:C34` → `C34`), `None` if it
    /// is not an ICD-10 code.
    #[must_use]
    pub fn normalize(code: &str) -> Option<String> {
        Self::parse(code).map(|c| c.code)
    }

    /// Whether `code` is `ancestor` or below it: `ancestor` is a code (`C34`, `C34.1`; a code is
    /// within itself) or a range of two categories (`C00-C97`, inclusive, optionally prefixed
    /// like a code). False when either is not valid, including a range whose start is after
    /// its end or whose ends are not 3-character categories, and when `code` is a range.
    #[must_use]
    pub fn is_within(code: &str, ancestor: &str) -> bool {
        let Some(code) = Self::parse(code) else {
            return false;
        };
        let ancestor = strip_prefix(ancestor.trim());
        if let Some((start, end)) = ancestor.split_once('-') {
            let (Some(start), Some(end)) =
                (Self::parse_bare(start.trim()), Self::parse_bare(end.trim()))
            else {
                return false;
            };
            if !start.is_category() || !end.is_category() || start > end {
                return false;
            }
            let category = code.category();
            return start.category() <= category && category <= end.category();
        }
        Self::parse_bare(ancestor).is_some_and(|ancestor| code.within(&ancestor))
    }

    /// Whether this code is `ancestor` or below it (same category, and the ancestor's
    /// subdivision, if any, starts this one's).
    #[must_use]
    pub fn within(&self, ancestor: &Self) -> bool {
        self.category() == ancestor.category()
            && match ancestor.subdivision() {
                None => true,
                Some(prefix) => self
                    .subdivision()
                    .is_some_and(|own| own.starts_with(prefix)),
            }
    }

    /// The normalized code.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.code
    }

    /// The 3-character category (`C34` for `C34.1`).
    #[must_use]
    pub fn category(&self) -> &str {
        self.code.get(..3).unwrap_or(&self.code)
    }

    /// The characters after the dot (`1` for `C34.1`), `None` for a category.
    #[must_use]
    pub fn subdivision(&self) -> Option<&str> {
        self.code.get(4..).filter(|s| !s.is_empty())
    }

    /// Whether the code is a 3-character category.
    #[must_use]
    pub fn is_category(&self) -> bool {
        self.code.len() == 3
    }

    /// A code without prefix or surrounding whitespace.
    fn parse_bare(code: &str) -> Option<Self> {
        let bytes = code.as_bytes();
        let (category, rest) = (bytes.get(..3)?, bytes.get(3..)?);
        let [letter, digit, third] = *category else {
            return None;
        };
        if !letter.is_ascii_alphabetic()
            || !digit.is_ascii_digit()
            || !third.is_ascii_alphanumeric()
        {
            return None;
        }
        let subdivision = match rest {
            [] => &[][..],
            [b'.', sub @ ..] => {
                if sub.is_empty() {
                    return None;
                }
                sub
            }
            sub => sub,
        };
        if subdivision.len() > MAX_SUBDIVISION || !subdivision.iter().all(u8::is_ascii_alphanumeric)
        {
            return None;
        }
        let mut normalized = String::with_capacity(3 + 1 + subdivision.len());
        normalized.extend(category.iter().map(|b| char::from(b.to_ascii_uppercase())));
        if !subdivision.is_empty() {
            normalized.push('.');
            normalized.extend(
                subdivision
                    .iter()
                    .map(|b| char::from(b.to_ascii_uppercase())),
            );
        }
        Some(Self { code: normalized })
    }
}

impl fmt::Display for Icd10 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.code)
    }
}

/// `code` without one of [`PREFIXES`] (case-insensitive).
fn strip_prefix(code: &str) -> &str {
    for prefix in PREFIXES {
        if let Some(head) = code.get(..prefix.len())
            && head.eq_ignore_ascii_case(prefix)
        {
            return code.get(prefix.len()..).unwrap_or("").trim_start();
        }
    }
    code
}
