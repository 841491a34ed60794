//! Report: what a person or a program reads. A table for people, JSON for programs (the
//! `unclosed/2` contract in the README), NDJSON as findings are decided, and a finding list.
//!
//! Only derived facts are reported: call sites, counts, labels. Object reprs, which carry
//! URLs, headers and proxy passwords (docs/formats.md §11), are never printed.

use std::io::{self, Write};

use comfy_table::{Attribute, Cell, Color};

use crate::gate::policy::Verdict;
use crate::pipeline::classify::Label;
use crate::pipeline::escape::terminal;
use crate::pipeline::group::{Summary, Triaged};
use crate::pipeline::scan::InputStats;
use crate::report::explain::advice;

mod fit;
mod table;

use fit::Long;
pub use table::write_table;

/// Sites shown in the table, worst first; JSON and the finding list have them all.
pub const TABLE_ROWS: usize = 100;

/// The JSON schema name; bumped only on an incompatible change.
pub const SCHEMA: &str = "unclosed/2";

/// How to get call sites, said when findings carry no creation traceback.
pub const SITE_HINT: &str = "No call sites: the log has no creation tracebacks. Run the program with asyncio debug mode \
(PYTHONASYNCIODEBUG=1 or python -X dev) for asyncio's source_traceback, or on Python 3.12+ with \
PYTHONTRACEMALLOC=25 and -W default::ResourceWarning for tracemalloc's. Under Home Assistant, \
`hass --debug` turns on the same debug mode.";

/// What the labels mean, said under the table.
pub const LABELS: [(&str, &str); 3] = [
    (
        "leak",
        "sockets were held until garbage collection: pooled by a connector, or held by an unread response or unreleased connection",
    ),
    (
        "noise",
        "a session was collected unclosed but held no socket (idle GC)",
    ),
    (
        "unknown",
        "the log does not show enough to tell (a block cut off or without its body, a session parted from a connector by other lines)",
    ),
];

/// One input, as the reports name it.
#[derive(Clone, Debug)]
pub struct InputReport {
    /// The path, or `<stdin>`.
    pub name: String,
    /// The grammar it was read with.
    pub grammar: String,
    /// Its counts.
    pub stats: InputStats,
    /// Lines cut at the line limit (physical or joined).
    pub cut_lines: u64,
}

pub(crate) fn location(inputs: &[InputReport], input: usize, line: u64) -> String {
    let name = inputs.get(input).map_or("?", |i| i.name.as_str());
    format!("{name}:{line}")
}

/// The verdict under the table: what fails, why, and the fix for each failing site; with a
/// terminal's `width`, wrapped at spaces to it like the table's prose.
pub fn write_verdict(
    w: &mut dyn Write,
    v: &Verdict<'_>,
    color: bool,
    width: Option<u16>,
) -> io::Result<()> {
    let mut out = Prose {
        w,
        width: width.filter(|w| *w > 0).map(usize::from),
    };
    let (red, green) = if color {
        ("\x1b[1;31m", "\x1b[1;32m")
    } else {
        ("", "")
    };
    if !v.failed() {
        let base = v.sites.iter().filter(|x| x.baselined).count();
        let note = if base > 0 {
            format!(" ({base} call sites accepted by the baseline)")
        } else {
            String::new()
        };
        out.painted(
            &format!("PASSED: nothing breaks the policy{note}."),
            "PASSED",
            green,
        )?;
    } else {
        out.painted(&format!("FAILED: {}.", v.reasons.join("; ")), "FAILED", red)?;
        for x in v.sites.iter().filter(|x| x.fails).take(20) {
            out.hanging(
                "  ✗ ",
                &terminal(&crate::gate::policy::describe(x.site)),
                "    ",
            )?;
            if !x.site.parts.is_empty() {
                out.hanging(
                    "    ",
                    &format!("seen in: {}", terminal(&x.site.parts.join(", "))),
                    "      ",
                )?;
            }
            out.hanging("    ", advice(x.site.pattern), "    ")?;
        }
    }
    if !v.stale.is_empty() {
        out.line(&format!(
            "{} baseline entr{} no longer occur ({}): `--write-baseline` drops them.",
            v.stale.len(),
            if v.stale.len() == 1 { "y" } else { "ies" },
            v.stale
                .iter()
                .take(10)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        ))?;
    }
    Ok(())
}

fn paint(text: &str, color: Option<Color>, on: bool) -> Cell {
    let cell = Cell::new(text);
    match (on, color) {
        (true, Some(c)) => cell.fg(c).add_attribute(Attribute::Bold),
        _ => cell,
    }
}

fn label_color(label: &str) -> Option<Color> {
    match label {
        "leak" => Some(Color::Red),
        "mixed" => Some(Color::Magenta),
        "unknown" => Some(Color::Yellow),
        "noise" => Some(Color::Green),
        _ => None,
    }
}

