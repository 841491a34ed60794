//! Report: what a person or a program reads. A table for people, JSON for programs (the
//! `unclosed/2` contract in the README), NDJSON as findings are decided, and a finding list.
//!
//! Only derived facts are reported: call sites, counts, labels. Object reprs, which carry
//! URLs, headers and proxy passwords (docs/formats.md §11), are never printed.

use std::io::{self, Write};

use comfy_table::{
    Attribute, Cell, Color, ColumnConstraint, ContentArrangement, Table, Width, presets,
};
use serde::Serialize;
use serde_json::{Value, json};

use crate::gate::policy::Verdict;
use crate::pipeline::classify::Label;
use crate::pipeline::escape::terminal;
use crate::pipeline::group::{Counts, Related, Summary, Triaged};
use crate::pipeline::scan::InputStats;
use crate::report::explain::advice;

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

/// The verdict under the table: what fails, why, and the fix for each failing site.
pub fn write_verdict(w: &mut dyn Write, v: &Verdict<'_>, color: bool) -> io::Result<()> {
    let (red, green, off) = if color {
        ("\x1b[1;31m", "\x1b[1;32m", "\x1b[0m")
    } else {
        ("", "", "")
    };
    if !v.failed() {
        let base = v.sites.iter().filter(|x| x.baselined).count();
        let note = if base > 0 {
            format!(" ({base} call sites accepted by the baseline)")
        } else {
            String::new()
        };
        writeln!(w, "{green}PASSED{off}: nothing breaks the policy{note}.")?;
    } else {
        writeln!(w, "{red}FAILED{off}: {}.", v.reasons.join("; "))?;
        for x in v.sites.iter().filter(|x| x.fails).take(20) {
            writeln!(
                w,
                "  ✗ {}",
                terminal(&crate::gate::policy::describe(x.site))
            )?;
            if !x.site.parts.is_empty() {
                writeln!(w, "    seen in: {}", terminal(&x.site.parts.join(", ")))?;
            }
            writeln!(w, "    {}", advice(x.site.pattern))?;
        }
    }
    if !v.stale.is_empty() {
        writeln!(
            w,
            "{} baseline entr{} no longer occur ({}): `--write-baseline` drops them.",
            v.stale.len(),
            if v.stale.len() == 1 { "y" } else { "ies" },
            v.stale
                .iter()
                .take(10)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        )?;
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

/// The human summary: one row per call site, totals, and what the labels mean. On a
/// terminal the table wraps to its width.
pub fn write_table(
    w: &mut dyn Write,
    s: &Summary,
    inputs: &[InputReport],
    color: bool,
    terminal_width: bool,
) -> io::Result<()> {
    let t = &s.totals;
    let lines: u64 = inputs.iter().map(|i| i.stats.lines).sum();
    let names = inputs
        .iter()
        .map(|i| format!("{} ({})", i.name, i.grammar))
        .collect::<Vec<_>>()
        .join(", ");
    if t.findings == 0 {
        if s.unread_mentions > 0 {
            writeln!(
                w,
                "No block read in {lines} line{} of {}, but {} line{} aiohttp's `Unclosed …` header in a form not read: see the warning above.",
                plural(lines),
                terminal(&names),
                s.unread_mentions,
                if s.unread_mentions == 1 {
                    " carries"
                } else {
                    "s carry"
                }
            )?;
        } else {
            writeln!(
                w,
                "No aiohttp garbage-collection warnings in {lines} line{} of {}.",
                plural(lines),
                terminal(&names)
            )?;
        }
        return write_related(w, s);
    }
    writeln!(
        w,
        "{} in {lines} line{} of {}",
        finding_word(t.findings),
        plural(lines),
        terminal(&names)
    )?;
    let sites = s.sites();
    let mut table = Table::new();
    table.load_style(presets::UTF8_FULL_CONDENSED);
    if terminal_width {
        table.set_content_arrangement(ContentArrangement::Dynamic);
    } else {
        table
            .force_no_tty()
            .set_content_arrangement(ContentArrangement::Disabled);
    }
    if color {
        table.enforce_styling();
    }
    // On a narrow terminal the call site keeps the room and the timestamps go (JSON has them).
    let narrow = table.width().is_some_and(|w| w < 150);
    let with_times = !narrow && sites.iter().any(|x| x.first_seen.is_some());
    let extra = [
        (t.responses > 0, "Responses"),
        (t.connections > 0, "Connections"),
    ];
    let mut header = vec!["Call site", "Label", "Findings", "Sessions", "Connectors"];
    header.extend(extra.iter().filter(|(on, _)| *on).map(|(_, h)| *h));
    header.push("Pooled");
    if with_times {
        header.extend(["First seen", "Last seen"]);
    }
    table.set_header(header);
    if terminal_width && let Some(site_column) = table.column_mut(0) {
        // The call site is what the table is for: numbers wrap before it does.
        site_column.set_constraint(ColumnConstraint::LowerBoundary(Width::Percentage(40)));
    }
    let hidden = sites.len().saturating_sub(TABLE_ROWS);
    for x in sites.into_iter().take(TABLE_ROWS) {
        let c = &x.counts;
        let site = match &x.site {
            Some(site) => {
                // Escape each part: the newline between them is ours, not the log's.
                let mut text = terminal(&format!("{}:{}", site.file, site.line)).into_owned();
                if let Some(f) = &site.function {
                    text.push_str(&format!(" in {}", terminal(f)));
                }
                if let Some(via) = &site.created_in {
                    text.push_str(&format!(
                        " — via {}",
                        terminal(&crate::pipeline::python::short_path(&via.key()))
                    ));
                }
                if let Some(code) = &site.code {
                    text.push_str(&format!("\n  {}", terminal(code)));
                }
                text
            }
            None => "(no call site in the log)".to_string(),
        };
        let mut row = vec![
            Cell::new(site),
            paint(x.label(), label_color(x.label()), color),
        ];
        for n in [c.findings, c.sessions, c.connectors] {
            row.push(Cell::new(n));
        }
        if t.responses > 0 {
            row.push(Cell::new(c.responses));
        }
        if t.connections > 0 {
            row.push(Cell::new(c.connections));
        }
        row.push(Cell::new(c.pooled_connections));
        if with_times {
            for ts in [&x.first_seen, &x.last_seen] {
                row.push(Cell::new(terminal(ts.as_deref().unwrap_or("-"))));
            }
        }
        table.add_row(row);
    }
    writeln!(w, "{table}")?;
    if hidden > 0 {
        writeln!(
            w,
            "…and {hidden} more call sites, less severe (all of them: --format json or --format list)."
        )?;
    }
    if s.overflow.findings > 0 {
        writeln!(
            w,
            "…and {} at further sites not listed (over {} sites).",
            finding_word(s.overflow.findings),
            crate::pipeline::group::MAX_SITES
        )?;
    }
    writeln!(
        w,
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
    )?;
    if s.truncated > 0 {
        writeln!(
            w,
            "{} cut off in the log: counted as far as they go.",
            finding_word(s.truncated)
        )?;
    }
    write_related(w, s)?;
    writeln!(w, "Labels:")?;
    for (label, meaning) in LABELS {
        writeln!(w, "  {label:<8} {meaning}")?;
    }
    if s.all_frames_skipped > 0 {
        writeln!(
            w,
            "Note: {} had creation tracebacks in which every frame is aiohttp, asyncio, the standard library or matched by --skip-frames.",
            finding_word(s.all_frames_skipped)
        )?;
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
        writeln!(w, "Hint: {hint}")?;
    }
    Ok(())
}

fn finding_word(n: u64) -> String {
    format!("{n} finding{}", plural(n))
}

fn write_related(w: &mut dyn Write, s: &Summary) -> io::Result<()> {
    if s.unread_mentions > 0 && s.totals.findings > 0 {
        writeln!(
            w,
            "Also {} line{} with aiohttp's `Unclosed …` header in a form not read (not counted above).",
            s.unread_mentions,
            plural(s.unread_mentions)
        )?;
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
    writeln!(w, "Also seen: {}.", parts.join(", "))?;
    for ((file, line), n) in s.unawaited.iter().take(10) {
        writeln!(
            w,
            "  {}:{line}: `session.close()` without `await` ({n}×): add `await`.",
            terminal(file)
        )?;
    }
    Ok(())
}
