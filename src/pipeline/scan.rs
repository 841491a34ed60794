//! Scan: the whole pure pipeline for one input, from physical lines to decided findings.
//!
//! Bytes in, findings out: no I/O here. The caller feeds physical lines (see
//! [`crate::input::read`]) and collects what is decided, as soon as it is decided, which is what
//! streaming output needs. State is bounded whatever the input's length: the detection
//! buffer, one open block and two held objects per stream, and at most [`MAX_STREAMS`]
//! streams.

use std::borrow::Cow;

use crate::pipeline::assemble::{Assembler, Event, Interner, Pos};
use crate::pipeline::envelope::{self, Grammar, Logical, Unwrapper};
use crate::pipeline::lines::{Ahead, LineInfo, Lookahead};
use crate::pipeline::pair::Decided;

mod ending;
mod prefilter;
mod rest;
mod streams;

pub use prefilter::Prefilter;
pub use rest::Rest;
use streams::{Stream, Streams};

/// Streams tracked per input (containers' stdout/stderr, journald units, pids); past that,
/// the stream idle longest is decided and forgotten.
pub const MAX_STREAMS: usize = 1024;

/// The key of the stream of lines that name none.
const PLAIN_STREAM: &str = "\u{1}";

/// Bytes of leading lines kept to choose the grammar.
pub const DETECT_BYTES: usize = 1 << 20;

/// A container runtime splits lines longer than its limit (CRI-O 8 KiB, containerd and
/// Docker 16 KiB) into pieces, and a piece may end inside a header word. In such inputs a
/// line this long is read whatever it holds, so the pieces are joined before any search.
const PIECE_MIN: usize = 8000;

/// Counts about one input.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InputStats {
    /// Physical lines read.
    pub lines: u64,
    /// Bytes read (after gzip decoding).
    pub bytes: u64,
    /// Lines longer than the line limit, cut there.
    pub cut_lines: u64,
    /// Lines that carry one of aiohttp's warning headers but were not read as a block.
    pub unread_mentions: u64,
    /// The physical line of the first of them.
    pub first_unread: Option<u64>,
}

/// What a scanner decides, as soon as it is decided.
#[derive(Debug, Default)]
pub struct Out {
    /// Findings, related texts, and would-be blocks that were text after all.
    pub decided: Vec<Decided>,
    /// Physical lines that belong to no block, once that is known; collected only when the
    /// scanner tracks lines (for `filter`).
    pub free: Vec<u64>,
}

/// Lines kept, at most, before the grammar is chosen from them.
const DETECT_MAX_HELD: usize = 16 << 10;

/// The leading lines kept until the grammar is chosen.
#[derive(Debug, Default)]
struct Detecting {
    held: Vec<(String, u64)>,
    /// Their bytes, line ends included.
    bytes: usize,
    /// How many are not blank.
    nonblank: usize,
}

/// The pipeline state of one input.
#[derive(Debug)]
pub struct Scanner<'g> {
    unwrapper: Unwrapper<'g>,
    grammars: &'g [Grammar],
    prefilter: &'g Prefilter,
    /// Leading lines kept until the grammar is chosen.
    pending: Option<Detecting>,
    streams: Streams,
    /// Where the plain stream was last found in `streams`.
    plain_at: usize,
    /// The most streams it has had at once.
    peak_streams: usize,
    busy: bool,
    track: bool,
    /// Prefix of stream keys: which pipe of a process the lines come from (`run`).
    channel: &'static str,
    logical: Vec<Logical>,
    events: Vec<Event>,
    names: Interner,
    /// Joins rich's wrapped pieces, when the input is rich's layout.
    rich: Option<crate::pipeline::clean::RichJoiner>,
    /// The input's envelope splits long lines into pieces ([`PIECE_MIN`]).
    pieces_matter: bool,
    /// Lines before the first one read (`tail` starting at the end of a file): line numbers
    /// count them, `stats` does not.
    line_offset: u64,
    /// Sessions held for a late connector wait for [`Scanner::finish`], whatever the clock.
    hold_to_end: bool,
    /// Counts about the input.
    pub stats: InputStats,
}

