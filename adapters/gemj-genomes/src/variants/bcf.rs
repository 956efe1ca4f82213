//! BCF: the header through noodles, each record framed here (so a length the file claims never
//! sizes an allocation), its site fields through noodles' lazy record, and `GT` decoded here from
//! the raw genotype bytes (BCFv2.2 §6.3.3: typed keys and values, `GT` as `(allele + 1) << 1 |
//! phased`, which noodles-bcf 0.86 decodes only for 8-bit values).
//!
//! noodles-bcf indexes some slices unchecked, so every call into it on record data runs under
//! `catch_unwind`: a record it panics on is a diagnostic, and the framing here lets reading go on.

use std::{
    fmt::Write as _,
    io::{BufRead, Read},
    panic::{AssertUnwindSafe, catch_unwind},
};

use gemj_model::Chromosome;
use noodles::{
    bcf,
    vcf::{
        self,
        variant::record::{
            AlternateBases as _, Ids as _, Info as _, Samples as _,
            info::field::{Value, value::Array},
        },
    },
};

use super::{
    AltKind, BAD_POS, Book, GtError, MAX_ALT_ALLELES, MISSING, Site, classify_alt, notes, parse_ref,
};
use crate::{GenomesError, read_up_to};

/// The fixed part of a record's shared data (BCFv2.2 §6.3.1): CHROM to n_fmt_sample.
const MIN_SHARED: u32 = 24;

pub(super) struct BcfSource<'r> {
    reader: Box<dyn BufRead + Send + 'r>,
    header: vcf::Header,
    keys: FormatKeys,
    record: bcf::Record,
    frame: Vec<u8>,
    record_no: u64,
    position: String,
    samples: usize,
    /// Scratch for a record's identifiers.
    ids: Vec<String>,
}

impl<'r> BcfSource<'r> {
    pub(super) fn new(
        mut reader: Box<dyn BufRead + Send + 'r>,
        book: &mut Book,
    ) -> Result<(Self, Vec<String>), GenomesError> {
        let header_error = |why: String| GenomesError::Header {
            format: "BCF",
            file: book.file.clone(),
            why,
        };
        let read = catch_unwind(AssertUnwindSafe(|| {
            bcf::io::Reader::from(&mut reader).read_header()
        }));
        let header = match read {
            Ok(Ok(header)) => header,
            Ok(Err(e)) => return Err(header_error(e.to_string())),
            Err(_) => return Err(header_error("malformed header".to_owned())),
        };
        let names: Vec<String> = header.sample_names().iter().cloned().collect();
        let strings = header.string_maps().strings();
        let keys = FormatKeys {
            gt: strings.get_index_of("GT"),
            dp: strings.get_index_of("DP"),
            ad: strings.get_index_of("AD"),
            af: strings.get_index_of("AF"),
        };
        if let Some(csq) = header.infos().get("CSQ") {
            book.csq_fields = notes::csq_format(csq.description());
        }
        Ok((
            Self {
                reader,
                keys,
                record: bcf::Record::default(),
                frame: Vec::new(),
                record_no: 0,
                position: String::new(),
                samples: names.len(),
                ids: Vec::new(),
                header,
            },
            names,
        ))
    }

    /// Reads records until one gives a site; false at the end.
    pub(super) fn next_site(&mut self, site: &mut Site, book: &mut Book) -> bool {
        loop {
            let mut lengths = [0_u8; 8];
            let next = self.record_no + 1;
            match read_up_to(&mut self.reader, &mut lengths) {
                Ok(0) => return false,
                Ok(8) => {}
                Ok(_) => {
                    book.error(&format!("record {next}"), "", "cut short; reading stopped");
                    return false;
                }
                Err(e) => {
                    book.error(
                        &format!("record {next}"),
                        "",
                        format!("unreadable data, reading stopped: {e}"),
                    );
                    return false;
                }
            }
            self.record_no = next;
            self.position.clear();
            // Writing to a String cannot fail.
            let _ = write!(self.position, "record {next}");
            site.position = next;
            book.summary.records += 1;

            let [a, b, c, d, e, f, g, h] = lengths;
            let shared = u32::from_le_bytes([a, b, c, d]);
            let indiv = u32::from_le_bytes([e, f, g, h]);
            let want = u64::from(shared) + u64::from(indiv);
            self.frame.clear();
            self.frame.extend_from_slice(&lengths);
            match (&mut self.reader).take(want).read_to_end(&mut self.frame) {
                Ok(n) if n as u64 == want => {}
                Ok(_) => {
                    book.error(&self.position, "", "cut short; reading stopped");
                    book.summary.rejected_records += 1;
                    return false;
                }
                Err(e) => {
                    return book.reject(
                        &self.position,
                        "",
                        format!("unreadable data, reading stopped: {e}"),
                    );
                }
            }
            if shared < MIN_SHARED {
                book.error(
                    &self.position,
                    "",
                    format!("shared data of {shared} bytes, fewer than {MIN_SHARED}"),
                );
                book.summary.rejected_records += 1;
                continue;
            }
            match catch_unwind(AssertUnwindSafe(|| self.decode(site, book))) {
                Ok(true) => return true,
                Ok(false) => {}
                Err(_) => {
                    site.clear();
                    book.error(&self.position, "", "malformed record");
                    book.summary.rejected_records += 1;
                }
            }
        }
    }

