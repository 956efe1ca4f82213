//! Reads at any offset of one opened object, and a stream over them.

use std::fmt;
use std::io::{self, BufRead, Read, Seek, SeekFrom};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// One opened object, read at any offset. Blocking: call it from a blocking thread.
pub trait RandomAccess: Send + Sync + fmt::Debug {
    /// The object's size in bytes, as it was when opened.
    fn len(&self) -> u64;

    /// Whether the object is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Fills `buf` with the bytes at `offset`.
    ///
    /// # Errors
    /// An I/O error of kind `UnexpectedEof` when the object ends first; any read failure.
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()>;

    /// How many bytes a sequential reader should ask for at a time (one request on a remote
    /// store).
    fn chunk_size(&self) -> usize {
        1 << 20
    }

    /// Whether each read waits on the network (then no read belongs on an async thread).
    fn is_remote(&self) -> bool {
        false
    }
}

/// Reads so far: requests made to the backend and bytes they returned.
#[derive(Debug, Default)]
pub struct ReadStats {
    requests: AtomicU64,
    bytes: AtomicU64,
}

impl ReadStats {
    /// Counts one request that returned `bytes` bytes.
    pub fn record(&self, bytes: u64) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    /// `(requests, bytes)` so far.
    #[must_use]
    pub fn snapshot(&self) -> (u64, u64) {
        (
            self.requests.load(Ordering::Relaxed),
            self.bytes.load(Ordering::Relaxed),
        )
    }
}

/// `Read + Seek + BufRead` over bytes `start..end` of a [`RandomAccess`], reading
/// [`RandomAccess::chunk_size`] bytes at a time (never past `end`). Seeks are relative to the
/// whole object, and may not leave `start..=end`.
pub struct SourceReader {
    source: Arc<dyn RandomAccess>,
    start: u64,
    end: u64,
    /// The object offset of `buf[0]`.
    buf_at: u64,
    buf: Vec<u8>,
    /// The read position within `buf`.
    pos: usize,
    chunk: usize,
}

impl fmt::Debug for SourceReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SourceReader")
            .field("range", &(self.start..self.end))
            .field("at", &(self.buf_at + self.pos as u64))
            .finish_non_exhaustive()
    }
}

impl SourceReader {
    /// A reader over the whole object.
    #[must_use]
    pub fn new(source: Arc<dyn RandomAccess>) -> Self {
        let end = source.len();
        Self::range(source, 0, end)
    }

    /// A reader over bytes `start..end` (clamped to the object).
    #[must_use]
    pub fn range(source: Arc<dyn RandomAccess>, start: u64, end: u64) -> Self {
        let end = end.min(source.len());
        let start = start.min(end);
        let source_chunk = source.chunk_size().max(1);
        Self {
            source,
            start,
            end,
            buf_at: start,
            buf: Vec::new(),
            pos: 0,
            chunk: source_chunk,
        }
    }

    /// Reads `chunk` bytes at a time instead of the source's own chunk size (a header parser
    /// that needs kilobytes, not megabytes).
    #[must_use]
    pub fn with_chunk(mut self, chunk: usize) -> Self {
        self.chunk = chunk.max(1);
        self
    }

    fn at(&self) -> u64 {
        self.buf_at + self.pos as u64
    }
}

impl BufRead for SourceReader {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos >= self.buf.len() {
            let at = self.at();
            let want = usize::try_from(self.end.saturating_sub(at))
                .unwrap_or(usize::MAX)
                .min(self.chunk);
            self.buf.resize(want, 0);
            if want > 0 {
                self.source.read_exact_at(&mut self.buf, at)?;
            }
            self.buf_at = at;
            self.pos = 0;
        }
        Ok(&self.buf[self.pos..])
    }

    fn consume(&mut self, amt: usize) {
        self.pos = (self.pos + amt).min(self.buf.len());
    }
}

impl Read for SourceReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl Seek for SourceReader {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => self.end.checked_add_signed(d),
            SeekFrom::Current(d) => self.at().checked_add_signed(d),
        }
        .filter(|t| (self.start..=self.end).contains(t))
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek outside the readable range",
            )
        })?;
        let buffered = self.buf_at..self.buf_at + self.buf.len() as u64;
        if buffered.contains(&target) {
            self.pos = usize::try_from(target - self.buf_at).unwrap_or(usize::MAX);
        } else {
            self.buf.clear();
            self.buf_at = target;
            self.pos = 0;
        }
        Ok(target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Mem(Vec<u8>, ReadStats, usize);

    impl RandomAccess for Mem {
        fn len(&self) -> u64 {
            self.0.len() as u64
        }
        fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
            let at = usize::try_from(offset).map_err(io::Error::other)?;
            let src = self
                .0
                .get(at..at + buf.len())
                .ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof))?;
            buf.copy_from_slice(src);
            self.1.record(buf.len() as u64);
            Ok(())
        }
        fn chunk_size(&self) -> usize {
            self.2
        }
    }

    #[test]
    fn reads_ranges_in_chunks_and_seeks() -> io::Result<()> {
        let data: Vec<u8> = (0..10_000_u32).map(|i| (i % 241) as u8).collect();
        let mem = Arc::new(Mem(data.clone(), ReadStats::default(), 1000));
        let source: Arc<dyn RandomAccess> = mem.clone();
        let mut all = Vec::new();
        SourceReader::new(Arc::clone(&source)).read_to_end(&mut all)?;
        assert_eq!(all, data);
        assert_eq!(mem.1.snapshot(), (10, 10_000));

        let mut part = Vec::new();
        SourceReader::range(Arc::clone(&source), 2500, 2600).read_to_end(&mut part)?;
        assert_eq!(part, &data[2500..2600]);

        let mut r = SourceReader::range(Arc::clone(&source), 100, 9000);
        r.seek(SeekFrom::Start(5000))?;
        let mut b = [0_u8; 3];
        r.read_exact(&mut b)?;
        assert_eq!(b, data[5000..5003]);
        r.seek(SeekFrom::Current(-3))?;
        r.read_exact(&mut b)?;
        assert_eq!(b, data[5000..5003]);
        assert_eq!(r.seek(SeekFrom::End(0))?, 9000);
        assert_eq!(r.read(&mut b)?, 0);
        assert!(r.seek(SeekFrom::Start(50)).is_err());
        assert!(r.seek(SeekFrom::Start(9001)).is_err());
        Ok(())
    }
}
