//! Byte-level canonicalisation of CRAM 3.0 data containers written by noodles-cram.
//!
//! noodles-cram 0.93 keeps the external data blocks of a slice and the tag encoding map of a
//! compression header in `HashMap`s, so two runs over the same records emit the same blocks in a
//! different order. This module rewrites each data container so that the compression header maps
//! are sorted by key, the blocks of each slice are ordered by content ID (core block first), and
//! the record counters run across the whole file (CRAM 3.0 § 7, § 8.4, § 8.5). The block payloads
//! themselves are copied unchanged; CRC32 checksums, landmarks and lengths are recomputed.
//!
//! It also drops the `RG:Z` tag values: noodles-cram 0.93 stores a record's read group both in
//! the RG data series and as an `RG:Z` tag, which htslib then prints twice. The tag is removed
//! from the tag sets (`TD`), the tag encoding map and the slices; the RG data series keeps the
//! read group, so every decoder still reports it once.
//!
//! Invariant: no block is decompressed or re-encoded here; only the container layout changes.

use std::io;

/// The CRAM 3.0 end-of-file container (§ 9).
pub(super) const EOF_CONTAINER: [u8; 38] = [
    0x0f, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0x0f, 0xe0, 0x45, 0x4f, 0x46, 0x00, 0x00, 0x00,
    0x00, 0x01, 0x00, 0x05, 0xbd, 0xd9, 0x4f, 0x00, 0x01, 0x00, 0x06, 0x06, 0x01, 0x00, 0x01, 0x00,
    0x01, 0x00, 0xee, 0x63, 0x01, 0x4b,
];

/// The length of the CRAM file definition (§ 6): magic, version and file ID.
pub(super) const FILE_DEFINITION_LEN: usize = 26;

/// Block content type of a core data block (§ 8.1).
const CORE_DATA: u8 = 5;

/// Block content type of an external data block (§ 8.1).
const EXTERNAL_DATA: u8 = 4;

/// The `RG:Z` tag key (tag name and BAM type) as a 24-bit integer, which is also the content ID
/// of the block holding its values (§ 8.4.3).
const READ_GROUP_TAG_KEY: i32 = (0x52 << 16) | (0x47 << 8) | 0x5a;

fn invalid(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.to_owned())
}

/// Rewrites the data containers of `src` (a stream of containers without a file definition) into
/// `dst` in canonical form, dropping end-of-file containers.
///
/// `record_counter` is the number of records already written to the file; it is advanced by the
/// records of every rewritten container.
pub(super) fn canonicalize_containers(
    src: &[u8],
    record_counter: &mut u64,
    dst: &mut Vec<u8>,
) -> io::Result<()> {
    let mut reader = ByteReader::new(src);

    while !reader.is_empty() {
        let header = ContainerHeader::read(&mut reader)?;
        let body = reader.take(header.length)?;

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

        header.write(dst)?;
        dst.extend_from_slice(&new_body.bytes);

        let record_count = u64::try_from(header.record_count)
            .map_err(|_| invalid("negative container record count (CRAM 3.0 § 7)"))?;
        *record_counter += record_count;
    }

    Ok(())
}

struct RewrittenBody {
    bytes: Vec<u8>,
    block_count: i32,
    landmarks: Vec<i32>,
}