    /// Decodes the framed record into `site`; false when it gives nothing.
    fn decode(&mut self, site: &mut Site, book: &mut Book) -> bool {
        let at = self.position.as_str();
        if let Err(e) = bcf::io::Reader::from(&self.frame[..]).read_record(&mut self.record) {
            return book.reject(at, "", format!("unreadable record: {e}"));
        }
        let record = &self.record;

        // CHROM.
        let Ok(id) = record.reference_sequence_id() else {
            return book.reject(at, "CHROM", "negative contig index".to_owned());
        };
        let key = id.to_le_bytes();
        if site.chrom.is_none() || site.chrom_key.as_slice() != key {
            let Some(name) = self.header.string_maps().contigs().get_index(id) else {
                site.chrom = None;
                return book.reject(
                    at,
                    "CHROM",
                    format!("contig index {id} is not in the header"),
                );
            };
            match Chromosome::parse(name) {
                Ok(chrom) => {
                    site.chrom = Some(chrom);
                    site.chrom_key.clear();
                    site.chrom_key.extend_from_slice(&key);
                }
                Err(e) => {
                    site.chrom = None;
                    return book.reject(at, "CHROM", super::shape(&e));
                }
            }
        }

        // POS.
        let pos = match record.variant_start() {
            Some(Ok(p)) => u32::try_from(usize::from(p)).ok(),
            _ => None,
        };
        match pos {
            Some(p) => site.pos = p,
            None => return book.reject(at, "POS", BAD_POS),
        }

        // REF.
        match parse_ref(record.reference_bases().as_ref()) {
            Ok(r) => site.reference = Some(r),
            Err(why) => return book.reject(at, "REF", why),
        }

        // ALT.
        let alternates = record.alternate_bases();
        let alt_count = alternates.len();
        if alt_count > MAX_ALT_ALLELES {
            return book.reject(
                at,
                "ALT",
                format!("more than {MAX_ALT_ALLELES} ALT alleles"),
            );
        }
        for (i, alt) in alternates.iter().enumerate() {
            match alt.map(|a| classify_alt(a.as_bytes())) {
                Ok(AltKind::Allele(allele)) => site.alts.push_back((i as u32 + 1, allele)),
                Ok(AltKind::Star) => book.summary.spanning_deletions += 1,
                Ok(AltKind::Symbolic) => book.summary.symbolic += 1,
                Ok(AltKind::Bad(why)) => {
                    book.summary.rejected_alleles += 1;
                    book.error(at, "ALT", format!("allele {}: {why}", i + 1));
                }
                Err(_) => {
                    book.summary.rejected_alleles += 1;
                    book.error(at, "ALT", format!("allele {}: unreadable", i + 1));
                }
            }
        }
        if site.alts.is_empty() {
            return true;
        }
        for id in record.ids().iter() {
            notes::parse_ids(id.as_bytes(), &mut self.ids);
            site.ids.append(&mut self.ids);
        }
        for field in record.info().iter(&self.header) {
            match field {
                Ok((key, Some(Value::String(value)))) => {
                    notes::keep_info(key, &value, &mut site.info);
                }
                // `Number=.` strings (ANN, CSQ, CLNSIG) come as arrays: their text is the
                // values joined by commas.
                Ok((key, Some(Value::Array(Array::String(values)))))
                    if notes::INFO_KEYS.contains(&key) =>
                {
                    let text: Vec<String> = values
                        .iter()
                        .map(|v| {
                            v.ok()
                                .flatten()
                                .map_or_else(|| ".".to_owned(), std::borrow::Cow::into_owned)
                        })
                        .collect();
                    notes::keep_info(key, &text.join(","), &mut site.info);
                }
                Ok(_) => {}
                Err(_) => {
                    book.warning(at, "INFO", "unreadable INFO; its annotations are not read");
                    site.info.clear();
                    break;
                }
            }
        }
        if self.samples == 0 {
            return true;
        }

        // Samples.
        let Ok(samples) = record.samples() else {
            book.error(at, "FORMAT", "unreadable genotype data");
            book.summary.missing_genotypes += self.samples as u64;
            super::all_missing(site, self.samples);
            return true;
        };
        let count = samples.len();
        let formats = samples.format_count();
        let decoded = decode_format(
            samples.as_ref(),
            formats,
            count,
            &self.keys,
            alt_count,
            site,
            book,
            at,
        );
        match decoded {
            Ok(true) => {}
            Ok(false) => {
                book.summary.missing_genotypes += self.samples as u64;
                super::all_missing(site, self.samples);
            }
            Err(why) => {
                book.error(at, "FORMAT", why);
                book.summary.missing_genotypes += self.samples as u64;
                super::all_missing(site, self.samples);
            }
        }
        if count != self.samples {
            book.error(
                at,
                "",
                format!("{count} samples but the header names {}", self.samples),
            );
            let end = site.gt.len() as u32;
            site.gt_ends.resize(self.samples, end);
        }
        true
    }
}

