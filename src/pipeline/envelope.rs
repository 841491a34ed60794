//! Envelope: take the text a Python process wrote out of whatever wrapped it on its way to
//! the log (Docker, Kubernetes, journald, a JSON logger …).
//!
//! Envelope formats are data: `grammars/*.toml`, embedded in the binary, each with sample
//! lines that [`Grammar::check`] runs through it when it is loaded, so a grammar that no
//! longer reads its own samples fails loudly. The grammar of an input is detected from its
//! first lines; a line the chosen grammar does not read is tried against the others and then
//! taken as plain text, so a log that mixes envelopes is still read.

use std::collections::HashMap;

mod fields;
mod grammar;

pub use fields::find_timestamp;
use fields::{epoch_micros_to_rfc3339, json_fields, stream_key, text_of};
use grammar::Shape;
pub use grammar::{DETECT_LINES, Grammar, GrammarError, detect};

/// A line of text as the Python process wrote it, with where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logical {
    /// The stream within the input (`stderr`, `app[web.1]`, a pid …); empty for plain text.
    pub stream: String,
    /// The text, without its line ending.
    pub text: String,
    /// The timestamp the envelope gave, as written.
    pub ts: Option<String>,
    /// The physical lines it came from: one, or the pieces of a split line.
    pub lines: Vec<u64>,
}

/// Unwraps the lines of one input, keeping what spans lines: pieces of a split line (CRI
/// `P`, Docker's 16 KiB split) and journald's indented continuations.
#[derive(Debug)]
pub struct Unwrapper<'g> {
    grammars: &'g [Grammar],
    /// The input's grammar; `None` before detection.
    chosen: Option<usize>,
    /// Text of a split line, per stream, until its last piece arrives.
    pieces: HashMap<String, Piece>,
    /// The stream and text column of the last prefixed line, for indented continuations.
    indent: Option<(String, usize, Option<String>)>,
    /// Pieces longer than this are cut (the same limit as physical lines).
    pub max_piece: usize,
    /// How many joined lines were cut at `max_piece`.
    pub cut: u64,
}

impl<'g> Unwrapper<'g> {
    /// An unwrapper over `grammars`, trying `chosen` first.
    pub fn new(grammars: &'g [Grammar], chosen: Option<usize>) -> Self {
        Unwrapper {
            grammars,
            chosen,
            pieces: HashMap::new(),
            indent: None,
            max_piece: crate::pipeline::lines::DEFAULT_MAX_LINE,
            cut: 0,
        }
    }

    /// Sets the grammar tried first.
    pub fn choose(&mut self, chosen: usize) {
        self.chosen = Some(chosen);
    }

    /// The chosen grammar, once chosen.
    pub fn chosen(&self) -> Option<usize> {
        self.chosen
    }

    /// What the unwrapper carries to the next line when it holds no piece: the stream and
    /// column an indented continuation would belong to. `None` while it holds a piece.
    pub fn rest(&self) -> Option<Option<(String, usize, Option<String>)>> {
        self.pieces.is_empty().then(|| self.indent.clone())
    }

    /// The chosen grammar's name (`bare` before detection).
    pub fn grammar_name(&self) -> &str {
        self.chosen
            .map_or("bare", |i| self.grammars[i].name.as_str())
    }

    /// Whether the input is read as one JSON record per line.
    pub fn reads_json_lines(&self) -> bool {
        self.chosen
            .is_some_and(|i| matches!(self.grammars[i].shape, Shape::Json { .. }))
    }

    /// Whether a piece of a split line is waiting for the rest.
    pub fn has_pieces(&self) -> bool {
        !self.pieces.is_empty()
    }

    /// The first physical line of the oldest split line still waiting for its rest.
    pub fn oldest_piece(&self) -> Option<u64> {
        self.pieces
            .values()
            .filter_map(|p| p.lines.first().copied())
            .min()
    }