fn rewrite_container_body(
    body: &[u8],
    header: &ContainerHeader,
    record_counter: u64,
) -> io::Result<RewrittenBody> {
    let mut reader = ByteReader::new(body);
    let mut bytes = Vec::with_capacity(body.len());
    let mut landmarks = Vec::with_capacity(header.landmarks.len());

    let compression_header = Block::read(&mut reader)?;
    let data = canonical_compression_header(&compression_header.data)?;
    Block {
        data,
        ..compression_header
    }
    .write(&mut bytes)?;

    let mut slice_counter = record_counter;
    let mut container_block_count = 1;

    for _ in 0..header.landmarks.len() {
        landmarks.push(
            i32::try_from(bytes.len())
                .map_err(|_| invalid("container too large (CRAM 3.0 § 7)"))?,
        );

        let slice_header_block = Block::read(&mut reader)?;
        let mut slice_header = SliceHeader::parse(&slice_header_block.data)?;

        let block_count = usize::try_from(slice_header.block_count)
            .map_err(|_| invalid("negative slice block count (CRAM 3.0 § 8.5)"))?;
        let mut blocks = Vec::with_capacity(block_count);

        for _ in 0..block_count {
            blocks.push(Block::read(&mut reader)?);
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
            !(block.content_type == EXTERNAL_DATA && block.content_id == READ_GROUP_TAG_KEY)
        });
        blocks.sort_by_key(|block| (block.content_type != CORE_DATA, block.content_id));

        slice_header.block_content_ids = blocks.iter().map(|block| block.content_id).collect();
        slice_header.block_count =
            i32::try_from(blocks.len()).map_err(|_| invalid("too many blocks (CRAM 3.0 § 8.5)"))?;
        slice_header.record_counter = slice_counter;
        container_block_count += 1 + slice_header.block_count;

        Block {
            data: slice_header.to_bytes(),
            ..slice_header_block
        }
        .write(&mut bytes)?;

        for block in &blocks {
            block.write(&mut bytes)?;
        }

        let record_count = u64::try_from(slice_header.record_count)
            .map_err(|_| invalid("negative slice record count (CRAM 3.0 § 8.5)"))?;
        slice_counter += record_count;
    }

    if !reader.is_empty() {
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
    let mut reader = ByteReader::new(data);
    let mut out = Vec::with_capacity(data.len());

    canonical_preservation_map(&mut reader, &mut out)?;

    // Data series encoding map: two-byte keys.
    canonical_encoding_map(&mut reader, &mut out, |r| {
        let key = r.take(2)?;
        Ok((
            i64::from(u16::from_be_bytes([key[0], key[1]])),
            key.to_vec(),
        ))
    })?;

    // Tag encoding map: itf8 keys.
    canonical_encoding_map(&mut reader, &mut out, |r| {
        let key = r.itf8()?;
        let mut buf = Vec::new();
        write_itf8(&mut buf, key);
        Ok((i64::from(key), buf))
    })?;

    if !reader.is_empty() {
        return Err(invalid(
            "trailing bytes in a compression header (CRAM 3.0 § 8.4)",
        ));
    }

    Ok(out)
}

/// Copies the preservation map, removing `RG:Z` from every tag set of `TD`.
fn canonical_preservation_map(reader: &mut ByteReader<'_>, out: &mut Vec<u8>) -> io::Result<()> {
    let len = reader.itf8_len()?;
    let mut map = ByteReader::new(reader.take(len)?);

    let count = map.itf8()?;
    let mut body = Vec::with_capacity(len);
    write_itf8(&mut body, count);

    for _ in 0..count {
        let key = map.take(2)?;
        body.extend_from_slice(key);

        match key {
            b"RN" | b"AP" | b"RR" => body.push(map.u8()?),
            b"SM" => body.extend_from_slice(map.take(5)?),
            b"TD" => {
                let len = map.itf8_len()?;
                let tag_sets = strip_read_group_tag(map.take(len)?)?;
                write_itf8(
                    &mut body,
                    i32::try_from(tag_sets.len()).map_err(|_| invalid("map too large"))?,
                );
                body.extend_from_slice(&tag_sets);
            }
            _ => {
                return Err(invalid("unknown preservation map key (CRAM 3.0 § 8.4.1)"));
            }
        }
    }

    if !map.is_empty() {
        return Err(invalid(
            "trailing bytes in the preservation map (CRAM 3.0 § 8.4.1)",
        ));
    }

    write_itf8(
        out,
        i32::try_from(body.len()).map_err(|_| invalid("map too large"))?,
    );
    out.extend_from_slice(&body);

    Ok(())
}

/// Removes the `RGZ` key from each NUL-terminated list of 3-byte tag keys (§ 8.4.1, `TD`).
fn strip_read_group_tag(tag_sets: &[u8]) -> io::Result<Vec<u8>> {
    let key = READ_GROUP_TAG_KEY.to_be_bytes();
    let mut out = Vec::with_capacity(tag_sets.len());

    for line in tag_sets.split_inclusive(|&b| b == 0) {
        let Some((&0, keys)) = line.split_last() else {
            return Err(invalid("unterminated tag set (CRAM 3.0 § 8.4.1)"));
        };

        if keys.len() % 3 != 0 {
            return Err(invalid("malformed tag set (CRAM 3.0 § 8.4.1)"));
        }

        for tag in keys.chunks_exact(3) {
            if tag != &key[1..] {
                out.extend_from_slice(tag);
            }
        }

        out.push(0);
    }

    Ok(out)
}

