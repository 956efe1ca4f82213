//! Compression headers (CRAMv3 § 8.4): the payload of the first block of a data container.
//!
//! Three maps, each stored as its byte size, its entry count and its entries: the preservation
//! map (§ 8.4.1: read names kept, positions delta-coded, reference required, substitution
//! matrix, tag dictionary), the data series encoding map (§ 8.4.2: a two-letter data series to
//! an encoding) and the tag encoding map (§ 8.4.3: a tag key to an encoding). An encoding (§ 13)
//! is a codec ID and its parameters, kept here as stored bytes; [`Encoding::kind`] reads the
//! parameters of the CRAM 3.0 codecs. Entries keep their stored order, so that
//! [`write_compression_header`] of [`read_compression_header`] gives back the bytes read.

use crate::{
    CramError, Result,
    num::{read_itf8, read_itf8_len, read_u8, take, write_itf8, write_itf8_len},
};

/// An entry of the preservation map (§ 8.4.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Preservation {
    /// `RN`: read names are stored.
    ReadNames(bool),
    /// `AP`: alignment positions are deltas within a slice.
    ApDelta(bool),
    /// `RR`: decoding needs the reference.
    ReferenceRequired(bool),
    /// `SM`: the substitution matrix.
    SubstitutionMatrix([u8; 5]),
    /// `TD`: the tag dictionary, as stored: NUL-terminated lines of 3-byte tag keys (see
    /// [`read_tag_dictionary`]).
    TagDictionary(Vec<u8>),
}

/// An encoding (§ 13): a codec ID and its stored parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoding {
    /// The codec ID (1 EXTERNAL, 3 HUFFMAN, 4 BYTE_ARRAY_LEN, ...).
    pub codec: i32,
    /// Its parameters, as stored.
    pub params: Vec<u8>,
}

/// The parameters of an encoding, read (§ 13).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EncodingKind {
    /// Codec 0: no values.
    Null,
    /// Codec 1: the values are in an external block.
    External {
        /// Its content ID.
        block_content_id: i32,
    },
    /// Codec 3: a canonical Huffman code (§ 13.4).
    Huffman {
        /// The symbols.
        alphabet: Vec<i32>,
        /// The code length of each symbol.
        bit_lengths: Vec<i32>,
    },
    /// Codec 4: a length, then that many values.
    ByteArrayLen {
        /// The encoding of the length.
        len: Encoding,
        /// The encoding of the values.
        value: Encoding,
    },
    /// Codec 5: bytes up to a stop byte, in an external block.
    ByteArrayStop {
        /// The stop byte.
        stop: u8,
        /// The external block.
        block_content_id: i32,
    },
    /// Codec 6: fixed-width binary.
    Beta {
        /// Subtracted from the value.
        offset: i32,
        /// The width.
        bits: i32,
    },
    /// Codec 7: sub-exponential.
    Subexp {
        /// Subtracted from the value.
        offset: i32,
        /// The order.
        k: i32,
    },
    /// Codec 9: Elias gamma.
    Gamma {
        /// Subtracted from the value.
        offset: i32,
    },
    /// Another codec (GOLOMB, GOLOMB_RICE, CRAM 4 codecs): parameters not read.
    Other {
        /// The codec ID.
        codec: i32,
    },
}

impl Encoding {
    /// Codec 1, EXTERNAL, in block `block_content_id`.
    #[must_use]
    pub fn external(block_content_id: i32) -> Self {
        let mut params = Vec::with_capacity(5);
        write_itf8(&mut params, block_content_id);
        Self { codec: 1, params }
    }

    /// Codec 4, BYTE_ARRAY_LEN, of `len` and `value`.
    ///
    /// # Errors
    /// [`CramError::TooLarge`] for parameters of 2 GiB or more.
    pub fn byte_array_len(len: &Self, value: &Self) -> Result<Self> {
        let mut params = Vec::new();
        write_encoding(&mut params, len)?;
        write_encoding(&mut params, value)?;
        Ok(Self { codec: 4, params })
    }

