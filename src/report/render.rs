//! Report: what a person or a program reads. A table for people, JSON for programs (the
//! `unclosed/2` contract in the README), NDJSON as findings are decided, and a finding list.
//!
//! Only derived facts are reported: call sites, counts, labels. Object reprs, which carry
//! URLs, headers and proxy passwords (docs/formats.md §11), are never printed.

use std::io::{self, Write};

use comfy_table::{Attribute, Cell, Color, ContentArrangement, Table, presets};
use serde::Serialize;
use serde_json::{Value, json};

use crate::gate::policy::Verdict;
use crate::pipeline::classify::Label;
use crate::pipeline::escape::terminal;
use crate::pipeline::group::{Counts, Related, Site, SiteSummary, Summary, Triaged};
use crate::pipeline::scan::InputStats;
use crate::report::explain::advice;

mod fit;
use fit::Long;

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
        "the log does not show enough to tell (a block cut off or without its body)",
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

fn location(inputs: &[InputReport], input: usize, line: u64) -> String {
    let name = inputs.get(input).map_or("?", |i| i.name.as_str());
    format!("{name}:{line}")
}

/// `totals` in the JSON summary.
#[derive(Serialize)]
struct TotalsJson {
    #[serde(flatten)]
    counts: Counts,
    #[serde(flatten)]
    related: Related,
    truncated: u64,
    unread_mentions: u64,
}

/// One entry of `sites`, borrowing from the summary.
#[derive(Serialize)]
struct SiteJson<'a> {
    site: Option<String>,
    file: Option<&'a str>,
    line: Option<u32>,
    function: Option<&'a str>,
    code: Option<&'a str>,
    outer: Option<&'a str>,
    created_in: Option<String>,
    created_in_function: Option<&'a str>,
    label: &'static str,
    #[serde(flatten)]
    counts: Counts,
    first_seen: Option<&'a str>,
    last_seen: Option<&'a str>,
    first_at: String,
    fingerprint: String,
    pattern: &'static str,
    parts: &'a [String],
}

#[derive(Serialize)]
struct UnawaitedJson<'a> {
    file: &'a str,
    line: u32,
    count: u64,
}

#[derive(Serialize)]
struct InputJson<'a> {
    name: &'a str,
    grammar: &'a str,
    lines: u64,
    bytes: u64,
    cut_lines: u64,
    unread_mentions: u64,
    first_unread: Option<String>,
}

/// The `unclosed/2` JSON object, serialized straight from the summary (no value tree: a
/// report of 10,000 sites costs little more than the summary itself).
#[derive(Serialize)]
pub struct SummaryJson<'a> {
    /// `"summary"` as the last line of NDJSON output; absent in `--format json`.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    schema: &'static str,
    totals: TotalsJson,
    sites: Vec<SiteJson<'a>>,
    overflow: Option<Counts>,
    unawaited_closes: Vec<UnawaitedJson<'a>>,
    hint: Option<&'static str>,
    notes: &'a [String],
    inputs: Vec<InputJson<'a>>,
}

/// The summary as the `unclosed/2` JSON object; `ndjson` adds `"type": "summary"` first.
pub fn summary_json<'a>(
    s: &'a Summary,
    inputs: &'a [InputReport],
    ndjson: bool,
) -> SummaryJson<'a> {
    SummaryJson {
        kind: ndjson.then_some("summary"),
        schema: SCHEMA,
        totals: TotalsJson {
            counts: s.totals,
            related: s.related,
            truncated: s.truncated,
            unread_mentions: s.unread_mentions,
        },
        sites: s
            .sites()
            .into_iter()
            .map(|x| {
                let site = x.site.as_ref();
                SiteJson {
                    site: site.map(|x| x.key()),
                    file: site.map(|x| &*x.file),
                    line: site.map(|x| x.line),
                    function: site.and_then(|x| x.function.as_deref()),
                    code: site.and_then(|x| x.code.as_deref()),
                    outer: site.and_then(|x| x.outer.as_deref()),
                    created_in: site.and_then(|x| x.created_in.as_ref()).map(|v| v.key()),
                    created_in_function: site
                        .and_then(|x| x.created_in.as_ref())
                        .and_then(|v| v.function.as_deref()),
                    label: x.label(),
                    counts: x.counts,
                    first_seen: x.first_seen.as_deref(),
                    last_seen: x.last_seen.as_deref(),
                    first_at: location(inputs, x.first_at.0, x.first_at.1),
                    fingerprint: x.fingerprint(),
                    pattern: x.pattern.name(),
                    parts: &x.parts,
                }
            })
            .collect(),
        overflow: (s.overflow.findings > 0).then_some(s.overflow),
        unawaited_closes: s
            .unawaited
            .iter()
            .map(|((file, line), count)| UnawaitedJson {
                file,
                line: *line,
                count: *count,
            })
            .collect(),
        hint: s.needs_site_hint().then_some(SITE_HINT),
        notes: &s.notes,
        inputs: inputs
            .iter()
            .map(|i| InputJson {
                name: &i.name,
                grammar: &i.grammar,
                lines: i.stats.lines,
                bytes: i.stats.bytes,
                cut_lines: i.cut_lines,
                unread_mentions: i.stats.unread_mentions,
                first_unread: i.stats.first_unread.map(|n| format!("{}:{n}", i.name)),
            })
            .collect(),
    }
}

