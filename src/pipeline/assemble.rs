//! Assemble: group the logical lines of one stream into warning blocks.
//!
//! A block starts at a header line and takes every following line that can belong to it
//! (docs/formats.md §2, §7); it ends at the first line that cannot, which is then read afresh.
//! An empty line does not end a block by itself: the `Unclosed response` block contains one.
//! State is bounded: a block keeps at most [`MAX_FRAMES`] frames.

use crate::pipeline::parse::{self, Channel, Kind, Line, Trace};

mod block;
mod interner;

pub use block::{Block, Frame, Object, Pos};
pub use interner::Interner;
use interner::Read;

/// Frames kept per block; the outermost few and the innermost rest, which is where call
/// sites are.
pub const MAX_FRAMES: usize = 256;
/// Bytes kept of a frame's path, function or source line (real ones are far shorter).
pub const MAX_FRAME_TEXT: usize = 1024;
const KEEP_OUTER: usize = 16;

/// What the assembler makes of the lines it is given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A whole block.
    Block(Box<Block>),
    /// An ordinary line: it separates the blocks before and after it. Carries the physical
    /// lines of a would-be block that turned out to be ordinary text.
    Text(Vec<u64>),
    /// Empty lines outside a block: they separate nothing. Carries the physical lines of
    /// empty lines held inside a block that then ended before them (a double-spaced paste).
    Blank(Vec<u64>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// In an L block, between keys.
    Keys,
    /// After a response's first repr line: its headers line comes next.
    Headers,
    /// After the headers line: the empty line that ends the repr comes next.
    HeadersEnd,
    /// After a trace heading or a frame's code: a frame comes next.
    Frames(Trace),
    /// After a frame: its code, another frame, or (in L) the next key.
    AfterFrame(Trace),
    /// In a W block after its header.
    Warning { echoed: bool },
    /// After `Exception ignored in: <function ClientSession.__del__ …>`.
    Unraisable,
}

#[derive(Debug)]
struct Open {
    block: Block,
    state: State,
    /// An L header's prefix looked like a logging record, so a missing body is worth an
    /// `unknown` finding rather than being read as prose.
    record_like: bool,
    /// Empty lines read since the block's last line: they belong to it if a line of the block
    /// follows (a paste with an empty line between every two lines), else they are outside.
    blanks: Vec<u64>,
    /// Its frames came without indentation (a Home Assistant UI copy).
    unindented: bool,
    /// The input stopped while it was open, where lines may be missing ([`Assembler::cut`]).
    cut: bool,
}

/// Empty lines a block may hold between two of its lines.
const MAX_BLANKS: usize = 2;

impl Open {
    /// Takes the held empty lines into the block: a line of the block came after them.
    fn take_blanks(&mut self) {
        let blanks = std::mem::take(&mut self.blanks);
        self.block.lines.extend(blanks);
    }
}

/// Groups the logical lines of one stream into blocks.
#[derive(Debug, Default)]
pub struct Assembler {
    open: Option<Open>,
    /// Lines that carry one of aiohttp's warning headers but were not read as a block
    /// ([`parse::mentions_header`]): the log is in a form the tool does not read.
    pub unread: u64,
    /// The first of them.
    pub first_unread: Option<u64>,
    /// The known line ([`Interner::known`]) [`Assembler::take_known`] took last, while the
    /// lines it takes follow one another.
    last_known: Option<u32>,
}

impl Assembler {
    /// Whether a block is in progress (the next line may still belong to it).
    pub fn is_open(&self) -> bool {
        self.open.is_some()
    }

    /// Whether the block in progress is the W block of the object `kind`/`repr`.
    pub fn is_open_warning_of(&self, kind: Kind, repr: &str) -> bool {
        self.open.as_ref().is_some_and(|o| {
            o.block.channel == Channel::Warning
                && o.block.kind == kind
                && o.block.repr.as_deref() == Some(repr)
        })
    }

    /// The last line of the block in progress when it is a W block that only the rest of
    /// the same warning could still extend (its echoed source line, tracemalloc's hint or
    /// frames): the `warnings` module writes all of it at once.
    pub fn open_warning_end(&self) -> Option<u64> {
        let o = self.open.as_ref()?;
        matches!(o.state, State::Warning { .. })
            .then(|| o.block.lines.last().copied().unwrap_or(o.block.pos.line))
    }

