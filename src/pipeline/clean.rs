//! Clean: take off what terminals, chat tools and people put around a log line after Python
//! wrote it: ANSI colour sequences, Markdown quoting (`> `) and code spans (`` ` ``, a fence
//! glued to the first line), and pastes that joined a block's lines into one (with a literal
//! `\n`, or with spaces). Best effort for pasted text (docs/formats.md, "Pasted text"); exact
//! for colours. Pure and cheap: a line that needs none of it is returned borrowed after a
//! byte search and two byte checks.

use std::borrow::Cow;

/// The line as Python wrote it, without colour sequences or Markdown quoting around it.
pub fn line(text: &str) -> Cow<'_, str> {
    let b = text.as_bytes();
    let ansi = memchr::memchr(0x1b, b).is_some();
    let decorated = matches!(b.first(), Some(b'>' | b'`')) || b.last() == Some(&b'`');
    if !ansi && !decorated {
        return Cow::Borrowed(text);
    }
    let mut s: Cow<'_, str> = if ansi {
        Cow::Owned(strip_ansi(text))
    } else {
        Cow::Borrowed(text)
    };
    if decorated {
        let t = unquote(&s);
        if t.len() != s.len() {
            s = Cow::Owned(t.to_owned());
        }
    }
    s
}

/// The text without ANSI colour sequences, borrowed when it has none.
pub fn colors(text: &str) -> Cow<'_, str> {
    if memchr::memchr(0x1b, text.as_bytes()).is_some() {
        Cow::Owned(strip_ansi(text))
    } else {
        Cow::Borrowed(text)
    }
}

