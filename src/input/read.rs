//! Read: bytes from files or standard input, gunzipped when they are gzip, cut into lines.
//!
//! Lines are handed out as byte slices, copied only when one spans two reads. A line longer
//! than the limit is cut there and the rest of it skipped, so memory stays bounded whatever
//! the input: a 100 MB line with no newline costs the limit, not 100 MB.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::os::unix::fs::FileTypeExt;
use std::path::Path;

use flate2::read::MultiGzDecoder;

use crate::pipeline::lines::split_chunk;
pub use crate::pipeline::lines::{
    Ahead, DEFAULT_MAX_LINE, LineInfo, LineSink, Lookahead, Splitter, Survey, split_skipping,
};

const BUFFER: usize = 1024 * 1024;

/// An input, opened.
pub enum Input {
    /// A large regular file that is not gzip: [`read_file_parallel`] can read it.
    File(File),
    /// A regular file read in order (gzip, or small).
    Stream(Box<dyn BufRead + Send>),
    /// Standard input, a named pipe, a device: read as it arrives, not yet sniffed for gzip
    /// (the first read may block, so it happens where signals are already handled).
    Live(Box<dyn Read + Send>),
}

/// A file opened at its first read.
struct OpenOnRead {
    path: std::path::PathBuf,
    file: Option<File>,
}

impl OpenOnRead {
    fn new(path: &Path) -> Self {
        OpenOnRead {
            path: path.to_owned(),
            file: None,
        }
    }
}

impl Read for OpenOnRead {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let file = match &mut self.file {
            Some(f) => f,
            None => self.file.insert(File::open(&self.path)?),
        };
        file.read(buf)
    }
}

/// Opens `path` (standard input for `-`) without reading from it.
pub fn open_raw(path: &Path) -> io::Result<Box<dyn Read + Send>> {
    if path == Path::new("-") {
        return Ok(Box::new(io::stdin()));
    }
    if std::fs::metadata(path).is_ok_and(|m| m.file_type().is_fifo()) {
        return Ok(Box::new(OpenOnRead::new(path)));
    }
    let file = File::open(path)?;
    if file.metadata()?.is_dir() {
        return Err(io::Error::other("is a directory"));
    }
    Ok(Box::new(file))
}

/// Asks for a 1 MiB buffer when `fd` is a pipe (Linux; the default is 64 KiB): a fast writer
/// (`cat FILE | unclosed scan`) then hands over a read's worth of lines at a time instead of
/// waking the reader every 64 KiB. Anything else, or a refusal, leaves it as it is.
fn grow_pipe(fd: &impl std::os::fd::AsFd) {
    #[cfg(target_os = "linux")]
    {
        let is_pipe = nix::sys::stat::fstat(fd)
            .is_ok_and(|st| st.st_mode & nix::libc::S_IFMT == nix::libc::S_IFIFO);
        if is_pipe {
            let _ = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_SETPIPE_SZ(1 << 20));
        }
    }
}

/// Files smaller than this are read on one thread: the threads would cost more than they
/// save.
const PARALLEL_MIN: u64 = 8 << 20;

/// Opens `path`: standard input, pipes and devices as [`Input::Live`], a large uncompressed
/// regular file as [`Input::File`] when `parallel`, any other file as [`Input::Stream`].
pub fn open_input(path: &Path, parallel: bool) -> io::Result<Input> {
    if path == Path::new("-") {
        grow_pipe(&io::stdin());
        return Ok(Input::Live(Box::new(io::stdin())));
    }
    // Opening a named pipe blocks until a writer opens it: that happens on the reader thread.
    if std::fs::metadata(path).is_ok_and(|m| m.file_type().is_fifo()) {
        return Ok(Input::Live(Box::new(OpenOnRead::new(path))));
    }
    let file = File::open(path)?;
    let meta = file.metadata()?;
    if meta.is_dir() {
        return Err(io::Error::other("is a directory"));
    }
    if !meta.is_file() {
        return Ok(Input::Live(Box::new(file)));
    }
    if parallel && meta.len() >= PARALLEL_MIN {
        use std::os::unix::fs::FileExt;
        let mut magic = [0u8; 2];
        if file.read_at(&mut magic, 0)? == 2 && magic != [0x1f, 0x8b] {
            return Ok(Input::File(file));
        }
    }
    sniff(Box::new(file)).map(Input::Stream)
}

/// Wraps a reader, decoding it when it starts with the gzip magic bytes, and buffers it.
pub fn sniff(raw: Box<dyn Read + Send>) -> io::Result<Box<dyn BufRead + Send>> {
    Ok(Box::new(BufReader::with_capacity(BUFFER, sniff_read(raw)?)))
}