/// Copies an encoding map (§ 8.4.2, § 8.4.3) with its entries sorted by key, dropping the entry
/// of the `RG:Z` tag.
fn canonical_encoding_map(
    reader: &mut ByteReader<'_>,
    out: &mut Vec<u8>,
    read_key: impl Fn(&mut ByteReader<'_>) -> io::Result<(i64, Vec<u8>)>,
) -> io::Result<()> {
    let len = reader.itf8_len()?;
    let mut map = ByteReader::new(reader.take(len)?);

    let count = map.itf8_len()?;
    let mut entries = Vec::with_capacity(count);

    for _ in 0..count {
        let (key, key_bytes) = read_key(&mut map)?;
        let start = map.position;
        let _codec_id = map.itf8()?;
        let params_len = map.itf8_len()?;
        map.take(params_len)?;
        let encoding = &map.data[start..map.position];
        entries.push((key, key_bytes, encoding));
    }

    if !map.is_empty() {
        return Err(invalid(
            "trailing bytes in an encoding map (CRAM 3.0 § 8.4)",
        ));
    }

    entries.retain(|(key, _, _)| *key != i64::from(READ_GROUP_TAG_KEY));
    entries.sort_by_key(|(key, _, _)| *key);

    let mut body = Vec::with_capacity(len);
    write_itf8(
        &mut body,
        i32::try_from(entries.len()).map_err(|_| invalid("map too large"))?,
    );

    for (_, key_bytes, encoding) in entries {
        body.extend_from_slice(&key_bytes);
        body.extend_from_slice(encoding);
    }

    write_itf8(
        out,
        i32::try_from(body.len()).map_err(|_| invalid("map too large"))?,
    );
    out.extend_from_slice(&body);

    Ok(())
}

/// A container header (§ 7).
#[derive(Clone, Debug)]
struct ContainerHeader {
    length: usize,
    reference_sequence_id: i32,
    alignment_start: i32,
    alignment_span: i32,
    record_count: i32,
    record_counter: u64,
    base_count: u64,
    block_count: i32,
    landmarks: Vec<i32>,
}

impl ContainerHeader {
    fn read(reader: &mut ByteReader<'_>) -> io::Result<Self> {
        let start = reader.position;

        let length = usize::try_from(reader.i32_le()?)
            .map_err(|_| invalid("negative container length (CRAM 3.0 § 7)"))?;
        let reference_sequence_id = reader.itf8()?;
        let alignment_start = reader.itf8()?;
        let alignment_span = reader.itf8()?;
        let record_count = reader.itf8()?;
        let record_counter = u64::try_from(reader.ltf8()?)
            .map_err(|_| invalid("negative record counter (CRAM 3.0 § 7)"))?;
        let base_count = u64::try_from(reader.ltf8()?)
            .map_err(|_| invalid("negative base count (CRAM 3.0 § 7)"))?;
        let block_count = reader.itf8()?;

        let landmark_count = reader.itf8_len()?;
        let mut landmarks = Vec::with_capacity(landmark_count);

        for _ in 0..landmark_count {
            landmarks.push(reader.itf8()?);
        }

        let end = reader.position;
        let expected = reader.u32_le()?;

        if crc32(&reader.data[start..end]) != expected {
            return Err(invalid("container header CRC32 mismatch (CRAM 3.0 § 7)"));
        }

        Ok(Self {
            length,
            reference_sequence_id,
            alignment_start,
            alignment_span,
            record_count,
            record_counter,
            base_count,
            block_count,
            landmarks,
        })
    }

    fn write(&self, dst: &mut Vec<u8>) -> io::Result<()> {
        let mut buf = Vec::with_capacity(64);

        let length = i32::try_from(self.length)
            .map_err(|_| invalid("container too large (CRAM 3.0 § 7)"))?;
        buf.extend_from_slice(&length.to_le_bytes());
        write_itf8(&mut buf, self.reference_sequence_id);
        write_itf8(&mut buf, self.alignment_start);
        write_itf8(&mut buf, self.alignment_span);
        write_itf8(&mut buf, self.record_count);
        write_ltf8(&mut buf, to_i64(self.record_counter)?);
        write_ltf8(&mut buf, to_i64(self.base_count)?);
        write_itf8(&mut buf, self.block_count);
        write_itf8(
            &mut buf,
            i32::try_from(self.landmarks.len()).map_err(|_| invalid("too many landmarks"))?,
        );

        for &landmark in &self.landmarks {
            write_itf8(&mut buf, landmark);
        }

        let crc = crc32(&buf);
        buf.extend_from_slice(&crc.to_le_bytes());
        dst.extend_from_slice(&buf);

        Ok(())
    }
}

fn to_i64(n: u64) -> io::Result<i64> {
    i64::try_from(n).map_err(|_| invalid("counter out of range (CRAM 3.0 § 2.3)"))
}

/// A block (§ 8.1), with its (possibly compressed) payload kept as is.
#[derive(Clone, Debug)]
struct Block {
    compression_method: u8,
    content_type: u8,
    content_id: i32,
    uncompressed_size: i32,
    data: Vec<u8>,
}

impl Block {
    fn read(reader: &mut ByteReader<'_>) -> io::Result<Self> {
        let start = reader.position;

        let compression_method = reader.u8()?;
        let content_type = reader.u8()?;
        let content_id = reader.itf8()?;
        let size = reader.itf8_len()?;
        let uncompressed_size = reader.itf8()?;
        let data = reader.take(size)?.to_vec();

        let end = reader.position;
        let expected = reader.u32_le()?;

        if crc32(&reader.data[start..end]) != expected {
            return Err(invalid("block CRC32 mismatch (CRAM 3.0 § 8.1)"));
        }

        Ok(Self {
            compression_method,
            content_type,
            content_id,
            uncompressed_size,
            data,
        })
    }

    fn write(&self, dst: &mut Vec<u8>) -> io::Result<()> {
        let start = dst.len();

        dst.push(self.compression_method);
        dst.push(self.content_type);
        write_itf8(dst, self.content_id);
        write_itf8(
            dst,
            i32::try_from(self.data.len()).map_err(|_| invalid("block too large"))?,
        );

        // A raw block's uncompressed size is its size; a compressed one keeps the recorded size.
        let uncompressed_size = if self.compression_method == 0 {
            i32::try_from(self.data.len()).map_err(|_| invalid("block too large"))?
        } else {
            self.uncompressed_size
        };

        write_itf8(dst, uncompressed_size);
        dst.extend_from_slice(&self.data);

        let crc = crc32(&dst[start..]);
        dst.extend_from_slice(&crc.to_le_bytes());

        Ok(())
    }
}

/// A slice header (§ 8.5); optional tags are kept as raw bytes.
#[derive(Clone, Debug)]
struct SliceHeader {
    reference_sequence_id: i32,
    alignment_start: i32,
    alignment_span: i32,
    record_count: i32,
    record_counter: u64,
    block_count: i32,
    block_content_ids: Vec<i32>,
    embedded_reference_bases_block_content_id: i32,
    reference_md5: [u8; 16],
    optional_tags: Vec<u8>,
}

impl SliceHeader {
    fn parse(data: &[u8]) -> io::Result<Self> {
        let mut reader = ByteReader::new(data);

        let reference_sequence_id = reader.itf8()?;
        let alignment_start = reader.itf8()?;
        let alignment_span = reader.itf8()?;
        let record_count = reader.itf8()?;
        let record_counter = u64::try_from(reader.ltf8()?)
            .map_err(|_| invalid("negative record counter (CRAM 3.0 § 8.5)"))?;
        let block_count = reader.itf8()?;

        let id_count = reader.itf8_len()?;
        let mut block_content_ids = Vec::with_capacity(id_count);

        for _ in 0..id_count {
            block_content_ids.push(reader.itf8()?);
        }

        let embedded_reference_bases_block_content_id = reader.itf8()?;

        let mut reference_md5 = [0; 16];
        reference_md5.copy_from_slice(reader.take(16)?);

        let optional_tags = reader.data[reader.position..].to_vec();

        Ok(Self {
            reference_sequence_id,
            alignment_start,
            alignment_span,
            record_count,
            record_counter,
            block_count,
            block_content_ids,
            embedded_reference_bases_block_content_id,
            reference_md5,
            optional_tags,
        })
    }

    fn to_bytes(&self) -> Vec<u8> {
        let mut buf = Vec::with_capacity(64 + self.optional_tags.len());

        write_itf8(&mut buf, self.reference_sequence_id);
        write_itf8(&mut buf, self.alignment_start);
        write_itf8(&mut buf, self.alignment_span);
        write_itf8(&mut buf, self.record_count);
        // Record counters stay far below 2^63 (one u64 per record).
        write_ltf8(&mut buf, self.record_counter as i64);
        write_itf8(&mut buf, self.block_count);
        // Slices hold at most a few dozen blocks.
        write_itf8(&mut buf, self.block_content_ids.len() as i32);

        for &id in &self.block_content_ids {
            write_itf8(&mut buf, id);
        }

        write_itf8(&mut buf, self.embedded_reference_bases_block_content_id);
        buf.extend_from_slice(&self.reference_md5);
        buf.extend_from_slice(&self.optional_tags);

        buf
    }
}

struct ByteReader<'a> {
    data: &'a [u8],
    position: usize,
}

