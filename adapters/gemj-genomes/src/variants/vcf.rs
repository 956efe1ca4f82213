//! VCF text: the header's `#CHROM` line for the sample names, then one data line at a time,
//! parsed by hand from the raw bytes (no per-line allocation).

use std::{
    fmt::Write as _,
    io::{self, BufRead, Read},
};

use gemj_model::Chromosome;

use super::{
    AltKind, BAD_POS, Book, MAX_ALT_ALLELES, MAX_LINE, Site, classify_alt, notes, parse_gt,
    parse_ref,
};
use crate::GenomesError;

/// The fixed columns of the `#CHROM` line (VCFv4.3 §1.5).
const FIXED: [&[u8]; 8] = [
    b"#CHROM", b"POS", b"ID", b"REF", b"ALT", b"QUAL", b"FILTER", b"INFO",
];

pub(super) struct VcfSource<'r> {
    reader: Box<dyn BufRead + Send + 'r>,
    line: Vec<u8>,
    line_no: u64,
    position: String,
    samples: usize,
    /// The last FORMAT seen and where `GT`, `DP`, `AD` and `AF` are in it.
    format: Vec<u8>,
    gt_field: Option<usize>,
    dp_field: Option<usize>,
    ad_field: Option<usize>,
    af_field: Option<usize>,
}

enum Line {
    Eof,
    Ok,
    TooLong,
}

impl<'r> VcfSource<'r> {
    pub(super) fn new(
        reader: Box<dyn BufRead + Send + 'r>,
        book: &mut Book,
    ) -> Result<(Self, Vec<String>), GenomesError> {
        let mut source = Self {
            reader,
            line: Vec::with_capacity(1024),
            line_no: 0,
            position: String::new(),
            samples: 0,
            format: Vec::new(),
            gt_field: None,
            dp_field: None,
            ad_field: None,
            af_field: None,
        };
        let header = |why: &str| GenomesError::Header {
            format: "VCF",
            file: book.file.clone(),
            why: why.to_owned(),
        };
        let io_error = |e: io::Error| header(&format!("read error: {e}"));
        match source.read_line().map_err(io_error)? {
            Line::Ok if source.line.starts_with(b"##fileformat=VCF") => {}
            Line::Eof => return Err(header("empty input")),
            _ => return Err(header("the first line is not ##fileformat=VCF...")),
        }
        let names = loop {
            match source.read_line().map_err(io_error)? {
                Line::Eof => return Err(header("no #CHROM line")),
                Line::TooLong => {
                    return Err(header(&format!(
                        "line {} is longer than {MAX_LINE} bytes",
                        source.line_no
                    )));
                }
                Line::Ok => {}
            }
            let line = trim_end(&source.line);
            if line.starts_with(b"##") {
                if let Some(description) = notes::csq_header_description(line) {
                    book.csq_fields = notes::csq_format(&description);
                }
                continue;
            }
            if !line.starts_with(b"#CHROM") {
                return Err(header(&format!(
                    "line {} comes before the #CHROM line and is not a ## line",
                    source.line_no
                )));
            }
            let columns: Vec<&[u8]> = line.split(|&b| b == b'\t').collect();
            if columns.len() < FIXED.len()
                || columns.iter().zip(FIXED).any(|(c, f)| *c != f)
                || columns.get(8).is_some_and(|c| *c != b"FORMAT")
            {
                return Err(header(
                    "the #CHROM line does not have the columns #CHROM POS ID REF ALT QUAL FILTER INFO [FORMAT samples]",
                ));
            }
            let mut names = Vec::new();
            for (i, name) in columns.iter().skip(9).enumerate() {
                let name = match std::str::from_utf8(name) {
                    Ok(name) => name.to_owned(),
                    Err(_) => {
                        book.warning(
                            &format!("line {}", source.line_no),
                            "sample",
                            format!("sample column {} is not UTF-8", i + 1),
                        );
                        String::from_utf8_lossy(name).into_owned()
                    }
                };
                names.push(name);
            }
            break names;
        };
        let mut seen = std::collections::HashSet::new();
        for (i, name) in names.iter().enumerate() {
            if !seen.insert(name.as_str()) {
                book.warning(
                    &format!("line {}", source.line_no),
                    "sample",
                    format!("sample column {} repeats an earlier sample name", i + 1),
                );
            }
        }
        source.samples = names.len();
        Ok((source, names))
    }

