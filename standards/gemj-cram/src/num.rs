//! Integers (CRAMv3 § 2.3, § 2.4): ITF-8, LTF-8 and little-endian fixed-size values, read from a
//! byte slice (`src: &mut &[u8]`, advanced past what was read) or from an [`io::Read`], and
//! written to a `Vec<u8>`.
//!
//! ITF-8 holds a 32-bit two's-complement value in one to five bytes, LTF-8 a 64-bit one in one to
//! nine: the leading one bits of the first byte count the bytes that follow. The writers use the
//! shortest form (negative values take the longest), as htslib and noodles write them, so that
//! [`write_itf8`] of [`read_itf8`] gives back the bytes read.

use std::io::Read;

use crate::{CramError, Result};

/// The bytes that follow the first byte `b0` of an ITF-8 integer.
#[inline]
const fn itf8_extra(b0: u8) -> usize {
    let ones = b0.leading_ones() as usize;
    if ones > 4 { 4 } else { ones }
}

/// The value of the ITF-8 integer whose first byte is `b0` and whose other bytes are `rest`
/// (`itf8_extra(b0)` of them).
#[inline]
fn itf8_value(b0: u8, rest: &[u8]) -> i32 {
    let b0 = u32::from(b0);
    let n = match *rest {
        [] => b0,
        [a] => ((b0 & 0x3f) << 8) | u32::from(a),
        [a, b] => ((b0 & 0x1f) << 16) | (u32::from(a) << 8) | u32::from(b),
        [a, b, c] => {
            ((b0 & 0x0f) << 24) | (u32::from(a) << 16) | (u32::from(b) << 8) | u32::from(c)
        }
        [a, b, c, d, ..] => {
            ((b0 & 0x0f) << 28)
                | (u32::from(a) << 20)
                | (u32::from(b) << 12)
                | (u32::from(c) << 4)
                | (u32::from(d) & 0x0f)
        }
    };
    // Reason: ITF-8 holds the 32 bits of a two's-complement value.
    n as i32
}

/// The value of the LTF-8 integer whose first byte is `b0` and whose other bytes are `rest`
/// (`b0.leading_ones()` of them).
#[inline]
fn ltf8_value(b0: u8, rest: &[u8]) -> i64 {
    let extra = rest.len();
    let mut n: u64 = if extra >= 7 {
        0
    } else {
        u64::from(b0) & ((1 << (7 - extra)) - 1)
    };
    for &b in rest {
        n = (n << 8) | u64::from(b);
    }
    // Reason: LTF-8 holds the 64 bits of a two's-complement value.
    n as i64
}

/// Takes `len` bytes from the front of `src`.
///
/// # Errors
/// [`CramError::Truncated`] when `src` is shorter.
#[inline]
pub fn take<'a>(src: &mut &'a [u8], len: usize) -> Result<&'a [u8]> {
    if len > src.len() {
        return Err(CramError::Truncated);
    }
    let (head, tail) = src.split_at(len);
    *src = tail;
    Ok(head)
}

/// Reads one byte.
///
/// # Errors
/// [`CramError::Truncated`].
#[inline]
pub fn read_u8(src: &mut &[u8]) -> Result<u8> {
    let (&b, rest) = src.split_first().ok_or(CramError::Truncated)?;
    *src = rest;
    Ok(b)
}

/// Reads `N` bytes.
///
/// # Errors
/// [`CramError::Truncated`].
#[inline]
pub fn read_array<const N: usize>(src: &mut &[u8]) -> Result<[u8; N]> {
    let mut out = [0; N];
    out.copy_from_slice(take(src, N)?);
    Ok(out)
}

/// Reads an ITF-8 integer (§ 2.3).
///
/// # Errors
/// [`CramError::Truncated`].
#[inline]
pub fn read_itf8(src: &mut &[u8]) -> Result<i32> {
    let b0 = read_u8(src)?;
    let rest = take(src, itf8_extra(b0))?;
    Ok(itf8_value(b0, rest))
}

/// Reads a non-negative ITF-8 integer: a length or a count.
///
/// # Errors
/// [`CramError::Truncated`]; [`CramError::Invalid`] for a negative value.
#[inline]
pub fn read_itf8_len(src: &mut &[u8]) -> Result<usize> {
    usize::try_from(read_itf8(src)?)
        .map_err(|_| CramError::Invalid("negative length or count (CRAMv3 § 2.3)"))
}

/// Reads an LTF-8 integer (§ 2.3).
///
/// # Errors
/// [`CramError::Truncated`].
#[inline]
pub fn read_ltf8(src: &mut &[u8]) -> Result<i64> {
    let b0 = read_u8(src)?;
    let rest = take(src, b0.leading_ones() as usize)?;
    Ok(ltf8_value(b0, rest))
}

