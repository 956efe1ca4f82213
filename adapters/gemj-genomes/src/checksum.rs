//! Size, SHA-256 and MD5 of a file's bytes in one read pass.
//!
//! The calling thread reads into a few reused 1 MiB buffers and hands each (as an `Arc`) to two
//! hashing threads, one for SHA-256 (aws-lc-rs, which uses the CPU's SHA extensions) and one for
//! MD5 (md-5), through bounded channels. Wall time is about the slower of the two digests (MD5)
//! instead of their sum. An input that fits in one buffer is hashed on the calling thread.
//!
//! Invariant: the input is read exactly once, front to back; nothing is buffered beyond
//! [`POOL`] × [`BUFFER_SIZE`] bytes.

use std::{
    fs::File,
    io::{self, Read},
    path::Path,
    sync::{Arc, mpsc},
    thread,
};

use aws_lc_rs::digest;
use gemj_model::Checksums;
use md5::{Digest as _, Md5};

use crate::read_up_to;

/// Bytes per buffer handed to the hashing threads.
pub const BUFFER_SIZE: usize = 1 << 20;

/// Buffers in flight at most (so at most this many MiB are held).
pub const POOL: usize = 4;

/// The size and checksums of a byte stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChecksums {
    /// Bytes read.
    pub size: u64,
    /// SHA-256 and MD5, lower-case hex.
    pub checksums: Checksums,
}

/// One filled buffer: `data[..len]` holds the bytes.
struct Chunk {
    data: Vec<u8>,
    len: usize,
}

impl Chunk {
    fn bytes(&self) -> &[u8] {
        self.data.get(..self.len).unwrap_or(&self.data)
    }
}

/// Reads `r` to the end once and returns its size, SHA-256 and MD5.
///
/// # Errors
///
/// The first read error (other than [`io::ErrorKind::Interrupted`], which is retried).
///
/// # Examples
///
/// ```
/// let sums = gemj_genomes::checksum::checksum_reader(&b"abc"[..])?;
/// assert_eq!(sums.size, 3);
/// assert_eq!(
///     sums.checksums.sha256,
///     "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
/// );
/// assert_eq!(sums.checksums.md5, "900150983cd24fb0d6963f7d28e17f72");
/// # Ok::<_, std::io::Error>(())
/// ```
pub fn checksum_reader(mut r: impl Read) -> io::Result<FileChecksums> {
    let mut first = vec![0_u8; BUFFER_SIZE];
    let n = read_up_to(&mut r, &mut first)?;
    if n < BUFFER_SIZE {
        // The whole input fits in one buffer: no threads.
        let bytes = first.get(..n).unwrap_or_default();
        let mut sha = digest::Context::new(&digest::SHA256);
        sha.update(bytes);
        return Ok(finish(n as u64, sha.finish(), Md5::digest(bytes).into()));
    }
    threaded(
        r,
        Chunk {
            data: first,
            len: n,
        },
    )
}

/// [`checksum_reader`] on a file.
///
/// # Errors
///
/// When the file cannot be opened or read.
///
/// # Examples
///
/// ```
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("empty");
/// std::fs::write(&path, b"")?;
/// let sums = gemj_genomes::checksum::checksum_file(&path)?;
/// assert_eq!(sums.size, 0);
/// assert_eq!(sums.checksums.md5, "d41d8cd98f00b204e9800998ecf8427e");
/// # Ok::<_, std::io::Error>(())
/// ```
pub fn checksum_file(path: impl AsRef<Path>) -> io::Result<FileChecksums> {
    checksum_reader(File::open(path)?)
}

fn finish(size: u64, sha: digest::Digest, md5: [u8; 16]) -> FileChecksums {
    FileChecksums {
        size,
        checksums: Checksums {
            sha256: hex::encode(sha.as_ref()),
            md5: hex::encode(md5),
        },
    }
}