/// `verdict` in `check --format json`.
#[derive(Serialize)]
struct VerdictJson<'a> {
    failed: bool,
    reasons: &'a [String],
    failing_sites: Vec<&'a str>,
    baselined_sites: Vec<&'a str>,
    stale_baseline_entries: &'a [String],
    new_pooled_connections: u64,
}

/// `check --format json`: the summary with the verdict.
#[derive(Serialize)]
pub struct CheckJson<'a> {
    #[serde(flatten)]
    summary: SummaryJson<'a>,
    verdict: VerdictJson<'a>,
}

/// The summary and the policy's verdict as one JSON object.
pub fn check_json<'a>(
    s: &'a Summary,
    inputs: &'a [InputReport],
    v: &'a Verdict<'a>,
) -> CheckJson<'a> {
    CheckJson {
        summary: summary_json(s, inputs, false),
        verdict: VerdictJson {
            failed: v.failed(),
            reasons: &v.reasons,
            failing_sites: v
                .sites
                .iter()
                .filter(|x| x.fails)
                .map(|x| x.fingerprint.as_str())
                .collect(),
            baselined_sites: v
                .sites
                .iter()
                .filter(|x| x.baselined)
                .map(|x| x.fingerprint.as_str())
                .collect(),
            stale_baseline_entries: &v.stale,
            new_pooled_connections: v.new_pooled,
        },
    }
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

/// One finding as an NDJSON object (`{"type":"finding",…}`).
pub fn finding_json(t: &Triaged, inputs: &[InputReport]) -> Value {
    let site = t.site.as_ref();
    json!({
        "type": "finding",
        "label": t.label.name(),
        "sessions": t.sessions,
        "connectors": t.connectors,
        "responses": t.responses,
        "connections": t.connections,
        "pooled_connections": t.pooled_connections,
        "truncated": t.truncated,
        "site": site.map(|x| x.key()),
        "file": site.map(|x| &x.file),
        "line": site.map(|x| x.line),
        "function": site.and_then(|x| x.function.as_ref()),
        "created_in": site.and_then(|x| x.created_in.as_ref()).map(|v| v.key()),
        "created_in_function": site
            .and_then(|x| x.created_in.as_ref())
            .and_then(|v| v.function.as_ref()),
        "input": inputs.get(t.input).map(|i| &i.name),
        "input_line": t.line,
        "ts": t.ts,
    })
}

/// Writes one JSON value on its own line.
pub fn write_json_line(w: &mut dyn Write, v: &Value) -> io::Result<()> {
    serde_json::to_writer(&mut *w, v)?;
    w.write_all(b"\n")
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

/// The table's columns, in the order shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Column {
    Site,
    Label,
    Findings,
    Sessions,
    Connectors,
    Responses,
    Connections,
    Pooled,
    FirstSeen,
    LastSeen,
}