impl<'g> Scanner<'g> {
    /// A scanner over `grammars`; `forced` skips detection.
    pub fn new(grammars: &'g [Grammar], forced: Option<usize>, prefilter: &'g Prefilter) -> Self {
        Scanner {
            unwrapper: Unwrapper::new(grammars, forced),
            grammars,
            prefilter,
            pending: forced.is_none().then(Detecting::default),
            streams: Streams::default(),
            plain_at: 0,
            peak_streams: 0,
            busy: false,
            track: false,
            channel: "",
            logical: Vec::new(),
            events: Vec::new(),
            names: Interner::default(),
            rich: forced
                .filter(|&i| grammars[i].name == "rich")
                .map(|_| crate::pipeline::clean::RichJoiner::default()),
            pieces_matter: forced.is_some_and(|i| splits_lines(&grammars[i].name)),
            line_offset: 0,
            hold_to_end: false,
            stats: InputStats::default(),
        }
    }

    /// Cuts lines joined from pieces (CRI `P`, Docker's split) at `max` bytes, like
    /// physical lines.
    pub fn max_line(mut self, max: usize) -> Self {
        self.unwrapper.max_piece = max;
        self
    }

    /// Also report which physical lines belong to no block ([`Out::free`]).
    pub fn track_lines(mut self) -> Self {
        self.track = true;
        self
    }

    /// The grammar the input is read with (`bare` until it is chosen).
    pub fn grammar(&self) -> &str {
        self.unwrapper.grammar_name()
    }

    /// Whether the input is read as one JSON record per line (Docker json-file, journald
    /// JSON, a JSON logger).
    pub fn reads_json_lines(&self) -> bool {
        self.unwrapper.reads_json_lines()
    }

    /// The oldest line still undecided: in a block, an object waiting for its partner, a
    /// piece of a split line, or the lines kept for detection.
    pub fn oldest_held(&self) -> Option<u64> {
        let detecting = self
            .pending
            .as_ref()
            .and_then(|d| d.held.first().map(|(_, n)| *n));
        let streams = self.streams.values().filter_map(|s| {
            let pairer = if self.hold_to_end {
                s.pairer.oldest_waiting_line()
            } else {
                s.pairer.oldest_line()
            };
            [s.assembler.oldest_line(), pairer]
                .into_iter()
                .flatten()
                .min()
        });
        detecting
            .into_iter()
            .chain(self.unwrapper.oldest_piece())
            .chain(streams)
            .min()
    }

    /// Reads one physical line, without its `\n`, as a [`crate::pipeline::lines::Splitter`] gives it.
    pub fn push_line(&mut self, line: &[u8], info: LineInfo, out: &mut Out) {
        self.push_checked(line, None, info, out);
    }

    /// Reads one physical line known to be UTF-8 (a reader thread checked its chunk): the
    /// same as [`Scanner::push_line`] without checking it again.
    pub fn push_text(&mut self, line: &str, info: LineInfo, out: &mut Out) {
        self.push_checked(line.as_bytes(), Some(line), info, out);
    }

    fn push_checked(&mut self, line: &[u8], text: Option<&str>, info: LineInfo, out: &mut Out) {
        self.stats.lines += 1;
        self.stats.bytes += info.raw_len;
        self.stats.cut_lines += u64::from(info.cut);
        let n = self.stats.lines + self.line_offset;
        if let Some(d) = &mut self.pending {
            let text = decode(strip_cr(line)).into_owned();
            let blank = text.trim().is_empty();
            if blank && d.nonblank == 0 {
                // Nothing can be open before the first line with text: a blank line there is
                // free now, as it would be once the grammar is chosen.
                if self.track {
                    out.free.push(n);
                }
                return;
            }
            d.nonblank += usize::from(!blank);
            // Line ends count: a flood of blank lines ends detection too.
            d.bytes += text.len() + 1;
            d.held.push((text, n));
            if d.nonblank >= envelope::DETECT_LINES
                || d.bytes >= DETECT_BYTES
                || d.held.len() >= DETECT_MAX_HELD
            {
                self.choose(out);
            }
            return;
        }
        let may_be_piece = self.pieces_matter && line.len() >= PIECE_MIN;
        if !self.busy
            && !self.unwrapper.has_pieces()
            && !self.rich_holding()
            && !may_be_piece
            && !self.prefilter.may_matter(line)
        {
            if self.track {
                out.free.push(n);
            }
            return;
        }
        match text {
            Some(t) => self.read_text(t.strip_suffix('\r').unwrap_or(t), n, out),
            None => {
                let text = decode(strip_cr(line));
                self.read_text(&text, n, out);
            }
        }
    }

