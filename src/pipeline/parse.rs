//! Parse: the grammar of one logical line of an aiohttp or asyncio warning block (nom).
//!
//! A block is several lines (docs/formats.md §2, §7); which lines belong together is decided by
//! [`crate::pipeline::assemble`], which asks this module what each line is. Nothing here allocates:
//! every parser borrows from the line it was given.

use nom::{
    IResult, Parser,
    branch::alt,
    bytes::complete::{tag, take_while1},
    character::complete::digit1,
    combinator::{opt, rest},
    sequence::preceded,
};

mod pool;

pub use pool::{Pool, pool};

/// What a block reports. The first four are aiohttp's own objects and make findings; the rest
/// are the related texts users see beside them, counted on their own (docs/formats.md §8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `Unclosed client session`
    Session,
    /// `Unclosed connector`
    Connector,
    /// `Unclosed response`
    Response,
    /// `Unclosed connection`
    Connection,
    /// `ResourceWarning: unclosed transport <…>`
    Transport,
    /// `ResourceWarning: unclosed <socket.socket …>`
    Socket,
    /// `Task was destroyed but it is pending!`
    Task,
    /// `RuntimeWarning: coroutine 'ClientSession.close' was never awaited`
    UnawaitedClose,
}

impl Kind {
    /// Whether blocks of this kind are aiohttp objects that become findings.
    pub fn is_aiohttp(self) -> bool {
        matches!(
            self,
            Kind::Session | Kind::Connector | Kind::Response | Kind::Connection
        )
    }

    /// The context keys asyncio prints for this kind's L block (docs/formats.md §2).
    fn keys(self) -> &'static [&'static str] {
        match self {
            Kind::Session => &["client_session"],
            Kind::Connector => &["connections", "connector"],
            Kind::Response => &["client_response"],
            Kind::Connection => &["client_connection"],
            Kind::Task => &["task"],
            _ => &[],
        }
    }

    /// Whether `key` is one of this kind's context keys.
    pub fn has_key(self, key: &str) -> bool {
        self.keys().contains(&key)
    }
}

/// Which of the two channels printed a block (docs/formats.md §1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Channel {
    /// asyncio's exception handler: a multi-line ERROR record.
    Log,
    /// the warnings module: `FILE:LINE: ResourceWarning: …`.
    Warning,
}

/// The heading of a list of frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trace {
    /// `source_traceback: Object created at (most recent call last):` (asyncio debug mode).
    Source,
    /// `handle_traceback: Handle created at …`: where a callback was scheduled, never a call site.
    Handle,
    /// tracemalloc's `Object allocated at (most recent call last):`, or a coroutine's origin.
    Allocated,
    /// `Traceback (most recent call last):` inside an `Exception ignored in:` report.
    Exception,
}

/// One traceback frame, borrowed from its line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    /// The path exactly as Python printed it.
    pub path: &'a str,
    /// The line number.
    pub line: u32,
    /// The function; tracemalloc frames have none.
    pub function: Option<&'a str>,
}

/// What one logical line is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Line<'a> {
    /// A line ending in an L message (`Unclosed connector`, `Task was destroyed but it is
    /// pending!`). `prefix` is whatever stood before it (a logging prefix).
    LogHeader {
        /// What the message is about.
        kind: Kind,
        /// The text before the message.
        prefix: &'a str,
    },
    /// A warnings-module header. `repr` is the object's repr as printed; `location` is the
    /// `FILE:LINE` the warning names, when it has one.
    WarningHeader {
        /// What the warning is about.
        kind: Kind,
        /// The object's repr.
        repr: &'a str,
        /// The file and line the warning names.
        location: Option<(&'a str, u32)>,
    },
    /// Home Assistant's body-less form: `Error doing job: Unclosed client session (None)`.
    Bodyless {
        /// What the message is about.
        kind: Kind,
    },
    /// `Exception ignored in: <function ClientSession.__del__ at 0x…>` (`-W error`).
    Unraisable,
    /// `key: value`, one asyncio context entry.
    Key {
        /// The key.
        key: &'a str,
        /// Its value.
        value: &'a str,
    },
    /// The heading of a list of frames.
    TraceHeader(Trace),
    /// `  File "PATH", line N, in FUNC` or tracemalloc's `  File "PATH", lineno N`.
    Frame(Frame<'a>),
    /// An indented line: a frame's source (4 spaces) or a warning's source echo (2 spaces).
    Indented,
    /// The second line of a `ClientResponse` repr: `<CIMultiDictProxy(…)>`.
    Headers,
    /// `ResourceWarning: Enable tracemalloc to get the object allocation traceback`.
    EnableTracemalloc,
    /// A line with nothing on it.
    Empty,
    /// Anything else.
    Other,
}

type PResult<'a, T> = IResult<&'a str, T>;

/// Searchers built once: building one per line was a measurable share of a dense log.
fn finder(needle: &'static str) -> memchr::memmem::Finder<'static> {
    memchr::memmem::Finder::new(needle.as_bytes())
}
static FRAME_END: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| finder("\", line"));
static WARNING: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| finder("Warning: "));
static UNRAISABLE: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| finder("Exception ignored "));