    /// Whether `line` is, as it stands, one logical line of plain text with no stream or
    /// timestamp: what [`Unwrapper::unwrap`] would make of it, said without copying it. The
    /// common case of a bare log, and every line of a dense one.
    pub fn is_plain(&mut self, line: &str) -> bool {
        let structured = self
            .chosen
            .is_some_and(|i| self.grammars[i].is_structured());
        if structured || !self.pieces.is_empty() || could_be_structured(line) {
            return false;
        }
        self.indent = None;
        true
    }

    /// Unwraps physical line `n` (without its line ending) into zero or more logical lines.
    pub fn unwrap(&mut self, line: &str, n: u64, out: &mut Vec<Logical>) {
        let chosen_structured = self.chosen.filter(|&i| self.grammars[i].is_structured());
        if let Some(i) = chosen_structured
            && self.try_grammar(i, line, n, out)
        {
            return;
        }
        // Trying every other grammar on every line of a block is most of the cost of a
        // dense log: only a line that starts the way one of them does is tried.
        if could_be_structured(line) {
            for i in 0..self.grammars.len() {
                if Some(i) != chosen_structured
                    && self.grammars[i].is_structured()
                    && self.try_grammar(i, line, n, out)
                {
                    return;
                }
            }
        }
        // Plain text is the last resort, read by the chosen plain grammar for its timestamps.
        self.indent = None;
        match self.chosen {
            Some(i) if chosen_structured.is_none() => {
                self.try_grammar(i, line, n, out);
            }
            _ => out.push(Logical {
                stream: String::new(),
                text: line.to_owned(),
                ts: None,
                lines: vec![n],
            }),
        }
    }

    fn release_oldest_piece(&mut self, out: &mut Vec<Logical>) {
        let oldest = self
            .pieces
            .iter()
            .min_by_key(|(_, p)| p.lines.first().copied())
            .map(|(k, _)| k.clone());
        if let Some(k) = oldest
            && let Some(p) = self.pieces.remove(&k)
        {
            self.emit(out, &k, &p.text, p.ts, p.lines);
        }
    }

    /// Emits what is left of split lines (at the end of the input, or after a quiet spell).
    pub fn finish(&mut self, out: &mut Vec<Logical>) {
        let mut left: Vec<_> = self.pieces.drain().collect();
        left.sort_by(|a, b| a.0.cmp(&b.0));
        for (stream, p) in left {
            self.emit(out, &stream, &p.text, p.ts, p.lines);
        }
    }

    fn try_grammar(&mut self, i: usize, line: &str, n: u64, out: &mut Vec<Logical>) -> bool {
        let g = &self.grammars[i];
        match &g.shape {
            Shape::Raw(_) => {
                // A record's timestamp is read off its header line when a block starts
                // (`assemble`), not off every line here.
                let ts = None;
                out.push(Logical {
                    stream: String::new(),
                    text: line.to_owned(),
                    ts,
                    lines: vec![n],
                });
                true
            }
            Shape::Prefix {
                regex,
                partial,
                indent_continues,
            } => {
                let Some(c) = regex.captures(line) else {
                    // journald prints an entry's later lines indented to its text column.
                    if *indent_continues
                        && let Some((stream, col, ts)) = &self.indent
                        && line.len() >= *col
                        && line.is_char_boundary(*col)
                        && line[..*col].bytes().all(|b| b == b' ')
                    {
                        out.push(Logical {
                            stream: stream.clone(),
                            text: line[*col..].to_owned(),
                            ts: ts.clone(),
                            lines: vec![n],
                        });
                        return true;
                    }
                    return false;
                };
                let text = c.name("text").map_or("", |m| m.as_str());
                let stream = c.name("stream").map_or("", |m| m.as_str()).to_owned();
                let ts = c.name("ts").map(|m| m.as_str().to_owned());
                if *indent_continues {
                    let col = c.name("text").map_or(line.len(), |m| m.start());
                    self.indent = Some((stream.clone(), col, ts.clone()));
                }
                let is_piece = match (partial, c.name("partial")) {
                    (Some(p), Some(m)) => m.as_str() == p,
                    _ => false,
                };
                self.join(stream, text, ts, n, is_piece, out);
                true
            }
            Shape::Json {
                text,
                stream,
                time,
                epoch_micros,
                partial_without_newline,
            } => {
                let Some(body) = json_fields(line, text) else {
                    return false;
                };
                let stream_key = stream_key(&body, stream);
                let ts = time
                    .iter()
                    .find_map(|f| body.get(f).and_then(|v| v.as_str()))
                    .map(|t| {
                        if *epoch_micros {
                            epoch_micros_to_rfc3339(t).unwrap_or_else(|| t.to_owned())
                        } else {
                            t.to_owned()
                        }
                    });
                let mut msg = text_of(&body, text).unwrap_or_default();
                let is_piece = *partial_without_newline && !msg.ends_with('\n');
                if msg.ends_with('\n') {
                    msg.pop();
                    if msg.ends_with('\r') {
                        msg.pop();
                    }
                }
                self.join(stream_key, &msg, ts, n, is_piece, out);
                true
            }
        }
    }

