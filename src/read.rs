//! Read: bytes from files or standard input, gunzipped when they are gzip, cut into lines.
//!
//! Lines are handed out as byte slices, copied only when one spans two reads. A line longer
//! than the limit is cut there and the rest of it skipped, so memory stays bounded whatever
//! the input: a 100 MB line with no newline costs the limit, not 100 MB.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use flate2::read::MultiGzDecoder;

/// Default line limit: 1 MiB, room for a `connections:` line of some 12,000 pooled
/// connections (300 make 25 KB, FORMATS.md §3).
pub const DEFAULT_MAX_LINE: usize = 1 << 20;

const BUFFER: usize = 1024 * 1024;

/// Opens a file, or standard input for `-`, decoding gzip (any number of members) when the
/// first bytes say so.
pub fn open(path: &Path) -> io::Result<Box<dyn BufRead + Send>> {
    let raw: Box<dyn Read + Send> = if path == Path::new("-") {
        Box::new(io::stdin())
    } else {
        let p = path;
        if p.is_dir() {
            return Err(io::Error::other("is a directory"));
        }
        Box::new(File::open(p)?)
    };
    sniff(raw)
}

/// Wraps a reader, decoding it when it starts with the gzip magic bytes.
pub fn sniff(mut raw: Box<dyn Read + Send>) -> io::Result<Box<dyn BufRead + Send>> {
    let mut magic = [0u8; 2];
    let mut have = 0;
    while have < 2 {
        match raw.read(&mut magic[have..]) {
            Ok(0) => break,
            Ok(n) => have += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let head = io::Cursor::new(magic[..have].to_vec());
    let joined = head.chain(raw);
    if have == 2 && magic == [0x1f, 0x8b] {
        Ok(Box::new(BufReader::with_capacity(
            BUFFER,
            MultiGzDecoder::new(joined),
        )))
    } else {
        Ok(Box::new(BufReader::with_capacity(BUFFER, joined)))
    }
}

/// What [`lines`] says of a line besides its bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineInfo {
    /// Bytes the line took in the input, its `\n` included.
    pub raw_len: u64,
    /// The line was longer than the limit and only its first bytes are given.
    pub cut: bool,
}

/// Cuts bytes that arrive in chunks (reads, pipe writes) into lines, keeping at most `max`
/// bytes of a line that spans chunks. Each line is given twice: `raw` as it was (its `\n`
/// included, cut lines to their first `max` bytes plus `\n`) and `line` without the `\n`.
#[derive(Debug)]
pub struct Splitter {
    /// Bytes kept of a line.
    pub max: usize,
    /// A line begun in an earlier chunk: its first bytes, then `\n` once it ends.
    acc: Vec<u8>,
    partial: bool,
    cut: bool,
    raw_len: u64,
}

impl Splitter {
    /// A splitter cutting lines at `max` bytes.
    pub fn new(max: usize) -> Self {
        Splitter {
            max,
            acc: Vec::new(),
            partial: false,
            cut: false,
            raw_len: 0,
        }
    }

    /// Whether a line has begun and not ended.
    pub fn has_partial(&self) -> bool {
        self.partial
    }

    /// Cuts `chunk` into lines, calling `each(raw, line, info)` for every line it ends.
    pub fn push<E>(
        &mut self,
        mut chunk: &[u8],
        each: &mut impl FnMut(&[u8], &[u8], LineInfo) -> Result<(), E>,
    ) -> Result<(), E> {
        while !chunk.is_empty() {
            let (end, used) = match memchr::memchr(b'\n', chunk) {
                Some(i) => (true, i + 1),
                None => (false, chunk.len()),
            };
            let body = &chunk[..used - usize::from(end)];
            if !self.partial && end && body.len() <= self.max {
                // The common case: the whole line is in this chunk.
                each(
                    &chunk[..used],
                    body,
                    LineInfo {
                        raw_len: used as u64,
                        cut: false,
                    },
                )?;
            } else {
                self.partial = true;
                self.raw_len += used as u64;
                let room = self.max.saturating_sub(self.acc.len());
                self.cut |= body.len() > room;
                self.acc.extend_from_slice(&body[..body.len().min(room)]);
                if end {
                    self.acc.push(b'\n');
                    self.emit(each)?;
                }
            }
            chunk = &chunk[used..];
        }
        Ok(())
    }

    /// Gives a last line that never got its `\n` (at the end of the input).
    pub fn finish<E>(
        &mut self,
        each: &mut impl FnMut(&[u8], &[u8], LineInfo) -> Result<(), E>,
    ) -> Result<(), E> {
        if self.partial {
            self.emit(each)
        } else {
            Ok(())
        }
    }

    fn emit<E>(
        &mut self,
        each: &mut impl FnMut(&[u8], &[u8], LineInfo) -> Result<(), E>,
    ) -> Result<(), E> {
        let info = LineInfo {
            raw_len: self.raw_len,
            cut: self.cut,
        };
        let line = self.acc.strip_suffix(b"\n").unwrap_or(&self.acc);
        let result = each(&self.acc, line, info);
        self.acc.clear();
        self.partial = false;
        self.cut = false;
        self.raw_len = 0;
        result
    }
}

/// Where lines go, with a say in what need not be split at all.
pub trait LineSink {
    /// The error a line can end reading with.
    type Error;

    /// How many bytes at the start of `buf` are whole lines nobody needs to see (the sink
    /// accounts for them itself). 0 by default.
    fn skip(&mut self, _buf: &[u8]) -> usize {
        0
    }

    /// One line: `raw` with its `\n`, `line` without.
    fn line(&mut self, raw: &[u8], line: &[u8], info: LineInfo) -> Result<(), Self::Error>;
}

/// Cuts `chunk` into lines like [`Splitter::push`], but first asks the sink how many bytes
/// at the current position it can skip, and asks again after each line. Lines far from any
/// warning are then skipped in bulk: no splitting, decoding or unwrapping, one vectorised
/// search and a newline count.
pub fn split_skipping<S: LineSink + ?Sized>(
    splitter: &mut Splitter,
    chunk: &[u8],
    sink: &mut S,
) -> Result<(), S::Error> {
    let mut p = 0;
    if splitter.has_partial() {
        // Finish the line the last chunk began, then skip from the next one.
        match memchr::memchr(b'\n', chunk) {
            Some(i) => {
                splitter.push(&chunk[..=i], &mut |raw: &[u8], line: &[u8], info| {
                    sink.line(raw, line, info)
                })?;
                p = i + 1;
            }
            None => {
                return splitter.push(chunk, &mut |raw: &[u8], line: &[u8], info| {
                    sink.line(raw, line, info)
                });
            }
        }
    }
    while p < chunk.len() {
        p += sink.skip(&chunk[p..]);
        match memchr::memchr(b'\n', &chunk[p..]) {
            Some(i) if i <= splitter.max => {
                sink.line(
                    &chunk[p..=p + i],
                    &chunk[p..p + i],
                    LineInfo {
                        raw_len: i as u64 + 1,
                        cut: false,
                    },
                )?;
                p += i + 1;
            }
            // A line without its end in this chunk, or too long: the splitter takes it.
            _ => break,
        }
    }
    splitter.push(&chunk[p..], &mut |raw: &[u8], line: &[u8], info| {
        sink.line(raw, line, info)
    })
}

/// Reads `r` to its end into `sink`, skipping in bulk what it says (see [`split_skipping`]).
pub fn read_into<R, S>(r: &mut R, max: usize, sink: &mut S) -> Result<(), S::Error>
where
    R: BufRead + ?Sized,
    S: LineSink + ?Sized,
    S::Error: From<io::Error>,
{
    let mut splitter = Splitter::new(max);
    loop {
        let buf = match r.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        };
        if buf.is_empty() {
            return splitter
                .finish(&mut |raw: &[u8], line: &[u8], info| sink.line(raw, line, info));
        }
        let n = buf.len();
        split_skipping(&mut splitter, buf, sink)?;
        r.consume(n);
    }
}