/// Wraps a reader, decoding it when it starts with the gzip magic bytes; unbuffered, for a
/// reader that reads large chunks itself (a buffer would only copy each byte once more).
pub fn sniff_read(mut raw: Box<dyn Read + Send>) -> io::Result<Box<dyn Read + Send>> {
    // The first read takes what is there (not just the two magic bytes), so that it comes
    // out as one piece: bytes read from a pipe and left behind in a buffer would be lost
    // to a signal that came before the next read.
    let mut first = vec![0u8; BUFFER];
    let mut have = 0;
    while have < 2 {
        match raw.read(&mut first[have..]) {
            Ok(0) => break,
            Ok(n) => have += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    first.truncate(have);
    let gzip = first.starts_with(&[0x1f, 0x8b]);
    let joined = io::Cursor::new(first).chain(raw);
    if gzip {
        Ok(Box::new(MultiGzDecoder::new(joined)))
    } else {
        Ok(Box::new(joined))
    }
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
        split_skipping(&mut splitter, buf, None, sink)?;
        r.consume(n);
    }
}

/// Bytes a reader thread of [`read_file_parallel`] reads at a time.
const CHUNK: usize = 1 << 20;
/// Chunks each reader thread may have read ahead of the sink.
const AHEAD: usize = 2;

/// Reads a regular file to its end into `sink`, like [`read_into`], with `workers` threads
/// reading chunks ahead of it (positioned reads) and surveying each with `survey`, so that
/// searching the ordinary lines the sink skips is split across cores. The sink still gets
/// every chunk in order, on the calling thread, and decides the same things. Memory stays
/// bounded: each worker recycles `AHEAD + 2` buffers of `CHUNK` bytes. The file is read
/// up to the first short read; bytes written after that are not.
pub fn read_file_parallel<S>(
    file: &File,
    max: usize,
    workers: usize,
    survey: &(dyn Fn(&[u8]) -> Survey + Sync),
    sink: &mut S,
) -> Result<(), S::Error>
where
    S: LineSink + ?Sized,
    S::Error: From<io::Error>,
{
    use std::sync::mpsc;
    type Read = io::Result<(Vec<u8>, Survey, bool)>;
    let workers = workers.max(1);
    std::thread::scope(|scope| {
        let mut full: Vec<mpsc::Receiver<Read>> = Vec::new();
        let mut spent: Vec<mpsc::Sender<Vec<u8>>> = Vec::new();
        for w in 0..workers {
            let (tx, rx) = mpsc::sync_channel::<Read>(AHEAD);
            let (back, free) = mpsc::channel::<Vec<u8>>();
            for _ in 0..AHEAD + 2 {
                let _ = back.send(Vec::new());
            }
            full.push(rx);
            spent.push(back);
            scope.spawn(move || {
                let mut index = w;
                // Ends when the sink is done with the file (the channels close) or at its end.
                while let Ok(mut buf) = free.recv() {
                    buf.resize(CHUNK, 0);
                    let at = (index * CHUNK) as u64;
                    let read = read_full_at(file, &mut buf, at).map(|n| {
                        buf.truncate(n);
                        let s = survey(&buf);
                        // A chunk the survey found nothing in is mostly skipped unread: the
                        // few lines the sink reads are checked as UTF-8 one by one.
                        let quiet = s.hits.is_empty() && s.complete_to >= buf.len();
                        (buf, s, quiet)
                    });
                    let last = !matches!(&read, Ok((b, _, _)) if b.len() == CHUNK);
                    if tx.send(read).is_err() || last {
                        return;
                    }
                    index += workers;
                }
            });
        }
        let mut splitter = Splitter::new(max);
        let mut index = 0;
        loop {
            let w = index % workers;
            let Ok(read) = full[w].recv() else {
                // A worker ends only after sending its last chunk or an error.
                return Err(io::Error::other("reader thread ended early").into());
            };
            let (chunk, survey, quiet) = read?;
            let n = chunk.len();
            // Checked as a whole (SIMD, a few percent of the time std's check takes); a chunk
            // cut in the middle of a character, or not UTF-8, is checked line by line instead.
            let text = if quiet {
                None
            } else {
                simdutf8::basic::from_utf8(&chunk).ok()
            };
            split_chunk(&mut splitter, &chunk, text, Some(&survey), sink)?;
            let _ = spent[w].send(chunk);
            if n < CHUNK {
                return splitter
                    .finish(&mut |raw: &[u8], line: &[u8], info| sink.line(raw, line, info));
            }
            index += 1;
        }
    })
}

/// Reads `file` from byte `from` to its end into `sink`, like [`read_into`], on this thread:
/// one thread's part of a file read by several ([`line_start`] finds where a part starts).
/// Each chunk is checked as UTF-8 at once, so its lines reach the sink as text.
pub fn read_from<S>(file: &File, from: u64, max: usize, sink: &mut S) -> Result<(), S::Error>
where
    S: LineSink + ?Sized,
    S::Error: From<io::Error>,
{
    let mut splitter = Splitter::new(max);
    let mut buf = vec![0u8; CHUNK];
    let mut at = from;
    loop {
        let n = read_full_at(file, &mut buf, at)?;
        let chunk = &buf[..n];
        // A chunk cut in the middle of a character is checked line by line instead.
        let text = simdutf8::basic::from_utf8(chunk).ok();
        split_chunk(&mut splitter, chunk, text, None, sink)?;
        if n < CHUNK {
            return splitter
                .finish(&mut |raw: &[u8], line: &[u8], info| sink.line(raw, line, info));
        }
        at += n as u64;
    }
}

/// The first line start at or after byte `at` of `file`: `at` itself when the byte before it
/// is a `\n`, else the byte after the next `\n`; the file's length when no line starts there.
pub fn line_start(file: &File, at: u64) -> io::Result<u64> {
    use std::os::unix::fs::FileExt;
    if at == 0 {
        return Ok(0);
    }
    let mut pos = at - 1;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read_at(&mut buf, pos)?;
        if n == 0 {
            return Ok(pos);
        }
        if let Some(i) = memchr::memchr(b'\n', &buf[..n]) {
            return Ok(pos + i as u64 + 1);
        }
        pos += n as u64;
    }
}