    fn join(
        &mut self,
        stream: String,
        text: &str,
        ts: Option<String>,
        n: u64,
        is_piece: bool,
        out: &mut Vec<Logical>,
    ) {
        let Some(mut p) = self.pieces.remove(&stream) else {
            if is_piece {
                if self.pieces.len() >= MAX_PIECE_STREAMS {
                    self.release_oldest_piece(out);
                }
                let piece = Piece {
                    text: text.to_owned(),
                    ts,
                    cut: false,
                    lines: vec![n],
                };
                self.pieces.insert(stream, piece);
            } else {
                self.emit(out, &stream, text, ts, vec![n]);
            }
            return;
        };
        p.lines.push(n);
        let room = self.max_piece.saturating_sub(p.text.len());
        if text.len() > room && !p.cut {
            p.cut = true;
            self.cut += 1;
        }
        p.text.push_str(truncate_str(text, room));
        if is_piece && p.lines.len() >= MAX_PIECE_LINES && !p.cut {
            p.cut = true;
            self.cut += 1;
        }
        if is_piece && p.lines.len() < MAX_PIECE_LINES {
            self.pieces.insert(stream, p);
        } else {
            self.emit(out, &stream, &p.text, p.ts, p.lines);
        }
    }

    /// Emits the lines of a whole text a grammar took out of its envelope. A transport's text
    /// is what the process wrote, which may be a record of its own: a JSON logger's object
    /// (structlog inside CRI) or another prefix (`docker compose logs -t`). Those are taken
    /// off too, at most [`MAX_LAYERS`] deep. A JSON record adds no stream of its own: the
    /// process's raw stderr and its JSON records are one stream.
    fn emit(
        &self,
        out: &mut Vec<Logical>,
        stream: &str,
        text: &str,
        ts: Option<String>,
        lines: Vec<u64>,
    ) {
        emit_layers(self.grammars, out, stream, text, ts, &lines, 0);
    }
}

/// Envelopes read inside one another at most.
const MAX_LAYERS: usize = 3;

fn emit_layers(
    grammars: &[Grammar],
    out: &mut Vec<Logical>,
    stream: &str,
    text: &str,
    ts: Option<String>,
    lines: &[u64],
    depth: usize,
) {
    for piece in text.split('\n') {
        let piece = piece.strip_suffix('\r').unwrap_or(piece);
        if depth < MAX_LAYERS
            && could_be_structured(piece)
            && let Some((inner_stream, inner, inner_ts)) = inner_record(grammars, piece)
        {
            let stream = match inner_stream {
                Some(s) if !s.is_empty() => format!("{stream} {s}"),
                _ => stream.to_owned(),
            };
            emit_layers(
                grammars,
                out,
                &stream,
                &inner,
                ts.clone().or(inner_ts),
                lines,
                depth + 1,
            );
            continue;
        }
        out.push(Logical {
            stream: stream.to_owned(),
            text: piece.to_owned(),
            ts: ts.clone(),
            lines: lines.to_vec(),
        });
    }
}