/// The L messages, as the text that ends the line.
const LOG_MESSAGES: [(&str, Kind); 5] = [
    ("Unclosed client session", Kind::Session),
    ("Unclosed connector", Kind::Connector),
    ("Unclosed response", Kind::Response),
    ("Unclosed connection", Kind::Connection),
    ("Task was destroyed but it is pending!", Kind::Task),
];

/// Classifies one logical line (already unwrapped from its envelope, without its line ending).
pub fn line(text: &str) -> Line<'_> {
    let text = text.trim_end_matches([' ', '\t', '\r']);
    if text.is_empty() {
        return Line::Empty;
    }
    if let Some(l) = indented(text) {
        return l;
    }
    // A header first: `%(name)s: %(message)s` gives `asyncio: Unclosed connector`, which
    // would otherwise read as a `key: value` line.
    if let Some(l) = log_header(text) {
        return l;
    }
    if let Ok((_, l)) = key_line(text) {
        return l;
    }
    if let Some(l) = warning_header(text) {
        return l;
    }
    match text {
        "Object allocated at (most recent call last):"
        | "Coroutine created at (most recent call last)"
        | "Coroutine created at (most recent call last):" => Line::TraceHeader(Trace::Allocated),
        "Traceback (most recent call last):" => Line::TraceHeader(Trace::Exception),
        "ResourceWarning: Enable tracemalloc to get the object allocation traceback"
        | "RuntimeWarning: Enable tracemalloc to get the object allocation traceback" => {
            Line::EnableTracemalloc
        }
        _ if text.starts_with("<CIMultiDictProxy(") || text.starts_with("<CIMultiDict(") => {
            Line::Headers
        }
        _ if is_unraisable(text) => Line::Unraisable,
        _ => Line::Other,
    }
}

fn indented(text: &str) -> Option<Line<'_>> {
    if !text.starts_with("  ") {
        return None;
    }
    if let Ok((_, f)) = frame(text) {
        return Some(Line::Frame(f));
    }
    Some(Line::Indented)
}

/// A frame line whose indentation was lost (Home Assistant's web UI strips it when a record
/// is copied): `File "PATH", line N, in FUNC`.
pub fn unindented_frame(text: &str) -> Option<Frame<'_>> {
    let rest = text.strip_prefix("File \"")?;
    // The parser wants the two spaces a traceback indents frames by.
    let end = FRAME_END.find(rest.as_bytes())?;
    let (path, tail) = rest.split_at(end);
    let tail = tail.strip_prefix("\", line ")?;
    let digits = tail.bytes().take_while(u8::is_ascii_digit).count();
    let line = tail[..digits].parse().ok()?;
    let function = match &tail[digits..] {
        "" => None,
        t => Some(t.strip_prefix(", in ")?),
    };
    Some(Frame {
        path,
        line,
        function,
    })
}

/// `  File "PATH", line N, in FUNC` (traceback) or `  File "PATH", lineno N` (tracemalloc).
fn frame(i: &str) -> PResult<'_, Frame<'_>> {
    let (i, _) = tag("  File \"")(i)?;
    let end = FRAME_END.find(i.as_bytes()).ok_or_else(|| {
        nom::Err::Error(nom::error::Error::new(i, nom::error::ErrorKind::TakeUntil))
    })?;
    let (path, i) = i.split_at(end);
    let (i, _) = alt((tag("\", lineno "), tag("\", line "))).parse(i)?;
    let (i, n) = digit1(i)?;
    let (i, function) = opt(preceded(tag(", in "), rest)).parse(i)?;
    let line = n.parse().unwrap_or(u32::MAX);
    if !i.is_empty() {
        return Err(nom::Err::Error(nom::error::Error::new(
            i,
            nom::error::ErrorKind::Eof,
        )));
    }
    Ok((
        i,
        Frame {
            path,
            line,
            function,
        },
    ))
}