    /// The first line of the block in progress.
    pub fn oldest_line(&self) -> Option<u64> {
        self.open
            .as_ref()
            .map(|o| o.block.lines.first().copied().unwrap_or(o.block.pos.line))
    }

    /// Takes `text` into the traceback in progress when it is a frame line, or the source
    /// line under one, read before: as it was read then, without parsing it again (a
    /// traceback repeats the same lines block after block). Such a line completes nothing,
    /// so it is all [`Assembler::push`] would do with it. Returns whether it took the line.
    pub fn take_known(&mut self, text: &str, pos: &Pos, names: &mut Interner) -> bool {
        let last = self.last_known.take();
        let Some(open) = &mut self.open else {
            return false;
        };
        let (State::Frames(t) | State::AfterFrame(t)) = open.state else {
            return false;
        };
        let guess = last.and_then(|id| names.next_after(id));
        let Some((id, read)) = names.known(text, guess) else {
            return false;
        };
        match (read, open.state) {
            (Read::Frame(f), _) => {
                if Some(t) == open.block.trace {
                    open.block.add_frame(f.clone());
                }
                open.state = State::AfterFrame(t);
            }
            (Read::Code(code), State::AfterFrame(_)) => {
                if Some(t) == open.block.trace
                    && let Some(f) = open.block.frames.last_mut()
                {
                    f.code = Some(code.clone());
                }
                open.state = State::Frames(t);
            }
            (Read::Code(_), _) => return false,
        }
        if let Some(prev) = last {
            names.followed(prev, id);
        }
        self.last_known = Some(id);
        open.take_blanks();
        open.block.take_lines(pos);
        true
    }

    /// Reads one logical line and pushes what it completes to `out`. Returns whether the
    /// line was taken into a block.
    pub fn push(
        &mut self,
        text: &str,
        pos: &Pos,
        names: &mut Interner,
        out: &mut Vec<Event>,
    ) -> bool {
        if self.take_known(text, pos, names) {
            return true;
        }
        let line = parse::line(text);
        if let Some(open) = &mut self.open {
            if open.accept(&line, text, names) {
                open.take_blanks();
                open.block.take_lines(pos);
                return true;
            }
            if line == Line::Empty && open.blanks.len() < MAX_BLANKS {
                open.blanks.push(pos.line);
                return true;
            }
        }
        // Colours or Markdown around the line: read it again without them. Asked only of a
        // line the open block did not take, which keeps the search off most block lines.
        if let std::borrow::Cow::Owned(clean) = crate::pipeline::clean::line(text) {
            return self.push(&clean, pos, names, out);
        }
        if let Some(open) = &mut self.open {
            // A header followed at once by another kind's context key (aiopg's
            // `Unclosed connection` then `connection: <aiopg…>`) is another library's record.
            let foreign = open.block.channel == Channel::Log
                && open.state == State::Keys
                && open.block.lines.len() == 1
                && matches!(line, Line::Key { .. });
            if foreign && let Some(o) = self.open.take() {
                out.push(Event::Text(o.block.object.lines));
                if !o.blanks.is_empty() {
                    out.push(Event::Blank(o.blanks));
                }
            } else {
                self.close(out);
            }
        }
        let mark = out.len();
        let took = self.start(line, text, pos, out);
        if !took && parse::mentions_header(text) && !is_pytest_summary_entry(text) {
            // A paste that joined the block's lines: read them as the lines they were.
            if let Some(parts) = crate::pipeline::clean::split_joined(text) {
                let mut took = false;
                let mut read = Vec::new();
                for p in parts.iter().filter(|p| p.len() < text.len()) {
                    took |= self.push(p, pos, names, &mut read);
                }
                if took {
                    // Not an ordinary line after all: it parts nothing (the block before it
                    // and the one it holds may be a session and its connector).
                    if matches!(out.get(mark), Some(Event::Text(l)) if l.is_empty()) {
                        out.truncate(mark);
                    }
                    out.append(&mut read);
                    return true;
                }
                out.append(&mut read);
            }
            self.unread_at(pos.line);
        }
        took
    }

    fn unread_at(&mut self, line: u64) {
        self.unread += 1;
        self.first_unread.get_or_insert(line);
    }