    /// How many bytes at the start of `buf` are whole lines that cannot matter now: nothing
    /// is open or held and none of them holds a word that starts a block. They are counted
    /// as read and need not be given to [`Scanner::push_line`] (a line skipped this way is
    /// never cut at the line limit, nor counted as cut). Always 0 while lines are tracked.
    pub fn skip_idle(&mut self, buf: &[u8], ahead: Lookahead<'_>) -> usize {
        if self.busy
            || self.track
            || self.pending.is_some()
            || self.unwrapper.has_pieces()
            || self.rich_holding()
        {
            return 0;
        }
        let hit = match ahead.get() {
            Ahead::Unknown => self.prefilter.first_hit(buf),
            Ahead::Nothing => None,
            Ahead::At(h) => Some(h),
        };
        let upto = match hit {
            Some(h) => memchr::memrchr(b'\n', &buf[..h]),
            None => memchr::memrchr(b'\n', buf),
        };
        let Some(last_newline) = upto else { return 0 };
        let mut end = last_newline + 1;
        if self.pieces_matter {
            end = before_long_line(&buf[..end]);
        }
        self.stats.lines += bytecount::count(&buf[..end], b'\n') as u64;
        self.stats.bytes += end as u64;
        end
    }

    /// Reads a physical line from one of a process's pipes (`unclosed run` gives stdout and
    /// stderr to one scanner): each pipe has its own streams, and a late connector on one
    /// pairs with its session held on the other.
    pub fn push_line_on(
        &mut self,
        channel: &'static str,
        line: &[u8],
        info: LineInfo,
        out: &mut Out,
    ) {
        self.channel = channel;
        self.push_line(line, info, out);
    }

    /// Numbers the lines from `skipped + 1` on: the input's first `skipped` lines are not
    /// read (`tail` joining a file at its end). Call before the first line.
    pub fn start_after(mut self, skipped: u64) -> Self {
        self.line_offset = skipped;
        self
    }

    /// Keeps the sessions held for a late connector until [`Scanner::finish`]: a quiet spell
    /// ([`Scanner::flush`], [`Scanner::finish_stream`]) decides open blocks and adjacency, not
    /// them, nor do they count as held ([`Scanner::oldest_held`], [`Scanner::holding_streams`]).
    /// For `run`, which reports when the command has exited: its sessions' connectors are
    /// collected at its exit, which may come long after its last line (pytest's session
    /// finish, a coverage plugin writing its data).
    pub fn hold_sessions_to_the_end(mut self) -> Self {
        self.hold_to_end = true;
        self
    }

    /// Lines that could not be read whole: cut physical lines and cut joined pieces.
    pub fn cut_lines(&self) -> u64 {
        self.stats.cut_lines + self.unwrapper.cut
    }

    fn choose(&mut self, out: &mut Out) {
        let Some(Detecting { held, .. }) = self.pending.take() else {
            return;
        };
        let g = envelope::detect(self.grammars, held.iter().map(|(t, _)| t.as_str()));
        self.unwrapper.choose(g);
        if self.grammars[g].name == "rich" {
            self.rich = Some(crate::pipeline::clean::RichJoiner::default());
        }
        self.pieces_matter = splits_lines(&self.grammars[g].name);
        for (text, n) in held {
            if self.busy
                || self.unwrapper.has_pieces()
                || self.rich_holding()
                || (self.pieces_matter && text.len() >= PIECE_MIN)
                || self.prefilter.may_matter(text.as_bytes())
            {
                self.read_text(&text, n, out);
            } else if self.track {
                out.free.push(n);
            }
        }
    }

