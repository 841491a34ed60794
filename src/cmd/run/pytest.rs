//! pytest's output, read for which test printed what and for what pytest showed only in its
//! warnings summary.
//!
//! `run` names a finding's test only on evidence: the finding's first line lies where pytest
//! prints a test's own output. Lines as pytest 9 prints them (tests/programs/pytest_suite):
//! - `-v` progress: `test_a.py::test_x ` when a test starts, its outcome (`PASSED  [ 25%]`)
//!   when its call is reported, on the same line or, when the test printed in between (`-s`,
//!   live logs), on a later one. A `---- live log teardown ----` section after the outcome is
//!   still that test's.
//! - After `=== FAILURES ===`, `=== ERRORS ===` or `=== PASSES ===` (`-rA`): a section per test,
//!   `____ test_x ____` (`TestC.test_x`, `test_x[1]`, `ERROR at setup of test_x`), holding what
//!   pytest captured while it ran (`Captured log call`, …).
//! - Everything else is no test's: the session's header and summaries, and what is printed
//!   after the last test (objects pytest kept alive, collected at exit).
//!
//! A section names a test by its name in its module; progress lines, the warnings summary and
//! the short summary by its id (`test_a.py::test_x`). At the end each name is given as the id
//! it has, when exactly one id fits, so a test is named once.
//!
//! pytest's warnings summary repeats each warning under the ids of the tests it was raised in,
//! or folds one text raised in ten tests or more into `test_a.py: 12 warnings`. The pipeline
//! does not count those entries (they carry neither pool nor traceback); what they list beyond
//! the objects read under the same test (a passing test's records are captured and never
//! shown) is said in a note.
//!
//! With live logs (`--log-cli-level`), a failed test's captured log repeats what was shown
//! live: a finding there made only of objects already read live under the same test is not
//! counted again.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use crate::pipeline::parse::{self, Kind, Line};

/// Region changes remembered; older ones are dropped (a finding that far back gets no test).
const MAX_CHANGES: usize = 4096;
/// Test ids remembered, to name a section's test by its id.
const MAX_IDS: usize = 1 << 17;
/// Objects read live remembered, to know a captured log's repeat of them.
const MAX_LIVE: usize = 1 << 16;
/// Tests listed by name in a note.
const NOTE_TESTS: usize = 5;

/// Where a line was printed: a test's live output, or pytest's report of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Region {
    /// The test, as printed there.
    pub test: Arc<str>,
    /// Printed while the test ran (`-v` progress, live logs), not in a section after the run.
    pub live: bool,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum State {
    /// The header, the progress lines, anything not in a summary.
    #[default]
    Running,
    /// After `FAILURES`, `ERRORS`, `PASSES`: sections per test.
    Sections,
    /// The warnings summary.
    Warnings,
    /// The short test summary (`FAILED test_a.py::test_x - …`).
    Short,
}

/// Counts of the four aiohttp kinds.
type Kinds = [u64; 4];

fn slot(kind: Kind) -> Option<usize> {
    match kind {
        Kind::Session => Some(0),
        Kind::Connector => Some(1),
        Kind::Response => Some(2),
        Kind::Connection => Some(3),
        _ => None,
    }
}

const KIND_WORDS: [(&str, &str); 4] = [
    ("unclosed client session", "unclosed client sessions"),
    ("connector", "connectors"),
    ("response", "responses"),
    ("connection", "connections"),
];

/// Where a warnings-summary entry says its warning was raised.
#[derive(Debug, PartialEq, Eq)]
enum Location {
    /// A test id.
    Test(Arc<str>),
    /// `test_a.py: 12 warnings`: folded, no test named.
    Folded(String, u64),
    /// Outside any test (collection, the session's end): a file and line.
    Outside,
}

/// The warnings-summary entry being read.
#[derive(Debug, Default)]
struct Entry {
    locations: Vec<Location>,
    message: bool,
    kind: Option<usize>,
    unraisable: bool,
}

/// Test ids by their name within their module, for naming a section's test.
#[derive(Debug)]
enum Named {
    One(Arc<str>),
    Several,
}

/// pytest's output as far as it tells which test printed what.
#[derive(Debug, Default)]
pub struct Pytest {
    state: State,
    /// (first line, region) at each change, oldest first.
    changes: VecDeque<(u64, Option<Region>)>,
    current: Option<Region>,
    /// The test last started in the progress lines, for a live-log teardown after its outcome.
    started: Option<Arc<str>>,
    ids: HashSet<Arc<str>>,
    by_name: HashMap<String, Named>,
    entry: Entry,
    /// Objects read in each test's regions, by the name printed there.
    read: HashMap<Arc<str>, Kinds>,
    /// Objects read outside any test.
    read_outside: Kinds,
    /// Warnings-summary entries per test id.
    listed: HashMap<Arc<str>, Kinds>,
    /// Folded entries per file.
    folded: HashMap<String, Kinds>,
    /// Entries raised outside any test.
    outside: Kinds,
    /// Entries that are `-W error`'s unraisable-exception form.
    unraisable: Kinds,
    /// Objects read live per test id, by kind and repr.
    live: HashMap<Arc<str>, HashMap<(usize, String), u32>>,
    live_len: usize,
}