    /// Marks the traceback of the block in progress as cut when the stream stopped after a
    /// frame's `File` line and before its code (a live stream quiet for the flush timeout).
    /// A stop after a frame's code cannot be told from the end of the traceback: a session
    /// logged alone ends that way, so its frames stand.
    pub fn cut_short(&mut self) {
        if let Some(open) = &mut self.open
            && let State::AfterFrame(_) = open.state
        {
            open.block.trace_cut = true;
        }
    }

    /// Marks the block in progress as cut ([`Assembler::cut`]) when its traceback stops after
    /// a frame's `File` line, before the code line that frame's file has, as the frames before
    /// it show: read at the end of the input or a quiet spell, it was cut there (a file rotated
    /// in the middle of a block; the rest, its connector perhaps, is in the next file), so it
    /// is `unknown` and names no call site. A last frame whose file shows no code anywhere
    /// (`<frozen …>`, sources not shipped) is taken as the traceback's end.
    pub fn stopped_in_frame(&mut self) {
        let Some(open) = &mut self.open else { return };
        if !matches!(open.state, State::AfterFrame(_)) {
            return;
        }
        let frames = &open.block.frames;
        let Some((last, before)) = frames.split_last() else {
            return;
        };
        let shown = |f: &Frame| !f.path.starts_with('<') && f.code.is_some();
        if last.code.is_none() && !last.path.starts_with('<') && before.iter().any(shown) {
            open.cut = true;
        }
    }

    /// Marks the block in progress as cut: the input stopped at a point after which lines
    /// may be missing (a file truncated under `tail` before it was read to its end), so its
    /// body and its traceback may not be whole. When it ends it is not complete (`unknown`,
    /// unless the pooled connections it showed prove a leak) and its frames name no call site.
    pub fn cut(&mut self) {
        if let Some(open) = &mut self.open {
            open.cut = true;
        }
    }

    /// Ends the block in progress, if any: at the end of the input, or when the stream has
    /// been quiet for the flush timeout.
    pub fn finish(&mut self, out: &mut Vec<Event>) {
        self.close(out);
    }

    fn close(&mut self, out: &mut Vec<Event>) {
        let Some(mut open) = self.open.take() else {
            return;
        };
        let blanks = std::mem::take(&mut open.blanks);
        self.close_block(open, out);
        if !blanks.is_empty() {
            out.push(Event::Blank(blanks));
        }
    }

    fn close_block(&mut self, open: Open, out: &mut Vec<Event>) {
        let mut b = open.block;
        if b.trace == Some(Trace::Source)
            && b.frames.is_empty()
            && open.state == State::Frames(Trace::Source)
            && b.channel == Channel::Log
            && !b.complete
        {
            // Home Assistant's body-less record without the frames debug mode adds.
            b.trace = None;
        }
        if open.state == State::Unraisable {
            // The report never reached its `ResourceWarning:` line: it was ordinary text.
            out.push(Event::Text(b.object.lines));
        } else if b.channel == Channel::Log && !b.complete && !open.record_like && b.repr.is_none()
        {
            // A line ending in the message words, with no body and no logging prefix, is prose
            // or a record in a form not read: either way it is said, never silently dropped.
            if b.kind.is_aiohttp() {
                self.unread_at(b.pos.line);
            }
            out.push(Event::Text(b.object.lines));
        } else {
            if open.cut {
                // Decided above on what was read; only now is it known to be incomplete.
                b.complete = false;
                b.trace_cut |= b.trace.is_some();
            }
            out.push(Event::Block(Box::new(b)));
        }
    }

