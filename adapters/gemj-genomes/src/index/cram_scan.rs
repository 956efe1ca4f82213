//! CRAM indexing (CRAMv3 §6–§8, §12): this crate walks the containers and reads each slice
//! header itself, which gives the CRAI entry of a single-reference or unmapped slice directly (as
//! `samtools index` does). Only multi-reference slices have their records decoded, by noodles,
//! with a stand-in reference (decoding positions needs none; noodles 0.93's own indexer asks the
//! repository for every reference and panics without one).
//!
//! The walk also checks every container length and landmark count against the file size before
//! noodles sizes a buffer by them.

use std::{
    fs::File,
    io::{self, BufReader, Read},
    path::Path,
};

use noodles::{core::Position, cram, fasta, sam::alignment::Record as _};

use super::invalid;
use crate::{GenomesError, read_up_to};

const FORMAT: &str = "CRAM";

/// What a slice header says it covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SliceContext {
    /// One reference (`None`: unmapped reads only), with the start and span the header gives.
    Single {
        id: Option<usize>,
        start: i64,
        span: i64,
    },
    /// Several references: the records say which.
    Many,
}

/// A data container: where it is and what its slices cover.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ContainerInfo {
    /// Byte offset of the container in the file.
    pub(super) offset: u64,
    /// Length of its data after the header.
    pub(super) length: u64,
    /// Slice offsets within the data.
    pub(super) landmarks: Vec<u64>,
    /// One per landmark.
    pub(super) slices: Vec<SliceContext>,
}

/// Builds the CRAI of a CRAM 2.x or 3.x file.
pub(super) fn cram_index(path: &Path) -> Result<cram::crai::Index, GenomesError> {
    let file = File::open(path).map_err(GenomesError::io(path))?;
    let size = file.metadata().map_err(GenomesError::io(path))?.len();
    let containers = scan_reader(BufReader::with_capacity(256 * 1024, file), size, path)?;
    let needs_records = containers
        .iter()
        .any(|c| c.slices.contains(&SliceContext::Many));
    let mut noodles = if needs_records {
        let mut reader = cram::io::Reader::new(File::open(path).map_err(GenomesError::io(path))?);
        let header = reader
            .read_header()
            .map_err(super::noodles_error(FORMAT, path))?;
        Some((reader, header, cram::io::reader::Container::default()))
    } else {
        None
    };
    let stand_in = fasta::Repository::new(StandIn);
    let mut index = Vec::new();
    // The first container holds the SAM header.
    for info in containers.iter().skip(1) {
        let at = || format!("byte {}", info.offset);
        if info.landmarks.is_empty() {
            // No slices (the end-of-file container, or an empty one): nothing to index, and
            // noodles reads such a container as the end of the file.
            continue;
        }
        if let Some((reader, _, container)) = noodles.as_mut() {
            // Bring noodles to this container (past any empty one it read as the end).
            let mut found = false;
            for _ in 0..=containers.len() {
                let position = reader
                    .position()
                    .map_err(super::noodles_error(FORMAT, path))?;
                let n = reader
                    .read_container(container)
                    .map_err(super::noodles_error(FORMAT, path))?;
                if position == info.offset && n > 0 {
                    found = true;
                    break;
                }
                if position >= info.offset {
                    break;
                }
            }
            if !found {
                return Err(invalid(
                    FORMAT,
                    path,
                    at(),
                    "container not found by noodles",
                ));
            }
        }
        for (i, (&landmark, context)) in info.landmarks.iter().zip(&info.slices).enumerate() {
            let end = info.landmarks.get(i + 1).copied().unwrap_or(info.length);
            let slice_length = end
                .checked_sub(landmark)
                .ok_or_else(|| invalid(FORMAT, path, at(), "landmarks out of order"))?;
            match *context {
                SliceContext::Single { id, start, span } => {
                    let start = usize::try_from(start).ok().and_then(Position::new);
                    let span = usize::try_from(span).unwrap_or(0);
                    index.push(cram::crai::Record::new(
                        id,
                        start,
                        span,
                        info.offset,
                        landmark,
                        slice_length,
                    ));
                }
                SliceContext::Many => {
                    let Some((_, header, container)) = noodles.as_ref() else {
                        return Err(invalid(FORMAT, path, at(), "no reader for records"));
                    };
                    let runs = multi_reference_runs(container, header, i, &stand_in)
                        .map_err(|e| invalid(FORMAT, path, at(), e.to_string()))?;
                    for (id, start, end) in runs {
                        // As htslib: end − start + 1, which is 1 for unplaced reads (both 0).
                        let (start, span) = match (id, start, end) {
                            (None, _, _) => (None, 1),
                            (Some(_), Some(s), Some(e)) => {
                                (Some(s), (usize::from(e) + 1).saturating_sub(usize::from(s)))
                            }
                            (Some(_), s, _) => (s, 0),
                        };
                        index.push(cram::crai::Record::new(
                            id,
                            start,
                            span,
                            info.offset,
                            landmark,
                            slice_length,
                        ));
                    }
                }
            }
        }
    }
    Ok(index)
}