/// BCF typed value types (BCFv2.2 §6.3.3).
const INT8: u8 = 1;
const INT16: u8 = 2;
const INT32: u8 = 3;
const FLOAT: u8 = 5;
const CHAR: u8 = 7;

fn take<'a>(src: &mut &'a [u8], n: usize) -> Result<&'a [u8], &'static str> {
    if src.len() < n {
        return Err("genotype data cut short");
    }
    let (head, tail) = src.split_at(n);
    *src = tail;
    Ok(head)
}

fn width(ty: u8) -> Result<usize, &'static str> {
    match ty {
        0 => Ok(0),
        INT8 | CHAR => Ok(1),
        INT16 => Ok(2),
        INT32 | FLOAT => Ok(4),
        _ => Err("unknown value type in genotype data"),
    }
}

/// An integer of type `ty` from `b` (which has its width).
fn int(ty: u8, b: &[u8]) -> i64 {
    match (ty, b) {
        (INT8, [x]) => i64::from(*x as i8),
        (INT16, [x, y]) => i64::from(i16::from_le_bytes([*x, *y])),
        (INT32, [x, y, z, w]) => i64::from(i32::from_le_bytes([*x, *y, *z, *w])),
        _ => 0,
    }
}

/// The end-of-vector value of an integer type.
fn end_of_vector(ty: u8) -> i64 {
    match ty {
        INT8 => -127,
        INT16 => -32_767,
        _ => i64::from(i32::MIN) + 1,
    }
}

/// A type descriptor: the type and the count (15 means the count follows as a typed integer).
fn read_type(src: &mut &[u8]) -> Result<(u8, usize), &'static str> {
    let b = *take(src, 1)?.first().unwrap_or(&0);
    let ty = b & 0x0f;
    let mut count = usize::from(b >> 4);
    if count == 15 {
        count = usize::try_from(read_typed_int(src)?).map_err(|_| "negative value count")?;
    }
    Ok((ty, count))
}

fn read_typed_int(src: &mut &[u8]) -> Result<i64, &'static str> {
    let (ty, count) = read_type(src)?;
    if count != 1 || !matches!(ty, INT8 | INT16 | INT32) {
        return Err("expected a typed integer in genotype data");
    }
    let w = width(ty)?;
    Ok(int(ty, take(src, w)?))
}

/// The header's string-map indices of the FORMAT keys read.
struct FormatKeys {
    gt: Option<usize>,
    dp: Option<usize>,
    ad: Option<usize>,
    af: Option<usize>,
}

