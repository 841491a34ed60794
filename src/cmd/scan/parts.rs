//! A large file read in parts, one thread each, for the reports that add findings up
//! (`scan` as a table or JSON, `check`).
//!
//! The file is cut at line starts into as many parts as there are threads. Each part has its
//! own scanner; a part after the first starts with nothing held, which may be wrong for its
//! first lines (a block begun in the part before), so it does not count what it decides
//! near its start: it keeps it, with the lines at which its scanner was at rest
//! ([`Scanner::rest`]). The part before reads on past its end until a line at which its own
//! scanner is at rest in the same state: from that line on both decide the same things, so
//! the part before stops there and the answer goes on with what the next part decided after
//! that line. When no such line comes within the next part's window, the part before reads
//! that part too (the answer stays exact; only the time is lost). The joined answer is the
//! one a single thread gives, which the tests below check at every join.
//!
//! A part numbers its lines from its own start: counting the lines before it would cost a
//! pass over them first. The part that joins it knows how many lines lie before the join
//! (it read them), and the answer moves the later part's lines on by that many.

use std::fs::File;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock, mpsc};
use std::time::Duration;

use anyhow::{Result, anyhow};

use crate::cmd::setup::Setup;
use crate::cmd::tally::{Show, Tally};
use crate::input::read::{self, LineInfo, LineSink, Lookahead};
use crate::pipeline::pair::Decided;
use crate::pipeline::scan::{InputStats, Out, Prefilter, Rest, Scanner};

/// How a file is cut.
#[derive(Clone, Copy, Debug)]
pub(super) struct Sizes {
    /// Parts are at least this long: a shorter one costs more in joining than it saves.
    pub min_part: u64,
    /// Bytes from a part's start within which the part before may join it.
    pub window: u64,
}

impl Sizes {
    /// What `scan` uses.
    pub const DEFAULT: Sizes = Sizes {
        min_part: 16 << 20,
        window: 2 << 20,
    };

    /// Into how many parts a file of `len` bytes is cut with `threads` threads (1: not cut).
    pub fn parts(&self, len: u64, threads: usize) -> usize {
        (len / self.min_part.max(1)).min(threads as u64).max(1) as usize
    }
}

/// Whether reading `file` (`len` bytes) in parts pays: where blocks are close together,
/// each part's scanner reads most lines itself and the parts share that work; where they are
/// far apart, one thread skips to them as fast as the file can be read, and a part after the
/// first would first have to count the lines before it. Decided from a few samples of the
/// file: at least one word that may start a block per 32 KiB.
pub(super) fn pays(file: &File, len: u64, prefilter: &Prefilter) -> io::Result<bool> {
    use std::os::unix::fs::FileExt;
    const SAMPLES: u64 = 8;
    const SAMPLE: usize = 64 << 10;
    let mut buf = vec![0; SAMPLE];
    let (mut hits, mut sampled) = (0, 0);
    for k in 0..SAMPLES {
        let n = file.read_at(&mut buf, len / SAMPLES * k)?;
        let mut p = 0;
        while let Some(h) = prefilter.first_hit(&buf[p..n]) {
            hits += 1;
            p += h + 1;
        }
        sampled += n;
    }
    Ok(sampled > 0 && hits * (32 << 10) >= sampled)
}

/// A line end at which a part's scanner was at rest.
struct RestPoint {
    /// Byte offset of the line start after it.
    pos: u64,
    rest: Rest,
    stats: InputStats,
    cut: u64,
    /// How much of the window's decided items came before it.
    decided: usize,
}

/// What a part decided near its start, for the part before to join it.
#[derive(Default)]
struct Window {
    points: Vec<RestPoint>,
    decided: Vec<Decided>,
    /// Unread mentions counted in the window: after which byte, and their line.
    unread: Vec<(u64, u64)>,
    /// Past this byte the part before stops trying to join.
    end: u64,
}

/// Where a part stopped: at rest point `at` of the window of part `part`.
struct Join {
    part: usize,
    at: usize,
    /// Lines the joining part had read there beyond those part `part` had: what moves
    /// the joined part's line numbers onto the joining part's.
    shift: u64,
}

/// What a part found up to where it stopped.
struct Found {
    tally: Tally,
    stats: InputStats,
    cut: u64,
    grammar: String,
    join: Option<Join>,
    /// Its scanner had so many streams that joining it may not be exact.
    crowded: bool,
}

/// What the parts share.
struct Shared<'a> {
    file: &'a File,
    /// Where each part starts, then the file's length.
    starts: Vec<u64>,
    /// The grammar the first part chose, for the others.
    grammar: OnceLock<Option<usize>>,
    /// Each part's window, once it has read past it (or stopped).
    windows: Vec<OnceLock<Window>>,
    /// A part that a part before it reads itself: it stops, and nobody joins it.
    dropped: Vec<AtomicBool>,
    /// Held while a part drops or joins the next: a part that is itself dropped does
    /// neither, so a part the chain of joins reaches from the first is never dropped.
    deciding: Mutex<()>,
    /// Lines read, for the status line.
    lines: AtomicU64,
}

