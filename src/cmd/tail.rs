//! Tail: follow files like `tail -F` and report findings as they happen.
//!
//! Each file has its own reader position, line splitter and scanner (so its own envelope
//! detection and pairing state). The parent directories are watched with `notify`; every
//! event, and a timer (the only trigger under `--poll`, or when the watcher cannot start),
//! makes each file be looked at again:
//! - a different file at the path (rename rotation, delete and create): the old one is read
//!   to its end through the handle still open, then the new one from its start;
//! - a file smaller than the position (copytruncate): read again from its start;
//! - no file at the path: the open handle is drained and kept until a file comes back.
//!
//! A last line without its newline is held until it is complete.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Result, anyhow};
use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;

use crate::cmd::cli::{Format, TailArgs};
use crate::cmd::io::{Io, warn_cut};
use crate::cmd::printer::{Printer, Sink};
use crate::cmd::setup::Setup;
use crate::cmd::tally::{Show, Tally};
use crate::exit;
use crate::input::live::{self, FlushClock, Signals};
use crate::input::read::Splitter;
use crate::pipeline::scan::{Out, Scanner};

/// How often files are looked at when notifications work (in case one is missed).
const SAFETY_TICK: Duration = Duration::from_secs(1);
/// Bytes read from a file at a time.
const CHUNK: usize = 256 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FileId(u64, u64);

fn file_id(m: &std::fs::Metadata) -> FileId {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        FileId(m.dev(), m.ino())
    }
    #[cfg(not(unix))]
    {
        FileId(
            0,
            m.created()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos() as u64),
        )
    }
}

struct Followed<'s> {
    setup: &'s Setup,
    path: PathBuf,
    input: usize,
    file: Option<(File, FileId)>,
    pos: u64,
    /// Start at the end of the first file found (files present when tail started).
    skip_existing: bool,
    splitter: Splitter,
    scanner: Scanner<'s>,
    out: Out,
}

impl<'s> Followed<'s> {
    /// Bytes of a line begun but not ended.
    fn splitter_bytes(&self) -> u64 {
        u64::from(self.splitter.has_partial()) * self.pos
    }

    /// Reads what is new at the path.
    fn poll(&mut self, sink: &mut Sink<'_>) -> Result<()> {
        match std::fs::metadata(&self.path) {
            Err(_) => {
                // Renamed away or deleted: what the writer added before is still ours, under
                // the name the file has now.
                if let Some((f, _)) = &self.file {
                    if let Some(name) = name_of_open(f, &self.path) {
                        sink.tally.rename_input(self.input, name);
                    }
                    self.drain(sink)?;
                }
            }
            Ok(m) => {
                let id = file_id(&m);
                if let Some((f, old)) = &self.file
                    && *old != id
                {
                    // Rotated: the old file is read to its end under the name it has now,
                    // and the new one is numbered from its first line.
                    if let Some(name) = name_of_open(f, &self.path) {
                        sink.tally.rename_input(self.input, name);
                    }
                    self.drain(sink)?;
                    self.end_partial_line(sink)?;
                    self.next_generation(sink)?;
                    self.file = None;
                }
                if self.file.is_none() {
                    let Ok(f) = File::open(&self.path) else {
                        return Ok(());
                    };
                    self.pos = 0;
                    if self.skip_existing {
                        // Joined at the end: the lines passed over still count in line numbers.
                        let (pos, lines) = whole_lines_before(&f, m.len())?;
                        self.pos = pos;
                        let scanner = std::mem::replace(&mut self.scanner, self.setup.scanner());
                        self.scanner = scanner.start_after(lines);
                    }
                    self.skip_existing = false;
                    self.file = Some((f, id));
                }
                if m.len() < self.pos {
                    // Truncated in place (copytruncate): the rest of the old line is gone, and
                    // what is written now is numbered from line 1.
                    self.end_partial_line(sink)?;
                    self.next_generation(sink)?;
                    self.pos = 0;
                }
                self.drain(sink)?;
            }
        }
        Ok(())
    }