/// The text inside `piece` when a structured grammar reads it: a JSON record's message, or a
/// prefix grammar's text (its partial marker ignored: pieces are joined by the outer layer).
fn inner_record(
    grammars: &[Grammar],
    piece: &str,
) -> Option<(Option<String>, String, Option<String>)> {
    for g in grammars {
        match &g.shape {
            Shape::Json {
                text, stream, time, ..
            } => {
                let Some(body) = json_fields(piece, text) else {
                    continue;
                };
                let mut msg = text_of(&body, text).unwrap_or_default();
                while msg.ends_with('\n') || msg.ends_with('\r') {
                    msg.pop();
                }
                let ts = time
                    .iter()
                    .find_map(|f| body.get(f).and_then(|v| v.as_str()))
                    .map(str::to_owned);
                let key = stream_key(&body, stream);
                return Some((Some(key), msg, ts));
            }
            Shape::Prefix { regex, .. } => {
                let Some(c) = regex.captures(piece) else {
                    continue;
                };
                let text = c.name("text").map_or("", |m| m.as_str()).to_owned();
                let stream = c.name("stream").map(|m| m.as_str().to_owned());
                let ts = c.name("ts").map(|m| m.as_str().to_owned());
                return Some((stream, text, ts));
            }
            Shape::Raw(_) => {}
        }
    }
    None
}

/// Whether a line starts the way some structured envelope does: a JSON object, a
/// timestamp or PM2 id (a digit), a syslog month (`Nov 23 …`), `kubectl logs --prefix`'s
/// `[pod/…]` or a compose service column (`api-1  | `). Cheap, and false for the lines of a
/// plain-text block (`Unclosed …`, `client_session: …`, `  File "…"`).
fn could_be_structured(line: &str) -> bool {
    let b = line.as_bytes();
    match b.first() {
        Some(b'{' | b'0'..=b'9') => true,
        Some(b'[') => b.starts_with(b"[pod/"),
        Some(b'a'..=b'z') => compose_column(b),
        Some(b'A'..=b'Z') => {
            compose_column(b)
                || b.len() > 4
                    && b[3] == b' '
                    && matches!(
                        &b[..3],
                        b"Jan"
                            | b"Feb"
                            | b"Mar"
                            | b"Apr"
                            | b"May"
                            | b"Jun"
                            | b"Jul"
                            | b"Aug"
                            | b"Sep"
                            | b"Oct"
                            | b"Nov"
                            | b"Dec"
                    )
        }
        // JSON's own whitespace is ASCII: no need to decode to skip it.
        Some(b' ' | b'\t') => b.iter().find(|&&c| c != b' ' && c != b'\t') == Some(&b'{'),
        _ => false,
    }
}

/// `name-1  | `: a `|` within the first 80 bytes, after spaces after `-N` or `_N`.
fn compose_column(b: &[u8]) -> bool {
    let head = &b[..b.len().min(80)];
    let Some(bar) = memchr::memchr(b'|', head) else {
        return false;
    };
    let before = head[..bar].trim_ascii_end();
    let digits = before
        .iter()
        .rev()
        .take_while(|c| c.is_ascii_digit())
        .count();
    digits > 0
        && before.len() > digits
        && matches!(before[before.len() - digits - 1], b'-' | b'_')
        && head.get(bar + 1) == Some(&b' ')
}

/// The pieces of a split line read so far.
#[derive(Debug)]
struct Piece {
    text: String,
    ts: Option<String>,
    cut: bool,
    lines: Vec<u64>,
}

/// Streams with a split line in progress at most; past that, the oldest is given as it is.
const MAX_PIECE_STREAMS: usize = 1024;

/// Pieces joined into one line at most; a longer run ends the line there (counted as cut),
/// so the physical lines it holds stay bounded.
const MAX_PIECE_LINES: usize = 4096;

fn truncate_str(s: &str, max: usize) -> &str {
    let mut end = max.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests;