/// Which FORMAT key a typed key is.
fn key_is(key: i64, wanted: Option<usize>) -> bool {
    wanted.is_some_and(|k| usize::try_from(key).ok() == Some(k))
}

/// The integer values of one sample up to the end of its vector (missing values are `None`).
fn sample_ints(ty: u8, values: &[u8], w: usize, out: &mut Vec<Option<u32>>) {
    let end = end_of_vector(ty);
    let missing = end - 1;
    for value in values.chunks_exact(w.max(1)) {
        let v = int(ty, value);
        if v == end {
            break;
        }
        out.push(if v == missing {
            None
        } else {
            u32::try_from(v).ok()
        });
    }
}

/// The float values of one sample up to the end of its vector (missing values are `None`).
fn sample_floats(values: &[u8], out: &mut Vec<Option<f32>>) {
    for value in values.chunks_exact(4) {
        let bits = u32::from_le_bytes([value[0], value[1], value[2], value[3]]);
        if bits == 0x7F80_0002 {
            break;
        }
        let v = f32::from_bits(bits);
        out.push((bits != 0x7F80_0001 && v.is_finite() && (0.0..=1.0).contains(&v)).then_some(v));
    }
}

/// Decodes `GT` (and `DP`, `AD`, `AF` when present) of every sample into `site`; `Ok(false)`
/// when the record has no `GT`.
#[allow(clippy::too_many_arguments)] // Reason: one private call site; a struct would only rename them.
fn decode_format(
    mut src: &[u8],
    formats: usize,
    samples: usize,
    keys: &FormatKeys,
    alts: usize,
    site: &mut Site,
    book: &mut Book,
    at: &str,
) -> Result<bool, &'static str> {
    let mut found = false;
    for _ in 0..formats {
        let key = read_typed_int(&mut src)?;
        let (ty, count) = read_type(&mut src)?;
        let w = width(ty)?;
        let per_sample = count.checked_mul(w).ok_or("value count too large")?;
        let total = per_sample
            .checked_mul(samples)
            .ok_or("value count too large")?;
        let values = take(&mut src, total)?;
        let of = |s: usize| {
            values
                .get(s * per_sample..(s + 1) * per_sample)
                .unwrap_or_default()
        };
        let ints = matches!(ty, INT8 | INT16 | INT32);
        if key_is(key, keys.dp) && ints && site.dp.is_empty() {
            let mut one = Vec::with_capacity(1);
            for s in 0..samples {
                one.clear();
                sample_ints(ty, of(s), w, &mut one);
                site.dp.push(one.first().copied().flatten());
            }
            continue;
        }
        if key_is(key, keys.ad) && ints && site.ad_ends.is_empty() {
            for s in 0..samples {
                sample_ints(ty, of(s), w, &mut site.ad);
                site.ad_ends
                    .push(u32::try_from(site.ad.len()).unwrap_or(u32::MAX));
            }
            continue;
        }
        if key_is(key, keys.af) && ty == FLOAT && site.af_ends.is_empty() {
            for s in 0..samples {
                sample_floats(of(s), &mut site.af);
                site.af_ends
                    .push(u32::try_from(site.af.len()).unwrap_or(u32::MAX));
            }
            continue;
        }
        if !key_is(key, keys.gt) || found {
            continue;
        }
        if !ints {
            return Err("GT is not stored as integers");
        }
        found = true;
        let end = end_of_vector(ty);
        for s in 0..samples {
            let start = site.gt.len();
            let mut missing = false;
            let mut bad = None;
            let calls = of(s);
            for value in calls.chunks_exact(w.max(1)) {
                let v = int(ty, value);
                if v == end {
                    break;
                }
                let allele = (v >> 1) - 1;
                if allele < 0 {
                    site.gt.push(MISSING);
                    missing = true;
                } else if allele as u64 > alts as u64 {
                    bad = Some(GtError::Index(allele as u64));
                    break;
                } else {
                    site.gt.push(allele as u32);
                }
            }
            if let Some(e) = bad {
                site.gt.truncate(start);
                book.error(at, "GT", e.message(s + 1, alts));
            } else if missing || site.gt.len() == start {
                book.summary.missing_genotypes += 1;
            }
            site.gt_ends.push(site.gt.len() as u32);
        }
    }
    Ok(found)
}
