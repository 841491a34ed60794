//! Escape: log text is untrusted; make it inert before it reaches a terminal.
//!
//! JSON output is escaped by serde_json. Text for people goes through [`terminal`], which
//! turns control characters (ANSI escapes, carriage returns, backspaces) and Unicode bidi
//! and zero-width controls into visible `\u{…}` escapes, so a log line cannot move the
//! cursor, recolour the screen or reorder what is shown.

use std::borrow::Cow;

fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{061c}' | '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}')
}

/// `s` with every character that could act on a terminal written as a visible escape.
pub fn terminal(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_unsafe) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_unsafe(c) {
            out.push_str(&c.escape_unicode().to_string());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::terminal;

    #[test]
    fn plain_text_is_borrowed_unchanged() {
        assert!(matches!(
            terminal("app/client.py:42 in fetch"),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    #[test]
    fn ansi_carriage_return_and_bidi_controls_become_visible() {
        assert_eq!(terminal("a\x1b[31mb"), "a\\u{1b}[31mb");
        assert_eq!(terminal("x\ry"), "x\\u{d}y");
        assert_eq!(terminal("evil\u{202e}txt.py"), "evil\\u{202e}txt.py");
        assert_eq!(terminal("a\u{061c}b"), "a\\u{61c}b");
        assert_eq!(terminal("tab\there"), "tab\\u{9}here");
    }
}
