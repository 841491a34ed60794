//! What assembling makes: a block as the log printed it, its creation frames, and where it
//! stood in the input.

use std::sync::Arc;

use crate::pipeline::parse::{self, Channel, Kind, Pool, Trace};

use super::{Interner, KEEP_OUTER, MAX_FRAMES};

/// Where a block or line stands in its input.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pos {
    /// Physical line number in the input, from 1.
    pub line: u64,
    /// The timestamp the envelope or the record prefix gave, as written.
    pub ts: Option<String>,
    /// Every physical line this logical line came from, when it is more than `line` (the
    /// pieces of a split line: CRI `P`, Docker's 16 KiB split).
    pub lines: Vec<u64>,
}

/// One frame of a creation traceback, owned. Its texts are shared with every other frame
/// that printed the same text ([`Interner`]): a traceback repeats the same few paths and
/// lines thousands of times.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// The path as Python printed it.
    pub path: Arc<str>,
    /// Line number.
    pub line: u32,
    /// Function name; tracemalloc frames have none.
    pub function: Option<Arc<str>>,
    /// The source line, when the log shows it.
    pub code: Option<Arc<str>>,
    /// aiohttp's, asyncio's, uvloop's or the standard library's ([`crate::pipeline::python::is_library`]),
    /// decided once here rather than by every stage that asks.
    pub library: bool,
}

/// One object as the log reported it: by one channel while it is assembled (a `Block`),
/// by one or both once pairing has folded a W block and its L block together
/// (`crate::pipeline::pair`). The one record every later stage reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Object {
    /// What it is.
    pub kind: Kind,
    /// Reported through asyncio's exception handler.
    pub logged: bool,
    /// Reported through the warnings module.
    pub warned: bool,
    /// Its repr as printed, for matching the two channels' blocks of one object (not for
    /// display: it can carry URLs and headers).
    pub repr: Option<String>,
    /// A connector's pooled connections, when its `connections:` line was read.
    pub pool: Option<Pool>,
    /// Creation frames (asyncio's `source_traceback` or tracemalloc's), outermost first.
    pub frames: Vec<Frame>,
    /// Which heading `frames` came from.
    pub trace: Option<Trace>,
    /// Frames dropped from the middle of an over-long traceback.
    pub frames_dropped: u32,
    /// The traceback was cut before its innermost frame (a frame line that stops part-way):
    /// its frames are no call site, and they prove nothing about pairing.
    pub trace_cut: bool,
    /// The log drops the body by design (Home Assistant): not complete, yet not cut.
    pub bodyless: bool,
    /// A session that ordinary lines parted from a connector's block a few lines after it
    /// (another thread's output): that connector may be its own, so it is neither noise nor
    /// paired (`crate::pipeline::pair::MAX_PARTING_LINES`).
    pub parted: bool,
    /// Whether the log carried the lines that decide it (the `client_session:` line, the
    /// `connections:` line, …). A header whose body never came is not complete.
    pub complete: bool,
    /// The `FILE:LINE` a warning header names (used for `never awaited`).
    pub location: Option<(String, u32)>,
    /// Where its (first) header stood.
    pub pos: Pos,
    /// Every physical line it was read from, in order (for `filter`).
    pub lines: Vec<u64>,
}

/// A block being assembled: the object as one channel printed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    /// Which channel printed it.
    pub channel: Channel,
    /// What it says of the object.
    pub object: Object,
}

impl std::ops::Deref for Block {
    type Target = Object;
    fn deref(&self) -> &Object {
        &self.object
    }
}

impl std::ops::DerefMut for Block {
    fn deref_mut(&mut self) -> &mut Object {
        &mut self.object
    }
}

impl Block {
    pub(super) fn new(kind: Kind, channel: Channel, pos: Pos) -> Block {
        Block {
            channel,
            object: Object {
                kind,
                logged: channel == Channel::Log,
                warned: channel == Channel::Warning,
                repr: None,
                pool: None,
                frames: Vec::new(),
                trace: None,
                frames_dropped: 0,
                trace_cut: false,
                bodyless: false,
                parted: false,
                complete: false,
                location: None,
                pos,
                // Room for a block with a traceback, grown once rather than line by line.
                lines: Vec::with_capacity(32),
            },
        }
    }

    pub(super) fn warning(
        kind: Kind,
        repr: &str,
        location: Option<(&str, u32)>,
        pos: Pos,
    ) -> Block {
        let mut b = Block::new(kind, Channel::Warning, pos);
        b.repr = (!repr.is_empty()).then(|| repr.to_owned());
        b.location = location.map(|(f, l)| (f.to_owned(), l));
        // A W block names the object but not what a connector held.
        b.complete = kind != Kind::Connector;
        b
    }
}

impl Pos {
    /// Moves it `n` lines on (a part of a file read with its lines numbered from its start).
    pub fn shift_lines(&mut self, n: u64) {
        self.line += n;
        self.lines.iter_mut().for_each(|l| *l += n);
    }
}

impl Object {
    /// Moves it `n` lines on, with every line it was read from.
    pub fn shift_lines(&mut self, n: u64) {
        self.pos.shift_lines(n);
        self.lines.iter_mut().for_each(|l| *l += n);
    }

    /// Records the physical lines a logical line came from.
    pub(super) fn take_lines(&mut self, pos: &Pos) {
        let own = [pos.line];
        let lines: &[u64] = if pos.lines.is_empty() {
            &own
        } else {
            &pos.lines
        };
        for &n in lines {
            if self.lines.last() != Some(&n) {
                self.lines.push(n);
            }
        }
    }

    pub(super) fn take_key(&mut self, key: &str, value: &str) {
        match key {
            "connections" => {
                // A colour reset glued to the record's last line by a console renderer.
                self.pool = Some(parse::pool(&crate::pipeline::clean::colors(value)));
                self.complete = true;
            }
            // A connector's `connector:` line names the object; its count came before it.
            "connector" => self.repr = Some(value.to_owned()),
            _ => {
                self.repr = Some(value.to_owned());
                self.complete = true;
            }
        }
    }

    pub(super) fn push_frame(&mut self, f: parse::Frame<'_>, names: &mut Interner) {
        let (path, library) = names.path(f.path);
        self.add_frame(Frame {
            path,
            line: f.line,
            function: f.function.map(|n| names.text(n)),
            code: None,
            library,
        });
    }

    pub(super) fn add_frame(&mut self, frame: Frame) {
        if self.frames.len() >= MAX_FRAMES {
            self.frames.remove(KEEP_OUTER);
            self.frames_dropped += 1;
        }
        if self.frames.is_empty() {
            self.frames.reserve(16);
        }
        self.frames.push(frame);
    }
}

#[cfg(test)]
impl Frame {
    /// A frame at `path:line` in `function`, without its source line: for tests.
    pub(crate) fn at(path: &str, line: u32, function: &str) -> Frame {
        Frame {
            path: path.into(),
            line,
            function: Some(function.into()),
            code: None,
            library: crate::pipeline::python::is_library(path),
        }
    }
}