fn add(to: &mut Kinds, k: usize, n: u64) {
    to[k] = to[k].saturating_add(n);
}

fn add_all(to: &mut Kinds, from: &Kinds) {
    for (t, f) in to.iter_mut().zip(from) {
        *t = t.saturating_add(*f);
    }
}

impl Pytest {
    /// Reads line `n` of the output.
    pub fn line(&mut self, n: u64, line: &[u8]) {
        // Most lines of most commands are none of pytest's: passed over unread (an
        // application's log lines often start with a digit, as `-q`'s last line does).
        if self.state == State::Running && self.current.is_none() {
            let maybe = match line.first() {
                Some(b'=' | b'-' | 0x1b) => true,
                Some(b'0'..=b'9' | b'n') => memchr::memmem::find(line, b" in ").is_some(),
                _ => false,
            };
            if !maybe && memchr::memmem::find(line, b".py::").is_none() {
                return;
            }
        }
        let Ok(text) = std::str::from_utf8(line) else {
            return;
        };
        // pytest colours its output with --color=yes (CI logs often do).
        let clean = crate::pipeline::clean::colors(text);
        let text = clean.trim_end_matches(['\r', '\n']);
        if let Some(title) = separator(text.trim_end()) {
            self.finish_entry();
            self.state = match title {
                "FAILURES" | "ERRORS" | "PASSES" | "XFAILURES" | "XPASSES" => State::Sections,
                "short test summary info" => State::Short,
                t if t.starts_with("warnings summary") => State::Warnings,
                _ => State::Running,
            };
            self.started = None;
            self.set(n, None);
            return;
        }
        if self.state == State::Warnings {
            self.warnings_line(text);
            return;
        }
        let text = text.trim_end();
        if stats_line(text) {
            self.state = State::Running;
            self.started = None;
            self.set(n, None);
            return;
        }
        if text.starts_with("---") && text.ends_with("---") {
            self.live_log_header(n, text.trim_matches(|c| c == '-' || c == ' '));
            return;
        }
        match self.state {
            State::Sections => {
                if let Some(name) = section(text) {
                    let region = name.map(|t| Region {
                        test: t.into(),
                        live: false,
                    });
                    self.set(n, region);
                }
            }
            State::Short => {
                let mut words = text.split_whitespace();
                if words.next().is_some_and(starts_with_outcome)
                    && let Some(id) = words.next().filter(|w| w.contains("::"))
                {
                    self.remember(id);
                }
            }
            State::Running => self.progress_line(n, text),
            State::Warnings => {}
        }
    }

    /// The output's unfinished last line, `next` the number it will have: pytest `-v` writes
    /// a test's id before running it and its outcome after, so what the test prints (`-s`,
    /// or on the other pipe) comes before that line ends.
    pub fn partial(&mut self, next: u64, line: &[u8]) {
        if self.state != State::Running {
            return;
        }
        let Ok(text) = std::str::from_utf8(line) else {
            return;
        };
        let Some(word) = text.split_whitespace().next() else {
            return;
        };
        let rest = &text[word.len()..];
        if test_id(word) && rest.starts_with([' ', '\t']) && !starts_with_outcome(rest.trim_start())
        {
            self.start(next, word);
        }
    }

    fn progress_line(&mut self, n: u64, text: &str) {
        if let Some(word) = text.split_whitespace().next()
            && test_id(word)
        {
            let rest = text[word.len()..].trim_start();
            self.start(n, word);
            if starts_with_outcome(rest) {
                self.set(n + 1, None);
            }
            return;
        }
        if self.current.as_ref().is_some_and(|r| r.live) && ends_test(text) {
            self.set(n + 1, None);
        }
    }

    fn start(&mut self, n: u64, id: &str) {
        let id = self.remember(id);
        let region = Region {
            test: id.clone(),
            live: true,
        };
        if self.current.as_ref() != Some(&region) {
            self.set(n, Some(region));
        }
        self.started = Some(id);
    }

    /// `live log teardown` after a test's outcome is still its own; `live log sessionfinish`
    /// is no test's.
    fn live_log_header(&mut self, n: u64, title: &str) {
        let Some(phase) = title.strip_prefix("live log ") else {
            return;
        };
        match phase {
            "setup" | "call" | "teardown" | "start" | "finish" => {
                if let Some(t) = self.started.clone() {
                    self.set(
                        n,
                        Some(Region {
                            test: t,
                            live: true,
                        }),
                    );
                }
            }
            _ => {
                self.started = None;
                self.set(n, None);
            }
        }
    }

