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

/// Line numbers of byte offsets, counted incrementally (offsets must not decrease). The `csv`
/// crate's own line count is off by one after CRLF line ends, so lines are counted here.
#[derive(Debug)]
pub(crate) struct Lines<'b> {
    bytes: &'b [u8],
    offset: usize,
    line: u64,
}

impl<'b> Lines<'b> {
    pub(crate) fn new(bytes: &'b [u8]) -> Self {
        Self {
            bytes,
            offset: 0,
            line: 1,
        }
    }

    /// The 1-based line of a byte offset at or after the previous one.
    pub(crate) fn line_at(&mut self, offset: u64) -> u64 {
        let mut offset = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(self.bytes.len());
        // After a CRLF, `csv` places the next record at the LF: a record never starts with a
        // line end, so skip them.
        while matches!(self.bytes.get(offset), Some(b'\r' | b'\n')) {
            offset += 1;
        }
        if offset > self.offset {
            let newlines = self.bytes[self.offset..offset]
                .iter()
                .filter(|&&b| b == b'\n')
                .count();
            self.line += u64::try_from(newlines).unwrap_or(u64::MAX);
            self.offset = offset;
        }
        self.line
    }
}