    /// Reads the parameters of a CRAM 3.0 codec.
    ///
    /// # Errors
    /// [`CramError::Truncated`], or [`CramError::Invalid`] for parameters that are not those of
    /// the codec (trailing bytes, a HUFFMAN code whose lists differ in length).
    pub fn kind(&self) -> Result<EncodingKind> {
        let mut src = &self.params[..];
        let kind = match self.codec {
            0 => EncodingKind::Null,
            1 => EncodingKind::External {
                block_content_id: read_itf8(&mut src)?,
            },
            3 => {
                let alphabet = read_itf8_list(&mut src)?;
                let bit_lengths = read_itf8_list(&mut src)?;
                if alphabet.len() != bit_lengths.len() {
                    return Err(CramError::Invalid(
                        "HUFFMAN alphabet and bit lengths differ in length (CRAMv3 § 13.4)",
                    ));
                }
                EncodingKind::Huffman {
                    alphabet,
                    bit_lengths,
                }
            }
            4 => EncodingKind::ByteArrayLen {
                len: read_encoding(&mut src)?,
                value: read_encoding(&mut src)?,
            },
            5 => EncodingKind::ByteArrayStop {
                stop: read_u8(&mut src)?,
                block_content_id: read_itf8(&mut src)?,
            },
            6 => EncodingKind::Beta {
                offset: read_itf8(&mut src)?,
                bits: read_itf8(&mut src)?,
            },
            7 => EncodingKind::Subexp {
                offset: read_itf8(&mut src)?,
                k: read_itf8(&mut src)?,
            },
            9 => EncodingKind::Gamma {
                offset: read_itf8(&mut src)?,
            },
            codec => return Ok(EncodingKind::Other { codec }),
        };
        if !src.is_empty() {
            return Err(CramError::Invalid(
                "trailing bytes in encoding parameters (CRAMv3 § 13)",
            ));
        }
        Ok(kind)
    }
}

/// A count, then that many ITF-8 integers.
fn read_itf8_list(src: &mut &[u8]) -> Result<Vec<i32>> {
    let n = read_itf8_len(src)?;
    // Every integer takes a byte.
    if n > src.len() {
        return Err(CramError::Truncated);
    }
    (0..n).map(|_| read_itf8(src)).collect()
}

/// Reads an encoding: codec ID, parameter size, parameters.
///
/// # Errors
/// [`CramError::Truncated`]; [`CramError::Invalid`] for a negative size.
pub fn read_encoding(src: &mut &[u8]) -> Result<Encoding> {
    let codec = read_itf8(src)?;
    let len = read_itf8_len(src)?;
    Ok(Encoding {
        codec,
        params: take(src, len)?.to_vec(),
    })
}

/// Writes an encoding.
///
/// # Errors
/// [`CramError::TooLarge`] for parameters of 2 GiB or more.
pub fn write_encoding(dst: &mut Vec<u8>, encoding: &Encoding) -> Result<()> {
    write_itf8(dst, encoding.codec);
    write_itf8_len(dst, encoding.params.len(), "encoding parameters")?;
    dst.extend_from_slice(&encoding.params);
    Ok(())
}

/// A compression header.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CompressionHeader {
    /// The preservation map, in stored order.
    pub preservation_map: Vec<Preservation>,
    /// The data series encoding map, in stored order.
    pub data_series_encodings: Vec<([u8; 2], Encoding)>,
    /// The tag encoding map (tag key, see [`tag_key`]), in stored order.
    pub tag_encodings: Vec<(i32, Encoding)>,
}

impl CompressionHeader {
    /// `RN`: whether read names are stored (true when absent).
    #[must_use]
    pub fn read_names(&self) -> bool {
        self.flag(|p| match p {
            Preservation::ReadNames(b) => Some(*b),
            _ => None,
        })
    }

    /// `AP`: whether alignment positions are deltas (true when absent).
    #[must_use]
    pub fn ap_delta(&self) -> bool {
        self.flag(|p| match p {
            Preservation::ApDelta(b) => Some(*b),
            _ => None,
        })
    }

