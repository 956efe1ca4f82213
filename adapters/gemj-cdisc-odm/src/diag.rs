//! Diagnostics of one input, capped so that a hostile file cannot make the report larger than a
//! fixed bound.

use gemj_model::source::Diagnostic;

/// The most diagnostics kept per input; the rest are counted in one closing warning.
pub(crate) const MAX_DIAGNOSTICS: usize = 1000;

#[derive(Debug, Default)]
pub(crate) struct Diagnostics {
    file: String,
    list: Vec<Diagnostic>,
    suppressed: usize,
}

impl Diagnostics {
    pub(crate) fn new(file: &str) -> Self {
        Self {
            file: file.to_owned(),
            list: Vec::new(),
            suppressed: 0,
        }
    }

    pub(crate) fn error(&mut self, position: &str, field: &str, message: impl Into<String>) {
        if self.room() {
            let d = Diagnostic::error(&self.file, position, field, message);
            self.list.push(d);
        }
    }

    pub(crate) fn warning(&mut self, position: &str, field: &str, message: impl Into<String>) {
        if self.room() {
            let d = Diagnostic::warning(&self.file, position, field, message);
            self.list.push(d);
        }
    }

    fn room(&mut self) -> bool {
        if self.list.len() < MAX_DIAGNOSTICS {
            true
        } else {
            self.suppressed += 1;
            false
        }
    }

    pub(crate) fn finish(mut self) -> Vec<Diagnostic> {
        if self.suppressed > 0 {
            self.list.push(Diagnostic::warning(
                &self.file,
                "",
                "",
                format!(
                    "{} further diagnostics were suppressed (at most {MAX_DIAGNOSTICS} are kept)",
                    self.suppressed
                ),
            ));
        }
        self.list
    }
}