    fn start(&mut self, line: Line<'_>, text: &str, pos: &Pos, out: &mut Vec<Event>) -> bool {
        let (block, state, record_like) = match line {
            Line::LogHeader { kind, prefix } => (
                Block::new(kind, Channel::Log, header_pos(pos, prefix)),
                State::Keys,
                parse::looks_like_record(prefix),
            ),
            Line::WarningHeader {
                kind,
                repr,
                location,
            } => (
                Block::warning(kind, repr, location, header_pos(pos, text)),
                if kind == Kind::Response {
                    State::Headers
                } else {
                    State::Warning { echoed: false }
                },
                true,
            ),
            Line::Bodyless { kind } => {
                // Home Assistant drops the body; in debug mode the creation frames follow
                // (`traceback.format_list`), with no `source_traceback:` line before them.
                let mut b = Block::new(kind, Channel::Log, header_pos(pos, text));
                b.trace = Some(Trace::Source);
                b.bodyless = true;
                (b, State::Frames(Trace::Source), true)
            }
            Line::Unraisable => (
                Block::new(Kind::Session, Channel::Warning, pos.clone()),
                State::Unraisable,
                true,
            ),
            Line::Empty => {
                out.push(Event::Blank(Vec::new()));
                return false;
            }
            _ => {
                out.push(Event::Text(Vec::new()));
                return false;
            }
        };
        let mut open = Open {
            block,
            state,
            record_like,
            blanks: Vec::new(),
            unindented: false,
            cut: false,
        };
        open.block.take_lines(pos);
        self.open = Some(open);
        true
    }
}

impl Open {
    /// Takes `line` into the block if it belongs there.
    fn accept(&mut self, line: &Line<'_>, text: &str, names: &mut Interner) -> bool {
        let b = &mut self.block;
        let next = match (self.state, *line) {
            (State::Unraisable, Line::TraceHeader(Trace::Exception)) => State::Unraisable,
            (State::Unraisable, Line::Frame(_) | Line::Indented) => State::Unraisable,
            (
                State::Unraisable,
                Line::WarningHeader {
                    kind,
                    repr,
                    location,
                },
            ) if kind.is_aiohttp() => {
                let pos = b.pos.clone();
                let lines = std::mem::take(&mut b.lines);
                *b = Block::warning(kind, repr, location, pos);
                b.lines = lines;
                if kind == Kind::Response {
                    State::Headers
                } else {
                    State::Warning { echoed: true }
                }
            }
            (State::Keys | State::AfterFrame(_), Line::Key { key, value })
                if b.channel == Channel::Log && b.kind.has_key(key) =>
            {
                b.take_key(key, value);
                if key == "client_response" {
                    State::Headers
                } else {
                    State::Keys
                }
            }
            (
                State::Keys | State::AfterFrame(_),
                Line::TraceHeader(t @ (Trace::Source | Trace::Handle)),
            ) if b.channel == Channel::Log => {
                if t == Trace::Source {
                    b.frames.clear();
                    b.trace = Some(t);
                }
                State::Frames(t)
            }
            (State::Headers, Line::Headers) => State::HeadersEnd,
            (State::HeadersEnd, Line::Empty) => match b.channel {
                Channel::Log => State::Keys,
                Channel::Warning => State::Warning { echoed: false },
            },
            (State::Frames(t) | State::AfterFrame(t), Line::Frame(f)) => {
                if Some(t) == b.trace {
                    b.push_frame(f, names);
                    if let Some(frame) = b.frames.last() {
                        names.remember_frame(text, frame);
                    }
                }
                State::AfterFrame(t)
            }
            // Home Assistant's log panel puts the time, source and level under the message.
            (State::Frames(Trace::Source), _)
                if b.bodyless && b.frames.is_empty() && is_ha_panel_meta(text) =>
            {
                State::Frames(Trace::Source)
            }
            // Home Assistant's web UI strips indentation from a copied record: frames and their
            // source lines at the first column.
            (State::Frames(t) | State::AfterFrame(t), Line::Other)
                if b.bodyless && parse::unindented_frame(text).is_some() =>
            {
                if let Some(f) = parse::unindented_frame(text) {
                    b.push_frame(f, names);
                }
                self.unindented = true;
                State::AfterFrame(t)
            }
            (State::AfterFrame(t), Line::Other)
                if b.bodyless
                    && self.unindented
                    && !text.starts_with(|c: char| c.is_ascii_digit()) =>
            {
                if let Some(last) = b.frames.last_mut() {
                    last.code = Some(names.text(text.trim()));
                }
                State::Frames(t)
            }
            // Python folds a frame printed more than three times in a row (a recursive
            // middleware chain: azure-core's pipeline) into one line saying how many more.
            (State::Frames(t) | State::AfterFrame(t), Line::Indented)
                if repeated_frames(text).is_some() =>
            {
                if Some(t) == b.trace
                    && let Some(last) = b.frames.last().cloned()
                {
                    let n = repeated_frames(text).unwrap_or(0).min(MAX_FRAMES);
                    for _ in 0..n {
                        b.add_frame(last.clone());
                    }
                }
                State::Frames(t)
            }
            // A frame line that stops part-way: the traceback was cut here.
            (State::Frames(t) | State::AfterFrame(t), Line::Indented)
                if text.trim_ascii_start().starts_with("File \"") =>
            {
                b.trace_cut = true;
                State::Frames(t)
            }
            (State::AfterFrame(t), Line::Indented) => {
                let code = names.text(source_line(text));
                names.remember_code(text, &code);
                if Some(t) == b.trace
                    && let Some(last) = b.frames.last_mut()
                {
                    last.code = Some(code);
                }
                State::Frames(t)
            }
            (State::Warning { echoed: false }, Line::Indented) => State::Warning { echoed: true },
            (State::Warning { .. }, Line::EnableTracemalloc) => State::Warning { echoed: true },
            (State::Warning { .. }, Line::TraceHeader(Trace::Allocated)) => {
                b.frames.clear();
                b.trace = Some(Trace::Allocated);
                State::Frames(Trace::Allocated)
            }
            _ => return false,
        };
        self.state = next;
        true
    }
}

