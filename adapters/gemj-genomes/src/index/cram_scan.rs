//! CRAM indexing (CRAMv3 §6–§8, §12): this crate walks the containers and reads each slice
//! header itself, which gives the CRAI entry of a single-reference or unmapped slice directly (as
//! `samtools index` does). Only multi-reference slices have their records decoded, by noodles,
//! with a stand-in reference (decoding positions needs none; noodles 0.93's own indexer asks the
//! repository for every reference and panics without one).
//!
//! The container headers, blocks and slice headers are read by the workspace's CRAM codec
//! (gemj-cram), which checks every length, count and landmark and the CRC32s; the walk also
//! checks every container length against the file size before noodles sizes a buffer by it.

use std::{
    fs::File,
    io::{self, BufRead, BufReader, Read},
    path::Path,
};

use gemj_cram::{CramError, Version, compression_method, content_type, read_block, slice};
use noodles::{core::Position, cram, fasta, sam::alignment::Record as _};

use super::invalid;
use crate::GenomesError;

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
            // (reference, start, span) of each CRAI entry of the slice.
            let entries: Vec<(Option<usize>, Option<Position>, usize)> = match *context {
                SliceContext::Single { id, start, span } => vec![(
                    id,
                    usize::try_from(start).ok().and_then(Position::new),
                    usize::try_from(span).unwrap_or(0),
                )],
                SliceContext::Many => {
                    let Some((_, header, container)) = noodles.as_ref() else {
                        return Err(invalid(FORMAT, path, at(), "no reader for records"));
                    };
                    let runs = multi_reference_runs(container, header, i, &stand_in)
                        .map_err(|e| invalid(FORMAT, path, at(), e.to_string()))?;
                    runs.into_iter()
                        .map(|(id, start, end)| match (id, start, end) {
                            // As htslib: end − start + 1, which is 1 for unplaced reads (both 0).
                            (None, _, _) => (id, None, 1),
                            (Some(_), Some(s), Some(e)) => (
                                id,
                                Some(s),
                                (usize::from(e) + 1).saturating_sub(usize::from(s)),
                            ),
                            (Some(_), s, _) => (id, s, 0),
                        })
                        .collect()
                }
            };
            for (id, start, span) in entries {
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

/// A reader that counts the bytes read.
struct Counting<R> {
    inner: R,
    offset: u64,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.offset += n as u64;
        Ok(n)
    }
}

/// Walks the containers of a CRAM 2.x or 3.x file of `size` bytes.
pub(super) fn scan_reader(
    r: impl BufRead,
    size: u64,
    path: &Path,
) -> Result<Vec<ContainerInfo>, GenomesError> {
    let mut c = Counting {
        inner: r,
        offset: 0,
    };
    let io_error = |e: io::Error| GenomesError::Io {
        path: path.to_owned(),
        source: e,
    };
    let definition =
        gemj_cram::file_definition::read_file_definition(&mut c).map_err(|e| match e {
            CramError::Io(e) => io_error(e),
            _ => invalid(FORMAT, path, "byte 0", "no CRAM file definition"),
        })?;
    let version = definition.version;
    if !matches!(version.major, 2 | 3) {
        return Err(invalid(
            FORMAT,
            path,
            "byte 4",
            format!(
                "CRAM {}.x is not supported (2.x and 3.x are)",
                version.major
            ),
        ));
    }
    let mut containers = Vec::new();
    let mut data = Vec::new();
    loop {
        let start = c.offset;
        let at = || format!("byte {start}");
        let cram_error = |e: CramError| match e {
            CramError::Io(e) => io_error(e),
            CramError::Truncated => invalid(FORMAT, path, at(), "container cut short"),
            other => invalid(FORMAT, path, at(), other.to_string()),
        };
        if c.inner.fill_buf().map_err(io_error)?.is_empty() {
            return Ok(containers);
        }
        // At most MAX_HEADER_LEN bytes: a damaged landmark count cannot make it read (and keep)
        // the rest of the file as landmarks.
        let max = gemj_cram::container::MAX_HEADER_LEN as u64;
        let header = gemj_cram::read_container_header(&mut (&mut c).take(max), version)
            .map_err(cram_error)?;
        let length = header.length as u64;
        if length > size.saturating_sub(c.offset) {
            return Err(invalid(
                FORMAT,
                path,
                at(),
                "container longer than the rest of the file",
            ));
        }
        data.resize(header.length, 0);
        c.read_exact(&mut data)
            .map_err(|e| cram_error(CramError::from(e)))?;
        let mut slices = Vec::with_capacity(header.landmarks.len());
        if !containers.is_empty() {
            for &landmark in &header.landmarks {
                let block = data.get(landmark..).unwrap_or_default();
                let context = slice_context(block, version)
                    .map_err(|why| invalid(FORMAT, path, at(), why))?;
                slices.push(context);
            }
        }
        containers.push(ContainerInfo {
            offset: start,
            length,
            landmarks: header.landmarks.iter().map(|&l| l as u64).collect(),
            slices,
        });
    }
}

