//! Text fitted to a terminal's width, measured in display columns (a CJK character takes two,
//! a combining accent none), never in bytes or characters. Text reaching here is already
//! escaped, so it holds no control characters.

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// Display columns of `s`.
pub(super) fn width(s: &str) -> usize {
    s.width()
}

fn char_width(c: char) -> usize {
    c.width().unwrap_or(0)
}

/// `s` in at most `max` columns, cut on the right with `…` when wider.
pub(super) fn cut_right(s: &str, max: usize) -> String {
    if width(s) <= max {
        return s.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let w = char_width(c);
        if used + w > max - 1 {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push('…');
    out
}

/// `s` in at most `max` columns, cut on the left with `…` when wider. A path keeps its last
/// parts whole: the cut moves right to a separator when one is left (`…/pkg/client.py:42`,
/// not `…kg/client.py:42`), so the file name and line survive whenever they fit at all.
pub(super) fn cut_left(s: &str, max: usize) -> String {
    if width(s) <= max {
        return s.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let mut start = s.len();
    let mut used = 0;
    for (i, c) in s.char_indices().rev() {
        let w = char_width(c);
        if used + w > max - 1 {
            break;
        }
        used += w;
        start = i;
    }
    let tail = &s[start..];
    let tail = match tail.find(['/', '\\']) {
        Some(at) if at > 0 => &tail[at..],
        _ => tail,
    };
    format!("…{tail}")
}

/// What [`wrap`] does with a word wider than a whole line.
#[derive(Clone, Copy)]
pub(super) enum Long {
    /// Shortens it from the left ([`cut_left`]): a path keeps its file name and line.
    CutLeft,
    /// Source code, which is there to be recognised: a word may also end a line after `.`,
    /// `(` or `,` (`aiohttp.` / `ClientSession(`), and one with no such place is broken where
    /// the line ends. Nothing is lost.
    Break,
}

/// The words of `text` (split at spaces) in lines of at most `max` columns: the first line
/// begins with `first`, the others with `rest` (a hanging indent). An indent that would leave
/// a line less than 8 columns is dropped.
pub(super) fn wrap(text: &str, max: usize, first: &str, rest: &str, long: Long) -> Vec<String> {
    let indent = |s: &str| {
        if width(s) + 8 <= max {
            s.to_string()
        } else {
            String::new()
        }
    };
    // Pieces, each with whether a space comes before it.
    let mut pieces: Vec<(&str, bool)> = Vec::new();
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let mut spaced = true;
        let mut rest = word;
        if let Long::Break = long {
            while let Some(at) = rest.find(['.', '(', ',']) {
                if at + 1 == rest.len() {
                    break;
                }
                pieces.push((&rest[..=at], spaced));
                spaced = false;
                rest = &rest[at + 1..];
            }
        }
        pieces.push((rest, spaced));
    }
    let mut lines = Vec::new();
    let mut line = indent(first);
    let mut empty = true;
    for (piece, spaced) in pieces {
        let space = spaced && !empty;
        if width(&line) + usize::from(space) + width(piece) <= max {
            if space {
                line.push(' ');
            }
            line.push_str(piece);
            empty = false;
            continue;
        }
        if !empty {
            lines.push(std::mem::replace(&mut line, indent(rest)));
        }
        match long {
            Long::CutLeft => {
                let room = max.saturating_sub(width(&line)).max(1);
                line.push_str(&cut_left(piece, room));
            }
            Long::Break => {
                let mut used = width(&line);
                let mut fresh = true;
                for c in piece.chars() {
                    let mut w = char_width(c);
                    if used + w > max && !fresh {
                        lines.push(std::mem::replace(&mut line, indent(rest)));
                        used = width(&line);
                    }
                    fresh = false;
                    if used + w > max {
                        // A wide character on a line too narrow for it.
                        line.push('…');
                        w = 1;
                    } else {
                        line.push(c);
                    }
                    used += w;
                }
            }
        }
        empty = false;
    }
    lines.push(line);
    lines
}