/// Reads an ITF-8 integer from a stream (§ 2.3).
///
/// # Errors
/// [`CramError::Truncated`] at the end of the stream; [`CramError::Io`].
pub fn read_itf8_from(src: &mut impl Read) -> Result<i32> {
    let mut buf = [0; 5];
    src.read_exact(&mut buf[..1])?;
    let extra = itf8_extra(buf[0]);
    src.read_exact(&mut buf[1..=extra])?;
    Ok(itf8_value(buf[0], &buf[1..=extra]))
}

/// Reads an LTF-8 integer from a stream (§ 2.3).
///
/// # Errors
/// [`CramError::Truncated`] at the end of the stream; [`CramError::Io`].
pub fn read_ltf8_from(src: &mut impl Read) -> Result<i64> {
    let mut buf = [0; 9];
    src.read_exact(&mut buf[..1])?;
    let extra = buf[0].leading_ones() as usize;
    src.read_exact(&mut buf[1..=extra])?;
    Ok(ltf8_value(buf[0], &buf[1..=extra]))
}

/// Writes an ITF-8 integer (§ 2.3) in its shortest form (as htslib's `itf8_put`).
#[inline]
pub fn write_itf8(dst: &mut Vec<u8>, value: i32) {
    // Reason: ITF-8 holds the 32 bits of a two's-complement value; the casts below keep the
    // low bits on purpose.
    let v = value as u32;
    if v & !0x7f == 0 {
        dst.push(v as u8);
    } else if v & !0x3fff == 0 {
        dst.extend_from_slice(&[((v >> 8) | 0x80) as u8, v as u8]);
    } else if v & !0x1f_ffff == 0 {
        dst.extend_from_slice(&[((v >> 16) | 0xc0) as u8, (v >> 8) as u8, v as u8]);
    } else if v & !0x0fff_ffff == 0 {
        dst.extend_from_slice(&[
            ((v >> 24) | 0xe0) as u8,
            (v >> 16) as u8,
            (v >> 8) as u8,
            v as u8,
        ]);
    } else {
        dst.extend_from_slice(&[
            (0xf0 | ((v >> 28) & 0x0f)) as u8,
            (v >> 20) as u8,
            (v >> 12) as u8,
            (v >> 4) as u8,
            (v & 0x0f) as u8,
        ]);
    }
}

/// Writes a length or count as ITF-8.
///
/// # Errors
/// [`CramError::TooLarge`] (naming `what`) above `i32::MAX`.
pub fn write_itf8_len(dst: &mut Vec<u8>, len: usize, what: &'static str) -> Result<()> {
    write_itf8(dst, to_i32(len, what)?);
    Ok(())
}

/// Writes an LTF-8 integer (§ 2.3) in its shortest form.
pub fn write_ltf8(dst: &mut Vec<u8>, value: i64) {
    // Reason: LTF-8 holds the 64 bits of a two's-complement value.
    let v = value as u64;
    // `n` bytes after the first hold 7 * (n + 1) bits, up to 8 holding 64.
    for n in 0..8u32 {
        if v >> (7 * (n + 1)) == 0 {
            dst.push(!(0xff_u8 >> n) | (v >> (8 * n)) as u8);
            for i in (0..n).rev() {
                dst.push((v >> (8 * i)) as u8);
            }
            return;
        }
    }
    dst.push(0xff);
    dst.extend_from_slice(&v.to_be_bytes());
}

/// `n` as an `i32`, or [`CramError::TooLarge`] naming `what`.
///
/// # Errors
/// [`CramError::TooLarge`].
pub fn to_i32(n: usize, what: &'static str) -> Result<i32> {
    i32::try_from(n).map_err(|_| CramError::TooLarge(what))
}

/// `n` as an `i64`, or [`CramError::TooLarge`] naming `what`.
///
/// # Errors
/// [`CramError::TooLarge`].
pub fn to_i64(n: u64, what: &'static str) -> Result<i64> {
    i64::try_from(n).map_err(|_| CramError::TooLarge(what))
}

#[cfg(test)]
mod tests {
    use super::*;

    type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

    /// A reader of a slice.
    type ReadFn<T> = fn(&mut &[u8]) -> Result<T>;

    /// For each case, `value` is written as `bytes` by `write`, and `bytes` read as `value` by
    /// both readers; cut short anywhere, an error and never a panic.
    fn check<T: Copy + PartialEq + std::fmt::Debug>(
        cases: &[(T, &[u8])],
        write: fn(&mut Vec<u8>, T),
        readers: [ReadFn<T>; 2],
    ) -> TestResult {
        for &(value, bytes) in cases {
            check_one(value, bytes, write, readers)?;
        }
        Ok(())
    }

    fn check_one<T: Copy + PartialEq + std::fmt::Debug>(
        value: T,
        bytes: &[u8],
        write: fn(&mut Vec<u8>, T),
        readers: [ReadFn<T>; 2],
    ) -> TestResult {
        let mut out = Vec::new();
        write(&mut out, value);
        assert_eq!(out, bytes, "write {value:?}");
        for read in readers {
            let mut src = bytes;
            assert_eq!(read(&mut src)?, value, "read {bytes:x?}");
            assert!(src.is_empty());
            for len in 0..bytes.len() {
                assert!(matches!(
                    read(&mut &bytes[..len]),
                    Err(CramError::Truncated)
                ));
            }
        }
        Ok(())
    }