/// Reads `file` (`len` bytes) in `parts` parts into input `input` of `tally`, as
/// [`super::ScanInput`] would read it whole. `show` gets the status line, and the findings
/// a part decided near its start (it shows nothing of findings: see [`Show::shows_each`]).
/// Returns false, having added nothing, when the parts cannot be joined exactly (a log of
/// so many streams that a part may have let one go, [`Scanner::crowded`]): the file is then
/// to be read whole.
#[allow(clippy::too_many_arguments)]
pub(super) fn read_in_parts(
    file: &File,
    len: u64,
    parts: usize,
    sizes: Sizes,
    setup: &Setup,
    tally: &mut Tally,
    input: usize,
    show: &mut dyn Show,
) -> Result<bool> {
    let mut starts = vec![0];
    for k in 1..parts {
        let at = read::line_start(file, len / parts as u64 * k as u64)?;
        starts.push(at.max(*starts.last().unwrap_or(&0)));
    }
    starts.push(len);
    let shared = Shared {
        file,
        starts,
        grammar: OnceLock::new(),
        windows: (0..parts).map(|_| OnceLock::new()).collect(),
        dropped: (0..parts).map(|_| AtomicBool::new(false)).collect(),
        deciding: Mutex::new(()),
        lines: AtomicU64::new(0),
    };
    let name = tally.inputs[input].name.clone();
    let mut found: Vec<Option<io::Result<Found>>> = Vec::new();
    std::thread::scope(|scope| {
        let (done_tx, done) = mpsc::channel();
        let handles: Vec<_> = (0..parts)
            .map(|k| {
                let (shared, done_tx) = (&shared, done_tx.clone());
                scope.spawn(move || {
                    let r = read_part(k, shared, setup, sizes, input);
                    // Nobody waits on a grammar or a window from a part that failed.
                    let _ = shared.grammar.set(None);
                    let _ = shared.windows[k].set(Window::default());
                    let _ = done_tx.send(());
                    r
                })
            })
            .collect();
        drop(done_tx);
        let mut left = parts;
        while left > 0 {
            match done.recv_timeout(Duration::from_millis(200)) {
                Ok(()) => left -= 1,
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
            let lines = shared.lines.load(Ordering::Relaxed);
            // The status line is a courtesy: a closed terminal shows up at the report.
            let _ = show.status(&|| format!("reading {name} · {lines} lines · {parts} threads"));
        }
        found = handles
            .into_iter()
            .map(|h| {
                Some(
                    h.join()
                        .unwrap_or_else(|_| Err(io::Error::other("a part panicked"))),
                )
            })
            .collect();
    });
    join_answers(found, &shared.windows, tally, input, show)
}

/// Adds the parts' answers up along the chain of joins, from the first part.
fn join_answers(
    mut found: Vec<Option<io::Result<Found>>>,
    windows: &[OnceLock<Window>],
    tally: &mut Tally,
    input: usize,
    show: &mut dyn Show,
) -> Result<bool> {
    if found.iter().any(|f| matches!(f, Some(Ok(f)) if f.crowded)) {
        return Ok(false);
    }
    let mut take = |k: usize| -> Result<Found> {
        match found.get_mut(k).and_then(Option::take) {
            Some(Ok(f)) => Ok(f),
            Some(Err(e)) => Err(e.into()),
            None => Err(anyhow!("part {k} of the file was not read")),
        }
    };
    let mut f = take(0)?;
    let grammar = f.grammar.clone();
    let mut stats = InputStats::default();
    let mut cut = 0;
    let (mut from, mut from_cut) = (InputStats::default(), 0);
    let mut first_unread = f.stats.first_unread;
    // Lines before the part `f` (which numbers its lines from its start).
    let mut shift = 0;
    loop {
        stats.lines += f.stats.lines - from.lines;
        stats.bytes += f.stats.bytes - from.bytes;
        stats.cut_lines += f.stats.cut_lines - from.cut_lines;
        stats.unread_mentions += f.stats.unread_mentions - from.unread_mentions;
        cut += f.cut - from_cut;
        tally.merge(f.tally);
        let Some(j) = f.join else { break };
        let window = windows[j.part]
            .get()
            .ok_or_else(|| anyhow!("part {} of the file has no window", j.part))?;
        let p = &window.points[j.at];
        let mut next = take(j.part)?;
        shift += j.shift;
        // Unread mentions of the next part: those after the join in its window, then the
        // first one after its window.
        let after = window.unread.iter().filter(|(at, _)| *at > p.pos);
        let first_next = after.map(|(_, n)| *n).chain(next.stats.first_unread).min();
        first_unread = first_unread.or(first_next.map(|n| n + shift));
        (from, from_cut) = (p.stats.clone(), p.cut);
        let mut decided = window.decided[p.decided..].to_vec();
        decided.iter_mut().for_each(|d| d.shift_lines(shift));
        let mut out = Out {
            decided,
            free: Vec::new(),
        };
        tally.take(&mut out, input, show)?;
        next.tally.shift_lines(shift);
        f = next;
    }
    stats.first_unread = first_unread;
    tally.set_input(input, &grammar, stats, cut);
    Ok(true)
}

/// Reads part `k`: from its start to its end, then on into the parts after it until it
/// joins one (or to the end of the file).
fn read_part(
    k: usize,
    shared: &Shared<'_>,
    setup: &Setup,
    sizes: Sizes,
    input: usize,
) -> io::Result<Found> {
    let start = shared.starts[k];
    let scanner = if k == 0 {
        setup.scanner()
    } else {
        match setup.forced.or(*shared.grammar.wait()) {
            Some(g) => setup.scanner_with(g),
            None => setup.scanner(),
        }
    };
    let window = (k > 0).then(|| Window {
        end: (start + sizes.window).min(shared.starts[k + 1]),
        ..Window::default()
    });
    let mut part = Part {
        k,
        shared,
        scanner,
        out: Out::default(),
        tally: Tally::new(setup.rules.clone()),
        input,
        pos: start,
        target: k + 1,
        end: shared.starts[k + 1],
        window,
        joining: None,
        join: None,
        stop: false,
        published: false,
        counted: 0,
    };
    // A part starts at rest: the part before may join it at its first line.
    part.note_rest();
    part.after_advance();
    let read = if part.stop {
        Ok(())
    } else {
        read::read_from(shared.file, start, setup.max_line, &mut part)
    };
    match read {
        Ok(()) => {
            if part.join.is_none() {
                part.scanner.finish(&mut part.out);
                part.take_decided()?;
                part.note_rest();
            }
        }
        Err(Halt::Stop) => {}
        Err(Halt::Io(e)) => return Err(e),
    }
    part.send_window();
    part.publish(true);
    Ok(Found {
        grammar: part.scanner.grammar().to_string(),
        stats: part.scanner.stats.clone(),
        cut: part.scanner.cut_lines(),
        tally: part.tally,
        join: part.join,
        crowded: part.scanner.crowded(),
    })
}

/// Why a part stopped reading.
enum Halt {
    /// It joined the next part, or the part before read this one itself.
    Stop,
    Io(io::Error),
}

impl From<io::Error> for Halt {
    fn from(e: io::Error) -> Self {
        Halt::Io(e)
    }
}

/// One part being read.
struct Part<'a, 's> {
    k: usize,
    shared: &'a Shared<'a>,
    scanner: Scanner<'s>,
    out: Out,
    tally: Tally,
    input: usize,
    /// The byte after the last line read.
    pos: u64,
    /// The part to join next, and where it starts.
    target: usize,
    end: u64,
    /// What this part decides near its start, until it is handed to the part before.
    window: Option<Window>,
    /// The window of the part being joined, and the first of its rest points not passed.
    joining: Option<(&'a Window, usize)>,
    join: Option<Join>,
    stop: bool,
    published: bool,
    /// Lines read and not yet added to the shared count.
    counted: u64,
}

impl Part<'_, '_> {
    /// The first part says which grammar it chose, once it has (or at its end).
    fn publish(&mut self, at_end: bool) {
        if self.k == 0 && !self.published {
            let chosen = self.scanner.chosen_grammar();
            if chosen.is_some() || at_end {
                let _ = self.shared.grammar.set(chosen);
                self.published = true;
            }
        }
    }

    /// What was decided goes to the window while there is one, else to the tally.
    fn take_decided(&mut self) -> io::Result<()> {
        if self.out.decided.is_empty() {
            return Ok(());
        }
        match &mut self.window {
            Some(w) => {
                w.decided.append(&mut self.out.decided);
                Ok(())
            }
            None => self.tally.take(&mut self.out, self.input, &mut ()),
        }
    }

    fn note_rest(&mut self) {
        if let Some(w) = &mut self.window
            && let Some(rest) = self.scanner.rest()
        {
            w.points.push(RestPoint {
                pos: self.pos,
                rest,
                stats: self.scanner.stats.clone(),
                cut: self.scanner.cut_lines(),
                decided: w.decided.len(),
            });
        }
    }

    /// Hands the window to the parts before.
    fn send_window(&mut self) {
        if let Some(w) = self.window.take() {
            let _ = self.shared.windows[self.k].set(w);
            // From here on the first unread mention is the first after the window.
            self.scanner.stats.first_unread = None;
        }
    }

    /// After a line or a skip: note a rest point near the start, hand the window over at
    /// its end, and past this part's end, try to join the next part.
    fn after_advance(&mut self) {
        self.publish(false);
        if self.window.as_ref().is_some_and(|w| self.pos >= w.end) {
            self.send_window();
        }
        while !self.stop && self.pos >= self.end && self.target < self.shared.starts.len() - 1 {
            if self.joining.is_none() {
                if self.shared.dropped[self.target].load(Ordering::Relaxed) {
                    self.give_up();
                    continue;
                }
                // The first part's grammar is needed by the part to join: say it now.
                self.publish(true);
                self.joining = Some((self.shared.windows[self.target].wait(), 0));
            }
            let Some((w, i)) = &mut self.joining else {
                break;
            };
            while *i < w.points.len() && w.points[*i].pos < self.pos {
                *i += 1;
            }
            let Some(p) = w.points.get(*i) else {
                self.give_up();
                continue;
            };
            if p.pos == self.pos {
                // Each part numbers lines from its own start.
                let shift = self.scanner.stats.lines.checked_sub(p.stats.lines);
                if let Some(shift) = shift
                    && self.scanner.rest() == Some(p.rest.shifted(shift))
                {
                    let at = *i;
                    let shared = self.shared;
                    let _deciding = shared.deciding.lock();
                    if shared.dropped[self.k].load(Ordering::Relaxed) {
                        self.stop = true;
                    } else if shared.dropped[self.target].load(Ordering::Relaxed) {
                        drop(_deciding);
                        self.give_up();
                        continue;
                    } else {
                        self.join = Some(Join {
                            part: self.target,
                            at,
                            shift,
                        });
                        self.joining = None;
                        self.stop = true;
                    }
                }
                break;
            }
            if self.pos >= w.end {
                self.give_up();
                continue;
            }
            break;
        }
    }

    /// The part being joined cannot be: this part reads it itself, and joins the one after
    /// (unless a part before has dropped this one meanwhile: it then stops).
    fn give_up(&mut self) {
        let shared = self.shared;
        let _deciding = shared.deciding.lock();
        if shared.dropped[self.k].load(Ordering::Relaxed) {
            self.stop = true;
            return;
        }
        shared.dropped[self.target].store(true, Ordering::Relaxed);
        self.joining = None;
        self.target += 1;
        self.end = self.shared.starts[self.target];
    }
}

impl LineSink for Part<'_, '_> {
    type Error = Halt;

    fn skip(&mut self, buf: &[u8], _ahead: Lookahead<'_>) -> usize {
        // Never past the part's end, nor while joining: each line there must be seen.
        if self.stop || self.pos >= self.end {
            return 0;
        }
        let room = usize::try_from(self.end - self.pos).unwrap_or(usize::MAX);
        let n = self
            .scanner
            .skip_idle(&buf[..buf.len().min(room)], Lookahead::UNKNOWN);
        if n > 0 {
            self.pos += n as u64;
            self.note_rest();
            self.after_advance();
        }
        n
    }

    fn line(&mut self, _raw: &[u8], line: &[u8], info: LineInfo) -> Result<(), Halt> {
        self.push(line, None, info)
    }

    fn text_line(&mut self, _raw: &[u8], line: &str, info: LineInfo) -> Result<(), Halt> {
        self.push(line.as_bytes(), Some(line), info)
    }
}

impl Part<'_, '_> {
    /// Reads a line (`text` when it is known to be UTF-8).
    fn push(&mut self, line: &[u8], text: Option<&str>, info: LineInfo) -> Result<(), Halt> {
        if self.stop || self.shared.dropped[self.k].load(Ordering::Relaxed) {
            return Err(Halt::Stop);
        }
        let in_window = self.window.is_some();
        let before = if in_window {
            self.scanner.stats.first_unread.take()
        } else {
            None
        };
        match text {
            Some(t) => self.scanner.push_text(t, info, &mut self.out),
            None => self.scanner.push_line(line, info, &mut self.out),
        }
        self.pos += info.raw_len;
        if in_window {
            let now = self.scanner.stats.first_unread;
            if let (Some(n), Some(w)) = (now, &mut self.window) {
                w.unread.push((self.pos, n));
            }
            self.scanner.stats.first_unread = before.into_iter().chain(now).min();
        }
        self.take_decided()?;
        self.note_rest();
        self.after_advance();
        self.counted += 1;
        if self.counted >= 4096 {
            self.shared.lines.fetch_add(self.counted, Ordering::Relaxed);
            self.counted = 0;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