/// `key: value` at the start of the line, or a traceback heading given as a key.
fn key_line(i: &str) -> PResult<'_, Line<'_>> {
    let (i, key) = take_while1(|c: char| c.is_ascii_lowercase() || c == '_')(i)?;
    let (value, _) = tag(": ")(i)?;
    let line = match (key, value) {
        ("source_traceback", "Object created at (most recent call last):") => {
            Line::TraceHeader(Trace::Source)
        }
        ("handle_traceback", "Handle created at (most recent call last):") => {
            Line::TraceHeader(Trace::Handle)
        }
        _ => Line::Key { key, value },
    };
    Ok(("", line))
}

/// The W header texts that follow `ResourceWarning: ` / `RuntimeWarning: `.
const WARNING_MESSAGES: [(&str, Kind); 6] = [
    ("ResourceWarning: Unclosed client session ", Kind::Session),
    ("ResourceWarning: Unclosed connector ", Kind::Connector),
    ("ResourceWarning: Unclosed response ", Kind::Response),
    ("ResourceWarning: Unclosed connection ", Kind::Connection),
    ("ResourceWarning: unclosed transport ", Kind::Transport),
    ("ResourceWarning: unclosed <socket.socket", Kind::Socket),
];

const UNAWAITED_CLOSE: &str = "RuntimeWarning: coroutine 'ClientSession.close' was never awaited";

/// `FILE:LINE: ResourceWarning: Unclosed … <repr>`, `sys:1: …`, or the bare
/// `ResourceWarning: Unclosed … <repr>` that ends an `Exception ignored in:` report.
fn warning_header(text: &str) -> Option<Line<'_>> {
    let at = WARNING.find(text.as_bytes())?;
    // Back up to the start of the category name (`ResourceWarning`, `RuntimeWarning`).
    // The byte after the last non-letter: that character may be wider than one byte (`é`).
    let start = text[..at]
        .char_indices()
        .rfind(|&(_, c)| !c.is_ascii_alphabetic())
        .map_or(0, |(p, c)| p + c.len_utf8());
    let before = &text[..start];
    let body = &text[start..];
    let location = match before {
        "" => None,
        _ => Some(location(before)?),
    };
    if body == UNAWAITED_CLOSE {
        return Some(Line::WarningHeader {
            kind: Kind::UnawaitedClose,
            repr: "",
            location,
        });
    }
    for (message, kind) in WARNING_MESSAGES {
        if let Some(rest) = body.strip_prefix(message) {
            let repr = if kind == Kind::Socket {
                &body[message.len() - "<socket.socket".len()..]
            } else {
                rest
            };
            // aiohttp's `Connection` prints `Connection<ConnectionKey(…)>`; aiopg's, aiomysql's
            // `Unclosed connection <aiopg.connection.Connection …>` is not aiohttp's.
            let plausible = match kind {
                Kind::Connection => repr.starts_with("Connection<"),
                _ => repr.starts_with('<'),
            };
            return plausible.then_some(Line::WarningHeader {
                kind,
                repr,
                location,
            });
        }
    }
    None
}

/// The `FILE:LINE: ` before a warning category; a logging prefix such as
/// `WARNING:py.warnings:` may stand before FILE.
fn location(before: &str) -> Option<(&str, u32)> {
    let before = before.strip_suffix(": ")?;
    let (file, line) = before.rsplit_once(':')?;
    let line: u32 = line.parse().ok()?;
    let file = match file.find("py.warnings:") {
        Some(p) => &file[p + "py.warnings:".len()..],
        None => file,
    };
    let file = file.rsplit_once(" - ").map_or(file, |(_, f)| f).trim();
    (!file.is_empty()).then_some((file, line))
}