    fn rich_holding(&self) -> bool {
        self.rich
            .as_ref()
            .is_some_and(crate::pipeline::clean::RichJoiner::is_holding)
    }

    /// Feeds lines rich's joiner completed.
    fn feed_joined(&mut self, joined: Vec<(String, Vec<u64>)>, out: &mut Out) {
        for (text, lines) in joined {
            let piece = Piece {
                stream: "",
                text: &text,
                ts: None,
                lines: &lines,
            };
            let took = self.feed_one(&piece, out);
            if self.track && !took {
                out.free.extend(&lines);
            }
        }
        self.busy = self.streams.values().any(Stream::is_busy);
    }

    fn read_text(&mut self, text: &str, n: u64, out: &mut Out) {
        if self.rich.is_some() {
            let hold =
                self.busy || self.rich_holding() || self.prefilter.may_matter(text.as_bytes());
            let mut joined = Vec::new();
            if let Some(j) = &mut self.rich {
                j.push(text, n, hold, &mut joined);
            }
            self.feed_joined(joined, out);
            return;
        }
        self.read_one(text, n, out);
    }

    fn read_one(&mut self, text: &str, n: u64, out: &mut Out) {
        if self.unwrapper.is_plain(text) {
            // Most lines of a dense log: a frame line, or the source line under it, seen
            // before in the traceback in progress. Nothing is decided and nothing else
            // changes (the block stays open, so the scanner stays busy).
            let pos = Pos {
                line: n,
                ts: None,
                lines: Vec::new(),
            };
            if self.channel.is_empty()
                && let Some(s) = plain_stream(&mut self.streams, &mut self.plain_at)
                && s.assembler.take_known(text, &pos, &mut self.names)
            {
                s.last_used = n;
                return;
            }
            let line = [n];
            let l = Piece {
                stream: "",
                text,
                ts: None,
                lines: &line,
            };
            let took = self.feed_one(&l, out);
            if self.track && !took {
                out.free.push(n);
            }
        } else {
            let mut logical = std::mem::take(&mut self.logical);
            self.unwrapper.unwrap(text, n, &mut logical);
            self.feed(&mut logical, out);
            self.logical = logical;
        }
        self.busy = self.streams.values().any(Stream::is_busy);
    }

    /// Runs logical lines through their streams. A physical line none of whose logical
    /// lines went into a block is free.
    fn feed(&mut self, logical: &mut Vec<Logical>, out: &mut Out) {
        let mut taken: Vec<u64> = Vec::new();
        let mut seen: Vec<u64> = Vec::new();
        for l in logical.drain(..) {
            let piece = Piece {
                stream: &l.stream,
                text: &l.text,
                ts: l.ts.as_deref(),
                lines: &l.lines,
            };
            let took = self.feed_one(&piece, out);
            if self.track {
                if took {
                    taken.extend(&l.lines);
                }
                seen.extend(&l.lines);
            }
        }
        if self.track {
            seen.sort_unstable();
            seen.dedup();
            out.free
                .extend(seen.into_iter().filter(|n| !taken.contains(n)));
        }
    }