    /// `RR`: whether decoding needs the reference (true when absent).
    #[must_use]
    pub fn reference_required(&self) -> bool {
        self.flag(|p| match p {
            Preservation::ReferenceRequired(b) => Some(*b),
            _ => None,
        })
    }

    /// `SM`: the substitution matrix, if stored.
    #[must_use]
    pub fn substitution_matrix(&self) -> Option<[u8; 5]> {
        self.preservation_map.iter().find_map(|p| match p {
            Preservation::SubstitutionMatrix(m) => Some(*m),
            _ => None,
        })
    }

    /// `TD`: the tag dictionary as stored (empty when absent).
    #[must_use]
    pub fn tag_dictionary(&self) -> &[u8] {
        self.preservation_map
            .iter()
            .find_map(|p| match p {
                Preservation::TagDictionary(d) => Some(&d[..]),
                _ => None,
            })
            .unwrap_or_default()
    }

    /// The first flag `pick` finds, true when absent.
    fn flag(&self, pick: impl Fn(&Preservation) -> Option<bool>) -> bool {
        self.preservation_map.iter().find_map(pick).unwrap_or(true)
    }
}

/// The tag key of a tag name and BAM type (`NM` `c` is `0x4e4d63`), as the tag dictionary and
/// the tag encoding map hold it (§ 8.4.3). It is also the content ID of the tag's block in files
/// written by htslib and noodles.
#[must_use]
pub const fn tag_key(name_and_type: [u8; 3]) -> i32 {
    ((name_and_type[0] as i32) << 16) | ((name_and_type[1] as i32) << 8) | name_and_type[2] as i32
}

/// Reads a tag dictionary (`TD`, § 8.4.1): its lines of tag keys.
///
/// # Errors
/// [`CramError::Invalid`] for a line that is not NUL-terminated 3-byte keys.
pub fn read_tag_dictionary(data: &[u8]) -> Result<Vec<Vec<i32>>> {
    data.split_inclusive(|&b| b == 0)
        .map(|line| {
            let Some((&0, keys)) = line.split_last() else {
                return Err(CramError::Invalid(
                    "unterminated tag dictionary line (CRAMv3 § 8.4.1)",
                ));
            };
            if keys.len() % 3 != 0 {
                return Err(CramError::Invalid(
                    "malformed tag dictionary line (CRAMv3 § 8.4.1)",
                ));
            }
            Ok(keys
                .chunks_exact(3)
                .map(|k| tag_key([k[0], k[1], k[2]]))
                .collect())
        })
        .collect()
}

/// Writes a tag dictionary (`TD`) of `lines` of tag keys.
pub fn write_tag_dictionary(dst: &mut Vec<u8>, lines: &[Vec<i32>]) {
    for line in lines {
        for &key in line {
            dst.extend_from_slice(&key.to_be_bytes()[1..]);
        }
        dst.push(0);
    }
}

/// Reads a compression header from the (raw) payload of its block.
///
/// # Errors
/// [`CramError::Truncated`]; [`CramError::Invalid`] for a negative size or count, a flag that
/// is neither 0 nor 1, or bytes left over in a map or after the last;
/// [`CramError::Unsupported`] for a preservation map key CRAM 3.0 does not define.
pub fn read_compression_header(data: &[u8]) -> Result<CompressionHeader> {
    let mut src = data;

    let preservation_map = read_map(&mut src, |map| {
        let key = take(map, 2)?;
        Ok(match key {
            b"RN" => Preservation::ReadNames(read_bool(map)?),
            b"AP" => Preservation::ApDelta(read_bool(map)?),
            b"RR" => Preservation::ReferenceRequired(read_bool(map)?),
            b"SM" => Preservation::SubstitutionMatrix(crate::num::read_array(map)?),
            b"TD" => {
                let len = read_itf8_len(map)?;
                Preservation::TagDictionary(take(map, len)?.to_vec())
            }
            _ => {
                return Err(CramError::Unsupported(format!(
                    "unknown preservation map key {} (CRAMv3 § 8.4.1)",
                    String::from_utf8_lossy(key)
                )));
            }
        })
    })?;

    let data_series_encodings = read_map(&mut src, |map| {
        Ok((crate::num::read_array(map)?, read_encoding(map)?))
    })?;

    let tag_encodings = read_map(&mut src, |map| Ok((read_itf8(map)?, read_encoding(map)?)))?;

    if !src.is_empty() {
        return Err(CramError::Invalid(
            "trailing bytes in a compression header (CRAMv3 § 8.4)",
        ));
    }

    Ok(CompressionHeader {
        preservation_map,
        data_series_encodings,
        tag_encodings,
    })
}