    fn warnings_line(&mut self, text: &str) {
        if text.starts_with("-- Docs:") {
            self.finish_entry();
            self.state = State::Running;
            return;
        }
        if text.trim().is_empty() {
            return;
        }
        if text.starts_with(' ') {
            self.entry.message = true;
            let t = text.trim();
            if t.contains("PytestUnraisableExceptionWarning") {
                self.entry.unraisable = true;
            }
            if self.entry.kind.is_none()
                && let Line::WarningHeader { kind, .. } = parse::line(t)
            {
                self.entry.kind = slot(kind);
            }
            return;
        }
        if self.entry.message {
            self.finish_entry();
        }
        let loc = location(text.trim());
        if let Location::Test(id) = &loc {
            self.remember(id);
        }
        self.entry.locations.push(loc);
    }

    fn finish_entry(&mut self) {
        let e = std::mem::take(&mut self.entry);
        let Some(k) = e.kind else {
            return;
        };
        for loc in e.locations {
            let n = match loc {
                Location::Test(id) => {
                    add(self.listed.entry(id).or_default(), k, 1);
                    1
                }
                Location::Folded(file, n) => {
                    add(self.folded.entry(file).or_default(), k, n);
                    n
                }
                Location::Outside => {
                    add(&mut self.outside, k, 1);
                    1
                }
            };
            if e.unraisable {
                add(&mut self.unraisable, k, n);
            }
        }
    }

    fn remember(&mut self, id: &str) -> Arc<str> {
        if let Some(known) = self.ids.get(id) {
            return known.clone();
        }
        let id: Arc<str> = id.into();
        if self.ids.len() < MAX_IDS {
            self.ids.insert(id.clone());
            if let Some(name) = name_in_module(&id) {
                self.by_name
                    .entry(name)
                    .and_modify(|n| *n = Named::Several)
                    .or_insert_with(|| Named::One(id.clone()));
            }
        }
        id
    }

    fn set(&mut self, from: u64, region: Option<Region>) {
        if self.current == region {
            return;
        }
        self.current = region.clone();
        if let Some(last) = self.changes.back_mut()
            && last.0 >= from
        {
            *last = (from, region);
            return;
        }
        if self.changes.len() >= MAX_CHANGES {
            self.changes.pop_front();
        }
        self.changes.push_back((from, region));
    }

    /// Where line `n` was printed, when it was a test's.
    pub fn region_at(&self, n: u64) -> Option<&Region> {
        self.changes
            .iter()
            .rev()
            .find(|(from, _)| *from <= n)
            .and_then(|(_, r)| r.as_ref())
    }

    /// A test's id, given the name its section printed (when exactly one id fits).
    fn id_of(&self, name: &str) -> Option<Arc<str>> {
        if name.contains("::") {
            return None;
        }
        match self.by_name.get(name) {
            Some(Named::One(id)) => Some(id.clone()),
            _ => None,
        }
    }

    /// Takes a finding's objects (kind, repr) printed in `region`, or outside any test; says
    /// whether they only repeat, in a section after the run, objects already read live under
    /// the same test, and so are not to be counted again.
    pub fn read(&mut self, region: Option<&Region>, objects: &[(Kind, Option<&str>)]) -> bool {
        let Some(region) = region else {
            for (kind, _) in objects {
                if let Some(k) = slot(*kind) {
                    add(&mut self.read_outside, k, 1);
                }
            }
            return false;
        };
        if region.live {
            for (kind, repr) in objects {
                if let (Some(k), Some(r)) = (slot(*kind), repr)
                    && self.live_len < MAX_LIVE
                {
                    *self
                        .live
                        .entry(region.test.clone())
                        .or_default()
                        .entry((k, (*r).to_string()))
                        .or_default() += 1;
                    self.live_len += 1;
                }
            }
        } else if self.repeats_live(region, objects) {
            return true;
        }
        let read = self.read.entry(region.test.clone()).or_default();
        for (kind, _) in objects {
            if let Some(k) = slot(*kind) {
                add(read, k, 1);
            }
        }
        false
    }

    fn repeats_live(&mut self, region: &Region, objects: &[(Kind, Option<&str>)]) -> bool {
        let id = self
            .id_of(&region.test)
            .unwrap_or_else(|| region.test.clone());
        let Some(live) = self.live.get_mut(&id) else {
            return false;
        };
        let keys: Option<Vec<(usize, String)>> = objects
            .iter()
            .map(|(kind, repr)| Some((slot(*kind)?, (*repr)?.to_string())))
            .collect();
        let Some(keys) = keys else {
            return false;
        };
        let mut need: HashMap<&(usize, String), u32> = HashMap::new();
        for k in &keys {
            *need.entry(k).or_default() += 1;
        }
        if need
            .iter()
            .any(|(k, n)| live.get(*k).copied().unwrap_or(0) < *n)
        {
            return false;
        }
        for k in &keys {
            if let Some(n) = live.get_mut(k) {
                *n -= 1;
            }
        }
        true
    }

    /// The id a part printed as `name` is to be reported by, when it has another.
    pub fn rename(&self, name: &str) -> Option<String> {
        self.id_of(name).map(|id| id.to_string())
    }
}

mod lines;
mod notes;

use lines::*;

#[cfg(test)]
mod tests;