/// `  [Previous line repeated N more times]` (`time` when N is 1): the frame before it
/// stands N more times in the stack (`traceback.StackSummary.format`).
fn repeated_frames(text: &str) -> Option<usize> {
    let n = text
        .trim_start()
        .strip_prefix("[Previous line repeated ")?
        .strip_suffix(" more times]")
        .or_else(|| {
            text.trim_start()
                .strip_prefix("[Previous line repeated ")?
                .strip_suffix(" more time]")
        })?;
    n.parse().ok()
}

/// The line Home Assistant's log panel shows under a message: `8:45 PM core.py (ERROR)`,
/// `20:45:01 runner.py (ERROR)`.
fn is_ha_panel_meta(text: &str) -> bool {
    let mut words = text.split(' ');
    let Some(time) = words.next() else {
        return false;
    };
    let time_ok = time.contains(':') && time.bytes().all(|b| b.is_ascii_digit() || b == b':');
    let mut rest: Vec<&str> = words.collect();
    if matches!(rest.first(), Some(&("AM" | "PM"))) {
        rest.remove(0);
    }
    time_ok
        && rest.len() == 2
        && rest[0].ends_with(".py")
        && matches!(rest[1], "(ERROR)" | "(WARNING)" | "(CRITICAL)")
}

/// A frame's source line as Python printed it: structlog's console renderer appends the
/// logger's name (` [asyncio]`, coloured) to a record's last line, which may be this one.
fn source_line(text: &str) -> &str {
    let t = text.trim_ascii();
    if memchr::memchr(0x1b, t.as_bytes()).is_none() && !t.ends_with(" [asyncio]") {
        return t;
    }
    match t.rfind(" [") {
        Some(at) if crate::pipeline::clean::colors(&t[at..]).trim() == "[asyncio]" => {
            t[..at].trim_end()
        }
        _ => t,
    }
}

/// pytest's "warnings summary" repeats each `ResourceWarning` indented under the test that
/// was running; the same objects' asyncio records are read elsewhere in the log, so these
/// entries are known and left uncounted rather than unread.
fn is_pytest_summary_entry(text: &str) -> bool {
    text.starts_with("  ") && matches!(parse::line(text.trim_start()), Line::WarningHeader { .. })
}

/// The header's position, with a timestamp from its record prefix when the envelope gave none.
fn header_pos(pos: &Pos, prefix: &str) -> Pos {
    let mut p = pos.clone();
    if p.ts.is_none() {
        p.ts = crate::pipeline::envelope::find_timestamp(prefix).map(str::to_owned);
    }
    p
}

/// Test helper: the events of `lines` read as one stream, line numbers from 1.
#[cfg(test)]
pub(crate) fn assemble_lines(lines: &[&str]) -> Vec<Event> {
    let mut a = Assembler::default();
    let mut names = Interner::default();
    let mut out = Vec::new();
    for (n, l) in lines.iter().enumerate() {
        a.push(
            l,
            &Pos {
                line: n as u64 + 1,
                ..Pos::default()
            },
            &mut names,
            &mut out,
        );
    }
    a.finish(&mut out);
    out
}

#[cfg(test)]
mod tests;