impl Column {
    fn header(self) -> &'static str {
        match self {
            Column::Site => "Call site",
            Column::Label => "Label",
            Column::Findings => "Findings",
            Column::Sessions => "Sessions",
            Column::Connectors => "Connectors",
            Column::Responses => "Responses",
            Column::Connections => "Connections",
            Column::Pooled => "Pooled",
            Column::FirstSeen => "First seen",
            Column::LastSeen => "Last seen",
        }
    }

    /// When a narrow terminal leaves it out: first the timestamps (1), then the counts of
    /// sessions and connectors (2), last those of unread responses and unreleased connections
    /// (3), which are shown only when there are some and are what explains a leak that pooled
    /// nothing. JSON has them all. Never (0): the site, its label, its findings and the
    /// sockets held.
    fn dropped_at(self) -> u8 {
        match self {
            Column::FirstSeen | Column::LastSeen => 1,
            Column::Sessions | Column::Connectors => 2,
            Column::Responses | Column::Connections => 3,
            Column::Site | Column::Label | Column::Findings | Column::Pooled => 0,
        }
    }

    fn value(self, x: &SiteSummary) -> String {
        let c = &x.counts;
        match self {
            Column::Site => String::new(),
            Column::Label => x.label().to_string(),
            Column::Findings => c.findings.to_string(),
            Column::Sessions => c.sessions.to_string(),
            Column::Connectors => c.connectors.to_string(),
            Column::Responses => c.responses.to_string(),
            Column::Connections => c.connections.to_string(),
            Column::Pooled => c.pooled_connections.to_string(),
            Column::FirstSeen => terminal(x.first_seen.as_deref().unwrap_or("-")).into_owned(),
            Column::LastSeen => terminal(x.last_seen.as_deref().unwrap_or("-")).into_owned(),
        }
    }
}

/// A call site given fewer columns than this makes the table leave columns out.
const SITE_WANT: usize = 40;

/// The narrowest call-site column: with less, sites are written as lines, not as a table.
const SITE_MIN: usize = 24;

/// A call site's parts, escaped (each on its own: the line breaks between them are ours).
enum SiteText {
    Site {
        location: String,
        function: Option<String>,
        via: Option<String>,
        code: Option<String>,
    },
    None,
}

impl SiteText {
    fn of(site: Option<&Site>) -> SiteText {
        match site {
            Some(site) => SiteText::Site {
                location: terminal(&format!("{}:{}", site.file, site.line)).into_owned(),
                function: site.function.as_deref().map(|f| terminal(f).into_owned()),
                via: site
                    .created_in
                    .as_ref()
                    .map(|v| terminal(&crate::pipeline::python::short_path(&v.key())).into_owned()),
                code: site.code.as_deref().map(|c| terminal(c).into_owned()),
            },
            None => SiteText::None,
        }
    }

    /// `path:line in function — via library:line`, and the code on the next line.
    fn plain(&self) -> String {
        match self {
            SiteText::Site {
                location,
                function,
                via,
                code,
            } => {
                let mut text = location.clone();
                if let Some(f) = function {
                    text.push_str(&format!(" in {f}"));
                }
                if let Some(v) = via {
                    text.push_str(&format!(" — via {v}"));
                }
                if let Some(c) = code {
                    text.push_str(&format!("\n  {c}"));
                }
                text
            }
            SiteText::None => "(no call site in the log)".to_string(),
        }
    }

    fn natural(&self) -> usize {
        self.plain().lines().map(fit::width).max().unwrap_or(0)
    }

    /// In lines of at most `max` columns: as [`SiteText::plain`] when it fits; else the path
    /// shortened from the left, the function and the library's line beside it or on lines of
    /// their own, the code wrapped.
    fn fitted(&self, max: usize) -> Vec<String> {
        if self.natural() <= max {
            return self.plain().lines().map(str::to_string).collect();
        }
        let SiteText::Site {
            location,
            function,
            via,
            code,
        } = self
        else {
            return fit::wrap(&self.plain(), max, "", "", Long::CutLeft);
        };
        let mut lines = vec![fit::cut_left(location, max)];
        let mut add = |lead: &str, body: &str, cut: fn(&str, usize) -> String| {
            let last = lines.last_mut().expect("the location is there");
            if fit::width(last) + 1 + fit::width(lead) + fit::width(body) <= max {
                last.push_str(&format!(" {lead}{body}"));
            } else if fit::width(lead) < max {
                lines.push(format!("{lead}{}", cut(body, max - fit::width(lead))));
            } else {
                lines.push(cut(body, max));
            }
        };
        if let Some(f) = function {
            add("in ", f, fit::cut_right);
        }
        if let Some(v) = via {
            add("— via ", v, fit::cut_left);
        }
        if let Some(c) = code {
            if fit::width(c) + 2 <= max {
                lines.push(format!("  {c}"));
            } else {
                lines.extend(fit::wrap(c, max, "  ", "    ", Long::Break));
            }
        }
        lines
    }
}

