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
        if crate::parse::mentions_header(rest) {
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

/// A pasted block that lost its line breaks, as the lines it was: split at a literal `\n`
/// (a string's repr, a JSON value pasted raw), or before each context key when the lines
/// were joined with spaces. `None` when `text` is not such a paste.
pub fn split_joined(text: &str) -> Option<Vec<String>> {
    if text.contains("\\n") {
        let parts: Vec<String> = text
            .split("\\n")
            .map(|p| p.replace("\\'", "'").replace("\\\"", "\""))
            .collect();
        return (parts.len() > 1).then_some(parts);
    }
    let mut cuts: Vec<usize> = LINE_STARTS
        .iter()
        .flat_map(|k| text.match_indices(k).map(|(i, _)| i))
        .collect();
    cuts.sort_unstable();
    cuts.dedup();
    // A header starts a line only after another line of a block: before that it is the
    // first line's message, after its record prefix (`… Error doing job: Unclosed …`).
    let first_key = cuts
        .iter()
        .copied()
        .find(|&at| !text[at..].starts_with(" Unclosed"));
    cuts.retain(|&at| first_key.is_some_and(|k| at >= k));
    if cuts.is_empty() {
        return None;
    }
    let mut parts = Vec::with_capacity(cuts.len() + 1);
    let mut from = 0;
    for at in cuts {
        // Home Assistant glues the first creation frame to its message: `…session:   File "…`.
        let part = text[from..at].trim_end();
        let part = match part.strip_suffix(':') {
            Some(p) if text[at..].starts_with(" File \"") => p,
            _ => part,
        };
        parts.push(part.to_string());
        from = at + 1;
    }
    parts.push(text[from..].to_string());
    // A frame joined by spaces: `File "…", line N, in f code` loses its code line, but
    // frames need their two-space indent back to be read as frames.
    for p in &mut parts {
        if p.starts_with("File \"") {
            p.insert_str(0, "  ");
        }
    }
    Some(parts)
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
}
