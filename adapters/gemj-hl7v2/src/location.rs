//! Locations of values in a message: `PID-3`, `PID-5[2].1`, `OBX[2]-5`, `SPM-2.1.1`.

use std::fmt;
use std::str::FromStr;

use crate::Error;

/// Where a value is: a segment (and which occurrence of it), a field, a repetition, and
/// optionally a component and a subcomponent. Every number counts from 1.
///
/// The text form is `SEG[occurrence]-field[repetition].component.subcomponent`, where the
/// bracketed occurrence and repetition default to 1 and the component and subcomponent are
/// optional: `PID-3`, `PID-3.1`, `PID-5[2].1`, `OBX[2]-5`, `SPM-2.1.1`.
///
/// # Examples
/// ```
/// use gemj_hl7v2::Location;
/// let loc: Location = "OBX[2]-3[1].1".parse()?;
/// assert_eq!(loc, Location::new("OBX", 3).occurrence(2).component(1));
/// assert_eq!(loc.to_string(), "OBX[2]-3.1");
/// assert!("PID".parse::<Location>().is_err());
/// assert!("PID-0".parse::<Location>().is_err());
/// # Ok::<(), gemj_hl7v2::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Location {
    segment: String,
    occurrence: usize,
    field: usize,
    repetition: usize,
    component: Option<usize>,
    subcomponent: Option<usize>,
}

impl Location {
    /// The first repetition of field `field` of the first segment named `segment`.
    ///
    /// # Examples
    /// ```
    /// let loc = gemj_hl7v2::Location::new("PID", 3);
    /// assert_eq!(loc.to_string(), "PID-3");
    /// ```
    #[must_use]
    pub fn new(segment: &str, field: usize) -> Self {
        Self {
            segment: segment.to_owned(),
            occurrence: 1,
            field,
            repetition: 1,
            component: None,
            subcomponent: None,
        }
    }

    /// The same location in the `n`th segment of that name.
    ///
    /// # Examples
    /// ```
    /// let loc = gemj_hl7v2::Location::new("OBX", 5).occurrence(2);
    /// assert_eq!(loc.to_string(), "OBX[2]-5");
    /// ```
    #[must_use]
    pub fn occurrence(mut self, n: usize) -> Self {
        self.occurrence = n;
        self
    }

    /// The same location in the `n`th repetition of the field.
    ///
    /// # Examples
    /// ```
    /// let loc = gemj_hl7v2::Location::new("PID", 5).repetition(2);
    /// assert_eq!(loc.to_string(), "PID-5[2]");
    /// ```
    #[must_use]
    pub fn repetition(mut self, n: usize) -> Self {
        self.repetition = n;
        self
    }

    /// The `n`th component at this location.
    ///
    /// # Examples
    /// ```
    /// let loc = gemj_hl7v2::Location::new("MSH", 9).component(1);
    /// assert_eq!(loc.to_string(), "MSH-9.1");
    /// ```
    #[must_use]
    pub fn component(mut self, n: usize) -> Self {
        self.component = Some(n);
        self
    }

    /// The `n`th subcomponent of the component at this location (component 1 if none was
    /// given).
    ///
    /// # Examples
    /// ```
    /// let loc = gemj_hl7v2::Location::new("SPM", 2).subcomponent(1);
    /// assert_eq!(loc.to_string(), "SPM-2.1.1");
    /// ```
    #[must_use]
    pub fn subcomponent(mut self, n: usize) -> Self {
        self.component.get_or_insert(1);
        self.subcomponent = Some(n);
        self
    }