fn threaded(mut r: impl Read, first: Chunk) -> io::Result<FileChecksums> {
    thread::scope(|s| {
        let (sha_tx, sha_rx) = mpsc::sync_channel::<Arc<Chunk>>(POOL);
        let (md5_tx, md5_rx) = mpsc::sync_channel::<Arc<Chunk>>(POOL);
        // Both hashers hand every chunk back; the last one back is the only owner left.
        let (back_tx, back_rx) = mpsc::channel::<Arc<Chunk>>();
        let back_sha = back_tx.clone();
        let back_md5 = back_tx;

        let sha = s.spawn(move || {
            let mut ctx = digest::Context::new(&digest::SHA256);
            for chunk in sha_rx {
                ctx.update(chunk.bytes());
                // Reason: the reader may have stopped; then the chunk is just dropped.
                let _ = back_sha.send(chunk);
            }
            ctx.finish()
        });
        let md5 = s.spawn(move || {
            let mut ctx = Md5::new();
            for chunk in md5_rx {
                ctx.update(chunk.bytes());
                let _ = back_md5.send(chunk);
            }
            <[u8; 16]>::from(ctx.finalize())
        });

        let gone = || io::Error::other("a hashing thread stopped");
        let mut size = 0_u64;
        let mut allocated = 1;
        let mut next = Some(first);
        let result = loop {
            let chunk = match next.take() {
                Some(chunk) => chunk,
                None => {
                    let mut data = if allocated < POOL {
                        allocated += 1;
                        vec![0_u8; BUFFER_SIZE]
                    } else {
                        match recycle(&back_rx) {
                            Some(data) => data,
                            None => break Err(gone()),
                        }
                    };
                    match read_up_to(&mut r, &mut data) {
                        Ok(0) => break Ok(()),
                        Ok(len) => Chunk { data, len },
                        Err(e) => break Err(e),
                    }
                }
            };
            size += chunk.len as u64;
            let chunk = Arc::new(chunk);
            if sha_tx.send(Arc::clone(&chunk)).is_err() || md5_tx.send(chunk).is_err() {
                break Err(gone());
            }
        };
        drop(sha_tx);
        drop(md5_tx);
        let sha = sha.join().map_err(|_| gone())?;
        let md5 = md5.join().map_err(|_| gone())?;
        result.map(|()| finish(size, sha, md5))
    })
}

/// Waits until both hashers are done with some buffer and returns it for reuse.
fn recycle(back: &mpsc::Receiver<Arc<Chunk>>) -> Option<Vec<u8>> {
    loop {
        match Arc::try_unwrap(back.recv().ok()?) {
            Ok(chunk) => return Some(chunk.data),
            // The other hasher still holds it; it comes back again when that one is done.
            Err(shared) => drop(shared),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::Sha256;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    /// A reader that returns at most `step` bytes per call, with an `Interrupted` now and then.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
        calls: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.calls += 1;
            if self.calls.is_multiple_of(7) {
                return Err(io::Error::from(io::ErrorKind::Interrupted));
            }
            let n = self.step.min(buf.len()).min(self.data.len());
            let (head, tail) = self.data.split_at(n);
            buf[..n].copy_from_slice(head);
            self.data = tail;
            Ok(n)
        }
    }

    fn expected(data: &[u8]) -> (String, String) {
        (
            hex::encode(Sha256::digest(data)),
            hex::encode(Md5::digest(data)),
        )
    }

    #[test]
    fn agrees_with_sha2_at_buffer_boundaries() -> TestResult {
        let data: Vec<u8> = (0..(3 * BUFFER_SIZE + 17) as u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        for len in [
            0,
            1,
            BUFFER_SIZE - 1,
            BUFFER_SIZE,
            BUFFER_SIZE + 1,
            2 * BUFFER_SIZE,
            data.len(),
        ] {
            let slice = &data[..len];
            let sums = checksum_reader(slice)?;
            let (sha, md5) = expected(slice);
            assert_eq!(sums.size, len as u64);
            assert_eq!(sums.checksums.sha256, sha, "len {len}");
            assert_eq!(sums.checksums.md5, md5, "len {len}");
        }
        Ok(())
    }

    #[test]
    fn many_buffers_through_a_trickling_reader() -> TestResult {
        // More chunks than POOL, so buffers are recycled; short reads fill each buffer fully.
        let data = vec![0xa5_u8; (POOL + 3) * BUFFER_SIZE + 5];
        let sums = checksum_reader(Trickle {
            data: &data,
            step: 300_000,
            calls: 0,
        })?;
        let (sha, md5) = expected(&data);
        assert_eq!(sums.size, data.len() as u64);
        assert_eq!(sums.checksums, Checksums::new(&sha, &md5)?);
        Ok(())
    }

    #[test]
    fn read_errors_are_returned() {
        struct Failing(usize);
        impl Read for Failing {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.0 == 0 {
                    return Err(io::Error::other("disk on fire"));
                }
                let n = buf.len().min(self.0);
                self.0 -= n;
                Ok(n)
            }
        }
        assert!(checksum_reader(Failing(10)).is_err());
        assert!(checksum_reader(Failing(5 * BUFFER_SIZE + 3)).is_err());
    }
}