type Run = (Option<usize>, Option<Position>, Option<Position>);

/// The runs of one reference in slice `i` of `container`, in record order (as htslib's
/// `cram_index_build_multiref`): reference, first start, last end.
fn multi_reference_runs(
    container: &cram::io::reader::Container,
    header: &noodles::sam::Header,
    i: usize,
    stand_in: &fasta::Repository,
) -> io::Result<Vec<Run>> {
    let slice = container
        .slices()
        .nth(i)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "missing slice"))??;
    let compression_header = container.compression_header()?;
    let (core, external) = slice.decode_blocks()?;
    let records = slice.records(
        stand_in.clone(),
        header,
        &compression_header,
        &core,
        &external,
    )?;
    let mut runs: Vec<Run> = Vec::new();
    for record in &records {
        let id = record.reference_sequence_id(header).transpose()?;
        let start = record.alignment_start().transpose()?;
        // As htslib: an unmapped read placed on a reference ends where it starts.
        let end = if record.flags()?.is_unmapped() {
            start
        } else {
            record.alignment_end().transpose()?
        };
        match runs.last_mut() {
            Some((last, first, last_end)) if *last == id => {
                if first.is_none() {
                    *first = start;
                }
                if end > *last_end {
                    *last_end = end;
                }
            }
            _ => runs.push((id, start, end)),
        }
    }
    Ok(runs)
}

/// A reference repository that has every sequence, empty: record positions decode without
/// bases.
#[derive(Debug)]
struct StandIn;

impl fasta::repository::Adapter for StandIn {
    fn get(&mut self, name: &[u8]) -> Option<io::Result<fasta::Record>> {
        Some(Ok(fasta::Record::new(
            fasta::record::Definition::new(name, None),
            fasta::record::Sequence::default(),
        )))
    }
}

struct Cursor<R> {
    inner: R,
    offset: u64,
}

impl<R: Read> Cursor<R> {
    fn byte(&mut self) -> io::Result<Option<u8>> {
        let mut b = [0_u8; 1];
        let n = read_up_to(&mut self.inner, &mut b)?;
        self.offset += n as u64;
        Ok((n == 1).then_some(b[0]))
    }

    fn fill(&mut self, buf: &mut [u8]) -> io::Result<bool> {
        let n = read_up_to(&mut self.inner, buf)?;
        self.offset += n as u64;
        Ok(n == buf.len())
    }

    fn skip(&mut self, n: u64) -> io::Result<bool> {
        let copied = io::copy(&mut (&mut self.inner).take(n), &mut io::sink())?;
        self.offset += copied;
        Ok(copied == n)
    }
}

/// ITF-8 (CRAMv3 §2.3): up to five bytes; the leading one bits of the first say how many follow.
fn itf8(c: &mut Cursor<impl Read>) -> io::Result<Option<i64>> {
    let Some(b0) = c.byte()? else { return Ok(None) };
    let extra = b0.leading_ones().min(4) as usize;
    let mut value = if extra == 4 {
        i64::from(b0 & 0x0f)
    } else {
        i64::from(b0 & (0xff >> (extra + 1)))
    };
    for i in 0..extra {
        let Some(b) = c.byte()? else { return Ok(None) };
        if extra == 4 && i == 3 {
            value = (value << 4) | i64::from(b & 0x0f);
        } else {
            value = (value << 8) | i64::from(b);
        }
    }
    // Reason: ITF-8 holds a 32-bit two's-complement value.
    Ok(Some(i64::from(value as u32 as i32)))
}