    /// Reads the open file from the position to its end.
    fn drain(&mut self, sink: &mut Sink<'_>) -> Result<()> {
        let Some((f, _)) = &mut self.file else {
            return Ok(());
        };
        f.seek(SeekFrom::Start(self.pos))?;
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = match f.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            };
            self.pos += n as u64;
            let (scanner, out) = (&mut self.scanner, &mut self.out);
            self.splitter.push(&buf[..n], &mut |_: &[u8],
                                                 line: &[u8],
                                                 info|
             -> io::Result<()> {
                scanner.push_line(line, info, out);
                Ok(())
            })?;
            sink.take(&mut self.out, self.input, &self.scanner)?;
        }
        Ok(())
    }

    /// Decides what the file read so far holds, and starts a new input for what comes next
    /// at the path: a fresh scanner, lines numbered from 1.
    fn next_generation(&mut self, sink: &mut Sink<'_>) -> Result<()> {
        self.flush(sink)?;
        self.input = sink.tally.add_input(self.path.display().to_string());
        self.scanner = self.setup.scanner();
        Ok(())
    }

    fn end_partial_line(&mut self, sink: &mut Sink<'_>) -> Result<()> {
        let (scanner, out) = (&mut self.scanner, &mut self.out);
        self.splitter
            .finish(&mut |_: &[u8], line: &[u8], info| -> io::Result<()> {
                scanner.push_line(line, info, out);
                Ok(())
            })?;
        self.report(sink)
    }

    fn flush(&mut self, sink: &mut Sink<'_>) -> Result<()> {
        self.scanner.finish(&mut self.out);
        self.report(sink)
    }

    fn report(&mut self, sink: &mut Sink<'_>) -> Result<()> {
        sink.take(&mut self.out, self.input, &self.scanner)?;
        Ok(())
    }
}

/// The name an open file followed as `followed` has now, when the system says (Linux:
/// `/proc/self/fd`) and it is still in the file system: beside `followed` when it stayed in
/// its directory (`app.log` → `app.log.1`).
fn name_of_open(f: &File, followed: &Path) -> Option<String> {
    use std::os::fd::AsRawFd;
    let now = std::fs::read_link(format!("/proc/self/fd/{}", f.as_raw_fd())).ok()?;
    if now.to_string_lossy().ends_with(" (deleted)") {
        return None;
    }
    let dir = match followed.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let same_dir = dir.canonicalize().ok().as_deref() == now.parent();
    let name = match (same_dir, now.file_name()) {
        (true, Some(file)) => followed.with_file_name(file),
        _ => now,
    };
    Some(name.display().to_string())
}

/// Where the last whole line of `f`'s first `len` bytes ends, and how many lines that is:
/// `tail` starts there, so a line being written when it starts is read whole.
fn whole_lines_before(f: &File, len: u64) -> io::Result<(u64, u64)> {
    use std::os::unix::fs::FileExt;
    let mut buf = vec![0u8; CHUNK];
    let (mut at, mut lines, mut end) = (0u64, 0u64, 0u64);
    while at < len {
        let want = (len - at).min(CHUNK as u64) as usize;
        let n = f.read_at(&mut buf[..want], at)?;
        if n == 0 {
            break;
        }
        lines += bytecount::count(&buf[..n], b'\n') as u64;
        if let Some(i) = memchr::memrchr(b'\n', &buf[..n]) {
            end = at + i as u64 + 1;
        }
        at += n as u64;
    }
    Ok((end, lines))
}

fn is_glob(p: &str) -> bool {
    p.contains(['*', '?', '['])
}

/// The directory to watch for a path or glob: the longest leading part without wildcards.
fn watch_dir(pattern: &str) -> PathBuf {
    let mut dir = PathBuf::new();
    let path = Path::new(pattern);
    let parts: Vec<_> = path.components().collect();
    for (i, c) in parts.iter().enumerate() {
        let s = c.as_os_str().to_string_lossy();
        if is_glob(&s) || i + 1 == parts.len() {
            break;
        }
        dir.push(c);
    }
    if dir.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        dir
    }
}