/// A preservation map flag.
fn read_bool(src: &mut &[u8]) -> Result<bool> {
    match read_u8(src)? {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(CramError::Invalid(
            "a preservation map flag is neither 0 nor 1 (CRAMv3 § 8.4.1)",
        )),
    }
}

/// Reads a map: its size, its count, then `entry` that many times over exactly its bytes.
fn read_map<T>(src: &mut &[u8], mut entry: impl FnMut(&mut &[u8]) -> Result<T>) -> Result<Vec<T>> {
    let size = read_itf8_len(src)?;
    let mut map = take(src, size)?;
    let count = read_itf8_len(&mut map)?;
    // Every entry takes more than a byte.
    if count > map.len() {
        return Err(CramError::Truncated);
    }
    let entries = (0..count)
        .map(|_| entry(&mut map))
        .collect::<Result<Vec<_>>>()?;
    if !map.is_empty() {
        return Err(CramError::Invalid(
            "trailing bytes in a compression header map (CRAMv3 § 8.4)",
        ));
    }
    Ok(entries)
}

/// Writes a map: its size, its count, then `entry` of each entry.
fn write_map<T>(
    dst: &mut Vec<u8>,
    entries: &[T],
    mut entry: impl FnMut(&mut Vec<u8>, &T) -> Result<()>,
) -> Result<()> {
    let mut map = Vec::new();
    write_itf8_len(&mut map, entries.len(), "map entry count")?;
    for e in entries {
        entry(&mut map, e)?;
    }
    write_itf8_len(dst, map.len(), "map size")?;
    dst.extend_from_slice(&map);
    Ok(())
}