impl<'a> ByteReader<'a> {
    fn new(data: &'a [u8]) -> Self {
        Self { data, position: 0 }
    }

    fn is_empty(&self) -> bool {
        self.position >= self.data.len()
    }

    fn take(&mut self, len: usize) -> io::Result<&'a [u8]> {
        let end = self
            .position
            .checked_add(len)
            .filter(|&end| end <= self.data.len())
            .ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof))?;
        let buf = &self.data[self.position..end];
        self.position = end;
        Ok(buf)
    }

    fn u8(&mut self) -> io::Result<u8> {
        Ok(self.take(1)?[0])
    }

    fn i32_le(&mut self) -> io::Result<i32> {
        let mut buf = [0; 4];
        buf.copy_from_slice(self.take(4)?);
        Ok(i32::from_le_bytes(buf))
    }

    fn u32_le(&mut self) -> io::Result<u32> {
        let mut buf = [0; 4];
        buf.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(buf))
    }

    /// Reads an ITF-8 integer (§ 2.3).
    fn itf8(&mut self) -> io::Result<i32> {
        let b0 = u32::from(self.u8()?);

        let n = if b0 & 0x80 == 0 {
            b0
        } else if b0 & 0x40 == 0 {
            ((b0 & 0x7f) << 8) | u32::from(self.u8()?)
        } else if b0 & 0x20 == 0 {
            let rest = self.take(2)?;
            ((b0 & 0x3f) << 16) | (u32::from(rest[0]) << 8) | u32::from(rest[1])
        } else if b0 & 0x10 == 0 {
            let rest = self.take(3)?;
            ((b0 & 0x1f) << 24)
                | (u32::from(rest[0]) << 16)
                | (u32::from(rest[1]) << 8)
                | u32::from(rest[2])
        } else {
            let rest = self.take(4)?;
            ((b0 & 0x0f) << 28)
                | (u32::from(rest[0]) << 20)
                | (u32::from(rest[1]) << 12)
                | (u32::from(rest[2]) << 4)
                | (u32::from(rest[3]) & 0x0f)
        };

        Ok(n as i32)
    }

    /// Reads a non-negative ITF-8 integer used as a length or count.
    fn itf8_len(&mut self) -> io::Result<usize> {
        usize::try_from(self.itf8()?).map_err(|_| invalid("negative length (CRAM 3.0 § 2.3)"))
    }

    /// Reads an LTF-8 integer (§ 2.3).
    fn ltf8(&mut self) -> io::Result<i64> {
        let b0 = self.u8()?;
        let extra = b0.leading_ones() as usize;

        let mut n: u64 = if extra >= 7 {
            0
        } else {
            u64::from(b0) & ((1 << (7 - extra)) - 1)
        };

        for &b in self.take(extra)? {
            n = (n << 8) | u64::from(b);
        }

        Ok(n as i64)
    }
}