/// Everything being followed.
struct Tail<'s> {
    setup: &'s Setup,
    patterns: Vec<String>,
    files: Vec<Followed<'s>>,
    from_start: bool,
}

impl<'s> Tail<'s> {
    /// Adds files the patterns name that are not followed yet. Files present at the start
    /// are read from their end (unless --from-start); files that appear later, from their start.
    fn discover(&mut self, sink: &mut Sink<'_>, at_start: bool) -> Result<()> {
        for p in self.patterns.clone() {
            let paths: Vec<PathBuf> = if is_glob(&p) {
                let found: Vec<PathBuf> = glob::glob(&p)
                    .map_err(|e| anyhow!("{p}: {e}"))?
                    .filter_map(|r| r.ok())
                    .filter(|p| p.is_file())
                    .collect();
                if at_start && found.is_empty() {
                    eprintln!(
                        "unclosed: {}: no file matches yet; following files that match when they appear",
                        crate::pipeline::escape::terminal(&p)
                    );
                }
                found
            } else {
                vec![PathBuf::from(&p)]
            };
            for path in paths {
                if self.files.iter().any(|f| f.path == path) {
                    continue;
                }
                let input = sink.tally.add_input(path.display().to_string());
                let exists = path.exists();
                if at_start && !exists {
                    // Like `tail -F`: say so, and follow it once it appears.
                    eprintln!(
                        "unclosed: {}: no such file yet; following it when it appears",
                        crate::pipeline::escape::terminal(&path.display().to_string())
                    );
                }
                self.files.push(Followed {
                    setup: self.setup,
                    // Only a file that is there when tail starts is read from its end.
                    skip_existing: at_start && exists && !self.from_start,
                    path,
                    input,
                    file: None,
                    pos: 0,
                    splitter: Splitter::new(self.setup.max_line),
                    scanner: self.setup.scanner(),
                    out: Out::default(),
                });
            }
        }
        Ok(())
    }

    fn poll(&mut self, sink: &mut Sink<'_>) -> Result<()> {
        self.discover(sink, false)?;
        for f in &mut self.files {
            f.poll(sink)?;
        }
        Ok(())
    }

    fn has_partial_line(&self) -> bool {
        self.files.iter().any(|f| f.splitter.has_partial())
    }

    /// The bytes read from every file so far.
    fn bytes_read(&self) -> u64 {
        self.files
            .iter()
            .map(|f| f.scanner.stats.bytes + f.splitter_bytes())
            .sum()
    }

    /// The oldest held line of each file, as one key that changes when any of them does.
    fn oldest_held(&self) -> Option<u64> {
        let mut key: Option<u64> = None;
        for (i, f) in self.files.iter().enumerate() {
            if let Some(n) = f.scanner.oldest_held() {
                let k = (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ n;
                key = Some(key.map_or(k, |x| x.wrapping_add(k)));
            }
        }
        key
    }

    fn flush(&mut self, sink: &mut Sink<'_>) -> Result<()> {
        for f in &mut self.files {
            f.flush(sink)?;
        }
        Ok(())
    }
}

/// Starts watching the directories; `None` when notifications cannot start.
fn watch(dirs: &[PathBuf], tx: mpsc::Sender<()>) -> Option<notify::RecommendedWatcher> {
    let mut w = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        // Our own reads and directory listings are access events: reacting to them would
        // wake us forever. Only changes matter.
        if let Ok(e) = &event
            && matches!(e.kind, notify::EventKind::Access(_))
        {
            return;
        }
        // A full channel already means "look again"; nothing is lost by dropping this one.
        let _ = tx.try_send(());
    })
    .ok()?;
    let mut any = false;
    for d in dirs {
        any |= w.watch(d, RecursiveMode::NonRecursive).is_ok();
    }
    any.then_some(w)
}