    /// Runs one logical line through its stream; returns whether a block took it.
    fn feed_one(&mut self, l: &Piece<'_>, out: &mut Out) -> bool {
        let n = l
            .lines
            .last()
            .copied()
            .unwrap_or(self.stats.lines + self.line_offset);
        let key: Cow<'_, str> = if self.channel.is_empty() {
            // Never an empty key: comparing two empty strings costs a masked vector load
            // from a dangling pointer in glibc's memcmp, which some CPUs take thousands
            // of cycles over (measured: 40% of a dense scan). A stream really named
            // U+0001 would share this one's state, which only pairs its blocks.
            Cow::Borrowed(if l.stream.is_empty() {
                PLAIN_STREAM
            } else {
                l.stream
            })
        } else {
            Cow::Owned(format!("{}{}", self.channel, l.stream))
        };
        // One lookup for the common case, a stream seen before.
        let before = self.streams.len();
        let mut found = true;
        let s = match self.streams.get_mut(key.as_ref()) {
            Some(s) => s,
            None => {
                found = false;
                if before >= MAX_STREAMS {
                    self.evict(out);
                }
                self.peak_streams = self.peak_streams.max(before + 1);
                self.streams.entry(key.to_string()).or_default()
            }
        };
        // The common case, one stream: no other stream to take a W block from.
        let single = before == 0 || (before == 1 && found);
        s.last_used = n;
        let pos = Pos {
            line: l.lines.first().copied().unwrap_or(n),
            ts: l.ts.map(str::to_owned),
            lines: if l.lines.len() > 1 {
                l.lines.to_vec()
            } else {
                Vec::new()
            },
        };
        let took = s
            .assembler
            .push(l.text, &pos, &mut self.names, &mut self.events);
        take_unread(&mut self.stats, &mut s.assembler);
        let from = out.decided.len();
        if single {
            for e in self.events.drain(..) {
                s.pairer.push(e, &mut out.decided);
            }
        } else {
            let mut events = std::mem::take(&mut self.events);
            for e in events.drain(..) {
                self.adopt_warning_from_other_streams(&key, &e, &mut out.decided);
                if let Some(s) = self.streams.get_mut(key.as_ref()) {
                    s.pairer.push(e, &mut out.decided);
                }
            }
            self.events = events;
        }
        if self.streams.len() > 1 {
            self.pair_across_streams(&key, &mut out.decided[from..]);
            self.give_up_old_warnings(n, &mut out.decided);
        }
        took
    }
}

/// The stream of lines without an envelope's stream, looked for first where it was last.
fn plain_stream<'s>(streams: &'s mut Streams, at: &mut usize) -> Option<&'s mut Stream> {
    if streams
        .get_index(*at)
        .is_some_and(|(k, _)| k == PLAIN_STREAM)
    {
        return streams.get_index_mut(*at).map(|(_, s)| s);
    }
    let (i, _, s) = streams.get_full_mut(PLAIN_STREAM)?;
    *at = i;
    Some(s)
}

/// Whether an envelope splits long lines into pieces.
fn splits_lines(grammar: &str) -> bool {
    matches!(grammar, "cri" | "docker-json")
}

/// The length of the whole lines at the start of `buf` (which ends with a newline) before the
/// first one that may be [`PIECE_MIN`] bytes or longer. Such a line holds a newline-free
/// window of half that length at a multiple of it, so one short search per window finds it.
fn before_long_line(buf: &[u8]) -> usize {
    const WINDOW: usize = PIECE_MIN / 2;
    let mut at = 0;
    while at + WINDOW <= buf.len() {
        if memchr::memchr(b'\n', &buf[at..at + WINDOW]).is_none() {
            return memchr::memrchr(b'\n', &buf[..at]).map_or(0, |p| p + 1);
        }
        at += WINDOW;
    }
    buf.len()
}

/// Moves an assembler's count of unread header lines into the input's.
fn take_unread(stats: &mut InputStats, a: &mut Assembler) {
    if a.unread > 0 {
        stats.unread_mentions += std::mem::take(&mut a.unread);
        let first = a.first_unread.take();
        stats.first_unread = match (stats.first_unread, first) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
}

/// A logical line, borrowed: from the physical line itself when it is plain text, else from
/// what the unwrapper made of it.
struct Piece<'a> {
    stream: &'a str,
    text: &'a str,
    ts: Option<&'a str>,
    lines: &'a [u64],
}

/// The line as text: borrowed when it is valid UTF-8 (the fast check), else with
/// replacement characters.
fn decode(line: &[u8]) -> std::borrow::Cow<'_, str> {
    match simdutf8::basic::from_utf8(line) {
        Ok(s) => std::borrow::Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(line),
    }
}

fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests;