/// LTF-8 (CRAMv3 §2.3): up to nine bytes; only skipped here.
fn ltf8(c: &mut Cursor<impl Read>) -> io::Result<Option<()>> {
    let Some(b0) = c.byte()? else { return Ok(None) };
    let extra = u64::from(b0.leading_ones());
    Ok(c.skip(extra)?.then_some(()))
}

/// Walks the containers of a CRAM 2.x or 3.x file of `size` bytes.
pub(super) fn scan_reader(
    r: impl Read,
    size: u64,
    path: &Path,
) -> Result<Vec<ContainerInfo>, GenomesError> {
    let mut c = Cursor {
        inner: r,
        offset: 0,
    };
    let io_error = |e: io::Error| GenomesError::Io {
        path: path.to_owned(),
        source: e,
    };
    let mut definition = [0_u8; 26];
    if !c.fill(&mut definition).map_err(io_error)? || !definition.starts_with(b"CRAM") {
        return Err(invalid(FORMAT, path, "byte 0", "no CRAM file definition"));
    }
    let major = definition[4];
    if !matches!(major, 2 | 3) {
        return Err(invalid(
            FORMAT,
            path,
            "byte 4",
            format!("CRAM {major}.x is not supported (2.x and 3.x are)"),
        ));
    }
    let mut containers = Vec::new();
    let mut data = Vec::new();
    loop {
        let start = c.offset;
        let at = || format!("byte {start}");
        let cut = || invalid(FORMAT, path, format!("byte {start}"), "container cut short");
        let mut length = [0_u8; 4];
        let n = read_up_to(&mut c.inner, &mut length).map_err(io_error)?;
        c.offset += n as u64;
        if n == 0 {
            return Ok(containers);
        }
        if n < 4 {
            return Err(cut());
        }
        let length = u64::try_from(i32::from_le_bytes(length))
            .map_err(|_| invalid(FORMAT, path, at(), "negative container length"))?;
        // Reference id, start, span, record count.
        for _ in 0..4 {
            itf8(&mut c).map_err(io_error)?.ok_or_else(cut)?;
        }
        // Record counter and bases (ITF-8 before 3.0).
        for _ in 0..2 {
            if major >= 3 {
                ltf8(&mut c).map_err(io_error)?.ok_or_else(cut)?;
            } else {
                itf8(&mut c).map_err(io_error)?.ok_or_else(cut)?;
            }
        }
        // Block count, landmarks, CRC32.
        itf8(&mut c).map_err(io_error)?.ok_or_else(cut)?;
        let count = itf8(&mut c).map_err(io_error)?.ok_or_else(cut)?;
        let count = u64::try_from(count)
            .ok()
            .filter(|&n| n <= length)
            .ok_or_else(|| invalid(FORMAT, path, at(), "bad landmark count"))?;
        let mut landmarks = Vec::new();
        for _ in 0..count {
            let landmark = itf8(&mut c).map_err(io_error)?.ok_or_else(cut)?;
            let landmark = u64::try_from(landmark)
                .ok()
                .filter(|&l| l < length)
                .ok_or_else(|| invalid(FORMAT, path, at(), "landmark outside the container"))?;
            landmarks.push(landmark);
        }
        if major >= 3 && !c.skip(4).map_err(io_error)? {
            return Err(cut());
        }
        if length > size.saturating_sub(c.offset) {
            return Err(invalid(
                FORMAT,
                path,
                at(),
                "container longer than the rest of the file",
            ));
        }
        let length_usize = usize::try_from(length).map_err(|_| cut())?;
        data.resize(length_usize, 0);
        if !c.fill(&mut data).map_err(io_error)? {
            return Err(cut());
        }
        let mut slices = Vec::with_capacity(landmarks.len());
        if !containers.is_empty() {
            for &landmark in &landmarks {
                let block = data.get(landmark as usize..).unwrap_or_default();
                let context =
                    slice_context(block).map_err(|why| invalid(FORMAT, path, at(), why))?;
                slices.push(context);
            }
        }
        containers.push(ContainerInfo {
            offset: start,
            length,
            landmarks,
            slices,
        });
    }
}

