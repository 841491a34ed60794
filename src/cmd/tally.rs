//! The one triage loop every command shares: what a scanner decided is triaged, shown as it
//! comes (when the command shows findings live) and added up per input.

use std::io;

use crate::metrics::Observer;
use crate::pipeline::group::{SiteRules, Summary, Triaged, triage};
use crate::pipeline::pair::Decided;
use crate::pipeline::scan::{InputStats, Out, Scanner};
use crate::report::InputReport;

/// Where findings are shown as they are decided ([`crate::cmd::printer::Printer`]); `()`
/// shows nothing (`check`, `run`, `filter --stats`: only the totals are reported).
pub trait Show {
    /// Shows one finding; `inputs` names the input it came from.
    fn finding(&mut self, t: &Triaged, inputs: &[InputReport]) -> io::Result<()>;

    /// Redraws the live status line with `text()`, when there is one and it is due.
    fn status(&mut self, _text: &dyn Fn() -> String) -> io::Result<()> {
        Ok(())
    }

    /// Whether each finding is shown as it is decided, in order (a list, NDJSON): a file
    /// is then read in order rather than in parts.
    fn shows_each(&self) -> bool {
        true
    }
}

impl Show for () {
    fn finding(&mut self, _: &Triaged, _: &[InputReport]) -> io::Result<()> {
        Ok(())
    }

    fn shows_each(&self) -> bool {
        false
    }
}

/// Everything added up, and the inputs it came from.
pub struct Tally {
    rules: SiteRules,
    /// The totals and call sites.
    pub summary: Summary,
    /// The inputs, for names in reports.
    pub inputs: Vec<InputReport>,
    /// Findings so far (for live status lines).
    pub findings: u64,
    /// Fed what is read and decided, when metrics are served (`--metrics`).
    pub metrics: Option<Observer>,
}

impl Tally {
    /// An empty tally, triaging with `rules`.
    pub fn new(rules: SiteRules) -> Tally {
        Tally {
            rules,
            summary: Summary::default(),
            inputs: Vec::new(),
            findings: 0,
            metrics: None,
        }
    }

    /// Adds an input and returns its index.
    pub fn add_input(&mut self, name: String) -> usize {
        self.inputs.push(InputReport {
            name,
            grammar: "bare".into(),
            stats: Default::default(),
            cut_lines: 0,
        });
        self.inputs.len() - 1
    }

    /// Renames input `i` (a followed file that was rotated away keeps its findings under the
    /// name it has now).
    pub fn rename_input(&mut self, i: usize, name: String) {
        self.inputs[i].name = name;
    }

    /// Refreshes an input's counts from its scanner.
    pub fn update_input(&mut self, i: usize, s: &Scanner<'_>) {
        self.set_input(i, s.grammar(), s.stats.clone(), s.cut_lines());
    }

    /// Sets what is known of input `i`: its grammar, counts and cut lines.
    pub fn set_input(&mut self, i: usize, grammar: &str, stats: InputStats, cut_lines: u64) {
        let r = &mut self.inputs[i];
        if r.grammar != grammar {
            r.grammar = grammar.to_string();
        }
        r.stats = stats;
        r.cut_lines = cut_lines;
        self.summary.unread_mentions = self.inputs.iter().map(|r| r.stats.unread_mentions).sum();
        if let Some(m) = &mut self.metrics {
            m.input(i, &self.inputs[i].name, &self.inputs[i].stats);
        }
    }

    /// Moves the input lines it names `n` lines on (a part of a file read with its lines
    /// numbered from its start).
    pub fn shift_lines(&mut self, n: u64) {
        self.summary.shift_lines(n);
    }

    /// Adds what `later` found (its inputs aside) after what this tally found.
    pub fn merge(&mut self, later: Tally) {
        self.summary.merge(later.summary);
        self.findings += later.findings;
    }

    /// Takes what a scanner decided for input `i`: each finding triaged, shown, added up.
    pub fn take(&mut self, out: &mut Out, i: usize, show: &mut dyn Show) -> io::Result<()> {
        out.free.clear();
        for d in out.decided.drain(..) {
            let t = match &d {
                Decided::Finding(f) => Some(triage(f, i, &self.rules)),
                _ => None,
            };
            self.add(&d, t, show)?;
        }
        Ok(())
    }

    /// Takes one decided item, triaged already when it is a finding (`filter` triages to
    /// decide what it drops).
    pub fn add(&mut self, d: &Decided, t: Option<Triaged>, show: &mut dyn Show) -> io::Result<()> {
        if let Some(t) = &t {
            self.findings += 1;
            show.finding(t, &self.inputs)?;
        }
        self.summary.add(d, t.as_ref());
        if let Some(m) = &mut self.metrics {
            // Related objects count for the input last updated (callers update it first).
            let inputs = &self.inputs;
            m.decided(d, t.as_ref(), &|i| {
                inputs.get(i).map_or_else(String::new, |r| r.name.clone())
            });
        }
        Ok(())
    }

    /// The live one-line summary: what is being read (`reading <stdin>`, `following 3
    /// files`), then the lines and labels so far.
    pub fn status_text(&self, what: &str) -> String {
        let t = &self.summary.totals;
        format!(
            "{what} · {} lines · {} leak ({} pooled), {} noise, {} unknown · Ctrl-C for the summary",
            self.lines(),
            t.leak,
            t.pooled_connections,
            t.noise,
            t.unknown
        )
    }

    /// Lines read in all inputs.
    pub fn lines(&self) -> u64 {
        self.inputs.iter().map(|i| i.stats.lines).sum()
    }
}
