//! The human table, fitted to a terminal's width when there is one.

use std::io::{self, Write};

use comfy_table::{Cell, ContentArrangement, Table, presets};

use super::fit::{self, Long};
use super::*;
use crate::pipeline::group::{Site, SiteSummary};

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
        if inputs.is_empty() {
            // `tail` of a glob that never matched a file.
            out.line("No aiohttp garbage-collection warnings: no file was read.")?;
        } else if s.unread_mentions > 0 {
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
    if s.parted > 0 {
        out.line(&format!(
            "{} session{} parted by other lines or blocks from a connector that may be {} own: \
             unknown (asyncio debug mode's creation tracebacks would tell).",
            s.parted,
            plural(s.parted),
            if s.parted == 1 { "its" } else { "their" },
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