    /// Reads one line (with its line break) into `self.line`.
    fn read_line(&mut self) -> io::Result<Line> {
        self.line.clear();
        let n = (&mut self.reader)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut self.line)?;
        if n == 0 {
            return Ok(Line::Eof);
        }
        self.line_no += 1;
        if self.line.len() > MAX_LINE && self.line.last() != Some(&b'\n') {
            // Skip the rest of the line.
            self.line.clear();
            loop {
                let buf = self.reader.fill_buf()?;
                if buf.is_empty() {
                    break;
                }
                match buf.iter().position(|&b| b == b'\n') {
                    Some(i) => {
                        self.reader.consume(i + 1);
                        break;
                    }
                    None => {
                        let len = buf.len();
                        self.reader.consume(len);
                    }
                }
            }
            return Ok(Line::TooLong);
        }
        Ok(Line::Ok)
    }

    /// Reads lines until one gives a site (possibly with no valid ALT); false at the end.
    pub(super) fn next_site(&mut self, site: &mut Site, book: &mut Book) -> bool {
        loop {
            match self.read_line() {
                Ok(Line::Eof) => return false,
                Ok(Line::Ok) => {}
                Ok(Line::TooLong) => {
                    book.summary.records += 1;
                    book.summary.rejected_records += 1;
                    book.error(
                        &format!("line {}", self.line_no),
                        "",
                        format!("longer than {MAX_LINE} bytes; skipped"),
                    );
                    continue;
                }
                Err(e) => {
                    book.error(
                        &format!("line {}", self.line_no + 1),
                        "",
                        format!("unreadable data, reading stopped: {e}"),
                    );
                    return false;
                }
            }
            self.position.clear();
            // Writing to a String cannot fail.
            let _ = write!(self.position, "line {}", self.line_no);
            site.position = self.line_no;
            let line = std::mem::take(&mut self.line);
            let parsed = self.parse(trim_end(&line), site, book);
            self.line = line;
            if parsed {
                return true;
            }
        }
    }

    /// Parses one data line into `site`; false when the line gives nothing.
    fn parse(&mut self, line: &[u8], site: &mut Site, book: &mut Book) -> bool {
        let at = self.position.as_str();
        if line.is_empty() {
            book.warning(at, "", "empty line");
            return false;
        }
        book.summary.records += 1;
        if line.first() == Some(&b'#') {
            return book.reject(at, "", "header line after the first record");
        }
        let mut columns = line.split(|&b| b == b'\t');
        let mut fixed: [&[u8]; 8] = [&[]; 8];
        for (i, slot) in fixed.iter_mut().enumerate() {
            match columns.next() {
                Some(c) => *slot = c,
                None => {
                    book.error(at, "", format!("{i} columns; a data line has at least 8"));
                    book.summary.rejected_records += 1;
                    return false;
                }
            }
        }
        let [chrom, pos, id, reference, alt, _qual, _filter, info] = fixed;

        // CHROM (parsed again only when it changes).
        if site.chrom.is_none() || site.chrom_key.as_slice() != chrom {
            let parsed = std::str::from_utf8(chrom)
                .map_err(|_| "not UTF-8".to_owned())
                .and_then(|c| Chromosome::parse(c).map_err(|e| super::shape(&e)));
            match parsed {
                Ok(parsed) => {
                    site.chrom = Some(parsed);
                    site.chrom_key.clear();
                    site.chrom_key.extend_from_slice(chrom);
                }
                Err(why) => {
                    site.chrom = None;
                    return book.reject(at, "CHROM", why);
                }
            }
        }

        // POS.
        match parse_pos(pos) {
            Some(p) => site.pos = p,
            None => return book.reject(at, "POS", BAD_POS),
        }

        // REF.
        match parse_ref(reference) {
            Ok(r) => site.reference = Some(r),
            Err(why) => return book.reject(at, "REF", why),
        }

        // ALT.
        let mut alt_count = 0_usize;
        if alt != b"." {
            for (i, a) in alt.split(|&b| b == b',').enumerate() {
                alt_count += 1;
                if alt_count > MAX_ALT_ALLELES {
                    site.alts.clear();
                    return book.reject(
                        at,
                        "ALT",
                        format!("more than {MAX_ALT_ALLELES} ALT alleles"),
                    );
                }
                match classify_alt(a) {
                    AltKind::Allele(allele) => site.alts.push_back((i as u32 + 1, allele)),
                    AltKind::Star => book.summary.spanning_deletions += 1,
                    AltKind::Symbolic => book.summary.symbolic += 1,
                    AltKind::Bad(why) => {
                        book.summary.rejected_alleles += 1;
                        book.error(at, "ALT", format!("allele {}: {why}", i + 1));
                    }
                }
            }
        }
        if site.alts.is_empty() {
            return true;
        }
        notes::parse_ids(id, &mut site.ids);
        notes::keep_vcf_info(info, &mut site.info);
        if self.samples == 0 {
            return true;
        }

        // FORMAT: find GT, DP, AD and AF (cached while FORMAT repeats).
        let format = columns.next();
        let Some(format) = format else {
            book.error(at, "FORMAT", "no FORMAT and sample columns");
            book.summary.missing_genotypes += self.samples as u64;
            super::all_missing(site, self.samples);
            return true;
        };
        if format != self.format.as_slice() {
            self.format.clear();
            self.format.extend_from_slice(format);
            let at = |key: &[u8]| format.split(|&b| b == b':').position(|k| k == key);
            self.gt_field = at(b"GT");
            self.dp_field = at(b"DP");
            self.ad_field = at(b"AD");
            self.af_field = at(b"AF");
        }
        let Some(gt_field) = self.gt_field else {
            book.summary.missing_genotypes += self.samples as u64;
            super::all_missing(site, self.samples);
            return true;
        };

        // Samples.
        let mut seen = 0;
        let (dp_field, ad_field, af_field) = (self.dp_field, self.ad_field, self.af_field);
        for column in columns.by_ref().take(self.samples) {
            seen += 1;
            let mut gt = None;
            let mut dp = None;
            for (k, field) in column.split(|&b| b == b':').enumerate() {
                if k == gt_field {
                    gt = Some(field);
                } else if Some(k) == dp_field {
                    dp = parse_u32(field);
                } else if Some(k) == ad_field {
                    site.ad.extend(field.split(|&b| b == b',').map(parse_u32));
                } else if Some(k) == af_field {
                    site.af.extend(field.split(|&b| b == b',').map(parse_f32));
                }
            }
            if dp_field.is_some() {
                site.dp.push(dp);
            }
            if ad_field.is_some() {
                site.ad_ends
                    .push(u32::try_from(site.ad.len()).unwrap_or(u32::MAX));
            }
            if af_field.is_some() {
                site.af_ends
                    .push(u32::try_from(site.af.len()).unwrap_or(u32::MAX));
            }
            let before = site.gt.len();
            match gt.map(|gt| parse_gt(gt, alt_count, &mut site.gt)) {
                Some(Ok(false)) => {}
                Some(Ok(true)) | None => book.summary.missing_genotypes += 1,
                Some(Err(e)) => {
                    site.gt.truncate(before);
                    book.error(at, "GT", e.message(seen, alt_count));
                }
            }
            site.gt_ends.push(site.gt.len() as u32);
        }
        if seen < self.samples {
            book.error(
                at,
                "",
                format!(
                    "{seen} sample columns but the header names {}",
                    self.samples
                ),
            );
            for _ in seen..self.samples {
                site.gt_ends.push(site.gt.len() as u32);
            }
        } else if columns.next().is_some() {
            book.error(
                at,
                "",
                format!(
                    "more sample columns than the {} the header names; the rest are ignored",
                    self.samples
                ),
            );
        }
        true
    }
}

/// A FORMAT integer (`.` or anything else that is not one: `None`).
fn parse_u32(b: &[u8]) -> Option<u32> {
    std::str::from_utf8(b).ok()?.parse().ok()
}

/// A FORMAT float in [0, 1] (`.` or anything else: `None`).
fn parse_f32(b: &[u8]) -> Option<f32> {
    let v: f32 = std::str::from_utf8(b).ok()?.parse().ok()?;
    (v.is_finite() && (0.0..=1.0).contains(&v)).then_some(v)
}

fn parse_pos(b: &[u8]) -> Option<u32> {
    if b.is_empty() || b.len() > 10 {
        return None;
    }
    let mut value = 0_u64;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        value = value * 10 + u64::from(c - b'0');
    }
    u32::try_from(value).ok().filter(|&p| p > 0)
}

fn trim_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}