/// The reference context of the slice header block at the start of `block` (CRAMv3 § 8.5).
fn slice_context(mut block: &[u8], version: Version) -> Result<SliceContext, String> {
    let block = read_block(&mut block, version).map_err(|e| format!("slice header block: {e}"))?;
    if block.content_type != content_type::SLICE_HEADER {
        return Err("no slice header at a landmark".into());
    }
    let header: Vec<u8> = match block.compression_method {
        compression_method::RAW => block.data.to_vec(),
        compression_method::GZIP => {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(block.data)
                .take(block.uncompressed_size as u64)
                .read_to_end(&mut out)
                .map_err(|_| "slice header does not decompress")?;
            out
        }
        _ => return Err("slice header compressed with a method other than gzip".into()),
    };
    let (id, start, span) =
        slice::read_reference_context(&mut &header[..]).map_err(|_| "slice header cut short")?;
    match id {
        gemj_cram::MULTI_REFERENCE => Ok(SliceContext::Many),
        gemj_cram::UNMAPPED => Ok(SliceContext::Single {
            id: None,
            start: start.into(),
            span: span.into(),
        }),
        id if id >= 0 => Ok(SliceContext::Single {
            id: usize::try_from(id).ok(),
            start: start.into(),
            span: span.into(),
        }),
        _ => Err("bad slice reference index".into()),
    }
}

#[cfg(test)]
mod tests {
    use gemj_cram::{Block, ContainerHeader, write_block, write_container_header};

    use super::*;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    #[test]
    fn rejects_long_containers() -> TestResult {
        let mut file = b"CRAM\x03\x00".to_vec();
        file.extend([0_u8; 20]);
        let header = ContainerHeader {
            length: 1_000_000,
            reference_sequence_id: 0,
            alignment_start: 0,
            alignment_span: 0,
            record_count: 0,
            record_counter: 0,
            base_count: 0,
            block_count: 0,
            landmarks: Vec::new(),
        };
        write_container_header(&mut file, &header)?;
        let size = file.len() as u64;
        let error = scan_reader(&file[..], size, Path::new("x"))
            .err()
            .map(|e| e.to_string());
        assert!(error.is_some_and(|e| e.contains("longer than the rest")));
        // A damaged CRC32 is caught too.
        let last = file.len() - 1;
        file[last] ^= 1;
        assert!(scan_reader(&file[..], size, Path::new("x")).is_err());
        let mut short = b"CRAM\x03\x00".to_vec();
        short.extend([0_u8; 20]);
        assert_eq!(
            scan_reader(&short[..], short.len() as u64, Path::new("x")).ok(),
            Some(Vec::new())
        );
        assert!(scan_reader(&b"CRAM\x04\x00"[..], 6, Path::new("x")).is_err());
        // Two million landmarks: more than a container header may hold, not read to the end.
        let mut landmarks = short.clone();
        landmarks.extend(i32::MAX.to_le_bytes());
        landmarks.extend([0, 0, 0, 0, 0, 0, 0]);
        gemj_cram::num::write_itf8(&mut landmarks, 2_000_000);
        landmarks.resize(landmarks.len() + 2_000_004, 0);
        let size = landmarks.len() as u64;
        let error = scan_reader(&landmarks[..], size, Path::new("x"))
            .err()
            .map(|e| e.to_string());
        assert!(error.is_some_and(|e| e.contains("cut short")));
        Ok(())
    }

    /// A raw slice header block whose payload is `payload`.
    fn slice_block(content_type: u8, payload: &[u8]) -> Result<Vec<u8>, gemj_cram::CramError> {
        let mut out = Vec::new();
        write_block(&mut out, &Block::raw(content_type, 0, payload))?;
        Ok(out)
    }

    #[test]
    fn slice_contexts() -> TestResult {
        let v3 = Version::V3_0;
        // Reference 1, start 100, span 50.
        let block = slice_block(content_type::SLICE_HEADER, &[1, 100, 50])?;
        assert_eq!(
            slice_context(&block, v3),
            Ok(SliceContext::Single {
                id: Some(1),
                start: 100,
                span: 50
            })
        );
        // Reference -2 (five ITF-8 bytes): several references.
        let many = slice_block(
            content_type::SLICE_HEADER,
            &[0xff, 0xff, 0xff, 0xff, 0x0e, 0, 0],
        )?;
        assert_eq!(slice_context(&many, v3), Ok(SliceContext::Many));
        assert_eq!(
            slice_context(&slice_block(content_type::SLICE_HEADER, &[0x7f, 0, 0])?, v3),
            Ok(SliceContext::Single {
                id: Some(127),
                start: 0,
                span: 0
            })
        );
        assert!(slice_context(&many[..8], v3).is_err());
        assert!(slice_context(&slice_block(content_type::SLICE_HEADER, &[0, 0])?, v3).is_err());
        assert!(slice_context(&slice_block(content_type::EXTERNAL_DATA, &[0, 0, 0])?, v3).is_err());
        assert!(slice_context(&[], v3).is_err());
        // CRAM 2: no CRC32.
        assert_eq!(
            slice_context(&block[..block.len() - 4], Version { major: 2, minor: 1 }),
            Ok(SliceContext::Single {
                id: Some(1),
                start: 100,
                span: 50
            })
        );
        Ok(())
    }
}