/// Writes an ITF-8 integer (§ 2.3), byte-for-byte as noodles-cram does.
fn write_itf8(dst: &mut Vec<u8>, n: i32) {
    if n >> 7 == 0 {
        dst.push(n as u8);
    } else if n >> 14 == 0 {
        let m = (n as u16) | (0x80 << 8);
        dst.extend_from_slice(&m.to_be_bytes());
    } else if n >> 21 == 0 {
        let m = (n as u32) | (0xc0 << 16);
        dst.extend_from_slice(&m.to_be_bytes()[1..]);
    } else if n >> 28 == 0 {
        let m = (n as u32) | (0xe0 << 24);
        dst.extend_from_slice(&m.to_be_bytes());
    } else {
        let m = u64::from(n as u32);
        let m = (0xf0 << 32) | ((m & 0xffff_fff0) << 4) | (m & 0x0f);
        dst.extend_from_slice(&m.to_be_bytes()[3..]);
    }
}

/// Writes an LTF-8 integer (§ 2.3), byte-for-byte as noodles-cram does.
fn write_ltf8(dst: &mut Vec<u8>, n: i64) {
    if n >> 7 == 0 {
        dst.push(n as u8);
    } else if n >> 14 == 0 {
        let m = (n as u16) | (0x80 << 8);
        dst.extend_from_slice(&m.to_be_bytes());
    } else if n >> 21 == 0 {
        let m = (n as u32) | (0xc0 << 16);
        dst.extend_from_slice(&m.to_be_bytes()[1..]);
    } else if n >> 28 == 0 {
        let m = (n as u32) | (0xe0 << 24);
        dst.extend_from_slice(&m.to_be_bytes());
    } else if n >> 35 == 0 {
        let m = (n as u64) | (0xf0 << 32);
        dst.extend_from_slice(&m.to_be_bytes()[3..]);
    } else if n >> 42 == 0 {
        let m = (n as u64) | (0xf8 << 40);
        dst.extend_from_slice(&m.to_be_bytes()[2..]);
    } else if n >> 49 == 0 {
        let m = (n as u64) | (0xfc << 48);
        dst.extend_from_slice(&m.to_be_bytes()[1..]);
    } else if n >> 56 == 0 {
        let m = (n as u64) | (0xfe << 56);
        dst.extend_from_slice(&m.to_be_bytes());
    } else {
        dst.push(0xff);
        dst.extend_from_slice(&n.to_be_bytes());
    }
}