/// `unclosed tail`.
pub fn run(args: &TailArgs, io: &mut Io<'_>) -> Result<i32> {
    if args.format == Format::Json {
        return Err(anyhow!(
            "tail reports as it goes: use --format table, list or ndjson"
        ));
    }
    let setup = Setup::new(&args.read)?;
    let terminal = io.env.stdout_terminal && args.format == Format::Table;
    // The table's findings come as plain lines while following; the table ends the run.
    let live_format = if args.format == Format::Table {
        Format::List
    } else {
        args.format
    };
    let mut out = io::BufWriter::new(&mut *io.out);
    let color = io.env.color(args.color);
    let mut sink = Sink {
        tally: Tally::new(setup.rules.clone()),
        printer: Printer::new(live_format, &mut out, color, io.env.stdout_width),
    };
    if terminal {
        sink.printer.keep_status_line();
    }
    let mut tail = Tail {
        setup: &setup,
        patterns: args.patterns.clone(),
        files: Vec::new(),
        from_start: args.from_start,
    };
    tail.discover(&mut sink, true)?;
    // Where each file stands is fixed now, at the start: a line written from here on is
    // reported, however long the watch takes to set up.
    tail.poll(&mut sink)?;

    let rt = live::runtime()?;
    let result: Result<()> = rt.block_on(async {
        let mut signals = Signals::new()?;
        let (tx, mut events) = mpsc::channel::<()>(1);
        let dirs: Vec<PathBuf> = args.patterns.iter().map(|p| watch_dir(p)).collect();
        let watcher = if args.poll { None } else { watch(&dirs, tx) };
        if watcher.is_none() && !args.poll {
            eprintln!(
                "unclosed: file notifications unavailable here; polling every {} ms",
                args.poll_ms
            );
        }
        let tick = if watcher.is_some() {
            SAFETY_TICK
        } else {
            Duration::from_millis(args.poll_ms.max(10))
        };
        let mut ticker = tokio::time::interval(tick);
        let mut clock = FlushClock::new(setup.flush);
        tail.poll(&mut sink)?;
        let mut last_bytes = tokio::time::Instant::now();
        let mut read_so_far = tail.bytes_read();
        loop {
            let deadline = clock.deadline_after(tail.has_partial_line(), last_bytes);
            tokio::select! {
                _ = ticker.tick() => tail.poll(&mut sink)?,
                Some(()) = events.recv() => tail.poll(&mut sink)?,
                _ = live::sleep_until(deadline) => tail.flush(&mut sink)?,
                _ = signals.recv() => break,
            }
            clock.note(tail.oldest_held());
            let now_read = tail.bytes_read();
            if now_read != read_so_far {
                read_so_far = now_read;
                last_bytes = tokio::time::Instant::now();
            }
            let files = tail.files.len();
            let what = format!(
                "following {files} file{}",
                if files == 1 { "" } else { "s" }
            );
            let tally = &sink.tally;
            sink.printer.status(&|| tally.status_text(&what))?;
        }
        drop(watcher);
        Ok(())
    });
    // The end: read what is left, decide everything, print the summary.
    for f in &mut tail.files {
        f.poll(&mut sink)?;
        f.end_partial_line(&mut sink)?;
        f.flush(&mut sink)?;
    }
    result?;
    sink.printer.set_format(if args.format == Format::Table {
        Format::Table
    } else {
        live_format
    });
    sink.printer.finish(&sink.tally)?;
    for f in &tail.files {
        warn_cut(
            &mut *io.err,
            &f.path.display().to_string(),
            f.scanner.cut_lines(),
            setup.max_line,
        );
    }
    drop(sink);
    out.flush()?;
    Ok(exit::OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watch_dir_is_the_part_before_any_wildcard() {
        assert_eq!(
            watch_dir("/var/log/containers/api-*.log"),
            PathBuf::from("/var/log/containers")
        );
        assert_eq!(watch_dir("/var/log/*/app.log"), PathBuf::from("/var/log"));
        assert_eq!(watch_dir("app.log"), PathBuf::from("."));
        assert_eq!(watch_dir("logs/app.log"), PathBuf::from("logs"));
    }
}
