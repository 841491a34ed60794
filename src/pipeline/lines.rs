//! Lines: bytes cut into lines, bounded in length, with the bytes nobody needs skipped in
//! bulk. Pure: the readers in `input::read` feed it whatever they read.
//!
//! Lines are handed out as byte slices, copied only when one spans two reads. A line longer
//! than the limit is cut there and the rest of it skipped, so memory stays bounded whatever
//! the input: a 100 MB line with no newline costs the limit, not 100 MB.

/// Default line limit: 1 MiB, room for a `connections:` line of some 12,000 pooled
/// connections (300 make 25 KB, docs/formats.md §3).
pub const DEFAULT_MAX_LINE: usize = 1 << 20;

/// What the splitter says of a line besides its bytes.
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

/// Where the sink's words of interest start in a chunk, found by a reader thread ahead of the
/// sink (`input::read::read_file_parallel`): sorted offsets, complete before `complete_to`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Survey {
    /// Offsets of the word occurrences found, ascending.
    pub hits: Vec<usize>,
    /// Every occurrence starting before this offset is in `hits` (the search stops early in
    /// chunks full of them, where it would save nothing).
    pub complete_to: usize,
}

/// What a survey can tell about the bytes from the skip position on, asked only when the
/// sink is ready to skip (in a block, it is not, line after line).
#[derive(Clone, Copy, Debug)]
pub struct Lookahead<'a> {
    survey: Option<&'a Survey>,
    at: usize,
    len: usize,
}

impl Lookahead<'_> {
    /// Nothing known: the sink searches itself.
    pub const UNKNOWN: Lookahead<'static> = Lookahead {
        survey: None,
        at: 0,
        len: 0,
    };

    /// What is known.
    pub fn get(&self) -> Ahead {
        self.survey
            .map_or(Ahead::Unknown, |s| s.ahead(self.at, self.len))
    }
}

/// What is known about the sink's words in the bytes from the skip position on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ahead {
    /// Nothing: the sink searches itself.
    Unknown,
    /// None of them is there.
    Nothing,
    /// The first one starts this many bytes on.
    At(usize),
}

impl Survey {
    /// What the survey says of the chunk's bytes from `p` to `len` (the chunk's length).
    pub fn ahead(&self, p: usize, len: usize) -> Ahead {
        let i = self.hits.partition_point(|&h| h < p);
        match self.hits.get(i) {
            Some(&h) if h < self.complete_to => Ahead::At(h - p),
            None if self.complete_to >= len => Ahead::Nothing,
            _ => Ahead::Unknown,
        }
    }
}

/// Where lines go, with a say in what need not be split at all.
pub trait LineSink {
    /// The error a line can end reading with.
    type Error;

    /// How many bytes at the start of `buf` are whole lines nobody needs to see (the sink
    /// accounts for them itself), given what is known `ahead` of it. 0 by default.
    fn skip(&mut self, _buf: &[u8], _ahead: Lookahead<'_>) -> usize {
        0
    }

    /// One line: `raw` with its `\n`, `line` without.
    fn line(&mut self, raw: &[u8], line: &[u8], info: LineInfo) -> Result<(), Self::Error>;

    /// One line already known to be UTF-8: `line` is `raw` without its `\n`.
    fn text_line(&mut self, raw: &[u8], line: &str, info: LineInfo) -> Result<(), Self::Error> {
        self.line(raw, line.as_bytes(), info)
    }
}

/// Cuts `chunk` into lines like [`Splitter::push`], but first asks the sink how many bytes
/// at the current position it can skip, and asks again after each line. Lines far from any
/// warning are then skipped in bulk: no splitting, decoding or unwrapping, one vectorised
/// search and a newline count.
pub fn split_skipping<S: LineSink + ?Sized>(
    splitter: &mut Splitter,
    chunk: &[u8],
    survey: Option<&Survey>,
    sink: &mut S,
) -> Result<(), S::Error> {
    split_chunk(splitter, chunk, None, survey, sink)
}

/// [`split_skipping`], given the chunk as text too when it is known to be UTF-8: its whole
/// lines then reach the sink as text ([`LineSink::text_line`]).
pub(crate) fn split_chunk<S: LineSink + ?Sized>(
    splitter: &mut Splitter,
    chunk: &[u8],
    text: Option<&str>,
    survey: Option<&Survey>,
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
        let ahead = Lookahead {
            survey,
            at: p,
            len: chunk.len(),
        };
        p += sink.skip(&chunk[p..], ahead);
        match memchr::memchr(b'\n', &chunk[p..]) {
            Some(i) if i <= splitter.max => {
                let info = LineInfo {
                    raw_len: i as u64 + 1,
                    cut: false,
                };
                // `\n` is ASCII: a line of a UTF-8 chunk is UTF-8.
                match text.and_then(|t| t.get(p..p + i)) {
                    Some(line) => sink.text_line(&chunk[p..=p + i], line, info)?,
                    None => sink.line(&chunk[p..=p + i], &chunk[p..p + i], info)?,
                }
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