/// The CRC-32 (IEEE 802.3, as in zlib) that CRAM 3.0 uses for headers and blocks.
fn crc32(data: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut table = [0u32; 256];
        let mut i = 0;

        while i < 256 {
            let mut c = i as u32;
            let mut k = 0;

            while k < 8 {
                c = if c & 1 == 1 {
                    0xedb8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
                k += 1;
            }

            table[i] = c;
            i += 1;
        }

        table
    };

    let mut crc = 0xffff_ffff_u32;

    for &b in data {
        crc = TABLE[((crc ^ u32::from(b)) & 0xff) as usize] ^ (crc >> 8);
    }

    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_crc32() {
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn test_itf8_round_trip() -> io::Result<()> {
        for n in [
            0,
            1,
            127,
            128,
            16_383,
            16_384,
            2_097_151,
            2_097_152,
            268_435_455,
            268_435_456,
            i32::MAX,
            -1,
            i32::MIN,
        ] {
            let mut buf = Vec::new();
            write_itf8(&mut buf, n);
            let mut reader = ByteReader::new(&buf);
            assert_eq!(reader.itf8()?, n, "{n}");
            assert!(reader.is_empty());
        }

        Ok(())
    }

    #[test]
    fn test_ltf8_round_trip() -> io::Result<()> {
        for n in [
            0,
            1,
            127,
            128,
            1 << 20,
            1 << 30,
            1 << 40,
            1 << 50,
            1 << 60,
            i64::MAX,
            -1,
        ] {
            let mut buf = Vec::new();
            write_ltf8(&mut buf, n);
            let mut reader = ByteReader::new(&buf);
            assert_eq!(reader.ltf8()?, n, "{n}");
            assert!(reader.is_empty());
        }

        Ok(())
    }

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