    /// Parses the text form.
    ///
    /// # Errors
    /// [`Error::InvalidLocation`] when the text is not of the form above, a number is 0 or
    /// missing, or the segment name is not letters and digits.
    ///
    /// # Examples
    /// ```
    /// let loc = gemj_hl7v2::Location::parse("PID-5[2].1")?;
    /// assert_eq!(loc.segment_name(), "PID");
    /// assert_eq!(loc.repetition_number(), 2);
    /// # Ok::<(), gemj_hl7v2::Error>(())
    /// ```
    pub fn parse(s: &str) -> Result<Self, Error> {
        let bad = |reason| Error::InvalidLocation {
            location: s.chars().take(32).collect(),
            reason,
        };
        let (head, tail) = s.split_once('-').ok_or(bad("expected SEG-field"))?;
        let (segment, occurrence) = bracketed(head).ok_or(bad("bad segment occurrence"))?;
        if segment.is_empty() || !segment.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(bad("the segment name must be letters and digits"));
        }
        let mut parts = tail.split('.');
        let (field, repetition) = parts
            .next()
            .and_then(bracketed)
            .ok_or(bad("bad field repetition"))?;
        let field = number(field).ok_or(bad("the field must be a number from 1"))?;
        let component = match parts.next() {
            Some(c) => Some(number(c).ok_or(bad("the component must be a number from 1"))?),
            None => None,
        };
        let subcomponent = match parts.next() {
            Some(c) => Some(number(c).ok_or(bad("the subcomponent must be a number from 1"))?),
            None => None,
        };
        if parts.next().is_some() {
            return Err(bad("too many parts"));
        }
        Ok(Self {
            segment: segment.to_owned(),
            occurrence,
            field,
            repetition,
            component,
            subcomponent,
        })
    }

    /// The segment name.
    ///
    /// # Examples
    /// ```
    /// assert_eq!(gemj_hl7v2::Location::new("PRB", 10).segment_name(), "PRB");
    /// ```
    #[must_use]
    pub fn segment_name(&self) -> &str {
        &self.segment
    }

    /// Which segment of that name, from 1.
    ///
    /// # Examples
    /// ```
    /// assert_eq!(gemj_hl7v2::Location::new("OBX", 5).segment_occurrence(), 1);
    /// ```
    #[must_use]
    pub fn segment_occurrence(&self) -> usize {
        self.occurrence
    }

    /// The field number, from 1.
    ///
    /// # Examples
    /// ```
    /// assert_eq!(gemj_hl7v2::Location::new("OBX", 5).field_number(), 5);
    /// ```
    #[must_use]
    pub fn field_number(&self) -> usize {
        self.field
    }

    /// The repetition number, from 1.
    ///
    /// # Examples
    /// ```
    /// assert_eq!(gemj_hl7v2::Location::new("PID", 5).repetition(2).repetition_number(), 2);
    /// ```
    #[must_use]
    pub fn repetition_number(&self) -> usize {
        self.repetition
    }

    /// The component number, if any.
    ///
    /// # Examples
    /// ```
    /// assert_eq!(gemj_hl7v2::Location::new("PID", 3).component_number(), None);
    /// ```
    #[must_use]
    pub fn component_number(&self) -> Option<usize> {
        self.component
    }

    /// The subcomponent number, if any.
    ///
    /// # Examples
    /// ```
    /// assert_eq!(gemj_hl7v2::Location::new("SPM", 2).subcomponent(1).subcomponent_number(), Some(1));
    /// ```
    #[must_use]
    pub fn subcomponent_number(&self) -> Option<usize> {
        self.subcomponent
    }
}

/// Splits `NAME[n]` into the name and `n` (1 without brackets).
fn bracketed(s: &str) -> Option<(&str, usize)> {
    match s.split_once('[') {
        None => Some((s, 1)),
        Some((name, rest)) => Some((name, number(rest.strip_suffix(']')?)?)),
    }
}

/// A decimal number from 1, at most nine digits.
fn number(s: &str) -> Option<usize> {
    if s.is_empty() || s.len() > 9 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok().filter(|n| *n >= 1)
}

impl FromStr for Location {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        Self::parse(s)
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.segment)?;
        if self.occurrence != 1 {
            write!(f, "[{}]", self.occurrence)?;
        }
        write!(f, "-{}", self.field)?;
        if self.repetition != 1 {
            write!(f, "[{}]", self.repetition)?;
        }
        if let Some(c) = self.component {
            write!(f, ".{c}")?;
        }
        if let Some(s) = self.subcomponent {
            write!(f, ".{s}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expect: Option<&str>) {
        let got = Location::parse(input).ok().map(|l| l.to_string());
        assert_eq!(got.as_deref(), expect, "{input:?}");
    }

    #[test]
    fn location_text() {
        check("PID-3", Some("PID-3"));
        check("PID-3.1", Some("PID-3.1"));
        check("PID-3.1.2", Some("PID-3.1.2"));
        check("PID-5[2].1", Some("PID-5[2].1"));
        check("PID[1]-5[1]", Some("PID-5"));
        check("OBX[12]-5", Some("OBX[12]-5"));
        check("ZX1-1", Some("ZX1-1"));
        check("PID", None);
        check("PID-", None);
        check("-3", None);
        check("PID-0", None);
        check("PID-3.0", None);
        check("PID-3.1.1.1", None);
        check("PID-3[0]", None);
        check("PID-3[", None);
        check("PID-3[2", None);
        check("P D-3", None);
        check("PID-x", None);
        check("PID-9999999999", None);
        check("PID-+3", None);
        check("PID-3..1", None);
    }
}
