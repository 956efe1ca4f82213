//! Byte-level canonicalisation of CRAM 3.0 data containers written by noodles-cram, through the
//! workspace's CRAM codec (gemj-cram).
//!
//! noodles-cram 0.93 keeps the external data blocks of a slice and the tag encoding map of a
//! compression header in `HashMap`s, so two runs over the same records emit the same blocks in a
//! different order. This module rewrites each data container so that the compression header maps
//! are sorted by key, the blocks of each slice are ordered by content ID (core block first), and
//! the record counters run across the whole file (CRAMv3 § 7, § 8.4, § 8.5). The block payloads
//! themselves are copied unchanged; CRC32 checksums, landmarks and lengths are recomputed.
//!
//! It also drops the `RG:Z` tag values: noodles-cram 0.93 stores a record's read group both in
//! the RG data series and as an `RG:Z` tag, which htslib then prints twice. The tag is removed
//! from the tag sets (`TD`), the tag encoding map and the slices; the RG data series keeps the
//! read group, so every decoder still reports it once.
//!
//! Invariant: no block is decompressed or re-encoded here; only the container layout changes.

use std::io;

use gemj_cram::{
    Block, ContainerHeader, Preservation, Version, compression_header, compression_method,
    content_type, num, read_block, read_compression_header, read_container_header,
    read_slice_header, write_block, write_compression_header, write_container_header,
    write_slice_header,
};

pub(super) use gemj_cram::{EOF_CONTAINER, FILE_DEFINITION_LEN};

/// The `RG:Z` tag key, which is also the content ID of the block holding its values (§ 8.4.3).
const READ_GROUP_TAG_KEY: i32 = compression_header::tag_key(*b"RGZ");

fn invalid(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.to_owned())
}

/// Rewrites the data containers of `src` (a stream of containers without a file definition) into
/// `dst` in canonical form, dropping end-of-file containers.
///
/// `record_counter` is the number of records already written to the file; it is advanced by the
/// records of every rewritten container.
pub(super) fn canonicalize_containers(
    mut src: &[u8],
    record_counter: &mut u64,
    dst: &mut Vec<u8>,
) -> io::Result<()> {
    while !src.is_empty() {
        let header = read_container_header(&mut src, Version::V3_0)?;
        let body = num::take(&mut src, header.length)?;

        if header.record_count == 0 {
            // An end-of-file container (§ 9); the caller writes exactly one at the end.
            continue;
        }

        let counter = *record_counter;
        let new_body = rewrite_container_body(body, &header, counter)?;

        let header = ContainerHeader {
            length: new_body.bytes.len(),
            record_counter: counter,
            block_count: new_body.block_count,
            landmarks: new_body.landmarks,
            ..header
        };

        write_container_header(dst, &header)?;
        dst.extend_from_slice(&new_body.bytes);

        *record_counter += header.record_count as u64;
    }

    Ok(())
}

struct RewrittenBody {
    bytes: Vec<u8>,
    block_count: usize,
    landmarks: Vec<usize>,
}

/// Writes `block` with its payload replaced by `data` (the raw size follows a raw payload; a
/// compressed one keeps the recorded size).
fn write_with_data(dst: &mut Vec<u8>, block: &Block<'_>, data: &[u8]) -> io::Result<()> {
    let uncompressed_size = if block.compression_method == compression_method::RAW {
        data.len()
    } else {
        block.uncompressed_size
    };
    write_block(
        dst,
        &Block {
            uncompressed_size,
            data,
            ..*block
        },
    )?;
    Ok(())
}

