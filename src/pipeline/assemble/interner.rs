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
#[derive(Debug, Default)]
pub struct Interner {
    paths: FxHashMap<Arc<str>, bool>,
    texts: FxHashMap<Arc<str>, ()>,
    /// Frame lines read before, as they were read (without their source line).
    frames: FxHashMap<Box<str>, Frame>,
    /// Source lines read before under a frame line, as they were read.
    codes: FxHashMap<Box<str>, Arc<str>>,
}

/// Frame lines longer than this are parsed every time rather than remembered.
const MAX_REMEMBERED_LINE: usize = 512;

impl Interner {
    /// The frame `line` was read as before, if it was.
    pub(super) fn known_frame(&self, line: &str) -> Option<Frame> {
        if !line.starts_with("  File \"") {
            return None;
        }
        self.frames.get(line).cloned()
    }

    /// What `line`, read under a frame line before, was read as: the frame's source line.
    /// Only lines that read as one there are remembered ([`Interner::remember_code`]), and
    /// reading one depends on nothing but its text.
    pub(super) fn known_code(&self, line: &str) -> Option<Arc<str>> {
        if self.codes.is_empty() {
            return None;
        }
        self.codes.get(line).cloned()
    }

    /// Remembers that `line`, under a frame line, was read as the source line `code`.
    pub(super) fn remember_code(&mut self, line: &str, code: &Arc<str>) {
        if line.len() > MAX_REMEMBERED_LINE {
            return;
        }
        if self.codes.len() >= MAX_INTERNED {
            self.codes.clear();
        }
        self.codes.insert(line.into(), code.clone());
    }

    /// Remembers what frame `line` was read as.
    pub(super) fn remember_frame(&mut self, line: &str, frame: &Frame) {
        if line.len() > MAX_REMEMBERED_LINE {
            return;
        }
        if self.frames.len() >= MAX_INTERNED {
            self.frames.clear();
        }
        let frame = Frame {
            code: None,
            ..frame.clone()
        };
        self.frames.insert(line.into(), frame);
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