/// Reads `buf.len()` bytes at `at`, fewer only at the end of the file.
fn read_full_at(file: &File, buf: &mut [u8], at: u64) -> io::Result<usize> {
    use std::os::unix::fs::FileExt;
    let mut n = 0;
    while n < buf.len() {
        match file.read_at(&mut buf[n..], at + n as u64) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
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
    /// The callback as a sink that skips nothing.
    struct Each<F>(F);
    impl<F, E> LineSink for Each<F>
    where
        F: FnMut(&[u8], LineInfo) -> Result<(), E>,
    {
        type Error = E;
        fn line(&mut self, _raw: &[u8], line: &[u8], info: LineInfo) -> Result<(), E> {
            (self.0)(line, info)
        }
    }
    read_into(r, max, &mut Each(&mut each))
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
    fn a_survey_answers_only_for_what_it_searched() {
        let s = Survey {
            hits: vec![10, 50, 150],
            complete_to: 100,
        };
        assert_eq!(s.ahead(0, 200), Ahead::At(10));
        assert_eq!(s.ahead(10, 200), Ahead::At(0));
        assert_eq!(s.ahead(11, 200), Ahead::At(39));
        // Past the searched part, a hit may be missing from the list.
        assert_eq!(s.ahead(51, 200), Ahead::Unknown);
        let whole = Survey {
            hits: vec![10],
            complete_to: 200,
        };
        assert_eq!(whole.ahead(11, 200), Ahead::Nothing);
    }

    #[test]
    fn a_file_read_by_threads_gives_the_lines_one_thread_gives() {
        // Lines of every length across many chunks, one longer than the limit.
        let mut input = Vec::new();
        for i in 0..40_000usize {
            input.extend(std::iter::repeat_n(b'a' + (i % 26) as u8, i * 7 % 301));
            // Characters of two bytes, some cut by a chunk's end; and a few bytes that are
            // not UTF-8 at all, so that chunks are read both as text and as bytes.
            input.extend("é".repeat(i % 5).as_bytes());
            if i % 9_999 == 0 {
                input.push(0xff);
            }
            input.push(b'\n');
        }
        input.extend(std::iter::repeat_n(b'z', 3 * CHUNK));
        input.extend(b"\nlast line without newline");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.log");
        std::fs::write(&path, &input).unwrap();
        struct Collect(Vec<(Vec<u8>, bool)>);
        impl LineSink for Collect {
            type Error = io::Error;
            fn line(&mut self, _raw: &[u8], line: &[u8], info: LineInfo) -> io::Result<()> {
                self.0.push((line.to_vec(), info.cut));
                Ok(())
            }
        }
        let file = File::open(&path).unwrap();
        for workers in [1, 2, 3] {
            let mut got = Collect(Vec::new());
            read_file_parallel(&file, 1 << 16, workers, &|_| Survey::default(), &mut got).unwrap();
            assert_eq!(got.0, collect(&input, 1 << 16), "{workers} workers");
        }
    }

    #[test]
    fn one_byte_input_is_not_mistaken_for_gzip() {
        let mut r = sniff(Box::new(io::Cursor::new(vec![0x1f]))).unwrap();
        let mut v = Vec::new();
        r.read_to_end(&mut v).unwrap();
        assert_eq!(v, [0x1f]);
    }
}