/// A line that ends with one of asyncio's L messages.
fn log_header(text: &str) -> Option<Line<'_>> {
    // Most lines end otherwise: the messages end in `n`, `r`, `e` or `!`, Home
    // Assistant's body-less form in `)`.
    if !matches!(
        text.as_bytes().last(),
        Some(b'n' | b'r' | b'e' | b'!' | b')')
    ) {
        return None;
    }
    for (message, kind) in LOG_MESSAGES {
        if let Some(prefix) = text.strip_suffix(message) {
            // The message stands alone or after a separator, never inside a quoted string
            // (aiohttp's own `_warnings.warn(f"Unclosed connector …` echo).
            let separated = prefix
                .chars()
                .next_back()
                .is_none_or(|c| !c.is_alphanumeric() && c != '"' && c != '\'' && c != '_');
            if separated && !prefix.contains('"') && !prefix.contains("warn(") {
                // Home Assistant's loop exception handler: `Error doing job: Unclosed …`,
                // the body dropped.
                if prefix.ends_with("Error doing job: ") && kind.is_aiohttp() {
                    return Some(Line::Bodyless { kind });
                }
                return Some(Line::LogHeader { kind, prefix });
            }
        }
        // Home Assistant prints the message with an empty context: `… Unclosed client session (None)`.
        for tail in [" (None)", " (task: None)"] {
            if let Some(head) = text.strip_suffix(tail)
                && head.ends_with(message)
                && kind.is_aiohttp()
            {
                return Some(Line::Bodyless { kind });
            }
        }
    }
    None
}

static UNCLOSED: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| finder("Unclosed "));

/// Whether `text` carries one of aiohttp's warning headers (`Unclosed client session`,
/// `Unclosed connector`, `Unclosed response`, aiohttp's `Unclosed connection`) anywhere,
/// whatever wraps it: a line the tool must read or say it could not. Not a header: the words
/// in lower case, aiohttp's own source echoed under a warning (`warn(f"Unclosed connector …`),
/// or another library's `Unclosed connection` (aiopg's, grpclib's `Unclosed connection:`).
pub fn mentions_header(text: &str) -> bool {
    // aiohttp's source echoed under a warning: `context = {"client_session": self, "message": …`.
    if text.trim_start().starts_with("context = {") {
        return false;
    }
    let b = text.as_bytes();
    let mut from = 0;
    while let Some(at) = UNCLOSED.find(&b[from..]) {
        let at = from + at;
        from = at + 1;
        // aiohttp's own source echoed under a W header: `warn(f"Unclosed connector {self!r}"`.
        if at > 1 && matches!(b[at - 1], b'"' | b'\'') && b[at - 2] == b'f' {
            continue;
        }
        if at > 0 && b[at - 1].is_ascii_alphanumeric() {
            continue;
        }
        let rest = &text[at + "Unclosed ".len()..];
        if rest.starts_with("client session")
            || rest.starts_with("connector")
            || rest.starts_with("response")
        {
            return true;
        }
        if let Some(after) = rest.strip_prefix("connection") {
            // aiohttp's reads `Unclosed connection` alone (then `client_connection:`) or
            // `Unclosed connection Connection<ConnectionKey(…)>`.
            let after = after.trim_start();
            let after = after.strip_prefix("\\n").unwrap_or(after);
            if after.is_empty()
                || after.starts_with("client_connection")
                || after.starts_with("Connection<")
            {
                return true;
            }
        }
    }
    false
}

/// Whether an L header's prefix is what a logging record puts there, so that a header
/// whose body never came is still worth reporting as `unknown`: nothing, a prefix naming
/// the `asyncio` logger (aiohttp reports through it), or one ending in the level
/// (`%(asctime)s %(levelname)s %(message)s`). `ERROR:app:Retrying: Unclosed connector` is
/// an application's own sentence.
pub fn looks_like_record(prefix: &str) -> bool {
    let p = prefix
        .trim_end()
        .trim_end_matches([':', '-', '|', ']', ')'])
        .trim_end();
    p.is_empty()
        || prefix.contains("asyncio")
        || ["ERROR", "CRITICAL"].iter().any(|l| p.ends_with(l))
}

fn is_unraisable(text: &str) -> bool {
    let Some(at) = UNRAISABLE.find(text.as_bytes()) else {
        return false;
    };
    let rest = &text[at..];
    [
        "ClientSession.__del__",
        "BaseConnector.__del__",
        "ClientResponse.__del__",
        "Connection.__del__",
    ]
    .iter()
    .any(|f| rest.contains(f))
}

#[cfg(test)]
mod tests;
