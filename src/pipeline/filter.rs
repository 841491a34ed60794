//! Filter: pass a log through, line for line, leaving out the blocks of dropped findings.
//!
//! Pure like [`crate::pipeline::scan`]: lines in, bytes out. Every line that is not part of a warning
//! block comes out byte for byte and in order. A line is held only while a block it may
//! belong to is undecided; the caller bounds that with [`Filter::flush`] (the flush
//! timeout), so the filter can sit in a live pipeline.

use std::collections::{BTreeMap, VecDeque};

use crate::pipeline::classify::{Label, Labels};
use crate::pipeline::group::{SiteRules, Triaged, triage};
use crate::pipeline::lines::LineInfo;
use crate::pipeline::pair::Decided;
use crate::pipeline::scan::{Out, Scanner};

/// What `filter` leaves out unless told otherwise: the noise.
pub const DEFAULT_DROP: Labels = Labels::only(Label::Noise);

/// Lines held waiting for a decision at most; past that, everything is decided at once
/// (as after the flush timeout), so memory stays bounded on input that comes fast.
pub const MAX_HELD_LINES: usize = 50_000;
/// Bytes held at most, for the same reason.
pub const MAX_HELD_BYTES: usize = 32 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Undecided,
    Keep,
    Leave,
}

#[derive(Debug)]
struct Held {
    n: u64,
    bytes: Vec<u8>,
    fate: Fate,
}

/// The filter state of one input.
#[derive(Debug)]
pub struct Filter<'g> {
    scanner: Scanner<'g>,
    rules: SiteRules,
    drop: Labels,
    annotate: bool,
    /// Lines from the first undecided one on, in order.
    held: VecDeque<Held>,
    held_bytes: usize,
    /// Annotations to write after a line: one per kept finding, after its last line.
    notes: BTreeMap<u64, Vec<String>>,
    out: Out,
    /// Findings decided so far, for `--stats` and live reports; drained by the caller.
    pub triaged: Vec<(Decided, Option<Triaged>)>,
}

impl<'g> Filter<'g> {
    /// A filter over `scanner` (which it sets to track lines).
    pub fn new(scanner: Scanner<'g>, rules: SiteRules, drop: Labels, annotate: bool) -> Self {
        Filter {
            scanner: scanner.track_lines(),
            rules,
            drop,
            annotate,
            held: VecDeque::new(),
            held_bytes: 0,
            notes: BTreeMap::new(),
            out: Out::default(),
            triaged: Vec::new(),
        }
    }

    /// The scanner, for its counts and grammar.
    pub fn scanner(&self) -> &Scanner<'g> {
        &self.scanner
    }

    /// The oldest line held back, waiting for a decision.
    pub fn oldest_held(&self) -> Option<u64> {
        self.held
            .front()
            .map(|h| h.n)
            .or_else(|| self.scanner.oldest_held())
    }

    /// Reads one physical line: `raw` is the line as it was, line ending included, and
    /// `line` what a [`crate::pipeline::lines::Splitter`] gave for it. Writes what can be written to `w`.
    pub fn push(&mut self, raw: &[u8], line: &[u8], info: LineInfo, w: &mut Vec<u8>) {
        self.scanner.push_line(line, info, &mut self.out);
        let n = self.scanner.stats.lines;
        if self.held.is_empty() && self.out.decided.is_empty() && self.out.free == [n] {
            // The common case: nothing waits and the line is no block's: no copy, no queue.
            self.out.free.clear();
            w.extend_from_slice(raw);
            return;
        }
        self.held_bytes += raw.len();
        self.held.push_back(Held {
            n,
            bytes: raw.to_vec(),
            fate: Fate::Undecided,
        });
        self.settle(w);
        if self.held.len() > MAX_HELD_LINES || self.held_bytes > MAX_HELD_BYTES {
            self.flush(w);
        }
    }

    /// Decides what stream `key` of the input holds ([`Scanner::finish_stream`]) and writes
    /// what that lets through, in order.
    pub fn flush_stream(&mut self, key: &str, w: &mut Vec<u8>) {
        self.scanner.finish_stream(key, &mut self.out);
        self.settle(w);
    }

    /// Decides everything held and writes it: after the flush timeout, or at the end.
    pub fn flush(&mut self, w: &mut Vec<u8>) {
        self.scanner.finish(&mut self.out);
        self.settle(w);
        // Anything still undecided (none should be) is passed through: never lose a line.
        for h in self.held.drain(..) {
            w.extend_from_slice(&h.bytes);
        }
        self.held_bytes = 0;
    }

    fn settle(&mut self, w: &mut Vec<u8>) {
        let first = self.held.front().map_or(0, |h| h.n);
        let mark = |held: &mut VecDeque<Held>, n: u64, fate: Fate| {
            if let Some(h) = n.checked_sub(first).and_then(|i| held.get_mut(i as usize)) {
                // Keeping wins: a line shared by a kept and a dropped finding stays.
                if h.fate != Fate::Keep {
                    h.fate = fate;
                }
            }
        };
        for n in self.out.free.drain(..) {
            mark(&mut self.held, n, Fate::Keep);
        }
        for d in self.out.decided.drain(..) {
            let t = match &d {
                Decided::Finding(f) => Some(triage(f, 0, &self.rules)),
                _ => None,
            };
            let leave = t.as_ref().is_some_and(|t| self.drop.contains(t.label));
            let fate = if leave { Fate::Leave } else { Fate::Keep };
            let mut last = 0;
            for n in d.lines() {
                mark(&mut self.held, n, fate);
                last = last.max(n);
            }
            if self.annotate
                && !leave
                && let Some(t) = &t
            {
                let note = if self.scanner.reads_json_lines() {
                    json_annotation(t)
                } else {
                    annotation(t)
                };
                self.notes.entry(last).or_default().push(note);
            }
            self.triaged.push((d, t));
        }
        while let Some(h) = self.held.front() {
            if h.fate == Fate::Undecided {
                break;
            }
            let h = self.held.pop_front().expect("front exists");
            self.held_bytes -= h.bytes.len();
            if h.fate == Fate::Keep {
                w.extend_from_slice(&h.bytes);
            }
            if let Some(notes) = self.notes.remove(&h.n) {
                for note in notes {
                    w.extend_from_slice(note.as_bytes());
                    w.push(b'\n');
                }
            }
        }
    }
}

/// The line `--annotate` adds after a kept finding.
fn annotation(t: &Triaged) -> String {
    let site = crate::pipeline::group::created_at(t.site.as_ref());
    let held = if t.connectors > 0 && t.label == Label::Leak {
        format!(
            ", {} pooled connection{}",
            t.pooled_connections,
            if t.pooled_connections == 1 { "" } else { "s" }
        )
    } else {
        String::new()
    };
    crate::pipeline::escape::terminal(&format!("[unclosed] {}{held}; {site}", t.label.name()))
        .into_owned()
}

/// [`annotation`] as a JSON record, for input that is one JSON record per line (a `jq`
/// downstream must not meet a line of plain text). serde_json escapes the log's text.
fn json_annotation(t: &Triaged) -> String {
    serde_json::json!({
        "unclosed": t.label.name(),
        "pooled_connections": t.pooled_connections,
        "site": crate::pipeline::group::created_at(t.site.as_ref()),
        "message": annotation(t),
    })
    .to_string()
}

#[cfg(test)]
mod tests;
