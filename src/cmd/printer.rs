//! Printing findings for a person or a pipe: a line per finding as it comes (list, NDJSON),
//! the final report (table, JSON, NDJSON summary), and `tail`'s status line below them.

use std::io::{self, Write};
use std::time::{Duration, Instant};

use crate::cmd::cli::Format;
use crate::cmd::tally::{Show, Tally};
use crate::pipeline::group::Triaged;
use crate::pipeline::scan::{Out, Scanner};
use crate::report::audit::{AuditReport, sites};
use crate::report::{self, InputReport};

/// How often the live status line is redrawn at most.
const STATUS_EVERY: Duration = Duration::from_millis(500);

/// Writes one command's findings in one format.
pub struct Printer<'w> {
    format: Format,
    out: &'w mut dyn Write,
    color: bool,
    /// The width of the terminal the output goes to: the table and the status line fit it.
    width: Option<u16>,
    /// A status line is kept below the findings: when it was last drawn, and what it said.
    status: Option<(Option<Instant>, String)>,
    status_shown: bool,
    dirty: bool,
    /// `--audit`: the constructions whose verdicts the final report shows beside its sites.
    audit: Option<AuditReport>,
}

impl<'w> Printer<'w> {
    /// A printer writing `format` to `out`.
    pub fn new(format: Format, out: &'w mut dyn Write, color: bool, width: Option<u16>) -> Self {
        Printer {
            format,
            out,
            color,
            width,
            status: None,
            status_shown: false,
            dirty: false,
            audit: None,
        }
    }

    /// Keeps a live status line below the findings ([`Show::status`]): for a person at a
    /// terminal, never in a file or a pipe.
    pub fn keep_status_line(&mut self) {
        self.status = Some((None, String::new()));
    }

    /// Draws the status line in place (no newline, so the next draw replaces it).
    fn draw_status(&mut self, text: &str) -> io::Result<()> {
        // Fitted after escaping (an escape is wider than what it replaces), so that it never
        // wraps: a wrapped line is redrawn on its last row only, leaving stale copies.
        let text = crate::pipeline::escape::terminal(text);
        let text = match self.width {
            Some(w) => report::fit_status(&text, usize::from(w)),
            None => text.into_owned(),
        };
        write!(self.out, "\r\x1b[2K{text}")?;
        self.status_shown = true;
        self.dirty = false;
        self.out.flush()
    }

    /// Removes the status line.
    pub fn clear_status(&mut self) -> io::Result<()> {
        if self.status_shown {
            write!(self.out, "\r\x1b[2K")?;
            self.status_shown = false;
        }
        self.out.flush()
    }

    /// Shows, in the final report, each site's audit verdict from these constructions.
    pub fn set_audit(&mut self, audit: AuditReport) {
        self.audit = Some(audit);
    }

    /// Changes the format of what comes next (the final report of `tail`).
    pub fn set_format(&mut self, format: Format) {
        self.format = format;
    }

    /// The final report: the table, the JSON object, or the NDJSON summary line, in place of
    /// the status line.
    pub fn finish(&mut self, tally: &Tally) -> io::Result<()> {
        if self.status_shown {
            self.clear_status()?;
        }
        let (summary, inputs) = (&tally.summary, &tally.inputs[..]);
        match self.format {
            Format::Json | Format::Ndjson => {
                let ndjson = self.format == Format::Ndjson;
                let json = report::summary_json(summary, inputs, ndjson);
                match &self.audit {
                    None if ndjson => serde_json::to_writer(&mut *self.out, &json)?,
                    None => serde_json::to_writer_pretty(&mut *self.out, &json)?,
                    Some(audit) => {
                        let mut v = serde_json::to_value(json)?;
                        sites::add_to_json(&mut v, audit, summary);
                        if ndjson {
                            serde_json::to_writer(&mut *self.out, &v)?;
                        } else {
                            serde_json::to_writer_pretty(&mut *self.out, &v)?;
                        }
                    }
                }
                writeln!(self.out)?;
            }
            Format::Table | Format::List => {
                if self.format == Format::List && summary.totals.findings > 0 {
                    writeln!(self.out)?;
                }
                report::write_table(self.out, summary, inputs, self.color, self.width)?;
                if let Some(audit) = &self.audit {
                    sites::write_text(self.out, audit, summary)?;
                }
            }
        }
        self.out.flush()
    }
}

impl Show for Printer<'_> {
    fn finding(&mut self, t: &Triaged, inputs: &[InputReport]) -> io::Result<()> {
        match self.format {
            Format::Ndjson => {
                report::write_json_line(self.out, &report::finding_json(t, inputs))?;
                self.out.flush()
            }
            Format::List => {
                if self.status_shown {
                    write!(self.out, "\r\x1b[2K")?;
                    self.status_shown = false;
                }
                report::write_list_line(self.out, t, inputs, self.color)?;
                self.dirty = true;
                self.out.flush()
            }
            Format::Table | Format::Json => Ok(()),
        }
    }

    fn shows_each(&self) -> bool {
        matches!(self.format, Format::Ndjson | Format::List)
    }

    fn status(&mut self, text: &dyn Fn() -> String) -> io::Result<()> {
        let Some((drawn, shown)) = &mut self.status else {
            return Ok(());
        };
        if drawn.is_some_and(|d| d.elapsed() < STATUS_EVERY) {
            return Ok(());
        }
        let text = text();
        if text == *shown && !self.dirty {
            return Ok(());
        }
        *drawn = Some(Instant::now());
        *shown = text.clone();
        self.draw_status(&text)
    }
}

/// A tally and the printer its findings are shown on, for a command that reads several
/// inputs live (`tail`).
pub struct Sink<'w> {
    /// What was added up.
    pub tally: Tally,
    /// Where findings are shown.
    pub printer: Printer<'w>,
}

impl Sink<'_> {
    /// Takes what a scanner decided for input `i`, after refreshing the input's counts.
    pub fn take(&mut self, out: &mut Out, i: usize, scanner: &Scanner<'_>) -> io::Result<()> {
        self.tally.update_input(i, scanner);
        self.tally.take(out, i, &mut self.printer)
    }
}