    #[test]
    fn itf8_boundaries() -> TestResult {
        check(
            &[
                (0, &[0x00][..]),
                (1, &[0x01][..]),
                (127, &[0x7f][..]),
                (128, &[0x80, 0x80][..]),
                (255, &[0x80, 0xff][..]),
                (16_383, &[0xbf, 0xff][..]),
                (16_384, &[0xc0, 0x40, 0x00][..]),
                (2_097_151, &[0xdf, 0xff, 0xff][..]),
                (2_097_152, &[0xe0, 0x20, 0x00, 0x00][..]),
                (268_435_455, &[0xef, 0xff, 0xff, 0xff][..]),
                (268_435_456, &[0xf1, 0x00, 0x00, 0x00, 0x00][..]),
                (i32::MAX, &[0xf7, 0xff, 0xff, 0xff, 0x0f][..]),
                (-1, &[0xff, 0xff, 0xff, 0xff, 0x0f][..]),
                (-2, &[0xff, 0xff, 0xff, 0xff, 0x0e][..]),
                (i32::MIN, &[0xf8, 0x00, 0x00, 0x00, 0x00][..]),
                // The end-of-file container's alignment start, "EOF".
                (0x45_4f46, &[0xe0, 0x45, 0x4f, 0x46][..]),
            ],
            write_itf8,
            [read_itf8, |src: &mut &[u8]| read_itf8_from(src)],
        )
    }

    #[test]
    fn itf8_reads_the_high_bits_of_the_fifth_byte_as_nothing() -> TestResult {
        // htslib ignores the high nibble of the fifth byte; so does this reader.
        assert_eq!(read_itf8(&mut &[0xff, 0xff, 0xff, 0xff, 0xff][..])?, -1);
        // A first byte of 0xf8..0xff still means five bytes.
        assert_eq!(read_itf8(&mut &[0xf0, 0, 0, 0, 1][..])?, 1);
        Ok(())
    }

    #[test]
    fn ltf8_boundaries() -> TestResult {
        check(
            &[
                (0, &[0x00][..]),
                (127, &[0x7f][..]),
                (128, &[0x80, 0x80][..]),
                (16_383, &[0xbf, 0xff][..]),
                (16_384, &[0xc0, 0x40, 0x00][..]),
                ((1 << 28) - 1, &[0xef, 0xff, 0xff, 0xff][..]),
                (1 << 28, &[0xf0, 0x10, 0x00, 0x00, 0x00][..]),
                ((1 << 35) - 1, &[0xf7, 0xff, 0xff, 0xff, 0xff][..]),
                (1 << 35, &[0xf8, 0x08, 0x00, 0x00, 0x00, 0x00][..]),
                (1 << 42, &[0xfc, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00][..]),
                (
                    1 << 49,
                    &[0xfe, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00][..],
                ),
                (
                    (1 << 56) - 1,
                    &[0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff][..],
                ),
                (1 << 56, &[0xff, 0x01, 0, 0, 0, 0, 0, 0, 0][..]),
                (
                    i64::MAX,
                    &[0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff][..],
                ),
                (-1, &[0xff; 9][..]),
                (i64::MIN, &[0xff, 0x80, 0, 0, 0, 0, 0, 0, 0][..]),
            ],
            write_ltf8,
            [read_ltf8, |src: &mut &[u8]| read_ltf8_from(src)],
        )
    }

    #[test]
    fn itf8_and_ltf8_agree_up_to_four_bytes() {
        for n in [
            0,
            1,
            127,
            128,
            16_383,
            16_384,
            (1 << 21) - 1,
            1 << 21,
            (1 << 28) - 1,
        ] {
            let (mut a, mut b) = (Vec::new(), Vec::new());
            write_itf8(&mut a, n);
            write_ltf8(&mut b, i64::from(n));
            assert_eq!(a, b, "{n}");
        }
    }

    #[test]
    fn lengths_are_checked() -> TestResult {
        assert_eq!(read_itf8_len(&mut &[0x05][..])?, 5);
        assert!(matches!(
            read_itf8_len(&mut &[0xff, 0xff, 0xff, 0xff, 0x0f][..]),
            Err(CramError::Invalid(_))
        ));
        assert!(matches!(
            take(&mut &[1, 2][..], 3),
            Err(CramError::Truncated)
        ));
        assert!(matches!(
            read_array::<4>(&mut &[1, 2, 3][..]),
            Err(CramError::Truncated)
        ));
        assert!(matches!(
            to_i32(1 << 31, "x"),
            Err(CramError::TooLarge("x"))
        ));
        Ok(())
    }
}