/// The reference context of the slice header block at the start of `block` (CRAMv3 §8.5).
fn slice_context(block: &[u8]) -> Result<SliceContext, &'static str> {
    let mut c = Cursor {
        inner: block,
        offset: 0,
    };
    let truncated = "slice header cut short";
    let method = c.byte().ok().flatten().ok_or(truncated)?;
    let content_type = c.byte().ok().flatten().ok_or(truncated)?;
    // Content type 2 is a slice header (3.0 "MAPPED_SLICE").
    if content_type != 2 {
        return Err("no slice header at a landmark");
    }
    let _content_id = itf8(&mut c).ok().flatten().ok_or(truncated)?;
    let compressed = itf8(&mut c).ok().flatten().ok_or(truncated)?;
    let raw = itf8(&mut c).ok().flatten().ok_or(truncated)?;
    let (Ok(compressed), Ok(raw)) = (usize::try_from(compressed), usize::try_from(raw)) else {
        return Err("negative block size");
    };
    let rest = c.inner;
    let payload = rest.get(..compressed).ok_or(truncated)?;
    let header: Vec<u8> = match method {
        0 => payload.to_vec(),
        1 => {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(payload)
                .take(raw as u64)
                .read_to_end(&mut out)
                .map_err(|_| "slice header does not decompress")?;
            out
        }
        _ => return Err("slice header compressed with a method other than gzip"),
    };
    let mut h = Cursor {
        inner: header.as_slice(),
        offset: 0,
    };
    let id = itf8(&mut h).ok().flatten().ok_or(truncated)?;
    let start = itf8(&mut h).ok().flatten().ok_or(truncated)?;
    let span = itf8(&mut h).ok().flatten().ok_or(truncated)?;
    match id {
        -2 => Ok(SliceContext::Many),
        -1 => Ok(SliceContext::Single {
            id: None,
            start,
            span,
        }),
        id if id >= 0 => Ok(SliceContext::Single {
            id: usize::try_from(id).ok(),
            start,
            span,
        }),
        _ => Err("bad slice reference index"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_itf8(bytes: &[u8], expect: Option<i64>) {
        let mut c = Cursor {
            inner: bytes,
            offset: 0,
        };
        assert_eq!(itf8(&mut c).ok().flatten(), expect, "{bytes:x?}");
    }

    #[test]
    fn itf8_values() {
        check_itf8(&[0x00], Some(0));
        check_itf8(&[0x7f], Some(127));
        check_itf8(&[0x80, 0xff], Some(255));
        check_itf8(&[0xc0, 0x40, 0x00], Some(0x4000));
        check_itf8(&[0xe0, 0x10, 0x00, 0x00], Some(0x10_0000));
        check_itf8(&[0xff, 0xff, 0xff, 0xff, 0x0f], Some(-1));
        check_itf8(&[0xc0, 0x40], None);
        check_itf8(&[], None);
    }

    #[test]
    fn rejects_long_containers() {
        let mut file = b"CRAM\x03\x00".to_vec();
        file.extend([0_u8; 20]);
        // Length 1,000,000, then eight one-byte fields, no landmarks, CRC.
        file.extend(1_000_000_i32.to_le_bytes());
        file.extend([0_u8; 8]);
        file.extend([0_u8; 4]);
        let size = file.len() as u64;
        assert!(scan_reader(&file[..], size, Path::new("x")).is_err());
        let mut short = b"CRAM\x03\x00".to_vec();
        short.extend([0_u8; 20]);
        assert_eq!(
            scan_reader(&short[..], short.len() as u64, Path::new("x")).ok(),
            Some(Vec::new())
        );
        assert!(scan_reader(&b"CRAM\x04\x00"[..], 6, Path::new("x")).is_err());
    }

    #[test]
    fn slice_contexts() {
        // Raw block, slice header content type, id 0, sizes 3 and 3: reference 1, start 100,
        // span 50.
        let block = [0, 2, 0, 3, 3, 1, 100, 50];
        assert_eq!(
            slice_context(&block),
            Ok(SliceContext::Single {
                id: Some(1),
                start: 100,
                span: 50
            })
        );
        // Reference -2 (five ITF-8 bytes): several references.
        let many = [0, 2, 0, 7, 7, 0xff, 0xff, 0xff, 0xff, 0x0e, 0, 0];
        assert_eq!(slice_context(&many), Ok(SliceContext::Many));
        assert_eq!(
            slice_context(&[0, 2, 0, 3, 3, 0x7f, 0, 0]),
            Ok(SliceContext::Single {
                id: Some(127),
                start: 0,
                span: 0
            })
        );
        assert!(slice_context(&many[..8]).is_err());
        assert!(slice_context(&[0, 4, 0, 1, 1, 0]).is_err());
        assert!(slice_context(&[]).is_err());
    }
}