fn rewrite_container_body(
    mut src: &[u8],
    header: &ContainerHeader,
    record_counter: u64,
) -> io::Result<RewrittenBody> {
    let mut bytes = Vec::with_capacity(src.len());
    let mut landmarks = Vec::with_capacity(header.landmarks.len());

    let compression_header = read_block(&mut src, Version::V3_0)?;
    let data = canonical_compression_header(compression_header.data)?;
    write_with_data(&mut bytes, &compression_header, &data)?;

    let mut slice_counter = record_counter;
    let mut container_block_count = 1;

    for _ in 0..header.landmarks.len() {
        landmarks.push(bytes.len());

        let slice_header_block = read_block(&mut src, Version::V3_0)?;
        let mut slice_header = read_slice_header(slice_header_block.data)?;

        let mut blocks = Vec::with_capacity(slice_header.block_count.min(1024));

        for _ in 0..slice_header.block_count {
            blocks.push(read_block(&mut src, Version::V3_0)?);
        }

        let mut ids: Vec<i32> = blocks.iter().map(|block| block.content_id).collect();
        let mut listed = slice_header.block_content_ids.clone();
        ids.sort_unstable();
        listed.sort_unstable();

        if ids != listed {
            return Err(invalid(
                "slice block content IDs do not match its blocks (CRAM 3.0 § 8.5)",
            ));
        }

        blocks.retain(|block| {
            !(block.content_type == content_type::EXTERNAL_DATA
                && block.content_id == READ_GROUP_TAG_KEY)
        });
        blocks.sort_by_key(|block| {
            (
                block.content_type != content_type::CORE_DATA,
                block.content_id,
            )
        });

        slice_header.block_content_ids = blocks.iter().map(|block| block.content_id).collect();
        slice_header.block_count = blocks.len();
        slice_header.record_counter = slice_counter;
        container_block_count += 1 + slice_header.block_count;

        let mut data = Vec::with_capacity(slice_header_block.data.len());
        write_slice_header(&mut data, &slice_header)?;
        write_with_data(&mut bytes, &slice_header_block, &data)?;

        for block in &blocks {
            write_with_data(&mut bytes, block, block.data)?;
        }

        slice_counter += slice_header.record_count as u64;
    }

    if !src.is_empty() {
        return Err(invalid(
            "trailing bytes after the last slice of a container (CRAM 3.0 § 7)",
        ));
    }

    Ok(RewrittenBody {
        bytes,
        block_count: container_block_count,
        landmarks,
    })
}

/// Rewrites a raw compression header (§ 8.4): the data series encoding map and the tag encoding
/// map are sorted by key, and the `RG:Z` tag is removed from the tag sets and tag encodings.
fn canonical_compression_header(data: &[u8]) -> io::Result<Vec<u8>> {
    let mut header = read_compression_header(data)?;

    for entry in &mut header.preservation_map {
        if let Preservation::TagDictionary(tag_sets) = entry {
            *tag_sets = strip_read_group_tag(tag_sets)?;
        }
    }
    header.data_series_encodings.sort_by_key(|(key, _)| *key);
    header
        .tag_encodings
        .retain(|(key, _)| *key != READ_GROUP_TAG_KEY);
    header.tag_encodings.sort_by_key(|(key, _)| *key);

    let mut out = Vec::with_capacity(data.len());
    write_compression_header(&mut out, &header)?;
    Ok(out)
}

/// Removes the `RGZ` key from each NUL-terminated list of 3-byte tag keys (§ 8.4.1, `TD`).
fn strip_read_group_tag(tag_sets: &[u8]) -> io::Result<Vec<u8>> {
    let mut lines = compression_header::read_tag_dictionary(tag_sets)?;
    for line in &mut lines {
        line.retain(|&key| key != READ_GROUP_TAG_KEY);
    }
    let mut out = Vec::with_capacity(tag_sets.len());
    compression_header::write_tag_dictionary(&mut out, &lines);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_strip_read_group_tag() -> io::Result<()> {
        assert_eq!(strip_read_group_tag(b"NMCMDZRGZ\0RGZ\0")?, b"NMCMDZ\0\0");
        assert_eq!(strip_read_group_tag(b"")?, b"");
        assert!(strip_read_group_tag(b"NMC").is_err());
        Ok(())
    }

    #[test]
    fn test_eof_container_is_parsed_and_dropped() -> io::Result<()> {
        let mut counter = 5;
        let mut dst = Vec::new();
        canonicalize_containers(&EOF_CONTAINER, &mut counter, &mut dst)?;
        assert!(dst.is_empty());
        assert_eq!(counter, 5);
        Ok(())
    }
}