/// Which columns a terminal `max` columns wide shows, and the call site's width: the first
/// step of [`Column::dropped_at`] that leaves the site [`SITE_WANT`] columns (or all it
/// needs), except that the last step is taken only when the site would get less than
/// [`SITE_MIN`]; `None` when even with all of them dropped it would.
fn layout(
    all: &[Column],
    width_of: impl Fn(Column) -> usize,
    site: usize,
    max: usize,
) -> Option<(Vec<Column>, usize)> {
    for step in 0..=3 {
        let shown: Vec<Column> = all
            .iter()
            .copied()
            .filter(|c| c.dropped_at() == 0 || c.dropped_at() > step)
            .collect();
        // Each column takes its content, a space either side and a border: `│ a ┆ b │`.
        let fixed: usize = shown
            .iter()
            .filter(|c| **c != Column::Site)
            .map(|c| width_of(*c))
            .sum::<usize>()
            + 3 * shown.len()
            + 1;
        let room = max.saturating_sub(fixed);
        let enough = site.min(if step < 2 { SITE_WANT } else { SITE_MIN });
        if room >= enough {
            return Some((shown, site.min(room)));
        }
    }
    None
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

/// The human summary: one row per call site, totals, and what the labels mean. With a
/// terminal's `width` (`None`: not a terminal, nothing is fitted) every line fits in it: a
/// call site's path is shortened from the left (`…/pkg/client.py:42`), headers and numbers
/// are never broken, columns are left out in the order of `Column::dropped_at` (and the README) (a line
/// says which), and where no table fits each site is written as lines. Prose wraps at spaces.
pub fn write_table(
    w: &mut dyn Write,
    s: &Summary,
    inputs: &[InputReport],
    color: bool,
    width: Option<u16>,
) -> io::Result<()> {
    let width = width.filter(|w| *w > 0).map(usize::from);
    let mut out = Prose { w, width };
    let t = &s.totals;
    let lines: u64 = inputs.iter().map(|i| i.stats.lines).sum();
    let names = inputs
        .iter()
        .map(|i| format!("{} ({})", i.name, i.grammar))
        .collect::<Vec<_>>()
        .join(", ");
    if t.findings == 0 {
        if s.unread_mentions > 0 {
            out.line(&format!(
                "No block read in {lines} line{} of {}, but {} line{} aiohttp's `Unclosed …` header in a form not read: see the warning above.",
                plural(lines),
                terminal(&names),
                s.unread_mentions,
                if s.unread_mentions == 1 {
                    " carries"
                } else {
                    "s carry"
                }
            ))?;
        } else {
            out.line(&format!(
                "No aiohttp garbage-collection warnings in {lines} line{} of {}.",
                plural(lines),
                terminal(&names)
            ))?;
        }
        write_related(&mut out, s)?;
        return write_notes(&mut out, s);
    }
    out.line(&format!(
        "{} in {lines} line{} of {}",
        finding_word(t.findings),
        plural(lines),
        terminal(&names)
    ))?;
    let sites = s.sites();
    let hidden = sites.len().saturating_sub(TABLE_ROWS);
    let rows: Vec<(&SiteSummary, SiteText)> = sites
        .into_iter()
        .take(TABLE_ROWS)
        .map(|x| (x, SiteText::of(x.site.as_ref())))
        .collect();
    let mut all = vec![
        Column::Site,
        Column::Label,
        Column::Findings,
        Column::Sessions,
        Column::Connectors,
    ];
    if t.responses > 0 {
        all.push(Column::Responses);
    }
    if t.connections > 0 {
        all.push(Column::Connections);
    }
    all.push(Column::Pooled);
    if rows.iter().any(|(x, _)| x.first_seen.is_some()) {
        all.extend([Column::FirstSeen, Column::LastSeen]);
    }
    let width_of = |c: Column| {
        rows.iter()
            .map(|(x, _)| fit::width(&c.value(x)))
            .chain([fit::width(c.header())])
            .max()
            .unwrap_or(0)
    };
    let site_natural = rows
        .iter()
        .map(|(_, site)| site.natural())
        .chain([fit::width(Column::Site.header())])
        .max()
        .unwrap_or(0);
    let fitted = match width {
        None => Some((all.clone(), None)),
        Some(max) => layout(&all, width_of, site_natural, max).map(|(c, w)| (c, Some(w))),
    };
    let shown = match fitted {
        Some((shown, site_width)) => {
            let mut table = Table::new();
            table
                .load_style(presets::UTF8_FULL_CONDENSED)
                .force_no_tty()
                .set_content_arrangement(ContentArrangement::Disabled);
            if color {
                table.enforce_styling();
            }
            table.set_header(shown.iter().map(|c| c.header()));
            for (x, site) in &rows {
                let row = shown.iter().map(|c| match c {
                    Column::Site => Cell::new(match site_width {
                        Some(max) => site.fitted(max).join("\n"),
                        None => site.plain(),
                    }),
                    Column::Label => paint(x.label(), label_color(x.label()), color),
                    _ => Cell::new(c.value(x)),
                });
                table.add_row(row.collect::<Vec<_>>());
            }
            writeln!(out.w, "{table}")?;
            shown
        }
        None => {
            let max = width.unwrap_or(usize::MAX);
            for (x, site) in &rows {
                write_site_lines(&mut out, x, site, color, max)?;
            }
            vec![
                Column::Site,
                Column::Label,
                Column::Findings,
                Column::Pooled,
            ]
        }
    };
    let left_out: Vec<&str> = all
        .iter()
        .filter(|c| !shown.contains(c))
        .map(|c| c.header())
        .collect();
    if let (Some(max), false) = (width, left_out.is_empty()) {
        out.line(&format!(
            "Left out to fit {max} columns: {} (--format json has every column).",
            left_out.join(", ")
        ))?;
    }
    if hidden > 0 {
        out.line(&format!(
            "…and {hidden} more call sites, less severe (all of them: --format json or --format list)."
        ))?;
    }
    if s.overflow.findings > 0 {
        out.line(&format!(
            "…and {} at further sites not listed (over {} sites).",
            finding_word(s.overflow.findings),
            crate::pipeline::group::MAX_SITES
        ))?;
    }
    out.line(&format!(
        "Total: {} leak{} holding {} pooled connection{}, {} noise, {} unknown; {} session{}, {} connector{}, {} unread response{}, {} unreleased connection{}.",
        t.leak,
        plural(t.leak),
        t.pooled_connections,
        plural(t.pooled_connections),
        t.noise,
        t.unknown,
        t.sessions,
        plural(t.sessions),
        t.connectors,
        plural(t.connectors),
        t.responses,
        plural(t.responses),
        t.connections,
        plural(t.connections),
    ))?;
    if s.truncated > 0 {
        out.line(&format!(
            "{} cut off in the log: counted as far as they go.",
            finding_word(s.truncated)
        ))?;
    }
    write_related(&mut out, s)?;
    out.line("Labels:")?;
    for (label, meaning) in LABELS {
        let first = format!("  {label:<8} ");
        if width.is_some_and(|max| fit::width(&first) + 8 > max) {
            // Too narrow for the aligned form: the label leads its own text.
            out.line(&format!("{label}: {meaning}"))?;
        } else {
            out.hanging(&first, meaning, &" ".repeat(first.len()))?;
        }
    }
    if s.all_frames_skipped > 0 {
        out.line(&format!(
            "Note: {} had creation tracebacks in which every frame is aiohttp, asyncio, the standard library or matched by --skip-frames.",
            finding_word(s.all_frames_skipped)
        ))?;
    }
    if s.needs_site_hint() {
        let hint = if s.with_traceback == 0 {
            SITE_HINT.to_string()
        } else {
            format!(
                "{} of {} findings have no call site. {}",
                t.findings - s.with_traceback,
                t.findings,
                &SITE_HINT[SITE_HINT.find("Run").unwrap_or(0)..]
            )
        };
        out.line(&format!("Hint: {hint}"))?;
    }
    write_notes(&mut out, s)
}

/// One site as lines, for a terminal too narrow for the table: its label and counts, then the
/// call site indented below.
fn write_site_lines(
    out: &mut Prose<'_>,
    x: &SiteSummary,
    site: &SiteText,
    color: bool,
    max: usize,
) -> io::Result<()> {
    let c = &x.counts;
    let label = x.label();
    let head = format!(
        "{label}: {}, {} pooled connection{}",
        finding_word(c.findings),
        c.pooled_connections,
        plural(c.pooled_connections)
    );
    let on = match (color, label) {
        (false, _) => "",
        (true, "leak") => "\x1b[1;31m",
        (true, "mixed") => "\x1b[1;35m",
        (true, "unknown") => "\x1b[1;33m",
        (true, _) => "\x1b[1;32m",
    };
    out.painted(&head, label, on)?;
    let indent = if max >= 2 + 8 { "  " } else { "" };
    for line in site.fitted(max - indent.len()) {
        writeln!(out.w, "{indent}{line}")?;
    }
    Ok(())
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