/// Calls `each(line, info)` for every line of `r`, without its `\n`; a line longer than
/// `max` is given cut to its first `max` bytes. A last line without `\n` is given too.
/// Stops at the first error from `r` or from `each`.
pub fn lines<R, E>(
    r: &mut R,
    max: usize,
    mut each: impl FnMut(&[u8], LineInfo) -> Result<(), E>,
) -> Result<(), E>
where
    R: BufRead + ?Sized,
    E: From<io::Error>,
{
    let mut splitter = Splitter::new(max);
    let mut each = |_: &[u8], line: &[u8], info: LineInfo| each(line, info);
    loop {
        let buf = match r.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        };
        if buf.is_empty() {
            return splitter.finish(&mut each);
        }
        let n = buf.len();
        splitter.push(buf, &mut each)?;
        r.consume(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(input: &[u8], max: usize) -> Vec<(Vec<u8>, bool)> {
        let mut r = BufReader::with_capacity(8, input);
        let mut v = Vec::new();
        lines::<_, io::Error>(&mut r, max, |l, info| {
            v.push((l.to_vec(), info.cut));
            Ok(())
        })
        .unwrap();
        v
    }

    #[test]
    fn lines_across_reads_and_a_last_line_without_newline() {
        let v = collect(b"short\na line longer than eight\n\nend", 100);
        let texts: Vec<&[u8]> = v.iter().map(|(l, _)| l.as_slice()).collect();
        assert_eq!(
            texts,
            [&b"short"[..], b"a line longer than eight", b"", b"end"]
        );
        assert!(v.iter().all(|(_, c)| !c));
    }

    #[test]
    fn over_long_line_is_cut_and_the_next_line_is_intact() {
        let v = collect(b"0123456789abcdef\nnext\n", 10);
        assert_eq!(
            v,
            vec![(b"0123456789".to_vec(), true), (b"next".to_vec(), false)]
        );
    }

    #[test]
    fn raw_lines_keep_their_endings_across_chunks() {
        let mut sp = Splitter::new(100);
        let mut raw = Vec::new();
        let mut each = |r: &[u8], _: &[u8], _: LineInfo| -> Result<(), ()> {
            raw.push(r.to_vec());
            Ok(())
        };
        for chunk in [&b"ab"[..], b"c\r\nde", b"f\n", b"tail"] {
            sp.push(chunk, &mut each).unwrap();
        }
        assert!(sp.has_partial());
        sp.finish(&mut each).unwrap();
        assert_eq!(
            raw,
            [b"abc\r\n".to_vec(), b"def\n".to_vec(), b"tail".to_vec()]
        );
    }

    #[test]
    fn gzip_with_several_members_is_decoded_whole() {
        use flate2::{Compression, write::GzEncoder};
        use std::io::Write;
        let mut data = Vec::new();
        for part in [&b"one\n"[..], b"two\n"] {
            let mut e = GzEncoder::new(Vec::new(), Compression::fast());
            e.write_all(part).unwrap();
            data.extend(e.finish().unwrap());
        }
        let mut r = sniff(Box::new(io::Cursor::new(data))).unwrap();
        let mut s = String::new();
        r.read_to_string(&mut s).unwrap();
        assert_eq!(s, "one\ntwo\n");
    }

    #[test]
    fn one_byte_input_is_not_mistaken_for_gzip() {
        let mut r = sniff(Box::new(io::Cursor::new(vec![0x1f]))).unwrap();
        let mut v = Vec::new();
        r.read_to_end(&mut v).unwrap();
        assert_eq!(v, [0x1f]);
    }
}