/// One line per finding: `input:line: label, what, site`.
pub fn write_list_line(
    w: &mut dyn Write,
    t: &Triaged,
    inputs: &[InputReport],
    color: bool,
) -> io::Result<()> {
    let mut what = Vec::new();
    for (n, name) in [
        (t.sessions, "session"),
        (t.connectors, "connector"),
        (t.responses, "response"),
        (t.connections, "connection"),
    ] {
        if n > 0 {
            what.push(name);
        }
    }
    let held = match (t.connectors, t.label) {
        (0, _) if t.parted => ", parted from a connector by other lines".into(),
        (0, _) => String::new(),
        (_, Label::Unknown) => ", pooled connections not shown".into(),
        _ => format!(
            ", {} pooled connection{}{}",
            t.pooled_connections,
            plural(t.pooled_connections),
            if t.truncated { " (list cut off)" } else { "" }
        ),
    };
    let site = crate::pipeline::group::created_at(t.site.as_ref());
    let label = match (color, t.label) {
        (false, _) => t.label.name().to_string(),
        (true, Label::Leak) => format!("\x1b[1;31m{}\x1b[0m", t.label.name()),
        (true, Label::Noise) => format!("\x1b[32m{}\x1b[0m", t.label.name()),
        (true, Label::Unknown) => format!("\x1b[1;33m{}\x1b[0m", t.label.name()),
    };
    writeln!(
        w,
        "{}: {}: {}{held}; {}",
        terminal(&location(inputs, t.input, t.line)),
        label,
        what.join(" + "),
        terminal(&site)
    )
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Columns a status line leaves free at the end of its row: the terminal echoes Ctrl-C as
/// `^C` where the cursor is, and an echo that wrapped would leave the status line above the
/// row the final clear wipes; one more, because a line that fills the last column leaves the
/// cursor waiting to wrap.
pub const STATUS_MARGIN: usize = 3;

/// `text` fitted to one row of a terminal `width` columns wide, for a status line redrawn in
/// place: cut to `width - STATUS_MARGIN` display columns with `…`. A status line that wraps
/// is redrawn only on its last row and leaves stale copies above. `width` 0 (a terminal that
/// reports no size) leaves the text as it is. Escape `text` first: control characters have
/// no width.
pub fn fit_status(text: &str, width: usize) -> String {
    if width == 0 {
        return text.to_string();
    }
    fit::cut_right(text, width.saturating_sub(STATUS_MARGIN))
}

/// Lines of prose around the table, wrapped at spaces when a terminal's width is known.
struct Prose<'a> {
    w: &'a mut dyn Write,
    width: Option<usize>,
}

impl Prose<'_> {
    fn line(&mut self, text: &str) -> io::Result<()> {
        self.hanging("", text, "  ")
    }

    /// `first` then `text`, as the lines it takes: its further lines indented by `rest`.
    fn wrapped(&self, first: &str, text: &str, rest: &str) -> Vec<String> {
        match self.width {
            Some(max) if fit::width(first) + fit::width(text) > max => {
                fit::wrap(text, max, first, rest, Long::CutLeft)
            }
            _ => vec![format!("{first}{text}")],
        }
    }

    /// `first` then `text`, its further lines indented by `rest`.
    fn hanging(&mut self, first: &str, text: &str, rest: &str) -> io::Result<()> {
        for line in self.wrapped(first, text, rest) {
            writeln!(self.w, "{line}")?;
        }
        Ok(())
    }

    /// `text`, which begins with `word`, with `word` in the colour `on` (an SGR sequence;
    /// empty: no colour). Wrapped as plain text: colour sequences take no columns.
    fn painted(&mut self, text: &str, word: &str, on: &str) -> io::Result<()> {
        for (i, line) in self.wrapped("", text, "  ").into_iter().enumerate() {
            match line.strip_prefix(word) {
                Some(rest) if i == 0 && !on.is_empty() => {
                    writeln!(self.w, "{on}{word}\x1b[0m{rest}")?
                }
                _ => writeln!(self.w, "{line}")?,
            }
        }
        Ok(())
    }
}

/// The caller's notes on what the counts leave out.
fn write_notes(out: &mut Prose<'_>, s: &Summary) -> io::Result<()> {
    for note in &s.notes {
        // Test ids in it come from the log.
        out.line(&format!("Note: {}", terminal(note)))?;
    }
    Ok(())
}

fn finding_word(n: u64) -> String {
    format!("{n} finding{}", plural(n))
}

fn write_related(out: &mut Prose<'_>, s: &Summary) -> io::Result<()> {
    if s.unread_mentions > 0 && s.totals.findings > 0 {
        out.line(&format!(
            "Also {} line{} with aiohttp's `Unclosed …` header in a form not read (not counted above).",
            s.unread_mentions,
            plural(s.unread_mentions)
        ))?;
    }
    let r = &s.related;
    let mut parts = Vec::new();
    for (n, what) in [
        (r.transports, "unclosed transport"),
        (r.sockets, "unclosed socket"),
        (r.tasks, "pending task destroyed"),
        (r.unawaited_closes, "ClientSession.close() never awaited"),
    ] {
        if n > 0 {
            parts.push(format!("{n} × {what}"));
        }
    }
    if parts.is_empty() {
        return Ok(());
    }
    out.line(&format!("Also seen: {}.", parts.join(", ")))?;
    for ((file, line), n) in s.unawaited.iter().take(10) {
        out.hanging(
            "  ",
            &format!(
                "{}:{line}: `session.close()` without `await` ({n}×): add `await`.",
                terminal(file)
            ),
            "    ",
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
