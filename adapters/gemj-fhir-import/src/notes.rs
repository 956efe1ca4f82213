//! Diagnostics while mapping: a capped list, and per-entry [`Notes`] that know the position.
//! Messages name fields, codes, systems and references, never names, addresses or free text.

use gemj_model::source::{Diagnostic, Severity};

/// Most diagnostics kept for one bundle; one more says how many were left out.
pub(crate) const MAX_DIAGNOSTICS: usize = gemj_model::source::MAX_DIAGNOSTICS;

/// The diagnostics of one bundle.
#[derive(Debug)]
pub(crate) struct Diagnostics {
    file: String,
    list: Vec<Diagnostic>,
    dropped: usize,
}

impl Diagnostics {
    pub(crate) fn new(file: &str) -> Self {
        Self {
            file: file.to_owned(),
            list: Vec::new(),
            dropped: 0,
        }
    }

    pub(crate) fn push(
        &mut self,
        severity: Severity,
        position: &str,
        field: &str,
        message: String,
    ) {
        if self.list.len() >= MAX_DIAGNOSTICS {
            self.dropped += 1;
            return;
        }
        self.list.push(match severity {
            Severity::Error => Diagnostic::error(&self.file, position, field, message),
            Severity::Warning => Diagnostic::warning(&self.file, position, field, message),
        });
    }

    /// The list, with a last warning when some were left out.
    pub(crate) fn finish(mut self) -> Vec<Diagnostic> {
        if self.dropped > 0 {
            let message = format!("{} more diagnostics left out", self.dropped);
            self.list
                .push(Diagnostic::warning(&self.file, "", "", message));
        }
        self.list
    }
}

/// Diagnostics about one entry.
#[derive(Debug)]
pub(crate) struct Notes<'a> {
    sink: Option<&'a mut Diagnostics>,
    position: &'a str,
}

impl<'a> Notes<'a> {
    pub(crate) fn new(sink: &'a mut Diagnostics, position: &'a str) -> Self {
        Self {
            sink: Some(sink),
            position,
        }
    }

    /// Notes that go nowhere, for a second reading of the same entry.
    pub(crate) fn discard() -> Notes<'static> {
        Notes {
            sink: None,
            position: "",
        }
    }

    pub(crate) fn error(&mut self, field: &str, message: impl Into<String>) {
        if let Some(sink) = self.sink.as_deref_mut() {
            sink.push(Severity::Error, self.position, field, message.into());
        }
    }

    pub(crate) fn warning(&mut self, field: &str, message: impl Into<String>) {
        if let Some(sink) = self.sink.as_deref_mut() {
            sink.push(Severity::Warning, self.position, field, message.into());
        }
    }
}

/// A value from the input, quoted in a message: at most 64 characters, escaped.
pub(crate) fn quote(s: &str) -> String {
    let cut: String = s.chars().take(64).collect();
    if cut.len() < s.len() {
        format!("{:?}…", cut)
    } else {
        format!("{cut:?}")
    }
}

/// A string element that is present and not blank.
pub(crate) fn text(s: Option<&String>) -> Option<&str> {
    s.map(String::as_str).filter(|s| !s.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capped() {
        let mut d = Diagnostics::new("f.json");
        for _ in 0..MAX_DIAGNOSTICS + 5 {
            Notes::new(&mut d, "entry 0 (Patient)").warning("Patient.gender", "x");
        }
        let list = d.finish();
        assert_eq!(list.len(), MAX_DIAGNOSTICS + 1);
        assert_eq!(list[MAX_DIAGNOSTICS].message, "5 more diagnostics left out");
    }

    #[test]
    fn quotes_are_short_and_escaped() {
        assert_eq!(quote("C169"), "\"C169\"");
        assert_eq!(quote("a\nb"), "\"a\\nb\"");
        assert_eq!(quote(&"x".repeat(100)), format!("{:?}…", "x".repeat(64)));
    }
}