/// Removes ANSI escape sequences: CSI (`ESC [ … final`), OSC (`ESC ] … BEL/ST`) and
/// two-byte escapes.
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\x1b' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('[') => {
                // Parameters and intermediates, then one final byte in @..~.
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            Some(']') => {
                while let Some(c) = chars.next() {
                    if c == '\x07' {
                        break;
                    }
                    if c == '\x1b' && chars.peek() == Some(&'\\') {
                        chars.next();
                        break;
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// Takes off Markdown blockquote markers (`> `, `>> `, `> > `) and a code span or fence glued
/// to the text (`` `Unclosed connector` ``, ```` ```Unclosed client session ````). A fence on
/// its own line (```` ``` ````, ```` ```log ````) is left: it ends a block.
fn unquote(text: &str) -> &str {
    let mut t = text;
    while let Some(rest) = t.strip_prefix('>') {
        t = rest.strip_prefix(' ').unwrap_or(rest);
    }
    if let Some(rest) = t.strip_prefix("```") {
        // A fence glued to a header: the text after it is the log's.
        if crate::pipeline::parse::mentions_header(rest) {
            t = rest;
        }
    } else if let Some(rest) = t.strip_prefix('`') {
        t = rest;
    }
    if !t.ends_with("```")
        && let Some(rest) = t.strip_suffix('`')
    {
        t = rest;
    }
    t
}

/// Each header with the context key aiohttp prints first under it (keys are sorted): a
/// rendered page that lost the line break between them glues the two
/// (`Unclosed client sessionclient_session: <…>`), and no other text has them so.
const GLUED: [(&str, usize); 4] = [
    (
        "Unclosed client sessionclient_session: ",
        "Unclosed client session".len(),
    ),
    (
        "Unclosed connectorconnections: ",
        "Unclosed connector".len(),
    ),
    (
        "Unclosed responseclient_response: ",
        "Unclosed response".len(),
    ),
    (
        "Unclosed connectionclient_connection: ",
        "Unclosed connection".len(),
    ),
];

/// Headers, context keys and traceback lines that start a line of a block. In a paste that
/// joined the lines with spaces, a line starts before each.
const LINE_STARTS: [&str; 12] = [
    " Unclosed client session",
    " Unclosed connector",
    " Unclosed response",
    " Unclosed connection",
    " client_session: ",
    " connections: ",
    " connector: ",
    " client_response: ",
    " client_connection: ",
    " source_traceback: ",
    " handle_traceback: ",
    " File \"",
];

/// A pasted block that lost its line breaks, as the lines it was: split at a lone CR, at a
/// literal `\n`
/// (a string's repr, a JSON value pasted raw), before each context key when the lines
/// were joined with spaces, or between a header and its first key glued together ([`GLUED`]).
/// `None` when `text` is not such a paste.
pub fn split_joined(text: &str) -> Option<Vec<String>> {
    // Old Mac files and some serial consoles end lines with a lone CR: the reader's lines are
    // then many lines each (numbered as the physical line they came in).
    if text.contains('\r') {
        let parts: Vec<String> = text.split('\r').map(str::to_string).collect();
        return (parts.len() > 1).then_some(parts);
    }
    if text.contains("\\n") {
        let parts: Vec<String> = text
            .split("\\n")
            .map(|p| p.replace("\\'", "'").replace("\\\"", "\""))
            .collect();
        return (parts.len() > 1).then_some(parts);
    }
    // Where a line starts, and how many bytes of separator go before it (the joining space).
    let mut cuts: Vec<(usize, usize)> = LINE_STARTS
        .iter()
        .flat_map(|k| text.match_indices(k).map(|(i, _)| (i, 1)))
        .chain(GLUED.iter().flat_map(|&(glued, header)| {
            text.match_indices(glued).map(move |(i, _)| (i + header, 0))
        }))
        .collect();
    cuts.sort_unstable();
    cuts.dedup_by_key(|c| c.0);
    // A header starts a line only after another line of a block: before that it is the
    // first line's message, after its record prefix (`… Error doing job: Unclosed …`).
    let first_key = cuts
        .iter()
        .map(|c| c.0)
        .find(|&at| !text[at..].starts_with(" Unclosed"));
    cuts.retain(|&(at, _)| first_key.is_some_and(|k| at >= k));
    if cuts.is_empty() {
        return None;
    }
    let mut parts = Vec::with_capacity(cuts.len() + 1);
    let mut from = 0;
    for (at, gap) in cuts {
        // Home Assistant glues the first creation frame to its message: `…session:   File "…`.
        let part = text[from..at].trim_end();
        let part = match part.strip_suffix(':') {
            Some(p)
                if text[at..].starts_with(" File \"")
                    && crate::pipeline::parse::mentions_header(p) =>
            {
                p
            }
            _ => part,
        };
        parts.push(part.to_string());
        from = at + gap;
    }
    parts.push(text[from..].to_string());
    // A frame joined by spaces: `File "…", line N, in f    code`. Frames need their two-space
    // indent back to be read as frames, and their source line is the text after the function.
    let mut lines = Vec::with_capacity(parts.len() + 4);
    for p in parts {
        if !p.starts_with("File \"") {
            lines.push(p);
            continue;
        }
        let frame = format!("  {p}");
        let code_at = frame.find(", in ").and_then(|i| {
            let f = i + ", in ".len();
            frame[f..].find(' ').map(|sp| f + sp)
        });
        match code_at {
            Some(at) if !frame[at..].trim().is_empty() => {
                lines.push(frame[..at].to_string());
                lines.push(format!("    {}", frame[at..].trim()));
            }
            _ => lines.push(frame),
        }
    }
    Some(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_sequences_are_removed() {
        assert_eq!(
            line(
                "\x1b[2m2026-11-29\x1b[0m [\x1b[31m\x1b[1merror    \x1b[0m] \x1b[1mUnclosed client session\x1b[0m"
            ),
            "2026-11-29 [error    ] Unclosed client session"
        );
        assert_eq!(
            line("\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\ ok"),
            "link ok"
        );
        assert!(matches!(line("plain"), Cow::Borrowed("plain")));
    }

    #[test]
    fn markdown_quoting_and_code_spans_are_removed() {
        assert_eq!(line("> Unclosed client session"), "Unclosed client session");
        assert_eq!(line(">> > client_session: <x>"), "client_session: <x>");
        assert_eq!(line("`Unclosed connector`"), "Unclosed connector");
        assert_eq!(
            line("```Unclosed client session"),
            "Unclosed client session"
        );
        assert_eq!(line("```python"), "```python");
        assert_eq!(line("```"), "```");
    }

    #[test]
    fn joined_pastes_are_split_back_into_lines() {
        assert_eq!(
            split_joined("Unclosed client session\\nclient_session: <aiohttp.client.ClientSession object at 0x1>").unwrap(),
            ["Unclosed client session", "client_session: <aiohttp.client.ClientSession object at 0x1>"]
        );
        assert_eq!(
            split_joined("Unclosed connector connections: ['[(<a>, 1.0)]'] connector: <b>")
                .unwrap(),
            [
                "Unclosed connector",
                "connections: ['[(<a>, 1.0)]']",
                "connector: <b>"
            ]
        );
        assert_eq!(split_joined("Unclosed client session"), None);
    }

    #[test]
    fn a_header_glued_to_its_first_key_is_split_there() {
        assert_eq!(
            split_joined("error: `Unclosed client sessionclient_session: <aiohttp.client.ClientSession object at 0x1>`, see").unwrap(),
            ["error: `Unclosed client session", "client_session: <aiohttp.client.ClientSession object at 0x1>`, see"]
        );
        // Glued there, the rest joined with spaces.
        assert_eq!(
            split_joined("Unclosed connectorconnections: ['[(<a>, 1.0)]'] connector: <b>").unwrap(),
            [
                "Unclosed connector",
                "connections: ['[(<a>, 1.0)]']",
                "connector: <b>"
            ]
        );
        assert_eq!(
            split_joined(
                "Unclosed connectionclient_connection: Connection<ConnectionKey(host='a')>"
            )
            .unwrap(),
            [
                "Unclosed connection",
                "client_connection: Connection<ConnectionKey(host='a')>"
            ]
        );
    }

    #[test]
    fn only_a_header_with_its_own_first_key_counts_as_glued() {
        // Another kind's key, a key without its colon, or the words in prose: not a block.
        for text in [
            "Unclosed client sessionconnector: <aiohttp.connector.TCPConnector object at 0x1>",
            "Unclosed connectorclient_session: <aiohttp.client.ClientSession object at 0x1>",
            "grep for Unclosed client sessionclient_session in the logs",
            "Unclosed client sessions client_session",
        ] {
            assert_eq!(split_joined(text), None, "{text}");
        }
    }
}

/// rich's `RichHandler` prints each record in columns: the time (or blanks when it repeats) and
/// the level in the first 20, the message re-wrapped to the message column's width below each
/// other, and `file.py:line` right-aligned on the record's first line. This joins a record's
/// wrapped pieces back into the lines Python wrote: a piece that starts a line of a block (an
/// indented frame or source line, a context key) starts a new one; any other piece continues
/// the line before it, after the space rich broke it at (or none, when a word longer than the
/// column was cut where the column ended).
#[derive(Debug, Default)]
pub struct RichJoiner {
    /// The line being joined and the physical lines it came from.
    pending: Option<(String, Vec<u64>)>,
    /// Whether the last piece was one word cut at the column's end.
    last_full: bool,
    /// The message column's width, from the padded width of a record's first line.
    width: usize,
}

/// Columns before the message in rich's default layout: `[20:22:55] ERROR    `.
const RICH_GUTTER: usize = 20;

/// Texts that start a line of a block inside rich's message column.
const RICH_LINE_STARTS: [&str; 8] = [
    "client_session: ",
    "connections: ",
    "connector: ",
    "client_response: ",
    "client_connection: ",
    "source_traceback: ",
    "handle_traceback: ",
    "<CIMultiDictProxy(",
];

/// Whether `line` starts a record in rich's layout: a bracketed time or its blank column, then
/// a level padded to 8.
pub fn is_rich_record(line: &str) -> bool {
    let Some(head) = line.get(..RICH_GUTTER) else {
        return false;
    };
    let (time, level) = head.split_at(11);
    let time_ok =
        time.trim().is_empty() || (time.starts_with('[') && time.trim_end().ends_with(']'));
    let level = level.trim_end();
    time_ok
        && matches!(level, "DEBUG" | "INFO" | "WARNING" | "ERROR" | "CRITICAL")
        && !line[RICH_GUTTER..].starts_with(' ')
}

impl RichJoiner {
    /// Whether a line is being joined (the lines after it must be read, whatever they hold).
    pub fn is_holding(&self) -> bool {
        self.pending.is_some()
    }

    /// What the joiner carries to the next line when it holds none: what it learnt of the
    /// column. `None` while it holds a line.
    pub fn rest(&self) -> Option<(bool, usize)> {
        self.pending
            .is_none()
            .then_some((self.last_full, self.width))
    }

    /// Reads physical line `n`; pushes the lines it completes to `out`. `hold` says whether
    /// the line may matter (a block is open, or it holds a word that starts one): a line that
    /// does not is given on at once rather than held for its continuation.
    pub fn push(&mut self, line: &str, n: u64, hold: bool, out: &mut Vec<(String, Vec<u64>)>) {
        if is_rich_record(line) {
            self.flush(out);
            self.width = line.chars().count().saturating_sub(2 * RICH_GUTTER);
            let text = strip_rich_path(line[RICH_GUTTER..].trim_end());
            self.last_full = false;
            if hold {
                self.pending = Some((text.to_string(), vec![n]));
            } else {
                out.push((text.to_string(), vec![n]));
            }
            return;
        }
        let continues = line.len() > RICH_GUTTER
            && line.is_char_boundary(RICH_GUTTER)
            && line[..RICH_GUTTER].bytes().all(|b| b == b' ');
        if !continues {
            self.flush(out);
            out.push((line.to_string(), vec![n]));
            return;
        }
        let piece = line[RICH_GUTTER..].trim_end();
        if piece.is_empty() {
            // An empty line of the message (the one after a response's headers), padded to
            // the terminal's width: a line of its own, never a piece of the one before.
            self.flush(out);
            out.push((String::new(), vec![n]));
            self.last_full = false;
            return;
        }
        let starts_line =
            piece.starts_with(' ') || RICH_LINE_STARTS.iter().any(|k| piece.starts_with(k));
        // A word longer than the column is cut where the column ends: the piece is that one
        // word, filling the column. A piece that fills it with several words broke at a space.
        let full = self.width > 0 && piece.chars().count() >= self.width && !piece.contains(' ');
        match &mut self.pending {
            Some((text, lines)) if !starts_line => {
                if !self.last_full {
                    text.push(' ');
                }
                text.push_str(piece);
                lines.push(n);
            }
            _ => {
                self.flush(out);
                self.pending = Some((piece.to_string(), vec![n]));
            }
        }
        self.last_full = full;
    }

    /// Gives on the line being joined.
    pub fn flush(&mut self, out: &mut Vec<(String, Vec<u64>)>) {
        if let Some(p) = self.pending.take() {
            out.push(p);
        }
    }
}

/// A record's first line without the `file.py:NNN` rich right-aligns after the message.
fn strip_rich_path(text: &str) -> &str {
    match text.rsplit_once("  ") {
        Some((msg, path))
            if path.rsplit_once(':').is_some_and(|(f, l)| {
                !f.is_empty()
                    && !f.contains(' ')
                    && !l.is_empty()
                    && l.bytes().all(|b| b.is_ascii_digit())
            }) =>
        {
            msg.trim_end()
        }
        _ => text,
    }
}

#[cfg(test)]
mod rich_tests {
    use super::*;

    fn join(lines: &[&str]) -> Vec<String> {
        let mut j = RichJoiner::default();
        let mut out = Vec::new();
        for (n, l) in lines.iter().enumerate() {
            j.push(l, n as u64 + 1, true, &mut out);
        }
        j.flush(&mut out);
        out.into_iter().map(|(t, _)| t).collect()
    }

    fn pad(s: &str) -> String {
        format!("{s:<100}")
    }

    #[test]
    fn an_empty_line_of_the_message_padded_with_spaces_stays_a_line() {
        // rich 15 at 400 columns (a helper's real run, shortened): the response block's empty
        // line comes as spaces to the terminal's width.
        let lines = [
            format!(
                "{:<380}{:>20}",
                "           ERROR    Unclosed response", "base_events.py:1771"
            ),
            format!(
                "{:<400}",
                "                    client_response: <ClientResponse(http://127.0.0.1:18080/big) [200 OK]>"
            ),
            format!(
                "{:<400}",
                "                    <CIMultiDictProxy('Content-Type': 'application/octet-stream')>"
            ),
            " ".repeat(400),
            format!(
                "{:<400}",
                "                    source_traceback: Object created at (most recent call last):"
            ),
        ];
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        assert_eq!(
            join(&refs),
            [
                "Unclosed response",
                "client_response: <ClientResponse(http://127.0.0.1:18080/big) [200 OK]>",
                "<CIMultiDictProxy('Content-Type': 'application/octet-stream')>",
                "",
                "source_traceback: Object created at (most recent call last):",
            ]
        );
    }

    #[test]
    fn wrapped_pieces_join_at_the_space_rich_broke_at_and_block_lines_start_anew() {
        let lines = [
            format!(
                "{:<80}{:>20}",
                "           ERROR    Unclosed connector", "base_events.py:1858"
            ),
            pad("                    connections: ['deque([(<aiohttp.client_proto.ResponseHandler"),
            pad("                    object at 0x7fde40ff4170>, 2433.038921296)])']"),
            pad("                    source_traceback: Object created at (most recent call last):"),
            pad(
                "                      File \"/usr/local/lib/python3.13/asyncio/runners.py\", line",
            ),
            pad("                    194, in run"),
            pad("                        return runner.run(main)"),
        ];
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        assert_eq!(
            join(&refs),
            [
                "Unclosed connector",
                "connections: ['deque([(<aiohttp.client_proto.ResponseHandler object at 0x7fde40ff4170>, 2433.038921296)])']",
                "source_traceback: Object created at (most recent call last):",
                "  File \"/usr/local/lib/python3.13/asyncio/runners.py\", line 194, in run",
                "    return runner.run(main)",
            ]
        );
    }

    #[test]
    fn a_word_longer_than_the_column_is_joined_without_a_space() {
        let word = "/opt/venv/lib/python3.13/site-packages/litellm/llms/custom_h";
        assert_eq!(word.len(), 60);
        let lines = [
            format!(
                "{:<80}{:>20}",
                "[20:22:55] ERROR    Unclosed client session", "base_events.py:1858"
            ),
            pad("                    source_traceback: Object created at (most recent call last):"),
            pad("                      File"),
            pad(&format!("                    \"{word}")),
            pad("                    ttpx/http_handler.py\", line 559, in <lambda>"),
        ];
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let got = join(&refs);
        assert_eq!(
            got[2],
            format!("  File \"{word}ttpx/http_handler.py\", line 559, in <lambda>")
        );
    }
}