/// Writes a compression header (the payload of its block).
///
/// # Errors
/// [`CramError::TooLarge`] for a map of 2 GiB or more.
pub fn write_compression_header(dst: &mut Vec<u8>, header: &CompressionHeader) -> Result<()> {
    write_map(dst, &header.preservation_map, |map, p| {
        match p {
            Preservation::ReadNames(b) => {
                map.extend_from_slice(b"RN");
                map.push(u8::from(*b));
            }
            Preservation::ApDelta(b) => {
                map.extend_from_slice(b"AP");
                map.push(u8::from(*b));
            }
            Preservation::ReferenceRequired(b) => {
                map.extend_from_slice(b"RR");
                map.push(u8::from(*b));
            }
            Preservation::SubstitutionMatrix(m) => {
                map.extend_from_slice(b"SM");
                map.extend_from_slice(m);
            }
            Preservation::TagDictionary(d) => {
                map.extend_from_slice(b"TD");
                write_itf8_len(map, d.len(), "tag dictionary")?;
                map.extend_from_slice(d);
            }
        }
        Ok(())
    })?;
    write_map(
        dst,
        &header.data_series_encodings,
        |map, (key, encoding)| {
            map.extend_from_slice(key);
            write_encoding(map, encoding)
        },
    )?;
    write_map(dst, &header.tag_encodings, |map, (key, encoding)| {
        write_itf8(map, *key);
        write_encoding(map, encoding)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Result<CompressionHeader> {
        Ok(CompressionHeader {
            preservation_map: vec![
                Preservation::ReadNames(true),
                Preservation::ApDelta(false),
                Preservation::ReferenceRequired(true),
                Preservation::SubstitutionMatrix([0x1b, 0x4e, 0x93, 0x39, 0x6c]),
                Preservation::TagDictionary(b"NMcMDZ\0\0".to_vec()),
            ],
            data_series_encodings: vec![
                (*b"BF", Encoding::external(1)),
                (
                    *b"RN",
                    Encoding::byte_array_len(&Encoding::external(7), &Encoding::external(8))?,
                ),
            ],
            tag_encodings: vec![(
                tag_key(*b"NMc"),
                Encoding::byte_array_len(&Encoding::external(64), &Encoding::external(65))?,
            )],
        })
    }

    #[test]
    fn round_trip() -> Result<()> {
        let header = sample()?;
        let mut bytes = Vec::new();
        write_compression_header(&mut bytes, &header)?;
        let read = read_compression_header(&bytes)?;
        assert_eq!(read, header);
        assert!(read.read_names() && !read.ap_delta() && read.reference_required());
        assert_eq!(read.tag_dictionary(), b"NMcMDZ\0\0");
        assert_eq!(
            read_tag_dictionary(read.tag_dictionary())?,
            vec![vec![tag_key(*b"NMc"), tag_key(*b"MDZ")], vec![]]
        );
        let mut again = Vec::new();
        write_compression_header(&mut again, &read)?;
        assert_eq!(again, bytes);
        // Cut anywhere: an error, never a panic.
        for len in 0..bytes.len() {
            assert!(read_compression_header(&bytes[..len]).is_err(), "{len}");
        }
        Ok(())
    }

    #[test]
    fn absent_flags_are_true() {
        let empty = CompressionHeader::default();
        assert!(empty.read_names() && empty.ap_delta() && empty.reference_required());
        assert_eq!(empty.substitution_matrix(), None);
        assert_eq!(empty.tag_dictionary(), b"");
    }

    fn check_kind(codec: i32, params: &[u8], expect: &str) {
        let got = match (Encoding {
            codec,
            params: params.to_vec(),
        })
        .kind()
        {
            Ok(kind) => format!("{kind:?}"),
            Err(e) => e.to_string(),
        };
        assert!(got.contains(expect), "{codec} {params:?}: {got}");
    }

    #[test]
    fn encoding_kinds() {
        check_kind(0, &[], "Null");
        check_kind(1, &[0x81, 0x2c], "External { block_content_id: 300 }");
        check_kind(1, &[1, 2], "trailing bytes");
        check_kind(1, &[], "unexpected end");
        check_kind(
            3,
            &[2, 5, 7, 2, 1, 1],
            "alphabet: [5, 7], bit_lengths: [1, 1]",
        );
        check_kind(3, &[2, 5, 7, 1, 1], "differ in length");
        check_kind(3, &[0x7f], "unexpected end");
        check_kind(4, &[1, 1, 7, 1, 1, 8], "ByteArrayLen");
        check_kind(5, &[0, 9], "ByteArrayStop { stop: 0, block_content_id: 9 }");
        check_kind(6, &[0, 8], "Beta { offset: 0, bits: 8 }");
        check_kind(7, &[0, 1], "Subexp { offset: 0, k: 1 }");
        check_kind(9, &[1], "Gamma { offset: 1 }");
        check_kind(2, &[0, 1], "Other { codec: 2 }");
    }

    #[test]
    fn tag_dictionaries() -> Result<()> {
        assert_eq!(read_tag_dictionary(b"")?, Vec::<Vec<i32>>::new());
        assert!(read_tag_dictionary(b"NMc").is_err());
        assert!(read_tag_dictionary(b"NM\0").is_err());
        let lines = read_tag_dictionary(b"NMcRGZ\0RGZ\0")?;
        let mut out = Vec::new();
        write_tag_dictionary(&mut out, &lines);
        assert_eq!(out, b"NMcRGZ\0RGZ\0");
        Ok(())
    }

    #[test]
    fn unknown_keys_and_flags() {
        // Size 5: one entry, key XX, value 1.
        let header = [5, 1, b'X', b'X', 1, 1, 0, 1, 0];
        assert!(matches!(
            read_compression_header(&header),
            Err(CramError::Unsupported(_))
        ));
        let header = [5, 1, b'R', b'N', 2, 1, 0, 1, 0];
        assert!(matches!(
            read_compression_header(&header),
            Err(CramError::Invalid(_))
        ));
    }
}
