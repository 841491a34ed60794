//! Shared copies of the texts tracebacks repeat, and the frame lines already read.

use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::{Frame, MAX_FRAME_TEXT};

/// Texts kept by an [`Interner`] before it starts afresh.
const MAX_INTERNED: usize = 4096;

/// One shared copy of each text frames repeat (paths, function names, source lines), and
/// whether each path is a library's, so that a traceback line costs a hash lookup rather
/// than allocations and a path walk. Bounded: past `MAX_INTERNED` texts of a kind it
/// starts afresh (frames already made keep their copies).
///
/// Frame lines and the source lines under them are remembered as they were read, each with
/// the known line that came after it last time: a traceback repeated block after block is
/// then read by comparing each line with the one expected, without hashing it.
#[derive(Debug, Default)]
pub struct Interner {
    paths: FxHashMap<Arc<str>, bool>,
    texts: FxHashMap<Arc<str>, ()>,
    /// Frame lines and source lines read before; a line's id is its place here.
    known: Vec<Known>,
    /// Where each known line is in `known`.
    ids: FxHashMap<Box<str>, u32>,
}

/// A frame line or a source line read before.
#[derive(Debug)]
struct Known {
    line: Box<str>,
    read: Read,
    /// The known line read after it last time, in the same block.
    next: Option<u32>,
}

/// What a known line was read as.
#[derive(Clone, Debug)]
pub(super) enum Read {
    /// A frame line: the frame, without its source line.
    Frame(Frame),
    /// A source line under a frame line.
    Code(Arc<str>),
}

/// Frame lines longer than this are parsed every time rather than remembered.
const MAX_REMEMBERED_LINE: usize = 512;
/// Frame and source lines remembered before starting afresh.
const MAX_KNOWN_LINES: usize = 2 * MAX_INTERNED;

impl Interner {
    /// What `line` was read as before, if it was, and its id: `guess` (the line that came
    /// after the one before it last time) is compared first, the hash looked up only when
    /// it is not the line.
    pub(super) fn known(&self, line: &str, guess: Option<u32>) -> Option<(u32, &Read)> {
        if let Some(k) = guess.and_then(|g| self.known.get(g as usize))
            && *k.line == *line
        {
            return guess.map(|g| (g, &k.read));
        }
        let &id = self.ids.get(line)?;
        Some((id, &self.known[id as usize].read))
    }

    /// Known line `next` came right after known line `prev` in a block.
    pub(super) fn followed(&mut self, prev: u32, next: u32) {
        if let Some(k) = self.known.get_mut(prev as usize) {
            k.next = Some(next);
        }
    }

    /// The known line that came after known line `id` last time.
    pub(super) fn next_after(&self, id: u32) -> Option<u32> {
        self.known.get(id as usize).and_then(|k| k.next)
    }

    /// Remembers that `line`, under a frame line, was read as the source line `code`.
    /// Only lines that read as one there are remembered, and reading one depends on nothing
    /// but its text.
    pub(super) fn remember_code(&mut self, line: &str, code: &Arc<str>) {
        self.remember(line, Read::Code(code.clone()));
    }

    /// Remembers what frame `line` was read as.
    pub(super) fn remember_frame(&mut self, line: &str, frame: &Frame) {
        let frame = Frame {
            code: None,
            ..frame.clone()
        };
        self.remember(line, Read::Frame(frame));
    }

    fn remember(&mut self, line: &str, read: Read) {
        if line.len() > MAX_REMEMBERED_LINE {
            return;
        }
        if let Some(&id) = self.ids.get(line) {
            self.known[id as usize].read = read;
            return;
        }
        if self.known.len() >= MAX_KNOWN_LINES {
            // Ids held by assemblers may now name other lines: they are only guesses, each
            // checked against the line itself.
            self.known.clear();
            self.ids.clear();
        }
        let id = self.known.len() as u32;
        self.known.push(Known {
            line: line.into(),
            read,
            next: None,
        });
        self.ids.insert(line.into(), id);
    }

    /// The shared copy of a frame's path (cut to [`MAX_FRAME_TEXT`]), and whether it is a
    /// library's ([`crate::pipeline::python::is_library`]).
    pub fn path(&mut self, path: &str) -> (Arc<str>, bool) {
        let path = bounded(path);
        if let Some((k, &library)) = self.paths.get_key_value(path) {
            return (k.clone(), library);
        }
        if self.paths.len() >= MAX_INTERNED {
            self.paths.clear();
        }
        let library = crate::pipeline::python::is_library(path);
        let k: Arc<str> = Arc::from(path);
        self.paths.insert(k.clone(), library);
        (k, library)
    }

    /// The shared copy of a function name or source line (cut to [`MAX_FRAME_TEXT`]).
    pub fn text(&mut self, text: &str) -> Arc<str> {
        let text = bounded(text);
        if let Some((k, ())) = self.texts.get_key_value(text) {
            return k.clone();
        }
        // A colour sequence at the end of a record's last line (structlog's ` [asyncio]`).
        if let std::borrow::Cow::Owned(clean) = crate::pipeline::clean::colors(text) {
            return self.text(clean.trim_end());
        }
        if self.texts.len() >= MAX_INTERNED {
            self.texts.clear();
        }
        let k: Arc<str> = Arc::from(text);
        self.texts.insert(k.clone(), ());
        k
    }
}

/// At most [`MAX_FRAME_TEXT`] bytes of `s`, cut at a character boundary.
fn bounded(s: &str) -> &str {
    let mut end = s.len().min(MAX_FRAME_TEXT);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}
